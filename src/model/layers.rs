//! Small building blocks shared by the models.

use super::Mode;
use burn::module::{Param, ParamId};
use burn::nn::BatchNorm;
use burn::nn::conv::Conv2d;
use burn::prelude::*;

/// Per-channel mean of the CIFAR-10 training set on the `[0, 1]` scale (the usual constants of
/// CIFAR-10 training code).
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

/// Per-channel mean of ImageNet on the `[0, 1]` scale, as torchvision's pretrained models
/// expect (`torchvision.transforms._presets.ImageClassification`).
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// Per-channel standard deviation of ImageNet, as torchvision's pretrained models expect.
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

impl NormalizationConfig {
    /// The ImageNet statistics of torchvision's pretrained models ([`IMAGENET_MEAN`],
    /// [`IMAGENET_STD`]).
    ///
    /// ```
    /// use advcal::model::{NormalizationConfig, IMAGENET_STD};
    /// assert_eq!(NormalizationConfig::imagenet().std, IMAGENET_STD.to_vec());
    /// ```
    pub fn imagenet() -> Self {
        Self::new()
            .with_mean(IMAGENET_MEAN.to_vec())
            .with_std(IMAGENET_STD.to_vec())
    }

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
///
/// In [`Mode::Train`] it is Burn's `BatchNorm::forward` (batch statistics on an autodiff
/// backend, running statistics updated), except on `Autodiff<LibTorch<f32>>` with the `tch`
/// feature, where it runs as one fused node with PyTorch's kernels and the same results to
/// float tolerance (see [`fused`](super::fused)). Calling it from your own model's forward is how
/// a user model opts in.
///
/// ```
/// use advcal::model::{Mode, batch_norm};
/// use burn::backend::{Autodiff, NdArray};
/// use burn::nn::BatchNormConfig;
/// use burn::prelude::*;
///
/// type B = Autodiff<NdArray>;
/// let device = Default::default();
/// let bn = BatchNormConfig::new(2).init::<B>(&device);
/// let x = Tensor::<B, 4>::from_floats([[[[1.0]], [[4.0]]], [[[3.0]], [[8.0]]]], &device);
/// // Train mode normalises with the batch statistics: each channel becomes (-1, 1).
/// let y = batch_norm(&bn, x, Mode::Train);
/// let expected = Tensor::<B, 4>::from_floats([[[[-1.0]], [[-1.0]]], [[[1.0]], [[1.0]]]], &device);
/// y.into_data().assert_approx_eq::<f32>(&expected.into_data(), burn::tensor::Tolerance::absolute(1e-3));
/// ```
pub fn batch_norm<B: Backend, const D: usize>(
    bn: &BatchNorm<B>,
    x: Tensor<B, D>,
    mode: Mode,
) -> Tensor<B, D> {
    match mode {
        Mode::Train => match super::fused::batch_norm_train(bn, x) {
            Ok(y) => y,
            Err(x) => bn.forward(x),
        },
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

/// `conv.forward(x)`, with a fused backward where the backend has one.
///
/// On `Autodiff<LibTorch<f32>>` with the `tch` feature, when the weight is tracked (training),
/// the convolution's input, weight and bias gradients come from one call of PyTorch's
/// `aten::convolution_backward` instead of Burn's generic weight gradient (a swapped
/// convolution); see [`fused`](super::fused). Everywhere else, and for `Same` or asymmetric
/// padding, it is exactly `conv.forward(x)`. The crate's models use it for every convolution;
/// your own model opts in by calling it instead of `conv.forward`.
///
/// ```
/// use advcal::model::conv2d;
/// use burn::backend::NdArray;
/// use burn::nn::conv::Conv2dConfig;
/// use burn::prelude::*;
///
/// let device = Default::default();
/// let conv = Conv2dConfig::new([3, 4], [3, 3]).init::<NdArray>(&device);
/// let x = Tensor::<NdArray, 4>::ones([2, 3, 8, 8], &device);
/// assert_eq!(conv2d(&conv, x.clone()).into_data(), conv.forward(x).into_data());
/// ```
pub fn conv2d<B: Backend>(conv: &Conv2d<B>, x: Tensor<B, 4>) -> Tensor<B, 4> {
    match super::fused::conv2d(conv, x) {
        Ok(y) => y,
        Err(x) => conv.forward(x),
    }
}

/// `burn::tensor::activation::relu(x)`, with a one-kernel backward where the backend has one
/// (`aten::threshold_backward` on `Autodiff<LibTorch<f32>>` with the `tch` feature; the values
/// are identical). The crate's models use it; see [`fused`](super::fused).
///
/// ```
/// use advcal::model::relu;
/// use burn::backend::NdArray;
/// use burn::prelude::*;
///
/// let x = Tensor::<NdArray, 1>::from_floats([-1.0, 0.0, 2.0], &Default::default());
/// assert_eq!(relu(x).into_data().to_vec::<f32>().unwrap(), vec![0.0, 0.0, 2.0]);
/// ```
pub fn relu<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    match super::fused::relu(x) {
        Ok(y) => y,
        Err(x) => burn::tensor::activation::relu(x),
    }
}

/// A convolution with the inference-mode BatchNorm that follows it folded in: per output
/// channel `c`, with `s_c = γ_c / √(σ²_c + ε)` (running variance `σ²`, running mean `μ`),
///
/// * `W'[c, …] = W[c, …] · s_c`
/// * `b'_c = β_c + (b_c − μ_c) · s_c` (`b_c = 0` for a conv without bias),
///
/// so `fold_conv_bn(conv, bn).forward(x)` equals
/// [`batch_norm`]`(bn, conv.forward(x), Mode::Eval)` up to float rounding, for any stride,
/// padding, dilation and `groups` (the weight's first axis is always the output channel, also
/// for depthwise convolutions). The result always has a bias.
///
/// The returned conv owns **new** tensors (fresh parameter ids, detached, not requiring
/// gradients): neither `conv` nor `bn` is modified, and nothing done to the result reaches
/// them. Running statistics are read with `value_sync`, like [`batch_norm`] does.
///
/// This is the building block for [`Classifier::fold_batch_norm`](super::Classifier::fold_batch_norm).
///
/// # Panics
/// If `bn` does not have one feature per output channel of `conv`.
///
/// ```
/// use advcal::model::{batch_norm, fold_conv_bn, Mode};
/// use burn::backend::NdArray;
/// use burn::nn::conv::Conv2dConfig;
/// use burn::nn::BatchNormConfig;
/// use burn::prelude::*;
///
/// let d = Default::default();
/// let conv = Conv2dConfig::new([2, 4], [3, 3]).init::<NdArray>(&d);
/// let bn = BatchNormConfig::new(4).init::<NdArray>(&d);
/// let x = Tensor::<NdArray, 4>::ones([1, 2, 5, 5], &d);
/// let reference = batch_norm(&bn, conv.forward(x.clone()), Mode::Eval);
/// let folded = fold_conv_bn(&conv, &bn).forward(x);
/// let diff: f32 = (folded - reference).abs().max().into_scalar();
/// assert!(diff < 1e-5);
/// ```
pub fn fold_conv_bn<B: Backend>(conv: &Conv2d<B>, bn: &BatchNorm<B>) -> Conv2d<B> {
    let weight = conv.weight.val().detach();
    let [cout, ..] = weight.dims();
    let features = bn.gamma.dims()[0];
    assert_eq!(
        features, cout,
        "fold_conv_bn: the BatchNorm has {features} features, the conv {cout} output channels"
    );
    // Same expression (and rounding) as `batch_norm` in `Mode::Eval`.
    let inv_std = bn
        .running_var
        .value_sync()
        .detach()
        .add_scalar(bn.epsilon)
        .sqrt()
        .recip();
    let scale = bn.gamma.val().detach() * inv_std;
    let mean = bn.running_mean.value_sync().detach();
    let centred = match &conv.bias {
        Some(bias) => bias.val().detach() - mean,
        None => mean.neg(),
    };
    let bias = bn.beta.val().detach() + centred * scale.clone();
    let weight = weight * scale.reshape([cout, 1, 1, 1]);
    Conv2d {
        weight: Param::initialized(ParamId::new(), weight.set_require_grad(false)),
        bias: Some(Param::initialized(
            ParamId::new(),
            bias.set_require_grad(false),
        )),
        stride: conv.stride,
        kernel_size: conv.kernel_size,
        dilation: conv.dilation,
        groups: conv.groups,
        padding: conv.padding.clone(),
    }
}

/// [`batch_norm`] when the layer is there, the identity when it has been folded into the
/// preceding convolution (see [`fold_conv_bn`]).
pub(crate) fn maybe_batch_norm<B: Backend>(
    bn: &Option<BatchNorm<B>>,
    x: Tensor<B, 4>,
    mode: Mode,
) -> Tensor<B, 4> {
    match bn {
        Some(bn) => batch_norm(bn, x, mode),
        None => x,
    }
}

/// A conv + optional BatchNorm pair with the BatchNorm folded in (an already folded pair is
/// cloned as it is).
pub(crate) fn fold_pair<B: Backend>(
    conv: &Conv2d<B>,
    bn: &Option<BatchNorm<B>>,
) -> (Conv2d<B>, Option<BatchNorm<B>>) {
    match bn {
        Some(bn) => (fold_conv_bn(conv, bn), None),
        None => (conv.clone(), None),
    }
}

/// Panics in debug builds when a folded model is run in [`Mode::Train`] (it has no BatchNorm
/// left to train; release builds evaluate it as in [`Mode::Eval`]).
pub(crate) fn debug_check_folded_mode(folded: bool, mode: Mode) {
    debug_assert!(
        !(folded && mode == Mode::Train),
        "a model with BatchNorm folded into its convolutions (Classifier::fold_batch_norm) is \
         for inference only; Mode::Train evaluates it as Mode::Eval"
    );
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
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) otherwise (or for a
    /// non-finite mean).
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
