//! `WDFSPINLOCK`: acquire and release at `DISPATCH_LEVEL`, with the verifier's lock rules.
#![allow(non_snake_case, reason = "the framework's method names")]

use super::super::layout::{WDF_DRIVER_GLOBALS, WDF_OBJECT_ATTRIBUTES};
use super::super::nt::STATUS_INSUFFICIENT_RESOURCES;
use super::super::{DISPATCH_LEVEL, PASSIVE_LEVEL, Violation, with};
use core::ffi::c_void;

use super::{Body, Object, out_handle, resolve};

pub(super) unsafe extern "C" fn WdfSpinLockCreate(
    _globals: *mut WDF_DRIVER_GLOBALS,
    attributes: *const WDF_OBJECT_ATTRIBUTES,
    lock: *mut *mut c_void,
) -> i32 {
    super::super::pool::as_kernel(|| {
        let created = with(|k| {
            k.enter("WdfSpinLockCreate", DISPATCH_LEVEL);
            if k.fails("WdfSpinLockCreate") {
                return Err(STATUS_INSUFFICIENT_RESOURCES);
            }
            let driver = k.wdf.driver;
            // SAFETY: the attributes are null or the driver's.
            unsafe {
                k.wdf
                    .create(Body::SpinLock { saved: 0 }, attributes, driver)
            }
            .map(|(_, h)| h)
        });
        // SAFETY: the driver's out pointer.
        unsafe { out_handle(created, lock) }
    })
}

pub(super) unsafe extern "C" fn WdfSpinLockAcquire(
    _globals: *mut WDF_DRIVER_GLOBALS,
    lock: *mut c_void,
) {
    super::super::pool::as_kernel(|| {
        with(|k| {
            k.enter("WdfSpinLockAcquire", DISPATCH_LEVEL);
            if let Some(index) = resolve(k, "WdfSpinLockAcquire", lock, "WDFSPINLOCK") {
                if k.held_locks.contains(&(lock as usize)) {
                    k.report(Violation::RecursiveSpinLock {
                        routine: "WdfSpinLockAcquire",
                    });
                }
                k.held_locks.push(lock as usize);
                let old = core::mem::replace(&mut k.irql, DISPATCH_LEVEL);
                if let Some(Object {
                    body: Body::SpinLock { saved },
                    ..
                }) = k.wdf.get_mut(index)
                {
                    *saved = old;
                }
            }
        });
    });
}

pub(super) unsafe extern "C" fn WdfSpinLockRelease(
    _globals: *mut WDF_DRIVER_GLOBALS,
    lock: *mut c_void,
) {
    super::super::pool::as_kernel(|| {
        let free = with(|k| {
            let Some(index) = resolve(k, "WdfSpinLockRelease", lock, "WDFSPINLOCK") else {
                return false;
            };
            let old = match k.wdf.get(index).map(|object| &object.body) {
                Some(Body::SpinLock { saved }) => *saved,
                _ => PASSIVE_LEVEL,
            };
            super::super::nt::release(k, "WdfSpinLockRelease", lock as usize, old)
        });
        if free {
            super::super::machine::maybe_preempt();
        }
    });
}
