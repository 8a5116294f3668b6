//! Per-port owner of many groups: demultiplexes messages by group and merges
//! deadlines.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::config::{ConfigError, GroupConfig};
use super::group::Group;
use super::rng::mix64;
use super::{Action, Event, Millis, RxMessage};
use crate::wire::glbp::MAX_GROUP;
use crate::wire::MacAddr;

/// An input to an [`Interface`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterfaceEvent {
    /// The deadline from [`Interface::next_deadline`] has been reached.
    Timer,
    /// A GLBP message received on this port.
    Rx(RxMessage),
    /// A message of `group` whose digest did not verify.
    AuthFailed {
        /// Group number from the header.
        group: u16,
        /// Source IP.
        src_ip: IpAddr,
    },
    /// The runtime could not parse a GLBP message.
    Malformed,
    /// An ARP request (or NS) for `target`.
    Arp {
        /// Address being resolved.
        target: IpAddr,
        /// Requesting host IP.
        host_ip: IpAddr,
        /// Requesting host MAC.
        host_mac: MacAddr,
        /// Ethernet destination (broadcast, or the VMAC re-validated).
        dst: MacAddr,
    },
    /// A tracked object changed state (applies to every group tracking it).
    Track {
        /// Object id.
        object: u32,
        /// New state.
        up: bool,
    },
    /// Resign every group.
    Shutdown,
}

/// Port-level counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InterfaceCounters {
    /// Messages for a group not configured here (or out of range).
    pub unknown_group: u64,
    /// Messages the runtime could not parse.
    pub malformed: u64,
}

/// All GLBP groups of one interface.
#[derive(Debug, Clone)]
pub struct Interface {
    port: u16,
    ip: IpAddr,
    /// The interface's IPv6 link-local address: the identity of its IPv6
    /// groups (those whose virtual address is IPv6), as `ip` is of the
    /// others.
    link_local: Option<std::net::Ipv6Addr>,
    mac: MacAddr,
    seed: u64,
    groups: BTreeMap<u16, Group>,
    /// (deadline, group), mirrored by `due`.
    queue: BTreeSet<(Millis, u16)>,
    due: BTreeMap<u16, Millis>,
    counters: InterfaceCounters,
}

impl Interface {
    /// An interface `port` with address `ip` and MAC `mac`; `seed` seeds the
    /// groups' PRNGs.
    pub fn new(port: u16, ip: IpAddr, mac: MacAddr, seed: u64) -> Self {
        Interface {
            port,
            ip,
            link_local: None,
            mac,
            seed,
            groups: BTreeMap::new(),
            queue: BTreeSet::new(),
            due: BTreeMap::new(),
            counters: InterfaceCounters::default(),
        }
    }

    /// The same interface with IPv6 link-local address `ll`, for its IPv6
    /// groups.
    pub fn with_link_local(mut self, ll: std::net::Ipv6Addr) -> Self {
        self.link_local = Some(ll);
        self
    }

    /// The address group `cfg` speaks from: the link-local address for
    /// an IPv6 group (when the interface has one), the interface's address
    /// otherwise.
    fn address_for(&self, cfg: &GroupConfig) -> IpAddr {
        match (cfg.vip, self.link_local) {
            (Some(IpAddr::V6(_)), Some(ll)) => IpAddr::V6(ll),
            _ => self.ip,
        }
    }

    /// Port id given at construction.
    pub fn id(&self) -> u16 {
        self.port
    }

    /// Adds and enables a group, or applies a new configuration to an existing
    /// one in place (state of unchanged things is kept).
    pub fn configure(&mut self, now: Millis, cfg: GroupConfig) -> Result<Vec<Action>, ConfigError> {
        cfg.validate()?;
        let id = cfg.id;
        let out = if self.groups.contains_key(&id) {
            self.group_event(now, id, Event::Configure(cfg))
        } else {
            let seed = mix64(self.seed ^ u64::from(id));
            let ip = self.address_for(&cfg);
            self.groups.insert(id, Group::new(cfg, ip, self.mac, seed));
            self.group_event(now, id, Event::Enable)
        };
        Ok(out)
    }

