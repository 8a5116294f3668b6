//! Per-group configuration: a plain struct the binary fills from its TOML.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use crate::wire::glbp::MAX_GROUP;

/// How the AVG picks a virtual MAC for an ARP request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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

/// `glbp weighting MAX lower LOWER upper UPPER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// Authentication of GLBP messages. Digests are computed and verified by the
/// runtime with the wire layer; the engine only chooses the TLV variant.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Authentication {
    /// No authentication TLV.
    #[default]
    None,
    /// Plain-text password (at most 249 bytes on the wire).
    Text(String),
    /// MD5 with a key string.
    Md5KeyString(String),
    /// MD5 with a key chain; `key_id` is the key sent in the TLV.
    Md5KeyChain {
        /// Name of the key chain (resolved by the runtime).
        chain: String,
        /// Key id put in outgoing TLVs.
        key_id: u32,
    },
}

impl Authentication {
    /// Whether this mode carries an MD5 digest (and hence the type-4 nonce TLV).
    pub fn is_md5(&self) -> bool {
        matches!(
            self,
            Authentication::Md5KeyString(_) | Authentication::Md5KeyChain { .. }
        )
    }
}

/// `glbp client-cache maximum N timeout T`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientCache {
    /// Maximum number of hosts remembered, 0 (off) ..= 2000.
    pub max: u16,
    /// How long an assignment is remembered, in seconds.
    pub timeout_s: u32,
}

impl Default for ClientCache {
    fn default() -> Self {
        ClientCache {
            max: 0,
            timeout_s: 14400,
        }
    }
}

/// Configuration of one GLBP group on one port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    /// Group number, 0..=1023.
    pub id: u16,
    /// Virtual IP; `None` means learn it from the AVG.
    pub vip: Option<IpAddr>,
    /// Gateway priority 1..=255 (default 100).
    pub priority: u8,
    /// Whether a higher-priority member takes the AVG role from a running AVG.
    pub preempt: bool,
    /// Minimum time after enabling before preempting the AVG, ms.
    pub preempt_delay_ms: u64,
    /// Whether a primary owner retakes its forwarder from a secondary.
    pub forwarder_preempt: bool,
    /// Delay before a forwarder preemption, ms (default 30 s).
    pub forwarder_preempt_delay_ms: u64,
    /// Hello interval, ms (default 3000).
    pub hello_ms: u32,
    /// Hold time, ms (default 10000); must exceed `hello_ms`.
    pub hold_ms: u32,
    /// Redirect time, s (default 600).
    pub redirect_s: u16,
    /// Forwarder timeout, s (default 14400); must exceed `redirect_s`.
    pub timeout_s: u16,
    /// ARP answering method (AVG only).
    pub load_balancing: LoadBalancing,
    /// Weight and thresholds.
    pub weighting: Weighting,
    /// Tracked object id -> weight decrement while the object is down.
    pub tracking: BTreeMap<u32, u8>,
    /// Message authentication.
    pub authentication: Authentication,
    /// Host -> forwarder memory of the AVG.
    pub client_cache: ClientCache,
    /// Hellos are sent up to this percentage of the interval early, from a
    /// seeded PRNG (IOS shows up to ~20 %). 0 disables jitter; at most 50.
    pub hello_jitter_pct: u8,
    /// The patent's lone-survivor gratuitous ARP (IOS sends none: `false`).
    pub lone_survivor_garp: bool,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            id: 0,
            vip: None,
            priority: 100,
            preempt: false,
            preempt_delay_ms: 0,
            forwarder_preempt: true,
            forwarder_preempt_delay_ms: 30_000,
            hello_ms: 3000,
            hold_ms: 10_000,
            redirect_s: 600,
            timeout_s: 14_400,
            load_balancing: LoadBalancing::RoundRobin,
            weighting: Weighting::default(),
            tracking: BTreeMap::new(),
            authentication: Authentication::None,
            client_cache: ClientCache::default(),
            hello_jitter_pct: 20,
            lone_survivor_garp: true,
        }
    }
}

/// A configuration error: the field (TOML key) and what would be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Name of the offending field.
    pub field: &'static str,
    /// What is wrong and what would be accepted.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl std::error::Error for ConfigError {}

fn err(field: &'static str, reason: impl Into<String>) -> Result<(), ConfigError> {
    Err(ConfigError {
        field,
        reason: reason.into(),
    })
}

impl GroupConfig {
    /// Checks ranges and cross-field rules; the error names the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.id > MAX_GROUP {
            return err(
                "id",
                format!("{} is out of range, expected 0..={MAX_GROUP}", self.id),
            );
        }
        if self.priority == 0 {
            return err("priority", "0 is reserved for resigning, expected 1..=255");
        }
        if self.preempt_delay_ms > 3_600_000 {
            return err("preempt_delay", "expected at most 3600 s");
        }
        if self.forwarder_preempt_delay_ms > 3_600_000 {
            return err("forwarder_preempt_delay", "expected at most 3600 s");
        }
        if self.hello_ms == 0 {
            return err("hello", "must be at least 1 ms");
        }
        if self.hold_ms <= self.hello_ms {
            return err(
                "hold",
                format!(
                    "{} ms must exceed hello ({} ms)",
                    self.hold_ms, self.hello_ms
                ),
            );
        }
        if self.hold_ms > 180_000 {
            return err("hold", "expected at most 180 s");
        }
        if self.redirect_s > 3600 {
            return err(
                "redirect",
                format!("{} s is out of range, expected 0..=3600", self.redirect_s),
            );
        }
        if self.timeout_s <= self.redirect_s {
            return err(
                "timeout",
                format!(
                    "{} s must exceed redirect ({} s)",
                    self.timeout_s, self.redirect_s
                ),
            );
        }
        let w = self.weighting;
        if w.max == 0 || w.max == 255 {
            return err(
                "weighting",
                format!("{} is out of range, expected 1..=254", w.max),
            );
        }
        if w.lower > w.max {
            return err(
                "weighting.lower",
                format!("{} exceeds the weighting {}", w.lower, w.max),
            );
        }
        if w.upper > w.max || w.upper < w.lower {
            return err(
                "weighting.upper",
                format!(
                    "{} must be within lower ({}) ..= weighting ({})",
                    w.upper, w.lower, w.max
                ),
            );
        }
        if let Some((obj, _)) = self.tracking.iter().find(|(_, d)| **d == 0) {
            return err(
                "tracking",
                format!("object {obj}: decrement must be 1..=254"),
            );
        }
        if self.client_cache.max > 2000 {
            return err(
                "client_cache.max",
                format!("{} exceeds 2000", self.client_cache.max),
            );
        }
        if self.client_cache.max > 0 && self.client_cache.timeout_s == 0 {
            return err(
                "client_cache.timeout",
                "must be at least 1 s when the cache is on",
            );
        }
        if self.hello_jitter_pct > 50 {
            return err("hello_jitter_pct", "expected 0..=50");
        }
        match &self.authentication {
            Authentication::Text(s) if s.is_empty() || s.len() > 249 => {
                return err("authentication.text", "expected 1..=249 bytes");
            }
            Authentication::Md5KeyString(s) if s.is_empty() || s.len() > 100 => {
                return err("authentication.md5_key_string", "expected 1..=100 bytes");
            }
            Authentication::Md5KeyChain { chain, .. } if chain.is_empty() => {
                return err("authentication.md5_key_chain", "name must not be empty");
            }
            _ => {}
        }
        Ok(())
    }
}
