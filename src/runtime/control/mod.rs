//! The control lcore: answers what the workers punt (ARP for own addresses,
//! ICMP echo, TTL expiry), resolves and ages neighbours, and publishes the
//! dataplane snapshot. GLBP itself is driven from here too (see `glbp`).

mod glbp;
pub mod neighbors;
mod reload;
pub mod reloader;
pub mod timing;
pub mod track;
mod tracking;

pub use tracking::kernel_iface;

pub use glbp::GlbpPort;
pub use reload::ReloadSummary;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use crossbeam::queue::ArrayQueue;

use crate::config::{ControlPlaneConfig, Ipv4Net};
use crate::dpdk::{Burst, Lpm, Mbuf, MbufRing, Mempool, Port};
use crate::runtime::control::neighbors::{Neighbors, Probe};
use crate::runtime::control::timing::Timing;
use crate::runtime::control::track::Tracker;
use crate::runtime::dataplane::counters::{Counts, DropReason, PuntClass};
use crate::runtime::dataplane::police::Policer;
use crate::runtime::dataplane::state::{DataplaneState, NextHop, PortView, Revalidate, VipBalance};
use crate::runtime::dataplane::worker::{flush, TxPath};
use crate::wire::arp::{self, ArpOperation, ArpRepr};
use crate::wire::ethernet::{self, EthernetRepr};
use crate::wire::icmpv4::{self, Icmpv4Repr};
use crate::wire::ipv4::{self, Ipv4Repr};
use crate::wire::MacAddr;

/// A port as the control lcore sees it.
pub struct CtlPort {
    pub name: String,
    pub dpdk_id: u16,
    pub mac: MacAddr,
    pub addr: Ipv4Net,
    pub port: Port,
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
}

/// Swaps dataplane snapshots in and frees the old ones only once no worker
/// holds them any more (on this lcore, never on a worker).
pub struct Publisher {
    cell: Arc<ArcSwap<DataplaneState>>,
    graveyard: Vec<Arc<DataplaneState>>,
    generation: u64,
}

impl Publisher {
    pub fn new(cell: Arc<ArcSwap<DataplaneState>>) -> Publisher {
        let generation = cell.load().generation;
        Publisher {
            cell,
            graveyard: Vec::new(),
            generation,
        }
    }

    pub fn current(&self) -> Arc<DataplaneState> {
        self.cell.load_full()
    }

    /// The generation the next snapshot should carry.
    pub fn next_generation(&self) -> u64 {
        self.generation + 1
    }

    /// Publishes `st` atomically. Workers pick it up on their next round.
    pub fn publish(&mut self, st: DataplaneState) {
        self.generation = st.generation;
        let old = self.cell.swap(Arc::new(st));
        self.graveyard.push(old);
        self.reap();
    }

    /// Frees the snapshots nobody reads any more. `ArcSwap::swap` pays the
    /// readers' debts, so the strong count of an old snapshot counts every
    /// worker still holding it.
    pub fn reap(&mut self) {
        self.graveyard.retain(|s| Arc::strong_count(s) > 1);
    }

    /// Snapshots waiting for their last reader.
    pub fn pending(&self) -> usize {
        self.graveyard.len()
    }
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
    pub dropped: u64,
    pub no_mbuf: u64,
    pub publications: u64,
}

/// Everything the control lcore owns.
pub struct Control {
    pub ports: Vec<CtlPort>,
    pool: Arc<Mempool>,
    exception: Arc<MbufRing>,
    glbp_ring: Arc<MbufRing>,
    tx: Vec<TxPath>,
    out: Vec<Burst>,
    pub counts: Counts,
    pub stats: ControlStats,
    pub neighbors: Neighbors,
    resolve: Arc<ArrayQueue<(u16, Ipv4Addr)>>,
    publisher: Publisher,
    routes: Arc<Lpm>,
    next_hops: Vec<NextHop>,
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
    pub glbp: Vec<Option<GlbpPort>>,
    /// Engine actions not yet carried out, by port index.
    pending: Vec<(usize, Vec<crate::protocol::Action>)>,
    next_track_poll: u64,
    next_warn: u64,
    next_neighbor_publish: u64,
    next_unsolicited_publish: u64,
    /// Control-plane timing (hello lateness and arrival, punt wait, loop).
    pub timing: Timing,
    /// Tracked objects (links, neighbours) of the running configuration.
    pub tracker: Tracker,
    /// Link state of each port as last read.
    pub link_up: Vec<bool>,
    /// When `%GLBP-4-LATE` may be logged again, by port index.
    next_late_warn: Vec<u64>,
    tsc_hz: u64,
}

