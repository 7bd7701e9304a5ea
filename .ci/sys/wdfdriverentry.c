/*
 * wdfdriverentry.c: the KMDF client stub ferrofilter.sys is linked with on Linux.
 *
 * This file exists only so that the driver image links on a Linux host, where the WDK (and with
 * it WdfDriverEntry.lib) cannot be installed. On Windows the WDK's own WdfDriverEntry.lib is
 * linked instead and this file is not used. It is written from the definitions in the MIT-licensed
 * KMDF source (src/framework/shared/inc/private/common/fxldr.h: WDF_BIND_INFO, WDF_BIND_INFO2,
 * WdfVersionBind, WdfVersionUnbind; src/framework/kmdf/src/librarycommon/fxlibrarycommon.cpp: how
 * the framework fills in FuncTable) and the public KMDF 1.33 headers (wdfglobals.h,
 * wdffuncenum.h), and declares the few types it needs itself so that it does not depend on any
 * header tree.
 *
 * What it does: the image's entry point FxDriverEntry binds the driver to the framework through
 * the loader (WDFLDR.SYS), which stores the framework's function table pointer in
 * WdfFunctions_01033 and the driver's globals in WdfDriverGlobals; then it calls the driver's
 * DriverEntry. If DriverEntry fails it unbinds again. If it succeeds and the framework asks for it
 * (WDF_DRIVER_GLOBALS.DisplaceDriverUnload, set by WdfDriverCreate), it puts its own unload
 * routine in front of the driver's, so the framework is unbound after the driver has unloaded.
 *
 * What the WDK's WdfDriverEntry.lib does and this stub does not (unverified here, since that
 * library's source is not public):
 * - It initializes the /GS security cookie before anything else runs (as GsDriverEntry does for
 *   WDM drivers). Nothing in ferrofilter.sys is compiled with /GS checks, so no cookie is read.
 * - It binds the class extensions a driver declares between __KMDF_CLASS_BIND_START and
 *   __KMDF_CLASS_BIND_END (WdfVersionBindClass / WdfVersionUnbindClass). ferrofilter uses none.
 * - It may run other initialization for C drivers (context type registration across modules,
 *   for instance); ferrofilter's context type descriptors are complete at compile time.
 * Whether this stub loads and binds on Windows is unverified here: it has only been linked.
 *
 * Build (see .ci/build-sys): clang-cl --target=x86_64-pc-windows-msvc /kernel /GS- /Zl, archived
 * as WdfDriverEntry.lib with llvm-lib. WDF_FUNCTION_COUNT is the WdfFunctionTableNumEntries of the
 * KMDF headers the Rust code was compiled against, passed in with -D.
 */

#ifndef WDF_FUNCTION_COUNT
#error "WDF_FUNCTION_COUNT (WdfFunctionTableNumEntries of the KMDF 1.33 headers) must be defined"
#endif

/* --- The few kernel types the stub touches, as wdm.h lays them out on x64. --- */

typedef long NTSTATUS;
typedef unsigned long ULONG; /* 32 bits on Windows (LLP64). */
typedef unsigned short USHORT;
typedef unsigned char BOOLEAN;
typedef unsigned short WCHAR;
typedef unsigned long long SIZE_T;

#define NT_SUCCESS(status) ((NTSTATUS)(status) >= 0)
/* ntstatus.h: the registry path does not fit the stub's copy of it. */
#define STATUS_NAME_TOO_LONG ((NTSTATUS)0xC0000106L)

typedef struct _UNICODE_STRING {
    USHORT Length;        /* in bytes, without a terminator */
    USHORT MaximumLength; /* in bytes */
    WCHAR *Buffer;
} UNICODE_STRING;

typedef struct _DRIVER_OBJECT DRIVER_OBJECT;
typedef void DRIVER_UNLOAD(DRIVER_OBJECT *DriverObject);

/* wdm.h's DRIVER_OBJECT; only DriverUnload is used, the rest fixes its offset. */
struct _DRIVER_OBJECT {
    short Type;
    short Size;
    void *DeviceObject;
    ULONG Flags;
    void *DriverStart;
    ULONG DriverSize;
    void *DriverSection;
    void *DriverExtension;
    UNICODE_STRING DriverName;
    UNICODE_STRING *HardwareDatabase;
    void *FastIoDispatch;
    void *DriverInit;
    void *DriverStartIo;
    DRIVER_UNLOAD *DriverUnload;
    void *MajorFunction[28]; /* IRP_MJ_MAXIMUM_FUNCTION + 1 */
};
_Static_assert(__builtin_offsetof(DRIVER_OBJECT, DriverUnload) == 0x68, "DRIVER_OBJECT.DriverUnload");
_Static_assert(sizeof(DRIVER_OBJECT) == 0x150, "sizeof(DRIVER_OBJECT)");

