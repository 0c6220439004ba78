//! BatchNorm folding (`Classifier::fold_batch_norm`, `fold_conv_bn`): the folded copy is
//! inference-equivalent (logits, input gradients, whole attacks), leaves the model untouched
//! and owns new, frozen convolutions.

use crate::common::*;
use advcal::attack::*;
use advcal::model::*;
use burn::backend::Autodiff;
use burn::module::{
    AutodiffModule, Module, ModuleMapper, ModuleVisitor, Param, ParamId, RunningState,
};
use burn::nn::BatchNormConfig;
use burn::nn::conv::Conv2dConfig;
use burn::prelude::*;
use std::collections::HashSet;

type A<T> = Autodiff<T>;

/// Width-reduced configs (ResNet-18 width 8, the others divisor 8, WRN-10-1, ResNet-50 with
/// one bottleneck per stage).
fn config(arch: Architecture) -> AnyModelConfig {
    let mut c = AnyModelConfig::new(arch, 10);
    c.width = 8;
    c.width_divisor = 8;
    c.depth = 10;
    c.widen_factor = 1;
    c.layers = Some(vec![1, 1, 1, 1]);
    c
}

/// Parameters (and running statistics) a folded copy shares with its model: the linear layers'
/// weights and biases, and in the pre-activation networks every layer folding keeps — the stem
/// conv, each block's `conv2` and projection shortcut (no BatchNorm follows them), and γ, β and
/// the running mean and variance of each block's `bn1` and the final BatchNorm.
fn shared_after_folding(arch: Architecture) -> usize {
    match arch {
        Architecture::Vgg19Bn => 3 * 2,
        // WRN-10-1: fc, stem, three blocks' conv2, two shortcuts, four BatchNorms.
        Architecture::WideResNet => 2 + 1 + 3 + 2 + 4 * 4,
        // fc, stem, eight blocks' conv2, three shortcuts, eight BatchNorms (no final one).
        Architecture::PreActResNet18 => 2 + 1 + 8 + 3 + 8 * 4,
        _ => 2,
    }
}

/// Multiplies every 1-D float tensor (BatchNorm γ, β, running mean/variance, biases) by a
/// factor in [0.6, 1.4] and shifts it by up to ±0.1, so that no BatchNorm is the identity.
struct Perturb(u64);

impl<B: Backend> ModuleMapper<B> for Perturb {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        if D != 1 {
            return param;
        }
        self.0 += 2;
        let seed = self.0;
        param.map(|t| {
            let (shape, device) = (t.shape(), t.device());
            let n = shape.num_elements();
            let factor = advcal::rng::uniform_values(n, 0.4, seed)
                .into_iter()
                .map(|u| 1.0 + u)
                .collect::<Vec<_>>();
            let shift = advcal::rng::uniform_values(n, 0.1, seed + 1);
            let factor = Tensor::<B, D>::from_data(TensorData::new(factor, shape.clone()), &device);
            let shift = Tensor::<B, D>::from_data(TensorData::new(shift, shape), &device);
            t * factor + shift
        })
    }
}

/// A model of `arch` with non-trivial BatchNorm parameters and running statistics (perturbed,
/// then three training-mode forward passes on an autodiff backend).
fn trained<T: Backend>(arch: Architecture, device: &T::Device) -> AnyModel<A<T>> {
    let c = config(arch);
    let inner = seeded_init::<T, _>(device, 7, || c.init::<T>(device)).map(&mut Perturb(0));
    let model = AnyModel::<A<T>>::from_inner(inner);
    for s in 0..3 {
        let x = images::<T>([8, 3, 32, 32], 100 + s, device);
        let _ = model.forward_mode(Tensor::from_inner(x), Mode::Train);
    }
    model
}

fn assert_close(name: &str, reference: &[f32], other: &[f32], relative: f32) {
    let scale = reference.iter().fold(0f32, |m, v| m.max(v.abs()));
    let diff = max_abs_diff(reference, other);
    assert!(
        diff <= relative * scale,
        "{name}: max |diff| = {diff:e}, scale {scale:e}"
    );
}

