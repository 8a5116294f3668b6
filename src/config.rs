//! The TOML configuration: types, defaults, loading and validation.
//!
//! Every error names the file, line, column and key, and says what would be
//! accepted. Unknown keys are rejected.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

use crate::wire::MacAddr;

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub eal: EalConfig,
    #[serde(default)]
    pub dataplane: DataplaneConfig,
    #[serde(default, rename = "port")]
    pub ports: Vec<PortConfig>,
    #[serde(default, rename = "route")]
    pub routes: Vec<RouteConfig>,
    #[serde(default, rename = "neighbor")]
    pub neighbors: Vec<NeighborConfig>,
    #[serde(default, rename = "group")]
    pub groups: Vec<GroupConfig>,
    #[serde(default)]
    pub ops: OpsConfig,
}

/// `[ops]`: operations endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct OpsConfig {
    /// Serve Prometheus metrics (text format) on this address, e.g.
    /// "127.0.0.1:9101". Off when absent.
    #[serde(default)]
    pub prometheus: Option<std::net::SocketAddr>,
    /// CPU for the threads glbpd starts itself (Prometheus, helpers).
    /// Default: the control lcore's CPU, so they never run on a worker's.
    #[serde(default)]
    pub cpu: Option<usize>,
}

/// `[eal]`: how DPDK starts.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EalConfig {
    /// Passed to EAL after what glbpd derives (file prefix, vdevs, lcores).
    #[serde(default)]
    pub args: Vec<String>,
    /// `--file-prefix`: unique per instance on one host.
    #[serde(default = "default_prefix")]
    pub file_prefix: String,
    /// EAL core list (`-l`), e.g. "0-1". Default: lcores 0..=workers.
    #[serde(default)]
    pub lcores: Option<String>,
}

impl Default for EalConfig {
    fn default() -> Self {
        EalConfig {
            args: Vec::new(),
            file_prefix: default_prefix(),
            lcores: None,
        }
    }
}

fn default_prefix() -> String {
    "glbpd".into()
}

/// What a worker does when its queues are empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Idle {
    /// Busy-poll forever: production and benchmarks.
    Poll,
    /// Sleep briefly after consecutive empty polls: tests and demos that
    /// share cores.
    Adaptive,
}

/// `[dataplane]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataplaneConfig {
    #[serde(default = "default_workers")]
    pub workers: u16,
    #[serde(default = "default_burst")]
    pub burst: u16,
    #[serde(default = "default_idle")]
    pub idle: Idle,
    /// Mbufs in the packet pool.
    #[serde(default = "default_mbufs")]
    pub mbufs: u32,
    #[serde(default = "default_desc")]
    pub rx_desc: u16,
    #[serde(default = "default_desc")]
    pub tx_desc: u16,
    /// Size of the ring from workers to the control lcore (power of two).
    #[serde(default = "default_exception_ring")]
    pub exception_ring: u32,
    /// Benchmark knob: republish the dataplane snapshot this many times a
    /// second even when nothing changed (0, the default: only on change).
    /// Measures what state publication costs the workers.
    #[serde(default)]
    pub republish_hz: u32,
}

impl Default for DataplaneConfig {
    fn default() -> Self {
        DataplaneConfig {
            workers: default_workers(),
            burst: default_burst(),
            idle: default_idle(),
            mbufs: default_mbufs(),
            rx_desc: default_desc(),
            tx_desc: default_desc(),
            exception_ring: default_exception_ring(),
            republish_hz: 0,
        }
    }
}

fn default_workers() -> u16 {
    1
}
fn default_burst() -> u16 {
    32
}
fn default_idle() -> Idle {
    Idle::Poll
}
fn default_mbufs() -> u32 {
    8191
}
fn default_desc() -> u16 {
    1024
}
fn default_exception_ring() -> u32 {
    1024
}
fn default_true() -> bool {
    true
}

