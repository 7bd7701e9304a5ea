//! Write, set-information and cleanup.
//!
//! - `IRP_MJ_WRITE` / `IRP_MJ_SET_INFORMATION`: `Filter::pre_io` says whether the post callback
//!   counts the answer (`STATUS_USER_MAPPED_FILE` / `STATUS_PURGE_FAILED` coming up from a file
//!   system inside a purge-failure window); `Filter::post_io` counts it. The operation always
//!   goes down unchanged: the purge that can fail is the file system's, which applies the
//!   purge-failure policy itself, and Filter Manager's retry after closing its section is
//!   invisible here. A write is non-cached when `IRP_NOCACHE` is set in `IrpFlags` (fast I/O
//!   writes carry no IRP flags and are cached).
//! - `IRP_MJ_CLEANUP` (pre, `PASSIVE_LEVEL`): for a handle the filter counted (it has a
//!   stream-handle context), `Filter::cleanup` with "held by this file object" as the selector;
//!   the returned purge requests are released with the teardown status.
//!
//! Unverified here: written from fltKernel.h (`FLT_IO_PARAMETER_BLOCK.IrpFlags`) and wdm.h
//! (`IRP_NOCACHE`); never run.

use core::ptr;

use ferrofilter_core::purge::PurgeOp;
use wdk_sys::PVOID;

use super::{contexts, finished, io_status, iopb, pass_through, purge, state, target, with_post};
use crate::constants::{FLTFL_POST_OPERATION_DRAINING, IRP_NOCACHE};
use crate::fltmgr::{
    FLT_POST_OPERATION_FLAGS, FLT_POSTOP_CALLBACK_STATUS, FLT_PREOP_CALLBACK_STATUS,
    PCFLT_RELATED_OBJECTS, PFLT_CALLBACK_DATA,
};

/// Asks the core whether the post callback of `kind` is wanted.
fn pre_io(kind: PurgeOp) -> FLT_PREOP_CALLBACK_STATUS {
    if state::with(|s| s.filter.pre_io(kind)) {
        with_post()
    } else {
        pass_through()
    }
}

/// Counts the answer of an operation whose post callback the core asked for.
///
/// # Safety
/// `data` must be the live callback data of the completed operation.
unsafe fn post_io(
    data: PFLT_CALLBACK_DATA,
    flags: FLT_POST_OPERATION_FLAGS,
) -> FLT_POSTOP_CALLBACK_STATUS {
    if flags & FLTFL_POST_OPERATION_DRAINING == 0 {
        // SAFETY: forwarded from the caller.
        let status = unsafe { io_status(data) };
        state::with(|s| s.filter.post_io(status));
    }
    finished()
}

/// `IRP_MJ_WRITE` pre-operation callback.
///
/// # Safety
/// Called by Filter Manager at IRQL <= `APC_LEVEL` with valid callback data.
pub unsafe extern "C" fn pre_write(
    data: PFLT_CALLBACK_DATA,
    _objects: PCFLT_RELATED_OBJECTS,
    _completion_context: *mut PVOID,
) -> FLT_PREOP_CALLBACK_STATUS {
    // SAFETY: live callback data.
    let iopb = unsafe { iopb(data) };
    // SAFETY: `Iopb` points to the live parameter block.
    let irp_flags = unsafe { (*iopb).IrpFlags };
    pre_io(PurgeOp::Write {
        non_cached: irp_flags & IRP_NOCACHE != 0,
    })
}

/// `IRP_MJ_WRITE` post-operation callback (IRQL <= `DISPATCH_LEVEL`).
///
/// # Safety
/// Called by Filter Manager with valid callback data.
pub unsafe extern "C" fn post_write(
    data: PFLT_CALLBACK_DATA,
    _objects: PCFLT_RELATED_OBJECTS,
    _completion_context: PVOID,
    flags: FLT_POST_OPERATION_FLAGS,
) -> FLT_POSTOP_CALLBACK_STATUS {
    // SAFETY: forwarded from Filter Manager.
    unsafe { post_io(data, flags) }
}

/// `IRP_MJ_SET_INFORMATION` pre-operation callback.
///
/// # Safety
/// Called by Filter Manager at IRQL <= `APC_LEVEL` with valid callback data.
pub unsafe extern "C" fn pre_set_information(
    _data: PFLT_CALLBACK_DATA,
    _objects: PCFLT_RELATED_OBJECTS,
    _completion_context: *mut PVOID,
) -> FLT_PREOP_CALLBACK_STATUS {
    pre_io(PurgeOp::SetInformation)
}

/// `IRP_MJ_SET_INFORMATION` post-operation callback (IRQL <= `DISPATCH_LEVEL`).
///
/// # Safety
/// Called by Filter Manager with valid callback data.
pub unsafe extern "C" fn post_set_information(
    data: PFLT_CALLBACK_DATA,
    _objects: PCFLT_RELATED_OBJECTS,
    _completion_context: PVOID,
    flags: FLT_POST_OPERATION_FLAGS,
) -> FLT_POSTOP_CALLBACK_STATUS {
    // SAFETY: forwarded from Filter Manager.
    unsafe { post_io(data, flags) }
}

/// `IRP_MJ_CLEANUP` pre-operation callback: the last handle of a file object is closing.
///
/// # Safety
/// Called by Filter Manager at `PASSIVE_LEVEL` with valid callback data.
pub unsafe extern "C" fn pre_cleanup(
    data: PFLT_CALLBACK_DATA,
    _objects: PCFLT_RELATED_OBJECTS,
    _completion_context: *mut PVOID,
) -> FLT_PREOP_CALLBACK_STATUS {
    wdk_sys::PAGED_CODE!();
    // SAFETY: live callback data.
    let (file_object, instance) = unsafe { target(data) };
    // Only handles whose create the filter saw (and counted) have a stream-handle context.
    if contexts::handle(instance, file_object).is_none() {
        return pass_through();
    }
    let Some(stream) = contexts::stream(instance, file_object) else {
        return pass_through();
    };
    // SAFETY: `stream` is live and referenced.
    let torn = unsafe {
        state::with_stream(stream.as_ptr(), |filter, s| {
            filter.cleanup(s, |op| ptr::eq(op.file_object, file_object))
        })
    };
    drop(stream);
    for op in torn.ops {
        purge::release(op, torn.status);
    }
    pass_through()
}
