//! Per-group configuration: the one model of a group's settings. The TOML
//! file's `[[group]]` tables deserialize straight into [`GroupConfig`] (key
//! names, defaults and units as documented in the README), and
//! [`GroupConfig::validate`] is the only place its ranges and cross-field
//! rules are checked; the file layer adds only file, line and column, and
//! the rules that involve other parts of the file (ports, subnets, other
//! groups).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Deserializer, Serialize};

use crate::wire::glbp::MAX_GROUP;

/// How the AVG picks a virtual MAC for an ARP request (`load_balancing`:
/// `round-robin`, `weighted`, `host-dependent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadBalancing {
    /// Cycle through the eligible forwarders 1..=4 (IOS default).
    #[default]
    RoundRobin,
    /// Proportional to the weights of the forwarders' current holders
    /// (deterministic smooth weighted round-robin).
    Weighted,
    /// A function of the host MAC (rendezvous hashing): stable while the set of
    /// eligible forwarders is stable, minimal reshuffling when it changes.
    HostDependent,
}

/// `glbp weighting MAX lower LOWER upper UPPER`; in TOML
/// `weighting = { max, lower, upper }` (upper defaults to max).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(from = "WeightingKeys")]
pub struct Weighting {
    /// Weight with every tracked object up, 1..=254 (default 100).
    pub max: u8,
    /// Below this the member stops forwarding (default 1).
    pub lower: u8,
    /// At or above this a member that stopped may forward again (default = max).
    pub upper: u8,
}

impl Default for Weighting {
    fn default() -> Self {
        Weighting {
            max: 100,
            lower: 1,
            upper: 100,
        }
    }
}

/// The TOML form of [`Weighting`]: `upper` may be left out.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WeightingKeys {
    #[serde(default = "default_weight")]
    max: u8,
    #[serde(default = "default_lower")]
    lower: u8,
    #[serde(default)]
    upper: Option<u8>,
}

impl From<WeightingKeys> for Weighting {
    fn from(k: WeightingKeys) -> Self {
        Weighting {
            max: k.max,
            lower: k.lower,
            upper: k.upper.unwrap_or(k.max),
        }
    }
}

fn default_weight() -> u8 {
    100
}
fn default_lower() -> u8 {
    1
}

/// One key of an MD5 key chain (`{ id, key }`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainKey {
    pub id: u32,
    pub key: String,
}

/// Longest text password or MD5 key (IOS's `key-string` limit).
pub const MAX_KEY_LEN: usize = 100;

/// Authentication of GLBP messages: `authentication = { text = "..." }`,
/// `{ md5 = "..." }` or `{ md5_key_chain = [{ id = 1, key = "..." }] }`.
/// Digests are computed and verified by the runtime with the wire layer;
/// the engine chooses the TLV variant and compares text passwords.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum Authentication {
    /// No authentication TLV (the key left out).
    #[default]
    #[serde(skip)]
    None,
    /// Plain-text password.
    Text(String),
    /// MD5 with a key string.
    #[serde(rename = "md5")]
    Md5KeyString(String),
    /// MD5 with a key chain; messages go out with the lowest key id, as
    /// IOS picks the first valid key.
    Md5KeyChain(Vec<ChainKey>),
}

impl Authentication {
    /// Whether this mode carries an MD5 digest (and hence the type-4 nonce TLV).
    pub fn is_md5(&self) -> bool {
        matches!(
            self,
            Authentication::Md5KeyString(_) | Authentication::Md5KeyChain(_)
        )
    }

    /// The key id outgoing messages carry with a key chain.
    pub fn send_key_id(&self) -> Option<u32> {
        match self {
            Authentication::Md5KeyChain(keys) => keys.iter().map(|k| k.id).min(),
            _ => None,
        }
    }
}

/// `glbp client-cache maximum N timeout T`; in TOML
/// `client_cache = { max, timeout_s }`. Off (max 0) when the key is left
/// out; on with 2000 hosts when it is given without `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientCache {
    /// Maximum number of hosts remembered, 0 (off) ..= 2000.
    #[serde(default = "default_cache_max")]
    pub max: u16,
    /// How long an assignment is remembered, in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_s: u32,
}

impl Default for ClientCache {
    fn default() -> Self {
        ClientCache {
            max: 0,
            timeout_s: u32::from(DEFAULT_TIMEOUT_S),
        }
    }
}

/// Largest client cache (IOS's limit).
pub const MAX_CLIENT_CACHE: u16 = 2000;

fn default_cache_max() -> u16 {
    MAX_CLIENT_CACHE
}

