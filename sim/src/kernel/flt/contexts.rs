//! Stream and stream-handle contexts: allocation, references, get and set with their races.
#![allow(non_snake_case, reason = "Filter Manager's routine names")]

use core::ffi::c_void;
use std::alloc::Layout;

use super::super::nt::{STATUS_INSUFFICIENT_RESOURCES, STATUS_SUCCESS};
use super::super::wdf::STATUS_INVALID_PARAMETER;
use super::super::{APC_LEVEL, DISPATCH_LEVEL, Violation, with, with_deferred};

use super::{
    Attached, Context, FLT_STREAM_CONTEXT, FLT_STREAMHANDLE_CONTEXT, FilterManager, KEEP_IF_EXISTS,
    REPLACE_IF_EXISTS, STATUS_FLT_CONTEXT_ALREADY_DEFINED, STATUS_FLT_DELETING_OBJECT,
    STATUS_FLT_INVALID_CONTEXT_REGISTRATION, STATUS_NOT_FOUND, STATUS_NOT_SUPPORTED, filter_ok,
    instance_ok, write_out,
};

/// `FltAllocateContext`. The memory is not zeroed (pool), so the filter must initialize it.
///
/// # Safety
/// The filter and a writable out pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn FltAllocateContext(
    filter: *mut c_void,
    context_type: u16,
    size: usize,
    _pool_type: i32,
    context: *mut *mut c_void,
) -> i32 {
    super::super::pool::as_kernel(|| {
        let allocated = with(|k| {
            k.enter("FltAllocateContext", APC_LEVEL);
            if !filter_ok(k, "FltAllocateContext", filter) {
                return Err(STATUS_INVALID_PARAMETER);
            }
            let registered = k
                .flt
                .registration
                .as_ref()
                .and_then(|r| r.contexts.iter().find(|c| c.0 == context_type).copied());
            let Some((_, cleanup, registered_size, _)) = registered else {
                return Err(STATUS_FLT_INVALID_CONTEXT_REGISTRATION);
            };
            if size != registered_size {
                return Err(STATUS_INVALID_PARAMETER);
            }
            if k.fails("FltAllocateContext") {
                return Err(STATUS_INSUFFICIENT_RESOURCES);
            }
            let layout =
                Layout::from_size_align(size.max(1), 16).map_err(|_| STATUS_INVALID_PARAMETER)?;
            // SAFETY: a non-zero size.
            let address = unsafe { std::alloc::alloc(layout) };
            if address.is_null() {
                return Err(STATUS_INSUFFICIENT_RESOURCES);
            }
            // Pool memory is not zeroed; a recognisable pattern shows a read before a write.
            // SAFETY: `address` has `layout.size()` writable bytes.
            unsafe { address.write_bytes(0xA5, layout.size()) };
            k.flt.contexts.insert(
                address as usize,
                Context {
                    kind: context_type,
                    refs: 1,
                    attached: None,
                    layout,
                    cleanup,
                },
            );
            Ok(address as usize)
        });
        match allocated {
            Ok(address) => {
                // SAFETY: the driver's out pointer.
                unsafe { write_out(context, address as *mut c_void) };
                STATUS_SUCCESS
            }
            Err(status) => status,
        }
    })
}

/// `FltReleaseContext`.
///
/// # Safety
/// A context the caller holds a reference on.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn FltReleaseContext(context: *mut c_void) {
    super::super::pool::as_kernel(|| {
        with_deferred(|k, deferred| {
            k.enter("FltReleaseContext", DISPATCH_LEVEL);
            if k.flt.release(context as usize, deferred).is_none() {
                k.report(Violation::ReferenceUnderflow {
                    routine: "FltReleaseContext",
                    handle: format!("{context:p}"),
                });
            }
        });
    });
}

fn get_context(
    routine: &'static str,
    instance: *mut c_void,
    file: usize,
    stream: bool,
    context: *mut *mut c_void,
) -> i32 {
    let found = with(|k| {
        k.enter(routine, APC_LEVEL);
        if !instance_ok(k, routine, instance) {
            return Err(STATUS_INVALID_PARAMETER);
        }
        if k.fails(routine) {
            return Err(STATUS_NOT_FOUND);
        }
        let address = attached_to(&k.flt, file, stream).ok_or(STATUS_NOT_FOUND)?;
        if let Some(found) = k.flt.contexts.get_mut(&address) {
            found.refs += 1;
        }
        Ok(address)
    });
    match found {
        Ok(address) => {
            // SAFETY: the driver's out pointer.
            unsafe { write_out(context, address as *mut c_void) };
            STATUS_SUCCESS
        }
        Err(status) => status,
    }
}

