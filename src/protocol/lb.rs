//! Load balancing of ARP replies across forwarders (AVG only; no wire impact).

use std::collections::BTreeMap;

use super::config::{ClientCache, LoadBalancing};
use super::rng::mix64;
use super::Millis;
use crate::wire::MacAddr;

/// One forwarder the AVG may hand out, with the weight of its current holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub number: u8,
    pub weight: u8,
}

/// Load-balancer state of one group: round-robin pointer, smooth weighted
/// round-robin accumulators, client cache.
#[derive(Debug, Clone, Default)]
pub(crate) struct Balancer {
    /// Forwarder number the next round-robin pick starts from (1..=4).
    rr_next: u8,
    /// Smooth weighted round-robin "current weight" per forwarder 1..=4.
    swrr: [i64; 4],
    /// Host MAC -> (forwarder number, last use).
    cache: BTreeMap<MacAddr, (u8, Millis)>,
}

/// Rendezvous (highest random weight) score of a host for a forwarder.
pub fn hrw_score(host: MacAddr, number: u8) -> u64 {
    let mut h = [0u8; 8];
    h[..6].copy_from_slice(host.as_bytes());
    mix64(mix64(u64::from_le_bytes(h)) ^ u64::from(number))
}

impl Balancer {
    /// Forgets all state (used when the method changes).
    pub fn reset(&mut self) {
        *self = Balancer::default();
    }

    /// Picks a forwarder for `host` among `eligible` (sorted by number, numbers
    /// 1..=4). `None` when nothing is eligible.
    pub fn choose(
        &mut self,
        now: Millis,
        method: LoadBalancing,
        cache_cfg: ClientCache,
        eligible: &[Candidate],
        host: MacAddr,
    ) -> Option<u8> {
        if eligible.is_empty() {
            return None;
        }
        let ttl = u64::from(cache_cfg.timeout_s) * 1000;
        if cache_cfg.max > 0 {
            if let Some(&(n, last)) = self.cache.get(&host) {
                if now.saturating_sub(last) < ttl && eligible.iter().any(|c| c.number == n) {
                    self.cache.insert(host, (n, now));
                    return Some(n);
                }
            }
        }
        let n = match method {
            LoadBalancing::RoundRobin => self.round_robin(eligible),
            LoadBalancing::Weighted => self.weighted(eligible),
            LoadBalancing::HostDependent => eligible
                .iter()
                .max_by_key(|c| hrw_score(host, c.number))
                .map(|c| c.number)?,
        };
        if cache_cfg.max > 0 {
            self.cache
                .retain(|_, (_, last)| now.saturating_sub(*last) < ttl);
            if self.cache.len() >= usize::from(cache_cfg.max) && !self.cache.contains_key(&host) {
                if let Some(oldest) = self
                    .cache
                    .iter()
                    .min_by_key(|(_, (_, t))| *t)
                    .map(|(m, _)| *m)
                {
                    self.cache.remove(&oldest);
                }
            }
            self.cache.insert(host, (n, now));
        }
        Some(n)
    }

