//! `scenario run FILE`: a scenario file (format in docs/scenarios.md) run step by step.
//!
//! [`run_records`] is the library API the CLI and the end-to-end tests share: it runs a file on
//! a backend and returns every step's outcome plus the verdict.
//!
//! - On the sim, `ferrofilter_sim::scenario::run_str` runs every step on the sim's Filter
//!   Manager and gives one record per step.
//! - On the device (Windows, **unverified here**), the steps user mode can perform are performed
//!   in order in a fresh temporary directory ([`device`] decides which, the Windows code performs
//!   them), and every other step is reported as skipped with the reason. An `expect` compares only
//!   the fields the device step observed; the others are listed as unchecked, with why.
//!
//! Nothing is dropped and nothing is faked: every step appears, performed or skipped.

#[path = "scenario_device.rs"]
pub mod device;
#[cfg(windows)]
#[path = "scenario_device_win.rs"]
mod device_win;

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use ferrofilter_sim::scenario::{self, ScenarioError, StepRecord};
use serde::Serialize;
use serde_json::Value;

use self::device::{DeviceOutcome, DeviceRecord};
use crate::backend::BackendKind;
use crate::error::CliError;
use crate::exit::Outcome;
use crate::output;

/// One step's outcome.
#[derive(Clone, Debug, PartialEq)]
pub enum StepOutcome {
    /// Performed on the sim.
    Sim(StepRecord),
    /// Performed on the device.
    Device(DeviceRecord),
    /// Not performed.
    Skipped(SkippedStep),
}

impl StepOutcome {
    /// The step's index.
    #[must_use]
    pub const fn step(&self) -> usize {
        match self {
            Self::Sim(record) => record.step,
            Self::Device(record) => record.step,
            Self::Skipped(skipped) => skipped.step,
        }
    }

    /// The step's op.
    #[must_use]
    pub fn op(&self) -> &str {
        match self {
            Self::Sim(record) => &record.op,
            Self::Device(record) => &record.op,
            Self::Skipped(skipped) => &skipped.op,
        }
    }

    /// The outcome as one JSON object (what `--json` prints, one per line).
    #[must_use]
    pub fn to_json(&self) -> Value {
        match self {
            Self::Sim(record) => record.to_json(),
            Self::Device(record) => record.to_json(),
            Self::Skipped(skipped) => serde_json::to_value(skipped).unwrap_or(Value::Null),
        }
    }

    /// `false` only for an `expect` whose compared fields did not match (or the sim's verifier
    /// record).
    #[must_use]
    pub fn passed(&self) -> bool {
        match self {
            Self::Sim(record) => record.passed(),
            Self::Device(record) => record.observed.get("passed") != Some(&Value::Bool(false)),
            Self::Skipped(_) => true,
        }
    }
}

/// The verdict of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every `expect` that was evaluated held, and at least one was.
    Passed,
    /// Some `expect` failed (or the sim's verifier saw a violation): one line per failure.
    Failed(Vec<String>),
    /// On the device: nothing failed, but no `expect` could be evaluated (every one was skipped).
    NothingChecked,
}

/// A scenario run: every step's outcome, in order, and the verdict.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioRun {
    /// The backend it ran on.
    pub backend: BackendKind,
    /// One outcome per step (the sim may append a `verifier` record).
    pub steps: Vec<StepOutcome>,
    /// The verdict.
    pub verdict: Verdict,
}

impl ScenarioRun {
    /// The steps that were not performed.
    #[must_use]
    pub fn skipped(&self) -> Vec<&SkippedStep> {
        self.steps
            .iter()
            .filter_map(|s| match s {
                StepOutcome::Skipped(skipped) => Some(skipped),
                _ => None,
            })
            .collect()
    }

    /// How many steps were performed.
    #[must_use]
    pub fn performed(&self) -> usize {
        self.steps.len() - self.skipped().len()
    }

    /// `expect` steps that were evaluated.
    #[must_use]
    pub fn expects_evaluated(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| s.op() == "expect" && !matches!(s, StepOutcome::Skipped(_)))
            .count()
    }
}

fn verdict_of(steps: &[StepOutcome]) -> Verdict {
    let failures: Vec<String> = steps
        .iter()
        .filter(|s| !s.passed())
        .map(|s| {
            let json = s.to_json();
            format!(
                "step {} ({}): {}",
                s.step(),
                s.op(),
                json.get("mismatches").cloned().unwrap_or_default()
            )
        })
        .collect();
    if !failures.is_empty() {
        Verdict::Failed(failures)
    } else if steps
        .iter()
        .any(|s| s.op() == "expect" && !matches!(s, StepOutcome::Skipped(_)))
    {
        Verdict::Passed
    } else {
        Verdict::NothingChecked
    }
}

fn usage(file: &Path, error: ScenarioError) -> CliError {
    CliError::Scenario {
        path: file.to_path_buf(),
        source: error,
    }
}

