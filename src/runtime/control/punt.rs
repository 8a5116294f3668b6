//! What the workers punt to the control lcore: ARP for own addresses,
//! ICMP echo to own and virtual addresses, TTL expiry and other traffic to
//! own addresses (answered with ICMP errors, rate-limited), traffic with
//! no route (destination unreachable, rate-limited), and the
//! neighbour probes the control lcore sends itself.

use std::net::Ipv4Addr;

use super::neighbors::Probe;
use super::Control;
use crate::dpdk::Mbuf;
use crate::runtime::dataplane::counters::PuntClass;
use crate::wire::arp::{self, ArpOperation, ArpRepr};
use crate::wire::ethernet::{self, EthernetRepr};
use crate::wire::icmpv4::{self, Icmpv4Repr};
use crate::wire::ipv4::{self, Ipv4Repr};
use crate::wire::MacAddr;

/// What became of a punted frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
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

/// The sender's MAC, the IPv4 header and the fragment offset of a frame
/// whose IPv4 header starts at `hl`.
fn ipv4_head(d: &[u8], hl: usize) -> Option<(MacAddr, Ipv4Repr, u16)> {
    let f = ethernet::Frame::new_checked(d).ok()?;
    let p = ipv4::Packet::new_checked(d.get(hl..)?).ok()?;
    Some((f.src_addr(), Ipv4Repr::parse(&p).ok()?, p.frag_offset()))
}

impl Control {
    pub(super) fn handle(&mut self, now: u64, mut m: Mbuf) {
        let outcome = match self.iface_of(&m) {
            None => (0, Outcome::Dropped),
            Some(pidx) => {
                let head =
                    ethernet::Frame::new_checked(m.data()).map(|f| (f.ethertype(), f.header_len()));
                let class = m.punt_stamp().and_then(PuntClass::of_stamp).map(|c| c.0);
                let o = match head {
                    Ok((ethernet::ETHERTYPE_IPV4, hl)) if class == Some(PuntClass::Unreachable) => {
                        self.no_route(pidx, &m, hl)
                    }
                    Ok((ethernet::ETHERTYPE_IPV6, hl)) if class == Some(PuntClass::Unreachable) => {
                        self.no_route6(pidx, &m, hl)
                    }
                    Ok((ethernet::ETHERTYPE_ARP, hl)) => self.handle_arp(now, pidx, &mut m, hl),
                    Ok((ethernet::ETHERTYPE_IPV4, hl)) => self.handle_ipv4(now, pidx, &mut m, hl),
                    Ok((ethernet::ETHERTYPE_IPV6, hl)) => self.handle_ipv6(now, pidx, &mut m, hl),
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
        let Some((src_mac, ip, _)) = ipv4_head(m.data(), hl) else {
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

    /// IPv4 a worker had no route for (already counted as dropped): net
    /// unreachable from the address of the interface it came in on, as
    /// RFC 1812 §5.2.7.1 asks; never about a fragment after the first
    /// or a broadcast or multicast destination (§4.3.2.7).
    fn no_route(&mut self, pidx: usize, m: &Mbuf, hl: usize) -> Outcome {
        let Some((src_mac, ip, 0)) = ipv4_head(m.data(), hl) else {
            return Outcome::Dropped;
        };
        if ip.dst.is_broadcast() || ip.dst.is_multicast() {
            return Outcome::Dropped;
        }
        let from = self.ports[pidx].addr.addr;
        self.icmp_error(pidx, m, hl, ip, src_mac, from, |data| {
            Icmpv4Repr::DstUnreachable {
                code: icmpv4::CODE_NET_UNREACHABLE,
                data,
            }
        });
        Outcome::Consumed
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
    pub(super) fn send_probe(&mut self, p: Probe) {
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
