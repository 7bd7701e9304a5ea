//! Struct sizes and field offsets.
//!
//! - The structs core decodes and encodes (the oplock-key ECP contexts, the purge-failure-mode
//!   input, `GUID`) and ferroctl's `REQUEST_OPLOCK_*` buffers, against `windows-sys`'s layout:
//!   core's decoders are fed bytes placed at `windows-sys`'s offsets, and core's encoders must
//!   write to them.
//! - `windows-sys`'s Filter Manager layouts ([`ferrofilter_abi::layouts`]) against the sizes and
//!   offsets REFERENCE.md §10 records.
//! - `FLT_PARAMETERS.Create`, `FLT_PARAMETERS.FileSystemControl.Buffered` and
//!   `IO_STACK_LOCATION`: the headers mark some of their fields `POINTER_ALIGNMENT`
//!   (`DECLSPEC_ALIGN(8)` on x64) and `windows-sys` drops that alignment (REFERENCE.md §10), so
//!   it places those fields too early. Their offsets are asserted against the header-derived
//!   values in [`ferrofilter_abi::documented`], and a test records where `windows-sys` differs.

#![forbid(unsafe_code)]

use core::mem::{offset_of, size_of};

use ferroctl::win_constants::{RequestOplockInput, RequestOplockOutput};
use ferrofilter_abi::check::{Check, assert_all};
use ferrofilter_abi::documented::{
    flt_parameters_create as create, flt_parameters_fsctl_buffered as fsctl,
    io_stack_location as isl, reference,
};
use ferrofilter_abi::layouts::{self, Layout};
use ferrofilter_abi::{check, guid_checks};
use ferrofilter_core::NtStatus;
use ferrofilter_core::ecp::{self, DualOplockKeyEcp, EcpError, KeySetFlag, OplockKeyEcp};
use ferrofilter_core::guid::{GUID_SIZE, Guid};
use ferrofilter_core::purge::{self, PurgeModeChange};
use windows_sys::Wdk::Foundation as wf;
use windows_sys::Wdk::Storage::FileSystem as wfs;
use windows_sys::Wdk::Storage::FileSystem::Minifilters as flt;
use windows_sys::Win32::System::Ioctl as ioctl;
use windows_sys::core::GUID;

/// The 16 bytes of `guid` in memory on Windows (little-endian), each field at `windows-sys`'s
/// offset of it.
fn guid_bytes(guid: &GUID) -> [u8; GUID_SIZE] {
    let mut out = [0u8; GUID_SIZE];
    let put = |out: &mut [u8; GUID_SIZE], offset: usize, bytes: &[u8]| {
        out[offset..offset + bytes.len()].copy_from_slice(bytes);
    };
    put(&mut out, offset_of!(GUID, data1), &guid.data1.to_le_bytes());
    put(&mut out, offset_of!(GUID, data2), &guid.data2.to_le_bytes());
    put(&mut out, offset_of!(GUID, data3), &guid.data3.to_le_bytes());
    put(&mut out, offset_of!(GUID, data4), &guid.data4);
    out
}

/// Core's `Guid` with the fields of a `windows-sys` `GUID`.
const fn core_guid(guid: &GUID) -> Guid {
    Guid::from_fields(guid.data1, guid.data2, guid.data3, guid.data4)
}

const KEY_A: GUID = GUID::from_u128(0x0123_4567_89ab_cdef_0011_2233_4455_6677);
const KEY_B: GUID = GUID::from_u128(0xfedc_ba98_7654_3210_8899_aabb_ccdd_eeff);

#[test]
fn guid_encoding_is_the_windows_layout() {
    assert_eq!(size_of::<GUID>(), GUID_SIZE);
    for guid in [
        wfs::GUID_ECP_OPLOCK_KEY,
        wfs::GUID_ECP_DUAL_OPLOCK_KEY,
        KEY_A,
    ] {
        let bytes = guid_bytes(&guid);
        assert_eq!(core_guid(&guid).to_le_bytes(), bytes);
        assert_eq!(Guid::from_le_bytes(bytes), core_guid(&guid));
    }
    // The core constants, byte for byte as Windows stores the metadata's GUIDs.
    assert_eq!(
        ecp::GUID_ECP_OPLOCK_KEY.to_le_bytes(),
        guid_bytes(&wfs::GUID_ECP_OPLOCK_KEY)
    );
    assert_eq!(
        ecp::GUID_ECP_DUAL_OPLOCK_KEY.to_le_bytes(),
        guid_bytes(&wfs::GUID_ECP_DUAL_OPLOCK_KEY)
    );
}

