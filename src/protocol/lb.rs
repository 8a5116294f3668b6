//! Load balancing of ARP replies across forwarders (AVG only; no wire
//! impact), and the client cache. The one implementation: the workers
//! answer real hosts with it, and the engine (hence the simulator) calls the
//! same code, so every simulated seed exercises what answers real hosts.
//!
//! [`Balance::pick`] makes no allocation, takes no lock and is pure apart
//! from the caller's turn counter and the client table's atomics: it runs on
//! the fast path, once per ARP request for a virtual IP.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use super::config::{ClientCache, LoadBalancing};
use super::rng::mix64;
use super::Millis;
use crate::wire::MacAddr;

/// Rendezvous (highest random weight) score of a host for a forwarder.
pub fn hrw_score(host: MacAddr, number: u8) -> u64 {
    let mut h = [0u8; 8];
    h[..6].copy_from_slice(host.as_bytes());
    mix64(mix64(u64::from_le_bytes(h)) ^ u64::from(number))
}

/// How the AVG answers ARP for one virtual IP: the eligible forwarders
/// (sorted by number), the method, for the weighted method a precomputed
/// cycle of smooth weighted round-robin, and the client cache if configured.
/// Built off the fast path (when the eligible set changes); read-only after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    /// The configured method.
    pub method: LoadBalancing,
    /// Eligible forwarders: (number 1..=4, VMAC), by number.
    pub forwarders: Vec<(u8, MacAddr)>,
    /// Weighted: indices into `forwarders`, one cycle of smooth weighted
    /// round-robin (empty for the other methods, or all weights 0).
    pub schedule: Vec<u8>,
    /// The client cache (host -> last assignment), shared with whoever shows it.
    pub clients: Option<Arc<ClientTable>>,
}

impl Balance {
    /// Builds the table from (number, VMAC, weight of its current holder).
    pub fn new(
        method: LoadBalancing,
        fwds: &[(u8, MacAddr, u8)],
        clients: Option<Arc<ClientTable>>,
    ) -> Balance {
        let mut f: Vec<(u8, MacAddr, u8)> = fwds.to_vec();
        f.sort_by_key(|x| x.0);
        f.dedup_by_key(|x| x.0);
        let schedule = if method == LoadBalancing::Weighted {
            weighted_cycle(&f.iter().map(|x| x.2).collect::<Vec<_>>())
        } else {
            Vec::new()
        };
        Balance {
            method,
            forwarders: f.iter().map(|x| (x.0, x.1)).collect(),
            schedule,
            clients,
        }
    }

    /// The forwarder (index into `forwarders`) for `host` at `now`: its
    /// cached assignment while that forwarder is still eligible, else the
    /// method's pick (recorded in the cache). `turn` is the caller's
    /// per-group counter, advanced for round-robin and weighted.
    #[inline]
    pub fn pick(&self, host: MacAddr, turn: &mut u32, now: Millis) -> Option<usize> {
        if self.forwarders.is_empty() {
            return None;
        }
        if let Some(c) = &self.clients {
            if let Some(n) = c.lookup(host, now) {
                if let Some(i) = self.forwarders.iter().position(|f| f.0 == n) {
                    c.record(host, n, now);
                    return Some(i);
                }
            }
        }
        let i = self.choose(host, turn)?;
        if let Some(c) = &self.clients {
            c.record(host, self.forwarders[i].0, now);
        }
        Some(i)
    }

    /// The method's pick, ignoring the cache.
    #[inline]
    fn choose(&self, host: MacAddr, turn: &mut u32) -> Option<usize> {
        let n = self.forwarders.len();
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

/// Slots probed per host (an open-addressing window).
const WAYS: usize = 4;

/// IOS's client cache: the AVG's memory of which forwarder it gave each
/// host, so a host that broadcasts again (its entry failed, or it rebooted)
/// gets the same forwarder while that one is still eligible. A fixed table
/// of `max` slots allocated when the group is configured, keyed by host MAC
/// (a window of 4 slots from the MAC's hash), the oldest of the window
/// overwritten when full, entries aged after `timeout_s`.
///
/// Slots are atomics so that the workers (which answer ARP) write it and
/// the control lcore reads it for `show glbp` with no lock. Several workers
/// may race on one slot: each slot's key word (MAC and forwarder) is one
/// atomic, so a reader never sees a MAC with another host's forwarder; a
/// racing time stamp only makes an entry age a little early or late.
pub struct ClientTable {
    /// (MAC << 8 | forwarder) per slot; 0 = empty.
    keys: Box<[AtomicU64]>,
    /// Last assignment time + 1 (ms, caller's clock) per slot.
    at: Box<[AtomicU64]>,
    cfg: ClientCache,
}

impl fmt::Debug for ClientTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ClientTable(max {}, timeout {} s)",
            self.cfg.max, self.cfg.timeout_s
        )
    }
}

/// Tables are compared by identity: a snapshot with the same table is the
/// same snapshot, whatever the table holds now.
impl PartialEq for ClientTable {
    fn eq(&self, o: &Self) -> bool {
        std::ptr::eq(self, o)
    }
}
impl Eq for ClientTable {}

