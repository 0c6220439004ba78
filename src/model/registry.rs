//! Building models by name (for command-line tools and checkpoints).

use super::{
    Activation, Classifier, MobileNetV2Config, NormalizationConfig, PreActResNet18Config,
    ResNet18Config, ResNet50Config, SmallCnnConfig, Vgg19BnConfig, Vgg19Config, WideResNetConfig,
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
    /// [`WideResNet`](super::WideResNet) (`"wide_resnet"`): RobustBench's CIFAR-10 models.
    WideResNet,
    /// [`PreActResNet18`](super::PreActResNet18) (`"preact_resnet18"`).
    PreActResNet18,
    /// [`ResNet50`](super::ResNet50) (`"resnet50"`): torchvision's ImageNet network.
    ResNet50,
    /// [`Vgg19Bn`](super::Vgg19Bn) (`"vgg19_bn"`): torchvision's ImageNet network.
    Vgg19Bn,
}

impl Architecture {
    /// Every architecture.
    pub const ALL: [Architecture; 8] = [
        Self::SmallCnn,
        Self::ResNet18,
        Self::Vgg19,
        Self::MobileNetV2,
        Self::WideResNet,
        Self::PreActResNet18,
        Self::ResNet50,
        Self::Vgg19Bn,
    ];

    /// The name used in checkpoints and on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Self::SmallCnn => "small_cnn",
            Self::ResNet18 => "resnet18",
            Self::Vgg19 => "vgg19",
            Self::MobileNetV2 => "mobilenet_v2",
            Self::WideResNet => "wide_resnet",
            Self::PreActResNet18 => "preact_resnet18",
            Self::ResNet50 => "resnet50",
            Self::Vgg19Bn => "vgg19_bn",
        }
    }

    /// The input normalisation a model of this architecture gets when
    /// [`AnyModelConfig::normalization`] is `None`: the CIFAR-10 statistics for the CIFAR
    /// networks advcal trains (small CNN, ResNet-18, VGG-19, MobileNetV2), none for the
    /// WideResNet and PreAct ResNet-18 (RobustBench's models take `[0, 1]` images or carry
    /// their statistics in the weight file, which `interop::load_pytorch`
    /// then uses), and ImageNet's for torchvision's ResNet-50 and VGG-19-BN.
    ///
    /// ```
    /// use advcal::model::{Architecture, NormalizationConfig};
    /// assert_eq!(Architecture::ResNet18.default_normalization(), Some(NormalizationConfig::new()));
    /// assert_eq!(Architecture::WideResNet.default_normalization(), None);
    /// ```
    pub fn default_normalization(&self) -> Option<NormalizationConfig> {
        match self {
            Self::SmallCnn | Self::ResNet18 | Self::Vgg19 | Self::MobileNetV2 => {
                Some(NormalizationConfig::new())
            }
            Self::WideResNet | Self::PreActResNet18 => None,
            Self::ResNet50 | Self::Vgg19Bn => Some(NormalizationConfig::imagenet()),
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
                        "unknown `{name}`; expected one of {}",
                        Self::ALL.map(|a| a.name()).join(", ")
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
    /// WideResNet.
    WideResNet(super::WideResNet<B>),
    /// PreAct ResNet-18.
    PreActResNet18(super::PreActResNet18<B>),
    /// ResNet-50 (torchvision).
    ResNet50(super::ResNet50<B>),
    /// VGG-19-BN (torchvision).
    Vgg19Bn(super::Vgg19Bn<B>),
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
    /// Divides the channel widths of ResNet-18 (base 64), VGG-19, MobileNetV2, PreAct ResNet-18
    /// (base 64), ResNet-50 (base 64) and VGG-19-BN (and its 4096 hidden units), for
    /// reduced-scale CPU experiments; 1 = the reference networks. The small CNN and the
    /// WideResNet ([`widen_factor`](Self::widen_factor)) ignore it.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub width_divisor: usize,
    /// Input normalisation inside the model (`None` = the architecture's
    /// [default](Architecture::default_normalization): the CIFAR-10 statistics
    /// [`CIFAR10_MEAN`](super::CIFAR10_MEAN)/[`CIFAR10_STD`](super::CIFAR10_STD) for advcal's
    /// CIFAR networks, none for the WideResNet and PreAct ResNet-18, ImageNet's for ResNet-50
    /// and VGG-19-BN); set it to the statistics imported weights were trained with, and to
    /// 64×64 data sets' own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalization: Option<NormalizationConfig>,
    /// Stride of ResNet-18's stem convolution ([`ResNet18Config::stem_stride`]): 1 (default) is
    /// the CIFAR network, 2 down-samples 64×64 inputs to its feature-map sizes. The other
    /// architectures ignore it; 0 is treated as 1, as [`ResNet18Config::init`] does. Not written
    /// when 1, so checkpoints written before the field existed load unchanged.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub stem_stride: usize,
    /// WideResNet depth `6n + 4` ([`WideResNetConfig::depth`]; default 28).
    #[serde(default = "depth28", skip_serializing_if = "is_28")]
    pub depth: usize,
    /// WideResNet widen factor ([`WideResNetConfig::widen_factor`]; default 10).
    #[serde(default = "ten", skip_serializing_if = "is_ten")]
    pub widen_factor: usize,
    /// WideResNet activation ([`WideResNetConfig::activation`]; default ReLU).
    #[serde(default, skip_serializing_if = "is_default")]
    pub activation: Activation,
    /// WideResNet: TensorFlow's "SAME" padding in stride-2 convolutions, as DeepMind's models
    /// ([`WideResNetConfig::tf_same_padding`]).
    #[serde(default, skip_serializing_if = "is_default")]
    pub tf_same_padding: bool,
    /// PreAct ResNet-18: BatchNorm + ReLU before the classifier
    /// ([`PreActResNet18Config::final_bn`]).
    #[serde(default, skip_serializing_if = "is_default")]
    pub final_bn: bool,
    /// PreAct ResNet-18: projection shortcuts read the raw block input
    /// ([`PreActResNet18Config::shortcut_from_input`]).
    #[serde(default, skip_serializing_if = "is_default")]
    pub shortcut_from_input: bool,
    /// ResNet-50: blocks per stage (`None` = `[3, 4, 6, 3]`; [`ResNet50Config::layers`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<Vec<usize>>,
}

fn one() -> usize {
    1
}

fn is_one(v: &usize) -> bool {
    *v == 1
}

fn depth28() -> usize {
    28
}

fn is_28(v: &usize) -> bool {
    *v == 28
}

fn ten() -> usize {
    10
}

fn is_ten(v: &usize) -> bool {
    *v == 10
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
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
            depth: 28,
            widen_factor: 10,
            activation: Activation::Relu,
            tf_same_padding: false,
            final_bn: false,
            shortcut_from_input: false,
            layers: None,
        }
    }

    /// The input normalisation the model is built with (`None` = none), after the
    /// architecture's [default](Architecture::default_normalization).
    pub fn effective_normalization(&self) -> Option<NormalizationConfig> {
        self.normalization
            .clone()
            .or_else(|| self.architecture.default_normalization())
    }

    /// The input normalisation of the CIFAR networks (the CIFAR-10 statistics unless set).
    fn cifar_normalization(&self) -> NormalizationConfig {
        self.normalization
            .clone()
            .unwrap_or_else(NormalizationConfig::new)
    }

    /// Builds the model on `device`.
    ///
    /// # Panics
    /// When [`try_init`](Self::try_init) fails: an invalid WideResNet depth, ResNet-50 block
    /// list, VGG-19-BN width divisor or normalisation. The small CNN, ResNet-18, VGG-19 and
    /// MobileNetV2 never fail.
    pub fn init<B: Backend>(&self, device: &B::Device) -> AnyModel<B> {
        self.try_init(device)
            .unwrap_or_else(|e| panic!("invalid model config: {e}"))
    }

    /// Builds the model on `device`, with a typed error for an invalid configuration.
    ///
    /// # Errors
    /// The architecture's config errors ([`WideResNetConfig::init`],
    /// [`PreActResNet18Config::init`], [`ResNet50Config::init`], [`Vgg19BnConfig::init`]);
    /// [`Error::InvalidParameter`] for an invalid normalisation.
    ///
    /// ```
    /// use advcal::model::{AnyModelConfig, Architecture};
    /// use burn::backend::NdArray;
    /// let mut config = AnyModelConfig::new(Architecture::WideResNet, 10);
    /// config.depth = 27;
    /// assert!(config.try_init::<NdArray>(&Default::default()).is_err());
    /// ```
    pub fn try_init<B: Backend>(&self, device: &B::Device) -> Result<AnyModel<B>> {
        if let Some(norm) = &self.normalization {
            norm.validate()?;
        }
        let k = self.num_classes;
        let div = self.width_divisor.max(1);
        Ok(match self.architecture {
            Architecture::SmallCnn => AnyModel::SmallCnn(
                SmallCnnConfig::new()
                    .with_normalization(self.cifar_normalization())
                    .with_num_classes(k)
                    .with_width(self.width)
                    .init(device),
            ),
            Architecture::ResNet18 => AnyModel::ResNet18(
                ResNet18Config::new()
                    .with_normalization(self.cifar_normalization())
                    .with_num_classes(k)
                    .with_width((64 / self.width_divisor.max(1)).max(1))
                    .with_stem_stride(self.stem_stride)
                    .init(device),
            ),
            Architecture::Vgg19 => AnyModel::Vgg19(
                Vgg19Config::new()
                    .with_normalization(self.cifar_normalization())
                    .with_num_classes(k)
                    .with_width_divisor(self.width_divisor.max(1))
                    .init(device),
            ),
            Architecture::MobileNetV2 => AnyModel::MobileNetV2(
                MobileNetV2Config::new()
                    .with_normalization(self.cifar_normalization())
                    .with_num_classes(k)
                    .with_width_divisor(self.width_divisor.max(1))
                    .init(device),
            ),
            Architecture::WideResNet => AnyModel::WideResNet(
                WideResNetConfig::new()
                    .with_depth(self.depth)
                    .with_widen_factor(self.widen_factor)
                    .with_num_classes(k)
                    .with_activation(self.activation)
                    .with_tf_same_padding(self.tf_same_padding)
                    .with_normalization(self.effective_normalization())
                    .init(device)?,
            ),
            Architecture::PreActResNet18 => AnyModel::PreActResNet18(
                PreActResNet18Config::new()
                    .with_num_classes(k)
                    .with_width((64 / div).max(1))
                    .with_final_bn(self.final_bn)
                    .with_shortcut_from_input(self.shortcut_from_input)
                    .with_normalization(self.effective_normalization())
                    .init(device)?,
            ),
            Architecture::ResNet50 => {
                let mut config = ResNet50Config::new()
                    .with_num_classes(k)
                    .with_width((64 / div).max(1));
                if let Some(norm) = self.effective_normalization() {
                    config = config.with_normalization(norm);
                }
                if let Some(layers) = &self.layers {
                    config = config.with_layers(layers.clone());
                }
                AnyModel::ResNet50(config.init(device)?)
            }
            Architecture::Vgg19Bn => {
                let mut config = Vgg19BnConfig::new()
                    .with_num_classes(k)
                    .with_width_divisor(div);
                if let Some(norm) = self.effective_normalization() {
                    config = config.with_normalization(norm);
                }
                AnyModel::Vgg19Bn(config.init(device)?)
            }
        })
    }
}

