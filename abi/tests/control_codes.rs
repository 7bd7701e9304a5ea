//! The control device's own IOCTL codes (core's `protocol::ioctl`).
//!
//! They are ferrofilter's private protocol, not Microsoft's, so there is no metadata value to
//! compare with. What is asserted instead: each is exactly `CTL_CODE` (wdm.h's bit layout) of the
//! device type, a function code, and `windows-sys`'s `METHOD_BUFFERED` and `FILE_*_ACCESS`
//! constants; the device type and function codes lie in the ranges wdm.h reserves for customers;
//! the codes are distinct. Core's own `ctl_code` is checked against the documented arithmetic,
//! which in turn reproduces Microsoft's FSCTL codes.

#![forbid(unsafe_code)]

use std::collections::BTreeSet;

use ferrofilter_abi::check::{Check, assert_all};
use ferrofilter_abi::documented::{self, CtlCode};
use ferrofilter_core::protocol::{self, ALL_IOCTLS, ioctl as own};
use windows_sys::Win32::System::Ioctl as ioctl;

/// Read and write access, as the project's state-changing IOCTLs require.
const READ_WRITE: u32 = ioctl::FILE_READ_ACCESS | ioctl::FILE_WRITE_ACCESS;

/// Each IOCTL: name, code, function code, required access (from windows-sys).
const TABLE: [(&str, u32, u32, u32); 13] = [
    (
        "GET_VERSION",
        own::GET_VERSION,
        0x800,
        ioctl::FILE_ANY_ACCESS,
    ),
    (
        "GET_PARTIAL_ID",
        own::GET_PARTIAL_ID,
        0x801,
        ioctl::FILE_ANY_ACCESS,
    ),
    ("OPEN_TARGET", own::OPEN_TARGET, 0x802, READ_WRITE),
    ("FORWARD", own::FORWARD, 0x803, READ_WRITE),
    ("CANCEL", own::CANCEL, 0x804, READ_WRITE),
    ("CANCEL_GROUP", own::CANCEL_GROUP, 0x805, READ_WRITE),
    ("LIST", own::LIST, 0x806, ioctl::FILE_ANY_ACCESS),
    ("GET_STATS", own::GET_STATS, 0x807, ioctl::FILE_ANY_ACCESS),
    ("QUERY_KEYS", own::QUERY_KEYS, 0x810, ioctl::FILE_ANY_ACCESS),
    ("PURGE_REQUEST", own::PURGE_REQUEST, 0x811, READ_WRITE),
    (
        "PURGE_STATUS",
        own::PURGE_STATUS,
        0x812,
        ioctl::FILE_ANY_ACCESS,
    ),
    (
        "FILTER_STATS",
        own::FILTER_STATS,
        0x813,
        ioctl::FILE_ANY_ACCESS,
    ),
    // FILE_ANY_ACCESS: the access check is on the caller's file handle (FILE_READ_DATA).
    ("INSPECT", own::INSPECT, 0x814, ioctl::FILE_ANY_ACCESS),
];

#[test]
fn every_ioctl_is_ctl_code_of_windows_sys_method_and_access() {
    let mut checks = Vec::new();
    for (name, code, function, access) in TABLE {
        checks.push(Check::new(
            name,
            code,
            documented::ctl_code(
                protocol::DEVICE_TYPE,
                function,
                ioctl::METHOD_BUFFERED,
                access,
            ),
            "CTL_CODE(DEVICE_TYPE, function, METHOD_BUFFERED, access)",
        ));
        let fields = CtlCode::decode(code);
        checks.push(Check::new(
            name,
            fields.method,
            ioctl::METHOD_BUFFERED,
            "windows_sys::Win32::System::Ioctl::METHOD_BUFFERED",
        ));
        checks.push(Check::new(
            name,
            fields.device_type,
            protocol::DEVICE_TYPE,
            "DEVICE_TYPE_FROM_CTL_CODE",
        ));
    }
    assert_eq!(assert_all(&checks), 39);
}

