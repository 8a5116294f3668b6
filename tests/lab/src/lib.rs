//! A GLBP lab on one machine: glbpd routers and kernel hosts in network
//! namespaces, shared by the end-to-end tests (`tests/e2e.rs`) and the
//! `make run` demo (`examples/demo.rs`).
//!
//! ```text
//!  host ns h1..hN (eth0, default via the VIP)      router ns r1..rR
//!        \            \                              lan0 (net_af_packet)
//!         +--- LAN ns: bridge br0 -------------------+
//!                                                     up0 (net_af_packet)
//!         +--- upstream ns: bridge br1 = server 192.0.2.100
//! ```
//!
//! With `LabSpec::vlans` = [v0, v1, ...] the LAN is an 802.1Q trunk: each
//! router's `lan0` carries no address, one `[[vlan]]` `lan0.vJ` per id
//! with subnet 10.J.0.0/24 and a GLBP group with VIP 10.J.0.1; host h sits
//! on VLAN index h % vlans.len(), its `eth0` tagging what it sends and
//! taking only its VLAN's frames (`Lab::host_tagging`: this kernel has no
//! VLAN sub-interfaces). The bridge stays a plain one, which carries
//! tagged frames unchanged.
//!
//! Every object is named after `prefix` = `FAMILY-PID-TAG`: namespaces
//! `PREFIX-lan`, `PREFIX-up`, `PREFIX-rI`, `PREFIX-hI`, and each router's
//! DPDK `--file-prefix` is its namespace's name. Interfaces live inside the
//! namespaces, so their names are short and fixed. `Drop` removes
//! everything, a Ctrl-C handler does the same, and `Lab::start` first
//! removes what a dead process of the same family left behind.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const VIP: &str = "10.0.0.1";
/// Pings a host tries before calling the server unreachable. glbpd drops
/// (does not queue) a packet whose next hop it is still resolving, so on a
/// fresh path the first pings can be lost once at the forwarding router
/// (server unresolved) and once at the return router (host unresolved).
pub const TRIES: usize = 5;
pub const SERVER: &str = "192.0.2.100";
pub const UPLINK_VIP: &str = "192.0.2.1";
pub const GROUP: u16 = 1;
/// The LAN's IPv6 prefix (without its /64) in labs with an IPv6 group.
pub const V6_PREFIX: &str = "2001:db8:10::";
/// The uplink's IPv6 prefix (without its /64); router i is `::{2+i}`.
pub const V6_UPLINK: &str = "2001:db8:ff::";
/// The server's IPv6 address.
pub const SERVER6: &str = "2001:db8:ff::100";
/// With `uplink_group` and `v6_group`: the IPv6 group on the uplinks,
/// whose advertisements give the server its IPv6 router.
pub const UPLINK_V6_GROUP: u16 = 47;
/// IOS's `glbp 46 ipv6 autoconfig` address, the LAN's IPv6 gateway in the
/// labs' IPv6 group 46.
pub const V6_VIP: &str = "fe80::7:b4ff:fe00:2e00";

/// The virtual MAC of forwarder `n` of group 1.
pub fn vmac(n: u8) -> String {
    format!("00:07:b4:00:01:{n:02x}")
}

/// Seconds since the epoch, comparable with `ping -D` timestamps.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}

/// Prints a scenario's measurement and appends it to `e2e-outages.txt` in
/// the target folder (`target_tmpdir`: the test's `CARGO_TARGET_TMPDIR`).
pub fn record(target_tmpdir: &Path, scenario: &str, what: &str) {
    use std::io::Write;
    let line = format!("{scenario}: {what}");
    // Straight to the process's stderr: the test harness captures only
    // print!/eprint!, and CI runs without --nocapture.
    let _ = writeln!(std::io::stderr(), "{line}");
    let target = target_tmpdir
        .parent()
        .expect("target dir")
        .join("e2e-outages.txt");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(target)
    {
        let _ = writeln!(f, "{:.0} {line}", now());
    }
}

