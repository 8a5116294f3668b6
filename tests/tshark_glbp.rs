//! Cross-check against Wireshark's GLBP dissector: every message kind the
//! wire layer emits is written as whole Ethernet frames to a pcap, decoded
//! by `tshark`, and every field tshark's GLBP dissector knows is compared
//! with the value the frame was built from (not with our own parser's
//! output). IP/UDP checksums are validated by tshark; no malformed packet
//! and no expert info of severity warning or error is allowed.
//!
//! Requires `tshark` on PATH; fails (does not skip) without it.

mod common;

use common::*;
use glbpd::wire::glbp::frame::ReceivedFrame;
use glbpd::wire::glbp::{AuthRepr, GlbpRepr};
use md5::{Digest, Md5};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// Wireshark's expert severity of a warning (`PI_WARN`); errors are higher.
const PI_WARN: u64 = 0x0060_0000;

type Fields = BTreeMap<String, String>;

fn fields(pairs: &[(&str, String)]) -> Fields {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// The MD5 construction of docs/protocol.md §11.2, written out again here
/// independently of `wire::glbp::auth`: MD5(K || pad(K) || M || K), M = the
/// message with the digest replaced by the source address (IPv4 + 12 zeros,
/// or IPv6).
fn notes_md5(key: &[u8], payload: &[u8], digest_at: usize, src: IpAddr) -> Vec<u8> {
    let mut m = payload.to_vec();
    let mut sub = [0u8; 16];
    match src {
        IpAddr::V4(a) => sub[..4].copy_from_slice(&a.octets()),
        IpAddr::V6(a) => sub.copy_from_slice(&a.octets()),
    }
    m[digest_at..digest_at + 16].copy_from_slice(&sub);
    let mut block = key.to_vec();
    block.push(0x80);
    while block.len() % 64 != 56 {
        block.push(0);
    }
    block.extend_from_slice(&(key.len() as u64 * 8).to_le_bytes());
    let mut h = Md5::new();
    h.update(&block);
    h.update(&m);
    h.update(key);
    h.finalize().to_vec()
}

fn secret(case: &Case) -> Vec<u8> {
    match (&case.key, &case.msg.auth) {
        (glbpd::wire::glbp::auth::AuthKey::Md5String(k), _) => k.clone(),
        (
            glbpd::wire::glbp::auth::AuthKey::Md5Chain(c),
            Some(AuthRepr::Md5Chain { key_id, .. }),
        ) => c.get(*key_id).unwrap().to_vec(),
        _ => unreachable!(),
    }
}

/// What tshark must show for each TLV, in emitted (IOS) order.
fn expected_tlvs(case: &Case, payload: &[u8], src: IpAddr) -> Vec<Fields> {
    let m: &GlbpRepr = &case.msg;
    let mut v = Vec::new();
    if let Some(a) = &m.auth {
        let mut f = fields(&[("glbp.type", "3".into())]);
        match a {
            AuthRepr::Text(t) => {
                f.insert("glbp.length".into(), (4 + t.len()).to_string());
                f.insert("glbp.auth.authtype".into(), "1".into());
                f.insert("glbp.auth.authlength".into(), t.len().to_string());
                f.insert(
                    "glbp.auth.plainpass".into(),
                    String::from_utf8(t.clone()).unwrap(),
                );
            }
            AuthRepr::Md5String { .. } => {
                f.insert("glbp.length".into(), "20".into());
                f.insert("glbp.auth.authtype".into(), "2".into());
                f.insert("glbp.auth.authlength".into(), "16".into());
                // Auth is the first TLV: digest at 12 + 4.
                f.insert(
                    "glbp.auth.md5hash".into(),
                    colon_hex(&notes_md5(&secret(case), payload, 16, src)),
                );
            }
            AuthRepr::Md5Chain { key_id, .. } => {
                f.insert("glbp.length".into(), "24".into());
                f.insert("glbp.auth.authtype".into(), "3".into());
                f.insert("glbp.auth.authlength".into(), "20".into());
                f.insert("glbp.auth.md5chainindex".into(), key_id.to_string());
                f.insert(
                    "glbp.auth.md5chainhash".into(),
                    colon_hex(&notes_md5(&secret(case), payload, 20, src)),
                );
            }
        }
        v.push(f);
    }
    if let Some(n) = &m.nonce {
        // Type 4 is unknown to the dissector: it shows the raw body.
        let mut body = vec![n.peers.len() as u8, n.counter];
        body.extend_from_slice(&n.nonce.to_be_bytes());
        for p in &n.peers {
            body.extend_from_slice(&p.owner.0);
            body.extend_from_slice(&p.echo.to_be_bytes());
            body.extend_from_slice(&[0, 0]);
        }
        v.push(fields(&[
            ("glbp.type", "4".into()),
            ("glbp.length", (2 + body.len()).to_string()),
            ("glbp.unknown.data", colon_hex(&body)),
        ]));
    }
    if let Some(h) = &m.hello {
        let mut f = fields(&[
            ("glbp.type", "1".into()),
            ("glbp.hello.unknown10", "00".into()),
            ("glbp.hello.vgstate", h.state.to_u8().to_string()),
            ("glbp.hello.unknown11", "00".into()),
            ("glbp.hello.priority", h.priority.to_string()),
            ("glbp.hello.unknown12", "00:00".into()),
            ("glbp.hello.helloint", h.hello_ms.to_string()),
            ("glbp.hello.holdint", h.hold_ms.to_string()),
            ("glbp.hello.redirect", h.redirect_s.to_string()),
            ("glbp.hello.timeout", h.timeout_s.to_string()),
            ("glbp.hello.unknown13", "00:00".into()),
        ]);
        let (len, ty, alen, key) = match h.vip {
            IpAddr::V4(_) => ("28", "1", "4", "glbp.hello.virtualipv4"),
            IpAddr::V6(_) => ("40", "2", "16", "glbp.hello.virtualipv6"),
        };
        f.insert("glbp.length".into(), len.into());
        f.insert("glbp.hello.addrtype".into(), ty.into());
        f.insert("glbp.hello.addrlen".into(), alen.into());
        f.insert(key.into(), h.vip.to_string());
        v.push(f);
    }
    for r in &m.forwarders {
        // unknown22 spans offsets 7..14: junk, timeout, redirect, junk.
        let mut u22 = vec![0u8];
        u22.extend_from_slice(&r.timeout_s.to_be_bytes());
        u22.extend_from_slice(&r.redirect_s.to_be_bytes());
        u22.extend_from_slice(&[0, 0]);
        v.push(fields(&[
            ("glbp.type", "2".into()),
            ("glbp.length", "20".into()),
            ("glbp.reqresp.forwarder", r.forwarder.to_string()),
            ("glbp.reqresp.vfstate", r.state.to_u8().to_string()),
            ("glbp.reqresp.unknown21", "00".into()),
            ("glbp.reqresp.priority", r.priority.to_string()),
            ("glbp.reqresp.weight", r.weight.to_string()),
            ("glbp.reqresp.unknown22", colon_hex(&u22)),
            ("glbp.reqresp.virtualmac", r.vmac.to_string()),
        ]));
    }
    v
}

/// Every `_ws.expert` / `_ws.malformed` entry anywhere in a frame's tree.
fn expert_problems(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                if k.starts_with("_ws.malformed") {
                    out.push(format!("{path}/{k}: malformed"));
                }
                if k == "_ws.expert.severity" {
                    for s in as_list(child) {
                        let sev: u64 = s.as_str().and_then(|s| s.parse().ok()).unwrap_or(u64::MAX);
                        if sev >= PI_WARN {
                            out.push(format!(
                                "{path}: expert severity {sev:#x}: {}",
                                map.get("_ws.expert.message").unwrap_or(&Value::Null)
                            ));
                        }
                    }
                }
                expert_problems(child, &format!("{path}/{k}"), out);
            }
        }
        Value::Array(a) => a.iter().for_each(|c| expert_problems(c, path, out)),
        _ => {}
    }
}

