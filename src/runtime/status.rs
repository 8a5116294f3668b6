//! The instance's status as JSON: groups (as `show glbp`), counters and
//! ports. Built by the control lcore a few times a second and shared with
//! the telemetry thread, the Prometheus endpoint and `glbpd show` (through
//! a file in the runtime folder), so all of them report the same numbers.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::control::Control;
use super::counters::{ArpClients, Counts, PuntClass, Shared};
use crate::protocol::{ForwarderStatus, GroupStatus, LoadBalancing, PeerStatus};

/// What the status is built from, besides the control lcore.
pub struct Sources<'a> {
    pub prefix: &'a str,
    pub started_ms: u64,
    pub control_lcore: u32,
    pub workers: &'a [(u32, Arc<Shared>, Arc<ArpClients>)],
    pub control_counts: &'a Counts,
    pub last_reload: &'a Value,
}

fn lb_name(m: LoadBalancing) -> &'static str {
    match m {
        LoadBalancing::RoundRobin => "round-robin",
        LoadBalancing::Weighted => "weighted",
        LoadBalancing::HostDependent => "host-dependent",
    }
}

fn peer(p: &Option<PeerStatus>) -> Value {
    match p {
        Some(p) => json!({
            "ip": p.ip.to_string(),
            "priority": p.priority,
            "local": p.local,
            "expires_in_ms": p.expires_in_ms,
        }),
        None => Value::Null,
    }
}

fn forwarder(f: &ForwarderStatus, clients: u64) -> Value {
    json!({
        "number": f.number,
        "vmac": f.vmac.to_string(),
        "state": f.state.to_string(),
        "owner": f.owner.map(|m| m.to_string()),
        "primary": f.primary,
        "active_router": f.active_router.map(|ip| ip.to_string()),
        "weight": f.weight,
        "redirect_left_ms": f.redirect_left_ms,
        "timeout_left_ms": f.timeout_left_ms,
        "clients": clients,
        "cached_clients": f.cached_clients,
    })
}

fn group(
    port: &str,
    pidx: usize,
    g: &GroupStatus,
    method: LoadBalancing,
    weighting: (u8, u8, u8),
    src: &Sources,
) -> Value {
    let c = &g.counters;
    let clients = |n: u8| {
        src.workers
            .iter()
            .map(|(_, _, cl)| cl.get(pidx, g.group, n))
            .sum::<u64>()
    };
    json!({
        "port": port,
        "group": g.group,
        "state": g.state.to_string(),
        "priority": g.priority,
        "vip": g.vip.map(|ip| ip.to_string()),
        "active_router": peer(&g.active),
        "standby_router": peer(&g.standby),
        "hello_ms": g.hello_ms.0,
        "hold_ms": g.hold_ms.0,
        "configured_hello_ms": g.hello_ms.1,
        "configured_hold_ms": g.hold_ms.1,
        "redirect_s": g.redirect_s.0,
        "timeout_s": g.timeout_s.0,
        "configured_redirect_s": g.redirect_s.1,
        "configured_timeout_s": g.timeout_s.1,
        "next_hello_in_ms": g.next_hello_in_ms,
        "load_balancing": lb_name(method),
        "weight": g.weight,
        "weight_low": g.weight_low,
        "weighting": {"max": weighting.0, "lower": weighting.1, "upper": weighting.2},
        "members": g.members.iter().map(|m| json!({
            "mac": m.mac.to_string(),
            "ip": m.ip.to_string(),
            "priority": m.priority,
            "state": m.state.to_string(),
            "local": m.local,
        })).collect::<Vec<_>>(),
        "forwarders": g.forwarders.iter().map(|f| forwarder(f, clients(f.number))).collect::<Vec<_>>(),
        "client_cache": if g.config.client_cache.max > 0 {
            json!({
                "max": g.config.client_cache.max,
                "timeout_s": g.config.client_cache.timeout_s,
                "clients": g.clients.iter().map(|(host, fwd, age)| json!({
                    "host": host.to_string(),
                    "forwarder": fwd,
                    "age_ms": age,
                })).collect::<Vec<_>>(),
            })
        } else {
            Value::Null
        },
        "counters": {
            "hellos_in": c.hellos_in,
            "hellos_out": c.hellos_out,
            "auth_failures": c.auth_failures,
            "malformed": c.malformed,
            "mismatches": c.mismatches,
            "vg_transitions": c.vg_transitions,
            "vf_transitions": c.vf_transitions,
            "requests_in": c.requests_in,
            "requests_out": c.requests_out,
            "responses_in": c.responses_in,
            "responses_out": c.responses_out,
            "two_active_seen": c.two_active_seen,
            "lone_survivor_garps": c.lone_survivor_garps,
            "non_member_claims": c.non_member_claims,
        },
    })
}

fn counts(c: &Counts, port_names: &[String]) -> Value {
    let per_port = |v: &Vec<u64>| -> Map<String, Value> {
        port_names
            .iter()
            .zip(v)
            .map(|(n, x)| (n.clone(), json!(x)))
            .collect()
    };
    json!({
        "rx_packets": per_port(&c.rx_packets),
        "rx_bytes": per_port(&c.rx_bytes),
        "tx_packets": per_port(&c.tx_packets),
        "tx_bytes": per_port(&c.tx_bytes),
        "forwarded": c.forwarded,
        "arp_replies": c.arp_replies,
        "arp_replies_by_forwarder": c.arp_by_forwarder.to_vec(),
        "punted": c.punted,
        "drops": c.drops,
        "policed": PuntClass::ALL
            .iter()
            .map(|k| (k.name().to_string(), json!(c.policed[*k as usize])))
            .collect::<Map<String, Value>>(),
    })
}

