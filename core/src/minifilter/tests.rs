extern crate alloc;
use alloc::vec::Vec;

use super::*;
use crate::ecp::{
    DualOplockKeyEcp, GUID_ECP_DUAL_OPLOCK_KEY, GUID_ECP_OPLOCK_KEY, KeyOrigin, OplockKeyEcp,
    encode_dual_oplock_key, encode_oplock_key,
};
use crate::purge::{
    FSCTL_REQUEST_OPLOCK, IssuableFsctl, MirrorOutcome, SET_PURGE_FAILURE_MODE_DISABLED,
    SET_PURGE_FAILURE_MODE_ENABLED,
};

struct Counter(u32);
impl KeySource for Counter {
    fn unique_key(&mut self) -> Guid {
        self.0 += 1;
        Guid::from_fields(self.0, 0xFFFF, 0, [0; 8])
    }
}

const KEY_A: Guid = Guid::from_fields(0xA, 1, 1, [1; 8]);
const KEY_B: Guid = Guid::from_fields(0xB, 2, 2, [2; 8]);
const ENABLE: [u8; 4] = SET_PURGE_FAILURE_MODE_ENABLED.to_le_bytes();
const DISABLE: [u8; 4] = SET_PURGE_FAILURE_MODE_DISABLED.to_le_bytes();

fn entry(ecp_type: Guid, from_user_mode: bool, context: &[u8]) -> EcpEntry<'_> {
    EcpEntry {
        ecp_type,
        from_user_mode,
        context,
    }
}

#[test]
fn create_records_keys_and_unique_keys_differ() {
    let mut filter = Filter::new();
    let mut source = Counter(0);
    let single = encode_oplock_key(OplockKeyEcp { key: KEY_A });
    let dual = encode_dual_oplock_key(DualOplockKeyEcp {
        parent: Some(KEY_A),
        target: Some(KEY_B),
    });
    let a = filter.pre_create([entry(GUID_ECP_OPLOCK_KEY, false, &single)], &mut source);
    let b = filter.pre_create([entry(GUID_ECP_DUAL_OPLOCK_KEY, false, &dual)], &mut source);
    let u1 = filter.pre_create([], &mut source);
    let u2 = filter.pre_create([entry(GUID_ECP_OPLOCK_KEY, true, &single)], &mut source);
    assert_eq!(
        (a.target, a.target_origin),
        (KEY_A, KeyOrigin::OplockKeyEcp)
    );
    assert_eq!((b.target, b.parent), (KEY_B, Some(KEY_A)));
    assert_eq!(u1.target_origin, KeyOrigin::Unique);
    assert_eq!(u2.target_origin, KeyOrigin::Unique);
    assert_ne!(u1.target, u2.target);
    assert_eq!(u2.anomalies.from_user_mode, 1);
    // Only a successful create gets a context.
    assert!(filter.post_create(a, 1, NtStatus::SUCCESS).is_some());
    assert!(
        filter
            .post_create(b, 1, NtStatus::SHARING_VIOLATION)
            .is_none()
    );
    // A reparse is a success status that opened nothing.
    assert!(filter.post_create(u1, 1, NtStatus::REPARSE).is_none());
    let c = filter.counters();
    assert_eq!((c.handle_contexts, c.creates_failed_below), (1, 1));
    assert_eq!(
        (c.ecp.creates, c.ecp.keys_unique, c.ecp.from_user_mode),
        (4, 2, 1)
    );
}

#[test]
fn fsctl_is_tracked_only_for_purge_failure_mode_and_counted_only_on_success() {
    let mut filter = Filter::new();
    let mut stream = StreamContext::<u32>::new();
    assert_eq!(
        filter.pre_fsctl(FSCTL_REQUEST_OPLOCK, &ENABLE),
        FsctlRoute::PassThrough
    );
    let FsctlRoute::TrackSetPurgeFailureMode(saved) =
        filter.pre_fsctl(FSCTL_SET_PURGE_FAILURE_MODE, &ENABLE)
    else {
        panic!("not tracked");
    };
    assert_eq!(saved.as_bytes(), ENABLE);
    let u = filter.post_fsctl(&mut stream, &saved, NtStatus::INVALID_PARAMETER);
    assert_eq!(
        u.outcome,
        MirrorOutcome::LowerFailed(NtStatus::INVALID_PARAMETER)
    );
    assert_eq!(stream.status().count, 0);
    let u = filter.post_fsctl(&mut stream, &saved, NtStatus::SUCCESS);
    assert_eq!(u.outcome, MirrorOutcome::Counted(1));
    // A short input is copied short, and decodes as the file system would refuse it.
    let short = SavedModeInput::copy_of(&ENABLE[..2]);
    assert_eq!(short.as_bytes().len(), 2);
    let long = SavedModeInput::copy_of(&[2, 0, 0, 0, 9, 9]);
    assert_eq!(long.as_bytes(), DISABLE);
    let c = filter.counters();
    assert_eq!(
        (c.set_mode_seen, c.set_mode_counted, c.set_mode_not_counted),
        (1, 1, 1)
    );
}

