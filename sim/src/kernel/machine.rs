//! A simulated machine with the driver loaded: the I/O manager's side of the control device
//! (create, `DeviceIoControl`, cleanup and close of `\\.\FerroFilter`), the I/O target the
//! driver forwards to (a pipe whose reads pend until the world completes them), the other
//! processors (completion routines, work items), and load and unload as the I/O manager and
//! Filter Manager perform them.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::layout::{DRIVER_OBJECT, UNICODE_STRING};
use super::rules::{FaultPlan, Violation};
use super::wdf::Reply;
use super::{Kernel, flt::FilterManager, with, with_deferred};

mod control;
mod lifecycle;
mod processors;

use control::{close_control, ioctl, open_control};
pub use control::{
    disclosure_check, dispatch_to_queue, enqueued, honour_cancels, open_control_from_another_thread,
};
pub use lifecycle::{attach_instance, fltmgr_driver_unload, kmdf_driver_unload, related_objects};
use lifecycle::{check_nothing_left, delete_driver_object, filter_unload};
use processors::pending_at_target;
pub use processors::{
    advance_clock, after_dereference, deliver, flush_and_purge, maybe_preempt, run_other_processor,
    run_waiting_threads, run_work_items, target_complete,
};

/// `FLTFL_FILTER_UNLOAD_MANDATORY`.
const FLTFL_FILTER_UNLOAD_MANDATORY: u32 = 1;
/// `FILE_DEVICE_DISK_FILE_SYSTEM`.
const FILE_DEVICE_DISK_FILE_SYSTEM: u32 = 8;
/// `FLT_FSTYPE_NTFS`.
const FLT_FSTYPE_NTFS: i32 = 2;

#[cfg(not(windows))]
unsafe extern "C" {
    /// The driver's entry point (`driver/src/entry.rs`, exported under this name).
    fn DriverEntry(driver: *mut DRIVER_OBJECT, registry_path: *const UNICODE_STRING) -> i32;
}

/// Built for Windows, the driver's sources compile against the real WDK and kernel: there is no
/// driver for the simulated kernel to load, and a load fails with `STATUS_NOT_SUPPORTED`.
///
/// # Safety
/// Always safe; `unsafe` to match the entry point it stands in for.
#[cfg(windows)]
#[allow(non_snake_case, reason = "the entry point's name")]
unsafe fn DriverEntry(_driver: *mut DRIVER_OBJECT, _registry_path: *const UNICODE_STRING) -> i32 {
    0xC000_00BB_u32.cast_signed()
}

/// The loader's side of the KMDF binding, which `WdfDriverEntry.lib` defines on Windows.
#[unsafe(no_mangle)]
static mut WdfFunctions_01033: *const super::wdf::Entry = core::ptr::null();
/// As above: the driver globals every method receives first.
#[unsafe(no_mangle)]
static mut WdfDriverGlobals: *mut super::layout::WDF_DRIVER_GLOBALS = core::ptr::null_mut();
/// As above: the table's length.
#[unsafe(no_mangle)]
static mut WdfFunctionCount: u32 = 0;

/// How to build a machine.
#[derive(Clone, Debug)]
pub struct MachineConfig {
    /// Seed of every random decision.
    pub seed: u64,
    /// Which calls fail.
    pub faults: FaultPlan,
    /// Panic at the first violation.
    pub strict: bool,
    /// Keep the driver's debug output.
    pub keep_log: bool,
    /// A sent request completes inside `WdfRequestSend` with this probability (ppm).
    pub sync_completion_ppm: u32,
    /// At a spin-lock release, another processor runs a completion routine (ppm).
    pub preempt_ppm: u32,
    /// The pipes that exist (NT names, e.g. `\??\pipe\ferro`), with whether the caller's
    /// token passes each one's ACL.
    pub pipes: Vec<(String, bool)>,
}

impl Default for MachineConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            faults: FaultPlan::none(),
            strict: false,
            keep_log: true,
            sync_completion_ppm: 0,
            preempt_ppm: 0,
            pipes: vec![("\\??\\pipe\\ferro".to_owned(), true)],
        }
    }
}

