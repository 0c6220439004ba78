//! Calibration-robustness report of a trained CIFAR-10 or Tiny ImageNet-200 classifier: clean, PGD
//! and APGD-CE/DLR (overconfidence; Square with `--attacks`), IAA (Eq. 2 and Algorithm 1) and
//! UCA (underconfidence), the robust accuracy over the misclassification attacks (AutoAttack's
//! per-image protocol) and the per-image calibration worst case at several radii, with bootstrap
//! intervals, as a Markdown table on stdout and `report.json`, `report.md` and one reliability
//! diagram `reliability-eps<ε>.svg` per radius in `--out`.
//!
//! ```text
//! # an advcal checkpoint (written by examples/train.rs or `fit` on an AnyModel)
//! cargo run --release --example evaluate -- --checkpoint assets/models/small_cnn_pt.ckpt \
//!     --images 500 --epsilons 0.01,0.02,0.03 --out results/eval-small-cnn
//!
//! # PyTorch weights (kuangliu/pytorch-cifar's ResNet18 `ckpt.pth`), on real CIFAR-10
//! cargo run --release --example evaluate -- --checkpoint ckpt.pth --arch resnet18 \
//!     --layout kuangliu --mean 0.4914,0.4822,0.4465 --std 0.2023,0.1994,0.2010 \
//!     --data ../shared/data/cifar-10-batches-bin/test_batch.bin --images 1000 --out results/eval-r18
//!
//! # a Tiny ImageNet-200 model of Table 2, on the labelled validation images
//! cargo run --release --example evaluate -- --checkpoint results/cifar/weights/table2-pt.ckpt \
//!     --data ../shared/data/tiny-imagenet-200 --images 2000 --epsilons 0.03 --out results/eval-tiny
//! ```
//!
//! * `--checkpoint`: an advcal `.ckpt` is loaded with `advcal::checkpoint::load_any_model`,
//!   which takes the architecture, widths and the **input normalisation from the checkpoint**
//!   (`--arch`, `--width`, `--width-divisor`, `--layout`, `--mean` and `--std` are then ignored,
//!   with a note). A PyTorch `.pt`/`.pth` or `.safetensors` file is loaded with
//!   `advcal::interop::load_pytorch` into `--arch` (default resnet18) with `--width-divisor`
//!   and `--layout` (`--stem-stride` 2 for a ResNet-18 with a down-sampling stem), with as many
//!   classes as the data has (`--num-classes` overrides); a state dict carries no normalisation,
//!   so give the mean/std the weights were trained with (default: advcal's constants of the
//!   data set, for CIFAR-10 std 0.2470, 0.2435, 0.2616, kuangliu's `main.py` uses std 0.2023,
//!   0.1994, 0.2010; for Tiny ImageNet `TINY_IMAGENET_MEAN`/`STD`).
//! * `--data`: a CIFAR-10 binary directory (its `test_batch.bin` is used), a single CIFAR-10
//!   `.bin` file, or a Tiny ImageNet-200 root in the official layout (a directory with
//!   `wnids.txt`: its labelled validation images, labels in sorted-wnid order); default
//!   `$ADVCAL_CIFAR10_DIR`, else the bundled 1000-image sample. A model with fewer classes than
//!   the data is refused.
//! * The first `--images` images are evaluated (default: all).

