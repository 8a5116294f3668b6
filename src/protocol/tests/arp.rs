//! ARP at the AVG (load balancing, client cache) and unicast re-validation
//! (engine: group/arp.rs).

use super::*;

pub(super) fn avg_with_four(lb: LoadBalancing) -> Group {
    let mut g = group(
        9,
        GroupConfig {
            load_balancing: lb,
            ..cfg()
        },
    );
    g.handle(0, Event::Enable);
    run(&mut g, 2 * HOLD + HELLO);
    for (i, w) in [(2u8, 50u8), (3, 100), (4, 100)] {
        let mut t = tlv(i, VfState::Active, 167);
        t.weight = w;
        g.handle(
            24_000,
            Event::Rx(with_tlvs(hello_from(i, VgState::Listen, 100), vec![t])),
        );
    }
    g
}

#[test]
fn round_robin_first_host_gets_fwd_1_second_fwd_2() {
    let mut g = avg_with_four(LoadBalancing::RoundRobin);
    let got: Vec<_> = (0..5).map(|h| arp(&mut g, 24_001, h).unwrap()).collect();
    assert_eq!(
        got,
        [vmac(1, 1), vmac(1, 2), vmac(1, 3), vmac(1, 4), vmac(1, 1)]
    );
    let st = g.status(24_001);
    assert_eq!(st.forwarders[0].clients, 2);
    assert_eq!(st.counters.arp_replies, 5);
}

#[test]
fn weighted_follows_the_holders_weights() {
    let mut g = avg_with_four(LoadBalancing::Weighted);
    let mut c = [0; 5];
    for h in 0..350 {
        c[usize::from(arp(&mut g, 24_001, h).unwrap().0[5])] += 1;
    }
    assert_eq!(c, [0, 100, 50, 100, 100]);
}

#[test]
fn host_dependent_is_stable() {
    let mut g = avg_with_four(LoadBalancing::HostDependent);
    for h in 0..50 {
        let a = arp(&mut g, 24_001, h);
        assert_eq!(arp(&mut g, 24_002, h), a);
    }
}

#[test]
fn non_avg_never_answers_arp() {
    let mut g = group(2, cfg());
    g.handle(0, Event::Enable);
    g.handle(10, Event::Rx(hello_from(1, VgState::Active, 100)));
    assert_eq!(arp(&mut g, 11, 1), None);
    assert_eq!(g.counters().arp_ignored, 1);
}

#[test]
fn avg_does_not_hand_out_a_vmac_whose_secondary_says_redirect_is_over() {
    let mut g = avg_with_four(LoadBalancing::RoundRobin);
    let mut t = tlv(2, VfState::Active, 135);
    t.redirect_s = 0;
    g.handle(
        24_100,
        Event::Rx(with_tlvs(hello_from(6, VgState::Listen, 100), vec![t])),
    );
    let got: std::collections::BTreeSet<_> =
        (0..8).filter_map(|h| arp(&mut g, 24_101, h)).collect();
    assert!(!got.contains(&vmac(1, 2)), "{got:?}");
    assert_eq!(got.len(), 3);
}

#[test]
fn avg_does_not_hand_out_a_forwarder_whose_owner_is_below_lower() {
    let mut g = avg_with_four(LoadBalancing::RoundRobin);
    // Member 2 falls below its lower threshold: it keeps sending hellos and
    // advertises its forwarder at 160; member 3 takes it as secondary.
    g.handle(
        24_100,
        Event::Rx(with_tlvs(
            hello_from(2, VgState::Listen, 100),
            vec![tlv(2, VfState::Listen, 160)],
        )),
    );
    g.handle(
        24_101,
        Event::Rx(with_tlvs(
            hello_from(3, VgState::Listen, 100),
            vec![tlv(3, VfState::Active, 167), tlv(2, VfState::Active, 135)],
        )),
    );
    let got: std::collections::BTreeSet<_> =
        (0..8).filter_map(|h| arp(&mut g, 24_102, h)).collect();
    assert!(!got.contains(&vmac(1, 2)), "{got:?}");
    assert_eq!(got.len(), 3, "{got:?}");
    // Back above upper, the owner advertises it as its own again.
    g.handle(
        24_200,
        Event::Rx(with_tlvs(
            hello_from(2, VgState::Listen, 100),
            vec![tlv(2, VfState::Listen, 167)],
        )),
    );
    let got: std::collections::BTreeSet<_> =
        (0..8).filter_map(|h| arp(&mut g, 24_201, h)).collect();
    assert!(got.contains(&vmac(1, 2)), "{got:?}");
}

