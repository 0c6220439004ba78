//! Integration tests (one binary, so Burn's generic code is compiled once).

mod common;

mod attacks;
mod checkpoint;
mod data;
mod metrics;
mod models;
mod properties;
mod train;
#[cfg(feature = "wgpu")]
mod wgpu;
