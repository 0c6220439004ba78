//! Attacks in the L∞ threat model on the `[0, 1]` pixel scale.
//!
//! Every attack implements [`Attack`]: it perturbs a batch of images in `[0, 1]` against a
//! [`Classifier`] and returns an [`AttackOutput`] whose images satisfy
//! `‖x_adv − x‖∞ ≤ ε` and `0 ≤ x_adv ≤ 1`.
//!
//! | attack | goal | objective | steps |
//! |---|---|---|---|
//! | [`Fgsm`] | misclassify | ascend CE | 1 |
//! | [`Pgd`] | misclassify | ascend CE, random start | T (10) |
//! | [`UniformNoise`] | baseline | none (`U(−ε, ε)`) | 0 |
//! | [`Iaa`] | underconfidence, keep label | descend `CE(y) + λ·CE(u)`, growing radius | T (10) |
//! | [`Uca`] | underconfidence, keep label | ascend CE on the clean prediction, reject label flips | T (10) |
//!
//! Attacks never change the model: gradients are taken w.r.t. the input only (the parameters are
//! frozen with `no_grad` on the copy the attack uses), and the model runs in [`Mode::Eval`](crate::model::Mode::Eval)
//! (BatchNorm running statistics, no update) unless the attack's `mode` says otherwise — and even
//! then a decoupled copy is used so the running statistics are left untouched.
//!
//! Custom attacks: give an [`Objective`] to [`SignGradient`], or implement [`Attack`] directly
//! (see `examples/custom_attack.rs`).

mod any;
mod fgsm;
mod gradient;
mod iaa;
mod multi;
mod noise;
mod objective;
mod pgd;
mod sign_gradient;
mod uca;

pub use any::AttackConfig;
pub use fgsm::{Fgsm, FgsmConfig};
pub(crate) use gradient::attack_copy;
pub use gradient::{
    check_inference_behaviour, frozen_copy, input_gradient, InputGradient,
    INFERENCE_PROBE_TOLERANCE,
};
pub use iaa::{Iaa, IaaConfig};
pub use multi::{run_epsilons, EpsilonResult};
pub use noise::{UniformNoise, UniformNoiseConfig};
pub use objective::{
    cross_entropy, iaa_loss, iaa_optimal_confidence, soft_cross_entropy, uniform_cross_entropy,
    CrossEntropy, IaaObjective, Objective,
};
pub use pgd::{Pgd, PgdConfig};
pub use sign_gradient::{
    sign_gradient_step, sign_step_update, Direction, RadiusSchedule, SignGradient,
    SignGradientConfig, StartPoint, StepSize,
};
pub use uca::{Uca, UcaConfig};

use crate::error::{check_epsilon, Error, Result};
use crate::model::Classifier;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

/// What an attack tries to achieve; decides what counts as a success in [`run_epsilons`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttackGoal {
    /// Change the prediction away from the true label (PGD, FGSM, noise).
    Misclassify,
    /// Keep the prediction correct while lowering the confidence (IAA, UCA).
    Underconfidence,
}

/// The result of an attack on one batch (all tensors on the inner, non-autodiff backend).
#[derive(Debug, Clone)]
pub struct AttackOutput<B: Backend> {
    /// The perturbed images `x_adv`, `[N, C, H, W]`, in `[0, 1]`.
    pub adversarial: Tensor<B, 4>,
    /// `x_adv − x`, with `‖·‖∞ ≤ ε`.
    pub perturbation: Tensor<B, 4>,
    /// Inference-mode logits of the model on `x_adv`, `[N, K]` (reuse them for metrics).
    pub logits: Tensor<B, 2>,
    /// The attack's per-sample objective evaluated at `x_adv`, `[N]` (for noise: the CE).
    pub loss: Tensor<B, 1>,
}

