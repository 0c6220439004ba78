//! Train with any strategy through Burn's own training engine (`burn-train`): its Learner,
//! checkpointer, metric logger and CLI renderer, multi-device data parallelism, plus advcal's
//! calibration metrics (clean and under attack) as burn-train metrics.
//!
//! ```text
//! cargo run --release --features learner --example learner -- --strategy at-iat --epochs 2
//! cargo run --release --features learner,tch --example learner -- --backend tch \
//!     --strategy iat --data-dir ../shared/data/cifar-10-batches-bin --epochs 5
//! # two GPUs (CUDA through LibTorch), burn's multi-device strategy:
//! cargo run --release --features learner,tch --example learner -- --backend tch-cuda --devices 2
//! ```
//! Writes burn-train's logs (`<out>/train/epoch-*/*.log`, `<out>/valid/...`), its checkpoints
//! (`<out>/checkpoint/`) and the final classifier as `<out>/final.ckpt` (advcal's atomic
//! checkpoint format). `--resume N` continues from burn-train's checkpoint of epoch N.
//!
//! advcal's own [`Fit`](advcal::train::Fit) trainer remains the choice for the persistent-noise
//! IAT, atomic per-epoch checkpoints and the training history JSON/CSV.

use advcal::attack::AttackConfig;
use advcal::data::{load_cifar10_splits, resolve_cifar10_dir};
use advcal::learner::{CalibrationMetric, ImageBatcher, StrategyModel};
use advcal::model::{AnyModel, AnyModelConfig, Architecture, Classifier};
use advcal::train::{CloneableStrategy, StrategyKind, StrategyVisitor, paper_sgd};
use burn::data::dataloader::DataLoaderBuilder;
use burn::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use burn::module::AutodiffModule;
use burn::record::CompactRecorder;
use burn::tensor::Device;
use burn::tensor::backend::AutodiffBackend;
use burn::train::metric::{AccuracyMetric, LossMetric};
use burn::train::{ExecutionStrategy, Learner, MultiDeviceOptim, SupervisedTraining};
use clap::Parser;
use std::path::PathBuf;

#[derive(Parser, Debug, Clone)]
#[command(about = "Train a CIFAR classifier with burn-train's Learner and advcal's strategies")]
struct Args {
    /// pt | pgd-at | ace-at | ccat | iat | at-iat
    #[arg(long, default_value = "pgd-at")]
    strategy: String,
    /// small_cnn | resnet18 | vgg19 | mobilenet_v2
    #[arg(long, default_value = "small_cnn")]
    model: String,
    /// Width of the small CNN
    #[arg(long, default_value_t = 16)]
    width: usize,
    /// CIFAR-10 binary directory (default: $ADVCAL_CIFAR10_DIR, else the bundled sample)
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[arg(long, default_value_t = 2)]
    epochs: usize,
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    /// Initial learning rate (cosine-annealed to 0 over the run)
    #[arg(long, default_value_t = 0.05)]
    lr: f64,
    /// Use only the first N training images
    #[arg(long)]
    train_limit: Option<usize>,
    /// Validate on the first N test images
    #[arg(long, default_value_t = 500)]
    eval_limit: usize,
    /// Inner attack steps of the training strategy
    #[arg(long, default_value_t = 3)]
    attack_steps: usize,
    /// Attacks run on every validation batch, `name:epsilon`; repeat for several
    #[arg(long, default_values_t = ["pgd:0.03".to_string(), "iaa:0.03".to_string()])]
    eval_attack: Vec<String>,
    #[arg(long, default_value_t = 10)]
    eval_attack_steps: usize,
    /// Data-parallel devices: indices 0..N of the chosen backend's device type (on a CPU
    /// backend every index is the one CPU; burn still runs one worker per entry)
    #[arg(long, default_value_t = 1)]
    devices: usize,
    /// Resume from burn-train's checkpoint of this epoch
    #[arg(long)]
    resume: Option<usize>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value = "runs/learner")]
    out: PathBuf,
    /// tch | tch-cuda | flex | ndarray | wgpu | cuda (default: fastest CPU backend compiled in)
    #[arg(long)]
    backend: Option<String>,
}

/// Everything but the strategy, which [`StrategyKind::visit`] supplies with its concrete type.
struct Run<B: AutodiffBackend> {
    args: Args,
    device: B::Device,
}

impl<B: AutodiffBackend> StrategyVisitor<B, AnyModel<B>> for Run<B> {
    type Output = advcal::Result<()>;

