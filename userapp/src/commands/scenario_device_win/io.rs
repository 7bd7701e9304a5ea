//! The Win32 side of a step: handles, events, overlapped I/O, oplock requests, and the
//! conversions between the scenario's values and the API's.

use std::ffi::c_void;
use std::time::Duration;

use ferrofilter_core::NtStatus;
use windows::Win32::Foundation::{CloseHandle, ERROR_IO_PENDING, HANDLE, WAIT_OBJECT_0};
use windows::Win32::Storage::CloudFilters::{
    CfCloseHandle, CfReferenceProtectedHandle, CfReleaseProtectedHandle,
};
use windows::Win32::Storage::FileSystem::{
    CREATE_ALWAYS, CREATE_NEW, FILE_ALLOCATION_INFO, FILE_BASIC_INFO, FILE_CREATION_DISPOSITION,
    FILE_END_OF_FILE_INFO, FILE_INFO_BY_HANDLE_CLASS, FileAllocationInfo, FileBasicInfo,
    FileEndOfFileInfo, OPEN_ALWAYS, OPEN_EXISTING, SetFileInformationByHandle, TRUNCATE_EXISTING,
};
use windows::Win32::System::IO::{
    DeviceIoControl, GetOverlappedResult, OVERLAPPED, OVERLAPPED_0, OVERLAPPED_0_0,
};
use windows::Win32::System::Threading::{CreateEventW, WaitForSingleObject};

use super::GRACE;
use crate::commands::scenario::device::{Disposition, InfoClass, OnBreak, SECTOR, StatusSeen};
use crate::win_constants::{
    FSCTL_REQUEST_OPLOCK, REQUEST_OPLOCK_CURRENT_VERSION, RequestOplockInput, RequestOplockOutput,
};

/// `REQUEST_OPLOCK_INPUT_BUFFER`'s size: its `StructureLength`, and the FSCTL's input length.
#[expect(
    clippy::cast_possible_truncation,
    reason = "a 12-byte structure, which fits a u16"
)]
pub(super) const REQUEST_OPLOCK_INPUT_LENGTH: u16 = size_of::<RequestOplockInput>() as u16;

/// `REQUEST_OPLOCK_OUTPUT_BUFFER`'s size, the FSCTL's output length.
#[expect(
    clippy::cast_possible_truncation,
    reason = "a 20-byte structure, which fits a u32"
)]
pub(super) const REQUEST_OPLOCK_OUTPUT_LENGTH: u32 = size_of::<RequestOplockOutput>() as u32;

pub(super) fn win32_code(error: &windows::core::Error) -> u32 {
    let hr = error.code().0.cast_unsigned();
    if hr & 0xFFFF_0000 == 0x8007_0000 {
        hr & 0xFFFF
    } else {
        hr
    }
}

/// A handle closed once, by [`Handle::close`] or on drop.
pub(super) struct Handle(pub(super) HANDLE);

impl Handle {
    pub(super) fn close(self) -> StatusSeen {
        let handle = self.0;
        std::mem::forget(self);
        // SAFETY: the handle was owned by the value just forgotten; it is closed once, here.
        match unsafe { CloseHandle(handle) } {
            Ok(()) => StatusSeen::Win32(0),
            Err(error) => StatusSeen::Win32(win32_code(&error)),
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle is owned by this value and closed once, here.
        let _ = unsafe { CloseHandle(self.0) };
    }
}

pub(super) fn event() -> Result<Handle, String> {
    // SAFETY: no security attributes and no name; the handle is owned by the value returned.
    unsafe { CreateEventW(None, true, false, None) }
        .map(Handle)
        .map_err(|error| format!("CreateEventW: {error}"))
}

pub(super) fn signalled(event: &Handle, wait: Duration) -> bool {
    let ms = u32::try_from(wait.as_millis()).unwrap_or(u32::MAX - 1);
    // SAFETY: the event is a valid handle owned by `event`.
    unsafe { WaitForSingleObject(event.0, ms) == WAIT_OBJECT_0 }
}

/// An `FSCTL_REQUEST_OPLOCK` in flight: its buffers and `OVERLAPPED` stay at one address until
/// it completes (or, if it never does, are leaked rather than freed under the kernel).
pub(super) struct OplockRequest {
    pub(super) overlapped: OVERLAPPED,
    pub(super) event: Handle,
    pub(super) input: RequestOplockInput,
    pub(super) output: RequestOplockOutput,
}

impl OplockRequest {
    pub(super) fn done(&self, wait: Duration) -> bool {
        signalled(&self.event, wait)
    }

