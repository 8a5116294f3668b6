//! The control lcore: answers what the workers punt (ARP for own addresses,
//! ICMP echo, TTL expiry), resolves and ages neighbours, and publishes the
//! dataplane snapshot. GLBP itself is driven from here too (see `glbp`).

mod glbp;
mod nd;
pub mod neighbors;
pub mod neighbors6;
mod publish;
mod punt;
mod reload;
pub mod reloader;
pub mod timing;
pub mod track;
mod tracking;

pub use tracking::kernel_iface;

pub use glbp::GlbpDriver;
use publish::snapshot;
pub use publish::Publisher;
use punt::Outcome;
pub use reload::ReloadSummary;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use crossbeam::queue::ArrayQueue;

use crate::config::{ControlPlaneConfig, Ipv4Net};
use crate::dpdk::{Burst, EthDev, Lpm, Mbuf, MbufRing, Mempool};
use crate::runtime::control::neighbors::Neighbors;
use crate::runtime::control::timing::Timing;
use crate::runtime::control::track::Tracker;
use crate::runtime::dataplane::counters::{Counts, DropReason, PuntClass};
use crate::runtime::dataplane::police::Policer;
use crate::runtime::dataplane::state::{
    Groups6, Links, NextHop, Revalidate, V6Routes, VipBalance, NO_IFACE,
};
use crate::runtime::dataplane::worker::{egress, flush, TxPath};
use crate::wire::MacAddr;

/// An interface (a port's untagged traffic, or one VLAN of a port) as the
/// control lcore manages it: names and addresses, the ethdev handle of its
/// port and the port's kernel interface, and what GLBP asks of the
/// workers.
pub struct ManagedPort {
    pub name: String,
    pub dpdk_id: u16,
    /// The index of its physical port.
    pub link: usize,
    /// Its 802.1Q VLAN id; 0 for a port's untagged traffic.
    pub vlan: u16,
    pub mac: MacAddr,
    pub addr: Ipv4Net,
    /// Its IPv6 link-local address (configured, or formed from `mac`):
    /// where its IPv6 GLBP groups speak from.
    pub link_local: std::net::Ipv6Addr,
    /// Its global IPv6 addresses.
    pub address6: Vec<crate::config::Ipv6Net>,
    /// What the AVG of its IPv6 groups advertises.
    pub ra: crate::config::RaConfig,
    /// The port's configured MTU.
    pub mtu: Option<u16>,
    pub port: EthDev,
    /// The kernel interface of a kernel-backed virtual device, whose
    /// carrier is the link state (the PMD's is always up).
    pub kernel_if: Option<String>,
    /// What GLBP wants the workers to do on this port.
    pub glbp: GlbpView,
}

/// The GLBP part of a port's published view.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GlbpView {
    /// VMACs this node forwards for.
    pub vmacs: Vec<MacAddr>,
    /// VIPs this node answers ARP for, as AVG.
    pub avg: Vec<VipBalance>,
    /// VIPs of groups where it is not AVG.
    pub silent: Vec<Ipv4Addr>,
    /// Held VMACs whose unicast re-validations it answers.
    pub revalidate: Vec<Revalidate>,
    /// Its IPv6 groups.
    pub groups6: Groups6,
}

