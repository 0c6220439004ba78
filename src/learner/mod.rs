//! Integration with Burn's training engine, `burn-train` (feature `learner`).
//!
//! burn-train's `Learner` / `SupervisedTraining` bring checkpointing, metric loggers, the CLI or
//! TUI renderer, early stopping, learning-rate schedulers and multi-device data parallelism.
//! This module plugs advcal into it:
//!
//! * [`StrategyModel`] wraps a classifier and a [`TrainingStrategy`](crate::train::TrainingStrategy)
//!   as burn-train's `TrainStep`; its inference twin [`ValidationModel`] is the `InferenceStep`,
//!   returning clean outputs plus one view per evaluation attack ([`CalibrationOutput`]).
//! * [`CalibrationMetric`] logs ACC, CONF, ECE, MCS, NLL or Brier, clean or
//!   [under an attack](CalibrationMetric::under_attack), as burn-train `Metric` + `Numeric`,
//!   with exact epoch values.
//! * [`ImageDataset`](crate::data::ImageDataset) is a burn `Dataset`, batched by
//!   [`ImageBatcher`].
//!
//! burn-train's steps cannot return errors: failures are collected in [`StepFailures`].
//!
//! Multi-device training uses burn's own `ExecutionStrategy::MultiDevice` (one worker thread
//! per device, gradients summed on the first device) or, with burn's `distributed` feature,
//! `ExecutionStrategy::DistributedDataParallel`; advcal adds nothing of its own. See
//! `examples/learner.rs` and `docs/architecture.md`.
//!
//! ```no_run
//! use advcal::data::ImageDataset;
//! use advcal::learner::{CalibrationMetric, ImageBatcher, StrategyModel};
//! use advcal::model::SmallCnnConfig;
//! use advcal::train::{PgdAt, PgdAtConfig};
//! use burn::backend::{Autodiff, NdArray};
//! use burn::data::dataloader::DataLoaderBuilder;
//! use burn::optim::SgdConfig;
//! use burn::train::metric::{AccuracyMetric, LossMetric};
//! use burn::train::{Learner, SupervisedTraining};
//!
//! type B = Autodiff<NdArray>;
//! # fn run(train: ImageDataset, valid: ImageDataset) -> advcal::Result<()> {
//! let device = Default::default();
//! let batcher = ImageBatcher::for_dataset(&train);
//! let train_loader = DataLoaderBuilder::new(batcher).batch_size(64).shuffle(0).build(train);
//! let valid_loader = DataLoaderBuilder::new(batcher).batch_size(256).build(valid);
//! let training = SupervisedTraining::new("runs/learner", train_loader, valid_loader)
//!     .metrics((AccuracyMetric::new(), LossMetric::new()))
//!     .metric_valid_numeric(CalibrationMetric::ece())
//!     .metric_valid_numeric(CalibrationMetric::mcs())
//!     .num_epochs(2);
//! let model = StrategyModel::new(
//!     SmallCnnConfig::new().init::<B>(&device),
//!     PgdAt::new(PgdAtConfig::new()),
//! )?
//! .with_interrupter(training.interrupter());
//! let failures = model.failures();
//! let optim = SgdConfig::new().init();
//! let result = training.launch(Learner::new(model, optim, 0.05));
//! failures.check()?;
//! let _trained = result.model.into_model();
//! # Ok(()) }
//! ```

mod data;
mod metric;
mod model;
mod output;

pub use data::{ImageBatch, ImageBatcher, LabeledImage};
pub use metric::{CalibrationInput, CalibrationMetric, CalibrationQuantity, CalibrationView};
pub use model::{StepFailures, StrategyModel, ValidationModel};
pub use output::{AttackedView, CalibrationOutput};