#[test]
fn oplock_key_ecp_is_read_at_windows_sys_offsets() {
    let size = size_of::<wfs::OPLOCK_KEY_ECP_CONTEXT>();
    let key_at = offset_of!(wfs::OPLOCK_KEY_ECP_CONTEXT, OplockKey);
    let reserved_at = offset_of!(wfs::OPLOCK_KEY_ECP_CONTEXT, Reserved);
    let mut context = vec![0u8; size];
    context[key_at..key_at + GUID_SIZE].copy_from_slice(&guid_bytes(&KEY_A));
    assert_eq!(
        ecp::decode_oplock_key(&context),
        Ok(OplockKeyEcp {
            key: core_guid(&KEY_A)
        })
    );
    // Reserved is the ULONG at windows-sys's offset.
    context[reserved_at..reserved_at + 4].copy_from_slice(&0xA5A5_0001_u32.to_le_bytes());
    assert_eq!(
        ecp::decode_oplock_key(&context),
        Err(EcpError::ReservedNotZero { value: 0xA5A5_0001 })
    );
    // And core writes the key where windows-sys has it, Reserved zero.
    let encoded = ecp::encode_oplock_key(OplockKeyEcp {
        key: core_guid(&KEY_B),
    });
    assert_eq!(encoded.len(), size);
    assert_eq!(encoded[key_at..key_at + GUID_SIZE], guid_bytes(&KEY_B));
    assert_eq!(encoded[reserved_at..reserved_at + 4], [0; 4]);
}

#[test]
fn dual_oplock_key_ecp_is_read_at_windows_sys_offsets() {
    type Dual = wfs::DUAL_OPLOCK_KEY_ECP_CONTEXT;
    let size = size_of::<Dual>();
    let parent_at = offset_of!(Dual, ParentOplockKey);
    let target_at = offset_of!(Dual, TargetOplockKey);
    let parent_set_at = offset_of!(Dual, ParentOplockKeySet);
    let target_set_at = offset_of!(Dual, TargetOplockKeySet);
    let context = |parent_set: u8, target_set: u8| {
        let mut context = vec![0u8; size];
        context[parent_at..parent_at + GUID_SIZE].copy_from_slice(&guid_bytes(&KEY_A));
        context[target_at..target_at + GUID_SIZE].copy_from_slice(&guid_bytes(&KEY_B));
        context[parent_set_at] = parent_set;
        context[target_set_at] = target_set;
        context
    };
    let (a, b) = (core_guid(&KEY_A), core_guid(&KEY_B));
    let decode =
        |parent_set, target_set| ecp::decode_dual_oplock_key(&context(parent_set, target_set));
    assert_eq!(
        decode(1, 1),
        Ok(DualOplockKeyEcp {
            parent: Some(a),
            target: Some(b)
        })
    );
    assert_eq!(
        decode(0, 1),
        Ok(DualOplockKeyEcp {
            parent: None,
            target: Some(b)
        })
    );
    assert_eq!(
        decode(1, 0),
        Ok(DualOplockKeyEcp {
            parent: Some(a),
            target: None
        })
    );
    assert_eq!(
        decode(2, 0),
        Err(EcpError::BadFlag {
            flag: KeySetFlag::Parent,
            value: 2
        })
    );
    assert_eq!(
        decode(0, 7),
        Err(EcpError::BadFlag {
            flag: KeySetFlag::Target,
            value: 7
        })
    );
    let encoded = ecp::encode_dual_oplock_key(DualOplockKeyEcp {
        parent: Some(a),
        target: Some(b),
    });
    assert_eq!(encoded.len(), size);
    assert_eq!(encoded[..], context(1, 1)[..]);
}