/// `hh:mm:ss` of a duration in milliseconds, as IOS prints "last change".
fn hms(ms: u64) -> String {
    let s = ms / 1000;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// Builds the whole status document.
pub fn build(ctl: &Control, src: &Sources) -> Value {
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
            let w = (cfg.weighting.max, cfg.weighting.lower, cfg.weighting.upper);
            let mut v = group(pname, pidx, &st, cfg.load_balancing, w, src);
            // `show glbp` text, with the workers' client counts.
            let mut shown = st.clone();
            for f in &mut shown.forwarders {
                f.clients = v["forwarders"]
                    .as_array()
                    .and_then(|a| a.iter().find(|x| x["number"] == f.number))
                    .and_then(|x| x["clients"].as_u64())
                    .unwrap_or(0);
            }
            // Tracked objects, as IOS lists them under the weighting line.
            let tracks: Vec<Value> = cfg
                .tracking
                .iter()
                .filter_map(|(id, dec)| {
                    let o = ctl.tracker.get(*id)?;
                    Some(json!({
                        "object": id,
                        "what": o.kind.describe(&names),
                        "state": if o.up { "Up" } else { "Down" },
                        "decrement": dec,
                        "changed_ms_ago": (o.changed_ms > 0).then(|| now.saturating_sub(o.changed_ms)),
                    }))
                })
                .collect();
            let mut text = String::new();
            for line in shown.show(pname).lines() {
                text.push_str(line);
                text.push('\n');
                if line.trim_start().starts_with("Weighting ") {
                    for t in &tracks {
                        let since = t["changed_ms_ago"]
                            .as_u64()
                            .map(|ms| format!(", last change {}", hms(ms)))
                            .unwrap_or_default();
                        text.push_str(&format!(
                            "    Track object {} state {} decrement {} ({}{since})\n",
                            t["object"],
                            t["state"].as_str().unwrap_or(""),
                            t["decrement"],
                            t["what"].as_str().unwrap_or("")
                        ));
                    }
                }
            }
            v["tracking"] = Value::Array(tracks);
            v["text"] = Value::String(text);
            let addr = |p: &Value| {
                p.get("ip")
                    .and_then(Value::as_str)
                    .map_or("unknown".to_string(), |s| {
                        if p["local"] == true {
                            "local".to_string()
                        } else {
                            s.to_string()
                        }
                    })
            };
            brief.push(json!({
                "interface": pname, "group": st.group, "fwd": "-", "priority": st.priority,
                "state": st.state.to_string(), "address": st.vip.map(|ip| ip.to_string()),
                "active_router": addr(&v["active_router"]), "standby_router": addr(&v["standby_router"]),
            }));
            for f in &st.forwarders {
                brief.push(json!({
                    "interface": pname, "group": st.group, "fwd": f.number,
                    "priority": if f.primary { 167 } else { 135 },
                    "state": f.state.to_string(), "address": f.vmac.to_string(),
                    "active_router": f.active_router.map_or("unknown".to_string(), |ip| {
                        if f.state == crate::wire::glbp::VfState::Active { "local".to_string() } else { ip.to_string() }
                    }),
                    "standby_router": "-",
                }));
            }
            groups.push(v);
        }
    }
    let mut total = src.control_counts.clone();
    let mut lcores = vec![
        json!({"lcore": src.control_lcore, "role": "control", "counters": counts(src.control_counts, &names)}),
    ];
    for (lcore, shared, _) in src.workers {
        let c = shared.read();
        total.add(&c);
        lcores.push(json!({"lcore": lcore, "role": "worker", "counters": counts(&c, &names)}));
    }
    let ports: Vec<Value> = ctl
        .ports
        .iter()
        .map(|p| {
            let s = p.port.stats().unwrap_or_default();
            let link = p.port.link().ok();
            json!({
                "name": p.name, "mac": p.mac.to_string(), "address": p.addr.to_string(),
                "link_up": link.map(|l| l.up), "speed_mbps": link.map(|l| l.speed_mbps),
                "promiscuous": p.port.promiscuous(),
                "vmacs": p.glbp.vmacs.iter().map(|m| m.to_string()).collect::<Vec<_>>(),
                "ipackets": s.ipackets, "opackets": s.opackets, "ibytes": s.ibytes, "obytes": s.obytes,
                "imissed": s.imissed, "ierrors": s.ierrors, "oerrors": s.oerrors, "rx_nombuf": s.rx_nombuf,
            })
        })
        .collect();
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "pid": std::process::id(),
        "prefix": src.prefix,
        "uptime_ms": now.saturating_sub(src.started_ms),
        "last_reload": src.last_reload,
        "brief": brief,
        "groups": groups,
        "stats": {
            "total": counts(&total, &names),
            "lcores": lcores,
            "control": serde_json::to_value(&ctl.stats).unwrap_or(Value::Null),
            "neighbors": ctl.neighbors.len(),
            "timing": serde_json::to_value(ctl.timing.report(now, &names)).unwrap_or(Value::Null),
        },
        "ports": ports,
    })
}
