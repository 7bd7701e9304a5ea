//! The simulated kernel: the ntoskrnl, Filter Manager and KMDF entry points `driver/` imports,
//! as C-ABI functions over the sim's models, with a verifier at that boundary.
//!
//! The driver (`ferrofilter`, linked in as an rlib) is compiled for the host against
//! `host-wdk-sys`; its calls resolve to the `#[no_mangle]` functions of [`nt`] and [`flt`] and to
//! the KMDF function table of [`wdf`]. The structures handed across are the sim's own
//! declarations ([`layout`]). One machine runs in a process at a time (the driver's statics are
//! the image's); [`Machine`] holds that slot.
//!
//! The kernel's state sits behind one lock that is never held while driver code runs: every
//! entry point takes it for its own bookkeeping, and callbacks into the driver are made after it
//! is released ([`Deferred`]). Re-entering while it is held is a bug in the sim, reported as such.

pub mod flt;
pub mod fsctl;
pub mod layout;
pub mod machine;
pub mod nt;
pub mod pool;
pub mod rules;
pub mod volume;
pub mod wdf;

use std::sync::{Mutex, MutexGuard, TryLockError};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use machine::{IoctlReply, Machine, MachineConfig, Unloaded};
pub use rules::{Fault, FaultPlan, Violation};

/// `PASSIVE_LEVEL`.
pub const PASSIVE_LEVEL: u8 = 0;
/// `APC_LEVEL`.
pub const APC_LEVEL: u8 = 1;
/// `DISPATCH_LEVEL`.
pub const DISPATCH_LEVEL: u8 = 2;

/// Everything the kernel keeps.
pub struct Kernel {
    /// The current IRQL of the (one) processor running driver code.
    pub irql: u8,
    /// Spin locks held now, by address or handle, in acquisition order.
    pub held_locks: Vec<usize>,
    /// The verifier's findings.
    pub violations: Vec<Violation>,
    /// Panic at the first violation.
    pub strict: bool,
    /// Injected faults.
    pub faults: FaultPlan,
    /// The seeded source of every random decision.
    pub rng: ChaCha8Rng,
    /// The framework's objects.
    pub wdf: wdf::Objects,
    /// Filter Manager's state.
    pub flt: flt::FilterManager,
    /// The I/O manager's file objects and the caller's handle table.
    pub io: nt::Io,
    /// `DbgPrintEx` output.
    pub log: Vec<String>,
    /// Keep the log (off in long stress runs).
    pub keep_log: bool,
    /// Entry points called, by name (for the fault sweep).
    pub calls: hashbrown::HashMap<&'static str, u64>,
    /// The world outside the driver.
    pub world: machine::World,
    /// The volume below Filter Manager.
    pub volume: volume::Volume,
    /// The driver's outstanding heap blocks.
    pub pool: pool::Pool,
}

impl Kernel {
    fn new(config: &MachineConfig) -> Self {
        Self {
            irql: PASSIVE_LEVEL,
            held_locks: Vec::new(),
            violations: Vec::new(),
            strict: config.strict,
            faults: config.faults.clone(),
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            wdf: wdf::Objects::default(),
            flt: flt::FilterManager::default(),
            io: nt::Io::default(),
            log: Vec::new(),
            keep_log: config.keep_log,
            calls: hashbrown::HashMap::new(),
            world: machine::World::default(),
            volume: volume::Volume::default(),
            pool: pool::Pool::default(),
        }
    }

    /// Records a broken rule; in strict mode panics (the run stops at the first one).
    ///
    /// # Panics
    /// In strict mode.
    pub fn report(&mut self, violation: Violation) {
        let message = violation.to_string();
        self.violations.push(violation);
        assert!(!self.strict, "verifier: {message}");
    }

    /// Checks the IRQL a routine may be called at, and counts the call.
    pub fn enter(&mut self, routine: &'static str, max_irql: u8) {
        *self.calls.entry(routine).or_default() += 1;
        if self.irql > max_irql {
            let irql = self.irql;
            self.report(Violation::WrongIrql {
                routine,
                irql,
                max: max_irql,
            });
        }
    }

    /// [`Self::enter`] for a routine that must not be called with a spin lock held (one that
    /// sends or cancels I/O).
    pub fn enter_unlocked(&mut self, routine: &'static str, max_irql: u8) {
        self.enter(routine, max_irql);
        if !self.held_locks.is_empty() {
            self.report(Violation::CalledWithSpinLockHeld { routine });
        }
    }

    /// Whether the call to `routine` fails now (an injected fault).
    pub fn fails(&mut self, routine: &'static str) -> bool {
        if self.faults.is_empty() {
            return false;
        }
        let draw = self.rng.random_range(0..1_000_000u32);
        self.faults.fails(routine, draw)
    }

