//! FSCTLs from above the filter: `FSCTL_SET_PURGE_FAILURE_MODE` (also sent below the filter by
//! another component), `FSCTL_REQUEST_OPLOCK` and its acknowledgments.

use ferrofilter_core::NtStatus;
use ferrofilter_model::fastfat::RequestorMode;
use ferrofilter_model::oplock::OplockLevel;

use super::super::layout::{FLT_FSCTL_BUFFERED_PARAMETERS, FLT_PARAMETERS};
use super::super::with;
use crate::fs::{BreakAction, FileObjectId, FileSystem, FsOutcome, HeldKind};

use super::{
    Completed, FSCTL_REQUEST_OPLOCK, FSCTL_SET_PURGE_FAILURE_MODE, IRP_MJ_FILE_SYSTEM_CONTROL,
    IRP_MN_KERNEL_CALL, IRP_MN_USER_FS_REQUEST, Operation, REQUEST_OPLOCK_CURRENT_VERSION,
    REQUEST_OPLOCK_INPUT_FLAG_ACK, Window, below, cancelled_or, file_of_handle, finished,
    invalid_handle, pend,
};

/// `FSCTL_SET_PURGE_FAILURE_MODE` from above the filter on a handle: the file system counts
/// and re-issues what it held before completing it; then the filter's post-operation callback.
#[must_use]
pub fn set_purge_failure_mode(handle: u64, requestor: RequestorMode, input: &[u8]) -> Completed {
    let Some((file, open)) = file_of_handle(handle) else {
        return invalid_handle();
    };
    purge_failure_mode(file, open, requestor, input)
}

/// `FSCTL_SET_PURGE_FAILURE_MODE` on `file` (the file system's `open`), through the filter.
pub(super) fn purge_failure_mode(
    file: usize,
    open: FileObjectId,
    requestor: RequestorMode,
    input: &[u8],
) -> Completed {
    let mut buffer = input.to_vec();
    let kernel = matches!(requestor, RequestorMode::Kernel);
    let parameters = fsctl_parameters(FSCTL_SET_PURGE_FAILURE_MODE, &mut buffer);
    let minor = if kernel {
        IRP_MN_KERNEL_CALL
    } else {
        IRP_MN_USER_FS_REQUEST
    };
    let mut op = Operation::new(IRP_MJ_FILE_SYSTEM_CONTROL, minor, file, parameters, !kernel);
    let (post, completed) = op.pre(file);
    let mut done = Completed::default();
    let mut reissues_pended = Vec::new();
    let outcome = match completed {
        Some(status) => FsOutcome {
            status: NtStatus::from_i32(status),
            ..FsOutcome::default()
        },
        None => with(|k| {
            let mut outcome = k.volume.fs.set_purge_failure_mode(open, requestor, input);
            // The file system re-issues what it held, oldest first, before completing.
            for held in outcome.released.clone() {
                let again = k.volume.fs.reissue(&held);
                outcome.breaks.extend(again.breaks);
                outcome.closed.extend(again.closed);
                outcome.resumed.extend(again.resumed);
                outcome.aborted.extend(again.aborted);
                if let Some(wait) = again.wait {
                    reissues_pended.push((wait, held.clone()));
                }
                done.reissued.push((held, again.status));
            }
            outcome
        }),
    };
    // A re-issued write is below the filter: only the file system's part is left when it pended.
    for (wait, held) in reissues_pended {
        pend(
            wait,
            Box::new(move |cancelled| {
                let outcome = cancelled_or(cancelled, || {
                    with(|k| {
                        let HeldKind::CachedWrite { offset, data } = &held.kind else {
                            return FsOutcome::default();
                        };
                        k.volume
                            .fs
                            .resume_write(held.file_object, *offset, data, false, held.step)
                    })
                });
                finished(outcome, Completed::default())
            }),
        );
    }
    op.post(post, file, outcome.status.as_i32());
    finished(outcome, done)
}