    /// Drops cache entries beyond a new maximum (oldest first).
    pub fn trim_cache(&mut self, max: u16) {
        while self.cache.len() > usize::from(max) {
            match self
                .cache
                .iter()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(m, _)| *m)
            {
                Some(oldest) => self.cache.remove(&oldest),
                None => break,
            };
        }
    }

    /// Number of hosts in the client cache.
    #[cfg(test)]
    pub fn cache_len(&self) -> usize {
        self.cache.len()
    }

    fn round_robin(&mut self, eligible: &[Candidate]) -> u8 {
        let start = self.rr_next.clamp(1, 4);
        let pick = eligible
            .iter()
            .find(|c| c.number >= start)
            .unwrap_or(&eligible[0])
            .number;
        self.rr_next = if pick >= 4 { 1 } else { pick + 1 };
        pick
    }

    fn weighted(&mut self, eligible: &[Candidate]) -> u8 {
        let total: i64 = eligible.iter().map(|c| i64::from(c.weight)).sum();
        if total == 0 {
            return self.round_robin(eligible);
        }
        for (i, acc) in self.swrr.iter_mut().enumerate() {
            if !eligible.iter().any(|c| usize::from(c.number) == i + 1) {
                *acc = 0;
            }
        }
        let mut best: Option<(i64, u8)> = None;
        for c in eligible {
            let acc = &mut self.swrr[usize::from(c.number - 1)];
            *acc += i64::from(c.weight);
            if best.map_or(true, |(b, _)| *acc > b) {
                best = Some((*acc, c.number));
            }
        }
        let (_, pick) = best.unwrap_or((0, eligible[0].number));
        self.swrr[usize::from(pick - 1)] -= total;
        pick
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cands(ws: &[(u8, u8)]) -> Vec<Candidate> {
        ws.iter()
            .map(|&(number, weight)| Candidate { number, weight })
            .collect()
    }

    fn host(i: u32) -> MacAddr {
        let b = i.to_be_bytes();
        MacAddr([0x02, 0x10, b[0], b[1], b[2], b[3]])
    }

    #[test]
    fn round_robin_cycles_and_skips() {
        let mut b = Balancer::default();
        let off = ClientCache::default();
        let all = cands(&[(1, 100), (2, 100), (3, 100)]);
        let picks: Vec<u8> = (0..7)
            .map(|i| {
                b.choose(0, LoadBalancing::RoundRobin, off, &all, host(i))
                    .unwrap()
            })
            .collect();
        assert_eq!(picks, [1, 2, 3, 1, 2, 3, 1]);
        let some = cands(&[(1, 100), (3, 100)]);
        let picks: Vec<u8> = (0..4)
            .map(|i| {
                b.choose(0, LoadBalancing::RoundRobin, off, &some, host(i))
                    .unwrap()
            })
            .collect();
        assert_eq!(picks, [3, 1, 3, 1]);
        assert_eq!(
            b.choose(0, LoadBalancing::RoundRobin, off, &[], host(0)),
            None
        );
    }

    #[test]
    fn weighted_is_exactly_proportional() {
        let mut b = Balancer::default();
        let c = cands(&[(1, 100), (2, 50), (4, 100)]);
        let mut n = [0u32; 5];
        for i in 0..1000 {
            n[usize::from(
                b.choose(
                    0,
                    LoadBalancing::Weighted,
                    ClientCache::default(),
                    &c,
                    host(i),
                )
                .unwrap(),
            )] += 1;
        }
        assert_eq!(n, [0, 400, 200, 0, 400]);
        // All-zero weights fall back to round-robin rather than dividing by zero.
        let z = cands(&[(1, 0), (2, 0)]);
        assert!(b
            .choose(
                0,
                LoadBalancing::Weighted,
                ClientCache::default(),
                &z,
                host(0)
            )
            .is_some());
    }

    #[test]
    fn host_dependent_is_stable_and_reshuffles_minimally() {
        let mut b = Balancer::default();
        let off = ClientCache::default();
        let four = cands(&[(1, 1), (2, 1), (3, 1), (4, 1)]);
        let three = cands(&[(1, 1), (2, 1), (4, 1)]);
        let mut moved = 0;
        let mut counts = [0u32; 5];
        for i in 0..2000 {
            let a = b
                .choose(0, LoadBalancing::HostDependent, off, &four, host(i))
                .unwrap();
            assert_eq!(
                b.choose(5, LoadBalancing::HostDependent, off, &four, host(i)),
                Some(a)
            );
            counts[usize::from(a)] += 1;
            let c = b
                .choose(0, LoadBalancing::HostDependent, off, &three, host(i))
                .unwrap();
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
        let mut b = Balancer::default();
        let cache = ClientCache {
            max: 2,
            timeout_s: 10,
        };
        let c = cands(&[(1, 1), (2, 1), (3, 1)]);
        let rr = LoadBalancing::RoundRobin;
        assert_eq!(b.choose(0, rr, cache, &c, host(1)), Some(1));
        assert_eq!(b.choose(1, rr, cache, &c, host(1)), Some(1), "cached");
        assert_eq!(b.choose(2, rr, cache, &c, host(2)), Some(2));
        assert_eq!(b.choose(3, rr, cache, &c, host(3)), Some(3));
        assert_eq!(b.cache_len(), 2, "bounded: oldest evicted");
        assert_eq!(
            b.choose(4, rr, cache, &c, host(1)),
            Some(1),
            "evicted, fresh pick"
        );
        assert_eq!(b.choose(20_000, rr, cache, &c, host(1)), Some(2), "expired");
        // A cached forwarder that is no longer eligible is not handed out.
        let only3 = cands(&[(3, 1)]);
        assert_eq!(b.choose(20_001, rr, cache, &only3, host(1)), Some(3));
        b.trim_cache(0);
        assert_eq!(b.cache_len(), 0);
    }
}
