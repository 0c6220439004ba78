//! Building the built-in strategies by name (command-line tools, experiment scripts).

use super::{
    AceAt, AceAtConfig, AtIat, AtIatConfig, Ccat, CcatConfig, Iat, IatConfig, PgdAt, PgdAtConfig,
    Plain, TrainingStrategy,
};
use crate::attack::{IaaConfig, PgdConfig, StepSize};
use crate::error::{Error, Result};
use crate::model::Classifier;
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

/// The six training strategies compared by the paper.
///
/// ```
/// use advcal::train::StrategyKind;
/// let kind = StrategyKind::parse("at-iat").unwrap();
/// assert_eq!(kind.label(), "AT+IAT");
/// assert!(StrategyKind::parse("sgd").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StrategyKind {
    /// Plain training ([`Plain`]).
    Plain,
    /// Madry PGD adversarial training ([`PgdAt`]).
    PgdAt,
    /// Adversarial calibration entropy ([`AceAt`]).
    AceAt,
    /// Confidence-calibrated adversarial training ([`Ccat`]).
    Ccat,
    /// Inverse adversarial training ([`Iat`]).
    Iat,
    /// PGD-AT combined with IAT ([`AtIat`]).
    AtIat,
}

impl StrategyKind {
    /// All six, in the order the paper's figures list them.
    pub const ALL: [StrategyKind; 6] = [
        Self::Plain,
        Self::PgdAt,
        Self::AceAt,
        Self::Ccat,
        Self::Iat,
        Self::AtIat,
    ];

    /// Command-line name: `pt`, `pgd-at`, `ace-at`, `ccat`, `iat`, `at-iat`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Plain => "pt",
            Self::PgdAt => "pgd-at",
            Self::AceAt => "ace-at",
            Self::Ccat => "ccat",
            Self::Iat => "iat",
            Self::AtIat => "at-iat",
        }
    }

    /// The label the paper uses: `PT`, `PGD-AT`, `ACE-AT`, `CCAT`, `IAT`, `AT+IAT`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Plain => "PT",
            Self::PgdAt => "PGD-AT",
            Self::AceAt => "ACE-AT",
            Self::Ccat => "CCAT",
            Self::Iat => "IAT",
            Self::AtIat => "AT+IAT",
        }
    }

    /// Parses a [`name`](Self::name).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an unknown name.
    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| {
                Error::param(
                    "strategy",
                    format!(
                        "unknown `{name}`; expected one of pt, pgd-at, ace-at, ccat, iat, at-iat"
                    ),
                )
            })
    }

    /// The strategy with the spec's defaults (ε_train = 8/255, λ = 5), its inner attacks
    /// shortened to `steps` iterations.
    ///
    /// PGD keeps its total travel: α = 2.5·ε/`steps` (= 2/255 at 10 steps). IAA uses α = ε/T as
    /// always. CCAT runs `4·steps` iterations (40 at the default 10), as its paper's attack is
    /// longer.
    ///
    /// # Errors
    /// [`Error::InvalidSteps`] when `steps` is 0.
    pub fn build<B, M>(&self, steps: usize) -> Result<Box<dyn TrainingStrategy<B, M>>>
    where
        B: AutodiffBackend,
        M: Classifier<B> + AutodiffModule<B> + 'static,
        M::InnerModule: Classifier<B::InnerBackend>,
    {
        if steps == 0 {
            return Err(Error::InvalidSteps(0));
        }
        let eps = 8.0 / 255.0;
        let pgd = PgdConfig::new()
            .with_epsilon(eps)
            .with_steps(steps)
            .with_step_size(StepSize::Absolute(2.5 * eps / steps as f32));
        let iaa = IaaConfig::new().with_epsilon(eps).with_steps(steps);
        Ok(match self {
            Self::Plain => Box::new(Plain),
            Self::PgdAt => Box::new(PgdAt::new(PgdAtConfig::new().with_attack(pgd))),
            Self::AceAt => Box::new(AceAt::new(AceAtConfig::new().with_attack(pgd))),
            Self::Ccat => Box::new(Ccat::new(CcatConfig::new().with_steps(4 * steps))),
            Self::Iat => Box::new(Iat::new(IatConfig::new().with_attack(iaa))),
            Self::AtIat => Box::new(AtIat::new(AtIatConfig::new().with_pgd(pgd).with_iaa(iaa))),
        })
    }
}

impl std::fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
