//! The IPv6 neighbour table of the control lcore (RFC 4861 §7.3, reduced to
//! what a router needs): next hops and hosts are resolved on demand with
//! multicast solicitations, kept while they answer unicast probes, and
//! dropped when they stop. The workers get the resolved entries in every
//! snapshot.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;

use crate::runtime::dataplane::state::FxMap;
use crate::wire::MacAddr;

/// Solicitations sent before giving up (MAX_MULTICAST_SOLICIT,
/// MAX_UNICAST_SOLICIT).
const TRIES: u8 = 3;
/// Between solicitations, ms (RETRANS_TIMER).
const RETRANS_MS: u64 = 1_000;
/// How long an answer keeps an entry reachable before it is probed again,
/// ms (REACHABLE_TIME).
const REACHABLE_MS: u64 = 30_000;
/// At most this many entries (a flood of made-up destinations must not
/// grow the table without bound).
const MAX_ENTRIES: usize = 16_384;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Configured: never probed, never aged.
    Static,
    /// Being resolved: `tries` multicast solicitations sent, the next at
    /// `next_ms`.
    Incomplete { tries: u8, next_ms: u64 },
    /// Confirmed; probed again at `until_ms`.
    Reachable { until_ms: u64 },
    /// Being re-validated: `tries` unicast probes sent, the next at
    /// `next_ms`. Still used meanwhile.
    Probe { tries: u8, next_ms: u64 },
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    mac: Option<MacAddr>,
    state: State,
}

/// A solicitation to send: for `ip` on interface `port`, multicast to its
/// solicited-node group, or unicast to `to` (a probe).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Solicitation {
    pub port: u16,
    pub ip: Ipv6Addr,
    pub to: Option<MacAddr>,
}

/// The table.
#[derive(Debug, Default)]
pub struct Neighbors6 {
    entries: BTreeMap<(u16, Ipv6Addr), Entry>,
    /// Bumped when a resolved address appears, changes or goes.
    version: u64,
}

impl Neighbors6 {
    /// Adds a configured entry.
    pub fn add_static(&mut self, port: u16, ip: Ipv6Addr, mac: MacAddr) {
        self.entries.insert(
            (port, ip),
            Entry {
                mac: Some(mac),
                state: State::Static,
            },
        );
        self.version += 1;
    }

    /// Removes a configured entry.
    pub fn remove_static(&mut self, port: u16, ip: Ipv6Addr) {
        if self
            .entries
            .get(&(port, ip))
            .is_some_and(|e| e.state == State::Static)
        {
            self.entries.remove(&(port, ip));
            self.version += 1;
        }
    }

    /// A worker needs `ip` on `port`: the first solicitation, unless it is
    /// known or being resolved already.
    pub fn resolve(&mut self, now: u64, port: u16, ip: Ipv6Addr) -> Option<Solicitation> {
        if self.entries.contains_key(&(port, ip)) || self.entries.len() >= MAX_ENTRIES {
            return None;
        }
        self.entries.insert(
            (port, ip),
            Entry {
                mac: None,
                state: State::Incomplete {
                    tries: 1,
                    next_ms: now + RETRANS_MS,
                },
            },
        );
        Some(Solicitation { port, ip, to: None })
    }

    /// `ip` is at `mac` on `port`: `confirmed` by a solicited
    /// advertisement, or only claimed (an unsolicited advertisement, or
    /// the source link-layer option of a solicitation for our address). A
    /// claim updates an entry the table has and creates one only when
    /// `create` (a host that is about to talk to us).
    pub fn learn(
        &mut self,
        now: u64,
        port: u16,
        ip: Ipv6Addr,
        mac: Option<MacAddr>,
        confirmed: bool,
        create: bool,
    ) {
        let reachable = State::Reachable {
            until_ms: now + REACHABLE_MS,
        };
        let len = self.entries.len();
        match self.entries.get_mut(&(port, ip)) {
            Some(e) if e.state == State::Static => {}
            Some(e) => {
                let new_mac = mac.or(e.mac);
                if new_mac.is_none() {
                    return;
                }
                if new_mac != e.mac {
                    self.version += 1;
                }
                e.mac = new_mac;
                if confirmed || matches!(e.state, State::Incomplete { .. }) {
                    e.state = reachable;
                }
            }
            None if create && mac.is_some() && len < MAX_ENTRIES => {
                self.entries.insert(
                    (port, ip),
                    Entry {
                        mac,
                        state: reachable,
                    },
                );
                self.version += 1;
            }
            None => {}
        }
    }

