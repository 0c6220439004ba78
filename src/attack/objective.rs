//! Per-sample losses on logits: the objectives attacks ascend or descend.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;

/// A per-sample objective `ℓ(z_i, y_i)` on logits `z` (`[N, K]`) and labels `y` (`[N]`),
/// returning `[N]` values.
///
/// Any closure `Fn(Tensor<B, 2>, Tensor<B, 1, Int>) -> Tensor<B, 1>` is an objective, so a
/// custom attack can be a one-liner on top of [`SignGradient`](super::SignGradient):
///
/// ```
/// use advcal::attack::{cross_entropy, Objective};
/// use burn::backend::NdArray;
/// use burn::prelude::*;
///
/// // Maximise the logit margin of the true class over the mean logit.
/// let margin = |z: Tensor<NdArray, 2>, y: Tensor<NdArray, 1, Int>| {
///     let [n, _] = z.dims();
///     z.clone().gather(1, y.reshape([n, 1])).reshape([n]) - z.mean_dim(1).reshape([n])
/// };
/// let z = Tensor::<NdArray, 2>::from_floats([[2.0, 0.0]], &Default::default());
/// let y = Tensor::<NdArray, 1, Int>::from_ints([0], &Default::default());
/// assert_eq!(margin.per_sample(z, y).into_scalar(), 1.0);
/// ```
pub trait Objective<B: Backend> {
    /// The `[N]` per-sample values.
    fn per_sample(&self, logits: Tensor<B, 2>, labels: Tensor<B, 1, Int>) -> Tensor<B, 1>;
}

impl<B: Backend, F> Objective<B> for F
where
    F: Fn(Tensor<B, 2>, Tensor<B, 1, Int>) -> Tensor<B, 1>,
{
    fn per_sample(&self, logits: Tensor<B, 2>, labels: Tensor<B, 1, Int>) -> Tensor<B, 1> {
        self(logits, labels)
    }
}

/// Per-sample cross-entropy with hard labels, `logsumexp(z) − z_y`, computed with a stable
/// log-softmax.
pub fn cross_entropy<B: Backend>(logits: Tensor<B, 2>, labels: Tensor<B, 1, Int>) -> Tensor<B, 1> {
    let [n, _] = logits.dims();
    log_softmax(logits, 1)
        .gather(1, labels.reshape([n, 1]))
        .reshape([n])
        .neg()
}

/// Per-sample cross-entropy to the uniform distribution, `logsumexp(z) − mean_k z_k`.
pub fn uniform_cross_entropy<B: Backend>(logits: Tensor<B, 2>) -> Tensor<B, 1> {
    let [n, _] = logits.dims();
    log_softmax(logits, 1).mean_dim(1).reshape([n]).neg()
}

/// Per-sample cross-entropy to soft targets `q` (`[N, K]` rows summing to 1),
/// `−Σ_k q_k log softmax(z)_k`.
pub fn soft_cross_entropy<B: Backend>(logits: Tensor<B, 2>, targets: Tensor<B, 2>) -> Tensor<B, 1> {
    let [n, _] = logits.dims();
    (log_softmax(logits, 1) * targets)
        .sum_dim(1)
        .reshape([n])
        .neg()
}

/// Per-sample IAA loss of Cheng et al. (Eq. 3 of <https://arxiv.org/abs/2504.06358>):
///
/// ```text
/// L(z, y) = CE(z, y) + λ·CE(z, u) = −log p_y − (λ/K)·Σ_k log p_k,   p = softmax(z), u = 1/K
/// ```
///
/// Its minimum over logits is at `p_y = (1 + λ/K)/(1 + λ)` (see [`iaa_optimal_confidence`]).
pub fn iaa_loss<B: Backend>(
    logits: Tensor<B, 2>,
    labels: Tensor<B, 1, Int>,
    lambda: f32,
) -> Tensor<B, 1> {
    let [n, _] = logits.dims();
    let logp = log_softmax(logits, 1);
    let ce = logp
        .clone()
        .gather(1, labels.reshape([n, 1]))
        .reshape([n])
        .neg();
    let uniform = logp.mean_dim(1).reshape([n]).neg();
    ce + uniform.mul_scalar(lambda)
}

/// Hard-label cross-entropy as an [`Objective`] (PGD, FGSM, UCA).
#[derive(Debug, Clone, Copy, Default)]
pub struct CrossEntropy;

impl<B: Backend> Objective<B> for CrossEntropy {
    fn per_sample(&self, logits: Tensor<B, 2>, labels: Tensor<B, 1, Int>) -> Tensor<B, 1> {
        cross_entropy(logits, labels)
    }
}

/// The IAA loss `CE(z, y) + λ·CE(z, u)` as an [`Objective`].
#[derive(Debug, Clone, Copy)]
pub struct IaaObjective {
    /// Weight λ of the uniform term.
    pub lambda: f32,
}

impl<B: Backend> Objective<B> for IaaObjective {
    fn per_sample(&self, logits: Tensor<B, 2>, labels: Tensor<B, 1, Int>) -> Tensor<B, 1> {
        iaa_loss(logits, labels, self.lambda)
    }
}

/// The analytic optimum of the IAA loss [`iaa_loss`]: `p_y* = (1 + λ/K)/(1 + λ)`, the
/// true-class probability at which `CE(z, y) + λ·CE(z, u)` is minimal (minimising
/// `−log p_y − (λ/K)·Σ_k log p_k` over the simplex gives `p_k ∝ 1[k = y] + λ/K`).
///
/// ```
/// assert!((advcal::attack::iaa_optimal_confidence(5.0, 10) - 0.25).abs() < 1e-12);
/// assert!((advcal::attack::iaa_optimal_confidence(5.0, 200) - 0.1708333).abs() < 1e-6);
/// ```
pub fn iaa_optimal_confidence(lambda: f64, num_classes: usize) -> f64 {
    (1.0 + lambda / num_classes as f64) / (1.0 + lambda)
}