    /// Resigns and removes a group.
    pub fn remove(&mut self, now: Millis, id: u16) -> Vec<Action> {
        let out = self.group_event(now, id, Event::Shutdown);
        self.groups.remove(&id);
        if let Some(d) = self.due.remove(&id) {
            self.queue.remove(&(d, id));
        }
        out
    }

    /// Delivers an event to one group.
    pub fn group_event(&mut self, now: Millis, id: u16, ev: Event) -> Vec<Action> {
        let Some(g) = self.groups.get_mut(&id) else {
            return Vec::new();
        };
        let out = g.handle(now, ev);
        let next = g.next_deadline();
        self.reschedule(id, next);
        out
    }

    fn reschedule(&mut self, id: u16, next: Option<Millis>) {
        if let Some(d) = self.due.remove(&id) {
            self.queue.remove(&(d, id));
        }
        if let Some(d) = next {
            self.due.insert(id, d);
            self.queue.insert((d, id));
        }
    }

    /// Processes one port event.
    pub fn handle(&mut self, now: Millis, ev: InterfaceEvent) -> Vec<Action> {
        match ev {
            InterfaceEvent::Timer => {
                let mut out = Vec::new();
                while let Some(&(d, id)) = self.queue.first() {
                    if d > now {
                        break;
                    }
                    out.extend(self.group_event(now, id, Event::Timer));
                    if self.due.get(&id).is_some_and(|&n| n <= now) {
                        // A group that keeps a past deadline would spin: park it.
                        self.reschedule(id, Some(now + 1));
                    }
                }
                out
            }
            InterfaceEvent::Rx(m) => {
                let id = m.repr.group;
                if id > MAX_GROUP || !self.groups.contains_key(&id) {
                    self.counters.unknown_group += 1;
                    return Vec::new();
                }
                self.group_event(now, id, Event::Rx(m))
            }
            InterfaceEvent::AuthFailed { group, src_ip } => {
                self.group_event(now, group, Event::AuthFailed { src_ip })
            }
            InterfaceEvent::Malformed => {
                self.counters.malformed += 1;
                Vec::new()
            }
            InterfaceEvent::Arp {
                target,
                host_ip,
                host_mac,
                dst,
            } => {
                let ids: Vec<u16> = self
                    .groups
                    .iter()
                    .filter(|(_, g)| g.vip() == Some(target))
                    .map(|(id, _)| *id)
                    .collect();
                let mut out = Vec::new();
                for id in ids {
                    out.extend(self.group_event(
                        now,
                        id,
                        Event::Arp {
                            host_ip,
                            host_mac,
                            dst,
                        },
                    ));
                    if out.iter().any(|a| matches!(a, Action::ArpReply { .. })) {
                        break;
                    }
                }
                out
            }
            InterfaceEvent::Track { object, up } => self.broadcast(
                now,
                |g| g.config().tracking.contains_key(&object),
                || Event::Track { object, up },
            ),
            InterfaceEvent::Shutdown => self.broadcast(now, |_| true, || Event::Shutdown),
        }
    }

    fn broadcast(
        &mut self,
        now: Millis,
        pick: impl Fn(&Group) -> bool,
        ev: impl Fn() -> Event,
    ) -> Vec<Action> {
        let ids: Vec<u16> = self
            .groups
            .iter()
            .filter(|(_, g)| pick(g))
            .map(|(id, _)| *id)
            .collect();
        ids.into_iter()
            .flat_map(|id| self.group_event(now, id, ev()))
            .collect()
    }

    /// Earliest deadline over all groups.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.queue.first().map(|&(d, _)| d)
    }

    /// One group, for `show glbp`.
    pub fn group(&self, id: u16) -> Option<&Group> {
        self.groups.get(&id)
    }

    /// All groups by number.
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    /// Port-level counters.
    pub fn counters(&self) -> &InterfaceCounters {
        &self.counters
    }
}
