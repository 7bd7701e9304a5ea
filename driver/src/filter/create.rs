//! `IRP_MJ_CREATE`: the oplock keys of a new handle.
//!
//! Pre-create (`PASSIVE_LEVEL`): the create's ECP list is read, never modified:
//! `FltGetEcpListFromCallbackData`, then every entry with `FltGetNextExtraCreateParameter`, each
//! marked with `FltIsEcpFromUserMode` (the context of a user-mode ECP is not even looked at; the
//! core skips and counts it). The core decides the handle's keys outside the state lock
//! (`resolve_create_keys`, asking for a unique key from `ExUuidCreate` only for a handle without a
//! usable ECP) and counts them under it (`Filter::record_create`). The keys and what
//! `Filter::pre_io` answered go to post-create as the completion context; the create itself goes
//! down unchanged.
//!
//! Post-create (`PASSIVE_LEVEL`, in the creating thread: Filter Manager guarantees it for
//! creates, so no `FltDoCompletionProcessingWhenSafe` is needed): `Filter::post_io`,
//! `Filter::post_create` with the access the open was *granted*
//! (`SecurityContext->AccessState->PreviouslyGrantedAccess`, set by the access checks below us;
//! not `DesiredAccess`, which for a `MAXIMUM_ALLOWED` open names no specific right); for a
//! created handle, the stream-handle context is set, the stream context found or made, and
//! `StreamContext::on_handle_opened` counts the handle.
//!
//! Unverified here: written from fltKernel.h (`FLT_PARAMETERS.Create`), minispy's `SpyParseEcps`,
//! the ECP documentation ("Retrieving ECPs", "System-defined ECPs"), the `ACCESS_STATE` and
//! `IO_SECURITY_CONTEXT` pages (wdm.h) and the post-operation IRQL rules ("post-create callback routines are called at IRQL = `PASSIVE_LEVEL`"); never run.

use alloc::vec::Vec;
use core::{ptr, slice};

use ferrofilter_core::ecp::{EcpEntry, HandleKeys, resolve_create_keys};
use ferrofilter_core::file::CreateDisposition;
use ferrofilter_core::purge::PurgeOp;
use wdk_sys::{ACCESS_MASK, GUID, PECP_LIST, PVOID, ULONG};

use super::state::{self, PreparedKey};
use super::{contexts, finished, io_status, iopb, pass_through, pool, with_post};
use crate::constants::FLTFL_POST_OPERATION_DRAINING;
use crate::fltmgr::{
    FLT_POST_OPERATION_FLAGS, FLT_POSTOP_CALLBACK_STATUS, FLT_PREOP_CALLBACK_STATUS,
    FltGetEcpListFromCallbackData, FltGetNextExtraCreateParameter, FltIsEcpFromUserMode,
    PCFLT_RELATED_OBJECTS, PFLT_CALLBACK_DATA, PFLT_FILTER,
};
use crate::wdf::check;

/// What pre-create hands to post-create.
struct CreateCompletion {
    keys: HandleKeys,
    count_answer: bool,
}

/// Reads the ECP list of a create: every entry, in list order. The slices borrow the ECP
/// contexts, which live until the create completes, so they are only used inside pre-create.
/// An allocation failure ends the list early (logged); the create is never failed for it.
fn read_ecps<'a>(filter: PFLT_FILTER, data: PFLT_CALLBACK_DATA) -> Vec<EcpEntry<'a>> {
    let mut entries = Vec::new();
    let mut list: PECP_LIST = ptr::null_mut();
    // SAFETY: `filter` is this driver's filter, `data` the live create's callback data, `list` a
    // live local.
    let status = unsafe { FltGetEcpListFromCallbackData(filter, data, &raw mut list) };
    // Success with a null list means the create has no ECPs.
    if check(status).is_err() || list.is_null() {
        return entries;
    }
    let mut current: PVOID = ptr::null_mut();
    loop {
        let mut ecp_type = GUID::default();
        let mut context: PVOID = ptr::null_mut();
        let mut size: ULONG = 0;
        // SAFETY: `list` is the create's live ECP list; `current` is null or the context the
        // previous call returned; the three out pointers are live locals.
        let status = unsafe {
            FltGetNextExtraCreateParameter(
                filter,
                list,
                current,
                &raw mut ecp_type,
                &raw mut context,
                &raw mut size,
            )
        };
        // STATUS_NOT_FOUND: the end of the list.
        if check(status).is_err() || context.is_null() {
            break;
        }
        current = context;
        // SAFETY: `context` is an ECP context of this list.
        let from_user_mode = unsafe { FltIsEcpFromUserMode(filter, context) } != 0;
        let bytes: &'a [u8] = if from_user_mode || size == 0 {
            &[]
        } else {
            // SAFETY: Filter Manager reports `size` bytes of context at `context`, which stays
            // allocated and unchanged (the filter never writes it) until the create completes;
            // the slice does not outlive pre-create.
            unsafe { slice::from_raw_parts(context.cast::<u8>(), size as usize) }
        };
        if entries.try_reserve(1).is_err() {
            log!(
                Error,
                "pre-create: no memory for the ECP list; the rest is not read"
            );
            break;
        }
        entries.push(EcpEntry {
            ecp_type: state::guid(&ecp_type),
            from_user_mode,
            context: bytes,
        });
    }
    entries
}

