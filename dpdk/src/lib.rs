//! Safe wrappers over DPDK (the bindings of `dpdk-ffi`): the one crate of
//! glbpd that uses `unsafe`; `glbpd` itself forbids it. Every `unsafe`
//! block says which invariant makes it sound.
//!
//! - [`Eal`] owns the Environment Abstraction Layer; dropping it cleans up
//!   (the runtime folder belongs to the instance lock, not to EAL).
//! - [`Mempool`], [`Mbuf`] and [`Burst`] own packet buffers.
//! - [`EthDev`] owns an ethdev port (stopped and closed on drop); its queues
//!   are handed out once each as [`RxQueue`] / [`TxQueue`], which are `Send`
//!   but not `Sync`: exactly one lcore polls a queue.
//! - [`MbufRing`] and [`Lpm`] own an rte_ring and an rte_lpm table.
#![deny(clippy::undocumented_unsafe_blocks)]

mod eal;
mod error;
mod ethdev;
mod lpm;
mod mbuf;
mod ring;
pub mod telemetry;

pub use eal::{lcore_id, max_lcore, tsc, tsc_hz, version, Eal, LaunchHandle};
pub use error::{Error, Result};
pub use ethdev::{DevInfo, EthDev, LinkStatus, PortConf, PortStats, RxQueue, TxQueue};
pub use lpm::{Lpm, Lpm6};
pub use mbuf::{register_punt_stamp, Burst, Drain, Mbuf, Mempool, RxCksum, MAX_BURST};
pub use ring::MbufRing;
