//! `ferroctl stress`: the seeded race run, with a progress bar when stderr is a terminal.

use std::io::{IsTerminal, Write};

use ferrofilter_sim::stress::{self, StressConfig, StressReport};
use indicatif::{ProgressBar, ProgressStyle};

use crate::backend::{self, BackendKind};
use crate::cli::StressArgs;
use crate::commands::stress_backend::{self, Mix};
use crate::error::CliError;
use crate::exit::Outcome;

/// Runs the stress scenario on the sim and prints the report; the outcome is `Ok` only if the run
/// was clean.
///
/// # Errors
/// When writing the report fails.
pub fn run_sim(
    config: StressConfig,
    json: bool,
    out: &mut impl Write,
) -> Result<Outcome, crate::error::CliError> {
    let bar = progress_bar(config.requests);
    let result = stress::run(config, |done| bar.set_position(done));
    bar.finish_and_clear();
    let report = match result {
        Ok(report) => report,
        Err(status) => {
            writeln!(out, "stress: the sim driver could not start: {status:?}")?;
            return Ok(Outcome::Failed);
        }
    };
    print_report(&report, json, out)?;
    Ok(if report.clean() {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}

fn progress_bar(total: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{elapsed_precise} [{wide_bar}] {pos}/{len} forwarded ({per_sec})",
    ) {
        bar.set_style(style);
    }
    bar
}

/// Prints a report as one JSON object, or as a table.
///
/// # Errors
/// When writing fails.
pub fn print_report(
    report: &StressReport,
    json: bool,
    out: &mut impl Write,
) -> Result<(), crate::error::CliError> {
    if json {
        return crate::output::json(out, report);
    }
    for (name, value) in crate::output::field_rows(report) {
        writeln!(out, "{name:<20} {value}")?;
    }
    for violation in &report.first_violations {
        writeln!(out, "violation: {violation}")?;
    }
    writeln!(
        out,
        "{}",
        if report.clean() { "clean" } else { "NOT CLEAN" }
    )?;
    Ok(())
}

/// Runs the same seeded mix against the real driver: every handle with its own pipe target
/// (unverified here: never run on Windows). Prints the sim report's fields; those user mode
/// cannot observe are `null`.
///
/// # Errors
/// [`CliError::Usage`] for `--faults` (the sim injects faults, the device cannot), or when the
/// device cannot be reached.
pub fn run_device(
    args: &StressArgs,
    json: bool,
    out: &mut impl Write,
) -> Result<Outcome, CliError> {
    if args.faults {
        return Err(CliError::Usage(
            "--faults injects faults into the sim's framework; the device has none to inject \
             (use --sim)"
                .to_owned(),
        ));
    }
    let mix = Mix {
        requests: args.requests,
        seed: args.seed,
        cancel_ratio: args.cancel_ratio,
        owners: args.owners,
    };
    let bar = progress_bar(args.requests);
    let mut open = |_: u32| backend::open(BackendKind::Device);
    let result = stress_backend::run(mix, &mut open, |done| bar.set_position(done));
    bar.finish_and_clear();
    let report = result?;
    if json {
        crate::output::json(out, &report)?;
    } else {
        let value = serde_json::to_value(&report)?;
        if let Some(map) = value.as_object() {
            let rows: Vec<(&str, String)> = map
                .iter()
                .map(|(k, v)| (k.as_str(), v.to_string()))
                .collect();
            crate::output::pairs(out, &rows)?;
        }
        writeln!(
            out,
            "{}",
            if report.clean() { "clean" } else { "NOT CLEAN" }
        )?;
    }
    Ok(if report.clean() {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}
