//! `IRP_MJ_CREATE` through the filter: the file object, the create's parameters and ECP list as
//! Filter Manager builds them, the file system's key from those ECPs, and a create an oplock break
//! pended.

use ferrofilter_core::NtStatus;
use ferrofilter_core::guid::Guid;
use ferrofilter_model::oplock::CreateParams;

use super::super::flt::{Attached, Ecp};
use super::super::layout::{
    ACCESS_STATE, FLT_CREATE_PARAMETERS, FLT_PARAMETERS, GUID, IO_SECURITY_CONTEXT,
};
use super::super::nt::{FileKind, map_generic};
use super::super::{Violation, with, with_deferred};
use crate::fs::{CreateRequest, FsOutcome};

use super::{
    Completed, CreateArgs, CreateOptions, FILE_ALL_ACCESS, FILE_COMPLETE_IF_OPLOCKED,
    FILE_DELETE_ON_CLOSE, FILE_OPEN_REQUIRING_OPLOCK, IRP_MJ_CREATE, MAXIMUM_ALLOWED, Operation,
    Volume, Window, below, finished, note_stream_contexts, pend,
};

pub(super) fn to_guid(guid: Guid) -> GUID {
    let b = guid.to_le_bytes();
    GUID {
        Data1: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        Data2: u16::from_le_bytes([b[4], b[5]]),
        Data3: u16::from_le_bytes([b[6], b[7]]),
        Data4: [b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]],
    }
}

/// The oplock keys the file system honours for a create, from the ECPs as attached (what
/// `FsRtlOplock*` reads itself): the I/O manager's own key when none is valid.
pub(super) fn file_system_key(volume: &mut Volume, args: &CreateArgs) -> Guid {
    let entries = args.ecps.iter().map(|ecp| ferrofilter_core::ecp::EcpEntry {
        ecp_type: ecp.ecp_type,
        from_user_mode: ecp.from_user_mode,
        context: &ecp.context,
    });
    let unique = volume.unique_key();
    ferrofilter_core::ecp::resolve_create_keys(entries, || unique).target
}

/// The create's `IO_SECURITY_CONTEXT` and the `ACCESS_STATE` it points to, which the I/O manager
/// fills with the granted access once the file system has checked it.
pub(super) struct CreateSecurity {
    access_state: Box<ACCESS_STATE>,
    context: Box<IO_SECURITY_CONTEXT>,
}

impl CreateSecurity {
    fn new(desired: u32) -> Self {
        // SAFETY: ACCESS_STATE is plain data; all-zero is valid.
        let mut access_state: Box<ACCESS_STATE> = Box::new(unsafe { core::mem::zeroed() });
        access_state.OriginalDesiredAccess = desired;
        access_state.RemainingDesiredAccess = desired;
        let context = Box::new(IO_SECURITY_CONTEXT {
            SecurityQos: core::ptr::null_mut(),
            AccessState: core::ptr::from_mut(access_state.as_mut()),
            DesiredAccess: desired,
            FullCreateOptions: 0,
        });
        Self {
            access_state,
            context,
        }
    }

    fn granted(&mut self, granted: u32) {
        self.access_state.PreviouslyGrantedAccess = granted;
        self.access_state.RemainingDesiredAccess = 0;
    }
}

pub(super) fn create_parameters(
    args: &CreateArgs,
    options: CreateOptions,
    security: &mut CreateSecurity,
) -> FLT_PARAMETERS {
    let mut reserve = if args.params.reserve_opfilter {
        0x0010_0000 // FILE_RESERVE_OPFILTER
    } else {
        0
    };
    if options.delete_on_close {
        reserve |= FILE_DELETE_ON_CLOSE;
    }
    if options.requiring_oplock {
        reserve |= FILE_OPEN_REQUIRING_OPLOCK;
    }
    if options.complete_if_oplocked {
        reserve |= FILE_COMPLETE_IF_OPLOCKED;
    }
    FLT_PARAMETERS {
        Create: FLT_CREATE_PARAMETERS {
            SecurityContext: core::ptr::from_mut(security.context.as_mut()),
            Options: (args.params.disposition as u32) << 24 | reserve,
            Pad1: 0,
            FileAttributes: 0x80, // FILE_ATTRIBUTE_NORMAL
            ShareAccess: u16::try_from(args.params.share_access & 0xFFFF).unwrap_or(0),
            Pad2: 0,
            EaLength: 0,
            EaBuffer: core::ptr::null_mut(),
            AllocationSize: 0,
        },
    }
}

/// The create is over: its ECP list is freed, and the filter must have left every ECP as it
/// came.
pub(super) fn end_ecp_list(data: usize, list: Option<usize>) {
    with(|k| {
        k.flt.ecp_of_data.remove(&data);
        if let Some(list) = list
            && let Some((ecps, live)) = k.flt.ecp_lists.get_mut(&list)
        {
            *live = false;
            let changed: Vec<usize> = (0..ecps.len()).filter(|&i| !ecps[i].unchanged()).collect();
            for index in changed {
                k.report(Violation::EcpModified {
                    list: list as u64,
                    index,
                });
            }
        }
    });
}

