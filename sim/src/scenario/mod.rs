//! Scenario files: `{"steps": [ {"op": "...", ...}, ... ]}` run on the sim's Filter Manager,
//! one JSON record per step. The vocabulary is documented in `docs/scenarios.md`.
//!
//! Every step is parsed before anything runs, so a malformed file fails with a
//! [`ScenarioError`] naming the step index and the field, and runs nothing. `expect` steps check
//! the previous step's record; [`check`] turns the records into a pass / fail.

use std::fmt;
use std::path::Path;

use ferrofilter_core::NtStatus;
use ferrofilter_core::ecp::{
    DualOplockKeyEcp, GUID_ECP_DUAL_OPLOCK_KEY, GUID_ECP_OPLOCK_KEY, OplockKeyEcp,
    encode_dual_oplock_key, encode_oplock_key,
};
use ferrofilter_core::guid::Guid;
use ferrofilter_core::oplock::{CreateDisposition, CreateParams, OplockLevel, access, share};
use ferrofilter_core::protocol::{self, HandleKeysInfo};
use ferrofilter_core::purge::{
    RequestorMode, SET_PURGE_FAILURE_MODE_DISABLED, SET_PURGE_FAILURE_MODE_ENABLED,
};
use serde::Serialize;
use serde_json::{Map, Value, json};

pub mod expect;
mod runner;

use crate::fs::{BreakAction, StreamKind};
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
    for (index, (step, label)) in steps.iter().enumerate() {
        let mut record = runner.run(index, step, &records);
        if let Some(label) = label {
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

// ---------------------------------------------------------------------------------------------
// Parsing

/// One parsed ECP.
#[derive(Clone, Debug, PartialEq, Eq)]
struct EcpSpec {
    ecp_type: Guid,
    from_user_mode: bool,
    context: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq)]
enum Step {
    Open {
        handle: String,
        path: String,
        params: CreateParams,
        kind: StreamKind,
        ecps: Vec<EcpSpec>,
        cf_flags: Option<u32>,
        on_break: Option<BreakAction>,
    },
    Oplock {
        handle: String,
        level: OplockLevel,
        on_break: BreakAction,
    },
    Read {
        handle: String,
        offset: u64,
        length: u32,
    },
    Write {
        handle: String,
        offset: u64,
        data: Vec<u8>,
        non_cached: bool,
    },
    SetInformation {
        handle: String,
        class: &'static str,
        resize: Option<u64>,
    },
    SetPurgeFailureMode {
        handle: String,
        requestor: RequestorMode,
        input: Vec<u8>,
    },
    BeginDataScan {
        handle: String,
    },
    EndDataScan {
        handle: String,
    },
    MapSection {
        handle: String,
        map: bool,
    },
    Purge {
        handle: String,
    },
    Inspect {
        handle: String,
        offset: u64,
        length: u32,
        new_handle: bool,
    },
    QueryKeys {
        handle: Option<String>,
        handle_value: Option<u64>,
    },
    PurgeStatus,
    Close {
        handle: String,
    },
    Detach,
    /// Opens `count` control-device handles (owners) named `owner`, or `owner#0`.. for several,
    /// each with the pipe as its target.
    OwnerOpen {
        owner: String,
        count: u32,
    },
    OwnerClose {
        owner: String,
    },
    /// `count` FORWARDs from `owner`, tagged with its group `group` (0: untagged).
    Forward {
        owner: String,
        group: u64,
        count: u32,
    },
    /// `CANCEL_GROUP` from `owner` of group `group` of `group_owner`'s partial ID.
    CancelGroup {
        owner: String,
        group_owner: String,
        group: u64,
    },
    /// The target completes up to `count` of the reads it holds, with `status`.
    Complete {
        count: u32,
        status: u32,
    },
    Expect {
        fields: Map<String, Value>,
        /// The earlier step it checks (by its label), or the previous one.
        of: Option<usize>,
    },
}

impl Step {
    const fn name(&self) -> &'static str {
        match self {
            Self::Open { .. } => "open",
            Self::Oplock { .. } => "oplock",
            Self::Read { .. } => "read",
            Self::Write { .. } => "write",
            Self::SetInformation { .. } => "set_information",
            Self::SetPurgeFailureMode { .. } => "fsctl_set_purge_failure_mode",
            Self::BeginDataScan { .. } => "begin_data_scan",
            Self::EndDataScan { .. } => "end_data_scan",
            Self::MapSection { map: true, .. } => "map_section",
            Self::MapSection { map: false, .. } => "unmap_section",
            Self::Purge { .. } => "purge",
            Self::Inspect {
                new_handle: false, ..
            } => "inspect",
            Self::Inspect {
                new_handle: true, ..
            } => "inspect_new_handle",
            Self::QueryKeys { .. } => "query_keys",
            Self::PurgeStatus => "purge_status",
            Self::Close { .. } => "close",
            Self::Detach => "detach",
            Self::OwnerOpen { .. } => "owner_open",
            Self::OwnerClose { .. } => "owner_close",
            Self::Forward { .. } => "forward",
            Self::CancelGroup { .. } => "cancel_group",
            Self::Complete { .. } => "complete",
            Self::Expect { .. } => "expect",
        }
    }
}

