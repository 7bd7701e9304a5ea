//! `oplock` on Windows: `CfOpenFileWithOplock`, the keys the driver recorded (`QUERY_KEYS`), a
//! conflicting open on another thread, and a write from another handle.
//!
//! **Unverified here**: compiled only on Windows and never run. The break is detected the way the
//! cfapi pages describe the protected handle: once the platform has acted on an oplock break,
//! `CfReferenceProtectedHandle` fails. That detection, and `CfOpenFileWithOplock` on files outside
//! a sync root, are assumptions to check on a VM.

use std::path::Path;
use std::time::{Duration, Instant};

use windows::Win32::Foundation::HANDLE;
use windows::Win32::Storage::CloudFilters::{
    CF_OPEN_FILE_FLAGS, CfCloseHandle, CfGetWin32HandleFromProtectedHandle, CfOpenFileWithOplock,
    CfReferenceProtectedHandle, CfReleaseProtectedHandle,
};
use windows::Win32::Storage::FileSystem::{
    CreateFileW, FILE_ATTRIBUTE_NORMAL, FILE_SHARE_MODE, OPEN_EXISTING, ReadFile, WriteFile,
};
use windows::Win32::System::IO::OVERLAPPED;
use windows::core::HSTRING;

use super::oplock::{
    OTHER_ACCESS, OTHER_SHARE, OplockReport, Probe, WRITER_ACCESS, WRITER_SHARE, describe,
    flag_names, keys_view, level_name, probe,
};
use crate::backend::device::OwnedHandle;
use crate::backend::{self, BackendKind};
use crate::error::CliError;
use crate::proto;
use crate::win_constants::SYNCHRONIZE;

/// How long a probe waits for the break.
const PROBE_LIMIT: Duration = Duration::from_secs(5);

/// A protected handle from `CfOpenFileWithOplock`, closed with `CfCloseHandle`.
struct CfHandle(HANDLE);

impl Drop for CfHandle {
    fn drop(&mut self) {
        // SAFETY: the protected handle is owned by this value and closed once, here.
        unsafe { CfCloseHandle(self.0) };
    }
}

impl CfHandle {
    fn open(path: &HSTRING, flags: u32) -> Result<Self, CliError> {
        let flags_value = i32::try_from(flags)
            .map_err(|_| CliError::Usage(format!("flags 0x{flags:X} out of range")))?;
        // SAFETY: a valid path; the protected handle is owned by the value returned.
        let handle = unsafe { CfOpenFileWithOplock(path, CF_OPEN_FILE_FLAGS(flags_value)) }
            .map_err(|error| {
                CliError::Failed(format!(
                    "CfOpenFileWithOplock({path}, 0x{flags:X}): {error}"
                ))
            })?;
        Ok(Self(handle))
    }

    /// Whether the platform still lets us use the handle (it stops once the oplock broke).
    fn usable(&self) -> bool {
        // SAFETY: the protected handle is valid until this value drops.
        let referenced = unsafe { CfReferenceProtectedHandle(self.0) };
        if referenced {
            // SAFETY: releases exactly the reference just taken.
            unsafe { CfReleaseProtectedHandle(self.0) };
        }
        referenced
    }
}

fn open_plain(path: &HSTRING, desired: u32, share: u32) -> Result<OwnedHandle, String> {
    // SAFETY: a valid path; no security attributes or template; the handle is owned below.
    unsafe {
        CreateFileW(
            path,
            desired | SYNCHRONIZE,
            FILE_SHARE_MODE(share),
            None,
            OPEN_EXISTING,
            FILE_ATTRIBUTE_NORMAL,
            None,
        )
    }
    .map(OwnedHandle::new)
    .map_err(|error| error.to_string())
}

