//! Input gradients on a frozen model.

use super::Objective;
use crate::error::{Error, Result};
use crate::model::{Classifier, Mode};
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

/// The copy of `model` an attack differentiates: parameters frozen (`no_grad`, so the backward
/// pass computes no weight gradient), and for [`Mode::Train`] a copy whose BatchNorm running
/// statistics are decoupled from the original (Burn's `clone` shares them).
pub fn frozen_copy<B, M>(model: &M, mode: Mode) -> M
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
{
    match mode {
        Mode::Eval => model.clone().no_grad(),
        Mode::Train => M::from_inner(model.valid()).no_grad(),
    }
}

/// An input gradient `[N, C, H, W]` and the objective's per-sample values `[N]`.
pub type InputGradient<B> = (Tensor<B, 4>, Tensor<B, 1>);

/// `∇_x Σ_i ℓ(f(x)_i, y_i)` for a frozen model (see [`frozen_copy`]), with the objective's
/// per-sample values at `x`.
///
/// Gradients are taken w.r.t. the input only; every other gradient is dropped.
pub fn input_gradient<B, M, O>(
    frozen: &M,
    images: Tensor<B::InnerBackend, 4>,
    labels: Tensor<B, 1, Int>,
    objective: &O,
    mode: Mode,
) -> Result<InputGradient<B::InnerBackend>>
where
    B: AutodiffBackend,
    M: Classifier<B>,
    O: Objective<B> + ?Sized,
{
    let leaf = Tensor::<B, 4>::from_inner(images).require_grad();
    let logits = frozen.forward_mode(leaf.clone(), mode);
    let per_sample = objective.per_sample(logits, labels);
    let grads = per_sample.clone().sum().backward();
    let g = leaf.grad(&grads).ok_or(Error::MissingGradient)?;
    Ok((g, per_sample.inner()))
}
