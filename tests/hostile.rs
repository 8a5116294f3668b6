//! A hostile operator or LAN against real instances on DPDK virtual
//! devices (`--no-pci --no-huge --no-shconf`, a unique prefix each): a
//! second instance on a live prefix, reloads through the instance's own
//! telemetry socket (a changed, a broken and an unreadable file), and GLBP
//! that carries our own address.

mod instance;

use glbpd::wire::glbp::frame::FrameBuilder;
use glbpd::wire::glbp::{GlbpRepr, HelloRepr, VgState};
use glbpd::wire::MacAddr;
use instance::*;
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One port on `net_null`, one group alone on it (it becomes AVG and
/// sends a hello every 100 ms).
fn config(prefix: &str, priority: u8) -> String {
    format!(
        r#"{head}
[[port]]
name = "lan0"
device = "net_null0,no-rx=1"
address = "10.0.0.2/24"
[[group]]
port = "lan0"
id = 5
vip = "10.0.0.1"
priority = {priority}
hello_ms = 100
hold_ms = 400
"#,
        head = eal_header(prefix, 1),
    )
}

fn group5(prefix: &str) -> Value {
    let v = show_json(prefix, "detail");
    v["groups"][0].clone()
}

fn hellos_out(prefix: &str) -> u64 {
    group5(prefix)["counters"]["hellos_out"]
        .as_u64()
        .expect("hellos_out")
}

/// Waits for `child` up to `secs`; kills it and panics when it does not
/// exit. Returns (exit code, stdout, stderr).
fn wait_child(mut child: Child, secs: u64, what: &str) -> (Option<i32>, String, String) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "{what} did not exit within {secs} s:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn spawn_glbpd(args: &[&str]) -> Child {
    Command::new(GLBPD)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn glbpd")
}

#[test]
fn a_second_instance_on_a_live_prefix_exits_2_and_touches_nothing() {
    let p = prefix("twice");
    let mut first = Instance::start(&p, &config(&p, 100));
    poll(10, "the first instance's status", || {
        try_show_json(&p, "brief").ok()
    });
    let dir = runtime_dir(&p);
    let lock_before = std::fs::read_to_string(dir.join("glbpd.lock")).expect("lock file");
    assert_eq!(lock_before.trim(), first.pid().to_string());

    let other = tempfile::tempdir().unwrap();
    let path = other.path().join("glbpd.toml");
    std::fs::write(&path, config(&p, 200)).unwrap();
    let second = spawn_glbpd(&["run", "-c", path.to_str().unwrap()]);
    let (code, _, err) = wait_child(second, 30, "the second instance");
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "another glbpd (pid {}) runs with this prefix",
            first.pid()
        )),
        "names the holder: {err}"
    );
    assert!(!err.contains("starting EAL"), "EAL must not start: {err}");

    // The first one is untouched: its folder, lock, socket and status.
    for f in ["glbpd.lock", "dpdk_telemetry.v2", "glbpd-status.json"] {
        assert!(dir.join(f).exists(), "{f} gone from {}", dir.display());
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("glbpd.lock")).unwrap(),
        lock_before
    );
    // Still answering, with its own configuration (priority 100, not 200),
    // and still sending hellos.
    let h = hellos_out(&p);
    poll(5, "more hellos from the first instance", || {
        (hellos_out(&p) > h).then_some(())
    });
    assert_eq!(group5(&p)["priority"], 100);
    let (st, out, err) = glbpd(&["show", "brief", "--prefix", &p]);
    assert!(st.success() && out.contains("lan0"), "{out}{err}");

    first.stop_clean();
    assert!(!dir.exists(), "the holder removes its folder when it stops");
    let (st, _, err) = glbpd(&["show", "--prefix", &p]);
    assert_eq!(st.code(), Some(1));
    assert!(err.contains("no running glbpd"), "{err}");
}

