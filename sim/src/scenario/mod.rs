//! Scenario files: `{"steps": [ {"op": "...", ...}, ... ]}` run on the sim's Filter Manager,
//! one JSON record per step. The vocabulary is documented in `docs/scenarios.md`.
//!
//! Every step is parsed before anything runs, so a malformed file fails with a
//! [`ScenarioError`] naming the step index and the field, and runs nothing. `expect` steps check
//! the previous step's record; [`check`] turns the records into a pass / fail.

use std::fmt;
use std::path::Path;

use ferrofilter_core::NtStatus;
use ferrofilter_core::guid::Guid;
use ferrofilter_core::protocol::{self, HandleKeysInfo};
use serde::Serialize;
use serde_json::{Map, Value, json};

pub mod expect;
pub mod language;
mod runner;

pub use language::{ACCESS_NAMES, Entry, SHARE_NAMES, Step, parse, parse_number};
use runner::Runner;

/// Why a scenario could not be run. The CLI maps every variant to exit code 2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScenarioError {
    /// The file could not be read.
    Io {
        /// The path.
        path: String,
        /// The error.
        message: String,
    },
    /// Not JSON.
    Json {
        /// `serde_json`'s message (with line and column).
        message: String,
    },
    /// The top level is not `{"steps": [...]}`.
    Shape {
        /// What is wrong.
        message: String,
    },
    /// A step is malformed.
    Step {
        /// Index in `steps`.
        step: usize,
        /// The field at fault (`op` for an unknown operation).
        field: String,
        /// What is wrong.
        message: String,
    },
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, message } => write!(f, "cannot read {path}: {message}"),
            Self::Json { message } => write!(f, "not valid JSON: {message}"),
            Self::Shape { message } => write!(f, "not a scenario: {message}"),
            Self::Step {
                step,
                field,
                message,
            } => write!(f, "step {step}, field `{field}`: {message}"),
        }
    }
}

impl std::error::Error for ScenarioError {}

/// One step's record: `step`, `op`, `status` ("0x%08X"), `status_name`, then what it observed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepRecord {
    /// Index in `steps`.
    pub step: usize,
    /// The operation.
    pub op: String,
    /// The NTSTATUS as `0x%08X`.
    pub status: String,
    /// Its symbolic name, when known.
    pub status_name: Option<String>,
    /// What the step observed (op-specific fields).
    #[serde(flatten)]
    pub observed: Map<String, Value>,
}

impl StepRecord {
    /// `false` only for an `expect` step whose expectations did not hold.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.observed.get("passed") != Some(&Value::Bool(false))
    }

    /// The record as one JSON object.
    #[must_use]
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// The `expect` steps that failed, with what did not match.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpectFailures(pub Vec<StepRecord>);

impl fmt::Display for ExpectFailures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for record in &self.0 {
            let mismatches = record
                .observed
                .get("mismatches")
                .cloned()
                .unwrap_or_default();
            writeln!(f, "step {}: expect failed: {mismatches}", record.step)?;
        }
        Ok(())
    }
}

/// `Ok` when every `expect` held (and the verifier saw nothing; see [`run_str`]).
///
/// # Errors
/// The failed `expect` records.
pub fn check(records: &[StepRecord]) -> Result<(), ExpectFailures> {
    let failed: Vec<StepRecord> = records.iter().filter(|r| !r.passed()).cloned().collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(ExpectFailures(failed))
    }
}

/// The scenario files (`*.json`) in `dir`, sorted by name.
///
/// # Errors
/// The I/O error when `dir` cannot be listed.
pub fn files_in(dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "json") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Reads and runs a scenario file.
///
/// # Errors
/// [`ScenarioError`] when the file cannot be read or is malformed; nothing runs then.
pub fn run_file(path: impl AsRef<Path>) -> Result<Vec<StepRecord>, ScenarioError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    run_str(&text)
}

