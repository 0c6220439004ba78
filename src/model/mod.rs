//! Classifiers for CIFAR-style and ImageNet images, and the [`Classifier`] trait attacks are written against.
//!
//! Every model takes images on the **[0, 1] pixel scale**: per-channel normalisation is a layer
//! inside the model ([`Normalization`]), so attacks, noise and clamping never need to know the
//! data set statistics.
//!
//! Burn 0.21 chooses BatchNorm's behaviour from the backend type (batch statistics and running
//! statistic updates on any `Autodiff` backend). Our models instead take an explicit [`Mode`]:
//! [`Mode::Eval`] uses the running statistics and never updates them, even on an autodiff
//! backend, so an attack can differentiate the inference-mode network w.r.t. its input.

pub mod fused;
mod layers;
mod mobilenet;
mod preact_resnet;
mod registry;
mod resnet;
mod resnet50;
mod small_cnn;
mod temperature;
mod vgg;
mod vgg19_bn;
mod wide_resnet;

pub use layers::{
    CIFAR10_MEAN, CIFAR10_STD, IMAGENET_MEAN, IMAGENET_STD, Normalization, NormalizationConfig,
    TINY_IMAGENET_MEAN, TINY_IMAGENET_STD, batch_norm, conv2d, fold_conv_bn, relu,
};
#[cfg(feature = "interop")]
pub(crate) use mobilenet::MOBILENET_V2_CFG;
pub use mobilenet::{InvertedResidual, MobileNetV2, MobileNetV2Config};
pub use preact_resnet::{PreActBlock, PreActResNet18, PreActResNet18Config};
pub use registry::{AnyModel, AnyModelConfig, Architecture};
pub use resnet::{BasicBlock, ResNet18, ResNet18Config};
pub use resnet50::{Bottleneck, ResNet50, ResNet50Config};
pub use small_cnn::{SmallCnn, SmallCnnConfig};
pub use temperature::TemperatureScaled;
pub use vgg::{Vgg19, Vgg19Config};
#[cfg(feature = "interop")]
pub(crate) use vgg19_bn::VGG19_PLAN;
pub use vgg19_bn::{Vgg19Bn, Vgg19BnConfig};
pub use wide_resnet::{Activation, WideBlock, WideGroup, WideResNet, WideResNetConfig};

use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// Which behaviour normalisation layers (BatchNorm) use in a forward pass.
///
/// ```
/// use advcal::model::Mode;
/// assert_eq!(Mode::default(), Mode::Eval);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Mode {
    /// Inference behaviour: BatchNorm uses its running statistics and never updates them.
    /// The output of one sample does not depend on the other samples of the batch.
    #[default]
    Eval,
    /// Training behaviour: BatchNorm normalises with batch statistics and, on an autodiff
    /// backend, updates its running statistics.
    Train,
}

/// A classifier mapping `[N, C, H, W]` images in `[0, 1]` to `[N, K]` logits.
///
/// Implement it for your own [`Module`] to use it with every attack, metric and training
/// strategy of the crate.
///
/// # The one rule: route BatchNorm and Dropout through `mode`
///
/// Burn's stock `BatchNorm::forward` and `Dropout::forward` pick their behaviour from the
/// backend type: on every `Autodiff` backend — where attacks differentiate — they run their
/// training branch (batch statistics and running-statistic updates; random masks). Call
/// [`batch_norm`]`(&self.bn, x, mode)` instead of `self.bn.forward(x)`, and apply dropout only
/// when `mode == Mode::Train`.
///
/// What the crate guarantees for any implementation, even one that breaks the rule:
/// * attacks, evaluations and strategies' inner attacks never modify the model: they work on a
///   decoupled, frozen copy ([`frozen_copy`](crate::attack::frozen_copy));
/// * an inference-mode attack first probes that one image's logits do not depend on the rest of
///   the batch, and otherwise returns
///   [`Error::TrainingBehaviourInEval`](crate::Error::TrainingBehaviourInEval)
///   ([`check_inference_behaviour`](crate::attack::check_inference_behaviour));
/// * a batch with the wrong channel count
///   ([`input_channels`](Classifier::input_channels)) or logits without
///   [`num_classes`](Classifier::num_classes) columns are typed errors.
///
/// ```
/// use advcal::model::{Classifier, Mode, SmallCnnConfig};
/// use burn::backend::NdArray;
/// use burn::prelude::*;
///
/// let device = Default::default();
/// let model = SmallCnnConfig::new().init::<NdArray>(&device);
/// let x = Tensor::<NdArray, 4>::zeros([2, 3, 32, 32], &device);
/// let logits = model.forward_mode(x, Mode::Eval);
/// assert_eq!(logits.dims(), [2, model.num_classes()]);
/// ```
pub trait Classifier<B: Backend>: Module<B> {
    /// Logits for a batch of images in `[0, 1]`, with the given normalisation behaviour.
    fn forward_mode(&self, images: Tensor<B, 4>, mode: Mode) -> Tensor<B, 2>;

    /// Number of classes `K` (width of the logits).
    fn num_classes(&self) -> usize;

    /// Number of input channels `C` the model expects, when it knows it (`None` = unknown;
    /// attacks then rely on the model's forward pass to reject a wrong shape). Every model of
    /// the crate knows it, and a batch with another channel count is rejected with
    /// [`Error::ChannelMismatch`](crate::Error::ChannelMismatch) before any work.
    fn input_channels(&self) -> Option<usize> {
        None
    }

    /// Inference-mode logits (shorthand for `forward_mode(images, Mode::Eval)`).
    fn logits(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        self.forward_mode(images, Mode::Eval)
    }

