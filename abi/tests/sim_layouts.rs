//! The simulated kernel's own x64 declarations (`ferrofilter_sim::kernel::layout`), its KMDF
//! function-table indices and its constants, against references that owe nothing to the sim:
//!
//! - Microsoft's metadata (`windows-sys`) for the ntoskrnl, I/O manager and Filter Manager
//!   structures and for the NTSTATUS, context-type and IRQL values;
//! - the documented x64 offsets ([`ferrofilter_abi::documented`], and the two `FLT_PARAMETERS`
//!   members below) where `windows-sys` drops `POINTER_ALIGNMENT`, and
//!   `MEMORY_ALLOCATION_ALIGNMENT` for `DEVICE_OBJECT`, whose `DECLSPEC_ALIGN(16)` it also drops;
//! - for KMDF, which `windows-sys` does not carry, the bindgen output of `wdk-decls/`
//!   (`ferrofilter-host-wdk-sys`, whose offsets `.ci/wdk-linux/decl-probe.py` checked against
//!   the genuine KMDF headers), and `wdffuncenum.h` (KMDF 1.33) for the two table indices
//!   `wdk-decls/` does not declare.
//!
//! The sim hands the driver these structures and the driver reads them through `wdk-decls/`, so
//! both sides are checked against a third party: a wrong offset on either side fails here.
//!
//! Every named member of the sim's declarations is checked. A member the sim declares as an
//! array standing for several C members (`DEVICE_OBJECT.Links` for `NextDevice` … `Timer`) is
//! checked element by element against the member each element stands for; reserved space is
//! checked to end where the members it stands for end.

#![forbid(unsafe_code)]

use core::mem::{align_of, offset_of, size_of};

use ferrofilter_abi::check;
use ferrofilter_abi::check::{Check, Value, assert_all, mismatches, report};
use ferrofilter_abi::documented::{
    flt_parameters_create as create, flt_parameters_fsctl_buffered as fsctl,
};
use ferrofilter_abi::layouts::{self, Layout};
use ferrofilter_sim::kernel::{self as simk, flt as sim_flt, layout as sim, nt as sim_nt};
use wdk_sys as decls;
use wdk_sys::_WDFFUNCENUM as funcenum;
use windows_sys::Wdk::Foundation as wf;
use windows_sys::Wdk::Storage::FileSystem::Minifilters as flt;
use windows_sys::Wdk::System::SystemServices as ss;
use windows_sys::Win32::Foundation as w32;
use windows_sys::Win32::System::IO as io;
use windows_sys::core::GUID;

/// `MEMORY_ALLOCATION_ALIGNMENT` on x64 (ntdef.h: 16): wdm.h declares `DEVICE_OBJECT`
/// `DECLSPEC_ALIGN(MEMORY_ALLOCATION_ALIGNMENT)`.
const MEMORY_ALLOCATION_ALIGNMENT: usize = 16;

/// `FLT_PARAMETERS.Write` on x64 (fltKernel.h, WDK 10.0.22621.0), with `POINTER_ALIGNMENT` =
/// 8-byte alignment:
///
/// ```c
/// ULONG Length;
/// ULONG POINTER_ALIGNMENT Key;
/// LARGE_INTEGER ByteOffset;
/// PVOID WriteBuffer;
/// PMDL MdlAddress;
/// ```
mod flt_parameters_write {
    pub const LENGTH: usize = 0;
    pub const KEY: usize = 8;
    pub const BYTE_OFFSET: usize = 16;
    pub const WRITE_BUFFER: usize = 24;
    pub const MDL_ADDRESS: usize = 32;
    pub const SIZE: usize = 40;
}

/// `FLT_PARAMETERS.SetFileInformation` on x64 (fltKernel.h, WDK 10.0.22621.0):
///
/// ```c
/// ULONG Length;
/// FILE_INFORMATION_CLASS POINTER_ALIGNMENT FileInformationClass;
/// PFILE_OBJECT ParentOfTarget;
/// union { struct { BOOLEAN ReplaceIfExists; BOOLEAN AdvanceOnly; }; ULONG ClusterCount;
///         HANDLE DeleteHandle; };
/// PVOID InfoBuffer;
/// ```
mod flt_parameters_set_information {
    pub const LENGTH: usize = 0;
    pub const FILE_INFORMATION_CLASS: usize = 8;
    pub const PARENT_OF_TARGET: usize = 16;
    pub const UNION: usize = 24;
    pub const INFO_BUFFER: usize = 32;
    pub const SIZE: usize = 40;
}

/// The offset of element `index` of the array member `member` picks out of `S`.
fn element<S, T, const N: usize>(_member: fn(&S) -> &[T; N], index: usize) -> usize {
    assert!(index < N, "element {index} of a {N}-element member");
    index * size_of::<T>()
}

/// The size of the member `member` picks out of `S`.
fn member_size<S, T>(_member: fn(&S) -> &T) -> usize {
    size_of::<T>()
}

/// The size of the (union) member `member` points at.
fn pointee_size<S, T>(_member: fn(&S) -> *const T) -> usize {
    size_of::<T>()
}

/// The sim's offset of a member path, or of one element of an array member.
macro_rules! sim_offset {
    ($sim:ty, $($member:ident).+) => {
        offset_of!($sim, $($member).+)
    };
    ($sim:ty, $member:ident [$index:literal]) => {
        offset_of!($sim, $member) + element(|s: &$sim| &s.$member, $index)
    };
}

/// One row per `sim_member => reference_member`, comparing the sim's offset with the reference
/// type's (`offset_of!` on both; a member path may be nested, a sim member may be one element of
/// an array standing for several C members).
macro_rules! members {
    ($sim:ty => $reference:ty; $($($member:ident).+ $([$index:literal])? => $($theirs:ident).+),* $(,)?) => {
        vec![$(
            Check::new(
                concat!(
                    "offsetof ", stringify!($sim), ".", stringify!($($member).+)
                    $(, "[", stringify!($index), "]")?
                ),
                sim_offset!($sim, $($member).+ $([$index])?),
                offset_of!($reference, $($theirs).+),
                concat!("offset_of!(", stringify!($reference), ", ", stringify!($($theirs).+), ")"),
            ),
        )*]
    };
}

/// One row per `sim_member => documented_offset`.
macro_rules! documented {
    ($sim:ty; $($($member:ident).+ => $offset:expr),* $(,)?) => {
        vec![$(
            Check::new(
                concat!("offsetof ", stringify!($sim), ".", stringify!($($member).+)),
                offset_of!($sim, $($member).+),
                $offset,
                concat!("documented ", stringify!($offset)),
            ),
        )*]
    };
}

