//! The per-image worst case over several attacks (AutoAttack's protocol, Croce & Hein 2020,
//! <https://arxiv.org/abs/2003.01690>), for robustness and for calibration in both directions.

use super::select::{confidence_and_correct, select_rows};
use super::{Attack, AttackGoal, AttackOutput, AttackResult, Budget, Images, Labels};
use crate::error::{Error, Result};
use crate::rng::derive_seed;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

/// What makes one attack's output worse than another's for an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorstCaseCriterion {
    /// Robustness: a misclassified output beats a correctly classified one; among outputs of
    /// equal correctness, the larger calibration error `|conf − 1[prediction = y]|` wins (the
    /// more confident error, the less confident correct prediction). The robust accuracy of the
    /// worst case is the fraction of images no attack misclassified (AutoAttack's).
    Misclassification,
    /// Calibration in both directions: the output with the larger per-image calibration error
    /// `|conf − 1[prediction = y]|` wins (an overconfident error or an underconfident correct
    /// prediction, whichever is farther from calibrated): what an adversary choosing the
    /// direction per image can do. The mean per-image gap of the worst case is at least each
    /// attack's; its binned ECE usually is too, but binning can let over- and underconfident
    /// images of one bin cancel.
    CalibrationError,
}

/// Runs every attack on the whole batch and keeps, per image, the worst output under the
/// criterion (ties keep the earlier attack):
///
/// ```text
/// x_worst[i] = x_adv^(a*)[i],   a* = argmax_a score(f(x_adv^(a)[i]), y_i)
/// gap  = |max_k p_k − 1[argmax_k p_k = y]|
/// score = 2·1[wrong] + gap   (Misclassification)
/// score = gap                (CalibrationError)
/// ```
///
/// These are the rankings of the `robust` and `worst` rows of
/// [`robustness_report`](crate::report::robustness_report), which also count the clean image as
/// a candidate; `WorstCase` is an [`Attack`], usable wherever one is taken
/// ([`evaluate_under`](crate::eval::evaluate_under), [`run_epsilons`](super::run_epsilons)).
///
/// Every attack runs on every image (AutoAttack runs each only on the images still correct;
/// the robust accuracy is the same, at a higher cost). The first attack runs under the budget
/// as it is, attack `a > 0` under the seed `derive_seed(budget.seed, a)`, so the first
/// attack's part equals that attack run alone. The output's logits and loss are those of the
/// kept attack. Its name joins the attacks' names with `+` (`apgd-ce+apgd-dlr`). Its
/// [`goal`](Attack::goal) is [`AttackGoal::Misclassify`] under both criteria: a
/// calibration-error worst case has no single success condition (an error or a less confident
/// correct prediction), so judge it by its calibration error, not by `run_epsilons`' success.
///
/// ```
/// use advcal::attack::{Attack, AttackConfig, ApgdConfig, ApgdLoss, WorstCase, WorstCaseCriterion};
/// use advcal::model::{SmallCnn, SmallCnnConfig};
/// use burn::backend::{Autodiff, NdArray};
/// use burn::prelude::*;
///
/// type B = Autodiff<NdArray>;
/// let device = Default::default();
/// let model = SmallCnnConfig::new().with_width(4).init::<B>(&device);
/// let attacks = vec![
///     AttackConfig::Apgd(ApgdConfig::new().with_steps(3)),
///     AttackConfig::Apgd(ApgdConfig::new().with_steps(3).with_loss(ApgdLoss::Dlr)),
/// ];
/// let worst = WorstCase::new(attacks, WorstCaseCriterion::Misclassification).unwrap();
/// assert_eq!(Attack::<B, SmallCnn<B>>::name(&worst), "apgd-ce+apgd-dlr");
/// let x = Tensor::<NdArray, 4>::full([2, 3, 32, 32], 0.5, &device);
/// let y = Tensor::<NdArray, 1, Int>::from_ints([1, 2], &device);
/// let out = worst.perturb(&model, x, y).unwrap();
/// assert!(out.perturbation.abs().max().into_scalar() <= 8.0 / 255.0 + 1e-6);
/// ```
#[derive(Debug, Clone)]
pub struct WorstCase<A> {
    attacks: Vec<A>,
    criterion: WorstCaseCriterion,
}

impl<A> WorstCase<A> {
    /// The worst case of `attacks` (at least one) under `criterion`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `attacks` when there is none.
    pub fn new(attacks: Vec<A>, criterion: WorstCaseCriterion) -> Result<Self> {
        if attacks.is_empty() {
            return Err(Error::param("attacks", "the worst case needs at least one"));
        }
        Ok(Self { attacks, criterion })
    }

    /// The attacks, in the order ties are broken.
    pub fn attacks(&self) -> &[A] {
        &self.attacks
    }

    /// The criterion.
    pub fn criterion(&self) -> WorstCaseCriterion {
        self.criterion
    }
}

impl<A> WorstCase<A> {
    fn score<B: Backend>(&self, logits: Tensor<B, 2>, labels: Tensor<B, 1, Int>) -> Tensor<B, 1> {
        let (conf, correct) = confidence_and_correct(logits, labels);
        let correct = correct.float();
        let gap = (conf - correct.clone()).abs();
        match self.criterion {
            WorstCaseCriterion::Misclassification => gap + (correct.neg() + 1.0) * 2.0,
            WorstCaseCriterion::CalibrationError => gap,
        }
    }
}

impl<B, M, A> Attack<B, M> for WorstCase<A>
where
    B: AutodiffBackend,
    A: Attack<B, M>,
{
    fn name(&self) -> String {
        self.attacks
            .iter()
            .map(|a| a.name())
            .collect::<Vec<_>>()
            .join("+")
    }

    fn goal(&self) -> AttackGoal {
        AttackGoal::Misclassify
    }

    /// The first attack's budget.
    fn budget(&self) -> Budget {
        self.attacks
            .first()
            .map_or_else(Budget::default, |a| a.budget())
    }

    fn perturb_under(
        &self,
        model: &M,
        images: Images<B>,
        labels: Labels<B>,
        budget: Budget,
    ) -> AttackResult<B> {
        let run = |a: usize, attack: &A| {
            let seed = if a == 0 {
                budget.seed
            } else {
                derive_seed(budget.seed, a as u64)
            };
            let out = attack.perturb_under(
                model,
                images.clone(),
                labels.clone(),
                budget.with_seed(seed),
            )?;
            let score = self.score(out.logits.clone(), labels.clone());
            Ok::<_, Error>((out, score))
        };
        let first = self
            .attacks
            .first()
            .ok_or_else(|| Error::param("attacks", "the worst case needs at least one"))?;
        let (mut kept, mut kept_score) = run(0, first)?;
        for (a, attack) in self.attacks.iter().enumerate().skip(1) {
            let (out, score) = run(a, attack)?;
            let worse = score.clone().greater(kept_score.clone());
            kept = AttackOutput {
                adversarial: select_rows(worse.clone(), out.adversarial, kept.adversarial),
                perturbation: select_rows(worse.clone(), out.perturbation, kept.perturbation),
                logits: select_rows(worse.clone(), out.logits, kept.logits),
                loss: kept.loss.mask_where(worse.clone(), out.loss),
            };
            kept_score = kept_score.mask_where(worse, score);
        }
        Ok(kept)
    }
}
