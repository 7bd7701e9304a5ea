//! The naive cancel (no reference before `WdfRequestCancelSentRequest`) through the seeded race
//! run: the verifier must see it. Built only with the `negative-control` feature, which the run
//! needs (`cargo test -p ferrofilter-sim --features negative-control --test naive_cancel`); CI
//! runs it so.

use ferrofilter_sim::core_stress::{self as stress, StressConfig};

#[test]
fn naive_cancel_is_caught_by_the_verifier() {
    let config = StressConfig {
        requests: 20_000,
        seed: 5,
        naive_cancel: true,
        ..StressConfig::default()
    };
    let report = stress::run(config, |_| {}).expect("built with the negative-control feature");
    assert!(
        !report.clean() && report.verifier_violations > 0,
        "{report:?}"
    );
}

#[test]
fn the_same_run_with_the_referenced_cancel_is_clean() {
    let config = StressConfig {
        requests: 20_000,
        seed: 5,
        ..StressConfig::default()
    };
    let report = stress::run(config, |_| {}).expect("the sim starts");
    assert!(report.clean(), "{report:?}");
}
