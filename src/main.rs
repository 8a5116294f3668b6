use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Simulate a LAN of GLBP routers and hosts and check invariants.
    Sim(glbpd::sim::SimArgs),
}

fn main() {
    match Cli::parse().cmd {
        Some(Cmd::Sim(args)) => {
            std::process::exit(glbpd::sim::run(&args, &mut std::io::stdout().lock()))
        }
        None => println!("glbpd {}", env!("CARGO_PKG_VERSION")),
    }
}
