/* ferrofilter's declarations of the KMDF 1.33 items it (and the windows-drivers-rs crates it
   builds on) uses, written from the KMDF documentation ("WDF Reference": each object's methods,
   events and structures) and the documented function-table binding (WdfFunctions_01033 indexed
   by WDFFUNCENUM; every method takes the driver's WDF_DRIVER_GLOBALS first). The table indices
   are KMDF 1.33's; .ci/real-wdk-check compares every declaration here with the genuine headers. */
#pragma once

typedef struct WDFDRIVER__ { int unused; } *WDFDRIVER;
typedef struct WDFDEVICE__ { int unused; } *WDFDEVICE;
typedef struct WDFQUEUE__ { int unused; } *WDFQUEUE;
typedef struct WDFREQUEST__ { int unused; } *WDFREQUEST;
typedef struct WDFFILEOBJECT__ { int unused; } *WDFFILEOBJECT;
typedef struct WDFIOTARGET__ { int unused; } *WDFIOTARGET;
typedef struct WDFMEMORY__ { int unused; } *WDFMEMORY;
typedef struct WDFSPINLOCK__ { int unused; } *WDFSPINLOCK;
typedef struct WDFTIMER__ { int unused; } *WDFTIMER;
typedef HANDLE WDFOBJECT;
typedef PVOID WDFCONTEXT;
typedef struct WDFDEVICE_INIT *PWDFDEVICE_INIT;
typedef VOID (*WDFFUNC)(VOID);

#define WDF_DRIVER_GLOBALS_NAME_LEN 32

typedef struct _WDF_DRIVER_GLOBALS {
    WDFDRIVER Driver;
    ULONG DriverFlags;
    ULONG DriverTag;
    CHAR DriverName[WDF_DRIVER_GLOBALS_NAME_LEN];
    BOOLEAN DisplaceDriverUnload;
} WDF_DRIVER_GLOBALS, *PWDF_DRIVER_GLOBALS;

/* The binding the loader fills in (WdfDriverEntry.lib on Windows). */
extern const WDFFUNC *WdfFunctions_01033;
extern PWDF_DRIVER_GLOBALS WdfDriverGlobals;
extern ULONG WdfFunctionCount;
/* The lowest KMDF minor version the driver accepts, read by the loader stub at bind time. Defined
   (selectany) in the header, so wdk-sys's wdf.c gives it a linkable definition. */
__declspec(selectany) ULONG WdfMinimumVersionRequired = KMDF_VERSION_MINOR;

typedef enum _WDF_TRI_STATE { WdfFalse = FALSE, WdfTrue = TRUE, WdfUseDefault = 2 } WDF_TRI_STATE;

typedef enum _WDF_EXECUTION_LEVEL {
    WdfExecutionLevelInvalid = 0, WdfExecutionLevelInheritFromParent, WdfExecutionLevelPassive,
    WdfExecutionLevelDispatch
} WDF_EXECUTION_LEVEL;

typedef enum _WDF_SYNCHRONIZATION_SCOPE {
    WdfSynchronizationScopeInvalid = 0, WdfSynchronizationScopeInheritFromParent,
    WdfSynchronizationScopeDevice, WdfSynchronizationScopeQueue, WdfSynchronizationScopeNone
} WDF_SYNCHRONIZATION_SCOPE;

typedef enum _WDF_DRIVER_INIT_FLAGS {
    WdfDriverInitNonPnpDriver = 0x1, WdfDriverInitNoDispatchOverride = 0x2, WdfVerifyOn = 0x4,
    WdfVerifierOn = 0x8, WdfDriverInitCompanion = 0x10
} WDF_DRIVER_INIT_FLAGS;

typedef enum _WDF_IO_QUEUE_DISPATCH_TYPE {
    WdfIoQueueDispatchInvalid = 0, WdfIoQueueDispatchSequential, WdfIoQueueDispatchParallel,
    WdfIoQueueDispatchManual, WdfIoQueueDispatchMax
} WDF_IO_QUEUE_DISPATCH_TYPE;