/// One cached assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientEntry {
    /// Host MAC.
    pub host: MacAddr,
    /// Forwarder number last given to it.
    pub forwarder: u8,
    /// When (caller's clock, ms).
    pub at: Millis,
}

fn mac_u64(m: MacAddr) -> u64 {
    let b = m.0;
    u64::from_be_bytes([0, 0, b[0], b[1], b[2], b[3], b[4], b[5]])
}

impl ClientTable {
    /// A table for `cfg`; `None` when the cache is off (`max` 0).
    pub fn new(cfg: ClientCache) -> Option<Arc<ClientTable>> {
        let n = usize::from(cfg.max);
        (n > 0).then(|| {
            Arc::new(ClientTable {
                keys: (0..n).map(|_| AtomicU64::new(0)).collect(),
                at: (0..n).map(|_| AtomicU64::new(0)).collect(),
                cfg,
            })
        })
    }

    /// The configuration it was built for.
    pub fn config(&self) -> ClientCache {
        self.cfg
    }

    fn ttl(&self) -> Millis {
        Millis::from(self.cfg.timeout_s) * 1000
    }

    #[inline]
    fn window(&self, host: MacAddr) -> impl Iterator<Item = usize> {
        let n = self.keys.len();
        let start = (mix64(mac_u64(host)) % n as u64) as usize;
        (0..WAYS.min(n)).map(move |k| (start + k) % n)
    }

    #[inline]
    fn fresh(&self, i: usize, now: Millis) -> bool {
        let at = self.at[i].load(Relaxed);
        at != 0 && now.saturating_sub(at - 1) < self.ttl()
    }

    /// The forwarder last given to `host`, unless aged out.
    #[inline]
    pub fn lookup(&self, host: MacAddr, now: Millis) -> Option<u8> {
        let want = mac_u64(host);
        self.window(host).find_map(|i| {
            let k = self.keys[i].load(Relaxed);
            (k != 0 && k >> 8 == want && self.fresh(i, now)).then_some((k & 0xff) as u8)
        })
    }

    /// Remembers that `host` got `forwarder` at `now`: its own slot, else
    /// an empty or aged one, else the oldest of its window.
    #[inline]
    pub fn record(&self, host: MacAddr, forwarder: u8, now: Millis) {
        let want = mac_u64(host);
        let own = self.window(host).find(|&i| {
            let k = self.keys[i].load(Relaxed);
            k != 0 && k >> 8 == want
        });
        let mut best: Option<(usize, u64)> = own.map(|i| (i, 0));
        for i in self.window(host).filter(|_| own.is_none()) {
            let k = self.keys[i].load(Relaxed);
            let age = if k == 0 || !self.fresh(i, now) {
                0
            } else {
                self.at[i].load(Relaxed)
            };
            if best.map_or(true, |(_, b)| age < b) {
                best = Some((i, age));
            }
        }
        if let Some((i, _)) = best {
            self.keys[i].store(want << 8 | u64::from(forwarder), Relaxed);
            self.at[i].store(now + 1, Relaxed);
        }
    }

