//! Virtual forwarders: assignment, takeover, collisions, preemption,
//! redirect/timeout, weighting and ownership (engine: group/vf.rs).

use super::*;

#[test]
fn member_requests_a_forwarder_and_goes_active_after_one_hold() {
    let mut g = group(2, cfg());
    g.handle(0, Event::Enable);
    let a = g.handle(100, Event::Rx(hello_from(1, VgState::Active, 100)));
    let s = sends(&a);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].0, &Dest::Unicast(ip(1)));
    assert_eq!(s[0].2.forwarders, [ReqRespRepr::REQUEST]);
    // The AVG's response: forwarder 2.
    let resp = ReqRespRepr {
        state: VfState::Unspecified,
        ..tlv(2, VfState::Unspecified, 167)
    };
    g.handle(101, Event::Rx(msg_from(1, None, vec![resp])));
    let a = g.handle(3000, Event::Rx(hello_from(1, VgState::Active, 100)));
    assert!(sends(&a).is_empty(), "no more requests once assigned");
    let a = run(&mut g, 100 + HOLD);
    assert!(starts(&a).is_empty());
    let a = run(&mut g, 101 + HOLD);
    assert_eq!(starts(&a), [vmac(1, 2)]);
}

#[test]
fn avg_assigns_lowest_free_number_and_gives_returning_members_their_old_one() {
    let mut g = group(1, cfg());
    g.handle(0, Event::Enable);
    run(&mut g, HOLD + HELLO);
    assert_eq!(g.state(), VgState::Active);
    let req = |i| msg_from(i, None, vec![ReqRespRepr::REQUEST]);
    let number = |a: Vec<Action>| sends(&a).first().map(|s| s.2.forwarders[0].forwarder);
    assert_eq!(
        number(g.handle(19_000, Event::Rx(req(3)))),
        None,
        "not a member yet"
    );
    assert_eq!(g.counters().non_member_claims, 1);
    for i in 2..=5 {
        g.handle(19_000, Event::Rx(hello_from(i, VgState::Listen, 100)));
    }
    assert_eq!(number(g.handle(20_000, Event::Rx(req(3)))), Some(2));
    assert_eq!(
        number(g.handle(20_001, Event::Rx(req(2)))),
        Some(3),
        "arrival order, not IP"
    );
    assert_eq!(
        number(g.handle(20_002, Event::Rx(req(3)))),
        Some(2),
        "old number back"
    );
    assert_eq!(number(g.handle(20_003, Event::Rx(req(4)))), Some(4));
    assert_eq!(
        number(g.handle(20_004, Event::Rx(req(5)))),
        None,
        "a 5th member gets none"
    );
}

#[test]
fn secondary_takes_over_after_hold_and_collisions_resolve_by_priority_then_ip() {
    let mut n = Net::new(vec![(1, cfg()), (2, cfg()), (3, cfg()), (4, cfg())]);
    n.run_until(80_000);
    let owner = n.holders(vmac(1, 2))[0];
    n.crash(owner);
    let t = n.now;
    n.run_until(t + HOLD - HELLO - 10);
    assert!(n.holders(vmac(1, 2)).is_empty(), "not before the hold time");
    n.run_until(t + HOLD + HELLO + 10);
    let h = n.holders(vmac(1, 2));
    assert_eq!(h.len(), 1);
    let highest = (0..4).filter(|&r| r != owner).max().unwrap();
    assert_eq!(h, [highest], "highest IP wins the collision");
}