typedef enum _WDF_FILEOBJECT_CLASS {
    WdfFileObjectInvalid = 0, WdfFileObjectNotRequired = 1, WdfFileObjectWdfCanUseFsContext = 2,
    WdfFileObjectWdfCanUseFsContext2 = 3, WdfFileObjectWdfCannotUseFsContexts = 4,
    WdfFileObjectCanBeOptional = 0x80000000
} WDF_FILEOBJECT_CLASS;

typedef enum _WDF_IO_TARGET_OPEN_TYPE {
    WdfIoTargetOpenUndefined = 0, WdfIoTargetOpenUseExistingDevice = 1, WdfIoTargetOpenByName = 2,
    WdfIoTargetOpenReopen = 3, WdfIoTargetOpenLocalTargetByFile = 4
} WDF_IO_TARGET_OPEN_TYPE;

typedef enum _WDF_REQUEST_TYPE {
    WdfRequestTypeCreate = 0x0, WdfRequestTypeCreateNamedPipe = 0x1, WdfRequestTypeClose = 0x2,
    WdfRequestTypeRead = 0x3, WdfRequestTypeWrite = 0x4, WdfRequestTypeQueryInformation = 0x5,
    WdfRequestTypeSetInformation = 0x6, WdfRequestTypeQueryEA = 0x7, WdfRequestTypeSetEA = 0x8,
    WdfRequestTypeFlushBuffers = 0x9, WdfRequestTypeQueryVolumeInformation = 0xA,
    WdfRequestTypeSetVolumeInformation = 0xB, WdfRequestTypeDirectoryControl = 0xC,
    WdfRequestTypeFileSystemControl = 0xD, WdfRequestTypeDeviceControl = 0xE,
    WdfRequestTypeDeviceControlInternal = 0xF, WdfRequestTypeShutdown = 0x10,
    WdfRequestTypeLockControl = 0x11, WdfRequestTypeCleanup = 0x12,
    WdfRequestTypeCreateMailSlot = 0x13, WdfRequestTypeQuerySecurity = 0x14,
    WdfRequestTypeSetSecurity = 0x15, WdfRequestTypePower = 0x16,
    WdfRequestTypeSystemControl = 0x17, WdfRequestTypeDeviceChange = 0x18,
    WdfRequestTypeQueryQuota = 0x19, WdfRequestTypeSetQuota = 0x1A, WdfRequestTypePnp = 0x1B,
    WdfRequestTypeOther = 0x1C, WdfRequestTypeUsb = 0x40, WdfRequestTypeNoFormat = 0xFF,
    WdfRequestTypeMax
} WDF_REQUEST_TYPE;

/* Event callbacks. */
typedef VOID (*PFN_WDF_OBJECT_CONTEXT_CLEANUP)(WDFOBJECT Object);
typedef VOID (*PFN_WDF_OBJECT_CONTEXT_DESTROY)(WDFOBJECT Object);
typedef NTSTATUS (*PFN_WDF_DRIVER_DEVICE_ADD)(WDFDRIVER Driver, PWDFDEVICE_INIT DeviceInit);
typedef VOID (*PFN_WDF_DRIVER_UNLOAD)(WDFDRIVER Driver);
typedef VOID (*PFN_WDF_DEVICE_FILE_CREATE)(WDFDEVICE Device, WDFREQUEST Request,
                                           WDFFILEOBJECT FileObject);
typedef VOID (*PFN_WDF_FILE_CLOSE)(WDFFILEOBJECT FileObject);
typedef VOID (*PFN_WDF_FILE_CLEANUP)(WDFFILEOBJECT FileObject);
typedef VOID (*PFN_WDF_IO_IN_CALLER_CONTEXT)(WDFDEVICE Device, WDFREQUEST Request);
typedef VOID (*PFN_WDF_IO_QUEUE_IO_DEFAULT)(WDFQUEUE Queue, WDFREQUEST Request);
typedef VOID (*PFN_WDF_IO_QUEUE_IO_READ)(WDFQUEUE Queue, WDFREQUEST Request, size_t Length);
typedef VOID (*PFN_WDF_IO_QUEUE_IO_WRITE)(WDFQUEUE Queue, WDFREQUEST Request, size_t Length);
typedef VOID (*PFN_WDF_IO_QUEUE_IO_DEVICE_CONTROL)(WDFQUEUE Queue, WDFREQUEST Request,
                                                   size_t OutputBufferLength,
                                                   size_t InputBufferLength, ULONG IoControlCode);
