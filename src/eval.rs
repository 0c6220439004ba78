//! Evaluating a model's calibration on a data set, clean or under an attack.

use crate::attack::Attack;
use crate::data::ImageDataset;
use crate::error::{Error, Result};
use crate::metrics::{CalibrationAccumulator, CalibrationReport};
use crate::model::{Classifier, Mode};
use crate::rng::derive_seed;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::ElementConversion;
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

/// Calibration of `model` (inference mode, no gradient) on `data`.
///
/// `model` lives on an inference backend: pass `model.valid()` for a model on an autodiff
/// backend. (There, Burn's stock `BatchNorm` and `Dropout` always run their training branch, and
/// a generic `M` cannot be moved off the autodiff backend here.)
///
/// # Errors
/// [`Error::AutodiffModelForInference`] for a model on an autodiff backend;
/// [`Error::ChannelMismatch`] when the images do not have the model's input channels;
/// [`Error::InvalidBins`], [`Error::InvalidParameter`] (more classes in the data than in the
/// model, zero batch size), [`Error::NoSamples`] for an empty data set, and
/// [`Error::ClassCountMismatch`] when the model's logits are not `[N, num_classes()]`.
///
/// ```
/// use advcal::data::ImageDataset;
/// use advcal::eval::evaluate_clean;
/// use advcal::model::SmallCnnConfig;
/// use burn::backend::NdArray;
///
/// let device = Default::default();
/// let data = ImageDataset::new(vec![128u8; 4 * 3 * 32 * 32], vec![0, 1, 2, 3], [3, 32, 32], 10).unwrap();
/// let model = SmallCnnConfig::new().with_width(4).init::<NdArray>(&device);
/// let report = evaluate_clean(&model, &data, 2, 15, &device).unwrap();
/// assert_eq!(report.n, 4);
/// ```
pub fn evaluate_clean<B: Backend, M: Classifier<B>>(
    model: &M,
    data: &ImageDataset,
    batch_size: usize,
    bins: usize,
    device: &B::Device,
) -> Result<CalibrationReport> {
    if B::ad_enabled(device) {
        return Err(Error::AutodiffModelForInference {
            function: "evaluate_clean",
        });
    }
    let mut acc = CalibrationAccumulator::new(model.num_classes(), bins)?;
    check_classes(model.num_classes(), data)?;
    check_channels(model.input_channels(), data)?;
    for batch in data.batches(batch_size, None, None)? {
        let (x, y) = batch.to_tensors::<B>(device);
        let logits = model.forward_mode(x, Mode::Eval);
        let [rows, k] = logits.dims();
        if rows != y.dims()[0] || k != model.num_classes() {
            return Err(Error::ClassCountMismatch {
                declared: model.num_classes(),
                logits: vec![rows, k],
            });
        }
        acc.add_batch(logits, y)?;
    }
    acc.report()
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

/// Calibration of `model` on `data` attacked by `attack` at radius `epsilon`.
///
/// Batch `i` uses the seed `derive_seed(attack.seed(), i)`, so results do not depend on how
/// many other evaluations ran before.
///
/// # Errors
///
/// [`Error::InvalidBins`]; [`Error::InvalidParameter`] (more classes in the data than in the
/// model, zero batch size); [`Error::NoSamples`] for an empty data set; and the attack's errors
/// (see [`Attack::perturb_with`]).
pub fn evaluate_attack<B, M, A>(
    attack: &A,
    model: &M,
    data: &ImageDataset,
    epsilon: f32,
    batch_size: usize,
    bins: usize,
    device: &B::Device,
) -> Result<AttackEvaluation>
where
    B: AutodiffBackend,
    M: Classifier<B>,
    A: Attack<B, M> + ?Sized,
{
    check_classes(model.num_classes(), data)?;
    check_channels(model.input_channels(), data)?;
    let mut acc = CalibrationAccumulator::new(model.num_classes(), bins)?;
    let (mut max_linf, mut lo, mut hi) = (0.0f64, f64::INFINITY, f64::NEG_INFINITY);
    for (i, batch) in data.batches(batch_size, None, None)?.enumerate() {
        let (x, y) = batch.to_tensors::<B::InnerBackend>(device);
        let out = attack.perturb_with(
            model,
            x,
            y.clone(),
            epsilon,
            derive_seed(attack.seed(), i as u64),
        )?;
        max_linf = max_linf.max(out.perturbation.abs().max().into_scalar().elem::<f64>());
        lo = lo.min(out.adversarial.clone().min().into_scalar().elem::<f64>());
        hi = hi.max(out.adversarial.max().into_scalar().elem::<f64>());
        acc.add_batch(out.logits, y)?;
    }
    Ok(AttackEvaluation {
        attack: attack.name(),
        epsilon,
        report: acc.report()?,
        max_linf,
        pixel_range: (lo, hi),
    })
}
