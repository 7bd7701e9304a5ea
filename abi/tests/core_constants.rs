//! ferrofilter-core's Windows constants against Microsoft's metadata (`windows-sys`): NTSTATUS
//! values and names, access and share bits, create dispositions and options, oplock levels,
//! `CF_OPEN_FILE_FLAGS`, the purge-failure-mode FSCTL and its flags, and the oplock-key ECP GUIDs.

#![forbid(unsafe_code)]

use ferrofilter_abi::check::{Check, assert_all};
use ferrofilter_abi::documented;
use ferrofilter_abi::{check, guid_checks};
use ferrofilter_core::NtStatus;
use ferrofilter_core::ecp;
use ferrofilter_core::purge::{self, IssuableFsctl};
use ferrofilter_model::cf;
use ferrofilter_model::oplock::{self, CreateDisposition, access, share};
use windows_sys::Wdk::Storage::FileSystem as wfs;
use windows_sys::Win32::Foundation as f;
use windows_sys::Win32::Storage::CloudFilters as cfapi;
use windows_sys::Win32::Storage::FileSystem as fs;
use windows_sys::Win32::System::Ioctl as ioctl;

/// One status: core's value against Microsoft's, and the name core gives Microsoft's value
/// against the name of the `windows-sys` item. `status!(CORE_NAME, STATUS_NAME)`.
macro_rules! status {
    ($core:ident, $microsoft:ident) => {
        [
            Check::new(
                concat!("NtStatus::", stringify!($core)),
                NtStatus::$core.0,
                f::$microsoft.cast_unsigned(),
                concat!("windows_sys::Win32::Foundation::", stringify!($microsoft)),
            ),
            Check::new(
                concat!("NtStatus(", stringify!($microsoft), ").name()"),
                NtStatus(f::$microsoft.cast_unsigned())
                    .name()
                    .unwrap_or("<no name>"),
                stringify!($microsoft),
                "the windows-sys item's name",
            ),
        ]
    };
}

