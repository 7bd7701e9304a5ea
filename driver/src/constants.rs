//! The Windows constants the driver uses that are header macros, enum values the bindings do not
//! carry, or values it needs at another integer type than the bindings give them.
//!
//! This file uses only primitive integer types and `ferrofilter_core` items, no `wdk_sys`, so it
//! compiles on any host: `ferrofilter-abi`'s tests include it and assert every value against
//! Microsoft's metadata (the `windows-sys` crate) or the documented header value. On the Windows
//! target the types are the ones the WDK bindings use: `UCHAR` = `u8`, `USHORT` = `u16`,
//! `ULONG` = `ACCESS_MASK` = `u32`, `KPROCESSOR_MODE` (`CCHAR`) = `i8`, `FLT_CONTEXT_TYPE` =
//! `u16`, `FLT_FILTER_UNLOAD_FLAGS` = `FLT_POST_OPERATION_FLAGS` = `u32`.

use ferrofilter_core::NtStatus;

// ---- fltKernel.h -------------------------------------------------------------------------------

/// `IRP_MJ_OPERATION_END` (fltKernel.h): ends the `FLT_OPERATION_REGISTRATION` array.
pub const IRP_MJ_OPERATION_END: u8 = 0x80;

/// `FLT_REGISTRATION_VERSION` (fltKernel.h): `FLT_REGISTRATION_VERSION_0203` when
/// `FLT_MGR_WIN8`, which the WDK's default `NTDDI_VERSION` satisfies; it matches the generated
/// `FLT_REGISTRATION`, which then ends with `SectionNotificationCallback`.
pub const FLT_REGISTRATION_VERSION: u16 = 0x0203;

/// `FLT_STREAM_CONTEXT` (fltKernel.h).
pub const FLT_STREAM_CONTEXT: u16 = 0x0008;

/// `FLT_STREAMHANDLE_CONTEXT` (fltKernel.h).
pub const FLT_STREAMHANDLE_CONTEXT: u16 = 0x0010;

/// `FLT_CONTEXT_END` (fltKernel.h): ends the `FLT_CONTEXT_REGISTRATION` array.
pub const FLT_CONTEXT_END: u16 = 0xFFFF;

/// `FLTFL_FILTER_UNLOAD_MANDATORY` (fltKernel.h): the unload cannot be refused.
pub const FLTFL_FILTER_UNLOAD_MANDATORY: u32 = 0x0000_0001;

/// `FLTFL_POST_OPERATION_DRAINING` (fltKernel.h): the instance is being torn down; the post
/// callback must only release what its pre callback handed it.
pub const FLTFL_POST_OPERATION_DRAINING: u32 = 0x0000_0001;

/// `FLT_FLUSH_TYPE_FLUSH_AND_PURGE` (fltKernel.h, Windows 10 1903+): `FltFlushBuffers2` flushes,
/// then purges the cache (`IRP_MN_FLUSH_AND_PURGE`). Value from the Win32 metadata (1).
pub const FLT_FLUSH_TYPE_FLUSH_AND_PURGE: u32 = 0x0000_0001;

/// `FLTFL_IO_OPERATION_DO_NOT_UPDATE_BYTE_OFFSET` (fltKernel.h, `FLT_IO_OPERATION_FLAGS`):
/// `FltReadFile` leaves the file object's `CurrentByteOffset` as it was, so the filter's read
/// does not move the caller's file pointer. 0x2 is `FLTFL_IO_OPERATION_PAGING`, not this.
pub const FLTFL_IO_OPERATION_DO_NOT_UPDATE_BYTE_OFFSET: u32 = 0x0000_0004;

// ---- wdm.h: major function codes, as the UCHAR `FLT_OPERATION_REGISTRATION` wants ---------------

/// `IRP_MJ_CREATE` (wdm.h).
pub const IRP_MJ_CREATE: u8 = 0x00;
/// `IRP_MJ_WRITE` (wdm.h).
pub const IRP_MJ_WRITE: u8 = 0x04;
/// `IRP_MJ_SET_INFORMATION` (wdm.h).
pub const IRP_MJ_SET_INFORMATION: u8 = 0x06;
/// `IRP_MJ_FILE_SYSTEM_CONTROL` (wdm.h).
pub const IRP_MJ_FILE_SYSTEM_CONTROL: u8 = 0x0D;
/// `IRP_MJ_CLEANUP` (wdm.h).
pub const IRP_MJ_CLEANUP: u8 = 0x12;

