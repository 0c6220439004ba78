//! The calibration experiments beyond the paper: IAT trained on Eq. 2's inverse adversarial
//! examples over several seeds (`iat-eq2`), the calibration baselines a user compares with
//! (`baselines`: temperature scaling, label smoothing), robustness under APGD (`robustness-apgd`)
//! and calibration against an adversary who picks the direction per image (`two-sided`).

use super::{Ctx, Id, paper_iaa, records};
use advcal::Result;
use advcal::attack::{
    ApgdConfig, ApgdLoss, Attack, AttackConfig, IaaConfig, IaaOptimizer, WorstCase,
    WorstCaseCriterion,
};
use advcal::data::ImageDataset;
use advcal::model::{AnyModel, TemperatureScaled};
use advcal::train::{AtIat, AtIatConfig, LabelSmoothingConfig, StrategyKind};
use burn::tensor::backend::AutodiffBackend;

/// The radius of every measurement here: the paper's training and evaluation radius.
const EPS: f32 = 8.0 / 255.0;

/// Eq. 2's IAA as IAT's inner attack: Algorithm 1's sign steps at the same budget (T = the
/// preset's training steps, α = ε/T, growing radius, random start), returning the least
/// confident correctly classified iterate instead of the last. The two IAT variants differ in
/// that choice only. (At T = 3 sign steps reach lower confidence than APGD's schedule, which
/// needs more steps to adapt: `examples/iaa_strength.rs`.)
pub fn train_iaa_eq2() -> IaaConfig {
    IaaConfig::new().with_optimizer(IaaOptimizer::SignSteps)
}

/// A model of one of these experiments: its label, training seed (`None` for the six models of
/// the paper's figures, whose records carry none) and the model.
pub struct Trained<B: AutodiffBackend> {
    pub label: String,
    pub seed: Option<u64>,
    pub model: AnyModel<B>,
}

impl<B: AutodiffBackend> Trained<B> {
    fn id(&self) -> Id<'_> {
        Id {
            name: &self.label,
            seed: self.seed,
            temperature: None,
        }
    }
}

/// The strategies of `iat-eq2`, in training order (most decisive first), with their labels.
fn strategies<B: AutodiffBackend>(
    ctx: &Ctx<B>,
    seed: u64,
) -> Vec<(&'static str, StrategyKind, IaaConfig)> {
    // The models a fresh machine restores from the repository first (PT and IAT (Eq. 2) of the
    // first seed, the Algorithm 1 models), AT+IAT (Eq. 2) last: records are written after every
    // model, so those of the committed models land before the longest training starts.
    let mut list = vec![
        ("PT", StrategyKind::Plain, train_iaa_eq2()),
        ("IAT (Eq. 2)", StrategyKind::Iat, train_iaa_eq2()),
        ("IAT (Alg. 1)", StrategyKind::Iat, paper_iaa()),
    ];
    if seed == ctx.args.seed {
        list.push(("AT+IAT (Alg. 1)", StrategyKind::AtIat, paper_iaa()));
    }
    list.push(("AT+IAT (Eq. 2)", StrategyKind::AtIat, train_iaa_eq2()));
    list
}

/// The model of `kind` with `iaa` in training, trained with `seed` (fine-tuned from the same
/// base under the `cifar` preset).
fn trained<B: AutodiffBackend>(
    ctx: &Ctx<B>,
    label: &str,
    kind: StrategyKind,
    iaa: IaaConfig,
    seed: u64,
) -> Result<Trained<B>> {
    let strategy = kind.build_with_iaa::<B, AnyModel<B>>(ctx.preset.train_attack_steps, iaa)?;
    let plain = kind == StrategyKind::Plain;
    let model = ctx.model_seeded(strategy, label, plain, ctx.preset.arch, seed)?;
    Ok(Trained {
        label: label.to_owned(),
        seed: Some(seed),
        model,
    })
}

/// Clean (all `clean_images` test images), PGD and both IAAs (the evaluation images) at 8/255.
fn clean_pgd_iaa<B: AutodiffBackend>(ctx: &Ctx<B>, m: &Trained<B>) -> Result<Vec<records::Record>> {
    let mut out = vec![ctx.clean_record_of(&m.model, m.id(), &ctx.test_full)?];
    out.push(ctx.attack_record_of(&m.model, m.id(), &ctx.pgd(), EPS, &ctx.test)?);
    for iaa in ctx.iaas(5.0) {
        out.push(ctx.attack_record_of(&m.model, m.id(), &iaa, EPS, &ctx.test)?);
    }
    Ok(out)
}

