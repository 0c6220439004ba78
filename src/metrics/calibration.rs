//! Binned calibration statistics.

use crate::error::{Error, Result};
use approx::{AbsDiffEq, RelativeEq};
use burn::prelude::*;
use num_traits::Float;
use serde::{Deserialize, Serialize};

/// Default number of equal-width confidence bins (15, as in Guo et al., "On Calibration of
/// Modern Neural Networks", ICML 2017, <https://arxiv.org/abs/1706.04599>).
pub const DEFAULT_BINS: usize = 15;

/// One bin of a reliability diagram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    /// Lower edge (exclusive, except 0 for the first bin).
    pub lower: f64,
    /// Upper edge (inclusive).
    pub upper: f64,
    /// Number of samples whose confidence falls in the bin.
    pub count: usize,
    /// Accuracy of those samples (`None` for an empty bin).
    pub accuracy: Option<f64>,
    /// Mean confidence of those samples (`None` for an empty bin).
    pub confidence: Option<f64>,
}

/// Calibration of a classifier on a set of samples.
///
/// ```
/// use advcal::metrics::CalibrationReport;
/// // Two samples, K = 2: one confident and right, one confident and wrong.
/// let probs = [0.9, 0.1, 0.8, 0.2];
/// let r = CalibrationReport::from_probabilities(&probs, 2, &[0, 1], 15).unwrap();
/// assert!((r.accuracy - 0.5).abs() < 1e-12);
/// assert!((r.confidence - 0.85).abs() < 1e-6); // probabilities are f32
/// assert!((r.mcs - 0.35).abs() < 1e-6); // overconfident: CONF − ACC > 0
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationReport {
    /// Number of samples N.
    pub n: usize,
    /// ACC: fraction of correct predictions.
    pub accuracy: f64,
    /// CONF: mean maximum softmax probability.
    pub confidence: f64,
    /// Mean probability of the true class ("GT-CONF").
    pub gt_confidence: f64,
    /// CONF over the correctly classified samples only ("CONF | correct"); `None` when no sample
    /// is correct. This is the quantity to compare with the inverse adversarial attack's
    /// analytic optimum `y_G(λ) = (1 + λ/K)/(1 + λ)`
    /// ([`iaa_optimal_confidence`](crate::attack::iaa_optimal_confidence)): at the optimum of
    /// IAA's loss the true class has probability `y_G` and is still the top class, so an image
    /// that reaches it is correct with confidence `y_G`, while images IAA pushes past a wrong
    /// class drop out of this mean (and lower ACC instead).
    #[serde(default)]
    pub correct_confidence: Option<f64>,
    /// Expected calibration error `Σ (|B_m|/N)|acc_m − conf_m|`.
    pub ece: f64,
    /// Maximum calibration error over non-empty bins.
    pub mce: f64,
    /// Signed miscalibration score `Σ (|B_m|/N)(conf_m − acc_m)` (= CONF − ACC); > 0 overconfident.
    pub mcs: f64,
    /// Over-confidence part of the MCS (sum over bins with conf > acc), ≥ 0.
    pub over: f64,
    /// Under-confidence part of the MCS (sum over bins with conf < acc), ≤ 0.
    pub under: f64,
    /// Mean negative log-likelihood of the true class (natural log).
    pub nll: f64,
    /// Multi-class Brier score `mean_i Σ_k (p_ik − 1[k = y_i])²`.
    pub brier: f64,
    /// Per-bin data for reliability diagrams.
    pub bins: Vec<ReliabilityBin>,
}

/// Approximate equality of one bin: `count` exactly, the edges and the accuracy and mean
/// confidence within the tolerance (an empty bin's `None`s only equal `None`s).
impl AbsDiffEq for ReliabilityBin {
    type Epsilon = f64;

    fn default_epsilon() -> f64 {
        f64::default_epsilon()
    }

    fn abs_diff_eq(&self, other: &Self, epsilon: f64) -> bool {
        self.relative_eq(other, epsilon, 0.0)
    }
}

impl RelativeEq for ReliabilityBin {
    fn default_max_relative() -> f64 {
        f64::default_max_relative()
    }

    fn relative_eq(&self, other: &Self, epsilon: f64, max_relative: f64) -> bool {
        let close = |a: f64, b: f64| a.relative_eq(&b, epsilon, max_relative);
        let close_opt = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => close(a, b),
            (None, None) => true,
            _ => false,
        };
        self.count == other.count
            && close(self.lower, other.lower)
            && close(self.upper, other.upper)
            && close_opt(self.accuracy, other.accuracy)
            && close_opt(self.confidence, other.confidence)
    }
}