use advcal::Error;
use advcal::checkpoint::load_any_model;
use advcal::data::{
    ImageDataset, Split, load_cifar10, load_tiny_imagenet, read_cifar10_file, resolve_cifar10_dir,
};
use advcal::interop::{WeightLayout, load_pytorch};
use advcal::metrics::{BootstrapConfig, DEFAULT_BINS};
use advcal::model::{AnyModel, AnyModelConfig, Architecture, Classifier, NormalizationConfig};
use advcal::report::{ReportAttack, RobustnessConfig, reliability_file_name, robustness_report};
use burn::tensor::backend::AutodiffBackend;
use clap::Parser;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(
    about = "Calibration-robustness report (clean, PGD, APGD, Square, IAA, UCA, robust and worst case) of a CIFAR-10 or Tiny ImageNet-200 classifier"
)]
struct Args {
    /// Model weights: an advcal `.ckpt`, or PyTorch `.pt`/`.pth`/`.safetensors`
    #[arg(long)]
    checkpoint: PathBuf,
    /// small_cnn | resnet18 | vgg19 | mobilenet_v2 (PyTorch weights only; default resnet18)
    #[arg(long)]
    arch: Option<String>,
    /// Channel divisor of ResNet-18, VGG-19 and MobileNetV2 (PyTorch weights only; default 1)
    #[arg(long)]
    width_divisor: Option<usize>,
    /// Width of the small CNN (PyTorch weights only; default 16)
    #[arg(long)]
    width: Option<usize>,
    /// Stride of ResNet-18's stem convolution (PyTorch weights only; default 1)
    #[arg(long)]
    stem_stride: Option<usize>,
    /// Number of classes of the PyTorch weights (PyTorch weights only; default: the data's)
    #[arg(long)]
    num_classes: Option<usize>,
    /// Key layout of the PyTorch file: kuangliu | torchvision | native (default kuangliu)
    #[arg(long)]
    layout: Option<String>,
    /// CIFAR-10 binary directory (test split), one `.bin` file, or a Tiny ImageNet-200 root
    /// (validation images) (default: $ADVCAL_CIFAR10_DIR, else the bundled sample)
    #[arg(long)]
    data: Option<PathBuf>,
    /// Evaluate the first N images (default: all)
    #[arg(long)]
    images: Option<usize>,
    /// Per-channel input mean `r,g,b` the PyTorch weights were trained with (default: advcal's
    /// constants of the data set)
    #[arg(long, value_delimiter = ',')]
    mean: Option<Vec<f32>>,
    /// Per-channel input std `r,g,b` the PyTorch weights were trained with (default: advcal's
    /// constants of the data set)
    #[arg(long, value_delimiter = ',')]
    std: Option<Vec<f32>>,
    /// Attack radii on the [0, 1] pixel scale
    #[arg(long, value_delimiter = ',', default_values_t = [0.01f32, 0.02, 0.03, 0.05, 0.08])]
    epsilons: Vec<f32>,
    /// Attacks, any of: pgd, apgd-ce, apgd-dlr, square, iaa (Eq. 2), iaa-alg1 (Algorithm 1),
    /// uca, noise. Besides one row each: `robust` (per image, misclassified if any of pgd,
    /// apgd-ce, apgd-dlr, square, noise misclassifies it) and `worst` (the per-image calibration
    /// worst case)
    #[arg(long, value_delimiter = ',', default_values_t = ["pgd".to_string(), "apgd-ce".into(), "apgd-dlr".into(), "iaa".into(), "iaa-alg1".into(), "uca".into()])]
    attacks: Vec<String>,
    /// Steps of PGD, APGD, iaa-alg1 and UCA
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// Steps of the Eq. 2 IAA (`iaa`)
    #[arg(long, default_value_t = 20)]
    iaa_steps: usize,
    /// Queries of the Square attack per image
    #[arg(long, default_value_t = 5000)]
    queries: usize,
    /// IAA's λ
    #[arg(long, default_value_t = 5.0)]
    lambda: f32,
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    /// Confidence bins of ECE, MCS and the reliability diagrams
    #[arg(long, default_value_t = DEFAULT_BINS)]
    bins: usize,
    /// Bootstrap resamples of the 95% intervals
    #[arg(long, default_value_t = 1000)]
    resamples: usize,
    /// Seed of the attacks' random starts (the bootstrap uses it too)
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output directory for report.json, report.md and the SVG diagrams
    #[arg(long)]
    out: PathBuf,
    /// tch | tch-cuda | flex | ndarray | wgpu | cuda (compiled in by the matching cargo
    /// feature; default: the fastest CPU backend compiled in)
    #[arg(long)]
    backend: Option<String>,
    /// No progress bar
    #[arg(long)]
    quiet: bool,
}

