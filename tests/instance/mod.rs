//! Shared helpers for tests that run the real `glbpd` binary on DPDK
//! virtual devices. Every instance gets a unique `--file-prefix`, runs with
//! `--no-pci --no-huge --no-shconf`, and is checked to leave no runtime
//! folder behind.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const GLBPD: &str = env!("CARGO_BIN_EXE_glbpd");

/// EAL arguments every test instance uses.
pub const EAL_ARGS: &str = r#"args = ["--no-pci", "--no-huge", "-m", "256", "--no-shconf", "--log-level", "lib.eal:warning"]"#;

/// The `[eal]` and `[dataplane]` sections every test instance uses.
pub fn eal_header(prefix: &str, workers: u16) -> String {
    format!("[eal]\n{EAL_ARGS}\nfile_prefix = \"{prefix}\"\n[dataplane]\nworkers = {workers}\nidle = \"adaptive\"\n")
}

/// A unique DPDK file prefix for this test.
pub fn prefix(test: &str) -> String {
    format!("glbpd-t{}-{test}", std::process::id())
}

/// Where DPDK keeps a prefix's runtime folder when running as root.
pub fn runtime_dir(prefix: &str) -> PathBuf {
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|_| !nix_is_root())
        .map(|d| PathBuf::from(d).join("dpdk"))
        .unwrap_or_else(|| PathBuf::from("/var/run/dpdk"));
    base.join(prefix)
}

fn nix_is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// A running glbpd process with its stderr collected.
pub struct Instance {
    pub child: Option<Child>,
    pub prefix: String,
    pub log: Arc<Mutex<String>>,
    pub dir: tempfile::TempDir,
}

impl Instance {
    /// Writes `config` (which must use `prefix`) and starts `glbpd run`,
    /// waiting up to 30 s for it to report that it runs.
    pub fn start(prefix: &str, config: &str) -> Instance {
        Self::start_with_env(prefix, config, "info")
    }

    /// Like `start`, with `RUST_LOG` set to `rust_log`.
    pub fn start_with_env(prefix: &str, config: &str, rust_log: &str) -> Instance {
        Self::start_in(None, prefix, config, rust_log)
    }

    /// Like `start_with_env`, in network namespace `netns` when given
    /// (`ip netns exec` runs glbpd in its own place: signals reach it).
    pub fn start_in(netns: Option<&str>, prefix: &str, config: &str, rust_log: &str) -> Instance {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("glbpd.toml");
        std::fs::write(&path, config).expect("write config");
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, GLBPD]);
                c
            }
            None => Command::new(GLBPD),
        };
        let mut child = cmd
            .args(["run", "-c"])
            .arg(&path)
            .env("RUST_LOG", rust_log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn glbpd");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let mut inst = Instance {
            child: Some(child),
            prefix: prefix.to_string(),
            log,
            dir,
        };
        inst.wait_log("glbpd running", Duration::from_secs(30));
        inst
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("running").id() as i32
    }

    /// Polls the log for `needle` until `timeout`; panics with the log.
    pub fn wait_log(&mut self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log().contains(needle) {
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "glbpd exited ({status}) before logging {needle:?}:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} within {timeout:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `sig` and waits (up to 30 s) for the exit status.
    pub fn signal_and_wait(&mut self, sig: nix::sys::signal::Signal) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).expect("kill");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(st) = child.try_wait().expect("wait") {
                // Let the reader thread collect the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return st;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "glbpd did not exit within 30 s after {sig}:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then asserts exit 0 and no runtime folder left.
    pub fn stop_clean(&mut self) -> String {
        let st = self.signal_and_wait(nix::sys::signal::Signal::SIGTERM);
        let log = self.log();
        assert!(st.success(), "glbpd exited with {st}:\n{log}");
        assert!(
            !runtime_dir(&self.prefix).exists(),
            "{} left behind:\n{log}",
            runtime_dir(&self.prefix).display()
        );
        log
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(runtime_dir(&self.prefix));
    }
}

/// Runs `glbpd ARGS...` to completion and returns (status, stdout, stderr).
pub fn glbpd(args: &[&str]) -> (ExitStatus, String, String) {
    let out = Command::new(GLBPD).args(args).output().expect("run glbpd");
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Parses the `final counters: {json}` line glbpd logs on a clean exit.
pub fn final_counters(log: &str) -> serde_json::Value {
    let line = log
        .lines()
        .find_map(|l| l.split_once("final counters: ").map(|(_, j)| j))
        .unwrap_or_else(|| panic!("no final counters in:\n{log}"));
    serde_json::from_str(line).expect("counters json")
}

/// Reads every packet of a pcap file.
pub fn read_pcap(path: &Path) -> Vec<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .read_to_end(&mut bytes)
        .unwrap();
    let mut r = pcap_file::pcap::PcapReader::new(&bytes[..]).expect("pcap header");
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        out.push(p.expect("pcap packet").data.into_owned());
    }
    out
}

