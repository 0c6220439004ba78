//! Evaluating a model's calibration on a data set, clean or under an attack.

use crate::attack::{Attack, Budget};
use crate::data::ImageDataset;
use crate::error::{Error, Result};
use crate::metrics::{
    BootstrapConfig, CalibrationAccumulator, CalibrationReport, CalibrationSamples,
    ConfidenceIntervals,
};
use crate::model::{Classifier, Mode};
use crate::rng::derive_seed;
use burn::prelude::*;
use burn::tensor::ElementConversion;
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

/// Calibration under one attack at one radius.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttackEvaluation {
    /// Attack name.
    pub attack: String,
    /// Radius ε.
    pub epsilon: f32,
    /// Calibration of the model on the attacked images.
    pub report: CalibrationReport,
    /// Largest `‖x_adv − x‖∞` observed over the data set (≤ ε).
    pub max_linf: f64,
    /// Smallest and largest pixel of the attacked images (within `[0, 1]`).
    pub pixel_range: (f64, f64),
}

fn check_channels(expected: Option<usize>, data: &ImageDataset) -> Result<()> {
    match expected {
        Some(expected) if data.image_shape()[0] != expected => Err(Error::ChannelMismatch {
            expected,
            found: data.image_shape()[0],
        }),
        _ => Ok(()),
    }
}

fn check_classes(k: usize, data: &ImageDataset) -> Result<()> {
    if data.num_classes() > k {
        return Err(Error::param(
            "data",
            format!(
                "data set has {} classes, model only {k}",
                data.num_classes()
            ),
        ));
    }
    Ok(())
}

impl From<Evaluation> for AttackEvaluation {
    /// Drops the intervals.
    fn from(e: Evaluation) -> Self {
        Self {
            attack: e.attack,
            epsilon: e.epsilon,
            report: e.report,
            max_linf: e.max_linf,
            pixel_range: e.pixel_range,
        }
    }
}

/// How an evaluation runs: batch size, calibration bins, and optional bootstrap intervals.
///
/// ```
/// use advcal::eval::EvaluationConfig;
/// use advcal::metrics::BootstrapConfig;
/// let config = EvaluationConfig::new()
///     .with_batch_size(256)
///     .with_bootstrap(Some(BootstrapConfig::new().with_resamples(1000).with_seed(7)));
/// assert_eq!(config.bins, 15);
/// ```
#[derive(Config, Debug)]
pub struct EvaluationConfig {
    /// Images per batch.
    #[config(default = 128)]
    pub batch_size: usize,
    /// Equal-width confidence bins of the ECE and the reliability diagram.
    #[config(default = 15)]
    pub bins: usize,
    /// Percentile-bootstrap intervals over images for ACC, CONF, ECE and MCS (`None`: none).
    /// Its `bins` is replaced by [`bins`](Self::bins), so point estimates and intervals agree.
    #[config(default = "None")]
    pub bootstrap: Option<BootstrapConfig>,
}

/// Calibration on a data set, clean or under one attack, with optional intervals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Attack name (`"clean"` for unattacked images).
    pub attack: String,
    /// Radius ε (0 for clean images).
    pub epsilon: f32,
    /// Calibration of the model on the (attacked) images.
    pub report: CalibrationReport,
    /// Bootstrap intervals (at `ci95.level`, 95 % by default) when
    /// [`EvaluationConfig::bootstrap`] is set.
    pub ci95: Option<ConfidenceIntervals>,
    /// Largest `‖x_adv − x‖∞` over the data set (0 for clean images).
    pub max_linf: f64,
    /// Smallest and largest pixel of the evaluated images.
    pub pixel_range: (f64, f64),
}

/// Accumulates a report and, when intervals are asked for, the per-image samples.
struct Sink {
    acc: CalibrationAccumulator,
    samples: Option<(CalibrationSamples, BootstrapConfig)>,
}

impl Sink {
    fn new(num_classes: usize, config: &EvaluationConfig) -> Result<Self> {
        Ok(Self {
            acc: CalibrationAccumulator::new(num_classes, config.bins)?,
            samples: config
                .bootstrap
                .clone()
                .map(|b| (CalibrationSamples::new(), b.with_bins(config.bins))),
        })
    }

    fn add<B: Backend>(&mut self, logits: Tensor<B, 2>, labels: Tensor<B, 1, Int>) -> Result<()> {
        if let Some((samples, _)) = &mut self.samples {
            samples.add_batch(logits.clone(), labels.clone())?;
        }
        self.acc.add_batch(logits, labels)
    }

    fn finish(
        self,
        attack: String,
        epsilon: f32,
        max_linf: f64,
        pixel_range: (f64, f64),
    ) -> Result<Evaluation> {
        let ci95 = match &self.samples {
            Some((samples, config)) => Some(samples.bootstrap(config)?),
            None => None,
        };
        Ok(Evaluation {
            attack,
            epsilon,
            report: self.acc.report()?,
            ci95,
            max_linf,
            pixel_range,
        })
    }
}