/// `[[port]]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortConfig {
    /// Interface name used in logs, groups and routes (e.g. "lan0").
    pub name: String,
    /// A `--vdev` string (`net_af_packet0,iface=veth1`) or a PCI address.
    pub device: String,
    /// The port's own address and prefix length.
    pub address: Ipv4Net,
    #[serde(default)]
    pub mtu: Option<u16>,
    /// Overrides the device's MAC address (virtual devices often have a
    /// random or zero one).
    #[serde(default)]
    pub mac: Option<MacAddr>,
    /// Spread RX over the workers with RSS where the device supports it.
    #[serde(default = "default_true")]
    pub rss: bool,
}

impl PortConfig {
    /// The DPDK device name: the part of `device` before the first comma.
    pub fn device_name(&self) -> &str {
        self.device.split(',').next().unwrap_or("")
    }
    /// True when `device` is a PCI address (probed through `-a`).
    pub fn is_pci(&self) -> bool {
        is_pci_address(self.device_name())
    }
}

/// True for `0000:01:00.0` or `01:00.0`.
pub fn is_pci_address(s: &str) -> bool {
    let parts: Vec<&str> = s.split([':', '.']).collect();
    let hex = |p: &str, n: usize| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit());
    match parts.as_slice() {
        [d, b, dev, f] => {
            hex(d, 4)
                && hex(b, 2)
                && hex(dev, 2)
                && f.len() == 1
                && f.chars().all(|c| ('0'..='7').contains(&c))
        }
        [b, dev, f] => {
            hex(b, 2) && hex(dev, 2) && f.len() == 1 && f.chars().all(|c| ('0'..='7').contains(&c))
        }
        _ => false,
    }
}

/// `[[route]]`: a static route.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    pub prefix: Ipv4Net,
    pub via: Ipv4Addr,
}

/// `[[neighbor]]`: a static ARP entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeighborConfig {
    pub port: String,
    pub ip: Ipv4Addr,
    pub mac: MacAddr,
}

/// Load-balancing method of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadBalancing {
    RoundRobin,
    Weighted,
    HostDependent,
}

/// `weighting = { max, lower, upper }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weighting {
    #[serde(default = "default_weight")]
    pub max: u8,
    #[serde(default = "default_lower")]
    pub lower: u8,
    #[serde(default)]
    pub upper: Option<u8>,
}

impl Default for Weighting {
    fn default() -> Self {
        Weighting {
            max: default_weight(),
            lower: default_lower(),
            upper: None,
        }
    }
}

impl Weighting {
    /// Upper threshold: the configured one, else `max`.
    pub fn upper(&self) -> u8 {
        self.upper.unwrap_or(self.max)
    }
}

fn default_weight() -> u8 {
    100
}
fn default_lower() -> u8 {
    1
}

/// One key of an MD5 key chain.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainKey {
    pub id: u32,
    pub key: String,
}

/// `authentication = { text = "..." }`, `{ md5 = "..." }` or
/// `{ md5_key_chain = [{ id = 1, key = "..." }] }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum Authentication {
    Text(String),
    Md5(String),
    Md5KeyChain(Vec<ChainKey>),
}

/// `client_cache = { max, timeout_s }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientCache {
    #[serde(default = "default_cache_max")]
    pub max: u32,
    #[serde(default = "default_timeout")]
    pub timeout_s: u32,
}

fn default_cache_max() -> u32 {
    2000
}

/// `[[group.track]]`: a tracked object that lowers the weight while down.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Track {
    /// Link state of this port is tracked.
    pub port: String,
    #[serde(default = "default_decrement")]
    pub decrement: u8,
}

fn default_decrement() -> u8 {
    10
}

