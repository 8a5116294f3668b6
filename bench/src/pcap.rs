//! Benchmark traffic as pcap files, for `net_pcap` with `infinite_rx=1`.
//!
//! ```text
//! bench-pcap --out F --kind udp|arp|mix|udp6|ns [--hosts N] [--groups G] [--frames N]
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
//! - `udp6`: IPv6/UDP frames (78 bytes, hop limit 64) from host `i` at
//!   `2001:db8:10::<i+1>` to `2001:200:0:1::(i % 250 + 1)` (l3fwd's IPv6
//!   route to its port 1), sent to forwarder 1's VMAC of IPv6 group
//!   `512 + i % G` or to the port MAC.
//! - `ns`: one neighbour solicitation per host (from its link-local
//!   address, with its link-layer address) for the virtual link-local
//!   address of IPv6 group `512 + i % G`, to its solicited-node group.
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
    Udp6,
    Ns,
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
    "usage: bench-pcap --out FILE --kind udp|arp|mix|udp6|ns [--hosts N] [--groups G] \
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
                    "udp6" => Kind::Udp6,
                    "ns" => Kind::Ns,
                    k => return Err(format!("--kind {k}: expected udp, arp, mix, udp6 or ns")),
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

/// The first IPv6 group id (IPv6 groups `512 + k`, beside IPv4 groups `k`).
const V6_GROUPS: u16 = 512;

/// An IPv6 frame: `payload` (next header `nh`) from `src` to `dst`.
fn ipv6_frame(
    src_mac: MacAddr,
    dst_mac: MacAddr,
    ip: &glbpd::wire::ipv6::Ipv6Repr,
    emit: impl FnOnce(&mut [u8]),
) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 40 + ip.payload_len];
    EthernetRepr {
        src: src_mac,
        dst: dst_mac,
        vlan_tci: None,
        ethertype: ethernet::ETHERTYPE_IPV6,
    }
    .emit(&mut f)
    .expect("room for Ethernet");
    ip.emit(&mut f[14..]).expect("room for IPv6");
    emit(&mut f[54..]);
    f
}

fn udp6_frame(o: &Opts, i: u32) -> Vec<u8> {
    use glbpd::wire::udp::{self, UdpRepr};
    let group = V6_GROUPS + (i % u32::from(o.groups)) as u16;
    let b = (i + 1).to_be_bytes();
    let src = std::net::Ipv6Addr::from([
        0x20, 0x01, 0x0d, 0xb8, 0, 0x10, 0, 0, 0, 0, 0, 0, b[0], b[1], b[2], b[3],
    ]);
    let dst = std::net::Ipv6Addr::new(0x2001, 0x200, 0, 1, 0, 0, 0, (i % 250 + 1) as u16);
    let ip = glbpd::wire::ipv6::Ipv6Repr {
        src,
        dst,
        next_header: glbpd::wire::ipv4::PROTO_UDP,
        payload_len: 24,
        hop_limit: 64,
        traffic_class: 0,
    };
    let dst_mac = if o.to_port_mac {
        o.port_mac
    } else {
        vmac(group, 1)
    };
    ipv6_frame(host_mac(i), dst_mac, &ip, |b| {
        UdpRepr {
            src_port: 1024 + (i % 50000) as u16,
            dst_port: 9,
        }
        .emit(b, 16)
        .expect("room for UDP");
        let mut p = udp::Packet::new_checked(b).expect("valid UDP");
        p.fill_checksum(src.into(), dst.into());
    })
}

fn ns_frame(o: &Opts, i: u32) -> Vec<u8> {
    use glbpd::wire::icmpv6::{self, Icmpv6Repr};
    let group = V6_GROUPS + (i % u32::from(o.groups)) as u16;
    let target = glbpd::wire::glbp::virtual_link_local(group).expect("group id <= 1023");
    let src = host_mac(i).link_local();
    let dst = icmpv6::solicited_node(target);
    let msg = Icmpv6Repr::NeighborSolicit {
        target,
        lladdr: Some(host_mac(i)),
    };
    let ip = glbpd::wire::ipv6::Ipv6Repr {
        src,
        dst,
        next_header: icmpv6::PROTO_ICMPV6,
        payload_len: msg.buffer_len(),
        hop_limit: 255,
        traffic_class: 0,
    };
    ipv6_frame(host_mac(i), icmpv6::multicast_mac(dst), &ip, |b| {
        msg.emit(src, dst, b).expect("room for the solicitation");
    })
}

fn main() -> ExitCode {
    let o = match frames::or_usage(parse_args()) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let frames = o.frames.unwrap_or(match o.kind {
        Kind::Udp | Kind::Udp6 => 1024,
        Kind::Arp | Kind::Mix | Kind::Ns => o.hosts,
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
            Kind::Udp | Kind::Udp6 => false,
            Kind::Arp | Kind::Ns => true,
            // Evenly interleaved: frame j is ARP when the running share
            // crosses an integer.
            Kind::Mix => {
                ((f64::from(j) + 1.0) * o.arp_share).floor() > (f64::from(j) * o.arp_share).floor()
            }
        };
        let f: Vec<u8> = match (is_arp, o.kind) {
            (true, Kind::Ns) => ns_frame(&o, host),
            (true, _) => arp_frame(&o, host).to_vec(),
            (false, Kind::Udp6) => udp6_frame(&o, host),
            (false, _) => udp_frame(&o, host).to_vec(),
        };
        if is_arp {
            n_arp += 1;
        } else {
            n_udp += 1;
        }
        let f: Vec<u8> = match o.vlan.get(j as usize % o.vlan.len().max(1)) {
            None => f,
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
