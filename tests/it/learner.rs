//! burn-train integration: strategies as the Learner's step, exact calibration metrics,
//! evaluation attacks, failures and the multi-device path on CPU devices.

use crate::common::*;
use advcal::Error;
use advcal::attack::{AttackConfig, IaaConfig, PgdConfig};
use advcal::data::{ImageDataset, Split};
use advcal::eval::{EvaluationConfig, evaluate, evaluate_under};
use advcal::learner::{CalibrationMetric, ImageBatch, ImageBatcher, StrategyModel};
use advcal::model::{Classifier, SmallCnn};
use advcal::train::{
    BatchContext, Iat, IatConfig, PersistentNoiseConfig, PgdAt, PgdAtConfig, Plain, StrategyStep,
    TrainingStrategy,
};
use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::module::AutodiffModule;
use burn::optim::SgdConfig;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use burn::train::metric::{AccuracyMetric, LossMetric};
use burn::train::{
    ExecutionStrategy, Learner, LearningResult, MultiDeviceOptim, SupervisedTraining,
};
use std::path::Path;
use std::sync::Arc;

fn data() -> (ImageDataset, ImageDataset) {
    (sample(Split::Train).take(96), sample(Split::Test).take(64))
}

type Loader<B> = Arc<dyn DataLoader<B, ImageBatch<B>>>;

/// burn-train's loaders over our batcher: training batches of `train_batch` (shuffled with
/// `shuffle` when given), validation in batches of 32 in order.
fn loaders(
    train: ImageDataset,
    valid: ImageDataset,
    train_batch: usize,
    shuffle: Option<u64>,
) -> (Loader<AD>, Loader<NB>) {
    let batcher = ImageBatcher::for_dataset(&train);
    let mut train_builder = DataLoaderBuilder::new(batcher).batch_size(train_batch);
    if let Some(seed) = shuffle {
        train_builder = train_builder.shuffle(seed);
    }
    let valid_loader = DataLoaderBuilder::new(batcher).batch_size(32).build(valid);
    (train_builder.build(train), valid_loader)
}

/// Count-weighted mean of a burn-train numeric log (`value,count` per line): how burn-train
/// itself aggregates an epoch.
fn epoch_mean(dir: &Path, split: &str, epoch: usize, metric: &str) -> f64 {
    let file = dir
        .join(split)
        .join(format!("epoch-{epoch}"))
        .join(format!("{}.log", metric.replace(' ', "_")));
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
    let (mut sum, mut count) = (0.0, 0usize);
    for line in text.lines().filter(|l| !l.is_empty()) {
        let (v, c) = line.split_once(',').expect("value,count");
        let (v, c): (f64, usize) = (v.parse().unwrap(), c.parse().unwrap());
        sum += v * c as f64;
        count += c;
    }
    assert!(count > 0, "{} is empty", file.display());
    sum / count as f64
}

#[test]
fn learner_trains_a_strategy_and_logs_exact_calibration_under_attack() {
    let dir = tempfile::tempdir().unwrap();
    let (train, valid) = data();
    let initial = tiny_cnn(4, 3);
    let before = snapshot::<AD, _>(&initial);
    // Deterministic evaluation attacks (no random start) so the logged numbers can be recomputed.
    let pgd = PgdConfig::new()
        .with_epsilon(0.03)
        .with_steps(2)
        .with_random_start(false);
    let iaa = IaaConfig::new().with_epsilon(0.03).with_steps(2);
    let strategy = PgdAt::new(PgdAtConfig::new().with_attack(pgd.clone().with_random_start(true)));
    let (train_loader, valid_loader) = loaders(train, valid.clone(), 32, Some(1));
    let training = SupervisedTraining::new(dir.path(), train_loader, valid_loader)
        .with_application_logger(None)
        .metrics((AccuracyMetric::new(), LossMetric::new()))
        .metric_valid_numeric(CalibrationMetric::ece())
        .metric_valid_numeric(CalibrationMetric::mcs())
        .metric_valid_numeric(CalibrationMetric::ece().under_attack("pgd@0.03"))
        .metric_valid_numeric(CalibrationMetric::confidence().under_attack("iaa@0.03"))
        .num_epochs(2);
    let model = StrategyModel::new(initial, strategy)
        .unwrap()
        .with_seed(5)
        .with_eval_attacks(vec![
            AttackConfig::Pgd(pgd.clone()),
            AttackConfig::Iaa(iaa.clone()),
        ])
        .with_interrupter(training.interrupter());
    let failures = model.failures();
    let optim = SgdConfig::new().init();
    let LearningResult { model, .. } = training.launch(Learner::new(model, optim, 0.05));
    failures.check().unwrap();
    let trained: SmallCnn<NB> = model.into_model();
    assert_ne!(
        snapshot::<NB, _>(&trained),
        before,
        "training must move the weights"
    );

    // The validation epoch ran on the final weights: burn-train's own aggregate of our
    // telescoped entries must equal an independent evaluation of the whole set.
    let clean = evaluate(
        &trained,
        &valid,
        &EvaluationConfig::new().with_batch_size(64),
        &dev(),
    )
    .unwrap()
    .report;
    assert!((epoch_mean(dir.path(), "valid", 2, "ECE") - clean.ece).abs() < 1e-5);
    assert!((epoch_mean(dir.path(), "valid", 2, "MCS") - clean.mcs).abs() < 1e-5);
    let autodiff = SmallCnn::<AD>::from_inner(trained.clone());
    let under = |attack: AttackConfig| {
        let config = EvaluationConfig::new().with_batch_size(32);
        let budget = attack.budget().at(0.03);
        evaluate_under(&attack, &autodiff, &valid, budget, &config, &dev())
            .unwrap()
            .report
    };
    let pgd_eval = under(AttackConfig::Pgd(pgd));
    let logged = epoch_mean(dir.path(), "valid", 2, "ECE [pgd@0.03]");
    assert!(
        (logged - pgd_eval.ece).abs() < 1e-5,
        "logged {logged} vs recomputed {}",
        pgd_eval.ece
    );
    let iaa_eval = under(AttackConfig::Iaa(iaa));
    let logged = epoch_mean(dir.path(), "valid", 2, "CONF [iaa@0.03]");
    assert!((logged - iaa_eval.confidence).abs() < 1e-5);
    // IAA lowers confidence, the whole point of the attack.
    assert!(iaa_eval.confidence < clean.confidence);
    // Training metrics were logged for both epochs.
    assert!(epoch_mean(dir.path(), "train", 1, "Loss").is_finite());
    assert!(epoch_mean(dir.path(), "train", 2, "Loss").is_finite());
}

