//! A calibration-robustness report: how far an adversary inside an L∞ ball can push a model's
//! calibration, in both directions, with bootstrap intervals, as JSON, Markdown and SVG
//! reliability diagrams.
//!
//! [`robustness_report`] streams once over a data set and, for every batch, evaluates the clean
//! images and every attack of [`RobustnessConfig::attacks`] at every radius of
//! [`RobustnessConfig::epsilons`]:
//!
//! | row | attack | what it exposes |
//! |---|---|---|
//! | `clean` | none | the model's calibration on the data |
//! | `pgd` | [`Pgd`](crate::attack::Pgd): ascend the cross-entropy of the true label | **overconfidence**: wrong predictions made with high confidence (MCS > 0) |
//! | `iaa` | [`Iaa`](crate::attack::Iaa), the inverse adversarial attack: keep the label, minimise the confidence | **underconfidence**: right predictions made with low confidence (MCS < 0) |
//! | `iaa-alg1` | [`Iaa`](crate::attack::Iaa) with [`IaaConfig::alg1`](crate::attack::IaaConfig::alg1): the paper's printed Algorithm 1 (last iterate) | underconfidence mixed with misclassification (the last iterate may flip the label) |
//! | `uca` | [`Uca`](crate::attack::Uca): ascend the cross-entropy of the clean prediction, reject every step that would change it | **underconfidence**; UCA never changes a prediction by construction, so its accuracy equals the clean accuracy |
//! | `apgd-ce`, `apgd-dlr` | [`Apgd`](crate::attack::Apgd) (Croce & Hein 2020) on CE or DLR | **overconfidence** and robustness, stronger than PGD |
//! | `square` | [`Square`](crate::attack::Square): black-box random search | robustness without gradients (gradient masking shows as Square fooling images the white-box attacks missed) |
//! | `noise` | [`UniformNoise`](crate::attack::UniformNoise) | a baseline |
//! | `robust` | per image, a misclassified input if any of PGD, APGD, Square, noise found one (AutoAttack's protocol: robust only if every attack fails) | robust accuracy, and the calibration on those inputs |
//! | `worst` | the per-image worst case of all of the above at that ε (see below) | the calibration error an adversary can force |
//!
//! Rows are made for the attacks of [`RobustnessConfig::attacks`] (by default PGD, IAA and UCA;
//! [`ReportAttack::ALL`] lists all), `robust` when one of them is a misclassification attack.
//! [`RobustnessReport::warnings`] lists the AutoAttack-style sanity checks that failed: a
//! randomised model, images with an all-zero input gradient, Square lowering the robust accuracy
//! of the white-box attacks (PGD, APGD) by more than 0.002 (images none of them fooled).
//!
//! The inverse adversarial attack and the over/under-confidence view come from Cheng et al.,
//! *Towards Calibration Enhanced Network by Inverse Adversarial Attack*,
//! [arXiv:2504.06358](https://arxiv.org/abs/2504.06358) (2025). UCA is the underconfidence
//! calibration attack of Obadinma et al.
//!
//! # The `worst` row
//!
//! An adversary who wants the model to be miscalibrated does not have to commit to one attack:
//! for each image it can submit whichever of the candidate inputs (the clean image, the PGD,
//! IAA and UCA images at radius ε — all inside the same L∞ ball) makes the model's confidence
//! most wrong. For image `i` with confidence `c` (the maximum softmax probability) and
//! correctness `a ∈ {0, 1}` (1 when the prediction is the label), the per-image calibration gap
//! is `|c − a|`: `c` for a wrong prediction, `1 − c` for a right one. The `worst` row at ε takes,
//! image by image, the candidate with the largest gap (ties go to the clean image, then to the
//! attacks in the configured order) and reports the calibration metrics of those images.
//!
//! The row's mean per-image gap `mean_i |c_i − a_i|` is therefore at least that of every other
//! row at the same ε, and it bounds their ECE from above (`ECE ≤ mean_i |c_i − a_i|` by the
//! triangle inequality within each bin). Its *binned* ECE is usually the largest of the column,
//! but not always: binning lets over- and under-confident images of one bin cancel, and the
//! worst case mixes both. [`ReportRow::sources`] says how many images each candidate supplied.
//! This row goes beyond the paper, which reports each attack separately; no other library
//! reports it as far as we know.
//!
//! # Cost and reproducibility
//!
//! Each image costs one clean forward pass, one forward/backward pass for the sanity checks,
//! plus, per ε and attack, `steps` (PGD, `iaa-alg1`), `steps + 1` (UCA, APGD), `iaa_steps + 1`
//! (IAA) forward/backward passes or `queries` forward passes (Square, fewer once an image is
//! fooled). Batch `i` of every attack uses the seed
//! [`derive_seed`]`(attack seed, i)` — the attack seed is [`RobustnessConfig::seed`] for every
//! attack that draws (UCA draws nothing) — exactly as [`evaluate_under`](crate::eval::evaluate_under) does,
//! so every attack row equals `evaluate_under` with [`RobustnessConfig::attack_config`], its
//! budget and the same batch size, and the clean row equals [`evaluate`](crate::eval::evaluate) on
//! `model.valid()`. The model is never modified.
//!
//! ```
//! use advcal::data::ImageDataset;
//! use advcal::metrics::BootstrapConfig;
//! use advcal::model::SmallCnnConfig;
//! use advcal::report::{robustness_report, RobustnessConfig};
//! use burn::backend::{Autodiff, NdArray};
//!
//! let device = Default::default();
//! let model = SmallCnnConfig::new().with_width(2).init::<Autodiff<NdArray>>(&device);
//! let pixels = (0..4 * 3 * 8 * 8).map(|i| (i * 7 % 256) as u8).collect();
//! let data = ImageDataset::new(pixels, vec![0, 1, 2, 3], [3, 8, 8], 10).unwrap();
//! let config = RobustnessConfig::new()
//!     .with_epsilons(vec![0.03])
//!     .with_steps(1)
//!     .with_progress(false)
//!     .with_bootstrap(BootstrapConfig::new().with_resamples(20));
//! let report = robustness_report(&model, &data, &config, &device).unwrap();
//! // pgd, iaa, uca, robust and worst at ε = 0.03
//! assert_eq!(report.rows.len(), 5);
//! println!("{}", report.to_markdown());
//! let dir = tempfile::tempdir().unwrap();
//! report.write(dir.path()).unwrap(); // report.json, report.md, reliability-eps0.03.svg
//! ```

