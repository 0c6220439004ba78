//! PyTorch interoperability: load PyTorch state dicts (`.pt`/`.pth`) and `.safetensors` files
//! into advcal's models, and export advcal weights as safetensors that PyTorch reads — all
//! through Burn's own store (`burn::store`, the burn-store crate).
//!
//! ```
//! use advcal::interop::{load_pytorch, save_safetensors, WeightLayout};
//! use advcal::model::{AnyModelConfig, Architecture, Classifier};
//! use burn::backend::NdArray;
//! use burn::prelude::*;
//!
//! let device = Default::default();
//! let mut config = AnyModelConfig::new(Architecture::ResNet18, 10);
//! config.width_divisor = 16; // 4-channel first stage: a quick example
//! let model = config.init::<NdArray>(&device);
//!
//! // Export under kuangliu/pytorch-cifar's names (`conv1`, `layer1.0.bn1`, `linear`, ...): in
//! // PyTorch, `ResNet18().load_state_dict(safetensors.torch.load_file(path))` reads it.
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("resnet18.safetensors");
//! save_safetensors(&model, &path, &WeightLayout::KuangliuCifar).unwrap();
//!
//! // ... and load it back (a `.pt`/`.pth` file written by `torch.save` loads the same way).
//! let layout = WeightLayout::KuangliuCifar;
//! let loaded = load_pytorch::<NdArray>(&path, &config, &layout, &device).unwrap();
//! let x = Tensor::<NdArray, 4>::full([2, 3, 32, 32], 0.5, &device);
//! // Equal tensors; the logits agree to float reassociation (the loaded Linear weight is a
//! // transposed view, so the matmul may sum in another order).
//! let diff: f32 = (model.logits(x.clone()) - loaded.logits(x)).abs().max().into_scalar();
//! assert!(diff < 1e-5);
//! ```
//!
//! # Layouts
//!
//! A [`WeightLayout`] names the key convention of the *file*; advcal maps it onto its own
//! parameter paths (`stem`, `stem_bn`, `blocks.3.bn1`, `fc`, ...):
//!
//! | architecture | [`KuangliuCifar`](WeightLayout::KuangliuCifar) | [`Torchvision`](WeightLayout::Torchvision) | [`RobustBench`](WeightLayout::RobustBench) | [`DeepMind`](WeightLayout::DeepMind) | [`Native`](WeightLayout::Native) / [`Custom`](WeightLayout::Custom) |
//! |---|---|---|---|---|---|
//! | ResNet-18 | yes (`models/resnet.py`, `ResNet18()`) | names only (see below) | no | no | yes |
//! | VGG-19 | yes (`models/vgg.py`, `VGG('VGG19')`) | no: other classifier | no | no | yes |
//! | MobileNetV2 | yes (`models/mobilenetv2.py`) | no: other network | no | no | yes |
//! | small CNN | no PyTorch counterpart | no | no | no | yes |
//! | WideResNet | no | no | yes (TRADES' `WideResNet`) | yes (`dm_wide_resnet.py`) | yes |
//! | PreAct ResNet-18 | no | no | yes (Wong et al.'s `PreActResNet18`) | no: 3×3 shortcuts | yes |
//! | ResNet-50 | no | yes (`resnet50`) | no | no | yes |
//! | VGG-19-BN | no | yes (`vgg19_bn`) | no | no | yes |
//!
//! The WideResNet, PreAct ResNet-18, ResNet-50 and VGG-19-BN layouts were checked against the
//! architectures' own PyTorch code (`scripts/published_oracle.py`: torchvision's models
//! themselves, and our definitions of the others written from their published sources): equal
//! logits on real images.
//!
//! An unsupported pair is an [`Error::UnsupportedLayout`], before any file is read. The
//! structures were checked against the kuangliu/pytorch-cifar sources:
//!
//! * **ResNet-18**: 3×3 stride-1 stem without max-pool, `BasicBlock`s with a 1×1 conv + BN
//!   shortcut when the stride or width changes, average pooling over the final 4×4 map (global
//!   for 32×32 inputs), `Linear(512, 10)`: the same network as advcal's
//!   [`ResNet18`](crate::model::ResNet18). The oracle of `scripts/torch_oracle.py` (base width 16)
//!   is `width_divisor = 4`. A network with a down-sampling stem (`stride=2` in `conv1`, e.g. for
//!   64×64 Tiny ImageNet) needs
//!   [`AnyModelConfig::stem_stride`](crate::model::AnyModelConfig::stem_stride) `= 2`: a state dict does not record strides, so it also loads into the stride-1 network,
//!   which then computes something else.
//! * **VGG-19**: `features` is one `nn.Sequential` of `Conv2d(bias=True)`, `BatchNorm2d`, `ReLU`
//!   per conv and `MaxPool2d(2, 2)` per `'M'` (plus a parameterless `AvgPool2d(1)`), so conv *k*
//!   sits at the index computed from the VGG-19 plan (0, 3, 7, 10, 14, ..., 49) and its BatchNorm
//!   at the next index; the classifier is a single `Linear(512, 10)` after the five pools have
//!   shrunk 32×32 to 1×1. advcal's [`Vgg19`](crate::model::Vgg19) is the same (its global average
//!   pool is the identity on 1×1 maps).
//! * **MobileNetV2**: stride-1 stem `conv1` 3→32, blocks with settings
//!   (1,16,1,1), (6,24,2,1), (6,32,3,2), (6,64,4,2), (6,96,3,1), (6,160,3,2), (6,320,1,1),
//!   an expansion conv even for expansion 1, a conv + BN shortcut when the stride is 1 and the
//!   width changes, the final `conv2` 320→1280 + `bn2`, average pooling, `Linear(1280, 10)`: the
//!   same as advcal's [`MobileNetV2`](crate::model::MobileNetV2) (`expand`/`depthwise`/`project`
//!   are kuangliu's `conv1`/`conv2`/`conv3`).
//! * **Torchvision**: its ImageNet `resnet50` and `vgg19_bn` load into advcal's
//!   [`ResNet50`](crate::model::ResNet50) and [`Vgg19Bn`](crate::model::Vgg19Bn), which are
//!   those networks. For ResNet-18 the layout is *names* only (`downsample` for the shortcut,
//!   `fc` for the head) onto advcal's CIFAR ResNet-18: torchvision's own ImageNet `resnet18` has
//!   a 7×7 stride-2 stem and a max-pool, so its `conv1.weight` fails with a shape error. A CIFAR
//!   ResNet-18 built from torchvision's class with `conv1 = Conv2d(3, 64, 3, 1, 1, bias=False)`
//!   loads — but if its `maxpool` was kept (not replaced by `nn.Identity()`), the weights load
//!   while the PyTorch network computes something else; the file cannot tell. Its
//!   `mobilenet_v2` (stride-2 stem, ReLU6, no shortcut convs, no expansion conv in the first
//!   block) does not fit advcal's CIFAR MobileNetV2.
//! * **RobustBench / DeepMind**: see [`WeightLayout::RobustBench`] and
//!   [`WeightLayout::DeepMind`]; which PreAct variant and activation a RobustBench entry needs is
//!   in `docs/published-layouts.md`.
//!
//! # Conventions and strictness
//!
//! * Conv weights are `[out, in/groups, kh, kw]` in both frameworks. Linear weights are
//!   PyTorch's `[out, in]` in the file and transposed to Burn's `[in, out]` (Burn's
//!   `PyTorchToBurnAdapter`/`BurnToPyTorchAdapter`). BatchNorm's `weight`/`bias` are Burn's
//!   `gamma`/`beta`; `running_mean`/`running_var` are loaded and written;
//!   `num_batches_tracked` is ignored on load and not written (PyTorch's `load_state_dict` fills
//!   it in for state dicts without version metadata).
//! * Loading is **strict**: every tensor of the model must be in the file with exactly its shape
//!   ([`Error::Weights`] naming advcal's path, the file key and both shapes otherwise), float
//!   tensors must have the model's float dtype (no silent `f64`/`f16` conversion), and every
//!   tensor of the file must be used, except `*.num_batches_tracked`. A tensor that would be
//!   silently ignored usually means a wrong architecture, width, number of classes or layout, so
//!   it is an error too.
//! * With the built-in layouts, a prefix of wrapper names shared by **all** keys is dropped:
//!   `module.` (`nn.DataParallel`), `net.` (kuangliu's `ckpt.pth` = `{'net': state_dict, 'acc':
//!   ..., 'epoch': ...}`; nested dicts are flattened to `net.module.conv1.weight`), `model.`,
//!   `state_dict.`, `model_state_dict.`. A file that also holds other tensors (an optimizer
//!   state) needs [`Custom`](WeightLayout::Custom) rules.
//! * The **input normalisation** is usually not in a state dict: advcal's models normalise
//!   inside, with the constants of [`AnyModelConfig`] (by default the architecture's,
//!   [`Architecture::default_normalization`]: for the CIFAR networks the CIFAR-10 mean and std,
//!   std = (0.2470, 0.2435, 0.2616)). A PyTorch model trained with other constants — kuangliu's
//!   `main.py` uses std = (0.2023, 0.1994, 0.2010) — sees slightly different inputs after
//!   loading. Files that **do** store it (RobustBench's `mu`/`sigma`, DeepMind's `mean`/`std`:
//!   top-level tensors of one value per channel) are loaded with their own constants when the
//!   config's [`normalization`](AnyModelConfig::normalization) is `None`; a config that sets
//!   other constants (beyond 5e-4) is an [`Error::Weights`].
//! * Layout rules may skip file tensors the network does not use
//!   ([`WeightLayout::ignored_keys`]: TRADES' `sub_block1`); every other unused tensor is an
//!   error.
//! * Saving writes a temporary file next to the target and renames it over the target
//!   (an existing file is replaced; a crash never leaves a half-written file). The metadata is
//!   `{"format": "pt"}`.
//!
//! # Mapping any other layout
//!
//! List the file's keys and shapes with [`inspect`], compare them with advcal's paths (those of
//! a [`Native`](WeightLayout::Native) export, or [`WeightLayout::load_rules`] of a built-in
//! layout), and write [`WeightLayout::Custom`] rules: `(regex, replacement)` pairs applied **in
//! order** to each file key, each to the result of the previous one (Rust `regex` syntax;
//! `$1`/`${name}` insert capture groups; a rule that does not match leaves the key alone). Custom
//! rules replace the built-in ones and the wrapper-prefix removal; they must produce advcal's
//! paths, where BatchNorm parameters may keep PyTorch's names (`bn1.weight` finds `bn1.gamma`).
//! The built-in rules are available to build on:
//!
//! ```no_run
//! use advcal::interop::{inspect, load_pytorch, WeightLayout};
//! use advcal::model::{AnyModelConfig, Architecture};
//! use burn::backend::NdArray;
//!
//! for (key, shape) in inspect("ckpt.pth")? {
//!     println!("{key:40} {shape:?}"); // e.g. `backbone.layer1.0.conv1.weight  [64, 64, 3, 3]`
//! }
//! // A kuangliu ResNet-18 stored under `backbone.`, with its head renamed to `head`:
//! let mut rules = vec![
//!     (r"^backbone\.".to_string(), String::new()),
//!     (r"^head\.".to_string(), "linear.".to_string()),
//! ];
//! rules.extend(WeightLayout::KuangliuCifar.load_rules(Architecture::ResNet18)?); // linear. -> fc.
//! let config = AnyModelConfig::new(Architecture::ResNet18, 10);
//! let layout = WeightLayout::Custom(rules);
//! let _model = load_pytorch::<NdArray>("ckpt.pth", &config, &layout, &Default::default())?;
//! # Ok::<(), advcal::Error>(())
//! ```
//!
//! For [`save_safetensors`] the rules of a `Custom` layout run the other way: on advcal's paths
//! (with BatchNorm's `gamma`/`beta` already renamed `weight`/`bias`), producing the file keys.

