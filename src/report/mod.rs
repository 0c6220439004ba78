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
use std::fmt::Write as _;
use std::path::Path;

mod checks;

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

impl ReportRow {
    fn from_cell(
        attack: impl Into<String>,
        epsilon: f32,
        cell: Cell,
        bootstrap: &BootstrapConfig,
        sources: Option<BTreeMap<String, usize>>,
    ) -> Result<Self> {
        let report = cell.acc.report()?;
        let ci95 = cell.samples.bootstrap(bootstrap)?;
        Ok(Self {
            attack: attack.into(),
            epsilon,
            accuracy: report.accuracy,
            confidence: report.confidence,
            ece: report.ece,
            mcs: report.mcs,
            n: report.n,
            max_linf: cell.max_linf,
            ci95,
            sources,
            report,
            samples: cell.samples,
        })
    }
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

/// Colours (Okabe–Ito, colour-blind safe, no yellow), dash patterns and markers of the
/// reliability diagram's series.
const SERIES: [(&str, &str, &str, &str); 3] = [
    ("clean", "#000000", "", "circle"),
    ("pgd", "#D55E00", "7 4", "square"),
    ("iaa", "#0072B2", "10 3 2 3", "triangle"),
];

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

    /// The report as a Markdown table: attack, ε, ACC, CONF, ECE and MCS each with its
    /// bootstrap interval in brackets, n and the largest L∞ perturbation; a legend follows.
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
    /// let md = report.to_markdown();
    /// assert!(md.starts_with("| attack | ε |"));
    /// assert!(md.contains("| worst | 0.03 |"));
    /// ```
    pub fn to_markdown(&self) -> String {
        let level = self.clean.ci95.level * 100.0;
        let mut s = String::new();
        s.push_str("| attack | ε | ACC | CONF | ECE | MCS | n | max L∞ |\n");
        s.push_str("|---|---:|---|---|---|---|---:|---:|\n");
        for r in std::iter::once(&self.clean).chain(&self.rows) {
            let ci = &r.ci95;
            let _ = writeln!(
                s,
                "| {} | {} | {:.4} [{:.4}, {:.4}] | {:.4} [{:.4}, {:.4}] | {:.4} [{:.4}, {:.4}] | {:+.4} [{:+.4}, {:+.4}] | {} | {:.4} |",
                r.attack,
                r.epsilon,
                r.accuracy,
                ci.accuracy[0],
                ci.accuracy[1],
                r.confidence,
                ci.confidence[0],
                ci.confidence[1],
                r.ece,
                ci.ece[0],
                ci.ece[1],
                r.mcs,
                ci.mcs[0],
                ci.mcs[1],
                r.n,
                r.max_linf,
            );
        }
        let _ = write!(
            s,
            "\nN = {} images, {} bins; brackets: {level:.0}% percentile-bootstrap intervals over \
             images ({} resamples, seed {}). MCS = CONF − ACC: > 0 overconfident, < 0 \
             underconfident. PGD probes overconfidence, IAA and UCA underconfidence (UCA never \
             changes a prediction). `robust`: per image, a misclassifying input if any \
             misclassification attack (PGD, APGD, Square, noise) found one (AutoAttack's robust \
             accuracy). `worst`: per image, the input (clean or any attack at that ε) whose \
             confidence is furthest from its correctness — the calibration an adversary can \
             force.\n",
            self.n, self.config.bins, self.clean.ci95.resamples, self.config.bootstrap.seed,
        );
        for w in &self.warnings {
            let _ = writeln!(s, "\n**Warning:** {w}.");
        }
        s
    }

