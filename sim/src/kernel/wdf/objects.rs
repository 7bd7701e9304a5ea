//! Object lifetime: references, deletion, contexts and cleanup callbacks.
#![allow(non_snake_case, reason = "the framework's method names")]

use super::super::layout::{WDF_DRIVER_GLOBALS, WDF_OBJECT_CONTEXT_TYPE_INFO};
use super::super::{DISPATCH_LEVEL, Violation, with};
use core::ffi::c_void;

use super::{Body, Object};

pub(super) unsafe extern "C" fn WdfObjectGetTypedContextWorker(
    _globals: *mut WDF_DRIVER_GLOBALS,
    handle: *mut c_void,
    type_info: *const WDF_OBJECT_CONTEXT_TYPE_INFO,
) -> *mut c_void {
    super::super::pool::as_kernel(|| {
        with(|k| {
            k.enter("WdfObjectGetTypedContextWorker", DISPATCH_LEVEL);
            let Some(index) = k.wdf.index(handle as usize) else {
                k.report(Violation::UseAfterFree {
                    routine: "WdfObjectGetTypedContextWorker",
                    handle: format!("{handle:p}"),
                });
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
            match k.wdf.index(handle as usize) {
                Some(index) => {
                    if let Some(object) = k.wdf.get_mut(index) {
                        object.refs += 1;
                    }
                }
                None => k.report(Violation::UseAfterFree {
                    routine: "WdfObjectReferenceActual",
                    handle: format!("{handle:p}"),
                }),
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
        let mut deferred = Vec::new();
        with(|k| {
            k.enter("WdfObjectDereferenceActual", DISPATCH_LEVEL);
            let Some(index) = k.wdf.index(handle as usize) else {
                k.report(Violation::UseAfterFree {
                    routine: "WdfObjectDereferenceActual",
                    handle: format!("{handle:p}"),
                });
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
            k.wdf.release(index, &mut deferred);
        });
        super::super::run_deferred(deferred);
    });
}

pub(super) unsafe extern "C" fn WdfObjectDelete(
    _globals: *mut WDF_DRIVER_GLOBALS,
    handle: *mut c_void,
) {
    super::super::pool::as_kernel(|| {
        let mut deferred = Vec::new();
        with(|k| {
            k.enter("WdfObjectDelete", DISPATCH_LEVEL);
            let Some(index) = k.wdf.index(handle as usize) else {
                k.report(Violation::UseAfterFree {
                    routine: "WdfObjectDelete",
                    handle: format!("{handle:p}"),
                });
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
            k.wdf.delete(index, &mut deferred);
        });
        super::super::run_deferred(deferred);
    });
}