#[test]
fn device_type_and_functions_are_in_the_customer_ranges() {
    let device_type = protocol::DEVICE_TYPE;
    assert!(
        (documented::CUSTOMER_DEVICE_TYPE_MIN..=0xFFFF).contains(&device_type),
        "device type {device_type:#X} is not in the customer range 0x8000..=0xFFFF"
    );
    for (name, code, _, _) in TABLE {
        let function = CtlCode::decode(code).function;
        assert!(
            (documented::CUSTOMER_FUNCTION_MIN..=0xFFF).contains(&function),
            "{name}: function {function:#X} is not in the customer range 0x800..=0xFFF"
        );
    }
}

#[test]
fn ioctl_codes_are_distinct_and_all_listed() {
    let listed: BTreeSet<u32> = ALL_IOCTLS.iter().copied().collect();
    let named: BTreeSet<u32> = TABLE.iter().map(|row| row.1).collect();
    assert_eq!(listed.len(), ALL_IOCTLS.len(), "ALL_IOCTLS repeats a code");
    assert_eq!(named.len(), TABLE.len(), "two IOCTLs share a code");
    assert_eq!(listed, named);
}

#[test]
fn core_ctl_code_is_the_documented_arithmetic() {
    // The documented macro reproduces Microsoft's own codes...
    let microsoft = [
        Check::new(
            "CTL_CODE(FILE_DEVICE_FILE_SYSTEM, 156, METHOD_BUFFERED, FILE_ANY_ACCESS)",
            documented::ctl_code(
                ioctl::FILE_DEVICE_FILE_SYSTEM,
                156,
                ioctl::METHOD_BUFFERED,
                ioctl::FILE_ANY_ACCESS,
            ),
            ioctl::FSCTL_SET_PURGE_FAILURE_MODE,
            "windows_sys::Win32::System::Ioctl::FSCTL_SET_PURGE_FAILURE_MODE",
        ),
        Check::new(
            "CtlCode::decode(FSCTL_REQUEST_OPLOCK).function",
            CtlCode::decode(ioctl::FSCTL_REQUEST_OPLOCK).function,
            144_u32,
            "REFERENCE.md §5 / winioctl.h",
        ),
        Check::new(
            "CtlCode::decode(FSCTL_REQUEST_OPLOCK).device_type",
            CtlCode::decode(ioctl::FSCTL_REQUEST_OPLOCK).device_type,
            ioctl::FILE_DEVICE_FILE_SYSTEM,
            "windows_sys::Win32::System::Ioctl::FILE_DEVICE_FILE_SYSTEM",
        ),
    ];
    assert_eq!(assert_all(&microsoft), 3);
    // ...and core's ctl_code computes the same over every field's range ends and a mix.
    let mut checks = Vec::new();
    for device_type in [0, ioctl::FILE_DEVICE_FILE_SYSTEM, 0x8FF0, 0xFFFF] {
        for function in [0, 1, 144, 0x800, 0xFFF] {
            for method in [
                ioctl::METHOD_BUFFERED,
                ioctl::METHOD_IN_DIRECT,
                ioctl::METHOD_OUT_DIRECT,
                ioctl::METHOD_NEITHER,
            ] {
                for access in [
                    ioctl::FILE_ANY_ACCESS,
                    ioctl::FILE_READ_ACCESS,
                    ioctl::FILE_WRITE_ACCESS,
                    READ_WRITE,
                ] {
                    let code = protocol::ctl_code(device_type, function, method, access);
                    checks.push(Check::new(
                        "protocol::ctl_code",
                        code,
                        documented::ctl_code(device_type, function, method, access),
                        "documented::ctl_code",
                    ));
                    assert_eq!(
                        CtlCode::decode(code),
                        CtlCode {
                            device_type,
                            access,
                            function,
                            method
                        }
                    );
                }
            }
        }
    }
    assert_eq!(assert_all(&checks), 4 * 5 * 4 * 4);
}
