//! Wide residual networks (Zagoruyko & Komodakis 2016, <https://arxiv.org/abs/1605.07146>) in the
//! layout of the TRADES code (Zhang et al. 2019) that most RobustBench CIFAR-10 L∞ entries
//! publish: WRN-28-10, WRN-34-10, WRN-70-16, with ReLU or SiLU, and the padding of DeepMind's
//! variant as an option.
//!
//! Parameter paths mirror the TRADES code (`conv1`, `block{1,2,3}.layer.<i>.{bn1, conv1, bn2,
//! conv2, shortcut}`, `bn1`, `fc`; TRADES names the shortcut `convShortcut`), so
//! `interop::WeightLayout::RobustBench` renames one segment.

use super::layers::{conv2d, debug_check_folded_mode, fold_pair, maybe_batch_norm, relu};
use super::resnet::{conv1x1, conv3x3, global_avg_pool};
use super::{Classifier, Mode, Normalization, NormalizationConfig};
use crate::error::{Error, Result};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::nn::conv::Conv2dConfig;
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::silu;
use serde::{Deserialize, Serialize};

/// The activation of a [`WideResNet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Activation {
    /// `max(x, 0)`: the original WRN and the TRADES models.
    #[default]
    Relu,
    /// `x·σ(x)`: the WRNs of Gowal et al. (2020) and Rebuffi et al. (2021).
    Silu,
}

impl Activation {
    fn apply<B: Backend>(self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        match self {
            Self::Relu => relu(x),
            Self::Silu => silu(x),
        }
    }
}

/// The pre-activation block of a wide ResNet:
///
/// ```text
/// a   = act(bn1(x))
/// out = conv2(act(bn2(conv1(a))))            conv1: 3×3, stride s; conv2: 3×3
/// y   = out + (x            if cin = cout    (the raw input)
///              shortcut(a)  otherwise)       (1×1 conv, stride s, of the activated input)
/// ```
///
/// as the TRADES code (`BasicBlock` with `equalInOut`): `bn1`, `conv1`, `bn2`, `conv2`,
/// `convShortcut`. `bn2` follows `conv1` and folds into it; `bn1` acts on the residual sum and
/// stays (inference-mode BatchNorm, an affine map) in a folded copy.
///
/// With TensorFlow's "SAME" padding ([`WideResNetConfig::tf_same_padding`], DeepMind's
/// models), a stride-2 `conv1` pads one row and column at the bottom and right only, instead
/// of one on every side.
#[derive(Module, Debug)]
pub struct WideBlock<B: Backend> {
    bn1: BatchNorm<B>,
    conv1: Conv2d<B>,
    bn2: Option<BatchNorm<B>>,
    conv2: Conv2d<B>,
    shortcut: Option<Conv2d<B>>,
}

impl<B: Backend> WideBlock<B> {
    /// A block from `cin` to `cout` channels with the given stride; `tf_same` selects
    /// TensorFlow's "SAME" padding for a stride-2 `conv1` (bottom/right only).
    pub fn new(cin: usize, cout: usize, stride: usize, tf_same: bool, device: &B::Device) -> Self {
        let conv1 = if tf_same && stride == 2 {
            Conv2dConfig::new([cin, cout], [3, 3])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(0, 0, 1, 1))
                .with_bias(false)
                .init(device)
        } else {
            conv3x3(cin, cout, stride, device)
        };
        Self {
            bn1: BatchNormConfig::new(cin).init(device),
            conv1,
            bn2: Some(BatchNormConfig::new(cout).init(device)),
            conv2: conv3x3(cout, cout, 1, device),
            shortcut: (cin != cout).then(|| conv1x1(cin, cout, stride, device)),
        }
    }

    /// Forward pass with the given BatchNorm mode and activation.
    pub fn forward(&self, x: Tensor<B, 4>, mode: Mode, act: Activation) -> Tensor<B, 4> {
        let a = act.apply(super::batch_norm(&self.bn1, x.clone(), mode));
        let identity = match &self.shortcut {
            Some(conv) => conv2d(conv, a.clone()),
            None => x,
        };
        let out = act.apply(maybe_batch_norm(&self.bn2, conv2d(&self.conv1, a), mode));
        conv2d(&self.conv2, out) + identity
    }

    fn folded(&self) -> Self {
        let (conv1, bn2) = fold_pair(&self.conv1, &self.bn2);
        Self {
            bn1: self.bn1.clone(),
            conv1,
            bn2,
            conv2: self.conv2.clone(),
            shortcut: self.shortcut.clone(),
        }
    }
}

/// One group of [`WideBlock`]s (TRADES' `NetworkBlock`; its blocks are at `layer.<i>`).
#[derive(Module, Debug)]
pub struct WideGroup<B: Backend> {
    layer: Vec<WideBlock<B>>,
}

