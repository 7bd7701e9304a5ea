//! Property test of the purge-failure window against a simple model: the mirrored count, the
//! answer for every operation, and that every held operation comes back exactly once, in order.

use std::collections::VecDeque;

use ferrofilter_core::file::CreateDisposition;
use ferrofilter_core::purge::{
    FailureResponse, MAX_HELD, MirrorOutcome, PurgeOp, PurgeRequestDecision, PurgeStream,
    TEARDOWN_STATUS,
};
use ferrofilter_core::status::NtStatus;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Event {
    /// A completed FSCTL: raw flags (or a short buffer) and whether the file system succeeded.
    SetMode { input: Vec<u8>, lower_ok: bool },
    /// A failed purge of this kind.
    Failure(PurgeOp),
    /// A user's flush + purge request.
    PurgeRequest,
}

fn purge_op() -> impl Strategy<Value = PurgeOp> {
    prop_oneof![
        (0usize..6).prop_map(|d| PurgeOp::Create(CreateDisposition::ALL[d])),
        any::<bool>().prop_map(|non_cached| PurgeOp::Write { non_cached }),
        Just(PurgeOp::SetInformation),
        Just(PurgeOp::PurgeRequest),
        Just(PurgeOp::Other),
    ]
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        // Mostly well-formed ENABLE / DISABLE so windows open and close often.
        4 => (prop_oneof![Just(1u32), Just(2u32), Just(3u32), any::<u32>()], any::<bool>())
            .prop_map(|(f, ok)| Event::SetMode { input: f.to_le_bytes().to_vec(), lower_ok: ok || f == 2 }),
        1 => (proptest::collection::vec(any::<u8>(), 0..4), any::<bool>())
            .prop_map(|(input, lower_ok)| Event::SetMode { input, lower_ok }),
        4 => purge_op().prop_map(Event::Failure),
        1 => Just(Event::PurgeRequest),
    ]
}

const ORIGINAL: NtStatus = NtStatus::UNSUCCESSFUL;

proptest! {
    #[test]
    fn window_matches_the_model(events in proptest::collection::vec(event(), 0..120)) {
        let mut stream = PurgeStream::<u32>::new();
        let mut count: u64 = 0;
        let mut held: VecDeque<u32> = VecDeque::new();
        // Every token ends up here exactly once.
        let mut finished: Vec<u32> = Vec::new();
        let mut next = 0u32;
        // Holds refused because MAX_HELD were held already.
        let mut refused = 0u64;

        for event in events {
            match event {
                Event::SetMode { input, lower_ok } => {
                    let lower = if lower_ok { NtStatus::SUCCESS } else { NtStatus::INVALID_PARAMETER };
                    let update = stream.on_set_mode_completed(&input, lower);
                    let flags = input.get(..4).map(|b| u32::from_le_bytes(b.try_into().unwrap()));
                    let expected = match (lower_ok, flags) {
                        (false, _) => MirrorOutcome::LowerFailed(lower),
                        (true, None) => MirrorOutcome::Undecodable(NtStatus::BUFFER_TOO_SMALL),
                        (true, Some(f)) if f & 1 != 0 => {
                            count += 1;
                            MirrorOutcome::Counted(u32::try_from(count).unwrap())
                        }
                        (true, Some(f)) if f & 2 != 0 => {
                            if count == 0 {
                                MirrorOutcome::Unbalanced(ferrofilter_core::purge::PurgeModeChange::Disable)
                            } else {
                                count -= 1;
                                MirrorOutcome::Counted(u32::try_from(count).unwrap())
                            }
                        }
                        (true, Some(_)) => MirrorOutcome::Undecodable(NtStatus::INVALID_PARAMETER),
                    };
                    prop_assert_eq!(update.outcome, expected);
                    let released: Vec<u32> = update.reissue.into_iter().collect();
                    if count == 0 {
                        prop_assert_eq!(&released, &held.drain(..).collect::<Vec<_>>());
                    } else {
                        prop_assert!(released.is_empty());
                    }
                    finished.extend(released);
                }
                Event::Failure(kind) => {
                    let token = next;
                    next += 1;
                    let response = stream.on_purge_failure(kind, token, ORIGINAL);
                    let expected = if count == 0 {
                        FailureResponse::Unchanged { status: ORIGINAL, op: token }
                    } else {
                        match kind {
                            PurgeOp::Create(d) if d.is_destructive() => {
                                FailureResponse::Fail { status: NtStatus::USER_MAPPED_FILE, op: token }
                            }
                            PurgeOp::Write { non_cached: true } | PurgeOp::SetInformation => {
                                FailureResponse::Fail { status: NtStatus::PURGE_FAILED, op: token }
                            }
                            _ if held.len() == MAX_HELD => {
                                refused += 1;
                                FailureResponse::Fail { status: NtStatus::INSUFFICIENT_RESOURCES, op: token }
                            }
                            _ => FailureResponse::Held,
                        }
                    };
                    prop_assert_eq!(response, expected);
                    match response {
                        FailureResponse::Held => held.push_back(token),
                        FailureResponse::Fail { op, .. } | FailureResponse::Unchanged { op, .. } => {
                            finished.push(op);
                        }
                    }
                }
                Event::PurgeRequest => {
                    let token = next;
                    next += 1;
                    let full = count > 0 && held.len() == MAX_HELD;
                    match stream.on_purge_request(token) {
                        PurgeRequestDecision::Proceed(op) => {
                            // Runs now: no window, or no room to hold it.
                            prop_assert!(count == 0 || full);
                            refused += u64::from(full);
                            finished.push(op);
                        }
                        PurgeRequestDecision::Held => {
                            prop_assert!(count > 0);
                            held.push_back(token);
                        }
                    }
                }
            }
            prop_assert_eq!(u64::from(stream.count()), count);
            prop_assert_eq!(stream.window_open(), count > 0);
            prop_assert_eq!(stream.held_len(), held.len());
        }

        let counters = *stream.counters();
        let torn = stream.teardown();
        prop_assert_eq!(torn.status, TEARDOWN_STATUS);
        let rest: Vec<u32> = torn.ops.into_iter().collect();
        prop_assert_eq!(&rest, &held.drain(..).collect::<Vec<_>>());
        finished.extend(rest);

        // None lost, none twice.
        finished.sort_unstable();
        prop_assert_eq!(finished, (0..next).collect::<Vec<_>>());
        prop_assert_eq!(counters.hold_failures, refused);
    }
}
