//! Seeded, backend-independent randomness.
//!
//! Burn's random tensors come from a process-global, per-backend generator, so two tests running
//! in parallel (or two backends) draw different numbers for the same seed. Every random choice
//! in `advcal` is instead drawn on the host from a [`ChaCha8Rng`] seeded explicitly, then
//! uploaded once: the same seed gives bit-identical noise on NdArray, WGPU and CUDA.

use burn::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A reproducible random number generator for `seed`.
pub fn seeded_rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Derives an independent seed for item `index` (batch, epoch, ...) of a run seeded with `seed`
/// (SplitMix64 finaliser, so nearby indices give unrelated streams).
///
/// ```
/// use advcal::rng::derive_seed;
/// assert_ne!(derive_seed(0, 1), derive_seed(0, 2));
/// assert_eq!(derive_seed(7, 3), derive_seed(7, 3));
/// ```
pub fn derive_seed(seed: u64, index: u64) -> u64 {
    let mut z = seed
        .wrapping_add(index.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `n` values drawn i.i.d. from `U(-bound, bound)`.
pub fn uniform_values(n: usize, bound: f32, seed: u64) -> Vec<f32> {
    let mut rng = seeded_rng(seed);
    (0..n)
        .map(|_| (rng.random::<f32>() * 2.0 - 1.0) * bound)
        .collect()
}

/// A tensor of the given shape with i.i.d. `U(-bound, bound)` entries, identical on every backend
/// for the same seed.
pub fn uniform_tensor<B: Backend, const D: usize>(
    shape: [usize; D],
    bound: f32,
    seed: u64,
    device: &B::Device,
) -> Tensor<B, D> {
    let n = shape.iter().product();
    Tensor::from_data(
        TensorData::new(uniform_values(n, bound, seed), shape),
        device,
    )
}
