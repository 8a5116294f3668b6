//! `glbpd sim`: command-line front end of the simulator.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Instant;

use super::faults::{parse_duration, parse_script};
use super::world::{simulate, FaultMode, Report, SimConfig};
use crate::protocol::{LoadBalancing, Millis};

/// Load-balancing method as a CLI value.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LbArg {
    /// Round-robin.
    RoundRobin,
    /// Weighted.
    Weighted,
    /// Host-dependent.
    HostDependent,
}

/// Arguments of `glbpd sim`.
#[derive(clap::Args, Debug, Clone)]
pub struct SimArgs {
    /// Number of routers.
    #[arg(long, default_value_t = 4)]
    pub routers: usize,
    /// Number of hosts.
    #[arg(long, default_value_t = 200)]
    pub hosts: usize,
    /// Simulated time per seed (e.g. 2h, 90m, 30s).
    #[arg(long, default_value = "1h")]
    pub duration: String,
    /// Seed of the run.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Sweep seeds instead: `A..B` (B excluded) or `A..=B`.
    #[arg(long)]
    pub seeds: Option<String>,
    /// `random`, `none` or a TOML fault script.
    #[arg(long, default_value = "random")]
    pub faults: String,
    /// Hello time, ms.
    #[arg(long, default_value_t = 3000)]
    pub hello_ms: u32,
    /// Hold time, ms.
    #[arg(long, default_value_t = 10_000)]
    pub hold_ms: u32,
    /// Redirect, s.
    #[arg(long, default_value_t = 600)]
    pub redirect_s: u16,
    /// Forwarder timeout, s.
    #[arg(long, default_value_t = 14_400)]
    pub timeout_s: u16,
    /// Load-balancing method.
    #[arg(long, value_enum, default_value = "round-robin")]
    pub load_balancing: LbArg,
    /// Priority per router, e.g. 110,105,100 (missing: 100).
    #[arg(long, value_delimiter = ',')]
    pub priorities: Vec<u8>,
    /// Weighting per router, e.g. 100,50,100 (missing: 100).
    #[arg(long, value_delimiter = ',')]
    pub weights: Vec<u8>,
    /// Hosts' base_reachable_time, s: entries are re-validated by unicast
    /// after this × [0.5, 1.5] plus the first-probe delay (Linux: 30 s).
    #[arg(long, default_value_t = 30)]
    pub host_base_reachable_s: u64,
    /// Hosts' delay_first_probe_time, ms (Linux: 5000).
    #[arg(long, default_value_t = 5000)]
    pub host_delay_first_probe_ms: u64,
    /// Hosts' ucast_solicit: unicast probes before an entry fails (Linux: 3).
    #[arg(long, default_value_t = 3)]
    pub host_ucast_solicit: u8,
    /// Hosts' retrans_time, ms (Linux: 1000).
    #[arg(long, default_value_t = 1000)]
    pub host_retrans_ms: u64,
    /// Maximum LAN delay, ms (uniform 1..=max).
    #[arg(long, default_value_t = 2)]
    pub max_delay_ms: u64,
    /// Hello jitter, percent early.
    #[arg(long, default_value_t = 20)]
    pub jitter_pct: u8,
    /// Events kept in each violation's trace.
    #[arg(long, default_value_t = 40)]
    pub trace_len: usize,
    /// Parallel runs when sweeping seeds.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Also print `show glbp` of every live router at the end (single run).
    #[arg(long)]
    pub show: bool,
}

fn lb(a: LbArg) -> LoadBalancing {
    match a {
        LbArg::RoundRobin => LoadBalancing::RoundRobin,
        LbArg::Weighted => LoadBalancing::Weighted,
        LbArg::HostDependent => LoadBalancing::HostDependent,
    }
}

fn parse_seeds(s: &str) -> Result<std::ops::Range<u64>, String> {
    let bad = || format!("--seeds {s:?}: expected A..B or A..=B");
    let (a, b, incl) = match s.split_once("..=") {
        Some((a, b)) => (a, b, true),
        None => s
            .split_once("..")
            .map(|(a, b)| (a, b, false))
            .ok_or_else(bad)?,
    };
    let a: u64 = a.trim().parse().map_err(|_| bad())?;
    let b: u64 = b.trim().parse().map_err(|_| bad())?;
    let b = if incl {
        b.checked_add(1).ok_or_else(bad)?
    } else {
        b
    };
    if b <= a {
        return Err(bad());
    }
    Ok(a..b)
}

