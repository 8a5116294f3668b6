//! Harness bodies shared by the `fuzz/` targets and the no-panic property
//! tests: each runs one parser and every accessor of its checked view over
//! arbitrary bytes, and checks that whatever parses re-emits to something
//! that parses to the same value. They panic only on a bug.

use super::glbp::{self, frame::ReceivedFrame, GlbpRepr};
use super::{arp, ethernet, icmpv4, ipv4, ipv6, udp};
use std::net::{IpAddr, Ipv4Addr};

/// Ethernet / 802.1Q.
pub fn ethernet(data: &[u8]) {
    if let Ok(f) = ethernet::Frame::new_checked(data) {
        let _ = (
            f.dst_addr(),
            f.src_addr(),
            f.vlan_tci(),
            f.ethertype(),
            f.payload(),
        );
        let repr = ethernet::EthernetRepr::parse(&f).expect("checked frame parses");
        let mut buf = [0u8; 18];
        let n = repr.emit(&mut buf).expect("fits");
        assert_eq!(&buf[..n], &data[..n]);
    }
}

/// ARP, including the in-place reply rewrite.
pub fn arp(data: &[u8]) {
    if let Ok(p) = arp::Packet::new_checked(data) {
        let repr = arp::ArpRepr::parse(&p).expect("checked packet parses");
        let mut buf = [0u8; arp::PACKET_LEN];
        repr.emit(&mut buf).expect("fits");
        assert_eq!(&buf[..], &data[..arp::PACKET_LEN]);
        let mut copy = data.to_vec();
        arp::Packet::new_checked(&mut copy[..])
            .expect("same bytes")
            .make_reply(repr.target_hw_addr);
    }
}

/// IPv4, including the TTL decrement.
pub fn ipv4(data: &[u8]) {
    if let Ok(p) = ipv4::Packet::new_checked(data) {
        let _ = (
            p.tos(),
            p.ident(),
            p.dont_frag(),
            p.is_fragment(),
            p.ttl(),
            p.protocol(),
        );
        let _ = (p.src_addr(), p.dst_addr(), p.payload(), p.verify_checksum());
        let valid = p.verify_checksum();
        let mut copy = data.to_vec();
        let mut m = ipv4::Packet::new_checked(&mut copy[..]).expect("same bytes");
        if m.decrement_ttl().is_some() {
            assert_eq!(
                m.verify_checksum(),
                valid,
                "TTL decrement changed checksum validity"
            );
        }
        let _ = m.payload_mut();
        if let Ok(repr) = ipv4::Ipv4Repr::parse(&p) {
            let mut buf = vec![0u8; repr.header_len() + repr.payload_len];
            repr.emit(&mut buf).expect("fits");
            assert_eq!(
                ipv4::Ipv4Repr::parse(&ipv4::Packet::new_checked(&buf[..]).expect("emitted")),
                Ok(repr)
            );
        }
    }
    if let Ok(p) = ipv6::Packet::new_checked(data) {
        let _ = (
            p.traffic_class(),
            p.next_header(),
            p.hop_limit(),
            p.src_addr(),
            p.dst_addr(),
            p.payload(),
        );
        let _ = ipv6::Ipv6Repr::parse(&p).expect("checked packet parses");
    }
}

/// UDP over an arbitrary IPv4 pseudo-header.
pub fn udp(data: &[u8]) {
    let (src, dst) = (
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        IpAddr::V4(Ipv4Addr::new(224, 0, 0, 102)),
    );
    if let Ok(p) = udp::Packet::new_checked(data) {
        let _ = (
            p.src_port(),
            p.dst_port(),
            p.len(),
            p.is_empty(),
            p.checksum(),
            p.payload(),
        );
        let _ = p.verify_checksum(src, IpAddr::V6(std::net::Ipv6Addr::LOCALHOST));
        let _ = udp::UdpRepr::parse(&p, src, dst);
        let mut copy = data.to_vec();
        let mut m = udp::Packet::new_checked(&mut copy[..]).expect("same bytes");
        m.fill_checksum(src, dst);
        assert!(m.verify_checksum(src, dst));
    }
}

/// ICMPv4.
pub fn icmpv4(data: &[u8]) {
    if let Ok(p) = icmpv4::Packet::new_checked(data) {
        let _ = (
            p.msg_type(),
            p.msg_code(),
            p.echo_ident(),
            p.echo_seq_no(),
            p.data(),
        );
        if let Ok(repr) = icmpv4::Icmpv4Repr::parse(&p) {
            let mut buf = vec![0u8; repr.buffer_len()];
            repr.emit(&mut buf).expect("fits");
            // The checksum may legitimately differ (0x0000 vs 0xffff).
            assert_eq!((&buf[..2], &buf[4..]), (&data[..2], &data[4..]));
            assert!(icmpv4::Packet::new_checked(&buf[..])
                .expect("emitted")
                .verify_checksum());
        }
    }
}

/// GLBP message: parse, and re-emit anything that parses.
pub fn glbp(data: &[u8]) {
    let Ok(p) = glbp::Packet::new_checked(data) else {
        return;
    };
    let _ = (p.version(), p.group(), p.owner());
    for tlv in p.tlvs() {
        let _ = tlv;
    }
    let key = glbp::auth::AuthKey::Md5String(b"key".to_vec());
    let _ = glbp::auth::verify(data, &key, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
    if let Ok(repr) = GlbpRepr::parse(&p) {
        // Within the wire limits (a parsed message always is, but a Text of
        // 252..=255 bytes would not re-emit; parse cannot produce one since
        // the TLV length caps it at 251).
        let bytes = repr.to_vec().expect("a parsed message re-emits");
        let again = GlbpRepr::parse(&glbp::Packet::new_checked(&bytes[..]).expect("emitted"))
            .expect("re-parses");
        assert_eq!(again, repr);
    }
}

/// A whole frame down to the GLBP message. Random bytes almost never carry
/// valid checksums, so an IPv4 frame rejected for its checksums is repaired
/// and tried again, letting the fuzzer reach GLBP.
pub fn frame(data: &[u8]) {
    match ReceivedFrame::parse(data) {
        Ok(rx) => glbp(rx.payload),
        Err(super::Error::Checksum) => {
            let mut copy = data.to_vec();
            if repair_ipv4_udp(&mut copy) {
                let rx = ReceivedFrame::parse(&copy).expect("checksums repaired");
                glbp(rx.payload);
            }
        }
        Err(_) => {}
    }
}

/// Fills the IPv4 header and UDP checksums of an IPv4 frame whose lengths
/// are already valid; `false` if it is not one.
fn repair_ipv4_udp(frame: &mut [u8]) -> bool {
    let Ok(eth) = ethernet::Frame::new_checked(&*frame) else {
        return false;
    };
    if eth.ethertype() != ethernet::ETHERTYPE_IPV4 {
        return false;
    }
    let start = eth.header_len();
    let Some(ip_bytes) = frame.get_mut(start..) else {
        return false;
    };
    let Ok(mut ip) = ipv4::Packet::new_checked(ip_bytes) else {
        return false;
    };
    if ip.is_fragment() {
        return false;
    }
    ip.fill_checksum();
    let (src, dst) = (IpAddr::V4(ip.src_addr()), IpAddr::V4(ip.dst_addr()));
    let Ok(mut u) = udp::Packet::new_checked(ip.payload_mut()) else {
        return false;
    };
    u.fill_checksum(src, dst);
    true
}

/// Every harness above.
pub fn all(data: &[u8]) {
    ethernet(data);
    arp(data);
    ipv4(data);
    udp(data);
    icmpv4(data);
    glbp(data);
    frame(data);
}
