//! The binary boots on DPDK virtual devices, moves packets through a
//! worker, and exits 0 on SIGTERM leaving nothing behind.

mod instance;

use instance::*;
use std::time::Duration;

#[test]
fn boots_on_null_and_ring_and_stops_cleanly_on_sigterm() {
    let p = prefix("null");
    let cfg = format!(
        r#"{head}
[[port]]
name = "lan0"
device = "net_null0"
address = "10.0.0.2/24"
[[port]]
name = "up0"
device = "net_ring0"
address = "192.0.2.2/24"
"#,
        head = eal_header(&p, 1),
    );
    let mut g = Instance::start(&p, &cfg);
    assert!(
        runtime_dir(&p).exists(),
        "EAL runtime folder should exist while running"
    );
    // net_null delivers all-zero frames as fast as it can: ethertype 0.
    g.wait_log("port up0 (net_ring0) up", Duration::from_secs(5));
    let log = g.stop_clean();
    let c = final_counters(&log);
    let rx = c["rx_packets"][0].as_u64().unwrap();
    assert!(rx > 1000, "net_null should have delivered frames: {c}");
    assert_eq!(
        c["drops"]["unsupported"].as_u64().unwrap(),
        rx,
        "every zero frame is unsupported: {c}"
    );
    assert_eq!(c["forwarded"], 0, "{c}");
}