use crate::attack::{
    ApgdConfig, ApgdLoss, Attack, AttackConfig, IaaConfig, PgdConfig, SquareConfig, UcaConfig,
    UniformNoiseConfig,
};
use crate::data::ImageDataset;
use crate::error::{Error, Result, check_epsilon, check_steps};
use crate::io::{write_atomic, write_json_atomic};
use crate::metrics::{
    BootstrapConfig, CalibrationAccumulator, CalibrationReport, CalibrationSamples,
    ConfidenceIntervals, DEFAULT_BINS,
};
use crate::model::{Classifier, Mode};
use crate::rng::derive_seed;
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

mod checks;
mod compute;
mod render;

pub use compute::robustness_report;

/// An attack of the report. Serialises as its name (`"pgd"`, `"apgd-ce"`, `"apgd-dlr"`,
/// `"square"`, `"iaa"`, `"iaa-alg1"`, `"uca"`, `"noise"`).
///
/// ```
/// use advcal::report::ReportAttack;
/// assert_eq!(ReportAttack::parse("iaa").unwrap(), ReportAttack::Iaa);
/// assert_eq!(ReportAttack::ApgdDlr.name(), "apgd-dlr");
/// assert_eq!(serde_json::to_string(&ReportAttack::IaaAlg1).unwrap(), "\"iaa-alg1\"");
/// assert!(ReportAttack::parse("fgsm").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReportAttack {
    /// PGD (Madry et al.): an **overconfidence** attack (ascends the cross-entropy of the true
    /// label; misclassified images tend to be predicted with high confidence).
    Pgd,
    /// APGD-CE (Croce & Hein 2020): PGD with an adaptive step and momentum; overconfidence.
    ApgdCe,
    /// APGD-DLR (Croce & Hein 2020): APGD on the scale-invariant DLR loss; overconfidence.
    ApgdDlr,
    /// Square (Andriushchenko et al. 2020): a black-box (score-based) misclassification attack;
    /// with the white-box ones it exposes gradient masking.
    Square,
    /// The inverse adversarial attack (arXiv:2504.06358) as Eq. 2 defines it: an
    /// **underconfidence** attack (keeps the true label while pushing the confidence down).
    Iaa,
    /// The inverse adversarial attack as the paper's printed Algorithm 1 (the last iterate, which
    /// may be misclassified).
    IaaAlg1,
    /// The underconfidence calibration attack (Obadinma et al.): an **underconfidence** attack
    /// that never changes a prediction, so its accuracy is the clean accuracy.
    Uca,
    /// Uniform noise in the ε-ball (a baseline, not an attack).
    Noise,
}