/// The steps, each with its label.
fn parse(text: &str) -> Result<Vec<(Step, Option<String>)>, ScenarioError> {
    let value: Value = serde_json::from_str(text).map_err(|e| ScenarioError::Json {
        message: e.to_string(),
    })?;
    let Value::Object(top) = value else {
        return Err(ScenarioError::Shape {
            message: "the top level must be an object with a `steps` array".into(),
        });
    };
    if let Some(extra) = top.keys().find(|k| *k != "steps" && *k != "description") {
        return Err(ScenarioError::Shape {
            message: format!("unknown top-level field `{extra}` (only `steps` and `description`)"),
        });
    }
    let Some(Value::Array(steps)) = top.get("steps") else {
        return Err(ScenarioError::Shape {
            message: "`steps` must be an array".into(),
        });
    };
    let mut labels: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    let mut parsed = Vec::with_capacity(steps.len());
    for (index, raw) in steps.iter().enumerate() {
        let (mut step, label, of) = parse_step(index, raw)?;
        if let (Step::Expect { of: target, .. }, Some(name)) = (&mut step, of) {
            let Some(&at) = labels.get(&name) else {
                return Err(ScenarioError::Step {
                    step: index,
                    field: "of".into(),
                    message: format!("no earlier step is labelled `{name}`"),
                });
            };
            *target = Some(at);
        }
        if let Some(name) = &label
            && labels.insert(name.clone(), index).is_some()
        {
            return Err(ScenarioError::Step {
                step: index,
                field: "label".into(),
                message: format!("the label `{name}` is already used by an earlier step"),
            });
        }
        parsed.push((step, label));
    }
    Ok(parsed)
}

/// The fields of one step, consumed one by one so leftovers can be named.
struct Fields<'a> {
    step: usize,
    map: &'a Map<String, Value>,
    used: Vec<&'static str>,
}

impl<'a> Fields<'a> {
    fn err(&self, field: &str, message: impl Into<String>) -> ScenarioError {
        ScenarioError::Step {
            step: self.step,
            field: field.to_owned(),
            message: message.into(),
        }
    }

    fn get(&mut self, field: &'static str) -> Option<&'a Value> {
        self.used.push(field);
        self.map.get(field)
    }

    fn string(&mut self, field: &'static str) -> Result<Option<&'a str>, ScenarioError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.err(field, format!("expected a string, got {other}"))),
        }
    }

    fn required_string(&mut self, field: &'static str) -> Result<&'a str, ScenarioError> {
        self.string(field)?
            .ok_or_else(|| self.err(field, "required"))
    }

    fn handle(&mut self) -> Result<String, ScenarioError> {
        let name = self.required_string("handle")?;
        if name.is_empty() {
            return Err(self.err("handle", "a handle name cannot be empty"));
        }
        Ok(name.to_owned())
    }

    fn number(&mut self, field: &'static str) -> Result<Option<u64>, ScenarioError> {
        match self.get(field) {
            None => Ok(None),
            Some(value) => parse_number(value).map(Some).ok_or_else(|| {
                self.err(field, format!("expected a number or \"0x..\", got {value}"))
            }),
        }
    }

    fn u32(&mut self, field: &'static str, default: u32) -> Result<u32, ScenarioError> {
        match self.number(field)? {
            None => Ok(default),
            Some(n) => u32::try_from(n).map_err(|_| self.err(field, "does not fit in 32 bits")),
        }
    }

    fn boolean(&mut self, field: &'static str, default: bool) -> Result<bool, ScenarioError> {
        match self.get(field) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(self.err(field, format!("expected true or false, got {other}"))),
        }
    }

    fn guid(&mut self, field: &'static str) -> Result<Option<Guid>, ScenarioError> {
        match self.string(field)? {
            None => Ok(None),
            Some(text) => Guid::parse(text)
                .map(Some)
                .map_err(|e| self.err(field, e.to_string())),
        }
    }

    fn finish(self) -> Result<(), ScenarioError> {
        match self.map.keys().find(|k| !self.used.contains(&k.as_str())) {
            Some(extra) => Err(self.err(extra, "unknown field for this op")),
            None => Ok(()),
        }
    }
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

