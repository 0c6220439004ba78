//! The small real CIFAR-10 sample shipped in the repository (`assets/cifar10-sample/`) and the
//! environment variable pointing at a full copy.

use super::{ImageDataset, Split, load_cifar10};
use crate::error::Result;
use std::path::{Path, PathBuf};

/// Environment variable naming a directory in the CIFAR-10 binary layout
/// (`data_batch_*.bin`, `test_batch.bin`).
pub const CIFAR10_DIR_ENV: &str = "ADVCAL_CIFAR10_DIR";

/// Directory of the bundled sample: 2000 training images (records 0–1999 of `data_batch_1`,
/// lossless pixels) and 1000 test images (100 per class), see its README for provenance.
pub fn bundled_sample_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("assets")
        .join("cifar10-sample")
}

/// Loads the bundled CIFAR-10 sample (no download needed).
///
/// # Errors
///
/// Those of [`load_cifar10`](super::load_cifar10), e.g. [`Error::Data`](crate::Error::Data) when
/// the sample files are missing from a packaged copy of the crate.
///
/// ```no_run
/// let test = advcal::data::bundled_cifar10_sample(advcal::data::Split::Test).unwrap();
/// assert_eq!(test.len(), 1000);
/// ```
pub fn bundled_cifar10_sample(split: Split) -> Result<ImageDataset> {
    load_cifar10(bundled_sample_dir(), split)
}

/// The directory named by [`CIFAR10_DIR_ENV`], if set.
pub fn cifar10_dir_from_env() -> Option<PathBuf> {
    std::env::var_os(CIFAR10_DIR_ENV).map(PathBuf::from)
}

/// Where to read CIFAR-10 from, in the order every example uses: the `explicit` directory
/// (a `--data-dir` flag), else [`CIFAR10_DIR_ENV`], else the [bundled sample](bundled_sample_dir).
///
/// ```
/// use std::path::PathBuf;
/// let dir = advcal::data::resolve_cifar10_dir(Some(PathBuf::from("/data/cifar")));
/// assert_eq!(dir, PathBuf::from("/data/cifar"));
/// ```
pub fn resolve_cifar10_dir(explicit: Option<PathBuf>) -> PathBuf {
    explicit
        .or_else(cifar10_dir_from_env)
        .unwrap_or_else(bundled_sample_dir)
}

/// Loads the CIFAR-10 training and test splits from `dir`, each truncated to its first
/// `train_limit` / `test_limit` images when given (the files' order, so the same limit always
/// selects the same images).
///
/// # Errors
///
/// Those of [`load_cifar10`](super::load_cifar10) for either split.
///
/// ```
/// let dir = advcal::data::bundled_sample_dir();
/// let (train, test) = advcal::data::load_cifar10_splits(&dir, Some(100), Some(50)).unwrap();
/// assert_eq!((train.len(), test.len()), (100, 50));
/// ```
pub fn load_cifar10_splits(
    dir: impl AsRef<Path>,
    train_limit: Option<usize>,
    test_limit: Option<usize>,
) -> Result<(ImageDataset, ImageDataset)> {
    let dir = dir.as_ref();
    let limit = |data: ImageDataset, n: Option<usize>| match n {
        Some(n) => data.take(n),
        None => data,
    };
    let train = limit(load_cifar10(dir, Split::Train)?, train_limit);
    let test = limit(load_cifar10(dir, Split::Test)?, test_limit);
    Ok((train, test))
}
