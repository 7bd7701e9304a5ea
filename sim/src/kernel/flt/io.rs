//! The I/O a filter issues itself (`FltFlushBuffers2`, `FltReadFile`) and generic work items.
#![allow(non_snake_case, reason = "Filter Manager's routine names")]

use core::ffi::c_void;

use super::super::nt::{STATUS_INSUFFICIENT_RESOURCES, STATUS_SUCCESS};
use super::super::wdf::STATUS_INVALID_PARAMETER;
use super::super::{DISPATCH_LEVEL, PASSIVE_LEVEL, Violation, with};

use super::{
    FLT_TAG, FLTFL_IO_OPERATION_DO_NOT_UPDATE_BYTE_OFFSET, FO_SYNCHRONOUS_IO, FilterRead,
    STATUS_END_OF_FILE, STATUS_FILE_CLOSED, STATUS_FLT_DELETING_OBJECT, STATUS_NOT_SUPPORTED,
    WorkItem, WorkRoutine, instance_ok, write_out,
};

/// `FltFlushBuffers2`: flush and purge through the file system.
///
/// # Safety
/// The instance and a referenced file object on its volume.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn FltFlushBuffers2(
    instance: *mut c_void,
    file: *mut c_void,
    _flush_type: u32,
    _data: *mut c_void,
) -> i32 {
    super::super::pool::as_kernel(|| {
        let ok = with(|k| {
            k.enter("FltFlushBuffers2", PASSIVE_LEVEL);
            instance_ok(k, "FltFlushBuffers2", instance)
        });
        if !ok {
            return STATUS_INVALID_PARAMETER;
        }
        super::super::machine::flush_and_purge(file as usize)
    })
}

/// `PFLT_COMPLETED_ASYNC_IO_CALLBACK`.
pub type AsyncIoCallback = unsafe extern "C" fn(*mut c_void, *mut c_void);

/// `FltReadFile`, synchronous only: a read through `file` (a file object of the volume the
/// instance is attached to) as the file system's open of it, so the file system sees that open's
/// oplock key and access. The bytes go to `buffer`, their number to `*bytes_read`.
///
/// - a read that starts at or after the end of the file: `STATUS_END_OF_FILE`, nothing read;
/// - the file system's refusal (`STATUS_ACCESS_DENIED` for an open without read access) as is;
/// - a file object of the volume whose handle was closed: `STATUS_FILE_CLOSED`;
/// - a file object that is not of the volume, a null offset or buffer, a negative offset
///   (`FILE_USE_FILE_POINTER_POSITION` is not modelled): `STATUS_INVALID_PARAMETER`, with a
///   verifier finding for the first two;
/// - a completion callback (an asynchronous read, not modelled): `STATUS_NOT_SUPPORTED`.
///
/// A file object opened for synchronous I/O (`FO_SYNCHRONOUS_IO`) has its `CurrentByteOffset`
/// moved past what was read, unless the caller passes
/// `FLTFL_IO_OPERATION_DO_NOT_UPDATE_BYTE_OFFSET` (the current `FltReadFile` page says so without
/// excepting an explicit `ByteOffset`; older pages of `FltReadFileEx` except it, so the sim takes
/// the stricter reading, under which only the flag keeps the caller's position). Not modelled: an oplock owner that closes its
/// handle in answer to a break the read caused (the file system closes its open; the filter
/// does not see that cleanup).
///
/// # Safety
/// The instance, a referenced file object, a readable offset, `length` writable bytes at
/// `buffer`, a writable `bytes_read` or null.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments, reason = "FltReadFile's signature")]
pub unsafe extern "C" fn FltReadFile(
    instance: *mut c_void,
    file: *mut c_void,
    byte_offset: *const i64,
    length: u32,
    buffer: *mut c_void,
    flags: u32,
    bytes_read: *mut u32,
    callback: Option<AsyncIoCallback>,
    _callback_context: *mut c_void,
) -> i32 {
    super::super::pool::as_kernel(|| {
        // SAFETY: the driver's out pointer (optional).
        unsafe { write_out(bytes_read, 0) };
        let offset = if byte_offset.is_null() {
            None
        } else {
            // SAFETY: a non-null offset the caller passes is readable (caller).
            Some(unsafe { byte_offset.read() })
        };
        let read = with(|k| {
            k.enter("FltReadFile", PASSIVE_LEVEL);
            if !instance_ok(k, "FltReadFile", instance) {
                return Err(STATUS_INVALID_PARAMETER);
            }
            if callback.is_some() {
                return Err(STATUS_NOT_SUPPORTED);
            }
            let file = file as usize;
            let Some(open) = k.volume.open_of.get(&file).copied() else {
                if k.flt.file_streams.contains_key(&file) {
                    return Err(STATUS_FILE_CLOSED);
                }
                k.report(Violation::BadArgument {
                    routine: "FltReadFile",
                    detail: format!("{file:#x} is not a file object of the instance's volume"),
                });
                return Err(STATUS_INVALID_PARAMETER);
            };
            let Some(offset) = offset else {
                k.report(Violation::BadArgument {
                    routine: "FltReadFile",
                    detail: "no ByteOffset (the file object's position is not modelled)".to_owned(),
                });
                return Err(STATUS_INVALID_PARAMETER);
            };
            let Ok(offset) = u64::try_from(offset) else {
                return Err(STATUS_INVALID_PARAMETER);
            };
            if buffer.is_null() && length > 0 {
                k.report(Violation::BadArgument {
                    routine: "FltReadFile",
                    detail: "a null buffer".to_owned(),
                });
                return Err(STATUS_INVALID_PARAMETER);
            }
            if k.fails("FltReadFile") {
                return Err(STATUS_INSUFFICIENT_RESOURCES);
            }
            let outcome = k.volume.fs.read(open, offset, length);
            let mut status = outcome.status.as_i32();
            if status >= 0 && outcome.data.is_empty() && length > 0 {
                // The read started at or after the end of the file.
                status = STATUS_END_OF_FILE;
            }
            let data = if status >= 0 {
                outcome.data.clone()
            } else {
                Vec::new()
            };
            k.flt.reads.push(FilterRead {
                file,
                offset,
                length,
                status,
                outcome,
            });
            Ok((status, data, offset))
        });
        let (status, data, offset) = match read {
            Ok(done) => done,
            Err(status) => return status,
        };
        if status < 0 {
            return status;
        }
        let count = data
            .len()
            .min(usize::try_from(length).unwrap_or(usize::MAX));
        // SAFETY: `buffer` has `length` writable bytes (caller) and `count <= length`; the file
        // system's data is a separate allocation.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), buffer.cast::<u8>(), count) };
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        // SAFETY: the driver's out pointer (optional).
        unsafe { write_out(bytes_read, count) };
        if flags & FLTFL_IO_OPERATION_DO_NOT_UPDATE_BYTE_OFFSET == 0 {
            // SAFETY: a file object of the volume (checked above), allocated by the sim's I/O
            // manager and referenced by the caller, so live; the driver does not touch it during
            // this call.
            let object = unsafe { &mut *file.cast::<super::super::layout::FILE_OBJECT>() };
            if object.Flags & FO_SYNCHRONOUS_IO != 0 {
                object.CurrentByteOffset =
                    i64::try_from(offset.saturating_add(u64::from(count))).unwrap_or(i64::MAX);
            }
        }
        status
    })
}

