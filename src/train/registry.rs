//! Building the built-in strategies by name (command-line tools, experiment scripts).

use super::{
    AceAt, AceAtConfig, AtIat, AtIatConfig, Ccat, CcatConfig, CloneableStrategy, Iat, IatConfig,
    PgdAt, PgdAtConfig, Plain, TrainingStrategy,
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

    /// The strategy with its default settings (ε_train = 8/255, λ = 5), its inner attacks
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
    {
        self.build_with_iaa(steps, IaaConfig::new())
    }

    /// [`build`](Self::build) with IAT's and AT+IAT's inner IAA taken from `iaa` (its ε and
    /// steps are replaced by ε_train = 8/255 and `steps`): `IaaConfig::new()` is Eq. 2's best
    /// feasible iterate (the default), [`IaaConfig::alg1`] the printed Algorithm 1, which the
    /// repository's published IAT and AT+IAT models were trained with.
    ///
    /// ```
    /// use advcal::attack::IaaConfig;
    /// use advcal::model::SmallCnn;
    /// use advcal::train::StrategyKind;
    /// use burn::backend::{Autodiff, NdArray};
    /// let iat = StrategyKind::Iat
    ///     .build_with_iaa::<Autodiff<NdArray>, SmallCnn<_>>(3, IaaConfig::alg1())
    ///     .unwrap();
    /// assert_eq!(iat.name(), "iat-alg1");
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidSteps`] when `steps` is 0.
    pub fn build_with_iaa<B, M>(
        &self,
        steps: usize,
        iaa: IaaConfig,
    ) -> Result<Box<dyn TrainingStrategy<B, M>>>
    where
        B: AutodiffBackend,
        M: Classifier<B> + AutodiffModule<B> + 'static,
    {
        struct Boxed;
        impl<B, M> StrategyVisitor<B, M> for Boxed
        where
            B: AutodiffBackend,
            M: Classifier<B> + AutodiffModule<B> + 'static,
        {
            type Output = Box<dyn TrainingStrategy<B, M>>;
            fn visit<S>(self, strategy: S) -> Self::Output
            where
                S: CloneableStrategy<B, M>,
            {
                Box::new(strategy)
            }
        }
        self.visit_with_iaa(steps, iaa, Boxed)
    }

    /// Hands the concrete strategy (same defaults as [`build`](Self::build)) to `visitor`,
    /// for code that needs its type rather than a box: burn-train's `Learner` clones the
    /// strategy per step and per device, which a `Box<dyn TrainingStrategy>` cannot do.
    ///
    /// ```
    /// use advcal::model::SmallCnn;
    /// use advcal::train::{CloneableStrategy, StrategyKind, StrategyVisitor};
    /// use burn::backend::{Autodiff, NdArray};
    ///
    /// type B = Autodiff<NdArray>;
    /// struct Name;
    /// impl StrategyVisitor<B, SmallCnn<B>> for Name {
    ///     type Output = String;
    ///     fn visit<S>(self, s: S) -> String
    ///     where
    ///         S: CloneableStrategy<B, SmallCnn<B>>,
    ///     {
    ///         s.name()
    ///     }
    /// }
    /// assert_eq!(StrategyKind::AtIat.visit::<B, SmallCnn<B>, _>(10, Name).unwrap(), "at-iat");
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidSteps`] when `steps` is 0.
    pub fn visit<B, M, V>(&self, steps: usize, visitor: V) -> Result<V::Output>
    where
        B: AutodiffBackend,
        M: Classifier<B> + AutodiffModule<B> + 'static,
        V: StrategyVisitor<B, M>,
    {
        self.visit_with_iaa(steps, IaaConfig::new(), visitor)
    }

    /// The inner PGD of the adversarial strategies built here (PGD-AT, ACE-AT, AT+IAT):
    /// ε = 8/255, `steps` steps of α = 2.5·ε/`steps` (Madry et al.'s ratio), random start.
    ///
    /// ```
    /// use advcal::attack::StepSize;
    /// use advcal::train::StrategyKind;
    /// let pgd = StrategyKind::inner_pgd(3);
    /// assert_eq!((pgd.epsilon, pgd.steps), (8.0 / 255.0, 3));
    /// assert_eq!(pgd.step_size, StepSize::Absolute(2.5 * 8.0 / 255.0 / 3.0));
    /// ```
    pub fn inner_pgd(steps: usize) -> PgdConfig {
        let eps = 8.0 / 255.0;
        PgdConfig::new()
            .with_epsilon(eps)
            .with_steps(steps)
            .with_step_size(StepSize::Absolute(2.5 * eps / steps.max(1) as f32))
    }

    /// [`visit`](Self::visit) with the inner IAA of IAT and AT+IAT from `iaa` (see
    /// [`build_with_iaa`](Self::build_with_iaa)).
    ///
    /// # Errors
    /// [`Error::InvalidSteps`] when `steps` is 0.
    pub fn visit_with_iaa<B, M, V>(
        &self,
        steps: usize,
        iaa: IaaConfig,
        visitor: V,
    ) -> Result<V::Output>
    where
        B: AutodiffBackend,
        M: Classifier<B> + AutodiffModule<B> + 'static,
        V: StrategyVisitor<B, M>,
    {
        if steps == 0 {
            return Err(Error::InvalidSteps(0));
        }
        let pgd = Self::inner_pgd(steps);
        let iaa = iaa.with_epsilon(pgd.epsilon).with_steps(steps);
        Ok(match self {
            Self::Plain => visitor.visit(Plain),
            Self::PgdAt => visitor.visit(PgdAt::new(PgdAtConfig::new().with_attack(pgd))),
            Self::AceAt => visitor.visit(AceAt::new(AceAtConfig::new().with_attack(pgd))),
            Self::Ccat => visitor.visit(Ccat::new(CcatConfig::new().with_steps(4 * steps))),
            Self::Iat => visitor.visit(Iat::new(IatConfig::new().with_attack(iaa))),
            Self::AtIat => {
                visitor.visit(AtIat::new(AtIatConfig::new().with_pgd(pgd).with_iaa(iaa)))
            }
        })
    }
}

/// Receives the concrete strategy chosen by [`StrategyKind::visit`].
pub trait StrategyVisitor<B: AutodiffBackend, M> {
    /// What the visit returns.
    type Output;
    /// Called once with the strategy.
    fn visit<S>(self, strategy: S) -> Self::Output
    where
        S: CloneableStrategy<B, M>;
}

impl std::fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
