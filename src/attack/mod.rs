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
//! | [`Apgd`] (`apgd-ce`, `apgd-dlr`) | misclassify | ascend CE or DLR, adaptive step, momentum | T (100) |
//! | [`Square`] | misclassify (black-box) | random square search on the margin, no gradient | queries (5000) |
//! | [`Iaa`] | underconfidence, keep label (Eq. 2) | descend `CE(y) + λ·CE(u)`, keep the least confident correct point | T (20) |
//! | [`Iaa`] with [`IaaConfig::alg1`] (`iaa-alg1`) | underconfidence | Algorithm 1 as printed: the last iterate | T (10) |
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
mod apgd;
mod fgsm;
mod gradient;
mod iaa;
mod multi;
mod noise;
mod objective;
mod pgd;
mod select;
mod sign_gradient;
mod square;
mod uca;
mod worst_case;

pub use any::AttackConfig;
pub use apgd::{Apgd, ApgdConfig, ApgdLoss, Dlr, dlr_loss};
pub use fgsm::{Fgsm, FgsmConfig};
pub use gradient::{
    INFERENCE_PROBE_TOLERANCE, InputGradient, attack_copy, check_inference_behaviour, frozen_copy,
    input_gradient,
};
pub use iaa::{Iaa, IaaConfig, IaaOptimizer, IaaSelection};
pub use multi::{EpsilonResult, run_epsilons};
pub use noise::{UniformNoise, UniformNoiseConfig};
pub use objective::{
    CrossEntropy, IaaObjective, Objective, cross_entropy, iaa_loss, iaa_optimal_confidence,
    soft_cross_entropy, uniform_cross_entropy,
};
pub use pgd::{Pgd, PgdConfig};
pub use sign_gradient::{
    Direction, RadiusSchedule, SignGradient, SignGradientConfig, StartPoint, StepSize,
    sign_gradient_step, sign_step_update,
};
pub use square::{Square, SquareConfig};
pub use uca::{Uca, UcaConfig};
pub use worst_case::{WorstCase, WorstCaseCriterion};

use crate::error::{Error, Result, check_epsilon};
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

/// A batch of images `[N, C, H, W]` in `[0, 1]`, on the inner (non-autodiff) backend of the
/// autodiff backend `B`: what an [`Attack`] takes.
pub type Images<B> = Tensor<<B as AutodiffBackend>::InnerBackend, 4>;

/// The labels `[N]` of a batch, on the inner backend of the autodiff backend `B`.
pub type Labels<B> = Tensor<<B as AutodiffBackend>::InnerBackend, 1, Int>;

/// What an [`Attack`] on the autodiff backend `B` returns.
pub type AttackResult<B> = Result<AttackOutput<<B as AutodiffBackend>::InnerBackend>>;

/// The threat an attack runs under: the L∞ radius ε on the `[0, 1]` pixel scale and the seed
/// of its randomness (random start, noise).
///
/// This is the one value through which ε and the seed reach an attack:
/// [`Attack::perturb_under`] receives it, and [`Attack::budget`] says which budget
/// [`Attack::perturb`] uses (for the built-in attacks: the `epsilon` and `seed` of their config).
/// Multi-radius runs ([`run_epsilons`], the evaluations in [`crate::eval`]) pass other budgets
/// to the same attack, so validation and clean forward passes are shared.
///
/// ```
/// use advcal::attack::Budget;
/// let b = Budget::new(8.0 / 255.0).with_seed(3);
/// assert_eq!(b.at(0.01), Budget { epsilon: 0.01, seed: 3 });
/// assert_eq!(Budget::default().epsilon, 8.0 / 255.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Budget {
    /// L∞ radius ε: every output satisfies `‖x_adv − x‖∞ ≤ ε`.
    pub epsilon: f32,
    /// Seed of the attack's randomness (ignored by deterministic attacks).
    pub seed: u64,
}

impl Budget {
    /// A budget of radius `epsilon` and seed 0.
    pub fn new(epsilon: f32) -> Self {
        Self { epsilon, seed: 0 }
    }