/// Parses and runs a scenario. After the last step a `verifier` record is appended when the
/// verifier saw a violation (it does not pass).
///
/// # Errors
/// [`ScenarioError`] when the text is malformed; nothing runs then.
pub fn run_str(text: &str) -> Result<Vec<StepRecord>, ScenarioError> {
    let steps = parse(text)?;
    let mut runner = Runner::new().map_err(|status| ScenarioError::Shape {
        message: format!("the driver did not load on the sim: {status:?}"),
    })?;
    let mut records = Vec::with_capacity(steps.len());
    for (index, entry) in steps.iter().enumerate() {
        let mut record = runner.run(index, entry, &records);
        if let Some(label) = &entry.label {
            record
                .observed
                .insert("label".into(), Value::String(label.clone()));
        }
        records.push(record);
    }
    let violations = runner.finish();
    if !violations.is_empty() {
        let mut observed = Map::new();
        observed.insert("passed".into(), Value::Bool(false));
        observed.insert(
            "mismatches".into(),
            Value::Array(
                violations
                    .iter()
                    .map(|v| Value::String(v.to_string()))
                    .collect(),
            ),
        );
        records.push(StepRecord {
            step: steps.len(),
            op: "verifier".into(),
            status: NtStatus::UNSUCCESSFUL.to_string(),
            status_name: NtStatus::UNSUCCESSFUL.name().map(str::to_owned),
            observed,
        });
    }
    Ok(records)
}

/// A `QUERY_KEYS` answer as a step record's `keys` field (the same shape the sim records for an
/// open): target, origin, parent and the create's ECP anomalies.
#[must_use]
pub fn keys_info_json(info: &HandleKeysInfo) -> Value {
    let parent = (info.flags & protocol::KEYS_FLAG_PARENT_PRESENT != 0)
        .then(|| Guid::from_le_bytes(info.parent).to_string());
    let origin = match info.origin {
        protocol::KEY_ORIGIN_DUAL_ECP => "dual_ecp",
        protocol::KEY_ORIGIN_SINGLE_ECP => "single_ecp",
        _ => "unique",
    };
    json!({
        "target": Guid::from_le_bytes(info.target).to_string(),
        "origin": origin,
        "parent": parent,
        "anomalies": {
            "from_user_mode": info.from_user_mode,
            "malformed": info.malformed,
            "duplicates": info.duplicates,
            "superseded": info.superseded,
            "first_error": (info.first_error != 0)
                .then(|| NtStatus(info.first_error).name().map_or_else(
                    || NtStatus(info.first_error).to_string(),
                    str::to_owned,
                )),
        },
    })
}

