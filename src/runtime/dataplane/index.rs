//! A worker's lookup tables over one snapshot, rebuilt when the snapshot
//! changes (reusing their memory: no allocation once they have grown to the
//! snapshot's size). Every per-packet question costs the same for 1 and
//! for 1024 groups:
//!
//! - "is this a VMAC we hold?": one bit of a 4096-bit map indexed by the
//!   VMAC's (group, forwarder) (`00:07:b4:GG:GG:FF`);
//! - "is this IPv4 address ours or a virtual IP?": an open-addressing set
//!   with one multiply-shift and, almost always, one probe;
//! - "which group is this virtual IP the AVG of?": the same table with the
//!   index of the group's balancing entry;
//! - "where does next hop N go?": a per-next-hop entry with the egress
//!   port and, for a resolved gateway, the 12 destination+source MAC bytes
//!   the frame gets in one copy (the same for IPv6 next hops).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::state::{DataplaneState, FxMap, NextHop, PortView, Revalidate, Routes, VipBalance};
use crate::wire::glbp::{MAX_FORWARDERS, MAX_GROUP};
use crate::wire::MacAddr;

/// Per-port indexes plus per-next-hop rewrites of one snapshot.
#[derive(Default)]
pub(super) struct SnapshotIndex {
    /// (generation, snapshot address) the tables were built from.
    pub key: Option<(u64, usize)>,
    pub ports: Vec<PortIndex>,
    /// By next-hop index (the route lookup's result).
    pub hops: Vec<HopEntry>,
    /// The next hops some own address or virtual IP (of any port) is
    /// routed to: a frame routed there must be checked against the ingress
    /// port's local addresses ([`PortIndex::is_local`]). Frames routed
    /// elsewhere (say, to the upstream gateway) skip that lookup.
    pub local: LocalHops,
    /// The same for IPv6.
    pub v6: V6Index,
}

/// By next-hop index: some local address is routed to this next hop; and
/// whether some local address has no route at all.
#[derive(Default)]
pub(super) struct LocalHops {
    flags: Vec<bool>,
    miss: bool,
}

impl LocalHops {
    /// Rebuilt for `hops` next hops from the route lookups of the local
    /// addresses (`None`: no route).
    fn rebuild(&mut self, hops: usize, lookups: impl Iterator<Item = Option<u32>>) {
        self.flags.clear();
        self.flags.resize(hops, false);
        self.miss = false;
        for l in lookups {
            match l {
                Some(h) => {
                    if let Some(f) = self.flags.get_mut(h as usize) {
                        *f = true;
                    }
                }
                None => self.miss = true,
            }
        }
    }

    /// True when a local address is routed to next hop `hop` (or, for
    /// none, [`super::state::NO_ROUTE`], when one has no route).
    #[inline]
    pub fn flagged(&self, hop: u32) -> bool {
        match self.flags.get(hop as usize) {
            Some(l) => *l,
            None => self.miss,
        }
    }
}

/// [`SnapshotIndex`]'s IPv6 part. IPv6 virtual addresses are link-local,
/// never routed, so the only routed local addresses are the interfaces'
/// `address6`.
#[derive(Default)]
pub(super) struct V6Index {
    /// By IPv6 next-hop index.
    pub hops: Vec<HopEntry<Ipv6Addr>>,
    /// The IPv6 next hops an own address is routed to.
    pub local: LocalHops,
    /// Every interface's global addresses (a packet to one of them, on any
    /// interface, is for the control lcore).
    pub own: Vec<Ipv6Addr>,
}

impl V6Index {
    /// True when `ip` is an own global address (any interface's).
    #[inline]
    pub fn is_own(&self, ip: Ipv6Addr) -> bool {
        self.own.contains(&ip)
    }

    /// True when a packet to `dst`, routed to next hop `hop` (or to none),
    /// may be addressed to an own address.
    #[inline]
    pub fn may_be_local(&self, hop: u32, dst: &[u8; 16]) -> bool {
        self.local.flagged(hop) && self.is_own(Ipv6Addr::from(*dst))
    }
}

