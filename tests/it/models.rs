//! Models: parameter counts, shapes, forward/backward, inference-mode batch independence.

use crate::common::*;
use advcal::model::*;
use burn::module::{AutodiffModule, Module};
use burn::prelude::*;

#[test]
fn parameter_counts_match_reference_architectures() {
    // Burn's num_params also counts BatchNorm running mean/var (2 per channel).
    let resnet = ResNet18Config::new().init::<NB>(&dev());
    assert_eq!(
        resnet.num_params(),
        11_173_962 + 9_600,
        "ResNet-18 (CIFAR): 11,173,962 trainable"
    );
    let vgg = Vgg19Config::new().init::<NB>(&dev());
    assert_eq!(
        vgg.num_params(),
        20_040_522 + 11_008,
        "VGG-19-BN (CIFAR): 20,040,522 trainable"
    );
    let mobilenet = MobileNetV2Config::new().init::<NB>(&dev());
    assert_eq!(
        mobilenet.num_params(),
        2_296_922 + 35_088,
        "MobileNetV2 (CIFAR): 2,296,922 trainable"
    );
    let resnet100 = ResNet18Config::new()
        .with_num_classes(200)
        .init::<NB>(&dev());
    assert_eq!(resnet100.num_params() - resnet.num_params(), 190 * 513);
}

fn forward_backward<M: Classifier<AD> + AutodiffModule<AD>>(model: M, side: usize)
where
    M::InnerModule: Classifier<NB>,
{
    let x = Tensor::<AD, 4>::from_inner(images::<NB>([2, 3, side, side], 1, &dev())).require_grad();
    let logits = model.forward_mode(x.clone(), Mode::Train);
    assert_eq!(logits.dims(), [2, model.num_classes()]);
    let loss = advcal::attack::cross_entropy(logits, labels::<AD>(&[0, 1], &dev())).mean();
    let grads = loss.backward();
    let g = x.grad(&grads).expect("input gradient");
    assert_eq!(g.dims(), [2, 3, side, side]);
    assert!(to_vec(g.abs().sum())[0] > 0.0);
    let inference = model
        .valid()
        .forward_mode(images::<NB>([1, 3, side, side], 2, &dev()), Mode::Eval);
    assert_eq!(inference.dims(), [1, model.num_classes()]);
}

#[test]
fn every_model_runs_forward_and_backward() {
    forward_backward(SmallCnnConfig::new().with_width(4).init::<AD>(&dev()), 32);
    forward_backward(ResNet18Config::new().with_width(4).init::<AD>(&dev()), 32);
    forward_backward(
        ResNet18Config::new()
            .with_width(4)
            .with_num_classes(200)
            .init::<AD>(&dev()),
        64,
    );
    forward_backward(
        Vgg19Config::new().with_width_divisor(16).init::<AD>(&dev()),
        32,
    );
    forward_backward(
        Vgg19Config::new().with_width_divisor(16).init::<AD>(&dev()),
        64,
    );
    forward_backward(MobileNetV2Config::new().init::<AD>(&dev()), 32);
    forward_backward(
        AnyModelConfig::new(Architecture::SmallCnn, 10).init::<AD>(&dev()),
        32,
    );
}

#[test]
fn full_size_resnet18_forward_shape() {
    let model = ResNet18Config::new().init::<NB>(&dev());
    let logits = model.forward_mode(images::<NB>([1, 3, 32, 32], 3, &dev()), Mode::Eval);
    assert_eq!(logits.dims(), [1, 10]);
    assert!(to_vec(logits).iter().all(|v| v.is_finite()));
}

#[test]
fn inference_mode_outputs_do_not_depend_on_the_batch() {
    let model = tiny_cnn(4, 2);
    let x = images::<NB>([3, 3, 8, 8], 4, &dev());
    let alone =
        to_vec(model.forward_mode(Tensor::from_inner(x.clone().narrow(0, 0, 1)), Mode::Eval));
    let in_batch = to_vec(
        model
            .forward_mode(Tensor::from_inner(x.clone()), Mode::Eval)
            .narrow(0, 0, 1),
    );
    assert!(
        max_abs_diff(&alone, &in_batch) < 1e-5,
        "eval mode mixes samples"
    );
    // And it matches Burn's own inference path (`valid()`), bit for bit up to rounding.
    let valid = to_vec(
        model
            .valid()
            .forward_mode(x.clone(), Mode::Eval)
            .narrow(0, 0, 1),
    );
    assert!(max_abs_diff(&valid, &in_batch) < 1e-5);
    // Training mode uses batch statistics, so the other samples matter.
    let alone = to_vec(
        model
            .forward_mode(Tensor::from_inner(x.clone().narrow(0, 0, 2)), Mode::Train)
            .narrow(0, 0, 1),
    );
    let in_batch = to_vec(
        model
            .forward_mode(Tensor::from_inner(x), Mode::Train)
            .narrow(0, 0, 1),
    );
    assert!(
        max_abs_diff(&alone, &in_batch) > 1e-4,
        "train mode should use batch statistics"
    );
}

