//! `wdk-decls/` — the WDK declaration headers driver/ is compiled against on Linux — against
//! Microsoft's metadata (`windows-sys`) and, for the `POINTER_ALIGNMENT` fields `windows-sys`
//! misplaces, the documented x64 offsets ([`ferrofilter_abi::documented`]).
//!
//! The declarations are bindgen's output for those headers, generated for this host with clang
//! targeting x64 Windows (`ferrofilter-host-wdk-sys`, the wdk-sys driver/ uses off Windows), so a wrong member order, a missing alignment or a
//! wrong enumerator value in a header fails here. The same headers are compared with a genuine
//! WDK, KMDF declarations included, by `.ci/real-wdk-check`.

#![forbid(unsafe_code)]

use core::mem::{align_of, offset_of, size_of};

use ferrofilter_abi::check::{Check, assert_all, mismatches};
use ferrofilter_abi::documented::{
    flt_parameters_create as create, flt_parameters_fsctl_buffered as fsctl,
};
use ferrofilter_abi::layouts::{self, Layout};
use ferrofilter_abi::{check, with_members};
use wdk_sys as decls;
use windows_sys::Wdk::Foundation as wf;
use windows_sys::Wdk::Storage::FileSystem::Minifilters as flt;
use windows_sys::Wdk::System::SystemServices as ss;
use windows_sys::Win32::Foundation as w32;
use windows_sys::Win32::Storage::InstallableFileSystems as ifs;
use windows_sys::Win32::System::Kernel as kernel;

/// One row per size, alignment and member of `microsoft`, compared with the same items of the
/// header's type (member lists from [`ferrofilter_abi::with_members`]).
macro_rules! layout_rows {
    ($microsoft:expr, $ty:ty, [$($field:ident),* $(,)?]) => {{
        let microsoft: Layout = $microsoft;
        #[allow(unused_mut, reason = "a layout without members pushes nothing")]
        let mut rows = vec![
            Check::new(concat!("sizeof ", stringify!($ty)), size_of::<$ty>(), microsoft.size, "windows-sys size_of"),
            Check::new(concat!("alignof ", stringify!($ty)), align_of::<$ty>(), microsoft.align, "windows-sys align_of"),
        ];
        $(
            rows.push(Check::new(
                concat!("offsetof ", stringify!($ty), ".", stringify!($field)),
                decl_offset!($ty, $field),
                microsoft.offset(stringify!($field)).expect("windows-sys has the member"),
                "windows-sys offset_of",
            ));
        )*
        rows
    }};
}

/// bindgen names an unnamed union `__bindgen_anon_1` where windows-sys says `Anonymous`.
macro_rules! decl_offset {
    ($ty:ty, Anonymous) => {
        offset_of!($ty, __bindgen_anon_1)
    };
    ($ty:ty, $field:ident) => {
        offset_of!($ty, $field)
    };
}

#[test]
fn filter_manager_structures_match_windows_sys() {
    let rows: Vec<Check> = [
        with_members!(FLT_REGISTRATION => layout_rows!(layouts::FLT_REGISTRATION, decls::FLT_REGISTRATION,)),
        with_members!(FLT_OPERATION_REGISTRATION => layout_rows!(layouts::FLT_OPERATION_REGISTRATION, decls::FLT_OPERATION_REGISTRATION,)),
        with_members!(FLT_CONTEXT_REGISTRATION => layout_rows!(layouts::FLT_CONTEXT_REGISTRATION, decls::FLT_CONTEXT_REGISTRATION,)),
        with_members!(FLT_CALLBACK_DATA => layout_rows!(layouts::FLT_CALLBACK_DATA, decls::FLT_CALLBACK_DATA,)),
        with_members!(FLT_IO_PARAMETER_BLOCK => layout_rows!(layouts::FLT_IO_PARAMETER_BLOCK, decls::FLT_IO_PARAMETER_BLOCK,)),
        with_members!(FLT_PARAMETERS => layout_rows!(layouts::FLT_PARAMETERS, decls::FLT_PARAMETERS,)),
        with_members!(FLT_RELATED_OBJECTS => layout_rows!(layouts::FLT_RELATED_OBJECTS, decls::FLT_RELATED_OBJECTS,)),
        with_members!(IO_STATUS_BLOCK => layout_rows!(layouts::IO_STATUS_BLOCK, decls::IO_STATUS_BLOCK,)),
    ]
    .concat();
    // 8 sizes, 8 alignments and 53 members: none of the lists is lost on the way.
    assert_eq!(assert_all(&rows), 69);
}