fn str_of(v: &Value) -> String {
    v.as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string())
}

fn check_frame(case: &Case, frame: &[u8], layers: &Value) {
    let name = case.name;
    let mut problems = Vec::new();
    expert_problems(layers, "", &mut problems);
    assert!(problems.is_empty(), "{name}: tshark reports {problems:?}");

    let rx = ReceivedFrame::parse(frame).unwrap();
    let b = &case.builder;
    assert_eq!(layers["eth"]["eth.src"], b.src_mac.to_string(), "{name}");
    assert_eq!(layers["eth"]["eth.dst"], b.dst_mac.to_string(), "{name}");
    if let Some(tci) = b.vlan_tci {
        assert_eq!(
            str_of(&layers["vlan"]["vlan.id"]),
            (tci & 0x0fff).to_string(),
            "{name}"
        );
    }
    match (b.src_ip, b.dst_ip) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let ip = &layers["ip"];
            assert_eq!(ip["ip.src"], s.to_string(), "{name}");
            assert_eq!(ip["ip.dst"], d.to_string(), "{name}");
            assert_eq!(ip["ip.ttl"], "255", "{name}");
            assert_eq!(ip["ip.dsfield"], "0xc0", "{name}");
            assert_eq!(ip["ip.id"], "0x0000", "{name}");
            assert_eq!(ip["ip.flags_tree"]["ip.flags.df"], "0", "{name}");
            assert_eq!(
                ip["ip.checksum.status"], "1",
                "{name}: IPv4 header checksum not good"
            );
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let ip = &layers["ipv6"];
            assert_eq!(ip["ipv6.src"], s.to_string(), "{name}");
            assert_eq!(ip["ipv6.dst"], d.to_string(), "{name}");
            assert_eq!(ip["ipv6.hlim"], "255", "{name}");
            let tclass =
                u32::from_str_radix(str_of(&ip["ipv6.tclass"]).trim_start_matches("0x"), 16)
                    .unwrap();
            assert_eq!(tclass, 0xe0, "{name}");
        }
        _ => unreachable!(),
    }
    let udp = &layers["udp"];
    assert_eq!(
        (&udp["udp.srcport"], &udp["udp.dstport"]),
        (&"3222".into(), &"3222".into()),
        "{name}"
    );
    assert_eq!(
        udp["udp.checksum.status"], "1",
        "{name}: UDP checksum not good"
    );

    let g = &layers["glbp"];
    assert!(
        g.is_object(),
        "{name}: tshark did not dissect GLBP: {layers}"
    );
    assert_eq!(g["glbp.version"], "1", "{name}");
    assert_eq!(g["glbp.unknown1"], "0", "{name}");
    assert_eq!(g["glbp.group"], case.msg.group.to_string(), "{name}");
    assert_eq!(g["glbp.unknown2"], "00:00", "{name}");
    assert_eq!(g["glbp.ownerid"], case.msg.owner.to_string(), "{name}");
    // Every case carries at least one TLV, so the header shows all six.
    let header_keys: BTreeSet<&str> = g.as_object().unwrap().keys().map(String::as_str).collect();
    let want_keys = BTreeSet::from([
        "glbp.version",
        "glbp.unknown1",
        "glbp.group",
        "glbp.unknown2",
        "glbp.ownerid",
        "glbp.tlv",
    ]);
    assert_eq!(
        header_keys, want_keys,
        "{name}: unexpected GLBP header fields"
    );

    let got: Vec<Fields> = as_list(&g["glbp.tlv"])
        .iter()
        .map(|t| {
            t.as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), str_of(v)))
                .collect()
        })
        .collect();
    let want = expected_tlvs(case, rx.payload, rx.src_ip);
    assert_eq!(got, want, "{name}: TLVs differ");
}

