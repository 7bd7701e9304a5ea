//! `windows-sys`'s x64 sizes, alignments and field offsets of the structs ferrofilter exchanges
//! with Filter Manager, the I/O manager and the file system, for the structs where
//! `windows-sys` is right (REFERENCE.md §10).
//!
//! Use [`windows_sys_layouts`] to walk them all or [`find`] for one, e.g. to check a C
//! declaration header or bindgen output: `find("FLT_CALLBACK_DATA")?.offset("Iopb") == Some(16)`.
//! The values are computed by the compiler from the `windows-sys` declarations (`size_of`,
//! `align_of`, `offset_of!`), not written by hand.
//!
//! Not here, on purpose: `FLT_PARAMETERS.Create`, `FLT_PARAMETERS.FileSystemControl` and
//! `IO_STACK_LOCATION`, whose `POINTER_ALIGNMENT` fields `windows-sys` places wrongly; their
//! offsets are in [`crate::documented`].

use core::mem::{align_of, offset_of, size_of};

use windows_sys::Wdk::Storage::FileSystem as fs;
use windows_sys::Wdk::Storage::FileSystem::Minifilters as flt;
use windows_sys::Win32::System::IO as io;
use windows_sys::Win32::System::Ioctl as ioctl;
use windows_sys::core::GUID;

/// A field: its C name and its offset in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// The field's name as `windows-sys` spells it (the header's name; `Anonymous` for an
    /// unnamed union).
    pub name: &'static str,
    /// Offset from the start of the struct.
    pub offset: usize,
}

/// A struct as `windows-sys` lays it out on x64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The C type name.
    pub name: &'static str,
    /// `sizeof`.
    pub size: usize,
    /// Alignment.
    pub align: usize,
    /// Every field, in declaration order.
    pub fields: &'static [Field],
}

impl Layout {
    /// The offset of `field`, if the struct has it.
    #[must_use]
    pub fn offset(&self, field: &str) -> Option<usize> {
        self.fields
            .iter()
            .find(|f| f.name == field)
            .map(|f| f.offset)
    }
}

/// Hands the C member names of one of the Filter Manager / I/O structs below, in declaration
/// order, to another macro: `with_members!(FLT_OPERATION_REGISTRATION => m!(a, b,))` expands to
/// `m!(a, b, [MajorFunction, Flags, PreOperation, PostOperation, Reserved1])`. One list serves
/// the windows-sys layouts here and every comparison of another declaration of the same struct
/// with them (`tests/wdk_decls.rs`). `Anonymous` is windows-sys's name for an unnamed union.
#[macro_export]
macro_rules! with_members {
    (FLT_REGISTRATION => $then:ident!($($arg:tt)*)) => {
        $then!($($arg)* [Size, Version, Flags, ContextRegistration, OperationRegistration, FilterUnloadCallback, InstanceSetupCallback, InstanceQueryTeardownCallback, InstanceTeardownStartCallback, InstanceTeardownCompleteCallback, GenerateFileNameCallback, NormalizeNameComponentCallback, NormalizeContextCleanupCallback, TransactionNotificationCallback, NormalizeNameComponentExCallback, SectionNotificationCallback])
    };
    (FLT_OPERATION_REGISTRATION => $then:ident!($($arg:tt)*)) => {
        $then!($($arg)* [MajorFunction, Flags, PreOperation, PostOperation, Reserved1])
    };
    (FLT_CONTEXT_REGISTRATION => $then:ident!($($arg:tt)*)) => {
        $then!($($arg)* [ContextType, Flags, ContextCleanupCallback, Size, PoolTag, ContextAllocateCallback, ContextFreeCallback, Reserved1])
    };
    (FLT_CALLBACK_DATA => $then:ident!($($arg:tt)*)) => {
        $then!($($arg)* [Flags, Thread, Iopb, IoStatus, TagData, Anonymous, RequestorMode])
    };
    (FLT_IO_PARAMETER_BLOCK => $then:ident!($($arg:tt)*)) => {
        $then!($($arg)* [IrpFlags, MajorFunction, MinorFunction, OperationFlags, Reserved, TargetFileObject, TargetInstance, Parameters])
    };
    (FLT_PARAMETERS => $then:ident!($($arg:tt)*)) => {
        $then!($($arg)* [])
    };
    (FLT_RELATED_OBJECTS => $then:ident!($($arg:tt)*)) => {
        $then!($($arg)* [Size, TransactionContext, Filter, Volume, Instance, FileObject, Transaction])
    };
    (IO_STATUS_BLOCK => $then:ident!($($arg:tt)*)) => {
        $then!($($arg)* [Anonymous, Information])
    };
}

