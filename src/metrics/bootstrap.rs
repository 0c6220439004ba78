//! Seeded bootstrap confidence intervals for the binned calibration metrics.
//!
//! [`CalibrationReport`](super::CalibrationReport) gives point estimates; how much they would move
//! on another draw of the test set is measured here by the **nonparametric percentile bootstrap**
//! (Efron & Tibshirani, *An Introduction to the Bootstrap*, 1993, ch. 13): the `N` evaluated
//! images are resampled `N` at a time with replacement, the metrics are recomputed on each
//! resample, and the interval at level `1 − α` is spanned by the `α/2` and `1 − α/2`
//! percentiles of the recomputed values.
//!
//! The streaming [`CalibrationAccumulator`](super::CalibrationAccumulator) keeps only per-bin sums,
//! which cannot be resampled; [`CalibrationSamples`] keeps the numbers per image the metrics
//! need (confidence, correctness, true-class probability, and from logits the NLL and Brier
//! score) and recomputes them with the accumulator's own binning and summation code, so its
//! point estimates equal the report's.

use super::calibration::{
    BinGaps, BinSums, DEFAULT_BINS, batch_to_host, bin_index, brier_score, check_lengths,
    log_softmax_into, prediction,
};
use crate::error::{Error, Result};
use crate::rng::{derive_seed, seeded_rng};
use burn::prelude::*;
use num_traits::Float;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Per-image calibration data, kept so that the binned metrics can be recomputed on any
/// resample of the images (see [`CalibrationSamples::bootstrap`]).
///
/// Memory is `O(N)` (33 bytes per image), unlike the `O(bins)` of
/// [`CalibrationAccumulator`](super::CalibrationAccumulator); feed both from the same batches to
/// get the full report and its intervals.
///
/// ```
/// use advcal::metrics::{BootstrapConfig, CalibrationSamples};
///
/// // 100 images: 80 right at confidence 0.9, 20 wrong at confidence 0.6.
/// let mut samples = CalibrationSamples::new();
/// for i in 0..100 {
///     if i < 80 {
///         samples.push(0.9, true, 0.9).unwrap();
///     } else {
///         samples.push(0.6, false, 0.3).unwrap();
///     }
/// }
/// let point = samples.estimate(15).unwrap();
/// assert!((point.accuracy - 0.8).abs() < 1e-12);
/// assert!((point.mcs - (point.confidence - point.accuracy)).abs() < 1e-12);
///
/// let ci = samples.bootstrap(&BootstrapConfig::new().with_resamples(200)).unwrap();
/// assert!(ci.accuracy[0] <= 0.8 && 0.8 <= ci.accuracy[1]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct CalibrationSamples {
    confidence: Vec<f64>,
    correct: Vec<bool>,
    gt_confidence: Vec<f64>,
    /// Per-image NLL `−ln p_y` and Brier score `Σ_k (p_k − 1[k = y])²`; NaN for a sample added
    /// by [`CalibrationSamples::push`], which gives neither.
    nll: Vec<f64>,
    brier: Vec<f64>,
}

/// Equal samples in the same order; a missing NLL or Brier score (a sample added by
/// [`CalibrationSamples::push`]) equals another missing one.
impl PartialEq for CalibrationSamples {
    fn eq(&self, other: &Self) -> bool {
        let same = |a: &[f64], b: &[f64]| {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(x, y)| x == y || (x.is_nan() && y.is_nan()))
        };
        self.confidence == other.confidence
            && self.correct == other.correct
            && self.gt_confidence == other.gt_confidence
            && same(&self.nll, &other.nll)
            && same(&self.brier, &other.brier)
    }
}

impl CalibrationSamples {
    /// No samples.
    pub fn new() -> Self {
        Self::default()
    }

