//! Keeping the best iterate per image: what APGD and the Eq. 2 IAA return.

use burn::prelude::*;

/// Per image, the best point offered so far, ranked first by feasibility (a feasible point beats
/// any infeasible one), then by a score (lower is better). Points offered later replace earlier
/// ones only when strictly better, so ties keep the earliest point.
///
/// * IAA (Eq. 2 of <https://arxiv.org/abs/2504.06358>): feasible = predicted as the true label,
///   score = max-softmax confidence when feasible, IAA loss otherwise.
/// * APGD (Croce & Hein 2020): feasible = misclassified, score = −loss.
///
/// Everything stays on the device: no host read.
/// The logits of the kept point are kept with it, so an attack's output reports exactly the
/// prediction the selection saw (no second forward pass that could round differently).
#[derive(Debug, Clone)]
pub(crate) struct BestIterate<B: Backend> {
    pub point: Tensor<B, 4>,
    pub logits: Tensor<B, 2>,
    pub feasible: Tensor<B, 1, Bool>,
    pub score: Tensor<B, 1>,
}

impl<B: Backend> BestIterate<B> {
    /// Starts from `point` (with its logits) with its feasibility and score.
    pub fn new(
        point: Tensor<B, 4>,
        logits: Tensor<B, 2>,
        feasible: Tensor<B, 1, Bool>,
        score: Tensor<B, 1>,
    ) -> Self {
        Self {
            point,
            logits,
            feasible,
            score,
        }
    }

    /// Offers `point` (with its logits): it replaces the kept point of every image where it is
    /// feasible and the kept one is not, or where both have the same feasibility and its score
    /// is lower.
    pub fn offer(
        &mut self,
        point: Tensor<B, 4>,
        logits: Tensor<B, 2>,
        feasible: Tensor<B, 1, Bool>,
        score: Tensor<B, 1>,
    ) {
        let gains_feasibility = feasible.clone().bool_and(self.feasible.clone().bool_not());
        let same = feasible.clone().equal(self.feasible.clone());
        let lower = score.clone().lower(self.score.clone());
        let better = gains_feasibility.bool_or(same.bool_and(lower));
        self.point = select_rows(better.clone(), point, self.point.clone());
        self.logits = select_rows(better.clone(), logits, self.logits.clone());
        self.score = self.score.clone().mask_where(better.clone(), score);
        self.feasible = self.feasible.clone().bool_or(feasible);
    }
}

/// Row `i` of `yes` where `mask[i]`, of `no` elsewhere (`[N, ...]`).
pub(crate) fn select_rows<B: Backend, const D: usize>(
    mask: Tensor<B, 1, Bool>,
    yes: Tensor<B, D>,
    no: Tensor<B, D>,
) -> Tensor<B, D> {
    let dims = no.dims();
    let mut shape = [1usize; D];
    shape[0] = dims[0];
    let mask = mask.reshape(shape).expand(dims);
    no.mask_where(mask, yes)
}

/// Per-image max-softmax confidence and whether the prediction is `labels`, from logits.
pub(crate) fn confidence_and_correct<B: Backend>(
    logits: Tensor<B, 2>,
    labels: Tensor<B, 1, Int>,
) -> (Tensor<B, 1>, Tensor<B, 1, Bool>) {
    let [n, _] = logits.dims();
    let correct = logits.clone().argmax(1).reshape([n]).equal(labels);
    let conf = burn::tensor::activation::softmax(logits, 1)
        .max_dim(1)
        .reshape([n]);
    (conf, correct)
}