fn config(args: &SimArgs) -> Result<SimConfig, String> {
    let faults = match args.faults.as_str() {
        "random" => FaultMode::Random,
        "none" => FaultMode::None,
        path => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("--faults {path}: {e}"))?;
            FaultMode::Script(
                parse_script(&text, args.routers).map_err(|e| format!("{path}: {e}"))?,
            )
        }
    };
    let cfg = SimConfig {
        routers: args.routers,
        hosts: args.hosts,
        duration_ms: parse_duration(&args.duration).map_err(|e| format!("--duration: {e}"))?,
        seed: args.seed,
        faults,
        hello_ms: args.hello_ms,
        hold_ms: args.hold_ms,
        redirect_s: args.redirect_s,
        timeout_s: args.timeout_s,
        load_balancing: lb(args.load_balancing),
        priorities: args.priorities.clone(),
        weights: args.weights.clone(),
        host_base_reachable_ms: args.host_base_reachable_s.saturating_mul(1000),
        host_delay_first_probe_ms: args.host_delay_first_probe_ms,
        host_ucast_solicit: args.host_ucast_solicit,
        host_retrans_ms: args.host_retrans_ms,
        jitter_pct: args.jitter_pct,
        max_delay_ms: args.max_delay_ms,
        trace_len: args.trace_len,
    };
    cfg.validate()?;
    Ok(cfg)
}

/// Aggregate of a seed sweep.
#[derive(Debug, Default, serde::Serialize)]
struct Sweep {
    seeds: u64,
    failed_seeds: Vec<u64>,
    violations: Vec<serde_json::Value>,
    max_outage_ms: Millis,
    max_outage_by_cause_ms: BTreeMap<&'static str, Millis>,
    hosts_per_forwarder: Vec<usize>,
    avg_changes: u64,
    gateway_changes: u64,
    revalidations_sent: u64,
    revalidations_answered: u64,
    entries_failed: u64,
    garps: u64,
    faults: BTreeMap<&'static str, u64>,
    events: u64,
    elapsed_ms: u128,
}

impl Sweep {
    fn add(&mut self, r: Report) {
        self.seeds += 1;
        if !r.violations.is_empty() {
            self.failed_seeds.push(r.seed);
        }
        for v in r.violations.into_iter().take(3) {
            if self.violations.len() < 20 {
                let mut j = serde_json::to_value(&v).unwrap_or_default();
                j["seed"] = r.seed.into();
                self.violations.push(j);
            }
        }
        self.max_outage_ms = self.max_outage_ms.max(r.max_outage_ms);
        for (k, v) in r.max_outage_by_cause_ms {
            let m = self.max_outage_by_cause_ms.entry(k).or_insert(0);
            *m = (*m).max(v);
        }
        for (k, v) in r.faults {
            *self.faults.entry(k).or_insert(0) += v;
        }
        self.hosts_per_forwarder = r.hosts_per_forwarder;
        self.avg_changes += r.avg_changes;
        self.gateway_changes += r.gateway_changes;
        self.revalidations_sent += r.revalidations_sent;
        self.revalidations_answered += r.revalidations_answered;
        self.entries_failed += r.entries_failed;
        self.garps += r.garps;
        self.events += r.events;
    }
}

fn print_report(out: &mut dyn Write, cfg: &SimConfig, r: &Report) -> std::io::Result<()> {
    writeln!(
        out,
        "glbp sim: seed {}, {} routers, {} hosts, {} s simulated, hello {} ms, hold {} ms",
        r.seed,
        cfg.routers,
        cfg.hosts,
        cfg.duration_ms / 1000,
        cfg.hello_ms,
        cfg.hold_ms
    )?;
    writeln!(out, "faults: {:?}", r.faults)?;
    writeln!(out, "AVG changes: {}", r.avg_changes)?;
    writeln!(
        out,
        "gateway changes: {} ({:.5} per host per minute); unicast re-validations: {} probes sent, {} cycles answered; entries failed: {}; gratuitous ARPs: {}",
        r.gateway_changes,
        r.gateway_changes_per_host_minute,
        r.revalidations_sent,
        r.revalidations_answered,
        r.entries_failed,
        r.garps
    )?;
    writeln!(
        out,
        "hosts per forwarder: {:?} (after first ARP round: {:?})",
        r.hosts_per_forwarder, r.initial_hosts_per_forwarder
    )?;
    writeln!(
        out,
        "longest host outage: {} ms; by cause: {:?}",
        r.max_outage_ms, r.max_outage_by_cause_ms
    )?;
    let mut worst: Vec<(usize, Millis)> = r
        .max_outage_per_host_ms
        .iter()
        .copied()
        .enumerate()
        .collect();
    worst.sort_by_key(|&(h, ms)| (std::cmp::Reverse(ms), h));
    let worst: Vec<String> = worst
        .iter()
        .take(5)
        .map(|(h, ms)| format!("host {h}: {ms} ms"))
        .collect();
    writeln!(
        out,
        "longest outage per host (worst 5): {}",
        worst.join(", ")
    )?;
    writeln!(
        out,
        "stranded hosts (VMAC unknown to every live router of their partition): {}",
        r.stranded
    )?;
    writeln!(out, "violations: {}", r.violations.len())?;
    for v in &r.violations {
        writeln!(
            out,
            "VIOLATION [{}] at {} ms: {}",
            v.invariant, v.at_ms, v.detail
        )?;
        for t in &v.trace {
            writeln!(out, "    {t}")?;
        }
    }
    Ok(())
}

fn json_line(out: &mut dyn Write, v: &impl serde::Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, v)?;
    writeln!(out)
}