/// The size and alignment of the sim's type against another declaration of it.
macro_rules! shape {
    ($sim:ty => $reference:ty) => {
        vec![
            Check::new(
                concat!("sizeof ", stringify!($sim)),
                size_of::<$sim>(),
                size_of::<$reference>(),
                concat!("size_of::<", stringify!($reference), ">()"),
            ),
            Check::new(
                concat!("alignof ", stringify!($sim)),
                align_of::<$sim>(),
                align_of::<$reference>(),
                concat!("align_of::<", stringify!($reference), ">()"),
            ),
        ]
    };
}

/// The size and alignment of the sim's type against a `windows-sys` [`Layout`].
macro_rules! layout_shape {
    ($sim:ty => $layout:expr) => {{
        let layout: Layout = $layout;
        vec![
            Check::new(
                concat!("sizeof ", stringify!($sim)),
                size_of::<$sim>(),
                layout.size,
                concat!(stringify!($layout), ".size"),
            ),
            Check::new(
                concat!("alignof ", stringify!($sim)),
                align_of::<$sim>(),
                layout.align,
                concat!(stringify!($layout), ".align"),
            ),
        ]
    }};
}

/// Where the sim's member `member` ends (its offset plus its size), against where the C members
/// it stands for end.
macro_rules! ends {
    ($sim:ty, $member:ident => $end:expr) => {
        Check::new(
            concat!("end of ", stringify!($sim), ".", stringify!($member)),
            offset_of!($sim, $member) + pointee_size(|s: &$sim| &raw const s.$member),
            $end,
            stringify!($end),
        )
    };
}

/// Every member of the `windows-sys` layout `layout` is the reference of some row: the sim's
/// declaration leaves none of the C members out.
fn uncovered(layout: &Layout, rows: &[Check]) -> Vec<&'static str> {
    let referenced: Vec<String> = rows
        .iter()
        .filter_map(|row| {
            let (_, path) = row.source.split_once(", ")?;
            let path: String = path.chars().filter(|c| !c.is_whitespace()).collect();
            let path = path.trim_end_matches(')');
            Some(path.split('.').next().unwrap_or(path).to_owned())
        })
        .collect();
    layout
        .fields
        .iter()
        .map(|field| field.name)
        .filter(|name| !referenced.iter().any(|r| r == name))
        .collect()
}

/// The small ntoskrnl structures, against `windows-sys`.
fn basic_rows() -> Vec<Check> {
    let mut rows = Vec::new();

    rows.extend(shape!(sim::UNICODE_STRING => w32::UNICODE_STRING));
    rows.extend(members!(sim::UNICODE_STRING => w32::UNICODE_STRING;
        Length => Length, MaximumLength => MaximumLength, Buffer => Buffer));

    rows.extend(layout_shape!(sim::GUID => layouts::GUID_LAYOUT));
    rows.extend(members!(sim::GUID => GUID;
        Data1 => data1, Data2 => data2, Data3 => data3, Data4 => data4));

    rows.extend(layout_shape!(sim::IO_STATUS_BLOCK => layouts::IO_STATUS_BLOCK));
    rows.extend(members!(sim::IO_STATUS_BLOCK => io::IO_STATUS_BLOCK;
        Status => Anonymous.Status, Information => Information));
    // `Reserved` is the upper half of the `Status` / `Pointer` union.
    rows.push(ends!(sim::IO_STATUS_BLOCK, Reserved => offset_of!(io::IO_STATUS_BLOCK, Anonymous) + size_of::<io::IO_STATUS_BLOCK_0>()));

    rows.extend(shape!(sim::OBJECT_ATTRIBUTES => wf::OBJECT_ATTRIBUTES));
    rows.extend(members!(sim::OBJECT_ATTRIBUTES => wf::OBJECT_ATTRIBUTES;
        Length => Length,
        RootDirectory => RootDirectory,
        ObjectName => ObjectName,
        Attributes => Attributes,
        SecurityDescriptor => SecurityDescriptor,
        SecurityQualityOfService => SecurityQualityOfService,
    ));

    rows.extend(shape!(sim::DISPATCHER_HEADER => wf::DISPATCHER_HEADER));
    rows.extend(members!(sim::DISPATCHER_HEADER => wf::DISPATCHER_HEADER;
        Type => Anonymous.Anonymous2.Type,
        Reserved[0] => Anonymous.Anonymous2.Signalling,
        Reserved[1] => Anonymous.Anonymous2.Size,
        Reserved[2] => Anonymous.Anonymous2.Reserved1,
        SignalState => SignalState,
        WaitListHead => WaitListHead,
    ));
    rows.extend(shape!(sim::KEVENT => wf::KEVENT));
    rows.extend(members!(sim::KEVENT => wf::KEVENT; Header => Header));

    rows
}

