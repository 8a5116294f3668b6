//! `glbpd decode` end to end: the built binary reads a pcap and a pcapng
//! this test writes (every GLBP message kind plus non-GLBP frames and a
//! malformed GLBP frame), and its JSON is checked field by field against
//! tshark's decode of the same file.

mod common;

use common::*;
use glbpd::wire::arp::{ArpOperation, ArpRepr};
use glbpd::wire::ethernet::{EthernetRepr, ETHERTYPE_ARP};
use glbpd::wire::udp;
use glbpd::wire::MacAddr;
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::Command;

/// tshark's numeric state -> the words of docs/protocol.md §5.
fn vg_word(v: u8) -> String {
    match v {
        0x01 => "Disabled".into(),
        0x02 => "Init".into(),
        0x04 => "Listen".into(),
        0x08 => "Speak".into(),
        0x10 => "Standby".into(),
        0x20 => "Active".into(),
        v => format!("Unknown({v:#04x})"),
    }
}

fn vf_word(v: u8) -> String {
    match v {
        0x00 => "Unspecified".into(),
        0x08 | 0x10 => format!("Unknown({v:#04x})"),
        v => vg_word(v),
    }
}

fn num(v: &Value) -> u64 {
    v.as_str()
        .unwrap_or_else(|| panic!("not a tshark string: {v}"))
        .parse()
        .unwrap()
}

