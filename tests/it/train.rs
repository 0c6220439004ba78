//! Training strategies and the trainer.

use crate::common::*;
use advcal::Error;
use advcal::attack::IaaConfig;
use advcal::data::{ImageDataset, Split};
use advcal::model::{Classifier, Mode, SmallCnn, SmallCnnConfig};
use advcal::train::*;
use approx::assert_abs_diff_eq;
use burn::module::AutodiffModule;
use burn::optim::{AdamConfig, GradientsParams, Optimizer, SgdConfig, momentum::MomentumConfig};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

fn tiny_data(n: usize) -> ImageDataset {
    sample(Split::Train).take(n)
}

fn ctx(seed: u64) -> BatchContext<'static> {
    BatchContext {
        seed,
        indices: &[],
        epoch: 0,
    }
}

/// Trains on one fixed batch for `steps` steps and returns (loss before, loss after), both
/// measured with the same batch seed.
fn overfit<B: AutodiffBackend, S: TrainingStrategy<B, SmallCnn<B>>>(
    strategy: &mut S,
    device: &B::Device,
) -> (f64, f64, Vec<&'static str>) {
    let mut model = advcal::model::seeded_init::<B, _>(device, 7, || {
        SmallCnnConfig::new().with_width(4).init::<B>(device)
    });
    let mut optim = AdamConfig::new().init::<B, SmallCnn<B>>();
    let batch = tiny_data(16).to_batch();
    let (x, y) = batch.to_tensors::<B::InnerBackend>(device);
    let loss_of = |s: &mut S, m: &SmallCnn<B>| {
        s.step(m, x.clone(), y.clone(), ctx(3))
            .unwrap()
            .loss
            .into_scalar()
            .elem::<f64>()
    };
    let before = loss_of(strategy, &model);
    let names = strategy
        .step(&model, x.clone(), y.clone(), ctx(3))
        .unwrap()
        .stats
        .iter()
        .map(|(n, _)| *n)
        .collect();
    for i in 0..12 {
        let out = strategy
            .step(&model, x.clone(), y.clone(), ctx(100 + i))
            .unwrap();
        let grads = GradientsParams::from_grads(out.loss.backward(), &model);
        model = optim.step(0.01, model, grads);
    }
    let after = loss_of(strategy, &model);
    (before, after, names)
}

#[test]
#[cfg(feature = "flex")]
fn every_strategy_lowers_its_training_loss() {
    let d = Default::default();
    use advcal::attack::{PgdConfig, StepSize};
    let pgd = PgdConfig::new()
        .with_steps(3)
        .with_step_size(StepSize::Absolute(4.0 / 255.0));
    let iaa = IaaConfig::new().with_epsilon(8.0 / 255.0).with_steps(3);
    let mut strategies: Vec<Box<dyn TrainingStrategy<FAD, SmallCnn<FAD>>>> = vec![
        Box::new(Plain),
        Box::new(PgdAt::new(PgdAtConfig::new().with_attack(pgd.clone()))),
        Box::new(Iat::new(IatConfig::new().with_attack(iaa.clone()))),
        Box::new(Iat::new(
            IatConfig::new()
                .with_attack(iaa.clone())
                .with_correct_only(true)
                .with_clean_weight(0.5),
        )),
        Box::new(AtIat::new(
            AtIatConfig::new()
                .with_pgd(pgd.clone())
                .with_iaa(iaa.clone()),
        )),
        Box::new(AtIat::new(
            AtIatConfig::new()
                .with_pgd(pgd.clone())
                .with_iaa(iaa)
                .with_mix(AtIatMix::Split),
        )),
        Box::new(Ccat::new(CcatConfig::new().with_steps(4))),
        // The signed ACE term flips sign when a prediction becomes correct, so with a large β the
        // loss is not monotone in training progress; β = 0.2 keeps the test about optimisation.
        Box::new(AceAt::new(
            AceAtConfig::new().with_attack(pgd.clone()).with_beta(0.2),
        )),
        Box::new(AceAt::new(
            AceAtConfig::new()
                .with_attack(pgd)
                .with_variant(AceVariant::EntropyBonus),
        )),
    ];
    for s in strategies.iter_mut() {
        let (before, after, stats) = overfit::<FAD, _>(s, &d);
        assert!(after < before, "{}: loss {before} -> {after}", s.name());
        match s.name().as_str() {
            "at-iat" | "at-iat-split" => {
                assert_eq!(stats[..2], ["acc_pgd", "acc_iaa"]);
                assert_eq!(stats[2..], IAE_STATS);
            }
            "iat" => assert_eq!(stats, IAE_STATS),
            "ccat" => assert_eq!(stats, vec!["acc_clean", "acc_adv"]),
            "ace-at" => assert_eq!(stats, vec!["acc_adv"]),
            _ => {}
        }
    }
}

/// The IAA diagnostics `Iat` and `AtIat` log (in this order).
const IAE_STATS: [&str; 7] = [
    "iae_correct",
    "clean_correct",
    "iae_kept",
    "iae_fixed",
    "clean_conf",
    "iae_conf",
    "iae_unperturbed",
];

#[test]
fn ccat_target_matches_hand_computation() {
    // λ = (1 − min(1, δ/ε))^ρ; q = λ·onehot + (1 − λ)/K.
    let q = ccat_target::<NB>(
        labels::<NB>(&[1, 0, 2], &dev()),
        Tensor::from_floats([0.015, 0.03, 0.0], &dev()),
        0.03,
        2.0,
        4,
    );
    let q = to_vec(q);
    // Row 0: λ = 0.25 → [0.1875, 0.4375, 0.1875, 0.1875]; row 1: λ = 0 → uniform; row 2: one-hot.
    let expected = [
        0.1875, 0.4375, 0.1875, 0.1875, 0.25, 0.25, 0.25, 0.25, 0.0, 0.0, 1.0, 0.0,
    ];
    for (a, b) in q.iter().zip(expected) {
        assert_abs_diff_eq!(*a, b, epsilon = 1e-6);
    }
}

