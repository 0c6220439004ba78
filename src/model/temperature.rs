//! Temperature scaling as a classifier (Guo et al., "On Calibration of Modern Neural Networks",
//! ICML 2017, <https://arxiv.org/abs/1706.04599>), so that a calibrated model can be evaluated
//! and attacked like any other.

use super::{Classifier, Mode};
use crate::data::ImageDataset;
use crate::error::{Error, Result};
use crate::metrics::fit_temperature;
use burn::module::{AutodiffModule, ModuleDisplay};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use core::marker::PhantomData;

/// `model` with its logits divided by a fixed temperature `T`:
///
/// ```text
/// p(x) = softmax(z(x) / T)        T > 1 softens (less confident), T < 1 sharpens
/// ```
///
/// Predictions (and so accuracy) are those of `model`; confidences change. Attacks see the
/// scaled logits, so an IAA against a temperature-scaled model lowers the *scaled* confidence,
/// as it would for a deployed, calibrated model. `T` is not a parameter: training a
/// `TemperatureScaled` trains `model` only. `T` is a module constant (kept by `valid`,
/// `from_inner`, `clone` and folding) but not part of the record: a record of a
/// `TemperatureScaled` is `model`'s record nested under `model`, loading one keeps the `T` the
/// instance was built with, and a checkpoint of it loses `T`. Save the model (a plain
/// checkpoint) and `T` (e.g. in your run's JSON) instead, and wrap again after loading. Fit `T`
/// on images held out from training with [`TemperatureScaled::fit`], or set it with
/// [`TemperatureScaled::new`].
///
/// ```
/// use advcal::model::{Classifier, SmallCnnConfig, TemperatureScaled};
/// use burn::backend::NdArray;
/// use burn::prelude::*;
///
/// let device = Default::default();
/// let model = SmallCnnConfig::new().with_width(4).init::<NdArray>(&device);
/// let x = Tensor::<NdArray, 4>::ones([2, 3, 32, 32], &device);
/// let z = model.logits(x.clone());
/// let scaled = TemperatureScaled::new(model, 2.0).unwrap();
/// let diff: f32 = (scaled.logits(x) - z / 2.0).abs().max().into_scalar();
/// assert!(diff < 1e-6);
/// assert!(TemperatureScaled::new(scaled.model, 0.0).is_err());
/// ```
#[derive(Module, Debug)]
pub struct TemperatureScaled<B: Backend, M: Module<B>> {
    /// The model whose logits are scaled.
    pub model: M,
    /// The temperature `T` (a constant of the module, not a parameter).
    temperature: f64,
    backend: PhantomData<B>,
}

impl<B: Backend, M: Module<B>> TemperatureScaled<B, M> {
    /// `model` at temperature `temperature`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `temperature` unless it is finite and positive.
    pub fn new(model: M, temperature: f64) -> Result<Self> {
        if !(temperature.is_finite() && temperature > 0.0) {
            return Err(Error::param(
                "temperature",
                format!("must be finite and > 0, got {temperature}"),
            ));
        }
        Ok(Self {
            model,
            temperature,
            backend: PhantomData,
        })
    }

    /// The temperature `T`.
    pub fn temperature(&self) -> f64 {
        self.temperature
    }

    /// `model` at the temperature minimising the negative log-likelihood of its inference-mode
    /// logits on `held_out` (golden-section search over `T ∈ [0.05, 20]`, see
    /// [`fit_temperature`]). `held_out` must not overlap the images the model was trained on
    /// nor those it is evaluated on; it is read in batches of `batch_size`, without gradients.
    ///
    /// ```
    /// use advcal::data::{bundled_cifar10_sample, Split};
    /// use advcal::model::{SmallCnnConfig, TemperatureScaled};
    /// use burn::backend::{Autodiff, NdArray};
    ///
    /// let device = Default::default();
    /// let model = SmallCnnConfig::new().with_width(4).init::<Autodiff<NdArray>>(&device);
    /// let held_out = bundled_cifar10_sample(Split::Test).unwrap().take(32);
    /// let scaled = TemperatureScaled::fit(model, &held_out, 16, &device).unwrap();
    /// assert!(scaled.temperature() > 0.0);
    /// ```
    ///
    /// # Errors
    /// [`Error::NoSamples`] for empty `held_out`, [`Error::InvalidParameter`] for a zero
    /// `batch_size` or more classes in `held_out` than the model has, and
    /// [`fit_temperature`]'s errors (a non-finite logit).
    pub fn fit(
        model: M,
        held_out: &ImageDataset,
        batch_size: usize,
        device: &B::Device,
    ) -> Result<Self>
    where
        B: AutodiffBackend,
        M: AutodiffModule<B> + Classifier<B>,
        M::InnerModule: Classifier<B::InnerBackend>,
    {
        let k = model.num_classes();
        if held_out.num_classes() > k {
            return Err(Error::param(
                "held_out",
                format!("{} classes, the model has {k}", held_out.num_classes()),
            ));
        }
        let inference = model.valid();
        let (mut logits, mut labels) = (Vec::new(), Vec::new());
        for batch in held_out.batches(batch_size, None, None)? {
            let (x, y) = batch.to_tensors::<B::InnerBackend>(device);
            let z = inference.forward_mode(x, Mode::Eval);
            logits.extend(
                z.into_data()
                    .convert::<f32>()
                    .into_vec::<f32>()
                    .map_err(Error::TensorConversion)?,
            );
            labels.extend(
                y.into_data()
                    .convert::<i64>()
                    .into_vec::<i64>()
                    .map_err(Error::TensorConversion)?
                    .into_iter()
                    .map(|l| l as usize),
            );
        }
        let t = fit_temperature(&logits, k, &labels)?;
        Self::new(model, t)
    }
}

impl<B: Backend, M: Classifier<B> + ModuleDisplay> Classifier<B> for TemperatureScaled<B, M> {
    fn forward_mode(&self, images: Tensor<B, 4>, mode: Mode) -> Tensor<B, 2> {
        self.model.forward_mode(images, mode) / self.temperature
    }

    fn num_classes(&self) -> usize {
        self.model.num_classes()
    }

    fn input_channels(&self) -> Option<usize> {
        self.model.input_channels()
    }

    fn fold_batch_norm(&self) -> Option<Self> {
        Some(Self {
            model: self.model.fold_batch_norm()?,
            temperature: self.temperature,
            backend: PhantomData,
        })
    }
}
