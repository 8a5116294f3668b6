//! Operations against a running group of glbpd routers in network
//! namespaces (the lab of `tests/lab`): `glbpd show` text and JSON
//! and `dpdk-telemetry.py` agree; a reload with an unchanged configuration
//! changes no state and loses no traffic; a broken one is refused and
//! changes nothing; a changed knob applies in place. Needs root.

use glbpd_lab::*;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const HELLO: f64 = 0.1;
/// One ping interval and scheduling on a shared 2-vCPU VM (see e2e.rs).
const ALLOWANCE: f64 = 0.15;

fn glbpd() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_glbpd"))
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(glbpd()).args(args).output().expect("glbpd");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn show_json(prefix: &str, view: &str) -> Value {
    show_view_json(glbpd(), prefix, view)
}

fn telemetry(prefix: &str, cmd: &str) -> Value {
    let mut c = Command::new("dpdk-telemetry.py")
        .args(["-f", prefix])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("dpdk-telemetry.py (package dpdk)");
    {
        use std::io::Write;
        writeln!(c.stdin.take().unwrap(), "{cmd}").unwrap();
    }
    let out = c.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains(cmd.split(',').next().unwrap()))
        .unwrap_or_else(|| panic!("telemetry {cmd}: {text}"));
    serde_json::from_str(line.trim_start_matches("--> ")).unwrap_or_else(|e| panic!("{e}: {line}"))
}

/// DPDK 22.11 telemetry has no boolean or null: they come as strings.
fn tel_eq(tel: &Value, show: &Value) -> bool {
    match show {
        Value::Bool(_) | Value::Null => tel.as_str() == Some(show.to_string().as_str()),
        other => tel == other,
    }
}

#[test]
fn show_telemetry_and_reload_on_a_running_group() {
    let mut spec = LabSpec::new("e2e", "ops", 2, 2);
    spec.capture = false;
    let mut lab = Lab::start(glbpd(), spec);
    lab.wait_converged(Duration::from_secs(15));
    for h in 0..2 {
        assert!(
            lab.host_ping(h, TRIES),
            "host {} reaches the server\n{}",
            h + 1,
            lab.describe()
        );
    }

    // show --json, show brief --json and telemetry agree on every router.
    for r in 0..2 {
        let prefix = lab.routers[r].ns.clone();
        let detail = show_json(&prefix, "detail");
        let brief = show_json(&prefix, "brief");
        let tel = telemetry(&prefix, "/glbp/groups");
        let tel_brief = telemetry(&prefix, "/glbp/brief");
        let g = &detail["groups"][0];
        let tg = &tel["/glbp/groups"]["lan0/1"];
        assert_eq!(tg["state"], g["state"], "router {r}: {tel}");
        for k in [
            "priority",
            "vip",
            "hello_ms",
            "hold_ms",
            "redirect_s",
            "timeout_s",
            "load_balancing",
        ] {
            assert_eq!(tg[k], g[k], "router {r}: {k}");
        }
        assert_eq!(tg["active_router/ip"], g["active_router"]["ip"]);
        let fwds = g["forwarders"].as_array().unwrap();
        assert_eq!(fwds.len(), 2, "two members, two forwarders: {g}");
        for (i, f) in fwds.iter().enumerate() {
            for k in ["vmac", "state", "primary", "number"] {
                let t = &tg[format!("forwarders/{i}/{k}")];
                assert!(
                    tel_eq(t, &f[k]),
                    "router {r} forwarder {i} {k}: {t} vs {}",
                    f[k]
                );
            }
        }
        // Brief: one gateway row and one row per forwarder, both ways.
        let rows = brief["brief"].as_array().unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0]["state"], g["state"]);
        for row in &rows[1..] {
            let key = format!("lan0/1/{}", row["fwd"]);
            assert_eq!(
                tel_brief["/glbp/brief"][&key]["state"], row["state"],
                "{key}"
            );
            assert_eq!(tel_brief["/glbp/brief"][&key]["address"], row["address"]);
        }
        // The text views render the same state.
        let (ok, text, _) = run(&["show", "brief", "--prefix", &prefix]);
        assert!(ok);
        assert!(
            text.lines()
                .nth(1)
                .unwrap()
                .contains(g["state"].as_str().unwrap()),
            "{text}"
        );
        let (ok, text, _) = run(&["show", "--prefix", &prefix]);
        assert!(ok);
        assert!(text.starts_with("lan0 - Group 1\n"), "{text}");
        assert!(
            text.contains(&format!("  State is {}", g["state"].as_str().unwrap())),
            "{text}"
        );
    }
    // The AVG answered both hosts: the client counts add up.
    let avg = lab.avgs()[0];
    let g = show_json(&lab.routers[avg].ns.clone(), "detail");
    let clients: u64 = g["groups"][0]["forwarders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["clients"].as_u64().unwrap())
        .sum();
    assert!(clients >= 2, "client selection counts {g}");

    // Reload with an unchanged file: no transition, no lost traffic.
    let pingers: Vec<Pinger> = (0..2).map(|h| lab.pinger(h)).collect();
    lab.wait_flowing(&pingers, 1.0, Duration::from_secs(10));

    // `show neighbors`: a router that forwards the hosts' pings has the
    // server resolved by ARP on its uplink, in JSON and as text.
    let listed: Vec<(String, Value)> = lab
        .routers
        .iter()
        .map(|r| (r.ns.clone(), show_json(&r.ns, "neighbors")))
        .collect();
    let server = listed.iter().find_map(|(ns, t)| {
        let v4 = t["ipv4"].as_array()?;
        let n = v4.iter().find(|n| n["ip"] == SERVER)?;
        Some((ns.clone(), n.clone()))
    });
    let Some((ns, n)) = server else {
        panic!("no router lists {SERVER}: {listed:?}");
    };
    assert_eq!(n["interface"], "up0", "{n}");
    assert!(
        matches!(n["state"].as_str(), Some("reachable" | "probe")) && n["mac"].is_string(),
        "{n}"
    );
    let (ok, text, err) = run(&["show", "neighbors", "--prefix", &ns]);
    assert!(ok, "{err}");
    let row: Vec<&str> = text
        .lines()
        .find(|l| l.contains(&format!(" {SERVER} ")))
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(row.first(), Some(&"up0"), "{text}");
    assert!(text.starts_with("IPv4 neighbors: "), "{text}");

    let prefix = lab.routers[avg].ns.clone();
    let t0 = now();
    let (ok, out, err) = run(&["reload", "--prefix", &prefix]);
    assert!(ok, "reload: {out}{err}");
    assert!(out.contains("1 unchanged"), "{out}");
    let (ok, _, err) = run(&["reload", "--prefix", &prefix]);
    assert!(ok, "second reload: {err}");
    std::thread::sleep(Duration::from_secs(1));
    let t1 = now();
    assert!(
        lab.routers[avg].transitions(t0).is_empty(),
        "{:?}",
        lab.routers[avg].transitions(t0)
    );
    for p in &pingers {
        let lost = p.outage(t0, t1);
        eprintln!(
            "reload unchanged: host {} worst gap {:.0} ms",
            p.host + 1,
            lost * 1000.0
        );
        assert!(
            lost <= HELLO + ALLOWANCE,
            "host {} lost {:.0} ms across a no-op reload",
            p.host + 1,
            lost * 1000.0
        );
    }

    // A broken file is refused with file, line and key; nothing changes.
    let config = lab.routers[avg].config.clone();
    let good = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        good.replace("hello_ms = 100", "hello_ms = \"fast\""),
    )
    .unwrap();
    let before = show_json(&prefix, "detail");
    let (ok, out, err) = run(&["reload", "--prefix", &prefix]);
    assert!(!ok, "a broken config must be refused: {out}");
    assert!(
        err.contains(&format!("{}:", config.display())) && err.contains("hello_ms"),
        "{err}"
    );
    std::fs::write(&config, &good).unwrap();
    let after = show_json(&prefix, "detail");
    assert_eq!(after["groups"][0]["state"], before["groups"][0]["state"]);
    assert_eq!(after["groups"][0]["hello_ms"], 100);
    assert!(lab.routers[avg].transitions(t0).is_empty());

    // A changed knob applies in place: the standby's priority.
    let sb = 1 - avg;
    let sb_prefix = lab.routers[sb].ns.clone();
    let sb_config = lab.routers[sb].config.clone();
    let text = std::fs::read_to_string(&sb_config).unwrap();
    let old_pri = show_json(&sb_prefix, "detail")["groups"][0]["priority"]
        .as_u64()
        .unwrap();
    let new_text = text.replace(&format!("priority = {old_pri}"), "priority = 42");
    assert_ne!(text, new_text, "the router config names its priority");
    std::fs::write(&sb_config, new_text).unwrap();
    let (ok, out, err) = run(&["reload", "--prefix", &sb_prefix]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("1 changed"), "{out}");
    assert_eq!(show_json(&sb_prefix, "detail")["groups"][0]["priority"], 42);
    assert_eq!(lab.avgs(), vec![avg], "no preemption: the AVG stays");
    drop(pingers);
}

