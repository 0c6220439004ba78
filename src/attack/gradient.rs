//! Input gradients on a frozen model.

use super::Objective;
use crate::error::{Error, Result};
use crate::model::{Classifier, Mode};
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::ElementConversion;
use burn::tensor::backend::AutodiffBackend;

/// The copy of `model` an attack differentiates: parameters frozen (`no_grad`, so the backward
/// pass computes no weight gradient) and BatchNorm running statistics decoupled from the
/// original (Burn's `clone` shares them; `valid()` + `from_inner` copies them). The mode an
/// attack evaluates the copy in is chosen at each forward pass
/// ([`Classifier::forward_mode`]), not here. Nothing done to the copy — even a training-behaviour forward pass of a stock
/// `burn::nn::BatchNorm` — can change `model`.
///
/// Attacks should pair it with [`check_inference_behaviour`] when they run in [`Mode::Eval`].
pub fn frozen_copy<B, M>(model: &M) -> M
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
{
    M::from_inner(model.valid()).no_grad()
}

/// Relative tolerance of [`check_inference_behaviour`]: outputs of one image alone and inside a
/// batch may differ by float reassociation (`≈ 1e-6`), never by this much.
pub const INFERENCE_PROBE_TOLERANCE: f64 = 1e-3;

/// Checks that `frozen` (a [`frozen_copy`]) really evaluates in inference behaviour in
/// [`Mode::Eval`] on the autodiff backend, and that its output has `num_classes()` columns.
///
/// Burn's stock `BatchNorm` and `Dropout` pick their behaviour from the backend type: on any
/// `Autodiff` backend they always run their training branch (batch statistics, random masks).
/// A [`Classifier`] that calls `bn.forward(x)` without looking at the [`Mode`] is therefore
/// attacked in training behaviour, its per-sample outputs depending on the rest of the batch.
/// The probe runs the first image alone and beside a second image (`1 − x`), and compares the
/// first image's logits; a difference above [`INFERENCE_PROBE_TOLERANCE`] (relative to the
/// logit scale) is [`Error::TrainingBehaviourInEval`], which names the fix.
///
/// Cost: two forward passes of one and two images, without a graph.
///
/// # Errors
/// [`Error::TrainingBehaviourInEval`] as above; [`Error::ClassCountMismatch`] when the logits
/// do not have [`Classifier::num_classes`] columns; [`Error::ModelForward`] when the model's
/// forward pass panics on the images (e.g. a channel mismatch inside a user's convolution).
pub fn check_inference_behaviour<B, M>(
    frozen: &M,
    images: &Tensor<B::InnerBackend, 4>,
) -> Result<()>
where
    B: AutodiffBackend,
    M: Classifier<B>,
{
    let first = images.clone().narrow(0, 0, 1);
    let second = first.clone().neg().add_scalar(1.0);
    let alone = forward_checked::<B, M>(frozen, first.clone())?;
    let together = forward_checked::<B, M>(frozen, Tensor::cat(vec![first, second], 0))?;
    let scale: f64 = alone.clone().abs().max().into_scalar().elem();
    let difference: f64 = (together.narrow(0, 0, 1) - alone)
        .abs()
        .max()
        .into_scalar()
        .elem();
    if difference.is_nan() || difference > INFERENCE_PROBE_TOLERANCE * (1.0 + scale) {
        return Err(Error::TrainingBehaviourInEval {
            max_difference: difference,
        });
    }
    Ok(())
}

/// Inference-mode logits of `images` (no graph kept), with the class count checked and a panic
/// inside the model's forward pass turned into [`Error::ModelForward`].
pub(crate) fn forward_checked<B, M>(
    frozen: &M,
    images: Tensor<B::InnerBackend, 4>,
) -> Result<Tensor<B::InnerBackend, 2>>
where
    B: AutodiffBackend,
    M: Classifier<B>,
{
    forward_checked_mode::<B, M>(frozen, images, Mode::Eval)
}

/// [`forward_checked`] in `mode` (the attacks score their candidates in their own mode).
pub(crate) fn forward_checked_mode<B, M>(
    frozen: &M,
    images: Tensor<B::InnerBackend, 4>,
    mode: Mode,
) -> Result<Tensor<B::InnerBackend, 2>>
where
    B: AutodiffBackend,
    M: Classifier<B>,
{
    let [n, ..] = images.dims();
    let logits = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        frozen
            .forward_mode(Tensor::from_inner(images), mode)
            .inner()
    }))
    .map_err(|payload| Error::ModelForward(panic_message(payload.as_ref())))?;
    let [rows, k] = logits.dims();
    if rows != n || k != frozen.num_classes() {
        return Err(Error::ClassCountMismatch {
            declared: frozen.num_classes(),
            logits: vec![rows, k],
        });
    }
    Ok(logits)
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "the forward pass panicked".into())
}

