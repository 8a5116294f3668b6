//! Token buckets in TSC ticks: integer arithmetic, no clock call but the
//! `rdtsc` the caller already has, so a worker can police punts per packet
//! and the control lcore can rate-limit the ICMP it sends.

/// A token bucket: `rate` tokens a second, at most `burst` saved up.
#[derive(Debug, Clone, Copy)]
pub struct Policer {
    /// Credit in ticks; one packet costs `cost`.
    credit: u64,
    cost: u64,
    cap: u64,
    last: u64,
}

impl Policer {
    /// `rate` per second (at least 1), `burst` packets (at least 1), with a
    /// clock of `hz` ticks a second. Starts full.
    pub fn new(rate: u32, burst: u32, hz: u64) -> Policer {
        let cost = (hz / u64::from(rate.max(1))).max(1);
        let cap = cost.saturating_mul(u64::from(burst.max(1)));
        Policer {
            credit: cap,
            cost,
            cap,
            last: 0,
        }
    }

    /// Takes one token at time `now` (ticks); false when none is left.
    #[inline]
    pub fn allow(&mut self, now: u64) -> bool {
        if now > self.last {
            self.credit = self.credit.saturating_add(now - self.last).min(self.cap);
            self.last = now;
        }
        if self.credit >= self.cost {
            self.credit -= self.cost;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        // 1000 ticks a second, 10 per second, burst 5.
        let mut p = Policer::new(10, 5, 1000);
        let t0 = 1_000_000;
        let first: usize = (0..20).filter(|_| p.allow(t0)).count();
        assert_eq!(first, 5, "the burst");
        // One second later: ten more, not more than the burst saved up.
        let later: usize = (0..20).filter(|_| p.allow(t0 + 1000)).count();
        assert_eq!(later, 5, "capped at the burst");
        // Spread over a second at the rate: all pass.
        let mut passed = 0;
        for i in 1..=10 {
            passed += usize::from(p.allow(t0 + 1000 + i * 100));
        }
        assert_eq!(passed, 10);
    }

    #[test]
    fn a_clock_that_goes_back_does_not_mint_tokens() {
        let mut p = Policer::new(1, 1, 1000);
        assert!(p.allow(5000));
        assert!(!p.allow(4000));
        assert!(!p.allow(4500));
        assert!(!p.allow(5500), "only 500 ticks since the last token");
        assert!(p.allow(6000));
    }
}
