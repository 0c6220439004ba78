//! MobileNetV2, CIFAR variant (stride-1 stem, stride 1 in the second stage).

use super::layers::{conv2d, debug_check_folded_mode, fold_pair, maybe_batch_norm, relu};
use super::resnet::{conv1x1, conv3x3, global_avg_pool};
use super::{Classifier, Mode, Normalization, NormalizationConfig};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;

/// Inverted-residual settings `(expansion t, output channels c, repeats n, first stride s)`,
/// CIFAR variant (second stage stride 1): kuangliu/pytorch-cifar's `cfg`, which the
/// `interop::WeightLayout::KuangliuCifar` layout also reads.
pub(crate) const MOBILENET_V2_CFG: [(usize, usize, usize, usize); 7] = [
    (1, 16, 1, 1),
    (6, 24, 2, 1),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
];

/// Expand 1×1 → depthwise 3×3 → project 1×1, BatchNorm after each; residual connection when
/// the stride is 1 (through a 1×1 conv + BN when the channel count changes).
///
/// Every BatchNorm is an `Option` that is `None` only in a copy made by
/// [`Classifier::fold_batch_norm`] (folded into its conv); the record and the checkpoint bytes
/// of `Some(bn)` are those of `bn`.
#[derive(Module, Debug)]
pub struct InvertedResidual<B: Backend> {
    expand: Conv2d<B>,
    bn1: Option<BatchNorm<B>>,
    depthwise: Conv2d<B>,
    bn2: Option<BatchNorm<B>>,
    project: Conv2d<B>,
    bn3: Option<BatchNorm<B>>,
    shortcut: Option<(Conv2d<B>, Option<BatchNorm<B>>)>,
    residual: bool,
}

impl<B: Backend> InvertedResidual<B> {
    fn new(cin: usize, cout: usize, expansion: usize, stride: usize, device: &B::Device) -> Self {
        let hidden = cin * expansion;
        let residual = stride == 1;
        let shortcut = (residual && cin != cout).then(|| {
            (
                conv1x1(cin, cout, 1, device),
                Some(BatchNormConfig::new(cout).init(device)),
            )
        });
        Self {
            expand: conv1x1(cin, hidden, 1, device),
            bn1: Some(BatchNormConfig::new(hidden).init(device)),
            depthwise: Conv2dConfig::new([hidden, hidden], [3, 3])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_groups(hidden)
                .with_bias(false)
                .init(device),
            bn2: Some(BatchNormConfig::new(hidden).init(device)),
            project: conv1x1(hidden, cout, 1, device),
            bn3: Some(BatchNormConfig::new(cout).init(device)),
            shortcut,
            residual,
        }
    }

    fn forward(&self, x: Tensor<B, 4>, mode: Mode) -> Tensor<B, 4> {
        let out = relu(maybe_batch_norm(
            &self.bn1,
            conv2d(&self.expand, x.clone()),
            mode,
        ));
        let out = relu(maybe_batch_norm(
            &self.bn2,
            conv2d(&self.depthwise, out),
            mode,
        ));
        let out = maybe_batch_norm(&self.bn3, conv2d(&self.project, out), mode);
        if !self.residual {
            return out;
        }
        match &self.shortcut {
            Some((conv, bn)) => out + maybe_batch_norm(bn, conv2d(conv, x), mode),
            None => out + x,
        }
    }

    /// The block with every BatchNorm folded into its conv (the depthwise one included).
    fn folded(&self) -> Self {
        let (expand, bn1) = fold_pair(&self.expand, &self.bn1);
        let (depthwise, bn2) = fold_pair(&self.depthwise, &self.bn2);
        let (project, bn3) = fold_pair(&self.project, &self.bn3);
        Self {
            expand,
            bn1,
            depthwise,
            bn2,
            project,
            bn3,
            shortcut: self.shortcut.as_ref().map(|(conv, bn)| fold_pair(conv, bn)),
            residual: self.residual,
        }
    }
}

/// Configuration of the CIFAR [`MobileNetV2`] (ReLU activations, global average pooling,
/// linear 1280→K head).
#[derive(Config, Debug)]
pub struct MobileNetV2Config {
    /// Number of classes.
    #[config(default = 10)]
    pub num_classes: usize,
    /// Input normalisation (inside the model).
    #[config(default = "NormalizationConfig::new()")]
    pub normalization: NormalizationConfig,
    /// Divides every channel count (1 = the standard network); for reduced-scale experiments.
    #[config(default = 1)]
    pub width_divisor: usize,
}

/// The model built by [`MobileNetV2Config::init`].
#[derive(Module, Debug)]
pub struct MobileNetV2<B: Backend> {
    norm: Normalization<B>,
    stem: Conv2d<B>,
    /// `None` only in a [`Classifier::fold_batch_norm`] copy (as `head_bn`).
    stem_bn: Option<BatchNorm<B>>,
    blocks: Vec<InvertedResidual<B>>,
    head: Conv2d<B>,
    head_bn: Option<BatchNorm<B>>,
    fc: Linear<B>,
    num_classes: usize,
}

impl MobileNetV2Config {
    /// Builds the model on `device`.
    pub fn init<B: Backend>(&self, device: &B::Device) -> MobileNetV2<B> {
        let div = self.width_divisor.max(1);
        let ch = |c: usize| (c / div).max(1);
        let mut blocks = Vec::new();
        let mut cin = ch(32);
        for &(t, c, n, s) in MOBILENET_V2_CFG.iter() {
            let c = ch(c);
            for i in 0..n {
                let stride = if i == 0 { s } else { 1 };
                blocks.push(InvertedResidual::new(cin, c, t, stride, device));
                cin = c;
            }
        }
        MobileNetV2 {
            norm: self.normalization.init(device),
            stem: conv3x3(self.normalization.mean.len(), ch(32), 1, device),
            stem_bn: Some(BatchNormConfig::new(ch(32)).init(device)),
            blocks,
            head: conv1x1(ch(320), ch(1280), 1, device),
            head_bn: Some(BatchNormConfig::new(ch(1280)).init(device)),
            fc: LinearConfig::new(ch(1280), self.num_classes).init(device),
            num_classes: self.num_classes,
        }
    }
}

impl<B: Backend> Classifier<B> for MobileNetV2<B> {
    fn forward_mode(&self, images: Tensor<B, 4>, mode: Mode) -> Tensor<B, 2> {
        debug_check_folded_mode(self.stem_bn.is_none(), mode);
        let x = self.norm.forward(images);
        let mut x = relu(maybe_batch_norm(&self.stem_bn, conv2d(&self.stem, x), mode));
        for block in &self.blocks {
            x = block.forward(x, mode);
        }
        let x = relu(maybe_batch_norm(&self.head_bn, conv2d(&self.head, x), mode));
        self.fc.forward(global_avg_pool(x))
    }

    fn fold_batch_norm(&self) -> Option<Self> {
        super::materialize(self);
        let (stem, stem_bn) = fold_pair(&self.stem, &self.stem_bn);
        let (head, head_bn) = fold_pair(&self.head, &self.head_bn);
        Some(Self {
            norm: self.norm.clone(),
            stem,
            stem_bn,
            blocks: self.blocks.iter().map(InvertedResidual::folded).collect(),
            head,
            head_bn,
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
