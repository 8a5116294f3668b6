//! The TOML configuration: types, defaults, loading and validation.
//!
//! Every error names the file, line, column and key, and says what would be
//! accepted. Unknown keys are rejected.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

use crate::protocol;
use crate::wire::ipv6::is_link_local;
use crate::wire::MacAddr;

pub mod lcores;

/// Longest DPDK file prefix glbpd accepts.
pub const MAX_PREFIX_LEN: usize = 64;

/// Checks a DPDK file prefix: a plain name of 1..=64 letters, digits, `-`
/// and `_`, so that `<runtime base>/<prefix>` never leaves the runtime
/// base (no `..`, `.`, `/`) and stays within DPDK's path limits.
pub fn check_prefix(p: &str) -> Result<(), String> {
    if !p.is_empty()
        && p.len() <= MAX_PREFIX_LEN
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Ok(());
    }
    let shown: String = p.chars().take(40).collect();
    let more = if p.chars().count() > 40 {
        format!("... ({} characters)", p.chars().count())
    } else {
        String::new()
    };
    Err(format!(
        "{shown:?}{more} is not a plain name: 1..={MAX_PREFIX_LEN} characters of [A-Za-z0-9_-]"
    ))
}

/// Largest `dataplane.mbufs`: 16 Mi - 1 buffers (about 36 GB of 2 KB
/// buffers), far beyond what a router needs and within what DPDK's
/// mempool can address.
pub const MAX_MBUFS: u32 = (1 << 24) - 1;

/// Largest `dataplane.exception_ring`.
pub const MAX_EXCEPTION_RING: u32 = 1 << 16;

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
    #[serde(default, rename = "vlan")]
    pub vlans: Vec<VlanConfig>,
    #[serde(default, rename = "route")]
    pub routes: Vec<RouteConfig>,
    #[serde(default, rename = "neighbor")]
    pub neighbors: Vec<NeighborConfig>,
    /// Filled from `group_tables` once the engine's keys have been read.
    #[serde(skip)]
    pub groups: Vec<GroupEntry>,
    #[serde(default, rename = "group")]
    group_tables: Vec<GroupTable>,
    #[serde(default)]
    pub ops: OpsConfig,
    #[serde(default)]
    pub control_plane: ControlPlaneConfig,
}

/// A policing rate: `pps` a second, `burst` saved up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub pps: u32,
    pub burst: u32,
}

/// `[control_plane]`: what the workers may punt to the control lcore, per
/// class and per second (split evenly over the workers), and how much the
/// control lcore sends back. GLBP has a ring of its own besides its rate,
/// so no other class can fill its way to the control lcore.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControlPlaneConfig {
    /// GLBP (UDP 3222 to 224.0.0.102 or to an own address).
    pub glbp: Rate,
    /// ARP the workers do not answer themselves.
    pub arp: Rate,
    /// ICMP to own addresses and virtual IPs.
    pub icmp: Rate,
    /// Other traffic to own addresses and virtual IPs.
    pub own: Rate,
    /// Packets whose TTL expires here.
    pub ttl_expired: Rate,
    /// Neighbor Discovery the workers do not answer themselves.
    pub nd: Rate,
    /// Routed traffic with no route, handed over to be answered with
    /// destination unreachable.
    pub unreachable: Rate,
    /// ICMP echo replies sent, per second.
    pub icmp_replies_pps: u32,
    /// ICMP errors sent (time exceeded, unreachable), per second.
    pub icmp_errors_pps: u32,
    /// Snapshot republications caused by unsolicited ARP learning, per
    /// second (answers to our own ARP probes are published at once).
    pub neighbor_publish_hz: u32,
    /// Run the control lcore under SCHED_RR (lowest real-time priority),
    /// so busy workers, floods and other processes on its CPU cannot make
    /// hellos late. Needs root or CAP_SYS_NICE; warns and runs without
    /// otherwise. The kernel's real-time throttling still leaves other
    /// tasks their share.
    pub realtime: bool,
}

impl Default for ControlPlaneConfig {
    fn default() -> Self {
        ControlPlaneConfig {
            glbp: Rate {
                pps: 50_000,
                burst: 5_000,
            },
            arp: Rate {
                pps: 5_000,
                burst: 500,
            },
            icmp: Rate {
                pps: 2_000,
                burst: 200,
            },
            own: Rate {
                pps: 2_000,
                burst: 200,
            },
            ttl_expired: Rate {
                pps: 2_000,
                burst: 200,
            },
            nd: Rate {
                pps: 5_000,
                burst: 500,
            },
            unreachable: Rate {
                pps: 2_000,
                burst: 200,
            },
            icmp_replies_pps: 1_000,
            icmp_errors_pps: 200,
            neighbor_publish_hz: 10,
            realtime: true,
        }
    }
}

impl ControlPlaneConfig {
    /// The rates by punt class, in `PuntClass::ALL` order.
    pub fn rates(&self) -> [(&'static str, Rate); 7] {
        [
            ("glbp", self.glbp),
            ("arp", self.arp),
            ("icmp", self.icmp),
            ("own", self.own),
            ("ttl_expired", self.ttl_expired),
            ("nd", self.nd),
            ("unreachable", self.unreachable),
        ]
    }
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
    /// The port's own address and prefix length, for its untagged
    /// traffic; `None` on a port that only carries VLANs.
    #[serde(default)]
    pub address: Option<Ipv4Net>,
    #[serde(default)]
    pub mtu: Option<u16>,
    /// Overrides the device's MAC address (virtual devices often have a
    /// random or zero one).
    #[serde(default)]
    pub mac: Option<MacAddr>,
    /// Spread RX over the workers with RSS where the device supports it.
    #[serde(default = "default_true")]
    pub rss: bool,
    /// The IPv6 link-local address of its untagged interface (its IPv6
    /// GLBP groups speak from it); default: formed from the MAC
    /// (modified EUI-64), as IOS and Linux do.
    #[serde(default)]
    pub link_local: Option<Ipv6Addr>,
    /// Global IPv6 addresses of its untagged interface, with prefix
    /// lengths: "2001:db8:10::2/64".
    #[serde(default)]
    pub address6: Vec<Ipv6Net>,
    /// Router advertisements of its IPv6 groups.
    #[serde(default)]
    pub ra: RaConfig,
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

/// `[[vlan]]`: an 802.1Q VLAN sub-interface of a port.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VlanConfig {
    /// Interface name; default `"{port}.{id}"` (e.g. "trunk0.40").
    #[serde(default)]
    pub name: Option<String>,
    /// The trunk port's name.
    pub port: String,
    /// The 802.1Q VLAN id, 1..=4094.
    pub id: u16,
    /// The own address and prefix length on the VLAN.
    pub address: Ipv4Net,
    /// Source MAC on the VLAN; default: the port's.
    #[serde(default)]
    pub mac: Option<MacAddr>,
    /// The VLAN's IPv6 link-local address; default: formed from its MAC.
    #[serde(default)]
    pub link_local: Option<Ipv6Addr>,
    /// Global IPv6 addresses on the VLAN, with prefix lengths.
    #[serde(default)]
    pub address6: Vec<Ipv6Net>,
    /// Router advertisements of its IPv6 groups.
    #[serde(default)]
    pub ra: RaConfig,
}

/// `ra` of a `[[port]]` or `[[vlan]]`: the router advertisements the AVG
/// of an IPv6 group sends from the group's virtual link-local address
/// (IOS `ipv6 nd ra ...`; the defaults are IOS's).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RaConfig {
    /// false: no advertisements (IOS `ipv6 nd ra suppress all`); hosts
    /// must then be given the virtual address as their router by hand.
    pub enabled: bool,
    /// Seconds between periodic advertisements (jittered down by up to
    /// 25 %), 4..=1800.
    pub interval: u32,
    /// Router lifetime, seconds: 0 (not a default router) or
    /// interval..=9000.
    pub lifetime: u32,
    /// The MTU option; default: the port's `mtu`, else 1500.
    pub mtu: Option<u32>,
    /// The hop limit hosts should use (0: unspecified).
    pub hop_limit: u8,
    /// Prefixes advertised; default: the prefixes of `address6`
    /// (on-link, and autonomous when /64).
    pub prefixes: Option<Vec<Ipv6Net>>,
}