#[test]
fn collision_winner_announces_again_from_the_vmac() {
    // Candidates claim a dead owner's VMAC at the same time, each with a
    // frame sourced from the VMAC. Whichever claim a switch saw last, it
    // must end up sending the VMAC to the winner: the winner answers a
    // lower claim with a fresh announcement, the loser stays silent.
    let mut n = Net::new(vec![(1, cfg()), (2, cfg()), (3, cfg()), (4, cfg())]);
    n.run_until(80_000);
    let v = vmac(1, 2);
    let owner = n.holders(v)[0];
    n.crash(owner);
    let t = n.now;
    n.run_until(t + HOLD + HELLO + 10);
    let winner = n.holders(v)[0];
    let loser = (0..4).find(|&r| r != owner && r != winner).unwrap();
    assert!(loser < winner, "the highest IP wins");
    let mut claim = msg_from(
        (loser + 1) as u8,
        None,
        vec![tlv(2, VfState::Active, VF_PRIORITY_SECONDARY)],
    );
    claim.src_mac = v;
    let out = n.event(winner, Event::Rx(claim.clone()));
    let again: Vec<_> = sends(&out)
        .into_iter()
        .filter(|(_, src, m)| {
            **src == v
                && m.forwarders
                    .iter()
                    .any(|f| f.forwarder == 2 && f.state == VfState::Active)
        })
        .collect();
    assert_eq!(again.len(), 1, "the winner announces {v} again: {out:?}");
    assert_eq!(n.holders(v), [winner]);
    // The loser, hearing the winner, backs off without a word.
    let mut won = msg_from(
        (winner + 1) as u8,
        None,
        vec![tlv(2, VfState::Active, VF_PRIORITY_SECONDARY)],
    );
    won.src_mac = v;
    let out = n.event(loser, Event::Rx(won));
    assert!(sends(&out).is_empty(), "{out:?}");
}

