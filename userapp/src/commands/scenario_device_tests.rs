//! Tests of the device runner's plan and expectation checks, on fake device records.

use std::path::PathBuf;

use ferrofilter_model::oplock::{access, share};
use ferrofilter_sim::scenario::language::{Entry, Level};
use serde_json::{Map, json};

use super::plan::cache_level;
use super::*;

fn steps(text: &str) -> Vec<Entry> {
    ferrofilter_sim::scenario::parse(text).unwrap()
}

fn skip_reason(plan: &Plan) -> &str {
    match plan {
        Plan::Skip(why) => why,
        other => panic!("not skipped: {other:?}"),
    }
}

#[test]
fn acknowledgments_waiting_holders_and_oplock_create_options_are_skipped() {
    let plans = plan(&steps(
        r#"{"steps": [
            {"op": "open", "handle": "h", "path": "a.txt"},
            {"op": "oplock", "handle": "h", "level": "RWH", "on_break": "wait"},
            {"op": "ack", "handle": "h", "level": "RH"},
            {"op": "open", "handle": "r", "path": "a.txt", "requiring_oplock": true},
            {"op": "open", "handle": "c", "path": "a.txt", "complete_if_oplocked": true},
            {"op": "oplock", "handle": "h", "level": "RWH"}
        ]}"#,
    ));
    assert!(matches!(plans[0], Plan::Perform(_)));
    assert!(skip_reason(&plans[1]).contains("`on_break: wait`"));
    assert!(skip_reason(&plans[2]).contains("REQUEST_OPLOCK_INPUT_FLAG_ACK"));
    assert!(skip_reason(&plans[3]).contains("FILE_OPEN_REQUIRING_OPLOCK"));
    assert!(skip_reason(&plans[4]).contains("FILE_COMPLETE_IF_OPLOCKED"));
    // Control: the same request acknowledged by the backend is performed.
    assert!(matches!(plans[5], Plan::Perform(DeviceStep::Oplock { .. })));
}

#[test]
fn user_mode_steps_are_performed_and_kernel_ones_skipped() {
    let plans = plan(&steps(
        r#"{"steps": [
            {"op": "open", "handle": "h", "path": "a.txt", "access": "read_data|write_data", "share": "read"},
            {"op": "expect", "status": "0x00000000"},
            {"op": "oplock", "handle": "h", "level": "RWH"},
            {"op": "read", "handle": "h", "length": 4},
            {"op": "write", "handle": "h", "data": "abc"},
            {"op": "set_information", "handle": "h", "size": 2},
            {"op": "fsctl_set_purge_failure_mode", "handle": "h", "flags": "enable"},
            {"op": "fsctl_set_purge_failure_mode", "handle": "h", "flags": "enable", "requestor": "user"},
            {"op": "begin_data_scan", "handle": "h"},
            {"op": "inspect", "handle": "h"},
            {"op": "map_section", "handle": "h"},
            {"op": "query_keys", "handle": "h"},
            {"op": "purge", "handle": "h"},
            {"op": "purge_status"},
            {"op": "close", "handle": "h"},
            {"op": "detach"}
        ]}"#,
    ));
    assert_eq!(
        plans[0],
        Plan::Perform(DeviceStep::Open {
            handle: "h".into(),
            path: PathBuf::from("a.txt"),
            access: access::FILE_READ_DATA | access::FILE_WRITE_DATA,
            share: share::FILE_SHARE_READ,
            disposition: Disposition::OpenAlways,
            cf_flags: None,
            no_buffering: false,
        })
    );
    assert!(
        matches!(plans[1], Plan::Expect { ref fields, of: Some(0) } if fields.contains_key("status"))
    );
    assert_eq!(
        plans[2],
        Plan::Perform(DeviceStep::Oplock {
            handle: "h".into(),
            level: 7,
            on_break: OnBreak::Acknowledge
        })
    );
    for index in [3, 4, 5, 7, 11, 12, 13, 14] {
        assert!(matches!(plans[index], Plan::Perform(_)), "{index}");
    }
    assert!(skip_reason(&plans[6]).contains("kernel"));
    assert_eq!(
        plans[7],
        Plan::Perform(DeviceStep::SetPurgeFailureModeUser {
            handle: "h".into(),
            input: vec![1, 0, 0, 0]
        })
    );
    assert!(skip_reason(&plans[8]).contains("kernel-mode"));
    assert_eq!(
        plans[9],
        Plan::Perform(DeviceStep::Inspect {
            handle: "h".into(),
            offset: 0,
            length: 16
        })
    );
    assert!(skip_reason(&plans[10]).contains("MapViewOfFile"));
    assert!(skip_reason(&plans[15]).contains("detach"));
}

