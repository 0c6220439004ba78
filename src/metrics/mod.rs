//! Calibration metrics: accuracy, confidence, ECE, MCE, the signed miscalibration score (MCS),
//! NLL, Brier score, reliability-diagram bins, the over/under-confidence split, and temperature
//! scaling.
//!
//! Conventions: confidence `c = max_k p_k`, prediction `argmax_k p_k` (ties → lowest index);
//! `M` equal-width bins `(m/M, (m+1)/M]` (default `M` = 15), with `c = 0` in the first bin and
//! `c = 1` in the last. With `B_m` the samples of bin `m`, `acc_m` their accuracy and `conf_m`
//! their mean confidence:
//!
//! * `ECE = Σ_m (|B_m|/N)·|acc_m − conf_m|` (Guo et al., "On Calibration of Modern Neural
//!   Networks", ICML 2017, <https://arxiv.org/abs/1706.04599>), `MCE = max_m |acc_m − conf_m|`;
//! * the signed miscalibration score of Cheng et al., "Towards Calibration Enhanced Network by
//!   Inverse Adversarial Attack" (<https://arxiv.org/abs/2504.06358>),
//!   `MCS = Σ_m (|B_m|/N)(conf_m − acc_m) = CONF − ACC`, here **positive = overconfident**,
//!   negative = underconfident (the paper prints the MCS with the opposite sign).
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
pub use calibration::{CalibrationAccumulator, CalibrationReport, DEFAULT_BINS, ReliabilityBin};
pub use temperature::{apply_temperature, fit_temperature, nll_at_temperature};
