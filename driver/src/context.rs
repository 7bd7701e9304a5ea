//! Typed WDF object contexts, declared the way `WDF_DECLARE_CONTEXT_TYPE_WITH_NAME` does in C: a
//! `WDF_OBJECT_CONTEXT_TYPE_INFO` in `.data` whose `UniqueType` points at itself and whose
//! `ContextName` is the Rust type's name, so `!wdfkd.wdfobject` shows the contexts by name.
//!
//! - [`ControlContext`] on the control device: the core forwarder and the unload state.
//! - [`FileContext`] on each `WDFFILEOBJECT` of the control device: its owner and I/O target.
//! - [`RequestContext`] on every request the control device receives: what its caller-context
//!   callback resolved for it.
//! - [`SentContext`] on every request the driver creates to forward one it received: the
//!   received request, the core's ID, the target, the bytes transferred.
//!
//! The framework zero-fills context memory; [`FileContext`] and [`ControlContext`] are written
//! in full right after their object is created, [`RequestContext`] is valid zeroed, and
//! [`SentContext`] is written right after `WdfRequestCreate`.
//!
//! Unverified here: layouts and the `WdfObjectGetTypedContextWorker` calls follow wdfobject.h
//! (KMDF 1.33) and the echo sample of Windows-rust-driver-samples; never run.

use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use ferrofilter_core::policy::gate;
use ferrofilter_core::{NtStatus, OwnerId};
use wdk_sys::ntddk::{KeClearEvent, KeInitializeEvent, KeSetEvent, KeWaitForSingleObject};
use wdk_sys::{
    _EVENT_TYPE, _KWAIT_REASON, HANDLE, KEVENT, LARGE_INTEGER, PCWDF_OBJECT_CONTEXT_TYPE_INFO,
    PFILE_OBJECT, ULONG_PTR, WDF_OBJECT_CONTEXT_TYPE_INFO, WDFIOTARGET, WDFOBJECT, WDFREQUEST,
    call_unsafe_wdf_function_binding,
};

use crate::constants::{KERNEL_MODE, STATUS_TIMEOUT};
use crate::lock::WdfSpinLock;
use crate::request::DriverForwarder;
use crate::wdf::{Shared, struct_size};

/// A `WDF_OBJECT_CONTEXT_TYPE_INFO` in a `static`.
pub type ContextTypeInfo = Shared<WDF_OBJECT_CONTEXT_TYPE_INFO>;

impl ContextTypeInfo {
    /// What `WDF_OBJECT_ATTRIBUTES.ContextTypeInfo` and `WdfObjectGetTypedContextWorker` take
    /// (`WDF_GET_CONTEXT_TYPE_INFO(T)->UniqueType` in C).
    pub const fn unique(&'static self) -> PCWDF_OBJECT_CONTEXT_TYPE_INFO {
        self.0.UniqueType
    }
}

/// Declares the type-info static for a context type.
macro_rules! context_type_info {
    ($info:ident, $context:ty, $name:literal) => {
        #[unsafe(link_section = ".data")]
        pub static $info: ContextTypeInfo = Shared(WDF_OBJECT_CONTEXT_TYPE_INFO {
            Size: struct_size::<WDF_OBJECT_CONTEXT_TYPE_INFO>(),
            ContextName: $name.as_ptr(),
            ContextSize: size_of::<$context>(),
            UniqueType: (&raw const $info).cast(),
            EvtDriverGetUniqueContextType: None,
        });
    };
}

context_type_info!(CONTROL_CONTEXT_INFO, ControlContext, c"ControlContext");
context_type_info!(FILE_CONTEXT_INFO, FileContext, c"FileContext");
context_type_info!(REQUEST_CONTEXT_INFO, RequestContext, c"RequestContext");
context_type_info!(SENT_CONTEXT_INFO, SentContext, c"SentContext");

/// `WdfObjectGetTypedContextWorker(handle, info)`.
///
/// # Safety
/// `handle` must be a live WDF object created with attributes naming `info`.
unsafe fn typed_context<T>(handle: WDFOBJECT, info: &'static ContextTypeInfo) -> *mut T {
    // SAFETY: the caller guarantees `handle` is live and carries this context type; the call only
    // looks the context up.
    let context = unsafe {
        call_unsafe_wdf_function_binding!(WdfObjectGetTypedContextWorker, handle, info.unique())
    };
    context.cast()
}

