//! The kernel structures the simulated kernel hands the driver or reads from it, declared here as
//! on x64 Windows: from the WDK headers' definitions (wdm.h, ntifs.h, fltKernel.h, KMDF 1.33's
//! wdfobject.h, wdfdriver.h, wdfdevice.h, wdfio.h, wdfiotarget.h, wdfrequest.h), written
//! independently of `wdk-decls/`, which the driver is compiled against. A wrong offset on either
//! side makes a scenario fail rather than agree with itself; `ferrofilter-abi` checks these
//! declarations against Microsoft's metadata (windows-sys) and the documented offsets of the
//! members the metadata misplaces (`POINTER_ALIGNMENT`).
//!
//! Only the members the sim reads or writes are named; the rest of each structure is reserved
//! space of the right size, so the driver sees the real size and offsets.
#![allow(
    non_camel_case_types,
    non_snake_case,
    reason = "the C names of the structures and members"
)]

use core::ffi::c_void;

/// Any callback pointer the sim stores and casts to its real type before calling it.
pub type RawFn = Option<unsafe extern "C" fn()>;

/// `UNICODE_STRING`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct UNICODE_STRING {
    /// Bytes in use.
    pub Length: u16,
    /// Bytes allocated.
    pub MaximumLength: u16,
    /// UTF-16 code units.
    pub Buffer: *mut u16,
}

/// `GUID`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GUID {
    /// First 32 bits.
    pub Data1: u32,
    /// Next 16 bits.
    pub Data2: u16,
    /// Next 16 bits.
    pub Data3: u16,
    /// Last 8 bytes.
    pub Data4: [u8; 8],
}

/// `IO_STATUS_BLOCK`: the `Status` / `Pointer` union as the status.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct IO_STATUS_BLOCK {
    /// `Status` (the low half of the pointer-sized union).
    pub Status: i32,
    /// The union's other half.
    pub Reserved: u32,
    /// `Information`.
    pub Information: usize,
}

/// `OBJECT_ATTRIBUTES` (wdm.h).
#[repr(C)]
pub struct OBJECT_ATTRIBUTES {
    /// `Length`.
    pub Length: u32,
    /// `RootDirectory`.
    pub RootDirectory: *mut c_void,
    /// `ObjectName`.
    pub ObjectName: *mut UNICODE_STRING,
    /// `Attributes` (`OBJ_*`).
    pub Attributes: u32,
    /// `SecurityDescriptor`.
    pub SecurityDescriptor: *mut c_void,
    /// `SecurityQualityOfService`.
    pub SecurityQualityOfService: *mut c_void,
}

/// `DISPATCHER_HEADER` as a `KEVENT` uses it (`Type`, `SignalState`, `WaitListHead`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DISPATCHER_HEADER {
    /// `Type`: `NotificationEvent` (0) or `SynchronizationEvent` (1) for an event.
    pub Type: u8,
    /// `Signalling`, `Size`, `Reserved1`.
    pub Reserved: [u8; 3],
    /// `SignalState`.
    pub SignalState: i32,
    /// `WaitListHead`.
    pub WaitListHead: [*mut c_void; 2],
}

/// `KEVENT`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KEVENT {
    /// `Header`.
    pub Header: DISPATCHER_HEADER,
}