    #[expect(clippy::cast_possible_truncation, reason = "an NTSTATUS is 32 bits")]
    pub(super) const fn status(&self) -> NtStatus {
        NtStatus(self.overlapped.Internal as u32)
    }
}

/// Issues `FSCTL_REQUEST_OPLOCK` (a request, or an acknowledgment to `level`). `Ok(Some(_))`
/// when it pends (a granted request, or an acknowledgment to a level that stays).
pub(super) fn request_oplock(
    file: HANDLE,
    level: u32,
    flags: u32,
) -> Result<(StatusSeen, Option<Box<OplockRequest>>), String> {
    let mut request = Box::new(OplockRequest {
        overlapped: OVERLAPPED::default(),
        event: event()?,
        input: RequestOplockInput {
            structure_version: REQUEST_OPLOCK_CURRENT_VERSION,
            structure_length: REQUEST_OPLOCK_INPUT_LENGTH,
            requested_oplock_level: level,
            flags,
        },
        output: RequestOplockOutput::default(),
    });
    request.overlapped.hEvent = request.event.0;
    let input = (&raw const request.input).cast::<c_void>();
    let output = (&raw mut request.output).cast::<c_void>();
    let overlapped = &raw mut request.overlapped;
    // SAFETY: the buffers and the OVERLAPPED are in a box that is kept (or leaked) until the
    // request completes; the sizes are the structs' own.
    let started = unsafe {
        DeviceIoControl(
            file,
            FSCTL_REQUEST_OPLOCK,
            Some(input),
            u32::from(REQUEST_OPLOCK_INPUT_LENGTH),
            Some(output),
            REQUEST_OPLOCK_OUTPUT_LENGTH,
            None,
            Some(overlapped),
        )
    };
    match started {
        Ok(()) => Ok((StatusSeen::Nt(request.status()), None)),
        Err(error) if win32_code(&error) == ERROR_IO_PENDING.0 => {
            Ok((StatusSeen::Nt(NtStatus::PENDING), Some(request)))
        }
        Err(error) => Ok((StatusSeen::Win32(win32_code(&error)), None)),
    }
}

/// One overlapped operation on a worker thread, waited for; the exact NTSTATUS when the I/O
/// manager stored one, else the Win32 error.
pub(super) fn overlapped_io(
    file: HANDLE,
    offset: u64,
    start: impl FnOnce(*mut OVERLAPPED) -> windows::core::Result<()>,
) -> (StatusSeen, u32) {
    let Ok(done) = event() else {
        return (StatusSeen::Win32(8), 0);
    };
    let mut overlapped = OVERLAPPED {
        Anonymous: OVERLAPPED_0 {
            Anonymous: OVERLAPPED_0_0 {
                Offset: (offset & 0xFFFF_FFFF) as u32,
                OffsetHigh: (offset >> 32) as u32,
            },
        },
        hEvent: done.0,
        ..OVERLAPPED::default()
    };
    let pointer = &raw mut overlapped;
    match start(pointer) {
        Ok(()) => {}
        Err(error) if win32_code(&error) == ERROR_IO_PENDING.0 => {}
        Err(error) => return (StatusSeen::Win32(win32_code(&error)), 0),
    }
    let mut bytes = 0u32;
    // SAFETY: `overlapped` and the caller's buffers live until this wait returns.
    let _ = unsafe { GetOverlappedResult(file, pointer, &raw mut bytes, true) };
    #[expect(clippy::cast_possible_truncation, reason = "an NTSTATUS is 32 bits")]
    let status = NtStatus(overlapped.Internal as u32);
    (StatusSeen::Nt(status), bytes)
}

/// A raw handle value carried to a worker thread (`HANDLE` holds a pointer, so is not `Send`).
#[derive(Clone, Copy)]
pub(super) struct RawHandle(pub(super) usize);

impl RawHandle {
    pub(super) fn of(handle: HANDLE) -> Self {
        Self(handle.0 as usize)
    }