/// Expert entries of severity warning or error in tshark's own summary
/// (`-z expert`). Needed besides the JSON tree: tshark 4.0's GLBP dissector
/// attaches some of its errors ("Length 1 too small", "Wrong IPv4 address
/// length") to no tree item, so only the summary shows them.
fn expert_summary_problems(path: &std::path::Path) -> Vec<String> {
    let out = std::process::Command::new("tshark")
        .args(["-n", "-q", "-z", "expert", "-r"])
        .arg(path)
        .args([
            "-o",
            "udp.check_checksum:TRUE",
            "-o",
            "ip.check_checksum:TRUE",
        ])
        .output()
        .expect("tshark is required for this test");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut problems = Vec::new();
    let mut in_bad_section = false;
    for line in text.lines() {
        if line.starts_with("Errors (") || line.starts_with("Warns (") {
            in_bad_section = true;
        } else if line.ends_with(')') && !line.starts_with(' ') {
            in_bad_section = false; // Notes (n), Chats (n), Comments (n)
        } else if in_bad_section && line.trim_start().starts_with(char::is_numeric) {
            problems.push(line.trim().to_string());
        }
    }
    problems
}

/// All warnings/errors tshark reports for a file, from both sources.
fn file_problems(path: &std::path::Path) -> Vec<String> {
    let mut p = Vec::new();
    for layers in tshark_layers(path) {
        expert_problems(&layers, "", &mut p);
    }
    p.extend(expert_summary_problems(path));
    p
}