/// `POINTER_ALIGNMENT` members: windows-sys drops the alignment, so the documented offsets decide.
#[test]
fn pointer_aligned_parameters_have_the_documented_offsets() {
    // bindgen's names for FLT_PARAMETERS.Create and .FileSystemControl.Buffered (the headers'
    // unnamed structs, numbered in declaration order); the functions below prove the pairing.
    type Create = decls::_FLT_PARAMETERS__bindgen_ty_1;
    type Buffered = decls::_FLT_PARAMETERS__bindgen_ty_4__bindgen_ty_3;
    fn create_of(parameters: &decls::FLT_PARAMETERS) -> *const Create {
        &raw const parameters.Create
    }
    fn buffered_of(parameters: &decls::FLT_PARAMETERS) -> *const Buffered {
        &raw const parameters.FileSystemControl.Buffered
    }
    let parameters = decls::FLT_PARAMETERS::default();
    assert_eq!(
        create_of(&parameters).cast::<u8>(),
        buffered_of(&parameters).cast::<u8>()
    );
    let rows = [
        Check::new(
            "Create.SecurityContext",
            offset_of!(Create, SecurityContext),
            create::SECURITY_CONTEXT,
            "documented",
        ),
        Check::new(
            "Create.Options",
            offset_of!(Create, Options),
            create::OPTIONS,
            "documented",
        ),
        Check::new(
            "Create.FileAttributes",
            offset_of!(Create, FileAttributes),
            create::FILE_ATTRIBUTES,
            "documented",
        ),
        Check::new(
            "Create.ShareAccess",
            offset_of!(Create, ShareAccess),
            create::SHARE_ACCESS,
            "documented",
        ),
        Check::new(
            "Create.EaLength",
            offset_of!(Create, EaLength),
            create::EA_LENGTH,
            "documented",
        ),
        Check::new(
            "Create.EaBuffer",
            offset_of!(Create, EaBuffer),
            create::EA_BUFFER,
            "documented",
        ),
        Check::new(
            "Create.AllocationSize",
            offset_of!(Create, AllocationSize),
            create::ALLOCATION_SIZE,
            "documented",
        ),
        Check::new(
            "sizeof Create",
            size_of::<Create>(),
            create::SIZE,
            "documented",
        ),
        Check::new(
            "Buffered.OutputBufferLength",
            offset_of!(Buffered, OutputBufferLength),
            fsctl::OUTPUT_BUFFER_LENGTH,
            "documented",
        ),
        Check::new(
            "Buffered.InputBufferLength",
            offset_of!(Buffered, InputBufferLength),
            fsctl::INPUT_BUFFER_LENGTH,
            "documented",
        ),
        Check::new(
            "Buffered.FsControlCode",
            offset_of!(Buffered, FsControlCode),
            fsctl::FS_CONTROL_CODE,
            "documented",
        ),
        Check::new(
            "Buffered.SystemBuffer",
            offset_of!(Buffered, SystemBuffer),
            fsctl::SYSTEM_BUFFER,
            "documented",
        ),
        Check::new(
            "sizeof Buffered",
            size_of::<Buffered>(),
            fsctl::SIZE,
            "documented",
        ),
    ];
    assert_all(&rows);
}

/// `MEMORY_ALLOCATION_ALIGNMENT` on x64 (ntdef.h: 16).
const MEMORY_ALLOCATION_ALIGNMENT: usize = 16;