/// What became of a punted frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// It was turned into a reply in place: send it back out.
    Reply,
    /// Used (learnt from, answered with a new frame): release it.
    Consumed,
    /// Not ours or not valid: release and count.
    Dropped,
}

/// IP protocol number of TCP.
const PROTO_TCP: u8 = 6;

/// The UDP destination port of an IPv4 packet (`ip` starts at its header).
fn udp_dst_port(ip: &[u8]) -> Option<u16> {
    let p = ipv4::Packet::new_checked(ip).ok()?;
    if p.is_fragment() {
        return None;
    }
    crate::wire::udp::Packet::new_checked(p.payload())
        .ok()
        .map(|u| u.dst_port())
}

/// Exception frames handled per round before other work gets a turn.
const EXCEPTION_BURSTS_PER_ROUND: usize = 8;

pub struct ControlParts {
    pub ports: Vec<CtlPort>,
    pub pool: Arc<Mempool>,
    pub exception: Arc<MbufRing>,
    pub glbp: Arc<MbufRing>,
    pub control_plane: ControlPlaneConfig,
    pub tx: Vec<TxPath>,
    pub neighbors: Neighbors,
    pub resolve: Arc<ArrayQueue<(u16, Ipv4Addr)>>,
    /// The routing table and its next hops (connected and static).
    pub routes: Arc<Lpm>,
    pub next_hops: Vec<NextHop>,
    /// The clock's epoch (the workers count TSC ticks from the same moment).
    pub epoch: Instant,
}

/// The dataplane snapshot of the control lcore's tables: the one place a
/// `DataplaneState` is built.
fn snapshot(
    ports: &[CtlPort],
    neighbors: &Neighbors,
    link_up: &[bool],
    routes: &Arc<Lpm>,
    next_hops: &[NextHop],
    generation: u64,
) -> DataplaneState {
    let ports = ports
        .iter()
        .enumerate()
        .map(|(i, p)| PortView {
            name: p.name.clone(),
            mac: p.mac,
            addr: p.addr,
            vmacs: p.glbp.vmacs.clone(),
            neighbors: neighbors.resolved(i as u16),
            avg: p.glbp.avg.clone(),
            silent: p.glbp.silent.clone(),
            link_up: link_up.get(i).copied().unwrap_or(true),
            revalidate: p.glbp.revalidate.clone(),
        })
        .collect();
    DataplaneState {
        generation,
        ports,
        routes: routes.clone(),
        next_hops: next_hops.to_vec(),
    }
}

