//! ECE, MCS, confidence and accuracy (clean or under an attack) as burn-train metrics.

use crate::metrics::{CalibrationAccumulator, CalibrationReport};
use burn::prelude::*;
use burn::train::ClassificationOutput;
use burn::train::metric::{
    Metric, MetricAttributes, MetricMetadata, MetricName, Numeric, NumericAttributes, NumericEntry,
    SerializedEntry,
};
use std::marker::PhantomData;
use std::sync::Arc;

/// Logits and targets of one view of a batch: clean (`label == None`) or attacked.
pub struct CalibrationView<B: Backend> {
    /// `None` for the clean images, else `<attack>@<ε>`.
    pub label: Option<String>,
    /// `[N, K]` logits.
    pub logits: Tensor<B, 2>,
    /// `[N]` class indices.
    pub targets: Tensor<B, 1, Int>,
}

impl<B: Backend> CalibrationView<B> {
    pub(crate) fn clean(output: &ClassificationOutput<B>) -> Self {
        Self {
            label: None,
            logits: output.output.clone(),
            targets: output.targets.clone(),
        }
    }
}

/// Input of [`CalibrationMetric`]: every view of a batch the step produced.
pub struct CalibrationInput<B: Backend> {
    /// Clean view first, then one view per evaluation attack.
    pub views: Vec<CalibrationView<B>>,
}

/// Which number of a [`CalibrationReport`] a [`CalibrationMetric`] logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalibrationQuantity {
    /// ACC, a fraction in `[0, 1]`.
    Accuracy,
    /// CONF: mean maximum softmax probability.
    Confidence,
    /// Expected calibration error (equal-width bins).
    Ece,
    /// Signed miscalibration score CONF − ACC (> 0 overconfident, < 0 underconfident).
    Mcs,
    /// Mean negative log-likelihood of the true class.
    Nll,
    /// Multi-class Brier score.
    Brier,
}

impl CalibrationQuantity {
    fn name(self) -> &'static str {
        match self {
            Self::Accuracy => "ACC",
            Self::Confidence => "CONF",
            Self::Ece => "ECE",
            Self::Mcs => "MCS",
            Self::Nll => "NLL",
            Self::Brier => "Brier",
        }
    }

    fn of(self, r: &CalibrationReport) -> f64 {
        match self {
            Self::Accuracy => r.accuracy,
            Self::Confidence => r.confidence,
            Self::Ece => r.ece,
            Self::Mcs => r.mcs,
            Self::Nll => r.nll,
            Self::Brier => r.brier,
        }
    }

    fn higher_is_better(self) -> bool {
        // MCS is best at 0 from either side; "lower" is the closer of the two simple orders
        // for adversarially trained (overconfident) models. Rank checkpoints on ECE instead.
        matches!(self, Self::Accuracy | Self::Confidence)
    }
}

/// A calibration number of the clean images or of one attacked view, as a burn-train
/// [`Metric`] + [`Numeric`].
///
/// The epoch value is exact: the metric accumulates the whole epoch's reliability bins
/// ([`CalibrationAccumulator`]) rather than averaging per-batch ECEs (ECE is not linear in
/// the batch). burn-train aggregates an epoch as the count-weighted mean of the per-batch
/// entries, so each serialized entry is the *increment* `(R_t·N_t − R_{t−1}·N_{t−1}) / n_t`
/// of the running value `R`; the weighted mean of the increments telescopes to the exact
/// epoch value. For ACC, CONF and MCS (linear quantities) the increment equals the batch
/// value. The formatted text shows the running epoch value and the batch's own value.
///
/// ```
/// use advcal::learner::{CalibrationInput, CalibrationMetric, CalibrationView};
/// use burn::backend::NdArray;
/// use burn::prelude::*;
/// use burn::data::dataloader::Progress;
/// use burn::train::metric::{Metric, MetricMetadata, Numeric};
///
/// let d = Default::default();
/// let meta = MetricMetadata {
///     progress: Progress::new(1, 2),
///     global_progress: Progress::new(1, 1),
///     iteration: None,
///     lr: None,
/// };
/// let view = |logits: [[f32; 2]; 2], targets: [i64; 2]| CalibrationInput::<NdArray> {
///     views: vec![CalibrationView {
///         label: None,
///         logits: Tensor::from_floats(logits, &d),
///         targets: Tensor::from_ints(targets, &d),
///     }],
/// };
/// let mut ece = CalibrationMetric::<NdArray>::ece();
/// ece.update(&view([[3.0, 0.0], [0.0, 3.0]], [0, 0]), &meta);
/// ece.update(&view([[0.0, 0.0], [1.0, 0.0]], [1, 0]), &meta);
/// // The epoch value equals the ECE of all four samples at once.
/// let logits = [3.0f32, 0.0, 0.0, 3.0, 0.0, 0.0, 1.0, 0.0];
/// let all = advcal::metrics::CalibrationReport::from_logits(&logits, 2, &[0, 0, 1, 0], 15).unwrap();
/// assert!((ece.running_value().current() - all.ece).abs() < 1e-6);
/// ```
#[derive(Clone)]
pub struct CalibrationMetric<B: Backend> {
    quantity: CalibrationQuantity,
    view: Option<String>,
    bins: usize,
    name: MetricName,
    epoch: Option<CalibrationAccumulator>,
    /// `R_{t−1} · N_{t−1}` of the running value (for the telescoping increments).
    previous_total: f64,
    last_batch: (f64, usize),
    _backend: PhantomData<B>,
}