impl ReportAttack {
    /// Every attack, in the report's order.
    pub const ALL: [ReportAttack; 8] = [
        Self::Pgd,
        Self::ApgdCe,
        Self::ApgdDlr,
        Self::Square,
        Self::Iaa,
        Self::IaaAlg1,
        Self::Uca,
        Self::Noise,
    ];

    /// The attacks of [`RobustnessConfig::new`]: PGD, IAA (Eq. 2) and UCA.
    pub const DEFAULT: [ReportAttack; 3] = [Self::Pgd, Self::Iaa, Self::Uca];

    /// The row name: `"pgd"`, `"apgd-ce"`, `"apgd-dlr"`, `"square"`, `"iaa"`, `"iaa-alg1"`,
    /// `"uca"` or `"noise"` (the name of the attack's [`AttackConfig`]).
    ///
    /// ```
    /// use advcal::report::ReportAttack;
    /// let names: Vec<_> = ReportAttack::DEFAULT.iter().map(|a| a.name()).collect();
    /// assert_eq!(names, ["pgd", "iaa", "uca"]);
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            Self::Pgd => "pgd",
            Self::ApgdCe => "apgd-ce",
            Self::ApgdDlr => "apgd-dlr",
            Self::Square => "square",
            Self::Iaa => "iaa",
            Self::IaaAlg1 => "iaa-alg1",
            Self::Uca => "uca",
            Self::Noise => "noise",
        }
    }

    /// Whether the attack tries to change the prediction (PGD, APGD, Square, noise): those
    /// make the `robust` row.
    pub fn misclassifies(&self) -> bool {
        matches!(
            self,
            Self::Pgd | Self::ApgdCe | Self::ApgdDlr | Self::Square | Self::Noise
        )
    }

    /// Parses a name (see [`ReportAttack::name`]).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for any other name.
    ///
    /// ```
    /// use advcal::report::ReportAttack;
    /// assert_eq!(ReportAttack::parse("apgd-ce").unwrap(), ReportAttack::ApgdCe);
    /// assert!(ReportAttack::parse("PGD").is_err());
    /// ```
    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.name() == name)
            .ok_or_else(|| {
                Error::param(
                    "attack",
                    format!(
                        "unknown attack `{name}` (pgd, apgd-ce, apgd-dlr, square, iaa, iaa-alg1, \
                         uca, noise)"
                    ),
                )
            })
    }
}