/// The world outside the driver: the user's handles of the control device, and the clock.
#[derive(Default)]
pub struct World {
    /// Control-device handles: user value → framework file object.
    pub control: HashMap<u64, u32>,
    next_control: u64,
    /// Requests the driver enqueued from `EvtIoInCallerContext`.
    pub enqueued: Vec<u32>,
    /// Simulated time, 100 ns units.
    pub clock: u64,
    /// Probabilities of the interleavings.
    pub sync_completion_ppm: u32,
    /// As above.
    pub preempt_ppm: u32,
    /// Inside a callback run by "another processor" (no nested preemption).
    pub preempting: bool,
    /// Simulated time spent waiting with nothing able to wake the waiter, since the last
    /// progress.
    pub idle_wait: u64,
    /// What other threads do while the driver waits (each runs once, at the next wait).
    pub during_wait: Vec<Box<dyn FnOnce() + Send>>,
    /// File-object closes waiting for a worker thread.
    pub deferred_closes: Vec<(Option<super::layout::ObjectCallback>, usize, u32)>,
}

impl Kernel {
    /// The probability of a synchronous completion.
    #[must_use]
    pub const fn faults_sync_ppm(&self) -> u32 {
        self.world.sync_completion_ppm
    }
}

/// What one `DeviceIoControl` returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoctlReply {
    /// The status; `STATUS_PENDING` while the driver holds the request.
    pub status: i32,
    /// Bytes returned.
    pub information: usize,
    /// The output bytes.
    pub output: Vec<u8>,
    /// The I/O manager's number of a request still pending.
    pub pending: Option<u64>,
}

/// What an unload left.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Unloaded {
    /// Every violation of the machine's life.
    pub violations: Vec<Violation>,
}

static SLOT: Mutex<()> = Mutex::new(());

thread_local! {
    /// This thread holds the slot: a second machine here would wait for itself forever.
    static HOLDS_SLOT: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
}

/// A machine with the driver loaded (or failed to load). One per process at a time; dropping it
/// unloads the driver if it is still loaded.
pub struct Machine {
    _slot: MutexGuard<'static, ()>,
    driver_object: Box<DRIVER_OBJECT>,
    registry_units: Vec<u16>,
    registry: Box<UNICODE_STRING>,
    loaded: bool,
    entry_status: i32,
    _table: Box<[super::wdf::Entry; super::wdf::TABLE_ENTRIES]>,
    _globals: Box<super::layout::WDF_DRIVER_GLOBALS>,
}

fn new_driver_object() -> Box<DRIVER_OBJECT> {
    // SAFETY: DRIVER_OBJECT is plain data (integers, raw and function pointers); all-zero is valid.
    let mut object: Box<DRIVER_OBJECT> = Box::new(unsafe { core::mem::zeroed() });
    object.Type = 4;
    object.Size = i16::try_from(size_of::<DRIVER_OBJECT>()).unwrap_or(i16::MAX);
    object
}

impl Machine {
    /// Boots a machine and loads the driver: `DriverEntry` with a fresh driver object. Another
    /// thread's machine is waited for (one per process at a time).
    ///
    /// # Panics
    /// When this thread already has a machine loaded: it would wait for itself.
    #[must_use]
    pub fn boot(config: &MachineConfig) -> Self {
        assert!(
            !HOLDS_SLOT.get(),
            "one machine per process at a time: this thread already has one loaded"
        );
        let slot = SLOT.lock().unwrap_or_else(PoisonError::into_inner);
        HOLDS_SLOT.set(true);
        super::volume::forget_pended();
        let mut kernel = Kernel::new(config);
        kernel.io.pipes = config
            .pipes
            .iter()
            .map(|(name, caller_allowed)| super::nt::Pipe {
                name: name.encode_utf16().collect(),
                caller_allowed: *caller_allowed,
            })
            .collect();
        kernel.world.sync_completion_ppm = config.sync_completion_ppm;
        kernel.world.preempt_ppm = config.preempt_ppm;
        drop(super::install(Some(kernel)));

        let table = super::wdf::table();
        // SAFETY: WDF_DRIVER_GLOBALS is plain data; all-zero is valid.
        let mut globals: Box<super::layout::WDF_DRIVER_GLOBALS> =
            Box::new(unsafe { core::mem::zeroed() });
        globals.DriverName[..11].copy_from_slice(b"ferrofilter");
        // SAFETY: the loader's statics are written only here, before the driver runs and while
        // this machine holds the process's one slot.
        unsafe { WdfFunctions_01033 = table.as_ptr() };
        // SAFETY: as above.
        unsafe { WdfDriverGlobals = core::ptr::from_mut(globals.as_mut()) };
        // SAFETY: as above.
        unsafe { WdfFunctionCount = u32::try_from(super::wdf::TABLE_ENTRIES).unwrap_or(0) };

        let mut registry_units: Vec<u16> =
            "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\ferrofilter"
                .encode_utf16()
                .collect();
        let length = u16::try_from(registry_units.len() * 2).unwrap_or(u16::MAX);
        let registry = Box::new(UNICODE_STRING {
            Length: length,
            MaximumLength: length,
            Buffer: registry_units.as_mut_ptr(),
        });
        let mut machine = Self {
            _slot: slot,
            driver_object: new_driver_object(),
            registry_units,
            registry,
            loaded: false,
            entry_status: 0,
            _table: table,
            _globals: globals,
        };
        // SAFETY: the driver object and registry path are live for the machine's life, as the
        // I/O manager keeps them for a loaded driver.
        let status = super::pool::into_driver(|| unsafe {
            DriverEntry(
                core::ptr::from_mut(machine.driver_object.as_mut()),
                core::ptr::from_ref(machine.registry.as_ref()),
            )
        });
        machine.entry_status = status;
        machine.loaded = status >= 0;
        if !machine.loaded {
            // The framework deletes its driver object when DriverEntry fails.
            delete_driver_object();
            check_nothing_left();
        }
        machine
    }

