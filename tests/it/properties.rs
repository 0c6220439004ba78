//! Property tests: every attack output lies in the ε-ball and in [0, 1].

use crate::common::*;
use advcal::attack::*;
use advcal::model::SmallCnn;
use burn::prelude::*;
use proptest::prelude::*;
use std::sync::OnceLock;

fn model() -> &'static SmallCnn<AD> {
    static MODEL: OnceLock<SmallCnn<AD>> = OnceLock::new();
    MODEL.get_or_init(|| tiny_cnn(2, 21))
}

fn check(
    attack: &dyn Attack<AD, SmallCnn<AD>>,
    n: usize,
    side: usize,
    eps: f32,
    seed: u64,
) -> Result<(), TestCaseError> {
    // Images with many pixels at the box edges, where clamping matters.
    let raw = images::<NB>([n, 3, side, side], seed, &dev());
    let x = raw.mul_scalar(1.4).sub_scalar(0.2).clamp(0.0, 1.0);
    let y: Vec<i64> = (0..n as i64).map(|i| (i * 7 + seed as i64) % 10).collect();
    let out = attack
        .perturb_under(
            model(),
            x.clone(),
            labels::<NB>(&y, &dev()),
            Budget::new(eps).with_seed(seed),
        )
        .unwrap();
    let adv = to_vec(out.adversarial.clone());
    let xs = to_vec(x);
    let linf = adv
        .iter()
        .zip(&xs)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    prop_assert!(
        linf <= eps + 1e-6,
        "{}: ‖x_adv − x‖∞ = {linf} > ε = {eps}",
        attack.name()
    );
    prop_assert!(
        adv.iter().all(|v| (0.0..=1.0).contains(v)),
        "{}: pixel outside [0, 1]",
        attack.name()
    );
    let pert = to_vec(out.perturbation);
    prop_assert!(pert.iter().all(|p| p.abs() <= eps + 1e-6));
    prop_assert_eq!(out.logits.dims(), [n, 10]);
    prop_assert_eq!(out.loss.dims(), [n]);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    #[test]
    fn fgsm_stays_in_ball(eps in 0.0f32..0.5, n in 1usize..4, side in prop::sample::select(vec![4usize, 8]), seed in 0u64..1000) {
        check(&Fgsm::new(FgsmConfig::new()), n, side, eps, seed)?;
    }

    #[test]
    fn pgd_stays_in_ball(eps in 0.0f32..0.5, n in 1usize..4, side in prop::sample::select(vec![4usize, 8]), seed in 0u64..1000) {
        check(&Pgd::new(PgdConfig::new().with_steps(3).with_step_size(StepSize::RelativeToEpsilon(0.6))), n, side, eps, seed)?;
    }

    #[test]
    fn noise_stays_in_ball(eps in 0.0f32..1.0, n in 1usize..4, side in prop::sample::select(vec![4usize, 8]), seed in 0u64..1000) {
        check(&UniformNoise::default(), n, side, eps, seed)?;
    }

    #[test]
    fn iaa_stays_in_ball(eps in 0.0f32..0.5, n in 1usize..4, side in prop::sample::select(vec![4usize, 8]), seed in 0u64..1000, growing in any::<bool>()) {
        check(&Iaa::new(IaaConfig::new().with_steps(3).with_growing_radius(growing)), n, side, eps, seed)?;
    }

    #[test]
    fn uca_stays_in_ball(eps in 0.0f32..0.5, n in 1usize..4, side in prop::sample::select(vec![4usize, 8]), seed in 0u64..1000) {
        check(&Uca::new(UcaConfig::new().with_steps(3)), n, side, eps, seed)?;
    }

    #[test]
    fn custom_attack_stays_in_ball(eps in 0.0f32..0.5, n in 1usize..4, seed in 0u64..1000, alpha in 0.0f32..1.0) {
        let attack = SignGradientConfig::new()
            .with_steps(2)
            .with_step_size(StepSize::Absolute(alpha))
            .with_objective("custom", AttackGoal::Misclassify, |z: Tensor<AD, 2>, _y: Tensor<AD, 1, Int>| {
                let [n, _] = z.dims();
                z.narrow(1, 0, 1).reshape([n])
            });
        check(&attack, n, 8, eps, seed)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The shared update every sign-gradient attack runs, against a per-pixel scalar reference:
    /// `clamp(clamp(x_adv + α·sign(g), x − r, x + r), 0, 1)`, for any iterate, gradient
    /// (zeros included), step sign and radius.
    #[test]
    fn sign_step_update_matches_scalar_reference(
        x in prop::collection::vec(0.0f32..=1.0, 8),
        x_adv in prop::collection::vec(-0.5f32..1.5, 8),
        g in prop::collection::vec(prop_oneof![Just(0.0f32), -10.0f32..10.0], 8),
        alpha in -0.3f32..0.3,
        radius in 0.0f32..0.6,
    ) {
        let t = |v: &[f32]| Tensor::<NB, 4>::from_data(TensorData::new(v.to_vec(), [2, 1, 2, 2]), &dev());
        let got = to_vec(sign_step_update(t(&x_adv), t(&g), alpha, t(&x), radius));
        for i in 0..8 {
            let sign = if g[i] > 0.0 { 1.0 } else if g[i] < 0.0 { -1.0 } else { 0.0 };
            let want = (x_adv[i] + alpha * sign)
                .max(x[i] - radius)
                .min(x[i] + radius)
                .clamp(0.0, 1.0);
            prop_assert!((got[i] - want).abs() <= 1e-6, "pixel {i}: got {}, want {want}", got[i]);
            prop_assert!((got[i] - x[i]).abs() <= radius + 1e-6);
        }
    }
}
