//! The control device `\Device\FerroFilter` (symbolic link `\DosDevices\FerroFilter`), created
//! the way general/ioctl/kmdf's nonpnp.c does for a non-PnP KMDF driver:
//! `WdfControlDeviceInitAllocate` (SYSTEM and Administrators only) → name → file object
//! callbacks and contexts → in-caller-context callback → request context (with a cleanup
//! callback) → `WdfDeviceCreate` → symbolic link → parallel
//! default queue → `WdfControlFinishInitializing`. Every failure deletes what was created.
//!
//! Also the unload half: stop the queue, cancel everything sent, wait (in bounded slices) until
//! the core reports nothing outstanding, delete the device. An optional unload that cannot drain
//! restarts the queue and is refused; a mandatory one keeps waiting.
//!
//! Unverified here: written from wdfcontrol.h, wdfdevice.h, wdfio.h (KMDF 1.33), wdmsec.h and
//! nonpnp.c; never run.

use core::ptr;

use ferrofilter_core::policy::{self, DrainTimeout, UNLOAD_DRAIN_SLICES};
use ferrofilter_core::protocol::{DEVICE_NAME, SYMBOLIC_LINK};
use ferrofilter_core::{ForwardState, Forwarder, NtStatus};
use wdk_sys::{
    _WDF_EXECUTION_LEVEL, _WDF_FILEOBJECT_CLASS, _WDF_IO_QUEUE_DISPATCH_TYPE, _WDF_TRI_STATE,
    PWDFDEVICE_INIT, ULONG, WDF_FILEOBJECT_CONFIG, WDF_IO_QUEUE_CONFIG, WDFDEVICE, WDFDRIVER,
    WDFOBJECT, WDFQUEUE, call_unsafe_wdf_function_binding,
};

use crate::context::{
    CONTROL_CONTEXT_INFO, ControlContext, ControlState, FILE_CONTEXT_INFO, REQUEST_CONTEXT_INFO,
};
use crate::control::{
    on_device_control, on_file_cleanup, on_file_close, on_file_create, on_io_in_caller_context,
    on_request_cleanup,
};
use crate::lock::WdfSpinLock;
use crate::request::{DriverForwarder, WdfRequests};
use crate::unicode::static_unicode;
use crate::wdf::{check, object_attributes, struct_size};

/// Most requests outstanding at once: core's capacity, which the sim uses too.
const TABLE_CAPACITY: u32 = ferrofilter_core::forward::DEFAULT_CAPACITY;

/// How long one wait for the forwarded requests to drain lasts, in 100 ns units (5 s). Unload
/// re-cancels and waits again after each one, [`UNLOAD_DRAIN_SLICES`] times before the core
/// decides (`policy::drain_timed_out`); it never deletes the device under a live request.
const DRAIN_WAIT_100NS: i64 = 5 * 10_000_000;

static_unicode!(DEVICE_NAME_UNITS, DEVICE_NAME_STRING, DEVICE_NAME);
static_unicode!(SYMBOLIC_LINK_UNITS, SYMBOLIC_LINK_STRING, SYMBOLIC_LINK);
// SDDL_DEVOBJ_SYS_ALL_ADM_ALL (wdmsec.h): only the kernel, SYSTEM and Administrators may open the
// device. wdmsec.h exports it from wdmsec.lib; the string is spelled out to avoid that library.
static_unicode!(
    SDDL_UNITS,
    SDDL_DEVOBJ_SYS_ALL_ADM_ALL,
    "D:P(A;;GA;;;SY)(A;;GA;;;BA)"
);

/// Creates the control device, ready to receive handles. `PASSIVE_LEVEL` (`DriverEntry`).
///
/// # Errors
/// The first failing call's status; nothing created is left behind.
#[unsafe(link_section = "INIT")]
pub fn create(driver: WDFDRIVER) -> Result<WDFDEVICE, NtStatus> {
    // Built first so that the device context can be written in one step after WdfDeviceCreate.
    let lock = WdfSpinLock::create(
        ForwardState::with_capacity(TABLE_CAPACITY)?,
        ptr::null_mut(),
    )?;
    let forwarder: DriverForwarder = Forwarder::new(lock, WdfRequests);

    // SAFETY: `driver` is the live framework driver object; the SDDL string is 'static and only
    // read.
    let mut init: PWDFDEVICE_INIT = unsafe {
        call_unsafe_wdf_function_binding!(
            WdfControlDeviceInitAllocate,
            driver,
            SDDL_DEVOBJ_SYS_ALL_ADM_ALL.as_ptr()
        )
    };
    if init.is_null() {
        return Err(NtStatus::INSUFFICIENT_RESOURCES);
    }
    let created = create_from_init(&mut init, forwarder);
    // WdfDeviceCreate sets `init` to null when it takes it; otherwise it is ours to free.
    if !init.is_null() {
        // SAFETY: `init` came from WdfControlDeviceInitAllocate and was not consumed.
        unsafe { call_unsafe_wdf_function_binding!(WdfDeviceInitFree, init) };
    }
    let device = created?;
    if let Err(status) = finish(device) {
        delete(device);
        return Err(status);
    }
    Ok(device)
}