#[test]
fn normalisation_is_inside_the_model() {
    let cfg = NormalizationConfig::new();
    let norm = cfg.init::<NB>(&dev());
    let x = Tensor::<NB, 4>::ones([1, 3, 1, 1], &dev());
    let out = to_vec(norm.forward(x));
    for c in 0..3 {
        assert!((out[c] - (1.0 - CIFAR10_MEAN[c]) / CIFAR10_STD[c]).abs() < 1e-5);
    }
    assert!(
        NormalizationConfig::new()
            .with_std(vec![0.0, 1.0, 1.0])
            .validate()
            .is_err()
    );
    assert!(
        NormalizationConfig::new()
            .with_mean(vec![0.5])
            .validate()
            .is_err()
    );
}

#[test]
fn architecture_names_round_trip() {
    for a in Architecture::ALL {
        assert_eq!(Architecture::parse(a.name()).unwrap(), a);
    }
    assert!(Architecture::parse("lenet").is_err());
}

/// Temperature scaling as a classifier: logits divided by T, predictions kept, folding kept,
/// attacks work on it without changing it, and `fit` finds the NLL minimum on held-out images.
#[test]
fn temperature_scaled_models_scale_logits_and_fit_the_nll_minimum() {
    use advcal::attack::{Attack, Iaa, IaaConfig};
    use advcal::data::Split;
    use advcal::metrics::nll_at_temperature;
    let model = tiny_cnn(4, 11);
    let x = Tensor::<AD, 4>::from_inner(images::<NB>([6, 3, 8, 8], 5, &dev()));
    let z = to_vec(model.valid().logits(x.clone().inner()));
    let scaled = TemperatureScaled::new(model.clone(), 0.5).unwrap();
    assert_eq!(scaled.temperature(), 0.5);
    let zs = to_vec(scaled.valid().logits(x.clone().inner()));
    let doubled: Vec<f32> = z.iter().map(|v| 2.0 * v).collect();
    assert!(max_abs_diff(&zs, &doubled) < 1e-5);
    let folded = scaled.valid().fold_batch_norm().unwrap();
    assert!(max_abs_diff(&to_vec(folded.logits(x.clone().inner())), &doubled) < 1e-4);
    for t in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            TemperatureScaled::new(model.clone(), t),
            Err(advcal::Error::InvalidParameter { .. })
        ));
    }

    // An IAA against the scaled model stays in the ball and leaves both models unchanged.
    let before = snapshot::<AD, _>(&scaled);
    let y = labels::<NB>(&[0, 1, 2, 3, 4, 5], &dev());
    let iaa = Iaa::new(IaaConfig::new().with_epsilon(0.05).with_steps(3));
    let out = Attack::<AD, _>::perturb(&iaa, &scaled, x.inner(), y).unwrap();
    assert!(out.perturbation.abs().max().into_scalar() <= 0.05 + 1e-6);
    assert_eq!(snapshot::<AD, _>(&scaled), before);

    // Held-out images built so that the NLL minimum is interior whatever the images are: every
    // image twice, once labelled with the model's top class and once with its second. At T → 0
    // the second copies cost ∞; at T → ∞ the NLL tends to ln K from below, because
    // z₍₁₎ + z₍₂₎ ≥ 2 z̄ for every image. The raw logits' optimum T₀ is found by a dense grid
    // (independent of the golden-section search), and the model is sharpened to T₀ / 4, so the
    // fitted temperature of the sharpened model must be 4.
    let images = sample(Split::Test).take(64);
    let raw = to_vec(
        model
            .valid()
            .logits(images.to_batch().images_tensor::<NB>(&dev())),
    );
    let ranked: Vec<(usize, usize)> = raw
        .chunks(10)
        .map(|row| {
            let mut order: Vec<usize> = (0..10).collect();
            order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
            (order[0], order[1])
        })
        .collect();
    let ys: Vec<usize> = ranked
        .iter()
        .map(|r| r.0)
        .chain(ranked.iter().map(|r| r.1))
        .collect();
    let doubled_logits = [raw.clone(), raw].concat();
    let raw_nll = |t: f64| nll_at_temperature(&doubled_logits, 10, &ys, t).unwrap();
    let t0 = (0..=4000)
        .map(|i| (-10.0 + i as f64 * 0.005).exp())
        .min_by(|a, b| raw_nll(*a).total_cmp(&raw_nll(*b)))
        .unwrap();
    assert!(
        t0 > 1e-4 && t0 < 2e4,
        "raw optimum T0 = {t0} is on the grid's edge"
    );
    let pixels = [images.pixels(), images.pixels()].concat();
    let held_out = advcal::data::ImageDataset::new(pixels, ys.clone(), [3, 32, 32], 10).unwrap();
    let sharp = TemperatureScaled::new(model, t0 / 4.0).unwrap();
    let fitted = TemperatureScaled::fit(sharp.clone(), &held_out, 16, &dev()).unwrap();
    let t = fitted.temperature();
    assert!(
        (t / 4.0 - 1.0).abs() < 0.02,
        "fitted T = {t}, expected 4 (T0 = {t0})"
    );
    let logits = to_vec(
        sharp
            .valid()
            .logits(held_out.to_batch().images_tensor::<NB>(&dev())),
    );
    let nll = |t: f64| nll_at_temperature(&logits, 10, &ys, t).unwrap();
    assert!(nll(t) < nll(1.0) - 1e-3, "T = {t} is no better than 1");
    assert!(nll(t) <= nll(t * 1.05) + 1e-9 && nll(t) <= nll(t / 1.05) + 1e-9);
    assert!(matches!(
        TemperatureScaled::fit(sharp, &held_out, 0, &dev()),
        Err(advcal::Error::InvalidParameter { .. })
    ));
}