mod export;
mod layouts;
mod load;
mod normalization;

pub use export::save_safetensors;
pub use layouts::WeightLayout;
pub use load::load_pytorch;
pub use normalization::stored_normalization;

use crate::error::{Error, Result};
use crate::model::{AnyModel, AnyModelConfig, Architecture, NormalizationConfig};
use burn::module::Module;
use burn::prelude::Backend;
use burn::store::{
    ApplyError, ApplyResult, BurnToPyTorchAdapter, KeyRemapper, ModuleAdapter, ModuleSnapshot,
    ModuleStore, PyTorchToBurnAdapter, PytorchStore, SafetensorsStore, TensorSnapshot,
};
use burn::tensor::{DType, Tensor};
use layouts::anchored;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Compiles rules into Burn's [`KeyRemapper`] (an invalid regex is an error, not the panic of
/// the stores' `with_key_remapping`).
fn compile(rules: &[(String, String)]) -> Result<KeyRemapper> {
    let mut remapper = KeyRemapper::new();
    for (from, to) in rules {
        remapper = remapper
            .add_pattern(from, to.clone())
            .map_err(|e| Error::param("layout", format!("invalid regex `{from}`: {e}")))?;
    }
    Ok(remapper)
}

/// One name through the rules, exactly as `KeyRemapper::remap` rewrites a snapshot's path.
fn remap_name(remapper: &KeyRemapper, name: &str) -> String {
    let mut out = name.to_string();
    for (pattern, replacement) in &remapper.patterns {
        if pattern.is_match(&out) {
            out = pattern.replace_all(&out, replacement.as_str()).into_owned();
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Pytorch,
    Safetensors,
}

impl Format {
    fn of(path: &Path) -> Result<Self> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("pt" | "pth") => Ok(Self::Pytorch),
            Some("safetensors") => Ok(Self::Safetensors),
            _ => Err(Error::param(
                "weights file",
                format!(
                    "`{}` has an unknown extension; expected .pt or .pth (a PyTorch state dict) \
                     or .safetensors",
                    path.display()
                ),
            )),
        }
    }
}

