//! Volumes and instances as objects a filter references and dereferences.
#![allow(non_snake_case, reason = "Filter Manager's routine names")]

use core::ffi::c_void;

use super::super::nt::{STATUS_INSUFFICIENT_RESOURCES, STATUS_SUCCESS};
use super::super::wdf::STATUS_INVALID_PARAMETER;
use super::super::{APC_LEVEL, DISPATCH_LEVEL, Violation, with};

use super::{INSTANCE_HANDLE, STATUS_FLT_INSTANCE_NOT_FOUND, VOLUME_HANDLE, filter_ok, write_out};

/// `FltGetVolumeFromFileObject`.
///
/// # Safety
/// The filter, a referenced file object, a writable out pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn FltGetVolumeFromFileObject(
    filter: *mut c_void,
    file: *mut c_void,
    volume: *mut *mut c_void,
) -> i32 {
    super::super::pool::as_kernel(|| {
        let status = with(|k| {
            k.enter("FltGetVolumeFromFileObject", APC_LEVEL);
            if !filter_ok(k, "FltGetVolumeFromFileObject", filter) {
                return STATUS_INVALID_PARAMETER;
            }
            if k.fails("FltGetVolumeFromFileObject") {
                return STATUS_INSUFFICIENT_RESOURCES;
            }
            if !k.flt.file_streams.contains_key(&(file as usize)) {
                return STATUS_INVALID_PARAMETER;
            }
            k.flt.volume_refs += 1;
            STATUS_SUCCESS
        });
        if status == STATUS_SUCCESS {
            // SAFETY: the driver's out pointer.
            unsafe { write_out(volume, VOLUME_HANDLE as *mut c_void) };
        }
        status
    })
}

/// `FltGetVolumeInstanceFromName` (the filter's own instance; one per volume).
///
/// # Safety
/// The filter, a referenced volume, a name or null, a writable out pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn FltGetVolumeInstanceFromName(
    filter: *mut c_void,
    volume: *mut c_void,
    _name: *const c_void,
    instance: *mut *mut c_void,
) -> i32 {
    super::super::pool::as_kernel(|| {
        let status = with(|k| {
            k.enter("FltGetVolumeInstanceFromName", APC_LEVEL);
            if !filter_ok(k, "FltGetVolumeInstanceFromName", filter) {
                return STATUS_INVALID_PARAMETER;
            }
            if volume as usize != VOLUME_HANDLE || k.flt.volume_refs == 0 {
                k.report(Violation::UseAfterFree {
                    routine: "FltGetVolumeInstanceFromName",
                    handle: format!("{volume:p}"),
                });
                return STATUS_INVALID_PARAMETER;
            }
            if k.fails("FltGetVolumeInstanceFromName") || !k.flt.attached {
                return STATUS_FLT_INSTANCE_NOT_FOUND;
            }
            k.flt.instance_refs += 1;
            STATUS_SUCCESS
        });
        if status == STATUS_SUCCESS {
            // SAFETY: the driver's out pointer.
            unsafe { write_out(instance, INSTANCE_HANDLE as *mut c_void) };
        }
        status
    })
}

/// `FltObjectDereference`.
///
/// # Safety
/// A volume or instance the caller referenced.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn FltObjectDereference(object: *mut c_void) {
    super::super::pool::as_kernel(|| {
        with(|k| {
            k.enter("FltObjectDereference", DISPATCH_LEVEL);
            let count = match object as usize {
                VOLUME_HANDLE => &mut k.flt.volume_refs,
                INSTANCE_HANDLE => &mut k.flt.instance_refs,
                _ => {
                    k.report(Violation::UseAfterFree {
                        routine: "FltObjectDereference",
                        handle: format!("{object:p}"),
                    });
                    return;
                }
            };
            if let Some(left) = count.checked_sub(1) {
                *count = left;
            } else {
                k.report(Violation::ReferenceUnderflow {
                    routine: "FltObjectDereference",
                    handle: format!("{object:p}"),
                });
            }
        });
    });
}
