//! What the device observed for a step, and how an `expect` is evaluated against it.

use ferrofilter_core::NtStatus;
use ferrofilter_sim::scenario::expect::matches;
use serde::Serialize;
use serde_json::{Map, Value, json};

/// How the device saw a step's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusSeen {
    /// The exact NTSTATUS (an IOCTL's or an overlapped I/O's `IO_STATUS_BLOCK`).
    Nt(NtStatus),
    /// Only the Win32 error a call returned (the NTSTATUS behind it is not visible).
    Win32(u32),
    /// The step did not finish in time.
    TimedOut,
}

/// One step's record on the device: performed, with what it observed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeviceRecord {
    /// Index in `steps`.
    pub step: usize,
    /// The operation.
    pub op: String,
    /// The NTSTATUS as `0x%08X`, when the device saw it exactly.
    pub status: Option<String>,
    /// Its symbolic name, when known.
    pub status_name: Option<String>,
    /// The Win32 error, when that is all the device saw (0: success).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub win32_error: Option<u32>,
    /// What the step observed (op-specific fields); a field not here was not observed.
    #[serde(flatten)]
    pub observed: Map<String, Value>,
}

impl DeviceRecord {
    /// A record with this status and nothing observed yet.
    #[must_use]
    pub fn new(step: usize, op: &str, seen: StatusSeen) -> Self {
        let (status, win32_error) = match seen {
            StatusSeen::Nt(status) => (Some(status), None),
            StatusSeen::Win32(code) => (None, Some(code)),
            StatusSeen::TimedOut => (None, None),
        };
        let mut observed = Map::new();
        if seen == StatusSeen::TimedOut {
            observed.insert("timed_out".into(), Value::Bool(true));
        }
        Self {
            step,
            op: op.to_owned(),
            status: status.map(|s| s.to_string()),
            status_name: status.and_then(|s| s.name().map(str::to_owned)),
            win32_error,
            observed,
        }
    }

    /// The record as one JSON object.
    #[must_use]
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// An expected field the device could not compare, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unchecked {
    /// The field.
    pub field: String,
    /// Why.
    pub reason: String,
}

/// A compared field that did not match.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Mismatch {
    /// What the device observed.
    pub actual: Value,
    /// What the `expect` asked for.
    pub expected: Value,
    /// The field.
    pub field: String,
}

/// An `expect` evaluated on the device.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExpectResult {
    /// Fields compared.
    pub checked: Vec<String>,
    /// Each compared field that did not match.
    pub mismatches: Vec<Mismatch>,
    /// Fields not compared.
    pub unchecked: Vec<Unchecked>,
}

impl ExpectResult {
    /// Every compared field matched.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty()
    }
}

const KNOWN_STATUSES: [NtStatus; 29] = [
    NtStatus::SUCCESS,
    NtStatus::PENDING,
    NtStatus::CANCELLED,
    NtStatus::UNSUCCESSFUL,
    NtStatus::INVALID_PARAMETER,
    NtStatus::INVALID_DEVICE_REQUEST,
    NtStatus::INSUFFICIENT_RESOURCES,
    NtStatus::BUFFER_TOO_SMALL,
    NtStatus::BUFFER_OVERFLOW,
    NtStatus::NOT_FOUND,
    NtStatus::INVALID_DEVICE_STATE,
    NtStatus::DEVICE_REMOVED,
    NtStatus::DELETE_PENDING,
    NtStatus::REVISION_MISMATCH,
    NtStatus::NOT_SUPPORTED,
    NtStatus::ACCESS_DENIED,
    NtStatus::INVALID_HANDLE,
    NtStatus::FILE_IS_A_DIRECTORY,
    NtStatus::USER_MAPPED_FILE,
    NtStatus::PURGE_FAILED,
    NtStatus::SHARING_VIOLATION,
    NtStatus::OPLOCK_BREAK_IN_PROGRESS,
    NtStatus::FLT_DO_NOT_DETACH,
    NtStatus::FLT_DO_NOT_ATTACH,
    NtStatus::OBJECT_NAME_NOT_FOUND,
    NtStatus::OBJECT_NAME_COLLISION,
    NtStatus::FILE_CLOSED,
    NtStatus::INTEGER_OVERFLOW,
    NtStatus::OPLOCK_NOT_GRANTED,
];