    /// No samples, with room for `capacity` before reallocating.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            confidence: Vec::with_capacity(capacity),
            correct: Vec::with_capacity(capacity),
            gt_confidence: Vec::with_capacity(capacity),
            nll: Vec::with_capacity(capacity),
            brier: Vec::with_capacity(capacity),
        }
    }

    /// Number of samples N.
    pub fn len(&self) -> usize {
        self.confidence.len()
    }

    /// Whether no sample has been added.
    pub fn is_empty(&self) -> bool {
        self.confidence.is_empty()
    }

    /// Maximum softmax probability of each sample, in insertion order.
    pub fn confidences(&self) -> &[f64] {
        &self.confidence
    }

    /// Whether each sample's prediction is correct, in insertion order.
    pub fn correct(&self) -> &[bool] {
        &self.correct
    }

    /// True-class probability of each sample, in insertion order.
    pub fn gt_confidences(&self) -> &[f64] {
        &self.gt_confidence
    }

    /// Adds one sample: its confidence `max_k p_k`, whether `argmax_k p_k` is the label, and the
    /// probability of the true class. It carries no NLL or Brier score (they need every class's
    /// probability), so samples that hold one added this way have neither estimate nor interval
    /// of them; [`CalibrationSamples::extend_from_logits`] adds both.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidProbabilities`] unless both probabilities lie in `[0, 1]` (NaN is
    /// rejected); nothing is added then.
    ///
    /// ```
    /// let mut s = advcal::metrics::CalibrationSamples::new();
    /// s.push(0.7, false, 0.2).unwrap();
    /// assert!(s.push(f64::NAN, true, 0.5).is_err());
    /// assert_eq!(s.len(), 1);
    /// ```
    pub fn push(&mut self, confidence: f64, correct: bool, gt_confidence: f64) -> Result<()> {
        for (name, p) in [
            ("confidence", confidence),
            ("true-class probability", gt_confidence),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(Error::InvalidProbabilities(format!(
                    "{name} must lie in [0, 1], got {p}"
                )));
            }
        }
        self.push_unchecked(confidence, correct, gt_confidence, f64::NAN, f64::NAN);
        Ok(())
    }

    fn push_unchecked(
        &mut self,
        confidence: f64,
        correct: bool,
        gt_confidence: f64,
        nll: f64,
        brier: f64,
    ) {
        self.confidence.push(confidence);
        self.correct.push(correct);
        self.gt_confidence.push(gt_confidence);
        self.nll.push(nll);
        self.brier.push(brier);
    }

    fn truncate(&mut self, len: usize) {
        self.confidence.truncate(len);
        self.correct.truncate(len);
        self.gt_confidence.truncate(len);
        self.nll.truncate(len);
        self.brier.truncate(len);
    }

    /// Whether every sample carries its NLL and Brier score (all were added from logits).
    fn scored(&self) -> bool {
        self.nll.iter().chain(&self.brier).all(|v| !v.is_nan())
    }

    /// Adds row-major logits (`N × num_classes`, `f32` or `f64`) and their labels from the host.
    ///
    /// The softmax is taken in f64 with the log-sum-exp trick and the prediction is the argmax
    /// with ties resolved to the lowest index, exactly as in the accumulator's
    /// [`add_logits_slice`](super::CalibrationAccumulator::add_logits_slice); each sample's NLL
    /// and Brier score are kept too.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] on `num_classes == 0`; [`Error::ShapeMismatch`] when
    /// `logits.len() != labels.len() · num_classes`; [`Error::LabelOutOfRange`] for a label
    /// `≥ num_classes`; [`Error::InvalidProbabilities`] for a non-finite logit. On error nothing
    /// is added.
    ///
    /// ```
    /// let mut s = advcal::metrics::CalibrationSamples::new();
    /// s.extend_from_logits(&[2.0, 0.0, 0.0, 1.0], 2, &[0, 0]).unwrap();
    /// assert_eq!(s.correct(), &[true, false]);
    /// assert!(s.extend_from_logits(&[0.0, f32::NAN], 2, &[0]).is_err());
    /// assert_eq!(s.len(), 2);
    /// ```
    pub fn extend_from_logits<F: Float>(
        &mut self,
        logits: &[F],
        num_classes: usize,
        labels: &[usize],
    ) -> Result<()> {
        check_lengths(logits.len(), num_classes, labels)?;
        let start = self.len();
        self.confidence.reserve(labels.len());
        self.correct.reserve(labels.len());
        self.gt_confidence.reserve(labels.len());
        self.nll.reserve(labels.len());
        self.brier.reserve(labels.len());
        let mut log_probs = vec![0.0f64; num_classes];
        for (row, &y) in logits.chunks_exact(num_classes).zip(labels) {
            if let Err(e) = log_softmax_into(row, &mut log_probs) {
                self.truncate(start);
                return Err(e);
            }
            let (pred, conf) = prediction(&log_probs);
            self.push_unchecked(
                conf,
                pred == y,
                log_probs[y].exp(),
                -log_probs[y],
                brier_score(&log_probs, y),
            );
        }
        Ok(())
    }

    /// Adds a batch of logits `[N, K]` and labels `[N]` from any backend (one device-to-host read
    /// per tensor, as the accumulator's [`add_batch`](super::CalibrationAccumulator::add_batch)).
    ///
    /// # Errors
    ///
    /// [`Error::BatchSizeMismatch`] when the logits and labels disagree on `N`;
    /// [`Error::LabelOutOfRange`] for a label outside `0..K`; [`Error::InvalidProbabilities`] for
    /// a non-finite logit; [`Error::TensorConversion`] if the backend's data cannot be read back.
    /// On error nothing is added.
    ///
    /// ```
    /// use advcal::metrics::{CalibrationAccumulator, CalibrationSamples};
    /// use burn::backend::NdArray;
    /// use burn::prelude::*;
    ///
    /// let d = Default::default();
    /// let logits = Tensor::<NdArray, 2>::from_floats([[2.0, 0.0], [0.0, 1.0]], &d);
    /// let labels = Tensor::<NdArray, 1, Int>::from_ints([0, 0], &d);
    /// let mut samples = CalibrationSamples::new();
    /// samples.add_batch(logits.clone(), labels.clone()).unwrap();
    /// let mut acc = CalibrationAccumulator::new(2, 15).unwrap();
    /// acc.add_batch(logits, labels).unwrap();
    /// let (point, report) = (samples.estimate(15).unwrap(), acc.report().unwrap());
    /// assert_eq!(point.accuracy, report.accuracy);
    /// assert_eq!((point.ece, point.mcs), (report.ece, report.mcs));
    /// ```
    pub fn add_batch<B: Backend>(
        &mut self,
        logits: Tensor<B, 2>,
        labels: Tensor<B, 1, Int>,
    ) -> Result<()> {
        let [_, k] = logits.dims();
        let (z, y) = batch_to_host(logits, labels)?;
        self.extend_from_logits(&z, k, &y)
    }

    /// Point estimates on all samples with `bins` equal-width bins: the same values, computed by
    /// the same code, as the corresponding fields of
    /// [`CalibrationReport`](super::CalibrationReport) on the same logits.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidBins`] on `bins == 0`, [`Error::NoSamples`] without samples (as
    /// [`CalibrationAccumulator::report`](super::CalibrationAccumulator::report)).
    ///
    /// ```
    /// let mut s = advcal::metrics::CalibrationSamples::new();
    /// s.push(0.9, true, 0.9).unwrap();
    /// s.push(0.9, false, 0.05).unwrap();
    /// let e = s.estimate(15).unwrap();
    /// assert_eq!(e.n, 2);
    /// assert!((e.ece - 0.4).abs() < 1e-12 && (e.mcs - 0.4).abs() < 1e-12);
    /// ```
    pub fn estimate(&self, bins: usize) -> Result<CalibrationEstimate> {
        if bins == 0 {
            return Err(Error::InvalidBins);
        }
        if self.is_empty() {
            return Err(Error::NoSamples);
        }
        let bin_of = self.bin_indices(bins);
        let mut sums = vec![BinSums::default(); bins];
        let s = self.statistics(&bin_of, 0..self.len(), &mut sums);
        Ok(CalibrationEstimate {
            n: self.len(),
            accuracy: s[ACC],
            confidence: s[CONF],
            ece: s[ECE],
            mcs: s[MCS],
            gt_confidence: s[GT],
            correct_confidence: (!s[CC].is_nan()).then_some(s[CC]),
            nll: (!s[NLL].is_nan()).then_some(s[NLL]),
            brier: (!s[BRIER].is_nan()).then_some(s[BRIER]),
        })
    }

    /// Nonparametric percentile-bootstrap confidence intervals (Efron & Tibshirani 1993, ch. 13)
    /// for ACC, CONF, ECE, MCS, GT-CONF and CONF | correct, and for NLL and the Brier score when
    /// every sample carries them (added from logits).
    ///
    /// * Resample `r` (`0 ≤ r < resamples`) draws `N` indices uniformly with replacement from a
    ///   ChaCha8 generator seeded with [`derive_seed`]`(config.seed, r)`, so the output is a pure
    ///   function of the samples (in insertion order) and the config, and resamples could run in
    ///   parallel without changing it.
    /// * Each resample's metrics are computed exactly as [`CalibrationSamples::estimate`] does
    ///   (same bins `(m/M, (m+1)/M]`, MCS as the binned `Σ (|B_m|/N)(conf_m − acc_m)`).
    /// * Bounds are the `(1 − level)/2` and `(1 + level)/2` quantiles of the `resamples` values
    ///   (for CONF | correct, of the resamples that hold a correct sample),
    ///   taken on the sorted values `x_0 ≤ … ≤ x_{R−1}` by linear interpolation: with
    ///   `h = (R − 1)·q` and `j = ⌊h⌋`, `Q(q) = x_j + (h − j)(x_{j+1} − x_j)` (Hyndman & Fan
    ///   1996, definition 7; the default of NumPy and R).
    ///
    /// Cost: `O(resamples · N)` time with an allocation-free inner loop, `O(N + resamples)`
    /// memory. At least 1000 resamples are advisable for 95 % percentile intervals.
    ///
    /// ECE is not a mean over images and is biased upwards on resamples (the `|·|` of each bin's
    /// gap only grows with noise), so for a nearly calibrated model its interval can lie entirely
    /// above the full-sample ECE; the intervals of ACC, CONF, GT-CONF and MCS (all means, since
    /// MCS = CONF − ACC) do not have this problem.
    ///
    /// # Errors
    ///
    /// [`BootstrapConfig::validate`]'s errors ([`Error::InvalidParameter`],
    /// [`Error::InvalidBins`]), and [`Error::NoSamples`] without samples.
    ///
    /// ```
    /// use advcal::metrics::{BootstrapConfig, CalibrationSamples};
    ///
    /// let mut samples = CalibrationSamples::new();
    /// for i in 0..500 {
    ///     let confidence = 0.5 + 0.5 * (i % 50) as f64 / 50.0;
    ///     samples.push(confidence, i % 4 != 0, confidence).unwrap();
    /// }
    /// let config = BootstrapConfig::new().with_resamples(300).with_seed(1);
    /// let ci = samples.bootstrap(&config).unwrap();
    /// assert_eq!(ci, samples.bootstrap(&config).unwrap()); // deterministic
    /// assert!(ci.accuracy[0] < 0.75 && 0.75 < ci.accuracy[1]);
    /// assert_eq!((ci.level, ci.resamples), (0.95, 300));
    /// ```
    pub fn bootstrap(&self, config: &BootstrapConfig) -> Result<ConfidenceIntervals> {
        config.validate()?;
        if self.is_empty() {
            return Err(Error::NoSamples);
        }
        let n = self.len();
        let resamples = config.resamples;
        let bin_of = self.bin_indices(config.bins);
        let mut sums = vec![BinSums::default(); config.bins];
        let mut values: [Vec<f64>; METRICS] =
            std::array::from_fn(|_| Vec::with_capacity(resamples));
        for r in 0..resamples {
            let mut rng = seeded_rng(derive_seed(config.seed, r as u64));
            let draws = (0..n).map(|_| rng.random_range(0..n));
            let s = self.statistics(&bin_of, draws, &mut sums);
            for (v, x) in values.iter_mut().zip(s) {
                v.push(x);
            }
        }
        let (lo, hi) = ((1.0 - config.level) / 2.0, (1.0 + config.level) / 2.0);
        let [acc, conf, ece, mcs, gt, mut cc, nll, brier] = values;
        let scored = self.scored();
        // Only CONF | correct can be undefined (NaN: a resample without a correct sample); those
        // resamples are left out of its quantiles.
        cc.retain(|x| !x.is_nan());
        let bounds = |mut v: Vec<f64>| {
            v.sort_unstable_by(f64::total_cmp);
            [quantile(&v, lo), quantile(&v, hi)]
        };
        Ok(ConfidenceIntervals {
            correct_confidence: (!cc.is_empty()).then(|| bounds(cc)),
            accuracy: bounds(acc),
            confidence: bounds(conf),
            ece: bounds(ece),
            mcs: bounds(mcs),
            gt_confidence: bounds(gt),
            nll: scored.then(|| bounds(nll)),
            brier: scored.then(|| bounds(brier)),
            level: config.level,
            resamples,
        })
    }

    /// Bin of each sample's confidence (the accumulator's `bin_index`), computed once per call.
    fn bin_indices(&self, bins: usize) -> Vec<usize> {
        self.confidence
            .iter()
            .map(|&c| bin_index(c, bins))
            .collect()
    }

    /// The metrics of the multiset of samples `indices` (indexed by `ACC`, `CONF`, ...), with
    /// `sums` (one entry per bin) as scratch. Sums run in the order of `indices`, with the same
    /// operations as [`CalibrationAccumulator`](super::CalibrationAccumulator), so
    /// `indices = 0..N` reproduces its report bit for bit. `indices` must not be empty.
    fn statistics(
        &self,
        bin_of: &[usize],
        indices: impl Iterator<Item = usize>,
        sums: &mut [BinSums],
    ) -> [f64; METRICS] {
        sums.fill(BinSums::default());
        let (mut n, mut correct, mut confidence, mut gt_confidence) = (0usize, 0usize, 0.0, 0.0);
        let (mut correct_confidence, mut nll, mut brier) = (0.0, 0.0, 0.0);
        for i in indices {
            let (c, ok) = (self.confidence[i], self.correct[i]);
            sums[bin_of[i]].add(c, ok);
            n += 1;
            correct += usize::from(ok);
            confidence += c;
            if ok {
                correct_confidence += c;
            }
            gt_confidence += self.gt_confidence[i];
            nll += self.nll[i];
            brier += self.brier[i];
        }
        let gaps = BinGaps::from_sums(sums, n);
        let nf = n as f64;
        let mut s = [0.0; METRICS];
        s[ACC] = correct as f64 / nf;
        s[CONF] = confidence / nf;
        s[ECE] = gaps.ece;
        s[MCS] = gaps.mcs();
        s[GT] = gt_confidence / nf;
        // NaN marks "no correct sample" (`None` in the report; left out of the quantiles).
        s[CC] = if correct > 0 {
            correct_confidence / correct as f64
        } else {
            f64::NAN
        };
        // NaN (no estimate) when some sample was added without them.
        s[NLL] = nll / nf;
        s[BRIER] = brier / nf;
        s
    }
}

