//! Confidence-calibrated adversarial training (Stutz, Hein, Schiele, "Confidence-Calibrated
//! Adversarial Training: Generalizing to Unseen Attacks", ICML 2020,
//! <https://arxiv.org/abs/1910.06259>).

use super::{BatchContext, StrategyStep, TrainingStrategy, accuracy_tensor};
use crate::attack::{attack_copy, cross_entropy, project_linf, soft_cross_entropy};
use crate::error::{Error, Result, check_epsilon, check_steps};
use crate::model::{Classifier, Mode};
use crate::rng::{seeded_rng, uniform_values};
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::activation::softmax;
use burn::tensor::backend::AutodiffBackend;
use rand::Rng;

/// Configuration of [`Ccat`] (CIFAR-10 settings of the CCAT paper and code).
#[derive(Config, Debug)]
pub struct CcatConfig {
    /// L∞ radius of the inner attack.
    #[config(default = 0.03)]
    pub epsilon: f32,
    /// Iterations of the inner attack.
    #[config(default = 40)]
    pub steps: usize,
    /// Base step size of the inner attack.
    #[config(default = 0.005)]
    pub learning_rate: f32,
    /// Momentum of the normalised gradient.
    #[config(default = 0.9)]
    pub momentum: f32,
    /// Per-example step size is divided by this when a step does not improve the objective.
    #[config(default = 1.5)]
    pub backtrack_factor: f32,
    /// Power ρ of the transition from the one-hot to the uniform target.
    #[config(default = 10.0)]
    pub rho: f32,
    /// Fraction of the batch trained on clean examples, strictly between 0 and 1 (both ends
    /// would weight one of the two halves by zero and the other away: no loss).
    #[config(default = 0.5)]
    pub clean_fraction: f32,
}

/// Largest distance one pixel can travel in `steps` iterations of CCAT's momentum update at
/// step size 1 (`m_k = β m_{k−1} + (1 − β) sign(g)`, `m_0 = 0`, constant gradient sign):
/// `Σ_{k=1..steps} (1 − β^k)`.
fn momentum_travel(steps: usize, momentum: f32) -> f32 {
    (1..=steps).map(|k| 1.0 - momentum.powi(k as i32)).sum()
}

impl CcatConfig {
    /// The base step size the inner attack starts from:
    /// `max(learning_rate, 1.5 · ε / Σ_{k=1..T} (1 − β^k))`.
    ///
    /// The CCAT paper's 40 iterations at 0.005 can travel `0.005 · 31.1 ≈ 0.156 ≫ ε = 0.03`, and
    /// the value is used unchanged. A shorter budget (e.g. 12 iterations, which travel at most
    /// `0.005 · 5.6 ≈ 0.028 < ε`) could never reach the ε-ball's boundary, where the attack
    /// ends in the paper; the step is then raised so that a pixel with a steady gradient sign
    /// can travel 1.5 ε, leaving room for backtracking.
    ///
    /// ```
    /// use advcal::train::CcatConfig;
    /// assert_eq!(CcatConfig::new().effective_learning_rate(), 0.005);
    /// let short = CcatConfig::new().with_steps(12);
    /// assert!(short.effective_learning_rate() > 0.0079);
    /// ```
    pub fn effective_learning_rate(&self) -> f32 {
        let travel = momentum_travel(self.steps, self.momentum);
        if travel > 0.0 {
            self.learning_rate.max(1.5 * self.epsilon / travel)
        } else {
            self.learning_rate
        }
    }

    /// Checks ε, the step count and `0 < clean_fraction < 1`.
    ///
    /// # Errors
    /// [`Error::InvalidEpsilon`], [`Error::InvalidSteps`], or [`Error::InvalidParameter`]
    /// naming `clean_fraction`.
    pub fn validate(&self) -> Result<()> {
        check_epsilon(self.epsilon)?;
        check_steps(self.steps)?;
        if !(self.clean_fraction > 0.0 && self.clean_fraction < 1.0) {
            return Err(Error::param(
                "clean_fraction",
                format!(
                    "must lie strictly between 0 and 1 (got {}): at 0 or 1 one half of the loss \
                     is weighted by zero and the other is empty",
                    self.clean_fraction
                ),
            ));
        }
        Ok(())
    }
}

