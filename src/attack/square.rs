//! Square Attack (Andriushchenko, Croce, Flammarion, Hein, "Square Attack: a query-efficient
//! black-box adversarial attack via random search", ECCV 2020, <https://arxiv.org/abs/1912.00049>),
//! L∞, untargeted, margin loss.

use super::gradient::forward_checked_mode;
use super::select::select_rows;
use super::{Attack, AttackOutput, Budget, attack_copy, project_linf};
use crate::error::{Error, Result};
use crate::model::{Classifier, Mode};
use crate::rng::seeded_rng;
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use rand::Rng;

/// Configuration of [`Square`]. Defaults: ε = 8/255, 5000 queries and 1 restart (AutoAttack's
/// standard version), `p_init = 0.8`, inference-mode model.
#[derive(Config, Debug)]
pub struct SquareConfig {
    /// L∞ radius on the `[0, 1]` scale.
    #[config(default = 0.031372549)]
    pub epsilon: f32,
    /// Queries per image and restart (after the initial one).
    #[config(default = 5000)]
    pub queries: usize,
    /// Initial fraction of the pixels a square covers (`p_init`, 0.8 for L∞).
    #[config(default = 0.8)]
    pub p_init: f32,
    /// Random restarts, each from new stripes on the images no earlier restart fooled; per image
    /// the lowest margin over all restarts is kept.
    #[config(default = 1)]
    pub restarts: usize,
    /// Model behaviour (only forward passes are made).
    #[config(default = "Mode::Eval")]
    pub mode: Mode,
    /// Seed of the stripes, the squares' positions and their signs (restart `r` uses
    /// `derive_seed(seed, r)`).
    #[config(default = 0)]
    pub seed: u64,
}

/// Square Attack: score-based black-box random search (no gradient), L∞
/// (Andriushchenko et al., ECCV 2020, <https://arxiv.org/abs/1912.00049>, Algorithm 1 with the
/// L∞ proposal of Algorithm 2).
///
/// ```text
/// margin(x) = z_y − max_{i≠y} z_i                           (> 0: still correct)
/// x̂ = Π(x + ε·s),  s ∈ {−1, 1}^{C×1×W}  (vertical stripes)
/// for i = 1 … N_queries, on the images with margin(x̂) > 0:
///     h = max(round(√(p(i)·H·W)), 1)   (p halves at 10, 50, 200, 500, 1000, 2000, 4000,
///                                       6000, 8000 of every 10 000 queries; p(0) = p_init)
///     pick an h×h window at random and one sign per channel; set the window to x ± ε
///     keep the proposal where it lowers the margin
/// ```
///
/// The window and signs are drawn once per iteration for the whole batch (as the reference
/// code). Per image the result is the lowest-margin point found (the first misclassified one
/// once the margin is ≤ 0); an image the model already misclassifies stays clean. One forward
/// pass per query, no gradient: robust accuracy far below the white-box attacks' is a sign of
/// gradient masking (see [`crate::report`]'s warnings).
///
/// ```
/// use advcal::attack::{Attack, Square, SquareConfig};
/// use advcal::model::SmallCnnConfig;
/// use burn::backend::{Autodiff, NdArray};
/// use burn::prelude::*;
///
/// type B = Autodiff<NdArray>;
/// let device = Default::default();
/// let model = SmallCnnConfig::new().with_width(4).init::<B>(&device);
/// let x = Tensor::<NdArray, 4>::full([2, 3, 32, 32], 0.5, &device);
/// let y = Tensor::<NdArray, 1, Int>::from_ints([1, 2], &device);
/// let square = Square::new(SquareConfig::new().with_queries(20));
/// let out = square.perturb(&model, x, y).unwrap();
/// assert!(out.perturbation.abs().max().into_scalar() <= 8.0 / 255.0 + 1e-6);
/// ```
#[derive(Debug, Clone)]
pub struct Square {
    /// Hyper-parameters.
    pub config: SquareConfig,
}

impl Square {
    /// A Square attack with these settings.
    pub fn new(config: SquareConfig) -> Self {
        Self { config }
    }

    /// The fraction of pixels of the square at query `i` of `n` (the reference's schedule,
    /// rescaled to `n` queries).
    ///
    /// ```
    /// use advcal::attack::{Square, SquareConfig};
    /// let s = Square::new(SquareConfig::new().with_queries(10_000));
    /// assert_eq!(s.p_at(0), 0.8);
    /// assert_eq!(s.p_at(11), 0.4);
    /// assert_eq!(s.p_at(9_000), 0.8 / 512.0);
    /// ```
    pub fn p_at(&self, i: usize) -> f32 {
        let it = (i as f64 / self.config.queries.max(1) as f64 * 10_000.0) as usize;
        let halvings = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000]
            .iter()
            .filter(|&&t| it > t)
            .count();
        self.config.p_init / (1u32 << halvings) as f32
    }

    fn check(&self) -> Result<()> {
        if self.config.restarts == 0 {
            return Err(Error::param("restarts", "must be at least 1"));
        }
        if !(self.config.p_init > 0.0 && self.config.p_init <= 1.0) {
            return Err(Error::param(
                "p_init",
                format!("{} is not in (0, 1]", self.config.p_init),
            ));
        }
        Ok(())
    }
}

impl Default for Square {
    fn default() -> Self {
        Self::new(SquareConfig::new())
    }
}

