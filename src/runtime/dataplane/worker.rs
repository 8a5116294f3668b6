//! Poll-mode workers: burst RX, verdicts for the burst (the staged
//! [`pipeline`](super::pipeline), with [`process`] as the per-packet
//! reference and slow path), burst TX grouped by egress port. No
//! allocation, no lock, no syscall and no log line per packet.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use crossbeam::queue::ArrayQueue;

use super::counters::{punt_stamp, ArpClients, Counts, DropReason, PuntClass, Shared};
use super::index::{mac_header, PortIndex, SnapshotIndex, V6Index};
use super::pipeline::{process_burst, Demux, Ingress, Stage};
use super::police::Policer;
use super::state::{DataplaneState, Links, PortView, Routes, NO_IFACE};
use crate::config::Idle;
use crate::dpdk::{self, Burst, Mbuf, MbufRing, RxQueue, TxQueue};
use crate::wire::{arp, ethernet, glbp, icmpv6, ipv4, ipv6, udp, MacAddr};

/// What to do with one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send on this port (MACs already rewritten).
    Forward(u16),
    /// Hand to the control lcore.
    Punt(PuntClass),
    /// An ARP request for a virtual IP, turned into the reply in place:
    /// send it back on the ingress port. `revalidation`: a host's unicast
    /// re-validation of the VMAC it holds, answered with that VMAC (not a
    /// selection by the AVG).
    ArpReply {
        group: u16,
        forwarder: u8,
        revalidation: bool,
    },
    /// A neighbour solicitation for a virtual IPv6 address, turned into
    /// the advertisement in place, as [`Verdict::ArpReply`] for ARP.
    NdReply {
        group: u16,
        forwarder: u8,
        revalidation: bool,
    },
    /// Drop and count.
    Drop(DropReason),
    /// Drop (counted as unresolved) and ask the control lcore to resolve
    /// this neighbour on this port.
    Unresolved(u16, Ipv4Addr),
    /// The same for IPv6 (an address does not fit in a verdict): the
    /// gateway of IPv6 next hop `hop`, or with [`CONNECTED`] the packet's
    /// destination, on port `port`.
    Unresolved6 { port: u16, hop: u32 },
}

/// [`Verdict::Unresolved6`]'s `hop` for a destination on a connected
/// subnet.
pub const CONNECTED: u32 = u32::MAX;

// A verdict fits in one register: returned from `process` without a round
// trip through memory (a 16-byte verdict cost ~15 % of the ARP path in a
// store-forwarding stall).
const _: () = assert!(std::mem::size_of::<Verdict>() <= 8);

/// Decides the fate of one frame received on port `ingress`, rewriting it
/// in place when it is forwarded. `sc.refresh(st)` must have been called
/// since `st` was loaded (the poll loop calls it every round).
///
/// Always inlined: as a call, LLVM also stopped inlining its helpers (ARP
/// parsing, the balancer's pick, the index lookups), ~12 % of the ARP rate.
#[inline(always)]
pub fn process<R: Routes>(
    pkt: &mut [u8],
    ingress: usize,
    st: &DataplaneState<R>,
    sc: &mut Scratch,
) -> Verdict {
    let Some(port) = st.ports.get(ingress) else {
        return Verdict::Drop(DropReason::Other);
    };
    let Some(idx) = sc.index.ports.get(ingress) else {
        return Verdict::Drop(DropReason::Other);
    };
    let turns = &mut sc.turns;
    let v6 = &sc.index.v6;
    let now_ms = sc.now_ms;
    let Ok(mut eth) = ethernet::Frame::new_checked(&mut *pkt) else {
        return Verdict::Drop(DropReason::Malformed);
    };
    if eth.is_tagged() {
        // Tags are stripped before this (`pipeline::demux`) on ports that
        // carry VLANs: this one has none of that VLAN.
        return Verdict::Drop(DropReason::UnknownVlan);
    }
    let dst = eth.dst_addr();
    match eth.ethertype() {
        ethernet::ETHERTYPE_ARP => {
            let Ok(mut a) = arp::Packet::new_checked(eth.payload_mut()) else {
                return Verdict::Drop(DropReason::Malformed);
            };
            // A gratuitous ARP (sender = target) is an announcement, never a
            // question for the AVG.
            if a.operation() == arp::OP_REQUEST && a.sender_ip() != a.target_ip() {
                let target = a.target_ip();
                let host = a.sender_hw_addr();
                if !dst.is_broadcast() && dst != port.mac {
                    // A host re-validating the VMAC it holds (Linux
                    // NUD_PROBE: unicast to the cached MAC). Whoever
                    // forwards that VMAC answers with it while it is
                    // eligible, AVG or not; past redirect it stays silent.
                    if let Some(r) = idx.revalidate(port, dst).filter(|r| r.vip == target) {
                        if !host.is_unicast() {
                            return Verdict::Drop(DropReason::Malformed);
                        }
                        a.make_reply(r.vmac);
                        eth.set_dst_addr(host);
                        eth.set_src_addr(port.mac);
                        return Verdict::ArpReply {
                            group: r.group,
                            forwarder: r.forwarder,
                            revalidation: true,
                        };
                    }
                    if idx.is_vmac(dst) && port.is_vip(target) {
                        return Verdict::Drop(DropReason::ArpNotAvg);
                    }
                    return Verdict::Drop(DropReason::NotForUs);
                }
                if let Some(v) = idx.avg(port, target) {
                    if !host.is_unicast() {
                        return Verdict::Drop(DropReason::Malformed);
                    }
                    let b = &v.balance;
                    let Some(i) = b.pick(host, turns.get(ingress, v.group), now_ms) else {
                        return Verdict::Drop(DropReason::ArpNotAvg);
                    };
                    let (number, vmac) = b.forwarders[i];
                    a.make_reply(vmac);
                    eth.set_dst_addr(host);
                    eth.set_src_addr(port.mac);
                    return Verdict::ArpReply {
                        group: v.group,
                        forwarder: number,
                        revalidation: false,
                    };
                }
                if idx.is_silent(target) {
                    return Verdict::Drop(DropReason::ArpNotAvg);
                }
            }
            if dst.is_broadcast() || dst == port.mac {
                Verdict::Punt(PuntClass::Arp)
            } else {
                Verdict::Drop(DropReason::NotForUs)
            }
        }
        ethernet::ETHERTYPE_IPV4 => {
            if dst.is_multicast() {
                return if is_glbp_v4(eth.payload()) {
                    Verdict::Punt(PuntClass::Glbp)
                } else {
                    Verdict::Drop(DropReason::Unsupported)
                };
            }
            if dst != port.mac && !idx.is_vmac(dst) {
                return Verdict::Drop(DropReason::NotForUs);
            }
            let Ok(mut ip) = ipv4::Packet::new_checked(eth.payload_mut()) else {
                return Verdict::Drop(DropReason::Malformed);
            };
            if !ip.verify_checksum() {
                return Verdict::Drop(DropReason::Malformed);
            }
            let dst_ip = ip.dst_addr();
            // An own address (any port's) or a virtual IP of this port.
            if idx.is_local(u32::from(dst_ip)) {
                return Verdict::Punt(match ip.protocol() {
                    ipv4::PROTO_ICMP => PuntClass::Icmp,
                    ipv4::PROTO_UDP if is_glbp_v4(eth.payload()) => PuntClass::Glbp,
                    _ => PuntClass::Own,
                });
            }
            // Decremented once the packet has a way out: a packet without
            // one is quoted as it came in (destination unreachable).
            if ip.ttl() <= 1 {
                return Verdict::Punt(PuntClass::TtlExpired);
            }
            let LastHop(last) = &mut sc.last_hop;
            let Some(hop) = st
                .routes
                .lookup(dst_ip)
                .and_then(|i| st.next_hops.get(i as usize))
            else {
                return Verdict::Drop(DropReason::NoRoute);
            };
            let Some(out) = st.ports.get(usize::from(hop.port)) else {
                return Verdict::Drop(DropReason::NoRoute);
            };
            if !out.link_up {
                return Verdict::Drop(DropReason::LinkDown);
            }
            let nh_ip = hop.via.unwrap_or(dst_ip);
            let mac = match last {
                Some((p, ip, mac)) if *p == hop.port && *ip == nh_ip => *mac,
                _ => {
                    let Some(mac) = out.neighbors.get(&nh_ip) else {
                        return Verdict::Unresolved(hop.port, nh_ip);
                    };
                    *last = Some((hop.port, nh_ip, *mac));
                    *mac
                }
            };
            if ip.decrement_ttl().is_none() {
                return Verdict::Punt(PuntClass::TtlExpired);
            }
            eth.set_dst_addr(mac);
            eth.set_src_addr(out.mac);
            Verdict::Forward(hop.port)
        }
        ethernet::ETHERTYPE_IPV6 => process_ipv6(pkt, (st, v6), port, idx, turns, ingress, now_ms),
        _ => Verdict::Drop(DropReason::Unsupported),
    }
}

