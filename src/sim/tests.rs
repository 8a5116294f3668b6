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

/// Every router stops processing for hold + 300 ms (SIGSTOP, a CPU
/// stall): on resuming, each misses every peer for a moment, but the
/// dataplanes kept forwarding and answering from the last view, and the
/// queued hellos arrive at once. Hosts stay spread over the four
/// forwarders, none changes gateway, nobody sends a gratuitous ARP (no
/// member was alone for a full extra hold).
#[test]
fn a_stall_of_every_router_moves_no_host() {
    for c in [base(), ms_timers()] {
        let at = c.duration_ms / 2;
        let r = simulate(&SimConfig {
            faults: script(&[(at, Fault::Stall(u64::from(c.hold_ms) + 300))]),
            ..c.clone()
        });
        clean(&r);
        assert_eq!(r.faults.get("stall"), Some(&1));
        assert_eq!(r.gateway_changes, 0, "hold {}", c.hold_ms);
        assert_eq!(r.garps, 0, "hold {}", c.hold_ms);
        assert_eq!(r.hosts_per_forwarder, [50, 50, 50, 50]);
    }
}

/// A forged claim (Active, 167) for each forwarder from an address that is
/// no member changes nothing: every forwarder stays, the virtual IP stays
/// answered (i), no host moves.
#[test]
fn a_forged_claim_from_a_non_member_changes_nothing() {
    let c = base();
    let faults: Vec<(u64, Fault)> = (1..=4u8)
        .map(|n| (100_000 + u64::from(n) * 20_000, Fault::Forge(n)))
        .collect();
    let r = simulate(&SimConfig {
        faults: script(&faults),
        ..c
    });
    clean(&r);
    assert_eq!(r.faults.get("forge"), Some(&4));
    assert_eq!(r.gateway_changes, 0);
    assert_eq!(r.hosts_per_forwarder, [50, 50, 50, 50]);
    assert_eq!(r.show.len(), 4);
}

/// Two routers, R1 (the higher IP) at priority 110: partitioned, each is
/// AVG of its side and claims forwarder 1; healed, one yields it and asks
/// again; then R1 crashes. Through the forwarder timeout and after, R0
/// answers the virtual IP (i) and forwards (j); the hosts end on it.
#[test]
fn partition_heal_then_crash_of_the_higher_ip_leaves_the_vip_answered() {
    let c = SimConfig {
        routers: 2,
        priorities: vec![100, 110],
        duration_ms: 400_000,
        ..ms_timers()
    };
    let hosts: Vec<usize> = (0..c.hosts).filter(|h| h % 2 == 1).collect();
    let r = simulate(&SimConfig {
        faults: script(&[
            (
                60_000,
                Fault::Partition {
                    routers: vec![1],
                    hosts,
                },
            ),
            (120_000, Fault::Heal),
            (180_000, Fault::Crash(1)),
        ]),
        ..c.clone()
    });
    clean(&r);
    // Past R1's forwarder timeout (60 s) every host is on R0's VMACs.
    assert_eq!(r.show.len(), 1, "R0 alone");
    assert_eq!(r.hosts_per_forwarder.iter().sum::<usize>(), c.hosts);
    assert!(r.show[0].contains("Active"), "{}", r.show[0]);
}

/// Ten minutes without faults, with Linux's neighbour timers: hosts
/// re-validate their entry every 15-45 s by unicast probes, every cycle
/// is answered, nobody changes gateway, no entry fails.
#[test]
fn revalidation_without_faults_keeps_every_gateway() {
    let r = simulate(&base());
    clean(&r);
    assert_eq!(r.gateway_changes, 0);
    assert_eq!(r.entries_failed, 0);
    assert_eq!(r.garps, 0);
    // 200 hosts, ~30 s between cycles, ~9 minutes of traffic.
    assert!(
        r.revalidations_answered > 2000,
        "{}",
        r.revalidations_answered
    );
    assert!(r.revalidations_sent >= r.revalidations_answered);
}