impl Control {
    /// The control lcore's state, and the first snapshot for the workers
    /// (`snapshot_cell`), built by the same code as every later one.
    pub fn new(p: ControlParts) -> Control {
        let tsc_hz = crate::dpdk::tsc_hz().max(1);
        let cp = &p.control_plane;
        let n = p.ports.len();
        let link_up = vec![true; n];
        let first = snapshot(&p.ports, &p.neighbors, &link_up, &p.routes, &p.next_hops, 1);
        let publisher = Publisher::new(Arc::new(ArcSwap::from_pointee(first)));
        Control {
            routes: p.routes,
            next_hops: p.next_hops,
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
            pool: p.pool,
            exception: p.exception,
            glbp_ring: p.glbp,
            tx: p.tx,
            out: (0..n).map(|_| Burst::new()).collect(),
            counts: Counts::new(n),
            stats: ControlStats::default(),
            neighbors: p.neighbors,
            resolve: p.resolve,
            publisher,
            epoch: p.epoch,
            glbp: Vec::new(),
            pending: Vec::new(),
            next_track_poll: 0,
            next_warn: 0,
            next_neighbor_publish: 0,
            next_unsolicited_publish: 0,
            timing: Timing::new(n),
            tracker: Tracker::default(),
            link_up,
            next_late_warn: vec![0; n],
            tsc_hz,
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
        let Some(stamp) = m.punt_stamp() else {
            return;
        };
        let Some(class) = PuntClass::from_index((stamp & 0xf) as usize) else {
            return;
        };
        let ticks = now_tsc.saturating_sub(stamp & !0xf);
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
            if let Some(p) = self.neighbors.resolve(now, port, ip) {
                self.send_probe(p);
            }
        }
        for p in self.neighbors.poll(now) {
            self.send_probe(p);
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

    /// Builds and publishes a snapshot from the current tables.
    pub fn publish(&mut self) {
        self.published_neighbors = self.neighbors.version();
        self.published_resolutions = self.neighbors.resolutions();
        let st = snapshot(
            &self.ports,
            &self.neighbors,
            &self.link_up,
            &self.routes,
            &self.next_hops,
            self.publisher.next_generation(),
        );
        self.publisher.publish(st);
        self.stats.publications += 1;
    }

    /// The cell the workers read their snapshot from.
    pub fn snapshot_cell(&self) -> Arc<ArcSwap<DataplaneState>> {
        self.publisher.cell.clone()
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

    fn port_index(&self, dpdk_id: u16) -> Option<usize> {
        self.ports.iter().position(|p| p.dpdk_id == dpdk_id)
    }

    /// Queues `m` for transmission on port `pidx`.
    pub fn send(&mut self, pidx: usize, m: Mbuf) {
        if self.out[pidx].is_full() {
            flush(
                &mut self.tx[pidx],
                &mut self.out[pidx],
                pidx,
                &mut self.counts,
            );
        }
        if let Err(m) = self.out[pidx].push(m) {
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

    fn handle(&mut self, now: u64, mut m: Mbuf) {
        let outcome = match self.port_index(m.port()) {
            None => (0, Outcome::Dropped),
            Some(pidx) => {
                let head =
                    ethernet::Frame::new_checked(m.data()).map(|f| (f.ethertype(), f.header_len()));
                let o = match head {
                    Ok((ethernet::ETHERTYPE_ARP, hl)) => self.handle_arp(now, pidx, &mut m, hl),
                    Ok((ethernet::ETHERTYPE_IPV4, hl)) => self.handle_ipv4(now, pidx, &mut m, hl),
                    _ => Outcome::Dropped,
                };
                (pidx, o)
            }
        };
        match outcome {
            (pidx, Outcome::Reply) => self.send(pidx, m),
            (_, Outcome::Consumed) => {}
            (_, Outcome::Dropped) => self.stats.dropped += 1,
        }
    }

    /// ARP: learn, and answer requests for our own address in place.
    fn handle_arp(&mut self, now: u64, pidx: usize, m: &mut Mbuf, hl: usize) -> Outcome {
        let port_mac = self.ports[pidx].mac;
        let own_ip = self.ports[pidx].addr.addr;
        let data = m.data_mut();
        let Some(Ok(repr)) = data
            .get(hl..)
            .map(|b| arp::Packet::new_checked(b).and_then(|p| ArpRepr::parse(&p)))
        else {
            return Outcome::Dropped;
        };
        let for_us = repr.target_ip == own_ip;
        self.tracker.heard(pidx, repr.sender_ip, false);
        if self.ports[pidx].addr.contains(repr.sender_ip) {
            self.neighbors.learn(
                now,
                pidx as u16,
                repr.sender_ip,
                repr.sender_hw_addr,
                for_us,
            );
            self.stats.arp_learned += 1;
        }
        if repr.operation == ArpOperation::Request && for_us {
            let mut eth = ethernet::Frame::new_unchecked(&mut data[..]);
            eth.set_dst_addr(repr.sender_hw_addr);
            eth.set_src_addr(port_mac);
            arp::Packet::new_unchecked(&mut data[hl..]).make_reply(port_mac);
            self.stats.arp_requests_answered += 1;
            return Outcome::Reply;
        }
        Outcome::Consumed
    }

    /// IPv4 to us: ICMP echo; IPv4 that expired in transit: time exceeded.
    fn handle_ipv4(&mut self, now: u64, pidx: usize, m: &mut Mbuf, hl: usize) -> Outcome {
        let own_ip = self.ports[pidx].addr.addr;
        let parsed = {
            let d = m.data();
            ethernet::Frame::new_checked(d).ok().and_then(|f| {
                let p = ipv4::Packet::new_checked(&d[hl..]).ok()?;
                Some((f.src_addr(), Ipv4Repr::parse(&p).ok()?))
            })
        };
        let Some((src_mac, ip)) = parsed else {
            return Outcome::Dropped;
        };
        let dport = (ip.protocol == ipv4::PROTO_UDP)
            .then(|| udp_dst_port(&m.data()[hl..]))
            .flatten();
        // Only UDP 3222 is GLBP: to its group, or unicast to us.
        if dport == Some(crate::wire::glbp::UDP_PORT)
            && (ip.dst == crate::wire::glbp::MCAST_V4 || ip.dst == own_ip)
        {
            return self.glbp_rx(now, pidx, m);
        }
        let glbp = &self.ports[pidx].glbp;
        let to_vip = glbp.avg.iter().any(|v| v.vip == ip.dst) || glbp.silent.contains(&ip.dst);
        if self.is_own(ip.dst) || to_vip {
            return match ip.protocol {
                ipv4::PROTO_ICMP if self.is_track_echo_reply(&m.data()[hl..]) => {
                    self.tracker.heard(pidx, ip.src, true);
                    Outcome::Consumed
                }
                ipv4::PROTO_ICMP => {
                    if !self.icmp_replies.allow(crate::dpdk::tsc()) {
                        self.stats.icmp_rate_limited += 1;
                        Outcome::Dropped
                    } else if self.echo_reply(m, hl) {
                        Outcome::Reply
                    } else {
                        Outcome::Dropped
                    }
                }
                proto => {
                    // Nothing listens here: say so, as a host would, so
                    // that traceroute to the router completes.
                    if proto == ipv4::PROTO_UDP {
                        self.stats.udp_to_own += 1;
                    }
                    let code = if matches!(proto, ipv4::PROTO_UDP | PROTO_TCP) {
                        icmpv4::CODE_PORT_UNREACHABLE
                    } else {
                        icmpv4::CODE_PROTO_UNREACHABLE
                    };
                    let src = ip.dst;
                    self.icmp_error(pidx, m, hl, ip, src_mac, src, |data| {
                        Icmpv4Repr::DstUnreachable { code, data }
                    });
                    Outcome::Consumed
                }
            };
        }
        if ip.dst.is_multicast() {
            return Outcome::Dropped;
        }
        if ip.ttl <= 1 {
            self.icmp_error(pidx, m, hl, ip, src_mac, own_ip, |data| {
                Icmpv4Repr::TimeExceeded {
                    code: icmpv4::CODE_TTL_EXCEEDED,
                    data,
                }
            });
            return Outcome::Consumed;
        }
        Outcome::Dropped
    }

    /// Sends the ICMP error `make(quoted)` about `m` back to its sender,
    /// from `src`, within the `[control_plane] icmp_errors_pps` rate.
    #[allow(clippy::too_many_arguments)]
    fn icmp_error(
        &mut self,
        pidx: usize,
        m: &Mbuf,
        hl: usize,
        ip: Ipv4Repr,
        to_mac: MacAddr,
        src: Ipv4Addr,
        make: impl for<'a> FnOnce(&'a [u8]) -> Icmpv4Repr<'a>,
    ) {
        if !self.icmp_errors.allow(crate::dpdk::tsc()) {
            self.stats.icmp_rate_limited += 1;
            return;
        }
        let port_mac = self.ports[pidx].mac;
        let Some(r) = self.icmp_error_frame(m.data(), hl, ip, to_mac, port_mac, src, make) else {
            return;
        };
        match r.1 {
            icmpv4::TYPE_TIME_EXCEEDED => self.stats.icmp_time_exceeded += 1,
            _ => self.stats.icmp_unreachable += 1,
        }
        self.send(pidx, r.0);
    }

    /// True for an ICMP echo reply to one of our reachability probes.
    fn is_track_echo_reply(&self, ip_bytes: &[u8]) -> bool {
        let Ok(p) = ipv4::Packet::new_checked(ip_bytes) else {
            return false;
        };
        icmpv4::Packet::new_checked(p.payload()).is_ok_and(|i| {
            i.msg_type() == icmpv4::TYPE_ECHO_REPLY
                && i.echo_ident() == crate::runtime::control::track::ECHO_IDENT
                && i.verify_checksum()
        })
    }

    fn is_own(&self, ip: Ipv4Addr) -> bool {
        self.ports.iter().any(|p| p.addr.addr == ip)
    }

    /// Turns an ICMP echo request into the reply, in place. The reply comes
    /// from the MAC the request was sent to (the port's, or the VMAC of the
    /// virtual IP, so the host's ARP entry stays right).
    fn echo_reply(&mut self, m: &mut Mbuf, hl: usize) -> bool {
        let d = m.data_mut();
        let mut eth = ethernet::Frame::new_unchecked(&mut d[..]);
        let (peer, us) = (eth.src_addr(), eth.dst_addr());
        if !us.is_unicast() {
            return false;
        }
        eth.set_dst_addr(peer);
        eth.set_src_addr(us);
        let mut ip = ipv4::Packet::new_unchecked(&mut d[hl..]);
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        {
            let Ok(mut icmp) = icmpv4::Packet::new_checked(ip.payload_mut()) else {
                return false;
            };
            if icmp.msg_type() != icmpv4::TYPE_ECHO_REQUEST || !icmp.verify_checksum() {
                return false;
            }
            icmp.make_echo_reply();
        }
        ip.set_src_addr(dst);
        ip.set_dst_addr(src);
        ip.set_ttl(64);
        ip.fill_checksum();
        self.stats.icmp_echo_replies += 1;
        true
    }

    /// An ICMP error (`make(quoted)`) for the packet in `orig`, to its
    /// sender, with its ICMP type.
    #[allow(clippy::too_many_arguments)]
    fn icmp_error_frame(
        &mut self,
        orig: &[u8],
        hl: usize,
        ip: Ipv4Repr,
        to_mac: MacAddr,
        port_mac: MacAddr,
        port_ip: Ipv4Addr,
        make: impl for<'a> FnOnce(&'a [u8]) -> Icmpv4Repr<'a>,
    ) -> Option<(Mbuf, u8)> {
        // Never answer an ICMP error or a packet from a non-unicast source.
        if ip.src.is_multicast()
            || ip.src.is_broadcast()
            || ip.src.is_unspecified()
            || !to_mac.is_unicast()
        {
            return None;
        }
        let ip_bytes = &orig[hl..];
        let ihl = ipv4::Packet::new_checked(ip_bytes).ok()?.header_len();
        if ip.protocol == ipv4::PROTO_ICMP {
            let t = *ip_bytes.get(ihl)?;
            if t != icmpv4::TYPE_ECHO_REQUEST && t != icmpv4::TYPE_ECHO_REPLY {
                return None;
            }
        }
        let quoted = &ip_bytes[..(ihl + 8).min(ip_bytes.len())];
        let icmp = make(quoted);
        let ty = match icmp {
            Icmpv4Repr::TimeExceeded { .. } => icmpv4::TYPE_TIME_EXCEEDED,
            _ => icmpv4::TYPE_DST_UNREACHABLE,
        };
        self.icmp_frame((port_mac, to_mac), (port_ip, ip.src), (0, false), &icmp)
            .map(|m| (m, ty))
    }

    /// A new Ethernet + IPv4 + ICMP frame: `macs` and `ips` are (source,
    /// destination), `id_df` the IPv4 identification and don't-fragment
    /// flag; TTL 64, precedence internetwork control.
    pub(crate) fn icmp_frame(
        &mut self,
        (src_mac, dst_mac): (MacAddr, MacAddr),
        (src, dst): (Ipv4Addr, Ipv4Addr),
        (ident, dont_frag): (u16, bool),
        icmp: &Icmpv4Repr,
    ) -> Option<Mbuf> {
        let ipr = Ipv4Repr {
            src,
            dst,
            protocol: ipv4::PROTO_ICMP,
            payload_len: icmp.buffer_len(),
            ttl: 64,
            tos: 0xc0,
            ident,
            dont_frag,
        };
        let eth = EthernetRepr {
            src: src_mac,
            dst: dst_mac,
            vlan_tci: None,
            ethertype: ethernet::ETHERTYPE_IPV4,
        };
        let len = eth.header_len() + ipr.header_len() + icmp.buffer_len();
        self.new_frame(len.max(60), |b| {
            b.fill(0);
            let Ok(e) = eth.emit(b) else { return false };
            let Ok(i) = ipr.emit(&mut b[e..]) else {
                return false;
            };
            icmp.emit(&mut b[e + i..]).is_ok()
        })
    }

    /// Sends an ARP request for `p.ip` from the port's own address.
    fn send_probe(&mut self, p: Probe) {
        let pidx = usize::from(p.port);
        let Some(port) = self.ports.get(pidx) else {
            return;
        };
        let (mac, ip) = (port.mac, port.addr.addr);
        let eth = EthernetRepr {
            src: mac,
            dst: p.to.unwrap_or(MacAddr::BROADCAST),
            vlan_tci: None,
            ethertype: ethernet::ETHERTYPE_ARP,
        };
        let a = ArpRepr {
            operation: ArpOperation::Request,
            sender_hw_addr: mac,
            sender_ip: ip,
            target_hw_addr: MacAddr::ZERO,
            target_ip: p.ip,
        };
        if let Some(m) = self.new_frame(60, |b| {
            b.fill(0);
            let Ok(e) = eth.emit(b) else { return false };
            a.emit(&mut b[e..]).is_ok()
        }) {
            self.stats.arp_probes_sent += 1;
            self.send(pidx, m);
        }
    }
}