impl CalibrationReport {
    /// Every plain floating-point field, in declaration order (`n`, `bins` and the optional
    /// `correct_confidence`, compared on its own, excluded).
    fn float_fields(&self) -> [f64; 10] {
        [
            self.accuracy,
            self.confidence,
            self.gt_confidence,
            self.ece,
            self.mce,
            self.mcs,
            self.over,
            self.under,
            self.nll,
            self.brier,
        ]
    }
}

/// Approximate equality of two reports, e.g. of the same model on two backends: `n`, the number
/// of bins and every bin's `count` must be equal; every other number (ACC, CONF, GT-CONF,
/// CONF | correct, ECE, MCE, MCS and its split, NLL, Brier, and each bin's edges, accuracy and
/// mean confidence) must lie within the tolerance.
///
/// ```
/// use advcal::metrics::CalibrationReport;
/// use approx::{assert_abs_diff_eq, assert_relative_eq, assert_relative_ne};
///
/// let labels = [0, 1, 1];
/// let a = CalibrationReport::from_logits(&[2.0f32, 0.0, 0.5, 1.0, 0.0, 3.0], 2, &labels, 15).unwrap();
/// let b = CalibrationReport::from_logits(&[2.0f64, 0.0, 0.5, 1.0, 1e-7, 3.0], 2, &labels, 15).unwrap();
/// assert_abs_diff_eq!(a, b, epsilon = 1e-6);
/// assert_relative_eq!(a, b, epsilon = 1e-9, max_relative = 1e-6);
/// // A different sample count (or bin count) is never approximately equal.
/// let c = CalibrationReport::from_logits(&[2.0f32, 0.0, 0.5, 1.0], 2, &labels[..2], 15).unwrap();
/// assert_relative_ne!(a, c, epsilon = 1.0, max_relative = 1.0);
/// ```
impl AbsDiffEq for CalibrationReport {
    type Epsilon = f64;

    fn default_epsilon() -> f64 {
        f64::default_epsilon()
    }

    fn abs_diff_eq(&self, other: &Self, epsilon: f64) -> bool {
        self.relative_eq(other, epsilon, 0.0)
    }
}

impl RelativeEq for CalibrationReport {
    fn default_max_relative() -> f64 {
        f64::default_max_relative()
    }

    fn relative_eq(&self, other: &Self, epsilon: f64, max_relative: f64) -> bool {
        self.n == other.n
            && self.bins.len() == other.bins.len()
            && self
                .float_fields()
                .iter()
                .zip(other.float_fields())
                .all(|(a, b)| a.relative_eq(&b, epsilon, max_relative))
            && match (self.correct_confidence, other.correct_confidence) {
                (Some(a), Some(b)) => a.relative_eq(&b, epsilon, max_relative),
                (a, b) => a.is_none() && b.is_none(),
            }
            && self
                .bins
                .iter()
                .zip(&other.bins)
                .all(|(a, b)| a.relative_eq(b, epsilon, max_relative))
    }
}

impl CalibrationReport {
    /// Computes the report from row-major probabilities (`N × num_classes`) and labels.
    ///
    /// The probabilities may be `f32` or `f64` (any [`num_traits::Float`]); they are converted to
    /// `f64`. (An empty slice literal needs its type spelled out: `&[] as &[f32]`.)
    ///
    /// # Errors
    ///
    /// [`Error::InvalidBins`] on `bins == 0`; [`Error::InvalidParameter`] on
    /// `num_classes == 0`; [`Error::ShapeMismatch`] when `probs.len() != labels.len() ·
    /// num_classes`; [`Error::LabelOutOfRange`] for a label `≥ num_classes`;
    /// [`Error::InvalidProbabilities`] for a negative or non-finite entry; [`Error::NoSamples`]
    /// when there is no sample.
    pub fn from_probabilities<F: Float>(
        probs: &[F],
        num_classes: usize,
        labels: &[usize],
        bins: usize,
    ) -> Result<Self> {
        let mut acc = CalibrationAccumulator::new(num_classes, bins)?;
        acc.add_probabilities(probs, labels)?;
        acc.report()
    }

    /// Computes the report from row-major logits (`N × num_classes`, `f32` or `f64`) and labels
    /// (softmax taken in f64 with the log-sum-exp trick).
    ///
    /// # Errors
    ///
    /// As [`from_probabilities`](Self::from_probabilities), with [`Error::InvalidProbabilities`]
    /// for a non-finite logit.
    pub fn from_logits<F: Float>(
        logits: &[F],
        num_classes: usize,
        labels: &[usize],
        bins: usize,
    ) -> Result<Self> {
        let mut acc = CalibrationAccumulator::new(num_classes, bins)?;
        acc.add_logits_slice(logits, labels)?;
        acc.report()
    }
}

