//! The simulated world: routers, hosts, LAN, faults and invariant checks.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use std::net::{IpAddr, Ipv4Addr};

use super::faults::{Fault, Scheduled};
use crate::protocol::rng::SplitMix64;
use crate::protocol::{
    vmac, Action, Dest, GroupConfig, Interface, InterfaceEvent, LoadBalancing, Millis, RxMessage,
    Weighting,
};
use crate::wire::glbp::{VfState, VgState, VF_PRIORITY_PRIMARY, VF_PRIORITY_RESIGN};
use crate::wire::MacAddr;

const GROUP: u16 = 1;
const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 254));
/// Tracked object used by weight faults.
const TRACK: u32 = 1;

/// Where faults come from.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultMode {
    /// No faults.
    None,
    /// Seeded random faults, spaced so each can settle.
    Random,
    /// A script.
    Script(Vec<Scheduled>),
}

/// Parameters of one simulation run.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Number of routers (>= 1).
    pub routers: usize,
    /// Number of hosts.
    pub hosts: usize,
    /// Simulated time, ms.
    pub duration_ms: Millis,
    /// Seed of every random choice.
    pub seed: u64,
    /// Fault source.
    pub faults: FaultMode,
    /// Hello, ms.
    pub hello_ms: u32,
    /// Hold, ms.
    pub hold_ms: u32,
    /// Redirect, s.
    pub redirect_s: u16,
    /// Timeout, s.
    pub timeout_s: u16,
    /// Load-balancing method.
    pub load_balancing: LoadBalancing,
    /// Priority per router (missing: 100).
    pub priorities: Vec<u8>,
    /// Weighting per router (missing: 100).
    pub weights: Vec<u8>,
    /// Hosts' `base_reachable_time`, ms (Linux: 30 s): an entry is
    /// REACHABLE for this × [0.5, 1.5] after a unicast reply, then (traffic
    /// keeps flowing) DELAY, then PROBE with unicast requests to the cached
    /// VMAC, then FAILED and a new broadcast resolution. The longest life
    /// of an entry nobody answers must be below timeout - redirect.
    pub host_base_reachable_ms: Millis,
    /// Hosts' `delay_first_probe_time`, ms (Linux: 5 s).
    pub host_delay_first_probe_ms: Millis,
    /// Hosts' `ucast_solicit`: unicast probes before the entry fails
    /// (Linux: 3).
    pub host_ucast_solicit: u8,
    /// Hosts' `retrans_time`, ms, between probes and between broadcast
    /// requests (Linux: 1 s).
    pub host_retrans_ms: Millis,
    /// Hello jitter, percent.
    pub jitter_pct: u8,
    /// LAN delay is uniform in 1..=max_delay_ms.
    pub max_delay_ms: Millis,
    /// Events kept for violation traces.
    pub trace_len: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            routers: 4,
            hosts: 200,
            duration_ms: 3_600_000,
            seed: 1,
            faults: FaultMode::Random,
            hello_ms: 3000,
            hold_ms: 10_000,
            redirect_s: 600,
            timeout_s: 14_400,
            load_balancing: LoadBalancing::RoundRobin,
            priorities: Vec::new(),
            weights: Vec::new(),
            host_base_reachable_ms: 30_000,
            host_delay_first_probe_ms: 5000,
            host_ucast_solicit: 3,
            host_retrans_ms: 1000,
            jitter_pct: 20,
            max_delay_ms: 2,
            trace_len: 40,
        }
    }
}

impl SimConfig {
    /// Checks that the run can be meaningful; the error says what to change.
    pub fn validate(&self) -> Result<(), String> {
        if self.routers == 0 || self.routers > 250 {
            return Err("--routers: expected 1..=250".into());
        }
        if self.hosts > 60_000 {
            return Err("--hosts: expected at most 60000".into());
        }
        for r in 0..self.routers {
            self.group_config(r)
                .validate()
                .map_err(|e| format!("router {r}: {e} (from --priorities/--weights/timers)"))?;
        }
        let window = (u64::from(self.timeout_s) - u64::from(self.redirect_s)) * 1000;
        if self.host_base_reachable_ms < 2
            || self.host_ucast_solicit == 0
            || self.host_retrans_ms == 0
            || self.host_entry_life() >= window
        {
            return Err(format!(
                "host timers: base reachable × 1.5 + first-probe delay + probes ({} s) must be below timeout - redirect ({} s) so hosts never keep a deleted VMAC",
                self.host_entry_life() / 1000,
                window / 1000
            ));
        }
        if self.max_delay_ms == 0 || self.max_delay_ms * 4 >= u64::from(self.hello_ms) {
            return Err("LAN delay must be at least 1 ms and well below the hello time".into());
        }
        Ok(())
    }

    /// The longest a host uses an entry nobody answers: REACHABLE at most
    /// 1.5 × base, DELAY, then every unicast probe unanswered.
    fn host_entry_life(&self) -> Millis {
        self.host_base_reachable_ms * 3 / 2
            + self.host_delay_first_probe_ms
            + Millis::from(self.host_ucast_solicit) * self.host_retrans_ms
    }

    fn group_config(&self, r: usize) -> GroupConfig {
        let w = self.weights.get(r).copied().unwrap_or(100);
        let mut tracking = BTreeMap::new();
        tracking.insert(TRACK, w);
        GroupConfig {
            id: GROUP,
            vip: Some(VIP),
            priority: self.priorities.get(r).copied().unwrap_or(100),
            hello_ms: self.hello_ms,
            hold_ms: self.hold_ms,
            redirect_s: self.redirect_s,
            timeout_s: self.timeout_s,
            load_balancing: self.load_balancing,
            weighting: Weighting {
                max: w,
                lower: 1,
                upper: w,
            },
            tracking,
            hello_jitter_pct: self.jitter_pct,
            ..GroupConfig::default()
        }
    }
}

/// An invariant violation with the events that led to it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// Simulated time, ms.
    pub at_ms: Millis,
    /// Which invariant: `a-one-avg`, `b-outage`, `b-duplicate`, `c-redirect`,
    /// `d-timeout`, `e-distribution`.
    pub invariant: &'static str,
    /// What exactly.
    pub detail: String,
    /// The last events before it.
    pub trace: Vec<String>,
}

/// Result of one run.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Report {
    /// Seed of the run.
    pub seed: u64,
    /// Invariant violations.
    pub violations: Vec<Violation>,
    /// Longest host outage of any cause, ms.
    pub max_outage_ms: Millis,
    /// Longest host outage per cause (the fault that preceded it), ms.
    pub max_outage_by_cause_ms: BTreeMap<&'static str, Millis>,
    /// Longest outage of each host, ms (index = host).
    pub max_outage_per_host_ms: Vec<Millis>,
    /// Host outages (of any length) observed.
    pub outages: u64,
    /// Times a host held a VMAC that no live router of its partition knew
    /// (after multiple failures and a partition): it waits for its ARP entry
    /// to expire. Not an invariant violation; reported for information.
    pub stranded: u64,
    /// Times a host's gateway (the VMAC in its entry) changed.
    pub gateway_changes: u64,
    /// Gateway changes per host per minute of host traffic.
    pub gateway_changes_per_host_minute: f64,
    /// Unicast re-validations (probes) sent by hosts.
    pub revalidations_sent: u64,
    /// Probe cycles answered with the VMAC probed.
    pub revalidations_answered: u64,
    /// Host entries that failed (every probe unanswered).
    pub entries_failed: u64,
    /// Gratuitous ARPs sent by routers.
    pub garps: u64,
    /// Hosts using forwarder 1..=4 at the end.
    pub hosts_per_forwarder: Vec<usize>,
    /// Hosts per forwarder right after the first ARP round (before faults).
    pub initial_hosts_per_forwarder: Vec<usize>,
    /// Transitions to Active of any router.
    pub avg_changes: u64,
    /// Faults injected, by kind.
    pub faults: BTreeMap<&'static str, u64>,
    /// Events processed.
    pub events: u64,
    /// `show glbp` of every live router at the end.
    #[serde(skip)]
    pub show: Vec<String>,
}