/* --- KMDF: wdfglobals.h, wdftypes.h, fxldr.h. --- */

/* wdfglobals.h: what WdfDriverGlobals points to once bound. */
typedef struct _WDF_DRIVER_GLOBALS {
    void *Driver; /* WDFDRIVER */
    ULONG DriverFlags;
    ULONG DriverTag;
    char DriverName[32]; /* WDF_DRIVER_GLOBALS_NAME_LEN */
    /* Set by WdfDriverCreate: TRUE when the stub must chain its unload routine in front of the
       driver's so the framework learns of the unload (fxdriverapi.cpp). */
    BOOLEAN DisplaceDriverUnload;
} WDF_DRIVER_GLOBALS;
_Static_assert(__builtin_offsetof(WDF_DRIVER_GLOBALS, DisplaceDriverUnload) == 48, "DisplaceDriverUnload");

typedef void (*WDFFUNC)(void);
typedef SIZE_T *WDF_STRUCT_INFO; /* wdftypes.h */

/* fxldr.h: WDF_VERSION and the bind information the loader reads and writes. */
typedef struct _WDF_VERSION {
    ULONG Major;
    ULONG Minor;
    ULONG Build;
} WDF_VERSION;

typedef struct _WDF_BIND_INFO {
    ULONG Size;        /* sizeof(WDF_BIND_INFO2): tells the loader the v2 fields follow */
    WCHAR *Component;  /* the framework library to bind to */
    WDF_VERSION Version;
    ULONG FuncCount;   /* entries in the function table the client was compiled against */
    WDFFUNC *FuncTable;/* from KMDF 1.15 on: the address of the client's table pointer, which
                          the framework sets to its own table (fxlibrarycommon.cpp) */
    void *Module;      /* the loader's, for management and diagnostics */
} WDF_BIND_INFO;

typedef struct _WDF_BIND_INFO2 {
    WDF_BIND_INFO V1;
    ULONG *MinimumVersionRequired;
    BOOLEAN *ClientVersionHigherThanFramework;
    ULONG *FuncCountPtr;
    ULONG *StructCountPtr;
    WDF_STRUCT_INFO *StructTable;
} WDF_BIND_INFO2;
_Static_assert(sizeof(WDF_BIND_INFO) == 48, "sizeof(WDF_BIND_INFO)");
_Static_assert(sizeof(WDF_BIND_INFO2) == 88, "sizeof(WDF_BIND_INFO2)");

/* WDFLDR.SYS exports (fxldr.h). PWDF_COMPONENT_GLOBALS is the loader's name for the driver's
   PWDF_DRIVER_GLOBALS. */
NTSTATUS WdfVersionBind(DRIVER_OBJECT *DriverObject, UNICODE_STRING *RegistryPath,
                        WDF_BIND_INFO *BindInfo, WDF_DRIVER_GLOBALS **ComponentGlobals);
NTSTATUS WdfVersionUnbind(UNICODE_STRING *RegistryPath, WDF_BIND_INFO *BindInfo,
                          WDF_DRIVER_GLOBALS *ComponentGlobals);

/* The driver's own entry point (driver/src/entry.rs, exported as DriverEntry). */
NTSTATUS DriverEntry(DRIVER_OBJECT *DriverObject, UNICODE_STRING *RegistryPath);

/* --- The globals the headers declare and the Rust bindings (wdk-sys) refer to. --- */

/* The framework's function table, set by WdfVersionBind. wdf.h maps WdfFunctions to this
   versioned name so a driver built for 1.33 cannot link against another version's stub. */
const WDFFUNC *WdfFunctions_01033;
/* The driver's framework globals, passed as the first argument of every WDF call. */
WDF_DRIVER_GLOBALS *WdfDriverGlobals;

/* wdffuncenum.h: the version checks of a client newer than the framework. The loader lowers the
   counts and sets the flag when the framework is older than 1.33; a driver running on its own
   version sees the full table. wdk-sys bounds every table lookup by WdfFunctionCount, so it must
   hold the full count before and after binding. */