/// A peer whose hellos stop for a while shows it in the other router's
/// arrival gaps (`show stats` timing), against its advertised hello time.
#[test]
fn a_stalled_peer_shows_in_the_hello_arrival_gaps() {
    let mut spec = LabSpec::new("e2e", "gaps", 2, 1);
    spec.capture = false;
    let mut lab = Lab::start(glbpd(), spec);
    lab.wait_converged(Duration::from_secs(15));
    let watcher = lab.routers[0].ns.clone();
    let peer_ip = lab.routers[1].lan_ip.clone();
    let gaps = |lab: &Lab| -> Option<Value> {
        let st = show_json(&lab.routers[0].ns, "stats");
        st["stats"]["timing"]["hello_arrival"]
            .as_array()?
            .iter()
            .find(|p| p["peer"] == peer_ip.as_str() && p["port"] == "lan0")
            .cloned()
    };
    assert!(
        wait_for(Duration::from_secs(5), || gaps(&lab)
            .is_some_and(
                |g| g["gaps"]["since_start"]["count"].as_u64() >= Some(10)
            )),
        "{watcher} times the hellos of {peer_ip}"
    );
    let before = gaps(&lab).unwrap();
    assert_eq!(before["hello_ms"], 100, "{before}");
    let p50 = before["gaps"]["since_start"]["p50_us"].as_u64().unwrap();
    assert!(
        (50_000..=150_000).contains(&p50),
        "steady gaps near the 100 ms hello time: {before}"
    );

    // Stop router 2 for 250 ms (below the 400 ms hold: no failover).
    let pid = nix::unistd::Pid::from_raw(lab.routers[1].pid().unwrap() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    std::thread::sleep(Duration::from_millis(250));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    let mut seen = Value::Null;
    assert!(
        wait_for(Duration::from_secs(5), || {
            seen = gaps(&lab).unwrap_or_default();
            seen["gaps"]["last_minute"]["max_us"].as_u64() >= Some(250_000)
        }),
        "a gap of at least the 250 ms stop: {seen}"
    );
    let (ok, text, _) = run(&["show", "stats", "--prefix", &watcher]);
    assert!(ok);
    assert!(
        text.contains(&format!("hello gaps lan0 {peer_ip} (100 ms)")),
        "{text}"
    );
}