#[test]
fn reload_goes_through_the_instances_socket() {
    let p = prefix("reload");
    let mut g = Instance::start(&p, &config(&p, 100));
    let cfg = g.path("glbpd.toml");
    poll(10, "status", || try_show_json(&p, "detail").ok());

    // A changed knob applies in place.
    std::fs::write(&cfg, config(&p, 150)).unwrap();
    let (st, out, err) = glbpd(&["reload", "--prefix", &p]);
    assert!(st.success(), "{out}{err}");
    assert_eq!(
        out.trim(),
        "reloaded: groups: 0 added, 1 changed, 0 removed, 0 unchanged; routes unchanged; \
         static neighbours unchanged"
    );
    assert_eq!(group5(&p)["priority"], 150);

    // A broken file is refused with its location; the running
    // configuration stays.
    std::fs::write(
        &cfg,
        config(&p, 150).replace("hold_ms = 400", "hold_ms = 50"),
    )
    .unwrap();
    let (st, out, err) = glbpd(&["reload", "--prefix", &p]);
    assert_eq!(st.code(), Some(1), "{out}{err}");
    assert!(
        err.starts_with("reload refused: ")
            && err.contains(&format!(
                "{}:18:11: group[0].hold_ms: 50 must be greater than hello_ms (100)",
                cfg.display()
            )),
        "{err}"
    );
    assert_eq!(group5(&p)["priority"], 150);
    assert_eq!(group5(&p)["hold_ms"], 400);

    // The command itself, as any telemetry client sends it.
    std::fs::write(&cfg, config(&p, 120)).unwrap();
    let sock = runtime_dir(&p).join("dpdk_telemetry.v2");
    let tel =
        glbpd::runtime::ops::telemetry_client::Telemetry::connect(&sock, Duration::from_secs(15))
            .expect("telemetry socket");
    assert_eq!(
        tel.pid,
        Some(g.pid() as u32),
        "the socket is the instance's"
    );
    let v = tel.query("/glbp/reload").expect("/glbp/reload");
    assert_eq!(v["ok"], "true", "{v}");
    assert!(
        glbpd::runtime::ops::telemetry_client::joined_text(&v["message"]).contains("1 changed"),
        "{v}"
    );
    assert_eq!(group5(&p)["priority"], 120);

    // SIGHUP takes the same path.
    std::fs::write(&cfg, config(&p, 130)).unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(g.pid()),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    poll(10, "priority 130 after SIGHUP", || {
        (group5(&p)["priority"] == 130).then_some(())
    });
    let log = g.stop_clean();
    assert!(log.contains("%SYS-3-CONFIG: reload of"), "{log}");
}