/// Runs a command line (split at white space), panicking with its output
/// when it fails.
pub fn sh(cmd: &str) -> String {
    let args: Vec<&str> = cmd.split_whitespace().collect();
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// tshark's `fields` of the frames of capture `pcap` that display filter
/// `filter` keeps, one row per frame. Each occurrence of a field is a
/// column of its own (a field that occurs three times takes three), or,
/// with `first`, only its first occurrence (not the packet an ICMP error
/// quotes). Booleans read 1 or 0, whether tshark prints them so or as
/// True and False (it depends on its version).
pub fn tshark_fields(pcap: &Path, filter: &str, fields: &[&str], first: bool) -> Vec<Vec<String>> {
    let mut c = Command::new("tshark");
    c.arg("-r")
        .arg(pcap)
        .args(["-Y", filter, "-T", "fields", "-E", "separator=,"]);
    if first {
        c.args(["-E", "occurrence=f"]);
    }
    for f in fields {
        c.args(["-e", f]);
    }
    let out = c.output().expect("tshark (package tshark)");
    assert!(out.status.success(), "tshark: {out:?}");
    let cell = |v: &str| match v {
        "True" => "1".to_string(),
        "False" => "0".to_string(),
        v => v.to_string(),
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split(',').map(cell).collect())
        .collect()
}

/// `glbpd show detail --json` of the instance with file prefix `prefix`.
pub fn show_json(glbpd: &Path, prefix: &str) -> serde_json::Value {
    show_view_json(glbpd, prefix, "detail")
}

/// `glbpd show VIEW --json` of the instance with file prefix `prefix`.
pub fn show_view_json(glbpd: &Path, prefix: &str, view: &str) -> serde_json::Value {
    let out = Command::new(glbpd)
        .args(["show", view, "--json", "--prefix", prefix])
        .output()
        .expect("glbpd show");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "glbpd show --prefix {prefix}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Runs a command line; its stdout when it succeeds.
pub fn sh_ok(cmd: &str) -> Option<String> {
    let args: Vec<&str> = cmd.split_whitespace().collect();
    Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
}

/// Runs a command line inside namespace `ns`.
pub fn nsx(ns: &str, cmd: &str) -> String {
    sh(&format!("ip netns exec {ns} {cmd}"))
}

/// Runs a command line inside namespace `ns`; its stdout when it succeeds.
pub fn nsx_ok(ns: &str, cmd: &str) -> Option<String> {
    sh_ok(&format!("ip netns exec {ns} {cmd}"))
}

/// Polls `cond` every 20 ms until it holds or `timeout` passes.
pub fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One router of the lab.
#[derive(Clone, Debug)]
pub struct RouterSpec {
    pub priority: u8,
    /// `weighting.max`: the weight of its forwarder.
    pub weight: u8,
    /// MD5 key-string, or none.
    pub md5: Option<String>,
}

impl RouterSpec {
    pub fn new(priority: u8) -> Self {
        RouterSpec {
            priority,
            weight: 100,
            md5: None,
        }
    }
}

/// A host's IPv4 neighbour timers (`net.ipv4.neigh.eth0.*`). An entry is
/// REACHABLE for `base_reachable_ms` x [0.5, 1.5], then STALE; the next
/// packet starts DELAY (`delay_first_probe_s`), then up to three unicast
/// probes to the cached MAC one second apart, then broadcast resolution.
#[derive(Clone, Copy, Debug)]
pub struct HostTimers {
    pub base_reachable_ms: u32,
    pub delay_first_probe_s: u32,
}

impl HostTimers {
    /// Linux's defaults (set explicitly, so that a machine with tuned
    /// defaults cannot change what the tests mean).
    pub const LINUX: HostTimers = HostTimers {
        base_reachable_ms: 30_000,
        delay_first_probe_s: 5,
    };
    /// The same mechanism, about fifteen times faster: re-validation every
    /// ~2-3 s, for scenarios that must see several rounds of it.
    pub const FAST: HostTimers = HostTimers {
        base_reachable_ms: 2000,
        delay_first_probe_s: 1,
    };
}

/// What to build.
#[derive(Clone, Debug)]
pub struct LabSpec {
    /// `e2e` for tests, `demo` for the demo; stale objects of the same
    /// family left by dead processes are removed at start.
    pub family: String,
    /// Short scenario tag (part of every name).
    pub tag: String,
    pub routers: Vec<RouterSpec>,
    pub hosts: usize,
    pub hello_ms: u32,
    pub hold_ms: u32,
    pub redirect_s: u32,
    pub timeout_s: u32,
    pub forwarder_preempt_delay_s: u32,
    pub load_balancing: String,
    /// The hosts' neighbour timers: Linux's defaults unless a scenario
    /// needs re-validation to run faster.
    pub host_timers: HostTimers,
    /// Capture GLBP and ARP on the LAN bridge.
    pub capture: bool,
    /// Which routers are started by `Lab::start` (the others with
    /// `start_router`).
    pub start: Vec<usize>,
    /// A second GLBP group (2, VIP `UPLINK_VIP`) on the routers' uplinks,
    /// and the server's route back to the hosts through it: the return
    /// path then survives any router too. Off in the tests, which route
    /// back through a chosen survivor to measure one side at a time.
    pub uplink_group: bool,
    /// `weighting` thresholds (lower, upper) of the LAN group.
    pub thresholds: Option<(u8, u8)>,
    /// TOML appended to every router's LAN group (`[[group.track]]`
    /// entries); with VLANs, to the group of each VLAN.
    pub lan_group_extra: String,
    /// 802.1Q VLAN ids on the LAN, or none (untagged, the default). VLAN
    /// index j has subnet 10.j.0.0/24, VIP 10.j.0.1 and its own group
    /// `GROUP`; host h is on VLAN index h % vlans.len().
    pub vlans: Vec<u16>,
    /// An IPv6 GLBP group (this id, `vip = "autoconfig"`) beside the IPv4
    /// group on `lan0`, with the same priorities and timers: a dual-stack
    /// LAN. Untagged LANs only. The routers then have `address6`
    /// `V6_PREFIX::{2+i}/64` (advertised in their router advertisements),
    /// the hosts run IPv6 with the kernel's defaults (router
    /// advertisements accepted, SLAAC, Neighbor Discovery timers), and the
    /// capture takes ICMPv6 too.
    pub v6_group: Option<u16>,
}

impl LabSpec {
    /// `routers` routers with priorities 110, 105, 100, ... and `hosts`
    /// hosts; hello 100 ms, hold 400 ms, redirect 5 s, timeout 10 s,
    /// forwarder preempt delay 2 s, round-robin.
    pub fn new(family: &str, tag: &str, routers: usize, hosts: usize) -> Self {
        LabSpec {
            family: family.into(),
            tag: tag.into(),
            routers: (0..routers)
                .map(|i| RouterSpec::new(110 - 5 * i as u8))
                .collect(),
            hosts,
            hello_ms: 100,
            hold_ms: 400,
            redirect_s: 5,
            timeout_s: 10,
            forwarder_preempt_delay_s: 2,
            load_balancing: "round-robin".into(),
            host_timers: HostTimers::LINUX,
            capture: true,
            start: (0..routers).collect(),
            uplink_group: false,
            thresholds: None,
            lan_group_extra: String::new(),
            vlans: Vec::new(),
            v6_group: None,
        }
    }
}

/// A running (or stopped) glbpd in its namespace.
pub struct Router {
    pub ns: String,
    pub mac: String,
    pub lan_ip: String,
    pub up_ip: String,
    pub config: PathBuf,
    child: Option<Child>,
    /// (receive time, line) of every stderr line, across restarts.
    log: Arc<Mutex<Vec<(f64, String)>>>,
    /// Index in `log` where the current run starts.
    run_start: usize,
}

impl Router {
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// The log of the current (or last) run, with receive times.
    pub fn lines(&self) -> Vec<(f64, String)> {
        self.log.lock().unwrap()[self.run_start..].to_vec()
    }

    pub fn log_text(&self) -> String {
        let l = self.log.lock().unwrap();
        l.iter()
            .map(|(_, s)| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The gateway state of group 1 on `lan0`, from the last STATECHANGE
    /// line.
    pub fn vg_state(&self) -> String {
        self.vg_state_on("lan0")
    }

    /// The gateway state of group 1 on interface `iface` (`lan0`, or a
    /// VLAN such as `lan0.10`), from the last STATECHANGE line.
    pub fn vg_state_on(&self, iface: &str) -> String {
        self.vg_state_of(iface, GROUP)
    }

    /// The gateway state of group `group` on interface `iface`, from the
    /// last STATECHANGE line.
    pub fn vg_state_of(&self, iface: &str, group: u16) -> String {
        let needle = format!("%GLBP-6-STATECHANGE: {iface} Grp {group} state ");
        self.lines()
            .iter()
            .rev()
            .find_map(|(_, l)| {
                l.split_once(needle.as_str())
                    .and_then(|(_, s)| s.split(" -> ").nth(1))
                    .map(|s| s.trim().to_string())
            })
            .unwrap_or_else(|| "Init".into())
    }

    /// Forwarder number -> state on `lan0`, from FWDSTATECHANGE lines.
    pub fn vf_states(&self) -> BTreeMap<u8, String> {
        self.vf_states_on("lan0")
    }

    /// Forwarder number -> state on interface `iface`, from
    /// FWDSTATECHANGE lines.
    pub fn vf_states_on(&self, iface: &str) -> BTreeMap<u8, String> {
        self.vf_states_of(iface, GROUP)
    }

    /// Forwarder number -> state of group `group` on interface `iface`,
    /// from FWDSTATECHANGE lines.
    pub fn vf_states_of(&self, iface: &str, group: u16) -> BTreeMap<u8, String> {
        let needle = format!("%GLBP-6-FWDSTATECHANGE: {iface} Grp {group} Fwd ");
        let mut m = BTreeMap::new();
        for (_, l) in self.lines() {
            if let Some((_, s)) = l.split_once(needle.as_str()) {
                let mut it = s.split_whitespace();
                let n = it.next().and_then(|n| n.parse().ok());
                if let (Some(n), Some(new)) = (n, s.split(" -> ").nth(1)) {
                    m.insert(n, new.trim().to_string());
                }
            }
        }
        m
    }

    /// VMACs its workers forward for now on `lan0` (only while it runs).
    pub fn forwarding(&mut self) -> Vec<String> {
        self.forwarding_on("lan0")
    }

    /// VMACs its workers forward for now on interface `iface` (only while
    /// it runs).
    pub fn forwarding_on(&mut self, iface: &str) -> Vec<String> {
        if !self.running() {
            return Vec::new();
        }
        let gone = format!("{iface}: no longer forwarding for ");
        let new = format!("{iface}: forwarding for ");
        let mut set = Vec::new();
        for (_, l) in self.lines() {
            if let Some(m) = after_word(&l, &gone) {
                set.retain(|x: &String| x != m.trim());
            } else if let Some(m) = after_word(&l, &new) {
                set.push(m.trim().to_string());
            }
        }
        // Group `GROUP`'s VMACs only (not an IPv6 group's beside it).
        let ours = &vmac(0)[..15];
        set.retain(|m| m.starts_with(ours));
        set.sort();
        set.dedup();
        set
    }

    /// When (receive time) a line containing `needle` was first logged in
    /// this run, after `after`.
    pub fn logged_at(&self, needle: &str, after: f64) -> Option<f64> {
        self.lines()
            .iter()
            .find(|(t, l)| *t >= after && l.contains(needle))
            .map(|(t, _)| *t)
    }

    /// `%GLBP-6-STATECHANGE` and `FWDSTATECHANGE` lines logged after `after`.
    pub fn transitions(&self, after: f64) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|(t, l)| *t > after && l.contains("STATECHANGE"))
            .map(|(_, l)| l)
            .collect()
    }

    /// The last `control: {json}` counters of this run.
    pub fn control(&self) -> Option<serde_json::Value> {
        self.lines().iter().rev().find_map(|(_, l)| {
            l.split_once("control: ")
                .and_then(|(_, j)| serde_json::from_str(j).ok())
        })
    }
}

/// What follows `needle` in `line`, where `needle` starts a word (so that
/// `lan0.1: ` does not match in `xlan0.1: ` and `lan0: ` not in
/// `vlan0: `).
fn after_word<'a>(line: &'a str, needle: &str) -> Option<&'a str> {
    line.match_indices(needle).find_map(|(i, _)| {
        let before = line[..i].chars().next_back();
        (!before.is_some_and(|c| c.is_alphanumeric() || c == '.' || c == '_'))
            .then(|| &line[i + needle.len()..])
    })
}

