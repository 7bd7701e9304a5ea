//! Runs every scenario file in `tests/scenarios/` through ferroctl's library
//! (`ferroctl::commands::scenario::run_records`); new files are picked up without changes here.
//!
//! What is tested here is ferroctl's wrapper around the runs: its records, verdicts and usage
//! errors, on the sim (or on the real device with `FERROFILTER_TEST_DEVICE=1`: Windows, driver
//! loaded, elevated; unverified here). The scenarios' own expectations are checked on the sim by
//! `sim/tests/scenarios.rs`; on the device by the ignored `every_scenario_file_passes_on_the_device`,
//! which lists the skipped steps and passes when every expectation the device could evaluate held.

use std::path::{Path, PathBuf};

use ferroctl::backend::BackendKind;
use ferroctl::commands::scenario::{ScenarioRun, StepOutcome, Verdict, run_records};

fn scenario_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    ferrofilter_sim::scenario::files_in(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
}

/// The backend the suite runs on: the device only when `FERROFILTER_TEST_DEVICE=1`.
fn backend() -> BackendKind {
    if std::env::var("FERROFILTER_TEST_DEVICE").is_ok_and(|v| v == "1") {
        BackendKind::Device
    } else {
        BackendKind::Sim
    }
}

fn run(file: &Path) -> ScenarioRun {
    run_records(backend(), file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// Every shipped scenario on the real device. On the sim the files run, records checked, in
/// `sim/tests/scenarios.rs`; running them again here through ferroctl's wrapper would only
/// repeat that run, so this test is the device's.
#[test]
#[ignore = "needs the real device: Windows, driver loaded, elevated, FERROFILTER_TEST_DEVICE=1 \
            cargo test -p ferrofilter-tests -- --ignored (unverified here)"]
fn every_scenario_file_passes_on_the_device() {
    let files = scenario_files();
    assert!(
        files.len() >= 11,
        "expected the shipped scenarios, found {files:?}"
    );
    let kind = BackendKind::Device;
    let mut failures = Vec::new();
    for file in &files {
        let run = match run_records(kind, file) {
            Ok(run) => run,
            Err(error) => {
                failures.push(format!("{}: {error}", file.display()));
                continue;
            }
        };
        assert_eq!(run.backend, kind);
        let expects = run.steps.iter().filter(|s| s.op() == "expect").count();
        if expects == 0 {
            failures.push(format!("{}: checks nothing", file.display()));
        }
        // Listed, so a device run shows what it did not cover.
        for skipped in run.skipped() {
            eprintln!(
                "{}: step {} ({}) skipped: {}",
                file.display(),
                skipped.step,
                skipped.op,
                skipped.reason
            );
        }
        match &run.verdict {
            Verdict::Failed(lines) => {
                failures.push(format!("{}:\n{}", file.display(), lines.join("\n")));
            }
            Verdict::NothingChecked => eprintln!(
                "{}: no expectation could be evaluated on the device",
                file.display()
            ),
            Verdict::Passed => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The simulated kernel is deterministic: a scenario boots a fresh machine each time and gives the
/// same records, so a failure found in CI replays locally. (Addresses, hash order or the clock
/// leaking into a record would break this.)
#[test]
fn a_scenario_replays_with_the_same_records() {
    if backend() != BackendKind::Sim {
        return;
    }
    for file in scenario_files() {
        let first = run(&file);
        let second = run(&file);
        assert_eq!(first.verdict, Verdict::Passed, "{}", file.display());
        assert_eq!(first.steps, second.steps, "{}", file.display());
        assert_eq!(first.performed(), first.steps.len());
    }
}

#[test]
fn records_carry_step_op_and_hex_status() {
    for file in scenario_files() {
        let run = run(&file);
        for (index, step) in run.steps.iter().enumerate() {
            let json = step.to_json();
            assert_eq!(json["step"], serde_json::json!(index), "{}", file.display());
            assert_eq!(json["op"].as_str(), Some(step.op()));
            if matches!(step, StepOutcome::Skipped(_)) {
                assert_eq!(json["skipped"], serde_json::json!(true));
                assert!(json["reason"].as_str().is_some_and(|r| !r.is_empty()));
                continue;
            }
            if matches!(step, StepOutcome::Device(_)) && json["status"].is_null() {
                // Only the Win32 error was visible, or the step did not finish in time.
                assert!(json["win32_error"].is_u64() || json["timed_out"] == true);
                continue;
            }
            let status = json["status"].as_str().unwrap_or_default();
            assert!(
                status.len() == 10 && status.starts_with("0x"),
                "{}: {status}",
                file.display()
            );
        }
    }
}

#[test]
fn a_failing_expect_fails_the_run_through_the_library() {
    if backend() != BackendKind::Sim {
        return;
    }
    let dir = std::env::temp_dir().join(format!("ferrofilter-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("failing.json");
    std::fs::write(
        &file,
        r#"{"steps": [
            {"op": "open", "handle": "h", "path": "f"},
            {"op": "expect", "status_name": "STATUS_SHARING_VIOLATION"}
        ]}"#,
    )
    .unwrap();
    let run = run_records(BackendKind::Sim, &file).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    match run.verdict {
        Verdict::Failed(lines) => {
            assert_eq!(lines.len(), 1);
            assert!(lines[0].starts_with("step 1 (expect)"), "{lines:?}");
            assert!(lines[0].contains("STATUS_SHARING_VIOLATION"), "{lines:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_malformed_file_runs_nothing_and_names_the_step() {
    let dir = std::env::temp_dir().join(format!("ferrofilter-tests-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.json");
    std::fs::write(
        &file,
        r#"{"steps": [{"op": "purge_status"}, {"op": "open", "handle": "h"}]}"#,
    )
    .unwrap();
    let error = run_records(backend(), &file).unwrap_err();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(error.kind(), "usage");
    assert!(
        error.to_string().contains("step 1, field `path`"),
        "{error}"
    );
}
