//! The Filter Manager side: the registration tables and every callback `FltMgr` calls.
//!
//! For now every pre-operation callback passes the operation through
//! (`FLT_PREOP_SUCCESS_NO_CALLBACK`, so the post-operation callbacks are not called) and the
//! contexts are registered but never allocated. Wiring them to core's minifilter logic (oplock
//! keys from the create ECPs, `FSCTL_SET_PURGE_FAILURE_MODE` bookkeeping, purge-failure statuses on
//! create / write / set-information) means filling in the bodies below; the registration already
//! asks for each operation that logic needs.
//!
//! Unverified here: the tables follow fltKernel.h (`FLT_REGISTRATION_VERSION_0203`) and the
//! minispy / cdo samples; never registered with a real Filter Manager.

use core::ptr;

use ferrofilter_core::NtStatus;
use wdk_sys::{BOOLEAN, NTSTATUS, PVOID, SIZE_T, ULONG, USHORT};

use crate::fltmgr::{
    _FLT_FILESYSTEM_TYPE, _FLT_POSTOP_CALLBACK_STATUS, _FLT_PREOP_CALLBACK_STATUS,
    FILE_DEVICE_NETWORK_FILE_SYSTEM, FLT_CONTEXT_END, FLT_CONTEXT_REGISTRATION,
    FLT_FILESYSTEM_TYPE, FLT_INSTANCE_SETUP_FLAGS, FLT_OPERATION_REGISTRATION,
    FLT_POST_OPERATION_FLAGS, FLT_POSTOP_CALLBACK_STATUS, FLT_PREOP_CALLBACK_STATUS,
    FLT_REGISTRATION, FLT_REGISTRATION_VERSION, FLT_STREAM_CONTEXT, FLT_STREAMHANDLE_CONTEXT,
    FltIsVolumeWritable, IRP_MJ_CLEANUP, IRP_MJ_CLOSE, IRP_MJ_CREATE, IRP_MJ_FILE_SYSTEM_CONTROL,
    IRP_MJ_OPERATION_END, IRP_MJ_SET_INFORMATION, IRP_MJ_WRITE, PCFLT_RELATED_OBJECTS,
    PFLT_CALLBACK_DATA,
};
use crate::policy::{self, FileSystem, Volume};
use crate::wdf::Shared;

/// Per-stream state (one per file data stream, shared by its handles): where the purge-failure-
/// mode count will live. Placeholder until core defines the state.
#[allow(
    dead_code,
    reason = "allocated with FltAllocateContext once the callbacks are wired"
)]
#[repr(C)]
pub struct StreamContext {
    reserved: u64,
}

/// Per-handle state (one per open of a stream): where the handle's oplock keys will live.
/// Placeholder until core defines the state.
#[allow(
    dead_code,
    reason = "allocated with FltAllocateContext once the callbacks are wired"
)]
#[repr(C)]
pub struct StreamHandleContext {
    reserved: u64,
}

/// Pool tag of stream contexts (`FfSc` in `!pool`).
const STREAM_CONTEXT_TAG: ULONG = u32::from_le_bytes(*b"FfSc");
/// Pool tag of stream-handle contexts (`FfSh`).
const STREAM_HANDLE_CONTEXT_TAG: ULONG = u32::from_le_bytes(*b"FfSh");

const fn context_registration(
    context_type: USHORT,
    size: usize,
    pool_tag: ULONG,
) -> FLT_CONTEXT_REGISTRATION {
    FLT_CONTEXT_REGISTRATION {
        ContextType: context_type,
        Flags: 0,
        ContextCleanupCallback: None,
        Size: size as SIZE_T,
        PoolTag: pool_tag,
        ContextAllocateCallback: None,
        ContextFreeCallback: None,
        Reserved1: ptr::null_mut(),
    }
}

static CONTEXTS: Shared<[FLT_CONTEXT_REGISTRATION; 3]> = Shared([
    context_registration(
        FLT_STREAM_CONTEXT,
        size_of::<StreamContext>(),
        STREAM_CONTEXT_TAG,
    ),
    context_registration(
        FLT_STREAMHANDLE_CONTEXT,
        size_of::<StreamHandleContext>(),
        STREAM_HANDLE_CONTEXT_TAG,
    ),
    context_registration(FLT_CONTEXT_END, 0, 0),
]);

