//! `make run`: a GLBP LAN on this machine. Three glbpd routers and six
//! kernel hosts in network namespaces (the end-to-end tests' lab), an
//! upstream server, continuous host traffic, and a live view: which host
//! uses which gateway, and each router in the style of `show glbp brief`.
//! Ctrl-C tears everything down.
//!
//! ```text
//! demo [--glbpd PATH] [--seconds N] [--vlans]
//! ```
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
    eprintln!("usage: demo [--glbpd PATH] [--seconds N] [--vlans]");
    std::process::exit(2);
}

fn main() {
    let mut glbpd: Option<PathBuf> = None;
    let mut seconds: Option<u64> = None;
    let mut vlans = false;
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
    if vlans {
        spec.vlans = vec![10, 20];
    }
    println!(
        "building the lab: 3 routers, 6 hosts, server {SERVER}{} ...",
        if vlans {
            ", LAN on VLANs 10 and 20 of a trunk"
        } else {
            ""
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
    let pingers: Vec<Pinger> = (0..6).map(|h| lab.pinger(h)).collect();
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
    for p in pingers {
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
