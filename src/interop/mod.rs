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

mod layouts;

pub use layouts::WeightLayout;

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

/// F32 and Flex32 hold the same values.
fn same_float(a: DType, b: DType) -> bool {
    let f32_like = |d: DType| matches!(d, DType::F32 | DType::Flex32);
    a == b || (f32_like(a) && f32_like(b))
}

/// Everything a load needs besides the model: the file, the rules, and what the file holds.
struct LoadPlan {
    path: PathBuf,
    format: Format,
    remapper: KeyRemapper,
    /// advcal path → file key, for "missing" messages (`None` for custom rules).
    reverse: Option<KeyRemapper>,
    /// The wrapper prefix removed from every key.
    wrapper: String,
    /// Remapped name → (file key, file shape).
    origin: HashMap<String, (String, Vec<usize>)>,
    /// Remapped names of file tensors the model does not use on purpose (the layout's
    /// [`ignored_keys`](WeightLayout::ignored_keys), and normalisation buffers).
    skipped: HashSet<String>,
    /// The input normalisation stored in the file, if any (see [`file_normalization`]).
    normalization: Option<NormalizationConfig>,
}

impl LoadPlan {
    fn new(
        path: &Path,
        layout: &WeightLayout,
        architecture: Architecture,
        float: DType,
    ) -> Result<Self> {
        // Unsupported pairs and unknown extensions fail before the file is opened.
        let mut rules = layout.load_rules(architecture)?;
        let format = Format::of(path)?;
        let file = read_listing(path)?;
        let (wrapper, reverse) = match layout {
            WeightLayout::Custom(_) => (String::new(), None),
            _ => (
                wrapper_prefix(&file),
                Some(compile(&layout.save_rules(architecture)?)?),
            ),
        };
        if !wrapper.is_empty() {
            rules.insert(0, (anchored(&wrapper), String::new()));
        }
        let remapper = compile(&rules)?;
        let mut ignored: Vec<(String, String)> = layout
            .ignored_keys(architecture)
            .into_iter()
            .map(|pattern| (pattern, String::new()))
            .collect();
        let pair = match layout {
            WeightLayout::Custom(_) => None,
            _ => normalization_pair(&wrapper, &file),
        };
        for key in pair.iter().flatten() {
            ignored.push((format!("^{key}$"), String::new()));
        }
        let ignored = compile(&ignored)?;
        let normalization = match pair {
            Some(pair) => Some(file_normalization(path, format, &wrapper, pair)?),
            None => None,
        };

        let mut origin = HashMap::with_capacity(file.len());
        let mut skipped = HashSet::new();
        for tensor in &file {
            if tensor.dtype.is_float() && !same_float(tensor.dtype, float) {
                return Err(weights(
                    path,
                    &tensor.key,
                    format!(
                        "dtype {:?}, but the model computes in {float:?}; convert the state dict \
                         first (in PyTorch: `{{k: v.float() for k, v in sd.items()}}`)",
                        tensor.dtype
                    ),
                ));
            }
            let name = remap_name(&remapper, &tensor.key);
            let unwrapped = tensor.key.strip_prefix(&wrapper).unwrap_or(&tensor.key);
            if ignored.patterns.iter().any(|(p, _)| p.is_match(unwrapped)) {
                skipped.insert(name);
                continue;
            }
            if let Some((other, _)) =
                origin.insert(name.clone(), (tensor.key.clone(), tensor.shape.clone()))
            {
                return Err(weights(
                    path,
                    &name,
                    format!(
                        "the file keys `{other}` and `{}` both map to it; check the layout rules",
                        tensor.key
                    ),
                ));
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            format,
            remapper,
            reverse,
            wrapper,
            origin,
            skipped,
            normalization,
        })
    }

