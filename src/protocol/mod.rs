//! GLBP protocol engine: pure state machines. Events in, actions out; time is
//! an argument. No DPDK, no sockets, no clock, no threads.
//!
//! # Driving it
//! The runtime owns one [`Interface`] per interface (or one [`Group`] per group)
//! and calls `handle(now, event)` with a monotonic time in milliseconds since
//! any epoch. Each call returns the [`Action`]s to perform, in order. After
//! every call the runtime reads `next_deadline()` and calls
//! `handle(deadline, Event::Timer)` when that time is reached (early or
//! spurious `Timer` events are harmless).
//!
//! Events the runtime feeds: every parsed GLBP message of a configured
//! group ([`Event::Rx`], or [`InterfaceEvent::Rx`] which demultiplexes by group),
//! ARP requests / neighbour solicitations for a VIP ([`Event::Arp`]; answer
//! only with the returned [`Action::ArpReply`], never from a generic ARP
//! path), tracked-object changes, admin enable/disable, configuration
//! reloads ([`Event::Configure`] / [`Interface::configure`], applied in place) and
//! [`Event::Shutdown`] before exiting (it hands everything over at once).
//!
//! Actions it performs, in order: [`Action::Send`] (UDP 3222 to 224.0.0.102 /
//! ff02::66 or unicast to a member, Ethernet source as given, TTL 255);
//! [`Action::StartForwarding`] / [`Action::StopForwarding`] (accept and route
//! frames to that VMAC; add/remove it from the NIC filter);
//! [`Action::ArpReply`] (Ethernet source = own MAC, ARP sender hardware
//! address = the VMAC); [`Action::GratuitousArp`]; log the state changes
//! ([`Action::log_line`]). `show glbp` text comes from
//! [`GroupStatus::show`].
//!
//! Authentication: the runtime verifies MD5 digests over the received bytes
//! with the wire layer and passes the verdict in [`RxMessage::auth_ok`]; the
//! engine checks that the auth *mode* and text password match its
//! configuration, drops and counts failures. Outgoing messages carry the
//! configured [`AuthRepr`](crate::wire::glbp::AuthRepr) variant with a zero
//! digest (the runtime signs them) and, with MD5, a type-4 nonce TLV.
#![forbid(unsafe_code)]

pub mod config;
mod group;
pub mod lb;
mod port;
pub mod rng;
mod show;
#[cfg(test)]
mod tests;

use std::net::IpAddr;

pub use config::{
    Authentication, ChainKey, ClientCache, ConfigError, GroupConfig, LoadBalancing, Weighting,
};
pub use group::{
    Balancing, Counters, ForwarderStatus, Group, GroupStatus, MemberStatus, PeerStatus,
};
pub use port::{Interface, InterfaceCounters, InterfaceEvent};
pub use show::cisco_mac;

use crate::wire::glbp::{GlbpRepr, VfState, VgState};
use crate::wire::MacAddr;

/// Time in milliseconds since an arbitrary epoch (monotonic).
pub type Millis = u64;

pub use crate::wire::glbp::vmac;

/// A received GLBP message, already parsed (and its digest checked) by the
/// runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxMessage {
    /// IP source of the packet (the peer's interface address).
    pub src_ip: IpAddr,
    /// Ethernet source (own MAC or one of the sender's VMACs).
    pub src_mac: MacAddr,
    /// Ingress port.
    pub port: u16,
    /// Whether the runtime's digest check passed; only consulted when MD5
    /// authentication is configured.
    pub auth_ok: bool,
    /// The decoded message.
    pub repr: GlbpRepr,
}

/// An input to a [`Group`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A deadline returned by `next_deadline()` has been reached.
    Timer,
    /// A GLBP message for this group.
    Rx(RxMessage),
    /// The runtime dropped a message of this group whose digest did not verify
    /// (alternative to `Rx` with `auth_ok: false`); only counted.
    AuthFailed {
        /// Source IP of the rejected message.
        src_ip: IpAddr,
    },
    /// An ARP request (or IPv6 NS) for the virtual IP.
    Arp {
        /// Requesting host's IP.
        host_ip: IpAddr,
        /// Requesting host's MAC.
        host_mac: MacAddr,
        /// Ethernet destination: broadcast (a question for the AVG) or a
        /// VMAC (a host re-validating the entry it holds, answered by
        /// whoever forwards that VMAC while it is eligible).
        dst: MacAddr,
    },
    /// A tracked object changed state.
    Track {
        /// Object id as in [`GroupConfig::tracking`].
        object: u32,
        /// New state.
        up: bool,
    },
    /// Administrative enable.
    Enable,
    /// Administrative disable: resigns gracefully like [`Event::Shutdown`].
    Disable,
    /// New configuration, applied in place (same group id; invalid ones are
    /// ignored and counted).
    Configure(GroupConfig),
    /// The daemon stops: resign (forwarders handed over at once) and disable.
    Shutdown,
}