type PreOperation = unsafe extern "C" fn(
    PFLT_CALLBACK_DATA,
    PCFLT_RELATED_OBJECTS,
    *mut PVOID,
) -> FLT_PREOP_CALLBACK_STATUS;
type PostOperation = unsafe extern "C" fn(
    PFLT_CALLBACK_DATA,
    PCFLT_RELATED_OBJECTS,
    PVOID,
    FLT_POST_OPERATION_FLAGS,
) -> FLT_POSTOP_CALLBACK_STATUS;

const fn operation(
    major_function: u8,
    pre: PreOperation,
    post: Option<PostOperation>,
) -> FLT_OPERATION_REGISTRATION {
    FLT_OPERATION_REGISTRATION {
        MajorFunction: major_function,
        Flags: 0,
        PreOperation: Some(pre),
        PostOperation: post,
        Reserved1: ptr::null_mut(),
    }
}

static OPERATIONS: Shared<[FLT_OPERATION_REGISTRATION; 7]> = Shared([
    operation(IRP_MJ_CREATE, pre_create, Some(post_create)),
    operation(
        IRP_MJ_FILE_SYSTEM_CONTROL,
        pre_file_system_control,
        Some(post_file_system_control),
    ),
    operation(IRP_MJ_WRITE, pre_write, Some(post_write)),
    operation(
        IRP_MJ_SET_INFORMATION,
        pre_set_information,
        Some(post_set_information),
    ),
    operation(IRP_MJ_CLEANUP, pre_cleanup, None),
    operation(IRP_MJ_CLOSE, pre_close, None),
    FLT_OPERATION_REGISTRATION {
        MajorFunction: IRP_MJ_OPERATION_END,
        Flags: 0,
        PreOperation: None,
        PostOperation: None,
        Reserved1: ptr::null_mut(),
    },
]);

#[allow(
    clippy::cast_possible_truncation,
    reason = "the const assertion proves the size fits in a USHORT"
)]
const REGISTRATION_SIZE: USHORT = {
    assert!(size_of::<FLT_REGISTRATION>() <= USHORT::MAX as usize);
    size_of::<FLT_REGISTRATION>() as USHORT
};

/// What `FltRegisterFilter` gets. Filter Manager reads the tables for as long as the filter is
/// registered, so they are statics.
pub static REGISTRATION: Shared<FLT_REGISTRATION> = Shared(FLT_REGISTRATION {
    Size: REGISTRATION_SIZE,
    Version: FLT_REGISTRATION_VERSION,
    Flags: 0,
    ContextRegistration: (&raw const CONTEXTS.0).cast(),
    OperationRegistration: (&raw const OPERATIONS.0).cast(),
    FilterUnloadCallback: Some(crate::entry::filter_unload),
    InstanceSetupCallback: Some(instance_setup),
    InstanceQueryTeardownCallback: None,
    InstanceTeardownStartCallback: None,
    InstanceTeardownCompleteCallback: None,
    GenerateFileNameCallback: None,
    NormalizeNameComponentCallback: None,
    NormalizeContextCleanupCallback: None,
    TransactionNotificationCallback: None,
    NormalizeNameComponentExCallback: None,
    SectionNotificationCallback: None,
});

