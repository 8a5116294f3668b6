//! Gateway (VG) election, preemption, timers learnt from the AVG and the
//! lone survivor (engine: group/vg.rs).

use super::*;

#[test]
fn lone_router_walks_init_listen_speak_active_and_forwards() {
    let mut g = group(1, cfg());
    let a = g.handle(0, Event::Enable);
    assert_eq!(
        vg_changes(&a),
        [
            (VgState::Disabled, VgState::Init),
            (VgState::Init, VgState::Listen)
        ]
    );
    assert_eq!(sends(&a).len(), 1, "a state change sends a hello at once");
    let a = run(&mut g, HOLD);
    assert_eq!(vg_changes(&a), [(VgState::Listen, VgState::Speak)]);
    let a = run(&mut g, HOLD + HELLO);
    assert_eq!(vg_changes(&a), [(VgState::Speak, VgState::Active)]);
    let s = g.status(HOLD + HELLO);
    assert_eq!(s.forwarders.len(), 1);
    assert!(
        s.forwarders[0].primary && s.forwarders[0].state == VfState::Listen,
        "waits one hold in Listen"
    );
    let a = run(&mut g, 2 * HOLD + HELLO);
    assert_eq!(starts(&a), [vmac(1, 1)]);
    let (dst, src, m) = sends(&a).into_iter().find(|s| s.2.hello.is_none()).unwrap();
    assert_eq!(
        (dst, src),
        (&Dest::Multicast, &vmac(1, 1)),
        "takeover announced from the VMAC"
    );
    assert!(m.forwarders[0].state == VfState::Active && m.forwarders[0].priority == 167);
    assert_eq!(arp(&mut g, 2 * HOLD + HELLO, 1), Some(vmac(1, 1)));
}

#[test]
fn init_without_vip_learns_it_from_the_avg() {
    let mut g = group(2, GroupConfig { vip: None, ..cfg() });
    let a = g.handle(0, Event::Enable);
    assert_eq!(g.state(), VgState::Init);
    assert!(sends(&a).is_empty());
    g.handle(5, Event::Rx(hello_from(9, VgState::Speak, 100)));
    assert_eq!(g.state(), VgState::Init, "only the AVG teaches the VIP");
    g.handle(10, Event::Rx(hello_from(9, VgState::Active, 100)));
    assert_eq!((g.state(), g.vip()), (VgState::Listen, Some(VIP)));
}

#[test]
fn election_by_priority_then_highest_ip() {
    let mut n = Net::new(vec![
        (1, cfg()),
        (2, cfg()),
        (
            3,
            GroupConfig {
                priority: 90,
                ..cfg()
            },
        ),
    ]);
    n.run_until(60_000);
    assert_eq!(
        [n.state(0), n.state(1), n.state(2)],
        [VgState::Standby, VgState::Active, VgState::Listen]
    );
    let mut n = three();
    n.run_until(60_000);
    assert_eq!(
        [n.state(0), n.state(1), n.state(2)],
        [VgState::Active, VgState::Standby, VgState::Listen]
    );
    // Every member got a forwarder, numbered in arrival order, AVG first.
    for r in 0..3 {
        assert_eq!(n.forwarders_of(r).len(), 1, "router {r}");
    }
    assert_eq!(n.forwarders_of(0), [vmac(1, 1)]);
}

#[test]
fn listen_restarts_timers_on_higher_speak_and_standby_and_does_not_flap() {
    let mut n = three();
    n.run_until(60_000);
    let t = n.now;
    n.run_until(600_000);
    assert!(n
        .log_since(t)
        .iter()
        .all(|(_, _, a)| !matches!(a, Action::VgStateChange { .. })));
}

#[test]
fn joining_member_never_takes_avg_without_preempt() {
    let mut g = group(
        9,
        GroupConfig {
            priority: 200,
            ..cfg()
        },
    );
    g.handle(0, Event::Enable);
    for t in (0..60_000).step_by(3000) {
        g.handle(t, Event::Rx(hello_from(1, VgState::Active, 100)));
        g.handle(t, Event::Rx(hello_from(2, VgState::Standby, 100)));
        run(&mut g, t + 2999);
    }
    // Higher than the standby: takes the standby role, not the active one.
    assert_eq!(g.state(), VgState::Standby);
}

#[test]
fn preempt_goes_speak_then_active_on_the_next_lower_active_hello() {
    let mut g = group(
        9,
        GroupConfig {
            priority: 200,
            preempt: true,
            preempt_delay_ms: 5000,
            ..cfg()
        },
    );
    g.handle(0, Event::Enable);
    g.handle(1000, Event::Rx(hello_from(1, VgState::Active, 100)));
    assert_eq!(g.state(), VgState::Listen, "preempt delay not yet over");
    let a = g.handle(6000, Event::Rx(hello_from(1, VgState::Active, 100)));
    assert_eq!(vg_changes(&a), [(VgState::Listen, VgState::Speak)]);
    let a = g.handle(9000, Event::Rx(hello_from(1, VgState::Active, 100)));
    assert_eq!(vg_changes(&a), [(VgState::Speak, VgState::Active)]);
    // The old AVG steps down on hearing the higher Active.
    let mut old = group(1, cfg());
    old.handle(0, Event::Enable);
    run(&mut old, 13_000);
    assert_eq!(old.state(), VgState::Active);
    let a = old.handle(13_001, Event::Rx(hello_from(9, VgState::Active, 200)));
    assert_eq!(vg_changes(&a), [(VgState::Active, VgState::Speak)]);
    assert_eq!(arp(&mut old, 13_002, 1), None, "stops answering ARP");
}