/// A scenario number: a JSON number or a `0x` hex string.
#[must_use]
pub fn parse_number(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => {
            let hex = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
            u64::from_str_radix(hex, 16).ok()
        }
        _ => None,
    }
}

/// Access names, `FILE_*` style in lower case without the prefix.
pub const ACCESS_NAMES: [(&str, u32); 12] = [
    ("read_data", access::FILE_READ_DATA),
    ("write_data", access::FILE_WRITE_DATA),
    ("append_data", access::FILE_APPEND_DATA),
    ("read_ea", access::FILE_READ_EA),
    ("write_ea", access::FILE_WRITE_EA),
    ("execute", access::FILE_EXECUTE),
    ("read_attributes", access::FILE_READ_ATTRIBUTES),
    ("write_attributes", access::FILE_WRITE_ATTRIBUTES),
    ("delete", access::DELETE),
    ("read_control", access::READ_CONTROL),
    ("synchronize", access::SYNCHRONIZE),
    ("none", 0),
];

/// Share-mode names.
pub const SHARE_NAMES: [(&str, u32); 5] = [
    ("read", share::FILE_SHARE_READ),
    ("write", share::FILE_SHARE_WRITE),
    ("delete", share::FILE_SHARE_DELETE),
    ("all", share::FILE_SHARE_ALL),
    ("none", 0),
];

/// A mask as a number, `"0x.."`, or names joined by `|`.
fn parse_mask(
    fields: &mut Fields<'_>,
    field: &'static str,
    names: &[(&str, u32)],
    default: u32,
) -> Result<u32, ScenarioError> {
    let Some(value) = fields.get(field) else {
        return Ok(default);
    };
    if let Some(n) = parse_number(value) {
        return u32::try_from(n).map_err(|_| fields.err(field, "does not fit in 32 bits"));
    }
    let Value::String(text) = value else {
        return Err(fields.err(
            field,
            format!("expected a number or names joined by '|', got {value}"),
        ));
    };
    let mut mask = 0;
    for name in text.split('|').map(str::trim) {
        let bits = names
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, b)| *b)
            .ok_or_else(|| {
                let known: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
                fields.err(
                    field,
                    format!("unknown name `{name}` (known: {})", known.join(", ")),
                )
            })?;
        mask |= bits;
    }
    Ok(mask)
}

fn parse_level(fields: &Fields<'_>, field: &str, text: &str) -> Result<OplockLevel, ScenarioError> {
    Ok(match text {
        "R" | "r" => OplockLevel::Read,
        "RH" | "rh" => OplockLevel::ReadHandle,
        "RW" | "rw" => OplockLevel::ReadWrite,
        "RWH" | "rwh" => OplockLevel::ReadWriteHandle,
        "level1" => OplockLevel::Level1,
        "batch" => OplockLevel::Batch,
        "level2" => OplockLevel::Level2,
        other => {
            return Err(fields.err(
                field,
                format!("unknown level `{other}` (R, RH, RW, RWH, level1, batch, level2)"),
            ));
        }
    })
}

fn parse_on_break(fields: &mut Fields<'_>) -> Result<Option<BreakAction>, ScenarioError> {
    Ok(match fields.string("on_break")? {
        None => None,
        Some("acknowledge") => Some(BreakAction::Acknowledge),
        Some("close") => Some(BreakAction::Close),
        Some(other) => {
            return Err(fields.err(
                "on_break",
                format!("unknown `{other}` (acknowledge, close)"),
            ));
        }
    })
}

fn parse_hex(fields: &Fields<'_>, field: &str, text: &str) -> Result<Vec<u8>, ScenarioError> {
    let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if !clean.len().is_multiple_of(2) {
        return Err(fields.err(field, "hex needs an even number of digits"));
    }
    (0..clean.len())
        .step_by(2)
        .map(|i| {
            clean
                .get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| fields.err(field, format!("not hex at digit {i}")))
        })
        .collect()
}

