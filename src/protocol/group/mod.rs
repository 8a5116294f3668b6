//! The per-group engine: gateway (VG) and forwarder (VF) state machines.
//!
//! Follows docs/protocol.md §8 (gateway) and §9 (forwarders). Where the
//! evidence leaves a choice open, this engine does (§8-§10 there say so too):
//! - Speak: the standby timer runs a hold time; when no AVG is known the
//!   active timer runs one hello only (every contender has announced itself by
//!   then), so a group without AVG elects one within hold + hello of the last
//!   AVG hello. A contender that still hears a higher Speak/Standby member
//!   (within 1.5 hellos) waits instead of going Active.
//! - Listen members enter Speak as soon as the standby turns Active or
//!   resigns, instead of waiting for the standby timer.
//! - Forwarder takeover: when the holder's timer (hold) expires, every
//!   candidate goes Active and announces; the lower (VF priority, IP) backs
//!   off on hearing the other. A forwarder nobody forwards (its owner died in
//!   its Listen wait, or no member could take it) is taken over a hold and a
//!   hello after its owner's last advert: a hello later than the owner's own
//!   Listen wait, so a live new owner is never raced.
//! - A member that deletes a forwarder it holds at its timeout releases it
//!   (160), so members whose countdown is fresher take it at once.
//! - VF priority 160 means "released": sent once by a resigning member (for
//!   what it forwards and what it owns) and by a member whose weight fell
//!   below the lower threshold (who also keeps
//!   advertising its own forwarder at 160 while low, and forwarders nobody
//!   forwards as Listen/135, so late joiners learn and take them). The IOS
//!   wire signal for a low weight is unknown (docs/protocol.md §9.6, §15).
//! - Two members claiming one forwarder number (two AVGs during a
//!   partition): the lower IP gives it up and asks the AVG again.
//! - Lone survivor (patent): a member without peers sends one gratuitous ARP
//!   for its own (else first) active VMAC still within its redirect time,
//!   after losing its last peer or when it first forwards while alone.
//! - ARP: a forwarder is handed out while it is active somewhere and within
//!   redirect both in our countdown and in the one its secondary holder
//!   advertises.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

use super::config::{Authentication, GroupConfig, MAX_HOLD_MS};
use super::lb::{Balance, ClientEntry, ClientTable};
use super::rng::SplitMix64;
use super::{vmac, Action, Dest, Event, Millis, MismatchKind, RxMessage};
use crate::wire::glbp::{
    AuthRepr, GlbpRepr, HelloRepr, NoncePeer, NonceRepr, ReqRespRepr, VfState, VgState,
    MAX_FORWARDERS, MAX_GROUP, VF_PRIORITY_PRIMARY, VF_PRIORITY_RESIGN, VF_PRIORITY_SECONDARY,
};
use crate::wire::MacAddr;

/// The nonce rotates about this often (docs/protocol.md §4.6).
const NONCE_ROTATE_MS: Millis = 20_000;
/// At most this many peer echoes fit in a type-4 TLV (8 + 12 N <= 255).
const MAX_NONCE_PEERS: usize = 20;
/// The Request/Response TLV of a member asking the AVG for a forwarder.
pub(super) const FORWARDER_REQUEST: ReqRespRepr = ReqRespRepr::REQUEST;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Peer {
    ip: IpAddr,
    mac: MacAddr,
    priority: u8,
}

#[derive(Debug, Clone, Copy)]
struct Member {
    mac: MacAddr,
    priority: u8,
    state: VgState,
    last_seen: Millis,
}

#[derive(Debug, Clone, Copy)]
struct Holder {
    ip: IpAddr,
    weight: u8,
    /// Redirect end as a secondary holder advertises it (its own view of the
    /// primary's countdown); `None` when the holder is the primary.
    redirect_at: Option<Millis>,
}

#[derive(Debug, Clone)]
struct Forwarder {
    number: u8,
    vmac: MacAddr,
    /// Primary owner (learnt from its 167 adverts or the AVG's assignment).
    owner: Option<(MacAddr, IpAddr)>,
    /// We are the primary owner.
    primary: bool,
    /// We forward this VMAC.
    active: bool,
    /// Another router active for it.
    holder: Option<Holder>,
    /// Watches `holder`; for an unheld primary: the Listen wait.
    hold_at: Option<Millis>,
    /// Forwarder preemption by the primary.
    preempt_at: Option<Millis>,
    /// Counted from the primary's last advert; `None` while we are primary.
    redirect_at: Option<Millis>,
    /// Counted from the primary's last advert; `None` while we are primary.
    timeout_at: Option<Millis>,
    /// ARP replies that handed out this forwarder.
    clients: u64,
    /// Its owner is alive but below its lower weight threshold (it keeps
    /// advertising it at priority 160): the AVG hands it to no new host.
    owner_low: bool,
}

impl Forwarder {
    fn new(group: u16, number: u8) -> Self {
        Forwarder {
            number,
            vmac: vmac(group, number),
            owner: None,
            primary: false,
            active: false,
            holder: None,
            hold_at: None,
            preempt_at: None,
            redirect_at: None,
            timeout_at: None,
            clients: 0,
            owner_low: false,
        }
    }
    fn vf_state(&self) -> VfState {
        if self.active {
            VfState::Active
        } else {
            VfState::Listen
        }
    }
    fn vf_priority(&self) -> u8 {
        if self.primary {
            VF_PRIORITY_PRIMARY
        } else {
            VF_PRIORITY_SECONDARY
        }
    }
}

#[derive(Debug, Clone)]
struct NonceState {
    counter: u8,
    nonce: u32,
    rotate_at: Millis,
    /// Peer owner MAC -> last nonce received from it.
    peers: BTreeMap<MacAddr, u32>,
}

/// The AVG's load-balancing table, for a dataplane that answers ARP itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balancing {
    /// The virtual IP answered for.
    pub vip: IpAddr,
    /// Eligible forwarders, method and client cache.
    pub balance: Balance,
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

/// Timers in use (ours when AVG, the AVG's otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Timers {
    hello_ms: u32,
    hold_ms: u32,
    redirect_s: u16,
    timeout_s: u16,
}

impl Timers {
    fn of(cfg: &GroupConfig) -> Self {
        Timers {
            hello_ms: cfg.hello_ms,
            hold_ms: cfg.hold_ms,
            redirect_s: cfg.redirect_s,
            timeout_s: cfg.timeout_s,
        }
    }
    fn of_hello(h: &HelloRepr) -> Option<Self> {
        let ok = h.hello_ms > 0
            && h.hold_ms > h.hello_ms
            && h.hold_ms <= MAX_HOLD_MS
            && h.timeout_s > h.redirect_s;
        ok.then_some(Timers {
            hello_ms: h.hello_ms,
            hold_ms: h.hold_ms,
            redirect_s: h.redirect_s,
            timeout_s: h.timeout_s,
        })
    }
}

