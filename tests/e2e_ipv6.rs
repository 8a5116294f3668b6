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
//! With kernel hosts running IPv6 on their defaults, checks that they take
//! the group's virtual link-local address as their default router from the
//! AVG's router advertisements, that the AVG spreads them over the VMACs
//! with its neighbour advertisements, that they reach the virtual address
//! and a server behind the routers (IPv6 routed by whoever holds their
//! VMAC) through an AVG crash and a graceful stop within the IPv4 bounds,
//! that they re-validate their VMAC by unicast Neighbor Discovery on real
//! timers, that hop-limit expiry is answered, and that every Neighbor
//! Discovery frame is laid out as IOS lays it out.

use glbpd::wire::icmpv6::solicited_node;
use glbpd::wire::MacAddr;
use glbpd_lab::*;
use nix::sys::signal::Signal;
use serde_json::Value;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

/// One lab at a time: a 2-core machine keeps its timing.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

const V6: u16 = 46;
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

/// Waits until both groups have one AVG, one standby, and a forwarder of
/// its own on every router (for IPv6 through unicast requests and
/// responses between link-local addresses).
fn converge(lab: &mut Lab) {
    let n = lab.routers.len();
    let converged = wait_for(Duration::from_secs(20), || {
        let lab = &*lab;
        roles(lab, GROUP).is_some()
            && roles(lab, V6).is_some()
            && (0..n).all(|i| active_forwarders(lab, i, V6) == 1)
            && (0..n).all(|i| active_forwarders(lab, i, GROUP) == 1)
    });
    assert!(converged, "no convergence\n{}", lab.describe());
}

#[test]
fn an_ipv6_group_runs_beside_the_ipv4_group() {
    let _g = serial();
    let mut spec = LabSpec::new("e2e", "v6", 3, 1);
    spec.v6_group = Some(V6);
    let mut lab = Lab::start(glbpd(), spec);
    converge(&mut lab);
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
    let rows = tshark_fields(
        &lab.pcap,
        "glbp&&ipv6",
        &[
            "ipv6.src",
            "ipv6.dst",
            "ipv6.hlim",
            "ipv6.tclass",
            "udp.srcport",
            "udp.dstport",
            "glbp.group",
            "glbp.hello.virtualipv6",
            "eth.dst",
        ],
        false,
    );
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

/// Records every pinger's outage in `window` and checks it against `bound`.
fn assert_outages<'a>(
    ps: impl IntoIterator<Item = &'a Pinger>,
    what: &str,
    (from, to): (f64, f64),
    bound: f64,
) {
    for p in ps {
        let out = p.outage(from, to);
        let (h, dst) = (p.host + 1, &p.dst);
        record_v6(&format!(
            "{what}: host {h} to {dst}: outage {:.0} ms",
            out * 1e3
        ));
        assert!(
            out <= bound,
            "{what}: host {h} to {dst}: {out:.3} s without replies (bound {bound:.3} s)"
        );
    }
}

/// Host `h` pings once (`ping -n -c 1 -W 1 ARGS`) until `done(replied,
/// output)` holds, for up to 5 s: whether it did, and the last output.
fn ping_until(
    lab: &Lab,
    h: usize,
    args: &[&str],
    done: impl Fn(bool, &str) -> bool,
) -> (bool, String) {
    let mut said = String::new();
    let ok = wait_for(Duration::from_secs(5), || {
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", &lab.host_ns(h)])
            .args(["ping", "-n", "-c", "1", "-W", "1"])
            .args(args)
            .output()
            .expect("ping");
        said = String::from_utf8_lossy(&out.stdout).into_owned();
        done(out.status.success(), &said)
    });
    (ok, said)
}

/// Every host's pings to the virtual address and to the server.
fn pingers(lab: &Lab, hosts: usize) -> Vec<Pinger> {
    (0..hosts)
        .flat_map(|h| {
            [
                lab.pinger_to(h, &format!("{V6_VIP}%eth0")),
                lab.pinger_to(h, SERVER6),
            ]
        })
        .collect()
}

/// Waits until every host took the virtual address as its default router
/// (from router advertisements) and formed an address in the advertised
/// prefix.
fn learn_router(lab: &mut Lab, hosts: usize) {
    let learnt = wait_for(Duration::from_secs(30), || {
        (0..hosts).all(|h| {
            let ns = lab.host_ns(h);
            nsx(&ns, "ip -6 route show default")
                .contains(&format!("via {V6_VIP} dev eth0 proto ra"))
                && {
                    // Formed, and through duplicate address detection
                    // (ping picks its source address once, at start).
                    let a = nsx(&ns, "ip -6 addr show dev eth0 scope global");
                    a.contains(V6_PREFIX) && !a.contains("tentative")
                }
        })
    });
    let routes: Vec<String> = (0..hosts)
        .map(|h| nsx(&lab.host_ns(h), "ip -6 route show default"))
        .collect();
    assert!(
        learnt,
        "hosts did not learn the router: {routes:?}\n{}",
        lab.describe()
    );
}

