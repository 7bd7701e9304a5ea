//! The device side of `scenario run`, the parts that run anywhere: which steps user mode can
//! perform and why the others are skipped ([`plan`]), the records the device produces
//! ([`DeviceRecord`]), and how an `expect` is evaluated against what the device observed
//! ([`evaluate_expect`]). The Windows code that performs the steps is in `scenario_device_win.rs`.
//!
//! A field is compared only when the device step observed it: the record carries exactly the
//! fields it observed, and every other expected field is listed as unchecked with the reason.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use ferrofilter_core::NtStatus;
use ferrofilter_sim::scenario::expect::matches;
use ferrofilter_sim::scenario::language::{self, Entry, Level, OpenStep, Requestor, Step};
pub use ferrofilter_sim::scenario::language::{InfoClass, OnBreak};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// `OPLOCK_LEVEL_CACHE_READ` (winioctl.h).
pub const CACHE_READ: u32 = 1;
/// `OPLOCK_LEVEL_CACHE_HANDLE`.
pub const CACHE_HANDLE: u32 = 2;
/// `OPLOCK_LEVEL_CACHE_WRITE`.
pub const CACHE_WRITE: u32 = 4;
/// The transfer unit of non-cached I/O on the device: a multiple of every common sector size
/// (512 and 4096), so offsets, lengths and buffers aligned to it satisfy `FILE_FLAG_NO_BUFFERING`.
pub const SECTOR: usize = 4096;

/// `CreateFileW`'s dispositions that match an NT create disposition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// `OPEN_EXISTING` (`FILE_OPEN`).
    OpenExisting,
    /// `CREATE_NEW` (`FILE_CREATE`).
    CreateNew,
    /// `OPEN_ALWAYS` (`FILE_OPEN_IF`).
    OpenAlways,
    /// `TRUNCATE_EXISTING` (`FILE_OVERWRITE`).
    TruncateExisting,
    /// `CREATE_ALWAYS` (`FILE_OVERWRITE_IF`).
    CreateAlways,
}

/// A step the device performs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceStep {
    /// `CreateFileW`, or `CfOpenFileWithOplock` with `cf_flags`.
    Open {
        /// Scenario handle name.
        handle: String,
        /// Relative path inside the run's directory.
        path: PathBuf,
        /// Desired access.
        access: u32,
        /// Share mode.
        share: u32,
        /// Disposition.
        disposition: Disposition,
        /// `CfOpenFileWithOplock` flags instead of access and share.
        cf_flags: Option<u32>,
        /// Open with `FILE_FLAG_NO_BUFFERING` (the handle does a non-cached write later).
        no_buffering: bool,
    },
    /// `FSCTL_REQUEST_OPLOCK` with these `OPLOCK_LEVEL_CACHE_*` bits.
    Oplock {
        /// Handle name.
        handle: String,
        /// Requested level bits.
        level: u32,
        /// What to do on a break that needs an acknowledgment.
        on_break: OnBreak,
    },
    /// `ReadFile`.
    Read {
        /// Handle name.
        handle: String,
        /// Byte offset.
        offset: u64,
        /// Bytes.
        length: u32,
    },
    /// `WriteFile`.
    Write {
        /// Handle name.
        handle: String,
        /// Byte offset.
        offset: u64,
        /// Bytes to write.
        data: Vec<u8>,
        /// Through a `FILE_FLAG_NO_BUFFERING` handle, whole sectors.
        non_cached: bool,
    },
    /// `SetFileInformationByHandle`.
    SetInformation {
        /// Handle name.
        handle: String,
        /// Class.
        class: InfoClass,
        /// New size (end of file or allocation).
        size: u64,
    },
    /// `FSCTL_SET_PURGE_FAILURE_MODE` from user mode (`requestor: user`).
    SetPurgeFailureModeUser {
        /// Handle name.
        handle: String,
        /// The input buffer.
        input: Vec<u8>,
    },
    /// `QUERY_KEYS` on the control device.
    QueryKeys {
        /// Handle name, or
        handle: Option<String>,
        /// a raw handle value.
        handle_value: Option<u64>,
    },
    /// `PURGE_REQUEST` on the control device.
    Purge {
        /// Handle name.
        handle: String,
    },
    /// `INSPECT` on the control device: the driver reads through the handle's own file object.
    Inspect {
        /// Handle name.
        handle: String,
        /// Byte offset.
        offset: u64,
        /// Bytes to read.
        length: u32,
    },
    /// `PURGE_STATUS` on the control device.
    PurgeStatus,
    /// `CloseHandle` / `CfCloseHandle`.
    Close {
        /// Handle name.
        handle: String,
    },
}

/// What the device does with one step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Performed, in order.
    Perform(DeviceStep),
    /// An `expect`: the fields to check, evaluated against the device record of step `of` (the
    /// step its `of` label names, or the previous one).
    Expect {
        /// What to check.
        fields: Map<String, Value>,
        /// The step it checks.
        of: Option<usize>,
    },
    /// Not performed, and why.
    Skip(String),
}

