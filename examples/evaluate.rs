//! Calibration-robustness report of a trained CIFAR-10 or Tiny ImageNet-200 classifier: clean, PGD
//! and APGD-CE/DLR (overconfidence; Square with `--attacks`), IAA (Eq. 2 and Algorithm 1) and
//! UCA (underconfidence), the robust accuracy over the misclassification attacks (AutoAttack's
//! per-image protocol) and the per-image calibration worst case at several radii, with bootstrap
//! intervals, as a Markdown table on stdout and `report.json`, `report.md` and one reliability
//! diagram `reliability-eps<ε>.svg` per radius in `--out`.
//!
//! ```text
//! # an advcal checkpoint (written by examples/train.rs or `Fit` on an AnyModel)
//! cargo run --release --features interop --example evaluate -- --checkpoint assets/models/small_cnn_pt.ckpt \
//!     --images 500 --epsilons 0.01,0.02,0.03 --out results/eval-small-cnn
//!
//! # PyTorch weights (kuangliu/pytorch-cifar's ResNet18 `ckpt.pth`), on real CIFAR-10
//! cargo run --release --features interop --example evaluate -- --checkpoint ckpt.pth --arch resnet18 \
//!     --layout kuangliu --mean 0.4914,0.4822,0.4465 --std 0.2023,0.1994,0.2010 \
//!     --data ../shared/data/cifar-10-batches-bin/test_batch.bin --images 1000 --out results/eval-r18
//!
//! # a Tiny ImageNet-200 model of Table 2, on the labelled validation images
//! cargo run --release --features interop --example evaluate -- --checkpoint paper/results/cifar/weights/table2-pt.ckpt \
//!     --data ../shared/data/tiny-imagenet-200 --images 2000 --epsilons 0.03 --out results/eval-tiny
//!
//! # a RobustBench WideResNet (TRADES layout, e.g. Zhang2019Theoretically's WRN-34-10)
//! cargo run --release --features tch,interop --example evaluate -- --backend tch \
//!     --checkpoint Zhang2019Theoretically.pt --arch wide_resnet --depth 34 --widen-factor 10 \
//!     --data ../shared/data/cifar-10-batches-bin --images 1000 --epsilons 0.031 --out results/rb-trades
//!
//! # torchvision's ImageNet ResNet-50 on an image folder (class sub-folders in the model's class
//! # order), resized to 256 and centre-cropped to 224 as torchvision evaluates it
//! cargo run --release --features interop --example evaluate -- --checkpoint resnet50-0676ba61.pth --arch resnet50 \
//!     --data my-imagenet-val --num-classes 1000 --epsilons 0.004 --out results/eval-r50
//! ```
//!
//! * `--checkpoint`: an advcal `.ckpt` is loaded with `advcal::checkpoint::load_any_model`,
//!   which takes the architecture, widths and the **input normalisation from the checkpoint**
//!   (`--arch`, `--width`, `--width-divisor`, `--layout`, `--mean` and `--std` are then ignored,
//!   with a note). A PyTorch `.pt`/`.pth` or `.safetensors` file is loaded with
//!   `advcal::interop::load_pytorch` into `--arch` (default resnet18) with `--width-divisor`
//!   and `--layout` (`--stem-stride` 2 for a ResNet-18 with a down-sampling stem; `--depth`,
//!   `--widen-factor`, `--activation` for a WideResNet; `--final-bn`, `--shortcut-from-input`
//!   for a PreAct ResNet-18; `--layers` for the ResNet-50 family), with as many classes as the data has (`--num-classes`
//!   overrides). The default layout follows the architecture: kuangliu for resnet18, vgg19 and
//!   mobilenet_v2, robustbench for wide_resnet and preact_resnet18, torchvision for resnet50
//!   and vgg19_bn; `--layout deepmind` reads DeepMind's WideResNets (and builds them with
//!   TensorFlow's "SAME" padding).
//! * Normalisation: `--mean`/`--std` (the constants the weights were trained with) if given.
//!   Otherwise a file that stores its normalisation (RobustBench's `mu`/`sigma`, DeepMind's
//!   `mean`/`std`) is used with it; else advcal's CIFAR networks get the data set's constants
//!   (for CIFAR-10 std 0.2470, 0.2435, 0.2616 — kuangliu's `main.py` uses std 0.2023, 0.1994,
//!   0.2010; for Tiny ImageNet `TINY_IMAGENET_MEAN`/`STD`), the WideResNet and PreAct ResNet-18
//!   none (RobustBench's TRADES models take `[0, 1]` images), ResNet-50 and VGG-19-BN
//!   ImageNet's.
//! * `--data`: a CIFAR-10 binary directory (its `test_batch.bin` is used), a single CIFAR-10
//!   `.bin` file, a Tiny ImageNet-200 root in the official layout (a directory with
//!   `wnids.txt`: its labelled validation images, labels in sorted-wnid order), or any image
//!   folder `DIR/<class>/<image>.{png,jpg}` (classes in sorted order = labels 0, 1, …; images
//!   of any size are resized to `--resize` square, or with `--crop` the shorter side to
//!   `--resize` and the centre `--crop` square cut out; default 256 + 224 for resnet50 and
//!   vgg19_bn, 32 otherwise); default `$ADVCAL_CIFAR10_DIR`, else the bundled 1000-image
//!   sample. A model with fewer classes than the data is refused.
//! * The first `--images` images are evaluated (default: all).