#[test]
fn standby_takes_over_after_hold_and_a_new_standby_is_elected() {
    let mut n = three();
    n.run_until(60_000);
    n.crash(0);
    let t = n.now;
    n.run_until(t + HOLD + HELLO);
    assert_eq!(n.state(1), VgState::Active);
    n.run_until(t + 2 * HOLD + 2 * HELLO);
    assert_eq!(n.state(2), VgState::Standby);
    // The dead AVG's forwarder is held by one survivor.
    assert_eq!(n.holders(vmac(1, 1)).len(), 1);
}

#[test]
fn graceful_shutdown_hands_over_at_once() {
    let mut n = three();
    n.run_until(60_000);
    let a = n.event(0, Event::Shutdown);
    let s = sends(&a);
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].2.forwarders[0].priority, 160, "release first");
    assert_eq!(s[1].2.hello.unwrap().priority, 0, "then resign hello");
    assert_eq!(stops(&a), [vmac(1, 1)]);
    let t = n.now;
    n.run_until(t + 5);
    assert_eq!(n.state(1), VgState::Active, "standby acts at once");
    assert_eq!(
        n.holders(vmac(1, 1)).len(),
        1,
        "a secondary took the forwarder at once"
    );
    assert_eq!(n.state(0), VgState::Disabled);
}

#[test]
fn members_adopt_the_avg_timers_and_report_the_difference_once() {
    let mut g = group(
        2,
        GroupConfig {
            hello_ms: 1000,
            hold_ms: 4000,
            ..cfg()
        },
    );
    g.handle(0, Event::Enable);
    let a = g.handle(10, Event::Rx(hello_from(1, VgState::Active, 100)));
    let mm: Vec<_> = a
        .iter()
        .filter(|a| matches!(a, Action::Mismatch { .. }))
        .collect();
    assert_eq!(mm.len(), 1);
    let s = g.status(10);
    assert_eq!((s.hello_ms, s.hold_ms), ((3000, 1000), (10_000, 4000)));
    let a = g.handle(3010, Event::Rx(hello_from(1, VgState::Active, 100)));
    assert!(
        !a.iter().any(|a| matches!(a, Action::Mismatch { .. })),
        "logged once"
    );
    assert_eq!(g.counters().mismatches, 1);
}

#[test]
fn vip_mismatch_is_logged_once_and_causes_no_flap() {
    let mut g = group(2, cfg());
    g.handle(0, Event::Enable);
    let mut h = hello_from(1, VgState::Active, 100);
    if let Some(x) = h.repr.hello.as_mut() {
        x.vip = ip(253);
    }
    let mut changes = 0;
    let mut logs = 0;
    for t in (0..30_000).step_by(3000) {
        let a = g.handle(t, Event::Rx(h.clone()));
        logs += a
            .iter()
            .filter(|a| {
                matches!(
                    a,
                    Action::Mismatch {
                        kind: MismatchKind::Vip,
                        ..
                    }
                )
            })
            .count();
        changes += vg_changes(&a).len() + vg_changes(&run(&mut g, t + 2999)).len();
    }
    assert_eq!(logs, 1);
    assert_eq!(g.vip(), Some(VIP), "keeps its own VIP");
    assert_eq!(
        changes, 2,
        "only Listen -> Speak -> Standby (the role is free): {changes}"
    );
}

#[test]
fn lone_survivor_sends_gratuitous_arp_with_its_own_vmac() {
    let mut n = three();
    n.run_until(60_000);
    n.crash(0);
    n.crash(1);
    let t = n.now;
    n.run_until(t + 2 * HOLD);
    let garps: Vec<_> = n
        .log_since(t)
        .into_iter()
        .filter(|(_, _, a)| matches!(a, Action::GratuitousArp { .. }))
        .collect();
    assert_eq!(garps.len(), 1);
    let own = n.routers[2]
        .status(n.now)
        .forwarders
        .iter()
        .find(|f| f.primary)
        .map(|f| f.vmac);
    assert!(matches!(garps[0].2, Action::GratuitousArp { vmac, .. } if Some(vmac) == own));
}

#[test]
fn lone_survivor_announces_only_vmacs_within_redirect() {
    let mut g = member_knowing_fwd3(5, 60);
    // Everyone goes silent; alone, we take forwarder 3 after the hold, when
    // its redirect (5 s) is over: no gratuitous ARP for it. Our own forwarder
    // (we became AVG) is announced once it is active.
    let a = run(&mut g, 30_000);
    assert_eq!(starts(&a), [vmac(1, 3), vmac(1, 1)]);
    let garps: Vec<MacAddr> = a
        .iter()
        .filter_map(|a| match a {
            Action::GratuitousArp { vmac, .. } => Some(*vmac),
            _ => None,
        })
        .collect();
    assert_eq!(garps, [vmac(1, 1)]);
}