    /// Loads the file into `module` (freshly built) with Burn's store, then checks the result.
    fn load<B: Backend, M: Module<B>>(&self, mut module: M) -> Result<M> {
        // `validate(false)` + `allow_partial(true)`: the store then returns the full
        // `ApplyResult` instead of a formatted string, and `check` turns it into typed errors.
        // `map_indices_contiguous(false)`: the rules already produce advcal's exact indices
        // (PytorchStore would otherwise renumber `features.0, 3, 7` to `0, 1, 2`).
        let result = match self.format {
            Format::Pytorch => {
                let mut store = PytorchStore::from_file(self.path.clone())
                    .remap(self.remapper.clone())
                    .map_indices_contiguous(false)
                    .skip_enum_variants(true)
                    .validate(false)
                    .allow_partial(true);
                <M as ModuleSnapshot<B>>::load_from(&mut module, &mut store)
                    .map_err(|e| file_error(&self.path, e))?
            }
            Format::Safetensors => {
                let mut store = SafetensorsStore::from_file(self.path.clone())
                    .with_from_adapter(PyTorchToBurnAdapter)
                    .remap(self.remapper.clone())
                    .map_indices_contiguous(false)
                    .skip_enum_variants(true)
                    .validate(false)
                    .allow_partial(true);
                <M as ModuleSnapshot<B>>::load_from(&mut module, &mut store)
                    .map_err(|e| file_error(&self.path, e))?
            }
        };
        self.check(&result)?;
        Ok(module)
    }

    /// The file tensor a model path was (or would have been) read from: its own name, or
    /// BatchNorm's PyTorch name (`weight` for `gamma`, `bias` for `beta`).
    fn source_of(&self, model_path: &str) -> Option<&(String, Vec<usize>)> {
        self.origin
            .get(model_path)
            .or_else(|| self.origin.get(&pytorch_name(model_path)))
    }

    /// The file key a model path is expected under (built-in layouts only).
    fn expected_key(&self, model_path: &str) -> Option<String> {
        let reverse = self.reverse.as_ref()?;
        Some(format!(
            "{}{}",
            self.wrapper,
            remap_name(reverse, &pytorch_name(model_path))
        ))
    }

    fn apply_error(&self, error: &ApplyError) -> Error {
        match error {
            ApplyError::ShapeMismatch {
                path,
                expected,
                found,
            } => {
                let expected = expected.to_vec();
                let found = found.to_vec();
                let (file_key, file_shape) = match self.source_of(path) {
                    Some((key, shape)) => (key.clone(), shape.clone()),
                    None => (path.clone(), found.clone()),
                };
                // Linear weights were transposed to Burn's [in, out]: state the need in the
                // file's [out, in] convention.
                let transposed = file_shape.len() == 2
                    && found.len() == 2
                    && expected.len() == 2
                    && file_shape[0] != file_shape[1]
                    && found == [file_shape[1], file_shape[0]];
                let (needed, convention) = if transposed {
                    (vec![expected[1], expected[0]], " (PyTorch's [out, in])")
                } else {
                    (expected, "")
                };
                weights(
                    &self.path,
                    path,
                    format!(
                        "shape mismatch: the model needs {needed:?}{convention}, the file has \
                         {file_shape:?} under `{file_key}` (another width, number of classes or \
                         architecture?)"
                    ),
                )
            }
            ApplyError::LoadError { path, message } => {
                let file_key = self
                    .source_of(path)
                    .map_or(path.as_str(), |(k, _)| k.as_str());
                weights(
                    &self.path,
                    path,
                    format!("cannot read the data of `{file_key}`: {message}"),
                )
            }
            other => {
                let path = match other {
                    ApplyError::DTypeMismatch { path, .. }
                    | ApplyError::AdapterError { path, .. } => path.as_str(),
                    _ => "",
                };
                weights(&self.path, path, other.to_string())
            }
        }
    }