/// The `OPLOCK_LEVEL_CACHE_*` bits of a scenario level; `None` for the legacy levels.
#[must_use]
pub const fn cache_level(level: Level) -> Option<u32> {
    match level {
        Level::Read => Some(CACHE_READ),
        Level::ReadHandle => Some(CACHE_READ | CACHE_HANDLE),
        Level::ReadWrite => Some(CACHE_READ | CACHE_WRITE),
        Level::ReadWriteHandle => Some(CACHE_READ | CACHE_WRITE | CACHE_HANDLE),
        Level::Level1 | Level::Batch | Level::Level2 => None,
    }
}

/// The scenario's name of `OPLOCK_LEVEL_CACHE_*` bits: `R`, `RH`, `RW`, `RWH` or `none`.
#[must_use]
pub fn level_name(bits: u32) -> String {
    if bits & CACHE_READ == 0 {
        return if bits == 0 {
            "none".to_owned()
        } else {
            format!("0x{bits:X}")
        };
    }
    let mut name = String::from("R");
    if bits & CACHE_WRITE != 0 {
        name.push('W');
    }
    if bits & CACHE_HANDLE != 0 {
        name.push('H');
    }
    name
}

/// A scenario path as a relative path that stays inside the run's directory, or why not.
///
/// # Errors
/// The reason, for an absolute path, a drive or UNC prefix, `..`, or an empty path.
pub fn safe_relative(path: &str) -> Result<PathBuf, String> {
    let candidate = Path::new(path);
    let mut clean = PathBuf::new();
    for component in candidate.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            _ => {
                return Err(format!(
                    "path `{path}` is not a plain relative path; files are only created in the \
                     run's fresh directory"
                ));
            }
        }
    }
    // `Path` on Linux does not know `C:` or `\`; refuse them everywhere.
    if clean.as_os_str().is_empty() || path.contains(':') || path.contains('\\') {
        return Err(format!(
            "path `{path}` is not a plain relative path; files are only created in the run's \
             fresh directory"
        ));
    }
    Ok(clean)
}

const KERNEL_ONLY: &str = "needs a kernel-mode caller: Filter Manager sends it around its \
                           data-scan section; user mode cannot";

/// Why the device skips this step outright (before looking at its handle).
fn skip_reason(step: &Step) -> Option<String> {
    Some(match step {
        Step::BeginDataScan { .. } | Step::EndDataScan { .. } | Step::EndSection { .. } => {
            KERNEL_ONLY.to_owned()
        }
        Step::MapSection { .. } | Step::UnmapSection { .. } => "a user mapping needs \
             CreateFileMappingW / MapViewOfFile, which this build does not link (windows-rs \
             Win32_System_Memory is not enabled)"
            .to_owned(),
        Step::InspectNewHandle { .. } => "the sim's negative control: a kernel component \
             opening a handle of its own and reading through it (in user mode: an `open` and a \
             `read`)"
            .to_owned(),
        Step::OwnerOpen { .. }
        | Step::OwnerClose { .. }
        | Step::Forward { .. }
        | Step::CancelGroup { .. }
        | Step::Complete { .. } => "tracker steps need a pipe target that completes on \
             request, which the sim provides; on the device use `ferroctl forward`, \
             `cancel-group` and `list`"
            .to_owned(),
        Step::SetDisposition { .. } | Step::Rename { .. } => "the device backend does not send \
             SetFileInformationByHandle's FileDispositionInfo / FileRenameInfo yet; the sim \
             models them"
            .to_owned(),
        Step::Lock { .. } | Step::Unlock { .. } => "the device backend does not call \
             LockFileEx / UnlockFileEx yet; the sim models byte-range locks"
            .to_owned(),
        Step::Write {
            mode: language::WriteMode::Paging,
            ..
        } => "paging I/O is sent by the cache manager and memory manager, not by an application"
            .to_owned(),
        Step::Detach {} => "would detach the filter instance from the volume for every process; \
             ferroctl does not do that from a scenario"
            .to_owned(),
        Step::FsctlSetPurgeFailureMode {
            requestor: Requestor::Kernel,
            ..
        } => format!("FSCTL_SET_PURGE_FAILURE_MODE with requestor `kernel` {KERNEL_ONLY}"),
        Step::FsctlSetPurgeFailureMode {
            below_filter: true, ..
        } => "an FSCTL sent below the filter needs a kernel component attached lower on the \
             volume"
            .to_owned(),
        Step::FsctlSetPurgeFailureMode { repeat, .. } if repeat.0 != 1 => {
            "the device backend sends one FSCTL per step".to_owned()
        }
        Step::Ack { .. } => "an acknowledgment (FSCTL_REQUEST_OPLOCK with \
             REQUEST_OPLOCK_INPUT_FLAG_ACK) answers the holder's break notification, which the \
             device backend answers itself as the oplock's `on_break` says; it does not perform \
             `ack` steps"
            .to_owned(),
        Step::Oplock {
            on_break: OnBreak::Wait,
            ..
        } => "`on_break: wait` leaves a break unacknowledged until an `ack` step, which the \
             device backend does not perform; on Windows the breaking operation would wait \
             forever (the local file system has no oplock timeout)"
            .to_owned(),
        Step::Oplock { level, .. } if cache_level(*level).is_none() => format!(
            "legacy oplock `{}` needs its own FSCTL and acknowledgment protocol; the device \
             backend requests only R/RH/RW/RWH (FSCTL_REQUEST_OPLOCK)",
            level_text(*level)
        ),
        _ => return None,
    })
}

