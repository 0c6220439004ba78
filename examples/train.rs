//! Train a classifier with any strategy (PT, PGD-AT, IAT, AT+IAT, CCAT, ACE-AT).
//!
//! ```text
//! cargo run --release --example train -- --strategy iat --preset cpu --data-dir ../shared/data/cifar-10-batches-bin
//! cargo run --release --example train -- --strategy pt --preset smoke          # seconds, bundled sample
//! cargo run --release --features wgpu --example train -- --backend wgpu --preset paper --model resnet18
//! ```
//! Writes `<out>/<strategy>-<model>/{last.ckpt,history.json,history.csv}` and resumes from
//! `last.ckpt` when it exists.

use advcal::attack::AttackConfig;
use advcal::data::{load_cifar10_splits, resolve_cifar10_dir};
use advcal::model::{AnyModel, AnyModelConfig, Architecture};
use advcal::train::*;
use burn::optim::{AdamConfig, decay::WeightDecayConfig};
use burn::tensor::backend::AutodiffBackend;
use clap::Parser;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(about = "Train a CIFAR classifier with a calibration-aware strategy")]
struct Args {
    /// pt | pgd-at | iat | at-iat | ccat | ace-at
    #[arg(long, default_value = "pt")]
    strategy: String,
    /// smoke (seconds) | cpu (small CNN, all training images: tens of minutes with tch, hours on Flex) | paper (ResNet-18 full recipe, GPU)
    #[arg(long, default_value = "cpu")]
    preset: String,
    /// small_cnn | resnet18 | vgg19 | mobilenet_v2 (default from the preset)
    #[arg(long)]
    model: Option<String>,
    /// CIFAR-10 binary directory (default: $ADVCAL_CIFAR10_DIR, else the bundled sample)
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[arg(long)]
    epochs: Option<usize>,
    #[arg(long)]
    batch_size: Option<usize>,
    #[arg(long)]
    lr: Option<f64>,
    /// Linear learning-rate warm-up, in epochs, before the cosine schedule
    #[arg(long, default_value_t = 0)]
    warmup_epochs: usize,
    /// Use only the first N training images
    #[arg(long)]
    train_limit: Option<usize>,
    /// Evaluate on the first N test images each epoch
    #[arg(long, default_value_t = 1000)]
    eval_limit: usize,
    /// Inner attack steps (default from the preset)
    #[arg(long)]
    attack_steps: Option<usize>,
    /// IAA inside iat and at-iat: eq2 (Eq. 2's least confident correct iterate, the default) or
    /// alg1 (the paper's printed Algorithm 1: the last iterate)
    #[arg(long, default_value = "eq2")]
    iaa: String,
    /// Attacks run on the evaluation set after every epoch, `name:epsilon` (pgd, iaa, uca,
    /// fgsm, noise); repeat the flag for several
    #[arg(long, default_values_t = ["pgd:0.03".to_string(), "iaa:0.03".to_string()])]
    eval_attack: Vec<String>,
    /// Steps of the per-epoch evaluation attacks
    #[arg(long, default_value_t = 10)]
    eval_attack_steps: usize,
    /// Width of the small CNN
    #[arg(long, default_value_t = 16)]
    width: usize,
    /// Channel divisor of ResNet-18, VGG-19 and MobileNetV2 (1 = the paper's widths)
    #[arg(long, default_value_t = 1)]
    width_divisor: usize,
    /// SGD with momentum 0.9 (the paper's), or Adam; both with weight decay 5e-4.
    #[arg(long, value_enum, default_value_t = OptimizerKind::Sgd)]
    optimizer: OptimizerKind,
    #[arg(long)]
    nesterov: bool,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value = "runs")]
    out: PathBuf,
    /// tch | tch-cuda | flex | ndarray | wgpu | cuda (compiled in by the matching cargo feature;
    /// default: the fastest CPU backend compiled in. NdArray's convolution backward is ~25x
    /// slower than Flex, and LibTorch ~8x faster than Flex)
    #[arg(long)]
    backend: Option<String>,
}

struct Preset {
    model: Architecture,
    epochs: usize,
    batch: usize,
    lr: f64,
    train_limit: Option<usize>,
    attack_steps: usize,
}