typedef VOID (*PFN_WDF_IO_QUEUE_IO_INTERNAL_DEVICE_CONTROL)(WDFQUEUE Queue, WDFREQUEST Request,
                                                            size_t OutputBufferLength,
                                                            size_t InputBufferLength,
                                                            ULONG IoControlCode);
typedef VOID (*PFN_WDF_IO_QUEUE_IO_STOP)(WDFQUEUE Queue, WDFREQUEST Request, ULONG ActionFlags);
typedef VOID (*PFN_WDF_IO_QUEUE_IO_RESUME)(WDFQUEUE Queue, WDFREQUEST Request);
typedef VOID (*PFN_WDF_IO_QUEUE_IO_CANCELED_ON_QUEUE)(WDFQUEUE Queue, WDFREQUEST Request);
typedef VOID (*PFN_WDF_IO_QUEUE_STATE)(WDFQUEUE Queue, WDFCONTEXT Context);
typedef NTSTATUS (*PFN_WDF_IO_TARGET_QUERY_REMOVE)(WDFIOTARGET IoTarget);
typedef VOID (*PFN_WDF_IO_TARGET_REMOVE_CANCELED)(WDFIOTARGET IoTarget);
typedef VOID (*PFN_WDF_IO_TARGET_REMOVE_COMPLETE)(WDFIOTARGET IoTarget);
typedef VOID (*PFN_WDF_TIMER)(WDFTIMER Timer);

/* Structures. */
typedef struct _WDF_OBJECT_CONTEXT_TYPE_INFO WDF_OBJECT_CONTEXT_TYPE_INFO;
typedef const WDF_OBJECT_CONTEXT_TYPE_INFO *PCWDF_OBJECT_CONTEXT_TYPE_INFO;
typedef PCWDF_OBJECT_CONTEXT_TYPE_INFO (*PFN_GET_UNIQUE_CONTEXT_TYPE)(VOID);

struct _WDF_OBJECT_CONTEXT_TYPE_INFO {
    ULONG Size;
    LPCSTR ContextName;
    size_t ContextSize;
    PCWDF_OBJECT_CONTEXT_TYPE_INFO UniqueType;
    PFN_GET_UNIQUE_CONTEXT_TYPE EvtDriverGetUniqueContextType;
};

typedef struct _WDF_OBJECT_ATTRIBUTES {
    ULONG Size;
    PFN_WDF_OBJECT_CONTEXT_CLEANUP EvtCleanupCallback;
    PFN_WDF_OBJECT_CONTEXT_DESTROY EvtDestroyCallback;
    WDF_EXECUTION_LEVEL ExecutionLevel;
    WDF_SYNCHRONIZATION_SCOPE SynchronizationScope;
    WDFOBJECT ParentObject;
    size_t ContextSizeOverride;
    PCWDF_OBJECT_CONTEXT_TYPE_INFO ContextTypeInfo;
} WDF_OBJECT_ATTRIBUTES, *PWDF_OBJECT_ATTRIBUTES;

typedef struct _WDF_DRIVER_CONFIG {
    ULONG Size;
    PFN_WDF_DRIVER_DEVICE_ADD EvtDriverDeviceAdd;
    PFN_WDF_DRIVER_UNLOAD EvtDriverUnload;
    ULONG DriverInitFlags;
    ULONG DriverPoolTag;
} WDF_DRIVER_CONFIG, *PWDF_DRIVER_CONFIG;