    /// `DriverEntry`'s status.
    #[must_use]
    pub const fn entry_status(&self) -> i32 {
        self.entry_status
    }

    /// Whether the driver is loaded.
    #[must_use]
    pub const fn loaded(&self) -> bool {
        self.loaded
    }

    /// Every violation so far.
    #[must_use]
    pub fn violations(&self) -> Vec<Violation> {
        with(|k| k.violations.clone())
    }

    /// The driver's debug output so far.
    #[must_use]
    pub fn log(&self) -> Vec<String> {
        with(|k| k.log.clone())
    }

    /// How many times each kernel routine was called.
    #[must_use]
    pub fn calls(&self) -> std::collections::BTreeMap<&'static str, u64> {
        with(|k| {
            k.calls
                .iter()
                .map(|(name, count)| (*name, *count))
                .collect()
        })
    }

    /// Runs `f` over the kernel (for checks and fault set-up).
    pub fn kernel<R>(&self, f: impl FnOnce(&mut Kernel) -> R) -> R {
        with(f)
    }

    /// `CreateFile(\\.\FerroFilter)`.
    ///
    /// # Errors
    /// The status the driver completed the create with, or `STATUS_OBJECT_NAME_NOT_FOUND` when
    /// the device does not exist.
    pub fn open_control(&self) -> Result<u64, i32> {
        open_control()
    }

    /// `CloseHandle` of a control-device handle: cleanup, then close once nothing references
    /// the file object.
    ///
    /// # Errors
    /// `STATUS_INVALID_HANDLE` for a value that is not open.
    pub fn close_control(&self, handle: u64) -> Result<(), i32> {
        close_control(handle)
    }

    /// `DeviceIoControl` on a control-device handle (`METHOD_BUFFERED`).
    #[must_use]
    pub fn ioctl(&self, handle: u64, code: u32, input: &[u8], output_length: usize) -> IoctlReply {
        ioctl(handle, code, input, output_length)
    }

    /// The result of a request that was pending, once it completed.
    #[must_use]
    pub fn reply(&self, irp: u64) -> Option<Reply> {
        with(|k| k.wdf.replies.remove(&irp))
    }

    /// Every result of a pending request that completed since the last call.
    #[must_use]
    pub fn take_replies(&self) -> Vec<(u64, Reply)> {
        with(|k| k.wdf.replies.drain().collect())
    }

    /// Requests pending at the I/O target now.
    #[must_use]
    pub fn pending_at_target(&self) -> Vec<u32> {
        with(|k| pending_at_target(k))
    }

    /// The target finishes one of its requests (chosen by the seeded source) with `status`.
    pub fn complete_one_at_target(&self, status: i32, information: usize) -> bool {
        let chosen = with(|k| {
            let pending = pending_at_target(k);
            let count = pending.len() as u64;
            (!pending.is_empty()).then(|| {
                let at = usize::try_from(k.random_below(count)).unwrap_or(0);
                pending[at]
            })
        });
        chosen.is_some_and(|request| {
            target_complete(request, status, information);
            true
        })
    }

    /// Another processor runs one finished request's completion routine.
    pub fn deliver_one(&self) -> bool {
        run_other_processor()
    }

    /// Runs every finished request's completion routine and queued work item.
    pub fn deliver_all(&self) -> usize {
        let mut count = 0;
        while run_other_processor() {
            count += 1;
        }
        count
    }

    /// `fltmc detach ferrofilter <volume>`: Filter Manager asks the instance's
    /// `InstanceQueryTeardownCallback` (without one a manual detach is refused with
    /// `STATUS_FLT_DO_NOT_DETACH`), then tears the instance down: its contexts go, and later
    /// operations on the volume bypass the filter.
    ///
    /// # Errors
    /// The status the detach was refused with.
    pub fn detach(&self) -> Result<(), i32> {
        const STATUS_FLT_DO_NOT_DETACH: i32 = 0xC01C_0010_u32.cast_signed();
        let query = with(|k| {
            k.flt
                .attached
                .then(|| k.flt.registration.as_ref().map(|r| r.query_teardown))
        });
        let Some(Some(query)) = query else {
            return Err(super::flt::STATUS_FLT_INSTANCE_NOT_FOUND);
        };
        let Some(query) = query else {
            return Err(STATUS_FLT_DO_NOT_DETACH);
        };
        let (filter, volume, instance) = FilterManager::handles();
        let objects = related_objects(filter, volume, instance, core::ptr::null_mut());
        // FLTFL_INSTANCE_TEARDOWN_MANUAL (1).
        // SAFETY: the filter's InstanceQueryTeardownCallback at PASSIVE_LEVEL with related
        // objects that live across the call.
        let status = super::pool::into_driver(|| unsafe { query(&raw const objects, 1) });
        if status < 0 {
            return Err(status);
        }
        with_deferred(|k, deferred| {
            k.flt.attached = false;
            k.flt.detach_all(deferred);
        });
        run_work_items();
        Ok(())
    }

    /// Has another thread run `action` the next time the driver waits.
    pub fn during_next_wait(&self, action: impl FnOnce() + Send + 'static) {
        with(|k| k.world.during_wait.push(Box::new(action)));
    }

    /// The simulated clock, in 100 ns units.
    #[must_use]
    pub fn clock(&self) -> u64 {
        with(|k| k.world.clock)
    }

    /// The pipe ignores cancellation (a read that never comes back) or honours it again, then
    /// also the cancels it ignored.
    pub fn set_target_ignores_cancel(&self, ignores: bool) {
        if ignores {
            with(|k| k.wdf.target_ignores_cancel = true);
        } else {
            honour_cancels();
        }
    }

    /// `fltmc unload ferrofilter` (not mandatory) or `sc stop` (mandatory): Filter Manager
    /// calls the filter's unload callback, then the unload routine it saved (KMDF's, which
    /// calls `EvtDriverUnload`). Everything the driver had must be gone afterwards.
    ///
    /// # Errors
    /// The status an optional unload was refused with; the driver stays loaded.
    pub fn unload(&mut self, mandatory: bool) -> Result<Unloaded, i32> {
        if !self.loaded {
            return Ok(Unloaded {
                violations: self.violations(),
            });
        }
        let flags = if mandatory {
            FLTFL_FILTER_UNLOAD_MANDATORY
        } else {
            0
        };
        let status = filter_unload(flags);
        if status < 0 && !mandatory {
            return Err(status);
        }
        // The routine Filter Manager saved when the filter registered: KMDF's.
        let saved = with(|k| k.flt.saved_unload);
        self.loaded = false;
        if let Some(unload) = saved {
            // SAFETY: the routine the framework installed for this driver object.
            super::pool::into_driver(|| unsafe {
                unload(core::ptr::from_mut(self.driver_object.as_mut()));
            });
        } else {
            with(|k| {
                k.report(Violation::UnloadIncomplete {
                    detail: "the filter never registered an unload path".to_owned(),
                });
            });
        }
        check_nothing_left();
        Ok(Unloaded {
            violations: self.violations(),
        })
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        if self.loaded {
            let _ = self.unload(true);
        }
        // SAFETY: the driver has stopped running; the statics go back to unbound.
        unsafe { WdfFunctions_01033 = core::ptr::null() };
        // SAFETY: as above.
        unsafe { WdfDriverGlobals = core::ptr::null_mut() };
        let _ = &self.registry_units;
        drop(super::install(None));
        HOLDS_SLOT.set(false);
    }
}
