//! The shared sign-gradient engine behind FGSM, PGD, IAA and custom attacks.

use super::{Attack, AttackGoal, AttackOutput, Budget, Objective, attack_copy, input_gradient};
use crate::error::{Error, Result, check_steps};
use crate::model::{Classifier, Mode};
use crate::rng::uniform_tensor;
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

/// Step size α of a sign-gradient attack.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum StepSize {
    /// A fixed α on the pixel scale.
    Absolute(f32),
    /// `α = factor · ε` (PGD evaluation default: 0.25).
    RelativeToEpsilon(f32),
    /// `α = ε / T` (IAA, Algorithm 1 of <https://arxiv.org/abs/2504.06358>).
    EpsilonOverSteps,
}

impl StepSize {
    /// α for radius `epsilon` and `steps` iterations.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidStepSize`] unless α comes out finite and non-negative.
    pub fn resolve(&self, epsilon: f32, steps: usize) -> Result<f32> {
        let alpha = match *self {
            StepSize::Absolute(a) => a,
            StepSize::RelativeToEpsilon(f) => f * epsilon,
            StepSize::EpsilonOverSteps => epsilon / steps.max(1) as f32,
        };
        if alpha.is_finite() && alpha >= 0.0 {
            Ok(alpha)
        } else {
            Err(Error::InvalidStepSize(alpha as f64))
        }
    }
}

/// Whether the objective is maximised or minimised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// `x ← x + α·sign(∇)` (adversarial attacks).
    Ascent,
    /// `x ← x − α·sign(∇)` (inverse attacks).
    Descent,
}

/// Radius of the projection at step `t` of `T`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RadiusSchedule {
    /// Always ε.
    Constant,
    /// `t·ε/T`, growing to ε at the last step (IAA, Algorithm 1 of
    /// <https://arxiv.org/abs/2504.06358>).
    Linear,
}

/// Where the iteration starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StartPoint {
    /// At the clean image.
    Clean,
    /// At `clamp(x + U(−ε, ε), 0, 1)` (PGD; Madry et al., ICLR 2018,
    /// <https://arxiv.org/abs/1706.06083>).
    Uniform,
    /// At `x + N₀`, `N₀ ~ U(−ε, ε)`, not clamped before the first update (IAA, as Algorithm 1
    /// of <https://arxiv.org/abs/2504.06358> adds `N₀` without clipping: the first forward pass
    /// sees `clamp(x + N₀, 0, 1)`, the first update is applied to `N₀` itself).
    UniformUnclamped,
}

/// Configuration of the sign-gradient engine:
///
/// ```text
/// x_0 = start;  for t = 1..=T:  x_t = Π_{r_t}( x_{t-1} ± α·sign(∇ Σ_i ℓ(f(x_{t-1})_i, y_i)) )
/// ```
/// where `Π_r` projects onto the L∞ ball of radius `r` around `x` and then onto `[0, 1]`.
#[derive(Config, Debug)]
pub struct SignGradientConfig {
    /// L∞ radius on the `[0, 1]` pixel scale.
    #[config(default = 0.031372549)]
    pub epsilon: f32,
    /// Number of updates T.
    #[config(default = 10)]
    pub steps: usize,
    /// Step size α.
    #[config(default = "StepSize::RelativeToEpsilon(0.25)")]
    pub step_size: StepSize,
    /// Ascent or descent on the objective.
    #[config(default = "Direction::Ascent")]
    pub direction: Direction,
    /// Projection radius per step.
    #[config(default = "RadiusSchedule::Constant")]
    pub radius: RadiusSchedule,
    /// Starting point.
    #[config(default = "StartPoint::Uniform")]
    pub start: StartPoint,
    /// Model behaviour during the attack (default: inference).
    #[config(default = "Mode::Eval")]
    pub mode: Mode,
    /// Seed of the random start.
    #[config(default = 0)]
    pub seed: u64,
}

impl SignGradientConfig {
    /// Pairs the engine with an objective, giving a ready [`Attack`].
    pub fn with_objective<O>(
        self,
        name: impl Into<String>,
        goal: AttackGoal,
        objective: O,
    ) -> SignGradient<O> {
        SignGradient {
            config: self,
            objective,
            name: name.into(),
            goal,
        }
    }
}

