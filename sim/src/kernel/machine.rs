//! A simulated machine with the driver loaded: the I/O manager's side of the control device
//! (create, `DeviceIoControl`, cleanup and close of `\\.\FerroFilter`), the I/O target the
//! driver forwards to (a pipe whose reads pend until the world completes them), the other
//! processors (completion routines, work items), and load and unload as the I/O manager and
//! Filter Manager perform them.

use core::ffi::c_void;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::layout::{DRIVER_OBJECT, FLT_RELATED_OBJECTS, UNICODE_STRING};
use super::nt::{STATUS_INVALID_HANDLE, STATUS_SUCCESS};
use super::rules::{FaultPlan, Violation};
use super::wdf::{
    Body, Object, REQUEST_TYPE_CREATE, REQUEST_TYPE_DEVICE_CONTROL, Reply, RequestData,
    RequestState, STATUS_INVALID_DEVICE_STATE, completion_params,
};
use super::{DISPATCH_LEVEL, Kernel, PASSIVE_LEVEL, flt::FilterManager, with};

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
        let mut deferred = Vec::new();
        with(|k| {
            k.flt.attached = false;
            k.flt.detach_all(&mut deferred);
        });
        super::run_deferred(deferred);
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

// ---- load and unload ----------------------------------------------------------------------------

fn filter_unload(flags: u32) -> i32 {
    let callback = with(|k| k.flt.registration.as_ref().and_then(|r| r.unload));
    match callback {
        // SAFETY: the filter's registered unload callback, at PASSIVE_LEVEL.
        Some(callback) => super::pool::into_driver(|| unsafe { callback(flags) }),
        None => STATUS_SUCCESS,
    }
}

/// The unload routine Filter Manager installs in the driver object in `FltRegisterFilter`:
/// the filter's unload callback (mandatory), then the routine it replaced.
///
/// # Safety
/// Called by the I/O manager with the driver's object.
pub unsafe extern "C" fn fltmgr_driver_unload(driver: *mut DRIVER_OBJECT) {
    super::pool::as_kernel(|| {
        let _ = filter_unload(FLTFL_FILTER_UNLOAD_MANDATORY);
        if let Some(saved) = with(|k| k.flt.saved_unload) {
            // SAFETY: forwarded from the caller.
            super::pool::into_driver(|| unsafe { saved(driver) });
        }
    });
}

/// The unload routine KMDF installs in `WdfDriverCreate`: `EvtDriverUnload`, then the
/// framework deletes the driver object and everything parented to it.
///
/// # Safety
/// Called with the driver's object.
pub unsafe extern "C" fn kmdf_driver_unload(_driver: *mut DRIVER_OBJECT) {
    super::pool::as_kernel(|| {
        let found = with(|k| {
            let index = k.wdf.driver?;
            let handle = k.wdf.handle(index);
            let unload = match k.wdf.get(index).map(|o| &o.body) {
                Some(Body::Driver { unload }) => *unload,
                _ => None,
            };
            Some((handle, unload))
        });
        if let Some((handle, Some(unload))) = found {
            // SAFETY: the driver's EvtDriverUnload with its WDFDRIVER, at PASSIVE_LEVEL.
            super::pool::into_driver(|| unsafe { unload(handle as *mut c_void) });
        }
        delete_driver_object();
    });
}

fn delete_driver_object() {
    let mut deferred = Vec::new();
    with(|k| {
        if let Some(index) = k.wdf.driver {
            k.wdf.delete(index, &mut deferred);
        }
    });
    super::run_deferred(deferred);
}

