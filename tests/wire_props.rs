//! Property tests for the wire layer: `Repr -> emit -> parse == Repr` for
//! every message kind, and "no parser panics on arbitrary bytes".

use glbpd::wire::glbp::auth::{self, AuthKey, KeyChain};
use glbpd::wire::glbp::frame::{FrameBuilder, ReceivedFrame};
use glbpd::wire::glbp::{
    self, AuthRepr, GlbpRepr, HelloRepr, NoncePeer, NonceRepr, ReqRespRepr, VfState, VgState,
};
use glbpd::wire::{arp, ethernet, icmpv4, ipv4, ipv6, udp, MacAddr};
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn mac() -> impl Strategy<Value = MacAddr> {
    any::<[u8; 6]>().prop_map(MacAddr)
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|o| IpAddr::V4(Ipv4Addr::from(o))),
        any::<[u8; 16]>().prop_map(|o| IpAddr::V6(Ipv6Addr::from(o))),
    ]
}

fn hello() -> impl Strategy<Value = HelloRepr> {
    (
        any::<u8>(),
        any::<u8>(),
        any::<u32>(),
        any::<u32>(),
        any::<u16>(),
        any::<u16>(),
        ip(),
    )
        .prop_map(
            |(s, priority, hello_ms, hold_ms, redirect_s, timeout_s, vip)| HelloRepr {
                state: VgState::from_u8(s),
                priority,
                hello_ms,
                hold_ms,
                redirect_s,
                timeout_s,
                vip,
            },
        )
}

fn req_resp() -> impl Strategy<Value = ReqRespRepr> {
    (
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u16>(),
        any::<u16>(),
        mac(),
    )
        .prop_map(
            |(forwarder, s, priority, weight, timeout_s, redirect_s, vmac)| ReqRespRepr {
                forwarder,
                state: VfState::from_u8(s),
                priority,
                weight,
                timeout_s,
                redirect_s,
                vmac,
            },
        )
}

fn auth_repr() -> impl Strategy<Value = AuthRepr> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..=glbp::MAX_TEXT_LEN).prop_map(AuthRepr::Text),
        any::<[u8; 16]>().prop_map(|digest| AuthRepr::Md5String { digest }),
        (any::<u32>(), any::<[u8; 16]>())
            .prop_map(|(key_id, digest)| AuthRepr::Md5Chain { key_id, digest }),
    ]
}

fn nonce() -> impl Strategy<Value = NonceRepr> {
    (
        any::<u8>(),
        any::<u32>(),
        proptest::collection::vec(
            (mac(), any::<u32>()).prop_map(|(owner, echo)| NoncePeer { owner, echo }),
            0..=3,
        ),
    )
        .prop_map(|(counter, nonce, peers)| NonceRepr {
            counter,
            nonce,
            peers,
        })
}

fn glbp_repr() -> impl Strategy<Value = GlbpRepr> {
    (
        0..=glbp::MAX_GROUP,
        mac(),
        proptest::option::of(auth_repr()),
        proptest::option::of(nonce()),
        proptest::option::of(hello()),
        proptest::collection::vec(req_resp(), 0..=4),
    )
        .prop_map(|(group, owner, auth, nonce, hello, forwarders)| GlbpRepr {
            group,
            owner,
            auth,
            nonce,
            hello,
            forwarders,
        })
}

/// A key matching the message's Auth TLV (key id 0..=1 in the chain).
fn key_for(msg: &GlbpRepr, secret: &[u8]) -> AuthKey {
    match &msg.auth {
        None => AuthKey::None,
        Some(AuthRepr::Text(t)) => AuthKey::Text(t.clone()),
        Some(AuthRepr::Md5String { .. }) => AuthKey::Md5String(secret.to_vec()),
        Some(AuthRepr::Md5Chain { key_id, .. }) => {
            let mut chain = KeyChain::new();
            chain.insert(*key_id, secret);
            chain.insert(key_id.wrapping_add(1), b"other".to_vec());
            AuthKey::Md5Chain(chain)
        }
    }
}

