//! PreAct ResNet-18 (He et al., "Identity Mappings in Deep Residual Networks", 2016,
//! <https://arxiv.org/abs/1603.05027>), CIFAR variant, in the layout of Wong et al. (2020) and
//! Rice et al. (2020), whose robust CIFAR-10 models use it.
//!
//! Parameter paths mirror Wong et al.'s code (`conv1`, `layer{1..4}.<i>.{bn1, conv1, bn2, conv2,
//! shortcut}`, `bn`, `linear`; their shortcut is `shortcut.0`), so
//! `interop::WeightLayout::RobustBench` renames one segment.

use super::layers::{conv2d, debug_check_folded_mode, fold_pair, maybe_batch_norm, relu};
use super::resnet::{conv1x1, conv3x3, global_avg_pool};
use super::{Classifier, Mode, Normalization, NormalizationConfig};
use crate::error::Result;
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
use burn::prelude::*;

/// The pre-activation residual block:
///
/// ```text
/// a   = relu(bn1(x))
/// out = conv2(relu(bn2(conv1(a))))        conv1: 3×3, stride s; conv2: 3×3
/// y   = out + shortcut                    shortcut = x when the shape is kept, else a 1×1
///                                         conv (stride s) of `a` (He et al.) or of `x`
/// ```
///
/// Keys as Wong et al.'s `PreActBlock`: `bn1`, `conv1`, `bn2`, `conv2`, `shortcut.0`.
#[derive(Module, Debug)]
pub struct PreActBlock<B: Backend> {
    bn1: BatchNorm<B>,
    conv1: Conv2d<B>,
    bn2: Option<BatchNorm<B>>,
    conv2: Conv2d<B>,
    shortcut: Option<Conv2d<B>>,
    /// The projection shortcut takes the raw input instead of the pre-activated one.
    shortcut_from_input: bool,
}

impl<B: Backend> PreActBlock<B> {
    fn new(cin: usize, cout: usize, stride: usize, from_input: bool, device: &B::Device) -> Self {
        Self {
            bn1: BatchNormConfig::new(cin).init(device),
            conv1: conv3x3(cin, cout, stride, device),
            bn2: Some(BatchNormConfig::new(cout).init(device)),
            conv2: conv3x3(cout, cout, 1, device),
            shortcut: (stride != 1 || cin != cout).then(|| conv1x1(cin, cout, stride, device)),
            shortcut_from_input: from_input,
        }
    }

    /// Forward pass with the given BatchNorm mode.
    pub fn forward(&self, x: Tensor<B, 4>, mode: Mode) -> Tensor<B, 4> {
        let a = relu(super::batch_norm(&self.bn1, x.clone(), mode));
        let identity = match &self.shortcut {
            Some(conv) if self.shortcut_from_input => conv2d(conv, x),
            Some(conv) => conv2d(conv, a.clone()),
            None => x,
        };
        let out = relu(maybe_batch_norm(&self.bn2, conv2d(&self.conv1, a), mode));
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
            shortcut_from_input: self.shortcut_from_input,
        }
    }
}

/// Configuration of the CIFAR [`PreActResNet18`]: 3×3 stem (no BatchNorm, no max-pool), four
/// stages of two [`PreActBlock`]s (widths `w, 2w, 4w, 8w`, strides 1/2/2/2), global average
/// pooling and a linear head. With `width = 64` it has 11,171,146 trainable parameters (the
/// PyTorch count, 10 classes), 11,172,170 with [`final_bn`](Self::final_bn).
///
/// By default as He et al. (2016) describe the block: the projection shortcut reads the
/// pre-activated input, and the last block's sum goes to the classifier. The variants in
/// published code are options: [`final_bn`](Self::final_bn) (a BatchNorm and ReLU before the
/// pooling: Wong et al. 2020, Rice et al. 2020) and
/// [`shortcut_from_input`](Self::shortcut_from_input) (the shortcut reads the raw input).
///
/// ```
/// use advcal::model::{Classifier, PreActResNet18Config};
/// use burn::backend::NdArray;
/// use burn::prelude::*;
///
/// let device = Default::default();
/// let model = PreActResNet18Config::new()
///     .with_width(4)
///     .with_final_bn(true)
///     .init::<NdArray>(&device)
///     .unwrap();
/// let logits = model.logits(Tensor::<NdArray, 4>::zeros([2, 3, 32, 32], &device));
/// assert_eq!(logits.dims(), [2, 10]);
/// ```
#[derive(Config, Debug)]
pub struct PreActResNet18Config {
    /// Number of classes.
    #[config(default = 10)]
    pub num_classes: usize,
    /// Width of the first stage (64 in the reference architecture).
    #[config(default = 64)]
    pub width: usize,
    /// A BatchNorm and ReLU after the last block (`bn` in Wong et al.'s code).
    #[config(default = false)]
    pub final_bn: bool,
    /// Projection shortcuts read the raw block input instead of the pre-activated one.
    #[config(default = false)]
    pub shortcut_from_input: bool,
    /// Input normalisation inside the model; `None` feeds the `[0, 1]` images to the stem.
    #[config(default = "None")]
    pub normalization: Option<NormalizationConfig>,
}