    /// A reliability diagram at radius `epsilon` as a standalone SVG document: accuracy per
    /// confidence bin as step lines (with a marker at each bin's mean confidence) for the clean
    /// images and, where the report has them, PGD and IAA at `epsilon`, over the diagonal of
    /// perfect calibration. Series differ in colour (Okabe–Ito black, vermillion, blue), dash
    /// pattern and marker; the legend, with each series' ECE and MCS, sits right of the plot.
    /// A series the report lacks (an ε not in the config, an attack left out) is omitted.
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
    /// let svg = report.reliability_svg(0.03);
    /// assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    /// assert!(svg.contains("PGD") && svg.contains("IAA"));
    /// ```
    pub fn reliability_svg(&self, epsilon: f32) -> String {
        // Layout: a square data area with the legend to its right, outside it.
        const W: f64 = 680.0;
        const H: f64 = 440.0;
        const LEFT: f64 = 64.0;
        const TOP: f64 = 44.0;
        const SIZE: f64 = 340.0;
        const LEGEND_X: f64 = LEFT + SIZE + 28.0;
        let x = |v: f64| LEFT + v.clamp(0.0, 1.0) * SIZE;
        let y = |v: f64| TOP + (1.0 - v.clamp(0.0, 1.0)) * SIZE;
        let font = "font-family=\"Helvetica, Arial, sans-serif\"";

        let mut s = String::new();
        let _ = writeln!(
            s,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\">"
        );
        let _ = writeln!(
            s,
            "<title>Reliability diagram at epsilon = {epsilon} (N = {})</title>",
            self.n
        );
        let _ = writeln!(s, "<rect width=\"{W}\" height=\"{H}\" fill=\"#ffffff\"/>");
        let _ = writeln!(
            s,
            "<text x=\"{LEFT}\" y=\"24\" {font} font-size=\"15\" fill=\"#000000\">Reliability at ε = {epsilon} (N = {})</text>",
            self.n
        );
        // Grid, ticks and tick labels.
        for i in 0..=5 {
            let v = i as f64 / 5.0;
            let _ = writeln!(
                s,
                "<line x1=\"{:.1}\" y1=\"{TOP}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#e6e6e6\"/>",
                x(v),
                x(v),
                TOP + SIZE
            );
            let _ = writeln!(
                s,
                "<line x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#e6e6e6\"/>",
                y(v),
                LEFT + SIZE,
                y(v)
            );
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" {font} font-size=\"11\" text-anchor=\"middle\" fill=\"#333333\">{v:.1}</text>",
                x(v),
                TOP + SIZE + 16.0
            );
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" {font} font-size=\"11\" text-anchor=\"end\" fill=\"#333333\">{v:.1}</text>",
                LEFT - 6.0,
                y(v) + 4.0
            );
        }
        let _ = writeln!(
            s,
            "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{SIZE}\" height=\"{SIZE}\" fill=\"none\" stroke=\"#333333\"/>"
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" {font} font-size=\"12\" text-anchor=\"middle\" fill=\"#000000\">confidence (max softmax probability)</text>",
            LEFT + SIZE / 2.0,
            TOP + SIZE + 36.0
        );
        let _ = writeln!(
            s,
            "<text transform=\"translate({:.1} {:.1}) rotate(-90)\" {font} font-size=\"12\" text-anchor=\"middle\" fill=\"#000000\">accuracy</text>",
            LEFT - 40.0,
            TOP + SIZE / 2.0
        );
        // Perfect calibration.
        let _ = writeln!(
            s,
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#999999\" stroke-width=\"1.5\" stroke-dasharray=\"3 3\"/>",
            x(0.0),
            y(0.0),
            x(1.0),
            y(1.0)
        );

        let mut legend: Vec<(String, &str, &str, &str)> = Vec::new();
        for (name, colour, dash, marker) in SERIES {
            let Some(row) = self.row(name, epsilon) else {
                continue;
            };
            let dash_attr = if dash.is_empty() {
                String::new()
            } else {
                format!(" stroke-dasharray=\"{dash}\"")
            };
            // Step line: a horizontal segment over each non-empty bin, joined vertically to the
            // next bin when it is non-empty too.
            let mut path = String::new();
            let mut open = false;
            for bin in &row.report.bins {
                match bin.accuracy {
                    Some(acc) => {
                        if open {
                            let _ = write!(path, " V{:.2}", y(acc));
                        } else {
                            let _ = write!(path, " M{:.2} {:.2}", x(bin.lower), y(acc));
                        }
                        let _ = write!(path, " H{:.2}", x(bin.upper));
                        open = true;
                    }
                    None => open = false,
                }
            }
            if !path.is_empty() {
                let _ = writeln!(
                    s,
                    "<path d=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"{dash_attr}/>",
                    path.trim_start()
                );
            }
            for bin in &row.report.bins {
                if let (Some(acc), Some(conf)) = (bin.accuracy, bin.confidence) {
                    s.push_str(&marker_svg(marker, x(conf), y(acc), colour));
                }
            }
            let label = match name {
                "clean" => "clean".to_string(),
                other => other.to_uppercase(),
            };
            legend.push((
                format!("{label}: ECE {:.3}, MCS {:+.3}", row.ece, row.mcs),
                colour,
                dash,
                marker,
            ));
        }
        legend.push(("perfect calibration".to_string(), "#999999", "3 3", ""));
        for (i, (text, colour, dash, marker)) in legend.iter().enumerate() {
            let ly = TOP + 16.0 + 24.0 * i as f64;
            let dash_attr = if dash.is_empty() {
                String::new()
            } else {
                format!(" stroke-dasharray=\"{dash}\"")
            };
            let _ = writeln!(
                s,
                "<line x1=\"{LEGEND_X}\" y1=\"{ly:.1}\" x2=\"{:.1}\" y2=\"{ly:.1}\" stroke=\"{colour}\" stroke-width=\"2\"{dash_attr}/>",
                LEGEND_X + 34.0
            );
            if !marker.is_empty() {
                s.push_str(&marker_svg(marker, LEGEND_X + 17.0, ly, colour));
            }
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" {font} font-size=\"12\" fill=\"#000000\">{text}</text>",
                LEGEND_X + 42.0,
                ly + 4.0
            );
        }
        s.push_str("</svg>\n");
        s
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