fn check_nothing_left() {
    run_work_items();
    with(|k| {
        let live = k.wdf.live();
        if !live.is_empty() {
            let mut counts: std::collections::BTreeMap<&str, usize> =
                std::collections::BTreeMap::new();
            for kind in &live {
                *counts.entry(kind).or_default() += 1;
            }
            k.report(Violation::Leak {
                what: "framework objects",
                count: live.len(),
                detail: format!("{counts:?}"),
            });
        }
        if k.flt.registration.is_some() {
            k.report(Violation::Leak {
                what: "filter registrations",
                count: 1,
                detail: "FltUnregisterFilter never ran".to_owned(),
            });
        }
        let referenced: u32 = k.io.live().map(|file| file.refs).sum();
        let handles = k.io.handle_count();
        if referenced as usize > handles {
            k.report(Violation::Leak {
                what: "file object references",
                count: referenced as usize - handles,
                detail: String::new(),
            });
        }
        if !k.pool.blocks.is_empty() {
            let bytes: usize = k.pool.blocks.values().sum();

            k.report(Violation::Leak {
                what: "pool allocations",
                count: k.pool.blocks.len(),
                detail: format!("{bytes} bytes"),
            });
        }
        if !k.held_locks.is_empty() || k.irql != PASSIVE_LEVEL {
            let detail = format!("IRQL {} with {} locks held", k.irql, k.held_locks.len());
            k.report(Violation::UnloadIncomplete { detail });
        }
    });
}

/// Called by `FltStartFiltering`: Filter Manager attaches an instance to the volume.
pub fn attach_instance() {
    let setup = with(|k| k.flt.registration.as_ref().map(|r| r.instance_setup));
    let (filter, volume, instance) = FilterManager::handles();
    let objects = related_objects(filter, volume, instance, core::ptr::null_mut());
    let status = match setup {
        // SAFETY: the filter's InstanceSetupCallback with related objects that live across it.
        Some(Some(setup)) => super::pool::into_driver(|| unsafe {
            setup(
                &raw const objects,
                0,
                FILE_DEVICE_DISK_FILE_SYSTEM,
                FLT_FSTYPE_NTFS,
            )
        }),
        _ => STATUS_SUCCESS,
    };
    with(|k| k.flt.attached = status >= 0);
}

/// `FLT_RELATED_OBJECTS` for a callback.
#[must_use]
pub fn related_objects(
    filter: usize,
    volume: usize,
    instance: usize,
    file: *mut super::layout::FILE_OBJECT,
) -> FLT_RELATED_OBJECTS {
    FLT_RELATED_OBJECTS {
        Size: u16::try_from(size_of::<FLT_RELATED_OBJECTS>()).unwrap_or(u16::MAX),
        TransactionContext: 0,
        Filter: filter as *mut c_void,
        Volume: volume as *mut c_void,
        Instance: instance as *mut c_void,
        FileObject: file,
        Transaction: core::ptr::null_mut(),
    }
}

// ---- the other processors ----------------------------------------------------------------------

fn pending_at_target(k: &Kernel) -> Vec<u32> {
    k.wdf.pending_at_targets()
}

/// The target finishes a request it owns: it goes back on the returned list with `status`.
pub fn target_complete(index: u32, status: i32, information: usize) {
    with(|k| {
        let Some(data) = k.wdf.request(index) else {
            return;
        };
        if data.state != RequestState::Sent {
            return;
        }
        let information = if status >= 0 {
            information.min(data.output_length.max(information))
        } else {
            0
        };
        data.state = RequestState::Returned;
        data.status = status;
        data.information = information;
        let target = data.sent_to.take();
        let into = data.reads_into.unwrap_or(index);
        if let Some(target) = target
            && let Some(Object {
                body: Body::Target(target),
                ..
            }) = k.wdf.get_mut(target)
        {
            target.pending.retain(|&pending| pending != index);
        }
        // The pipe's bytes land in the buffer the read was formatted for.
        if status >= 0
            && let Some(owner) = k.wdf.request(into)
        {
            let length = information.min(owner.buffer.len());
            owner.buffer[..length].fill(0x5A);
        }
        k.wdf.returned.push_back(index);
    });
}

/// Runs the completion routine of a returned request now, if it is returned.
pub fn deliver(index: u32) {
    let ready = with(|k| {
        let position = k.wdf.returned.iter().position(|&r| r == index)?;
        k.wdf.returned.remove(position);
        completion_call(k, index)
    });
    if let Some(call) = ready {
        call.run();
    }
}

struct CompletionCall {
    routine: super::wdf::CompletionRoutine,
    request: usize,
    target: usize,
    context: usize,
    status: i32,
    information: usize,
}