proptest! {
    #[test]
    fn glbp_round_trip(repr in glbp_repr()) {
        let bytes = repr.to_vec().unwrap();
        prop_assert_eq!(bytes.len(), repr.buffer_len());
        let parsed = GlbpRepr::parse(&glbp::Packet::new_checked(&bytes[..]).unwrap()).unwrap();
        prop_assert_eq!(parsed, repr);
    }

    /// Whole frames: build (signing MD5), take apart, verify, parse.
    #[test]
    fn glbp_frame_round_trip(
        repr in glbp_repr(),
        src_mac in mac(),
        v6 in any::<bool>(),
        vlan in proptest::option::of(any::<u16>()),
        secret in proptest::collection::vec(any::<u8>(), 1..80),
    ) {
        let mut b = if v6 {
            FrameBuilder::multicast_v6(src_mac, "fe80::2".parse().unwrap())
        } else {
            FrameBuilder::multicast_v4(src_mac, Ipv4Addr::new(192, 0, 2, 7))
        };
        if let Some(tci) = vlan {
            b = b.with_vlan(tci);
        }
        let key = key_for(&repr, &secret);
        let frame = b.build_vec(&repr, &key).unwrap();
        let rx = ReceivedFrame::parse(&frame).unwrap();
        prop_assert_eq!((rx.src_mac, rx.dst_mac, rx.vlan_tci, rx.src_ip, rx.dst_ip, rx.ttl),
                        (b.src_mac, b.dst_mac, b.vlan_tci, b.src_ip, b.dst_ip, 255));
        prop_assert_eq!(auth::verify(rx.payload, &key, rx.src_ip), Ok(()));
        let parsed = GlbpRepr::parse(&glbp::Packet::new_checked(rx.payload).unwrap()).unwrap();
        // Everything but the digest (filled by signing) comes back.
        let mut expected = repr.clone();
        match (&mut expected.auth, &parsed.auth) {
            (Some(AuthRepr::Md5String { digest }), Some(AuthRepr::Md5String { digest: got }))
            | (Some(AuthRepr::Md5Chain { digest, .. }), Some(AuthRepr::Md5Chain { digest: got, .. })) => *digest = *got,
            _ => {}
        }
        prop_assert_eq!(parsed, expected);
    }

    #[test]
    fn ethernet_round_trip(src in mac(), dst in mac(), vlan_tci in proptest::option::of(any::<u16>()), ethertype in any::<u16>()) {
        prop_assume!(vlan_tci.is_some() || ethertype != ethernet::ETHERTYPE_VLAN);
        let repr = ethernet::EthernetRepr { src, dst, vlan_tci, ethertype };
        let mut buf = [0u8; 18];
        let n = repr.emit(&mut buf).unwrap();
        prop_assert_eq!(ethernet::EthernetRepr::parse(&ethernet::Frame::new_checked(&buf[..n]).unwrap()), Ok(repr));
    }

    #[test]
    fn arp_round_trip(op in any::<u16>(), sha in mac(), spa in any::<[u8; 4]>(), tha in mac(), tpa in any::<[u8; 4]>()) {
        let repr = arp::ArpRepr {
            operation: op.into(),
            sender_hw_addr: sha,
            sender_ip: spa.into(),
            target_hw_addr: tha,
            target_ip: tpa.into(),
        };
        let mut buf = [0u8; arp::PACKET_LEN];
        repr.emit(&mut buf).unwrap();
        prop_assert_eq!(arp::ArpRepr::parse(&arp::Packet::new_checked(&buf[..]).unwrap()), Ok(repr));
    }

    #[test]
    fn ipv4_round_trip(src in any::<[u8; 4]>(), dst in any::<[u8; 4]>(), protocol in any::<u8>(), payload_len in 0usize..100,
                       ttl in any::<u8>(), tos in any::<u8>(), ident in any::<u16>(), dont_frag in any::<bool>()) {
        let repr = ipv4::Ipv4Repr { src: src.into(), dst: dst.into(), protocol, payload_len, ttl, tos, ident, dont_frag };
        let mut buf = vec![0u8; 20 + payload_len];
        repr.emit(&mut buf).unwrap();
        prop_assert_eq!(ipv4::Ipv4Repr::parse(&ipv4::Packet::new_checked(&buf[..]).unwrap()), Ok(repr));
    }

    /// RFC 1624 incremental update == full recomputation, for any header
    /// (options included) whose checksum was valid.
    #[test]
    fn ttl_decrement_is_exact(mut header in proptest::collection::vec(any::<u8>(), 20..=60)) {
        let hl = header.len() / 4 * 4;
        header.truncate(hl);
        header[0] = 0x40 | (hl / 4) as u8;
        header[2..4].copy_from_slice(&(hl as u16).to_be_bytes());
        let mut p = ipv4::Packet::new_checked(&mut header[..]).unwrap();
        p.fill_checksum();
        let ttl = p.ttl();
        match p.decrement_ttl() {
            None => prop_assert!(ttl <= 1 && p.ttl() == ttl && p.verify_checksum()),
            Some(new) => {
                prop_assert_eq!(new, ttl - 1);
                prop_assert!(p.verify_checksum());
                let incremental = p.checksum();
                p.fill_checksum();
                prop_assert_eq!(incremental, p.checksum());
            }
        }
    }

    #[test]
    fn udp_round_trip(sp in any::<u16>(), dp in any::<u16>(), payload in proptest::collection::vec(any::<u8>(), 0..64), src in ip(), v6dst in any::<[u8; 16]>(), v4dst in any::<[u8; 4]>()) {
        let dst = if src.is_ipv4() { IpAddr::from(v4dst) } else { IpAddr::from(v6dst) };
        let repr = udp::UdpRepr { src_port: sp, dst_port: dp };
        let mut buf = vec![0u8; 8 + payload.len()];
        repr.emit(&mut buf, payload.len()).unwrap();
        buf[8..].copy_from_slice(&payload);
        let mut p = udp::Packet::new_checked(&mut buf[..]).unwrap();
        p.fill_checksum(src, dst);
        prop_assert_ne!(p.checksum(), 0);
        prop_assert_eq!(udp::UdpRepr::parse(&p, src, dst), Ok(repr));
        prop_assert_eq!(p.payload(), &payload[..]);
    }

    #[test]
    fn icmp_round_trip(kind in 0u8..3, a in any::<u16>(), b in any::<u16>(), code in 0u8..=1, data in proptest::collection::vec(any::<u8>(), 0..64)) {
        let repr = match kind {
            0 => icmpv4::Icmpv4Repr::EchoRequest { ident: a, seq_no: b, data: &data },
            1 => icmpv4::Icmpv4Repr::EchoReply { ident: a, seq_no: b, data: &data },
            _ => icmpv4::Icmpv4Repr::TimeExceeded { code, data: &data },
        };
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut buf).unwrap();
        let p = icmpv4::Packet::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(icmpv4::Icmpv4Repr::parse(&p), Ok(repr));
    }

    #[test]
    fn ipv6_round_trip(src in any::<[u8; 16]>(), dst in any::<[u8; 16]>(), nh in any::<u8>(), len in 0usize..64, hop in any::<u8>(), tc in any::<u8>()) {
        let repr = ipv6::Ipv6Repr { src: src.into(), dst: dst.into(), next_header: nh, payload_len: len, hop_limit: hop, traffic_class: tc };
        let mut buf = vec![0u8; 40 + len];
        repr.emit(&mut buf).unwrap();
        prop_assert_eq!(ipv6::Ipv6Repr::parse(&ipv6::Packet::new_checked(&buf[..]).unwrap()), Ok(repr));
    }
}