/// `IRP_MJ_CREATE` of `args` from a user-mode caller.
#[must_use]
pub fn create(args: &CreateArgs) -> Completed {
    create_with(args, CreateOptions::default())
}

/// `IRP_MJ_CREATE` of `args` with oplock create options. A create an oplock break makes wait
/// returns `STATUS_PENDING` and completes when its wait ends ([`Completed::resumed`] of the
/// operation that ended it): the filter's post-create callback runs then.
#[must_use]
pub fn create_with(args: &CreateArgs, options: CreateOptions) -> Completed {
    let prepared = with(|k| {
        let file = k.io.create_file(FileKind::Volume(0));
        let key = file_system_key(&mut k.volume, args);
        let stream = k.volume.stream_key(&args.path);
        k.flt.file_streams.insert(file, stream);
        k.volume.path_of.insert(file, args.path.clone());
        let ecps: Vec<Ecp> = args
            .ecps
            .iter()
            .map(|e| Ecp::new(to_guid(e.ecp_type), e.from_user_mode, &e.context))
            .collect();
        let list = if ecps.is_empty() {
            None
        } else {
            Some(k.flt.new_ecp_list(ecps))
        };
        (file, key, list)
    });
    let (file, key, list) = prepared;
    let desired = args.params.desired_access;
    let granted = if desired & MAXIMUM_ALLOWED != 0 {
        FILE_ALL_ACCESS
    } else {
        map_generic(desired)
    };
    let mut security = CreateSecurity::new(desired);
    let parameters = create_parameters(args, options, &mut security);
    let mut op = Operation::new(IRP_MJ_CREATE, 0, file, parameters, true);
    if let Some(list) = list {
        let data = op.data() as usize;
        with(|k| k.flt.ecp_of_data.insert(data, list));
    }
    let (post, completed) = op.pre(file);
    // The file system keeps the access the open is granted (a MAXIMUM_ALLOWED open gets every
    // right the caller may have), and checks later I/O and share access against it.
    let request = CreateRequest {
        path: args.path.clone(),
        params: CreateParams {
            desired_access: granted,
            ..args.params
        },
        kind: args.kind,
        delete_on_close: options.delete_on_close,
        requiring_oplock: options.requiring_oplock,
        complete_if_oplocked: options.complete_if_oplocked,
    };
    let mut done = Completed::default();
    let outcome = below(completed, &args.path, Window::Create, &mut done, |fs| {
        fs.create(&request, key)
    });
    let pended = PendedCreate {
        op,
        post,
        file,
        security,
        list,
        granted,
    };
    if let Some(wait) = outcome.wait {
        let path = args.path.clone();
        pend(
            wait,
            Box::new(move |cancelled| {
                let mut done = Completed::default();
                let outcome = if cancelled {
                    FsOutcome {
                        status: NtStatus::CANCELLED,
                        ..FsOutcome::default()
                    }
                } else {
                    below(None, &path, Window::Create, &mut done, |fs| {
                        fs.resume_create(&request, key)
                    })
                };
                pended.complete(outcome, done)
            }),
        );
        return finished(outcome, done);
    }
    pended.complete(outcome, done)
}

/// A create between its pre-operation callback and its completion.
pub(super) struct PendedCreate {
    op: Operation,
    post: Option<(super::super::layout::PostOperation, usize)>,
    file: usize,
    security: CreateSecurity,
    list: Option<usize>,
    granted: u32,
}

impl PendedCreate {
    /// The file system answered `outcome`: the post-create callback, the ECP list's end, and
    /// the handle, or the file object's end.
    fn complete(self, outcome: FsOutcome, done: Completed) -> Completed {
        let Self {
            mut op,
            post,
            file,
            mut security,
            list,
            granted,
        } = self;
        let status = outcome.status.as_i32();
        if status >= 0 {
            security.granted(granted);
        }
        op.post(post, file, status);
        end_ecp_list(op.data() as usize, list);
        let result = with_deferred(|k, deferred| {
            let result = match outcome.file_object {
                Some(open) if status >= 0 => {
                    k.volume.file_of.insert(open, file);
                    k.volume.open_of.insert(file, open);
                    k.io.set_kind(file, FileKind::Volume(open));
                    let handle = k.io.insert_handle(file, granted);
                    (Some(handle), Some(open))
                }
                _ => {
                    // A failed create: Filter Manager deletes what was attached to the file object.
                    k.flt.detach(Attached::Handle(file), deferred);
                    k.flt.file_streams.remove(&file);
                    k.volume.path_of.remove(&file);
                    let _ = k.io.dereference(file);
                    (None, None)
                }
            };
            note_stream_contexts(k);
            result
        });
        let mut done = finished(outcome, done);
        done.handle = result.0;
        done.file = result.1;
        done
    }
}