/// Running sums of one confidence bin.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BinSums {
    pub(crate) count: usize,
    pub(crate) correct: usize,
    pub(crate) confidence: f64,
}

impl BinSums {
    /// Adds one sample of confidence `confidence`.
    pub(crate) fn add(&mut self, confidence: f64, correct: bool) {
        self.count += 1;
        self.correct += usize::from(correct);
        self.confidence += confidence;
    }
}

/// The binned gaps `conf_m − acc_m` summarised over the non-empty bins: ECE, MCE and the
/// over/under split of the MCS (`mcs = over + under`). Shared by [`CalibrationAccumulator`] and
/// the bootstrap, so both compute the metrics with the same floating-point operations.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BinGaps {
    pub(crate) ece: f64,
    pub(crate) mce: f64,
    pub(crate) over: f64,
    pub(crate) under: f64,
}

impl BinGaps {
    /// Summarises `bins`, which hold `n` samples in all.
    pub(crate) fn from_sums(bins: &[BinSums], n: usize) -> Self {
        let n = n as f64;
        let mut g = Self::default();
        for b in bins.iter().filter(|b| b.count > 0) {
            let acc = b.correct as f64 / b.count as f64;
            let conf = b.confidence / b.count as f64;
            let weight = b.count as f64 / n;
            let gap = conf - acc;
            g.ece += weight * gap.abs();
            g.mce = g.mce.max(gap.abs());
            if gap > 0.0 {
                g.over += weight * gap;
            } else {
                g.under += weight * gap;
            }
        }
        g
    }

    /// The signed miscalibration score `Σ (|B_m|/N)(conf_m − acc_m)`.
    pub(crate) fn mcs(&self) -> f64 {
        self.over + self.under
    }
}

/// Streaming calibration statistics, fed batch by batch.
///
/// Only per-bin sums are kept, so memory is `O(bins)` whatever the number of samples.
///
/// ```
/// use advcal::metrics::CalibrationAccumulator;
/// use burn::backend::NdArray;
/// use burn::prelude::*;
///
/// let d = Default::default();
/// let mut acc = CalibrationAccumulator::new(2, 15).unwrap();
/// let logits = Tensor::<NdArray, 2>::from_floats([[2.0, 0.0], [0.0, 1.0]], &d);
/// let labels = Tensor::<NdArray, 1, Int>::from_ints([0, 0], &d);
/// acc.add_batch(logits, labels).unwrap();
/// let report = acc.report().unwrap();
/// assert_eq!(report.n, 2);
/// assert!((report.mcs - (report.confidence - report.accuracy)).abs() < 1e-12);
/// ```
#[derive(Debug, Clone)]
pub struct CalibrationAccumulator {
    num_classes: usize,
    bins: Vec<BinSums>,
    n: usize,
    correct: usize,
    confidence: f64,
    correct_confidence: f64,
    gt_confidence: f64,
    nll: f64,
    brier: f64,
}

impl CalibrationAccumulator {
    /// An empty accumulator for `num_classes` classes and `bins` equal-width bins.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidBins`] on `bins == 0`, [`Error::InvalidParameter`] on `num_classes == 0`.
    pub fn new(num_classes: usize, bins: usize) -> Result<Self> {
        if bins == 0 {
            return Err(Error::InvalidBins);
        }
        if num_classes == 0 {
            return Err(Error::param("num_classes", "must be at least 1"));
        }
        Ok(Self {
            num_classes,
            bins: vec![BinSums::default(); bins],
            n: 0,
            correct: 0,
            confidence: 0.0,
            correct_confidence: 0.0,
            gt_confidence: 0.0,
            nll: 0.0,
            brier: 0.0,
        })
    }

    /// Number of samples seen so far.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether no sample has been added.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Adds a batch of logits `[N, K]` and labels `[N]` from any backend (one device-to-host read).
    ///
    /// # Errors
    ///
    /// [`Error::ClassCountMismatch`] when `K` differs from the accumulator's `num_classes`;
    /// [`Error::BatchSizeMismatch`] when the logits and labels disagree on `N`;
    /// [`Error::LabelOutOfRange`] for a label outside `0..K`; [`Error::InvalidProbabilities`] for
    /// a non-finite logit; [`Error::TensorConversion`] if the backend's data cannot be read back.
    /// Nothing is added on error.
    pub fn add_batch<B: Backend>(
        &mut self,
        logits: Tensor<B, 2>,
        labels: Tensor<B, 1, Int>,
    ) -> Result<()> {
        let [_, k] = logits.dims();
        if k != self.num_classes {
            return Err(Error::ClassCountMismatch {
                declared: self.num_classes,
                logits: logits.dims().to_vec(),
            });
        }
        let (z, y) = batch_to_host(logits, labels)?;
        self.add_logits_slice(&z, &y)
    }