#[test]
fn purge_requests_are_held_in_a_window_and_reissued_in_order() {
    let mut filter = Filter::new();
    let mut stream = StreamContext::<u32>::new();
    let saved_on = SavedModeInput::copy_of(&ENABLE);
    let saved_off = SavedModeInput::copy_of(&DISABLE);
    assert_eq!(
        filter.purge_request(&mut stream, 1),
        PurgeRequestDecision::Proceed(1)
    );
    assert_eq!(
        filter.purge_completed(&mut stream, 1, NtStatus::USER_MAPPED_FILE),
        PurgeOutcome::Completed {
            status: NtStatus::USER_MAPPED_FILE,
            op: 1
        }
    );
    let _ = filter.post_fsctl(&mut stream, &saved_on, NtStatus::SUCCESS);
    assert_eq!(
        filter.purge_request(&mut stream, 2),
        PurgeRequestDecision::Held
    );
    assert_eq!(
        filter.purge_request(&mut stream, 3),
        PurgeRequestDecision::Held
    );
    assert_eq!(stream.status().held, 2);
    let u = filter.post_fsctl(&mut stream, &saved_off, NtStatus::SUCCESS);
    assert_eq!(u.reissue.into_iter().collect::<Vec<_>>(), [2, 3]);
    assert_eq!(filter.counters().purge.reissued, 2);
    assert_eq!(
        filter.purge_completed(&mut stream, 2, NtStatus::SUCCESS),
        PurgeOutcome::Completed {
            status: NtStatus::SUCCESS,
            op: 2
        }
    );
}

#[test]
fn cleanup_cancels_only_the_handles_own_operations_and_teardown_the_rest() {
    let mut filter = Filter::new();
    let mut stream = StreamContext::<(u8, u32)>::new();
    stream.on_handle_opened();
    stream.on_handle_opened();
    let _ = filter.post_fsctl(
        &mut stream,
        &SavedModeInput::copy_of(&ENABLE),
        NtStatus::SUCCESS,
    );
    for op in [(1, 10), (2, 20), (1, 11), (2, 21)] {
        assert_eq!(
            filter.purge_request(&mut stream, op),
            PurgeRequestDecision::Held
        );
    }
    let torn = filter.cleanup(&mut stream, |op| op.0 == 1);
    assert_eq!(torn.status, TEARDOWN_STATUS);
    assert_eq!(torn.ops.into_iter().collect::<Vec<_>>(), [(1, 10), (1, 11)]);
    assert_eq!(
        stream.purge().held().copied().collect::<Vec<_>>(),
        [(2, 20), (2, 21)]
    );
    assert_eq!(stream.handles(), 1);
    let torn = filter.stream_teardown(stream);
    assert_eq!(torn.ops.into_iter().collect::<Vec<_>>(), [(2, 20), (2, 21)]);
    assert_eq!(filter.counters().purge.torn_down, 4);
}

#[test]
fn inspect_reads_with_the_handles_own_key_and_respects_its_access() {
    let mut filter = Filter::new();
    let keys = filter.pre_create([], &mut Counter(7));
    let ctx = filter
        .post_create(keys, access::FILE_READ_DATA, NtStatus::SUCCESS)
        .unwrap();
    let plan = filter.inspect(&ctx, 0, 16).unwrap();
    assert_eq!(plan.key, keys.target);
    assert_eq!(filter.inspect(&ctx, 0, 0), Err(NtStatus::INVALID_PARAMETER));
    assert_eq!(
        filter.inspect(&ctx, 0, MAX_INSPECT_LENGTH + 1),
        Err(NtStatus::INVALID_PARAMETER)
    );
    let attr_only = HandleContext {
        keys,
        granted_access: access::FILE_READ_ATTRIBUTES,
    };
    assert_eq!(
        filter.inspect(&attr_only, 0, 4),
        Err(NtStatus::ACCESS_DENIED)
    );
    assert_eq!(
        (
            filter.counters().inspects,
            filter.counters().inspects_refused
        ),
        (1, 3)
    );
}

#[test]
fn pre_io_asks_for_post_only_where_the_window_answers() {
    let filter = Filter::new();
    assert!(filter.pre_io(PurgeOp::Write { non_cached: true }));
    assert!(filter.pre_io(PurgeOp::SetInformation));
    assert!(filter.pre_io(PurgeOp::Create(crate::file::CreateDisposition::Supersede)));
    assert!(!filter.pre_io(PurgeOp::Write { non_cached: false }));
    let mut filter = filter;
    filter.post_io(NtStatus::PURGE_FAILED);
    filter.post_io(NtStatus::SUCCESS);
    assert_eq!(filter.counters().window_answers_seen, 1);
    // Core has no way to name the purge-failure-mode FSCTL as one to send.
    assert_eq!(IssuableFsctl::from_code(FSCTL_SET_PURGE_FAILURE_MODE), None);
}