/// Parameter counts of the published architectures, against PyTorch's (`sum(p.numel())` of the
/// TRADES `WideResNet`, Wong et al.'s `PreActResNet18`, torchvision's `resnet50`, its
/// `ResNet(Bottleneck, [1, 1, 1, 1])` and `vgg19_bn`); Burn's count adds BatchNorm's running mean
/// and variance (2 per channel; PyTorch's `running_*` buffers).
#[test]
fn wide_resnet_and_preact_resnet_match_pytorch_parameter_counts() {
    let wrn = |depth, k| {
        WideResNetConfig::new()
            .with_depth(depth)
            .with_widen_factor(k)
            .init::<NB>(&dev())
            .unwrap()
            .num_params()
    };
    assert_eq!(wrn(10, 1), 77_850 + 480);
    assert_eq!(wrn(28, 10), 36_479_194 + 17_952);
    let preact = |final_bn| {
        PreActResNet18Config::new()
            .with_final_bn(final_bn)
            .init::<NB>(&dev())
            .unwrap()
            .num_params()
    };
    assert_eq!(preact(false), 11_171_146 + 6_784);
    assert_eq!(preact(true), 11_172_170 + 7_808);
    let resnet = |layers: Vec<usize>, classes| {
        ResNet50Config::new()
            .with_layers(layers)
            .with_num_classes(classes)
            .init::<NB>(&dev())
            .unwrap()
            .num_params()
    };
    assert_eq!(resnet(vec![3, 4, 6, 3], 1000), 25_557_032 + 53_120);
    assert_eq!(resnet(vec![1, 1, 1, 1], 10), 8_036_426 + 19_328);
    assert!(
        ResNet50Config::new()
            .with_layers(vec![3, 4, 6])
            .init::<NB>(&dev())
            .is_err()
    );
    let vgg = Vgg19BnConfig::new().init::<NB>(&dev()).unwrap();
    assert_eq!(vgg.num_params(), 143_678_248 + 11_008);
    assert!(
        Vgg19BnConfig::new()
            .with_width_divisor(3)
            .init::<NB>(&dev())
            .is_err()
    );
    for depth in [0, 9, 27] {
        assert!(matches!(
            WideResNetConfig::new().with_depth(depth).init::<NB>(&dev()),
            Err(advcal::Error::InvalidParameter { .. })
        ));
    }
    assert!(
        WideResNetConfig::new()
            .with_widen_factor(0)
            .init::<NB>(&dev())
            .is_err()
    );
    forward_backward(
        WideResNetConfig::new()
            .with_depth(10)
            .with_widen_factor(1)
            .init::<AD>(&dev())
            .unwrap(),
        32,
    );
    forward_backward(
        PreActResNet18Config::new()
            .with_width(4)
            .init::<AD>(&dev())
            .unwrap(),
        32,
    );
    forward_backward(
        ResNet50Config::new()
            .with_layers(vec![1, 1, 1, 1])
            .with_width(4)
            .init::<AD>(&dev())
            .unwrap(),
        64,
    );
    forward_backward(
        Vgg19BnConfig::new()
            .with_width_divisor(32)
            .init::<AD>(&dev())
            .unwrap(),
        32,
    );
}