/// Settings of [`robustness_report`].
///
/// Defaults: ε ∈ {0.01, 0.02, 0.03, 0.05, 0.08} on the `[0, 1]` pixel scale (0.03 ≈ 8/255, the
/// usual CIFAR-10 radius; the grid is denser at small radii, where calibration changes
/// fastest — the paper's figures sweep ε from 0.02 to 0.10, set
/// `with_epsilons(vec![0.02, 0.04, 0.06, 0.08, 0.10])` for that grid), 10 attack steps (20 for
/// the Eq. 2 IAA, 5000 Square queries), batches of 128, [`DEFAULT_BINS`] (15) bins, IAA's
/// λ = 5, the attacks of [`ReportAttack::DEFAULT`] (PGD, IAA, UCA), 1000 bootstrap
/// resamples with seed 0, attack seed 0, a progress bar, every image.
///
/// ```
/// use advcal::report::{ReportAttack, RobustnessConfig};
///
/// let config = RobustnessConfig::new().with_epsilons(vec![0.03]).with_limit(Some(500));
/// assert_eq!(config.attacks, ReportAttack::DEFAULT.to_vec());
/// assert_eq!((config.steps, config.bins, config.bootstrap.resamples), (10, 15, 1000));
/// assert!(config.validate().is_ok());
/// assert!(config.clone().with_epsilons(vec![]).validate().is_err());
/// ```
#[derive(Config, Debug)]
pub struct RobustnessConfig {
    /// Attack radii ε (L∞, `[0, 1]` pixel scale); distinct, each in `[0, 1]`.
    #[config(default = "vec![0.01, 0.02, 0.03, 0.05, 0.08]")]
    pub epsilons: Vec<f32>,
    /// Steps T of PGD (α = ε/4), APGD (its own step schedule), Algorithm 1's IAA (`iaa-alg1`,
    /// α = ε/T with a growing radius) and UCA (α = ε/4).
    #[config(default = 10)]
    pub steps: usize,
    /// Steps T of the Eq. 2 IAA (`iaa`; α = ε/T, growing radius, best feasible iterate): its
    /// own default, [`IaaConfig`]'s.
    #[config(default = 20)]
    pub iaa_steps: usize,
    /// Queries of the Square attack per image (AutoAttack's standard version: 5000).
    #[config(default = 5000)]
    pub queries: usize,
    /// Images per batch (the attacks' seeds depend on the batch index, so results depend on it).
    #[config(default = 128)]
    pub batch_size: usize,
    /// Equal-width confidence bins of the ECE, MCS and reliability diagrams; overrides
    /// `bootstrap.bins`, so point estimates and intervals use the same bins.
    #[config(default = "DEFAULT_BINS")]
    pub bins: usize,
    /// λ of IAA's loss `CE(y) + λ·CE(uniform)`.
    #[config(default = 5.0)]
    pub lambda: f32,
    /// The attacks, in row order; distinct and not empty.
    #[config(default = "ReportAttack::DEFAULT.to_vec()")]
    pub attacks: Vec<ReportAttack>,
    /// Percentile-bootstrap settings of the intervals (its `bins` is replaced by
    /// [`bins`](RobustnessConfig::bins)).
    #[config(default = "BootstrapConfig::new()")]
    pub bootstrap: BootstrapConfig,
    /// Seed of the attacks' randomness (PGD, APGD, Square, IAA, noise); batch `i` uses
    /// `derive_seed(seed, i)`.
    #[config(default = 0)]
    pub seed: u64,
    /// Show a progress bar while attacking; it draws only when stderr is a terminal.
    #[config(default = true)]
    pub progress: bool,
    /// Use only the first `limit` images of the data set (`None` = all).
    #[config(default = "None")]
    pub limit: Option<usize>,
}