/// Checks (a) logits and (b) input gradients of every architecture, folded against unfolded.
/// `gradient_tolerance` is relative to the largest gradient component. The reduced
/// MobileNetV2's gradient (|∇| ≈ 5e-6 at this initialisation) is a small difference of large
/// terms: folding moved it by 0.87 % of its largest component on a CI machine (with
/// batch-of-one and batch-of-four gradients bit-identical there), hence 2e-2.
fn logits_and_gradients_match<T: Backend>(device: &T::Device, gradient_tolerance: f32) {
    for arch in Architecture::ALL {
        let name = arch.name();
        let model = trained::<T>(arch, device);
        let frozen = frozen_copy::<A<T>, _>(&model);
        let folded = frozen
            .fold_batch_norm()
            .expect("every model of the crate folds");
        // γ and β are gone, a bias per folded conv is new: fewer parameters.
        assert!(folded.num_params() < frozen.num_params(), "{name}");
        let x = images::<T>([4, 3, 32, 32], 9, device);

        // (a) logits, on the autodiff backend and on the inner backend.
        let reference = to_vec(
            frozen
                .forward_mode(Tensor::from_inner(x.clone()), Mode::Eval)
                .inner(),
        );
        let got = to_vec(
            folded
                .forward_mode(Tensor::from_inner(x.clone()), Mode::Eval)
                .inner(),
        );
        assert_close(&format!("{name} logits"), &reference, &got, 1e-4);
        let inner = model.valid();
        let inner_folded = inner.fold_batch_norm().unwrap();
        assert_close(
            &format!("{name} inner logits"),
            &to_vec(inner.logits(x.clone())),
            &to_vec(inner_folded.logits(x.clone())),
            1e-4,
        );
        // The statistics matter: a fresh model of the same seed gives other logits.
        let fresh = seeded_init::<T, _>(device, 7, || config(arch).init::<T>(device));
        assert!(max_abs_diff(&reference, &to_vec(fresh.logits(x.clone()))) > 1e-3);

        // (b) input gradients and objective values.
        let y = labels::<A<T>>(&[1, 3, 5, 7], device);
        let gradient = |m: &AnyModel<A<T>>, range: std::ops::Range<usize>| {
            let (g, v) = input_gradient::<A<T>, _, _>(
                m,
                x.clone().slice([range.clone()]),
                y.clone().slice([range]),
                &CrossEntropy,
                Mode::Eval,
            )
            .unwrap();
            (to_vec(g), to_vec(v))
        };
        let (g0, v0) = gradient(&frozen, 0..4);
        let (g1, v1) = gradient(&folded, 0..4);
        assert_close(&format!("{name} loss"), &v0, &v1, 1e-4);
        // Folding may differ by the tolerance or by a few times the reassociation floor (the
        // change between a batch of four and each image alone), whichever is larger.
        let per = g0.len() / 4;
        let mut floor = 0f32;
        for i in 0..4 {
            let part = i * per..(i + 1) * per;
            floor = floor
                .max(max_abs_diff(
                    &g0[part.clone()],
                    &gradient(&frozen, i..i + 1).0,
                ))
                .max(max_abs_diff(&g1[part], &gradient(&folded, i..i + 1).0));
        }
        let scale = g0.iter().fold(0f32, |m, v| m.max(v.abs()));
        let diff = max_abs_diff(&g0, &g1);
        assert!(
            diff <= (gradient_tolerance * scale).max(4.0 * floor),
            "{name} gradient: max |diff| = {diff:e}, scale {scale:e}, reassociation floor {floor:e}"
        );

        // Folding a folded copy changes nothing: bit for bit where every BatchNorm folds; the
        // pre-activation networks keep BatchNorms (on the residual sums), and there the second
        // copy's logits were seen to differ at float-rounding level (≈ 1e-6 relative).
        let twice = folded.fold_batch_norm().unwrap();
        let again = to_vec(
            twice
                .forward_mode(Tensor::from_inner(x.clone()), Mode::Eval)
                .inner(),
        );
        if matches!(
            arch,
            Architecture::WideResNet | Architecture::PreActResNet18
        ) {
            assert_close(&format!("{name} folded twice"), &got, &again, 1e-5);
        } else {
            assert_eq!(again, got, "{name}");
        }
    }
}

#[test]
fn folded_logits_and_input_gradients_match_on_ndarray() {
    logits_and_gradients_match::<NB>(&dev(), 2e-2);
}