fn parse_ecp(step: usize, index: usize, raw: &Value) -> Result<EcpSpec, ScenarioError> {
    let Value::Object(map) = raw else {
        return Err(ScenarioError::Step {
            step,
            field: format!("ecps[{index}]"),
            message: "an ECP must be an object".into(),
        });
    };
    let mut f = Fields {
        step,
        map,
        used: Vec::new(),
    };
    let prefix = |field: &str| format!("ecps[{index}].{field}");
    let rename = |e: ScenarioError| match e {
        ScenarioError::Step {
            step,
            field,
            message,
        } => ScenarioError::Step {
            step,
            field: prefix(&field),
            message,
        },
        other => other,
    };
    let kind = f.required_string("type").map_err(rename)?;
    let from_user_mode = f.boolean("from_user_mode", false).map_err(rename)?;
    let (ecp_type, mut context) = match kind {
        "oplock_key" => {
            let key = f.guid("key").map_err(rename)?.unwrap_or(Guid::NIL);
            let mut ctx = encode_oplock_key(OplockKeyEcp { key }).to_vec();
            let reserved = f.u32("reserved", 0).map_err(rename)?;
            ctx[16..20].copy_from_slice(&reserved.to_le_bytes());
            (GUID_ECP_OPLOCK_KEY, ctx)
        }
        "dual_oplock_key" => {
            let parent = f.guid("parent").map_err(rename)?;
            let target = f.guid("target").map_err(rename)?;
            let mut ctx = encode_dual_oplock_key(DualOplockKeyEcp { parent, target }).to_vec();
            for (field, offset) in [("parent_set", 32), ("target_set", 33)] {
                if let Some(n) = f.number(field).map_err(rename)? {
                    ctx[offset] = u8::try_from(n)
                        .map_err(|_| f.err(&prefix(field), "a BOOLEAN is one byte"))?;
                }
            }
            (GUID_ECP_DUAL_OPLOCK_KEY, ctx)
        }
        "raw" => {
            let ecp_type = match f.string("ecp_type").map_err(rename)? {
                Some("oplock_key") => GUID_ECP_OPLOCK_KEY,
                Some("dual_oplock_key") => GUID_ECP_DUAL_OPLOCK_KEY,
                Some(text) => {
                    Guid::parse(text).map_err(|e| f.err(&prefix("ecp_type"), e.to_string()))?
                }
                None => return Err(f.err(&prefix("ecp_type"), "required")),
            };
            let hex = f.required_string("hex").map_err(rename)?;
            (ecp_type, parse_hex(&f, &prefix("hex"), hex)?)
        }
        other => {
            return Err(f.err(
                &prefix("type"),
                format!("unknown ECP type `{other}` (oplock_key, dual_oplock_key, raw)"),
            ));
        }
    };
    if let Some(size) = f.number("size").map_err(rename)? {
        let size = usize::try_from(size)
            .ok()
            .filter(|s| *s <= 4096)
            .ok_or_else(|| f.err(&prefix("size"), "at most 4096"))?;
        context.resize(size, 0);
    }
    f.finish().map_err(rename)?;
    Ok(EcpSpec {
        ecp_type,
        from_user_mode,
        context,
    })
}

fn owner_name(f: &mut Fields<'_>, field: &'static str) -> Result<String, ScenarioError> {
    let name = f.required_string(field)?;
    if name.is_empty() {
        return Err(f.err(field, "an owner name cannot be empty"));
    }
    Ok(name.to_owned())
}