#[test]
fn purge_failure_mode_input_is_read_at_windows_sys_offsets() {
    let size = size_of::<ioctl::SET_PURGE_FAILURE_MODE_INPUT>();
    let flags_at = offset_of!(ioctl::SET_PURGE_FAILURE_MODE_INPUT, Flags);
    let input = |flags: u32| {
        let mut input = vec![0u8; size];
        input[flags_at..flags_at + 4].copy_from_slice(&flags.to_le_bytes());
        input
    };
    assert_eq!(
        purge::decode_purge_mode_input(&input(ioctl::SET_PURGE_FAILURE_MODE_ENABLED)),
        Ok(PurgeModeChange::Enable)
    );
    assert_eq!(
        purge::decode_purge_mode_input(&input(ioctl::SET_PURGE_FAILURE_MODE_DISABLED)),
        Ok(PurgeModeChange::Disable)
    );
    assert_eq!(
        purge::decode_purge_mode_input(&input(ioctl::SET_PURGE_FAILURE_MODE_ENABLED)[..size - 1]),
        Err(NtStatus::BUFFER_TOO_SMALL)
    );
}

#[test]
fn ferroctl_request_oplock_buffers_match_winioctl_h() {
    type In = ioctl::REQUEST_OPLOCK_INPUT_BUFFER;
    type Out = ioctl::REQUEST_OPLOCK_OUTPUT_BUFFER;
    let checks = [
        check!(size_of::<RequestOplockInput>(), size_of::<In>()),
        check!(align_of::<RequestOplockInput>(), align_of::<In>()),
        check!(
            offset_of!(RequestOplockInput, structure_version),
            offset_of!(In, StructureVersion)
        ),
        check!(
            offset_of!(RequestOplockInput, structure_length),
            offset_of!(In, StructureLength)
        ),
        check!(
            offset_of!(RequestOplockInput, requested_oplock_level),
            offset_of!(In, RequestedOplockLevel)
        ),
        check!(offset_of!(RequestOplockInput, flags), offset_of!(In, Flags)),
        check!(size_of::<RequestOplockOutput>(), size_of::<Out>()),
        check!(align_of::<RequestOplockOutput>(), align_of::<Out>()),
        check!(
            offset_of!(RequestOplockOutput, structure_version),
            offset_of!(Out, StructureVersion)
        ),
        check!(
            offset_of!(RequestOplockOutput, structure_length),
            offset_of!(Out, StructureLength)
        ),
        check!(
            offset_of!(RequestOplockOutput, original_oplock_level),
            offset_of!(Out, OriginalOplockLevel)
        ),
        check!(
            offset_of!(RequestOplockOutput, new_oplock_level),
            offset_of!(Out, NewOplockLevel)
        ),
        check!(
            offset_of!(RequestOplockOutput, flags),
            offset_of!(Out, Flags)
        ),
        check!(
            offset_of!(RequestOplockOutput, access_mode),
            offset_of!(Out, AccessMode)
        ),
        check!(
            offset_of!(RequestOplockOutput, share_mode),
            offset_of!(Out, ShareMode)
        ),
    ];
    assert_eq!(assert_all(&checks), 15);
}

fn layout(name: &str) -> &'static Layout {
    layouts::find(name).unwrap_or_else(|| panic!("no layout named {name}"))
}

fn offset(name: &str, field: &str) -> usize {
    layout(name)
        .offset(field)
        .unwrap_or_else(|| panic!("{name} has no field {field}"))
}

