//! Handles and names going: cleanup and close, the FCB settling when nothing references its
//! stream, delete dispositions and renames.

use ferrofilter_core::NtStatus;
use ferrofilter_model::oplock::{Operation, access};

use super::{FileObjectId, FileSystem, FsOutcome, Open, Stream};

impl FileSystem {
    /// `IRP_MJ_CLEANUP` + `IRP_MJ_CLOSE`: share access and oplock go, the handle's held
    /// operations come back to be cancelled.
    pub fn close(&mut self, file_object: FileObjectId) -> FsOutcome {
        let out = self.close_open(file_object, true);
        self.release(file_object);
        out
    }

    /// `IRP_MJ_CLEANUP` alone: the handle goes, the file object stays (see [`Open::cleaned`]).
    pub fn cleanup(&mut self, file_object: FileObjectId) -> FsOutcome {
        self.close_open(file_object, true)
    }

    /// `IRP_MJ_CLOSE` of a cleaned-up open: its last reference is gone.
    pub fn release(&mut self, file_object: FileObjectId) {
        self.opens.remove(&file_object);
    }

    /// The cleanup of one open; `settle` when the stream may go with it (not while another
    /// operation on the stream, which references its FCB, is in progress).
    pub(super) fn close_open(&mut self, file_object: FileObjectId, settle: bool) -> FsOutcome {
        let Some(open) = self
            .opens
            .get_mut(&file_object)
            .filter(|o| !o.cleaned)
            .map(|o| {
                o.cleaned = true;
                o.clone()
            })
        else {
            return FsOutcome::status(NtStatus::INVALID_HANDLE);
        };
        let mut out = FsOutcome::status(NtStatus::SUCCESS);
        let last = settle && self.opens_of(&open.path) == 0;
        if let Some(stream) = self.streams.get_mut(&open.path) {
            stream.oplock.share.close(open.access, open.share);
            stream.oplock.release(file_object);
            out.cancelled = stream
                .purge
                .cancel_where(|held| held.file_object == file_object)
                .into_iter()
                .collect();
            // MS-FSA 2.1.5.5: a delete-on-close handle's close makes the delete file-wide.
            stream.delete_pending |= open.delete_on_close;
            let unlocked = stream.locks.release_owner(file_object);
            out.aborted.extend(unlocked.cancelled);
            out.resumed.extend(unlocked.granted);
        }
        // The waiting caller went away ("Breaking Oplocks": the IRP completes with
        // STATUS_CANCELLED).
        self.waits.retain(|wait| {
            let gone = wait.waiter == Some(file_object);
            if gone {
                out.aborted.push(wait.id);
            }
            !gone
        });
        // "Closing the handle ... will implicitly acknowledge the break."
        out.resumed.extend(self.stop_waiting_for(file_object));
        if last {
            (out.torn_down, out.deleted) = self.settle_stream(&open.path);
        }
        out
    }

    /// A stream none of whose handles is left: a delete-pending one loses its name (fastfat's
    /// cleanup.c) and its FCB; another loses its FCB when nothing else (a section, the cache)
    /// references it, its data staying on the volume. `(torn_down, deleted)`.
    pub(super) fn settle_stream(&mut self, path: &str) -> (bool, bool) {
        let Some(stream) = self.streams.get_mut(path) else {
            return (false, false);
        };
        if stream.delete_pending {
            self.streams.remove(path);
            return (true, true);
        }
        if stream.referenced_without_handles() {
            return (false, false);
        }
        let data = std::mem::take(&mut stream.data);
        *stream = Stream::new(stream.kind);
        stream.data = data;
        (true, false)
    }

    /// What the release of a cleaned-up open's last kernel reference (a section) does to its
    /// stream when no handle of the stream is left.
    pub fn settle_released(&mut self, file_object: FileObjectId) -> FsOutcome {
        let mut out = FsOutcome::status(NtStatus::SUCCESS);
        if let Some(path) = self.opens.get(&file_object).map(|o| o.path.clone())
            && self.opens_of(&path) == 0
        {
            (out.torn_down, out.deleted) = self.settle_stream(&path);
        }
        out
    }

    /// `FileDispositionInformation` through `file_object`: `delete` sets or clears the stream's
    /// delete-pending state (MS-FSA 2.1.5.15.3). Setting it breaks other keys' handle caching
    /// and waits for the acknowledgment ("Checking the Oplock State of an `IRP_MJ_SET_INFORMATION`
    /// operation"): the call pends ([`FsOutcome::wait`]) and [`Self::resume_set_disposition`]
    /// finishes it.
    pub fn set_disposition(&mut self, file_object: FileObjectId, delete: bool) -> FsOutcome {
        let mut out = FsOutcome::default();
        let open = match self.disposition_target(file_object, delete) {
            Ok(open) => open,
            Err(status) => return FsOutcome::status(status),
        };
        if delete && self.pends_for_oplock(&open, file_object, &Operation::Delete, &mut out) {
            return out;
        }
        self.finish_set_disposition(&open.path, delete, out)
    }

