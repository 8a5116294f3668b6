use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// glbpd: a userspace GLBP router.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Print the GLBP packets of a pcap/pcapng file like IOS `debug glbp`.
    Decode(glbpd::decode::DecodeArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        None => {
            println!("glbpd {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some(Command::Decode(args)) => {
            match glbpd::decode::run(&args, &mut std::io::stdout().lock()) {
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
            }
        }
    }
}