fn file_error(path: &Path, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::WeightsFile {
        path: path.to_path_buf(),
        source: Box::new(e),
    }
}

fn weights(path: &Path, key: &str, reason: impl Into<String>) -> Error {
    Error::Weights {
        path: path.to_path_buf(),
        key: key.to_string(),
        reason: reason.into(),
    }
}

fn and_more(reason: String, more: usize, what: &str) -> String {
    if more == 0 {
        reason
    } else {
        format!("{reason} (and {more} more {what})")
    }
}

/// A tensor of a weight file, as its header or pickle describes it (no data is read).
struct FileTensor {
    key: String,
    shape: Vec<usize>,
    dtype: DType,
}

fn listing(all: &BTreeMap<String, TensorSnapshot>) -> Vec<FileTensor> {
    all.iter()
        .map(|(key, snapshot)| FileTensor {
            key: key.clone(),
            shape: snapshot.shape.to_vec(),
            dtype: snapshot.dtype,
        })
        .collect()
}

/// The tensors of a file with their raw keys (no remapping, no index renumbering), sorted.
fn read_listing(path: &Path) -> Result<Vec<FileTensor>> {
    let format = Format::of(path)?;
    std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    Ok(match format {
        Format::Pytorch => {
            let mut store = PytorchStore::from_file(path).map_indices_contiguous(false);
            listing(store.get_all_snapshots().map_err(|e| file_error(path, e))?)
        }
        Format::Safetensors => {
            let mut store = SafetensorsStore::from_file(path);
            listing(store.get_all_snapshots().map_err(|e| file_error(path, e))?)
        }
    })
}