    fn visit<S>(self, strategy: S) -> Self::Output
    where
        S: CloneableStrategy<B, AnyModel<B>>,
    {
        let Run { args, device } = self;
        let dir = resolve_cifar10_dir(args.data_dir.clone());
        let (train, valid) = load_cifar10_splits(&dir, args.train_limit, Some(args.eval_limit))?;
        eprintln!(
            "data: {} ({} train, {} validation images)",
            dir.display(),
            train.len(),
            valid.len()
        );
        let eval_attacks = args
            .eval_attack
            .iter()
            .map(|s| AttackConfig::from_spec(s, args.eval_attack_steps))
            .collect::<advcal::Result<Vec<_>>>()?;
        let arch = Architecture::parse(&args.model)?;
        let mut config = AnyModelConfig::new(arch, train.num_classes());
        config.width = args.width;
        config.try_init::<B>(&device)?; // a typed error for an invalid config
        let model =
            advcal::model::seeded_init::<B, _>(&device, args.seed, || config.init::<B>(&device));
        let steps_per_epoch = train.len().div_ceil(args.batch_size).max(1);

        let batcher = ImageBatcher::for_dataset(&train);
        let train_loader = DataLoaderBuilder::new(batcher)
            .batch_size(args.batch_size)
            .shuffle(args.seed)
            .num_workers(1)
            .build(train);
        let valid_loader = DataLoaderBuilder::new(batcher)
            .batch_size(args.batch_size)
            .build(valid);

        let mut training = SupervisedTraining::new(&args.out, train_loader, valid_loader)
            .metrics((AccuracyMetric::new(), LossMetric::new()))
            .metric_valid_numeric(CalibrationMetric::confidence())
            .metric_valid_numeric(CalibrationMetric::ece())
            .metric_valid_numeric(CalibrationMetric::mcs())
            .with_file_checkpointer(CompactRecorder::new())
            .num_epochs(args.epochs)
            .summary();
        for attack in &eval_attacks {
            let label = attack.label();
            training = training
                .metric_valid_numeric(CalibrationMetric::accuracy().under_attack(&label))
                .metric_valid_numeric(CalibrationMetric::confidence().under_attack(&label))
                .metric_valid_numeric(CalibrationMetric::mcs().under_attack(&label));
        }
        if let Some(epoch) = args.resume {
            training = training.checkpoint(epoch);
        }
        if args.devices > 1 {
            // Burn's own data parallelism: one worker per device, gradients summed and the
            // optimizer stepped on the first device.
            let id = burn::tensor::backend::DeviceOps::id(&device);
            let devices: Vec<Device<B>> = (0..args.devices as u16)
                .map(|i| {
                    burn::tensor::backend::Device::from_id(burn::tensor::backend::DeviceId {
                        type_id: id.type_id,
                        index_id: i,
                    })
                })
                .collect();
            training = training.with_training_strategy(
                ExecutionStrategy::MultiDevice(devices, MultiDeviceOptim::OptimMainDevice).into(),
            );
        }

        let model = StrategyModel::new(model, strategy)?
            .with_seed(args.seed)
            .with_eval_attacks(eval_attacks)
            .with_interrupter(training.interrupter());
        let failures = model.failures();
        let optim = paper_sgd(false).init();
        let schedule =
            CosineAnnealingLrSchedulerConfig::new(args.lr, steps_per_epoch * args.epochs.max(1))
                .init()
                .map_err(|e| advcal::Error::param("lr", e))?;
        let result = training.launch(Learner::new(model, optim, schedule));
        failures.check()?;

        let trained = AnyModel::<B>::from_inner(result.model.into_model());
        let path = args.out.join("final.ckpt");
        let meta = advcal::checkpoint::CheckpointMeta::new(arch.name(), &config)?
            .with_epoch(args.epochs)
            .with_seed(args.seed);
        advcal::checkpoint::save_checkpoint::<B, _>(&path, &trained, &meta, None)?;
        eprintln!(
            "{} classes; final classifier in {}",
            trained.num_classes(),
            path.display()
        );
        Ok(())
    }
}

struct Task(Args);

impl advcal::backend::BackendTask for Task {
    type Output = advcal::Result<()>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        let kind = StrategyKind::parse(&self.0.strategy)?;
        let steps = self.0.attack_steps;
        kind.visit::<B, AnyModel<B>, _>(
            steps,
            Run::<B> {
                args: self.0,
                device,
            },
        )?
    }
}

fn main() {
    let args = Args::parse();
    let backend = args.backend.clone();
    if let Err(e) =
        advcal::backend::with_backend_or_default(backend.as_deref(), Task(args)).and_then(|r| r)
    {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
