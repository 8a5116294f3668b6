//! Shared by the integration tests: a set of GLBP frames covering every
//! message kind, pcap/pcapng writers, and running tshark.
#![allow(dead_code)]

use glbpd::wire::glbp::auth::{AuthKey, KeyChain};
use glbpd::wire::glbp::frame::FrameBuilder;
use glbpd::wire::glbp::{
    virtual_mac, AuthRepr, GlbpRepr, HelloRepr, NoncePeer, NonceRepr, ReqRespRepr, VfState, VgState,
};
use glbpd::wire::MacAddr;
use pcap_file::pcap::{PcapPacket, PcapWriter};
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock;
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;
use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// One frame to emit, with what it was built from.
pub struct Case {
    pub name: &'static str,
    pub builder: FrameBuilder,
    pub msg: GlbpRepr,
    pub key: AuthKey,
}

pub const OWNER_A: MacAddr = MacAddr([0x02, 0x00, 0x00, 0x00, 0xaa, 0x01]);
pub const OWNER_B: MacAddr = MacAddr([0x02, 0x00, 0x00, 0x00, 0xbb, 0x02]);
pub const IP_A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const IP_B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

pub fn ll_a() -> Ipv6Addr {
    "fe80::aa01".parse().unwrap()
}

fn hello(state: VgState, priority: u8, vip: IpAddr) -> HelloRepr {
    HelloRepr {
        state,
        priority,
        hello_ms: 3000,
        hold_ms: 10000,
        redirect_s: 600,
        timeout_s: 14400,
        vip,
    }
}

fn fwd(group: u16, n: u8, state: VfState, priority: u8) -> ReqRespRepr {
    ReqRespRepr {
        forwarder: n,
        state,
        priority,
        weight: 100,
        timeout_s: 14400,
        redirect_s: 600,
        vmac: virtual_mac(group, n).unwrap(),
    }
}

fn msg(group: u16, owner: MacAddr) -> GlbpRepr {
    GlbpRepr {
        group,
        owner,
        auth: None,
        nonce: None,
        hello: None,
        forwarders: vec![],
    }
}

fn nonce(peers: usize) -> NonceRepr {
    NonceRepr {
        counter: 3,
        nonce: 0x8badf00d,
        peers: (0..peers)
            .map(|i| NoncePeer {
                owner: MacAddr([2, 0, 0, 0, 0xc0, i as u8]),
                echo: 0x1000_0001 * (i as u32 + 1),
            })
            .collect(),
    }
}

pub fn chain() -> KeyChain {
    let mut c = KeyChain::new();
    c.insert(1, "first-key");
    c.insert(7, "seventh-key");
    c
}

fn case(name: &'static str, builder: FrameBuilder, msg: GlbpRepr, key: AuthKey) -> Case {
    Case {
        name,
        builder,
        msg,
        key,
    }
}

