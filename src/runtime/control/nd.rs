//! IPv6 on the control lcore: Neighbor Discovery the workers do not answer
//! in place (solicitations for own addresses, duplicate address detection,
//! solicitations too odd to answer in place, router solicitations), echo
//! replies for own and virtual addresses, and the AVG's announcements of
//! an IPv6 group's virtual link-local address: an unsolicited neighbour
//! advertisement and router advertisements on becoming AVG, periodic ones
//! after (as IOS does, `../shared/glbp-protocol.md` §11).

use std::collections::BTreeMap;
use std::net::Ipv6Addr;

use super::punt::Outcome;
use super::Control;
use crate::dpdk::Mbuf;
use crate::protocol::rng::SplitMix64;
use crate::wire::ethernet::{self, EthernetRepr};
use crate::wire::icmpv6::{self, Icmpv6Repr, PrefixInfo, RouterAdvert};
use crate::wire::ipv6::{self, Ipv6Repr};
use crate::wire::MacAddr;

/// Advertisements sent at the short interval after becoming AVG (RFC 4861
/// MAX_INITIAL_RTR_ADVERTISEMENTS).
const INITIAL_ADVERTS: u8 = 3;
/// Their interval, ms (MAX_INITIAL_RTR_ADVERT_INTERVAL).
const INITIAL_INTERVAL_MS: u64 = 16_000;
/// At most one multicast advertisement per interface this often, ms
/// (MIN_DELAY_BETWEEN_RAS); answers to solicitations wait for it.
const MIN_DELAY_BETWEEN_RAS_MS: u64 = 3_000;
/// Lifetimes of advertised prefixes (IOS defaults: 30 days, 7 days).
const PREFIX_VALID_S: u32 = 2_592_000;
const PREFIX_PREFERRED_S: u32 = 604_800;

/// The router advertisement schedule of one IPv6 group this node is AVG
/// of.
#[derive(Debug, Clone, Copy)]
struct Advertising {
    /// Its virtual address.
    vip: Ipv6Addr,
    /// When the next advertisement is due, ms.
    next_ms: u64,
    /// Advertisements still to send at the initial interval.
    initial_left: u8,
}

/// IPv6 state of the control lcore.
pub struct Nd {
    /// By (interface, group): the groups this node advertises as AVG.
    advertising: BTreeMap<(usize, u16), Advertising>,
    /// By interface: when its last multicast advertisement went out, ms.
    last_ra_ms: BTreeMap<usize, u64>,
    /// The control lcore's round-robin turns for solicitations it answers
    /// itself (the workers keep their own).
    turns: BTreeMap<(usize, u16), u32>,
    rng: SplitMix64,
    /// When a duplicate address may be logged again.
    next_dup_warn_ms: u64,
    /// By interface: when its next MLD report is due, and how many went
    /// out since the last change (see [`Control::mld_poll`]).
    mld: BTreeMap<usize, (u64, u8)>,
    /// By interface: until when an MLDv1 querier is taken to be present
    /// (reports are MLDv1 until then), ms.
    mld_v1: BTreeMap<usize, u64>,
}

impl Nd {
    /// True while interface `pidx` reports in MLDv1.
    fn mld_v1(&self, pidx: usize, now: u64) -> bool {
        self.mld_v1.get(&pidx).is_some_and(|&until| now < until)
    }

    pub fn new(seed: u64) -> Nd {
        Nd {
            advertising: BTreeMap::new(),
            last_ra_ms: BTreeMap::new(),
            turns: BTreeMap::new(),
            rng: SplitMix64::new(seed),
            next_dup_warn_ms: 0,
            mld: BTreeMap::new(),
            mld_v1: BTreeMap::new(),
        }
    }
}

