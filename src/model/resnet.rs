//! ResNet-18, CIFAR variant (3×3 stem, no max-pool; stride 1, or 2 for 64×64 inputs).

use super::layers::{conv2d, debug_check_folded_mode, fold_pair, maybe_batch_norm, relu};
use super::{Classifier, Mode, Normalization, NormalizationConfig};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;

pub(crate) fn conv3x3<B: Backend>(
    cin: usize,
    cout: usize,
    stride: usize,
    device: &B::Device,
) -> Conv2d<B> {
    Conv2dConfig::new([cin, cout], [3, 3])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_bias(false)
        .init(device)
}

pub(crate) fn conv1x1<B: Backend>(
    cin: usize,
    cout: usize,
    stride: usize,
    device: &B::Device,
) -> Conv2d<B> {
    Conv2dConfig::new([cin, cout], [1, 1])
        .with_stride([stride, stride])
        .with_bias(false)
        .init(device)
}

/// Global average pooling `[N, C, H, W] -> [N, C]`.
pub(crate) fn global_avg_pool<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 2> {
    let [n, c, _, _] = x.dims();
    x.mean_dim(3).mean_dim(2).reshape([n, c])
}

/// The residual block of ResNet-18/34: two 3×3 convs, with a 1×1 projection shortcut when the
/// shape changes.
///
/// Every BatchNorm is an `Option` that is `None` only in a copy made by
/// [`Classifier::fold_batch_norm`] (folded into its conv); the record and the checkpoint bytes
/// of `Some(bn)` are those of `bn`.
#[derive(Module, Debug)]
pub struct BasicBlock<B: Backend> {
    conv1: Conv2d<B>,
    bn1: Option<BatchNorm<B>>,
    conv2: Conv2d<B>,
    bn2: Option<BatchNorm<B>>,
    shortcut: Option<(Conv2d<B>, Option<BatchNorm<B>>)>,
}

impl<B: Backend> BasicBlock<B> {
    /// A block from `cin` to `cout` channels with the given stride.
    pub fn new(cin: usize, cout: usize, stride: usize, device: &B::Device) -> Self {
        let shortcut = (stride != 1 || cin != cout).then(|| {
            (
                conv1x1(cin, cout, stride, device),
                Some(BatchNormConfig::new(cout).init(device)),
            )
        });
        Self {
            conv1: conv3x3(cin, cout, stride, device),
            bn1: Some(BatchNormConfig::new(cout).init(device)),
            conv2: conv3x3(cout, cout, 1, device),
            bn2: Some(BatchNormConfig::new(cout).init(device)),
            shortcut,
        }
    }

    /// Forward pass with the given BatchNorm mode.
    pub fn forward(&self, x: Tensor<B, 4>, mode: Mode) -> Tensor<B, 4> {
        let identity = match &self.shortcut {
            Some((conv, bn)) => maybe_batch_norm(bn, conv2d(conv, x.clone()), mode),
            None => x.clone(),
        };
        let out = relu(maybe_batch_norm(&self.bn1, conv2d(&self.conv1, x), mode));
        relu(maybe_batch_norm(&self.bn2, conv2d(&self.conv2, out), mode) + identity)
    }

    /// The block with every BatchNorm folded into its conv (see [`super::fold_conv_bn`]).
    pub(crate) fn folded(&self) -> Self {
        let (conv1, bn1) = fold_pair(&self.conv1, &self.bn1);
        let (conv2, bn2) = fold_pair(&self.conv2, &self.bn2);
        Self {
            conv1,
            bn1,
            conv2,
            bn2,
            shortcut: self.shortcut.as_ref().map(|(conv, bn)| fold_pair(conv, bn)),
        }
    }
}