/// Configuration of one GLBP group on one port: the keys of a TOML
/// `[[group]]` table other than `port` and `track` (which name the port and
/// the tracked objects; the runtime resolves those into `tracking`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// Group number, 0..=1023.
    pub id: u16,
    /// Virtual IP; `None` means learn it from the AVG.
    #[serde(default)]
    pub vip: Option<IpAddr>,
    /// Gateway priority 1..=255 (default 100).
    #[serde(default = "default_priority")]
    pub priority: u8,
    /// Whether a higher-priority member takes the AVG role from a running AVG.
    #[serde(default)]
    pub preempt: bool,
    /// Minimum time after enabling before preempting the AVG, ms (TOML:
    /// `preempt_delay_s`, seconds).
    #[serde(
        default,
        rename = "preempt_delay_s",
        deserialize_with = "seconds_as_ms"
    )]
    pub preempt_delay_ms: u64,
    /// Whether a primary owner retakes its forwarder from a secondary.
    #[serde(default = "default_true")]
    pub forwarder_preempt: bool,
    /// Delay before a forwarder preemption, ms (default 30 s; TOML:
    /// `forwarder_preempt_delay_s`, seconds).
    #[serde(
        default = "default_fwd_preempt_delay_ms",
        rename = "forwarder_preempt_delay_s",
        deserialize_with = "seconds_as_ms"
    )]
    pub forwarder_preempt_delay_ms: u64,
    /// Hello interval, ms (default 3000).
    #[serde(default = "default_hello")]
    pub hello_ms: u32,
    /// Hold time, ms (default 10000); must exceed `hello_ms`.
    #[serde(default = "default_hold")]
    pub hold_ms: u32,
    /// Redirect time, s (default 600).
    #[serde(default = "default_redirect")]
    pub redirect_s: u16,
    /// Forwarder timeout, s (default 14400); must exceed `redirect_s`.
    #[serde(default = "default_timeout_u16")]
    pub timeout_s: u16,
    /// ARP answering method (AVG only).
    #[serde(default)]
    pub load_balancing: LoadBalancing,
    /// Weight and thresholds.
    #[serde(default)]
    pub weighting: Weighting,
    /// Tracked object id -> weight decrement while the object is down
    /// (filled by the runtime from `track`).
    #[serde(skip)]
    pub tracking: BTreeMap<u32, u8>,
    /// Message authentication.
    #[serde(default)]
    pub authentication: Authentication,
    /// Host -> forwarder memory of the AVG.
    #[serde(default)]
    pub client_cache: ClientCache,
    /// Hellos are sent up to this percentage of the interval early, from a
    /// seeded PRNG (IOS shows up to ~20 %). 0 disables jitter; at most 50.
    /// Not a TOML key: always 20 in the daemon.
    #[serde(skip, default = "default_jitter")]
    pub hello_jitter_pct: u8,
    /// The patent's lone-survivor gratuitous ARP (IOS sends none: `false`).
    #[serde(default = "default_true")]
    pub lone_survivor_garp: bool,
}

fn default_priority() -> u8 {
    100
}
fn default_true() -> bool {
    true
}
fn default_fwd_preempt_delay_ms() -> u64 {
    30_000
}
fn default_hello() -> u32 {
    3000
}
fn default_hold() -> u32 {
    10_000
}
fn default_redirect() -> u16 {
    600
}
/// IOS's forwarder timeout, also the client cache's default timeout, s.
const DEFAULT_TIMEOUT_S: u16 = 14_400;

fn default_timeout() -> u32 {
    u32::from(DEFAULT_TIMEOUT_S)
}
fn default_timeout_u16() -> u16 {
    DEFAULT_TIMEOUT_S
}
fn default_jitter() -> u8 {
    20
}

/// A TOML number of seconds as milliseconds.
fn seconds_as_ms<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    u32::deserialize(d).map(|s| u64::from(s) * 1000)
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            id: 0,
            vip: None,
            priority: default_priority(),
            preempt: false,
            preempt_delay_ms: 0,
            forwarder_preempt: true,
            forwarder_preempt_delay_ms: default_fwd_preempt_delay_ms(),
            hello_ms: default_hello(),
            hold_ms: default_hold(),
            redirect_s: default_redirect(),
            timeout_s: default_timeout_u16(),
            load_balancing: LoadBalancing::RoundRobin,
            weighting: Weighting::default(),
            tracking: BTreeMap::new(),
            authentication: Authentication::None,
            client_cache: ClientCache::default(),
            hello_jitter_pct: default_jitter(),
            lone_survivor_garp: true,
        }
    }
}

/// A configuration error: the key (TOML path relative to the group, e.g.
/// `hold_ms` or `authentication.md5_key_chain[1].id`) and what is wrong
/// and what would be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Path of the offending key.
    pub field: String,
    /// What is wrong and what would be accepted.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl std::error::Error for ConfigError {}

fn err(field: impl Into<String>, reason: impl Into<String>) -> Result<(), ConfigError> {
    Err(ConfigError {
        field: field.into(),
        reason: reason.into(),
    })
}