/// Control-plane counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ControlStats {
    pub exceptions: u64,
    pub arp_requests_answered: u64,
    pub arp_learned: u64,
    pub arp_probes_sent: u64,
    pub icmp_echo_replies: u64,
    pub icmp_time_exceeded: u64,
    /// Port or protocol unreachable sent for traffic to own addresses.
    pub icmp_unreachable: u64,
    /// ICMP replies and errors not sent for `[control_plane]` rates.
    pub icmp_rate_limited: u64,
    /// UDP to own addresses on ports other than GLBP's.
    pub udp_to_own: u64,
    /// ICMP echo requests sent to tracked neighbours.
    pub track_probes_sent: u64,
    pub resolve_requests: u64,
    pub glbp_received: u64,
    pub glbp_sent: u64,
    pub glbp_unsent: u64,
    pub glbp_malformed: u64,
    pub glbp_auth_failed: u64,
    /// Neighbor Discovery and ICMPv6 messages sent (advertisements, echo
    /// replies are counted apart).
    pub nd_sent: u64,
    /// Solicitations the control lcore answered (own addresses, and
    /// virtual ones the workers could not answer in place).
    pub nd_answered: u64,
    pub nd_router_solicits: u64,
    pub nd_router_adverts: u64,
    /// Other nodes claiming an own or virtual IPv6 address.
    pub nd_duplicates: u64,
    /// ICMPv6 that failed its checksum or Neighbor Discovery's checks.
    pub nd_malformed: u64,
    /// Solicitations sent to resolve or probe IPv6 neighbours.
    pub nd_solicits_sent: u64,
    pub icmpv6_echo_replies: u64,
    /// MLDv2 listener reports sent (for switches that snoop MLD).
    pub mld_reports_sent: u64,
    /// MLD queries received for a group an interface listens to (or for
    /// all), each answered with a report within its response delay.
    pub mld_queries: u64,
    pub dropped: u64,
    pub no_mbuf: u64,
    pub publications: u64,
}

/// Everything the control lcore owns.
pub struct Control {
    /// The interfaces, by interface index (what "port" means everywhere
    /// above the physical layer: groups, neighbours, snapshots).
    pub(crate) ports: Vec<ManagedPort>,
    /// Which interface is on which physical port, with which tag.
    links: Arc<Links>,
    /// The physical ports' names, by index (the per-port counters').
    pub(crate) link_names: Vec<String>,
    pool: Arc<Mempool>,
    exception: Arc<MbufRing>,
    glbp_ring: Arc<MbufRing>,
    /// By physical port.
    tx: Vec<TxPath>,
    out: Vec<Burst>,
    /// Per-port counters by physical port.
    pub(crate) counts: Counts,
    pub(crate) stats: ControlStats,
    pub(crate) neighbors: Neighbors,
    pub(crate) neighbors6: neighbors6::Neighbors6,
    published_neighbors6: u64,
    resolve: Arc<ArrayQueue<(u16, std::net::IpAddr)>>,
    publisher: Publisher,
    routes: Arc<Lpm>,
    next_hops: Vec<NextHop>,
    routes6: V6Routes,
    published_neighbors: u64,
    /// Resolutions (answers to our probes) in the last publication.
    published_resolutions: u64,
    /// ICMP errors (time exceeded, unreachable) and echo replies sent.
    icmp_errors: Policer,
    icmp_replies: Policer,
    /// Republications for unsolicited ARP learning, at most this often.
    neighbor_publish_gap_ms: u64,
    epoch: Instant,
    /// GLBP engines, by port index (`None`: no group on that port).
    pub(crate) glbp: Vec<Option<GlbpDriver>>,
    /// Engine actions not yet carried out, by port index.
    pending: Vec<(usize, Vec<crate::protocol::Action>)>,
    /// By interface: its engine ran since the views were last derived
    /// (scratch of `glbp_apply_pending`, kept for its memory).
    dirty: Vec<bool>,
    next_track_poll: u64,
    next_warn: u64,
    next_neighbor_publish: u64,
    next_unsolicited_publish: u64,
    /// Control-plane timing (hello lateness and arrival, punt wait, loop).
    pub(crate) timing: Timing,
    /// Tracked objects (links, neighbours) of the running configuration.
    pub(crate) tracker: Tracker,
    /// Link state of each port as last read.
    pub(crate) link_up: Vec<bool>,
    /// When `%GLBP-4-LATE` may be logged again, by port index.
    next_late_warn: Vec<u64>,
    tsc_hz: u64,
    /// IPv6 Neighbor Discovery state.
    nd: nd::Nd,
}

/// Exception frames handled per round before other work gets a turn.
const EXCEPTION_BURSTS_PER_ROUND: usize = 8;