typedef struct _WDF_FILEOBJECT_CONFIG {
    ULONG Size;
    PFN_WDF_DEVICE_FILE_CREATE EvtDeviceFileCreate;
    PFN_WDF_FILE_CLOSE EvtFileClose;
    PFN_WDF_FILE_CLEANUP EvtFileCleanup;
    WDF_TRI_STATE AutoForwardCleanupClose;
    WDF_FILEOBJECT_CLASS FileObjectClass;
} WDF_FILEOBJECT_CONFIG, *PWDF_FILEOBJECT_CONFIG;

typedef struct _WDF_IO_QUEUE_CONFIG {
    ULONG Size;
    WDF_IO_QUEUE_DISPATCH_TYPE DispatchType;
    WDF_TRI_STATE PowerManaged;
    BOOLEAN AllowZeroLengthRequests;
    BOOLEAN DefaultQueue;
    PFN_WDF_IO_QUEUE_IO_DEFAULT EvtIoDefault;
    PFN_WDF_IO_QUEUE_IO_READ EvtIoRead;
    PFN_WDF_IO_QUEUE_IO_WRITE EvtIoWrite;
    PFN_WDF_IO_QUEUE_IO_DEVICE_CONTROL EvtIoDeviceControl;
    PFN_WDF_IO_QUEUE_IO_INTERNAL_DEVICE_CONTROL EvtIoInternalDeviceControl;
    PFN_WDF_IO_QUEUE_IO_STOP EvtIoStop;
    PFN_WDF_IO_QUEUE_IO_RESUME EvtIoResume;
    PFN_WDF_IO_QUEUE_IO_CANCELED_ON_QUEUE EvtIoCanceledOnQueue;
    union {
        struct {
            ULONG NumberOfPresentedRequests;
        } Parallel;
    } Settings;
    WDFDRIVER Driver;
} WDF_IO_QUEUE_CONFIG, *PWDF_IO_QUEUE_CONFIG;

typedef struct _WDF_IO_TARGET_OPEN_PARAMS {
    ULONG Size;
    WDF_IO_TARGET_OPEN_TYPE Type;
    PFN_WDF_IO_TARGET_QUERY_REMOVE EvtIoTargetQueryRemove;
    PFN_WDF_IO_TARGET_REMOVE_CANCELED EvtIoTargetRemoveCanceled;
    PFN_WDF_IO_TARGET_REMOVE_COMPLETE EvtIoTargetRemoveComplete;
    PDEVICE_OBJECT TargetDeviceObject;
    PFILE_OBJECT TargetFileObject;
    UNICODE_STRING TargetDeviceName;
    ACCESS_MASK DesiredAccess;
    ULONG ShareAccess;
    ULONG FileAttributes;
    ULONG CreateDisposition;
    ULONG CreateOptions;
    PVOID EaBuffer;
    ULONG EaBufferLength;
    PLONGLONG AllocationSize;
    ULONG FileInformation;
    UNICODE_STRING FileName;
} WDF_IO_TARGET_OPEN_PARAMS, *PWDF_IO_TARGET_OPEN_PARAMS;

typedef struct _WDF_REQUEST_PARAMETERS {
    USHORT Size;
    UCHAR MinorFunction;
    WDF_REQUEST_TYPE Type;
    union {
        struct {
            PIO_SECURITY_CONTEXT SecurityContext;
            ULONG Options;
            USHORT POINTER_ALIGNMENT FileAttributes;
            USHORT ShareAccess;
            ULONG POINTER_ALIGNMENT EaLength;
        } Create;
        struct {
            size_t Length;
            ULONG POINTER_ALIGNMENT Key;
            LONGLONG DeviceOffset;
        } Read;
        struct {
            size_t Length;
            ULONG POINTER_ALIGNMENT Key;
            LONGLONG DeviceOffset;
        } Write;
        struct {
            size_t OutputBufferLength;
            size_t POINTER_ALIGNMENT InputBufferLength;
            ULONG POINTER_ALIGNMENT IoControlCode;
            PVOID Type3InputBuffer;
        } DeviceIoControl;
        struct {
            PVOID Arg1;
            PVOID Arg2;
            ULONG POINTER_ALIGNMENT IoControlCode;
            PVOID Arg4;
        } Others;
    } Parameters;
} WDF_REQUEST_PARAMETERS, *PWDF_REQUEST_PARAMETERS;