/// Three routers and `hosts` hosts with the IPv6 group beside the IPv4
/// one, converged: the lab, the IPv6 AVG and its standby. The dead
/// routers' VMACs stay in service (redirect) through the hosts' next
/// re-validation, which real ND timers put up to 50 s out.
fn v6_lab(name: &str, hosts: usize) -> (Lab, usize, usize) {
    let mut spec = LabSpec::new("e2e", name, 3, hosts);
    spec.v6_group = Some(V6);
    spec.redirect_s = 90;
    spec.timeout_s = 180;
    let mut lab = Lab::start(glbpd(), spec);
    converge(&mut lab);
    let (avg, standby) = roles(&lab, V6).unwrap();
    (lab, avg, standby)
}

/// The VMAC router `i` forwards for in group `g` (its one Active
/// forwarder).
fn own_vmac(lab: &Lab, i: usize, g: u16) -> String {
    let fwd = lab.routers[i]
        .vf_states_of("lan0", g)
        .into_iter()
        .find(|(_, s)| s == "Active")
        .map(|(n, _)| n)
        .expect("an active forwarder");
    let [hi, lo] = g.to_be_bytes();
    format!("00:07:b4:{hi:02x}:{lo:02x}:{fwd:02x}")
}

/// A forwarder that is neither AVG nor standby dies: the hosts of its
/// VMAC move (with the VMAC, to another router) within the same bound as
/// for IPv4, keep their VMAC (no new solicitation needed), and the other
/// hosts do not notice beyond the allowance.
#[test]
fn an_avf_crash_moves_only_its_hosts() {
    let _g = serial();
    const HOSTS: usize = 3;
    let (mut lab, avg, standby) = v6_lab("v6f", HOSTS);
    let avf = (0..3).find(|&i| i != avg && i != standby).unwrap();
    // The server answers through the AVG (which lives), not through
    // whoever its own group makes its gateway.
    lab.return_via(avg);
    learn_router(&mut lab, HOSTS);
    let ps = pingers(&lab, HOSTS);
    lab.wait_flowing(&ps, 1.0, Duration::from_secs(10));
    let dead = own_vmac(&lab, avf, V6);
    let held: Vec<Option<String>> = (0..HOSTS).map(|h| lab.host_vmac_of(h, V6_VIP)).collect();
    let victims: Vec<usize> = (0..HOSTS)
        .filter(|&h| held[h].as_deref() == Some(dead.as_str()))
        .collect();
    assert_eq!(victims.len(), 1, "one host uses {dead}: {held:?}");

    let t_kill = lab.signal_router(avf, Signal::SIGKILL);
    let ok = wait_for(Duration::from_secs(5), || {
        [avg, standby]
            .iter()
            .map(|&i| active_forwarders(&lab, i, V6))
            .sum::<usize>()
            == 3
    });
    assert!(ok, "no takeover of {dead}\n{}", lab.describe());
    lab.wait_flowing(&ps, 1.0, Duration::from_secs(5));
    let t_end = now();
    let (victim, others): (Vec<&Pinger>, Vec<&Pinger>) =
        ps.iter().partition(|p| victims.contains(&p.host));
    let window = (t_kill - 0.2, t_end);
    assert_outages(victim, "AVF crash", window, HOLD + HELLO + ALLOWANCE);
    assert_outages(others, "AVF crash, other hosts", window, ALLOWANCE);
    let after: Vec<Option<String>> = (0..HOSTS).map(|h| lab.host_vmac_of(h, V6_VIP)).collect();
    assert_eq!(after, held, "hosts changed VMAC");
}

