//! IPv6 at the frame level through `net_af_packet`: one glbpd in a network
//! namespace, AVG of IPv6 group 46 (`vip = "autoconfig"`) on its LAN veth,
//! and scapy on the other ends of the LAN and uplink veths. A host's
//! Neighbor Solicitation for the virtual address is answered with the
//! advertisement of the VMAC (byte for byte as the wire module emits it,
//! from the router's MAC); a solicitation that fails RFC 4861's checks
//! (hop limit 254) is dropped and counted; IPv6 to the VMAC is routed to
//! the uplink's gateway with the hop limit decremented and the MACs
//! rewritten (also through a link-local gateway, which is solicited for
//! when it is not known); one that expires is answered with time
//! exceeded; an MLD general query is answered with the LAN's report, one
//! for another group is not. tshark decodes every ICMPv6 frame with a
//! good checksum. Needs root.

mod instance;

use glbpd::wire::icmpv6::{
    multicast_mac, solicited_node, Icmpv6Repr, NA_OVERRIDE, NA_ROUTER, NA_SOLICITED, PROTO_ICMPV6,
};
use glbpd::wire::ipv6::Ipv6Repr;
use glbpd::wire::MacAddr;
use instance::*;
use std::net::Ipv6Addr;

const LAN_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x0a, 0x01];
const UP_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x0b, 0x01];
const GW_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xfe];
const HOST: [u8; 6] = [0x02, 0, 0, 0, 0x10, 0x65];
const QUERIER: [u8; 6] = [0x02, 0, 0, 0, 0x10, 0x99];
/// Group 46's forwarder 1 (the only one: the router is alone).
const VMAC: [u8; 6] = [0x00, 0x07, 0xb4, 0x00, 0x2e, 0x01];

fn vip() -> Ipv6Addr {
    glbpd::wire::glbp::virtual_link_local(46).unwrap()
}

/// An Ethernet frame carrying an IPv6 packet (`payload` after the fixed
/// header).
fn ipv6_frame(
    (dst_mac, src_mac): ([u8; 6], [u8; 6]),
    (src, dst): (Ipv6Addr, Ipv6Addr),
    next_header: u8,
    hop_limit: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = dst_mac.to_vec();
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&[0x86, 0xdd]);
    let mut ip = vec![0u8; 40];
    Ipv6Repr {
        src,
        dst,
        next_header,
        payload_len: payload.len(),
        hop_limit,
        traffic_class: 0,
    }
    .emit(&mut ip)
    .unwrap();
    f.extend_from_slice(&ip);
    f.extend_from_slice(payload);
    f
}

/// An ICMPv6 message from `src` to `dst` in a frame.
fn icmpv6_frame(
    macs: ([u8; 6], [u8; 6]),
    (src, dst): (Ipv6Addr, Ipv6Addr),
    hop_limit: u8,
    m: &Icmpv6Repr,
) -> Vec<u8> {
    let mut msg = vec![0u8; m.buffer_len()];
    m.emit(src, dst, &mut msg).unwrap();
    ipv6_frame(macs, (src, dst), PROTO_ICMPV6, hop_limit, &msg)
}

/// The host's solicitation for the virtual address, at `hop_limit`.
fn solicitation(hop_limit: u8) -> Vec<u8> {
    let group = solicited_node(vip());
    icmpv6_frame(
        (multicast_mac(group).0, HOST),
        (MacAddr(HOST).link_local(), group),
        hop_limit,
        &Icmpv6Repr::NeighborSolicit {
            target: vip(),
            lladdr: Some(MacAddr(HOST)),
        },
    )
}

/// A querier's MLDv2 query (RFC 3810 §5.1; MLDv1's, RFC 2710 §3, with
/// `v1`) for `group` (:: for all, to ff02::1), to be answered within
/// `max_ms`: hop limit 1, Router Alert.
fn mld_query(group: Ipv6Addr, max_ms: u16, v1: bool) -> Vec<u8> {
    let src: Ipv6Addr = "fe80::99".parse().unwrap();
    let dst = if group.is_unspecified() {
        "ff02::1".parse().unwrap()
    } else {
        group
    };
    let mut msg = vec![130, 0, 0, 0];
    msg.extend_from_slice(&max_ms.to_be_bytes());
    msg.extend_from_slice(&[0, 0]);
    msg.extend_from_slice(&group.octets());
    if !v1 {
        // S = 0, QRV 2, QQIC 125 s, no sources.
        msg.extend_from_slice(&[2, 125, 0, 0]);
    }
    glbpd::wire::icmpv6::fill_checksum(src, dst, &mut msg);
    let mut p = vec![PROTO_ICMPV6, 0, 5, 2, 0, 0, 1, 0];
    p.extend(msg);
    ipv6_frame((multicast_mac(dst).0, QUERIER), (src, dst), 0, 1, &p)
}

