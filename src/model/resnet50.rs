//! ResNet-50 (He et al., "Deep Residual Learning for Image Recognition", 2016,
//! <https://arxiv.org/abs/1512.03385>) in torchvision's ImageNet form (`torchvision.models.resnet50`,
//! "ResNet v1.5": the stride sits on the 3×3 convolution of the bottleneck), the network of the
//! paper's Fig. 1.
//!
//! Parameter paths are torchvision's own (`conv1`, `bn1`, `layer{1..4}.<i>.{conv1, bn1, conv2,
//! bn2, conv3, bn3, downsample.{0,1}}`, `fc`), so a torchvision state dict loads under
//! `interop::WeightLayout::Torchvision` without renaming.

use super::layers::{conv2d, debug_check_folded_mode, fold_pair, maybe_batch_norm, relu};
use super::resnet::{conv1x1, conv3x3, global_avg_pool};
use super::{Classifier, Mode, Normalization, NormalizationConfig};
use crate::error::{Error, Result};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;

/// The bottleneck block of ResNet-50/101/152 (torchvision's `Bottleneck`, expansion 4):
///
/// ```text
/// out = relu(bn1(conv1(x)))              conv1: 1×1, cin → w
/// out = relu(bn2(conv2(out)))            conv2: 3×3, stride s, w → w
/// out = bn3(conv3(out))                  conv3: 1×1, w → 4w
/// y   = relu(out + downsample(x))        downsample: 1×1 conv (stride s) + BN, when the shape
///                                        changes; the identity otherwise
/// ```
///
/// Every BatchNorm follows a convolution and folds into it.
#[derive(Module, Debug)]
pub struct Bottleneck<B: Backend> {
    conv1: Conv2d<B>,
    bn1: Option<BatchNorm<B>>,
    conv2: Conv2d<B>,
    bn2: Option<BatchNorm<B>>,
    conv3: Conv2d<B>,
    bn3: Option<BatchNorm<B>>,
    downsample: Option<(Conv2d<B>, Option<BatchNorm<B>>)>,
}

impl<B: Backend> Bottleneck<B> {
    /// A block from `cin` channels through width `w` to `4w` channels, with the given stride.
    pub fn new(cin: usize, w: usize, stride: usize, device: &B::Device) -> Self {
        let cout = 4 * w;
        Self {
            conv1: conv1x1(cin, w, 1, device),
            bn1: Some(BatchNormConfig::new(w).init(device)),
            conv2: conv3x3(w, w, stride, device),
            bn2: Some(BatchNormConfig::new(w).init(device)),
            conv3: conv1x1(w, cout, 1, device),
            bn3: Some(BatchNormConfig::new(cout).init(device)),
            downsample: (stride != 1 || cin != cout).then(|| {
                (
                    conv1x1(cin, cout, stride, device),
                    Some(BatchNormConfig::new(cout).init(device)),
                )
            }),
        }
    }

    /// Forward pass with the given BatchNorm mode.
    pub fn forward(&self, x: Tensor<B, 4>, mode: Mode) -> Tensor<B, 4> {
        let identity = match &self.downsample {
            Some((conv, bn)) => maybe_batch_norm(bn, conv2d(conv, x.clone()), mode),
            None => x.clone(),
        };
        let out = relu(maybe_batch_norm(&self.bn1, conv2d(&self.conv1, x), mode));
        let out = relu(maybe_batch_norm(&self.bn2, conv2d(&self.conv2, out), mode));
        relu(maybe_batch_norm(&self.bn3, conv2d(&self.conv3, out), mode) + identity)
    }

    fn folded(&self) -> Self {
        let (conv1, bn1) = fold_pair(&self.conv1, &self.bn1);
        let (conv2, bn2) = fold_pair(&self.conv2, &self.bn2);
        let (conv3, bn3) = fold_pair(&self.conv3, &self.bn3);
        Self {
            conv1,
            bn1,
            conv2,
            bn2,
            conv3,
            bn3,
            downsample: self
                .downsample
                .as_ref()
                .map(|(conv, bn)| fold_pair(conv, bn)),
        }
    }
}

