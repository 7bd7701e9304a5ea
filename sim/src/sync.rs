//! The one place locks, `Arc` and thread-locals come from, so `--cfg loom` swaps in loom's and the
//! model checker sees every interleaving of the emulated kernel objects.

#[cfg(loom)]
pub use loom::sync::{Arc, Mutex, MutexGuard};
#[cfg(loom)]
pub use loom::thread_local;

#[cfg(not(loom))]
pub use std::sync::{Arc, Mutex, MutexGuard};
#[cfg(not(loom))]
pub use std::thread_local;

/// Locks a mutex, ignoring poisoning: a panic under the lock is already a failed test, and the
/// verifier wants to keep reporting after it.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