impl<B: Backend> CalibrationMetric<B> {
    /// The metric `quantity` of the clean images, with 15 bins.
    pub fn new(quantity: CalibrationQuantity) -> Self {
        Self {
            quantity,
            view: None,
            bins: 15,
            name: Arc::new(quantity.name().to_string()),
            epoch: None,
            previous_total: 0.0,
            last_batch: (f64::NAN, 0),
            _backend: PhantomData,
        }
    }

    /// Expected calibration error.
    pub fn ece() -> Self {
        Self::new(CalibrationQuantity::Ece)
    }

    /// Signed miscalibration score CONF − ACC.
    pub fn mcs() -> Self {
        Self::new(CalibrationQuantity::Mcs)
    }

    /// Mean confidence.
    pub fn confidence() -> Self {
        Self::new(CalibrationQuantity::Confidence)
    }

    /// Accuracy as a fraction (burn's `AccuracyMetric` logs a percentage).
    pub fn accuracy() -> Self {
        Self::new(CalibrationQuantity::Accuracy)
    }

    /// Number of equal-width confidence bins of ECE (default 15).
    pub fn with_bins(mut self, bins: usize) -> Self {
        self.bins = bins.max(1);
        self
    }

    /// Measure the view produced by the evaluation attack labelled `label` (`"pgd@0.03"`, see
    /// [`AttackConfig::label`](crate::attack::AttackConfig::label)) instead of the clean images.
    /// Register such metrics on the validation split only: training outputs have no attacked
    /// view, and a batch without the view contributes nothing (the epoch value is then NaN).
    pub fn under_attack(mut self, label: impl Into<String>) -> Self {
        let label = label.into();
        self.name = Arc::new(format!("{} [{label}]", self.quantity.name()));
        self.view = Some(label);
        self
    }

    fn running(&self) -> (f64, usize) {
        match self.epoch.as_ref().map(|a| (a.report(), a.len())) {
            Some((Ok(r), n)) => (self.quantity.of(&r), n),
            _ => (f64::NAN, 0),
        }
    }

    /// Adds the batch; returns the batch's own value and size.
    fn add(&mut self, view: &CalibrationView<B>) -> crate::Result<(f64, usize)> {
        let [n, k] = view.logits.dims();
        let logits = view.logits.clone().into_data().convert::<f32>();
        let logits = logits
            .as_slice::<f32>()
            .map_err(crate::Error::TensorConversion)?;
        let targets = view.targets.clone().into_data().convert::<i64>();
        let targets = targets
            .as_slice::<i64>()
            .map_err(crate::Error::TensorConversion)?
            .iter()
            .map(|&t| usize::try_from(t).unwrap_or(usize::MAX))
            .collect::<Vec<_>>();
        let mut batch = CalibrationAccumulator::new(k, self.bins)?;
        batch.add_logits_slice(logits, &targets)?;
        let batch_value = self.quantity.of(&batch.report()?);
        let epoch = match &mut self.epoch {
            Some(acc) => acc,
            slot => slot.insert(CalibrationAccumulator::new(k, self.bins)?),
        };
        epoch.add_logits_slice(logits, &targets)?;
        Ok((batch_value, n))
    }
}

impl<B: Backend> Metric for CalibrationMetric<B> {
    type Input = CalibrationInput<B>;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: None,
            higher_is_better: self.quantity.higher_is_better(),
        }
        .into()
    }

    fn update(
        &mut self,
        item: &CalibrationInput<B>,
        _metadata: &MetricMetadata,
    ) -> SerializedEntry {
        let view = item.views.iter().find(|v| v.label == self.view);
        let added = view.map(|v| self.add(v));
        let Some(Ok((batch_value, n))) = added else {
            // No such view (an attacked metric on the training split) or a malformed batch:
            // contribute nothing rather than a made-up number.
            self.last_batch = (f64::NAN, 0);
            let why = match added {
                Some(Err(e)) => e.to_string(),
                _ => "no such view in this split".to_string(),
            };
            return SerializedEntry::new(
                format!("n/a ({why})"),
                NumericEntry::Aggregated {
                    aggregated_value: 0.0,
                    count: 0,
                }
                .serialize(),
            );
        };
        let (running, total_n) = self.running();
        let total = running * total_n as f64;
        let increment = (total - self.previous_total) / n as f64;
        self.previous_total = total;
        self.last_batch = (batch_value, n);
        SerializedEntry::new(
            format!("epoch {running:.4} - batch {batch_value:.4}"),
            NumericEntry::Aggregated {
                aggregated_value: increment,
                count: n,
            }
            .serialize(),
        )
    }

    fn clear(&mut self) {
        self.epoch = None;
        self.previous_total = 0.0;
        self.last_batch = (f64::NAN, 0);
    }
}

impl<B: Backend> Numeric for CalibrationMetric<B> {
    fn value(&self) -> NumericEntry {
        NumericEntry::Aggregated {
            aggregated_value: self.last_batch.0,
            count: self.last_batch.1,
        }
    }

    fn running_value(&self) -> NumericEntry {
        let (value, n) = self.running();
        NumericEntry::Aggregated {
            aggregated_value: value,
            count: n,
        }
    }
}

impl<B: Backend> core::fmt::Debug for CalibrationMetric<B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CalibrationMetric")
            .field("name", &self.name)
            .field("bins", &self.bins)
            .finish()
    }
}