/// Writes frames to a pcap file (Ethernet link type).
pub fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    let f = std::fs::File::create(path).expect("create pcap");
    let mut w = pcap_file::pcap::PcapWriter::new(f).expect("pcap writer");
    for (i, fr) in frames.iter().enumerate() {
        let ts = Duration::from_micros(i as u64);
        w.write_packet(&pcap_file::pcap::PcapPacket::new(ts, fr.len() as u32, fr))
            .expect("write packet");
    }
}

/// The Internet checksum, written independently of glbpd's own.
pub fn inet_checksum(b: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in b.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// `f` with an 802.1Q tag of TCI `tci` (priority bits and VLAN id) after
/// its MAC addresses.
pub fn tagged(f: &[u8], tci: u16) -> Vec<u8> {
    [&f[..12], &[0x81, 0x00], &tci.to_be_bytes()[..], &f[12..]].concat()
}

/// The VLAN id of a tagged frame, None when untagged.
pub fn vid(f: &[u8]) -> Option<u16> {
    (f.len() > 16 && f[12..14] == [0x81, 0x00]).then(|| u16::from_be_bytes([f[14], f[15]]) & 0x0fff)
}

/// The untagged IPv4 frame `orig` as a router forwards it: new MACs,
/// TTL - 1, header checksum recomputed (independently of glbpd's code).
pub fn routed(orig: &[u8], dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
    let mut want = orig.to_vec();
    want[0..6].copy_from_slice(&dst);
    want[6..12].copy_from_slice(&src);
    want[22] -= 1;
    want[24..26].copy_from_slice(&[0, 0]);
    let ck = inet_checksum(&want[14..34]);
    want[24..26].copy_from_slice(&ck.to_be_bytes());
    want
}

/// The untagged IPv6 frame `orig` as a router forwards it: new MACs, hop
/// limit - 1.
pub fn routed6(orig: &[u8], dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
    let mut want = orig.to_vec();
    want[0..6].copy_from_slice(&dst);
    want[6..12].copy_from_slice(&src);
    want[14 + 7] -= 1;
    want
}

/// An Ethernet + IPv4 + UDP frame with a correct IPv4 header checksum.
pub fn udp_frame(
    dst: [u8; 6],
    src: [u8; 6],
    sip: [u8; 4],
    dip: [u8; 4],
    ttl: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x08, 0x00]);
    let total = (20 + 8 + payload.len()) as u16;
    let mut ip = vec![0x45, 0, 0, 0, 0x12, 0x34, 0, 0, ttl, 17, 0, 0];
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&sip);
    ip.extend_from_slice(&dip);
    let ck = inet_checksum(&ip);
    ip[10..12].copy_from_slice(&ck.to_be_bytes());
    f.extend_from_slice(&ip);
    let ulen = (8 + payload.len()) as u16;
    f.extend_from_slice(&[0x30, 0x39, 0x1f, 0x90]);
    f.extend_from_slice(&ulen.to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
}

/// `glbpd show VIEW --json --prefix P`, parsed; Err with its stderr when it
/// fails (no such instance yet, for instance).
pub fn try_show_json(prefix: &str, view: &str) -> Result<serde_json::Value, String> {
    let (st, out, err) = glbpd(&["show", view, "--json", "--prefix", prefix]);
    if !st.success() {
        return Err(err);
    }
    serde_json::from_str(&out).map_err(|e| format!("{e}: {out}"))
}

