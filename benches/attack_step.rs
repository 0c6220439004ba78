//! The attack inner loop, per backend, model and batch size:
//!
//! * `lower_bound_fwd_bwd`: forward + backward w.r.t. the input on the frozen model — what any
//!   attack step must cost at least;
//! * `fwd_bwd_unfrozen`: the same with the weights' gradients computed as well (what an attack
//!   would cost without `frozen_copy`);
//! * `step_update_only`: the attack's own work in a step (sign + step + projection) on a
//!   precomputed gradient — the overhead that `pgd_step − lower_bound_fwd_bwd` estimates;
//! * `pgd_step`, `iaa_step`: one full engine iteration (gradient + sign + step + projection);
//! * `pgd_t10`, `iaa_t10` (Algorithm 1), `uca_t10`, `ccat_t10`, `apgd_ce_t10`, `apgd_dlr_t10`:
//!   complete attacks with T = 10 through the public `Attack` API (random start, validation,
//!   final logits included); `iaa_eq2_t20`: the default IAA (Eq. 2, APGD schedule, T = 20);
//!   `square_q100`: Square with 100 queries;
//! * `train_pt`, `train_pgd_at_t10`, `train_iat_t10` (IAA by Algorithm 1): one optimiser step
//!   of each strategy;
//! * `train_pt_fwd_bwd`, `train_pt_no_bn`: the profile of `train_pt` by ablation — without the
//!   optimiser step, and on the model with every BatchNorm folded into its convolution (the same
//!   convolutions plus a bias, trainable, no BatchNorm left);
//! * models `resnet18_64px_s1` / `resnet18_64px_s2` (named only): Table 2's quarter-width
//!   ResNet-18 on 64×64 inputs, 200 classes, stem stride 1 or 2 — `train_pt` and
//!   `train_pgd_at_t3` (the `cifar` preset's inner PGD);
//! * the published architectures (named only; `docs/leaderboard.md` turns them into the cost of
//!   a calibration leaderboard entry): `wrn28_10`, `wrn34_10`, `preact_resnet18` (32×32, 10
//!   classes) and `resnet50`, `vgg19_bn` (224×224, 1000 classes) — `forward` (inference logits)
//!   and `apgd_ce_t10` (the complete attack through the public API).
//!
//! ```text
//! cargo bench --bench attack_step                                   # Flex + NdArray, small CNN, batch 32
//! ADVCAL_BENCH_BACKENDS=tch cargo bench --features tch --bench attack_step
//! ADVCAL_BENCH_MODELS=small_cnn,resnet18 ADVCAL_BENCH_BATCHES=32,128 cargo bench --bench attack_step
//! ```
//! `ADVCAL_BENCH_BACKENDS` picks among the compiled-in backends (`ndarray`, `flex`, `tch`,
//! `wgpu`, `cuda`; default: all compiled in), plus `tch-bf16` and `tch-f16` (LibTorch in half
//! precision, only when named); NdArray never runs ResNet-18 (≈77 s per step).
//! Throughput is reported in images/s per call (criterion "elem/s"); for the T = 10 rows,
//! images·steps/s is ten times that.

use advcal::attack::{
    Apgd, ApgdConfig, ApgdLoss, Attack, CrossEntropy, Iaa, IaaConfig, IaaObjective, Objective, Pgd,
    PgdConfig, Square, SquareConfig, Uca, UcaConfig, frozen_copy, input_gradient,
    sign_gradient_step, sign_step_update,
};
use advcal::model::{Classifier, Mode, ResNet18, ResNet18Config, SmallCnnConfig};
use advcal::train::{
    BatchContext, Ccat, CcatConfig, Iat, IatConfig, PgdAt, PgdAtConfig, Plain, StrategyKind,
    TrainingStrategy,
};
use burn::module::{AutodiffModule, ModuleMapper, Param};
use burn::optim::{GradientsParams, Optimizer, SgdConfig};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

