//! Learning-rate schedules as pure functions of the step, so resuming is exact.

use serde::{Deserialize, Serialize};

/// A learning-rate schedule over `total` optimizer steps, with optional linear warm-up.
///
/// ```
/// use advcal::train::LrSchedule;
/// let s = LrSchedule::MultiStep { milestones: vec![0.5, 0.75], gamma: 0.1 };
/// assert!((s.lr(0.1, 0, 100, 0) - 0.1).abs() < 1e-12);
/// assert!((s.lr(0.1, 60, 100, 0) - 0.01).abs() < 1e-12);
/// let c = LrSchedule::Cosine;
/// assert!((c.lr(0.1, 50, 100, 0) - 0.05).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LrSchedule {
    /// Constant rate.
    Constant,
    /// Multiply by `gamma` at each milestone, given as a fraction of the total steps.
    MultiStep {
        /// Fractions of the run (e.g. `[0.5, 0.75]`).
        milestones: Vec<f64>,
        /// Factor applied at each milestone.
        gamma: f64,
    },
    /// Cosine annealing from the base rate to 0.
    Cosine,
}

impl LrSchedule {
    /// The rate at `step` (0-based) of `total` steps, with `warmup` linear warm-up steps.
    pub fn lr(&self, base: f64, step: usize, total: usize, warmup: usize) -> f64 {
        if step < warmup {
            return base * (step + 1) as f64 / warmup as f64;
        }
        let total = total.max(1);
        let progress =
            (step.saturating_sub(warmup)) as f64 / (total.saturating_sub(warmup)).max(1) as f64;
        match self {
            LrSchedule::Constant => base,
            LrSchedule::MultiStep { milestones, gamma } => {
                let passed = milestones
                    .iter()
                    .filter(|&&m| step as f64 >= m * total as f64)
                    .count();
                base * gamma.powi(passed as i32)
            }
            LrSchedule::Cosine => {
                base * 0.5 * (1.0 + (std::f64::consts::PI * progress.min(1.0)).cos())
            }
        }
    }
}
