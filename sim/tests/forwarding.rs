//! The forwarding and cancel protocol on the sim: behaviour, and negative controls showing the
//! verifier catches each bug it exists for.

use ferrofilter_core::ports::{RequestOps, SpinLock};
use ferrofilter_core::{CancelId, NtStatus, RequestId};
use ferrofilter_sim::core_stress::{self as stress, StressConfig};
use ferrofilter_sim::lock::SimSpinLock;
use ferrofilter_sim::{Faults, SimConfig, SimDriver, TargetState, Violation};

fn driver() -> SimDriver {
    SimDriver::new(SimConfig {
        capacity: 64,
        ..SimConfig::default()
    })
    .unwrap()
}

fn assert_clean(driver: &SimDriver) {
    let teardown = driver.teardown();
    assert_eq!(teardown.violations, vec![], "verifier violations");
    assert_eq!((teardown.leaked, teardown.tracked), (0, 0));
}

#[test]
fn cancel_one_completes_it_once_with_cancelled() {
    let d = driver();
    let owner = d.open().unwrap();
    let id = d.forward(owner, CancelId::NONE).unwrap();
    assert_eq!(d.forwarder().cancel(owner, id), Ok(true));
    assert_eq!(d.deliver_all(), 1);
    let stats = d.forwarder().snapshot().stats;
    assert_eq!((stats.counts.cancelled, stats.counts.completed), (1, 0));
    // The ID is stale now: a second cancel finds nothing and touches nothing.
    assert_eq!(d.forwarder().cancel(owner, id), Err(NtStatus::NOT_FOUND));
    d.close(owner).unwrap();
    assert_clean(&d);
}

#[test]
fn group_cancel_reaches_exactly_the_group() {
    let d = driver();
    let owner = d.open().unwrap();
    let a = CancelId::new(owner.partial(), 1);
    let b = CancelId::new(owner.partial(), 2);
    for _ in 0..3 {
        d.forward(owner, a).unwrap();
    }
    for _ in 0..2 {
        d.forward(owner, b).unwrap();
    }
    d.forward(owner, CancelId::NONE).unwrap();
    assert_eq!(d.forwarder().cancel_group(owner, a), Ok(3));
    assert_eq!(d.deliver_all(), 3);
    assert_eq!(
        d.framework().pending_at_target(),
        3,
        "group b and the untagged one still pend"
    );
    assert_eq!(
        d.forwarder().cancel_group(owner, a),
        Ok(0),
        "completion cleared the cancel ID"
    );
    while d.complete_random(NtStatus::SUCCESS) {}
    assert_eq!(d.deliver_all(), 3);
    assert_eq!(d.forwarder().cancel_group(owner, b), Ok(0));
    let stats = d.forwarder().snapshot().stats;
    assert_eq!((stats.counts.cancelled, stats.counts.completed), (3, 3));
    d.close(owner).unwrap();
    assert_clean(&d);
}

#[test]
fn an_owner_may_not_use_another_owners_ids() {
    let d = driver();
    let first = d.open().unwrap();
    let second = d.open().unwrap();
    let theirs = CancelId::new(second.partial(), 1);
    assert_eq!(d.forward(first, theirs), Err(NtStatus::INVALID_PARAMETER));
    let id = d.forward(second, theirs).unwrap();
    assert_eq!(d.forwarder().cancel(first, id), Err(NtStatus::NOT_FOUND));
    assert_eq!(
        d.forwarder().cancel_group(first, theirs),
        Err(NtStatus::INVALID_PARAMETER)
    );
    assert_eq!(
        d.forwarder().cancel_group(second, CancelId::NONE),
        Err(NtStatus::INVALID_PARAMETER)
    );
    d.close(first).unwrap();
    d.close(second).unwrap();
    d.deliver_all();
    assert_clean(&d);
    // The refused request was completed by the forwarder with the refusal, once.
    assert_eq!(d.forwarder().snapshot().stats.counts.refused, 1);
}

#[test]
fn closing_an_owner_cancels_all_and_frees_its_partial_only_when_drained() {
    let d = driver();
    let mut owners: Vec<_> = (0..256).map(|_| d.open().unwrap()).collect();
    assert_eq!(
        d.open(),
        Err(NtStatus::INSUFFICIENT_RESOURCES),
        "257th owner"
    );
    let closing = owners.remove(7);
    for counter in 1..=5 {
        d.forward(closing, CancelId::new(closing.partial(), counter))
            .unwrap();
    }
    assert_eq!(d.close(closing), Ok(5));
    assert_eq!(
        d.forward(closing, CancelId::NONE),
        Err(NtStatus::DELETE_PENDING)
    );
    // Its requests are cancelled but not yet completed: the partial ID stays reserved so a new
    // owner cannot cancel them by accident.
    assert_eq!(d.open(), Err(NtStatus::INSUFFICIENT_RESOURCES));
    assert_eq!(d.deliver_all(), 5);
    let reopened = d.open().unwrap();
    assert_eq!(reopened.partial(), closing.partial());
    assert_ne!(
        reopened, closing,
        "a new generation: the old owner's ID stays dead"
    );
    assert_eq!(
        d.forwarder()
            .cancel_group(closing, CancelId::new(closing.partial(), 1)),
        Ok(0)
    );
    owners.push(reopened);
    for owner in owners {
        d.close(owner).unwrap();
    }
    assert_clean(&d);
}