/// CCAT's target distribution `q̃ = λ·onehot(y) + (1 − λ)·u`, `λ = (1 − min(1, ‖δ‖∞/ε))^ρ`,
/// for per-example perturbation norms `linf` (`[M]`). Returns `[M, K]`.
///
/// ```
/// use advcal::train::ccat_target;
/// use burn::backend::NdArray;
/// use burn::prelude::*;
/// let d = Default::default();
/// let q = ccat_target::<NdArray>(Tensor::from_ints([0], &d), Tensor::from_floats([0.0], &d), 0.03, 10.0, 4);
/// assert_eq!(q.into_data().to_vec::<f32>().unwrap(), vec![1.0, 0.0, 0.0, 0.0]);
/// ```
pub fn ccat_target<B: Backend>(
    labels: Tensor<B, 1, Int>,
    linf: Tensor<B, 1>,
    epsilon: f32,
    rho: f32,
    num_classes: usize,
) -> Tensor<B, 2> {
    let [m] = labels.dims();
    let ratio = if epsilon > 0.0 {
        linf.div_scalar(epsilon).clamp_max(1.0)
    } else {
        linf.zeros_like().add_scalar(1.0)
    };
    let lambda = ratio.neg().add_scalar(1.0).powf_scalar(rho).reshape([m, 1]);
    let onehot = labels.one_hot(num_classes).float();
    let uniform = 1.0 / num_classes as f32;
    onehot * lambda.clone() + lambda.neg().add_scalar(1.0).mul_scalar(uniform)
}

/// CCAT: half clean, half adversarial examples crafted to maximise the largest non-true-class
/// probability (40 sign-gradient steps with momentum and per-example backtracking, best iterate),
/// trained towards [`ccat_target`]. Logs `acc_clean` and `acc_adv`.
#[derive(Debug, Clone)]
pub struct Ccat {
    config: CcatConfig,
}

impl Ccat {
    /// CCAT with these settings.
    pub fn new(config: CcatConfig) -> Self {
        Self { config }
    }
}

impl Default for Ccat {
    fn default() -> Self {
        Self::new(CcatConfig::new())
    }
}

/// `−max_{k≠y} softmax(z)_k` per example (CCAT's attack minimises it).
fn negative_max_other<B: Backend>(
    logits: Tensor<B, 2>,
    labels: Tensor<B, 1, Int>,
    k: usize,
) -> Tensor<B, 1> {
    let [n, _] = logits.dims();
    let mask = labels.one_hot(k).float();
    // Push the true class below every other probability before taking the max.
    let p = softmax(logits, 1) - mask.mul_scalar(2.0);
    p.max_dim(1).reshape([n]).neg()
}

impl Ccat {
    /// The inner confidence-maximising attack on an already frozen model (see
    /// [`frozen_copy`](crate::attack::frozen_copy)); returns the best perturbation found,
    /// `[M, C, H, W]`, inside the ε-ball. Public for benchmarks and analysis; training calls it
    /// on half of each batch.
    ///
    /// # Errors
    ///
    /// [`Error::MissingGradient`] when the backend returns no input gradient.
    pub fn inner_attack<B: AutodiffBackend, M: Classifier<B>>(
        &self,
        frozen: &M,
        x: Tensor<B::InnerBackend, 4>,
        y: Tensor<B::InnerBackend, 1, Int>,
        seed: u64,
    ) -> Result<Tensor<B::InnerBackend, 4>> {
        let c = &self.config;
        let eps = c.epsilon;
        let dims = x.dims();
        let [m, ch, h, w] = dims;
        let device = x.device();
        // Random initialisation, one kind per batch: zero, uniform in the ball (random radius), Gaussian.
        let mut rng = seeded_rng(seed);
        let d = (ch * h * w) as f32;
        let init: Vec<f32> = match rng.random_range(0..3u8) {
            0 => vec![0.0; m * ch * h * w],
            1 => {
                let dir = uniform_values(m * ch * h * w, 1.0, seed ^ 0x5151);
                let radii: Vec<f32> = (0..m).map(|_| rng.random::<f32>() * eps).collect();
                dir.chunks(ch * h * w)
                    .zip(&radii)
                    .flat_map(|(v, r)| v.iter().map(move |u| u * r))
                    .collect()
            }
            _ => {
                let sigma = eps / (2.0 * d.ln());
                // Box–Muller from two uniform streams.
                let u1 = uniform_values(m * ch * h * w, 0.5, seed ^ 0xA1);
                let u2 = uniform_values(m * ch * h * w, 0.5, seed ^ 0xB2);
                u1.iter()
                    .zip(&u2)
                    .map(|(a, b)| {
                        let r = (-2.0 * (a + 0.5).max(1e-7).ln()).sqrt();
                        sigma * r * (std::f32::consts::TAU * (b + 0.5)).cos()
                    })
                    .collect()
            }
        };
        let init = Tensor::<B::InnerBackend, 4>::from_data(TensorData::new(init, dims), &device);
        let start = project_linf(x.clone() + init, x.clone(), eps);
        self.inner_attack_from::<B, M>(frozen, x, y, start)
    }

