//! The ARP neighbour table of the control lcore: resolution, refresh and
//! ageing. Pure logic (time is an argument); the control lcore sends the
//! probes it returns and publishes the resolved entries to the workers.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use crate::runtime::dataplane::state::FxMap;
use crate::wire::MacAddr;

/// Timing of the neighbour table, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How long an answer keeps an entry reachable.
    pub reachable_ms: u64,
    /// Interval between probes of an entry being resolved or refreshed.
    pub retrans_ms: u64,
    /// Probes before an entry is given up.
    pub probes: u32,
    /// Most entries kept (all ports); new neighbours beyond are ignored, so
    /// a flood of ARP from made-up addresses cannot exhaust memory.
    pub max_entries: usize,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            reachable_ms: 60_000,
            retrans_ms: 1_000,
            probes: 3,
            max_entries: 262_144,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Configured; never ages.
    Static,
    /// Answered recently; refreshed by a unicast probe when it expires.
    Reachable { expires: u64 },
    /// Being refreshed: still used for forwarding while probed.
    Probing { sent: u32, next: u64 },
    /// Being resolved: no MAC yet.
    Incomplete { sent: u32, next: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    mac: Option<MacAddr>,
    state: State,
}

/// An ARP request to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub port: u16,
    pub ip: Ipv4Addr,
    /// Unicast to this MAC (refresh), or broadcast when `None`.
    pub to: Option<MacAddr>,
}

/// One entry of a neighbour table (either family), as `show neighbors`
/// lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The interface.
    pub port: u16,
    pub ip: std::net::IpAddr,
    /// None while it is being resolved.
    pub mac: Option<MacAddr>,
    /// `static`, `reachable`, `probe` (re-validated, still used) or
    /// `incomplete` (being resolved).
    pub state: &'static str,
    /// Until its next probe (reachable: until it is re-validated); none
    /// for a static entry.
    pub next_probe_in_ms: Option<u64>,
}

impl Listed {
    /// Entry (`port`, `ip`) at `mac`, in `state` until `at` (ms), listed
    /// at `now`.
    pub fn new(
        (port, ip): (u16, std::net::IpAddr),
        mac: Option<MacAddr>,
        (state, at): (&'static str, Option<u64>),
        now: u64,
    ) -> Listed {
        Listed {
            port,
            ip,
            mac,
            state,
            next_probe_in_ms: at.map(|t| t.saturating_sub(now)),
        }
    }
}

/// All neighbours of all ports.
#[derive(Debug, Default)]
pub struct Neighbors {
    timing: Timing,
    entries: HashMap<(u16, Ipv4Addr), Entry>,
    /// Bumped whenever a resolved MAC appears, changes or disappears.
    version: u64,
    /// Bumped for the changes traffic waits for: an answer to our own
    /// probe, a static entry added or removed.
    resolutions: u64,
}

impl Neighbors {
    pub fn new(timing: Timing) -> Neighbors {
        Neighbors {
            timing,
            ..Neighbors::default()
        }
    }

    /// Changes whenever the resolved set changes: republish when it moves.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Counts the changes that must be published at once (see the field).
    pub fn resolutions(&self) -> u64 {
        self.resolutions
    }

    /// Adds a static entry.
    pub fn add_static(&mut self, port: u16, ip: Ipv4Addr, mac: MacAddr) {
        self.entries.insert(
            (port, ip),
            Entry {
                mac: Some(mac),
                state: State::Static,
            },
        );
        self.version += 1;
        self.resolutions += 1;
    }

    /// Removes a static entry (a reload dropped it).
    pub fn remove_static(&mut self, port: u16, ip: Ipv4Addr) {
        if matches!(
            self.entries.get(&(port, ip)),
            Some(Entry {
                state: State::Static,
                ..
            })
        ) {
            self.entries.remove(&(port, ip));
            self.version += 1;
            self.resolutions += 1;
        }
    }

    /// Marks every learnt entry on `port` for re-validation now (its link
    /// went down): still used while the probes run, dropped when nobody
    /// answers. Static entries stay.
    pub fn mark_stale(&mut self, now: u64, port: u16) {
        for ((p, _), e) in self.entries.iter_mut() {
            if *p == port {
                if let State::Reachable { .. } = e.state {
                    e.state = State::Reachable { expires: now };
                }
            }
        }
    }

