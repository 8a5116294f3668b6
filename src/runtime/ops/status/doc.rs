//! The status document's types: one serde layout shared by the daemon that
//! fills it (`status::build`), the status file, `glbpd show`, the DPDK
//! telemetry commands and the Prometheus endpoint, so that a renamed field
//! is renamed for every reader or does not compile.
//!
//! Every struct takes `#[serde(default)]`: `glbpd show` reads the file as
//! written by whatever glbpd holds the prefix, possibly another version.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::protocol::Millis;
use crate::runtime::control::timing::TimingReport;
use crate::runtime::control::ControlStats;
use crate::runtime::dataplane::counters::{DropCounts, PuntCounts};

/// The whole document (the status file, `/glbp/*` telemetry).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Status {
    pub version: String,
    pub pid: u32,
    pub prefix: String,
    pub uptime_ms: u64,
    /// The last reload's verdict; null before any.
    pub last_reload: Option<ReloadVerdict>,
    /// The rows of `show glbp brief`.
    pub brief: Vec<BriefRow>,
    pub groups: Vec<Group>,
    pub stats: Stats,
    pub ports: Vec<Port>,
}

/// `show neighbors`: the ARP and IPv6 neighbour tables, whole, written on
/// request (`/glbp/neighbors`) to the runtime folder's
/// [`crate::runtime::ops::NEIGHBORS_FILE`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NeighborTables {
    /// When they were listed (ms since the start).
    pub at_ms: u64,
    pub ipv4: Vec<Neighbor>,
    pub ipv6: Vec<Neighbor>,
}

/// One neighbour entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Neighbor {
    pub interface: String,
    pub ip: String,
    /// None while it is being resolved.
    pub mac: Option<String>,
    /// `static`, `reachable`, `probe` (being re-validated, still used) or
    /// `incomplete` (being resolved).
    pub state: String,
    /// Until its next probe (for a reachable one: until it is
    /// re-validated); none for a static entry.
    pub next_probe_in_ms: Option<u64>,
}

/// The verdict of a configuration reload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReloadVerdict {
    pub at_ms: u64,
    pub ok: bool,
    pub message: String,
}

/// One row of `show glbp brief`: a group (`fwd` "-") or one of its
/// forwarders.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BriefRow {
    pub interface: String,
    pub group: u16,
    /// The forwarder number; None (JSON "-") for the group's own row.
    #[serde(with = "dash_or_number")]
    pub fwd: Option<u8>,
    pub priority: u8,
    pub state: String,
    /// The virtual IP (group row, null when unknown) or the virtual MAC.
    pub address: Option<String>,
    pub active_router: String,
    pub standby_router: String,
}

/// `Option<u8>` as a JSON number, None as `"-"` (as IOS prints it).
mod dash_or_number {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<u8>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(n) => n.serialize(s),
            None => s.serialize_str("-"),
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Number(u8),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
        match Either::deserialize(d)? {
            Either::Number(n) => Ok(Some(n)),
            Either::Text(t) if t == "-" => Ok(None),
            Either::Text(t) => Err(serde::de::Error::custom(format!(
                "fwd: expected a number or \"-\", got {t:?}"
            ))),
        }
    }
}

/// One group, as `show glbp` (`text`) and field by field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Group {
    /// The interface: a port, or a VLAN of one (`trunk0.40`).
    pub port: String,
    /// The interface's 802.1Q VLAN id; 0 untagged.
    pub vlan: u16,
    pub group: u16,
    pub state: String,
    pub priority: u8,
    pub vip: Option<String>,
    pub active_router: Option<Peer>,
    pub standby_router: Option<Peer>,
    pub hello_ms: u32,
    pub hold_ms: u32,
    pub configured_hello_ms: u32,
    pub configured_hold_ms: u32,
    pub redirect_s: u16,
    pub timeout_s: u16,
    pub configured_redirect_s: u16,
    pub configured_timeout_s: u16,
    pub next_hello_in_ms: Option<Millis>,
    /// "round-robin", "weighted" or "host-dependent".
    pub load_balancing: String,
    pub weight: u8,
    pub weight_low: bool,
    pub weighting: Weighting,
    pub members: Vec<Member>,
    pub forwarders: Vec<Forwarder>,
    /// Null when the client cache is off.
    pub client_cache: Option<ClientCache>,
    pub counters: GroupCounters,
    pub tracking: Vec<Track>,
    /// `show glbp` for this group, in the IOS layout.
    pub text: String,
}