use advcal::Error;
use advcal::checkpoint::load_any_model;
use advcal::data::{
    ImageDataset, ImageFolderOptions, Split, load_cifar10, load_image_folder, load_tiny_imagenet,
    read_cifar10_file, resolve_cifar10_dir,
};
use advcal::interop::{WeightLayout, load_pytorch, stored_normalization};
use advcal::metrics::{BootstrapConfig, DEFAULT_BINS};
use advcal::model::{
    Activation, AnyModel, AnyModelConfig, Architecture, Classifier, NormalizationConfig,
};
use advcal::report::{ReportAttack, RobustnessConfig, reliability_file_name, robustness_report};
use burn::tensor::backend::AutodiffBackend;
use clap::Parser;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(
    about = "Calibration-robustness report (clean, PGD, APGD, Square, IAA, UCA, robust and worst case) of a CIFAR-10, Tiny ImageNet-200 or image-folder classifier"
)]
struct Args {
    /// Model weights: an advcal `.ckpt`, or PyTorch `.pt`/`.pth`/`.safetensors`
    #[arg(long)]
    checkpoint: PathBuf,
    /// small_cnn | resnet18 | vgg19 | mobilenet_v2 | wide_resnet | preact_resnet18 | resnet50 |
    /// vgg19_bn (PyTorch weights only; default resnet18)
    #[arg(long)]
    arch: Option<String>,
    /// Channel divisor of every architecture but the small CNN and the WideResNet (PyTorch
    /// weights only; default 1)
    #[arg(long)]
    width_divisor: Option<usize>,
    /// WideResNet depth 6n + 4 (default 28)
    #[arg(long)]
    depth: Option<usize>,
    /// WideResNet widen factor (default 10)
    #[arg(long)]
    widen_factor: Option<usize>,
    /// WideResNet activation: relu | silu (default relu; DeepMind's models use silu)
    #[arg(long)]
    activation: Option<String>,
    /// ResNet-50 family: blocks per stage (default 3,4,6,3; 3,4,23,3 is ResNet-101)
    #[arg(long, value_delimiter = ',')]
    layers: Option<Vec<usize>>,
    /// PreAct ResNet-18: BatchNorm + ReLU before the classifier (Wong et al.'s and Rice et al.'s
    /// code; not RobustBench's Wong2020Fast)
    #[arg(long)]
    final_bn: bool,
    /// PreAct ResNet-18: projection shortcuts read the raw block input (Wong et al.'s code)
    #[arg(long)]
    shortcut_from_input: bool,
    /// Width of the small CNN (PyTorch weights only; default 16)
    #[arg(long)]
    width: Option<usize>,
    /// Stride of ResNet-18's stem convolution (PyTorch weights only; default 1)
    #[arg(long)]
    stem_stride: Option<usize>,
    /// Number of classes of the PyTorch weights (PyTorch weights only; default: the data's)
    #[arg(long)]
    num_classes: Option<usize>,
    /// Key layout of the PyTorch file: kuangliu | torchvision | robustbench | deepmind | native
    /// (default: the architecture's, see the docs)
    #[arg(long)]
    layout: Option<String>,
    /// CIFAR-10 binary directory (test split), one `.bin` file, a Tiny ImageNet-200 root
    /// (validation images), or an image folder DIR/<class>/<image> (default:
    /// $ADVCAL_CIFAR10_DIR, else the bundled sample)
    #[arg(long)]
    data: Option<PathBuf>,
    /// Image folders: resize to this square size, or with --crop the shorter side to it
    /// (default 256 for resnet50/vgg19_bn, else 32)
    #[arg(long)]
    resize: Option<u32>,
    /// Image folders: centre crop (default 224 for resnet50/vgg19_bn, else none)
    #[arg(long)]
    crop: Option<u32>,
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

/// Whether `dir` holds CIFAR-10 binary batches.
fn is_cifar_dir(dir: &Path) -> bool {
    dir.join("test_batch.bin").is_file() || dir.join("data_batch_1.bin").is_file()
}

/// The image-folder preprocessing: `--resize`/`--crop`, by default torchvision's 256 + 224 for
/// the ImageNet architectures and a 32×32 resize for the others.
fn folder_options(args: &Args) -> ImageFolderOptions {
    let imagenet = matches!(
        args.arch.as_deref().map(Architecture::parse),
        Some(Ok(Architecture::ResNet50 | Architecture::Vgg19Bn))
    );
    let options = ImageFolderOptions::default();
    match (args.resize, args.crop, imagenet) {
        (None, None, true) => options.with_size(256).with_center_crop(224),
        (None, None, false) => options.with_size(32),
        (size, Some(crop), _) => options
            .with_size(size.unwrap_or(crop))
            .with_center_crop(crop),
        (Some(size), None, _) => options.with_size(size),
    }
}

/// The data set: a directory's test split, one `.bin` file, Tiny ImageNet-200's validation
/// images or an image folder, truncated to `--images`.
fn load_data(args: &Args) -> advcal::Result<Data> {
    let path = resolve_cifar10_dir(args.data.clone());
    let folder = !path.is_file() && !path.join("wnids.txt").is_file() && !is_cifar_dir(&path);
    if !folder && (args.resize.is_some() || args.crop.is_some()) {
        eprintln!("note: --resize/--crop apply to image folders only; ignored");
    }
    let (data, stats) = if path.is_file() {
        (read_cifar10_file(&path)?, CIFAR10_STATS)
    } else if path.join("wnids.txt").is_file() {
        (load_tiny_imagenet(&path, Split::Test)?, TINY_IMAGENET_STATS)
    } else if folder {
        let data = load_image_folder(&path, folder_options(args))?;
        (data, CIFAR10_STATS)
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
/// (the default for PyTorch weights of advcal's CIFAR networks, which carry none).
struct Data {
    images: ImageDataset,
    path: PathBuf,
    stats: ([f32; 3], [f32; 3]),
}

impl Data {
    /// Whether `arch` is normalised with the data set's own constants when none are given:
    /// advcal's CIFAR networks (the published architectures have their own defaults).
    fn uses_own_stats(&self, arch: Architecture) -> bool {
        matches!(
            arch,
            Architecture::SmallCnn
                | Architecture::ResNet18
                | Architecture::Vgg19
                | Architecture::MobileNetV2
        )
    }
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
            ("--depth", args.depth.is_some()),
            ("--widen-factor", args.widen_factor.is_some()),
            ("--activation", args.activation.is_some()),
            ("--layers", args.layers.is_some()),
            ("--final-bn", args.final_bn),
            ("--shortcut-from-input", args.shortcut_from_input),
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
    let default_layout = match arch {
        Architecture::WideResNet | Architecture::PreActResNet18 => "robustbench",
        Architecture::ResNet50 | Architecture::Vgg19Bn => "torchvision",
        _ => "kuangliu",
    };
    let layout = WeightLayout::parse(args.layout.as_deref().unwrap_or(default_layout))?;
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
    let wrn_flags =
        args.depth.is_some() || args.widen_factor.is_some() || args.activation.is_some();
    if wrn_flags && arch != Architecture::WideResNet {
        return Err(Error::param(
            "depth",
            "--depth, --widen-factor and --activation apply to --arch wide_resnet only",
        ));
    }
    if (args.final_bn || args.shortcut_from_input) && arch != Architecture::PreActResNet18 {
        return Err(Error::param(
            "final-bn",
            "--final-bn and --shortcut-from-input apply to --arch preact_resnet18 only",
        ));
    }
    if args.layers.is_some() && arch != Architecture::ResNet50 {
        return Err(Error::param(
            "layers",
            "--layers applies to --arch resnet50 only",
        ));
    }
    config.layers = args.layers.clone();
    config.depth = args.depth.unwrap_or(28);
    config.widen_factor = args.widen_factor.unwrap_or(10);
    config.activation = match args.activation.as_deref() {
        None | Some("relu") => Activation::Relu,
        Some("silu" | "swish") => Activation::Silu,
        Some(other) => {
            return Err(Error::param(
                "activation",
                format!("unknown `{other}`; expected relu or silu"),
            ));
        }
    };
    config.tf_same_padding = layout == WeightLayout::DeepMind;
    let [_, h, w] = data.images.image_shape();
    if matches!(arch, Architecture::ResNet50 | Architecture::Vgg19Bn) && h.min(w) < 32 {
        return Err(Error::param(
            "crop",
            format!(
                "{} needs images of at least 32×32, got {h}×{w}",
                arch.name()
            ),
        ));
    }
    config.final_bn = args.final_bn;
    config.shortcut_from_input = args.shortcut_from_input;
    // Given constants win; otherwise the file's (if it stores them) or the architecture's
    // default, except that advcal's CIFAR networks take the data set's own statistics.
    let (mean, std) = data.stats;
    if args.mean.is_some() != args.std.is_some() {
        return Err(Error::param(
            "mean",
            "give --mean and --std together (one alone would be completed from another source)",
        ));
    }
    if args.mean.is_some() || data.uses_own_stats(arch) {
        let normalization = NormalizationConfig::new()
            .with_mean(three("mean", &args.mean, mean)?)
            .with_std(three("std", &args.std, std)?);
        normalization.validate()?;
        config.normalization = Some(normalization);
    }
    let model = load_pytorch::<B>(&args.checkpoint, &config, &layout, device)?;
    // A file's own constants are used when the config leaves the normalisation open.
    let stored = match config.normalization {
        None => stored_normalization(&args.checkpoint)?,
        Some(_) => None,
    };
    let normalization = match stored.or_else(|| config.effective_normalization()) {
        None => "none".to_string(),
        Some(n) => format!("mean {:?}, std {:?}", n.mean, n.std),
    };
    let shape = match arch {
        Architecture::ResNet18 => format!(", stem stride {}", config.stem_stride),
        Architecture::WideResNet => format!(
            ", WRN-{}-{} {:?}{}",
            config.depth,
            config.widen_factor,
            config.activation,
            if config.tf_same_padding {
                ", TF SAME padding"
            } else {
                ""
            }
        ),
        Architecture::PreActResNet18 => format!(
            ", final BN {}, shortcut from input {}",
            config.final_bn, config.shortcut_from_input
        ),
        _ => String::new(),
    };
    let about = format!(
        "{} (PyTorch weights, {} classes, layout {}, width divisor {}{shape}, normalisation {normalization})",
        arch.name(),
        config.num_classes,
        layout.name(),
        config.width_divisor,
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