/// `[[group]]`: one GLBP group on a port.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    pub port: String,
    pub id: u16,
    /// Virtual IP; a member without one learns it from the AVG.
    #[serde(default)]
    pub vip: Option<IpAddr>,
    #[serde(default = "default_priority")]
    pub priority: u8,
    #[serde(default)]
    pub preempt: bool,
    #[serde(default)]
    pub preempt_delay_s: u32,
    #[serde(default = "default_true")]
    pub forwarder_preempt: bool,
    #[serde(default = "default_fwd_preempt_delay")]
    pub forwarder_preempt_delay_s: u32,
    #[serde(default = "default_hello")]
    pub hello_ms: u32,
    #[serde(default = "default_hold")]
    pub hold_ms: u32,
    #[serde(default = "default_redirect")]
    pub redirect_s: u32,
    #[serde(default = "default_timeout")]
    pub timeout_s: u32,
    #[serde(default = "default_lb")]
    pub load_balancing: LoadBalancing,
    #[serde(default)]
    pub weighting: Weighting,
    #[serde(default)]
    pub authentication: Option<Authentication>,
    #[serde(default)]
    pub client_cache: Option<ClientCache>,
    /// The patent's lone-survivor gratuitous ARP; `false` as IOS (none).
    #[serde(default = "default_true")]
    pub lone_survivor_garp: bool,
    #[serde(default)]
    pub track: Vec<Track>,
}

fn default_priority() -> u8 {
    100
}
fn default_fwd_preempt_delay() -> u32 {
    30
}
fn default_hello() -> u32 {
    3000
}
fn default_hold() -> u32 {
    10000
}
fn default_redirect() -> u32 {
    600
}
fn default_timeout() -> u32 {
    14400
}
fn default_lb() -> LoadBalancing {
    LoadBalancing::RoundRobin
}

/// An IPv4 address with a prefix length: "10.0.0.2/24".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Net {
    pub addr: Ipv4Addr,
    pub len: u8,
}

impl Ipv4Net {
    pub fn mask(&self) -> u32 {
        if self.len == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.len))
        }
    }
    /// The network address (host bits cleared).
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.addr) & self.mask()
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl FromStr for Ipv4Net {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, l) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not of the form A.B.C.D/LEN"))?;
        let addr = a
            .parse()
            .map_err(|_| format!("{a:?} is not an IPv4 address"))?;
        let len: u8 = l
            .parse()
            .map_err(|_| format!("prefix length {l:?} is not a number 0..=32"))?;
        if len > 32 {
            return Err(format!("prefix length {len} is not in 0..=32"));
        }
        Ok(Ipv4Net { addr, len })
    }
}