/// Where to send a GLBP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    /// 224.0.0.102 / ff02::66.
    Multicast,
    /// A member's IP (forwarder request and response).
    Unicast(IpAddr),
}

/// What a member disagrees with the AVG about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MismatchKind {
    /// The AVG advertises another virtual IP than the configured one.
    Vip,
    /// The AVG's hello/hold/redirect/timeout differ from ours (we adopt them).
    Timers,
    /// The peer's timers are unusable (zero, hold <= hello, timeout <= redirect).
    BadTimers,
    /// A peer uses our IP address.
    DuplicateAddress,
}

/// An output of a [`Group`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send a GLBP message. `eth_src` follows IOS: own MAC while active for no
    /// forwarder, else one of the active VMACs (the taken-over one for a
    /// takeover announcement). Auth digests are zero: the runtime signs.
    Send {
        /// Destination.
        dst: Dest,
        /// Ethernet source address.
        eth_src: MacAddr,
        /// Message to encode.
        msg: GlbpRepr,
    },
    /// Start accepting and forwarding frames sent to this VMAC.
    StartForwarding {
        /// Virtual MAC.
        vmac: MacAddr,
    },
    /// Stop forwarding this VMAC.
    StopForwarding {
        /// Virtual MAC.
        vmac: MacAddr,
    },
    /// Answer the ARP request: unicast to the host, Ethernet source = own
    /// MAC, ARP sender hardware address = `vmac`.
    ArpReply {
        /// Host IP.
        host_ip: IpAddr,
        /// Host MAC.
        host_mac: MacAddr,
        /// Virtual IP being resolved.
        vip: IpAddr,
        /// Chosen virtual MAC.
        vmac: MacAddr,
    },
    /// Broadcast a gratuitous ARP for `vip` with `vmac` (lone survivor only).
    GratuitousArp {
        /// Virtual IP.
        vip: IpAddr,
        /// Virtual MAC to announce.
        vmac: MacAddr,
    },
    /// `%GLBP-6-STATECHANGE: <if> Grp <group> state <old> -> <new>`.
    VgStateChange {
        /// Group.
        group: u16,
        /// Previous state.
        old: VgState,
        /// New state.
        new: VgState,
    },
    /// `%GLBP-6-FWDSTATECHANGE: <if> Grp <group> Fwd <n> state <old> -> <new>`.
    VfStateChange {
        /// Group.
        group: u16,
        /// Forwarder number 1..=4.
        forwarder: u8,
        /// Previous state.
        old: VfState,
        /// New state.
        new: VfState,
    },
    /// A configuration disagreement, reported once per peer and kind until it
    /// goes away.
    Mismatch {
        /// Group.
        group: u16,
        /// The peer.
        peer: IpAddr,
        /// What differs.
        kind: MismatchKind,
    },
}

/// IOS spelling of a gateway state (`Active`, `Standby`...).
pub fn vg_name(s: VgState) -> String {
    s.to_string()
}

/// IOS spelling of a forwarder state (`-` for the unspecified state 0).
pub fn vf_name(s: VfState) -> String {
    match s {
        VfState::Unspecified => "-".into(),
        other => other.to_string(),
    }
}

impl Action {
    /// The IOS-style log line for state changes and mismatches, e.g.
    /// `%GLBP-6-STATECHANGE: lan0 Grp 1 state Speak -> Active`.
    pub fn log_line(&self, ifname: &str) -> Option<String> {
        match self {
            Action::VgStateChange { group, old, new } => Some(format!(
                "%GLBP-6-STATECHANGE: {ifname} Grp {group} state {} -> {}",
                vg_name(*old),
                vg_name(*new)
            )),
            Action::VfStateChange {
                group,
                forwarder,
                old,
                new,
            } => Some(format!(
                "%GLBP-6-FWDSTATECHANGE: {ifname} Grp {group} Fwd {forwarder} state {} -> {}",
                vf_name(*old),
                vf_name(*new)
            )),
            Action::Mismatch { group, peer, kind } => Some(format!(
                "%GLBP-4-MISCONFIG: {ifname} Grp {group} {peer} disagrees: {kind:?}"
            )),
            _ => None,
        }
    }
}