#[test]
fn learner_multi_device_path_runs_on_cpu_devices() {
    let dir = tempfile::tempdir().unwrap();
    let (train, valid) = data();
    let initial = tiny_cnn(4, 4);
    let before = snapshot::<AD, _>(&initial);
    let (train_loader, valid_loader) = loaders(train, valid.clone(), 16, Some(2));
    // NdArray has one device kind; listing it twice still runs burn's multi-device strategy:
    // the loader is split in two, one worker thread per "device", gradients summed on the first.
    let training = SupervisedTraining::new(dir.path(), train_loader, valid_loader)
        .with_application_logger(None)
        .metrics((LossMetric::new(),))
        .metric_valid_numeric(CalibrationMetric::ece())
        .with_training_strategy(
            ExecutionStrategy::MultiDevice(vec![dev(), dev()], MultiDeviceOptim::OptimMainDevice)
                .into(),
        )
        .num_epochs(1);
    let model = StrategyModel::new(initial, Plain)
        .unwrap()
        .with_interrupter(training.interrupter());
    let failures = model.failures();
    let result = training.launch(Learner::new(model, SgdConfig::new().init(), 0.05));
    failures.check().unwrap();
    let trained = result.model.into_model();
    assert_ne!(snapshot::<NB, _>(&trained), before);
    let clean = evaluate(
        &trained,
        &valid,
        &EvaluationConfig::new().with_batch_size(64),
        &dev(),
    )
    .unwrap()
    .report;
    assert!((epoch_mean(dir.path(), "valid", 1, "ECE") - clean.ece).abs() < 1e-5);
}

#[test]
fn stateful_strategies_are_refused_with_a_typed_error() {
    let persistent = Iat::new(IatConfig::new().with_persistent(Some(PersistentNoiseConfig::new())));
    let err = StrategyModel::<AD, _, _>::new(tiny_cnn(4, 0), persistent).unwrap_err();
    assert!(matches!(err, Error::InvalidParameter { .. }), "{err}");
    // The stateless IAT is accepted, and the wrapper's record is the classifier's record.
    let model = tiny_cnn(4, 0);
    let wrapped =
        StrategyModel::<AD, _, _>::new(model.clone(), Iat::new(IatConfig::new())).unwrap();
    assert_eq!(snapshot::<AD, _>(&wrapped), snapshot::<AD, _>(&model));
}

/// A strategy that always fails, to check that errors come back typed and stop the run.
#[derive(Debug, Clone)]
struct Broken;

impl<B: AutodiffBackend, M: Classifier<B>> TrainingStrategy<B, M> for Broken {
    fn name(&self) -> String {
        "broken".into()
    }
    fn step(
        &mut self,
        _model: &M,
        _images: Tensor<B::InnerBackend, 4>,
        _labels: Tensor<B::InnerBackend, 1, Int>,
        _ctx: BatchContext<'_>,
    ) -> advcal::Result<StrategyStep<B>> {
        Err(Error::param("broken", "fails on purpose"))
    }
}

#[test]
fn a_failing_step_is_reported_and_leaves_the_weights_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (train, valid) = data();
    let initial = tiny_cnn(4, 6);
    let before = snapshot::<AD, _>(&initial);
    let (train_loader, valid_loader) = loaders(train, valid, 32, None);
    let training = SupervisedTraining::new(dir.path(), train_loader, valid_loader)
        .with_application_logger(None)
        .metrics((LossMetric::new(),))
        .num_epochs(3);
    let model = StrategyModel::new(initial, Broken)
        .unwrap()
        .with_interrupter(training.interrupter());
    let failures = model.failures();
    let result = training.launch(Learner::new(model, SgdConfig::new().init(), 0.05));
    let err = failures.check().unwrap_err();
    assert!(
        matches!(err, Error::StepFailed(ref m) if m.contains("fails on purpose")),
        "{err}"
    );
    assert_eq!(snapshot::<NB, _>(&result.model.into_model()), before);
    // The interrupter stopped the run in the first epoch.
    assert!(!dir.path().join("train").join("epoch-2").exists());
}