/// MLD reports after a start or change: two, a second apart, as RFC 3810
/// §6.1 sends unsolicited reports (robustness 2, unsolicited report
/// interval 1 s)...
const MLD_UNSOLICITED_MS: u64 = 1000;
/// ...then one a minute, well inside the 260 s a snooping switch keeps a
/// membership it has not heard about (RFC 3810's multicast address
/// listening interval, default query interval 125 s x 2 + 10 s). Queries
/// are answered too (a querier with a shorter interval shortens that).
const MLD_REFRESH_MS: u64 = 60_000;
/// How long after an MLDv1 query the interface reports in MLDv1: RFC 3810
/// §9.12's Older Version Querier Present Timeout with the defaults
/// (robustness 2 x query interval 125 s + response interval 10 s).
const MLD1_QUERIER_PRESENT_MS: u64 = 260_000;

impl Control {
    /// IPv6 punted by a worker (not GLBP): Neighbor Discovery and echo.
    pub(super) fn handle_ipv6(
        &mut self,
        now: u64,
        pidx: usize,
        m: &mut Mbuf,
        hl: usize,
    ) -> Outcome {
        let parsed = {
            let d = m.data();
            let eth = ethernet::Frame::new_checked(d).ok();
            let ip = d
                .get(hl..)
                .and_then(|b| ipv6::Packet::new_checked(b).ok())
                .and_then(|p| Some((Ipv6Repr::parse(&p).ok()?, p)));
            eth.zip(ip)
                .map(|(e, (r, p))| (e.src_addr(), e.dst_addr(), r, p.payload().to_vec()))
        };
        let Some((src_mac, dst_mac, ip, payload)) = parsed else {
            return Outcome::Dropped;
        };
        let to_us = self.is_ours6(pidx, ip.dst);
        let glbp = ip.next_header == crate::wire::ipv4::PROTO_UDP
            && crate::wire::udp::Packet::new_checked(&payload[..])
                .is_ok_and(|u| u.dst_port() == crate::wire::glbp::UDP_PORT);
        if glbp && (to_us || ip.dst == crate::wire::glbp::MCAST_V6) {
            return self.glbp_rx(now, pidx, m);
        }
        if !to_us && !ip.dst.is_multicast() && ip.hop_limit <= 1 {
            let from = self.error_source6(pidx);
            let (kind, code) = (icmpv6::TYPE_TIME_EXCEEDED, 0);
            if self.icmp6_error(pidx, m, hl, (&ip, src_mac), from, (kind, code)) {
                self.stats.icmp_time_exceeded += 1;
            }
            return Outcome::Consumed;
        }
        if ip.next_header == 0 && dst_mac.is_multicast() {
            match icmpv6::MldQuery::parse(ip.src, ip.dst, ip.hop_limit, &payload) {
                Ok(q) => self.mld_query(now, pidx, ip.src, q),
                Err(crate::wire::Error::Unrecognized) => return Outcome::Dropped,
                Err(_) => self.stats.nd_malformed += 1,
            }
            return Outcome::Consumed;
        }
        if ip.next_header != icmpv6::PROTO_ICMPV6 {
            if to_us && !dst_mac.is_multicast() {
                // Nothing listens here: say so, as a host would (port
                // unreachable for UDP and TCP, else unrecognized next
                // header), from the address it was sent to.
                if ip.next_header == crate::wire::ipv4::PROTO_UDP {
                    self.stats.udp_to_own += 1;
                }
                let code = match ip.next_header {
                    crate::wire::ipv4::PROTO_UDP | 6 => (icmpv6::TYPE_DST_UNREACHABLE, 4),
                    _ => (icmpv6::TYPE_PARAM_PROBLEM, 1),
                };
                if self.icmp6_error(pidx, m, hl, (&ip, src_mac), ip.dst, code) {
                    self.stats.icmp_unreachable += 1;
                }
                return Outcome::Consumed;
            }
            return Outcome::Dropped;
        }
        let Ok(msg) = Icmpv6Repr::parse(ip.src, ip.dst, ip.hop_limit, &payload) else {
            self.stats.nd_malformed += 1;
            return Outcome::Dropped;
        };
        match msg {
            Icmpv6Repr::EchoRequest { .. } => self.echo6_reply(pidx, m, hl, &ip, dst_mac),
            Icmpv6Repr::NeighborSolicit { target, lladdr } => {
                if !ip.src.is_unspecified() && self.ports[pidx].is_local6(target) {
                    // A node about to talk to us: it is at its source
                    // link-layer address (RFC 4861 §7.2.3).
                    self.neighbors6.learn(
                        now,
                        pidx as u16,
                        ip.src,
                        lladdr,
                        false,
                        lladdr.is_some(),
                    );
                }
                self.solicited(now, pidx, &ip, target, lladdr.unwrap_or(src_mac));
                Outcome::Consumed
            }
            Icmpv6Repr::RouterSolicit { .. } => {
                self.stats.nd_router_solicits += 1;
                self.ra_soon(now, pidx);
                Outcome::Consumed
            }
            Icmpv6Repr::NeighborAdvert {
                target,
                lladdr,
                flags,
            } => {
                // Another node claiming one of our own addresses (the
                // virtual ones are claimed by every AVG in turn).
                let p = &self.ports[pidx];
                if p.is_own6(target) {
                    self.duplicate6(now, pidx, target, lladdr.unwrap_or(src_mac));
                } else {
                    let solicited = flags & icmpv6::NA_SOLICITED != 0;
                    self.neighbors6
                        .learn(now, pidx as u16, target, lladdr, solicited, false);
                }
                Outcome::Consumed
            }
            _ => Outcome::Consumed,
        }
    }

