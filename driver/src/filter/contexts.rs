//! The filter's two Filter Manager contexts and how they are found or made.
//!
//! - Stream context ([`StreamCtx`], `FLT_STREAM_CONTEXT`): one per data stream per instance,
//!   shared by all handles of the stream. Found or made in post-create the way the ctx sample's
//!   `CtxFindOrCreateStreamContext` does (`FltGetStreamContext`, else `FltAllocateContext` +
//!   `FltSetStreamContext(FLT_SET_CONTEXT_KEEP_IF_EXISTS)`, keeping the other thread's context
//!   when it won). Its cleanup callback unlinks it and runs `Filter::stream_teardown`.
//! - Stream-handle context ([`HandleCtx`], `FLT_STREAMHANDLE_CONTEXT`): the core's
//!   `HandleContext` (keys and granted access) of one open. Plain data, no cleanup.
//!
//! Every function here runs at IRQL <= `APC_LEVEL` (`FltGetStreamContext` and friends require
//! it); the context cleanup callback is called at IRQL <= `APC_LEVEL` too.
//!
//! Unverified here: written from fltKernel.h and the ctx / scanner samples; never run.

use core::ptr;

use ferrofilter_core::NtStatus;
use ferrofilter_core::minifilter::HandleContext;
use wdk_sys::{_POOL_TYPE, PFILE_OBJECT, SIZE_T};

use super::purge;
use super::state::{self, StreamCtx};
use crate::constants::{FLT_STREAM_CONTEXT, FLT_STREAMHANDLE_CONTEXT};
use crate::fltmgr::{
    _FLT_SET_CONTEXT_OPERATION, FLT_CONTEXT_TYPE, FltAllocateContext, FltGetStreamContext,
    FltGetStreamHandleContext, FltReleaseContext, FltSetStreamContext, FltSetStreamHandleContext,
    PFLT_CONTEXT, PFLT_FILTER, PFLT_INSTANCE,
};
use crate::wdf::check;

/// The stream-handle context: the core's record of one open.
#[repr(C)]
pub struct HandleCtx {
    /// Keys and granted access.
    pub context: HandleContext,
}

/// A referenced Filter Manager context, released on drop (`FltReleaseContext`, IRQL <=
/// `DISPATCH_LEVEL`, so it may be dropped in a post-operation callback).
pub struct ContextRef<T> {
    context: *mut T,
}

impl<T> ContextRef<T> {
    /// The context memory.
    pub const fn as_ptr(&self) -> *mut T {
        self.context
    }

    /// Gives up ownership of the reference (for a completion context); take it back with
    /// [`ContextRef::from_raw`].
    pub fn into_raw(self) -> *mut T {
        let context = self.context;
        core::mem::forget(self);
        context
    }

    /// Takes back a reference given up with [`ContextRef::into_raw`].
    ///
    /// # Safety
    /// `context` must come from `into_raw` and not have been taken back before.
    pub const unsafe fn from_raw(context: *mut T) -> Self {
        Self { context }
    }
}

impl<T> Drop for ContextRef<T> {
    fn drop(&mut self) {
        // SAFETY: `context` is a context this value holds one reference on (from FltGet*Context,
        // FltAllocateContext or FltSetStreamContext's OldContext).
        unsafe { FltReleaseContext(self.context.cast()) };
    }
}

#[allow(
    clippy::cast_possible_truncation,
    reason = "the const assertion proves the size fits"
)]
const fn size_of_context<T>() -> SIZE_T {
    const {
        assert!(size_of::<T>() <= u32::MAX as usize);
    }
    size_of::<T>() as SIZE_T
}

/// `FltAllocateContext` of `context_type` from nonpaged pool, sized for `T`.
fn allocate<T>(
    filter: PFLT_FILTER,
    context_type: FLT_CONTEXT_TYPE,
) -> Result<ContextRef<T>, NtStatus> {
    let mut context: PFLT_CONTEXT = ptr::null_mut();
    // SAFETY: `filter` is this driver's registered filter (from the related objects); the size
    // and type match a CONTEXTS entry of the registration; `context` is a live local.
    let status = unsafe {
        FltAllocateContext(
            filter,
            context_type,
            size_of_context::<T>(),
            _POOL_TYPE::NonPagedPoolNx,
            &raw mut context,
        )
    };
    check(status)?;
    Ok(ContextRef {
        context: context.cast(),
    })
}

/// The stream context of `file_object` on `instance`, if the filter made one.
pub fn stream(instance: PFLT_INSTANCE, file_object: PFILE_OBJECT) -> Option<ContextRef<StreamCtx>> {
    let mut context: PFLT_CONTEXT = ptr::null_mut();
    // SAFETY: instance and file object come from a live operation or a referenced handle;
    // `context` is a live local; IRQL <= APC_LEVEL (module docs).
    let status = unsafe { FltGetStreamContext(instance, file_object, &raw mut context) };
    check(status).ok().map(|()| ContextRef {
        context: context.cast(),
    })
}