#[test]
fn tshark_agrees_on_every_message_kind() {
    let cases = cases();
    let frames = frames(&cases);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("glbp.pcap");
    write_pcap(&path, &frames);
    let layers = tshark_layers(&path);
    assert_eq!(layers.len(), cases.len());
    for ((case, frame), l) in cases.iter().zip(&frames).zip(&layers) {
        check_frame(case, frame, l);
    }
    let problems = expert_summary_problems(&path);
    assert!(problems.is_empty(), "tshark expert summary: {problems:?}");
}

/// Rewrites IP/UDP lengths and checksums after the GLBP payload of an
/// untagged IPv4 frame was changed or shortened, so only GLBP is broken.
fn fix_ipv4_frame(frame: &mut [u8], case: &Case) {
    let ip_len = (frame.len() - 14) as u16;
    frame[16..18].copy_from_slice(&ip_len.to_be_bytes());
    frame[38..40].copy_from_slice(&(ip_len - 20).to_be_bytes());
    glbpd::wire::ipv4::Packet::new_checked(&mut frame[14..])
        .unwrap()
        .fill_checksum();
    let (src, dst) = (case.builder.src_ip, case.builder.dst_ip);
    glbpd::wire::udp::Packet::new_checked(&mut frame[34..])
        .unwrap()
        .fill_checksum(src, dst);
    assert!(
        glbpd::wire::glbp::frame::ReceivedFrame::parse(frame).is_ok(),
        "only GLBP is broken"
    );
}

/// The checks above can fail: each broken frame below, next to a good one,
/// makes tshark report a problem that `file_problems` catches.
#[test]
fn tshark_problem_detection_is_live() {
    let cases = cases();
    let good = frames(&cases[..1]).remove(0);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("good.pcap");
    write_pcap(&path, std::slice::from_ref(&good));
    assert_eq!(file_problems(&path), Vec::<String>::new());

    let mut bad_sum = good.clone();
    *bad_sum.last_mut().unwrap() ^= 0xff;
    // The last TLV announces 20 bytes but the message ends 2 bytes early.
    let mut cut = good.clone();
    cut.truncate(cut.len() - 2);
    fix_ipv4_frame(&mut cut, &cases[0]);
    let mut short_tlv = good.clone();
    short_tlv[42 + 13] = 1; // Hello TLV length 1
    fix_ipv4_frame(&mut short_tlv, &cases[0]);
    let mut bad_addr_len = good.clone();
    bad_addr_len[42 + 12 + 23] = 16; // IPv4 address type, length 16
    fix_ipv4_frame(&mut bad_addr_len, &cases[0]);
    for (what, bad) in [
        ("bad UDP checksum", bad_sum),
        ("TLV past the end", cut),
        ("TLV length 1", short_tlv),
        ("IPv4 VIP of length 16", bad_addr_len),
    ] {
        let path = dir.path().join("bad.pcap");
        write_pcap(&path, &[good.clone(), bad]);
        assert!(!file_problems(&path).is_empty(), "{what} went unnoticed");
    }
}