#[test]
fn forwards_a_pcap_through_a_worker() {
    let p = prefix("pcap");
    let dir = tempfile::tempdir().unwrap();
    let (inp, out) = (dir.path().join("in.pcap"), dir.path().join("out.pcap"));
    let lan_out = dir.path().join("lan-out.pcap");
    let lan_mac = [0x02, 0, 0, 0, 0, 0x01];
    let up_mac = [0x02, 0, 0, 0, 0, 0x02];
    let gw_mac = [0x02, 0, 0, 0, 0, 0xfe];
    let host = [0x02, 0, 0, 0, 0x10, 0x10];
    let good: Vec<Vec<u8>> = (0..10u8)
        .map(|i| {
            udp_frame(
                lan_mac,
                host,
                [10, 0, 0, 10],
                [198, 51, 100, i],
                64,
                &[i; 18],
            )
        })
        .collect();
    let mut frames = good.clone();
    // Connected destination without an ARP entry: unresolved.
    frames.push(udp_frame(
        lan_mac,
        host,
        [10, 0, 0, 10],
        [192, 0, 2, 77],
        64,
        &[0; 18],
    ));
    // Another router's MAC: not for us.
    frames.push(udp_frame(
        [0x02, 9, 9, 9, 9, 9],
        host,
        [10, 0, 0, 10],
        [198, 51, 100, 1],
        64,
        &[0; 18],
    ));
    // Broken IPv4 header checksum: malformed.
    let mut bad = good[0].clone();
    bad[24] ^= 0xff;
    frames.push(bad);
    // Truncated frame: malformed.
    frames.push(vec![0xff; 10]);
    // TTL 1: to the control lcore (time exceeded).
    frames.push(udp_frame(
        lan_mac,
        host,
        [10, 0, 0, 10],
        [198, 51, 100, 1],
        1,
        &[0; 18],
    ));
    // ARP request (broadcast): to the control lcore.
    let mut arp = vec![0xff; 6];
    arp.extend_from_slice(&host);
    arp.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    arp.extend_from_slice(&host);
    arp.extend_from_slice(&[10, 0, 0, 10, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2]);
    frames.push(arp);
    write_pcap(&inp, &frames);
    write_pcap(&dir.path().join("empty.pcap"), &[]);

    let cfg = format!(
        r#"{head}
[[port]]
name = "lan0"
device = "net_pcap0,rx_pcap={inp},tx_pcap={lan_out}"
address = "10.0.0.2/24"
mac = "02:00:00:00:00:01"
[[port]]
name = "up0"
device = "net_pcap1,rx_pcap={empty},tx_pcap={out}"
address = "192.0.2.2/24"
mac = "02:00:00:00:00:02"
[[route]]
prefix = "0.0.0.0/0"
via = "192.0.2.1"
[[neighbor]]
port = "up0"
ip = "192.0.2.1"
mac = "02:00:00:00:00:fe"
"#,
        head = eal_header(&p, 1),
        inp = inp.display(),
        out = out.display(),
        lan_out = lan_out.display(),
        empty = dir.path().join("empty.pcap").display(),
    );
    let mut g = Instance::start_with_env(&p, &cfg, "info,glbpd::runtime=debug");
    let n = frames.len();
    g.wait_log(&format!("\"rx_packets\":[{n},0]"), Duration::from_secs(20));
    // The worker counts the frame it cannot resolve before the control
    // lcore takes the request and sends the ARP: on a busy machine the
    // stop could otherwise come in between (seen once in CI).
    g.wait_log("\"arp_probes_sent\":1", Duration::from_secs(20));
    let log = g.stop_clean();

    let c = final_counters(&log);
    assert_eq!(c["rx_packets"][0], n, "{c}\n{log}");
    assert_eq!(c["forwarded"], 10, "{c}\n{log}");
    assert_eq!(c["punted"], 2, "{c}");
    assert_eq!(c["drops"]["unresolved"], 1, "{c}");
    assert_eq!(c["drops"]["not_for_us"], 1, "{c}");
    assert_eq!(c["drops"]["malformed"], 2, "{c}");

    // up0: the ten forwarded frames, and one ARP request for the
    // unresolved connected destination, from up0's address.
    let up: Vec<Vec<u8>> = read_pcap(&out);
    let (arps, sent): (Vec<_>, Vec<_>) = up.into_iter().partition(|f| f[12..14] == [0x08, 0x06]);
    // Retransmitted once a second, three times at most.
    assert!(
        (1..=3).contains(&arps.len()),
        "resolution requests: {arps:02x?}"
    );
    for a in &arps {
        assert_eq!(&a[0..6], &[0xff; 6], "broadcast");
        assert_eq!(&a[6..12], &up_mac);
        assert_eq!(&a[20..22], &[0, 1], "request");
        assert_eq!(&a[22..28], &up_mac, "sender MAC");
        assert_eq!(&a[28..32], &[192, 0, 2, 2], "sender IP = up0");
        assert_eq!(&a[38..42], &[192, 0, 2, 77], "target");
    }
    assert_eq!(
        c["tx_packets"][1].as_u64().unwrap(),
        10 + arps.len() as u64,
        "{c}"
    );
    assert_eq!(sent.len(), 10, "forwarded frames in {}", out.display());
    for (got, orig) in sent.iter().zip(&good) {
        let want = routed(orig, gw_mac, up_mac);
        assert_eq!(got, &want, "forwarded frame differs");
        assert_eq!(inet_checksum(&got[14..34]), 0, "IPv4 checksum must verify");
    }

    // lan0: the ARP reply for 10.0.0.2 and the ICMP time exceeded.
    let lan = read_pcap(&lan_out);
    assert_eq!(lan.len(), 2, "{lan:02x?}");
    let reply = lan
        .iter()
        .find(|f| f[12..14] == [0x08, 0x06])
        .expect("ARP reply");
    assert_eq!(&reply[0..6], &host);
    assert_eq!(&reply[6..12], &lan_mac);
    assert_eq!(&reply[20..22], &[0, 2], "reply");
    assert_eq!(&reply[22..28], &lan_mac);
    assert_eq!(&reply[28..32], &[10, 0, 0, 2]);
    assert_eq!(&reply[32..38], &host);
    assert_eq!(&reply[38..42], &[10, 0, 0, 10]);
    let te = lan
        .iter()
        .find(|f| f[12..14] == [0x08, 0x00])
        .expect("time exceeded");
    assert_eq!(&te[0..6], &host);
    assert_eq!(&te[26..30], &[10, 0, 0, 2], "from lan0's address");
    assert_eq!(&te[30..34], &[10, 0, 0, 10], "to the sender");
    assert_eq!(te[23], 1, "ICMP");
    assert_eq!((te[34], te[35]), (11, 0), "time exceeded in transit");
    assert_eq!(inet_checksum(&te[14..34]), 0);
    let ip_len = usize::from(u16::from_be_bytes([te[16], te[17]]));
    assert_eq!(inet_checksum(&te[34..14 + ip_len]), 0, "ICMP checksum");
    assert_eq!(
        &te[42..42 + 28],
        &frames[14][14..14 + 28],
        "quotes the IP header + 8 bytes"
    );
}