#[test]
fn windows_sys_filter_manager_layouts_match_reference() {
    let mut checks = vec![
        check!(
            layout("FLT_REGISTRATION").size,
            reference::FLT_REGISTRATION_SIZE
        ),
        check!(
            offset("FLT_REGISTRATION", "FilterUnloadCallback"),
            reference::FLT_REGISTRATION_CALLBACKS
        ),
        check!(
            layout("FLT_OPERATION_REGISTRATION").size,
            reference::FLT_OPERATION_REGISTRATION_SIZE
        ),
        check!(
            layout("FLT_CONTEXT_REGISTRATION").size,
            reference::FLT_CONTEXT_REGISTRATION_SIZE
        ),
        check!(
            layout("FLT_CALLBACK_DATA").size,
            reference::FLT_CALLBACK_DATA_SIZE
        ),
        check!(
            offset("FLT_CALLBACK_DATA", "Iopb"),
            reference::FLT_CALLBACK_DATA_IOPB
        ),
        check!(
            offset("FLT_CALLBACK_DATA", "IoStatus"),
            reference::FLT_CALLBACK_DATA_IO_STATUS
        ),
        check!(
            offset("FLT_CALLBACK_DATA", "RequestorMode"),
            reference::FLT_CALLBACK_DATA_REQUESTOR_MODE
        ),
        check!(
            layout("FLT_IO_PARAMETER_BLOCK").size,
            reference::FLT_IO_PARAMETER_BLOCK_SIZE
        ),
        check!(
            offset("FLT_IO_PARAMETER_BLOCK", "Parameters"),
            reference::FLT_IO_PARAMETER_BLOCK_PARAMETERS
        ),
        check!(
            layout("FLT_PARAMETERS").size,
            reference::FLT_PARAMETERS_SIZE
        ),
        check!(
            layout("FLT_RELATED_OBJECTS").size,
            reference::FLT_RELATED_OBJECTS_SIZE
        ),
        check!(
            layout("OPLOCK_KEY_ECP_CONTEXT").size,
            reference::OPLOCK_KEY_ECP_CONTEXT_SIZE
        ),
        check!(
            layout("DUAL_OPLOCK_KEY_ECP_CONTEXT").size,
            reference::DUAL_OPLOCK_KEY_ECP_CONTEXT_SIZE
        ),
        check!(
            layout("OPLOCK_KEY_CONTEXT").size,
            reference::OPLOCK_KEY_CONTEXT_SIZE
        ),
        check!(
            layout("SET_PURGE_FAILURE_MODE_INPUT").size,
            reference::SET_PURGE_FAILURE_MODE_INPUT_SIZE
        ),
    ];
    // The eleven callbacks of FLT_REGISTRATION follow one another, one pointer apart.
    let registration = layout("FLT_REGISTRATION");
    let first = registration
        .fields
        .iter()
        .position(|field| field.name == "FilterUnloadCallback")
        .expect("FilterUnloadCallback");
    for (i, field) in registration.fields[first..].iter().enumerate() {
        checks.push(Check::new(
            field.name,
            field.offset,
            reference::FLT_REGISTRATION_CALLBACKS + 8 * i,
            "REFERENCE.md §10: callbacks from 24, 8 bytes apart",
        ));
    }
    assert_eq!(registration.fields.len() - first, 11);
    assert_eq!(assert_all(&checks), 27);
}

#[test]
fn layout_table_is_complete_and_named_once() {
    let all = layouts::windows_sys_layouts();
    for (i, layout) in all.iter().enumerate() {
        assert!(
            all[..i].iter().all(|other| other.name != layout.name),
            "{} listed twice",
            layout.name
        );
        assert!(layout.size > 0 && layout.size % layout.align == 0);
        let mut previous = None;
        for field in layout.fields {
            assert!(field.offset < layout.size, "{}.{}", layout.name, field.name);
            assert!(
                previous < Some(field.offset),
                "{}.{} is not after the field before it",
                layout.name,
                field.name
            );
            previous = Some(field.offset);
        }
    }
    // Direct computations agree with the table for a few fields other tests rely on.
    let checks = [
        check!(
            offset("FLT_CALLBACK_DATA", "Iopb"),
            offset_of!(flt::FLT_CALLBACK_DATA, Iopb)
        ),
        check!(
            offset("FLT_RELATED_OBJECTS", "Volume"),
            offset_of!(flt::FLT_RELATED_OBJECTS, Volume)
        ),
        check!(
            layout("OPLOCK_KEY_CONTEXT").size,
            size_of::<wfs::OPLOCK_KEY_CONTEXT>()
        ),
    ];
    assert_eq!(assert_all(&checks), 3);
}