type NamedAttacks<A, M> = Vec<(&'static str, Box<dyn Attack<A, M>>)>;
type NamedStrategies<A, M> = Vec<(&'static str, Box<dyn TrainingStrategy<A, M>>)>;

fn env_list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn inputs<A: AutodiffBackend>(
    batch: usize,
    device: &A::Device,
) -> (Tensor<A::InnerBackend, 4>, Tensor<A::InnerBackend, 1, Int>) {
    inputs_of_side::<A>(batch, 32, device)
}

fn inputs_of_side<A: AutodiffBackend>(
    batch: usize,
    side: usize,
    device: &A::Device,
) -> (Tensor<A::InnerBackend, 4>, Tensor<A::InnerBackend, 1, Int>) {
    let x = Tensor::from_data(
        TensorData::new(
            advcal::rng::uniform_values(batch * 3 * side * side, 0.5, 1)
                .into_iter()
                .map(|v| v + 0.5)
                .collect::<Vec<f32>>(),
            [batch, 3, side, side],
        ),
        device,
    );
    let y = Tensor::from_data(
        TensorData::new(
            (0..batch as i64).map(|i| i % 10).collect::<Vec<_>>(),
            [batch],
        ),
        device,
    );
    (x, y)
}

fn step_benches<A, M>(
    g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    model: &M,
    batch: usize,
    device: &A::Device,
) where
    A: AutodiffBackend,
    M: Classifier<A> + AutodiffModule<A>,
{
    let frozen = frozen_copy::<A, M>(model);
    let (x, y_inner) = inputs::<A>(batch, device);
    let y = Tensor::<A, 1, Int>::from_inner(y_inner);
    let (eps, alpha) = (8.0 / 255.0, 2.0 / 255.0);
    // Warm-up (autotune on GPU backends) outside the timed region, done once and only when a
    // bench of this group survives the filter: on Flex at ResNet-18/batch 128 it costs ≈ 13 s.
    // The gradient it computes is kept for `step_update_only`.
    let warm_gradient = std::cell::OnceCell::new();
    let warm_up = || {
        warm_gradient.get_or_init(|| {
            let started = std::time::Instant::now();
            let (grad, _) =
                input_gradient::<A, M, _>(&frozen, x.clone(), y.clone(), &CrossEntropy, Mode::Eval)
                    .unwrap();
            let _ = sign_step_update(x.clone(), grad.clone(), alpha, x.clone(), eps);
            A::sync(device).unwrap();
            // The first step pays kernel compilation and autotune on CubeCL backends; reported
            // so their one-off cost is visible next to the steady-state timings.
            eprintln!("warm-up step: {:.2} s", started.elapsed().as_secs_f64());
            grad
        })
    };

    g.bench_function("lower_bound_fwd_bwd", |b| {
        warm_up();
        b.iter(|| {
            let (grad, _) = input_gradient::<A, M, _>(
                &frozen,
                black_box(x.clone()),
                y.clone(),
                &CrossEntropy,
                Mode::Eval,
            )
            .unwrap();
            A::sync(device).unwrap();
            grad
        })
    });
    // The attack's own work per step, timed alone rather than as the small difference of two
    // noisy timings: the very function the attacks call on their gradient.
    g.bench_function("step_update_only", |b| {
        let grad = warm_up();
        b.iter(|| {
            let out = sign_step_update(black_box(x.clone()), grad.clone(), alpha, x.clone(), eps);
            A::sync(device).unwrap();
            out
        })
    });
    g.bench_function("fwd_bwd_unfrozen", |b| {
        warm_up();
        b.iter(|| {
            let leaf = Tensor::<A, 4>::from_inner(black_box(x.clone())).require_grad();
            let loss = advcal::attack::cross_entropy(
                model.forward_mode(leaf.clone(), Mode::Eval),
                y.clone(),
            )
            .sum();
            let grad = leaf.grad(&loss.backward()).unwrap();
            A::sync(device).unwrap();
            grad
        })
    });
    // PGD ascends cross-entropy, IAA descends its own objective: same step, opposite sign.
    let steps: [(&str, &dyn Objective<A>, f32); 2] = [
        ("pgd_step", &CrossEntropy, alpha),
        ("iaa_step", &IaaObjective { lambda: 5.0 }, -alpha),
    ];
    for (name, objective, signed_alpha) in steps {
        g.bench_function(name, |b| {
            warm_up();
            b.iter(|| {
                let out = sign_gradient_step::<A, M, _>(
                    &frozen,
                    x.clone(),
                    black_box(x.clone()),
                    x.clone(),
                    y.clone(),
                    objective,
                    signed_alpha,
                    eps,
                    Mode::Eval,
                )
                .unwrap();
                A::sync(device).unwrap();
                out
            })
        });
    }
}

fn attack_benches<A, M>(
    g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    model: &M,
    batch: usize,
    device: &A::Device,
) where
    A: AutodiffBackend,
    M: Classifier<A> + AutodiffModule<A>,
{
    let (x, y) = inputs::<A>(batch, device);
    let attacks: NamedAttacks<A, M> = vec![
        ("pgd_t10", Box::new(Pgd::new(PgdConfig::new()))),
        ("iaa_t10", Box::new(Iaa::new(IaaConfig::alg1()))),
        ("iaa_eq2_t20", Box::new(Iaa::new(IaaConfig::new()))),
        ("uca_t10", Box::new(Uca::new(UcaConfig::new()))),
        (
            "apgd_ce_t10",
            Box::new(Apgd::new(ApgdConfig::new().with_steps(10))),
        ),
        (
            "apgd_dlr_t10",
            Box::new(Apgd::new(
                ApgdConfig::new().with_steps(10).with_loss(ApgdLoss::Dlr),
            )),
        ),
        (
            "square_q100",
            Box::new(Square::new(SquareConfig::new().with_queries(100))),
        ),
    ];
    // Square stops on an image once it is misclassified: labelled with the model's own
    // predictions, every image starts correctly classified (as torchattacks' side is labelled in
    // scripts/bench-pytorch.py), so the row times the attack, not the labels' luck. The
    // gradient attacks run every iteration on every image, whatever the labels.
    let clean = model
        .forward_mode(Tensor::from_inner(x.clone()), Mode::Eval)
        .inner();
    let [n, _] = clean.dims();
    let predicted = clean.argmax(1).reshape([n]);
    for (name, attack) in &attacks {
        let labels = if *name == "square_q100" {
            predicted.clone()
        } else {
            y.clone()
        };
        g.bench_function(*name, |b| {
            b.iter(|| {
                let out = attack
                    .perturb(model, black_box(x.clone()), labels.clone())
                    .unwrap();
                A::sync(device).unwrap();
                out.logits
            })
        });
    }
    let ccat = Ccat::new(CcatConfig::new().with_steps(10));
    let frozen = frozen_copy::<A, M>(model);
    g.bench_function("ccat_t10", |b| {
        b.iter(|| {
            let delta = ccat
                .inner_attack::<A, M>(&frozen, black_box(x.clone()), y.clone(), 3)
                .unwrap();
            A::sync(device).unwrap();
            delta
        })
    });
}

fn train_benches<A, M>(
    g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    model: &M,
    batch: usize,
    device: &A::Device,
) where
    A: AutodiffBackend,
    M: Classifier<A> + AutodiffModule<A>,
{
    let (x, y) = inputs::<A>(batch, device);
    let strategies: NamedStrategies<A, M> = vec![
        ("train_pt", Box::new(Plain)),
        ("train_pgd_at_t10", Box::new(PgdAt::new(PgdAtConfig::new()))),
        (
            "train_iat_t10",
            Box::new(Iat::new(
                IatConfig::new().with_attack(IaaConfig::alg1().with_epsilon(8.0 / 255.0)),
            )),
        ),
    ];
    for (name, mut strategy) in strategies {
        bench_train_step(g, name, model.clone(), strategy.as_mut(), (&x, &y), device);
    }
}

/// Times one optimiser step (plain SGD, lr 0.01) of `strategy` on `model`, the model carried
/// from one iteration to the next.
fn bench_train_step<A, M>(
    g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    model: M,
    strategy: &mut dyn TrainingStrategy<A, M>,
    (x, y): (
        &Tensor<A::InnerBackend, 4>,
        &Tensor<A::InnerBackend, 1, Int>,
    ),
    device: &A::Device,
) where
    A: AutodiffBackend,
    M: Classifier<A> + AutodiffModule<A>,
{
    let indices: Vec<usize> = (0..x.dims()[0]).collect();
    let mut optim = SgdConfig::new().init::<A, M>();
    let mut current = Some(model);
    g.bench_function(name, |b| {
        b.iter(|| {
            let m = current.take().unwrap();
            let ctx = BatchContext {
                seed: 1,
                indices: &indices,
                epoch: 0,
            };
            let out = strategy
                .step(&m, black_box(x.clone()), y.clone(), ctx)
                .unwrap();
            let grads = GradientsParams::from_grads(out.loss.backward(), &m);
            let m = optim.step(0.01, m, grads);
            A::sync(device).unwrap();
            current = Some(m);
        })
    });
}

/// Makes every float parameter trainable again (a folded copy is frozen).
struct RequireGrad;

impl<B: Backend> ModuleMapper<B> for RequireGrad {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        param.set_require_grad(true)
    }
}

/// `train_pt` by ablation: forward + backward without the optimiser step, and a full step on the
/// model without BatchNorm. Release builds only: a folded model in `Mode::Train` is a debug
/// assertion (it has no BatchNorm to train), and evaluates without BatchNorm in release.
fn train_profile_benches<A, M>(
    g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    model: &M,
    batch: usize,
    device: &A::Device,
) where
    A: AutodiffBackend,
    M: Classifier<A> + AutodiffModule<A>,
{
    let (x, y) = inputs::<A>(batch, device);
    let indices: Vec<usize> = (0..batch).collect();
    let ctx = || BatchContext {
        seed: 1,
        indices: &indices,
        epoch: 0,
    };
    g.bench_function("train_pt_fwd_bwd", |b| {
        b.iter(|| {
            let out = Plain
                .step(model, black_box(x.clone()), y.clone(), ctx())
                .unwrap();
            let grads = GradientsParams::from_grads(out.loss.backward(), model);
            A::sync(device).unwrap();
            grads
        })
    });
    if cfg!(debug_assertions) {
        return;
    }
    let Some(folded) = model.fold_batch_norm() else {
        return;
    };
    let trainable = folded.map(&mut RequireGrad);
    bench_train_step(g, "train_pt_no_bn", trainable, &mut Plain, (&x, &y), device);
}

fn bench_model<A, M>(
    c: &mut Criterion,
    backend: &str,
    model_name: &str,
    model: M,
    device: &A::Device,
) where
    A: AutodiffBackend,
    M: Classifier<A> + AutodiffModule<A>,
{
    batch_groups(c, model_name, backend, |g, batch| {
        step_benches::<A, M>(g, &model, batch, device);
        attack_benches::<A, M>(g, &model, batch, device);
        train_benches::<A, M>(g, &model, batch, device);
        train_profile_benches::<A, M>(g, &model, batch, device);
    });
}

/// Runs `body` in one criterion group `<name>/<backend>/b<batch>` (throughput in images, 10
/// samples) per batch size of `ADVCAL_BENCH_BATCHES` (default 32).
fn batch_groups(
    c: &mut Criterion,
    name: &str,
    backend: &str,
    mut body: impl FnMut(&mut BenchmarkGroup<'_, criterion::measurement::WallTime>, usize),
) {
    for batch in env_list("ADVCAL_BENCH_BATCHES", "32") {
        let Ok(batch) = batch.parse::<usize>() else {
            continue;
        };
        let mut g = c.benchmark_group(format!("{name}/{backend}/b{batch}"));
        g.throughput(Throughput::Elements(batch as u64));
        g.sample_size(10);
        body(&mut g, batch);
        g.finish();
    }
}

/// Table 2's network: the quarter-width ResNet-18 (base width 16) on 64×64 inputs with 200
/// classes, stem stride 1 or 2 (`ADVCAL_BENCH_MODELS=resnet18_64px_s1,resnet18_64px_s2`); one
/// PT step and one PGD-AT step (T = 3, the `cifar` preset's) of each.
fn bench_64px<A: AutodiffBackend>(
    c: &mut Criterion,
    backend: &str,
    stride: usize,
    device: &A::Device,
) {
    let model = advcal::model::seeded_init::<A, _>(device, 0, || {
        ResNet18Config::new()
            .with_width(16)
            .with_num_classes(200)
            .with_stem_stride(stride)
            .init::<A>(device)
    });
    let name = format!("resnet18_64px_s{stride}");
    batch_groups(c, &name, backend, |g, batch| {
        let (x, y) = inputs_of_side::<A>(batch, 64, device);
        // The `cifar` preset's strategies: `StrategyKind::build` with its T = 3 inner attack.
        for (row, kind) in [
            ("train_pt", StrategyKind::Plain),
            ("train_pgd_at_t3", StrategyKind::PgdAt),
        ] {
            let mut strategy = kind.build::<A, ResNet18<A>>(3).unwrap();
            bench_train_step(g, row, model.clone(), strategy.as_mut(), (&x, &y), device);
        }
    });
}

/// A published architecture (`AnyModelConfig`), seeded, on `side`×`side` inputs: one inference
/// pass and one complete APGD-CE (T = 10) per batch.
fn bench_published<A: AutodiffBackend>(
    c: &mut Criterion,
    backend: &str,
    name: &str,
    config: advcal::model::AnyModelConfig,
    side: usize,
    device: &A::Device,
) {
    let model = advcal::model::seeded_init::<A, _>(device, 0, || config.init::<A>(device));
    let classes = config.num_classes as i64;
    batch_groups(c, name, backend, |g, batch| {
        let (x, y) = inputs_of_side::<A>(batch, side, device);
        let y = y.remainder_scalar(classes);
        let inner = model.valid();
        g.bench_function("forward", |b| {
            b.iter(|| {
                let logits = inner.logits(black_box(x.clone()));
                A::InnerBackend::sync(device).unwrap();
                logits
            })
        });
        let apgd = Apgd::new(ApgdConfig::new().with_steps(10));
        g.bench_function("apgd_ce_t10", |b| {
            b.iter(|| {
                let out = Attack::<A, _>::perturb(&apgd, &model, black_box(x.clone()), y.clone())
                    .unwrap();
                A::sync(device).unwrap();
                out.adversarial
            })
        });
    });
}

fn run_backend<A: AutodiffBackend>(c: &mut Criterion, backend: &str, device: A::Device) {
    let wanted = env_list("ADVCAL_BENCH_BACKENDS", "ndarray,flex,tch,wgpu,cuda");
    if !wanted.iter().any(|b| b == backend) {
        return;
    }
    for model in env_list("ADVCAL_BENCH_MODELS", "small_cnn") {
        match model.as_str() {
            "small_cnn" => {
                let m = advcal::model::seeded_init::<A, _>(&device, 0, || {
                    SmallCnnConfig::new().init::<A>(&device)
                });
                bench_model::<A, _>(c, backend, "small_cnn", m, &device);
            }
            "resnet18" if backend != "ndarray" => {
                let m = advcal::model::seeded_init::<A, _>(&device, 0, || {
                    ResNet18Config::new().init::<A>(&device)
                });
                bench_model::<A, _>(c, backend, "resnet18", m, &device);
            }
            "resnet18_64px_s1" if backend != "ndarray" => bench_64px::<A>(c, backend, 1, &device),
            "resnet18_64px_s2" if backend != "ndarray" => bench_64px::<A>(c, backend, 2, &device),
            "wrn28_10" | "wrn34_10" | "preact_resnet18" | "resnet50" | "vgg19_bn"
                if backend != "ndarray" =>
            {
                use advcal::model::{AnyModelConfig, Architecture};
                let (config, side) = match model.as_str() {
                    "wrn28_10" | "wrn34_10" => {
                        let mut c = AnyModelConfig::new(Architecture::WideResNet, 10);
                        c.depth = if model == "wrn28_10" { 28 } else { 34 };
                        (c, 32)
                    }
                    "preact_resnet18" => {
                        (AnyModelConfig::new(Architecture::PreActResNet18, 10), 32)
                    }
                    "resnet50" => (AnyModelConfig::new(Architecture::ResNet50, 1000), 224),
                    _ => (AnyModelConfig::new(Architecture::Vgg19Bn, 1000), 224),
                };
                bench_published::<A>(c, backend, &model, config, side, &device);
            }
            _ => {}
        }
    }
}

fn benches(c: &mut Criterion) {
    #[cfg(feature = "ndarray")]
    run_backend::<advcal::backend::ndarray::Train>(
        c,
        "ndarray",
        advcal::backend::ndarray::device(),
    );
    #[cfg(feature = "flex")]
    run_backend::<advcal::backend::flex::Train>(c, "flex", advcal::backend::flex::device());
    #[cfg(feature = "tch")]
    run_backend::<advcal::backend::tch::Train>(c, "tch", advcal::backend::tch::device());
    // Half precision on LibTorch, opt-in by name only (not in the default backend list): an
    // exploration of whether f16/bf16 pays on the machine at hand.
    #[cfg(feature = "tch")]
    {
        type Half<E> = burn::backend::Autodiff<burn::backend::LibTorch<E>>;
        let device = advcal::backend::tch::device();
        run_backend::<Half<burn::tensor::bf16>>(c, "tch-bf16", device);
        run_backend::<Half<burn::tensor::f16>>(c, "tch-f16", device);
    }
    #[cfg(feature = "wgpu-plain")]
    run_backend::<advcal::backend::wgpu::Train>(c, "wgpu", advcal::backend::wgpu::device());
    #[cfg(feature = "cuda-plain")]
    run_backend::<advcal::backend::cuda::Train>(c, "cuda", advcal::backend::cuda::device());
}

criterion_group!(name = attack; config = Criterion::default().without_plots(); targets = benches);
criterion_main!(attack);
