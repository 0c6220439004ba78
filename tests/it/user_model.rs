//! A user's model built from stock burn-nn layers (Conv2d, BatchNorm, Linear) and plugged in
//! through `Classifier`: no attack, evaluation or strategy may change it, and none may attack it
//! silently in training behaviour.

use crate::common::{AD, NB, dev, images};
use advcal::Error;
use advcal::attack::{
    Attack, AttackConfig, Budget, Fgsm, FgsmConfig, Iaa, IaaConfig, Pgd, PgdConfig, Uca, UcaConfig,
    UniformNoise, UniformNoiseConfig, run_epsilons,
};
use advcal::eval::{EvaluationConfig, evaluate, evaluate_under};
use advcal::model::{Classifier, Mode, SmallCnnConfig, batch_norm};
use advcal::train::{BatchContext, StrategyKind};
use burn::module::AutodiffModule;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

/// Conv → BatchNorm → ReLU → global average pool → Linear, written as a user would. With
/// `routed = false` it calls `bn.forward(x)` (Burn's stock behaviour: training branch on every
/// autodiff backend); with `routed = true` it goes through `advcal::model::batch_norm`.
#[derive(Module, Debug)]
pub struct UserNet<B: Backend> {
    conv: Conv2d<B>,
    bn: BatchNorm<B>,
    fc: Linear<B>,
    routed: bool,
    classes: usize,
}

impl<B: Backend> UserNet<B> {
    pub fn new(routed: bool, device: &B::Device) -> Self {
        Self {
            conv: Conv2dConfig::new([3, 6], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device),
            bn: BatchNormConfig::new(6).init(device),
            fc: LinearConfig::new(6, 10).init(device),
            routed,
            classes: 10,
        }
    }

    /// The running statistics, with any buffered update merged in.
    pub fn running(&self) -> (Vec<f32>, Vec<f32>) {
        let v = |t: Tensor<B, 1>| t.into_data().convert::<f32>().to_vec::<f32>().unwrap();
        (
            v(self.bn.running_mean.value_sync()),
            v(self.bn.running_var.value_sync()),
        )
    }
}

impl<B: Backend> Classifier<B> for UserNet<B> {
    fn forward_mode(&self, images: Tensor<B, 4>, mode: Mode) -> Tensor<B, 2> {
        let x = self.conv.forward(images);
        let x = if self.routed {
            batch_norm(&self.bn, x, mode)
        } else {
            self.bn.forward(x)
        };
        let [n, c, _, _] = x.dims();
        let x = relu(x).mean_dim(3).mean_dim(2).reshape([n, c]);
        self.fc.forward(x)
    }
    fn num_classes(&self) -> usize {
        self.classes
    }
}

/// A user model with non-default running statistics (one training step moved them).
fn user_net(routed: bool) -> UserNet<AD> {
    let model = advcal::model::seeded_init::<AD, _>(&dev(), 11, || UserNet::new(routed, &dev()));
    let x = Tensor::<AD, 4>::from_inner(images::<NB>([8, 3, 8, 8], 3, &dev()));
    let _ = model.forward_mode(x, Mode::Train);
    let (mean, _) = model.running();
    assert!(mean.iter().any(|m| m.abs() > 1e-3), "setup: stats moved");
    model
}

fn batch() -> (Tensor<NB, 4>, Tensor<NB, 1, Int>) {
    let x = images::<NB>([8, 3, 8, 8], 5, &dev());
    let y = Tensor::<NB, 1, Int>::from_ints([0, 1, 2, 3, 4, 5, 6, 7], &dev());
    (x, y)
}

