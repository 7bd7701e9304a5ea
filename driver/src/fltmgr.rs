//! Filter Manager bindings: the `fltKernel.h` items `build.rs` generates into `OUT_DIR/fltmgr.rs`,
//! plus the header macros bindgen cannot translate (or translates to the wrong integer type),
//! written out by hand with the header each comes from.
//!
//! Unverified here: the generated file has never been produced; the names re-exported below are
//! the C names from fltKernel.h / fltUserStructures.h as bindgen spells them (enums in wdk-build's
//! `ModuleConsts` style: `_FLT_PREOP_CALLBACK_STATUS::FLT_PREOP_SUCCESS_NO_CALLBACK`).

#[allow(
    missing_docs,
    dead_code,
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    clippy::all,
    clippy::pedantic,
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block,
    reason = "bindgen output for fltKernel.h, kept as generated"
)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/fltmgr.rs"));
}

pub use generated::{
    _FLT_FILESYSTEM_TYPE, _FLT_POSTOP_CALLBACK_STATUS, _FLT_PREOP_CALLBACK_STATUS,
    _FLT_SET_CONTEXT_OPERATION, FLT_CONTEXT_REGISTRATION, FLT_CONTEXT_TYPE, FLT_FILESYSTEM_TYPE,
    FLT_FILTER_UNLOAD_FLAGS, FLT_INSTANCE_SETUP_FLAGS, FLT_OPERATION_REGISTRATION,
    FLT_POST_OPERATION_FLAGS, FLT_POSTOP_CALLBACK_STATUS, FLT_PREOP_CALLBACK_STATUS,
    FLT_REGISTRATION, FltAllocateContext, FltAllocateGenericWorkItem, FltFlushBuffers2,
    FltFreeGenericWorkItem, FltGetEcpListFromCallbackData, FltGetNextExtraCreateParameter,
    FltGetStreamContext, FltGetStreamHandleContext, FltGetVolumeFromFileObject,
    FltGetVolumeInstanceFromName, FltIsEcpFromUserMode, FltIsVolumeWritable, FltObjectDereference,
    FltQueueGenericWorkItem, FltRegisterFilter, FltReleaseContext, FltSetStreamContext,
    FltSetStreamHandleContext, FltStartFiltering, FltUnregisterFilter, PCFLT_RELATED_OBJECTS,
    PFLT_CALLBACK_DATA, PFLT_CONTEXT, PFLT_FILTER, PFLT_GENERIC_WORKITEM, PFLT_INSTANCE,
    PFLT_IO_PARAMETER_BLOCK, PFLT_VOLUME,
};
use wdk_sys::{UCHAR, ULONG, USHORT};

// ---- fltKernel.h -------------------------------------------------------------------------------

/// `IRP_MJ_OPERATION_END` (fltKernel.h): ends the `FLT_OPERATION_REGISTRATION` array.
pub const IRP_MJ_OPERATION_END: UCHAR = 0x80;

/// `FLT_REGISTRATION_VERSION` (fltKernel.h): `FLT_REGISTRATION_VERSION_0203` when
/// `FLT_MGR_WIN8`, which the WDK's default `NTDDI_VERSION` satisfies; it matches the generated
/// `FLT_REGISTRATION`, which then ends with `SectionNotificationCallback`.
pub const FLT_REGISTRATION_VERSION: USHORT = 0x0203;

/// `FLT_STREAM_CONTEXT` (fltKernel.h).
pub const FLT_STREAM_CONTEXT: FLT_CONTEXT_TYPE = 0x0008;

/// `FLT_STREAMHANDLE_CONTEXT` (fltKernel.h).
pub const FLT_STREAMHANDLE_CONTEXT: FLT_CONTEXT_TYPE = 0x0010;

/// `FLT_CONTEXT_END` (fltKernel.h): ends the `FLT_CONTEXT_REGISTRATION` array.
pub const FLT_CONTEXT_END: FLT_CONTEXT_TYPE = 0xFFFF;

/// `FLTFL_FILTER_UNLOAD_MANDATORY` (fltKernel.h): the unload cannot be refused.
pub const FLTFL_FILTER_UNLOAD_MANDATORY: FLT_FILTER_UNLOAD_FLAGS = 0x0000_0001;

/// `FLTFL_POST_OPERATION_DRAINING` (fltKernel.h): the instance is being torn down; the post
/// callback must only release what its pre callback handed it.
pub const FLTFL_POST_OPERATION_DRAINING: FLT_POST_OPERATION_FLAGS = 0x0000_0001;

/// `FLT_FLUSH_TYPE_FLUSH_AND_PURGE` (fltKernel.h, Windows 10 1903+): `FltFlushBuffers2` flushes,
/// then purges the cache (`IRP_MN_FLUSH_AND_PURGE`). Value from the Win32 metadata (1).
pub const FLT_FLUSH_TYPE_FLUSH_AND_PURGE: ULONG = 0x0000_0001;

// ---- wdm.h: major function codes, as the UCHAR `FLT_OPERATION_REGISTRATION` wants ---------------

/// `IRP_MJ_CREATE` (wdm.h).
pub const IRP_MJ_CREATE: UCHAR = 0x00;
/// `IRP_MJ_WRITE` (wdm.h).
pub const IRP_MJ_WRITE: UCHAR = 0x04;
/// `IRP_MJ_SET_INFORMATION` (wdm.h).
pub const IRP_MJ_SET_INFORMATION: UCHAR = 0x06;
/// `IRP_MJ_FILE_SYSTEM_CONTROL` (wdm.h).
pub const IRP_MJ_FILE_SYSTEM_CONTROL: UCHAR = 0x0D;
/// `IRP_MJ_CLEANUP` (wdm.h).
pub const IRP_MJ_CLEANUP: UCHAR = 0x12;

/// `IRP_NOCACHE` (wdm.h): `FLT_IO_PARAMETER_BLOCK.IrpFlags` of a non-cached read or write.
pub const IRP_NOCACHE: ULONG = 0x0000_0001;

/// `UserMode` (wdm.h, `enum _MODE`) as the `KPROCESSOR_MODE` (`CCHAR`) `ObReferenceObjectByHandle`
/// takes.
pub const USER_MODE: wdk_sys::KPROCESSOR_MODE = 1;

/// `FILE_DEVICE_NETWORK_FILE_SYSTEM` (devioctl.h / wdm.h): the `DEVICE_TYPE` of network
/// redirector volumes, as `InstanceSetup` receives it.
pub const FILE_DEVICE_NETWORK_FILE_SYSTEM: ULONG = 0x0000_0014;
