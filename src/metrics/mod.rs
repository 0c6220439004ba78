//! Calibration metrics: accuracy, confidence, ECE, MCE, the signed miscalibration score (MCS),
//! NLL, Brier score, reliability-diagram bins, the over/under-confidence split, and temperature
//! scaling.
//!
//! Conventions (spec §6): confidence `c = max_k p_k`, prediction `argmax_k p_k` (ties → lowest
//! index); `M` equal-width bins `(m/M, (m+1)/M]`, with `c = 0` in the first bin and `c = 1` in
//! the last; `MCS = Σ_m (|B_m|/N)(conf_m − acc_m) = CONF − ACC`, **positive = overconfident**
//! (the seed paper prints the sign flipped).
//!
//! Two entry points give identical results: [`CalibrationAccumulator`] fed with logits tensors
//! batch by batch (any backend), and [`CalibrationReport::from_probabilities`] on host slices.
//!
//! Seeded percentile-bootstrap confidence intervals of ACC, CONF, ECE and MCS come from
//! [`CalibrationSamples::bootstrap`], which keeps the per-image data the accumulator discards.

mod bootstrap;
mod calibration;
mod temperature;

pub use bootstrap::{
    BootstrapConfig, CalibrationEstimate, CalibrationSamples, ConfidenceIntervals,
};
pub use calibration::{CalibrationAccumulator, CalibrationReport, ReliabilityBin, DEFAULT_BINS};
pub use temperature::{apply_temperature, fit_temperature, nll_at_temperature};
