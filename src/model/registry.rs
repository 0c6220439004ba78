//! Building models by name (for command-line tools and checkpoints).

use super::{
    Classifier, MobileNetV2Config, NormalizationConfig, ResNet18Config, SmallCnnConfig, Vgg19Config,
};
use crate::error::{Error, Result};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// The architectures shipped with the crate, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Architecture {
    /// [`SmallCnn`](super::SmallCnn) (`"small_cnn"`).
    SmallCnn,
    /// [`ResNet18`](super::ResNet18) (`"resnet18"`).
    ResNet18,
    /// [`Vgg19`](super::Vgg19) (`"vgg19"`).
    Vgg19,
    /// [`MobileNetV2`](super::MobileNetV2) (`"mobilenet_v2"`).
    MobileNetV2,
}

impl Architecture {
    /// Every architecture.
    pub const ALL: [Architecture; 4] = [
        Self::SmallCnn,
        Self::ResNet18,
        Self::Vgg19,
        Self::MobileNetV2,
    ];

    /// The name used in checkpoints and on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Self::SmallCnn => "small_cnn",
            Self::ResNet18 => "resnet18",
            Self::Vgg19 => "vgg19",
            Self::MobileNetV2 => "mobilenet_v2",
        }
    }

    /// Parses a name (see [`Architecture::name`]).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] for a name that is not one of [`Architecture::ALL`]'s.
    ///
    /// ```
    /// use advcal::model::Architecture;
    /// assert_eq!(Architecture::parse("resnet18").unwrap(), Architecture::ResNet18);
    /// assert!(Architecture::parse("alexnet").is_err());
    /// ```
    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.name() == name)
            .ok_or_else(|| {
                Error::param(
                    "architecture",
                    format!(
                        "unknown `{name}`; expected one of small_cnn, resnet18, vgg19, mobilenet_v2"
                    ),
                )
            })
    }
}

/// A model of any shipped architecture, so tools can pick one at run time.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum AnyModel<B: Backend> {
    /// Small CNN.
    SmallCnn(super::SmallCnn<B>),
    /// ResNet-18.
    ResNet18(super::ResNet18<B>),
    /// VGG-19.
    Vgg19(super::Vgg19<B>),
    /// MobileNetV2.
    MobileNetV2(super::MobileNetV2<B>),
}

/// Serialisable config of an [`AnyModel`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnyModelConfig {
    /// Which architecture.
    pub architecture: Architecture,
    /// Number of classes.
    pub num_classes: usize,
    /// Width of the small CNN (ignored by the others).
    pub width: usize,
    /// Divides the channel widths of ResNet-18 (base 64), VGG-19 and MobileNetV2, for
    /// reduced-scale CPU experiments; 1 = the paper's networks. The small CNN ignores it.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub width_divisor: usize,
    /// Input normalisation inside the model (`None` = the CIFAR-10 statistics
    /// [`CIFAR10_MEAN`](super::CIFAR10_MEAN)/[`CIFAR10_STD`](super::CIFAR10_STD)); set it to the
    /// statistics imported weights were trained with, and to 64×64 data sets' own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalization: Option<NormalizationConfig>,
    /// Stride of ResNet-18's stem convolution ([`ResNet18Config::stem_stride`]): 1 (default) is
    /// the CIFAR network, 2 down-samples 64×64 inputs to its feature-map sizes. The other
    /// architectures ignore it; 0 is treated as 1, as [`ResNet18Config::init`] does. Not written
    /// when 1, so checkpoints written before the field existed load unchanged.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub stem_stride: usize,
}

fn one() -> usize {
    1
}

fn is_one(v: &usize) -> bool {
    *v == 1
}

impl AnyModelConfig {
    /// Default-width model of `architecture` for `num_classes` classes.
    pub fn new(architecture: Architecture, num_classes: usize) -> Self {
        Self {
            architecture,
            num_classes,
            width: 16,
            width_divisor: 1,
            normalization: None,
            stem_stride: 1,
        }
    }

    /// The input normalisation the model is built with.
    pub fn normalization(&self) -> NormalizationConfig {
        self.normalization
            .clone()
            .unwrap_or_else(NormalizationConfig::new)
    }

    /// Builds the model on `device`.
    pub fn init<B: Backend>(&self, device: &B::Device) -> AnyModel<B> {
        let k = self.num_classes;
        match self.architecture {
            Architecture::SmallCnn => AnyModel::SmallCnn(
                SmallCnnConfig::new()
                    .with_normalization(self.normalization())
                    .with_num_classes(k)
                    .with_width(self.width)
                    .init(device),
            ),
            Architecture::ResNet18 => AnyModel::ResNet18(
                ResNet18Config::new()
                    .with_normalization(self.normalization())
                    .with_num_classes(k)
                    .with_width((64 / self.width_divisor.max(1)).max(1))
                    .with_stem_stride(self.stem_stride)
                    .init(device),
            ),
            Architecture::Vgg19 => AnyModel::Vgg19(
                Vgg19Config::new()
                    .with_normalization(self.normalization())
                    .with_num_classes(k)
                    .with_width_divisor(self.width_divisor.max(1))
                    .init(device),
            ),
            Architecture::MobileNetV2 => AnyModel::MobileNetV2(
                MobileNetV2Config::new()
                    .with_normalization(self.normalization())
                    .with_num_classes(k)
                    .with_width_divisor(self.width_divisor.max(1))
                    .init(device),
            ),
        }
    }
}

impl<B: Backend> Classifier<B> for AnyModel<B> {
    fn forward_mode(&self, images: Tensor<B, 4>, mode: super::Mode) -> Tensor<B, 2> {
        match self {
            AnyModel::SmallCnn(m) => m.forward_mode(images, mode),
            AnyModel::ResNet18(m) => m.forward_mode(images, mode),
            AnyModel::Vgg19(m) => m.forward_mode(images, mode),
            AnyModel::MobileNetV2(m) => m.forward_mode(images, mode),
        }
    }

    fn num_classes(&self) -> usize {
        match self {
            AnyModel::SmallCnn(m) => m.num_classes(),
            AnyModel::ResNet18(m) => m.num_classes(),
            AnyModel::Vgg19(m) => m.num_classes(),
            AnyModel::MobileNetV2(m) => m.num_classes(),
        }
    }

    fn input_channels(&self) -> Option<usize> {
        match self {
            AnyModel::SmallCnn(m) => m.input_channels(),
            AnyModel::ResNet18(m) => m.input_channels(),
            AnyModel::Vgg19(m) => m.input_channels(),
            AnyModel::MobileNetV2(m) => m.input_channels(),
        }
    }

    fn fold_batch_norm(&self) -> Option<Self> {
        Some(match self {
            AnyModel::SmallCnn(m) => AnyModel::SmallCnn(m.fold_batch_norm()?),
            AnyModel::ResNet18(m) => AnyModel::ResNet18(m.fold_batch_norm()?),
            AnyModel::Vgg19(m) => AnyModel::Vgg19(m.fold_batch_norm()?),
            AnyModel::MobileNetV2(m) => AnyModel::MobileNetV2(m.fold_batch_norm()?),
        })
    }
}