/// The keys and shapes of the tensors in a `.pt`/`.pth` or `.safetensors` file, sorted by key
/// (as stored: no layout applied, nested dictionaries flattened with dots). Reads only the
/// header (safetensors) or the pickle (PyTorch), not the tensor data.
///
/// # Errors
///
/// [`Error::InvalidParameter`] for a file name without a `.pt`, `.pth` or `.safetensors`
/// extension; [`Error::Io`] when the file cannot be accessed; [`Error::WeightsFile`] when it
/// cannot be parsed.
///
/// ```
/// use advcal::interop::{inspect, save_safetensors, WeightLayout};
/// use advcal::model::{AnyModelConfig, Architecture};
/// use burn::backend::NdArray;
///
/// let mut config = AnyModelConfig::new(Architecture::ResNet18, 10);
/// config.width_divisor = 16;
/// let model = config.init::<NdArray>(&Default::default());
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("resnet18.safetensors");
/// save_safetensors(&model, &path, &WeightLayout::KuangliuCifar).unwrap();
///
/// let keys = inspect(&path).unwrap();
/// assert!(keys.contains(&("conv1.weight".to_string(), vec![4, 3, 3, 3])));
/// assert!(keys.contains(&("linear.weight".to_string(), vec![10, 32]))); // PyTorch's [out, in]
/// assert!(keys.contains(&("layer2.0.shortcut.1.running_var".to_string(), vec![8])));
/// ```
pub fn inspect(path: impl AsRef<Path>) -> Result<Vec<(String, Vec<usize>)>> {
    Ok(read_listing(path.as_ref())?
        .into_iter()
        .map(|t| (t.key, t.shape))
        .collect())
}

