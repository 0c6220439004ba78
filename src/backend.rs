//! Feature-gated backend aliases, so examples and binaries can pick a backend by feature flag.
//! Library code never names a backend: everything else is generic. [`with_backend`] picks one
//! by name at run time (for `--backend` flags).

#[cfg(feature = "ndarray")]
/// NdArray CPU backend (SIMD + multi-threads) and its autodiff wrapper.
pub mod ndarray {
    /// Inner backend.
    pub type Inner = burn::backend::NdArray<f32>;
    /// Autodiff backend used by attacks and training.
    pub type Train = burn::backend::Autodiff<Inner>;
    /// The CPU device.
    pub fn device() -> burn::backend::ndarray::NdArrayDevice {
        burn::backend::ndarray::NdArrayDevice::Cpu
    }
}

#[cfg(feature = "flex")]
/// Flex CPU backend (SIMD, gemm, im2col convolutions) and its autodiff wrapper.
pub mod flex {
    /// Inner backend.
    pub type Inner = burn::backend::Flex;
    /// Autodiff backend used by attacks and training.
    pub type Train = burn::backend::Autodiff<Inner>;
    /// The default device.
    pub fn device() -> burn::backend::flex::FlexDevice {
        burn::backend::flex::FlexDevice
    }
}

#[cfg(feature = "wgpu-plain")]
/// WGPU backend (Vulkan/Metal/DX12; lavapipe on CPU): with kernel fusion and autotune under the
/// `wgpu` feature, without them under `wgpu-plain` alone (see `docs/performance.md` for what
/// they bring).
pub mod wgpu {
    /// Inner backend.
    pub type Inner = burn::backend::Wgpu;
    /// Autodiff backend used by attacks and training.
    pub type Train = burn::backend::Autodiff<Inner>;
    /// The default adapter.
    pub fn device() -> burn::backend::wgpu::WgpuDevice {
        burn::backend::wgpu::WgpuDevice::DefaultDevice
    }
}

#[cfg(feature = "cuda-plain")]
/// CUDA backend: with kernel fusion and autotune under the `cuda` feature, without them under
/// `cuda-plain` alone.
pub mod cuda {
    /// Inner backend.
    pub type Inner = burn::backend::Cuda;
    /// Autodiff backend used by attacks and training.
    pub type Train = burn::backend::Autodiff<Inner>;
    /// GPU 0.
    pub fn device() -> burn::backend::cuda::CudaDevice {
        burn::backend::cuda::CudaDevice::default()
    }
}

#[cfg(feature = "tch")]
/// Burn's LibTorch backend: PyTorch's own CPU (and CUDA) kernels behind the same generic code.
///
/// Building needs a libtorch 2.9.0 (`LIBTORCH`); `scripts/setup-libtorch.sh` prepares a CPU one
/// from the Python package registry.
pub mod tch {
    /// Inner backend.
    pub type Inner = burn::backend::LibTorch<f32>;
    /// Autodiff backend used by attacks and training.
    pub type Train = burn::backend::Autodiff<Inner>;
    /// The CPU device.
    pub fn device() -> burn::backend::libtorch::LibTorchDevice {
        burn::backend::libtorch::LibTorchDevice::Cpu
    }
    /// CUDA device `index` (needs a CUDA build of libtorch).
    pub fn cuda_device(index: usize) -> burn::backend::libtorch::LibTorchDevice {
        burn::backend::libtorch::LibTorchDevice::Cuda(index)
    }
}

use burn::tensor::backend::AutodiffBackend;