    /// Turns Burn's `ApplyResult` into the first typed error, if any (see the module docs for
    /// the strictness rules).
    fn check(&self, result: &ApplyResult) -> Result<()> {
        if let Some(first) = result.errors.first() {
            return Err(match self.apply_error(first) {
                Error::Weights { path, key, reason } => Error::Weights {
                    path,
                    key,
                    reason: and_more(reason, result.errors.len() - 1, "errors"),
                },
                other => other,
            });
        }
        if let Some((model_path, _)) = result.missing.first() {
            let reason = match self.expected_key(model_path) {
                Some(key) => format!("missing from the file (expected under `{key}`)"),
                None => "missing from the file (no file key maps to it under the custom rules)"
                    .to_string(),
            };
            return Err(weights(
                &self.path,
                model_path,
                and_more(reason, result.missing.len() - 1, "missing tensors"),
            ));
        }
        let applied: HashSet<&str> = result.applied.iter().map(String::as_str).collect();
        let ignorable = |name: &str| {
            self.skipped.contains(name)
                || match name.rsplit_once('.') {
                    Some((_, "num_batches_tracked")) => true,
                    // BatchNorm `weight`/`bias` found by Burn's alternative-name lookup for
                    // `gamma`/`beta` are never marked as used (burn-store 0.21 applier).
                    Some((stem, "weight")) => applied.contains(format!("{stem}.gamma").as_str()),
                    Some((stem, "bias")) => applied.contains(format!("{stem}.beta").as_str()),
                    _ => false,
                }
        };
        let unexpected: Vec<&String> = result
            .unused
            .iter()
            .filter(|n| !ignorable(n.as_str()))
            .collect();
        if let Some(name) = unexpected.first() {
            let (file_key, shape) = self
                .origin
                .get(name.as_str())
                .map_or((name.as_str(), Vec::new()), |(k, s)| {
                    (k.as_str(), s.clone())
                });
            return Err(weights(
                &self.path,
                file_key,
                and_more(
                    format!(
                        "unexpected tensor {shape:?}: it maps to `{name}`, which the model does \
                         not have (another architecture, width or layout? every tensor of the \
                         file must be used)"
                    ),
                    unexpected.len() - 1,
                    "unexpected tensors",
                ),
            ));
        }
        Ok(())
    }
}

/// The float dtype the backend builds parameters with.
fn float_dtype<B: Backend>(device: &B::Device) -> DType {
    Tensor::<B, 1>::zeros([1], device).dtype()
}

