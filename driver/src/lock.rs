//! The core's [`SpinLock`] port over a `WDFSPINLOCK`: the lock object guards data kept next to it
//! in an `UnsafeCell`, and [`SpinLock::with`] is acquire, run, release.
//!
//! `with` raises to `DISPATCH_LEVEL` while `f` runs. The core never sends, completes or cancels a
//! request inside `f` (SDV `ReqSendWhileSpinlock`); it only takes references, which KMDF allows at
//! `DISPATCH_LEVEL`. The locks are never nested.
//!
//! Unverified here: written from wdfsync.h (KMDF 1.33) and wdk 0.5's `wdf::SpinLock`; never run.

use core::cell::UnsafeCell;
use core::ptr;

use ferrofilter_core::NtStatus;
use ferrofilter_core::ports::SpinLock;
use wdk_sys::{WDFOBJECT, WDFSPINLOCK, call_unsafe_wdf_function_binding};

use crate::wdf::{check, object_attributes};

/// Data guarded by a framework spin lock.
pub struct WdfSpinLock<T> {
    handle: WDFSPINLOCK,
    data: UnsafeCell<T>,
}

impl<T> WdfSpinLock<T> {
    /// Creates the lock object, parented to `parent` (the driver object when null), so the
    /// framework deletes it with its parent. Call at IRQL <= `DISPATCH_LEVEL`.
    ///
    /// # Errors
    /// The status of `WdfSpinLockCreate`.
    pub fn create(data: T, parent: WDFOBJECT) -> Result<Self, NtStatus> {
        let mut attributes = object_attributes();
        attributes.ParentObject = parent;
        let mut handle: WDFSPINLOCK = ptr::null_mut();
        // SAFETY: both pointers refer to live locals for the duration of the call; `parent` is
        // null or a live object supplied by the caller.
        let status = unsafe {
            call_unsafe_wdf_function_binding!(
                WdfSpinLockCreate,
                &raw mut attributes,
                &raw mut handle
            )
        };
        check(status)?;
        Ok(Self {
            handle,
            data: UnsafeCell::new(data),
        })
    }
}

impl<T> SpinLock<T> for WdfSpinLock<T> {
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        // SAFETY: `handle` was created by `create` and lives as long as its parent, which outlives
        // `self` (the lock is stored in that parent's context). It is not held by this thread:
        // the locks are never nested and `f` cannot reach `self` again.
        unsafe { call_unsafe_wdf_function_binding!(WdfSpinLockAcquire, self.handle) };
        // SAFETY: the lock is held, so this is the only reference to the data until the release
        // below; `f` cannot re-enter `with` on the same lock.
        let result = f(unsafe { &mut *self.data.get() });
        // SAFETY: releases the lock acquired above, on the same thread and at the raised IRQL.
        unsafe { call_unsafe_wdf_function_binding!(WdfSpinLockRelease, self.handle) };
        result
    }
}