#[test]
fn hosts_use_the_ipv6_group_as_their_router() {
    let _g = serial();
    const HOSTS: usize = 6;
    let (mut lab, avg, standby) = v6_lab("v6h", HOSTS);

    // Router advertisements from the virtual address: every host takes it
    // as its default router and forms an address in the advertised prefix.
    learn_router(&mut lab, HOSTS);

    // Each host resolves the virtual address by Neighbor Discovery and
    // pings it, and pings the server through it (routed by whoever holds
    // its VMAC): the AVG spread them round-robin over the three VMACs.
    let ps = pingers(&lab, HOSTS);
    lab.wait_flowing(&ps, 1.0, Duration::from_secs(10));
    let held: Vec<Option<String>> = (0..HOSTS).map(|h| lab.host_vmac_of(h, V6_VIP)).collect();
    let vmacs: Vec<String> = (1..=3).map(|f| format!("00:07:b4:00:2e:{f:02x}")).collect();
    for v in &vmacs {
        let n = held
            .iter()
            .filter(|h| h.as_deref() == Some(v.as_str()))
            .count();
        assert_eq!(n, HOSTS / 3, "{v} holds {n} hosts: {held:?}");
    }
    // The AVG's workers answered in place.
    let stats = sh(&format!(
        "{} show stats --json --prefix {}",
        glbpd().display(),
        lab.routers[avg].ns
    ));
    let stats: Value = serde_json::from_str(&stats).expect("show stats --json");
    let n = stats["stats"]["total"]["nd_replies"].as_u64().unwrap_or(0);
    assert!(n >= HOSTS as u64, "AVG answered {n} solicitations: {stats}");
    // Its IPv6 neighbour table holds (at least) the server, resolved for
    // its hosts' pings.
    let n6 = stats["stats"]["neighbors6"].as_u64().unwrap_or(0);
    assert!(n6 >= 1, "{n6} IPv6 neighbours: {stats}");

    // The AVG dies: the hosts of its VMAC move to its secondary, the
    // others see nothing; nobody waits longer than hold + hello.
    let t_kill = lab.signal_router(avg, Signal::SIGKILL);
    let ok = wait_for(Duration::from_secs(5), || {
        lab.routers[standby].vg_state_of("lan0", V6) == "Active"
            && (0..3)
                .filter(|&i| i != avg)
                .map(|i| active_forwarders(&lab, i, V6))
                .sum::<usize>()
                == 3
    });
    assert!(ok, "no takeover\n{}", lab.describe());
    lab.wait_flowing(&ps, 1.0, Duration::from_secs(5));
    let t_end = now();
    let bound = HOLD + HELLO + ALLOWANCE;
    assert_outages(&ps, "AVG crash", (t_kill - 0.2, t_end), bound);

    // The new AVG stops gracefully: it hands its forwarders over at once.
    let t_term = lab.signal_router(standby, Signal::SIGTERM);
    let last = (0..3).find(|&i| i != avg && i != standby).unwrap();
    let ok = wait_for(Duration::from_secs(5), || {
        lab.routers[last].vg_state_of("lan0", V6) == "Active"
            && active_forwarders(&lab, last, V6) == 3
    });
    assert!(
        ok,
        "the last router did not take everything\n{}",
        lab.describe()
    );
    lab.wait_flowing(&ps, 1.0, Duration::from_secs(5));
    let t_end = now();
    let bound = HELLO + ALLOWANCE;
    assert_outages(&ps, "graceful stop", (t_term - 0.2, t_end), bound);

    drop(ps);

    // Real ND timers. A host that pings confirms its entry with every reply
    // (iputils sends with MSG_CONFIRM), so it never re-validates; a host
    // sending only UDP does: its entry goes stale after 15-45 s, and its
    // unicast probe of the VMAC it holds must be answered by that VMAC's
    // holder (now the last router, for all three), back to REACHABLE with
    // the same VMAC.
    let senders: Vec<std::process::Child> = (0..HOSTS)
        .map(|h| {
            std::process::Command::new("ip")
                .args(["netns", "exec", &lab.host_ns(h), "/usr/bin/python3", "-c"])
                .arg(format!(
                    "import socket, time\n\
                     s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n\
                     while True:\n    s.sendto(b'x', ('{V6_VIP}%eth0', 9)); time.sleep(0.05)\n"
                ))
                .spawn()
                .expect("python3")
        })
        .collect();
    let mut probing = [false; HOSTS];
    let mut revalidated = [false; HOSTS];
    let ok = wait_for(Duration::from_secs(75), || {
        for h in 0..HOSTS {
            let e = nsx(
                &lab.host_ns(h),
                &format!("ip -6 neigh show {V6_VIP} dev eth0"),
            );
            if e.contains("DELAY") || e.contains("PROBE") {
                probing[h] = true;
            } else if probing[h] && e.contains("REACHABLE") {
                revalidated[h] = true;
            }
        }
        revalidated.iter().all(|r| *r)
    });
    for mut c in senders {
        let _ = c.kill();
        let _ = c.wait();
    }
    assert!(ok, "not every host re-validated: {revalidated:?}");
    let after: Vec<Option<String>> = (0..HOSTS).map(|h| lab.host_vmac_of(h, V6_VIP)).collect();
    assert_eq!(after, held, "hosts changed VMAC");
    // And they still reach the virtual address and the server.
    let ps = pingers(&lab, HOSTS);
    lab.wait_flowing(&ps, 0.5, Duration::from_secs(5));
    drop(ps);

    // A packet that would leave with hop limit 0 is answered with time
    // exceeded, from the router's own global address on the LAN.
    let (answered, said) = ping_until(&lab, 0, &["-t", "1", SERVER6], |_, said| {
        said.contains("Time exceeded")
    });
    assert!(answered, "no time exceeded: {said}");
    assert!(
        said.contains(&format!("From {V6_PREFIX}{:x}", 2 + last)),
        "{said}"
    );
    // The router's address on its other interface (the uplink) answers
    // too: a packet to any own address is for the control lcore, whatever
    // interface it came in on (never routed out and solicited for).
    let uplink = format!("{V6_UPLINK}{:x}", 2 + last);
    let (answered, said) = ping_until(&lab, 0, &[&uplink], |ok, said| {
        ok && said.contains(&format!("from {uplink}"))
    });
    assert!(answered, "no echo reply from {uplink}: {said}");

    // A destination without a route: the kernel's ping is told so by the
    // router that holds the host's VMAC (the last one), from its LAN
    // address, in both families (the IPv4 group runs beside).
    let v4_from = lab.routers[last].lan_ip.clone();
    let v6_from = format!("{V6_PREFIX}{:x}", 2 + last);
    for (dst, from, what) in [
        (
            "2001:db8:dead::1",
            &v6_from,
            "Destination unreachable: No route",
        ),
        ("198.51.100.1", &v4_from, "Destination Net Unreachable"),
    ] {
        let (answered, said) = ping_until(&lab, 0, &[dst], |_, said| said.contains(what));
        assert!(answered, "{dst}: no {what}: {said}");
        assert!(said.contains(&format!("From {from} ")), "{said}");
    }

    // `show neighbors` on that router: the server its pings went to,
    // resolved by Neighbor Discovery on the uplink, and host 0 on the LAN,
    // to which it delivered the replies.
    let t = show_view_json(glbpd(), &lab.routers[last].ns, "neighbors");
    let v6: Vec<Value> = t["ipv6"].as_array().cloned().unwrap_or_default();
    let resolved = |n: &Value| matches!(n["state"].as_str(), Some("reachable" | "probe"));
    let server = v6.iter().find(|n| n["ip"] == SERVER6);
    assert!(
        server.is_some_and(|n| n["interface"] == "up0" && resolved(n) && n["mac"].is_string()),
        "{t}"
    );
    let host0 = Lab::host_mac(0);
    assert!(
        v6.iter()
            .any(|n| n["interface"] == "lan0" && n["mac"] == host0.as_str() && resolved(n)),
        "no entry of host 0 ({host0}) on lan0: {t}"
    );

    // On the wire, as IOS does it (glbp-protocol.md §11), decoded by
    // tshark with valid checksums.
    lab.check_capture();
    let macs: Vec<String> = lab.routers.iter().map(|r| r.mac.clone()).collect();
    let bad = tshark_fields(
        &lab.pcap,
        "icmpv6&&(_ws.malformed||icmpv6.checksum.status!=1)",
        &["frame.number", "icmpv6.type"],
        false,
    );
    assert!(bad.is_empty(), "ICMPv6 tshark rejects: {bad:?}");
    // MLDv2 reports (for switches that snoop MLD): every router reports
    // all routers, GLBP's ff02::66 and the solicited-node groups of the
    // virtual address and of its link-local, hop limit 1, Router Alert.
    let reports = tshark_fields(
        &lab.pcap,
        "icmpv6.type==143",
        &[
            "eth.src",
            "ipv6.hlim",
            "ipv6.opt.router_alert",
            "icmpv6.mldr.mar.multicast_address",
        ],
        false,
    );
    for mac in &macs {
        let m: MacAddr = mac.parse().unwrap();
        let want = [
            "ff02::2".to_string(),
            "ff02::66".to_string(),
            solicited_node(V6_VIP.parse().unwrap()).to_string(),
            solicited_node(m.link_local()).to_string(),
        ];
        let mine: Vec<_> = reports.iter().filter(|r| r[0] == *mac).collect();
        assert!(!mine.is_empty(), "no MLD report from {mac}: {reports:?}");
        for r in mine {
            assert_eq!((r[1].as_str(), r[2].as_str()), ("1", "0"), "{r:?}");
            for w in &want {
                assert!(r[3..].contains(w), "{mac} does not report {w}: {r:?}");
            }
        }
    }
    // Router advertisements: from the virtual address and a router's MAC
    // to all nodes, hop limit 255, lifetime 1800 s, MTU 1500, the prefix.
    let ras = tshark_fields(
        &lab.pcap,
        "icmpv6.type==134",
        &[
            "ipv6.src",
            "ipv6.dst",
            "eth.src",
            "ipv6.hlim",
            "icmpv6.nd.ra.router_lifetime",
            "icmpv6.opt.mtu",
            "icmpv6.opt.prefix",
        ],
        false,
    );
    assert!(ras.len() >= 2, "{} router advertisements", ras.len());
    for r in &ras {
        let [src, dst, eth, hlim, life, mtu, prefix] = &r[..] else {
            panic!("{r:?}")
        };
        assert_eq!(
            (src.as_str(), dst.as_str(), hlim.as_str()),
            (V6_VIP, "ff02::1", "255"),
            "{r:?}"
        );
        assert!(macs.contains(eth), "{r:?}");
        assert_eq!(
            (life.as_str(), mtu.as_str(), prefix.as_str()),
            ("1800", "1500", V6_PREFIX),
            "{r:?}"
        );
    }
    // Each AVG in turn announced the address: unsolicited, Router flag
    // only, no link-layer option.
    let unsolicited = tshark_fields(
        &lab.pcap,
        &format!("icmpv6.type==136&&icmpv6.nd.na.target_address=={V6_VIP}&&icmpv6.nd.na.flag.s==0"),
        &[
            "ipv6.dst",
            "icmpv6.nd.na.flag.r",
            "icmpv6.nd.na.flag.o",
            "icmpv6.opt.linkaddr",
            "eth.src",
        ],
        false,
    );
    assert!(
        unsolicited.len() >= 2,
        "unsolicited advertisements: {unsolicited:?}"
    );
    for r in &unsolicited {
        assert_eq!(&r[..4], ["ff02::1", "1", "0", ""], "{r:?}");
    }
    // Answers to the hosts: Router, Solicited, Override, a VMAC as target
    // link-layer address, from a router's own MAC.
    let answers = tshark_fields(
        &lab.pcap,
        &format!("icmpv6.type==136&&icmpv6.nd.na.target_address=={V6_VIP}&&icmpv6.nd.na.flag.s==1"),
        &[
            "icmpv6.nd.na.flag.r",
            "icmpv6.nd.na.flag.o",
            "icmpv6.opt.linkaddr",
            "eth.src",
            "ipv6.hlim",
        ],
        false,
    );
    assert!(
        answers.len() >= 2 * HOSTS,
        "{} solicited advertisements",
        answers.len()
    );
    // The re-validations were unicast to the VMACs.
    let vmac_filter = vmacs
        .iter()
        .map(|v| format!("eth.dst=={v}"))
        .collect::<Vec<_>>()
        .join("||");
    let probes = tshark_fields(
        &lab.pcap,
        &format!("icmpv6.type==135&&({vmac_filter})"),
        &["eth.src"],
        false,
    );
    assert!(
        probes.len() >= HOSTS,
        "{} unicast probes of VMACs",
        probes.len()
    );
    // Before the crash only the AVG answered (the others stay silent).
    let before = tshark_fields(
        &lab.pcap,
        &format!(
            "icmpv6.type==136&&icmpv6.nd.na.target_address=={V6_VIP}&&icmpv6.nd.na.flag.s==1&&frame.time_epoch<{t_kill}"
        ),
        &["eth.src"],
        false,
    );
    assert!(
        before.len() >= HOSTS,
        "{} answers before the crash",
        before.len()
    );
    assert!(
        before.iter().all(|r| r[0] == lab.routers[avg].mac),
        "answers from members that are not AVG: {before:?}"
    );
    // The UDP the hosts sent to the virtual address: port unreachable,
    // from the virtual address.
    let unreachable = tshark_fields(
        &lab.pcap,
        &format!("icmpv6.type==1&&icmpv6.code==4&&ipv6.src=={V6_VIP}"),
        &["ipv6.dst"],
        false,
    );
    assert!(
        !unreachable.is_empty(),
        "no port unreachable for UDP to the virtual address"
    );
    for r in &answers {
        let [fr, fo, ll, eth, hlim] = &r[..] else {
            panic!("{r:?}")
        };
        assert_eq!(
            (fr.as_str(), fo.as_str(), hlim.as_str()),
            ("1", "1", "255"),
            "{r:?}"
        );
        assert!(vmacs.contains(ll), "{r:?}");
        assert!(macs.contains(eth), "{r:?}");
    }
}
