//! Feature-gated backend aliases, so examples and binaries can pick a backend by feature flag.
//! Library code never names a backend: everything else is generic.

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

#[cfg(feature = "wgpu")]
/// WGPU backend (Vulkan/Metal/DX12; lavapipe on CPU) with fusion and autotune.
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

#[cfg(feature = "cuda")]
/// CUDA backend with fusion and autotune.
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