#[test]
fn a_skipped_open_skips_the_steps_on_its_handle_until_reopened() {
    let plans = plan(&steps(
        r#"{"steps": [
            {"op": "open", "handle": "k", "path": "a", "ecps": [{"type": "oplock_key", "key": "aaaaaaaa-0000-0000-0000-00000000000a"}]},
            {"op": "read", "handle": "k"},
            {"op": "close", "handle": "k"},
            {"op": "open", "handle": "k", "path": "a"},
            {"op": "read", "handle": "k"}
        ]}"#,
    ));
    assert!(skip_reason(&plans[0]).contains("ECP"));
    assert!(skip_reason(&plans[1]).contains("handle `k` was not opened"));
    assert!(skip_reason(&plans[1]).contains("ECP"));
    assert!(skip_reason(&plans[2]).contains("handle `k` was not opened"));
    assert!(matches!(plans[3], Plan::Perform(DeviceStep::Open { .. })));
    assert!(matches!(plans[4], Plan::Perform(DeviceStep::Read { .. })));
}

#[test]
fn a_non_cached_write_opens_its_handle_unbuffered_and_skips_cached_io_on_it() {
    let plans = plan(&steps(
        r#"{"steps": [
            {"op": "open", "handle": "w", "path": "a", "access": "read_data|write_data"},
            {"op": "write", "handle": "w", "data": "cached"},
            {"op": "write", "handle": "w", "data": "direct", "mode": "non_cached"},
            {"op": "open", "handle": "other", "path": "a"},
            {"op": "read", "handle": "other"}
        ]}"#,
    ));
    assert!(matches!(
        plans[0],
        Plan::Perform(DeviceStep::Open {
            no_buffering: true,
            ..
        })
    ));
    assert!(skip_reason(&plans[1]).contains("FILE_FLAG_NO_BUFFERING (step 0)"));
    assert!(matches!(
        plans[2],
        Plan::Perform(DeviceStep::Write {
            non_cached: true,
            ..
        })
    ));
    assert!(matches!(
        plans[3],
        Plan::Perform(DeviceStep::Open {
            no_buffering: false,
            ..
        })
    ));
    assert!(matches!(plans[4], Plan::Perform(DeviceStep::Read { .. })));
}

#[test]
fn opens_windows_cannot_express_are_skipped_with_the_reason() {
    let plans = plan(&steps(
        r#"{"steps": [
            {"op": "open", "handle": "a", "path": "a", "disposition": "supersede"},
            {"op": "open", "handle": "b", "path": "d", "kind": "directory"},
            {"op": "open", "handle": "c", "path": "v", "kind": "volume"},
            {"op": "open", "handle": "d", "path": "a", "reserve_opfilter": true},
            {"op": "open", "handle": "e", "path": "../escape.txt"},
            {"op": "open", "handle": "f", "path": "C:\\Windows\\x"},
            {"op": "open", "handle": "g", "path": "x", "cf_flags": 3},
            {"op": "oplock", "handle": "g", "level": "batch"}
        ]}"#,
    ));
    assert!(skip_reason(&plans[0]).contains("FILE_SUPERSEDE"));
    assert!(skip_reason(&plans[1]).contains("directory"));
    assert!(skip_reason(&plans[2]).contains("volume"));
    assert!(skip_reason(&plans[3]).contains("FILE_RESERVE_OPFILTER"));
    assert!(skip_reason(&plans[4]).contains("not a plain relative path"));
    assert!(skip_reason(&plans[5]).contains("not a plain relative path"));
    assert!(matches!(
        plans[6],
        Plan::Perform(DeviceStep::Open {
            cf_flags: Some(3),
            ..
        })
    ));
    assert!(skip_reason(&plans[7]).contains("legacy oplock"));
}

#[test]
fn safe_relative_keeps_plain_names_only() {
    assert_eq!(safe_relative("a/b.txt"), Ok(PathBuf::from("a/b.txt")));
    assert_eq!(safe_relative("./c"), Ok(PathBuf::from("c")));
    for bad in [
        "",
        "/etc/passwd",
        "../x",
        "a/../../x",
        "C:x",
        "\\\\server\\s",
        ".",
    ] {
        assert!(safe_relative(bad).is_err(), "{bad}");
    }
}

#[test]
fn level_names_round_trip() {
    for (level, name) in [
        (Level::Read, "R"),
        (Level::ReadHandle, "RH"),
        (Level::ReadWrite, "RW"),
        (Level::ReadWriteHandle, "RWH"),
    ] {
        assert_eq!(level_name(cache_level(level).unwrap()), name);
    }
    assert_eq!(level_name(0), "none");
    assert_eq!(cache_level(Level::Level2), None);
}

fn fake_dos(status: NtStatus) -> u32 {
    match status {
        NtStatus::SUCCESS => 0,
        NtStatus::SHARING_VIOLATION => 32,
        NtStatus::INVALID_PARAMETER => 87,
        _ => 317,
    }
}

