//! End to end over an 802.1Q trunk: three glbpd routers whose `lan0`
//! carries VLANs 10 and 20, one GLBP group 1 on each VLAN (same group
//! number, so the same VMACs, as on IOS), two hosts per VLAN (`tests/lab`
//! with `LabSpec::vlans`). Needs root.
//!
//! Checks that each VLAN's group converges on its own, that hosts resolve
//! their own VLAN's VIP to a VMAC of their own group, reach the server and
//! each other across VLANs (routed by the routers both ways), that a
//! SIGKILL of the AVG costs no host more than the bound `tests/e2e.rs`
//! uses for its AVG crash (hold + hello + `ALLOWANCE`), and that every
//! GLBP frame on the trunk is tagged with the right VLAN and decodes
//! cleanly.

use glbpd_lab::*;
use nix::sys::signal::Signal;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

/// As in `tests/e2e.rs`: one ping interval, the workers' and control
/// loop's adaptive idle sleeps, and scheduling on a shared 2-vCPU VM.
const ALLOWANCE: f64 = 0.15;
const HELLO: f64 = 0.1;
const HOLD: f64 = 0.4;

const VLANS: [u16; 2] = [10, 20];

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn glbpd() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_glbpd"))
}

/// Prints a scenario's measurement and appends it to the outages file.
fn record(scenario: &str, what: &str) {
    glbpd_lab::record(Path::new(env!("CARGO_TARGET_TMPDIR")), scenario, what);
}

/// The host that host `h` pings across VLANs: the next one, which is on
/// the other VLAN.
fn peer(lab: &Lab, h: usize) -> usize {
    let p = (h + 1) % lab.spec.hosts;
    assert_ne!(lab.host_vlan(p), lab.host_vlan(h));
    p
}

/// Hosts resolve their VIP one after the other and reach the server;
/// each VMAC is one that its own VLAN's group forwards. Returns them.
fn resolve_all(lab: &mut Lab) -> Vec<String> {
    (0..lab.spec.hosts)
        .map(|h| {
            assert!(
                lab.host_ping(h, TRIES),
                "host {} (VLAN {:?}) cannot reach the server\n{}",
                h + 1,
                lab.host_vlan(h),
                lab.describe()
            );
            let vip = lab.host_vip(h);
            let v = lab
                .host_vmac(h)
                .unwrap_or_else(|| panic!("host {} has no ARP entry for {vip}", h + 1));
            let iface = lab.host_iface(h);
            let holders = lab.holders_on(&iface);
            assert!(
                v.starts_with(&vmac(1)[..15]) && holders.contains_key(&v),
                "host {} resolved {vip} to {v}, not a VMAC that {iface}'s group forwards ({holders:?})",
                h + 1
            );
            v
        })
        .collect()
}

/// The VLAN groups after a router died: each has one AVG, one standby
/// and its three VMACs forwarded by exactly one survivor each.
fn reconverged(lab: &mut Lab) -> bool {
    lab.lan_ifaces().iter().all(|i| {
        let h = lab.holders_on(i);
        lab.avgs_on(i).len() == 1
            && lab.with_state_on(i, "Standby").len() == 1
            && h.len() == 3
            && h.values().all(|v| v.len() == 1)
    })
}

/// Records and bounds each pinger's outage in `[from, to]`.
fn outages(
    scenario: &str,
    lab: &Lab,
    ps: &[Pinger],
    (event, from, to): (f64, f64, f64),
    bound: f64,
) {
    let mut worst = 0.0f64;
    let mut parts = Vec::new();
    for p in ps {
        let (at, o) = p.worst_gap(from, to);
        worst = worst.max(o);
        parts.push(format!(
            "h{} (VLAN {}) -> {} {:.0} ms at {:+.0}",
            p.host + 1,
            lab.host_vlan(p.host).unwrap_or(0),
            p.dst,
            o * 1000.0,
            (at - event) * 1000.0
        ));
    }
    record(
        scenario,
        &format!(
            "outage per pinger: {}; worst {:.0} ms, bound {:.0} ms",
            parts.join(", "),
            worst * 1000.0,
            bound * 1000.0
        ),
    );
    for p in ps {
        let o = p.outage(from, to);
        assert!(
            o <= bound,
            "{scenario}: host {} -> {} lost {:.0} ms > {:.0} ms",
            p.host + 1,
            p.dst,
            o * 1000.0,
            bound * 1000.0
        );
    }
}