/// Runs `other` on a thread while watching `holder`; fills when the break was seen.
fn watch(
    holder: &CfHandle,
    requested: Option<&'static str>,
    mut probe: Probe,
    other: impl FnOnce() -> String + Send + 'static,
) -> Probe {
    let start = Instant::now();
    let worker = std::thread::spawn(other);
    let mut broke_at = None;
    while start.elapsed() < PROBE_LIMIT {
        if broke_at.is_none() && !holder.usable() {
            broke_at = Some(start.elapsed());
        }
        if worker.is_finished()
            && (broke_at.is_some() || start.elapsed() > Duration::from_millis(200))
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    probe.result = if worker.is_finished() {
        worker
            .join()
            .unwrap_or_else(|_| "the probe thread failed".to_owned())
    } else {
        // The thread is left to finish on its own; its result is not known.
        format!("still blocked after {} s", PROBE_LIMIT.as_secs())
    };
    if let Some(at) = broke_at {
        probe.broke = true;
        probe.from = requested;
        probe.after_ms = Some(at.as_secs_f64() * 1000.0);
        probe
            .steps
            .push("the protected handle stopped accepting references (oplock broken)".to_owned());
    } else {
        probe
            .steps
            .push("the protected handle stayed usable".to_owned());
    }
    probe
}

fn write_back_first_byte(path: &HSTRING) -> String {
    let handle = match open_plain(path, WRITER_ACCESS | OTHER_ACCESS, WRITER_SHARE) {
        Ok(handle) => handle,
        Err(error) => return format!("could not open for write: {error}"),
    };
    let mut byte = [0u8; 1];
    let mut read = 0u32;
    let mut at_start = OVERLAPPED::default();
    // SAFETY: a valid synchronous handle; `byte`, `read` and `at_start` outlive the call.
    let result = unsafe {
        ReadFile(
            handle.get(),
            Some(&mut byte),
            Some(&raw mut read),
            Some(&raw mut at_start),
        )
    };
    if let Err(error) = result {
        return format!("could not read the first byte: {error}");
    }
    if read == 0 {
        return "the file is empty: nothing to rewrite".to_owned();
    }
    let mut at_start = OVERLAPPED::default();
    // SAFETY: as above; the same byte goes back where it was.
    let result = unsafe { WriteFile(handle.get(), Some(&byte), None, Some(&raw mut at_start)) };
    match result {
        Ok(()) => "written (first byte rewritten with its own value)".to_owned(),
        Err(error) => format!("write failed: {error}"),
    }
}

/// `oplock FILE` on the device.
///
/// # Errors
/// When `CfOpenFileWithOplock` fails or (with `query_keys`) the device cannot be reached.
pub fn run(
    file: &Path,
    flags: u32,
    query_keys: bool,
    write_probe: bool,
) -> Result<OplockReport, CliError> {
    let (open, access, share) = describe(flags)?;
    let requested = open.oplock.map(level_name);
    let path = HSTRING::from(file.as_os_str());

    let holder = CfHandle::open(&path, flags)?;
    let keys = if query_keys {
        let mut device = backend::open(BackendKind::Device)?;
        // SAFETY: the protected handle is valid; the Win32 handle it gives is borrowed, not owned.
        let win32 = unsafe { CfGetWin32HandleFromProtectedHandle(holder.0) };
        let info = proto::query_keys(device.as_mut(), win32.0 as usize as u64)?;
        Some(keys_view(&info))
    } else {
        None
    };
    let other_path = path.clone();
    let conflicting_open = watch(
        &holder,
        requested,
        probe(format!(
            "another handle opens with access 0x{OTHER_ACCESS:X}, share 0x{OTHER_SHARE:X}"
        )),
        move || match open_plain(&other_path, OTHER_ACCESS, OTHER_SHARE) {
            Ok(_) => "opened".to_owned(),
            Err(error) => error,
        },
    );
    drop(holder);

    let write_from_other_key = if write_probe {
        let holder = CfHandle::open(&path, flags)?;
        let writer_path = path.clone();
        watch(
            &holder,
            requested,
            probe(format!(
                "another handle opens with access 0x{WRITER_ACCESS:X}, share \
                 0x{WRITER_SHARE:X} and rewrites the first byte"
            )),
            move || write_back_first_byte(&writer_path),
        )
    } else {
        let mut skipped = probe("write from another handle".to_owned());
        "not run: pass --write-probe (it rewrites the file's first byte)"
            .clone_into(&mut skipped.result);
        skipped
    };

    Ok(OplockReport {
        flags,
        flag_names: flag_names(flags),
        access,
        share,
        oplock_requested: requested,
        keys,
        conflicting_open,
        write_from_other_key,
    })
}

/// `oplock demo` on the device: all 16 combinations on a scratch file of its own.
///
/// # Errors
/// When the scratch file cannot be created or an open fails.
pub fn demo() -> Result<Vec<OplockReport>, CliError> {
    let scratch =
        std::env::temp_dir().join(format!("ferroctl-oplock-demo-{}.txt", std::process::id()));
    std::fs::write(&scratch, b"ferroctl oplock demo\n")
        .map_err(|error| CliError::Failed(format!("creating {}: {error}", scratch.display())))?;
    let reports = (0..16u32)
        .map(|flags| run(&scratch, flags, false, true))
        .collect();
    let _ = std::fs::remove_file(&scratch);
    reports
}