/// Configuration of a [`WideResNet`] WRN-`depth`-`widen_factor` for 32×32 inputs: a 3×3 stem to
/// 16 channels, three groups of `n = (depth − 4)/6` [`WideBlock`]s of widths `16k, 32k, 64k`
/// (strides 1, 2, 2), a final BatchNorm and activation, global average pooling and a linear
/// head. WRN-28-10 has 36,479,194 parameters (the PyTorch count, 10 classes).
///
/// ```
/// use advcal::model::{Activation, Classifier, WideResNetConfig};
/// use burn::backend::NdArray;
/// use burn::prelude::*;
///
/// let device = Default::default();
/// let model = WideResNetConfig::new()
///     .with_depth(10)
///     .with_widen_factor(1)
///     .with_activation(Activation::Silu)
///     .init::<NdArray>(&device)
///     .unwrap();
/// let logits = model.logits(Tensor::<NdArray, 4>::zeros([2, 3, 32, 32], &device));
/// assert_eq!(logits.dims(), [2, 10]);
/// assert!(WideResNetConfig::new().with_depth(27).init::<NdArray>(&device).is_err());
/// ```
#[derive(Config, Debug)]
pub struct WideResNetConfig {
    /// Depth `6n + 4` (28, 34, 70, …).
    #[config(default = 28)]
    pub depth: usize,
    /// Widen factor `k` (10, 16, …).
    #[config(default = 10)]
    pub widen_factor: usize,
    /// Number of classes.
    #[config(default = 10)]
    pub num_classes: usize,
    /// Activation.
    #[config(default = "Activation::Relu")]
    pub activation: Activation,
    /// Input normalisation inside the model; `None` (the TRADES/RobustBench models) feeds the
    /// `[0, 1]` images to the stem as they are.
    #[config(default = "None")]
    pub normalization: Option<NormalizationConfig>,
    /// TensorFlow's "SAME" padding in the stride-2 convolutions (one row and column at the
    /// bottom and right), as DeepMind's WideResNets (Gowal et al. 2020, Rebuffi et al. 2021)
    /// compute; `false` pads one pixel on every side, as TRADES.
    #[config(default = false)]
    pub tf_same_padding: bool,
}

/// The model built by [`WideResNetConfig::init`].
#[derive(Module, Debug)]
pub struct WideResNet<B: Backend> {
    norm: Option<Normalization<B>>,
    conv1: Conv2d<B>,
    block1: WideGroup<B>,
    block2: WideGroup<B>,
    block3: WideGroup<B>,
    bn1: BatchNorm<B>,
    fc: Linear<B>,
    /// SiLU instead of ReLU ([`Activation`]; a module field must be a module constant).
    silu: bool,
    num_classes: usize,
    folded: bool,
}

impl<B: Backend> WideGroup<B> {
    fn folded(&self) -> Self {
        Self {
            layer: self.layer.iter().map(WideBlock::folded).collect(),
        }
    }
}

impl<B: Backend> WideResNet<B> {
    fn activation(&self) -> Activation {
        if self.silu {
            Activation::Silu
        } else {
            Activation::Relu
        }
    }
}

impl WideResNetConfig {
    /// Builds the model on `device`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `depth` unless `depth = 6n + 4` with `n ≥ 1`, or
    /// `widen_factor` when it is 0; the normalisation's errors.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<WideResNet<B>> {
        if self.depth < 10 || !(self.depth - 4).is_multiple_of(6) {
            return Err(Error::param(
                "depth",
                format!(
                    "must be 6n + 4 with n ≥ 1 (10, 16, 22, 28, 34, …), got {}",
                    self.depth
                ),
            ));
        }
        if self.widen_factor == 0 {
            return Err(Error::param("widen_factor", "must be at least 1"));
        }
        if let Some(norm) = &self.normalization {
            norm.validate()?;
        }
        let n = (self.depth - 4) / 6;
        let k = self.widen_factor;
        let mut cin = 16;
        let mut group = |width: usize, stride: usize| {
            let layer = (0..n)
                .map(|i| {
                    let s = if i == 0 { stride } else { 1 };
                    let block = WideBlock::new(cin, width, s, self.tf_same_padding, device);
                    cin = width;
                    block
                })
                .collect();
            WideGroup { layer }
        };
        let (block1, block2, block3) = (group(16 * k, 1), group(32 * k, 2), group(64 * k, 2));
        let channels = self
            .normalization
            .as_ref()
            .map_or(3, |norm| norm.mean.len());
        Ok(WideResNet {
            norm: self.normalization.as_ref().map(|c| c.init(device)),
            conv1: conv3x3(channels, 16, 1, device),
            block1,
            block2,
            block3,
            bn1: BatchNormConfig::new(64 * k).init(device),
            fc: LinearConfig::new(64 * k, self.num_classes).init(device),
            silu: self.activation == Activation::Silu,
            num_classes: self.num_classes,
            folded: false,
        })
    }
}

impl<B: Backend> Classifier<B> for WideResNet<B> {
    fn forward_mode(&self, images: Tensor<B, 4>, mode: Mode) -> Tensor<B, 2> {
        debug_check_folded_mode(self.folded, mode);
        let x = match &self.norm {
            Some(norm) => norm.forward(images),
            None => images,
        };
        let mut x = conv2d(&self.conv1, x);
        for group in [&self.block1, &self.block2, &self.block3] {
            for block in &group.layer {
                x = block.forward(x, mode, self.activation());
            }
        }
        let x = self
            .activation()
            .apply(super::batch_norm(&self.bn1, x, mode));
        self.fc.forward(global_avg_pool(x))
    }

    fn fold_batch_norm(&self) -> Option<Self> {
        super::materialize(self);
        Some(Self {
            norm: self.norm.clone(),
            conv1: self.conv1.clone(),
            block1: self.block1.folded(),
            block2: self.block2.folded(),
            block3: self.block3.folded(),
            bn1: self.bn1.clone(),
            fc: self.fc.clone(),
            silu: self.silu,
            num_classes: self.num_classes,
            folded: true,
        })
    }

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn input_channels(&self) -> Option<usize> {
        Some(self.conv1.weight.dims()[1])
    }
}