/// `DRIVER_OBJECT` (wdm.h).
#[repr(C)]
pub struct DRIVER_OBJECT {
    /// `Type` (`IO_TYPE_DRIVER`, 4).
    pub Type: i16,
    /// `Size`: `sizeof(DRIVER_OBJECT)`.
    pub Size: i16,
    /// `DeviceObject`.
    pub DeviceObject: *mut c_void,
    /// `Flags`.
    pub Flags: u32,
    /// `DriverStart`.
    pub DriverStart: *mut c_void,
    /// `DriverSize`.
    pub DriverSize: u32,
    /// `DriverSection`.
    pub DriverSection: *mut c_void,
    /// `DriverExtension`.
    pub DriverExtension: *mut c_void,
    /// `DriverName`.
    pub DriverName: UNICODE_STRING,
    /// `HardwareDatabase`.
    pub HardwareDatabase: *mut UNICODE_STRING,
    /// `FastIoDispatch`.
    pub FastIoDispatch: *mut c_void,
    /// `DriverInit`.
    pub DriverInit: RawFn,
    /// `DriverStartIo`.
    pub DriverStartIo: RawFn,
    /// `DriverUnload`: `void (*)(PDRIVER_OBJECT)`.
    pub DriverUnload: Option<unsafe extern "C" fn(*mut DRIVER_OBJECT)>,
    /// `MajorFunction[IRP_MJ_MAXIMUM_FUNCTION + 1]`.
    pub MajorFunction: [RawFn; 28],
}

/// `DEVICE_OBJECT` (wdm.h, `DECLSPEC_ALIGN(MEMORY_ALLOCATION_ALIGNMENT)`).
#[repr(C, align(16))]
pub struct DEVICE_OBJECT {
    /// `Type` (`IO_TYPE_DEVICE`, 3).
    pub Type: i16,
    /// `Size`.
    pub Size: u16,
    /// `ReferenceCount`.
    pub ReferenceCount: i32,
    /// `DriverObject`.
    pub DriverObject: *mut DRIVER_OBJECT,
    /// `NextDevice`, `AttachedDevice`, `CurrentIrp`, `Timer`.
    pub Links: [*mut c_void; 4],
    /// `Flags`.
    pub Flags: u32,
    /// `Characteristics`.
    pub Characteristics: u32,
    /// `Vpb`, `DeviceExtension`.
    pub Vpb: [*mut c_void; 2],
    /// `DeviceType`.
    pub DeviceType: u32,
    /// `StackSize` (`CCHAR`).
    pub StackSize: i8,
    /// `Queue`, `AlignmentRequirement`, `DeviceQueue`, `Dpc`, `ActiveThreadCount`,
    /// `SecurityDescriptor`, `DeviceLock`, `SectorSize`, `Spare1`, `DeviceObjectExtension`,
    /// `Reserved`, and the alignment padding.
    pub Reserved: [u8; 259],
}

/// `FILE_OBJECT` (wdm.h).
#[repr(C)]
pub struct FILE_OBJECT {
    /// `Type` (`IO_TYPE_FILE`, 5).
    pub Type: i16,
    /// `Size`: `sizeof(FILE_OBJECT)`.
    pub Size: i16,
    /// `DeviceObject`.
    pub DeviceObject: *mut DEVICE_OBJECT,
    /// `Vpb`, `FsContext`, `FsContext2`, `SectionObjectPointer`, `PrivateCacheMap`.
    pub Pointers: [*mut c_void; 5],
    /// `FinalStatus`.
    pub FinalStatus: i32,
    /// `RelatedFileObject`.
    pub RelatedFileObject: *mut FILE_OBJECT,
    /// `LockOperation` … `SharedDelete` (eight BOOLEANs).
    pub Booleans: [u8; 8],
    /// `Flags`.
    pub Flags: u32,
    /// `FileName`.
    pub FileName: UNICODE_STRING,
    /// `CurrentByteOffset`.
    pub CurrentByteOffset: i64,
    /// `Waiters`, `Busy`, then padding.
    pub Waiters: [u32; 2],
    /// `LastLock`.
    pub LastLock: *mut c_void,
    /// `Lock`, `Event` (two `KEVENT`s).
    pub Events: [KEVENT; 2],
    /// `CompletionContext`, `IrpListLock` (`KSPIN_LOCK`), `IrpList` (`LIST_ENTRY`),
    /// `FileObjectExtension`.
    pub Tail: [*mut c_void; 5],
}