#[derive(Debug)]
enum Ev {
    Timer(usize),
    Glbp {
        from: usize,
        to: usize,
        msg: RxMessage,
    },
    ArpRequest {
        router: usize,
        host: usize,
        /// Broadcast, or the VMAC a host re-validates.
        dst: MacAddr,
    },
    ArpReply {
        host: usize,
        vmac: MacAddr,
    },
    Garp {
        host: usize,
        vmac: MacAddr,
        /// The gratuitous ARP passed check (d) `g-garp`.
        ok: bool,
    },
    HostTimer(usize),
    Fault(Fault),
    NextRandomFault,
    LossEnd,
    StallEnd,
    Check,
    Distribution,
}

struct Queued {
    at: Millis,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Queued {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Queued {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

struct Router {
    port: Interface,
    alive: bool,
    part: u8,
    forwarding: BTreeSet<MacAddr>,
    /// Deadline for which a Timer event is queued.
    timer_at: Option<Millis>,
    low: bool,
    deaf: bool,
    ip: IpAddr,
    mac: MacAddr,
    /// Per forwarder number: when this router last heard (or sent) its
    /// owner's advert (167, or 160 in a hello): within redirect of it the
    /// router may answer re-validations of that VMAC (the sim's own view,
    /// independent of the engine's countdowns).
    heard_primary: [Option<Millis>; 4],
    /// During a stall: the engine as its dataplane last saw it (the
    /// published view), which answers ARP while the control plane sleeps.
    frozen: Option<Interface>,
}

struct Host {
    mac: MacAddr,
    ip: IpAddr,
    part: u8,
    /// The VMAC in its neighbour entry while the entry is usable (REACHABLE,
    /// STALE, DELAY, PROBE); `None` while resolving (no gateway).
    vmac: Option<MacAddr>,
    /// The last VMAC it used, kept across a failed entry: a new one is a
    /// gateway change.
    prev: Option<MacAddr>,
    nud: Nud,
    /// Last update of the entry (Linux ignores a different address in a
    /// reply within `locktime`, 1 s, of it).
    updated: Millis,
    timer_at: Millis,
    /// Start and cause of the current outage (for the report).
    outage: Option<(Millis, &'static str)>,
    /// What (b) measures the current outage from: its start and cause,
    /// or a later fault's (see `reanchor_outages`).
    anchor: (Millis, &'static str),
    stranded: bool,
    replies: BTreeSet<MacAddr>,
    /// Every probe of the current cycle went out while the sim saw a live
    /// router of the host's partition forwarding its VMAC within redirect.
    probes_reachable: bool,
    /// Why the host may take another gateway (set when its entry failed
    /// while its forwarder was unreachable or unknown; cleared by a reply).
    may_move: Option<&'static str>,
    /// It was resolving by broadcast (no entry) at some point of its
    /// current outage.
    resolving_in_outage: bool,
}

/// A host's neighbour entry for the gateway, as Linux keeps it (NUD).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Nud {
    /// Not started: no entry (a gratuitous ARP creates none, `arp_accept`
    /// 0).
    None,
    /// Resolving by broadcast, one request every `retrans_time` (INCOMPLETE;
    /// a FAILED entry starts over at once, since traffic keeps coming): no
    /// gateway meanwhile.
    Incomplete,
    /// Confirmed by a unicast reply, for `base_reachable_time` × [0.5, 1.5].
    Reachable,
    /// Not confirmed (set by a gratuitous ARP, which overrides the address):
    /// still used; the next packet, at once here, makes it DELAY.
    Stale,
    /// Used while not confirmed: first probe after `delay_first_probe_time`
    /// (Linux goes REACHABLE -> DELAY directly when the entry was used
    /// recently, as here).
    Delay,
    /// Unicast probes sent so far to the cached VMAC (`ucast_solicit`,
    /// `retrans_time` apart); the entry is still used.
    Probe(u8),
}

/// Linux `locktime`: a reply with another address within this of the last
/// update is ignored (the first answer wins).
const LOCKTIME_MS: Millis = 1000;

struct World {
    cfg: SimConfig,
    now: Millis,
    seq: u64,
    queue: BinaryHeap<Reverse<Queued>>,
    rng: SplitMix64,
    routers: Vec<Router>,
    hosts: Vec<Host>,
    loss: f64,
    /// Every router stalls until then.
    stalled_until: Millis,
    /// Per router and peer: until when it had that peer (its last valid
    /// hello + hold, or its resign).
    peer_until: Vec<Vec<Millis>>,
    /// Last topology change (fault) and its kind.
    last_fault: (Millis, &'static str),
    /// Violation of (a) already reported in the current stable episode.
    a_reported: bool,
    /// Same for `i-vip-answered` and `j-member-forwards`.
    i_reported: bool,
    j_reported: bool,
    /// Last time a primary (167) advert or an assignment for a VMAC was sent.
    primary_seen: BTreeMap<MacAddr, Millis>,
    /// (partition, vmac) -> since when more than one router forwards it.
    dup_since: BTreeMap<(u8, MacAddr), Millis>,
    /// Since when each router has been below its lower weight threshold.
    low_since: BTreeMap<usize, Millis>,
    hosts_start: Millis,
    reported_outages: BTreeSet<(Millis, &'static str)>,
    trace: VecDeque<String>,
    report: Report,
}

fn router_ip(r: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, (r + 1) as u8))
}

impl World {
    fn new(cfg: SimConfig) -> World {
        let routers = (0..cfg.routers)
            .map(|r| {
                let mac = MacAddr([2, 0, 0, 0, 1, (r + 1) as u8]);
                let ip = router_ip(r);
                Router {
                    port: Interface::new(0, ip, mac, cfg.seed ^ (r as u64) << 32),
                    alive: false,
                    part: 0,
                    forwarding: BTreeSet::new(),
                    timer_at: None,
                    low: false,
                    deaf: false,
                    ip,
                    mac,
                    heard_primary: [None; 4],
                    frozen: None,
                }
            })
            .collect();
        let hosts = (0..cfg.hosts)
            .map(|h| {
                let b = (h as u16).to_be_bytes();
                Host {
                    mac: MacAddr([2, 0x10, 0, 0, b[0], b[1]]),
                    ip: IpAddr::V4(Ipv4Addr::new(10, 1, b[0], b[1])),
                    part: 0,
                    vmac: None,
                    prev: None,
                    nud: Nud::None,
                    updated: 0,
                    timer_at: 0,
                    outage: None,
                    anchor: (0, "none"),
                    stranded: false,
                    replies: BTreeSet::new(),
                    probes_reachable: false,
                    may_move: None,
                    resolving_in_outage: false,
                }
            })
            .collect();
        let settle = 3 * Millis::from(cfg.hold_ms + cfg.hello_ms);
        World {
            rng: SplitMix64::new(cfg.seed),
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            routers,
            peer_until: vec![vec![0; cfg.routers]; cfg.routers],
            hosts,
            loss: 0.0,
            stalled_until: 0,
            last_fault: (0, "start"),
            a_reported: false,
            i_reported: false,
            j_reported: false,
            primary_seen: BTreeMap::new(),
            dup_since: BTreeMap::new(),
            low_since: BTreeMap::new(),
            hosts_start: settle + 1000,
            reported_outages: BTreeSet::new(),
            trace: VecDeque::new(),
            report: Report {
                seed: cfg.seed,
                ..Report::default()
            },
            cfg,
        }
    }

    fn hello(&self) -> Millis {
        Millis::from(self.cfg.hello_ms)
    }
    fn hold(&self) -> Millis {
        Millis::from(self.cfg.hold_ms)
    }
    fn margin(&self) -> Millis {
        2 * self.cfg.max_delay_ms + 1
    }
    /// Time for the group to settle after a fault: hold + hello (+ LAN delays).
    fn settle(&self) -> Millis {
        self.hold() + self.hello() + self.margin()
    }

    fn push(&mut self, at: Millis, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse(Queued {
            at,
            seq: self.seq,
            ev,
        }));
    }

    fn delay(&mut self) -> Millis {
        1 + self.rng.below(self.cfg.max_delay_ms)
    }

    fn log(&mut self, s: String) {
        if self.trace.len() >= self.cfg.trace_len.max(1) {
            self.trace.pop_front();
        }
        let t = self.now;
        self.trace
            .push_back(format!("{}.{:03}s {s}", t / 1000, t % 1000));
    }

    fn violation(&mut self, invariant: &'static str, detail: String) {
        if self.report.violations.len() >= 100 {
            return;
        }
        self.report.violations.push(Violation {
            at_ms: self.now,
            invariant,
            detail,
            trace: self.trace.iter().cloned().collect(),
        });
    }

    // ----- routers ---------------------------------------------------------

    fn boot(&mut self, r: usize) {
        let cfg = self.cfg.group_config(r);
        let rt = &mut self.routers[r];
        rt.port = Interface::new(0, rt.ip, rt.mac, self.rng.next_u64());
        rt.alive = true;
        rt.low = false;
        rt.timer_at = None;
        rt.heard_primary = [None; 4];
        self.peer_until[r] = vec![self.now; self.routers.len()];
        match self.routers[r].port.configure(self.now, cfg) {
            Ok(a) => self.apply(r, a),
            Err(e) => self.violation("config", e.to_string()),
        }
    }

    fn router_event(&mut self, r: usize, ev: InterfaceEvent) {
        if !self.routers[r].alive {
            return;
        }
        let a = self.routers[r].port.handle(self.now, ev);
        self.apply(r, a);
    }

    fn schedule_timer(&mut self, r: usize) {
        let d = self.routers[r]
            .port
            .next_deadline()
            .map(|d| d.max(self.now));
        if self.routers[r].alive && d.is_some() && d != self.routers[r].timer_at {
            self.routers[r].timer_at = d;
            let at = d.unwrap_or(self.now);
            self.push(at, Ev::Timer(r));
        }
    }

    fn apply(&mut self, r: usize, actions: Vec<Action>) {
        let mut fwd_changed = false;
        for a in actions {
            match a {
                Action::Send { dst, msg, eth_src } => {
                    for t in &msg.forwarders {
                        // Owner adverts: 167, or 160 in a hello (owner below its
                        // lower weight threshold); 160 alone is a release.
                        let owner = t.priority == VF_PRIORITY_PRIMARY
                            || t.priority == VF_PRIORITY_RESIGN && msg.hello.is_some();
                        if owner && (1..=4).contains(&t.forwarder) {
                            self.primary_seen.insert(vmac(GROUP, t.forwarder), self.now);
                            if t.state != VfState::Unspecified {
                                // Its own advert (not an assignment).
                                let n = usize::from(t.forwarder - 1);
                                self.routers[r].heard_primary[n] = Some(self.now);
                            }
                        }
                    }
                    let from = self.routers[r].ip;
                    let targets: Vec<usize> = (0..self.routers.len())
                        .filter(|&to| to != r && self.routers[to].part == self.routers[r].part)
                        .filter(|&to| match dst {
                            Dest::Multicast => true,
                            Dest::Unicast(ip) => self.routers[to].ip == ip,
                        })
                        .collect();
                    for to in targets {
                        if self.loss > 0.0 && self.rng.chance(self.loss) {
                            continue;
                        }
                        let d = self.delay();
                        let m = RxMessage {
                            src_ip: from,
                            src_mac: eth_src,
                            port: 0,
                            auth_ok: true,
                            repr: msg.clone(),
                        };
                        self.push(
                            self.now + d,
                            Ev::Glbp {
                                from: r,
                                to,
                                msg: m,
                            },
                        );
                    }
                }
                Action::StartForwarding { vmac } => {
                    self.routers[r].forwarding.insert(vmac);
                    self.log(format!("R{r} starts forwarding {vmac}"));
                    fwd_changed = true;
                }
                Action::StopForwarding { vmac } => {
                    self.routers[r].forwarding.remove(&vmac);
                    self.log(format!("R{r} stops forwarding {vmac}"));
                    fwd_changed = true;
                }
                Action::ArpReply { host_mac, vmac, .. } => {
                    self.check_redirect(r, vmac);
                    if let Some(h) = self.hosts.iter().position(|h| h.mac == host_mac) {
                        let d = self.delay();
                        self.push(self.now + d, Ev::ArpReply { host: h, vmac });
                    }
                }
                Action::GratuitousArp { vmac, .. } => {
                    self.log(format!("R{r} gratuitous ARP {vmac}"));
                    self.report.garps += 1;
                    let ok = self.check_garp(r, vmac);
                    let part = self.routers[r].part;
                    for h in 0..self.hosts.len() {
                        if self.hosts[h].part == part {
                            let d = self.delay();
                            self.push(self.now + d, Ev::Garp { host: h, vmac, ok });
                        }
                    }
                }
                a @ (Action::VgStateChange { .. } | Action::VfStateChange { .. }) => {
                    if matches!(
                        a,
                        Action::VgStateChange {
                            new: VgState::Active,
                            ..
                        }
                    ) {
                        self.report.avg_changes += 1;
                    }
                    if matches!(
                        a,
                        Action::VfStateChange {
                            new: VfState::Disabled,
                            ..
                        }
                    ) {
                        // A deleted forwarder may strand hosts.
                        fwd_changed = true;
                    }
                    let line = a.log_line("lan0").unwrap_or_default();
                    self.log(format!("R{r} {line}"));
                }
                Action::Mismatch { peer, kind, .. } => {
                    self.log(format!("R{r} mismatch {kind:?} with {peer}"))
                }
            }
        }
        if let Some(g) = self.routers[r].port.group(GROUP) {
            self.routers[r].low = g.status(self.now).weight_low;
        }
        self.schedule_timer(r);
        if fwd_changed {
            self.coverage_changed();
        }
    }

    /// ARP during a stall: the dataplane answers from the view the control
    /// plane published last (the engine as it was when the stall began);
    /// nothing else changes.
    fn stalled_arp(&mut self, router: usize, host: usize, dst: MacAddr) {
        if self.routers[router].part != self.hosts[host].part {
            return;
        }
        let (host_ip, host_mac) = (self.hosts[host].ip, self.hosts[host].mac);
        let now = self.now;
        let Some(frozen) = self.routers[router].frozen.as_mut() else {
            return;
        };
        let out = frozen.handle(
            now,
            InterfaceEvent::Arp {
                target: VIP,
                host_ip,
                host_mac,
                dst,
            },
        );
        for a in out {
            if let Action::ArpReply { vmac, .. } = a {
                self.check_redirect(router, vmac);
                let d = self.delay();
                self.push(self.now + d, Ev::ArpReply { host, vmac });
            }
        }
    }

    // ----- invariants ------------------------------------------------------

    /// When the group is expected settled after the last fault: the
    /// fault's outage bound (restart: two), at least hold + hello.
    fn settled_at(&self) -> Millis {
        let (t, kind) = self.last_fault;
        t + self.bound(kind).unwrap_or(0).max(self.settle()) + self.margin()
    }

    /// How long after the group settled every live member must forward a
    /// VMAC (j): a hello for its request to reach the AVG, then the
    /// forwarder preemption delay (a secondary holds the number it gets)
    /// or a hold (its Listen wait for an unheld one).
    fn forwarders_deadline(&self) -> Millis {
        let preempt = self.cfg.group_config(0).forwarder_preempt_delay_ms;
        self.hello() + preempt.max(self.hold()) + self.margin()
    }

    /// (c): no ARP reply hands out a VMAC whose redirect has expired.
    fn check_redirect(&mut self, r: usize, v: MacAddr) {
        let last = self.primary_seen.get(&v).copied().unwrap_or(0);
        let limit = last + Millis::from(self.cfg.redirect_s) * 1000 + self.margin();
        if self.now > limit {
            self.violation(
                "c-redirect",
                format!(
                    "R{r} handed out {v}, redirect expired {} ms ago",
                    self.now - limit
                ),
            );
        }
    }

    /// (g): a gratuitous ARP only from the AVG, for a VMAC it forwards,
    /// alone (no valid hello from anyone) for a full hold after its last
    /// peer aged out or resigned.
    fn check_garp(&mut self, r: usize, v: MacAddr) -> bool {
        let avg = self.routers[r]
            .port
            .group(GROUP)
            .is_some_and(|g| g.state() == VgState::Active && g.forwarding().any(|x| x == v));
        let last_peer = self.peer_until[r].iter().copied().max().unwrap_or(0);
        let alone_for = self.now.saturating_sub(last_peer);
        let ok = avg && alone_for + self.margin() >= self.hold();
        if !ok {
            let snap = self.snapshot();
            self.violation(
                "g-garp",
                format!("R{r} announced {v} alone for {alone_for} ms (AVG forwarding it: {avg}): {snap}"),
            );
        }
        ok
    }

    /// One line per router: liveness, partition, VG state, forwarders known.
    fn snapshot(&self) -> String {
        let mut s = String::new();
        for (i, r) in self.routers.iter().enumerate() {
            if !r.alive {
                s += &format!("[R{i} down] ");
                continue;
            }
            let Some(g) = r.port.group(GROUP) else {
                continue;
            };
            let st = g.status(self.now);
            let fw: Vec<String> = st
                .forwarders
                .iter()
                .map(|f| {
                    let who = f.active_router.map_or("-".to_string(), |ip| ip.to_string());
                    // Owner: R<index>, or "?" when unknown.
                    let owner = f
                        .owner
                        .map_or("?".to_string(), |m| format!("R{}", m.0[5].wrapping_sub(1)));
                    format!(
                        "{}{}:{:?}@{who}/{owner}",
                        f.number,
                        if f.primary { "*" } else { "" },
                        f.state
                    )
                })
                .collect();
            s += &format!(
                "[R{i} p{} {:?}{} {}] ",
                r.part,
                st.state,
                if st.weight_low { " low" } else { "" },
                fw.join(",")
            );
        }
        s
    }

    fn servable(&self, part: u8) -> bool {
        self.routers
            .iter()
            .any(|r| r.alive && r.part == part && !r.low)
    }

    /// Some live router of the partition that could forward `v` knows it.
    fn known(&self, part: u8, v: MacAddr) -> bool {
        self.routers
            .iter()
            .filter(|r| r.alive && !r.low && r.part == part)
            .any(|r| {
                r.port
                    .group(GROUP)
                    .is_some_and(|g| g.status(self.now).forwarders.iter().any(|f| f.vmac == v))
            })
    }

    fn forwarded(&self, part: u8, v: MacAddr) -> usize {
        self.routers
            .iter()
            .filter(|r| r.alive && r.part == part && r.forwarding.contains(&v))
            .count()
    }

    /// The fault an outage starting now is attributed to.
    fn cause(&self) -> &'static str {
        let (t, kind) = self.last_fault;
        let window = self.bound(kind).unwrap_or(0).max(self.settle());
        if self.loss > 0.0 || kind == "loss" && self.now <= t + self.settle() {
            "loss"
        } else if self.now <= t + window {
            kind
        } else {
            "none"
        }
    }

    fn bound(&self, cause: &'static str) -> Option<Millis> {
        match cause {
            "loss" | "start" => None,
            "stop" | "weight" => Some(self.hello() + self.margin()),
            "none" => Some(self.margin()),
            // A fresh router may be alone in its segment: Listen, Speak, then
            // one hold in Listen for its forwarder.
            "restart" => Some(2 * self.settle()),
            _ => Some(self.settle()),
        }
    }

    fn update_host(&mut self, h: usize) {
        if self.now < self.hosts_start {
            return;
        }
        let host = &self.hosts[h];
        // A host still waiting for its very first reply is starting, not out.
        let starting = host.vmac.is_none() && host.replies.is_empty();
        let covered = host.vmac.is_some_and(|v| self.forwarded(host.part, v) > 0);
        // A VMAC no live router of the partition that could forward it knows
        // any more (everyone who knew it died, sat on the other side of a
        // partition, or dropped it on a countdown from an older view) is
        // gone: the host is stranded until it re-ARPs. Counted apart, not an
        // invariant breach.
        let servable = self.servable(host.part);
        // Sticky until covered or re-learnt: a number reused for a new
        // forwarder does not make the old VMAC the host holds known again.
        let stranded = servable
            && !covered
            && (host.stranded || host.vmac.is_some_and(|v| !self.known(host.part, v)));
        if stranded && !self.hosts[h].stranded {
            self.report.stranded += 1;
        }
        self.hosts[h].stranded = stranded;
        let host = &self.hosts[h];
        let ok = starting || stranded || covered || !servable;
        match (ok, host.outage) {
            (false, None) => {
                let c = self.cause();
                let resolving = host.vmac.is_none();
                self.hosts[h].outage = Some((self.now, c));
                self.hosts[h].anchor = (self.now, c);
                self.hosts[h].resolving_in_outage = resolving;
            }
            (true, Some((start, cause))) => {
                self.hosts[h].outage = None;
                self.end_outage(h, start, cause);
                self.hosts[h].resolving_in_outage = false;
            }
            _ => {}
        }
    }

    fn end_outage(&mut self, h: usize, start: Millis, cause: &'static str) {
        let len = self.now - start;
        self.report.outages += 1;
        let per_host = &mut self.report.max_outage_per_host_ms;
        if per_host.len() < self.hosts.len() {
            per_host.resize(self.hosts.len(), 0);
        }
        per_host[h] = per_host[h].max(len);
        self.report.max_outage_ms = self.report.max_outage_ms.max(len);
        let m = self.report.max_outage_by_cause_ms.entry(cause).or_insert(0);
        *m = (*m).max(len);
        // A host that had no entry during a fault's outage (it failed, or
        // it was resolving when the fault made its partition servable)
        // learns a gateway only from its next broadcast request
        // (retrans_time apart) once an AVG can answer: the host's own
        // wait, added to the fault's bound. Without a fault the AVG
        // answers the first one.
        let (start, cause) = self.hosts[h].anchor;
        self.check_outage(h, start, cause);
    }

    /// (b): the outage of host `h` since `start`, attributed to `cause`,
    /// within that cause's bound so far.
    fn check_outage(&mut self, h: usize, start: Millis, cause: &'static str) {
        let len = self.now - start;
        let host_wait = if self.hosts[h].resolving_in_outage && cause != "none" {
            self.cfg.host_retrans_ms
        } else {
            0
        };
        if let Some(b) = self.bound(cause).map(|b| b + host_wait) {
            // One report per outage episode (all hosts hit by the same event).
            if len > b && self.reported_outages.insert((start, cause)) {
                let v = self.hosts[h]
                    .vmac
                    .map_or("none".to_string(), |v| v.to_string());
                let snap = self.snapshot();
                self.violation(
                    "b-outage",
                    format!("host {h} (VMAC {v}) without gateway for {len} ms after {cause} (bound {b} ms); now: {snap}"),
                );
            }
        }
    }

    /// A fault (or a stall's end) while hosts are out: each outage so far
    /// is checked against its cause's bound, then (b) measures it afresh
    /// from now with this fault as its cause (the report keeps its start
    /// and first cause). The fault can lengthen it (e.g. a
    /// host's entry failed just before the router it then resolves to
    /// crashes), and every bound is a recovery time after the last fault
    /// (like `settled_at`): without this, an outage that began 1 ms
    /// before a crash was held to the 5 ms bound of "none" for the
    /// crash's whole recovery. An outage keeps its cause when that one's
    /// deadline is the later (a stop during a crash's recovery does not
    /// shorten it), and loss never takes over (its outages are not
    /// bounded: re-anchoring would unbound them).
    fn reanchor_outages(&mut self, kind: &'static str) {
        let Some(new) = self.bound(kind) else {
            return;
        };
        for h in 0..self.hosts.len() {
            if self.hosts[h].outage.is_none() {
                continue;
            }
            let (start, cause) = self.hosts[h].anchor;
            let later = self
                .bound(cause)
                .is_some_and(|old| self.now + new > start + old);
            if later {
                self.check_outage(h, start, cause);
                self.hosts[h].anchor = (self.now, kind);
            }
        }
    }

    fn coverage_changed(&mut self) {
        for h in 0..self.hosts.len() {
            self.update_host(h);
        }
    }

    fn periodic_check(&mut self) {
        let stable =
            self.loss == 0.0 && self.now >= self.last_fault.0 + self.settle() + self.margin();
        let parts: BTreeSet<u8> = self
            .routers
            .iter()
            .filter(|r| r.alive)
            .map(|r| r.part)
            .collect();
        // (a) exactly one AVG per partition.
        if stable && !self.a_reported && self.now >= self.hosts_start {
            for p in &parts {
                let avgs: Vec<usize> = (0..self.routers.len())
                    .filter(|&r| self.routers[r].alive && self.routers[r].part == *p)
                    .filter(|&r| {
                        self.routers[r]
                            .port
                            .group(GROUP)
                            .is_some_and(|g| g.state() == VgState::Active)
                    })
                    .collect();
                if avgs.len() != 1 {
                    self.a_reported = true;
                    self.violation("a-one-avg", format!("partition {p} has AVGs {avgs:?}"));
                }
            }
        }
        // (b) no VMAC forwarded twice for longer than a hello once settled;
        // (d) nobody forwards a VMAC after its timeout.
        let timeout = Millis::from(self.cfg.timeout_s) * 1000;
        let mut dups = BTreeSet::new();
        for r in 0..self.routers.len() {
            if !self.routers[r].alive {
                continue;
            }
            let part = self.routers[r].part;
            for v in self.routers[r].forwarding.clone() {
                if self.forwarded(part, v) > 1 {
                    dups.insert((part, v));
                }
                let last = self.primary_seen.get(&v).copied().unwrap_or(0);
                if self.now > last + timeout + self.margin() + self.hello() {
                    self.violation(
                        "d-timeout",
                        format!(
                            "R{r} forwards {v} {} ms after its timeout",
                            self.now - last - timeout
                        ),
                    );
                }
            }
        }
        // (f) a router below its lower weight threshold forwards no VMAC,
        // once it has had a hold time to hand them over.
        for r in 0..self.routers.len() {
            let low = self.routers[r].alive
                && self.routers[r]
                    .port
                    .group(GROUP)
                    .is_some_and(|g| g.weight_low());
            if !low {
                self.low_since.remove(&r);
                continue;
            }
            let since = *self.low_since.entry(r).or_insert(self.now);
            let held = self.routers[r].forwarding.clone();
            if !held.is_empty() && self.now > since + self.hold() + self.margin() {
                self.violation(
                    "f-low-weight",
                    format!(
                        "R{r} is below its lower weight threshold since {since} ms and still forwards {held:?}"
                    ),
                );
            }
        }
        self.check_vip_and_members(&parts);
        self.dup_since.retain(|k, _| dups.contains(k));
        for k in dups {
            let since = *self.dup_since.entry(k).or_insert(self.now);
            if stable && self.now > since + self.hello() + self.margin() {
                self.dup_since.insert(k, self.now);
                self.violation(
                    "b-duplicate",
                    format!(
                        "{} forwarded by several routers of partition {} since {since} ms",
                        k.1, k.0
                    ),
                );
            }
        }
    }

    /// (i) and (j), once the group has settled after the last fault (no
    /// loss, no stall): in every partition with a live router that can
    /// forward, the AVG answers the virtual IP, only with VMACs a live
    /// router of the partition forwards; and, once the forwarder deadline
    /// passed too, with four members or fewer there, each that can
    /// forward forwards at least one VMAC.
    fn check_vip_and_members(&mut self, parts: &BTreeSet<u8>) {
        let settled = self.settled_at();
        if self.loss > 0.0
            || self.now < self.stalled_until
            || self.now < settled
            || self.now < self.hosts_start
        {
            return;
        }
        for &p in parts {
            if !self.servable(p) {
                continue;
            }
            if !self.i_reported {
                let answers: Vec<Vec<MacAddr>> = self
                    .routers
                    .iter()
                    .filter(|r| r.alive && r.part == p)
                    .filter_map(|r| r.port.group(GROUP)?.balancing(self.now))
                    .map(|b| b.balance.forwarders.iter().map(|f| f.1).collect())
                    .collect();
                let ok = answers.iter().any(|vs: &Vec<MacAddr>| {
                    !vs.is_empty() && vs.iter().all(|v| self.forwarded(p, *v) > 0)
                });
                if !ok {
                    self.i_reported = true;
                    let snap = self.snapshot();
                    self.violation(
                        "i-vip-answered",
                        format!("partition {p}: the virtual IP is answered with {answers:?} (no AVG, nothing, or a VMAC no live router forwards) since {} ms: {snap}", settled),
                    );
                }
            }
            let members: Vec<usize> = (0..self.routers.len())
                .filter(|&r| self.routers[r].alive && self.routers[r].part == p)
                .collect();
            if self.j_reported
                || members.len() > 4
                || self.now < settled + self.forwarders_deadline()
            {
                continue;
            }
            let idle: Vec<usize> = members
                .into_iter()
                .filter(|&r| !self.routers[r].low && self.routers[r].forwarding.is_empty())
                .collect();
            if !idle.is_empty() {
                self.j_reported = true;
                let snap = self.snapshot();
                self.violation(
                    "j-member-forwards",
                    format!("partition {p}: members {idle:?} forward nothing: {snap}"),
                );
            }
        }
    }

    fn distribution(&mut self) {
        let counts = self.hosts_per_forwarder();
        self.report.initial_hosts_per_forwarder = counts.clone();
        if self.last_fault.1 != "start" || self.cfg.hosts == 0 {
            return; // Faults disturbed the first round.
        }
        let live: Vec<(usize, usize)> = counts
            .iter()
            .enumerate()
            .filter(|(n, _)| self.is_forwarded(*n as u8 + 1))
            .map(|(n, c)| (n, *c))
            .collect();
        let unassigned = self.hosts.iter().filter(|h| h.vmac.is_none()).count();
        if unassigned > 0 {
            self.violation(
                "e-distribution",
                format!("{unassigned} hosts got no ARP reply in the first round"),
            );
        }
        match self.cfg.load_balancing {
            LoadBalancing::RoundRobin => {
                let (min, max) = (
                    live.iter().map(|x| x.1).min(),
                    live.iter().map(|x| x.1).max(),
                );
                if let (Some(min), Some(max)) = (min, max) {
                    if max - min > 1 {
                        self.violation(
                            "e-distribution",
                            format!("round-robin spread {min}..{max}: {counts:?}"),
                        );
                    }
                }
            }
            LoadBalancing::Weighted if self.cfg.hosts >= 1000 => {
                let w: Vec<(usize, f64)> = live
                    .iter()
                    .map(|&(n, c)| (c, f64::from(self.holder_weight(n as u8 + 1))))
                    .collect();
                let total_w: f64 = w.iter().map(|x| x.1).sum();
                let total_h: f64 = w.iter().map(|x| x.0 as f64).sum();
                for (c, wt) in w {
                    let want = wt / total_w * total_h;
                    if (c as f64 - want).abs() > 0.05 * want.max(1.0) {
                        self.violation(
                            "e-distribution",
                            format!("weighted: {c} hosts where {want:.0} expected: {counts:?}"),
                        );
                    }
                }
            }
            _ => {}
        }
    }

    fn is_forwarded(&self, n: u8) -> bool {
        let v = vmac(GROUP, n);
        self.routers
            .iter()
            .any(|r| r.alive && r.forwarding.contains(&v))
    }

    fn holder_weight(&self, n: u8) -> u8 {
        let v = vmac(GROUP, n);
        let r = self
            .routers
            .iter()
            .position(|r| r.alive && r.forwarding.contains(&v));
        r.map_or(0, |r| self.cfg.weights.get(r).copied().unwrap_or(100))
    }

    fn hosts_per_forwarder(&self) -> Vec<usize> {
        let mut c = vec![0; 4];
        for h in &self.hosts {
            if let Some(v) = h.vmac {
                let n = usize::from(v.0[5]);
                if (1..=4).contains(&n) {
                    c[n - 1] += 1;
                }
            }
        }
        c
    }

    // ----- hosts -------------------------------------------------------------

    fn host_timer_in(&mut self, h: usize, d: Millis) {
        let at = self.now + d;
        self.hosts[h].timer_at = at;
        self.push(at, Ev::HostTimer(h));
    }

    /// The host's timer: the next step of its neighbour entry (Linux NUD).
    fn host_timer(&mut self, h: usize) {
        match self.hosts[h].nud {
            Nud::None | Nud::Incomplete => self.host_resolve(h),
            Nud::Reachable | Nud::Stale => {
                // Traffic keeps flowing: the entry is used unconfirmed.
                self.hosts[h].nud = Nud::Delay;
                self.host_timer_in(h, self.cfg.host_delay_first_probe_ms);
            }
            Nud::Delay => self.host_probe(h, 1),
            Nud::Probe(k) if k < self.cfg.host_ucast_solicit => self.host_probe(h, k + 1),
            Nud::Probe(_) => self.host_entry_failed(h),
        }
    }

    /// Broadcast ARP request for the VIP, again every `retrans_time` until
    /// a reply comes.
    fn host_resolve(&mut self, h: usize) {
        let part = self.hosts[h].part;
        self.hosts[h].nud = Nud::Incomplete;
        for r in 0..self.routers.len() {
            if self.routers[r].alive && self.routers[r].part == part {
                let d = self.delay();
                let dst = MacAddr::BROADCAST;
                self.push(
                    self.now + d,
                    Ev::ArpRequest {
                        router: r,
                        host: h,
                        dst,
                    },
                );
            }
        }
        self.host_timer_in(h, self.cfg.host_retrans_ms);
    }

    /// Whether the host's probe for `v` can be answered by the protocol's
    /// rule, in the sim's own view: a live router of partition `part`
    /// forwards `v` and heard its owner's advert within redirect (or owns
    /// it), for as long as the probe takes to get there.
    fn reachable(&self, part: u8, v: MacAddr) -> bool {
        let n = usize::from(v.0[5]);
        if !(1..=4).contains(&n) {
            return false;
        }
        let redirect = Millis::from(self.cfg.redirect_s) * 1000;
        let arrive = self.now + self.cfg.max_delay_ms;
        self.routers.iter().any(|r| {
            r.alive
                && r.part == part
                && r.forwarding.contains(&v)
                && r.heard_primary[n - 1].is_some_and(|t| arrive < t + redirect)
        })
    }

    /// PROBE: the `k`-th unicast request to the cached VMAC; the switch
    /// delivers it to whoever forwards that VMAC in the host's partition.
    fn host_probe(&mut self, h: usize, k: u8) {
        let (part, v) = (self.hosts[h].part, self.hosts[h].vmac);
        let Some(v) = v else {
            return self.host_resolve(h);
        };
        let reachable = self.reachable(part, v);
        let host = &mut self.hosts[h];
        if k == 1 {
            host.probes_reachable = true;
        }
        host.probes_reachable &= reachable;
        host.nud = Nud::Probe(k);
        self.report.revalidations_sent += 1;
        for r in 0..self.routers.len() {
            let rt = &self.routers[r];
            if rt.alive && rt.part == part && rt.forwarding.contains(&v) {
                let d = self.delay();
                self.push(
                    self.now + d,
                    Ev::ArpRequest {
                        router: r,
                        host: h,
                        dst: v,
                    },
                );
            }
        }
        self.host_timer_in(h, self.cfg.host_retrans_ms);
    }

    /// Every probe went unanswered: the entry fails (traffic stops) and,
    /// as traffic keeps coming, a broadcast resolution starts at once.
    fn host_entry_failed(&mut self, h: usize) {
        let (part, v) = (self.hosts[h].part, self.hosts[h].vmac);
        let Some(v) = v else {
            return self.host_resolve(h);
        };
        self.report.entries_failed += 1;
        let why = if !self.known(part, v) || self.hosts[h].stranded {
            Some("forwarder deleted")
        } else if !self.hosts[h].probes_reachable {
            Some("forwarder unreachable")
        } else {
            None
        };
        if why.is_none() {
            let snap = self.snapshot();
            self.violation(
                "k-revalidation",
                format!(
                    "host {h}: {} unicast probes for {v} unanswered while a live router of its partition forwarded it within redirect: {snap}",
                    self.cfg.host_ucast_solicit
                ),
            );
        }
        self.log(format!("host {h} entry for {v} failed"));
        let host = &mut self.hosts[h];
        host.may_move = why;
        host.resolving_in_outage |= host.outage.is_some();
        host.vmac = None;
        self.host_resolve(h);
        self.update_host(h);
    }

    /// A unicast ARP reply (to a broadcast request or a probe).
    fn host_reply(&mut self, h: usize, v: MacAddr) {
        let host = &self.hosts[h];
        let valid = host.vmac.is_some();
        if valid && host.vmac != Some(v) && self.now < host.updated + LOCKTIME_MS {
            return; // Linux: the first reply wins for locktime.
        }
        if matches!(host.nud, Nud::Probe(_)) && host.vmac == Some(v) {
            self.report.revalidations_answered += 1;
        }
        self.host_learn(h, v, Nud::Reachable, true);
    }

    /// A gratuitous ARP: Linux overrides the address of an existing entry
    /// (whatever its state) and marks it STALE; it creates no entry.
    fn host_garp(&mut self, h: usize, v: MacAddr, ok: bool) {
        if self.hosts[h].nud == Nud::None {
            return;
        }
        self.host_learn(h, v, Nud::Stale, ok);
    }

    /// The entry takes `v` in state `nud`. A VMAC other than the last one
    /// used is a gateway change, checked by (h).
    fn host_learn(&mut self, h: usize, v: MacAddr, nud: Nud, legit_garp: bool) {
        let part = self.hosts[h].part;
        if let Some(old) = self.hosts[h].vmac.or(self.hosts[h].prev) {
            if old != v {
                self.report.gateway_changes += 1;
                self.log(format!("host {h} moves {old} -> {v}"));
                self.check_gateway_change(h, old, v, nud, legit_garp, part);
            }
        }
        let life = match nud {
            Nud::Reachable => {
                let base = self.cfg.host_base_reachable_ms;
                base / 2 + self.rng.below(base + 1)
            }
            _ => 0, // STALE: the next packet, at once, makes it DELAY.
        };
        let host = &mut self.hosts[h];
        host.vmac = Some(v);
        host.prev = Some(v);
        host.nud = nud;
        host.updated = self.now;
        host.may_move = None;
        host.stranded = false;
        host.replies.insert(v);
        self.host_timer_in(h, life);
        self.update_host(h);
    }

    /// (h): a host changes gateway only when its forwarder was deleted
    /// (no live router of its partition knows that VMAC), or its entry
    /// failed while its forwarder was unreachable, or on a gratuitous ARP
    /// that (g) allows (the lone AVG's deliberate move).
    fn check_gateway_change(
        &mut self,
        h: usize,
        old: MacAddr,
        new: MacAddr,
        nud: Nud,
        legit_garp: bool,
        part: u8,
    ) {
        let garp = nud == Nud::Stale;
        let ok = if garp {
            legit_garp
        } else {
            self.hosts[h].may_move.is_some() || self.hosts[h].stranded || !self.known(part, old)
        };
        if !ok {
            let snap = self.snapshot();
            let how = if garp { "gratuitous ARP" } else { "ARP reply" };
            self.violation(
                "h-gateway-change",
                format!("host {h} moved {old} -> {new} by {how} while its forwarder was neither deleted nor unreachable: {snap}"),
            );
        }
    }

    // ----- faults ----------------------------------------------------------------

    fn random_fault(&mut self) -> Option<Fault> {
        let n = self.routers.len();
        let alive: Vec<usize> = (0..n).filter(|&r| self.routers[r].alive).collect();
        let dead: Vec<usize> = (0..n).filter(|&r| !self.routers[r].alive).collect();
        let partitioned =
            self.routers.iter().any(|r| r.part != 0) || self.hosts.iter().any(|h| h.part != 0);
        let low: Vec<usize> = alive
            .iter()
            .copied()
            .filter(|&r| self.routers[r].low)
            .collect();
        for _ in 0..16 {
            let pick = |w: &mut World, v: &[usize]| v[w.rng.below(v.len() as u64) as usize];
            let f = match self.rng.below(18) {
                0..=2 if alive.len() >= 2 => Fault::Crash(pick(self, &alive)),
                3..=4 if alive.len() >= 2 => Fault::Stop(pick(self, &alive)),
                5..=7 if !dead.is_empty() => Fault::Restart(pick(self, &dead)),
                8 if !partitioned && n >= 2 => {
                    let mut routers: Vec<usize> = (0..n).filter(|_| self.rng.chance(0.5)).collect();
                    if routers.is_empty() || routers.len() == n {
                        routers = vec![self.rng.below(n as u64) as usize];
                    }
                    let hosts = (0..self.hosts.len())
                        .filter(|_| self.rng.chance(0.5))
                        .collect();
                    Fault::Partition { routers, hosts }
                }
                9..=10 if partitioned => Fault::Heal,
                11 if self.loss == 0.0 => {
                    let rate = 0.02 + self.rng.below(20) as f64 / 100.0;
                    Fault::Loss {
                        rate,
                        duration_ms: self.settle() + self.rng.below(self.settle()),
                    }
                }
                12 if !alive.is_empty() => {
                    Fault::Priority(pick(self, &alive), 90 + self.rng.below(30) as u8)
                }
                13 if !low.is_empty() => Fault::Weight(pick(self, &low), false),
                14 if alive.len() - low.len() >= 2 => {
                    let ok: Vec<usize> =
                        alive.iter().copied().filter(|r| !low.contains(r)).collect();
                    Fault::Weight(pick(self, &ok), true)
                }
                15 if !alive.is_empty() => {
                    let hold = self.hold();
                    Fault::Stall(hold + self.rng.below(hold / 2 + 1))
                }
                16 => Fault::Forge(1 + self.rng.below(4) as u8),
                _ => continue,
            };
            return Some(f);
        }
        None
    }

    fn inject(&mut self, f: Fault) {
        *self.report.faults.entry(f.kind()).or_insert(0) += 1;
        self.log(format!("FAULT {f:?}"));
        // Outages in progress count afresh from this fault (see
        // `reanchor_outages`); new ones get this fault's cause too.
        self.reanchor_outages(f.kind());
        self.last_fault = (self.now, f.kind());
        self.a_reported = false;
        self.i_reported = false;
        self.j_reported = false;
        match f {
            Fault::Crash(r) => {
                self.routers[r].alive = false;
                self.routers[r].forwarding.clear();
            }
            Fault::Stop(r) => {
                self.router_event(r, InterfaceEvent::Shutdown);
                self.routers[r].alive = false;
                self.routers[r].forwarding.clear();
            }
            Fault::Restart(r) => {
                if !self.routers[r].alive {
                    self.routers[r].forwarding.clear();
                    self.boot(r);
                }
            }
            Fault::Partition { routers, hosts } => {
                for (i, r) in self.routers.iter_mut().enumerate() {
                    r.part = u8::from(routers.contains(&i));
                }
                for (i, h) in self.hosts.iter_mut().enumerate() {
                    h.part = u8::from(hosts.contains(&i));
                }
            }
            Fault::Heal => {
                self.routers.iter_mut().for_each(|r| r.part = 0);
                self.hosts.iter_mut().for_each(|h| h.part = 0);
            }
            Fault::Loss { rate, duration_ms } => {
                self.loss = rate;
                self.push(self.now + duration_ms, Ev::LossEnd);
            }
            Fault::Priority(r, p) => {
                if let Some(mut c) = self.routers[r]
                    .port
                    .group(GROUP)
                    .map(|g| g.config().clone())
                {
                    c.priority = p;
                    if self.routers[r].alive {
                        match self.routers[r].port.configure(self.now, c) {
                            Ok(a) => self.apply(r, a),
                            Err(e) => self.violation("config", e.to_string()),
                        }
                    }
                }
            }
            Fault::Weight(r, down) => self.router_event(
                r,
                InterfaceEvent::Track {
                    object: TRACK,
                    up: !down,
                },
            ),
            Fault::Deaf(r, on) => self.routers[r].deaf = on,
            Fault::Stall(d) => {
                self.stalled_until = self.now + d;
                for r in &mut self.routers {
                    r.frozen = r.alive.then(|| r.port.clone());
                }
                self.push(self.now + d, Ev::StallEnd);
            }
            Fault::Forge(n) => {
                let msg = RxMessage {
                    src_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 200)),
                    src_mac: vmac(GROUP, n),
                    port: 0,
                    auth_ok: true,
                    repr: crate::wire::glbp::GlbpRepr {
                        group: GROUP,
                        owner: MacAddr([2, 0, 0, 0, 0xee, 0xee]),
                        auth: None,
                        nonce: None,
                        hello: None,
                        forwarders: vec![crate::wire::glbp::ReqRespRepr {
                            forwarder: n,
                            state: VfState::Active,
                            priority: VF_PRIORITY_PRIMARY,
                            weight: 100,
                            timeout_s: self.cfg.timeout_s,
                            redirect_s: self.cfg.redirect_s,
                            vmac: vmac(GROUP, n),
                        }],
                    },
                };
                if self.now >= self.stalled_until {
                    for r in 0..self.routers.len() {
                        self.router_event(r, InterfaceEvent::Rx(msg.clone()));
                    }
                }
            }
        }
        self.coverage_changed();
    }

