//! The key-name conventions of published weight files ([`WeightLayout`]) and the rules that map
//! them onto advcal's parameter paths.

use crate::error::{Error, Result};
use crate::model::Architecture;

/// The key-name convention of a weight file: how its tensor names correspond to advcal's
/// parameter paths (see the [module docs](crate::interop) for the supported pairs and the
/// rules).
///
/// ```
/// use advcal::interop::WeightLayout;
/// use advcal::model::Architecture;
///
/// let rules = WeightLayout::KuangliuCifar.load_rules(Architecture::ResNet18).unwrap();
/// assert!(rules.contains(&(r"^linear\.".to_string(), "fc.".to_string())));
/// assert!(WeightLayout::Torchvision.load_rules(Architecture::Vgg19).is_err());
/// assert!(WeightLayout::Torchvision.load_rules(Architecture::Vgg19Bn).is_ok());
/// assert_eq!(WeightLayout::parse("kuangliu").unwrap(), WeightLayout::KuangliuCifar);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WeightLayout {
    /// The CIFAR models of [kuangliu/pytorch-cifar](https://github.com/kuangliu/pytorch-cifar),
    /// the usual CIFAR-10 reference implementations:
    /// * ResNet-18: `conv1`, `bn1`, `layer{1..4}.{0,1}.{conv1,bn1,conv2,bn2}`,
    ///   `layer{2,3,4}.0.shortcut.{0,1}`, `linear`;
    /// * `VGG('VGG19')`: `features.<i>` (one `Sequential` of Conv2d/BatchNorm2d/ReLU/MaxPool2d),
    ///   `classifier` (`Linear(512, 10)`);
    /// * MobileNetV2: `conv1`, `bn1`, `layers.<n>.{conv1,bn1,conv2,bn2,conv3,bn3,shortcut.{0,1}}`,
    ///   `conv2`, `bn2`, `linear`.
    KuangliuCifar,
    /// torchvision's module names:
    /// * `resnet50` ([`ResNet50`](crate::model::ResNet50)): `conv1`, `bn1`,
    ///   `layer{1..4}.<i>.{conv1, bn1, conv2, bn2, conv3, bn3, downsample.{0,1}}`, `fc`: advcal's
    ///   own paths;
    /// * `vgg19_bn` ([`Vgg19Bn`](crate::model::Vgg19Bn)): `features.<i>` (convs at 0, 3, 7, 10,
    ///   14, …, 49, each BatchNorm at the next index), `classifier.{0, 3, 6}`;
    /// * ResNet-18, as *names* only: as [`KuangliuCifar`](Self::KuangliuCifar) with
    ///   `downsample.{0,1}` for the shortcut and `fc` for the head; the network must be a CIFAR
    ///   ResNet-18 (3×3 stem, no max-pool).
    Torchvision,
    /// The RobustBench model zoo's names for its CIFAR-10 architectures:
    /// * [`WideResNet`](crate::model::WideResNet), the TRADES code's `WideResNet`: `conv1`,
    ///   `block{1,2,3}.layer.<i>.{bn1, conv1, bn2, conv2, convShortcut}`, `bn1`, `fc`. The
    ///   `sub_block1.*` tensors that TRADES' class builds but never uses (present in the
    ///   checkpoints of `Zhang2019Theoretically`, `Carmon2019Unlabeled`, …) are skipped;
    /// * [`PreActResNet18`](crate::model::PreActResNet18), Wong et al.'s `PreActResNet18` (also
    ///   Rice et al.'s): `conv1`, `layer{1..4}.{0,1}.{bn1, conv1, bn2, conv2, shortcut.0}`, `bn`
    ///   (with [`final_bn`](crate::model::PreActResNet18Config::final_bn)), `linear`.
    RobustBench,
    /// DeepMind's WideResNet (`dm_wide_resnet.py` of RobustBench: Gowal et al. 2020/2021,
    /// Rebuffi et al. 2021): `init_conv`, `layer.<g>.block.<i>.{batchnorm_0, conv_0,
    /// batchnorm_1, conv_1, shortcut}`, `batchnorm`, `logits`. Build the model with
    /// [`tf_same_padding`](crate::model::WideResNetConfig::tf_same_padding) and, for those
    /// entries, [`Activation::Silu`](crate::model::Activation::Silu). Their PreAct ResNet-18
    /// (3×3 shortcut convolutions) is a different network and not supported.
    DeepMind,
    /// advcal's own paths (`stem`, `stem_bn`, `blocks.<i>.conv1`, `fc`, ...) with PyTorch's
    /// tensor conventions (BatchNorm `weight`/`bias`, Linear `[out, in]`): what
    /// [`save_safetensors`](crate::interop::save_safetensors) writes with this layout. Every architecture supports it.
    Native,
    /// User rules `(regex, replacement)`, applied in order to every key, **instead of** the
    /// built-in rules. On load they map file keys to advcal paths; on save, advcal paths (with
    /// BatchNorm's `weight`/`bias` names) to file keys. See the [module docs](crate::interop).
    Custom(Vec<(String, String)>),
}