/// The stream-handle context of `file_object` on `instance`, copied out.
pub fn handle(instance: PFLT_INSTANCE, file_object: PFILE_OBJECT) -> Option<HandleContext> {
    let mut context: PFLT_CONTEXT = ptr::null_mut();
    // SAFETY: as in `stream`.
    let status = unsafe { FltGetStreamHandleContext(instance, file_object, &raw mut context) };
    check(status).ok()?;
    let reference = ContextRef::<HandleCtx> {
        context: context.cast(),
    };
    // SAFETY: a stream-handle context of this filter is a HandleCtx written in full by
    // `set_handle` before it was set; the reference keeps it alive.
    Some(unsafe { (*reference.as_ptr()).context })
}

/// Sets the stream-handle context of a newly opened `file_object` (post-create).
pub fn set_handle(
    filter: PFLT_FILTER,
    instance: PFLT_INSTANCE,
    file_object: PFILE_OBJECT,
    context: HandleContext,
) -> Result<(), NtStatus> {
    let new = allocate::<HandleCtx>(filter, FLT_STREAMHANDLE_CONTEXT)?;
    // SAFETY: fresh, suitably sized and aligned context memory nobody else can reach yet.
    unsafe { new.as_ptr().write(HandleCtx { context }) };
    // SAFETY: live instance and file object of a create that succeeded; `new` is this filter's
    // context; no old context is asked for.
    let status = unsafe {
        FltSetStreamHandleContext(
            instance,
            file_object,
            _FLT_SET_CONTEXT_OPERATION::FLT_SET_CONTEXT_REPLACE_IF_EXISTS,
            new.as_ptr().cast(),
            ptr::null_mut(),
        )
    };
    // `new` drops our reference either way; on success Filter Manager holds its own.
    check(status)
}

/// The stream context of `file_object`, made if there is none yet (post-create).
pub fn find_or_create_stream(
    filter: PFLT_FILTER,
    instance: PFLT_INSTANCE,
    file_object: PFILE_OBJECT,
) -> Result<ContextRef<StreamCtx>, NtStatus> {
    if let Some(existing) = stream(instance, file_object) {
        return Ok(existing);
    }
    let new = allocate::<StreamCtx>(filter, FLT_STREAM_CONTEXT)?;
    let node = new.as_ptr();
    // SAFETY: fresh, suitably sized and aligned context memory nobody else can reach yet. From
    // here on the cleanup callback may run (when `new` is released) and finds it initialized.
    unsafe { node.write(StreamCtx::new(state::next_stream_id(), instance)) };
    // SAFETY: `node` is initialized and unlinked; it stays allocated until its cleanup callback,
    // which unlinks it under the lock first.
    state::with(|s| unsafe { s.streams.link(node) });
    let mut old: PFLT_CONTEXT = ptr::null_mut();
    // SAFETY: live instance and file object of a create that succeeded; `node` is this filter's
    // context; `old` is a live local.
    let status = unsafe {
        FltSetStreamContext(
            instance,
            file_object,
            _FLT_SET_CONTEXT_OPERATION::FLT_SET_CONTEXT_KEEP_IF_EXISTS,
            node.cast(),
            &raw mut old,
        )
    };
    if let Err(status) = check(status) {
        // Ours is released when `new` drops (its cleanup callback unlinks it). Another thread's
        // context won the race when `old` came back (STATUS_FLT_CONTEXT_ALREADY_DEFINED).
        return if old.is_null() {
            Err(status)
        } else {
            Ok(ContextRef {
                context: old.cast(),
            })
        };
    }
    Ok(new)
}

/// `ContextCleanupCallback` of stream contexts: unlinks it and tears its core state down; held
/// purge requests are released with the teardown status.
///
/// # Safety
/// Called by Filter Manager once per stream context, at IRQL <= `APC_LEVEL`, before it frees the
/// memory; `context` was written by `find_or_create_stream` right after allocation.
pub unsafe extern "C" fn stream_cleanup(context: PFLT_CONTEXT, _context_type: FLT_CONTEXT_TYPE) {
    let node: *mut StreamCtx = context.cast();
    let torn = state::with(|s| {
        // SAFETY: the context is live and initialized (caller); unlinking takes the held lock.
        unsafe { s.streams.unlink(node) };
        // SAFETY: live and initialized (caller); nobody else holds a reference any more.
        let ctx = unsafe { &mut *node };
        // SAFETY: last use of the state: it is moved out once; the memory is freed by Filter
        // Manager, never dropped by Rust.
        let stream = unsafe { ptr::read(&raw const ctx.state) };
        s.filter.stream_teardown(stream)
    });
    // SAFETY: as above; `id` is plain data.
    let id = unsafe { (*node).id };
    if !torn.ops.is_empty() {
        log!(
            Trace,
            "stream {id:#x} freed with {} held purges",
            torn.ops.len()
        );
    }
    for op in torn.ops {
        purge::release(op, torn.status);
    }
}
