//! Faults the simulator injects, from a script (TOML) or a seeded generator.

use serde::Deserialize;

use crate::protocol::Millis;

/// One fault.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// The router dies silently.
    Crash(usize),
    /// The router resigns gracefully, then is down.
    Stop(usize),
    /// A down router comes back with fresh state.
    Restart(usize),
    /// Split the LAN: these routers (and hosts) on one side, the rest on the other.
    Partition {
        /// Routers on side 1.
        routers: Vec<usize>,
        /// Hosts on side 1.
        hosts: Vec<usize>,
    },
    /// Join every partition.
    Heal,
    /// GLBP messages are lost with this probability for `duration_ms`.
    Loss {
        /// Probability 0..=1.
        rate: f64,
        /// How long.
        duration_ms: Millis,
    },
    /// New gateway priority.
    Priority(usize, u8),
    /// A tracked object goes down (weight below the lower threshold) or up.
    Weight(usize, bool),
    /// The router stops (true) or resumes (false) receiving GLBP messages while
    /// still sending them (a NIC multicast filter gone wrong, docs/protocol.md
    /// §13). Never generated at random: it breaks the protocol's assumptions,
    /// and the invariants are expected to catch it.
    Deaf(usize, bool),
    /// Every live router stops processing (timers and frames) for this
    /// long, then resumes with what queued up (SIGSTOP, a CPU stall, a
    /// flood): its forwarding plane keeps going.
    Stall(Millis),
    /// A forged Request/Response TLV (forwarder n, Active, priority 167)
    /// from an address that is not a member, to every router.
    Forge(u8),
}

impl Fault {
    /// Short name for summaries.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Crash(_) => "crash",
            Fault::Stop(_) => "stop",
            Fault::Restart(_) => "restart",
            Fault::Partition { .. } => "partition",
            Fault::Heal => "heal",
            Fault::Loss { .. } => "loss",
            Fault::Priority(..) => "priority",
            Fault::Weight(..) => "weight",
            Fault::Deaf(..) => "deaf",
            Fault::Stall(_) => "stall",
            Fault::Forge(_) => "forge",
        }
    }
}

/// A fault at a time.
#[derive(Debug, Clone, PartialEq)]
pub struct Scheduled {
    /// When, ms since the start of the simulation.
    pub at: Millis,
    /// What.
    pub fault: Fault,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFault {
    at: String,
    kind: String,
    router: Option<usize>,
    #[serde(default)]
    routers: Vec<usize>,
    #[serde(default)]
    hosts: Vec<usize>,
    rate: Option<f64>,
    duration: Option<String>,
    priority: Option<u8>,
    down: Option<bool>,
    forwarder: Option<u8>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultFile {
    #[serde(default)]
    fault: Vec<FileFault>,
}

/// Parses `2h`, `90m`, `30s`, `250ms` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Millis, String> {
    let s = s.trim();
    let (num, mult) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3_600_000)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60_000)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1000)
    } else {
        (s, 1000)
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("bad duration {s:?}: expected e.g. 2h, 90m, 30s or 250ms"))
}

/// Parses a fault script:
///
/// ```toml
/// [[fault]]
/// at = "5m"
/// kind = "crash"        # crash|stop|restart|partition|heal|loss|priority|weight|deaf|stall|forge
/// router = 0            # crash, stop, restart, priority, weight
/// # routers = [0, 1]    # partition: side 1 (the rest is side 0)
/// # hosts = [0, 1, 2]   # partition: hosts on side 1
/// # rate = 0.05         # loss
/// # duration = "60s"    # loss, stall
/// # forwarder = 1       # forge
/// # priority = 120      # priority
/// # down = true         # weight: tracked object down (true) or up; deaf: on/off
/// ```
pub fn parse_script(text: &str, routers: usize) -> Result<Vec<Scheduled>, String> {
    let file: FaultFile = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for (i, f) in file.fault.into_iter().enumerate() {
        let at = parse_duration(&f.at).map_err(|e| format!("fault[{i}].at: {e}"))?;
        let router = || match f.router {
            Some(r) if r < routers => Ok(r),
            Some(r) => Err(format!("fault[{i}].router: {r} out of range 0..{routers}")),
            None => Err(format!("fault[{i}].router: required for {}", f.kind)),
        };
        let fault = match f.kind.as_str() {
            "crash" => Fault::Crash(router()?),
            "stop" => Fault::Stop(router()?),
            "restart" => Fault::Restart(router()?),
            "partition" => {
                if let Some(r) = f.routers.iter().find(|&&r| r >= routers) {
                    return Err(format!("fault[{i}].routers: {r} out of range 0..{routers}"));
                }
                Fault::Partition { routers: f.routers, hosts: f.hosts }
            }
            "heal" => Fault::Heal,
            "loss" => {
                let rate = f.rate.filter(|r| (0.0..=1.0).contains(r));
                let rate = rate.ok_or(format!("fault[{i}].rate: expected 0..=1"))?;
                let d = f.duration.as_deref().ok_or(format!("fault[{i}].duration: required for loss"))?;
                Fault::Loss { rate, duration_ms: parse_duration(d).map_err(|e| format!("fault[{i}].duration: {e}"))? }
            }
            "priority" => {
                let p = f.priority.filter(|p| *p > 0).ok_or(format!("fault[{i}].priority: expected 1..=255"))?;
                Fault::Priority(router()?, p)
            }
            "weight" => Fault::Weight(router()?, f.down.unwrap_or(true)),
            "deaf" => Fault::Deaf(router()?, f.down.unwrap_or(true)),
            "stall" => {
                let d = f.duration.as_deref().ok_or(format!("fault[{i}].duration: required for stall"))?;
                Fault::Stall(parse_duration(d).map_err(|e| format!("fault[{i}].duration: {e}"))?)
            }
            "forge" => Fault::Forge(
                f.forwarder
                    .filter(|n| (1..=4).contains(n))
                    .ok_or(format!("fault[{i}].forwarder: expected 1..=4"))?,
            ),
            k => {
                return Err(format!(
                    "fault[{i}].kind: unknown {k:?}, expected crash|stop|restart|partition|heal|loss|priority|weight|deaf|stall|forge"
                ))
            }
        };
        out.push(Scheduled { at, fault });
    }
    out.sort_by_key(|s| s.at);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2h"), Ok(7_200_000));
        assert_eq!(parse_duration("90m"), Ok(5_400_000));
        assert_eq!(parse_duration("30s"), Ok(30_000));
        assert_eq!(parse_duration("250ms"), Ok(250));
        assert_eq!(parse_duration("7"), Ok(7000));
        assert!(parse_duration("x").is_err());
        assert!(parse_duration("99999999999999999h").is_err());
    }

    #[test]
    fn script() {
        let s = parse_script(
            "[[fault]]\nat = \"1m\"\nkind = \"crash\"\nrouter = 1\n\
             [[fault]]\nat = \"30s\"\nkind = \"loss\"\nrate = 0.1\nduration = \"5s\"\n",
            2,
        )
        .unwrap();
        assert_eq!(
            s[0],
            Scheduled {
                at: 30_000,
                fault: Fault::Loss {
                    rate: 0.1,
                    duration_ms: 5000
                }
            }
        );
        assert_eq!(s[1].fault, Fault::Crash(1));
        assert!(
            parse_script("[[fault]]\nat = \"1s\"\nkind = \"crash\"\nrouter = 5\n", 2)
                .unwrap_err()
                .contains("router")
        );
        assert!(parse_script("[[fault]]\nat = \"1s\"\nkind = \"boom\"\n", 2)
            .unwrap_err()
            .contains("kind"));
    }
}
