//! Two ways to write your own attack.
//!
//! 1. Give an objective (a per-sample loss on logits and labels) to the shared sign-gradient
//!    engine: a few lines, and you inherit projection, random start, seeding, input validation,
//!    frozen parameters and inference-mode BatchNorm.
//! 2. Implement `Attack` directly for full control: `name` and `perturb_under` (ε and the seed
//!    arrive in its `Budget`). `attack_copy` validates the batch and gives the frozen,
//!    inference-behaviour copy to differentiate; `AttackOutput::from_images` the output.
//!
//! ```text
//! cargo run --release --example custom_attack
//! ```

use advcal::attack::*;
use advcal::data::{Split, bundled_cifar10_sample};
use advcal::eval::{EvaluationConfig, evaluate_under};
use advcal::model::{Classifier, Mode, SmallCnnConfig};
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::activation::softmax;
use burn::tensor::backend::AutodiffBackend;

/// (2) A direct implementation: a targeted one-step attack pushing every image towards class 0.
struct TowardsClassZero;

impl<B: AutodiffBackend, M: Classifier<B> + AutodiffModule<B>> Attack<B, M> for TowardsClassZero {
    fn name(&self) -> String {
        "towards-0".into()
    }
    fn perturb_under(&self, m: &M, x: Images<B>, y: Labels<B>, b: Budget) -> AttackResult<B> {
        let eps = b.epsilon;
        let frozen = attack_copy::<B, M>(m, &x, &y, eps, Mode::Eval)?;
        let target = Tensor::from_inner(y.zeros_like());
        let (grad, _) = input_gradient(&frozen, x.clone(), target, &CrossEntropy, Mode::Eval)?;
        let adv = project_linf(x.clone() - grad.sign() * eps, x.clone(), eps);
        Ok(AttackOutput::from_images::<B, M>(&frozen, x, adv, y))
    }
}

fn main() -> advcal::Result<()> {
    type B = advcal::backend::ndarray::Train;
    let device = advcal::backend::ndarray::device();
    let model = advcal::model::seeded_init::<B, _>(&device, 0, || {
        SmallCnnConfig::new().with_width(8).init::<B>(&device)
    });
    let data = bundled_cifar10_sample(Split::Test)?.take(64);

    // (1) Minimise the top-class probability: a confidence-lowering attack in four lines.
    let min_confidence = SignGradientConfig::new()
        .with_epsilon(0.03)
        .with_direction(Direction::Descent)
        .with_objective(
            "min-conf",
            AttackGoal::Underconfidence,
            |z: Tensor<B, 2>, _y: Tensor<B, 1, Int>| {
                let [n, _] = z.dims();
                softmax(z, 1).max_dim(1).reshape([n])
            },
        );

    let config = EvaluationConfig::new().with_batch_size(32);
    for attack in [&min_confidence as &dyn Attack<B, _>, &TowardsClassZero] {
        let e = evaluate_under(attack, &model, &data, Budget::new(0.03), &config, &device)?;
        println!(
            "{:<10} ACC {:.3} CONF {:.3} MCS {:+.3} max|δ|∞ {:.4}",
            e.attack, e.report.accuracy, e.report.confidence, e.report.mcs, e.max_linf
        );
    }
    Ok(())
}
