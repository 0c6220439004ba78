//! Loading a weight file into a model: the plan (file, renames, what the file holds), strict
//! matching of every tensor, dtype conversion.

use super::normalization::{file_normalization, normalization_pair};
use super::*;

/// F32 and Flex32 hold the same values.
fn same_float(a: DType, b: DType) -> bool {
    let f32_like = |d: DType| matches!(d, DType::F32 | DType::Flex32);
    a == b || (f32_like(a) && f32_like(b))
}

/// Everything a load needs besides the model: the file, the rules, and what the file holds.
pub(super) struct LoadPlan {
    pub(super) path: PathBuf,
    pub(super) format: Format,
    pub(super) remapper: KeyRemapper,
    /// advcal path → file key, for "missing" messages (`None` for custom rules).
    pub(super) reverse: Option<KeyRemapper>,
    /// The wrapper prefix removed from every key.
    pub(super) wrapper: String,
    /// Remapped name → (file key, file shape).
    pub(super) origin: HashMap<String, (String, Vec<usize>)>,
    /// Remapped names of file tensors the model does not use on purpose (the layout's
    /// [`ignored_keys`](WeightLayout::ignored_keys), and normalisation buffers).
    pub(super) skipped: HashSet<String>,
    /// The input normalisation stored in the file, if any (see [`file_normalization`]).
    pub(super) normalization: Option<NormalizationConfig>,
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
