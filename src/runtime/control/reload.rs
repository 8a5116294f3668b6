//! Hitless reload: the new configuration is diffed against the running one
//! and applied in place. Unchanged groups are not touched at all (no state
//! transition, no flap); changed groups get their new knobs through the
//! engine, which applies them where IOS would; added groups start, removed
//! groups resign. Routes and static neighbours are republished. What
//! cannot change without a restart (EAL, dataplane, ports) makes the whole
//! reload fail, and the running configuration stays.

use std::net::IpAddr;
use std::sync::Arc;

use super::glbp::{group_config, GlbpDriver};
use super::Control;
use crate::config::Config;
use crate::runtime::control::track::{self, Tracker};

/// What a successful reload changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReloadSummary {
    pub groups_added: usize,
    pub groups_changed: usize,
    pub groups_removed: usize,
    pub groups_unchanged: usize,
    pub routes_changed: bool,
    pub neighbors_changed: bool,
}

impl std::fmt::Display for ReloadSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "groups: {} added, {} changed, {} removed, {} unchanged; routes {}; static neighbours {}",
            self.groups_added,
            self.groups_changed,
            self.groups_removed,
            self.groups_unchanged,
            if self.routes_changed { "changed" } else { "unchanged" },
            if self.neighbors_changed { "changed" } else { "unchanged" },
        )
    }
}

/// Fails when `new` differs from `old` in what needs a restart.
fn restart_needed(old: &Config, new: &Config) -> Option<String> {
    if old.eal != new.eal {
        return Some("[eal] changed".into());
    }
    if old.dataplane != new.dataplane {
        return Some("[dataplane] changed".into());
    }
    if old.control_plane != new.control_plane {
        return Some("[control_plane] changed".into());
    }
    if old.ops != new.ops {
        return Some("[ops] changed".into());
    }
    if old.ports.len() != new.ports.len() {
        return Some("ports were added or removed".into());
    }
    for (a, b) in old.ports.iter().zip(&new.ports) {
        if a != b {
            return Some(format!("[[port]] {} changed", a.name));
        }
    }
    // Interfaces (and with them every index the workers hold) are fixed.
    if old.interfaces() != new.interfaces() {
        return Some("[[vlan]] interfaces were added, removed or changed".into());
    }
    None
}

impl Control {
    /// Applies `new` in place of `old`; on error nothing has changed.
    pub fn reload(&mut self, old: &Config, new: &Config) -> Result<ReloadSummary, String> {
        if let Some(why) = restart_needed(old, new) {
            return Err(format!("{why}: restart glbpd to apply it"));
        }
        // Validate everything before touching anything.
        let mut planned = Vec::new();
        for g in &new.groups {
            let (pc, key) = group_config(new, g);
            pc.validate()
                .map_err(|e| format!("group {} on {}: {e:?}", g.glbp.id, g.port))?;
            let pidx = self
                .ports
                .iter()
                .position(|p| p.name == g.port)
                .ok_or_else(|| format!("no port {}", g.port))?;
            planned.push((pidx, pc, key));
        }
        let addresses6 =
            |c: &Config| -> Vec<_> { c.interfaces().into_iter().map(|i| i.address6).collect() };
        let routes = if old.routes != new.routes || addresses6(old) != addresses6(new) {
            let (lpm, hops) = crate::runtime::build_routes(new)?;
            Some((Arc::new(lpm), hops, crate::runtime::build_routes6(new)?))
        } else {
            None
        };

        let now = self.now_ms();
        let mut sum = ReloadSummary::default();
        // Removed groups resign.
        for g in &old.groups {
            if !new
                .groups
                .iter()
                .any(|n| n.port == g.port && n.glbp.id == g.glbp.id)
            {
                if let Some(pidx) = self.ports.iter().position(|p| p.name == g.port) {
                    if let Some(gp) = self.glbp[pidx].as_mut() {
                        let a = gp.engine.remove(now, g.glbp.id);
                        gp.keys.remove(&g.glbp.id);
                        self.pending.push((pidx, a));
                        sum.groups_removed += 1;
                    }
                }
            }
        }
        // Added and changed groups; unchanged ones are left alone.
        for ((pidx, pc, key), g) in planned.into_iter().zip(&new.groups) {
            let before = old
                .groups
                .iter()
                .find(|o| o.port == g.port && o.glbp.id == g.glbp.id);
            if before == Some(g) {
                sum.groups_unchanged += 1;
                continue;
            }
            if before.is_some() {
                sum.groups_changed += 1;
            } else {
                sum.groups_added += 1;
            }
            let (p, seed) = (&self.ports[pidx], crate::dpdk::tsc());
            let gp = self.glbp[pidx].get_or_insert_with(|| GlbpDriver::new(pidx, p, seed));
            gp.keys.insert(g.glbp.id, key);
            gp.set_family(g.glbp.id, g.glbp.vip);
            let a = gp
                .engine
                .configure(now, pc)
                .map_err(|e| format!("group {}: {e:?}", g.glbp.id))?;
            self.pending.push((pidx, a));
        }
        if let Some((lpm, hops, v6)) = routes {
            self.routes = lpm;
            self.next_hops = hops;
            self.routes6 = v6;
            sum.routes_changed = true;
        }
        if old.neighbors != new.neighbors {
            for n in &old.neighbors {
                if let Some((pi, _)) = old.interface(&n.port) {
                    match n.ip {
                        IpAddr::V4(ip) => self.neighbors.remove_static(pi as u16, ip),
                        IpAddr::V6(ip) => self.neighbors6.remove_static(pi as u16, ip),
                    }
                }
            }
            for n in &new.neighbors {
                if let Some((pi, _)) = new.interface(&n.port) {
                    match n.ip {
                        IpAddr::V4(ip) => self.neighbors.add_static(pi as u16, ip, n.mac),
                        IpAddr::V6(ip) => self.neighbors6.add_static(pi as u16, ip, n.mac),
                    }
                }
            }
            sum.neighbors_changed = true;
        }
        // Tracked objects: renumbered from the new configuration, states
        // kept; every engine hears the state of every object it tracks.
        self.tracker = Tracker::new(track::objects(new), Some(&self.tracker));
        let states: Vec<(u32, bool)> = self.tracker.objects.iter().map(|o| (o.id, o.up)).collect();
        for (id, up) in states {
            self.track_changed(now, id, up);
        }
        self.glbp_apply_pending(now);
        let groups6 = |c: &Config| -> Vec<(String, IpAddr)> {
            c.groups
                .iter()
                .filter_map(|g| match g.glbp.vip {
                    Some(v @ IpAddr::V6(_)) => Some((g.port.clone(), v)),
                    _ => None,
                })
                .collect()
        };
        if groups6(old) != groups6(new) {
            self.ipv6_groups_changed();
        }
        if sum.routes_changed || sum.neighbors_changed {
            self.publish();
        }
        Ok(sum)
    }
}
