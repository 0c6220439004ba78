//! Training strategies (PT, PGD-AT, CCAT, ACE-AT, IAT, AT+IAT, and label smoothing as a
//! calibration baseline) and a trainer.
//!
//! A [`TrainingStrategy`] turns one mini-batch into the loss to back-propagate; it decides which
//! inner attack runs, on which part of the batch. Inner attacks run in inference behaviour
//! ([`Mode::Eval`](crate::model::Mode), BatchNorm running statistics untouched, parameters
//! frozen); the final forward that produces the loss runs in training behaviour.
//! [`Fit`] runs epochs of a strategy with an optimizer, learning-rate schedule, evaluation,
//! history files and atomic, resumable checkpoints.

mod ace_at;
mod at_iat;
mod ccat;
mod epoch;
mod iat;
mod label_smoothing;
mod optim;
mod pgd_at;
mod plain;
mod registry;
mod schedule;
mod trainer;

pub use ace_at::{AceAt, AceAtConfig, AceVariant, ace_loss};
pub use at_iat::{AtIat, AtIatConfig, AtIatMix};
pub use ccat::{Ccat, CcatConfig, ccat_target};
pub use iat::{Iat, IatConfig, PersistentNoiseConfig};
pub use label_smoothing::{LabelSmoothing, LabelSmoothingConfig};
pub use optim::{PAPER_WEIGHT_DECAY, paper_sgd};
pub use pgd_at::{PgdAt, PgdAtConfig};
pub use plain::Plain;
pub use registry::{StrategyKind, StrategyVisitor};
pub use schedule::LrSchedule;
pub use trainer::{EpochRecord, Fit, TrainOutcome, TrainerConfig};

use crate::error::Result;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

/// What a strategy hands back for one batch.
#[derive(Debug)]
pub struct StrategyStep<B: AutodiffBackend> {
    /// Scalar loss (`[1]`) to back-propagate.
    pub loss: Tensor<B, 1>,
    /// Training-mode logits of the examples the loss was computed on, `[M, K]`.
    pub logits: Tensor<B::InnerBackend, 2>,
    /// Labels of those examples, `[M]`.
    pub labels: Tensor<B::InnerBackend, 1, Int>,
    /// Extra scalar statistics to log (e.g. accuracy on each half), each a `[1]` tensor.
    pub stats: Vec<(&'static str, Tensor<B::InnerBackend, 1>)>,
}

/// Per-batch information a strategy may need.
#[derive(Debug, Clone, Copy)]
pub struct BatchContext<'a> {
    /// Seed for this batch's randomness (attack starts).
    pub seed: u64,
    /// Data-set indices of the batch (for per-example state).
    pub indices: &'a [usize],
    /// Current epoch (0-based).
    pub epoch: usize,
}

/// One way of training a classifier `M`.
///
/// A custom strategy is a few lines; this one trains on clean images with label smoothing:
///
/// ```
/// use advcal::train::{BatchContext, StrategyStep, TrainingStrategy};
/// use advcal::model::{Classifier, Mode};
/// use burn::prelude::*;
/// use burn::tensor::backend::AutodiffBackend;
///
/// struct Smoothed(f32);
/// impl<B: AutodiffBackend, M: Classifier<B>> TrainingStrategy<B, M> for Smoothed {
///     fn name(&self) -> String { "smoothed".into() }
///     fn step(&mut self, model: &M, x: Tensor<B::InnerBackend, 4>, y: Tensor<B::InnerBackend, 1, Int>,
///             _ctx: BatchContext<'_>) -> advcal::Result<StrategyStep<B>> {
///         let logits = model.forward_mode(Tensor::from_inner(x), Mode::Train);
///         let k = logits.dims()[1];
///         let loss = burn::nn::loss::CrossEntropyLossConfig::new()
///             .with_smoothing(Some(self.0)).init(&logits.device())
///             .forward(logits.clone(), Tensor::from_inner(y.clone()));
///         let _ = k;
///         Ok(StrategyStep { loss, logits: logits.inner(), labels: y, stats: vec![] })
///     }
/// }
/// ```
pub trait TrainingStrategy<B: AutodiffBackend, M> {
    /// Short name (`"pt"`, `"pgd-at"`, ...).
    fn name(&self) -> String;