/// Positions of the metrics in the arrays returned by `CalibrationSamples::statistics`.
const ACC: usize = 0;
const CONF: usize = 1;
const ECE: usize = 2;
const MCS: usize = 3;
const GT: usize = 4;
const CC: usize = 5;
const NLL: usize = 6;
const BRIER: usize = 7;
const METRICS: usize = 8;

/// Linear-interpolation quantile (Hyndman & Fan definition 7) of sorted, non-empty `sorted` at
/// `q ∈ [0, 1]`.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let last = sorted.len() - 1;
    let h = last as f64 * q;
    let lo = (h.floor() as usize).min(last);
    let hi = (lo + 1).min(last);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Point estimates of the resamplable calibration metrics (see
/// [`CalibrationSamples::estimate`]); each equals the field of the same name of
/// [`CalibrationReport`](super::CalibrationReport).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalibrationEstimate {
    /// Number of samples N.
    pub n: usize,
    /// ACC: fraction of correct predictions.
    pub accuracy: f64,
    /// CONF: mean maximum softmax probability.
    pub confidence: f64,
    /// Expected calibration error `Σ (|B_m|/N)|acc_m − conf_m|`.
    pub ece: f64,
    /// Signed miscalibration score `Σ (|B_m|/N)(conf_m − acc_m)` (= CONF − ACC); > 0
    /// overconfident.
    pub mcs: f64,
    /// GT-CONF: mean probability of the true class.
    pub gt_confidence: f64,
    /// CONF over the correctly classified samples; `None` when none is correct.
    pub correct_confidence: Option<f64>,
    /// Mean NLL `−ln p_y`; `None` when some sample was added without it
    /// ([`CalibrationSamples::push`]).
    pub nll: Option<f64>,
    /// Mean Brier score `Σ_k (p_k − 1[k = y])²` (`None` as for `nll`).
    pub brier: Option<f64>,
}