impl Default for RaConfig {
    fn default() -> Self {
        RaConfig {
            enabled: true,
            interval: 200,
            lifetime: 1800,
            mtu: None,
            hop_limit: 64,
            prefixes: None,
        }
    }
}

impl VlanConfig {
    /// The effective name: `name`, or `"{port}.{id}"`.
    pub fn name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("{}.{}", self.port, self.id))
    }
}

/// A layer-3 interface: a port's untagged traffic, or one VLAN of a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    /// Index into `Config::ports` of the port it is on.
    pub port: usize,
    /// 0 for the port's untagged traffic, else the 802.1Q VLAN id.
    pub vlan: u16,
    pub address: Ipv4Net,
    /// `None`: the port's MAC.
    pub mac: Option<MacAddr>,
    /// `None`: formed from the MAC in use.
    pub link_local: Option<Ipv6Addr>,
    /// Global IPv6 addresses.
    pub address6: Vec<Ipv6Net>,
    /// Router advertisements of its IPv6 groups.
    pub ra: RaConfig,
}

impl Interface {
    /// "port lan0" or "VLAN trunk0.10", for messages.
    fn label(&self) -> String {
        if self.vlan == 0 {
            format!("port {}", self.name)
        } else {
            format!("VLAN {}", self.name)
        }
    }
}

/// Why `name` cannot name a port or VLAN; `None` when it can.
fn check_name(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= 15
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    (!ok).then(|| format!("{name:?} must be 1..=15 characters of [A-Za-z0-9_.-]"))
}

/// Why `mac` cannot be a port's or VLAN's own MAC; `None` when it can.
fn check_own_mac(mac: MacAddr) -> Option<String> {
    if !mac.is_unicast() || mac == MacAddr::ZERO {
        Some(format!("{mac} is not a unicast MAC"))
    } else {
        crate::wire::glbp::parse_virtual_mac(mac)
            .map(|(g, f)| format!("{mac} is the GLBP virtual MAC of group {g} forwarder {f}"))
    }
}

/// Why `a` cannot be an interface's link-local address; `None` when it
/// can.
fn check_link_local(a: Ipv6Addr) -> Option<String> {
    (!is_link_local(a) || a.segments()[4..] == [0; 4]).then(|| {
        format!("{a} is not a link-local unicast address (fe80::/10, non-zero interface id)")
    })
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

/// `[[route]]`: a static route, IPv4 or IPv6 (prefix and next hop of
/// the same family).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    pub prefix: IpNet,
    pub via: IpAddr,
    /// The interface of an IPv6 link-local `via` (IOS: `ipv6 route ::/0
    /// GigabitEthernet0/1 FE80::1`); any other gateway's interface is the
    /// one whose subnet holds it.
    #[serde(default)]
    pub port: Option<String>,
}

/// `[[neighbor]]`: a static ARP (IPv4) or Neighbor Discovery (IPv6) entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeighborConfig {
    pub port: String,
    pub ip: IpAddr,
    pub mac: MacAddr,
}

/// An IPv4 or IPv6 prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpNet {
    V4(Ipv4Net),
    V6(Ipv6Net),
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpNet::V4(n) => n.fmt(f),
            IpNet::V6(n) => n.fmt(f),
        }
    }
}

impl FromStr for IpNet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.contains(':') {
            s.parse().map(IpNet::V6)
        } else {
            s.parse().map(IpNet::V4)
        }
    }
}

impl<'de> Deserialize<'de> for IpNet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

pub use crate::protocol::{Authentication, ChainKey, ClientCache, LoadBalancing, Weighting};

/// `[[group.track]]`: a tracked object that lowers the weight while down.
/// Either `port` (its link) or `neighbor` (an address on a connected
/// subnet, probed for reachability).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Track {
    /// Link state of this port is tracked.
    #[serde(default)]
    pub port: Option<String>,
    /// Reachability of this neighbour is tracked.
    #[serde(default)]
    pub neighbor: Option<Ipv4Addr>,
    /// How `neighbor` is probed.
    #[serde(default)]
    pub probe: TrackProbe,
    #[serde(default = "default_track_interval")]
    pub interval_ms: u32,
    /// Unanswered probes in a row that make it down.
    #[serde(default = "default_track_after")]
    pub down_after: u32,
    /// Answered probes in a row that make it up again.
    #[serde(default = "default_track_after")]
    pub up_after: u32,
    #[serde(default = "default_decrement")]
    pub decrement: u8,
}

/// How a tracked neighbour is probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TrackProbe {
    /// ARP requests from the port's address.
    #[default]
    Arp,
    /// ICMP echo requests (the neighbour resolved by ARP first).
    Icmp,
}

fn default_decrement() -> u8 {
    10
}
fn default_track_interval() -> u32 {
    1000
}
fn default_track_after() -> u32 {
    3
}

/// `[[group]]`: one GLBP group on a port. `port` and `track` are the
/// file's (which port, which tracked objects); every other key is the
/// engine's own [`protocol::GroupConfig`], deserialized and validated by it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupEntry {
    pub port: String,
    pub track: Vec<Track>,
    pub glbp: protocol::GroupConfig,
}

/// A `[[group]]` table as read: the file's keys, and the rest for the
/// engine's configuration (second pass, so its errors keep their path).
#[derive(Debug, Clone, PartialEq, Deserialize)]
struct GroupTable {
    port: String,
    #[serde(default)]
    track: Vec<Track>,
    #[serde(flatten)]
    rest: toml::Table,
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
    /// The subnet's broadcast address (all host bits set).
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !self.mask())
    }
    /// True when the two subnets share an address.
    pub fn overlaps(&self, other: &Ipv4Net) -> bool {
        self.contains(other.network()) || other.contains(self.network())
    }
    /// Why `ip` cannot be a host (a port, a virtual IP, a next hop, a
    /// neighbour) on this subnet; `None` when it can.
    pub fn not_a_host(&self, ip: Ipv4Addr) -> Option<String> {
        if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() || ip.is_loopback() {
            return Some(format!("{ip} is not a unicast address"));
        }
        if !self.contains(ip) {
            return Some(format!("{ip} is not on the subnet {}", self.network_str()));
        }
        // A /31 has no network or broadcast address (RFC 3021).
        if self.len < 31 && ip == self.network() {
            return Some(format!(
                "{ip} is the network address of {}",
                self.network_str()
            ));
        }
        if self.len < 31 && ip == self.broadcast() {
            return Some(format!(
                "{ip} is the broadcast address of {}",
                self.network_str()
            ));
        }
        None
    }
    fn network_str(&self) -> String {
        format!("{}/{}", self.network(), self.len)
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

/// An IPv6 address with a prefix length: "2001:db8:10::2/64".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Net {
    pub addr: Ipv6Addr,
    pub len: u8,
}

impl Ipv6Net {
    /// The network address (host bits cleared).
    pub fn network(&self) -> Ipv6Addr {
        let mask = (!0u128).checked_shl(128 - u32::from(self.len)).unwrap_or(0);
        Ipv6Addr::from(u128::from(self.addr) & mask)
    }
    /// True when `ip` is on this subnet.
    pub fn contains(&self, ip: Ipv6Addr) -> bool {
        Ipv6Net {
            addr: ip,
            len: self.len,
        }
        .network()
            == self.network()
    }
    /// True when the two subnets share an address.
    pub fn overlaps(&self, other: &Ipv6Net) -> bool {
        self.contains(other.network()) || other.contains(self.network())
    }
}

impl fmt::Display for Ipv6Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl FromStr for Ipv6Net {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, l) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not of the form ADDRESS/LEN"))?;
        let addr = a
            .parse()
            .map_err(|_| format!("{a:?} is not an IPv6 address"))?;
        let len: u8 = l
            .parse()
            .map_err(|_| format!("prefix length {l:?} is not a number 0..=128"))?;
        if len > 128 {
            return Err(format!("prefix length {len} is not in 0..=128"));
        }
        Ok(Ipv6Net { addr, len })
    }
}

