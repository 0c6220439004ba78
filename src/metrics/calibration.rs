//! Binned calibration statistics.

use crate::error::{Error, Result};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// Default number of equal-width confidence bins (Guo et al. 2017).
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

impl CalibrationReport {
    /// Computes the report from row-major probabilities (`N × num_classes`) and labels.
    ///
    /// Errors on `bins == 0`, an empty set, a length mismatch, labels `≥ num_classes`, or rows
    /// with negative/non-finite entries.
    pub fn from_probabilities(
        probs: &[f32],
        num_classes: usize,
        labels: &[usize],
        bins: usize,
    ) -> Result<Self> {
        let mut acc = CalibrationAccumulator::new(num_classes, bins)?;
        acc.add_probabilities(probs, labels)?;
        acc.report()
    }

    /// Computes the report from row-major logits (`N × num_classes`) and labels (softmax taken in
    /// f64 with the log-sum-exp trick).
    pub fn from_logits(
        logits: &[f32],
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
    gt_confidence: f64,
    nll: f64,
    brier: f64,
}

impl CalibrationAccumulator {
    /// An empty accumulator for `num_classes` classes and `bins` equal-width bins.
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
    pub fn add_batch<B: Backend>(
        &mut self,
        logits: Tensor<B, 2>,
        labels: Tensor<B, 1, Int>,
    ) -> Result<()> {
        let [_, k] = logits.dims();
        if k != self.num_classes {
            return Err(Error::InvalidProbabilities(format!(
                "expected {} classes, logits have {k}",
                self.num_classes
            )));
        }
        let (z, y) = batch_to_host(logits, labels)?;
        self.add_logits_slice(&z, &y)
    }

    /// Adds row-major logits (`N × K`) from the host.
    pub fn add_logits_slice(&mut self, logits: &[f32], labels: &[usize]) -> Result<()> {
        check_lengths(logits.len(), self.num_classes, labels)?;
        let k = self.num_classes;
        let mut log_probs = vec![0.0f64; k];
        for (row, &y) in logits.chunks_exact(k).zip(labels) {
            log_softmax_into(row, &mut log_probs)?;
            self.push(&log_probs, y);
        }
        Ok(())
    }

    /// Adds row-major probabilities (`N × K`) from the host (each row should sum to 1).
    pub fn add_probabilities(&mut self, probs: &[f32], labels: &[usize]) -> Result<()> {
        check_lengths(probs.len(), self.num_classes, labels)?;
        let k = self.num_classes;
        let mut log_probs = vec![0.0f64; k];
        for (row, &y) in probs.chunks_exact(k).zip(labels) {
            if row.iter().any(|p| !p.is_finite() || *p < 0.0) {
                return Err(Error::InvalidProbabilities(
                    "probabilities must be finite and >= 0".into(),
                ));
            }
            for (lp, &p) in log_probs.iter_mut().zip(row) {
                *lp = (p as f64).ln();
            }
            self.push(&log_probs, y);
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
        self.gt_confidence += log_probs[label].exp();
        self.nll -= log_probs[label];
        self.brier += log_probs
            .iter()
            .enumerate()
            .map(|(k, &lp)| {
                let target = if k == label { 1.0 } else { 0.0 };
                (lp.exp() - target).powi(2)
            })
            .sum::<f64>();
    }

    /// The report over every sample added so far.
    pub fn report(&self) -> Result<CalibrationReport> {
        if self.n == 0 {
            return Err(Error::EmptyBatch);
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
        .map_err(|e| Error::InvalidProbabilities(format!("{e:?}")))?;
    let y = labels.into_data().convert::<i64>();
    let y = y
        .as_slice::<i64>()
        .map_err(|e| Error::InvalidProbabilities(format!("{e:?}")))?;
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

/// Log-softmax of one row of logits, in f64 with the log-sum-exp trick, written into `out`
/// (same length as `row`). Errors on a non-finite logit.
pub(crate) fn log_softmax_into(row: &[f32], out: &mut [f64]) -> Result<()> {
    if row.iter().any(|v| !v.is_finite()) {
        return Err(Error::InvalidProbabilities("non-finite logit".into()));
    }
    let max = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
    let lse = max
        + row
            .iter()
            .map(|&v| (v as f64 - max).exp())
            .sum::<f64>()
            .ln();
    for (lp, &v) in out.iter_mut().zip(row) {
        *lp = v as f64 - lse;
    }
    Ok(())
}

/// Prediction `argmax_k` (ties resolved to the lowest index) and confidence `max_k p_k` of one
/// row of log-probabilities.
pub(crate) fn prediction(log_probs: &[f64]) -> (usize, f64) {
    let (pred, max_lp) =
        log_probs
            .iter()
            .enumerate()
            .fold((0, f64::NEG_INFINITY), |(bi, bv), (i, &v)| {
                if v > bv {
                    (i, v)
                } else {
                    (bi, bv)
                }
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