    /// A neighbour solicitation for `target` from `ip.src` (at `host`) the
    /// workers left to us.
    fn solicited(&mut self, now: u64, pidx: usize, ip: &Ipv6Repr, target: Ipv6Addr, host: MacAddr) {
        let p = &self.ports[pidx];
        let own = p.is_own6(target);
        let mac = p.mac;
        let avg = p.glbp.groups6.avg(target).cloned();
        if ip.src.is_unspecified() {
            if own {
                // Someone wants our address: defend it (RFC 4862 §5.4.3).
                self.duplicate6(now, pidx, target, host);
                let flags = icmpv6::NA_ROUTER | icmpv6::NA_OVERRIDE;
                self.send_na(pidx, icmpv6::ALL_NODES, target, flags, Some(mac));
            } else if avg.is_some() {
                // A host testing the virtual address: it is taken. Without
                // Override and a link-layer option, no cache changes.
                self.duplicate6(now, pidx, target, host);
                self.send_na(pidx, icmpv6::ALL_NODES, target, icmpv6::NA_ROUTER, None);
            }
            return;
        }
        let flags = icmpv6::NA_ROUTER | icmpv6::NA_SOLICITED | icmpv6::NA_OVERRIDE;
        let lladdr = if own {
            mac
        } else {
            // A solicitation for a virtual address the workers could not
            // answer in place: the same balancer, from here.
            let Some(v) = avg else {
                return;
            };
            let turn = self.nd.turns.entry((pidx, v.group)).or_insert(0);
            let Some(i) = v.balance.pick(host, turn, now) else {
                return;
            };
            v.balance.forwarders[i].1
        };
        self.stats.nd_answered += 1;
        self.send_na_to(pidx, host, ip.src, target, flags, Some(lladdr));
    }

    /// A solicitation of the neighbour table: multicast to the
    /// solicited-node group, or a unicast probe, from the interface's
    /// link-local address with its link-layer address.
    pub(super) fn send_solicitation(&mut self, s: super::neighbors6::Solicitation) {
        let pidx = usize::from(s.port);
        let Some(p) = self.ports.get(pidx) else {
            return;
        };
        let (mac, ll) = (p.mac, p.link_local);
        let (eth_dst, dst) = match s.to {
            Some(to) => (to, s.ip),
            None => {
                let group = icmpv6::solicited_node(s.ip);
                (icmpv6::multicast_mac(group), group)
            }
        };
        let msg = Icmpv6Repr::NeighborSolicit {
            target: s.ip,
            lladdr: Some(mac),
        };
        if self.send_icmpv6(pidx, eth_dst, ll, dst, &msg) {
            self.stats.nd_solicits_sent += 1;
        }
    }