    /// The rest of a delete disposition that waited for oplock acknowledgments, validated again
    /// (a section may have been mapped meanwhile).
    pub fn resume_set_disposition(&mut self, file_object: FileObjectId, delete: bool) -> FsOutcome {
        match self.disposition_target(file_object, delete) {
            Ok(open) => self.finish_set_disposition(&open.path, delete, FsOutcome::default()),
            Err(status) => FsOutcome::status(status),
        }
    }

    /// A disposition's checks: `DELETE` access, and no mapped view for a delete
    /// ("either the file is read-only, or there is an existing mapped view to the file",
    /// `FILE_DISPOSITION_INFORMATION_EX`).
    fn disposition_target(
        &mut self,
        file_object: FileObjectId,
        delete: bool,
    ) -> Result<Open, NtStatus> {
        match self.lookup(file_object)? {
            (open, _) if open.access & access::DELETE == 0 => Err(NtStatus::ACCESS_DENIED),
            (_, stream) if delete && stream.user_sections + stream.data_scan_sections > 0 => {
                Err(NtStatus::CANNOT_DELETE)
            }
            (open, _) => Ok(open),
        }
    }

    fn finish_set_disposition(
        &mut self,
        path: &str,
        delete: bool,
        mut out: FsOutcome,
    ) -> FsOutcome {
        if let Some(stream) = self.streams.get_mut(path) {
            stream.delete_pending = delete;
        }
        out.status = NtStatus::SUCCESS;
        out
    }

    /// `FileRenameInformation` through `file_object` to `target` (MS-FSA 2.1.5.15.12): the
    /// stream keeps everything it has (count, held operations, oplocks, opens) under the new name.
    /// The rename breaks other keys' Batch and handle caching and waits for the acknowledgment,
    /// as a delete disposition does ([`Self::resume_rename`]).
    pub fn rename(&mut self, file_object: FileObjectId, target: &str, replace: bool) -> FsOutcome {
        let mut out = FsOutcome::default();
        let open = match self.rename_target(file_object, target, replace) {
            Ok(Some(open)) => open,
            Ok(None) => return FsOutcome::status(NtStatus::SUCCESS),
            Err(status) => return FsOutcome::status(status),
        };
        if self.pends_for_oplock(&open, file_object, &Operation::Rename, &mut out) {
            return out;
        }
        self.finish_rename(&open.path, target, out)
    }

    /// The rest of a rename that waited for oplock acknowledgments, its target checked again
    /// (another handle may have created or opened it meanwhile).
    pub fn resume_rename(
        &mut self,
        file_object: FileObjectId,
        target: &str,
        replace: bool,
    ) -> FsOutcome {
        match self.rename_target(file_object, target, replace) {
            Ok(Some(open)) => self.finish_rename(&open.path, target, FsOutcome::default()),
            Ok(None) => FsOutcome::status(NtStatus::SUCCESS),
            Err(status) => FsOutcome::status(status),
        }
    }

    /// A rename's checks: `DELETE` access on a stream that is not delete-pending, and a target
    /// that is free, or replaceable and not open. `None` when the name is already `target`.
    fn rename_target(
        &mut self,
        file_object: FileObjectId,
        target: &str,
        replace: bool,
    ) -> Result<Option<Open>, NtStatus> {
        let open = match self.lookup(file_object)? {
            (open, _) if open.access & access::DELETE == 0 => return Err(NtStatus::ACCESS_DENIED),
            (_, stream) if stream.delete_pending => return Err(NtStatus::ACCESS_DENIED),
            (open, _) => open,
        };
        if open.path == target {
            return Ok(None);
        }
        if let Some(existing) = self.streams.get(target) {
            if existing.delete_pending {
                return Err(NtStatus::DELETE_PENDING);
            }
            if !replace {
                return Err(NtStatus::OBJECT_NAME_COLLISION);
            }
            if self.opens_of(target) > 0 {
                return Err(NtStatus::ACCESS_DENIED);
            }
        }
        Ok(Some(open))
    }

    fn finish_rename(&mut self, path: &str, target: &str, mut out: FsOutcome) -> FsOutcome {
        if let Some(stream) = self.streams.remove(path) {
            self.streams.insert(target.to_owned(), stream);
            for other in self.opens.values_mut().filter(|o| o.path == path) {
                target.clone_into(&mut other.path);
            }
        }
        out.status = NtStatus::SUCCESS;
        out
    }
}