#[test]
fn nt_statuses_match_ntstatus_h() {
    let checks: Vec<Check> = [
        status!(SUCCESS, STATUS_SUCCESS),
        status!(PENDING, STATUS_PENDING),
        status!(REPARSE, STATUS_REPARSE),
        status!(CANCELLED, STATUS_CANCELLED),
        status!(UNSUCCESSFUL, STATUS_UNSUCCESSFUL),
        status!(INVALID_PARAMETER, STATUS_INVALID_PARAMETER),
        status!(INVALID_DEVICE_REQUEST, STATUS_INVALID_DEVICE_REQUEST),
        status!(INSUFFICIENT_RESOURCES, STATUS_INSUFFICIENT_RESOURCES),
        status!(BUFFER_TOO_SMALL, STATUS_BUFFER_TOO_SMALL),
        status!(BUFFER_OVERFLOW, STATUS_BUFFER_OVERFLOW),
        status!(NOT_FOUND, STATUS_NOT_FOUND),
        status!(INVALID_DEVICE_STATE, STATUS_INVALID_DEVICE_STATE),
        status!(DEVICE_REMOVED, STATUS_DEVICE_REMOVED),
        status!(DELETE_PENDING, STATUS_DELETE_PENDING),
        status!(CANNOT_DELETE, STATUS_CANNOT_DELETE),
        status!(LOCK_NOT_GRANTED, STATUS_LOCK_NOT_GRANTED),
        status!(FILE_LOCK_CONFLICT, STATUS_FILE_LOCK_CONFLICT),
        status!(RANGE_NOT_LOCKED, STATUS_RANGE_NOT_LOCKED),
        status!(INVALID_LOCK_RANGE, STATUS_INVALID_LOCK_RANGE),
        status!(DEVICE_BUSY, STATUS_DEVICE_BUSY),
        status!(REVISION_MISMATCH, STATUS_REVISION_MISMATCH),
        status!(NOT_SUPPORTED, STATUS_NOT_SUPPORTED),
        status!(ACCESS_DENIED, STATUS_ACCESS_DENIED),
        status!(INVALID_HANDLE, STATUS_INVALID_HANDLE),
        status!(FILE_IS_A_DIRECTORY, STATUS_FILE_IS_A_DIRECTORY),
        status!(USER_MAPPED_FILE, STATUS_USER_MAPPED_FILE),
        status!(PURGE_FAILED, STATUS_PURGE_FAILED),
        status!(SHARING_VIOLATION, STATUS_SHARING_VIOLATION),
        status!(OPLOCK_BREAK_IN_PROGRESS, STATUS_OPLOCK_BREAK_IN_PROGRESS),
        status!(FLT_DO_NOT_DETACH, STATUS_FLT_DO_NOT_DETACH),
        status!(FLT_DO_NOT_ATTACH, STATUS_FLT_DO_NOT_ATTACH),
        status!(OBJECT_NAME_NOT_FOUND, STATUS_OBJECT_NAME_NOT_FOUND),
        status!(OBJECT_NAME_COLLISION, STATUS_OBJECT_NAME_COLLISION),
        status!(FILE_CLOSED, STATUS_FILE_CLOSED),
        status!(INTEGER_OVERFLOW, STATUS_INTEGER_OVERFLOW),
        status!(OPLOCK_NOT_GRANTED, STATUS_OPLOCK_NOT_GRANTED),
        status!(INVALID_OPLOCK_PROTOCOL, STATUS_INVALID_OPLOCK_PROTOCOL),
        status!(CANNOT_BREAK_OPLOCK, STATUS_CANNOT_BREAK_OPLOCK),
        status!(
            OPLOCK_SWITCHED_TO_NEW_HANDLE,
            STATUS_OPLOCK_SWITCHED_TO_NEW_HANDLE
        ),
        status!(END_OF_FILE, STATUS_END_OF_FILE),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert_eq!(assert_all(&checks), 80);
}

#[test]
fn access_and_share_bits_match_winnt_h() {
    let checks = [
        check!(access::FILE_READ_DATA, fs::FILE_READ_DATA),
        check!(access::FILE_LIST_DIRECTORY, fs::FILE_LIST_DIRECTORY),
        check!(access::FILE_WRITE_DATA, fs::FILE_WRITE_DATA),
        check!(access::FILE_ADD_FILE, fs::FILE_ADD_FILE),
        check!(access::FILE_APPEND_DATA, fs::FILE_APPEND_DATA),
        check!(access::FILE_READ_EA, fs::FILE_READ_EA),
        check!(access::FILE_WRITE_EA, fs::FILE_WRITE_EA),
        check!(access::FILE_EXECUTE, fs::FILE_EXECUTE),
        check!(access::FILE_READ_ATTRIBUTES, fs::FILE_READ_ATTRIBUTES),
        check!(access::FILE_WRITE_ATTRIBUTES, fs::FILE_WRITE_ATTRIBUTES),
        check!(access::DELETE, fs::DELETE),
        check!(access::READ_CONTROL, fs::READ_CONTROL),
        check!(access::SYNCHRONIZE, fs::SYNCHRONIZE),
        // Core's composites, against the same composition of Microsoft's bits: the accesses that
        // never break an oplock (REFERENCE.md §4) and the ones IoCheckShareAccess counts as
        // reading and writing.
        check!(
            access::ATTRIBUTE_ONLY,
            fs::FILE_READ_ATTRIBUTES | fs::FILE_WRITE_ATTRIBUTES | fs::SYNCHRONIZE
        ),
        check!(
            access::SHARE_CHECKED_READ,
            fs::FILE_READ_DATA | fs::FILE_EXECUTE
        ),
        check!(
            access::SHARE_CHECKED_WRITE,
            fs::FILE_WRITE_DATA | fs::FILE_APPEND_DATA
        ),
        check!(share::FILE_SHARE_READ, fs::FILE_SHARE_READ),
        check!(share::FILE_SHARE_WRITE, fs::FILE_SHARE_WRITE),
        check!(share::FILE_SHARE_DELETE, fs::FILE_SHARE_DELETE),
        check!(
            share::FILE_SHARE_ALL,
            fs::FILE_SHARE_READ | fs::FILE_SHARE_WRITE | fs::FILE_SHARE_DELETE
        ),
    ];
    assert_eq!(assert_all(&checks), 20);
}

#[test]
fn create_dispositions_and_options_match_ntifs_h() {
    let checks = [
        check!(CreateDisposition::Supersede as u32, wfs::FILE_SUPERSEDE),
        check!(CreateDisposition::Open as u32, wfs::FILE_OPEN),
        check!(CreateDisposition::Create as u32, wfs::FILE_CREATE),
        check!(CreateDisposition::OpenIf as u32, wfs::FILE_OPEN_IF),
        check!(CreateDisposition::Overwrite as u32, wfs::FILE_OVERWRITE),
        check!(
            CreateDisposition::OverwriteIf as u32,
            wfs::FILE_OVERWRITE_IF
        ),
        check!(oplock::FILE_RESERVE_OPFILTER, wfs::FILE_RESERVE_OPFILTER),
    ];
    assert_eq!(assert_all(&checks), 7);
}

#[test]
fn create_options_are_decoded_with_the_disposition_in_the_top_byte() {
    // fltKernel.h: the high 8 bits of FLT_PARAMETERS.Create.Options are the disposition, the low
    // 24 the create options. Each Microsoft disposition, with options in the low bits, must come
    // back as the variant whose value it is.
    let options = wfs::FILE_NON_DIRECTORY_FILE | wfs::FILE_RESERVE_OPFILTER;
    assert_eq!(options & !documented::CREATE_OPTIONS_MASK, 0);
    let mut checks = Vec::new();
    for (name, disposition) in [
        ("FILE_SUPERSEDE", wfs::FILE_SUPERSEDE),
        ("FILE_OPEN", wfs::FILE_OPEN),
        ("FILE_CREATE", wfs::FILE_CREATE),
        ("FILE_OPEN_IF", wfs::FILE_OPEN_IF),
        ("FILE_OVERWRITE", wfs::FILE_OVERWRITE),
        ("FILE_OVERWRITE_IF", wfs::FILE_OVERWRITE_IF),
    ] {
        let raw = (disposition << documented::CREATE_DISPOSITION_SHIFT) | options;
        let decoded =
            CreateDisposition::from_create_options(raw).map_or(u32::MAX, |decoded| decoded as u32);
        checks.push(Check::new(
            name,
            decoded,
            disposition,
            "from_create_options((disposition << 24) | options)",
        ));
    }
    assert_eq!(assert_all(&checks), 6);
}

#[test]
fn oplock_levels_match_winioctl_h() {
    let checks = [
        check!(
            oplock::OPLOCK_LEVEL_CACHE_READ,
            ioctl::OPLOCK_LEVEL_CACHE_READ
        ),
        check!(
            oplock::OPLOCK_LEVEL_CACHE_HANDLE,
            ioctl::OPLOCK_LEVEL_CACHE_HANDLE
        ),
        check!(
            oplock::OPLOCK_LEVEL_CACHE_WRITE,
            ioctl::OPLOCK_LEVEL_CACHE_WRITE
        ),
    ];
    assert_eq!(assert_all(&checks), 3);
}

#[test]
fn cf_open_file_flags_match_cfapi_h() {
    // CF_OPEN_FILE_FLAGS is an i32 enum in the metadata; the flags are non-negative, so the
    // values compare directly.
    let checks = [
        check!(cf::CF_OPEN_FILE_FLAG_NONE, cfapi::CF_OPEN_FILE_FLAG_NONE),
        check!(
            cf::CF_OPEN_FILE_FLAG_EXCLUSIVE,
            cfapi::CF_OPEN_FILE_FLAG_EXCLUSIVE
        ),
        check!(
            cf::CF_OPEN_FILE_FLAG_WRITE_ACCESS,
            cfapi::CF_OPEN_FILE_FLAG_WRITE_ACCESS
        ),
        check!(
            cf::CF_OPEN_FILE_FLAG_DELETE_ACCESS,
            cfapi::CF_OPEN_FILE_FLAG_DELETE_ACCESS
        ),
        check!(
            cf::CF_OPEN_FILE_FLAG_FOREGROUND,
            cfapi::CF_OPEN_FILE_FLAG_FOREGROUND
        ),
        check!(
            cf::CF_OPEN_FILE_FLAGS_VALID,
            cfapi::CF_OPEN_FILE_FLAG_EXCLUSIVE
                | cfapi::CF_OPEN_FILE_FLAG_WRITE_ACCESS
                | cfapi::CF_OPEN_FILE_FLAG_DELETE_ACCESS
                | cfapi::CF_OPEN_FILE_FLAG_FOREGROUND
        ),
    ];
    assert_eq!(assert_all(&checks), 6);
}

#[test]
fn purge_failure_mode_fsctl_matches_ntifs_h() {
    let checks = [
        check!(
            purge::FSCTL_SET_PURGE_FAILURE_MODE,
            ioctl::FSCTL_SET_PURGE_FAILURE_MODE
        ),
        check!(purge::FSCTL_REQUEST_OPLOCK, ioctl::FSCTL_REQUEST_OPLOCK),
        check!(
            IssuableFsctl::RequestOplock.code(),
            ioctl::FSCTL_REQUEST_OPLOCK
        ),
        check!(
            purge::SET_PURGE_FAILURE_MODE_ENABLED,
            ioctl::SET_PURGE_FAILURE_MODE_ENABLED
        ),
        check!(
            purge::SET_PURGE_FAILURE_MODE_DISABLED,
            ioctl::SET_PURGE_FAILURE_MODE_DISABLED
        ),
        check!(
            purge::SET_PURGE_FAILURE_MODE_INPUT_SIZE,
            size_of::<ioctl::SET_PURGE_FAILURE_MODE_INPUT>()
        ),
        // The metadata's codes are themselves CTL_CODE(FILE_DEVICE_FILE_SYSTEM, n,
        // METHOD_BUFFERED, FILE_ANY_ACCESS) with n = 156 and 144 (REFERENCE.md §5).
        check!(
            ioctl::FSCTL_SET_PURGE_FAILURE_MODE,
            documented::ctl_code(
                ioctl::FILE_DEVICE_FILE_SYSTEM,
                156,
                ioctl::METHOD_BUFFERED,
                ioctl::FILE_ANY_ACCESS
            )
        ),
        check!(
            ioctl::FSCTL_REQUEST_OPLOCK,
            documented::ctl_code(
                ioctl::FILE_DEVICE_FILE_SYSTEM,
                144,
                ioctl::METHOD_BUFFERED,
                ioctl::FILE_ANY_ACCESS
            )
        ),
    ];
    assert_eq!(assert_all(&checks), 8);
}

#[test]
fn oplock_key_ecp_guids_match_ntifs_h() {
    let checks: Vec<Check> = [
        guid_checks!(ecp::GUID_ECP_OPLOCK_KEY, wfs::GUID_ECP_OPLOCK_KEY),
        guid_checks!(ecp::GUID_ECP_DUAL_OPLOCK_KEY, wfs::GUID_ECP_DUAL_OPLOCK_KEY),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert_eq!(assert_all(&checks), 8);
}

#[test]
fn ecp_context_sizes_match_ntifs_h() {
    let checks = [
        check!(
            ecp::OPLOCK_KEY_ECP_CONTEXT_SIZE,
            size_of::<wfs::OPLOCK_KEY_ECP_CONTEXT>()
        ),
        check!(
            ecp::DUAL_OPLOCK_KEY_ECP_CONTEXT_SIZE,
            size_of::<wfs::DUAL_OPLOCK_KEY_ECP_CONTEXT>()
        ),
    ];
    assert_eq!(assert_all(&checks), 2);
}

#[test]
fn altitude_is_in_the_activity_monitor_range() {
    let altitude = ferrofilter_core::protocol::ALTITUDE;
    assert!(
        documented::ACTIVITY_MONITOR_ALTITUDES.contains(&altitude),
        "altitude {altitude} is outside the Activity Monitor range {:?}",
        documented::ACTIVITY_MONITOR_ALTITUDES
    );
}