/// One GLBP group on one interface: the complete per-group engine.
#[derive(Debug, Clone)]
pub struct Group {
    cfg: GroupConfig,
    ip: IpAddr,
    mac: MacAddr,
    rng: SplitMix64,
    vg: VgState,
    vip: Option<IpAddr>,
    t: Timers,
    hello_at: Option<Millis>,
    active_at: Option<Millis>,
    standby_at: Option<Millis>,
    active: Option<Peer>,
    standby: Option<Peer>,
    members: BTreeMap<IpAddr, Member>,
    /// Members that resigned (priority-0 hello), until a hold time after:
    /// their releases may arrive after the resign and are still honoured.
    resigned: BTreeMap<IpAddr, Millis>,
    /// Since when no valid hello from anyone has been heard (no members);
    /// `None` while we have members.
    alone_since: Option<Millis>,
    /// A lone-survivor gratuitous ARP was sent in this period alone.
    alone_garp_sent: bool,
    /// Its due time passed and it was tried (it is retried on every
    /// event until sent, but no longer a deadline of its own).
    alone_garp_tried: bool,
    fwds: [Option<Forwarder>; MAX_FORWARDERS as usize],
    tracked_down: BTreeSet<u32>,
    low: bool,
    enabled_at: Millis,
    nonce: Option<NonceState>,
    /// Round-robin / weighted turn of the ARP answers this engine gives.
    turn: u32,
    /// The client cache (`None` when off), shared with the dataplane.
    clients: Option<Arc<ClientTable>>,
    src_rr: usize,
    mismatched: BTreeSet<(IpAddr, MismatchKind)>,
    counters: Counters,
}

fn ms(s: u16) -> Millis {
    Millis::from(s) * 1000
}

fn secs_left(at: Option<Millis>, now: Millis, full: u16) -> u16 {
    match at {
        None => full,
        Some(at) => u16::try_from(at.saturating_sub(now) / 1000).unwrap_or(u16::MAX),
    }
}

impl Group {
    /// A disabled group; send [`Event::Enable`] to start it. `ip`/`mac` are the
    /// interface's; `seed` drives hello jitter and nonces. The configuration
    /// should have passed [`GroupConfig::validate`]; values are clamped anyway.
    pub fn new(cfg: GroupConfig, ip: IpAddr, mac: MacAddr, seed: u64) -> Self {
        let t = Timers::of(&cfg);
        let mut g = Group {
            vip: cfg.vip,
            cfg,
            ip,
            mac,
            rng: SplitMix64::new(seed),
            vg: VgState::Disabled,
            t,
            hello_at: None,
            active_at: None,
            standby_at: None,
            active: None,
            standby: None,
            members: BTreeMap::new(),
            resigned: BTreeMap::new(),
            alone_since: None,
            alone_garp_sent: false,
            alone_garp_tried: false,
            fwds: Default::default(),
            tracked_down: BTreeSet::new(),
            low: false,
            enabled_at: 0,
            nonce: None,
            turn: 0,
            clients: None,
            src_rr: 0,
            mismatched: BTreeSet::new(),
            counters: Counters::default(),
        };
        if g.cfg.validate().is_err() {
            // `Port::configure` validates; a group built directly from an
            // invalid configuration runs on the defaults rather than
            // panicking on impossible timers.
            g.counters.malformed += 1;
            g.cfg = GroupConfig {
                id: g.cfg.id.min(MAX_GROUP),
                ..GroupConfig::default()
            };
        }
        g.low = g.weight() < g.cfg.weighting.lower;
        g.clients = ClientTable::new(g.cfg.client_cache);
        g
    }

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

    /// Current weight: configured weighting minus decrements of tracked objects
    /// that are down.
    pub fn weight(&self) -> u8 {
        let dec: u32 = self
            .tracked_down
            .iter()
            .filter_map(|o| self.cfg.tracking.get(o))
            .map(|d| u32::from(*d))
            .sum();
        u8::try_from(u32::from(self.cfg.weighting.max).saturating_sub(dec)).unwrap_or(0)
    }

    /// Below the lower weight threshold and not yet back above the upper:
    /// forwards nothing.
    pub fn weight_low(&self) -> bool {
        self.low
    }

    /// When the next periodic hello is due (None while not running).
    pub fn hello_due(&self) -> Option<Millis> {
        self.hello_at
    }

    /// The hold time in force: configured, or learnt from the AVG.
    pub fn hold_ms(&self) -> u32 {
        self.t.hold_ms
    }

    /// Earliest time at which [`Event::Timer`] must be delivered.
    pub fn next_deadline(&self) -> Option<Millis> {
        let mut d = [
            self.hello_at,
            self.active_at,
            self.standby_at,
            self.nonce.as_ref().map(|n| n.rotate_at),
        ]
        .into_iter()
        .flatten()
        .min();
        let mut upd = |x: Option<Millis>| {
            if let Some(x) = x {
                d = Some(d.map_or(x, |d| d.min(x)));
            }
        };
        for f in self.fwds.iter().flatten() {
            upd(f.hold_at);
            upd(f.preempt_at);
            upd(f.timeout_at);
        }
        upd(self
            .members
            .values()
            .map(|m| m.last_seen + Millis::from(self.t.hold_ms))
            .min());
        if !self.alone_garp_tried {
            upd(self.lone_survivor_due());
        }
        d
    }

