//! Reads, writes (cached, non-cached, paging) and set-information through the filter, and the
//! parameter blocks Filter Manager gives the filter for them.

use ferrofilter_core::NtStatus;
use ferrofilter_model::oplock::{CreateParams, access, share};

use super::super::flt::Attached;
use super::super::layout::{FLT_PARAMETERS, FLT_SET_INFORMATION_PARAMETERS, FLT_WRITE_PARAMETERS};
use super::super::{with, with_deferred};
use crate::fs::{CreateRequest, FileObjectId, FileSystem, FsOutcome, StreamKind};

use super::{
    Completed, FILE_BASIC_INFORMATION, FILE_DISPOSITION_INFORMATION, FILE_END_OF_FILE_INFORMATION,
    FILE_RENAME_INFORMATION, IRP_MJ_SET_INFORMATION, IRP_MJ_WRITE, IRP_NOCACHE, IRP_PAGING_IO,
    Operation, Window, below, cancelled_or, file_of_handle, finished, invalid_handle,
    note_stream_contexts, path_of, pend, pend_filtered,
};

/// An `IRP_MJ_WRITE` parameter block for `buffer` at `offset`.
pub(super) fn write_parameters(buffer: &mut [u8], offset: u64) -> FLT_PARAMETERS {
    FLT_PARAMETERS {
        Write: FLT_WRITE_PARAMETERS {
            Length: u32::try_from(buffer.len()).unwrap_or(u32::MAX),
            Pad1: 0,
            Key: 0,
            ByteOffset: i64::try_from(offset).unwrap_or(i64::MAX),
            WriteBuffer: buffer.as_mut_ptr().cast(),
            MdlAddress: core::ptr::null_mut(),
        },
    }
}

/// Sends `data` for `file` (at `path`) through the filter's pre-operation callback, runs `op` in
/// the file system within `window`, and completes it through the post-operation callback: at
/// once, or, when the file system pends it for an oplock acknowledgment, once `resume` has
/// finished it. `after` runs when it has completed, with its status, either way; it owns what
/// the callback data points into, which lives until then.
fn through_filter(
    file: usize,
    path: String,
    mut data: Operation,
    window: Window,
    op: impl FnMut(&mut FileSystem) -> FsOutcome,
    resume: impl FnMut(&mut FileSystem) -> FsOutcome + 'static,
    after: impl FnOnce(NtStatus) + 'static,
) -> Completed {
    let (post, completed) = data.pre(file);
    let mut done = Completed::default();
    let outcome = below(completed, &path, window, &mut done, op);
    if let Some(wait) = outcome.wait {
        pend_filtered(wait, data, post, file, path, window, after, resume);
        return finished(outcome, done);
    }
    data.post(post, file, outcome.status.as_i32());
    let status = outcome.status;
    let done = finished(outcome, done);
    after(status);
    done
}

/// `IRP_MJ_WRITE` through the filter.
#[must_use]
pub fn write(handle: u64, offset: u64, bytes: &[u8], non_cached: bool, step: usize) -> Completed {
    let (flags, window) = if non_cached {
        (IRP_NOCACHE, Window::Purge)
    } else {
        (0, Window::None)
    };
    write_through_filter(
        handle,
        offset,
        bytes,
        flags,
        window,
        |fs, open, bytes| fs.write(open, offset, bytes, non_cached, step),
        move |fs, open, bytes| fs.resume_write(open, offset, bytes, non_cached, step),
    )
}

/// A paging write (`IRP_PAGING_IO | IRP_NOCACHE`) through the filter, as the cache manager's
/// lazy writer or the memory manager's mapped-page writer sends it on the handle's file object.
#[must_use]
pub fn paging_write(handle: u64, offset: u64, bytes: &[u8]) -> Completed {
    let write = move |fs: &mut FileSystem, open, bytes: &[u8]| fs.paging_write(open, offset, bytes);
    write_through_filter(
        handle,
        offset,
        bytes,
        IRP_PAGING_IO | IRP_NOCACHE,
        Window::None,
        write,
        write,
    )
}