/// A legacy level's scenario name.
const fn level_text(level: Level) -> &'static str {
    match level {
        Level::Level1 => "level1",
        Level::Batch => "batch",
        Level::Level2 => "level2",
        Level::Read => "R",
        Level::ReadHandle => "RH",
        Level::ReadWrite => "RW",
        Level::ReadWriteHandle => "RWH",
    }
}

/// The device step for a step user mode can perform (every skip already decided).
fn device_step(step: &Step) -> Option<DeviceStep> {
    Some(match step {
        Step::Oplock {
            handle,
            level,
            on_break,
        } => DeviceStep::Oplock {
            handle: handle.0.clone(),
            level: cache_level(*level)?,
            on_break: *on_break,
        },
        Step::Read {
            handle,
            offset,
            length,
        } => DeviceStep::Read {
            handle: handle.0.clone(),
            offset: offset.0,
            length: length.0,
        },
        Step::Write {
            handle,
            offset,
            data,
            mode,
        } => DeviceStep::Write {
            handle: handle.0.clone(),
            offset: offset.0,
            data: data.as_bytes().to_vec(),
            non_cached: *mode == language::WriteMode::NonCached,
        },
        Step::SetInformation {
            handle,
            class,
            size,
        } => DeviceStep::SetInformation {
            handle: handle.0.clone(),
            class: *class,
            size: size.0,
        },
        Step::FsctlSetPurgeFailureMode {
            handle,
            flags,
            input_size,
            ..
        } => DeviceStep::SetPurgeFailureModeUser {
            handle: handle.0.clone(),
            input: language::purge_failure_input(*flags, *input_size),
        },
        Step::QueryKeys {
            handle,
            handle_value,
        } => DeviceStep::QueryKeys {
            handle: handle.as_ref().map(|h| h.0.clone()),
            handle_value: handle_value.map(|v| v.0),
        },
        Step::Purge { handle } => DeviceStep::Purge {
            handle: handle.0.clone(),
        },
        Step::Inspect {
            handle,
            offset,
            length,
        } => DeviceStep::Inspect {
            handle: handle.0.clone(),
            offset: offset.0,
            length: length.0,
        },
        Step::PurgeStatus {} => DeviceStep::PurgeStatus,
        Step::Close { handle } => DeviceStep::Close {
            handle: handle.0.clone(),
        },
        _ => return None,
    })
}

/// The plan for every step, in order, over the parsed file (`scenario::parse`, the one
/// definition of the format); this only decides perform or skip.
#[must_use]
pub fn plan(steps: &[Entry]) -> Vec<Plan> {
    // Handle names open on the device (by planning), mapped to the index of their open.
    let mut open: BTreeMap<String, usize> = BTreeMap::new();
    // Why a handle name is not open on the device, when its open was skipped.
    let mut not_opened: BTreeMap<String, String> = BTreeMap::new();
    let mut plans: Vec<Plan> = Vec::with_capacity(steps.len());
    // Opens that must use FILE_FLAG_NO_BUFFERING, and the steps that then cannot run cached.
    let mut no_buffering: Vec<usize> = Vec::new();
    let mut buffered_on: Vec<(usize, usize)> = Vec::new();

    for (index, entry) in steps.iter().enumerate() {
        let step = &entry.step;
        if let Step::Expect(expect) = step {
            plans.push(Plan::Expect {
                fields: expect.fields.clone(),
                of: entry.checks,
            });
            continue;
        }
        if let Some(reason) = skip_reason(step) {
            plans.push(Plan::Skip(reason));
            continue;
        }
        let name = step.handle().map(|h| h.0.clone()).unwrap_or_default();
        if let Step::Open(step) = step {
            let planned = open_plan(step);
            match &planned {
                Plan::Perform(_) => {
                    open.insert(name.clone(), index);
                    not_opened.remove(&name);
                }
                Plan::Skip(why) => {
                    open.remove(&name);
                    not_opened.insert(name.clone(), why.clone());
                }
                Plan::Expect { .. } => {}
            }
            plans.push(planned);
            continue;
        }
        // Steps on a handle whose open was skipped are skipped too.
        if let Some(why) = not_opened.get(&name) {
            plans.push(Plan::Skip(format!(
                "handle `{name}` was not opened on the device ({why})"
            )));
            continue;
        }
        let Some(planned) = device_step(step) else {
            plans.push(Plan::Skip(format!(
                "`{}` has no user-mode equivalent",
                entry.op
            )));
            continue;
        };
        match &planned {
            DeviceStep::Write { non_cached, .. } => {
                if let Some(&at) = open.get(&name) {
                    if *non_cached {
                        no_buffering.push(at);
                    } else {
                        buffered_on.push((index, at));
                    }
                }
            }
            DeviceStep::Read { .. } => {
                if let Some(&at) = open.get(&name) {
                    buffered_on.push((index, at));
                }
            }
            _ => {}
        }
        plans.push(Plan::Perform(planned));
    }

    for at in &no_buffering {
        if let Some(Plan::Perform(DeviceStep::Open {
            no_buffering: flag, ..
        })) = plans.get_mut(*at)
        {
            *flag = true;
        }
    }
    for (index, at) in buffered_on {
        if no_buffering.contains(&at)
            && let Some(slot) = plans.get_mut(index)
        {
            *slot = Plan::Skip(format!(
                "the handle was opened with FILE_FLAG_NO_BUFFERING (step {at}) for its \
                 non-cached write; Windows decides buffering per handle, so cached I/O on it \
                 cannot be performed"
            ));
        }
    }
    plans
}

