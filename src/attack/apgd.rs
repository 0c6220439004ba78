//! Auto-PGD (Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble of
//! diverse parameter-free attacks", ICML 2020, <https://arxiv.org/abs/2003.01690>): APGD-CE and
//! APGD-DLR in L∞.

use super::gradient::input_gradient_logits;
use super::select::{BestIterate, select_rows};
use super::{
    Attack, AttackOutput, Budget, CrossEntropy, Objective, attack_copy, cross_entropy, project_linf,
};
use crate::error::{Error, Result, check_steps};
use crate::model::{Classifier, Mode};
use crate::rng::{derive_seed, uniform_tensor};
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

/// The loss APGD ascends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApgdLoss {
    /// Cross-entropy of the true label (APGD-CE).
    Ce,
    /// The difference-of-logits ratio (APGD-DLR), see [`dlr_loss`]; needs at least 3 classes.
    Dlr,
}

/// Configuration of [`Apgd`]. Defaults: ε = 8/255, CE loss, 100 iterations and 1 restart
/// (AutoAttack's standard version), ρ = 0.75, uniform random start, inference-mode model.
#[derive(Config, Debug)]
pub struct ApgdConfig {
    /// L∞ radius on the `[0, 1]` scale.
    #[config(default = 0.031372549)]
    pub epsilon: f32,
    /// The loss ascended.
    #[config(default = "ApgdLoss::Ce")]
    pub loss: ApgdLoss,
    /// Iterations `N_iter` (one forward and backward pass each, plus one at the start).
    #[config(default = 100)]
    pub steps: usize,
    /// Random restarts; each runs on every image, and per image the best outcome is kept.
    #[config(default = 1)]
    pub restarts: usize,
    /// Fraction ρ of the steps since the last checkpoint that must have increased the loss for
    /// the step size to be kept.
    #[config(default = 0.75)]
    pub rho: f32,
    /// Model behaviour during the attack.
    #[config(default = "Mode::Eval")]
    pub mode: Mode,
    /// Seed of the random starts (restart `r` uses `derive_seed(seed, r)`).
    #[config(default = 0)]
    pub seed: u64,
}

/// The difference-of-logits ratio loss of Croce & Hein (2020), per sample:
///
/// ```text
/// DLR(z, y) = −(z_y − max_{i≠y} z_i) / (z_π1 − z_π3 + 1e−12)
/// ```
///
/// with `z_π1 ≥ z_π2 ≥ z_π3` the largest logits. Positive exactly when the prediction is wrong;
/// invariant to shifting and scaling the logits. Needs `K ≥ 3` classes (callers check).
///
/// ```
/// use advcal::attack::dlr_loss;
/// use burn::backend::NdArray;
/// use burn::prelude::*;
/// let d = Default::default();
/// let z = Tensor::<NdArray, 2>::from_floats([[3.0, 1.0, 0.0, -1.0], [3.0, 1.0, 0.0, -1.0]], &d);
/// let y = Tensor::<NdArray, 1, Int>::from_ints([0, 1], &d);
/// let l = dlr_loss(z, y).into_data().to_vec::<f32>().unwrap();
/// assert!((l[0] - (-(3.0 - 1.0) / 3.0)).abs() < 1e-6); // correct: negative
/// assert!((l[1] - (-(1.0 - 3.0) / 3.0)).abs() < 1e-6); // wrong: positive
/// ```
pub fn dlr_loss<B: Backend>(logits: Tensor<B, 2>, labels: Tensor<B, 1, Int>) -> Tensor<B, 1> {
    let [n, _] = logits.dims();
    let order = logits.clone().argsort_descending(1);
    let at = |idx: Tensor<B, 2, Int>| logits.clone().gather(1, idx).reshape([n]);
    let top = order.clone().narrow(1, 0, 1);
    let (z1, z2, z3) = (
        at(top.clone()),
        at(order.clone().narrow(1, 1, 1)),
        at(order.narrow(1, 2, 1)),
    );
    let labels = labels.reshape([n, 1]);
    let zy = at(labels.clone());
    let y_on_top = top.equal(labels).reshape([n]);
    let other = z1.clone().mask_where(y_on_top, z2);
    (zy - other).neg() / (z1 - z3).add_scalar(1e-12)
}

