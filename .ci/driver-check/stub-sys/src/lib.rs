#![no_std]
#![allow(non_camel_case_types, non_snake_case, non_upper_case_globals, clippy::all, missing_docs)]
use core::ffi::c_void;
pub type NTSTATUS = i32;
pub type ULONG = u32;
pub type USHORT = u16;
pub type UCHAR = u8;
pub type BOOLEAN = u8;
pub type PBOOLEAN = *mut BOOLEAN;
pub type LONG = i32;
pub type PVOID = *mut c_void;
pub type SIZE_T = u64;
pub type ULONG_PTR = u64;
pub type ACCESS_MASK = u32;
pub type CCHAR = i8;
pub type CHAR = i8;
pub type KPROCESSOR_MODE = CCHAR;
pub type PCSTR = *const CHAR;
pub type PCCH = *const CHAR;
pub type LPCSTR = *const CHAR;
pub type WCHAR = u16;
pub type KPRIORITY = LONG;
pub type LONGLONG = i64;
pub const APC_LEVEL: u32 = 1;
#[repr(C)] #[derive(Clone, Copy, Default, Debug)]
pub struct GUID { pub Data1: u32, pub Data2: u16, pub Data3: u16, pub Data4: [u8; 8] }
#[repr(C)] #[derive(Clone, Copy, Debug)]
pub struct _UNICODE_STRING { pub Length: USHORT, pub MaximumLength: USHORT, pub Buffer: *mut WCHAR }
pub type UNICODE_STRING = _UNICODE_STRING;
pub type PCUNICODE_STRING = *const UNICODE_STRING;
#[repr(C)] pub struct _DEVICE_OBJECT { pub Type: i16, pub StackSize: CCHAR }
pub type DEVICE_OBJECT = _DEVICE_OBJECT; pub type PDEVICE_OBJECT = *mut DEVICE_OBJECT;
#[repr(C)] pub struct _DRIVER_OBJECT { pub Type: i16 }
pub type DRIVER_OBJECT = _DRIVER_OBJECT; pub type PDRIVER_OBJECT = *mut DRIVER_OBJECT;
#[repr(C)] pub struct _FILE_OBJECT { pub Type: i16 } pub type PFILE_OBJECT = *mut _FILE_OBJECT;
#[repr(C)] #[derive(Default)] pub struct _KEVENT { pub x: [u64; 3] }
pub type KEVENT = _KEVENT; pub type PRKEVENT = *mut KEVENT;
#[repr(C)] #[derive(Clone, Copy)] pub union _LARGE_INTEGER { pub u: [u32; 2], pub QuadPart: LONGLONG }
pub type LARGE_INTEGER = _LARGE_INTEGER; pub type PLARGE_INTEGER = *mut LARGE_INTEGER;
pub mod _EVENT_TYPE { pub type Type = i32; pub const NotificationEvent: Type = 0; }
pub type EVENT_TYPE = _EVENT_TYPE::Type;
pub mod _KWAIT_REASON { pub type Type = i32; pub const Executive: Type = 0; }
pub type KWAIT_REASON = _KWAIT_REASON::Type;
#[repr(C)] #[derive(Clone, Copy)] pub union _IO_STATUS_BLOCK__bindgen_ty_1 { pub Status: NTSTATUS, pub Pointer: PVOID }
#[repr(C)] #[derive(Clone, Copy)] pub struct _IO_STATUS_BLOCK { pub __bindgen_anon_1: _IO_STATUS_BLOCK__bindgen_ty_1, pub Information: ULONG_PTR }
pub type IO_STATUS_BLOCK = _IO_STATUS_BLOCK;
macro_rules! handle { ($($s:ident $h:ident),*) => { $( #[repr(C)] pub struct $s { pub unused: i32 } pub type $h = *mut $s; )* } }
handle!(WDFDEVICE__ WDFDEVICE, WDFDRIVER__ WDFDRIVER, WDFQUEUE__ WDFQUEUE, WDFREQUEST__ WDFREQUEST, WDFFILEOBJECT__ WDFFILEOBJECT, WDFIOTARGET__ WDFIOTARGET, WDFMEMORY__ WDFMEMORY, WDFSPINLOCK__ WDFSPINLOCK, WDFDEVICE_INIT PWDFDEVICE_INIT);
pub type WDFOBJECT = PVOID; pub type WDFCONTEXT = PVOID;
pub mod _WDF_EXECUTION_LEVEL { pub type Type = i32; pub const WdfExecutionLevelInheritFromParent: Type = 1; pub const WdfExecutionLevelPassive: Type = 2; }
pub mod _WDF_SYNCHRONIZATION_SCOPE { pub type Type = i32; pub const WdfSynchronizationScopeInheritFromParent: Type = 1; }
pub mod _WDF_TRI_STATE { pub type Type = i32; pub const WdfUseDefault: Type = 2; }
pub mod _WDF_IO_QUEUE_DISPATCH_TYPE { pub type Type = i32; pub const WdfIoQueueDispatchParallel: Type = 2; }
pub mod _WDF_FILEOBJECT_CLASS { pub type Type = i32; pub const WdfFileObjectWdfCannotUseFsContexts: Type = 4; }
pub mod _WDF_IO_TARGET_OPEN_TYPE { pub type Type = i32; pub const WdfIoTargetOpenByName: Type = 2; }
pub type PFN_WDF_OBJECT_CONTEXT_CLEANUP = Option<unsafe extern "C" fn(Object: WDFOBJECT)>;
pub type PFN_WDF_OBJECT_CONTEXT_DESTROY = Option<unsafe extern "C" fn(Object: WDFOBJECT)>;
pub type PFN_GET_UNIQUE_CONTEXT_TYPE = Option<unsafe extern "C" fn() -> PCWDF_OBJECT_CONTEXT_TYPE_INFO>;
#[repr(C)] #[derive(Clone, Copy, Debug)]
pub struct _WDF_OBJECT_CONTEXT_TYPE_INFO { pub Size: ULONG, pub ContextName: LPCSTR, pub ContextSize: usize, pub UniqueType: PCWDF_OBJECT_CONTEXT_TYPE_INFO, pub EvtDriverGetUniqueContextType: PFN_GET_UNIQUE_CONTEXT_TYPE }
pub type WDF_OBJECT_CONTEXT_TYPE_INFO = _WDF_OBJECT_CONTEXT_TYPE_INFO;
pub type PCWDF_OBJECT_CONTEXT_TYPE_INFO = *const _WDF_OBJECT_CONTEXT_TYPE_INFO;
#[repr(C)] #[derive(Clone, Copy, Debug)]
pub struct _WDF_OBJECT_ATTRIBUTES { pub Size: ULONG, pub EvtCleanupCallback: PFN_WDF_OBJECT_CONTEXT_CLEANUP, pub EvtDestroyCallback: PFN_WDF_OBJECT_CONTEXT_DESTROY, pub ExecutionLevel: _WDF_EXECUTION_LEVEL::Type, pub SynchronizationScope: _WDF_SYNCHRONIZATION_SCOPE::Type, pub ParentObject: WDFOBJECT, pub ContextSizeOverride: usize, pub ContextTypeInfo: PCWDF_OBJECT_CONTEXT_TYPE_INFO }
impl Default for _WDF_OBJECT_ATTRIBUTES { fn default() -> Self { unsafe { core::mem::zeroed() } } }
pub type WDF_OBJECT_ATTRIBUTES = _WDF_OBJECT_ATTRIBUTES; pub type PWDF_OBJECT_ATTRIBUTES = *mut WDF_OBJECT_ATTRIBUTES;
pub type PFN_WDF_DRIVER_DEVICE_ADD = Option<unsafe extern "C" fn(Driver: WDFDRIVER, DeviceInit: PWDFDEVICE_INIT) -> NTSTATUS>;
pub type PFN_WDF_DRIVER_UNLOAD = Option<unsafe extern "C" fn(Driver: WDFDRIVER)>;
#[repr(C)] pub struct _WDF_DRIVER_CONFIG { pub Size: ULONG, pub EvtDriverDeviceAdd: PFN_WDF_DRIVER_DEVICE_ADD, pub EvtDriverUnload: PFN_WDF_DRIVER_UNLOAD, pub DriverInitFlags: ULONG, pub DriverPoolTag: ULONG }
pub type WDF_DRIVER_CONFIG = _WDF_DRIVER_CONFIG; pub type PWDF_DRIVER_CONFIG = *mut WDF_DRIVER_CONFIG;
pub type PFN_WDF_DEVICE_FILE_CREATE = Option<unsafe extern "C" fn(Device: WDFDEVICE, Request: WDFREQUEST, FileObject: WDFFILEOBJECT)>;
pub type PFN_WDF_FILE_CLOSE = Option<unsafe extern "C" fn(FileObject: WDFFILEOBJECT)>;
pub type PFN_WDF_FILE_CLEANUP = Option<unsafe extern "C" fn(FileObject: WDFFILEOBJECT)>;
#[repr(C)] pub struct _WDF_FILEOBJECT_CONFIG { pub Size: ULONG, pub EvtDeviceFileCreate: PFN_WDF_DEVICE_FILE_CREATE, pub EvtFileClose: PFN_WDF_FILE_CLOSE, pub EvtFileCleanup: PFN_WDF_FILE_CLEANUP, pub AutoForwardCleanupClose: _WDF_TRI_STATE::Type, pub FileObjectClass: _WDF_FILEOBJECT_CLASS::Type }
pub type WDF_FILEOBJECT_CONFIG = _WDF_FILEOBJECT_CONFIG; pub type PWDF_FILEOBJECT_CONFIG = *mut WDF_FILEOBJECT_CONFIG;
pub type PFN_WDF_IO_QUEUE_IO_DEVICE_CONTROL = Option<unsafe extern "C" fn(Queue: WDFQUEUE, Request: WDFREQUEST, OutputBufferLength: usize, InputBufferLength: usize, IoControlCode: ULONG)>;
pub type PFN_WDF_IO_QUEUE_IO_DEFAULT = Option<unsafe extern "C" fn(Queue: WDFQUEUE, Request: WDFREQUEST)>;
pub type PFN_WDF_IO_QUEUE_STATE = Option<unsafe extern "C" fn(Queue: WDFQUEUE, Context: WDFCONTEXT)>;
#[repr(C)] #[derive(Clone, Copy, Default)] pub struct _WDF_IO_QUEUE_CONFIG__bindgen_ty_1__bindgen_ty_1 { pub NumberOfPresentedRequests: ULONG }
#[repr(C)] #[derive(Clone, Copy)] pub union _WDF_IO_QUEUE_CONFIG__bindgen_ty_1 { pub Parallel: _WDF_IO_QUEUE_CONFIG__bindgen_ty_1__bindgen_ty_1 }
#[repr(C)] pub struct _WDF_IO_QUEUE_CONFIG { pub Size: ULONG, pub DispatchType: _WDF_IO_QUEUE_DISPATCH_TYPE::Type, pub PowerManaged: _WDF_TRI_STATE::Type, pub AllowZeroLengthRequests: BOOLEAN, pub DefaultQueue: BOOLEAN, pub EvtIoDefault: PFN_WDF_IO_QUEUE_IO_DEFAULT, pub EvtIoDeviceControl: PFN_WDF_IO_QUEUE_IO_DEVICE_CONTROL, pub Settings: _WDF_IO_QUEUE_CONFIG__bindgen_ty_1, pub Driver: WDFDRIVER }
impl Default for _WDF_IO_QUEUE_CONFIG { fn default() -> Self { unsafe { core::mem::zeroed() } } }
pub type WDF_IO_QUEUE_CONFIG = _WDF_IO_QUEUE_CONFIG; pub type PWDF_IO_QUEUE_CONFIG = *mut WDF_IO_QUEUE_CONFIG;
#[repr(C)] pub struct _WDF_IO_TARGET_OPEN_PARAMS { pub Size: ULONG, pub Type: _WDF_IO_TARGET_OPEN_TYPE::Type, pub TargetDeviceObject: PDEVICE_OBJECT, pub TargetFileObject: PFILE_OBJECT, pub TargetDeviceName: UNICODE_STRING, pub DesiredAccess: ACCESS_MASK, pub ShareAccess: ULONG, pub FileAttributes: ULONG, pub CreateDisposition: ULONG, pub CreateOptions: ULONG, pub EaBuffer: PVOID, pub EaBufferLength: ULONG, pub AllocationSize: *mut LONGLONG, pub FileInformation: ULONG, pub FileName: UNICODE_STRING }
impl Default for _WDF_IO_TARGET_OPEN_PARAMS { fn default() -> Self { unsafe { core::mem::zeroed() } } }
pub type WDF_IO_TARGET_OPEN_PARAMS = _WDF_IO_TARGET_OPEN_PARAMS; pub type PWDF_IO_TARGET_OPEN_PARAMS = *mut WDF_IO_TARGET_OPEN_PARAMS;
#[repr(C)] pub struct _WDF_REQUEST_COMPLETION_PARAMS { pub Size: ULONG, pub Type: i32, pub IoStatus: IO_STATUS_BLOCK }
pub type PWDF_REQUEST_COMPLETION_PARAMS = *mut _WDF_REQUEST_COMPLETION_PARAMS;
pub type PFN_WDF_REQUEST_COMPLETION_ROUTINE = Option<unsafe extern "C" fn(Request: WDFREQUEST, Target: WDFIOTARGET, Params: PWDF_REQUEST_COMPLETION_PARAMS, Context: WDFCONTEXT)>;
pub type PWDFMEMORY_OFFSET = *mut c_void;
pub type PWDF_REQUEST_SEND_OPTIONS = *mut c_void;

pub type KIRQL = u8;
pub type EX_SPIN_LOCK = LONG;
pub type LONG_PTR = i64;
pub type HANDLE = PVOID;
#[repr(C)] pub struct _OBJECT_TYPE { _u: [u8; 0] }
pub type POBJECT_TYPE = *mut _OBJECT_TYPE;
pub type POBJECT_HANDLE_INFORMATION = PVOID;
unsafe extern "C" { pub static mut IoFileObjectType: *mut POBJECT_TYPE; }
#[repr(C)] pub struct _ECP_LIST { _u: [u8; 0] }
pub type PECP_LIST = *mut _ECP_LIST;
pub mod _POOL_TYPE { pub type Type = i32; pub const NonPagedPoolNx: Type = 512; }
pub type POOL_TYPE = _POOL_TYPE::Type;
pub mod _WORK_QUEUE_TYPE { pub type Type = i32; pub const DelayedWorkQueue: Type = 1; }
pub type WORK_QUEUE_TYPE = _WORK_QUEUE_TYPE::Type;
#[repr(C)] #[derive(Clone, Copy)] pub struct _IO_SECURITY_CONTEXT { pub SecurityQos: PVOID, pub AccessState: PVOID, pub DesiredAccess: ACCESS_MASK, pub FullCreateOptions: ULONG }
pub type PIO_SECURITY_CONTEXT = *mut _IO_SECURITY_CONTEXT;
pub type PMDL = PVOID;
pub mod _WDF_REQUEST_TYPE { pub type Type = i32; pub const WdfRequestTypeDeviceControl: Type = 14; }
#[repr(C)] #[derive(Clone, Copy, Default)] pub struct _WDF_REQUEST_PARAMETERS__bindgen_ty_1__bindgen_ty_5 { pub OutputBufferLength: usize, pub InputBufferLength: usize, pub IoControlCode: ULONG, pub Type3InputBuffer: PVOID2 }
pub type PVOID2 = usize;
#[repr(C)] #[derive(Clone, Copy)] pub union _WDF_REQUEST_PARAMETERS__bindgen_ty_1 { pub DeviceIoControl: _WDF_REQUEST_PARAMETERS__bindgen_ty_1__bindgen_ty_5 }
#[repr(C)] pub struct _WDF_REQUEST_PARAMETERS { pub Size: USHORT, pub MinorFunction: UCHAR, pub Type: _WDF_REQUEST_TYPE::Type, pub Parameters: _WDF_REQUEST_PARAMETERS__bindgen_ty_1 }
impl Default for _WDF_REQUEST_PARAMETERS { fn default() -> Self { unsafe { core::mem::zeroed() } } }
pub type WDF_REQUEST_PARAMETERS = _WDF_REQUEST_PARAMETERS;
pub type PFN_WDF_IO_IN_CALLER_CONTEXT = Option<unsafe extern "C" fn(Device: WDFDEVICE, Request: WDFREQUEST)>;

pub mod ntddk {
    use super::*;
    unsafe extern "C" {
        pub fn ExAcquireSpinLockExclusive(SpinLock: *mut EX_SPIN_LOCK) -> KIRQL;
        pub fn ExReleaseSpinLockExclusive(SpinLock: *mut EX_SPIN_LOCK, OldIrql: KIRQL);
        #[must_use] pub fn ExUuidCreate(Uuid: *mut GUID) -> NTSTATUS;
        #[must_use] pub fn ObReferenceObjectByHandle(Handle: HANDLE, DesiredAccess: ACCESS_MASK, ObjectType: POBJECT_TYPE, AccessMode: KPROCESSOR_MODE, Object: *mut PVOID, HandleInformation: POBJECT_HANDLE_INFORMATION) -> NTSTATUS;
        pub fn ObfDereferenceObject(Object: PVOID) -> LONG_PTR;
        pub fn DbgPrintEx(ComponentId: ULONG, Level: ULONG, Format: PCSTR, ...) -> ULONG;
        pub fn KeInitializeEvent(Event: PRKEVENT, Type: EVENT_TYPE, State: BOOLEAN);
        pub fn KeClearEvent(Event: PRKEVENT);
        pub fn KeSetEvent(Event: PRKEVENT, Increment: KPRIORITY, Wait: BOOLEAN) -> LONG;
        #[must_use]
        pub fn KeWaitForSingleObject(Object: PVOID, WaitReason: KWAIT_REASON, WaitMode: KPROCESSOR_MODE, Alertable: BOOLEAN, Timeout: PLARGE_INTEGER) -> NTSTATUS;
        pub fn KeGetCurrentIrql() -> u8;
    }
}

#[macro_export]
macro_rules! PAGED_CODE {
    () => { debug_assert!(unsafe { $crate::ntddk::KeGetCurrentIrql() <= $crate::APC_LEVEL as u8 }); };
}

#[doc(hidden)]
pub mod wdf_stubs {
    use super::*;
    pub unsafe fn WdfDriverCreate(_d: PDRIVER_OBJECT, _r: PCUNICODE_STRING, _a: PWDF_OBJECT_ATTRIBUTES, _c: PWDF_DRIVER_CONFIG, _o: *mut WDFDRIVER) -> NTSTATUS { 0 }
    pub unsafe fn WdfControlDeviceInitAllocate(_d: WDFDRIVER, _s: *const UNICODE_STRING) -> PWDFDEVICE_INIT { core::ptr::null_mut() }
    pub unsafe fn WdfDeviceInitFree(_i: PWDFDEVICE_INIT) {}
    pub unsafe fn WdfDeviceInitAssignName(_i: PWDFDEVICE_INIT, _n: PCUNICODE_STRING) -> NTSTATUS { 0 }
    pub unsafe fn WdfDeviceInitSetFileObjectConfig(_i: PWDFDEVICE_INIT, _c: PWDF_FILEOBJECT_CONFIG, _a: PWDF_OBJECT_ATTRIBUTES) {}
    pub unsafe fn WdfDeviceInitSetRequestAttributes(_i: PWDFDEVICE_INIT, _a: PWDF_OBJECT_ATTRIBUTES) {}
    pub unsafe fn WdfDeviceCreate(_i: *mut PWDFDEVICE_INIT, _a: PWDF_OBJECT_ATTRIBUTES, _d: *mut WDFDEVICE) -> NTSTATUS { 0 }
    pub unsafe fn WdfDeviceCreateSymbolicLink(_d: WDFDEVICE, _n: PCUNICODE_STRING) -> NTSTATUS { 0 }
    pub unsafe fn WdfIoQueueCreate(_d: WDFDEVICE, _c: PWDF_IO_QUEUE_CONFIG, _a: PWDF_OBJECT_ATTRIBUTES, _q: *mut WDFQUEUE) -> NTSTATUS { 0 }
    pub unsafe fn WdfControlFinishInitializing(_d: WDFDEVICE) {}
    pub unsafe fn WdfObjectDelete(_o: WDFOBJECT) {}
    pub unsafe fn WdfObjectGetTypedContextWorker(_o: WDFOBJECT, _t: PCWDF_OBJECT_CONTEXT_TYPE_INFO) -> PVOID { core::ptr::null_mut() }
    pub unsafe fn WdfObjectReferenceActual(_o: WDFOBJECT, _t: PVOID, _l: LONG, _f: PCCH) {}
    pub unsafe fn WdfObjectDereferenceActual(_o: WDFOBJECT, _t: PVOID, _l: LONG, _f: PCCH) {}
    pub unsafe fn WdfSpinLockCreate(_a: PWDF_OBJECT_ATTRIBUTES, _l: *mut WDFSPINLOCK) -> NTSTATUS { 0 }
    pub unsafe fn WdfSpinLockAcquire(_l: WDFSPINLOCK) {}
    pub unsafe fn WdfSpinLockRelease(_l: WDFSPINLOCK) {}
    pub unsafe fn WdfRequestSetCompletionRoutine(_r: WDFREQUEST, _c: PFN_WDF_REQUEST_COMPLETION_ROUTINE, _x: WDFCONTEXT) {}
    pub unsafe fn WdfRequestSend(_r: WDFREQUEST, _t: WDFIOTARGET, _o: PWDF_REQUEST_SEND_OPTIONS) -> BOOLEAN { 0 }
    pub unsafe fn WdfRequestGetStatus(_r: WDFREQUEST) -> NTSTATUS { 0 }
    pub unsafe fn WdfRequestComplete(_r: WDFREQUEST, _s: NTSTATUS) {}
    pub unsafe fn WdfRequestCompleteWithInformation(_r: WDFREQUEST, _s: NTSTATUS, _i: ULONG_PTR) {}
    pub unsafe fn WdfRequestCancelSentRequest(_r: WDFREQUEST) -> BOOLEAN { 0 }
    pub unsafe fn WdfRequestRetrieveInputBuffer(_r: WDFREQUEST, _m: usize, _b: *mut PVOID, _l: *mut usize) -> NTSTATUS { 0 }
    pub unsafe fn WdfRequestRetrieveOutputBuffer(_r: WDFREQUEST, _m: usize, _b: *mut PVOID, _l: *mut usize) -> NTSTATUS { 0 }
    pub unsafe fn WdfRequestRetrieveOutputMemory(_r: WDFREQUEST, _m: *mut WDFMEMORY) -> NTSTATUS { 0 }
    pub unsafe fn WdfRequestGetFileObject(_r: WDFREQUEST) -> WDFFILEOBJECT { core::ptr::null_mut() }
    pub unsafe fn WdfIoTargetGetDevice(_t: WDFIOTARGET) -> WDFDEVICE { core::ptr::null_mut() }
    pub unsafe fn WdfIoTargetCreate(_d: WDFDEVICE, _a: PWDF_OBJECT_ATTRIBUTES, _t: *mut WDFIOTARGET) -> NTSTATUS { 0 }
    pub unsafe fn WdfIoTargetOpen(_t: WDFIOTARGET, _p: PWDF_IO_TARGET_OPEN_PARAMS) -> NTSTATUS { 0 }
    pub unsafe fn WdfIoTargetClose(_t: WDFIOTARGET) {}
    pub unsafe fn WdfIoTargetFormatRequestForRead(_t: WDFIOTARGET, _r: WDFREQUEST, _m: WDFMEMORY, _o: PWDFMEMORY_OFFSET, _d: *mut LONGLONG) -> NTSTATUS { 0 }
    pub unsafe fn WdfIoTargetWdmGetTargetDeviceObject(_t: WDFIOTARGET) -> PDEVICE_OBJECT { core::ptr::null_mut() }
    pub unsafe fn WdfDeviceWdmGetDeviceObject(_d: WDFDEVICE) -> PDEVICE_OBJECT { core::ptr::null_mut() }
    pub unsafe fn WdfIoQueueGetDevice(_q: WDFQUEUE) -> WDFDEVICE { core::ptr::null_mut() }
    pub unsafe fn WdfFileObjectGetDevice(_f: WDFFILEOBJECT) -> WDFDEVICE { core::ptr::null_mut() }
    pub unsafe fn WdfDeviceGetDefaultQueue(_d: WDFDEVICE) -> WDFQUEUE { core::ptr::null_mut() }
    pub unsafe fn WdfDeviceEnqueueRequest(_d: WDFDEVICE, _r: WDFREQUEST) -> NTSTATUS { 0 }
    pub unsafe fn WdfRequestGetParameters(_r: WDFREQUEST, _p: *mut WDF_REQUEST_PARAMETERS) {}
    pub unsafe fn WdfDeviceInitSetIoInCallerContextCallback(_i: PWDFDEVICE_INIT, _c: PFN_WDF_IO_IN_CALLER_CONTEXT) {}
    pub unsafe fn WdfIoQueueStop(_q: WDFQUEUE, _c: PFN_WDF_IO_QUEUE_STATE, _x: WDFCONTEXT) {}
}

#[macro_export]
macro_rules! call_unsafe_wdf_function_binding {
    ($name:ident $(, $arg:expr)* $(,)?) => { $crate::wdf_stubs::$name($($arg),*) };
}
