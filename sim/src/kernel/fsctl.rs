//! `FltFsControlFile`: an FSCTL a filter sends through one of its file objects to the file
//! system below its instance.
//!
//! The driver never calls it; it is here so that a filter that does is run, and caught, rather
//! than failing to link. Only Filter Manager may send `FSCTL_SET_PURGE_FAILURE_MODE` (REFERENCE
//! §5: it issues balanced ENABLED / DISABLED pairs around its data-scan sections): a filter
//! sending it is reported ([`Violation::FilterIssuedPurgeFailureMode`]) and the FSCTL still
//! reaches the file system, which counts it as it would on Windows. It starts below the
//! initiating instance, so the filter's own FSCTL callbacks do not see it and its mirror of the
//! count diverges from the file system's. The sim's file system knows no other FSCTL from a
//! filter: any other code is `STATUS_INVALID_DEVICE_REQUEST`.
#![allow(non_snake_case, reason = "Filter Manager's routine name")]

use core::ffi::c_void;

use ferrofilter_core::NtStatus;
use ferrofilter_model::fastfat::RequestorMode;

use super::flt::{FilterManager, STATUS_FILE_CLOSED};
use super::wdf::STATUS_INVALID_PARAMETER;
use super::{Kernel, PASSIVE_LEVEL, Violation, with};

/// `FSCTL_SET_PURGE_FAILURE_MODE`: `CTL_CODE(FILE_DEVICE_FILE_SYSTEM, 156, METHOD_BUFFERED,
/// FILE_ANY_ACCESS)` (REFERENCE §5).
pub const FSCTL_SET_PURGE_FAILURE_MODE: u32 = 0x0009_0270;

const ROUTINE: &str = "FltFsControlFile";

/// `FltFsControlFile` (fltKernel.h), synchronous: `FsControlCode` with `InputBufferLength`
/// bytes at `InputBuffer` on `FileObject`, sent below `Instance`. `*LengthReturned` is 0 (the
/// one FSCTL the sim's file system takes from here has no output).
///
/// A stale instance is `STATUS_INVALID_PARAMETER` with a use-after-free finding; a file object
/// whose handle closed `STATUS_FILE_CLOSED`; one that is not of the volume, or a null input with
/// a length, `STATUS_INVALID_PARAMETER` with a finding; otherwise the file system's status.
///
/// # Safety
/// `input` is null or `input_length` readable bytes; `length_returned` is writable or null.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments, reason = "FltFsControlFile's signature")]
pub unsafe extern "C" fn FltFsControlFile(
    instance: *mut c_void,
    file_object: *mut c_void,
    code: u32,
    input: *mut c_void,
    input_length: u32,
    _output: *mut c_void,
    _output_length: u32,
    length_returned: *mut u32,
) -> i32 {
    super::pool::as_kernel(|| {
        if !length_returned.is_null() {
            // SAFETY: a non-null `LengthReturned` is writable (caller).
            unsafe { length_returned.write(0) };
        }
        let length = usize::try_from(input_length).unwrap_or(usize::MAX);
        // Borrowed, not copied: a kernel routine allocates nothing outside the kernel's state (what
        // is allocated there while the driver's code runs is the driver's pool).
        let bytes: Option<&[u8]> = if input.is_null() || length == 0 {
            None
        } else {
            // SAFETY: a non-null input is `input_length` readable bytes (caller), which the caller
            // neither frees nor writes during this synchronous call.
            Some(unsafe { core::slice::from_raw_parts(input.cast::<u8>(), length) })
        };
        with(|k| {
            k.enter(ROUTINE, PASSIVE_LEVEL);
            let (_, _, live_instance) = FilterManager::handles();
            if instance as usize != live_instance || k.flt.registration.is_none() {
                k.report(Violation::UseAfterFree {
                    routine: ROUTINE,
                    handle: format!("{instance:p}"),
                });
                return STATUS_INVALID_PARAMETER;
            }
            if code != FSCTL_SET_PURGE_FAILURE_MODE {
                return NtStatus::INVALID_DEVICE_REQUEST.as_i32();
            }
            k.report(Violation::FilterIssuedPurgeFailureMode);
            if bytes.is_none() && length != 0 {
                k.report(Violation::BadArgument {
                    routine: ROUTINE,
                    detail: "a null input buffer with a length".to_owned(),
                });
                return STATUS_INVALID_PARAMETER;
            }
            send_below(k, file_object as usize, bytes.unwrap_or_default())
        })
    })
}

/// `FSCTL_SET_PURGE_FAILURE_MODE` from kernel mode on `file`, to the file system alone: no
/// filter callback runs. The file system re-issues what the FSCTL released before completing,
/// as it does for Filter Manager's own; the opens an oplock break there asks to close are not
/// closed (nothing above answers a break during a filter's FSCTL here).
fn send_below(k: &mut Kernel, file: usize, input: &[u8]) -> i32 {
    let Some(open) = k.volume.open_of.get(&file).copied() else {
        if k.flt.file_streams.contains_key(&file) {
            return STATUS_FILE_CLOSED;
        }
        k.report(Violation::BadArgument {
            routine: ROUTINE,
            detail: format!("{file:#x} is not a file object of the instance's volume"),
        });
        return STATUS_INVALID_PARAMETER;
    };
    let outcome = k
        .volume
        .fs
        .set_purge_failure_mode(open, RequestorMode::Kernel, input);
    for held in &outcome.released {
        let _ = k.volume.fs.reissue(held);
    }
    outcome.status.as_i32()
}