fn fields(value: Value) -> Map<String, Value> {
    let Value::Object(map) = value else {
        panic!("not an object: {value}")
    };
    map
}

#[test]
fn exact_statuses_compare_exactly_and_win32_ones_through_the_dos_mapping() {
    let exact = DeviceRecord::new(3, "query_keys", StatusSeen::Nt(NtStatus::INVALID_HANDLE));
    let result = evaluate_expect(
        &fields(json!({"status_name": "STATUS_INVALID_HANDLE", "status": "0xC0000008"})),
        &exact,
        &fake_dos,
    );
    assert!(result.passed(), "{result:?}");
    assert_eq!(result.checked.len(), 2);
    let result = evaluate_expect(
        &fields(json!({"status_name": "STATUS_NOT_FOUND"})),
        &exact,
        &fake_dos,
    );
    assert!(!result.passed());

    let win32 = DeviceRecord::new(1, "open", StatusSeen::Win32(32));
    let ok = evaluate_expect(
        &fields(json!({"status_name": "STATUS_SHARING_VIOLATION"})),
        &win32,
        &fake_dos,
    );
    assert!(ok.passed());
    let bad = evaluate_expect(&fields(json!({"status": "0x00000000"})), &win32, &fake_dos);
    assert_eq!(
        serde_json::to_value(&bad.mismatches).unwrap(),
        json!([{"field": "status", "expected": "0x00000000", "actual": {"win32_error": 32}}])
    );
}

#[test]
fn unobserved_fields_are_unchecked_with_the_reason_never_compared() {
    let mut record = DeviceRecord::new(2, "write", StatusSeen::Win32(0));
    record.observed.insert("breaks".into(), json!([]));
    let result = evaluate_expect(
        &fields(json!({"status": "0x00000000", "breaks": [], "purge_count": 1, "retried": 0})),
        &record,
        &fake_dos,
    );
    assert!(result.passed());
    assert_eq!(result.checked, vec!["breaks", "status"]);
    let unchecked: Vec<&str> = result.unchecked.iter().map(|u| u.field.as_str()).collect();
    assert_eq!(unchecked, vec!["purge_count", "retried"]);
    assert!(
        result.unchecked[0]
            .reason
            .contains("user mode does not see it")
    );

    let timed_out = DeviceRecord::new(2, "open", StatusSeen::TimedOut);
    let result = evaluate_expect(
        &fields(json!({"status": "0x00000000"})),
        &timed_out,
        &fake_dos,
    );
    assert!(result.checked.is_empty());
    assert_eq!(result.unchecked.len(), 1);
}

#[test]
fn breaks_compare_ack_as_ack_required() {
    let mut record = DeviceRecord::new(4, "open", StatusSeen::Win32(0));
    record.observed.insert(
        "breaks".into(),
        json!([{"handle": "owner", "from": "RWH", "to": "RH", "ack_required": true, "owner_closed": false}]),
    );
    for (ack, passes) in [("wait", true), ("no_wait", true), ("none", false)] {
        let result = evaluate_expect(
            &fields(
                json!({"breaks": [{"handle": "owner", "from": "RWH", "to": "RH", "ack": ack}]}),
            ),
            &record,
            &fake_dos,
        );
        assert_eq!(result.passed(), passes, "{ack}");
    }
    let result = evaluate_expect(&fields(json!({"breaks": []})), &record, &fake_dos);
    assert!(!result.passed());
}

#[test]
fn a_granted_oplock_request_pends_and_matches_the_sims_success() {
    let mut record = DeviceRecord::new(2, "oplock", StatusSeen::Nt(NtStatus::PENDING));
    record.observed.insert("granted".into(), Value::Bool(true));
    let result = evaluate_expect(&fields(json!({"status": "0x00000000"})), &record, &fake_dos);
    assert!(result.passed());
    record.observed.insert("granted".into(), Value::Bool(false));
    let result = evaluate_expect(&fields(json!({"status": "0x00000000"})), &record, &fake_dos);
    assert!(!result.passed());
}

#[test]
fn expected_statuses_parse_from_hex_and_names() {
    assert_eq!(
        expected_status("status", &json!("0xC0000043")),
        Some(NtStatus::SHARING_VIOLATION)
    );
    assert_eq!(
        expected_status("status_name", &json!("STATUS_OPLOCK_NOT_GRANTED")),
        Some(NtStatus::OPLOCK_NOT_GRANTED)
    );
    assert_eq!(expected_status("status_name", &json!("STATUS_NOPE")), None);
}

/// Answers every step with its index as a Win32 error, except that handle `gone` is not open.
struct Fake(Vec<usize>);

