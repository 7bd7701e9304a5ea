//! The `ferroctl` binary on the sim: help text, JSON shapes, exit codes and bad input.

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn ferroctl() -> Command {
    Command::cargo_bin("ferroctl").expect("the ferroctl binary is built")
}

fn sim_json(args: &[&str]) -> (Value, i32) {
    let output = ferroctl()
        .arg("--sim")
        .arg("--json")
        .args(args)
        .output()
        .expect("ferroctl runs");
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    let first = text
        .lines()
        .next()
        .unwrap_or_else(|| panic!("no output for {args:?}"));
    let value: Value =
        serde_json::from_str(first).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {text}"));
    (value, output.status.code().unwrap_or(-1))
}

fn has_keys(value: &Value, keys: &[&str]) {
    for key in keys {
        assert!(value.get(key).is_some(), "missing `{key}` in {value}");
    }
}

fn scenarios_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios")
}

#[test]
fn every_command_has_help_with_examples() {
    for command in [
        "forward",
        "cancel",
        "cancel-group",
        "list",
        "stats",
        "stress",
        "oplock",
        "purge",
        "inspect",
        "scenario",
        "bench",
        "version",
        "status",
        "doctor",
    ] {
        ferroctl()
            .args([command, "--help"])
            .assert()
            .success()
            .stdout(predicate::str::contains("Examples:"))
            .stdout(predicate::str::contains("Usage: ferroctl"));
    }
    ferroctl()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Exit codes"));
    ferroctl()
        .args(["scenario", "run", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("FILE"));
}

#[test]
fn forward_reports_every_request_and_is_clean() {
    let (report, code) = sim_json(&[
        "forward",
        "--count",
        "8",
        "--group-size",
        "4",
        "--cancel-group",
        "1",
        "--cancel",
        "0",
        "--complete",
        "2",
    ]);
    assert_eq!(code, 0, "{report}");
    has_keys(
        &report,
        &[
            "command",
            "backend",
            "target",
            "partial_id",
            "requests",
            "listed",
            "actions",
            "remaining",
            "stats",
            "finished_by_close",
            "summary",
            "verifier",
        ],
    );
    assert_eq!(report["backend"], "sim");
    let requests = report["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 8);
    for request in requests {
        has_keys(
            request,
            &[
                "index",
                "group",
                "cancel_id",
                "request_id",
                "status",
                "finished_by",
            ],
        );
    }
    let summary = &report["summary"];
    assert_eq!(summary["forwarded"], 8);
    assert_eq!(summary["completed"], 2);
    assert_eq!(summary["cancelled"], 6);
    assert_eq!(summary["unfinished"], 0);
    assert_eq!(report["verifier"]["violations"], 0);
    assert_eq!(report["actions"].as_array().unwrap().len(), 3);
}

#[test]
fn cancel_cancel_group_list_stats_have_their_shape() {
    let (cancel, code) = sim_json(&["cancel", "1", "3", "--count", "6"]);
    assert_eq!(code, 0);
    assert_eq!(cancel["command"], "cancel");
    let actions = cancel["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 2);
    assert!(
        actions
            .iter()
            .all(|a| a["count"] == 1 && a["action"] == "cancel")
    );

    let (group, code) = sim_json(&[
        "cancel-group",
        "0",
        "2",
        "--count",
        "12",
        "--group-size",
        "4",
    ]);
    assert_eq!(code, 0);
    let finished_by_cancel = group["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["finished_by"] == "cancel")
        .count();
    assert_eq!(finished_by_cancel, 8);

    let (list, code) = sim_json(&["list", "--count", "5"]);
    assert_eq!(code, 0);
    assert_eq!(list["listed"].as_array().unwrap().len(), 5);
    has_keys(&list["listed"][0], &["row", "request_id", "cancel_id"]);

    let (stats, code) = sim_json(&["stats", "--count", "4", "--complete", "3"]);
    assert_eq!(code, 0);
    has_keys(
        &stats["stats"],
        &[
            "outstanding",
            "forwarded",
            "completed",
            "cancelled",
            "unknown_completions",
        ],
    );
    assert_eq!(stats["stats"]["completed"], 3);
    assert_eq!(stats["stats"]["outstanding"], 1);
}

#[test]
fn stress_json_fields_and_clean_exit() {
    let (report, code) = sim_json(&["stress", "--requests", "20000", "--seed", "7"]);
    assert_eq!(code, 0, "{report}");
    has_keys(
        &report,
        &[
            "requests",
            "completed",
            "cancelled",
            "send_failures",
            "leaked",
            "double_completions",
            "verifier_violations",
            "elapsed_ms",
        ],
    );
    assert_eq!(report["requests"], 20000);
    assert_eq!(report["leaked"], 0);
    assert_eq!(report["double_completions"], 0);
    assert_eq!(report["verifier_violations"], 0);
    let (faults, code) = sim_json(&["stress", "--requests", "5000", "--seed", "3", "--faults"]);
    assert_eq!(code, 0, "{faults}");
}

#[test]
fn negative_control_naive_cancel_is_caught() {
    let config = ferrofilter_sim::stress::StressConfig {
        requests: 20_000,
        seed: 11,
        cancel_ratio: 0.5,
        faults: true,
        naive_cancel: true,
        ..ferrofilter_sim::stress::StressConfig::default()
    };
    let report = ferrofilter_sim::core_stress::run(config, |_| {}).expect("the sim starts");
    assert!(
        report.verifier_violations > 0,
        "the cancel without a reference was not caught: {report:?}"
    );
    assert!(!report.clean());
}

#[test]
fn oplock_demo_prints_sixteen_rows_and_one_file_works() {
    let output = ferroctl()
        .args(["--sim", "--json", "oplock", "demo"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let lines: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 16);
    for (flags, row) in lines.iter().enumerate() {
        assert_eq!(row["flags"], flags);
        has_keys(
            row,
            &[
                "flag_names",
                "access",
                "share",
                "oplock_requested",
                "conflicting_open",
                "write_from_other_key",
            ],
        );
    }
    assert_eq!(lines[1]["oplock_requested"], "RH");
    assert_eq!(lines[1]["conflicting_open"]["broke"], true);
    assert_eq!(lines[8]["oplock_requested"], Value::Null);

    let file = tempfile::NamedTempFile::new().unwrap();
    let path = file.path().to_str().unwrap();
    let (report, code) = sim_json(&["oplock", "open", path, "--flags", "exclusive,write-access"]);
    assert_eq!(code, 0);
    assert_eq!(report["flags"], 3);
    assert_eq!(report["flag_names"], "EXCLUSIVE|WRITE_ACCESS");
    ferroctl()
        .args(["--sim", "oplock", "open", path, "--flags", "0x3"])
        .assert()
        .success()
        .stdout(predicate::str::contains("RH->R"));
}

#[test]
fn bad_input_gives_a_clear_message_and_exit_2() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let path = file.path().to_str().unwrap();
    ferroctl()
        .args(["--sim", "oplock", "open", path, "--flags", "0x13"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "unknown CF_OPEN_FILE_FLAGS bits 0x00000010",
        ));
    ferroctl()
        .args([
            "--sim",
            "oplock",
            "open",
            path,
            "--flags",
            "exclusive,sideways",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown flag `sideways`"));
    ferroctl()
        .args([
            "--sim",
            "oplock",
            "open",
            "/no/such/file",
            "--flags",
            "none",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no such file"));
    ferroctl()
        .args(["--sim", "stress", "--cancel-ratio", "1.5"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("outside 0.0-1.0"));
    ferroctl()
        .args(["--sim", "stress", "--cancel-ratio", "lots"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a number"));
    ferroctl()
        .args(["--sim", "frobnicate"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unrecognized subcommand"));
    ferroctl()
        .args(["--sim", "cancel", "9", "--count", "4"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("row 9 does not exist"));
    ferroctl()
        .args([
            "--sim",
            "cancel-group",
            "3",
            "--count",
            "8",
            "--group-size",
            "4",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("group 3 does not exist"));
    ferroctl()
        .args(["--sim", "forward", "--count", "16385"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("above the limit"));
}

#[test]
fn scenarios_run_and_bad_scenarios_exit_2() {
    let good = scenarios_dir().join("purge_request_held.json");
    let output = ferroctl()
        .args(["--sim", "--json", "scenario", "run"])
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let records: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(records.len() > 1);
    for record in &records {
        has_keys(record, &["step", "op", "status", "status_name"]);
    }

    ferroctl()
        .args(["--sim", "scenario", "run", "/no/such/scenario.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read"));

    let dir = tempfile::tempdir().unwrap();
    let bad_field = dir.path().join("bad_field.json");
    std::fs::write(
        &bad_field,
        r#"{"steps": [{"op": "open", "handle": "h", "path": "a.txt"}, {"op": "open", "handle": "g", "path": "b.txt", "acces": "read_data"}]}"#,
    )
    .unwrap();
    ferroctl()
        .args(["--sim", "scenario", "run"])
        .arg(&bad_field)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("step 1").and(predicate::str::contains("acces")));
    let not_json = dir.path().join("not_json.json");
    std::fs::write(&not_json, "{ steps: ").unwrap();
    ferroctl()
        .args(["--sim", "scenario", "run"])
        .arg(&not_json)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not valid JSON"));

    // A failed expect is a failed run: exit 1.
    let failing = dir.path().join("failing.json");
    std::fs::write(
        &failing,
        r#"{"steps": [{"op": "open", "handle": "h", "path": "a.txt"}, {"op": "expect", "status_name": "STATUS_SHARING_VIOLATION"}]}"#,
    )
    .unwrap();
    ferroctl()
        .args(["--sim", "scenario", "run"])
        .arg(&failing)
        .assert()
        .code(1);
}

#[test]
fn version_status_purge_bench_json() {
    let (version, code) = sim_json(&["version"]);
    assert_eq!(code, 0);
    has_keys(
        &version,
        &[
            "backend",
            "ferroctl",
            "ferroctl_protocol",
            "driver",
            "driver_protocol",
            "altitude",
        ],
    );
    assert_eq!(version["altitude"], 385_201);

    let (status, code) = sim_json(&["status"]);
    assert_eq!(code, 0);
    has_keys(
        &status,
        &[
            "version",
            "stats",
            "filter_stats",
            "instances",
            "instances_note",
        ],
    );

    let (purge, code) = sim_json(&["purge", "status"]);
    assert_eq!(code, 0, "{purge}");
    has_keys(
        &purge,
        &["streams_total", "windows_open", "held_total", "streams"],
    );

    let (bench, code) = sim_json(&["bench", "--iterations", "200"]);
    assert_eq!(code, 0, "{bench}");
    has_keys(
        &bench,
        &[
            "ioctl_round_trip",
            "forward_complete",
            "forward_cancel",
            "tracker",
        ],
    );
    has_keys(
        &bench["tracker"],
        &[
            "lock_pair",
            "track_untrack",
            "cancel_lookup",
            "baseline_cancel_lookup",
            "track_untrack_over_lock_pair",
            "baseline_over_cancel_lookup",
        ],
    );
    assert!(
        bench["tracker"]["baseline_over_cancel_lookup"]
            .as_f64()
            .unwrap()
            > 1.0
    );
    let bytes = bench["tracker_bytes_per_request"].as_u64().unwrap();
    assert!((1..=64).contains(&bytes), "{bytes} bytes per request");
}

#[test]
fn purge_and_query_keys_work_on_the_sim() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let path = file.path().to_str().unwrap();
    let output = ferroctl()
        .args(["--sim", "--json", "purge", "file", path])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    // No data-scan window is open on the sim's volume, so the purge runs at once.
    assert_eq!(report["outcome"], "done");
    assert_eq!(report["status"], "STATUS_SUCCESS");
    assert_eq!(report["held"], 0);

    let output = ferroctl()
        .args([
            "--sim",
            "--json",
            "oplock",
            "open",
            path,
            "--flags",
            "exclusive",
            "--query-keys",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    // CfOpenFileWithOplock attaches no oplock-key ECP: the driver gives the handle its own key.
    assert_eq!(report["keys"]["origin"], "unique");
    assert_eq!(report["keys"]["parent"], Value::Null);
    assert_eq!(report["keys"]["target"].as_str().unwrap().len(), 36);
}

#[test]
fn inspect_reads_the_files_bytes_through_the_filter_on_the_sim() {
    use std::io::Write as _;
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(b"hello, inspect").unwrap();
    let path = file.path().to_str().unwrap();
    let (report, code) = sim_json(&["inspect", path, "--offset", "7", "--length", "7"]);
    assert_eq!(code, 0, "{report}");
    has_keys(
        &report,
        &[
            "backend",
            "file",
            "offset",
            "length",
            "bytes_read",
            "hex",
            "text",
        ],
    );
    assert_eq!(report["backend"], "sim");
    assert_eq!(report["bytes_read"], 7);
    assert_eq!(report["text"], "inspect");
    assert_eq!(report["hex"], "696e7370656374");
    // Across the end of the file: what there is.
    let (report, code) = sim_json(&["inspect", path, "--offset", "10", "--length", "64"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["text"], "pect");
    // At the end: the file system's STATUS_END_OF_FILE, exit 1.
    let (report, code) = sim_json(&["inspect", path, "--offset", "14", "--length", "4"]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["kind"], "failed");
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .contains("STATUS_END_OF_FILE"),
        "{report}"
    );
    // Lengths outside 1..=4096 and a missing file are usage errors.
    for args in [
        vec!["inspect", path, "--length", "0"],
        vec!["inspect", path, "--length", "4097"],
        vec!["inspect", "/nonexistent/ferroctl-inspect"],
    ] {
        let output = ferroctl().arg("--sim").args(&args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
    }
}

#[cfg(not(windows))]
#[test]
fn off_windows_the_sim_is_the_default() {
    let output = ferroctl().args(["--json", "version"]).output().unwrap();
    assert!(output.status.success());
    let value: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["backend"], "sim");
}

/// Usage errors clap finds before any command runs (an unknown option, a value out of range, an
/// unknown `CF_OPEN_FILE_FLAGS` bit) print, with `--json`, the same error object on stdout as
/// every other error, and exit with 2; without `--json` stdout stays empty.
#[test]
fn usage_errors_found_by_the_parser_are_json_with_json() {
    for args in [
        &["--sim", "--json", "--bogus"][..],
        &["--sim", "--json", "stress", "--owners", "0"],
        &[
            "--sim", "--json", "oplock", "open", "f.txt", "--flags", "0x100",
        ],
    ] {
        let output = ferroctl().args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        let text = String::from_utf8(output.stdout).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: one object, got {text:?}");
        let object: Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(object["kind"], "usage", "{args:?}");
        assert_eq!(object["exit_code"], 2, "{args:?}");
        let message = object["error"].as_str().unwrap_or_default();
        assert!(
            !message.is_empty() && !message.starts_with("error:"),
            "{args:?}: {message}"
        );
        assert!(
            !output.stderr.is_empty(),
            "{args:?}: the usual message on stderr too"
        );
    }
    // Negative control: without --json nothing goes to stdout.
    let output = ferroctl()
        .args(["--sim", "stress", "--owners", "0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty(), "{output:?}");
    // --help is not an error, with or without --json.
    let output = ferroctl().args(["--json", "--help"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0));
}

/// A file may be called `demo`, `open`, `status` or `file`: FILE is always an argument of a
/// subcommand, never a positional that competes with a subcommand's name.
#[test]
fn files_named_like_subcommands_are_plain_files() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["demo", "open", "status", "file"] {
        std::fs::write(dir.path().join(name), b"x").unwrap();
    }
    for name in ["demo", "open"] {
        let output = ferroctl()
            .current_dir(dir.path())
            .args([
                "--sim",
                "--json",
                "oplock",
                "open",
                name,
                "--flags",
                "exclusive",
            ])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{name}: {output:?}");
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(report["flags"], 1, "{name}: {report}");
    }
    for name in ["status", "file"] {
        let output = ferroctl()
            .current_dir(dir.path())
            .args(["--sim", "--json", "purge", "file", name])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{name}: {output:?}");
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(report["file"], name, "{report}");
        assert_eq!(report["outcome"], "done", "{report}");
    }
    // The old spellings, with FILE straight after `oplock` / `purge`, are usage errors now.
    for args in [
        &["--sim", "oplock", "demo.txt"][..],
        &["--sim", "purge", "big.bin"],
        &["--sim", "oplock"],
        &["--sim", "purge"],
    ] {
        let output = ferroctl().args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
    }
    for args in [
        &["oplock", "open", "--help"][..],
        &["purge", "file", "--help"],
    ] {
        ferroctl()
            .args(args)
            .assert()
            .success()
            .stdout(predicate::str::contains("FILE"));
    }
}

#[test]
fn backend_sim_is_what_sim_is_short_for() {
    let (long, code) = {
        let output = ferroctl()
            .args(["--backend", "sim", "--json", "version"])
            .output()
            .unwrap();
        (
            serde_json::from_slice::<Value>(&output.stdout).unwrap(),
            output.status.code(),
        )
    };
    assert_eq!(code, Some(0));
    assert_eq!(long["backend"], "sim");
    let (short, code) = sim_json(&["version"]);
    assert_eq!(code, 0);
    assert_eq!(short, long);
    // Both at once, or a backend that does not exist, are usage errors.
    for args in [
        &["--sim", "--backend", "device", "version"][..],
        &["--backend", "kernel", "version"],
    ] {
        let output = ferroctl().args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
    }
}

#[cfg(not(windows))]
#[test]
fn off_windows_the_device_backend_is_unreachable() {
    let output = ferroctl()
        .args(["--backend", "device", "--json", "version"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let object: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(object["kind"], "unreachable");
}

#[test]
fn doctor_on_the_sim_reports_its_state_and_windows_checks_not_applicable() {
    let (report, code) = sim_json(&["doctor"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["command"], "doctor");
    assert_eq!(report["backend"], "sim");
    assert_eq!(report["ok"], true);
    let checks = report["checks"].as_array().unwrap();
    let status = |name: &str| -> &str {
        let check = checks
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no check {name} in {report}"));
        has_keys(check, &["name", "status", "found", "advice"]);
        check["status"].as_str().unwrap()
    };
    for name in [
        "filter_loaded",
        "instances",
        "control_device",
        "protocol_version",
        "verifier",
    ] {
        assert_eq!(status(name), "pass", "{name}: {report}");
    }
    for name in [
        "windows_build",
        "elevation",
        "secure_boot",
        "test_signing",
        "test_certificate",
        "service",
    ] {
        assert_eq!(status(name), "not_applicable", "{name}: {report}");
    }
    assert!(
        checks
            .iter()
            .all(|c| c["found"].as_str().is_some_and(|f| !f.is_empty()))
    );
    assert_eq!(report["summary"]["pass"], 5);
    assert_eq!(report["summary"]["not_applicable"], 6);
    assert_eq!(report["summary"]["fail"], 0);

    // The table says the same.
    ferroctl()
        .args(["--sim", "doctor"])
        .assert()
        .success()
        .stdout(predicate::str::contains("protocol_version"))
        .stdout(predicate::str::contains("ready"));
}

/// Off Windows nothing of the device's machine can be read: every Windows check is unknown or
/// failed, never passed, and doctor exits 1.
#[cfg(not(windows))]
#[test]
fn doctor_on_the_device_off_windows_passes_nothing() {
    let output = ferroctl()
        .args(["--backend", "device", "--json", "doctor"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["summary"]["pass"], 0, "{report}");
    let control = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "control_device")
        .unwrap();
    assert_eq!(control["status"], "fail");
    assert!(control["advice"].as_str().is_some());
}