fn marker_svg(marker: &str, cx: f64, cy: f64, colour: &str) -> String {
    match marker {
        "square" => format!(
            "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"7\" height=\"7\" fill=\"{colour}\"/>\n",
            cx - 3.5,
            cy - 3.5
        ),
        "triangle" => format!(
            "<path d=\"M{:.2} {:.2} L{:.2} {:.2} L{:.2} {:.2} Z\" fill=\"{colour}\"/>\n",
            cx,
            cy - 4.5,
            cx + 4.5,
            cy + 3.5,
            cx - 4.5,
            cy + 3.5
        ),
        _ => format!("<circle cx=\"{cx:.2}\" cy=\"{cy:.2}\" r=\"3.5\" fill=\"{colour}\"/>\n"),
    }
}

/// Streaming statistics of one row.
struct Cell {
    acc: CalibrationAccumulator,
    samples: CalibrationSamples,
    max_linf: f64,
}

impl Cell {
    fn new(num_classes: usize, bins: usize, n: usize) -> Result<Self> {
        Ok(Self {
            acc: CalibrationAccumulator::new(num_classes, bins)?,
            samples: CalibrationSamples::with_capacity(n),
            max_linf: 0.0,
        })
    }

    /// Adds a batch of host logits; returns the per-image gaps `|confidence − correctness|` and
    /// correctness.
    fn add(
        &mut self,
        logits: &[f32],
        num_classes: usize,
        labels: &[usize],
        linf: &[f64],
    ) -> Result<(Vec<f64>, Vec<bool>)> {
        let start = self.samples.len();
        self.samples
            .extend_from_logits(logits, num_classes, labels)?;
        self.acc.add_logits_slice(logits, labels)?;
        self.max_linf = linf.iter().fold(self.max_linf, |m, &v| m.max(v));
        let confidences = &self.samples.confidences()[start..];
        let correct = &self.samples.correct()[start..];
        let gaps = confidences
            .iter()
            .zip(correct)
            .map(|(&c, &ok)| (c - if ok { 1.0 } else { 0.0 }).abs())
            .collect();
        Ok((gaps, correct.to_vec()))
    }
}