#[unsafe(link_section = "INIT")]
fn create_from_init(
    init: &mut PWDFDEVICE_INIT,
    forwarder: DriverForwarder,
) -> Result<WDFDEVICE, NtStatus> {
    // SAFETY: `*init` is a live device init; the name is 'static.
    let status = unsafe {
        call_unsafe_wdf_function_binding!(
            WdfDeviceInitAssignName,
            *init,
            DEVICE_NAME_STRING.as_ptr()
        )
    };
    check(status)?;

    // WDF_FILEOBJECT_CONFIG_INIT with all three callbacks.
    let mut file_config = WDF_FILEOBJECT_CONFIG {
        Size: struct_size::<WDF_FILEOBJECT_CONFIG>(),
        EvtDeviceFileCreate: Some(on_file_create),
        EvtFileClose: Some(on_file_close),
        EvtFileCleanup: Some(on_file_cleanup),
        AutoForwardCleanupClose: _WDF_TRI_STATE::WdfUseDefault,
        FileObjectClass: _WDF_FILEOBJECT_CLASS::WdfFileObjectWdfCannotUseFsContexts,
    };
    let mut file_attributes = object_attributes();
    file_attributes.ContextTypeInfo = FILE_CONTEXT_INFO.unique();
    // SAFETY: `*init` is live; both structures are live locals the framework copies.
    unsafe {
        call_unsafe_wdf_function_binding!(
            WdfDeviceInitSetFileObjectConfig,
            *init,
            &raw mut file_config,
            &raw mut file_attributes
        );
    }

    // QUERY_KEYS / PURGE_REQUEST name a handle of the caller: resolved in its thread first.
    // SAFETY: `*init` is live; the callback matches EVT_WDF_IO_IN_CALLER_CONTEXT.
    unsafe {
        call_unsafe_wdf_function_binding!(
            WdfDeviceInitSetIoInCallerContextCallback,
            *init,
            Some(on_io_in_caller_context)
        );
    }

    let mut request_attributes = object_attributes();
    request_attributes.ContextTypeInfo = REQUEST_CONTEXT_INFO.unique();
    request_attributes.EvtCleanupCallback = Some(on_request_cleanup);
    // SAFETY: `*init` is live; the attributes are a live local the framework copies.
    unsafe {
        call_unsafe_wdf_function_binding!(
            WdfDeviceInitSetRequestAttributes,
            *init,
            &raw mut request_attributes
        );
    }

    let mut device_attributes = object_attributes();
    device_attributes.ContextTypeInfo = CONTROL_CONTEXT_INFO.unique();
    device_attributes.EvtDestroyCallback = Some(on_control_destroy);
    let mut device: WDFDEVICE = ptr::null_mut();
    // SAFETY: `init` points to a live device init (set to null by the framework on success);
    // the attributes and the out handle are live locals.
    let status = unsafe {
        call_unsafe_wdf_function_binding!(
            WdfDeviceCreate,
            ptr::from_mut(init),
            &raw mut device_attributes,
            &raw mut device
        )
    };
    check(status)?;

    // SAFETY: the device was just created with CONTROL_CONTEXT_INFO.
    let context = unsafe { ControlContext::of(device.cast()) };
    // SAFETY: the context is zero-filled and unreachable by anyone else until the queue exists
    // and WdfControlFinishInitializing runs, both later.
    unsafe { ControlContext::init(context, forwarder) };
    Ok(device)
}

/// Symbolic link, queue, end of initialization.
#[unsafe(link_section = "INIT")]
fn finish(device: WDFDEVICE) -> Result<(), NtStatus> {
    // SAFETY: `device` is live; the link name is 'static.
    let status = unsafe {
        call_unsafe_wdf_function_binding!(
            WdfDeviceCreateSymbolicLink,
            device,
            SYMBOLIC_LINK_STRING.as_ptr()
        )
    };
    check(status)?;

    // WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(&config, WdfIoQueueDispatchParallel).
    let mut queue_config = WDF_IO_QUEUE_CONFIG {
        Size: struct_size::<WDF_IO_QUEUE_CONFIG>(),
        PowerManaged: _WDF_TRI_STATE::WdfUseDefault,
        DefaultQueue: 1,
        DispatchType: _WDF_IO_QUEUE_DISPATCH_TYPE::WdfIoQueueDispatchParallel,
        EvtIoDeviceControl: Some(on_device_control),
        ..WDF_IO_QUEUE_CONFIG::default()
    };
    queue_config.Settings.Parallel.NumberOfPresentedRequests = ULONG::MAX;
    // PASSIVE_LEVEL callbacks: OPEN_TARGET calls WdfIoTargetOpen, which requires it.
    let mut queue_attributes = object_attributes();
    queue_attributes.ExecutionLevel = _WDF_EXECUTION_LEVEL::WdfExecutionLevelPassive;
    let mut queue: WDFQUEUE = ptr::null_mut();
    // SAFETY: `device` is live; configuration, attributes and out handle are live locals.
    let status = unsafe {
        call_unsafe_wdf_function_binding!(
            WdfIoQueueCreate,
            device,
            &raw mut queue_config,
            &raw mut queue_attributes,
            &raw mut queue
        )
    };
    check(status)?;

    // SAFETY: `device` is a control device whose initialization is complete.
    unsafe { call_unsafe_wdf_function_binding!(WdfControlFinishInitializing, device) };
    Ok(())
}