pub struct ControlParts {
    /// By interface.
    pub ports: Vec<ManagedPort>,
    pub links: Arc<Links>,
    /// The physical ports' names.
    pub link_names: Vec<String>,
    pub pool: Arc<Mempool>,
    pub exception: Arc<MbufRing>,
    pub glbp: Arc<MbufRing>,
    pub control_plane: ControlPlaneConfig,
    /// By physical port.
    pub tx: Vec<TxPath>,
    pub neighbors: Neighbors,
    pub neighbors6: neighbors6::Neighbors6,
    pub resolve: Arc<ArrayQueue<(u16, std::net::IpAddr)>>,
    /// The routing table and its next hops (connected and static).
    pub routes: Arc<Lpm>,
    pub next_hops: Vec<NextHop>,
    /// The IPv6 routing table and its next hops.
    pub routes6: V6Routes,
    /// The clock's epoch (the workers count TSC ticks from the same moment).
    pub epoch: Instant,
}

impl Control {
    /// The control lcore's state, and the first snapshot for the workers
    /// (`snapshot_cell`), built by the same code as every later one.
    pub fn new(p: ControlParts) -> Control {
        let tsc_hz = crate::dpdk::tsc_hz().max(1);
        let cp = &p.control_plane;
        let n = p.ports.len();
        let nlinks = p.tx.len();
        let link_up = vec![true; n];
        let first = snapshot(
            &p.ports,
            (&p.neighbors, &p.neighbors6),
            &link_up,
            (&p.routes, &p.next_hops),
            &p.routes6,
            1,
        );
        let publisher = Publisher::new(Arc::new(ArcSwap::from_pointee(first)));
        Control {
            routes: p.routes,
            next_hops: p.next_hops,
            routes6: p.routes6,
            neighbors6: p.neighbors6,
            published_neighbors6: 0,
            published_neighbors: u64::MAX,
            published_resolutions: 0,
            icmp_errors: Policer::new(cp.icmp_errors_pps, (cp.icmp_errors_pps / 4).max(1), tsc_hz),
            icmp_replies: Policer::new(
                cp.icmp_replies_pps,
                (cp.icmp_replies_pps / 4).max(1),
                tsc_hz,
            ),
            neighbor_publish_gap_ms: 1000 / u64::from(cp.neighbor_publish_hz.max(1)),
            ports: p.ports,
            links: p.links,
            link_names: p.link_names,
            pool: p.pool,
            exception: p.exception,
            glbp_ring: p.glbp,
            tx: p.tx,
            out: (0..nlinks).map(|_| Burst::new()).collect(),
            counts: Counts::new(nlinks),
            stats: ControlStats::default(),
            neighbors: p.neighbors,
            resolve: p.resolve,
            publisher,
            epoch: p.epoch,
            glbp: Vec::new(),
            pending: Vec::new(),
            dirty: Vec::new(),
            next_track_poll: 0,
            next_warn: 0,
            next_neighbor_publish: 0,
            next_unsolicited_publish: 0,
            timing: Timing::new(n),
            tracker: Tracker::default(),
            link_up,
            next_late_warn: vec![0; n],
            tsc_hz,
            nd: nd::Nd::new(crate::dpdk::tsc()),
        }
    }

    /// Milliseconds since the control lcore started (monotonic).
    pub fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Microseconds since the control lcore started (monotonic).
    pub fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    /// Records how long a punted frame waited between the worker's enqueue
    /// (its punt stamp) and `now_tsc`.
    fn punt_waited(&mut self, now: u64, now_tsc: u64, m: &Mbuf) {
        let Some((class, at)) = m.punt_stamp().and_then(PuntClass::of_stamp) else {
            return;
        };
        let ticks = now_tsc.saturating_sub(at);
        let us = u128::from(ticks) * 1_000_000 / u128::from(self.tsc_hz);
        self.timing
            .punted(now, class, u64::try_from(us).unwrap_or(u64::MAX));
    }