    /// The search of [`inner_attack`](Self::inner_attack) from a given start point (`start`,
    /// projected onto the ε-ball around `x` and `[0, 1]` first): sign-gradient steps with
    /// momentum, a per-example step that shrinks by `backtrack_factor` whenever the candidate
    /// would not lower the objective `−max_{k≠y} p_k`, and the best iterate returned as a
    /// perturbation, `[M, C, H, W]`.
    ///
    /// Each iteration costs one forward and backward pass, at the candidate: its objective
    /// decides the acceptance, and its gradient is the next iteration's when it is accepted (a
    /// rejected example keeps the gradient of the point it stays at). The last candidate needs
    /// no gradient, only a forward pass.
    ///
    /// ```
    /// use advcal::attack::frozen_copy;
    /// use advcal::model::{Mode, SmallCnnConfig};
    /// use advcal::train::{Ccat, CcatConfig};
    /// use burn::backend::{Autodiff, NdArray};
    /// use burn::prelude::*;
    /// type B = Autodiff<NdArray>;
    /// let device = Default::default();
    /// let model = SmallCnnConfig::new().with_width(4).init::<B>(&device);
    /// let frozen = frozen_copy::<B, _>(&model);
    /// let x = Tensor::<NdArray, 4>::full([2, 3, 32, 32], 0.5, &device);
    /// let y = Tensor::<NdArray, 1, Int>::from_ints([0, 1], &device);
    /// let ccat = Ccat::new(CcatConfig::new().with_steps(5));
    /// let delta = ccat.inner_attack_from::<B, _>(&frozen, x.clone(), y, x).unwrap();
    /// let linf: f32 = delta.abs().max().into_scalar();
    /// assert!(linf <= 0.03 + 1e-6);
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::MissingGradient`] when the backend returns no input gradient.
    pub fn inner_attack_from<B: AutodiffBackend, M: Classifier<B>>(
        &self,
        frozen: &M,
        x: Tensor<B::InnerBackend, 4>,
        y: Tensor<B::InnerBackend, 1, Int>,
        start: Tensor<B::InnerBackend, 4>,
    ) -> Result<Tensor<B::InnerBackend, 4>> {
        let c = &self.config;
        let eps = c.epsilon;
        let k = frozen.num_classes();
        let [m, _, _, _] = x.dims();
        let device = x.device();
        let y_ad = Tensor::<B, 1, Int>::from_inner(y.clone());
        // The objective at a point, with its input gradient, or (last candidate) without.
        let with_grad = |point: &Tensor<B::InnerBackend, 4>| -> Result<_> {
            let leaf = Tensor::<B, 4>::from_inner(point.clone()).require_grad();
            let f = negative_max_other(
                frozen.forward_mode(leaf.clone(), Mode::Eval),
                y_ad.clone(),
                k,
            );
            let g = leaf
                .grad(&f.clone().sum().backward())
                .ok_or(Error::MissingGradient)?;
            Ok((f.inner(), g))
        };
        let value = |point: &Tensor<B::InnerBackend, 4>| {
            negative_max_other(
                frozen.forward_mode(Tensor::from_inner(point.clone()), Mode::Eval),
                y_ad.clone(),
                k,
            )
            .inner()
        };
        // A start outside the ball (or outside [0, 1]) is projected onto it.
        let mut cur = project_linf(start, x.clone(), eps);
        let (mut f_cur, mut g_cur) = with_grad(&cur)?;
        let mut best = cur.clone();
        let mut best_f = Tensor::<B::InnerBackend, 1>::full([m], f32::INFINITY, &device);
        let mut momentum = cur.zeros_like();
        let mut lr =
            Tensor::<B::InnerBackend, 4>::full([m, 1, 1, 1], c.effective_learning_rate(), &device);
        for step in 0..c.steps {
            let improved = f_cur.clone().lower(best_f.clone());
            let imp4 = improved.clone().float().reshape([m, 1, 1, 1]);
            best = cur.clone() * imp4.clone() + best * imp4.neg().add_scalar(1.0);
            best_f = f_cur.clone().mask_where(improved.bool_not(), best_f);
            momentum =
                momentum.mul_scalar(c.momentum) + g_cur.clone().sign().mul_scalar(1.0 - c.momentum);
            let cand = project_linf(cur.clone() - momentum.clone() * lr.clone(), x.clone(), eps);
            let (f_cand, g_cand) = if step + 1 < c.steps {
                let (f, g) = with_grad(&cand)?;
                (f, Some(g))
            } else {
                (value(&cand), None)
            };
            // A NaN candidate objective compares false: rejected. Selecting with `mask_where`
            // (not blending with 0/1 weights) keeps a rejected candidate's non-finite values
            // out of the kept point and gradient.
            let accepted = f_cand.clone().lower_equal(f_cur.clone());
            let accept4 = accepted.clone().reshape([m, 1, 1, 1]).expand(cur.dims());
            cur = cur.mask_where(accept4.clone(), cand);
            f_cur = f_cur.mask_where(accepted.clone(), f_cand);
            if let Some(g) = g_cand {
                g_cur = g_cur.mask_where(accept4, g);
            }
            // Rejected examples shrink their step size.
            let shrunk = lr.clone().div_scalar(c.backtrack_factor);
            lr = shrunk.mask_where(accepted.reshape([m, 1, 1, 1]), lr);
        }
        // The last iterate may be the best one.
        let imp4 = f_cur.lower(best_f).float().reshape([m, 1, 1, 1]);
        let best = cur * imp4.clone() + best * imp4.neg().add_scalar(1.0);
        Ok(best - x)
    }
}

impl<B: AutodiffBackend, M: Classifier<B> + AutodiffModule<B>> TrainingStrategy<B, M> for Ccat {
    fn name(&self) -> String {
        "ccat".into()
    }
    fn step(
        &mut self,
        model: &M,
        images: Tensor<B::InnerBackend, 4>,
        labels: Tensor<B::InnerBackend, 1, Int>,
        ctx: BatchContext<'_>,
    ) -> Result<StrategyStep<B>> {
        let c = &self.config;
        c.validate()?;
        let [n, _, _, _] = images.dims();
        let s = ((c.clean_fraction * n as f32).floor() as usize).min(n);
        let k = model.num_classes();
        let x_clean = images.clone().narrow(0, 0, s);
        let y_clean = labels.clone().narrow(0, 0, s);
        let x_adv_src = images.narrow(0, s, n - s);
        let y_adv = labels.clone().narrow(0, s, n - s);
        let x_adv = if n - s > 0 {
            let frozen = attack_copy::<B, M>(model, &x_adv_src, &y_adv, c.epsilon, Mode::Eval)?;
            let delta =
                self.inner_attack::<B, M>(&frozen, x_adv_src.clone(), y_adv.clone(), ctx.seed)?;
            let linf = delta
                .clone()
                .abs()
                .flatten::<2>(1, 3)
                .max_dim(1)
                .reshape([n - s]);
            let target = ccat_target(y_adv.clone(), linf, c.epsilon, c.rho, k);
            Some((x_adv_src + delta, target))
        } else {
            None
        };
        let x = match &x_adv {
            Some((xa, _)) => Tensor::cat(vec![x_clean, xa.clone()], 0),
            None => x_clean,
        };
        let logits = model.forward_mode(Tensor::from_inner(x), Mode::Train);
        // The reference code's weights, `(1 − s/n)` on the clean and `s/n` on the adversarial
        // part (½/½ for an even batch); a batch too small to split trains on its one part.
        let w_adv = match s {
            0 => 1.0,
            s if s == n => 0.0,
            s => s as f32 / n as f32,
        };
        let mut loss = Tensor::<B, 1>::zeros([1], &logits.device());
        if s > 0 {
            let ce = cross_entropy(
                logits.clone().narrow(0, 0, s),
                Tensor::from_inner(y_clean.clone()),
            )
            .mean();
            loss = loss + ce.mul_scalar(1.0 - w_adv);
        }
        if let Some((_, target)) = x_adv {
            let soft = soft_cross_entropy(
                logits.clone().narrow(0, s, n - s),
                Tensor::from_inner(target),
            )
            .mean();
            loss = loss + soft.mul_scalar(w_adv);
        }
        let inner = logits.inner();
        let mut stats = Vec::new();
        if s > 0 {
            stats.push((
                "acc_clean",
                accuracy_tensor(inner.clone().narrow(0, 0, s), y_clean),
            ));
        }
        if n > s {
            stats.push((
                "acc_adv",
                accuracy_tensor(inner.clone().narrow(0, s, n - s), y_adv),
            ));
        }
        Ok(StrategyStep {
            loss,
            logits: inner,
            labels,
            stats,
        })
    }
}
