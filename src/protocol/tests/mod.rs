//! Per-rule tests: event lists in, expected actions and states out. No sleeps,
//! no threads; time is an argument.

mod arp;
mod auth;
mod config;
mod hostile;
mod port;
mod show;
mod vf;
mod vg;

use std::net::{IpAddr, Ipv4Addr};

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
///
/// Kept apart from the simulator's world (`sim/world.rs`): that one drives
/// `Port`s through a seeded event queue with random delays, loss, hosts,
/// faults and invariant checks; this one drives `Group`s directly, in a
/// fixed order, and keeps every action for the assertions (`log_since`),
/// so each test reads as exactly the events its rule needs.
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