/// [`process`] for IPv6: GLBP, and Neighbor Discovery for the virtual
/// addresses answered in place; the rest of Neighbor Discovery and echo
/// requests to own or virtual addresses go to the control lcore. Out of
/// line, to keep IPv4's code tight.
///
/// The helpers write the frame's new MAC header themselves and return only
/// the verdict (which fits in a register): a (verdict, new destination)
/// pair went through the stack in pieces and stalled every answer on
/// store forwarding.
#[inline(never)]
fn process_ipv6<R: Routes>(
    pkt: &mut [u8],
    (st, v6): (&DataplaneState<R>, &V6Index),
    port: &PortView,
    idx: &PortIndex,
    turns: &mut Turns,
    ingress: usize,
    now_ms: u64,
) -> Verdict {
    let Some((mac_hdr, payload)) = pkt.split_at_mut_checked(ethernet::HEADER_LEN) else {
        return Verdict::Drop(DropReason::Malformed);
    };
    let dst = MacAddr::from_bytes(&mac_hdr[..6]);
    if !dst.is_multicast() && dst != port.mac && !idx.is_vmac(dst) {
        return Verdict::Drop(DropReason::NotForUs);
    }
    // GLBP for IPv6: to ff02::66, or unicast forwarder requests and
    // responses to this interface.
    if (dst == glbp::MCAST_MAC_V6 || dst == port.mac) && is_glbp_v6(payload) {
        return Verdict::Punt(PuntClass::Glbp);
    }
    let Ok(mut ip) = ipv6::Packet::new_checked(payload) else {
        return Verdict::Drop(DropReason::Malformed);
    };
    match ip.next_header() {
        icmpv6::PROTO_ICMPV6 => match ip.payload().first().copied() {
            Some(icmpv6::TYPE_NEIGHBOR_SOLICIT) => {
                let for_avg = dst.is_multicast() || dst == port.mac;
                solicit(
                    &mut ip,
                    (mac_hdr, for_avg),
                    port,
                    idx,
                    turns,
                    ingress,
                    now_ms,
                )
            }
            Some(
                icmpv6::TYPE_ROUTER_SOLICIT
                | icmpv6::TYPE_NEIGHBOR_ADVERT
                | icmpv6::TYPE_ROUTER_ADVERT,
            ) if dst.is_multicast() || dst == port.mac => Verdict::Punt(PuntClass::Nd),
            Some(icmpv6::TYPE_ECHO_REQUEST)
                if !dst.is_multicast() && is_local6(port, v6, ip.dst_addr()) =>
            {
                Verdict::Punt(PuntClass::Icmp)
            }
            _ => forward6(&mut ip, mac_hdr, port, (st, v6)),
        },
        // Behind a hop-by-hop header: an MLD query, for the control lcore
        // to answer (other nodes' reports are dropped with the rest).
        0 if dst.is_multicast() && icmpv6::is_mld_query(ip.payload()) => {
            Verdict::Punt(PuntClass::Nd)
        }
        _ => forward6(&mut ip, mac_hdr, port, (st, v6)),
    }
}

/// Writes a frame's new destination and source MAC (`mac_hdr`: its first
/// 12 bytes or more).
#[inline(always)]
fn set_macs(mac_hdr: &mut [u8], to: MacAddr, from: MacAddr) {
    if let Some(h) = mac_hdr.get_mut(..12) {
        h.copy_from_slice(&mac_header(to, from));
    }
}

/// Routes the IPv6 packet `ip` (received on `port` in a frame whose MAC
/// header is `mac_hdr`) through the IPv6 table: when forwarded, hop limit
/// decremented and the MAC header rewritten (the neighbour's MAC, from the
/// egress port's). Link-local traffic is never routed; hop limit expiry and
/// other traffic to own addresses go to the control lcore.
#[inline(always)]
fn forward6<R: Routes>(
    ip: &mut ipv6::Packet<&mut [u8]>,
    mac_hdr: &mut [u8],
    port: &PortView,
    (st, v6): (&DataplaneState<R>, &V6Index),
) -> Verdict {
    let drop = Verdict::Drop;
    if mac_hdr.first().is_some_and(|b| b & 1 == 1) {
        return drop(DropReason::Unsupported);
    }
    let (from, to) = (ip.src_addr(), ip.dst_addr());
    if is_local6(port, v6, to) {
        return Verdict::Punt(PuntClass::Own);
    }
    if ipv6::is_link_local(to)
        || ipv6::is_link_local(from)
        || from.is_multicast()
        || to.is_multicast()
    {
        return drop(DropReason::Other);
    }
    let Some(i) = st.v6.routes.lookup6(to) else {
        return drop(DropReason::NoRoute);
    };
    let Some(hop) = st.v6.next_hops.get(i as usize) else {
        return drop(DropReason::NoRoute);
    };
    let Some(out) = st.ports.get(usize::from(hop.port)) else {
        return drop(DropReason::NoRoute);
    };
    if !out.link_up {
        return drop(DropReason::LinkDown);
    }
    if ip.hop_limit() <= 1 {
        return Verdict::Punt(PuntClass::TtlExpired);
    }
    let Some(mac) = out.neighbors6.get(&hop.via.unwrap_or(to)) else {
        return Verdict::Unresolved6 {
            port: hop.port,
            hop: if hop.via.is_some() { i } else { CONNECTED },
        };
    };
    ip.decrement_hop_limit();
    set_macs(mac_hdr, *mac, out.mac);
    Verdict::Forward(hop.port)
}

/// True when `ip` is an address of interface `port` (own or virtual) or
/// an own global address of another interface.
#[inline(always)]
fn is_local6(port: &PortView, v6: &V6Index, ip: std::net::Ipv6Addr) -> bool {
    port.is_local6(ip) || v6.is_own(ip)
}

/// A neighbour solicitation (in `ip`, in a frame whose MAC header is
/// `mac_hdr`, sent to a multicast group or this interface's MAC when
/// `for_avg`, else to a VMAC): for a virtual address this node is AVG of, the
/// advertisement of the VMAC the balancer picks; to a VMAC it holds, the
/// advertisement of that VMAC (a host's unicast NUD probe); both made in
/// place, back to the host from this interface's MAC, as ARP replies are
/// (IOS sends it from the chosen VMAC; a switch would then learn another
/// router's VMAC on this port until that router's next hello).
#[inline(always)]
fn solicit(
    ip: &mut ipv6::Packet<&mut [u8]>,
    (mac_hdr, for_avg): (&mut [u8], bool),
    port: &PortView,
    idx: &PortIndex,
    turns: &mut Turns,
    ingress: usize,
    now_ms: u64,
) -> Verdict {
    let drop = Verdict::Drop;
    if mac_hdr.len() < 12 {
        return drop(DropReason::Malformed);
    }
    // The MACs are read where they are needed, not up front: a MAC put
    // together on the stack byte by byte and read back whole stalled
    // every answer on store forwarding.
    let dst = || MacAddr::from_bytes(&mac_hdr[..6]);
    // The target first: most solicitations a port sees are for other hosts
    // (no need to check their checksum).
    let Some(t) = ip.payload().get(8..24) else {
        return drop(DropReason::Malformed);
    };
    let target = std::net::Ipv6Addr::from(<[u8; 16]>::try_from(t).unwrap_or([0; 16]));
    let g6 = &port.groups6;
    // The AVG's case first (one look at the groups); any other address
    // of this interface, or none.
    let avg = if for_avg { g6.avg(target) } else { None };
    if avg.is_none() && !port.is_local6(target) {
        return drop(DropReason::NotForUs);
    }
    let Ok(ns) = icmpv6::Solicit::parse(&*ip) else {
        return drop(DropReason::Malformed);
    };
    if ns.src.is_unspecified() {
        // Duplicate address detection of an address of ours.
        return Verdict::Punt(PuntClass::Nd);
    }
    let host = match ns.lladdr {
        Some(m) => m,
        None => MacAddr::from_bytes(&mac_hdr[6..12]),
    };
    if !host.is_unicast() {
        return drop(DropReason::Malformed);
    }
    let unanswered = || {
        if g6.is_vip(target) {
            drop(DropReason::NdNotAvg)
        } else if idx.is_vmac(dst()) {
            drop(DropReason::NotForUs)
        } else {
            // An own address: the control lcore answers.
            Verdict::Punt(PuntClass::Nd)
        }
    };
    // No room for an answer in place (no source link-layer option, or more
    // options): the control lcore answers.
    let punt = Verdict::Punt(PuntClass::Nd);
    let (group, forwarder, vmac, revalidation) = if for_avg {
        let Some(v) = avg else {
            return unanswered();
        };
        if !ns.fits {
            return punt;
        }
        let b = &v.balance;
        let Some(i) = b.pick(host, turns.get(ingress, v.group), now_ms) else {
            return drop(DropReason::NdNotAvg);
        };
        let (number, vmac) = b.forwarders[i];
        (v.group, number, vmac, false)
    } else {
        // A host's unicast NUD probe of the VMAC it holds: whoever
        // forwards that VMAC answers while it is eligible, AVG or not.
        let dst = dst();
        let reval = g6
            .revalidate
            .iter()
            .find(|r| r.vmac == dst && r.vip == target);
        let Some(r) = reval else {
            return unanswered();
        };
        if !ns.fits {
            return punt;
        }
        (r.group, r.forwarder, r.vmac, true)
    };
    icmpv6::advertise_in_place(
        ip,
        ns.src,
        vmac,
        icmpv6::NA_ROUTER | icmpv6::NA_SOLICITED | icmpv6::NA_OVERRIDE,
    );
    set_macs(mac_hdr, host, port.mac);
    Verdict::NdReply {
        group,
        forwarder,
        revalidation,
    }
}

