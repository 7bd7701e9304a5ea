//! Every shipped scenario (`tests/scenarios/*.json`) on the simulated kernel with the driver's
//! own code loaded; the expected values are the files' own, taken from the reference. A failed
//! `expect` or a verifier record (a leak at the final unload, a diverged purge-failure mirror, …)
//! fails the test with the records that failed.

use std::path::PathBuf;

use ferrofilter_sim::scenario::{self, StepRecord};

fn scenario_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios");
    scenario::files_in(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
}

fn describe(record: &StepRecord) -> String {
    format!(
        "step {} ({}): {}",
        record.step,
        record.op,
        record
            .observed
            .get("mismatches")
            .map_or_else(String::new, ToString::to_string)
    )
}

#[test]
fn every_shipped_scenario_passes_through_the_driver() {
    let files = scenario_files();
    assert!(
        files.len() >= 11,
        "expected the shipped scenarios, found {files:?}"
    );
    let mut failures = Vec::new();
    for file in &files {
        let records =
            scenario::run_file(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(
            records.iter().any(|r| r.op == "expect"),
            "{}: checks nothing",
            file.display()
        );
        if let Err(failed) = scenario::check(&records) {
            for record in &failed.0 {
                failures.push(format!("{}: {}", file.display(), describe(record)));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "scenarios failed:\n{}",
        failures.join("\n")
    );
}
