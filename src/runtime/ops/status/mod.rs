//! The instance's status document (see [`doc`]): groups (as `show glbp`),
//! counters and ports. Built by the control lcore a few times a second and
//! shared with the telemetry thread, the Prometheus endpoint and `glbpd
//! show` (through a file in the runtime folder), so all of them report the
//! same numbers.

mod doc;

use std::sync::Arc;

pub use doc::*;

use crate::protocol::{ForwarderStatus, GroupStatus, LoadBalancing, PeerStatus};
use crate::runtime::control::Control;
use crate::runtime::dataplane::counters::{ArpClients, Counts, Shared};

/// What the status is built from, besides the control lcore.
pub struct Sources<'a> {
    pub prefix: &'a str,
    pub started_ms: u64,
    pub control_lcore: u32,
    pub workers: &'a [(u32, Arc<Shared>, Arc<ArpClients>)],
    pub control_counts: &'a Counts,
    pub last_reload: &'a Option<ReloadVerdict>,
}

fn lb_name(m: LoadBalancing) -> &'static str {
    match m {
        LoadBalancing::RoundRobin => "round-robin",
        LoadBalancing::Weighted => "weighted",
        LoadBalancing::HostDependent => "host-dependent",
    }
}

fn peer(p: &Option<PeerStatus>) -> Option<Peer> {
    p.as_ref().map(|p| Peer {
        ip: p.ip.to_string(),
        priority: p.priority,
        local: p.local,
        expires_in_ms: p.expires_in_ms,
    })
}

fn forwarder(f: &ForwarderStatus, clients: u64) -> Forwarder {
    Forwarder {
        number: f.number,
        vmac: f.vmac.to_string(),
        state: f.state.to_string(),
        owner: f.owner.map(|m| m.to_string()),
        primary: f.primary,
        active_router: f.active_router.map(|ip| ip.to_string()),
        weight: f.weight,
        redirect_left_ms: f.redirect_left_ms,
        timeout_left_ms: f.timeout_left_ms,
        clients,
        cached_clients: f.cached_clients as u64,
    }
}

fn group(
    (port, vlan): (&str, u16),
    pidx: usize,
    g: &GroupStatus,
    method: LoadBalancing,
    weighting: Weighting,
    src: &Sources,
) -> Group {
    let clients = |n: u8| {
        src.workers
            .iter()
            .map(|(_, _, cl)| cl.get(pidx, g.group, n))
            .sum::<u64>()
    };
    let cache = &g.config.client_cache;
    Group {
        port: port.to_string(),
        vlan,
        group: g.group,
        state: g.state.to_string(),
        priority: g.priority,
        vip: g.vip.map(|ip| ip.to_string()),
        active_router: peer(&g.active),
        standby_router: peer(&g.standby),
        hello_ms: g.hello_ms.0,
        hold_ms: g.hold_ms.0,
        configured_hello_ms: g.hello_ms.1,
        configured_hold_ms: g.hold_ms.1,
        redirect_s: g.redirect_s.0,
        timeout_s: g.timeout_s.0,
        configured_redirect_s: g.redirect_s.1,
        configured_timeout_s: g.timeout_s.1,
        next_hello_in_ms: g.next_hello_in_ms,
        load_balancing: lb_name(method).to_string(),
        weight: g.weight,
        weight_low: g.weight_low,
        weighting,
        members: g
            .members
            .iter()
            .map(|m| Member {
                mac: m.mac.to_string(),
                ip: m.ip.to_string(),
                priority: m.priority,
                state: m.state.to_string(),
                local: m.local,
            })
            .collect(),
        forwarders: g
            .forwarders
            .iter()
            .map(|f| forwarder(f, clients(f.number)))
            .collect(),
        client_cache: (cache.max > 0).then(|| ClientCache {
            max: cache.max,
            timeout_s: cache.timeout_s,
            clients: g
                .clients
                .iter()
                .map(|(host, fwd, age)| CachedClient {
                    host: host.to_string(),
                    forwarder: *fwd,
                    age_ms: *age,
                })
                .collect(),
        }),
        counters: GroupCounters::from(&g.counters),
        tracking: Vec::new(),
        text: String::new(),
    }
}

fn counts(c: &Counts, port_names: &[String]) -> Counters {
    let per_port = |v: &Vec<u64>| port_names.iter().cloned().zip(v.iter().copied()).collect();
    Counters {
        rx_packets: per_port(&c.rx_packets),
        rx_bytes: per_port(&c.rx_bytes),
        tx_packets: per_port(&c.tx_packets),
        tx_bytes: per_port(&c.tx_bytes),
        forwarded: c.forwarded,
        arp_replies: c.arp_replies,
        arp_replies_by_forwarder: c.arp_by_forwarder.to_vec(),
        nd_replies: c.nd_replies,
        punted: c.punted,
        drops: c.drops,
        policed: c.policed,
    }
}

