//! What every framework method does first: find its object by handle, and write out-parameters.
#![allow(non_snake_case, reason = "the framework's method names")]

use super::super::nt::STATUS_SUCCESS;
use super::super::{Kernel, Violation};
use core::ffi::c_void;

/// Resolves `handle` to a live object of any kind, reporting a use after free otherwise.
pub(super) fn resolve_live(
    k: &mut Kernel,
    routine: &'static str,
    handle: *mut c_void,
) -> Option<u32> {
    let index = k.wdf.index(handle as usize);
    if index.is_none() {
        k.report(Violation::UseAfterFree {
            routine,
            handle: format!("{handle:p}"),
        });
    }
    index
}

/// Resolves `handle` to a live object of the kind `expected` names, reporting otherwise.
pub(super) fn resolve(
    k: &mut Kernel,
    routine: &'static str,
    handle: *mut c_void,
    expected: &'static str,
) -> Option<u32> {
    let index = resolve_live(k, routine, handle)?;
    let kind = k.wdf.get(index).map(|object| object.body.name());
    if kind == Some(expected) {
        Some(index)
    } else {
        k.report(Violation::WrongObjectType { routine, expected });
        None
    }
}

/// A created object's handle to the driver's out pointer, or the failure status.
///
/// # Safety
/// `out` is a writable pointer or null.
pub(super) unsafe fn out_handle(created: Result<usize, i32>, out: *mut *mut c_void) -> i32 {
    match created {
        Ok(handle) => {
            // SAFETY: forwarded from the caller.
            unsafe { write_out(out, handle as *mut c_void) };
            STATUS_SUCCESS
        }
        Err(status) => status,
    }
}

/// # Safety
/// `out` is a writable pointer.
pub(super) unsafe fn write_out<T>(out: *mut T, value: T) {
    if !out.is_null() {
        // SAFETY: the caller passes a writable out pointer.
        unsafe { out.write(value) };
    }
}
