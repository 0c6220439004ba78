//! The small real CIFAR-10 sample shipped in the repository (`assets/cifar10-sample/`) and the
//! environment variable pointing at a full copy.

use super::{load_cifar10, ImageDataset, Split};
use crate::error::Result;
use std::path::PathBuf;

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
