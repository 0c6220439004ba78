//! Exporting advcal weights to safetensors in a layout PyTorch code reads.

use super::*;

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