/// `glbpd show VIEW --json --prefix P`, parsed; panics when it fails.
pub fn show_json(prefix: &str, view: &str) -> serde_json::Value {
    try_show_json(prefix, view).unwrap_or_else(|e| panic!("show {view} --json: {e}"))
}

/// Polls `f` every 50 ms until it returns Some, for up to `secs` seconds.
pub fn poll<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `cmd` with `sh -c`; panics when it fails.
pub fn sh(cmd: &str) {
    let st = Command::new("sh").args(["-c", cmd]).status().expect("sh");
    assert!(st.success(), "{cmd}");
}

/// Two network namespaces, "router" and "peer", joined by veth pairs;
/// removed when dropped. The kernel's IPv6 is off in both, so that only
/// glbpd and the test speak on the links.
pub struct Net {
    pub r: String,
    pub p: String,
}

impl Net {
    /// Namespaces `{prefix}-r` and `{prefix}-p` with one veth pair per
    /// (router end, peer end) of `veths`, all up. Needs root.
    pub fn new(prefix: &str, veths: &[(&str, &str)]) -> Net {
        assert!(nix_is_root(), "needs root (network namespaces)");
        let net = Net {
            r: format!("{prefix}-r"),
            p: format!("{prefix}-p"),
        };
        for ns in [&net.r, &net.p] {
            let _ = Command::new("ip")
                .args(["netns", "delete", ns])
                .stderr(Stdio::null())
                .status();
            sh(&format!("ip netns add {ns}"));
            sh(&format!(
                "ip netns exec {ns} sh -c 'ip link set lo up; \
                 sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1'"
            ));
        }
        for (a, b) in veths {
            sh(&format!(
                "ip link add {a} netns {} type veth peer name {b} netns {}",
                net.r, net.p
            ));
            sh(&format!("ip -n {} link set {a} up", net.r));
            sh(&format!("ip -n {} link set {b} up", net.p));
        }
        net
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in [&self.r, &self.p] {
            let _ = Command::new("ip").args(["netns", "delete", ns]).status();
        }
    }
}

/// Sends frames ((interface, hex)) from the peer namespace one after the
/// other and prints what arrived on each of the listed interfaces
/// meanwhile (not counting what it sent itself).
const PEER_PY: &str = r#"
import sys, json, time
from scapy.all import AsyncSniffer, sendp, conf
conf.verb = 0
job = json.load(sys.stdin)
todo = job["frames"]
sent = set(bytes.fromhex(h) for _, h in todo)
sn = {i: AsyncSniffer(iface=i, store=True) for i in job["ifaces"]}
for s in sn.values():
    s.start()
time.sleep(0.5)
for iface, h in todo:
    sendp(bytes.fromhex(h), iface=iface)
    time.sleep(0.05)
time.sleep(1.0)
out = {}
for i, s in sn.items():
    out[i] = [bytes(p).hex() for p in s.stop() if bytes(p) not in sent]
print(json.dumps(out))
"#;

/// Sends `frames` ((interface, bytes)) with scapy in namespace `ns` and
/// returns what arrived on `ifaces[0]` and `ifaces[1]` meanwhile.
pub fn peer(
    ns: &str,
    ifaces: [&str; 2],
    frames: &[(&str, Vec<u8>)],
) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let hex = |f: &[u8]| -> String { f.iter().map(|b| format!("{b:02x}")).collect() };
    let todo: Vec<(String, String)> = frames
        .iter()
        .map(|(i, f)| (i.to_string(), hex(f)))
        .collect();
    let job = serde_json::json!({ "ifaces": ifaces, "frames": todo });
    let mut c = Command::new("ip")
        .args(["netns", "exec", ns, "/usr/bin/python3", "-c", PEER_PY])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (package python3-scapy)");
    std::io::Write::write_all(&mut c.stdin.take().unwrap(), job.to_string().as_bytes()).unwrap();
    let out = c.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "scapy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("scapy output");
    let frames = |k: &str| -> Vec<Vec<u8>> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|h| {
                let h = h.as_str().unwrap();
                (0..h.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
                    .collect()
            })
            .collect()
    };
    (frames(ifaces[0]), frames(ifaces[1]))
}