fn hex_bytes(v: &Value) -> Vec<u8> {
    v.as_str()
        .unwrap()
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

/// A frame list: GLBP cases, then an ARP request, an HSRP-port UDP frame,
/// and a GLBP frame whose Hello TLV length is 1 (checksums valid).
fn capture_frames() -> (Vec<Vec<u8>>, usize) {
    let cases = cases();
    let mut frames = frames(&cases);
    let mut arp = vec![0u8; 42];
    let eth = EthernetRepr {
        src: OWNER_B,
        dst: MacAddr::BROADCAST,
        vlan_tci: None,
        ethertype: ETHERTYPE_ARP,
    };
    let n = eth.emit(&mut arp).unwrap();
    ArpRepr {
        operation: ArpOperation::Request,
        sender_hw_addr: OWNER_B,
        sender_ip: IP_B,
        target_hw_addr: MacAddr::ZERO,
        target_ip: Ipv4Addr::new(10, 0, 0, 254),
    }
    .emit(&mut arp[n..])
    .unwrap();
    frames.push(arp);
    let mut hsrp = frames[0].clone();
    hsrp[34..38].copy_from_slice(&[0x07, 0xc1, 0x07, 0xc1]); // UDP 1985 -> 1985
    refill_udp(&mut hsrp);
    frames.push(hsrp);
    let mut bad = frames[0].clone();
    bad[42 + 13] = 1;
    refill_udp(&mut bad);
    let bad_index = frames.len();
    frames.push(bad);
    (frames, bad_index)
}

fn refill_udp(frame: &mut [u8]) {
    let (src, dst) = (IpAddr::V4(IP_A), IpAddr::V4(Ipv4Addr::new(224, 0, 0, 102)));
    udp::Packet::new_checked(&mut frame[34..])
        .unwrap()
        .fill_checksum(src, dst);
}

fn run_decode(path: &Path, json: bool) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_glbpd"));
    cmd.arg("decode").arg(path);
    if json {
        cmd.arg("--json");
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "decode failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Our JSON object for one frame vs tshark's layers for the same frame.
fn compare(ours: &Value, t: &Value) {
    let n = &ours["frame"];
    assert_eq!(
        num(&t["frame"]["frame.number"]),
        ours["frame"].as_u64().unwrap()
    );
    let src_ip = t
        .get("ip")
        .map(|ip| &ip["ip.src"])
        .unwrap_or_else(|| &t["ipv6"]["ipv6.src"]);
    assert_eq!(&ours["src_ip"], src_ip, "frame {n}");
    assert_eq!(ours["src_mac"], t["eth"]["eth.src"], "frame {n}");
    let g = &t["glbp"];
    assert_eq!(
        ours["group"].as_u64().unwrap(),
        num(&g["glbp.group"]),
        "frame {n}"
    );
    assert_eq!(ours["owner"], g["glbp.ownerid"], "frame {n}");

    let tlvs = as_list(&g["glbp.tlv"]);
    let of_type = |ty: u64| tlvs.iter().filter(move |t| num(&t["glbp.type"]) == ty);
    match of_type(1).next() {
        None => assert!(ours["hello"].is_null(), "frame {n}"),
        Some(h) => {
            let o = &ours["hello"];
            assert_eq!(
                o["state"],
                vg_word(num(&h["glbp.hello.vgstate"]) as u8),
                "frame {n}"
            );
            assert_eq!(
                o["priority"].as_u64().unwrap(),
                num(&h["glbp.hello.priority"])
            );
            assert_eq!(
                o["hello_ms"].as_u64().unwrap(),
                num(&h["glbp.hello.helloint"])
            );
            assert_eq!(
                o["hold_ms"].as_u64().unwrap(),
                num(&h["glbp.hello.holdint"])
            );
            assert_eq!(
                o["redirect_s"].as_u64().unwrap(),
                num(&h["glbp.hello.redirect"])
            );
            assert_eq!(
                o["timeout_s"].as_u64().unwrap(),
                num(&h["glbp.hello.timeout"])
            );
            let vip = h
                .get("glbp.hello.virtualipv4")
                .or(h.get("glbp.hello.virtualipv6"))
                .unwrap();
            assert_eq!(&o["vip"], vip, "frame {n}");
        }
    }
    let fwds: Vec<&Value> = of_type(2).collect();
    let ours_f = ours["forwarders"].as_array().unwrap();
    assert_eq!(ours_f.len(), fwds.len(), "frame {n}");
    for (o, f) in ours_f.iter().zip(fwds) {
        assert_eq!(
            o["number"].as_u64().unwrap(),
            num(&f["glbp.reqresp.forwarder"])
        );
        assert_eq!(
            o["state"],
            vf_word(num(&f["glbp.reqresp.vfstate"]) as u8),
            "frame {n}"
        );
        assert_eq!(
            o["priority"].as_u64().unwrap(),
            num(&f["glbp.reqresp.priority"])
        );
        assert_eq!(
            o["weight"].as_u64().unwrap(),
            num(&f["glbp.reqresp.weight"])
        );
        assert_eq!(o["vmac"], f["glbp.reqresp.virtualmac"], "frame {n}");
        // tshark leaves offsets 7..14 undecoded: junk, timeout, redirect.
        let u = hex_bytes(&f["glbp.reqresp.unknown22"]);
        assert_eq!(
            o["timeout_s"].as_u64().unwrap(),
            u64::from(u16::from_be_bytes([u[1], u[2]]))
        );
        assert_eq!(
            o["redirect_s"].as_u64().unwrap(),
            u64::from(u16::from_be_bytes([u[3], u[4]]))
        );
    }
    match of_type(3).next() {
        None => assert!(ours["auth"].is_null(), "frame {n}"),
        Some(a) => {
            let word =
                ["none", "text", "md5-string", "md5-chain"][num(&a["glbp.auth.authtype"]) as usize];
            assert_eq!(ours["auth"]["type"], word, "frame {n}");
            if word == "md5-chain" {
                assert_eq!(
                    ours["auth"]["key_id"].as_u64().unwrap(),
                    num(&a["glbp.auth.md5chainindex"])
                );
            } else {
                assert!(ours["auth"].get("key_id").is_none());
            }
        }
    }
    match of_type(4).next() {
        None => assert!(ours["nonce"].is_null(), "frame {n}"),
        Some(x) => {
            // Raw body per docs/protocol.md §4.6: N, counter, nonce, N x (owner, echo, junk).
            let b = hex_bytes(&x["glbp.unknown.data"]);
            let o = &ours["nonce"];
            assert_eq!(o["counter"].as_u64().unwrap(), u64::from(b[1]));
            assert_eq!(
                o["nonce"],
                format!("{:02x}{:02x}{:02x}{:02x}", b[2], b[3], b[4], b[5])
            );
            let peers = o["peers"].as_array().unwrap();
            assert_eq!(peers.len(), usize::from(b[0]), "frame {n}");
            for (i, p) in peers.iter().enumerate() {
                let e = &b[6 + 12 * i..18 + 12 * i];
                assert_eq!(p["owner"], colon_hex(&e[..6]));
                assert_eq!(
                    p["echo"],
                    e[6..10]
                        .iter()
                        .map(|x| format!("{x:02x}"))
                        .collect::<String>()
                );
            }
        }
    }
}

fn check_file(path: &Path, n_frames: usize, bad_index: usize) -> Vec<Value> {
    let out = run_decode(path, true);
    let ours: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let tshark = tshark_layers(path);
    assert_eq!(tshark.len(), n_frames);
    // Exactly the frames tshark dissects as GLBP get an object.
    let glbp_frames: Vec<u64> = tshark
        .iter()
        .filter(|l| l.get("glbp").is_some())
        .map(|l| num(&l["frame"]["frame.number"]))
        .collect();
    let our_frames: Vec<u64> = ours.iter().map(|o| o["frame"].as_u64().unwrap()).collect();
    assert_eq!(our_frames, glbp_frames);
    for o in &ours {
        let i = o["frame"].as_u64().unwrap() as usize - 1;
        if i == bad_index {
            assert_eq!(o.as_object().unwrap().len(), 2, "{o}");
            assert!(o["error"].as_str().unwrap().contains("length"), "{o}");
            // tshark 4.0 stops at a TLV length < 2 without an expert entry.
            assert!(
                tshark[i]["glbp"].get("glbp.tlv").is_none(),
                "tshark decoded TLVs in frame {}",
                i + 1
            );
        } else {
            let keys: Vec<&String> = o.as_object().unwrap().keys().collect();
            assert_eq!(
                keys,
                [
                    "auth",
                    "forwarders",
                    "frame",
                    "group",
                    "hello",
                    "nonce",
                    "owner",
                    "src_ip",
                    "src_mac"
                ],
                "{o}"
            );
            compare(o, &tshark[i]);
        }
    }
    ours
}

#[test]
fn decode_json_matches_tshark_on_pcap_and_pcapng() {
    let (frames, bad_index) = capture_frames();
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("glbp.pcap");
    let pcapng = dir.path().join("glbp.pcapng");
    write_pcap(&pcap, &frames);
    write_pcapng(&pcapng, &frames);
    let a = check_file(&pcap, frames.len(), bad_index);
    let b = check_file(&pcapng, frames.len(), bad_index);
    assert_eq!(a, b);
    assert_eq!(a.len(), cases().len() + 1);
}

#[test]
fn decode_text_lines() {
    let (frames, bad_index) = capture_frames();
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("glbp.pcap");
    write_pcap(&pcap, &frames);
    let text = run_decode(&pcap, false);
    let cases = cases();
    let lines: Vec<&str> = text.lines().collect();
    let fwd_lines = cases.iter().map(|c| c.msg.forwarders.len()).sum::<usize>();
    assert_eq!(lines.len(), cases.len() + fwd_lines + 1, "{text}");
    // Frame 1 is the test-vector hello of docs/protocol.md §14.
    assert_eq!(
        lines[0],
        "frame 1: GLBP: Grp 1 Hello in 10.0.0.1 (02:00:00:00:aa:01) owner 02:00:00:00:aa:01 VG Active pri 100 \
         vIP 10.0.0.254 hello 3000, hold 10000, redirect 600, timeout 14400 auth none"
    );
    assert_eq!(lines[1], "frame 1:     Fwd 1 VF Active pri 167 weight 100 vMAC 0007.b400.0101 timeout 14400, redirect 600");
    assert!(
        text.contains("frame 2: GLBP: Grp 40 Req/Resp in 10.0.0.2 (00:07:b4:00:28:02)"),
        "{text}"
    );
    assert!(
        text.contains("VG Standby pri 120 vIP fe80::7:b4ff:fe00:2e00"),
        "{text}"
    );
    assert!(text.contains("auth md5-chain key-id 7"), "{text}");
    let bad = format!("frame {}: GLBP: bad packet:", bad_index + 1);
    assert!(lines.last().unwrap().starts_with(&bad), "{text}");
}

#[test]
fn decode_rejects_a_non_capture() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.txt");
    std::fs::write(&path, "hello world").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_glbpd"))
        .arg("decode")
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a pcap or pcapng file"));
}