#[test]
fn folded_logits_and_input_gradients_match_on_flex() {
    logits_and_gradients_match::<FB>(&Default::default(), 2e-2);
}

/// The same model without folding support (the trait's default `fold_batch_norm`), so the
/// attack engine runs it unfolded.
#[derive(Module, Debug)]
struct Unfoldable<B: Backend> {
    inner: AnyModel<B>,
}

impl<B: Backend> Classifier<B> for Unfoldable<B> {
    fn forward_mode(&self, images: Tensor<B, 4>, mode: Mode) -> Tensor<B, 2> {
        self.inner.forward_mode(images, mode)
    }
    fn num_classes(&self) -> usize {
        self.inner.num_classes()
    }
    fn input_channels(&self) -> Option<usize> {
        self.inner.input_channels()
    }
}

#[test]
fn attacks_give_the_same_result_with_and_without_folding() {
    type Pair = (
        &'static str,
        Box<dyn Attack<AD, AnyModel<AD>>>,
        Box<dyn Attack<AD, Unfoldable<AD>>>,
    );
    for arch in [Architecture::SmallCnn, Architecture::ResNet18] {
        let model = trained::<NB>(arch, &dev());
        let unfoldable = Unfoldable {
            inner: model.clone(),
        };
        assert!(unfoldable.fold_batch_norm().is_none());
        let x = images::<NB>([4, 3, 32, 32], 11, &dev());
        let y = [0i64, 2, 4, 6];
        let attacks: Vec<Pair> = vec![
            ("fgsm", Box::new(Fgsm::default()), Box::new(Fgsm::default())),
            (
                "pgd",
                Box::new(Pgd::new(PgdConfig::new().with_steps(5).with_seed(3))),
                Box::new(Pgd::new(PgdConfig::new().with_steps(5).with_seed(3))),
            ),
            // Algorithm 1: Eq. 2's selection may keep another iterate after a 1e-7 rounding
            // difference, so its images are not comparable pixel by pixel.
            (
                "iaa",
                Box::new(Iaa::new(IaaConfig::alg1().with_steps(5).with_seed(3))),
                Box::new(Iaa::new(IaaConfig::alg1().with_steps(5).with_seed(3))),
            ),
        ];
        for (attack, folded_attack, plain_attack) in attacks {
            let name = format!("{} {attack}", arch.name());
            let a = folded_attack
                .perturb(&model, x.clone(), labels::<NB>(&y, &dev()))
                .unwrap();
            let b = plain_attack
                .perturb(&unfoldable, x.clone(), labels::<NB>(&y, &dev()))
                .unwrap();
            let (xa, xb) = (to_vec(a.adversarial), to_vec(b.adversarial));
            let (la, lb) = (to_vec(a.logits.clone()), to_vec(b.logits.clone()));
            if attack == "fgsm" {
                // One step from the clean images: the gradient signs agree, the images are the
                // same.
                assert!(max_abs_diff(&xa, &xb) <= 1e-5, "{name}: images differ");
                assert_close(&format!("{name} logits"), &lb, &la, 1e-4);
            } else {
                // Over several steps, a rounding difference of 1e-7 (folding, or just another
                // thread schedule) can move a pre-activation across a ReLU kink or flip the
                // sign of a near-zero gradient component; the pixels moved differently then
                // drift apart for the remaining steps (≈ 0.1–0.5% of them here, as between two
                // backends). The outcome of the attack is the same.
                let differing = xa
                    .iter()
                    .zip(&xb)
                    .filter(|(p, q)| (*p - *q).abs() > 1e-5)
                    .count();
                assert!(
                    differing as f32 <= 0.02 * xa.len() as f32,
                    "{name}: {differing} of {} pixels differ",
                    xa.len()
                );
                assert_close(&format!("{name} logits"), &lb, &la, 1e-2);
            }
            assert_eq!(
                to_vec(a.logits.argmax(1).float()),
                to_vec(b.logits.argmax(1).float()),
                "{name}: predictions differ"
            );
        }
    }
}

struct Ids {
    ids: HashSet<ParamId>,
    requiring_grad: usize,
}

impl<B: Backend> ModuleVisitor<B> for Ids {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.ids.insert(param.id);
        if param.val().is_require_grad() {
            self.requiring_grad += 1;
        }
    }
}

