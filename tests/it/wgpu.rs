//! The same attack on NdArray and on WGPU (lavapipe in CI) gives the same result.

use crate::common::*;
use advcal::attack::*;
use advcal::checkpoint::{record_from_bytes, record_to_bytes};
use advcal::model::{Classifier, SmallCnn, SmallCnnConfig};
use burn::backend::wgpu::WgpuDevice;
use burn::backend::{Autodiff, Wgpu};
use burn::module::Module;
use burn::prelude::*;

type W = Wgpu;
type WAD = Autodiff<W>;

fn same_model_on_wgpu(model: &SmallCnn<AD>, device: &WgpuDevice) -> SmallCnn<WAD> {
    let bytes = record_to_bytes::<AD, _>(model.clone().into_record()).unwrap();
    SmallCnnConfig::new()
        .with_width(4)
        .init::<WAD>(device)
        .load_record(record_from_bytes::<WAD, _>(bytes, device).unwrap())
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

#[test]
fn attacks_agree_between_ndarray_and_wgpu() {
    let device = WgpuDevice::DefaultDevice;
    let model = tiny_cnn(4, 17);
    let wmodel = same_model_on_wgpu(&model, &device);
    let x = images::<NB>([4, 3, 16, 16], 3, &dev());
    let y = [1i64, 4, 7, 9];
    let xw = Tensor::<W, 4>::from_data(x.to_data(), &device);
    let clean_n =
        to_vec(model.forward_mode(Tensor::from_inner(x.clone()), advcal::model::Mode::Eval));
    let clean_w =
        to_vec(wmodel.forward_mode(Tensor::from_inner(xw.clone()), advcal::model::Mode::Eval));
    assert!(
        max_abs_diff(&clean_n, &clean_w) < 1e-4,
        "clean logits differ"
    );

    let pgd = Pgd::new(PgdConfig::new().with_steps(5).with_seed(3));
    let a = Attack::<AD, _>::perturb(&pgd, &model, x.clone(), labels::<NB>(&y, &dev())).unwrap();
    let b = Attack::<WAD, _>::perturb(&pgd, &wmodel, xw.clone(), labels::<W>(&y, &device)).unwrap();
    compare("pgd", to_vec(a.adversarial), to_vec(b.adversarial));
    assert!(max_abs_diff(&to_vec(a.loss), &to_vec(b.loss)) < 1e-2);

    let iaa = Iaa::new(IaaConfig::new().with_steps(5).with_seed(3));
    let a = Attack::<AD, _>::perturb(&iaa, &model, x.clone(), labels::<NB>(&y, &dev())).unwrap();
    let b = Attack::<WAD, _>::perturb(&iaa, &wmodel, xw.clone(), labels::<W>(&y, &device)).unwrap();
    compare("iaa", to_vec(a.adversarial), to_vec(b.adversarial));

    let noise = UniformNoise::default();
    let a = Attack::<AD, _>::perturb(&noise, &model, x, labels::<NB>(&y, &dev())).unwrap();
    let b = Attack::<WAD, _>::perturb(&noise, &wmodel, xw, labels::<W>(&y, &device)).unwrap();
    compare("noise", to_vec(a.adversarial), to_vec(b.adversarial));
}

#[test]
fn wgpu_attack_output_respects_the_threat_model() {
    let device = WgpuDevice::DefaultDevice;
    let wmodel = same_model_on_wgpu(&tiny_cnn(4, 2), &device);
    let x = Tensor::<W, 4>::from_data(images::<NB>([2, 3, 8, 8], 1, &dev()).to_data(), &device);
    for eps in [0.0f32, 0.03, 0.2] {
        let out = Attack::<WAD, _>::perturb_with(
            &Iaa::default(),
            &wmodel,
            x.clone(),
            labels::<W>(&[0, 1], &device),
            eps,
            1,
        )
        .unwrap();
        let adv = to_vec(out.adversarial.clone());
        assert!(adv.iter().all(|v| (0.0..=1.0).contains(v)));
        assert!(to_vec(out.perturbation.abs().max())[0] <= eps + 1e-6);
    }
}

#[test]
fn every_model_runs_forward_and_backward_on_wgpu() {
    use advcal::model::*;
    let device = WgpuDevice::DefaultDevice;
    fn check<M: Classifier<WAD>>(model: M, device: &WgpuDevice) {
        let x =
            Tensor::<WAD, 4>::from_data(images::<NB>([2, 3, 32, 32], 1, &dev()).to_data(), device)
                .require_grad();
        let logits = model.forward_mode(x.clone(), Mode::Train);
        assert_eq!(logits.dims(), [2, model.num_classes()]);
        let grads = advcal::attack::cross_entropy(logits, labels::<WAD>(&[0, 1], device))
            .mean()
            .backward();
        assert_eq!(x.grad(&grads).unwrap().dims(), [2, 3, 32, 32]);
    }
    check(
        SmallCnnConfig::new().with_width(4).init::<WAD>(&device),
        &device,
    );
    check(
        ResNet18Config::new().with_width(4).init::<WAD>(&device),
        &device,
    );
    check(
        Vgg19Config::new()
            .with_width_divisor(16)
            .init::<WAD>(&device),
        &device,
    );
    check(MobileNetV2Config::new().init::<WAD>(&device), &device);
}
