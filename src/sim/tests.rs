//! Simulator tests: scripted scenarios with known answers, checker
//! self-tests, and a modest random-seed sweep (the big one is `#[ignore]`d
//! and available as `glbpd sim --seeds`).

use super::*;
use crate::protocol::LoadBalancing;

fn script(faults: &[(u64, Fault)]) -> FaultMode {
    FaultMode::Script(
        faults
            .iter()
            .map(|(at, f)| Scheduled {
                at: *at,
                fault: f.clone(),
            })
            .collect(),
    )
}

fn base() -> SimConfig {
    SimConfig {
        duration_ms: 600_000,
        faults: FaultMode::None,
        ..SimConfig::default()
    }
}

fn ms_timers() -> SimConfig {
    SimConfig {
        hello_ms: 50,
        hold_ms: 150,
        redirect_s: 10,
        timeout_s: 60,
        host_base_reachable_ms: 20_000,
        ..base()
    }
}

fn clean(r: &Report) {
    assert!(
        r.violations.is_empty(),
        "seed {}: {:#?}",
        r.seed,
        r.violations
    );
}

#[test]
fn fault_free_round_robin_is_exact() {
    let r = simulate(&base());
    clean(&r);
    assert_eq!(r.initial_hosts_per_forwarder, [50, 50, 50, 50]);
    assert_eq!(r.avg_changes, 1);
    assert_eq!(r.max_outage_ms, 0);
}

#[test]
fn weighted_within_five_percent_over_1000_hosts() {
    let c = SimConfig {
        hosts: 1000,
        load_balancing: LoadBalancing::Weighted,
        weights: vec![100, 50, 100, 50],
        duration_ms: 200_000,
        ..base()
    };
    let r = simulate(&c);
    clean(&r);
    let mut got = r.initial_hosts_per_forwarder.clone();
    got.sort_unstable();
    assert_eq!(got, [167, 167, 333, 333]);
}

#[test]
fn host_dependent_is_stable_without_faults() {
    let c = SimConfig {
        load_balancing: LoadBalancing::HostDependent,
        host_base_reachable_ms: 60_000,
        ..base()
    };
    let r = simulate(&c);
    clean(&r);
    assert!(
        r.initial_hosts_per_forwarder.iter().all(|&n| n > 25),
        "{:?}",
        r.initial_hosts_per_forwarder
    );
}

/// The AVG in a fault-free run with default priorities is the highest IP, R3.
#[test]
fn avg_crash_outage_is_within_hold_plus_hello() {
    for c in [base(), ms_timers()] {
        let at = c.duration_ms / 2;
        let r = simulate(&SimConfig {
            faults: script(&[(at, Fault::Crash(3))]),
            ..c.clone()
        });
        clean(&r);
        let crash = r.max_outage_by_cause_ms.get("crash").copied().unwrap_or(0);
        let bound = u64::from(c.hold_ms + c.hello_ms) + 2 * c.max_delay_ms + 1;
        assert!(
            crash > 0 && crash <= bound,
            "crash outage {crash} ms, bound {bound} ms"
        );
        assert_eq!(r.avg_changes, 2, "the standby took over");
    }
}

#[test]
fn graceful_stop_outage_is_within_one_hello() {
    for c in [base(), ms_timers()] {
        let at = c.duration_ms / 2;
        let r = simulate(&SimConfig {
            faults: script(&[(at, Fault::Stop(3)), (at + 60_000, Fault::Stop(2))]),
            ..c.clone()
        });
        clean(&r);
        let stop = r.max_outage_by_cause_ms.get("stop").copied().unwrap_or(0);
        assert!(stop <= u64::from(c.hello_ms), "stop outage {stop} ms");
        assert_eq!(r.avg_changes, 3);
    }
}

#[test]
fn forwarder_deleted_after_timeout_and_hosts_move_on() {
    // ms timers: redirect 10 s, timeout 60 s, ARP lifetime 30 s.
    let c = SimConfig {
        duration_ms: 300_000,
        faults: script(&[(60_000, Fault::Crash(1))]),
        ..ms_timers()
    };
    let r = simulate(&c);
    clean(&r);
    // The crashed router's forwarder is gone: nobody uses it at the end.
    assert_eq!(
        r.hosts_per_forwarder.iter().filter(|&&n| n == 0).count(),
        1,
        "{:?}",
        r.hosts_per_forwarder
    );
}

#[test]
fn checker_catches_a_deaf_router() {
    let c = SimConfig {
        faults: script(&[(120_000, Fault::Deaf(0, true))]),
        ..base()
    };
    let r = simulate(&c);
    let kinds: std::collections::BTreeSet<&str> =
        r.violations.iter().map(|v| v.invariant).collect();
    assert!(kinds.contains("a-one-avg"), "{kinds:?}");
    assert!(kinds.contains("b-duplicate"), "{kinds:?}");
    assert!(!r.violations[0].trace.is_empty());
}

/// Random faults over `seeds`: no violation, crash outages within hold +
/// hello (+ LAN delays), graceful-stop outages within one hello.
fn sweep(c: SimConfig, seeds: std::ops::RangeInclusive<u64>) {
    // A host with no entry (it failed, or was still resolving) waits for
    // its next broadcast request, retrans_time apart, once an AVG answers.
    let crash_bound =
        u64::from(c.hold_ms + c.hello_ms) + 2 * c.max_delay_ms + 1 + c.host_retrans_ms;
    for seed in seeds {
        let r = simulate(&SimConfig {
            seed,
            faults: FaultMode::Random,
            ..c.clone()
        });
        clean(&r);
        assert!(r.faults.values().sum::<u64>() > 50, "{:?}", r.faults);
        let worst = |k| r.max_outage_by_cause_ms.get(k).copied().unwrap_or(0);
        assert!(
            worst("crash") <= crash_bound,
            "seed {seed}: crash {}",
            worst("crash")
        );
        assert!(
            worst("stop") <= u64::from(c.hello_ms),
            "seed {seed}: stop {}",
            worst("stop")
        );
    }
}

#[test]
fn random_seed_sweep_default_timers() {
    sweep(SimConfig::default(), 1..=24);
}

/// Forwarders time out and numbers get reused many times per run: redirect
/// 10 s, timeout 40 s, five routers, a fault every second or so.
#[test]
fn random_seed_sweep_short_timeouts() {
    let c = SimConfig {
        routers: 5,
        redirect_s: 10,
        timeout_s: 40,
        host_base_reachable_ms: 12_000,
        duration_ms: 600_000,
        ..ms_timers()
    };
    sweep(c, 1..=4);
}

#[test]
fn random_seed_sweep_ms_timers() {
    sweep(
        SimConfig {
            duration_ms: 600_000,
            ..ms_timers()
        },
        1..=8,
    );
}

/// The CI-size sweep: `cargo test --release -- --ignored` (or `glbpd sim
/// --seeds 1..2001`).
#[test]
#[ignore]
fn big_random_seed_sweep() {
    for seed in 1..=2000 {
        clean(&simulate(&SimConfig {
            seed,
            ..SimConfig::default()
        }));
        clean(&simulate(&SimConfig {
            seed,
            faults: FaultMode::Random,
            duration_ms: 600_000,
            ..ms_timers()
        }));
    }
}