    /// IPv6 a worker had no route for (already counted as dropped):
    /// destination unreachable, no route to destination (RFC 4443 §3.1),
    /// from the interface it came in on.
    pub(super) fn no_route6(&mut self, pidx: usize, m: &Mbuf, hl: usize) -> Outcome {
        let d = m.data();
        let parsed = ethernet::Frame::new_checked(d).ok().and_then(|e| {
            let p = ipv6::Packet::new_checked(d.get(hl..)?).ok()?;
            Some((e.src_addr(), Ipv6Repr::parse(&p).ok()?))
        });
        let Some((src_mac, ip)) = parsed else {
            return Outcome::Dropped;
        };
        let from = self.error_source6(pidx);
        let code = (icmpv6::TYPE_DST_UNREACHABLE, icmpv6::CODE_NO_ROUTE);
        if self.icmp6_error(pidx, m, hl, (&ip, src_mac), from, code) {
            self.stats.icmp_unreachable += 1;
        }
        Outcome::Consumed
    }

    /// The source of the ICMPv6 errors routing raises on interface `pidx`:
    /// its first global address (traceroute shows a routable hop), else
    /// its link-local address.
    fn error_source6(&self, pidx: usize) -> Ipv6Addr {
        let p = &self.ports[pidx];
        p.address6.first().map_or(p.link_local, |a| a.addr)
    }

    /// The ICMPv6 error (`kind`, `code`) about the packet in `m` (header
    /// `ip`, from `to_mac`), from `from` back to its sender, within
    /// `[control_plane] icmp_errors_pps`; true when sent. Time exceeded
    /// comes from the interface's first global address (traceroute shows
    /// a routable hop), unreachable from the address the packet was for.
    fn icmp6_error(
        &mut self,
        pidx: usize,
        m: &Mbuf,
        hl: usize,
        (ip, to_mac): (&Ipv6Repr, MacAddr),
        from: Ipv6Addr,
        (kind, code): (u8, u8),
    ) -> bool {
        // Never about an error, a group or an unspecified source
        // (RFC 4443 §2.4 e).
        if ip.src.is_unspecified() || ip.src.is_multicast() || ip.dst.is_multicast() {
            return false;
        }
        let icmp_type = m.data().get(hl + ipv6::HEADER_LEN).copied();
        if ip.next_header == icmpv6::PROTO_ICMPV6 && !icmp_type.is_some_and(|t| t >= 128) {
            return false;
        }
        if !self.icmp_errors.allow(crate::dpdk::tsc()) {
            self.stats.icmp_rate_limited += 1;
            return false;
        }
        // As much of the packet as fits in the minimum MTU (RFC 4443 §2.4).
        let quoted = m.data().get(hl..).unwrap_or(&[]);
        let quoted = &quoted[..quoted
            .len()
            .min(1280 - ipv6::HEADER_LEN - icmpv6::HEADER_LEN)];
        let msg = match kind {
            icmpv6::TYPE_TIME_EXCEEDED => Icmpv6Repr::TimeExceeded { code, data: quoted },
            icmpv6::TYPE_DST_UNREACHABLE => Icmpv6Repr::DstUnreachable { code, data: quoted },
            _ => Icmpv6Repr::ParamProblem {
                code,
                // The next header field of the fixed header.
                pointer: 6,
                data: quoted,
            },
        };
        self.send_icmpv6_hl(pidx, to_mac, from, ip.src, &msg, 64)
    }

    /// True when `ip`, received on interface `pidx`, is for this router:
    /// an address of that interface (own or virtual), or another
    /// interface's global address (the workers punt those too).
    fn is_ours6(&self, pidx: usize, ip: Ipv6Addr) -> bool {
        self.ports[pidx].is_local6(ip)
            || self
                .ports
                .iter()
                .any(|p| p.address6.iter().any(|a| a.addr == ip))
    }

    /// Logs (at most every 10 s) another node claiming our `addr`.
    fn duplicate6(&mut self, now: u64, pidx: usize, addr: Ipv6Addr, by: MacAddr) {
        self.stats.nd_duplicates += 1;
        if now >= self.nd.next_dup_warn_ms {
            self.nd.next_dup_warn_ms = now + 10_000;
            log::warn!(
                "%IPV6_ND-4-DUPLICATE: Duplicate address {addr} on {}, sourced by {by}",
                self.ports[pidx].name
            );
        }
    }