/// Reads `[n, k]` logits to the host (one read), checking their shape.
fn host_logits<B: Backend>(logits: Tensor<B, 2>, n: usize, k: usize) -> Result<Vec<f32>> {
    let [rows, cols] = logits.dims();
    if rows != n || cols != k {
        return Err(Error::ClassCountMismatch {
            declared: k,
            logits: vec![rows, cols],
        });
    }
    logits
        .into_data()
        .convert::<f32>()
        .into_vec::<f32>()
        .map_err(Error::TensorConversion)
}

/// One attack's outcome on a batch, on the host: logits `[n·k]`, per-image L∞ and correctness.
type Outcome = (Vec<f32>, Vec<f64>, Vec<bool>);

/// The logits and L∞ of the candidate `source[j]` (0 = clean, `a + 1` = attack `a`) per image.
fn pick_rows(
    source: &[usize],
    clean_z: &[f32],
    outcomes: &[Outcome],
    k: usize,
) -> (Vec<f32>, Vec<f64>) {
    let mut z = Vec::with_capacity(source.len() * k);
    let mut linf = Vec::with_capacity(source.len());
    for (j, &s) in source.iter().enumerate() {
        let (from, l) = match s {
            0 => (clean_z, 0.0),
            a => (outcomes[a - 1].0.as_slice(), outcomes[a - 1].1[j]),
        };
        z.extend_from_slice(&from[j * k..(j + 1) * k]);
        linf.push(l);
    }
    (z, linf)
}

/// `‖x_adv − x‖∞` of every image of the batch (one read).
fn per_image_linf<B: Backend>(perturbation: Tensor<B, 4>) -> Result<Vec<f64>> {
    perturbation
        .abs()
        .flatten::<2>(1, 3)
        .max_dim(1)
        .into_data()
        .convert::<f64>()
        .into_vec::<f64>()
        .map_err(Error::TensorConversion)
}

fn progress_bar(enabled: bool, units: usize) -> Option<indicatif::ProgressBar> {
    if !enabled || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return None;
    }
    let bar = indicatif::ProgressBar::new(units as u64);
    let style = indicatif::ProgressStyle::with_template(
        "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix("robustness");
    Some(bar)
}

