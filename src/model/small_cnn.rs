//! A small, fast CNN for CPU experiments and tests.

use super::layers::{conv2d, debug_check_folded_mode, fold_pair, maybe_batch_norm, relu};
use super::{Classifier, Mode, Normalization, NormalizationConfig};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;

/// Configuration of [`SmallCnn`]: five 3×3 conv + BatchNorm + ReLU layers (widths `w, w, 2w, 2w,
/// 4w`, max-pool after the 2nd and 4th), global average pooling and a linear head.
///
/// With the default width 16 it has ≈ 36 k parameters (35,962 trainable) and costs ≈ 8 M
/// multiply-adds per 32×32 image (ResNet-18: 556 M), which makes CPU adversarial training
/// practical.
#[derive(Config, Debug)]
pub struct SmallCnnConfig {
    /// Number of classes.
    #[config(default = 10)]
    pub num_classes: usize,
    /// Width of the first conv layer.
    #[config(default = 16)]
    pub width: usize,
    /// Input channels.
    #[config(default = 3)]
    pub in_channels: usize,
    /// Input normalisation (inside the model).
    #[config(default = "NormalizationConfig::new()")]
    pub normalization: NormalizationConfig,
}

/// The model built by [`SmallCnnConfig::init`].
#[derive(Module, Debug)]
pub struct SmallCnn<B: Backend> {
    norm: Normalization<B>,
    convs: Vec<Conv2d<B>>,
    /// `None` only in a [`Classifier::fold_batch_norm`] copy.
    bns: Vec<Option<BatchNorm<B>>>,
    pool: MaxPool2d,
    fc: Linear<B>,
    num_classes: usize,
}

impl SmallCnnConfig {
    /// Builds the model on `device`.
    ///
    /// ```
    /// use advcal::model::{Classifier, SmallCnnConfig};
    /// let model = SmallCnnConfig::new().with_num_classes(100).init::<burn::backend::NdArray>(&Default::default());
    /// assert_eq!(model.num_classes(), 100);
    /// ```
    pub fn init<B: Backend>(&self, device: &B::Device) -> SmallCnn<B> {
        let w = self.width;
        let widths = [self.in_channels, w, w, 2 * w, 2 * w, 4 * w];
        let convs = widths
            .windows(2)
            .map(|p| {
                Conv2dConfig::new([p[0], p[1]], [3, 3])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .with_bias(false)
                    .init(device)
            })
            .collect();
        let bns = widths[1..]
            .iter()
            .map(|&c| Some(BatchNormConfig::new(c).init(device)))
            .collect();
        SmallCnn {
            norm: self.normalization.init(device),
            convs,
            bns,
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            fc: LinearConfig::new(4 * w, self.num_classes).init(device),
            num_classes: self.num_classes,
        }
    }
}

impl<B: Backend> Classifier<B> for SmallCnn<B> {
    fn forward_mode(&self, images: Tensor<B, 4>, mode: Mode) -> Tensor<B, 2> {
        debug_check_folded_mode(self.bns.iter().any(Option::is_none), mode);
        let mut x = self.norm.forward(images);
        for (i, (conv, bn)) in self.convs.iter().zip(&self.bns).enumerate() {
            x = relu(maybe_batch_norm(bn, conv2d(conv, x), mode));
            if i == 1 || i == 3 {
                x = self.pool.forward(x);
            }
        }
        self.fc.forward(super::resnet::global_avg_pool(x))
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
            pool: self.pool.clone(),
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