fn ids<B: Backend, M: Module<B>>(model: &M) -> Ids {
    let mut v = Ids {
        ids: HashSet::new(),
        requiring_grad: 0,
    };
    model.visit(&mut v);
    v
}

#[test]
fn folding_leaves_the_model_untouched_and_the_copy_frozen() {
    for arch in Architecture::ALL {
        let name = arch.name();
        let model = trained::<NB>(arch, &dev());
        let before = snapshot::<AD, _>(&model);
        let x = images::<NB>([2, 3, 32, 32], 5, &dev());
        let y = labels::<AD>(&[1, 2], &dev());

        // Folding the model itself (not a frozen copy), then using the copy.
        let folded = model.fold_batch_norm().unwrap();
        let (g, _) =
            input_gradient::<AD, _, _>(&folded, x.clone(), y.clone(), &CrossEntropy, Mode::Eval)
                .unwrap();
        assert_eq!(g.dims(), [2, 3, 32, 32]);
        let folded_ids = ids::<AD, _>(&folded);
        let model_ids = ids::<AD, _>(&model);
        // Only the linear layers and what folding keeps are shared; every conv followed by a
        // BatchNorm is new.
        assert_eq!(
            folded_ids.ids.intersection(&model_ids.ids).count(),
            shared_after_folding(arch),
            "{name}"
        );
        // The engine's path: fold the frozen copy; nothing in it requires a gradient.
        let frozen = frozen_copy::<AD, _>(&model).fold_batch_norm().unwrap();
        assert_eq!(ids::<AD, _>(&frozen).requiring_grad, 0, "{name}");
        // And an attack (which folds its copy) changes nothing either.
        Attack::<AD, _>::perturb(&Pgd::default(), &model, x, labels::<NB>(&[1, 2], &dev()))
            .unwrap();
        assert_eq!(
            snapshot::<AD, _>(&model),
            before,
            "{name}: folding changed the model"
        );
        assert!(
            model_ids.requiring_grad > 0,
            "{name}: the model's parameters are trainable"
        );
    }
}

#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "inference only")]
fn training_a_folded_model_is_a_debug_panic() {
    let model = trained::<NB>(Architecture::SmallCnn, &dev());
    let folded = model.fold_batch_norm().unwrap();
    let _ = folded.forward_mode(
        Tensor::from_inner(images::<NB>([2, 3, 32, 32], 1, &dev())),
        Mode::Train,
    );
}

fn bn_with<B: Backend>(
    gamma: &[f32],
    beta: &[f32],
    mean: &[f32],
    var: &[f32],
    d: &B::Device,
) -> burn::nn::BatchNorm<B> {
    let mut bn = BatchNormConfig::new(gamma.len()).init::<B>(d);
    bn.gamma = Param::from_tensor(Tensor::from_floats(gamma, d));
    bn.beta = Param::from_tensor(Tensor::from_floats(beta, d));
    bn.running_mean = RunningState::new(Tensor::from_floats(mean, d));
    bn.running_var = RunningState::new(Tensor::from_floats(var, d));
    bn.epsilon = 0.0;
    bn
}

