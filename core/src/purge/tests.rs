extern crate alloc;
use alloc::vec::Vec;

use super::*;

const ENABLE: [u8; 4] = SET_PURGE_FAILURE_MODE_ENABLED.to_le_bytes();
const DISABLE: [u8; 4] = SET_PURGE_FAILURE_MODE_DISABLED.to_le_bytes();

#[test]
fn a_stream_holds_at_most_max_held_and_refuses_the_next() {
    let mut s = PurgeStream::<usize>::new();
    let _ = s.on_set_mode_completed(&ENABLE, NtStatus::SUCCESS);
    for op in 0..MAX_HELD {
        assert_eq!(s.on_purge_request(op), PurgeRequestDecision::Held);
    }
    assert_eq!(
        s.on_purge_failure(PurgeOp::Other, 100, NtStatus::UNSUCCESSFUL),
        FailureResponse::Fail {
            status: NtStatus::INSUFFICIENT_RESOURCES,
            op: 100
        }
    );
    // No room to hold it: the request runs now instead of being lost.
    assert_eq!(s.on_purge_request(101), PurgeRequestDecision::Proceed(101));
    assert_eq!(s.counters().hold_failures, 2);
    // A cleanup takes out the odd ones; the even ones stay, in order, and room is back.
    let odd: Vec<usize> = s.cancel_where(|op| op % 2 == 1).into_iter().collect();
    assert_eq!(odd, (1..MAX_HELD).step_by(2).collect::<Vec<_>>());
    assert_eq!(s.on_purge_request(102), PurgeRequestDecision::Held);
    let update = s.on_set_mode_completed(&DISABLE, NtStatus::SUCCESS);
    let mut expected: Vec<usize> = (0..MAX_HELD).step_by(2).collect();
    expected.push(102);
    assert_eq!(update.reissue.into_iter().collect::<Vec<_>>(), expected);
}

#[test]
fn codes_match_ntifs() {
    assert_eq!(FSCTL_SET_PURGE_FAILURE_MODE, 0x0009_0270);
    assert_eq!(FSCTL_REQUEST_OPLOCK, 0x0009_0240);
}

#[test]
fn count_refuses_overflow_and_underflow_unchanged() {
    let mut c = PurgeFailureCount::new();
    assert_eq!(
        c.apply(PurgeModeChange::Disable),
        Err(NtStatus::INVALID_PARAMETER)
    );
    assert_eq!(c.get(), 0);
    assert_eq!(c.apply(PurgeModeChange::Enable), Ok(1));
    assert!(c.is_open());
    let mut full = PurgeFailureCount(u32::MAX);
    assert_eq!(
        full.apply(PurgeModeChange::Enable),
        Err(NtStatus::INVALID_PARAMETER)
    );
    assert_eq!(full.get(), u32::MAX);
    assert_eq!(full.apply(PurgeModeChange::Disable), Ok(u32::MAX - 1));
}

#[test]
fn mirror_counts_only_lower_successes() {
    let mut s = PurgeStream::<u32>::new();
    let u = s.on_set_mode_completed(&ENABLE, NtStatus::INVALID_PARAMETER);
    assert_eq!(
        u.outcome,
        MirrorOutcome::LowerFailed(NtStatus::INVALID_PARAMETER)
    );
    assert!(!s.window_open());
    let u = s.on_set_mode_completed(&ENABLE, NtStatus::SUCCESS);
    assert_eq!(u.outcome, MirrorOutcome::Counted(1));
    let u = s.on_set_mode_completed(&[1, 0], NtStatus::SUCCESS);
    assert_eq!(
        u.outcome,
        MirrorOutcome::Undecodable(NtStatus::BUFFER_TOO_SMALL)
    );
    let u = s.on_set_mode_completed(&DISABLE, NtStatus::SUCCESS);
    assert_eq!(u.outcome, MirrorOutcome::Counted(0));
    let u = s.on_set_mode_completed(&DISABLE, NtStatus::SUCCESS);
    assert_eq!(
        u.outcome,
        MirrorOutcome::Unbalanced(PurgeModeChange::Disable)
    );
    assert_eq!(s.count(), 0);
    let c = s.counters();
    assert_eq!(
        (
            c.enables,
            c.disables,
            c.lower_failed,
            c.undecodable,
            c.unbalanced
        ),
        (1, 1, 1, 1, 1)
    );
}

#[test]
fn outside_the_window_failures_pass_unchanged() {
    let mut s = PurgeStream::new();
    for kind in [
        PurgeOp::Create(CreateDisposition::Supersede),
        PurgeOp::Write { non_cached: true },
        PurgeOp::SetInformation,
        PurgeOp::Other,
    ] {
        assert_eq!(
            s.on_purge_failure(kind, 7, NtStatus::SHARING_VIOLATION),
            FailureResponse::Unchanged {
                status: NtStatus::SHARING_VIOLATION,
                op: 7
            }
        );
    }
    assert_eq!(s.on_purge_request(8), PurgeRequestDecision::Proceed(8));
    assert_eq!(s.held_len(), 0);
}

