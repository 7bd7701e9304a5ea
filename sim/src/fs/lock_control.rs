//! `IRP_MJ_LOCK_CONTROL`: byte-range locks and unlocks after their validation and oplock check
//! (the lock table itself is [`crate::byte_range_locks`]).

use ferrofilter_core::NtStatus;
use ferrofilter_model::oplock::{Operation, access};

use crate::byte_range_locks::{self, ByteRangeLock, LockAnswer};

use super::{Begun, FileObjectId, FileSystem, FsOutcome, LockRequest, StreamKind, UnlockRange};

impl FileSystem {
    /// `IRP_MJ_LOCK_CONTROL` / `IRP_MN_LOCK` through `file_object` (MS-FSA 2.1.5.8): validated,
    /// then the oplock check (which may pend it, [`Self::resume_lock`]), then granted, refused
    /// (`STATUS_LOCK_NOT_GRANTED`) or queued until the range is free ([`FsOutcome::wait`]; it is
    /// resumed in [`FsOutcome::resumed`] of the unlock or cleanup that frees it).
    pub fn lock(&mut self, file_object: FileObjectId, request: &LockRequest) -> FsOutcome {
        match self.begin_lock_control(file_object, request.offset, request.length) {
            Begun::Go(open, out) => self.finish_lock(file_object, &open.path, request, None, out),
            Begun::Done(out) => out,
        }
    }

    /// The rest of a lock request that waited for oplock acknowledgments; if it then has to wait
    /// for its range, it waits under the same number.
    pub fn resume_lock(
        &mut self,
        file_object: FileObjectId,
        request: &LockRequest,
        wait: u64,
    ) -> FsOutcome {
        self.resume(file_object, |fs, path| {
            fs.finish_lock(file_object, path, request, Some(wait), FsOutcome::default())
        })
    }

    pub(super) fn finish_lock(
        &mut self,
        file_object: FileObjectId,
        path: &str,
        request: &LockRequest,
        wait: Option<u64>,
        mut out: FsOutcome,
    ) -> FsOutcome {
        let number = wait.unwrap_or(self.next_wait + 1);
        let Some(stream) = self.streams.get_mut(path) else {
            return FsOutcome::status(NtStatus::FILE_CLOSED);
        };
        let lock = ByteRangeLock {
            owner: file_object,
            key: request.key,
            offset: request.offset,
            length: request.length,
            exclusive: request.exclusive,
        };
        out.status = match stream.locks.lock(lock, request.fail_immediately, || number) {
            LockAnswer::Granted => NtStatus::SUCCESS,
            LockAnswer::NotGranted => NtStatus::LOCK_NOT_GRANTED,
            LockAnswer::Waiting(number) => {
                self.next_wait = self.next_wait.max(number);
                out.wait = Some(number);
                NtStatus::PENDING
            }
        };
        out
    }

    /// `IRP_MN_UNLOCK_SINGLE` through `file_object` (MS-FSA 2.1.5.9), after the same oplock check
    /// as a lock ([`Self::resume_unlock`]). Lock requests the range was holding up are granted
    /// ([`FsOutcome::resumed`]).
    pub fn unlock(&mut self, file_object: FileObjectId, range: UnlockRange) -> FsOutcome {
        match self.begin_lock_control(file_object, range.offset, range.length) {
            Begun::Go(open, out) => self.finish_unlock(file_object, &open.path, range, out),
            Begun::Done(out) => out,
        }
    }

    /// The rest of an unlock that waited for oplock acknowledgments.
    pub fn resume_unlock(&mut self, file_object: FileObjectId, range: UnlockRange) -> FsOutcome {
        self.resume(file_object, |fs, path| {
            fs.finish_unlock(file_object, path, range, FsOutcome::default())
        })
    }

    pub(super) fn finish_unlock(
        &mut self,
        file_object: FileObjectId,
        path: &str,
        range: UnlockRange,
        mut out: FsOutcome,
    ) -> FsOutcome {
        let Some(stream) = self.streams.get_mut(path) else {
            return FsOutcome::status(NtStatus::FILE_CLOSED);
        };
        let UnlockRange {
            offset,
            length,
            key,
        } = range;
        match stream.locks.unlock(file_object, key, offset, length) {
            Ok(granted) => {
                out.resumed.extend(granted);
                out.status = NtStatus::SUCCESS;
            }
            Err(status) => out.status = status,
        }
        out
    }

    /// What a lock and an unlock share before their own work: the validation (a user handle of a
    /// file: fastfat's `STATUS_INVALID_PARAMETER` for anything else, MS-FSA's for a directory;
    /// opened for reading or writing data, as `LockFileEx` needs; a range inside 64 bits), then
    /// the oplock check.
    pub(super) fn begin_lock_control(
        &mut self,
        file_object: FileObjectId,
        offset: u64,
        length: u64,
    ) -> Begun {
        let refuse = |status| Begun::Done(FsOutcome::status(status));
        let open = match self.lookup(file_object) {
            Ok((_, stream)) if stream.kind != StreamKind::File => {
                return refuse(NtStatus::INVALID_PARAMETER);
            }
            Ok((open, _))
                if open.access & (access::FILE_READ_DATA | access::FILE_WRITE_DATA) == 0 =>
            {
                return refuse(NtStatus::ACCESS_DENIED);
            }
            Ok((open, _)) => open,
            Err(status) => return refuse(status),
        };
        if let Err(status) = byte_range_locks::validate_range(offset, length) {
            return refuse(status);
        }
        let mut out = FsOutcome::default();
        if self.pends_for_oplock(&open, file_object, &Operation::LockControl, &mut out) {
            return Begun::Done(out);
        }
        Begun::Go(open, out)
    }
}