impl CompletionCall {
    fn run(self) {
        let mut params = completion_params(self.status, self.information);
        // SAFETY: the routine the driver set for this request, with the request back in its
        // hands, the target it was sent to, parameters that live across the call.
        super::pool::into_driver(|| unsafe {
            (self.routine)(
                self.request as *mut c_void,
                self.target as *mut c_void,
                &raw mut params,
                self.context as *mut c_void,
            );
        });
    }
}

fn completion_call(k: &mut Kernel, index: u32) -> Option<CompletionCall> {
    let request = k.wdf.handle(index);
    let data = k.wdf.request(index)?;
    data.state = RequestState::Owned;
    let (routine, context) = data.routine?;
    let (status, information) = (data.status, data.information);
    let target = data.formatted.map(|(target, _)| target)?;
    let target = k.wdf.handle(target);
    Some(CompletionCall {
        routine,
        request,
        target,
        context,
        status,
        information,
    })
}

/// Another thread does what it was asked to while the driver waits.
pub fn run_waiting_threads() -> bool {
    let actions = with(|k| core::mem::take(&mut k.world.during_wait));
    let ran = !actions.is_empty();
    for action in actions {
        action();
    }
    ran
}

/// Another processor does one piece of work: a returned request's completion routine (at
/// `DISPATCH_LEVEL`) or a queued work item (at `PASSIVE_LEVEL`). Returns whether there was any.
pub fn run_other_processor() -> bool {
    let call = with(|k| {
        let count = k.wdf.returned.len() as u64;
        if count == 0 {
            return None;
        }
        let at = usize::try_from(k.random_below(count)).unwrap_or(0);
        let index = k.wdf.returned.remove(at)?;
        let saved = (
            k.irql,
            core::mem::take(&mut k.held_locks),
            k.world.preempting,
        );
        k.irql = DISPATCH_LEVEL;
        k.world.preempting = true;
        Some((completion_call(k, index), saved))
    });
    if let Some((call, (irql, locks, preempting))) = call {
        with(|k| k.world.idle_wait = 0);
        if let Some(call) = call {
            call.run();
        }
        with(|k| {
            k.irql = irql;
            k.held_locks = locks;
            k.world.preempting = preempting;
        });
        return true;
    }
    run_one_work_item()
}

/// At a spin-lock release with nothing held: another processor may run a completion right now.
pub fn maybe_preempt() {
    let go = with(|k| {
        if k.world.preempting || k.wdf.returned.is_empty() {
            return false;
        }
        let ppm = k.world.preempt_ppm;
        k.chance(ppm)
    });
    if go {
        let _ = run_other_processor();
    }
}

/// How long the driver may wait with nothing able to wake it before the sim calls it a hang
/// (simulated time, 100 ns units: one hour).
const HANG_100NS: u64 = 3_600 * 10_000_000;

/// Moves the simulated clock on after a wait that timed out with nothing left to run.
///
/// # Panics
/// When the driver has waited an hour of simulated time without anything that could wake it:
/// on Windows that is a hung unload; here it stops the run with a message instead of looping.
pub fn advance_clock(by_100ns: u64) {
    let stuck = with(|k| {
        k.world.clock = k.world.clock.saturating_add(by_100ns);
        k.world.idle_wait = k.world.idle_wait.saturating_add(by_100ns.max(1));
        k.world.idle_wait > HANG_100NS
    });
    assert!(
        !stuck,
        "the driver waited an hour of simulated time for something that cannot happen (a hang)"
    );
}

/// After a file object's last reference went: nothing more to do on this side (the file
/// system's close is the volume model's).
pub fn after_dereference() {}