impl WeightLayout {
    /// Short name: `"kuangliu"`, `"torchvision"`, `"robustbench"`, `"deepmind"`, `"native"` or
    /// `"custom"`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::KuangliuCifar => "kuangliu",
            Self::Torchvision => "torchvision",
            Self::RobustBench => "robustbench",
            Self::DeepMind => "deepmind",
            Self::Native => "native",
            Self::Custom(_) => "custom",
        }
    }

    /// Parses the name of a built-in layout (see [`WeightLayout::name`]; `kuangliu_cifar` and
    /// `trades` are accepted too).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] for any other name.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "kuangliu" | "kuangliu_cifar" => Ok(Self::KuangliuCifar),
            "torchvision" => Ok(Self::Torchvision),
            "robustbench" | "trades" => Ok(Self::RobustBench),
            "deepmind" => Ok(Self::DeepMind),
            "native" => Ok(Self::Native),
            _ => Err(Error::param(
                "layout",
                format!(
                    "unknown `{name}`; expected one of kuangliu, torchvision, robustbench, \
                     deepmind, native"
                ),
            )),
        }
    }

    /// The rules that turn this layout's file keys into advcal's paths for `architecture`
    /// (`(regex, replacement)`, applied in order). Empty for [`Native`](Self::Native); the
    /// rules themselves for [`Custom`](Self::Custom). The wrapper-prefix removal of the module
    /// docs is not included.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedLayout`] when this layout has no correspondence for `architecture`.
    pub fn load_rules(&self, architecture: Architecture) -> Result<Vec<(String, String)>> {
        if let Self::Custom(rules) = self {
            return Ok(rules.clone());
        }
        Ok(self
            .prefix_pairs(architecture)?
            .into_iter()
            .map(|(file, advcal)| (anchored(&file), replacement(&advcal)))
            .collect())
    }

    /// The inverse of [`WeightLayout::load_rules`]: advcal paths (BatchNorm parameters already
    /// named `weight`/`bias`) to this layout's file keys, as [`save_safetensors`](crate::interop::save_safetensors) applies them.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedLayout`] when this layout has no correspondence for `architecture`.
    pub fn save_rules(&self, architecture: Architecture) -> Result<Vec<(String, String)>> {
        if let Self::Custom(rules) = self {
            return Ok(rules.clone());
        }
        Ok(self
            .prefix_pairs(architecture)?
            .into_iter()
            .map(|(file, advcal)| (anchored(&advcal), replacement(&file)))
            .collect())
    }

    /// File keys (regexes, matched after the wrapper prefix is removed) that this layout's
    /// files may hold and the model does not use: loading skips them instead of reporting
    /// them as unexpected. Only TRADES' unused `sub_block1` (RobustBench WideResNet).
    pub fn ignored_keys(&self, architecture: Architecture) -> Vec<String> {
        match (self, architecture) {
            (Self::RobustBench, Architecture::WideResNet) => vec![r"^sub_block1\.".to_string()],
            _ => Vec::new(),
        }
    }

    /// Prefix correspondences `(file prefix, advcal prefix)`, most specific first, where `{}`
    /// stands for a number (the same numbers, in the same order, on both sides). In either
    /// direction exactly the first matching pair rewrites a key and no later one matches the
    /// result (checked by the unit tests and the round trips of `tests/it/interop.rs`).
    pub(super) fn prefix_pairs(&self, architecture: Architecture) -> Result<Vec<(String, String)>> {
        let unsupported = |reason: &str| Error::UnsupportedLayout {
            architecture: architecture.name().to_string(),
            layout: self.name().to_string(),
            reason: reason.to_string(),
        };
        match (self, architecture) {
            (Self::Native | Self::Custom(_), _) => Ok(Vec::new()),
            (_, Architecture::SmallCnn) => Err(unsupported(
                "advcal's small CNN has no PyTorch reference implementation; use the native layout",
            )),
            (Self::KuangliuCifar, Architecture::ResNet18) => Ok(resnet18_pairs(false)),
            (Self::Torchvision, Architecture::ResNet18) => Ok(resnet18_pairs(true)),
            (Self::KuangliuCifar, Architecture::Vgg19) => Ok(vgg19_pairs()),
            (Self::KuangliuCifar, Architecture::MobileNetV2) => Ok(mobilenet_v2_pairs()),
            (Self::Torchvision, Architecture::Vgg19) => Err(unsupported(
                "torchvision's vgg19_bn ends in a 7x7 adaptive pool and a three-layer 4096-wide \
                 classifier; advcal's VGG-19 has the CIFAR head (one Linear 512 -> K)",
            )),
            (Self::Torchvision, Architecture::MobileNetV2) => Err(unsupported(
                "torchvision's mobilenet_v2 is the ImageNet network (stride-2 stem, ReLU6, no \
                 shortcut convs, no expansion conv in the first block); advcal's is the CIFAR \
                 variant of kuangliu/pytorch-cifar",
            )),
            (Self::Torchvision, Architecture::ResNet50) => Ok(Vec::new()),
            (Self::Torchvision, Architecture::Vgg19Bn) => Ok(vgg19_bn_pairs()),
            (Self::RobustBench, Architecture::WideResNet) => Ok(pairs(&[(
                "block{}.layer.{}.convShortcut.",
                "block{}.layer.{}.shortcut.",
            )])),
            (Self::RobustBench, Architecture::PreActResNet18) => {
                Ok(pairs(&[("layer{}.{}.shortcut.0.", "layer{}.{}.shortcut.")]))
            }
            (Self::DeepMind, Architecture::WideResNet) => Ok(deepmind_wrn_pairs()),
            (Self::KuangliuCifar | Self::Torchvision | Self::RobustBench | Self::DeepMind, _) => {
                Err(unsupported(&format!(
                    "the {} layout covers {}",
                    self.name(),
                    match self {
                        Self::KuangliuCifar => "resnet18, vgg19 and mobilenet_v2",
                        Self::Torchvision => "resnet50, vgg19_bn and (names only) resnet18",
                        Self::RobustBench => "wide_resnet and preact_resnet18",
                        _ => "wide_resnet",
                    }
                )))
            }
        }
    }
}