impl RobustnessConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for no ε, a repeated ε, no attack, a repeated attack or a
    /// zero batch size or limit; [`Error::InvalidEpsilon`], [`Error::InvalidSteps`],
    /// [`Error::InvalidLambda`], [`Error::InvalidBins`]; the errors of
    /// [`BootstrapConfig::validate`].
    ///
    /// ```
    /// use advcal::report::RobustnessConfig;
    /// use advcal::Error;
    /// assert!(RobustnessConfig::new().validate().is_ok());
    /// assert!(matches!(
    ///     RobustnessConfig::new().with_epsilons(vec![0.03, 1.5]).validate(),
    ///     Err(Error::InvalidEpsilon(_))
    /// ));
    /// ```
    pub fn validate(&self) -> Result<()> {
        if self.epsilons.is_empty() {
            return Err(Error::param("epsilons", "at least one radius is needed"));
        }
        for (i, &eps) in self.epsilons.iter().enumerate() {
            check_epsilon(eps)?;
            if self.epsilons[..i].contains(&eps) {
                return Err(Error::param("epsilons", format!("ε = {eps} appears twice")));
            }
        }
        if self.attacks.is_empty() {
            return Err(Error::param("attacks", "at least one attack is needed"));
        }
        for (i, a) in self.attacks.iter().enumerate() {
            if self.attacks[..i].contains(a) {
                return Err(Error::param(
                    "attacks",
                    format!("`{}` appears twice", a.name()),
                ));
            }
        }
        check_steps(self.steps)?;
        check_steps(self.iaa_steps)?;
        if self.queries == 0 {
            return Err(Error::param("queries", "must be at least 1"));
        }
        if self.batch_size == 0 {
            return Err(Error::param("batch_size", "must be at least 1"));
        }
        if self.bins == 0 {
            return Err(Error::InvalidBins);
        }
        if !(self.lambda.is_finite() && self.lambda >= 0.0) {
            return Err(Error::InvalidLambda(f64::from(self.lambda)));
        }
        if self.limit == Some(0) {
            return Err(Error::param(
                "limit",
                "must be at least 1 (or None for all)",
            ));
        }
        self.bootstrap_config().validate()
    }

    /// The exact attack the report runs for `attack` at radius `epsilon`: `steps` steps
    /// (`iaa_steps` for the Eq. 2 IAA, `queries` for Square), seed
    /// [`seed`](RobustnessConfig::seed), IAA's λ, every other setting at its default. Pass it to [`evaluate_under`](crate::eval::evaluate_under) with the same
    /// batch size to reproduce a row.
    ///
    /// ```
    /// use advcal::report::{ReportAttack, RobustnessConfig};
    /// let attack = RobustnessConfig::new().with_steps(5).attack_config(ReportAttack::Iaa, 0.02);
    /// assert_eq!(attack.label(), "iaa@0.02");
    /// ```
    pub fn attack_config(&self, attack: ReportAttack, epsilon: f32) -> AttackConfig {
        match attack {
            ReportAttack::Pgd => AttackConfig::Pgd(
                PgdConfig::new()
                    .with_epsilon(epsilon)
                    .with_steps(self.steps)
                    .with_seed(self.seed),
            ),
            ReportAttack::ApgdCe | ReportAttack::ApgdDlr => AttackConfig::Apgd(
                ApgdConfig::new()
                    .with_epsilon(epsilon)
                    .with_steps(self.steps)
                    .with_loss(if attack == ReportAttack::ApgdCe {
                        ApgdLoss::Ce
                    } else {
                        ApgdLoss::Dlr
                    })
                    .with_seed(self.seed),
            ),
            ReportAttack::Square => AttackConfig::Square(
                SquareConfig::new()
                    .with_epsilon(epsilon)
                    .with_queries(self.queries)
                    .with_seed(self.seed),
            ),
            ReportAttack::Iaa => AttackConfig::Iaa(
                IaaConfig::new()
                    .with_epsilon(epsilon)
                    .with_steps(self.iaa_steps)
                    .with_lambda(self.lambda)
                    .with_seed(self.seed),
            ),
            ReportAttack::IaaAlg1 => AttackConfig::Iaa(
                IaaConfig::alg1()
                    .with_epsilon(epsilon)
                    .with_steps(self.steps)
                    .with_lambda(self.lambda)
                    .with_seed(self.seed),
            ),
            ReportAttack::Noise => AttackConfig::UniformNoise(
                UniformNoiseConfig::new()
                    .with_epsilon(epsilon)
                    .with_seed(self.seed),
            ),
            ReportAttack::Uca => AttackConfig::Uca(
                UcaConfig::new()
                    .with_epsilon(epsilon)
                    .with_steps(self.steps),
            ),
        }
    }

    fn bootstrap_config(&self) -> BootstrapConfig {
        self.bootstrap.clone().with_bins(self.bins)
    }
}