/// The neighbour a [`Verdict::Unresolved6`] for `frame` asks for: the
/// gateway of next hop `hop`, or the frame's destination.
#[cold]
fn unresolved6<R: Routes>(
    st: &DataplaneState<R>,
    hop: u32,
    frame: &[u8],
) -> Option<std::net::Ipv6Addr> {
    if hop != CONNECTED {
        return st.v6.next_hops.get(hop as usize)?.via;
    }
    let eth = ethernet::Frame::new_checked(frame).ok()?;
    let ip = ipv6::Packet::new_checked(frame.get(eth.header_len()..)?).ok()?;
    Some(ip.dst_addr())
}

/// True for an IPv6 packet whose next header is UDP 3222 (GLBP), to
/// ff02::66 or a link-local address, without checksums.
#[inline]
fn is_glbp_v6(ip_bytes: &[u8]) -> bool {
    let Ok(ip) = ipv6::Packet::new_checked(ip_bytes) else {
        return false;
    };
    let to = ip.dst_addr();
    if ip.next_header() != ipv4::PROTO_UDP || !(to == glbp::MCAST_V6 || ipv6::is_link_local(to)) {
        return false;
    }
    udp::Packet::new_checked(ip.payload()).is_ok_and(|u| u.dst_port() == glbp::UDP_PORT)
}

/// True for an IPv4 packet carrying UDP 3222 (GLBP), without checksums.
#[inline]
fn is_glbp_v4(ip_bytes: &[u8]) -> bool {
    let Ok(ip) = ipv4::Packet::new_checked(ip_bytes) else {
        return false;
    };
    if ip.protocol() != ipv4::PROTO_UDP || ip.is_fragment() {
        return false;
    }
    udp::Packet::new_checked(ip.payload()).is_ok_and(|u| u.dst_port() == glbp::UDP_PORT)
}

/// What a worker keeps between packets: round-robin turns, the last
/// neighbour, and lookup tables derived from the current snapshot.
pub struct Scratch {
    turns: Turns,
    pub(super) last_hop: LastHop,
    pub(super) index: SnapshotIndex,
    /// The burst pipeline's per-burst arrays.
    pub(super) stage: Stage,
    /// The runtime's clock (ms, the control lcore's epoch), set once per
    /// poll round: ages the client cache.
    now_ms: u64,
}

impl Scratch {
    pub fn new(ports: usize) -> Scratch {
        Scratch {
            turns: Turns::new(ports),
            last_hop: LastHop::default(),
            index: SnapshotIndex::default(),
            stage: Stage::default(),
            now_ms: 0,
        }
    }

    /// Sets the clock for the packets of this round.
    #[inline]
    pub fn set_now(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
    }

    /// Call after loading a snapshot: forgets the last neighbour and, when
    /// the snapshot changed, rebuilds the lookup tables (reusing their
    /// memory: no allocation once they have grown to the snapshot's size).
    #[inline]
    pub fn refresh<R: Routes>(&mut self, st: &DataplaneState<R>) {
        self.last_hop.clear();
        let key = (st.generation, std::ptr::from_ref(st) as usize);
        if self.index.key != Some(key) {
            self.index.rebuild(st);
            self.index.key = Some(key);
        }
    }
}

/// The last neighbour resolved, (egress port, next-hop IP, MAC): most
/// traffic goes to one gateway, and a neighbour-table hash lookup per packet
/// cost more than the route lookup. Valid for one snapshot only.
#[derive(Debug, Default)]
pub struct LastHop(pub(super) Option<(u16, Ipv4Addr, MacAddr)>);

impl LastHop {
    /// Forgets the cached neighbour (the snapshot changed).
    #[inline]
    pub fn clear(&mut self) {
        self.0 = None;
    }
}

/// A worker's round-robin counters, per port and group.
pub struct Turns(Vec<Box<[u32]>>);

impl Turns {
    pub fn new(ports: usize) -> Turns {
        let groups = usize::from(glbp::MAX_GROUP) + 1;
        Turns(
            (0..ports)
                .map(|_| vec![0u32; groups].into_boxed_slice())
                .collect(),
        )
    }
    #[inline]
    fn get(&mut self, port: usize, group: u16) -> &mut u32 {
        // Group ids are validated to 0..=1023 by the config and the engine.
        &mut self.0[port][usize::from(group) & 1023]
    }
}

/// Rate limit of resolution requests: a small direct-mapped table of the
/// last request time per (port, neighbour), so a flow to an unresolved
/// neighbour asks the control lcore at most every `gap` TSC ticks.
pub struct RecentRequests {
    slots: [(u16, u32, u64); 64],
}

impl Default for RecentRequests {
    fn default() -> Self {
        RecentRequests {
            slots: [(u16::MAX, 0, 0); 64],
        }
    }
}

impl RecentRequests {
    /// True when (port, ip) was not requested within `gap` of `now`; records
    /// the request.
    #[inline]
    pub fn first_in(&mut self, port: u16, key: u32, now: u64, gap: u64) -> bool {
        let i = (key.wrapping_mul(0x9e37_79b1) >> 26) as usize ^ usize::from(port & 63);
        let slot = &mut self.slots[i & 63];
        if slot.0 == port && slot.1 == key && now.wrapping_sub(slot.2) < gap {
            return false;
        }
        *slot = (port, key, now);
        true
    }
}

/// Hands `m` to the control lcore within `class`'s share of the
/// `[control_plane]` rates (`policers`): GLBP on its own ring (`rings.0`),
/// the rest on the exception ring (`rings.1`). Over the rate, or with the
/// ring full, it is dropped and counted.
#[inline]
fn punt(
    policers: &mut [Policer; PuntClass::COUNT],
    rings: (&MbufRing, &MbufRing),
    class: PuntClass,
    mut m: Mbuf,
    c: &mut Counts,
) {
    let now = dpdk::tsc();
    if !policers[class as usize].allow(now) {
        c.policed[class] += 1;
        return;
    }
    // The interface is in the mbuf: its port and the stripped tag.
    m.set_punt_stamp(punt_stamp(now, class));
    let ring = if class == PuntClass::Glbp {
        rings.0
    } else {
        rings.1
    };
    match ring.enqueue(m) {
        Ok(()) => c.punted += 1,
        Err(_) => c.drop(DropReason::ExceptionFull),
    }
}

/// [`punt`] for a frame without a route, out of the loop's way: it goes
/// to the control lcore without the tag a plain forward keeps in its data.
#[cold]
#[inline(never)]
fn punt_no_route(
    policers: &mut [Policer; PuntClass::COUNT],
    rings: (&MbufRing, &MbufRing),
    mut m: Mbuf,
    c: &mut Counts,
) {
    m.vlan_strip();
    punt(policers, rings, PuntClass::Unreachable, m, c);
}

/// How a worker transmits on one port.
pub enum TxPath {
    /// Its own TX queue.
    Queue(TxQueue),
    /// The port has too few TX queues: hand frames to the lcore that owns
    /// queue 0 through this ring.
    Handoff(Arc<MbufRing>),
}

/// Everything one worker lcore owns.
pub struct Worker {
    pub index: usize,
    /// (port index, queue) pairs this worker polls.
    pub rx: Vec<(usize, RxQueue)>,
    /// The interfaces on the ports: which frames belong to which, and the
    /// tag each needs on transmit.
    pub links: Arc<Links>,
    /// One TX path per port, by port index.
    pub tx: Vec<TxPath>,
    /// Rings whose frames this worker sends on its own TX queue of a port:
    /// (port index, ring).
    pub handoff_in: Vec<(usize, Arc<MbufRing>)>,
    pub exception: Arc<MbufRing>,
    /// GLBP's own ring to the control lcore: other punts cannot fill it.
    pub glbp: Arc<MbufRing>,
    /// This worker's share of the `[control_plane]` rates, by punt class.
    pub policers: [Policer; PuntClass::COUNT],
    /// Neighbours to resolve, to the control lcore.
    pub resolve: Arc<ArrayQueue<(u16, std::net::IpAddr)>>,
    pub state: Arc<ArcSwap<DataplaneState>>,
    pub counters: Arc<Shared>,
    pub clients: Arc<ArpClients>,
    pub stop: Arc<AtomicBool>,
    pub idle: Idle,
    pub burst: usize,
    /// (TSC at the control lcore's clock epoch, TSC ticks per ms): the
    /// workers' millisecond clock, the same as the control lcore's.
    pub clock: (u64, u64),
}