/// Wrapper names that `torch.save` users put around a state dict.
const WRAPPERS: [&str; 5] = ["module", "net", "model", "state_dict", "model_state_dict"];

/// The longest prefix of wrapper segments (`net.module.`) that every key starts with.
fn wrapper_prefix(file: &[FileTensor]) -> String {
    let mut prefix = String::new();
    if file.is_empty() {
        return prefix;
    }
    loop {
        let mut common: Option<&str> = None;
        for tensor in file {
            // Every key starts with `prefix` (checked in the previous rounds).
            let rest = &tensor.key[prefix.len()..];
            let Some((segment, _)) = rest.split_once('.') else {
                return prefix;
            };
            if !WRAPPERS.contains(&segment) || common.is_some_and(|c| c != segment) {
                return prefix;
            }
            common = Some(segment);
        }
        match common {
            Some(segment) => {
                prefix.push_str(segment);
                prefix.push('.');
            }
            None => return prefix,
        }
    }
}

/// BatchNorm's Burn parameter names → PyTorch's (the only `gamma`/`beta` in advcal's models).
fn pytorch_name(path: &str) -> String {
    if let Some(stem) = path.strip_suffix(".gamma") {
        format!("{stem}.weight")
    } else if let Some(stem) = path.strip_suffix(".beta") {
        format!("{stem}.bias")
    } else {
        path.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapper_prefixes() {
        let file = |keys: &[&str]| -> Vec<FileTensor> {
            keys.iter()
                .map(|k| FileTensor {
                    key: k.to_string(),
                    shape: vec![1],
                    dtype: DType::F32,
                })
                .collect()
        };
        assert_eq!(
            wrapper_prefix(&file(&[
                "net.module.conv1.weight",
                "net.module.linear.bias"
            ])),
            "net.module."
        );
        assert_eq!(wrapper_prefix(&file(&["module.conv1.weight"])), "module.");
        assert_eq!(wrapper_prefix(&file(&["conv1.weight", "module.x"])), "");
        assert_eq!(
            wrapper_prefix(&file(&["model.conv1.weight", "optimizer.state.0.m"])),
            ""
        );
        assert_eq!(wrapper_prefix(&file(&[])), "");
    }

    #[test]
    fn invalid_custom_regex_is_an_error() {
        let rules = vec![("(".to_string(), String::new())];
        assert!(matches!(
            compile(&rules),
            Err(Error::InvalidParameter { .. })
        ));
    }
}
