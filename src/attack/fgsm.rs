//! Fast gradient sign method (Goodfellow, Shlens, Szegedy, "Explaining and Harnessing
//! Adversarial Examples", ICLR 2015, <https://arxiv.org/abs/1412.6572>).

use super::{
    Attack, AttackGoal, AttackOutput, Budget, CrossEntropy, Direction, RadiusSchedule,
    SignGradient, SignGradientConfig, StartPoint, StepSize,
};
use crate::error::Result;
use crate::model::{Classifier, Mode};
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

/// Configuration of [`Fgsm`]. Default ε = 8/255.
#[derive(Config, Debug)]
pub struct FgsmConfig {
    /// L∞ radius on the `[0, 1]` scale (also the step size).
    #[config(default = 0.031372549)]
    pub epsilon: f32,
    /// Model behaviour during the attack.
    #[config(default = "Mode::Eval")]
    pub mode: Mode,
}

/// FGSM: `x_adv = clamp(x + ε·sign(∇_x CE(f(x), y)), 0, 1)`; one step, no random start.
#[derive(Debug, Clone)]
pub struct Fgsm {
    /// Hyper-parameters.
    pub config: FgsmConfig,
}

impl Fgsm {
    /// An FGSM attack with these settings.
    pub fn new(config: FgsmConfig) -> Self {
        Self { config }
    }
}

impl Default for Fgsm {
    fn default() -> Self {
        Self::new(FgsmConfig::new())
    }
}

impl<B, M> Attack<B, M> for Fgsm
where
    B: AutodiffBackend,
    M: Classifier<B> + AutodiffModule<B>,
{
    fn name(&self) -> String {
        "fgsm".into()
    }
    fn budget(&self) -> Budget {
        Budget::new(self.config.epsilon)
    }
    fn perturb_under(
        &self,
        model: &M,
        images: Tensor<B::InnerBackend, 4>,
        labels: Tensor<B::InnerBackend, 1, Int>,
        budget: Budget,
    ) -> Result<AttackOutput<B::InnerBackend>> {
        self.sign_gradient()
            .perturb_under(model, images, labels, budget)
    }
    fn adversarial_under(
        &self,
        model: &M,
        images: Tensor<B::InnerBackend, 4>,
        labels: Tensor<B::InnerBackend, 1, Int>,
        budget: Budget,
    ) -> Result<Tensor<B::InnerBackend, 4>> {
        self.sign_gradient()
            .adversarial_under(model, images, labels, budget)
    }
}

impl Fgsm {
    /// FGSM as the engine it runs: one ascent step of size ε on the cross-entropy from the clean
    /// images.
    fn sign_gradient(&self) -> SignGradient<CrossEntropy> {
        SignGradientConfig::new()
            .with_steps(1)
            .with_step_size(StepSize::RelativeToEpsilon(1.0))
            .with_direction(Direction::Ascent)
            .with_radius(RadiusSchedule::Constant)
            .with_start(StartPoint::Clean)
            .with_mode(self.config.mode)
            .with_objective("fgsm", AttackGoal::Misclassify, CrossEntropy)
    }
}