/// The active or standby gateway.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Peer {
    pub ip: String,
    pub priority: u8,
    pub local: bool,
    pub expires_in_ms: Option<Millis>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Weighting {
    pub max: u8,
    pub lower: u8,
    pub upper: u8,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Member {
    pub mac: String,
    pub ip: String,
    pub priority: u8,
    pub state: String,
    pub local: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Forwarder {
    pub number: u8,
    pub vmac: String,
    pub state: String,
    pub owner: Option<String>,
    pub primary: bool,
    pub active_router: Option<String>,
    pub weight: Option<u8>,
    pub redirect_left_ms: Option<Millis>,
    pub timeout_left_ms: Option<Millis>,
    /// ARP replies that chose this forwarder, summed over the workers.
    pub clients: u64,
    pub cached_clients: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientCache {
    pub max: u16,
    pub timeout_s: u32,
    pub clients: Vec<CachedClient>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CachedClient {
    pub host: String,
    pub forwarder: u8,
    pub age_ms: Millis,
}

/// The protocol engine's counters of one group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GroupCounters {
    pub hellos_in: u64,
    pub hellos_out: u64,
    pub auth_failures: u64,
    pub malformed: u64,
    pub mismatches: u64,
    pub vg_transitions: u64,
    pub vf_transitions: u64,
    pub requests_in: u64,
    pub requests_out: u64,
    pub responses_in: u64,
    pub responses_out: u64,
    pub two_active_seen: u64,
    pub lone_survivor_garps: u64,
    pub non_member_claims: u64,
}

impl From<&crate::protocol::Counters> for GroupCounters {
    fn from(c: &crate::protocol::Counters) -> GroupCounters {
        GroupCounters {
            hellos_in: c.hellos_in,
            hellos_out: c.hellos_out,
            auth_failures: c.auth_failures,
            malformed: c.malformed,
            mismatches: c.mismatches,
            vg_transitions: c.vg_transitions,
            vf_transitions: c.vf_transitions,
            requests_in: c.requests_in,
            requests_out: c.requests_out,
            responses_in: c.responses_in,
            responses_out: c.responses_out,
            two_active_seen: c.two_active_seen,
            lone_survivor_garps: c.lone_survivor_garps,
            non_member_claims: c.non_member_claims,
        }
    }
}

/// A tracked object a group's weighting depends on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Track {
    pub object: u32,
    pub what: String,
    /// "Up" or "Down".
    pub state: String,
    pub decrement: u8,
    /// None before the first change.
    pub changed_ms_ago: Option<u64>,
}

/// Counters: the instance's total, and each lcore's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Stats {
    pub total: Counters,
    pub lcores: Vec<Lcore>,
    pub control: ControlStats,
    /// Entries in the control lcore's neighbour table.
    pub neighbors: usize,
    /// Entries in its IPv6 neighbour table.
    pub neighbors6: usize,
    pub timing: TimingReport,
}

/// The counters of one lcore (or their total), per port by port name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counters {
    pub rx_packets: BTreeMap<String, u64>,
    pub rx_bytes: BTreeMap<String, u64>,
    pub tx_packets: BTreeMap<String, u64>,
    pub tx_bytes: BTreeMap<String, u64>,
    pub forwarded: u64,
    pub arp_replies: u64,
    /// ARP replies for the virtual IPs, by forwarder number 1..=4.
    pub arp_replies_by_forwarder: Vec<u64>,
    /// Neighbour advertisements for virtual IPv6 addresses.
    pub nd_replies: u64,
    pub punted: u64,
    /// `{reason: count}`.
    pub drops: DropCounts,
    /// Punts dropped by the policers, `{class: count}`.
    pub policed: PuntCounts,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Lcore {
    pub lcore: u32,
    pub role: Role,
    pub counters: Counters,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    #[default]
    Control,
    Worker,
}

/// One interface: a DPDK port's untagged traffic, or one VLAN of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Port {
    pub name: String,
    /// The DPDK port it is on (its own name for an untagged interface).
    pub link: String,
    /// Its 802.1Q VLAN id; 0 untagged.
    pub vlan: u16,
    pub mac: String,
    /// Its address, `a.b.c.d/len`.
    pub address: String,
    /// None when the link cannot be read.
    pub link_up: Option<bool>,
    pub speed_mbps: Option<u32>,
    pub promiscuous: bool,
    pub vmacs: Vec<String>,
    /// The device's counters, inline (`ipackets`, `opackets`, ...).
    #[serde(flatten)]
    pub stats: crate::dpdk::PortStats,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::dataplane::counters::DropReason;

    #[test]
    fn brief_rows_keep_the_dash_of_group_rows() {
        let mut st = Status::default();
        st.brief.push(BriefRow {
            fwd: None,
            ..BriefRow::default()
        });
        st.brief.push(BriefRow {
            fwd: Some(2),
            ..BriefRow::default()
        });
        st.stats.total.drops[DropReason::NoRoute] = 7;
        let v = serde_json::to_value(&st).unwrap();
        assert_eq!(v["brief"][0]["fwd"], "-");
        assert_eq!(v["brief"][1]["fwd"], 2);
        assert_eq!(v["stats"]["total"]["drops"]["no_route"], 7);
        assert_eq!(v["last_reload"], serde_json::Value::Null);
        assert_eq!(v["stats"]["lcores"], serde_json::json!([]));
        let back: Status = serde_json::from_value(v).unwrap();
        assert_eq!(back, st);
        assert!(serde_json::from_str::<BriefRow>(r#"{"fwd": "x"}"#).is_err());
    }
}