#[test]
fn inside_the_window_each_kind_gets_its_answer() {
    let mut s = PurgeStream::new();
    let _ = s.on_set_mode_completed(&ENABLE, NtStatus::SUCCESS);
    for d in [
        CreateDisposition::Supersede,
        CreateDisposition::Overwrite,
        CreateDisposition::OverwriteIf,
    ] {
        assert_eq!(
            s.on_purge_failure(PurgeOp::Create(d), 1, NtStatus::UNSUCCESSFUL),
            FailureResponse::Fail {
                status: NtStatus::USER_MAPPED_FILE,
                op: 1
            }
        );
    }
    for kind in [PurgeOp::Write { non_cached: true }, PurgeOp::SetInformation] {
        assert_eq!(
            s.on_purge_failure(kind, 2, NtStatus::UNSUCCESSFUL),
            FailureResponse::Fail {
                status: NtStatus::PURGE_FAILED,
                op: 2
            }
        );
    }
    let mut next = 10;
    for kind in [
        PurgeOp::Create(CreateDisposition::Open),
        PurgeOp::Create(CreateDisposition::OpenIf),
        PurgeOp::Write { non_cached: false },
        PurgeOp::PurgeRequest,
        PurgeOp::Other,
    ] {
        assert_eq!(
            s.on_purge_failure(kind, next, NtStatus::UNSUCCESSFUL),
            FailureResponse::Held
        );
        next += 1;
    }
    assert_eq!(s.on_purge_request(next), PurgeRequestDecision::Held);
    assert_eq!(s.held_len(), 6);
    let c = *s.counters();
    assert_eq!((c.user_mapped_file, c.purge_failed, c.held), (3, 2, 6));
}

#[test]
fn held_operations_come_back_in_order_when_the_count_reaches_zero() {
    let mut s = PurgeStream::new();
    let _ = s.on_set_mode_completed(&ENABLE, NtStatus::SUCCESS);
    let _ = s.on_set_mode_completed(&ENABLE, NtStatus::SUCCESS);
    for op in 0..5 {
        assert_eq!(
            s.on_purge_failure(PurgeOp::Other, op, NtStatus::UNSUCCESSFUL),
            FailureResponse::Held
        );
    }
    // First DISABLE: still open, nothing released.
    let u = s.on_set_mode_completed(&DISABLE, NtStatus::SUCCESS);
    assert_eq!(u.outcome, MirrorOutcome::Counted(1));
    assert!(u.reissue.is_empty());
    // A failed DISABLE below changes nothing either.
    let u = s.on_set_mode_completed(&DISABLE, NtStatus::UNSUCCESSFUL);
    assert!(u.reissue.is_empty());
    assert_eq!(s.held_len(), 5);
    let u = s.on_set_mode_completed(&DISABLE, NtStatus::SUCCESS);
    assert_eq!(u.outcome, MirrorOutcome::Counted(0));
    assert_eq!(u.reissue.into_iter().collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
    assert_eq!(s.held_len(), 0);
    assert_eq!(s.counters().reissued, 5);
    // Nothing comes back twice.
    let u = s.on_set_mode_completed(&ENABLE, NtStatus::SUCCESS);
    assert!(u.reissue.is_empty());
    let u = s.on_set_mode_completed(&DISABLE, NtStatus::SUCCESS);
    assert!(u.reissue.is_empty());
}

#[test]
fn a_cleanup_takes_its_own_held_operations_and_leaves_the_rest_in_order() {
    let mut s = PurgeStream::<u8>::new();
    let u = s.on_set_mode_completed(&ENABLE, NtStatus::SUCCESS);
    assert_eq!(u.outcome, MirrorOutcome::Counted(1));
    for op in 0..4 {
        let _ = s.on_purge_failure(
            PurgeOp::Write { non_cached: false },
            op,
            NtStatus::UNSUCCESSFUL,
        );
    }
    let cancelled = s.cancel_where(|op| op % 2 == 1);
    assert_eq!(cancelled.into_iter().collect::<Vec<_>>(), [1, 3]);
    assert!(s.cancel_where(|_| false).is_empty());
    let u = s.on_set_mode_completed(&DISABLE, NtStatus::SUCCESS);
    assert_eq!(u.outcome, MirrorOutcome::Counted(0));
    assert_eq!(u.reissue.into_iter().collect::<Vec<_>>(), [0, 2]);
    let c = s.counters();
    assert_eq!(
        (c.enables, c.disables, c.reissued, c.torn_down),
        (1, 1, 2, 2)
    );
}

#[test]
fn teardown_completes_held_operations_with_cancelled() {
    let mut s = PurgeStream::new();
    let _ = s.on_set_mode_completed(&ENABLE, NtStatus::SUCCESS);
    assert_eq!(
        s.on_purge_failure(PurgeOp::Other, 'a', NtStatus::UNSUCCESSFUL),
        FailureResponse::Held
    );
    assert_eq!(s.on_purge_request('b'), PurgeRequestDecision::Held);
    let t = s.teardown();
    assert_eq!(t.status, NtStatus::CANCELLED);
    assert_eq!(t.ops.iter().copied().collect::<Vec<_>>(), ['a', 'b']);
    let empty = PurgeStream::<u8>::new().teardown();
    assert!(empty.ops.is_empty());
}

#[test]
fn core_cannot_name_the_purge_failure_mode_fsctl() {
    assert_eq!(IssuableFsctl::from_code(FSCTL_SET_PURGE_FAILURE_MODE), None);
    assert!(
        IssuableFsctl::ALL
            .iter()
            .all(|f| f.code() != FSCTL_SET_PURGE_FAILURE_MODE)
    );
    for f in IssuableFsctl::ALL {
        assert_eq!(IssuableFsctl::from_code(f.code()), Some(f));
    }
    // Exhaustive: a new variant fails to compile here until it is placed in `ALL`.
    let index = |f: IssuableFsctl| match f {
        IssuableFsctl::RequestOplock => 0,
    };
    for (i, f) in IssuableFsctl::ALL.into_iter().enumerate() {
        assert_eq!(index(f), i);
    }
}