/// `FSCTL_SET_PURGE_FAILURE_MODE` on a handle's file object sent below the filter, as a component
/// attached lower on the volume sends it (`FltFsControlFile` from its own instance), `repeat`
/// times in a row, applied at once: the filter's callbacks see none of them. Also how many
/// changed the count.
#[must_use]
pub fn set_purge_failure_mode_below(
    handle: u64,
    requestor: RequestorMode,
    input: &[u8],
    repeat: u32,
) -> (Completed, u32) {
    let Some((_, open)) = file_of_handle(handle) else {
        return (invalid_handle(), 0);
    };
    let mut done = Completed::default();
    let (outcome, applied) = with(|k| {
        let (mut outcome, applied) = k
            .volume
            .fs
            .set_purge_failure_mode_repeated(open, requestor, input, repeat);
        for held in outcome.released.clone() {
            let again = k.volume.fs.reissue(&held);
            outcome.breaks.extend(again.breaks);
            outcome.closed.extend(again.closed);
            done.reissued.push((held, again.status));
        }
        (outcome, applied)
    });
    (finished(outcome, done), applied)
}

/// An `IRP_MJ_FILE_SYSTEM_CONTROL` parameter block for a buffered FSCTL with input `buffer`.
pub(super) fn fsctl_parameters(code: u32, buffer: &mut [u8]) -> FLT_PARAMETERS {
    FLT_PARAMETERS {
        FileSystemControl: FLT_FSCTL_BUFFERED_PARAMETERS {
            OutputBufferLength: 0,
            Pad1: 0,
            InputBufferLength: u32::try_from(buffer.len()).unwrap_or(u32::MAX),
            Pad2: 0,
            FsControlCode: code,
            SystemBuffer: if buffer.is_empty() {
                core::ptr::null_mut()
            } else {
                buffer.as_mut_ptr().cast()
            },
        },
    }
}

/// `FSCTL_REQUEST_OPLOCK` from the handle's owner, through the filter (which passes it on).
#[must_use]
pub fn request_oplock(handle: u64, level: OplockLevel, on_break: BreakAction) -> Completed {
    oplock_fsctl(handle, &mut [], |fs, open| {
        fs.request_oplock(open, level, on_break)
    })
}

/// `FSCTL_REQUEST_OPLOCK` with `REQUEST_OPLOCK_INPUT_FLAG_ACK` from the handle's owner,
/// through the filter: acknowledges the break of its oplock to `level` (default the level it
/// broke to); what waited for it goes on.
#[must_use]
pub fn acknowledge(handle: u64, level: Option<OplockLevel>) -> Completed {
    // REQUEST_OPLOCK_INPUT_BUFFER: StructureVersion, StructureLength, RequestedOplockLevel, Flags.
    let mut input = Vec::with_capacity(12);
    input.extend_from_slice(&REQUEST_OPLOCK_CURRENT_VERSION.to_le_bytes());
    input.extend_from_slice(&12u16.to_le_bytes());
    input.extend_from_slice(&level.map_or(0, OplockLevel::caching).to_le_bytes());
    input.extend_from_slice(&REQUEST_OPLOCK_INPUT_FLAG_ACK.to_le_bytes());
    oplock_fsctl(handle, &mut input, |fs, open| fs.acknowledge(open, level))
}

/// An `FSCTL_REQUEST_OPLOCK` with `input` from the handle's owner through the filter, then `op`
/// in the file system (no data-scan window affects it).
fn oplock_fsctl(
    handle: u64,
    input: &mut [u8],
    mut op: impl FnMut(&mut FileSystem, FileObjectId) -> FsOutcome,
) -> Completed {
    let Some((file, open)) = file_of_handle(handle) else {
        return invalid_handle();
    };
    let parameters = fsctl_parameters(FSCTL_REQUEST_OPLOCK, input);
    let mut data = Operation::new(
        IRP_MJ_FILE_SYSTEM_CONTROL,
        IRP_MN_USER_FS_REQUEST,
        file,
        parameters,
        true,
    );
    let (post, completed) = data.pre(file);
    let mut done = Completed::default();
    let outcome = below(completed, "", Window::None, &mut done, |fs| op(fs, open));
    data.post(post, file, outcome.status.as_i32());
    finished(outcome, done)
}