fn preset(name: &str) -> advcal::Result<Preset> {
    Ok(match name {
        "smoke" => Preset {
            model: Architecture::SmallCnn,
            epochs: 1,
            batch: 64,
            lr: 0.05,
            train_limit: Some(256),
            attack_steps: 2,
        },
        "paper" => Preset {
            model: Architecture::ResNet18,
            epochs: 200,
            batch: 128,
            lr: 0.1,
            train_limit: None,
            attack_steps: 10,
        },
        "cpu" => Preset {
            model: Architecture::SmallCnn,
            epochs: 15,
            batch: 128,
            lr: 0.05,
            train_limit: None,
            attack_steps: 5,
        },
        other => {
            return Err(advcal::Error::param(
                "preset",
                format!("unknown `{other}` (smoke, cpu, paper)"),
            ));
        }
    })
}

fn run<B: AutodiffBackend>(args: &Args, device: B::Device) -> advcal::Result<()> {
    let p = preset(&args.preset)?;
    let arch = match &args.model {
        Some(m) => Architecture::parse(m)?,
        None => p.model,
    };
    let dir = resolve_cifar10_dir(args.data_dir.clone());
    let (train, test) = load_cifar10_splits(
        &dir,
        args.train_limit.or(p.train_limit),
        Some(args.eval_limit),
    )?;
    eprintln!(
        "data: {} ({} train, {} eval images)",
        dir.display(),
        train.len(),
        test.len()
    );

    let mut model_config = AnyModelConfig::new(arch, 10);
    model_config.width = args.width;
    model_config.width_divisor = args.width_divisor;
    model_config.try_init::<B>(&device)?; // a typed error for an invalid config, before training
    let model =
        advcal::model::seeded_init::<B, _>(&device, args.seed, || model_config.init::<B>(&device));
    let steps = args.attack_steps.unwrap_or(p.attack_steps);
    let iaa = match args.iaa.as_str() {
        "eq2" => advcal::attack::IaaConfig::new(),
        "alg1" => advcal::attack::IaaConfig::alg1(),
        other => {
            return Err(advcal::Error::param(
                "iaa",
                format!("`{other}`: expected eq2 or alg1"),
            ));
        }
    };
    let mut strategy =
        StrategyKind::parse(&args.strategy)?.build_with_iaa::<B, AnyModel<B>>(steps, iaa)?;
    let eval_attacks = args
        .eval_attack
        .iter()
        .map(|s| AttackConfig::from_spec(s, args.eval_attack_steps))
        .collect::<advcal::Result<Vec<_>>>()?;
    let out = args.out.join(format!("{}-{}", args.strategy, arch.name()));
    let batch_size = args.batch_size.unwrap_or(p.batch);
    let config = TrainerConfig::new()
        .with_epochs(args.epochs.unwrap_or(p.epochs))
        .with_batch_size(batch_size)
        .with_learning_rate(args.lr.unwrap_or(p.lr))
        .with_warmup_epochs(args.warmup_epochs)
        .with_seed(args.seed)
        .with_eval_attacks(eval_attacks)
        .with_output_dir(Some(out.to_string_lossy().into_owned()));
    // The optimiser's type differs per arm, so the shared call is a macro, not a closure.
    macro_rules! fit_with {
        ($optim:expr) => {
            Fit::new(model, $optim, &mut strategy, &train)
                .with_eval(&test)
                .with_identity(arch.name(), &model_config)
                .run(&config, &device)?
        };
    }
    let outcome = match args.optimizer {
        OptimizerKind::Adam => fit_with!(
            AdamConfig::new()
                .with_weight_decay(Some(WeightDecayConfig::new(PAPER_WEIGHT_DECAY)))
                .init::<B, AnyModel<B>>()
        ),
        OptimizerKind::Sgd => fit_with!(paper_sgd(args.nesterov).init::<B, AnyModel<B>>()),
    };
    if outcome.resumed_from > 0 {
        eprintln!("resumed from epoch {}", outcome.resumed_from);
    }
    eprintln!("checkpoint and history in {}", out.display());
    Ok(())
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum OptimizerKind {
    Sgd,
    Adam,
}

struct TrainTask<'a>(&'a Args);

impl advcal::backend::BackendTask for TrainTask<'_> {
    type Output = advcal::Result<()>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        run::<B>(self.0, device)
    }
}

fn main() {
    let args = Args::parse();
    let result =
        advcal::backend::with_backend_or_default(args.backend.as_deref(), TrainTask(&args))
            .and_then(|r| r);
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