    /// Answers an echo request to an own or virtual address in place, from
    /// the MAC it was sent to (the port's, or the VMAC its sender holds).
    fn echo6_reply(
        &mut self,
        pidx: usize,
        m: &mut Mbuf,
        hl: usize,
        ip: &Ipv6Repr,
        us: MacAddr,
    ) -> Outcome {
        if !us.is_unicast() || !self.is_ours6(pidx, ip.dst) {
            return Outcome::Dropped;
        }
        if !self.icmp_replies.allow(crate::dpdk::tsc()) {
            self.stats.icmp_rate_limited += 1;
            return Outcome::Dropped;
        }
        let d = m.data_mut();
        let mut eth = ethernet::Frame::new_unchecked(&mut d[..]);
        let peer = eth.src_addr();
        eth.set_dst_addr(peer);
        eth.set_src_addr(us);
        let Ok(mut p) = ipv6::Packet::new_checked(&mut d[hl..]) else {
            return Outcome::Dropped;
        };
        let b = p.as_mut_bytes();
        b[8..24].copy_from_slice(&ip.dst.octets());
        b[24..40].copy_from_slice(&ip.src.octets());
        p.set_hop_limit(64);
        let msg = p.payload_mut();
        msg[0] = icmpv6::TYPE_ECHO_REPLY;
        icmpv6::fill_checksum(ip.dst, ip.src, msg);
        self.stats.icmpv6_echo_replies += 1;
        Outcome::Reply
    }

    /// Re-reads which IPv6 groups of interface `pidx` this node is AVG of
    /// (after its view changed): a new one is announced at once (an
    /// unsolicited advertisement of its address, then a router
    /// advertisement), a lost one stops advertising.
    pub(super) fn nd_view_changed(&mut self, now: u64, pidx: usize) {
        let vips: Vec<(u16, Ipv6Addr)> = self.ports[pidx]
            .glbp
            .groups6
            .avg
            .iter()
            .map(|v| (v.group, v.vip))
            .collect();
        self.nd
            .advertising
            .retain(|&(p, g), _| p != pidx || vips.iter().any(|&(id, _)| id == g));
        for (group, vip) in vips {
            if self.nd.advertising.contains_key(&(pidx, group)) {
                continue;
            }
            self.send_na(pidx, icmpv6::ALL_NODES, vip, icmpv6::NA_ROUTER, None);
            let initial_left = INITIAL_ADVERTS;
            self.nd.advertising.insert(
                (pidx, group),
                Advertising {
                    vip,
                    next_ms: now,
                    initial_left,
                },
            );
        }
        self.nd_poll(now);
    }

    /// Sends the router advertisements due by `now`; true when one went.
    pub(super) fn nd_poll(&mut self, now: u64) -> bool {
        let due: Vec<(usize, u16)> = self
            .nd
            .advertising
            .iter()
            .filter(|(_, a)| a.next_ms <= now)
            .map(|(k, _)| *k)
            .collect();
        for &(pidx, group) in &due {
            let ra = &self.ports[pidx].ra;
            let interval_ms = u64::from(ra.interval) * 1000;
            let enabled = ra.enabled;
            let last = self.nd.last_ra_ms.get(&pidx).copied();
            let Some(a) = self.nd.advertising.get(&(pidx, group)).copied() else {
                continue;
            };
            if last.is_some_and(|l| now < l + MIN_DELAY_BETWEEN_RAS_MS) {
                // Another group of this interface just advertised.
                let next = last.unwrap_or(now) + MIN_DELAY_BETWEEN_RAS_MS;
                if let Some(a) = self.nd.advertising.get_mut(&(pidx, group)) {
                    a.next_ms = next;
                }
                continue;
            }
            if enabled {
                self.send_ra(pidx, a.vip);
                self.nd.last_ra_ms.insert(pidx, now);
            }
            // Jittered down by up to a quarter, as RFC 4861 §6.2.4 asks.
            let jitter = self.nd.rng.below(interval_ms / 4 + 1);
            let next = if a.initial_left > 1 {
                interval_ms.min(INITIAL_INTERVAL_MS)
            } else {
                interval_ms - jitter
            };
            if let Some(a) = self.nd.advertising.get_mut(&(pidx, group)) {
                a.next_ms = now + next;
                a.initial_left = a.initial_left.saturating_sub(1);
            }
        }
        !due.is_empty()
    }