/// IAT and AT+IAT trained on Eq. 2's IAEs beside Algorithm 1's and PT, for every seed of
/// `--train-seeds`: clean, PGD and IAA calibration per model and seed. `iat-eq2.json` is
/// rewritten after every model, so a long run publishes what it has.
pub fn iat_eq2<B: AutodiffBackend>(ctx: &Ctx<B>) -> Result<()> {
    let mut all = Vec::new();
    for &seed in &ctx.args.train_seeds {
        for (label, kind, iaa) in strategies(ctx, seed) {
            let m = trained(ctx, label, kind, iaa, seed)?;
            all.extend(clean_pgd_iaa(ctx, &m)?);
            records::finish(ctx.out("iat-eq2"), &all)?;
        }
    }
    Ok(())
}

/// The calibration baselines: temperature scaling fitted on held-out test images on PT, PGD-AT,
/// IAT and AT+IAT (both IAAs), and label smoothing (α = 0.1) fine-tuned from the base like PT.
/// The `clean_images` test images are split in halves: the second half fits the temperatures
/// (it is evaluated nowhere here), the first half gives the clean rows, and its first
/// `min(eval_images, half)` images the attacked rows. Training seed `--seed`.
pub fn baselines<B: AutodiffBackend>(ctx: &Ctx<B>) -> Result<()> {
    let seed = ctx.args.seed;
    let half = ctx.test_full.len() / 2;
    if half == 0 {
        return Err(advcal::Error::param(
            "clean_images",
            "temperature scaling needs at least two test images (one held out)",
        ));
    }
    let (clean, held_out) = ctx.test_full.split_at(half);
    let attacked = ctx.test.take(ctx.test.len().min(half));
    let ls = LabelSmoothingConfig::new().init()?;
    let ls_model = ctx.model_seeded(Box::new(ls), "LS (α = 0.1)", true, ctx.preset.arch, seed)?;
    let mut models = vec![Trained {
        label: "LS (α = 0.1)".into(),
        seed: Some(seed),
        model: ls_model,
    }];
    let pgd_at = StrategyKind::PgdAt
        .build_with_iaa::<B, AnyModel<B>>(ctx.preset.train_attack_steps, paper_iaa())?;
    models.push(Trained {
        label: "PGD-AT".into(),
        seed: Some(seed),
        model: ctx.model_seeded(pgd_at, "PGD-AT", false, ctx.preset.arch, seed)?,
    });
    for (label, kind, iaa) in strategies(ctx, seed) {
        models.push(trained(ctx, label, kind, iaa, seed)?);
    }
    let mut all = Vec::new();
    for m in &models {
        all.extend(baseline_records(ctx, m, None, &clean, &attacked)?);
        if !m.label.starts_with("LS") {
            let scaled = TemperatureScaled::fit(
                m.model.clone(),
                &held_out,
                ctx.preset.eval_batch,
                &ctx.device,
            )?;
            all.extend(baseline_records(ctx, m, Some(scaled), &clean, &attacked)?);
        }
        records::finish(ctx.out("baselines"), &all)?;
    }
    Ok(())
}

/// Clean, PGD and IAA records of `m`, or of its temperature-scaled version (labelled
/// `<label> + TS`).
fn baseline_records<B: AutodiffBackend>(
    ctx: &Ctx<B>,
    m: &Trained<B>,
    scaled: Option<TemperatureScaled<B, AnyModel<B>>>,
    clean: &ImageDataset,
    attacked: &ImageDataset,
) -> Result<Vec<records::Record>> {
    let Some(scaled) = scaled else {
        let mut out = vec![ctx.clean_record_of(&m.model, m.id(), clean)?];
        out.push(ctx.attack_record_of(&m.model, m.id(), &ctx.pgd(), EPS, attacked)?);
        for iaa in ctx.iaas(5.0) {
            out.push(ctx.attack_record_of(&m.model, m.id(), &iaa, EPS, attacked)?);
        }
        return Ok(out);
    };
    let label = format!("{} + TS", m.label);
    let id = Id {
        name: &label,
        seed: m.seed,
        temperature: Some(scaled.temperature()),
    };
    let mut out = vec![ctx.clean_record_of(&scaled, id, clean)?];
    out.push(ctx.attack_record_of(&scaled, id, &ctx.pgd(), EPS, attacked)?);
    for iaa in ctx.iaas(5.0) {
        out.push(ctx.attack_record_of(&scaled, id, &iaa, EPS, attacked)?);
    }
    Ok(out)
}

/// APGD-CE and APGD-DLR at twice the evaluation steps, worst case per image (AutoAttack's
/// white-box part without its targeted attacks).
fn apgd_worst_case<B: AutodiffBackend>(ctx: &Ctx<B>) -> Result<WorstCase<AttackConfig>> {
    let steps = 2 * ctx.preset.eval_steps;
    let apgd = |loss| {
        AttackConfig::Apgd(
            ApgdConfig::new()
                .with_steps(steps)
                .with_loss(loss)
                .with_seed(ctx.args.seed),
        )
    };
    WorstCase::new(
        vec![apgd(ApgdLoss::Ce), apgd(ApgdLoss::Dlr)],
        WorstCaseCriterion::Misclassification,
    )
}

