//! Temperature scaling (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017,
//! <https://arxiv.org/abs/1706.04599>): `p = softmax(z / T)` with `T` fitted on held-out data.

use crate::error::{Error, Result};
use burn::prelude::*;

/// Search interval for `ln T`: `T ∈ [0.05, 20]`.
const LN_T_RANGE: (f64, f64) = (-2.995_732_273_553_991, 2.995_732_273_553_991);

/// Mean NLL of row-major logits (`N × K`) at temperature `t`.
///
/// # Errors
///
/// [`Error::NoSamples`] without labels; [`Error::ShapeMismatch`] when `K == 0` or
/// `logits.len() != N · K`; [`Error::LabelOutOfRange`]; [`Error::InvalidProbabilities`] for a
/// non-finite logit; [`Error::InvalidParameter`] unless `t` is finite and positive.
pub fn nll_at_temperature(
    logits: &[f32],
    num_classes: usize,
    labels: &[usize],
    t: f64,
) -> Result<f64> {
    check(logits, num_classes, labels)?;
    if !(t.is_finite() && t > 0.0) {
        return Err(Error::param(
            "temperature",
            format!("must be finite and > 0, got {t}"),
        ));
    }
    Ok(nll(logits, num_classes, labels, t))
}

fn nll(logits: &[f32], k: usize, labels: &[usize], t: f64) -> f64 {
    let total: f64 = logits
        .chunks_exact(k)
        .zip(labels)
        .map(|(row, &y)| {
            let max = row
                .iter()
                .fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64 / t));
            let lse = max
                + row
                    .iter()
                    .map(|&v| (v as f64 / t - max).exp())
                    .sum::<f64>()
                    .ln();
            lse - row[y] as f64 / t
        })
        .sum();
    total / labels.len() as f64
}

fn check(logits: &[f32], k: usize, labels: &[usize]) -> Result<()> {
    if labels.is_empty() {
        return Err(Error::NoSamples);
    }
    if k == 0 || logits.len() != labels.len() * k {
        return Err(Error::ShapeMismatch {
            shape: vec![labels.len(), k],
            len: logits.len(),
        });
    }
    if let Some(&bad) = labels.iter().find(|&&l| l >= k) {
        return Err(Error::LabelOutOfRange {
            label: bad as i64,
            num_classes: k,
        });
    }
    if logits.iter().any(|v| !v.is_finite()) {
        return Err(Error::InvalidProbabilities("non-finite logit".into()));
    }
    Ok(())
}

/// Fits the temperature `T` minimising the NLL of held-out logits (never the test set).
///
/// Golden-section search on `s = ln T ∈ [ln 0.05, ln 20]` to a tolerance of 1e-6. The NLL is
/// convex in `1/T`, hence unimodal in `ln T`, so the search finds the global minimum within the
/// interval. Scaling never changes the predictions, hence never the accuracy.
///
/// # Errors
///
/// [`Error::NoSamples`] without labels; [`Error::ShapeMismatch`] when `K == 0` or
/// `logits.len() != N · K`; [`Error::LabelOutOfRange`]; [`Error::InvalidProbabilities`] for a
/// non-finite logit.
///
/// ```
/// use advcal::metrics::fit_temperature;
/// // Logits [4, 0] for four samples, three of class 0: the optimum is T = 4 / ln 3.
/// let logits = [4.0, 0.0, 4.0, 0.0, 4.0, 0.0, 4.0, 0.0];
/// let t = fit_temperature(&logits, 2, &[0, 0, 0, 1]).unwrap();
/// assert!((t - 4.0 / 3f64.ln()).abs() < 1e-4);
/// ```
pub fn fit_temperature(logits: &[f32], num_classes: usize, labels: &[usize]) -> Result<f64> {
    check(logits, num_classes, labels)?;
    let f = |s: f64| nll(logits, num_classes, labels, s.exp());
    let inv_phi = (5f64.sqrt() - 1.0) / 2.0;
    let (mut a, mut b) = LN_T_RANGE;
    let mut c = b - inv_phi * (b - a);
    let mut d = a + inv_phi * (b - a);
    let (mut fc, mut fd) = (f(c), f(d));
    while (b - a).abs() > 1e-7 {
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - inv_phi * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + inv_phi * (b - a);
            fd = f(d);
        }
    }
    Ok(((a + b) / 2.0).exp())
}

/// Divides logits by the temperature `t` (a post-hoc transform for metrics; attacks always
/// differentiate the unscaled logits).
///
/// # Errors
///
/// [`Error::InvalidParameter`] unless `t` is finite and positive.
pub fn apply_temperature<B: Backend>(logits: Tensor<B, 2>, t: f64) -> Result<Tensor<B, 2>> {
    if !(t.is_finite() && t > 0.0) {
        return Err(Error::param(
            "temperature",
            format!("must be finite and > 0, got {t}"),
        ));
    }
    Ok(logits.div_scalar(t))
}