/// Kernel structures the driver embeds or reads a member of.
#[test]
fn kernel_structures_match_windows_sys() {
    let rows = [
        // wdm.h declares DEVICE_OBJECT DECLSPEC_ALIGN(MEMORY_ALLOCATION_ALIGNMENT), 16 on x64;
        // windows-sys drops that alignment as it drops POINTER_ALIGNMENT (328 bytes, align 8), so
        // the size is windows-sys's rounded up to 16. .ci/real-wdk-check confirms 336 / 16
        // against the genuine header.
        check!(
            size_of::<decls::DEVICE_OBJECT>(),
            size_of::<wf::DEVICE_OBJECT>().next_multiple_of(MEMORY_ALLOCATION_ALIGNMENT)
        ),
        check!(
            align_of::<decls::DEVICE_OBJECT>(),
            MEMORY_ALLOCATION_ALIGNMENT
        ),
        check!(
            offset_of!(decls::DEVICE_OBJECT, DeviceType),
            offset_of!(wf::DEVICE_OBJECT, DeviceType)
        ),
        check!(
            offset_of!(decls::DEVICE_OBJECT, StackSize),
            offset_of!(wf::DEVICE_OBJECT, StackSize)
        ),
        check!(
            offset_of!(decls::DEVICE_OBJECT, Flags),
            offset_of!(wf::DEVICE_OBJECT, Flags)
        ),
        check!(
            size_of::<decls::IO_SECURITY_CONTEXT>(),
            size_of::<wf::IO_SECURITY_CONTEXT>()
        ),
        check!(
            offset_of!(decls::IO_SECURITY_CONTEXT, AccessState),
            offset_of!(wf::IO_SECURITY_CONTEXT, AccessState)
        ),
        check!(
            offset_of!(decls::IO_SECURITY_CONTEXT, DesiredAccess),
            offset_of!(wf::IO_SECURITY_CONTEXT, DesiredAccess)
        ),
        check!(
            offset_of!(decls::IO_SECURITY_CONTEXT, FullCreateOptions),
            offset_of!(wf::IO_SECURITY_CONTEXT, FullCreateOptions)
        ),
        check!(size_of::<decls::KEVENT>(), size_of::<wf::KEVENT>()),
        check!(align_of::<decls::KEVENT>(), align_of::<wf::KEVENT>()),
        check!(
            size_of::<decls::LIST_ENTRY>(),
            size_of::<kernel::LIST_ENTRY>()
        ),
        check!(
            size_of::<decls::UNICODE_STRING>(),
            size_of::<w32::UNICODE_STRING>()
        ),
        check!(
            offset_of!(decls::UNICODE_STRING, MaximumLength),
            offset_of!(w32::UNICODE_STRING, MaximumLength)
        ),
        check!(
            offset_of!(decls::UNICODE_STRING, Buffer),
            offset_of!(w32::UNICODE_STRING, Buffer)
        ),
        check!(
            size_of::<decls::OBJECT_HANDLE_INFORMATION>(),
            size_of::<ss::OBJECT_HANDLE_INFORMATION>()
        ),
        check!(
            offset_of!(decls::OBJECT_HANDLE_INFORMATION, GrantedAccess),
            offset_of!(ss::OBJECT_HANDLE_INFORMATION, GrantedAccess)
        ),
        check!(size_of::<decls::GUID>(), layouts::GUID_LAYOUT.size),
        check!(
            offset_of!(decls::GUID, Data4),
            layouts::GUID_LAYOUT.offset("Data4").expect("Data4")
        ),
        check!(size_of::<decls::LARGE_INTEGER>(), size_of::<i64>()),
    ];
    assert_all(&rows);
}