type NamedAttacks = Vec<(&'static str, Box<dyn Attack<AD, UserNet<AD>>>)>;

fn attacks() -> NamedAttacks {
    let eps = 8.0 / 255.0;
    vec![
        (
            "fgsm",
            Box::new(Fgsm::new(FgsmConfig::new().with_epsilon(eps))),
        ),
        (
            "pgd",
            Box::new(Pgd::new(PgdConfig::new().with_epsilon(eps).with_steps(2))),
        ),
        (
            "iaa",
            Box::new(Iaa::new(IaaConfig::new().with_epsilon(eps).with_steps(2))),
        ),
        (
            "uca",
            Box::new(Uca::new(UcaConfig::new().with_epsilon(eps).with_steps(2))),
        ),
        (
            "noise",
            Box::new(UniformNoise::new(
                UniformNoiseConfig::new().with_epsilon(eps),
            )),
        ),
        (
            "config",
            Box::new(AttackConfig::Pgd(
                PgdConfig::new().with_epsilon(eps).with_steps(1),
            )),
        ),
    ]
}

fn assert_training_behaviour_error<T: std::fmt::Debug>(what: &str, result: advcal::Result<T>) {
    match result {
        Err(Error::TrainingBehaviourInEval { max_difference }) => {
            assert!(max_difference > 1e-3, "{what}: {max_difference}")
        }
        other => panic!("{what}: expected TrainingBehaviourInEval, got {other:?}"),
    }
}

#[test]
fn stock_batchnorm_is_refused_by_every_attack_and_never_modified() {
    let model = user_net(false);
    let before = model.running();
    let (x, y) = batch();
    for (name, attack) in attacks() {
        let result = attack.perturb(&model, x.clone(), y.clone());
        assert_training_behaviour_error(name, result);
        assert_eq!(
            model.running(),
            before,
            "{name} changed the running statistics"
        );
        let multi = run_epsilons::<AD, _, _>(&attack, &model, x.clone(), y.clone(), &[0.01, 0.02]);
        assert_training_behaviour_error(name, multi);
        assert_eq!(model.running(), before, "{name} (run_epsilons)");
    }
    let data = crate::common::toy_dataset(8, 3);
    let pgd = Pgd::new(PgdConfig::new().with_steps(1));
    let config = EvaluationConfig::new().with_batch_size(4);
    let eval = evaluate_under(&pgd, &model, &data, Budget::new(0.03), &config, &dev());
    assert_training_behaviour_error("evaluate_under", eval);
    assert_eq!(model.running(), before, "evaluate_under");
}

#[test]
fn stock_batchnorm_is_refused_by_every_strategy_before_training_changes_it() {
    let model = user_net(false);
    let before = model.running();
    let (x, y) = batch();
    let indices: Vec<usize> = (0..8).collect();
    let ctx = BatchContext {
        seed: 1,
        indices: &indices,
        epoch: 0,
    };
    for kind in StrategyKind::ALL {
        if kind == StrategyKind::Plain {
            continue; // no inner attack: plain training is meant to update the statistics
        }
        let mut strategy = kind.build::<AD, UserNet<AD>>(1).unwrap();
        let result = strategy.step(&model, x.clone(), y.clone(), ctx);
        assert_training_behaviour_error(kind.name(), result);
        assert_eq!(model.running(), before, "{} changed the model", kind.name());
    }
}

#[test]
fn evaluate_refuses_an_autodiff_model_and_accepts_its_inference_copy() {
    let model = user_net(false);
    let before = model.running();
    let data = crate::common::toy_dataset(8, 3);
    let config = EvaluationConfig::new().with_batch_size(4);
    match evaluate(&model, &data, &config, &dev()) {
        Err(Error::AutodiffModelForInference { function }) => {
            assert_eq!(function, "evaluate")
        }
        other => panic!("expected AutodiffModelForInference, got {other:?}"),
    }
    let report = evaluate(&model.valid(), &data, &config, &dev())
        .unwrap()
        .report;
    assert_eq!(report.n, 8);
    assert_eq!(model.running(), before);
}

#[test]
fn routed_batchnorm_is_attacked_in_inference_behaviour_and_left_untouched() {
    let model = user_net(true);
    let before = model.running();
    let inference = model.valid();
    let (x, y) = batch();
    for (name, attack) in attacks() {
        let out = attack.perturb(&model, x.clone(), y.clone()).unwrap();
        assert_eq!(
            model.running(),
            before,
            "{name} changed the running statistics"
        );
        // Per-sample outputs do not depend on the batch: every attacked image alone gives the
        // logits the attack reported for it inside the batch.
        for i in 0..8 {
            let alone = inference.forward_mode(out.adversarial.clone().narrow(0, i, 1), Mode::Eval);
            let inside = out.logits.clone().narrow(0, i, 1);
            let diff: f32 = (alone - inside).abs().max().into_scalar();
            assert!(diff < 1e-4, "{name}: image {i} differs by {diff}");
        }
    }
    let results = run_epsilons::<AD, _, _>(
        &attacks().remove(1).1,
        &model,
        x.clone(),
        y.clone(),
        &[0.01, 0.03],
    )
    .unwrap();
    assert_eq!(results.len(), 2);
    let data = crate::common::toy_dataset(8, 3);
    let pgd = Pgd::new(PgdConfig::new().with_steps(1));
    let config = EvaluationConfig::new().with_batch_size(4);
    evaluate_under(&pgd, &model, &data, Budget::new(0.03), &config, &dev()).unwrap();
    assert_eq!(model.running(), before);
}

#[test]
fn explicit_training_mode_attacks_leave_the_model_untouched() {
    // Mode::Train is an explicit request: allowed, but on a decoupled copy.
    let model = user_net(false);
    let before = model.running();
    let (x, y) = batch();
    let pgd = Pgd::new(
        PgdConfig::new()
            .with_epsilon(0.03)
            .with_steps(2)
            .with_mode(Mode::Train),
    );
    pgd.perturb(&model, x, y).unwrap();
    assert_eq!(model.running(), before);
}

#[test]
fn channel_and_class_mismatches_are_typed_errors() {
    // The crate's models know their input channels: checked before any work.
    let cnn = SmallCnnConfig::new().with_width(2).init::<AD>(&dev());
    let gray = images::<NB>([2, 1, 8, 8], 1, &dev());
    let y = Tensor::<NB, 1, Int>::from_ints([0, 1], &dev());
    let pgd = Pgd::new(PgdConfig::new().with_steps(1));
    match Attack::<AD, _>::perturb(&pgd, &cnn, gray.clone(), y.clone()) {
        Err(Error::ChannelMismatch { expected, found }) => assert_eq!((expected, found), (3, 1)),
        other => panic!("expected ChannelMismatch, got {other:?}"),
    }
    // A user model that does not declare them: its convolution's failure becomes an error.
    let user = user_net(true);
    match Attack::<AD, _>::perturb(&pgd, &user, gray, y.clone()) {
        Err(Error::ModelForward(_)) | Err(Error::ChannelMismatch { .. }) => {}
        other => panic!("expected a typed shape error, got {other:?}"),
    }
    // A model whose logits do not have `num_classes()` columns.
    let mut wrong = user_net(true);
    wrong.classes = 5;
    let x = images::<NB>([2, 3, 8, 8], 1, &dev());
    match Attack::<AD, _>::perturb(&pgd, &wrong, x, y) {
        Err(Error::ClassCountMismatch { declared, logits }) => {
            assert_eq!((declared, logits), (5, vec![1, 10]))
        }
        other => panic!("expected ClassCountMismatch, got {other:?}"),
    }
}
