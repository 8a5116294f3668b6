//! 802.1Q VLAN sub-interfaces at the frame level, on real DPDK virtual
//! devices: `net_pcap` (no VLAN offload: tags stripped and inserted in
//! software) replaying tagged and untagged frames into a trunk and an
//! uplink. Routing between two VLANs of the trunk and the untagged uplink
//! (tags rewritten, removed, inserted; MACs, TTL and checksum right),
//! unknown VLANs and untagged frames on a VLAN-only trunk dropped and
//! counted, a destination without a route answered on its VLAN with net
//! unreachable, and GLBP hellos on a VLAN laid out as IOS sends them on a
//! sub-interface: the tag, then the same bytes as untagged (tshark decodes
//! them). The af_packet (offload) path with ARP for the virtual IPs is in
//! `vlan_af_packet.rs`.

mod instance;

use glbpd::wire::glbp::auth::AuthKey;
use glbpd::wire::glbp::frame::{FrameBuilder, ReceivedFrame};
use glbpd::wire::glbp::{self, GlbpRepr};
use glbpd::wire::MacAddr;
use instance::*;
use std::process::Command;

const TRUNK_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const UP_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
const GW_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xfe];
const H10: [u8; 6] = [0x02, 0, 0, 0, 0x10, 0x65];
const H20: [u8; 6] = [0x02, 0, 0, 0, 0x20, 0x32];

