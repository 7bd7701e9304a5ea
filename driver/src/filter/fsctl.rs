//! `IRP_MJ_FILE_SYSTEM_CONTROL`: the mirror of `FSCTL_SET_PURGE_FAILURE_MODE`.
//!
//! Pre (IRQL <= `APC_LEVEL`): the control code and, for `METHOD_BUFFERED` codes, a copy of the
//! first bytes of the system buffer (as many as `SET_PURGE_FAILURE_MODE_INPUT` has, the only input
//! the core reads) go to `Filter::pre_fsctl`; the copy is made before the state lock is taken, so
//! the caller's buffer is never read at `DISPATCH_LEVEL`. Every FSCTL goes down untouched. When the core tracks it, the
//! copy of the input it kept and a reference on the stream context go to the post callback.
//!
//! Post (IRQL <= `DISPATCH_LEVEL`: only the spin lock, nonpaged memory and
//! `FltQueueGenericWorkItem` are used): `Filter::post_fsctl` with the status the file system
//! below returned; requests it releases are re-issued in order by `purge::reissue` at
//! `PASSIVE_LEVEL`.
//!
//! Unverified here: written from fltKernel.h (`FLT_PARAMETERS.FileSystemControl.Buffered`),
//! ntifs.h / wdm.h (minor codes, `METHOD_BUFFERED`) and the purge-failure-mode documentation;
//! never run.

use core::slice;

use ferrofilter_core::minifilter::{FsctlRoute, SavedModeInput};
use ferrofilter_core::purge::SET_PURGE_FAILURE_MODE_INPUT_SIZE;
use wdk_sys::PVOID;

use super::contexts::{self, ContextRef};
use super::state::{self, StreamCtx};
use super::{finished, io_status, iopb, pass_through, pool, purge, target, with_post};
use crate::constants::{
    FLTFL_POST_OPERATION_DRAINING, IRP_MN_KERNEL_CALL, IRP_MN_USER_FS_REQUEST, METHOD_BUFFERED,
};
use crate::fltmgr::{
    FLT_POST_OPERATION_FLAGS, FLT_POSTOP_CALLBACK_STATUS, FLT_PREOP_CALLBACK_STATUS,
    PCFLT_RELATED_OBJECTS, PFLT_CALLBACK_DATA,
};

/// What pre hands to post.
struct FsctlCompletion {
    saved: SavedModeInput,
    stream: *mut StreamCtx,
}

/// The `IRP_MJ_FILE_SYSTEM_CONTROL` pre-operation callback.
///
/// # Safety
/// Called by Filter Manager at IRQL <= `APC_LEVEL` with valid callback data and related objects.
pub unsafe extern "C" fn pre_file_system_control(
    data: PFLT_CALLBACK_DATA,
    _objects: PCFLT_RELATED_OBJECTS,
    completion_context: *mut PVOID,
) -> FLT_PREOP_CALLBACK_STATUS {
    // SAFETY: live callback data.
    let iopb = unsafe { iopb(data) };
    // SAFETY: `Iopb` points to the live parameter block.
    let iopb = unsafe { &*iopb };
    // Only FSCTL requests carry a control code (mount / verify use the union differently).
    if iopb.MinorFunction != IRP_MN_USER_FS_REQUEST && iopb.MinorFunction != IRP_MN_KERNEL_CALL {
        return pass_through();
    }
    // SAFETY: an FSCTL request's parameters are `FileSystemControl`.
    let fsctl = unsafe { &iopb.Parameters.FileSystemControl };
    // SAFETY: every FSCTL method shares the `Common` prefix; `Buffered` adds the system buffer,
    // read below only for METHOD_BUFFERED codes.
    let buffered = unsafe { &fsctl.Buffered };
    let code = buffered.FsControlCode;
    // The core reads at most the struct's size of the input: that much is copied here, outside
    // the state lock, with the length the caller gave (a shorter input stays shorter, so the
    // core's BUFFER_TOO_SMALL check sees it).
    let mut copy = [0u8; SET_PURGE_FAILURE_MODE_INPUT_SIZE];
    let readable = code & 3 == METHOD_BUFFERED && !buffered.SystemBuffer.is_null();
    let length = if readable {
        (buffered.InputBufferLength as usize).min(copy.len())
    } else {
        0
    };
    if length != 0 {
        // SAFETY: METHOD_BUFFERED: the I/O manager copied `InputBufferLength` (>= `length`) bytes
        // into the system buffer, valid until the request completes; read once, here, at the
        // pre-operation's IRQL.
        let input = unsafe { slice::from_raw_parts(buffered.SystemBuffer.cast::<u8>(), length) };
        copy[..length].copy_from_slice(input);
    }
    let input = &copy[..length];
    let route = state::with(|s| s.filter.pre_fsctl(code, input));
    let FsctlRoute::TrackSetPurgeFailureMode(saved) = route else {
        return pass_through();
    };
    // SAFETY: live callback data.
    let (file_object, instance) = unsafe { target(data) };
    let Some(stream) = contexts::stream(instance, file_object) else {
        log!(
            Trace,
            "FSCTL_SET_PURGE_FAILURE_MODE on a stream without a context: not mirrored"
        );
        return pass_through();
    };
    let completion = FsctlCompletion {
        saved,
        stream: stream.into_raw(),
    };
    match pool::try_box(completion) {
        Ok(completion) => {
            // SAFETY: Filter Manager passes a live out pointer for the completion context.
            unsafe { completion_context.write(completion.cast()) };
            with_post()
        }
        Err(back) => {
            // SAFETY: the reference given up just above, taken back once.
            drop(unsafe { ContextRef::from_raw(back.stream) });
            log!(
                Error,
                "FSCTL_SET_PURGE_FAILURE_MODE not mirrored: no memory"
            );
            pass_through()
        }
    }
}

/// The `IRP_MJ_FILE_SYSTEM_CONTROL` post-operation callback (only for tracked FSCTLs).
///
/// # Safety
/// Called by Filter Manager at IRQL <= `DISPATCH_LEVEL`, once per pre callback that asked for
/// it, with its completion context.
pub unsafe extern "C" fn post_file_system_control(
    data: PFLT_CALLBACK_DATA,
    objects: PCFLT_RELATED_OBJECTS,
    completion_context: PVOID,
    flags: FLT_POST_OPERATION_FLAGS,
) -> FLT_POSTOP_CALLBACK_STATUS {
    // SAFETY: the completion context pre stored, taken back once.
    let FsctlCompletion { saved, stream } =
        unsafe { pool::unbox(completion_context.cast::<FsctlCompletion>()) };
    // SAFETY: pre gave up one reference on `stream` for this callback.
    let stream = unsafe { ContextRef::from_raw(stream) };
    if flags & FLTFL_POST_OPERATION_DRAINING != 0 {
        log!(
            Warning,
            "FSCTL_SET_PURGE_FAILURE_MODE completed while draining: not mirrored"
        );
        return finished();
    }
    // SAFETY: live callback data of the completed FSCTL.
    let status = unsafe { io_status(data) };
    // SAFETY: `stream` is live and referenced.
    let update = unsafe {
        state::with_stream(stream.as_ptr(), |filter, s| {
            filter.post_fsctl(s, &saved, status)
        })
    };
    log!(
        Trace,
        "FSCTL_SET_PURGE_FAILURE_MODE ({status:?}): {:?}",
        update.outcome
    );
    if !update.reissue.is_empty() {
        // SAFETY: related objects are valid for the callback.
        let instance = unsafe { (*objects).Instance };
        purge::reissue(instance, stream.into_raw(), update.reissue);
    }
    finished()
}