typedef struct _WDF_REQUEST_COMPLETION_PARAMS {
    ULONG Size;
    WDF_REQUEST_TYPE Type;
    IO_STATUS_BLOCK IoStatus;
    union {
        struct {
            WDFMEMORY Buffer;
            size_t Length;
            size_t Offset;
        } Write;
        struct {
            WDFMEMORY Buffer;
            size_t Length;
            size_t Offset;
        } Read;
        struct {
            ULONG IoControlCode;
            struct {
                WDFMEMORY Buffer;
                size_t Offset;
            } Input;
            struct {
                WDFMEMORY Buffer;
                size_t Offset;
                size_t Length;
            } Output;
        } Ioctl;
        struct {
            union { PVOID Ptr; ULONG_PTR Value; } Argument1;
            union { PVOID Ptr; ULONG_PTR Value; } Argument2;
            union { PVOID Ptr; ULONG_PTR Value; } Argument3;
            union { PVOID Ptr; ULONG_PTR Value; } Argument4;
        } Others;
        struct {
            struct _WDF_USB_REQUEST_COMPLETION_PARAMS *Completion;
        } Usb;
    } Parameters;
} WDF_REQUEST_COMPLETION_PARAMS, *PWDF_REQUEST_COMPLETION_PARAMS;

typedef struct _WDF_TIMER_CONFIG {
    ULONG Size;
    PFN_WDF_TIMER EvtTimerFunc;
    ULONG Period;
    BOOLEAN AutomaticSerialization;
    ULONG TolerableDelay;
    __declspec(align(8)) BOOLEAN UseHighResolutionTimer;
} WDF_TIMER_CONFIG, *PWDF_TIMER_CONFIG;

typedef struct _WDFMEMORY_OFFSET *PWDFMEMORY_OFFSET;
typedef struct _WDF_REQUEST_SEND_OPTIONS *PWDF_REQUEST_SEND_OPTIONS;
typedef VOID (*PFN_WDF_REQUEST_COMPLETION_ROUTINE)(WDFREQUEST Request, WDFIOTARGET Target,
                                                   PWDF_REQUEST_COMPLETION_PARAMS Params,
                                                   WDFCONTEXT Context);

/* The methods ferrofilter calls, as function-table entries. */
typedef PWDFDEVICE_INIT (*PFN_WDFCONTROLDEVICEINITALLOCATE)(
    PWDF_DRIVER_GLOBALS DriverGlobals, WDFDRIVER Driver, const UNICODE_STRING *SDDLString);
typedef VOID (*PFN_WDFCONTROLFINISHINITIALIZING)(PWDF_DRIVER_GLOBALS DriverGlobals,
                                                 WDFDEVICE Device);
typedef NTSTATUS (*PFN_WDFDEVICECREATE)(PWDF_DRIVER_GLOBALS DriverGlobals,
                                        PWDFDEVICE_INIT *DeviceInit,
                                        PWDF_OBJECT_ATTRIBUTES DeviceAttributes,
                                        WDFDEVICE *Device);
typedef NTSTATUS (*PFN_WDFDEVICECREATESYMBOLICLINK)(PWDF_DRIVER_GLOBALS DriverGlobals,
                                                    WDFDEVICE Device,
                                                    PCUNICODE_STRING SymbolicLinkName);
typedef NTSTATUS (*PFN_WDFDEVICEENQUEUEREQUEST)(PWDF_DRIVER_GLOBALS DriverGlobals,
                                                WDFDEVICE Device, WDFREQUEST Request);
typedef WDFQUEUE (*PFN_WDFDEVICEGETDEFAULTQUEUE)(PWDF_DRIVER_GLOBALS DriverGlobals,
                                                 WDFDEVICE Device);
typedef NTSTATUS (*PFN_WDFDEVICEINITASSIGNNAME)(PWDF_DRIVER_GLOBALS DriverGlobals,
                                                PWDFDEVICE_INIT DeviceInit,
                                                PCUNICODE_STRING DeviceName);
