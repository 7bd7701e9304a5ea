//! The real wdk-macros binding, over the generated declarations, calls KMDF methods through the
//! function table the way it does in a Windows driver: the entry at the method's
//! `WDFFUNCENUM` index, with `WdfDriverGlobals` first. This test plays the loader: it fills the
//! table with two methods of its own and checks what they receive.

use core::ffi::c_void;
use core::ptr;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use wdk_sys::{
    _WDFFUNCENUM, NTSTATUS, PWDF_DRIVER_GLOBALS, PWDF_OBJECT_ATTRIBUTES, WDF_DRIVER_GLOBALS,
    WDFFUNC, WDFREQUEST, WDFSPINLOCK, call_unsafe_wdf_function_binding,
};

const ENTRIES: usize = _WDFFUNCENUM::WdfFunctionTableNumEntries as usize;

// The loader's side of the binding, as WdfDriverEntry.lib defines it on Windows.
#[unsafe(no_mangle)]
static mut WdfFunctions_01033: *const WDFFUNC = ptr::null();
#[unsafe(no_mangle)]
static mut WdfDriverGlobals: PWDF_DRIVER_GLOBALS = ptr::null_mut();
#[unsafe(no_mangle)]
static mut WdfFunctionCount: u32 = 0;

static SEEN_GLOBALS: AtomicPtr<WDF_DRIVER_GLOBALS> = AtomicPtr::new(ptr::null_mut());
static SEEN_REQUEST: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn request_get_status(
    globals: PWDF_DRIVER_GLOBALS,
    request: WDFREQUEST,
) -> NTSTATUS {
    SEEN_GLOBALS.store(globals, Ordering::SeqCst);
    SEEN_REQUEST.store(request as usize, Ordering::SeqCst);
    // STATUS_CANCELLED, as a cancelled request reports.
    0xC000_0120_u32.cast_signed()
}

unsafe extern "C" fn spin_lock_create(
    globals: PWDF_DRIVER_GLOBALS,
    attributes: PWDF_OBJECT_ATTRIBUTES,
    lock: *mut WDFSPINLOCK,
) -> NTSTATUS {
    SEEN_GLOBALS.store(globals, Ordering::SeqCst);
    assert!(attributes.is_null());
    // SAFETY: the caller passes a valid out pointer, as WdfSpinLockCreate requires.
    unsafe { lock.write(ptr::without_provenance_mut(0x5150)) };
    0
}

/// Fills a function table and the loader's statics; returns the driver globals it installed.
fn install() -> PWDF_DRIVER_GLOBALS {
    // SAFETY: a fn pointer of one signature is stored as the table's untyped fn pointer, as
    // KMDF's loader stores every method; wdk-macros casts it back to the PFN type of its index.
    let get_status: unsafe extern "C" fn() = unsafe {
        core::mem::transmute::<unsafe extern "C" fn(PWDF_DRIVER_GLOBALS, WDFREQUEST) -> NTSTATUS, _>(
            request_get_status,
        )
    };
    // SAFETY: as above.
    let create: unsafe extern "C" fn() = unsafe {
        core::mem::transmute::<
            unsafe extern "C" fn(
                PWDF_DRIVER_GLOBALS,
                PWDF_OBJECT_ATTRIBUTES,
                *mut WDFSPINLOCK,
            ) -> NTSTATUS,
            _,
        >(spin_lock_create)
    };
    let table: &'static mut [WDFFUNC; ENTRIES] = Box::leak(Box::new([None; ENTRIES]));
    table[_WDFFUNCENUM::WdfRequestGetStatusTableIndex as usize] = Some(get_status);
    table[_WDFFUNCENUM::WdfSpinLockCreateTableIndex as usize] = Some(create);
    let globals: PWDF_DRIVER_GLOBALS = Box::leak(Box::new(WDF_DRIVER_GLOBALS::default()));
    // SAFETY: the one test writes the loader's statics before any call reads them.
    unsafe { WdfFunctions_01033 = table.as_ptr() };
    // SAFETY: as above.
    unsafe { WdfDriverGlobals = globals };
    // SAFETY: as above.
    unsafe { WdfFunctionCount = u32::try_from(ENTRIES).expect("the table fits a ULONG") };
    globals
}

#[test]
fn methods_are_called_through_their_table_entries_with_the_driver_globals() {
    let globals = install();
    let request: WDFREQUEST = ptr::without_provenance_mut(0x1234);

    // SAFETY: the table entry is this test's request_get_status, which accepts any handle.
    let status = unsafe { call_unsafe_wdf_function_binding!(WdfRequestGetStatus, request) };
    assert_eq!(status, 0xC000_0120_u32.cast_signed());
    assert_eq!(SEEN_REQUEST.load(Ordering::SeqCst), 0x1234);
    assert_eq!(SEEN_GLOBALS.load(Ordering::SeqCst), globals);

    let mut lock: WDFSPINLOCK = ptr::null_mut();
    // SAFETY: the table entry is this test's spin_lock_create; `lock` is a valid out pointer.
    let status = unsafe {
        call_unsafe_wdf_function_binding!(WdfSpinLockCreate, ptr::null_mut(), &raw mut lock)
    };
    assert_eq!(status, 0);
    assert_eq!(lock as usize, 0x5150);
    let _: *mut c_void = lock.cast();
}
