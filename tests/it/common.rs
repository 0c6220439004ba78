//! Shared helpers: backends, tiny models, real data.
#![allow(dead_code)]

use advcal::data::{CIFAR10_DIR_ENV, ImageDataset, Split, load_cifar10};
use advcal::model::{Classifier, Mode, SmallCnn, SmallCnnConfig};
use burn::backend::{Autodiff, NdArray};
use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use std::path::PathBuf;

pub type NB = NdArray<f32>;
pub type AD = Autodiff<NB>;
pub type FB = burn::backend::Flex;
pub type FAD = Autodiff<FB>;

pub fn dev() -> burn::backend::ndarray::NdArrayDevice {
    Default::default()
}

/// A linear classifier `f(x) = scale · flatten(x)` (identity weights, no bias, no normalisation):
/// the spec's V4 toy model, and a model whose input gradient is known exactly.
#[derive(Module, Debug)]
pub struct LinearToy<B: Backend> {
    pub fc: Linear<B>,
}

impl<B: Backend> LinearToy<B> {
    pub fn identity(k: usize, scale: f32, device: &B::Device) -> Self {
        let mut fc = LinearConfig::new(k, k).with_bias(false).init(device);
        let w = Tensor::<B, 2>::eye(k, device).mul_scalar(scale);
        fc.weight = Param::from_tensor(w);
        Self { fc }
    }
}

impl<B: Backend> Classifier<B> for LinearToy<B> {
    fn forward_mode(&self, images: Tensor<B, 4>, _mode: Mode) -> Tensor<B, 2> {
        self.fc.forward(images.flatten::<2>(1, 3))
    }
    fn num_classes(&self) -> usize {
        self.fc.weight.dims()[1]
    }
}

/// A tiny CNN with BatchNorm whose running statistics are not the defaults.
pub fn tiny_cnn(width: usize, seed: u64) -> SmallCnn<AD> {
    let model = advcal::model::seeded_init::<AD, _>(&dev(), seed, || {
        SmallCnnConfig::new().with_width(width).init::<AD>(&dev())
    });
    // One training-mode forward moves the running statistics away from 0/1.
    let x = Tensor::<AD, 4>::from_inner(images::<NB>([4, 3, 8, 8], seed, &dev()));
    let _ = model.forward_mode(x, Mode::Train);
    model
}

/// Deterministic images in [0, 1] from a seed.
pub fn images<B: Backend>(shape: [usize; 4], seed: u64, device: &B::Device) -> Tensor<B, 4> {
    let n: usize = shape.iter().product();
    let v = advcal::rng::uniform_values(n, 0.5, seed)
        .into_iter()
        .map(|u| u + 0.5)
        .collect::<Vec<_>>();
    Tensor::from_data(TensorData::new(v, shape), device)
}

pub fn labels<B: Backend>(values: &[i64], device: &B::Device) -> Tensor<B, 1, Int> {
    Tensor::from_data(TensorData::new(values.to_vec(), [values.len()]), device)
}

pub fn to_vec<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().to_vec::<f32>().unwrap()
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

// The tests that need data from outside the repository run with the `data-tests` feature (CI
// turns it on); without it they are marked
// `#[cfg_attr(not(feature = "data-tests"), ignore = "<what they need>")]`, so `cargo test`
// reports them as ignored with the reason instead of passing them without a check. With the
// feature, missing data fails them, naming the variable to set.

/// A data directory: `$var`, else `fallback` (relative to the repository), else a failure that
/// names both.
pub fn data_dir(var: &str, fallback: &str) -> PathBuf {
    if let Some(d) = std::env::var_os(var) {
        let d = PathBuf::from(d);
        assert!(d.is_dir(), "{var}={} is not a directory", d.display());
        return d;
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(fallback);
    assert!(
        path.is_dir(),
        "{var} is not set and {fallback} is missing: set {var} to run the tests that need it"
    );
    path
}

/// The real CIFAR-10 directory: `$ADVCAL_CIFAR10_DIR`, else `../shared/data/...` next to the
/// repository (for tests marked as needing it; see `data-tests`).
pub fn cifar_dir() -> PathBuf {
    data_dir(CIFAR10_DIR_ENV, "../shared/data/cifar-10-batches-bin")
}

/// The bundled real sample (always present in the repository).
pub fn sample(split: Split) -> ImageDataset {
    load_cifar10(advcal::data::bundled_sample_dir(), split).expect("bundled sample")
}

/// Snapshot of every parameter and buffer (BatchNorm running statistics included).
pub fn snapshot<B: Backend, M: Module<B>>(model: &M) -> Vec<u8> {
    advcal::checkpoint::record_to_bytes::<B, _>(model.clone().into_record()).unwrap()
}

/// `n` deterministic 3×8×8 images with labels `i % 10`, as a data set.
pub fn toy_dataset(n: usize, seed: u64) -> ImageDataset {
    let pixels = advcal::rng::uniform_values(n * 3 * 8 * 8, 0.5, seed)
        .into_iter()
        .map(|u| ((u + 0.5) * 255.0).round().clamp(0.0, 255.0) as u8)
        .collect();
    let labels = (0..n).map(|i| i % 10).collect();
    ImageDataset::new(pixels, labels, [3, 8, 8], 10).expect("toy data set")
}

/// Environment variable naming the directory written by `scripts/torch_oracle.py`.
pub const ORACLE_DIR_ENV: &str = "ADVCAL_TORCH_ORACLE_DIR";

/// `$ADVCAL_TORCH_ORACLE_DIR` (for tests marked as needing it; see `data-tests`): run
/// `scripts/torch_oracle.py OUTDIR` and `scripts/published_oracle.py OUTDIR/published` and point
/// the variable at OUTDIR.
pub fn oracle_dir() -> PathBuf {
    let dir = std::env::var_os(ORACLE_DIR_ENV).map(PathBuf::from);
    let dir = dir.unwrap_or_else(|| {
        panic!(
            "{ORACLE_DIR_ENV} is not set: run scripts/torch_oracle.py OUTDIR and point the \
             variable at OUTDIR"
        )
    });
    assert!(
        dir.is_dir(),
        "{ORACLE_DIR_ENV}={} is not a directory",
        dir.display()
    );
    dir
}

pub fn f32s(view: &safetensors::tensor::TensorView<'_>) -> Vec<f32> {
    assert_eq!(view.dtype(), safetensors::Dtype::F32);
    view.data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}