#[test]
fn failed_sends_are_completed_once_by_the_forwarder() {
    let d = driver();
    let owner = d.open().unwrap();
    d.framework().set_target_state(TargetState::Stopped);
    assert_eq!(
        d.forward(owner, CancelId::NONE),
        Err(NtStatus::INVALID_DEVICE_STATE)
    );
    d.framework().set_target_state(TargetState::Started);
    let id = d.forward(owner, CancelId::NONE).unwrap();
    d.framework().set_target_state(TargetState::Removed);
    assert_eq!(d.deliver_all(), 1, "removal returns what was pending");
    assert_eq!(d.forwarder().cancel(owner, id), Err(NtStatus::NOT_FOUND));
    assert_eq!(
        d.forward(owner, CancelId::NONE),
        Err(NtStatus::DEVICE_REMOVED)
    );
    let stats = d.forwarder().snapshot().stats;
    assert_eq!((stats.counts.send_failures, stats.counts.failed), (2, 1));
    d.close(owner).unwrap();
    assert_clean(&d);
}

#[test]
fn a_full_table_refuses_cleanly() {
    let d = SimDriver::new(SimConfig {
        capacity: 2,
        ..SimConfig::default()
    })
    .unwrap();
    let owner = d.open().unwrap();
    d.forward(owner, CancelId::NONE).unwrap();
    d.forward(owner, CancelId::NONE).unwrap();
    assert_eq!(
        d.forward(owner, CancelId::NONE),
        Err(NtStatus::INSUFFICIENT_RESOURCES)
    );
    d.close(owner).unwrap();
    d.deliver_all();
    assert_clean(&d);
}

/// A finished request whose completion routine will run at the next lock release.
fn racing_setup() -> (SimDriver, ferrofilter_core::OwnerId, RequestId) {
    let faults = Faults {
        preempt_ppm: 1_000_000,
        ..Faults::NONE
    };
    let d = SimDriver::new(SimConfig {
        capacity: 8,
        faults,
        ..SimConfig::default()
    })
    .unwrap();
    let owner = d.open().unwrap();
    let id = d.forward(owner, CancelId::NONE).unwrap();
    assert!(d.framework().target_complete_at(0, NtStatus::SUCCESS));
    (d, owner, id)
}

#[test]
fn referenced_cancel_survives_completion_in_the_window() {
    let (d, owner, id) = racing_setup();
    // The completion routine runs between release and cancel-sent; the reference keeps the
    // handle valid, so cancel-sent finds a completed request and does nothing.
    assert_eq!(d.forwarder().cancel(owner, id), Ok(false));
    assert_eq!(d.forwarder().snapshot().stats.counts.completed, 1);
    d.close(owner).unwrap();
    assert_clean(&d);
}

#[test]
fn negative_control_unreferenced_cancel_is_caught() {
    let (d, owner, id) = racing_setup();
    let _ = d.forwarder().cancel_unreferenced(owner, id);
    let violations = d.framework().verifier().violations();
    assert!(
        matches!(
            violations.as_slice(),
            [Violation::UseAfterFree {
                operation: "WdfRequestCancelSentRequest",
                ..
            }]
        ),
        "{violations:?}"
    );
}

#[test]
fn negative_control_double_completion_is_caught() {
    let d = driver();
    let request = d.framework().create_request().unwrap();
    let ops = d.forwarder().ops();
    ops.reference(request);
    ops.complete(request, NtStatus::SUCCESS);
    ops.complete(request, NtStatus::SUCCESS);
    ops.dereference(request);
    assert!(matches!(
        d.framework().verifier().violations().as_slice(),
        [Violation::DoubleCompletion { .. }]
    ));
}

#[test]
fn negative_control_send_under_spin_lock_is_caught() {
    let d = driver();
    let request = d.framework().create_request().unwrap();
    let lock = SimSpinLock::new(());
    lock.with(|()| d.forwarder().ops().send(request, RequestId(1)))
        .unwrap();
    assert!(matches!(
        d.framework().verifier().violations().as_slice(),
        [Violation::SendWhileSpinLockHeld { .. }]
    ));
}

#[test]
fn negative_control_leak_is_caught_at_teardown() {
    let d = driver();
    let _forgotten = d.framework().create_request().unwrap();
    let teardown = d.teardown();
    assert_eq!(teardown.leaked, 1);
    assert!(matches!(
        teardown.violations.as_slice(),
        [Violation::Leak { .. }]
    ));
}

#[test]
fn negative_control_use_after_complete_is_caught() {
    let d = driver();
    let request = d.framework().create_request().unwrap();
    let ops = d.forwarder().ops();
    ops.complete(request, NtStatus::SUCCESS);
    assert!(!ops.cancel_sent(request));
    assert!(matches!(
        d.framework().verifier().violations().as_slice(),
        [Violation::UseAfterFree {
            operation: "WdfRequestCancelSentRequest",
            ..
        }]
    ));
}

#[test]
fn stress_is_clean_across_seeds_with_and_without_faults() {
    for seed in 0..6 {
        for faults in [false, true] {
            let config = StressConfig {
                requests: 20_000,
                seed,
                faults,
                ..StressConfig::default()
            };
            let report = stress::run(config, |_| {}).unwrap();
            assert!(report.clean(), "seed {seed} faults {faults}: {report:?}");
            assert!(
                report.counts.cancelled > 0 && report.counts.completed > 0,
                "{report:?}"
            );
            if faults {
                assert!(
                    report.counts.send_failures > 0 && report.counts.refused > 0,
                    "{report:?}"
                );
            }
        }
    }
}

#[test]
fn a_seed_replays_exactly() {
    let config = StressConfig {
        requests: 30_000,
        seed: 42,
        faults: true,
        ..StressConfig::default()
    };
    let mut first = stress::run(config, |_| {}).unwrap();
    let mut second = stress::run(config, |_| {}).unwrap();
    first.elapsed_ms = 0;
    second.elapsed_ms = 0;
    assert_eq!(first, second);
    let mut other = stress::run(StressConfig { seed: 43, ..config }, |_| {}).unwrap();
    other.elapsed_ms = 0;
    assert_ne!(first, other);
}
