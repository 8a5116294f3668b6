//! Operations endpoints of a running instance: the status file read by
//! `glbpd show`, DPDK telemetry commands, and an opt-in Prometheus
//! endpoint. All serve the same status document.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use serde_json::Value;

use crate::dpdk::telemetry;

/// Name of the status document in the instance's runtime folder.
pub const STATUS_FILE: &str = "glbpd-status.json";

/// Writes the status atomically (temporary file, then rename).
pub fn write_status(path: &Path, st: &Value) {
    let tmp = path.with_extension("json.tmp");
    let ok = std::fs::write(&tmp, serde_json::to_vec(st).unwrap_or_default())
        .and_then(|_| std::fs::rename(&tmp, path));
    if let Err(e) = ok {
        log::debug!("cannot write {}: {e}", path.display());
    }
}

fn key(parts: &[&Value]) -> String {
    parts
        .iter()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `/glbp/brief`: one entry per group ("port/group/0") and forwarder
/// ("port/group/N"), as the rows of `show glbp brief`.
fn tel_brief(st: &Value, _: &str) -> Value {
    let rows = st["brief"].as_array().cloned().unwrap_or_default();
    let map = rows
        .into_iter()
        .map(|r| {
            let fwd = if r["fwd"] == "-" {
                Value::from(0)
            } else {
                r["fwd"].clone()
            };
            (key(&[&r["interface"], &r["group"], &fwd]), r)
        })
        .collect::<serde_json::Map<_, _>>();
    Value::Object(map)
}

/// `/glbp/groups[,N]`: one entry per group ("port/group"), all of group N
/// when given.
fn tel_groups(st: &Value, params: &str) -> Value {
    let want = params.trim().parse::<u64>().ok();
    let map = st["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|g| want.map_or(true, |w| g["group"] == w))
        .map(|g| (key(&[&g["port"], &g["group"]]), g.clone()))
        .collect::<serde_json::Map<_, _>>();
    Value::Object(map)
}

/// `/glbp/stats`: totals, control plane, each lcore and each port.
fn tel_stats(st: &Value, _: &str) -> Value {
    let mut map = serde_json::Map::new();
    map.insert("total".into(), st["stats"]["total"].clone());
    map.insert("control".into(), st["stats"]["control"].clone());
    for l in st["stats"]["lcores"].as_array().into_iter().flatten() {
        map.insert(format!("lcore/{}", l["lcore"]), l.clone());
    }
    for p in st["ports"].as_array().into_iter().flatten() {
        map.insert(key(&[&Value::from("port"), &p["name"]]), p.clone());
    }
    Value::Object(map)
}

/// Registers `/glbp/brief`, `/glbp/groups` and `/glbp/stats`.
pub fn register_telemetry(cell: &Arc<ArcSwap<Value>>) {
    type View = fn(&Value, &str) -> Value;
    let cmds: [(&str, &str, View); 3] = [
        (
            "/glbp/brief",
            "GLBP groups and forwarders, as `show glbp brief`.",
            tel_brief,
        ),
        (
            "/glbp/groups",
            "GLBP groups in detail. Parameter: group number (optional).",
            tel_groups,
        ),
        (
            "/glbp/stats",
            "glbpd counters: total, control plane, per lcore, per port.",
            tel_stats,
        ),
    ];
    for (cmd, help, f) in cmds {
        let cell = cell.clone();
        if let Err(e) = telemetry::register(cmd, help, move |params| f(&cell.load(), params)) {
            log::warn!("telemetry command {cmd} not registered: {e}");
        }
    }
}

/// How long `/glbp/reload` waits for the control loop's verdict: the
/// read's own time limit plus time to apply.
pub const RELOAD_WAIT: Duration = Duration::from_secs(super::reloader::READ_TIMEOUT.as_secs() + 3);

/// Longest string DPDK 22.11 telemetry carries in a dictionary.
const TEL_STRING_MAX: usize = 127;

/// `s` as telemetry can carry it: the string when short enough, else its
/// pieces in order (a dictionary `"0"`, `"1"`, ... on the wire).
pub fn telemetry_text(s: &str) -> Value {
    if s.len() <= TEL_STRING_MAX {
        return Value::String(s.to_string());
    }
    let mut parts = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let mut end = rest.len().min(TEL_STRING_MAX - 7);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        parts.push(Value::String(rest[..end].to_string()));
        rest = &rest[end..];
    }
    Value::Array(parts)
}

/// Registers `/glbp/reload`: asks the control loop to re-read the
/// configuration file, waits for its verdict and answers
/// `{"ok": bool, "message": text}` (`message` in pieces when long, see
/// [`telemetry_text`]). Runs on DPDK's telemetry thread.
pub fn register_reload(client: super::reloader::ReloadClient) {
    let handler = move |_: &str| {
        let v = client.request(RELOAD_WAIT);
        serde_json::json!({"ok": v.ok, "message": telemetry_text(&v.message)})
    };
    if let Err(e) = telemetry::register(
        "/glbp/reload",
        "Re-read the configuration file and apply it; answers ok and message.",
        handler,
    ) {
        log::warn!("telemetry command /glbp/reload not registered: {e}");
    }
}

/// Serves `GET /metrics` in the Prometheus text format on `addr` from a
/// thread of its own, until `stop` is set.
pub fn serve_prometheus(
    addr: SocketAddr,
    cell: Arc<ArcSwap<Value>>,
    stop: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<()>, String> {
    let listener = TcpListener::bind(addr).map_err(|e| format!("ops.prometheus {addr}: {e}"))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    log::info!("Prometheus metrics on http://{addr}/metrics");
    std::thread::Builder::new()
        .name("glbpd-prometheus".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                        let mut req = [0u8; 1024];
                        let n = s.read(&mut req).unwrap_or(0);
                        let line = String::from_utf8_lossy(&req[..n]);
                        let (code, body) = if line.starts_with("GET /metrics") {
                            ("200 OK", prometheus_text(&cell.load()))
                        } else {
                            ("404 Not Found", "try /metrics\n".to_string())
                        };
                        let _ = write!(
                            s,
                            "HTTP/1.1 {code}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        })
        .map_err(|e| e.to_string())
}

fn label(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Renders the status document as Prometheus metrics.
pub fn prometheus_text(st: &Value) -> String {
    let mut o = String::new();
    let mut metric = |name: &str, help: &str, kind: &str, rows: Vec<(String, u64)>| {
        o.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for (labels, v) in rows {
            o.push_str(&format!("{name}{{{labels}}} {v}\n"));
        }
    };
    let total = &st["stats"]["total"];
    let per_port = |key: &str| -> Vec<(String, u64)> {
        total[key]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(p, v)| (format!("port=\"{}\"", label(p)), v.as_u64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default()
    };
    metric(
        "glbpd_rx_packets_total",
        "Packets received by the workers.",
        "counter",
        per_port("rx_packets"),
    );
    metric(
        "glbpd_rx_bytes_total",
        "Bytes received by the workers.",
        "counter",
        per_port("rx_bytes"),
    );
    metric(
        "glbpd_tx_packets_total",
        "Packets sent.",
        "counter",
        per_port("tx_packets"),
    );
    metric(
        "glbpd_tx_bytes_total",
        "Bytes sent.",
        "counter",
        per_port("tx_bytes"),
    );
    metric(
        "glbpd_forwarded_total",
        "IPv4 packets routed.",
        "counter",
        vec![(String::new(), total["forwarded"].as_u64().unwrap_or(0))],
    );
    metric(
        "glbpd_arp_replies_total",
        "ARP replies for virtual IPs.",
        "counter",
        vec![(String::new(), total["arp_replies"].as_u64().unwrap_or(0))],
    );
    metric(
        "glbpd_punted_total",
        "Packets handed to the control lcore.",
        "counter",
        vec![(String::new(), total["punted"].as_u64().unwrap_or(0))],
    );
    let drops = total["drops"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(r, v)| (format!("reason=\"{}\"", label(r)), v.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default();
    metric(
        "glbpd_drops_total",
        "Packets dropped by the workers, by reason.",
        "counter",
        drops,
    );
    let groups = st["groups"].as_array().cloned().unwrap_or_default();
    let mut active = Vec::new();
    let mut hellos_in = Vec::new();
    let mut hellos_out = Vec::new();
    let mut auth = Vec::new();
    let mut trans = Vec::new();
    let mut clients = Vec::new();
    for g in &groups {
        let l = format!(
            "port=\"{}\",group=\"{}\"",
            label(g["port"].as_str().unwrap_or("")),
            g["group"]
        );
        active.push((l.clone(), u64::from(g["state"] == "Active")));
        hellos_in.push((l.clone(), g["counters"]["hellos_in"].as_u64().unwrap_or(0)));
        hellos_out.push((l.clone(), g["counters"]["hellos_out"].as_u64().unwrap_or(0)));
        auth.push((
            l.clone(),
            g["counters"]["auth_failures"].as_u64().unwrap_or(0),
        ));
        trans.push((
            l.clone(),
            g["counters"]["vg_transitions"].as_u64().unwrap_or(0),
        ));
        for f in g["forwarders"].as_array().cloned().unwrap_or_default() {
            clients.push((
                format!("{l},forwarder=\"{}\"", f["number"]),
                f["clients"].as_u64().unwrap_or(0),
            ));
        }
    }
    metric(
        "glbpd_group_avg",
        "1 when this node is the group's AVG.",
        "gauge",
        active,
    );
    metric(
        "glbpd_hellos_in_total",
        "Hellos received.",
        "counter",
        hellos_in,
    );
    metric(
        "glbpd_hellos_out_total",
        "Hellos sent.",
        "counter",
        hellos_out,
    );
    metric(
        "glbpd_auth_failures_total",
        "Messages dropped for failed authentication.",
        "counter",
        auth,
    );
    metric(
        "glbpd_state_transitions_total",
        "Gateway state transitions.",
        "counter",
        trans,
    );
    metric(
        "glbpd_forwarder_clients_total",
        "ARP replies that chose this forwarder.",
        "counter",
        clients,
    );
    o
}
