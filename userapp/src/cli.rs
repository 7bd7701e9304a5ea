//! The command line: parsing and dispatch.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use ferrofilter_sim::stress::StressConfig;

use crate::backend::{self, BackendKind};
use crate::commands::{bench, doctor, inspect, oplock, purge, scenario, status, tracker};
use crate::error::CliError;
use crate::exit::Outcome;

const EXAMPLES: &str = "\
Backends: on Windows ferroctl talks to \\\\.\\FerroFilter; elsewhere, or with --backend sim (--sim
for short), to the driver's own code running in-process on the sim. Exit codes: 0 ok, 1 failed,
2 usage or input error, 3 driver not reachable.

Examples:
  ferroctl --sim forward --count 8 --group-size 4 --cancel-group 1 --complete 2
  ferroctl --sim stress --requests 1000000 --seed 7 --json
  ferroctl --sim oplock demo
  ferroctl --sim inspect notes.txt --length 16
  ferroctl status --json
  ferroctl doctor";

/// Drive and inspect the ferrofilter driver, on the real device or on the sim.
#[derive(Debug, Parser)]
#[command(name = "ferroctl", version, about, after_help = EXAMPLES)]
pub struct Cli {
    /// Where the driver runs: `device` (`\\.\FerroFilter`, Windows) or `sim` (the driver's own
    /// code in-process on the simulated kernel). Default: `device` on Windows, `sim` elsewhere.
    #[arg(long, global = true, value_enum, value_name = "BACKEND")]
    pub backend: Option<BackendKind>,

    /// Shorthand for `--backend sim`.
    #[arg(long, global = true, conflicts_with = "backend")]
    pub sim: bool,

    /// Print JSON instead of a table: one object, or one per line for a stream of steps.
    #[arg(long, global = true)]
    pub json: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Forward requests to a target that keeps them pending, then complete and cancel as asked
    /// and report what finished with which status.
    #[command(after_help = FORWARD_EXAMPLES)]
    Forward(ForwardArgs),
    /// Forward requests, then cancel the ones in the given rows of the driver's list by ID.
    #[command(after_help = CANCEL_EXAMPLES)]
    Cancel(CancelArgs),
    /// Forward requests in cancel-ID groups, then cancel whole groups.
    #[command(after_help = CANCEL_GROUP_EXAMPLES)]
    CancelGroup(CancelGroupArgs),
    /// Show the driver's list of this handle's outstanding requests (after forwarding --count).
    #[command(after_help = LIST_EXAMPLES)]
    List(Setup),
    /// Show the driver's forwarding counters (after forwarding --count).
    #[command(after_help = STATS_EXAMPLES)]
    Stats(Setup),
    /// Forward many requests with random completions, cancels, group cancels and owner closes,
    /// then account for every one. Exits 0 only if nothing leaked, nothing completed twice and
    /// the verifier saw nothing.
    #[command(after_help = STRESS_EXAMPLES)]
    Stress(StressArgs),
    /// Open a file with `CfOpenFileWithOplock` (`oplock open FILE`), then see whether a conflicting
    /// open or a write from another key breaks the oplock; `oplock demo` walks all 16 flag
    /// combinations.
    #[command(after_help = OPLOCK_EXAMPLES)]
    Oplock(OplockArgs),
    /// Purge-failure windows and held operations (`purge status`), or a flush+purge of a file
    /// through the filter (`purge file FILE`).
    #[command(after_help = PURGE_EXAMPLES)]
    Purge(PurgeArgs),
    /// Have the filter read a few bytes of FILE through a handle of this process (`INSPECT`):
    /// the read goes through that handle's own file object, so it carries the handle's oplock
    /// key and breaks nothing the handle holds.
    #[command(after_help = INSPECT_EXAMPLES)]
    Inspect(InspectArgs),
    /// Run scenario files.
    #[command(after_help = SCENARIO_EXAMPLES)]
    Scenario(ScenarioArgs),
    /// IOCTL round trip, forward+complete and forward+cancel throughput; on the sim also the
    /// tracker ratios.
    #[command(after_help = BENCH_EXAMPLES)]
    Bench(BenchArgs),
    /// ferroctl's, the driver's and the protocol's versions, and the altitude.
    #[command(after_help = "Examples:\n  ferroctl version\n  ferroctl --sim version --json")]
    Version,
    /// Is this machine ready for the driver? Each check with pass, fail, unknown or n/a, what was
    /// found and what to do; exits 0 only when every check that applies passed.
    #[command(after_help = DOCTOR_EXAMPLES)]
    Doctor,
    /// Versions, altitude, counters and (on Windows) the filter's instances.
    #[command(after_help = "Examples:\n  ferroctl status\n  ferroctl --sim status --json")]
    Status,
}

