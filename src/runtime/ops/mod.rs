//! Operations endpoints of a running instance: the status file read by
//! `glbpd show`, DPDK telemetry commands, and an opt-in Prometheus
//! endpoint. All serve the same status document.

pub mod ask;
pub mod show;
pub mod status;
pub mod telemetry_client;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use serde_json::Value;

use crate::dpdk::telemetry;
use crate::runtime::control::timing::{TimingReport, Window};
use crate::runtime::ops::status::Status;

/// Name of the status document in the instance's runtime folder.
pub const STATUS_FILE: &str = "glbpd-status.json";

/// Name of the neighbour tables' document (`show neighbors`), written on
/// request.
pub const NEIGHBORS_FILE: &str = "glbpd-neighbors.json";

/// Writes the status atomically (temporary file, then rename).
pub fn write_status(path: &Path, st: &Status) {
    if let Err(e) = write_json(path, st) {
        log::debug!("cannot write {}: {e}", path.display());
    }
}

/// Writes `v` as JSON to `path` atomically (temporary file, then rename).
pub fn write_json<T: serde::Serialize>(path: &Path, v: &T) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec(v).unwrap_or_default())
        .and_then(|_| std::fs::rename(&tmp, path))
}

fn json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// A telemetry scalar of a JSON scalar: unsigned and negative integers as
/// numbers, anything else as its text.
fn tel_scalar(v: &Value) -> telemetry::Scalar {
    use telemetry::Scalar;
    match v {
        Value::Number(n) if n.is_u64() => Scalar::U64(n.as_u64().unwrap_or(0)),
        Value::Number(n) if n.is_i64() => Scalar::Int(n.as_i64().unwrap_or(0)),
        Value::String(s) => Scalar::Str(s.clone()),
        other => Scalar::Str(other.to_string()),
    }
}

/// Flattens nested objects and arrays into `prefix/key/index` names with
/// scalar values: DPDK 22.11 telemetry nests containers one level deep only.
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, telemetry::Scalar)>) {
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}/{k}")
        }
    };
    match v {
        Value::Object(m) => m.iter().for_each(|(k, x)| flatten(&join(k), x, out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| flatten(&join(&i.to_string()), x, out)),
        scalar => out.push((prefix.to_string(), tel_scalar(scalar))),
    }
}

/// A JSON answer as telemetry carries it: an object becomes a dictionary
/// whose nested objects and arrays become one-level dictionaries with
/// flattened names (`active_router/ip`, `forwarders/0/state`); anything
/// else a single string.
pub fn tel_reply(v: &Value) -> telemetry::Reply {
    use telemetry::{Entry, Reply};
    match v {
        Value::Object(map) => Reply::Dict(
            map.iter()
                .map(|(k, x)| {
                    let e = if x.is_object() || x.is_array() {
                        let mut flat = Vec::new();
                        flatten("", x, &mut flat);
                        Entry::Dict(flat)
                    } else {
                        Entry::Scalar(tel_scalar(x))
                    };
                    (k.clone(), e)
                })
                .collect(),
        ),
        other => Reply::Text(other.to_string()),
    }
}

/// `/glbp/brief`: one entry per group ("port/group/0") and forwarder
/// ("port/group/N"), as the rows of `show glbp brief`.
fn tel_brief(st: &Status, _: &str) -> Value {
    let map = st
        .brief
        .iter()
        .map(|r| {
            let key = format!("{}/{}/{}", r.interface, r.group, r.fwd.unwrap_or(0));
            (key, json(r))
        })
        .collect::<serde_json::Map<_, _>>();
    Value::Object(map)
}

/// `/glbp/groups[,N]`: one entry per group ("port/group"), all of group N
/// when given.
fn tel_groups(st: &Status, params: &str) -> Value {
    let want = params.trim().parse::<u64>().ok();
    let map = st
        .groups
        .iter()
        .filter(|g| want.map_or(true, |w| u64::from(g.group) == w))
        .map(|g| (format!("{}/{}", g.port, g.group), json(g)))
        .collect::<serde_json::Map<_, _>>();
    Value::Object(map)
}

/// `/glbp/stats`: totals, control plane, each lcore and each port.
fn tel_stats(st: &Status, _: &str) -> Value {
    let mut map = serde_json::Map::new();
    map.insert("total".into(), json(&st.stats.total));
    map.insert("control".into(), json(&st.stats.control));
    for l in &st.stats.lcores {
        map.insert(format!("lcore/{}", l.lcore), json(l));
    }
    for p in &st.ports {
        map.insert(format!("port/{}", p.name), json(p));
    }
    Value::Object(map)
}