impl<B: Backend> Classifier<B> for AnyModel<B> {
    fn forward_mode(&self, images: Tensor<B, 4>, mode: super::Mode) -> Tensor<B, 2> {
        match self {
            AnyModel::SmallCnn(m) => m.forward_mode(images, mode),
            AnyModel::ResNet18(m) => m.forward_mode(images, mode),
            AnyModel::Vgg19(m) => m.forward_mode(images, mode),
            AnyModel::MobileNetV2(m) => m.forward_mode(images, mode),
            AnyModel::WideResNet(m) => m.forward_mode(images, mode),
            AnyModel::PreActResNet18(m) => m.forward_mode(images, mode),
            AnyModel::ResNet50(m) => m.forward_mode(images, mode),
            AnyModel::Vgg19Bn(m) => m.forward_mode(images, mode),
        }
    }

    fn num_classes(&self) -> usize {
        match self {
            AnyModel::SmallCnn(m) => m.num_classes(),
            AnyModel::ResNet18(m) => m.num_classes(),
            AnyModel::Vgg19(m) => m.num_classes(),
            AnyModel::MobileNetV2(m) => m.num_classes(),
            AnyModel::WideResNet(m) => m.num_classes(),
            AnyModel::PreActResNet18(m) => m.num_classes(),
            AnyModel::ResNet50(m) => m.num_classes(),
            AnyModel::Vgg19Bn(m) => m.num_classes(),
        }
    }

