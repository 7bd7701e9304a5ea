use ferrofilter_model::oplock::{CreateDisposition, share};

use super::*;
use OplockLevel as L;

const A: Guid = Guid::from_fields(0xa, 0, 0, [0; 8]);
const B: Guid = Guid::from_fields(0xb, 0, 0, [0; 8]);
const C: Guid = Guid::from_fields(0xc, 0, 0, [0; 8]);
const READ_WRITE: u32 = access::FILE_READ_DATA | access::FILE_WRITE_DATA;

fn open_shared(fs: &mut FileSystem, key: Guid, access: u32, share: u32) -> FileObjectId {
    let request = CreateRequest {
        path: "f".to_owned(),
        params: CreateParams {
            disposition: CreateDisposition::OpenIf,
            ..CreateParams::open(access, share)
        },
        kind: StreamKind::File,
        delete_on_close: false,
        requiring_oplock: false,
        complete_if_oplocked: false,
    };
    let out = fs.create(&request, key);
    out.file_object.unwrap_or_else(|| panic!("{out:?}"))
}

fn open(fs: &mut FileSystem, key: Guid, access: u32) -> FileObjectId {
    open_shared(fs, key, access, share::FILE_SHARE_ALL)
}

fn request(fs: &mut FileSystem, file: FileObjectId, level: OplockLevel) -> NtStatus {
    fs.request_oplock(file, level, BreakAction::Acknowledge)
        .status
}

fn holders(fs: &FileSystem) -> Vec<(FileObjectId, OplockLevel)> {
    fs.stream("f").map_or_else(Vec::new, |s| {
        s.oplock
            .holders()
            .iter()
            .map(|h| (h.file_object, h.level))
            .collect()
    })
}

#[test]
fn read_oplocks_of_two_keys_coexist_and_a_third_keys_write_breaks_both() {
    let mut fs = FileSystem::new();
    let a = open(&mut fs, A, access::FILE_READ_DATA);
    let b = open(&mut fs, B, access::FILE_READ_DATA);
    assert_eq!(request(&mut fs, a, L::Read), NtStatus::SUCCESS);
    assert_eq!(request(&mut fs, b, L::Read), NtStatus::SUCCESS);
    assert_eq!(holders(&fs), [(a, L::Read), (b, L::Read)]);
    let w = open(&mut fs, C, READ_WRITE);
    let out = fs.write(w, 0, b"x", false, 0);
    assert_eq!(out.status, NtStatus::SUCCESS);
    let broken: Vec<_> = out
        .breaks
        .iter()
        .map(|e| (e.file_object, e.to, e.ack))
        .collect();
    assert_eq!(
        broken,
        [
            (a, L::None, Ack::NotRequired),
            (b, L::None, Ack::NotRequired)
        ]
    );
    assert!(holders(&fs).is_empty());
}

#[test]
fn a_write_breaks_only_the_holders_of_other_keys() {
    let mut fs = FileSystem::new();
    let a = open(&mut fs, A, READ_WRITE);
    let b = open(&mut fs, B, access::FILE_READ_DATA);
    assert_eq!(request(&mut fs, a, L::Read), NtStatus::SUCCESS);
    assert_eq!(request(&mut fs, b, L::ReadHandle), NtStatus::SUCCESS);
    let out = fs.write(a, 0, b"x", false, 0);
    let broken: Vec<_> = out.breaks.iter().map(|e| (e.file_object, e.from)).collect();
    assert_eq!(broken, [(b, L::ReadHandle)]);
    assert_eq!(holders(&fs), [(a, L::Read)]);
}

#[test]
fn each_holder_answers_a_break_by_its_own_action() {
    let mut fs = FileSystem::new();
    let p = open_shared(&mut fs, A, access::FILE_READ_DATA, share::FILE_SHARE_READ);
    let q = open_shared(&mut fs, B, access::FILE_READ_DATA, share::FILE_SHARE_READ);
    let closes = fs.request_oplock(p, L::ReadHandle, BreakAction::Close);
    assert_eq!(closes.status, NtStatus::SUCCESS);
    assert_eq!(request(&mut fs, q, L::ReadHandle), NtStatus::SUCCESS);
    let request = CreateRequest {
        path: "f".to_owned(),
        params: CreateParams::open(READ_WRITE, share::FILE_SHARE_ALL),
        kind: StreamKind::File,
        delete_on_close: false,
        requiring_oplock: false,
        complete_if_oplocked: false,
    };
    let out = fs.create(&request, C);
    assert_eq!(out.closed, [p]);
    let broken: Vec<_> = out
        .breaks
        .iter()
        .map(|e| (e.file_object, e.to, e.ack, e.owner_closed))
        .collect();
    assert_eq!(
        broken,
        [
            (p, L::Read, Ack::RequiredWait, true),
            (q, L::Read, Ack::RequiredWait, false)
        ]
    );
    // q kept its handle, which still denies write sharing.
    assert_eq!(out.status, NtStatus::SHARING_VIOLATION);
    assert_eq!(holders(&fs), [(q, L::Read)]);
    assert!(fs.open(p).is_none());
}

