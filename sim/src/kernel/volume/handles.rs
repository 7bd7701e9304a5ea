//! Handles closing (`IRP_MJ_CLEANUP` / `IRP_MJ_CLOSE` through the filter) and the sections that
//! keep file objects after them: user mappings and Filter Manager's data-scan sections.

use ferrofilter_core::NtStatus;
use ferrofilter_model::fastfat::RequestorMode;

use super::super::flt::Attached;
use super::super::layout::FLT_PARAMETERS;
use super::super::{with, with_deferred};
use crate::fs::{FileObjectId, FsOutcome};

use super::fsctl::purge_failure_mode;
use super::{
    Completed, IRP_MJ_CLEANUP, Operation, SET_PURGE_FAILURE_MODE_DISABLED,
    SET_PURGE_FAILURE_MODE_ENABLED, file_of_handle, finished, invalid_handle, note_stream_contexts,
    run_pended,
};

/// `CloseHandle`: `IRP_MJ_CLEANUP` through the filter, then the file system's cleanup and
/// close; the file object goes when its last reference does, and the stream's context when the
/// file system has no open of the stream left.
#[must_use]
pub fn close(handle: u64) -> Completed {
    let Some((file, open)) = file_of_handle(handle) else {
        return invalid_handle();
    };
    close_file(file, open, Some(handle), true)
}

/// The close of `file` (the file system's `open`), through its `handle` when it still has one;
/// `fs_close` when the file system has not closed the open itself (an owner that closes in
/// answer to a break was closed by the file system first).
pub(super) fn close_file(
    file: usize,
    open: FileObjectId,
    handle: Option<u64>,
    fs_close: bool,
) -> Completed {
    let parameters = FLT_PARAMETERS {
        Others: [core::ptr::null_mut(); 6],
    };
    let mut op = Operation::new(IRP_MJ_CLEANUP, 0, file, parameters, true);
    let (post, _) = op.pre(file);
    let path = with(|k| k.volume.path_of.get(&file).cloned());
    let mut outcome = if fs_close {
        with(|k| k.volume.fs.cleanup(open))
    } else {
        FsOutcome::default()
    };
    // The closing caller's own pended operations complete while its file object is alive.
    let aborted = run_pended(&std::mem::take(&mut outcome.aborted), true);
    op.post(post, file, 0);
    with_deferred(|k, deferred| {
        if let Some(handle) = handle {
            let _ = k.io.remove_handle(handle);
        }
        // A data-scan section keeps its file object, and the file system's open of it, for
        // the section's own close (FltCloseSectionForDataScan, then DISABLED on it).
        if !k.volume.sections.iter().any(|(_, f)| *f == file) {
            k.volume.fs.release(open);
            k.volume.file_of.remove(&open);
            k.volume.open_of.remove(&file);
        }
        // IRP_MJ_CLOSE once nothing else references the file object; Filter Manager deletes
        // the stream-handle context then. The sim closes it with the handle.
        k.flt.detach(Attached::Handle(file), deferred);
        // Filter Manager frees a stream context with the stream's FCB, which the file system
        // tears down when nothing (handle, section, cache) references it, or with its name.
        if let Some(path) = &path
            && outcome.torn_down
        {
            let stream = k.volume.stream_key(path);
            k.flt.detach(Attached::Stream(stream), deferred);
            if outcome.deleted {
                // A new file of the same name is a new stream.
                k.volume.stream_keys.remove(path);
            }
        }
        if k.io.dereference(file) == Some(0) {
            k.volume.path_of.remove(&file);
        }
        note_stream_contexts(k);
    });
    finished(
        outcome,
        Completed {
            resumed: aborted,
            ..Completed::default()
        },
    )
}

/// Maps (`true`) or unmaps a user section of the handle's stream.
#[must_use]
pub fn user_section(handle: u64, map: bool) -> Completed {
    let Some((_, open)) = file_of_handle(handle) else {
        return invalid_handle();
    };
    let status = with(|k| k.volume.fs.map_section(open, false, map));
    finished(
        FsOutcome {
            status: status.err().unwrap_or(NtStatus::SUCCESS),
            ..FsOutcome::default()
        },
        Completed::default(),
    )
}

