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
    /// `LockFileEx` with `LOCKFILE_FAIL_IMMEDIATELY` (key 0, as `LockFileEx` gives it).
    Lock {
        /// Handle name.
        handle: String,
        /// First byte.
        offset: u64,
        /// Bytes.
        length: u64,
        /// `LOCKFILE_EXCLUSIVE_LOCK`.
        exclusive: bool,
    },
    /// `UnlockFileEx` (key 0).
    Unlock {
        /// Handle name.
        handle: String,
        /// First byte.
        offset: u64,
        /// Bytes.
        length: u64,
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
        Step::Lock { key, .. } | Step::Unlock { key, .. } if key.0 != 0 => "LockFileEx and \
             UnlockFileEx always pass lock key 0; another key needs NtLockFile, which the \
             device backend does not call"
            .to_owned(),
        Step::Lock {
            fail_immediately: false,
            ..
        } => "a lock request that waits completes only when a later step frees its range; the \
             device backend performs one step at a time and would wait for it here"
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
        Step::Lock {
            handle,
            offset,
            length,
            exclusive,
            ..
        } => DeviceStep::Lock {
            handle: handle.0.clone(),
            offset: offset.0,
            length: length.0,
            exclusive: *exclusive,
        },
        Step::Unlock {
            handle,
            offset,
            length,
            ..
        } => DeviceStep::Unlock {
            handle: handle.0.clone(),
            offset: offset.0,
            length: length.0,
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
                        // `checked`, `mismatches` and `unchecked`, as the result serializes.
                        if let Ok(Value::Object(fields)) = serde_json::to_value(&result) {
                            record.observed.extend(fields);
                        }
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
#[path = "scenario_device_tests.rs"]
mod tests;