/// Configuration of [`ResNet50`]: a 7×7 stride-2 stem with BatchNorm, ReLU and a 3×3 stride-2
/// max-pool, four stages of [`Bottleneck`]s (widths `w, 2w, 4w, 8w`, outputs four times that,
/// strides 1/2/2/2), global average pooling and a linear head. With the defaults it is
/// torchvision's `resnet50()`: 25,557,032 parameters, 1000 classes, 224×224 inputs (any size
/// ≥ 32 works: the pooling is global). `layers = [3, 4, 23, 3]` is ResNet-101,
/// `[3, 8, 36, 3]` ResNet-152.
///
/// The input normalisation defaults to the ImageNet statistics torchvision's weights were
/// trained with ([`NormalizationConfig::imagenet`]).
///
/// ```
/// use advcal::model::{Classifier, ResNet50Config};
/// use burn::backend::NdArray;
/// use burn::prelude::*;
///
/// let device = Default::default();
/// // A small member of the family: one block per stage, width 4, 10 classes.
/// let model = ResNet50Config::new()
///     .with_layers(vec![1, 1, 1, 1])
///     .with_width(4)
///     .with_num_classes(10)
///     .init::<NdArray>(&device)
///     .unwrap();
/// let logits = model.logits(Tensor::<NdArray, 4>::zeros([1, 3, 64, 64], &device));
/// assert_eq!(logits.dims(), [1, 10]);
/// ```
#[derive(Config, Debug)]
pub struct ResNet50Config {
    /// Number of classes.
    #[config(default = 1000)]
    pub num_classes: usize,
    /// Bottleneck width of the first stage (64 in the reference architecture; the stem has this
    /// many channels too).
    #[config(default = 64)]
    pub width: usize,
    /// Number of blocks per stage (four stages).
    #[config(default = "vec![3, 4, 6, 3]")]
    pub layers: Vec<usize>,
    /// Input normalisation inside the model.
    #[config(default = "NormalizationConfig::imagenet()")]
    pub normalization: NormalizationConfig,
}

/// The model built by [`ResNet50Config::init`].
#[derive(Module, Debug)]
pub struct ResNet50<B: Backend> {
    norm: Normalization<B>,
    conv1: Conv2d<B>,
    bn1: Option<BatchNorm<B>>,
    maxpool: MaxPool2d,
    layer1: Vec<Bottleneck<B>>,
    layer2: Vec<Bottleneck<B>>,
    layer3: Vec<Bottleneck<B>>,
    layer4: Vec<Bottleneck<B>>,
    fc: Linear<B>,
    num_classes: usize,
}

impl ResNet50Config {
    /// Builds the model on `device`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `layers` unless it has four entries, each at least 1;
    /// the normalisation's errors.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<ResNet50<B>> {
        if self.layers.len() != 4 || self.layers.contains(&0) {
            return Err(Error::param(
                "layers",
                format!(
                    "must be four block counts of at least 1, got {:?}",
                    self.layers
                ),
            ));
        }
        self.normalization.validate()?;
        let w = self.width.max(1);
        let mut cin = w;
        let mut stage = |stage: usize, stride: usize| -> Vec<Bottleneck<B>> {
            let width = w << stage;
            (0..self.layers[stage])
                .map(|i| {
                    let block =
                        Bottleneck::new(cin, width, if i == 0 { stride } else { 1 }, device);
                    cin = 4 * width;
                    block
                })
                .collect()
        };
        let (layer1, layer2) = (stage(0, 1), stage(1, 2));
        let (layer3, layer4) = (stage(2, 2), stage(3, 2));
        Ok(ResNet50 {
            norm: self.normalization.init(device),
            conv1: Conv2dConfig::new([self.normalization.mean.len(), w], [7, 7])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(3, 3, 3, 3))
                .with_bias(false)
                .init(device),
            bn1: Some(BatchNormConfig::new(w).init(device)),
            maxpool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            layer1,
            layer2,
            layer3,
            layer4,
            fc: LinearConfig::new(32 * w, self.num_classes).init(device),
            num_classes: self.num_classes,
        })
    }
}

impl<B: Backend> ResNet50<B> {
    fn stages(&self) -> [&Vec<Bottleneck<B>>; 4] {
        [&self.layer1, &self.layer2, &self.layer3, &self.layer4]
    }
}

impl<B: Backend> Classifier<B> for ResNet50<B> {
    fn forward_mode(&self, images: Tensor<B, 4>, mode: Mode) -> Tensor<B, 2> {
        debug_check_folded_mode(self.bn1.is_none(), mode);
        let x = conv2d(&self.conv1, self.norm.forward(images));
        // After the ReLU every value is ≥ 0, so the max-pool's padding value does not matter.
        let mut x = self
            .maxpool
            .forward(relu(maybe_batch_norm(&self.bn1, x, mode)));
        for block in self.stages().into_iter().flatten() {
            x = block.forward(x, mode);
        }
        self.fc.forward(global_avg_pool(x))
    }

    fn fold_batch_norm(&self) -> Option<Self> {
        super::materialize(self);
        let (conv1, bn1) = fold_pair(&self.conv1, &self.bn1);
        let fold = |stage: &Vec<Bottleneck<B>>| stage.iter().map(Bottleneck::folded).collect();
        Some(Self {
            norm: self.norm.clone(),
            conv1,
            bn1,
            maxpool: self.maxpool.clone(),
            layer1: fold(&self.layer1),
            layer2: fold(&self.layer2),
            layer3: fold(&self.layer3),
            layer4: fold(&self.layer4),
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