/// The access state post-create reads the granted access from, and the object attributes of the
/// caller-context `OPEN_TARGET` open. `ACCESS_STATE` declares its members up to
/// `OriginalDesiredAccess`; `Undeclared` holds the bytes from `SubjectSecurityContext` on.
#[test]
fn access_state_and_object_attributes_match_windows_sys() {
    let rows = [
        check!(
            size_of::<decls::ACCESS_STATE>(),
            size_of::<wf::ACCESS_STATE>()
        ),
        check!(
            align_of::<decls::ACCESS_STATE>(),
            align_of::<wf::ACCESS_STATE>()
        ),
        check!(
            offset_of!(decls::ACCESS_STATE, Flags),
            offset_of!(wf::ACCESS_STATE, Flags)
        ),
        check!(
            offset_of!(decls::ACCESS_STATE, RemainingDesiredAccess),
            offset_of!(wf::ACCESS_STATE, RemainingDesiredAccess)
        ),
        check!(
            offset_of!(decls::ACCESS_STATE, PreviouslyGrantedAccess),
            offset_of!(wf::ACCESS_STATE, PreviouslyGrantedAccess)
        ),
        check!(
            offset_of!(decls::ACCESS_STATE, OriginalDesiredAccess),
            offset_of!(wf::ACCESS_STATE, OriginalDesiredAccess)
        ),
        check!(
            offset_of!(decls::ACCESS_STATE, Undeclared),
            offset_of!(wf::ACCESS_STATE, SubjectSecurityContext)
        ),
        check!(
            size_of::<decls::OBJECT_ATTRIBUTES>(),
            size_of::<wf::OBJECT_ATTRIBUTES>()
        ),
        check!(
            offset_of!(decls::OBJECT_ATTRIBUTES, RootDirectory),
            offset_of!(wf::OBJECT_ATTRIBUTES, RootDirectory)
        ),
        check!(
            offset_of!(decls::OBJECT_ATTRIBUTES, ObjectName),
            offset_of!(wf::OBJECT_ATTRIBUTES, ObjectName)
        ),
        check!(
            offset_of!(decls::OBJECT_ATTRIBUTES, Attributes),
            offset_of!(wf::OBJECT_ATTRIBUTES, Attributes)
        ),
        check!(
            offset_of!(decls::OBJECT_ATTRIBUTES, SecurityDescriptor),
            offset_of!(wf::OBJECT_ATTRIBUTES, SecurityDescriptor)
        ),
        check!(
            offset_of!(decls::OBJECT_ATTRIBUTES, SecurityQualityOfService),
            offset_of!(wf::OBJECT_ATTRIBUTES, SecurityQualityOfService)
        ),
    ];
    assert_all(&rows);
}

