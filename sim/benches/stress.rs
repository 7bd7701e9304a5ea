#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]
//! The seeded stress run through the driver's own code on the simulated kernel
//! (`stress/driver`) against the same run over core's forwarder with the sim's old ports
//! (`stress/core_only`), with injected faults. The target: `ferroctl --sim stress --requests
//! 1000000 --faults` within 10 s on 2 cores; the ratio of the two says what running the real
//! adapter and the kernel boundary costs.

use criterion::{Criterion, criterion_group, criterion_main};
use ferrofilter_sim::{core_stress, stress};

const REQUESTS: u64 = 20_000;

fn config() -> stress::StressConfig {
    stress::StressConfig {
        requests: REQUESTS,
        seed: 5,
        faults: true,
        ..stress::StressConfig::default()
    }
}

fn paths(c: &mut Criterion) {
    let mut group = c.benchmark_group("stress");
    group.sample_size(10);
    group.bench_function("driver", |b| {
        b.iter(|| {
            let report = stress::run(config(), |_| {}).expect("the driver loads");
            assert!(report.clean());
        });
    });
    group.bench_function("core_only", |b| {
        b.iter(|| {
            let report = core_stress::run(config(), |_| {}).expect("the sim starts");
            assert!(report.clean());
        });
    });
    group.finish();
}

criterion_group!(benches, paths);
criterion_main!(benches);
