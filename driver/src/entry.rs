//! `DriverEntry` and unload.
//!
//! Load, in the order REFERENCE §6 suggests (a KMDF control device needs
//! `WdfDriverInitNonPnpDriver`; filesys/miniFilter/cdo registers before creating its control
//! device and starts filtering last):
//! 1. `WdfDriverCreate` (non-PnP, `EvtDriverUnload`). KMDF sets `DriverObject->DriverUnload`
//!    here, before Filter Manager saves and replaces it in the next step.
//! 2. `FltRegisterFilter` with the tables of `minifilter.rs`.
//! 3. The control device (`device::create`).
//! 4. `FltStartFiltering`.
//!
//! The order and what each failure undoes are `ferrofilter_core::policy` decisions (`BringUp`,
//! `unwind`, `UNLOAD_SEQUENCE`), tested on the sim; the WDF driver object itself is cleaned up
//! by KMDF when `DriverEntry` fails.
//!
//! Unload: Filter Manager calls `filter_unload`. The control device's handle gate
//! (`policy::gate`) moves to "unloading" in one atomic step, so no handle can be created between
//! the check and the teardown; an optional unload is refused while the control device has open
//! handles (`policy::unload`). Then everything sent is cancelled and drained (bounded for an
//! optional unload: one that cannot drain restarts the queue, reopens the gate and is refused,
//! `policy::drain_timed_out`), the filter unregistered and the device deleted. Filter Manager then
//! runs the unload routine it saved, KMDF's, which calls `on_driver_unload`; that finds the work
//! done (it is idempotent).
//!
//! `DriverEntry` first resets every static of the driver, so a second load in one process (the
//! simulated kernel loads and unloads the driver many times) starts as a fresh image does.
//!
//! Unverified here: written from wdfdriver.h (KMDF 1.33), fltKernel.h, the cdo and nonpnp
//! samples, and Filter Manager's documented unload sequence; never loaded.

use core::ffi::c_void;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

use ferrofilter_core::NtStatus;
use wdk_sys::{
    NTSTATUS, PCUNICODE_STRING, PDRIVER_OBJECT, ULONG, WDF_DRIVER_CONFIG, WDFDEVICE, WDFDRIVER,
    call_unsafe_wdf_function_binding,
};

use crate::constants::{FLTFL_FILTER_UNLOAD_MANDATORY, WDF_DRIVER_INIT_NON_PNP_DRIVER};
use crate::device;
use crate::filter;
use crate::fltmgr::{
    FLT_FILTER_UNLOAD_FLAGS, FltRegisterFilter, FltStartFiltering, FltUnregisterFilter, PFLT_FILTER,
};
use crate::minifilter::REGISTRATION;
use crate::policy::{self, BringUp, TearDown};
use crate::wdf::{check, struct_size};

/// Pool tag of the framework's allocations for this driver (`FfDr`).
const DRIVER_POOL_TAG: ULONG = u32::from_le_bytes(*b"FfDr");

/// The registered filter (`PFLT_FILTER`), null before registration and after teardown.
static FILTER: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());
/// The control device (`WDFDEVICE`), null before creation and after teardown.
static CONTROL_DEVICE: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());
/// The KMDF driver object, for the steps after `WdfDriverCreate`.
static WDF_DRIVER: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());
/// Set by the first teardown; later ones do nothing.
static TORN_DOWN: AtomicBool = AtomicBool::new(false);

/// The driver's entry point, under the name the KMDF stub (`FxDriverEntry`) calls, and that the
/// simulated kernel calls off Windows.
#[unsafe(export_name = "DriverEntry")]
#[unsafe(link_section = "INIT")]
extern "system" fn driver_entry(
    driver: PDRIVER_OBJECT,
    registry_path: PCUNICODE_STRING,
) -> NTSTATUS {
    match initialize(driver, registry_path) {
        Ok(()) => {
            log!(Info, "loaded");
            NtStatus::SUCCESS.as_i32()
        }
        Err(status) => {
            log!(Error, "DriverEntry failed: {status:?}");
            status.as_i32()
        }
    }
}

/// What `DriverEntry` has created so far.
#[derive(Default)]
struct Created {
    filter: Option<PFLT_FILTER>,
    device: Option<WDFDEVICE>,
}