/// `hh:mm:ss` of a duration in milliseconds, as IOS prints "last change".
fn hms(ms: u64) -> String {
    let s = ms / 1000;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// The brief view's address of a gateway: "local", its IP, or "unknown".
fn brief_addr(p: &Option<Peer>) -> String {
    match p {
        Some(p) if p.local => "local".to_string(),
        Some(p) => p.ip.clone(),
        None => "unknown".to_string(),
    }
}

/// Both neighbour tables of `ctl`, whole (`show neighbors`).
pub fn neighbors(ctl: &Control) -> NeighborTables {
    let now = ctl.now_ms();
    let rows = |l: Vec<crate::runtime::control::neighbors::Listed>| -> Vec<Neighbor> {
        l.into_iter()
            .map(|n| Neighbor {
                interface: ctl
                    .ports
                    .get(usize::from(n.port))
                    .map_or_else(|| n.port.to_string(), |p| p.name.clone()),
                ip: n.ip.to_string(),
                mac: n.mac.map(|m| m.to_string()),
                state: n.state.to_string(),
                next_probe_in_ms: n.next_probe_in_ms,
            })
            .collect()
    };
    NeighborTables {
        at_ms: now,
        ipv4: rows(ctl.neighbors.listing(now)),
        ipv6: rows(ctl.neighbors6.listing(now)),
    }
}

/// Builds the whole status document.
pub fn build(ctl: &Control, src: &Sources) -> Status {
    let now = ctl.now_ms();
    let names: Vec<String> = ctl.ports.iter().map(|p| p.name.clone()).collect();
    let mut groups = Vec::new();
    let mut brief = Vec::new();
    for (pidx, gp) in ctl.glbp.iter().enumerate() {
        let Some(gp) = gp else { continue };
        let pname = &ctl.ports[pidx].name;
        for g in gp.engine.groups() {
            let st = g.status(now);
            let cfg = g.config();
            let w = Weighting {
                max: cfg.weighting.max,
                lower: cfg.weighting.lower,
                upper: cfg.weighting.upper,
            };
            let mut v = group(
                (pname, ctl.ports[pidx].vlan),
                pidx,
                &st,
                cfg.load_balancing,
                w,
                src,
            );
            // `show glbp` text, with the workers' client counts.
            let mut shown = st.clone();
            for f in &mut shown.forwarders {
                f.clients = v
                    .forwarders
                    .iter()
                    .find(|x| x.number == f.number)
                    .map_or(0, |x| x.clients);
            }
            // Tracked objects, as IOS lists them under the weighting line.
            v.tracking = cfg
                .tracking
                .iter()
                .filter_map(|(id, dec)| {
                    let o = ctl.tracker.get(*id)?;
                    Some(Track {
                        object: *id,
                        what: o.kind.describe(&names),
                        state: if o.up { "Up" } else { "Down" }.to_string(),
                        decrement: *dec,
                        changed_ms_ago: (o.changed_ms > 0)
                            .then(|| now.saturating_sub(o.changed_ms)),
                    })
                })
                .collect();
            let mut text = String::new();
            for line in shown.show(pname).lines() {
                text.push_str(line);
                text.push('\n');
                if line.trim_start().starts_with("Weighting ") {
                    for t in &v.tracking {
                        let since = t
                            .changed_ms_ago
                            .map(|ms| format!(", last change {}", hms(ms)))
                            .unwrap_or_default();
                        text.push_str(&format!(
                            "    Track object {} state {} decrement {} ({}{since})\n",
                            t.object, t.state, t.decrement, t.what
                        ));
                    }
                }
            }
            v.text = text;
            brief.push(BriefRow {
                interface: pname.clone(),
                group: st.group,
                fwd: None,
                priority: st.priority,
                state: st.state.to_string(),
                address: st.vip.map(|ip| ip.to_string()),
                active_router: brief_addr(&v.active_router),
                standby_router: brief_addr(&v.standby_router),
            });
            for f in &st.forwarders {
                brief.push(BriefRow {
                    interface: pname.clone(),
                    group: st.group,
                    fwd: Some(f.number),
                    priority: if f.primary { 167 } else { 135 },
                    state: f.state.to_string(),
                    address: Some(f.vmac.to_string()),
                    active_router: f.active_router.map_or("unknown".to_string(), |ip| {
                        if f.state == crate::wire::glbp::VfState::Active {
                            "local".to_string()
                        } else {
                            ip.to_string()
                        }
                    }),
                    standby_router: "-".to_string(),
                });
            }
            groups.push(v);
        }
    }
    let mut total = src.control_counts.clone();
    let mut lcores = vec![Lcore {
        lcore: src.control_lcore,
        role: Role::Control,
        counters: counts(src.control_counts, &ctl.link_names),
    }];
    for (lcore, shared, _) in src.workers {
        let c = shared.read();
        total.add(&c);
        lcores.push(Lcore {
            lcore: *lcore,
            role: Role::Worker,
            counters: counts(&c, &ctl.link_names),
        });
    }
    let ports = ctl
        .ports
        .iter()
        .map(|p| {
            let s = p.port.stats().unwrap_or_default();
            let link = p.port.link().ok();
            Port {
                name: p.name.clone(),
                link: ctl.link_names.get(p.link).cloned().unwrap_or_default(),
                vlan: p.vlan,
                mac: p.mac.to_string(),
                address: p.addr.to_string(),
                link_up: link.map(|l| l.up),
                speed_mbps: link.map(|l| l.speed_mbps),
                promiscuous: p.port.promiscuous(),
                vmacs: p.glbp.vmacs.iter().map(|m| m.to_string()).collect(),
                stats: s,
            }
        })
        .collect();
    Status {
        version: env!("CARGO_PKG_VERSION").to_string(),
        pid: std::process::id(),
        prefix: src.prefix.to_string(),
        uptime_ms: now.saturating_sub(src.started_ms),
        last_reload: src.last_reload.clone(),
        brief,
        groups,
        stats: Stats {
            total: counts(&total, &ctl.link_names),
            lcores,
            control: ctl.stats.clone(),
            neighbors: ctl.neighbors.len(),
            neighbors6: ctl.neighbors6.len(),
            timing: ctl.timing.report(now, &names),
        },
        ports,
    }
}
