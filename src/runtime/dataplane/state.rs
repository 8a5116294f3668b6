//! The immutable snapshot the workers read: own addresses, active VMACs,
//! routes and neighbours. The control lcore builds a new one and swaps it in
//! atomically (`ArcSwap`); a worker loads it once per poll round, and a
//! snapshot is freed only when no worker holds it any more.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::config::{Ipv4Net, Ipv6Net};
use crate::protocol::lb::Balance;
use crate::wire::MacAddr;

/// Longest-prefix-match routes: `rte_lpm` in production, a plain table in
/// unit tests of the packet path.
pub trait Routes: Send + Sync {
    /// Index into [`DataplaneState::next_hops`] for `dst`.
    fn lookup(&self, dst: Ipv4Addr) -> Option<u32>;

    /// [`Routes::lookup`] for a burst of addresses (host order): `out[i]`
    /// for `dst[i]`, [`NO_ROUTE`] where no prefix covers it.
    #[inline]
    fn lookup_bulk(&self, dst: &[u32], out: &mut [u32]) {
        for (d, o) in dst.iter().zip(out.iter_mut()) {
            *o = self.lookup(Ipv4Addr::from(*d)).unwrap_or(NO_ROUTE);
        }
    }
}

/// What [`Routes::lookup_bulk`] gives for an address without a route.
pub const NO_ROUTE: u32 = crate::dpdk::Lpm::MISS;

impl Routes for crate::dpdk::Lpm {
    #[inline]
    fn lookup(&self, dst: Ipv4Addr) -> Option<u32> {
        crate::dpdk::Lpm::lookup(self, dst)
    }
    #[inline]
    fn lookup_bulk(&self, dst: &[u32], out: &mut [u32]) {
        crate::dpdk::Lpm::lookup_bulk(self, dst, out)
    }
}

/// A route table for tests: linear longest-prefix match.
#[derive(Debug, Default, Clone)]
pub struct LinearRoutes(pub Vec<(Ipv4Net, u32)>);

impl Routes for LinearRoutes {
    fn lookup(&self, dst: Ipv4Addr) -> Option<u32> {
        self.0
            .iter()
            .filter(|(n, _)| n.contains(dst))
            .max_by_key(|(n, _)| n.len)
            .map(|(_, nh)| *nh)
    }
}

/// IPv6 longest-prefix-match routes: `rte_lpm6` in production, a plain
/// table in unit tests.
pub trait Routes6: Send + Sync {
    /// Index into [`V6Routes::next_hops`] for `dst`.
    fn lookup6(&self, dst: Ipv6Addr) -> Option<u32>;

    /// [`Routes6::lookup6`] for a burst of addresses: `out[i]` for
    /// `dst[i]`, [`NO_ROUTE`] where no prefix covers it.
    fn lookup6_bulk(&self, dst: &[[u8; 16]], out: &mut [u32]) {
        for (d, o) in dst.iter().zip(out.iter_mut()) {
            *o = self.lookup6(Ipv6Addr::from(*d)).unwrap_or(NO_ROUTE);
        }
    }
}

impl Routes6 for crate::dpdk::Lpm6 {
    #[inline]
    fn lookup6(&self, dst: Ipv6Addr) -> Option<u32> {
        self.lookup(dst)
    }
    #[inline]
    fn lookup6_bulk(&self, dst: &[[u8; 16]], out: &mut [u32]) {
        self.lookup_bulk(dst, out)
    }
}

/// An IPv6 route table for tests: linear longest-prefix match.
#[derive(Debug, Default, Clone)]
pub struct LinearRoutes6(pub Vec<(Ipv6Net, u32)>);

impl Routes6 for LinearRoutes6 {
    fn lookup6(&self, dst: Ipv6Addr) -> Option<u32> {
        self.0
            .iter()
            .filter(|(n, _)| n.contains(dst))
            .max_by_key(|(n, _)| n.len)
            .map(|(_, nh)| *nh)
    }
}

/// The IPv6 routing table of a snapshot and its next hops.
#[derive(Clone)]
pub struct V6Routes {
    /// Shared between snapshots: rebuilt only when routes change.
    pub routes: std::sync::Arc<dyn Routes6>,
    pub next_hops: Vec<NextHop<Ipv6Addr>>,
}