/// `PFLT_INSTANCE_SETUP_CALLBACK`: attach to local, writable NTFS and `ReFS` volumes only (the
/// decision is `policy::attach`).
///
/// # Safety
/// Called by Filter Manager at `PASSIVE_LEVEL` with valid related objects.
#[unsafe(link_section = "PAGE")]
unsafe extern "C" fn instance_setup(
    objects: PCFLT_RELATED_OBJECTS,
    _flags: FLT_INSTANCE_SETUP_FLAGS,
    volume_device_type: ULONG,
    volume_file_system: FLT_FILESYSTEM_TYPE,
) -> NTSTATUS {
    wdk::paged_code!();
    let file_system = match volume_file_system {
        _FLT_FILESYSTEM_TYPE::FLT_FSTYPE_NTFS => FileSystem::Ntfs,
        _FLT_FILESYSTEM_TYPE::FLT_FSTYPE_REFS => FileSystem::Refs,
        _ => FileSystem::Other,
    };
    // SAFETY: Filter Manager passes related objects valid for the duration of the callback.
    let volume = unsafe { (*objects).Volume };
    let mut writable: BOOLEAN = 0;
    // SAFETY: `volume` is the live volume being attached to; `writable` is a live local.
    let status = unsafe { FltIsVolumeWritable(volume.cast(), &raw mut writable) };
    let volume = Volume {
        file_system,
        network: volume_device_type == FILE_DEVICE_NETWORK_FILE_SYSTEM,
        writable: NtStatus::from_i32(status)
            .is_success()
            .then_some(writable != 0),
    };
    match policy::attach(volume) {
        Ok(()) => {
            log!(Info, "attaching to {volume:?}");
            NtStatus::SUCCESS.as_i32()
        }
        Err(status) => status.as_i32(),
    }
}

const fn pass_through() -> FLT_PREOP_CALLBACK_STATUS {
    _FLT_PREOP_CALLBACK_STATUS::FLT_PREOP_SUCCESS_NO_CALLBACK
}

const fn finished() -> FLT_POSTOP_CALLBACK_STATUS {
    _FLT_POSTOP_CALLBACK_STATUS::FLT_POSTOP_FINISHED_PROCESSING
}

/// Declares a pre-operation callback that passes the operation through.
macro_rules! pre_operation {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// Called by Filter Manager with valid callback data and related objects.
        unsafe extern "C" fn $name(
            _data: PFLT_CALLBACK_DATA,
            _objects: PCFLT_RELATED_OBJECTS,
            _completion_context: *mut PVOID,
        ) -> FLT_PREOP_CALLBACK_STATUS {
            pass_through()
        }
    };
}

/// Declares a post-operation callback that does nothing more.
macro_rules! post_operation {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// Called by Filter Manager with valid callback data and related objects, possibly at
        /// `DISPATCH_LEVEL` or while draining (`FLTFL_POST_OPERATION_DRAINING`).
        unsafe extern "C" fn $name(
            _data: PFLT_CALLBACK_DATA,
            _objects: PCFLT_RELATED_OBJECTS,
            _completion_context: PVOID,
            _flags: FLT_POST_OPERATION_FLAGS,
        ) -> FLT_POSTOP_CALLBACK_STATUS {
            finished()
        }
    };
}

pre_operation!(
    /// `IRP_MJ_CREATE`: will read the oplock-key ECPs and fail destructive creates with
    /// `STATUS_USER_MAPPED_FILE` while purge-failure mode is on.
    pre_create
);
post_operation!(
    /// `IRP_MJ_CREATE` completion: will attach the stream-handle context with the keys.
    post_create
);
pre_operation!(
    /// `IRP_MJ_FILE_SYSTEM_CONTROL`: will count `FSCTL_SET_PURGE_FAILURE_MODE` enable / disable.
    pre_file_system_control
);
post_operation!(
    /// `IRP_MJ_FILE_SYSTEM_CONTROL` completion.
    post_file_system_control
);
pre_operation!(
    /// `IRP_MJ_WRITE`: will return `STATUS_PURGE_FAILED` for non-cached writes that cannot purge.
    pre_write
);
post_operation!(
    /// `IRP_MJ_WRITE` completion.
    post_write
);
pre_operation!(
    /// `IRP_MJ_SET_INFORMATION`: will return `STATUS_PURGE_FAILED` when a purge fails.
    pre_set_information
);
post_operation!(
    /// `IRP_MJ_SET_INFORMATION` completion.
    post_set_information
);
pre_operation!(
    /// `IRP_MJ_CLEANUP`: will drop the handle's contribution to the stream state.
    pre_cleanup
);
pre_operation!(
    /// `IRP_MJ_CLOSE`.
    pre_close
);