/// `ACCESS_STATE` (wdm.h): the members up to the access masks; the rest reserved.
#[repr(C)]
pub struct ACCESS_STATE {
    /// `OperationID` (LUID).
    pub OperationID: u64,
    /// `SecurityEvaluated`, `GenerateAudit`, `GenerateOnClose`, `PrivilegesAllocated`.
    pub Booleans: [u8; 4],
    /// `Flags`.
    pub Flags: u32,
    /// `RemainingDesiredAccess`.
    pub RemainingDesiredAccess: u32,
    /// `PreviouslyGrantedAccess`.
    pub PreviouslyGrantedAccess: u32,
    /// `OriginalDesiredAccess`.
    pub OriginalDesiredAccess: u32,
    /// `SubjectSecurityContext` … `ObjectTypeName`.
    pub Reserved: [u8; 132],
}

/// `IO_SECURITY_CONTEXT` (wdm.h).
#[repr(C)]
pub struct IO_SECURITY_CONTEXT {
    /// `SecurityQos`.
    pub SecurityQos: *mut c_void,
    /// `AccessState`.
    pub AccessState: *mut ACCESS_STATE,
    /// `DesiredAccess`.
    pub DesiredAccess: u32,
    /// `FullCreateOptions`.
    pub FullCreateOptions: u32,
}

/// `FLT_PARAMETERS.Create` (fltKernel.h).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct FLT_CREATE_PARAMETERS {
    /// `SecurityContext`.
    pub SecurityContext: *mut IO_SECURITY_CONTEXT,
    /// `Options`: disposition in the high byte, create options below.
    pub Options: u32,
    /// `POINTER_ALIGNMENT` of the next member.
    pub Pad1: u32,
    /// `FileAttributes` (`USHORT POINTER_ALIGNMENT`: at offset 16).
    pub FileAttributes: u16,
    /// `ShareAccess`.
    pub ShareAccess: u16,
    /// `POINTER_ALIGNMENT` of the next member.
    pub Pad2: u32,
    /// `EaLength` (`ULONG POINTER_ALIGNMENT`: at offset 24).
    pub EaLength: u32,
    /// `EaBuffer`.
    pub EaBuffer: *mut c_void,
    /// `AllocationSize`.
    pub AllocationSize: i64,
}

/// `FLT_PARAMETERS.FileSystemControl.Buffered` (fltKernel.h).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct FLT_FSCTL_BUFFERED_PARAMETERS {
    /// `OutputBufferLength`.
    pub OutputBufferLength: u32,
    /// `POINTER_ALIGNMENT` of the next member.
    pub Pad1: u32,
    /// `InputBufferLength` (`ULONG POINTER_ALIGNMENT`: at offset 8).
    pub InputBufferLength: u32,
    /// `POINTER_ALIGNMENT` of the next member.
    pub Pad2: u32,
    /// `FsControlCode` (`ULONG POINTER_ALIGNMENT`: at offset 16).
    pub FsControlCode: u32,
    /// `SystemBuffer`.
    pub SystemBuffer: *mut c_void,
}

/// `FLT_PARAMETERS.Write` (fltKernel.h).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct FLT_WRITE_PARAMETERS {
    /// `Length`.
    pub Length: u32,
    /// `POINTER_ALIGNMENT` of the next member.
    pub Pad1: u32,
    /// `Key` (`ULONG POINTER_ALIGNMENT`: at offset 8).
    pub Key: u32,
    /// `ByteOffset`.
    pub ByteOffset: i64,
    /// `WriteBuffer`.
    pub WriteBuffer: *mut c_void,
    /// `MdlAddress`.
    pub MdlAddress: *mut c_void,
}