    // ----- main loop --------------------------------------------------------------

    fn run(mut self) -> Report {
        self.start();
        let end = self.cfg.duration_ms;
        self.run_until(end);
        self.finish(end)
    }

    /// Boots the routers and schedules the hosts, faults and checks.
    fn start(&mut self) {
        for r in 0..self.routers.len() {
            self.boot(r);
        }
        let start = self.hosts_start;
        for h in 0..self.hosts.len() {
            let at = start + self.rng.below(1000);
            self.hosts[h].timer_at = at;
            self.push(at, Ev::HostTimer(h));
        }
        self.push(start + 1000 + 100, Ev::Distribution);
        let first_fault = start + 2000;
        match std::mem::replace(&mut self.cfg.faults, FaultMode::None) {
            FaultMode::None => {}
            FaultMode::Random => self.push(first_fault, Ev::NextRandomFault),
            FaultMode::Script(s) => {
                for f in s {
                    self.push(f.at, Ev::Fault(f.fault));
                }
            }
        }
        self.push(self.tick(), Ev::Check);
    }

    fn tick(&self) -> Millis {
        (self.hello() / 2).max(1)
    }

    /// Processes events up to and including `end`.
    fn run_until(&mut self, end: Millis) {
        let tick = self.tick();
        while let Some(Reverse(q)) = self.queue.pop() {
            if q.at > end {
                self.queue.push(Reverse(q));
                break;
            }
            self.now = q.at;
            self.report.events += 1;
            match q.ev {
                Ev::Timer(_) if self.now < self.stalled_until => {}
                // GLBP frames queue until the routers run again; ARP is
                // answered by the dataplane from the last published view,
                // which a stalled control plane does not change.
                ev @ Ev::Glbp { .. } if self.now < self.stalled_until => {
                    let at = self.stalled_until;
                    self.push(at, ev);
                }
                Ev::ArpRequest { router, host, dst } if self.now < self.stalled_until => {
                    self.stalled_arp(router, host, dst)
                }
                Ev::Timer(r) => {
                    if self.routers[r].timer_at == Some(q.at) && self.routers[r].alive {
                        self.routers[r].timer_at = None;
                        self.router_event(r, InterfaceEvent::Timer);
                    }
                }
                Ev::Glbp { from, to, msg } => {
                    let rt = &self.routers[to];
                    if rt.alive && !rt.deaf && rt.part == self.routers[from].part {
                        if let Some(h) = &msg.repr.hello {
                            let hold = self.hold();
                            let until = if h.priority == 0 {
                                self.now
                            } else {
                                self.now + hold
                            };
                            self.peer_until[to][from] = until;
                        }
                        for t in &msg.repr.forwarders {
                            let owner = t.priority == VF_PRIORITY_PRIMARY
                                || t.priority == VF_PRIORITY_RESIGN && msg.repr.hello.is_some();
                            if owner
                                && t.state != VfState::Unspecified
                                && (1..=4).contains(&t.forwarder)
                            {
                                let n = usize::from(t.forwarder - 1);
                                self.routers[to].heard_primary[n] = Some(self.now);
                            }
                        }
                        self.router_event(to, InterfaceEvent::Rx(msg));
                    }
                }
                Ev::ArpRequest { router, host, dst } => {
                    if self.routers[router].part == self.hosts[host].part {
                        let (host_ip, host_mac) = (self.hosts[host].ip, self.hosts[host].mac);
                        self.router_event(
                            router,
                            InterfaceEvent::Arp {
                                target: VIP,
                                host_ip,
                                host_mac,
                                dst,
                            },
                        );
                    }
                }
                Ev::ArpReply { host, vmac } => self.host_reply(host, vmac),
                Ev::Garp { host, vmac, ok } => self.host_garp(host, vmac, ok),
                Ev::HostTimer(h) => {
                    if self.hosts[h].timer_at == q.at {
                        self.host_timer(h);
                    }
                }
                Ev::StallEnd => {
                    // The stall's effects (every peer missed for a hold)
                    // start now: bounds count from here.
                    self.reanchor_outages("stall");
                    self.last_fault = (self.now, "stall");
                    self.a_reported = false;
                    self.i_reported = false;
                    self.j_reported = false;
                    for r in 0..self.routers.len() {
                        self.routers[r].frozen = None;
                        self.routers[r].timer_at = None;
                        self.schedule_timer(r);
                    }
                }
                Ev::Fault(f) => self.inject(f),
                Ev::NextRandomFault => {
                    if let Some(f) = self.random_fault() {
                        self.inject(f);
                    }
                    let s = 2 * self.settle() + self.cfg.max_delay_ms;
                    let mut next = self.now + s + self.rng.below(s);
                    if self.rng.chance(0.125) {
                        // Now and then a quiet spell long enough for (j).
                        next += self.forwarders_deadline();
                    }
                    self.push(next, Ev::NextRandomFault);
                }
                Ev::LossEnd => {
                    self.loss = 0.0;
                    self.last_fault = (self.now, "loss");
                    self.a_reported = false;
                    self.i_reported = false;
                    self.j_reported = false;
                }
                Ev::Check => {
                    self.periodic_check();
                    self.push(self.now + tick, Ev::Check);
                }
                Ev::Distribution => self.distribution(),
            }
        }
    }