/// The MLD reports of `version` (1 or 2) among `frames`.
fn mld_of(frames: &[Vec<u8>], version: u8) -> impl Iterator<Item = &Vec<u8>> {
    let ty = if version == 1 { 131 } else { 143 };
    frames
        .iter()
        .filter(move |f| f.len() > 62 && f[12..14] == [0x86, 0xdd] && f[20] == 0 && f[62] == ty)
}

/// The MLDv2 reports among `frames`, by source MAC.
fn mld_reports(frames: &[Vec<u8>]) -> Vec<[u8; 6]> {
    mld_of(frames, 2)
        .map(|f| f[6..12].try_into().unwrap())
        .collect()
}

/// The groups reported in `frames` (from `mac`) by MLD `version`, sorted:
/// for MLDv1 the group of each report (checked to be the one it is sent
/// to), for MLDv2 each record's.
fn mld_groups(frames: &[Vec<u8>], version: u8, mac: [u8; 6]) -> Vec<Ipv6Addr> {
    let addr = |b: &[u8]| Ipv6Addr::from(<[u8; 16]>::try_from(b).unwrap());
    let mut groups: Vec<Ipv6Addr> = mld_of(frames, version)
        .filter(|f| f[6..12] == mac)
        .flat_map(|f| {
            if version == 1 {
                assert_eq!(f[38..54], f[70..86], "an MLDv1 report goes to its group");
                assert_eq!(f.len(), 86, "{f:02x?}");
                vec![addr(&f[70..86])]
            } else {
                let n = usize::from(u16::from_be_bytes([f[68], f[69]]));
                (0..n).map(|i| addr(&f[74 + 20 * i..90 + 20 * i])).collect()
            }
        })
        .collect();
    groups.sort();
    groups
}