#[test]
fn documented_pointer_alignment_offsets_are_consistent() {
    // Each POINTER_ALIGNMENT field starts on an 8-byte boundary, fields do not overlap, and the
    // structs fit the union that holds them.
    for aligned in [
        create::FILE_ATTRIBUTES,
        create::EA_LENGTH,
        fsctl::INPUT_BUFFER_LENGTH,
        fsctl::FS_CONTROL_CODE,
        isl::create::FILE_ATTRIBUTES,
        isl::create::EA_LENGTH,
        isl::file_system_control::INPUT_BUFFER_LENGTH,
        isl::file_system_control::FS_CONTROL_CODE,
        isl::PARAMETERS,
    ] {
        assert_eq!(aligned % 8, 0);
    }
    let checks = [
        // Field ends: ULONG Options ends before FileAttributes; USHORT FileAttributes is followed
        // directly by USHORT ShareAccess.
        check!(create::SHARE_ACCESS, create::FILE_ATTRIBUTES + 2),
        check!(create::EA_BUFFER, create::EA_LENGTH + 8),
        check!(create::ALLOCATION_SIZE, create::EA_BUFFER + 8),
        check!(create::SIZE, create::ALLOCATION_SIZE + 8),
        check!(fsctl::SIZE, fsctl::SYSTEM_BUFFER + 8),
        // The FLT_PARAMETERS union is as large as its Create member.
        check!(create::SIZE, reference::FLT_PARAMETERS_SIZE),
        // IO_STACK_LOCATION's parameters are a 32-byte union (its `Others` member is four
        // pointers) and the pointers after it are 8 apart.
        check!(isl::DEVICE_OBJECT, isl::PARAMETERS + 32),
        check!(isl::FILE_OBJECT, isl::DEVICE_OBJECT + 8),
        check!(isl::COMPLETION_ROUTINE, isl::FILE_OBJECT + 8),
        check!(isl::CONTEXT, isl::COMPLETION_ROUTINE + 8),
        check!(isl::SIZE, isl::CONTEXT + 8),
    ];
    assert_eq!(assert_all(&checks), 11);
    const {
        assert!(fsctl::SIZE <= reference::FLT_PARAMETERS_SIZE);
        assert!(isl::create::EA_LENGTH + 4 <= 32);
        assert!(isl::file_system_control::TYPE3_INPUT_BUFFER + 8 <= 32);
    }
}

#[test]
fn windows_sys_agrees_with_the_headers_up_to_the_first_pointer_alignment() {
    type Create = flt::FLT_PARAMETERS_0;
    type Buffered = flt::FLT_PARAMETERS_12_3;
    type IoCreate = wf::IO_STACK_LOCATION_0_0;
    type IoFsctl = wf::IO_STACK_LOCATION_0_14;
    type Stack = wf::IO_STACK_LOCATION;
    let checks = [
        check!(
            create::SECURITY_CONTEXT,
            offset_of!(Create, SecurityContext)
        ),
        check!(create::OPTIONS, offset_of!(Create, Options)),
        check!(
            fsctl::OUTPUT_BUFFER_LENGTH,
            offset_of!(Buffered, OutputBufferLength)
        ),
        check!(
            isl::create::SECURITY_CONTEXT,
            offset_of!(IoCreate, SecurityContext)
        ),
        check!(isl::create::OPTIONS, offset_of!(IoCreate, Options)),
        check!(
            isl::file_system_control::OUTPUT_BUFFER_LENGTH,
            offset_of!(IoFsctl, OutputBufferLength)
        ),
        // IO_STACK_LOCATION's own fields are not POINTER_ALIGNMENT fields.
        check!(isl::MAJOR_FUNCTION, offset_of!(Stack, MajorFunction)),
        check!(isl::MINOR_FUNCTION, offset_of!(Stack, MinorFunction)),
        check!(isl::FLAGS, offset_of!(Stack, Flags)),
        check!(isl::CONTROL, offset_of!(Stack, Control)),
        check!(isl::PARAMETERS, offset_of!(Stack, Parameters)),
        check!(isl::DEVICE_OBJECT, offset_of!(Stack, DeviceObject)),
        check!(isl::FILE_OBJECT, offset_of!(Stack, FileObject)),
        check!(
            isl::COMPLETION_ROUTINE,
            offset_of!(Stack, CompletionRoutine)
        ),
        check!(isl::CONTEXT, offset_of!(Stack, Context)),
        check!(isl::SIZE, size_of::<Stack>()),
    ];
    assert_eq!(assert_all(&checks), 16);
}