/// `FLT_PARAMETERS.SetFileInformation` (fltKernel.h).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct FLT_SET_INFORMATION_PARAMETERS {
    /// `Length`.
    pub Length: u32,
    /// `POINTER_ALIGNMENT` of the next member.
    pub Pad1: u32,
    /// `FileInformationClass` (`POINTER_ALIGNMENT`: at offset 8).
    pub FileInformationClass: u32,
    /// `ParentOfTarget`.
    pub ParentOfTarget: *mut FILE_OBJECT,
    /// The `ReplaceIfExists` / `ClusterCount` / `DeleteHandle` union.
    pub Extra: *mut c_void,
    /// `InfoBuffer`.
    pub InfoBuffer: *mut c_void,
}

/// `FLT_PARAMETERS` (fltKernel.h): the members the sim fills; 48 bytes on x64.
#[repr(C)]
#[derive(Clone, Copy)]
pub union FLT_PARAMETERS {
    /// `IRP_MJ_CREATE`.
    pub Create: FLT_CREATE_PARAMETERS,
    /// `IRP_MJ_FILE_SYSTEM_CONTROL`, buffered methods.
    pub FileSystemControl: FLT_FSCTL_BUFFERED_PARAMETERS,
    /// `IRP_MJ_WRITE`.
    pub Write: FLT_WRITE_PARAMETERS,
    /// `IRP_MJ_SET_INFORMATION`.
    pub SetFileInformation: FLT_SET_INFORMATION_PARAMETERS,
    /// The size of the largest member (`Others`: six pointers).
    pub Others: [*mut c_void; 6],
}

/// `FLT_IO_PARAMETER_BLOCK` (fltKernel.h).
#[repr(C)]
pub struct FLT_IO_PARAMETER_BLOCK {
    /// `IrpFlags`.
    pub IrpFlags: u32,
    /// `MajorFunction`.
    pub MajorFunction: u8,
    /// `MinorFunction`.
    pub MinorFunction: u8,
    /// `OperationFlags`.
    pub OperationFlags: u8,
    /// `Reserved`.
    pub Reserved: u8,
    /// `TargetFileObject`.
    pub TargetFileObject: *mut FILE_OBJECT,
    /// `TargetInstance`.
    pub TargetInstance: *mut c_void,
    /// `Parameters`.
    pub Parameters: FLT_PARAMETERS,
}

/// `FLT_CALLBACK_DATA` (fltKernel.h).
#[repr(C)]
pub struct FLT_CALLBACK_DATA {
    /// `Flags` (`FLTFL_CALLBACK_DATA_*`).
    pub Flags: u32,
    /// `Thread`.
    pub Thread: *mut c_void,
    /// `Iopb`.
    pub Iopb: *mut FLT_IO_PARAMETER_BLOCK,
    /// `IoStatus`.
    pub IoStatus: IO_STATUS_BLOCK,
    /// `TagData`.
    pub TagData: *mut c_void,
    /// The `QueueLinks` / `QueueContext` / `FilterContext` union (32 bytes).
    pub Queue: [*mut c_void; 4],
    /// `RequestorMode` (`KPROCESSOR_MODE`).
    pub RequestorMode: i8,
}

/// `FLT_RELATED_OBJECTS` (fltKernel.h).
#[repr(C)]
pub struct FLT_RELATED_OBJECTS {
    /// `Size`.
    pub Size: u16,
    /// `TransactionContext`.
    pub TransactionContext: u16,
    /// `Filter`.
    pub Filter: *mut c_void,
    /// `Volume`.
    pub Volume: *mut c_void,
    /// `Instance`.
    pub Instance: *mut c_void,
    /// `FileObject`.
    pub FileObject: *mut FILE_OBJECT,
    /// `Transaction`.
    pub Transaction: *mut c_void,
}