#[test]
fn solicitations_and_forwarding_through_af_packet() {
    let p = prefix("v6-afp");
    let net = Net::new(&p, &[("l0", "pl0"), ("u0", "pu0")]);
    let cfg = format!(
        r#"{head}
[[port]]
name = "lan0"
device = "net_af_packet0,iface=l0,framecnt=2048"
address = "10.0.0.2/24"
address6 = ["2001:db8:10::2/64"]
mac = "02:00:00:00:0a:01"
[[port]]
name = "up0"
device = "net_af_packet1,iface=u0,framecnt=2048"
address = "192.0.2.2/24"
address6 = ["2001:db8:ff::2/64"]
mac = "02:00:00:00:0b:01"
[[route]]
prefix = "2001:db8:77::/48"
via = "2001:db8:ff::1"
[[neighbor]]
port = "up0"
ip = "192.0.2.1"
mac = "02:00:00:00:00:fe"
[[neighbor]]
port = "up0"
ip = "2001:db8:ff::1"
mac = "02:00:00:00:00:fe"
[[route]]
prefix = "2001:db8:88::/48"
via = "fe80::fe"
port = "up0"
[[neighbor]]
port = "up0"
ip = "fe80::fe"
mac = "02:00:00:00:00:fd"
[[route]]
prefix = "2001:db8:99::/48"
via = "fe80::fc"
port = "up0"
[[group]]
port = "lan0"
id = 46
vip = "autoconfig"
hello_ms = 100
hold_ms = 400
"#,
        head = eal_header(&p, 1),
    );
    let mut g = Instance::start_in(Some(&net.r), &p, &cfg, "info");
    poll(15, "AVG of group 46 with forwarder 1 active", || {
        let v = try_show_json(&p, "detail").ok()?;
        let grp = &v["groups"][0];
        (grp["state"] == "Active" && grp["forwarders"][0]["state"] == "Active").then_some(())
    });

    let host6: Ipv6Addr = "2001:db8:10::65".parse().unwrap();
    let far: Ipv6Addr = "2001:db8:77::7".parse().unwrap();
    let mut udp = vec![0x30, 0x39, 0x1f, 0x90, 0, 26, 0, 0];
    udp.extend_from_slice(&[7; 18]);
    // UDP from the host to `dst` through the VMAC, at hop limit `hl`.
    let udp_to = |dst: Ipv6Addr, hl| ipv6_frame((VMAC, HOST), (host6, dst), 17, hl, &udp);
    let to_far = udp_to(far, 64);
    let expiring = udp_to(far, 1);
    // Through link-local gateways: one given by a static entry, one to
    // resolve.
    let via_ll = udp_to("2001:db8:88::9".parse().unwrap(), 64);
    let unresolved = udp_to("2001:db8:99::9".parse().unwrap(), 64);
    // Without a route: destination unreachable, quoting the packet as it
    // came in. Not for an ICMPv6 error (RFC 4443 §2.4 e), nor for IPv4
    // to a broadcast address; for IPv4 net unreachable.
    let nowhere: Ipv6Addr = "2001:db8:55::5".parse().unwrap();
    let unrouted = udp_to(nowhere, 64);
    let mut err = vec![0u8; 8 + 48];
    let quoted = Icmpv6Repr::DstUnreachable {
        code: 4,
        data: &unrouted[14..62],
    };
    quoted.emit(host6, nowhere, &mut err).unwrap();
    let unrouted_error = ipv6_frame((VMAC, HOST), (host6, nowhere), PROTO_ICMPV6, 64, &err);
    let host4 = [10, 0, 0, 101];
    let unrouted4 = udp_frame(LAN_MAC, HOST, host4, [198, 51, 100, 9], 64, &[7; 18]);
    let broadcast4 = udp_frame(LAN_MAC, HOST, host4, [255, 255, 255, 255], 64, &[7; 18]);
    let (lan, up) = peer(
        &net.p,
        ["pl0", "pu0"],
        &[
            ("pl0", solicitation(254)),
            ("pl0", solicitation(255)),
            ("pl0", to_far.clone()),
            ("pl0", expiring),
            ("pl0", via_ll.clone()),
            ("pl0", unresolved),
            ("pl0", unrouted.clone()),
            ("pl0", unrouted_error),
            ("pl0", unrouted4.clone()),
            ("pl0", broadcast4),
        ],
    );
    // The neighbour tables: the static entries of both families, and the
    // link-local gateway being resolved (its solicitations go unanswered:
    // the entry is dropped after the third, two seconds on).
    let tables = show_json(&p, "neighbors");
    let entry = |family: &str, ip: &str| {
        tables[family]
            .as_array()
            .and_then(|a| a.iter().find(|n| n["ip"] == ip).cloned())
            .unwrap_or_else(|| panic!("no {ip} in {tables}"))
    };
    let gw4 = entry("ipv4", "192.0.2.1");
    assert_eq!(
        (&gw4["interface"], &gw4["mac"], &gw4["state"]),
        (&"up0".into(), &"02:00:00:00:00:fe".into(), &"static".into()),
        "{gw4}"
    );
    assert!(gw4["next_probe_in_ms"].is_null(), "{gw4}");
    let gw6 = entry("ipv6", "2001:db8:ff::1");
    assert_eq!(
        (&gw6["interface"], &gw6["state"]),
        (&"up0".into(), &"static".into())
    );
    let pending = entry("ipv6", "fe80::fc");
    assert_eq!(
        (&pending["interface"], &pending["state"]),
        (&"up0".into(), &"incomplete".into()),
        "{pending}"
    );
    assert!(pending["mac"].is_null(), "{pending}");
    assert!(
        pending["next_probe_in_ms"].as_u64() <= Some(1000),
        "{pending}"
    );
    let (ok, text, err) = glbpd(&["show", "neighbors", "--prefix", &p]);
    assert!(ok.success(), "{err}");
    let row = text
        .lines()
        .find(|l| l.contains("192.0.2.1"))
        .unwrap_or_default();
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        ["up0", "192.0.2.1", "0200.0000.00fe", "static", "-"],
        "{text}"
    );
    assert!(text.contains("IPv4 neighbors: 1\n"), "{text}");

    // MLD: the start's two reports are over by now (a second apart), the
    // next are a minute away. A query for a group nobody here listens to
    // gets no answer; a general query gets the LAN's report within its
    // half second, and the uplink (not queried) stays quiet.
    let (lan_q, _) = peer(
        &net.p,
        ["pl0", "pu0"],
        &[("pl0", mld_query("ff02::1234".parse().unwrap(), 500, false))],
    );
    let seen = |f: &[Vec<u8>]| format!("{} frames captured", f.len());
    assert_eq!(mld_reports(&lan_q), [] as [[u8; 6]; 0], "{}", seen(&lan_q));
    let (lan_q, up_q) = peer(
        &net.p,
        ["pl0", "pu0"],
        &[("pl0", mld_query(Ipv6Addr::UNSPECIFIED, 500, false))],
    );
    assert_eq!(mld_reports(&lan_q), [LAN_MAC], "{}", seen(&lan_q));
    assert_eq!(mld_reports(&up_q), [] as [[u8; 6]; 0], "{}", seen(&up_q));
    // An MLDv1 querier reads no MLDv2 report: after its query the LAN
    // reports in MLDv1, one report per group to the group, the same groups
    // as its MLDv2 report (all routers, ff02::66, the solicited-node
    // groups of its link-local, global and virtual addresses); the uplink stays quiet.
    let (lan_q1, up_q1) = peer(
        &net.p,
        ["pl0", "pu0"],
        &[("pl0", mld_query(Ipv6Addr::UNSPECIFIED, 500, true))],
    );
    let v2_groups = mld_groups(&lan_q, 2, LAN_MAC);
    assert_eq!(v2_groups.len(), 5, "{v2_groups:?}");
    assert_eq!(
        mld_groups(&lan_q1, 1, LAN_MAC),
        v2_groups,
        "{}",
        seen(&lan_q1)
    );
    assert_eq!(
        mld_reports(&lan_q1),
        [] as [[u8; 6]; 0],
        "no MLDv2 report after it"
    );
    assert_eq!(mld_of(&up_q1, 1).count(), 0, "{}", seen(&up_q1));
    let st = show_json(&p, "stats");
    g.stop_clean();

    // The advertisement, exactly: from the virtual address to the host's
    // link-local, target the virtual address, Router|Solicited|Override,
    // the VMAC as target link-layer address, from the router's MAC.
    let want = icmpv6_frame(
        (HOST, LAN_MAC),
        (vip(), MacAddr(HOST).link_local()),
        255,
        &Icmpv6Repr::NeighborAdvert {
            flags: NA_ROUTER | NA_SOLICITED | NA_OVERRIDE,
            target: vip(),
            lladdr: Some(MacAddr(VMAC)),
        },
    );
    let to_host: Vec<&Vec<u8>> = lan.iter().filter(|f| f[..6] == HOST).collect();
    let nas: Vec<&&Vec<u8>> = to_host.iter().filter(|f| f.get(54) == Some(&136)).collect();
    assert_eq!(
        nas.len(),
        1,
        "one advertisement (not for hop limit 254): {to_host:02x?}"
    );
    assert_eq!(nas[0][..], want[..], "the advertisement, byte for byte");
    // Routed: to the gateway's MAC from the uplink's, hop limit 63.
    let routed = routed6(&to_far, GW_MAC, UP_MAC);
    let data: Vec<&Vec<u8>> = up
        .iter()
        .filter(|f| f[12..14] == [0x86, 0xdd] && f[20] == 17)
        .collect();
    assert_eq!(data.len(), 2, "{up:02x?}");
    assert_eq!(data[0][..routed.len()], routed[..]);
    // The link-local gateway's MAC, from its static entry.
    let routed = routed6(&via_ll, [0x02, 0, 0, 0, 0, 0xfd], UP_MAC);
    assert_eq!(data[1][..routed.len()], routed[..]);
    // The other one is solicited for, from the uplink's link-local.
    let ns = icmpv6_frame(
        (
            multicast_mac(solicited_node("fe80::fc".parse().unwrap())).0,
            UP_MAC,
        ),
        (
            MacAddr(UP_MAC).link_local(),
            solicited_node("fe80::fc".parse().unwrap()),
        ),
        255,
        &Icmpv6Repr::NeighborSolicit {
            target: "fe80::fc".parse().unwrap(),
            lladdr: Some(MacAddr(UP_MAC)),
        },
    );
    assert!(
        up.iter().any(|f| f[..] == ns[..]),
        "no solicitation for fe80::fc: {up:02x?}"
    );

    // No route: one destination unreachable (no route, code 0) from the
    // LAN address, quoting the packet as it came in (hop limit 64); none
    // about the ICMPv6 error.
    let unreachable = icmpv6_frame(
        (HOST, LAN_MAC),
        ("2001:db8:10::2".parse().unwrap(), host6),
        64,
        &Icmpv6Repr::DstUnreachable {
            code: 0,
            data: &unrouted[14..],
        },
    );
    let errors: Vec<&&Vec<u8>> = to_host
        .iter()
        .filter(|f| f[12..14] == [0x86, 0xdd] && f[54] == 1)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:02x?}");
    assert_eq!(errors[0][..], unreachable[..], "destination unreachable");
    // IPv4: net unreachable from the LAN address, quoting the header as
    // it came in (TTL 64: decremented only when routed) and 8 bytes; none
    // for the broadcast.
    let nets: Vec<&&Vec<u8>> = to_host
        .iter()
        .filter(|f| f[12..14] == [0x08, 0x00] && f[23] == 1 && f[34] == 3)
        .collect();
    assert_eq!(nets.len(), 1, "{nets:02x?}");
    let net_unreachable = nets[0];
    assert_eq!(net_unreachable[26..34], [10, 0, 0, 2, 10, 0, 0, 101]);
    assert_eq!(net_unreachable[35], 0, "code: net unreachable");
    assert_eq!(net_unreachable[42..70], unrouted4[14..42], "the quote");
    assert_eq!(inet_checksum(&net_unreachable[14..34]), 0, "IPv4 checksum");

    // tshark: every ICMPv6 frame (advertisement, time exceeded,
    // destination unreachable, the AVG's router advertisements and MLD
    // reports) and the ICMP error decode with a good checksum.
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("lan.pcap");
    let all: Vec<Vec<u8>> = lan
        .iter()
        .chain(&up)
        .chain(&lan_q)
        .chain(&lan_q1)
        .cloned()
        .collect();
    write_pcap(&pcap, &all);
    let bad = glbpd_lab::tshark_fields(
        &pcap,
        "(icmpv6 && (_ws.malformed || icmpv6.checksum.status != 1)) \
         || (icmp && (_ws.malformed || icmp.checksum.status != 1))",
        &["frame.number"],
        true,
    );
    assert!(bad.is_empty(), "tshark rejects frames {bad:?}");
    let na = glbpd_lab::tshark_fields(
        &pcap,
        "icmpv6.type == 136 && eth.dst == 02:00:00:00:10:65",
        &[
            "icmpv6.nd.na.target_address",
            "icmpv6.opt.linkaddr",
            "icmpv6.nd.na.flag.r",
            "icmpv6.nd.na.flag.s",
            "icmpv6.nd.na.flag.o",
        ],
        true,
    );
    assert_eq!(
        na,
        [[
            vip().to_string().as_str(),
            "00:07:b4:00:2e:01",
            "1",
            "1",
            "1"
        ]],
        "as tshark reads the advertisement"
    );
    // The MLDv1 reports as tshark reads them: hop limit 1, Router Alert,
    // the group of each.
    let v1 = glbpd_lab::tshark_fields(
        &pcap,
        "icmpv6.type == 131 && ipv6.hlim == 1 && ipv6.opt.router_alert == 0",
        &["icmpv6.mld.multicast_address"],
        true,
    );
    let mut v1: Vec<Ipv6Addr> = v1.iter().map(|r| r[0].parse().unwrap()).collect();
    v1.sort();
    assert_eq!(v1, v2_groups, "MLDv1 reports as tshark reads them");
    let te = glbpd_lab::tshark_fields(
        &pcap,
        "icmpv6.type == 3",
        &["ipv6.src", "ipv6.dst", "icmpv6.code", "eth.src"],
        true,
    );
    assert_eq!(
        te,
        [[
            "2001:db8:10::2",
            host6.to_string().as_str(),
            "0",
            "02:00:00:00:0a:01"
        ]],
        "time exceeded, from the LAN address"
    );
    // Counted: one answer in place, the hop-limit-254 solicitation dropped
    // as malformed, one forward.
    let total = &st["stats"]["total"];
    assert_eq!(total["nd_replies"], 1, "{total}");
    assert!(total["drops"]["malformed"].as_u64() >= Some(1), "{total}");
    assert_eq!(total["forwarded"], 2, "{total}");
    // Dropped for want of a route: the two IPv6 packets, the IPv4 one and
    // the broadcast; answered: one of each family.
    assert_eq!(total["drops"]["no_route"], 4, "{total}");
    assert_eq!(st["stats"]["control"]["icmp_unreachable"], 2, "{st}");
    // Two queries counted: the general ones (the other was for no group
    // of ours).
    assert_eq!(st["stats"]["control"]["mld_queries"], 2, "{st}");
    drop(net);
}
