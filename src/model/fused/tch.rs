//! The LibTorch implementations behind [`super`]: autodiff nodes for `Autodiff<LibTorch<f32>>`
//! whose backward calls ATen through the C++ shim `csrc/torch_ops.cpp`.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::libtorch::TchTensor;
use burn::backend::{Autodiff, LibTorch};
use burn::nn::BatchNorm;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::TensorPrimitive;
use burn::tensor::ops::{ActivationOps, ConvOptions, ModuleOps};
use std::any::{Any, TypeId};
use std::ffi::{c_char, c_int};
use std::sync::Once;

type Inner = LibTorch<f32>;
type Ad = Autodiff<Inner>;

mod ffi {
    use std::ffi::{c_char, c_int};
    use torch_sys::C_tensor;

    unsafe extern "C" {
        pub fn advcal_convolution_backward(
            grad_out: *const C_tensor,
            input: *const C_tensor,
            weight: *const C_tensor,
            bias_len: i64,
            stride: *const i64,
            padding: *const i64,
            dilation: *const i64,
            dims: i64,
            groups: i64,
            mask: *const c_int,
            out: *mut *mut C_tensor,
            err: *mut c_char,
            err_len: usize,
        ) -> c_int;

        pub fn advcal_batch_norm_backward(
            grad_out: *const C_tensor,
            input: *const C_tensor,
            weight: *const C_tensor,
            save_mean: *const C_tensor,
            save_invstd: *const C_tensor,
            eps: f64,
            mask: *const c_int,
            out: *mut *mut C_tensor,
            err: *mut c_char,
            err_len: usize,
        ) -> c_int;
    }
}

/// Moves `t` into `U` when `T` and `U` are the same type (no allocation, no `unsafe`).
fn cast<T: 'static, U: 'static>(t: T) -> Result<U, T> {
    let mut slot = Some(t);
    match (&mut slot as &mut dyn Any).downcast_mut::<Option<U>>() {
        Some(u) => Ok(u.take().expect("the slot was just filled")),
        None => Err(slot.expect("the slot is still full")),
    }
}

fn is_ad_tch<B: Backend>() -> bool {
    TypeId::of::<B>() == TypeId::of::<Ad>()
}

