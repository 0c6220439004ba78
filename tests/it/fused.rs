//! advcal's fused LibTorch kernels (`advcal::model::fused`: convolution backward and train-mode
//! BatchNorm through ATen) against Burn's generic path on the same backend and weights: outputs,
//! every gradient, the running statistics, and a whole ResNet-18 training step.

use crate::common::*;
use advcal::checkpoint::{record_from_bytes, record_to_bytes};
use advcal::model::fused::with_generic_ops;
use advcal::model::{Classifier, Mode, ResNet18, ResNet18Config, batch_norm, conv2d, seeded_init};
use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::optim::{GradientsParams, Optimizer, SgdConfig};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

type T = burn::backend::LibTorch<f32>;
type TA = burn::backend::Autodiff<T>;

fn tdev() -> burn::backend::libtorch::LibTorchDevice {
    burn::backend::libtorch::LibTorchDevice::Cpu
}

/// A deterministic tensor of any rank with values in [-1, 1].
fn values<B: Backend, const D: usize>(shape: [usize; D], seed: u64) -> Tensor<B, D> {
    let n = shape.iter().product();
    let v = advcal::rng::uniform_values(n, 1.0, seed);
    Tensor::from_data(TensorData::new(v, shape), &Default::default())
}

/// The comparisons below are vacuous with the kernels switched off (`ADVCAL_FUSED_OPS=0`).
fn require_fused() {
    assert!(
        advcal::model::fused::fused_ops_enabled(),
        "the fused kernels are switched off (ADVCAL_FUSED_OPS=0?)"
    );
}

/// `max |a − b| ≤ tol · max(1, max |a|)`.
fn assert_close(name: &str, a: Vec<f32>, b: Vec<f32>, tol: f32) {
    let scale = a.iter().fold(1.0f32, |m, x| m.max(x.abs()));
    let diff = max_abs_diff(&a, &b);
    assert!(
        diff <= tol * scale,
        "{name}: max |diff| {diff} > {tol} × {scale}"
    );
}

fn grad<const D: usize>(t: &Tensor<TA, D>, grads: &<TA as AutodiffBackend>::Gradients) -> Vec<f32> {
    to_vec(t.grad(grads).expect("tracked tensor has a gradient"))
}

/// One forward and backward of `f` on a tracked input, with a fixed upstream gradient `r`:
/// the output and the gradients of the input and of every tensor in `params`.
fn run<const D: usize, const E: usize>(
    x: Tensor<TA, D>,
    params: &[Tensor<TA, 4>],
    vectors: &[Tensor<TA, 1>],
    f: impl FnOnce(Tensor<TA, D>) -> Tensor<TA, E>,
) -> Vec<Vec<f32>> {
    let x = x.require_grad();
    let y = f(x.clone());
    let r = values::<TA, E>(y.dims(), 99);
    let grads = (y.clone() * r).sum().backward();
    let mut out = vec![to_vec(y), grad(&x, &grads)];
    out.extend(params.iter().map(|p| grad(p, &grads)));
    out.extend(vectors.iter().map(|p| grad(p, &grads)));
    out
}

fn conv_case(config: Conv2dConfig) {
    let mut conv: Conv2d<TA> = config.init(&tdev());
    conv.weight = Param::from_tensor(values::<TA, 4>(conv.weight.dims(), 1));
    if let Some(b) = &conv.bias {
        conv.bias = Some(Param::from_tensor(values::<TA, 1>(b.dims(), 2)));
    }
    let x = values::<TA, 4>([3, config.channels[0], 9, 9], 3);
    let w = conv.weight.val();
    let b: Vec<_> = conv.bias.iter().map(|b| b.val()).collect();
    let fused = run(x.clone(), std::slice::from_ref(&w), &b, |x| {
        conv2d(&conv, x)
    });
    let generic = with_generic_ops(|| run(x, &[w], &b, |x| conv.forward(x)));
    let names = ["output", "d input", "d weight", "d bias"];
    for ((name, f), g) in names.iter().zip(fused).zip(generic) {
        assert_close(&format!("{config}: {name}"), g, f, 1e-5);
    }
}

#[test]
fn fused_convolution_matches_burn_on_libtorch() {
    require_fused();
    use PaddingConfig2d::*;
    let c = |cin, cout, k| Conv2dConfig::new([cin, cout], [k, k]).with_bias(false);
    conv_case(c(3, 8, 3).with_padding(Explicit(1, 1, 1, 1)));
    conv_case(
        c(4, 6, 3)
            .with_stride([2, 2])
            .with_padding(Explicit(1, 1, 1, 1))
            .with_bias(true),
    );
    conv_case(c(4, 8, 1).with_stride([2, 2]).with_padding(Valid));
    // Depthwise; grouped and dilated.
    conv_case(c(6, 6, 3).with_groups(6).with_padding(Explicit(1, 1, 1, 1)));
    conv_case(
        c(4, 4, 3)
            .with_groups(2)
            .with_dilation([2, 2])
            .with_padding(Explicit(2, 2, 2, 2))
            .with_bias(true),
    );
    // Not covered (`Same`): falls back to Burn's path, still equal.
    conv_case(c(3, 5, 3).with_padding(Same).with_bias(true));
}

