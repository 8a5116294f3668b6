//! Ports: demultiplexing by group and merged deadlines.

use super::*;

#[test]
fn port_demuxes_by_group_and_merges_deadlines() {
    let mut p = Interface::new(0, ip(1), mac(1), 42);
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
    p.handle(1, InterfaceEvent::Rx(m.clone()));
    m.repr.group = 5;
    p.handle(1, InterfaceEvent::Rx(m.clone()));
    assert_eq!(p.counters().unknown_group, 2);
    m.repr.group = 2;
    let a = p.handle(1, InterfaceEvent::Rx(m));
    assert!(sends(&a).iter().all(|s| s.2.group == 2));
    let mut t = 0;
    while t < 60_000 {
        t = p.next_deadline().unwrap();
        p.handle(t, InterfaceEvent::Timer);
    }
    assert_eq!(p.group(1).unwrap().state(), VgState::Active);
    assert_eq!(p.group(2).unwrap().counters().hellos_in, 1);
    assert_eq!(p.group(1023).unwrap().state(), VgState::Active);
    let a = p.handle(
        t,
        InterfaceEvent::Arp {
            target: IpAddr::V4(Ipv4Addr::new(10, 0, 3, 255)),
            host_ip: ip(50),
            host_mac: host(1),
            dst: MacAddr::BROADCAST,
        },
    );
    assert!(matches!(a[..], [Action::ArpReply { vmac, .. }] if vmac == super::vmac(1023, 1)));
    let a = p.handle(t, InterfaceEvent::Shutdown);
    assert_eq!(vg_changes(&a).len(), 3);
}

#[test]
fn vmac_layout() {
    assert_eq!(vmac(40, 1).to_string(), "00:07:b4:00:28:01");
    assert_eq!(vmac(1020, 1).to_string(), "00:07:b4:03:fc:01");
}

#[test]
fn port_runs_1024_groups_on_merged_deadlines() {
    let mut p = Interface::new(0, ip(1), mac(1), 1);
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
        p.handle(t, InterfaceEvent::Timer);
        timers += 1;
    }
    assert!(p
        .groups()
        .all(|g| g.state() == VgState::Active && g.forwarding().count() == 1));
    // Deadlines are merged: groups sharing a deadline are served by one call.
    assert!(timers < 1024 * 12, "{timers}");
}

/// On a dual-stack interface an IPv4 group speaks as the interface's IPv4
/// address and an IPv6 group as its link-local address: the address the
/// AVG is known by and that breaks priority ties, so an IPv6 group's
/// election is decided among link-local addresses as on IOS.
#[test]
fn an_ipv6_group_speaks_as_the_link_local_address() {
    use std::net::Ipv6Addr;
    let ll: Ipv6Addr = "fe80::9".parse().unwrap();
    let mut p = Interface::new(0, ip(1), mac(1), 7).with_link_local(ll);
    p.configure(0, cfg()).unwrap();
    let vip6 = crate::wire::glbp::virtual_link_local(46).map(IpAddr::V6);
    let v6_cfg = GroupConfig {
        id: 46,
        vip: vip6,
        ..cfg()
    };
    p.configure(0, v6_cfg.clone()).unwrap();
    // A member with the same priority and a lower link-local address:
    // this router wins the tie on address.
    let mut m = hello_from(2, VgState::Listen, 100);
    m.repr.group = 46;
    m.src_ip = IpAddr::V6("fe80::2".parse().unwrap());
    if let (Some(h), Some(v)) = (m.repr.hello.as_mut(), vip6) {
        h.vip = v;
    }
    p.handle(1, InterfaceEvent::Rx(m));
    let mut t = 0;
    while t < 60_000 {
        t = p.next_deadline().unwrap();
        p.handle(t, InterfaceEvent::Timer);
    }
    let v6 = p.group(46).unwrap().status(t);
    assert_eq!(v6.state, VgState::Active);
    assert_eq!(v6.active.map(|a| a.ip), Some(IpAddr::V6(ll)));
    assert_eq!(v6.vip, vip6);
    let v4 = p.group(1).unwrap().status(t);
    assert_eq!(v4.active.map(|a| a.ip), Some(ip(1)));
    // Without a link-local address, an IPv6 group keeps the interface's
    // address (what the engine did before).
    let mut p = Interface::new(0, ip(1), mac(1), 7);
    p.configure(0, v6_cfg).unwrap();
    assert_eq!(p.group(46).unwrap().status(0).members[0].ip, ip(1));
}