fn arp_to(g: &mut Group, now: Millis, h: u16, dst: MacAddr) -> Option<MacAddr> {
    g.handle(
        now,
        Event::Arp {
            host_ip: ip(200),
            host_mac: host(h),
            dst,
        },
    )
    .iter()
    .find_map(|a| match a {
        Action::ArpReply { vmac, .. } => Some(*vmac),
        _ => None,
    })
}

/// Issue 13, item 1: a host's unicast re-validation (to the VMAC it holds)
/// is answered with that VMAC by whoever forwards it, AVG or not, while it
/// is eligible; past redirect the holder stays silent.
#[test]
fn unicast_revalidation_is_answered_by_the_holder_while_eligible() {
    let mut n = three();
    n.run_until(60_000);
    let avg = (0..3).find(|&r| n.state(r) == VgState::Active).unwrap();
    for r in 0..3 {
        let now = n.now;
        for v in n.forwarders_of(r) {
            assert_eq!(arp_to(&mut n.routers[r], now, 7, v), Some(v), "R{r} {v}");
        }
        let other = (0..3).find(|&o| o != r).unwrap();
        for v in n.forwarders_of(other) {
            if !n.forwarders_of(r).contains(&v) {
                assert_eq!(arp_to(&mut n.routers[r], now, 7, v), None, "R{r}: not held");
            }
        }
    }
    // The AVG answers its own VMAC with that VMAC, not the next in turn.
    let own = n.forwarders_of(avg)[0];
    for h in 0..6 {
        let now = n.now;
        assert_eq!(arp_to(&mut n.routers[avg], now, h, own), Some(own));
    }
    // A plain forwarder dies: its secondary answers within redirect only.
    let victim = (0..3).find(|&r| r != avg).unwrap();
    let v = n.forwarders_of(victim)[0];
    n.crash(victim);
    let t = n.now;
    n.run_until(t + 2 * HOLD);
    let holder = n.holders(v)[0];
    let now = n.now;
    assert_eq!(arp_to(&mut n.routers[holder], now, 1, v), Some(v));
    n.run_until(t + 601_000);
    assert_eq!(n.holders(v), [holder], "still forwarded");
    let now = n.now;
    assert_eq!(
        arp_to(&mut n.routers[holder], now, 1, v),
        None,
        "past redirect"
    );
    assert!(n.routers[holder].revalidating(now).all(|(_, m)| m != v));
}

/// The client cache makes the AVG give a host that broadcasts again the
/// forwarder it gave it before, while that one is still eligible.
#[test]
fn client_cache_keeps_a_rebroadcasting_host_on_its_forwarder() {
    let mut g = avg_with_four(LoadBalancing::RoundRobin);
    g.handle(
        0,
        Event::Configure(GroupConfig {
            client_cache: ClientCache {
                max: 100,
                timeout_s: 600,
            },
            ..g.config().clone()
        }),
    );
    let now = 100_000;
    let first: Vec<Option<MacAddr>> = (0..8).map(|h| arp(&mut g, now, h)).collect();
    for round in 1..4 {
        for h in (0..8).rev() {
            assert_eq!(arp(&mut g, now + round * 1000, h), first[usize::from(h)]);
        }
    }
    let clients = g.clients(now + 4000);
    assert_eq!(clients.len(), 8);
    assert!(clients.iter().all(|c| c.at == now + 3000));
    // Without the cache the same requests walk the round-robin.
    let mut g = avg_with_four(LoadBalancing::RoundRobin);
    let a = arp(&mut g, now, 0);
    arp(&mut g, now, 1);
    assert_ne!(arp(&mut g, now, 0), a);
}