const FORWARD_EXAMPLES: &str = "\
Each invocation opens one handle, creates its own target (a named pipe on Windows), forwards,
lists, completes and cancels as asked, then closes the handle: the driver cancels whatever is
left, and the report says what finished how.

Examples:
  ferroctl --sim forward --count 8 --group-size 4
  ferroctl --sim forward --count 8 --group-size 4 --cancel-group 1 --cancel 0 --complete 2
  ferroctl forward --count 4 --hold-ms 500 --json";
const CANCEL_EXAMPLES: &str = "\
Examples:
  ferroctl --sim cancel 0
  ferroctl --sim cancel 1 3 --count 6 --json";
const CANCEL_GROUP_EXAMPLES: &str = "\
Request i is in group i / --group-size; group g's cancel ID is (partial ID << 56) | (g + 1).

Examples:
  ferroctl --sim cancel-group 0
  ferroctl --sim cancel-group 0 2 --count 12 --group-size 4 --json";
const LIST_EXAMPLES: &str = "\
Examples:
  ferroctl --sim list --count 5
  ferroctl --sim list --count 5 --group-size 2 --json";
const STATS_EXAMPLES: &str = "\
On the device the counters are driver-wide; on the sim, those of this invocation's driver.

Examples:
  ferroctl stats
  ferroctl --sim stats --count 8 --complete 3 --json";
const STRESS_EXAMPLES: &str = "\
Examples:
  ferroctl --sim stress --requests 1000000 --seed 7 --json
  ferroctl --sim stress --requests 100000 --seed 3 --cancel-ratio 0.5 --faults";
const OPLOCK_EXAMPLES: &str = "\
Flags: none, exclusive (0x1), write-access (0x2), delete-access (0x4), foreground (0x8), by name
separated by commas or as a number. Any other bit is refused (exit 2).

Examples:
  ferroctl --sim oplock open notes.txt --flags exclusive,write-access
  ferroctl oplock open C:\\data\\notes.txt --flags 0x1 --query-keys --json
  ferroctl --sim oplock demo --json";
const PURGE_EXAMPLES: &str = "\
Examples:
  ferroctl purge status
  ferroctl purge file C:\\data\\big.bin --json";
const INSPECT_EXAMPLES: &str = "\
FILE is opened for reading (the driver checks the handle for FILE_READ_DATA) and named in INSPECT.
A read at or after the end of the file fails with STATUS_END_OF_FILE (exit 1). On the sim, FILE's
bytes up to the end of the range (at most 1 MiB) are first copied onto the sim's volume.

Examples:
  ferroctl inspect C:\\data\\notes.txt --length 32
  ferroctl --sim inspect notes.txt --offset 4096 --length 16 --json";
const SCENARIO_EXAMPLES: &str = "\
Examples:
  ferroctl --sim scenario run tests/scenarios/oplock_keys.json
  ferroctl scenario run tests/scenarios/purge_window.json --json";
const DOCTOR_EXAMPLES: &str = "\
On Windows (run elevated): the build and its KMDF version, elevation, Secure Boot, test signing,
the test certificate in Root and TrustedPublisher, the service, the filter loaded and attached
(fltmc), the control device and its protocol version. On the sim: the driver loaded on the
simulated kernel, its instance, the control device, the protocol version and the verifier; the
Windows-only checks are n/a, each with why.

Examples:
  ferroctl doctor
  ferroctl --sim doctor --json";
const BENCH_EXAMPLES: &str = "\
Examples:
  ferroctl --sim bench
  ferroctl --sim bench --iterations 20000 --json";