/// The copy of `model` an attack differentiates: validates the batch ([`super::validate_batch`]
/// at radius `epsilon`, and the model's input channels), makes a frozen copy
/// ([`frozen_copy`]: no parameter gradients, decoupled from `model`, so nothing an attack does
/// reaches the model) and, in [`Mode::Eval`], probes that the model evaluates in inference
/// behaviour ([`check_inference_behaviour`]). Every built-in attack starts here; so should a
/// custom one (see [`Attack`](super::Attack)).
///
/// In [`Mode::Eval`] the copy returned has its BatchNorms folded into the convolutions when the
/// model supports it ([`Classifier::fold_batch_norm`]): same logits and gradients up to float
/// rounding, fewer element-wise passes. The probe runs on the unfolded copy, since it is about
/// how the model's own BatchNorm behaves.
///
/// ```
/// use advcal::attack::attack_copy;
/// use advcal::model::{Classifier, Mode, SmallCnnConfig};
/// use advcal::Error;
/// use burn::backend::{Autodiff, NdArray};
/// use burn::prelude::*;
///
/// type B = Autodiff<NdArray>;
/// let device = Default::default();
/// let model = SmallCnnConfig::new().with_width(4).init::<B>(&device);
/// let x = Tensor::<NdArray, 4>::full([2, 3, 32, 32], 0.5, &device);
/// let y = Tensor::<NdArray, 1, Int>::from_ints([1, 2], &device);
/// let frozen = attack_copy::<B, _>(&model, &x, &y, 0.03, Mode::Eval).unwrap();
/// assert_eq!(frozen.num_classes(), 10);
/// // Pixels outside [0, 1] are refused before anything runs.
/// let err = attack_copy::<B, _>(&model, &(x + 1.0), &y, 0.03, Mode::Eval).unwrap_err();
/// assert!(matches!(err, Error::PixelRange { .. }));
/// ```
///
/// # Errors
///
/// Those of [`super::validate_batch`], [`Error::ChannelMismatch`], and in [`Mode::Eval`]
/// those of [`check_inference_behaviour`].
pub fn attack_copy<B, M>(
    model: &M,
    images: &Tensor<B::InnerBackend, 4>,
    labels: &Tensor<B::InnerBackend, 1, Int>,
    epsilon: f32,
    mode: Mode,
) -> Result<M>
where
    B: AutodiffBackend,
    M: Classifier<B> + AutodiffModule<B>,
{
    super::validate_for::<B, M>(model, images, labels, epsilon)?;
    let frozen = frozen_copy::<B, M>(model);
    if mode == Mode::Eval {
        check_inference_behaviour::<B, M>(&frozen, images)?;
        // `no_grad` again: a user's fold may create parameters that require gradients.
        return Ok(match frozen.fold_batch_norm() {
            Some(folded) => folded.no_grad(),
            None => frozen,
        });
    }
    Ok(frozen)
}

/// An input gradient `[N, C, H, W]` and the objective's per-sample values `[N]`.
pub type InputGradient<B> = (Tensor<B, 4>, Tensor<B, 1>);

/// `∇_x Σ_i ℓ(f(x)_i, y_i)` for a frozen model (see [`frozen_copy`]), with the objective's
/// per-sample values at `x`.
///
/// Gradients are taken w.r.t. the input only; every other gradient is dropped.
///
/// # Errors
///
/// [`Error::MissingGradient`] when the backend returns no gradient for the input.
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
    let (g, per_sample, _) =
        input_gradient_logits::<B, M, O>(frozen, images, labels, objective, mode)?;
    Ok((g, per_sample))
}

/// An input gradient `[N, C, H, W]`, the objective's per-sample values `[N]` and the logits
/// `[N, K]` of the same forward pass.
pub(crate) type GradientAndLogits<B> = (Tensor<B, 4>, Tensor<B, 1>, Tensor<B, 2>);

/// [`input_gradient`] with the logits of the same forward pass, `[N, K]` (the attacks that
/// select an iterate per image read them: APGD, the Eq. 2 IAA).
pub(crate) fn input_gradient_logits<B, M, O>(
    frozen: &M,
    images: Tensor<B::InnerBackend, 4>,
    labels: Tensor<B, 1, Int>,
    objective: &O,
    mode: Mode,
) -> Result<GradientAndLogits<B::InnerBackend>>
where
    B: AutodiffBackend,
    M: Classifier<B>,
    O: Objective<B> + ?Sized,
{
    let leaf = Tensor::<B, 4>::from_inner(images).require_grad();
    let logits = frozen.forward_mode(leaf.clone(), mode);
    let per_sample = objective.per_sample(logits.clone(), labels);
    let grads = per_sample.clone().sum().backward();
    let g = leaf.grad(&grads).ok_or(Error::MissingGradient)?;
    Ok((g, per_sample.inner(), logits.inner()))
}
