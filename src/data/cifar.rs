//! Readers for the CIFAR-10 and CIFAR-100 binary formats.

use super::ImageDataset;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// CIFAR-10 class names, in label order.
pub const CIFAR10_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

const PIXELS: usize = 3 * 32 * 32;

/// Which part of a data set to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Training files (`data_batch_*.bin` / `train.bin`).
    Train,
    /// Test files (`test_batch.bin` / `test.bin`).
    Test,
}

/// Reads one CIFAR-10 binary file: records of 1 label byte + 3072 pixel bytes (R, G, B planes,
/// row-major 32×32).
///
/// # Errors
///
/// Naming the file: [`Error::Io`] if it cannot be read; [`Error::Data`] if it is empty, its
/// length is not a multiple of 3073, or a label is ≥ 10.
pub fn read_cifar10_file(path: impl AsRef<Path>) -> Result<ImageDataset> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_records(path, &bytes, 1, 0, 10)
}

/// Which CIFAR-100 label to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cifar100Labels {
    /// The 20 super-classes (first label byte).
    Coarse,
    /// The 100 classes (second label byte).
    Fine,
}

/// Reads one CIFAR-100 binary file: records of 2 label bytes (coarse, fine) + 3072 pixel bytes.
///
/// # Errors
///
/// Naming the file: [`Error::Io`] if it cannot be read; [`Error::Data`] if it is empty, its
/// length is not a multiple of 3074, or a label is out of range (≥ 20 coarse, ≥ 100 fine).
pub fn read_cifar100_file(path: impl AsRef<Path>, labels: Cifar100Labels) -> Result<ImageDataset> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    match labels {
        Cifar100Labels::Coarse => parse_records(path, &bytes, 2, 0, 20),
        Cifar100Labels::Fine => parse_records(path, &bytes, 2, 1, 100),
    }
}

/// Parses records of `label_bytes` label bytes followed by 3072 pixels.
pub(crate) fn parse_records(
    path: &Path,
    bytes: &[u8],
    label_bytes: usize,
    label_index: usize,
    num_classes: usize,
) -> Result<ImageDataset> {
    let record = label_bytes + PIXELS;
    if bytes.is_empty() {
        return Err(Error::data(path, "file is empty"));
    }
    if !bytes.len().is_multiple_of(record) {
        return Err(Error::data(
            path,
            format!(
                "length {} is not a multiple of the record size {record} (truncated or wrong format?)",
                bytes.len()
            ),
        ));
    }
    let n = bytes.len() / record;
    let mut pixels = Vec::with_capacity(n * PIXELS);
    let mut labels = Vec::with_capacity(n);
    for (i, rec) in bytes.chunks_exact(record).enumerate() {
        let label = rec[label_index] as usize;
        if label >= num_classes {
            return Err(Error::data(
                path,
                format!("record {i} has label {label}, but there are {num_classes} classes"),
            ));
        }
        labels.push(label);
        pixels.extend_from_slice(&rec[label_bytes..]);
    }
    ImageDataset::new(pixels, labels, [3, 32, 32], num_classes)
}

fn existing(dir: &Path, names: &[String]) -> Vec<PathBuf> {
    names
        .iter()
        .map(|n| dir.join(n))
        .filter(|p| p.is_file())
        .collect()
}

/// Loads CIFAR-10 from a directory in the official binary layout (`cifar-10-batches-bin`):
/// `Split::Train` reads every `data_batch_{1..5}.bin` present (at least one), `Split::Test`
/// reads `test_batch.bin`. Class names come from [`CIFAR10_CLASSES`].
///
/// # Errors
///
/// [`Error::Data`] (naming the directory) if no file of the split is present; otherwise those of
/// [`read_cifar10_file`].
pub fn load_cifar10(dir: impl AsRef<Path>, split: Split) -> Result<ImageDataset> {
    let dir = dir.as_ref();
    let names: Vec<String> = match split {
        Split::Train => (1..=5).map(|i| format!("data_batch_{i}.bin")).collect(),
        Split::Test => vec!["test_batch.bin".into()],
    };
    let files = existing(dir, &names);
    if files.is_empty() {
        return Err(Error::data(
            dir,
            format!("no CIFAR-10 {split:?} file found (expected one of {names:?})"),
        ));
    }
    let mut parts = files
        .iter()
        .map(read_cifar10_file)
        .collect::<Result<Vec<_>>>()?;
    let mut data = parts.remove(0);
    for p in parts {
        data.append(p)?;
    }
    Ok(data.with_class_names(CIFAR10_CLASSES.iter().map(|s| s.to_string()).collect()))
}

/// Loads CIFAR-100 from a directory in the official binary layout (`cifar-100-binary`:
/// `train.bin`, `test.bin`).
///
/// # Errors
///
/// Those of [`read_cifar100_file`] on the split's file.
pub fn load_cifar100(
    dir: impl AsRef<Path>,
    split: Split,
    labels: Cifar100Labels,
) -> Result<ImageDataset> {
    let dir = dir.as_ref();
    let name = match split {
        Split::Train => "train.bin",
        Split::Test => "test.bin",
    };
    read_cifar100_file(dir.join(name), labels)
}