    /// Ends open outages and fills in the report.
    fn finish(mut self, end: Millis) -> Report {
        self.now = end;
        for h in 0..self.hosts.len() {
            if let Some((start, cause)) = self.hosts[h].outage.take() {
                self.end_outage(h, start, cause);
            }
        }
        self.report.hosts_per_forwarder = self.hosts_per_forwarder();
        let host_minutes =
            self.hosts.len() as f64 * end.saturating_sub(self.hosts_start) as f64 / 60_000.0;
        if host_minutes > 0.0 {
            self.report.gateway_changes_per_host_minute =
                self.report.gateway_changes as f64 / host_minutes;
        }
        self.report
            .max_outage_per_host_ms
            .resize(self.hosts.len(), 0);
        for (i, r) in self.routers.iter().enumerate() {
            if let Some(g) = r.port.group(GROUP).filter(|_| r.alive) {
                self.report
                    .show
                    .push(g.status(end).show(&format!("R{i}/lan0")));
            }
        }
        self.check_host_dependent();
        self.report
    }

    /// (e) host-dependent: without faults every host always got the same VMAC.
    fn check_host_dependent(&mut self) {
        if self.cfg.load_balancing != LoadBalancing::HostDependent
            || self.report.faults.values().sum::<u64>() > 0
        {
            return;
        }
        if let Some(h) = self.hosts.iter().position(|h| h.replies.len() > 1) {
            let got = self.hosts[h].replies.clone();
            self.violation(
                "e-distribution",
                format!("host-dependent: host {h} got {got:?}"),
            );
        }
    }
}

