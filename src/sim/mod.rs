//! Discrete-event simulator of a LAN of GLBP routers and hosts.
//!
//! Every router runs the real [`crate::protocol::Port`] engine; hosts keep an
//! ARP cache (re-ARP on expiry, stale entry kept until a reply arrives, like
//! Linux); the LAN delivers frames within a partition after 1..=`max_delay_ms`
//! ms and may lose GLBP messages. Time is virtual (an event queue), so hours
//! run in milliseconds. Invariants are checked continuously and every
//! violation carries the trace of the events that led to it.
#![forbid(unsafe_code)]

mod cli;
mod faults;
#[cfg(test)]
mod tests;
mod world;

pub use cli::{run, SimArgs};
pub use faults::{parse_duration, parse_script, Fault, Scheduled};
pub use world::{simulate, FaultMode, Report, SimConfig, Violation};
