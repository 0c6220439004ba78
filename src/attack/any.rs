//! A serialisable choice among the built-in attacks, for configuration files and trainers.

use super::{
    Apgd, ApgdConfig, ApgdLoss, Attack, AttackGoal, AttackOutput, Budget, Fgsm, FgsmConfig, Iaa,
    IaaConfig, Pgd, PgdConfig, Square, SquareConfig, Uca, UcaConfig, UniformNoise,
    UniformNoiseConfig,
};
use crate::error::{Error, Result};
use crate::model::Classifier;
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

/// One of the built-in attacks with its settings; serialises to JSON as
/// `{"Pgd": {...}}`, `{"Iaa": {...}}`, ….
///
/// Used where an attack must be named in a config (e.g. the trainer's per-epoch
/// [`eval_attacks`](crate::train::TrainerConfig::eval_attacks)). It implements [`Attack`] itself,
/// so it can be used wherever an attack is expected.
///
/// ```
/// use advcal::attack::{AttackConfig, IaaConfig, PgdConfig};
/// let attacks = vec![
///     AttackConfig::Pgd(PgdConfig::new().with_epsilon(0.03)),
///     AttackConfig::Iaa(IaaConfig::new().with_epsilon(0.03)),
/// ];
/// let json = serde_json::to_string(&attacks).unwrap();
/// let back: Vec<AttackConfig> = serde_json::from_str(&json).unwrap();
/// assert_eq!(back[1].epsilon(), 0.03);
/// assert_eq!(back[0].name(), "pgd");
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum AttackConfig {
    /// [`Fgsm`].
    Fgsm(FgsmConfig),
    /// [`Pgd`].
    Pgd(PgdConfig),
    /// [`UniformNoise`].
    UniformNoise(UniformNoiseConfig),
    /// [`Iaa`].
    Iaa(IaaConfig),
    /// [`Uca`].
    Uca(UcaConfig),
    /// [`Apgd`] (APGD-CE or APGD-DLR by its `loss`).
    Apgd(ApgdConfig),
    /// [`Square`].
    Square(SquareConfig),
}

impl AttackConfig {
    /// The attack's short name (`fgsm`, `pgd`, `noise`, `iaa`, `iaa-alg1`, `uca`, `apgd-ce`,
    /// `apgd-dlr`, `square`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Fgsm(_) => "fgsm",
            Self::Pgd(_) => "pgd",
            Self::UniformNoise(_) => "noise",
            Self::Iaa(c) => Iaa::new(c.clone()).name(),
            Self::Uca(_) => "uca",
            Self::Apgd(c) => match c.loss {
                ApgdLoss::Ce => "apgd-ce",
                ApgdLoss::Dlr => "apgd-dlr",
            },
            Self::Square(_) => "square",
        }
    }

    /// What a success is for the attack: misclassification, or (IAA, UCA) underconfidence.
    pub fn goal(&self) -> AttackGoal {
        match self {
            Self::Iaa(_) | Self::Uca(_) => AttackGoal::Underconfidence,
            _ => AttackGoal::Misclassify,
        }
    }

    /// The configured radius ε.
    pub fn epsilon(&self) -> f32 {
        match self {
            Self::Fgsm(c) => c.epsilon,
            Self::Pgd(c) => c.epsilon,
            Self::UniformNoise(c) => c.epsilon,
            Self::Iaa(c) => c.epsilon,
            Self::Uca(c) => c.epsilon,
            Self::Apgd(c) => c.epsilon,
            Self::Square(c) => c.epsilon,
        }
    }
}

impl AttackConfig {
    /// The configured radius and seed (the seed is 0 for the deterministic FGSM and UCA).
    ///
    /// ```
    /// use advcal::attack::{AttackConfig, Budget, PgdConfig};
    /// let pgd = AttackConfig::Pgd(PgdConfig::new().with_epsilon(0.03).with_seed(7));
    /// assert_eq!(pgd.budget(), Budget::new(0.03).with_seed(7));
    /// ```
    pub fn budget(&self) -> Budget {
        Budget::new(self.epsilon()).with_seed(match self {
            Self::Fgsm(_) | Self::Uca(_) => 0,
            Self::Pgd(c) => c.seed,
            Self::UniformNoise(c) => c.seed,
            Self::Iaa(c) => c.seed,
            Self::Apgd(c) => c.seed,
            Self::Square(c) => c.seed,
        })
    }

    /// `<name>@<ε>` (e.g. `pgd@0.03`): the attack's column prefix in the trainer's history
    /// and the view name of `advcal::learner::CalibrationMetric::under_attack`.
    ///
    /// ```
    /// use advcal::attack::{AttackConfig, PgdConfig};
    /// assert_eq!(AttackConfig::Pgd(PgdConfig::new().with_epsilon(0.03)).label(), "pgd@0.03");
    /// ```
    pub fn label(&self) -> String {
        format!("{}@{}", self.name(), self.epsilon())
    }

