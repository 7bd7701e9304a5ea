//! Writes the Filter Manager declarations the driver includes from OUT_DIR (on Windows, bindgen
//! generates them from fltKernel.h).
fn main() {
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("fltmgr.rs");
    std::fs::write(out, r#"
#[allow(unused_imports, clippy::wildcard_imports)]
use wdk_sys::*;
pub enum _FLT_FILTER {}
pub type PFLT_FILTER = *mut _FLT_FILTER;
pub enum _FLT_VOLUME {}
pub type PFLT_VOLUME = *mut _FLT_VOLUME;
pub enum _FLT_INSTANCE {}
pub type PFLT_INSTANCE = *mut _FLT_INSTANCE;
pub type PFLT_CONTEXT = PVOID;
pub enum _FLT_GENERIC_WORKITEM {}
pub type PFLT_GENERIC_WORKITEM = *mut _FLT_GENERIC_WORKITEM;
pub type PFLT_GENERIC_WORKITEM_ROUTINE = Option<unsafe extern "C" fn(FltWorkItem: PFLT_GENERIC_WORKITEM, FltObject: PVOID, Context: PVOID)>;
pub mod _FLT_SET_CONTEXT_OPERATION { pub type Type = i32; pub const FLT_SET_CONTEXT_REPLACE_IF_EXISTS: Type = 0; pub const FLT_SET_CONTEXT_KEEP_IF_EXISTS: Type = 1; }
pub use self::_FLT_SET_CONTEXT_OPERATION::Type as FLT_SET_CONTEXT_OPERATION;
pub type FLT_INSTANCE_TEARDOWN_FLAGS = ULONG;
#[repr(C)] #[derive(Clone, Copy)] pub struct _FLT_PARAMETERS__bindgen_ty_1 { pub SecurityContext: PIO_SECURITY_CONTEXT, pub Options: ULONG, pub FileAttributes: USHORT, pub ShareAccess: USHORT, pub EaLength: ULONG, pub EaBuffer: PVOID, pub AllocationSize: LARGE_INTEGER }
#[repr(C)] #[derive(Clone, Copy)] pub struct _FLT_PARAMETERS__bindgen_ty_19__bindgen_ty_2 { pub OutputBufferLength: ULONG, pub InputBufferLength: ULONG, pub FsControlCode: ULONG }
#[repr(C)] #[derive(Clone, Copy)] pub struct _FLT_PARAMETERS__bindgen_ty_19__bindgen_ty_4 { pub OutputBufferLength: ULONG, pub InputBufferLength: ULONG, pub FsControlCode: ULONG, pub SystemBuffer: PVOID }
#[repr(C)] #[derive(Clone, Copy)] pub union _FLT_PARAMETERS__bindgen_ty_19 { pub Common: _FLT_PARAMETERS__bindgen_ty_19__bindgen_ty_2, pub Buffered: _FLT_PARAMETERS__bindgen_ty_19__bindgen_ty_4 }
#[repr(C)] #[derive(Clone, Copy)] pub union _FLT_PARAMETERS { pub Create: _FLT_PARAMETERS__bindgen_ty_1, pub FileSystemControl: _FLT_PARAMETERS__bindgen_ty_19 }
pub type FLT_PARAMETERS = _FLT_PARAMETERS;
#[repr(C)] pub struct _FLT_IO_PARAMETER_BLOCK { pub IrpFlags: ULONG, pub MajorFunction: UCHAR, pub MinorFunction: UCHAR, pub OperationFlags: UCHAR, pub Reserved: UCHAR, pub TargetFileObject: PFILE_OBJECT, pub TargetInstance: PFLT_INSTANCE, pub Parameters: FLT_PARAMETERS }
pub type PFLT_IO_PARAMETER_BLOCK = *mut _FLT_IO_PARAMETER_BLOCK;
#[repr(C)] pub struct _FLT_CALLBACK_DATA { pub Flags: ULONG, pub Thread: PVOID, pub Iopb: PFLT_IO_PARAMETER_BLOCK, pub IoStatus: IO_STATUS_BLOCK, pub TagData: PVOID, pub __bindgen_anon_1: [PVOID; 4], pub RequestorMode: KPROCESSOR_MODE }
#[repr(C)] pub struct _FLT_RELATED_OBJECTS { pub Size: USHORT, pub TransactionContext: USHORT, pub Filter: PFLT_FILTER, pub Volume: PFLT_VOLUME, pub Instance: PFLT_INSTANCE, pub FileObject: PFILE_OBJECT, pub Transaction: PVOID }
pub type PFLT_CALLBACK_DATA = *mut _FLT_CALLBACK_DATA;
pub type PCFLT_RELATED_OBJECTS = *const _FLT_RELATED_OBJECTS;
pub type FLT_CONTEXT_TYPE = USHORT;
pub type FLT_CONTEXT_REGISTRATION_FLAGS = USHORT;
pub type FLT_FILTER_UNLOAD_FLAGS = ULONG;
pub type FLT_INSTANCE_SETUP_FLAGS = ULONG;
pub type FLT_POST_OPERATION_FLAGS = ULONG;
pub type FLT_REGISTRATION_FLAGS = ULONG;
pub type FLT_OPERATION_REGISTRATION_FLAGS = ULONG;
pub mod _FLT_PREOP_CALLBACK_STATUS { pub type Type = i32; pub const FLT_PREOP_SUCCESS_WITH_CALLBACK: Type = 0; pub const FLT_PREOP_SUCCESS_NO_CALLBACK: Type = 1; }
pub use self::_FLT_PREOP_CALLBACK_STATUS::Type as FLT_PREOP_CALLBACK_STATUS;
pub mod _FLT_POSTOP_CALLBACK_STATUS { pub type Type = i32; pub const FLT_POSTOP_FINISHED_PROCESSING: Type = 0; }
pub use self::_FLT_POSTOP_CALLBACK_STATUS::Type as FLT_POSTOP_CALLBACK_STATUS;
pub mod _FLT_FILESYSTEM_TYPE { pub type Type = i32; pub const FLT_FSTYPE_NTFS: Type = 2; pub const FLT_FSTYPE_REFS: Type = 27; }
pub use self::_FLT_FILESYSTEM_TYPE::Type as FLT_FILESYSTEM_TYPE;
pub type PFLT_CONTEXT_CLEANUP_CALLBACK = Option<unsafe extern "C" fn(Context: PVOID, ContextType: FLT_CONTEXT_TYPE)>;
pub type PFLT_CONTEXT_ALLOCATE_CALLBACK = Option<unsafe extern "C" fn(PoolType: i32, Size: SIZE_T, ContextType: FLT_CONTEXT_TYPE) -> PVOID>;
pub type PFLT_CONTEXT_FREE_CALLBACK = Option<unsafe extern "C" fn(Pool: PVOID, ContextType: FLT_CONTEXT_TYPE)>;
#[repr(C)] pub struct _FLT_CONTEXT_REGISTRATION { pub ContextType: FLT_CONTEXT_TYPE, pub Flags: FLT_CONTEXT_REGISTRATION_FLAGS, pub ContextCleanupCallback: PFLT_CONTEXT_CLEANUP_CALLBACK, pub Size: SIZE_T, pub PoolTag: ULONG, pub ContextAllocateCallback: PFLT_CONTEXT_ALLOCATE_CALLBACK, pub ContextFreeCallback: PFLT_CONTEXT_FREE_CALLBACK, pub Reserved1: PVOID }
pub type FLT_CONTEXT_REGISTRATION = _FLT_CONTEXT_REGISTRATION;
pub type PFLT_PRE_OPERATION_CALLBACK = Option<unsafe extern "C" fn(Data: PFLT_CALLBACK_DATA, FltObjects: PCFLT_RELATED_OBJECTS, CompletionContext: *mut PVOID) -> FLT_PREOP_CALLBACK_STATUS>;
pub type PFLT_POST_OPERATION_CALLBACK = Option<unsafe extern "C" fn(Data: PFLT_CALLBACK_DATA, FltObjects: PCFLT_RELATED_OBJECTS, CompletionContext: PVOID, Flags: FLT_POST_OPERATION_FLAGS) -> FLT_POSTOP_CALLBACK_STATUS>;
#[repr(C)] pub struct _FLT_OPERATION_REGISTRATION { pub MajorFunction: UCHAR, pub Flags: FLT_OPERATION_REGISTRATION_FLAGS, pub PreOperation: PFLT_PRE_OPERATION_CALLBACK, pub PostOperation: PFLT_POST_OPERATION_CALLBACK, pub Reserved1: PVOID }
pub type FLT_OPERATION_REGISTRATION = _FLT_OPERATION_REGISTRATION;
pub type PFLT_FILTER_UNLOAD_CALLBACK = Option<unsafe extern "C" fn(Flags: FLT_FILTER_UNLOAD_FLAGS) -> NTSTATUS>;
pub type PFLT_INSTANCE_SETUP_CALLBACK = Option<unsafe extern "C" fn(FltObjects: PCFLT_RELATED_OBJECTS, Flags: FLT_INSTANCE_SETUP_FLAGS, VolumeDeviceType: ULONG, VolumeFilesystemType: FLT_FILESYSTEM_TYPE) -> NTSTATUS>;
pub type PFLT_INSTANCE_QUERY_TEARDOWN_CALLBACK = Option<unsafe extern "C" fn(FltObjects: PCFLT_RELATED_OBJECTS, Flags: ULONG) -> NTSTATUS>;
pub type PFLT_INSTANCE_TEARDOWN_CALLBACK = Option<unsafe extern "C" fn(FltObjects: PCFLT_RELATED_OBJECTS, Reason: ULONG)>;
pub type PFLT_GENERATE_FILE_NAME = Option<unsafe extern "C" fn()>;
pub type PFLT_NORMALIZE_NAME_COMPONENT = Option<unsafe extern "C" fn()>;
pub type PFLT_NORMALIZE_CONTEXT_CLEANUP = Option<unsafe extern "C" fn()>;
pub type PFLT_TRANSACTION_NOTIFICATION_CALLBACK = Option<unsafe extern "C" fn()>;
pub type PFLT_NORMALIZE_NAME_COMPONENT_EX = Option<unsafe extern "C" fn()>;
pub type PFLT_SECTION_CONFLICT_NOTIFICATION_CALLBACK = Option<unsafe extern "C" fn()>;
#[repr(C)] pub struct _FLT_REGISTRATION { pub Size: USHORT, pub Version: USHORT, pub Flags: FLT_REGISTRATION_FLAGS, pub ContextRegistration: *const FLT_CONTEXT_REGISTRATION, pub OperationRegistration: *const FLT_OPERATION_REGISTRATION, pub FilterUnloadCallback: PFLT_FILTER_UNLOAD_CALLBACK, pub InstanceSetupCallback: PFLT_INSTANCE_SETUP_CALLBACK, pub InstanceQueryTeardownCallback: PFLT_INSTANCE_QUERY_TEARDOWN_CALLBACK, pub InstanceTeardownStartCallback: PFLT_INSTANCE_TEARDOWN_CALLBACK, pub InstanceTeardownCompleteCallback: PFLT_INSTANCE_TEARDOWN_CALLBACK, pub GenerateFileNameCallback: PFLT_GENERATE_FILE_NAME, pub NormalizeNameComponentCallback: PFLT_NORMALIZE_NAME_COMPONENT, pub NormalizeContextCleanupCallback: PFLT_NORMALIZE_CONTEXT_CLEANUP, pub TransactionNotificationCallback: PFLT_TRANSACTION_NOTIFICATION_CALLBACK, pub NormalizeNameComponentExCallback: PFLT_NORMALIZE_NAME_COMPONENT_EX, pub SectionNotificationCallback: PFLT_SECTION_CONFLICT_NOTIFICATION_CALLBACK }
pub type FLT_REGISTRATION = _FLT_REGISTRATION;
unsafe extern "C" {
    #[must_use] pub fn FltRegisterFilter(Driver: PDRIVER_OBJECT, Registration: *const FLT_REGISTRATION, RetFilter: *mut PFLT_FILTER) -> NTSTATUS;
    #[must_use] pub fn FltStartFiltering(Filter: PFLT_FILTER) -> NTSTATUS;
    pub fn FltUnregisterFilter(Filter: PFLT_FILTER);
    #[must_use] pub fn FltIsVolumeWritable(FltObject: PVOID, IsWritable: PBOOLEAN) -> NTSTATUS;
    #[must_use] pub fn FltGetEcpListFromCallbackData(Filter: PFLT_FILTER, CallbackData: PFLT_CALLBACK_DATA, EcpList: *mut PECP_LIST) -> NTSTATUS;
    #[must_use] pub fn FltGetNextExtraCreateParameter(Filter: PFLT_FILTER, EcpList: PECP_LIST, CurrentEcpContext: PVOID, NextEcpType: *mut GUID, NextEcpContext: *mut PVOID, NextEcpContextSize: *mut ULONG) -> NTSTATUS;
    pub fn FltIsEcpFromUserMode(Filter: PFLT_FILTER, EcpContext: PVOID) -> BOOLEAN;
    #[must_use] pub fn FltAllocateContext(Filter: PFLT_FILTER, ContextType: FLT_CONTEXT_TYPE, ContextSize: SIZE_T, PoolType: POOL_TYPE, ReturnedContext: *mut PFLT_CONTEXT) -> NTSTATUS;
    pub fn FltReleaseContext(Context: PFLT_CONTEXT);
    #[must_use] pub fn FltGetStreamContext(Instance: PFLT_INSTANCE, FileObject: PFILE_OBJECT, Context: *mut PFLT_CONTEXT) -> NTSTATUS;
    #[must_use] pub fn FltSetStreamContext(Instance: PFLT_INSTANCE, FileObject: PFILE_OBJECT, Operation: FLT_SET_CONTEXT_OPERATION, NewContext: PFLT_CONTEXT, OldContext: *mut PFLT_CONTEXT) -> NTSTATUS;
    #[must_use] pub fn FltGetStreamHandleContext(Instance: PFLT_INSTANCE, FileObject: PFILE_OBJECT, Context: *mut PFLT_CONTEXT) -> NTSTATUS;
    #[must_use] pub fn FltSetStreamHandleContext(Instance: PFLT_INSTANCE, FileObject: PFILE_OBJECT, Operation: FLT_SET_CONTEXT_OPERATION, NewContext: PFLT_CONTEXT, OldContext: *mut PFLT_CONTEXT) -> NTSTATUS;
    #[must_use] pub fn FltGetVolumeFromFileObject(Filter: PFLT_FILTER, FileObject: PFILE_OBJECT, RetVolume: *mut PFLT_VOLUME) -> NTSTATUS;
    #[must_use] pub fn FltGetVolumeInstanceFromName(Filter: PFLT_FILTER, Volume: PFLT_VOLUME, InstanceName: PCUNICODE_STRING, RetInstance: *mut PFLT_INSTANCE) -> NTSTATUS;
    pub fn FltObjectDereference(FltObject: PVOID);
    #[must_use] pub fn FltFlushBuffers2(Instance: PFLT_INSTANCE, FileObject: PFILE_OBJECT, FlushType: ULONG, CallbackData: PFLT_CALLBACK_DATA) -> NTSTATUS;
    pub fn FltAllocateGenericWorkItem() -> PFLT_GENERIC_WORKITEM;
    #[must_use] pub fn FltQueueGenericWorkItem(FltWorkItem: PFLT_GENERIC_WORKITEM, FltObject: PVOID, WorkerRoutine: PFLT_GENERIC_WORKITEM_ROUTINE, QueueType: WORK_QUEUE_TYPE, Context: PVOID) -> NTSTATUS;
    pub fn FltFreeGenericWorkItem(FltWorkItem: PFLT_GENERIC_WORKITEM);
}
"#).unwrap();
}