    /// Processes one event at time `now` and returns the actions to perform.
    pub fn handle(&mut self, now: Millis, event: Event) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            Event::Timer => self.on_timer(now, &mut out),
            Event::Rx(m) => self.on_rx(now, m, &mut out),
            Event::AuthFailed { .. } => self.counters.auth_failures += 1,
            Event::Arp {
                host_ip,
                host_mac,
                dst,
            } => self.on_arp(now, host_ip, host_mac, dst, &mut out),
            Event::Track { object, up } => {
                if up {
                    self.tracked_down.remove(&object);
                } else {
                    self.tracked_down.insert(object);
                }
                self.weight_changed(now, &mut out);
            }
            Event::Enable => self.enable(now, &mut out),
            Event::Disable | Event::Shutdown => self.resign(now, &mut out),
            Event::Configure(cfg) => self.configure(now, cfg, &mut out),
        }
        self.own_forwarder(now);
        if self.lone_survivor_due().is_some_and(|t| t <= now) {
            self.lone_survivor(now, &mut out);
        }
        out
    }

    // ----- helpers -------------------------------------------------------

    fn hold(&self) -> Millis {
        Millis::from(self.t.hold_ms)
    }

    fn higher_than_me(&self, priority: u8, ip: IpAddr) -> bool {
        (priority, ip) > (self.cfg.priority, self.ip)
    }

    fn running(&self) -> bool {
        matches!(
            self.vg,
            VgState::Listen | VgState::Speak | VgState::Standby | VgState::Active
        )
    }

    fn can_forward(&self) -> bool {
        self.running() && !self.low
    }

    fn has_primary(&self) -> bool {
        self.fwds.iter().flatten().any(|f| f.primary)
    }

    fn auth_tlv(&self) -> Option<AuthRepr> {
        match &self.cfg.authentication {
            Authentication::None => None,
            Authentication::Text(s) => Some(AuthRepr::Text(s.as_bytes().to_vec())),
            Authentication::Md5KeyString(_) => Some(AuthRepr::Md5String { digest: [0; 16] }),
            Authentication::Md5KeyChain(_) => Some(AuthRepr::Md5Chain {
                key_id: self.cfg.authentication.send_key_id().unwrap_or(0),
                digest: [0; 16],
            }),
        }
    }

    fn message(&self, hello: Option<HelloRepr>, forwarders: Vec<ReqRespRepr>) -> GlbpRepr {
        let nonce = self.nonce.as_ref().map(|n| NonceRepr {
            counter: n.counter,
            nonce: n.nonce,
            peers: n
                .peers
                .iter()
                .map(|(&owner, &echo)| NoncePeer { owner, echo })
                .collect(),
        });
        GlbpRepr {
            group: self.cfg.id,
            owner: self.mac,
            auth: self.auth_tlv(),
            nonce,
            hello,
            forwarders,
        }
    }

    /// IOS: own MAC while active for nothing, else the active VMACs in turn.
    fn eth_src(&mut self) -> MacAddr {
        let active: Vec<MacAddr> = self.forwarding().collect();
        if active.is_empty() {
            return self.mac;
        }
        self.src_rr = self.src_rr.wrapping_add(1);
        active[self.src_rr % active.len()]
    }

    fn send(&mut self, dst: Dest, eth_src: MacAddr, msg: GlbpRepr, out: &mut Vec<Action>) {
        out.push(Action::Send { dst, eth_src, msg });
    }

    fn tlv(&self, f: &Forwarder, now: Millis) -> ReqRespRepr {
        ReqRespRepr {
            forwarder: f.number,
            state: f.vf_state(),
            // An owner below the lower weight threshold advertises 160: "mine,
            // alive, but take it" (the IOS signal is unknown, docs/protocol.md §9.6).
            priority: if f.primary && !f.active && self.low {
                VF_PRIORITY_RESIGN
            } else {
                f.vf_priority()
            },
            weight: self.weight(),
            timeout_s: secs_left(f.timeout_at, now, self.t.timeout_s),
            redirect_s: secs_left(f.redirect_at, now, self.t.redirect_s),
            vmac: f.vmac,
        }
    }

    fn hello_repr(&self, priority: u8) -> Option<HelloRepr> {
        Some(HelloRepr {
            state: self.vg,
            priority,
            hello_ms: self.t.hello_ms,
            hold_ms: self.t.hold_ms,
            redirect_s: self.t.redirect_s,
            timeout_s: self.t.timeout_s,
            vip: self.vip?,
        })
    }

    fn send_hello(&mut self, now: Millis, out: &mut Vec<Action>) {
        let interval = Millis::from(self.t.hello_ms);
        let jitter = self
            .rng
            .below(interval * Millis::from(self.cfg.hello_jitter_pct) / 100 + 1);
        self.hello_at = Some(now + (interval - jitter.min(interval - 1)).max(1));
        let Some(hello) = self.hello_repr(self.cfg.priority) else {
            return;
        };
        let tlvs = self
            .fwds
            .iter()
            .flatten()
            // A member below its lower threshold also advertises forwarders
            // nobody forwards (Listen/135), so members that never saw them
            // active (e.g. just booted) learn them and take them over.
            .filter(|f| f.active || f.primary || (self.low && f.holder.is_none()))
            .map(|f| self.tlv(f, now))
            .collect();
        let msg = self.message(Some(hello), tlvs);
        let src = self.eth_src();
        self.counters.hellos_out += 1;
        self.send(Dest::Multicast, src, msg, out);
    }

    fn set_vg(&mut self, now: Millis, new: VgState, out: &mut Vec<Action>) {
        if self.vg == new {
            return;
        }
        let old = self.vg;
        self.vg = new;
        self.counters.vg_transitions += 1;
        out.push(Action::VgStateChange {
            group: self.cfg.id,
            old,
            new,
        });
        if self.running() {
            self.send_hello(now, out);
        }
    }

    fn set_active(&mut self, idx: usize, on: bool, out: &mut Vec<Action>) {
        let group = self.cfg.id;
        let Some(f) = self.fwds[idx].as_mut() else {
            return;
        };
        if f.active == on {
            return;
        }
        let old = f.vf_state();
        f.active = on;
        if on {
            f.holder = None;
            f.hold_at = None;
            f.preempt_at = None;
            out.push(Action::StartForwarding { vmac: f.vmac });
        } else {
            out.push(Action::StopForwarding { vmac: f.vmac });
        }
        out.push(Action::VfStateChange {
            group,
            forwarder: f.number,
            old,
            new: f.vf_state(),
        });
        self.counters.vf_transitions += 1;
    }

    /// Goes Active for forwarder `idx` and announces it with a ReqResp-only
    /// message sourced from its VMAC (docs/protocol.md §9.3).
    fn take_over(&mut self, now: Millis, idx: usize, out: &mut Vec<Action>) {
        if !self.can_forward() || self.fwds[idx].as_ref().map_or(true, |f| f.active) {
            return;
        }
        self.set_active(idx, true, out);
        self.announce(now, idx, out);
    }

    /// A ReqResp-only message for forwarder `idx`, sourced from its VMAC.
    fn announce(&mut self, now: Millis, idx: usize, out: &mut Vec<Action>) {
        if let Some(f) = &self.fwds[idx] {
            let (tlv, vmac) = (self.tlv(f, now), f.vmac);
            let msg = self.message(None, vec![tlv]);
            self.send(Dest::Multicast, vmac, msg, out);
        }
    }

    fn mismatch(&mut self, peer: IpAddr, kind: MismatchKind, on: bool, out: &mut Vec<Action>) {
        if !on {
            self.mismatched.remove(&(peer, kind));
        } else if self.mismatched.insert((peer, kind)) {
            self.counters.mismatches += 1;
            out.push(Action::Mismatch {
                group: self.cfg.id,
                peer,
                kind,
            });
        }
    }

    // ----- admin and config ------------------------------------------------

    fn enable(&mut self, now: Millis, out: &mut Vec<Action>) {
        if self.vg != VgState::Disabled {
            return;
        }
        self.enabled_at = now;
        self.alone_since = Some(now);
        self.alone_garp_sent = false;
        self.alone_garp_tried = false;
        self.t = Timers::of(&self.cfg);
        self.vip = self.cfg.vip;
        self.nonce = self
            .cfg
            .authentication
            .is_md5()
            .then(|| self.new_nonce(now, 0));
        self.set_vg(now, VgState::Init, out);
        self.init_to_listen(now, out);
    }

    fn init_to_listen(&mut self, now: Millis, out: &mut Vec<Action>) {
        if self.vg == VgState::Init && self.vip.is_some() {
            self.active_at = Some(now + self.hold());
            self.standby_at = Some(now + self.hold());
            self.set_vg(now, VgState::Listen, out);
        }
    }

    fn new_nonce(&mut self, now: Millis, counter: u8) -> NonceState {
        NonceState {
            counter,
            nonce: self.rng.next_u64() as u32,
            rotate_at: now + NONCE_ROTATE_MS,
            peers: self.nonce.take().map(|n| n.peers).unwrap_or_default(),
        }
    }

    /// Sends one ReqResp-only message releasing (VF priority 160) every
    /// forwarder we are active for or own (even one still in its Listen
    /// wait), so that peers take them over at once. Returns the Ethernet
    /// source it used (or would have used).
    fn release_all(&mut self, now: Millis, out: &mut Vec<Action>) -> MacAddr {
        self.release_where(now, |f| f.active || f.primary, out)
    }

    /// Releases the forwarders `pick` selects.
    fn release_where(
        &mut self,
        now: Millis,
        pick: impl Fn(&Forwarder) -> bool,
        out: &mut Vec<Action>,
    ) -> MacAddr {
        let released: Vec<ReqRespRepr> = self
            .fwds
            .iter()
            .flatten()
            .filter(|f| pick(f))
            .map(|f| ReqRespRepr {
                state: VfState::Listen,
                priority: VF_PRIORITY_RESIGN,
                ..self.tlv(f, now)
            })
            .collect();
        let src = self.eth_src();
        if !released.is_empty() {
            let msg = self.message(None, released);
            self.send(Dest::Multicast, src, msg, out);
        }
        src
    }

    /// Graceful leave: release active forwarders (VF priority 160), then a
    /// hello with priority 0, then disable (docs/protocol.md §8.4).
    fn resign(&mut self, now: Millis, out: &mut Vec<Action>) {
        if self.vg == VgState::Disabled {
            return;
        }
        if self.running() {
            let src = self.release_all(now, out);
            if let Some(h) = self.hello_repr(0) {
                let msg = self.message(Some(h), Vec::new());
                self.counters.hellos_out += 1;
                self.send(Dest::Multicast, src, msg, out);
            }
        }
        for i in 0..self.fwds.len() {
            self.set_active(i, false, out);
        }
        self.fwds = Default::default();
        self.members.clear();
        self.resigned.clear();
        self.alone_since = None;
        self.alone_garp_sent = false;
        self.alone_garp_tried = false;
        self.active = None;
        self.standby = None;
        self.hello_at = None;
        self.active_at = None;
        self.standby_at = None;
        self.nonce = None;
        self.turn = 0;
        self.clients = ClientTable::new(self.cfg.client_cache);
        self.mismatched.clear();
        self.set_vg(now, VgState::Disabled, out);
    }

    fn configure(&mut self, now: Millis, cfg: GroupConfig, out: &mut Vec<Action>) {
        if cfg.id != self.cfg.id || cfg.validate().is_err() {
            self.counters.malformed += 1;
            return;
        }
        let old = std::mem::replace(&mut self.cfg, cfg);
        if old.load_balancing != self.cfg.load_balancing {
            self.turn = 0;
        }
        if old.client_cache != self.cfg.client_cache {
            self.clients = ClientTable::new(self.cfg.client_cache);
        }
        if self.vg == VgState::Disabled {
            self.t = Timers::of(&self.cfg);
            self.vip = self.cfg.vip;
            return;
        }
        if old.authentication.is_md5() != self.cfg.authentication.is_md5() {
            self.nonce = self
                .cfg
                .authentication
                .is_md5()
                .then(|| self.new_nonce(now, 0));
        }
        if self.cfg.vip.is_some() {
            self.vip = self.cfg.vip;
        }
        if Timers::of(&old) != Timers::of(&self.cfg)
            && (self.vg == VgState::Active || self.active.is_none())
        {
            self.t = Timers::of(&self.cfg);
            self.hello_at = Some(now);
        }
        if old.priority != self.cfg.priority {
            self.hello_at = Some(now);
        }
        self.init_to_listen(now, out);
        self.weight_changed(now, out);
        if self.hello_at == Some(now) {
            self.send_hello(now, out);
        }
    }

    /// Applies the weight thresholds with hysteresis (docs/protocol.md §9.7).
    fn weight_changed(&mut self, now: Millis, out: &mut Vec<Action>) {
        let w = self.weight();
        let was_low = self.low;
        if w < self.cfg.weighting.lower {
            self.low = true;
        } else if w >= self.cfg.weighting.upper {
            self.low = false;
        }
        if !self.running() {
            return;
        }
        if self.low && !was_low {
            // Hand over at once, like a resign, so peers do not wait a hold time.
            self.release_all(now, out);
            for i in 0..self.fwds.len() {
                self.set_active(i, false, out);
                if let Some(f) = self.fwds[i].as_mut() {
                    f.preempt_at = None;
                }
            }
        } else if !self.low && was_low {
            for i in 0..self.fwds.len() {
                let Some(f) = self.fwds[i].as_mut() else {
                    continue;
                };
                if f.holder.is_none() {
                    // Nobody forwards it (we may have been the only candidate).
                    self.take_over(now, i, out);
                } else if f.primary && self.cfg.forwarder_preempt {
                    f.preempt_at = Some(now + self.cfg.forwarder_preempt_delay_ms);
                }
            }
        }
        // The new weight travels in the next hello.
    }

    // ----- timers ----------------------------------------------------------

    fn on_timer(&mut self, now: Millis, out: &mut Vec<Action>) {
        self.age_members(now);
        self.vg_timers(now, out);
        self.fwd_timers(now, out);
        if let Some(n) = &self.nonce {
            if n.rotate_at <= now {
                let c = n.counter.wrapping_add(1);
                self.nonce = Some(self.new_nonce(now, c));
            }
        }
        if self.hello_at.is_some_and(|t| t <= now) && self.running() {
            self.send_hello(now, out);
        }
    }

    fn age_members(&mut self, now: Millis) {
        let hold = self.hold();
        let before = self.members.len();
        self.members.retain(|_, m| m.last_seen + hold > now);
        if self.members.len() == before {
            return;
        }
        if self.members.is_empty() {
            self.alone_since = Some(now);
            self.alone_garp_sent = false;
            self.alone_garp_tried = false;
        }
        if let Some(n) = self.nonce.as_mut() {
            let alive: BTreeSet<MacAddr> = self.members.values().map(|m| m.mac).collect();
            n.peers.retain(|mac, _| alive.contains(mac));
        }
    }

    /// When the lone-survivor gratuitous ARP is due, if it may be sent at
    /// all: only by the AVG, when configured, once per period alone, one
    /// full hold time after the last member aged out (so one more hold
    /// after the last valid hello from anyone). A stall or a flood that
    /// makes every router miss hellos for a hold does not qualify: the
    /// peers' hellos arrive again within the extra hold.
    fn lone_survivor_due(&self) -> Option<Millis> {
        if !self.cfg.lone_survivor_garp || self.alone_garp_sent || self.vg != VgState::Active {
            return None;
        }
        self.alone_since.map(|t| t + self.hold())
    }

    /// Patent: a master left alone after a failure sends a gratuitous ARP
    /// with a VMAC it forwards, so that no host stays pointed at a VMAC
    /// nobody forwards (Linux hosts overwrite their entry on it: every host
    /// of the LAN moves, which is why it is kept to this case).
    /// Only a VMAC it forwards and still within its redirect time is
    /// announced (its own first); none yet: try again on the next event.
    fn lone_survivor(&mut self, now: Millis, out: &mut Vec<Action>) {
        self.alone_garp_tried = true;
        let Some(vip) = self.vip else { return };
        if !self.can_forward() || !self.members.is_empty() {
            return;
        }
        let pick = self
            .fwds
            .iter()
            .flatten()
            .filter(|f| f.active && f.redirect_at.map_or(true, |r| r > now))
            .min_by_key(|f| (!f.primary, f.number))
            .map(|f| f.vmac);
        if let Some(vmac) = pick {
            self.alone_garp_sent = true;
            self.counters.lone_survivor_garps += 1;
            out.push(Action::GratuitousArp { vip, vmac });
        }
    }

    /// A member with no forwarder of its own gets one while fewer than
    /// four exist: the AVG assigns itself the lowest free number (members
    /// ask it, see `on_hello`). Covers an AVG that gave its number up to a
    /// higher-IP claimant after a partition healed: without this it would
    /// forward nothing of its own, and once the others die and their
    /// forwarders time out, the virtual IP would go dark.
    fn own_forwarder(&mut self, now: Millis) {
        if self.vg != VgState::Active || self.has_primary() {
            return;
        }
        if let Some(n) = self.number_for(self.mac) {
            self.become_primary(now, n);
        }
    }

    fn expired(at: Option<Millis>, now: Millis) -> bool {
        at.is_some_and(|t| t <= now)
    }

    /// A higher member still contending for the standby or active role
    /// (heard within the last hello and a half).
    fn higher_contender(&self, now: Millis) -> bool {
        let recent = Millis::from(self.t.hello_ms) * 3 / 2;
        self.members.iter().any(|(ip, m)| {
            matches!(m.state, VgState::Speak | VgState::Standby)
                && m.priority > 0
                && m.last_seen + recent > now
                && self.higher_than_me(m.priority, *ip)
        })
    }

    fn vg_timers(&mut self, now: Millis, out: &mut Vec<Action>) {
        let a = Self::expired(self.active_at, now);
        let s = Self::expired(self.standby_at, now);
        if a {
            self.active = None;
            self.active_at = None;
        }
        if s {
            self.standby = None;
            self.standby_at = None;
        }
        match self.vg {
            VgState::Listen if a || s => {
                if a && !s && self.higher_contender(now) {
                    // A higher member is already stepping up; check again soon.
                    self.active_at = Some(now + Millis::from(self.t.hello_ms));
                } else {
                    self.enter_speak(now, out);
                }
            }
            VgState::Speak if a => {
                if self.higher_contender(now) {
                    self.active_at = Some(now + Millis::from(self.t.hello_ms));
                    self.standby_at = Some(now + self.hold());
                    self.set_vg(now, VgState::Listen, out);
                } else {
                    self.become_active(now, out);
                }
            }
            VgState::Speak if s => {
                self.set_vg(now, VgState::Standby, out);
            }
            VgState::Standby if a => self.become_active(now, out),
            _ => {}
        }
    }

    fn enter_speak(&mut self, now: Millis, out: &mut Vec<Action>) {
        self.standby_at = Some(now + self.hold());
        if self.active.is_none() {
            // Nobody is Active: contend for one hello interval only.
            self.active_at = Some(now + Millis::from(self.t.hello_ms));
        } else if self.active_at.is_none() {
            self.active_at = Some(now + self.hold());
        }
        self.set_vg(now, VgState::Speak, out);
    }

    fn become_active(&mut self, now: Millis, out: &mut Vec<Action>) {
        self.active = None;
        self.active_at = None;
        if self.standby.is_none() {
            self.standby_at = None;
        }
        self.t = Timers::of(&self.cfg);
        self.set_vg(now, VgState::Active, out);
        if !self.has_primary() {
            if let Some(n) = self.number_for(self.mac) {
                self.become_primary(now, n);
            }
        }
    }

    fn become_primary(&mut self, now: Millis, n: u8) {
        let idx = usize::from(n - 1);
        let (me, ip, hold) = (self.mac, self.ip, self.hold());
        let (preempt, delay) = (
            self.cfg.forwarder_preempt,
            self.cfg.forwarder_preempt_delay_ms,
        );
        let f = self.fwds[idx].get_or_insert_with(|| Forwarder::new(self.cfg.id, n));
        f.primary = true;
        f.owner = Some((me, ip));
        f.redirect_at = None;
        f.timeout_at = None;
        if f.active {
            return;
        }
        if f.holder.is_some() {
            if preempt && !self.low {
                f.preempt_at = Some(now + delay);
            }
        } else {
            // Wait one hold time in Listen for a secondary to show up.
            f.hold_at = Some(now + hold);
        }
    }

    fn fwd_timers(&mut self, now: Millis, out: &mut Vec<Action>) {
        for i in 0..self.fwds.len() {
            let Some(f) = self.fwds[i].as_mut() else {
                continue;
            };
            if Self::expired(f.timeout_at, now) {
                let number = f.number;
                if f.active && self.vg == VgState::Active && !self.has_primary() && !self.low {
                    // The AVG forwards it and owns nothing: it makes the
                    // number its own instead of deleting it, so it never
                    // goes without a forwarder to hand out and the hosts
                    // still on this VMAC keep their gateway.
                    let (mac, ip) = (self.mac, self.ip);
                    if let Some(f) = self.fwds[i].as_mut() {
                        f.primary = true;
                        f.owner = Some((mac, ip));
                        f.redirect_at = None;
                        f.timeout_at = None;
                        f.preempt_at = None;
                    }
                    self.announce(now, i, out);
                    continue;
                }
                // Members whose view of the primary's last advert is fresher
                // (e.g. across a healed partition) take it over at once.
                self.release_where(now, |f| f.active && f.number == number, out);
                self.set_active(i, false, out);
                // The state it is really in now (Listen after the stop above).
                let old = self.fwds[i]
                    .as_ref()
                    .map_or(VfState::Listen, |f| f.vf_state());
                self.fwds[i] = None;
                out.push(Action::VfStateChange {
                    group: self.cfg.id,
                    forwarder: number,
                    old,
                    new: VfState::Disabled,
                });
                self.counters.vf_transitions += 1;
                continue;
            }
            if Self::expired(f.hold_at, now) {
                f.hold_at = None;
                f.holder = None;
                self.take_over(now, i, out);
            }
            let Some(f) = self.fwds[i].as_mut() else {
                continue;
            };
            if Self::expired(f.preempt_at, now) {
                f.preempt_at = None;
                // Forwarder preemption may have been configured off meanwhile.
                if f.primary && self.cfg.forwarder_preempt {
                    self.take_over(now, i, out);
                }
            }
        }
    }

    // ----- receive -------------------------------------------------------

    fn auth_ok(&self, m: &RxMessage) -> bool {
        match (&self.cfg.authentication, &m.repr.auth) {
            (Authentication::None, None) => true,
            (Authentication::Text(k), Some(AuthRepr::Text(got))) => k.as_bytes() == got.as_slice(),
            (Authentication::Md5KeyString(_), Some(AuthRepr::Md5String { .. }))
            | (Authentication::Md5KeyChain(_), Some(AuthRepr::Md5Chain { .. })) => m.auth_ok,
            _ => false,
        }
    }

    fn on_rx(&mut self, now: Millis, m: RxMessage, out: &mut Vec<Action>) {
        if m.repr.owner == self.mac || self.vg == VgState::Disabled || m.repr.group != self.cfg.id {
            return;
        }
        if !self.auth_ok(&m) {
            self.counters.auth_failures += 1;
            return;
        }
        if m.src_ip == self.ip {
            self.mismatch(m.src_ip, MismatchKind::DuplicateAddress, true, out);
            return;
        }
        if let (Some(n), Some(peer)) = (self.nonce.as_mut(), &m.repr.nonce) {
            if n.peers.len() < MAX_NONCE_PEERS || n.peers.contains_key(&m.repr.owner) {
                n.peers.insert(m.repr.owner, peer.nonce);
            }
        }
        self.resigned.retain(|_, until| *until > now);
        let was_member =
            self.members.contains_key(&m.src_ip) || self.resigned.contains_key(&m.src_ip);
        let sender = Peer {
            ip: m.src_ip,
            mac: m.repr.owner,
            priority: 0,
        };
        if let Some(h) = m.repr.hello {
            self.on_hello(
                now,
                Peer {
                    priority: h.priority,
                    ..sender
                },
                &h,
                out,
            );
        }
        if !self.running() {
            return;
        }
        let in_hello = m.repr.hello.is_some();
        if !m.repr.forwarders.is_empty() && !was_member && !self.members.contains_key(&m.src_ip) {
            // Claims from an address that never sent a valid hello (or
            // aged out): a forged or stale claim must not take a forwarder
            // away from a member, nor make one up.
            self.counters.non_member_claims += 1;
            return;
        }
        for t in &m.repr.forwarders {
            self.on_tlv(now, sender, t, in_hello, out);
        }
    }

    fn on_hello(&mut self, now: Millis, p: Peer, h: &HelloRepr, out: &mut Vec<Action>) {
        if matches!(
            h.state,
            VgState::Unknown(_) | VgState::Disabled | VgState::Init
        ) {
            self.counters.malformed += 1;
            return;
        }
        self.counters.hellos_in += 1;
        let resign = h.priority == 0;
        let from_avg = h.state == VgState::Active && !resign;
        if resign {
            if self.members.remove(&p.ip).is_some() {
                self.resigned.insert(p.ip, now + self.hold());
            }
            if self.members.is_empty() && self.alone_since.is_none() {
                self.alone_since = Some(now);
                self.alone_garp_sent = false;
                self.alone_garp_tried = false;
            }
        } else {
            self.members.insert(
                p.ip,
                Member {
                    mac: p.mac,
                    priority: h.priority,
                    state: h.state,
                    last_seen: now,
                },
            );
            self.alone_since = None;
            self.alone_garp_sent = false;
            self.alone_garp_tried = false;
        }
        // Virtual IP: learn it from the AVG, or report a disagreement once.
        match self.cfg.vip {
            Some(v) => self.mismatch(p.ip, MismatchKind::Vip, v != h.vip, out),
            None if from_avg => self.vip = Some(h.vip),
            None => {}
        }
        self.init_to_listen(now, out);
        if !self.running() {
            return;
        }
        // Timers: adopt the AVG's (IOS "hello time 3 sec (cfgd 1 sec)").
        if from_avg {
            let theirs = Timers::of_hello(h);
            self.mismatch(p.ip, MismatchKind::BadTimers, theirs.is_none(), out);
            if let Some(t) = theirs {
                self.mismatch(p.ip, MismatchKind::Timers, t != Timers::of(&self.cfg), out);
                if self.vg != VgState::Active {
                    self.t = t;
                }
            }
        }
        let higher = self.higher_than_me(h.priority, p.ip);
        let hold = self.hold();
        match h.state {
            VgState::Active if resign => {
                if self.active.is_some_and(|a| a.ip == p.ip) {
                    self.active = None;
                }
                match self.vg {
                    VgState::Standby => self.become_active(now, out),
                    VgState::Listen | VgState::Speak => {
                        self.active_at = None;
                        self.enter_speak(now, out);
                    }
                    _ => {}
                }
            }
            VgState::Active => {
                if self.standby.is_some_and(|s| s.ip == p.ip) {
                    // The standby took over: elect a new one now.
                    self.standby = None;
                    self.standby_at = None;
                    if self.vg == VgState::Listen {
                        self.active = Some(p);
                        self.active_at = Some(now + hold);
                        self.enter_speak(now, out);
                    }
                }
                if self.vg == VgState::Active {
                    self.counters.two_active_seen += 1;
                    if higher {
                        self.active = Some(p);
                        self.active_at = Some(now + hold);
                        self.standby_at = Some(now + hold);
                        self.set_vg(now, VgState::Speak, out);
                    }
                } else {
                    self.active = Some(p);
                    self.active_at = Some(now + hold);
                    let preempt = self.cfg.preempt
                        && !higher
                        && now >= self.enabled_at.saturating_add(self.cfg.preempt_delay_ms);
                    if preempt {
                        if self.vg == VgState::Speak {
                            self.become_active(now, out);
                        } else {
                            self.enter_speak(now, out);
                        }
                    } else if !self.has_primary()
                        && self.fwds.iter().flatten().count() < usize::from(MAX_FORWARDERS)
                    {
                        self.request_forwarder(p.ip, out);
                    }
                }
            }
            VgState::Standby => {
                if self.active.is_some_and(|a| a.ip == p.ip) {
                    self.active = None;
                }
                if resign {
                    if self.standby.is_some_and(|s| s.ip == p.ip) {
                        self.standby = None;
                    }
                    if self.vg == VgState::Listen {
                        self.enter_speak(now, out);
                    }
                    return;
                }
                match self.vg {
                    VgState::Active => {
                        self.standby = Some(p);
                        self.standby_at = Some(now + hold);
                    }
                    VgState::Standby if higher => self.listen_behind_standby(now, p, out),
                    VgState::Speak if higher => self.listen_behind_standby(now, p, out),
                    VgState::Speak => self.set_vg(now, VgState::Standby, out),
                    VgState::Listen if higher => {
                        self.standby = Some(p);
                        self.standby_at = Some(now + hold);
                    }
                    VgState::Listen => self.enter_speak(now, out),
                    _ => {}
                }
            }
            VgState::Speak if !resign && higher => match self.vg {
                VgState::Speak | VgState::Standby => {
                    self.standby_at = Some(now + hold);
                    self.set_vg(now, VgState::Listen, out);
                }
                VgState::Listen => self.standby_at = Some(now + hold),
                _ => {}
            },
            _ => {}
        }
    }

    fn listen_behind_standby(&mut self, now: Millis, p: Peer, out: &mut Vec<Action>) {
        self.standby = Some(p);
        self.standby_at = Some(now + self.hold());
        self.set_vg(now, VgState::Listen, out);
    }

    fn request_forwarder(&mut self, avg: IpAddr, out: &mut Vec<Action>) {
        let msg = self.message(None, vec![FORWARDER_REQUEST]);
        self.counters.requests_out += 1;
        let src = self.eth_src();
        self.send(Dest::Unicast(avg), src, msg, out);
    }

    fn on_tlv(
        &mut self,
        now: Millis,
        p: Peer,
        t: &ReqRespRepr,
        in_hello: bool,
        out: &mut Vec<Action>,
    ) {
        if t.forwarder == 0 {
            if t.state == VfState::Unspecified && self.vg == VgState::Active {
                self.on_request(now, p, out);
            } else {
                self.counters.malformed += 1;
            }
            return;
        }
        if t.forwarder > MAX_FORWARDERS {
            self.counters.malformed += 1;
            return;
        }
        let idx = usize::from(t.forwarder - 1);
        if t.priority == VF_PRIORITY_RESIGN {
            self.on_release(now, p, idx, in_hello, out);
            return;
        }
        match t.state {
            VfState::Unspecified => {
                // A response to our request, from the AVG.
                if self.active.is_some_and(|a| a.ip == p.ip) && !self.has_primary() {
                    self.counters.responses_in += 1;
                    self.become_primary(now, t.forwarder);
                }
            }
            VfState::Active | VfState::Listen => {
                if self.fwds[idx].is_none() && t.priority != VF_PRIORITY_PRIMARY && t.timeout_s == 0
                {
                    return; // About to be deleted everywhere: do not re-learn it.
                }
                let active = t.state == VfState::Active;
                let (group, hold) = (self.cfg.id, self.hold());
                let (redirect, timeout) = (ms(self.t.redirect_s), ms(self.t.timeout_s));
                let f = self.fwds[idx].get_or_insert_with(|| Forwarder::new(group, t.forwarder));
                if t.priority == VF_PRIORITY_PRIMARY {
                    // Its owner advertises it as its own again: back above
                    // the upper threshold.
                    f.owner_low = false;
                    if f.primary {
                        // Two owners (e.g. two AVGs during a partition): the
                        // lower IP gives its claim up and asks again.
                        if p.ip < self.ip {
                            return;
                        }
                        f.primary = false;
                    }
                    f.owner = Some((p.mac, p.ip));
                    f.redirect_at = Some(now + redirect);
                    f.timeout_at = Some(now + timeout);
                } else if !f.primary && f.timeout_at.is_none() {
                    // Learnt from a secondary: adopt its remaining seconds.
                    // Later adverts do not shorten our own countdown: theirs
                    // may come from an older view (e.g. across a partition).
                    f.redirect_at = Some(now + ms(t.redirect_s).min(redirect));
                    f.timeout_at = Some(now + ms(t.timeout_s).min(timeout));
                }
                if !active {
                    let orphan =
                        t.priority == VF_PRIORITY_SECONDARY && f.holder.is_none() && !f.active;
                    if orphan || f.holder.is_some_and(|h| h.ip == p.ip) {
                        f.holder = None;
                        f.hold_at = None;
                        self.take_over(now, idx, out);
                    } else if f.holder.is_none() && !f.active && !f.primary {
                        // Dormant (owner in its Listen wait, or nobody could
                        // take it): watch it a hello longer than the owner's
                        // own wait, so a live owner always goes first.
                        f.hold_at = Some(now + hold + Millis::from(self.t.hello_ms));
                    }
                    return;
                }
                let theirs = (t.priority, p.ip);
                if f.active && theirs < (f.vf_priority(), self.ip) {
                    // Collision: they back off. Their claim was sourced
                    // from the VMAC too and may have been the last one a
                    // switch saw: announce again so it learns our port.
                    self.announce(now, idx, out);
                    return;
                }
                if f.active {
                    self.set_active(idx, false, out);
                }
                let Some(f) = self.fwds[idx].as_mut() else {
                    return;
                };
                let redirect_at = (t.priority < VF_PRIORITY_PRIMARY)
                    .then(|| now + ms(t.redirect_s).min(redirect));
                f.holder = Some(Holder {
                    ip: p.ip,
                    weight: t.weight,
                    redirect_at,
                });
                f.hold_at = Some(now + hold);
                if f.primary && t.priority < VF_PRIORITY_PRIMARY && f.preempt_at.is_none() {
                    if self.cfg.forwarder_preempt && !self.low {
                        f.preempt_at = Some(now + self.cfg.forwarder_preempt_delay_ms);
                    }
                } else if t.priority >= VF_PRIORITY_PRIMARY {
                    f.preempt_at = None;
                }
            }
            _ => self.counters.malformed += 1,
        }
    }

    /// VF priority 160: the sender stops forwarding (resign, weight below the
    /// lower threshold). Sent in a hello it is also the owner's periodic
    /// advert of a forwarder it owns but cannot forward, which keeps its
    /// redirect/timeout running like a 167 advert. Nobody else active for it:
    /// take over at once (collisions resolve as usual).
    fn on_release(
        &mut self,
        now: Millis,
        p: Peer,
        idx: usize,
        in_hello: bool,
        out: &mut Vec<Action>,
    ) {
        if self.fwds[idx].is_none() && !in_hello {
            return;
        }
        let (redirect, timeout) = (ms(self.t.redirect_s), ms(self.t.timeout_s));
        let group = self.cfg.id;
        let f = self.fwds[idx].get_or_insert_with(|| Forwarder::new(group, idx as u8 + 1));
        let from_owner = f.owner.map_or(true, |(m, _)| m == p.mac);
        if in_hello && from_owner && !f.primary {
            f.owner = Some((p.mac, p.ip));
            f.redirect_at = Some(now + redirect);
            f.timeout_at = Some(now + timeout);
            // 160 in a periodic hello: alive, but below its lower threshold.
            f.owner_low = true;
        }
        if !f.active && f.holder.map_or(true, |h| h.ip == p.ip) {
            f.holder = None;
            f.hold_at = None;
            self.take_over(now, idx, out);
        }
    }

    /// The forwarder `owner` had (IOS gives returning members their number
    /// back), else the lowest free number; numbers follow arrival order.
    fn number_for(&self, owner: MacAddr) -> Option<u8> {
        let old = self
            .fwds
            .iter()
            .flatten()
            .find(|f| f.owner.is_some_and(|(m, _)| m == owner));
        old.map(|f| f.number)
            .or_else(|| (1..=MAX_FORWARDERS).find(|n| self.fwds[usize::from(n - 1)].is_none()))
    }

    /// AVG: assign the requester its old forwarder or the lowest free number.
    fn on_request(&mut self, now: Millis, p: Peer, out: &mut Vec<Action>) {
        self.counters.requests_in += 1;
        let Some(n) = self.number_for(p.mac) else {
            return;
        };
        let (redirect, timeout) = (ms(self.t.redirect_s), ms(self.t.timeout_s));
        let group = self.cfg.id;
        let f = self.fwds[usize::from(n - 1)].get_or_insert_with(|| Forwarder::new(group, n));
        if f.primary {
            return; // Ours; never hand it away.
        }
        f.owner = Some((p.mac, p.ip));
        f.redirect_at = Some(now + redirect);
        f.timeout_at = Some(now + timeout);
        if f.holder.is_none() && !f.active {
            // Dormant watch, as for a learnt forwarder (see `on_tlv`).
            f.hold_at = Some(now + Millis::from(self.t.hold_ms) + Millis::from(self.t.hello_ms));
        }
        let tlv = ReqRespRepr {
            forwarder: n,
            state: VfState::Unspecified,
            priority: VF_PRIORITY_PRIMARY,
            weight: 0,
            timeout_s: self.t.timeout_s,
            redirect_s: self.t.redirect_s,
            vmac: f.vmac,
        };
        let msg = self.message(None, vec![tlv]);
        self.counters.responses_out += 1;
        let src = self.eth_src();
        self.send(Dest::Unicast(p.ip), src, msg, out);
    }

    // ----- ARP -----------------------------------------------------------

    /// Forwarders the AVG may hand out now: active somewhere and not past
    /// redirect, as (number, VMAC, weight of the current holder), by number.
    fn eligible(&self, now: Millis) -> Vec<(u8, MacAddr, u8)> {
        let my_weight = self.weight();
        self.fwds
            .iter()
            .flatten()
            .filter(|f| f.redirect_at.map_or(true, |r| r > now))
            // Not one whose owner is below its lower weight threshold (our
            // own, or a peer's that says so with priority 160).
            .filter(|f| !(f.owner_low || f.primary && self.low))
            .filter_map(|f| match (f.active, f.holder) {
                (true, _) => Some((f.number, f.vmac, my_weight)),
                // A secondary whose own countdown says redirect is over (e.g.
                // the number was just reassigned here) is not handed out.
                (false, Some(h)) if h.redirect_at.map_or(true, |r| r > now) => {
                    Some((f.number, f.vmac, h.weight))
                }
                (false, _) => None,
            })
            .collect()
    }

    /// Whether we answer a host's unicast re-validation for forwarder `f`
    /// (docs/protocol.md §10.4): we forward it and it is still eligible
    /// for new hosts (we own it, or within redirect after its owner died).
    fn revalidates(f: &Forwarder, now: Millis) -> bool {
        f.active && f.redirect_at.map_or(true, |r| r > now)
    }

    /// The VMACs we forward whose unicast re-validations we answer (with
    /// that same VMAC, AVG or not), as (number, VMAC). Past redirect a
    /// holder stays silent: the host's probes fail while its traffic still
    /// flows, it broadcasts and moves to a live forwarder before the
    /// timeout deletes this one.
    pub fn revalidating(&self, now: Millis) -> impl Iterator<Item = (u8, MacAddr)> + '_ {
        self.fwds
            .iter()
            .flatten()
            .filter(move |f| Self::revalidates(f, now))
            .map(|f| (f.number, f.vmac))
    }

    /// What a dataplane answering ARP for the VIP needs, when this member is
    /// the AVG: the VIP and the balancing table (eligible forwarders,
    /// method, client cache). `None` when not AVG (stay silent).
    pub fn balancing(&self, now: Millis) -> Option<Balancing> {
        let vip = self.vip.filter(|_| self.vg == VgState::Active)?;
        Some(Balancing {
            vip,
            balance: Balance::new(
                self.cfg.load_balancing,
                &self.eligible(now),
                self.clients.clone(),
            ),
        })
    }

    /// The client cache's live entries (empty when the cache is off).
    pub fn clients(&self, now: Millis) -> Vec<ClientEntry> {
        self.clients
            .as_ref()
            .map_or_else(Vec::new, |c| c.entries(now))
    }

    /// The client cache table itself, for a dataplane that answers ARP.
    pub fn client_table(&self) -> Option<&Arc<ClientTable>> {
        self.clients.as_ref()
    }

    fn on_arp(
        &mut self,
        now: Millis,
        host_ip: IpAddr,
        host_mac: MacAddr,
        dst: MacAddr,
        out: &mut Vec<Action>,
    ) {
        let Some(vip) = self.vip else {
            self.counters.arp_ignored += 1;
            return;
        };
        if !dst.is_broadcast() && dst != self.mac {
            // A unicast re-validation of the entry a host holds.
            let hit = self
                .fwds
                .iter_mut()
                .flatten()
                .find(|f| f.vmac == dst && Self::revalidates(f, now));
            match hit {
                Some(f) => {
                    self.counters.arp_replies += 1;
                    out.push(Action::ArpReply {
                        host_ip,
                        host_mac,
                        vip,
                        vmac: f.vmac,
                    });
                }
                None => self.counters.arp_ignored += 1,
            }
            return;
        }
        let Some(b) = self.balancing(now) else {
            self.counters.arp_ignored += 1;
            return;
        };
        let b = b.balance;
        let pick = b
            .pick(host_mac, &mut self.turn, now)
            .map(|i| b.forwarders[i].0);
        let Some(f) = pick.and_then(|n| self.fwds[usize::from(n - 1)].as_mut()) else {
            self.counters.arp_ignored += 1;
            return;
        };
        f.clients += 1;
        self.counters.arp_replies += 1;
        out.push(Action::ArpReply {
            host_ip,
            host_mac,
            vip,
            vmac: f.vmac,
        });
    }

    // ----- show ----------------------------------------------------------

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