/// `FLT_CONTEXT_REGISTRATION` (fltKernel.h).
#[repr(C)]
pub struct FLT_CONTEXT_REGISTRATION {
    /// `ContextType`.
    pub ContextType: u16,
    /// `Flags`.
    pub Flags: u16,
    /// `ContextCleanupCallback`: `void (*)(PFLT_CONTEXT, FLT_CONTEXT_TYPE)`.
    pub ContextCleanupCallback: Option<unsafe extern "C" fn(*mut c_void, u16)>,
    /// `Size`.
    pub Size: usize,
    /// `PoolTag`.
    pub PoolTag: u32,
    /// `ContextAllocateCallback`.
    pub ContextAllocateCallback: RawFn,
    /// `ContextFreeCallback`.
    pub ContextFreeCallback: RawFn,
    /// `Reserved1`.
    pub Reserved1: *mut c_void,
}

/// `PFLT_PRE_OPERATION_CALLBACK`.
pub type PreOperation = unsafe extern "C" fn(
    *mut FLT_CALLBACK_DATA,
    *const FLT_RELATED_OBJECTS,
    *mut *mut c_void,
) -> i32;
/// `PFLT_POST_OPERATION_CALLBACK`.
pub type PostOperation = unsafe extern "C" fn(
    *mut FLT_CALLBACK_DATA,
    *const FLT_RELATED_OBJECTS,
    *mut c_void,
    u32,
) -> i32;

/// `FLT_OPERATION_REGISTRATION` (fltKernel.h).
#[repr(C)]
pub struct FLT_OPERATION_REGISTRATION {
    /// `MajorFunction`.
    pub MajorFunction: u8,
    /// `Flags`.
    pub Flags: u32,
    /// `PreOperation`.
    pub PreOperation: Option<PreOperation>,
    /// `PostOperation`.
    pub PostOperation: Option<PostOperation>,
    /// `Reserved1`.
    pub Reserved1: *mut c_void,
}

/// `FLT_REGISTRATION` (fltKernel.h, version 0x0203).
#[repr(C)]
pub struct FLT_REGISTRATION {
    /// `Size`.
    pub Size: u16,
    /// `Version`.
    pub Version: u16,
    /// `Flags`.
    pub Flags: u32,
    /// `ContextRegistration`, ended by `FLT_CONTEXT_END`.
    pub ContextRegistration: *const FLT_CONTEXT_REGISTRATION,
    /// `OperationRegistration`, ended by `IRP_MJ_OPERATION_END`.
    pub OperationRegistration: *const FLT_OPERATION_REGISTRATION,
    /// `FilterUnloadCallback`: `NTSTATUS (*)(FLT_FILTER_UNLOAD_FLAGS)`.
    pub FilterUnloadCallback: Option<unsafe extern "C" fn(u32) -> i32>,
    /// `InstanceSetupCallback`:
    /// `NTSTATUS (*)(PCFLT_RELATED_OBJECTS, FLT_INSTANCE_SETUP_FLAGS, DEVICE_TYPE, FLT_FILESYSTEM_TYPE)`.
    pub InstanceSetupCallback:
        Option<unsafe extern "C" fn(*const FLT_RELATED_OBJECTS, u32, u32, i32) -> i32>,
    /// `InstanceQueryTeardownCallback`:
    /// `NTSTATUS (*)(PCFLT_RELATED_OBJECTS, FLT_INSTANCE_QUERY_TEARDOWN_FLAGS)`.
    pub InstanceQueryTeardownCallback:
        Option<unsafe extern "C" fn(*const FLT_RELATED_OBJECTS, u32) -> i32>,
    /// `InstanceTeardownStartCallback`: `void (*)(PCFLT_RELATED_OBJECTS, FLT_INSTANCE_TEARDOWN_FLAGS)`.
    pub InstanceTeardownStartCallback:
        Option<unsafe extern "C" fn(*const FLT_RELATED_OBJECTS, u32)>,
    /// `InstanceTeardownCompleteCallback`: as the start callback.
    pub InstanceTeardownCompleteCallback:
        Option<unsafe extern "C" fn(*const FLT_RELATED_OBJECTS, u32)>,
    /// `GenerateFileNameCallback` … `SectionNotificationCallback` (six callbacks).
    pub Other: [RawFn; 6],
}