/// Runs one simulation.
pub fn simulate(cfg: &SimConfig) -> Report {
    World::new(cfg.clone()).run()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The redirect (c) and timeout (d) checks fire on a forged history.
    #[test]
    fn redirect_and_timeout_checks_can_fail() {
        let mut w = World::new(SimConfig {
            redirect_s: 10,
            timeout_s: 60,
            host_base_reachable_ms: 20_000,
            faults: FaultMode::None,
            ..SimConfig::default()
        });
        let v = vmac(GROUP, 2);
        w.primary_seen.insert(v, 1000);
        w.now = 11_000 + w.margin();
        w.check_redirect(0, v);
        assert!(w.report.violations.is_empty());
        w.now += 1;
        w.check_redirect(0, v);
        assert_eq!(w.report.violations[0].invariant, "c-redirect");
        w.routers[0].alive = true;
        w.routers[0].forwarding.insert(v);
        w.now = 61_000 + w.margin() + w.hello() + 1;
        w.periodic_check();
        assert!(w
            .report
            .violations
            .iter()
            .any(|x| x.invariant == "d-timeout"));
    }

    /// A settled fault-free world (default timers, R3 the AVG), 200 s in.
    fn settled() -> World {
        let mut w = World::new(SimConfig {
            hosts: 20,
            faults: FaultMode::None,
            ..SimConfig::default()
        });
        w.start();
        w.run_until(200_000);
        assert!(w.report.violations.is_empty(), "{:?}", w.report.violations);
        w
    }

    fn fired(w: &World) -> Vec<&'static str> {
        w.report.violations.iter().map(|v| v.invariant).collect()
    }

    /// (g) fires on a gratuitous ARP from a member that is not alone (nor
    /// the AVG).
    #[test]
    fn garp_check_can_fail() {
        let mut w = settled();
        let v = *w.routers[0].forwarding.iter().next().expect("R0 forwards");
        assert!(!w.check_garp(0, v));
        assert_eq!(fired(&w), ["g-garp"]);
    }

    /// (h) fires when a host takes another VMAC (an ARP reply) while its
    /// forwarder is known, reachable and its entry never failed.
    #[test]
    fn gateway_change_check_can_fail() {
        let mut w = settled();
        let old = w.hosts[0].vmac.expect("host 0 resolved");
        let new = w
            .routers
            .iter()
            .flat_map(|r| r.forwarding.iter().copied())
            .find(|&v| v != old)
            .expect("another VMAC");
        w.host_learn(0, new, Nud::Reachable, true);
        assert_eq!(fired(&w), ["h-gateway-change"]);
    }

    /// (i) fires when the AVG answers with VMACs no live router forwards,
    /// (j) when a live member forwards nothing (the sim's view of the
    /// dataplanes emptied).
    #[test]
    fn vip_and_member_checks_can_fail() {
        let mut w = settled();
        w.check_vip_and_members(&BTreeSet::from([0]));
        assert!(fired(&w).is_empty());
        w.routers[0].forwarding.clear();
        // (i) aside (R0's VMAC is still handed out): (j) alone.
        w.i_reported = true;
        w.check_vip_and_members(&BTreeSet::from([0]));
        assert_eq!(fired(&w), ["j-member-forwards"]);
        w.i_reported = false;
        w.check_vip_and_members(&BTreeSet::from([0]));
        assert_eq!(fired(&w), ["j-member-forwards", "i-vip-answered"]);
    }

    /// (k) fires when every probe of a cycle went unanswered while a live
    /// router forwarded the VMAC within redirect.
    #[test]
    fn revalidation_check_can_fail() {
        let mut w = settled();
        w.hosts[0].probes_reachable = true;
        w.host_entry_failed(0);
        assert_eq!(fired(&w), ["k-revalidation"]);
    }
}