/// One GLBP frame of the LAN capture, as tshark decodes it.
pub struct GlbpFrame {
    pub time: f64,
    pub eth_src: String,
    /// Owner ID: the sender's own MAC.
    pub owner: String,
    /// Carries a Hello TLV.
    pub hello: bool,
    /// VMACs of the forwarder TLVs.
    pub vmacs: Vec<String>,
}

/// A host's continuous ping to the server, or to another address
/// (`ping -D -i 0.02`).
pub struct Pinger {
    pub host: usize,
    /// What it pings.
    pub dst: String,
    child: Child,
    replies: Arc<Mutex<Vec<f64>>>,
    pub started: f64,
}

pub const PING_INTERVAL: f64 = 0.02;

impl Pinger {
    pub fn replies(&self) -> Vec<f64> {
        self.replies.lock().unwrap().clone()
    }

    /// The longest silence between consecutive replies (or a window edge)
    /// in `[from, to]`, minus one interval: the outage the host saw.
    pub fn outage(&self, from: f64, to: f64) -> f64 {
        self.worst_gap(from, to).1
    }

    /// (start, outage) of the longest silence in `[from, to]`.
    pub fn worst_gap(&self, from: f64, to: f64) -> (f64, f64) {
        let mut t: Vec<f64> = self
            .replies()
            .into_iter()
            .filter(|&x| x >= from && x <= to)
            .collect();
        t.insert(0, from);
        t.push(to);
        let (start, gap) = t
            .windows(2)
            .map(|w| (w[0], w[1] - w[0]))
            .fold((from, 0.0), |a, b| if b.1 > a.1 { b } else { a });
        (start, (gap - PING_INTERVAL).max(0.0))
    }

    /// Replies after `t`.
    pub fn replies_after(&self, t: f64) -> usize {
        self.replies().iter().filter(|&&x| x > t).count()
    }
}

impl Drop for Pinger {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The lab. Dropping it tears everything down.
pub struct Lab {
    pub spec: LabSpec,
    pub prefix: String,
    pub dir: PathBuf,
    pub glbpd: PathBuf,
    pub routers: Vec<Router>,
    capture: Option<Child>,
    pub pcap: PathBuf,
}

static LIVE: OnceLock<Mutex<Vec<String>>> = OnceLock::new();

fn live() -> &'static Mutex<Vec<String>> {
    LIVE.get_or_init(|| {
        // Ctrl-C / SIGTERM: tear down every live lab, then exit.
        if let Ok(mut sigs) = signal_hook::iterator::Signals::new([
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGTERM,
            signal_hook::consts::SIGHUP,
        ]) {
            std::thread::spawn(move || {
                if let Some(sig) = sigs.forever().next() {
                    eprintln!("\nsignal {sig}: tearing the lab down");
                    let labs = LIVE.get().map(|l| l.lock().unwrap().clone());
                    for p in labs.unwrap_or_default() {
                        remove_prefix(&p);
                        let _ = std::fs::remove_dir_all(std::env::temp_dir().join(&p));
                    }
                    std::process::exit(130);
                }
            });
        }
        Mutex::new(Vec::new())
    })
}

