//! How close IAA gets to its own objective (Eq. 2 of arXiv:2504.06358: correct, with minimal
//! confidence) for several optimisers and step counts, at equal forward/backward passes: the
//! measurement behind `IaaConfig`'s defaults (see `docs/performance.md`).
//!
//! ```text
//! cargo run --release --example iaa_strength -- --checkpoint paper/results/cifar/weights/pt.ckpt \
//!     --images 500 --epsilon 0.0313725 --out iaa-strength.json
//! ```
//!
//! Per variant: ACC, CONF and MCS under the attack, the fraction of clean-correct images it
//! leaves misclassified (Eq. 2's constraint broken), the mean confidence on the clean-correct
//! images (the optimum is `(1 + λ/K)/(1 + λ)`, 0.25 for K = 10 at λ = 5), the gradient passes
//! per image (forward + backward; the Eq. 2 selection adds one or two forward passes) and
//! the wall time.

use advcal::attack::{Attack, Budget, Iaa, IaaConfig, IaaOptimizer, iaa_optimal_confidence};
use advcal::checkpoint::load_any_model;
use advcal::data::{Split, load_cifar10, resolve_cifar10_dir};
use advcal::model::{Classifier, Mode};
use advcal::rng::derive_seed;
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::activation::softmax;
use burn::tensor::backend::AutodiffBackend;
use clap::Parser;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(about = "IAA's objective reached by each optimiser and step count")]
struct Args {
    /// An advcal checkpoint
    #[arg(long, default_value = "paper/results/cifar/weights/pt.ckpt")]
    checkpoint: PathBuf,
    /// CIFAR-10 directory (test split; default $ADVCAL_CIFAR10_DIR)
    #[arg(long)]
    data: Option<PathBuf>,
    /// First N test images
    #[arg(long, default_value_t = 500)]
    images: usize,
    /// L∞ radius
    #[arg(long, default_value_t = 8.0 / 255.0)]
    epsilon: f32,
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Variants among alg1, sign<T> (sign steps, α = ε/T, growing radius), sign-const<T> (fixed
    /// radius), sign-wide<T> (fixed radius, α = 2.5·ε/T as PGD in training), apgd<T>
    /// (comma-separated; all but alg1 return Eq. 2's best feasible iterate)
    #[arg(long, value_delimiter = ',', default_values_t = ["alg1".to_string(), "sign10".into(), "sign20".into(), "apgd10".into(), "apgd20".into(), "sign40".into()])]
    variants: Vec<String>,
    /// JSON output
    #[arg(long)]
    out: Option<PathBuf>,
    /// Backend (default: the fastest compiled in)
    #[arg(long)]
    backend: Option<String>,
}

#[derive(Serialize)]
struct Row {
    variant: String,
    steps: usize,
    passes_per_image: usize,
    accuracy: f64,
    confidence: f64,
    mcs: f64,
    clean_correct_flipped: f64,
    confidence_on_clean_correct: f64,
    seconds: f64,
}

/// Eq. 2's selection with Algorithm 1's sign steps (α = ε/T, growing radius) over T steps.
fn sign(t: usize) -> IaaConfig {
    IaaConfig::new()
        .with_steps(t)
        .with_optimizer(IaaOptimizer::SignSteps)
}

fn config(variant: &str, epsilon: f32) -> advcal::Result<(IaaConfig, usize)> {
    let steps = |p: &str| {
        variant[p.len()..]
            .parse::<usize>()
            .map_err(|_| advcal::Error::param("variants", format!("bad variant `{variant}`")))
    };
    Ok(if variant == "alg1" {
        (IaaConfig::alg1(), 10)
    } else if variant.starts_with("sign-wide") {
        // PGD's training step: fixed radius, α = 2.5·ε/T.
        let t = steps("sign-wide")?;
        let alpha = 2.5 * epsilon / t as f32;
        (
            sign(t)
                .with_growing_radius(false)
                .with_step_size(Some(alpha)),
            t,
        )
    } else if variant.starts_with("sign-const") {
        let t = steps("sign-const")?;
        (sign(t).with_growing_radius(false), t)
    } else if variant.starts_with("sign") {
        let t = steps("sign")?;
        (sign(t), t)
    } else if variant.starts_with("apgd") {
        let t = steps("apgd")?;
        (
            IaaConfig::new()
                .with_steps(t)
                .with_optimizer(IaaOptimizer::Apgd),
            t + 1,
        )
    } else {
        return Err(advcal::Error::param(
            "variants",
            format!("unknown `{variant}`"),
        ));
    })
}

fn host<Bk: Backend>(logits: Tensor<Bk, 2>) -> (Vec<f32>, Vec<i64>) {
    let [n, _] = logits.dims();
    let conf = softmax(logits.clone(), 1).max_dim(1).reshape([n]);
    let pred = logits.argmax(1).reshape([n]);
    (
        conf.into_data().convert::<f32>().into_vec().unwrap(),
        pred.into_data().convert::<i64>().into_vec().unwrap(),
    )
}

fn run<B: AutodiffBackend>(args: &Args, device: B::Device) -> advcal::Result<()> {
    let (model, _) = load_any_model::<B>(&args.checkpoint, &device)?;
    let data = load_cifar10(resolve_cifar10_dir(args.data.clone()), Split::Test)?.take(args.images);
    let k = model.num_classes();
    eprintln!("{} images, backend {}", data.len(), B::name(&device));
    let inference = model.valid();
    let mut rows = Vec::new();
    println!(
        "| variant | gradient passes | ACC | CONF | MCS | clean-correct flipped | CONF on clean-correct | s |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for variant in &args.variants {
        let (config, passes) = config(variant, args.epsilon)?;
        let attack = Iaa::new(config.clone().with_epsilon(args.epsilon));
        let started = Instant::now();
        let (mut n, mut correct, mut conf_sum, mut flipped, mut clean_ok, mut conf_ok) =
            (0usize, 0usize, 0.0f64, 0usize, 0usize, 0.0f64);
        for (i, batch) in data.batches(args.batch_size, None, None)?.enumerate() {
            let (x, y) = batch.to_tensors::<B::InnerBackend>(&device);
            let (_, clean_pred) = host(inference.forward_mode(x.clone(), Mode::Eval));
            let budget = Budget::new(args.epsilon).with_seed(derive_seed(args.seed, i as u64));
            let out = Attack::<B, _>::perturb_under(&attack, &model, x, y, budget)?;
            let (conf, pred) = host(out.logits);
            for j in 0..batch.len() {
                let label = batch.labels[j] as i64;
                let ok = pred[j] == label;
                n += 1;
                correct += ok as usize;
                conf_sum += conf[j] as f64;
                if clean_pred[j] == label {
                    clean_ok += 1;
                    conf_ok += conf[j] as f64;
                    flipped += (!ok) as usize;
                }
            }
        }
        let row = Row {
            variant: variant.clone(),
            steps: config.steps,
            passes_per_image: passes,
            accuracy: correct as f64 / n as f64,
            confidence: conf_sum / n as f64,
            mcs: (conf_sum - correct as f64) / n as f64,
            clean_correct_flipped: flipped as f64 / clean_ok.max(1) as f64,
            confidence_on_clean_correct: conf_ok / clean_ok.max(1) as f64,
            seconds: started.elapsed().as_secs_f64(),
        };
        println!(
            "| {} | {} | {:.3} | {:.3} | {:+.3} | {:.1} % | {:.3} | {:.0} |",
            row.variant,
            row.passes_per_image,
            row.accuracy,
            row.confidence,
            row.mcs,
            100.0 * row.clean_correct_flipped,
            row.confidence_on_clean_correct,
            row.seconds
        );
        rows.push(row);
    }
    println!(
        "\noptimum (1 + λ/K)/(1 + λ) = {:.4} (λ = 5, K = {k})",
        iaa_optimal_confidence(5.0, k)
    );
    if let Some(out) = &args.out {
        let json = serde_json::json!({
            "checkpoint": args.checkpoint, "images": data.len(), "epsilon": args.epsilon,
            "seed": args.seed, "batch_size": args.batch_size, "rows": rows,
        });
        advcal::io::write_json_atomic(out, &json)?;
    }
    Ok(())
}

struct Task<'a>(&'a Args);

impl advcal::backend::BackendTask for Task<'_> {
    type Output = advcal::Result<()>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        run::<B>(self.0, device)
    }
}

fn main() {
    let args = Args::parse();
    let result = advcal::backend::with_backend_or_default(args.backend.as_deref(), Task(&args))
        .and_then(|r| r);
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
