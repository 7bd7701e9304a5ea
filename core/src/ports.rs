//! The ports: the few kernel services the core needs, shaped like the kernel calls behind them.
//!
//! The Windows adapter implements each method with one or two kernel calls; the sim implements them
//! on emulated objects that a verifier watches.

use core::fmt::Debug;

use crate::status::NtStatus;
use crate::tracker::RequestId;

/// A spin lock that owns the data it guards (`WDFSPINLOCK` or `KSPIN_LOCK` on Windows).
///
/// `with` acquires, runs `f`, releases. `f` must not call back into anything that sends,
/// completes or cancels a request: the core keeps every such call outside `with`.
pub trait SpinLock<T> {
    /// Runs `f` with the lock held.
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R;
}

/// The operations on a request handle the cancel protocol needs (`WDFREQUEST` on Windows).
pub trait RequestOps {
    /// The request handle. Copyable because the kernel's handle is a pointer-sized value.
    type Handle: Copy + Eq + Debug;

    /// Sends `request` to the I/O target with the completion routine that reports `id`
    /// (`WdfRequestSetCompletionRoutine` + `WdfRequestSend`). The completion routine may run before
    /// this returns. `Err` means the request was not sent and the caller still owns it.
    ///
    /// # Errors
    /// The status the framework gave for the failed send.
    fn send(&self, request: Self::Handle, id: RequestId) -> Result<(), NtStatus>;

    /// Completes `request` (`WdfRequestComplete`). The handle is invalid afterwards unless a
    /// reference is still held.
    fn complete(&self, request: Self::Handle, status: NtStatus);

    /// Takes a reference that keeps the handle valid (`WdfObjectReference`).
    fn reference(&self, request: Self::Handle);

    /// Drops a reference taken with [`RequestOps::reference`] (`WdfObjectDereference`).
    fn dereference(&self, request: Self::Handle);

    /// Asks the I/O target to cancel a sent request (`WdfRequestCancelSentRequest`). `true` means
    /// cancellation was attempted; the request still completes through the completion routine.
    fn cancel_sent(&self, request: Self::Handle) -> bool;
}