/// Every message kind the wire layer can emit.
pub fn cases() -> Vec<Case> {
    let vip4 = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 254));
    let vip6 = IpAddr::V6("fe80::7:b4ff:fe00:2e00".parse().unwrap());
    let mcast_a = FrameBuilder::multicast_v4(OWNER_A, IP_A);
    let mut v = Vec::new();

    // 1. The periodic hello of the test vector, docs/protocol.md §14.
    let mut m = msg(1, OWNER_A);
    m.hello = Some(hello(VgState::Active, 100, vip4));
    m.forwarders.push(fwd(1, 1, VfState::Active, 167));
    v.push(case("hello", mcast_a, m, AuthKey::None));

    // 2. Takeover announcement: Request/Response only, sourced from the VMAC.
    let mut m = msg(40, OWNER_B);
    m.forwarders.push(ReqRespRepr {
        timeout_s: 14390,
        redirect_s: 590,
        ..fwd(40, 2, VfState::Active, 135)
    });
    let b = FrameBuilder::multicast_v4(virtual_mac(40, 2).unwrap(), IP_B);
    v.push(case("takeover", b, m, AuthKey::None));

    // 3. Resign: hello with priority 0 and the VF TLV with priority 160.
    let mut m = msg(1020, OWNER_A);
    m.hello = Some(hello(VgState::Active, 0, vip4));
    m.forwarders.push(fwd(1020, 1, VfState::Active, 160));
    v.push(case("resign", mcast_a, m, AuthKey::None));

    // 4. Unicast request for a forwarder (forwarder 0, all else zero).
    let mut m = msg(1, OWNER_B);
    m.forwarders.push(ReqRespRepr::REQUEST);
    let b = FrameBuilder::unicast(OWNER_B, OWNER_A, IP_B.into(), IP_A.into());
    v.push(case("request", b, m, AuthKey::None));

    // 5. Unicast response from the AVG (VF state 0, number and VMAC).
    let mut m = msg(1, OWNER_A);
    m.forwarders.push(fwd(1, 2, VfState::Unspecified, 0));
    let b = FrameBuilder::unicast(OWNER_A, OWNER_B, IP_A.into(), IP_B.into());
    v.push(case("response", b, m, AuthKey::None));

    // 6. IPv6 hello from a link-local source, two forwarders, Standby.
    let mut m = msg(46, OWNER_A);
    m.hello = Some(hello(VgState::Standby, 120, vip6));
    m.forwarders.push(fwd(46, 1, VfState::Active, 167));
    m.forwarders.push(fwd(46, 3, VfState::Listen, 135));
    let b = FrameBuilder::multicast_v6(OWNER_A, ll_a());
    v.push(case("hello-v6", b, m, AuthKey::None));

    // 7. Plain-text authentication, Speak, 802.1Q tagged.
    let mut m = msg(30, OWNER_B);
    m.auth = Some(AuthRepr::Text(b"cisco123".to_vec()));
    m.hello = Some(hello(VgState::Speak, 100, vip4));
    let b = FrameBuilder::multicast_v4(OWNER_B, IP_B).with_vlan(30);
    v.push(case("text", b, m, AuthKey::Text(b"cisco123".to_vec())));

    // 8..10. MD5 key-string with nonce TLVs of 0, 1 and 3 peers.
    for (name, peers) in [("md5-nonce0", 0), ("md5-nonce1", 1), ("md5-nonce3", 3)] {
        let mut m = msg(2, OWNER_A);
        m.auth = Some(AuthRepr::Md5String { digest: [0; 16] });
        m.nonce = Some(nonce(peers));
        m.hello = Some(hello(VgState::Listen, 90, vip4));
        m.forwarders.push(fwd(2, 1, VfState::Listen, 167));
        v.push(case(
            name,
            mcast_a,
            m,
            AuthKey::Md5String(b"glbp-secret".to_vec()),
        ));
    }

    // 11. MD5 key-chain (key id 7) with a 2-peer nonce.
    let mut m = msg(3, OWNER_A);
    m.auth = Some(AuthRepr::Md5Chain {
        key_id: 7,
        digest: [0; 16],
    });
    m.nonce = Some(nonce(2));
    m.hello = Some(hello(VgState::Active, 255, vip4));
    m.forwarders.push(fwd(3, 1, VfState::Active, 167));
    v.push(case("md5-chain", mcast_a, m, AuthKey::Md5Chain(chain())));

    // 12. IPv6 with MD5 key-string and a 1-peer nonce.
    let mut m = msg(46, OWNER_A);
    m.auth = Some(AuthRepr::Md5String { digest: [0; 16] });
    m.nonce = Some(nonce(1));
    m.hello = Some(hello(VgState::Active, 100, vip6));
    let b = FrameBuilder::multicast_v6(OWNER_A, ll_a());
    v.push(case(
        "md5-v6",
        b,
        m,
        AuthKey::Md5String(b"glbp-secret".to_vec()),
    ));
    v
}

/// Builds every case.
pub fn frames(cases: &[Case]) -> Vec<Vec<u8>> {
    cases
        .iter()
        .map(|c| {
            c.builder
                .build_vec(&c.msg, &c.key)
                .unwrap_or_else(|e| panic!("{}: {e}", c.name))
        })
        .collect()
}

pub fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    let mut w = PcapWriter::new(std::fs::File::create(path).unwrap()).unwrap();
    for (i, f) in frames.iter().enumerate() {
        let ts = Duration::from_millis(1_000 * i as u64);
        w.write_packet(&PcapPacket::new(ts, f.len() as u32, f))
            .unwrap();
    }
}

pub fn write_pcapng(path: &Path, frames: &[Vec<u8>]) {
    let mut w = PcapNgWriter::new(std::fs::File::create(path).unwrap()).unwrap();
    w.write_pcapng_block(InterfaceDescriptionBlock::new(DataLink::ETHERNET, 0xffff))
        .unwrap();
    for (i, f) in frames.iter().enumerate() {
        w.write_pcapng_block(EnhancedPacketBlock {
            interface_id: 0,
            timestamp: Duration::from_millis(1_000 * i as u64),
            original_len: f.len() as u32,
            data: Cow::Borrowed(f),
            options: vec![],
        })
        .unwrap();
    }
}

/// Runs `tshark -T json` with checksum validation on; one JSON value per
/// frame (`_source.layers`). Fails loudly when tshark is missing: CI
/// installs it, and a silently skipped cross-check would prove nothing.
pub fn tshark_layers(path: &Path) -> Vec<serde_json::Value> {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(path)
        .args(["-T", "json", "--no-duplicate-keys"])
        .args([
            "-o",
            "udp.check_checksum:TRUE",
            "-o",
            "ip.check_checksum:TRUE",
        ])
        .output()
        .unwrap_or_else(|e| {
            panic!("tshark is required for this test (apt-get install tshark): {e}")
        });
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("tshark JSON");
    v.as_array()
        .expect("array of frames")
        .iter()
        .map(|f| f["_source"]["layers"].clone())
        .collect()
}

/// A field that `--no-duplicate-keys` turns into an array when repeated.
pub fn as_list(v: &serde_json::Value) -> Vec<serde_json::Value> {
    match v {
        serde_json::Value::Null => vec![],
        serde_json::Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    }
}

/// Bytes as tshark prints FT_BYTES: `aa:bb:cc`.
pub fn colon_hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}