typedef VOID (*PFN_WDFDEVICEINITFREE)(PWDF_DRIVER_GLOBALS DriverGlobals,
                                      PWDFDEVICE_INIT DeviceInit);
typedef VOID (*PFN_WDFDEVICEINITSETFILEOBJECTCONFIG)(PWDF_DRIVER_GLOBALS DriverGlobals,
                                                     PWDFDEVICE_INIT DeviceInit,
                                                     PWDF_FILEOBJECT_CONFIG FileObjectConfig,
                                                     PWDF_OBJECT_ATTRIBUTES FileObjectAttributes);
typedef VOID (*PFN_WDFDEVICEINITSETIOINCALLERCONTEXTCALLBACK)(
    PWDF_DRIVER_GLOBALS DriverGlobals, PWDFDEVICE_INIT DeviceInit,
    PFN_WDF_IO_IN_CALLER_CONTEXT EvtIoInCallerContext);
typedef VOID (*PFN_WDFDEVICEINITSETREQUESTATTRIBUTES)(PWDF_DRIVER_GLOBALS DriverGlobals,
                                                      PWDFDEVICE_INIT DeviceInit,
                                                      PWDF_OBJECT_ATTRIBUTES RequestAttributes);
typedef NTSTATUS (*PFN_WDFDRIVERCREATE)(PWDF_DRIVER_GLOBALS DriverGlobals,
                                        PDRIVER_OBJECT DriverObject, PCUNICODE_STRING RegistryPath,
                                        PWDF_OBJECT_ATTRIBUTES DriverAttributes,
                                        PWDF_DRIVER_CONFIG DriverConfig, WDFDRIVER *Driver);
typedef WDFDEVICE (*PFN_WDFFILEOBJECTGETDEVICE)(PWDF_DRIVER_GLOBALS DriverGlobals,
                                                WDFFILEOBJECT FileObject);
typedef NTSTATUS (*PFN_WDFIOQUEUECREATE)(PWDF_DRIVER_GLOBALS DriverGlobals, WDFDEVICE Device,
                                         PWDF_IO_QUEUE_CONFIG Config,
                                         PWDF_OBJECT_ATTRIBUTES QueueAttributes, WDFQUEUE *Queue);
typedef WDFDEVICE (*PFN_WDFIOQUEUEGETDEVICE)(PWDF_DRIVER_GLOBALS DriverGlobals, WDFQUEUE Queue);
typedef VOID (*PFN_WDFIOQUEUESTART)(PWDF_DRIVER_GLOBALS DriverGlobals, WDFQUEUE Queue);
typedef VOID (*PFN_WDFIOQUEUESTOP)(PWDF_DRIVER_GLOBALS DriverGlobals, WDFQUEUE Queue,
                                   PFN_WDF_IO_QUEUE_STATE StopComplete, WDFCONTEXT Context);
typedef VOID (*PFN_WDFIOTARGETCLOSE)(PWDF_DRIVER_GLOBALS DriverGlobals, WDFIOTARGET IoTarget);
typedef NTSTATUS (*PFN_WDFIOTARGETCREATE)(PWDF_DRIVER_GLOBALS DriverGlobals, WDFDEVICE Device,
                                          PWDF_OBJECT_ATTRIBUTES IoTargetAttributes,
                                          WDFIOTARGET *IoTarget);
typedef NTSTATUS (*PFN_WDFIOTARGETFORMATREQUESTFORREAD)(PWDF_DRIVER_GLOBALS DriverGlobals,
                                                        WDFIOTARGET IoTarget, WDFREQUEST Request,
                                                        WDFMEMORY OutputBuffer,
                                                        PWDFMEMORY_OFFSET OutputBufferOffset,
                                                        PLONGLONG DeviceOffset);
typedef WDFDEVICE (*PFN_WDFIOTARGETGETDEVICE)(PWDF_DRIVER_GLOBALS DriverGlobals,
                                              WDFIOTARGET IoTarget);
typedef NTSTATUS (*PFN_WDFIOTARGETOPEN)(PWDF_DRIVER_GLOBALS DriverGlobals, WDFIOTARGET IoTarget,
                                        PWDF_IO_TARGET_OPEN_PARAMS OpenParams);