/// The NTSTATUS an expected `status` (`"0x..."`) or `status_name` (`"STATUS_..."`) stands for.
#[must_use]
pub fn expected_status(field: &str, value: &Value) -> Option<NtStatus> {
    let text = value.as_str()?;
    if field == "status" {
        let hex = text
            .strip_prefix("0x")
            .or_else(|| text.strip_prefix("0X"))?;
        return u32::from_str_radix(hex, 16).ok().map(NtStatus);
    }
    KNOWN_STATUSES
        .iter()
        .copied()
        .find(|status| status.name() == Some(text))
}

/// The device sees whether a break required an acknowledgment, not whether the breaking
/// operation waited for it: an expected `ack` becomes `ack_required` (`none` → false, `wait` and
/// `no_wait` → true).
fn device_breaks(expected: &Value) -> Value {
    match expected {
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| match item {
                    Value::Object(map) => {
                        let mut map = map.clone();
                        if let Some(ack) = map.remove("ack") {
                            map.insert("ack_required".into(), json!(ack != json!("none")));
                        }
                        Value::Object(map)
                    }
                    other => other.clone(),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Why the device did not observe `field`.
#[must_use]
pub fn unobserved_reason(field: &str) -> String {
    match field {
        "status" | "status_name" => "the step did not finish, so no status was seen".to_owned(),
        "purge_count" | "mirror_count" | "fs_held" | "filter_held" | "retried"
        | "window_status" | "reissued" | "cancelled" => format!(
            "`{field}` is the file system's or Filter Manager's internal state for the stream; \
             user mode does not see it (PURGE_STATUS names streams by opaque ID, not by path)"
        ),
        "breaks" | "oplock" => format!(
            "`{field}` is observed only through the oplocks this run requested with \
             FSCTL_REQUEST_OPLOCK; a CfOpenFileWithOplock handle's oplock is held by the \
             platform (only `cf_usable` is visible) and legacy or skipped oplocks are not seen"
        ),
        "cf" => "the access, share and oplock CfOpenFileWithOplock used are decided inside \
                 the platform; the device does not report them"
            .to_owned(),
        "error" => "the sim's error text; the device record has the API's message in \
                    `api_error`"
            .to_owned(),
        "streams" => "PURGE_STATUS rows carry opaque stream IDs; the device cannot name their \
                      paths"
            .to_owned(),
        _ => format!("the device step did not observe `{field}`"),
    }
}

/// Evaluates an `expect` against the previous step's device record. `to_dos` maps an NTSTATUS
/// to its Win32 error (`RtlNtStatusToDosError` on Windows), for steps where only the Win32 error
/// was seen.
#[must_use]
pub fn evaluate_expect(
    fields: &Map<String, Value>,
    previous: &DeviceRecord,
    to_dos: &dyn Fn(NtStatus) -> u32,
) -> ExpectResult {
    let record = previous.to_json();
    let mut result = ExpectResult {
        checked: Vec::new(),
        mismatches: Vec::new(),
        unchecked: Vec::new(),
    };
    for (field, expected) in fields {
        let mut mismatch = |actual: Value| {
            result.mismatches.push(Mismatch {
                actual,
                expected: expected.clone(),
                field: field.clone(),
            });
        };
        if field == "status" || field == "status_name" {
            let Some(want) = expected_status(field, expected) else {
                result.checked.push(field.clone());
                mismatch(record.get(field).cloned().unwrap_or(Value::Null));
                continue;
            };
            let granted = previous.observed.get("granted") == Some(&Value::Bool(true));
            if previous.status.is_some() {
                result.checked.push(field.clone());
                let actual = record.get(field).cloned().unwrap_or(Value::Null);
                // A granted FSCTL_REQUEST_OPLOCK pends: the sim's grant status is SUCCESS.
                let oplock_granted = previous.op == "oplock" && granted && want.is_success();
                if !oplock_granted && !matches(expected, &actual) {
                    mismatch(actual);
                }
            } else if let Some(code) = previous.win32_error {
                result.checked.push(field.clone());
                if to_dos(want) != code {
                    mismatch(json!({"win32_error": code}));
                }
            } else {
                result.unchecked.push(Unchecked {
                    field: field.clone(),
                    reason: unobserved_reason(field),
                });
            }
            continue;
        }
        let Some(actual) = previous.observed.get(field) else {
            result.unchecked.push(Unchecked {
                field: field.clone(),
                reason: unobserved_reason(field),
            });
            continue;
        };
        result.checked.push(field.clone());
        let expected_here = if field == "breaks" {
            device_breaks(expected)
        } else {
            expected.clone()
        };
        if !matches(&expected_here, actual) {
            mismatch(actual.clone());
        }
    }
    result
}
