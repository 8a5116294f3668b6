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
//! - Orphaned numbers: when all four numbers exist but one's owner is no
//!   member (it died, resigned or aged out), a member that owns no
//!   forwarder asks the AVG and gets that number (the AVG takes it itself
//!   when it owns none); it takes the VMAC over from the secondary after
//!   the forwarder preemption delay. Otherwise a live member would forward
//!   nothing until the dead owners' timeouts, and the AVG could be left
//!   holding only forwarders past redirect: nothing to hand out.
//! - ARP: a forwarder is handed out while it is active somewhere and within
//!   redirect both in our countdown and in the one its secondary holder
//!   advertises.
//!
//! Layout: this file holds the [`Group`] and the state it is made of,
//! construction, event dispatch, admin/config and the message helpers;
//! `vg.rs` the gateway election, `vf.rs` the forwarders and weighting,
//! `arp.rs` the answers for the virtual IP, `auth.rs` authentication and
//! nonces, `status.rs` the read-only views.

mod arp;
mod auth;
mod status;
mod vf;
mod vg;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

use super::config::{GroupConfig, MAX_HOLD_MS};
use super::lb::ClientTable;
use super::rng::SplitMix64;
use super::{vmac, Action, Dest, Event, Millis, MismatchKind, RxMessage};
use crate::wire::glbp::{
    GlbpRepr, HelloRepr, NoncePeer, NonceRepr, ReqRespRepr, VfState, VgState, MAX_FORWARDERS,
    MAX_GROUP, VF_PRIORITY_PRIMARY, VF_PRIORITY_RESIGN, VF_PRIORITY_SECONDARY,
};
use crate::wire::MacAddr;

pub use arp::Balancing;
pub use status::{Counters, ForwarderStatus, GroupStatus, MemberStatus, PeerStatus};

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
            // `Interface::configure` validates; a group built directly from an
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

    // ----- timers ----------------------------------------------------------

    fn on_timer(&mut self, now: Millis, out: &mut Vec<Action>) {
        self.age_members(now);
        self.vg_timers(now, out);
        self.fwd_timers(now, out);
        self.rotate_nonce(now);
        if self.hello_at.is_some_and(|t| t <= now) && self.running() {
            self.send_hello(now, out);
        }
    }

    fn expired(at: Option<Millis>, now: Millis) -> bool {
        at.is_some_and(|t| t <= now)
    }

    // ----- receive -------------------------------------------------------

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
        self.record_nonce(&m.repr);
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
}
