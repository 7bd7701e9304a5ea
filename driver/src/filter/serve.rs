//! The control device's filter requests (IOCTLs 0x810-0x814), served for a caller's file object
//! that `control.rs` resolved in the caller's context with user-mode access checks.
//!
//! The instance is found from the file object's volume (`FltGetVolumeFromFileObject`, then
//! `FltGetVolumeInstanceFromName` with no name: this filter's instance on that volume); the
//! contexts are this filter's on that instance. The answers are encoded by core; nothing
//! returned carries a kernel address (streams are named by their opaque number).
//!
//! `INSPECT` reads through the caller's own file object (`FltReadFile` with that `FileObject`,
//! below this instance), so the read carries the caller's oplock key and breaks nothing the
//! caller holds; `FLTFL_IO_OPERATION_DO_NOT_UPDATE_BYTE_OFFSET` leaves the caller's file pointer
//! where it was. The bytes go straight into the `METHOD_BUFFERED` system buffer after the
//! answer's header; core decides (under the state lock) and encodes, the read itself happens at
//! `PASSIVE_LEVEL` with no lock held.
//!
//! Unverified here: written from fltKernel.h and the `FltGetVolumeInstanceFromName` /
//! `FltObjectDereference` / `FltReadFile` documentation; never run on Windows.

use core::ptr;

use ferrofilter_core::NtStatus;
use ferrofilter_core::control::{self, Completion, PurgeAnswer};
use ferrofilter_core::purge::PurgeRequestDecision;
use wdk_sys::ntddk::ObfDereferenceObject;
use wdk_sys::{LARGE_INTEGER, PFILE_OBJECT, ULONG};

use super::contexts;
use super::purge::{self, Ran};
use super::state::{self, HeldPurge};
use crate::constants::FLTFL_IO_OPERATION_DO_NOT_UPDATE_BYTE_OFFSET;
use crate::fltmgr::{
    FltGetVolumeFromFileObject, FltGetVolumeInstanceFromName, FltObjectDereference, FltReadFile,
    PFLT_FILTER, PFLT_INSTANCE, PFLT_VOLUME,
};
use crate::wdf::check;

/// A file object reference taken by `ObReferenceObjectByHandle`, dropped once.
pub struct FileRef(PFILE_OBJECT);

impl FileRef {
    /// Takes over one reference on `file_object`.
    ///
    /// # Safety
    /// The caller owns one reference on `file_object` and gives it to the result.
    pub const unsafe fn new(file_object: PFILE_OBJECT) -> Self {
        Self(file_object)
    }

    fn into_raw(self) -> PFILE_OBJECT {
        let file_object = self.0;
        core::mem::forget(self);
        file_object
    }
}

impl Drop for FileRef {
    fn drop(&mut self) {
        // SAFETY: this value owns one reference (`new`), dropped once.
        unsafe { ObfDereferenceObject(self.0.cast()) };
    }
}

/// A referenced Filter Manager object (`FltObjectDereference` on drop).
struct FltRef(*mut core::ffi::c_void);

impl Drop for FltRef {
    fn drop(&mut self) {
        // SAFETY: the object was returned referenced by a FltGet* routine and is dropped once.
        unsafe { FltObjectDereference(self.0) };
    }
}

/// This filter's instance on the volume of `file_object`. `PASSIVE_LEVEL`.
fn instance_of(
    filter: PFLT_FILTER,
    file_object: &FileRef,
) -> Result<(PFLT_INSTANCE, FltRef), NtStatus> {
    let mut volume: PFLT_VOLUME = ptr::null_mut();
    // SAFETY: `filter` is registered; the file object is referenced; `volume` is a live local.
    let status = unsafe { FltGetVolumeFromFileObject(filter, file_object.0, &raw mut volume) };
    check(status).map_err(|_| NtStatus::NOT_FOUND)?;
    let volume = FltRef(volume.cast());
    let mut instance: PFLT_INSTANCE = ptr::null_mut();
    // SAFETY: `volume` is referenced; a null name asks for this filter's instance on it.
    let status = unsafe {
        FltGetVolumeInstanceFromName(filter, volume.0.cast(), ptr::null_mut(), &raw mut instance)
    };
    drop(volume);
    check(status).map_err(|_| NtStatus::NOT_FOUND)?;
    Ok((instance, FltRef(instance.cast())))
}

/// [`Action::QueryKeys`](ferrofilter_core::control::Action::QueryKeys): the keys the filter recorded for the caller's handle.
pub fn query_keys(
    filter: PFLT_FILTER,
    file_object: Result<FileRef, NtStatus>,
    output: &mut [u8],
) -> Completion {
    let context = file_object.and_then(|file| {
        let (instance, _instance_ref) = instance_of(filter, &file)?;
        contexts::handle(instance, file.0).ok_or(NtStatus::NOT_FOUND)
    });
    control::answer_query_keys(context.as_ref().map_err(|status| *status), output)
}