/// Where `windows-sys` 0.61 drops `POINTER_ALIGNMENT` and so places a field before the header
/// does. This is why those offsets come from `documented`. If this test fails after a
/// `windows-sys` update, the metadata has been fixed: compare these fields with `windows-sys`
/// directly and drop the documented copies.
#[test]
fn windows_sys_places_pointer_aligned_fields_too_early() {
    type Create = flt::FLT_PARAMETERS_0;
    type Buffered = flt::FLT_PARAMETERS_12_3;
    type IoCreate = wf::IO_STACK_LOCATION_0_0;
    type IoFsctl = wf::IO_STACK_LOCATION_0_14;
    let fields = [
        (
            "FLT_PARAMETERS.Create.FileAttributes",
            create::FILE_ATTRIBUTES,
            offset_of!(Create, FileAttributes),
        ),
        (
            "FLT_PARAMETERS.Create.ShareAccess",
            create::SHARE_ACCESS,
            offset_of!(Create, ShareAccess),
        ),
        (
            "FLT_PARAMETERS.Create.EaLength",
            create::EA_LENGTH,
            offset_of!(Create, EaLength),
        ),
        (
            "FLT_PARAMETERS.Create.EaBuffer",
            create::EA_BUFFER,
            offset_of!(Create, EaBuffer),
        ),
        (
            "FLT_PARAMETERS.Create.AllocationSize",
            create::ALLOCATION_SIZE,
            offset_of!(Create, AllocationSize),
        ),
        (
            "FLT_PARAMETERS.FileSystemControl.Buffered.InputBufferLength",
            fsctl::INPUT_BUFFER_LENGTH,
            offset_of!(Buffered, InputBufferLength),
        ),
        (
            "FLT_PARAMETERS.FileSystemControl.Buffered.FsControlCode",
            fsctl::FS_CONTROL_CODE,
            offset_of!(Buffered, FsControlCode),
        ),
        (
            "FLT_PARAMETERS.FileSystemControl.Buffered.SystemBuffer",
            fsctl::SYSTEM_BUFFER,
            offset_of!(Buffered, SystemBuffer),
        ),
        (
            "IO_STACK_LOCATION.Parameters.Create.FileAttributes",
            isl::create::FILE_ATTRIBUTES,
            offset_of!(IoCreate, FileAttributes),
        ),
        (
            "IO_STACK_LOCATION.Parameters.Create.ShareAccess",
            isl::create::SHARE_ACCESS,
            offset_of!(IoCreate, ShareAccess),
        ),
        (
            "IO_STACK_LOCATION.Parameters.Create.EaLength",
            isl::create::EA_LENGTH,
            offset_of!(IoCreate, EaLength),
        ),
        (
            "IO_STACK_LOCATION.Parameters.FileSystemControl.InputBufferLength",
            isl::file_system_control::INPUT_BUFFER_LENGTH,
            offset_of!(IoFsctl, InputBufferLength),
        ),
        (
            "IO_STACK_LOCATION.Parameters.FileSystemControl.FsControlCode",
            isl::file_system_control::FS_CONTROL_CODE,
            offset_of!(IoFsctl, FsControlCode),
        ),
        (
            "IO_STACK_LOCATION.Parameters.FileSystemControl.Type3InputBuffer",
            isl::file_system_control::TYPE3_INPUT_BUFFER,
            offset_of!(IoFsctl, Type3InputBuffer),
        ),
    ];
    for (field, header, windows_sys) in fields {
        assert!(
            windows_sys < header,
            "{field}: windows-sys now has it at {windows_sys}, the header at {header}; if they \
             agree, windows-sys keeps POINTER_ALIGNMENT now and can be the reference for it"
        );
    }
    assert_eq!(fields.len(), 14);
}

#[test]
fn ecp_guid_fields_round_trip_through_the_layout() {
    // The same GUIDs, field by field, read back from their Windows byte layout by core.
    let checks: Vec<Check> = [
        guid_checks!(
            Guid::from_le_bytes(guid_bytes(&wfs::GUID_ECP_OPLOCK_KEY)),
            wfs::GUID_ECP_OPLOCK_KEY
        ),
        guid_checks!(
            Guid::from_le_bytes(guid_bytes(&wfs::GUID_ECP_DUAL_OPLOCK_KEY)),
            wfs::GUID_ECP_DUAL_OPLOCK_KEY
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert_eq!(assert_all(&checks), 8);
}
