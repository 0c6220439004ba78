//! Checkpoints: model weights, optimizer state, epoch, seed and configs in **one file**, written
//! atomically (temporary file + rename), validated on load.
//!
//! File layout (little-endian): the magic `ADVCALCK`, a `u32` format version, then three
//! length-prefixed (`u64`) sections: metadata JSON, model record (named MessagePack, full
//! precision), optimizer record (possibly empty), and a final `u64` FNV-1a checksum of all
//! preceding bytes.
//!
//! Loading checks the magic, every length (a truncated file is an error), the checksum (a
//! corrupted byte is an error, even inside the weights), the architecture name
//! and model config stored in the metadata, and that the loaded weights have the same shapes as
//! the model they are loaded into — Burn itself accepts a record of another architecture.
//!
//! ```
//! use advcal::checkpoint::{load_model, save_checkpoint, CheckpointMeta};
//! use advcal::model::SmallCnnConfig;
//! use burn::backend::NdArray;
//!
//! let device = Default::default();
//! let config = SmallCnnConfig::new().with_width(4);
//! let model = config.init::<NdArray>(&device);
//! let path = std::env::temp_dir().join("advcal-doc-checkpoint.ckpt");
//! let meta = CheckpointMeta::new("small_cnn", &config).unwrap().with_epoch(3);
//! save_checkpoint(&path, &model, &meta, None).unwrap();
//! let (loaded, meta) = load_model(&path, config.init::<NdArray>(&device), "small_cnn", &config, &device).unwrap();
//! assert_eq!(meta.epoch, 3);
//! # let _ = loaded;
//! ```

use crate::error::{Error, Result};
use crate::io::write_atomic;
use crate::model::{AnyModel, AnyModelConfig, Architecture};
use burn::module::Module;
use burn::prelude::Backend;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Record, Recorder};
use serde::{Deserialize, Serialize};
use std::path::Path;

const MAGIC: &[u8; 8] = b"ADVCALCK";
const FORMAT_VERSION: u32 = 1;

type Rec = NamedMpkBytesRecorder<FullPrecisionSettings>;

/// Everything stored next to the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// Architecture name (`"resnet18"`, `"small_cnn"`, ...).
    pub architecture: String,
    /// The model config as JSON (includes the input normalisation constants).
    pub model_config: serde_json::Value,
    /// Number of completed epochs.
    pub epoch: usize,
    /// Number of completed optimizer steps.
    pub step: usize,
    /// Seed of the run.
    pub seed: u64,
    /// Training configuration (free-form JSON).
    pub training: serde_json::Value,
    /// Parameter count of the model (as reported by Burn's `num_params`).
    pub num_params: usize,
}

impl CheckpointMeta {
    /// Metadata for a model built from `config`.
    ///
    /// # Errors
    ///
    /// [`Error::Json`] when `config` cannot be serialised to JSON.
    pub fn new<C: Serialize>(architecture: impl Into<String>, config: &C) -> Result<Self> {
        Ok(Self {
            architecture: architecture.into(),
            model_config: serde_json::to_value(config)?,
            epoch: 0,
            step: 0,
            seed: 0,
            training: serde_json::Value::Null,
            num_params: 0,
        })
    }

    /// Sets the epoch count.
    pub fn with_epoch(mut self, epoch: usize) -> Self {
        self.epoch = epoch;
        self
    }

    /// Sets the step count.
    pub fn with_step(mut self, step: usize) -> Self {
        self.step = step;
        self
    }

    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the training configuration.
    ///
    /// # Errors
    ///
    /// [`Error::Json`] when `training` cannot be serialised to JSON.
    pub fn with_training<T: Serialize>(mut self, training: &T) -> Result<Self> {
        self.training = serde_json::to_value(training)?;
        Ok(self)
    }
}

/// Serialises any Burn record (model or optimizer) to bytes.
///
/// # Errors
///
/// [`Error::Record`] (with Burn's recorder error as its source) when the record cannot be
/// serialised.
pub fn record_to_bytes<B: Backend, R: Record<B>>(record: R) -> Result<Vec<u8>> {
    Recorder::<B>::record(&Rec::default(), record, ()).map_err(|source| Error::Record {
        operation: "serialise",
        source,
    })
}