/// An `IRP_MJ_WRITE` of `bytes` at `offset` with `irp_flags` on the handle's file object, through
/// the filter ([`through_filter`]), `op` doing it in the file system and `resume` finishing it
/// if the file system pends it.
fn write_through_filter(
    handle: u64,
    offset: u64,
    bytes: &[u8],
    irp_flags: u32,
    window: Window,
    mut op: impl FnMut(&mut FileSystem, FileObjectId, &[u8]) -> FsOutcome,
    mut resume: impl FnMut(&mut FileSystem, FileObjectId, &[u8]) -> FsOutcome + 'static,
) -> Completed {
    let Some((file, open)) = file_of_handle(handle) else {
        return invalid_handle();
    };
    let path = path_of(file);
    let mut buffer = bytes.to_vec();
    let parameters = write_parameters(&mut buffer, offset);
    let mut data = Operation::new(IRP_MJ_WRITE, 0, file, parameters, true);
    data.iopb.IrpFlags |= irp_flags;
    let later = bytes.to_vec();
    through_filter(
        file,
        path,
        data,
        window,
        |fs| op(fs, open, bytes),
        move |fs| resume(fs, open, &later),
        move |_| drop(buffer),
    )
}

/// `IRP_MJ_SET_INFORMATION` through the filter: `FileEndOfFileInformation` for a resize,
/// `FileBasicInformation` otherwise; either goes through the purge window, which a resize needs.
#[must_use]
pub fn set_information(handle: u64, resize: Option<u64>) -> Completed {
    let new_size = resize.unwrap_or(0);
    set_information_class(
        handle,
        if resize.is_some() {
            FILE_END_OF_FILE_INFORMATION
        } else {
            FILE_BASIC_INFORMATION
        },
        new_size.to_le_bytes().to_vec(),
        Window::Purge,
        |fs, open| fs.set_information(open, resize),
        move |fs, open| fs.resume_set_information(open, new_size),
        |_| {},
    )
}

/// `IRP_MJ_SET_INFORMATION` of `class` with `buffer` through the filter, then `op` in the file
/// system, with `window` the data-scan window it opens. When the file system pends it for an
/// oplock acknowledgment, `resume` finishes it later; `after` runs once it has completed, with
/// its status, either way.
pub(super) fn set_information_class(
    handle: u64,
    class: u32,
    mut buffer: Vec<u8>,
    window: Window,
    mut op: impl FnMut(&mut FileSystem, FileObjectId) -> FsOutcome,
    mut resume: impl FnMut(&mut FileSystem, FileObjectId) -> FsOutcome + 'static,
    after: impl FnOnce(NtStatus) + 'static,
) -> Completed {
    let Some((file, open)) = file_of_handle(handle) else {
        return invalid_handle();
    };
    let path = path_of(file);
    let parameters = FLT_PARAMETERS {
        SetFileInformation: FLT_SET_INFORMATION_PARAMETERS {
            Length: u32::try_from(buffer.len()).unwrap_or(u32::MAX),
            Pad1: 0,
            FileInformationClass: class,
            ParentOfTarget: core::ptr::null_mut(),
            Extra: core::ptr::null_mut(),
            InfoBuffer: buffer.as_mut_ptr().cast(),
        },
    };
    let data = Operation::new(IRP_MJ_SET_INFORMATION, 0, file, parameters, true);
    through_filter(
        file,
        path,
        data,
        window,
        |fs| op(fs, open),
        move |fs| resume(fs, open),
        move |status| {
            drop(buffer);
            after(status);
        },
    )
}

/// `FileDispositionInformation` (`DeleteFile` = `delete`) on a handle, through the filter.
#[must_use]
pub fn set_disposition(handle: u64, delete: bool) -> Completed {
    set_information_class(
        handle,
        FILE_DISPOSITION_INFORMATION,
        vec![u8::from(delete)],
        Window::None,
        |fs, open| fs.set_disposition(open, delete),
        move |fs, open| fs.resume_set_disposition(open, delete),
        |_| {},
    )
}