#[unsafe(link_section = "INIT")]
fn initialize(driver: PDRIVER_OBJECT, registry_path: PCUNICODE_STRING) -> Result<(), NtStatus> {
    reset_statics();
    let mut created = Created::default();
    for step in BringUp::ORDER {
        if let Err(status) = bring_up(step, driver, registry_path, &mut created) {
            log!(Error, "DriverEntry: {step:?} failed: {status:?}");
            // The core decides what to undo and in which order.
            for undo in policy::unwind(step) {
                tear_down(undo, &mut created);
            }
            return Err(status);
        }
    }
    if let (Some(filter), Some(device)) = (created.filter, created.device) {
        FILTER.store(filter.cast(), Ordering::Release);
        CONTROL_DEVICE.store(device.cast(), Ordering::Release);
    }
    Ok(())
}

/// Every static back to its initial value. On Windows each load is a fresh image, so this changes
/// nothing there; a host process that loads the driver again (the simulated kernel) gets the same
/// start. Runs before anything can reach the statics.
#[unsafe(link_section = "INIT")]
fn reset_statics() {
    FILTER.store(ptr::null_mut(), Ordering::Release);
    CONTROL_DEVICE.store(ptr::null_mut(), Ordering::Release);
    WDF_DRIVER.store(ptr::null_mut(), Ordering::Release);
    TORN_DOWN.store(false, Ordering::Release);
    filter::state::reset();
}

#[unsafe(link_section = "INIT")]
fn bring_up(
    step: BringUp,
    driver: PDRIVER_OBJECT,
    registry_path: PCUNICODE_STRING,
    created: &mut Created,
) -> Result<(), NtStatus> {
    match step {
        BringUp::CreateWdfDriver => {
            let wdf_driver = create_wdf_driver(driver, registry_path)?;
            WDF_DRIVER.store(wdf_driver.cast(), Ordering::Release);
        }
        BringUp::RegisterFilter => {
            let mut filter: PFLT_FILTER = ptr::null_mut();
            // SAFETY: `driver` is the driver object the I/O manager passed to DriverEntry;
            // REGISTRATION and the tables it points to are 'static and never written; `filter`
            // is a live local.
            let status =
                unsafe { FltRegisterFilter(driver, &raw const REGISTRATION.0, &raw mut filter) };
            check(status)?;
            created.filter = Some(filter);
        }
        BringUp::CreateControlDevice => {
            let wdf_driver: WDFDRIVER = WDF_DRIVER.load(Ordering::Acquire).cast();
            created.device = Some(device::create(wdf_driver)?);
        }
        BringUp::StartFiltering => {
            let filter = created.filter.ok_or(NtStatus::INVALID_DEVICE_STATE)?;
            // The device must be reachable from the callbacks before they can run.
            if let Some(device) = created.device {
                CONTROL_DEVICE.store(device.cast(), Ordering::Release);
            }
            // SAFETY: `filter` was registered by the previous steps and is not unregistered.
            let status = unsafe { FltStartFiltering(filter) };
            if let Err(status) = check(status) {
                CONTROL_DEVICE.store(ptr::null_mut(), Ordering::Release);
                return Err(status);
            }
        }
    }
    Ok(())
}

fn tear_down(action: TearDown, created: &mut Created) {
    match action {
        TearDown::UnregisterFilter => {
            if let Some(filter) = created.filter.take() {
                unregister(filter);
            }
        }
        TearDown::DeleteControlDevice => {
            if let Some(device) = created.device.take() {
                device::delete(device);
            }
        }
    }
}

#[unsafe(link_section = "INIT")]
fn create_wdf_driver(
    driver: PDRIVER_OBJECT,
    registry_path: PCUNICODE_STRING,
) -> Result<WDFDRIVER, NtStatus> {
    // WDF_DRIVER_CONFIG_INIT(&config, WDF_NO_EVENT_CALLBACK) plus the non-PnP flag and unload.
    let mut config = WDF_DRIVER_CONFIG {
        Size: struct_size::<WDF_DRIVER_CONFIG>(),
        EvtDriverDeviceAdd: None,
        EvtDriverUnload: Some(on_driver_unload),
        DriverInitFlags: WDF_DRIVER_INIT_NON_PNP_DRIVER,
        DriverPoolTag: DRIVER_POOL_TAG,
    };
    let mut wdf_driver: WDFDRIVER = ptr::null_mut();
    // SAFETY: `driver` and `registry_path` are what the I/O manager passed to DriverEntry; the
    // configuration and the out handle are live locals; null attributes are
    // WDF_NO_OBJECT_ATTRIBUTES.
    let status = unsafe {
        call_unsafe_wdf_function_binding!(
            WdfDriverCreate,
            driver,
            registry_path,
            ptr::null_mut(),
            &raw mut config,
            &raw mut wdf_driver
        )
    };
    check(status)?;
    Ok(wdf_driver)
}