/// [`Action::PurgeRequest`](ferrofilter_core::control::Action::PurgeRequest): flush + purge the caller's stream now, or hold it while a
/// purge-failure window is open. `PASSIVE_LEVEL`.
pub fn purge_request(
    filter: PFLT_FILTER,
    file_object: Result<FileRef, NtStatus>,
    output: &mut [u8],
) -> Completion {
    let answer = file_object.and_then(|file| {
        let (instance, _instance_ref) = instance_of(filter, &file)?;
        if contexts::handle(instance, file.0).is_none() {
            return Err(NtStatus::NOT_FOUND);
        }
        let stream = contexts::stream(instance, file.0).ok_or(NtStatus::NOT_FOUND)?;
        let op = HeldPurge {
            file_object: file.into_raw(),
            instance,
        };
        // SAFETY: `stream` is live and referenced.
        let decision =
            unsafe { state::with_stream(stream.as_ptr(), |f, s| f.purge_request(s, op)) };
        let (held, status) = match decision {
            PurgeRequestDecision::Held => (true, NtStatus::PENDING),
            // SAFETY: `stream` is the referenced context of the token's file object on
            // `instance`, which `_instance_ref` keeps; PASSIVE_LEVEL (the queue's level).
            PurgeRequestDecision::Proceed(op) => match unsafe { purge::run(stream.as_ptr(), op) } {
                Ran::Completed(status) => (false, status),
                Ran::Held => (true, NtStatus::PENDING),
            },
        };
        // SAFETY: as above.
        let numbers = unsafe { state::with_stream(stream.as_ptr(), |_, s| s.status()) };
        Ok(PurgeAnswer {
            held,
            status,
            stream: numbers,
        })
    });
    control::answer_purge_request(answer, output)
}

/// [`Action::Inspect`](ferrofilter_core::control::Action::Inspect): `length` bytes at `offset`, read through the caller's own file object
/// into the output buffer after its header, once core's `Filter::inspect` allowed it (under the
/// state lock). `STATUS_NOT_FOUND` for a file object the filter has no stream-handle context for;
/// a failed read completes the IOCTL with the read's status (`STATUS_END_OF_FILE` at or after
/// the end of the file). `PASSIVE_LEVEL` (the queue's level), no lock held across the read.
pub fn inspect(
    filter: PFLT_FILTER,
    file_object: Result<FileRef, NtStatus>,
    offset: u64,
    length: u32,
    output: &mut [u8],
) -> Completion {
    let read = file_object.and_then(|file| {
        let (instance, _instance_ref) = instance_of(filter, &file)?;
        let context = contexts::handle(instance, file.0).ok_or(NtStatus::NOT_FOUND)?;
        let plan = state::with(|s| s.filter.inspect(&context, offset, length))?;
        let buffer =
            control::inspect_data(output, plan.length).ok_or(NtStatus::BUFFER_TOO_SMALL)?;
        let mut byte_offset = LARGE_INTEGER {
            QuadPart: i64::try_from(plan.offset).map_err(|_| NtStatus::INVALID_PARAMETER)?,
        };
        let mut bytes_read: ULONG = 0;
        // SAFETY: `instance` is this filter's instance on the file's volume, referenced by
        // `_instance_ref`; the file object is referenced by `file` and was opened by the caller
        // (its handle resolved in the caller's context); `byte_offset` and `bytes_read` are live
        // locals; `buffer` is `plan.length` writable bytes of the request's nonpaged system
        // buffer, which stays valid until the request is completed after this call; no callback,
        // so the read is synchronous; PASSIVE_LEVEL with no spin lock held.
        let status = unsafe {
            FltReadFile(
                instance,
                file.0,
                &raw mut byte_offset,
                plan.length,
                buffer.as_mut_ptr().cast(),
                FLTFL_IO_OPERATION_DO_NOT_UPDATE_BYTE_OFFSET,
                &raw mut bytes_read,
                None,
                ptr::null_mut(),
            )
        };
        check(status)?;
        Ok(bytes_read)
    });
    control::answer_inspect(read, output)
}

/// [`Action::PurgeStatus`](ferrofilter_core::control::Action::PurgeStatus): one row per live stream context. Encoded under the state lock
/// straight into the (nonpaged, `METHOD_BUFFERED`) output buffer, so nothing is allocated.
pub fn purge_status(output: &mut [u8]) -> Completion {
    state::with(|s| {
        let rows = s.streams.iter().map(|ctx| (ctx.id, ctx.state.status()));
        control::answer_purge_status(s.filter.counters(), rows, output)
    })
}

/// [`Action::FilterStats`](ferrofilter_core::control::Action::FilterStats).
pub fn filter_stats(output: &mut [u8]) -> Completion {
    let counters = state::with(|s| *s.filter.counters());
    control::answer_filter_stats(&counters, output)
}