/// A sign-gradient attack on any [`Objective`]: the easiest way to write a custom attack.
///
/// ```
/// use advcal::attack::{Attack, AttackGoal, Direction, SignGradientConfig};
/// use advcal::model::SmallCnnConfig;
/// use burn::backend::{Autodiff, NdArray};
/// use burn::prelude::*;
/// use burn::tensor::activation::softmax;
///
/// type B = Autodiff<NdArray>;
/// // Minimise the maximum softmax probability (a confidence-lowering attack).
/// let attack = SignGradientConfig::new()
///     .with_direction(Direction::Descent)
///     .with_steps(3)
///     .with_objective("min-conf", AttackGoal::Underconfidence, |z: Tensor<B, 2>, _y: Tensor<B, 1, Int>| {
///         let [n, _] = z.dims();
///         softmax(z, 1).max_dim(1).reshape([n])
///     });
/// let device = Default::default();
/// let model = SmallCnnConfig::new().with_width(4).init::<B>(&device);
/// let x = Tensor::<NdArray, 4>::full([1, 3, 32, 32], 0.5, &device);
/// let y = Tensor::<NdArray, 1, Int>::from_ints([0], &device);
/// let out = attack.perturb(&model, x, y).unwrap();
/// assert_eq!(out.adversarial.dims(), [1, 3, 32, 32]);
/// ```
#[derive(Debug, Clone)]
pub struct SignGradient<O> {
    /// Engine settings.
    pub config: SignGradientConfig,
    /// The per-sample objective.
    pub objective: O,
    name: String,
    goal: AttackGoal,
}

impl<B, M, O> Attack<B, M> for SignGradient<O>
where
    B: AutodiffBackend,
    M: Classifier<B> + AutodiffModule<B>,
    O: Objective<B>,
{
    fn name(&self) -> String {
        self.name.clone()
    }
    fn budget(&self) -> Budget {
        Budget::new(self.config.epsilon).with_seed(self.config.seed)
    }
    fn goal(&self) -> AttackGoal {
        self.goal
    }
    fn perturb_under(
        &self,
        model: &M,
        images: Tensor<B::InnerBackend, 4>,
        labels: Tensor<B::InnerBackend, 1, Int>,
        budget: Budget,
    ) -> Result<AttackOutput<B::InnerBackend>> {
        let (frozen, adversarial) = self.search(model, images.clone(), labels.clone(), budget)?;
        Ok(AttackOutput::with_objective::<B, M, O>(
            &frozen,
            images,
            adversarial,
            labels,
            &self.objective,
        ))
    }
    fn adversarial_under(
        &self,
        model: &M,
        images: Tensor<B::InnerBackend, 4>,
        labels: Tensor<B::InnerBackend, 1, Int>,
        budget: Budget,
    ) -> Result<Tensor<B::InnerBackend, 4>> {
        Ok(self.search(model, images, labels, budget)?.1)
    }
}

impl<O> SignGradient<O> {
    /// The attack copy of `model` and the engine's `x_adv` under `budget`.
    fn search<B, M>(
        &self,
        model: &M,
        images: Tensor<B::InnerBackend, 4>,
        labels: Tensor<B::InnerBackend, 1, Int>,
        budget: Budget,
    ) -> Result<(M, Tensor<B::InnerBackend, 4>)>
    where
        B: AutodiffBackend,
        M: Classifier<B> + AutodiffModule<B>,
        O: Objective<B>,
    {
        let Budget { epsilon, seed } = budget;
        let frozen = attack_copy::<B, M>(model, &images, &labels, epsilon, self.config.mode)?;
        let adversarial = run_sign_gradient::<B, M, O>(
            &frozen,
            images,
            labels,
            &self.objective,
            &self.config,
            epsilon,
            seed,
        )?;
        Ok((frozen, adversarial))
    }
}