/// `WDF_OBJECT_CONTEXT_TYPE_INFO` (wdfobject.h).
#[repr(C)]
pub struct WDF_OBJECT_CONTEXT_TYPE_INFO {
    /// `Size`.
    pub Size: u32,
    /// `ContextName`.
    pub ContextName: *const i8,
    /// `ContextSize`.
    pub ContextSize: usize,
    /// `UniqueType`.
    pub UniqueType: *const WDF_OBJECT_CONTEXT_TYPE_INFO,
    /// `EvtDriverGetUniqueContextType`.
    pub EvtDriverGetUniqueContextType: RawFn,
}

/// `EVT_WDF_OBJECT_CONTEXT_CLEANUP` / `_DESTROY`: `void (*)(WDFOBJECT)`.
pub type ObjectCallback = unsafe extern "C" fn(*mut c_void);

/// `WDF_OBJECT_ATTRIBUTES` (wdfobject.h).
#[repr(C)]
pub struct WDF_OBJECT_ATTRIBUTES {
    /// `Size`.
    pub Size: u32,
    /// `EvtCleanupCallback`.
    pub EvtCleanupCallback: Option<ObjectCallback>,
    /// `EvtDestroyCallback`.
    pub EvtDestroyCallback: Option<ObjectCallback>,
    /// `ExecutionLevel`.
    pub ExecutionLevel: i32,
    /// `SynchronizationScope`.
    pub SynchronizationScope: i32,
    /// `ParentObject`.
    pub ParentObject: *mut c_void,
    /// `ContextSizeOverride`.
    pub ContextSizeOverride: usize,
    /// `ContextTypeInfo`.
    pub ContextTypeInfo: *const WDF_OBJECT_CONTEXT_TYPE_INFO,
}

/// `WDF_DRIVER_CONFIG` (wdfdriver.h).
#[repr(C)]
pub struct WDF_DRIVER_CONFIG {
    /// `Size`.
    pub Size: u32,
    /// `EvtDriverDeviceAdd`.
    pub EvtDriverDeviceAdd: RawFn,
    /// `EvtDriverUnload`: `void (*)(WDFDRIVER)`.
    pub EvtDriverUnload: Option<ObjectCallback>,
    /// `DriverInitFlags`.
    pub DriverInitFlags: u32,
    /// `DriverPoolTag`.
    pub DriverPoolTag: u32,
}

/// `WDF_FILEOBJECT_CONFIG` (wdfdevice.h).
#[repr(C)]
pub struct WDF_FILEOBJECT_CONFIG {
    /// `Size`.
    pub Size: u32,
    /// `EvtDeviceFileCreate`: `void (*)(WDFDEVICE, WDFREQUEST, WDFFILEOBJECT)`.
    pub EvtDeviceFileCreate: Option<unsafe extern "C" fn(*mut c_void, *mut c_void, *mut c_void)>,
    /// `EvtFileClose`: `void (*)(WDFFILEOBJECT)`.
    pub EvtFileClose: Option<ObjectCallback>,
    /// `EvtFileCleanup`: `void (*)(WDFFILEOBJECT)`.
    pub EvtFileCleanup: Option<ObjectCallback>,
    /// `AutoForwardCleanupClose` (`WDF_TRI_STATE`).
    pub AutoForwardCleanupClose: i32,
    /// `FileObjectClass`.
    pub FileObjectClass: i32,
}

/// `EVT_WDF_IO_QUEUE_IO_DEVICE_CONTROL`.
pub type IoDeviceControl = unsafe extern "C" fn(*mut c_void, *mut c_void, usize, usize, u32);

