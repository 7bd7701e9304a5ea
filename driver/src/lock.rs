//! The core's [`SpinLock`] port, twice:
//! - [`WdfSpinLock`] over a `WDFSPINLOCK` (objects with a WDF parent: the forwarder's table, a
//!   control-device handle's target slot);
//! - [`ExSpinLock`] over an executive `EX_SPIN_LOCK`, which is a zero-initialized `LONG` and so
//!   can sit in a `static` (the minifilter's state, which Filter Manager callbacks reach before
//!   and after any WDF object exists).
//!
//! Each guards data kept next to it in an `UnsafeCell`; [`SpinLock::with`] is acquire, run,
//! release.
//!
//! `with` raises to `DISPATCH_LEVEL` while `f` runs. The core never sends, completes or cancels a
//! request inside `f` (SDV `ReqSendWhileSpinlock`); it only takes references, which KMDF allows at
//! `DISPATCH_LEVEL`. The locks are never nested.
//!
//! Unverified here: written from wdfsync.h (KMDF 1.33), wdk 0.5's `wdf::SpinLock` and the
//! `ExAcquireSpinLockExclusive` / `ExReleaseSpinLockExclusive` pages (wdm.h: "initialize the spin
//! lock to zero", nonpaged storage, IRQL <= `DISPATCH_LEVEL`); never run.

use core::cell::UnsafeCell;
use core::ptr;

use ferrofilter_core::NtStatus;
use ferrofilter_core::ports::SpinLock;
use wdk_sys::ntddk::{ExAcquireSpinLockExclusive, ExReleaseSpinLockExclusive};
use wdk_sys::{EX_SPIN_LOCK, WDFOBJECT, WDFSPINLOCK, call_unsafe_wdf_function_binding};

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

/// Data guarded by an executive spin lock. `const`-constructible, so it can be a `static` (driver
/// images are nonpaged by default, which the lock's storage requires).
///
/// `with` raises to `DISPATCH_LEVEL` while `f` runs: `f` may only touch nonpaged memory (the
/// global allocator is nonpaged) and must not call down the stack, wait, or take this lock again.
pub struct ExSpinLock<T> {
    lock: UnsafeCell<EX_SPIN_LOCK>,
    data: UnsafeCell<T>,
}

// SAFETY: every access to `data` goes through `with`, which holds the lock, so at most one thread
// touches it at a time; `T: Send` lets the value be used from whichever thread holds the lock.
unsafe impl<T: Send> Sync for ExSpinLock<T> {}

impl<T> ExSpinLock<T> {
    /// An unlocked lock around `data` (an `EX_SPIN_LOCK` of zero is an initialized, free lock).
    pub const fn new(data: T) -> Self {
        Self {
            lock: UnsafeCell::new(0),
            data: UnsafeCell::new(data),
        }
    }
}

impl<T> SpinLock<T> for ExSpinLock<T> {
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        // SAFETY: the lock word lives as long as `self` in nonpaged memory; callers run at IRQL <=
        // DISPATCH_LEVEL and never hold this lock already (`f` cannot reach `with` again).
        let irql = unsafe { ExAcquireSpinLockExclusive(self.lock.get()) };
        // SAFETY: the lock is held, so this is the only reference to the data until the release.
        let result = f(unsafe { &mut *self.data.get() });
        // SAFETY: releases the lock acquired above with the IRQL it returned.
        unsafe { ExReleaseSpinLockExclusive(self.lock.get(), irql) };
        result
    }
}