#[test]
fn read_write_needs_every_other_open_to_have_the_requesters_key() {
    for level in [L::ReadWrite, L::ReadWriteHandle] {
        let mut fs = FileSystem::new();
        let a = open(&mut fs, A, READ_WRITE);
        let b = open(&mut fs, B, access::FILE_READ_ATTRIBUTES);
        assert_eq!(request(&mut fs, a, level), NtStatus::OPLOCK_NOT_GRANTED);
        assert!(holders(&fs).is_empty());
        // Control: the refusal is the other key's open, not the level.
        let _ = fs.close(b);
        let _same_key = open(&mut fs, A, access::FILE_READ_DATA);
        assert_eq!(request(&mut fs, a, level), NtStatus::SUCCESS);
        assert_eq!(holders(&fs), [(a, level)]);
    }
}

#[test]
fn level1_and_batch_need_the_stream_to_themselves_whatever_the_key() {
    for level in [L::Level1, L::Batch] {
        let mut fs = FileSystem::new();
        let a = open(&mut fs, A, READ_WRITE);
        let same = open(&mut fs, A, access::FILE_READ_DATA);
        assert_eq!(request(&mut fs, a, level), NtStatus::OPLOCK_NOT_GRANTED);
        let _ = fs.close(same);
        assert_eq!(request(&mut fs, a, level), NtStatus::SUCCESS);
    }
}

#[test]
fn shared_requests_are_refused_beside_what_they_cannot_coexist_with() {
    // (held by another key, requested, granted) from the table.
    let cases = [
        (L::ReadWrite, L::Read, false),
        (L::ReadWriteHandle, L::ReadHandle, false),
        (L::Batch, L::Level2, false),
        (L::Level2, L::ReadHandle, false),
        (L::ReadHandle, L::Level2, false),
        (L::Level2, L::Read, true),
        (L::Read, L::Level2, true),
        (L::ReadHandle, L::Read, true),
        (L::Read, L::ReadHandle, true),
        (L::ReadHandle, L::ReadHandle, true),
    ];
    for (held, requested, granted) in cases {
        let mut fs = FileSystem::new();
        let holder = open(&mut fs, A, READ_WRITE);
        assert_eq!(
            request(&mut fs, holder, held),
            NtStatus::SUCCESS,
            "{held:?}"
        );
        // Attribute-only: the open breaks nothing, so `held` is still what the request meets.
        let asker = open(&mut fs, B, access::FILE_READ_ATTRIBUTES);
        let expected = if granted {
            NtStatus::SUCCESS
        } else {
            NtStatus::OPLOCK_NOT_GRANTED
        };
        assert_eq!(
            request(&mut fs, asker, requested),
            expected,
            "{requested:?} beside {held:?}"
        );
    }
}

#[test]
fn a_same_key_request_takes_the_oplock_over_or_is_refused() {
    let mut fs = FileSystem::new();
    let first = open(&mut fs, A, access::FILE_READ_DATA);
    let second = open(&mut fs, A, access::FILE_READ_DATA);
    let third = open(&mut fs, A, access::FILE_READ_DATA);
    assert_eq!(request(&mut fs, first, L::Read), NtStatus::SUCCESS);
    let moved = fs.request_oplock(second, L::Read, BreakAction::Acknowledge);
    assert_eq!(
        (moved.status, moved.switched),
        (NtStatus::SUCCESS, vec![first])
    );
    // R to RH by the same key: an upgrade, the R moves to the new handle.
    let upgraded = fs.request_oplock(third, L::ReadHandle, BreakAction::Acknowledge);
    assert_eq!(upgraded.switched, [second]);
    assert_eq!(holders(&fs), [(third, L::ReadHandle)]);
    // R beside an RH of the same key is refused.
    assert_eq!(
        request(&mut fs, first, L::Read),
        NtStatus::OPLOCK_NOT_GRANTED
    );
    assert_eq!(holders(&fs), [(third, L::ReadHandle)]);
}