/// The data set: a directory's test split, one `.bin` file, or Tiny ImageNet-200's validation
/// images, truncated to `--images`.
fn load_data(args: &Args) -> advcal::Result<Data> {
    let path = resolve_cifar10_dir(args.data.clone());
    let (data, stats) = if path.is_file() {
        (read_cifar10_file(&path)?, CIFAR10_STATS)
    } else if path.join("wnids.txt").is_file() {
        (load_tiny_imagenet(&path, Split::Test)?, TINY_IMAGENET_STATS)
    } else {
        (load_cifar10(&path, Split::Test)?, CIFAR10_STATS)
    };
    Ok(Data {
        images: match args.images {
            Some(n) => data.take(n),
            None => data,
        },
        path,
        stats,
    })
}

/// The evaluated images, where they came from, and their data set's normalisation constants
/// (the default for PyTorch weights, which carry none).
struct Data {
    images: ImageDataset,
    path: PathBuf,
    stats: ([f32; 3], [f32; 3]),
}

const CIFAR10_STATS: ([f32; 3], [f32; 3]) =
    (advcal::model::CIFAR10_MEAN, advcal::model::CIFAR10_STD);
const TINY_IMAGENET_STATS: ([f32; 3], [f32; 3]) = (
    advcal::model::TINY_IMAGENET_MEAN,
    advcal::model::TINY_IMAGENET_STD,
);

fn is_advcal_checkpoint(path: &Path) -> advcal::Result<bool> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("ckpt") => Ok(true),
        Some("pt" | "pth" | "safetensors") => Ok(false),
        _ => Err(Error::param(
            "checkpoint",
            format!(
                "{}: unknown extension; expected .ckpt (advcal) or .pt/.pth/.safetensors (PyTorch)",
                path.display()
            ),
        )),
    }
}

fn three(
    name: &'static str,
    values: &Option<Vec<f32>>,
    default: [f32; 3],
) -> advcal::Result<Vec<f32>> {
    match values {
        None => Ok(default.to_vec()),
        Some(v) if v.len() == 3 => Ok(v.clone()),
        Some(v) => Err(Error::param(
            name,
            format!("expected 3 comma-separated values r,g,b, got {}", v.len()),
        )),
    }
}