/// `WDF_IO_QUEUE_CONFIG` (wdfio.h, KMDF 1.33).
#[repr(C)]
pub struct WDF_IO_QUEUE_CONFIG {
    /// `Size`.
    pub Size: u32,
    /// `DispatchType`.
    pub DispatchType: i32,
    /// `PowerManaged` (`WDF_TRI_STATE`).
    pub PowerManaged: i32,
    /// `AllowZeroLengthRequests`.
    pub AllowZeroLengthRequests: u8,
    /// `DefaultQueue`.
    pub DefaultQueue: u8,
    /// `EvtIoDefault`, `EvtIoRead`, `EvtIoWrite`.
    pub EvtIoOther: [RawFn; 3],
    /// `EvtIoDeviceControl`.
    pub EvtIoDeviceControl: Option<IoDeviceControl>,
    /// `EvtIoInternalDeviceControl`, `EvtIoStop`, `EvtIoResume`, `EvtIoCanceledOnQueue`.
    pub EvtIoMore: [RawFn; 4],
    /// `Settings` (`Parallel.NumberOfPresentedRequests`, pointer-sized union).
    pub Settings: usize,
    /// `Driver`.
    pub Driver: *mut c_void,
}

/// `WDF_IO_TARGET_OPEN_PARAMS` (wdfiotarget.h).
#[repr(C)]
pub struct WDF_IO_TARGET_OPEN_PARAMS {
    /// `Size`.
    pub Size: u32,
    /// `Type` (`WDF_IO_TARGET_OPEN_TYPE`).
    pub Type: i32,
    /// `EvtIoTargetQueryRemove`, `EvtIoTargetRemoveCanceled`, `EvtIoTargetRemoveComplete`.
    pub Events: [RawFn; 3],
    /// `TargetDeviceObject`.
    pub TargetDeviceObject: *mut DEVICE_OBJECT,
    /// `TargetFileObject`.
    pub TargetFileObject: *mut FILE_OBJECT,
    /// `TargetDeviceName`.
    pub TargetDeviceName: UNICODE_STRING,
    /// `DesiredAccess`.
    pub DesiredAccess: u32,
    /// `ShareAccess`.
    pub ShareAccess: u32,
    /// `FileAttributes`.
    pub FileAttributes: u32,
    /// `CreateDisposition`.
    pub CreateDisposition: u32,
    /// `CreateOptions`.
    pub CreateOptions: u32,
    /// `EaBuffer`.
    pub EaBuffer: *mut c_void,
    /// `EaBufferLength`.
    pub EaBufferLength: u32,
    /// `AllocationSize`.
    pub AllocationSize: *mut i64,
    /// `FileInformation`.
    pub FileInformation: u32,
    /// `FileName`.
    pub FileName: UNICODE_STRING,
}

/// `WDF_REQUEST_PARAMETERS.Parameters.DeviceIoControl` (wdfrequest.h).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct WDF_DEVICE_IO_CONTROL_PARAMETERS {
    /// `OutputBufferLength`.
    pub OutputBufferLength: usize,
    /// `InputBufferLength` (`POINTER_ALIGNMENT`).
    pub InputBufferLength: usize,
    /// `IoControlCode` (`ULONG POINTER_ALIGNMENT`: at offset 16 of the member).
    pub IoControlCode: u32,
    /// `Type3InputBuffer`.
    pub Type3InputBuffer: *mut c_void,
}

/// `WDF_REQUEST_PARAMETERS` (wdfrequest.h).
#[repr(C)]
pub struct WDF_REQUEST_PARAMETERS {
    /// `Size`.
    pub Size: u16,
    /// `MinorFunction`.
    pub MinorFunction: u8,
    /// `Type` (`WDF_REQUEST_TYPE`).
    pub Type: i32,
    /// `Parameters`.
    pub Parameters: WDF_REQUEST_PARAMETERS_UNION,
}