impl<'de> Deserialize<'de> for Ipv4Net {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A configuration error, located in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based line and column; 0 when unknown.
    pub line: usize,
    pub column: usize,
    /// Dotted key path, e.g. `port[0].address`; empty for the whole file.
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn path_string(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// 1-based (line, column) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, col)
}

/// Finds the span of the value at `path` (or, when absent, of the deepest
/// table on the way) in a parsed document.
fn locate(doc: &toml_edit::ImDocument<&str>, path: &[Seg]) -> Option<std::ops::Range<usize>> {
    // toml_edit splits nodes into tables, items and inline values.
    #[derive(Clone, Copy)]
    enum Node<'a> {
        Table(&'a toml_edit::Table),
        Item(&'a toml_edit::Item),
        Value(&'a toml_edit::Value),
    }
    let mut node = Node::Table(doc.as_table());
    let mut best = None;
    for seg in path {
        let value = match node {
            Node::Item(toml_edit::Item::Value(v)) | Node::Value(v) => Some(v),
            _ => None,
        };
        let next = match (node, value, seg) {
            (Node::Table(t), _, Seg::Key(k))
            | (Node::Item(toml_edit::Item::Table(t)), _, Seg::Key(k)) => t.get(k).map(Node::Item),
            (Node::Item(toml_edit::Item::ArrayOfTables(a)), _, Seg::Index(i)) => {
                a.get(*i).map(Node::Table)
            }
            (_, Some(toml_edit::Value::InlineTable(t)), Seg::Key(k)) => t.get(k).map(Node::Value),
            (_, Some(toml_edit::Value::Array(a)), Seg::Index(i)) => a.get(*i).map(Node::Value),
            _ => None,
        };
        let Some(n) = next else { break };
        let sp = match n {
            Node::Table(t) => t.span(),
            Node::Item(i) => i.span(),
            Node::Value(v) => v.span(),
        };
        if sp.is_some() {
            best = sp;
        }
        node = n;
    }
    best
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            key: String::new(),
            message: format!("cannot read: {e}"),
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates configuration text; `file` names it in errors.
    pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigError> {
        let err_at = |span: Option<std::ops::Range<usize>>, key: String, message: String| {
            let (line, column) = span.map_or((0, 0), |s| line_col(text, s.start));
            ConfigError {
                file: file.to_path_buf(),
                line,
                column,
                key,
                message,
            }
        };
        let doc = toml_edit::ImDocument::parse(text).map_err(|e| {
            err_at(
                e.span(),
                String::new(),
                format!("TOML syntax error: {}", e.message()),
            )
        })?;
        let de = toml::Deserializer::new(text);
        let cfg: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let path: Vec<Seg> = e
                .path()
                .iter()
                .filter_map(|s| match s {
                    serde_path_to_error::Segment::Seq { index } => Some(Seg::Index(*index)),
                    serde_path_to_error::Segment::Map { key } => Some(Seg::Key(key.clone())),
                    serde_path_to_error::Segment::Enum { variant } => {
                        Some(Seg::Key(variant.clone()))
                    }
                    serde_path_to_error::Segment::Unknown => None,
                })
                .collect();
            let inner = e.into_inner();
            let span = inner.span().or_else(|| locate(&doc, &path));
            err_at(span, path_string(&path), inner.message().trim().to_string())
        })?;
        let problems = cfg.validate();
        if let Some((path, message)) = problems.into_iter().next() {
            return Err(err_at(locate(&doc, &path), path_string(&path), message));
        }
        Ok(cfg)
    }

    /// Semantic checks. Returns (key path, message) for each problem.
    fn validate(&self) -> Vec<(Vec<Seg>, String)> {
        let mut out = Vec::new();
        let k = |s: &str| Seg::Key(s.to_string());
        let mut bad = |path: Vec<Seg>, msg: String| out.push((path, msg));

        if self.eal.file_prefix.is_empty() || self.eal.file_prefix.contains(['/', ' ']) {
            bad(
                vec![k("eal"), k("file_prefix")],
                "must be a non-empty name without '/' or spaces".into(),
            );
        }
        if let Some(cpu) = self.ops.cpu {
            let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
            if cpu >= cpus {
                bad(
                    vec![k("ops"), k("cpu")],
                    format!("CPU {cpu} does not exist here (CPUs 0..={})", cpus - 1),
                );
            }
        }
        for (i, a) in self.eal.args.iter().enumerate() {
            if a == "--file-prefix" || a.starts_with("--file-prefix=") {
                bad(
                    vec![k("eal"), k("args"), Seg::Index(i)],
                    "set the prefix with eal.file_prefix, not in args".into(),
                );
            }
        }
        let d = &self.dataplane;
        if !(1..=64).contains(&d.workers) {
            bad(
                vec![k("dataplane"), k("workers")],
                format!("{} is not in 1..=64", d.workers),
            );
        }
        if !(1..=64).contains(&d.burst) {
            bad(
                vec![k("dataplane"), k("burst")],
                format!("{} is not in 1..=64", d.burst),
            );
        }
        if d.mbufs < 1023 {
            bad(
                vec![k("dataplane"), k("mbufs")],
                format!("{} is too small: at least 1023", d.mbufs),
            );
        }
        if !d.exception_ring.is_power_of_two() || d.exception_ring < 64 {
            bad(
                vec![k("dataplane"), k("exception_ring")],
                format!("{} must be a power of two >= 64", d.exception_ring),
            );
        }
        if d.republish_hz > 100_000 {
            bad(
                vec![k("dataplane"), k("republish_hz")],
                format!("{} is not in 0..=100000", d.republish_hz),
            );
        }
        if self.ports.is_empty() {
            bad(vec![k("port")], "at least one [[port]] is required".into());
        }
        for (i, p) in self.ports.iter().enumerate() {
            let at = |f: &str| vec![k("port"), Seg::Index(i), k(f)];
            if p.name.is_empty()
                || p.name.len() > 15
                || !p
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
            {
                bad(
                    at("name"),
                    format!("{:?} must be 1..=15 characters of [A-Za-z0-9_.-]", p.name),
                );
            }
            if self.ports[..i].iter().any(|q| q.name == p.name) {
                bad(at("name"), format!("port name {:?} is used twice", p.name));
            }
            if p.device_name().is_empty() {
                bad(
                    at("device"),
                    "expected a vdev string like \"net_af_packet0,iface=veth1\" or a PCI address"
                        .into(),
                );
            } else if !p.is_pci() && !p.device_name().starts_with("net_") {
                bad(
                    at("device"),
                    format!(
                        "{:?} is neither a PCI address nor a DPDK vdev name (net_...)",
                        p.device_name()
                    ),
                );
            }
            if self.ports[..i]
                .iter()
                .any(|q| q.device_name() == p.device_name())
            {
                bad(
                    at("device"),
                    format!("device {:?} is used twice", p.device_name()),
                );
            }
            if p.address.len == 0 || p.address.len > 31 {
                bad(
                    at("address"),
                    format!("prefix length {} is not in 1..=31", p.address.len),
                );
            }
            if let Some(mac) = p.mac {
                if !mac.is_unicast() || mac == MacAddr::ZERO {
                    bad(at("mac"), format!("{mac} is not a unicast MAC"));
                }
            }
            if let Some(mtu) = p.mtu {
                if !(68..=9600).contains(&mtu) {
                    bad(at("mtu"), format!("{mtu} is not in 68..=9600"));
                }
            }
        }
        let port_known = |name: &str| self.ports.iter().any(|p| p.name == name);
        let port_names = || {
            self.ports
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        for (i, r) in self.routes.iter().enumerate() {
            if !self.ports.iter().any(|p| p.address.contains(r.via)) {
                bad(
                    vec![k("route"), Seg::Index(i), k("via")],
                    format!("next hop {} is not on the subnet of any port", r.via),
                );
            }
        }
        for (i, n) in self.neighbors.iter().enumerate() {
            if !port_known(&n.port) {
                bad(
                    vec![k("neighbor"), Seg::Index(i), k("port")],
                    format!("no port named {:?} (known: {})", n.port, port_names()),
                );
            }
            if !n.mac.is_unicast() || n.mac == MacAddr::ZERO {
                bad(
                    vec![k("neighbor"), Seg::Index(i), k("mac")],
                    format!("{} is not a unicast MAC", n.mac),
                );
            }
        }
        for (i, g) in self.groups.iter().enumerate() {
            let at = |f: &str| vec![k("group"), Seg::Index(i), k(f)];
            if !port_known(&g.port) {
                bad(
                    at("port"),
                    format!("no port named {:?} (known: {})", g.port, port_names()),
                );
            }
            if g.id > crate::wire::glbp::MAX_GROUP {
                bad(at("id"), format!("{} is not in 0..=1023", g.id));
            }
            if self.groups[..i]
                .iter()
                .any(|h| h.port == g.port && h.id == g.id)
            {
                bad(
                    at("id"),
                    format!("group {} is configured twice on port {}", g.id, g.port),
                );
            }
            if g.priority == 0 {
                bad(at("priority"), "0 is not in 1..=255".into());
            }
            if g.hello_ms < 50 || g.hello_ms > 60_000 {
                bad(
                    at("hello_ms"),
                    format!("{} is not in 50..=60000", g.hello_ms),
                );
            }
            if g.hold_ms <= g.hello_ms || g.hold_ms > 180_000 {
                bad(
                    at("hold_ms"),
                    format!(
                        "{} must be greater than hello_ms ({}) and at most 180000",
                        g.hold_ms, g.hello_ms
                    ),
                );
            }
            if g.redirect_s > 3600 {
                bad(
                    at("redirect_s"),
                    format!("{} is not in 0..=3600", g.redirect_s),
                );
            }
            if g.timeout_s <= g.redirect_s || g.timeout_s > 64_800 {
                bad(
                    at("timeout_s"),
                    format!(
                        "{} must be greater than redirect_s ({}) and at most 64800",
                        g.timeout_s, g.redirect_s
                    ),
                );
            }
            if g.preempt_delay_s > 3600 {
                bad(
                    at("preempt_delay_s"),
                    format!("{} is not in 0..=3600", g.preempt_delay_s),
                );
            }
            if g.forwarder_preempt_delay_s > 3600 {
                bad(
                    at("forwarder_preempt_delay_s"),
                    format!("{} is not in 0..=3600", g.forwarder_preempt_delay_s),
                );
            }
            let w = &g.weighting;
            if w.max == 0 || w.max > 254 {
                bad(at("weighting"), format!("max {} is not in 1..=254", w.max));
            } else if w.lower > w.upper() || w.upper() > w.max {
                bad(
                    at("weighting"),
                    format!(
                        "thresholds must satisfy lower ({}) <= upper ({}) <= max ({})",
                        w.lower,
                        w.upper(),
                        w.max
                    ),
                );
            }
            match &g.authentication {
                Some(Authentication::Text(t)) if t.is_empty() || t.len() > 100 => {
                    bad(at("authentication"), "text must be 1..=100 bytes".into())
                }
                Some(Authentication::Md5(s)) if s.is_empty() || s.len() > 100 => bad(
                    at("authentication"),
                    "md5 key-string must be 1..=100 bytes".into(),
                ),
                Some(Authentication::Md5KeyChain(keys)) if keys.is_empty() => bad(
                    at("authentication"),
                    "md5_key_chain needs at least one { id, key }".into(),
                ),
                _ => {}
            }
            if let Some(c) = g.client_cache {
                if c.max == 0 || c.max > 2000 {
                    bad(
                        at("client_cache"),
                        format!("max {} is not in 1..=2000", c.max),
                    );
                }
            }
            for (j, t) in g.track.iter().enumerate() {
                if !port_known(&t.port) {
                    bad(
                        vec![
                            k("group"),
                            Seg::Index(i),
                            k("track"),
                            Seg::Index(j),
                            k("port"),
                        ],
                        format!("no port named {:?} (known: {})", t.port, port_names()),
                    );
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Config, ConfigError> {
        Config::parse(s, Path::new("t.toml"))
    }

    const MIN: &str =
        "[[port]]\nname = \"lan0\"\ndevice = \"net_null0\"\naddress = \"10.0.0.2/24\"\n";

    #[test]
    fn minimal_config_gets_defaults() {
        let c = parse(MIN).unwrap();
        assert_eq!(c.dataplane.workers, 1);
        assert_eq!(c.dataplane.idle, Idle::Poll);
        assert_eq!(c.eal.file_prefix, "glbpd");
        assert_eq!(
            c.ports[0].address,
            Ipv4Net {
                addr: Ipv4Addr::new(10, 0, 0, 2),
                len: 24
            }
        );
    }

    #[test]
    fn wrong_type_is_located() {
        let e = parse(&format!("[dataplane]\nworkers = \"two\"\n{MIN}")).unwrap_err();
        assert_eq!(
            (e.line, e.column, e.key.as_str()),
            (2, 11, "dataplane.workers"),
            "{e}"
        );
        assert!(e.message.contains("invalid type"), "{e}");
    }

    #[test]
    fn unknown_key_is_rejected() {
        let e = parse(&format!("{MIN}colour = \"red\"\n")).unwrap_err();
        assert_eq!(e.line, 5, "{e}");
        assert!(e.message.contains("unknown field `colour`"), "{e}");
    }

    #[test]
    fn semantic_error_is_located() {
        let text =
            format!("{MIN}[[group]]\nport = \"lan0\"\nid = 1\nhello_ms = 1000\nhold_ms = 500\n");
        let e = parse(&text).unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (9, "group[0].hold_ms"), "{e}");
        assert!(e.message.contains("greater than hello_ms"), "{e}");
    }

    #[test]
    fn pci_addresses() {
        assert!(is_pci_address("0000:01:00.0"));
        assert!(is_pci_address("01:00.1"));
        assert!(!is_pci_address("net_null0"));
        assert!(!is_pci_address("0000:01:00.8"));
    }
}
