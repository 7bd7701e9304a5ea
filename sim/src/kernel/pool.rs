//! The driver's pool. On Windows every heap allocation the driver makes goes through wdk-alloc's
//! global allocator to `ExAllocatePool2` (nonpaged, one tag), and can fail. On Linux the
//! driver's code shares the process's allocator, so the kernel attributes to the driver what is
//! allocated while the driver's code runs — between a call from the kernel into the driver
//! ([`into_driver`]) and the driver's next call back into the kernel (which holds the kernel's
//! state, [`super::with`]) — keeps each such block until the driver frees it, fails it when
//! the fault plan says `ExAllocatePool2` fails, and at unload reports what is still allocated.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The routine name the fault plan and the call counts use for a pool allocation.
pub const ROUTINE: &str = "ExAllocatePool2";

thread_local! {
    /// Calls from the kernel into the driver this thread is inside.
    static DRIVER: Cell<u32> = const { Cell::new(0) };
    /// Inside the kernel's own code (its state borrowed), even when called by the driver.
    static KERNEL: Cell<bool> = const { Cell::new(false) };
}

/// Whether an allocation now is the driver's.
fn drivers() -> bool {
    let driver = DRIVER.try_with(Cell::get).unwrap_or(0) > 0;
    driver && !KERNEL.try_with(Cell::get).unwrap_or(true)
}

/// Runs `f`, the kernel calling into the driver's code: what it allocates is the driver's.
pub fn into_driver<R>(f: impl FnOnce() -> R) -> R {
    let kernel = KERNEL.with(|k| k.replace(false));
    DRIVER.with(|d| d.set(d.get() + 1));
    let result = f();
    DRIVER.with(|d| d.set(d.get() - 1));
    KERNEL.with(|k| k.set(kernel));
    result
}

/// Runs `f` as the kernel's own code: nothing it allocates is the driver's.
pub fn as_kernel<R>(f: impl FnOnce() -> R) -> R {
    let kernel = KERNEL.with(|k| k.replace(true));
    let result = f();
    KERNEL.with(|k| k.set(kernel));
    result
}

/// The driver's outstanding blocks.
#[derive(Default)]
pub struct Pool {
    /// Address → size of every block the driver holds.
    pub blocks: hashbrown::HashMap<usize, usize>,
    /// Blocks the driver ever allocated.
    pub allocated: u64,
}

/// The process's allocator, with the driver's blocks accounted to the kernel's pool.
pub struct Tracking;

// SAFETY: every request is passed to `System` unchanged; the accounting only reads and writes
// the kernel's state (under its lock, never re-entered: the kernel's own allocations are not
// the driver's) and fails a driver's allocation by returning null, which `GlobalAlloc` allows.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !drivers() {
            // SAFETY: the caller's layout, passed on.
            return unsafe { System.alloc(layout) };
        }
        // Reported without the strict-mode panic: an allocator must not unwind.
        let fail = super::try_with(|k| {
            *k.calls.entry(ROUTINE).or_default() += 1;
            if !k.held_locks.is_empty() {
                k.violations
                    .push(super::Violation::CalledWithSpinLockHeld { routine: ROUTINE });
            }
            k.fails(ROUTINE)
        });
        if fail == Some(true) {
            return core::ptr::null_mut();
        }
        // SAFETY: the caller's layout, passed on.
        let memory = unsafe { System.alloc(layout) };
        if !memory.is_null() {
            let _ = super::try_with(|k| {
                k.pool.blocks.insert(memory as usize, layout.size());
                k.pool.allocated += 1;
            });
        }
        memory
    }

    unsafe fn dealloc(&self, memory: *mut u8, layout: Layout) {
        if drivers() {
            let _ = super::try_with(|k| k.pool.blocks.remove(&(memory as usize)));
        }
        // SAFETY: `memory` came from this allocator (so from `System`) with `layout`.
        unsafe { System.dealloc(memory, layout) };
    }
}
