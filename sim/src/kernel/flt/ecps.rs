//! ECP lists as Filter Manager hands them to a filter: walking them and telling user-mode ones
//! apart.
#![allow(non_snake_case, reason = "Filter Manager's routine names")]

use core::ffi::c_void;

use super::super::layout::{FLT_CALLBACK_DATA, GUID};
use super::super::nt::STATUS_SUCCESS;
use super::super::{APC_LEVEL, DISPATCH_LEVEL, Violation, with};

use super::{STATUS_NOT_FOUND, filter_ok, write_out};

/// `FltGetEcpListFromCallbackData`.
///
/// # Safety
/// The filter, a callback data Filter Manager passed, a writable out pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn FltGetEcpListFromCallbackData(
    filter: *mut c_void,
    data: *mut FLT_CALLBACK_DATA,
    list: *mut *mut c_void,
) -> i32 {
    super::super::pool::as_kernel(|| {
        let found = with(|k| {
            k.enter("FltGetEcpListFromCallbackData", APC_LEVEL);
            if !filter_ok(k, "FltGetEcpListFromCallbackData", filter) {
                return None;
            }
            k.flt.ecp_of_data.get(&(data as usize)).copied()
        });
        // SAFETY: the driver's out pointer.
        unsafe { write_out(list, found.unwrap_or(0) as *mut c_void) };
        STATUS_SUCCESS
    })
}

/// `FltGetNextExtraCreateParameter`.
///
/// # Safety
/// A list from `FltGetEcpListFromCallbackData`; the out pointers are writable or null.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn FltGetNextExtraCreateParameter(
    filter: *mut c_void,
    list: *mut c_void,
    current: *mut c_void,
    ecp_type: *mut GUID,
    context: *mut *mut c_void,
    size: *mut u32,
) -> i32 {
    super::super::pool::as_kernel(|| {
        let next = with(|k| {
            k.enter("FltGetNextExtraCreateParameter", APC_LEVEL);
            if !filter_ok(k, "FltGetNextExtraCreateParameter", filter) {
                return None;
            }
            let Some((ecps, live)) = k.flt.ecp_lists.get(&(list as usize)) else {
                k.report(Violation::EcpUseAfterFree { list: list as u64 });
                return None;
            };
            if !*live {
                k.report(Violation::EcpUseAfterFree { list: list as u64 });
                return None;
            }
            let position = if current.is_null() {
                0
            } else {
                ecps.iter().position(|e| e.address() == current as usize)? + 1
            };
            ecps.get(position)
                .map(|ecp| (ecp.ecp_type, ecp.address(), ecp.size))
        });
        let Some((kind, address, length)) = next else {
            return STATUS_NOT_FOUND;
        };
        // SAFETY: the driver's out pointers.
        unsafe { write_out(ecp_type, kind) };
        // SAFETY: as above.
        unsafe { write_out(context, address as *mut c_void) };
        // SAFETY: as above.
        unsafe { write_out(size, u32::try_from(length).unwrap_or(u32::MAX)) };
        STATUS_SUCCESS
    })
}

/// `FltIsEcpFromUserMode`.
///
/// # Safety
/// An ECP context pointer from `FltGetNextExtraCreateParameter`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn FltIsEcpFromUserMode(filter: *mut c_void, context: *mut c_void) -> u8 {
    super::super::pool::as_kernel(|| {
        with(|k| {
            k.enter("FltIsEcpFromUserMode", DISPATCH_LEVEL);
            if !filter_ok(k, "FltIsEcpFromUserMode", filter) {
                return 0;
            }
            let from_user = k.flt.ecp_lists.values().find_map(|(ecps, _)| {
                ecps.iter()
                    .find(|e| e.address() == context as usize)
                    .map(|e| e.from_user_mode)
            });
            u8::from(from_user.unwrap_or(false))
        })
    })
}
