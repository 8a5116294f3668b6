//! glbpd: a userspace Gateway Load Balancing Protocol router on DPDK.
//!
//! Layers, each depending only on those above it in this list:
//! - [`wire`]: bytes <-> values, no unsafe;
//! - [`protocol`]: pure state machines, time as an argument;
//! - runtime: workers, control lcore, ops, over [`dpdk`] (the crate of
//!   safe wrappers that holds every `unsafe` block);
//! - the `glbpd` binary: CLI, config, signals.
#![forbid(unsafe_code)]

pub mod config;
/// Safe DPDK wrappers (the `dpdk` crate), re-exported for the binary, the
/// tests and the benchmarks.
pub use dpdk;
pub mod decode;
pub mod protocol;
pub mod runtime;
pub mod sim;
pub mod wire;