/// What the worker does with a frame routed to one next hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HopEntry<A = Ipv4Addr> {
    /// The next hop names a port that does not exist.
    NoPort,
    /// The egress port's link is down.
    LinkDown(u16),
    /// A gateway: resolved, with the frame's new first 12 bytes
    /// (destination = the gateway's MAC, source = the egress port's MAC).
    Gateway { port: u16, header: [u8; 12] },
    /// A gateway not resolved yet.
    Unresolved { port: u16, via: A },
    /// A connected subnet: the destination itself is the neighbour.
    Connected { port: u16 },
}

impl SnapshotIndex {
    pub fn rebuild<R: Routes>(&mut self, st: &DataplaneState<R>) {
        self.ports.resize_with(st.ports.len(), PortIndex::default);
        for (pi, p) in self.ports.iter_mut().zip(&st.ports) {
            pi.rebuild(p, st);
        }
        self.hops.clear();
        self.hops.extend(
            st.next_hops
                .iter()
                .map(|h| hop_entry(h, &st.ports, |p| &p.neighbors)),
        );
        self.v6.rebuild(st);
        let own = st.ports.iter().map(|p| p.addr.addr);
        let vips = st
            .ports
            .iter()
            .flat_map(|p| p.avg.iter().map(|v| v.vip).chain(p.silent.iter().copied()));
        let lookups = own.chain(vips).map(|ip| st.routes.lookup(ip));
        self.local.rebuild(st.next_hops.len(), lookups);
    }

    /// True when a frame to `dst` (host order), routed to next hop `hop`
    /// (or to none: [`super::state::NO_ROUTE`]), may be addressed to an
    /// own address or a virtual IP of the ingress port `pi`.
    #[inline]
    pub fn may_be_local(&self, pi: &PortIndex, hop: u32, dst: u32) -> bool {
        self.local.flagged(hop) && pi.is_local(dst)
    }
}

impl V6Index {
    fn rebuild<R: Routes>(&mut self, st: &DataplaneState<R>) {
        let hops = &st.v6.next_hops;
        self.hops.clear();
        self.hops.extend(
            hops.iter()
                .map(|h| hop_entry(h, &st.ports, |p| &p.neighbors6)),
        );
        self.own.clear();
        self.own
            .extend(st.ports.iter().flat_map(|p| p.address6.iter().copied()));
        let lookups = self.own.iter().map(|ip| st.v6.routes.lookup6(*ip));
        self.local.rebuild(hops.len(), lookups);
    }
}

/// The entry of next hop `hop`, its gateway resolved in the egress port's
/// `neighbors` table.
fn hop_entry<A: Copy + Eq + std::hash::Hash>(
    hop: &NextHop<A>,
    ports: &[PortView],
    neighbors: impl Fn(&PortView) -> &FxMap<A, MacAddr>,
) -> HopEntry<A> {
    let Some(out) = ports.get(usize::from(hop.port)) else {
        return HopEntry::NoPort;
    };
    if !out.link_up {
        return HopEntry::LinkDown(hop.port);
    }
    match hop.via {
        None => HopEntry::Connected { port: hop.port },
        Some(via) => match neighbors(out).get(&via) {
            Some(mac) => HopEntry::Gateway {
                port: hop.port,
                header: mac_header(*mac, out.mac),
            },
            None => HopEntry::Unresolved {
                port: hop.port,
                via,
            },
        },
    }
}

/// Destination and source MAC as the first 12 bytes of a frame.
#[inline]
pub(super) fn mac_header(dst: MacAddr, src: MacAddr) -> [u8; 12] {
    let mut h = [0u8; 12];
    h[..6].copy_from_slice(&dst.0);
    h[6..].copy_from_slice(&src.0);
    h
}

/// Bits in the VMAC map: (group, forwarder 1..=4).
const VMAC_BITS: usize = (MAX_GROUP as usize + 1) * MAX_FORWARDERS as usize;