/// The model built by [`PreActResNet18Config::init`].
#[derive(Module, Debug)]
pub struct PreActResNet18<B: Backend> {
    norm: Option<Normalization<B>>,
    conv1: Conv2d<B>,
    layer1: Vec<PreActBlock<B>>,
    layer2: Vec<PreActBlock<B>>,
    layer3: Vec<PreActBlock<B>>,
    layer4: Vec<PreActBlock<B>>,
    bn: Option<BatchNorm<B>>,
    linear: Linear<B>,
    num_classes: usize,
    folded: bool,
}

impl PreActResNet18Config {
    /// Builds the model on `device`.
    ///
    /// # Errors
    /// The normalisation's errors ([`NormalizationConfig::validate`]).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<PreActResNet18<B>> {
        if let Some(norm) = &self.normalization {
            norm.validate()?;
        }
        let w = self.width.max(1);
        let mut cin = w;
        let mut stage = |cout: usize, stride: usize| -> Vec<PreActBlock<B>> {
            let first = PreActBlock::new(cin, cout, stride, self.shortcut_from_input, device);
            let second = PreActBlock::new(cout, cout, 1, self.shortcut_from_input, device);
            cin = cout;
            vec![first, second]
        };
        let (layer1, layer2) = (stage(w, 1), stage(2 * w, 2));
        let (layer3, layer4) = (stage(4 * w, 2), stage(8 * w, 2));
        let channels = self
            .normalization
            .as_ref()
            .map_or(3, |norm| norm.mean.len());
        Ok(PreActResNet18 {
            norm: self.normalization.as_ref().map(|c| c.init(device)),
            conv1: conv3x3(channels, w, 1, device),
            layer1,
            layer2,
            layer3,
            layer4,
            bn: self
                .final_bn
                .then(|| BatchNormConfig::new(8 * w).init(device)),
            linear: LinearConfig::new(8 * w, self.num_classes).init(device),
            num_classes: self.num_classes,
            folded: false,
        })
    }
}

impl<B: Backend> PreActResNet18<B> {
    fn blocks(&self) -> impl Iterator<Item = &PreActBlock<B>> {
        [&self.layer1, &self.layer2, &self.layer3, &self.layer4]
            .into_iter()
            .flatten()
    }
}

impl<B: Backend> Classifier<B> for PreActResNet18<B> {
    fn forward_mode(&self, images: Tensor<B, 4>, mode: Mode) -> Tensor<B, 2> {
        debug_check_folded_mode(self.folded, mode);
        let x = match &self.norm {
            Some(norm) => norm.forward(images),
            None => images,
        };
        let mut x = conv2d(&self.conv1, x);
        for block in self.blocks() {
            x = block.forward(x, mode);
        }
        if let Some(bn) = &self.bn {
            x = relu(super::batch_norm(bn, x, mode));
        }
        self.linear.forward(global_avg_pool(x))
    }

    fn fold_batch_norm(&self) -> Option<Self> {
        super::materialize(self);
        Some(Self {
            norm: self.norm.clone(),
            conv1: self.conv1.clone(),
            layer1: self.layer1.iter().map(PreActBlock::folded).collect(),
            layer2: self.layer2.iter().map(PreActBlock::folded).collect(),
            layer3: self.layer3.iter().map(PreActBlock::folded).collect(),
            layer4: self.layer4.iter().map(PreActBlock::folded).collect(),
            bn: self.bn.clone(),
            linear: self.linear.clone(),
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
