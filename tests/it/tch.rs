//! The cross-backend checks on Burn's LibTorch backend (CPU).

crate::cross_backend_tests!(
    burn::backend::LibTorch<f32>,
    burn::backend::libtorch::LibTorchDevice::Cpu
);
