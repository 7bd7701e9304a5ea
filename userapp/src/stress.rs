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
pub fn run_sim(config: StressConfig, json: bool, out: &mut impl Write) -> std::io::Result<Outcome> {
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
) -> std::io::Result<()> {
    if json {
        let text = serde_json::to_string(report).map_err(std::io::Error::other)?;
        return writeln!(out, "{text}");
    }
    let rows: [(&str, String); 16] = [
        ("seed", report.seed.to_string()),
        ("requests", report.requests.to_string()),
        ("completed", report.completed.to_string()),
        ("cancelled", report.cancelled.to_string()),
        ("failed", report.failed.to_string()),
        ("send_failures", report.send_failures.to_string()),
        ("refused", report.refused.to_string()),
        ("single_cancels", report.single_cancels.to_string()),
        ("group_cancels", report.group_cancels.to_string()),
        ("owner_closes", report.owner_closes.to_string()),
        ("peak_outstanding", report.peak_outstanding.to_string()),
        ("leaked", report.leaked.to_string()),
        ("double_completions", report.double_completions.to_string()),
        (
            "verifier_violations",
            report.verifier_violations.to_string(),
        ),
        ("accounted", report.accounted.to_string()),
        ("elapsed_ms", report.elapsed_ms.to_string()),
    ];
    for (name, value) in rows {
        writeln!(out, "{name:<20} {value}")?;
    }
    for violation in &report.first_violations {
        writeln!(out, "violation: {violation}")?;
    }
    writeln!(
        out,
        "{}",
        if report.clean() { "clean" } else { "NOT CLEAN" }
    )
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