fn garps(log: &[&(Millis, usize, Action)]) -> Vec<(Millis, usize, MacAddr)> {
    log.iter()
        .filter_map(|(t, r, a)| match a {
            Action::GratuitousArp { vmac, .. } => Some((*t, *r, *vmac)),
            _ => None,
        })
        .collect()
}

/// Every router stalls for hold + 300 ms (SIGSTOP, a flood): each one then
/// misses hellos for a hold, but hears the others again within the extra
/// hold the lone-survivor rule waits for. No gratuitous ARP, one AVG.
#[test]
fn a_stall_of_every_router_sends_no_gratuitous_arp() {
    let mut n = three();
    n.run_until(60_000);
    let t0 = n.now;
    n.now = t0 + HOLD + 300;
    n.run_until(t0 + 4 * HOLD);
    assert_eq!(garps(&n.log_since(t0)), []);
    let active = (0..3).filter(|&r| n.state(r) == VgState::Active).count();
    assert_eq!(active, 1);
    for r in 0..3 {
        assert_eq!(n.routers[r].counters().lone_survivor_garps, 0, "R{r}");
    }
}

/// The lone survivor (AVG, forwarding the VMAC it announces) sends its one
/// gratuitous ARP only a full hold after its last peer aged out, so two
/// holds after the last valid hello from anyone; and never when
/// `lone_survivor_garp = false` (IOS).
#[test]
fn lone_survivor_garp_waits_an_extra_hold_and_can_be_turned_off() {
    for on in [true, false] {
        let c = |p: u8| GroupConfig {
            priority: p,
            lone_survivor_garp: on,
            ..cfg()
        };
        let mut n = Net::new(vec![(1, c(110)), (2, c(105)), (3, c(100))]);
        n.run_until(60_000);
        let t = n.now;
        n.crash(0);
        n.crash(1);
        n.run_until(t + 4 * HOLD);
        let g = garps(&n.log_since(t));
        if !on {
            assert_eq!(g, [], "turned off");
            continue;
        }
        assert_eq!(g.len(), 1, "{g:?}");
        let (at, r, v) = g[0];
        assert_eq!(r, 2);
        assert!(
            at >= t + 2 * HOLD - HELLO,
            "sent at {at}, last hellos near {t}"
        );
        assert!(n.routers[2].forwarding().any(|x| x == v));
        assert_eq!(n.state(2), VgState::Active);
    }
}

/// A member that is not AVG never sends it, even alone for long (it would
/// announce a VMAC the AVG may not hand out).
#[test]
fn a_speak_member_alone_sends_no_gratuitous_arp() {
    let mut g = group(1, cfg());
    g.handle(0, Event::Enable);
    // An AVG that keeps speaking from another segment is heard, then lost.
    let mut out = Vec::new();
    for k in 0..10 {
        out.extend(g.handle(k * HELLO, Event::Rx(hello_from(9, VgState::Active, 200))));
        out.extend(run(&mut g, k * HELLO + HELLO - 1));
    }
    assert!(out
        .iter()
        .all(|a| !matches!(a, Action::GratuitousArp { .. })));
}

/// Found by the VLAN scale run (a loaded machine, false failovers): an AVG
/// pushed back to Speak by a higher AVG, which then heard its own former
/// standby announce itself Active, forgot the standby and with it the
/// only timer that takes Speak on to Standby: it stayed in Speak for good
/// and the group had no standby. Speak must keep contending.
#[test]
fn speak_goes_on_to_standby_after_the_old_standby_turns_active() {
    let mut g = group(1, cfg());
    g.handle(0, Event::Enable);
    run(&mut g, HOLD + HELLO);
    assert_eq!(g.state(), VgState::Active);
    let mut t = HOLD + HELLO + 10;
    // Member 8 (lower) is our standby; member 9 (higher) is Active too.
    g.handle(t, Event::Rx(hello_from(8, VgState::Standby, 90)));
    t += 10;
    g.handle(t, Event::Rx(hello_from(9, VgState::Active, 120)));
    assert_eq!(g.state(), VgState::Speak, "two AVGs: the lower steps back");
    // Our old standby, having lost us, announces itself Active once, then
    // hears 9 and listens.
    t += 10;
    g.handle(t, Event::Rx(hello_from(8, VgState::Active, 90)));
    let until = t + 2 * HOLD + HELLO;
    let mut states = Vec::new();
    while t < until {
        t += HELLO;
        run(&mut g, t - 1);
        g.handle(t, Event::Rx(hello_from(9, VgState::Active, 120)));
        g.handle(t + 1, Event::Rx(hello_from(8, VgState::Listen, 90)));
        states.push(g.state());
    }
    assert_eq!(
        g.state(),
        VgState::Standby,
        "Speak -> Standby within a hold once no standby is heard: {states:?}"
    );
}