/// Bootstrap confidence intervals `[lower, upper]` of the calibration metrics (see
/// [`CalibrationSamples::bootstrap`]).
///
/// Serialises as `{"accuracy": [lo, hi], "confidence": [lo, hi], "ece": [lo, hi],
/// "mcs": [lo, hi], "gt_confidence": [lo, hi], "correct_confidence": [lo, hi], "nll": [lo, hi],
/// "brier": [lo, hi], "level": 0.95, "resamples": 1000}` (`correct_confidence` left out when no
/// sample is correct, `nll` and `brier` when some sample carries neither).
///
/// ```
/// use advcal::metrics::{BootstrapConfig, CalibrationSamples};
///
/// let mut samples = CalibrationSamples::new();
/// samples.push(0.8, true, 0.8).unwrap();
/// samples.push(0.6, false, 0.1).unwrap();
/// let ci = samples.bootstrap(&BootstrapConfig::new()).unwrap();
/// let json = serde_json::to_value(ci).unwrap();
/// assert_eq!(json["accuracy"], serde_json::json!(ci.accuracy));
/// assert_eq!(json["resamples"], 1000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ConfidenceIntervals {
    /// Interval of ACC.
    pub accuracy: [f64; 2],
    /// Interval of CONF.
    pub confidence: [f64; 2],
    /// Interval of the ECE.
    pub ece: [f64; 2],
    /// Interval of the MCS.
    pub mcs: [f64; 2],
    /// Interval of GT-CONF (mean true-class probability).
    pub gt_confidence: [f64; 2],
    /// Interval of CONF | correct (CONF over the correctly classified samples), from the
    /// resamples that hold a correct sample; `None` when none does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correct_confidence: Option<[f64; 2]>,
    /// Interval of the mean NLL; `None` when some sample carries no NLL
    /// ([`CalibrationSamples::push`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nll: Option<[f64; 2]>,
    /// Interval of the mean Brier score (`None` as for `nll`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brier: Option<[f64; 2]>,
    /// Nominal coverage, e.g. 0.95.
    pub level: f64,
    /// Number of bootstrap resamples the intervals come from.
    pub resamples: usize,
}