    /// A draw in `0..bound` from the seeded source.
    pub fn random_below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            0
        } else {
            self.rng.random_range(0..bound)
        }
    }

    /// Whether an event with probability `ppm` happens now.
    pub fn chance(&mut self, ppm: u32) -> bool {
        ppm != 0 && self.rng.random_range(0..1_000_000u32) < ppm
    }
}

// SAFETY: the raw pointers in the kernel's state point to memory the state itself owns (file
// and device objects, contexts, ECPs) or to the driver's statics; the state is reached only
// through `KERNEL`'s lock, by the thread holding the machine slot.
unsafe impl Send for Kernel {}

static KERNEL: Mutex<Option<Kernel>> = Mutex::new(None);

/// Runs `f` over the kernel's state with a list of driver callbacks to run once the state is
/// released (a callback may call back into the kernel), then runs them.
///
/// # Panics
/// As [`with`].
pub fn with_deferred<R>(f: impl FnOnce(&mut Kernel, &mut Vec<Deferred>) -> R) -> R {
    let mut deferred = Vec::new();
    let result = with(|k| f(k, &mut deferred));
    run_deferred(deferred);
    result
}

/// Runs `f` over the kernel's state.
///
/// # Panics
/// Without a loaded machine, or when the state is already borrowed (the sim re-entered itself,
/// a bug in the sim rather than in the driver).
pub fn with<R>(f: impl FnOnce(&mut Kernel) -> R) -> R {
    pool::as_kernel(|| {
        let mut guard: MutexGuard<'_, Option<Kernel>> = match KERNEL.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => {
                panic!("the simulated kernel was re-entered while its state was borrowed")
            }
        };
        let kernel = guard
            .as_mut()
            .expect("a kernel routine was called with no machine loaded");
        f(kernel)
    })
}

/// As [`with`], but `None` instead of a panic when no machine is loaded or the state is
/// borrowed (by another thread): for the allocator, which must not panic.
fn try_with<R>(f: impl FnOnce(&mut Kernel) -> R) -> Option<R> {
    pool::as_kernel(|| {
        let mut guard: MutexGuard<'_, Option<Kernel>> = match KERNEL.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return None,
        };
        guard.as_mut().map(f)
    })
}

fn install(kernel: Option<Kernel>) -> Option<Kernel> {
    let mut guard = KERNEL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    std::mem::replace(&mut *guard, kernel)
}

/// Work the kernel does after releasing its state: calls into the driver.
#[must_use]
pub enum Deferred {
    /// A WDF object's `EvtCleanupCallback`.
    Cleanup(layout::ObjectCallback, usize),
    /// A WDF object's `EvtDestroyCallback`, then the object's memory is released.
    Destroy(Option<layout::ObjectCallback>, usize, u32),
    /// `EvtFileClose` of a framework file object nothing references any more, then its
    /// deletion.
    FileClose(Option<layout::ObjectCallback>, usize, u32),
    /// A Filter Manager context's cleanup callback, then its memory is released.
    ContextCleanup(
        Option<unsafe extern "C" fn(*mut core::ffi::c_void, u16)>,
        usize,
        u16,
    ),
}

/// Runs deferred work in order; each step may defer more.
pub fn run_deferred(work: Vec<Deferred>) {
    for item in work {
        match item {
            Deferred::Cleanup(callback, handle) => {
                // SAFETY: the driver registered `callback` for this object in its attributes; the
                // handle is live until its destroy step, which comes later.
                pool::into_driver(|| unsafe { callback(handle as *mut core::ffi::c_void) });
            }
            Deferred::Destroy(callback, handle, index) => {
                if let Some(callback) = callback {
                    // SAFETY: as above; this is the object's last callback.
                    pool::into_driver(|| unsafe { callback(handle as *mut core::ffi::c_void) });
                }
                let more = with(|k| k.wdf.free(index));
                run_deferred(more);
            }
            Deferred::FileClose(callback, handle, index) => {
                // The last reference went at raised IRQL: the object manager defers the close
                // to a worker thread, where it runs at PASSIVE_LEVEL.
                let raised = with(|k| {
                    let raised = k.irql > PASSIVE_LEVEL;
                    if raised {
                        k.world.deferred_closes.push((callback, handle, index));
                    }
                    raised
                });
                if raised {
                    continue;
                }
                if let Some(callback) = callback {
                    // SAFETY: the driver's EvtFileClose for a file object whose create
                    // succeeded and which no request references any more.
                    pool::into_driver(|| unsafe { callback(handle as *mut core::ffi::c_void) });
                }
                let mut more = Vec::new();
                with(|k| k.wdf.delete(index, &mut more));
                run_deferred(more);
            }
            Deferred::ContextCleanup(callback, address, context_type) => {
                if let Some(callback) = callback {
                    // SAFETY: the driver registered `callback` for contexts of this type; the
                    // context's memory is live until the release below.
                    pool::into_driver(|| unsafe {
                        callback(address as *mut core::ffi::c_void, context_type);
                    });
                }
                with(|k| k.flt.free_context(address));
            }
        }
    }
}
