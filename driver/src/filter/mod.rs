//! The minifilter's operation callbacks, wired to `ferrofilter_core::minifilter::Filter` the way
//! the sim's Filter Manager (`sim/src/fltmgr.rs`) calls it:
//!
//! | callback | core call | here |
//! |---|---|---|
//! | pre-create | `Filter::pre_create` | [`create`]: ECPs read with `FltGetEcpListFromCallbackData` + `FltGetNextExtraCreateParameter`, `FltIsEcpFromUserMode`; keys kept as completion context |
//! | post-create | `Filter::post_io`, `Filter::post_create`, `StreamContext::on_handle_opened` | [`create`]: stream-handle context set, stream context found or made |
//! | pre/post-FSCTL | `Filter::pre_fsctl`, `Filter::post_fsctl` | [`fsctl`]: `FSCTL_SET_PURGE_FAILURE_MODE` passed down untouched, re-issues queued to a work item |
//! | pre/post write, set-information | `Filter::pre_io`, `Filter::post_io` | [`io`] |
//! | pre-cleanup | `Filter::cleanup` | [`io`] |
//! | stream context cleanup, instance teardown start | `Filter::stream_teardown` | [`contexts`], [`state`] |
//! | control device | `Filter::purge_request`, `Filter::purge_completed`, the `control::answer_*` functions | [`serve`], [`purge`] |
//!
//! The filter never modifies or attaches an ECP, never issues `FSCTL_SET_PURGE_FAILURE_MODE`,
//! never fails or holds a caller's operation: every pre-operation callback passes its operation
//! down unchanged (`FLT_PREOP_SUCCESS_WITH_CALLBACK` or `..._NO_CALLBACK`). The only operations
//! it holds are its own purges, requested through the control device.
//!
//! Unverified here: written from fltKernel.h (a public copy of the WDK header), the minispy
//! (`SpyParseEcps`), ctx (`CtxFindOrCreateStreamContext`), scanner, swapBuffers and cdo samples,
//! the Win32 metadata signatures and the Filter Manager documentation; never compiled with the
//! WDK, never loaded.

pub mod contexts;
pub mod create;
pub mod fsctl;
pub mod io;
pub mod pool;
pub mod purge;
pub mod serve;
pub mod state;

use ferrofilter_core::NtStatus;
use wdk_sys::{IO_STATUS_BLOCK, PFILE_OBJECT};

use crate::fltmgr::{
    _FLT_POSTOP_CALLBACK_STATUS, _FLT_PREOP_CALLBACK_STATUS, FLT_POSTOP_CALLBACK_STATUS,
    FLT_PREOP_CALLBACK_STATUS, PFLT_CALLBACK_DATA, PFLT_INSTANCE, PFLT_IO_PARAMETER_BLOCK,
};

/// Pass the operation down, no post callback.
pub const fn pass_through() -> FLT_PREOP_CALLBACK_STATUS {
    _FLT_PREOP_CALLBACK_STATUS::FLT_PREOP_SUCCESS_NO_CALLBACK
}

/// Pass the operation down, with the post callback.
pub const fn with_post() -> FLT_PREOP_CALLBACK_STATUS {
    _FLT_PREOP_CALLBACK_STATUS::FLT_PREOP_SUCCESS_WITH_CALLBACK
}

/// The post callback is done.
pub const fn finished() -> FLT_POSTOP_CALLBACK_STATUS {
    _FLT_POSTOP_CALLBACK_STATUS::FLT_POSTOP_FINISHED_PROCESSING
}

/// `Data->Iopb`.
///
/// # Safety
/// `data` must be the callback data Filter Manager passed to the running callback.
pub unsafe fn iopb(data: PFLT_CALLBACK_DATA) -> PFLT_IO_PARAMETER_BLOCK {
    // SAFETY: `data` is live for the callback (caller); `Iopb` is set by Filter Manager.
    unsafe { (*data).Iopb }
}

/// `Data->Iopb->TargetFileObject` and `Data->Iopb->TargetInstance`.
///
/// # Safety
/// As [`iopb`].
pub unsafe fn target(data: PFLT_CALLBACK_DATA) -> (PFILE_OBJECT, PFLT_INSTANCE) {
    // SAFETY: forwarded from the caller.
    let iopb = unsafe { iopb(data) };
    // SAFETY: `Iopb` points to the operation's live parameter block.
    let file_object = unsafe { (*iopb).TargetFileObject };
    // SAFETY: as above.
    let instance = unsafe { (*iopb).TargetInstance };
    (file_object, instance)
}

/// `Data->IoStatus.Status`: in a post callback, what the operation completed with below.
///
/// # Safety
/// As [`iopb`].
pub unsafe fn io_status(data: PFLT_CALLBACK_DATA) -> NtStatus {
    // SAFETY: `data` is live for the callback (caller).
    let io: &IO_STATUS_BLOCK = unsafe { &(*data).IoStatus };
    // SAFETY: `Status` is the member of the anonymous union a completed operation sets (wdm.h).
    NtStatus::from_i32(unsafe { io.__bindgen_anon_1.Status })
}