/// `DRIVER_OBJECT`, `DEVICE_OBJECT` and `FILE_OBJECT`, against `windows-sys`.
fn object_rows() -> Vec<Check> {
    let mut rows = Vec::new();
    rows.extend(shape!(sim::DRIVER_OBJECT => wf::DRIVER_OBJECT));
    rows.extend(members!(sim::DRIVER_OBJECT => wf::DRIVER_OBJECT;
        Type => Type,
        Size => Size,
        DeviceObject => DeviceObject,
        Flags => Flags,
        DriverStart => DriverStart,
        DriverSize => DriverSize,
        DriverSection => DriverSection,
        DriverExtension => DriverExtension,
        DriverName => DriverName,
        HardwareDatabase => HardwareDatabase,
        FastIoDispatch => FastIoDispatch,
        DriverInit => DriverInit,
        DriverStartIo => DriverStartIo,
        DriverUnload => DriverUnload,
        MajorFunction => MajorFunction,
    ));
    rows.push(ends!(sim::DRIVER_OBJECT, MajorFunction => size_of::<wf::DRIVER_OBJECT>()));

    // windows-sys drops DECLSPEC_ALIGN(MEMORY_ALLOCATION_ALIGNMENT) (328 bytes, align 8): the
    // size is windows-sys's rounded up to 16, as wdk-decls has it (and .ci/real-wdk-check
    // confirms against the genuine header).
    rows.extend([
        check!(
            size_of::<sim::DEVICE_OBJECT>(),
            size_of::<wf::DEVICE_OBJECT>().next_multiple_of(MEMORY_ALLOCATION_ALIGNMENT)
        ),
        check!(
            align_of::<sim::DEVICE_OBJECT>(),
            MEMORY_ALLOCATION_ALIGNMENT
        ),
    ]);
    rows.extend(shape!(sim::DEVICE_OBJECT => decls::DEVICE_OBJECT));
    rows.extend(members!(sim::DEVICE_OBJECT => wf::DEVICE_OBJECT;
        Type => Type,
        Size => Size,
        ReferenceCount => ReferenceCount,
        DriverObject => DriverObject,
        Links[0] => NextDevice,
        Links[1] => AttachedDevice,
        Links[2] => CurrentIrp,
        Links[3] => Timer,
        Flags => Flags,
        Characteristics => Characteristics,
        Vpb[0] => Vpb,
        Vpb[1] => DeviceExtension,
        DeviceType => DeviceType,
        StackSize => StackSize,
    ));
    // `Reserved` stands for `Queue` … `Reserved` and the alignment padding.
    rows.push(ends!(sim::DEVICE_OBJECT, Reserved => size_of::<wf::DEVICE_OBJECT>().next_multiple_of(MEMORY_ALLOCATION_ALIGNMENT)));

    rows.extend(shape!(sim::FILE_OBJECT => wf::FILE_OBJECT));
    rows.extend(members!(sim::FILE_OBJECT => wf::FILE_OBJECT;
        Type => Type,
        Size => Size,
        DeviceObject => DeviceObject,
        Pointers[0] => Vpb,
        Pointers[1] => FsContext,
        Pointers[2] => FsContext2,
        Pointers[3] => SectionObjectPointer,
        Pointers[4] => PrivateCacheMap,
        FinalStatus => FinalStatus,
        RelatedFileObject => RelatedFileObject,
        Booleans[0] => LockOperation,
        Booleans[1] => DeletePending,
        Booleans[2] => ReadAccess,
        Booleans[3] => WriteAccess,
        Booleans[4] => DeleteAccess,
        Booleans[5] => SharedRead,
        Booleans[6] => SharedWrite,
        Booleans[7] => SharedDelete,
        Flags => Flags,
        FileName => FileName,
        CurrentByteOffset => CurrentByteOffset,
        Waiters[0] => Waiters,
        Waiters[1] => Busy,
        LastLock => LastLock,
        Events[0] => Lock,
        Events[1] => Event,
        Tail[0] => CompletionContext,
        Tail[1] => IrpListLock,
        Tail[2] => IrpList,
        Tail[4] => FileObjectExtension,
    ));
    // `Booleans` stands for the eight BOOLEANs: it ends where `Flags` begins.
    rows.push(ends!(sim::FILE_OBJECT, Booleans => offset_of!(wf::FILE_OBJECT, Flags)));
    rows.push(ends!(sim::FILE_OBJECT, Tail => size_of::<wf::FILE_OBJECT>()));

    rows
}

/// `ACCESS_STATE` and `IO_SECURITY_CONTEXT`, against `windows-sys`.
fn security_rows() -> Vec<Check> {
    let mut rows = Vec::new();
    rows.extend(shape!(sim::ACCESS_STATE => wf::ACCESS_STATE));
    rows.extend(members!(sim::ACCESS_STATE => wf::ACCESS_STATE;
        OperationID => OperationID,
        Booleans[0] => SecurityEvaluated,
        Booleans[1] => GenerateAudit,
        Booleans[2] => GenerateOnClose,
        Booleans[3] => PrivilegesAllocated,
        Flags => Flags,
        RemainingDesiredAccess => RemainingDesiredAccess,
        PreviouslyGrantedAccess => PreviouslyGrantedAccess,
        OriginalDesiredAccess => OriginalDesiredAccess,
    ));
    // `Reserved` stands for the padding, `SubjectSecurityContext` … `ObjectTypeName`.
    rows.push(ends!(sim::ACCESS_STATE, Reserved => size_of::<wf::ACCESS_STATE>()));

    rows.extend(shape!(sim::IO_SECURITY_CONTEXT => wf::IO_SECURITY_CONTEXT));
    rows.extend(
        members!(sim::IO_SECURITY_CONTEXT => wf::IO_SECURITY_CONTEXT;
            SecurityQos => SecurityQos,
            AccessState => AccessState,
            DesiredAccess => DesiredAccess,
            FullCreateOptions => FullCreateOptions,
        ),
    );
    rows
}

#[test]
fn kernel_structures_match_windows_sys() {
    let rows = [basic_rows(), object_rows(), security_rows()].concat();
    // 11 structures (24 sizes and alignments: DEVICE_OBJECT's against the documented alignment
    // and against wdk-decls too), 94 members and element members, 6 ends of reserved space or of
    // member arrays.
    assert_eq!(assert_all(&rows), 124);
}