/// `^` + the prefix as a regex (the prefixes hold only `[A-Za-z0-9_.]` and `{}`, a number).
pub(super) fn anchored(prefix: &str) -> String {
    format!("^{}", prefix.replace('.', r"\.").replace("{}", r"(\d+)"))
}

/// A prefix as a regex replacement: its k-th `{}` is the k-th captured number.
fn replacement(prefix: &str) -> String {
    let mut parts = prefix.split("{}");
    let mut out = parts.next().unwrap_or_default().to_string();
    for (k, part) in parts.enumerate() {
        out.push_str(&format!("${{{}}}", k + 1));
        out.push_str(part);
    }
    out
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// ResNet-18: `layer<l>.<b>` is advcal's `blocks.<2(l-1)+b>`; kuangliu's `shortcut.{0,1}` is
/// already advcal's `(Conv2d, BatchNorm)` tuple path.
fn resnet18_pairs(torchvision: bool) -> Vec<(String, String)> {
    let mut out = pairs(&[("conv1.", "stem."), ("bn1.", "stem_bn.")]);
    let blocks = (1..=4).flat_map(|layer| (0..2).map(move |block| (layer, block)));
    for (i, (layer, block)) in blocks.enumerate() {
        if torchvision {
            out.push((
                format!("layer{layer}.{block}.downsample."),
                format!("blocks.{i}.shortcut."),
            ));
        }
        out.push((format!("layer{layer}.{block}."), format!("blocks.{i}.")));
    }
    if !torchvision {
        // torchvision's head is `fc`, as advcal's.
        out.push(("linear.".to_string(), "fc.".to_string()));
    }
    out
}

/// Index of each conv in the `features` Sequential of kuangliu's and torchvision's VGG-19 (both
/// follow the same plan, `cfg['VGG19']` / configuration `"E"`): a conv takes three indices
/// (Conv2d, BatchNorm2d, ReLU), a max-pool one. Its BatchNorm is at the next index.
fn vgg19_conv_indices() -> Vec<usize> {
    let mut index = 0;
    let mut convs = Vec::new();
    for &width in crate::model::VGG19_PLAN.iter() {
        if width == 0 {
            index += 1;
        } else {
            convs.push(index);
            index += 3;
        }
    }
    convs
}

fn vgg19_pairs() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (k, i) in vgg19_conv_indices().into_iter().enumerate() {
        out.push((format!("features.{i}."), format!("convs.{k}.")));
        out.push((format!("features.{}.", i + 1), format!("bns.{k}.")));
    }
    out.push(("classifier.".to_string(), "fc.".to_string()));
    out
}