    /// An inference-equivalent copy with every BatchNorm folded into the preceding convolution
    /// (`W' = W·γ/√(σ²+ε)` per output channel, `b' = β + (b − μ)·γ/√(σ²+ε)`; see
    /// [`fold_conv_bn`]), for frozen inference-mode attacks. `None` = not supported (the
    /// default).
    ///
    /// In [`Mode::Eval`] the copy computes the same logits and input gradients as `self` up to
    /// float rounding, without BatchNorm's element-wise passes. Attacks, evaluations and
    /// strategies' inner attacks that run in [`Mode::Eval`] use it on their frozen copy (after
    /// the [inference probe](crate::attack::check_inference_behaviour), which runs on the
    /// unfolded copy); every model of the crate supports it. `self` is never modified, and the
    /// copy shares no mutable state with it (the folded convolutions are new tensors; there are
    /// no running statistics left).
    ///
    /// A folded copy is for inference only: it has no BatchNorm left to train, so
    /// [`Mode::Train`] on it is a programming error (the crate's models panic in debug builds and
    /// evaluate it as [`Mode::Eval`] in release builds). Do not save it as a checkpoint of the
    /// original architecture.
    ///
    /// **Opt-in for your own models**: return a copy whose forward pass skips the folded
    /// BatchNorms, e.g. by keeping them as `Option<BatchNorm<B>>` (the record and the
    /// checkpoint format of `Some(bn)` are those of `bn`) and using [`fold_conv_bn`]:
    ///
    /// ```
    /// use advcal::model::{batch_norm, fold_conv_bn, Classifier, Mode};
    /// use burn::nn::conv::{Conv2d, Conv2dConfig};
    /// use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
    /// use burn::prelude::*;
    ///
    /// #[derive(Module, Debug)]
    /// struct Net<B: Backend> {
    ///     conv: Conv2d<B>,
    ///     bn: Option<BatchNorm<B>>, // `None` once folded into `conv`
    ///     fc: Linear<B>,
    /// }
    ///
    /// impl<B: Backend> Classifier<B> for Net<B> {
    ///     fn forward_mode(&self, images: Tensor<B, 4>, mode: Mode) -> Tensor<B, 2> {
    ///         let mut x = self.conv.forward(images);
    ///         if let Some(bn) = &self.bn {
    ///             x = batch_norm(bn, x, mode);
    ///         }
    ///         let [n, c, _, _] = x.dims();
    ///         self.fc.forward(x.mean_dim(3).mean_dim(2).reshape([n, c]))
    ///     }
    ///     fn num_classes(&self) -> usize {
    ///         self.fc.weight.dims()[1]
    ///     }
    ///     fn fold_batch_norm(&self) -> Option<Self> {
    ///         let bn = self.bn.as_ref()?; // already folded: nothing to do
    ///         Some(Net { conv: fold_conv_bn(&self.conv, bn), bn: None, fc: self.fc.clone() })
    ///     }
    /// }
    ///
    /// let d = Default::default();
    /// let net = Net::<burn::backend::NdArray> {
    ///     conv: Conv2dConfig::new([3, 4], [3, 3]).init(&d),
    ///     bn: Some(BatchNormConfig::new(4).init(&d)),
    ///     fc: LinearConfig::new(4, 10).init(&d),
    /// };
    /// let x = Tensor::ones([2, 3, 8, 8], &d);
    /// // (Burn initialises parameters on first use, and a clone taken earlier draws its own
    /// // values: use the model once before folding it. The attacks' frozen copies always are.)
    /// let reference = net.logits(x.clone());
    /// let folded = net.fold_batch_norm().unwrap();
    /// let diff: f32 = (folded.logits(x) - reference).abs().max().into_scalar();
    /// assert!(diff < 1e-5);
    /// ```
    fn fold_batch_norm(&self) -> Option<Self> {
        None
    }
}

/// Builds a model with reproducible initial weights.
///
/// Burn initialises parameters lazily, on first use, from a process-global generator; with
/// several threads (parallel tests, data loaders) the weights of `B::seed(s); config.init()`
/// then depend on timing. This helper seeds the backend, builds the model and touches every
/// parameter under one global lock, so the same seed always gives the same weights.
///
/// ```
/// use advcal::model::{seeded_init, Classifier, SmallCnnConfig};
/// use burn::backend::NdArray;
/// use burn::prelude::*;
/// let d = Default::default();
/// let a = seeded_init::<NdArray, _>(&d, 3, || SmallCnnConfig::new().with_width(2).init(&d));
/// let b = seeded_init::<NdArray, _>(&d, 3, || SmallCnnConfig::new().with_width(2).init(&d));
/// let x = Tensor::<NdArray, 4>::ones([1, 3, 8, 8], &d);
/// assert_eq!(a.logits(x.clone()).into_data(), b.logits(x).into_data());
/// ```
pub fn seeded_init<B: Backend, M: Module<B>>(
    device: &B::Device,
    seed: u64,
    build: impl FnOnce() -> M,
) -> M {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    B::seed(device, seed);
    let model = build();
    model.visit(&mut Materialize);
    model
}

/// Initialises every lazy parameter of `model` in place (its values are then fixed). Burn's
/// `clone` of a never-used parameter clones its *initialiser*, so a clone taken before would
/// draw other values; `fold_batch_norm` calls this before cloning layers.
pub(crate) fn materialize<B: Backend, M: Module<B>>(model: &M) {
    model.visit(&mut Materialize);
}

struct Materialize;

impl<B: Backend> burn::module::ModuleVisitor<B> for Materialize {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<B, D>>) {
        let _ = param.val();
    }
    fn visit_int<const D: usize>(&mut self, param: &burn::module::Param<Tensor<B, D, Int>>) {
        let _ = param.val();
    }
    fn visit_bool<const D: usize>(&mut self, param: &burn::module::Param<Tensor<B, D, Bool>>) {
        let _ = param.val();
    }
}