impl Performer for Fake {
    fn perform(
        &mut self,
        index: usize,
        op: &str,
        step: &DeviceStep,
    ) -> Result<DeviceRecord, String> {
        if let DeviceStep::Read { handle, .. } = step
            && handle == "gone"
        {
            return Err("handle `gone` is not open".to_owned());
        }
        self.0.push(index);
        let mut record = DeviceRecord::new(index, op, StatusSeen::Win32(0));
        record.observed.insert("breaks".into(), json!([]));
        Ok(record)
    }

    fn to_dos(&self, status: NtStatus) -> u32 {
        fake_dos(status)
    }
}

#[test]
fn drive_performs_in_order_and_reports_every_step() {
    let raw = steps(
        r#"{"steps": [
            {"op": "open", "handle": "h", "path": "a"},
            {"op": "expect", "status": "0x00000000", "breaks": [], "purge_count": 0},
            {"op": "begin_data_scan", "handle": "h"},
            {"op": "expect", "status": "0x00000000"},
            {"op": "read", "handle": "gone"},
            {"op": "write", "handle": "h"},
            {"op": "expect", "purge_count": 1},
            {"op": "close", "handle": "h"},
            {"op": "expect", "status_name": "STATUS_SHARING_VIOLATION"}
        ]}"#,
    );
    let ops: Vec<String> = raw.iter().map(|s| s.op.clone()).collect();
    let mut fake = Fake(Vec::new());
    let outcomes = drive(&plan(&raw), &ops, &mut fake);
    assert_eq!(outcomes.len(), raw.len());
    assert_eq!(fake.0, vec![0, 5, 7]);
    let DeviceOutcome::Performed(first) = &outcomes[1] else {
        panic!("{:?}", outcomes[1])
    };
    assert_eq!(first.observed["passed"], json!(true));
    assert_eq!(first.observed["checked"], json!(["breaks", "status"]));
    assert_eq!(
        first.observed["unchecked"][0]["field"],
        json!("purge_count")
    );
    assert!(matches!(&outcomes[2], DeviceOutcome::Skipped(why) if why.contains("kernel-mode")));
    assert!(
        matches!(&outcomes[3], DeviceOutcome::Skipped(why) if why == "checks step 2, which was skipped")
    );
    assert!(matches!(&outcomes[4], DeviceOutcome::Skipped(why) if why.contains("not open")));
    assert!(
        matches!(&outcomes[6], DeviceOutcome::Skipped(why) if why.starts_with("no expected field"))
    );
    let DeviceOutcome::Performed(last) = &outcomes[8] else {
        panic!("{:?}", outcomes[8])
    };
    assert_eq!(last.observed["passed"], json!(false));
    assert_eq!(last.status_name.as_deref(), Some("STATUS_UNSUCCESSFUL"));
}

#[test]
fn an_expect_checks_the_step_its_label_names_on_the_device_too() {
    let raw = steps(
        r#"{"steps": [
            {"op": "open", "handle": "h", "path": "a", "label": "opened"},
            {"op": "write", "handle": "h"},
            {"op": "expect", "of": "opened", "breaks": {"not": [{"handle": "x"}]}},
            {"op": "expect", "of": "opened", "breaks": {"contains": {"handle": "x"}}}
        ]}"#,
    );
    let ops: Vec<String> = raw.iter().map(|s| s.op.clone()).collect();
    let plans = plan(&raw);
    assert!(
        matches!(plans[2], Plan::Expect { of: Some(0), ref fields } if !fields.contains_key("of"))
    );
    let mut fake = Fake(Vec::new());
    let outcomes = drive(&plans, &ops, &mut fake);
    let DeviceOutcome::Performed(passed) = &outcomes[2] else {
        panic!("{:?}", outcomes[2])
    };
    assert_eq!(passed.observed["passed"], json!(true));
    // Negative control: an element the record does not have is not "contained".
    let DeviceOutcome::Performed(failed) = &outcomes[3] else {
        panic!("{:?}", outcomes[3])
    };
    assert_eq!(failed.observed["passed"], json!(false));
}

#[test]
fn oplock_views_end_at_the_first_oplock_the_device_does_not_hold() {
    let raw = steps(
        r#"{"steps": [
            {"op": "open", "handle": "a", "path": "a"},
            {"op": "oplock", "handle": "a", "level": "RWH"},
            {"op": "oplock", "handle": "a", "level": "batch"},
            {"op": "read", "handle": "a"}
        ]}"#,
    );
    assert_eq!(
        oplock_views(&plan(&raw), &raw),
        vec![true, true, false, false]
    );
    let raw = steps(r#"{"steps": [{"op": "open", "handle": "c", "path": "c", "cf_flags": 0}]}"#);
    assert_eq!(oplock_views(&plan(&raw), &raw), vec![false]);
}
