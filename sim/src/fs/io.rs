//! Reads, writes (cached, non-cached and paging), set-information, `FSCTL_SET_PURGE_FAILURE_MODE`
//! and the cache purges and mapped sections they meet.

use ferrofilter_core::NtStatus;
use ferrofilter_core::purge::PurgeOp;
use ferrofilter_model::fastfat::{OpenKind, RequestorMode, validate_set_purge_failure_mode};
use ferrofilter_model::oplock::{Operation, access};

use crate::purge_mode::PurgeAnswer;

use super::{
    FileObjectId, FileSystem, FsOutcome, HeldIo, HeldKind, Stream, StreamKind, WRITE_ACCESS,
};

impl FileSystem {
    /// `IRP_MJ_READ` (cached) through `file_object`; pends like a create
    /// ([`Self::resume_read`]).
    pub fn read(&mut self, file_object: FileObjectId, offset: u64, length: u32) -> FsOutcome {
        let mut out = FsOutcome::default();
        let path = match self.lookup(file_object) {
            Ok((open, _)) if open.access & (access::FILE_READ_DATA | access::FILE_EXECUTE) == 0 => {
                return FsOutcome::status(NtStatus::ACCESS_DENIED);
            }
            Ok((open, _)) => {
                if self.pends_for_oplock(&open, file_object, &Operation::Read, &mut out) {
                    return out;
                }
                open.path
            }
            Err(status) => return FsOutcome::status(status),
        };
        Self::finish_read(
            self.streams.get_mut(&path),
            file_object,
            offset,
            length,
            out,
        )
    }

    /// The rest of a read that waited for oplock acknowledgments.
    pub fn resume_read(
        &mut self,
        file_object: FileObjectId,
        offset: u64,
        length: u32,
    ) -> FsOutcome {
        match self.lookup(file_object) {
            Ok((_, stream)) => Self::finish_read(
                Some(stream),
                file_object,
                offset,
                length,
                FsOutcome::default(),
            ),
            Err(status) => FsOutcome::status(status),
        }
    }

    pub(super) fn finish_read(
        stream: Option<&mut Stream>,
        file_object: FileObjectId,
        offset: u64,
        length: u32,
        mut out: FsOutcome,
    ) -> FsOutcome {
        let Some(stream) = stream else {
            return FsOutcome::status(NtStatus::FILE_CLOSED);
        };
        // After the oplock check, as fastfat's read.c does it; reads carry key 0.
        if stream
            .locks
            .io_conflicts(file_object, 0, offset, u64::from(length), false)
        {
            out.status = NtStatus::FILE_LOCK_CONFLICT;
            return out;
        }
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(stream.data.len());
        let end = start
            .saturating_add(usize::try_from(length).unwrap_or(usize::MAX))
            .min(stream.data.len());
        out.data = stream.data[start..end].to_vec();
        stream.cached = true;
        out.status = NtStatus::SUCCESS;
        out
    }

    /// `IRP_MJ_WRITE` through `file_object`. `step` names the operation if it is held.
    pub fn write(
        &mut self,
        file_object: FileObjectId,
        offset: u64,
        data: &[u8],
        non_cached: bool,
        step: usize,
    ) -> FsOutcome {
        let mut out = FsOutcome::default();
        let open = match self.lookup(file_object) {
            Ok((open, _)) if open.access & WRITE_ACCESS == 0 => {
                return FsOutcome::status(NtStatus::ACCESS_DENIED);
            }
            Ok((open, _)) => open,
            Err(status) => return FsOutcome::status(status),
        };
        if self.pends_for_oplock(
            &open,
            file_object,
            &Operation::Write { paging: false },
            &mut out,
        ) {
            return out;
        }
        self.finish_write(file_object, &open.path, offset, data, non_cached, step, out)
    }

