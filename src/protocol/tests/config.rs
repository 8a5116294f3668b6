//! Configuration: validation, in-place changes, hello jitter.

use super::*;

#[test]
fn validate_names_the_field() {
    let bad = |f: fn(&mut GroupConfig)| {
        let mut c = cfg();
        f(&mut c);
        c.validate().unwrap_err().field
    };
    assert!(cfg().validate().is_ok());
    // The keys as the TOML file names them.
    assert_eq!(bad(|c| c.id = 1024), "id");
    assert_eq!(bad(|c| c.hold_ms = 3000), "hold_ms");
    assert_eq!(bad(|c| c.hello_ms = 0), "hello_ms");
    assert_eq!(bad(|c| c.hello_ms = 49), "hello_ms");
    assert_eq!(bad(|c| c.timeout_s = 600), "timeout_s");
    assert_eq!(bad(|c| c.weighting.lower = 101), "weighting");
    assert_eq!(bad(|c| c.weighting.upper = 0), "weighting");
    assert_eq!(bad(|c| c.client_cache.max = 2001), "client_cache");
    assert_eq!(bad(|c| c.priority = 0), "priority");
    assert_eq!(bad(|c| c.preempt_delay_ms = 3_601_000), "preempt_delay_s");
    assert_eq!(
        bad(|c| c.authentication = Authentication::Text(String::new())),
        "authentication"
    );
    assert_eq!(
        bad(|c| c.authentication = Authentication::Text("x".repeat(101))),
        "authentication"
    );
    assert_eq!(
        bad(|c| {
            let k = |id| crate::protocol::ChainKey {
                id,
                key: "k".into(),
            };
            c.authentication = Authentication::Md5KeyChain(vec![k(1), k(2), k(1)]);
        }),
        "authentication.md5_key_chain[2].id"
    );
}

#[test]
fn config_change_applies_in_place_without_resetting_state() {
    let mut n = three();
    n.run_until(60_000);
    let before = n.routers[0].status(n.now);
    let a = n.event(
        0,
        Event::Configure(GroupConfig {
            priority: 120,
            load_balancing: LoadBalancing::Weighted,
            ..cfg()
        }),
    );
    assert!(vg_changes(&a).is_empty() && stops(&a).is_empty());
    assert_eq!(
        sends(&a)[0].2.hello.unwrap().priority,
        120,
        "new priority advertised at once"
    );
    let after = n.routers[0].status(n.now);
    assert_eq!(after.state, before.state);
    assert_eq!(after.forwarders.len(), before.forwarders.len());
    // An invalid config is ignored and counted.
    n.event(
        0,
        Event::Configure(GroupConfig {
            hold_ms: 1,
            ..cfg()
        }),
    );
    assert_eq!(n.routers[0].config().priority, 120);
}

#[test]
fn hello_jitter_is_early_only_and_bounded() {
    let mut g = group(
        1,
        GroupConfig {
            hello_jitter_pct: 20,
            ..cfg()
        },
    );
    g.handle(0, Event::Enable);
    run(&mut g, 30_000);
    assert_eq!(g.state(), VgState::Active, "no state changes from here on");
    let mut last = 0;
    let mut early = false;
    for _ in 0..50 {
        let d = g.next_deadline().unwrap();
        let a = g.handle(d, Event::Timer);
        if sends(&a).iter().any(|s| s.2.hello.is_some()) && last > 0 {
            let gap = d - last;
            assert!((2400..=3000).contains(&gap), "{gap}");
            early |= gap < 3000;
        }
        if sends(&a).iter().any(|s| s.2.hello.is_some()) {
            last = d;
        }
    }
    assert!(early);
}