/// [`dlr_loss`] as an [`Objective`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Dlr;

impl<B: Backend> Objective<B> for Dlr {
    fn per_sample(&self, logits: Tensor<B, 2>, labels: Tensor<B, 1, Int>) -> Tensor<B, 1> {
        dlr_loss(logits, labels)
    }
}

/// APGD: projected sign-gradient ascent with momentum and a step size that adapts itself
/// (Croce & Hein, ICML 2020, <https://arxiv.org/abs/2003.01690>, Algorithm 1), on the
/// cross-entropy (APGD-CE) or the DLR loss (APGD-DLR). Untargeted, L∞.
///
/// ```text
/// x⁰ = Π(x + U(−ε, ε)),  η = 2ε,  checkpoints w_j = ⌊p_j·N_iter⌋,
///     p₀ = 0, p₁ = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06)
/// for k = 0 … N_iter−1:
///     z      = Π(x^k + η·sign(∇ℓ(x^k)))
///     x^{k+1} = Π(x^k + a·(z − x^k) + (1 − a)·(x^k − x^{k−1}))    a = 1 at k = 0, else 0.75
///     keep the best point (highest ℓ) per image
///     at a checkpoint: if fewer than ρ·(steps since the last checkpoint) steps raised ℓ, or
///     the step was not halved last time and the best ℓ did not move: η ← η/2, x ← x_best
/// ```
///
/// `Π` projects onto the ε-ball around `x` and `[0, 1]`. Per image, APGD returns the
/// **misclassified** point with the highest loss among the clean image and every iterate of
/// every restart, and the highest-loss point when none is misclassified — so its accuracy is
/// AutoAttack's robust accuracy for this attack, and it never exceeds the clean accuracy. The
/// checkpoint test and the halving run on the device (no host read per step). One difference from
/// the reference code: the first window compares the first iterate's loss with the start's.
///
/// ```
/// use advcal::attack::{Apgd, ApgdConfig, ApgdLoss, Attack};
/// use advcal::model::{SmallCnn, SmallCnnConfig};
/// use burn::backend::{Autodiff, NdArray};
/// use burn::prelude::*;
///
/// type B = Autodiff<NdArray>;
/// let device = Default::default();
/// let model = SmallCnnConfig::new().with_width(4).init::<B>(&device);
/// let x = Tensor::<NdArray, 4>::full([2, 3, 32, 32], 0.5, &device);
/// let y = Tensor::<NdArray, 1, Int>::from_ints([1, 2], &device);
/// let apgd = Apgd::new(ApgdConfig::new().with_loss(ApgdLoss::Dlr).with_steps(5));
/// let out = apgd.perturb(&model, x, y).unwrap();
/// assert!(out.perturbation.abs().max().into_scalar() <= 8.0 / 255.0 + 1e-6);
/// assert_eq!(Attack::<B, SmallCnn<B>>::name(&apgd), "apgd-dlr");
/// ```
#[derive(Debug, Clone)]
pub struct Apgd {
    /// Hyper-parameters.
    pub config: ApgdConfig,
}

impl Apgd {
    /// An APGD attack with these settings.
    pub fn new(config: ApgdConfig) -> Self {
        Self { config }
    }

    fn check(&self, num_classes: usize) -> Result<()> {
        check_steps(self.config.steps)?;
        if self.config.restarts == 0 {
            return Err(Error::param("restarts", "must be at least 1"));
        }
        if !(self.config.rho > 0.0 && self.config.rho <= 1.0) {
            return Err(Error::param(
                "rho",
                format!("{} is not in (0, 1]", self.config.rho),
            ));
        }
        if self.config.loss == ApgdLoss::Dlr && num_classes < 3 {
            return Err(Error::param(
                "loss",
                format!("DLR needs at least 3 classes, the model has {num_classes}"),
            ));
        }
        Ok(())
    }

