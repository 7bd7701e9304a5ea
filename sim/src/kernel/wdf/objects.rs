//! Object lifetime: references, deletion, contexts and cleanup callbacks.
#![allow(non_snake_case, reason = "the framework's method names")]

use super::super::layout::{WDF_DRIVER_GLOBALS, WDF_OBJECT_CONTEXT_TYPE_INFO};
use super::super::{DISPATCH_LEVEL, Violation, with, with_deferred};
use core::ffi::c_void;

use super::{Body, Object, resolve_live};

pub(super) unsafe extern "C" fn WdfObjectGetTypedContextWorker(
    _globals: *mut WDF_DRIVER_GLOBALS,
    handle: *mut c_void,
    type_info: *const WDF_OBJECT_CONTEXT_TYPE_INFO,
) -> *mut c_void {
    super::super::pool::as_kernel(|| {
        with(|k| {
            k.enter("WdfObjectGetTypedContextWorker", DISPATCH_LEVEL);
            let Some(index) = resolve_live(k, "WdfObjectGetTypedContextWorker", handle) else {
                return core::ptr::null_mut();
            };
            k.wdf
                .context(index, type_info as usize)
                .map_or(core::ptr::null_mut(), |address| address as *mut c_void)
        })
    })
}

pub(super) unsafe extern "C" fn WdfObjectReferenceActual(
    _globals: *mut WDF_DRIVER_GLOBALS,
    handle: *mut c_void,
    _tag: *mut c_void,
    _line: i32,
    _file: *const i8,
) {
    super::super::pool::as_kernel(|| {
        with(|k| {
            k.enter("WdfObjectReferenceActual", DISPATCH_LEVEL);
            if let Some(index) = resolve_live(k, "WdfObjectReferenceActual", handle)
                && let Some(object) = k.wdf.get_mut(index)
            {
                object.refs += 1;
            }
        });
    });
}

pub(super) unsafe extern "C" fn WdfObjectDereferenceActual(
    _globals: *mut WDF_DRIVER_GLOBALS,
    handle: *mut c_void,
    _tag: *mut c_void,
    _line: i32,
    _file: *const i8,
) {
    super::super::pool::as_kernel(|| {
        with_deferred(|k, deferred| {
            k.enter("WdfObjectDereferenceActual", DISPATCH_LEVEL);
            let Some(index) = resolve_live(k, "WdfObjectDereferenceActual", handle) else {
                return;
            };
            let refs = k.wdf.get(index).map_or(0, |object| object.refs);
            if refs <= 1 && !k.wdf.get(index).is_some_and(|object| object.deleted) {
                k.report(Violation::ReferenceUnderflow {
                    routine: "WdfObjectDereferenceActual",
                    handle: format!("{handle:p}"),
                });
                return;
            }
            k.wdf.release(index, deferred);
        });
    });
}

pub(super) unsafe extern "C" fn WdfObjectDelete(
    _globals: *mut WDF_DRIVER_GLOBALS,
    handle: *mut c_void,
) {
    super::super::pool::as_kernel(|| {
        with_deferred(|k, deferred| {
            k.enter("WdfObjectDelete", DISPATCH_LEVEL);
            let Some(index) = resolve_live(k, "WdfObjectDelete", handle) else {
                return;
            };
            if let Some(Object {
                body: Body::Request(data),
                ..
            }) = k.wdf.get(index)
                && !data.created
            {
                k.report(Violation::BadArgument {
                    routine: "WdfObjectDelete",
                    detail: "a request the framework delivered is completed, not deleted"
                        .to_owned(),
                });
                return;
            }
            k.wdf.delete(index, deferred);
        });
    });
}