typedef VOID (*PFN_WDFOBJECTDELETE)(PWDF_DRIVER_GLOBALS DriverGlobals, WDFOBJECT Object);
typedef VOID (*PFN_WDFOBJECTDEREFERENCEACTUAL)(PWDF_DRIVER_GLOBALS DriverGlobals,
                                               WDFOBJECT Handle, PVOID Tag, LONG Line,
                                               PCCH File);
typedef PVOID (*PFN_WDFOBJECTGETTYPEDCONTEXTWORKER)(PWDF_DRIVER_GLOBALS DriverGlobals,
                                                    WDFOBJECT Handle,
                                                    PCWDF_OBJECT_CONTEXT_TYPE_INFO TypeInfo);
typedef VOID (*PFN_WDFOBJECTREFERENCEACTUAL)(PWDF_DRIVER_GLOBALS DriverGlobals, WDFOBJECT Handle,
                                             PVOID Tag, LONG Line, PCCH File);
typedef NTSTATUS (*PFN_WDFREQUESTCREATE)(PWDF_DRIVER_GLOBALS DriverGlobals,
                                         PWDF_OBJECT_ATTRIBUTES RequestAttributes,
                                         WDFIOTARGET IoTarget, WDFREQUEST *Request);
typedef BOOLEAN (*PFN_WDFREQUESTCANCELSENTREQUEST)(PWDF_DRIVER_GLOBALS DriverGlobals,
                                                   WDFREQUEST Request);
typedef VOID (*PFN_WDFREQUESTCOMPLETEWITHINFORMATION)(PWDF_DRIVER_GLOBALS DriverGlobals,
                                                      WDFREQUEST Request, NTSTATUS Status,
                                                      ULONG_PTR Information);
typedef WDFFILEOBJECT (*PFN_WDFREQUESTGETFILEOBJECT)(PWDF_DRIVER_GLOBALS DriverGlobals,
                                                     WDFREQUEST Request);
typedef VOID (*PFN_WDFREQUESTGETPARAMETERS)(PWDF_DRIVER_GLOBALS DriverGlobals, WDFREQUEST Request,
                                            PWDF_REQUEST_PARAMETERS Parameters);
typedef NTSTATUS (*PFN_WDFREQUESTGETSTATUS)(PWDF_DRIVER_GLOBALS DriverGlobals,
                                            WDFREQUEST Request);
typedef NTSTATUS (*PFN_WDFREQUESTRETRIEVEINPUTBUFFER)(PWDF_DRIVER_GLOBALS DriverGlobals,
                                                      WDFREQUEST Request,
                                                      size_t MinimumRequiredLength, PVOID *Buffer,
                                                      size_t *Length);
typedef NTSTATUS (*PFN_WDFREQUESTRETRIEVEOUTPUTBUFFER)(PWDF_DRIVER_GLOBALS DriverGlobals,
                                                       WDFREQUEST Request,
                                                       size_t MinimumRequiredSize, PVOID *Buffer,
                                                       size_t *Length);
typedef NTSTATUS (*PFN_WDFREQUESTRETRIEVEOUTPUTMEMORY)(PWDF_DRIVER_GLOBALS DriverGlobals,
                                                       WDFREQUEST Request, WDFMEMORY *Memory);
typedef BOOLEAN (*PFN_WDFREQUESTSEND)(PWDF_DRIVER_GLOBALS DriverGlobals, WDFREQUEST Request,
                                      WDFIOTARGET Target, PWDF_REQUEST_SEND_OPTIONS Options);
typedef VOID (*PFN_WDFREQUESTSETCOMPLETIONROUTINE)(
    PWDF_DRIVER_GLOBALS DriverGlobals, WDFREQUEST Request,
    PFN_WDF_REQUEST_COMPLETION_ROUTINE CompletionRoutine, WDFCONTEXT CompletionContext);
