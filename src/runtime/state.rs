//! The immutable snapshot the workers read: own addresses, active VMACs,
//! routes and neighbours. The control lcore builds a new one and swaps it in
//! atomically (`ArcSwap`); a worker loads it once per poll round, and a
//! snapshot is freed only when no worker holds it any more.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::Ipv4Addr;

use crate::config::Ipv4Net;
use crate::protocol::lb::hrw_score;
use crate::protocol::LoadBalancing;
use crate::wire::MacAddr;

/// Longest-prefix-match routes: `rte_lpm` in production, a plain table in
/// unit tests of the packet path.
pub trait Routes: Send + Sync {
    /// Index into [`DataplaneState::next_hops`] for `dst`.
    fn lookup(&self, dst: Ipv4Addr) -> Option<u32>;
}

impl Routes for crate::dpdk::Lpm {
    #[inline]
    fn lookup(&self, dst: Ipv4Addr) -> Option<u32> {
        crate::dpdk::Lpm::lookup(self, dst)
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

/// Where a route leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextHop {
    /// Egress port index.
    pub port: u16,
    /// The gateway; `None` for a connected subnet (the destination itself
    /// is the neighbour).
    pub via: Option<Ipv4Addr>,
}

/// FxHash: a fast, non-cryptographic hasher for the per-packet neighbour
/// lookup (keys are our own neighbour IPs, not attacker-chosen flows).
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
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

/// How the AVG answers ARP for one virtual IP: the eligible forwarders
/// (sorted by number) and, for the weighted method, a precomputed cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VipBalance {
    pub group: u16,
    pub vip: Ipv4Addr,
    pub method: LoadBalancing,
    /// Eligible forwarders: (number, VMAC).
    pub forwarders: Vec<(u8, MacAddr)>,
    /// Weighted: indices into `forwarders`, one cycle of smooth weighted
    /// round-robin (empty for the other methods).
    pub schedule: Vec<u8>,
}

impl VipBalance {
    /// Builds the table from the engine's (number, VMAC, weight) list.
    pub fn new(
        group: u16,
        vip: Ipv4Addr,
        method: LoadBalancing,
        fwds: &[(u8, MacAddr, u8)],
    ) -> VipBalance {
        let mut f: Vec<(u8, MacAddr, u8)> = fwds.to_vec();
        f.sort_by_key(|x| x.0);
        let schedule = if method == LoadBalancing::Weighted {
            weighted_cycle(&f.iter().map(|x| x.2).collect::<Vec<_>>())
        } else {
            Vec::new()
        };
        VipBalance {
            group,
            vip,
            method,
            forwarders: f.iter().map(|x| (x.0, x.1)).collect(),
            schedule,
        }
    }

    /// The forwarder (index into `forwarders`) for a host: `turn` is the
    /// caller's per-group counter, advanced for round-robin and weighted.
    #[inline]
    pub fn pick(&self, host: MacAddr, turn: &mut u32) -> Option<usize> {
        let n = self.forwarders.len();
        if n == 0 {
            return None;
        }
        match self.method {
            LoadBalancing::HostDependent => {
                (0..n).max_by_key(|&i| hrw_score(host, self.forwarders[i].0))
            }
            LoadBalancing::Weighted if !self.schedule.is_empty() => {
                let i = self.schedule[*turn as usize % self.schedule.len()];
                *turn = turn.wrapping_add(1);
                Some(usize::from(i))
            }
            _ => {
                let i = turn_index(*turn, n);
                *turn = turn.wrapping_add(1);
                Some(i)
            }
        }
    }
}

/// `turn % n` for the 1..=4 forwarders of a group without a hardware
/// division (tens of cycles, on every ARP reply): constant divisors become
/// masks or a multiplication.
#[inline]
fn turn_index(turn: u32, n: usize) -> usize {
    let t = turn as usize;
    match n {
        1 => 0,
        2 => t & 1,
        3 => t % 3,
        4 => t & 3,
        _ => t % n,
    }
}

/// One cycle of smooth weighted round-robin over `weights` (indices into
/// it), of length sum/gcd; empty when every weight is 0.
pub fn weighted_cycle(weights: &[u8]) -> Vec<u8> {
    fn gcd(a: u32, b: u32) -> u32 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    let g = weights.iter().map(|&w| u32::from(w)).fold(0, gcd);
    if g == 0 {
        return Vec::new();
    }
    let w: Vec<i64> = weights
        .iter()
        .map(|&x| i64::from(u32::from(x) / g))
        .collect();
    let total: i64 = w.iter().sum();
    let mut acc = vec![0i64; w.len()];
    let mut out = Vec::with_capacity(total as usize);
    for _ in 0..total {
        let mut best = 0;
        for i in 0..w.len() {
            acc[i] += w[i];
            if acc[i] > acc[best] {
                best = i;
            }
        }
        acc[best] -= total;
        out.push(best as u8);
    }
    out
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
    /// Virtual IPs this node answers ARP for (it is their AVG).
    pub avg: Vec<VipBalance>,
    /// Virtual IPs of groups where this node is not AVG: ARP for them is
    /// dropped (only the AVG answers).
    pub silent: Vec<Ipv4Addr>,
    /// False while the port's link is down: nothing is forwarded into it.
    pub link_up: bool,
}

