use super::*;
use crate::ecp::{CreateAnomalies, HandleKeys};
use crate::protocol::decode;
use zerocopy::FromBytes;

const KEY: Guid = Guid::from_fields(0x1234_5678, 0x9ABC, 0xDEF0, [1, 2, 3, 4, 5, 6, 7, 8]);

fn context(parent: Option<Guid>) -> HandleContext {
    HandleContext {
        keys: HandleKeys {
            target: KEY,
            target_origin: KeyOrigin::OplockKeyEcp,
            parent,
            anomalies: CreateAnomalies {
                from_user_mode: 1,
                malformed: 2,
                ..CreateAnomalies::default()
            },
        },
        granted_access: 1,
    }
}

#[test]
fn query_keys_encodes_guid_bytes_and_never_an_address() {
    let mut out = [0u8; 80];
    let ctx = context(Some(Guid::NIL));
    assert_eq!(
        answer_query_keys(Ok(&ctx), &mut out),
        Completion::ok(size_of::<HandleKeysInfo>())
    );
    let info: HandleKeysInfo = decode(&out).unwrap();
    assert_eq!(Guid::from_le_bytes(info.target), KEY);
    assert_eq!(info.origin, protocol::KEY_ORIGIN_SINGLE_ECP);
    assert_eq!(info.flags, protocol::KEYS_FLAG_PARENT_PRESENT);
    assert_eq!((info.from_user_mode, info.malformed), (1, 2));
    let ctx = context(None);
    let _ = answer_query_keys(Ok(&ctx), &mut out);
    let info: HandleKeysInfo = decode(&out).unwrap();
    assert_eq!(info.flags, 0);
    assert_eq!(
        answer_query_keys(Err(NtStatus::INVALID_HANDLE), &mut out),
        Completion::fail(NtStatus::INVALID_HANDLE)
    );
    assert_eq!(
        answer_query_keys(Ok(&ctx), &mut [0u8; 10]),
        Completion::fail(NtStatus::BUFFER_TOO_SMALL)
    );
}

#[test]
fn inspect_needs_read_access_and_room_for_its_header() {
    use crate::file::access;
    let command = Command::Inspect {
        handle: 4,
        offset: 0,
        length: 8,
    };
    assert_eq!(handle_access(&command), access::FILE_READ_DATA);
    assert_eq!(
        handle_access(&Command::QueryKeys { handle: 4 }),
        0,
        "QUERY_KEYS asks for nothing beyond holding the handle"
    );
    // Less than an InspectOutput (16 bytes): too small, as the other answers are.
    assert_eq!(
        super::inspect(4, 0, 8, 15),
        Dispatch::fail(NtStatus::BUFFER_TOO_SMALL)
    );
    // The read is min(length, output length - 16); no room after the header leaves a read of 0,
    // which the filter refuses.
    for (asked, output_length, read) in [(8, 16 + 100, 8), (100, 16 + 5, 5), (100, 16, 0)] {
        assert_eq!(
            super::inspect(4, 7, asked, output_length),
            Dispatch::Act(Action::Inspect {
                handle: 4,
                offset: 7,
                length: read
            }),
            "{asked} bytes asked for into {output_length}"
        );
    }
}

#[test]
fn inspect_answer_is_header_then_the_bytes_read() {
    let mut out = [0u8; 16 + 8];
    let data = inspect_data(&mut out, 5).unwrap();
    assert_eq!(data.len(), 5);
    data.copy_from_slice(b"hello");
    assert_eq!(inspect_data(&mut out, 9), None);
    assert_eq!(answer_inspect(Ok(5), &mut out), Completion::ok(16 + 5));
    // The protocol's layout: version 1, size 16, bytes_read, reserved 0, then the data.
    assert_eq!(
        &out[..21],
        &[
            1, 0, 0, 0, 16, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, b'h', b'e', b'l', b'l', b'o'
        ]
    );
    let o: InspectOutput = decode(&out).unwrap();
    assert_eq!((o.bytes_read, o.reserved), (5, 0));
    assert_eq!(answer_inspect(Ok(0), &mut out), Completion::ok(16));
    for status in [
        NtStatus::ACCESS_DENIED,
        NtStatus::INVALID_PARAMETER,
        NtStatus::END_OF_FILE,
        NtStatus::NOT_FOUND,
    ] {
        assert_eq!(
            answer_inspect(Err(status), &mut out),
            Completion::fail(status)
        );
    }
    // More bytes than the buffer holds cannot have been read into it.
    assert_eq!(
        answer_inspect(Ok(9), &mut out),
        Completion::fail(NtStatus::BUFFER_TOO_SMALL)
    );
    assert_eq!(
        answer_inspect(Ok(0), &mut [0u8; 8]),
        Completion::fail(NtStatus::BUFFER_TOO_SMALL)
    );
}

#[test]
fn purge_request_reports_held_done_and_failed() {
    let mut out = [0u8; 24];
    let stream = StreamStatus {
        count: 1,
        held: 2,
        ..StreamStatus::default()
    };
    for (held, status, outcome, reported) in [
        (
            true,
            NtStatus::SUCCESS,
            protocol::PURGE_OUTCOME_HELD,
            NtStatus::PENDING,
        ),
        (
            false,
            NtStatus::SUCCESS,
            protocol::PURGE_OUTCOME_DONE,
            NtStatus::SUCCESS,
        ),
        (
            false,
            NtStatus::USER_MAPPED_FILE,
            protocol::PURGE_OUTCOME_FAILED,
            NtStatus::USER_MAPPED_FILE,
        ),
    ] {
        let d = answer_purge_request(
            Ok(PurgeAnswer {
                held,
                status,
                stream,
            }),
            &mut out,
        );
        assert_eq!(d, Completion::ok(24));
        let o: PurgeRequestOutput = decode(&out).unwrap();
        assert_eq!(
            (o.outcome, o.status, o.count, o.held),
            (outcome, reported.0, 1, 2)
        );
    }
}

#[test]
fn purge_status_fills_what_fits_and_says_overflow() {
    let counters = FilterCounters::default();
    let rows = |n: u64| {
        (0..n).map(|i| {
            (
                i + 100,
                StreamStatus {
                    count: u32::try_from(i).unwrap(),
                    held: 1,
                    ..StreamStatus::default()
                },
            )
        })
    };
    let head = size_of::<PurgeStatusHeader>();
    let row = size_of::<PurgeStreamEntry>();
    let mut out = [0u8; 56 + 2 * 40 + 7];
    assert_eq!(
        answer_purge_status(&counters, rows(2), &mut out),
        Completion::ok(head + 2 * row)
    );
    let d = answer_purge_status(&counters, rows(3), &mut out);
    assert_eq!(
        d,
        Completion {
            status: NtStatus::BUFFER_OVERFLOW,
            information: head + 2 * row
        }
    );
    let h: PurgeStatusHeader = decode(&out).unwrap();
    assert_eq!(
        (h.streams_total, h.returned, h.held_total, h.windows_open),
        (3, 2, 3, 2)
    );
    let (second, _) = PurgeStreamEntry::read_from_prefix(&out[head + row..]).unwrap();
    assert_eq!((second.stream_id, second.count), (101, 1));
    assert_eq!(
        answer_purge_status(&counters, rows(1), &mut [0u8; 8]),
        Completion::fail(NtStatus::BUFFER_TOO_SMALL)
    );
    let mut stats = [0u8; 144];
    assert_eq!(
        answer_filter_stats(&counters, &mut stats),
        Completion::ok(144)
    );
}
