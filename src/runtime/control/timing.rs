//! How late the control plane runs, measured on the control lcore and
//! always on: hello send lateness per port, hello arrival gaps per peer,
//! how long punted frames wait in the ring per punt class, and the control
//! loop's round time. HdrHistograms in microseconds, each kept since start
//! and over the last minute (six 10-second slots).
//!
//! False failovers come from a control plane that runs late: a hello sent
//! `hold` after it was due looks like a dead router to the peers. These
//! histograms show it before it happens.

use std::collections::BTreeMap;
use std::net::IpAddr;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::runtime::dataplane::counters::PuntClass;

/// Largest value recorded (larger ones saturate): one minute.
const MAX_US: u64 = 60_000_000;
/// Significant digits kept: 2 (1 % resolution).
const SIGFIG: u8 = 2;
/// The last minute is this many slots of `SLOT_MS`.
const SLOTS: usize = 6;
const SLOT_MS: u64 = 10_000;
/// Peers (members heard on any port) with a series of their own; hellos
/// of more peers are counted in `untracked_peers` only.
const MAX_PEERS: usize = 256;

fn histogram() -> Histogram<u32> {
    Histogram::new_with_bounds(1, MAX_US, SIGFIG).expect("static bounds are valid")
}

/// One measured quantity: since start and over the last minute.
pub struct Series {
    total: Histogram<u32>,
    slots: Vec<(u64, Histogram<u32>)>,
}

impl Default for Series {
    fn default() -> Self {
        Series {
            total: histogram(),
            slots: (0..SLOTS).map(|_| (u64::MAX, histogram())).collect(),
        }
    }
}

impl Series {
    /// Records `us` microseconds at control time `now_ms`.
    pub fn record(&mut self, now_ms: u64, us: u64) {
        let us = us.clamp(1, MAX_US);
        self.total.saturating_record(us);
        let epoch = now_ms / SLOT_MS;
        let (e, h) = &mut self.slots[(epoch % SLOTS as u64) as usize];
        if *e != epoch {
            *e = epoch;
            h.reset();
        }
        h.saturating_record(us);
    }

    /// Percentiles since start and over the last minute.
    pub fn window(&self, now_ms: u64) -> Window {
        let epoch = now_ms / SLOT_MS;
        let mut last = histogram();
        for (e, h) in &self.slots {
            if *e <= epoch && epoch - *e < SLOTS as u64 {
                // Same bounds on both sides: adding cannot fail.
                let _ = last.add(h);
            }
        }
        Window {
            since_start: Summary::of(&self.total),
            last_minute: Summary::of(&last),
        }
    }
}

/// Percentiles of one histogram, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub count: u64,
    /// Sum of the samples (mean × count, to the histogram's resolution).
    pub sum_us: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

impl Summary {
    fn of(h: &Histogram<u32>) -> Summary {
        if h.is_empty() {
            return Summary::default();
        }
        Summary {
            count: h.len(),
            sum_us: (h.mean() * h.len() as f64) as u64,
            p50_us: h.value_at_quantile(0.5),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        }
    }
}

/// A series as reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub since_start: Summary,
    pub last_minute: Summary,
}

/// The timing section of the status document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimingReport {
    /// Hello send time minus due time, by port name.
    pub hello_lateness: BTreeMap<String, Window>,
    /// Time between consecutive valid hellos of the same member and group.
    pub hello_arrival: Vec<PeerReport>,
    /// Members heard beyond the per-peer limit (not in `hello_arrival`).
    pub untracked_peers: u64,
    /// Worker enqueue to control dequeue, by punt class.
    pub punt_latency: BTreeMap<String, Window>,
    /// One round of the control loop (work only, not its idle sleep).
    pub control_loop: Window,
}

/// Arrival gaps of one peer on one port.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerReport {
    pub port: String,
    pub peer: String,
    /// The hello time the peer advertises, for comparison with the gaps.
    pub hello_ms: u32,
    pub gaps: Window,
}

struct Peer {
    series: Series,
    hello_ms: u32,
    /// Last valid hello by group, in microseconds of control time.
    last_us: BTreeMap<u16, u64>,
}

/// All timing series of the control lcore.
pub struct Timing {
    /// By port, made on the port's first hello (a series is ~150 KB: a
    /// trunk has hundreds of VLANs, most of them without a group).
    hello_late: Vec<Option<Box<Series>>>,
    peers: BTreeMap<(usize, IpAddr), Peer>,
    untracked_peers: u64,
    punt: Vec<Series>,
    control_loop: Series,
}

impl Timing {
    pub fn new(ports: usize) -> Timing {
        Timing {
            hello_late: (0..ports).map(|_| None).collect(),
            peers: BTreeMap::new(),
            untracked_peers: 0,
            punt: (0..PuntClass::COUNT).map(|_| Series::default()).collect(),
            control_loop: Series::default(),
        }
    }