fn open_plan(step: &OpenStep) -> Plan {
    if !step.ecps.is_empty() {
        return Plan::Skip(
            "an open carrying ECPs needs a kernel-mode caller (FltCreateFileEx2 / \
             IoCreateFileEx with an ECP list); CreateFileW cannot attach them"
                .to_owned(),
        );
    }
    if step.delete_on_close {
        return Plan::Skip(
            "FILE_DELETE_ON_CLOSE would delete the file when the run closes the handle; the \
             device backend opens without it"
                .to_owned(),
        );
    }
    if step.reserve_opfilter {
        return Plan::Skip(
            "FILE_RESERVE_OPFILTER is an NtCreateFile option CreateFileW does not expose"
                .to_owned(),
        );
    }
    if step.requiring_oplock || step.complete_if_oplocked {
        return Plan::Skip(
            "FILE_OPEN_REQUIRING_OPLOCK and FILE_COMPLETE_IF_OPLOCKED are NtCreateFile options \
             CreateFileW does not expose"
                .to_owned(),
        );
    }
    match step.kind {
        language::Kind::Directory => {
            return Plan::Skip(
                "directory opens (which create a directory in the sim) are not performed by the \
                 device backend"
                    .to_owned(),
            );
        }
        language::Kind::Volume => {
            return Plan::Skip(
                "would open the volume itself, outside the run's directory".to_owned(),
            );
        }
        language::Kind::File => {}
    }
    let disposition = match step.disposition {
        language::Disposition::Supersede => {
            return Plan::Skip("CreateFileW has no FILE_SUPERSEDE disposition".to_owned());
        }
        language::Disposition::Open => Disposition::OpenExisting,
        language::Disposition::Create => Disposition::CreateNew,
        language::Disposition::OpenIf => Disposition::OpenAlways,
        language::Disposition::Overwrite => Disposition::TruncateExisting,
        language::Disposition::OverwriteIf => Disposition::CreateAlways,
    };
    let path = match safe_relative(&step.path) {
        Ok(path) => path,
        Err(why) => return Plan::Skip(why),
    };
    if step.cf_flags.is_some() && step.on_break.is_some() {
        return Plan::Skip(
            "`on_break` on a cf_flags open: the platform holds a CfOpenFileWithOplock handle's \
             oplock and decides what happens on a break"
                .to_owned(),
        );
    }
    let params = step.params();
    Plan::Perform(DeviceStep::Open {
        handle: step.handle.0.clone(),
        path,
        access: params.desired_access,
        share: params.share_access,
        disposition,
        cf_flags: step.cf_flags.map(|f| f.0),
        no_buffering: false,
    })
}

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

/// An `expect` evaluated on the device.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExpectResult {
    /// Fields compared.
    pub checked: Vec<String>,
    /// `{"field", "expected", "actual"}` for each compared field that did not match.
    pub mismatches: Vec<Value>,
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
            result.mismatches.push(json!({
                "field": field, "expected": expected, "actual": actual
            }));
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

/// For each step, whether the device sees every oplock the scenario holds at that point: only
/// then are `breaks` and `oplock` observed. It stops being complete after a skipped `oplock` step
/// or a skipped or performed `cf_flags` open (the platform holds that oplock, not the run).
#[must_use]
pub fn oplock_views(plans: &[Plan], steps: &[Entry]) -> Vec<bool> {
    let mut complete = true;
    plans
        .iter()
        .zip(steps)
        .map(|(plan, entry)| {
            let cf_open = matches!(&entry.step, Step::Open(open) if open.cf_flags.is_some());
            let skipped_oplock =
                matches!(entry.step, Step::Oplock { .. }) && matches!(plan, Plan::Skip(_));
            if cf_open || skipped_oplock {
                complete = false;
            }
            complete
        })
        .collect()
}

/// Performs the steps user mode can perform on one backend (the device on Windows).
pub trait Performer {
    /// Performs one step and returns what it observed, or why it could not be performed after
    /// all (for example a handle that is not open).
    ///
    /// # Errors
    /// The reason the step was not performed.
    fn perform(
        &mut self,
        index: usize,
        op: &str,
        step: &DeviceStep,
    ) -> Result<DeviceRecord, String>;

    /// The Win32 error an NTSTATUS becomes (`RtlNtStatusToDosError`).
    fn to_dos(&self, status: NtStatus) -> u32;
}

/// One step's outcome on the device.
#[derive(Clone, Debug, PartialEq)]
pub enum DeviceOutcome {
    /// Performed (an `expect` is performed when it compared at least one field).
    Performed(DeviceRecord),
    /// Not performed, and why.
    Skipped(String),
}

