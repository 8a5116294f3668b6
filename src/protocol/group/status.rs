//! Read-only views: counters, accessors and the `show glbp` status.

use std::net::IpAddr;

use super::{Group, Peer};
use crate::protocol::config::GroupConfig;
use crate::protocol::Millis;
use crate::wire::glbp::{VfState, VgState};
use crate::wire::MacAddr;

/// Counters of one group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Hellos received and accepted.
    pub hellos_in: u64,
    /// Hellos sent.
    pub hellos_out: u64,
    /// Messages dropped for missing, wrong-mode or failed authentication.
    pub auth_failures: u64,
    /// Messages or TLVs ignored as malformed (bad forwarder number, unknown state...).
    pub malformed: u64,
    /// Configuration mismatches reported.
    pub mismatches: u64,
    /// Gateway state transitions.
    pub vg_transitions: u64,
    /// Forwarder state transitions.
    pub vf_transitions: u64,
    /// Forwarder requests sent / received; responses sent / received.
    pub requests_out: u64,
    /// See `requests_out`.
    pub requests_in: u64,
    /// See `requests_out`.
    pub responses_out: u64,
    /// See `requests_out`.
    pub responses_in: u64,
    /// ARP replies sent.
    pub arp_replies: u64,
    /// ARP requests for the VIP ignored because we are not AVG or nothing is eligible.
    pub arp_ignored: u64,
    /// Hellos from another Active gateway while we were Active.
    pub two_active_seen: u64,
    /// Gratuitous ARPs sent as lone survivor.
    pub lone_survivor_garps: u64,
    /// Forwarder claims, releases and requests ignored because their sender
    /// is not a member (never sent a valid hello, or aged out).
    pub non_member_claims: u64,
}

/// One member as shown by `show glbp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberStatus {
    /// Interface MAC (owner id).
    pub mac: MacAddr,
    /// IP.
    pub ip: IpAddr,
    /// Last advertised gateway priority.
    pub priority: u8,
    /// Last advertised gateway state.
    pub state: VgState,
    /// Whether this is ourselves.
    pub local: bool,
}

/// The active or standby router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerStatus {
    /// IP (ours when local).
    pub ip: IpAddr,
    /// Its priority.
    pub priority: u8,
    /// Whether it is ourselves.
    pub local: bool,
    /// Milliseconds until its hold timer expires (`None` when local).
    pub expires_in_ms: Option<Millis>,
}

/// One forwarder as shown by `show glbp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwarderStatus {
    /// 1..=4.
    pub number: u8,
    /// Its virtual MAC.
    pub vmac: MacAddr,
    /// Our state for it (Active when we forward it).
    pub state: VfState,
    /// Primary owner's MAC, when known.
    pub owner: Option<MacAddr>,
    /// Whether we are its primary owner.
    pub primary: bool,
    /// IP of the router forwarding it (ours when active), when known.
    pub active_router: Option<IpAddr>,
    /// Weight of the router forwarding it.
    pub weight: Option<u8>,
    /// Redirect time left in ms (`None` when we own it).
    pub redirect_left_ms: Option<Millis>,
    /// Time to live left in ms (`None` when we own it).
    pub timeout_left_ms: Option<Millis>,
    /// ARP replies (client selection count) that chose it.
    pub clients: u64,
    /// Hosts the client cache currently assigns to it.
    pub cached_clients: usize,
}

/// Read-only state for `show glbp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupStatus {
    /// Group number.
    pub group: u16,
    /// Configuration in force (preemption, thresholds, method...).
    pub config: GroupConfig,
    /// Gateway state.
    pub state: VgState,
    /// Virtual IP (configured or learnt).
    pub vip: Option<IpAddr>,
    /// Configured priority.
    pub priority: u8,
    /// Current weight and whether it is below the lower threshold.
    pub weight: u8,
    /// Below the lower threshold and not yet back above the upper.
    pub weight_low: bool,
    /// Hello in use / configured (ms).
    pub hello_ms: (u32, u32),
    /// Hold in use / configured (ms).
    pub hold_ms: (u32, u32),
    /// Redirect in use / configured (s).
    pub redirect_s: (u16, u16),
    /// Timeout in use / configured (s).
    pub timeout_s: (u16, u16),
    /// Milliseconds to the next hello.
    pub next_hello_in_ms: Option<Millis>,
    /// Active virtual gateway.
    pub active: Option<PeerStatus>,
    /// Standby virtual gateway.
    pub standby: Option<PeerStatus>,
    /// Members, us included, by IP.
    pub members: Vec<MemberStatus>,
    /// Known forwarders.
    pub forwarders: Vec<ForwarderStatus>,
    /// The client cache's entries (host, forwarder, age in ms), by host;
    /// empty when the cache is off or this member never answered as AVG.
    pub clients: Vec<(MacAddr, u8, Millis)>,
    /// Counters.
    pub counters: Counters,
}