fn unregister(filter: PFLT_FILTER) {
    // SAFETY: `filter` came from a successful FltRegisterFilter and is unregistered once: the
    // callers clear or never publish the global first.
    unsafe { FltUnregisterFilter(filter) };
}

/// The registered filter, once `DriverEntry` finished and until unload starts.
pub fn registered_filter() -> Option<PFLT_FILTER> {
    NonNull::new(FILTER.load(Ordering::Acquire)).map(|filter| filter.as_ptr().cast())
}

/// `PFLT_FILTER_UNLOAD_CALLBACK`. `PASSIVE_LEVEL`, but not in `PAGE`: the teardown takes spin
/// locks, and code that runs at `DISPATCH_LEVEL` (inlined lock bodies) must not be pageable.
///
/// # Safety
/// Called by Filter Manager at `PASSIVE_LEVEL`.
pub unsafe extern "C" fn filter_unload(flags: FLT_FILTER_UNLOAD_FLAGS) -> NTSTATUS {
    wdk_sys::PAGED_CODE!();
    let mandatory = flags & FLTFL_FILTER_UNLOAD_MANDATORY != 0;
    if let Some(device) = NonNull::new(CONTROL_DEVICE.load(Ordering::Acquire)) {
        let device: WDFDEVICE = device.as_ptr().cast();
        // SAFETY: the device is published only while it is live and initialized; it is deleted
        // only by `teardown`, which runs on this same unload path, after this.
        let control = unsafe { device::state(device) };
        // One atomic step: from here on no control-device handle is created (a create in
        // flight either counted itself before, and is seen here, or is refused).
        match control.begin_unload(mandatory) {
            Err((status, open_handles)) => {
                log!(Warning, "unload refused: {open_handles} handles open");
                return status.as_i32();
            }
            Ok(0) => {}
            Ok(open_handles) => log!(
                Warning,
                "mandatory unload with {open_handles} control-device handles open"
            ),
        }
        if let Err(status) = device::drain(device, mandatory) {
            // The queue runs again (drain restarted it); let handles be created again too.
            control.abandon_unload();
            return status.as_i32();
        }
    }
    teardown();
    NtStatus::SUCCESS.as_i32()
}

/// `EVT_WDF_DRIVER_UNLOAD`: runs after `filter_unload`, so normally finds nothing left to do.
///
/// # Safety
/// Called by KMDF at `PASSIVE_LEVEL`. Not in `PAGE` (takes spin locks through `teardown`).
unsafe extern "C" fn on_driver_unload(_driver: WDFDRIVER) {
    wdk_sys::PAGED_CODE!();
    teardown();
    log!(Info, "unloaded");
}

/// Cancels and drains what was sent, unregisters the filter and deletes the control device, once.
/// After `filter_unload` drained, the drain here finds nothing outstanding; reached without it
/// (KMDF's unload alone), it closes the handle gate and drains as a mandatory unload does.
fn teardown() {
    if TORN_DOWN.swap(true, Ordering::AcqRel) {
        return;
    }
    let device = NonNull::new(CONTROL_DEVICE.swap(ptr::null_mut(), Ordering::AcqRel));
    let filter = NonNull::new(FILTER.swap(ptr::null_mut(), Ordering::AcqRel));
    if let Some(device) = device {
        let device: WDFDEVICE = device.as_ptr().cast();
        // SAFETY: the device was published, so it is live and initialized; only this teardown,
        // which runs once, deletes it, after this.
        let control = unsafe { device::state(device) };
        // A mandatory unload always proceeds (and cannot be refused while draining).
        let _ = control.begin_unload(true);
        let _ = device::drain(device, true);
    }
    let mut created = Created {
        filter: filter.map(|f| f.as_ptr().cast()),
        device: device.map(|d| d.as_ptr().cast()),
    };
    for action in policy::UNLOAD_SEQUENCE {
        tear_down(action, &mut created);
    }
}
