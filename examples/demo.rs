//! `make run`: a GLBP LAN on this machine. Three glbpd routers and six
//! kernel hosts in network namespaces (the end-to-end tests' lab), an
//! upstream server, continuous host traffic, and a live view: which host
//! uses which gateway, and each router in the style of `show glbp brief`.
//! Ctrl-C tears everything down.
//!
//! ```text
//! demo [--glbpd PATH] [--seconds N] [--vlans | --ipv6]
//! ```
//! `--ipv6` (`make run-ipv6`): a dual-stack LAN. Beside IPv4 group 1, IPv6
//! group 46 (`vip = "autoconfig"`, fe80::7:b4ff:fe00:2e00) gives the hosts
//! their IPv6 router by router advertisements and spreads them over its
//! VMACs by Neighbor Discovery; the hosts also ping the server's IPv6
//! address (2001:db8:ff::100), which returns through IPv6 group 47 on the
//! uplinks.
//! `--vlans` (`make run-vlan`): the routers' LAN port is an 802.1Q trunk
//! carrying VLANs 10 and 20, a GLBP group 1 on each (same group number,
//! independent groups), hosts h1, h3, h5 on VLAN 10 and h2, h4, h6 on
//! VLAN 20.
//! Needs root (network namespaces). Each router's table is its own
//! `glbpd show brief`; which router holds a host's VMAC is read from the
//! routers' logs.

use glbpd_lab::*;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Cisco's dotted MAC notation (0007.b400.0101), as glbpd prints it.
fn dotted(mac: &str) -> String {
    mac.parse::<glbpd::wire::MacAddr>()
        .map_or_else(|_| mac.to_string(), glbpd::protocol::cisco_mac)
}

fn usage() -> ! {
    eprintln!("usage: demo [--glbpd PATH] [--seconds N] [--vlans | --ipv6]");
    std::process::exit(2);
}

fn main() {
    let mut glbpd: Option<PathBuf> = None;
    let mut seconds: Option<u64> = None;
    let mut vlans = false;
    let mut ipv6 = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--glbpd" => glbpd = Some(args.next().unwrap_or_else(|| usage()).into()),
            "--seconds" => {
                seconds = Some(
                    args.next()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or_else(|| usage()),
                )
            }
            "--vlans" => vlans = true,
            "--ipv6" => ipv6 = true,
            _ => usage(),
        }
    }
    // By default the glbpd built next to this example (target/*/glbpd).
    let glbpd = glbpd.unwrap_or_else(|| {
        let exe = std::env::current_exe().expect("own path");
        exe.parent()
            .and_then(|d| d.parent())
            .map(|d| d.join("glbpd"))
            .expect("target dir")
    });
    if !glbpd.exists() {
        eprintln!(
            "error: {} not found (build it: cargo build --release)",
            glbpd.display()
        );
        std::process::exit(1);
    }
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("error: the demo creates network namespaces: run it as root");
        std::process::exit(1);
    }

    let mut spec = LabSpec::new("demo", "run", 3, 6);
    // Timers a person can watch: a dead router's VMAC moves after 3 s.
    spec.hello_ms = 1000;
    spec.hold_ms = 3000;
    spec.redirect_s = 60;
    spec.timeout_s = 600;
    spec.forwarder_preempt_delay_s = 10;
    spec.capture = false;
    // GLBP on the uplink too: the server returns traffic through its own
    // virtual gateway, so any router may die.
    spec.uplink_group = true;
    if vlans && ipv6 {
        usage();
    }
    if vlans {
        spec.vlans = vec![10, 20];
    }
    if ipv6 {
        spec.v6_group = Some(46);
    }
    println!(
        "building the lab: 3 routers, 6 hosts, server {SERVER}{} ...",
        if vlans {
            ", LAN on VLANs 10 and 20 of a trunk".to_string()
        } else if ipv6 {
            format!(" and {SERVER6}, dual-stack LAN")
        } else {
            String::new()
        }
    );
    let mut lab = Lab::start(&glbpd, spec);
    println!("waiting for GLBP to elect an AVG and split the forwarders ...");
    if vlans {
        lab.wait_converged_all(Duration::from_secs(60));
    } else {
        lab.wait_converged(Duration::from_secs(60));
    }
    println!("hosts resolve their virtual IP one after the other ...");
    for h in 0..6 {
        if !lab.host_ping(h, TRIES) {
            eprintln!("warning: host h{} cannot reach the server yet", h + 1);
        }
    }
    if ipv6 {
        println!("hosts learn their IPv6 router from the AVG's advertisements ...");
        let learnt = wait_for(Duration::from_secs(60), || {
            (0..6).all(|h| {
                let a = nsx(&lab.host_ns(h), "ip -6 addr show dev eth0 scope global");
                a.contains(V6_PREFIX) && !a.contains("tentative")
            })
        });
        if !learnt {
            eprintln!("warning: not every host has an IPv6 address yet");
        }
    }
    let mut pingers: Vec<Pinger> = (0..6).map(|h| lab.pinger(h)).collect();
    if ipv6 {
        pingers.extend((0..6).map(|h| lab.pinger_to(h, SERVER6)));
    }
    let started = Instant::now();
    loop {
        std::thread::sleep(Duration::from_secs(1));
        print!("\x1b[2J\x1b[H{}", view(&mut lab, &pingers));
        if seconds.is_some_and(|s| started.elapsed() >= Duration::from_secs(s)) {
            break;
        }
    }
    drop(pingers);
    println!("tearing the lab down");
}

