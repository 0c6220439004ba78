//! Fused backend kernels behind the models' hottest training layers.
//!
//! Burn 0.21 has no BatchNorm backend op (train-mode BatchNorm is a chain of reductions and
//! element-wise ops, each with its own autodiff node), and `burn-tch` computes a convolution's
//! weight gradient with Burn's generic "swapped convolution" rather than PyTorch's kernel. With
//! the `tch` feature, on `Autodiff<LibTorch<f32>>` (`advcal::backend::tch::Train`), the
//! crate's [`conv2d`](super::conv2d), train-mode [`batch_norm`](super::batch_norm) and
//! [`relu`](super::relu) therefore
//! run as single autodiff nodes whose backward is PyTorch's own kernel:
//!
//! * convolution: forward through `burn-tch`, backward through one `aten::convolution_backward`
//!   (input, weight and bias gradients in one call; ATen picks oneDNN or its native CPU kernel,
//!   as for PyTorch's own autograd) — only where the weight is
//!   tracked, i.e. in training; attacks on frozen copies keep Burn's path;
//! * BatchNorm (train mode): one `aten::native_batch_norm` forward and one
//!   `aten::native_batch_norm_backward`, with the running statistics updated exactly as Burn's
//!   `BatchNorm` does (momentum, **biased** batch variance);
//! * ReLU ([`relu`](super::relu)): backward through one `aten::threshold_backward` instead of
//!   Burn's compare + mask-fill pair (bit-identical values).
//!
//! The two backward kernels are reached through a small C++ shim (`csrc/torch_ops.cpp`,
//! compiled by `build.rs`), because `tch` 0.22 cannot bind ATen functions that take a
//! `bool[3]` output mask. Every other backend, and any layout the fused path does not cover
//! (`PaddingConfig2d::Same`, asymmetric padding), takes Burn's generic path unchanged. The
//! dispatch is a type check (`Any`), so no bound is added to any model or user code.
//!
//! Results match the generic path to float tolerance (outputs, every gradient, the running
//! statistics; `tests/it/fused.rs`). To compare the two paths, switch the fused kernels off for
//! a closure with [`with_generic_ops`], or for a whole process with the environment variable
//! `ADVCAL_FUSED_OPS=0`.

#[cfg(feature = "tch")]
mod tch;

use burn::nn::BatchNorm;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use std::cell::Cell;
use std::sync::OnceLock;

thread_local! {
    static GENERIC_ONLY: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with advcal's fused backend kernels switched off **on the current thread**: inside
/// it, [`conv2d`](super::conv2d), [`batch_norm`](super::batch_norm) and [`relu`](super::relu)
/// take Burn's generic path on every backend. For A/B comparisons and tests; the choice is made when the forward pass
/// builds the graph, so the backward of a graph built inside `f` also stays generic.
///
/// ```
/// use advcal::model::fused::{fused_ops_enabled, with_generic_ops};
///
/// let inside = with_generic_ops(fused_ops_enabled);
/// assert!(!inside);
/// ```
pub fn with_generic_ops<T>(f: impl FnOnce() -> T) -> T {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            GENERIC_ONLY.with(|g| g.set(self.0));
        }
    }
    let _restore = Restore(GENERIC_ONLY.with(|g| g.replace(true)));
    f()
}

/// Whether the fused kernels may be used on this thread: `false` inside [`with_generic_ops`]
/// and, process-wide, when the environment variable `ADVCAL_FUSED_OPS` is `0` (read once).
/// Whether they *are* used also depends on the backend (`Autodiff<LibTorch<f32>>` with the
/// `tch` feature) and the layer; see the [module docs](self).
///
/// ```
/// // On by default, unless the process was started with ADVCAL_FUSED_OPS=0.
/// let on = advcal::model::fused::fused_ops_enabled();
/// assert_eq!(on, std::env::var("ADVCAL_FUSED_OPS").map_or(true, |v| v != "0"));
/// ```
pub fn fused_ops_enabled() -> bool {
    static ENV_OFF: OnceLock<bool> = OnceLock::new();
    let env_off =
        *ENV_OFF.get_or_init(|| std::env::var("ADVCAL_FUSED_OPS").is_ok_and(|v| v == "0"));
    !env_off && !GENERIC_ONLY.with(Cell::get)
}

/// `Ok(conv(x))` through a fused kernel, or `Err(x)` (unchanged) where none applies.
pub(crate) fn conv2d<B: Backend>(
    conv: &Conv2d<B>,
    x: Tensor<B, 4>,
) -> Result<Tensor<B, 4>, Tensor<B, 4>> {
    if !fused_ops_enabled() {
        return Err(x);
    }
    #[cfg(feature = "tch")]
    return tch::conv2d(conv, x);
    #[cfg(not(feature = "tch"))]
    {
        let _ = conv;
        Err(x)
    }
}

/// `Ok(relu(x))` through a fused kernel, or `Err(x)` (unchanged) where none applies.
pub(crate) fn relu<B: Backend, const D: usize>(
    x: Tensor<B, D>,
) -> Result<Tensor<B, D>, Tensor<B, D>> {
    if !fused_ops_enabled() {
        return Err(x);
    }
    #[cfg(feature = "tch")]
    return tch::relu(x);
    #[cfg(not(feature = "tch"))]
    Err(x)
}

/// `Ok(bn(x))` in train mode (batch statistics, running statistics updated) through a fused
/// kernel, or `Err(x)` (unchanged) where none applies.
pub(crate) fn batch_norm_train<B: Backend, const D: usize>(
    bn: &BatchNorm<B>,
    x: Tensor<B, D>,
) -> Result<Tensor<B, D>, Tensor<B, D>> {
    if !fused_ops_enabled() {
        return Err(x);
    }
    #[cfg(feature = "tch")]
    return tch::batch_norm_train(bn, x);
    #[cfg(not(feature = "tch"))]
    {
        let _ = bn;
        Err(x)
    }
}