/// One line of a [`RobustnessReport`]: the calibration of the model on one kind of input.
///
/// Serialises with the headline metrics at the top level (`attack`, `epsilon`, `accuracy`,
/// `confidence`, `ece`, `mcs`, `n`, `max_linf`), the intervals under `ci95`, and the full
/// [`CalibrationReport`] (NLL, Brier, over/under split, reliability bins) under `report`.
///
/// ```
/// # use advcal::data::ImageDataset;
/// # use advcal::metrics::BootstrapConfig;
/// # use advcal::model::SmallCnnConfig;
/// # use advcal::report::{robustness_report, RobustnessConfig};
/// # use burn::backend::{Autodiff, NdArray};
/// # let device = Default::default();
/// # let model = SmallCnnConfig::new().with_width(2).init::<Autodiff<NdArray>>(&device);
/// # let pixels = (0..4 * 3 * 8 * 8).map(|i| (i * 7 % 256) as u8).collect();
/// # let data = ImageDataset::new(pixels, vec![0, 1, 2, 3], [3, 8, 8], 10).unwrap();
/// # let config = RobustnessConfig::new().with_epsilons(vec![0.03]).with_steps(1)
/// #     .with_progress(false).with_bootstrap(BootstrapConfig::new().with_resamples(20));
/// let report = robustness_report(&model, &data, &config, &device).unwrap();
/// let pgd = report.row("pgd", 0.03).unwrap();
/// assert_eq!((pgd.n, pgd.samples.len()), (4, 4));
/// assert!(pgd.max_linf <= 0.03 + 1e-6);
/// assert!((pgd.mcs - (pgd.confidence - pgd.accuracy)).abs() < 1e-9);
/// let json = serde_json::to_value(pgd).unwrap();
/// assert_eq!(json["accuracy"], serde_json::json!(pgd.accuracy));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportRow {
    /// `"clean"`, an attack's name ([`ReportAttack::name`]), `"robust"` or `"worst"`.
    pub attack: String,
    /// Radius ε (0 for the clean row).
    pub epsilon: f32,
    /// ACC: fraction of correct predictions.
    pub accuracy: f64,
    /// CONF: mean maximum softmax probability.
    pub confidence: f64,
    /// Expected calibration error.
    pub ece: f64,
    /// Signed miscalibration score CONF − ACC (binned); > 0 overconfident, < 0 underconfident.
    pub mcs: f64,
    /// Number of images.
    pub n: usize,
    /// Largest `‖x_adv − x‖∞` over the images of the row (≤ ε; 0 for the clean row).
    pub max_linf: f64,
    /// Percentile-bootstrap intervals of ACC, CONF, ECE, MCS and GT-CONF, at
    /// `bootstrap.level` (0.95 by default, recorded in `ci95.level`).
    pub ci95: ConfidenceIntervals,
    /// `worst` rows only: how many images each candidate (`"clean"` and the attack names)
    /// supplied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources: Option<BTreeMap<String, usize>>,
    /// The full calibration report, with the bins of the reliability diagram.
    pub report: CalibrationReport,
    /// Per-image confidence, correctness and true-class probability, in data-set order (for
    /// custom statistics, e.g. other bootstrap settings). Not serialised: empty after
    /// deserialisation.
    #[serde(skip)]
    pub samples: CalibrationSamples,
}