/// `IRP_MJ_CREATE` pre-operation callback.
///
/// # Safety
/// Called by Filter Manager at `PASSIVE_LEVEL` with valid callback data and related objects.
pub unsafe extern "C" fn pre_create(
    data: PFLT_CALLBACK_DATA,
    objects: PCFLT_RELATED_OBJECTS,
    completion_context: *mut PVOID,
) -> FLT_PREOP_CALLBACK_STATUS {
    wdk_sys::PAGED_CODE!();
    // SAFETY: Filter Manager passes related objects valid for the callback.
    let filter = unsafe { (*objects).Filter };
    // SAFETY: `data` is the live create's callback data.
    let iopb = unsafe { iopb(data) };
    // SAFETY: `Iopb` points to the live parameter block.
    let params = unsafe { &(*iopb).Parameters };
    // SAFETY: the operation is IRP_MJ_CREATE, so `Create` is the union member Filter Manager set.
    let create = unsafe { &params.Create };
    let options = create.Options;
    let kind =
        CreateDisposition::from_create_options(options).map_or(PurgeOp::Other, PurgeOp::Create);

    let ecps = read_ecps(filter, data);
    // Decoding the ECPs and making a unique key (ExUuidCreate, PASSIVE_LEVEL, only when the handle
    // has no usable key) need no shared state: done here, outside the state lock.
    let keys = resolve_create_keys(ecps.iter().copied(), || PreparedKey::fresh().key());
    drop(ecps);
    let count_answer = state::with(|s| {
        s.filter.record_create(&keys);
        s.filter.pre_io(kind)
    });
    if !keys.anomalies.is_clean() {
        log!(Trace, "create ECP anomalies: {:?}", keys.anomalies);
    }
    let completion = CreateCompletion { keys, count_answer };
    if let Ok(completion) = pool::try_box(completion) {
        // SAFETY: Filter Manager passes a live out pointer for the completion context.
        unsafe { completion_context.write(completion.cast()) };
        with_post()
    } else {
        // No post callback: the handle gets no context (nothing is attached), the create is
        // untouched.
        log!(Error, "pre-create: no memory for the completion context");
        pass_through()
    }
}

/// `Parameters.Create.SecurityContext->AccessState->PreviouslyGrantedAccess` of a create: in
/// post-create, the access the open was granted (the access checks below add every right they
/// grant, `MAXIMUM_ALLOWED` resolved). Zero if the I/O manager gave no access state.
///
/// # Safety
/// `data` must be the live callback data of an `IRP_MJ_CREATE` in its post-operation callback.
unsafe fn granted_access(data: PFLT_CALLBACK_DATA) -> ACCESS_MASK {
    // SAFETY: `data` is the live create's callback data (caller).
    let iopb = unsafe { iopb(data) };
    // SAFETY: the parameter block is live for the callback.
    let params = unsafe { &(*iopb).Parameters };
    // SAFETY: the operation is IRP_MJ_CREATE, so `Create` is the union member Filter Manager set.
    let security = unsafe { params.Create.SecurityContext };
    if security.is_null() {
        return 0;
    }
    // SAFETY: the I/O manager's security context lives until the create completes.
    let state = unsafe { (*security).AccessState };
    if state.is_null() {
        return 0;
    }
    // SAFETY: the access state lives as long as the security context that points to it.
    unsafe { (*state).PreviouslyGrantedAccess }
}

/// `IRP_MJ_CREATE` post-operation callback.
///
/// # Safety
/// Called by Filter Manager at `PASSIVE_LEVEL` (creates), once per `pre_create` that returned
/// `FLT_PREOP_SUCCESS_WITH_CALLBACK`, with its completion context.
pub unsafe extern "C" fn post_create(
    data: PFLT_CALLBACK_DATA,
    objects: PCFLT_RELATED_OBJECTS,
    completion_context: PVOID,
    flags: FLT_POST_OPERATION_FLAGS,
) -> FLT_POSTOP_CALLBACK_STATUS {
    wdk_sys::PAGED_CODE!();
    // SAFETY: the completion context is the CreateCompletion pre_create stored, taken back once.
    let CreateCompletion { keys, count_answer } =
        unsafe { pool::unbox(completion_context.cast::<CreateCompletion>()) };
    if flags & FLTFL_POST_OPERATION_DRAINING != 0 {
        return finished();
    }
    // SAFETY: live callback data of the completed create.
    let status = unsafe { io_status(data) };
    // SAFETY: live callback data of the completed create.
    let access = unsafe { granted_access(data) };
    let handle = state::with(|s| {
        if count_answer {
            s.filter.post_io(status);
        }
        s.filter.post_create(keys, access, status)
    });
    let Some(handle) = handle else {
        return finished();
    };
    // SAFETY: related objects are valid for the callback.
    let objects = unsafe { &*objects };
    let (filter, instance, file_object) = (objects.Filter, objects.Instance, objects.FileObject);
    if let Err(status) = contexts::set_handle(filter, instance, file_object, handle) {
        log!(Trace, "post-create: no stream-handle context: {status:?}");
        return finished();
    }
    match contexts::find_or_create_stream(filter, instance, file_object) {
        Ok(stream) => {
            // SAFETY: `stream` is a live, referenced stream context.
            unsafe { state::with_stream(stream.as_ptr(), |_, s| s.on_handle_opened()) };
        }
        Err(status) => log!(Trace, "post-create: no stream context: {status:?}"),
    }
    finished()
}