    /// Parses a command-line spec `name:ε` (`pgd:0.03`, `iaa:0.03`, `iaa-alg1:0.03`,
    /// `uca:0.03`, `fgsm:0.03`, `noise:0.03`, `apgd-ce:0.03`, `apgd-dlr:0.03`, `square:0.03`; a
    /// bare name means ε = 0.03), iterative attacks with `steps` steps (Square: `steps`
    /// queries) and every other setting at its default.
    ///
    /// ```
    /// use advcal::attack::AttackConfig;
    /// let a = AttackConfig::from_spec("iaa:0.05", 10).unwrap();
    /// assert_eq!(a.label(), "iaa@0.05");
    /// assert!(AttackConfig::from_spec("pgd:2", 10).is_err());
    /// assert!(AttackConfig::from_spec("cw:0.03", 10).is_err());
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidEpsilon`] for ε outside `[0, 1]`, [`Error::InvalidParameter`] for an
    /// unknown name or an unreadable ε.
    pub fn from_spec(spec: &str, steps: usize) -> Result<Self> {
        let (name, eps) = spec.split_once(':').unwrap_or((spec, "0.03"));
        let eps: f32 = eps
            .parse()
            .map_err(|_| Error::param("attack", format!("bad epsilon in `{spec}`")))?;
        if !(0.0..=1.0).contains(&eps) {
            return Err(Error::InvalidEpsilon(f64::from(eps)));
        }
        Ok(match name {
            "pgd" => Self::Pgd(PgdConfig::new().with_epsilon(eps).with_steps(steps)),
            "iaa" => Self::Iaa(IaaConfig::new().with_epsilon(eps).with_steps(steps)),
            "iaa-alg1" => Self::Iaa(IaaConfig::alg1().with_epsilon(eps).with_steps(steps)),
            "apgd-ce" => Self::Apgd(ApgdConfig::new().with_epsilon(eps).with_steps(steps)),
            "apgd-dlr" => Self::Apgd(
                ApgdConfig::new()
                    .with_epsilon(eps)
                    .with_steps(steps)
                    .with_loss(ApgdLoss::Dlr),
            ),
            "square" => Self::Square(SquareConfig::new().with_epsilon(eps).with_queries(steps)),
            "uca" => Self::Uca(UcaConfig::new().with_epsilon(eps).with_steps(steps)),
            "fgsm" => Self::Fgsm(FgsmConfig::new().with_epsilon(eps)),
            "noise" => Self::UniformNoise(UniformNoiseConfig::new().with_epsilon(eps)),
            other => {
                return Err(Error::param(
                    "attack",
                    format!(
                        "unknown attack `{other}` (pgd, apgd-ce, apgd-dlr, square, iaa, \
                         iaa-alg1, uca, fgsm, noise)"
                    ),
                ));
            }
        })
    }
}

impl<B, M> Attack<B, M> for AttackConfig
where
    B: AutodiffBackend,
    M: Classifier<B> + AutodiffModule<B>,
{
    fn name(&self) -> String {
        AttackConfig::name(self).to_string()
    }
    fn budget(&self) -> Budget {
        AttackConfig::budget(self)
    }
    fn goal(&self) -> AttackGoal {
        AttackConfig::goal(self)
    }
    fn perturb_under(
        &self,
        model: &M,
        images: Tensor<B::InnerBackend, 4>,
        labels: Tensor<B::InnerBackend, 1, Int>,
        budget: Budget,
    ) -> Result<AttackOutput<B::InnerBackend>> {
        match self {
            Self::Fgsm(c) => Fgsm::new(c.clone()).perturb_under(model, images, labels, budget),
            Self::Pgd(c) => Pgd::new(c.clone()).perturb_under(model, images, labels, budget),
            Self::UniformNoise(c) => {
                UniformNoise::new(c.clone()).perturb_under(model, images, labels, budget)
            }
            Self::Iaa(c) => Iaa::new(c.clone()).perturb_under(model, images, labels, budget),
            Self::Uca(c) => Uca::new(c.clone()).perturb_under(model, images, labels, budget),
            Self::Apgd(c) => Apgd::new(c.clone()).perturb_under(model, images, labels, budget),
            Self::Square(c) => Square::new(c.clone()).perturb_under(model, images, labels, budget),
        }
    }
    fn adversarial_under(
        &self,
        model: &M,
        images: Tensor<B::InnerBackend, 4>,
        labels: Tensor<B::InnerBackend, 1, Int>,
        budget: Budget,
    ) -> Result<Tensor<B::InnerBackend, 4>> {
        match self {
            Self::Fgsm(c) => Fgsm::new(c.clone()).adversarial_under(model, images, labels, budget),
            Self::Pgd(c) => Pgd::new(c.clone()).adversarial_under(model, images, labels, budget),
            Self::Iaa(c) => Iaa::new(c.clone()).adversarial_under(model, images, labels, budget),
            _ => {
                Ok(Attack::<B, M>::perturb_under(self, model, images, labels, budget)?.adversarial)
            }
        }
    }
}
