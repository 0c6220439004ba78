//! Checks run on a second backend (WGPU on lavapipe, LibTorch CPU) against NdArray: the same
//! attack gives the same result, outputs respect the threat model, attacks leave the model
//! unchanged and take no parameter gradient, metrics agree, every model runs.

use crate::common::*;
use advcal::attack::*;
use advcal::checkpoint::{record_from_bytes, record_to_bytes};
use advcal::metrics::CalibrationAccumulator;
use advcal::model::{Classifier, Mode, SmallCnn, SmallCnnConfig};
use burn::backend::Autodiff;
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::prelude::*;

/// The NdArray test model, copied weight for weight (and BatchNorm statistics) to backend `T`.
pub fn same_model<T: Backend>(model: &SmallCnn<AD>, device: &T::Device) -> SmallCnn<Autodiff<T>> {
    let bytes = record_to_bytes::<AD, _>(model.clone().into_record()).unwrap();
    SmallCnnConfig::new()
        .with_width(4)
        .init::<Autodiff<T>>(device)
        .load_record(record_from_bytes::<Autodiff<T>, _>(bytes, device).unwrap())
}

fn compare(name: &str, a: Vec<f32>, b: Vec<f32>) {
    let differing = a
        .iter()
        .zip(&b)
        .filter(|(x, y)| (*x - *y).abs() > 1e-4)
        .count();
    let mean: f32 = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32;
    // A gradient component within rounding of 0 may take a different sign on another backend;
    // anything more than a handful of such pixels is a real difference.
    assert!(
        differing as f32 <= 0.005 * a.len() as f32,
        "{name}: {differing} of {} pixels differ",
        a.len()
    );
    assert!(mean < 1e-4, "{name}: mean |diff| = {mean}");
}

pub fn attacks_agree_with_ndarray<T: Backend>(device: &T::Device) {
    let model = tiny_cnn(4, 17);
    let other = same_model::<T>(&model, device);
    let x = images::<NB>([4, 3, 16, 16], 3, &dev());
    let y = [1i64, 4, 7, 9];
    let xo = Tensor::<T, 4>::from_data(x.to_data(), device);
    let clean_n = to_vec(model.forward_mode(Tensor::from_inner(x.clone()), Mode::Eval));
    let clean_o = to_vec(other.forward_mode(Tensor::from_inner(xo.clone()), Mode::Eval));
    assert!(
        max_abs_diff(&clean_n, &clean_o) < 1e-4,
        "clean logits differ"
    );

    let pgd = Pgd::new(PgdConfig::new().with_steps(5).with_seed(3));
    let a = Attack::<AD, _>::perturb(&pgd, &model, x.clone(), labels::<NB>(&y, &dev())).unwrap();
    let b = Attack::<Autodiff<T>, _>::perturb(&pgd, &other, xo.clone(), labels::<T>(&y, device))
        .unwrap();
    compare("pgd", to_vec(a.adversarial), to_vec(b.adversarial));
    assert!(max_abs_diff(&to_vec(a.loss), &to_vec(b.loss)) < 1e-2);

    // Eq. 2's IAA keeps, per image, the least confident correct iterate: a rounding difference
    // between backends can change which iterate that is, so its images are not compared pixel
    // by pixel; its guarantee is, on both backends.
    let eq2 = Iaa::new(IaaConfig::new().with_steps(5).with_seed(3));
    let clean_ok = |logits: Vec<f32>| -> Vec<bool> {
        logits
            .chunks_exact(10)
            .zip(&y)
            .map(|(row, &l)| {
                let top = (0..10).fold(0, |b, c| if row[c] > row[b] { c } else { b });
                top as i64 == l
            })
            .collect()
    };
    let a = Attack::<AD, _>::perturb(&eq2, &model, x.clone(), labels::<NB>(&y, &dev())).unwrap();
    let b = Attack::<Autodiff<T>, _>::perturb(&eq2, &other, xo.clone(), labels::<T>(&y, device))
        .unwrap();
    let clean = clean_ok(clean_n.clone());
    for (name, out) in [
        ("ndarray", clean_ok(to_vec(a.logits))),
        ("other", clean_ok(to_vec(b.logits))),
    ] {
        for (c, o) in clean.iter().zip(&out) {
            assert!(!c || *o, "eq2 iaa on {name} flipped a correct prediction");
        }
    }

    // Algorithm 1 (the sign-step engine) is compared pixel by pixel.
    let iaa = Iaa::new(IaaConfig::alg1().with_steps(5).with_seed(3));
    let a = Attack::<AD, _>::perturb(&iaa, &model, x.clone(), labels::<NB>(&y, &dev())).unwrap();
    let b = Attack::<Autodiff<T>, _>::perturb(&iaa, &other, xo.clone(), labels::<T>(&y, device))
        .unwrap();
    compare("iaa", to_vec(a.adversarial), to_vec(b.adversarial.clone()));

    // Metrics computed from the other backend's logits match NdArray's.
    let mut acc_n = CalibrationAccumulator::new(10, 15).unwrap();
    acc_n.add_batch(a.logits, labels::<NB>(&y, &dev())).unwrap();
    let mut acc_o = CalibrationAccumulator::new(10, 15).unwrap();
    acc_o.add_batch(b.logits, labels::<T>(&y, device)).unwrap();
    let (rn, ro) = (acc_n.report().unwrap(), acc_o.report().unwrap());
    // The same predictions, so the same accuracy and bin counts; CONF and MCS within 1e-4;
    // every other number (NLL, Brier, ECE, ..., per-bin values) within 1e-4 or 0.1 %.
    assert_eq!(rn.accuracy, ro.accuracy);
    assert!((rn.confidence - ro.confidence).abs() < 1e-4);
    assert!((rn.mcs - ro.mcs).abs() < 1e-4);
    approx::assert_relative_eq!(rn, ro, epsilon = 1e-4, max_relative = 1e-3);

    let noise = UniformNoise::default();
    let a = Attack::<AD, _>::perturb(&noise, &model, x, labels::<NB>(&y, &dev())).unwrap();
    let b = Attack::<Autodiff<T>, _>::perturb(&noise, &other, xo, labels::<T>(&y, device)).unwrap();
    compare("noise", to_vec(a.adversarial), to_vec(b.adversarial));
}

