//! Load and unload as the I/O manager and Filter Manager perform them, and what must be
//! gone afterwards.

use super::super::layout::{DRIVER_OBJECT, FLT_RELATED_OBJECTS};
use super::super::nt::STATUS_SUCCESS;
use super::super::rules::Violation;
use super::super::wdf::Body;
use super::super::{PASSIVE_LEVEL, flt::FilterManager, with, with_deferred};
use core::ffi::c_void;

use super::{
    FILE_DEVICE_DISK_FILE_SYSTEM, FLT_FSTYPE_NTFS, FLTFL_FILTER_UNLOAD_MANDATORY, run_work_items,
};

pub(super) fn filter_unload(flags: u32) -> i32 {
    let callback = with(|k| k.flt.registration.as_ref().and_then(|r| r.unload));
    match callback {
        // SAFETY: the filter's registered unload callback, at PASSIVE_LEVEL.
        Some(callback) => super::super::pool::into_driver(|| unsafe { callback(flags) }),
        None => STATUS_SUCCESS,
    }
}

/// The unload routine Filter Manager installs in the driver object in `FltRegisterFilter`:
/// the filter's unload callback (mandatory), then the routine it replaced.
///
/// # Safety
/// Called by the I/O manager with the driver's object.
pub unsafe extern "C" fn fltmgr_driver_unload(driver: *mut DRIVER_OBJECT) {
    super::super::pool::as_kernel(|| {
        let _ = filter_unload(FLTFL_FILTER_UNLOAD_MANDATORY);
        if let Some(saved) = with(|k| k.flt.saved_unload) {
            // SAFETY: forwarded from the caller.
            super::super::pool::into_driver(|| unsafe { saved(driver) });
        }
    });
}

/// The unload routine KMDF installs in `WdfDriverCreate`: `EvtDriverUnload`, then the
/// framework deletes the driver object and everything parented to it.
///
/// # Safety
/// Called with the driver's object.
pub unsafe extern "C" fn kmdf_driver_unload(_driver: *mut DRIVER_OBJECT) {
    super::super::pool::as_kernel(|| {
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
            super::super::pool::into_driver(|| unsafe { unload(handle as *mut c_void) });
        }
        delete_driver_object();
    });
}

pub(super) fn delete_driver_object() {
    with_deferred(|k, deferred| {
        if let Some(index) = k.wdf.driver {
            k.wdf.delete(index, deferred);
        }
    });
}

pub(super) fn check_nothing_left() {
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
        Some(Some(setup)) => super::super::pool::into_driver(|| unsafe {
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
    file: *mut super::super::layout::FILE_OBJECT,
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