/// The engine loop on an already frozen model and validated inputs; returns `x_adv`.
///
/// State is kept on the inner backend; each step builds one gradient leaf. Per step: one
/// forward + backward w.r.t. the input and seven element-wise ops, with no host–device
/// synchronisation.
pub(crate) fn run_sign_gradient<B, M, O>(
    frozen: &M,
    images: Tensor<B::InnerBackend, 4>,
    labels: Tensor<B::InnerBackend, 1, Int>,
    objective: &O,
    config: &SignGradientConfig,
    epsilon: f32,
    seed: u64,
) -> Result<Tensor<B::InnerBackend, 4>>
where
    B: AutodiffBackend,
    M: Classifier<B>,
    O: Objective<B> + ?Sized,
{
    check_steps(config.steps)?;
    let alpha = config.step_size.resolve(epsilon, config.steps)?;
    let signed_alpha = match config.direction {
        Direction::Ascent => alpha,
        Direction::Descent => -alpha,
    };
    let device = images.device();
    let labels = Tensor::<B, 1, Int>::from_inner(labels);
    let mut x_adv = match config.start {
        StartPoint::Clean => images.clone(),
        StartPoint::Uniform | StartPoint::UniformUnclamped => {
            let noise = uniform_tensor::<B::InnerBackend, 4>(images.dims(), epsilon, seed, &device);
            let start = images.clone() + noise;
            if config.start == StartPoint::Uniform {
                start.clamp(0.0, 1.0)
            } else {
                start
            }
        }
    };
    let steps = config.steps;
    for t in 1..=steps {
        let point = if t == 1 && config.start == StartPoint::UniformUnclamped {
            x_adv.clone().clamp(0.0, 1.0)
        } else {
            x_adv.clone()
        };
        let radius = match config.radius {
            RadiusSchedule::Constant => epsilon,
            RadiusSchedule::Linear => t as f32 * epsilon / steps as f32,
        };
        x_adv = sign_gradient_step::<B, M, O>(
            frozen,
            point,
            x_adv,
            images.clone(),
            labels.clone(),
            objective,
            signed_alpha,
            radius,
            config.mode,
        )?;
    }
    Ok(x_adv)
}

/// One iteration of the engine: the input gradient of `objective` at `point`, then
/// `Π_radius(x_adv + signed_alpha·sign(∇))` around `images`. `point` is where the model is
/// evaluated (equal to `x_adv` except for an unclamped start). Public so benchmarks and custom
/// loops measure and reuse exactly the code the attacks run.
///
/// # Errors
///
/// [`Error::MissingGradient`] when the backend returns no gradient for the input (see
/// [`input_gradient`](super::input_gradient)).
#[allow(clippy::too_many_arguments)]
pub fn sign_gradient_step<B, M, O>(
    frozen: &M,
    point: Tensor<B::InnerBackend, 4>,
    x_adv: Tensor<B::InnerBackend, 4>,
    images: Tensor<B::InnerBackend, 4>,
    labels: Tensor<B, 1, Int>,
    objective: &O,
    signed_alpha: f32,
    radius: f32,
    mode: Mode,
) -> Result<Tensor<B::InnerBackend, 4>>
where
    B: AutodiffBackend,
    M: Classifier<B>,
    O: Objective<B> + ?Sized,
{
    let (grad, _) = input_gradient::<B, M, O>(frozen, point, labels, objective, mode)?;
    Ok(sign_step_update(x_adv, grad, signed_alpha, images, radius))
}

/// The attack's own work in one step, on a gradient already computed:
/// `Π_radius(x_adv + signed_alpha·sign(grad))`, where `Π_radius` clips to the L∞ ball of
/// `radius` around `images` and then to `[0, 1]` (see [`project_linf`](super::project_linf)).
///
/// Every sign-gradient attack in this crate (PGD, IAA, the engine behind them, UCA's candidate
/// step) updates its iterate through this one function, so benchmarks that time it alone time
/// exactly what the attacks run. A positive `signed_alpha` ascends the gradient, a negative one
/// descends it. A zero gradient component leaves that pixel where it is (`sign(0) = 0`).
///
/// ```
/// use advcal::attack::sign_step_update;
/// use burn::backend::NdArray;
/// use burn::tensor::{Tensor, TensorData};
///
/// let device = Default::default();
/// let image = Tensor::<NdArray, 4>::from_data(TensorData::new(vec![0.5f32, 0.99, 0.2, 0.0], [1, 1, 2, 2]), &device);
/// let grad = Tensor::<NdArray, 4>::from_data(TensorData::new(vec![1.0f32, 3.0, -2.0, 0.0], [1, 1, 2, 2]), &device);
/// // Ascend by 0.1, but stay within 0.05 of the image and inside [0, 1].
/// let next = sign_step_update(image.clone(), grad, 0.1, image, 0.05);
/// next.into_data().assert_approx_eq::<f32>(
///     &TensorData::new(vec![0.55f32, 1.0, 0.15, 0.0], [1, 1, 2, 2]),
///     burn::tensor::Tolerance::absolute(1e-6),
/// );
/// ```
pub fn sign_step_update<B: Backend>(
    x_adv: Tensor<B, 4>,
    grad: Tensor<B, 4>,
    signed_alpha: f32,
    images: Tensor<B, 4>,
    radius: f32,
) -> Tensor<B, 4> {
    let stepped = x_adv + grad.sign().mul_scalar(signed_alpha);
    super::project_linf(stepped, images, radius)
}