/// Configuration of the CIFAR [`ResNet18`]: 3×3 stem (stride [`stem_stride`](Self::stem_stride),
/// 1 by default; no max-pool), four stages of two [`BasicBlock`]s (widths `w, 2w, 4w, 8w`, strides 1/2/2/2), global average pooling, linear head.
/// With `width = 64` it has 11,173,962 trainable parameters (the PyTorch count).
///
/// Global average pooling makes it work for any input of at least 8×8 (32×32 CIFAR,
/// 64×64 Tiny ImageNet).
///
/// [`stem_stride`](Self::stem_stride) 2 halves the resolution in the stem: on 64×64 Tiny ImageNet
/// images the four stages then see the feature maps of the 32×32 network (32, 16, 8, 4), at about
/// a quarter of the stride-1 network's compute and with the same parameters.
///
/// ```
/// use advcal::model::{Classifier, ResNet18Config};
/// use burn::backend::NdArray;
/// use burn::prelude::*;
///
/// let device = Default::default();
/// let model = ResNet18Config::new()
///     .with_num_classes(200)
///     .with_width(4)
///     .with_stem_stride(2)
///     .init::<NdArray>(&device);
/// let logits = model.logits(Tensor::<NdArray, 4>::zeros([2, 3, 64, 64], &device));
/// assert_eq!(logits.dims(), [2, 200]);
/// ```
#[derive(Config, Debug)]
pub struct ResNet18Config {
    /// Number of classes.
    #[config(default = 10)]
    pub num_classes: usize,
    /// Width of the first stage (64 in the reference architecture).
    #[config(default = 64)]
    pub width: usize,
    /// Input normalisation (inside the model).
    #[config(default = "NormalizationConfig::new()")]
    pub normalization: NormalizationConfig,
    /// Stride of the 3×3 stem convolution: 1 is the CIFAR network (no down-sampling before the
    /// first stage), 2 down-samples 64×64 inputs to the 32×32 network's feature maps. 0 is
    /// treated as 1.
    #[config(default = 1)]
    pub stem_stride: usize,
}

/// The model built by [`ResNet18Config::init`].
#[derive(Module, Debug)]
pub struct ResNet18<B: Backend> {
    norm: Normalization<B>,
    stem: Conv2d<B>,
    /// `None` only in a [`Classifier::fold_batch_norm`] copy.
    stem_bn: Option<BatchNorm<B>>,
    blocks: Vec<BasicBlock<B>>,
    fc: Linear<B>,
    num_classes: usize,
}

impl ResNet18Config {
    /// Builds the model on `device`.
    pub fn init<B: Backend>(&self, device: &B::Device) -> ResNet18<B> {
        let w = self.width;
        let mut blocks = Vec::with_capacity(8);
        let mut cin = w;
        for stage in 0..4 {
            let cout = w << stage;
            for i in 0..2 {
                let stride = if stage > 0 && i == 0 { 2 } else { 1 };
                blocks.push(BasicBlock::new(cin, cout, stride, device));
                cin = cout;
            }
        }
        ResNet18 {
            norm: self.normalization.init(device),
            stem: conv3x3(
                self.normalization.mean.len(),
                w,
                self.stem_stride.max(1),
                device,
            ),
            stem_bn: Some(BatchNormConfig::new(w).init(device)),
            blocks,
            fc: LinearConfig::new(cin, self.num_classes).init(device),
            num_classes: self.num_classes,
        }
    }
}

impl<B: Backend> Classifier<B> for ResNet18<B> {
    fn forward_mode(&self, images: Tensor<B, 4>, mode: Mode) -> Tensor<B, 2> {
        debug_check_folded_mode(self.stem_bn.is_none(), mode);
        let x = self.norm.forward(images);
        let mut x = relu(maybe_batch_norm(&self.stem_bn, conv2d(&self.stem, x), mode));
        for block in &self.blocks {
            x = block.forward(x, mode);
        }
        self.fc.forward(global_avg_pool(x))
    }

    fn fold_batch_norm(&self) -> Option<Self> {
        super::materialize(self);
        let (stem, stem_bn) = fold_pair(&self.stem, &self.stem_bn);
        Some(Self {
            norm: self.norm.clone(),
            stem,
            stem_bn,
            blocks: self.blocks.iter().map(BasicBlock::folded).collect(),
            fc: self.fc.clone(),
            num_classes: self.num_classes,
        })
    }

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn input_channels(&self) -> Option<usize> {
        Some(self.norm.channels())
    }
}
