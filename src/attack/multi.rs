//! Running one attack at many radii in one call (foolbox style).

use super::gradient::{attack_copy, forward_checked};
use super::{Attack, AttackGoal, AttackOutput, project_linf, validate_for};
use crate::error::Result;
use crate::model::{Classifier, Mode};
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::ElementConversion;
use burn::tensor::activation::softmax;
use burn::tensor::backend::AutodiffBackend;

/// The result of an attack at one radius.
#[derive(Debug, Clone)]
pub struct EpsilonResult<B: Backend> {
    /// The radius.
    pub epsilon: f32,
    /// The attack's raw output (`output.adversarial` are the raw images).
    pub output: AttackOutput<B>,
    /// The raw images projected onto the ε-ball and `[0, 1]` (equal to the raw images for the
    /// built-in attacks; a guarantee for custom ones).
    pub clipped: Tensor<B, 4>,
    /// Per-sample success, `[N]`, judged on `clipped` against the attack's [`AttackGoal`]:
    /// misclassification, or (underconfidence) correct prediction with lower confidence than on
    /// the clean image.
    pub success: Tensor<B, 1, Bool>,
}

/// Runs `attack` at every radius of `epsilons` on the same batch.
///
/// Input validation and the clean forward pass (needed to judge underconfidence successes) are
/// done once for all radii. Each radius uses the seed of the attack's [`budget`](Attack::budget), so a result does not depend
/// on which other radii were requested.
///
/// # Errors
///
/// Those of [`Attack::perturb_under`], checked for every radius before any attack runs.
///
/// ```
/// use advcal::attack::{run_epsilons, UniformNoise};
/// use advcal::model::SmallCnnConfig;
/// use burn::backend::{Autodiff, NdArray};
/// use burn::prelude::*;
///
/// type B = Autodiff<NdArray>;
/// let device = Default::default();
/// let model = SmallCnnConfig::new().with_width(4).init::<B>(&device);
/// let x = Tensor::<NdArray, 4>::full([2, 3, 32, 32], 0.5, &device);
/// let y = Tensor::<NdArray, 1, Int>::from_ints([0, 1], &device);
/// let results = run_epsilons::<B, _, _>(&UniformNoise::default(), &model, x, y, &[0.01, 0.02]).unwrap();
/// assert_eq!(results.len(), 2);
/// assert_eq!(results[1].epsilon, 0.02);
/// ```
pub fn run_epsilons<B, M, A>(
    attack: &A,
    model: &M,
    images: Tensor<B::InnerBackend, 4>,
    labels: Tensor<B::InnerBackend, 1, Int>,
    epsilons: &[f32],
) -> Result<Vec<EpsilonResult<B::InnerBackend>>>
where
    B: AutodiffBackend,
    M: Classifier<B> + AutodiffModule<B>,
    A: Attack<B, M> + ?Sized,
{
    for &eps in epsilons {
        validate_for::<B, M>(model, &images, &labels, eps)?;
    }
    // One checked inference copy serves the clean and the re-clipped forward passes.
    let frozen = attack_copy::<B, M>(model, &images, &labels, 0.0, Mode::Eval)?;
    let [n, _, _, _] = images.dims();
    let goal = attack.goal();
    let clean_conf = match goal {
        AttackGoal::Underconfidence => {
            let logits = forward_checked::<B, M>(&frozen, images.clone())?;
            Some(softmax(logits, 1).max_dim(1).reshape([n]))
        }
        AttackGoal::Misclassify => None,
    };
    epsilons
        .iter()
        .map(|&eps| {
            let budget = attack.budget().at(eps);
            let output = attack.perturb_under(model, images.clone(), labels.clone(), budget)?;
            let clipped = project_linf(output.adversarial.clone(), images.clone(), eps);
            // Built-in attacks already satisfy the constraints; only re-run the model when a
            // (custom) attack left them.
            let moved = (clipped.clone() - output.adversarial.clone())
                .abs()
                .max()
                .into_scalar()
                .elem::<f64>();
            let logits = if moved > 0.0 {
                forward_checked::<B, M>(&frozen, clipped.clone())?
            } else {
                output.logits.clone()
            };
            let pred = logits.clone().argmax(1).reshape([n]);
            let correct = pred.equal(labels.clone());
            let success = match &clean_conf {
                None => correct.bool_not(),
                Some(conf) => {
                    let adv_conf = softmax(logits, 1).max_dim(1).reshape([n]);
                    correct.bool_and(adv_conf.lower(conf.clone()))
                }
            };
            Ok(EpsilonResult {
                epsilon: eps,
                output,
                clipped,
                success,
            })
        })
        .collect()
}