/// Runs the plan in order: performs, evaluates `expect`s against the previous step's record,
/// and reports every other step as skipped with its reason.
pub fn drive(plans: &[Plan], ops: &[String], performer: &mut dyn Performer) -> Vec<DeviceOutcome> {
    let mut outcomes: Vec<DeviceOutcome> = Vec::with_capacity(plans.len());
    for (index, plan) in plans.iter().enumerate() {
        let op = ops.get(index).map_or("", String::as_str);
        let outcome = match plan {
            Plan::Skip(why) => DeviceOutcome::Skipped(why.clone()),
            Plan::Perform(step) => match performer.perform(index, op, step) {
                Ok(record) => DeviceOutcome::Performed(record),
                Err(why) => DeviceOutcome::Skipped(why),
            },
            Plan::Expect { fields, of } => match of
                .filter(|&at| at < index)
                .and_then(|at| outcomes.get(at).map(|outcome| (at, outcome)))
            {
                Some((_, DeviceOutcome::Performed(previous))) => {
                    let to_dos = |status| performer.to_dos(status);
                    let result = evaluate_expect(fields, previous, &to_dos);
                    if result.checked.is_empty() {
                        let why: Vec<String> = result
                            .unchecked
                            .iter()
                            .map(|u| format!("`{}`: {}", u.field, u.reason))
                            .collect();
                        DeviceOutcome::Skipped(format!(
                            "no expected field was observed by the device: {}",
                            why.join("; ")
                        ))
                    } else {
                        let status = if result.passed() {
                            NtStatus::SUCCESS
                        } else {
                            NtStatus::UNSUCCESSFUL
                        };
                        let mut record = DeviceRecord::new(index, op, StatusSeen::Nt(status));
                        record
                            .observed
                            .insert("passed".into(), Value::Bool(result.passed()));
                        record
                            .observed
                            .insert("checked".into(), json!(result.checked));
                        record
                            .observed
                            .insert("mismatches".into(), Value::Array(result.mismatches));
                        record
                            .observed
                            .insert("unchecked".into(), json!(result.unchecked));
                        DeviceOutcome::Performed(record)
                    }
                }
                Some((at, DeviceOutcome::Skipped(_))) => {
                    DeviceOutcome::Skipped(format!("checks step {at}, which was skipped"))
                }
                None => DeviceOutcome::Skipped("there is no step before it".to_owned()),
            },
        };
        outcomes.push(outcome);
    }
    outcomes
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrofilter_model::oplock::{access, share};

    fn steps(text: &str) -> Vec<Entry> {
        ferrofilter_sim::scenario::parse(text).unwrap()
    }

    fn skip_reason(plan: &Plan) -> &str {
        match plan {
            Plan::Skip(why) => why,
            other => panic!("not skipped: {other:?}"),
        }
    }

    #[test]
    fn acknowledgments_waiting_holders_and_oplock_create_options_are_skipped() {
        let plans = plan(&steps(
            r#"{"steps": [
                {"op": "open", "handle": "h", "path": "a.txt"},
                {"op": "oplock", "handle": "h", "level": "RWH", "on_break": "wait"},
                {"op": "ack", "handle": "h", "level": "RH"},
                {"op": "open", "handle": "r", "path": "a.txt", "requiring_oplock": true},
                {"op": "open", "handle": "c", "path": "a.txt", "complete_if_oplocked": true},
                {"op": "oplock", "handle": "h", "level": "RWH"}
            ]}"#,
        ));
        assert!(matches!(plans[0], Plan::Perform(_)));
        assert!(skip_reason(&plans[1]).contains("`on_break: wait`"));
        assert!(skip_reason(&plans[2]).contains("REQUEST_OPLOCK_INPUT_FLAG_ACK"));
        assert!(skip_reason(&plans[3]).contains("FILE_OPEN_REQUIRING_OPLOCK"));
        assert!(skip_reason(&plans[4]).contains("FILE_COMPLETE_IF_OPLOCKED"));
        // Control: the same request acknowledged by the backend is performed.
        assert!(matches!(plans[5], Plan::Perform(DeviceStep::Oplock { .. })));
    }

    #[test]
    fn user_mode_steps_are_performed_and_kernel_ones_skipped() {
        let plans = plan(&steps(
            r#"{"steps": [
                {"op": "open", "handle": "h", "path": "a.txt", "access": "read_data|write_data", "share": "read"},
                {"op": "expect", "status": "0x00000000"},
                {"op": "oplock", "handle": "h", "level": "RWH"},
                {"op": "read", "handle": "h", "length": 4},
                {"op": "write", "handle": "h", "data": "abc"},
                {"op": "set_information", "handle": "h", "size": 2},
                {"op": "fsctl_set_purge_failure_mode", "handle": "h", "flags": "enable"},
                {"op": "fsctl_set_purge_failure_mode", "handle": "h", "flags": "enable", "requestor": "user"},
                {"op": "begin_data_scan", "handle": "h"},
                {"op": "inspect", "handle": "h"},
                {"op": "map_section", "handle": "h"},
                {"op": "query_keys", "handle": "h"},
                {"op": "purge", "handle": "h"},
                {"op": "purge_status"},
                {"op": "close", "handle": "h"},
                {"op": "detach"}
            ]}"#,
        ));
        assert_eq!(
            plans[0],
            Plan::Perform(DeviceStep::Open {
                handle: "h".into(),
                path: PathBuf::from("a.txt"),
                access: access::FILE_READ_DATA | access::FILE_WRITE_DATA,
                share: share::FILE_SHARE_READ,
                disposition: Disposition::OpenAlways,
                cf_flags: None,
                no_buffering: false,
            })
        );
        assert!(
            matches!(plans[1], Plan::Expect { ref fields, of: Some(0) } if fields.contains_key("status"))
        );
        assert_eq!(
            plans[2],
            Plan::Perform(DeviceStep::Oplock {
                handle: "h".into(),
                level: 7,
                on_break: OnBreak::Acknowledge
            })
        );
        for index in [3, 4, 5, 7, 11, 12, 13, 14] {
            assert!(matches!(plans[index], Plan::Perform(_)), "{index}");
        }
        assert!(skip_reason(&plans[6]).contains("kernel"));
        assert_eq!(
            plans[7],
            Plan::Perform(DeviceStep::SetPurgeFailureModeUser {
                handle: "h".into(),
                input: vec![1, 0, 0, 0]
            })
        );
        assert!(skip_reason(&plans[8]).contains("kernel-mode"));
        assert_eq!(
            plans[9],
            Plan::Perform(DeviceStep::Inspect {
                handle: "h".into(),
                offset: 0,
                length: 16
            })
        );
        assert!(skip_reason(&plans[10]).contains("MapViewOfFile"));
        assert!(skip_reason(&plans[15]).contains("detach"));
    }

    #[test]
    fn a_skipped_open_skips_the_steps_on_its_handle_until_reopened() {
        let plans = plan(&steps(
            r#"{"steps": [
                {"op": "open", "handle": "k", "path": "a", "ecps": [{"type": "oplock_key", "key": "aaaaaaaa-0000-0000-0000-00000000000a"}]},
                {"op": "read", "handle": "k"},
                {"op": "close", "handle": "k"},
                {"op": "open", "handle": "k", "path": "a"},
                {"op": "read", "handle": "k"}
            ]}"#,
        ));
        assert!(skip_reason(&plans[0]).contains("ECP"));
        assert!(skip_reason(&plans[1]).contains("handle `k` was not opened"));
        assert!(skip_reason(&plans[1]).contains("ECP"));
        assert!(skip_reason(&plans[2]).contains("handle `k` was not opened"));
        assert!(matches!(plans[3], Plan::Perform(DeviceStep::Open { .. })));
        assert!(matches!(plans[4], Plan::Perform(DeviceStep::Read { .. })));
    }

    #[test]
    fn a_non_cached_write_opens_its_handle_unbuffered_and_skips_cached_io_on_it() {
        let plans = plan(&steps(
            r#"{"steps": [
                {"op": "open", "handle": "w", "path": "a", "access": "read_data|write_data"},
                {"op": "write", "handle": "w", "data": "cached"},
                {"op": "write", "handle": "w", "data": "direct", "mode": "non_cached"},
                {"op": "open", "handle": "other", "path": "a"},
                {"op": "read", "handle": "other"}
            ]}"#,
        ));
        assert!(matches!(
            plans[0],
            Plan::Perform(DeviceStep::Open {
                no_buffering: true,
                ..
            })
        ));
        assert!(skip_reason(&plans[1]).contains("FILE_FLAG_NO_BUFFERING (step 0)"));
        assert!(matches!(
            plans[2],
            Plan::Perform(DeviceStep::Write {
                non_cached: true,
                ..
            })
        ));
        assert!(matches!(
            plans[3],
            Plan::Perform(DeviceStep::Open {
                no_buffering: false,
                ..
            })
        ));
        assert!(matches!(plans[4], Plan::Perform(DeviceStep::Read { .. })));
    }

    #[test]
    fn opens_windows_cannot_express_are_skipped_with_the_reason() {
        let plans = plan(&steps(
            r#"{"steps": [
                {"op": "open", "handle": "a", "path": "a", "disposition": "supersede"},
                {"op": "open", "handle": "b", "path": "d", "kind": "directory"},
                {"op": "open", "handle": "c", "path": "v", "kind": "volume"},
                {"op": "open", "handle": "d", "path": "a", "reserve_opfilter": true},
                {"op": "open", "handle": "e", "path": "../escape.txt"},
                {"op": "open", "handle": "f", "path": "C:\\Windows\\x"},
                {"op": "open", "handle": "g", "path": "x", "cf_flags": 3},
                {"op": "oplock", "handle": "g", "level": "batch"}
            ]}"#,
        ));
        assert!(skip_reason(&plans[0]).contains("FILE_SUPERSEDE"));
        assert!(skip_reason(&plans[1]).contains("directory"));
        assert!(skip_reason(&plans[2]).contains("volume"));
        assert!(skip_reason(&plans[3]).contains("FILE_RESERVE_OPFILTER"));
        assert!(skip_reason(&plans[4]).contains("not a plain relative path"));
        assert!(skip_reason(&plans[5]).contains("not a plain relative path"));
        assert!(matches!(
            plans[6],
            Plan::Perform(DeviceStep::Open {
                cf_flags: Some(3),
                ..
            })
        ));
        assert!(skip_reason(&plans[7]).contains("legacy oplock"));
    }

    #[test]
    fn safe_relative_keeps_plain_names_only() {
        assert_eq!(safe_relative("a/b.txt"), Ok(PathBuf::from("a/b.txt")));
        assert_eq!(safe_relative("./c"), Ok(PathBuf::from("c")));
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "C:x",
            "\\\\server\\s",
            ".",
        ] {
            assert!(safe_relative(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn level_names_round_trip() {
        for (level, name) in [
            (Level::Read, "R"),
            (Level::ReadHandle, "RH"),
            (Level::ReadWrite, "RW"),
            (Level::ReadWriteHandle, "RWH"),
        ] {
            assert_eq!(level_name(cache_level(level).unwrap()), name);
        }
        assert_eq!(level_name(0), "none");
        assert_eq!(cache_level(Level::Level2), None);
    }

    fn fake_dos(status: NtStatus) -> u32 {
        match status {
            NtStatus::SUCCESS => 0,
            NtStatus::SHARING_VIOLATION => 32,
            NtStatus::INVALID_PARAMETER => 87,
            _ => 317,
        }
    }

    fn fields(value: Value) -> Map<String, Value> {
        let Value::Object(map) = value else {
            panic!("not an object: {value}")
        };
        map
    }

    #[test]
    fn exact_statuses_compare_exactly_and_win32_ones_through_the_dos_mapping() {
        let exact = DeviceRecord::new(3, "query_keys", StatusSeen::Nt(NtStatus::INVALID_HANDLE));
        let result = evaluate_expect(
            &fields(json!({"status_name": "STATUS_INVALID_HANDLE", "status": "0xC0000008"})),
            &exact,
            &fake_dos,
        );
        assert!(result.passed(), "{result:?}");
        assert_eq!(result.checked.len(), 2);
        let result = evaluate_expect(
            &fields(json!({"status_name": "STATUS_NOT_FOUND"})),
            &exact,
            &fake_dos,
        );
        assert!(!result.passed());

        let win32 = DeviceRecord::new(1, "open", StatusSeen::Win32(32));
        let ok = evaluate_expect(
            &fields(json!({"status_name": "STATUS_SHARING_VIOLATION"})),
            &win32,
            &fake_dos,
        );
        assert!(ok.passed());
        let bad = evaluate_expect(&fields(json!({"status": "0x00000000"})), &win32, &fake_dos);
        assert_eq!(
            bad.mismatches,
            vec![
                json!({"field": "status", "expected": "0x00000000", "actual": {"win32_error": 32}})
            ]
        );
    }

    #[test]
    fn unobserved_fields_are_unchecked_with_the_reason_never_compared() {
        let mut record = DeviceRecord::new(2, "write", StatusSeen::Win32(0));
        record.observed.insert("breaks".into(), json!([]));
        let result = evaluate_expect(
            &fields(json!({"status": "0x00000000", "breaks": [], "purge_count": 1, "retried": 0})),
            &record,
            &fake_dos,
        );
        assert!(result.passed());
        assert_eq!(result.checked, vec!["breaks", "status"]);
        let unchecked: Vec<&str> = result.unchecked.iter().map(|u| u.field.as_str()).collect();
        assert_eq!(unchecked, vec!["purge_count", "retried"]);
        assert!(
            result.unchecked[0]
                .reason
                .contains("user mode does not see it")
        );

        let timed_out = DeviceRecord::new(2, "open", StatusSeen::TimedOut);
        let result = evaluate_expect(
            &fields(json!({"status": "0x00000000"})),
            &timed_out,
            &fake_dos,
        );
        assert!(result.checked.is_empty());
        assert_eq!(result.unchecked.len(), 1);
    }

    #[test]
    fn breaks_compare_ack_as_ack_required() {
        let mut record = DeviceRecord::new(4, "open", StatusSeen::Win32(0));
        record.observed.insert(
            "breaks".into(),
            json!([{"handle": "owner", "from": "RWH", "to": "RH", "ack_required": true, "owner_closed": false}]),
        );
        for (ack, passes) in [("wait", true), ("no_wait", true), ("none", false)] {
            let result = evaluate_expect(
                &fields(
                    json!({"breaks": [{"handle": "owner", "from": "RWH", "to": "RH", "ack": ack}]}),
                ),
                &record,
                &fake_dos,
            );
            assert_eq!(result.passed(), passes, "{ack}");
        }
        let result = evaluate_expect(&fields(json!({"breaks": []})), &record, &fake_dos);
        assert!(!result.passed());
    }

    #[test]
    fn a_granted_oplock_request_pends_and_matches_the_sims_success() {
        let mut record = DeviceRecord::new(2, "oplock", StatusSeen::Nt(NtStatus::PENDING));
        record.observed.insert("granted".into(), Value::Bool(true));
        let result = evaluate_expect(&fields(json!({"status": "0x00000000"})), &record, &fake_dos);
        assert!(result.passed());
        record.observed.insert("granted".into(), Value::Bool(false));
        let result = evaluate_expect(&fields(json!({"status": "0x00000000"})), &record, &fake_dos);
        assert!(!result.passed());
    }

    #[test]
    fn expected_statuses_parse_from_hex_and_names() {
        assert_eq!(
            expected_status("status", &json!("0xC0000043")),
            Some(NtStatus::SHARING_VIOLATION)
        );
        assert_eq!(
            expected_status("status_name", &json!("STATUS_OPLOCK_NOT_GRANTED")),
            Some(NtStatus::OPLOCK_NOT_GRANTED)
        );
        assert_eq!(expected_status("status_name", &json!("STATUS_NOPE")), None);
    }

    /// Answers every step with its index as a Win32 error, except that handle `gone` is not open.
    struct Fake(Vec<usize>);

    impl Performer for Fake {
        fn perform(
            &mut self,
            index: usize,
            op: &str,
            step: &DeviceStep,
        ) -> Result<DeviceRecord, String> {
            if let DeviceStep::Read { handle, .. } = step
                && handle == "gone"
            {
                return Err("handle `gone` is not open".to_owned());
            }
            self.0.push(index);
            let mut record = DeviceRecord::new(index, op, StatusSeen::Win32(0));
            record.observed.insert("breaks".into(), json!([]));
            Ok(record)
        }

        fn to_dos(&self, status: NtStatus) -> u32 {
            fake_dos(status)
        }
    }

    #[test]
    fn drive_performs_in_order_and_reports_every_step() {
        let raw = steps(
            r#"{"steps": [
                {"op": "open", "handle": "h", "path": "a"},
                {"op": "expect", "status": "0x00000000", "breaks": [], "purge_count": 0},
                {"op": "begin_data_scan", "handle": "h"},
                {"op": "expect", "status": "0x00000000"},
                {"op": "read", "handle": "gone"},
                {"op": "write", "handle": "h"},
                {"op": "expect", "purge_count": 1},
                {"op": "close", "handle": "h"},
                {"op": "expect", "status_name": "STATUS_SHARING_VIOLATION"}
            ]}"#,
        );
        let ops: Vec<String> = raw.iter().map(|s| s.op.clone()).collect();
        let mut fake = Fake(Vec::new());
        let outcomes = drive(&plan(&raw), &ops, &mut fake);
        assert_eq!(outcomes.len(), raw.len());
        assert_eq!(fake.0, vec![0, 5, 7]);
        let DeviceOutcome::Performed(first) = &outcomes[1] else {
            panic!("{:?}", outcomes[1])
        };
        assert_eq!(first.observed["passed"], json!(true));
        assert_eq!(first.observed["checked"], json!(["breaks", "status"]));
        assert_eq!(
            first.observed["unchecked"][0]["field"],
            json!("purge_count")
        );
        assert!(matches!(&outcomes[2], DeviceOutcome::Skipped(why) if why.contains("kernel-mode")));
        assert!(
            matches!(&outcomes[3], DeviceOutcome::Skipped(why) if why == "checks step 2, which was skipped")
        );
        assert!(matches!(&outcomes[4], DeviceOutcome::Skipped(why) if why.contains("not open")));
        assert!(
            matches!(&outcomes[6], DeviceOutcome::Skipped(why) if why.starts_with("no expected field"))
        );
        let DeviceOutcome::Performed(last) = &outcomes[8] else {
            panic!("{:?}", outcomes[8])
        };
        assert_eq!(last.observed["passed"], json!(false));
        assert_eq!(last.status_name.as_deref(), Some("STATUS_UNSUCCESSFUL"));
    }

    #[test]
    fn an_expect_checks_the_step_its_label_names_on_the_device_too() {
        let raw = steps(
            r#"{"steps": [
                {"op": "open", "handle": "h", "path": "a", "label": "opened"},
                {"op": "write", "handle": "h"},
                {"op": "expect", "of": "opened", "breaks": {"not": [{"handle": "x"}]}},
                {"op": "expect", "of": "opened", "breaks": {"contains": {"handle": "x"}}}
            ]}"#,
        );
        let ops: Vec<String> = raw.iter().map(|s| s.op.clone()).collect();
        let plans = plan(&raw);
        assert!(
            matches!(plans[2], Plan::Expect { of: Some(0), ref fields } if !fields.contains_key("of"))
        );
        let mut fake = Fake(Vec::new());
        let outcomes = drive(&plans, &ops, &mut fake);
        let DeviceOutcome::Performed(passed) = &outcomes[2] else {
            panic!("{:?}", outcomes[2])
        };
        assert_eq!(passed.observed["passed"], json!(true));
        // Negative control: an element the record does not have is not "contained".
        let DeviceOutcome::Performed(failed) = &outcomes[3] else {
            panic!("{:?}", outcomes[3])
        };
        assert_eq!(failed.observed["passed"], json!(false));
    }

    #[test]
    fn oplock_views_end_at_the_first_oplock_the_device_does_not_hold() {
        let raw = steps(
            r#"{"steps": [
                {"op": "open", "handle": "a", "path": "a"},
                {"op": "oplock", "handle": "a", "level": "RWH"},
                {"op": "oplock", "handle": "a", "level": "batch"},
                {"op": "read", "handle": "a"}
            ]}"#,
        );
        assert_eq!(
            oplock_views(&plan(&raw), &raw),
            vec![true, true, false, false]
        );
        let raw =
            steps(r#"{"steps": [{"op": "open", "handle": "c", "path": "c", "cf_flags": 0}]}"#);
        assert_eq!(oplock_views(&plan(&raw), &raw), vec![false]);
    }
}