    /// Sends each interface's MLDv2 report when it is due: the groups it
    /// listens to (all routers, GLBP's ff02::66, solicited-node groups of
    /// its own and virtual addresses), so that a switch snooping MLD
    /// forwards them here. Only interfaces with IPv6 configured (global
    /// addresses or IPv6 groups) report. True when one went out.
    pub(super) fn mld_poll(&mut self, now: u64) -> bool {
        let mut sent = false;
        for pidx in 0..self.ports.len() {
            let (next, count) = self.nd.mld.get(&pidx).copied().unwrap_or((0, 0));
            if now < next {
                continue;
            }
            let Some(groups) = self.mld_groups(pidx) else {
                // Nothing to report until a reload changes that.
                self.nd.mld.insert(pidx, (u64::MAX, 0));
                continue;
            };
            let src = self.ports[pidx].link_local;
            if self.nd.mld_v1(pidx, now) {
                // MLDv1 compatibility (RFC 3810 §8.2.1): one MLDv1 report
                // per group, to the group.
                for g in groups {
                    let to = (g, icmpv6::MLD1_REPORT_LEN);
                    sent |= self.send_mld_report(pidx, to, |b| icmpv6::emit_mld1_report(src, g, b));
                }
            } else {
                for chunk in groups.chunks(icmpv6::MLD2_MAX_RECORDS) {
                    let to = (
                        icmpv6::ALL_MLD2_ROUTERS,
                        icmpv6::mld2_report_len(chunk.len()),
                    );
                    sent |=
                        self.send_mld_report(pidx, to, |b| icmpv6::emit_mld2_report(src, chunk, b));
                }
            }
            let gap = if count == 0 {
                MLD_UNSOLICITED_MS
            } else {
                MLD_REFRESH_MS - self.nd.rng.below(MLD_REFRESH_MS / 10)
            };
            self.nd
                .mld
                .insert(pidx, (now + gap, count.saturating_add(1)));
        }
        sent
    }

    /// A multicast listener query on `pidx` from `querier`: when it asks about every
    /// group or one this interface listens to, its report goes out at a
    /// random time within the query's response delay (RFC 3810 §6.2),
    /// unless one is due sooner. An MLDv1 querier ignores MLDv2 reports:
    /// after one, the interface reports in MLDv1 (RFC 3810 §8.2.1) until
    /// none has been heard for the Older Version Querier Present Timeout.
    fn mld_query(&mut self, now: u64, pidx: usize, querier: Ipv6Addr, q: icmpv6::MldQuery) {
        let Some(groups) = self.mld_groups(pidx) else {
            return;
        };
        if q.v1 {
            if !self.nd.mld_v1(pidx, now) {
                log::info!(
                    "{}: MLDv1 querier {} present, reporting in MLDv1",
                    self.ports[pidx].name,
                    querier
                );
            }
            self.nd.mld_v1.insert(pidx, now + MLD1_QUERIER_PRESENT_MS);
        }
        if !q.group.is_unspecified() && !groups.contains(&q.group) {
            return;
        }
        self.stats.mld_queries += 1;
        let due = now + self.nd.rng.below(u64::from(q.max_delay_ms.max(1)));
        let entry = self.nd.mld.entry(pidx).or_insert((due, 0));
        entry.0 = entry.0.min(due);
    }