/// Calls a shim function with the mask of requested gradients and its output and error
/// buffers, and takes its results: `Ok` with one owned tensor per requested gradient,
/// `Err(message)` if ATen threw.
///
/// # Safety
/// `call` must pass every tensor pointer it uses borrowed from a live `tch::Tensor`, and hand the
/// three pointers it receives (mask of 3, outputs of 3, error buffer of the given length) to the
/// shim unchanged.
unsafe fn shim_call(
    need: [bool; 3],
    call: impl FnOnce(*const c_int, *mut *mut torch_sys::C_tensor, *mut c_char, usize) -> c_int,
) -> Result<[Option<TchTensor>; 3], String> {
    let mask = need.map(c_int::from);
    let mut out = [std::ptr::null_mut(); 3];
    let mut err = [0 as c_char; 512];
    let status = call(mask.as_ptr(), out.as_mut_ptr(), err.as_mut_ptr(), err.len());
    // SAFETY: each non-null pointer is a fresh `new at::Tensor` from the shim, owned by us now.
    let owned =
        out.map(|p| (!p.is_null()).then(|| TchTensor::new(unsafe { ::tch::Tensor::from_ptr(p) })));
    if status == 0 {
        Ok(owned)
    } else {
        let bytes: Vec<u8> = err
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        Err(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// Registers each computed gradient with its parent node (`None`: untracked, gets none).
fn register(
    grads: &mut Gradients,
    parents: impl IntoIterator<Item = Option<NodeId>>,
    results: [Option<TchTensor>; 3],
) {
    for (parent, result) in parents.into_iter().zip(results) {
        if let (Some(id), Some(g)) = (parent, result) {
            grads.register::<Inner>(id, g);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Convolution

/// What the convolution's backward needs: the input and weight (shallow clones, which also
/// keep `burn-tch` from reusing their storage in place), the bias length, the options.
#[derive(Clone, Debug)]
struct ConvState {
    x: TchTensor,
    weight: TchTensor,
    bias_len: Option<usize>,
    options: ConvOptions<2>,
}

#[derive(Debug)]
struct ConvBackward;

impl<const N: usize> Backward<Inner, N> for ConvBackward {
    type State = ConvState;

    fn backward(self, ops: Ops<ConvState, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Inner>(&ops.node);
        let s = ops.state;
        let need: [bool; 3] =
            std::array::from_fn(|i| ops.parents.get(i).is_some_and(Option::is_some));
        static WARNED: Once = Once::new();
        let results = aten_or_else(
            conv_backward_aten(&grad, &s, need),
            &WARNED,
            "aten::convolution_backward",
            "Burn's convolution gradients",
            || conv_backward_generic(grad, &s, need),
        );
        register(
            grads,
            ops.parents.iter().map(|p| p.as_ref().map(|n| n.id)),
            results,
        );
    }
}

/// ATen's gradients, or, if ATen refused, `fallback`'s, with one warning per `warned` (one
/// per backward kind) naming the kernel and what replaced it.
fn aten_or_else(
    aten: Result<[Option<TchTensor>; 3], String>,
    warned: &'static Once,
    kernel: &str,
    replacement: &str,
    fallback: impl FnOnce() -> [Option<TchTensor>; 3],
) -> [Option<TchTensor>; 3] {
    aten.unwrap_or_else(|e| {
        warned.call_once(|| eprintln!("advcal: {kernel} failed ({e}); using {replacement}"));
        fallback()
    })
}

fn conv_backward_aten(
    grad: &TchTensor,
    s: &ConvState,
    need: [bool; 3],
) -> Result<[Option<TchTensor>; 3], String> {
    let o = &s.options;
    let (stride, padding, dilation) = (
        o.stride.map(|v| v as i64),
        o.padding.map(|v| v as i64),
        o.dilation.map(|v| v as i64),
    );
    // SAFETY: every tensor pointer is borrowed from a live `tch::Tensor` for the duration of the
    // call; the spatial arrays have the 2 entries the shim reads.
    unsafe {
        shim_call(need, |mask, out, err, err_len| {
            ffi::advcal_convolution_backward(
                grad.tensor.as_ptr(),
                s.x.tensor.as_ptr(),
                s.weight.tensor.as_ptr(),
                s.bias_len.map_or(-1, |n| n as i64),
                stride.as_ptr(),
                padding.as_ptr(),
                dilation.as_ptr(),
                2,
                o.groups as i64,
                mask,
                out,
                err,
                err_len,
            )
        })
    }
}

/// Burn's own convolution gradients (the path `Autodiff` takes), used if ATen ever refuses.
fn conv_backward_generic(
    grad: TchTensor,
    s: &ConvState,
    need: [bool; 3],
) -> [Option<TchTensor>; 3] {
    let dx = need[0].then(|| {
        Inner::conv2d_x_backward(
            s.x.clone(),
            s.weight.clone(),
            grad.clone(),
            s.options.clone(),
        )
    });
    let dw = need[1].then(|| {
        Inner::conv2d_weight_backward(
            s.x.clone(),
            s.weight.clone(),
            grad.clone(),
            s.options.clone(),
        )
    });
    let db = need[2].then(|| {
        let g: Tensor<Inner, 4> = Tensor::from_primitive(TensorPrimitive::Float(grad));
        g.sum_dim(0)
            .sum_dim(2)
            .sum_dim(3)
            .flatten::<1>(0, 3)
            .into_primitive()
            .tensor()
    });
    [dx, dw, db]
}

/// The padding of `conv` as symmetric `[rows, cols]`, or `None` where the fused path does not
/// apply (`Same`, whose padding depends on the input size, and asymmetric explicit padding).
fn symmetric_padding(padding: &PaddingConfig2d) -> Option<[usize; 2]> {
    match *padding {
        PaddingConfig2d::Valid => Some([0, 0]),
        PaddingConfig2d::Explicit(top, left, bottom, right) if top == bottom && left == right => {
            Some([top, left])
        }
        _ => None,
    }
}

pub(super) fn conv2d<B: Backend>(
    conv: &Conv2d<B>,
    x: Tensor<B, 4>,
) -> Result<Tensor<B, 4>, Tensor<B, 4>> {
    if !is_ad_tch::<B>() {
        return Err(x);
    }
    let Some(conv) = (conv as &dyn Any).downcast_ref::<Conv2d<Ad>>() else {
        return Err(x);
    };
    let weight = conv.weight.val();
    let Some(padding) = symmetric_padding(&conv.padding).filter(|_| weight.is_require_grad())
    else {
        return Err(x);
    };
    let x: Tensor<Ad, 4> = cast(x)?;
    let options = ConvOptions::new(conv.stride, padding, conv.dilation, conv.groups);
    let bias = conv.bias.as_ref().map(|b| b.val());
    let y = fused_conv2d(x, weight, bias, options);
    Ok(cast(y).unwrap_or_else(|_| unreachable!("B is Autodiff<LibTorch<f32>>")))
}

fn fused_conv2d(
    x: Tensor<Ad, 4>,
    weight: Tensor<Ad, 4>,
    bias: Option<Tensor<Ad, 1>>,
    options: ConvOptions<2>,
) -> Tensor<Ad, 4> {
    let x = x.into_primitive().tensor();
    let w = weight.into_primitive().tensor();
    let b = bias.map(|b| b.into_primitive().tensor());
    let state = ConvState {
        x: x.primitive.clone(),
        weight: w.primitive.clone(),
        bias_len: b.as_ref().map(|b| b.primitive.tensor.size()[0] as usize),
        options: options.clone(),
    };
    let forward = |b: Option<TchTensor>| {
        Inner::conv2d(x.primitive.clone(), w.primitive.clone(), b, options.clone())
    };
    let out = match b {
        Some(b) => match Backward::<Inner, 3>::prepare::<NoCheckpointing>(
            ConvBackward,
            [x.node.clone(), w.node.clone(), b.node.clone()],
        )
        .compute_bound()
        .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(state, forward(Some(b.primitive))),
            OpsKind::UnTracked(prep) => prep.finish(forward(Some(b.primitive))),
        },
        None => match Backward::<Inner, 2>::prepare::<NoCheckpointing>(
            ConvBackward,
            [x.node.clone(), w.node.clone()],
        )
        .compute_bound()
        .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(state, forward(None)),
            OpsKind::UnTracked(prep) => prep.finish(forward(None)),
        },
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

// ---------------------------------------------------------------------------------------------
// BatchNorm (train mode)

/// What BatchNorm's backward needs: input, γ, and the batch statistics of the forward pass.
#[derive(Clone, Debug)]
struct BnState {
    x: TchTensor,
    gamma: TchTensor,
    mean: TchTensor,
    invstd: TchTensor,
    eps: f64,
}

#[derive(Debug)]
struct BnBackward;

impl Backward<Inner, 3> for BnBackward {
    type State = BnState;

    fn backward(self, ops: Ops<BnState, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Inner>(&ops.node);
        let s = ops.state;
        let need = ops.parents.each_ref().map(Option::is_some);
        // The forward ran the same ATen kernel family on the same tensors, so a refusal here
        // is not expected; the closed form gives the same gradients from elementary ops
        // instead of stopping the training.
        static WARNED: Once = Once::new();
        let results = aten_or_else(
            bn_backward_aten(&grad, &s, need),
            &WARNED,
            "aten::native_batch_norm_backward",
            "the closed-form BatchNorm gradients",
            || bn_backward_closed_form(&grad, &s, need),
        );
        register(
            grads,
            ops.parents.iter().map(|p| p.as_ref().map(|n| n.id)),
            results,
        );
    }
}

fn bn_backward_aten(
    grad: &TchTensor,
    s: &BnState,
    need: [bool; 3],
) -> Result<[Option<TchTensor>; 3], String> {
    // SAFETY: every tensor pointer is borrowed from a live `tch::Tensor` for the call.
    unsafe {
        shim_call(need, |mask, out, err, err_len| {
            ffi::advcal_batch_norm_backward(
                grad.tensor.as_ptr(),
                s.x.tensor.as_ptr(),
                s.gamma.tensor.as_ptr(),
                s.mean.tensor.as_ptr(),
                s.invstd.tensor.as_ptr(),
                s.eps,
                mask,
                out,
                err,
                err_len,
            )
        })
    }
}

/// BatchNorm's gradients in closed form (Ioffe & Szegedy 2015, §3.1), with `x̂ = (x − μ)·σ̂⁻¹`
/// and `M` values per channel, summed over every dimension but the channel one:
/// `∂β = Σ dy`, `∂γ = Σ dy·x̂`, `∂x = γ·σ̂⁻¹/M · (M·dy − ∂β − x̂·∂γ)`. The path taken if ATen's
/// `native_batch_norm_backward` ever refuses.
fn bn_backward_closed_form(
    grad: &TchTensor,
    s: &BnState,
    need: [bool; 3],
) -> [Option<TchTensor>; 3] {
    let (dy, x) = (&grad.tensor, &s.x.tensor);
    let rank = x.dim();
    let dims: Vec<i64> = (0..rank as i64).filter(|&d| d != 1).collect();
    let mut per_channel = vec![1i64; rank];
    per_channel[1] = -1;
    let channel = |t: &::tch::Tensor| t.view(per_channel.as_slice());
    let xhat = (x - channel(&s.mean.tensor)) * channel(&s.invstd.tensor);
    let sum = |t: &::tch::Tensor| t.sum_dim_intlist(dims.as_slice(), false, None::<::tch::Kind>);
    let dbeta = sum(dy);
    let dgamma = sum(&(dy * &xhat));
    let dx = need[0].then(|| {
        let m = (x.numel() / x.size()[1] as usize) as f64;
        let scale = channel(&(&s.gamma.tensor * &s.invstd.tensor)) / m;
        TchTensor::new(scale * (dy * m - channel(&dbeta) - &xhat * channel(&dgamma)))
    });
    [
        dx,
        need[1].then(|| TchTensor::new(dgamma)),
        need[2].then(|| TchTensor::new(dbeta)),
    ]
}

pub(super) fn batch_norm_train<B: Backend, const D: usize>(
    bn: &BatchNorm<B>,
    x: Tensor<B, D>,
) -> Result<Tensor<B, D>, Tensor<B, D>> {
    if !is_ad_tch::<B>() || D < 2 {
        return Err(x);
    }
    let Some(bn) = (bn as &dyn Any).downcast_ref::<BatchNorm<Ad>>() else {
        return Err(x);
    };
    let x: Tensor<Ad, D> = cast(x)?;
    let y = fused_batch_norm_train(bn, x);
    Ok(cast(y).unwrap_or_else(|_| unreachable!("B is Autodiff<LibTorch<f32>>")))
}

fn fused_batch_norm_train<const D: usize>(bn: &BatchNorm<Ad>, x: Tensor<Ad, D>) -> Tensor<Ad, D> {
    let x = x.into_primitive().tensor();
    let gamma = bn.gamma.val().into_primitive().tensor();
    let beta = bn.beta.val().into_primitive().tensor();
    // Batch statistics only: Burn's running tensors are never handed to ATen (it would update
    // them in place, with the unbiased variance).
    let (y, mean, invstd) = x.primitive.tensor.native_batch_norm(
        Some(&gamma.primitive.tensor),
        Some(&beta.primitive.tensor),
        None::<&::tch::Tensor>,
        None,
        true,
        0.0,
        bn.epsilon,
    );
    let (y, mean, invstd) = (
        TchTensor::new(y),
        TchTensor::new(mean),
        TchTensor::new(invstd),
    );
    let state = BnState {
        x: x.primitive.clone(),
        gamma: gamma.primitive.clone(),
        mean: mean.clone(),
        invstd: invstd.clone(),
        eps: bn.epsilon,
    };
    let out = match BnBackward
        .prepare::<NoCheckpointing>([x.node.clone(), gamma.node.clone(), beta.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(state, y),
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    update_running_stats(bn, mean, invstd);
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

/// Burn's running-statistics update, in its op order: `r ← r·(1 − m) + batch·m`, with the
/// biased batch variance recovered from ATen's `invstd = 1/√(var + ε)` (clamped at 0; the
/// recovery loses only ~1e-7·ε absolute when `var ≪ ε`).
fn update_running_stats(bn: &BatchNorm<Ad>, mean: TchTensor, invstd: TchTensor) {
    let m = bn.momentum;
    let mean: Tensor<Inner, 1> = Tensor::from_primitive(TensorPrimitive::Float(mean));
    let invstd: Tensor<Inner, 1> = Tensor::from_primitive(TensorPrimitive::Float(invstd));
    let var = invstd
        .square()
        .recip()
        .sub_scalar(bn.epsilon)
        .clamp_min(0.0);
    let running_mean = bn
        .running_mean
        .value_sync()
        .mul_scalar(1.0 - m)
        .add(Tensor::<Ad, 1>::from_inner(mean).mul_scalar(m));
    let running_var = bn
        .running_var
        .value_sync()
        .mul_scalar(1.0 - m)
        .add(Tensor::<Ad, 1>::from_inner(var).mul_scalar(m));
    bn.running_mean.update(running_mean.detach());
    bn.running_var.update(running_var.detach());
}

// ---------------------------------------------------------------------------------------------
// ReLU

/// ReLU's backward needs only its output (kept as a shallow clone).
#[derive(Debug)]
struct ReluBackward;

impl Backward<Inner, 1> for ReluBackward {
    type State = TchTensor;

    fn backward(self, ops: Ops<TchTensor, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Inner>(&ops.node);
        if let Some(node) = &ops.parents[0] {
            // One `aten::threshold_backward` (grad where output > 0, else 0) instead of Burn's
            // generic compare + mask-fill pair: the same values, one pass.
            let dx = match ops.state.tensor.f_threshold_backward(&grad.tensor, 0.0) {
                Ok(dx) => TchTensor::new(dx),
                Err(_) => Inner::relu_backward(ops.state, grad),
            };
            grads.register::<Inner>(node.id, dx);
        }
    }
}

pub(super) fn relu<B: Backend, const D: usize>(
    x: Tensor<B, D>,
) -> Result<Tensor<B, D>, Tensor<B, D>> {
    if !is_ad_tch::<B>() {
        return Err(x);
    }
    let x: Tensor<Ad, D> = cast(x)?;
    let x = x.into_primitive().tensor();
    let out = match ReluBackward
        .prepare::<NoCheckpointing>([x.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let y = Inner::relu(x.primitive);
            prep.finish(y.clone(), y)
        }
        OpsKind::UnTracked(prep) => prep.finish(Inner::relu(x.primitive)),
    };
    let y: Tensor<Ad, D> = Tensor::from_primitive(TensorPrimitive::Float(out));
    Ok(cast(y).unwrap_or_else(|_| unreachable!("B is Autodiff<LibTorch<f32>>")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::BatchNormConfig;
    use burn::nn::conv::Conv2dConfig;

    fn conv<B: Backend>(padding: PaddingConfig2d) -> Conv2d<B> {
        Conv2dConfig::new([2, 3], [3, 3])
            .with_padding(padding)
            .init(&Default::default())
    }

    fn x<B: Backend>() -> Tensor<B, 4> {
        Tensor::ones([1, 2, 5, 5], &Default::default())
    }

    /// A C++ exception inside the shim comes back as `Err` with ATen's message (no abort, no
    /// unwinding into Rust): here a weight whose input channels do not match the input.
    #[test]
    fn shim_reports_aten_errors() {
        let t = |shape: &[i64]| TchTensor::new(::tch::Tensor::ones(shape, ::tch::kind::FLOAT_CPU));
        let state = ConvState {
            x: t(&[1, 2, 5, 5]),
            weight: t(&[3, 4, 3, 3]),
            bias_len: None,
            options: ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
        };
        let err = conv_backward_aten(&t(&[1, 3, 5, 5]), &state, [true, true, false])
            .expect_err("mismatched channels are refused");
        assert!(!err.is_empty());
    }

    /// The closed-form BatchNorm gradients (the fallback) equal ATen's kernel's, for 2-D and
    /// 4-D inputs, on the batch statistics of a real forward pass.
    #[test]
    fn batch_norm_closed_form_matches_aten() {
        for shape in [vec![6i64, 3], vec![4, 3, 5, 2]] {
            ::tch::manual_seed(7);
            let x = ::tch::Tensor::randn(shape.as_slice(), ::tch::kind::FLOAT_CPU) * 2.0 + 0.5;
            let gamma = ::tch::Tensor::randn([3], ::tch::kind::FLOAT_CPU);
            let beta = ::tch::Tensor::randn([3], ::tch::kind::FLOAT_CPU);
            let (_, mean, invstd) = x.native_batch_norm(
                Some(&gamma),
                Some(&beta),
                None::<&::tch::Tensor>,
                None,
                true,
                0.0,
                1e-5,
            );
            let state = BnState {
                x: TchTensor::new(x),
                gamma: TchTensor::new(gamma),
                mean: TchTensor::new(mean),
                invstd: TchTensor::new(invstd),
                eps: 1e-5,
            };
            let dy = TchTensor::new(::tch::Tensor::randn(
                shape.as_slice(),
                ::tch::kind::FLOAT_CPU,
            ));
            let aten = bn_backward_aten(&dy, &state, [true; 3]).unwrap();
            let ours = bn_backward_closed_form(&dy, &state, [true; 3]);
            for (name, a, b) in [("dx", 0, 0), ("dgamma", 1, 1), ("dbeta", 2, 2)]
                .map(|(n, i, j)| (n, aten[i].as_ref().unwrap(), ours[j].as_ref().unwrap()))
            {
                assert_eq!(a.tensor.size(), b.tensor.size(), "{name} {shape:?}: shape");
                let diff = (&a.tensor - &b.tensor).abs().max().double_value(&[]);
                let scale = a.tensor.abs().max().double_value(&[]).max(1.0);
                assert!(diff <= 1e-5 * scale, "{name} {shape:?}: max |Δ| {diff}");
            }
            // Only what is asked for is computed.
            let partial = bn_backward_closed_form(&dy, &state, [false, true, false]);
            assert!(partial[0].is_none() && partial[1].is_some() && partial[2].is_none());
        }
    }

    /// The fused path is taken exactly where the module docs say (the numerical checks against
    /// Burn's path are in tests/it/fused.rs).
    #[test]
    fn dispatch_covers_training_on_autodiff_libtorch_only() {
        let pad = PaddingConfig2d::Explicit(1, 1, 1, 1);
        assert!(conv2d(&conv::<Ad>(pad.clone()), x::<Ad>()).is_ok());
        assert!(super::super::conv2d(&conv::<Ad>(pad.clone()), x::<Ad>()).is_ok());
        // Frozen weights (attacks), other backends, `Same` and asymmetric padding: generic.
        let frozen = conv::<Ad>(pad.clone()).no_grad();
        assert!(conv2d(&frozen, x::<Ad>()).is_err());
        assert!(conv2d(&conv::<Inner>(pad.clone()), x::<Inner>()).is_err());
        assert!(conv2d(&conv::<Ad>(PaddingConfig2d::Same), x::<Ad>()).is_err());
        let asym = PaddingConfig2d::Explicit(1, 0, 2, 0);
        assert!(conv2d(&conv::<Ad>(asym), x::<Ad>()).is_err());
        assert!(
            super::super::with_generic_ops(|| super::super::conv2d(&conv::<Ad>(pad), x::<Ad>()))
                .is_err()
        );

        let bn = BatchNormConfig::new(2).init::<Ad>(&Default::default());
        assert!(batch_norm_train(&bn, x::<Ad>()).is_ok());
        let inner = BatchNormConfig::new(2).init::<Inner>(&Default::default());
        assert!(batch_norm_train(&inner, x::<Inner>()).is_err());
        assert!(relu(x::<Ad>()).is_ok());
        assert!(relu(x::<Inner>()).is_err());
        assert!(
            super::super::with_generic_ops(|| super::super::batch_norm_train(&bn, x::<Ad>()))
                .is_err()
        );
    }
}
