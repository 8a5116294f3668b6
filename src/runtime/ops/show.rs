//! Client side of operations: `glbpd show` and `glbpd reload` against a
//! running instance, found by its DPDK file prefix (a plain name). `show`
//! reads the status document the instance keeps in its runtime folder (the
//! same data its DPDK telemetry commands return) once it has checked that
//! an instance holds that folder's lock; `reload` asks the instance itself
//! through its telemetry socket.

use std::path::PathBuf;
use std::time::Duration;

use crate::runtime::control::timing::{Summary, TimingReport, Window};
use crate::runtime::instance::{self, TELEMETRY_SOCKET};
use crate::runtime::ops::status::{NeighborTables, Status};
use crate::runtime::ops::{NEIGHBORS_FILE, STATUS_FILE};

fn parse_prefix(s: &str) -> Result<String, String> {
    crate::config::check_prefix(s).map(|()| s.to_string())
}

/// Which running instance.
#[derive(clap::Args, Debug, Clone)]
pub struct Target {
    /// DPDK file prefix of the instance (`eal.file_prefix`): 1..=64 of
    /// [A-Za-z0-9_-].
    #[arg(long, default_value = "glbpd", conflicts_with = "config", value_parser = parse_prefix)]
    pub prefix: String,
    /// Take the prefix from this configuration file.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `glbpd show`.
#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    /// `brief` (one line per group and forwarder), `detail` (as `show
    /// glbp`), `stats` (counters), or `neighbors` (the ARP and IPv6
    /// neighbour tables, as `show ip arp` and `show ipv6 neighbors`).
    #[arg(value_enum, default_value_t = View::Detail)]
    pub view: View,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub target: Target,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Brief,
    Detail,
    Stats,
    /// The ARP and IPv6 neighbour tables.
    Neighbors,
}

impl Target {
    fn prefix(&self) -> Result<String, String> {
        match &self.config {
            Some(p) => crate::config::Config::load_for(p, crate::config::Host::Any)
                .map(|c| c.eal.file_prefix)
                .map_err(|e| e.to_string()),
            None => parse_prefix(&self.prefix),
        }
    }

    /// The prefix and runtime folder of a running instance: one that holds
    /// the folder's lock.
    fn running(&self) -> Result<(String, PathBuf), String> {
        let prefix = self.prefix()?;
        let dir = instance::runtime_dir(&prefix)?;
        if !instance::is_held(&prefix)? {
            return Err(format!(
                "no running glbpd with prefix {prefix:?} (nothing holds {})",
                dir.join(instance::LOCK_FILE).display()
            ));
        }
        Ok((prefix, dir))
    }