/// The record of `model` under the worst case `worst` at `eps` on the evaluation images.
fn worst_record<B: AutodiffBackend>(
    ctx: &Ctx<B>,
    model: &AnyModel<B>,
    id: Id<'_>,
    worst: &WorstCase<AttackConfig>,
    eps: f32,
) -> Result<records::Record> {
    let name = super::record_name(&Attack::<B, AnyModel<B>>::name(worst));
    ctx.measured_attack(model, id, worst, &name, None, eps, &ctx.test)
}

/// Robustness of the six models and AT+IAT (Eq. 2) under PGD-10 and under the per-image worst
/// case of APGD-CE and APGD-DLR, over Fig. 7's radii.
pub fn robustness_apgd<B: AutodiffBackend>(ctx: &Ctx<B>) -> Result<()> {
    let apgd = apgd_worst_case(ctx)?;
    let mut models: Vec<(String, AnyModel<B>)> = ctx
        .six_models()?
        .into_iter()
        .map(|(k, m)| (k.label().to_owned(), m))
        .collect();
    let seed = ctx.args.seed;
    let eq2 = trained(
        ctx,
        "AT+IAT (Eq. 2)",
        StrategyKind::AtIat,
        train_iaa_eq2(),
        seed,
    )?;
    models.push((eq2.label, eq2.model));
    let mut all = Vec::new();
    for (label, model) in &models {
        all.push(ctx.clean_record(model, label, &ctx.test)?);
        for &eps in &ctx.preset.grid {
            all.push(ctx.attack_record(model, label, &ctx.pgd(), eps, &ctx.test)?);
            all.push(worst_record(ctx, model, Id::new(label), &apgd, eps)?);
        }
        records::finish(ctx.out("robustness-apgd"), &all)?;
    }
    ctx.plot("robustness-apgd", &all)
}

/// Two-sided calibration (beyond the paper): every model's clean ECE beside the ECE of the
/// per-image worst case over PGD (overconfidence) and Eq. 2's IAA (underconfidence), with the
/// one-sided records of the bound |MCS_PGD| + |MCS_IAA| ≥ ACC_IAA − ACC_PGD (when
/// CONF_PGD ≥ CONF_IAA, spec §3.6), and AT+IAT's PGD weight swept over 0, ¼, ½, ¾, 1 (Eq. 2 IAA
/// in training). The sweep's ends are not IAT and PGD-AT: AT+IAT still generates both kinds of
/// examples and passes them through one train-mode forward (BatchNorm's batch statistics cover
/// both); only their loss weights are 0 and 1.
pub fn two_sided<B: AutodiffBackend>(ctx: &Ctx<B>) -> Result<()> {
    let seed = ctx.args.seed;
    let eq2_iaa = ctx.iaa(super::IaaVariant::Eq2, 5.0);
    let worst = WorstCase::new(
        vec![ctx.pgd(), eq2_iaa.clone()],
        WorstCaseCriterion::CalibrationError,
    )?;
    let mut models: Vec<(Trained<B>, Option<f32>)> = Vec::new();
    for (kind, model) in ctx.six_models()? {
        models.push((
            Trained {
                label: kind.label().to_owned(),
                seed: None,
                model,
            },
            None,
        ));
    }
    for (label, kind, iaa) in strategies(ctx, seed) {
        if label.contains("Eq. 2") {
            let weight = (kind == StrategyKind::AtIat).then_some(0.5);
            models.push((trained(ctx, label, kind, iaa, seed)?, weight));
        }
    }
    for w in [0.0f32, 0.25, 0.75, 1.0] {
        let config = AtIatConfig::new()
            .with_pgd(StrategyKind::inner_pgd(ctx.preset.train_attack_steps))
            .with_iaa(
                train_iaa_eq2()
                    .with_epsilon(EPS)
                    .with_steps(ctx.preset.train_attack_steps),
            )
            .with_pgd_weight(w);
        let label = format!("AT+IAT (Eq. 2, w = {w})");
        let model = ctx.model_seeded(
            Box::new(AtIat::new(config)),
            &label,
            false,
            ctx.preset.arch,
            seed,
        )?;
        let seed = Some(seed);
        models.push((Trained { label, seed, model }, Some(w)));
    }
    let mut all = Vec::new();
    for (m, weight) in &models {
        let id = m.id();
        let mut rs = vec![ctx.clean_record_of(&m.model, id, &ctx.test)?];
        for attack in [&ctx.pgd(), &eq2_iaa] {
            rs.push(ctx.attack_record_of(&m.model, id, attack, EPS, &ctx.test)?);
        }
        rs.push(worst_record(ctx, &m.model, id, &worst, EPS)?);
        all.extend(rs.into_iter().map(|r| records::Record {
            weight: *weight,
            ..r
        }));
        records::finish(ctx.out("two-sided"), &all)?;
    }
    ctx.plot("two-sided", &all)
}