type Attacks<T> = Vec<Box<dyn Attack<Autodiff<T>, SmallCnn<Autodiff<T>>>>>;

pub fn attack_outputs_respect_the_threat_model<T: Backend>(device: &T::Device) {
    let other = same_model::<T>(&tiny_cnn(4, 2), device);
    let x = Tensor::<T, 4>::from_data(images::<NB>([2, 3, 8, 8], 1, &dev()).to_data(), device);
    for eps in [0.0f32, 0.03, 0.2] {
        let attacks: Attacks<T> = vec![
            Box::new(Iaa::new(IaaConfig::new().with_steps(3))),
            Box::new(Pgd::new(PgdConfig::new().with_steps(3))),
            Box::new(Fgsm::default()),
            Box::new(Uca::new(UcaConfig::new().with_steps(3))),
            Box::new(UniformNoise::default()),
        ];
        for attack in attacks {
            let out = attack
                .perturb_under(
                    &other,
                    x.clone(),
                    labels::<T>(&[0, 1], device),
                    Budget::new(eps).with_seed(1),
                )
                .unwrap();
            let adv = to_vec(out.adversarial.clone());
            assert!(
                adv.iter().all(|v| (0.0..=1.0).contains(v)),
                "{}",
                attack.name()
            );
            assert!(
                to_vec(out.perturbation.abs().max())[0] <= eps + 1e-6,
                "{} left the ε-ball",
                attack.name()
            );
        }
    }
}

pub fn attacks_leave_the_model_unchanged_and_take_no_parameter_gradient<T: Backend>(
    device: &T::Device,
) {
    let other = same_model::<T>(&tiny_cnn(4, 5), device);
    let before = snapshot::<Autodiff<T>, _>(&other);
    let x = Tensor::<T, 4>::from_data(images::<NB>([2, 3, 8, 8], 4, &dev()).to_data(), device);
    let y = labels::<T>(&[3, 8], device);
    let iaa = Iaa::new(IaaConfig::new().with_steps(2).with_mode(Mode::Train));
    Attack::<Autodiff<T>, _>::perturb(&iaa, &other, x.clone(), y.clone()).unwrap();
    Attack::<Autodiff<T>, _>::perturb(&Pgd::default(), &other, x.clone(), y.clone()).unwrap();
    assert_eq!(
        snapshot::<Autodiff<T>, _>(&other),
        before,
        "an attack changed the model"
    );

    let frozen = frozen_copy::<Autodiff<T>, _>(&other);
    let leaf = Tensor::<Autodiff<T>, 4>::from_inner(x).require_grad();
    let grads = cross_entropy(
        frozen.forward_mode(leaf.clone(), Mode::Eval),
        Tensor::from_inner(y),
    )
    .sum()
    .backward();
    assert!(leaf.grad(&grads).is_some());
    assert!(
        GradientsParams::from_grads(grads, &other).is_empty(),
        "frozen copy produced parameter gradients"
    );
}