    /// Reads the instance's current status.
    pub fn status(&self) -> Result<Status, String> {
        let (prefix, dir) = self.running()?;
        let path = dir.join(STATUS_FILE);
        let text = std::fs::read(&path).map_err(|e| {
            format!(
                "glbpd with prefix {prefix:?} has no status yet ({}: {e})",
                path.display()
            )
        })?;
        serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// `s` with every control character but the newline escaped (`\x1b`),
/// so that a status document cannot drive the terminal.
pub fn escape_controls(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() && c != '\n' {
            let n = u32::from(c);
            if n <= 0xff {
                o.push_str(&format!("\\x{n:02x}"));
            } else {
                o.push_str(&format!("\\u{{{n:x}}}"));
            }
        } else {
            o.push(c);
        }
    }
    o
}

fn cisco_mac(s: &str) -> String {
    s.parse()
        .map_or_else(|_| s.to_string(), crate::protocol::cisco_mac)
}

/// `-` for a missing value, as IOS prints it.
fn or_dash<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

/// `show glbp brief`.
pub fn render_brief(st: &Status) -> String {
    let rows: Vec<[String; 8]> = st
        .brief
        .iter()
        .map(|r| {
            let (pri, addr) = match r.fwd {
                None => (r.priority.to_string(), or_dash(r.address.as_ref())),
                Some(_) => ("-".into(), cisco_mac(&or_dash(r.address.as_ref()))),
            };
            [
                r.interface.clone(),
                r.group.to_string(),
                or_dash(r.fwd),
                pri,
                r.state.to_string(),
                addr,
                r.active_router.clone(),
                r.standby_router.clone(),
            ]
        })
        .collect();
    // IOS's widths; wider where an IPv6 address needs it.
    let mut w = [11, 4, 3, 3, 8, 15, 15, 15];
    for row in &rows {
        for (w, cell) in w.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: [&str; 8]| {
        let mut l: String = cells
            .iter()
            .zip(w)
            .map(|(c, w)| format!("{c:<w$} "))
            .collect();
        l.truncate(l.trim_end().len());
        l + "\n"
    };
    let mut o = line([
        "Interface",
        "Grp",
        "Fwd",
        "Pri",
        "State",
        "Address",
        "Active router",
        "Standby router",
    ]);
    for r in &rows {
        o.push_str(&line([
            &r[0], &r[1], &r[2], &r[3], &r[4], &r[5], &r[6], &r[7],
        ]));
    }
    o
}

/// `show glbp`: the text each group's engine rendered in the IOS layout.
pub fn render_detail(st: &Status) -> String {
    let mut o: String = st.groups.iter().map(|g| g.text.as_str()).collect();
    if o.is_empty() {
        o.push_str("No GLBP groups configured.\n");
    }
    o
}

/// Counters as text.
pub fn render_stats(st: &Status) -> String {
    let t = &st.stats.total;
    let mut o = String::new();
    for p in &st.ports {
        let n = &p.name;
        o.push_str(&format!(
            "{n}: rx {} pkts {} bytes, tx {} pkts {} bytes, missed {}, link {}\n",
            or_dash(t.rx_packets.get(n)),
            or_dash(t.rx_bytes.get(n)),
            or_dash(t.tx_packets.get(n)),
            or_dash(t.tx_bytes.get(n)),
            p.stats.imissed,
            if p.link_up == Some(true) {
                "up"
            } else {
                "down"
            },
        ));
    }
    o.push_str(&format!(
        "forwarded {}, ARP replies {}, ND replies {}, punted {}\n",
        t.forwarded, t.arp_replies, t.nd_replies, t.punted
    ));
    // By name, as before the counts were typed.
    let mut drops: Vec<_> = t.drops.iter().map(|(k, v)| (k.name(), v)).collect();
    drops.sort();
    o.push_str("drops:");
    for (k, v) in drops {
        o.push_str(&format!(" {k} {v}"));
    }
    let mut policed: Vec<_> = t.policed.iter().map(|(k, v)| (k.name(), v)).collect();
    policed.sort();
    o.push_str("\npunts policed:");
    for (k, v) in policed {
        o.push_str(&format!(" {k} {v}"));
    }
    o.push('\n');
    for g in &st.groups {
        let c = &g.counters;
        o.push_str(&format!(
            "{} Grp {}: hellos in {} out {}, auth failures {}, malformed {}, state changes {}\n",
            g.port,
            g.group,
            c.hellos_in,
            c.hellos_out,
            c.auth_failures,
            c.malformed,
            c.vg_transitions
        ));
    }
    o.push_str(&render_timing(&st.stats.timing));
    o
}

/// The timing section of `show stats`: microseconds, since start and over
/// the last minute.
pub fn render_timing(t: &TimingReport) -> String {
    fn row(o: &mut String, what: &str, w: &Window) {
        let f = |s: &Summary| {
            format!(
                "{:>8} {:>8} {:>8} {:>8} {:>9}",
                s.p50_us, s.p99_us, s.p999_us, s.max_us, s.count
            )
        };
        o.push_str(&format!(
            "  {what:<34} {}  | {}\n",
            f(&w.since_start),
            f(&w.last_minute)
        ));
    }
    let mut o = format!("{:<37}{:<47}| last minute\n", "timing (us)", "since start");
    o.push_str(&format!(
        "  {:<34} {:>8} {:>8} {:>8} {:>8} {:>9}  | {:>8} {:>8} {:>8} {:>8} {:>9}\n",
        "", "p50", "p99", "p99.9", "max", "count", "p50", "p99", "p99.9", "max", "count"
    ));
    for (port, w) in &t.hello_lateness {
        row(&mut o, &format!("hello lateness {port}"), w);
    }
    for p in &t.hello_arrival {
        row(
            &mut o,
            &format!("hello gaps {} {} ({} ms)", p.port, p.peer, p.hello_ms),
            &p.gaps,
        );
    }
    if t.untracked_peers > 0 {
        o.push_str(&format!(
            "  ({} hellos from peers beyond the tracked ones)\n",
            t.untracked_peers
        ));
    }
    for (class, w) in &t.punt_latency {
        row(&mut o, &format!("punt wait {class}"), w);
    }
    row(&mut o, "control loop round", &t.control_loop);
    o
}

/// Runs `glbpd show`; returns the text to print (control characters of
/// the status document escaped).
pub fn show(args: &ShowArgs) -> Result<String, String> {
    // The neighbour tables are asked for; the other views read the status
    // document.
    let st = || args.target.status();
    let text = match (args.view, args.json) {
        (View::Brief, true) => {
            serde_json::to_string_pretty(&serde_json::json!({"brief": st()?.brief}))
                .unwrap_or_default()
        }
        (View::Detail, true) => {
            serde_json::to_string_pretty(&serde_json::json!({"groups": st()?.groups}))
                .unwrap_or_default()
        }
        (View::Stats, true) => {
            let st = st()?;
            serde_json::to_string_pretty(&serde_json::json!({"stats": st.stats, "ports": st.ports}))
                .unwrap_or_default()
        }
        (View::Neighbors, true) => {
            serde_json::to_string_pretty(&neighbors(&args.target)?).unwrap_or_default()
        }
        (View::Brief, false) => render_brief(&st()?),
        (View::Detail, false) => render_detail(&st()?),
        (View::Stats, false) => render_stats(&st()?),
        (View::Neighbors, false) => render_neighbors(&neighbors(&args.target)?),
    };
    // serde_json escapes control characters already; the text views
    // print strings from the document as they are.
    Ok(escape_controls(&text))
}

/// How long `glbpd reload` waits for the instance's verdict: the
/// instance's own wait plus slack.
pub const RELOAD_CLIENT_WAIT: Duration =
    Duration::from_secs(crate::runtime::ops::RELOAD_WAIT.as_secs() + 4);

/// Runs `glbpd reload`: asks the instance that holds the prefix's lock,
/// through its telemetry socket (`/glbp/reload`), and waits for its
/// verdict. Ok(message) when applied, Err(message) when refused.
pub fn reload(target: &Target) -> Result<String, String> {
    verdict(&ask(target, "/glbp/reload", RELOAD_CLIENT_WAIT)?.0)
}

/// An `{"ok": bool, "message": text}` answer: Ok(message) when ok,
/// Err(message) otherwise.
fn verdict(v: &serde_json::Value) -> Result<String, String> {
    let msg = crate::runtime::ops::telemetry_client::joined_text(&v["message"]);
    if v["ok"] == true || v["ok"] == "true" {
        Ok(msg)
    } else {
        Err(msg)
    }
}

/// Sends telemetry command `cmd` to the instance that holds the prefix's
/// lock (through its telemetry socket, waiting up to `wait`) and returns
/// the answer, with the instance's runtime folder.
fn ask(target: &Target, cmd: &str, wait: Duration) -> Result<(serde_json::Value, PathBuf), String> {
    let (prefix, dir) = target.running()?;
    let socket = dir.join(TELEMETRY_SOCKET);
    let tel = crate::runtime::ops::telemetry_client::Telemetry::connect(&socket, wait)?;
    let holder = instance::holder_pid(&prefix);
    if tel.pid.is_none() || tel.pid != holder {
        return Err(format!(
            "{} is served by pid {:?}, not by the glbpd holding the prefix's lock (pid {:?})",
            socket.display(),
            tel.pid,
            holder
        ));
    }
    let v = tel.query(cmd)?;
    if v.is_null() {
        return Err(format!(
            "the process with prefix {prefix:?} does not know {cmd}: not a glbpd?"
        ));
    }
    Ok((v, dir))
}

/// `glbpd show neighbors`: asks the instance to write its neighbour tables
/// (`/glbp/neighbors`), then reads them.
pub fn neighbors(target: &Target) -> Result<NeighborTables, String> {
    let wait = crate::runtime::ops::NEIGHBORS_WAIT + Duration::from_secs(2);
    let (v, dir) = ask(target, "/glbp/neighbors", wait)?;
    verdict(&v)?;
    let path = dir.join(NEIGHBORS_FILE);
    let text = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The neighbour tables as text, one section per family (as IOS `show ip
/// arp` and `show ipv6 neighbors` list them).
pub fn render_neighbors(t: &NeighborTables) -> String {
    let mut o = String::new();
    for (family, rows) in [("IPv4", &t.ipv4), ("IPv6", &t.ipv6)] {
        o += &format!("{family} neighbors: {}\n", rows.len());
        if rows.is_empty() {
            continue;
        }
        o += &format!(
            "  {:<12} {:<40} {:<15} {:<11} {}\n",
            "Interface", "Address", "Hardware Addr", "State", "Next probe"
        );
        for n in rows {
            let mac = n.mac.as_deref().map_or("-".to_string(), cisco_mac);
            let next = n
                .next_probe_in_ms
                .map_or("-".to_string(), |ms| format!("{:.1} s", ms as f64 / 1000.0));
            o += &format!(
                "  {:<12} {:<40} {:<15} {:<11} {}\n",
                n.interface, n.ip, mac, n.state, next
            );
        }
    }
    o
}