impl Default for V6Routes {
    fn default() -> Self {
        V6Routes {
            routes: std::sync::Arc::new(LinearRoutes6::default()),
            next_hops: Vec::new(),
        }
    }
}

/// Where a route leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextHop<A = Ipv4Addr> {
    /// Egress port index.
    pub port: u16,
    /// The gateway; `None` for a connected subnet (the destination itself
    /// is the neighbour).
    pub via: Option<A>,
}

/// What [`route_entries`] gives: (prefix, next-hop index) pairs and the
/// next hops.
pub type RouteEntries<N> = (Vec<(N, u32)>, Vec<NextHop<<N as Prefix>::Addr>>);

/// A prefix of either family, as [`route_entries`] needs it.
pub trait Prefix: Copy {
    type Addr: Copy + PartialEq;
    /// The prefix with its host bits cleared.
    fn masked(&self) -> Self;
    /// True when `a` is on this prefix.
    fn holds(&self, a: Self::Addr) -> bool;
}

impl Prefix for Ipv4Net {
    type Addr = Ipv4Addr;
    fn masked(&self) -> Self {
        Ipv4Net {
            addr: self.network(),
            len: self.len,
        }
    }
    fn holds(&self, a: Ipv4Addr) -> bool {
        self.contains(a)
    }
}

impl Prefix for Ipv6Net {
    type Addr = Ipv6Addr;
    fn masked(&self) -> Self {
        Ipv6Net {
            addr: self.network(),
            len: self.len,
        }
    }
    fn holds(&self, a: Ipv6Addr) -> bool {
        self.contains(a)
    }
}

/// FxHash: a fast, non-cryptographic hasher for the per-packet neighbour
/// lookup (keys are our own neighbour IPs, not attacker-chosen flows).
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // Eight bytes a round: an IPv6 address (hashed as 16 bytes) costs
        // two rounds, not sixteen.
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            self.write_u64(u64::from_le_bytes(b));
        }
        for &b in words.remainder() {
            self.write_u64(u64::from(b));
        }
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

pub type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// How the AVG answers ARP for one virtual IP: the group, the VIP and the
/// protocol's balancing table ([`Balance`], the one implementation the
/// engine and the simulator use too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VipBalance<A = Ipv4Addr> {
    pub group: u16,
    pub vip: A,
    pub balance: Balance,
}

impl<A> VipBalance<A> {
    /// Builds the table from the engine's balancing table.
    pub fn new(group: u16, vip: A, balance: Balance) -> VipBalance<A> {
        VipBalance {
            group,
            vip,
            balance,
        }
    }
}

/// A VMAC this node forwards and still answers hosts' unicast ARP
/// re-validations for (eligible: owned, or within redirect).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revalidate<A = Ipv4Addr> {
    pub vmac: MacAddr,
    pub vip: A,
    pub group: u16,
    pub forwarder: u8,
}

/// The IPv6 groups of a port, as the workers see them: the virtual
/// link-local addresses it answers Neighbor Discovery for (as AVG, or for
/// the VMACs it holds) and those it stays silent for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Groups6 {
    /// Virtual addresses this node answers solicitations for, as AVG.
    pub avg: Vec<VipBalance<Ipv6Addr>>,
    /// Virtual addresses of IPv6 groups where it is not AVG.
    pub silent: Vec<Ipv6Addr>,
    /// Held VMACs whose hosts' unicast solicitations (NUD) it answers.
    pub revalidate: Vec<Revalidate<Ipv6Addr>>,
}

impl Groups6 {
    /// The AVG's balancing table for virtual address `vip`.
    #[inline]
    pub fn avg(&self, vip: Ipv6Addr) -> Option<&VipBalance<Ipv6Addr>> {
        self.avg.iter().find(|v| v.vip == vip)
    }
    /// True when `ip` is the virtual address of an IPv6 group here.
    #[inline]
    pub fn is_vip(&self, ip: Ipv6Addr) -> bool {
        self.avg.iter().any(|v| v.vip == ip) || self.silent.contains(&ip)
    }
}

