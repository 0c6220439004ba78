//! Two ways to write your own attack.
//!
//! 1. Give an objective (a per-sample loss on logits and labels) to the shared sign-gradient
//!    engine: a few lines, and you inherit projection, random start, seeding, input validation,
//!    frozen parameters and inference-mode BatchNorm.
//! 2. Implement `Attack` directly for full control.
//!
//! ```text
//! cargo run --release --example custom_attack
//! ```

use advcal::attack::*;
use advcal::data::{bundled_cifar10_sample, Split};
use advcal::eval::evaluate_attack;
use advcal::model::{Classifier, Mode, SmallCnnConfig};
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::activation::softmax;
use burn::tensor::backend::AutodiffBackend;

/// (2) A direct implementation: a targeted one-step attack pushing every image towards class 0.
struct TowardsClassZero {
    epsilon: f32,
}

impl<B: AutodiffBackend, M: Classifier<B> + AutodiffModule<B>> Attack<B, M> for TowardsClassZero {
    fn name(&self) -> String {
        "towards-0".into()
    }
    fn epsilon(&self) -> f32 {
        self.epsilon
    }
    fn seed(&self) -> u64 {
        0
    }
    fn perturb_with(
        &self,
        model: &M,
        images: Tensor<B::InnerBackend, 4>,
        labels: Tensor<B::InnerBackend, 1, Int>,
        epsilon: f32,
        _seed: u64,
    ) -> advcal::Result<AttackOutput<B::InnerBackend>> {
        validate_batch(&images, &labels, model.num_classes(), epsilon)?;
        let frozen = frozen_copy::<B, M>(model, Mode::Eval);
        let target = Tensor::<B, 1, Int>::zeros(labels.dims(), &images.device());
        let (grad, _) = input_gradient::<B, M, _>(
            &frozen,
            images.clone(),
            target.clone(),
            &CrossEntropy,
            Mode::Eval,
        )?;
        let adversarial = project_linf(
            images.clone() - grad.sign().mul_scalar(epsilon),
            images.clone(),
            epsilon,
        );
        let logits = frozen.forward_mode(Tensor::from_inner(adversarial.clone()), Mode::Eval);
        let loss = cross_entropy(logits.clone(), target).inner();
        Ok(AttackOutput {
            perturbation: adversarial.clone() - images,
            adversarial,
            logits: logits.inner(),
            loss,
        })
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

    for attack in [
        &min_confidence as &dyn Attack<B, _>,
        &TowardsClassZero { epsilon: 0.03 },
    ] {
        let e = evaluate_attack(attack, &model, &data, 0.03, 32, 15, &device)?;
        println!(
            "{:<10} ACC {:.3} CONF {:.3} MCS {:+.3} max|δ|∞ {:.4}",
            e.attack, e.report.accuracy, e.report.confidence, e.report.mcs, e.max_linf
        );
    }
    Ok(())
}