/// `/glbp/timing`: the control plane's timing histograms.
fn tel_timing(st: &Status, _: &str) -> Value {
    json(&st.stats.timing)
}

/// Registers `/glbp/brief`, `/glbp/groups`, `/glbp/stats` and
/// `/glbp/timing`.
pub fn register_telemetry(cell: &Arc<ArcSwap<Status>>) {
    type View = fn(&Status, &str) -> Value;
    let cmds: [(&str, &str, View); 4] = [
        (
            "/glbp/timing",
            "Control-plane timing (us): hello lateness, hello arrival gaps, punt wait, control loop.",
            tel_timing,
        ),
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
        let view = move |params: &str| tel_reply(&f(&cell.load(), params));
        if let Err(e) = telemetry::register(cmd, help, view) {
            log::warn!("telemetry command {cmd} not registered: {e}");
        }
    }
}

/// The CPU for the threads glbpd starts itself: `[ops] cpu`, else the
/// first CPU the calling thread (the control lcore, pinned by EAL) may run
/// on. None when the affinity cannot be read.
pub fn ops_cpu(configured: Option<usize>) -> Option<usize> {
    configured.or_else(|| {
        core_affinity::get_core_ids()
            .and_then(|ids| ids.first().copied())
            .map(|c| c.id)
    })
}

/// A helper started by the control lcore inherits its SCHED_RR: give it
/// the lowest normal priority instead, so that it shares the control
/// lcore's CPU without ever delaying it.
fn normal_priority() {
    use thread_priority::{
        set_thread_priority_and_policy, thread_native_id, thread_schedule_policy,
        NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
    };
    if let Ok(ThreadSchedulePolicy::Realtime(_)) = thread_schedule_policy() {
        if let Err(e) = set_thread_priority_and_policy(
            thread_native_id(),
            ThreadPriority::Min,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Other),
        ) {
            log::warn!("helper thread keeps the control lcore's priority: {e:?}");
        }
    }
}

/// Starts a thread named `name` pinned to `cpu` (see [`ops_cpu`]), never
/// left to float onto a worker's core.
pub fn spawn_pinned<T: Send + 'static>(
    name: &str,
    cpu: Option<usize>,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<T>> {
    let thread = name.to_string();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            match cpu {
                Some(id) if core_affinity::set_for_current(core_affinity::CoreId { id }) => {}
                Some(id) => log::warn!("thread {thread}: cannot pin to CPU {id}"),
                None => log::warn!("thread {thread}: control CPU unknown, not pinned"),
            }
            normal_priority();
            f()
        })
}

/// How long `/glbp/reload` waits for the control loop's verdict: the
/// read's own time limit plus time to apply.
pub const RELOAD_WAIT: Duration =
    Duration::from_secs(crate::runtime::control::reloader::READ_TIMEOUT.as_secs() + 3);

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
pub fn register_reload(client: crate::runtime::control::reloader::ReloadClient) {
    let handler = move |_: &str| {
        let v = client.request(RELOAD_WAIT);
        tel_reply(&serde_json::json!({"ok": v.ok, "message": telemetry_text(&v.message)}))
    };
    if let Err(e) = telemetry::register(
        "/glbp/reload",
        "Re-read the configuration file and apply it; answers ok and message.",
        handler,
    ) {
        log::warn!("telemetry command /glbp/reload not registered: {e}");
    }
}

/// How long `/glbp/neighbors` waits for the control loop.
pub const NEIGHBORS_WAIT: Duration = Duration::from_secs(3);

/// Registers `/glbp/neighbors`: asks the control loop to write both
/// neighbour tables, whole, to [`NEIGHBORS_FILE`] (telemetry's replies
/// are too small for them) and answers `{"ok": bool, "entries": n}` or
/// `{"ok": false, "message": text}`.
pub fn register_neighbors(asker: ask::Asker<Result<usize, String>>) {
    let handler = move |_: &str| {
        let v = match asker.ask(NEIGHBORS_WAIT).and_then(|r| r) {
            Ok(n) => serde_json::json!({"ok": true, "entries": n}),
            Err(e) => serde_json::json!({"ok": false, "message": telemetry_text(&e)}),
        };
        tel_reply(&v)
    };
    if let Err(e) = telemetry::register(
        "/glbp/neighbors",
        "Write the ARP and IPv6 neighbour tables to glbpd-neighbors.json in the runtime folder.",
        handler,
    ) {
        log::warn!("telemetry command /glbp/neighbors not registered: {e}");
    }
}