/// torchvision's `vgg19_bn`: the same `features` indices as kuangliu's, and the three linear
/// layers of `classifier` at 0, 3 and 6 (ReLU and Dropout in between).
fn vgg19_bn_pairs() -> Vec<(String, String)> {
    let mut out = vgg19_pairs();
    out.pop();
    for (k, i) in [0, 3, 6].into_iter().enumerate() {
        out.push((format!("classifier.{i}."), format!("fc.{k}.")));
    }
    out
}

/// DeepMind's WideResNet: `layer.<g>.block.<i>` is advcal's (TRADES') `block<g+1>.layer.<i>`.
fn deepmind_wrn_pairs() -> Vec<(String, String)> {
    let mut out = pairs(&[
        ("init_conv.", "conv1."),
        ("batchnorm.", "bn1."),
        ("logits.", "fc."),
    ]);
    for g in 0..3 {
        for (theirs, ours) in [
            ("batchnorm_0", "bn1"),
            ("conv_0", "conv1"),
            ("batchnorm_1", "bn2"),
            ("conv_1", "conv2"),
            ("shortcut", "shortcut"),
        ] {
            out.push((
                format!("layer.{g}.block.{{}}.{theirs}."),
                format!("block{}.layer.{{}}.{ours}.", g + 1),
            ));
        }
    }
    out
}

