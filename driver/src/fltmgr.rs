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
    FLT_CONTEXT_REGISTRATION, FLT_CONTEXT_TYPE, FLT_FILESYSTEM_TYPE, FLT_FILTER_UNLOAD_FLAGS,
    FLT_INSTANCE_SETUP_FLAGS, FLT_OPERATION_REGISTRATION, FLT_POST_OPERATION_FLAGS,
    FLT_POSTOP_CALLBACK_STATUS, FLT_PREOP_CALLBACK_STATUS, FLT_REGISTRATION, FltIsVolumeWritable,
    FltRegisterFilter, FltStartFiltering, FltUnregisterFilter, PCFLT_RELATED_OBJECTS,
    PFLT_CALLBACK_DATA, PFLT_FILTER,
};
use wdk_sys::{GUID, UCHAR, ULONG, USHORT};

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

// ---- wdm.h: major function codes, as the UCHAR `FLT_OPERATION_REGISTRATION` wants ---------------

/// `IRP_MJ_CREATE` (wdm.h).
pub const IRP_MJ_CREATE: UCHAR = 0x00;
/// `IRP_MJ_CLOSE` (wdm.h).
pub const IRP_MJ_CLOSE: UCHAR = 0x02;
/// `IRP_MJ_WRITE` (wdm.h).
pub const IRP_MJ_WRITE: UCHAR = 0x04;
/// `IRP_MJ_SET_INFORMATION` (wdm.h).
pub const IRP_MJ_SET_INFORMATION: UCHAR = 0x06;
/// `IRP_MJ_FILE_SYSTEM_CONTROL` (wdm.h).
pub const IRP_MJ_FILE_SYSTEM_CONTROL: UCHAR = 0x0D;
/// `IRP_MJ_CLEANUP` (wdm.h).
pub const IRP_MJ_CLEANUP: UCHAR = 0x12;

/// `FILE_DEVICE_NETWORK_FILE_SYSTEM` (devioctl.h / wdm.h): the `DEVICE_TYPE` of network
/// redirector volumes, as `InstanceSetup` receives it.
pub const FILE_DEVICE_NETWORK_FILE_SYSTEM: ULONG = 0x0000_0014;

// ---- ntifs.h: what the minifilter logic will read (used once it is wired to core) --------------

/// `FSCTL_SET_PURGE_FAILURE_MODE` (ntifs.h):
/// `CTL_CODE(FILE_DEVICE_FILE_SYSTEM, 156, METHOD_BUFFERED, FILE_ANY_ACCESS)`.
#[allow(
    dead_code,
    reason = "read by the FSCTL callback once it is wired to core"
)]
pub const FSCTL_SET_PURGE_FAILURE_MODE: ULONG = 0x0009_0270;

/// `SET_PURGE_FAILURE_MODE_ENABLED` (ntifs.h).
#[allow(
    dead_code,
    reason = "read by the FSCTL callback once it is wired to core"
)]
pub const SET_PURGE_FAILURE_MODE_ENABLED: ULONG = 0x0000_0001;

/// `SET_PURGE_FAILURE_MODE_DISABLED` (ntifs.h).
#[allow(
    dead_code,
    reason = "read by the FSCTL callback once it is wired to core"
)]
pub const SET_PURGE_FAILURE_MODE_DISABLED: ULONG = 0x0000_0002;

/// `GUID_ECP_OPLOCK_KEY` (ntifs.h): {48850596-3050-4be7-9863-fec350ce8d7f}.
#[allow(
    dead_code,
    reason = "read by the create callback once it is wired to core"
)]
pub const GUID_ECP_OPLOCK_KEY: GUID = GUID {
    Data1: 0x4885_0596,
    Data2: 0x3050,
    Data3: 0x4BE7,
    Data4: [0x98, 0x63, 0xFE, 0xC3, 0x50, 0xCE, 0x8D, 0x7F],
};

/// `GUID_ECP_DUAL_OPLOCK_KEY` (ntifs.h, Windows 8+): {41621a14-b08b-4df1-b676-a05ffdf01bea}.
#[allow(
    dead_code,
    reason = "read by the create callback once it is wired to core"
)]
pub const GUID_ECP_DUAL_OPLOCK_KEY: GUID = GUID {
    Data1: 0x4162_1A14,
    Data2: 0xB08B,
    Data3: 0x4DF1,
    Data4: [0xB6, 0x76, 0xA0, 0x5F, 0xFD, 0xF0, 0x1B, 0xEA],
};