typedef VOID (*PFN_WDFSPINLOCKACQUIRE)(PWDF_DRIVER_GLOBALS DriverGlobals, WDFSPINLOCK SpinLock);
typedef NTSTATUS (*PFN_WDFSPINLOCKCREATE)(PWDF_DRIVER_GLOBALS DriverGlobals,
                                          PWDF_OBJECT_ATTRIBUTES SpinLockAttributes,
                                          WDFSPINLOCK *SpinLock);
typedef VOID (*PFN_WDFSPINLOCKRELEASE)(PWDF_DRIVER_GLOBALS DriverGlobals, WDFSPINLOCK SpinLock);
typedef NTSTATUS (*PFN_WDFTIMERCREATE)(PWDF_DRIVER_GLOBALS DriverGlobals, PWDF_TIMER_CONFIG Config,
                                       PWDF_OBJECT_ATTRIBUTES Attributes, WDFTIMER *Timer);
typedef BOOLEAN (*PFN_WDFTIMERSTART)(PWDF_DRIVER_GLOBALS DriverGlobals, WDFTIMER Timer,
                                     LONGLONG DueTime);
typedef BOOLEAN (*PFN_WDFTIMERSTOP)(PWDF_DRIVER_GLOBALS DriverGlobals, WDFTIMER Timer,
                                    BOOLEAN Wait);

/* Indices into WdfFunctions_01033 (KMDF 1.33's WDFFUNCENUM), for the methods above. */
typedef enum _WDFFUNCENUM {
    WdfControlDeviceInitAllocateTableIndex = 25,
    WdfControlFinishInitializingTableIndex = 27,
    WdfDeviceInitFreeTableIndex = 54,
    WdfDeviceInitAssignNameTableIndex = 67,
    WdfDeviceInitSetFileObjectConfigTableIndex = 71,
    WdfDeviceInitSetRequestAttributesTableIndex = 72,
    WdfDeviceInitSetIoInCallerContextCallbackTableIndex = 74,
    WdfDeviceCreateTableIndex = 75,
    WdfDeviceCreateSymbolicLinkTableIndex = 80,
    WdfDeviceEnqueueRequestTableIndex = 91,
    WdfDeviceGetDefaultQueueTableIndex = 92,
    WdfDriverCreateTableIndex = 116,
    WdfFileObjectGetDeviceTableIndex = 139,
    WdfIoQueueCreateTableIndex = 152,
    WdfIoQueueStartTableIndex = 154,
    WdfIoQueueStopTableIndex = 155,
    WdfIoQueueGetDeviceTableIndex = 157,
    WdfIoTargetCreateTableIndex = 167,
    WdfIoTargetOpenTableIndex = 168,
    WdfIoTargetCloseTableIndex = 170,
    WdfIoTargetGetDeviceTableIndex = 174,
    WdfIoTargetFormatRequestForReadTableIndex = 183,
    WdfObjectGetTypedContextWorkerTableIndex = 202,
    WdfObjectReferenceActualTableIndex = 205,
    WdfObjectDereferenceActualTableIndex = 206,
    WdfObjectDeleteTableIndex = 208,
    WdfRequestCreateTableIndex = 247,
    WdfRequestSendTableIndex = 253,
    WdfRequestGetStatusTableIndex = 254,
    WdfRequestCancelSentRequestTableIndex = 258,
    WdfRequestSetCompletionRoutineTableIndex = 260,
    WdfRequestCompleteWithInformationTableIndex = 265,
    WdfRequestGetParametersTableIndex = 266,
    WdfRequestRetrieveOutputMemoryTableIndex = 268,
    WdfRequestRetrieveInputBufferTableIndex = 269,
    WdfRequestRetrieveOutputBufferTableIndex = 270,
    WdfRequestGetFileObjectTableIndex = 277,
    WdfSpinLockCreateTableIndex = 315,
    WdfSpinLockAcquireTableIndex = 316,
    WdfSpinLockReleaseTableIndex = 317,
    WdfTimerCreateTableIndex = 318,
    WdfTimerStartTableIndex = 319,
    WdfTimerStopTableIndex = 320,
    WdfFunctionTableNumEntries = 458
} WDFFUNCENUM;
