//! A user-defined training strategy in a few lines: train on a 50/50 mix of clean images and
//! uniform-noise images, using the crate's trainer.
//!
//! ```text
//! cargo run --release --example custom_strategy
//! ```

use advcal::attack::{Attack, UniformNoise, cross_entropy};
use advcal::data::{Split, bundled_cifar10_sample};
use advcal::model::{Classifier, Mode, SmallCnn, SmallCnnConfig};
use advcal::train::{BatchContext, Fit, StrategyStep, TrainerConfig, TrainingStrategy};
use burn::module::AutodiffModule;
use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

struct NoiseMix(UniformNoise);

impl<B: AutodiffBackend, M: Classifier<B> + AutodiffModule<B>> TrainingStrategy<B, M> for NoiseMix {
    fn name(&self) -> String {
        "noise-mix".into()
    }
    fn step(
        &mut self,
        model: &M,
        x: Tensor<B::InnerBackend, 4>,
        y: Tensor<B::InnerBackend, 1, Int>,
        ctx: BatchContext<'_>,
    ) -> advcal::Result<StrategyStep<B>> {
        let noisy = Attack::<B, M>::perturb_under(
            &self.0,
            model,
            x.clone(),
            y.clone(),
            advcal::attack::Budget::new(0.03).with_seed(ctx.seed),
        )?
        .adversarial;
        let inputs = Tensor::cat(vec![x, noisy], 0);
        let targets = Tensor::cat(vec![y.clone(), y], 0);
        let logits = model.forward_mode(Tensor::from_inner(inputs), Mode::Train);
        let loss = cross_entropy(logits.clone(), Tensor::from_inner(targets.clone())).mean();
        Ok(StrategyStep {
            loss,
            logits: logits.inner(),
            labels: targets,
            stats: vec![],
        })
    }
}

fn main() -> advcal::Result<()> {
    type B = advcal::backend::ndarray::Train;
    let device = advcal::backend::ndarray::device();
    let model_config = SmallCnnConfig::new().with_width(4);
    let model = advcal::model::seeded_init::<B, _>(&device, 0, || model_config.init::<B>(&device));
    let train = bundled_cifar10_sample(Split::Train)?.take(256);
    let test = bundled_cifar10_sample(Split::Test)?.take(200);
    let config = TrainerConfig::new()
        .with_epochs(2)
        .with_batch_size(64)
        .with_learning_rate(1e-3);
    let optim = AdamConfig::new().init::<B, SmallCnn<B>>();
    let out = Fit::new(model, optim, &mut NoiseMix(UniformNoise::default()), &train)
        .with_eval(&test)
        .with_identity("small_cnn", &model_config)
        .run(&config, &device)?;
    let last = out.history.last().expect("one epoch at least");
    println!(
        "final training loss {:.4}, eval ECE {:.4}",
        last.train_loss,
        last.eval.as_ref().map(|r| r.ece).unwrap_or(f64::NAN)
    );
    Ok(())
}