    /// The attacked points under `budget` (every restart, per-image best kept), with their
    /// logits.
    fn search<B, M>(
        &self,
        frozen: &M,
        images: Tensor<B::InnerBackend, 4>,
        labels: Tensor<B::InnerBackend, 1, Int>,
        budget: Budget,
    ) -> Result<BestIterate<B::InnerBackend>>
    where
        B: AutodiffBackend,
        M: Classifier<B>,
    {
        self.check(frozen.num_classes())?;
        let c = &self.config;
        let y = Tensor::<B, 1, Int>::from_inner(labels.clone());
        let run = |objective: &dyn Objective<B>| -> Result<BestIterate<B::InnerBackend>> {
            // The clean image is a candidate, so a misclassified image stays misclassified.
            let logits =
                super::gradient::forward_checked_mode::<B, M>(frozen, images.clone(), c.mode)?;
            let loss = objective
                .per_sample(Tensor::from_inner(logits.clone()), y.clone())
                .inner();
            let [n, _] = logits.dims();
            let wrong = logits
                .clone()
                .argmax(1)
                .reshape([n])
                .not_equal(labels.clone());
            let mut best = BestIterate::new(images.clone(), logits, wrong, loss.neg());
            for r in 0..c.restarts {
                let seed = derive_seed(budget.seed, r as u64);
                let noise = uniform_tensor::<B::InnerBackend, 4>(
                    images.dims(),
                    budget.epsilon,
                    seed,
                    &images.device(),
                );
                let start = project_linf(images.clone() + noise, images.clone(), budget.epsilon);
                let schedule = ApgdSchedule {
                    steps: c.steps,
                    rho: c.rho,
                    ascent: true,
                    epsilon: budget.epsilon,
                    mode: c.mode,
                };
                apgd_search::<B, M, _>(
                    frozen,
                    images.clone(),
                    y.clone(),
                    objective,
                    start,
                    &schedule,
                    &mut |point, logits, loss| {
                        let wrong = logits
                            .clone()
                            .argmax(1)
                            .reshape([n])
                            .not_equal(labels.clone());
                        best.offer(point, logits, wrong, loss.neg());
                    },
                )?;
            }
            Ok(best)
        };
        match c.loss {
            ApgdLoss::Ce => run(&CrossEntropy),
            ApgdLoss::Dlr => run(&Dlr),
        }
    }
}

impl Default for Apgd {
    fn default() -> Self {
        Self::new(ApgdConfig::new())
    }
}

impl<B, M> Attack<B, M> for Apgd
where
    B: AutodiffBackend,
    M: Classifier<B> + AutodiffModule<B>,
{
    fn name(&self) -> String {
        match self.config.loss {
            ApgdLoss::Ce => "apgd-ce".into(),
            ApgdLoss::Dlr => "apgd-dlr".into(),
        }
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
        let frozen =
            attack_copy::<B, M>(model, &images, &labels, budget.epsilon, self.config.mode)?;
        let best = self.search::<B, M>(&frozen, images.clone(), labels.clone(), budget)?;
        // The selection's own logits: the output shows the prediction it kept.
        let loss = match self.config.loss {
            ApgdLoss::Ce => cross_entropy(best.logits.clone(), labels),
            ApgdLoss::Dlr => dlr_loss(best.logits.clone(), labels),
        };
        Ok(AttackOutput {
            perturbation: best.point.clone() - images,
            adversarial: best.point,
            logits: best.logits,
            loss,
        })
    }
}

/// The fixed settings of one APGD run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ApgdSchedule {
    /// Iterations N_iter.
    pub steps: usize,
    /// The checkpoint test's ρ.
    pub rho: f32,
    /// Ascend (`true`) or descend the objective.
    pub ascent: bool,
    /// Radius ε (constant).
    pub epsilon: f32,
    /// Model behaviour.
    pub mode: Mode,
}

impl ApgdSchedule {
    /// The checkpoint schedule of the reference code: the first after `⌊0.22·N⌋` iterations,
    /// then windows shrinking by `⌊0.03·N⌋` down to `⌊0.06·N⌋` (at least 1 each).
    fn windows(&self) -> (usize, usize, usize) {
        let n = self.steps as f64;
        let at_least_one = |f: f64| ((f * n) as usize).max(1);
        (at_least_one(0.22), at_least_one(0.06), at_least_one(0.03))
    }
}

