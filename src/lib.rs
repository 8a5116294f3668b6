//! glbpd: a userspace Gateway Load Balancing Protocol router on DPDK.
//!
//! Layers, each depending only on those above it in this list:
//! - [`wire`]: bytes <-> values, no unsafe;
//! - [`protocol`]: pure state machines, time as an argument;
//! - runtime: [`dpdk`] (the only module with `unsafe`), workers, control lcore;
//! - the `glbpd` binary: CLI, config, signals.
#![deny(unsafe_code)]

pub mod config;
pub mod decode;
pub mod dpdk;
pub mod protocol;
pub mod runtime;
pub mod sim;
pub mod wire;
