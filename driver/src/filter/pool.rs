//! Fallible boxes for completion and work-item contexts: the global allocator's memory
//! (nonpaged), but an allocation failure is an error the caller handles, never an abort (which in
//! the kernel is a bug check).
//!
//! Unverified here: never run.

use alloc::alloc::{Layout, alloc, dealloc};

/// Moves `value` into a new allocation; gives it back when there is no memory.
pub fn try_box<T>(value: T) -> Result<*mut T, T> {
    let layout = Layout::new::<T>();
    if layout.size() == 0 {
        return Err(value);
    }
    // SAFETY: the layout has a non-zero size.
    let memory = unsafe { alloc(layout) }.cast::<T>();
    if memory.is_null() {
        return Err(value);
    }
    // SAFETY: fresh memory with `T`'s layout.
    unsafe { memory.write(value) };
    Ok(memory)
}

/// Takes back a value stored by [`try_box`] and frees its memory.
///
/// # Safety
/// `memory` must come from `try_box::<T>` and not have been taken back before.
pub unsafe fn unbox<T>(memory: *mut T) -> T {
    // SAFETY: initialized by `try_box` and read once (caller).
    let value = unsafe { memory.read() };
    // SAFETY: allocated by `try_box` with this layout, freed once (caller).
    unsafe { dealloc(memory.cast(), Layout::new::<T>()) };
    value
}
