//! Projected gradient descent (Madry et al., "Towards Deep Learning Models Resistant to
//! Adversarial Attacks", ICLR 2018, <https://arxiv.org/abs/1706.06083>).

use super::{
    Attack, AttackOutput, Budget, CrossEntropy, Direction, RadiusSchedule, SignGradient,
    SignGradientConfig, StartPoint, StepSize,
};
use crate::error::Result;
use crate::model::{Classifier, Mode};
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

/// Configuration of [`Pgd`]. Defaults: ε = 8/255, α = ε/4 (= 2/255 at ε = 8/255), T = 10,
/// uniform random start, ascent on the cross-entropy of the true label, inference-mode model.
#[derive(Config, Debug)]
pub struct PgdConfig {
    /// L∞ radius on the `[0, 1]` scale.
    #[config(default = 0.031372549)]
    pub epsilon: f32,
    /// Number of steps T.
    #[config(default = 10)]
    pub steps: usize,
    /// Step size α (default `0.25·ε`).
    #[config(default = "StepSize::RelativeToEpsilon(0.25)")]
    pub step_size: StepSize,
    /// Start from `clamp(x + U(−ε, ε))` (true) or from `x` (false).
    #[config(default = true)]
    pub random_start: bool,
    /// Model behaviour during the attack.
    #[config(default = "Mode::Eval")]
    pub mode: Mode,
    /// Seed of the random start.
    #[config(default = 0)]
    pub seed: u64,
}

/// PGD-T in L∞: `x_{t+1} = Π(x_t + α·sign(∇_x CE(f(x_t), y)))`, returning the last iterate.
///
/// ```
/// use advcal::attack::{Pgd, PgdConfig};
/// let pgd = Pgd::new(PgdConfig::new().with_steps(20));
/// assert_eq!(pgd.config.steps, 20);
/// ```
#[derive(Debug, Clone)]
pub struct Pgd {
    /// Hyper-parameters.
    pub config: PgdConfig,
}

impl Pgd {
    /// A PGD attack with these settings.
    pub fn new(config: PgdConfig) -> Self {
        Self { config }
    }

    pub(crate) fn engine(&self) -> SignGradientConfig {
        SignGradientConfig::new()
            .with_epsilon(self.config.epsilon)
            .with_steps(self.config.steps)
            .with_step_size(self.config.step_size)
            .with_direction(Direction::Ascent)
            .with_radius(RadiusSchedule::Constant)
            .with_start(if self.config.random_start {
                StartPoint::Uniform
            } else {
                StartPoint::Clean
            })
            .with_mode(self.config.mode)
            .with_seed(self.config.seed)
    }
}

impl Default for Pgd {
    fn default() -> Self {
        Self::new(PgdConfig::new())
    }
}

impl<B, M> Attack<B, M> for Pgd
where
    B: AutodiffBackend,
    M: Classifier<B> + AutodiffModule<B>,
{
    fn name(&self) -> String {
        "pgd".into()
    }
    fn budget(&self) -> Budget {
        Budget::new(self.config.epsilon).with_seed(self.config.seed)
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

impl Pgd {
    /// PGD as the engine it runs: ascent on the cross-entropy.
    fn sign_gradient(&self) -> SignGradient<CrossEntropy> {
        self.engine()
            .with_objective("pgd", super::AttackGoal::Misclassify, CrossEntropy)
    }
}