#[test]
fn ace_loss_matches_hand_computation() {
    // Logits [ln 3, 0] (p = [0.75, 0.25]): CE(y=0) = ln(4/3); normalised entropy
    // H̄ = −(0.75 ln 0.75 + 0.25 ln 0.25)/ln 2 = 0.8112781.
    let z = Tensor::<NB, 2>::from_floats([[3f32.ln(), 0.0], [3f32.ln(), 0.0]], &dev());
    let y = labels::<NB>(&[0, 1], &dev());
    let h = 0.8112781f32;
    let ce0 = (4.0f32 / 3.0).ln();
    let ce1 = 4f32.ln();
    let signed = to_vec(ace_loss(z.clone(), y.clone(), 0.5, AceVariant::Signed));
    assert_abs_diff_eq!(signed[0], ce0 + 0.5 * h, epsilon = 1e-5); // correct → +β·H̄
    assert_abs_diff_eq!(signed[1], ce1 - 0.5 * h, epsilon = 1e-5); // wrong → −β·H̄
    let bonus = to_vec(ace_loss(z, y, 0.5, AceVariant::EntropyBonus));
    assert_abs_diff_eq!(bonus[0], ce0 - 0.5 * h, epsilon = 1e-5);
}

fn eval_logits<M: AutodiffModule<AD>>(model: &M) -> Vec<f32>
where
    M::InnerModule: Classifier<NB>,
{
    let x = sample(Split::Test)
        .take(4)
        .to_batch()
        .images_tensor::<NB>(&dev());
    to_vec(model.valid().forward_mode(x, Mode::Eval))
}

fn sgd() -> impl Optimizer<SmallCnn<AD>, AD> {
    SgdConfig::new()
        .with_momentum(Some(
            MomentumConfig::new().with_momentum(0.9).with_dampening(0.0),
        ))
        .init::<AD, SmallCnn<AD>>()
}

fn run_fit<S: TrainingStrategy<AD, SmallCnn<AD>>>(
    strategy: &mut S,
    config: &TrainerConfig,
    init: &SmallCnn<AD>,
) -> advcal::Result<TrainOutcome<SmallCnn<AD>>> {
    let cfg = SmallCnnConfig::new().with_width(2);
    // An independent copy of the initial weights (a clone would share BatchNorm state).
    let model = cfg
        .init::<AD>(&dev())
        .load_record(init.clone().into_record());
    Fit::new(model, sgd(), strategy, &tiny_data(24))
        .with_identity("small_cnn", &cfg)
        .run(config, &dev())
}

fn init_model() -> SmallCnn<AD> {
    advcal::model::seeded_init::<AD, _>(&dev(), 1, || {
        SmallCnnConfig::new().with_width(2).init::<AD>(&dev())
    })
}

fn trainer(epochs: usize) -> TrainerConfig {
    TrainerConfig::new()
        .with_epochs(epochs)
        .with_batch_size(8)
        .with_learning_rate(0.05)
        .with_seed(9)
        .with_verbose(false)
}

#[test]
fn training_is_deterministic_and_iat_at_zero_epsilon_is_plain_training() {
    let init = init_model();
    let a = run_fit(&mut Plain, &trainer(1), &init).unwrap();
    let b = run_fit(&mut Plain, &trainer(1), &init).unwrap();
    assert_eq!(
        eval_logits(&a.model),
        eval_logits(&b.model),
        "same seed, different weights"
    );
    assert_eq!(a.history[0].train_loss, b.history[0].train_loss);
    let mut iat0 =
        Iat::new(IatConfig::new().with_attack(IaaConfig::new().with_epsilon(0.0).with_steps(2)));
    let c = run_fit(&mut iat0, &trainer(1), &init).unwrap();
    assert_eq!(
        eval_logits(&a.model),
        eval_logits(&c.model),
        "IAT with ε = 0 differs from PT"
    );
    let d = run_fit(&mut Plain, &trainer(1).with_seed(10), &init).unwrap();
    assert_ne!(eval_logits(&a.model), eval_logits(&d.model));
}