/// One port's lookups.
pub(super) struct PortIndex {
    /// Held GLBP VMACs, bit `group * 4 + forwarder - 1`.
    vmac_bits: [u64; VMAC_BITS / 64],
    /// Held VMACs outside the GLBP formula (none today; kept so the index
    /// answers exactly what `PortView::vmacs` says).
    vmac_other: Vec<MacAddr>,
    /// Own addresses (every port's) and this port's virtual IPs: a frame to
    /// one of them is for the control lcore, never forwarded.
    local: AddrMap,
    /// VIP -> index into `PortView::avg` (the first entry wins, as with a
    /// scan).
    avg: AddrMap,
    /// VIPs of groups where this node is not AVG.
    silent: AddrMap,
    /// VMAC -> index into `PortView::revalidate` (rare: unicast ARP).
    revalidate: FxMap<u64, u32>,
}

impl Default for PortIndex {
    fn default() -> Self {
        PortIndex {
            vmac_bits: [0; VMAC_BITS / 64],
            vmac_other: Vec::new(),
            local: AddrMap::default(),
            avg: AddrMap::default(),
            silent: AddrMap::default(),
            revalidate: FxMap::default(),
        }
    }
}

/// The bit of a GLBP VMAC in the map, or None for any other MAC.
#[inline]
fn vmac_bit(m: MacAddr) -> Option<usize> {
    let [a, b, c, g0, g1, f] = m.0;
    let g = usize::from(u16::from_be_bytes([g0, g1]));
    let f = usize::from(f);
    if [a, b, c] != [0x00, 0x07, 0xb4] || g > MAX_GROUP as usize || f == 0 || f > 4 {
        return None;
    }
    Some(g * 4 + f - 1)
}

#[inline]
fn mac_key(m: MacAddr) -> u64 {
    let b = m.0;
    u64::from_be_bytes([0, 0, b[0], b[1], b[2], b[3], b[4], b[5]])
}

impl PortIndex {
    fn rebuild<R: Routes>(&mut self, p: &PortView, st: &DataplaneState<R>) {
        self.vmac_bits.fill(0);
        self.vmac_other.clear();
        for m in &p.vmacs {
            match vmac_bit(*m) {
                Some(i) => self.vmac_bits[i / 64] |= 1 << (i % 64),
                None => self.vmac_other.push(*m),
            }
        }
        let own = st.ports.iter().map(|q| q.addr.addr);
        let vips = p.avg.iter().map(|v| v.vip).chain(p.silent.iter().copied());
        self.local
            .rebuild(own.chain(vips).map(|ip| (u32::from(ip), 0)));
        self.avg.rebuild(
            p.avg
                .iter()
                .enumerate()
                .map(|(i, v)| (u32::from(v.vip), i as u32)),
        );
        self.silent
            .rebuild(p.silent.iter().map(|ip| (u32::from(*ip), 0)));
        self.revalidate.clear();
        for (i, r) in p.revalidate.iter().enumerate() {
            self.revalidate.entry(mac_key(r.vmac)).or_insert(i as u32);
        }
    }

    /// True when `mac` is a VMAC this node forwards for on this port.
    #[inline]
    pub fn is_vmac(&self, mac: MacAddr) -> bool {
        match vmac_bit(mac) {
            Some(i) => self.vmac_bits[i / 64] & (1 << (i % 64)) != 0,
            None => !self.vmac_other.is_empty() && self.vmac_other.contains(&mac),
        }
    }

    /// True when `ip` is an own address or a virtual IP on this port: a
    /// frame to it is not forwarded.
    #[inline]
    pub fn is_local(&self, ip: u32) -> bool {
        self.local.get(ip).is_some()
    }

    /// The group this node is AVG of whose VIP is `ip`.
    #[inline]
    pub fn avg<'a>(&self, port: &'a PortView, ip: Ipv4Addr) -> Option<&'a VipBalance> {
        self.avg
            .get(u32::from(ip))
            .and_then(|i| port.avg.get(i as usize))
    }

    /// The re-validation entry of a VMAC this node answers for.
    #[inline]
    pub fn revalidate<'a>(&self, port: &'a PortView, mac: MacAddr) -> Option<&'a Revalidate> {
        if self.revalidate.is_empty() {
            return None;
        }
        self.revalidate
            .get(&mac_key(mac))
            .and_then(|&i| port.revalidate.get(i as usize))
    }

    #[inline]
    pub fn is_silent(&self, ip: Ipv4Addr) -> bool {
        self.silent.get(u32::from(ip)).is_some()
    }
}