    /// The same budget with seed `seed`.
    pub fn with_seed(self, seed: u64) -> Self {
        Self { seed, ..self }
    }

    /// The same budget at radius `epsilon` (same seed).
    pub fn at(self, epsilon: f32) -> Self {
        Self { epsilon, ..self }
    }
}

impl Default for Budget {
    /// ε = 8/255, seed 0.
    fn default() -> Self {
        Self::new(8.0 / 255.0)
    }
}

/// An attack on a classifier `M` differentiated on the autodiff backend `B`.
///
/// Inputs and outputs live on `B::InnerBackend` (no autodiff graph); the attack builds the
/// gradient leaves itself.
///
/// To write one, implement [`name`](Attack::name) and [`perturb_under`](Attack::perturb_under):
/// [`attack_copy`] validates the batch and gives the frozen, inference-behaviour copy to
/// differentiate, [`input_gradient`] the gradient, [`project_linf`] the projection and
/// [`AttackOutput::from_images`] the output (see `examples/custom_attack.rs`).
///
/// ```
/// use advcal::attack::{Attack, Budget, Pgd, PgdConfig};
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
/// let out = pgd.perturb(&model, x.clone(), y.clone()).unwrap();
/// assert!(out.perturbation.abs().max().into_scalar() <= 8.0 / 255.0 + 1e-6);
/// // The same attack under another budget.
/// let out = Attack::<B, _>::perturb_under(&pgd, &model, x, y, Budget::new(0.01)).unwrap();
/// assert!(out.perturbation.abs().max().into_scalar() <= 0.01 + 1e-6);
/// ```
pub trait Attack<B: AutodiffBackend, M> {
    /// Short name for tables and file names (`"pgd"`, `"iaa"`, ...).
    fn name(&self) -> String;

    /// What a success is for this attack (default: misclassification).
    fn goal(&self) -> AttackGoal {
        AttackGoal::Misclassify
    }

    /// The budget [`perturb`](Attack::perturb) runs under. The built-in attacks return their
    /// config's `epsilon` and `seed`; the default is [`Budget::default`] (ε = 8/255, seed 0).
    fn budget(&self) -> Budget {
        Budget::default()
    }

    /// Runs the attack under `budget`: radius `budget.epsilon`, randomness from `budget.seed`
    /// (hyper-parameters defined relative to ε, such as PGD's `α = ε/4` or IAA's `α = ε/T`,
    /// follow it).
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
    fn perturb_under(
        &self,
        model: &M,
        images: Images<B>,
        labels: Labels<B>,
        budget: Budget,
    ) -> AttackResult<B>;

    /// Runs the attack under its own [`budget`](Attack::budget).
    ///
    /// # Errors
    ///
    /// As [`perturb_under`](Attack::perturb_under).
    fn perturb(&self, model: &M, images: Images<B>, labels: Labels<B>) -> AttackResult<B> {
        self.perturb_under(model, images, labels, self.budget())
    }

    /// Only the adversarial images `x_adv` of [`perturb_under`](Attack::perturb_under),
    /// `[N, C, H, W]`: what adversarial training needs. The default keeps
    /// [`AttackOutput::adversarial`]; the sign-gradient attacks (FGSM, PGD, IAA, [`SignGradient`])
    /// override it to skip the inference-behaviour forward pass that computes the output's
    /// logits and loss (one forward per batch; `docs/performance.md` measures what training
    /// gains). The images are the same as `perturb_under`'s.
    ///
    /// ```
    /// use advcal::attack::{Attack, Budget, Pgd, PgdConfig};
    /// use advcal::model::SmallCnnConfig;
    /// use burn::backend::{Autodiff, NdArray};
    /// use burn::prelude::*;
    ///
    /// type B = Autodiff<NdArray>;
    /// let device = Default::default();
    /// let model = SmallCnnConfig::new().with_width(4).init::<B>(&device);
    /// let x = Tensor::<NdArray, 4>::full([2, 3, 32, 32], 0.5, &device);
    /// let y = Tensor::<NdArray, 1, Int>::from_ints([1, 2], &device);
    /// let pgd = Pgd::new(PgdConfig::new().with_steps(2));
    /// let budget = Budget::new(0.03);
    /// let x_adv = Attack::<B, _>::adversarial_under(&pgd, &model, x.clone(), y.clone(), budget).unwrap();
    /// let full = Attack::<B, _>::perturb_under(&pgd, &model, x, y, budget).unwrap();
    /// assert_eq!(x_adv.into_data(), full.adversarial.into_data());
    /// ```
    ///
    /// # Errors
    ///
    /// As [`perturb_under`](Attack::perturb_under).
    fn adversarial_under(
        &self,
        model: &M,
        images: Images<B>,
        labels: Labels<B>,
        budget: Budget,
    ) -> Result<Images<B>> {
        Ok(self
            .perturb_under(model, images, labels, budget)?
            .adversarial)
    }
}