    /// One round of control work; true when something was done.
    pub fn poll(&mut self) -> bool {
        let now = self.now_ms();
        let mut busy = false;
        let mut b = Burst::new();
        // GLBP first, from its own ring: a flood of other punts neither
        // fills its way nor delays it behind them.
        for ring in [self.glbp_ring.clone(), self.exception.clone()] {
            for _ in 0..EXCEPTION_BURSTS_PER_ROUND {
                if ring.dequeue_burst(&mut b) == 0 {
                    break;
                }
                busy = true;
                let now_tsc = crate::dpdk::tsc();
                for m in b.drain() {
                    self.stats.exceptions += 1;
                    self.punt_waited(now, now_tsc, &m);
                    self.handle(now, m);
                }
            }
        }
        while let Some((port, ip)) = self.resolve.pop() {
            busy = true;
            self.stats.resolve_requests += 1;
            match ip {
                std::net::IpAddr::V4(ip) => {
                    if let Some(p) = self.neighbors.resolve(now, port, ip) {
                        self.send_probe(p);
                    }
                }
                std::net::IpAddr::V6(ip) => {
                    if let Some(s) = self.neighbors6.resolve(now, port, ip) {
                        self.send_solicitation(s);
                    }
                }
            }
        }
        for p in self.neighbors.poll(now) {
            self.send_probe(p);
        }
        for s in self.neighbors6.poll(now) {
            self.send_solicitation(s);
        }
        // IPv6 neighbours change rarely (no unsolicited learning from
        // floods): published as they change.
        if self.neighbors6.version() != self.published_neighbors6 {
            self.publish();
        }
        busy |= self.glbp_poll(now);
        // Neighbour changes are coalesced: an answer to our own probe is
        // published within a millisecond (traffic waits for it); changes
        // learnt from unsolicited ARP at most `neighbor_publish_hz` times
        // a second, so a flood of changing senders cannot keep the
        // workers busy with new snapshots.
        if self.neighbors.version() != self.published_neighbors {
            let urgent = self.neighbors.resolutions() != self.published_resolutions;
            let due = if urgent {
                self.next_neighbor_publish
            } else {
                self.next_unsolicited_publish
            };
            if now >= due {
                self.next_neighbor_publish = now + 1;
                self.next_unsolicited_publish = now + self.neighbor_publish_gap_ms;
                self.publish();
            }
        }
        self.flush();
        self.publisher.reap();
        busy
    }

    /// True when nothing the control lcore sent is still waiting in a
    /// hand-off ring for the worker that transmits it.
    pub fn tx_drained(&self) -> bool {
        self.out.iter().all(Burst::is_empty)
            && self.tx.iter().all(|t| match t {
                TxPath::Queue(_) => true,
                TxPath::Handoff(r) => r.is_empty(),
            })
    }

    /// Sends everything queued for transmission.
    pub fn flush(&mut self) {
        for (p, b) in self.out.iter_mut().enumerate() {
            flush(&mut self.tx[p], b, p, &mut self.counts);
        }
    }

    /// The interface a punted frame arrived on: its port, and the tag the
    /// worker (or the device) stripped.
    fn iface_of(&self, m: &Mbuf) -> Option<usize> {
        let link = self.ports.iter().find(|p| p.dpdk_id == m.port())?.link;
        let i = self.links.iface(link, m.vlan_tci());
        (i != NO_IFACE).then_some(usize::from(i))
    }

    /// Queues `m` for transmission on interface `pidx` (tagged for it).
    pub fn send(&mut self, pidx: usize, mut m: Mbuf) {
        let Some(p) = egress(&self.links, pidx as u16, &mut m) else {
            self.counts.drop(DropReason::Other);
            return;
        };
        if self.out[p].is_full() {
            flush(&mut self.tx[p], &mut self.out[p], p, &mut self.counts);
        }
        if let Err(m) = self.out[p].push(m) {
            self.counts.drop(DropReason::TxFull);
            drop(m);
        }
    }

    /// A new frame of `len` bytes, filled by `fill`.
    pub fn new_frame(&mut self, len: usize, fill: impl FnOnce(&mut [u8]) -> bool) -> Option<Mbuf> {
        let Some(mut m) = self.pool.alloc() else {
            self.stats.no_mbuf += 1;
            return None;
        };
        let buf = m.set_len(len);
        if buf.len() != len || !fill(buf) {
            return None;
        }
        Some(m)
    }
}