/// Runs every parser and every accessor of every checked view over `data`.
/// Shared with the fuzz targets' idea: nothing here may panic.
fn exercise_all(data: &[u8]) {
    glbpd::wire::fuzzing::all(data);
}

proptest! {
    #[test]
    fn no_parser_panics_on_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        exercise_all(&data);
    }

    /// Arbitrary bytes behind a plausible header reach the deeper parsers.
    #[test]
    fn no_parser_panics_behind_valid_headers(tail in proptest::collection::vec(any::<u8>(), 0..120), tagged in any::<bool>()) {
        let b = FrameBuilder::multicast_v4(MacAddr([2, 0, 0, 0, 0, 1]), Ipv4Addr::new(10, 0, 0, 1));
        let b = if tagged { b.with_vlan(30) } else { b };
        let mut frame = b.build_vec(&GlbpRepr { group: 1, owner: MacAddr::ZERO, auth: None, nonce: None, hello: None, forwarders: vec![] }, &AuthKey::None).unwrap();
        exercise_all(&frame);
        frame.truncate(frame.len() - 12);
        frame.extend_from_slice(&tail);
        exercise_all(&frame);
        let glbp_start = if tagged { 46 } else { 42 };
        let mut msg = frame[glbp_start..].to_vec();
        if !msg.is_empty() { msg[0] = 1; }
        exercise_all(&msg);
    }
}