    /// After a reload changed the IPv6 groups: programs each physical
    /// port's multicast filter again from its interfaces' memberships (the
    /// new groups' solicited-node addresses), and reports every
    /// interface's memberships again now.
    pub(super) fn ipv6_groups_changed(&mut self) {
        self.nd.mld.clear();
        let mut by_link: BTreeMap<usize, (usize, Vec<Ipv6Addr>)> = BTreeMap::new();
        for pidx in 0..self.ports.len() {
            let groups = self.memberships6(pidx, &self.vips6(pidx));
            by_link
                .entry(self.ports[pidx].link)
                .or_insert((pidx, Vec::new()))
                .1
                .extend(groups);
        }
        for (pidx, groups) in by_link.into_values() {
            let macs = crate::runtime::multicast_macs(groups);
            crate::runtime::join_glbp_multicast(&self.ports[pidx].port, &macs);
        }
    }

    /// The groups interface `pidx` reports, or None when it has no IPv6
    /// configured.
    fn mld_groups(&self, pidx: usize) -> Option<Vec<Ipv6Addr>> {
        let vips = self.vips6(pidx);
        if self.ports[pidx].address6.is_empty() && vips.is_empty() {
            return None;
        }
        Some(self.memberships6(pidx, &vips))
    }

    /// The IPv6 groups interface `pidx` listens to, its groups' virtual
    /// addresses being `vips` ([`crate::runtime::ipv6_memberships`]).
    fn memberships6(&self, pidx: usize, vips: &[Ipv6Addr]) -> Vec<Ipv6Addr> {
        let p = &self.ports[pidx];
        let address6: Vec<Ipv6Addr> = p.address6.iter().map(|a| a.addr).collect();
        crate::runtime::ipv6_memberships(p.link_local, &address6, vips)
    }

    /// The virtual addresses of interface `pidx`'s IPv6 groups (whatever
    /// their state).
    fn vips6(&self, pidx: usize) -> Vec<Ipv6Addr> {
        let Some(gp) = self.glbp.get(pidx).and_then(Option::as_ref) else {
            return Vec::new();
        };
        gp.engine
            .groups()
            .filter_map(|g| match g.vip() {
                Some(std::net::IpAddr::V6(v)) => Some(v),
                _ => None,
            })
            .collect()
    }

    /// One MLD report on interface `pidx`: an IPv6 packet of `len` bytes
    /// to group `to`, written by `emit`.
    fn send_mld_report(
        &mut self,
        pidx: usize,
        (to, len): (Ipv6Addr, usize),
        emit: impl FnOnce(&mut [u8]) -> crate::wire::Result<usize>,
    ) -> bool {
        let eth = EthernetRepr {
            src: self.ports[pidx].mac,
            dst: icmpv6::multicast_mac(to),
            vlan_tci: None,
            ethertype: ethernet::ETHERTYPE_IPV6,
        };
        let frame = self.new_frame(ethernet::HEADER_LEN + len, |b| {
            let Ok(e) = eth.emit(b) else { return false };
            emit(&mut b[e..]).is_ok()
        });
        match frame {
            Some(m) => {
                self.stats.mld_reports_sent += 1;
                self.send(pidx, m);
                true
            }
            None => false,
        }
    }

    /// A router solicitation on `pidx`: every group advertising there
    /// advertises as soon as the rate allows.
    fn ra_soon(&mut self, now: u64, pidx: usize) {
        let at = self
            .nd
            .last_ra_ms
            .get(&pidx)
            .map_or(now, |l| now.max(l + MIN_DELAY_BETWEEN_RAS_MS));
        let mut any = false;
        for (_, a) in self.nd.advertising.range_mut((pidx, 0)..=(pidx, u16::MAX)) {
            a.next_ms = a.next_ms.min(at);
            any = true;
        }
        if any {
            self.nd_poll(now);
        }
    }