    /// The rest of a write that waited for oplock acknowledgments.
    pub fn resume_write(
        &mut self,
        file_object: FileObjectId,
        offset: u64,
        data: &[u8],
        non_cached: bool,
        step: usize,
    ) -> FsOutcome {
        self.resume(file_object, |fs, path| {
            fs.finish_write(
                file_object,
                path,
                offset,
                data,
                non_cached,
                step,
                FsOutcome::default(),
            )
        })
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "a write's parameters and what it did so far"
    )]
    pub(super) fn finish_write(
        &mut self,
        file_object: FileObjectId,
        path: &str,
        offset: u64,
        data: &[u8],
        non_cached: bool,
        step: usize,
        mut out: FsOutcome,
    ) -> FsOutcome {
        let id = self.next_held_id();
        let Some(stream) = self.streams.get_mut(path) else {
            return FsOutcome::status(NtStatus::FILE_CLOSED);
        };
        // After the oplock check and before any purge, as fastfat's write.c does it.
        if stream
            .locks
            .io_conflicts(file_object, 0, offset, data.len() as u64, true)
        {
            out.status = NtStatus::FILE_LOCK_CONFLICT;
            return out;
        }
        let needs_purge = non_cached || stream.data_scan_sections > 0;
        if needs_purge && let Err(failure) = stream.try_purge() {
            let token = HeldIo {
                id,
                file_object,
                step,
                kind: HeldKind::CachedWrite {
                    offset,
                    data: data.to_vec(),
                },
            };
            match stream
                .purge
                .on_purge_failure(PurgeOp::Write { non_cached }, token, failure)
            {
                PurgeAnswer::Held => {
                    out.held = true;
                    out.status = NtStatus::PENDING;
                }
                PurgeAnswer::Complete(status, _) => {
                    out.status = status;
                }
            }
            return out;
        }
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let end = start.saturating_add(data.len());
        if end > stream.data.len() {
            stream.data.resize(end, 0);
        }
        stream.data[start..end].copy_from_slice(data);
        if !non_cached {
            stream.cached = true;
        }
        out.status = NtStatus::SUCCESS;
        out
    }

    /// A paging write through `file_object`: no oplock check and no purge (the write comes from
    /// the cache or a mapped view itself), and it never extends the file: past the end it writes
    /// nothing, across the end it is trimmed (fastfat's write.c, "`PagingIo` is never allowed to
    /// extend file size").
    pub fn paging_write(
        &mut self,
        file_object: FileObjectId,
        offset: u64,
        data: &[u8],
    ) -> FsOutcome {
        let stream = match self.lookup_any(file_object) {
            Ok((_, stream)) => stream,
            Err(status) => return FsOutcome::status(status),
        };
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        if start < stream.data.len() {
            let end = start.saturating_add(data.len()).min(stream.data.len());
            stream.data[start..end].copy_from_slice(&data[..end - start]);
        }
        FsOutcome::status(NtStatus::SUCCESS)
    }

    /// `IRP_MJ_SET_INFORMATION`. `resize` is `Some(new size)` for `EndOfFile` / `Allocation`,
    /// which purge and break oplocks like a write; `None` for a class that does neither.
    pub fn set_information(&mut self, file_object: FileObjectId, resize: Option<u64>) -> FsOutcome {
        let mut out = FsOutcome::default();
        let open = match self.lookup(file_object) {
            Ok((open, _)) => open,
            Err(status) => return FsOutcome::status(status),
        };
        let Some(size) = resize else {
            return FsOutcome::status(NtStatus::SUCCESS);
        };
        if open.access & access::FILE_WRITE_DATA == 0 {
            return FsOutcome::status(NtStatus::ACCESS_DENIED);
        }
        if self.pends_for_oplock(
            &open,
            file_object,
            &Operation::Write { paging: false },
            &mut out,
        ) {
            return out;
        }
        self.finish_set_information(file_object, &open.path, size, out)
    }

    /// The rest of a resize that waited for oplock acknowledgments.
    pub fn resume_set_information(&mut self, file_object: FileObjectId, size: u64) -> FsOutcome {
        self.resume(file_object, |fs, path| {
            fs.finish_set_information(file_object, path, size, FsOutcome::default())
        })
    }

    pub(super) fn finish_set_information(
        &mut self,
        file_object: FileObjectId,
        path: &str,
        size: u64,
        mut out: FsOutcome,
    ) -> FsOutcome {
        let Some(stream) = self.streams.get_mut(path) else {
            return FsOutcome::status(NtStatus::FILE_CLOSED);
        };
        if let Err(failure) = stream.try_purge() {
            let token = HeldIo {
                id: 0,
                file_object,
                step: 0,
                kind: HeldKind::PurgeRequest,
            };
            out.status =
                match stream
                    .purge
                    .on_purge_failure(PurgeOp::SetInformation, token, failure)
                {
                    PurgeAnswer::Complete(status, _) => status,
                    PurgeAnswer::Held => NtStatus::PENDING,
                };
            return out;
        }
        stream
            .data
            .resize(usize::try_from(size).unwrap_or(usize::MAX).min(1 << 20), 0);
        out.status = NtStatus::SUCCESS;
        out
    }

    /// `FSCTL_SET_PURGE_FAILURE_MODE`, validated in fastfat's order, then counted.
    pub fn set_purge_failure_mode(
        &mut self,
        file_object: FileObjectId,
        requestor: RequestorMode,
        input: &[u8],
    ) -> FsOutcome {
        self.set_purge_failure_mode_repeated(file_object, requestor, input, 1)
            .0
    }

    /// The same FSCTL `repeat` times in a row, applied at once (a count near `MAXULONG` without
    /// four billion calls); also how many changed the count.
    pub fn set_purge_failure_mode_repeated(
        &mut self,
        file_object: FileObjectId,
        requestor: RequestorMode,
        input: &[u8],
        repeat: u32,
    ) -> (FsOutcome, u32) {
        let (_, stream) = match self.lookup_any(file_object) {
            Ok(found) => found,
            Err(status) => return (FsOutcome::status(status), 0),
        };
        let kind = match stream.kind {
            StreamKind::File => OpenKind::UserFile,
            StreamKind::Directory => OpenKind::UserDirectory,
            StreamKind::Volume => OpenKind::Other,
        };
        let change = match validate_set_purge_failure_mode(requestor, kind, input) {
            Ok(change) => change,
            Err(status) => return (FsOutcome::status(status), 0),
        };
        let run = stream.purge.apply(change, repeat);
        (
            FsOutcome {
                status: run.status,
                released: run.released,
                ..FsOutcome::default()
            },
            run.applied,
        )
    }

    /// Re-issues a write the file system held.
    pub fn reissue(&mut self, held: &HeldIo) -> FsOutcome {
        match &held.kind {
            HeldKind::CachedWrite { offset, data } => {
                self.write(held.file_object, *offset, data, false, held.step)
            }
            HeldKind::PurgeRequest => FsOutcome::status(NtStatus::INVALID_DEVICE_REQUEST),
        }
    }

    /// Flush + purge of the stream's cache through `file_object` (the filter's purge request).
    /// Reports the file system's own failure; the caller applies the policy.
    pub fn flush_and_purge(&mut self, file_object: FileObjectId) -> FsOutcome {
        match self.lookup(file_object) {
            Ok((_, stream)) => FsOutcome::status(match stream.try_purge() {
                Ok(()) => NtStatus::SUCCESS,
                Err(status) => status,
            }),
            Err(status) => FsOutcome::status(status),
        }
    }

    /// Maps (`true`) or unmaps a section of the stream behind `file_object`.
    ///
    /// # Errors
    /// `STATUS_FILE_CLOSED` for an unknown file object, `STATUS_INVALID_PARAMETER` when unmapping
    /// what is not mapped.
    pub fn map_section(
        &mut self,
        file_object: FileObjectId,
        data_scan: bool,
        map: bool,
    ) -> Result<(), NtStatus> {
        let (_, stream) = self.lookup_any(file_object)?;
        let field = if data_scan {
            &mut stream.data_scan_sections
        } else {
            &mut stream.user_sections
        };
        *field = if map {
            field.saturating_add(1)
        } else {
            field.checked_sub(1).ok_or(NtStatus::INVALID_PARAMETER)?
        };
        Ok(())
    }
}