/// Loads a PyTorch state dict (`.pt`/`.pth`, as written by `torch.save(model.state_dict())`)
/// or a `.safetensors` file (as written by `safetensors.torch.save_file` or
/// [`save_safetensors`]) into a freshly built model of `config`.
///
/// The format follows the extension. `config` must describe the file's network: architecture,
/// number of classes, and width (for ResNet-18, base width `64 / width_divisor`: kuangliu's
/// full-width files need `width_divisor = 1`, the oracle of `scripts/torch_oracle.py` needs 4).
/// `layout` says how the file's keys are named (see the [module docs](crate::interop)). Uses
/// Burn's `PytorchStore` / `SafetensorsStore` with the PyTorch adapter (Linear weights transposed,
/// BatchNorm `weight`/`bias` as `gamma`/`beta`) and `load_from`.
///
/// # Errors
/// * [`Error::UnsupportedLayout`] if `layout` has no rules for the architecture;
/// * [`Error::Weights`] for a shape mismatch (with both shapes), a tensor of the model missing
///   from the file, an unexpected tensor in the file, a float dtype other than the model's, or
///   two file keys mapping to one path;
/// * [`Error::WeightsFile`] if the file cannot be parsed, [`Error::Io`] if it cannot be opened,
///   [`Error::InvalidParameter`] for an unknown extension or an invalid custom regex.
///
/// ```no_run
/// use advcal::interop::{load_pytorch, WeightLayout};
/// use advcal::model::{AnyModelConfig, Architecture};
/// use burn::backend::NdArray;
///
/// // kuangliu/pytorch-cifar's `checkpoint/ckpt.pth` of `VGG('VGG19')`
/// // (`{'net': DataParallel state dict, ...}`: the `net.module.` prefix is dropped).
/// let config = AnyModelConfig::new(Architecture::Vgg19, 10);
/// let layout = WeightLayout::KuangliuCifar;
/// let _model = load_pytorch::<NdArray>("ckpt.pth", &config, &layout, &Default::default())?;
/// # Ok::<(), advcal::Error>(())
/// ```
pub fn load_pytorch<B: Backend>(
    path: impl AsRef<Path>,
    config: &AnyModelConfig,
    layout: &WeightLayout,
    device: &B::Device,
) -> Result<AnyModel<B>> {
    let path = path.as_ref();
    if config.architecture == Architecture::WideResNet
        && matches!(layout, WeightLayout::DeepMind | WeightLayout::RobustBench)
        && config.tf_same_padding != (*layout == WeightLayout::DeepMind)
    {
        return Err(Error::param(
            "tf_same_padding",
            format!(
                "DeepMind's WideResNets pad their stride-2 convolutions as TensorFlow's \
                 \"SAME\" and TRADES' symmetrically: with the {} layout set \
                 `tf_same_padding = {}` (the weights would load and compute something else)",
                layout.name(),
                *layout == WeightLayout::DeepMind
            ),
        ));
    }
    let plan = LoadPlan::new(path, layout, config.architecture, float_dtype::<B>(device))?;
    let config = plan.with_file_normalization(path, config)?;
    Ok(match config.try_init::<B>(device)? {
        AnyModel::SmallCnn(m) => AnyModel::SmallCnn(plan.load::<B, _>(m)?),
        AnyModel::ResNet18(m) => AnyModel::ResNet18(plan.load::<B, _>(m)?),
        AnyModel::Vgg19(m) => AnyModel::Vgg19(plan.load::<B, _>(m)?),
        AnyModel::MobileNetV2(m) => AnyModel::MobileNetV2(plan.load::<B, _>(m)?),
        AnyModel::WideResNet(m) => AnyModel::WideResNet(plan.load::<B, _>(m)?),
        AnyModel::PreActResNet18(m) => AnyModel::PreActResNet18(plan.load::<B, _>(m)?),
        AnyModel::ResNet50(m) => AnyModel::ResNet50(plan.load::<B, _>(m)?),
        AnyModel::Vgg19Bn(m) => AnyModel::Vgg19Bn(plan.load::<B, _>(m)?),
    })
}

/// The input normalisation a file stores, as RobustBench's models do: `mu`/`sigma` (Wong et
/// al.'s PreAct ResNet, Rice et al.'s WRN-34-20) or `mean`/`std` (DeepMind's WideResNets),
/// top-level tensors of one value per channel (shape `[C]`, `[C, 1, 1]` or `[1, C, 1, 1]`).
const NORMALIZATION_KEYS: [[&str; 2]; 2] = [["mu", "sigma"], ["mean", "std"]];

/// The first complete pair of [`NORMALIZATION_KEYS`] the file holds (after the wrapper
/// prefix). A lone `mu` or `mean` is not a pair: it stays an unexpected tensor.
fn normalization_pair(wrapper: &str, file: &[FileTensor]) -> Option<[&'static str; 2]> {
    let has = |key: &str| file.iter().any(|t| t.key == format!("{wrapper}{key}"));
    NORMALIZATION_KEYS
        .into_iter()
        .find(|[m, s]| has(m) && has(s))
}