/// Enumerators and #define values the driver and the windows-drivers-rs crates use.
#[test]
fn values_match_windows_sys() {
    let rows = [
        check!(
            i64::from(decls::_FLT_FILESYSTEM_TYPE::FLT_FSTYPE_NTFS),
            i64::from(ifs::FLT_FSTYPE_NTFS)
        ),
        check!(
            i64::from(decls::_FLT_FILESYSTEM_TYPE::FLT_FSTYPE_CSVFS),
            i64::from(ifs::FLT_FSTYPE_CSVFS)
        ),
        check!(
            i64::from(decls::_FLT_FILESYSTEM_TYPE::FLT_FSTYPE_REFS),
            i64::from(ifs::FLT_FSTYPE_REFS)
        ),
        check!(
            i64::from(decls::_FLT_FILESYSTEM_TYPE::FLT_FSTYPE_CIMFS),
            i64::from(ifs::FLT_FSTYPE_CIMFS)
        ),
        check!(
            i64::from(decls::_FLT_PREOP_CALLBACK_STATUS::FLT_PREOP_SUCCESS_WITH_CALLBACK),
            i64::from(flt::FLT_PREOP_SUCCESS_WITH_CALLBACK)
        ),
        check!(
            i64::from(decls::_FLT_PREOP_CALLBACK_STATUS::FLT_PREOP_SUCCESS_NO_CALLBACK),
            i64::from(flt::FLT_PREOP_SUCCESS_NO_CALLBACK)
        ),
        check!(
            i64::from(decls::_FLT_PREOP_CALLBACK_STATUS::FLT_PREOP_PENDING),
            i64::from(flt::FLT_PREOP_PENDING)
        ),
        check!(
            i64::from(decls::_FLT_PREOP_CALLBACK_STATUS::FLT_PREOP_COMPLETE),
            i64::from(flt::FLT_PREOP_COMPLETE)
        ),
        check!(
            i64::from(decls::_FLT_PREOP_CALLBACK_STATUS::FLT_PREOP_SYNCHRONIZE),
            i64::from(flt::FLT_PREOP_SYNCHRONIZE)
        ),
        check!(
            i64::from(decls::_FLT_POSTOP_CALLBACK_STATUS::FLT_POSTOP_FINISHED_PROCESSING),
            i64::from(flt::FLT_POSTOP_FINISHED_PROCESSING)
        ),
        check!(
            i64::from(decls::_FLT_POSTOP_CALLBACK_STATUS::FLT_POSTOP_MORE_PROCESSING_REQUIRED),
            i64::from(flt::FLT_POSTOP_MORE_PROCESSING_REQUIRED)
        ),
        check!(
            i64::from(decls::_FLT_SET_CONTEXT_OPERATION::FLT_SET_CONTEXT_REPLACE_IF_EXISTS),
            i64::from(flt::FLT_SET_CONTEXT_REPLACE_IF_EXISTS)
        ),
        check!(
            i64::from(decls::_FLT_SET_CONTEXT_OPERATION::FLT_SET_CONTEXT_KEEP_IF_EXISTS),
            i64::from(flt::FLT_SET_CONTEXT_KEEP_IF_EXISTS)
        ),
        check!(
            i64::from(decls::_POOL_TYPE::NonPagedPoolNx),
            i64::from(wf::NonPagedPoolNx)
        ),
        check!(
            i64::from(decls::_WORK_QUEUE_TYPE::DelayedWorkQueue),
            i64::from(ss::DelayedWorkQueue)
        ),
        check!(
            i64::from(decls::_MODE::KernelMode),
            i64::from(ss::KernelMode)
        ),
        check!(i64::from(decls::_MODE::UserMode), i64::from(ss::UserMode)),
        check!(
            i64::from(decls::_EVENT_TYPE::NotificationEvent),
            i64::from(kernel::NotificationEvent)
        ),
        check!(
            i64::from(decls::_KWAIT_REASON::Executive),
            i64::from(ss::Executive)
        ),
        check!(
            i64::from(decls::PASSIVE_LEVEL),
            i64::from(ss::PASSIVE_LEVEL)
        ),
        check!(i64::from(decls::APC_LEVEL), i64::from(ss::APC_LEVEL)),
        check!(
            i64::from(decls::DISPATCH_LEVEL),
            i64::from(ss::DISPATCH_LEVEL)
        ),
    ];
    assert_all(&rows);
}

/// The comparison catches a declaration that drops `POINTER_ALIGNMENT`, as windows-sys does:
/// `FLT_PARAMETERS.Create` written with plain members puts `FileAttributes` at 12, not 16.
#[test]
fn a_declaration_without_pointer_alignment_is_caught() {
    #[repr(C)]
    #[allow(non_snake_case, dead_code, reason = "the C member names")]
    struct CreateWithoutAlignment {
        SecurityContext: *mut u8,
        Options: u32,
        FileAttributes: u16,
        ShareAccess: u16,
        EaLength: u32,
        EaBuffer: *mut u8,
        AllocationSize: i64,
    }
    let rows = [
        Check::new(
            "Create.FileAttributes",
            offset_of!(CreateWithoutAlignment, FileAttributes),
            create::FILE_ATTRIBUTES,
            "documented",
        ),
        Check::new(
            "Create.EaLength",
            offset_of!(CreateWithoutAlignment, EaLength),
            create::EA_LENGTH,
            "documented",
        ),
        Check::new(
            "Create.Options",
            offset_of!(CreateWithoutAlignment, Options),
            create::OPTIONS,
            "documented",
        ),
    ];
    let found: Vec<_> = mismatches(&rows).into_iter().map(|m| m.item).collect();
    assert_eq!(found, ["Create.FileAttributes", "Create.EaLength"]);
}
