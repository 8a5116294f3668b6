//! Latency probe: sends timestamped IPv4/UDP frames into a forwarder over
//! one `net_memif` port and receives them back on another, recording the
//! round trip (TSC of this process at send and at receive) in an
//! hdrhistogram. Prints one JSON line with the percentiles in ns.
//!
//! ```text
//! bench-latency --in SOCK --out SOCK [--rate PPS] [--seconds S] [--warmup S]
//!               [--dst-mac MAC] [--prefix P] [--lcore N] [--no-huge]
//! ```
//!
//! `--in` is the memif socket of the forwarder's ingress port, `--out` that
//! of its egress port; the forwarder is the memif server on both. Frames go
//! from 10.128.0.1 to 198.18.1.1 (glbpd's and l3fwd's route), to `--dst-mac`
//! (the forwarder's port MAC or a VMAC). The payload carries a magic word,
//! a sequence number and the send TSC. Runs on one EAL lcore, busy-polling.

use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use glbpd::dpdk::{self, Burst, Eal, EthDev, Mempool, PortConf};
use glbpd::wire::ethernet;
use glbpd::wire::MacAddr;
use hdrhistogram::Histogram;

const MAGIC: u32 = 0x6c61_7431; // "lat1"
                                // 64-byte frames; the payload (from PAYLOAD) holds magic (4) + sequence
                                // (4) + TSC (8) = 16 of its 18 bytes.
#[path = "frames.rs"]
mod frames;
use frames::{FRAME_LEN, PAYLOAD};

struct Opts {
    sock_in: String,
    sock_out: String,
    rate: u64,
    seconds: f64,
    warmup: f64,
    dst_mac: MacAddr,
    prefix: String,
    lcore: u32,
    huge: bool,
}