/// Longest time a busy worker's published counters lag behind (µs).
const PUBLISH_US: u64 = 100;
/// Empty rounds before an adaptive worker starts to sleep.
const IDLE_SPIN_ROUNDS: u32 = 256;
/// A port that carries VLANs whose burst changed VLAN before its middle
/// has this many bursts sorted frame by frame before the pipeline tries
/// the first frame's VLAN again: with VLANs interleaved, trying costs a
/// second look at the frame where the VLAN changes and buys nothing.
const MIXED_BURSTS: u32 = 16;
/// Longest adaptive sleep.
const IDLE_MAX_SLEEP: Duration = Duration::from_millis(1);

impl Worker {
    /// The poll loop; returns when `stop` is set.
    pub fn run(mut self) -> i32 {
        let nports = self.tx.len();
        let mut c = Counts::new(nports);
        let mut rx = Burst::new();
        let mut scratch = Scratch::new(self.links.ifaces.len());
        let mut ingress = [NO_IFACE; dpdk::MAX_BURST];
        let mut inline = [false; dpdk::MAX_BURST];
        let plain = self.links.is_plain() && self.links.ifaces.len() == nports;
        // By port: bursts still to sort frame by frame (`MIXED_BURSTS`).
        let mut sort_bursts = vec![0u32; nports];
        let mut verdicts = [Verdict::Drop(DropReason::Other); dpdk::MAX_BURST];
        let mut out: Vec<Burst> = (0..nports).map(|_| Burst::new()).collect();
        let mut empty_rounds = 0u32;
        let mut recent = RecentRequests::default();
        let resolve_gap = dpdk::tsc_hz() / 10;
        let mut sleep = Duration::from_micros(10);
        // The snapshot, reloaded only when the control lcore swapped in a
        // new one (one atomic load per round otherwise).
        let mut snapshot = arc_swap::Cache::new(Arc::clone(&self.state));
        // Counters are published at most every PUBLISH_US while busy (and on
        // every idle round): ~45 stores per round otherwise.
        let publish_gap = dpdk::tsc_hz() / 1_000_000 * PUBLISH_US;
        let mut published = 0u64;
        while !self.stop.load(Ordering::Relaxed) {
            let st = snapshot.load();
            scratch.refresh(st);
            let now = dpdk::tsc();
            scratch.set_now(now.wrapping_sub(self.clock.0) / self.clock.1);
            let mut got = 0;
            for (pidx, q) in &mut self.rx {
                let n = q.rx_limited(&mut rx, self.burst);
                if n == 0 {
                    continue;
                }
                got += n;
                let Some(port) = self.links.ports.get(*pidx) else {
                    continue;
                };
                // A port without VLANs: one interface, no tag to look at.
                // With VLANs, the pipeline sorts the frames by tag as it
                // classifies them (a burst of one VLAN, the common case,
                // with one comparison per frame).
                let one = port.vlans.is_none().then_some(usize::from(port.untagged));
                let sum = match one {
                    Some(mut iface) => process_burst(
                        rx.as_mut_slice(),
                        &mut iface,
                        st,
                        &mut scratch,
                        &mut verdicts,
                    ),
                    None => {
                        // After a burst that changed VLAN early, sort a
                        // few bursts frame by frame without first trying
                        // the first frame's VLAN (see `MIXED_BURSTS`).
                        let frames = rx.as_mut_slice();
                        let sorting = sort_bursts.get_mut(*pidx);
                        let first = match sorting {
                            Some(left) if *left > 0 => {
                                *left -= 1;
                                None
                            }
                            _ => frames.first_mut(),
                        };
                        let guessed = first.is_some();
                        let mut demux = Demux::new(port, first, &mut ingress, &mut inline);
                        let sum =
                            process_burst(frames, &mut demux, st, &mut scratch, &mut verdicts);
                        if guessed && sum.on_fixed * 2 < n {
                            if let Some(left) = sort_bursts.get_mut(*pidx) {
                                *left = MIXED_BURSTS;
                            }
                        }
                        sum
                    }
                };
                c.rx_packets[*pidx] += n as u64;
                c.rx_bytes[*pidx] += sum.bytes;
                let uniform = sum
                    .uniform
                    .and_then(|i| self.links.ifaces.get(usize::from(i)))
                    .filter(|(p, vlan)| *vlan == 0 && usize::from(*p) < nports);
                if let Some(&(p, _)) = uniform {
                    // The whole burst goes untagged to one port: one move.
                    let p = usize::from(p);
                    c.forwarded += n as u64;
                    if out[p].append(&mut rx) < n {
                        flush(&mut self.tx[p], &mut out[p], p, &mut c);
                        out[p].append(&mut rx);
                    }
                    // Nothing is left (the flushed batch is empty), but
                    // never let a frame wait for the next burst.
                    for m in rx.drain() {
                        c.drop(DropReason::TxFull);
                        drop(m);
                    }
                    continue;
                }
                for (i, (mut m, &v)) in rx.drain().zip(verdicts.iter()).enumerate() {
                    let iface = match v {
                        Verdict::Forward(p) => {
                            c.forwarded += 1;
                            p
                        }
                        Verdict::ArpReply {
                            group,
                            forwarder,
                            revalidation,
                        }
                        | Verdict::NdReply {
                            group,
                            forwarder,
                            revalidation,
                        } => {
                            // Back out of the interface it came in on.
                            let iface = one.unwrap_or_else(|| ingress.at(i));
                            if matches!(v, Verdict::NdReply { .. }) {
                                c.nd_replies += 1;
                            } else {
                                c.arp_replies += 1;
                                c.arp_by_forwarder[usize::from(forwarder.clamp(1, 4) - 1)] += 1;
                            }
                            if !revalidation {
                                self.clients.bump(iface, group, forwarder);
                            }
                            iface as u16
                        }
                        Verdict::Punt(class) => {
                            let rings = (&*self.glbp, &*self.exception);
                            punt(&mut self.policers, rings, class, m, &mut c);
                            continue;
                        }
                        Verdict::Drop(DropReason::NoRoute) => {
                            // Dropped, and handed over (within its rate)
                            // to be quoted in a destination unreachable.
                            // Out of line: inline, it cost the ARP
                            // replies of this loop 2 % (layout).
                            c.drop(DropReason::NoRoute);
                            let rings = (&*self.glbp, &*self.exception);
                            punt_no_route(&mut self.policers, rings, m, &mut c);
                            continue;
                        }
                        Verdict::Drop(why) => {
                            c.drop(why);
                            drop(m);
                            continue;
                        }
                        Verdict::Unresolved(iface, ip) => {
                            c.drop(DropReason::Unresolved);
                            drop(m);
                            if recent.first_in(iface, u32::from(ip), dpdk::tsc(), resolve_gap) {
                                // Full queue: the next packet asks again.
                                let _ = self.resolve.push((iface, std::net::IpAddr::V4(ip)));
                            }
                            continue;
                        }
                        Verdict::Unresolved6 { port, hop } => {
                            c.drop(DropReason::Unresolved);
                            let ip = unresolved6(st, hop, m.data());
                            drop(m);
                            if let Some(ip) = ip {
                                let key = (u128::from(ip) % 0xffff_fffb) as u32;
                                if recent.first_in(port, key, dpdk::tsc(), resolve_gap) {
                                    let _ = self.resolve.push((port, std::net::IpAddr::V6(ip)));
                                }
                            }
                            continue;
                        }
                    };
                    // Without any VLAN, interface i is port i (the path
                    // as it was before VLANs).
                    let p = if plain {
                        usize::from(iface)
                    } else {
                        match egress(&self.links, iface, &mut m) {
                            Some(p) => p,
                            None => {
                                c.drop(DropReason::Other);
                                drop(m);
                                continue;
                            }
                        }
                    };
                    if out[p].is_full() {
                        flush(&mut self.tx[p], &mut out[p], p, &mut c);
                    }
                    if let Err(m) = out[p].push(m) {
                        c.drop(DropReason::TxFull);
                        drop(m);
                    }
                }
            }
            for (p, ring) in &self.handoff_in {
                got += ring.dequeue_burst(&mut out[*p]);
            }
            for (p, b) in out.iter_mut().enumerate() {
                flush(&mut self.tx[p], b, p, &mut c);
            }
            if got == 0 || now.wrapping_sub(published) >= publish_gap {
                self.counters.publish(&c);
                published = now;
            }
            if got > 0 {
                empty_rounds = 0;
                sleep = Duration::from_micros(10);
            } else if self.idle == Idle::Adaptive {
                empty_rounds += 1;
                if empty_rounds > IDLE_SPIN_ROUNDS {
                    std::thread::sleep(sleep);
                    sleep = (sleep * 2).min(IDLE_MAX_SLEEP);
                }
            }
        }
        // Whatever is still queued for transmission is freed here.
        drop(out);
        self.counters.publish(&c);
        0
    }
}

/// The physical port a frame for interface `iface` leaves by, with the
/// interface's 802.1Q tag put on it (by the device where it offers that);
/// None for an unknown interface or a frame without room for the tag.
#[inline]
pub(crate) fn egress(links: &Links, iface: u16, m: &mut dpdk::Mbuf) -> Option<usize> {
    let &(port, vlan) = links.ifaces.get(usize::from(iface))?;
    let p = links.ports.get(usize::from(port))?;
    (vlan == 0 || m.vlan_insert(vlan, p.tx_vlan_offload)).then_some(usize::from(port))
}