/// The result of [`robustness_report`]: the clean row, then per ε one row per attack followed
/// by the `worst` row (see the [module docs](crate::report)).
///
/// ```
/// # use advcal::data::ImageDataset;
/// # use advcal::metrics::BootstrapConfig;
/// # use advcal::model::SmallCnnConfig;
/// # use advcal::report::{robustness_report, RobustnessConfig};
/// # use burn::backend::{Autodiff, NdArray};
/// # let device = Default::default();
/// # let model = SmallCnnConfig::new().with_width(2).init::<Autodiff<NdArray>>(&device);
/// # let pixels = (0..4 * 3 * 8 * 8).map(|i| (i * 7 % 256) as u8).collect();
/// # let data = ImageDataset::new(pixels, vec![0, 1, 2, 3], [3, 8, 8], 10).unwrap();
/// # let config = RobustnessConfig::new().with_epsilons(vec![0.03]).with_steps(1)
/// #     .with_progress(false).with_bootstrap(BootstrapConfig::new().with_resamples(20));
/// let report = robustness_report(&model, &data, &config, &device).unwrap();
/// let names: Vec<&str> = report.rows.iter().map(|r| r.attack.as_str()).collect();
/// assert_eq!(names, ["pgd", "iaa", "uca", "robust", "worst"]);
/// assert_eq!((report.n, report.clean.attack.as_str()), (4, "clean"));
/// // UCA never changes a prediction.
/// assert_eq!(report.row("uca", 0.03).unwrap().accuracy, report.clean.accuracy);
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RobustnessReport {
    /// Number of images evaluated.
    pub n: usize,
    /// Number of classes of the model.
    pub num_classes: usize,
    /// Calibration on the clean images (ε = 0).
    pub clean: ReportRow,
    /// For each ε of the config in order: one row per attack (config order), then `worst`.
    pub rows: Vec<ReportRow>,
    /// The settings the report was made with.
    pub config: RobustnessConfig,
    /// AutoAttack-style sanity checks that failed (randomised model, zero input gradients,
    /// Square fooling images every white-box attack missed), in words; empty when all passed.
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl RobustnessReport {
    /// The row of `attack` (`"clean"`, an attack's name, `"robust"`, `"worst"`) at `epsilon`
    /// (within 1e-6; ignored for `"clean"`).
    ///
    /// ```
    /// # use advcal::data::ImageDataset;
    /// # use advcal::metrics::BootstrapConfig;
    /// # use advcal::model::SmallCnnConfig;
    /// # use advcal::report::{robustness_report, RobustnessConfig};
    /// # use burn::backend::{Autodiff, NdArray};
    /// # let device = Default::default();
    /// # let model = SmallCnnConfig::new().with_width(2).init::<Autodiff<NdArray>>(&device);
    /// # let pixels = (0..4 * 3 * 8 * 8).map(|i| (i * 7 % 256) as u8).collect();
    /// # let data = ImageDataset::new(pixels, vec![0, 1, 2, 3], [3, 8, 8], 10).unwrap();
    /// # let config = RobustnessConfig::new().with_epsilons(vec![0.03]).with_steps(1)
    /// #     .with_progress(false).with_bootstrap(BootstrapConfig::new().with_resamples(20));
    /// let report = robustness_report(&model, &data, &config, &device).unwrap();
    /// let worst = report.row("worst", 0.03).unwrap();
    /// assert_eq!(worst.sources.as_ref().unwrap().values().sum::<usize>(), 4);
    /// assert!(report.row("pgd", 0.05).is_none());
    /// ```
    pub fn row(&self, attack: &str, epsilon: f32) -> Option<&ReportRow> {
        if attack == "clean" {
            return Some(&self.clean);
        }
        self.rows
            .iter()
            .find(|r| r.attack == attack && (r.epsilon - epsilon).abs() <= 1e-6)
    }

    /// The report as pretty-printed JSON (what [`write`](RobustnessReport::write) stores in
    /// `report.json`).
    ///
    /// # Errors
    /// [`Error::Json`] if serialisation fails.
    ///
    /// ```
    /// # use advcal::data::ImageDataset;
    /// # use advcal::metrics::BootstrapConfig;
    /// # use advcal::model::SmallCnnConfig;
    /// # use advcal::report::{robustness_report, RobustnessConfig};
    /// # use burn::backend::{Autodiff, NdArray};
    /// # let device = Default::default();
    /// # let model = SmallCnnConfig::new().with_width(2).init::<Autodiff<NdArray>>(&device);
    /// # let pixels = (0..4 * 3 * 8 * 8).map(|i| (i * 7 % 256) as u8).collect();
    /// # let data = ImageDataset::new(pixels, vec![0, 1, 2, 3], [3, 8, 8], 10).unwrap();
    /// # let config = RobustnessConfig::new().with_epsilons(vec![0.03]).with_steps(1)
    /// #     .with_progress(false).with_bootstrap(BootstrapConfig::new().with_resamples(20));
    /// let report = robustness_report(&model, &data, &config, &device).unwrap();
    /// let json: serde_json::Value = serde_json::from_str(&report.to_json().unwrap()).unwrap();
    /// for key in ["accuracy", "confidence", "ece", "mcs", "n"] {
    ///     assert!(json["clean"].get(key).is_some(), "{key}");
    /// }
    /// ```
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// Writes `report.json`, `report.md` and one reliability diagram per ε
    /// (`reliability-eps<ε>.svg`, see [`reliability_file_name`]) into `dir`, creating it; each
    /// file is written atomically (temporary file + rename).
    ///
    /// # Errors
    /// [`Error::Io`] when a file cannot be written, [`Error::Json`] if serialisation fails.
    ///
    /// ```
    /// # use advcal::data::ImageDataset;
    /// # use advcal::metrics::BootstrapConfig;
    /// # use advcal::model::SmallCnnConfig;
    /// # use advcal::report::{robustness_report, RobustnessConfig};
    /// # use burn::backend::{Autodiff, NdArray};
    /// # let device = Default::default();
    /// # let model = SmallCnnConfig::new().with_width(2).init::<Autodiff<NdArray>>(&device);
    /// # let pixels = (0..4 * 3 * 8 * 8).map(|i| (i * 7 % 256) as u8).collect();
    /// # let data = ImageDataset::new(pixels, vec![0, 1, 2, 3], [3, 8, 8], 10).unwrap();
    /// # let config = RobustnessConfig::new().with_epsilons(vec![0.03]).with_steps(1)
    /// #     .with_progress(false).with_bootstrap(BootstrapConfig::new().with_resamples(20));
    /// let report = robustness_report(&model, &data, &config, &device).unwrap();
    /// let dir = tempfile::tempdir().unwrap();
    /// report.write(dir.path().join("out")).unwrap();
    /// for file in ["report.json", "report.md", "reliability-eps0.03.svg"] {
    ///     assert!(dir.path().join("out").join(file).is_file(), "{file}");
    /// }
    /// ```
    pub fn write(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        write_json_atomic(dir.join("report.json"), self)?;
        write_atomic(dir.join("report.md"), self.to_markdown().as_bytes())?;
        for &eps in &self.config.epsilons {
            write_atomic(
                dir.join(reliability_file_name(eps)),
                self.reliability_svg(eps).as_bytes(),
            )?;
        }
        Ok(())
    }
}

/// The file name of the reliability diagram at `epsilon` written by
/// [`RobustnessReport::write`]: `reliability-eps<ε>.svg`, ε as Rust prints an `f32`.
///
/// ```
/// assert_eq!(advcal::report::reliability_file_name(0.03), "reliability-eps0.03.svg");
/// ```
pub fn reliability_file_name(epsilon: f32) -> String {
    format!("reliability-eps{epsilon}.svg")
}