#[test]
fn the_single_owner_rule_would_refuse_what_the_table_grants() {
    // Negative control: the model this replaces (one owner per stream, core's StreamOplock)
    // refuses a second key's R, so the coexistence tests above tell the two apart.
    let mut single = ferrofilter_model::oplock::StreamOplock::new();
    assert_eq!(single.request(A, L::Read), Ok(()));
    assert!(single.request(B, L::Read).is_err());
    let mut fs = FileSystem::new();
    let a = open(&mut fs, A, access::FILE_READ_DATA);
    let b = open(&mut fs, B, access::FILE_READ_DATA);
    assert_eq!(request(&mut fs, a, L::Read), NtStatus::SUCCESS);
    assert_eq!(request(&mut fs, b, L::Read), NtStatus::SUCCESS);
}

fn create_request(access: u32, share: u32) -> CreateRequest {
    CreateRequest::new(
        "f".to_owned(),
        CreateParams::open(access, share),
        StreamKind::File,
    )
}

#[test]
fn a_create_waits_for_a_waiting_holder_until_it_acknowledges() {
    let mut fs = FileSystem::new();
    let a = open(&mut fs, A, READ_WRITE);
    let held = fs.request_oplock(a, L::ReadWriteHandle, BreakAction::Wait);
    assert_eq!(held.status, NtStatus::SUCCESS);
    let request = create_request(access::FILE_READ_DATA, share::FILE_SHARE_ALL);
    let pended = fs.create(&request, B);
    assert_eq!(
        (
            pended.status,
            pended.waiting_for.clone(),
            pended.file_object
        ),
        (NtStatus::PENDING, vec![a], None)
    );
    let wait = pended.wait.unwrap_or_else(|| panic!("{pended:?}"));
    // Not expected from anyone else; acknowledging above the break's level is refused.
    let other = open(&mut fs, A, access::FILE_READ_DATA);
    assert_eq!(
        fs.acknowledge(other, None).status,
        NtStatus::INVALID_OPLOCK_PROTOCOL
    );
    assert_eq!(
        fs.acknowledge(a, Some(L::ReadWriteHandle)).status,
        NtStatus::INVALID_PARAMETER
    );
    let acked = fs.acknowledge(a, None);
    assert_eq!(
        (acked.status, acked.resumed),
        (NtStatus::SUCCESS, vec![wait])
    );
    assert_eq!(holders(&fs), [(a, L::ReadHandle)]);
    assert_eq!(fs.resume_create(&request, B).status, NtStatus::SUCCESS);
    // The break is over: a second acknowledgment is a protocol error.
    assert_eq!(
        fs.acknowledge(a, None).status,
        NtStatus::INVALID_OPLOCK_PROTOCOL
    );
}

#[test]
fn a_sharing_conflict_waits_for_every_rh_holder_of_another_key() {
    let mut fs = FileSystem::new();
    let a = open_shared(&mut fs, A, access::FILE_READ_DATA, share::FILE_SHARE_READ);
    let b = open_shared(&mut fs, B, access::FILE_READ_DATA, share::FILE_SHARE_READ);
    for holder in [a, b] {
        let granted = fs.request_oplock(holder, L::ReadHandle, BreakAction::Wait);
        assert_eq!(granted.status, NtStatus::SUCCESS);
    }
    let request = create_request(READ_WRITE, share::FILE_SHARE_ALL);
    let pended = fs.create(&request, C);
    assert_eq!(pended.waiting_for, [a, b]);
    let wait = pended.wait.unwrap_or_else(|| panic!("{pended:?}"));
    assert!(fs.acknowledge(a, None).resumed.is_empty());
    assert_eq!(fs.close(b).resumed, [wait]);
    // a kept its handle (it acknowledged to R), which still denies write sharing.
    assert_eq!(
        fs.resume_create(&request, C).status,
        NtStatus::SHARING_VIOLATION
    );
}

