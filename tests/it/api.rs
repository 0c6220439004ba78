//! The call-site surface: `Budget` as the one home of ε and the seed, a direct `Attack` in a
//! few lines, and the `Fit` builder.

use crate::common::*;
use advcal::Error;
use advcal::attack::*;
use advcal::eval::{EvaluationConfig, evaluate_under};
use advcal::model::{Classifier, Mode, SmallCnn};
use advcal::train::{Fit, Plain, TrainerConfig};
use burn::module::AutodiffModule;
use burn::optim::SgdConfig;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

/// The direct implementation of `examples/custom_attack.rs`: one targeted sign step towards
/// class 0. Only `name` and `perturb_under` are written.
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

fn batch() -> (Tensor<NB, 4>, Tensor<NB, 1, Int>) {
    (
        images::<NB>([4, 3, 32, 32], 5, &dev()),
        labels::<NB>(&[1, 3, 5, 7], &dev()),
    )
}

fn linf(t: Tensor<NB, 4>) -> f32 {
    t.abs().max().into_scalar()
}

#[test]
fn a_direct_attack_gets_the_default_budget_and_works_everywhere() {
    let model = tiny_cnn(4, 1);
    let before = snapshot::<AD, _>(&model);
    let (x, y) = batch();
    assert_eq!(
        Attack::<AD, SmallCnn<AD>>::budget(&TowardsClassZero),
        Budget::new(8.0 / 255.0)
    );
    // `perturb` runs at the default budget: a sign step moves interior pixels by exactly ε.
    let out = TowardsClassZero
        .perturb(&model, x.clone(), y.clone())
        .unwrap();
    assert!((linf(out.perturbation.clone()) - 8.0 / 255.0).abs() < 1e-6);
    // The output's logits and loss are those of the model at the returned images.
    let logits = model
        .valid()
        .forward_mode(out.adversarial.clone(), Mode::Eval);
    assert!(max_abs_diff(&to_vec(logits.clone()), &to_vec(out.logits.clone())) < 1e-5);
    let ce = to_vec(
        cross_entropy(
            Tensor::<AD, 2>::from_inner(logits),
            Tensor::from_inner(y.clone()),
        )
        .inner(),
    );
    assert!(max_abs_diff(&ce, &to_vec(out.loss)) < 1e-5);

    // The same attack at several radii, and over a data set.
    let results = run_epsilons::<AD, _, _>(
        &TowardsClassZero,
        &model,
        x.clone(),
        y.clone(),
        &[0.01, 0.05],
    )
    .unwrap();
    for r in &results {
        assert!((linf(r.output.perturbation.clone()) - r.epsilon).abs() < 1e-6);
    }
    let data = toy_dataset(6, 2);
    let config = EvaluationConfig::new().with_batch_size(4);
    let e = evaluate_under(
        &TowardsClassZero,
        &model,
        &data,
        Budget::new(0.02),
        &config,
        &dev(),
    )
    .unwrap();
    assert_eq!((e.attack.as_str(), e.report.n), ("towards-0", 6));
    assert!(e.max_linf <= 0.02 + 1e-6 && e.pixel_range.0 >= 0.0 && e.pixel_range.1 <= 1.0);
    // Validation comes with `attack_copy`: a bad radius is a typed error.
    let err = TowardsClassZero
        .perturb_under(&model, x, y, Budget::new(-0.1))
        .unwrap_err();
    assert!(matches!(err, Error::InvalidEpsilon(_)), "{err}");
    assert_eq!(snapshot::<AD, _>(&model), before);
}

#[test]
fn perturb_is_perturb_under_the_configured_budget() {
    let model = tiny_cnn(4, 1);
    let (x, y) = batch();
    let pgd = Pgd::new(
        PgdConfig::new()
            .with_epsilon(0.02)
            .with_steps(3)
            .with_seed(9),
    );
    assert_eq!(
        Attack::<AD, SmallCnn<AD>>::budget(&pgd),
        Budget::new(0.02).with_seed(9)
    );
    let a = pgd.perturb(&model, x.clone(), y.clone()).unwrap();
    let b = pgd
        .perturb_under(&model, x.clone(), y.clone(), Budget::new(0.02).with_seed(9))
        .unwrap();
    assert_eq!(to_vec(a.adversarial.clone()), to_vec(b.adversarial));
    // The seed of the budget drives the random start: another seed, other images.
    let c = pgd
        .perturb_under(
            &model,
            x.clone(),
            y.clone(),
            Budget::new(0.02).with_seed(10),
        )
        .unwrap();
    assert!(max_abs_diff(&to_vec(a.adversarial), &to_vec(c.adversarial)) > 1e-4);
    // And its radius bounds the result.
    let d = pgd.perturb_under(&model, x, y, Budget::new(0.005)).unwrap();
    assert!(linf(d.perturbation) <= 0.005 + 1e-6);
    // `AttackConfig` reports the budget of the attack it holds.
    let config = AttackConfig::Pgd(PgdConfig::new().with_epsilon(0.02).with_seed(9));
    assert_eq!(config.budget(), Budget::new(0.02).with_seed(9));
    assert_eq!(
        AttackConfig::Uca(UcaConfig::new().with_epsilon(0.04)).budget(),
        Budget::new(0.04)
    );
}

fn fit_model() -> SmallCnn<AD> {
    advcal::model::seeded_init::<AD, _>(&dev(), 1, || {
        advcal::model::SmallCnnConfig::new()
            .with_width(2)
            .init::<AD>(&dev())
    })
}

fn trainer(dir: Option<&std::path::Path>) -> TrainerConfig {
    TrainerConfig::new()
        .with_epochs(1)
        .with_batch_size(4)
        .with_verbose(false)
        .with_progress(false)
        .with_output_dir(dir.map(|d| d.to_string_lossy().into_owned()))
}

#[test]
fn fit_builder_checkpoints_under_an_identity_and_refuses_another() {
    let data = toy_dataset(8, 3);
    let dir = tempfile::tempdir().unwrap();
    let sgd = || SgdConfig::new().init::<AD, SmallCnn<AD>>();
    // Without an identity the model's type name identifies the checkpoint.
    let out = Fit::new(fit_model(), sgd(), &mut Plain, &data)
        .with_eval(&data)
        .run::<AD>(&trainer(Some(dir.path())), &dev())
        .unwrap();
    assert_eq!(out.history.len(), 1);
    assert!(out.history[0].eval.is_some());
    let file = advcal::checkpoint::read_checkpoint(dir.path().join("last.ckpt")).unwrap();
    assert!(
        file.meta.architecture.contains("SmallCnn"),
        "{}",
        file.meta.architecture
    );
    // Resuming that checkpoint as another model is refused with a typed error.
    let config = trainer(Some(dir.path())).with_epochs(2);
    let err = Fit::new(fit_model(), sgd(), &mut Plain, &data)
        .with_identity(
            "small_cnn",
            &advcal::model::SmallCnnConfig::new().with_width(2),
        )
        .run::<AD>(&config, &dev())
        .unwrap_err();
    assert!(matches!(err, Error::Checkpoint { .. }), "{err}");
    // An identity whose config cannot be serialised is a JSON error, before any training.
    let unserialisable = std::collections::BTreeMap::from([(vec![1u8], 1u8)]);
    let err = Fit::new(fit_model(), sgd(), &mut Plain, &data)
        .with_identity("odd", &unserialisable)
        .run::<AD>(&trainer(None), &dev())
        .unwrap_err();
    assert!(matches!(err, Error::Json(_)), "{err}");
}
