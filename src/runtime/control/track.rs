//! Tracked objects, as IOS `track N interface … line-protocol` and
//! `track N ip … reachability`: a port's link, or a connected neighbour
//! probed by ARP or ICMP echo. A group lowers its weight by the object's
//! decrement while the object is down (the engine applies the thresholds).
//!
//! Objects are numbered from 1 in the order the configuration first names
//! them; a group naming the same object twice, or two groups naming it,
//! share one object and one probe.

use std::net::Ipv4Addr;

use crate::config::{Config, Track, TrackProbe};

/// What an object watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The link of this port (index).
    Link { port: usize },
    /// Reachability of `ip` on `port`.
    Neighbor {
        port: usize,
        ip: Ipv4Addr,
        probe: TrackProbe,
        interval_ms: u32,
        down_after: u32,
        up_after: u32,
    },
}

impl Kind {
    /// IOS-style description: `interface up0 line-protocol`,
    /// `ip 192.0.2.1 reachability (arp)`.
    pub fn describe(&self, ports: &[String]) -> String {
        let name = |p: &usize| ports.get(*p).cloned().unwrap_or_default();
        match self {
            Kind::Link { port } => format!("interface {} line-protocol", name(port)),
            Kind::Neighbor {
                port, ip, probe, ..
            } => format!(
                "ip {ip} reachability ({} on {})",
                match probe {
                    TrackProbe::Arp => "arp",
                    TrackProbe::Icmp => "icmp",
                },
                name(port)
            ),
        }
    }
}

/// The object a `[[group.track]]` entry names, if its port or subnet
/// exists (`check` refuses the others).
fn kind_of(cfg: &Config, t: &Track) -> Option<Kind> {
    let ifaces = cfg.interfaces();
    match (&t.port, t.neighbor) {
        // An interface, or a port that only carries VLANs: the link of
        // its first VLAN is the port's.
        (Some(name), _) => ifaces
            .iter()
            .position(|i| &i.name == name)
            .or_else(|| {
                let port = cfg.ports.iter().position(|p| &p.name == name)?;
                ifaces.iter().position(|i| i.port == port)
            })
            .map(|port| Kind::Link { port }),
        (None, Some(ip)) => ifaces
            .iter()
            .position(|i| i.address.contains(ip))
            .map(|port| Kind::Neighbor {
                port,
                ip,
                probe: t.probe,
                interval_ms: t.interval_ms,
                down_after: t.down_after,
                up_after: t.up_after,
            }),
        (None, None) => None,
    }
}

/// The distinct objects of `cfg`, object `i + 1` at index `i`.
pub fn objects(cfg: &Config) -> Vec<Kind> {
    let mut out: Vec<Kind> = Vec::new();
    for t in cfg.groups.iter().flat_map(|g| &g.track) {
        if let Some(k) = kind_of(cfg, t) {
            if !out.contains(&k) {
                out.push(k);
            }
        }
    }
    out
}

/// The object number of a `[[group.track]]` entry.
pub fn object_id(cfg: &Config, t: &Track) -> Option<u32> {
    let k = kind_of(cfg, t)?;
    objects(cfg)
        .iter()
        .position(|x| *x == k)
        .map(|i| i as u32 + 1)
}

/// One object and its state.
#[derive(Debug, Clone)]
pub struct Object {
    pub id: u32,
    pub kind: Kind,
    pub up: bool,
    /// Control time of the last state change (0: never changed).
    pub changed_ms: u64,
    /// Probes answered and missed in a row.
    hits: u32,
    misses: u32,
    next_probe_ms: u64,
    /// A probe is out and nothing answered it yet / something did.
    outstanding: bool,
    answered: bool,
    pub seq: u16,
}

/// A probe the control lcore must send now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeOut {
    pub port: usize,
    pub ip: Ipv4Addr,
    pub probe: TrackProbe,
    /// ICMP echo identifier and sequence number.
    pub ident: u16,
    pub seq: u16,
}

/// ICMP echo identifier of glbpd's reachability probes.
pub const ECHO_IDENT: u16 = 0x676c; // "gl"

/// All objects of the running configuration.
#[derive(Debug, Default)]
pub struct Tracker {
    pub objects: Vec<Object>,
}

impl Tracker {
    /// Objects for `kinds` (see [`objects`]), all up; the states of
    /// objects that `old` already had are kept.
    pub fn new(kinds: Vec<Kind>, old: Option<&Tracker>) -> Tracker {
        let objects = kinds
            .into_iter()
            .enumerate()
            .map(|(i, kind)| {
                let prev = old.and_then(|o| o.objects.iter().find(|x| x.kind == kind));
                Object {
                    id: i as u32 + 1,
                    kind,
                    up: prev.map_or(true, |p| p.up),
                    changed_ms: prev.map_or(0, |p| p.changed_ms),
                    hits: 0,
                    misses: 0,
                    next_probe_ms: 0,
                    outstanding: false,
                    answered: false,
                    seq: 0,
                }
            })
            .collect();
        Tracker { objects }
    }