fn parse_args() -> Result<Opts, String> {
    let mut o = Opts {
        sock_in: String::new(),
        sock_out: String::new(),
        rate: 100_000,
        seconds: 5.0,
        warmup: 1.0,
        dst_mac: MacAddr([2, 0, 0, 0, 0, 1]),
        prefix: format!("bench-latency-{}", std::process::id()),
        lcore: 0,
        huge: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--in" => o.sock_in = val()?,
            "--out" => o.sock_out = val()?,
            "--rate" => o.rate = val()?.parse().map_err(|e| format!("--rate: {e}"))?,
            "--seconds" => o.seconds = val()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--warmup" => o.warmup = val()?.parse().map_err(|e| format!("--warmup: {e}"))?,
            "--dst-mac" => o.dst_mac = val()?.parse().map_err(|e| format!("--dst-mac: {e:?}"))?,
            "--prefix" => o.prefix = val()?,
            "--lcore" => o.lcore = val()?.parse().map_err(|e| format!("--lcore: {e}"))?,
            "--no-huge" => o.huge = false,
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    if o.sock_in.is_empty() || o.sock_out.is_empty() {
        return Err(
            "usage: bench-latency --in SOCK --out SOCK [--rate PPS] [--seconds S] \
                    [--warmup S] [--dst-mac MAC] [--prefix P] [--lcore N] [--no-huge]"
                .into(),
        );
    }
    if o.rate == 0 {
        return Err("--rate must be > 0".into());
    }
    Ok(o)
}

fn template(dst_mac: MacAddr) -> [u8; FRAME_LEN] {
    // UDP checksum 0 (none): the payload changes per probe.
    frames::udp(
        &frames::Udp {
            src_mac: MacAddr([0x02, 0x10, 0, 0, 0, 1]),
            dst_mac,
            src: Ipv4Addr::new(10, 128, 0, 1),
            dst: Ipv4Addr::new(198, 18, 1, 1),
            src_port: 1024,
            ident: 0,
        },
        false,
    )
}

fn start_port(name: &str, pool: &Arc<Mempool>) -> Result<EthDev, String> {
    let id = EthDev::id_by_name(name).map_err(|e| format!("{name}: {e}"))?;
    let conf = PortConf {
        rx_queues: 1,
        tx_queues: 1,
        rx_desc: 1024,
        tx_desc: 1024,
        rss: false,
        mtu: None,
        rx_ip_cksum: false,
        vlan: false,
    };
    EthDev::start(id, name, &conf, pool.clone()).map_err(|e| format!("{name}: {e}"))
}

fn run(o: &Opts) -> Result<String, String> {
    let mut args = vec![
        "-l".to_string(),
        o.lcore.to_string(),
        "--no-pci".into(),
        "--file-prefix".into(),
        o.prefix.clone(),
        "--vdev".into(),
        format!("net_memif0,role=client,socket={},id=0", o.sock_in),
        "--vdev".into(),
        format!("net_memif1,role=client,socket={},id=0", o.sock_out),
    ];
    if !o.huge {
        args.extend(["--no-huge", "-m", "256", "--no-shconf"].map(String::from));
    }
    let eal = Eal::init(&args).map_err(|e| e.to_string())?;
    let pool = Arc::new(Mempool::new("lat_pool", 8191, 256, 0, -1).map_err(|e| e.to_string())?);
    let tx_port = start_port("net_memif0", &pool)?;
    let rx_port = start_port("net_memif1", &pool)?;
    let mut txq = tx_port.tx_queue(0).map_err(|e| e.to_string())?;
    let mut rxq = rx_port.rx_queue(0).map_err(|e| e.to_string())?;
    // Both memif links come up once the forwarder accepts the connections.
    let deadline = Instant::now() + Duration::from_secs(10);
    while ![&tx_port, &rx_port]
        .iter()
        .all(|p| p.link().is_ok_and(|l| l.up))
    {
        if Instant::now() > deadline {
            return Err("memif links did not come up in 10 s".into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let hz = dpdk::tsc_hz();
    let gap = hz / o.rate;
    let tmpl = template(o.dst_mac);
    let mut hist = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3)
        .map_err(|e| format!("histogram: {e}"))?;
    let (mut sent, mut received, mut stray) = (0u64, 0u64, 0u64);
    let start = dpdk::tsc();
    let warm_end = start + (o.warmup * hz as f64) as u64;
    let end = warm_end + (o.seconds * hz as f64) as u64;
    // Frames still in flight when sending stops get this long to return.
    let drain_end = end + hz / 10;
    let mut next = start;
    let mut seq = 0u32;
    let mut out = Burst::new();
    let mut inb = Burst::new();
    let mut first_counted_seq = None;
    loop {
        let now = dpdk::tsc();
        if now >= drain_end {
            break;
        }
        if now >= next && now < end {
            next += gap;
            if let Some(mut m) = pool.alloc() {
                if m.write(&tmpl) {
                    let d = m.data_mut();
                    d[PAYLOAD..PAYLOAD + 4].copy_from_slice(&MAGIC.to_be_bytes());
                    d[PAYLOAD + 4..PAYLOAD + 8].copy_from_slice(&seq.to_be_bytes());
                    d[PAYLOAD + 8..PAYLOAD + 16].copy_from_slice(&dpdk::tsc().to_le_bytes());
                    if now >= warm_end && first_counted_seq.is_none() {
                        first_counted_seq = Some(seq);
                    }
                    seq = seq.wrapping_add(1);
                    if out.push(m).is_ok() {
                        txq.tx(&mut out);
                        if first_counted_seq.is_some() {
                            sent += u64::from(out.is_empty());
                        }
                        // A refused frame is freed (counted as lost).
                        drop(out.drain());
                    }
                }
            }
        }
        if rxq.rx(&mut inb) == 0 {
            continue;
        }
        let t = dpdk::tsc();
        for m in inb.drain() {
            let d = m.data();
            let ok = d.len() >= PAYLOAD + 16
                && d[PAYLOAD..PAYLOAD + 4] == MAGIC.to_be_bytes()
                && d[12..14] == ethernet::ETHERTYPE_IPV4.to_be_bytes();
            if !ok {
                stray += 1;
                continue;
            }
            let s = u32::from_be_bytes(d[PAYLOAD + 4..PAYLOAD + 8].try_into().unwrap_or([0; 4]));
            let ts = u64::from_le_bytes(d[PAYLOAD + 8..PAYLOAD + 16].try_into().unwrap_or([0; 8]));
            if first_counted_seq.is_some_and(|f| s >= f) {
                received += 1;
                let ns = (t.saturating_sub(ts) as u128 * 1_000_000_000 / u128::from(hz)) as u64;
                hist.saturating_record(ns.max(1));
            }
        }
    }
    drop(out);
    drop(inb);
    let q = |p: f64| hist.value_at_quantile(p);
    let line = serde_json::json!({
        "rate_pps": o.rate,
        "seconds": o.seconds,
        "sent": sent,
        "received": received,
        "lost": sent.saturating_sub(received),
        "stray": stray,
        "ns": {
            "min": hist.min(), "p50": q(0.5), "p90": q(0.9), "p99": q(0.99),
            "p99.9": q(0.999), "p99.99": q(0.9999), "max": hist.max(),
            "mean": hist.mean().round() as u64,
        },
    });
    drop(rxq);
    drop(txq);
    drop(tx_port);
    drop(rx_port);
    drop(pool);
    drop(eal);
    Ok(line.to_string())
}

fn main() -> ExitCode {
    let o = match frames::or_usage(parse_args()) {
        Ok(o) => o,
        Err(code) => return code,
    };
    match run(&o) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench-latency: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn template_is_a_valid_64_byte_udp_frame() {
        let f = super::template(glbpd::wire::MacAddr([2, 0, 0, 0, 0, 1]));
        let eth = glbpd::wire::ethernet::Frame::new_checked(&f[..]).unwrap();
        let ip = glbpd::wire::ipv4::Packet::new_checked(eth.payload()).unwrap();
        assert!(ip.verify_checksum());
        assert!(glbpd::wire::udp::Packet::new_checked(ip.payload()).is_ok());
        assert_eq!(f.len(), 60);
    }
}
