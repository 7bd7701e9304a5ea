//! The oracle catches wrong values: the same helper the other tests use, fed deliberately wrong
//! declarations, reports each of them by name (and only them).

#![forbid(unsafe_code)]

use ferrofilter_abi::check::{Check, Value, assert_all, mismatches, report};
use ferrofilter_abi::documented::{self, flt_parameters_create};
use ferrofilter_abi::{check, guid_checks};
use ferrofilter_core::ecp;
use ferrofilter_core::guid::Guid;
use windows_sys::Wdk::Storage::FileSystem as wfs;
use windows_sys::Win32::Storage::InstallableFileSystems as ifs;

/// `FLT_FSTYPE_REFS` declared as 27, which is `FLT_FSTYPE_CSVFS`; the right value is 28.
const WRONG_FLT_FSTYPE_REFS: i32 = 27;

#[test]
fn a_wrong_file_system_type_is_reported_by_name() {
    let checks = [
        check!(documented::FLT_FSTYPE_CSVFS, ifs::FLT_FSTYPE_CSVFS),
        check!(WRONG_FLT_FSTYPE_REFS, ifs::FLT_FSTYPE_REFS),
        check!(documented::FLT_FSTYPE_REFS, ifs::FLT_FSTYPE_REFS),
    ];
    let found = mismatches(&checks);
    assert_eq!(found.len(), 1, "{}", report(&found));
    let mismatch = found[0];
    assert_eq!(mismatch.item, "WRONG_FLT_FSTYPE_REFS");
    assert_eq!(mismatch.source, "ifs::FLT_FSTYPE_REFS");
    assert_eq!(mismatch.project, Value::Int(27));
    assert_eq!(mismatch.microsoft, Value::Int(28));
    let text = report(&found);
    assert!(text.contains("WRONG_FLT_FSTYPE_REFS"), "{text}");
    assert!(
        text.contains("0x1B (27)") && text.contains("0x1C (28)"),
        "{text}"
    );
}

#[test]
#[should_panic(expected = "WRONG_FLT_FSTYPE_REFS: project has 0x1B (27), Microsoft has 0x1C (28)")]
fn assert_all_fails_on_a_wrong_value() {
    assert_all(&[check!(WRONG_FLT_FSTYPE_REFS, ifs::FLT_FSTYPE_REFS)]);
}

#[test]
fn every_wrong_row_of_a_table_is_reported() {
    // A GUID with one wrong Data4 byte, a layout as a struct without POINTER_ALIGNMENT would
    // have it (FileAttributes right after Options), and a wrong status name.
    let mut wrong_key = ecp::GUID_ECP_DUAL_OPLOCK_KEY;
    wrong_key.data4[7] ^= 0x01;
    let options_end = flt_parameters_create::OPTIONS + 4;
    let mut checks: Vec<Check> = guid_checks!(wrong_key, wfs::GUID_ECP_DUAL_OPLOCK_KEY).into();
    checks.push(check!(options_end, flt_parameters_create::FILE_ATTRIBUTES));
    checks.push(check!("STATUS_PURGE_FAIL", "STATUS_PURGE_FAILED"));
    checks.extend(guid_checks!(
        Guid::from_fields(
            0x4885_0596,
            0x3050,
            0x4be7,
            [0x98, 0x63, 0xfe, 0xc3, 0x50, 0xce, 0x8d, 0x7f]
        ),
        wfs::GUID_ECP_OPLOCK_KEY
    ));
    let found = mismatches(&checks);
    let items: Vec<&str> = found.iter().map(|m| m.item).collect();
    assert_eq!(
        items,
        ["wrong_key.Data4", "options_end", "\"STATUS_PURGE_FAIL\""],
        "{}",
        report(&found)
    );
}
