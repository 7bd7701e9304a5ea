//! Model checking of the real core forwarding code on the sim's emulated framework, with loom
//! exploring every interleaving (bounded preemptions) of 2-3 threads.
//!
//! Run with: `RUSTFLAGS="--cfg loom" cargo test -p ferrofilter-sim --test loom --release`
#![cfg(loom)]

use std::panic::{AssertUnwindSafe, catch_unwind};

use ferrofilter_core::{CancelId, NtStatus};
use ferrofilter_sim::sync::Arc;
use ferrofilter_sim::{Faults, SimConfig, SimDriver};
use loom::thread;

fn model(body: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(body);
}

fn strict_driver() -> Arc<SimDriver> {
    let config = SimConfig {
        seed: 0,
        capacity: 8,
        faults: Faults::NONE,
        strict: true,
    };
    Arc::new(SimDriver::new(config).unwrap())
}

/// Runs `work` on another loom thread with its own reference to the driver.
fn spawn_with(
    driver: &Arc<SimDriver>,
    work: impl FnOnce(&SimDriver) + Send + 'static,
) -> thread::JoinHandle<()> {
    let driver = Arc::clone(driver);
    thread::spawn(move || work(&driver))
}

/// Every request completed exactly once and nothing left behind.
fn assert_clean(driver: &SimDriver, forwarded: u64) {
    driver.deliver_all();
    let stats = driver.forwarder().snapshot().stats;
    assert_eq!(
        stats.counts.completed + stats.counts.cancelled,
        forwarded,
        "{stats:?}"
    );
    let teardown = driver.teardown();
    assert!(teardown.violations.is_empty(), "{:?}", teardown.violations);
    assert_eq!((teardown.leaked, teardown.tracked), (0, 0));
}

#[test]
fn completion_races_a_single_cancel() {
    model(|| {
        let driver = strict_driver();
        let owner = driver.open().unwrap();
        let id = driver.forward(owner, CancelId::NONE).unwrap();
        let canceller = spawn_with(&driver, move |driver| {
            let _ = driver.forwarder().cancel(owner, id);
        });
        driver.complete_random(NtStatus::SUCCESS);
        driver.deliver_all();
        canceller.join().unwrap();
        driver.close(owner).unwrap();
        assert_clean(&driver, 1);
    });
}

#[test]
fn completion_races_a_single_and_a_group_cancel() {
    model(|| {
        let driver = strict_driver();
        let owner = driver.open().unwrap();
        let group = CancelId::new(owner.partial(), 9);
        let first = driver.forward(owner, group).unwrap();
        driver.forward(owner, group).unwrap();
        let single = spawn_with(&driver, move |driver| {
            let _ = driver.forwarder().cancel(owner, first);
        });
        let grouped = spawn_with(&driver, move |driver| {
            let _ = driver.forwarder().cancel_group(owner, group);
        });
        driver.complete_random(NtStatus::SUCCESS);
        driver.deliver_all();
        single.join().unwrap();
        grouped.join().unwrap();
        driver.close(owner).unwrap();
        assert_clean(&driver, 2);
    });
}

#[test]
fn owner_close_races_completion() {
    model(|| {
        let driver = strict_driver();
        let owner = driver.open().unwrap();
        driver
            .forward(owner, CancelId::new(owner.partial(), 1))
            .unwrap();
        driver.forward(owner, CancelId::NONE).unwrap();
        let closer = spawn_with(&driver, move |driver| {
            driver.close(owner).unwrap();
        });
        driver.complete_random(NtStatus::SUCCESS);
        driver.deliver_one();
        closer.join().unwrap();
        assert_clean(&driver, 2);
        // Drained and closed: the partial ID is free again.
        assert_eq!(driver.forwarder().snapshot().owners_live, 0);
    });
}

/// The same flow without the reference step: loom must find the interleaving where the
/// completion routine frees the request between release and cancel-sent.
#[test]
fn negative_control_unreferenced_cancel_is_found() {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        model(|| {
            let driver = strict_driver();
            let owner = driver.open().unwrap();
            let id = driver.forward(owner, CancelId::NONE).unwrap();
            let canceller = spawn_with(&driver, move |driver| {
                let _ = driver.forwarder().cancel_unreferenced(owner, id);
            });
            driver.complete_random(NtStatus::SUCCESS);
            driver.deliver_all();
            canceller.join().unwrap();
            driver.close(owner).unwrap();
            assert_clean(&driver, 1);
        });
    }));
    let payload = outcome.expect_err("loom must find the use after free");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default();
    assert!(
        message.contains("after its last reference was released"),
        "{message}"
    );
}