/// IPv4 address -> u32, open addressing with linear probing, at most half
/// full (so a probe always ends at an empty slot). Key 0 (0.0.0.0) marks
/// an empty slot and is kept aside.
#[derive(Default)]
struct AddrMap {
    slots: Vec<(u32, u32)>,
    /// log2(slots.len()), for the multiply-shift hash.
    bits: u32,
    zero: Option<u32>,
}

impl AddrMap {
    /// Replaces the content; the first value given for a key wins.
    fn rebuild(&mut self, entries: impl Iterator<Item = (u32, u32)> + Clone) {
        let n = entries.clone().count();
        let bits = (2 * n).max(8).next_power_of_two().trailing_zeros();
        self.bits = bits;
        self.slots.clear();
        self.slots.resize(1 << bits, (0, 0));
        self.zero = None;
        for (k, v) in entries {
            if k == 0 {
                self.zero.get_or_insert(v);
                continue;
            }
            let mask = self.slots.len() - 1;
            let mut i = self.slot(k);
            loop {
                let s = &mut self.slots[i];
                if s.0 == k {
                    break;
                }
                if s.0 == 0 {
                    *s = (k, v);
                    break;
                }
                i = (i + 1) & mask;
            }
        }
    }

    #[inline]
    fn slot(&self, k: u32) -> usize {
        (k.wrapping_mul(0x9e37_79b1) >> (32 - self.bits)) as usize
    }

    #[inline]
    fn get(&self, k: u32) -> Option<u32> {
        if k == 0 {
            return self.zero;
        }
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.slot(k);
        loop {
            let (key, v) = *self.slots.get(i)?;
            if key == k {
                return Some(v);
            }
            if key == 0 {
                return None;
            }
            i = (i + 1) & mask;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::vmac;
    use proptest::prelude::*;

    proptest! {
        /// The map answers exactly what a list says, for any keys
        /// (including 0.0.0.0 and duplicates).
        #[test]
        fn addr_map_is_a_map(keys in proptest::collection::vec(prop_oneof![Just(0u32), 0u32..64, any::<u32>()], 0..300),
                             probes in proptest::collection::vec(prop_oneof![0u32..64, any::<u32>()], 0..100)) {
            let mut m = AddrMap::default();
            m.rebuild(keys.iter().enumerate().map(|(i, k)| (*k, i as u32)));
            for k in keys.iter().chain(&probes) {
                let want = keys.iter().position(|x| x == k).map(|i| i as u32);
                prop_assert_eq!(m.get(*k), want, "key {}", k);
            }
        }

        /// The VMAC map answers exactly what the snapshot's list says.
        #[test]
        fn vmac_bits_follow_the_list(held in proptest::collection::vec((0u16..1024, 1u8..=4), 0..64),
                                     other in proptest::collection::vec(any::<[u8; 6]>(), 0..3),
                                     probes in proptest::collection::vec((0u16..1100, 0u8..6), 0..64)) {
            let mut p = PortView::bare("p", MacAddr([2, 0, 0, 0, 0, 1]), "10.0.0.1/24".parse().unwrap());
            p.vmacs = held.iter().map(|(g, f)| vmac(*g, *f)).collect();
            p.vmacs.extend(other.iter().map(|b| MacAddr(*b)));
            let st = DataplaneState {
                generation: 1,
                ports: vec![p.clone()],
                routes: std::sync::Arc::new(super::super::state::LinearRoutes::default()),
                next_hops: Vec::new(),
                v6: crate::runtime::dataplane::state::V6Routes::default(),
            };
            let mut idx = PortIndex::default();
            idx.rebuild(&p, &st);
            let probes = probes.iter().map(|(g, f)| vmac(*g, *f)).chain(other.iter().map(|b| MacAddr(*b)));
            for m in probes.chain(p.vmacs.clone()) {
                prop_assert_eq!(idx.is_vmac(m), p.vmacs.contains(&m), "{}", m);
            }
        }
    }
}