/// Filter Manager creates a section for data scanning (`FltCreateSectionForDataScan`) on the
/// handle's stream: `FSCTL_SET_PURGE_FAILURE_MODE` ENABLED first, through the filter, then the
/// section.
#[must_use]
pub fn begin_data_scan(handle: u64) -> Completed {
    let Some((file, open)) = file_of_handle(handle) else {
        return invalid_handle();
    };
    let mut done = purge_failure_mode(
        file,
        open,
        RequestorMode::Kernel,
        &SET_PURGE_FAILURE_MODE_ENABLED.to_le_bytes(),
    );
    if done.status < 0 {
        return done;
    }
    let mapped = with(|k| {
        let mapped = k.volume.fs.map_section(open, true, true);
        if mapped.is_ok() {
            let path = k.volume.path_of.get(&file).cloned().unwrap_or_default();
            k.volume.sections.push((path, file));
            // The section references the file object it was created through.
            let _ = k.io.reference(file);
        }
        mapped
    });
    if let Err(status) = mapped {
        done.status = status.as_i32();
    }
    done
}

/// Filter Manager closes the data-scan section it created through the handle's file object,
/// then sends DISABLED. `STATUS_NOT_FOUND` when there is none (a retry already closed it).
#[must_use]
pub fn end_data_scan(handle: u64) -> Completed {
    let Some((file, _)) = file_of_handle(handle) else {
        return invalid_handle();
    };
    close_section(file)
}

/// Filter Manager closes the data-scan section it created through `file`, then sends DISABLED
/// on it; the file object's handle may have closed before. `STATUS_NOT_FOUND` when there is none.
#[must_use]
pub fn end_section(file: usize) -> Completed {
    close_section(file)
}

pub(super) fn close_section(file: usize) -> Completed {
    let open = with(|k| {
        let at = k.volume.sections.iter().position(|(_, f)| *f == file)?;
        k.volume.sections.remove(at);
        let open = *k.volume.open_of.get(&file)?;
        // Unmapping cannot fail: the section was mapped through this file object.
        let _ = k.volume.fs.map_section(open, true, false);
        Some(open)
    });
    let Some(open) = open else {
        return Completed {
            status: super::super::flt::STATUS_NOT_FOUND,
            ..Completed::default()
        };
    };
    let done = purge_failure_mode(
        file,
        open,
        RequestorMode::Kernel,
        &SET_PURGE_FAILURE_MODE_DISABLED.to_le_bytes(),
    );
    // The section's reference goes; a file object whose handle closed first goes with it.
    with_deferred(|k, deferred| {
        let handle_open = k.io.handle_of(file).is_some();
        let other_section = k.volume.sections.iter().any(|(_, f)| *f == file);
        if !handle_open && !other_section {
            let outcome = k.volume.fs.settle_released(open);
            k.volume.fs.release(open);
            k.volume.file_of.remove(&open);
            k.volume.open_of.remove(&file);
            if let Some(path) = k.volume.path_of.get(&file).cloned()
                && outcome.torn_down
            {
                let stream = k.volume.stream_key(&path);
                k.flt.detach(Attached::Stream(stream), deferred);
                if outcome.deleted {
                    k.volume.stream_keys.remove(&path);
                }
            }
        }
        if k.io.dereference(file) == Some(0) {
            k.volume.path_of.remove(&file);
        }
        note_stream_contexts(k);
    });
    done
}

/// `FltFlushBuffers2` with `FLT_FLUSH_TYPE_FLUSH_AND_PURGE` on a file object of the volume.
pub(crate) fn flush_and_purge(k: &mut super::super::Kernel, file: usize) -> i32 {
    let Some(&open) = k.volume.open_of.get(&file) else {
        // A file object whose handle closed: its stream is still there while it is referenced,
        // but the sim's file system only knows open handles.
        return super::super::flt::STATUS_NOT_FOUND;
    };
    let outcome = k.volume.fs.flush_and_purge(open);
    let status = outcome.status.as_i32();
    k.volume.flushed.push((open, outcome));
    status
}

/// References on `file` that are not its handle's: what the driver holds (a held purge
/// request's token owns one).
#[must_use]
pub fn driver_references(k: &super::super::Kernel, file: usize) -> u32 {
    let Some(object) = k.io.file(file) else {
        return 0;
    };
    let handles = u32::from(k.io.handle_of(file).is_some());
    let sections = k.volume.sections.iter().filter(|(_, f)| *f == file).count();
    object
        .refs
        .saturating_sub(handles)
        .saturating_sub(u32::try_from(sections).unwrap_or(u32::MAX))
}
