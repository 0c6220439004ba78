//! Inverse adversarial attack (seed paper, Algorithm 1, with the spec's corrections).

use super::{
    Attack, AttackGoal, AttackOutput, Direction, IaaObjective, RadiusSchedule, SignGradientConfig,
    StartPoint, StepSize,
};
use crate::error::{Error, Result};
use crate::model::{Classifier, Mode};
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

/// Configuration of [`Iaa`]. Defaults: λ = 5, T = 10 updates, α = ε/T, radius growing as
/// `t·ε/T`, `N₀ ~ U(−ε, ε)`, ε = 0.03 (the seed's evaluation radius), inference-mode model.
#[derive(Config, Debug)]
pub struct IaaConfig {
    /// L∞ radius on the `[0, 1]` scale.
    #[config(default = 0.03)]
    pub epsilon: f32,
    /// Number of updates T (the printed Algorithm 1 runs T−1; we run T and return `X + N_T`).
    #[config(default = 10)]
    pub steps: usize,
    /// Weight λ of the uniform-target term.
    #[config(default = 5.0)]
    pub lambda: f32,
    /// Step size; `None` means `α = ε/T` as in the seed.
    #[config(default = "None")]
    pub step_size: Option<f32>,
    /// Grow the projection radius as `t·ε/T` (seed) instead of using ε at every step.
    #[config(default = true)]
    pub growing_radius: bool,
    /// Start from `N₀ ~ U(−ε, ε)` (seed) instead of `N₀ = 0`.
    #[config(default = true)]
    pub random_start: bool,
    /// Model behaviour during the attack.
    #[config(default = "Mode::Eval")]
    pub mode: Mode,
    /// Seed of `N₀`.
    #[config(default = 0)]
    pub seed: u64,
}

/// IAA: sign-gradient **descent** on `CE(f(x+N), y) + λ·CE(f(x+N), uniform)` inside the L∞ ball.
///
/// Finds inputs the model still classifies correctly, but with low confidence: at the optimum
/// `p_y = (1 + λ/K)/(1 + λ)` (0.25 for K = 10, λ = 5), exposing underconfidence.
///
/// ```
/// use advcal::attack::{Iaa, IaaConfig};
/// let iaa = Iaa::new(IaaConfig::new().with_lambda(3.0));
/// assert_eq!(iaa.config.lambda, 3.0);
/// ```
#[derive(Debug, Clone)]
pub struct Iaa {
    /// Hyper-parameters.
    pub config: IaaConfig,
}

impl Iaa {
    /// An IAA attack with these settings.
    pub fn new(config: IaaConfig) -> Self {
        Self { config }
    }

    pub(crate) fn engine(&self) -> SignGradientConfig {
        SignGradientConfig::new()
            .with_epsilon(self.config.epsilon)
            .with_steps(self.config.steps)
            .with_step_size(match self.config.step_size {
                Some(a) => StepSize::Absolute(a),
                None => StepSize::EpsilonOverSteps,
            })
            .with_direction(Direction::Descent)
            .with_radius(if self.config.growing_radius {
                RadiusSchedule::Linear
            } else {
                RadiusSchedule::Constant
            })
            .with_start(if self.config.random_start {
                StartPoint::UniformUnclamped
            } else {
                StartPoint::Clean
            })
            .with_mode(self.config.mode)
            .with_seed(self.config.seed)
    }
}

impl Default for Iaa {
    fn default() -> Self {
        Self::new(IaaConfig::new())
    }
}

impl<B, M> Attack<B, M> for Iaa
where
    B: AutodiffBackend,
    M: Classifier<B> + AutodiffModule<B>,
{
    fn name(&self) -> String {
        "iaa".into()
    }
    fn epsilon(&self) -> f32 {
        self.config.epsilon
    }
    fn seed(&self) -> u64 {
        self.config.seed
    }
    fn goal(&self) -> AttackGoal {
        AttackGoal::Underconfidence
    }
    fn perturb_with(
        &self,
        model: &M,
        images: Tensor<B::InnerBackend, 4>,
        labels: Tensor<B::InnerBackend, 1, Int>,
        epsilon: f32,
        seed: u64,
    ) -> Result<AttackOutput<B::InnerBackend>> {
        let lambda = self.config.lambda;
        if !(lambda.is_finite() && lambda >= 0.0) {
            return Err(Error::InvalidLambda(lambda as f64));
        }
        self.engine()
            .with_objective("iaa", AttackGoal::Underconfidence, IaaObjective { lambda })
            .perturb_with(model, images, labels, epsilon, seed)
    }
}