macro_rules! layout {
    ($name:literal, $ty:ty, [$($field:ident),* $(,)?]) => {
        Layout {
            name: $name,
            size: size_of::<$ty>(),
            align: align_of::<$ty>(),
            fields: &[$(Field { name: stringify!($field), offset: offset_of!($ty, $field) }),*],
        }
    };
    // Fields the Rust type names differently from the header.
    ($name:literal, $ty:ty, {$($c_name:literal => $field:ident),* $(,)?}) => {
        Layout {
            name: $name,
            size: size_of::<$ty>(),
            align: align_of::<$ty>(),
            fields: &[$(Field { name: $c_name, offset: offset_of!($ty, $field) }),*],
        }
    };
}

/// `FLT_REGISTRATION` (fltKernel.h, version 0x0203).
pub const FLT_REGISTRATION: Layout =
    with_members!(FLT_REGISTRATION => layout!("FLT_REGISTRATION", flt::FLT_REGISTRATION,));

/// `FLT_OPERATION_REGISTRATION` (fltKernel.h).
pub const FLT_OPERATION_REGISTRATION: Layout = with_members!(FLT_OPERATION_REGISTRATION => layout!("FLT_OPERATION_REGISTRATION", flt::FLT_OPERATION_REGISTRATION,));

/// `FLT_CONTEXT_REGISTRATION` (fltKernel.h).
pub const FLT_CONTEXT_REGISTRATION: Layout = with_members!(FLT_CONTEXT_REGISTRATION => layout!("FLT_CONTEXT_REGISTRATION", flt::FLT_CONTEXT_REGISTRATION,));

/// `FLT_CALLBACK_DATA` (fltKernel.h). `Anonymous` is the `QueueLinks` / `FilterContext` union.
pub const FLT_CALLBACK_DATA: Layout =
    with_members!(FLT_CALLBACK_DATA => layout!("FLT_CALLBACK_DATA", flt::FLT_CALLBACK_DATA,));

/// `FLT_IO_PARAMETER_BLOCK` (fltKernel.h).
pub const FLT_IO_PARAMETER_BLOCK: Layout = with_members!(FLT_IO_PARAMETER_BLOCK => layout!("FLT_IO_PARAMETER_BLOCK", flt::FLT_IO_PARAMETER_BLOCK,));

/// `FLT_PARAMETERS` (fltKernel.h): a union; its size only (the size is right, the offsets of
/// some members' `POINTER_ALIGNMENT` fields are not, see [`crate::documented`]).
pub const FLT_PARAMETERS: Layout =
    with_members!(FLT_PARAMETERS => layout!("FLT_PARAMETERS", flt::FLT_PARAMETERS,));

/// `FLT_RELATED_OBJECTS` (fltKernel.h).
pub const FLT_RELATED_OBJECTS: Layout =
    with_members!(FLT_RELATED_OBJECTS => layout!("FLT_RELATED_OBJECTS", flt::FLT_RELATED_OBJECTS,));

/// `IO_STATUS_BLOCK` (wdm.h); `Anonymous` is the `Status` / `Pointer` union.
pub const IO_STATUS_BLOCK: Layout =
    with_members!(IO_STATUS_BLOCK => layout!("IO_STATUS_BLOCK", io::IO_STATUS_BLOCK,));

