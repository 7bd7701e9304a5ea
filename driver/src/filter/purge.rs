//! The filter's own purge: a user's flush + purge request, run through the caller's own file
//! object (`FltFlushBuffers2(.., FLT_FLUSH_TYPE_FLUSH_AND_PURGE, ..)` below this instance), its
//! result given to `Filter::purge_completed`, and the requests a closing purge-failure window
//! releases re-issued in order from a generic work item at `PASSIVE_LEVEL`.
//!
//! A held request owns one reference on the caller's file object; [`release`] drops it, whatever
//! became of the request (done, failed, cancelled by a cleanup, torn down with the stream).
//!
//! Unverified here: written from the `FltFlushBuffers2`, `FltQueueGenericWorkItem` and
//! `ObDereferenceObject` documentation (`FLT_FLUSH_TYPE_FLUSH_AND_PURGE` needs Windows 10 1903);
//! never run.

use core::ptr;

use ferrofilter_core::NtStatus;
use ferrofilter_core::minifilter::PurgeOutcome;
use ferrofilter_core::purge::HeldQueue;
use wdk_sys::ntddk::ObfDereferenceObject;
use wdk_sys::{_WORK_QUEUE_TYPE, PVOID};

use super::pool;
use super::state::{self, HeldPurge, StreamCtx};
use crate::constants::FLT_FLUSH_TYPE_FLUSH_AND_PURGE;
use crate::fltmgr::{
    FltAllocateGenericWorkItem, FltFlushBuffers2, FltFreeGenericWorkItem, FltQueueGenericWorkItem,
    PFLT_GENERIC_WORKITEM, PFLT_INSTANCE,
};
use crate::wdf::check;

/// A purge request is finished (`status` is what it came to): drops its file object reference.
/// IRQL <= `DISPATCH_LEVEL`.
#[allow(
    clippy::needless_pass_by_value,
    reason = "consumes the token: the reference it owns ends here"
)]
pub fn release(op: HeldPurge, status: NtStatus) {
    log!(Trace, "purge request finished: {status:?}");
    // SAFETY: the token owns exactly one reference on the file object (state.rs) and is consumed
    // here, so the reference is dropped once.
    unsafe { ObfDereferenceObject(op.file_object.cast()) };
}

/// What [`run`] came to.
pub enum Ran {
    /// Finished with this status (the token is released).
    Completed(NtStatus),
    /// A window opened before it could finish: held again by the core.
    Held,
}

/// Flushes and purges the stream of `op` through its own file object, then lets the core decide.
/// `PASSIVE_LEVEL` (`FltFlushBuffers2`); the state lock is not held across the flush.
///
/// # Safety
/// `stream` must be the live, referenced stream context of `op.file_object` on `op.instance`.
pub unsafe fn run(stream: *mut StreamCtx, op: HeldPurge) -> Ran {
    // SAFETY: the instance is live (a referenced context of it is held, or a work item queued on
    // it is running) and the file object is referenced by the token; PASSIVE_LEVEL (caller).
    let status = unsafe {
        FltFlushBuffers2(
            op.instance,
            op.file_object,
            FLT_FLUSH_TYPE_FLUSH_AND_PURGE,
            ptr::null_mut(),
        )
    };
    let status = NtStatus::from_i32(status);
    // SAFETY: `stream` is live and referenced (caller).
    let outcome =
        unsafe { state::with_stream(stream, |filter, s| filter.purge_completed(s, op, status)) };
    match outcome {
        PurgeOutcome::Completed { status, op } => {
            release(op, status);
            Ran::Completed(status)
        }
        PurgeOutcome::Held => Ran::Held,
    }
}

/// What a re-issue work item carries.
struct Reissue {
    stream: *mut StreamCtx,
    ops: HeldQueue<HeldPurge>,
}

/// Re-issues, in order, the requests a closing window released (`ModeUpdate::reissue`). Called
/// from the post-FSCTL callback (IRQL <= `DISPATCH_LEVEL`): the purges run later, at
/// `PASSIVE_LEVEL`, in one generic work item queued on `instance`, which keeps the instance from
/// being torn down until it ran. `stream` must carry a context reference the work item takes over.
/// If the work item cannot be queued the requests are released with the failure.
pub fn reissue(instance: PFLT_INSTANCE, stream: *mut StreamCtx, ops: HeldQueue<HeldPurge>) {
    let fail = |ops: HeldQueue<HeldPurge>, stream: *mut StreamCtx, status: NtStatus| {
        log!(
            Error,
            "cannot re-issue {} purge requests: {status:?}",
            ops.len()
        );
        for op in ops {
            release(op, status);
        }
        // SAFETY: the caller handed over one reference on `stream`.
        drop(unsafe { super::contexts::ContextRef::from_raw(stream) });
    };
    // SAFETY: no preconditions; IRQL <= DISPATCH_LEVEL.
    let item: PFLT_GENERIC_WORKITEM = unsafe { FltAllocateGenericWorkItem() };
    if item.is_null() {
        return fail(ops, stream, NtStatus::INSUFFICIENT_RESOURCES);
    }
    let context = match pool::try_box(Reissue { stream, ops }) {
        Ok(context) => context,
        Err(back) => {
            // SAFETY: `item` was allocated above and never queued.
            unsafe { FltFreeGenericWorkItem(item) };
            return fail(back.ops, back.stream, NtStatus::INSUFFICIENT_RESOURCES);
        }
    };
    // SAFETY: `item` is fresh; `instance` is the live instance of the running post callback;
    // the routine matches PFLT_GENERIC_WORKITEM_ROUTINE; `context` is ours until the routine
    // takes it back.
    let status = unsafe {
        FltQueueGenericWorkItem(
            item,
            instance.cast(),
            Some(reissue_worker),
            _WORK_QUEUE_TYPE::DelayedWorkQueue,
            context.cast(),
        )
    };
    if let Err(status) = check(status) {
        // SAFETY: not queued, so the context is still ours, taken back once.
        let back = unsafe { pool::unbox(context) };
        // SAFETY: `item` was never queued.
        unsafe { FltFreeGenericWorkItem(item) };
        fail(back.ops, back.stream, status);
    }
}

/// `PFLT_GENERIC_WORKITEM_ROUTINE` of [`reissue`]: runs the released requests in order.
///
/// # Safety
/// Called by Filter Manager once, at `PASSIVE_LEVEL`, with the context `reissue` queued.
unsafe extern "C" fn reissue_worker(item: PFLT_GENERIC_WORKITEM, _instance: PVOID, context: PVOID) {
    wdk_sys::PAGED_CODE!();
    // SAFETY: `context` is the Reissue queued by `reissue`, taken back exactly once.
    let Reissue { stream, ops } = unsafe { pool::unbox(context.cast::<Reissue>()) };
    // SAFETY: the work item took over one reference on `stream` (`reissue`'s contract).
    let reference = unsafe { super::contexts::ContextRef::from_raw(stream) };
    for op in ops {
        // SAFETY: `reference` keeps the stream context alive; the queued work item holds the
        // instance's rundown; PASSIVE_LEVEL.
        match unsafe { run(reference.as_ptr(), op) } {
            Ran::Completed(status) => log!(Trace, "re-issued purge: {status:?}"),
            Ran::Held => log!(Trace, "re-issued purge held again"),
        }
    }
    drop(reference);
    // SAFETY: the item is no longer used by Filter Manager once its routine runs.
    unsafe { FltFreeGenericWorkItem(item) };
}
