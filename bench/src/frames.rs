//! Frames shared by the benchmark helpers (`bench-pcap`, `bench-latency`).

use std::net::Ipv4Addr;

use glbpd::wire::ethernet::{self, EthernetRepr};
use glbpd::wire::ipv4::{self, Ipv4Repr};
use glbpd::wire::udp::{self, UdpRepr};
use glbpd::wire::MacAddr;

/// Frame length without the FCS: 64 bytes on the wire.
pub const FRAME_LEN: usize = 60;
/// Offset of the UDP payload: Ethernet 14 + IPv4 20 + UDP 8.
pub const PAYLOAD: usize = 42;

/// The addresses of one IPv4/UDP frame.
pub struct Udp {
    pub src_mac: MacAddr,
    pub dst_mac: MacAddr,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub src_port: u16,
    pub ident: u16,
}

/// A 64-byte IPv4/UDP frame (TTL 64, port 9) with a zero payload; the UDP
/// checksum is filled when `checksum` is set, else left 0 (none).
pub fn udp(u: &Udp, checksum: bool) -> [u8; FRAME_LEN] {
    let mut f = [0u8; FRAME_LEN];
    let eth = EthernetRepr {
        src: u.src_mac,
        dst: u.dst_mac,
        vlan_tci: None,
        ethertype: ethernet::ETHERTYPE_IPV4,
    };
    let payload = FRAME_LEN - PAYLOAD;
    let ip = Ipv4Repr {
        src: u.src,
        dst: u.dst,
        protocol: ipv4::PROTO_UDP,
        payload_len: 8 + payload,
        ttl: 64,
        tos: 0,
        ident: u.ident,
        dont_frag: false,
    };
    let e = eth.emit(&mut f).expect("60 bytes hold the Ethernet header");
    let h = ip.emit(&mut f[e..]).expect("room for the IPv4 header");
    UdpRepr {
        src_port: u.src_port,
        dst_port: 9,
    }
    .emit(&mut f[e + h..], payload)
    .expect("room for UDP");
    if checksum {
        let mut p = udp::Packet::new_checked(&mut f[e + h..]).expect("valid UDP");
        p.fill_checksum(u.src.into(), u.dst.into());
    }
    f
}

/// Parsed options, or the error printed and exit status 2.
pub fn or_usage<T>(r: Result<T, String>) -> Result<T, std::process::ExitCode> {
    r.map_err(|e| {
        eprintln!("{e}");
        std::process::ExitCode::from(2)
    })
}
