//! Calibration of a trained ResNet-18 (a quarter of the channels, 85 % clean accuracy) on real
//! CIFAR-10 test images: clean, under uniform noise, PGD and the inverse adversarial attack
//! (IAA). Runs with no download: the images and the trained weights ship with the repository.
//!
//! ```text
//! cargo run --release --example quickstart
//! cargo run --release --example quickstart -- --epsilon 0.02 --images 1000   # all bundled test images
//! cargo run --release --features tch --example quickstart -- --backend tch    # LibTorch (see README)
//! cargo run --release --example quickstart -- --checkpoint assets/models/small_cnn_pt.ckpt
//! ```

use advcal::attack::{
    Attack, Iaa, IaaConfig, Pgd, PgdConfig, UniformNoise, UniformNoiseConfig,
    iaa_optimal_confidence,
};
use advcal::checkpoint::load_any_model;
use advcal::data::{Split, bundled_cifar10_sample};
use advcal::eval::{EvaluationConfig, evaluate, evaluate_under};
use advcal::metrics::{CalibrationReport, DEFAULT_BINS};
use advcal::model::{AnyModel, Classifier};
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use clap::Parser;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(about = "Calibration of the bundled ResNet-18/4: clean, uniform noise, PGD and IAA")]
struct Args {
    /// L∞ radius of the noise and the attacks, on the [0, 1] pixel scale
    #[arg(long, default_value_t = 0.03)]
    epsilon: f32,
    /// Number of bundled CIFAR-10 test images to evaluate (at most 1000)
    #[arg(long, default_value_t = 400)]
    images: usize,
    /// Any checkpoint written by advcal's trainers (the architecture is read from it); default:
    /// the bundled ResNet-18/4 (`assets/models/resnet18_4_pt.ckpt`)
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// tch | tch-cuda | flex | ndarray | wgpu | cuda (those compiled in); default: the fastest
    /// CPU backend compiled in (LibTorch, else Flex, else NdArray)
    #[arg(long)]
    backend: Option<String>,
}

/// The bundled weights: see `assets/models/README.md` for how they were trained.
fn bundled_weights() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/models/resnet18_4_pt.ckpt")
}

fn row(name: &str, eps: f32, r: &CalibrationReport) {
    println!(
        "| {name:<13} | {eps:>5.3} | {:>6.4} | {:>6.4} | {:>6.4} | {:>+7.4} |",
        r.accuracy, r.confidence, r.ece, r.mcs
    );
}

fn run<B: AutodiffBackend>(
    device: B::Device,
    checkpoint: PathBuf,
    eps: f32,
    images: usize,
) -> advcal::Result<()> {
    let started = Instant::now();
    // The architecture and its config are read from the checkpoint's metadata.
    let (model, meta) = load_any_model::<B>(&checkpoint, &device)?;
    // The bundled images are CIFAR-10: a model with another number of classes (a Tiny
    // ImageNet checkpoint, say) would give meaningless numbers.
    let classes = model.num_classes();
    if classes != 10 {
        return Err(advcal::Error::param(
            "checkpoint",
            format!(
                "{} has {classes} classes; the quickstart's bundled images are CIFAR-10 (10)",
                checkpoint.display()
            ),
        ));
    }
    let test = bundled_cifar10_sample(Split::Test)?.take(images);
    println!(
        "model: {} ({}, epoch {}), {} real CIFAR-10 test images, backend {}\n",
        meta.architecture,
        checkpoint
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap_or(&checkpoint)
            .display(),
        meta.epoch,
        test.len(),
        B::name(&device)
    );
    println!("| input         |   eps |    ACC |   CONF |    ECE |     MCS |");
    println!("|---------------|-------|--------|--------|--------|---------|");
    let config = EvaluationConfig::new()
        .with_batch_size(250)
        .with_bins(DEFAULT_BINS);
    let clean = evaluate(&model.valid(), &test, &config, &device)?.report;
    row("clean", 0.0, &clean);
    type Named<B> = (&'static str, Box<dyn Attack<B, AnyModel<B>>>);
    let attacks: Vec<Named<B>> = vec![
        (
            "uniform noise",
            Box::new(UniformNoise::new(
                UniformNoiseConfig::new().with_epsilon(eps),
            )),
        ),
        (
            "PGD-10",
            Box::new(Pgd::new(PgdConfig::new().with_epsilon(eps))),
        ),
        (
            "IAA (Eq. 2)",
            Box::new(Iaa::new(IaaConfig::new().with_epsilon(eps))),
        ),
        (
            "IAA Alg. 1",
            Box::new(Iaa::new(IaaConfig::alg1().with_epsilon(eps))),
        ),
    ];
    for (name, attack) in &attacks {
        let e = evaluate_under(attack, &model, &test, attack.budget(), &config, &device)?;
        assert!(
            e.max_linf <= eps as f64 + 1e-6 && e.pixel_range.0 >= 0.0 && e.pixel_range.1 <= 1.0
        );
        row(name, eps, &e.report);
        // Eq. 2's IAA keeps every correct prediction (the clean image is a candidate).
        if *name == "IAA (Eq. 2)" {
            assert!(e.report.accuracy >= clean.accuracy, "IAA lost accuracy");
        }
    }
    println!("\nMCS = CONF − ACC: > 0 overconfident, < 0 underconfident. IAA (λ = 5) minimises");
    println!(
        "CE(y) + λ·CE(uniform), towards the confidence (1 + λ/K)/(1 + λ) = {:.2}; Eq. 2 keeps,",
        iaa_optimal_confidence(5.0, classes)
    );
    println!("per image, the least confident point still classified correctly (20 steps), so its");
    println!("ACC is at least the clean ACC. Algorithm 1 as printed (10 steps) returns its last");
    println!("iterate, which is often misclassified: part of its low MCS is lost accuracy.");
    println!("({:.1} s)", started.elapsed().as_secs_f64());
    Ok(())
}

struct Quickstart {
    checkpoint: PathBuf,
    eps: f32,
    images: usize,
}

impl advcal::backend::BackendTask for Quickstart {
    type Output = advcal::Result<()>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        run::<B>(device, self.checkpoint, self.eps, self.images)
    }
}

fn main() {
    let args = Args::parse();
    let task = Quickstart {
        checkpoint: args.checkpoint.unwrap_or_else(bundled_weights),
        eps: args.epsilon,
        images: args.images,
    };
    let result =
        advcal::backend::with_backend_or_default(args.backend.as_deref(), task).and_then(|r| r);
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
