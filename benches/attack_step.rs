//! One attack iteration (forward + backward w.r.t. the input + sign update + projection) for PGD
//! and IAA, against the raw forward + backward lower bound, per backend and model.
//!
//! ```text
//! cargo bench --bench attack_step                       # NdArray + Flex, small CNN
//! ADVCAL_BENCH_RESNET=1 cargo bench --bench attack_step # also ResNet-18 (Flex; NdArray is ~77 s/step)
//! cargo bench --features wgpu --bench attack_step       # also WGPU
//! ```
//! Throughput is reported in images·steps/s (criterion "elem/s").

use advcal::attack::{frozen_copy, input_gradient, sign_gradient_step, CrossEntropy, IaaObjective};
use advcal::model::{Classifier, Mode, ResNet18Config, SmallCnnConfig};
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

const BATCH: usize = 32;

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
    let frozen = frozen_copy::<A, M>(&model, Mode::Eval);
    let x = Tensor::<A::InnerBackend, 4>::from_data(
        TensorData::new(
            advcal::rng::uniform_values(BATCH * 3 * 32 * 32, 0.5, 1)
                .into_iter()
                .map(|v| v + 0.5)
                .collect::<Vec<f32>>(),
            [BATCH, 3, 32, 32],
        ),
        device,
    );
    let y = Tensor::<A, 1, Int>::from_data(
        TensorData::new(
            (0..BATCH as i64).map(|i| i % 10).collect::<Vec<_>>(),
            [BATCH],
        ),
        device,
    );
    let (eps, alpha) = (8.0 / 255.0, 2.0 / 255.0);
    let mut g = c.benchmark_group(format!("attack_step/{model_name}/{backend}"));
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(10);
    // Warm-up (autotune on GPU backends) outside the timed region.
    let _ = sign_gradient_step::<A, M, _>(
        &frozen,
        x.clone(),
        x.clone(),
        x.clone(),
        y.clone(),
        &CrossEntropy,
        alpha,
        eps,
        Mode::Eval,
    )
    .unwrap();
    A::sync(device).unwrap();

    g.bench_function("forward_backward_lower_bound", |b| {
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
    g.bench_function("pgd_step", |b| {
        b.iter(|| {
            let out = sign_gradient_step::<A, M, _>(
                &frozen,
                x.clone(),
                black_box(x.clone()),
                x.clone(),
                y.clone(),
                &CrossEntropy,
                alpha,
                eps,
                Mode::Eval,
            )
            .unwrap();
            A::sync(device).unwrap();
            out
        })
    });
    g.bench_function("iaa_step", |b| {
        b.iter(|| {
            let out = sign_gradient_step::<A, M, _>(
                &frozen,
                x.clone(),
                black_box(x.clone()),
                x.clone(),
                y.clone(),
                &IaaObjective { lambda: 5.0 },
                -alpha,
                eps,
                Mode::Eval,
            )
            .unwrap();
            A::sync(device).unwrap();
            out
        })
    });
    g.finish();
}

fn run_backend<A: AutodiffBackend>(
    c: &mut Criterion,
    backend: &str,
    device: A::Device,
    resnet: bool,
) {
    let small =
        advcal::model::seeded_init::<A, _>(&device, 0, || SmallCnnConfig::new().init::<A>(&device));
    bench_model::<A, _>(c, backend, "small_cnn", small, &device);
    if resnet && std::env::var_os("ADVCAL_BENCH_RESNET").is_some() {
        let r = advcal::model::seeded_init::<A, _>(&device, 0, || {
            ResNet18Config::new().init::<A>(&device)
        });
        bench_model::<A, _>(c, backend, "resnet18", r, &device);
    }
}

fn benches(c: &mut Criterion) {
    #[cfg(feature = "ndarray")]
    run_backend::<advcal::backend::ndarray::Train>(
        c,
        "ndarray",
        advcal::backend::ndarray::device(),
        false,
    );
    #[cfg(feature = "flex")]
    run_backend::<advcal::backend::flex::Train>(c, "flex", advcal::backend::flex::device(), true);
    #[cfg(feature = "wgpu")]
    run_backend::<advcal::backend::wgpu::Train>(c, "wgpu", advcal::backend::wgpu::device(), true);
    #[cfg(feature = "cuda")]
    run_backend::<advcal::backend::cuda::Train>(c, "cuda", advcal::backend::cuda::device(), true);
}

criterion_group!(name = attack; config = Criterion::default().without_plots(); targets = benches);
criterion_main!(attack);