#[test]
fn breaks_without_a_wait_never_pend() {
    let mut fs = FileSystem::new();
    let r = open(&mut fs, A, access::FILE_READ_DATA);
    let rh = open(&mut fs, B, access::FILE_READ_DATA);
    assert_eq!(
        fs.request_oplock(r, L::Read, BreakAction::Wait).status,
        NtStatus::SUCCESS
    );
    assert_eq!(
        fs.request_oplock(rh, L::ReadHandle, BreakAction::Wait)
            .status,
        NtStatus::SUCCESS
    );
    let w = open(&mut fs, C, READ_WRITE);
    let out = fs.write(w, 0, b"x", false, 0);
    assert_eq!((out.status, out.wait), (NtStatus::SUCCESS, None));
    // R needs no acknowledgment; the advisory RH break does, without a wait.
    assert_eq!(
        fs.acknowledge(r, None).status,
        NtStatus::INVALID_OPLOCK_PROTOCOL
    );
    assert_eq!(fs.acknowledge(rh, None).status, NtStatus::SUCCESS);
}

#[test]
fn complete_if_oplocked_goes_on_with_the_break_in_progress() {
    let mut fs = FileSystem::new();
    let a = open(&mut fs, A, READ_WRITE);
    let _ = fs.request_oplock(a, L::ReadWriteHandle, BreakAction::Wait);
    let request = CreateRequest {
        complete_if_oplocked: true,
        ..create_request(access::FILE_READ_DATA, share::FILE_SHARE_ALL)
    };
    let out = fs.create(&request, B);
    assert_eq!(
        (out.status, out.wait),
        (NtStatus::OPLOCK_BREAK_IN_PROGRESS, None)
    );
    assert!(out.file_object.is_some());
    assert_eq!(fs.acknowledge(a, None).status, NtStatus::SUCCESS);
    // Control: the same create when nothing breaks succeeds plainly.
    let again = fs.create(&request, B);
    assert_eq!(again.status, NtStatus::SUCCESS);
}

#[test]
fn open_requiring_oplock_fails_rather_than_break() {
    let mut fs = FileSystem::new();
    let a = open(&mut fs, A, READ_WRITE);
    let _ = fs.request_oplock(a, L::ReadWriteHandle, BreakAction::Acknowledge);
    let request = CreateRequest {
        requiring_oplock: true,
        ..create_request(access::FILE_READ_DATA, share::FILE_SHARE_ALL)
    };
    let refused = fs.create(&request, B);
    assert_eq!(
        (refused.status, refused.file_object, refused.breaks.len()),
        (NtStatus::CANNOT_BREAK_OPLOCK, None, 0)
    );
    assert_eq!(holders(&fs), [(a, L::ReadWriteHandle)]);
    // Control: once nothing would break, the create succeeds and grants nothing itself.
    let _ = fs.close(a);
    let opened = fs.create(&request, B);
    assert_eq!(opened.status, NtStatus::SUCCESS);
    assert!(holders(&fs).is_empty());
}

#[test]
fn closing_the_waiting_handle_cancels_its_wait() {
    let mut fs = FileSystem::new();
    let a = open(&mut fs, A, READ_WRITE);
    let _ = fs.request_oplock(a, L::ReadWrite, BreakAction::Wait);
    // The open does not wait for RW -> R; the write then meets the unacknowledged break
    // (MS-FSA 2.1.4.12) and waits for it.
    let request = CreateRequest {
        complete_if_oplocked: true,
        ..create_request(READ_WRITE, share::FILE_SHARE_ALL)
    };
    let opened = fs.create(&request, B);
    assert_eq!(opened.status, NtStatus::OPLOCK_BREAK_IN_PROGRESS);
    let w = opened.file_object.unwrap_or_else(|| panic!("{opened:?}"));
    let pended = fs.write(w, 0, b"x", false, 0);
    assert_eq!(pended.waiting_for, [a]);
    let wait = pended.wait.unwrap_or_else(|| panic!("{pended:?}"));
    assert_eq!(fs.close(w).aborted, [wait]);
    assert!(fs.close(a).resumed.is_empty());
}

#[test]
fn closing_a_holder_releases_only_its_oplock() {
    let mut fs = FileSystem::new();
    let a = open(&mut fs, A, access::FILE_READ_DATA);
    let b = open(&mut fs, B, access::FILE_READ_DATA);
    assert_eq!(request(&mut fs, a, L::ReadHandle), NtStatus::SUCCESS);
    assert_eq!(request(&mut fs, b, L::Read), NtStatus::SUCCESS);
    assert_eq!(
        fs.stream("f").map(|s| s.oplock.level()),
        Some(L::ReadHandle)
    );
    let _ = fs.close(a);
    assert_eq!(holders(&fs), [(b, L::Read)]);
    assert_eq!(fs.stream("f").map(|s| s.oplock.level()), Some(L::Read));
}
