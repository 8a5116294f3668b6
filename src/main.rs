//! The `glbpd` command: run the router, check a config, and tools.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use glbpd::config::{Config, Host};
use glbpd::runtime::instance::{InstanceLock, LockError};
use glbpd::runtime::ops::show::escape_controls;

const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (git ",
    env!("GLBPD_GIT_REV"),
    ", built against DPDK ",
    env!("GLBPD_DPDK_VERSION"),
    ")"
);

/// glbpd: a Gateway Load Balancing Protocol (GLBP) router on DPDK.
#[derive(Parser)]
#[command(name = "glbpd", version = VERSION, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Start the router with a configuration file.
    Run {
        /// TOML configuration file.
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Validate a configuration file without starting DPDK.
    Check {
        /// TOML configuration file.
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        /// Skip the checks that depend on this machine (the CPUs of
        /// `eal.lcores`): for a configuration meant for another host.
        #[arg(long)]
        portable: bool,
    },
    /// Print the GLBP packets of a pcap/pcapng file like IOS `debug glbp`.
    Decode(glbpd::decode::DecodeArgs),
    /// Show the groups and counters of a running instance (`show glbp`).
    Show(glbpd::runtime::ops::show::ShowArgs),
    /// Make a running instance re-read its configuration (as SIGHUP does),
    /// through its telemetry socket, and print the verdict.
    Reload(glbpd::runtime::ops::show::Target),
    /// Simulate a LAN of GLBP routers and hosts in virtual time and check
    /// the protocol's invariants.
    Sim(glbpd::sim::SimArgs),
}

/// Exit status for an invalid configuration or command line.
const EXIT_INVALID: u8 = 2;

fn init_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp_millis()
        .init();
}

fn load(path: &std::path::Path, host: Host) -> Result<Config, ExitCode> {
    Config::load_for(path, host).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_INVALID)
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match cli.cmd {
        Cmd::Sim(args) => {
            let rc = glbpd::sim::run(&args, &mut std::io::stdout().lock());
            ExitCode::from(u8::try_from(rc).unwrap_or(1))
        }
        Cmd::Show(args) => match glbpd::runtime::ops::show::show(&args) {
            Ok(text) => {
                print!("{text}");
                if !text.ends_with('\n') {
                    println!();
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {}", escape_controls(&e));
                ExitCode::FAILURE
            }
        },
        Cmd::Reload(target) => match glbpd::runtime::ops::show::reload(&target) {
            Ok(msg) => {
                println!("reloaded: {}", escape_controls(&msg));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("reload refused: {}", escape_controls(&e));
                ExitCode::FAILURE
            }
        },
        Cmd::Decode(args) => match glbpd::decode::run(&args, &mut std::io::stdout().lock()) {
            Ok(s) => {
                eprintln!(
                    "{} frames, {} GLBP messages, {} bad GLBP frames",
                    s.frames, s.glbp, s.errors
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("glbpd decode: {}: {e}", args.file.display());
                ExitCode::FAILURE
            }
        },
        Cmd::Check { config, portable } => {
            match load(&config, if portable { Host::Any } else { Host::This }) {
                Ok(cfg) => {
                    println!(
                        "{}: ok ({} port(s), {} group(s), {} route(s))",
                        config.display(),
                        cfg.ports.len(),
                        cfg.groups.len(),
                        cfg.routes.len()
                    );
                    ExitCode::SUCCESS
                }
                Err(code) => code,
            }
        }
        Cmd::Run { config } => {
            let cfg = match load(&config, Host::This) {
                Ok(c) => c,
                Err(code) => return code,
            };
            // One instance per prefix: taken before EAL starts, held until
            // the end; a second instance touches nothing.
            let lock = match InstanceLock::acquire(&cfg.eal.file_prefix) {
                Ok(l) => l,
                Err(e @ LockError::Busy { .. }) => {
                    eprintln!(
                        "error: {}: eal.file_prefix {:?}: {e}",
                        config.display(),
                        cfg.eal.file_prefix
                    );
                    return ExitCode::from(EXIT_INVALID);
                }
                Err(e) => {
                    eprintln!("error: eal.file_prefix {:?}: {e}", cfg.eal.file_prefix);
                    return ExitCode::FAILURE;
                }
            };
            let signals = glbpd::runtime::Signals::default();
            for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
                // A second signal while stopping exits at once.
                let installed =
                    signal_hook::flag::register_conditional_shutdown(sig, 1, signals.stop.clone())
                        .and_then(|_| signal_hook::flag::register(sig, signals.stop.clone()));
                if let Err(e) = installed {
                    eprintln!("error: cannot install signal handler: {e}");
                    return ExitCode::FAILURE;
                }
            }
            if let Err(e) =
                signal_hook::flag::register(signal_hook::consts::SIGHUP, signals.reload.clone())
            {
                eprintln!("error: cannot install signal handler: {e}");
                return ExitCode::FAILURE;
            }
            match glbpd::runtime::run(&cfg, &config, signals, lock) {
                Ok(counts) => {
                    log::info!(
                        "final counters: {}",
                        serde_json::to_string(&counts).unwrap_or_else(|e| format!("<{e}>"))
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    log::error!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