/// `FileRenameInformation` of a handle's file to `target`, through the filter. Once it has
/// succeeded (at once, or when the oplock break it waited for is acknowledged) the volume's own
/// names (file objects, sections, stream identities) follow the stream to its new name; a
/// replaced target's stream goes, with its context.
#[must_use]
pub fn rename(handle: u64, target: &str, replace: bool) -> Completed {
    // FILE_RENAME_INFORMATION: ReplaceIfExists, RootDirectory, FileNameLength, FileName.
    let name: Vec<u8> = target.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut buffer = vec![0u8; 20];
    buffer[0] = u8::from(replace);
    buffer[16..20].copy_from_slice(&u32::try_from(name.len()).unwrap_or(0).to_le_bytes());
    buffer.extend_from_slice(&name);
    let source = file_of_handle(handle).map(|(file, _)| path_of(file));
    let owned = target.to_owned();
    let later = target.to_owned();
    set_information_class(
        handle,
        FILE_RENAME_INFORMATION,
        buffer,
        Window::None,
        |fs, open| fs.rename(open, target, replace),
        move |fs, open| fs.resume_rename(open, &later, replace),
        move |status| {
            if let Some(source) = source
                && status.is_success()
                && status != NtStatus::PENDING
                && source != owned
            {
                renamed(&source, &owned);
            }
        },
    )
}

/// The volume's names follow a renamed stream from `source` to `target`.
fn renamed(source: &str, target: &str) {
    with_deferred(|k, deferred| {
        if let Some(replaced) = k.volume.stream_keys.remove(target) {
            k.flt.detach(Attached::Stream(replaced), deferred);
        }
        if let Some(key) = k.volume.stream_keys.remove(source) {
            k.volume.stream_keys.insert(target.to_owned(), key);
        }
        for path in k.volume.path_of.values_mut().filter(|p| **p == source) {
            target.clone_into(path);
        }
        for (path, _) in k.volume.sections.iter_mut().filter(|(p, _)| *p == source) {
            target.clone_into(path);
        }
        note_stream_contexts(k);
    });
}

/// `IRP_MJ_READ` (cached), which the filter does not register for: Filter Manager passes it
/// straight down.
#[must_use]
pub fn read(handle: u64, offset: u64, length: u32) -> Completed {
    let Some((_, open)) = file_of_handle(handle) else {
        return invalid_handle();
    };
    let outcome = with(|k| k.volume.fs.read(open, offset, length));
    if let Some(wait) = outcome.wait {
        pend(
            wait,
            Box::new(move |cancelled| {
                let outcome = cancelled_or(cancelled, || {
                    with(|k| k.volume.fs.resume_read(open, offset, length))
                });
                finished(outcome, Completed::default())
            }),
        );
    }
    finished(outcome, Completed::default())
}

/// A read by a kernel component that opens a handle of its own on the handle's stream (no ECP,
/// so a key of its own), reads, and closes it below the filter: what a filter that opened its
/// own handle instead of reading through the caller's file object would cause.
#[must_use]
pub fn read_through_own_open(handle: u64, offset: u64, length: u32) -> Completed {
    let Some((file, _)) = file_of_handle(handle) else {
        return invalid_handle();
    };
    let path = path_of(file);
    let request = CreateRequest::new(
        path,
        CreateParams::open(access::FILE_READ_DATA, share::FILE_SHARE_ALL),
        StreamKind::File,
    );
    let (outcome, key) = with(|k| {
        let key = k.volume.unique_key();
        let opened = k.volume.fs.create(&request, key);
        if opened.wait.is_some() {
            return (opened, key);
        }
        (
            read_and_close(&mut k.volume.fs, opened, offset, length),
            key,
        )
    });
    if let Some(wait) = outcome.wait {
        pend(
            wait,
            Box::new(move |cancelled| {
                let outcome = cancelled_or(cancelled, || {
                    with(|k| {
                        let opened = k.volume.fs.resume_create(&request, key);
                        read_and_close(&mut k.volume.fs, opened, offset, length)
                    })
                });
                finished(outcome, Completed::default())
            }),
        );
    }
    finished(outcome, Completed::default())
}

/// The kernel component's read through the open it made, and its close.
pub(super) fn read_and_close(
    fs: &mut FileSystem,
    mut opened: FsOutcome,
    offset: u64,
    length: u32,
) -> FsOutcome {
    let Some(own) = opened.file_object else {
        return opened;
    };
    let read = fs.read(own, offset, length);
    let closed = fs.close(own);
    opened.status = read.status;
    opened.data = read.data;
    opened.breaks.extend(read.breaks);
    opened.closed.extend(read.closed);
    opened.resumed.extend(closed.resumed);
    opened.file_object = None;
    opened
}