impl<'de> Deserialize<'de> for Ipv6Net {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Why `net` cannot be an interface's global IPv6 address; `None` when it
/// can.
fn check_address6(net: &Ipv6Net) -> Option<String> {
    let a = net.addr;
    if a.is_unspecified() || a.is_loopback() || a.is_multicast() || is_link_local(a) {
        Some(format!(
            "{a} is not a global unicast address (the link-local one is `link_local`)"
        ))
    } else if !(1..=128).contains(&net.len) {
        Some(format!("prefix length {} is not in 1..=128", net.len))
    } else {
        None
    }
}

/// Reports through `bad` (the key path below `ra`, the reason) what
/// makes `ra` unusable.
fn check_ra(ra: &RaConfig, mut bad: impl FnMut(Vec<Seg>, String)) {
    let k = |key: &str| vec![Seg::Key(key.into())];
    if !(4..=1800).contains(&ra.interval) {
        bad(
            k("interval"),
            format!("{} s is not in 4..=1800", ra.interval),
        );
    } else if ra.lifetime != 0 && !(ra.interval..=9000).contains(&ra.lifetime) {
        bad(
            k("lifetime"),
            format!(
                "{} s is neither 0 nor in interval..=9000 ({}..=9000)",
                ra.lifetime, ra.interval
            ),
        );
    }
    if let Some(mtu) = ra.mtu {
        if !(1280..=65535).contains(&mtu) {
            bad(
                k("mtu"),
                format!("{mtu} is not in 1280..=65535 (IPv6 minimum 1280)"),
            );
        }
    }
    for (i, p) in ra.prefixes.iter().flatten().enumerate() {
        if let Some(why) = check_address6(p) {
            bad(vec![Seg::Key("prefixes".into()), Seg::Index(i)], why);
        }
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

/// Where an interface is configured: `[[port]]` or `[[vlan]]` number i.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Port(usize),
    Vlan(usize),
}

impl Origin {
    /// The key path of `key` in the table the interface comes from.
    fn path(self, key: &str) -> Vec<Seg> {
        let (table, i) = match self {
            Origin::Port(i) => ("port", i),
            Origin::Vlan(i) => ("vlan", i),
        };
        vec![Seg::Key(table.into()), Seg::Index(i), Seg::Key(key.into())]
    }
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

/// A serde path as key path segments.
fn serde_segs(p: &serde_path_to_error::Path) -> Vec<Seg> {
    p.iter()
        .filter_map(|s| match s {
            serde_path_to_error::Segment::Seq { index } => Some(Seg::Index(*index)),
            serde_path_to_error::Segment::Map { key } => Some(Seg::Key(key.clone())),
            serde_path_to_error::Segment::Enum { variant } => Some(Seg::Key(variant.clone())),
            serde_path_to_error::Segment::Unknown => None,
        })
        .collect()
}

/// A dotted key path with indices (`a.b[1].c`) as segments.
fn parse_path(s: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    for part in s.split('.').filter(|p| !p.is_empty()) {
        let mut it = part.split('[');
        if let Some(k) = it.next().filter(|k| !k.is_empty()) {
            out.push(Seg::Key(k.to_string()));
        }
        for idx in it {
            if let Ok(n) = idx.trim_end_matches(']').parse() {
                out.push(Seg::Index(n));
            }
        }
    }
    out
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

/// Whether validation looks at this machine (its CPUs) too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// Check against this machine: what `run` and `check` do.
    This,
    /// Only what holds on any machine (`check --portable`).
    Any,
}

impl Config {
    /// Every interface: ports with an `address` (untagged) in file order,
    /// then every `[[vlan]]` in file order. Indices into this Vec are the
    /// runtime's interface indices.
    pub fn interfaces(&self) -> Vec<Interface> {
        self.interfaces_from().into_iter().map(|(_, f)| f).collect()
    }

    /// The interface named `name` and its index.
    pub fn interface(&self, name: &str) -> Option<(usize, Interface)> {
        self.interfaces()
            .into_iter()
            .enumerate()
            .find(|(_, f)| f.name == name)
    }

    /// `interfaces()` with where each is configured. A `[[vlan]]` on an
    /// unknown port (which validation refuses) is left out.
    fn interfaces_from(&self) -> Vec<(Origin, Interface)> {
        let untagged = self.ports.iter().enumerate().filter_map(|(i, p)| {
            let address = p.address?;
            let f = Interface {
                name: p.name.clone(),
                port: i,
                vlan: 0,
                address,
                mac: None,
                link_local: p.link_local,
                address6: p.address6.clone(),
                ra: p.ra.clone(),
            };
            Some((Origin::Port(i), f))
        });
        let tagged = self.vlans.iter().enumerate().filter_map(|(j, v)| {
            let f = Interface {
                name: v.name(),
                port: self.ports.iter().position(|p| p.name == v.port)?,
                vlan: v.id,
                address: v.address,
                mac: v.mac,
                link_local: v.link_local,
                address6: v.address6.clone(),
                ra: v.ra.clone(),
            };
            Some((Origin::Vlan(j), f))
        });
        untagged.chain(tagged).collect()
    }

    /// Reads and validates a configuration file for this machine.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_for(path, Host::This)
    }

    /// Reads and validates a configuration file, for this machine or any.
    pub fn load_for(path: &Path, host: Host) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            key: String::new(),
            message: format!("cannot read: {e}"),
        })?;
        Self::parse_for(&text, path, host)
    }

    /// Parses and validates configuration text for this machine; `file`
    /// names it in errors.
    pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigError> {
        Self::parse_for(text, file, Host::This)
    }

    /// Parses and validates configuration text, for this machine or any.
    pub fn parse_for(text: &str, file: &Path, host: Host) -> Result<Config, ConfigError> {
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
        let mut cfg: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = serde_segs(e.path());
            let inner = e.into_inner();
            let span = inner.span().or_else(|| locate(&doc, &path));
            err_at(span, path_string(&path), inner.message().trim().to_string())
        })?;
        for (i, t) in std::mem::take(&mut cfg.group_tables)
            .into_iter()
            .enumerate()
        {
            let mut rest = t.rest;
            // `vip = "autoconfig"`: the group's virtual link-local address,
            // derived from its VMAC base as IOS derives it.
            if rest.get("vip").and_then(toml::Value::as_str) == Some("autoconfig") {
                let id = rest.get("id").and_then(toml::Value::as_integer);
                let Some(ll) = id
                    .and_then(|id| u16::try_from(id).ok())
                    .and_then(crate::wire::glbp::virtual_link_local)
                else {
                    let path = vec![
                        Seg::Key("group".into()),
                        Seg::Index(i),
                        Seg::Key("vip".into()),
                    ];
                    return Err(err_at(
                        locate(&doc, &path),
                        path_string(&path),
                        "\"autoconfig\" derives the address from the group's id, which must be 0..=1023".into(),
                    ));
                };
                rest.insert("vip".into(), toml::Value::String(ll.to_string()));
            }
            let glbp: protocol::GroupConfig =
                serde_path_to_error::deserialize(toml::Value::Table(rest)).map_err(|e| {
                    let mut path = vec![Seg::Key("group".into()), Seg::Index(i)];
                    path.extend(serde_segs(e.path()));
                    // The file's own keys are valid here too.
                    let message = e.into_inner().message().trim().replacen(
                        "expected one of ",
                        "expected one of `port`, `track`, ",
                        1,
                    );
                    err_at(locate(&doc, &path), path_string(&path), message)
                })?;
            cfg.groups.push(GroupEntry {
                port: t.port,
                track: t.track,
                glbp,
            });
        }
        let problems = cfg.validate(host);
        if let Some((path, message)) = problems.into_iter().next() {
            return Err(err_at(locate(&doc, &path), path_string(&path), message));
        }
        Ok(cfg)
    }

    /// `eal.lcores` (or a core option in `eal.args`): parsed as EAL parses
    /// it, ids below `RTE_MAX_LCORE`, CPUs this process may run on (with
    /// `Host::This`), and one lcore for control plus one per worker.
    /// Without either, glbpd derives the list from the workers and the CPUs.
    fn validate_lcores(&self, host: Host, bad: &mut impl FnMut(Vec<Seg>, String)) {
        let k = |s: &str| Seg::Key(s.to_string());
        let (path, parsed) = match (&self.eal.lcores, lcores::from_args(&self.eal.args)) {
            (Some(_), Some((i, _))) => {
                bad(
                    vec![k("eal"), k("args"), Seg::Index(i)],
                    "eal.lcores sets the cores already: set them in one place".into(),
                );
                return;
            }
            (Some(l), None) => (vec![k("eal"), k("lcores")], lcores::parse_config_lcores(l)),
            (None, Some((i, p))) => (vec![k("eal"), k("args"), Seg::Index(i)], p),
            (None, None) => return,
        };
        let l = match parsed {
            Ok(l) => l,
            Err(e) => return bad(path, e),
        };
        let allowed = match host {
            Host::This => lcores::allowed_cpus(),
            Host::Any => None,
        };
        if let Err(e) = l.check(crate::dpdk::max_lcore(), allowed.as_ref()) {
            return bad(path, e);
        }
        let workers = usize::from(self.dataplane.workers);
        if l.lcores.len() <= workers {
            bad(
                path,
                format!(
                    "{} lcore(s) cannot run the control lcore and dataplane.workers = {workers}: \
                     give at least {}",
                    l.lcores.len(),
                    workers + 1
                ),
            );
        }
    }

    /// Semantic checks. Returns (key path, message) for each problem.
    fn validate(&self, host: Host) -> Vec<(Vec<Seg>, String)> {
        let mut out = Vec::new();
        let k = |s: &str| Seg::Key(s.to_string());
        let mut bad = |path: Vec<Seg>, msg: String| out.push((path, msg));

        if let Err(e) = check_prefix(&self.eal.file_prefix) {
            bad(vec![k("eal"), k("file_prefix")], e);
        }
        let cp = &self.control_plane;
        for (name, r) in cp.rates() {
            if !(1..=100_000_000).contains(&r.pps) {
                bad(
                    vec![k("control_plane"), k(name), k("pps")],
                    format!("{} is not in 1..=100000000", r.pps),
                );
            }
            if !(1..=10_000_000).contains(&r.burst) {
                bad(
                    vec![k("control_plane"), k(name), k("burst")],
                    format!("{} is not in 1..=10000000", r.burst),
                );
            }
        }
        for (name, v) in [
            ("icmp_replies_pps", cp.icmp_replies_pps),
            ("icmp_errors_pps", cp.icmp_errors_pps),
            ("neighbor_publish_hz", cp.neighbor_publish_hz),
        ] {
            if !(1..=10_000_000).contains(&v) {
                bad(
                    vec![k("control_plane"), k(name)],
                    format!("{v} is not in 1..=10000000"),
                );
            }
        }
        if let (Some(cpu), Host::This) = (self.ops.cpu, host) {
            if let Some(allowed) = lcores::allowed_cpus() {
                if !allowed.contains(&(cpu as u32)) {
                    bad(
                        vec![k("ops"), k("cpu")],
                        format!(
                            "CPU {cpu} is not a CPU this machine lets glbpd run on (CPUs {})",
                            lcores::format_list(&allowed)
                        ),
                    );
                }
            }
        }
        for (i, a) in self.eal.args.iter().enumerate() {
            if a == "--file-prefix" || a.starts_with("--file-prefix=") {
                bad(
                    vec![k("eal"), k("args"), Seg::Index(i)],
                    "set the prefix with eal.file_prefix, not in args".into(),
                );
            }
            if a.chars().any(char::is_control) {
                bad(
                    vec![k("eal"), k("args"), Seg::Index(i)],
                    format!("{a:?} contains a control character"),
                );
            }
        }
        self.validate_lcores(host, &mut bad);
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
        if !(1023..=MAX_MBUFS).contains(&d.mbufs) {
            bad(
                vec![k("dataplane"), k("mbufs")],
                format!("{} is not in 1023..={MAX_MBUFS}", d.mbufs),
            );
        }
        if !d.exception_ring.is_power_of_two()
            || !(64..=MAX_EXCEPTION_RING).contains(&d.exception_ring)
        {
            bad(
                vec![k("dataplane"), k("exception_ring")],
                format!(
                    "{} must be a power of two in 64..={MAX_EXCEPTION_RING}",
                    d.exception_ring
                ),
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
            if let Some(why) = check_name(&p.name) {
                bad(at("name"), why);
            }
            if self.ports[..i].iter().any(|q| q.name == p.name) {
                bad(at("name"), format!("port name {:?} is used twice", p.name));
            }
            if p.device.chars().any(char::is_control) {
                bad(
                    at("device"),
                    format!("{:?} contains a control character", p.device),
                );
            } else if p.device_name().is_empty() {
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
            if p.address.is_none() && !self.vlans.iter().any(|v| v.port == p.name) {
                bad(
                    vec![k("port"), Seg::Index(i)],
                    format!(
                        "port {} carries nothing: give it an address or a [[vlan]]",
                        p.name
                    ),
                );
            }
            if let Some(why) = p.mac.and_then(check_own_mac) {
                bad(at("mac"), why);
            }
            if let Some(why) = p.link_local.and_then(check_link_local) {
                bad(at("link_local"), why);
            }
            for (m, a) in p.address6.iter().enumerate() {
                if let Some(why) = check_address6(a) {
                    bad([at("address6"), vec![Seg::Index(m)]].concat(), why);
                }
            }
            check_ra(&p.ra, |key, why| {
                bad([vec![k("port"), Seg::Index(i), k("ra")], key].concat(), why)
            });
            if let Some(mtu) = p.mtu {
                if !(68..=9600).contains(&mtu) {
                    bad(at("mtu"), format!("{mtu} is not in 68..=9600"));
                }
            }
        }
        let port_names = || {
            self.ports
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        for (j, v) in self.vlans.iter().enumerate() {
            let at = |f: &str| vec![k("vlan"), Seg::Index(j), k(f)];
            let name = v.name();
            if let Some(why) = check_name(&name) {
                bad(
                    at("name"),
                    match v.name {
                        Some(_) => why,
                        None => format!("the default name {why}: give the [[vlan]] a name"),
                    },
                );
            } else if self.ports.iter().any(|p| p.name == name) {
                bad(
                    at("name"),
                    format!("{name:?} is a port's name: ports and VLANs need names of their own"),
                );
            } else if self.vlans[..j].iter().any(|w| w.name() == name) {
                bad(at("name"), format!("VLAN name {name:?} is used twice"));
            }
            if !self.ports.iter().any(|p| p.name == v.port) {
                bad(
                    at("port"),
                    format!("no port named {:?} (known: {})", v.port, port_names()),
                );
            }
            if !(1..=4094).contains(&v.id) {
                bad(at("id"), format!("VLAN id {} is not in 1..=4094", v.id));
            } else if self.vlans[..j]
                .iter()
                .any(|w| w.port == v.port && w.id == v.id)
            {
                bad(
                    at("id"),
                    format!("VLAN {} is configured twice on port {}", v.id, v.port),
                );
            }
            if let Some(why) = v.mac.and_then(check_own_mac) {
                bad(at("mac"), why);
            }
            if let Some(why) = v.link_local.and_then(check_link_local) {
                bad(at("link_local"), why);
            }
            for (m, a) in v.address6.iter().enumerate() {
                if let Some(why) = check_address6(a) {
                    bad([at("address6"), vec![Seg::Index(m)]].concat(), why);
                }
            }
            check_ra(&v.ra, |key, why| {
                bad([vec![k("vlan"), Seg::Index(j), k("ra")], key].concat(), why)
            });
        }
        // Layer 3 from here on: every interface, tagged or not.
        let ifaces = self.interfaces_from();
        for (n, (origin, f)) in ifaces.iter().enumerate() {
            let a = f.address;
            if a.len == 0 || a.len > 31 {
                bad(
                    origin.path("address"),
                    format!("prefix length {} is not in 1..=31", a.len),
                );
            } else if let Some(why) = a.not_a_host(a.addr) {
                bad(origin.path("address"), why);
            } else if let Some((_, g)) = ifaces[..n].iter().find(|(_, g)| g.address.overlaps(&a)) {
                bad(
                    origin.path("address"),
                    format!(
                        "{a} overlaps {}'s subnet {}: each interface needs a subnet of its own",
                        g.label(),
                        g.address
                    ),
                );
            }
            for (m, a6) in f.address6.iter().enumerate() {
                let earlier = ifaces[..n]
                    .iter()
                    .flat_map(|(_, g)| g.address6.iter().map(move |b| (g, b)))
                    .chain(f.address6[..m].iter().map(|b| (f, b)));
                if let Some((g, b)) = earlier.into_iter().find(|(_, b)| b.overlaps(a6)) {
                    bad(
                        [origin.path("address6"), vec![Seg::Index(m)]].concat(),
                        format!(
                            "{a6} overlaps {b} of {}: each IPv6 subnet belongs to one interface",
                            g.label()
                        ),
                    );
                }
            }
        }
        let iface_names = || {
            ifaces
                .iter()
                .map(|(_, f)| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        // The interface a `port` key names: any interface, but not a port
        // without an address of its own.
        let resolve = |name: &str| -> Result<&Interface, String> {
            if let Some((_, f)) = ifaces.iter().find(|(_, f)| f.name == name) {
                return Ok(f);
            }
            if self.ports.iter().any(|p| p.name == name) {
                let vlans: Vec<String> = self
                    .vlans
                    .iter()
                    .filter(|v| v.port == name)
                    .map(VlanConfig::name)
                    .collect();
                return Err(if vlans.is_empty() {
                    format!("port {name} has no address")
                } else {
                    format!(
                        "port {name} has no address (it only carries VLANs): name one of its VLANs: {}",
                        vlans.join(", ")
                    )
                });
            }
            Err(format!(
                "no interface named {name:?} (known: {})",
                iface_names()
            ))
        };
        // The router's own addresses: every interface's and every virtual IP.
        let own = |ip: Ipv4Addr| -> Option<String> {
            if let Some((_, f)) = ifaces.iter().find(|(_, f)| f.address.addr == ip) {
                return Some(format!("{ip} is {}'s own address", f.label()));
            }
            self.groups
                .iter()
                .find(|g| g.glbp.vip == Some(IpAddr::V4(ip)))
                .map(|g| {
                    format!(
                        "{ip} is the virtual IP of group {} on {}",
                        g.glbp.id, g.port
                    )
                })
        };
        for (i, r) in self.routes.iter().enumerate() {
            let at = |f: &str| vec![k("route"), Seg::Index(i), k(f)];
            let (addr, network, len) = match r.prefix {
                IpNet::V4(p) => (IpAddr::V4(p.addr), IpAddr::V4(p.network()), p.len),
                IpNet::V6(p) => (IpAddr::V6(p.addr), IpAddr::V6(p.network()), p.len),
            };
            if addr != network {
                bad(
                    at("prefix"),
                    format!(
                        "{} has host bits set: did you mean {network}/{len}?",
                        r.prefix
                    ),
                );
            }
            let via = match (r.prefix, r.via) {
                (IpNet::V4(_), IpAddr::V4(via)) if r.port.is_none() => via,
                (IpNet::V6(_), IpAddr::V6(via)) if is_link_local(via) => {
                    match r
                        .port
                        .as_deref()
                        .map(|n| (n, ifaces.iter().find(|(_, f)| f.name == n)))
                    {
                        None => bad(
                            at("via"),
                            format!("next hop {via} is link-local: name its interface with `port`"),
                        ),
                        Some((n, None)) => bad(at("port"), format!("no interface {n}")),
                        Some((_, Some((_, f)))) if f.link_local == Some(via) => bad(
                            at("via"),
                            format!("next hop {via} is {}'s own address", f.label()),
                        ),
                        Some(_) => {}
                    }
                    continue;
                }
                (_, via) if r.port.is_some() => {
                    bad(
                        at("port"),
                        format!("`port` is for a link-local next hop only: {via}'s interface is the one whose subnet holds it"),
                    );
                    continue;
                }
                (IpNet::V6(_), IpAddr::V6(via)) => {
                    if let Some((_, f)) = ifaces
                        .iter()
                        .find(|(_, f)| f.address6.iter().any(|a| a.contains(via)))
                    {
                        if f.address6.iter().any(|a| a.addr == via) {
                            bad(
                                at("via"),
                                format!("next hop {via} is {}'s own address", f.label()),
                            );
                        }
                    } else {
                        bad(
                            at("via"),
                            format!(
                                "next hop {via} is not on the `address6` subnet of any interface"
                            ),
                        );
                    }
                    continue;
                }
                (_, via) => {
                    bad(
                        at("via"),
                        format!(
                            "next hop {via} is not of the prefix's family ({})",
                            r.prefix
                        ),
                    );
                    continue;
                }
            };
            match ifaces.iter().find(|(_, f)| f.address.contains(via)) {
                None => bad(
                    at("via"),
                    format!("next hop {} is not on the subnet of any interface", via),
                ),
                Some((_, f)) => {
                    if let Some(why) = own(via).or_else(|| f.address.not_a_host(via)) {
                        bad(at("via"), format!("next hop {why}"));
                    }
                }
            }
        }
        for (i, n) in self.neighbors.iter().enumerate() {
            let at = |f: &str| vec![k("neighbor"), Seg::Index(i), k(f)];
            match resolve(&n.port) {
                Err(why) => bad(at("port"), why),
                Ok(f) => {
                    let ip = match n.ip {
                        IpAddr::V4(ip) => ip,
                        IpAddr::V6(ip) => {
                            let on_link =
                                is_link_local(ip) || f.address6.iter().any(|a| a.contains(ip));
                            if ip.is_multicast() || ip.is_unspecified() || !on_link {
                                bad(
                                    at("ip"),
                                    format!("neighbour {ip} is neither link-local nor on an `address6` subnet of {}", f.label()),
                                );
                            } else if ip == f.link_local.unwrap_or(Ipv6Addr::UNSPECIFIED)
                                || f.address6.iter().any(|a| a.addr == ip)
                            {
                                bad(
                                    at("ip"),
                                    format!("neighbour {ip} is {}'s own address", f.label()),
                                );
                            }
                            if !n.mac.is_unicast() || n.mac == MacAddr::ZERO {
                                bad(at("mac"), format!("{} is not a unicast MAC", n.mac));
                            }
                            continue;
                        }
                    };
                    if let Some(why) = own(ip) {
                        bad(at("ip"), format!("neighbour {why}"));
                    } else if let Some(why) = f.address.not_a_host(ip) {
                        bad(at("ip"), format!("neighbour {why} of {}", f.label()));
                    } else if self.neighbors[..i]
                        .iter()
                        .any(|m| m.port == n.port && m.ip == n.ip)
                    {
                        bad(
                            at("ip"),
                            format!("{} has two static entries on {}", n.ip, n.port),
                        );
                    }
                }
            }
            if !n.mac.is_unicast() || n.mac == MacAddr::ZERO {
                bad(at("mac"), format!("{} is not a unicast MAC", n.mac));
            }
        }
        for (i, g) in self.groups.iter().enumerate() {
            let at = |f: &str| vec![k("group"), Seg::Index(i), k(f)];
            let iface = resolve(&g.port).map_err(|why| bad(at("port"), why)).ok();
            // The group's own keys: the engine's rules, in one place.
            if let Err(e) = g.glbp.validate() {
                let mut path = vec![k("group"), Seg::Index(i)];
                path.extend(parse_path(&e.field));
                bad(path, e.reason);
            }
            match (g.glbp.vip, iface) {
                (Some(IpAddr::V4(vip)), Some(f)) => {
                    let why = if vip == f.address.addr {
                        Some(format!("{vip} is {}'s own address", f.label()))
                    } else {
                        f.address.not_a_host(vip)
                    };
                    if let Some(why) = why {
                        bad(at("vip"), format!("virtual IP {why}"));
                    }
                }
                (Some(IpAddr::V6(vip)), _) if !is_link_local(vip) => bad(
                    at("vip"),
                    format!(
                        "{vip}: an IPv6 group's virtual address is a link-local address \
                         (fe80::/10), or \"autoconfig\" (IOS: glbp N ipv6 autoconfig)"
                    ),
                ),
                _ => {}
            }
            let on = iface.map_or_else(|| g.port.clone(), Interface::label);
            if let Some(h) = g.glbp.vip.and_then(|v| {
                self.groups[..i]
                    .iter()
                    .find(|h| h.port == g.port && h.glbp.vip == Some(v))
            }) {
                bad(
                    at("vip"),
                    format!(
                        "virtual IP {} is already group {}'s on {}",
                        h.glbp.vip.map(|v| v.to_string()).unwrap_or_default(),
                        h.glbp.id,
                        g.port
                    ),
                );
            }
            if self.groups[..i]
                .iter()
                .any(|h| h.port == g.port && h.glbp.id == g.glbp.id)
            {
                bad(
                    at("id"),
                    format!("group {} is configured twice on {on}", g.glbp.id),
                );
            }
            for (j, t) in g.track.iter().enumerate() {
                let at = |f: &str| vec![k("group"), Seg::Index(i), k("track"), Seg::Index(j), k(f)];
                match (&t.port, t.neighbor) {
                    (Some(port), None) => {
                        // Any interface, or the link of a port that only
                        // carries VLANs.
                        let known = ifaces.iter().any(|(_, f)| &f.name == port)
                            || self.ports.iter().any(|p| &p.name == port);
                        if !known {
                            bad(
                                at("port"),
                                format!("no interface named {port:?} (known: {})", iface_names()),
                            );
                        }
                    }
                    (None, Some(ip)) => {
                        match ifaces.iter().find(|(_, f)| f.address.contains(ip)) {
                            None => bad(
                                at("neighbor"),
                                format!("{ip} is on no interface's subnet (a tracked neighbour must be connected)"),
                            ),
                            Some((_, f)) if f.address.addr == ip => bad(
                                at("neighbor"),
                                format!("{ip} is {}'s own address", f.label()),
                            ),
                            Some(_) => {}
                        }
                        if !(10..=60_000).contains(&t.interval_ms) {
                            bad(
                                at("interval_ms"),
                                format!("{} is not in 10..=60000", t.interval_ms),
                            );
                        }
                        for (key, v) in [("down_after", t.down_after), ("up_after", t.up_after)] {
                            if !(1..=100).contains(&v) {
                                bad(at(key), format!("{v} is not in 1..=100"));
                            }
                        }
                    }
                    _ => bad(
                        vec![k("group"), Seg::Index(i), k("track"), Seg::Index(j)],
                        "give either port = \"NAME\" (link) or neighbor = \"IP\" (reachability)"
                            .into(),
                    ),
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
            Some(Ipv4Net {
                addr: Ipv4Addr::new(10, 0, 0, 2),
                len: 24
            })
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
    fn group_keys_are_the_engines_and_keep_their_location() {
        let g = |extra: &str| format!("{MIN}[[group]]\nport = \"lan0\"\nid = 1\n{extra}");
        let e = parse(&g("hello_ms = \"fast\"\n")).unwrap_err();
        assert_eq!(
            (e.line, e.column, e.key.as_str()),
            (8, 12, "group[0].hello_ms"),
            "{e}"
        );
        assert!(e.message.contains("invalid type"), "{e}");
        let e = parse(&g("colour = 1\n")).unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (8, "group[0].colour"), "{e}");
        assert!(e.message.contains("unknown field `colour`"), "{e}");
        let e = parse(&g("weighting = { max = 90, lower = 10, upper = 95 }\n")).unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (8, "group[0].weighting"), "{e}");
        // Defaults and units of the one model.
        let c = parse(&g(
            "preempt_delay_s = 5\nclient_cache = {}\nweighting = { max = 90, lower = 10 }\n",
        ))
        .unwrap();
        let p = &c.groups[0].glbp;
        assert_eq!(p.preempt_delay_ms, 5000);
        assert_eq!(p.forwarder_preempt_delay_ms, 30_000);
        assert_eq!(p.client_cache.max, 2000);
        assert_eq!(p.weighting.upper, 90);
        assert_eq!(p.hello_jitter_pct, 20);
        assert_eq!(p, &{
            let mut want = protocol::GroupConfig {
                id: 1,
                preempt_delay_ms: 5000,
                ..Default::default()
            };
            want.client_cache.max = 2000;
            want.weighting = Weighting {
                max: 90,
                lower: 10,
                upper: 90,
            };
            want
        });
        let c = parse(&g("")).unwrap();
        assert_eq!(c.groups[0].glbp.client_cache.max, 0, "off when left out");
    }

    #[test]
    fn prefixes_are_plain_names() {
        for ok in ["glbpd", "r1", "glbpd-t123-x_y", &"a".repeat(64)] {
            assert!(check_prefix(ok).is_ok(), "{ok:?}");
        }
        for bad in ["", ".", "..", "a/b", "x y", "a\0b", "é", &"a".repeat(65)] {
            assert!(check_prefix(bad).is_err(), "{bad:?}");
        }
        let e = parse(&format!("[eal]\nfile_prefix = \"..\"\n{MIN}")).unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (2, "eal.file_prefix"), "{e}");
    }

    #[test]
    fn subnets() {
        let n: Ipv4Net = "10.0.0.2/24".parse().unwrap();
        assert_eq!(n.broadcast(), Ipv4Addr::new(10, 0, 0, 255));
        assert!(n.not_a_host(Ipv4Addr::new(10, 0, 0, 1)).is_none());
        for bad in ["10.0.0.0", "10.0.0.255", "10.0.1.1", "224.0.0.1", "0.0.0.0"] {
            assert!(n.not_a_host(bad.parse().unwrap()).is_some(), "{bad}");
        }
        // A /31 is two hosts, no network or broadcast address.
        let p2p: Ipv4Net = "10.0.0.0/31".parse().unwrap();
        assert!(p2p.not_a_host(Ipv4Addr::new(10, 0, 0, 1)).is_none());
        assert!(p2p.not_a_host(Ipv4Addr::new(10, 0, 0, 0)).is_none());
        assert!(n.overlaps(&"10.0.0.128/25".parse().unwrap()));
        assert!(!n.overlaps(&"10.0.1.1/24".parse().unwrap()));
    }

    #[test]
    fn portable_skips_only_this_machines_cpus() {
        let text = format!("[eal]\nlcores = \"0,127\"\n{MIN}");
        assert!(Config::parse_for(&text, Path::new("t.toml"), Host::Any).is_ok());
        let text = format!("[eal]\nlcores = \"0,128\"\n{MIN}");
        let e = Config::parse_for(&text, Path::new("t.toml"), Host::Any).unwrap_err();
        assert!(e.message.contains("RTE_MAX_LCORE"), "{e}");
    }

    /// An untagged uplink and a trunk that only carries VLANs 10 and 20.
    const TRUNK: &str =
        "[[port]]\nname = \"up0\"\ndevice = \"net_null0\"\naddress = \"192.0.2.2/24\"\n\
        [[port]]\nname = \"trunk0\"\ndevice = \"net_null1\"\n\
        [[vlan]]\nport = \"trunk0\"\nid = 10\naddress = \"10.0.10.2/24\"\n\
        [[vlan]]\nport = \"trunk0\"\nid = 20\naddress = \"10.0.20.2/24\"\n";

    /// The error of `TRUNK` + `extra`, whose first line is line 16.
    fn trunk_err(extra: &str) -> ConfigError {
        parse(&format!("{TRUNK}{extra}")).unwrap_err()
    }

    fn vlan(extra: &str) -> String {
        format!("[[vlan]]\nport = \"trunk0\"\n{extra}")
    }

    #[test]
    fn vlans_on_a_trunk_without_address() {
        let text = format!(
            "{TRUNK}{}[[group]]\nport = \"trunk0.10\"\nid = 1\nvip = \"10.0.10.1\"\n\
             [[group]]\nport = \"trunk0.20\"\nid = 1\nvip = \"10.0.20.1\"\n\
             [[group]]\nport = \"office\"\nid = 1\nvip = \"10.0.40.1\"\n\
             [[route]]\nprefix = \"0.0.0.0/0\"\nvia = \"192.0.2.1\"\n\
             [[route]]\nprefix = \"172.16.0.0/12\"\nvia = \"10.0.20.254\"\n\
             [[neighbor]]\nport = \"trunk0.20\"\nip = \"10.0.20.254\"\nmac = \"02:00:00:00:00:fe\"\n",
            vlan("name = \"office\"\nid = 40\naddress = \"10.0.40.2/24\"\nmac = \"02:00:00:00:40:01\"\n")
        );
        let c = parse(&text).unwrap();
        assert_eq!(c.ports[1].address, None);
        assert_eq!(c.vlans[0].name(), "trunk0.10");
        assert_eq!(c.vlans[2].name(), "office");
        let net = |s: &str| s.parse::<Ipv4Net>().unwrap();
        let f = |name: &str, port, vlan, address, mac| Interface {
            name: name.into(),
            port,
            vlan,
            address: net(address),
            mac,
            link_local: None,
            address6: Vec::new(),
            ra: RaConfig::default(),
        };
        let office_mac = Some(MacAddr([2, 0, 0, 0, 0x40, 1]));
        assert_eq!(
            c.interfaces(),
            [
                f("up0", 0, 0, "192.0.2.2/24", None),
                f("trunk0.10", 1, 10, "10.0.10.2/24", None),
                f("trunk0.20", 1, 20, "10.0.20.2/24", None),
                f("office", 1, 40, "10.0.40.2/24", office_mac),
            ]
        );
        assert_eq!(
            c.interface("trunk0.20"),
            Some((2, f("trunk0.20", 1, 20, "10.0.20.2/24", None)))
        );
        assert_eq!(c.interface("trunk0"), None, "no address, no interface");
        // One group id on several VLANs: groups are per interface.
        let on: Vec<_> = c
            .groups
            .iter()
            .map(|g| (g.port.as_str(), g.glbp.id))
            .collect();
        assert_eq!(on, [("trunk0.10", 1), ("trunk0.20", 1), ("office", 1)]);
    }

    #[test]
    fn vlan_names_are_unique_across_ports_and_vlans() {
        let e = trunk_err(&vlan(
            "name = \"trunk0.10\"\nid = 30\naddress = \"10.0.30.2/24\"\n",
        ));
        assert_eq!(
            (e.line, e.column, e.key.as_str()),
            (18, 8, "vlan[2].name"),
            "{e}"
        );
        assert!(
            e.message.contains("VLAN name \"trunk0.10\" is used twice"),
            "{e}"
        );
        let e = trunk_err(&vlan(
            "name = \"up0\"\nid = 30\naddress = \"10.0.30.2/24\"\n",
        ));
        assert_eq!(
            (e.line, e.column, e.key.as_str()),
            (18, 8, "vlan[2].name"),
            "{e}"
        );
        assert!(e.message.contains("\"up0\" is a port's name"), "{e}");
        let e = trunk_err(&vlan(
            "name = \"a b\"\nid = 30\naddress = \"10.0.30.2/24\"\n",
        ));
        assert_eq!((e.line, e.key.as_str()), (18, "vlan[2].name"), "{e}");
        assert!(e.message.contains("1..=15 characters"), "{e}");
    }

    #[test]
    fn vlan_ids_are_unique_per_port_and_in_range() {
        let e = trunk_err(&vlan(
            "name = \"again\"\nid = 10\naddress = \"10.0.30.2/24\"\n",
        ));
        assert_eq!(
            (e.line, e.column, e.key.as_str()),
            (19, 6, "vlan[2].id"),
            "{e}"
        );
        assert!(
            e.message
                .contains("VLAN 10 is configured twice on port trunk0"),
            "{e}"
        );
        for id in [0, 4095] {
            let e = trunk_err(&vlan(&format!("id = {id}\naddress = \"10.0.30.2/24\"\n")));
            assert_eq!(
                (e.line, e.column, e.key.as_str()),
                (18, 6, "vlan[2].id"),
                "{e}"
            );
            assert!(
                e.message
                    .contains(&format!("VLAN id {id} is not in 1..=4094")),
                "{e}"
            );
        }
        // The same id on another port is another VLAN.
        let text = format!(
            "{TRUNK}[[port]]\nname = \"trunk1\"\ndevice = \"net_null2\"\n\
             [[vlan]]\nport = \"trunk1\"\nid = 10\naddress = \"10.1.10.2/24\"\n"
        );
        assert!(parse(&text).is_ok());
    }

    #[test]
    fn vlan_on_an_unknown_port() {
        let e = trunk_err("[[vlan]]\nport = \"trunk9\"\nid = 30\naddress = \"10.0.30.2/24\"\n");
        assert_eq!(
            (e.line, e.column, e.key.as_str()),
            (17, 8, "vlan[2].port"),
            "{e}"
        );
        assert!(
            e.message
                .contains("no port named \"trunk9\" (known: up0, trunk0)"),
            "{e}"
        );
    }

    #[test]
    fn vlan_mac_is_checked_like_a_ports() {
        let e = trunk_err(&vlan(
            "id = 30\naddress = \"10.0.30.2/24\"\nmac = \"00:07:b4:00:01:02\"\n",
        ));
        assert_eq!(
            (e.line, e.column, e.key.as_str()),
            (20, 7, "vlan[2].mac"),
            "{e}"
        );
        assert!(e.message.contains("GLBP virtual MAC of group 1"), "{e}");
    }

    #[test]
    fn vlan_subnets_do_not_overlap_any_interface() {
        let e = trunk_err(&vlan("id = 30\naddress = \"192.0.2.3/16\"\n"));
        assert_eq!(
            (e.line, e.column, e.key.as_str()),
            (19, 11, "vlan[2].address"),
            "{e}"
        );
        assert!(
            e.message.contains(
                "192.0.2.3/16 overlaps port up0's subnet 192.0.2.2/24: each interface needs a subnet of its own"
            ),
            "{e}"
        );
        let e = trunk_err(&vlan("id = 30\naddress = \"10.0.20.130/25\"\n"));
        assert_eq!((e.line, e.key.as_str()), (19, "vlan[2].address"), "{e}");
        assert!(
            e.message
                .contains("overlaps VLAN trunk0.20's subnet 10.0.20.2/24"),
            "{e}"
        );
        let e = trunk_err(&vlan("id = 30\naddress = \"10.0.30.0/24\"\n"));
        assert_eq!((e.line, e.key.as_str()), (19, "vlan[2].address"), "{e}");
        assert!(e.message.contains("network address"), "{e}");
    }

    #[test]
    fn group_on_an_unknown_interface() {
        let e = trunk_err("[[group]]\nport = \"trunk0.30\"\nid = 1\n");
        assert_eq!(
            (e.line, e.column, e.key.as_str()),
            (17, 8, "group[0].port"),
            "{e}"
        );
        assert!(
            e.message
                .contains("no interface named \"trunk0.30\" (known: up0, trunk0.10, trunk0.20)"),
            "{e}"
        );
    }

    #[test]
    fn group_or_neighbor_on_a_vlan_only_port() {
        let want = "port trunk0 has no address (it only carries VLANs): name one of its VLANs: trunk0.10, trunk0.20";
        let e = trunk_err("[[group]]\nport = \"trunk0\"\nid = 1\n");
        assert_eq!(
            (e.line, e.column, e.key.as_str()),
            (17, 8, "group[0].port"),
            "{e}"
        );
        assert!(e.message.contains(want), "{e}");
        let e = trunk_err(
            "[[neighbor]]\nport = \"trunk0\"\nip = \"10.0.10.9\"\nmac = \"02:00:00:00:00:09\"\n",
        );
        assert_eq!(
            (e.line, e.column, e.key.as_str()),
            (17, 8, "neighbor[0].port"),
            "{e}"
        );
        assert!(e.message.contains(want), "{e}");
        // Its link can still be tracked.
        let ok = "[[group]]\nport = \"trunk0.10\"\nid = 1\n[[group.track]]\nport = \"trunk0\"\n";
        assert!(parse(&format!("{TRUNK}{ok}")).is_ok());
    }

    /// An IPv6 group beside an IPv4 one on the same VLAN: `autoconfig`
    /// derives IOS's virtual link-local address from the group id; an
    /// explicit address must be link-local; `link_local` must be one too,
    /// and defaults to the interface's modified EUI-64.
    #[test]
    fn ipv6_groups_and_link_local_addresses() {
        let text = format!(
            "{TRUNK}[[group]]\nport = \"trunk0.10\"\nid = 1\nvip = \"10.0.10.1\"\n\
             [[group]]\nport = \"trunk0.10\"\nid = 46\nvip = \"autoconfig\"\n\
             [[group]]\nport = \"trunk0.20\"\nid = 47\nvip = \"fe80::47\"\n"
        );
        let c = parse(&text).unwrap();
        assert_eq!(
            c.groups[1].glbp.vip,
            Some(IpAddr::V6("fe80::7:b4ff:fe00:2e00".parse().unwrap()))
        );
        assert_eq!(
            c.groups[2].glbp.vip,
            Some(IpAddr::V6("fe80::47".parse().unwrap()))
        );
        assert_eq!(c.interfaces()[1].link_local, None);

        let e = trunk_err("[[group]]\nport = \"trunk0.10\"\nid = 46\nvip = \"2001:db8::1\"\n");
        assert_eq!(
            (e.line, e.column, e.key.as_str()),
            (19, 7, "group[0].vip"),
            "{e}"
        );
        assert!(e.message.contains("link-local"), "{e}");
        let e = trunk_err("[[group]]\nport = \"trunk0.10\"\nid = 2000\nvip = \"autoconfig\"\n");
        assert_eq!((e.line, e.key.as_str()), (19, "group[0].vip"), "{e}");
        assert!(e.message.contains("0..=1023"), "{e}");

        let ok = vlan("id = 30\naddress = \"10.0.30.2/24\"\nlink_local = \"fe80::30\"\n");
        let c = parse(&format!("{TRUNK}{ok}")).unwrap();
        assert_eq!(
            c.interfaces()[3].link_local,
            Some("fe80::30".parse().unwrap())
        );
        let bad = vlan("id = 30\naddress = \"10.0.30.2/24\"\nlink_local = \"2001:db8::30\"\n");
        let e = trunk_err(&bad);
        assert_eq!((e.line, e.key.as_str()), (20, "vlan[2].link_local"), "{e}");
        assert!(e.message.contains("not a link-local"), "{e}");
    }

    /// `[[route]]` and `[[neighbor]]` take IPv6: a next hop on an
    /// `address6` subnet, a neighbour on one or link-local.
    #[test]
    fn ipv6_routes_and_neighbours() {
        let base = format!("{MIN}address6 = [\"2001:db8:10::2/64\"]\n");
        let ok = format!(
            "{base}[[route]]\nprefix = \"::/0\"\nvia = \"2001:db8:10::1\"\n\
             [[route]]\nprefix = \"10.9.0.0/16\"\nvia = \"10.0.0.1\"\n\
             [[route]]\nprefix = \"2001:db8:88::/48\"\nvia = \"fe80::1\"\nport = \"lan0\"\n\
             [[neighbor]]\nport = \"lan0\"\nip = \"fe80::1\"\nmac = \"02:00:00:00:00:01\"\n"
        );
        let c = parse(&ok).unwrap();
        assert_eq!(c.routes[0].prefix, IpNet::V6("::/0".parse().unwrap()));
        assert_eq!(c.routes.len(), 3);
        assert_eq!(c.routes[2].port.as_deref(), Some("lan0"));
        let cases = [
            ("[[route]]\nprefix = \"2001:db8:77::/48\"\nvia = \"10.0.0.1\"\n", "route[0].via", "family"),
            ("[[route]]\nprefix = \"2001:db8:77::/48\"\nvia = \"fe80::1\"\n", "route[0].via", "name its interface with `port`"),
            ("[[route]]\nprefix = \"2001:db8:77::/48\"\nvia = \"fe80::1\"\nport = \"up9\"\n", "route[0].port", "no interface up9"),
            ("[[route]]\nprefix = \"2001:db8:77::/48\"\nvia = \"2001:db8:10::1\"\nport = \"lan0\"\n", "route[0].port", "link-local next hop only"),
            ("[[route]]\nprefix = \"10.9.0.0/16\"\nvia = \"10.0.0.1\"\nport = \"lan0\"\n", "route[0].port", "link-local next hop only"),
            ("[[route]]\nprefix = \"2001:db8:77::/48\"\nvia = \"2001:db8:99::1\"\n", "route[0].via", "not on the `address6` subnet"),
            ("[[route]]\nprefix = \"2001:db8:77::1/48\"\nvia = \"2001:db8:10::1\"\n", "route[0].prefix", "host bits"),
            ("[[neighbor]]\nport = \"lan0\"\nip = \"2001:db8:99::1\"\nmac = \"02:00:00:00:00:01\"\n", "neighbor[0].ip", "neither link-local"),
            ("[[neighbor]]\nport = \"lan0\"\nip = \"2001:db8:10::2\"\nmac = \"02:00:00:00:00:01\"\n", "neighbor[0].ip", "own address"),
        ];
        for (extra, key, why) in cases {
            let e = parse(&format!("{base}{extra}")).unwrap_err();
            assert_eq!(e.key, key, "{extra}: {e}");
            assert!(e.message.contains(why), "{extra}: {e}");
        }
    }

    /// `address6` takes global addresses, one subnet per interface; `ra`
    /// defaults to IOS's values and refuses what hosts would not accept.
    #[test]
    fn ipv6_addresses_and_router_advertisements() {
        let ok = vlan(
            "id = 30\naddress = \"10.0.30.2/24\"\naddress6 = [\"2001:db8:30::2/64\"]\n\
             ra = { interval = 30, lifetime = 90, mtu = 1400 }\n",
        );
        let c = parse(&format!("{TRUNK}{ok}")).unwrap();
        let f = &c.interfaces()[3];
        assert_eq!(
            f.address6[0].network(),
            "2001:db8:30::".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(
            (f.ra.interval, f.ra.lifetime, f.ra.mtu),
            (30, 90, Some(1400))
        );
        assert_eq!(c.interfaces()[1].ra, RaConfig::default());
        assert_eq!(
            (RaConfig::default().interval, RaConfig::default().lifetime),
            (200, 1800)
        );

        let cases = [
            (
                "address6 = [\"fe80::30/64\"]\n",
                "vlan[2].address6[0]",
                "not a global",
            ),
            (
                "address6 = [\"2001:db8::1/129\"]\n",
                "vlan[2].address6[0]",
                "0..=128",
            ),
            (
                "address6 = [\"2001:db8::1/64\", \"2001:db8::2/48\"]\n",
                "vlan[2].address6[1]",
                "overlaps",
            ),
            ("ra = { interval = 2 }\n", "vlan[2].ra.interval", "4..=1800"),
            (
                "ra = { lifetime = 10 }\n",
                "vlan[2].ra.lifetime",
                "interval..=9000",
            ),
            ("ra = { mtu = 1000 }\n", "vlan[2].ra.mtu", "1280"),
            (
                "ra = { prefixes = [\"ff02::/16\"] }\n",
                "vlan[2].ra.prefixes[0]",
                "not a global",
            ),
            ("ra = { every = 3 }\n", "vlan[2].ra.every", "unknown field"),
        ];
        for (extra, key, why) in cases {
            let e = trunk_err(&vlan(&format!(
                "id = 30\naddress = \"10.0.30.2/24\"\n{extra}"
            )));
            assert_eq!((e.line, e.key.as_str()), (20, key), "{extra}: {e}");
            assert!(e.message.contains(why), "{extra}: {e}");
        }
    }

    #[test]
    fn group_on_a_vlan_keeps_its_vip_on_the_vlans_subnet() {
        let e = trunk_err("[[group]]\nport = \"trunk0.10\"\nid = 1\nvip = \"10.0.20.1\"\n");
        assert_eq!(
            (e.line, e.column, e.key.as_str()),
            (19, 7, "group[0].vip"),
            "{e}"
        );
        assert!(
            e.message
                .contains("virtual IP 10.0.20.1 is not on the subnet 10.0.10.0/24"),
            "{e}"
        );
        let e = trunk_err("[[group]]\nport = \"trunk0.10\"\nid = 1\nvip = \"10.0.10.2\"\n");
        assert!(
            e.message
                .contains("virtual IP 10.0.10.2 is VLAN trunk0.10's own address"),
            "{e}"
        );
        let e = trunk_err("[[route]]\nprefix = \"0.0.0.0/0\"\nvia = \"10.0.20.2\"\n");
        assert_eq!((e.line, e.key.as_str()), (18, "route[0].via"), "{e}");
        assert!(
            e.message
                .contains("next hop 10.0.20.2 is VLAN trunk0.20's own address"),
            "{e}"
        );
    }

    #[test]
    fn port_carrying_nothing_is_refused() {
        let e = parse(&format!(
            "{MIN}[[port]]\nname = \"trunk0\"\ndevice = \"net_null1\"\n"
        ))
        .unwrap_err();
        assert_eq!((e.line, e.column, e.key.as_str()), (5, 1, "port[1]"), "{e}");
        assert!(
            e.message
                .contains("port trunk0 carries nothing: give it an address or a [[vlan]]"),
            "{e}"
        );
    }

    #[test]
    fn pci_addresses() {
        assert!(is_pci_address("0000:01:00.0"));
        assert!(is_pci_address("01:00.1"));
        assert!(!is_pci_address("net_null0"));
        assert!(!is_pci_address("0000:01:00.8"));
    }
}
