//! The spin-lock port: a mutex that tells the verifier when it is held, and gives the seeded
//! scheduler a preemption point at every release.

use ferrofilter_core::ports::SpinLock;

use crate::sync::{Mutex, lock};
use crate::wdf::note_spin_lock;

/// Called after every release: the sim's chance to let "another CPU" run right there.
pub trait ReleaseHook: Send + Sync {
    /// The lock was just released.
    fn after_release(&self);
}

/// A spin lock guarding `T`, as `WDFSPINLOCK` guards the driver's table.
pub struct SimSpinLock<T> {
    data: Mutex<T>,
    hook: Option<std::sync::Weak<dyn ReleaseHook>>,
}

impl<T> SimSpinLock<T> {
    /// A lock with no preemption hook.
    pub fn new(data: T) -> Self {
        Self {
            data: Mutex::new(data),
            hook: None,
        }
    }

    /// A lock that calls `hook` after each release.
    pub fn with_hook(data: T, hook: std::sync::Weak<dyn ReleaseHook>) -> Self {
        Self {
            data: Mutex::new(data),
            hook: Some(hook),
        }
    }
}

impl<T> SpinLock<T> for SimSpinLock<T> {
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let result = {
            let mut guard = lock(&self.data);
            note_spin_lock(1);
            let result = f(&mut guard);
            note_spin_lock(-1);
            result
        };
        if let Some(hook) = self.hook.as_ref().and_then(std::sync::Weak::upgrade) {
            hook.after_release();
        }
        result
    }
}

/// A bare test-and-set spin lock (what `KSPIN_LOCK` is), for benchmarks that want the lock's
/// real cost without the verifier's bookkeeping.
pub struct BareSpinLock<T>(spin::Mutex<T>);

impl<T> BareSpinLock<T> {
    /// A bare spin lock guarding `data`.
    pub const fn new(data: T) -> Self {
        Self(spin::Mutex::new(data))
    }
}

impl<T> SpinLock<T> for BareSpinLock<T> {
    #[inline(always)]
    #[expect(
        clippy::inline_always,
        reason = "a lock's acquire and release belong in its caller, with the critical section between them (sim/benches/tracker.rs: left to LLVM, each acquisition became a call)"
    )]
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.0.lock())
    }
}