/// Hello interval range, ms (IOS: `glbp timers msec 50..60000`).
pub const HELLO_MS: std::ops::RangeInclusive<u32> = 50..=60_000;
/// Longest hold time, ms.
pub const MAX_HOLD_MS: u32 = 180_000;
/// Longest redirect, s.
pub const MAX_REDIRECT_S: u16 = 3600;
/// Longest forwarder timeout, s.
pub const MAX_TIMEOUT_S: u16 = 64_800;
/// Longest preemption delay, ms.
pub const MAX_PREEMPT_DELAY_MS: u64 = 3_600_000;

impl GroupConfig {
    /// Checks ranges and cross-field rules; the error names the key as in
    /// the TOML file and says what would be accepted.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.id > MAX_GROUP {
            return err("id", format!("{} is not in 0..={MAX_GROUP}", self.id));
        }
        if self.priority == 0 {
            return err("priority", "0 is not in 1..=255");
        }
        if !HELLO_MS.contains(&self.hello_ms) {
            return err(
                "hello_ms",
                format!(
                    "{} is not in {}..={}",
                    self.hello_ms,
                    HELLO_MS.start(),
                    HELLO_MS.end()
                ),
            );
        }
        if self.hold_ms <= self.hello_ms || self.hold_ms > MAX_HOLD_MS {
            return err(
                "hold_ms",
                format!(
                    "{} must be greater than hello_ms ({}) and at most {MAX_HOLD_MS}",
                    self.hold_ms, self.hello_ms
                ),
            );
        }
        if self.redirect_s > MAX_REDIRECT_S {
            return err(
                "redirect_s",
                format!("{} is not in 0..={MAX_REDIRECT_S}", self.redirect_s),
            );
        }
        if self.timeout_s <= self.redirect_s || self.timeout_s > MAX_TIMEOUT_S {
            return err(
                "timeout_s",
                format!(
                    "{} must be greater than redirect_s ({}) and at most {MAX_TIMEOUT_S}",
                    self.timeout_s, self.redirect_s
                ),
            );
        }
        for (key, ms) in [
            ("preempt_delay_s", self.preempt_delay_ms),
            ("forwarder_preempt_delay_s", self.forwarder_preempt_delay_ms),
        ] {
            if ms > MAX_PREEMPT_DELAY_MS {
                return err(
                    key,
                    format!(
                        "{} is not in 0..={}",
                        ms / 1000,
                        MAX_PREEMPT_DELAY_MS / 1000
                    ),
                );
            }
        }
        let w = self.weighting;
        if w.max == 0 || w.max > 254 {
            return err("weighting", format!("max {} is not in 1..=254", w.max));
        }
        if w.lower > w.upper || w.upper > w.max {
            return err(
                "weighting",
                format!(
                    "thresholds must satisfy lower ({}) <= upper ({}) <= max ({})",
                    w.lower, w.upper, w.max
                ),
            );
        }
        if let Some((obj, _)) = self.tracking.iter().find(|(_, d)| **d == 0) {
            return err("track", format!("object {obj}: decrement must be 1..=254"));
        }
        if self.client_cache.max > MAX_CLIENT_CACHE {
            return err(
                "client_cache",
                format!(
                    "max {} is not in 1..={MAX_CLIENT_CACHE}",
                    self.client_cache.max
                ),
            );
        }
        if self.client_cache.max > 0 && self.client_cache.timeout_s == 0 {
            return err(
                "client_cache",
                "timeout_s must be at least 1 s when the cache is on",
            );
        }
        if self.hello_jitter_pct > 50 {
            return err("hello_jitter_pct", "expected 0..=50");
        }
        let key_ok = |s: &str| (1..=MAX_KEY_LEN).contains(&s.len());
        match &self.authentication {
            Authentication::Text(t) if !key_ok(t) => {
                return err(
                    "authentication",
                    format!("text must be 1..={MAX_KEY_LEN} bytes"),
                )
            }
            Authentication::Md5KeyString(s) if !key_ok(s) => {
                return err(
                    "authentication",
                    format!("md5 key-string must be 1..={MAX_KEY_LEN} bytes"),
                )
            }
            Authentication::Md5KeyChain(keys) if keys.is_empty() => {
                return err(
                    "authentication",
                    "md5_key_chain needs at least one { id, key }",
                )
            }
            Authentication::Md5KeyChain(keys) => {
                for (j, key) in keys.iter().enumerate() {
                    let at = |f: &str| format!("authentication.md5_key_chain[{j}].{f}");
                    if keys[..j].iter().any(|o| o.id == key.id) {
                        return err(at("id"), format!("key id {} is used twice", key.id));
                    }
                    if !key_ok(&key.key) {
                        return err(at("key"), format!("key must be 1..={MAX_KEY_LEN} bytes"));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}
