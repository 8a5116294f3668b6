//! Benchmark traffic as pcap files, for `net_pcap` with `infinite_rx=1`.
//!
//! ```text
//! bench-pcap --out F --kind udp|arp|mix [--hosts N] [--groups G] [--frames N]
//!            [--arp-share S] [--dst vmac|port] [--port-mac M] [--vlan V]
//! ```
//!
//! Host `i` (0-based) has MAC `02:10:<i+1 as 4 bytes>` and IPv4
//! `10.128.0.0 + i + 1`. Group `k` (ids `0..G`) has the virtual IP
//! `10.64.0.0 + k + 1` and forwarder 1's VMAC `0007.b400.kk01`.
//! - `udp`: IPv4/UDP 64-byte frames (60 bytes without the FCS) from host
//!   `i` to `198.18.1.(i % 250 + 1)` (l3fwd's route to its port 1), sent to
//!   the VMAC of group `i % G` (`--dst vmac`, the default) or to the port MAC.
//! - `arp`: one broadcast ARP request per host for the VIP of group `i % G`.
//! - `mix`: `udp` frames with a share `S` (default 0.2) of `arp` frames,
//!   evenly interleaved.
//!
//! With `--vlan V` every frame carries an 802.1Q tag for VLAN V (64 bytes
//! then, 68 with the FCS); with `--vlan V1,V2,...` frame j is on the
//! (j mod n)-th of them (bursts mixing VLANs).
//!
//! The file holds `--frames` frames (default: `hosts` for arp and mix, 1024
//! for udp), cycling over the hosts.

use std::fs::File;
use std::io::BufWriter;
use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::Duration;

use glbpd::protocol::vmac;
use glbpd::wire::arp::{ArpOperation, ArpRepr};
use glbpd::wire::ethernet::{self, EthernetRepr};
use glbpd::wire::MacAddr;
use pcap_file::pcap::{PcapPacket, PcapWriter};

#[path = "frames.rs"]
mod frames;
use frames::FRAME_LEN;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Udp,
    Arp,
    Mix,
}

struct Opts {
    out: String,
    kind: Kind,
    hosts: u32,
    groups: u16,
    frames: Option<u32>,
    arp_share: f64,
    to_port_mac: bool,
    port_mac: MacAddr,
    vlan: Vec<u16>,
}

fn usage() -> String {
    "usage: bench-pcap --out FILE --kind udp|arp|mix [--hosts N] [--groups G] \
     [--frames N] [--arp-share S] [--dst vmac|port] [--port-mac MAC] [--vlan V]"
        .to_string()
}

fn parse_args() -> Result<Opts, String> {
    let mut o = Opts {
        out: String::new(),
        kind: Kind::Udp,
        hosts: 1024,
        groups: 1,
        frames: None,
        arp_share: 0.2,
        to_port_mac: false,
        port_mac: MacAddr([2, 0, 0, 0, 0, 1]),
        vlan: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--out" => o.out = val()?,
            "--kind" => {
                o.kind = match val()?.as_str() {
                    "udp" => Kind::Udp,
                    "arp" => Kind::Arp,
                    "mix" => Kind::Mix,
                    k => return Err(format!("--kind {k}: expected udp, arp or mix")),
                }
            }
            "--hosts" => o.hosts = val()?.parse().map_err(|e| format!("--hosts: {e}"))?,
            "--groups" => o.groups = val()?.parse().map_err(|e| format!("--groups: {e}"))?,
            "--frames" => o.frames = Some(val()?.parse().map_err(|e| format!("--frames: {e}"))?),
            "--arp-share" => {
                o.arp_share = val()?.parse().map_err(|e| format!("--arp-share: {e}"))?
            }
            "--dst" => {
                o.to_port_mac = match val()?.as_str() {
                    "vmac" => false,
                    "port" => true,
                    d => return Err(format!("--dst {d}: expected vmac or port")),
                }
            }
            "--port-mac" => {
                o.port_mac = val()?.parse().map_err(|e| format!("--port-mac: {e:?}"))?
            }
            "--vlan" => {
                for v in val()?.split(',') {
                    let v: u16 = v.parse().map_err(|e| format!("--vlan: {e}"))?;
                    if !(1..=4094).contains(&v) {
                        return Err("--vlan ids must be 1..=4094".into());
                    }
                    o.vlan.push(v);
                }
            }
            "-h" | "--help" => return Err(usage()),
            _ => return Err(format!("unknown argument {a}\n{}", usage())),
        }
    }
    if o.out.is_empty() {
        return Err(usage());
    }
    if o.hosts == 0 || o.hosts > 0x3f_ffff {
        return Err("--hosts must be 1..=4194303".into());
    }
    if o.groups == 0 || o.groups > 1024 {
        return Err("--groups must be 1..=1024".into());
    }
    if !(0.0..=1.0).contains(&o.arp_share) {
        return Err("--arp-share must be within 0..=1".into());
    }
    Ok(o)
}