/// The Filter Manager structures, against `windows-sys` (with [`layouts`]'s member lists: no
/// member is left out).
fn filter_manager_rows() -> Vec<(Layout, Vec<Check>)> {
    let mut tables = Vec::new();

    let mut rows = layout_shape!(sim::FLT_REGISTRATION => layouts::FLT_REGISTRATION);
    rows.extend(members!(sim::FLT_REGISTRATION => flt::FLT_REGISTRATION;
        Size => Size,
        Version => Version,
        Flags => Flags,
        ContextRegistration => ContextRegistration,
        OperationRegistration => OperationRegistration,
        FilterUnloadCallback => FilterUnloadCallback,
        InstanceSetupCallback => InstanceSetupCallback,
        InstanceQueryTeardownCallback => InstanceQueryTeardownCallback,
        InstanceTeardownStartCallback => InstanceTeardownStartCallback,
        InstanceTeardownCompleteCallback => InstanceTeardownCompleteCallback,
        Other[0] => GenerateFileNameCallback,
        Other[1] => NormalizeNameComponentCallback,
        Other[2] => NormalizeContextCleanupCallback,
        Other[3] => TransactionNotificationCallback,
        Other[4] => NormalizeNameComponentExCallback,
        Other[5] => SectionNotificationCallback,
    ));
    rows.push(ends!(sim::FLT_REGISTRATION, Other => layouts::FLT_REGISTRATION.size));
    tables.push((layouts::FLT_REGISTRATION, rows));

    let mut rows =
        layout_shape!(sim::FLT_OPERATION_REGISTRATION => layouts::FLT_OPERATION_REGISTRATION);
    rows.extend(
        members!(sim::FLT_OPERATION_REGISTRATION => flt::FLT_OPERATION_REGISTRATION;
            MajorFunction => MajorFunction,
            Flags => Flags,
            PreOperation => PreOperation,
            PostOperation => PostOperation,
            Reserved1 => Reserved1,
        ),
    );
    tables.push((layouts::FLT_OPERATION_REGISTRATION, rows));

    let mut rows =
        layout_shape!(sim::FLT_CONTEXT_REGISTRATION => layouts::FLT_CONTEXT_REGISTRATION);
    rows.extend(
        members!(sim::FLT_CONTEXT_REGISTRATION => flt::FLT_CONTEXT_REGISTRATION;
            ContextType => ContextType,
            Flags => Flags,
            ContextCleanupCallback => ContextCleanupCallback,
            Size => Size,
            PoolTag => PoolTag,
            ContextAllocateCallback => ContextAllocateCallback,
            ContextFreeCallback => ContextFreeCallback,
            Reserved1 => Reserved1,
        ),
    );
    tables.push((layouts::FLT_CONTEXT_REGISTRATION, rows));

    let mut rows = layout_shape!(sim::FLT_CALLBACK_DATA => layouts::FLT_CALLBACK_DATA);
    rows.extend(members!(sim::FLT_CALLBACK_DATA => flt::FLT_CALLBACK_DATA;
        Flags => Flags,
        Thread => Thread,
        Iopb => Iopb,
        IoStatus => IoStatus,
        TagData => TagData,
        Queue => Anonymous,
        RequestorMode => RequestorMode,
    ));
    rows.push(ends!(sim::FLT_CALLBACK_DATA, Queue => offset_of!(flt::FLT_CALLBACK_DATA, Anonymous) + size_of::<flt::FLT_CALLBACK_DATA_0>()));
    tables.push((layouts::FLT_CALLBACK_DATA, rows));

    let mut rows = layout_shape!(sim::FLT_IO_PARAMETER_BLOCK => layouts::FLT_IO_PARAMETER_BLOCK);
    rows.extend(
        members!(sim::FLT_IO_PARAMETER_BLOCK => flt::FLT_IO_PARAMETER_BLOCK;
            IrpFlags => IrpFlags,
            MajorFunction => MajorFunction,
            MinorFunction => MinorFunction,
            OperationFlags => OperationFlags,
            Reserved => Reserved,
            TargetFileObject => TargetFileObject,
            TargetInstance => TargetInstance,
            Parameters => Parameters,
        ),
    );
    tables.push((layouts::FLT_IO_PARAMETER_BLOCK, rows));

    // The union's size and alignment only: windows-sys misplaces its members' POINTER_ALIGNMENT
    // fields (see `flt_parameters_match_the_documented_offsets`).
    let mut rows = layout_shape!(sim::FLT_PARAMETERS => layouts::FLT_PARAMETERS);
    rows.push(ends!(sim::FLT_PARAMETERS, Others => layouts::FLT_PARAMETERS.size));
    tables.push((layouts::FLT_PARAMETERS, rows));

    let mut rows = layout_shape!(sim::FLT_RELATED_OBJECTS => layouts::FLT_RELATED_OBJECTS);
    rows.extend(
        members!(sim::FLT_RELATED_OBJECTS => flt::FLT_RELATED_OBJECTS;
            Size => Size,
            TransactionContext => TransactionContext,
            Filter => Filter,
            Volume => Volume,
            Instance => Instance,
            FileObject => FileObject,
            Transaction => Transaction,
        ),
    );
    tables.push((layouts::FLT_RELATED_OBJECTS, rows));
    tables
}

#[test]
fn filter_manager_structures_match_windows_sys() {
    let tables = filter_manager_rows();
    for (layout, rows) in &tables {
        assert_eq!(
            uncovered(layout, rows),
            Vec::<&str>::new(),
            "members of {} the sim does not declare",
            layout.name
        );
    }
    let rows: Vec<Check> = tables.into_iter().flat_map(|(_, rows)| rows).collect();
    // 7 structures, 51 members and element members, 3 ends.
    assert_eq!(assert_all(&rows), 68);
}

/// The `FLT_PARAMETERS` members the sim fills, against the documented x64 offsets
/// (`POINTER_ALIGNMENT` = 8 bytes: windows-sys drops it).
fn flt_parameters_rows() -> Vec<Check> {
    use flt_parameters_set_information as set_information;
    use flt_parameters_write as write;

    let mut rows = documented!(sim::FLT_PARAMETERS;
        Create.SecurityContext => create::SECURITY_CONTEXT,
        Create.Options => create::OPTIONS,
        Create.FileAttributes => create::FILE_ATTRIBUTES,
        Create.ShareAccess => create::SHARE_ACCESS,
        Create.EaLength => create::EA_LENGTH,
        Create.EaBuffer => create::EA_BUFFER,
        Create.AllocationSize => create::ALLOCATION_SIZE,
        FileSystemControl.OutputBufferLength => fsctl::OUTPUT_BUFFER_LENGTH,
        FileSystemControl.InputBufferLength => fsctl::INPUT_BUFFER_LENGTH,
        FileSystemControl.FsControlCode => fsctl::FS_CONTROL_CODE,
        FileSystemControl.SystemBuffer => fsctl::SYSTEM_BUFFER,
        Write.Length => write::LENGTH,
        Write.Key => write::KEY,
        Write.ByteOffset => write::BYTE_OFFSET,
        Write.WriteBuffer => write::WRITE_BUFFER,
        Write.MdlAddress => write::MDL_ADDRESS,
        SetFileInformation.Length => set_information::LENGTH,
        SetFileInformation.FileInformationClass => set_information::FILE_INFORMATION_CLASS,
        SetFileInformation.ParentOfTarget => set_information::PARENT_OF_TARGET,
        SetFileInformation.Extra => set_information::UNION,
        SetFileInformation.InfoBuffer => set_information::INFO_BUFFER,
    );
    rows.extend([
        Check::new(
            "sizeof sim::FLT_PARAMETERS.Create",
            pointee_size(|p: &sim::FLT_PARAMETERS| &raw const p.Create),
            create::SIZE,
            "documented create::SIZE",
        ),
        Check::new(
            "sizeof sim::FLT_PARAMETERS.FileSystemControl",
            pointee_size(|p: &sim::FLT_PARAMETERS| &raw const p.FileSystemControl),
            fsctl::SIZE,
            "documented fsctl::SIZE",
        ),
        Check::new(
            "sizeof sim::FLT_PARAMETERS.Write",
            pointee_size(|p: &sim::FLT_PARAMETERS| &raw const p.Write),
            write::SIZE,
            "documented write::SIZE",
        ),
        Check::new(
            "sizeof sim::FLT_PARAMETERS.SetFileInformation",
            pointee_size(|p: &sim::FLT_PARAMETERS| &raw const p.SetFileInformation),
            set_information::SIZE,
            "documented set_information::SIZE",
        ),
    ]);
    rows
}