BOOLEAN WdfClientVersionHigherThanFramework;
ULONG WdfFunctionCount = WDF_FUNCTION_COUNT;
ULONG WdfStructureCount;
WDF_STRUCT_INFO WdfStructures;
/* wdffuncenum.h defines this in the client (selectany) when the headers are compiled as C; the
   Rust bindings make it a constant instead, so the stub defines the variable the bind info points
   to. ferrofilter requires KMDF 1.33. */
ULONG WdfMinimumVersionRequired = 33;

static WCHAR ComponentName[] = u"KmdfLibrary";

static WDF_BIND_INFO2 BindInfo = {
    .V1 = {
        .Size = sizeof(WDF_BIND_INFO2),
        .Component = ComponentName,
        .Version = {.Major = 1, .Minor = 33, .Build = 0},
        .FuncCount = WDF_FUNCTION_COUNT,
        .FuncTable = (WDFFUNC *)&WdfFunctions_01033,
        .Module = 0,
    },
    .MinimumVersionRequired = &WdfMinimumVersionRequired,
    .ClientVersionHigherThanFramework = &WdfClientVersionHigherThanFramework,
    .FuncCountPtr = &WdfFunctionCount,
    .StructCountPtr = &WdfStructureCount,
    .StructTable = &WdfStructures,
};

/* The registry path passed to FxDriverEntry is only valid during the call; WdfVersionUnbind at
   unload needs it again, so the stub keeps a copy in its own storage (a static buffer: no pool
   routine is imported for it). 1024 characters hold any service key path, whose service name part
   is at most 256 characters (MAX_SERVICE_NAME_LENGTH, fxldr.h). */
static WCHAR RegistryPathBuffer[1024];
static UNICODE_STRING RegistryPathCopy = {0, sizeof(RegistryPathBuffer), RegistryPathBuffer};

/* The unload routine the driver (or whatever it registered with) left in the driver object. */
static DRIVER_UNLOAD *DriverUnloadOfDriver;

/* Unload: first the driver's own unload chain, then unbind from the framework, which deletes the
   driver's remaining framework objects. Runs at PASSIVE_LEVEL, once. */
static void FxStubDriverUnload(DRIVER_OBJECT *DriverObject)
{
    if (DriverUnloadOfDriver != 0) {
        DriverUnloadOfDriver(DriverObject);
    }
    (void)WdfVersionUnbind(&RegistryPathCopy, &BindInfo.V1, WdfDriverGlobals);
}

/* The copy is a plain loop, and the file is compiled with -fno-builtin so the compiler does not
   turn it into a memcpy call: the stub imports only from WDFLDR.SYS. */
static NTSTATUS CopyRegistryPath(const UNICODE_STRING *RegistryPath)
{
    USHORT index;
    if (RegistryPath->Length > sizeof(RegistryPathBuffer)) {
        return STATUS_NAME_TOO_LONG;
    }
    for (index = 0; index < RegistryPath->Length / sizeof(WCHAR); index++) {
        RegistryPathBuffer[index] = RegistryPath->Buffer[index];
    }
    RegistryPathCopy.Length = RegistryPath->Length;
    return 0;
}

/* The image's entry point (/ENTRY:FxDriverEntry, from wdk-build). Discardable after load, like the
   driver's own DriverEntry. */
#pragma code_seg("INIT")
NTSTATUS FxDriverEntry(DRIVER_OBJECT *DriverObject, UNICODE_STRING *RegistryPath)
{
    NTSTATUS status = CopyRegistryPath(RegistryPath);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    status = WdfVersionBind(DriverObject, &RegistryPathCopy, &BindInfo.V1, &WdfDriverGlobals);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    status = DriverEntry(DriverObject, RegistryPath);
    if (!NT_SUCCESS(status)) {
        /* The driver is not loaded; nothing will call an unload routine, so unbind now. */
        (void)WdfVersionUnbind(&RegistryPathCopy, &BindInfo.V1, WdfDriverGlobals);
        return status;
    }

    if (WdfDriverGlobals->DisplaceDriverUnload) {
        /* Chain in front of whatever DriverEntry left (for ferrofilter: Filter Manager's unload
           routine, which calls the filter's and then KMDF's). */
        DriverUnloadOfDriver = DriverObject->DriverUnload;
        DriverObject->DriverUnload = FxStubDriverUnload;
    }
    return status;
}
#pragma code_seg()
