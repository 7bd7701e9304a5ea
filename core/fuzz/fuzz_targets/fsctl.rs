//! Fuzzes `FSCTL_SET_PURGE_FAILURE_MODE` validation and drives the purge-failure window with the
//! rest of the input, checking that no held operation is lost or returned twice.
//!
//! Input: `[requestor][open kind][input length][input...]` for the validator, then one-byte
//! opcodes (with operands) for a `PurgeStream`.

#![no_main]

use ferrofilter_core::file::CreateDisposition;
use ferrofilter_core::purge::{FailureResponse, PurgeOp, PurgeRequestDecision, PurgeStream};
use ferrofilter_model::fastfat::{OpenKind, RequestorMode, validate_set_purge_failure_mode};
use ferrofilter_core::status::NtStatus;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [requestor, open, len, rest @ ..] = data else {
        return;
    };
    let requestor = if requestor & 1 == 0 {
        RequestorMode::Kernel
    } else {
        RequestorMode::User
    };
    let open = match open % 3 {
        0 => OpenKind::UserFile,
        1 => OpenKind::UserDirectory,
        _ => OpenKind::Other,
    };
    let (input, mut ops) = rest.split_at(usize::from(*len).min(rest.len()));
    let validated = validate_set_purge_failure_mode(requestor, open, input);
    if validated.is_ok() {
        assert!(requestor == RequestorMode::Kernel && open == OpenKind::UserFile);
        assert!(input.len() >= 4);
    }

    let mut stream = PurgeStream::<u32>::new();
    let mut next = 0u32;
    let mut done = Vec::new();
    while let [op, tail @ ..] = ops {
        ops = tail;
        match op % 4 {
            0 => {
                let take = usize::from(op >> 2).min(ops.len());
                let (input, tail) = ops.split_at(take);
                ops = tail;
                let lower = if op & 0x80 == 0 {
                    NtStatus::SUCCESS
                } else {
                    NtStatus::INVALID_PARAMETER
                };
                let update = stream.on_set_mode_completed(input, lower);
                if stream.window_open() {
                    assert!(update.reissue.is_empty());
                }
                done.extend(update.reissue);
            }
            1 => {
                let kind = match (op >> 2) % 9 {
                    k @ 0..=5 => PurgeOp::Create(CreateDisposition::ALL[usize::from(k)]),
                    6 => PurgeOp::Write {
                        non_cached: op & 0x80 != 0,
                    },
                    7 => PurgeOp::SetInformation,
                    _ => PurgeOp::Other,
                };
                match stream.on_purge_failure(kind, next, NtStatus::UNSUCCESSFUL) {
                    FailureResponse::Held => assert!(stream.window_open()),
                    FailureResponse::Fail { op, .. } | FailureResponse::Unchanged { op, .. } => {
                        done.push(op);
                    }
                }
                next += 1;
            }
            2 => {
                if let PurgeRequestDecision::Proceed(op) = stream.on_purge_request(next) {
                    done.push(op);
                }
                next += 1;
            }
            _ => {}
        }
    }
    let torn = stream.teardown();
    assert_eq!(torn.status, NtStatus::CANCELLED);
    done.extend(torn.ops);
    done.sort_unstable();
    assert!(
        done.iter().copied().eq(0..next),
        "an operation was lost or returned twice"
    );
});