/// Sends what `b` holds on `path`; what the device refuses is dropped and
/// counted (never retried in a loop: a stuck device must not stall RX).
/// Frames handed off to another lcore are counted by the lcore that sends
/// them.
#[inline]
pub(crate) fn flush(path: &mut TxPath, b: &mut Burst, port: usize, c: &mut Counts) {
    if b.is_empty() {
        return;
    }
    match path {
        TxPath::Queue(q) => {
            let bytes: u64 = b.iter_lens().map(u64::from).sum();
            let sent = q.tx(b);
            // What the device refused is still in `b` (rarely anything).
            let left: u64 = if b.is_empty() {
                0
            } else {
                b.iter_lens().map(u64::from).sum()
            };
            c.tx_packets[port] += sent as u64;
            c.tx_bytes[port] += bytes - left;
        }
        TxPath::Handoff(r) => {
            r.enqueue_burst(b);
        }
    }
    for m in b.drain() {
        c.drop(DropReason::TxFull);
        drop(m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refresh_process(
        pkt: &mut [u8],
        ingress: usize,
        st: &DataplaneState<LinearRoutes>,
        sc: &mut Scratch,
    ) -> Verdict {
        sc.refresh(st);
        process(pkt, ingress, st, sc)
    }
    use crate::config::Ipv4Net;
    use crate::protocol::lb::Balance;
    use crate::protocol::{vmac, LoadBalancing};
    use crate::runtime::dataplane::state::{
        FxMap, LinearRoutes, NextHop, PortView, Revalidate, VipBalance,
    };
    use crate::wire::MacAddr;

    const LAN_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
    const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

    fn state(
        avg: Vec<VipBalance>,
        silent: Vec<Ipv4Addr>,
        vmacs: Vec<MacAddr>,
    ) -> DataplaneState<LinearRoutes> {
        let lan: Ipv4Net = "10.0.0.2/24".parse().unwrap();
        let up: Ipv4Net = "192.0.2.2/24".parse().unwrap();
        let mut up_nb = FxMap::default();
        up_nb.insert(Ipv4Addr::new(192, 0, 2, 1), MacAddr([2, 0, 0, 0, 0, 0xfe]));
        let mut p0 = PortView::bare("lan0", LAN_MAC, lan);
        p0.avg = avg;
        p0.silent = silent;
        p0.vmacs = vmacs;
        let mut p1 = PortView::bare("up0", MacAddr([2, 0, 0, 0, 0, 2]), up);
        p1.neighbors = up_nb;
        let routes = LinearRoutes(vec![("0.0.0.0/0".parse().unwrap(), 0)]);
        DataplaneState {
            generation: 1,
            ports: vec![p0, p1],
            routes: std::sync::Arc::new(routes),
            next_hops: vec![NextHop {
                port: 1,
                via: Some(Ipv4Addr::new(192, 0, 2, 1)),
            }],
            v6: crate::runtime::dataplane::state::V6Routes::default(),
        }
    }

    fn host(i: u32) -> MacAddr {
        let b = i.to_be_bytes();
        MacAddr([0x02, 0x10, b[0], b[1], b[2], b[3]])
    }

    fn arp_request(h: MacAddr, ip: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&h.0);
        f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
        f.extend_from_slice(&h.0);
        f.extend_from_slice(&ip.octets());
        f.extend_from_slice(&[0; 6]);
        f.extend_from_slice(&target.octets());
        f.resize(60, 0);
        f
    }

    fn balance(method: LoadBalancing, weights: &[u8]) -> VipBalance {
        let f: Vec<(u8, MacAddr, u8)> = weights
            .iter()
            .enumerate()
            .map(|(i, w)| (i as u8 + 1, vmac(1, i as u8 + 1), *w))
            .collect();
        VipBalance::new(1, VIP, Balance::new(method, &f, None))
    }

    /// Answers 1000 distinct hosts; returns replies per forwarder.
    fn thousand(st: &DataplaneState<LinearRoutes>) -> [u32; 4] {
        let mut turns = Scratch::new(2);
        let mut n = [0u32; 4];
        for i in 0..1000 {
            let h = host(i);
            let hip = Ipv4Addr::from(0x0a00_0000 + 100 + i);
            let mut f = arp_request(h, hip, VIP);
            let v = refresh_process(&mut f, 0, st, &mut turns);
            let Verdict::ArpReply {
                group: 1,
                forwarder,
                revalidation: false,
            } = v
            else {
                panic!("{v:?}")
            };
            // The reply, byte for byte: unicast to the host from the port's
            // MAC, "VIP is at VMAC".
            let mut want = h.0.to_vec();
            want.extend_from_slice(&LAN_MAC.0);
            want.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2]);
            want.extend_from_slice(&vmac(1, forwarder).0);
            want.extend_from_slice(&VIP.octets());
            want.extend_from_slice(&h.0);
            want.extend_from_slice(&hip.octets());
            want.resize(60, 0);
            assert_eq!(f, want, "reply to host {i}");
            n[usize::from(forwarder - 1)] += 1;
        }
        n
    }

    #[test]
    fn round_robin_answers_spread_within_one() {
        let n = thousand(&state(
            vec![balance(LoadBalancing::RoundRobin, &[100, 100, 100])],
            vec![],
            vec![],
        ));
        assert_eq!(n, [334, 333, 333, 0]);
    }

    #[test]
    fn weighted_answers_follow_the_weights() {
        let n = thousand(&state(
            vec![balance(LoadBalancing::Weighted, &[100, 50, 100, 50])],
            vec![],
            vec![],
        ));
        // 100:50:100:50 of 1000 = 333.3, 166.7, 333.3, 166.7: within 1 %.
        for (got, want) in n.iter().zip([333.3, 166.7, 333.3, 166.7]) {
            assert!((f64::from(*got) - want).abs() <= 10.0, "{n:?}");
        }
    }

    #[test]
    fn host_dependent_answers_are_stable_and_spread() {
        let st = state(
            vec![balance(LoadBalancing::HostDependent, &[100, 100, 100])],
            vec![],
            vec![],
        );
        let first = thousand(&st);
        assert_eq!(first, thousand(&st), "same hosts, same forwarders");
        assert!(
            first[..3].iter().all(|&x| (250..420).contains(&x)),
            "{first:?}"
        );
        // A fourth forwarder moves only the hosts it wins (rendezvous hashing).
        let more = state(
            vec![balance(LoadBalancing::HostDependent, &[100, 100, 100, 100])],
            vec![],
            vec![],
        );
        let mut turns = Scratch::new(2);
        let mut moved_elsewhere = 0;
        for i in 0..1000 {
            let pick = |st: &DataplaneState<LinearRoutes>, turns: &mut Scratch| {
                let mut f = arp_request(host(i), Ipv4Addr::new(10, 0, 0, 9), VIP);
                match refresh_process(&mut f, 0, st, turns) {
                    Verdict::ArpReply { forwarder, .. } => forwarder,
                    v => panic!("{v:?}"),
                }
            };
            let (a, b) = (pick(&st, &mut turns), pick(&more, &mut turns));
            if a != b && b != 4 {
                moved_elsewhere += 1;
            }
        }
        assert_eq!(moved_elsewhere, 0, "hosts only move to the new forwarder");
    }

    fn unicast_arp(h: MacAddr, to: MacAddr, ip: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
        let mut f = arp_request(h, ip, target);
        f[..6].copy_from_slice(&to.0);
        f
    }

    /// Issue 13, item 1: a host's unicast re-validation to a VMAC this node
    /// forwards is answered with that VMAC (AVG or not) while it is
    /// eligible; a held VMAC no longer eligible stays silent, and the AVG
    /// does not hand a re-validating host the next forwarder in turn.
    #[test]
    fn unicast_revalidation_is_answered_with_the_held_vmac() {
        let held = vmac(1, 2);
        let mut st = state(vec![], vec![VIP], vec![held, vmac(1, 3)]);
        st.ports[0].revalidate = vec![Revalidate {
            vmac: held,
            vip: VIP,
            group: 1,
            forwarder: 2,
        }];
        let mut sc = Scratch::new(2);
        let hip = Ipv4Addr::new(10, 0, 0, 77);
        let mut f = unicast_arp(host(5), held, hip, VIP);
        assert_eq!(
            refresh_process(&mut f, 0, &st, &mut sc),
            Verdict::ArpReply {
                group: 1,
                forwarder: 2,
                revalidation: true
            }
        );
        let reply = arp::Packet::new_checked(&f[14..]).unwrap();
        assert_eq!(reply.sender_hw_addr(), held);
        assert_eq!(reply.target_hw_addr(), host(5));
        assert_eq!(&f[..6], &host(5).0, "unicast to the host");
        assert_eq!(&f[6..12], &LAN_MAC.0, "from the port's MAC, as the AVG");
        // Held but past redirect (not published): silent.
        let mut f = unicast_arp(host(5), vmac(1, 3), hip, VIP);
        assert_eq!(
            refresh_process(&mut f, 0, &st, &mut sc),
            Verdict::Drop(DropReason::ArpNotAvg)
        );
        // Not held at all.
        let mut f = unicast_arp(host(5), vmac(1, 4), hip, VIP);
        assert_eq!(
            refresh_process(&mut f, 0, &st, &mut sc),
            Verdict::Drop(DropReason::NotForUs)
        );
        // The AVG: re-validations of its VMAC keep the VMAC, whatever the turn.
        let mut st = state(
            vec![balance(LoadBalancing::RoundRobin, &[100, 100, 100])],
            vec![],
            vec![vmac(1, 1)],
        );
        st.ports[0].revalidate = vec![Revalidate {
            vmac: vmac(1, 1),
            vip: VIP,
            group: 1,
            forwarder: 1,
        }];
        for i in 0..6 {
            let mut f = unicast_arp(host(i), vmac(1, 1), hip, VIP);
            assert!(matches!(
                refresh_process(&mut f, 0, &st, &mut sc),
                Verdict::ArpReply { forwarder: 1, .. }
            ));
        }
    }

    /// The client cache in the worker: a host that broadcasts again gets
    /// the forwarder it got before, while that one is still eligible; the
    /// table ages entries with the worker's clock.
    #[test]
    fn client_cache_keeps_hosts_on_their_forwarder() {
        use crate::protocol::lb::ClientTable;
        use crate::protocol::ClientCache;
        let table = ClientTable::new(ClientCache {
            max: 64,
            timeout_s: 10,
        });
        let f: Vec<(u8, MacAddr, u8)> = (1..=3).map(|n| (n, vmac(1, n), 100)).collect();
        let b = VipBalance::new(
            1,
            VIP,
            Balance::new(LoadBalancing::RoundRobin, &f, table.clone()),
        );
        let st = state(vec![b], vec![], vec![]);
        let mut sc = Scratch::new(2);
        let ask = |sc: &mut Scratch, i: u32| {
            let mut f = arp_request(host(i), Ipv4Addr::new(10, 0, 0, 9), VIP);
            match refresh_process(&mut f, 0, &st, sc) {
                Verdict::ArpReply { forwarder, .. } => forwarder,
                v => panic!("{v:?}"),
            }
        };
        sc.set_now(1000);
        let first: Vec<u8> = (0..6).map(|i| ask(&mut sc, i)).collect();
        assert_eq!(first, [1, 2, 3, 1, 2, 3]);
        sc.set_now(5000);
        for i in (0..6).rev() {
            assert_eq!(ask(&mut sc, i), first[i as usize], "host {i}");
        }
        assert_eq!(table.as_ref().unwrap().entries(5000).len(), 6);
        // Aged out 10 s after the last answer: a fresh round-robin pick.
        sc.set_now(15_001);
        let again: Vec<u8> = (0..6).map(|i| ask(&mut sc, 5 - i)).collect();
        assert_ne!(again, [3, 2, 1, 3, 2, 1]);
    }

    #[test]
    fn a_member_that_is_not_avg_stays_silent() {
        let st = state(vec![], vec![VIP], vec![]);
        let mut f = arp_request(host(1), Ipv4Addr::new(10, 0, 0, 9), VIP);
        let orig = f.clone();
        assert_eq!(
            refresh_process(&mut f, 0, &st, &mut Scratch::new(2)),
            Verdict::Drop(DropReason::ArpNotAvg)
        );
        assert_eq!(f, orig, "the request is not touched");
        // ARP for the router's own address goes to the control lcore.
        let mut own = arp_request(
            host(1),
            Ipv4Addr::new(10, 0, 0, 9),
            Ipv4Addr::new(10, 0, 0, 2),
        );
        assert_eq!(
            refresh_process(&mut own, 0, &st, &mut Scratch::new(2)),
            Verdict::Punt(PuntClass::Arp)
        );
    }

    /// GLBP over IPv6 goes to the control lcore: hellos to ff02::66 and
    /// unicast requests to the port's MAC; other IPv6 (and GLBPv6 to
    /// someone else's MAC) is dropped as unsupported.
    #[test]
    fn glbp_over_ipv6_is_punted() {
        use crate::wire::glbp::frame::FrameBuilder;
        use crate::wire::glbp::{auth::AuthKey, GlbpRepr, HelloRepr, VgState};
        use std::net::IpAddr;
        let st = state(vec![], vec![], vec![]);
        let peer = MacAddr([2, 0, 0, 0, 0, 9]);
        let ll = |x: u16| std::net::Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, x);
        let msg = GlbpRepr {
            group: 46,
            owner: peer,
            auth: None,
            nonce: None,
            hello: Some(HelloRepr {
                state: VgState::Active,
                priority: 100,
                hello_ms: 3000,
                hold_ms: 10_000,
                redirect_s: 600,
                timeout_s: 14400,
                vip: IpAddr::V6(glbp::virtual_link_local(46).unwrap()),
            }),
            forwarders: vec![],
        };
        let verdict = |b: FrameBuilder| {
            let mut f = b.build_vec(&msg, &AuthKey::None).unwrap();
            refresh_process(&mut f, 0, &st, &mut Scratch::new(2))
        };
        let hello = FrameBuilder::multicast_v6(peer, ll(9));
        assert_eq!(verdict(hello), Verdict::Punt(PuntClass::Glbp));
        let to_us = FrameBuilder::unicast(peer, LAN_MAC, IpAddr::V6(ll(9)), IpAddr::V6(ll(2)));
        assert_eq!(verdict(to_us), Verdict::Punt(PuntClass::Glbp));
        let to_other = FrameBuilder::unicast(
            peer,
            MacAddr([2, 0, 0, 0, 0, 7]),
            IpAddr::V6(ll(9)),
            IpAddr::V6(ll(7)),
        );
        assert_eq!(verdict(to_other), Verdict::Drop(DropReason::NotForUs));
        // UDP to another port, to ff02::66: not GLBP.
        let mut f = hello.build_vec(&msg, &AuthKey::None).unwrap();
        f[14 + 40 + 2..14 + 40 + 4].copy_from_slice(&3223u16.to_be_bytes());
        assert_eq!(
            refresh_process(&mut f, 0, &st, &mut Scratch::new(2)),
            Verdict::Drop(DropReason::Unsupported)
        );
    }

    /// A host's neighbour solicitation: from `h` (link-local `fe80::h`)
    /// for `target`, to `eth_dst` (the solicited-node group's MAC when
    /// `None`), at hop limit `hl`, with or without its link-layer option.
    fn solicitation(
        h: MacAddr,
        target: std::net::Ipv6Addr,
        eth_dst: Option<MacAddr>,
        hl: u8,
        lladdr: bool,
    ) -> Vec<u8> {
        use crate::wire::icmpv6::{multicast_mac, solicited_node, Icmpv6Repr};
        use crate::wire::ipv6::Ipv6Repr;
        let src = h.link_local();
        let dst = match eth_dst {
            None => solicited_node(target),
            Some(_) => target,
        };
        let msg = Icmpv6Repr::NeighborSolicit {
            target,
            lladdr: lladdr.then_some(h),
        };
        let mut f = vec![0u8; 14 + 40 + msg.buffer_len()];
        f[..6].copy_from_slice(&eth_dst.unwrap_or(multicast_mac(dst)).0);
        f[6..12].copy_from_slice(&h.0);
        f[12..14].copy_from_slice(&ethernet::ETHERTYPE_IPV6.to_be_bytes());
        let ip = Ipv6Repr {
            src,
            dst,
            next_header: icmpv6::PROTO_ICMPV6,
            payload_len: msg.buffer_len(),
            hop_limit: hl,
            traffic_class: 0,
        };
        ip.emit(&mut f[14..]).unwrap();
        msg.emit(src, dst, &mut f[54..]).unwrap();
        f
    }

    /// IPv6 group 46 on lan0, with this node as AVG (or silent) and
    /// holding forwarder 2 (re-validations answered).
    fn state6(avg: bool) -> (DataplaneState<LinearRoutes>, std::net::Ipv6Addr) {
        let vip6 = glbp::virtual_link_local(46).unwrap();
        let mut st = state(vec![], vec![], vec![vmac(46, 2)]);
        let f: Vec<(u8, MacAddr, u8)> = (1..=3).map(|i| (i, vmac(46, i), 100)).collect();
        let g6 = &mut st.ports[0].groups6;
        if avg {
            g6.avg.push(VipBalance::new(
                46,
                vip6,
                Balance::new(LoadBalancing::RoundRobin, &f, None),
            ));
        } else {
            g6.silent.push(vip6);
        }
        g6.revalidate.push(Revalidate {
            vmac: vmac(46, 2),
            vip: vip6,
            group: 46,
            forwarder: 2,
        });
        (st, vip6)
    }

    #[test]
    fn the_avg_answers_solicitations_for_the_virtual_address_in_place() {
        use crate::wire::icmpv6::{Icmpv6Repr, NA_OVERRIDE, NA_ROUTER, NA_SOLICITED};
        let (st, vip6) = state6(true);
        let mut sc = Scratch::new(2);
        let mut by = [0u32; 3];
        for i in 0..30 {
            let h = host(i);
            let mut f = solicitation(h, vip6, None, 255, true);
            let len = f.len();
            let v = refresh_process(&mut f, 0, &st, &mut sc);
            let Verdict::NdReply {
                group: 46,
                forwarder,
                revalidation: false,
            } = v
            else {
                panic!("{v:?}")
            };
            by[usize::from(forwarder) - 1] += 1;
            // Unicast to the host from the port's MAC; from the virtual
            // address to the host's; "vip is at the chosen VMAC".
            assert_eq!(f.len(), len);
            assert_eq!(&f[..6], &h.0);
            assert_eq!(&f[6..12], &LAN_MAC.0);
            let ip = ipv6::Packet::new_checked(&f[14..]).unwrap();
            assert_eq!(
                (ip.src_addr(), ip.dst_addr(), ip.hop_limit()),
                (vip6, h.link_local(), 255)
            );
            let na = Icmpv6Repr::parse(ip.src_addr(), ip.dst_addr(), 255, ip.payload()).unwrap();
            assert_eq!(
                na,
                Icmpv6Repr::NeighborAdvert {
                    flags: NA_ROUTER | NA_SOLICITED | NA_OVERRIDE,
                    target: vip6,
                    lladdr: Some(vmac(46, forwarder)),
                }
            );
        }
        assert_eq!(by, [10, 10, 10], "round robin over three forwarders");

        // A unicast NUD probe of the VMAC this node holds: that VMAC.
        let mut f = solicitation(host(1), vip6, Some(vmac(46, 2)), 255, true);
        assert_eq!(
            refresh_process(&mut f, 0, &st, &mut sc),
            Verdict::NdReply {
                group: 46,
                forwarder: 2,
                revalidation: true
            }
        );
        let ip = ipv6::Packet::new_checked(&f[14..]).unwrap();
        assert_eq!(&ip.payload()[26..32], &vmac(46, 2).0);
    }

    #[test]
    fn solicitations_the_workers_do_not_answer() {
        let (st, vip6) = state6(false);
        let mut sc = Scratch::new(2);
        let mut v = |f: &mut Vec<u8>| refresh_process(f, 0, &st, &mut sc);
        // Not AVG: silent, counted.
        let mut f = solicitation(host(1), vip6, None, 255, true);
        assert_eq!(v(&mut f), Verdict::Drop(DropReason::NdNotAvg));
        // NUD for a VMAC held elsewhere: silent too.
        let mut f = solicitation(host(1), vip6, Some(vmac(46, 3)), 255, true);
        assert_eq!(v(&mut f), Verdict::Drop(DropReason::NotForUs));
        // NUD for the VMAC held here: answered, AVG or not.
        let mut f = solicitation(host(1), vip6, Some(vmac(46, 2)), 255, true);
        assert!(matches!(v(&mut f), Verdict::NdReply { forwarder: 2, .. }));
        // Our own link-local: the control lcore answers.
        let own = LAN_MAC.link_local();
        let mut f = solicitation(host(1), own, None, 255, true);
        assert_eq!(v(&mut f), Verdict::Punt(PuntClass::Nd));
        // Another host's address: not ours (no checksum work either).
        let mut f = solicitation(host(1), host(2).link_local(), None, 255, true);
        assert_eq!(v(&mut f), Verdict::Drop(DropReason::NotForUs));
        // Forwarded from off link (hop limit 254): invalid.
        let mut f = solicitation(host(1), own, None, 254, true);
        assert_eq!(v(&mut f), Verdict::Drop(DropReason::Malformed));
        // A bad checksum.
        let mut f = solicitation(host(1), own, None, 255, true);
        f[60] ^= 0x40;
        assert_eq!(v(&mut f), Verdict::Drop(DropReason::Malformed));

        // AVG, but no link-layer option: no room in place; punted.
        let (st, vip6) = state6(true);
        let mut f = solicitation(host(1), vip6, None, 255, false);
        assert_eq!(
            refresh_process(&mut f, 0, &st, &mut Scratch::new(2)),
            Verdict::Punt(PuntClass::Nd)
        );
    }

    #[test]
    fn mld_queries_are_punted_and_reports_dropped() {
        let (st, _) = state6(false);
        let mut sc = Scratch::new(2);
        // An MLDv2 general query to ff02::1 (as scapy builds it).
        let mut f = vec![0x33, 0x33, 0, 0, 0, 1];
        f.extend_from_slice(&host(1).0);
        f.extend_from_slice(&ethernet::ETHERTYPE_IPV6.to_be_bytes());
        f.extend(crate::wire::tests_hex(
            "6000000000240001fe800000000000000000000000000001\
             ff0200000000000000000000000000013a0005020000010082005913271000000000000000000000\
             000000000000000000000000",
        ));
        let mut q = f.clone();
        assert_eq!(
            refresh_process(&mut q, 0, &st, &mut sc),
            Verdict::Punt(PuntClass::Nd)
        );
        // Another listener's report (type 143): not for the control lcore.
        let mut r = f.clone();
        r[14 + 48] = icmpv6::TYPE_MLD2_REPORT;
        assert!(matches!(
            refresh_process(&mut r, 0, &st, &mut sc),
            Verdict::Drop(_)
        ));
    }

    /// IPv6 UDP from `src` to `dst` at Ethernet `eth_dst`, hop limit `hl`.
    fn udp6(eth_dst: MacAddr, src: &str, dst: &str, hl: u8) -> Vec<u8> {
        use crate::wire::ipv6::Ipv6Repr;
        let mut f = vec![0u8; 14 + 40 + 8];
        f[..6].copy_from_slice(&eth_dst.0);
        f[6..12].copy_from_slice(&host(1).0);
        f[12..14].copy_from_slice(&ethernet::ETHERTYPE_IPV6.to_be_bytes());
        Ipv6Repr {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            next_header: ipv4::PROTO_UDP,
            payload_len: 8,
            hop_limit: hl,
            traffic_class: 0,
        }
        .emit(&mut f[14..])
        .unwrap();
        f
    }

    #[test]
    fn ipv6_is_routed_through_the_v6_table() {
        use crate::runtime::dataplane::state::{LinearRoutes6, V6Routes};
        let (mut st, _) = state6(true);
        let gw: std::net::Ipv6Addr = "2001:db8:ff::1".parse().unwrap();
        let server: std::net::Ipv6Addr = "2001:db8:ff::100".parse().unwrap();
        let up_mac = st.ports[1].mac;
        st.ports[0].address6 = vec!["2001:db8:10::2".parse().unwrap()];
        st.v6 = V6Routes {
            routes: std::sync::Arc::new(LinearRoutes6(vec![
                ("2001:db8:10::/64".parse().unwrap(), 0),
                ("2001:db8:ff::/64".parse().unwrap(), 1),
                ("::/0".parse().unwrap(), 2),
            ])),
            next_hops: vec![
                NextHop { port: 0, via: None },
                NextHop { port: 1, via: None },
                NextHop {
                    port: 1,
                    via: Some(gw),
                },
            ],
        };
        let server_mac = MacAddr([2, 0, 0, 0, 0, 0xee]);
        st.ports[1].neighbors6.insert(server, server_mac);
        let held = vmac(46, 2);
        let mut sc = Scratch::new(2);
        let mut v = |f: &mut Vec<u8>| refresh_process(f, 0, &st, &mut sc);

        // To the server through the VMAC held here: routed, hop limit
        // decremented, from the uplink's MAC to the server's.
        let mut f = udp6(held, "2001:db8:10::5", "2001:db8:ff::100", 64);
        assert_eq!(v(&mut f), Verdict::Forward(1));
        assert_eq!((&f[..6], &f[6..12]), (&server_mac.0[..], &up_mac.0[..]));
        assert_eq!(f[14 + 7], 63);
        // Through the port's own MAC too; not through a VMAC held elsewhere.
        let mut f = udp6(LAN_MAC, "2001:db8:10::5", "2001:db8:ff::100", 64);
        assert_eq!(v(&mut f), Verdict::Forward(1));
        let mut f = udp6(vmac(46, 3), "2001:db8:10::5", "2001:db8:ff::100", 64);
        assert_eq!(v(&mut f), Verdict::Drop(DropReason::NotForUs));
        // Unresolved: the destination itself, or the gateway.
        let mut f = udp6(held, "2001:db8:10::5", "2001:db8:ff::7", 64);
        assert_eq!(
            v(&mut f),
            Verdict::Unresolved6 {
                port: 1,
                hop: CONNECTED
            }
        );
        assert_eq!(
            unresolved6(&st, CONNECTED, &f),
            Some("2001:db8:ff::7".parse().unwrap())
        );
        let mut f = udp6(held, "2001:db8:10::5", "2001:db8:77::1", 64);
        assert_eq!(v(&mut f), Verdict::Unresolved6 { port: 1, hop: 2 });
        assert_eq!(unresolved6(&st, 2, &f), Some(gw));
        // Expiring here: the control lcore says so. Link-local scope is
        // never routed; an own address is for the control lcore.
        let mut f = udp6(held, "2001:db8:10::5", "2001:db8:ff::100", 1);
        assert_eq!(v(&mut f), Verdict::Punt(PuntClass::TtlExpired));
        let mut f = udp6(held, "fe80::5", "2001:db8:ff::100", 64);
        assert_eq!(v(&mut f), Verdict::Drop(DropReason::Other));
        let mut f = udp6(held, "2001:db8:10::5", "2001:db8:10::2", 64);
        assert_eq!(v(&mut f), Verdict::Punt(PuntClass::Own));
    }

    #[test]
    fn frames_to_a_vmac_are_forwarded_only_while_held() {
        let held = vmac(1, 2);
        let frame = |dst: MacAddr| {
            let mut f = dst.0.to_vec();
            f.extend_from_slice(&host(1).0);
            f.extend_from_slice(&[0x08, 0x00]);
            let mut ip = vec![
                0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 9, 198, 51, 100, 7,
            ];
            let ck = !crate::wire::checksum::data(&ip);
            ip[10..12].copy_from_slice(&ck.to_be_bytes());
            f.extend_from_slice(&ip);
            f.extend_from_slice(&[0; 8]);
            f.resize(60, 0);
            f
        };
        let st = state(vec![], vec![VIP], vec![held]);
        let mut turns = Scratch::new(2);
        let mut f = frame(held);
        assert_eq!(
            refresh_process(&mut f, 0, &st, &mut turns),
            Verdict::Forward(1)
        );
        assert_eq!(&f[0..6], &[2, 0, 0, 0, 0, 0xfe], "to the gateway");
        assert_eq!(&f[6..12], &[2, 0, 0, 0, 0, 2], "from up0");
        assert_eq!(f[22], 63, "TTL decremented");
        assert!(crate::wire::ipv4::Packet::new_checked(&f[14..])
            .unwrap()
            .verify_checksum());
        let mut other = frame(vmac(1, 3));
        assert_eq!(
            refresh_process(&mut other, 0, &st, &mut turns),
            Verdict::Drop(DropReason::NotForUs)
        );
        // Ping to the virtual IP is for the control lcore.
        let mut to_vip = frame(held);
        to_vip[30..34].copy_from_slice(&VIP.octets());
        to_vip[24..26].copy_from_slice(&[0, 0]);
        let ck = !crate::wire::checksum::data(&to_vip[14..34]);
        to_vip[24..26].copy_from_slice(&ck.to_be_bytes());
        assert_eq!(
            refresh_process(&mut to_vip, 0, &st, &mut turns),
            Verdict::Punt(PuntClass::Own)
        );
    }
}