/// What the control device keeps: the forwarder and what unload needs. Lives in the device's
/// context from `WdfDeviceCreate` until the device's `EvtDestroyCallback`.
pub struct ControlState {
    /// Every forwarding and cancel decision.
    pub forwarder: DriverForwarder,
    /// Set when a completion reports that nothing is outstanding (unload waits on it).
    /// A `NotificationEvent`, initialized in place by `ControlContext::init`.
    pub drained: UnsafeCell<KEVENT>,
    /// The handle gate (`ferrofilter_core::policy::gate`): control-device handles created and
    /// not yet closed, and whether unload has started, in one word, so that a create and an
    /// unload cannot both win.
    pub gate: AtomicU32,
}

impl ControlState {
    /// Counts a new handle, unless unload has started.
    ///
    /// # Errors
    /// As `gate::open`: `STATUS_DELETE_PENDING` once unload started.
    pub fn open_handle(&self) -> Result<(), NtStatus> {
        let mut state = self.gate.load(Ordering::Acquire);
        loop {
            let next = gate::open(state)?;
            match self
                .gate
                .compare_exchange_weak(state, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Ok(()),
                Err(now) => state = now,
            }
        }
    }

    /// Uncounts a handle counted by [`ControlState::open_handle`].
    pub fn close_handle(&self) {
        let mut state = self.gate.load(Ordering::Acquire);
        loop {
            let next = gate::close(state);
            match self
                .gate
                .compare_exchange_weak(state, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return,
                Err(now) => state = now,
            }
        }
    }

    /// Starts unload when the core allows it with the handles open now; from then on no handle
    /// is created. Returns the number of handles open.
    ///
    /// # Errors
    /// As `gate::begin_unload` (`STATUS_FLT_DO_NOT_DETACH`), with the number of handles open.
    pub fn begin_unload(&self, mandatory: bool) -> Result<u32, (NtStatus, u32)> {
        let mut state = self.gate.load(Ordering::Acquire);
        loop {
            let next =
                gate::begin_unload(state, mandatory).map_err(|s| (s, gate::handles(state)))?;
            match self
                .gate
                .compare_exchange_weak(state, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Ok(gate::handles(state)),
                Err(now) => state = now,
            }
        }
    }

    /// An unload that started is refused after all: handles may be created again.
    pub fn abandon_unload(&self) {
        let mut state = self.gate.load(Ordering::Acquire);
        loop {
            let next = gate::abandon_unload(state);
            match self
                .gate
                .compare_exchange_weak(state, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return,
                Err(now) => state = now,
            }
        }
    }

    /// Sets the drained event. Callable at IRQL <= `DISPATCH_LEVEL` (completion routines).
    pub fn signal_drained(&self) {
        // SAFETY: `drained` was initialized by `init` and lives as long as the device; setting an
        // event with Wait = FALSE is allowed at DISPATCH_LEVEL.
        unsafe { KeSetEvent(self.drained.get(), 0, 0) };
    }

    /// Clears the drained event, before unload starts cancelling.
    pub fn clear_drained(&self) {
        // SAFETY: as in `signal_drained`.
        unsafe { KeClearEvent(self.drained.get()) };
    }

    /// Waits at most `timeout_100ns` (100 ns units) for the drained event. Returns whether it was
    /// set. `PASSIVE_LEVEL` only.
    pub fn wait_drained(&self, timeout_100ns: i64) -> bool {
        // Negative: relative to now.
        let mut timeout = LARGE_INTEGER {
            QuadPart: -timeout_100ns,
        };
        // SAFETY: `drained` is an initialized KEVENT that outlives the wait; `timeout` is a live
        // local; a kernel-mode, non-alertable wait with a timeout is allowed at PASSIVE_LEVEL.
        let status = unsafe {
            KeWaitForSingleObject(
                self.drained.get().cast(),
                _KWAIT_REASON::Executive,
                KERNEL_MODE,
                0,
                &raw mut timeout,
            )
        };
        NtStatus::from_i32(status) != STATUS_TIMEOUT
    }
}