#[test]
fn resume_equals_uninterrupted_training() {
    let init = init_model();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let straight = run_fit(&mut Plain, &trainer(2), &init).unwrap();
    let cfg = trainer(2).with_output_dir(Some(dir.to_string_lossy().into_owned()));
    let first = run_fit(
        &mut Plain,
        &cfg.clone().with_stop_after_epochs(Some(1)),
        &init,
    )
    .unwrap();
    assert_eq!(first.history.len(), 1);
    assert!(
        dir.join("last.ckpt").exists()
            && dir.join("history.json").exists()
            && dir.join("history.csv").exists()
    );
    // A fresh process would start from a fresh model: resume must restore everything.
    let resumed = run_fit(&mut Plain, &cfg, &init_model()).unwrap();
    assert_eq!(resumed.resumed_from, 1);
    assert_eq!(resumed.history.len(), 2);
    assert_eq!(
        eval_logits(&straight.model),
        eval_logits(&resumed.model),
        "resume diverged from uninterrupted training"
    );
    assert_eq!(
        straight.history[1].train_loss,
        resumed.history[1].train_loss
    );
    let csv = std::fs::read_to_string(dir.join("history.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3);
}

/// `warmup_epochs` is `warmup_epochs · ⌈N / batch⌉` warm-up steps (24 images, batch 8: 3
/// steps per epoch): the same learning rates and the same model; setting both is an error.
#[test]
fn warmup_epochs_are_steps_per_epoch_warmup_steps() {
    let init = init_model();
    let by_epochs = run_fit(&mut Plain, &trainer(2).with_warmup_epochs(1), &init).unwrap();
    let by_steps = run_fit(&mut Plain, &trainer(2).with_warmup_steps(3), &init).unwrap();
    let plain = run_fit(&mut Plain, &trainer(2), &init).unwrap();
    let lrs = |o: &TrainOutcome<SmallCnn<AD>>| -> Vec<f64> {
        o.history.iter().map(|r| r.learning_rate).collect()
    };
    assert_eq!(lrs(&by_epochs), lrs(&by_steps));
    assert_eq!(
        snapshot::<AD, _>(&by_epochs.model),
        snapshot::<AD, _>(&by_steps.model)
    );
    // The warm-up changed the run (the first epoch ends at lr 0.05 with it, below without).
    assert_ne!(
        snapshot::<AD, _>(&by_epochs.model),
        snapshot::<AD, _>(&plain.model)
    );
    let both = trainer(2).with_warmup_epochs(1).with_warmup_steps(3);
    assert!(matches!(
        run_fit(&mut Plain, &both, &init),
        Err(Error::InvalidParameter { .. })
    ));
}

#[test]
fn resume_refuses_another_schedule() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let cfg = trainer(2).with_output_dir(Some(dir.to_string_lossy().into_owned()));
    run_fit(
        &mut Plain,
        &cfg.clone().with_stop_after_epochs(Some(1)),
        &init_model(),
    )
    .unwrap();
    // A warm-up, another learning rate or another length would change the steps already taken.
    for changed in [
        cfg.clone().with_warmup_steps(3),
        cfg.clone().with_warmup_epochs(1),
        cfg.clone().with_learning_rate(cfg.learning_rate * 2.0),
        cfg.clone().with_epochs(3),
    ] {
        let err = run_fit(&mut Plain, &changed, &init_model()).unwrap_err();
        assert!(
            matches!(&err, Error::Checkpoint { reason, .. } if reason.contains("started with")),
            "{err}"
        );
    }
    // The same rule for a caller that reuses a checkpoint without running.
    let path = dir.join("last.ckpt");
    let meta = advcal::checkpoint::read_checkpoint(&path).unwrap().meta;
    cfg.check_schedule_of(&path, &meta, 24).unwrap();
    let err = cfg
        .clone()
        .with_batch_size(cfg.batch_size + 1)
        .check_schedule_of(&path, &meta, 24)
        .unwrap_err();
    assert!(
        matches!(&err, Error::Checkpoint { reason, .. } if reason.contains("batch_size")),
        "{err}"
    );
    // The warm-up is compared in steps (24 images, batch 8: 3 steps per epoch). A checkpoint
    // written before `warmup_epochs` existed stores only the resolved `warmup_steps`.
    let mut legacy = meta.clone();
    let trainer_json = legacy.training["trainer"].as_object_mut().unwrap();
    trainer_json.remove("warmup_epochs");
    trainer_json.insert("warmup_steps".into(), 3.into());
    let warm = cfg.clone().with_warmup_epochs(1);
    warm.check_schedule_of(&path, &legacy, 24).unwrap();
    cfg.clone()
        .with_warmup_steps(3)
        .check_schedule_of(&path, &legacy, 24)
        .unwrap();
    // ... and its absence means no warm-up, which a warm-up now contradicts.
    let refused = |cfg: &TrainerConfig, meta: &advcal::checkpoint::CheckpointMeta| {
        matches!(
            cfg.check_schedule_of(&path, meta, 24),
            Err(Error::Checkpoint { reason, .. }) if reason.contains("warm-up")
        )
    };
    assert!(refused(&cfg, &legacy));
    assert!(refused(&warm, &meta));
    assert!(refused(&cfg.clone().with_warmup_epochs(2), &legacy));
    // The same schedule still resumes (stopping early is not part of the schedule).
    assert_eq!(
        run_fit(&mut Plain, &cfg, &init_model())
            .unwrap()
            .resumed_from,
        1
    );
}

/// A strategy whose loss becomes NaN in the second epoch.
struct NanAfterFirstEpoch;
impl<B: AutodiffBackend, M: Classifier<B>> TrainingStrategy<B, M> for NanAfterFirstEpoch {
    fn name(&self) -> String {
        "nan".into()
    }
    fn step(
        &mut self,
        model: &M,
        x: Tensor<B::InnerBackend, 4>,
        y: Tensor<B::InnerBackend, 1, Int>,
        ctx: BatchContext<'_>,
    ) -> advcal::Result<StrategyStep<B>> {
        let mut out = Plain.step(model, x, y, ctx)?;
        if ctx.epoch >= 1 {
            out.loss = out.loss.mul_scalar(f32::NAN);
        }
        Ok(out)
    }
}

#[test]
fn nan_loss_stops_with_an_error_and_keeps_the_last_good_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = trainer(3).with_output_dir(Some(tmp.path().to_string_lossy().into_owned()));
    let err = run_fit(&mut NanAfterFirstEpoch, &cfg, &init_model()).unwrap_err();
    assert!(matches!(err, Error::NonFiniteLoss { .. }), "{err}");
    let file = advcal::checkpoint::read_checkpoint(tmp.path().join("last.ckpt")).unwrap();
    assert_eq!(file.meta.epoch, 1);
}

#[test]
fn schedules() {
    let warm = LrSchedule::Constant;
    assert_abs_diff_eq!(warm.lr(0.1, 0, 100, 10), 0.01, epsilon = 1e-12);
    assert_abs_diff_eq!(warm.lr(0.1, 9, 100, 10), 0.1, epsilon = 1e-12);
    let cos = LrSchedule::Cosine;
    assert_abs_diff_eq!(cos.lr(0.1, 0, 100, 0), 0.1, epsilon = 1e-12);
    assert!(cos.lr(0.1, 99, 100, 0) < 0.001);
    let ms = LrSchedule::MultiStep {
        milestones: vec![0.75, 0.9],
        gamma: 0.1,
    };
    assert_abs_diff_eq!(ms.lr(0.1, 95, 100, 0), 0.001, epsilon = 1e-12);
}

