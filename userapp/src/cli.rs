//! The command line: parsing and dispatch.

use std::io::Write;

use clap::{Args, Parser, Subcommand};
use ferrofilter_sim::stress::StressConfig;

use crate::exit::Outcome;

const EXAMPLES: &str = "\
Examples:
  ferroctl --sim stress --requests 1000000 --seed 7 --json
  ferroctl --sim stress --requests 100000 --seed 3 --cancel-ratio 0.5 --faults";

/// Drive and inspect the ferrofilter driver, on the real device or on the sim.
#[derive(Debug, Parser)]
#[command(name = "ferroctl", version, about, after_help = EXAMPLES)]
pub struct Cli {
    /// Run against the driver logic in-process on the sim (the default off Windows).
    #[arg(long, global = true)]
    pub sim: bool,

    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Forward many requests with random completions, cancels, group cancels and owner closes,
    /// then account for every one. Exits 0 only if nothing leaked, nothing completed twice and
    /// the verifier saw nothing.
    Stress(StressArgs),
}

/// Arguments of `stress`.
#[derive(Debug, Args)]
pub struct StressArgs {
    /// Requests to forward.
    #[arg(long, default_value_t = 100_000)]
    pub requests: u64,
    /// Seed; the same seed replays the same run.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Share of actions that cancel, 0.0-1.0.
    #[arg(long, default_value_t = 0.2, value_parser = parse_ratio)]
    pub cancel_ratio: f64,
    /// Inject send failures, allocation failures and target stop/removal.
    #[arg(long)]
    pub faults: bool,
    /// Control-device handles open at a time (1-256).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub owners: u32,
}

fn parse_ratio(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{value} is outside 0.0-1.0"))
    }
}

/// Runs a parsed command line, writing to `out`.
///
/// # Errors
/// When writing to `out` fails.
pub fn run(cli: &Cli, out: &mut impl Write) -> std::io::Result<Outcome> {
    match &cli.command {
        Command::Stress(args) => {
            let config = StressConfig {
                requests: args.requests,
                seed: args.seed,
                cancel_ratio: args.cancel_ratio,
                faults: args.faults,
                owners: args.owners,
                ..StressConfig::default()
            };
            crate::stress::run_sim(config, cli.json, out)
        }
    }
}