/// How a tracker flow sets up before it acts.
#[derive(Debug, Args)]
pub struct Setup {
    /// Requests to forward (0-16384, the driver's table capacity). Default: 8 for forward, cancel and cancel-group, 0 for list
    /// and stats.
    #[arg(long)]
    pub count: Option<usize>,
    /// Requests per cancel-ID group; 0 forwards without cancel IDs.
    #[arg(long, default_value_t = 4)]
    pub group_size: usize,
    /// Have the target complete this many requests with success after listing.
    #[arg(long, default_value_t = 0, value_name = "K")]
    pub complete: usize,
    /// Wait this long for completions before the final listing.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub hold_ms: u64,
}

impl Setup {
    fn plan(&self, default_count: usize) -> tracker::Plan {
        tracker::Plan {
            count: self.count.unwrap_or(default_count),
            group_size: self.group_size,
            complete: self.complete,
            hold_ms: self.hold_ms,
            ..tracker::Plan::default()
        }
    }
}

/// Arguments of `forward`.
#[derive(Debug, Args)]
pub struct ForwardArgs {
    /// The flow's setup.
    #[command(flatten)]
    pub setup: Setup,
    /// Cancel the request in this row of the driver's list, by its ID (repeatable).
    #[arg(long = "cancel", value_name = "ROW")]
    pub cancel: Vec<usize>,
    /// Cancel every request of this group, by its cancel ID (repeatable).
    #[arg(long = "cancel-group", value_name = "GROUP")]
    pub cancel_group: Vec<usize>,
}

/// Arguments of `cancel`.
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// Rows of the driver's list whose requests to cancel.
    #[arg(required = true, value_name = "ROW")]
    pub rows: Vec<usize>,
    /// The flow's setup.
    #[command(flatten)]
    pub setup: Setup,
}

/// Arguments of `cancel-group`.
#[derive(Debug, Args)]
pub struct CancelGroupArgs {
    /// Groups (from 0) to cancel.
    #[arg(required = true, value_name = "GROUP")]
    pub groups: Vec<usize>,
    /// The flow's setup.
    #[command(flatten)]
    pub setup: Setup,
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
    /// Inject send failures, allocation failures and target stop/removal (sim only).
    #[arg(long)]
    pub faults: bool,
    /// Control-device handles open at a time (1-256).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub owners: u32,
}

/// Arguments of `oplock`.
#[derive(Debug, Args)]
pub struct OplockArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: OplockCommand,
}

/// `oplock` subcommands.
#[derive(Debug, Subcommand)]
pub enum OplockCommand {
    /// Open FILE with `CfOpenFileWithOplock` and probe it with a conflicting open and (with
    /// `--write-probe` on the device) a write from another key.
    Open(OplockOpenArgs),
    /// Walk all 16 `CF_OPEN_FILE_FLAGS` combinations and print a table (on the device, on a
    /// scratch file of its own).
    Demo,
}

/// Arguments of `oplock open`.
#[derive(Debug, Args)]
pub struct OplockOpenArgs {
    /// The file to open (must exist).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// `CF_OPEN_FILE_FLAGS`: names separated by commas, or a number.
    #[arg(long, default_value = "none", value_parser = oplock::parse_flags)]
    pub flags: u32,
    /// Also show the oplock keys the driver recorded for the handle (`QUERY_KEYS`).
    #[arg(long)]
    pub query_keys: bool,
    /// On the device, also probe with a write from another key: rewrites the file's first byte
    /// with its own value.
    #[arg(long)]
    pub write_probe: bool,
}

/// Arguments of `purge`.
#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: PurgeCommand,
}

/// `purge` subcommands.
#[derive(Debug, Subcommand)]
pub enum PurgeCommand {
    /// Have the filter flush and purge FILE's cache through a handle of this process
    /// (`PURGE_REQUEST`).
    File {
        /// The file to flush and purge (must exist).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Purge-failure windows open and operations held, per stream (`PURGE_STATUS`).
    Status,
}

/// Arguments of `inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The file to read from (must exist).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Byte offset to read at (at most 2^63 - 1).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=i64::MAX.cast_unsigned()))]
    pub offset: u64,
    /// Bytes to read (1 to the filter's limit, 4096).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=i64::from(ferrofilter_core::minifilter::MAX_INSPECT_LENGTH)))]
    pub length: u32,
}

/// Arguments of `scenario`.
#[derive(Debug, Args)]
pub struct ScenarioArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ScenarioCommand,
}