#[test]
fn persistent_iat_keeps_one_noise_per_example_inside_the_ball() {
    let eps = 8.0 / 255.0;
    let steps = 4;
    let alpha = eps / steps as f32;
    let make = |k: usize| {
        Iat::new(
            IatConfig::new()
                .with_attack(IaaConfig::new().with_epsilon(eps).with_steps(steps))
                .with_persistent(Some(PersistentNoiseConfig::new().with_steps_per_visit(k))),
        )
    };
    let model = init_model();
    let batch = tiny_data(6).to_batch();
    let indices: Vec<usize> = (100..106).collect();
    let (x, y) = batch.to_tensors::<NB>(&dev());
    let visit = |s: &mut Iat, seed: u64| {
        let c = BatchContext {
            seed,
            indices: &indices,
            epoch: 0,
        };
        let out = TrainingStrategy::<AD, _>::step(s, &model, x.clone(), y.clone(), c).unwrap();
        assert!(out.loss.into_scalar().elem::<f64>().is_finite());
        indices
            .iter()
            .flat_map(|i| s.stored_noise(*i).unwrap().to_vec())
            .collect::<Vec<f32>>()
    };
    // Zero steps per visit: the stored noise is reused unchanged.
    let mut frozen = make(0);
    let first = visit(&mut frozen, 1);
    assert_eq!(frozen.bank_len(), 6);
    assert!(first.iter().all(|v| v.abs() <= eps + 1e-6));
    assert!(
        first.iter().any(|v| v.abs() > 0.0),
        "the full IAA found no noise"
    );
    assert_eq!(visit(&mut frozen, 2), first);
    // One step per visit: every pixel moves by at most α and stays in the ε-ball.
    let mut moving = make(1);
    let first = visit(&mut moving, 1);
    let second = visit(&mut moving, 2);
    assert_ne!(first, second);
    assert!(second.iter().all(|v| v.abs() <= eps + 1e-6));
    assert!(max_abs_diff(&first, &second) <= alpha + 1e-6);
    // A batch whose indices do not match its size is rejected, not silently mis-stored.
    let bad = BatchContext {
        seed: 0,
        indices: &indices[..2],
        epoch: 0,
    };
    assert!(TrainingStrategy::<AD, _>::step(&mut moving, &model, x, y, bad).is_err());
}

#[test]
fn trainer_evaluates_under_attacks_every_epoch() {
    use advcal::attack::{AttackConfig, PgdConfig};
    let eps = 0.03;
    let cfg = SmallCnnConfig::new().with_width(2);
    let dir = tempfile::tempdir().unwrap();
    let config = trainer(1)
        .with_output_dir(Some(dir.path().to_string_lossy().into_owned()))
        .with_eval_attacks(vec![
            AttackConfig::Pgd(PgdConfig::new().with_epsilon(eps).with_steps(2)),
            AttackConfig::Iaa(IaaConfig::new().with_epsilon(eps).with_steps(2)),
        ]);
    let eval = sample(Split::Test).take(16);
    let train = tiny_data(16);
    let out = Fit::new(init_model(), sgd(), &mut Plain, &train)
        .with_eval(&eval)
        .with_identity("small_cnn", &cfg)
        .run(&config, &dev())
        .unwrap();
    let record = &out.history[0];
    let clean = record.eval.as_ref().unwrap();
    let names: Vec<&str> = record
        .eval_attacks
        .iter()
        .map(|a| a.attack.as_str())
        .collect();
    assert_eq!(names, ["pgd", "iaa"]);
    for a in &record.eval_attacks {
        assert_eq!(a.report.n, 16);
        assert!(
            a.max_linf <= eps as f64 + 1e-6,
            "{} left the ball",
            a.attack
        );
        assert!(a.pixel_range.0 >= 0.0 && a.pixel_range.1 <= 1.0);
    }
    // The attacked images really were attacked: the model's confidence moved.
    assert!(
        record
            .eval_attacks
            .iter()
            .any(|a| a.report.confidence != clean.confidence),
        "attacks left the confidence unchanged"
    );
    let csv = std::fs::read_to_string(dir.path().join("history.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(
        header.ends_with(
            "pgd@0.03_mcs,iaa@0.03_accuracy,iaa@0.03_confidence,iaa@0.03_ece,iaa@0.03_mcs"
        )
    );
    assert_eq!(
        csv.lines().nth(1).unwrap().split(',').count(),
        header.split(',').count()
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("history.json")).unwrap()).unwrap();
    assert_eq!(json[0]["eval_attacks"][1]["attack"], "iaa");
}

#[test]
fn ccat_rejects_a_clean_fraction_of_zero_or_one() {
    let model = tiny_cnn(2, 1);
    let x = images::<NB>([4, 3, 8, 8], 2, &dev());
    let y = labels::<NB>(&[0, 1, 2, 3], &dev());
    let indices = [0, 1, 2, 3];
    let ctx = BatchContext {
        seed: 0,
        indices: &indices,
        epoch: 0,
    };
    for fraction in [0.0f32, 1.0, -0.5, f32::NAN] {
        let mut ccat = Ccat::new(
            CcatConfig::new()
                .with_steps(1)
                .with_clean_fraction(fraction),
        );
        let result = TrainingStrategy::<AD, _>::step(&mut ccat, &model, x.clone(), y.clone(), ctx);
        assert!(
            matches!(
                result,
                Err(Error::InvalidParameter {
                    name: "clean_fraction",
                    ..
                })
            ),
            "{fraction}: {result:?}"
        );
    }
}

/// With a short iteration budget the inner attack still reaches the ε-ball's boundary: on a
/// linear model the gradient sign is constant, so every pixel travels the full distance the
/// step size allows (before the fix, 12 iterations at 0.005 stopped at ≈ 0.028 < ε = 0.03).
#[test]
fn ccat_inner_attack_reaches_epsilon_with_a_short_budget() {
    let config = CcatConfig::new().with_steps(12);
    assert!(config.effective_learning_rate() > config.learning_rate);
    assert_eq!(CcatConfig::new().effective_learning_rate(), 0.005);
    let ccat = Ccat::new(config);
    let model = LinearToy::<AD>::identity(4, 3.0, &dev());
    let frozen = advcal::attack::frozen_copy::<AD, _>(&model);
    let x = Tensor::<NB, 4>::full([2, 4, 1, 1], 0.5, &dev());
    let y = labels::<NB>(&[0, 1], &dev());
    let delta = ccat.inner_attack::<AD, _>(&frozen, x, y, 3).unwrap();
    let linf: f32 = delta.abs().max().into_scalar();
    assert_abs_diff_eq!(linf, 0.03, epsilon = 1e-6);
}

