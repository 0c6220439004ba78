//! VGG-19 with BatchNorm, CIFAR head.

use super::layers::{conv2d, debug_check_folded_mode, fold_pair, maybe_batch_norm, relu};
use super::resnet::global_avg_pool;
use super::vgg19_bn::VGG19_PLAN;
use super::{Classifier, Mode, Normalization, NormalizationConfig};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;

/// Configuration of [`Vgg19`]: sixteen 3×3 conv + BatchNorm + ReLU layers in five pooled
/// stages, then a single linear layer (the CIFAR head, no 4096-wide FC layers). A global average
/// pool before the head makes 64×64 inputs work as well (identity for 32×32 inputs).
#[derive(Config, Debug)]
pub struct Vgg19Config {
    /// Number of classes.
    #[config(default = 10)]
    pub num_classes: usize,
    /// Divides every width (1 = the reference architecture; larger = thinner, for tests).
    #[config(default = 1)]
    pub width_divisor: usize,
    /// Input normalisation (inside the model).
    #[config(default = "NormalizationConfig::new()")]
    pub normalization: NormalizationConfig,
}

/// The model built by [`Vgg19Config::init`].
#[derive(Module, Debug)]
pub struct Vgg19<B: Backend> {
    norm: Normalization<B>,
    convs: Vec<Conv2d<B>>,
    /// `None` only in a [`Classifier::fold_batch_norm`] copy.
    bns: Vec<Option<BatchNorm<B>>>,
    /// For each conv, whether a max-pool follows it.
    pool_after: Vec<bool>,
    pool: MaxPool2d,
    fc: Linear<B>,
    num_classes: usize,
}

impl Vgg19Config {
    /// Builds the model on `device`.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Vgg19<B> {
        let div = self.width_divisor.max(1);
        let mut convs = Vec::new();
        let mut bns = Vec::new();
        let mut pool_after = Vec::new();
        let mut cin = self.normalization.mean.len();
        for &entry in VGG19_PLAN.iter() {
            if entry == 0 {
                if let Some(last) = pool_after.last_mut() {
                    *last = true;
                }
                continue;
            }
            let cout = (entry / div).max(1);
            // Convs keep their bias, as in the reference CIFAR VGG (20,040,522 parameters).
            convs.push(
                Conv2dConfig::new([cin, cout], [3, 3])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device),
            );
            bns.push(Some(BatchNormConfig::new(cout).init(device)));
            pool_after.push(false);
            cin = cout;
        }
        Vgg19 {
            norm: self.normalization.init(device),
            convs,
            bns,
            pool_after,
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            fc: LinearConfig::new(cin, self.num_classes).init(device),
            num_classes: self.num_classes,
        }
    }
}

impl<B: Backend> Classifier<B> for Vgg19<B> {
    fn forward_mode(&self, images: Tensor<B, 4>, mode: Mode) -> Tensor<B, 2> {
        debug_check_folded_mode(self.bns.iter().any(Option::is_none), mode);
        let mut x = self.norm.forward(images);
        for ((conv, bn), &pool) in self.convs.iter().zip(&self.bns).zip(&self.pool_after) {
            x = relu(maybe_batch_norm(bn, conv2d(conv, x), mode));
            if pool {
                x = self.pool.forward(x);
            }
        }
        self.fc.forward(global_avg_pool(x))
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