/// The routers holding IPv6 group 46's VMAC `mac` on the LAN, from their
/// logs.
fn by_vmac6(lab: &Lab, mac: &str) -> String {
    let holders: Vec<String> = (0..lab.routers.len())
        .filter(|&i| {
            let f = mac
                .rsplit(':')
                .next()
                .and_then(|x| u8::from_str_radix(x, 16).ok());
            f.is_some_and(|f| {
                lab.routers[i]
                    .vf_states_of("lan0", 46)
                    .get(&f)
                    .is_some_and(|s| s == "Active")
            })
        })
        .map(|i| format!("r{}", i + 1))
        .collect();
    if holders.is_empty() {
        "none".into()
    } else {
        holders.join("+")
    }
}

/// The screen: routers in `show glbp brief` style, then the hosts.
fn view(lab: &mut Lab, pingers: &[Pinger]) -> String {
    let ifaces = lab.lan_ifaces();
    let vips: Vec<String> = (0..ifaces.len()).map(|j| lab.vip_of(j)).collect();
    let mut out = format!(
        "glbpd demo: group {GROUP} on {}, virtual IP {}, server {SERVER}; Ctrl-C tears it all down\n\
         lab namespaces: {}-*, logs and configs in {}\n\n",
        ifaces.join(" and "),
        vips.join(" / "),
        lab.prefix,
        lab.dir.display()
    );
    // (interface, VMAC) -> router, for the hosts' table: on a trunk the
    // same VMAC is another group's on each VLAN.
    let mut by_vmac: BTreeMap<(String, String), String> = BTreeMap::new();
    for iface in &ifaces {
        for (v, rs) in &lab.holders_on(iface) {
            let names: Vec<String> = rs.iter().map(|i| format!("r{}", i + 1)).collect();
            by_vmac.insert((iface.clone(), v.clone()), names.join("+"));
        }
    }
    for i in 0..lab.routers.len() {
        let up = lab.routers[i].running();
        let r = &lab.routers[i];
        let pid = r.pid().map(|p| p.to_string()).unwrap_or_else(|| "-".into());
        out += &format!(
            "r{} ({}, pid {pid}, namespace {})\n",
            i + 1,
            if up { "running" } else { "stopped" },
            r.ns
        );
        if !up {
            out += "\n";
            continue;
        }
        // The router's own view, as an operator would ask for it.
        let shown = std::process::Command::new(&lab.glbpd)
            .args(["show", "brief", "--prefix", &r.ns])
            .output()
            .map(|o| {
                String::from_utf8_lossy(if o.status.success() {
                    &o.stdout
                } else {
                    &o.stderr
                })
                .into_owned()
            })
            .unwrap_or_else(|e| format!("glbpd show: {e}\n"));
        out += &shown;
        out += "\n";
    }
    out += &format!(
        "{:<5}{:<6}{:<13}{:<18}{:<9}{}\n",
        "Host", "VLAN", "IP", "VIP's MAC", "Gateway", "replies/s  (ping -i 0.02 to the server)"
    );
    let t = now();
    for p in pingers.iter().filter(|p| p.dst == SERVER) {
        let h = p.host;
        let mac = lab.host_vmac(h).unwrap_or_else(|| "-".into());
        let gw = by_vmac
            .get(&(lab.host_iface(h), mac.clone()))
            .cloned()
            .unwrap_or_else(|| "none".into());
        let rate = p.replies().iter().filter(|&&x| x > t - 1.0).count();
        out += &format!(
            "h{:<4}{:<6}{:<13}{:<18}{:<9}{}\n",
            h + 1,
            lab.host_vlan(h).map_or("-".to_string(), |v| v.to_string()),
            lab.host_ip_of(h),
            dotted(&mac),
            gw,
            rate
        );
    }
    if pingers.iter().any(|p| p.dst == SERVER6) {
        out += &format!(
            "\n{:<5}{:<26}{:<18}{:<9}{}\n",
            "Host",
            "IPv6",
            "router's MAC",
            "Gateway",
            "replies/s  (ping -i 0.02 to the server's IPv6)"
        );
        for p in pingers.iter().filter(|p| p.dst == SERVER6) {
            let h = p.host;
            let mac = lab.host_vmac_of(h, V6_VIP).unwrap_or_else(|| "-".into());
            let gw = by_vmac6(lab, &mac);
            let addr = nsx(&lab.host_ns(h), "ip -6 -o addr show dev eth0 scope global")
                .split_whitespace()
                .nth(3)
                .and_then(|a| a.split('/').next().map(String::from))
                .unwrap_or_else(|| "-".into());
            let rate = p.replies().iter().filter(|&&x| x > t - 1.0).count();
            out += &format!(
                "h{:<4}{:<26}{:<18}{:<9}{}\n",
                h + 1,
                addr,
                dotted(&mac),
                gw,
                rate
            );
        }
    }
    let r1 = lab.routers[0]
        .pid()
        .map(|p| p.to_string())
        .unwrap_or_default();
    out += &format!(
        "\ntry, in another terminal:  kill -9 {r1}   (r1 dies: other routers take its VMACs over after hold = 3 s)\n\
         \x20                          ip netns exec {}-lan ip link set r2 nomaster   (partition r2)\n",
        lab.prefix
    );
    out
}