/// The same `FLT_PARAMETERS` members against wdk-decls (bindgen keeps `POINTER_ALIGNMENT`); the
/// sim's `FileSystemControl` is the header's `FileSystemControl.Buffered`.
fn flt_parameters_decls_rows() -> Vec<Check> {
    let mut rows = Vec::new();
    rows.extend(members!(sim::FLT_PARAMETERS => decls::FLT_PARAMETERS;
        Create.SecurityContext => Create.SecurityContext,
        Create.Options => Create.Options,
        Create.FileAttributes => Create.FileAttributes,
        Create.ShareAccess => Create.ShareAccess,
        Create.EaLength => Create.EaLength,
        Create.EaBuffer => Create.EaBuffer,
        Create.AllocationSize => Create.AllocationSize,
        FileSystemControl.OutputBufferLength => FileSystemControl.Buffered.OutputBufferLength,
        FileSystemControl.InputBufferLength => FileSystemControl.Buffered.InputBufferLength,
        FileSystemControl.FsControlCode => FileSystemControl.Buffered.FsControlCode,
        FileSystemControl.SystemBuffer => FileSystemControl.Buffered.SystemBuffer,
        Write.Length => Write.Length,
        Write.Key => Write.Key,
        Write.ByteOffset => Write.ByteOffset,
        Write.WriteBuffer => Write.WriteBuffer,
        Write.MdlAddress => Write.MdlAddress,
        SetFileInformation.Length => SetFileInformation.Length,
        SetFileInformation.FileInformationClass => SetFileInformation.FileInformationClass,
        SetFileInformation.ParentOfTarget => SetFileInformation.ParentOfTarget,
        SetFileInformation.Extra => SetFileInformation.__bindgen_anon_1,
        SetFileInformation.InfoBuffer => SetFileInformation.InfoBuffer,
    ));
    rows.extend([
        Check::new(
            "sizeof sim::FLT_PARAMETERS.Create",
            pointee_size(|p: &sim::FLT_PARAMETERS| &raw const p.Create),
            pointee_size(|p: &decls::FLT_PARAMETERS| &raw const p.Create),
            "wdk-decls FLT_PARAMETERS.Create",
        ),
        Check::new(
            "sizeof sim::FLT_PARAMETERS.FileSystemControl",
            pointee_size(|p: &sim::FLT_PARAMETERS| &raw const p.FileSystemControl),
            pointee_size(|p: &decls::FLT_PARAMETERS| &raw const p.FileSystemControl.Buffered),
            "wdk-decls FLT_PARAMETERS.FileSystemControl.Buffered",
        ),
        Check::new(
            "sizeof sim::FLT_PARAMETERS.Write",
            pointee_size(|p: &sim::FLT_PARAMETERS| &raw const p.Write),
            pointee_size(|p: &decls::FLT_PARAMETERS| &raw const p.Write),
            "wdk-decls FLT_PARAMETERS.Write",
        ),
        Check::new(
            "sizeof sim::FLT_PARAMETERS.SetFileInformation",
            pointee_size(|p: &sim::FLT_PARAMETERS| &raw const p.SetFileInformation),
            pointee_size(|p: &decls::FLT_PARAMETERS| &raw const p.SetFileInformation),
            "wdk-decls FLT_PARAMETERS.SetFileInformation",
        ),
    ]);
    rows
}

#[test]
fn flt_parameters_match_the_documented_offsets() {
    let rows = [flt_parameters_rows(), flt_parameters_decls_rows()].concat();
    // 21 members and 4 member sizes, each against the documented value and wdk-decls.
    assert_eq!(assert_all(&rows), 50);
}

/// The KMDF configuration structures, against wdk-decls (windows-sys has no KMDF).
fn kmdf_rows() -> Vec<Check> {
    let mut rows = shape!(sim::WDF_OBJECT_CONTEXT_TYPE_INFO => decls::WDF_OBJECT_CONTEXT_TYPE_INFO);
    rows.extend(
        members!(sim::WDF_OBJECT_CONTEXT_TYPE_INFO => decls::WDF_OBJECT_CONTEXT_TYPE_INFO;
            Size => Size,
            ContextName => ContextName,
            ContextSize => ContextSize,
            UniqueType => UniqueType,
            EvtDriverGetUniqueContextType => EvtDriverGetUniqueContextType,
        ),
    );

    rows.extend(shape!(sim::WDF_OBJECT_ATTRIBUTES => decls::WDF_OBJECT_ATTRIBUTES));
    rows.extend(
        members!(sim::WDF_OBJECT_ATTRIBUTES => decls::WDF_OBJECT_ATTRIBUTES;
            Size => Size,
            EvtCleanupCallback => EvtCleanupCallback,
            EvtDestroyCallback => EvtDestroyCallback,
            ExecutionLevel => ExecutionLevel,
            SynchronizationScope => SynchronizationScope,
            ParentObject => ParentObject,
            ContextSizeOverride => ContextSizeOverride,
            ContextTypeInfo => ContextTypeInfo,
        ),
    );

    rows.extend(shape!(sim::WDF_DRIVER_CONFIG => decls::WDF_DRIVER_CONFIG));
    rows.extend(members!(sim::WDF_DRIVER_CONFIG => decls::WDF_DRIVER_CONFIG;
        Size => Size,
        EvtDriverDeviceAdd => EvtDriverDeviceAdd,
        EvtDriverUnload => EvtDriverUnload,
        DriverInitFlags => DriverInitFlags,
        DriverPoolTag => DriverPoolTag,
    ));

    rows.extend(shape!(sim::WDF_FILEOBJECT_CONFIG => decls::WDF_FILEOBJECT_CONFIG));
    rows.extend(
        members!(sim::WDF_FILEOBJECT_CONFIG => decls::WDF_FILEOBJECT_CONFIG;
            Size => Size,
            EvtDeviceFileCreate => EvtDeviceFileCreate,
            EvtFileClose => EvtFileClose,
            EvtFileCleanup => EvtFileCleanup,
            AutoForwardCleanupClose => AutoForwardCleanupClose,
            FileObjectClass => FileObjectClass,
        ),
    );

    rows.extend(shape!(sim::WDF_IO_QUEUE_CONFIG => decls::WDF_IO_QUEUE_CONFIG));
    rows.extend(
        members!(sim::WDF_IO_QUEUE_CONFIG => decls::WDF_IO_QUEUE_CONFIG;
            Size => Size,
            DispatchType => DispatchType,
            PowerManaged => PowerManaged,
            AllowZeroLengthRequests => AllowZeroLengthRequests,
            DefaultQueue => DefaultQueue,
            EvtIoOther[0] => EvtIoDefault,
            EvtIoOther[1] => EvtIoRead,
            EvtIoOther[2] => EvtIoWrite,
            EvtIoDeviceControl => EvtIoDeviceControl,
            EvtIoMore[0] => EvtIoInternalDeviceControl,
            EvtIoMore[1] => EvtIoStop,
            EvtIoMore[2] => EvtIoResume,
            EvtIoMore[3] => EvtIoCanceledOnQueue,
            Settings => Settings.Parallel.NumberOfPresentedRequests,
            Driver => Driver,
        ),
    );

    rows
}

