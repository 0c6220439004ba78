//! Input normalisation stored in a weight file (RobustBench's `mu`/`sigma`, DeepMind's
//! `mean`/`std`): read, and checked against the model's config.

use super::load::LoadPlan;
use super::*;

/// The input normalisation a file stores, as RobustBench's models do: `mu`/`sigma` (Wong et
/// al.'s PreAct ResNet, Rice et al.'s WRN-34-20) or `mean`/`std` (DeepMind's WideResNets),
/// top-level tensors of one value per channel (shape `[C]`, `[C, 1, 1]` or `[1, C, 1, 1]`).
const NORMALIZATION_KEYS: [[&str; 2]; 2] = [["mu", "sigma"], ["mean", "std"]];

/// The first complete pair of [`NORMALIZATION_KEYS`] the file holds (after the wrapper
/// prefix). A lone `mu` or `mean` is not a pair: it stays an unexpected tensor.
pub(super) fn normalization_pair(wrapper: &str, file: &[FileTensor]) -> Option<[&'static str; 2]> {
    let has = |key: &str| file.iter().any(|t| t.key == format!("{wrapper}{key}"));
    NORMALIZATION_KEYS
        .into_iter()
        .find(|[m, s]| has(m) && has(s))
}

/// Reads the normalisation buffers `[mean_key, std_key]` (after the wrapper prefix).
pub(super) fn file_normalization(
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
    pub(super) fn with_file_normalization(
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