    /// The loss (and statistics) for one batch of images in `[0, 1]`.
    ///
    /// # Errors
    ///
    /// The built-in strategies pass on their inner attacks' errors (see
    /// [`Attack::perturb_under`](crate::attack::Attack::perturb_under)) and their configuration
    /// errors; the persistent-noise IAT adds [`Error::IndexCountMismatch`](crate::Error::IndexCountMismatch)
    /// when `ctx.indices` does not hold one index per image.
    fn step(
        &mut self,
        model: &M,
        images: Tensor<B::InnerBackend, 4>,
        labels: Tensor<B::InnerBackend, 1, Int>,
        ctx: BatchContext<'_>,
    ) -> Result<StrategyStep<B>>;

    /// Whether [`step`](Self::step) keeps state that later steps read (the persistent-noise
    /// IAT bank). Integrations that clone the strategy per step or per device, such as
    /// `advcal::learner::StrategyModel` (feature `learner`), refuse stateful strategies rather than
    /// silently dropping their state. Defaults to `false`.
    fn is_stateful(&self) -> bool {
        false
    }
}

/// A [`TrainingStrategy`] that can be cloned and sent across threads: what
/// [`StrategyKind::visit`] hands out and what burn-train's `Learner` needs (feature `learner`:
/// it clones the strategy per step and per device). Implemented for every strategy that
/// qualifies, so it never needs implementing by hand.
///
/// ```
/// use advcal::model::SmallCnn;
/// use advcal::train::{CloneableStrategy, Plain, TrainingStrategy};
/// use burn::backend::{Autodiff, NdArray};
///
/// type B = Autodiff<NdArray>;
/// fn shareable<S: CloneableStrategy<B, SmallCnn<B>>>(strategy: S) -> (S, S) {
///     (strategy.clone(), strategy)
/// }
/// let (a, _b) = shareable(Plain);
/// assert_eq!(TrainingStrategy::<B, SmallCnn<B>>::name(&a), "pt");
/// ```
pub trait CloneableStrategy<B: AutodiffBackend, M>:
    TrainingStrategy<B, M> + Clone + Send + Sync + std::fmt::Debug + 'static
{
}

impl<B, M, S> CloneableStrategy<B, M> for S
where
    B: AutodiffBackend,
    S: TrainingStrategy<B, M> + Clone + Send + Sync + std::fmt::Debug + 'static,
{
}

impl<B: AutodiffBackend, M, S: TrainingStrategy<B, M> + ?Sized> TrainingStrategy<B, M> for Box<S> {
    fn name(&self) -> String {
        (**self).name()
    }
    fn step(
        &mut self,
        model: &M,
        images: Tensor<B::InnerBackend, 4>,
        labels: Tensor<B::InnerBackend, 1, Int>,
        ctx: BatchContext<'_>,
    ) -> Result<StrategyStep<B>> {
        (**self).step(model, images, labels, ctx)
    }
    fn is_stateful(&self) -> bool {
        (**self).is_stateful()
    }
}

/// Mean hard-label cross-entropy of training-mode logits, packaged as a [`StrategyStep`].
pub(crate) fn ce_step<B: AutodiffBackend, M: crate::model::Classifier<B>>(
    model: &M,
    images: Tensor<B::InnerBackend, 4>,
    labels: Tensor<B::InnerBackend, 1, Int>,
) -> StrategyStep<B> {
    let logits = model.forward_mode(Tensor::from_inner(images), crate::model::Mode::Train);
    let loss =
        crate::attack::cross_entropy(logits.clone(), Tensor::from_inner(labels.clone())).mean();
    StrategyStep {
        loss,
        logits: logits.inner(),
        labels,
        stats: vec![],
    }
}

/// Accuracy of logits against labels, as a `[1]` tensor (no host read).
pub(crate) fn accuracy_tensor<B: Backend>(
    logits: Tensor<B, 2>,
    labels: Tensor<B, 1, Int>,
) -> Tensor<B, 1> {
    let [n, _] = logits.dims();
    logits.argmax(1).reshape([n]).equal(labels).float().mean()
}