/// CCAT's inner search against the textbook loop written out here: evaluate the objective and
/// its gradient at the current point, take the momentum step, evaluate the candidate again, accept
/// it where it does not raise the objective (else shrink that example's step), and finally
/// compare the last iterate with the best. The library reuses the candidate's pass as the next
/// iteration's; every example must reach the same objective. Large steps on a trained model make
/// the search reject candidates in its first iterations; keeping the rejected candidate's gradient
/// instead of the current point's (the mistake the reuse invites) fails this test.
///
/// Three iterations, not many: the two searches run the same arithmetic, but a forward pass need
/// not be bit-reproducible (a parallel convolution may sum in another order: ≈ 1e-5 on the
/// objective on the machine where a 10-iteration version of this test failed), and a rounding
/// difference can flip the sign of a near-zero gradient component. Over many sign steps such
/// flips compound (that version drifted by 3e-4); over three they stay far below the gap that
/// the stale-gradient mistake opens.
#[test]
fn ccat_inner_search_matches_the_textbook_loop() {
    use advcal::attack::project_linf;
    use burn::tensor::activation::softmax;
    // Steps large enough to overshoot, so that examples are rejected and backtrack.
    let config = CcatConfig::new()
        .with_steps(3)
        .with_epsilon(0.3)
        .with_learning_rate(0.15);
    // A trained model (the bundled small CNN): its objective is curved enough to reject steps.
    let bundled =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/models/small_cnn_pt.ckpt");
    let (model, _) = advcal::checkpoint::load_any_model::<AD>(&bundled, &dev()).unwrap();
    let frozen = advcal::attack::frozen_copy::<AD, _>(&model);
    let (x, y) = tiny_data(32).to_batch().to_tensors::<NB>(&dev());
    let [m, _, _, _] = x.dims();
    let eps = config.epsilon;
    let start = project_linf(
        x.clone()
            + Tensor::<NB, 4>::from_data(
                TensorData::new(
                    advcal::rng::uniform_values(x.shape().num_elements(), 0.02, 7),
                    x.dims(),
                ),
                &dev(),
            ),
        x.clone(),
        eps,
    );
    let got = Ccat::new(config.clone())
        .inner_attack_from::<AD, _>(&frozen, x.clone(), y.clone(), start.clone())
        .unwrap();

    // −max_{k≠y} softmax, per example, on the autodiff backend.
    let objective = |point: Tensor<AD, 4>| -> Tensor<AD, 1> {
        let logits = frozen.forward_mode(point, Mode::Eval);
        let mask = Tensor::<AD, 1, Int>::from_inner(y.clone())
            .one_hot(10)
            .float();
        (softmax(logits, 1) - mask.mul_scalar(2.0))
            .max_dim(1)
            .reshape([m])
            .neg()
    };
    let values = |point: &Tensor<NB, 4>| -> Vec<f32> {
        objective(Tensor::from_inner(point.clone()))
            .inner()
            .into_data()
            .to_vec()
            .unwrap()
    };
    let mut cur = start;
    let mut best = cur.clone();
    let mut best_f = vec![f32::INFINITY; m];
    let mut momentum = cur.zeros_like();
    let mut lr = vec![config.effective_learning_rate(); m];
    // Rejections before the last iteration: only those make the next gradient matter.
    let mut rejections = 0;
    let rows = |mask: &[bool]| {
        Tensor::<NB, 1>::from_floats(
            mask.iter()
                .map(|&b| if b { 1.0 } else { 0.0 })
                .collect::<Vec<f32>>()
                .as_slice(),
            &dev(),
        )
        .reshape([m, 1, 1, 1])
    };
    for step in 0..config.steps {
        let leaf = Tensor::<AD, 4>::from_inner(cur.clone()).require_grad();
        let f = objective(leaf.clone());
        let g = leaf.grad(&f.clone().sum().backward()).unwrap();
        let f: Vec<f32> = f.inner().into_data().to_vec().unwrap();
        let improved: Vec<bool> = f.iter().zip(&best_f).map(|(a, b)| a < b).collect();
        let w = rows(&improved);
        best = cur.clone() * w.clone() + best * (w.neg() + 1.0);
        for i in 0..m {
            if improved[i] {
                best_f[i] = f[i];
            }
        }
        momentum = momentum * config.momentum + g.sign() * (1.0 - config.momentum);
        let step_size = Tensor::<NB, 1>::from_floats(lr.as_slice(), &dev()).reshape([m, 1, 1, 1]);
        let cand = project_linf(cur.clone() - momentum.clone() * step_size, x.clone(), eps);
        let f_cand = values(&cand);
        let accepted: Vec<bool> = f_cand.iter().zip(&f).map(|(a, b)| a <= b).collect();
        let w = rows(&accepted);
        cur = cand * w.clone() + cur * (w.neg() + 1.0);
        for i in 0..m {
            if !accepted[i] {
                lr[i] /= config.backtrack_factor;
                if step + 1 < config.steps {
                    rejections += 1;
                }
            }
        }
    }
    let last = values(&cur);
    let w = rows(
        &last
            .iter()
            .zip(&best_f)
            .map(|(a, b)| a < b)
            .collect::<Vec<_>>(),
    );
    let want = cur * w.clone() + best * (w.neg() + 1.0) - x.clone();

    let (reached, expected) = (values(&(x.clone() + got.clone())), values(&(x + want)));
    // Measured: the two searches agree to 4e-5 here, and the stale-gradient mistake is off by
    // 0.72 on the first example.
    for (i, (a, b)) in reached.iter().zip(&expected).enumerate() {
        assert!(
            (a - b).abs() < 5e-3,
            "example {i}: objective {a} against {b}"
        );
    }
    let moved: f32 = got.abs().max().into_scalar();
    assert!(moved > eps / 2.0, "the search barely moved: {moved}");
    assert!(
        rejections >= m / 4,
        "only {rejections} of {m} examples rejected a step before the last: backtracking untested"
    );
}

