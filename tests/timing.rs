//! The control plane's timing on a real instance (DPDK virtual devices):
//! a stalled process shows up as hello lateness and a `%GLBP-4-LATE` line,
//! punted frames are timed by class, `show stats`, telemetry and Prometheus
//! report the same histograms, the threads glbpd starts are pinned to the
//! control lcore's CPU, and the Prometheus endpoint still answers a scrape
//! within a second while 200 idle connections are open.

mod instance;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use instance::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

/// `(thread name, Cpus_allowed_list)` of every thread of `pid`.
fn threads(pid: i32) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(format!("/proc/{pid}/task")).expect("task dir") {
        let status = std::fs::read_to_string(e.unwrap().path().join("status")).unwrap_or_default();
        let field = |k: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        out.push((field("Name:"), field("Cpus_allowed_list:")));
    }
    out
}

fn scrape(addr: SocketAddr) -> String {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).expect("the scrape is answered");
    body
}

#[test]
fn a_stall_shows_in_the_timing_histograms_everywhere() {
    let p = prefix("timing");
    let dir = tempfile::tempdir().unwrap();
    let inp = dir.path().join("in.pcap");
    let lan_mac = [0x02, 0, 0, 0, 0, 0x01];
    let host = [0x02, 0, 0, 0, 0x10, 0x10];
    // Punts of two classes: an ARP request for the router's address and a
    // packet whose TTL expires here.
    let mut arp = vec![0xff; 6];
    arp.extend_from_slice(&host);
    arp.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    arp.extend_from_slice(&host);
    arp.extend_from_slice(&[10, 0, 0, 10, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2]);
    let ttl1 = udp_frame(
        lan_mac,
        host,
        [10, 0, 0, 10],
        [198, 51, 100, 1],
        1,
        &[0; 18],
    );
    write_pcap(&inp, &[arp.clone(), ttl1.clone(), arp, ttl1]);
    let prom = free_port();
    let cfg = format!(
        r#"{head}
[ops]
prometheus = "{prom}"
[[port]]
name = "lan0"
device = "net_pcap0,rx_pcap={inp},tx_pcap={out}"
address = "10.0.0.2/24"
mac = "02:00:00:00:00:01"
[[port]]
name = "up0"
device = "net_null0,no-rx=1"
address = "192.0.2.2/24"
[[route]]
prefix = "0.0.0.0/0"
via = "192.0.2.1"
[[group]]
port = "lan0"
id = 1
vip = "10.0.0.1"
hello_ms = 100
hold_ms = 400
"#,
        head = eal_header(&p, 1),
        inp = inp.display(),
        out = dir.path().join("out.pcap").display(),
    );
    let mut inst = Instance::start(&p, &cfg);
    let pid = inst.pid();

    // Hellos go out on time while nothing disturbs the process.
    let before = poll(10, "20 hellos timed", || {
        let st = show_json(&p, "stats");
        let w = st["stats"]["timing"]["hello_lateness"]["lan0"]["since_start"].clone();
        (w["count"].as_u64()? >= 20).then_some(w)
    });
    assert!(
        before["max_us"].as_u64().unwrap() < 300_000,
        "no stall yet: {before}"
    );

    // The process stops for 500 ms: the hello due during the stop goes out
    // at least 500 - 100 (one hello time) ms late.
    kill(Pid::from_raw(pid), Signal::SIGSTOP).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    kill(Pid::from_raw(pid), Signal::SIGCONT).unwrap();
    let st = poll(10, "the stall in the histogram", || {
        let st = show_json(&p, "stats");
        let max =
            st["stats"]["timing"]["hello_lateness"]["lan0"]["since_start"]["max_us"].as_u64()?;
        (max >= 300_000).then_some(st)
    });
    let t = &st["stats"]["timing"];
    let late = &t["hello_lateness"]["lan0"];
    assert!(
        late["last_minute"]["max_us"].as_u64().unwrap() >= 300_000,
        "{late}"
    );
    assert!(
        late["since_start"]["p50_us"].as_u64().unwrap() < 50_000,
        "{late}"
    );
    inst.wait_log(
        "%GLBP-4-LATE: lan0 Grp 1 hello sent",
        Duration::from_secs(5),
    );

    // Punted frames were timed by class; the control loop by round.
    for class in ["arp", "ttl_expired"] {
        let c = t["punt_latency"][class]["since_start"]["count"]
            .as_u64()
            .unwrap();
        assert!(c >= 2, "{class}: {}", t["punt_latency"]);
    }
    assert_eq!(t["punt_latency"]["glbp"]["since_start"]["count"], 0);
    assert!(t["control_loop"]["since_start"]["count"].as_u64().unwrap() > 100);

    // The text view shows the same section.
    let (_, text, _) = glbpd(&["show", "stats", "--prefix", &p]);
    for needle in [
        "timing (us)",
        "hello lateness lan0",
        "punt wait arp",
        "control loop round",
    ] {
        assert!(text.contains(needle), "{needle} in:\n{text}");
    }

    // Telemetry serves it as /glbp/timing.
    let mut c = Command::new("dpdk-telemetry.py")
        .args(["-f", &p])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("dpdk-telemetry.py");
    writeln!(c.stdin.take().unwrap(), "/glbp/timing").unwrap();
    let out = String::from_utf8_lossy(&c.wait_with_output().unwrap().stdout).into_owned();
    let line = out
        .lines()
        .find(|l| l.contains("/glbp/timing"))
        .unwrap_or_else(|| panic!("telemetry: {out}"));
    let tel: Value = serde_json::from_str(line.trim_start_matches("--> ")).unwrap();
    let tel_max = tel["/glbp/timing"]["hello_lateness"]["lan0/since_start/max_us"]
        .as_u64()
        .unwrap_or_else(|| panic!("{tel}"));
    assert!(tel_max >= 300_000, "{tel}");

    // Prometheus: a scrape is answered within a second while 200 idle
    // connections are open, and carries the summaries.
    let idle: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(prom).expect("idle connection"))
        .collect();
    let t0 = Instant::now();
    let body = scrape(prom);
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "scrape took {:?}",
        t0.elapsed()
    );
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    for needle in [
        "glbpd_hello_lateness_seconds{port=\"lan0\",quantile=\"0.99\"}",
        "glbpd_hello_lateness_seconds_count{port=\"lan0\"}",
        "glbpd_punt_latency_seconds{class=\"arp\",quantile=\"0.5\"}",
        "glbpd_control_loop_seconds_sum",
    ] {
        assert!(body.contains(needle), "{needle} in:\n{body}");
    }
    drop(idle);

    // Threads: glbpd's own (Prometheus) run on the control lcore's CPU,
    // which is the main thread's; a worker lcore runs elsewhere.
    let ts = threads(pid);
    let main_cpus = ts
        .iter()
        .find(|(n, _)| n == "glbpd")
        .map(|(_, c)| c.clone())
        .unwrap_or_else(|| panic!("main thread in {ts:?}"));
    let control_cpu = main_cpus.split([',', '-']).next().unwrap().to_string();
    let prom_thread = ts
        .iter()
        .find(|(n, _)| n.starts_with("glbpd-prometheu"))
        .unwrap_or_else(|| panic!("Prometheus thread in {ts:?}"));
    assert_eq!(prom_thread.1, control_cpu, "threads: {ts:?}");
    if let Some((_, worker)) = ts.iter().find(|(n, _)| n.starts_with("lcore-worker")) {
        if !main_cpus.contains('-') && !worker.contains('-') {
            assert_ne!(worker, &control_cpu, "threads: {ts:?}");
        }
    }
    inst.wait_log("ops threads on CPU", Duration::from_secs(1));
    inst.stop_clean();
}