/// The KMDF I/O target and request structures, against wdk-decls.
fn kmdf_request_rows() -> Vec<Check> {
    let mut rows = Vec::new();
    rows.extend(shape!(sim::WDF_IO_TARGET_OPEN_PARAMS => decls::WDF_IO_TARGET_OPEN_PARAMS));
    rows.extend(
        members!(sim::WDF_IO_TARGET_OPEN_PARAMS => decls::WDF_IO_TARGET_OPEN_PARAMS;
            Size => Size,
            Type => Type,
            Events[0] => EvtIoTargetQueryRemove,
            Events[1] => EvtIoTargetRemoveCanceled,
            Events[2] => EvtIoTargetRemoveComplete,
            TargetDeviceObject => TargetDeviceObject,
            TargetFileObject => TargetFileObject,
            TargetDeviceName => TargetDeviceName,
            DesiredAccess => DesiredAccess,
            ShareAccess => ShareAccess,
            FileAttributes => FileAttributes,
            CreateDisposition => CreateDisposition,
            CreateOptions => CreateOptions,
            EaBuffer => EaBuffer,
            EaBufferLength => EaBufferLength,
            AllocationSize => AllocationSize,
            FileInformation => FileInformation,
            FileName => FileName,
        ),
    );

    // `DeviceIoControl`'s `InputBufferLength` and `IoControlCode` are POINTER_ALIGNMENT in
    // wdfrequest.h; bindgen keeps the alignment.
    rows.extend(shape!(sim::WDF_REQUEST_PARAMETERS => decls::WDF_REQUEST_PARAMETERS));
    rows.extend(members!(sim::WDF_REQUEST_PARAMETERS => decls::WDF_REQUEST_PARAMETERS;
        Size => Size,
        MinorFunction => MinorFunction,
        Type => Type,
        Parameters => Parameters,
        Parameters.DeviceIoControl.OutputBufferLength => Parameters.DeviceIoControl.OutputBufferLength,
        Parameters.DeviceIoControl.InputBufferLength => Parameters.DeviceIoControl.InputBufferLength,
        Parameters.DeviceIoControl.IoControlCode => Parameters.DeviceIoControl.IoControlCode,
        Parameters.DeviceIoControl.Type3InputBuffer => Parameters.DeviceIoControl.Type3InputBuffer,
        Parameters.Others => Parameters.Others,
    ));
    rows.push(Check::new(
        "sizeof sim::WDF_REQUEST_PARAMETERS.Parameters",
        member_size(|p: &sim::WDF_REQUEST_PARAMETERS| &p.Parameters),
        member_size(|p: &decls::WDF_REQUEST_PARAMETERS| &p.Parameters),
        "wdk-decls WDF_REQUEST_PARAMETERS.Parameters",
    ));

    rows.extend(shape!(sim::WDF_REQUEST_COMPLETION_PARAMS => decls::WDF_REQUEST_COMPLETION_PARAMS));
    rows.extend(
        members!(sim::WDF_REQUEST_COMPLETION_PARAMS => decls::WDF_REQUEST_COMPLETION_PARAMS;
            Size => Size,
            Type => Type,
            IoStatus => IoStatus,
            Parameters[0] => Parameters.Read.Buffer,
            Parameters[1] => Parameters.Read.Length,
            Parameters[2] => Parameters.Read.Offset,
        ),
    );
    rows.push(ends!(sim::WDF_REQUEST_COMPLETION_PARAMS, Parameters => size_of::<decls::WDF_REQUEST_COMPLETION_PARAMS>()));

    rows.extend(shape!(sim::WDF_DRIVER_GLOBALS => decls::WDF_DRIVER_GLOBALS));
    rows.extend(
        members!(sim::WDF_DRIVER_GLOBALS => decls::WDF_DRIVER_GLOBALS;
            Driver => Driver,
            DriverFlags => DriverFlags,
            DriverTag => DriverTag,
            DriverName => DriverName,
            DisplaceDriverUnload => DisplaceDriverUnload,
        ),
    );
    rows
}

#[test]
fn kmdf_structures_match_wdk_decls() {
    let rows = [kmdf_rows(), kmdf_request_rows()].concat();
    // 9 structures, 77 members and element members, 1 union size, 1 end.
    assert_eq!(assert_all(&rows), 97);
}

/// A KMDF function-table index: the `WDFFUNCENUM` enumerator's name and value.
macro_rules! indices {
    ($($index:ident),* $(,)?) => {
        &[$((stringify!($index), funcenum::$index)),*]
    };
}

/// The `WDFFUNCENUM` indices wdk-decls declares (checked against the genuine wdffuncenum.h).
const WDK_DECLS_INDICES: &[(&str, i32)] = indices![
    WdfControlDeviceInitAllocateTableIndex,
    WdfControlFinishInitializingTableIndex,
    WdfDeviceInitFreeTableIndex,
    WdfDeviceInitAssignNameTableIndex,
    WdfDeviceInitSetFileObjectConfigTableIndex,
    WdfDeviceInitSetRequestAttributesTableIndex,
    WdfDeviceInitSetIoInCallerContextCallbackTableIndex,
    WdfDeviceCreateTableIndex,
    WdfDeviceCreateSymbolicLinkTableIndex,
    WdfDeviceEnqueueRequestTableIndex,
    WdfDeviceGetDefaultQueueTableIndex,
    WdfDriverCreateTableIndex,
    WdfFileObjectGetDeviceTableIndex,
    WdfIoQueueCreateTableIndex,
    WdfIoQueueStopTableIndex,
    WdfIoQueueGetDeviceTableIndex,
    WdfIoTargetCreateTableIndex,
    WdfIoTargetOpenTableIndex,
    WdfIoTargetCloseTableIndex,
    WdfIoTargetGetDeviceTableIndex,
    WdfIoTargetFormatRequestForReadTableIndex,
    WdfObjectGetTypedContextWorkerTableIndex,
    WdfObjectReferenceActualTableIndex,
    WdfObjectDereferenceActualTableIndex,
    WdfObjectDeleteTableIndex,
    WdfRequestSendTableIndex,
    WdfRequestGetStatusTableIndex,
    WdfRequestCancelSentRequestTableIndex,
    WdfRequestSetCompletionRoutineTableIndex,
    WdfRequestCompleteWithInformationTableIndex,
    WdfRequestGetParametersTableIndex,
    WdfRequestRetrieveOutputMemoryTableIndex,
    WdfRequestRetrieveInputBufferTableIndex,
    WdfRequestRetrieveOutputBufferTableIndex,
    WdfRequestGetFileObjectTableIndex,
    WdfSpinLockCreateTableIndex,
    WdfSpinLockAcquireTableIndex,
    WdfSpinLockReleaseTableIndex,
    WdfTimerCreateTableIndex,
    WdfTimerStartTableIndex,
    WdfTimerStopTableIndex,
];