/// The IAT ablations against their definitions, recomputed here from the attack and the model:
/// `correct_only` trains on IAA images only where the clean prediction is right (clean images
/// elsewhere), `drop_misclassified` trains on the IAA images of the correctly classified images
/// only, and `clean_weight = w` mixes `(1 − w)·CE(IAA) + w·CE(clean)` in one batch.
#[test]
fn iat_ablations_match_their_definitions() {
    use advcal::attack::{Attack, Budget, Iaa, cross_entropy};
    // A fresh copy for every computation: a train-mode forward moves the running statistics,
    // which the next (eval-mode) attack would see.
    let fresh = || {
        advcal::model::seeded_init::<AD, _>(&dev(), 5, || {
            SmallCnnConfig::new().with_width(4).init::<AD>(&dev())
        })
    };
    let (x, y) = tiny_data(16).to_batch().to_tensors::<NB>(&dev());
    let iaa = IaaConfig::new().with_epsilon(8.0 / 255.0).with_steps(2);
    let seed = 9;
    let adversarial = Attack::<AD, SmallCnn<AD>>::perturb_under(
        &Iaa::new(iaa.clone()),
        &fresh(),
        x.clone(),
        y.clone(),
        Budget::new(8.0 / 255.0).with_seed(seed),
    )
    .unwrap()
    .adversarial;
    let ce = |images: Tensor<NB, 4>| -> f64 {
        let logits = fresh().forward_mode(Tensor::from_inner(images), Mode::Train);
        cross_entropy(logits, Tensor::from_inner(y.clone()))
            .mean()
            .into_scalar()
            .elem()
    };
    let step_loss = |config: IatConfig| -> f64 {
        Iat::new(config)
            .step(&fresh(), x.clone(), y.clone(), ctx(seed))
            .unwrap()
            .loss
            .into_scalar()
            .elem()
    };

    // Eq. 12 (the default): CE on the IAA images.
    let plain_iat = step_loss(IatConfig::new().with_attack(iaa.clone()));
    assert_abs_diff_eq!(plain_iat, ce(adversarial.clone()), epsilon = 1e-5);

    // correct_only: the clean prediction (eval mode, as the attack) picks IAA or clean per image.
    let clean_pred = fresh()
        .valid()
        .forward_mode(x.clone(), Mode::Eval)
        .argmax(1)
        .reshape([16]);
    let correct: Vec<bool> = clean_pred
        .clone()
        .equal(y.clone())
        .into_data()
        .to_vec::<bool>()
        .unwrap();
    assert!(
        correct.iter().any(|&c| c) && correct.iter().any(|&c| !c),
        "the test needs both correctly and wrongly classified images: {correct:?}"
    );
    let keep: Vec<i64> = (0..16).filter(|&i| correct[i]).map(|i| i as i64).collect();
    let mask = Tensor::<NB, 1, Bool>::from_data(TensorData::new(correct, [16]), &dev())
        .reshape([16, 1, 1, 1])
        .expand([16, 3, 32, 32]);
    let mixed = x.clone().mask_where(mask, adversarial.clone());
    let correct_only = step_loss(
        IatConfig::new()
            .with_attack(iaa.clone())
            .with_correct_only(true),
    );
    assert_abs_diff_eq!(correct_only, ce(mixed), epsilon = 1e-5);

    // drop_misclassified: one train-mode batch of the correctly classified images' IAA images,
    // their CE summed and divided by the batch size (16), as correct_only weighs them.
    let k = keep.len();
    let idx = Tensor::<NB, 1, Int>::from_data(TensorData::new(keep, [k]), &dev());
    let kept_iaa = adversarial.clone().select(0, idx.clone());
    let y_kept = y.clone().select(0, idx);
    let kept = fresh().forward_mode(Tensor::from_inner(kept_iaa.clone()), Mode::Train);
    let expected: f64 = cross_entropy(kept, Tensor::from_inner(y_kept.clone()))
        .sum()
        .into_scalar()
        .elem::<f64>()
        / 16.0;
    let drop = || {
        IatConfig::new()
            .with_attack(iaa.clone())
            .with_drop_misclassified(true)
    };
    let step = Iat::new(drop())
        .step(&fresh(), x.clone(), y.clone(), ctx(seed))
        .unwrap();
    assert_eq!(step.labels.dims(), [k], "only the kept images are reported");
    let dropped: f64 = step.loss.into_scalar().elem();
    assert_abs_diff_eq!(dropped, expected, epsilon = 1e-5);
    for other in [plain_iat, correct_only] {
        assert!((dropped - other).abs() > 1e-4, "{dropped} vs {other}");
    }
    // With a clean term: one train-mode batch [kept IAA; every clean image].
    let w = 0.5;
    let both = fresh().forward_mode(
        Tensor::from_inner(Tensor::cat(vec![kept_iaa, x.clone()], 0)),
        Mode::Train,
    );
    let iaa_sum: f64 = cross_entropy(both.clone().narrow(0, 0, k), Tensor::from_inner(y_kept))
        .sum()
        .into_scalar()
        .elem();
    let clean_mean: f64 = cross_entropy(both.narrow(0, k, 16), Tensor::from_inner(y.clone()))
        .mean()
        .into_scalar()
        .elem();
    let step = Iat::new(drop().with_clean_weight(w as f32))
        .step(&fresh(), x.clone(), y.clone(), ctx(seed))
        .unwrap();
    assert_abs_diff_eq!(
        step.loss.into_scalar().elem::<f64>(),
        (1.0 - w) * iaa_sum / 16.0 + w * clean_mean,
        epsilon = 1e-5
    );
    // The step trains: its loss back-propagates into every parameter.
    let model = fresh();
    let out = Iat::new(drop())
        .step(&model, x.clone(), y.clone(), ctx(seed))
        .unwrap();
    let grads = GradientsParams::from_grads(out.loss.backward(), &model);
    let moved = SgdConfig::new().init().step(0.1, model.clone(), grads);
    assert_ne!(
        moved
            .valid()
            .forward_mode(x.clone(), Mode::Eval)
            .into_data(),
        model
            .valid()
            .forward_mode(x.clone(), Mode::Eval)
            .into_data(),
        "a step on the kept images changed nothing"
    );

    // A batch without a correctly classified image: a zero loss with zero gradients, BatchNorm
    // untouched; with a clean term, that term alone (w·CE over the clean batch in train mode).
    let wrong_labels: Vec<i64> = clean_pred
        .clone()
        .into_data()
        .convert::<i64>()
        .to_vec::<i64>()
        .unwrap()
        .into_iter()
        .map(|p| (p + 1) % 10)
        .collect();
    let y_wrong = Tensor::<NB, 1, Int>::from_data(TensorData::new(wrong_labels, [16]), &dev());
    let model = fresh();
    let before = model.valid().forward_mode(x.clone(), Mode::Eval);
    let step = Iat::new(drop())
        .step(&model, x.clone(), y_wrong.clone(), ctx(seed))
        .unwrap();
    assert_eq!(step.labels.dims(), [16]);
    assert_eq!(step.loss.clone().into_scalar().elem::<f64>(), 0.0);
    let after = model.valid().forward_mode(x.clone(), Mode::Eval);
    assert_eq!(
        before.clone().into_data(),
        after.into_data(),
        "running statistics moved"
    );
    // Plain SGD (no momentum, no weight decay) on zero gradients leaves the model as it was.
    let grads = GradientsParams::from_grads(step.loss.backward(), &model);
    let stepped = SgdConfig::new().init().step(0.1, model, grads);
    assert_eq!(
        stepped
            .valid()
            .forward_mode(x.clone(), Mode::Eval)
            .into_data(),
        before.into_data(),
        "an empty batch moved the parameters"
    );
    let clean_only: f64 = cross_entropy(
        fresh().forward_mode(Tensor::from_inner(x.clone()), Mode::Train),
        Tensor::from_inner(y_wrong.clone()),
    )
    .mean()
    .into_scalar()
    .elem();
    let step = Iat::new(drop().with_clean_weight(w as f32))
        .step(&fresh(), x.clone(), y_wrong, ctx(seed))
        .unwrap();
    assert_abs_diff_eq!(
        step.loss.into_scalar().elem::<f64>(),
        w * clean_only,
        epsilon = 1e-5
    );

    // clean_weight: both halves of one train-mode batch [IAA; clean].
    let w = 0.25;
    let both = fresh().forward_mode(
        Tensor::from_inner(Tensor::cat(vec![adversarial, x.clone()], 0)),
        Mode::Train,
    );
    let yy = Tensor::<AD, 1, Int>::from_inner(y.clone());
    let part = |start| -> f64 {
        cross_entropy(both.clone().narrow(0, start, 16), yy.clone())
            .mean()
            .into_scalar()
            .elem()
    };
    let expected = (1.0 - w) * part(0) + w * part(16);
    let weighted = step_loss(
        IatConfig::new()
            .with_attack(iaa.clone())
            .with_clean_weight(w as f32),
    );
    assert_abs_diff_eq!(weighted, expected, epsilon = 1e-5);

    // Names, and out-of-range weights as typed errors from the step.
    let name = |c: IatConfig| TrainingStrategy::<AD, SmallCnn<AD>>::name(&Iat::new(c));
    assert_eq!(
        name(IatConfig::new().with_correct_only(true)),
        "iat-correct-only"
    );
    assert_eq!(
        name(IatConfig::new().with_clean_weight(0.5)),
        "iat-clean0.5"
    );
    assert_eq!(name(drop()), "iat-drop-misclassified");
    let alg1 = IatConfig::new().with_attack(IaaConfig::alg1());
    assert_eq!(name(alg1.clone()), "iat-alg1");
    assert_eq!(name(alg1.with_correct_only(true)), "iat-alg1-correct-only");
    let at_iat = |c: AtIatConfig| TrainingStrategy::<AD, SmallCnn<AD>>::name(&AtIat::new(c));
    assert_eq!(at_iat(AtIatConfig::new()), "at-iat");
    assert_eq!(
        at_iat(
            AtIatConfig::new()
                .with_iaa(IaaConfig::alg1())
                .with_pgd_weight(0.25)
                .with_mix(AtIatMix::Split)
        ),
        "at-iat-alg1-w0.25-split"
    );
    let Err(err) =
        Iat::new(drop().with_correct_only(true)).step(&fresh(), x.clone(), y.clone(), ctx(seed))
    else {
        panic!("correct_only together with drop_misclassified was accepted");
    };
    assert!(
        matches!(
            err,
            Error::InvalidParameter {
                name: "drop_misclassified",
                ..
            }
        ),
        "{err}"
    );
    for bad in [-0.1f32, 1.5, f32::NAN] {
        let Err(err) = Iat::new(IatConfig::new().with_clean_weight(bad)).step(
            &fresh(),
            x.clone(),
            y.clone(),
            ctx(seed),
        ) else {
            panic!("clean_weight {bad} was accepted");
        };
        assert!(
            matches!(
                err,
                Error::InvalidParameter {
                    name: "clean_weight",
                    ..
                }
            ),
            "{err}"
        );
    }
}

