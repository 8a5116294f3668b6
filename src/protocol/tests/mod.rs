//! Per-rule tests: event lists in, expected actions and states out. No sleeps,
//! no threads; time is an argument.

use std::net::{IpAddr, Ipv4Addr};

use super::group::FORWARDER_REQUEST;
use super::*;
use crate::wire::glbp::{
    AuthRepr, GlbpRepr, HelloRepr, ReqRespRepr, VfState, VgState, VF_PRIORITY_SECONDARY,
};
use crate::wire::MacAddr;

const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 254));
const HELLO: Millis = 3000;
const HOLD: Millis = 10_000;

fn ip(i: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, i))
}
fn mac(i: u8) -> MacAddr {
    MacAddr([2, 0, 0, 0, 0, i])
}
fn host(i: u16) -> MacAddr {
    let b = i.to_be_bytes();
    MacAddr([2, 0x10, 0, 0, b[0], b[1]])
}

fn cfg() -> GroupConfig {
    GroupConfig {
        id: 1,
        vip: Some(VIP),
        hello_jitter_pct: 0,
        ..GroupConfig::default()
    }
}

fn group(i: u8, c: GroupConfig) -> Group {
    Group::new(c, ip(i), mac(i), u64::from(i))
}

fn hello_from(i: u8, state: VgState, priority: u8) -> RxMessage {
    msg_from(
        i,
        Some(HelloRepr {
            state,
            priority,
            hello_ms: 3000,
            hold_ms: 10_000,
            redirect_s: 600,
            timeout_s: 14400,
            vip: VIP,
        }),
        vec![],
    )
}

fn msg_from(i: u8, hello: Option<HelloRepr>, forwarders: Vec<ReqRespRepr>) -> RxMessage {
    RxMessage {
        src_ip: ip(i),
        src_mac: mac(i),
        port: 0,
        auth_ok: true,
        repr: GlbpRepr {
            group: 1,
            owner: mac(i),
            auth: None,
            nonce: None,
            hello,
            forwarders,
        },
    }
}

fn tlv(n: u8, state: VfState, priority: u8) -> ReqRespRepr {
    ReqRespRepr {
        forwarder: n,
        state,
        priority,
        weight: 100,
        timeout_s: 14400,
        redirect_s: 600,
        vmac: vmac(1, n),
    }
}

fn with_tlvs(mut m: RxMessage, t: Vec<ReqRespRepr>) -> RxMessage {
    m.repr.forwarders = t;
    m
}

fn vg_changes(a: &[Action]) -> Vec<(VgState, VgState)> {
    a.iter()
        .filter_map(|a| match a {
            Action::VgStateChange { old, new, .. } => Some((*old, *new)),
            _ => None,
        })
        .collect()
}

fn sends(a: &[Action]) -> Vec<(&Dest, &MacAddr, &GlbpRepr)> {
    a.iter()
        .filter_map(|a| match a {
            Action::Send { dst, eth_src, msg } => Some((dst, eth_src, msg)),
            _ => None,
        })
        .collect()
}

/// VMACs started (`true`) or stopped (`false`).
fn forwarding_changes(a: &[Action], start: bool) -> Vec<MacAddr> {
    a.iter()
        .filter_map(|a| match (a, start) {
            (Action::StartForwarding { vmac }, true) | (Action::StopForwarding { vmac }, false) => {
                Some(*vmac)
            }
            _ => None,
        })
        .collect()
}

fn starts(a: &[Action]) -> Vec<MacAddr> {
    forwarding_changes(a, true)
}

fn stops(a: &[Action]) -> Vec<MacAddr> {
    forwarding_changes(a, false)
}

fn arp(g: &mut Group, now: Millis, h: u16) -> Option<MacAddr> {
    g.handle(
        now,
        Event::Arp {
            host_ip: ip(200),
            host_mac: host(h),
            dst: MacAddr::BROADCAST,
        },
    )
    .iter()
    .find_map(|a| match a {
        Action::ArpReply { vmac, .. } => Some(*vmac),
        _ => None,
    })
}

/// Runs timers of `g` up to and including `until`, returning all actions.
fn run(g: &mut Group, until: Millis) -> Vec<Action> {
    let mut out = Vec::new();
    while let Some(d) = g.next_deadline().filter(|&d| d <= until) {
        out.extend(g.handle(d, Event::Timer));
    }
    out
}

/// A lossless LAN of groups with 1 ms delivery, for multi-router rules.
struct Net {
    now: Millis,
    routers: Vec<Group>,
    up: Vec<bool>,
    /// Partition of each router: frames reach only the same partition.
    part: Vec<u8>,
    inflight: Vec<(Millis, usize, RxMessage)>,
    log: Vec<(Millis, usize, Action)>,
}

