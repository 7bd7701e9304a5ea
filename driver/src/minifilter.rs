//! The Filter Manager side: the registration tables, `InstanceSetup`, `InstanceQueryTeardown`
//! (without which Filter Manager refuses a manual detach, `fltmc detach`), and the context
//! registrations. The operation callbacks live in `filter` (see its docs for the core call each
//! one makes).
//!
//! Unverified here: the tables follow fltKernel.h (`FLT_REGISTRATION_VERSION_0203`,
//! `FLT_CONTEXT_REGISTRATION`, `FLT_OPERATION_REGISTRATION`) and the minispy / ctx / cdo samples;
//! never registered with a real Filter Manager.

use core::ptr;

use ferrofilter_core::NtStatus;
use wdk_sys::{BOOLEAN, NTSTATUS, PVOID, SIZE_T, ULONG, USHORT};

use crate::constants::{
    FILE_DEVICE_NETWORK_FILE_SYSTEM, FLT_CONTEXT_END, FLT_REGISTRATION_VERSION, FLT_STREAM_CONTEXT,
    FLT_STREAMHANDLE_CONTEXT, IRP_MJ_CLEANUP, IRP_MJ_CREATE, IRP_MJ_FILE_SYSTEM_CONTROL,
    IRP_MJ_OPERATION_END, IRP_MJ_SET_INFORMATION, IRP_MJ_WRITE,
};
use crate::filter::contexts::{HandleCtx, stream_cleanup};
use crate::filter::state::StreamCtx;
use crate::filter::{create, fsctl, io};
use crate::fltmgr::{
    _FLT_FILESYSTEM_TYPE, FLT_CONTEXT_REGISTRATION, FLT_CONTEXT_TYPE, FLT_FILESYSTEM_TYPE,
    FLT_INSTANCE_QUERY_TEARDOWN_FLAGS, FLT_INSTANCE_SETUP_FLAGS, FLT_OPERATION_REGISTRATION,
    FLT_POST_OPERATION_FLAGS, FLT_POSTOP_CALLBACK_STATUS, FLT_PREOP_CALLBACK_STATUS,
    FLT_REGISTRATION, FltIsVolumeWritable, PCFLT_RELATED_OBJECTS, PFLT_CALLBACK_DATA,
};
use crate::policy::{self, FileSystem, Volume};
use crate::wdf::Shared;

/// Pool tag of stream contexts (`FfSc` in `!pool`).
const STREAM_CONTEXT_TAG: ULONG = u32::from_le_bytes(*b"FfSc");
/// Pool tag of stream-handle contexts (`FfSh`).
const STREAM_HANDLE_CONTEXT_TAG: ULONG = u32::from_le_bytes(*b"FfSh");

type ContextCleanup = unsafe extern "C" fn(PVOID, FLT_CONTEXT_TYPE);

const fn context_registration(
    context_type: USHORT,
    cleanup: Option<ContextCleanup>,
    size: usize,
    pool_tag: ULONG,
) -> FLT_CONTEXT_REGISTRATION {
    FLT_CONTEXT_REGISTRATION {
        ContextType: context_type,
        Flags: 0,
        ContextCleanupCallback: cleanup,
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
        Some(stream_cleanup),
        size_of::<StreamCtx>(),
        STREAM_CONTEXT_TAG,
    ),
    context_registration(
        FLT_STREAMHANDLE_CONTEXT,
        None,
        size_of::<HandleCtx>(),
        STREAM_HANDLE_CONTEXT_TAG,
    ),
    context_registration(FLT_CONTEXT_END, None, 0, 0),
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

static OPERATIONS: Shared<[FLT_OPERATION_REGISTRATION; 6]> = Shared([
    operation(IRP_MJ_CREATE, create::pre_create, Some(create::post_create)),
    operation(
        IRP_MJ_FILE_SYSTEM_CONTROL,
        fsctl::pre_file_system_control,
        Some(fsctl::post_file_system_control),
    ),
    operation(IRP_MJ_WRITE, io::pre_write, Some(io::post_write)),
    operation(
        IRP_MJ_SET_INFORMATION,
        io::pre_set_information,
        Some(io::post_set_information),
    ),
    operation(IRP_MJ_CLEANUP, io::pre_cleanup, None),
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
    InstanceQueryTeardownCallback: Some(instance_query_teardown),
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
    wdk_sys::PAGED_CODE!();
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

/// `PFLT_INSTANCE_QUERY_TEARDOWN_CALLBACK`: a manual detach (`FltDetachVolume`, `FilterDetach`,
/// `fltmc detach`) of an instance is allowed (`policy::query_teardown`). Without this callback
/// Filter Manager refuses such a detach. The instance's contexts are then torn down as for any
/// instance teardown (`stream_cleanup`).
///
/// # Safety
/// Called by Filter Manager at `PASSIVE_LEVEL` with valid related objects.
#[unsafe(link_section = "PAGE")]
unsafe extern "C" fn instance_query_teardown(
    _objects: PCFLT_RELATED_OBJECTS,
    _flags: FLT_INSTANCE_QUERY_TEARDOWN_FLAGS,
) -> NTSTATUS {
    wdk_sys::PAGED_CODE!();
    match policy::query_teardown() {
        Ok(()) => NtStatus::SUCCESS.as_i32(),
        Err(status) => status.as_i32(),
    }
}