pub fn every_model_runs_forward_and_backward<T: Backend>(device: &T::Device) {
    use advcal::model::*;
    type A<T> = Autodiff<T>;
    fn check<T: Backend, M: Classifier<A<T>>>(model: M, device: &T::Device) {
        let x =
            Tensor::<A<T>, 4>::from_data(images::<NB>([2, 3, 32, 32], 1, &dev()).to_data(), device)
                .require_grad();
        let logits = model.forward_mode(x.clone(), Mode::Train);
        assert_eq!(logits.dims(), [2, model.num_classes()]);
        let grads = cross_entropy(logits, labels::<A<T>>(&[0, 1], device))
            .mean()
            .backward();
        assert_eq!(x.grad(&grads).unwrap().dims(), [2, 3, 32, 32]);
    }
    check::<T, _>(
        SmallCnnConfig::new().with_width(4).init::<A<T>>(device),
        device,
    );
    check::<T, _>(
        ResNet18Config::new().with_width(4).init::<A<T>>(device),
        device,
    );
    check::<T, _>(
        Vgg19Config::new()
            .with_width_divisor(16)
            .init::<A<T>>(device),
        device,
    );
    check::<T, _>(
        MobileNetV2Config::new()
            .with_width_divisor(8)
            .init::<A<T>>(device),
        device,
    );
}

/// BatchNorm folding ([`Classifier::fold_batch_norm`], used by inference-mode attacks) gives
/// the unfolded logits on this backend, and NdArray's folded logits.
pub fn folded_model_matches_unfolded<T: Backend>(device: &T::Device) {
    let model = tiny_cnn(4, 23);
    let other = same_model::<T>(&model, device);
    let frozen = frozen_copy::<Autodiff<T>, _>(&other);
    let folded = frozen.fold_batch_norm().expect("SmallCnn folds");
    let x = images::<NB>([4, 3, 16, 16], 8, &dev());
    let xo = Tensor::<T, 4>::from_data(x.to_data(), device);
    let logits = |m: &SmallCnn<Autodiff<T>>| {
        to_vec(
            m.forward_mode(Tensor::from_inner(xo.clone()), Mode::Eval)
                .inner(),
        )
    };
    let (unfolded, folded_o) = (logits(&frozen), logits(&folded));
    let scale = unfolded.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(
        max_abs_diff(&unfolded, &folded_o) <= 1e-4 * scale,
        "folded logits differ on this backend"
    );
    let folded_n = model.fold_batch_norm().unwrap();
    let reference = to_vec(
        folded_n
            .forward_mode(Tensor::from_inner(x), Mode::Eval)
            .inner(),
    );
    assert!(
        max_abs_diff(&reference, &folded_o) < 1e-4,
        "folded logits differ from NdArray's"
    );
}

/// Declares the cross-backend tests for one backend.
#[macro_export]
macro_rules! cross_backend_tests {
    ($backend:ty, $device:expr) => {
        #[test]
        fn attacks_agree_with_ndarray() {
            $crate::cross_backend::attacks_agree_with_ndarray::<$backend>(&$device);
        }
        #[test]
        fn attack_outputs_respect_the_threat_model() {
            $crate::cross_backend::attack_outputs_respect_the_threat_model::<$backend>(&$device);
        }
        #[test]
        fn attacks_leave_the_model_unchanged_and_take_no_parameter_gradient() {
            $crate::cross_backend::attacks_leave_the_model_unchanged_and_take_no_parameter_gradient::<
                $backend,
            >(&$device);
        }
        #[test]
        fn folded_model_matches_unfolded() {
            $crate::cross_backend::folded_model_matches_unfolded::<$backend>(&$device);
        }
        #[test]
        fn every_model_runs_forward_and_backward() {
            $crate::cross_backend::every_model_runs_forward_and_backward::<$backend>(&$device);
        }
    };
}
