//! GLBP for IPv6 on a dual-stack LAN, end to end: three glbpd routers
//! (`tests/lab`) run the IPv4 group 1 and an IPv6 group 46
//! (`vip = "autoconfig"`) side by side on `lan0`. Needs root.
//!
//! Checks that the IPv6 group elects one AVG and one standby over GLBPv6
//! (hellos from each router's link-local address to ff02::66), that every
//! router gets its own forwarder (requests and responses unicast between
//! link-local addresses), that the IPv4 group converges beside it, that the
//! IPv6 group's standby takes over within the IPv4 bound when the AVG is
//! killed, and that tshark decodes every GLBPv6 frame cleanly, in IOS's
//! layout (hop limit 255, traffic class 0xe0, UDP 3222, the virtual
//! link-local address in the hello).
//!
//! What this does not cover yet (issue 19): hosts. glbpd does not answer
//! Neighbor Solicitations, send Router Advertisements or forward IPv6.

use glbpd::wire::MacAddr;
use glbpd_lab::*;
use nix::sys::signal::Signal;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

const V6: u16 = 46;
/// IOS's `glbp 46 ipv6 autoconfig` address.
const V6_VIP: &str = "fe80::7:b4ff:fe00:2e00";
const HELLO: f64 = 0.1;
const HOLD: f64 = 0.4;
/// As in `tests/e2e.rs`.
const ALLOWANCE: f64 = 0.15;

fn glbpd() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_glbpd"))
}

/// The link-local address glbpd forms from `mac` (modified EUI-64; the
/// unit test of `MacAddr::link_local` checks it against Linux's), as
/// tshark prints it.
fn eui64(mac: &str) -> String {
    let mac: MacAddr = mac.parse().expect("a router's MAC");
    mac.link_local().to_string()
}

/// (AVG, standby) of group `g` by router index, when there is exactly one
/// of each.
fn roles(lab: &Lab, g: u16) -> Option<(usize, usize)> {
    let s: Vec<String> = (0..lab.routers.len())
        .map(|i| lab.routers[i].vg_state_of("lan0", g))
        .collect();
    let one = |want: &str| {
        let v: Vec<usize> = (0..s.len()).filter(|&i| s[i] == want).collect();
        (v.len() == 1).then(|| v[0])
    };
    Some((one("Active")?, one("Standby")?))
}

/// The forwarders router `i` holds Active in group `g`, from its log.
fn active_forwarders(lab: &Lab, i: usize, g: u16) -> usize {
    lab.routers[i]
        .vf_states_of("lan0", g)
        .values()
        .filter(|s| *s == "Active")
        .count()
}