#[test]
fn fold_conv_bn_by_hand() {
    let d = dev();
    // One channel, 1×1 kernel: W = 2, b = 1; γ = 3, β = 0.5, μ = 4, σ² = 0.25 (ε = 0):
    // s = 3 / 0.5 = 6, W' = 12, b' = 0.5 + (1 − 4)·6 = −17.5 (without conv bias: 0.5 − 24).
    let mut conv = Conv2dConfig::new([1, 1], [1, 1]).init::<NB>(&d);
    conv.weight = Param::from_tensor(Tensor::from_floats([[[[2.0]]]], &d));
    conv.bias = Some(Param::from_tensor(Tensor::from_floats([1.0], &d)));
    let bn = bn_with::<NB>(&[3.0], &[0.5], &[4.0], &[0.25], &d);
    let folded = fold_conv_bn(&conv, &bn);
    assert_eq!(to_vec(folded.weight.val()), vec![12.0]);
    assert_eq!(to_vec(folded.bias.as_ref().unwrap().val()), vec![-17.5]);
    conv.bias = None;
    let folded = fold_conv_bn(&conv, &bn);
    assert_eq!(to_vec(folded.weight.val()), vec![12.0]);
    assert_eq!(to_vec(folded.bias.unwrap().val()), vec![-23.5]);
    // The inputs are untouched.
    assert_eq!(to_vec(conv.weight.val()), vec![2.0]);
    assert_eq!(to_vec(bn.running_mean.value()), vec![4.0]);

    // Depthwise (groups = channels), strided, padded, with bias: the forward passes agree.
    let conv = Conv2dConfig::new([3, 3], [3, 3])
        .with_groups(3)
        .with_stride([2, 2])
        .with_padding(burn::nn::PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init::<NB>(&d);
    let mut bn = bn_with::<NB>(
        &[0.5, 2.0, -1.0],
        &[0.1, -0.2, 0.3],
        &[0.2, -0.1, 0.05],
        &[0.5, 2.0, 0.1],
        &d,
    );
    bn.epsilon = 1e-5;
    let x = images::<NB>([2, 3, 7, 7], 4, &d);
    let reference = to_vec(batch_norm(&bn, conv.forward(x.clone()), Mode::Eval));
    let folded = fold_conv_bn(&conv, &bn);
    assert_eq!(folded.groups, 3);
    assert_close("depthwise", &reference, &to_vec(folded.forward(x)), 1e-5);
}

/// Folds a pre-activation network (only the BatchNorms that follow a convolution fold; the ones
/// on the residual sum stay, in inference behaviour) and checks logits and input gradients.
fn preact_folding_matches<M>(name: &str, inner: M::InnerModule)
where
    M: Classifier<AD> + AutodiffModule<AD>,
    M::InnerModule: Classifier<NB> + Module<NB>,
{
    let model = M::from_inner(inner.map(&mut Perturb(0)));
    let x = images::<NB>([4, 3, 32, 32], 9, &dev());
    let logits = |m: &M| {
        to_vec(
            m.forward_mode(Tensor::from_inner(x.clone()), Mode::Eval)
                .inner(),
        )
    };
    let before = logits(&model);
    for s in 0..3 {
        let x = images::<NB>([8, 3, 32, 32], 100 + s, &dev());
        let _ = model.forward_mode(Tensor::from_inner(x), Mode::Train);
    }
    let frozen = frozen_copy::<AD, _>(&model);
    let folded = frozen.fold_batch_norm().expect("folds");
    assert!(folded.num_params() < frozen.num_params(), "{name}");
    let reference = logits(&frozen);
    // The training passes moved the running statistics, and they matter.
    assert!(max_abs_diff(&reference, &before) > 1e-4, "{name}");
    assert_close(
        &format!("{name} logits"),
        &reference,
        &logits(&folded),
        1e-4,
    );
    let y = labels::<AD>(&[1, 3, 5, 7], &dev());
    let gradient = |m: &M| {
        let (g, _) =
            input_gradient::<AD, _, _>(m, x.clone(), y.clone(), &CrossEntropy, Mode::Eval).unwrap();
        to_vec(g)
    };
    assert_close(
        &format!("{name} gradient"),
        &gradient(&frozen),
        &gradient(&folded),
        1e-3,
    );
}

#[test]
fn wide_resnet_and_preact_resnet_fold_their_batch_norms() {
    // Seeded: weights drawn lazily from the global generator would depend on which tests run
    // beside this one.
    let wrn = seeded_init::<NB, _>(&dev(), 21, || {
        WideResNetConfig::new()
            .with_depth(10)
            .with_widen_factor(2)
            .with_activation(Activation::Silu)
            .init::<NB>(&dev())
            .unwrap()
    });
    preact_folding_matches::<WideResNet<AD>>("WRN-10-2 (SiLU)", wrn);
    for (final_bn, from_input) in [(false, false), (true, true)] {
        let preact = seeded_init::<NB, _>(&dev(), 22, || {
            PreActResNet18Config::new()
                .with_width(8)
                .with_final_bn(final_bn)
                .with_shortcut_from_input(from_input)
                .init::<NB>(&dev())
                .unwrap()
        });
        preact_folding_matches::<PreActResNet18<AD>>("PreAct ResNet-18/8", preact);
    }
}