impl PortView {
    /// True when `ip` is the virtual IP of a group on this port.
    #[inline]
    pub fn is_vip(&self, ip: Ipv4Addr) -> bool {
        self.avg.iter().any(|v| v.vip == ip) || self.silent.contains(&ip)
    }

    /// True when frames to `dst` are ours to route.
    #[inline]
    pub fn accepts(&self, dst: &MacAddr) -> bool {
        *dst == self.mac || self.vmacs.contains(dst)
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
}

impl<R: Routes> DataplaneState<R> {
    /// True when `ip` is one of our own port addresses.
    #[inline]
    pub fn is_own_ip(&self, ip: Ipv4Addr) -> bool {
        self.ports.iter().any(|p| p.addr.addr == ip)
    }
}

/// Builds the route list (connected subnets first, then static routes) as
/// (prefix, next hop) pairs; the next-hop index is the position in the
/// returned `Vec<NextHop>`.
pub fn route_entries(
    ports: &[(Ipv4Net, u16)],
    statics: &[(Ipv4Net, Ipv4Addr)],
) -> (Vec<(Ipv4Net, u32)>, Vec<NextHop>) {
    let mut entries = Vec::new();
    let mut hops: Vec<NextHop> = Vec::new();
    let hop_index = |h: NextHop, hops: &mut Vec<NextHop>| -> u32 {
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
        entries.push((
            Ipv4Net {
                addr: net.network(),
                len: net.len,
            },
            i,
        ));
    }
    for (prefix, via) in statics {
        // The egress port is the one whose subnet holds the gateway.
        if let Some((_, port)) = ports.iter().find(|(n, _)| n.contains(*via)) {
            let i = hop_index(
                NextHop {
                    port: *port,
                    via: Some(*via),
                },
                &mut hops,
            );
            entries.push((
                Ipv4Net {
                    addr: prefix.network(),
                    len: prefix.len,
                },
                i,
            ));
        }
    }
    (entries, hops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_cycle_is_proportional_and_smooth() {
        let c = weighted_cycle(&[100, 50, 100]);
        assert_eq!(
            c,
            vec![0, 2, 1, 0, 2],
            "100:50:100 reduces to 2:1:2, interleaved"
        );
        assert!(weighted_cycle(&[0, 0]).is_empty());
        assert_eq!(weighted_cycle(&[7]), vec![0]);
        let c = weighted_cycle(&[3, 1]);
        assert_eq!(c.iter().filter(|&&i| i == 0).count(), 3);
    }

    #[test]
    fn pick_follows_the_method() {
        let f = |n: u8| (n, crate::protocol::vmac(1, n), 100u8);
        let rr = VipBalance::new(
            1,
            Ipv4Addr::new(10, 0, 0, 1),
            LoadBalancing::RoundRobin,
            &[f(3), f(1), f(2)],
        );
        let mut turn = 0;
        let picks: Vec<u8> = (0..6)
            .map(|_| rr.forwarders[rr.pick(MacAddr::ZERO, &mut turn).unwrap()].0)
            .collect();
        assert_eq!(picks, [1, 2, 3, 1, 2, 3], "sorted by number, cycling");
        let hd = VipBalance::new(
            1,
            Ipv4Addr::new(10, 0, 0, 1),
            LoadBalancing::HostDependent,
            &[f(1), f(2), f(3)],
        );
        let host = MacAddr([2, 0, 0, 0, 1, 2]);
        let a = hd.pick(host, &mut turn);
        assert!(
            (0..10).all(|_| hd.pick(host, &mut turn) == a),
            "same host, same forwarder"
        );
        let empty = VipBalance::new(
            1,
            Ipv4Addr::new(10, 0, 0, 1),
            LoadBalancing::RoundRobin,
            &[],
        );
        assert_eq!(empty.pick(host, &mut turn), None);
    }

    #[test]
    fn turn_index_is_the_remainder() {
        for n in 1..=9usize {
            for t in (0..1000u32).chain([u32::MAX - 5, u32::MAX - 1, u32::MAX]) {
                assert_eq!(turn_index(t, n), t as usize % n, "{t} % {n}");
            }
        }
    }

    #[test]
    fn connected_and_static_routes() {
        let lan: Ipv4Net = "10.0.0.2/24".parse().unwrap();
        let up: Ipv4Net = "192.0.2.2/24".parse().unwrap();
        let dflt: Ipv4Net = "0.0.0.0/0".parse().unwrap();
        let (entries, hops) = route_entries(
            &[(lan, 0), (up, 1)],
            &[(dflt, "192.0.2.1".parse().unwrap())],
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