/// Writes a seed corpus for the fuzz targets into `fuzz/corpus/<target>/`:
/// `cargo test --test wire_props -- --ignored write_fuzz_seeds`.
#[test]
#[ignore = "utility: writes fuzz/corpus, run on demand"]
fn write_fuzz_seeds() {
    use proptest::strategy::ValueTree;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for i in 0..64 {
        let repr = glbp_repr().new_tree(&mut runner).unwrap().current();
        let v6 = i % 2 == 1;
        let b = if v6 {
            FrameBuilder::multicast_v6(MacAddr([2, 0, 0, 0, 0, 1]), "fe80::1".parse().unwrap())
        } else {
            FrameBuilder::multicast_v4(MacAddr([2, 0, 0, 0, 0, 1]), Ipv4Addr::new(10, 0, 0, 1))
        };
        let b = if i % 4 == 2 { b.with_vlan(30) } else { b };
        let frame = b.build_vec(&repr, &key_for(&repr, b"seed")).unwrap();
        let payload = ReceivedFrame::parse(&frame).unwrap().payload.to_vec();
        let eth_len = if b.vlan_tci.is_some() { 18 } else { 14 };
        let ip = frame[eth_len..].to_vec();
        let udp = ip[if v6 { 40 } else { 20 }..].to_vec();
        for (target, bytes) in [
            ("frame", &frame),
            ("ethernet", &frame),
            ("ipv4", &ip),
            ("udp", &udp),
            ("glbp", &payload),
        ] {
            let dir = root.join(target);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("seed-{i:02}")), bytes).unwrap();
        }
    }
    let arp_dir = root.join("arp");
    std::fs::create_dir_all(&arp_dir).unwrap();
    let mut a = [0u8; arp::PACKET_LEN];
    arp::ArpRepr {
        operation: arp::ArpOperation::Request,
        sender_hw_addr: MacAddr([2, 0, 0, 0, 0, 1]),
        sender_ip: Ipv4Addr::new(10, 0, 0, 1),
        target_hw_addr: MacAddr::ZERO,
        target_ip: Ipv4Addr::new(10, 0, 0, 254),
    }
    .emit(&mut a)
    .unwrap();
    std::fs::write(arp_dir.join("request"), a).unwrap();
    let icmp_dir = root.join("icmpv4");
    std::fs::create_dir_all(&icmp_dir).unwrap();
    let echo = icmpv4::Icmpv4Repr::EchoRequest {
        ident: 1,
        seq_no: 1,
        data: b"abcdefgh",
    };
    let mut e = vec![0u8; echo.buffer_len()];
    echo.emit(&mut e).unwrap();
    std::fs::write(icmp_dir.join("echo"), e).unwrap();
}