/// `WDF_REQUEST_PARAMETERS.Parameters` (its largest member, `Others`, is four pointers).
#[repr(C)]
#[derive(Clone, Copy)]
pub union WDF_REQUEST_PARAMETERS_UNION {
    /// `DeviceIoControl`.
    pub DeviceIoControl: WDF_DEVICE_IO_CONTROL_PARAMETERS,
    /// `Others`.
    pub Others: [*mut c_void; 4],
}

/// `WDF_REQUEST_COMPLETION_PARAMS` (wdfrequest.h).
#[repr(C)]
pub struct WDF_REQUEST_COMPLETION_PARAMS {
    /// `Size`.
    pub Size: u32,
    /// `Type` (`WDF_REQUEST_TYPE`).
    pub Type: i32,
    /// `IoStatus`.
    pub IoStatus: IO_STATUS_BLOCK,
    /// `Parameters.Read`: `Buffer`, `Length`, `Offset`; the rest of the union reserved.
    pub Parameters: [usize; 6],
}

/// `WDF_DRIVER_GLOBALS` (wdfglobals.h).
#[repr(C)]
pub struct WDF_DRIVER_GLOBALS {
    /// `Driver`.
    pub Driver: *mut c_void,
    /// `DriverFlags`.
    pub DriverFlags: u32,
    /// `DriverTag`.
    pub DriverTag: u32,
    /// `DriverName[WDF_DRIVER_GLOBALS_NAME_LEN]` (32 chars).
    pub DriverName: [u8; 32],
    /// `DisplaceDriverUnload`.
    pub DisplaceDriverUnload: u8,
}

// x64 sizes, as the headers give them (`ferrofilter-abi` checks every offset).
const _: () = {
    assert!(size_of::<UNICODE_STRING>() == 16);
    assert!(size_of::<IO_STATUS_BLOCK>() == 16);
    assert!(size_of::<OBJECT_ATTRIBUTES>() == 48);
    assert!(size_of::<KEVENT>() == 24);
    assert!(size_of::<DRIVER_OBJECT>() == 0x150);
    assert!(size_of::<DEVICE_OBJECT>() == 0x150);
    assert!(size_of::<FILE_OBJECT>() == 0xD8);
    assert!(size_of::<ACCESS_STATE>() == 0xA0);
    assert!(size_of::<IO_SECURITY_CONTEXT>() == 24);
    assert!(size_of::<FLT_PARAMETERS>() == 48);
    assert!(size_of::<FLT_CREATE_PARAMETERS>() == 48);
    assert!(size_of::<FLT_FSCTL_BUFFERED_PARAMETERS>() == 32);
    assert!(size_of::<FLT_WRITE_PARAMETERS>() == 40);
    assert!(size_of::<FLT_SET_INFORMATION_PARAMETERS>() == 40);
    assert!(size_of::<FLT_IO_PARAMETER_BLOCK>() == 0x48);
    assert!(size_of::<FLT_CALLBACK_DATA>() == 88);
    assert!(size_of::<FLT_RELATED_OBJECTS>() == 48);
    assert!(size_of::<FLT_REGISTRATION>() == 112);
    assert!(size_of::<FLT_OPERATION_REGISTRATION>() == 32);
    assert!(size_of::<FLT_CONTEXT_REGISTRATION>() == 56);
    assert!(size_of::<WDF_OBJECT_ATTRIBUTES>() == 56);
    assert!(size_of::<WDF_OBJECT_CONTEXT_TYPE_INFO>() == 40);
    assert!(size_of::<WDF_DRIVER_CONFIG>() == 32);
    assert!(size_of::<WDF_FILEOBJECT_CONFIG>() == 40);
    assert!(size_of::<WDF_IO_QUEUE_CONFIG>() == 96);
    assert!(size_of::<WDF_IO_TARGET_OPEN_PARAMS>() == 136);
    assert!(size_of::<WDF_REQUEST_COMPLETION_PARAMS>() == 72);
    assert!(size_of::<WDF_DRIVER_GLOBALS>() == 56);
};