/// What [`apgd_search`] calls with every evaluated point: the point, its logits and its
/// per-sample objective.
pub(crate) type VisitIterate<'a, B> = dyn FnMut(Tensor<B, 4>, Tensor<B, 2>, Tensor<B, 1>) + 'a;

/// The APGD iteration from `start` (already in the ball) on a frozen model; `visit` sees every
/// evaluated point with its logits and per-sample objective (the start, then each iterate).
/// With `ascent = false` it minimises the objective (the inverse attacks).
pub(crate) fn apgd_search<B, M, O>(
    frozen: &M,
    images: Tensor<B::InnerBackend, 4>,
    labels: Tensor<B, 1, Int>,
    objective: &O,
    start: Tensor<B::InnerBackend, 4>,
    s: &ApgdSchedule,
    visit: &mut VisitIterate<'_, B::InnerBackend>,
) -> Result<()>
where
    B: AutodiffBackend,
    M: Classifier<B>,
    O: Objective<B> + ?Sized,
{
    check_steps(s.steps)?;
    let sign = if s.ascent { 1.0 } else { -1.0 };
    let eps = s.epsilon;
    let [n, ..] = images.dims();
    let device = images.device();
    let gradient = |x: Tensor<B::InnerBackend, 4>| {
        input_gradient_logits::<B, M, O>(frozen, x, labels.clone(), objective, s.mode)
    };
    let (mut grad, loss, logits) = gradient(start.clone())?;
    visit(start.clone(), logits, loss.clone());
    // Everything below maximises `gain = sign·loss`.
    let mut gain = loss.mul_scalar(sign);
    let (mut x, mut x_prev) = (start.clone(), start);
    let mut best = (x.clone(), grad.clone(), gain.clone());
    let mut eta = Tensor::<B::InnerBackend, 1>::full([n], 2.0 * eps, &device);
    let mut raised = Tensor::<B::InnerBackend, 1>::zeros([n], &device);
    let mut best_at_check = gain.clone();
    let mut halved_last = Tensor::<B::InnerBackend, 1, Bool>::full([n], true, &device);
    let (mut window, min_window, shrink) = s.windows();
    let mut since_check = 0;
    for k in 0..s.steps {
        let a = if k == 0 { 1.0 } else { 0.75 };
        let step = grad.sign().mul_scalar(sign) * eta.clone().reshape([n, 1, 1, 1]);
        let z = project_linf(x.clone() + step, images.clone(), eps);
        let moved = (z - x.clone()).mul_scalar(a) + (x.clone() - x_prev).mul_scalar(1.0 - a);
        x_prev = x.clone();
        x = project_linf(x + moved, images.clone(), eps);
        let (g, loss, logits) = gradient(x.clone())?;
        visit(x.clone(), logits, loss.clone());
        grad = g;
        let new_gain = loss.mul_scalar(sign);
        raised = raised + new_gain.clone().greater(gain).float();
        gain = new_gain;
        let improved = gain.clone().greater(best.2.clone());
        best = (
            select_rows(improved.clone(), x.clone(), best.0),
            select_rows(improved.clone(), grad.clone(), best.1),
            best.2.mask_where(improved, gain.clone()),
        );
        since_check += 1;
        if since_check == window {
            let oscillating = raised.clone().lower_equal_elem(window as f32 * s.rho);
            let stalled = halved_last
                .bool_not()
                .bool_and(best_at_check.greater_equal(best.2.clone()));
            let halve = oscillating.bool_or(stalled);
            eta = eta.clone().mask_where(halve.clone(), eta.div_scalar(2.0));
            x = select_rows(halve.clone(), best.0.clone(), x);
            grad = select_rows(halve.clone(), best.1.clone(), grad);
            halved_last = halve;
            best_at_check = best.2.clone();
            raised = raised.zeros_like();
            since_check = 0;
            window = window.saturating_sub(shrink).max(min_window);
        }
    }
    Ok(())
}