// ---- wdm.h: minor function codes of IRP_MJ_FILE_SYSTEM_CONTROL ---------------------------------

/// `IRP_MN_USER_FS_REQUEST` (wdm.h).
pub const IRP_MN_USER_FS_REQUEST: u8 = 0x00;
/// `IRP_MN_KERNEL_CALL` (wdm.h).
pub const IRP_MN_KERNEL_CALL: u8 = 0x04;

// ---- wdm.h / devioctl.h: flags, modes, device types --------------------------------------------

/// `IRP_NOCACHE` (wdm.h): `FLT_IO_PARAMETER_BLOCK.IrpFlags` of a non-cached read or write.
pub const IRP_NOCACHE: u32 = 0x0000_0001;

/// `UserMode` (wdm.h, `enum _MODE`) as the `KPROCESSOR_MODE` (`CCHAR`) `ObReferenceObjectByHandle`
/// takes.
pub const USER_MODE: i8 = 1;

/// `KernelMode` (wdm.h, `enum _MODE`) as the `KPROCESSOR_MODE` (`CCHAR`) waits take.
pub const KERNEL_MODE: i8 = 0;

/// `FILE_DEVICE_NETWORK_FILE_SYSTEM` (devioctl.h / wdm.h): the `DEVICE_TYPE` of network
/// redirector volumes, as `InstanceSetup` receives it.
pub const FILE_DEVICE_NETWORK_FILE_SYSTEM: u32 = 0x0000_0014;

/// `METHOD_BUFFERED` (devioctl.h): the low two bits of a control code.
pub const METHOD_BUFFERED: u32 = 0;

// ---- wdm.h: access, disposition and options of the control device's I/O target ----------------

/// `GENERIC_READ` (wdm.h): what the handle's target is opened for.
pub const GENERIC_READ: u32 = 0x8000_0000;
/// `FILE_OPEN` (wdm.h): `WDF_IO_TARGET_OPEN_PARAMS_INIT_OPEN_BY_NAME`'s disposition.
pub const FILE_OPEN: u32 = 0x0000_0001;
/// `FILE_NON_DIRECTORY_FILE` (wdm.h): `WDF_IO_TARGET_OPEN_PARAMS_INIT_CREATE_BY_NAME`'s options.
pub const FILE_NON_DIRECTORY_FILE: u32 = 0x0000_0040;

// ---- ntdef.h: object attributes of the OPEN_TARGET open --------------------------------------

/// `OBJ_KERNEL_HANDLE` (ntdef.h): the handle is in the kernel's handle table, unreachable from
/// the calling process.
pub const OBJ_KERNEL_HANDLE: u32 = 0x0000_0200;
/// `OBJ_FORCE_ACCESS_CHECK` (ntdef.h): the open checks access as for a user-mode open, although
/// it is issued from kernel mode (the caller's security context decides).
pub const OBJ_FORCE_ACCESS_CHECK: u32 = 0x0000_0400;

// ---- ntstatus.h ---------------------------------------------------------------------------------

/// `STATUS_TIMEOUT` (ntstatus.h): a wait ran out (a success value).
pub const STATUS_TIMEOUT: NtStatus = NtStatus(0x0000_0102);

// ---- wdfdriver.h (KMDF 1.33) -------------------------------------------------------------------

/// `WdfDriverInitNonPnpDriver` (wdfdriver.h, `WDF_DRIVER_INIT_FLAGS`), as the ULONG
/// `WDF_DRIVER_CONFIG.DriverInitFlags` holds.
pub const WDF_DRIVER_INIT_NON_PNP_DRIVER: u32 = 0x0000_0001;

// ---- dpfilter.h ---------------------------------------------------------------------------------

/// `DPFLTR_IHVDRIVER_ID` (dpfilter.h, `DPFLTR_TYPE`): the component for third-party drivers.
pub const DPFLTR_IHVDRIVER_ID: u32 = 77;

/// `DPFLTR_ERROR_LEVEL` (dpfilter.h): a `DbgPrintEx` level always shown.
pub const DPFLTR_ERROR_LEVEL: u32 = 0;
/// `DPFLTR_WARNING_LEVEL` (dpfilter.h).
pub const DPFLTR_WARNING_LEVEL: u32 = 1;
/// `DPFLTR_TRACE_LEVEL` (dpfilter.h).
pub const DPFLTR_TRACE_LEVEL: u32 = 2;
/// `DPFLTR_INFO_LEVEL` (dpfilter.h).
pub const DPFLTR_INFO_LEVEL: u32 = 3;
