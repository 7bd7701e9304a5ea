//! `scenario run FILE`: a scenario file from `tests/scenarios/`, run step by step.
//!
//! The scenario runner belongs to `ferrofilter-sim`; this build does not have it yet, so after
//! checking that the file exists and is JSON, the command ends in
//! [`scenario_runner_unavailable`] with exit code 1. Nothing is run and nothing is faked.

use std::io::Write;
use std::path::Path;

use crate::backend::BackendKind;
use crate::error::{CliError, not_available_in_this_build};
use crate::exit::Outcome;

/// `scenario run FILE`.
///
/// # Errors
/// [`CliError::Usage`] for a missing or unreadable file or one that is not JSON; otherwise the
/// runner is not available in this build.
pub fn run(
    kind: BackendKind,
    file: &Path,
    _json: bool,
    _out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let text = std::fs::read_to_string(file)
        .map_err(|error| CliError::Usage(format!("{}: {error}", file.display())))?;
    serde_json::from_str::<serde_json::Value>(&text).map_err(|error| {
        CliError::Usage(format!(
            "{}: malformed scenario: not JSON ({error})",
            file.display()
        ))
    })?;
    Err(scenario_runner_unavailable(kind))
}

/// The scenario runner (`ferrofilter_sim::scenario`) is not in this build.
#[must_use]
pub fn scenario_runner_unavailable(kind: BackendKind) -> CliError {
    not_available_in_this_build(
        &format!("scenario run on the {}", kind.name()),
        "ferrofilter_sim::scenario, the scenario runner, is not part of this build yet",
    )
}
