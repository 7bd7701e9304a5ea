//! `scenario run FILE`: a scenario file (format in docs/scenarios.md) run step by step.
//!
//! On the sim, `ferrofilter_sim::scenario::run_file` runs every step on the sim's Filter Manager
//! and gives one record per step; `--json` prints them one per line. On the device no step is
//! performed in this build: each is reported as skipped, with the reason (see
//! [`device_skip_reason`]); nothing is dropped and nothing is faked.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use ferrofilter_sim::scenario::{self, ScenarioError, StepRecord};
use serde::Serialize;
use serde_json::Value;

use crate::backend::BackendKind;
use crate::error::CliError;
use crate::exit::Outcome;
use crate::output;

/// `scenario run FILE`.
///
/// # Errors
/// [`CliError::Usage`] for a missing, unreadable or malformed file (naming the step and field).
pub fn run(
    kind: BackendKind,
    file: &Path,
    json: bool,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    match kind {
        BackendKind::Sim => run_sim(file, json, out),
        BackendKind::Device => run_device(file, json, out),
    }
}

fn usage(file: &Path, error: &ScenarioError) -> CliError {
    CliError::Usage(format!("{}: {error}", file.display()))
}

fn run_sim(file: &Path, json: bool, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let records = scenario::run_file(file).map_err(|error| usage(file, &error))?;
    for record in &records {
        if json {
            output::json(out, &record.to_json())?;
        } else {
            writeln!(out, "{}", line(record))?;
        }
    }
    let verdict = scenario::check(&records);
    if !json {
        match &verdict {
            Ok(()) => writeln!(out, "{} step(s): passed", records.len())?,
            Err(failures) => write!(out, "FAILED\n{failures}")?,
        }
    }
    Ok(if verdict.is_ok() {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}

fn line(record: &StepRecord) -> String {
    let mut text = format!(
        "{:>3} {:<28} {} {}",
        record.step,
        record.op,
        record.status,
        record.status_name.as_deref().unwrap_or("")
    );
    for (key, value) in &record.observed {
        let _ = write!(text, " {key}={value}");
    }
    text
}

/// One step the device did not perform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SkippedStep {
    /// Index in `steps`.
    pub step: usize,
    /// The operation.
    pub op: String,
    /// Always `true`.
    pub skipped: bool,
    /// Why.
    pub reason: String,
}

/// Why the device backend skips `op`.
#[must_use]
pub fn device_skip_reason(op: &str) -> String {
    match op {
        "fsctl_set_purge_failure_mode" | "begin_data_scan" | "end_data_scan" => {
            "needs a kernel-mode caller (Filter Manager's data-scan section); only the sim can \
             drive it"
                .to_owned()
        }
        "expect" => {
            "checks the previous step's record, which the device did not produce".to_owned()
        }
        "detach" => "would detach the filter from the volume; not done from ferroctl".to_owned(),
        _ => format!(
            "the device backend does not perform `{op}` steps in this build; run the scenario \
             with --sim"
        ),
    }
}

fn run_device(file: &Path, json: bool, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let text = std::fs::read_to_string(file)
        .map_err(|error| CliError::Usage(format!("{}: cannot read: {error}", file.display())))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|error| CliError::Usage(format!("{}: not valid JSON: {error}", file.display())))?;
    let steps = value
        .get("steps")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            CliError::Usage(format!(
                "{}: not a scenario: the top level needs a `steps` array",
                file.display()
            ))
        })?;
    let mut skipped = Vec::with_capacity(steps.len());
    for (index, step) in steps.iter().enumerate() {
        let op = step.get("op").and_then(Value::as_str).ok_or_else(|| {
            CliError::Usage(format!(
                "{}: step {index}, field `op`: missing or not a string",
                file.display()
            ))
        })?;
        skipped.push(SkippedStep {
            step: index,
            op: op.to_owned(),
            skipped: true,
            reason: device_skip_reason(op),
        });
    }
    for step in &skipped {
        if json {
            output::json(out, step)?;
        } else {
            writeln!(
                out,
                "{:>3} {:<28} skipped: {}",
                step.step, step.op, step.reason
            )?;
        }
    }
    if !json {
        writeln!(
            out,
            "0 of {} step(s) performed on the device, {} skipped",
            skipped.len(),
            skipped.len()
        )?;
    }
    // Nothing was checked, so this is not a pass.
    Ok(Outcome::Failed)
}