/// Deserialises a record written by [`record_to_bytes`].
///
/// # Errors
///
/// [`Error::Record`] (with Burn's recorder error as its source) when the bytes are not a record
/// of type `R` (another model, another float precision, corrupted bytes).
pub fn record_from_bytes<B: Backend, R: Record<B>>(
    bytes: Vec<u8>,
    device: &B::Device,
) -> Result<R> {
    Recorder::<B>::load(&Rec::default(), bytes, device).map_err(|source| Error::Record {
        operation: "decode",
        source,
    })
}

/// Writes a checkpoint atomically. `optimizer` is the optimizer record as produced by
/// [`record_to_bytes`] (or `None`).
///
/// # Errors
///
/// [`Error::Checkpoint`] (naming `path`) when the model record cannot be serialised;
/// [`Error::Json`] for metadata that cannot be serialised; [`Error::Io`] when the file cannot be
/// written.
pub fn save_checkpoint<B: Backend, M: Module<B>>(
    path: impl AsRef<Path>,
    model: &M,
    meta: &CheckpointMeta,
    optimizer: Option<Vec<u8>>,
) -> Result<()> {
    let path = path.as_ref();
    let mut meta = meta.clone();
    meta.num_params = model.num_params();
    let meta_bytes = serde_json::to_vec(&meta)?;
    let model_bytes =
        record_to_bytes::<B, _>(model.clone().into_record()).map_err(|e| with_path(e, path))?;
    let optim_bytes = optimizer.unwrap_or_default();
    let mut out = Vec::with_capacity(32 + meta_bytes.len() + model_bytes.len() + optim_bytes.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    for section in [&meta_bytes, &model_bytes, &optim_bytes] {
        out.extend_from_slice(&(section.len() as u64).to_le_bytes());
        out.extend_from_slice(section);
    }
    let checksum = fnv1a(&out);
    out.extend_from_slice(&checksum.to_le_bytes());
    write_atomic(path, &out)
}

/// 64-bit FNV-1a hash (integrity check against truncation and bit rot, not an authenticity check).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Turns a path-less [`Error::Record`] into an [`Error::Checkpoint`] naming `path`.
pub(crate) fn with_path(e: Error, path: &Path) -> Error {
    match e {
        e @ Error::Record { .. } => Error::Checkpoint {
            path: path.to_path_buf(),
            reason: e.to_string(),
        },
        other => other,
    }
}

fn bad(path: &Path, reason: impl Into<String>) -> Error {
    Error::Checkpoint {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// The raw sections of a checkpoint file.
#[derive(Debug, Clone)]
pub struct CheckpointFile {
    /// Metadata.
    pub meta: CheckpointMeta,
    /// Model record bytes.
    pub model: Vec<u8>,
    /// Optimizer record bytes (empty when none was saved).
    pub optimizer: Vec<u8>,
}

/// Reads and validates the container of a checkpoint (magic, version, section lengths, JSON).
///
/// # Errors
///
/// [`Error::Io`] when the file cannot be read; [`Error::Checkpoint`] (naming the file) when it
/// is not an advcal checkpoint, is truncated or corrupted (checksum), has an unsupported format
/// version or malformed metadata.
pub fn read_checkpoint(path: impl AsRef<Path>) -> Result<CheckpointFile> {
    let path = path.as_ref();
    let file = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if file.len() < 20 || &file[..8] != MAGIC {
        return Err(bad(
            path,
            "not an advcal checkpoint (bad magic or truncated)",
        ));
    }
    let (bytes, stored) = file.split_at(file.len() - 8);
    if fnv1a(bytes) != u64::from_le_bytes(stored.try_into().expect("8 bytes")) {
        return Err(bad(
            path,
            "checksum mismatch: the file is truncated or corrupted",
        ));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version != FORMAT_VERSION {
        return Err(bad(path, format!("unsupported format version {version}")));
    }
    let mut pos = 12usize;
    let mut sections = Vec::with_capacity(3);
    for name in ["metadata", "model", "optimizer"] {
        let len_end = pos
            .checked_add(8)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| bad(path, format!("truncated before the {name} section")))?;
        let len = u64::from_le_bytes(bytes[pos..len_end].try_into().expect("8 bytes"));
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| len_end.checked_add(l))
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| bad(path, format!("truncated {name} section")))?;
        sections.push(bytes[len_end..end].to_vec());
        pos = end;
    }
    if pos != bytes.len() {
        return Err(bad(path, "trailing bytes after the last section"));
    }
    let optimizer = sections.pop().expect("3 sections");
    let model = sections.pop().expect("3 sections");
    let meta: CheckpointMeta = serde_json::from_slice(&sections[0])
        .map_err(|e| bad(path, format!("bad metadata: {e}")))?;
    Ok(CheckpointFile {
        meta,
        model,
        optimizer,
    })
}

/// Loads the weights of a checkpoint into `model` (built from `config`), after checking that the
/// checkpoint was written for the same architecture and config.
///
/// # Errors
///
/// Those of [`read_checkpoint`], [`check_architecture`] and [`load_record_into`].
pub fn load_model<B: Backend, M: Module<B>, C: Serialize>(
    path: impl AsRef<Path>,
    model: M,
    architecture: &str,
    config: &C,
    device: &B::Device,
) -> Result<(M, CheckpointMeta)> {
    let path = path.as_ref();
    let file = read_checkpoint(path)?;
    check_architecture(path, &file.meta, architecture, config)?;
    let model = load_record_into(path, model, file.model, device)?;
    Ok((model, file.meta))
}

/// Checks the architecture name and config stored in a checkpoint.
///
/// The configs are compared as JSON, with floating-point numbers equal within 4 ulps (relative):
/// serde_json's default parser can read a float back one ulp away from the value it printed.
/// Integers, strings, booleans and the structure must match exactly.
///
/// # Errors
///
/// [`Error::Checkpoint`] (naming `path`) when the architecture name or the model config differ;
/// [`Error::Json`] when `config` cannot be serialised.
pub fn check_architecture<C: Serialize>(
    path: &Path,
    meta: &CheckpointMeta,
    architecture: &str,
    config: &C,
) -> Result<()> {
    if meta.architecture != architecture {
        return Err(bad(
            path,
            format!(
                "architecture is `{}`, expected `{architecture}`",
                meta.architecture
            ),
        ));
    }
    let expected = serde_json::to_value(config)?;
    if !same_json(&meta.model_config, &expected) {
        return Err(bad(
            path,
            format!(
                "model config differs: checkpoint has {}, expected {expected}",
                meta.model_config
            ),
        ));
    }
    Ok(())
}

/// `a == b`, except that two floats may differ by a few ulps: serde_json's default float parser
/// can land one ulp away from the value it printed (Tiny ImageNet's mean 0.4484f32 is written as
/// 0.44839999079704285 and read back as 0.4483999907970429). advcal enables `float_roundtrip`,
/// so its own checkpoints read back exactly; the tolerance keeps a config equal to a checkpoint
/// whose JSON was read or rewritten by a parser without it. Integers (and an integer against a
/// float) compare exactly.
pub(crate) fn same_json(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() && y.is_f64() => {
            match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => {
                    x == y || (x - y).abs() <= 4.0 * f64::EPSILON * x.abs().max(y.abs())
                }
                _ => false,
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

/// Loads model record bytes into `model`, rejecting records whose parameter shapes differ.
///
/// # Errors
///
/// [`Error::Checkpoint`] (naming `path`) when the bytes are not a record of this model or its
/// parameter count differs.
pub fn load_record_into<B: Backend, M: Module<B>>(
    path: &Path,
    model: M,
    bytes: Vec<u8>,
    device: &B::Device,
) -> Result<M> {
    let before = model.num_params();
    let record =
        record_from_bytes::<B, M::Record>(bytes, device).map_err(|e| with_path(e, path))?;
    let loaded = model.load_record(record);
    if loaded.num_params() != before {
        return Err(bad(
            path,
            format!(
                "parameter count {} differs from the model's {before}",
                loaded.num_params()
            ),
        ));
    }
    Ok(loaded)
}

/// Loads a checkpoint of an [`AnyModel`] without knowing its architecture in advance: the
/// architecture name and the [`AnyModelConfig`] (width, width divisor, number of classes, input
/// normalisation) are read from the checkpoint's metadata, the model is built from them and the
/// weights are loaded into it.
///
/// Works for every checkpoint whose `model_config` is a serialised [`AnyModelConfig`]: those
/// written by [`Fit`](crate::train::Fit) when it trains an [`AnyModel`] (as `examples/train.rs`
/// and the paper pipeline do), or by [`save_checkpoint`] with
/// `CheckpointMeta::new(config.architecture.name(), &config)`. A checkpoint of a concrete model
/// saved with its own config (a `SmallCnn` with a `SmallCnnConfig`, ...) loads with
/// [`load_model`] instead.
///
/// The model lives on `B` (an autodiff backend works too); the checkpoint's normalisation is
/// part of the model, so inputs stay in `[0, 1]`.
///
/// # Errors
/// Every error of [`read_checkpoint`] (missing, truncated or corrupted file), and
/// [`Error::Checkpoint`] with a reason naming the problem when
/// * the architecture name is not one of [`Architecture::ALL`],
/// * `model_config` is not an [`AnyModelConfig`] (its JSON is quoted in the reason),
/// * the config's architecture differs from the stored architecture name,
/// * the config cannot build a model (zero classes, zero small-CNN width, an invalid
///   normalisation),
/// * the weights do not fit the model built from the config.
///
/// ```
/// use advcal::checkpoint::{load_any_model, save_checkpoint, CheckpointMeta};
/// use advcal::model::{AnyModel, AnyModelConfig, Architecture, Classifier};
/// use burn::backend::NdArray;
/// use burn::prelude::*;
///
/// let device = Default::default();
/// let mut config = AnyModelConfig::new(Architecture::SmallCnn, 10);
/// config.width = 2;
/// let model = config.init::<NdArray>(&device);
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("model.ckpt");
/// let meta = CheckpointMeta::new(config.architecture.name(), &config).unwrap().with_epoch(5);
/// save_checkpoint(&path, &model, &meta, None).unwrap();
///
/// let (loaded, meta) = load_any_model::<NdArray>(&path, &device).unwrap();
/// assert!(matches!(loaded, AnyModel::SmallCnn(_)));
/// assert_eq!((meta.architecture.as_str(), meta.epoch), ("small_cnn", 5));
/// let x = Tensor::<NdArray, 4>::full([1, 3, 8, 8], 0.5, &device);
/// assert_eq!(model.logits(x.clone()).into_data(), loaded.logits(x).into_data());
/// ```
pub fn load_any_model<B: Backend>(
    path: impl AsRef<Path>,
    device: &B::Device,
) -> Result<(AnyModel<B>, CheckpointMeta)> {
    let path = path.as_ref();
    let file = read_checkpoint(path)?;
    let config = any_model_config(path, &file.meta)?;
    let model = config
        .try_init::<B>(device)
        .map_err(|e| bad(path, format!("invalid model config: {e}")))?;
    let model = load_record_into(path, model, file.model, device)?;
    Ok((model, file.meta))
}

/// The [`AnyModelConfig`] stored in `meta`, checked against the architecture name and for the
/// settings [`AnyModelConfig::init`] would panic on.
fn any_model_config(path: &Path, meta: &CheckpointMeta) -> Result<AnyModelConfig> {
    let names = Architecture::ALL.map(|a| a.name()).join(", ");
    let architecture = Architecture::ALL
        .into_iter()
        .find(|a| a.name() == meta.architecture)
        .ok_or_else(|| {
            bad(
                path,
                format!(
                    "unknown architecture `{}` (expected one of {names})",
                    meta.architecture
                ),
            )
        })?;
    let config: AnyModelConfig =
        serde_json::from_value(meta.model_config.clone()).map_err(|e| {
            bad(
                path,
                format!(
                    "model config is not an AnyModelConfig ({e}): {}; a checkpoint of a concrete \
                     model saved with its own config loads with `load_model`",
                    meta.model_config
                ),
            )
        })?;
    if config.architecture != architecture {
        return Err(bad(
            path,
            format!(
                "architecture is `{}` but the model config is for `{}`",
                meta.architecture,
                config.architecture.name()
            ),
        ));
    }
    if config.num_classes == 0 {
        return Err(bad(path, "model config has 0 classes"));
    }
    if config.architecture == Architecture::SmallCnn && config.width == 0 {
        return Err(bad(path, "model config has a small-CNN width of 0"));
    }
    if let Some(normalization) = &config.normalization {
        normalization.validate().map_err(|e| {
            bad(
                path,
                format!("model config has an invalid normalisation: {e}"),
            )
        })?;
    }
    Ok(config)
}