/// An attack on a classifier `M` differentiated on the autodiff backend `B`.
///
/// Inputs and outputs live on `B::InnerBackend` (no autodiff graph); the attack builds the
/// gradient leaves itself.
///
/// ```
/// use advcal::attack::{Attack, Pgd, PgdConfig};
/// use advcal::model::SmallCnnConfig;
/// use burn::backend::{Autodiff, NdArray};
/// use burn::prelude::*;
///
/// type B = Autodiff<NdArray>;
/// let device = Default::default();
/// let model = SmallCnnConfig::new().with_width(4).init::<B>(&device);
/// let x = Tensor::<NdArray, 4>::full([2, 3, 32, 32], 0.5, &device);
/// let y = Tensor::<NdArray, 1, Int>::from_ints([1, 2], &device);
/// let pgd = Pgd::new(PgdConfig::new().with_epsilon(8.0 / 255.0).with_steps(2));
/// let out = Attack::<B, _>::perturb(&pgd, &model, x, y).unwrap();
/// let linf = out.perturbation.abs().max().into_scalar();
/// assert!(linf <= 8.0 / 255.0 + 1e-6);
/// ```
pub trait Attack<B: AutodiffBackend, M> {
    /// Short name for tables and file names (`"pgd"`, `"iaa"`, ...).
    fn name(&self) -> String;

    /// The configured radius ε.
    fn epsilon(&self) -> f32;

    /// The configured seed of the random start (if any).
    fn seed(&self) -> u64;

    /// What a success is for this attack.
    fn goal(&self) -> AttackGoal {
        AttackGoal::Misclassify
    }

    /// Runs the attack at radius `epsilon` with random seed `seed` (hyper-parameters defined
    /// relative to ε, such as PGD's `α = ε/4` or IAA's `α = ε/T`, follow `epsilon`).
    ///
    /// # Errors
    ///
    /// Built-in attacks validate first: [`Error::InvalidEpsilon`], [`Error::EmptyBatch`],
    /// [`Error::BatchSizeMismatch`], [`Error::LabelOutOfRange`], [`Error::PixelRange`],
    /// [`Error::ChannelMismatch`] ([`validate_batch`]); invalid hyper-parameters
    /// ([`Error::InvalidSteps`], [`Error::InvalidStepSize`], [`Error::InvalidLambda`],
    /// [`Error::InvalidParameter`]); and model problems found before the attack
    /// ([`Error::TrainingBehaviourInEval`], [`Error::ClassCountMismatch`],
    /// [`Error::ModelForward`]) or during it ([`Error::MissingGradient`]).
    fn perturb_with(
        &self,
        model: &M,
        images: Tensor<B::InnerBackend, 4>,
        labels: Tensor<B::InnerBackend, 1, Int>,
        epsilon: f32,
        seed: u64,
    ) -> Result<AttackOutput<B::InnerBackend>>;

    /// Runs the attack with its configured ε and seed.
    ///
    /// # Errors
    ///
    /// As [`perturb_with`](Attack::perturb_with).
    fn perturb(
        &self,
        model: &M,
        images: Tensor<B::InnerBackend, 4>,
        labels: Tensor<B::InnerBackend, 1, Int>,
    ) -> Result<AttackOutput<B::InnerBackend>> {
        self.perturb_with(model, images, labels, self.epsilon(), self.seed())
    }
}

impl<B: AutodiffBackend, M, A: Attack<B, M> + ?Sized> Attack<B, M> for Box<A> {
    fn name(&self) -> String {
        (**self).name()
    }
    fn epsilon(&self) -> f32 {
        (**self).epsilon()
    }
    fn seed(&self) -> u64 {
        (**self).seed()
    }
    fn goal(&self) -> AttackGoal {
        (**self).goal()
    }
    fn perturb_with(
        &self,
        model: &M,
        images: Tensor<B::InnerBackend, 4>,
        labels: Tensor<B::InnerBackend, 1, Int>,
        epsilon: f32,
        seed: u64,
    ) -> Result<AttackOutput<B::InnerBackend>> {
        (**self).perturb_with(model, images, labels, epsilon, seed)
    }
}