impl Group {
    /// Group number.
    pub fn id(&self) -> u16 {
        self.cfg.id
    }

    /// Current configuration.
    pub fn config(&self) -> &GroupConfig {
        &self.cfg
    }

    /// Gateway state.
    pub fn state(&self) -> VgState {
        self.vg
    }

    /// Virtual IP (configured or learnt).
    pub fn vip(&self) -> Option<IpAddr> {
        self.vip
    }

    /// Counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// VMACs this router currently forwards.
    pub fn forwarding(&self) -> impl Iterator<Item = MacAddr> + '_ {
        self.fwds
            .iter()
            .flatten()
            .filter(|f| f.active)
            .map(|f| f.vmac)
    }

    /// When the next periodic hello is due (None while not running).
    pub fn hello_due(&self) -> Option<Millis> {
        self.hello_at
    }

    /// The hold time in force: configured, or learnt from the AVG.
    pub fn hold_ms(&self) -> u32 {
        self.t.hold_ms
    }

    /// Read-only state for `show glbp`.
    pub fn status(&self, now: Millis) -> GroupStatus {
        let left = |at: Option<Millis>| at.map(|t| t.saturating_sub(now));
        let peer = |p: Option<Peer>, at: Option<Millis>, me: bool| {
            if me {
                Some(PeerStatus {
                    ip: self.ip,
                    priority: self.cfg.priority,
                    local: true,
                    expires_in_ms: None,
                })
            } else {
                p.map(|p| PeerStatus {
                    ip: p.ip,
                    priority: p.priority,
                    local: false,
                    expires_in_ms: left(at),
                })
            }
        };
        let mut members: Vec<MemberStatus> = self
            .members
            .iter()
            .map(|(ip, m)| MemberStatus {
                mac: m.mac,
                ip: *ip,
                priority: m.priority,
                state: m.state,
                local: false,
            })
            .collect();
        if self.running() {
            members.push(MemberStatus {
                mac: self.mac,
                ip: self.ip,
                priority: self.cfg.priority,
                state: self.vg,
                local: true,
            });
            members.sort_by_key(|m| m.ip);
        }
        let forwarders = self
            .fwds
            .iter()
            .flatten()
            .map(|f| ForwarderStatus {
                number: f.number,
                vmac: f.vmac,
                state: f.vf_state(),
                owner: f.owner.map(|(m, _)| m),
                primary: f.primary,
                active_router: if f.active {
                    Some(self.ip)
                } else {
                    f.holder.map(|h| h.ip)
                },
                weight: if f.active {
                    Some(self.weight())
                } else {
                    f.holder.map(|h| h.weight)
                },
                redirect_left_ms: left(f.redirect_at),
                timeout_left_ms: left(f.timeout_at),
                clients: f.clients,
                cached_clients: 0,
            })
            .collect();
        let cached = self.clients(now);
        let mut forwarders: Vec<ForwarderStatus> = forwarders;
        for f in &mut forwarders {
            f.cached_clients = cached.iter().filter(|c| c.forwarder == f.number).count();
        }
        let clients = cached
            .iter()
            .map(|c| (c.host, c.forwarder, now.saturating_sub(c.at)))
            .collect();
        GroupStatus {
            group: self.cfg.id,
            config: self.cfg.clone(),
            state: self.vg,
            vip: self.vip,
            priority: self.cfg.priority,
            weight: self.weight(),
            weight_low: self.low,
            hello_ms: (self.t.hello_ms, self.cfg.hello_ms),
            hold_ms: (self.t.hold_ms, self.cfg.hold_ms),
            redirect_s: (self.t.redirect_s, self.cfg.redirect_s),
            timeout_s: (self.t.timeout_s, self.cfg.timeout_s),
            next_hello_in_ms: left(self.hello_at),
            active: peer(self.active, self.active_at, self.vg == VgState::Active),
            standby: peer(self.standby, self.standby_at, self.vg == VgState::Standby),
            members,
            forwarders,
            clients,
            counters: self.counters,
        }
    }
}
