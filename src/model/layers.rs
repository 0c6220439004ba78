//! Small building blocks shared by the models.

use super::Mode;
use burn::nn::BatchNorm;
use burn::prelude::*;

/// Per-channel mean of the CIFAR-10 training set (the constants the spec fixes).
pub const CIFAR10_MEAN: [f32; 3] = [0.4914, 0.4822, 0.4465];
/// Per-channel standard deviation of the CIFAR-10 training set.
pub const CIFAR10_STD: [f32; 3] = [0.2470, 0.2435, 0.2616];

/// Per-channel mean of Tiny ImageNet-200's training images on the `[0, 1]` scale, measured on
/// the 20,000-image training subset used here (100 per class; the full 100,000-image set is
/// commonly quoted as 0.4802, 0.4481, 0.3975).
pub const TINY_IMAGENET_MEAN: [f32; 3] = [0.4823, 0.4484, 0.3998];
/// Per-channel standard deviation of Tiny ImageNet-200's training images (same subset; commonly
/// quoted for the full set: 0.2770, 0.2691, 0.2821).
pub const TINY_IMAGENET_STD: [f32; 3] = [0.2764, 0.2687, 0.2817];

impl NormalizationConfig {
    /// The Tiny ImageNet-200 statistics ([`TINY_IMAGENET_MEAN`], [`TINY_IMAGENET_STD`]).
    ///
    /// ```
    /// use advcal::model::{NormalizationConfig, TINY_IMAGENET_MEAN};
    /// assert_eq!(NormalizationConfig::tiny_imagenet().mean, TINY_IMAGENET_MEAN.to_vec());
    /// ```
    pub fn tiny_imagenet() -> Self {
        Self::new()
            .with_mean(TINY_IMAGENET_MEAN.to_vec())
            .with_std(TINY_IMAGENET_STD.to_vec())
    }
}

/// BatchNorm with an explicit mode.
///
/// In [`Mode::Eval`] it applies the inference formula with the layer's running statistics
/// directly, so it differentiates w.r.t. the input on an autodiff backend **without** touching
/// the running statistics (Burn's own `BatchNorm::forward` would use batch statistics and update
/// them whenever the backend is an autodiff one).
pub fn batch_norm<B: Backend, const D: usize>(
    bn: &BatchNorm<B>,
    x: Tensor<B, D>,
    mode: Mode,
) -> Tensor<B, D> {
    match mode {
        Mode::Train => bn.forward(x),
        Mode::Eval => {
            let mut shape = [1usize; D];
            shape[1] = x.dims()[1];
            // `value_sync` (not `value`): Burn buffers the last running-statistic update per
            // thread, so `value()` can lag one training step behind.
            let mean = bn.running_mean.value_sync().reshape(shape);
            let inv_std = bn
                .running_var
                .value_sync()
                .add_scalar(bn.epsilon)
                .sqrt()
                .recip()
                .reshape(shape);
            let scale = bn.gamma.val().reshape(shape) * inv_std;
            (x - mean) * scale + bn.beta.val().reshape(shape)
        }
    }
}

/// Configuration of [`Normalization`].
#[derive(Config, Debug, PartialEq)]
pub struct NormalizationConfig {
    /// Per-channel mean subtracted from the `[0, 1]` input.
    #[config(default = "CIFAR10_MEAN.to_vec()")]
    pub mean: Vec<f32>,
    /// Per-channel standard deviation the centred input is divided by.
    #[config(default = "CIFAR10_STD.to_vec()")]
    pub std: Vec<f32>,
}

impl NormalizationConfig {
    /// Builds the layer on `device`.
    ///
    /// # Panics
    /// If `mean` and `std` differ in length or a standard deviation is not positive; model
    /// configs validate this before calling (see [`NormalizationConfig::validate`]).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Normalization<B> {
        self.validate().expect("invalid normalization config");
        let c = self.mean.len();
        let mean = Tensor::<B, 1>::from_floats(self.mean.as_slice(), device).reshape([1, c, 1, 1]);
        let inv_std = Tensor::<B, 1>::from_floats(self.std.as_slice(), device)
            .recip()
            .reshape([1, c, 1, 1]);
        Normalization { mean, inv_std }
    }

    /// Checks that mean and std have the same non-zero length and every std is positive.
    pub fn validate(&self) -> crate::Result<()> {
        if self.mean.is_empty() || self.mean.len() != self.std.len() {
            return Err(crate::Error::param(
                "normalization",
                format!(
                    "mean ({}) and std ({}) must have the same non-zero length",
                    self.mean.len(),
                    self.std.len()
                ),
            ));
        }
        if self.std.iter().any(|s| !(s.is_finite() && *s > 0.0))
            || self.mean.iter().any(|m| !m.is_finite())
        {
            return Err(crate::Error::param(
                "normalization",
                "std must be > 0 and all values finite",
            ));
        }
        Ok(())
    }
}

/// `(x − mean) / std` per channel, as the first layer of every model.
///
/// The constants are not parameters (they are never trained); the config that created them is
/// stored with checkpoints.
#[derive(Module, Debug)]
pub struct Normalization<B: Backend> {
    mean: Tensor<B, 4>,
    inv_std: Tensor<B, 4>,
}

impl<B: Backend> Normalization<B> {
    /// Number of channels `C` the layer normalises.
    pub fn channels(&self) -> usize {
        self.mean.dims()[1]
    }

    /// Normalises a `[N, C, H, W]` batch in `[0, 1]`.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        (x - self.mean.clone()) * self.inv_std.clone()
    }
}