    fn input_channels(&self) -> Option<usize> {
        match self {
            AnyModel::SmallCnn(m) => m.input_channels(),
            AnyModel::ResNet18(m) => m.input_channels(),
            AnyModel::Vgg19(m) => m.input_channels(),
            AnyModel::MobileNetV2(m) => m.input_channels(),
            AnyModel::WideResNet(m) => m.input_channels(),
            AnyModel::PreActResNet18(m) => m.input_channels(),
            AnyModel::ResNet50(m) => m.input_channels(),
            AnyModel::Vgg19Bn(m) => m.input_channels(),
        }
    }

    fn fold_batch_norm(&self) -> Option<Self> {
        Some(match self {
            AnyModel::SmallCnn(m) => AnyModel::SmallCnn(m.fold_batch_norm()?),
            AnyModel::ResNet18(m) => AnyModel::ResNet18(m.fold_batch_norm()?),
            AnyModel::Vgg19(m) => AnyModel::Vgg19(m.fold_batch_norm()?),
            AnyModel::MobileNetV2(m) => AnyModel::MobileNetV2(m.fold_batch_norm()?),
            AnyModel::WideResNet(m) => AnyModel::WideResNet(m.fold_batch_norm()?),
            AnyModel::PreActResNet18(m) => AnyModel::PreActResNet18(m.fold_batch_norm()?),
            AnyModel::ResNet50(m) => AnyModel::ResNet50(m.fold_batch_norm()?),
            AnyModel::Vgg19Bn(m) => AnyModel::Vgg19Bn(m.fold_batch_norm()?),
        })
    }
}