    /// The solicitations due by `now`; drops what stopped answering.
    pub fn poll(&mut self, now: u64) -> Vec<Solicitation> {
        let mut out = Vec::new();
        let mut gone = false;
        self.entries.retain(|&(port, ip), e| match e.state {
            State::Static => true,
            // One more solicitation (the `tries`-th), or none left.
            State::Incomplete { tries, next_ms } | State::Probe { tries, next_ms }
                if now >= next_ms =>
            {
                let probing = matches!(e.state, State::Probe { .. });
                if tries >= TRIES {
                    gone |= probing;
                    return false;
                }
                let next_ms = now + RETRANS_MS;
                let tries = tries + 1;
                e.state = if probing {
                    State::Probe { tries, next_ms }
                } else {
                    State::Incomplete { tries, next_ms }
                };
                let to = if probing { e.mac } else { None };
                out.push(Solicitation { port, ip, to });
                true
            }
            State::Reachable { until_ms } if now >= until_ms => {
                e.state = State::Probe {
                    tries: 1,
                    next_ms: now + RETRANS_MS,
                };
                out.push(Solicitation {
                    port,
                    ip,
                    to: e.mac,
                });
                true
            }
            _ => true,
        });
        if gone {
            self.version += 1;
        }
        out
    }

    /// The resolved entries of `port`, for a snapshot.
    pub fn resolved(&self, port: u16) -> FxMap<Ipv6Addr, MacAddr> {
        self.entries
            .range((port, Ipv6Addr::UNSPECIFIED)..=(port, Ipv6Addr::from(u128::MAX)))
            .filter_map(|(&(_, ip), e)| e.mac.map(|m| (ip, m)))
            .collect()
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    /// Every entry, for `show neighbors`, sorted by interface and address.
    pub fn listing(&self, now: u64) -> Vec<super::neighbors::Listed> {
        self.entries
            .iter()
            .map(|(&(port, ip), e)| {
                let state = match e.state {
                    State::Static => ("static", None),
                    State::Reachable { until_ms } => ("reachable", Some(until_ms)),
                    State::Probe { next_ms, .. } => ("probe", Some(next_ms)),
                    State::Incomplete { next_ms, .. } => ("incomplete", Some(next_ms)),
                };
                super::neighbors::Listed::new((port, ip.into()), e.mac, state, now)
            })
            .collect()
    }

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

    const MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 9]);

    fn ip(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn resolves_keeps_and_forgets() {
        let mut t = Neighbors6::default();
        let a = ip("2001:db8::9");
        // Three multicast solicitations, a second apart, then given up.
        assert_eq!(t.resolve(0, 1, a).map(|s| s.to), Some(None));
        assert_eq!(t.resolve(10, 1, a), None, "already being resolved");
        assert_eq!(t.poll(999), vec![]);
        assert_eq!(t.poll(1000).len(), 1);
        assert_eq!(t.poll(2000).len(), 1);
        assert_eq!(t.poll(3000), vec![]);
        assert!(t.is_empty());
        // Answered: resolved, then probed by unicast after REACHABLE_MS.
        t.resolve(5000, 1, a);
        let v = t.version();
        t.learn(5100, 1, a, Some(MAC), true, false);
        assert!(t.version() > v);
        assert_eq!(t.resolved(1).get(&a), Some(&MAC));
        assert!(t.resolved(0).is_empty());
        let probes = t.poll(5100 + REACHABLE_MS);
        assert_eq!(
            probes,
            vec![Solicitation {
                port: 1,
                ip: a,
                to: Some(MAC)
            }]
        );
        // Still used while probed; dropped when three probes go unanswered.
        assert_eq!(t.resolved(1).get(&a), Some(&MAC));
        t.poll(6100 + REACHABLE_MS);
        t.poll(7100 + REACHABLE_MS);
        let v = t.version();
        t.poll(8100 + REACHABLE_MS);
        assert!(t.resolved(1).is_empty());
        assert!(t.version() > v);
    }

    #[test]
    fn claims_do_not_create_entries_unless_asked() {
        let mut t = Neighbors6::default();
        let a = ip("2001:db8::9");
        t.learn(0, 1, a, Some(MAC), false, false);
        assert!(t.is_empty());
        t.learn(0, 1, a, Some(MAC), false, true);
        assert_eq!(t.resolved(1).get(&a), Some(&MAC));
        // A static entry is never overwritten.
        let b = ip("2001:db8::a");
        t.add_static(1, b, MAC);
        t.learn(0, 1, b, Some(MacAddr([2, 0, 0, 0, 0, 1])), true, true);
        assert_eq!(t.resolved(1).get(&b), Some(&MAC));
        assert_eq!(t.poll(1_000_000).len(), 1, "only the learnt one is probed");
    }
}