    /// Adds row-major logits (`N × K`, `f32` or `f64`) from the host; the softmax is taken in
    /// f64 with the log-sum-exp trick.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] when `logits.len() != labels.len() · K`;
    /// [`Error::LabelOutOfRange`] for a label `≥ K`; [`Error::InvalidProbabilities`] for a
    /// non-finite logit. Nothing is added on error.
    pub fn add_logits_slice<F: Float>(&mut self, logits: &[F], labels: &[usize]) -> Result<()> {
        check_lengths(logits.len(), self.num_classes, labels)?;
        let k = self.num_classes;
        let mut log_probs = vec![0.0f64; k];
        let mut all = Vec::with_capacity(logits.len());
        for row in logits.chunks_exact(k) {
            log_softmax_into(row, &mut log_probs)?;
            all.extend_from_slice(&log_probs);
        }
        for (row, &y) in all.chunks_exact(k).zip(labels) {
            self.push(row, y);
        }
        Ok(())
    }

    /// Adds row-major probabilities (`N × K`, `f32` or `f64`) from the host (each row should sum
    /// to 1).
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] when `probs.len() != labels.len() · K`;
    /// [`Error::LabelOutOfRange`] for a label `≥ K`; [`Error::InvalidProbabilities`] for a
    /// negative or non-finite probability. Nothing is added on error.
    pub fn add_probabilities<F: Float>(&mut self, probs: &[F], labels: &[usize]) -> Result<()> {
        check_lengths(probs.len(), self.num_classes, labels)?;
        let log_probs = probs
            .iter()
            .map(|&p| match to_f64(p) {
                p if p.is_finite() && p >= 0.0 => Ok(p.ln()),
                _ => Err(Error::InvalidProbabilities(
                    "probabilities must be finite and >= 0".into(),
                )),
            })
            .collect::<Result<Vec<f64>>>()?;
        for (row, &y) in log_probs.chunks_exact(self.num_classes).zip(labels) {
            self.push(row, y);
        }
        Ok(())
    }

    /// Adds one sample given its log-probabilities.
    fn push(&mut self, log_probs: &[f64], label: usize) {
        let (pred, conf) = prediction(log_probs);
        let correct = pred == label;
        let bin = bin_index(conf, self.bins.len());
        self.bins[bin].add(conf, correct);
        self.n += 1;
        self.correct += usize::from(correct);
        self.confidence += conf;
        if correct {
            self.correct_confidence += conf;
        }
        self.gt_confidence += log_probs[label].exp();
        self.nll -= log_probs[label];
        self.brier += brier_score(log_probs, label);
    }

    /// The report over every sample added so far.
    ///
    /// # Errors
    ///
    /// [`Error::NoSamples`] when no sample has been added.
    pub fn report(&self) -> Result<CalibrationReport> {
        if self.n == 0 {
            return Err(Error::NoSamples);
        }
        let n = self.n as f64;
        let m = self.bins.len();
        let gaps = BinGaps::from_sums(&self.bins, self.n);
        let bins = self
            .bins
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let (lower, upper) = (i as f64 / m as f64, (i + 1) as f64 / m as f64);
                if b.count == 0 {
                    return ReliabilityBin {
                        lower,
                        upper,
                        count: 0,
                        accuracy: None,
                        confidence: None,
                    };
                }
                ReliabilityBin {
                    lower,
                    upper,
                    count: b.count,
                    accuracy: Some(b.correct as f64 / b.count as f64),
                    confidence: Some(b.confidence / b.count as f64),
                }
            })
            .collect();
        Ok(CalibrationReport {
            n: self.n,
            accuracy: self.correct as f64 / n,
            confidence: self.confidence / n,
            gt_confidence: self.gt_confidence / n,
            correct_confidence: (self.correct > 0)
                .then(|| self.correct_confidence / self.correct as f64),
            ece: gaps.ece,
            mce: gaps.mce,
            mcs: gaps.mcs(),
            over: gaps.over,
            under: gaps.under,
            nll: self.nll / n,
            brier: self.brier / n,
            bins,
        })
    }
}

