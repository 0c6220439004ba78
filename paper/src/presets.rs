//! Experiment scales: `smoke` (CI, seconds), `cpu` (small CNN, the first CPU-scale run), `cifar`
//! (ResNet-18 with a quarter of the channels on all 40,000 training images: the credible-scale CPU
//! reproduction), `paper` (ResNet-18 full recipe, GPU).

use advcal::Result;
use advcal::model::Architecture;

/// How big every part of the reproduction is.
#[derive(Debug, Clone)]
pub struct Preset {
    pub name: &'static str,
    /// Architecture of the six-strategy comparisons (Figs. 4–7, Tables 1–2).
    pub arch: Architecture,
    /// Architecture of the gallery (Fig. 8; the paper used an ImageNet VGG-19).
    pub gallery_arch: Architecture,
    /// Small-CNN width.
    pub small_width: usize,
    /// Channel divisor of ResNet-18 and VGG-19 (Table 3).
    pub width_divisor: usize,
    pub train_limit: Option<usize>,
    /// Epochs of plain training (PT models, Table 3 models).
    pub epochs: usize,
    /// Epochs of the adversarial strategies (each epoch costs 4–7× a PT epoch).
    pub adversarial_epochs: usize,
    pub batch: usize,
    pub lr: f64,
    /// Inner-attack steps during adversarial training.
    pub train_attack_steps: usize,
    pub eval_images: usize,
    pub eval_batch: usize,
    /// Steps T of the evaluation attacks (PGD, IAA, UCA).
    pub eval_steps: usize,
    /// ε grid of the sweeps.
    pub grid: Vec<f32>,
    /// Table 2: images per class kept from the image folder.
    pub folder_per_class: Option<usize>,
    /// `Some`: every strategy (PT included) starts from the plain model trained for `epochs`
    /// and is fine-tuned for this many epochs at `finetune_lr` (the CPU-hour shortcut of the
    /// `cifar` preset, applied to all six alike); `None`: each strategy trains from scratch for
    /// `epochs` (PT) or `adversarial_epochs`.
    pub finetune: Option<Finetune>,
    /// Test images of the clean rows of the trained-model summary (`models.json`): all 10,000
    /// where affordable.
    pub clean_images: usize,
    /// Bootstrap resamples of every record's 95 % intervals.
    pub resamples: usize,
    /// Stride of ResNet-18's stem on 64×64 images (Table 2, Tiny ImageNet): 2 in `cifar` (the
    /// feature maps of the 32×32 network, a quarter of the stride-1 compute, so Table 2's five
    /// models cost per image what the CIFAR-10 ones do), 1 in `paper`. 32×32 data always gets 1.
    pub stem_stride_64: usize,
    /// Linear warm-up epochs when VGG-19 trains from scratch. A plain network without residual
    /// connections stalls at chance at lr 0.1 without it (VGG-19/4: loss 2.30 for 3 epochs, in
    /// advcal and in PyTorch on the same recipe; with 1 warm-up epoch both train), the reason
    /// He et al. (2016) warmed ResNet-110 up and Goyal et al. (2017) large-batch training.
    /// Residual networks train without it, so the other architectures get none.
    pub vgg_warmup_epochs: usize,
}

impl Preset {
    /// Warm-up epochs of `arch` trained from scratch (see [`Preset::vgg_warmup_epochs`]).
    pub fn warmup_epochs(&self, arch: Architecture) -> usize {
        match arch {
            Architecture::Vgg19 => self.vgg_warmup_epochs,
            _ => 0,
        }
    }
}

/// Fine-tuning from the plain model (see [`Preset::finetune`]).
#[derive(Debug, Clone, Copy)]
pub struct Finetune {
    pub epochs: usize,
    pub lr: f64,
}

/// The spec's ε grid {0.02, 0.03, …, 0.10}.
fn full_grid() -> Vec<f32> {
    (2..=10).map(|i| i as f32 / 100.0).collect()
}

pub fn by_name(name: &str) -> Result<Preset> {
    Ok(match name {
        "smoke" => Preset {
            name: "smoke",
            arch: Architecture::SmallCnn,
            gallery_arch: Architecture::SmallCnn,
            small_width: 4,
            width_divisor: 16,
            train_limit: Some(128),
            epochs: 1,
            adversarial_epochs: 1,
            batch: 64,
            lr: 0.05,
            train_attack_steps: 1,
            eval_images: 32,
            eval_batch: 32,
            eval_steps: 2,
            grid: vec![0.02, 0.06, 0.1],
            folder_per_class: Some(4),
            finetune: None,
            clean_images: 64,
            resamples: 100,
            vgg_warmup_epochs: 0,
            stem_stride_64: 2,
        },
        "cpu" => Preset {
            name: "cpu",
            arch: Architecture::SmallCnn,
            gallery_arch: Architecture::SmallCnn,
            small_width: 16,
            width_divisor: 4,
            train_limit: None,
            epochs: 10,
            adversarial_epochs: 6,
            batch: 128,
            lr: 0.05,
            train_attack_steps: 3,
            eval_images: 500,
            eval_batch: 250,
            eval_steps: 10,
            grid: full_grid(),
            folder_per_class: Some(100),
            finetune: None,
            clean_images: 500,
            resamples: 1000,
            // None: keeps the committed results/cpu reproducible (VGG-19/4 reached 28 %).
            vgg_warmup_epochs: 0,
            stem_stride_64: 1,
        },
        // ResNet-18 with 16/32/64/128 channels (0.7 M parameters, 1/16 of the paper's FLOPs):
        // see docs/results.md for why this architecture and what each run cost.
        "cifar" => Preset {
            name: "cifar",
            arch: Architecture::ResNet18,
            gallery_arch: Architecture::ResNet18,
            small_width: 16,
            width_divisor: 4,
            train_limit: None,
            epochs: 30,
            adversarial_epochs: 10,
            batch: 128,
            lr: 0.1,
            train_attack_steps: 3,
            eval_images: 2000,
            eval_batch: 500,
            eval_steps: 10,
            grid: full_grid(),
            folder_per_class: None,
            finetune: Some(Finetune {
                epochs: 10,
                lr: 0.02,
            }),
            clean_images: 10_000,
            resamples: 1000,
            vgg_warmup_epochs: 2,
            stem_stride_64: 2,
        },
        "paper" => Preset {
            name: "paper",
            arch: Architecture::ResNet18,
            gallery_arch: Architecture::Vgg19,
            small_width: 16,
            width_divisor: 1,
            train_limit: None,
            epochs: 200,
            adversarial_epochs: 200,
            batch: 128,
            lr: 0.1,
            train_attack_steps: 10,
            eval_images: 10_000,
            eval_batch: 500,
            eval_steps: 10,
            grid: full_grid(),
            folder_per_class: None,
            finetune: None,
            clean_images: 10_000,
            resamples: 1000,
            vgg_warmup_epochs: 2,
            stem_stride_64: 1,
        },
        other => {
            return Err(advcal::Error::param(
                "preset",
                format!("unknown `{other}` (smoke, cpu, cifar, paper)"),
            ));
        }
    })
}