/// A test's view of the file object behind one of the caller's handles: marks it opened for
/// synchronous I/O (as a `CreateFileW` without `FILE_FLAG_OVERLAPPED` does) with its position at
/// `position`. Returns the file object, or `None` for a handle that is not a file of the volume.
pub fn open_synchronously(handle: u64, position: i64) -> Option<usize> {
    with(|k| {
        let file = k.io.handle(handle)?.file;
        k.volume.open_of.get(&file)?;
        // SAFETY: a live file object of the volume (its handle is open), owned by the I/O
        // manager's table; nothing else touches it while the kernel's state is borrowed.
        let object = unsafe { &mut *(file as *mut super::super::layout::FILE_OBJECT) };
        object.Flags |= FO_SYNCHRONOUS_IO;
        object.CurrentByteOffset = position;
        Some(file)
    })
}

/// The `CurrentByteOffset` of the file object behind one of the caller's handles.
#[must_use]
pub fn byte_offset(handle: u64) -> Option<i64> {
    with(|k| {
        let file = k.io.handle(handle)?.file;
        k.io.file(file)?;
        // SAFETY: a live file object (its handle is open), read while the kernel's state is
        // borrowed.
        let object = unsafe { &*(file as *const super::super::layout::FILE_OBJECT) };
        Some(object.CurrentByteOffset)
    })
}

/// `FltAllocateGenericWorkItem`.
#[unsafe(no_mangle)]
pub extern "C" fn FltAllocateGenericWorkItem() -> *mut c_void {
    super::super::pool::as_kernel(|| {
        with(|k| {
            k.enter("FltAllocateGenericWorkItem", DISPATCH_LEVEL);
            if k.fails("FltAllocateGenericWorkItem") {
                return core::ptr::null_mut();
            }
            k.flt.next_item += 1;
            let handle = FLT_TAG | 0x20_0000 | k.flt.next_item;
            k.flt.work_items.insert(handle, WorkItem { queued: None });
            handle as *mut c_void
        })
    })
}

/// `FltQueueGenericWorkItem`.
///
/// # Safety
/// An allocated work item, a filter or instance, a routine.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn FltQueueGenericWorkItem(
    item: *mut c_void,
    object: *mut c_void,
    routine: Option<WorkRoutine>,
    _queue_type: i32,
    context: *mut c_void,
) -> i32 {
    super::super::pool::as_kernel(|| {
        with(|k| {
            k.enter("FltQueueGenericWorkItem", DISPATCH_LEVEL);
            let Some(routine) = routine else {
                return STATUS_INVALID_PARAMETER;
            };
            if k.fails("FltQueueGenericWorkItem") {
                return STATUS_FLT_DELETING_OBJECT;
            }
            match k.flt.work_items.get_mut(&(item as usize)) {
                Some(work) if work.queued.is_none() => {
                    work.queued = Some((routine, object as usize, context as usize));
                    k.flt.queue.push_back(item as usize);
                    STATUS_SUCCESS
                }
                _ => {
                    k.report(Violation::UseAfterFree {
                        routine: "FltQueueGenericWorkItem",
                        handle: format!("{item:p}"),
                    });
                    STATUS_INVALID_PARAMETER
                }
            }
        })
    })
}

/// `FltFreeGenericWorkItem`.
///
/// # Safety
/// A work item from `FltAllocateGenericWorkItem`, not queued or already run.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn FltFreeGenericWorkItem(item: *mut c_void) {
    super::super::pool::as_kernel(|| {
        with(|k| {
            k.enter("FltFreeGenericWorkItem", DISPATCH_LEVEL);
            if k.flt.work_items.remove(&(item as usize)).is_none() {
                k.report(Violation::UseAfterFree {
                    routine: "FltFreeGenericWorkItem",
                    handle: format!("{item:p}"),
                });
            }
        });
    });
}