    /// The resolved MAC of `ip` on `port`.
    pub fn get(&self, port: u16, ip: Ipv4Addr) -> Option<MacAddr> {
        self.entries.get(&(port, ip)).and_then(|e| e.mac)
    }

    /// Learns from an ARP packet: a reply, or a request whose target is us
    /// (`create` true), creates or refreshes the entry; any other ARP only
    /// updates an entry we already have (as Linux does).
    pub fn learn(&mut self, now: u64, port: u16, ip: Ipv4Addr, mac: MacAddr, create: bool) {
        if !mac.is_unicast() || mac == MacAddr::ZERO || ip.is_unspecified() {
            return;
        }
        let reach = now + self.timing.reachable_ms;
        let room = self.entries.len() < self.timing.max_entries;
        match self.entries.get_mut(&(port, ip)) {
            Some(Entry {
                state: State::Static,
                ..
            }) => {}
            Some(e) => {
                if e.mac != Some(mac) {
                    self.version += 1;
                    if e.mac.is_none() {
                        // An answer to our own probe: traffic waits for it.
                        self.resolutions += 1;
                    }
                }
                *e = Entry {
                    mac: Some(mac),
                    state: State::Reachable { expires: reach },
                };
            }
            None if create && room => {
                self.entries.insert(
                    (port, ip),
                    Entry {
                        mac: Some(mac),
                        state: State::Reachable { expires: reach },
                    },
                );
                self.version += 1;
            }
            None => {}
        }
    }

    /// Asks for `ip` on `port` (a worker found no entry). Returns the probe
    /// to send now, if any: an entry already being resolved is not probed
    /// again before its retransmit time.
    pub fn resolve(&mut self, now: u64, port: u16, ip: Ipv4Addr) -> Option<Probe> {
        if self.entries.contains_key(&(port, ip)) || self.entries.len() >= self.timing.max_entries {
            return None;
        }
        self.entries.insert(
            (port, ip),
            Entry {
                mac: None,
                state: State::Incomplete {
                    sent: 1,
                    next: now + self.timing.retrans_ms,
                },
            },
        );
        Some(Probe { port, ip, to: None })
    }

    /// Advances timers: returns the probes due now, and forgets entries that
    /// did not answer.
    pub fn poll(&mut self, now: u64) -> Vec<Probe> {
        let t = self.timing;
        let mut probes = Vec::new();
        let mut changed = false;
        self.entries.retain(|&(port, ip), e| match e.state {
            State::Static => true,
            State::Reachable { expires } if now >= expires => {
                e.state = State::Probing {
                    sent: 1,
                    next: now + t.retrans_ms,
                };
                probes.push(Probe {
                    port,
                    ip,
                    to: e.mac,
                });
                true
            }
            State::Reachable { .. } => true,
            State::Probing { sent, next } | State::Incomplete { sent, next } if now >= next => {
                if sent >= t.probes {
                    changed |= e.mac.is_some();
                    return false;
                }
                let to = if matches!(e.state, State::Probing { .. }) {
                    e.mac
                } else {
                    None
                };
                let st = State::Probing {
                    sent: sent + 1,
                    next: now + t.retrans_ms,
                };
                e.state = if e.mac.is_some() {
                    st
                } else {
                    State::Incomplete {
                        sent: sent + 1,
                        next: now + t.retrans_ms,
                    }
                };
                probes.push(Probe { port, ip, to });
                true
            }
            _ => true,
        });
        if changed {
            self.version += 1;
        }
        probes
    }

    /// Earliest time `poll` has work.
    pub fn next_deadline(&self) -> Option<u64> {
        self.entries
            .values()
            .filter_map(|e| match e.state {
                State::Static => None,
                State::Reachable { expires } => Some(expires),
                State::Probing { next, .. } | State::Incomplete { next, .. } => Some(next),
            })
            .min()
    }

    /// The resolved entries of `port`, for publication.
    pub fn resolved(&self, port: u16) -> FxMap<Ipv4Addr, MacAddr> {
        self.entries
            .iter()
            .filter(|((p, _), _)| *p == port)
            .filter_map(|((_, ip), e)| e.mac.map(|m| (*ip, m)))
            .collect()
    }

    /// Every entry, for `show neighbors`, sorted by port and address.
    pub fn listing(&self, now: u64) -> Vec<Listed> {
        let mut out: Vec<Listed> = self
            .entries
            .iter()
            .map(|(&(port, ip), e)| {
                let state = match e.state {
                    State::Static => ("static", None),
                    State::Reachable { expires } => ("reachable", Some(expires)),
                    State::Probing { next, .. } => ("probe", Some(next)),
                    State::Incomplete { next, .. } => ("incomplete", Some(next)),
                };
                Listed::new((port, ip.into()), e.mac, state, now)
            })
            .collect();
        out.sort_by_key(|l| (l.port, l.ip));
        out
    }