/// Kills every process in the namespaces named `prefix-*`, deletes them
/// (which destroys their veths and bridges) and removes the DPDK runtime
/// folders `prefix-*`.
pub fn remove_prefix(prefix: &str) {
    let list = sh_ok("ip netns list").unwrap_or_default();
    let start = format!("{prefix}-");
    for ns in list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&start))
    {
        for pid in sh_ok(&format!("ip netns pids {ns}"))
            .unwrap_or_default()
            .split_whitespace()
        {
            let _ = sh_ok(&format!("kill -9 {pid}"));
        }
        // Give the kernel a moment to reap them before deleting.
        for _ in 0..50 {
            if sh_ok(&format!("ip netns pids {ns}")).is_some_and(|s| s.trim().is_empty()) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = sh_ok(&format!("ip netns delete {ns}"));
    }
    if let Ok(rd) = std::fs::read_dir("/var/run/dpdk") {
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with(&start) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// Removes what dead processes of `family` left (`family-PID-*` with no
/// process PID).
fn remove_stale(family: &str) {
    let list = sh_ok("ip netns list").unwrap_or_default();
    let mut names: Vec<String> = list
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .collect();
    if let Ok(rd) = std::fs::read_dir("/var/run/dpdk") {
        names.extend(rd.flatten().map(|e| e.file_name().to_string_lossy().into()));
    }
    let me = std::process::id().to_string();
    let mut pids: Vec<String> = names
        .iter()
        .filter_map(|n| n.strip_prefix(&format!("{family}-")))
        .filter_map(|r| r.split('-').next().map(String::from))
        .filter(|pid| *pid != me && !Path::new(&format!("/proc/{pid}")).exists())
        .collect();
    pids.sort();
    pids.dedup();
    for pid in pids {
        eprintln!("removing stale lab objects {family}-{pid}-*");
        remove_prefix(&format!("{family}-{pid}"));
    }
    // Configs and logs of dead runs (kept when a scenario failed).
    if let Ok(rd) = std::fs::read_dir(std::env::temp_dir()) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let pid = name
                .strip_prefix(&format!("{family}-"))
                .and_then(|r| r.split('-').next());
            if pid.is_some_and(|p| p != me && !Path::new(&format!("/proc/{p}")).exists()) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

impl Lab {
    pub fn lan_ns(&self) -> String {
        format!("{}-lan", self.prefix)
    }
    pub fn up_ns(&self) -> String {
        format!("{}-up", self.prefix)
    }
    pub fn host_ns(&self, h: usize) -> String {
        format!("{}-h{}", self.prefix, h + 1)
    }
    /// Host `h`'s address in an untagged lab (and on VLAN index 0).
    pub fn host_ip(h: usize) -> String {
        format!("10.0.0.{}", 101 + h)
    }
    pub fn host_mac(h: usize) -> String {
        format!("02:00:00:00:0c:{:02x}", h + 1)
    }

    /// The VLAN index (into `spec.vlans`) of host `h`, or none when the LAN
    /// is untagged.
    pub fn host_vlan_index(&self, h: usize) -> Option<usize> {
        (!self.spec.vlans.is_empty()).then(|| h % self.spec.vlans.len())
    }

    /// The VLAN id of host `h`, or none when the LAN is untagged.
    pub fn host_vlan(&self, h: usize) -> Option<u16> {
        self.host_vlan_index(h).map(|j| self.spec.vlans[j])
    }

    /// Host `h`'s address: 10.j.0.(101+h) on VLAN index j.
    pub fn host_ip_of(&self, h: usize) -> String {
        let j = self.host_vlan_index(h).unwrap_or(0);
        format!("10.{j}.0.{}", 101 + h)
    }

    /// Host `h`'s interface in its namespace, tagged or not (see
    /// `host_tagging`).
    pub fn host_dev(&self, _h: usize) -> String {
        "eth0".into()
    }

    /// Host `h`'s default gateway: its VLAN's VIP.
    pub fn host_vip(&self, h: usize) -> String {
        self.vip_of(self.host_vlan_index(h).unwrap_or(0))
    }

    /// The routers' interface that serves host `h`: `lan0`, or `lan0.ID`.
    pub fn host_iface(&self, h: usize) -> String {
        self.host_vlan(h)
            .map_or_else(|| "lan0".into(), |id| format!("lan0.{id}"))
    }

    /// The routers' LAN interfaces carrying a group: `lan0`, or one
    /// `lan0.ID` per VLAN.
    pub fn lan_ifaces(&self) -> Vec<String> {
        if self.spec.vlans.is_empty() {
            vec!["lan0".into()]
        } else {
            self.spec
                .vlans
                .iter()
                .map(|id| format!("lan0.{id}"))
                .collect()
        }
    }

    /// The VIP of the group on VLAN index `j` (`VIP` for index 0 and for
    /// the untagged LAN).
    pub fn vip_of(&self, j: usize) -> String {
        format!("10.{j}.0.1")
    }

    /// The hosts' subnets, one per LAN interface.
    pub fn lan_subnets(&self) -> Vec<String> {
        (0..self.spec.vlans.len().max(1))
            .map(|j| format!("10.{j}.0.0/24"))
            .collect()
    }

    /// Builds the topology and starts the routers in `spec.start`; does not
    /// wait for GLBP.
    pub fn start(glbpd: &Path, spec: LabSpec) -> Lab {
        assert!(
            nix::unistd::Uid::effective().is_root(),
            "the end-to-end lab needs root (network namespaces)"
        );
        let prefix = format!("glbp{}-{}-{}", spec.family, std::process::id(), spec.tag);
        remove_stale(&format!("glbp{}", spec.family));
        remove_prefix(&prefix);
        live().lock().unwrap().push(prefix.clone());
        let dir = std::env::temp_dir().join(&prefix);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("lab dir");
        let pcap = dir.join("lan.pcap");
        let mut lab = Lab {
            spec: spec.clone(),
            prefix,
            dir,
            glbpd: glbpd.to_path_buf(),
            routers: Vec::new(),
            capture: None,
            pcap,
        };
        lab.build();
        for i in spec.start.clone() {
            lab.start_router(i);
        }
        lab
    }

    fn add_ns(&self, ns: &str) {
        sh(&format!("ip netns add {ns}"));
        nsx(ns, "ip link set lo up");
        // No IPv6 chatter (router solicitations, MLD) on the LAN.
        nsx(ns, "sysctl -qw net.ipv6.conf.all.disable_ipv6=1");
        nsx(ns, "sysctl -qw net.ipv6.conf.default.disable_ipv6=1");
    }

    /// A veth `a`@`ns_a` <-> `b`@`ns_b`, `b` enslaved to bridge `br`.
    fn add_link(&self, (ns_a, a): (&str, &str), (ns_b, b): (&str, &str), br: &str, mac: &str) {
        sh(&format!(
            "ip link add {a} netns {ns_a} {mac} type veth peer name {b} netns {ns_b}"
        ));
        nsx(ns_b, &format!("ip link set {b} master {br} up"));
        nsx(ns_a, &format!("ip link set {a} up"));
    }

    fn build(&mut self) {
        let (lan, up) = (self.lan_ns(), self.up_ns());
        for (n, (ns, br)) in [(&lan, "br0"), (&up, "br1")].into_iter().enumerate() {
            self.add_ns(ns);
            nsx(
                ns,
                &format!(
                    "ip link add {br} type bridge stp_state 0 forward_delay 0 mcast_snooping 0"
                ),
            );
            // A fixed MAC: a bridge otherwise takes its ports' lowest, so
            // detaching a router's port could change the server's MAC
            // under every router's ARP entry (a real server's stays).
            nsx(
                ns,
                &format!("ip link set {br} address 02:00:00:00:0f:{n:02x}"),
            );
            nsx(ns, &format!("ip link set {br} up"));
        }
        // The server is the upstream bridge's own address. It answers ARP
        // only on the bridge, as a separate host would: by default Linux
        // answers for any local address on any interface, so a router's
        // uplink detached from the bridge would still see the server.
        nsx(&up, &format!("ip addr add {SERVER}/24 dev br1"));
        nsx(&up, "sysctl -qw net.ipv4.conf.all.arp_ignore=1");
        // Likewise it takes packets only from the bridge: Linux accepts
        // packets for a local address on any interface (weak host model),
        // so traffic through a detached uplink would still arrive. Strict
        // reverse-path filtering drops what comes in where replies would
        // not go out.
        nsx(&up, "sysctl -qw net.ipv4.conf.all.rp_filter=1");
        // Kernel senders on veths leave UDP/TCP checksums to an offload
        // that never happens when an af_packet router forwards the frame:
        // the receiver would drop them (UdpInCsumErrors). Checksum in
        // software instead, as a NIC would.
        nsx(&up, "ethtool -K br1 tx off");
        if self.spec.v6_group.is_some() {
            // The server's IPv6 address (no duplicate address detection:
            // it is the only host there).
            nsx(&up, "sysctl -qw net.ipv6.conf.br1.disable_ipv6=0");
            nsx(&up, &format!("ip addr add {SERVER6}/64 dev br1 nodad"));
        }
        // The hosts.
        for h in 0..self.spec.hosts {
            let ns = self.host_ns(h);
            self.add_ns(&ns);
            let mac = format!("address {}", Self::host_mac(h));
            self.add_link((&ns, "eth0"), (&lan, &format!("h{}", h + 1)), "br0", &mac);
            if let Some(id) = self.host_vlan(h) {
                self.host_tagging(&ns, id);
            }
            nsx(
                &ns,
                &format!("ip addr add {}/24 dev eth0", self.host_ip_of(h)),
            );
            nsx(
                &ns,
                &format!("ip route add default via {}", self.host_vip(h)),
            );
            nsx(&ns, "ethtool -K eth0 tx off");
            if self.spec.v6_group.is_some() {
                // IPv6 as the kernel runs it by default: the link-local
                // address, router solicitations, SLAAC, ND timers.
                nsx(&ns, "sysctl -qw net.ipv6.conf.eth0.disable_ipv6=0");
            }
            let t = self.spec.host_timers;
            nsx(
                &ns,
                &format!(
                    "sysctl -qw net.ipv4.neigh.eth0.base_reachable_time_ms={} \
                     net.ipv4.neigh.eth0.delay_first_probe_time={} \
                     net.ipv4.neigh.eth0.ucast_solicit=3 net.ipv4.neigh.eth0.mcast_solicit=3 \
                     net.ipv4.neigh.eth0.retrans_time_ms=1000",
                    t.base_reachable_ms, t.delay_first_probe_s
                ),
            );
        }
        // The routers' namespaces, links and configurations.
        for i in 0..self.spec.routers.len() {
            let ns = format!("{}-r{}", self.prefix, i + 1);
            self.add_ns(&ns);
            let port = format!("r{}", i + 1);
            self.add_link((&ns, "lan0"), (&lan, &port), "br0", "");
            self.trunk_port(&port);
            self.add_link((&ns, "up0"), (&up, &port), "br1", "");
            let r = Router {
                mac: format!("02:00:00:00:0a:{:02x}", i + 1),
                lan_ip: format!("10.0.0.{}", 2 + i),
                up_ip: format!("192.0.2.{}", 2 + i),
                config: self.dir.join(format!("r{}.toml", i + 1)),
                ns,
                child: None,
                log: Arc::default(),
                run_start: 0,
            };
            std::fs::write(&r.config, self.router_config(i, &r)).expect("write config");
            self.routers.push(r);
        }
        if self.spec.uplink_group {
            let up = self.up_ns();
            for net in self.lan_subnets() {
                nsx(&up, &format!("ip route replace {net} via {UPLINK_VIP}"));
            }
        } else {
            // Replies to the hosts go back through the last router started.
            self.return_via(*self.spec.start.last().expect("a router to start"));
        }
        if self.spec.capture {
            let child = Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &lan,
                    "tcpdump",
                    "-q",
                    "-U",
                    "--immediate-mode",
                    "-i",
                    "br0",
                    "-w",
                ])
                .arg(&self.pcap)
                .arg(if self.spec.v6_group.is_some() {
                    // ICMPv6, and what has a hop-by-hop header first (MLD),
                    // which `icmp6` does not look behind.
                    "udp port 3222 or arp or icmp6 or (ip6 and ip6[6] == 0)"
                } else if self.spec.vlans.is_empty() {
                    "udp port 3222 or arp"
                } else {
                    "(udp port 3222 or arp) or (vlan and (udp port 3222 or arp))"
                })
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("tcpdump");
            self.capture = Some(child);
            // tcpdump says "listening on br0" once it captures.
            let err = self.capture.as_mut().unwrap().stderr.take().unwrap();
            let mut r = BufReader::new(err);
            let mut line = String::new();
            let _ = r.read_line(&mut line);
            assert!(line.contains("listening"), "tcpdump: {line}");
            std::thread::spawn(move || for _ in r.lines() {});
        }
    }

    /// Makes `eth0` in namespace `ns` a member of VLAN `id` only: it
    /// sends every frame tagged `id` and takes only frames tagged `id`,
    /// untagging them; everything else (other VLANs, untagged frames) is
    /// dropped, as a kernel VLAN sub-interface would see it.
    ///
    /// The kernels of the build machines have no 802.1Q support
    /// (`CONFIG_VLAN_8021Q`, hence no `ip link add ... type vlan` and no
    /// VLAN-filtering bridge) and no tc `vlan` action, but they have
    /// clsact and cls_bpf, whose programs can push and pop tags
    /// (`bpf_skb_vlan_push/pop` are in the core, not in 8021q). The
    /// program is compiled with clang's BPF target at lab start.
    fn host_tagging(&self, ns: &str, id: u16) {
        const PROG: &str = r#"#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
SEC("tc")
int vlan_egress(struct __sk_buff *skb)
{
	if (bpf_skb_vlan_push(skb, bpf_htons(0x8100), VLAN_ID))
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}
SEC("tc")
int vlan_ingress(struct __sk_buff *skb)
{
	if (!skb->vlan_present || (skb->vlan_tci & 0xfff) != VLAN_ID)
		return TC_ACT_SHOT;
	if (bpf_skb_vlan_pop(skb))
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}
char _license[] SEC("license") = "GPL";
"#;
        let src = self.dir.join("vlan.c");
        let obj = self.dir.join(format!("vlan{id}.o"));
        if !obj.exists() {
            std::fs::write(&src, PROG).expect("write vlan.c");
            sh(&format!(
                "clang -O2 -target bpf -DVLAN_ID={id} -I/usr/include/{}-linux-gnu -c {} -o {}",
                std::env::consts::ARCH,
                src.display(),
                obj.display()
            ));
        }
        let obj = obj.display();
        nsx(ns, "tc qdisc add dev eth0 clsact");
        for dir in ["egress", "ingress"] {
            nsx(
                ns,
                &format!("tc filter add dev eth0 {dir} bpf da obj {obj} sec tc program vlan_{dir}"),
            );
        }
    }

    fn router_config(&self, i: usize, r: &Router) -> String {
        // Each router on its own server would have its own worker core: on
        // this machine the routers alternate which CPU runs their worker,
        // so two routers' workers do not share one CPU under load.
        fn lcores(i: usize) -> String {
            let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
            if cpus < 2 {
                return String::new();
            }
            let (control, worker) = if i % 2 == 0 { (0, 1) } else { (1, 0) };
            format!(", \"--lcores\", \"0@{control},1@{worker}\"")
        }
        let s = &self.spec;
        let rs = &s.routers[i];
        let auth = rs
            .md5
            .as_ref()
            .map(|k| format!("authentication = {{ md5 = \"{k}\" }}\n"))
            .unwrap_or_default();
        // The LAN group, on `lan0` or once per VLAN.
        let group = |iface: &str, id: u16, vip: &str| {
            format!(
                r#"
[[group]]
port = "{iface}"
id = {id}
vip = "{vip}"
priority = {prio}
hello_ms = {hello}
hold_ms = {hold}
redirect_s = {redirect}
timeout_s = {timeout}
forwarder_preempt_delay_s = {fpd}
load_balancing = "{lb}"
weighting = {{ max = {w}{thresholds} }}
{auth}{extra}"#,
                prio = rs.priority,
                hello = s.hello_ms,
                hold = s.hold_ms,
                redirect = s.redirect_s,
                timeout = s.timeout_s,
                fpd = s.forwarder_preempt_delay_s,
                lb = s.load_balancing,
                w = rs.weight,
                thresholds = s
                    .thresholds
                    .map(|(l, u)| format!(", lower = {l}, upper = {u}"))
                    .unwrap_or_default(),
                extra = s.lan_group_extra,
            )
        };
        let (lan_address, lan) = if s.vlans.is_empty() {
            let v6 = s
                .v6_group
                .map_or_else(String::new, |id| group("lan0", id, "autoconfig"));
            let address6 = if s.v6_group.is_some() {
                format!("address6 = [\"{V6_PREFIX}{:x}/64\"]\n", 2 + i)
            } else {
                String::new()
            };
            (
                format!("address = \"{}/24\"\n{address6}", r.lan_ip),
                group("lan0", GROUP, VIP) + &v6,
            )
        } else {
            // A trunk: no address on the port, one per VLAN.
            let mut lan = String::new();
            for (j, id) in s.vlans.iter().enumerate() {
                lan += &format!(
                    "\n[[vlan]]\nport = \"lan0\"\nid = {id}\naddress = \"10.{j}.0.{}/24\"\n",
                    2 + i
                );
            }
            for (j, id) in s.vlans.iter().enumerate() {
                lan += &group(&format!("lan0.{id}"), GROUP, &self.vip_of(j));
            }
            (String::new(), lan)
        };
        format!(
            r#"# glbpd router {n} of lab {prefix}
[eal]
args = ["--no-pci", "--no-huge", "-m", "256", "--no-shconf", "--log-level", "lib.eal:warning"{lcores}]
file_prefix = "{ns}"

[dataplane]
workers = 1
idle = "adaptive"

[[port]]
name = "lan0"
device = "net_af_packet0,iface=lan0,framecnt=4096"
{lan_address}mac = "{mac}"

[[port]]
name = "up0"
device = "net_af_packet1,iface=up0,framecnt=4096"
address = "{up}/24"
{up6}mac = "02:00:00:00:0b:{n:02x}"
{lan}{uplink}"#,
            n = i + 1,
            lcores = lcores(i),
            prefix = self.prefix,
            ns = r.ns,
            mac = r.mac,
            up = r.up_ip,
            up6 = if s.v6_group.is_some() {
                format!("address6 = [\"{V6_UPLINK}{:x}/64\"]\n", i + 2)
            } else {
                String::new()
            },
            uplink = if s.uplink_group {
                let mut g = format!(
                    "\n[[group]]\nport = \"up0\"\nid = 2\nvip = \"{UPLINK_VIP}\"\n\
                     priority = {}\nhello_ms = {}\nhold_ms = {}\n",
                    rs.priority, s.hello_ms, s.hold_ms
                );
                if s.v6_group.is_some() {
                    // The server learns its IPv6 router from this group's
                    // advertisements.
                    g += &format!(
                        "\n[[group]]\nport = \"up0\"\nid = {UPLINK_V6_GROUP}\nvip = \"autoconfig\"\n\
                         priority = {}\nhello_ms = {}\nhold_ms = {}\n",
                        rs.priority, s.hello_ms, s.hold_ms
                    );
                }
                g
            } else {
                String::new()
            },
        )
    }

    /// The server's route back to the hosts' subnets goes through router
    /// `i`.
    pub fn return_via(&self, i: usize) {
        let via = &self.routers[i].up_ip;
        for net in self.lan_subnets() {
            nsx(&self.up_ns(), &format!("ip route replace {net} via {via}"));
        }
        if self.spec.v6_group.is_some() {
            nsx(
                &self.up_ns(),
                &format!(
                    "ip -6 route replace {V6_PREFIX}/64 via {V6_UPLINK}{:x}",
                    2 + i
                ),
            );
        }
    }

    /// Starts (or restarts) router `i` and waits until it runs.
    pub fn start_router(&mut self, i: usize) {
        let r = &mut self.routers[i];
        assert!(!r.running(), "router {} already runs", i + 1);
        let mut child = Command::new("ip")
            .args(["netns", "exec", &r.ns])
            .arg(&self.glbpd)
            .args(["run", "-c"])
            .arg(&r.config)
            .env("RUST_LOG", "info,glbpd::runtime=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn glbpd");
        let err = child.stderr.take().expect("stderr");
        let log = r.log.clone();
        r.run_start = log.lock().unwrap().len();
        r.child = Some(child);
        let file = self.dir.join(format!("r{}.log", i + 1));
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(file)
                .ok();
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if let Some(f) = f.as_mut() {
                    let _ = writeln!(f, "{line}");
                }
                log.lock().unwrap().push((now(), line));
            }
        });
        let ok = wait_for(Duration::from_secs(30), || {
            let r = &mut self.routers[i];
            r.lines().iter().any(|(_, l)| l.contains("glbpd running")) || !r.running()
        });
        let r = &mut self.routers[i];
        assert!(
            ok && r.running(),
            "router {} did not start:\n{}",
            i + 1,
            r.log_text()
        );
    }

    /// Sends `sig` to router `i`'s glbpd; with SIGTERM waits for a clean
    /// exit (status 0), with SIGKILL for it to be gone.
    pub fn signal_router(&mut self, i: usize, sig: nix::sys::signal::Signal) -> f64 {
        let r = &mut self.routers[i];
        let mut child = r.child.take().expect("router runs");
        let t = now();
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).expect("kill");
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(st) = child.try_wait().expect("wait") {
                break st;
            }
            assert!(
                Instant::now() < deadline,
                "router {} did not exit after {sig}",
                i + 1
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        if sig == nix::sys::signal::Signal::SIGTERM {
            std::thread::sleep(Duration::from_millis(100));
            assert!(
                status.success(),
                "router {} exited with {status}:\n{}",
                i + 1,
                r.log_text()
            );
        }
        // A killed process leaves its runtime folder behind.
        let _ = std::fs::remove_dir_all(Path::new("/var/run/dpdk").join(&r.ns));
        t
    }

    /// Stops (SIGSTOP) or resumes (SIGCONT) the glbpd of every router in
    /// `which`, one right after the other: a stall of the whole process,
    /// control lcore and workers, as a starved or frozen machine. Returns
    /// when the last signal went out.
    pub fn pause_routers(&self, which: &[usize], paused: bool) -> f64 {
        let sig = if paused {
            nix::sys::signal::Signal::SIGSTOP
        } else {
            nix::sys::signal::Signal::SIGCONT
        };
        for &i in which {
            let pid = self.routers[i].pid().expect("router runs");
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig).expect("kill");
        }
        now()
    }

    /// With VLANs, the LAN bridge does not learn behind router port
    /// `port`: frames to the routers' MACs and VMACs reach every router.
    /// The plain bridge learns one MAC table for all VLANs, while both
    /// VLANs' groups use the same VMACs, possibly on different routers;
    /// learning them would move a VMAC between ports at every hello (a
    /// VLAN-aware switch learns per VLAN). Each router must then drop
    /// what is not its own on that VLAN.
    fn trunk_port(&self, port: &str) {
        if !self.spec.vlans.is_empty() {
            nsx(
                &self.lan_ns(),
                &format!("ip link set {port} type bridge_slave learning off"),
            );
        }
    }

    /// Detaches (`false`) or re-attaches router `i`'s LAN port from the LAN
    /// bridge, on the bridge side.
    pub fn lan_link(&self, i: usize, attached: bool) {
        let port = format!("r{}", i + 1);
        let lan = self.lan_ns();
        if attached {
            nsx(&lan, &format!("ip link set {port} master br0"));
            self.trunk_port(&port);
        } else {
            nsx(&lan, &format!("ip link set {port} nomaster"));
        }
    }

    /// Sets the upstream bridge's end of router `i`'s uplink down or up:
    /// the router's `up0` loses or regains carrier.
    pub fn uplink_carrier(&self, i: usize, up: bool) {
        let port = format!("r{}", i + 1);
        let state = if up { "up" } else { "down" };
        nsx(&self.up_ns(), &format!("ip link set {port} {state}"));
    }

    /// Detaches router `i`'s uplink from the upstream bridge (its link
    /// stays up, nothing answers), or attaches it again.
    pub fn uplink_attached(&self, i: usize, attached: bool) {
        let port = format!("r{}", i + 1);
        let up = self.up_ns();
        if attached {
            nsx(&up, &format!("ip link set {port} master br1"));
        } else {
            nsx(&up, &format!("ip link set {port} nomaster"));
        }
    }

    /// Routers (indices) whose gateway state on `lan0` is Active, among
    /// those running.
    pub fn avgs(&mut self) -> Vec<usize> {
        self.avgs_on("lan0")
    }

    /// Routers whose gateway state on interface `iface` is Active, among
    /// those running.
    pub fn avgs_on(&mut self, iface: &str) -> Vec<usize> {
        self.with_state_on(iface, "Active")
    }

    pub fn with_state(&mut self, state: &str) -> Vec<usize> {
        self.with_state_on("lan0", state)
    }

    pub fn with_state_on(&mut self, iface: &str, state: &str) -> Vec<usize> {
        (0..self.routers.len())
            .filter(|&i| self.routers[i].running() && self.routers[i].vg_state_on(iface) == state)
            .collect()
    }

    /// VMAC -> routers forwarding it on `lan0`.
    pub fn holders(&mut self) -> BTreeMap<String, Vec<usize>> {
        self.holders_on("lan0")
    }

    /// VMAC -> routers forwarding it on interface `iface`.
    pub fn holders_on(&mut self, iface: &str) -> BTreeMap<String, Vec<usize>> {
        let mut m: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for i in 0..self.routers.len() {
            for v in self.routers[i].forwarding_on(iface) {
                m.entry(v).or_default().push(i);
            }
        }
        m
    }

    fn running_routers(&mut self) -> Vec<usize> {
        (0..self.routers.len())
            .filter(|&i| self.routers[i].running())
            .collect()
    }

    /// The group is settled: one AVG, one standby (with two or more
    /// running routers), each running router forwards exactly its own
    /// VMAC (up to four) and no VMAC has two forwarders.
    pub fn converged(&mut self) -> bool {
        let running = self.running_routers();
        let standby_ok = running.len() < 2 || self.with_state("Standby").len() == 1;
        let h = self.holders();
        self.avgs().len() == 1
            && standby_ok
            && h.len() == running.len().min(4)
            && h.values().all(|v| v.len() == 1)
    }

    /// The group on interface `iface` is settled: one AVG, one standby
    /// (with two or more running routers), no VMAC with two forwarders,
    /// and each running router forwards exactly one VMAC (with up to four
    /// running routers; beyond, four forward one each).
    pub fn converged_on(&mut self, iface: &str) -> bool {
        let running = self.running_routers();
        let standby_ok = running.len() < 2 || self.with_state_on(iface, "Standby").len() == 1;
        let h = self.holders_on(iface);
        let per_router: Vec<usize> = running
            .iter()
            .map(|&i| self.routers[i].forwarding_on(iface).len())
            .collect();
        self.avgs_on(iface).len() == 1
            && standby_ok
            && h.len() == running.len().min(4)
            && h.values().all(|v| v.len() == 1)
            && per_router.iter().all(|&n| n <= 1)
    }

    pub fn wait_converged(&mut self, timeout: Duration) {
        let ok = wait_for(timeout, || self.converged());
        assert!(
            ok,
            "no convergence within {timeout:?}:\n{}",
            self.describe()
        );
    }

    /// Waits until the group on every LAN interface has converged.
    pub fn wait_converged_all(&mut self, timeout: Duration) {
        let ifaces = self.lan_ifaces();
        let ok = wait_for(timeout, || ifaces.iter().all(|i| self.converged_on(i)));
        assert!(
            ok,
            "no convergence on {ifaces:?} within {timeout:?}:\n{}",
            self.describe()
        );
    }

    /// The VMAC in host `h`'s ARP cache for its VIP, if any.
    pub fn host_vmac(&self, h: usize) -> Option<String> {
        self.host_vmac_of(h, &self.host_vip(h))
    }

    /// The MAC host `h` has for neighbour `ip` (IPv4 or IPv6), if any.
    pub fn host_vmac_of(&self, h: usize, ip: &str) -> Option<String> {
        let out = nsx(
            &self.host_ns(h),
            &format!("ip neigh show {ip} dev {}", self.host_dev(h)),
        );
        let mut it = out.split_whitespace();
        while let Some(w) = it.next() {
            if w == "lladdr" {
                return it.next().map(str::to_lowercase);
            }
        }
        None
    }

    /// Forgets host `h`'s ARP entry for the VIP.
    pub fn host_forget(&self, h: usize) {
        let _ = sh_ok(&format!(
            "ip -n {} neigh flush dev {}",
            self.host_ns(h),
            self.host_dev(h)
        ));
    }

    /// Marks host `h`'s ARP entry for the VIP stale, as an aged cache entry.
    pub fn host_age(&self, h: usize, mac: &str) {
        nsx(
            &self.host_ns(h),
            &format!(
                "ip neigh replace {} lladdr {mac} dev {} nud stale",
                self.host_vip(h),
                self.host_dev(h)
            ),
        );
    }

    /// Host `h` pings the server once (one second to answer), up to
    /// `tries` times; true on a reply.
    pub fn host_ping(&self, h: usize, tries: usize) -> bool {
        self.host_ping_to(h, SERVER, tries)
    }

    /// Host `h` pings `dst` once (one second to answer), up to `tries`
    /// times; true on a reply.
    pub fn host_ping_to(&self, h: usize, dst: &str, tries: usize) -> bool {
        (0..tries).any(|_| nsx_ok(&self.host_ns(h), &format!("ping -c 1 -W 1 -q {dst}")).is_some())
    }

    /// Host `h` forgets the VIP and resolves it again (by pinging the
    /// server once): the VMAC the AVG answered with.
    pub fn host_resolve(&self, h: usize) -> Option<String> {
        self.host_forget(h);
        self.host_ping(h, 1);
        self.host_vmac(h)
    }

    /// Sends `n` UDP datagrams from host `h` to an echo server upstream and
    /// returns how many came back.
    pub fn host_udp(&self, h: usize, n: usize) -> usize {
        const SERVER_PY: &str = "import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('0.0.0.0',int(sys.argv[1])))\nprint('ready',flush=True)\nwhile True:\n    d,a=s.recvfrom(2048)\n    s.sendto(d,a)\n";
        const CLIENT_PY: &str = "import socket,sys,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.settimeout(0.01)\nn=int(sys.argv[3]);got=set()\nfor i in range(n):\n    s.sendto(str(i).encode(),(sys.argv[1],int(sys.argv[2])))\n    try:\n        got.add(s.recv(64))\n    except OSError:\n        pass\nend=time.time()+2\nwhile time.time()<end and len(got)<n:\n    try:\n        got.add(s.recv(64))\n    except OSError:\n        pass\nprint(len(got))\n";
        let port = (7000 + h).to_string();
        let mut server = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.up_ns(),
                "/usr/bin/python3",
                "-c",
                SERVER_PY,
                &port,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("udp echo server");
        let mut line = String::new();
        let _ = BufReader::new(server.stdout.take().unwrap()).read_line(&mut line);
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.host_ns(h),
                "/usr/bin/python3",
                "-c",
                CLIENT_PY,
            ])
            .args([SERVER, &port, &n.to_string()])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
        let _ = server.kill();
        let _ = server.wait();
        out.and_then(|o| o.trim().parse().ok()).unwrap_or(0)
    }

    /// Starts host `h`'s continuous ping to the server.
    pub fn pinger(&self, h: usize) -> Pinger {
        self.pinger_to(h, SERVER)
    }

    /// Starts host `h`'s continuous ping to `dst`.
    pub fn pinger_to(&self, h: usize, dst: &str) -> Pinger {
        let mut child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.host_ns(h),
                "ping",
                "-D",
                "-n",
                "-i",
                "0.02",
                dst,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("ping");
        let out = child.stdout.take().unwrap();
        let replies = Arc::new(Mutex::new(Vec::new()));
        let sink = replies.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                // [1732633000.123456] 64 bytes from 192.0.2.100: icmp_seq=1 ...
                if l.contains("bytes from") {
                    if let Some(t) = l
                        .strip_prefix('[')
                        .and_then(|r| r.split(']').next())
                        .and_then(|t| t.parse::<f64>().ok())
                    {
                        sink.lock().unwrap().push(t);
                    }
                }
            }
        });
        Pinger {
            host: h,
            dst: dst.into(),
            child,
            replies,
            started: now(),
        }
    }

    /// Waits until every pinger has had replies for `secs` seconds.
    pub fn wait_flowing(&self, pingers: &[Pinger], secs: f64, timeout: Duration) {
        let since = now();
        let ok = wait_for(timeout, || {
            pingers
                .iter()
                .all(|p| p.replies_after(since) as f64 >= secs / PING_INTERVAL * 0.8)
        });
        assert!(
            ok,
            "host traffic does not flow: {:?}\n{}",
            pingers
                .iter()
                .map(|p| (p.host + 1, p.replies_after(since)))
                .collect::<Vec<_>>(),
            self.describe_ro()
        );
    }

    /// Decodes the LAN capture with tshark: (GLBP frames, problems), where
    /// problems lists frames that are malformed or carry an expert warning.
    pub fn check_capture(&mut self) -> (usize, Vec<String>) {
        if let Some(mut c) = self.capture.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGINT,
            );
            let _ = c.wait();
        }
        let pcap = self.pcap.to_string_lossy().into_owned();
        let count = sh(&format!(
            "tshark -r {pcap} -Y glbp -T fields -e frame.number"
        ))
        .lines()
        .count();
        let bad = sh(&format!(
            "tshark -r {pcap} -Y glbp&&(_ws.malformed||_ws.expert) -T fields \
             -e frame.number -e _ws.expert.message -e _ws.malformed"
        ));
        (count, bad.lines().map(String::from).collect())
    }

    /// Frames of the LAN capture that match tshark display filter
    /// `filter` (no white space). Stops the capture.
    pub fn capture_count(&mut self, filter: &str) -> usize {
        self.check_capture();
        let pcap = self.pcap.to_string_lossy().into_owned();
        sh(&format!(
            "tshark -r {pcap} -Y {filter} -T fields -e frame.number"
        ))
        .lines()
        .count()
    }

    /// ARP for the VIP in the capture, one line per frame (time, opcode,
    /// sender IP, sender MAC, Ethernet source): for failure messages.
    pub fn arp_log(&mut self) -> String {
        self.check_capture();
        let pcap = self.pcap.to_string_lossy().into_owned();
        sh_ok(&format!(
            "tshark -r {pcap} -Y arp.dst.proto_ipv4=={VIP}||arp.src.proto_ipv4=={VIP} -T fields \
             -e frame.time_relative -e arp.opcode -e arp.src.proto_ipv4 -e arp.src.hw_mac -e eth.src"
        ))
        .unwrap_or_default()
    }

    /// GLBP frames in the capture.
    pub fn glbp_frames(&self) -> Vec<GlbpFrame> {
        let pcap = self.pcap.to_string_lossy().into_owned();
        sh(&format!(
            "tshark -r {pcap} -Y glbp -T fields -e frame.time_epoch -e eth.src \
             -e glbp.ownerid -e glbp.hello.vgstate -e glbp.reqresp.virtualmac"
        ))
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Some(GlbpFrame {
                time: f.first()?.parse().ok()?,
                eth_src: f.get(1)?.to_string(),
                owner: f.get(2)?.to_string(),
                hello: !f.get(3)?.is_empty(),
                vmacs: f.get(4).map_or_else(Vec::new, |v| {
                    v.split(',')
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect()
                }),
            })
        })
        .collect()
    }

    /// Gratuitous ARPs for the VIP in the LAN capture (broadcast ARP whose
    /// sender is the VIP): (time, announced MAC). Stops the capture.
    pub fn gratuitous_arps(&mut self) -> Vec<(f64, String)> {
        self.check_capture();
        let pcap = self.pcap.to_string_lossy().into_owned();
        sh(&format!(
            "tshark -r {pcap} -Y arp.src.proto_ipv4=={VIP}&&eth.dst==ff:ff:ff:ff:ff:ff \
             -T fields -e frame.time_epoch -e arp.src.hw_mac"
        ))
        .lines()
        .filter_map(|l| {
            let (t, m) = l.split_once('\t')?;
            Some((t.parse().ok()?, m.trim().to_lowercase()))
        })
        .collect()
    }

    /// One line per router: state, forwarders, VMACs.
    pub fn describe(&mut self) -> String {
        let mut s = String::new();
        let ifaces = self.lan_ifaces();
        for iface in &ifaces {
            for i in 0..self.routers.len() {
                let run = self.routers[i].running();
                let fw = self.routers[i].forwarding_on(iface);
                let r = &self.routers[i];
                // Untagged: the line as it always was.
                let on = if ifaces.len() > 1 || iface != "lan0" {
                    format!(" {iface}")
                } else {
                    String::new()
                };
                s += &format!(
                    "r{}{on} {} vg={} vf={:?} forwarding={:?}\n",
                    i + 1,
                    if run { "up" } else { "down" },
                    r.vg_state_on(iface),
                    r.vf_states_on(iface),
                    fw
                );
            }
        }
        s + &self.describe_ro()
    }

    /// Each router's last counters and log lines (for failure messages).
    fn describe_ro(&self) -> String {
        let mut s = String::new();
        for (i, r) in self.routers.iter().enumerate() {
            let lines = r.lines();
            let last_stats = lines.iter().rev().find(|(_, l)| l.contains("stats: "));
            let tail: Vec<&str> = lines
                .iter()
                .filter(|(_, l)| !l.contains("stats: ") && !l.contains("control: "))
                .map(|(_, l)| l.as_str())
                .collect();
            s += &format!(
                "--- r{} last {}\n{}\n",
                i + 1,
                last_stats.map_or("", |(_, l)| l.as_str()),
                tail[tail.len().saturating_sub(12)..].join("\n")
            );
        }
        s + &format!("logs in {}\n", self.dir.display())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(mut c) = self.capture.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for r in &mut self.routers {
            if let Some(mut c) = r.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        remove_prefix(&self.prefix);
        if let Some(l) = LIVE.get() {
            l.lock().unwrap().retain(|p| *p != self.prefix);
        }
        if !std::thread::panicking() && std::env::var_os("GLBPD_E2E_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