/// Indices of methods the sim provides that wdk-decls does not always declare (it declares only
/// what driver/ calls, and these come and go with it), from `wdffuncenum.h` of KMDF 1.33
/// (microsoft/Windows-Driver-Frameworks, `src/publicinc/wdf/kmdf/1.33/wdffuncenum.h`).
const WDFFUNCENUM_H_INDICES: &[(&str, i32)] = &[
    ("WdfDeviceWdmGetDeviceObjectTableIndex", 31),
    ("WdfIoQueueStartTableIndex", 154),
    ("WdfIoTargetWdmGetTargetDeviceObjectTableIndex", 178),
    ("WdfRequestCreateTableIndex", 247),
];

/// One row per method of `methods` (a table shaped as the sim's `METHODS`): its index against
/// the `WDFFUNCENUM` enumerator of the same name, or "no reference" if neither wdk-decls nor
/// the documented list names it.
fn method_rows(methods: &[(usize, &'static str)]) -> Vec<Check> {
    methods
        .iter()
        .map(|&(index, name)| {
            let find = |table: &[(&str, i32)]| {
                table
                    .iter()
                    .find(|(enumerator, _)| enumerator.strip_suffix("TableIndex") == Some(name))
                    .map(|&(_, value)| value)
            };
            let (reference, source) = if let Some(value) = find(WDK_DECLS_INDICES) {
                (Value::from(value), "wdk_sys::_WDFFUNCENUM")
            } else if let Some(value) = find(WDFFUNCENUM_H_INDICES) {
                (Value::from(value), "wdffuncenum.h (KMDF 1.33)")
            } else {
                (Value::Text("no reference"), "none")
            };
            Check {
                item: name,
                project: Value::from(index),
                microsoft: reference,
                source,
            }
        })
        .collect()
}

#[test]
fn kmdf_function_table_indices_match() {
    let mut rows = method_rows(simk::wdf::METHODS);
    let methods = rows.len();
    rows.push(check!(
        simk::wdf::TABLE_ENTRIES,
        funcenum::WdfFunctionTableNumEntries
    ));
    assert_eq!(assert_all(&rows), methods + 1);
    assert_eq!(methods, 42, "the sim's METHODS table changed size");
}

/// The sim's NTSTATUS values, context types, IRQLs and KMDF enumerators.
fn constant_rows() -> Vec<Check> {
    vec![
        check!(sim_nt::STATUS_SUCCESS, w32::STATUS_SUCCESS),
        check!(sim_nt::STATUS_TIMEOUT, w32::STATUS_TIMEOUT),
        check!(sim_nt::STATUS_INVALID_HANDLE, w32::STATUS_INVALID_HANDLE),
        check!(sim_nt::STATUS_ACCESS_DENIED, w32::STATUS_ACCESS_DENIED),
        check!(
            sim_nt::STATUS_OBJECT_TYPE_MISMATCH,
            w32::STATUS_OBJECT_TYPE_MISMATCH
        ),
        check!(
            sim_nt::STATUS_INSUFFICIENT_RESOURCES,
            w32::STATUS_INSUFFICIENT_RESOURCES
        ),
        check!(
            simk::wdf::STATUS_INVALID_PARAMETER,
            w32::STATUS_INVALID_PARAMETER
        ),
        check!(
            simk::wdf::STATUS_INVALID_DEVICE_STATE,
            w32::STATUS_INVALID_DEVICE_STATE
        ),
        check!(
            simk::wdf::STATUS_BUFFER_TOO_SMALL,
            w32::STATUS_BUFFER_TOO_SMALL
        ),
        check!(simk::wdf::STATUS_CANCELLED, w32::STATUS_CANCELLED),
        check!(
            simk::wdf::STATUS_REQUEST_NOT_ACCEPTED,
            w32::STATUS_REQUEST_NOT_ACCEPTED
        ),
        check!(
            simk::wdf::STATUS_OBJECT_NAME_NOT_FOUND,
            w32::STATUS_OBJECT_NAME_NOT_FOUND
        ),
        check!(simk::wdf::STATUS_DELETE_PENDING, w32::STATUS_DELETE_PENDING),
        check!(sim_flt::STATUS_NOT_FOUND, w32::STATUS_NOT_FOUND),
        check!(sim_flt::STATUS_NOT_SUPPORTED, w32::STATUS_NOT_SUPPORTED),
        check!(
            sim_flt::STATUS_FLT_CONTEXT_ALREADY_DEFINED,
            w32::STATUS_FLT_CONTEXT_ALREADY_DEFINED
        ),
        check!(
            sim_flt::STATUS_FLT_DELETING_OBJECT,
            w32::STATUS_FLT_DELETING_OBJECT
        ),
        check!(
            sim_flt::STATUS_FLT_INSTANCE_NOT_FOUND,
            w32::STATUS_FLT_INSTANCE_NOT_FOUND
        ),
        check!(
            sim_flt::STATUS_FLT_INVALID_CONTEXT_REGISTRATION,
            w32::STATUS_FLT_INVALID_CONTEXT_REGISTRATION
        ),
        check!(
            sim_flt::STATUS_FLT_NOT_INITIALIZED,
            w32::STATUS_FLT_NOT_INITIALIZED
        ),
        check!(sim_flt::STATUS_END_OF_FILE, w32::STATUS_END_OF_FILE),
        check!(sim_flt::STATUS_FILE_CLOSED, w32::STATUS_FILE_CLOSED),
        check!(
            sim_flt::FLTFL_IO_OPERATION_DO_NOT_UPDATE_BYTE_OFFSET,
            flt::FLTFL_IO_OPERATION_DO_NOT_UPDATE_BYTE_OFFSET
        ),
        check!(sim_flt::FO_SYNCHRONOUS_IO, ss::FO_SYNCHRONOUS_IO),
        check!(sim_flt::FLT_STREAM_CONTEXT, flt::FLT_STREAM_CONTEXT),
        check!(
            sim_flt::FLT_STREAMHANDLE_CONTEXT,
            flt::FLT_STREAMHANDLE_CONTEXT
        ),
        check!(simk::PASSIVE_LEVEL, ss::PASSIVE_LEVEL),
        check!(simk::APC_LEVEL, ss::APC_LEVEL),
        check!(simk::DISPATCH_LEVEL, ss::DISPATCH_LEVEL),
        // KMDF enumerators: windows-sys has no KMDF, so wdk-decls.
        check!(
            simk::wdf::REQUEST_TYPE_CREATE,
            decls::_WDF_REQUEST_TYPE::WdfRequestTypeCreate
        ),
        check!(
            simk::wdf::REQUEST_TYPE_READ,
            decls::_WDF_REQUEST_TYPE::WdfRequestTypeRead
        ),
        check!(
            simk::wdf::REQUEST_TYPE_DEVICE_CONTROL,
            decls::_WDF_REQUEST_TYPE::WdfRequestTypeDeviceControl
        ),
        check!(
            simk::wdf::OPEN_BY_NAME,
            decls::_WDF_IO_TARGET_OPEN_TYPE::WdfIoTargetOpenByName
        ),
        check!(
            simk::wdf::OPEN_USE_EXISTING_DEVICE,
            decls::_WDF_IO_TARGET_OPEN_TYPE::WdfIoTargetOpenUseExistingDevice
        ),
    ]
}

#[test]
fn constants_match_windows_sys_and_wdk_decls() {
    assert_eq!(assert_all(&constant_rows()), 34);
}

// ---- negative controls ---------------------------------------------------------------------

/// `FLT_PARAMETERS.Write` declared without `POINTER_ALIGNMENT` (as windows-sys has it), fed
/// through the same row builders: every member after `Length` is reported, against both the
/// documented offsets and wdk-decls.
#[test]
fn a_member_without_pointer_alignment_is_caught() {
    #[repr(C)]
    #[derive(Clone, Copy)]
    #[allow(non_snake_case, dead_code, reason = "the C member names")]
    struct Write {
        Length: u32,
        Key: u32,
        ByteOffset: i64,
        WriteBuffer: *mut u8,
        MdlAddress: *mut u8,
    }
    #[repr(C)]
    #[allow(non_snake_case, dead_code, reason = "the C member names")]
    union Parameters {
        Write: Write,
        Others: [*mut u8; 6],
    }
    use flt_parameters_write as write;
    let mut rows = documented!(Parameters;
        Write.Length => write::LENGTH,
        Write.Key => write::KEY,
        Write.ByteOffset => write::BYTE_OFFSET,
    );
    rows.extend(members!(Parameters => decls::FLT_PARAMETERS;
        Write.Length => Write.Length,
        Write.MdlAddress => Write.MdlAddress,
    ));
    let found = mismatches(&rows);
    let items: Vec<&str> = found.iter().map(|m| m.item).collect();
    assert_eq!(
        items,
        [
            "offsetof Parameters.Write.Key",
            "offsetof Parameters.Write.ByteOffset",
            "offsetof Parameters.Write.MdlAddress",
        ],
        "{}",
        report(&found)
    );
    assert_eq!(found[0].project, Value::Int(4));
    assert_eq!(found[0].microsoft, Value::Int(8));
}

/// A `FILE_OBJECT`-shaped declaration whose reserved `BOOLEAN`s run four bytes too long (so
/// `Flags` lands at 0x54, not 0x50): the element rows pass, `Flags` and the end of the reserved
/// space are reported, and the size alone would not have shown it.
#[test]
fn a_member_after_oversized_reserved_space_is_caught() {
    #[repr(C)]
    #[allow(non_snake_case, dead_code, reason = "the C member names")]
    struct Head {
        Type: i16,
        Size: i16,
        DeviceObject: *mut u8,
        Pointers: [*mut u8; 5],
        FinalStatus: i32,
        RelatedFileObject: *mut u8,
        Booleans: [u8; 12],
        Flags: u32,
        FileName: [*mut u8; 2],
    }
    let mut rows = members!(Head => wf::FILE_OBJECT;
        RelatedFileObject => RelatedFileObject,
        Booleans[0] => LockOperation,
        Booleans[7] => SharedDelete,
        Flags => Flags,
        FileName => FileName,
    );
    rows.push(ends!(Head, Booleans => offset_of!(wf::FILE_OBJECT, Flags)));
    let found = mismatches(&rows);
    let items: Vec<&str> = found.iter().map(|m| m.item).collect();
    assert_eq!(
        items,
        ["offsetof Head.Flags", "end of Head.Booleans"],
        "{}",
        report(&found)
    );
    assert_eq!(found[0].project, Value::Int(0x54));
    assert_eq!(found[0].microsoft, Value::Int(0x50));
}

/// A member the sim's declaration leaves out of a Filter Manager structure is reported.
#[test]
fn a_missing_member_is_caught() {
    let rows = members!(sim::FLT_RELATED_OBJECTS => flt::FLT_RELATED_OBJECTS;
        Size => Size,
        Filter => Filter,
    );
    assert_eq!(
        uncovered(&layouts::FLT_RELATED_OBJECTS, &rows),
        [
            "TransactionContext",
            "Volume",
            "Instance",
            "FileObject",
            "Transaction"
        ]
    );
}

/// A function table with a wrong index and a method no reference names: both are reported.
#[test]
fn a_wrong_function_table_index_is_caught() {
    let methods = [
        (116, "WdfDriverCreate"),
        (76, "WdfDeviceCreate"),
        (178, "WdfIoTargetWdmGetTargetDeviceObject"),
        (400, "WdfNoSuchMethod"),
    ];
    let found = mismatches(&method_rows(&methods));
    let text = report(&found);
    let items: Vec<&str> = found.iter().map(|m| m.item).collect();
    assert_eq!(items, ["WdfDeviceCreate", "WdfNoSuchMethod"], "{text}");
    assert_eq!(found[0].microsoft, Value::Int(75));
    assert_eq!(found[1].microsoft, Value::Text("no reference"));
}