/// `GUID` (guiddef.h).
pub const GUID_LAYOUT: Layout = layout!("GUID", GUID, {
    "Data1" => data1,
    "Data2" => data2,
    "Data3" => data3,
    "Data4" => data4,
});

/// `OPLOCK_KEY_ECP_CONTEXT` (ntifs.h).
pub const OPLOCK_KEY_ECP_CONTEXT: Layout = layout!(
    "OPLOCK_KEY_ECP_CONTEXT",
    fs::OPLOCK_KEY_ECP_CONTEXT,
    [OplockKey, Reserved]
);

/// `DUAL_OPLOCK_KEY_ECP_CONTEXT` (ntifs.h).
pub const DUAL_OPLOCK_KEY_ECP_CONTEXT: Layout = layout!(
    "DUAL_OPLOCK_KEY_ECP_CONTEXT",
    fs::DUAL_OPLOCK_KEY_ECP_CONTEXT,
    [
        ParentOplockKey,
        TargetOplockKey,
        ParentOplockKeySet,
        TargetOplockKeySet
    ]
);

/// `OPLOCK_KEY_CONTEXT` (ntifs.h, what `IoGetOplockKeyContextEx` returns).
pub const OPLOCK_KEY_CONTEXT: Layout = layout!(
    "OPLOCK_KEY_CONTEXT",
    fs::OPLOCK_KEY_CONTEXT,
    [Version, Flags, ParentOplockKey, TargetOplockKey, Reserved]
);

/// `SET_PURGE_FAILURE_MODE_INPUT` (ntifs.h / winioctl.h).
pub const SET_PURGE_FAILURE_MODE_INPUT: Layout = layout!(
    "SET_PURGE_FAILURE_MODE_INPUT",
    ioctl::SET_PURGE_FAILURE_MODE_INPUT,
    [Flags]
);

/// `REQUEST_OPLOCK_INPUT_BUFFER` (winioctl.h).
pub const REQUEST_OPLOCK_INPUT_BUFFER: Layout = layout!(
    "REQUEST_OPLOCK_INPUT_BUFFER",
    ioctl::REQUEST_OPLOCK_INPUT_BUFFER,
    [
        StructureVersion,
        StructureLength,
        RequestedOplockLevel,
        Flags
    ]
);

/// `REQUEST_OPLOCK_OUTPUT_BUFFER` (winioctl.h).
pub const REQUEST_OPLOCK_OUTPUT_BUFFER: Layout = layout!(
    "REQUEST_OPLOCK_OUTPUT_BUFFER",
    ioctl::REQUEST_OPLOCK_OUTPUT_BUFFER,
    [
        StructureVersion,
        StructureLength,
        OriginalOplockLevel,
        NewOplockLevel,
        Flags,
        AccessMode,
        ShareMode,
    ]
);

/// Every layout above.
pub const ALL: &[Layout] = &[
    FLT_REGISTRATION,
    FLT_OPERATION_REGISTRATION,
    FLT_CONTEXT_REGISTRATION,
    FLT_CALLBACK_DATA,
    FLT_IO_PARAMETER_BLOCK,
    FLT_PARAMETERS,
    FLT_RELATED_OBJECTS,
    IO_STATUS_BLOCK,
    GUID_LAYOUT,
    OPLOCK_KEY_ECP_CONTEXT,
    DUAL_OPLOCK_KEY_ECP_CONTEXT,
    OPLOCK_KEY_CONTEXT,
    SET_PURGE_FAILURE_MODE_INPUT,
    REQUEST_OPLOCK_INPUT_BUFFER,
    REQUEST_OPLOCK_OUTPUT_BUFFER,
];

/// `windows-sys`'s layout of every struct in this module.
#[must_use]
pub fn windows_sys_layouts() -> &'static [Layout] {
    ALL
}

/// `windows-sys`'s layout of the struct named `name` (the C name, e.g. `"FLT_REGISTRATION"`).
#[must_use]
pub fn find(name: &str) -> Option<&'static Layout> {
    ALL.iter().find(|layout| layout.name == name)
}
