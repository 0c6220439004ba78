//! VGG-19 with BatchNorm (Simonyan & Zisserman 2015, <https://arxiv.org/abs/1409.1556>) in
//! torchvision's ImageNet form (`torchvision.models.vgg19_bn`), the network of the paper's Fig. 8.
//!
//! torchvision keeps the layers in two `nn.Sequential`s (`features.<i>`: each conv at an index of
//! the plan and its BatchNorm at the next; `classifier.{0, 3, 6}`: the three linear layers);
//! `interop::WeightLayout::Torchvision` maps them onto
//! `convs.<k>`, `bns.<k>` and `fc.{0, 1, 2}`.

use super::layers::{conv2d, debug_check_folded_mode, fold_pair, maybe_batch_norm, relu};
use super::{Classifier, Mode, Normalization, NormalizationConfig};
use crate::error::{Error, Result};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d,
};
use burn::prelude::*;

/// Layer plan of VGG-19 (torchvision's configuration `"E"`): channel widths, `0` = 2×2 max-pool.
pub(crate) const VGG19_PLAN: [usize; 21] = [
    64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512, 0,
];

/// Configuration of [`Vgg19Bn`]: sixteen 3×3 conv (with bias) + BatchNorm + ReLU layers in five
/// max-pooled stages, an adaptive average pool to 7×7, and the classifier
/// `Linear(512·7·7, 4096) → ReLU → Dropout → Linear(4096, 4096) → ReLU → Dropout →
/// Linear(4096, K)`. With the defaults it is torchvision's `vgg19_bn()`: 143,678,248
/// parameters, 1000 classes, 224×224 inputs (other sizes of at least 32×32 work: the adaptive
/// pool averages, or repeats, the final map to 7×7 as PyTorch's does; below 32 the fifth
/// max-pool leaves no pixel). Dropout (p = 0.5) acts in [`Mode::Train`] only.
///
/// The input normalisation defaults to the ImageNet statistics ([`NormalizationConfig::imagenet`]).
///
/// ```
/// use advcal::model::{Classifier, Vgg19BnConfig};
/// use burn::backend::NdArray;
/// use burn::prelude::*;
///
/// let device = Default::default();
/// let model = Vgg19BnConfig::new()
///     .with_width_divisor(32)
///     .with_num_classes(10)
///     .init::<NdArray>(&device)
///     .unwrap();
/// let logits = model.logits(Tensor::<NdArray, 4>::zeros([1, 3, 32, 32], &device));
/// assert_eq!(logits.dims(), [1, 10]);
/// ```
#[derive(Config, Debug)]
pub struct Vgg19BnConfig {
    /// Number of classes.
    #[config(default = 1000)]
    pub num_classes: usize,
    /// Divides every conv width and the 4096 hidden units (1 = the reference architecture).
    #[config(default = 1)]
    pub width_divisor: usize,
    /// Input normalisation inside the model.
    #[config(default = "NormalizationConfig::imagenet()")]
    pub normalization: NormalizationConfig,
}

/// The model built by [`Vgg19BnConfig::init`].
#[derive(Module, Debug)]
pub struct Vgg19Bn<B: Backend> {
    norm: Normalization<B>,
    convs: Vec<Conv2d<B>>,
    /// `None` only in a [`Classifier::fold_batch_norm`] copy.
    bns: Vec<Option<BatchNorm<B>>>,
    /// For each conv, whether a max-pool follows it.
    pool_after: Vec<bool>,
    pool: MaxPool2d,
    avgpool: AdaptiveAvgPool2d,
    fc: Vec<Linear<B>>,
    dropout: Dropout,
    num_classes: usize,
}

impl Vgg19BnConfig {
    /// Builds the model on `device`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `width_divisor` when it is 0 or leaves a layer
    /// without units; the normalisation's errors.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<Vgg19Bn<B>> {
        let div = self.width_divisor;
        if div == 0 || 64 % div != 0 {
            return Err(Error::param(
                "width_divisor",
                format!("must divide 64 (1, 2, 4, …, 64), got {div}"),
            ));
        }
        self.normalization.validate()?;
        let (mut convs, mut bns, mut pool_after) = (Vec::new(), Vec::new(), Vec::new());
        let mut cin = self.normalization.mean.len();
        for &entry in VGG19_PLAN.iter() {
            if entry == 0 {
                if let Some(last) = pool_after.last_mut() {
                    *last = true;
                }
                continue;
            }
            let cout = entry / div;
            convs.push(
                Conv2dConfig::new([cin, cout], [3, 3])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device),
            );
            bns.push(Some(BatchNormConfig::new(cout).init(device)));
            pool_after.push(false);
            cin = cout;
        }
        let hidden = 4096 / div;
        Ok(Vgg19Bn {
            norm: self.normalization.init(device),
            convs,
            bns,
            pool_after,
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            avgpool: AdaptiveAvgPool2dConfig::new([7, 7]).init(),
            fc: vec![
                LinearConfig::new(cin * 49, hidden).init(device),
                LinearConfig::new(hidden, hidden).init(device),
                LinearConfig::new(hidden, self.num_classes).init(device),
            ],
            dropout: DropoutConfig::new(0.5).init(),
            num_classes: self.num_classes,
        })
    }
}

impl<B: Backend> Classifier<B> for Vgg19Bn<B> {
    fn forward_mode(&self, images: Tensor<B, 4>, mode: Mode) -> Tensor<B, 2> {
        debug_check_folded_mode(self.bns.iter().any(Option::is_none), mode);
        let mut x = self.norm.forward(images);
        for ((conv, bn), &pool) in self.convs.iter().zip(&self.bns).zip(&self.pool_after) {
            x = relu(maybe_batch_norm(bn, conv2d(conv, x), mode));
            if pool {
                x = self.pool.forward(x);
            }
        }
        let x = self.avgpool.forward(x);
        let [n, c, h, w] = x.dims();
        let mut x = x.reshape([n, c * h * w]);
        let last = self.fc.len() - 1;
        for (i, fc) in self.fc.iter().enumerate() {
            x = fc.forward(x);
            if i < last {
                x = relu(x);
                if mode == Mode::Train {
                    x = self.dropout.forward(x);
                }
            }
        }
        x
    }

    fn fold_batch_norm(&self) -> Option<Self> {
        super::materialize(self);
        let (convs, bns) = self
            .convs
            .iter()
            .zip(&self.bns)
            .map(|(conv, bn)| fold_pair(conv, bn))
            .unzip();
        Some(Self {
            norm: self.norm.clone(),
            convs,
            bns,
            pool_after: self.pool_after.clone(),
            pool: self.pool.clone(),
            avgpool: self.avgpool.clone(),
            fc: self.fc.clone(),
            dropout: self.dropout.clone(),
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