/// Reads the normalisation buffers `[mean_key, std_key]` (after the wrapper prefix).
fn file_normalization(
    path: &Path,
    format: Format,
    wrapper: &str,
    [mean_key, std_key]: [&str; 2],
) -> Result<NormalizationConfig> {
    let snapshots = match format {
        Format::Pytorch => PytorchStore::from_file(path)
            .map_indices_contiguous(false)
            .get_all_snapshots()
            .map_err(|e| file_error(path, e))?
            .clone(),
        Format::Safetensors => SafetensorsStore::from_file(path)
            .get_all_snapshots()
            .map_err(|e| file_error(path, e))?
            .clone(),
    };
    let values = |key: &str| -> Result<Vec<f32>> {
        let full = format!("{wrapper}{key}");
        let snapshot = snapshots
            .get(&full)
            .ok_or_else(|| weights(path, &full, "listed in the file but not readable"))?;
        let dims = snapshot.shape.to_vec();
        // One value per channel: `[C]`, `[C, 1, 1]` (RobustBench's DeepMind models) or
        // `[1, C, 1, 1]`, i.e. at most one dimension above 1.
        if dims.iter().filter(|&&d| d > 1).count() > 1 {
            return Err(weights(
                path,
                &full,
                format!(
                    "a normalisation buffer of shape {dims:?}; expected one value per channel \
                     ([C], [C, 1, 1] or [1, C, 1, 1])"
                ),
            ));
        }
        let data = snapshot
            .to_data()
            .map_err(|e| weights(path, &full, format!("cannot read it: {e:?}")))?;
        data.convert::<f32>()
            .into_vec::<f32>()
            .map_err(|e| weights(path, &full, format!("cannot read it: {e:?}")))
    };
    let config = NormalizationConfig::new()
        .with_mean(values(mean_key)?)
        .with_std(values(std_key)?);
    config.validate().map_err(|e| {
        weights(
            path,
            &format!("{wrapper}{std_key}"),
            format!("the file's normalisation is invalid: {e}"),
        )
    })?;
    Ok(config)
}

/// The input normalisation a weight file stores, if any: RobustBench's `mu`/`sigma` or
/// DeepMind's `mean`/`std` (top-level, after a wrapper prefix such as `module.`), which
/// [`load_pytorch`] uses when the config leaves the normalisation open.
///
/// # Errors
/// Those of [`inspect`], and [`Error::Weights`] for a buffer of another shape than one value
/// per channel or invalid values.
///
/// ```
/// use advcal::interop::{save_safetensors, stored_normalization, WeightLayout};
/// use advcal::model::{AnyModelConfig, Architecture};
/// use burn::backend::NdArray;
///
/// let mut config = AnyModelConfig::new(Architecture::ResNet18, 10);
/// config.width_divisor = 16;
/// let model = config.init::<NdArray>(&Default::default());
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("resnet18.safetensors");
/// save_safetensors(&model, &path, &WeightLayout::KuangliuCifar).unwrap();
/// assert_eq!(stored_normalization(&path).unwrap(), None); // advcal's exports store none
/// ```
pub fn stored_normalization(path: impl AsRef<Path>) -> Result<Option<NormalizationConfig>> {
    let path = path.as_ref();
    let file = read_listing(path)?;
    let wrapper = wrapper_prefix(&file);
    match normalization_pair(&wrapper, &file) {
        Some(pair) => Ok(Some(file_normalization(
            path,
            Format::of(path)?,
            &wrapper,
            pair,
        )?)),
        None => Ok(None),
    }
}

/// Largest difference between the file's normalisation constants and the config's that
/// counts as equal (files store `f32`; configs are often typed with four decimals).
const NORMALIZATION_TOLERANCE: f32 = 5e-4;

impl LoadPlan {
    /// `config` with the file's normalisation when the config leaves it to the default; an
    /// error when the config sets another one.
    fn with_file_normalization(
        &self,
        path: &Path,
        config: &AnyModelConfig,
    ) -> Result<AnyModelConfig> {
        let mut config = config.clone();
        let Some(file) = &self.normalization else {
            return Ok(config);
        };
        match &config.normalization {
            None => config.normalization = Some(file.clone()),
            Some(given) => {
                let close = |a: &[f32], b: &[f32]| {
                    a.len() == b.len()
                        && a.iter()
                            .zip(b)
                            .all(|(x, y)| (x - y).abs() <= NORMALIZATION_TOLERANCE)
                };
                if !(close(&given.mean, &file.mean) && close(&given.std, &file.std)) {
                    return Err(weights(
                        path,
                        "normalization",
                        format!(
                            "the file stores mean {:?}, std {:?}, but the model is configured \
                             with mean {:?}, std {:?}; leave the normalisation unset to use the \
                             file's",
                            file.mean, file.std, given.mean, given.std
                        ),
                    ));
                }
            }
        }
        Ok(config)
    }
}

