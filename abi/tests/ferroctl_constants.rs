//! ferroctl's hand-written Windows constants against Microsoft's metadata (`windows-sys`):
//! `ferroctl::win_constants` (used by its Windows-only code), the oplock levels of the scenario
//! runner and the `CF_OPEN_FILE_FLAGS` names of `ferroctl oplock --flags`.

#![forbid(unsafe_code)]

use ferroctl::commands::oplock::FLAG_NAMES;
use ferroctl::commands::scenario::device::{CACHE_HANDLE, CACHE_READ, CACHE_WRITE};
use ferroctl::win_constants as wc;
use ferrofilter_abi::check;
use ferrofilter_abi::check::{Check, assert_all};
use windows_sys::Win32::Storage::CloudFilters as cfapi;
use windows_sys::Win32::Storage::FileSystem as fs;
use windows_sys::Win32::System::Ioctl as ioctl;

#[test]
fn win_constants_match_winioctl_h() {
    let checks = [
        check!(wc::FSCTL_REQUEST_OPLOCK, ioctl::FSCTL_REQUEST_OPLOCK),
        check!(
            wc::FSCTL_SET_PURGE_FAILURE_MODE,
            ioctl::FSCTL_SET_PURGE_FAILURE_MODE
        ),
        check!(
            wc::REQUEST_OPLOCK_CURRENT_VERSION,
            ioctl::REQUEST_OPLOCK_CURRENT_VERSION
        ),
        check!(
            wc::INPUT_FLAG_REQUEST,
            ioctl::REQUEST_OPLOCK_INPUT_FLAG_REQUEST
        ),
        check!(wc::INPUT_FLAG_ACK, ioctl::REQUEST_OPLOCK_INPUT_FLAG_ACK),
        check!(
            wc::OUTPUT_FLAG_ACK_REQUIRED,
            ioctl::REQUEST_OPLOCK_OUTPUT_FLAG_ACK_REQUIRED
        ),
        check!(wc::SYNCHRONIZE, fs::SYNCHRONIZE),
    ];
    assert_eq!(assert_all(&checks), 7);
}

#[test]
fn request_oplock_version_fits_the_buffer_field() {
    // StructureVersion is a WORD; the metadata gives the constant as u32.
    let input = ioctl::REQUEST_OPLOCK_INPUT_BUFFER {
        StructureVersion: wc::REQUEST_OPLOCK_CURRENT_VERSION,
        ..Default::default()
    };
    assert_eq!(
        u32::from(input.StructureVersion),
        ioctl::REQUEST_OPLOCK_CURRENT_VERSION
    );
}

#[test]
fn scenario_oplock_levels_match_winioctl_h() {
    let checks = [
        check!(CACHE_READ, ioctl::OPLOCK_LEVEL_CACHE_READ),
        check!(CACHE_HANDLE, ioctl::OPLOCK_LEVEL_CACHE_HANDLE),
        check!(CACHE_WRITE, ioctl::OPLOCK_LEVEL_CACHE_WRITE),
    ];
    assert_eq!(assert_all(&checks), 3);
}

#[test]
fn cf_flag_names_name_the_cfapi_h_values() {
    let expected = [
        ("exclusive", cfapi::CF_OPEN_FILE_FLAG_EXCLUSIVE),
        ("write-access", cfapi::CF_OPEN_FILE_FLAG_WRITE_ACCESS),
        ("delete-access", cfapi::CF_OPEN_FILE_FLAG_DELETE_ACCESS),
        ("foreground", cfapi::CF_OPEN_FILE_FLAG_FOREGROUND),
    ];
    assert_eq!(FLAG_NAMES.len(), expected.len());
    let checks: Vec<Check> = FLAG_NAMES
        .iter()
        .zip(expected)
        .flat_map(|(&(name, value), (microsoft_name, microsoft))| {
            [
                Check::new(
                    "FLAG_NAMES name",
                    name,
                    microsoft_name,
                    "CF_OPEN_FILE_FLAG_*",
                ),
                Check::new(
                    microsoft_name,
                    value,
                    microsoft,
                    "windows_sys::Win32::Storage::CloudFilters::CF_OPEN_FILE_FLAG_*",
                ),
            ]
        })
        .collect();
    assert_eq!(assert_all(&checks), 8);
}