#[cfg(test)]
mod index_tests {
    use super::*;
    use crate::protocol::lb::Balance;
    use crate::protocol::{vmac, LoadBalancing};
    use crate::runtime::dataplane::state::{route_entries, LinearRoutes, PortView, VipBalance};
    use crate::wire::arp::{ArpOperation, ArpRepr};
    use crate::wire::ethernet::EthernetRepr;
    use crate::wire::ipv4::Ipv4Repr;

    const PORT_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
    const GW_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 0xfe]);
    const HOST: MacAddr = MacAddr([2, 0x10, 0, 0, 0, 1]);

    fn vip(k: u16) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 64, 0, 1)) + u32::from(k))
    }

    /// lan0 with `groups` groups, AVG and forwarder 1 of the even ones,
    /// silent for the odd ones; up0 with a gateway; default route via it.
    fn state(groups: u16) -> DataplaneState<LinearRoutes> {
        let lan: crate::config::Ipv4Net = "10.0.0.2/8".parse().unwrap();
        let up: crate::config::Ipv4Net = "192.0.2.2/24".parse().unwrap();
        let gw = Ipv4Addr::new(192, 0, 2, 1);
        let (entries, next_hops) = route_entries(
            &[(lan, 0), (up, 1)],
            &[("0.0.0.0/0".parse().unwrap(), gw, None)],
        );
        let even = (0..groups).filter(|k| k % 2 == 0);
        let mut lan0 = PortView::bare("lan0", PORT_MAC, lan);
        lan0.vmacs = even.clone().map(|k| vmac(k, 1)).collect();
        lan0.avg = even
            .map(|k| {
                VipBalance::new(
                    k,
                    vip(k),
                    Balance::new(LoadBalancing::RoundRobin, &[(1, vmac(k, 1), 100)], None),
                )
            })
            .collect();
        lan0.silent = (0..groups).filter(|k| k % 2 == 1).map(vip).collect();
        let mut up0 = PortView::bare("up0", MacAddr([2, 0, 0, 0, 0, 2]), up);
        up0.neighbors.insert(gw, GW_MAC);
        DataplaneState {
            generation: 1,
            ports: vec![lan0, up0],
            routes: std::sync::Arc::new(LinearRoutes(entries)),
            next_hops,
            v6: crate::runtime::dataplane::state::V6Routes::default(),
        }
    }

    fn udp_to(dst: MacAddr) -> Vec<u8> {
        let mut f = vec![0u8; 60];
        let eth = EthernetRepr {
            src: HOST,
            dst,
            vlan_tci: None,
            ethertype: ethernet::ETHERTYPE_IPV4,
        };
        let e = eth.emit(&mut f).unwrap();
        Ipv4Repr {
            src: Ipv4Addr::new(10, 128, 0, 1),
            dst: Ipv4Addr::new(198, 18, 1, 1),
            protocol: ipv4::PROTO_UDP,
            payload_len: 26,
            ttl: 64,
            tos: 0,
            ident: 0,
            dont_frag: false,
        }
        .emit(&mut f[e..])
        .unwrap();
        f
    }

    fn arp_for(ip: Ipv4Addr) -> Vec<u8> {
        let mut f = vec![0u8; 60];
        let e = EthernetRepr {
            src: HOST,
            dst: MacAddr::BROADCAST,
            vlan_tci: None,
            ethertype: ethernet::ETHERTYPE_ARP,
        }
        .emit(&mut f)
        .unwrap();
        ArpRepr {
            operation: ArpOperation::Request,
            sender_hw_addr: HOST,
            sender_ip: Ipv4Addr::new(10, 128, 0, 1),
            target_hw_addr: MacAddr::ZERO,
            target_ip: ip,
        }
        .emit(&mut f[e..])
        .unwrap();
        f
    }

    /// The same verdicts whether a port's VMACs and VIPs are scanned (few
    /// groups) or looked up through the worker's hash index (many).
    #[test]
    fn verdicts_do_not_depend_on_the_group_count() {
        for groups in [4u16, 1024] {
            let st = state(groups);
            let mut sc = Scratch::new(2);
            sc.refresh(&st);
            let last = groups - 2; // even: AVG and forwarder
            for dst in [PORT_MAC, vmac(0, 1), vmac(last, 1)] {
                let mut f = udp_to(dst);
                assert_eq!(
                    process(&mut f, 0, &st, &mut sc),
                    Verdict::Forward(1),
                    "{groups} groups, to {dst}"
                );
                assert_eq!(&f[..6], &GW_MAC.0);
            }
            let mut f = udp_to(vmac(last + 1, 1));
            assert_eq!(
                process(&mut f, 0, &st, &mut sc),
                Verdict::Drop(DropReason::NotForUs),
                "{groups} groups: a VMAC held by another router"
            );
            let mut f = arp_for(vip(last));
            assert!(matches!(
                process(&mut f, 0, &st, &mut sc),
                Verdict::ArpReply { forwarder: 1, .. }
            ));
            let reply = arp::Packet::new_checked(&f[14..]).unwrap();
            assert_eq!(reply.sender_hw_addr(), vmac(last, 1), "{groups} groups");
            let mut f = arp_for(vip(last + 1));
            assert_eq!(
                process(&mut f, 0, &st, &mut sc),
                Verdict::Drop(DropReason::ArpNotAvg),
                "{groups} groups: ARP for a group where this node is not AVG"
            );
            let mut f = udp_to(PORT_MAC);
            f[14 + 16..14 + 20].copy_from_slice(&vip(last + 1).octets());
            let mut ip = ipv4::Packet::new_checked(&mut f[14..]).unwrap();
            ip.fill_checksum();
            assert_eq!(
                process(&mut f, 0, &st, &mut sc),
                Verdict::Punt(PuntClass::Own),
                "{groups} groups: IPv4 to a virtual IP goes to the control lcore"
            );
        }
    }

    #[test]
    fn the_index_follows_the_snapshot() {
        let mut sc = Scratch::new(2);
        let st = state(1024);
        sc.refresh(&st);
        let mut f = udp_to(vmac(1000, 1));
        assert_eq!(process(&mut f, 0, &st, &mut sc), Verdict::Forward(1));
        let mut st2 = state(1024);
        st2.generation = 2;
        st2.ports[0].vmacs.retain(|m| *m != vmac(1000, 1));
        sc.refresh(&st2);
        let mut f = udp_to(vmac(1000, 1));
        assert_eq!(
            process(&mut f, 0, &st2, &mut sc),
            Verdict::Drop(DropReason::NotForUs)
        );
    }
}