fn architecture_of<B: Backend>(model: &AnyModel<B>) -> Architecture {
    match model {
        AnyModel::SmallCnn(_) => Architecture::SmallCnn,
        AnyModel::ResNet18(_) => Architecture::ResNet18,
        AnyModel::Vgg19(_) => Architecture::Vgg19,
        AnyModel::MobileNetV2(_) => Architecture::MobileNetV2,
        AnyModel::WideResNet(_) => Architecture::WideResNet,
        AnyModel::PreActResNet18(_) => Architecture::PreActResNet18,
        AnyModel::ResNet50(_) => Architecture::ResNet50,
        AnyModel::Vgg19Bn(_) => Architecture::Vgg19Bn,
    }
}

/// Writes the weights of `model` as a `.safetensors` file under `layout`'s names, with PyTorch's
/// tensor conventions (Linear `[out, in]`, BatchNorm `weight`/`bias`/`running_mean`/
/// `running_var`), so that `model.load_state_dict(safetensors.torch.load_file(path))` of the
/// matching PyTorch class reads it, and [`load_pytorch`] with the same layout reads it back
/// exactly.
///
/// Uses Burn's `SafetensorsStore` with `BurnToPyTorchAdapter` and `save_into`, writing to a
/// temporary file in the same directory that is then renamed over `path` (an existing file is
/// replaced). The input normalisation is not a tensor of the file (see the module docs).
///
/// # Errors
/// [`Error::UnsupportedLayout`] if `layout` has no rules for the architecture,
/// [`Error::Weights`] if custom rules map two tensors to one key, [`Error::WeightsFile`] /
/// [`Error::Io`] if the file cannot be written.
pub fn save_safetensors<B: Backend>(
    model: &AnyModel<B>,
    path: impl AsRef<Path>,
    layout: &WeightLayout,
) -> Result<()> {
    let path = path.as_ref();
    let remapper = compile(&layout.save_rules(architecture_of(model))?)?;
    match model {
        AnyModel::SmallCnn(m) => save_module::<B, _>(m, path, &remapper),
        AnyModel::ResNet18(m) => save_module::<B, _>(m, path, &remapper),
        AnyModel::Vgg19(m) => save_module::<B, _>(m, path, &remapper),
        AnyModel::MobileNetV2(m) => save_module::<B, _>(m, path, &remapper),
        AnyModel::WideResNet(m) => save_module::<B, _>(m, path, &remapper),
        AnyModel::PreActResNet18(m) => save_module::<B, _>(m, path, &remapper),
        AnyModel::ResNet50(m) => save_module::<B, _>(m, path, &remapper),
        AnyModel::Vgg19Bn(m) => save_module::<B, _>(m, path, &remapper),
    }
}

fn save_module<B: Backend, M: Module<B>>(
    module: &M,
    path: &Path,
    remapper: &KeyRemapper,
) -> Result<()> {
    // Two tensors under one key would silently lose one (possible with custom rules).
    let adapter: Box<dyn ModuleAdapter> = Box::new(BurnToPyTorchAdapter);
    let mut keys: HashMap<String, String> = HashMap::new();
    for snapshot in <M as ModuleSnapshot<B>>::collect(module, None, Some(adapter), true) {
        let name = snapshot.full_path();
        let key = remap_name(remapper, &name);
        if let Some(other) = keys.insert(key.clone(), name.clone()) {
            return Err(weights(
                path,
                &key,
                format!(
                    "the model tensors `{other}` and `{name}` both map to it; check the layout \
                     rules"
                ),
            ));
        }
    }

    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let tmp = crate::io::temp_path(path);
    let written = (|| -> Result<()> {
        let mut store = SafetensorsStore::from_file(tmp.clone())
            .with_to_adapter(BurnToPyTorchAdapter)
            .skip_enum_variants(true)
            .remap(remapper.clone())
            .clear_metadata()
            .metadata("format", "pt")
            .overwrite(true);
        <M as ModuleSnapshot<B>>::save_into(module, &mut store).map_err(|e| file_error(path, e))?;
        std::fs::OpenOptions::new()
            .write(true)
            .open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
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