/// Settings of [`CalibrationSamples::bootstrap`]: 1000 resamples, 95 % intervals, seed 0,
/// [`DEFAULT_BINS`] bins.
///
/// ```
/// use advcal::metrics::BootstrapConfig;
/// use advcal::Error;
///
/// let config = BootstrapConfig::new().with_resamples(2000).with_seed(7);
/// assert_eq!((config.resamples, config.seed, config.bins), (2000, 7, 15));
/// assert!(config.validate().is_ok());
/// assert!(matches!(
///     BootstrapConfig::new().with_level(1.0).validate(),
///     Err(Error::InvalidParameter { name: "level", .. })
/// ));
/// ```
#[derive(Config, Debug)]
pub struct BootstrapConfig {
    /// Number of bootstrap resamples R (≥ 2).
    #[config(default = 1000)]
    pub resamples: usize,
    /// Nominal coverage of the intervals, strictly between 0 and 1.
    #[config(default = 0.95)]
    pub level: f64,
    /// Seed of the resampling.
    #[config(default = 0)]
    pub seed: u64,
    /// Number of equal-width confidence bins of the ECE and MCS (≥ 1).
    #[config(default = "DEFAULT_BINS")]
    pub bins: usize,
}

impl BootstrapConfig {
    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] for `resamples < 2` or a `level` outside `(0, 1)` (NaN
    /// included), [`Error::InvalidBins`] for `bins == 0`.
    pub fn validate(&self) -> Result<()> {
        if self.resamples < 2 {
            return Err(Error::param(
                "resamples",
                format!("must be at least 2, got {}", self.resamples),
            ));
        }
        if self.level.is_nan() || self.level <= 0.0 || self.level >= 1.0 {
            return Err(Error::param(
                "level",
                format!("must lie strictly between 0 and 1, got {}", self.level),
            ));
        }
        if self.bins == 0 {
            return Err(Error::InvalidBins);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::quantile;

    #[test]
    fn quantile_interpolates_linearly() {
        let x = [1.0, 2.0, 4.0, 8.0];
        assert_eq!(quantile(&x, 0.0), 1.0);
        assert_eq!(quantile(&x, 1.0), 8.0);
        assert_eq!(quantile(&x, 0.5), 3.0); // h = 1.5
        assert_eq!(quantile(&x, 0.25), 1.75); // h = 0.75
        assert_eq!(quantile(&[5.0], 0.3), 5.0);
    }
}