#[test]
fn vlan_trunk_avg_crash() {
    let _g = serial();
    let s = "VLAN trunk AVG crash (kill -9)";
    let mut spec = LabSpec::new("e2e", "vlan", 3, 4);
    spec.vlans = VLANS.to_vec();
    let mut lab = Lab::start(glbpd(), spec);
    lab.wait_converged_all(Duration::from_secs(15));
    let ifaces = lab.lan_ifaces();
    for i in &ifaces {
        let (avg, sb, h) = (
            lab.avgs_on(i),
            lab.with_state_on(i, "Standby"),
            lab.holders_on(i),
        );
        record(
            s,
            &format!("{i}: AVG {avg:?}, standby {sb:?}, forwarders {h:?}"),
        );
    }

    // Each router shows one group per VLAN, named after its VLAN.
    for r in 0..lab.routers.len() {
        let doc = show_json(glbpd(), &lab.routers[r].ns.clone());
        let groups = doc["groups"].as_array().cloned().unwrap_or_default();
        for (j, id) in VLANS.iter().enumerate() {
            let port = format!("lan0.{id}");
            let g = groups.iter().find(|g| g["port"] == port.as_str());
            assert!(
                g.is_some_and(|g| g["vlan"] == *id && g["vip"] == lab.vip_of(j).as_str()),
                "router {}: no group on {port} with vlan {id}: {doc}",
                r + 1
            );
        }
    }

    // The server's replies go back through a router that survives.
    let v10 = format!("lan0.{}", VLANS[0]);
    let victim = lab.avgs_on(&v10)[0];
    let standby = lab.with_state_on(&v10, "Standby")[0];
    let via = (0..lab.routers.len())
        .rev()
        .find(|&i| i != victim)
        .expect("a survivor");
    lab.return_via(via);

    let vmacs = resolve_all(&mut lab);
    let hosts = lab.spec.hosts;
    for h in 0..hosts {
        let p = peer(&lab, h);
        let dst = lab.host_ip_of(p);
        assert!(
            lab.host_ping_to(h, &dst, TRIES),
            "host {} (VLAN {:?}) cannot reach host {} ({dst}, VLAN {:?})\n{}",
            h + 1,
            lab.host_vlan(h),
            p + 1,
            lab.host_vlan(p),
            lab.describe()
        );
    }
    record(
        s,
        &format!(
            "hosts' VMACs {vmacs:?}; every host reaches the server and a host on the other VLAN"
        ),
    );

    // Every host pings the server and its peer on the other VLAN.
    let mut ps: Vec<Pinger> = (0..hosts).map(|h| lab.pinger(h)).collect();
    for h in 0..hosts {
        let dst = lab.host_ip_of(peer(&lab, h));
        ps.push(lab.pinger_to(h, &dst));
    }
    lab.wait_flowing(&ps, 1.0, Duration::from_secs(10));

    let t0 = lab.signal_router(victim, Signal::SIGKILL);
    let ok = wait_for(Duration::from_secs(5), || {
        lab.avgs_on(&v10) == vec![standby] && reconverged(&mut lab)
    });
    assert!(
        ok,
        "r{} did not become AVG of {v10}, or a VLAN group did not take over r{}'s forwarder\n{}",
        standby + 1,
        victim + 1,
        lab.describe()
    );
    let avg_at = lab.routers[standby]
        .logged_at(&format!("{v10} Grp {GROUP} state Standby -> Active"), t0)
        .expect("takeover logged");
    lab.wait_flowing(&ps, 1.0, Duration::from_secs(5));
    let t1 = now();
    record(
        s,
        &format!(
            "r{} AVG of {v10} {:.0} ms after the kill of r{}",
            standby + 1,
            (avg_at - t0) * 1000.0,
            victim + 1
        ),
    );
    let after: Vec<_> = ifaces
        .iter()
        .map(|i| (i.clone(), lab.holders_on(i)))
        .collect();
    record(s, &format!("forwarders after the kill: {after:?}"));
    outages(s, &lab, &ps, (t0, t0 - 0.2, t1), HOLD + HELLO + ALLOWANCE);
    drop(ps);

    // The capture: every GLBP frame decodes cleanly and is tagged, each
    // VLAN carries its own group only, ARP never goes untagged.
    let (n, bad) = lab.check_capture();
    assert!(n > 10, "{s}: only {n} GLBP frames captured");
    assert!(
        bad.is_empty(),
        "{s}: tshark flags GLBP frames (number, expert, malformed):\n{}\npcap: {}",
        bad.join("\n"),
        lab.pcap.display()
    );
    let untagged = lab.capture_count("glbp&&!vlan");
    assert_eq!(
        untagged,
        0,
        "{s}: untagged GLBP frames; pcap {}",
        lab.pcap.display()
    );
    let untagged_arp = lab.capture_count("arp&&!vlan");
    assert_eq!(
        untagged_arp,
        0,
        "{s}: untagged ARP; pcap {}",
        lab.pcap.display()
    );
    let mut per_vlan = Vec::new();
    for (j, id) in VLANS.iter().enumerate() {
        let vip = lab.vip_of(j);
        let tagged = lab.capture_count(&format!("glbp&&vlan.id=={id}"));
        assert!(tagged > 10, "{s}: only {tagged} GLBP frames on VLAN {id}");
        let foreign =
            lab.capture_count(&format!("glbp.hello.virtualipv4=={vip}&&!(vlan.id=={id})"));
        assert_eq!(
            foreign,
            0,
            "{s}: hellos for {vip} outside VLAN {id}; pcap {}",
            lab.pcap.display()
        );
        let foreign_arp = lab.capture_count(&format!(
            "(arp.src.proto_ipv4=={vip}||arp.dst.proto_ipv4=={vip})&&!(vlan.id=={id})"
        ));
        assert_eq!(
            foreign_arp,
            0,
            "{s}: ARP for {vip} outside VLAN {id}; pcap {}",
            lab.pcap.display()
        );
        per_vlan.push(format!("{tagged} on VLAN {id}"));
    }
    record(
        s,
        &format!(
            "capture: {n} GLBP frames ({}), all tagged, all decode cleanly; no VIP's hello or ARP outside its VLAN",
            per_vlan.join(", ")
        ),
    );
}