#[test]
fn tagged_frames_are_routed_between_vlans_and_the_uplink() {
    let p = prefix("vlan-pcap");
    let dir = tempfile::tempdir().unwrap();
    let path = |n: &str| dir.path().join(n);
    // VLAN 10 host 10.0.0.101 -> VLAN 20 host 10.1.0.50 (retagged);
    // VLAN 10 host -> 198.51.100.7 (untagged out of the uplink); the
    // same with priority bits set in the tag.
    let to_v20: Vec<Vec<u8>> = (0..4u8)
        .map(|i| {
            udp_frame(
                TRUNK_MAC,
                H10,
                [10, 0, 0, 101],
                [10, 1, 0, 50],
                64,
                &[i; 18],
            )
        })
        .collect();
    let to_up: Vec<Vec<u8>> = (0..3u8)
        .map(|i| {
            udp_frame(
                TRUNK_MAC,
                H10,
                [10, 0, 0, 101],
                [198, 51, 100, 7],
                64 - i,
                &[0x40 | i; 18],
            )
        })
        .collect();
    let mut trunk_in: Vec<Vec<u8>> = to_v20.iter().map(|f| tagged(f, 10)).collect();
    trunk_in.extend(to_up.iter().map(|f| tagged(f, 5 << 13 | 10)));
    // VLAN 10 host -> a destination without a route: in a burst of VLAN
    // 10's plain forwards (its tag still in the data), answered with net
    // unreachable on VLAN 10.
    let unrouted = udp_frame(
        TRUNK_MAC,
        H10,
        [10, 0, 0, 101],
        [203, 0, 113, 9],
        64,
        &[0x33; 18],
    );
    trunk_in.push(tagged(&unrouted, 10));
    // VLAN 30: no such interface. Untagged: the trunk has no untagged
    // address. Both dropped as unknown_vlan.
    trunk_in.push(tagged(&to_v20[0], 30));
    trunk_in.push(tagged(&to_v20[0], 30));
    trunk_in.push(to_v20[0].clone());
    // From the uplink, untagged, to the VLAN 20 host: tag inserted.
    let from_up: Vec<Vec<u8>> = (0..2u8)
        .map(|i| {
            udp_frame(
                UP_MAC,
                GW_MAC,
                [198, 51, 100, 9],
                [10, 1, 0, 50],
                30,
                &[0x80 | i; 18],
            )
        })
        .collect();
    write_pcap(&path("trunk-in.pcap"), &trunk_in);
    write_pcap(&path("up-in.pcap"), &from_up);

    let cfg = format!(
        r#"{head}
[[port]]
name = "trunk0"
device = "net_pcap0,rx_pcap={trunk_in},tx_pcap={trunk_out}"
mac = "02:00:00:00:00:01"
[[port]]
name = "up0"
device = "net_pcap1,rx_pcap={up_in},tx_pcap={up_out}"
address = "192.0.2.2/24"
mac = "02:00:00:00:00:02"
[[vlan]]
port = "trunk0"
id = 10
address = "10.0.0.2/24"
[[vlan]]
port = "trunk0"
id = 20
address = "10.1.0.2/24"
[[vlan]]
name = "sub40"
port = "trunk0"
id = 40
address = "10.4.0.2/24"
[[route]]
prefix = "198.51.100.0/24"
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
port = "sub40"
id = 40
vip = "10.4.0.1"
hello_ms = 100
hold_ms = 400
"#,
        head = eal_header(&p, 1),
        trunk_in = path("trunk-in.pcap").display(),
        trunk_out = path("trunk-out.pcap").display(),
        up_in = path("up-in.pcap").display(),
        up_out = path("up-out.pcap").display(),
    );
    let mut g = Instance::start_with_env(&p, &cfg, "info,glbpd::runtime=debug");
    // Alone on VLAN 40, it becomes AVG and keeps sending hellos there.
    let v = poll(15, "AVG on sub40 with hellos out", || {
        let v = show_json(&p, "detail");
        let grp = &v["groups"][0];
        (grp["state"] == "Active" && grp["counters"]["hellos_out"].as_u64() >= Some(5)).then_some(v)
    });
    let grp = &v["groups"][0];
    assert_eq!(grp["port"], "sub40", "{grp}");
    assert_eq!(grp["vlan"], 40, "{grp}");
    let stats = show_json(&p, "stats");
    let ifaces: Vec<(String, u64, String)> = stats["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or("").to_string(),
                p["vlan"].as_u64().unwrap_or(u64::MAX),
                p["link"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        ifaces,
        [
            ("up0".into(), 0, "up0".into()),
            ("trunk0.10".into(), 10, "trunk0".into()),
            ("trunk0.20".into(), 20, "trunk0".into()),
            ("sub40".into(), 40, "trunk0".into()),
        ],
        "interfaces in show --json"
    );
    let log = g.stop_clean();
    let c = final_counters(&log);
    assert_eq!(c["rx_packets"][0], trunk_in.len(), "{c}\n{log}");
    assert_eq!(c["rx_packets"][1], from_up.len(), "{c}");
    assert_eq!(
        c["forwarded"],
        to_v20.len() + to_up.len() + from_up.len(),
        "{c}"
    );
    assert_eq!(c["drops"]["unknown_vlan"], 3, "{c}");
    assert_eq!(c["drops"]["no_route"], 1, "{c}");

    // The trunk: the VLAN 10 frames retagged for VLAN 20, the uplink's
    // tagged for VLAN 20, and the hellos on VLAN 40.
    let out = read_pcap(&path("trunk-out.pcap"));
    let data: Vec<&Vec<u8>> = out.iter().filter(|f| vid(f) == Some(20)).collect();
    let hellos: Vec<&Vec<u8>> = out.iter().filter(|f| vid(f) == Some(40)).collect();
    let errors: Vec<&Vec<u8>> = out.iter().filter(|f| vid(f) == Some(10)).collect();
    assert_eq!(
        data.len() + hellos.len() + errors.len(),
        out.len(),
        "only VLANs 10, 20 and 40 on the trunk: {out:02x?}"
    );
    // The net unreachable, on VLAN 10: to the host from the VLAN's
    // address, quoting the header as it came in (untagged, TTL 64).
    assert_eq!(errors.len(), 1, "{errors:02x?}");
    let e = errors[0];
    assert_eq!((&e[..6], &e[6..12]), (&H10[..], &TRUNK_MAC[..]));
    assert_eq!(
        (&e[16..18], e[27]),
        (&[0x08, 0x00][..], 1),
        "ICMP over IPv4"
    );
    assert_eq!(e[30..38], [10, 0, 0, 2, 10, 0, 0, 101]);
    assert_eq!((e[38], e[39]), (3, 0), "destination unreachable, net");
    assert_eq!(e[46..74], unrouted[14..42], "the quote");
    assert_eq!(inet_checksum(&e[18..38]), 0, "IPv4 checksum verifies");
    assert_eq!(inet_checksum(&e[38..]), 0, "ICMP checksum verifies");
    let want: Vec<Vec<u8>> = to_v20
        .iter()
        .chain(&from_up)
        .map(|f| tagged(&routed(f, H20, TRUNK_MAC), 20))
        .collect();
    assert_eq!(data.len(), want.len());
    for w in &want {
        assert!(data.contains(&w), "no {w:02x?} among {data:02x?}");
    }
    for d in &data {
        assert_eq!(inet_checksum(&d[18..38]), 0, "IPv4 checksum verifies");
    }
    // The uplink: untagged, to the gateway, TTL decremented.
    let up = read_pcap(&path("up-out.pcap"));
    let up_data: Vec<&Vec<u8>> = up.iter().filter(|f| f[12..14] == [0x08, 0x00]).collect();
    assert_eq!(up_data.len(), to_up.len(), "{up:02x?}");
    for (got, orig) in up_data.iter().zip(&to_up) {
        assert_eq!(**got, routed(orig, GW_MAC, UP_MAC), "tag removed");
    }
    assert!(
        up.iter().all(|f| vid(f).is_none()),
        "nothing tagged upstream"
    );

    // Hellos on VLAN 40: the tag, then exactly the untagged layout (what
    // IOS sends on `encapsulation dot1Q 40`). Each captured hello, taken
    // apart and built again by glbpd's frame builder without a tag, is the
    // captured frame with its tag removed, byte for byte.
    assert!(hellos.len() >= 5, "{} hellos", hellos.len());
    let mut with_hello = 0;
    for h in &hellos {
        let rx = ReceivedFrame::parse(h).expect("a GLBP frame");
        assert_eq!(rx.vlan_tci, Some(40), "VLAN 40, priority 0");
        assert_eq!(rx.src_mac.0, TRUNK_MAC);
        assert_eq!(rx.ttl, 255);
        let msg = GlbpRepr::parse(&glbp::Packet::new_checked(rx.payload).expect("GLBP"))
            .expect("GLBP message");
        assert_eq!(msg.group, 40);
        assert!(
            msg.hello.is_some() || !msg.forwarders.is_empty(),
            "a hello or forwarder message: {msg:?}"
        );
        let untagged = FrameBuilder::multicast_v4(MacAddr(TRUNK_MAC), "10.4.0.2".parse().unwrap())
            .build_vec(&msg, &AuthKey::None)
            .expect("build");
        let mut stripped = [&h[..12], &h[16..]].concat();
        // Ethernet padding after the IP packet is not part of the layout.
        stripped.truncate(untagged.len().max(60));
        let mut want = untagged.clone();
        want.resize(want.len().max(60), 0);
        assert_eq!(stripped, want, "tagged hello = tag + untagged bytes");
        with_hello += usize::from(msg.hello.is_some());
    }
    assert!(with_hello >= 3, "{with_hello} messages with a hello TLV");
    // tshark decodes every tagged hello as GLBP on VLAN 40, cleanly.
    let pcap = path("trunk-out.pcap");
    let tshark = |filter: &str, fields: &[&str]| -> String {
        let mut c = Command::new("tshark");
        c.arg("-r").arg(&pcap).args(["-Y", filter, "-T", "fields"]);
        for f in fields {
            c.args(["-e", f]);
        }
        let out = c.output().expect("tshark (package tshark)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let decoded = tshark(
        "glbp",
        &[
            "vlan.id",
            "glbp.group",
            "glbp.hello.virtualipv4",
            "glbp.ownerid",
        ],
    );
    let rows: Vec<&str> = decoded.lines().collect();
    assert_eq!(rows.len(), hellos.len(), "{decoded}");
    for r in &rows {
        let f: Vec<&str> = r.split('\t').collect();
        assert_eq!(f[..2], ["40", "40"], "VLAN 40, group 40: {decoded}");
        assert!(f[2] == "10.4.0.1" || f[2].is_empty(), "{decoded}");
        assert_eq!(f[3], "02:00:00:00:00:01", "{decoded}");
    }
    assert_eq!(
        rows.iter().filter(|r| r.contains("10.4.0.1")).count(),
        with_hello,
        "tshark sees every hello's virtual IP: {decoded}"
    );
    let bad = tshark("glbp && (_ws.malformed || _ws.expert)", &["frame.number"]);
    assert!(bad.trim().is_empty(), "malformed: {bad}");
    let ck = Command::new("tshark")
        .arg("-r")
        .arg(&pcap)
        .args([
            "-o",
            "ip.check_checksum:TRUE",
            "-Y",
            "vlan.id == 20 && ip && ip.checksum.status != 1",
            "-T",
            "fields",
            "-e",
            "frame.number",
        ])
        .output()
        .expect("tshark");
    assert!(
        String::from_utf8_lossy(&ck.stdout).trim().is_empty(),
        "tshark finds bad IPv4 checksums on VLAN 20"
    );
}