/// `EvtDestroyCallback` of the control device: drops the core state (the table's memory). The
/// framework frees the context memory afterwards.
///
/// # Safety
/// Called by the framework once, for the control device, when nothing else uses it.
unsafe extern "C" fn on_control_destroy(device: WDFOBJECT) {
    // SAFETY: the framework passes the device being destroyed, which carries the context.
    let context = unsafe { ControlContext::of(device) };
    // SAFETY: this is the last use of the context; nothing else references it.
    unsafe { ControlContext::destroy(context) };
}

/// The state of the control device.
///
/// # Safety
/// `device` must be the live control device returned by [`create`].
pub unsafe fn state<'a>(device: WDFDEVICE) -> &'a ControlState {
    // SAFETY: forwarded from the caller.
    let context = unsafe { ControlContext::of(device.cast()) };
    // SAFETY: `create` initialized the context before returning the device.
    unsafe { ControlContext::state(context) }
}

/// Unload: stops delivering new requests, cancels every sent one and waits until the core reports
/// none outstanding. Waits in bounded slices, cancelling again after each (a request tracked but
/// not yet sent when the first cancel ran is caught by the next). After [`UNLOAD_DRAIN_SLICES`]
/// slices without draining, the core decides: an optional unload restarts the queue and fails
/// with the status it gives (`STATUS_DEVICE_BUSY`); a mandatory one keeps waiting, logging each
/// slice. `PASSIVE_LEVEL`; not in `PAGE` because it takes the forwarder's spin lock.
///
/// # Errors
/// The core's status for an optional unload that could not drain; the queue is running again.
pub fn drain(device: WDFDEVICE, mandatory: bool) -> Result<(), NtStatus> {
    wdk_sys::PAGED_CODE!();
    // SAFETY: the caller passes the live control device.
    let queue = unsafe { call_unsafe_wdf_function_binding!(WdfDeviceGetDefaultQueue, device) };
    // SAFETY: `queue` is the device's live default queue; stopping without a callback only stops
    // dispatching, requests already delivered stay with the driver.
    unsafe {
        call_unsafe_wdf_function_binding!(WdfIoQueueStop, queue, None, ptr::null_mut());
    }
    // SAFETY: the caller passes the live control device returned by `create`.
    let control = unsafe { state(device) };
    let mut timed_out: u32 = 0;
    loop {
        // Cleared before cancelling: a completion (or failed send) that drains the table after
        // this point sets it again, so the wait below cannot miss the last one.
        control.clear_drained();
        let count = control.forwarder.cancel_all();
        log!(Trace, "unload: cancel attempted on {count} requests");
        let outstanding = control.forwarder.outstanding();
        if outstanding == 0 {
            return Ok(());
        }
        if control.wait_drained(DRAIN_WAIT_100NS) {
            continue;
        }
        timed_out = timed_out.saturating_add(1);
        log!(
            Warning,
            "unload: {outstanding} requests still outstanding after {timed_out} x 5 s"
        );
        if timed_out < UNLOAD_DRAIN_SLICES {
            continue;
        }
        match policy::drain_timed_out(mandatory) {
            DrainTimeout::KeepWaiting => {}
            DrainTimeout::Refuse(status) => {
                // SAFETY: `queue` is the device's live default queue, stopped above; starting it
                // delivers requests again, as before the unload began.
                unsafe { call_unsafe_wdf_function_binding!(WdfIoQueueStart, queue) };
                log!(
                    Error,
                    "unload refused ({status:?}): {outstanding} forwarded requests did not \
                     complete; the control device runs on"
                );
                return Err(status);
            }
        }
    }
}

/// Deletes the control device (and with it the symbolic link, queue and contexts).
pub fn delete(device: WDFDEVICE) {
    // SAFETY: `device` is the live control device; nothing uses it after this call.
    unsafe { call_unsafe_wdf_function_binding!(WdfObjectDelete, device.cast()) };
}
