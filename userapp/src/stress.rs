//! `ferroctl stress`: the seeded race run, with a progress bar when stderr is a terminal.

use std::io::{IsTerminal, Write};

use ferrofilter_sim::stress::{self, StressConfig, StressReport};
use indicatif::{ProgressBar, ProgressStyle};

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