fn set_context(
    routine: &'static str,
    instance: *mut c_void,
    file: usize,
    stream: bool,
    operation: i32,
    new: usize,
    old: *mut *mut c_void,
) -> i32 {
    let result = with_deferred(|k, deferred| {
        k.enter(routine, APC_LEVEL);
        if !instance_ok(k, routine, instance) {
            return Err(STATUS_INVALID_PARAMETER);
        }
        let expected = if stream {
            FLT_STREAM_CONTEXT
        } else {
            FLT_STREAMHANDLE_CONTEXT
        };
        match k.flt.contexts.get(&new) {
            Some(context) if context.kind == expected && context.attached.is_none() => {}
            _ => {
                k.report(Violation::BadArgument {
                    routine,
                    detail: "not an unattached context of this type".to_owned(),
                });
                return Err(STATUS_INVALID_PARAMETER);
            }
        }
        let key = if stream {
            Attached::Stream(*k.flt.file_streams.get(&file).ok_or(STATUS_NOT_SUPPORTED)?)
        } else {
            Attached::Handle(file)
        };
        if k.fails(routine) {
            return Err(STATUS_FLT_DELETING_OBJECT);
        }
        let existing = match key {
            Attached::Stream(s) => k.flt.stream_contexts.get(&s).copied(),
            Attached::Handle(f) => k.flt.handle_contexts.get(&f).copied(),
        };
        if let Some(existing) = existing {
            if operation == KEEP_IF_EXISTS {
                if !old.is_null()
                    && let Some(context) = k.flt.contexts.get_mut(&existing)
                {
                    context.refs += 1;
                }
                return Ok(Some((existing, STATUS_FLT_CONTEXT_ALREADY_DEFINED)));
            }
            if operation != REPLACE_IF_EXISTS {
                return Err(STATUS_INVALID_PARAMETER);
            }
            if !old.is_null()
                && let Some(context) = k.flt.contexts.get_mut(&existing)
            {
                context.refs += 1;
            }
            k.flt.detach(key, deferred);
        }
        match key {
            Attached::Stream(s) => k.flt.stream_contexts.insert(s, new),
            Attached::Handle(f) => k.flt.handle_contexts.insert(f, new),
        };
        if let Some(context) = k.flt.contexts.get_mut(&new) {
            context.attached = Some(key);
            context.refs += 1;
        }
        Ok(existing.map(|e| (e, STATUS_SUCCESS)))
    });
    match result {
        Ok(previous) => {
            let (address, status) = previous.unwrap_or((0, STATUS_SUCCESS));
            // SAFETY: the driver's optional out pointer.
            unsafe { write_out(old, address as *mut c_void) };
            status
        }
        Err(status) => {
            // SAFETY: as above.
            unsafe { write_out(old, core::ptr::null_mut()) };
            status
        }
    }
}

/// The stream context of `file`'s stream, or its stream-handle context.
fn attached_to(flt: &FilterManager, file: usize, stream: bool) -> Option<usize> {
    if stream {
        flt.stream_contexts
            .get(flt.file_streams.get(&file)?)
            .copied()
    } else {
        flt.handle_contexts.get(&file).copied()
    }
}

/// The get and set routines of one context type: the same code under the routine's own name,
/// with `$stream` saying where the context hangs.
macro_rules! context_routines {
    ($get:ident, $set:ident, $stream:literal, $what:literal) => {
        #[doc = concat!("`", stringify!($get), "`: ", $what, ", referenced for the caller.")]
        ///
        /// # Safety
        /// The instance, a file object on its volume, a writable out pointer.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $get(
            instance: *mut c_void,
            file: *mut c_void,
            context: *mut *mut c_void,
        ) -> i32 {
            super::super::pool::as_kernel(|| {
                get_context(stringify!($get), instance, file as usize, $stream, context)
            })
        }

        #[doc = concat!("`", stringify!($set), "`: attaches ", $what, ".")]
        ///
        /// # Safety
        /// The instance, a file object on its volume, a context from `FltAllocateContext`, an
        /// optional out pointer.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $set(
            instance: *mut c_void,
            file: *mut c_void,
            operation: i32,
            new: *mut c_void,
            old: *mut *mut c_void,
        ) -> i32 {
            super::super::pool::as_kernel(|| {
                set_context(
                    stringify!($set),
                    instance,
                    file as usize,
                    $stream,
                    operation,
                    new as usize,
                    old,
                )
            })
        }
    };
}

context_routines!(
    FltGetStreamContext,
    FltSetStreamContext,
    true,
    "the context of the file's stream"
);
context_routines!(
    FltGetStreamHandleContext,
    FltSetStreamHandleContext,
    false,
    "the context of this file object's handle"
);
