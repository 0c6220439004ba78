//! Inverse adversarial attack (IAA, Algorithm 1 of Cheng et al., "Towards Calibration Enhanced
//! Network by Inverse Adversarial Attack", <https://arxiv.org/abs/2504.06358>).

use super::{
    Attack, AttackGoal, AttackOutput, Budget, Direction, IaaObjective, RadiusSchedule,
    SignGradient, SignGradientConfig, StartPoint, StepSize,
};
use crate::error::{Error, Result};
use crate::model::{Classifier, Mode};
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

/// Configuration of [`Iaa`]. Defaults: λ = 5, T = 10 updates, α = ε/T, radius growing as
/// `t·ε/T`, `N₀ ~ U(−ε, ε)`, ε = 0.03 (the paper's evaluation radius), inference-mode model.
#[derive(Config, Debug)]
pub struct IaaConfig {
    /// L∞ radius on the `[0, 1]` scale.
    #[config(default = 0.03)]
    pub epsilon: f32,
    /// Number of updates T (the paper's printed Algorithm 1 loops `t = 1 … T−1`; here all T
    /// updates run and `X + N_T` is returned, so the radius reaches ε).
    #[config(default = 10)]
    pub steps: usize,
    /// Weight λ of the uniform-target term.
    #[config(default = 5.0)]
    pub lambda: f32,
    /// Step size; `None` means `α = ε/T` as in Algorithm 1.
    #[config(default = "None")]
    pub step_size: Option<f32>,
    /// Grow the projection radius as `t·ε/T` (Algorithm 1) instead of using ε at every step.
    #[config(default = true)]
    pub growing_radius: bool,
    /// Start from `N₀ ~ U(−ε, ε)` (Algorithm 1) instead of `N₀ = 0`.
    #[config(default = true)]
    pub random_start: bool,
    /// Model behaviour during the attack.
    #[config(default = "Mode::Eval")]
    pub mode: Mode,
    /// Seed of `N₀`.
    #[config(default = 0)]
    pub seed: u64,
}

/// IAA: sign-gradient **descent** on `CE(f(x+N), y) + λ·CE(f(x+N), uniform)` inside the L∞ ball
/// (Cheng et al., <https://arxiv.org/abs/2504.06358>).
///
/// Finds inputs the model still classifies correctly, but with low confidence, exposing
/// underconfidence. Over the probabilities, the loss is minimal when the true class gets
/// `p_y* = (1 + λ/K)/(1 + λ)` and every other class `(λ/K)/(1 + λ)`: 0.25 for K = 10 and 0.1708
/// for K = 200 at λ = 5 ([`iaa_optimal_confidence`](super::iaa_optimal_confidence)). The true
/// class stays the most probable, so a correct prediction stays correct at the optimum.
///
/// Algorithm 1 of the paper, line by line with the [`SignGradientConfig`] setting that realises
/// it (the engine behind [`Iaa`]); inputs are images `X ∈ [0, 1]`, labels `y`, `K` classes:
///
/// ```text
/// N₀ ~ U(−ε, ε)                              start = StartPoint::UniformUnclamped
///                                              (the first forward pass sees clip(X + N₀, 0, 1))
/// α = ε / T                                  step_size = StepSize::EpsilonOverSteps
/// for t = 1 … T:                             steps = T = 10
///   L = CE(f(X+N), y) + λ·CE(f(X+N), 1/K)    objective = IaaObjective { lambda: 5.0 }
///   N_t = N_{t−1} − α·sign(∇_N Σ_batch L)    direction = Direction::Descent
///   N_t = clip(N_t, −t·ε/T, t·ε/T),          radius = RadiusSchedule::Linear
///         X + N_t clipped to [0, 1]
/// return X + N_T                             (model in mode = Mode::Eval)
/// ```
///
/// [`IaaConfig`] chooses these settings: `random_start` (`false`: start = `Clean`),
/// `step_size` (`Some(α)`: `Absolute(α)`), `steps`, `lambda`, `growing_radius` (`false`:
/// radius = `Constant`) and `mode`.
///
/// The printed algorithm stops after `T − 1` updates at radius `(T−1)·ε/T`; here all T run, so
/// the final radius is ε.
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
    fn budget(&self) -> Budget {
        Budget::new(self.config.epsilon).with_seed(self.config.seed)
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
        self.sign_gradient()?
            .perturb_under(model, images, labels, budget)
    }
    fn adversarial_under(
        &self,
        model: &M,
        images: Tensor<B::InnerBackend, 4>,
        labels: Tensor<B::InnerBackend, 1, Int>,
        budget: Budget,
    ) -> Result<Tensor<B::InnerBackend, 4>> {
        self.sign_gradient()?
            .adversarial_under(model, images, labels, budget)
    }
}

impl Iaa {
    /// IAA as the engine it runs: descent on its objective, λ checked.
    fn sign_gradient(&self) -> Result<SignGradient<IaaObjective>> {
        let lambda = self.config.lambda;
        if !(lambda.is_finite() && lambda >= 0.0) {
            return Err(Error::InvalidLambda(lambda as f64));
        }
        Ok(self.engine().with_objective(
            "iaa",
            AttackGoal::Underconfidence,
            IaaObjective { lambda },
        ))
    }
}
