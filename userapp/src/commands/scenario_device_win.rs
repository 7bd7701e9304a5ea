//! Performing scenario steps on the real device (Windows).
//!
//! **Unverified here**: compiled only on Windows and never run; type-checked for
//! `x86_64-pc-windows-msvc` against the windows-rs 0.62 bindings, no more.
//!
//! Files are created in a fresh directory under `%TEMP%` and nowhere else; it is removed at the
//! end. Every file handle is opened for overlapped I/O so `FSCTL_REQUEST_OPLOCK` can pend; each
//! step runs on a worker thread while this thread watches the run's oplock requests, records their
//! breaks and acknowledges them (or closes the holder), so an open that waits for an
//! acknowledgment does not deadlock. Statuses: IOCTLs and overlapped I/O give the exact NTSTATUS
//! (`OVERLAPPED::Internal`); calls that fail before pending, `CreateFileW`,
//! `CfOpenFileWithOplock` and `SetFileInformationByHandle` give only a Win32 error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ferrofilter_core::NtStatus;
use ferrofilter_core::protocol::{
    self, HandleKeysInfo, InspectOutput, PURGE_OUTCOME_DONE, PURGE_OUTCOME_HELD,
    PurgeRequestOutput, ioctl,
};
use ferrofilter_sim::scenario::keys_info_json;
use serde_json::{Value, json};
use windows::Win32::Foundation::{NTSTATUS, RtlNtStatusToDosError};
use windows::Win32::Storage::CloudFilters::{
    CF_OPEN_FILE_FLAGS, CfGetWin32HandleFromProtectedHandle, CfOpenFileWithOplock,
};
use windows::Win32::Storage::FileSystem::{
    CreateFileW, FILE_FLAG_NO_BUFFERING, FILE_FLAG_OVERLAPPED, FILE_FLAGS_AND_ATTRIBUTES,
    FILE_SHARE_MODE, LOCKFILE_EXCLUSIVE_LOCK, LOCKFILE_FAIL_IMMEDIATELY, LockFileEx, ReadFile,
    UnlockFileEx, WriteFile,
};
use windows::Win32::System::IO::DeviceIoControl;
use windows::core::HSTRING;
use zerocopy::FromBytes;

use super::device::{
    self, DeviceOutcome, DeviceRecord, DeviceStep, Disposition, OnBreak, Performer, Plan, SECTOR,
    StatusSeen, level_name,
};
use crate::backend::{self, Backend, BackendKind};
use crate::error::CliError;
use crate::proto;
use crate::win_constants::{
    FSCTL_SET_PURGE_FAILURE_MODE, INPUT_FLAG_ACK, INPUT_FLAG_REQUEST, OUTPUT_FLAG_ACK_REQUIRED,
};

/// How long one step may take before it is reported as not finished.
const STEP_LIMIT: Duration = Duration::from_secs(10);
/// How long to keep watching for breaks after a step finished.
const SETTLE: Duration = Duration::from_millis(50);
/// How long to wait for an oplock request to complete after its handle was closed.
const GRACE: Duration = Duration::from_secs(2);
/// The value `query_keys` passes for a handle name that is not open (as the sim does).
const NOT_OPEN_VALUE: u64 = 0xDEAD_0000;

#[path = "scenario_device_win/io.rs"]
mod io;

use io::{
    Block, Handle, Kind, Open, OplockRequest, RawHandle, blocks_as_bytes, creation_disposition,
    overlapped_io, request_oplock, retire, set_information, win32_code,
};

struct WinPerformer {
    device: Box<dyn Backend>,
    dir: PathBuf,
    handles: BTreeMap<String, Open>,
    /// Oplock requests replaced by a newer request on the same handle, still in flight; boxed
    /// because the system writes their `OVERLAPPED` and output until they complete.
    #[expect(
        clippy::vec_box,
        reason = "an OVERLAPPED in flight must stay at one address"
    )]
    replaced: Vec<Box<OplockRequest>>,
    views: Vec<bool>,
}