fn run_one_work_item() -> bool {
    let close = with(|k| {
        if k.irql > PASSIVE_LEVEL || k.world.deferred_closes.is_empty() {
            None
        } else {
            Some(k.world.deferred_closes.remove(0))
        }
    });
    if let Some((callback, handle, index)) = close {
        super::run_deferred(vec![super::Deferred::FileClose(callback, handle, index)]);
        return true;
    }
    let work = with(|k| {
        let item = k.flt.queue.pop_front()?;
        let queued = k.flt.work_items.get_mut(&item)?.queued.take()?;
        Some((item, queued))
    });
    let Some((item, (routine, object, context))) = work else {
        return false;
    };
    let saved = with(|k| core::mem::replace(&mut k.irql, PASSIVE_LEVEL));
    // SAFETY: the routine the filter queued, with its item, object and context, on a worker
    // thread at PASSIVE_LEVEL.
    super::pool::into_driver(|| unsafe {
        routine(
            item as *mut c_void,
            object as *mut c_void,
            context as *mut c_void,
        );
    });
    with(|k| k.irql = saved);
    true
}

/// Runs every queued work item.
pub fn run_work_items() {
    while run_one_work_item() {}
}

/// `FltFlushBuffers2`'s flush and purge (the volume model answers; success without one).
#[must_use]
pub fn flush_and_purge(file: usize) -> i32 {
    with(|k| {
        let status = super::volume::flush_and_purge(k, file);
        k.flt.flushes.push((file, status));
        status
    })
}

// ---- the control device from user mode ------------------------------------------------------

fn control_device(k: &mut Kernel) -> Option<(u32, super::wdf::DeviceSetup, Option<u32>)> {
    let device = k.wdf.device?;
    match k.wdf.get(device).map(|o| &o.body) {
        Some(Body::Device {
            setup,
            queue,
            finished: Some(_),
            ..
        }) => Some((device, *setup, *queue)),
        _ => None,
    }
}

fn blank_request(kind: i32, file: u32, irp: u64, stack_size: i8) -> RequestData {
    RequestData {
        file: Some(file),
        ..RequestData::new(kind, false, irp, stack_size)
    }
}

fn device_stack_size(k: &mut Kernel, device: u32) -> i8 {
    match k.wdf.get(device).map(|o| &o.body) {
        Some(Body::Device {
            device_object,
            finished,
            ..
        }) => {
            let now = device_object.StackSize;
            if finished.is_some_and(|at| at != now) {
                k.report(Violation::FrameworkStructureWritten {
                    field: "DEVICE_OBJECT.StackSize of the live control device",
                });
            }
            now
        }
        _ => 1,
    }
}

/// The pipe honours cancellation again, and completes the reads whose cancel it ignored with
/// `STATUS_CANCELLED` (callable from [`Machine::during_next_wait`]).
pub fn honour_cancels() {
    let ignored = with(|k| {
        k.wdf.target_ignores_cancel = false;
        k.wdf
            .pending_at_targets()
            .into_iter()
            .filter(|&r| k.wdf.request(r).is_some_and(|d| d.cancel_requested))
            .collect::<Vec<_>>()
    });
    for request in ignored {
        target_complete(request, super::wdf::STATUS_CANCELLED, 0);
    }
}

/// `CreateFile(\\.\FerroFilter)` from another thread (for [`Machine::during_next_wait`]).
///
/// # Errors
/// As [`Machine::open_control`].
pub fn open_control_from_another_thread() -> Result<u64, i32> {
    open_control()
}