/// The control device's context: zero-filled by the framework, so `ready` reads `false` until
/// [`ControlContext::init`] has written `state`.
pub struct ControlContext {
    ready: AtomicBool,
    state: MaybeUninit<ControlState>,
}

impl ControlContext {
    /// The context of `device`, as a raw pointer (it may not be initialized yet).
    ///
    /// # Safety
    /// `device` must be the live control device (created with [`CONTROL_CONTEXT_INFO`]).
    pub unsafe fn of(device: WDFOBJECT) -> *mut Self {
        // SAFETY: forwarded from the caller.
        unsafe { typed_context(device, &CONTROL_CONTEXT_INFO) }
    }

    /// Writes the state into the context of a freshly created device, then initializes the
    /// `KEVENT` at its final address.
    ///
    /// # Safety
    /// `this` must be the zero-filled context of a device nobody else can reach yet.
    pub unsafe fn init(this: *mut Self, forwarder: DriverForwarder) -> &'static ControlState {
        let state = ControlState {
            forwarder,
            drained: UnsafeCell::new(KEVENT::default()),
            gate: AtomicU32::new(0),
        };
        // SAFETY: `this` is valid, aligned context memory that nobody else touches yet (caller).
        let context = unsafe { &mut *this };
        let state = context.state.write(state);
        // SAFETY: the event sits at its final address inside the context; it is initialized
        // once, before anything can wait on or set it.
        unsafe { KeInitializeEvent(state.drained.get(), _EVENT_TYPE::NotificationEvent, 0) };
        context.ready.store(true, Ordering::Release);
        state
    }

    /// The state of an initialized context.
    ///
    /// # Safety
    /// `this` must be the context of the live control device, and `init` must have run; both
    /// hold in every callback the device can receive, because `init` runs right after
    /// `WdfDeviceCreate` and before the queue, the symbolic link and
    /// `WdfControlFinishInitializing`.
    pub unsafe fn state<'a>(this: *const Self) -> &'a ControlState {
        // SAFETY: `this` points to initialized context memory of a live device (caller).
        let context = unsafe { &*this };
        // SAFETY: `init` wrote `state` before the device could deliver any callback (caller).
        unsafe { context.state.assume_init_ref() }
    }

    /// Drops the state, if it was ever written. Called once, from the device's
    /// `EvtDestroyCallback`, after which the framework frees the memory.
    ///
    /// # Safety
    /// `this` must be the context of the device being destroyed; no other reference may exist.
    pub unsafe fn destroy(this: *mut Self) {
        // SAFETY: the framework calls the destroy callback once, with no other user left (caller).
        let context = unsafe { &mut *this };
        if context.ready.swap(false, Ordering::Acquire) {
            // SAFETY: `ready` was set by `init` after writing `state`, and is now cleared, so the
            // state is dropped exactly once.
            unsafe { context.state.assume_init_drop() };
        }
    }
}

/// A pipe `OPEN_TARGET` opened in the caller's context: a kernel handle (`OBJ_KERNEL_HANDLE`,
/// usable from any thread) and the file object it names, referenced. The handle stays open as
/// long as the file object is used: closing the last handle sends `IRP_MJ_CLEANUP`, after which
/// the pipe refuses I/O on that file object. `ZwClose` needs `PASSIVE_LEVEL`, so an `Opened` is
/// only ever released from `PASSIVE_LEVEL` callbacks (`control::release_opened`).
#[derive(Clone, Copy, Debug)]
pub struct Opened {
    /// The kernel handle `ZwCreateFile` returned.
    pub handle: HANDLE,
    /// Its file object, with the reference `ObReferenceObjectByHandle` took.
    pub file_object: PFILE_OBJECT,
}

/// A handle's I/O target and what it was opened over.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    /// The framework I/O target (`WdfIoTargetOpenUseExistingDevice` over `opened`).
    pub io_target: WDFIOTARGET,
    /// The pipe it sends to; released after the target is closed and deleted.
    pub opened: Opened,
}