/// Per-sample margin `z_y − max_{i≠y} z_i`.
fn margin<B: Backend>(logits: Tensor<B, 2>, labels: Tensor<B, 1, Int>) -> Tensor<B, 1> {
    let [n, k] = logits.dims();
    let labels = labels.reshape([n, 1]);
    let zy = logits.clone().gather(1, labels.clone()).reshape([n]);
    let own = Tensor::<B, 1, Int>::arange(0..k as i64, &logits.device())
        .reshape([1, k])
        .expand([n, k])
        .equal(labels.expand([n, k]));
    let others = logits
        .mask_fill(own, f32::NEG_INFINITY)
        .max_dim(1)
        .reshape([n]);
    zy - others
}

fn host<B: Backend>(t: Tensor<B, 1>) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .into_vec::<f32>()
        .map_err(Error::TensorConversion)
}

impl<B, M> Attack<B, M> for Square
where
    B: AutodiffBackend,
    M: Classifier<B> + AutodiffModule<B>,
{
    fn name(&self) -> String {
        "square".into()
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
        self.check()?;
        let frozen =
            attack_copy::<B, M>(model, &images, &labels, budget.epsilon, self.config.mode)?;
        let eps = budget.epsilon;
        let [n, c, h, w] = images.dims();
        let device = images.device();
        let mode = self.config.mode;
        let forward =
            |x: Tensor<B::InnerBackend, 4>| forward_checked_mode::<B, M>(&frozen, x, mode);
        let mut best = images.clone();
        let mut best_margin = margin(forward(images.clone())?, labels.clone());
        for r in 0..self.config.restarts {
            let mut rng = seeded_rng(crate::rng::derive_seed(budget.seed, r as u64));
            // Vertical stripes: one sign per image, channel and column.
            let stripes: Vec<f32> = (0..n * c * w)
                .map(|_| if rng.random::<bool>() { eps } else { -eps })
                .collect();
            let stripes = Tensor::<B::InnerBackend, 4>::from_data(
                TensorData::new(stripes, [n, c, 1, w]),
                &device,
            );
            let init = project_linf(images.clone() + stripes, images.clone(), eps);
            let init_margin = margin(forward(init.clone())?, labels.clone());
            // Images already fooled (or misclassified when clean) stay where they are.
            let fooled = best_margin.clone().lower_equal_elem(0.0);
            let (mut x_best, mut m_best) = (
                select_rows(fooled.clone(), best.clone(), init),
                init_margin.mask_where(fooled, best_margin.clone()),
            );
            for i in 0..self.config.queries {
                let margins = host(m_best.clone())?;
                let active: Vec<i64> = (0..n as i64)
                    .filter(|&j| margins[j as usize] > 0.0)
                    .collect();
                if active.is_empty() {
                    break;
                }
                let s = ((self.p_at(i) as f64 * (h * w) as f64).sqrt().round() as usize)
                    .clamp(1, h.min(w).saturating_sub(1).max(1));
                // The reference draws the corner from [0, h − s) (never the last row/column).
                let (vh, vw) = (
                    rng.random_range(0..(h - s).max(1)),
                    rng.random_range(0..(w - s).max(1)),
                );
                let mut delta = vec![0.0f32; c * h * w];
                for ch in 0..c {
                    let v = if rng.random::<bool>() {
                        2.0 * eps
                    } else {
                        -2.0 * eps
                    };
                    for row in vh..vh + s {
                        delta[ch * h * w + row * w + vw..ch * h * w + row * w + vw + s].fill(v);
                    }
                }
                let delta = Tensor::<B::InnerBackend, 4>::from_data(
                    TensorData::new(delta, [1, c, h, w]),
                    &device,
                );
                let m = active.len();
                let idx = Tensor::<B::InnerBackend, 1, Int>::from_ints(active.as_slice(), &device);
                let (xa, xb) = (
                    images.clone().select(0, idx.clone()),
                    x_best.clone().select(0, idx.clone()),
                );
                let proposal = project_linf(xb.clone() + delta, xa, eps);
                let mb = m_best.clone().select(0, idx.clone());
                let mp = margin(forward(proposal.clone())?, labels.clone().select(0, idx));
                let better = mp.clone().lower(mb.clone());
                // Scatter back: active row j of the subset, every other row from the full tensors.
                let mut pos = 0;
                let map: Vec<i64> = (0..n)
                    .map(|j| {
                        if pos < m && active[pos] == j as i64 {
                            pos += 1;
                            pos as i64 - 1
                        } else {
                            (m + j) as i64
                        }
                    })
                    .collect();
                let map = Tensor::<B::InnerBackend, 1, Int>::from_ints(map.as_slice(), &device);
                let kept = select_rows(better.clone(), proposal, xb);
                x_best = Tensor::cat(vec![kept, x_best], 0).select(0, map.clone());
                m_best = Tensor::cat(vec![mb.mask_where(better, mp), m_best], 0).select(0, map);
            }
            // Per image, the lowest margin over the clean image and every restart.
            let lower = m_best.clone().lower(best_margin.clone());
            best = select_rows(lower.clone(), x_best, best);
            best_margin = best_margin.mask_where(lower, m_best);
        }
        Ok(AttackOutput::from_images::<B, M>(
            &frozen, images, best, labels,
        ))
    }
}