fn open_control() -> Result<u64, i32> {
    let prepared = with(|k| {
        let (device, setup, _) =
            control_device(k).ok_or(super::wdf::STATUS_OBJECT_NAME_NOT_FOUND)?;
        // SAFETY: null attributes; the context comes from the device's file object attributes.
        let body = Body::File {
            device,
            io_refs: 0,
            closing: false,
            close: setup.file_close,
        };
        // SAFETY: null attributes; the context comes from the device's file object attributes.
        let (file, file_handle) = unsafe { k.wdf.create(body, core::ptr::null(), Some(device)) }?;
        if let Some((type_info, size)) = setup.file_context {
            k.wdf.attach_context(file, type_info, size);
        }
        let irp = k.wdf.next_irp();
        let stack = device_stack_size(k, device);
        let (_, request) = k
            .wdf
            .new_request(blank_request(REQUEST_TYPE_CREATE, file, irp, stack), device)
            .ok_or(super::nt::STATUS_INSUFFICIENT_RESOURCES)?;
        k.wdf.file_io_reference(file);
        Ok::<_, i32>((
            k.wdf.handle(device),
            file,
            file_handle,
            request,
            irp,
            setup.file_create,
        ))
    });
    let (device, file, file_handle, request, irp, create) = prepared?;
    match create {
        // SAFETY: the driver's EvtDeviceFileCreate with the device, the create request and the
        // new file object, at PASSIVE_LEVEL.
        Some(create) => super::pool::into_driver(|| unsafe {
            create(
                device as *mut c_void,
                request as *mut c_void,
                file_handle as *mut c_void,
            );
        }),
        None => complete_framework(request, STATUS_SUCCESS),
    }
    let reply = with(|k| k.wdf.replies.remove(&irp));
    let status = reply.map_or_else(
        || {
            with(|k| {
                k.report(Violation::BadArgument {
                    routine: "EvtDeviceFileCreate",
                    detail: "returned without completing the create request".to_owned(),
                });
            });
            STATUS_INVALID_DEVICE_STATE
        },
        |reply| reply.status,
    );
    let mut deferred = Vec::new();
    let result = with(|k| {
        if status < 0 {
            // A failed create: the framework deletes the file object; no cleanup or close.
            k.wdf.delete(file, &mut deferred);
            return Err(status);
        }
        k.world.next_control += 4;
        let handle = k.world.next_control | 0x1000_0000;
        k.world.control.insert(handle, file);
        Ok(handle)
    });
    super::run_deferred(deferred);
    result
}

fn complete_framework(request: usize, status: i32) {
    // The framework's own completion when the driver registered no callback.
    with(|k| {
        if let Some(index) = k.wdf.index(request)
            && let Some(data) = k.wdf.request(index)
        {
            data.state = RequestState::Completed;
            let irp = data.irp;
            k.wdf.replies.insert(
                irp,
                Reply {
                    status,
                    information: 0,
                    output: Vec::new(),
                },
            );
        }
    });
}

fn close_control(handle: u64) -> Result<(), i32> {
    let found = with(|k| {
        let file = k.world.control.remove(&handle)?;
        let (_, setup, _) = control_device(k)?;
        Some((file, k.wdf.handle(file), setup.file_cleanup))
    });
    let Some((file, file_handle, cleanup)) = found else {
        return Err(STATUS_INVALID_HANDLE);
    };
    if let Some(cleanup) = cleanup {
        // SAFETY: the driver's EvtFileCleanup for a file object whose create succeeded.
        super::pool::into_driver(|| unsafe { cleanup(file_handle as *mut c_void) });
    }
    // EvtFileClose runs once no request references the file object any more.
    let mut deferred = Vec::new();
    with(|k| {
        k.wdf.file_io_reference(file);
        if let Some(Object {
            body: Body::File { closing, .. },
            ..
        }) = k.wdf.get_mut(file)
        {
            *closing = true;
        }
        k.wdf.file_io_release(file, &mut deferred);
    });
    super::run_deferred(deferred);
    Ok(())
}

fn ioctl(handle: u64, code: u32, input: &[u8], output_length: usize) -> IoctlReply {
    let prepared = with(|k| {
        let file = *k.world.control.get(&handle)?;
        let (device, setup, queue) = control_device(k)?;
        let irp = k.wdf.next_irp();
        let stack = device_stack_size(k, device);
        let mut data = blank_request(REQUEST_TYPE_DEVICE_CONTROL, file, irp, stack);
        data.code = code;
        data.input_length = input.len();
        data.output_length = output_length;
        data.buffer = vec![0; input.len().max(output_length)];
        data.buffer[..input.len()].copy_from_slice(input);
        let (index, request) = k.wdf.new_request(data, device)?;
        k.wdf.file_io_reference(file);
        Some((
            k.wdf.handle(device),
            index,
            request,
            irp,
            setup.in_caller_context,
            queue,
        ))
    });
    let Some((device, index, request, irp, in_caller, queue)) = prepared else {
        return IoctlReply {
            status: STATUS_INVALID_HANDLE,
            information: 0,
            output: Vec::new(),
            pending: None,
        };
    };
    match in_caller {
        Some(callback) => {
            // SAFETY: the driver's EvtIoInCallerContext in the requesting thread, at
            // PASSIVE_LEVEL, with a request it has not queued yet.
            super::pool::into_driver(|| unsafe {
                callback(device as *mut c_void, request as *mut c_void);
            });
            let queued = with(|k| {
                let position = k.world.enqueued.iter().position(|&r| r == index);
                position.map(|p| k.world.enqueued.remove(p))
            });
            if queued.is_some() {
                dispatch_to_queue(index);
            }
        }
        None if queue.is_some() => dispatch_to_queue(index),
        None => {}
    }
    run_work_items();
    with(|k| match k.wdf.replies.remove(&irp) {
        Some(reply) => {
            disclosure_check(k, code, &reply.output);
            IoctlReply {
                status: reply.status,
                information: reply.information,
                output: reply.output,
                pending: None,
            }
        }
        None => IoctlReply {
            status: 0x103, // STATUS_PENDING
            information: 0,
            output: Vec::new(),
            pending: Some(irp),
        },
    })
}