/// Runs a scenario file on a backend and returns every step's outcome and the verdict.
///
/// # Errors
/// [`CliError::ScenarioRead`] for a missing or unreadable file, [`CliError::Scenario`] for a
/// malformed one (naming the step and field; nothing runs then); [`CliError::Unreachable`] when the device cannot be opened;
/// [`CliError::Failed`] when the run's temporary directory cannot be created.
pub fn run_records(kind: BackendKind, file: &Path) -> Result<ScenarioRun, CliError> {
    // Read here rather than by the sim's `run_file`, so the I/O error stays an I/O error.
    let text = std::fs::read_to_string(file).map_err(|source| CliError::ScenarioRead {
        path: file.to_path_buf(),
        source,
    })?;
    let steps = match kind {
        BackendKind::Sim => scenario::run_str(&text)
            .map_err(|error| usage(file, error))?
            .into_iter()
            .map(StepOutcome::Sim)
            .collect(),
        BackendKind::Device => run_device_steps(file, &text)?,
    };
    let verdict = match verdict_of(&steps) {
        // The sim performs every step: a file without `expect` passes when nothing failed, as
        // `ferrofilter_sim::scenario::check` says.
        Verdict::NothingChecked if kind == BackendKind::Sim => Verdict::Passed,
        other => other,
    };
    Ok(ScenarioRun {
        backend: kind,
        steps,
        verdict,
    })
}

fn run_device_steps(file: &Path, text: &str) -> Result<Vec<StepOutcome>, CliError> {
    // The one parser of the format, so a file the sim rejects runs nothing on the device either.
    let steps = scenario::parse(text).map_err(|error| usage(file, error))?;
    let ops: Vec<String> = steps.iter().map(|entry| entry.op.clone()).collect();
    let plans = device::plan(&steps);
    let views = device::oplock_views(&plans, &steps);
    let outcomes = perform_on_device(&plans, &ops, &views)?;
    Ok(outcomes
        .into_iter()
        .enumerate()
        .map(|(index, outcome)| match outcome {
            DeviceOutcome::Performed(record) => StepOutcome::Device(record),
            DeviceOutcome::Skipped(reason) => StepOutcome::Skipped(SkippedStep {
                step: index,
                op: ops.get(index).cloned().unwrap_or_default(),
                skipped: true,
                reason,
            }),
        })
        .collect())
}

#[cfg(windows)]
fn perform_on_device(
    plans: &[device::Plan],
    ops: &[String],
    views: &[bool],
) -> Result<Vec<DeviceOutcome>, CliError> {
    device_win::perform(plans, ops, views)
}

#[cfg(not(windows))]
fn perform_on_device(
    _plans: &[device::Plan],
    _ops: &[String],
    _views: &[bool],
) -> Result<Vec<DeviceOutcome>, CliError> {
    Err(CliError::Unreachable(
        "the ferrofilter device exists only on Windows; use --sim".to_owned(),
    ))
}

/// `scenario run FILE`: prints every step (`--json`: one object per line), then the verdict.
/// Exit 0 when the run passed, 1 when an `expect` failed or none could be evaluated.
///
/// # Errors
/// As [`run_records`].
pub fn run(
    kind: BackendKind,
    file: &Path,
    json: bool,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let run = run_records(kind, file)?;
    for step in &run.steps {
        if json {
            output::json(out, &step.to_json())?;
        } else {
            writeln!(out, "{}", step_line(step))?;
        }
    }
    if !json {
        let total = run.steps.len();
        let skipped = run.skipped().len();
        if skipped > 0 {
            writeln!(
                out,
                "{} of {total} step(s) performed on the {}, {skipped} skipped",
                run.performed(),
                kind.name()
            )?;
        }
        match &run.verdict {
            Verdict::Passed => writeln!(out, "{total} step(s): passed")?,
            Verdict::Failed(failures) => {
                writeln!(out, "FAILED")?;
                for failure in failures {
                    writeln!(out, "{failure}")?;
                }
            }
            Verdict::NothingChecked => writeln!(
                out,
                "no expect could be evaluated: nothing was checked, so this is not a pass"
            )?,
        }
    }
    Ok(if run.verdict == Verdict::Passed {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}

fn step_line(step: &StepOutcome) -> String {
    match step {
        StepOutcome::Sim(record) => line(record),
        StepOutcome::Device(record) => {
            let status = match (&record.status, record.win32_error) {
                (Some(status), _) => {
                    format!("{status} {}", record.status_name.as_deref().unwrap_or(""))
                }
                (None, Some(code)) => format!("win32 error {code}"),
                (None, None) => "no status".to_owned(),
            };
            let mut text = format!("{:>3} {:<28} {status}", record.step, record.op);
            for (key, value) in &record.observed {
                let _ = write!(text, " {key}={value}");
            }
            text
        }
        StepOutcome::Skipped(skipped) => format!(
            "{:>3} {:<28} skipped: {}",
            skipped.step, skipped.op, skipped.reason
        ),
    }
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