impl Net {
    fn new(cfgs: Vec<(u8, GroupConfig)>) -> Net {
        let routers: Vec<Group> = cfgs.into_iter().map(|(i, c)| group(i, c)).collect();
        let n = routers.len();
        let mut net = Net {
            now: 0,
            routers,
            up: vec![true; n],
            part: vec![0; n],
            inflight: vec![],
            log: vec![],
        };
        for r in 0..n {
            net.event(r, Event::Enable);
        }
        net
    }

    fn event(&mut self, r: usize, ev: Event) -> Vec<Action> {
        let out = self.routers[r].handle(self.now, ev);
        for a in &out {
            self.log.push((self.now, r, a.clone()));
            if let Action::Send { dst, eth_src, msg } = a {
                for (to, g) in self.routers.iter().enumerate() {
                    let hit = match dst {
                        Dest::Multicast => to != r,
                        Dest::Unicast(x) => *x == ip((to + 1) as u8),
                    };
                    let same = self.part[to] == self.part[r];
                    if hit && same && self.up[to] && g.id() == msg.group {
                        let m = RxMessage {
                            src_ip: ip((r + 1) as u8),
                            src_mac: *eth_src,
                            port: 0,
                            auth_ok: true,
                            repr: msg.clone(),
                        };
                        self.inflight.push((self.now + 1, to, m));
                    }
                }
            }
        }
        out
    }

    fn run_until(&mut self, t: Millis) {
        loop {
            let timer = (0..self.routers.len())
                .filter(|&r| self.up[r])
                .filter_map(|r| self.routers[r].next_deadline().map(|d| (d, r)))
                .min();
            let msg = self
                .inflight
                .iter()
                .enumerate()
                .map(|(i, m)| (m.0, i))
                .min();
            match (timer, msg) {
                (_, Some((mt, i))) if mt <= t && timer.map_or(true, |(d, _)| mt <= d) => {
                    let (at, to, m) = self.inflight.remove(i);
                    self.now = at;
                    if self.up[to] {
                        self.event(to, Event::Rx(m));
                    }
                }
                (Some((d, r)), _) if d <= t => {
                    self.now = d.max(self.now);
                    self.event(r, Event::Timer);
                }
                _ => break,
            }
        }
        self.now = t;
    }

    fn crash(&mut self, r: usize) {
        self.up[r] = false;
        self.inflight.retain(|m| m.1 != r);
    }

    fn state(&self, r: usize) -> VgState {
        self.routers[r].state()
    }

    fn forwarders_of(&self, r: usize) -> Vec<MacAddr> {
        if self.up[r] {
            self.routers[r].forwarding().collect()
        } else {
            vec![]
        }
    }

    /// Routers (alive) forwarding `vmac`.
    fn holders(&self, vmac: MacAddr) -> Vec<usize> {
        (0..self.routers.len())
            .filter(|&r| self.forwarders_of(r).contains(&vmac))
            .collect()
    }

    fn log_since(&self, t: Millis) -> Vec<&(Millis, usize, Action)> {
        self.log.iter().filter(|e| e.0 >= t).collect()
    }
}

fn three() -> Net {
    Net::new(vec![
        (
            1,
            GroupConfig {
                priority: 110,
                ..cfg()
            },
        ),
        (
            2,
            GroupConfig {
                priority: 105,
                ..cfg()
            },
        ),
        (3, cfg()),
    ])
}

// ----- VG machine -------------------------------------------------------

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

// ----- forwarders -------------------------------------------------------

#[test]
fn member_requests_a_forwarder_and_goes_active_after_one_hold() {
    let mut g = group(2, cfg());
    g.handle(0, Event::Enable);
    let a = g.handle(100, Event::Rx(hello_from(1, VgState::Active, 100)));
    let s = sends(&a);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].0, &Dest::Unicast(ip(1)));
    assert_eq!(s[0].2.forwarders, [FORWARDER_REQUEST]);
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
    let req = |i| msg_from(i, None, vec![FORWARDER_REQUEST]);
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

// ----- load balancing at the AVG ------------------------------------------