/// Code that is generic over the backend, run once a backend has been picked by name.
///
/// Rust closures cannot be generic over a type, so a program that chooses its backend at run
/// time (a `--backend` flag) implements this trait once and hands it to [`with_backend`]. Which
/// backends exist is decided by *advcal's* cargo features, so the choice lives here rather than
/// in every binary.
///
/// ```
/// use advcal::backend::{with_backend, BackendTask};
/// use burn::prelude::*;
/// use burn::tensor::backend::AutodiffBackend;
///
/// struct SumOnes;
/// impl BackendTask for SumOnes {
///     type Output = f32;
///     fn run<B: AutodiffBackend>(self, device: B::Device) -> f32 {
///         Tensor::<B, 1>::ones([4], &device).sum().into_scalar().to_f32()
///     }
/// }
/// assert_eq!(with_backend("ndarray", SumOnes).unwrap(), 4.0);
/// assert!(with_backend("no-such-backend", SumOnes).is_err());
/// ```
pub trait BackendTask {
    /// What the task returns.
    type Output;
    /// Run on autodiff backend `B` and `device`.
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output;
}

/// Names accepted by [`with_backend`] in this build, fastest CPU backend first.
///
/// `tch` is LibTorch on the CPU and `tch-cuda` LibTorch on CUDA device 0.
pub fn available_backends() -> Vec<&'static str> {
    let mut names = Vec::new();
    if cfg!(feature = "tch") {
        names.push("tch");
        names.push("tch-cuda");
    }
    if cfg!(feature = "flex") {
        names.push("flex");
    }
    if cfg!(feature = "ndarray") {
        names.push("ndarray");
    }
    if cfg!(feature = "wgpu-plain") {
        names.push("wgpu");
    }
    if cfg!(feature = "cuda-plain") {
        names.push("cuda");
    }
    names
}

/// The fastest CPU backend compiled in (`tch`, else `flex`, else `ndarray`), if any.
pub fn default_cpu_backend() -> Option<&'static str> {
    available_backends()
        .into_iter()
        .find(|n| matches!(*n, "tch" | "flex" | "ndarray"))
}

/// Run `task` on the backend called `name`, or on [`default_cpu_backend`] when `name` is
/// `None` (what a `--backend` option of a command-line tool wants).
///
/// ```
/// use advcal::backend::{with_backend_or_default, BackendTask};
/// use burn::tensor::backend::AutodiffBackend;
///
/// struct Name;
/// impl BackendTask for Name {
///     type Output = String;
///     fn run<B: AutodiffBackend>(self, _device: B::Device) -> String {
///         B::name(&Default::default())
///     }
/// }
/// assert!(with_backend_or_default(None, Name).is_ok());
/// assert!(with_backend_or_default(Some("ndarray"), Name).unwrap().contains("ndarray"));
/// ```
///
/// # Errors
/// As [`with_backend`]; also when no CPU backend is compiled in and `name` is `None`.
pub fn with_backend_or_default<T: BackendTask>(
    name: Option<&str>,
    task: T,
) -> crate::Result<T::Output> {
    match name {
        Some(name) => with_backend(name, task),
        None => with_backend(default_cpu_backend().unwrap_or(""), task),
    }
}

/// Run `task` on the backend called `name` (see [`available_backends`]).
///
/// # Errors
/// [`Error::BackendUnavailable`](crate::Error::BackendUnavailable) when the name is unknown or
/// its cargo feature is off.
pub fn with_backend<T: BackendTask>(name: &str, task: T) -> crate::Result<T::Output> {
    #[allow(unused_variables)]
    let task = task;
    match name {
        #[cfg(feature = "tch")]
        "tch" => Ok(task.run::<tch::Train>(tch::device())),
        #[cfg(feature = "tch")]
        "tch-cuda" => Ok(task.run::<tch::Train>(tch::cuda_device(0))),
        #[cfg(feature = "flex")]
        "flex" => Ok(task.run::<flex::Train>(flex::device())),
        #[cfg(feature = "ndarray")]
        "ndarray" => Ok(task.run::<ndarray::Train>(ndarray::device())),
        #[cfg(feature = "wgpu-plain")]
        "wgpu" => Ok(task.run::<wgpu::Train>(wgpu::device())),
        #[cfg(feature = "cuda-plain")]
        "cuda" => Ok(task.run::<cuda::Train>(cuda::device())),
        _ => Err(crate::Error::BackendUnavailable {
            name: name.to_string(),
            available: available_backends().join(", "),
        }),
    }
}