fn bn_pair(channels: usize) -> (BatchNorm<TA>, BatchNorm<TA>) {
    let mut bn: BatchNorm<TA> = BatchNormConfig::new(channels)
        .with_momentum(0.3)
        .init(&tdev());
    bn.gamma = Param::from_tensor(values::<TA, 1>([channels], 4).add_scalar(1.5));
    bn.beta = Param::from_tensor(values::<TA, 1>([channels], 5));
    let bytes = record_to_bytes::<TA, _>(bn.clone().into_record()).unwrap();
    let twin = BatchNormConfig::new(channels)
        .with_momentum(0.3)
        .init::<TA>(&tdev())
        .load_record(record_from_bytes::<TA, _>(bytes, &tdev()).unwrap());
    (bn, twin)
}

fn bn_case<const D: usize>(shape: [usize; D]) {
    let c = shape[1];
    let (fused_bn, generic_bn) = bn_pair(c);
    for step in 0..2u64 {
        // A per-channel offset and scale so the batch statistics are far from (0, 1).
        let x = values::<TA, D>(shape, 10 + step)
            .mul_scalar(3.0)
            .add_scalar(2.0);
        let gv = |bn: &BatchNorm<TA>| [bn.gamma.val(), bn.beta.val()];
        let fused = run(x.clone(), &[], &gv(&fused_bn), |x| {
            batch_norm(&fused_bn, x, Mode::Train)
        });
        let generic = with_generic_ops(|| {
            run(x, &[], &gv(&generic_bn), |x| {
                batch_norm(&generic_bn, x, Mode::Train)
            })
        });
        for ((name, f), g) in ["output", "d input", "d gamma", "d beta"]
            .iter()
            .zip(fused)
            .zip(generic)
        {
            assert_close(
                &format!("batch norm {shape:?} step {step}: {name}"),
                g,
                f,
                1e-4,
            );
        }
        for (name, f, g) in [
            (
                "running mean",
                fused_bn.running_mean.value_sync(),
                generic_bn.running_mean.value_sync(),
            ),
            (
                "running var",
                fused_bn.running_var.value_sync(),
                generic_bn.running_var.value_sync(),
            ),
        ] {
            assert_close(
                &format!("batch norm {shape:?} step {step}: {name}"),
                to_vec(g),
                to_vec(f),
                1e-5,
            );
        }
    }
}

#[test]
fn fused_batch_norm_matches_burn_on_libtorch() {
    require_fused();
    bn_case([8, 3, 5, 5]);
    bn_case([6, 4]);
    bn_case([4, 2, 7]);
}

/// Every parameter of a module, flattened.
struct Params(Vec<Vec<f32>>);
impl<B: Backend> ModuleVisitor<B> for Params {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.0.push(to_vec(param.val()));
    }
}

fn resnet_pair() -> (ResNet18<TA>, ResNet18<TA>) {
    let config = ResNet18Config::new().with_width(4);
    let model = seeded_init::<AD, _>(&dev(), 3, || config.init::<AD>(&dev()));
    let bytes = record_to_bytes::<AD, _>(model.into_record()).unwrap();
    let load = || {
        config
            .init::<TA>(&tdev())
            .load_record(record_from_bytes::<TA, _>(bytes.clone(), &tdev()).unwrap())
    };
    (load(), load())
}

/// Two SGD steps (lr 0.5, train-mode BatchNorm): loss, updated parameters, eval-mode logits.
fn train_two_steps(mut model: ResNet18<TA>) -> (Vec<f32>, Vec<Vec<f32>>, Vec<f32>) {
    let mut optim = SgdConfig::new().init::<TA, ResNet18<TA>>();
    let y = labels::<TA>(&[0, 3, 7, 9, 1, 2], &tdev());
    let mut losses = vec![];
    for step in 0..2 {
        let x = images::<TA>([6, 3, 16, 16], 20 + step, &tdev());
        let logits = model.forward_mode(x, Mode::Train);
        let loss = burn::nn::loss::CrossEntropyLossConfig::new()
            .init(&tdev())
            .forward(logits, y.clone());
        losses.extend(to_vec(loss.clone()));
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(0.5, model, grads);
    }
    let mut params = Params(vec![]);
    model.visit(&mut params);
    let eval = to_vec(model.forward_mode(images::<TA>([6, 3, 16, 16], 30, &tdev()), Mode::Eval));
    (losses, params.0, eval)
}

#[test]
fn fused_resnet_training_matches_burn_on_libtorch() {
    require_fused();
    let (a, b) = resnet_pair();
    let (fused_loss, fused_params, fused_eval) = train_two_steps(a);
    let (loss, params, eval) = with_generic_ops(|| train_two_steps(b));
    assert_close("loss", loss, fused_loss, 1e-4);
    assert_eq!(params.len(), fused_params.len());
    for (i, (g, f)) in params.into_iter().zip(fused_params).enumerate() {
        assert_close(&format!("parameter {i} after two steps"), g, f, 1e-3);
    }
    // Eval-mode logits use the running statistics the two steps left behind.
    assert_close("eval logits after two steps", eval, fused_eval, 1e-3);
}

#[test]
fn fused_relu_is_bit_identical_to_burn_on_libtorch() {
    require_fused();
    // Values straddling 0, exact zeros included (the gradient there is 0 on both paths).
    let x = values::<TA, 3>([4, 5, 6], 40)
        .mul_scalar(2.0)
        .round()
        .div_scalar(2.0);
    let fused = run(x.clone(), &[], &[], advcal::model::relu);
    let generic = with_generic_ops(|| run(x, &[], &[], burn::tensor::activation::relu));
    assert_eq!(fused, generic);
}