#[test]
fn an_ipv6_group_runs_beside_the_ipv4_group() {
    let mut spec = LabSpec::new("e2e", "v6", 3, 1);
    spec.v6_group = Some(V6);
    let mut lab = Lab::start(glbpd(), spec);

    // Both groups converge: one AVG, one standby, and a forwarder of its
    // own on every router (for IPv6 through unicast requests and
    // responses between link-local addresses).
    let converged = wait_for(Duration::from_secs(20), || {
        roles(&lab, GROUP).is_some()
            && roles(&lab, V6).is_some()
            && (0..3).all(|i| active_forwarders(&lab, i, V6) == 1)
            && (0..3).all(|i| active_forwarders(&lab, i, GROUP) == 1)
    });
    assert!(converged, "no convergence\n{}", lab.describe());
    let (avg, standby) = roles(&lab, V6).unwrap();
    assert_eq!(avg, 0, "router 1 has the highest priority");

    // `show` knows the group as IPv6: its virtual address, and the AVG
    // and standby by their link-local addresses (the status document
    // follows the logs within its refresh interval).
    let ns = lab.routers[avg].ns.clone();
    let lls: Vec<String> = lab.routers.iter().map(|r| eui64(&r.mac)).collect();
    let find = |j: &Value| {
        j["groups"]
            .as_array()
            .and_then(|gs| gs.iter().find(|g| g["group"] == V6).cloned())
            .unwrap_or(Value::Null)
    };
    let mut j = Value::Null;
    let shown = wait_for(Duration::from_secs(3), || {
        j = show_json(glbpd(), &ns);
        find(&j)["standby_router"]["ip"] == lls[standby].as_str()
    });
    let g = find(&j);
    assert!(shown, "standby not shown as {}: {g}", lls[standby]);
    assert_eq!(g["vip"], V6_VIP, "{g}");
    assert_eq!(g["active_router"]["ip"], lls[avg].as_str(), "{g}");
    let groups = j["groups"].as_array().cloned().unwrap_or_default();
    assert!(
        groups
            .iter()
            .any(|g| g["group"] == GROUP && g["vip"] == VIP),
        "the IPv4 group beside it: {j}"
    );

    // The IPv6 AVG dies: its standby takes over within hold + hello +
    // allowance of the kill, as for IPv4.
    let t_kill = lab.signal_router(avg, Signal::SIGKILL);
    let took_over = wait_for(Duration::from_secs(5), || {
        lab.routers[standby].vg_state_of("lan0", V6) == "Active"
    });
    assert!(took_over, "no takeover\n{}", lab.describe());
    let at = lab.routers[standby]
        .logged_at(&format!("lan0 Grp {V6} state Standby -> Active"), t_kill)
        .expect("takeover logged");
    let took = at - t_kill;
    record_v6(&format!(
        "IPv6 group AVG crash (kill -9): router {} took over {:.0} ms after the kill",
        standby + 1,
        took * 1e3
    ));
    assert!(
        took <= HOLD + HELLO + ALLOWANCE,
        "takeover {took:.3} s after the kill, bound {:.3} s",
        HOLD + HELLO + ALLOWANCE
    );

    // Every GLBP frame decodes cleanly; the IPv6 ones are laid out as
    // IOS lays them out.
    let (count, bad) = lab.check_capture();
    assert!(count > 0, "no GLBP captured");
    assert!(bad.is_empty(), "tshark complains: {bad:?}");
    let pcap = lab.pcap.to_string_lossy().into_owned();
    let rows = sh(&format!(
        "tshark -r {pcap} -Y glbp&&ipv6 -T fields -E separator=, -e ipv6.src -e ipv6.dst \
         -e ipv6.hlim -e ipv6.tclass -e udp.srcport -e udp.dstport -e glbp.group \
         -e glbp.hello.virtualipv6 -e eth.dst"
    ));
    let rows: Vec<Vec<String>> = rows
        .lines()
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    assert!(rows.len() > 20, "{} GLBPv6 frames", rows.len());
    let mut unicast = 0;
    for r in &rows {
        let [src, dst, hlim, tclass, sport, dport, group, vip, eth_dst] = &r[..] else {
            panic!("row {r:?}");
        };
        assert!(
            lls.contains(src),
            "source {src} is not a router's link-local: {r:?}"
        );
        let tclass = u32::from_str_radix(tclass.trim_start_matches("0x"), 16);
        assert_eq!((hlim.as_str(), tclass), ("255", Ok(0xe0)), "{r:?}");
        assert_eq!((sport.as_str(), dport.as_str()), ("3222", "3222"), "{r:?}");
        assert_eq!(group, "46", "{r:?}");
        if dst == "ff02::66" {
            assert_eq!(eth_dst, "33:33:00:00:00:66", "{r:?}");
        } else {
            assert!(lls.contains(dst), "unicast to {dst}: {r:?}");
            unicast += 1;
        }
        if !vip.is_empty() {
            assert_eq!(vip, V6_VIP, "{r:?}");
        }
    }
    assert!(unicast > 0, "no unicast request or response over IPv6");
    // No IPv4 GLBP frame is about group 46, nor IPv6 about group 1.
    let crossed = sh(&format!(
        "tshark -r {pcap} -Y (glbp&&ip&&glbp.group=={V6})||(glbp&&ipv6&&glbp.group=={GROUP}) \
         -T fields -e frame.number"
    ));
    assert!(
        crossed.trim().is_empty(),
        "frames in the wrong family: {crossed}"
    );
}

fn record_v6(what: &str) {
    glbpd_lab::record(Path::new(env!("CARGO_TARGET_TMPDIR")), "ipv6", what);
}