/// What the workers need to know about one port.
#[derive(Debug, Clone)]
pub struct PortView {
    pub name: String,
    pub mac: MacAddr,
    pub addr: Ipv4Net,
    /// VMACs this node forwards for on this port (at most 4 per group).
    pub vmacs: Vec<MacAddr>,
    /// Resolved neighbours on this port.
    pub neighbors: FxMap<Ipv4Addr, MacAddr>,
    /// Resolved IPv6 neighbours on this port.
    pub neighbors6: FxMap<Ipv6Addr, MacAddr>,
    /// Virtual IPs this node answers ARP for (it is their AVG).
    pub avg: Vec<VipBalance>,
    /// Held VMACs whose unicast re-validations this node answers.
    pub revalidate: Vec<Revalidate>,
    /// Virtual IPs of groups where this node is not AVG: ARP for them is
    /// dropped (only the AVG answers).
    pub silent: Vec<Ipv4Addr>,
    /// False while the port's link is down: nothing is forwarded into it.
    pub link_up: bool,
    /// Its IPv6 link-local address.
    pub link_local: Ipv6Addr,
    /// Its global IPv6 addresses.
    pub address6: Vec<Ipv6Addr>,
    /// Its IPv6 groups.
    pub groups6: Groups6,
}

impl PortView {
    /// A port with no VMACs, neighbours or groups and its link up (tests
    /// build their snapshots from it).
    #[cfg(test)]
    pub fn bare(name: &str, mac: MacAddr, addr: Ipv4Net) -> PortView {
        PortView {
            name: name.into(),
            mac,
            addr,
            vmacs: Vec::new(),
            neighbors: FxMap::default(),
            neighbors6: FxMap::default(),
            avg: Vec::new(),
            revalidate: Vec::new(),
            silent: Vec::new(),
            link_up: true,
            link_local: mac.link_local(),
            address6: Vec::new(),
            groups6: Groups6::default(),
        }
    }

    /// True when `ip` is the virtual IP of a group on this port.
    #[inline]
    pub fn is_vip(&self, ip: Ipv4Addr) -> bool {
        self.avg.iter().any(|v| v.vip == ip) || self.silent.contains(&ip)
    }

    /// True when `ip` is an own IPv6 address or a virtual one here.
    #[inline]
    pub fn is_local6(&self, ip: Ipv6Addr) -> bool {
        ip == self.link_local || self.address6.contains(&ip) || self.groups6.is_vip(ip)
    }
}

/// No interface: an unknown VLAN, or untagged traffic on a port that only
/// carries VLANs.
pub const NO_IFACE: u16 = u16::MAX;

/// Where the interfaces (a port's untagged traffic, or one 802.1Q VLAN of
/// a port) sit on the physical ports. Fixed for the life of the process.
#[derive(Debug, Clone)]
pub struct Links {
    /// By physical port.
    pub ports: Vec<PortLinks>,
    /// By interface: (physical port, VLAN id; 0 for untagged).
    pub ifaces: Vec<(u16, u16)>,
}

/// The interfaces of one physical port.
#[derive(Debug, Clone)]
pub struct PortLinks {
    /// The interface of untagged (and priority-tagged, VLAN 0) frames, or
    /// [`NO_IFACE`].
    pub untagged: u16,
    /// By VLAN id: its interface or [`NO_IFACE`]; `None` when the port
    /// carries no VLAN.
    pub vlans: Option<Box<[u16; 4096]>>,
    /// The device inserts 802.1Q tags on transmit.
    pub tx_vlan_offload: bool,
}

impl Links {
    /// The links of `nports` ports carrying `ifaces` (physical port, VLAN
    /// id; 0 for untagged), without any offload.
    pub fn new(nports: usize, ifaces: &[(u16, u16)]) -> Links {
        let mut ports: Vec<PortLinks> = (0..nports)
            .map(|_| PortLinks {
                untagged: NO_IFACE,
                vlans: None,
                tx_vlan_offload: false,
            })
            .collect();
        for (i, &(port, vlan)) in ifaces.iter().enumerate() {
            let Some(p) = ports.get_mut(usize::from(port)) else {
                continue;
            };
            if vlan == 0 {
                p.untagged = i as u16;
            } else if let Some(slot) = p
                .vlans
                .get_or_insert_with(|| Box::new([NO_IFACE; 4096]))
                .get_mut(usize::from(vlan))
            {
                *slot = i as u16;
            }
        }
        Links {
            ports,
            ifaces: ifaces.to_vec(),
        }
    }