    /// A router advertisement from virtual address `vip` to all nodes.
    fn send_ra(&mut self, pidx: usize, vip: Ipv6Addr) {
        let p = &self.ports[pidx];
        let prefixes = match &p.ra.prefixes {
            Some(list) => list.clone(),
            None => p.address6.clone(),
        };
        let ra = RouterAdvert {
            hop_limit: p.ra.hop_limit,
            flags: 0,
            router_lifetime: u16::try_from(p.ra.lifetime).unwrap_or(9000),
            reachable_time: 0,
            retrans_time: 0,
            lladdr: None,
            mtu: Some(p.ra.mtu.unwrap_or_else(|| p.mtu.map_or(1500, u32::from))),
            prefixes: prefixes
                .iter()
                .map(|n| PrefixInfo {
                    prefix: n.network(),
                    len: n.len,
                    flags: icmpv6::PREFIX_ON_LINK
                        | if n.len == 64 {
                            icmpv6::PREFIX_AUTONOMOUS
                        } else {
                            0
                        },
                    valid: PREFIX_VALID_S,
                    preferred: PREFIX_PREFERRED_S,
                })
                .collect(),
        };
        let to = icmpv6::ALL_NODES;
        if self.send_icmpv6(
            pidx,
            icmpv6::multicast_mac(to),
            vip,
            to,
            &Icmpv6Repr::RouterAdvert(ra),
        ) {
            self.stats.nd_router_adverts += 1;
        }
    }

    /// A neighbour advertisement of `target` to group `to`.
    fn send_na(
        &mut self,
        pidx: usize,
        to: Ipv6Addr,
        target: Ipv6Addr,
        flags: u8,
        lladdr: Option<MacAddr>,
    ) {
        let to_mac = icmpv6::multicast_mac(to);
        self.send_na_to(pidx, to_mac, to, target, flags, lladdr);
    }

    /// A solicited neighbour advertisement of `target` to `to` at `to_mac`.
    fn send_na_to(
        &mut self,
        pidx: usize,
        to_mac: MacAddr,
        to: Ipv6Addr,
        target: Ipv6Addr,
        flags: u8,
        lladdr: Option<MacAddr>,
    ) {
        let msg = Icmpv6Repr::NeighborAdvert {
            flags,
            target,
            lladdr,
        };
        self.send_icmpv6(pidx, to_mac, target, to, &msg);
    }

    /// Sends `msg` from `src` to `dst` (hop limit 255, as Neighbor
    /// Discovery requires) at `eth_dst`, from the interface's MAC.
    fn send_icmpv6(
        &mut self,
        pidx: usize,
        eth_dst: MacAddr,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        msg: &Icmpv6Repr,
    ) -> bool {
        self.send_icmpv6_hl(pidx, eth_dst, src, dst, msg, 255)
    }

    /// [`Control::send_icmpv6`] with hop limit `hop_limit`.
    fn send_icmpv6_hl(
        &mut self,
        pidx: usize,
        eth_dst: MacAddr,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        msg: &Icmpv6Repr,
        hop_limit: u8,
    ) -> bool {
        let eth = EthernetRepr {
            src: self.ports[pidx].mac,
            dst: eth_dst,
            vlan_tci: None,
            ethertype: ethernet::ETHERTYPE_IPV6,
        };
        let ip = Ipv6Repr {
            src,
            dst,
            next_header: icmpv6::PROTO_ICMPV6,
            payload_len: msg.buffer_len(),
            hop_limit,
            traffic_class: 0,
        };
        let len = ethernet::HEADER_LEN + ipv6::HEADER_LEN + msg.buffer_len();
        let frame = self.new_frame(len.max(60), |b| {
            b.fill(0);
            let Ok(e) = eth.emit(b) else { return false };
            let Ok(i) = ip.emit(&mut b[e..]) else {
                return false;
            };
            msg.emit(src, dst, &mut b[e + i..]).is_ok()
        });
        match frame {
            Some(m) => {
                self.stats.nd_sent += 1;
                self.send(pidx, m);
                true
            }
            None => false,
        }
    }
}

impl super::ManagedPort {
    /// True when `ip` is an own IPv6 address of this interface (its
    /// link-local or one of its `address6`).
    pub fn is_own6(&self, ip: Ipv6Addr) -> bool {
        ip == self.link_local || self.address6.iter().any(|a| a.addr == ip)
    }

    /// True when `ip` is an own IPv6 address of this interface or the
    /// virtual address of one of its IPv6 groups.
    pub fn is_local6(&self, ip: Ipv6Addr) -> bool {
        self.is_own6(ip) || self.glbp.groups6.is_vip(ip)
    }
}