/// Checks that `len` values form `labels.len()` rows of `num_classes` (≥ 1) and every label is
/// below `num_classes`.
pub(crate) fn check_lengths(len: usize, num_classes: usize, labels: &[usize]) -> Result<()> {
    let k = num_classes;
    if k == 0 {
        return Err(Error::param("num_classes", "must be at least 1"));
    }
    if len != labels.len() * k {
        return Err(Error::ShapeMismatch {
            shape: vec![labels.len(), k],
            len,
        });
    }
    if let Some(&bad) = labels.iter().find(|&&l| l >= k) {
        return Err(Error::LabelOutOfRange {
            label: bad as i64,
            num_classes: k,
        });
    }
    Ok(())
}

/// Reads a batch of logits `[N, K]` and labels `[N]` to the host (one read per tensor),
/// checking that the batch sizes agree and every label lies in `0..K`.
pub(crate) fn batch_to_host<B: Backend>(
    logits: Tensor<B, 2>,
    labels: Tensor<B, 1, Int>,
) -> Result<(Vec<f32>, Vec<usize>)> {
    let [n, k] = logits.dims();
    let [nl] = labels.dims();
    if nl != n {
        return Err(Error::BatchSizeMismatch {
            images: n,
            labels: nl,
        });
    }
    let z = logits
        .into_data()
        .convert::<f32>()
        .into_vec::<f32>()
        .map_err(Error::TensorConversion)?;
    let y = labels.into_data().convert::<i64>();
    let y = y.as_slice::<i64>().map_err(Error::TensorConversion)?;
    let mut labels_usize = Vec::with_capacity(n);
    for &l in y {
        if l < 0 || l as usize >= k {
            return Err(Error::LabelOutOfRange {
                label: l,
                num_classes: k,
            });
        }
        labels_usize.push(l as usize);
    }
    Ok((z, labels_usize))
}

/// `value` as `f64`; NaN if it has no `f64` value (never for `f32` and `f64`), so that it is
/// rejected as non-finite.
pub(crate) fn to_f64<F: Float>(value: F) -> f64 {
    value.to_f64().unwrap_or(f64::NAN)
}

/// Log-softmax of one row of logits, in f64 with the log-sum-exp trick, written into `out`
/// (same length as `row`). Errors on a non-finite logit.
pub(crate) fn log_softmax_into<F: Float>(row: &[F], out: &mut [f64]) -> Result<()> {
    for (o, &v) in out.iter_mut().zip(row) {
        *o = to_f64(v);
    }
    if out.iter().any(|v| !v.is_finite()) {
        return Err(Error::InvalidProbabilities("non-finite logit".into()));
    }
    let max = out.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    let lse = max + out.iter().map(|&v| (v - max).exp()).sum::<f64>().ln();
    for lp in out.iter_mut() {
        *lp -= lse;
    }
    Ok(())
}

/// Brier score `Σ_k (p_k − 1[k = label])²` of one sample given its log-probabilities.
pub(crate) fn brier_score(log_probs: &[f64], label: usize) -> f64 {
    log_probs
        .iter()
        .enumerate()
        .map(|(k, &lp)| {
            let target = if k == label { 1.0 } else { 0.0 };
            (lp.exp() - target).powi(2)
        })
        .sum::<f64>()
}

/// Prediction `argmax_k` (ties resolved to the lowest index) and confidence `max_k p_k` of one
/// row of log-probabilities.
pub(crate) fn prediction(log_probs: &[f64]) -> (usize, f64) {
    let (pred, max_lp) =
        log_probs
            .iter()
            .enumerate()
            .fold((0, f64::NEG_INFINITY), |(bi, bv), (i, &v)| {
                if v > bv { (i, v) } else { (bi, bv) }
            });
    (pred, max_lp.exp())
}

/// Index of the bin `(m/M, (m+1)/M]` holding `confidence`; 0 goes to the first bin, values above
/// 1 to the last. Edges are computed as `m as f64 / M as f64`, never with `ceil(c·M)`, whose
/// rounding misplaces values on interior edges.
pub(crate) fn bin_index(confidence: f64, bins: usize) -> usize {
    (0..bins)
        .find(|&m| confidence <= (m + 1) as f64 / bins as f64)
        .unwrap_or(bins - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bin_edges_are_right_closed() {
        assert_eq!(bin_index(0.0, 15), 0);
        assert_eq!(bin_index(1.0, 15), 14);
        assert_eq!(bin_index(0.2, 15), 2);
        assert_eq!(bin_index(0.6, 15), 8);
        assert_eq!(bin_index(0.4, 15), 5);
        assert_eq!(bin_index(0.41, 15), 6);
    }
}
