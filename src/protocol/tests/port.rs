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