    /// Number of entries (any state).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 9);
    const MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 9]);

    fn table() -> Neighbors {
        Neighbors::new(Timing {
            reachable_ms: 10_000,
            retrans_ms: 1_000,
            probes: 3,
            max_entries: 4,
        })
    }

    #[test]
    fn resolves_once_then_learns_the_reply() {
        let mut n = table();
        assert_eq!(
            n.resolve(0, 0, IP),
            Some(Probe {
                port: 0,
                ip: IP,
                to: None
            })
        );
        assert_eq!(
            n.resolve(10, 0, IP),
            None,
            "no second probe while resolving"
        );
        assert_eq!(n.get(0, IP), None);
        let v = n.version();
        n.learn(20, 0, IP, MAC, false);
        assert_eq!(n.get(0, IP), Some(MAC));
        assert!(n.version() > v, "a new MAC must trigger a publication");
        assert_eq!(n.resolved(0).get(&IP), Some(&MAC));
        assert!(n.resolved(1).is_empty());
    }

    #[test]
    fn unanswered_resolution_gives_up_after_the_probes() {
        let mut n = table();
        n.resolve(0, 0, IP);
        assert_eq!(n.poll(999), vec![]);
        assert_eq!(n.poll(1000).len(), 1);
        assert_eq!(n.poll(2000).len(), 1);
        assert_eq!(n.poll(3000), vec![], "3 probes sent: give up");
        assert!(n.is_empty());
        assert!(
            n.resolve(3001, 0, IP).is_some(),
            "a later packet may try again"
        );
    }

    #[test]
    fn reachable_entries_are_refreshed_by_unicast_and_aged_out() {
        let mut n = table();
        n.learn(0, 0, IP, MAC, true);
        assert_eq!(n.next_deadline(), Some(10_000));
        assert_eq!(
            n.poll(10_000),
            vec![Probe {
                port: 0,
                ip: IP,
                to: Some(MAC)
            }]
        );
        assert_eq!(n.get(0, IP), Some(MAC), "still used while refreshed");
        // An answer makes it reachable again.
        n.learn(10_500, 0, IP, MAC, false);
        assert_eq!(n.poll(11_500), vec![]);
        // No answer: three unicast probes, then gone.
        assert_eq!(n.poll(20_500).len(), 1);
        assert_eq!(n.poll(21_500).len(), 1);
        assert_eq!(n.poll(22_500).len(), 1);
        let v = n.version();
        assert_eq!(n.poll(23_500), vec![]);
        assert_eq!(n.get(0, IP), None);
        assert!(n.version() > v);
    }

    #[test]
    fn the_table_is_bounded() {
        let mut n = table();
        for i in 0..10u8 {
            n.learn(0, 0, Ipv4Addr::new(10, 0, 0, 100 + i), MAC, true);
        }
        assert_eq!(n.len(), 4);
        assert_eq!(
            n.resolve(0, 0, Ipv4Addr::new(10, 0, 0, 1)),
            None,
            "full: no new resolution"
        );
        n.learn(
            5,
            0,
            Ipv4Addr::new(10, 0, 0, 100),
            MacAddr([2, 0, 0, 0, 0, 7]),
            false,
        );
        assert_eq!(
            n.get(0, Ipv4Addr::new(10, 0, 0, 100)),
            Some(MacAddr([2, 0, 0, 0, 0, 7])),
            "known ones still update"
        );
    }

    #[test]
    fn unsolicited_arp_only_updates_known_entries() {
        let mut n = table();
        n.learn(0, 0, IP, MAC, false);
        assert_eq!(n.get(0, IP), None);
        n.learn(0, 0, IP, MacAddr::BROADCAST, true);
        assert_eq!(n.get(0, IP), None, "never learn a multicast MAC");
        n.add_static(0, IP, MAC);
        n.learn(0, 0, IP, MacAddr([2, 0, 0, 0, 0, 1]), true);
        assert_eq!(
            n.get(0, IP),
            Some(MAC),
            "static entries are never overwritten"
        );
        assert_eq!(n.poll(u64::MAX / 2), vec![]);
    }
}