/// Calibration of `model` (inference behaviour, no gradient) on `data`, as configured.
///
/// `model` lives on an inference backend: pass `model.valid()` for a model on an autodiff
/// backend.
///
/// ```
/// use advcal::data::ImageDataset;
/// use advcal::eval::{evaluate, EvaluationConfig};
/// use advcal::metrics::BootstrapConfig;
/// use advcal::model::SmallCnnConfig;
/// use burn::backend::NdArray;
///
/// let device = Default::default();
/// let data = ImageDataset::new(vec![128u8; 4 * 3 * 32 * 32], vec![0, 1, 2, 3], [3, 32, 32], 10).unwrap();
/// let model = SmallCnnConfig::new().with_width(4).init::<NdArray>(&device);
/// let config = EvaluationConfig::new().with_bootstrap(Some(BootstrapConfig::new().with_resamples(50)));
/// let e = evaluate(&model, &data, &config, &device).unwrap();
/// let ci = e.ci95.unwrap();
/// assert!(ci.accuracy[0] <= e.report.accuracy && e.report.accuracy <= ci.accuracy[1]);
/// ```
///
/// # Errors
/// [`Error::AutodiffModelForInference`] for a model on an autodiff backend;
/// [`Error::ChannelMismatch`] when the images do not have the model's input channels;
/// [`Error::InvalidBins`], [`Error::InvalidParameter`] (more classes in the data than in the
/// model, zero batch size), [`Error::NoSamples`] for an empty data set,
/// [`Error::ClassCountMismatch`] when the model's logits are not `[N, num_classes()]`, and the
/// bootstrap's configuration errors.
pub fn evaluate<B: Backend, M: Classifier<B>>(
    model: &M,
    data: &ImageDataset,
    config: &EvaluationConfig,
    device: &B::Device,
) -> Result<Evaluation> {
    if B::ad_enabled(device) {
        return Err(Error::AutodiffModelForInference {
            function: "evaluate",
        });
    }
    check_classes(model.num_classes(), data)?;
    check_channels(model.input_channels(), data)?;
    let mut sink = Sink::new(model.num_classes(), config)?;
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for batch in data.batches(config.batch_size, None, None)? {
        let (x, y) = batch.to_tensors::<B>(device);
        lo = lo.min(x.clone().min().into_scalar().elem::<f64>());
        hi = hi.max(x.clone().max().into_scalar().elem::<f64>());
        let logits = model.forward_mode(x, Mode::Eval);
        let [rows, k] = logits.dims();
        if rows != y.dims()[0] || k != model.num_classes() {
            return Err(Error::ClassCountMismatch {
                declared: model.num_classes(),
                logits: vec![rows, k],
            });
        }
        sink.add(logits, y)?;
    }
    sink.finish("clean".into(), 0.0, 0.0, (lo, hi))
}

/// Calibration of `model` on `data` attacked by `attack` under `budget` (radius and seed), as
/// configured. Pass `attack.budget()` for the attack's own ε and seed.
///
/// Batch `i` is attacked with the seed `derive_seed(budget.seed, i)`, so results do not depend
/// on how many other evaluations ran before.
///
/// ```
/// use advcal::attack::{Attack, Budget, Iaa};
/// use advcal::data::ImageDataset;
/// use advcal::eval::{evaluate_under, EvaluationConfig};
/// use advcal::model::SmallCnnConfig;
/// use burn::backend::{Autodiff, NdArray};
///
/// type B = Autodiff<NdArray>;
/// let device = Default::default();
/// let data = ImageDataset::new(vec![128u8; 4 * 3 * 32 * 32], vec![0, 1, 2, 3], [3, 32, 32], 10).unwrap();
/// let model = SmallCnnConfig::new().with_width(4).init::<B>(&device);
/// let config = EvaluationConfig::new().with_batch_size(2);
/// let e = evaluate_under(&Iaa::default(), &model, &data, Budget::new(0.03), &config, &device).unwrap();
/// assert_eq!((e.attack.as_str(), e.report.n), ("iaa", 4));
/// assert!(e.max_linf <= 0.03 + 1e-6);
/// ```
///
/// # Errors
/// [`Error::InvalidBins`]; [`Error::InvalidParameter`] (more classes in the data than in the
/// model, zero batch size); [`Error::ChannelMismatch`]; [`Error::NoSamples`] for an empty data
/// set; the bootstrap's configuration errors; and the attack's errors (see
/// [`Attack::perturb_under`]).
pub fn evaluate_under<B, M, A>(
    attack: &A,
    model: &M,
    data: &ImageDataset,
    budget: Budget,
    config: &EvaluationConfig,
    device: &B::Device,
) -> Result<Evaluation>
where
    B: AutodiffBackend,
    M: Classifier<B>,
    A: Attack<B, M> + ?Sized,
{
    check_classes(model.num_classes(), data)?;
    check_channels(model.input_channels(), data)?;
    let mut sink = Sink::new(model.num_classes(), config)?;
    let (mut max_linf, mut lo, mut hi) = (0.0f64, f64::INFINITY, f64::NEG_INFINITY);
    for (i, batch) in data.batches(config.batch_size, None, None)?.enumerate() {
        let (x, y) = batch.to_tensors::<B::InnerBackend>(device);
        let batch_budget = budget.with_seed(derive_seed(budget.seed, i as u64));
        let out = attack.perturb_under(model, x, y.clone(), batch_budget)?;
        max_linf = max_linf.max(out.perturbation.abs().max().into_scalar().elem::<f64>());
        lo = lo.min(out.adversarial.clone().min().into_scalar().elem::<f64>());
        hi = hi.max(out.adversarial.max().into_scalar().elem::<f64>());
        sink.add(out.logits, y)?;
    }
    sink.finish(attack.name(), budget.epsilon, max_linf, (lo, hi))
}