    /// True when no port carries a VLAN and interface i is port i.
    pub fn is_plain(&self) -> bool {
        self.ifaces
            .iter()
            .enumerate()
            .all(|(i, &(p, vlan))| vlan == 0 && usize::from(p) == i)
            && self.ports.iter().all(|p| p.vlans.is_none())
    }

    /// The interface of a frame received on `port` with 802.1Q TCI `tci`
    /// (`None`: untagged), or [`NO_IFACE`].
    #[inline]
    pub fn iface(&self, port: usize, tci: Option<u16>) -> u16 {
        let Some(p) = self.ports.get(port) else {
            return NO_IFACE;
        };
        p.iface(tci)
    }
}

impl PortLinks {
    /// The interface of a frame with 802.1Q TCI `tci` (`None`: untagged),
    /// or [`NO_IFACE`].
    #[inline]
    pub fn iface(&self, tci: Option<u16>) -> u16 {
        match tci.map(|t| t & 0x0fff) {
            None | Some(0) => self.untagged,
            Some(vid) => self
                .vlans
                .as_ref()
                .and_then(|v| v.get(usize::from(vid)).copied())
                .unwrap_or(NO_IFACE),
        }
    }
}

/// One immutable snapshot of the dataplane's tables.
pub struct DataplaneState<R: Routes = crate::dpdk::Lpm> {
    /// Bumped on every publication, for tests and telemetry.
    pub generation: u64,
    pub ports: Vec<PortView>,
    /// Shared between snapshots: rebuilt only when routes change.
    pub routes: std::sync::Arc<R>,
    pub next_hops: Vec<NextHop>,
    /// The IPv6 routes.
    pub v6: V6Routes,
}

/// Builds the route list (connected subnets first, then static routes:
/// prefix, gateway and, for a link-local gateway, its port) as (prefix,
/// next hop) pairs; the next-hop index is the position in the returned
/// `Vec<NextHop>`.
pub fn route_entries<N: Prefix>(
    ports: &[(N, u16)],
    statics: &[(N, N::Addr, Option<u16>)],
) -> RouteEntries<N> {
    let mut entries = Vec::new();
    let mut hops: Vec<NextHop<N::Addr>> = Vec::new();
    let hop_index = |h: NextHop<N::Addr>, hops: &mut Vec<NextHop<N::Addr>>| -> u32 {
        if let Some(i) = hops.iter().position(|x| *x == h) {
            i as u32
        } else {
            hops.push(h);
            (hops.len() - 1) as u32
        }
    };
    for (net, port) in ports {
        let i = hop_index(
            NextHop {
                port: *port,
                via: None,
            },
            &mut hops,
        );
        entries.push((net.masked(), i));
    }
    for (prefix, via, given) in statics {
        // The egress port is the given one, or the one whose subnet holds
        // the gateway.
        let port = given.or_else(|| ports.iter().find(|(n, _)| n.holds(*via)).map(|(_, p)| *p));
        if let Some(port) = port {
            let i = hop_index(
                NextHop {
                    port,
                    via: Some(*via),
                },
                &mut hops,
            );
            entries.push((prefix.masked(), i));
        }
    }
    (entries, hops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connected_and_static_routes() {
        let lan: Ipv4Net = "10.0.0.2/24".parse().unwrap();
        let up: Ipv4Net = "192.0.2.2/24".parse().unwrap();
        let dflt: Ipv4Net = "0.0.0.0/0".parse().unwrap();
        let (entries, hops) = route_entries(
            &[(lan, 0), (up, 1)],
            &[(dflt, "192.0.2.1".parse().unwrap(), None)],
        );
        let r = LinearRoutes(entries);
        let hop = |ip: &str| hops[r.lookup(ip.parse().unwrap()).unwrap() as usize];
        assert_eq!(hop("10.0.0.77"), NextHop { port: 0, via: None });
        assert_eq!(hop("192.0.2.9"), NextHop { port: 1, via: None });
        assert_eq!(
            hop("198.51.100.1"),
            NextHop {
                port: 1,
                via: Some("192.0.2.1".parse().unwrap())
            }
        );
    }
}
