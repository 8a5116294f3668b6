//! Hostile input: hand-picked bad values and proptest sequences.

use super::*;

#[test]
fn hostile_values_are_ignored_and_counted_never_panic() {
    let mut g = group(2, cfg());
    g.handle(0, Event::Enable);
    let bad_tlvs = vec![
        tlv(0, VfState::Active, 167),
        tlv(9, VfState::Active, 167),
        tlv(255, VfState::Listen, 0),
        tlv(1, VfState::Unknown(0x40), 167),
        ReqRespRepr {
            weight: 0,
            priority: 0,
            timeout_s: 0,
            redirect_s: 0,
            ..tlv(3, VfState::Active, 0)
        },
    ];
    let mut h = with_tlvs(hello_from(1, VgState::Active, 0), bad_tlvs.clone());
    g.handle(1, Event::Rx(h.clone()));
    if let Some(x) = h.repr.hello.as_mut() {
        x.priority = 255;
        x.hello_ms = 0;
        x.hold_ms = 0;
        x.timeout_s = 0;
        x.redirect_s = u16::MAX;
    }
    let a = g.handle(2, Event::Rx(h.clone()));
    assert!(a.iter().any(|a| matches!(
        a,
        Action::Mismatch {
            kind: MismatchKind::BadTimers,
            ..
        }
    )));
    assert_eq!(
        g.status(2).hello_ms.0,
        3000,
        "unusable timers are not adopted"
    );
    h.repr.hello.as_mut().unwrap().state = VgState::Unknown(0x77);
    g.handle(3, Event::Rx(h.clone()));
    h.repr.group = 1023;
    g.handle(4, Event::Rx(h));
    assert!(g.counters().malformed >= 4);
    let _ = run(&mut g, 100_000);
    // Arbitrary configs never panic either.
    let mut z = Group::new(
        GroupConfig {
            hello_ms: 0,
            hold_ms: 0,
            priority: 0,
            ..cfg()
        },
        ip(5),
        mac(5),
        0,
    );
    z.handle(0, Event::Enable);
    let _ = run(&mut z, 100_000);
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn any_vg() -> impl Strategy<Value = VgState> {
        prop_oneof![
            Just(VgState::Listen),
            Just(VgState::Speak),
            Just(VgState::Standby),
            Just(VgState::Active),
            Just(VgState::Init),
            any::<u8>().prop_map(VgState::Unknown),
        ]
    }

    fn any_vf() -> impl Strategy<Value = VfState> {
        prop_oneof![
            Just(VfState::Unspecified),
            Just(VfState::Listen),
            Just(VfState::Active),
            Just(VfState::Disabled),
            any::<u8>().prop_map(VfState::Unknown),
        ]
    }

    fn any_msg() -> impl Strategy<Value = RxMessage> {
        let hello = (
            any_vg(),
            any::<u8>(),
            any::<u32>(),
            any::<u32>(),
            any::<u16>(),
            any::<u16>(),
        )
            .prop_map(
                |(state, priority, hello_ms, hold_ms, redirect_s, timeout_s)| HelloRepr {
                    state,
                    priority,
                    hello_ms,
                    hold_ms,
                    redirect_s,
                    timeout_s,
                    vip: VIP,
                },
            );
        let tlv = (
            any::<u8>(),
            any_vf(),
            any::<u8>(),
            any::<u8>(),
            any::<u16>(),
            any::<u16>(),
        )
            .prop_map(
                |(forwarder, state, priority, weight, timeout_s, redirect_s)| ReqRespRepr {
                    forwarder,
                    state,
                    priority,
                    weight,
                    timeout_s,
                    redirect_s,
                    vmac: MacAddr([0, 7, 0xb4, 0, 1, forwarder]),
                },
            );
        (
            1u8..6,
            proptest::option::of(hello),
            proptest::collection::vec(tlv, 0..6),
        )
            .prop_map(|(i, h, t)| msg_from(i, h, t))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Unvalidated configurations are clamped, never a panic.
        #[test]
        fn any_config_runs(hello in any::<u32>(), hold in any::<u32>(), redirect in any::<u16>(),
                           timeout in any::<u16>(), prio in any::<u8>(), w in any::<(u8, u8, u8)>(),
                           jitter in any::<u8>(), delay in any::<u64>()) {
            let c = GroupConfig {
                hello_ms: hello, hold_ms: hold, redirect_s: redirect, timeout_s: timeout, priority: prio,
                weighting: Weighting { max: w.0, lower: w.1, upper: w.2 }, hello_jitter_pct: jitter,
                forwarder_preempt_delay_ms: delay, preempt: true, preempt_delay_ms: delay,
                ..cfg()
            };
            let mut g = Group::new(c, ip(1), mac(1), 7);
            g.handle(0, Event::Enable);
            g.handle(1, Event::Rx(hello_from(2, VgState::Active, 1)));
            for _ in 0..20 {
                let Some(d) = g.next_deadline() else { break };
                g.handle(d, Event::Timer);
            }
            g.handle(u64::MAX / 4, Event::Arp { host_ip: ip(200), host_mac: host(1), dst: MacAddr::BROADCAST });
        }

        /// Hostile peers: any field values, any order, never a panic, and the
        /// engine always asks to be woken in the future.
        #[test]
        fn hostile_message_sequences_never_panic(msgs in proptest::collection::vec((0u64..20_000, any_msg()), 1..40)) {
            let mut g = group(3, GroupConfig { hello_jitter_pct: 20, ..cfg() });
            g.handle(0, Event::Enable);
            let mut now = 0;
            for (dt, m) in msgs {
                now += dt;
                run(&mut g, now);
                g.handle(now, Event::Rx(m));
                g.handle(now, Event::Arp { host_ip: ip(200), host_mac: host(1), dst: MacAddr::BROADCAST });
                prop_assert!(g.next_deadline().map_or(true, |d| d > now));
            }
            let _ = g.status(now);
            g.handle(now, Event::Shutdown);
            prop_assert_eq!(g.next_deadline(), None);
        }
    }
}