/// Calibration of `model` on `data`, clean and under every attack of `config` at every radius,
/// plus the per-image worst case per radius, with bootstrap intervals (see the
/// [module docs](crate::report)).
///
/// Streams over the data **once**, in batches of `config.batch_size` in data-set order: per
/// batch, the clean logits come from the inference copy `model.valid()` (as
/// [`evaluate`](crate::eval::evaluate)), then every attack runs at every ε on the
/// autodiff model with seed `derive_seed(attack seed, batch index)` (as
/// [`evaluate_under`](crate::eval::evaluate_under)). The model is not modified. Memory grows
/// with 17 bytes per image and row (the per-image data of the intervals).
///
/// # Errors
/// [`RobustnessConfig::validate`]'s errors; [`Error::NoSamples`] for an empty data set;
/// [`Error::InvalidParameter`] when the data has more classes than the model;
/// [`Error::ChannelMismatch`]; [`Error::ClassCountMismatch`] when the model's logits are not
/// `[N, num_classes()]`; the attacks' errors (e.g. [`Error::PixelRange`]).
///
/// ```
/// use advcal::data::ImageDataset;
/// use advcal::metrics::BootstrapConfig;
/// use advcal::model::SmallCnnConfig;
/// use advcal::report::{robustness_report, ReportAttack, RobustnessConfig};
/// use burn::backend::{Autodiff, NdArray};
///
/// let device = Default::default();
/// let model = SmallCnnConfig::new().with_width(2).init::<Autodiff<NdArray>>(&device);
/// let pixels = (0..4 * 3 * 8 * 8).map(|i| (i * 7 % 256) as u8).collect();
/// let data = ImageDataset::new(pixels, vec![0, 1, 2, 3], [3, 8, 8], 10).unwrap();
/// let config = RobustnessConfig::new()
///     .with_epsilons(vec![0.03])
///     .with_steps(1)
///     .with_attacks(vec![ReportAttack::Pgd, ReportAttack::Iaa])
///     .with_progress(false)
///     .with_bootstrap(BootstrapConfig::new().with_resamples(20));
/// let report = robustness_report(&model, &data, &config, &device).unwrap();
/// assert_eq!(report.rows.len(), 4); // pgd, iaa, robust, worst
/// let worst = report.row("worst", 0.03).unwrap();
/// assert!(worst.ci95.ece[0] <= worst.ci95.ece[1]);
/// ```
pub fn robustness_report<B, M>(
    model: &M,
    data: &ImageDataset,
    config: &RobustnessConfig,
    device: &B::Device,
) -> Result<RobustnessReport>
where
    B: AutodiffBackend,
    M: Classifier<B> + AutodiffModule<B>,
    M::InnerModule: Classifier<B::InnerBackend>,
{
    config.validate()?;
    let limited;
    let data = match config.limit {
        Some(n) if n < data.len() => {
            limited = data.take(n);
            &limited
        }
        _ => data,
    };
    if data.is_empty() {
        return Err(Error::NoSamples);
    }
    let k = model.num_classes();
    if data.num_classes() > k {
        return Err(Error::param(
            "data",
            format!(
                "data set has {} classes, model only {k}",
                data.num_classes()
            ),
        ));
    }
    if let Some(expected) = model.input_channels() {
        let found = data.image_shape()[0];
        if found != expected {
            return Err(Error::ChannelMismatch { expected, found });
        }
    }

    let (n, bins) = (data.len(), config.bins);
    let attacks: Vec<Vec<AttackConfig>> = config
        .epsilons
        .iter()
        .map(|&eps| {
            config
                .attacks
                .iter()
                .map(|&a| config.attack_config(a, eps))
                .collect()
        })
        .collect();
    let mut clean = Cell::new(k, bins, n)?;
    let mut attacked = Vec::with_capacity(attacks.len());
    let mut worst = Vec::with_capacity(attacks.len());
    let mut robust = Vec::with_capacity(attacks.len());
    let has_robust = config.attacks.iter().any(ReportAttack::misclassifies);
    for row in &attacks {
        attacked.push(
            row.iter()
                .map(|_| Cell::new(k, bins, n))
                .collect::<Result<Vec<_>>>()?,
        );
        worst.push(Cell::new(k, bins, n)?);
        robust.push(Cell::new(k, bins, n)?);
    }
    let mut checks = checks::Checks::default();
    // The white-box misclassification attacks and Square, for the Square check.
    let white_box: Vec<usize> = (0..config.attacks.len())
        .filter(|&a| {
            matches!(
                config.attacks[a],
                ReportAttack::Pgd | ReportAttack::ApgdCe | ReportAttack::ApgdDlr
            )
        })
        .collect();
    let square = config
        .attacks
        .iter()
        .position(|a| *a == ReportAttack::Square);
    // Per ε: how many images each candidate (0 = clean, 1.. = the attacks) supplied.
    let mut source_counts = vec![vec![0usize; config.attacks.len() + 1]; attacks.len()];

    let inference = model.valid();
    let batches = data.batches(config.batch_size, None, None)?;
    let bar = progress_bar(
        config.progress,
        batches.len() * config.epsilons.len() * config.attacks.len(),
    );
    for (i, batch) in batches.enumerate() {
        let rows = batch.len();
        let (x, y) = batch.to_tensors::<B::InnerBackend>(device);
        let clean_z = host_logits(inference.forward_mode(x.clone(), Mode::Eval), rows, k)?;
        let (clean_gap, clean_right) = clean.add(&clean_z, k, &batch.labels, &vec![0.0; rows])?;
        checks.batch::<B, M>(model, &inference, x.clone(), y.clone(), i == 0)?;

        for (e, &eps) in config.epsilons.iter().enumerate() {
            let mut best_gap = clean_gap.clone();
            let mut best_source = vec![0usize; rows];
            // The `robust` row: per image, a wrong prediction beats a right one, then the
            // larger gap; among the clean image and the misclassification attacks.
            let mut robust_key: Vec<(bool, f64)> = clean_right
                .iter()
                .zip(&clean_gap)
                .map(|(&ok, &g)| (!ok, g))
                .collect();
            let mut robust_source = vec![0usize; rows];
            let mut outcomes: Vec<Outcome> = Vec::with_capacity(attacks[e].len());
            for (a, attack) in attacks[e].iter().enumerate() {
                if let Some(bar) = &bar {
                    bar.set_message(format!("{}@{eps}", AttackConfig::name(attack)));
                }
                let budget = attack.budget();
                let budget = budget.at(eps).with_seed(derive_seed(budget.seed, i as u64));
                let out =
                    Attack::<B, M>::perturb_under(attack, model, x.clone(), y.clone(), budget)?;
                let linf = per_image_linf(out.perturbation)?;
                let z = host_logits(out.logits, rows, k)?;
                let (gap, right) = attacked[e][a].add(&z, k, &batch.labels, &linf)?;
                if config.attacks[a].misclassifies() {
                    for j in 0..rows {
                        let key = (!right[j], gap[j]);
                        // (wrong, gap) in lexicographic order.
                        if key > robust_key[j] {
                            robust_key[j] = key;
                            robust_source[j] = a + 1;
                        }
                    }
                }
                for (j, g) in gap.into_iter().enumerate() {
                    if g > best_gap[j] {
                        best_gap[j] = g;
                        best_source[j] = a + 1;
                    }
                }
                outcomes.push((z, linf, right));
                if let Some(bar) = &bar {
                    bar.inc(1);
                }
            }
            // AutoAttack's Square check: does Square fool images every white-box attack missed?
            if let Some(sq) = square
                && !white_box.is_empty()
            {
                let mut white_right = clean_right.clone();
                for &a in &white_box {
                    for (w, &ok) in white_right.iter_mut().zip(&outcomes[a].2) {
                        *w &= ok;
                    }
                }
                checks.square(e, &white_right, &outcomes[sq].2);
            }
            for &source in &best_source {
                source_counts[e][source] += 1;
            }
            let (worst_z, worst_linf) = pick_rows(&best_source, &clean_z, &outcomes, k);
            worst[e].add(&worst_z, k, &batch.labels, &worst_linf)?;
            if has_robust {
                let (z, linf) = pick_rows(&robust_source, &clean_z, &outcomes, k);
                robust[e].add(&z, k, &batch.labels, &linf)?;
            }
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }

    let bootstrap = config.bootstrap_config();
    let clean = ReportRow::from_cell("clean", 0.0, clean, &bootstrap, None)?;
    let mut rows = Vec::with_capacity(attacks.len() * (config.attacks.len() + 1));
    for ((((&eps, cells), worst_cell), robust_cell), counts) in config
        .epsilons
        .iter()
        .zip(attacked)
        .zip(worst)
        .zip(robust)
        .zip(source_counts)
    {
        for (&attack, cell) in config.attacks.iter().zip(cells) {
            rows.push(ReportRow::from_cell(
                attack.name(),
                eps,
                cell,
                &bootstrap,
                None,
            )?);
        }
        if has_robust {
            rows.push(ReportRow::from_cell(
                "robust",
                eps,
                robust_cell,
                &bootstrap,
                None,
            )?);
        }
        let sources = std::iter::once("clean")
            .chain(config.attacks.iter().map(|a| a.name()))
            .zip(counts)
            .map(|(name, count)| (name.to_string(), count))
            .collect();
        rows.push(ReportRow::from_cell(
            "worst",
            eps,
            worst_cell,
            &bootstrap,
            Some(sources),
        )?);
    }
    let warnings = checks.warnings(config);
    Ok(RobustnessReport {
        n,
        num_classes: k,
        clean,
        rows,
        config: config.clone(),
        warnings,
    })
}
