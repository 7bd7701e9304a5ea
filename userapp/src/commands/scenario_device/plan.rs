//! Which steps user mode can perform, as what, and why the others are skipped.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use ferrofilter_sim::scenario::language::{self, Entry, Level, OpenStep, Requestor, Step};
use serde_json::{Map, Value};

use super::{CACHE_HANDLE, CACHE_READ, CACHE_WRITE, InfoClass, OnBreak};

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