fn host_mac(i: u32) -> MacAddr {
    let b = (i + 1).to_be_bytes();
    MacAddr([0x02, 0x10, b[0], b[1], b[2], b[3]])
}

fn host_ip(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 128, 0, 0)) + i + 1)
}

/// The virtual IP of group `k`, as the harness configures glbpd.
fn vip(k: u16) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 64, 0, 0)) + u32::from(k) + 1)
}

fn udp_frame(o: &Opts, i: u32) -> [u8; FRAME_LEN] {
    let group = (i % u32::from(o.groups)) as u16;
    frames::udp(
        &frames::Udp {
            src_mac: host_mac(i),
            dst_mac: if o.to_port_mac {
                o.port_mac
            } else {
                vmac(group, 1)
            },
            src: host_ip(i),
            dst: Ipv4Addr::new(198, 18, 1, (i % 250 + 1) as u8),
            src_port: 1024 + (i % 50000) as u16,
            ident: i as u16,
        },
        true,
    )
}

fn arp_frame(o: &Opts, i: u32) -> [u8; FRAME_LEN] {
    let mut f = [0u8; FRAME_LEN];
    let group = (i % u32::from(o.groups)) as u16;
    let eth = EthernetRepr {
        src: host_mac(i),
        dst: MacAddr::BROADCAST,
        vlan_tci: None,
        ethertype: ethernet::ETHERTYPE_ARP,
    };
    let a = ArpRepr {
        operation: ArpOperation::Request,
        sender_hw_addr: host_mac(i),
        sender_ip: host_ip(i),
        target_hw_addr: MacAddr::ZERO,
        target_ip: vip(group),
    };
    let e = eth.emit(&mut f).expect("60 bytes hold the Ethernet header");
    a.emit(&mut f[e..]).expect("room for ARP");
    f
}

fn main() -> ExitCode {
    let o = match frames::or_usage(parse_args()) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let frames = o.frames.unwrap_or(match o.kind {
        Kind::Udp => 1024,
        Kind::Arp | Kind::Mix => o.hosts,
    });
    let file = match File::create(&o.out) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{}: {e}", o.out);
            return ExitCode::FAILURE;
        }
    };
    let mut w = match PcapWriter::new(BufWriter::new(file)) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("{}: {e}", o.out);
            return ExitCode::FAILURE;
        }
    };
    let (mut n_arp, mut n_udp) = (0u32, 0u32);
    for j in 0..frames {
        let host = j % o.hosts;
        let is_arp = match o.kind {
            Kind::Udp => false,
            Kind::Arp => true,
            // Evenly interleaved: frame j is ARP when the running share
            // crosses an integer.
            Kind::Mix => {
                ((f64::from(j) + 1.0) * o.arp_share).floor() > (f64::from(j) * o.arp_share).floor()
            }
        };
        let f = if is_arp {
            n_arp += 1;
            arp_frame(&o, host)
        } else {
            n_udp += 1;
            udp_frame(&o, host)
        };
        let f: Vec<u8> = match o.vlan.get(j as usize % o.vlan.len().max(1)) {
            None => f.to_vec(),
            Some(v) => [&f[..12], &[0x81, 0x00], &v.to_be_bytes()[..], &f[12..]].concat(),
        };
        let ts = Duration::from_micros(u64::from(j));
        if let Err(e) = w.write_packet(&PcapPacket::new(ts, f.len() as u32, &f)) {
            eprintln!("{}: {e}", o.out);
            return ExitCode::FAILURE;
        }
    }
    println!(
        "{}: {frames} frames ({n_udp} udp, {n_arp} arp), {} hosts, {} groups",
        o.out, o.hosts, o.groups
    );
    ExitCode::SUCCESS
}
