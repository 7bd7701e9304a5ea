//! Runs every scenario file in `tests/scenarios/` on the sim; a failed `expect`, a verifier
//! violation or a malformed file fails the test. New files are picked up without changes here.

use std::path::PathBuf;

use ferrofilter_sim::scenario::{check, run_file};

fn scenario_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_scenario_file_passes() {
    let files = scenario_files();
    assert!(
        files.len() >= 11,
        "expected the shipped scenarios, found {files:?}"
    );
    let mut failures = Vec::new();
    for file in &files {
        match run_file(file) {
            Ok(records) => {
                let expects = records.iter().filter(|r| r.op == "expect").count();
                if expects == 0 {
                    failures.push(format!("{}: checks nothing", file.display()));
                }
                if let Err(failed) = check(&records) {
                    failures.push(format!("{}:\n{failed}", file.display()));
                }
            }
            Err(error) => failures.push(format!("{}: {error}", file.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn records_carry_step_op_and_hex_status() {
    for file in scenario_files() {
        let records = run_file(&file).unwrap_or_default();
        for (index, record) in records.iter().enumerate() {
            let json = record.to_json();
            assert_eq!(json["step"], serde_json::json!(index), "{}", file.display());
            assert!(json["op"].is_string());
            let status = json["status"].as_str().unwrap_or_default();
            assert!(
                status.len() == 10 && status.starts_with("0x"),
                "{}: {status}",
                file.display()
            );
        }
    }
}
