//! Underconfidence calibration attack, white-box (Obadinma et al., "Calibration Attack: A
//! Framework For Adversarial Attacks Targeting Calibration", <https://arxiv.org/abs/2401.02718>).

use super::{
    Attack, AttackGoal, AttackOutput, Budget, CrossEntropy, StepSize, attack_copy, input_gradient,
};
use crate::error::{Result, check_steps};
use crate::model::{Classifier, Mode};
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

/// Configuration of [`Uca`]. Defaults: ε = 0.03, T = 10, α = ε/4, no random start,
/// inference-mode model.
#[derive(Config, Debug)]
pub struct UcaConfig {
    /// L∞ radius on the `[0, 1]` scale.
    #[config(default = 0.03)]
    pub epsilon: f32,
    /// Number of candidate steps T.
    #[config(default = 10)]
    pub steps: usize,
    /// Step size α (default `0.25·ε`).
    #[config(default = "StepSize::RelativeToEpsilon(0.25)")]
    pub step_size: StepSize,
    /// Model behaviour during the attack.
    #[config(default = "Mode::Eval")]
    pub mode: Mode,
    /// Factor applied to a sample's own step size each time its candidate is rejected (it would
    /// change the prediction), in `(0, 1]`. With `0.5` a rejected sample keeps searching with
    /// half the step from where it is; `1.0` is the reference code's behaviour, where the same
    /// candidate is proposed and rejected again, freezing the sample for the rest of the attack.
    #[config(default = 0.5)]
    pub rejection_decay: f32,
}

/// UCA (white-box): sign-gradient **ascent** on `CE(f(x), ŷ₀)` where `ŷ₀` is the clean
/// prediction, rejecting every step that would change the prediction. Lowers confidence and
/// never changes a prediction, so accuracy under UCA equals clean accuracy.
///
/// Unlike the reference code, the perturbation respects ε exactly (no dropout rescaling), and a
/// rejected sample is not frozen: its own step size is multiplied by
/// [`rejection_decay`](UcaConfig::rejection_decay) and it tries again from its current point
/// (per sample: `α_i ← decay · α_i` on rejection), so every sample can keep lowering its
/// confidence until the budget of T candidates is spent.
/// The gradient of an accepted candidate is reused as the next step's gradient, so the attack
/// costs T + 1 forward/backward passes.
#[derive(Debug, Clone)]
pub struct Uca {
    /// Hyper-parameters.
    pub config: UcaConfig,
}

impl Uca {
    /// A UCA attack with these settings.
    pub fn new(config: UcaConfig) -> Self {
        Self { config }
    }
}

impl Default for Uca {
    fn default() -> Self {
        Self::new(UcaConfig::new())
    }
}

impl<B, M> Attack<B, M> for Uca
where
    B: AutodiffBackend,
    M: Classifier<B> + AutodiffModule<B>,
{
    fn name(&self) -> String {
        "uca".into()
    }
    fn budget(&self) -> Budget {
        Budget::new(self.config.epsilon)
    }
    fn goal(&self) -> AttackGoal {
        AttackGoal::Underconfidence
    }
    fn perturb_under(
        &self,
        model: &M,
        images: Tensor<B::InnerBackend, 4>,
        labels: Tensor<B::InnerBackend, 1, Int>,
        budget: Budget,
    ) -> Result<AttackOutput<B::InnerBackend>> {
        let epsilon = budget.epsilon;
        check_steps(self.config.steps)?;
        let alpha = self.config.step_size.resolve(epsilon, self.config.steps)?;
        let mode = self.config.mode;
        let frozen = attack_copy::<B, M>(model, &images, &labels, epsilon, mode)?;
        let [n, _, _, _] = images.dims();

        // Clean prediction ŷ₀: the label the attack must preserve.
        let clean_logits = frozen
            .forward_mode(Tensor::from_inner(images.clone()), Mode::Eval)
            .inner();
        let y0 = clean_logits.argmax(1).reshape([n]);
        let y0_ad = Tensor::<B, 1, Int>::from_inner(y0.clone());

        let mut current = images.clone();
        let (mut grad, _) = input_gradient::<B, M, _>(
            &frozen,
            current.clone(),
            y0_ad.clone(),
            &CrossEntropy,
            mode,
        )?;
        let decay = self.config.rejection_decay;
        if !(decay > 0.0 && decay <= 1.0) {
            return Err(crate::Error::param(
                "rejection_decay",
                format!("must lie in (0, 1], got {decay}"),
            ));
        }
        // Per-sample step sizes `[N, 1, 1, 1]`.
        let mut step = Tensor::<B::InnerBackend, 4>::full([n, 1, 1, 1], alpha, &images.device());
        for _ in 0..self.config.steps {
            let candidate = super::project_linf(
                current.clone() + grad.clone().sign() * step.clone(),
                images.clone(),
                epsilon,
            );
            // One pass gives both the candidate's prediction and its gradient.
            let leaf = Tensor::<B, 4>::from_inner(candidate.clone()).require_grad();
            let logits = frozen.forward_mode(leaf.clone(), mode);
            let pred = logits.clone().inner().argmax(1).reshape([n]);
            let loss = super::cross_entropy(logits, y0_ad.clone()).sum();
            let cand_grad = leaf
                .grad(&loss.backward())
                .ok_or(crate::Error::MissingGradient)?;
            let keep = pred.equal(y0.clone()).float().reshape([n, 1, 1, 1]);
            let reject = keep.clone().neg().add_scalar(1.0);
            current = candidate * keep.clone() + current * reject.clone();
            grad = cand_grad * keep.clone() + grad * reject.clone();
            step = step.clone() * keep + step * reject.mul_scalar(decay);
        }
        Ok(AttackOutput::with_objective::<B, M, _>(
            &frozen,
            images,
            current,
            y0,
            &CrossEntropy,
        ))
    }
}