#[test]
fn a_reload_stuck_on_a_fifo_fails_in_time_and_the_control_loop_runs_on() {
    let p = prefix("fifo");
    let mut g = Instance::start(&p, &config(&p, 100));
    let cfg = g.path("glbpd.toml");
    poll(10, "AVG", || {
        (group5(&p)["state"] == "Active").then_some(())
    });

    std::fs::remove_file(&cfg).unwrap();
    nix::unistd::mkfifo(&cfg, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let started = Instant::now();
    let mut reload = spawn_glbpd(&["reload", "--prefix", &p]);

    // While the read is stuck, hellos go on (the control loop is free).
    let h = hellos_out(&p);
    poll(3, "hellos while the read is stuck", || {
        (hellos_out(&p) >= h + 5).then_some(())
    });
    assert!(
        reload.try_wait().unwrap().is_none(),
        "the reload should still be waiting for the read"
    );
    let (code, out, err) = wait_child(reload, 20, "glbpd reload");
    let took = started.elapsed();
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        err.contains(&format!(
            "reading {} did not finish within 5 s",
            cfg.display()
        )),
        "{err}"
    );
    assert!(
        (Duration::from_millis(4500)..Duration::from_secs(12)).contains(&took),
        "verdict after {took:?}"
    );

    // A second reload while the read is still stuck is refused at once.
    let t = Instant::now();
    let (st, _, err) = glbpd(&["reload", "--prefix", &p]);
    assert_eq!(st.code(), Some(1), "{err}");
    assert!(err.contains("has not finished after"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert_eq!(group5(&p)["priority"], 100, "running configuration kept");

    // Unstick the read (its result is ignored), put a file back: reloads
    // work again.
    {
        use std::io::Write;
        let mut w = std::fs::OpenOptions::new().write(true).open(&cfg).unwrap();
        w.write_all(config(&p, 200).as_bytes()).unwrap();
    }
    g.wait_log("its result is ignored", Duration::from_secs(10));
    assert_eq!(group5(&p)["priority"], 100, "a late read is never applied");
    std::fs::remove_file(&cfg).unwrap();
    std::fs::write(&cfg, config(&p, 110)).unwrap();
    let (st, out, err) = glbpd(&["reload", "--prefix", &p]);
    assert!(st.success(), "{out}{err}");
    assert_eq!(group5(&p)["priority"], 110);
    g.stop_clean();
}

fn hello_from(eth_src: MacAddr, ip: Ipv4Addr, owner: MacAddr) -> Vec<u8> {
    let msg = GlbpRepr {
        group: 5,
        owner,
        auth: None,
        nonce: None,
        hello: Some(HelloRepr {
            state: VgState::Active,
            priority: 100,
            hello_ms: 100,
            hold_ms: 400,
            redirect_s: 600,
            timeout_s: 14400,
            vip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        }),
        forwarders: vec![],
    };
    FrameBuilder::multicast_v4(eth_src, ip)
        .build_vec(&msg, &glbpd::wire::glbp::auth::AuthKey::None)
        .expect("frame")
}

#[test]
fn glbp_from_our_own_address_is_counted_and_logged() {
    let p = prefix("dupaddr");
    let dir = tempfile::tempdir().unwrap();
    let (inp, out) = (dir.path().join("in.pcap"), dir.path().join("out.pcap"));
    let ours = MacAddr([2, 0, 0, 0, 0, 1]);
    let frames = vec![
        // Another router with our address.
        hello_from(
            MacAddr([2, 0, 0, 0, 0, 9]),
            Ipv4Addr::new(10, 0, 0, 2),
            MacAddr([2, 0, 0, 0, 0, 9]),
        ),
        // Another address with our MAC as owner ID.
        hello_from(
            MacAddr([2, 0, 0, 0, 0, 10]),
            Ipv4Addr::new(10, 0, 0, 3),
            ours,
        ),
        // Our MAC as Ethernet source.
        hello_from(
            ours,
            Ipv4Addr::new(10, 0, 0, 4),
            MacAddr([2, 0, 0, 0, 0, 11]),
        ),
        // A genuine peer.
        hello_from(
            MacAddr([2, 0, 0, 0, 0, 12]),
            Ipv4Addr::new(10, 0, 0, 5),
            MacAddr([2, 0, 0, 0, 0, 12]),
        ),
    ];
    write_pcap(&inp, &frames);
    let cfg = format!(
        r#"{head}
[[port]]
name = "lan0"
device = "net_pcap0,rx_pcap={inp},tx_pcap={out}"
address = "10.0.0.2/24"
mac = "02:00:00:00:00:01"
[[group]]
port = "lan0"
id = 5
vip = "10.0.0.1"
hello_ms = 100
hold_ms = 400
"#,
        head = eal_header(&p, 1),
        inp = inp.display(),
        out = out.display(),
    );
    let mut g = Instance::start(&p, &cfg);
    let stats = poll(10, "the own-address count", || {
        let v = try_show_json(&p, "stats").ok()?;
        (v["stats"]["total"]["drops"]["glbp_own_address"] == 3).then_some(v)
    });
    assert_eq!(stats["stats"]["total"]["drops"]["glbp_own_address"], 3);
    let (st, text, _) = glbpd(&["show", "stats", "--prefix", &p]);
    assert!(
        st.success() && text.contains(" glbp_own_address 3"),
        "{text}"
    );
    // The genuine peer's hello reached the engine.
    poll(5, "the peer's hello", || {
        (group5(&p)["counters"]["hellos_in"] == 1).then_some(())
    });
    let log = g.stop_clean();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("DUPADDR")).collect();
    assert_eq!(lines.len(), 1, "once per 10 s per port: {lines:?}");
    assert!(
        lines[0].ends_with(
            "%GLBP-4-DUPADDR: Duplicate address 10.0.0.2 on lan0, sourced by 02:00:00:00:00:09"
        ),
        "{lines:?}"
    );
    let c = final_counters(&log);
    assert_eq!(c["drops"]["glbp_own_address"], 3, "{c}");
}

#[test]
fn a_symlink_planted_as_the_runtime_folder_is_refused() {
    // The runtime folder must be a real folder: a symbolic link planted in
    // its place is refused, and nothing behind it is touched.
    let p = prefix("symlink");
    let target = tempfile::tempdir().unwrap();
    let canary = target.path().join("canary");
    std::fs::write(&canary, "still here").unwrap();
    let dir = runtime_dir(&p);
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target.path(), &dir).unwrap();
    let cfgdir = tempfile::tempdir().unwrap();
    let path = cfgdir.path().join("glbpd.toml");
    std::fs::write(&path, config(&p, 100)).unwrap();
    let (code, _, err) = wait_child(
        spawn_glbpd(&["run", "-c", path.to_str().unwrap()]),
        30,
        "glbpd run",
    );
    let _ = std::fs::remove_file(&dir);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("is not a folder"), "{err}");
    assert!(!err.contains("starting EAL"), "{err}");
    assert_eq!(std::fs::read_to_string(&canary).unwrap(), "still here");
    assert!(!Path::new(&target.path().join("glbpd.lock")).exists());
}