    pub(super) const fn get(self) -> HANDLE {
        HANDLE(self.0 as *mut c_void)
    }
}

/// A block aligned for `FILE_FLAG_NO_BUFFERING` I/O.
#[repr(C, align(4096))]
#[derive(Clone, Copy)]
pub(super) struct Block(pub(super) [u8; SECTOR]);

pub(super) enum Kind {
    Plain(Handle),
    Cf(HANDLE),
}

/// One handle the run has open.
pub(super) struct Open {
    pub(super) kind: Kind,
    /// The scenario's path.
    pub(super) path: String,
    /// The Win32 handle (for a cf handle, the one behind the protected handle).
    pub(super) win32: HANDLE,
    pub(super) oplock: Option<Box<OplockRequest>>,
    pub(super) level: u32,
    pub(super) on_break: OnBreak,
}

impl Open {
    pub(super) fn value(&self) -> u64 {
        self.win32.0 as usize as u64
    }

    /// Whether a `CfOpenFileWithOplock` handle still accepts references (it stops once the
    /// platform acted on an oplock break); `None` for a plain handle.
    pub(super) fn cf_usable(&self) -> Option<bool> {
        let Kind::Cf(protected) = self.kind else {
            return None;
        };
        // SAFETY: the protected handle is valid until this value is closed.
        let referenced = unsafe { CfReferenceProtectedHandle(protected) };
        if referenced {
            // SAFETY: releases exactly the reference just taken.
            unsafe { CfReleaseProtectedHandle(protected) };
        }
        Some(referenced)
    }

    /// Closes the handle; any oplock request is waited for (its IRP completes at cleanup).
    pub(super) fn close(mut self) -> StatusSeen {
        let status = match std::mem::replace(&mut self.kind, Kind::Cf(HANDLE::default())) {
            Kind::Plain(handle) => handle.close(),
            Kind::Cf(protected) => {
                // SAFETY: the protected handle is owned by this value and closed once, here.
                unsafe { CfCloseHandle(protected) };
                StatusSeen::Win32(0)
            }
        };
        if let Some(request) = self.oplock.take() {
            retire(request);
        }
        status
    }
}

/// Frees a request once it completed; leaks it if it never does (the kernel may still write it).
pub(super) fn retire(request: Box<OplockRequest>) {
    if !request.done(GRACE) {
        Box::leak(request);
    }
}

/// `CreateFileW`'s creation disposition for the scenario's.
pub(super) const fn creation_disposition(disposition: Disposition) -> FILE_CREATION_DISPOSITION {
    match disposition {
        Disposition::OpenExisting => OPEN_EXISTING,
        Disposition::CreateNew => CREATE_NEW,
        Disposition::OpenAlways => OPEN_ALWAYS,
        Disposition::TruncateExisting => TRUNCATE_EXISTING,
        Disposition::CreateAlways => CREATE_ALWAYS,
    }
}

pub(super) fn blocks_as_bytes(blocks: &[Block]) -> &[u8] {
    let length = blocks.len() * SECTOR;
    // SAFETY: `Block` is `repr(C)` of `[u8; SECTOR]` with no padding (its alignment divides its
    // size), so `blocks` is `length` initialized bytes at the same address.
    unsafe { std::slice::from_raw_parts(blocks.as_ptr().cast::<u8>(), length) }
}

pub(super) fn set_information(file: RawHandle, class: InfoClass, size: i64) -> StatusSeen {
    let end = FILE_END_OF_FILE_INFO { EndOfFile: size };
    let allocation = FILE_ALLOCATION_INFO {
        AllocationSize: size,
    };
    let basic = FILE_BASIC_INFO::default();
    let (info_class, buffer, length): (FILE_INFO_BY_HANDLE_CLASS, *const c_void, usize) =
        match class {
            InfoClass::EndOfFile => (
                FileEndOfFileInfo,
                (&raw const end).cast(),
                size_of::<FILE_END_OF_FILE_INFO>(),
            ),
            InfoClass::Allocation => (
                FileAllocationInfo,
                (&raw const allocation).cast(),
                size_of::<FILE_ALLOCATION_INFO>(),
            ),
            InfoClass::Basic => (
                FileBasicInfo,
                (&raw const basic).cast(),
                size_of::<FILE_BASIC_INFO>(),
            ),
        };
    let length = u32::try_from(length).unwrap_or(0);
    // SAFETY: `buffer` points at a live struct of the class's type and `length` is its size.
    match unsafe { SetFileInformationByHandle(file.get(), info_class, buffer, length) } {
        Ok(()) => StatusSeen::Win32(0),
        Err(error) => StatusSeen::Win32(win32_code(&error)),
    }
}