/// IAT and AT+IAT log `iae_correct`: the fraction of their IAA examples the model classified
/// correctly (inference mode) when they were generated. Under Eq. 2's IAA it never falls below
/// the clean accuracy (the clean image is a candidate) and every correctly classified image stays
/// correct (`iae_kept = clean_correct`); it equals the attack's own verdict. The clean
/// diagnostics equal the clean model's own accuracy and confidence.
#[test]
fn iat_logs_the_fraction_of_correct_iaes() {
    use advcal::attack::{Attack, Budget, Iaa};
    let fresh = || {
        advcal::model::seeded_init::<AD, _>(&dev(), 5, || {
            SmallCnnConfig::new().with_width(4).init::<AD>(&dev())
        })
    };
    let (x, y) = tiny_data(16).to_batch().to_tensors::<NB>(&dev());
    let seed = 9;
    let fraction = |logits: Tensor<NB, 2>| -> f64 {
        let correct = logits.argmax(1).reshape([16]).equal(y.clone());
        correct.int().sum().into_scalar().elem::<f64>() / 16.0
    };
    let clean_logits = fresh().valid().forward_mode(x.clone(), Mode::Eval);
    let clean = fraction(clean_logits.clone());
    let clean_conf: f64 = burn::tensor::activation::softmax(clean_logits, 1)
        .max_dim(1)
        .mean()
        .into_scalar()
        .elem();
    let stats_of = |step: StrategyStep<AD>| -> Vec<(&'static str, f64)> {
        step.stats
            .into_iter()
            .map(|(name, value)| (name, value.into_scalar().elem::<f64>()))
            .collect()
    };
    let get = |stats: &[(&'static str, f64)], name: &str| -> f64 {
        stats
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("{name} is logged"))
            .1
    };
    // The diagnostics that hold for every IAA: the clean statistics are the clean model's, the
    // correct IAA examples split into kept (clean correct) and fixed (clean wrong).
    let consistent = |stats: &[(&'static str, f64)]| {
        assert_abs_diff_eq!(
            get(stats, "iae_kept") + get(stats, "iae_fixed"),
            get(stats, "iae_correct"),
            epsilon = 1e-6
        );
        assert!(get(stats, "iae_kept") <= get(stats, "clean_correct") + 1e-9);
        assert!((0.0..=1.0).contains(&get(stats, "iae_unperturbed")));
        assert!((0.1 - 1e-6..=1.0 + 1e-6).contains(&get(stats, "iae_conf")));
    };
    for iaa in [
        IaaConfig::new().with_steps(2),
        IaaConfig::alg1().with_steps(2),
    ] {
        let iaa = iaa.with_epsilon(8.0 / 255.0);
        let attacked = Attack::<AD, SmallCnn<AD>>::perturb_under(
            &Iaa::new(iaa.clone()),
            &fresh(),
            x.clone(),
            y.clone(),
            Budget::new(8.0 / 255.0).with_seed(seed),
        )
        .unwrap();
        let expected = fraction(attacked.logits);
        let stats = stats_of(
            Iat::new(IatConfig::new().with_attack(iaa.clone()))
                .step(&fresh(), x.clone(), y.clone(), ctx(seed))
                .unwrap(),
        );
        let logged = get(&stats, "iae_correct");
        assert_abs_diff_eq!(logged, expected, epsilon = 1e-9);
        assert_abs_diff_eq!(get(&stats, "clean_correct"), clean, epsilon = 1e-9);
        assert_abs_diff_eq!(get(&stats, "clean_conf"), clean_conf, epsilon = 1e-5);
        consistent(&stats);
        if iaa.selection == advcal::attack::IaaSelection::BestFeasible {
            assert!(
                logged >= clean,
                "Eq. 2 lost clean accuracy: {logged} < {clean}"
            );
            // Eq. 2 keeps every correctly classified image correct.
            assert_abs_diff_eq!(get(&stats, "iae_kept"), clean, epsilon = 1e-9);
        }
    }
    let stats = stats_of(
        AtIat::new(AtIatConfig::new())
            .step(&fresh(), x.clone(), y.clone(), ctx(seed))
            .unwrap(),
    );
    consistent(&stats);
    for name in ["acc_pgd", "acc_iaa", "iae_correct", "clean_correct"] {
        assert!((0.0..=1.0).contains(&get(&stats, name)), "{name}");
    }
}

/// Label smoothing's loss is the cross-entropy with the smoothed target, as Burn's own
/// `CrossEntropyLoss` with `smoothing` computes it (code not written here); α = 0 is PT.
#[test]
fn label_smoothing_matches_burns_smoothed_cross_entropy() {
    let fresh = || {
        advcal::model::seeded_init::<AD, _>(&dev(), 5, || {
            SmallCnnConfig::new().with_width(4).init::<AD>(&dev())
        })
    };
    let (x, y) = tiny_data(16).to_batch().to_tensors::<NB>(&dev());
    let loss_of = |strategy: &mut dyn TrainingStrategy<AD, SmallCnn<AD>>| -> f64 {
        strategy
            .step(&fresh(), x.clone(), y.clone(), ctx(3))
            .unwrap()
            .loss
            .into_scalar()
            .elem()
    };
    for alpha in [0.1f64, 0.3] {
        let mut ls = LabelSmoothingConfig::new()
            .with_smoothing(alpha)
            .init()
            .unwrap();
        let logits = fresh().forward_mode(Tensor::from_inner(x.clone()), Mode::Train);
        let burns: f64 = burn::nn::loss::CrossEntropyLossConfig::new()
            .with_smoothing(Some(alpha as f32))
            .init(&dev())
            .forward(logits, Tensor::from_inner(y.clone()))
            .into_scalar()
            .elem();
        assert_abs_diff_eq!(loss_of(&mut ls), burns, epsilon = 1e-5);
    }
    let mut none = LabelSmoothingConfig::new()
        .with_smoothing(0.0)
        .init()
        .unwrap();
    assert_abs_diff_eq!(loss_of(&mut none), loss_of(&mut Plain), epsilon = 1e-6);
    for bad in [-0.1, 1.0, f64::NAN] {
        assert!(matches!(
            LabelSmoothingConfig::new().with_smoothing(bad).init(),
            Err(Error::InvalidParameter { .. })
        ));
    }
}