/// An IOCTL output must not carry a framework handle or the address of driver memory.
///
/// `INSPECT`'s output is its `InspectOutput` header followed by bytes of the caller's file,
/// which are the file's and may hold any value: only the header is checked. Public so that the
/// verifier's own tests can hand it an output.
pub fn disclosure_check(k: &mut Kernel, code: u32, output: &[u8]) {
    let output = if code == ferrofilter_core::protocol::ioctl::INSPECT {
        let header = size_of::<ferrofilter_core::protocol::InspectOutput>();
        &output[..output.len().min(header)]
    } else {
        output
    };
    let mut found = Vec::new();
    let mut suspects = Vec::new();
    for (index, chunk) in output.chunks_exact(8).enumerate() {
        let value = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let flt_object = value & 0xFFFF_F000_0000_0000 == 0xFFFF_C000_0000_0000;
        if super::wdf::is_handle_value(value) || flt_object {
            found.push(index * 8);
        } else if value > 0xFFFF {
            suspects.push((index * 8, usize::try_from(value).unwrap_or(0)));
        }
    }
    if !suspects.is_empty() {
        for (start, size) in k.wdf.context_ranges() {
            for &(offset, address) in &suspects {
                if address >= start && address < start + size {
                    found.push(offset);
                }
            }
        }
        for &(offset, address) in &suspects {
            if k.io.file(address).is_some() || k.flt.contexts.contains_key(&address) {
                found.push(offset);
            }
        }
    }
    found.sort_unstable();
    found.dedup();
    for offset in found {
        k.report(Violation::KernelAddressDisclosed { code, offset });
    }
}

/// Called by `WdfDeviceEnqueueRequest`.
pub fn enqueued(index: u32) {
    with(|k| k.world.enqueued.push(index));
}

/// Presents a request to the device's default queue (or holds it while the queue is stopped).
pub fn dispatch_to_queue(index: u32) {
    let call = with(|k| {
        let (_, _, queue) = control_device(k)?;
        let queue = queue?;
        let queue_handle = k.wdf.handle(queue);
        let (output, input, code) = k
            .wdf
            .request(index)
            .map(|d| (d.output_length, d.input_length, d.code))?;
        match k.wdf.get_mut(queue).map(|o| &mut o.body) {
            Some(Body::Queue {
                stopped: true,
                waiting,
                ..
            }) => {
                waiting.push_back(index);
                None
            }
            Some(Body::Queue {
                device_control: Some(callback),
                ..
            }) => Some((
                *callback,
                queue_handle,
                k.wdf.handle(index),
                output,
                input,
                code,
            )),
            _ => None,
        }
    });
    if let Some((callback, queue, request, output, input, code)) = call {
        // SAFETY: the driver's EvtIoDeviceControl with its queue and a request presented to it,
        // at PASSIVE_LEVEL (the queue's execution level).
        super::pool::into_driver(|| unsafe {
            callback(
                queue as *mut c_void,
                request as *mut c_void,
                output,
                input,
                code,
            );
        });
    }
}