    /// Live entries, by host MAC.
    pub fn entries(&self, now: Millis) -> Vec<ClientEntry> {
        let mut v: Vec<ClientEntry> = (0..self.keys.len())
            .filter_map(|i| {
                let k = self.keys[i].load(Relaxed);
                (k != 0 && self.fresh(i, now)).then(|| {
                    let b = (k >> 8).to_be_bytes();
                    ClientEntry {
                        host: MacAddr([b[2], b[3], b[4], b[5], b[6], b[7]]),
                        forwarder: (k & 0xff) as u8,
                        at: self.at[i].load(Relaxed) - 1,
                    }
                })
            })
            .collect();
        v.sort_by_key(|e| e.host);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::vmac;

    fn host(i: u32) -> MacAddr {
        let b = i.to_be_bytes();
        MacAddr([0x02, 0x10, b[0], b[1], b[2], b[3]])
    }

    fn bal(method: LoadBalancing, ws: &[(u8, u8)], cache: ClientCache) -> Balance {
        let f: Vec<(u8, MacAddr, u8)> = ws.iter().map(|&(n, w)| (n, vmac(1, n), w)).collect();
        Balance::new(method, &f, ClientTable::new(cache))
    }

    fn number(b: &Balance, h: MacAddr, turn: &mut u32, now: Millis) -> u8 {
        b.forwarders[b.pick(h, turn, now).unwrap()].0
    }

    #[test]
    fn round_robin_cycles_by_number_and_skips_the_ineligible() {
        let off = ClientCache::default();
        let mut turn = 0;
        let all = bal(
            LoadBalancing::RoundRobin,
            &[(3, 100), (1, 100), (2, 100)],
            off,
        );
        let picks: Vec<u8> = (0..7)
            .map(|i| number(&all, host(i), &mut turn, 0))
            .collect();
        assert_eq!(picks, [1, 2, 3, 1, 2, 3, 1], "sorted by number, cycling");
        let some = bal(LoadBalancing::RoundRobin, &[(1, 100), (3, 100)], off);
        turn = 0;
        let picks: Vec<u8> = (0..4)
            .map(|i| number(&some, host(i), &mut turn, 0))
            .collect();
        assert_eq!(picks, [1, 3, 1, 3]);
        let none = bal(LoadBalancing::RoundRobin, &[], off);
        assert_eq!(none.pick(host(0), &mut turn, 0), None);
    }

    #[test]
    fn weighted_is_exactly_proportional() {
        let c = bal(
            LoadBalancing::Weighted,
            &[(1, 100), (2, 50), (4, 100)],
            ClientCache::default(),
        );
        let mut n = [0u32; 5];
        let mut turn = 0;
        for i in 0..1000 {
            n[usize::from(number(&c, host(i), &mut turn, 0))] += 1;
        }
        assert_eq!(n, [0, 400, 200, 0, 400]);
        // All-zero weights fall back to round-robin rather than dividing by zero.
        let z = bal(
            LoadBalancing::Weighted,
            &[(1, 0), (2, 0)],
            ClientCache::default(),
        );
        assert!(z.pick(host(0), &mut turn, 0).is_some());
    }

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
    fn turn_index_is_the_remainder() {
        for n in 1..=9usize {
            for t in (0..1000u32).chain([u32::MAX - 5, u32::MAX - 1, u32::MAX]) {
                assert_eq!(turn_index(t, n), t as usize % n, "{t} % {n}");
            }
        }
    }

    #[test]
    fn host_dependent_is_stable_and_reshuffles_minimally() {
        let off = ClientCache::default();
        let four = bal(
            LoadBalancing::HostDependent,
            &[(1, 1), (2, 1), (3, 1), (4, 1)],
            off,
        );
        let three = bal(LoadBalancing::HostDependent, &[(1, 1), (2, 1), (4, 1)], off);
        let mut moved = 0;
        let mut counts = [0u32; 5];
        let mut turn = 0;
        for i in 0..2000 {
            let a = number(&four, host(i), &mut turn, 0);
            assert_eq!(number(&four, host(i), &mut turn, 5), a);
            counts[usize::from(a)] += 1;
            let c = number(&three, host(i), &mut turn, 0);
            if a != 3 {
                assert_eq!(a, c, "only hosts of the removed forwarder move");
            } else {
                moved += 1;
            }
        }
        assert!(
            counts[1..].iter().all(|&c| (400..=600).contains(&c)),
            "{counts:?}"
        );
        assert_eq!(moved, counts[3]);
    }

    #[test]
    fn client_cache_remembers_expires_and_is_bounded() {
        let cache = ClientCache {
            max: 2,
            timeout_s: 10,
        };
        let rr = LoadBalancing::RoundRobin;
        let b = bal(rr, &[(1, 1), (2, 1), (3, 1)], cache);
        let t = b.clients.clone().unwrap();
        let mut turn = 0;
        assert_eq!(number(&b, host(1), &mut turn, 0), 1);
        assert_eq!(number(&b, host(1), &mut turn, 1), 1, "cached");
        assert_eq!(number(&b, host(2), &mut turn, 2), 2);
        assert_eq!(t.entries(2).len(), 2);
        assert_eq!(number(&b, host(3), &mut turn, 3), 3);
        assert_eq!(t.entries(3).len(), 2, "bounded: the oldest is overwritten");
        assert_eq!(t.lookup(host(1), 3), None, "host 1 was the oldest");
        assert_eq!(number(&b, host(1), &mut turn, 4), 1, "fresh pick");
        assert_eq!(number(&b, host(1), &mut turn, 10_004), 2, "expired");
        // A cached forwarder that is no longer eligible is not handed out,
        // and the new pick replaces it.
        let only3 = Balance::new(rr, &[(3, vmac(1, 3), 1)], b.clients.clone());
        assert_eq!(number(&only3, host(1), &mut turn, 10_005), 3);
        assert_eq!(t.lookup(host(1), 10_005), Some(3));
        let e = t.entries(10_005);
        assert!(e.contains(&ClientEntry {
            host: host(1),
            forwarder: 3,
            at: 10_005
        }));
        assert!(ClientTable::new(ClientCache::default()).is_none(), "off");
    }

    #[test]
    fn client_cache_keeps_every_host_of_a_lan_that_fits() {
        // 200 hosts in a 2000-entry cache: each gets its first forwarder
        // again on every later broadcast, whatever the turn counter says.
        let cache = ClientCache {
            max: 2000,
            timeout_s: 14_400,
        };
        let b = bal(LoadBalancing::RoundRobin, &[(1, 1), (2, 1), (3, 1)], cache);
        let mut turn = 0;
        let first: Vec<u8> = (0..200)
            .map(|i| number(&b, host(i), &mut turn, 0))
            .collect();
        for round in 1..5 {
            for i in 0..200u32 {
                turn += i;
                assert_eq!(
                    number(&b, host(i), &mut turn, round * 60_000),
                    first[i as usize]
                );
            }
        }
        assert_eq!(b.clients.unwrap().entries(300_000).len(), 200);
    }
}
