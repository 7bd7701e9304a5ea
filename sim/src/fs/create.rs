//! `IRP_MJ_CREATE`: delete-pending and existence checks, the oplock check (which may pend the
//! create), share access, the destructive purge and the new open.

use ferrofilter_core::NtStatus;
use ferrofilter_core::guid::Guid;
use ferrofilter_core::purge::PurgeOp;
use ferrofilter_model::oplock::{Ack, Operation, access};

use crate::purge_mode::PurgeAnswer;

use super::{CreateRequest, FileSystem, FsOutcome, HeldIo, HeldKind, Open, Stream};

impl FileSystem {
    /// `IRP_MJ_CREATE`, with the handle's oplock key. A create that has to wait for an oplock
    /// acknowledgment pends (`STATUS_PENDING`, [`FsOutcome::wait`]); [`Self::resume_create`]
    /// finishes it.
    pub fn create(&mut self, request: &CreateRequest, key: Guid) -> FsOutcome {
        use ferrofilter_model::oplock::CreateDisposition as D;
        let params = request.params;
        // MS-FSA 2.1.5.1: the two options together are a parameter error.
        if request.complete_if_oplocked && params.reserve_opfilter {
            return FsOutcome::status(NtStatus::INVALID_PARAMETER);
        }
        let mut out = FsOutcome::default();
        // MS-FSA 2.1.5.1: FILE_DELETE_ON_CLOSE without DELETE is an invalid parameter.
        if request.delete_on_close && params.desired_access & access::DELETE == 0 {
            return FsOutcome::status(NtStatus::INVALID_PARAMETER);
        }
        // New opens of a delete-pending stream are refused (fastfat's create.c status).
        if self
            .streams
            .get(&request.path)
            .is_some_and(|s| s.delete_pending)
        {
            return FsOutcome::status(NtStatus::DELETE_PENDING);
        }
        let exists = self.streams.contains_key(&request.path);
        match (exists, params.disposition) {
            (false, D::Open | D::Overwrite) => {
                return FsOutcome::status(NtStatus::OBJECT_NAME_NOT_FOUND);
            }
            (true, D::Create) => return FsOutcome::status(NtStatus::OBJECT_NAME_COLLISION),
            (false, _) => {
                self.streams
                    .insert(request.path.clone(), Stream::new(request.kind));
            }
            (true, _) => {
                let op = Operation::Create(params);
                // NtCreateFile: the create fails rather than break an existing oplock, which
                // stays as it is.
                if request.requiring_oplock && self.would_break(&request.path, key, &op) {
                    return FsOutcome::status(NtStatus::CANNOT_BREAK_OPLOCK);
                }
                let may_wait = !request.complete_if_oplocked;
                if self
                    .check_oplock(&request.path, key, &op, None, may_wait, &mut out)
                    .is_some()
                {
                    out.status = NtStatus::PENDING;
                    return out;
                }
            }
        }
        self.finish_create(request, key, exists, out)
    }

    /// The rest of a create that waited for oplock acknowledgments: share access, the
    /// destructive purge, the open. The breaks are not decided again.
    pub fn resume_create(&mut self, request: &CreateRequest, key: Guid) -> FsOutcome {
        self.finish_create(request, key, true, FsOutcome::default())
    }

    pub(super) fn finish_create(
        &mut self,
        request: &CreateRequest,
        key: Guid,
        exists: bool,
        mut out: FsOutcome,
    ) -> FsOutcome {
        let params = request.params;
        let Some(stream) = self.streams.get_mut(&request.path) else {
            return FsOutcome::status(NtStatus::OBJECT_NAME_NOT_FOUND);
        };
        if stream
            .oplock
            .share
            .conflicts(params.desired_access, params.share_access)
        {
            out.status = NtStatus::SHARING_VIOLATION;
            return out;
        }
        if exists && params.disposition.is_destructive() {
            if let Err(failure) = stream.try_purge() {
                let token = HeldIo {
                    id: 0,
                    file_object: 0,
                    step: 0,
                    kind: HeldKind::PurgeRequest,
                };
                out.status = match stream.purge.on_purge_failure(
                    PurgeOp::Create(params.disposition),
                    token,
                    failure,
                ) {
                    PurgeAnswer::Complete(status, _) => status,
                    // Not a policy outcome for a destructive create; kept total.
                    PurgeAnswer::Held => NtStatus::PENDING,
                };
                return out;
            }
            stream.data.clear();
        }
        // Cannot conflict: checked above.
        let _ = stream
            .oplock
            .share
            .open(params.desired_access, params.share_access);
        self.next_file_object += 1;
        let file_object = self.next_file_object;
        self.opens.insert(
            file_object,
            Open {
                path: request.path.clone(),
                key,
                access: params.desired_access,
                share: params.share_access,
                delete_on_close: request.delete_on_close,
                cleaned: false,
            },
        );
        out.file_object = Some(file_object);
        // "Breaking Oplocks": a successful FILE_COMPLETE_IF_OPLOCKED create that broke an
        // oplock it would otherwise have waited for.
        let in_progress =
            request.complete_if_oplocked && out.breaks.iter().any(|b| b.ack == Ack::RequiredWait);
        out.status = if in_progress {
            NtStatus::OPLOCK_BREAK_IN_PROGRESS
        } else {
            NtStatus::SUCCESS
        };
        out
    }
}