fn record(index: usize, op: &str, status: NtStatus, observed: Map<String, Value>) -> StepRecord {
    StepRecord {
        step: index,
        op: op.to_owned(),
        status: status.to_string(),
        status_name: status.name().map(str::to_owned),
        observed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_steps_name_the_step_and_field() {
        let cases = [
            (r#"{"steps": [{"op": "nope"}]}"#, 0, "op"),
            (r#"{"steps": [{"op": "open", "path": "a"}]}"#, 0, "handle"),
            (
                r#"{"steps": [{"op": "detach"}, {"op": "open", "handle": "h", "path": "a", "colour": 1}]}"#,
                1,
                "colour",
            ),
            (
                r#"{"steps": [{"op": "open", "handle": "h", "path": "a", "ecps": [{"type": "oplock_key", "key": "zz"}]}]}"#,
                0,
                "ecps[0].key",
            ),
            (
                r#"{"steps": [{"op": "open", "handle": "h", "path": "a", "access": "read_data|fly"}]}"#,
                0,
                "access",
            ),
            (
                r#"{"steps": [{"op": "fsctl_set_purge_failure_mode", "handle": "h"}]}"#,
                0,
                "flags",
            ),
            (r#"{"steps": [{"op": "expect", "status": "0x0"}]}"#, 0, "op"),
            (
                r#"{"steps": [{"op": "oplock", "handle": "h", "level": "X"}]}"#,
                0,
                "level",
            ),
            (
                r#"{"steps": [{"op": "fsctl_set_purge_failure_mode", "handle": "h", "flags": 1, "input_size": 1048577}]}"#,
                0,
                "input_size",
            ),
            (
                r#"{"steps": [{"op": "open", "handle": "h", "path": "a", "ecps": [{"type": "oplock_key", "size": 65537}]}]}"#,
                0,
                "ecps[0].size",
            ),
            (
                r#"{"steps": [{"op": "open", "handle": "h", "path": "a", "ecps": [{"type": "raw", "ecp_type": "oplock_key", "hex": "0g"}]}]}"#,
                0,
                "ecps[0].hex",
            ),
            (
                r#"{"steps": [{"op": "open", "handle": "h", "path": "a", "ecps": [{"type": "bogus"}]}]}"#,
                0,
                "ecps[0].type",
            ),
            (
                r#"{"steps": [{"op": "read", "handle": "h", "length": 4294967296}]}"#,
                0,
                "length",
            ),
            (r#"{"steps": [{"op": "close", "handle": ""}]}"#, 0, "handle"),
            (r#"{"steps": [{"handle": "h"}]}"#, 0, "op"),
        ];
        for (text, step, field) in cases {
            match run_str(text) {
                Err(ScenarioError::Step {
                    step: s, field: f, ..
                }) => assert_eq!((s, f.as_str()), (step, field), "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(matches!(run_str("{"), Err(ScenarioError::Json { .. })));
        assert!(matches!(run_str("[]"), Err(ScenarioError::Shape { .. })));
        assert!(matches!(
            run_str(r#"{"steps": 3}"#),
            Err(ScenarioError::Shape { .. })
        ));
        assert!(matches!(
            run_file("/nonexistent/x.json"),
            Err(ScenarioError::Io { .. })
        ));
    }

    #[test]
    fn labels_and_of_are_checked_when_parsed() {
        let cases = [
            (
                r#"{"steps": [{"op": "purge_status", "label": ""}]}"#,
                0,
                "label",
            ),
            (
                r#"{"steps": [{"op": "purge_status", "label": "a"}, {"op": "purge_status", "label": "a"}]}"#,
                1,
                "label",
            ),
            (
                r#"{"steps": [{"op": "purge_status"}, {"op": "expect", "of": "later", "status": "0x0"}, {"op": "purge_status", "label": "later"}]}"#,
                1,
                "of",
            ),
            (
                r#"{"steps": [{"op": "purge_status"}, {"op": "expect", "status": {"one_of": "x"}}]}"#,
                1,
                "status",
            ),
        ];
        for (text, step, field) in cases {
            match run_str(text) {
                Err(ScenarioError::Step {
                    step: s, field: f, ..
                }) => {
                    assert_eq!((s, f.as_str()), (step, field), "{text}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn an_expect_checks_the_step_its_label_names() {
        let records = run_str(
            r#"{"steps": [
                {"op": "open", "handle": "h", "path": "f", "label": "first"},
                {"op": "purge_status", "label": "rows"},
                {"op": "expect", "of": "first", "handle": "h", "status_name": {"one_of": ["STATUS_SUCCESS"]}},
                {"op": "expect", "of": "rows", "handle": {"not": "h"}, "streams": {"contains": {"path": "f"}}}
            ]}"#,
        )
        .unwrap();
        assert_eq!(check(&records), Ok(()), "{records:#?}");
        assert_eq!(records[0].observed.get("label"), Some(&json!("first")));
        assert_eq!(records[2].observed.get("of_step"), Some(&json!(0)));
        assert_eq!(records[3].observed.get("of_step"), Some(&json!(1)));
        assert_eq!(records[1].observed.get("label"), Some(&json!("rows")));
        // Negative control: the same checks against the wrong step fail.
        let records = run_str(
            r#"{"steps": [
                {"op": "open", "handle": "h", "path": "f", "label": "first"},
                {"op": "purge_status"},
                {"op": "expect", "of": "first", "streams": {"contains": {"path": "f"}}}
            ]}"#,
        )
        .unwrap();
        assert!(check(&records).is_err());
    }

    #[test]
    fn a_failing_expect_is_caught() {
        let records = run_str(
            r#"{"steps": [
                {"op": "open", "handle": "h", "path": "f"},
                {"op": "expect", "status_name": "STATUS_SHARING_VIOLATION"}
            ]}"#,
        )
        .unwrap();
        assert!(check(&records).is_err());
        let records = run_str(
            r#"{"steps": [
                {"op": "open", "handle": "h", "path": "f"},
                {"op": "expect", "status": "0x00000000", "keys": {"origin": "unique"}}
            ]}"#,
        )
        .unwrap();
        assert_eq!(check(&records), Ok(()));
    }
}