#[test]
fn secondary_advertises_remaining_seconds_and_redirect_then_timeout_apply() {
    let c = GroupConfig {
        redirect_s: 30,
        timeout_s: 60,
        ..cfg()
    };
    let mut n = Net::new(vec![(1, c.clone()), (2, c.clone())]);
    n.run_until(60_000);
    assert_eq!(n.state(1), VgState::Active);
    let (avg, other) = (1, 0);
    let v = n.forwarders_of(other)[0];
    n.crash(other);
    let t = n.now;
    n.run_until(t + 20_000);
    assert_eq!(n.holders(v), [avg]);
    let st = n.routers[avg].status(n.now);
    let f = st.forwarders.iter().find(|f| f.vmac == v).unwrap();
    assert!(!f.primary && f.redirect_left_ms.unwrap() <= 10_000);
    // Its hellos carry the remaining seconds.
    let adv = n
        .log_since(t + 15_000)
        .into_iter()
        .find_map(|(_, r, a)| match a {
            Action::Send { msg, .. } if *r == avg && msg.hello.is_some() => {
                msg.forwarders.iter().find(|x| x.vmac == v).copied()
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(adv.priority, 135);
    assert!(
        adv.redirect_s < 30 && adv.timeout_s < 60 && adv.redirect_s > 0,
        "{adv:?}"
    );
    // Within redirect, the AVG hands the VMAC out; after it, never.
    let mut seen = std::collections::BTreeSet::new();
    for h in 0..8 {
        seen.extend(arp(&mut n.routers[avg], n.now, h));
    }
    assert!(seen.contains(&v));
    n.run_until(t + 35_000);
    for h in 0..8 {
        assert_ne!(arp(&mut n.routers[avg], n.now, h), Some(v));
    }
    assert_eq!(n.holders(v), [avg], "still forwarded until timeout");
    n.run_until(t + 61_000);
    assert!(n.holders(v).is_empty(), "deleted at timeout");
    assert_eq!(n.routers[avg].status(n.now).forwarders.len(), 1);
}

#[test]
fn returning_primary_gets_its_vmac_back_after_the_forwarder_preempt_delay() {
    let mut n = Net::new(vec![(1, cfg()), (2, cfg()), (3, cfg())]);
    n.run_until(80_000);
    let v = n.forwarders_of(0)[0];
    n.crash(0);
    n.run_until(100_000);
    let sec = n.holders(v);
    assert_eq!(sec.len(), 1);
    // Restart router 0 (fresh state).
    n.routers[0] = group(1, cfg());
    n.up[0] = true;
    n.event(0, Event::Enable);
    let back = n.now;
    n.run_until(back + 10_000);
    assert_eq!(n.holders(v), sec, "secondary keeps it during the delay");
    assert!(
        n.routers[0]
            .status(n.now)
            .forwarders
            .iter()
            .any(|f| f.primary && f.vmac == v),
        "old number back"
    );
    n.run_until(back + 3000 + 30_000 + 100);
    assert_eq!(n.holders(v), [0], "primary preempted after 30 s");
}

#[test]
fn forwarder_preempt_off_leaves_the_secondary_in_place() {
    let c = GroupConfig {
        forwarder_preempt: false,
        ..cfg()
    };
    let mut g = group(2, c);
    g.handle(0, Event::Enable);
    g.handle(10, Event::Rx(hello_from(1, VgState::Active, 100)));
    g.handle(
        20,
        Event::Rx(with_tlvs(
            hello_from(1, VgState::Active, 100),
            vec![tlv(2, VfState::Active, 135)],
        )),
    );
    let resp = tlv(2, VfState::Unspecified, 167);
    g.handle(30, Event::Rx(msg_from(1, None, vec![resp])));
    for t in (3000..100_000).step_by(3000) {
        g.handle(
            t,
            Event::Rx(with_tlvs(
                hello_from(1, VgState::Active, 100),
                vec![tlv(2, VfState::Active, 135)],
            )),
        );
        assert!(starts(&run(&mut g, t + 2999)).is_empty());
    }
}

#[test]
fn weight_below_lower_releases_and_resumes_only_above_upper() {
    let mut tracking = std::collections::BTreeMap::new();
    tracking.insert(7, 30);
    tracking.insert(8, 30);
    let c = GroupConfig {
        weighting: Weighting {
            max: 100,
            lower: 50,
            upper: 90,
        },
        tracking,
        ..cfg()
    };
    let mut g = group(1, c);
    g.handle(0, Event::Enable);
    run(&mut g, 2 * HOLD + HELLO);
    assert_eq!(g.forwarding().count(), 1);
    let a = g.handle(
        30_000,
        Event::Track {
            object: 7,
            up: false,
        },
    );
    assert!(stops(&a).is_empty(), "70 is not below 50");
    assert_eq!(g.weight(), 70);
    let a = g.handle(
        30_001,
        Event::Track {
            object: 8,
            up: false,
        },
    );
    assert_eq!(stops(&a), [vmac(1, 1)]);
    assert_eq!(
        sends(&a)[0].2.forwarders[0].priority,
        160,
        "released for immediate takeover"
    );
    let a = g.handle(
        30_002,
        Event::Track {
            object: 8,
            up: true,
        },
    );
    assert!(starts(&a).is_empty(), "70 is below upper 90: hysteresis");
    assert!(g.status(30_002).weight_low);
    let a = g.handle(
        30_003,
        Event::Track {
            object: 7,
            up: true,
        },
    );
    assert_eq!(
        starts(&a),
        [vmac(1, 1)],
        "back at 100 >= upper, nobody else holds it"
    );
    // Hellos carry the weight.
    g.handle(
        30_004,
        Event::Track {
            object: 7,
            up: false,
        },
    );
    let a = run(&mut g, 40_000);
    assert!(sends(&a)
        .iter()
        .any(|s| s.2.forwarders.first().is_some_and(|f| f.weight == 70)));
}

#[test]
fn eth_source_is_own_mac_then_alternates_active_vmacs() {
    let mut g = group(1, cfg());
    let a = g.handle(0, Event::Enable);
    assert_eq!(sends(&a)[0].1, &mac(1));
    run(&mut g, 2 * HOLD + HELLO);
    // Take forwarder 2 as secondary via a release.
    g.handle(
        25_000,
        Event::Rx(with_tlvs(
            hello_from(2, VgState::Listen, 100),
            vec![tlv(2, VfState::Active, 167)],
        )),
    );
    let a = g.handle(
        25_001,
        Event::Rx(msg_from(
            2,
            None,
            vec![ReqRespRepr {
                priority: 160,
                ..tlv(2, VfState::Listen, 160)
            }],
        )),
    );
    assert_eq!(
        sends(&a)[0].1,
        &vmac(1, 2),
        "takeover sourced from the taken VMAC"
    );
    let a = run(&mut g, 40_000);
    let srcs: std::collections::BTreeSet<MacAddr> = sends(&a).iter().map(|s| *s.1).collect();
    assert_eq!(srcs, [vmac(1, 1), vmac(1, 2)].into_iter().collect());
}

#[test]
fn new_avg_inherits_redirect_bookkeeping_and_number_is_reused_after_timeout() {
    let c = GroupConfig {
        redirect_s: 30,
        timeout_s: 60,
        ..cfg()
    };
    let mut n = Net::new(vec![(1, c.clone()), (2, c.clone()), (3, c.clone())]);
    n.run_until(60_000);
    // R3 (highest IP) is AVG, R2 standby; R1 owns some forwarder.
    assert_eq!(
        (n.state(2), n.state(1)),
        (VgState::Active, VgState::Standby)
    );
    let v = n.forwarders_of(0)[0];
    n.crash(0);
    n.run_until(n.now + 15_000);
    n.crash(2);
    let t = n.now;
    n.run_until(t + HOLD + HELLO);
    assert_eq!(n.state(1), VgState::Active, "standby became AVG");
    let handed: std::collections::BTreeSet<_> = (0..8)
        .filter_map(|h| arp(&mut n.routers[1], n.now, h))
        .collect();
    assert!(
        handed.contains(&v),
        "within redirect the new AVG still hands out {v}"
    );
    n.run_until(t + 20_000);
    assert!(
        (0..8).all(|h| arp(&mut n.routers[1], n.now, h) != Some(v)),
        "redirect counted from R1's last advert"
    );
    n.run_until(t + 50_000);
    assert!(n.holders(v).is_empty(), "timed out");
    // A new member now gets the freed number.
    n.routers[0] = group(4, c);
    n.up[0] = true;
    n.event(0, Event::Enable);
    n.run_until(n.now + 2 * HOLD + 2 * HELLO);
    let numbers: Vec<u8> = n.routers[0]
        .status(n.now)
        .forwarders
        .iter()
        .filter(|f| f.primary)
        .map(|f| f.number)
        .collect();
    assert_eq!(numbers, [v.0[5]]);
}

#[test]
fn two_owners_of_one_number_resolve_to_the_higher_ip() {
    let mut g = group(2, cfg());
    g.handle(0, Event::Enable);
    g.handle(10, Event::Rx(hello_from(9, VgState::Active, 100)));
    g.handle(
        20,
        Event::Rx(msg_from(9, None, vec![tlv(3, VfState::Unspecified, 167)])),
    );
    let mut a = Vec::new();
    for t in [3000, 6000, 9000] {
        a.extend(run(&mut g, t));
        g.handle(t, Event::Rx(hello_from(9, VgState::Active, 100)));
    }
    a.extend(run(&mut g, 20 + HOLD));
    assert_eq!(starts(&a), [vmac(1, 3)]);
    assert_eq!(g.state(), VgState::Speak);
    // Another owner with a lower IP claims 3 (e.g. after a partition): ignored.
    g.handle(
        HOLD + 100,
        Event::Rx(with_tlvs(
            hello_from(1, VgState::Listen, 100),
            vec![tlv(3, VfState::Active, 167)],
        )),
    );
    assert!(g
        .status(HOLD + 100)
        .forwarders
        .iter()
        .any(|f| f.primary && f.state == VfState::Active));
    // A higher IP claims it: we give the number up, stop, and ask again.
    let a = g.handle(
        HOLD + 200,
        Event::Rx(with_tlvs(
            hello_from(5, VgState::Listen, 100),
            vec![tlv(3, VfState::Active, 167)],
        )),
    );
    assert_eq!(stops(&a), [vmac(1, 3)]);
    let a = g.handle(HOLD + 300, Event::Rx(hello_from(9, VgState::Active, 100)));
    assert!(
        sends(&a).iter().any(|s| s.0 == &Dest::Unicast(ip(9))),
        "requests a new forwarder"
    );
}

/// A member (router 2) that has heard the AVG (router 9).
fn member() -> Group {
    let mut g = group(2, cfg());
    g.handle(0, Event::Enable);
    g.handle(10, Event::Rx(hello_from(9, VgState::Active, 100)));
    g
}

#[test]
fn dormant_forwarder_is_taken_over_only_when_its_owner_goes_silent() {
    let mut g = member();
    let listen = |_t| {
        Event::Rx(with_tlvs(
            hello_from(5, VgState::Listen, 100),
            vec![tlv(3, VfState::Listen, 167)],
        ))
    };
    // The owner in its Listen wait keeps advertising: never raced.
    for t in (100..40_000).step_by(3000) {
        g.handle(t, listen(t));
        g.handle(t, Event::Rx(hello_from(9, VgState::Active, 100)));
        assert!(starts(&run(&mut g, t + 2999)).is_empty(), "at {t}");
    }
    // The owner dies before ever going Active: taken over a hold and a hello
    // after its last advert.
    let last = 39_100;
    g.handle(last + 3000, Event::Rx(hello_from(9, VgState::Active, 100)));
    assert!(starts(&run(&mut g, last + HOLD + HELLO - 1)).is_empty());
    assert_eq!(starts(&run(&mut g, last + HOLD + HELLO)), [vmac(1, 3)]);
}

#[test]
fn resign_also_releases_an_owned_forwarder_in_its_listen_wait() {
    let mut g = member();
    g.handle(
        20,
        Event::Rx(msg_from(9, None, vec![tlv(2, VfState::Unspecified, 167)])),
    );
    let a = g.handle(30, Event::Shutdown);
    let released: Vec<_> = sends(&a)
        .iter()
        .flat_map(|s| s.2.forwarders.clone())
        .filter(|t| t.priority == 160)
        .collect();
    assert_eq!(
        released.iter().map(|t| t.forwarder).collect::<Vec<_>>(),
        [2]
    );
}

#[test]
fn deleting_at_timeout_releases_so_fresher_members_take_over() {
    // Learn forwarder 3 from its owner, then the owner goes away and the
    // hold expires: we take it as secondary.
    let mut g = member_knowing_fwd3(5, 20);
    let a = run(&mut g, 20 + HOLD);
    assert_eq!(starts(&a), [vmac(1, 3)]);
    let a = run(&mut g, 20 + 20_000);
    assert_eq!(stops(&a), [vmac(1, 3)]);
    let rel = sends(&a)
        .into_iter()
        .find(|s| s.2.hello.is_none() && s.2.forwarders.iter().any(|t| t.priority == 160))
        .unwrap();
    assert_eq!(
        (rel.2.forwarders[0].forwarder, rel.2.forwarders[0].priority),
        (3, 160)
    );
    // A member that knows it with a fresher countdown takes it at once.
    let mut h = group(3, cfg());
    h.handle(0, Event::Enable);
    h.handle(
        5,
        Event::Rx(with_tlvs(
            hello_from(5, VgState::Listen, 100),
            vec![tlv(3, VfState::Active, 167)],
        )),
    );
    h.handle(
        6,
        Event::Rx(with_tlvs(
            hello_from(2, VgState::Listen, 100),
            vec![tlv(3, VfState::Active, 135)],
        )),
    );
    let a = h.handle(7, Event::Rx(msg_from(2, None, rel.2.forwarders.clone())));
    assert_eq!(starts(&a), [vmac(1, 3)]);
}

#[test]
fn low_member_advertises_what_it_cannot_forward_and_a_late_joiner_takes_it() {
    let mut tracking = std::collections::BTreeMap::new();
    tracking.insert(1, 100);
    let mut g = group(1, GroupConfig { tracking, ..cfg() });
    g.handle(0, Event::Enable);
    run(&mut g, 2 * HOLD + HELLO);
    // Forwarder 2 learnt from a member that then dies; we go low first.
    g.handle(
        24_000,
        Event::Rx(with_tlvs(
            hello_from(2, VgState::Listen, 100),
            vec![tlv(2, VfState::Active, 167)],
        )),
    );
    g.handle(
        24_001,
        Event::Track {
            object: 1,
            up: false,
        },
    );
    let a = run(&mut g, 40_000);
    assert!(starts(&a).is_empty(), "low: forwards nothing");
    let hello = sends(&a)
        .into_iter()
        .filter_map(|s| s.2.hello.map(|_| s.2.clone()))
        .next_back()
        .unwrap();
    let adv: Vec<(u8, VfState, u8)> = hello
        .forwarders
        .iter()
        .map(|t| (t.forwarder, t.state, t.priority))
        .collect();
    assert_eq!(adv, [(1, VfState::Listen, 160), (2, VfState::Listen, 135)]);
    // A member that just booted learns both from that hello and takes them.
    let mut j = group(7, cfg());
    j.handle(40_000, Event::Enable);
    let a = j.handle(
        40_001,
        Event::Rx(RxMessage {
            src_ip: ip(1),
            src_mac: mac(1),
            port: 0,
            auth_ok: true,
            repr: hello,
        }),
    );
    assert_eq!(starts(&a), [vmac(1, 1), vmac(1, 2)]);
}

/// Issue 13, item 2: two routers start partitioned (both AVG, both own
/// forwarder 1), the partition heals, the AVG yields forwarder 1 to the
/// higher IP and takes a free number for itself; the higher IP dies; its
/// forwarder is held, then deleted at timeout; the virtual IP is answered
/// all along and the AVG keeps forwarding its own VMAC.
#[test]
fn partition_heal_then_loss_of_the_higher_ip_never_darkens_the_vip() {
    let c = |p: u8| GroupConfig {
        priority: p,
        redirect_s: 20,
        timeout_s: 60,
        forwarder_preempt_delay_ms: 2000,
        ..cfg()
    };
    let mut n = Net::new(vec![(1, c(110)), (2, c(100))]);
    n.part = vec![0, 1];
    n.run_until(40_000);
    assert_eq!((n.state(0), n.state(1)), (VgState::Active, VgState::Active));
    assert_eq!(n.forwarders_of(0), [vmac(1, 1)]);
    assert_eq!(n.forwarders_of(1), [vmac(1, 1)]);
    n.part = vec![0, 0];
    n.run_until(80_000);
    assert_eq!(
        (n.state(0), n.state(1)),
        (VgState::Active, VgState::Standby)
    );
    assert_eq!(n.holders(vmac(1, 1)), [1], "the higher IP keeps number 1");
    assert_eq!(n.holders(vmac(1, 2)), [0], "the AVG took a free number");
    n.crash(1);
    let t = n.now;
    let mut step = t;
    while step < t + 120_000 {
        step += HELLO;
        n.run_until(step);
        let b = n.routers[0].balancing(n.now).expect("AVG");
        assert!(
            !b.balance.forwarders.is_empty(),
            "dark at {}: {}",
            n.now,
            n.routers[0].status(n.now).show("lan0")
        );
    }
    assert_eq!(n.forwarders_of(0), [vmac(1, 2)], "fwd 1 deleted at timeout");
    let st = n.routers[0].status(n.now);
    assert_eq!(st.forwarders.len(), 1);
    assert!(st.forwarders[0].primary);
}

/// Forwarder claims from an address that never sent a valid hello are
/// ignored and counted: a forged Active/167 TLV takes nothing away.
#[test]
fn claims_from_a_non_member_are_ignored_and_counted() {
    let mut n = three();
    n.run_until(60_000);
    let avg = (0..3).find(|&r| n.state(r) == VgState::Active).unwrap();
    let before: Vec<MacAddr> = n.forwarders_of(avg);
    let forged = msg_from(99, None, vec![tlv(1, VfState::Active, 167)]);
    let t = n.now;
    n.event(avg, Event::Rx(forged.clone()));
    let forged = with_tlvs(
        forged,
        vec![tlv(1, VfState::Active, 167), ReqRespRepr::REQUEST],
    );
    n.event(avg, Event::Rx(forged));
    n.run_until(t + 200_000);
    assert_eq!(n.forwarders_of(avg), before);
    assert_eq!(n.routers[avg].counters().non_member_claims, 2);
    assert!(n.log_since(t).iter().all(|(_, _, a)| !matches!(
        a,
        Action::VfStateChange { .. } | Action::VgStateChange { .. }
    )));
}

/// Logged forwarder transitions name the state the forwarder was in: a
/// forwarder deleted at timeout after being stopped logs
/// `Active -> Listen` then `Listen -> Disabled`, never `Active -> Disabled`.
#[test]
fn deletion_at_timeout_logs_the_real_previous_state() {
    let mut g = member_knowing_fwd3(5, 60);
    let a = run(&mut g, 120_000);
    let mut state: std::collections::BTreeMap<u8, VfState> = Default::default();
    for x in &a {
        if let Action::VfStateChange {
            forwarder,
            old,
            new,
            ..
        } = x
        {
            let was = state.get(forwarder).copied().unwrap_or(VfState::Listen);
            assert_eq!(*old, was, "fwd {forwarder}: {x:?}");
            state.insert(*forwarder, *new);
        }
    }
}

/// Four owners, three of them die: the AVG forwards all four VMACs as
/// primary of one and secondary of three. A member that joins then (a
/// fresh router) gets the lowest orphaned number (its owner is no member)
/// and takes that VMAC over after the forwarder preemption delay. Before,
/// it asked only while fewer than four numbers existed and forwarded
/// nothing until the dead owners' timeout (4 h by default); an AVG owning
/// none in that state had only forwarders past redirect: a dark VIP.
#[test]
fn a_member_without_forwarder_gets_an_orphaned_number() {
    let c = |p: u8| GroupConfig {
        priority: p,
        redirect_s: 60,
        timeout_s: 3600,
        forwarder_preempt_delay_ms: 5000,
        ..cfg()
    };
    let mut n = Net::new(vec![
        (1, c(110)),
        (2, c(100)),
        (3, c(100)),
        (4, c(100)),
        (5, c(100)),
    ]);
    n.crash(4);
    n.run_until(60_000);
    assert_eq!(n.state(0), VgState::Active);
    for r in 1..4 {
        n.crash(r);
    }
    n.run_until(90_000);
    assert_eq!(n.forwarders_of(0).len(), 4, "the AVG took every VMAC over");
    n.routers[4] = group(5, c(100));
    n.up[4] = true;
    n.event(4, Event::Enable);
    let t = n.now;
    // Listen until the AVG's hello, ask, get an orphaned number, preempt
    // the AVG (secondary) 5 s later.
    n.run_until(t + HELLO + 5000 + 10);
    assert_eq!(n.forwarders_of(4).len(), 1, "the new member forwards one");
    assert_eq!(n.forwarders_of(0).len(), 3);
    let st = n.routers[4].status(n.now);
    assert!(st.forwarders.iter().any(|f| f.primary));
    // Long after the dead owners' redirect, ARP is still answered.
    n.run_until(t + 200_000);
    let b = n.routers[0].balancing(n.now).expect("AVG");
    assert!(
        b.balance.forwarders.len() >= 2,
        "{:?}",
        b.balance.forwarders
    );
}

/// A member owns one number at a time: when it advertises another as its
/// own (167), the AVG's record of it owning the old one is stale, and that
/// number is orphaned for a member that owns none. Before, the stale
/// record kept it "owned" by a live member and a restarted router waited
/// for a forwarder until the timeout.
#[test]
fn a_stale_ownership_record_leaves_the_old_number_orphaned() {
    let mut g = super::arp::avg_with_four(LoadBalancing::RoundRobin);
    // Member 2 now owns forwarder 4 (e.g. got it back after a restart).
    g.handle(
        24_010,
        Event::Rx(with_tlvs(
            hello_from(2, VgState::Listen, 100),
            vec![tlv(4, VfState::Active, 167)],
        )),
    );
    g.handle(24_020, Event::Rx(hello_from(5, VgState::Listen, 100)));
    let a = g.handle(
        24_021,
        Event::Rx(msg_from(5, None, vec![ReqRespRepr::REQUEST])),
    );
    let given: Vec<u8> = sends(&a)
        .iter()
        .filter(|s| *s.0 == Dest::Unicast(ip(5)))
        .flat_map(|s| s.2.forwarders.iter().map(|t| t.forwarder))
        .collect();
    assert_eq!(given, [2]);
}

/// Two routers partitioned both own forwarder 1; the higher IP (the AVG
/// after the heal) drops below its lower weight threshold meanwhile. It
/// advertises its claim at 160, so the lower IP never hears one to yield
/// to: the one below threshold gives number 1 up on the other's 167 and
/// takes a free number, and the AVG hands out forwarder 1 again. Before,
/// both kept the claim and the AVG answered no ARP for the virtual IP.
#[test]
fn an_owner_below_its_lower_threshold_yields_a_doubly_claimed_number() {
    let mut tracking = std::collections::BTreeMap::new();
    tracking.insert(1, 100);
    let c = GroupConfig { tracking, ..cfg() };
    let mut n = Net::new(vec![(1, c.clone()), (2, c)]);
    n.part = vec![0, 1];
    n.run_until(40_000);
    assert_eq!(n.forwarders_of(0), [vmac(1, 1)]);
    assert_eq!(n.forwarders_of(1), [vmac(1, 1)]);
    n.event(
        1,
        Event::Track {
            object: 1,
            up: false,
        },
    );
    n.run_until(50_000);
    assert!(n.forwarders_of(1).is_empty(), "low: forwards nothing");
    n.part = vec![0, 0];
    n.run_until(90_000);
    assert_eq!(n.state(1), VgState::Active, "the higher IP is AVG");
    assert_eq!(n.holders(vmac(1, 1)), [0]);
    let b = n.routers[1].balancing(n.now).expect("AVG");
    let handed: Vec<MacAddr> = b.balance.forwarders.iter().map(|f| f.1).collect();
    assert_eq!(handed, [vmac(1, 1)]);
    let st = n.routers[1].status(n.now);
    let own: Vec<u8> = st
        .forwarders
        .iter()
        .filter(|f| f.primary)
        .map(|f| f.number)
        .collect();
    assert_eq!(own, [2], "it took a free number instead");
}

/// A member gets as its own a number whose previous owner was below its
/// lower weight threshold (it advertised it at 160, which marks the owner
/// low). Taking the number clears that mark: once alone and AVG, it hands
/// its own forwarder out. Before, the mark stayed and the AVG excluded its
/// own forwarder from ARP answers: owning nothing else, it answered
/// nothing for the virtual IP (simulator, ms timers, i-vip-answered).
#[test]
fn a_number_taken_as_own_forgets_its_previous_owners_low_weight() {
    let mut g = group(2, cfg());
    g.handle(0, Event::Enable);
    // Member 3 owns forwarder 1 but is below its lower threshold.
    g.handle(
        100,
        Event::Rx(with_tlvs(
            hello_from(3, VgState::Listen, 100),
            vec![tlv(1, VfState::Active, 160)],
        )),
    );
    g.handle(101, Event::Rx(hello_from(1, VgState::Active, 100)));
    // The AVG gives us number 1 (e.g. orphaned once 3 is gone).
    let resp = ReqRespRepr {
        state: VfState::Unspecified,
        ..tlv(1, VfState::Unspecified, 167)
    };
    g.handle(102, Event::Rx(msg_from(1, None, vec![resp])));
    // Everybody else falls silent: we become AVG and forward number 1
    // (taken over at once on the 160, then owned).
    run(&mut g, 60_000);
    assert_eq!(g.state(), VgState::Active);
    let st = g.status(60_000);
    assert!(st.forwarders.iter().any(|f| f.number == 1 && f.primary));
    assert_eq!(arp(&mut g, 60_000, 0), Some(vmac(1, 1)));
}

/// A member below its lower threshold advertises its own forwarder at 160
/// in its hellos; our record names another owner, one that is gone (the
/// sender took the number while partitioned from us). The sender is the
/// owner now: its advert restarts redirect, so the secondary keeps
/// answering re-validations. Before, the dead owner's countdown ran out
/// and hosts' probes went unanswered while the live owner advertised it
/// (simulator, ms timers, seeds 90 and 96: k-revalidation).
#[test]
fn a_low_owners_advert_replaces_a_dead_owners_record() {
    let mut g = group(2, cfg());
    g.handle(0, Event::Enable);
    g.handle(
        100,
        Event::Rx(with_tlvs(
            hello_from(3, VgState::Listen, 100),
            vec![tlv(1, VfState::Active, 167)],
        )),
    );
    // Member 3 ages out; we take forwarder 1 over as secondary.
    run(&mut g, 100 + HOLD + 10);
    assert!(g.revalidating(100 + HOLD + 10).any(|(n, _)| n == 1));
    let t = 100_000;
    g.handle(
        t,
        Event::Rx(with_tlvs(
            hello_from(4, VgState::Listen, 100),
            vec![tlv(1, VfState::Listen, 160)],
        )),
    );
    // Past the dead owner's redirect (600 s), within the live one's.
    let later = 100 + 600_000 + 1000;
    assert!(
        g.revalidating(later).any(|(n, _)| n == 1),
        "redirect restarted by the live owner's advert"
    );
}