/// Serves `GET /metrics` in the Prometheus text format on `addr` from a
/// thread of its own (pinned to `cpu`), until `stop` is set.
pub fn serve_prometheus(
    addr: SocketAddr,
    cell: Arc<ArcSwap<Status>>,
    stop: Arc<AtomicBool>,
    cpu: Option<usize>,
) -> Result<std::thread::JoinHandle<()>, String> {
    let listener = TcpListener::bind(addr).map_err(|e| format!("ops.prometheus {addr}: {e}"))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    log::info!("Prometheus metrics on http://{addr}/metrics");
    spawn_pinned("glbpd-prometheus", cpu, move || {
        let mut conns: Vec<Conn> = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let mut progress = false;
            while let Ok((sock, _)) = listener.accept() {
                progress = true;
                if sock.set_nonblocking(true).is_err() {
                    continue;
                }
                if conns.len() >= MAX_CONNS {
                    // Full: the oldest (most likely idle) makes room.
                    conns.remove(0);
                }
                conns.push(Conn::new(sock));
            }
            let now = Instant::now();
            conns.retain_mut(|c| match c.step(&cell, now) {
                Step::Open(p) => {
                    progress |= p;
                    true
                }
                Step::Closed => false,
            });
            if !progress {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    })
    .map_err(|e| e.to_string())
}

/// Open connections the Prometheus endpoint keeps at most.
const MAX_CONNS: usize = 512;
/// A connection must send its request and take the answer within this.
const CONN_DEADLINE: Duration = Duration::from_secs(2);
/// Requests larger than this are refused.
const MAX_REQUEST: usize = 8192;

/// One HTTP connection of the Prometheus endpoint, served without blocking
/// so that idle or slow clients cannot hold up a scrape.
struct Conn {
    sock: std::net::TcpStream,
    req: Vec<u8>,
    resp: Vec<u8>,
    sent: usize,
    deadline: Instant,
}

enum Step {
    /// Still open; true when it made progress.
    Open(bool),
    Closed,
}

impl Conn {
    fn new(sock: std::net::TcpStream) -> Conn {
        Conn {
            sock,
            req: Vec::new(),
            resp: Vec::new(),
            sent: 0,
            deadline: Instant::now() + CONN_DEADLINE,
        }
    }

    fn step(&mut self, cell: &ArcSwap<Status>, now: Instant) -> Step {
        use std::io::ErrorKind::{Interrupted, WouldBlock};
        if now >= self.deadline {
            return Step::Closed;
        }
        let mut progress = false;
        if self.resp.is_empty() {
            let mut b = [0u8; 1024];
            match self.sock.read(&mut b) {
                Ok(0) => return Step::Closed,
                Ok(n) => {
                    progress = true;
                    self.req.extend_from_slice(&b[..n]);
                }
                Err(e) if matches!(e.kind(), WouldBlock | Interrupted) => {}
                Err(_) => return Step::Closed,
            }
            let Some(end) = self.req.windows(2).position(|w| w == b"\r\n") else {
                return if self.req.len() > MAX_REQUEST {
                    Step::Closed
                } else {
                    Step::Open(progress)
                };
            };
            let line = String::from_utf8_lossy(&self.req[..end]);
            let (code, body) = if line.starts_with("GET /metrics") {
                ("200 OK", prometheus_text(&cell.load()))
            } else {
                ("404 Not Found", "try /metrics\n".to_string())
            };
            self.resp = format!(
                "HTTP/1.1 {code}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .into_bytes();
        }
        match self.sock.write(&self.resp[self.sent..]) {
            Ok(n) => {
                self.sent += n;
                if self.sent == self.resp.len() {
                    return Step::Closed;
                }
                Step::Open(true)
            }
            Err(e) if matches!(e.kind(), WouldBlock | Interrupted) => Step::Open(progress),
            Err(_) => Step::Closed,
        }
    }
}

fn label(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Renders the status document as Prometheus metrics.
pub fn prometheus_text(st: &Status) -> String {
    let mut o = String::new();
    let mut metric = |name: &str, help: &str, kind: &str, rows: Vec<(String, u64)>| {
        o.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for (labels, v) in rows {
            o.push_str(&format!("{name}{{{labels}}} {v}\n"));
        }
    };
    let total = &st.stats.total;
    let per_port = |m: &std::collections::BTreeMap<String, u64>| -> Vec<(String, u64)> {
        m.iter()
            .map(|(p, v)| (format!("port=\"{}\"", label(p)), *v))
            .collect()
    };
    metric(
        "glbpd_rx_packets_total",
        "Packets received by the workers.",
        "counter",
        per_port(&total.rx_packets),
    );
    metric(
        "glbpd_rx_bytes_total",
        "Bytes received by the workers.",
        "counter",
        per_port(&total.rx_bytes),
    );
    metric(
        "glbpd_tx_packets_total",
        "Packets sent.",
        "counter",
        per_port(&total.tx_packets),
    );
    metric(
        "glbpd_tx_bytes_total",
        "Bytes sent.",
        "counter",
        per_port(&total.tx_bytes),
    );
    metric(
        "glbpd_forwarded_total",
        "IPv4 packets routed.",
        "counter",
        vec![(String::new(), total.forwarded)],
    );
    metric(
        "glbpd_arp_replies_total",
        "ARP replies for virtual IPs.",
        "counter",
        vec![(String::new(), total.arp_replies)],
    );
    metric(
        "glbpd_nd_replies_total",
        "Neighbour advertisements for virtual IPv6 addresses, made from hosts' solicitations.",
        "counter",
        vec![(String::new(), total.nd_replies)],
    );
    metric(
        "glbpd_punted_total",
        "Packets handed to the control lcore.",
        "counter",
        vec![(String::new(), total.punted)],
    );
    // Rows sorted by label, as before the counts were typed.
    let mut drops: Vec<(String, u64)> = total
        .drops
        .iter()
        .map(|(r, v)| (format!("reason=\"{}\"", label(r.name())), v))
        .collect();
    drops.sort();
    metric(
        "glbpd_drops_total",
        "Packets dropped by the workers, by reason.",
        "counter",
        drops,
    );
    let mut policed: Vec<(String, u64)> = total
        .policed
        .iter()
        .map(|(c, v)| (format!("class=\"{}\"", label(c.name())), v))
        .collect();
    policed.sort();
    metric(
        "glbpd_policed_total",
        "Punts to the control lcore dropped by the [control_plane] policers, by class.",
        "counter",
        policed,
    );
    let mut active = Vec::new();
    let mut hellos_in = Vec::new();
    let mut hellos_out = Vec::new();
    let mut auth = Vec::new();
    let mut trans = Vec::new();
    let mut clients = Vec::new();
    let group_label = |g: &crate::runtime::ops::status::Group| {
        format!(
            "port=\"{}\",vlan=\"{}\",group=\"{}\"",
            label(&g.port),
            g.vlan,
            g.group
        )
    };
    for g in &st.groups {
        let l = group_label(g);
        active.push((l.clone(), u64::from(g.state == "Active")));
        hellos_in.push((l.clone(), g.counters.hellos_in));
        hellos_out.push((l.clone(), g.counters.hellos_out));
        auth.push((l.clone(), g.counters.auth_failures));
        trans.push((l.clone(), g.counters.vg_transitions));
        for f in &g.forwarders {
            clients.push((format!("{l},forwarder=\"{}\"", f.number), f.clients));
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
    let mut tracks = Vec::new();
    for g in &st.groups {
        for t in &g.tracking {
            tracks.push((
                format!(
                    "{},object=\"{}\",what=\"{}\"",
                    group_label(g),
                    t.object,
                    label(&t.what)
                ),
                u64::from(t.state == "Up"),
            ));
        }
    }
    metric(
        "glbpd_track_up",
        "1 while a tracked object is up (its decrement not applied).",
        "gauge",
        tracks,
    );
    timing_metrics(&mut o, &st.stats.timing);
    o
}

/// The timing histograms as Prometheus summaries: quantiles over the last
/// minute, count and sum since start (as client libraries do).
fn timing_metrics(o: &mut String, t: &TimingReport) {
    let mut summary = |name: &str, help: &str, rows: Vec<(String, &Window)>| {
        o.push_str(&format!(
            "# HELP {name} {help}
# TYPE {name} summary
"
        ));
        for (labels, w) in rows {
            let sep = if labels.is_empty() { "" } else { "," };
            let l = &w.last_minute;
            for (q, v) in [("0.5", l.p50_us), ("0.99", l.p99_us), ("0.999", l.p999_us)] {
                o.push_str(&format!(
                    "{name}{{{labels}{sep}quantile=\"{q}\"}} {}\n",
                    v as f64 / 1e6
                ));
            }
            let s = &w.since_start;
            o.push_str(&format!(
                "{name}_sum{{{labels}}} {}\n",
                s.sum_us as f64 / 1e6
            ));
            o.push_str(&format!("{name}_count{{{labels}}} {}\n", s.count));
        }
    };
    summary(
        "glbpd_hello_lateness_seconds",
        "Periodic hello send time minus due time.",
        t.hello_lateness
            .iter()
            .map(|(p, w)| (format!("port=\"{}\"", label(p)), w))
            .collect(),
    );
    summary(
        "glbpd_hello_arrival_gap_seconds",
        "Time between consecutive valid hellos of one member and group.",
        t.hello_arrival
            .iter()
            .map(|p| {
                (
                    format!("port=\"{}\",peer=\"{}\"", label(&p.port), label(&p.peer)),
                    &p.gaps,
                )
            })
            .collect(),
    );
    summary(
        "glbpd_punt_latency_seconds",
        "Worker enqueue to control-lcore dequeue of punted frames, by class.",
        t.punt_latency
            .iter()
            .map(|(c, w)| (format!("class=\"{}\"", label(c)), w))
            .collect(),
    );
    summary(
        "glbpd_control_loop_seconds",
        "One round of the control loop (work, not idle sleep).",
        vec![(String::new(), &t.control_loop)],
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::dataplane::counters::DropReason;
    use crate::runtime::ops::status::{Forwarder, Group};

    #[test]
    fn prometheus_reads_the_typed_document() {
        let mut st = Status::default();
        st.stats.total.rx_packets.insert("lan0".into(), 12);
        st.stats.total.drops[DropReason::NotForUs] = 3;
        st.groups.push(Group {
            port: "lan0".into(),
            group: 5,
            state: "Active".into(),
            forwarders: vec![Forwarder {
                number: 1,
                clients: 4,
                ..Forwarder::default()
            }],
            ..Group::default()
        });
        let text = prometheus_text(&st);
        for line in [
            "glbpd_rx_packets_total{port=\"lan0\"} 12\n",
            "glbpd_drops_total{reason=\"not_for_us\"} 3\n",
            "glbpd_drops_total{reason=\"malformed\"} 0\n",
            "glbpd_group_avg{port=\"lan0\",vlan=\"0\",group=\"5\"} 1\n",
            "glbpd_forwarder_clients_total{port=\"lan0\",vlan=\"0\",group=\"5\",forwarder=\"1\"} 4\n",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }

    #[test]
    fn telemetry_replies_nest_one_level_with_flattened_names() {
        use telemetry::{Entry, Reply, Scalar};
        let v = serde_json::json!({
            "state": "Active",
            "group": 5,
            "delta": -3,
            "ok": true,
            "active_router": {"ip": "10.0.0.3", "expires_in_ms": null},
            "forwarders": [{"number": 1}, {"number": 2}],
        });
        let Reply::Dict(d) = tel_reply(&v) else {
            panic!("not a dict")
        };
        let get = |k: &str| d.iter().find(|(n, _)| n == k).map(|(_, e)| e.clone());
        assert_eq!(
            get("state"),
            Some(Entry::Scalar(Scalar::Str("Active".into())))
        );
        assert_eq!(get("group"), Some(Entry::Scalar(Scalar::U64(5))));
        assert_eq!(get("delta"), Some(Entry::Scalar(Scalar::Int(-3))));
        assert_eq!(get("ok"), Some(Entry::Scalar(Scalar::Str("true".into()))));
        assert_eq!(
            get("active_router"),
            Some(Entry::Dict(vec![
                ("expires_in_ms".into(), Scalar::Str("null".into())),
                ("ip".into(), Scalar::Str("10.0.0.3".into())),
            ]))
        );
        assert_eq!(
            get("forwarders"),
            Some(Entry::Dict(vec![
                ("0/number".into(), Scalar::U64(1)),
                ("1/number".into(), Scalar::U64(2)),
            ]))
        );
        assert_eq!(tel_reply(&Value::from("x")), Reply::Text("\"x\"".into()));
    }
}
