//! 802.1Q VLANs through `net_af_packet` (the kernel hands tags over
//! out of band: glbpd asks for the PMD's VLAN strip and insert offloads),
//! one glbpd in a network namespace with a trunk and an uplink veth, and
//! scapy on the other ends: ARP for each VLAN's virtual IP answered on that
//! VLAN with that VLAN's group's VMAC (the same group number on two VLANs:
//! two independent groups), an unknown VLAN dropped and counted, and
//! traffic to a VMAC routed VLAN -> VLAN and VLAN -> uplink and back.
//! Needs root.

mod instance;

use instance::*;
use std::time::Duration;

const TRUNK_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x0a, 0x01];
const UP_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x0b, 0x01];
const GW_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xfe];
const H10: [u8; 6] = [0x02, 0, 0, 0, 0x10, 0x65];
const H20: [u8; 6] = [0x02, 0, 0, 0, 0x20, 0x32];
/// Group 1's forwarder 1 (the only one: the router is alone).
const VMAC: [u8; 6] = [0x00, 0x07, 0xb4, 0x00, 0x01, 0x01];

fn arp_request(src: [u8; 6], sip: [u8; 4], tip: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&sip);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&tip);
    f.resize(60, 0);
    f
}

#[test]
fn arp_and_routing_per_vlan_through_af_packet() {
    let p = prefix("vlan-afp");
    let net = Net::new(&p, &[("t0", "pt0"), ("u0", "pu0")]);
    let cfg = format!(
        r#"{head}
[[port]]
name = "trunk0"
device = "net_af_packet0,iface=t0,framecnt=2048"
mac = "02:00:00:00:0a:01"
[[port]]
name = "up0"
device = "net_af_packet1,iface=u0,framecnt=2048"
address = "192.0.2.2/24"
mac = "02:00:00:00:0b:01"
[[vlan]]
port = "trunk0"
id = 10
address = "10.0.0.2/24"
[[vlan]]
port = "trunk0"
id = 20
address = "10.1.0.2/24"
[[route]]
prefix = "0.0.0.0/0"
via = "192.0.2.1"
[[neighbor]]
port = "up0"
ip = "192.0.2.1"
mac = "02:00:00:00:00:fe"
[[neighbor]]
port = "trunk0.20"
ip = "10.1.0.50"
mac = "02:00:00:00:20:32"
[[group]]
port = "trunk0.10"
id = 1
vip = "10.0.0.1"
hello_ms = 100
hold_ms = 400
[[group]]
port = "trunk0.20"
id = 1
vip = "10.1.0.1"
hello_ms = 100
hold_ms = 400
"#,
        head = eal_header(&p, 1),
    );
    let mut g = Instance::start_in(Some(&net.r), &p, &cfg, "info,glbpd::runtime=debug");
    // Alone on both VLANs: AVG of both groups, each forwarding 0007.b400.0101.
    let active = (0..300).any(|_| {
        let ok = try_show_json(&p, "detail").is_ok_and(|v| {
            v["groups"].as_array().is_some_and(|g| {
                g.len() == 2
                    && g.iter()
                        .all(|g| g["state"] == "Active" && g["forwarders"][0]["state"] == "Active")
            })
        });
        if !ok {
            std::thread::sleep(Duration::from_millis(50));
        }
        ok
    });
    assert!(active, "no AVG on both VLANs:\n{}", g.log());
    let detail = show_json(&p, "detail");

    let to_v20 = udp_frame(VMAC, H10, [10, 0, 0, 101], [10, 1, 0, 50], 64, &[7; 20]);
    let to_up = udp_frame(VMAC, H10, [10, 0, 0, 101], [198, 51, 100, 7], 64, &[8; 20]);
    let from_up = udp_frame(
        UP_MAC,
        GW_MAC,
        [198, 51, 100, 9],
        [10, 1, 0, 50],
        40,
        &[9; 20],
    );
    let (trunk, up) = peer(
        &net.p,
        ["pt0", "pu0"],
        &[
            (
                "pt0",
                tagged(&arp_request(H10, [10, 0, 0, 101], [10, 0, 0, 1]), 10),
            ),
            (
                "pt0",
                tagged(&arp_request(H20, [10, 1, 0, 50], [10, 1, 0, 1]), 20),
            ),
            // VLAN 30 is nobody's; VLAN 10 asking for VLAN 20's VIP is
            // not answered either (it is not on VLAN 10).
            (
                "pt0",
                tagged(&arp_request(H10, [10, 3, 0, 101], [10, 3, 0, 1]), 30),
            ),
            (
                "pt0",
                tagged(&arp_request(H10, [10, 0, 0, 101], [10, 1, 0, 1]), 10),
            ),
            ("pt0", tagged(&to_v20, 10)),
            ("pt0", tagged(&to_up, 10)),
            ("pu0", from_up.clone()),
        ],
    );
    let st = show_json(&p, "stats");
    let log = g.stop_clean();
    assert!(
        log.contains("VLAN(s): tags stripped by the device, inserted by the device"),
        "af_packet offers both offloads and glbpd uses them:\n{log}"
    );

    // One ARP reply per VLAN, on that VLAN, with that VLAN's group's VMAC.
    let replies: Vec<&Vec<u8>> = trunk
        .iter()
        .filter(|f| vid(f).is_some() && f[16..18] == [0x08, 0x06] && f[24..26] == [0, 2])
        .collect();
    // What the trunk carried besides GLBP (for failure messages).
    let other: Vec<&Vec<u8>> = trunk.iter().filter(|f| f[0] != 0x01).collect();
    assert_eq!(replies.len(), 2, "ARP replies on the trunk: {other:02x?}");
    for (vlan, host, vip) in [(10, H10, [10, 0, 0, 1]), (20, H20, [10, 1, 0, 1])] {
        let r = replies
            .iter()
            .find(|f| vid(f) == Some(vlan))
            .unwrap_or_else(|| panic!("no reply on VLAN {vlan}: {replies:02x?}"));
        assert_eq!(&r[0..6], &host, "to the asking host");
        assert_eq!(&r[6..12], &TRUNK_MAC);
        assert_eq!(&r[26..32], &VMAC, "sender MAC: the group's VMAC");
        assert_eq!(&r[32..36], &vip, "sender IP: this VLAN's VIP");
        assert_eq!(&r[36..42], &host);
    }
    // Routed: VLAN 10 -> VLAN 20 (retagged), VLAN 10 -> uplink (untagged),
    // uplink -> VLAN 20 (tagged).
    let data20: Vec<&Vec<u8>> = trunk
        .iter()
        .filter(|f| vid(f) == Some(20) && f[0..6] == H20 && f[16..18] == [0x08, 0x00])
        .collect();
    assert_eq!(data20.len(), 2, "{other:02x?}");
    for orig in [&to_v20, &from_up] {
        let want = tagged(&routed(orig, H20, TRUNK_MAC), 20);
        assert!(
            data20.iter().any(|f| f[..want.len()] == want[..]),
            "{want:02x?} not among {data20:02x?}"
        );
    }
    let up_data: Vec<&Vec<u8>> = up
        .iter()
        .filter(|f| f[12..14] == [0x08, 0x00] && f[23] == 17)
        .collect();
    assert_eq!(up_data.len(), 1, "{up:02x?}");
    let want = routed(&to_up, GW_MAC, UP_MAC);
    assert_eq!(&up_data[0][..want.len()], &want[..]);
    assert!(
        trunk
            .iter()
            .all(|f| vid(f).is_some_and(|v| v == 10 || v == 20)),
        "everything on the trunk is tagged 10 or 20: {other:02x?}"
    );
    // Counted: the unknown VLAN, and the ARP for another VLAN's VIP not
    // answered (a request nobody on VLAN 10 serves goes to the control
    // lcore as any broadcast ARP).
    let total = &st["stats"]["total"];
    assert!(
        total["drops"]["unknown_vlan"].as_u64() >= Some(1),
        "{total}"
    );
    assert_eq!(total["arp_replies"], 2, "{total}");
    // Two groups, one number: independent, each on its own VLAN.
    let groups = detail["groups"].as_array().unwrap();
    let mut ports: Vec<(&str, u64, u64)> = groups
        .iter()
        .map(|g| {
            (
                g["port"].as_str().unwrap(),
                g["vlan"].as_u64().unwrap(),
                g["group"].as_u64().unwrap(),
            )
        })
        .collect();
    ports.sort();
    assert_eq!(ports, [("trunk0.10", 10, 1), ("trunk0.20", 20, 1)]);
    drop(net);
}