/// What a control-device handle's target lock guards.
#[derive(Debug, Default)]
pub struct TargetSlot {
    /// The handle's I/O target, once `OPEN_TARGET` succeeded.
    pub current: Option<Target>,
    /// A pipe opened by `EvtIoInCallerContext` for the `OPEN_TARGET` request named here, waiting
    /// for that request's `EvtIoDeviceControl`. Kept here rather than in the request's context
    /// because the request may be cancelled in the queue, and a request's cleanup callback can
    /// run above `PASSIVE_LEVEL`, where the handle cannot be closed; the file object's close
    /// callback (`PASSIVE_LEVEL`, after every request on it) releases whatever is left.
    pub pending: Option<(WDFREQUEST, Opened)>,
}

/// What each open handle of the control device keeps.
pub struct FileContext {
    /// The core's name for this handle.
    pub owner: OwnerId,
    /// The handle's I/O target and pending open. Guarded by a spin lock parented to the file
    /// object so `FORWARD` can take a reference while `OPEN_TARGET` replaces it.
    pub target: WdfSpinLock<TargetSlot>,
}

impl FileContext {
    /// The context of `file_object`, as a raw pointer (zero-filled until written).
    ///
    /// # Safety
    /// `file_object` must be a live file object of the control device.
    pub unsafe fn of(file_object: WDFOBJECT) -> *mut Self {
        // SAFETY: forwarded from the caller.
        unsafe { typed_context(file_object, &FILE_CONTEXT_INFO) }
    }

    /// The context of a file object whose create succeeded.
    ///
    /// # Safety
    /// `file_object` must be a live file object of the control device whose `EvtDeviceFileCreate`
    /// wrote the context; that holds for every later callback on it.
    pub unsafe fn get<'a>(file_object: WDFOBJECT) -> &'a Self {
        // SAFETY: forwarded from the caller.
        let context = unsafe { Self::of(file_object) };
        // SAFETY: written by the create callback, alive as long as the file object (caller).
        unsafe { &*context }
    }
}

/// What the request path stores on each request the control device receives. Valid zero-filled:
/// no resolved handle, no open attempted.
pub struct RequestContext {
    /// For `QUERY_KEYS` / `PURGE_REQUEST`: the file object the caller's handle named, resolved
    /// in the caller's context (`EvtIoInCallerContext`) and referenced; null when not resolved.
    /// Taken (set back to null) by whoever drops the reference.
    pub resolved: PFILE_OBJECT,
    /// The handle value that was resolved.
    pub resolved_handle: u64,
    /// Why the resolution failed (zero when it was not attempted or succeeded).
    pub resolve_status: i32,
    /// For `OPEN_TARGET`: whether the caller-context open was attempted, and its status (the
    /// opened pipe itself waits in the handle's [`TargetSlot::pending`]).
    pub open_attempted: bool,
    /// The status of that open.
    pub open_status: i32,
}

impl RequestContext {
    /// The context of `request`.
    ///
    /// # Safety
    /// `request` must be a live request delivered to the control device (the device sets
    /// [`REQUEST_CONTEXT_INFO`] as its request attributes).
    pub unsafe fn of(request: WDFREQUEST) -> *mut Self {
        // SAFETY: forwarded from the caller.
        unsafe { typed_context(request.cast(), &REQUEST_CONTEXT_INFO) }
    }
}

/// What the driver keeps on each request it creates (`WdfRequestCreate`) to forward one it
/// received: the sent request is the one the core tracks and cancels.
pub struct SentContext {
    /// The received request, completed with this one's status and bytes.
    pub original: WDFREQUEST,
    /// The core's ID for the request while it is sent.
    pub id: u64,
    /// Bytes the target transferred, reported when the original is completed.
    pub information: ULONG_PTR,
    /// The target the request was created and formatted for.
    pub target: WDFIOTARGET,
}

impl SentContext {
    /// The context of `request`.
    ///
    /// # Safety
    /// `request` must be a live request the driver created with [`SENT_CONTEXT_INFO`].
    pub unsafe fn of(request: WDFREQUEST) -> *mut Self {
        // SAFETY: forwarded from the caller.
        unsafe { typed_context(request.cast(), &SENT_CONTEXT_INFO) }
    }
}