/// Performs the plan on the device: opens `\\.\FerroFilter` (checking its protocol version),
/// creates the run's fresh directory, drives every step, then closes everything and removes the
/// directory.
///
/// # Errors
/// [`CliError::Unreachable`] when the device cannot be opened; [`CliError::Failed`] when the
/// directory cannot be created.
pub fn perform(
    plans: &[Plan],
    ops: &[String],
    views: &[bool],
) -> Result<Vec<DeviceOutcome>, CliError> {
    let device = backend::open(BackendKind::Device)?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir =
        std::env::temp_dir().join(format!("ferroctl-scenario-{}-{stamp}", std::process::id()));
    std::fs::create_dir(&dir)
        .map_err(|error| CliError::Failed(format!("creating {}: {error}", dir.display())))?;
    let mut performer = WinPerformer {
        device,
        dir,
        handles: BTreeMap::new(),
        replaced: Vec::new(),
        views: views.to_vec(),
    };
    let outcomes = device::drive(plans, ops, &mut performer);
    performer.finish();
    Ok(outcomes)
}

impl WinPerformer {
    fn finish(&mut self) {
        for (_, open) in std::mem::take(&mut self.handles) {
            let _ = open.close();
        }
        for request in self.replaced.drain(..) {
            retire(request);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    fn full_path(&self, path: &Path) -> HSTRING {
        HSTRING::from(self.dir.join(path).as_os_str())
    }

    /// Collects completed oplock requests as breaks, acknowledging each or closing its holder as
    /// the scenario said. `busy` is the handle the step in flight uses: it is never closed here.
    fn poll_breaks(&mut self, breaks: &mut Vec<Value>, busy: Option<&str>) {
        let mut to_close = Vec::new();
        for (name, open) in &mut self.handles {
            let finished = open
                .oplock
                .as_ref()
                .is_some_and(|request| request.done(Duration::ZERO));
            if !finished {
                continue;
            }
            let Some(request) = open.oplock.take() else {
                continue;
            };
            if !request.status().is_success() {
                // Cancelled or failed: the handle holds no oplock any more.
                open.level = 0;
                continue;
            }
            let from = request.output.original_oplock_level;
            let to = request.output.new_oplock_level;
            let ack = request.output.flags & OUTPUT_FLAG_ACK_REQUIRED != 0;
            let mut owner_closed = false;
            open.level = to;
            if ack {
                if open.on_break == OnBreak::Close && busy != Some(name.as_str()) {
                    to_close.push(name.clone());
                    owner_closed = true;
                } else if let Ok((_, pending)) = request_oplock(open.win32, to, INPUT_FLAG_ACK) {
                    open.oplock = pending;
                }
            }
            breaks.push(json!({
                "handle": name,
                "from": level_name(from),
                "to": level_name(to),
                "ack_required": ack,
                "owner_closed": owner_closed,
            }));
        }
        for name in to_close {
            if let Some(open) = self.handles.remove(&name) {
                let _ = open.close();
            }
        }
    }

    /// Runs `work` on a worker thread while watching for breaks; `None` when it did not finish
    /// within [`STEP_LIMIT`] (the thread is left to finish on its own).
    fn watch<T: Send + 'static>(
        &mut self,
        busy: Option<&str>,
        breaks: &mut Vec<Value>,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let start = Instant::now();
        let worker = std::thread::spawn(work);
        while !worker.is_finished() {
            self.poll_breaks(breaks, busy);
            if start.elapsed() > STEP_LIMIT {
                return None;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let result = worker.join().ok();
        std::thread::sleep(SETTLE);
        self.poll_breaks(breaks, busy);
        result
    }

    /// Adds what every step on a file observes: its handle and path, and the oplock view.
    fn observe(&self, index: usize, record: &mut DeviceRecord, breaks: Vec<Value>, path: &str) {
        record.observed.insert("path".into(), json!(path));
        let cf: BTreeMap<&String, bool> = self
            .handles
            .iter()
            .filter_map(|(name, open)| open.cf_usable().map(|usable| (name, usable)))
            .collect();
        if !cf.is_empty() {
            record.observed.insert("cf_usable".into(), json!(cf));
        }
        if self.views.get(index).copied().unwrap_or(false) {
            let level = self
                .handles
                .values()
                .filter(|open| open.path == path)
                .map(|open| open.level)
                .max()
                .unwrap_or(0);
            record
                .observed
                .insert("breaks".into(), Value::Array(breaks));
            record
                .observed
                .insert("oplock".into(), json!(level_name(level)));
        }
    }

    fn keys_json(&mut self, value: u64) -> (NtStatus, Option<Value>) {
        let mut output = vec![0u8; size_of::<HandleKeysInfo>()];
        let reply = self
            .device
            .ioctl(ioctl::QUERY_KEYS, &proto::handle_input(value), &mut output);
        if !reply.status.is_success() {
            return (reply.status, None);
        }
        let Ok(info) = protocol::decode::<HandleKeysInfo>(&output) else {
            return (reply.status, None);
        };
        (reply.status, Some(keys_info_json(&info)))
    }

    #[allow(clippy::too_many_arguments, reason = "the fields of one open step")]
    fn open(
        &mut self,
        index: usize,
        op: &str,
        name: &str,
        path: &Path,
        access: u32,
        share: u32,
        disposition: Disposition,
        cf_flags: Option<u32>,
        no_buffering: bool,
    ) -> DeviceRecord {
        let scenario_path = path.to_string_lossy().replace('\\', "/");
        if self.handles.contains_key(name) {
            let mut record =
                DeviceRecord::new(index, op, StatusSeen::Nt(NtStatus::INVALID_PARAMETER));
            record.observed.insert("handle".into(), json!(name));
            record
                .observed
                .insert("error".into(), json!("handle name already open"));
            return record;
        }
        let full = self.full_path(path);
        let mut created_first = false;
        if cf_flags.is_some() {
            // CfOpenFileWithOplock opens existing files only; the sim's open creates it.
            created_first = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(self.dir.join(path))
                .is_ok();
        }
        let mut breaks = Vec::new();
        let flags = if no_buffering {
            FILE_FLAG_OVERLAPPED | FILE_FLAG_NO_BUFFERING
        } else {
            FILE_FLAG_OVERLAPPED
        };
        let creation = creation_disposition(disposition);
        let worker_path = full.clone();
        let opened = self.watch(None, &mut breaks, move || -> Result<(bool, usize), u32> {
            match cf_flags {
                Some(bits) => {
                    let bits = i32::try_from(bits).map_err(|_| 87u32)?;
                    // SAFETY: a valid path; the protected handle is owned by the caller.
                    unsafe { CfOpenFileWithOplock(&worker_path, CF_OPEN_FILE_FLAGS(bits)) }
                        .map(|h| (true, RawHandle::of(h).0))
                        .map_err(|error| win32_code(&error))
                }
                None => {
                    // SAFETY: a valid path; no security attributes or template; the handle is
                    // owned by the caller.
                    unsafe {
                        CreateFileW(
                            &worker_path,
                            access,
                            FILE_SHARE_MODE(share),
                            None,
                            creation,
                            FILE_FLAGS_AND_ATTRIBUTES(flags.0),
                            None,
                        )
                    }
                    .map(|h| (false, RawHandle::of(h).0))
                    .map_err(|error| win32_code(&error))
                }
            }
        });
        let mut record = match opened {
            None => DeviceRecord::new(index, op, StatusSeen::TimedOut),
            Some(Err(code)) => DeviceRecord::new(index, op, StatusSeen::Win32(code)),
            Some(Ok((cf, raw))) => {
                let handle = RawHandle(raw).get();
                let (kind, win32) = if cf {
                    // SAFETY: the protected handle was just opened; the Win32 handle it gives is
                    // borrowed from it.
                    let win32 = unsafe { CfGetWin32HandleFromProtectedHandle(handle) };
                    (Kind::Cf(handle), win32)
                } else {
                    (Kind::Plain(Handle(handle)), handle)
                };
                let open = Open {
                    kind,
                    path: scenario_path.clone(),
                    win32,
                    oplock: None,
                    level: 0,
                    on_break: OnBreak::Acknowledge,
                };
                let value = open.value();
                self.handles.insert(name.to_owned(), open);
                let mut record = DeviceRecord::new(index, op, StatusSeen::Win32(0));
                let (keys_status, keys) = self.keys_json(value);
                record
                    .observed
                    .insert("keys_status".into(), json!(keys_status.to_string()));
                if let Some(keys) = keys {
                    record.observed.insert("keys".into(), keys);
                }
                record
            }
        };
        record.observed.insert("handle".into(), json!(name));
        if created_first {
            record.observed.insert("created_first".into(), json!(true));
        }
        if let Some(Err(code)) = opened.as_ref().map(|o| o.as_ref().map(|_| ())) {
            record
                .observed
                .insert("api_error".into(), json!(format!("Win32 error {code}")));
        }
        self.observe(index, &mut record, breaks, &scenario_path);
        record
    }

    fn not_open(index: usize, op: &str, name: &str) -> DeviceRecord {
        // The run's own handle table answers, as the sim's runner does.
        let mut record = DeviceRecord::new(index, op, StatusSeen::Nt(NtStatus::INVALID_HANDLE));
        record.observed.insert("handle".into(), json!(name));
        record
            .observed
            .insert("error".into(), json!("no open handle by this name"));
        record
    }

    #[allow(clippy::too_many_lines, reason = "one arm per op, each short")]
    fn on_handle(&mut self, index: usize, op: &str, name: &str, step: &DeviceStep) -> DeviceRecord {
        let Some(open) = self.handles.get(name) else {
            return Self::not_open(index, op, name);
        };
        let file = RawHandle::of(open.win32);
        let path = open.path.clone();
        let mut breaks = Vec::new();
        let mut extra: Vec<(&str, Value)> = Vec::new();
        let seen = match step {
            DeviceStep::Oplock {
                level, on_break, ..
            } => {
                let result = request_oplock(file.get(), *level, INPUT_FLAG_REQUEST);
                let seen = match result {
                    Ok((seen, pending)) => {
                        let granted = pending.is_some();
                        extra.push(("granted", json!(granted)));
                        if let Some(open) = self.handles.get_mut(name) {
                            if let Some(previous) = open.oplock.take() {
                                self.replaced.push(previous);
                            }
                            if granted {
                                open.level = *level;
                                open.on_break = *on_break;
                            }
                            open.oplock = pending;
                        }
                        seen
                    }
                    Err(why) => {
                        extra.push(("api_error", json!(why)));
                        StatusSeen::Win32(8)
                    }
                };
                std::thread::sleep(SETTLE);
                self.poll_breaks(&mut breaks, Some(name));
                seen
            }
            DeviceStep::Read { offset, length, .. } => {
                let (offset, length) = (*offset, *length as usize);
                let done = self.watch(Some(name), &mut breaks, move || {
                    let mut buffer = vec![0u8; length];
                    let (seen, bytes) = overlapped_io(file.get(), offset, |overlapped| {
                        // SAFETY: `buffer` and the OVERLAPPED outlive the wait in overlapped_io.
                        unsafe { ReadFile(file.get(), Some(&mut buffer), None, Some(overlapped)) }
                    });
                    buffer.truncate(bytes as usize);
                    (seen, buffer)
                });
                match done {
                    Some((seen, data)) => {
                        extra.push(("data", json!(String::from_utf8_lossy(&data))));
                        seen
                    }
                    None => StatusSeen::TimedOut,
                }
            }
            DeviceStep::Write {
                offset,
                data,
                non_cached,
                ..
            } => {
                let (offset, data, non_cached) = (*offset, data.clone(), *non_cached);
                if non_cached {
                    let start = offset - offset % SECTOR as u64;
                    let lead = usize::try_from(offset - start).unwrap_or(0);
                    let blocks = (lead + data.len()).div_ceil(SECTOR).max(1);
                    extra.push(("sector_padded_to", json!(blocks * SECTOR)));
                    let done = self.watch(Some(name), &mut breaks, move || {
                        let mut buffer = vec![Block([0; SECTOR]); blocks];
                        for (at, byte) in data.iter().enumerate() {
                            let position = lead + at;
                            if let Some(slot) = buffer
                                .get_mut(position / SECTOR)
                                .and_then(|block| block.0.get_mut(position % SECTOR))
                            {
                                *slot = *byte;
                            }
                        }
                        let flat = blocks_as_bytes(&buffer);
                        overlapped_io(file.get(), start, |overlapped| {
                            // SAFETY: `buffer` (sector-aligned, whole sectors) and the OVERLAPPED
                            // outlive the wait in overlapped_io.
                            unsafe { WriteFile(file.get(), Some(flat), None, Some(overlapped)) }
                        })
                    });
                    done.map_or(StatusSeen::TimedOut, |(seen, _)| seen)
                } else {
                    let done = self.watch(Some(name), &mut breaks, move || {
                        overlapped_io(file.get(), offset, |overlapped| {
                            // SAFETY: `data` and the OVERLAPPED outlive the wait in overlapped_io.
                            unsafe { WriteFile(file.get(), Some(&data), None, Some(overlapped)) }
                        })
                    });
                    done.map_or(StatusSeen::TimedOut, |(seen, _)| seen)
                }
            }
            DeviceStep::Lock {
                offset,
                length,
                exclusive,
                ..
            } => {
                let (offset, length) = (*offset, *length);
                let flags = if *exclusive {
                    LOCKFILE_FAIL_IMMEDIATELY | LOCKFILE_EXCLUSIVE_LOCK
                } else {
                    LOCKFILE_FAIL_IMMEDIATELY
                };
                let done = self.watch(Some(name), &mut breaks, move || {
                    overlapped_io(file.get(), offset, |overlapped| {
                        // SAFETY: the OVERLAPPED outlives the wait in overlapped_io.
                        unsafe {
                            LockFileEx(
                                file.get(),
                                flags,
                                None,
                                (length & 0xFFFF_FFFF) as u32,
                                (length >> 32) as u32,
                                overlapped,
                            )
                        }
                    })
                });
                done.map_or(StatusSeen::TimedOut, |(seen, _)| seen)
            }
            DeviceStep::Unlock { offset, length, .. } => {
                let (offset, length) = (*offset, *length);
                let done = self.watch(Some(name), &mut breaks, move || {
                    overlapped_io(file.get(), offset, |overlapped| {
                        // SAFETY: the OVERLAPPED outlives the wait in overlapped_io.
                        unsafe {
                            UnlockFileEx(
                                file.get(),
                                None,
                                (length & 0xFFFF_FFFF) as u32,
                                (length >> 32) as u32,
                                overlapped,
                            )
                        }
                    })
                });
                done.map_or(StatusSeen::TimedOut, |(seen, _)| seen)
            }
            DeviceStep::SetInformation { class, size, .. } => {
                let (class, size) = (*class, i64::try_from(*size).unwrap_or(i64::MAX));
                extra.push(("class", json!(class.name())));
                let done = self.watch(Some(name), &mut breaks, move || {
                    set_information(file, class, size)
                });
                done.unwrap_or(StatusSeen::TimedOut)
            }
            DeviceStep::SetPurgeFailureModeUser { input, .. } => {
                let input = input.clone();
                let done = self.watch(Some(name), &mut breaks, move || {
                    overlapped_io(file.get(), 0, |overlapped| {
                        let length = u32::try_from(input.len()).unwrap_or(0);
                        // SAFETY: `input` and the OVERLAPPED outlive the wait in overlapped_io.
                        unsafe {
                            DeviceIoControl(
                                file.get(),
                                FSCTL_SET_PURGE_FAILURE_MODE,
                                Some(input.as_ptr().cast()),
                                length,
                                None,
                                0,
                                None,
                                Some(overlapped),
                            )
                        }
                    })
                });
                done.map_or(StatusSeen::TimedOut, |(seen, _)| seen)
            }
            DeviceStep::Inspect { offset, length, .. } => {
                let value = self.handles.get(name).map_or(NOT_OPEN_VALUE, Open::value);
                let room = usize::try_from(*length).unwrap_or(usize::MAX);
                let mut output = vec![0u8; size_of::<InspectOutput>().saturating_add(room)];
                let reply = self.device.ioctl(
                    ioctl::INSPECT,
                    &proto::inspect_input(value, *offset, *length),
                    &mut output,
                );
                if reply.status.is_success()
                    && let Ok((head, data)) = InspectOutput::read_from_prefix(&output)
                {
                    let read = usize::try_from(head.bytes_read)
                        .unwrap_or(usize::MAX)
                        .min(data.len());
                    extra.push(("data", json!(String::from_utf8_lossy(&data[..read]))));
                }
                StatusSeen::Nt(reply.status)
            }
            DeviceStep::Purge { .. } => {
                let value = self.handles.get(name).map_or(NOT_OPEN_VALUE, Open::value);
                let mut output = [0u8; size_of::<PurgeRequestOutput>()];
                let reply = self.device.ioctl(
                    ioctl::PURGE_REQUEST,
                    &proto::handle_input(value),
                    &mut output,
                );
                extra.push(("ioctl_status", json!(reply.status.to_string())));
                match protocol::decode::<PurgeRequestOutput>(&output) {
                    Ok(answer) if reply.status.is_success() => {
                        let outcome = match answer.outcome {
                            PURGE_OUTCOME_DONE => "done",
                            PURGE_OUTCOME_HELD => "held",
                            _ => "failed",
                        };
                        extra.push(("outcome", json!(outcome)));
                        extra.push(("held", json!(answer.outcome == PURGE_OUTCOME_HELD)));
                        StatusSeen::Nt(NtStatus(answer.status))
                    }
                    _ => StatusSeen::Nt(reply.status),
                }
            }
            DeviceStep::Close { .. } => {
                let seen = self
                    .handles
                    .remove(name)
                    .map_or(StatusSeen::Nt(NtStatus::INVALID_HANDLE), Open::close);
                std::thread::sleep(SETTLE);
                self.poll_breaks(&mut breaks, None);
                seen
            }
            _ => StatusSeen::Nt(NtStatus::INVALID_DEVICE_REQUEST),
        };
        let mut record = DeviceRecord::new(index, op, seen);
        record.observed.insert("handle".into(), json!(name));
        for (key, value) in extra {
            record.observed.insert(key.into(), value);
        }
        self.observe(index, &mut record, breaks, &path);
        record
    }
}

impl Performer for WinPerformer {
    fn perform(
        &mut self,
        index: usize,
        op: &str,
        step: &DeviceStep,
    ) -> Result<DeviceRecord, String> {
        Ok(match step {
            DeviceStep::Open {
                handle,
                path,
                access,
                share,
                disposition,
                cf_flags,
                no_buffering,
            } => self.open(
                index,
                op,
                handle,
                path,
                *access,
                *share,
                *disposition,
                *cf_flags,
                *no_buffering,
            ),
            DeviceStep::QueryKeys {
                handle,
                handle_value,
            } => {
                let value = match (handle, handle_value) {
                    (Some(name), _) => self.handles.get(name).map_or(NOT_OPEN_VALUE, Open::value),
                    (None, Some(value)) => *value,
                    (None, None) => 0,
                };
                let (status, keys) = self.keys_json(value);
                let mut record = DeviceRecord::new(index, op, StatusSeen::Nt(status));
                if let Some(name) = handle {
                    record.observed.insert("handle".into(), json!(name));
                }
                if let Some(keys) = keys {
                    record.observed.insert("keys".into(), keys);
                }
                record
            }
            DeviceStep::PurgeStatus => {
                let mut record;
                match proto::purge_status(self.device.as_mut()) {
                    Ok((header, _rows)) => {
                        record = DeviceRecord::new(index, op, StatusSeen::Nt(NtStatus::SUCCESS));
                        let fields = [
                            ("streams_total", json!(header.streams_total)),
                            ("held_total", json!(header.held_total)),
                            ("windows_open", json!(header.windows_open)),
                            ("reissued_total", json!(header.reissued)),
                            ("torn_down_total", json!(header.torn_down)),
                            ("machine_wide", json!(true)),
                        ];
                        for (key, value) in fields {
                            record.observed.insert(key.into(), value);
                        }
                    }
                    Err(error) => {
                        record =
                            DeviceRecord::new(index, op, StatusSeen::Nt(NtStatus::UNSUCCESSFUL));
                        record
                            .observed
                            .insert("api_error".into(), json!(error.to_string()));
                    }
                }
                record
            }
            DeviceStep::Oplock { handle, .. }
            | DeviceStep::Read { handle, .. }
            | DeviceStep::Write { handle, .. }
            | DeviceStep::Lock { handle, .. }
            | DeviceStep::Unlock { handle, .. }
            | DeviceStep::SetInformation { handle, .. }
            | DeviceStep::SetPurgeFailureModeUser { handle, .. }
            | DeviceStep::Purge { handle }
            | DeviceStep::Inspect { handle, .. }
            | DeviceStep::Close { handle } => self.on_handle(index, op, handle, step),
        })
    }

    fn to_dos(&self, status: NtStatus) -> u32 {
        // SAFETY: a pure lookup in ntdll's table.
        unsafe { RtlNtStatusToDosError(NTSTATUS(status.as_i32())) }
    }
}