/// Loads the model; returns it with a one-line description.
fn load_model<B: AutodiffBackend>(
    args: &Args,
    data: &Data,
    device: &B::Device,
) -> advcal::Result<(AnyModel<B>, String)> {
    if is_advcal_checkpoint(&args.checkpoint)? {
        let ignored: Vec<&str> = [
            ("--arch", args.arch.is_some()),
            ("--width", args.width.is_some()),
            ("--width-divisor", args.width_divisor.is_some()),
            ("--stem-stride", args.stem_stride.is_some()),
            ("--num-classes", args.num_classes.is_some()),
            ("--layout", args.layout.is_some()),
            ("--mean", args.mean.is_some()),
            ("--std", args.std.is_some()),
        ]
        .into_iter()
        .filter_map(|(flag, given)| given.then_some(flag))
        .collect();
        if !ignored.is_empty() {
            eprintln!(
                "note: {} ignored: an advcal checkpoint carries its own architecture and input normalisation",
                ignored.join(", ")
            );
        }
        let (model, meta) = load_any_model::<B>(&args.checkpoint, device)?;
        let about = format!(
            "{} ({} epochs, {} parameters, advcal checkpoint)",
            meta.architecture, meta.epoch, meta.num_params
        );
        return Ok((model, about));
    }
    let arch = Architecture::parse(args.arch.as_deref().unwrap_or("resnet18"))?;
    let layout = WeightLayout::parse(args.layout.as_deref().unwrap_or("kuangliu"))?;
    let classes = match args.num_classes {
        Some(0) => return Err(Error::param("num-classes", "must be at least 1")),
        Some(k) => k,
        None => data.images.num_classes(),
    };
    let mut config = AnyModelConfig::new(arch, classes);
    config.width_divisor = args.width_divisor.unwrap_or(1);
    config.stem_stride = match (args.stem_stride, arch) {
        (None, _) => 1,
        (Some(0), _) => return Err(Error::param("stem-stride", "must be at least 1")),
        (Some(s), Architecture::ResNet18) => s,
        (Some(_), _) => {
            return Err(Error::param(
                "stem-stride",
                format!("only ResNet-18 has a stem stride, not {}", arch.name()),
            ));
        }
    };
    if let Some(width) = args.width {
        config.width = width;
    }
    // The data set's own statistics unless given: CIFAR-10's or Tiny ImageNet's.
    let (mean, std) = data.stats;
    let normalization = NormalizationConfig::new()
        .with_mean(three("mean", &args.mean, mean)?)
        .with_std(three("std", &args.std, std)?);
    normalization.validate()?;
    config.normalization = Some(normalization);
    let model = load_pytorch::<B>(&args.checkpoint, &config, &layout, device)?;
    let n = config.normalization();
    let stride = if arch == Architecture::ResNet18 {
        format!(", stem stride {}", config.stem_stride)
    } else {
        String::new()
    };
    let about = format!(
        "{} (PyTorch weights, {} classes, layout {}, width divisor {}{stride}, mean {:?}, std {:?})",
        arch.name(),
        config.num_classes,
        layout.name(),
        config.width_divisor,
        n.mean,
        n.std
    );
    Ok((model, about))
}

fn run<B: AutodiffBackend>(args: &Args, device: B::Device) -> advcal::Result<()> {
    let started = Instant::now();
    let attacks = args
        .attacks
        .iter()
        .map(|a| ReportAttack::parse(a))
        .collect::<advcal::Result<Vec<_>>>()?;
    let config = RobustnessConfig::new()
        .with_epsilons(args.epsilons.clone())
        .with_attacks(attacks)
        .with_steps(args.steps)
        .with_iaa_steps(args.iaa_steps)
        .with_queries(args.queries)
        .with_lambda(args.lambda)
        .with_batch_size(args.batch_size)
        .with_bins(args.bins)
        .with_seed(args.seed)
        .with_progress(!args.quiet)
        .with_bootstrap(
            BootstrapConfig::new()
                .with_resamples(args.resamples)
                .with_seed(args.seed),
        );
    config.validate()?;
    let data = load_data(args)?;
    let (model, about) = load_model::<B>(args, &data, &device)?;
    let (data_path, data) = (data.path, data.images);
    // Fewer classes than the data is an error of `robustness_report`; more is allowed.
    if model.num_classes() > data.num_classes() {
        eprintln!(
            "note: the model has {} classes, the data only {} (is this the model's data set?)",
            model.num_classes(),
            data.num_classes()
        );
    }
    eprintln!(
        "model: {about}\ndata: {} ({} images)\nbackend: {}",
        data_path.display(),
        data.len(),
        B::name(&device)
    );
    let report = robustness_report(&model, &data, &config, &device)?;
    println!("{}", report.to_markdown());
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    report.write(&args.out)?;
    let svgs: Vec<String> = config
        .epsilons
        .iter()
        .map(|&e| reliability_file_name(e))
        .collect();
    eprintln!(
        "wrote {}/{{report.json, report.md, {}}} in {:.1}s",
        args.out.display(),
        svgs.join(", "),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

struct EvaluateTask<'a>(&'a Args);

impl advcal::backend::BackendTask for EvaluateTask<'_> {
    type Output = advcal::Result<()>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        run::<B>(self.0, device)
    }
}

fn main() {
    let args = Args::parse();
    let result =
        advcal::backend::with_backend_or_default(args.backend.as_deref(), EvaluateTask(&args))
            .and_then(|r| r);
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