#[test]
fn two_workers_each_poll_their_own_queue_and_show_agrees_with_telemetry() {
    let p = prefix("mq");
    let cfg = format!(
        r#"{head}
[[port]]
name = "lan0"
device = "net_null0"
address = "10.0.0.2/24"
[[port]]
name = "up0"
device = "net_null1,no-rx=1"
address = "192.0.2.2/24"
[[group]]
port = "lan0"
id = 7
vip = "10.0.0.1"
hello_ms = 100
hold_ms = 400
"#,
        head = eal_header(&p, 2),
    );
    let mut g = Instance::start(&p, &cfg);
    // Alone on its LAN, the router becomes AVG of group 7 after its timers.
    let groups = poll(10, "AVG", || {
        let v = show_json(&p, "detail");
        (v["groups"][0]["state"] == "Active").then_some(v)
    });
    let grp = &groups["groups"][0];
    assert_eq!(grp["group"], 7);
    assert_eq!(grp["vip"], "10.0.0.1");
    assert_eq!(grp["hello_ms"], 100);
    assert_eq!(grp["forwarders"][0]["vmac"], "00:07:b4:00:07:01");
    assert_eq!(grp["forwarders"][0]["primary"], true);
    // Both workers received from their own RX queue of lan0.
    let stats = poll(10, "traffic on both workers", || {
        let v = show_json(&p, "stats");
        let lcores = v["stats"]["lcores"].as_array()?.clone();
        let workers: Vec<_> = lcores.iter().filter(|l| l["role"] == "worker").collect();
        (workers.len() == 2
            && workers
                .iter()
                .all(|w| w["counters"]["rx_packets"]["lan0"].as_u64() > Some(0)))
        .then_some(v)
    });
    assert_eq!(stats["ports"][0]["name"], "lan0");
    // dpdk-telemetry.py reports the same group.
    let out = std::process::Command::new("dpdk-telemetry.py")
        .args(["-f", &p])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"/glbp/groups,7\n")?;
            c.wait_with_output()
        })
        .expect("dpdk-telemetry.py (package dpdk)");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("/glbp/groups"))
        .unwrap_or_else(|| panic!("telemetry said: {text}"));
    let tel: serde_json::Value =
        serde_json::from_str(line.trim_start_matches("--> ")).expect("telemetry JSON");
    let tg = &tel["/glbp/groups"]["lan0/7"];
    assert_eq!(tg["state"], "Active", "{tel}");
    assert_eq!(tg["vip"], "10.0.0.1");
    assert_eq!(tg["forwarders/0/vmac"], "00:07:b4:00:07:01");
    assert_eq!(tg["priority"], grp["priority"]);
    let log = g.stop_clean();
    assert!(
        log.contains("%GLBP-6-STATECHANGE: lan0 Grp 7 state Speak -> Active"),
        "{log}"
    );
    assert!(
        log.contains("%GLBP-6-STATECHANGE: lan0 Grp 7 state Active -> Disabled")
            || log.contains("Active -> Init"),
        "resigns on SIGTERM:\n{log}"
    );
}