impl<B: AutodiffBackend, M, A: Attack<B, M> + ?Sized> Attack<B, M> for Box<A> {
    fn name(&self) -> String {
        (**self).name()
    }
    fn goal(&self) -> AttackGoal {
        (**self).goal()
    }
    fn budget(&self) -> Budget {
        (**self).budget()
    }
    fn perturb_under(
        &self,
        model: &M,
        images: Images<B>,
        labels: Labels<B>,
        budget: Budget,
    ) -> AttackResult<B> {
        (**self).perturb_under(model, images, labels, budget)
    }
    fn adversarial_under(
        &self,
        model: &M,
        images: Images<B>,
        labels: Labels<B>,
        budget: Budget,
    ) -> Result<Images<B>> {
        (**self).adversarial_under(model, images, labels, budget)
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

impl<B: Backend> AttackOutput<B> {
    /// The output of an attack that ends at `adversarial`: one inference-behaviour forward pass
    /// of `model` (no graph) gives the logits and the per-sample cross-entropy as `loss`, and the
    /// perturbation is `adversarial − original`.
    ///
    /// `model` is the copy the attack differentiated ([`attack_copy`]); `adversarial` should
    /// already be projected ([`project_linf`]) — this constructor does not know ε.
    ///
    /// ```
    /// use advcal::attack::AttackOutput;
    /// use advcal::model::SmallCnnConfig;
    /// use burn::backend::{Autodiff, NdArray};
    /// use burn::prelude::*;
    ///
    /// type B = Autodiff<NdArray>;
    /// let device = Default::default();
    /// let model = SmallCnnConfig::new().with_width(4).init::<B>(&device);
    /// let x = Tensor::<NdArray, 4>::full([2, 3, 32, 32], 0.5, &device);
    /// let y = Tensor::<NdArray, 1, Int>::from_ints([1, 2], &device);
    /// let out = AttackOutput::from_images::<B, _>(&model, x.clone(), x + 0.01, y);
    /// assert_eq!(out.logits.dims(), [2, 10]);
    /// assert!((out.perturbation.max().into_scalar() - 0.01).abs() < 1e-6);
    /// assert!(out.loss.min().into_scalar() > 0.0);
    /// ```
    pub fn from_images<A, M>(
        model: &M,
        original: Tensor<B, 4>,
        adversarial: Tensor<B, 4>,
        labels: Tensor<B, 1, Int>,
    ) -> Self
    where
        A: AutodiffBackend<InnerBackend = B>,
        M: Classifier<A>,
    {
        Self::with_objective::<A, M, _>(model, original, adversarial, labels, &CrossEntropy)
    }

    /// As [`from_images`](Self::from_images), with `objective`'s per-sample values as `loss`.
    pub fn with_objective<A, M, O>(
        model: &M,
        original: Tensor<B, 4>,
        adversarial: Tensor<B, 4>,
        labels: Tensor<B, 1, Int>,
        objective: &O,
    ) -> Self
    where
        A: AutodiffBackend<InnerBackend = B>,
        M: Classifier<A>,
        O: Objective<A>,
    {
        let logits = model.forward_mode(
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
}