/// Runs `glbpd sim`; returns the exit status: 0 clean, 1 when an invariant
/// was violated, 2 on bad arguments.
pub fn run(args: &SimArgs, out: &mut dyn Write) -> i32 {
    let cfg = match config(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(out, "error: {e}");
            return 2;
        }
    };
    let seeds = match args.seeds.as_deref().map(parse_seeds).transpose() {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(out, "error: {e}");
            return 2;
        }
    };
    let res = match seeds {
        None => {
            let r = simulate(&cfg);
            let bad = !r.violations.is_empty();
            let w = if args.json {
                json_line(out, &r)
            } else {
                print_report(out, &cfg, &r).and_then(|_| {
                    let show = if args.show {
                        r.show.join("\n")
                    } else {
                        String::new()
                    };
                    write!(out, "{show}")
                })
            };
            w.map(|_| bad)
        }
        Some(range) => {
            let sweep = sweep(&cfg, range, args.jobs.max(1));
            let bad = !sweep.failed_seeds.is_empty();
            let w = if args.json {
                json_line(out, &sweep)
            } else {
                writeln!(
                    out,
                    "{} seeds in {} ms: {} failed {:?}\nlongest host outage: {} ms; by cause: {:?}\nfaults: {:?}\nAVG changes: {}\ngateway changes: {}; unicast re-validations: {} probes sent, {} cycles answered; entries failed: {}; gratuitous ARPs: {}\n{}",
                    sweep.seeds,
                    sweep.elapsed_ms,
                    sweep.failed_seeds.len(),
                    sweep.failed_seeds,
                    sweep.max_outage_ms,
                    sweep.max_outage_by_cause_ms,
                    sweep.faults,
                    sweep.avg_changes,
                    sweep.gateway_changes,
                    sweep.revalidations_sent,
                    sweep.revalidations_answered,
                    sweep.entries_failed,
                    sweep.garps,
                    sweep.violations.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("\n")
                )
            };
            w.map(|_| bad)
        }
    };
    match res {
        Ok(true) => 1,
        Ok(false) => 0,
        Err(_) => 2,
    }
}

fn sweep(cfg: &SimConfig, range: std::ops::Range<u64>, jobs: usize) -> Sweep {
    let started = Instant::now();
    let seeds: Vec<u64> = range.collect();
    let chunk = seeds.len().div_ceil(jobs).max(1);
    let reports: Vec<Report> = std::thread::scope(|s| {
        let handles: Vec<_> = seeds
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|&seed| {
                            simulate(&SimConfig {
                                seed,
                                ..cfg.clone()
                            })
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut sweep = Sweep::default();
    for r in reports {
        sweep.add(r);
    }
    sweep.elapsed_ms = started.elapsed().as_millis();
    sweep
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        sim: SimArgs,
    }

    fn run_args(a: &[&str]) -> (i32, String) {
        let cli = Cli::try_parse_from(std::iter::once("sim").chain(a.iter().copied())).unwrap();
        let mut out = Vec::new();
        let code = run(&cli.sim, &mut out);
        (code, String::from_utf8(out).unwrap())
    }

    #[test]
    fn bad_arguments_exit_2() {
        assert_eq!(run_args(&["--duration", "soon"]).0, 2);
        assert_eq!(run_args(&["--seeds", "5..1"]).0, 2);
        assert_eq!(run_args(&["--hold-ms", "100", "--hello-ms", "100"]).0, 2);
        assert_eq!(run_args(&["--faults", "/nonexistent.toml"]).0, 2);
        assert_eq!(
            run_args(&["--redirect-s", "10", "--timeout-s", "60"]).0,
            2,
            "ARP lifetime too long"
        );
        assert_eq!(run_args(&["--priorities", "100,0"]).0, 2);
        assert_eq!(run_args(&["--weights", "255"]).0, 2);
        assert_eq!(parse_seeds("1..=3"), Ok(1..4));
    }

    #[test]
    fn fault_script_from_a_file() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        let toml = "[[fault]]\nat = \"3m\"\nkind = \"crash\"\nrouter = 3\n\
                    [[fault]]\nat = \"5m\"\nkind = \"stop\"\nrouter = 2\n";
        f.write_all(toml.as_bytes()).unwrap();
        let path = f.path().to_str().unwrap();
        let (code, s) = run_args(&["--duration", "8m", "--faults", path, "--json"]);
        assert_eq!(code, 0, "{s}");
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["faults"], serde_json::json!({"crash": 1, "stop": 1}));
        assert_eq!(v["avg_changes"], 3);
        let crash = v["max_outage_by_cause_ms"]["crash"].as_u64().unwrap();
        assert!(crash > 0 && crash <= 13_005, "{crash}");
    }

    #[test]
    fn json_has_the_promised_fields() {
        let (code, s) = run_args(&[
            "--duration",
            "5m",
            "--hosts",
            "20",
            "--faults",
            "none",
            "--json",
        ]);
        assert_eq!(code, 0, "{s}");
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        for k in [
            "violations",
            "max_outage_ms",
            "hosts_per_forwarder",
            "avg_changes",
        ] {
            assert!(v.get(k).is_some(), "{k} missing: {s}");
        }
        assert_eq!(v["hosts_per_forwarder"], serde_json::json!([5, 5, 5, 5]));
    }
}