/// One step, its label, and for an `expect` the label it checks.
#[allow(clippy::too_many_lines, reason = "one arm per op, each short")]
fn parse_step(
    step: usize,
    raw: &Value,
) -> Result<(Step, Option<String>, Option<String>), ScenarioError> {
    let Value::Object(map) = raw else {
        return Err(ScenarioError::Step {
            step,
            field: "op".into(),
            message: "a step must be an object".into(),
        });
    };
    let mut f = Fields {
        step,
        map,
        used: Vec::new(),
    };
    let op = f.required_string("op")?;
    let label = f.string("label")?.map(str::to_owned);
    if label.as_deref() == Some("") {
        return Err(f.err("label", "a label cannot be empty"));
    }
    let parsed = match op {
        "open" => {
            let handle = f.handle()?;
            let path = f.required_string("path")?.to_owned();
            let cf_flags = f.number("cf_flags")?;
            if cf_flags.is_some() && (map.contains_key("access") || map.contains_key("share")) {
                return Err(f.err("cf_flags", "cf_flags decides access and share; drop them"));
            }
            let cf_flags = cf_flags
                .map(|n| u32::try_from(n).map_err(|_| f.err("cf_flags", "does not fit in 32 bits")))
                .transpose()?;
            let desired_access =
                parse_mask(&mut f, "access", &ACCESS_NAMES, access::FILE_READ_DATA)?;
            let share_access = parse_mask(&mut f, "share", &SHARE_NAMES, share::FILE_SHARE_ALL)?;
            let disposition = match f.get("disposition") {
                None => CreateDisposition::OpenIf,
                Some(value) => match value.as_str() {
                    Some("supersede") => CreateDisposition::Supersede,
                    Some("open") => CreateDisposition::Open,
                    Some("create") => CreateDisposition::Create,
                    Some("open_if") => CreateDisposition::OpenIf,
                    Some("overwrite") => CreateDisposition::Overwrite,
                    Some("overwrite_if") => CreateDisposition::OverwriteIf,
                    _ => {
                        return Err(f.err(
                            "disposition",
                            format!("unknown {value} (supersede, open, create, open_if, overwrite, overwrite_if)"),
                        ));
                    }
                },
            };
            let reserve_opfilter = f.boolean("reserve_opfilter", false)?;
            let kind = match f.string("kind")? {
                None | Some("file") => StreamKind::File,
                Some("directory") => StreamKind::Directory,
                Some("volume") => StreamKind::Volume,
                Some(other) => {
                    return Err(f.err(
                        "kind",
                        format!("unknown `{other}` (file, directory, volume)"),
                    ));
                }
            };
            let ecps = match f.get("ecps") {
                None => Vec::new(),
                Some(Value::Array(items)) => items
                    .iter()
                    .enumerate()
                    .map(|(i, e)| parse_ecp(step, i, e))
                    .collect::<Result<_, _>>()?,
                Some(other) => return Err(f.err("ecps", format!("expected an array, got {other}"))),
            };
            let on_break = parse_on_break(&mut f)?;
            Step::Open {
                handle,
                path,
                params: CreateParams {
                    desired_access,
                    share_access,
                    disposition,
                    reserve_opfilter,
                },
                kind,
                ecps,
                cf_flags,
                on_break,
            }
        }
        "oplock" => {
            let handle = f.handle()?;
            let text = f.required_string("level")?;
            let level = parse_level(&f, "level", text)?;
            let on_break = parse_on_break(&mut f)?.unwrap_or_default();
            Step::Oplock {
                handle,
                level,
                on_break,
            }
        }
        "read" | "inspect" | "inspect_new_handle" => {
            let handle = f.handle()?;
            let offset = f.number("offset")?.unwrap_or(0);
            let length = f.u32("length", 16)?;
            if op == "read" {
                Step::Read {
                    handle,
                    offset,
                    length,
                }
            } else {
                Step::Inspect {
                    handle,
                    offset,
                    length,
                    new_handle: op == "inspect_new_handle",
                }
            }
        }
        "write" => {
            let handle = f.handle()?;
            let offset = f.number("offset")?.unwrap_or(0);
            let data = f.string("data")?.unwrap_or("x").as_bytes().to_vec();
            let non_cached = match f.string("mode")? {
                None | Some("cached") => false,
                Some("non_cached") => true,
                Some(other) => {
                    return Err(f.err("mode", format!("unknown `{other}` (cached, non_cached)")));
                }
            };
            Step::Write {
                handle,
                offset,
                data,
                non_cached,
            }
        }
        "set_information" => {
            let handle = f.handle()?;
            let class = match f.string("class")? {
                None | Some("end_of_file") => "end_of_file",
                Some("allocation") => "allocation",
                Some("basic") => "basic",
                Some(other) => {
                    return Err(f.err(
                        "class",
                        format!("unknown `{other}` (end_of_file, allocation, basic)"),
                    ));
                }
            };
            let size = f.number("size")?.unwrap_or(0);
            Step::SetInformation {
                handle,
                class,
                resize: (class != "basic").then_some(size),
            }
        }
        "fsctl_set_purge_failure_mode" => {
            let handle = f.handle()?;
            let flags = match f.get("flags") {
                None => return Err(f.err("flags", "required")),
                Some(value) => match (value.as_str(), parse_number(value)) {
                    (Some("enable"), _) => SET_PURGE_FAILURE_MODE_ENABLED,
                    (Some("disable"), _) => SET_PURGE_FAILURE_MODE_DISABLED,
                    (Some("both"), _) => {
                        SET_PURGE_FAILURE_MODE_ENABLED | SET_PURGE_FAILURE_MODE_DISABLED
                    }
                    (Some("none"), _) => 0,
                    (_, Some(n)) => {
                        u32::try_from(n).map_err(|_| f.err("flags", "does not fit in 32 bits"))?
                    }
                    _ => {
                        return Err(f.err(
                            "flags",
                            format!("unknown {value} (enable, disable, both, none, or a number)"),
                        ));
                    }
                },
            };
            let requestor = match f.string("requestor")? {
                None | Some("kernel") => RequestorMode::Kernel,
                Some("user") => RequestorMode::User,
                Some(other) => {
                    return Err(f.err("requestor", format!("unknown `{other}` (kernel, user)")));
                }
            };
            let size = f.number("input_size")?.unwrap_or(4);
            let size = usize::try_from(size)
                .ok()
                .filter(|s| *s <= 64)
                .ok_or_else(|| f.err("input_size", "at most 64"))?;
            let mut input = flags.to_le_bytes().to_vec();
            input.resize(size, 0);
            Step::SetPurgeFailureMode {
                handle,
                requestor,
                input,
            }
        }
        "begin_data_scan" => Step::BeginDataScan {
            handle: f.handle()?,
        },
        "end_data_scan" => Step::EndDataScan {
            handle: f.handle()?,
        },
        "map_section" | "unmap_section" => Step::MapSection {
            handle: f.handle()?,
            map: op == "map_section",
        },
        "purge" => Step::Purge {
            handle: f.handle()?,
        },
        "query_keys" => {
            let handle = f.string("handle")?.map(str::to_owned);
            let handle_value = f.number("handle_value")?;
            if handle.is_some() == handle_value.is_some() {
                return Err(f.err("handle", "give exactly one of `handle` and `handle_value`"));
            }
            Step::QueryKeys {
                handle,
                handle_value,
            }
        }
        "purge_status" => Step::PurgeStatus,
        "close" => Step::Close {
            handle: f.handle()?,
        },
        "detach" => Step::Detach,
        "owner_open" => Step::OwnerOpen {
            owner: owner_name(&mut f, "owner")?,
            count: f.u32("count", 1)?,
        },
        "owner_close" => Step::OwnerClose {
            owner: owner_name(&mut f, "owner")?,
        },
        "forward" => Step::Forward {
            owner: owner_name(&mut f, "owner")?,
            group: f.number("group")?.unwrap_or(0),
            count: f.u32("count", 1)?,
        },
        "cancel_group" => {
            let owner = owner_name(&mut f, "owner")?;
            let group_owner = match f.string("group_owner")? {
                Some(name) => name.to_owned(),
                None => owner.clone(),
            };
            let group = f
                .number("group")?
                .ok_or_else(|| f.err("group", "required"))?;
            Step::CancelGroup {
                owner,
                group_owner,
                group,
            }
        }
        "complete" => Step::Complete {
            count: f.u32("count", 1)?,
            status: f.u32("status", 0)?,
        },
        "expect" => {
            if step == 0 {
                return Err(f.err("op", "an expect needs a step before it"));
            }
            let of = f.string("of")?.map(str::to_owned);
            let mut fields = map.clone();
            for reserved in ["op", "label", "of"] {
                fields.remove(reserved);
            }
            if fields.is_empty() {
                return Err(f.err("op", "an expect with nothing to check"));
            }
            if let Some((field, why)) = fields
                .iter()
                .find_map(|(k, v)| expect::malformed(v).map(|why| (k.clone(), why)))
            {
                return Err(f.err(&field, why));
            }
            return Ok((Step::Expect { fields, of: None }, label, of));
        }
        other => {
            return Err(f.err(
                "op",
                format!("unknown op `{other}` (see docs/scenarios.md for the vocabulary)"),
            ));
        }
    };
    f.finish()?;
    Ok((parsed, label, None))
}

fn record(index: usize, step: &Step, status: NtStatus, observed: Map<String, Value>) -> StepRecord {
    StepRecord {
        step: index,
        op: step.name().to_owned(),
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