    /// A periodic hello on `port` went out `late_us` after it was due.
    pub fn hello_sent(&mut self, now_ms: u64, port: usize, late_us: u64) {
        if let Some(s) = self.hello_late.get_mut(port) {
            s.get_or_insert_with(Box::default).record(now_ms, late_us);
        }
    }

    /// A valid hello of `group` from `peer` arrived at `now_us`.
    pub fn hello_received(
        &mut self,
        now_us: u64,
        port: usize,
        group: u16,
        peer: IpAddr,
        hello_ms: u32,
    ) {
        if !self.peers.contains_key(&(port, peer)) && self.peers.len() >= MAX_PEERS {
            self.untracked_peers += 1;
            return;
        }
        let p = self.peers.entry((port, peer)).or_insert_with(|| Peer {
            series: Series::default(),
            hello_ms,
            last_us: BTreeMap::new(),
        });
        p.hello_ms = hello_ms;
        if let Some(prev) = p.last_us.insert(group, now_us) {
            p.series.record(now_us / 1000, now_us.saturating_sub(prev));
        }
    }

    /// A punted frame of `class` waited `wait_us` in the ring.
    pub fn punted(&mut self, now_ms: u64, class: PuntClass, wait_us: u64) {
        self.punt[class as usize].record(now_ms, wait_us);
    }

    /// One control-loop round took `us`.
    pub fn control_round(&mut self, now_ms: u64, us: u64) {
        self.control_loop.record(now_ms, us);
    }

    pub fn report(&self, now_ms: u64, port_names: &[String]) -> TimingReport {
        TimingReport {
            hello_lateness: self
                .hello_late
                .iter()
                .zip(port_names)
                .filter_map(|(s, n)| Some((s.as_deref()?, n)))
                .filter(|(s, _)| !s.total.is_empty())
                .map(|(s, n)| (n.clone(), s.window(now_ms)))
                .collect(),
            hello_arrival: self
                .peers
                .iter()
                .map(|((port, ip), p)| PeerReport {
                    port: port_names.get(*port).cloned().unwrap_or_default(),
                    peer: ip.to_string(),
                    hello_ms: p.hello_ms,
                    gaps: p.series.window(now_ms),
                })
                .collect(),
            untracked_peers: self.untracked_peers,
            punt_latency: PuntClass::ALL
                .iter()
                .map(|c| (c.name().to_string(), self.punt[*c as usize].window(now_ms)))
                .collect(),
            control_loop: self.control_loop.window(now_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn the_last_minute_forgets_what_is_older() {
        let mut s = Series::default();
        s.record(0, 500_000);
        s.record(5_000, 100);
        let w = s.window(5_000);
        assert_eq!(w.since_start.count, 2);
        assert_eq!(w.last_minute.count, 2);
        assert!(w.last_minute.max_us >= 495_000);
        // 70 s later the 500 ms sample is out of the window, not out of
        // the total.
        s.record(70_000, 200);
        let w = s.window(70_000);
        assert_eq!(w.since_start.count, 3);
        assert_eq!(w.last_minute.count, 1);
        assert!(w.last_minute.max_us < 1000);
        assert!(w.since_start.max_us >= 495_000);
    }

    #[test]
    fn arrival_gaps_are_per_member_and_group() {
        let mut t = Timing::new(1);
        let peer = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3));
        // Group 1 every 100 ms, group 2 every 100 ms, interleaved: the
        // gaps are 100 ms, not the 50 ms between two groups' hellos.
        for i in 0..10u64 {
            t.hello_received(i * 100_000, 0, 1, peer, 100);
            t.hello_received(i * 100_000 + 50_000, 0, 2, peer, 100);
        }
        // Then group 1 misses three hellos.
        t.hello_received(1_300_000, 0, 1, peer, 100);
        let r = t.report(1_300, &["lan0".into()]);
        assert_eq!(r.hello_arrival.len(), 1);
        let g = r.hello_arrival[0].gaps.since_start;
        assert_eq!(g.count, 19);
        assert!((99_000..=101_000).contains(&g.p50_us), "{g:?}");
        assert!(g.max_us >= 395_000, "{g:?}");
        assert_eq!(r.hello_arrival[0].port, "lan0");
        assert_eq!(r.hello_arrival[0].hello_ms, 100);
    }

    #[test]
    fn peers_beyond_the_limit_are_counted_not_kept() {
        let mut t = Timing::new(1);
        for i in 0..(MAX_PEERS as u32 + 10) {
            let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            t.hello_received(0, 0, 1, ip, 100);
        }
        let r = t.report(0, &["lan0".into()]);
        assert_eq!(r.hello_arrival.len(), MAX_PEERS);
        assert_eq!(r.untracked_peers, 10);
    }
}