/// `scenario` subcommands.
#[derive(Debug, Subcommand)]
pub enum ScenarioCommand {
    /// Run a scenario file step by step; with --json one object per step.
    Run {
        /// The scenario file (JSON, see docs/scenarios.md).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

/// Arguments of `bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Operations per measurement (forwards are batched by 64).
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub iterations: u64,
}

/// Why `--cancel-ratio` was refused.
#[derive(Debug, thiserror::Error)]
enum RatioError {
    /// Not a number.
    #[error("`{text}` is not a number")]
    NotANumber {
        /// What was given.
        text: String,
        /// Why it does not parse.
        source: std::num::ParseFloatError,
    },
    /// A number outside 0.0-1.0.
    #[error("{0} is outside 0.0-1.0")]
    OutOfRange(f64),
}

fn parse_ratio(text: &str) -> Result<f64, RatioError> {
    let value: f64 = text.parse().map_err(|source| RatioError::NotANumber {
        text: text.to_owned(),
        source,
    })?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(RatioError::OutOfRange(value))
    }
}

/// Runs a parsed command line, writing to `out`.
///
/// # Errors
/// A [`CliError`] carrying the exit code and the message for stderr.
pub fn run(cli: &Cli, out: &mut impl Write) -> Result<Outcome, CliError> {
    let kind = backend::choose(cli.backend, cli.sim)?;
    let json = cli.json;
    match &cli.command {
        Command::Forward(args) => {
            let plan = tracker::Plan {
                cancel_rows: args.cancel.clone(),
                cancel_groups: args.cancel_group.clone(),
                ..args.setup.plan(8)
            };
            tracker::run(kind, "forward", &plan, tracker::View::Full, json, out)
        }
        Command::Cancel(args) => {
            let plan = tracker::Plan {
                cancel_rows: args.rows.clone(),
                ..args.setup.plan(8)
            };
            tracker::run(kind, "cancel", &plan, tracker::View::Cancels, json, out)
        }
        Command::CancelGroup(args) => {
            let plan = tracker::Plan {
                cancel_groups: args.groups.clone(),
                ..args.setup.plan(8)
            };
            tracker::run(
                kind,
                "cancel-group",
                &plan,
                tracker::View::Cancels,
                json,
                out,
            )
        }
        Command::List(setup) => {
            tracker::run(kind, "list", &setup.plan(0), tracker::View::List, json, out)
        }
        Command::Stats(setup) => tracker::run(
            kind,
            "stats",
            &setup.plan(0),
            tracker::View::Stats,
            json,
            out,
        ),
        Command::Stress(args) => run_stress(kind, args, json, out),
        Command::Oplock(args) => match &args.command {
            OplockCommand::Demo => oplock::run_demo(kind, json, out),
            OplockCommand::Open(open) => oplock::run_one(
                kind,
                &open.file,
                open.flags,
                open.query_keys,
                open.write_probe,
                json,
                out,
            ),
        },
        Command::Purge(args) => match &args.command {
            PurgeCommand::Status => purge::run_status(kind, json, out),
            PurgeCommand::File { file } => purge::run_file(kind, file, json, out),
        },
        Command::Inspect(args) => {
            inspect::run(kind, &args.file, args.offset, args.length, json, out)
        }
        Command::Scenario(args) => match &args.command {
            ScenarioCommand::Run { file } => scenario::run(kind, file, json, out),
        },
        Command::Bench(args) => bench::run(kind, args.iterations, json, out),
        Command::Version => status::run_version(kind, json, out),
        Command::Doctor => doctor::run(kind, json, out),
        Command::Status => status::run_status(kind, json, out),
    }
}

fn run_stress(
    kind: BackendKind,
    args: &StressArgs,
    json: bool,
    out: &mut impl Write,
) -> Result<Outcome, CliError> {
    match kind {
        BackendKind::Sim => {
            let config = StressConfig {
                requests: args.requests,
                seed: args.seed,
                cancel_ratio: args.cancel_ratio,
                faults: args.faults,
                owners: args.owners,
                ..StressConfig::default()
            };
            Ok(crate::stress::run_sim(config, json, out)?)
        }
        BackendKind::Device => crate::stress::run_device(args, json, out),
    }
}
