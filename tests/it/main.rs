//! Integration tests (one binary, so Burn's generic code is compiled once).
// Reference values are quoted with the precision the spec gives them; backend aliases keep
// Burn's upper-case naming.
#![allow(clippy::excessive_precision, clippy::upper_case_acronyms)]

mod common;

mod api;
mod attacks;
mod bootstrap;
mod checkpoint;
#[cfg(any(feature = "wgpu-plain", feature = "tch"))]
mod cross_backend;
mod data;
mod folding;
#[cfg(feature = "tch")]
mod fused;
#[cfg(feature = "interop")]
mod interop;
#[cfg(feature = "learner")]
mod learner;
mod metrics;
mod models;
#[cfg(feature = "interop")]
mod oracle;
mod properties;
#[cfg(feature = "interop")]
mod published;
mod robustness;
mod strength;
#[cfg(feature = "tch")]
mod tch;
mod tiny_imagenet;
mod train;
mod user_model;
#[cfg(feature = "wgpu-plain")]
mod wgpu;