/// Checks a batch before an attack: non-empty, as many labels as images, labels in
/// `0..num_classes`, pixels finite and in `[0, 1]`, and ε valid.
///
/// Costs one small device-to-host read (three scalars and the labels).
///
/// # Errors
///
/// [`Error::InvalidEpsilon`]; [`Error::EmptyBatch`] for a batch with a zero dimension;
/// [`Error::BatchSizeMismatch`]; [`Error::LabelOutOfRange`]; [`Error::PixelRange`] for a
/// non-finite pixel or one outside `[0, 1]`; [`Error::TensorConversion`] if the backend's data
/// cannot be read back.
pub fn validate_batch<B: Backend>(
    images: &Tensor<B, 4>,
    labels: &Tensor<B, 1, Int>,
    num_classes: usize,
    epsilon: f32,
) -> Result<()> {
    check_epsilon(epsilon)?;
    let [n, c, h, w] = images.dims();
    if n == 0 || c * h * w == 0 {
        return Err(Error::EmptyBatch);
    }
    let [nl] = labels.dims();
    if nl != n {
        return Err(Error::BatchSizeMismatch {
            images: n,
            labels: nl,
        });
    }
    let labels_host = labels.to_data().convert::<i64>();
    let labels_host = labels_host
        .as_slice::<i64>()
        .map_err(Error::TensorConversion)?;
    if let Some(&bad) = labels_host
        .iter()
        .find(|&&l| l < 0 || l as usize >= num_classes)
    {
        return Err(Error::LabelOutOfRange {
            label: bad,
            num_classes,
        });
    }
    let stats = Tensor::cat(
        vec![
            images.clone().min().reshape([1]),
            images.clone().max().reshape([1]),
            images.clone().sum().reshape([1]),
        ],
        0,
    )
    .into_data()
    .convert::<f64>();
    let s = stats.as_slice::<f64>().map_err(Error::TensorConversion)?;
    let (min, max, sum) = (s[0], s[1], s[2]);
    if !(sum.is_finite() && min.is_finite() && max.is_finite()) || min < 0.0 || max > 1.0 {
        return Err(Error::PixelRange { min, max });
    }
    Ok(())
}

/// Validates `images`/`labels` against the model's class count and ε (see [`validate_batch`]).
pub(crate) fn validate_for<B: AutodiffBackend, M: Classifier<B>>(
    model: &M,
    images: &Tensor<B::InnerBackend, 4>,
    labels: &Tensor<B::InnerBackend, 1, Int>,
    epsilon: f32,
) -> Result<()> {
    if let Some(expected) = model.input_channels() {
        let found = images.dims()[1];
        if found != expected {
            return Err(Error::ChannelMismatch { expected, found });
        }
    }
    validate_batch(images, labels, model.num_classes(), epsilon)
}

/// Projects `candidate` onto `{x' : ‖x' − x‖∞ ≤ radius} ∩ [0, 1]^d` (ball, then box — exact for
/// L∞, where both sets are boxes containing `x`).
///
/// ```
/// use advcal::attack::project_linf;
/// use burn::backend::NdArray;
/// use burn::prelude::*;
/// let d = Default::default();
/// let x = Tensor::<NdArray, 1>::from_floats([0.5, 0.99], &d);
/// let c = Tensor::<NdArray, 1>::from_floats([0.9, 1.2], &d);
/// let p = project_linf(c, x, 0.1);
/// assert_eq!(p.into_data().to_vec::<f32>().unwrap(), vec![0.6, 1.0]);
/// ```
pub fn project_linf<B: Backend, const D: usize>(
    candidate: Tensor<B, D>,
    original: Tensor<B, D>,
    radius: f32,
) -> Tensor<B, D> {
    let delta = (candidate - original.clone()).clamp(-radius, radius);
    (original + delta).clamp(0.0, 1.0)
}

/// Builds an [`AttackOutput`] for final images: one inference-mode forward (no graph) for the
/// logits and the per-sample objective.
pub(crate) fn finish<B, M, O>(
    frozen: &M,
    original: Tensor<B::InnerBackend, 4>,
    adversarial: Tensor<B::InnerBackend, 4>,
    labels: Tensor<B::InnerBackend, 1, Int>,
    objective: &O,
) -> AttackOutput<B::InnerBackend>
where
    B: AutodiffBackend,
    M: Classifier<B>,
    O: Objective<B>,
{
    let logits = frozen.forward_mode(
        Tensor::from_inner(adversarial.clone()),
        crate::model::Mode::Eval,
    );
    let loss = objective
        .per_sample(logits.clone(), Tensor::from_inner(labels))
        .inner();
    AttackOutput {
        perturbation: adversarial.clone() - original,
        adversarial,
        logits: logits.inner(),
        loss,
    }
}