fn mobilenet_v2_pairs() -> Vec<(String, String)> {
    let mut out = pairs(&[
        ("conv1.", "stem."),
        ("bn1.", "stem_bn."),
        ("conv2.", "head."),
        ("bn2.", "head_bn."),
        ("linear.", "fc."),
    ]);
    // advcal's MobileNetV2 follows kuangliu's `cfg` (expansion, out_planes, num_blocks, stride).
    let blocks: usize = crate::model::MOBILENET_V2_CFG.iter().map(|c| c.2).sum();
    for n in 0..blocks {
        out.push((format!("layers.{n}.conv1."), format!("blocks.{n}.expand.")));
        out.push((
            format!("layers.{n}.conv2."),
            format!("blocks.{n}.depthwise."),
        ));
        out.push((format!("layers.{n}.conv3."), format!("blocks.{n}.project.")));
        // bn1/bn2/bn3 and shortcut.{0,1} keep their names.
        out.push((format!("layers.{n}."), format!("blocks.{n}.")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interop::{compile, remap_name};
    use std::collections::HashSet;

    #[test]
    fn vgg19_indices_follow_the_plan() {
        assert_eq!(
            vgg19_conv_indices(),
            [0, 3, 7, 10, 14, 17, 20, 23, 27, 30, 33, 36, 40, 43, 46, 49]
        );
    }

    #[test]
    fn mobilenet_has_17_blocks() {
        let pairs = mobilenet_v2_pairs();
        assert!(pairs.contains(&("layers.16.".to_string(), "blocks.16.".to_string())));
        assert!(!pairs.iter().any(|(f, _)| f == "layers.17."));
    }

    /// Every prefix pair survives save → load, and no rule re-matches the output of another.
    #[test]
    fn rules_are_inverse_bijections() {
        let layouts = [
            (WeightLayout::KuangliuCifar, Architecture::ResNet18),
            (WeightLayout::Torchvision, Architecture::ResNet18),
            (WeightLayout::KuangliuCifar, Architecture::Vgg19),
            (WeightLayout::KuangliuCifar, Architecture::MobileNetV2),
            (WeightLayout::Torchvision, Architecture::Vgg19Bn),
            (WeightLayout::RobustBench, Architecture::WideResNet),
            (WeightLayout::RobustBench, Architecture::PreActResNet18),
            (WeightLayout::DeepMind, Architecture::WideResNet),
        ];
        for (layout, arch) in layouts {
            let load = compile(&layout.load_rules(arch).unwrap()).unwrap();
            let save = compile(&layout.save_rules(arch).unwrap()).unwrap();
            let mut seen = HashSet::new();
            for (file, advcal) in layout.prefix_pairs(arch).unwrap() {
                let number = |p: &str| p.replacen("{}", "3", 1).replacen("{}", "12", 1);
                let file_key = format!("{}weight", number(&file));
                let advcal_path = format!("{}weight", number(&advcal));
                assert_eq!(
                    remap_name(&load, &file_key),
                    advcal_path,
                    "{layout:?} {arch:?}"
                );
                assert_eq!(
                    remap_name(&save, &advcal_path),
                    file_key,
                    "{layout:?} {arch:?}"
                );
                assert!(seen.insert(advcal_path), "{layout:?} {arch:?}: duplicate");
            }
        }
    }

    #[test]
    fn examples_of_the_mappings() {
        let load = |layout: &WeightLayout, arch, key: &str| {
            remap_name(&compile(&layout.load_rules(arch).unwrap()).unwrap(), key)
        };
        let k = WeightLayout::KuangliuCifar;
        let r = Architecture::ResNet18;
        assert_eq!(
            load(&k, r, "layer3.1.bn2.running_var"),
            "blocks.5.bn2.running_var"
        );
        assert_eq!(
            load(&k, r, "layer4.0.shortcut.1.weight"),
            "blocks.6.shortcut.1.weight"
        );
        assert_eq!(load(&k, r, "bn1.bias"), "stem_bn.bias");
        let t = WeightLayout::Torchvision;
        assert_eq!(
            load(&t, r, "layer2.0.downsample.0.weight"),
            "blocks.2.shortcut.0.weight"
        );
        assert_eq!(load(&t, r, "fc.weight"), "fc.weight");
        let v = Architecture::Vgg19;
        assert_eq!(load(&k, v, "features.49.bias"), "convs.15.bias");
        assert_eq!(
            load(&k, v, "features.50.running_mean"),
            "bns.15.running_mean"
        );
        assert_eq!(load(&k, v, "classifier.weight"), "fc.weight");
        let m = Architecture::MobileNetV2;
        assert_eq!(
            load(&k, m, "layers.0.conv1.weight"),
            "blocks.0.expand.weight"
        );
        assert_eq!(
            load(&k, m, "layers.10.conv2.weight"),
            "blocks.10.depthwise.weight"
        );
        assert_eq!(
            load(&k, m, "layers.1.conv3.weight"),
            "blocks.1.project.weight"
        );
        assert_eq!(
            load(&k, m, "layers.0.shortcut.1.bias"),
            "blocks.0.shortcut.1.bias"
        );
        assert_eq!(load(&k, m, "conv2.weight"), "head.weight");
        assert_eq!(load(&k, m, "bn2.weight"), "head_bn.weight");

        let rb = WeightLayout::RobustBench;
        let w = Architecture::WideResNet;
        assert_eq!(
            load(&rb, w, "block2.layer.0.convShortcut.weight"),
            "block2.layer.0.shortcut.weight"
        );
        assert_eq!(
            load(&rb, w, "block3.layer.11.bn2.running_var"),
            "block3.layer.11.bn2.running_var"
        );
        assert_eq!(load(&rb, w, "bn1.weight"), "bn1.weight");
        let p = Architecture::PreActResNet18;
        assert_eq!(
            load(&rb, p, "layer4.0.shortcut.0.weight"),
            "layer4.0.shortcut.weight"
        );
        assert_eq!(load(&rb, p, "layer1.1.bn2.bias"), "layer1.1.bn2.bias");
        let dm = WeightLayout::DeepMind;
        assert_eq!(
            load(&dm, w, "layer.2.block.9.batchnorm_1.running_mean"),
            "block3.layer.9.bn2.running_mean"
        );
        assert_eq!(
            load(&dm, w, "layer.0.block.0.shortcut.weight"),
            "block1.layer.0.shortcut.weight"
        );
        assert_eq!(load(&dm, w, "init_conv.weight"), "conv1.weight");
        assert_eq!(load(&dm, w, "batchnorm.bias"), "bn1.bias");
        assert_eq!(load(&dm, w, "logits.weight"), "fc.weight");
        let vb = Architecture::Vgg19Bn;
        assert_eq!(load(&t, vb, "features.49.bias"), "convs.15.bias");
        assert_eq!(load(&t, vb, "classifier.3.weight"), "fc.1.weight");
        assert_eq!(load(&t, vb, "classifier.6.bias"), "fc.2.bias");
        assert_eq!(
            load(&t, Architecture::ResNet50, "layer3.5.downsample.1.weight"),
            "layer3.5.downsample.1.weight"
        );
    }

    #[test]
    fn unsupported_pairs_are_typed_errors() {
        for (layout, arch) in [
            (WeightLayout::Torchvision, Architecture::Vgg19),
            (WeightLayout::Torchvision, Architecture::MobileNetV2),
            (WeightLayout::KuangliuCifar, Architecture::SmallCnn),
            (WeightLayout::KuangliuCifar, Architecture::WideResNet),
            (WeightLayout::RobustBench, Architecture::ResNet18),
            (WeightLayout::DeepMind, Architecture::PreActResNet18),
            (WeightLayout::Torchvision, Architecture::WideResNet),
        ] {
            assert!(matches!(
                layout.load_rules(arch),
                Err(Error::UnsupportedLayout { .. })
            ));
        }
        assert!(
            WeightLayout::Native
                .load_rules(Architecture::SmallCnn)
                .unwrap()
                .is_empty()
        );
    }
}
