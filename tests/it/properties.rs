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
        .perturb_with(model(), x.clone(), labels::<NB>(&y, &dev()), eps, seed)
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
