//! The cross-backend checks on WGPU (lavapipe in CI).

crate::cross_backend_tests!(
    burn::backend::Wgpu,
    burn::backend::wgpu::WgpuDevice::DefaultDevice
);