    pub fn get(&self, id: u32) -> Option<&Object> {
        self.objects.get(id.checked_sub(1)? as usize)
    }

    /// The link of `port` is `up`; returns the objects that changed.
    pub fn link(&mut self, now: u64, port: usize, up: bool) -> Vec<(u32, bool)> {
        let mut changed = Vec::new();
        for o in &mut self.objects {
            if o.kind == (Kind::Link { port }) && o.up != up {
                o.up = up;
                o.changed_ms = now;
                changed.push((o.id, up));
            }
        }
        changed
    }

    /// Something proves `ip` reachable on `port` (an ARP from it, or an
    /// echo reply to one of our probes when `echo` is set).
    pub fn heard(&mut self, port: usize, ip: Ipv4Addr, echo: bool) {
        for o in &mut self.objects {
            if let Kind::Neighbor {
                port: p,
                ip: i,
                probe,
                ..
            } = o.kind
            {
                let fits = match probe {
                    TrackProbe::Arp => !echo,
                    TrackProbe::Icmp => echo,
                };
                if p == port && i == ip && fits && o.outstanding {
                    o.answered = true;
                }
            }
        }
    }

    /// Due probes: counts the answer to the previous one, changes state
    /// after `down_after` misses or `up_after` answers in a row, and
    /// returns (state changes, probes to send now).
    pub fn poll(&mut self, now: u64) -> (Vec<(u32, bool)>, Vec<ProbeOut>) {
        let mut changed = Vec::new();
        let mut probes = Vec::new();
        for o in &mut self.objects {
            let Kind::Neighbor {
                port,
                ip,
                probe,
                interval_ms,
                down_after,
                up_after,
            } = o.kind
            else {
                continue;
            };
            if now < o.next_probe_ms {
                continue;
            }
            if o.outstanding {
                if o.answered {
                    o.hits += 1;
                    o.misses = 0;
                } else {
                    o.misses += 1;
                    o.hits = 0;
                }
                if o.up && o.misses >= down_after {
                    o.up = false;
                    o.changed_ms = now;
                    changed.push((o.id, false));
                } else if !o.up && o.hits >= up_after {
                    o.up = true;
                    o.changed_ms = now;
                    changed.push((o.id, true));
                }
            }
            o.seq = o.seq.wrapping_add(1);
            o.outstanding = true;
            o.answered = false;
            o.next_probe_ms = now + u64::from(interval_ms);
            probes.push(ProbeOut {
                port,
                ip,
                probe,
                ident: ECHO_IDENT,
                seq: o.seq,
            });
        }
        (changed, probes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn neighbor(down_after: u32, up_after: u32) -> Kind {
        Kind::Neighbor {
            port: 1,
            ip: Ipv4Addr::new(192, 0, 2, 1),
            probe: TrackProbe::Arp,
            interval_ms: 100,
            down_after,
            up_after,
        }
    }

    #[test]
    fn down_after_misses_up_after_answers() {
        let mut t = Tracker::new(vec![neighbor(3, 2)], None);
        let ip = Ipv4Addr::new(192, 0, 2, 1);
        // First probe at 0: nothing to count yet.
        let (c, p) = t.poll(0);
        assert!(c.is_empty());
        assert_eq!(p.len(), 1);
        // Answered: stays up.
        t.heard(1, ip, false);
        assert!(t.poll(100).0.is_empty());
        // Three misses: down at the third.
        assert!(t.poll(200).0.is_empty());
        assert!(t.poll(300).0.is_empty());
        assert_eq!(t.poll(400).0, vec![(1, false)]);
        assert_eq!(t.get(1).unwrap().changed_ms, 400);
        // An answer from the wrong port or by echo does not count.
        t.heard(0, ip, false);
        t.heard(1, ip, true);
        assert!(t.poll(500).0.is_empty());
        // Two answers: up again.
        t.heard(1, ip, false);
        assert!(t.poll(600).0.is_empty());
        t.heard(1, ip, false);
        assert_eq!(t.poll(700).0, vec![(1, true)]);
        // Not due yet: nothing happens.
        assert_eq!(t.poll(750), (vec![], vec![]));
    }

    #[test]
    fn link_objects_follow_the_link_and_states_survive_a_rebuild() {
        let mut t = Tracker::new(vec![Kind::Link { port: 2 }, neighbor(1, 1)], None);
        assert_eq!(t.link(10, 2, false), vec![(1, false)]);
        assert!(t.link(20, 2, false).is_empty(), "no change, no event");
        assert!(t.link(20, 0, false).is_empty(), "another port");
        let t2 = Tracker::new(vec![neighbor(1, 1), Kind::Link { port: 2 }], Some(&t));
        assert_eq!(t2.get(2).unwrap().kind, Kind::Link { port: 2 });
        assert!(!t2.get(2).unwrap().up, "state kept across renumbering");
        assert!(t2.get(1).unwrap().up);
    }
}
