/* ferrofilter's declarations of the Windows base types (x64, LLP64), written from the WDK
   documentation ("Windows Data Types", "Kernel-Mode Driver Architecture") and checked against
   Microsoft's metadata (abi/) and, on demand, against a genuine WDK (.ci/real-wdk-check).
   Only what ferrofilter and the windows-drivers-rs crates it builds on use is declared. */
#pragma once

#define POINTER_ALIGNMENT __declspec(align(8))
#define FALSE 0
#define TRUE 1

typedef void VOID;
typedef char CHAR;
typedef signed char CCHAR;
typedef unsigned char UCHAR;
typedef short SHORT;
typedef short CSHORT;
typedef unsigned short USHORT;
typedef long LONG;
typedef unsigned long ULONG;
typedef __int64 LONGLONG;
typedef unsigned __int64 ULONGLONG;
typedef unsigned __int64 ULONG64;
typedef __int64 LONG_PTR;
typedef unsigned __int64 ULONG_PTR;
typedef ULONG_PTR SIZE_T;
typedef UCHAR BOOLEAN;
typedef unsigned short WCHAR; /* wchar_t: 16 bits on Windows */

typedef VOID *PVOID;
typedef BOOLEAN *PBOOLEAN;
typedef ULONG *PULONG;
typedef LONGLONG *PLONGLONG;
typedef SIZE_T *PSIZE_T;
typedef CHAR *PCHAR;
typedef const CHAR *PCSTR, *LPCSTR, *PCCH;
typedef WCHAR *PWCH, *PWSTR;
typedef const WCHAR *PCWSTR;
typedef PVOID HANDLE;
typedef HANDLE *PHANDLE;

typedef LONG NTSTATUS;
typedef ULONG ACCESS_MASK;
typedef UCHAR KIRQL;
typedef CCHAR KPROCESSOR_MODE;
typedef LONG KPRIORITY;

typedef union _LARGE_INTEGER {
    struct { ULONG LowPart; LONG HighPart; };
    struct { ULONG LowPart; LONG HighPart; } u;
    LONGLONG QuadPart;
} LARGE_INTEGER, *PLARGE_INTEGER;

typedef struct _GUID {
    unsigned long Data1;
    unsigned short Data2;
    unsigned short Data3;
    unsigned char Data4[8];
} GUID, UUID, *LPGUID;

typedef struct _LIST_ENTRY {
    struct _LIST_ENTRY *Flink;
    struct _LIST_ENTRY *Blink;
} LIST_ENTRY, *PLIST_ENTRY;

typedef struct _UNICODE_STRING {
    USHORT Length;
    USHORT MaximumLength;
    PWCH Buffer;
} UNICODE_STRING, *PUNICODE_STRING;
typedef const UNICODE_STRING *PCUNICODE_STRING;

typedef struct _LUID {
    ULONG LowPart;
    LONG HighPart;
} LUID, *PLUID;

/* ntdef.h: what ZwCreateFile opens (InitializeObjectAttributes fills it in). */
typedef struct _OBJECT_ATTRIBUTES {
    ULONG Length;
    HANDLE RootDirectory;
    PUNICODE_STRING ObjectName;
    ULONG Attributes;
    PVOID SecurityDescriptor;
    PVOID SecurityQualityOfService;
} OBJECT_ATTRIBUTES, *POBJECT_ATTRIBUTES;