fn avg_with_four(lb: LoadBalancing) -> Group {
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

// ----- authentication -----------------------------------------------------

#[test]
fn auth_mismatch_and_missing_are_dropped_and_counted() {
    let mut g = group(
        2,
        GroupConfig {
            authentication: Authentication::Text("s3cret".into()),
            ..cfg()
        },
    );
    g.handle(0, Event::Enable);
    let a = g.handle(1, Event::Rx(hello_from(1, VgState::Active, 100)));
    assert!(a.is_empty());
    let mut wrong = hello_from(1, VgState::Active, 100);
    wrong.repr.auth = Some(AuthRepr::Text(b"guess".to_vec()));
    g.handle(2, Event::Rx(wrong.clone()));
    assert_eq!(g.counters().auth_failures, 2);
    assert_eq!(g.counters().hellos_in, 0);
    wrong.repr.auth = Some(AuthRepr::Text(b"s3cret".to_vec()));
    g.handle(3, Event::Rx(wrong));
    assert_eq!(g.counters().hellos_in, 1);
    // Outgoing messages carry the password.
    let a = run(&mut g, 10_000);
    assert_eq!(
        sends(&a)[0].2.auth,
        Some(AuthRepr::Text(b"s3cret".to_vec()))
    );
}

#[test]
fn md5_uses_runtime_verdict_sends_zero_digest_and_echoes_nonces() {
    let mut g = group(
        2,
        GroupConfig {
            authentication: Authentication::Md5KeyString("k".into()),
            ..cfg()
        },
    );
    let a = g.handle(0, Event::Enable);
    let m = sends(&a)[0].2;
    assert_eq!(m.auth, Some(AuthRepr::Md5String { digest: [0; 16] }));
    let n0 = m.nonce.clone().unwrap();
    assert!(n0.peers.is_empty());
    let mut h = hello_from(1, VgState::Active, 100);
    h.repr.auth = Some(AuthRepr::Md5String { digest: [7; 16] });
    h.auth_ok = false;
    g.handle(1, Event::Rx(h.clone()));
    g.handle(1, Event::AuthFailed { src_ip: ip(1) });
    assert_eq!(g.counters().auth_failures, 2);
    h.auth_ok = true;
    h.repr.nonce = Some(crate::wire::glbp::NonceRepr {
        counter: 1,
        nonce: 0xdead_beef,
        peers: vec![],
    });
    g.handle(2, Event::Rx(h.clone()));
    // Peers without a nonce TLV are accepted too.
    h.repr.nonce = None;
    g.handle(3, Event::Rx(h.clone()));
    assert_eq!(g.counters().hellos_in, 2);
    let mut a = Vec::new();
    for t in (3000..=25_000).step_by(3000) {
        a.extend(run(&mut g, t));
        h.repr.nonce = Some(crate::wire::glbp::NonceRepr {
            counter: 1,
            nonce: 0xdead_beef,
            peers: vec![],
        });
        g.handle(t, Event::Rx(h.clone()));
    }
    let ms: Vec<_> = sends(&a)
        .into_iter()
        .filter_map(|s| s.2.nonce.clone())
        .collect();
    assert!(ms.iter().all(|n| n.peers
        == [crate::wire::glbp::NoncePeer {
            owner: mac(1),
            echo: 0xdead_beef
        }]));
    assert!(
        ms.iter()
            .any(|n| n.counter == n0.counter.wrapping_add(1) && n.nonce != n0.nonce),
        "rotates ~20 s"
    );
    let mut k = group(
        3,
        GroupConfig {
            // Sent with the lowest key id, whatever the order in the file.
            authentication: Authentication::Md5KeyChain(vec![
                crate::protocol::ChainKey {
                    id: 12,
                    key: "b".into(),
                },
                crate::protocol::ChainKey {
                    id: 9,
                    key: "a".into(),
                },
            ]),
            ..cfg()
        },
    );
    let a = k.handle(0, Event::Enable);
    assert_eq!(
        sends(&a)[0].2.auth,
        Some(AuthRepr::Md5Chain {
            key_id: 9,
            digest: [0; 16]
        })
    );
}

// ----- hostile input ------------------------------------------------------

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

// ----- config ---------------------------------------------------------------

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

// ----- port -----------------------------------------------------------------

#[test]
fn port_demuxes_by_group_and_merges_deadlines() {
    let mut p = Port::new(0, ip(1), mac(1), 42);
    for id in [1u16, 2, 1023] {
        let c = GroupConfig {
            id,
            vip: Some(IpAddr::V4(Ipv4Addr::new(10, 0, (id / 256) as u8, id as u8))),
            ..cfg()
        };
        p.configure(0, c).unwrap();
    }
    assert!(p.configure(0, GroupConfig { id: 1024, ..cfg() }).is_err());
    let mut m = hello_from(2, VgState::Active, 100);
    m.repr.group = 2000;
    p.handle(1, PortEvent::Rx(m.clone()));
    m.repr.group = 5;
    p.handle(1, PortEvent::Rx(m.clone()));
    assert_eq!(p.counters().unknown_group, 2);
    m.repr.group = 2;
    let a = p.handle(1, PortEvent::Rx(m));
    assert!(sends(&a).iter().all(|s| s.2.group == 2));
    let mut t = 0;
    while t < 60_000 {
        t = p.next_deadline().unwrap();
        p.handle(t, PortEvent::Timer);
    }
    assert_eq!(p.group(1).unwrap().state(), VgState::Active);
    assert_eq!(p.group(2).unwrap().counters().hellos_in, 1);
    assert_eq!(p.group(1023).unwrap().state(), VgState::Active);
    let a = p.handle(
        t,
        PortEvent::Arp {
            target: IpAddr::V4(Ipv4Addr::new(10, 0, 3, 255)),
            host_ip: ip(50),
            host_mac: host(1),
            dst: MacAddr::BROADCAST,
        },
    );
    assert!(matches!(a[..], [Action::ArpReply { vmac, .. }] if vmac == super::vmac(1023, 1)));
    let a = p.handle(t, PortEvent::Shutdown);
    assert_eq!(vg_changes(&a).len(), 3);
}

#[test]
fn vmac_layout() {
    assert_eq!(vmac(40, 1).to_string(), "00:07:b4:00:28:01");
    assert_eq!(vmac(1020, 1).to_string(), "00:07:b4:03:fc:01");
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

#[test]
fn log_lines_read_like_ios() {
    let a = Action::VgStateChange {
        group: 1,
        old: VgState::Speak,
        new: VgState::Active,
    };
    assert_eq!(
        a.log_line("lan0").unwrap(),
        "%GLBP-6-STATECHANGE: lan0 Grp 1 state Speak -> Active"
    );
    let a = Action::VfStateChange {
        group: 1,
        forwarder: 2,
        old: VfState::Listen,
        new: VfState::Active,
    };
    assert_eq!(
        a.log_line("lan0").unwrap(),
        "%GLBP-6-FWDSTATECHANGE: lan0 Grp 1 Fwd 2 state Listen -> Active"
    );
    assert_eq!(
        Action::StartForwarding { vmac: vmac(1, 1) }.log_line("lan0"),
        None
    );
}

#[test]
fn show_glbp_reads_like_ios() {
    let mut n = three();
    n.run_until(60_000);
    let s = n.routers[0].status(n.now).show("lan0");
    for line in [
        "lan0 - Group 1",
        "  State is Active",
        "  Virtual IP address is 10.0.0.254",
        "  Hello time 3 sec, hold time 10 sec",
        "  Standby is 10.0.0.2, priority 105",
        "  There are 3 forwarders (1 active)",
        "    MAC address is 0007.b400.0101 (default)",
        "    Owner ID is 0200.0000.0001 (local)",
        "    Active is local, weighting 100",
        "    0200.0000.0003 (10.0.0.3)",
    ] {
        assert!(s.contains(line), "missing {line:?} in\n{s}");
    }
}

#[test]
fn port_runs_1024_groups_on_merged_deadlines() {
    let mut p = Port::new(0, ip(1), mac(1), 1);
    for id in 0..=1023u16 {
        let vip = IpAddr::V4(Ipv4Addr::new(10, 1, (id >> 8) as u8, id as u8));
        p.configure(
            0,
            GroupConfig {
                id,
                vip: Some(vip),
                ..cfg()
            },
        )
        .unwrap();
    }
    let mut timers = 0;
    while let Some(t) = p.next_deadline().filter(|&t| t <= 30_000) {
        p.handle(t, PortEvent::Timer);
        timers += 1;
    }
    assert!(p
        .groups()
        .all(|g| g.state() == VgState::Active && g.forwarding().count() == 1));
    // Deadlines are merged: groups sharing a deadline are served by one call.
    assert!(timers < 1024 * 12, "{timers}");
}

/// A hello from AVG `i` advertising these redirect/timeout values.
fn avg_hello_with(i: u8, redirect_s: u16, timeout_s: u16) -> RxMessage {
    let mut m = hello_from(i, VgState::Active, 100);
    if let Some(h) = m.repr.hello.as_mut() {
        h.redirect_s = redirect_s;
        h.timeout_s = timeout_s;
    }
    m
}

/// Router 2 under an AVG (9) advertising these redirect/timeout values, having
/// heard router 5 active for forwarder 3 at t = 20 ms.
fn member_knowing_fwd3(redirect_s: u16, timeout_s: u16) -> Group {
    let mut g = group(
        2,
        GroupConfig {
            redirect_s,
            timeout_s,
            ..cfg()
        },
    );
    g.handle(0, Event::Enable);
    g.handle(10, Event::Rx(avg_hello_with(9, redirect_s, timeout_s)));
    let owner = with_tlvs(
        hello_from(5, VgState::Listen, 100),
        vec![tlv(3, VfState::Active, 167)],
    );
    g.handle(20, Event::Rx(owner));
    g
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

// ----- field conditions (issue 13) -----------------------------------------

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
        vec![tlv(1, VfState::Active, 167), FORWARDER_REQUEST],
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
