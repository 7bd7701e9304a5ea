use super::access::*;
use super::share::*;
use super::*;
use OplockLevel as L;

const OWNER: Guid = Guid::from_fields(1, 1, 1, [1; 8]);
const OTHER: Guid = Guid::from_fields(2, 2, 2, [2; 8]);

fn held(level: OplockLevel) -> StreamOplock {
    let mut s = StreamOplock::new();
    s.request(OWNER, level).unwrap();
    s
}

fn brk(from: OplockLevel, to: OplockLevel, ack: Ack) -> BreakDecision {
    BreakDecision::Break { from, to, ack }
}

fn create(access: u32, share: u32, disposition: CreateDisposition) -> Operation {
    Operation::Create(CreateParams {
        desired_access: access,
        share_access: share,
        disposition,
        reserve_opfilter: false,
    })
}

#[test]
fn constants_match_the_headers() {
    assert_eq!(FILE_READ_DATA, 0x1);
    assert_eq!(FILE_WRITE_DATA, 0x2);
    assert_eq!(FILE_APPEND_DATA, 0x4);
    assert_eq!(FILE_EXECUTE, 0x20);
    assert_eq!(FILE_READ_ATTRIBUTES, 0x80);
    assert_eq!(FILE_WRITE_ATTRIBUTES, 0x100);
    assert_eq!(DELETE, 0x1_0000);
    assert_eq!(SYNCHRONIZE, 0x10_0000);
    assert_eq!(FILE_RESERVE_OPFILTER, 0x10_0000);
    assert_eq!(
        (FILE_SHARE_READ, FILE_SHARE_WRITE, FILE_SHARE_DELETE),
        (1, 2, 4)
    );
    for (i, d) in CreateDisposition::ALL.iter().enumerate() {
        assert_eq!(CreateDisposition::from_u32(*d as u32), Ok(*d));
        assert_eq!(*d as usize, i);
    }
    assert_eq!(CreateDisposition::from_u32(6), Err(InvalidDisposition(6)));
    assert_eq!(
        CreateDisposition::from_create_options(0x0500_0040),
        Ok(CreateDisposition::OverwriteIf)
    );
    assert_eq!(InvalidDisposition(9).status(), NtStatus::INVALID_PARAMETER);
}

#[test]
fn levels_round_trip_through_cache_bits() {
    for bits in 0..16 {
        match OplockLevel::from_caching(bits) {
            Ok(level) => assert_eq!(level.caching(), bits),
            Err(InvalidLevel(b)) => assert_eq!(b, bits),
        }
    }
    assert_eq!(OplockLevel::from_caching(3), Ok(L::ReadHandle));
    assert_eq!(OplockLevel::from_caching(2), Err(InvalidLevel(2)));
    assert_eq!(OplockLevel::from_caching(6), Err(InvalidLevel(6)));
    assert!(L::Batch.is_legacy() && !L::ReadWriteHandle.is_legacy());
    assert!(L::Level1.caches_writes() && !L::ReadHandle.caches_writes());
}

#[test]
fn same_key_never_breaks() {
    for level in OplockLevel::ALL.into_iter().skip(1) {
        let s = held(level);
        for op in [
            Operation::Read,
            create(FILE_WRITE_DATA, 0, CreateDisposition::Supersede),
            Operation::Write { paging: true },
        ] {
            assert_eq!(
                s.decide(OWNER, &op),
                BreakDecision::NoBreak,
                "{level:?} {op:?}"
            );
        }
        let write = s.decide(OWNER, &Operation::Write { paging: false });
        assert_eq!(write.breaks(), level == L::Level2, "{level:?}");
    }
}

#[test]
fn attribute_only_creates_never_break_unless_reserve_opfilter() {
    let attr = ATTRIBUTE_ONLY;
    for level in OplockLevel::ALL.into_iter().skip(1) {
        let s = held(level);
        let op = create(attr, 0, CreateDisposition::Overwrite);
        assert_eq!(s.decide(OTHER, &op), BreakDecision::NoBreak);
        let op = create(0, 0, CreateDisposition::Supersede);
        assert_eq!(s.decide(OTHER, &op), BreakDecision::NoBreak);
    }
    let reserve = Operation::Create(CreateParams {
        desired_access: FILE_READ_ATTRIBUTES,
        share_access: 0,
        disposition: CreateDisposition::Open,
        reserve_opfilter: true,
    });
    assert_eq!(
        held(L::Read).decide(OTHER, &reserve),
        brk(L::Read, L::None, Ack::NotRequired)
    );
    assert_eq!(
        held(L::Batch).decide(OTHER, &reserve),
        brk(L::Batch, L::None, Ack::RequiredWait)
    );
}

#[test]
fn create_rules_per_level() {
    let open = create(FILE_READ_DATA, FILE_SHARE_ALL, CreateDisposition::Open);
    let over = create(
        FILE_READ_DATA,
        FILE_SHARE_ALL,
        CreateDisposition::OverwriteIf,
    );
    let cases = [
        (
            L::Level1,
            open,
            brk(L::Level1, L::Level2, Ack::RequiredWait),
        ),
        (L::Level1, over, brk(L::Level1, L::None, Ack::RequiredWait)),
        (L::Batch, open, brk(L::Batch, L::Level2, Ack::RequiredWait)),
        (L::Level2, open, BreakDecision::NoBreak),
        (L::Level2, over, brk(L::Level2, L::None, Ack::NotRequired)),
        (L::Read, open, BreakDecision::NoBreak),
        (L::Read, over, brk(L::Read, L::None, Ack::NotRequired)),
        (L::ReadHandle, open, BreakDecision::NoBreak),
        (
            L::ReadHandle,
            over,
            brk(L::ReadHandle, L::None, Ack::RequiredNoWait),
        ),
        (
            L::ReadWrite,
            open,
            brk(L::ReadWrite, L::Read, Ack::RequiredWait),
        ),
        (
            L::ReadWrite,
            over,
            brk(L::ReadWrite, L::None, Ack::RequiredWait),
        ),
        (
            L::ReadWriteHandle,
            open,
            brk(L::ReadWriteHandle, L::ReadHandle, Ack::RequiredWait),
        ),
        (
            L::ReadWriteHandle,
            over,
            brk(L::ReadWriteHandle, L::None, Ack::RequiredWait),
        ),
    ];
    for (level, op, expected) in cases {
        assert_eq!(held(level).decide(OTHER, &op), expected, "{level:?} {op:?}");
    }
    for d in [CreateDisposition::Create, CreateDisposition::OpenIf] {
        let op = create(FILE_READ_DATA, FILE_SHARE_ALL, d);
        assert_eq!(held(L::Read).decide(OTHER, &op), BreakDecision::NoBreak);
    }
    for d in [CreateDisposition::Supersede, CreateDisposition::Overwrite] {
        let op = create(FILE_READ_DATA, FILE_SHARE_ALL, d);
        assert!(held(L::Read).decide(OTHER, &op).breaks());
    }
}

#[test]
fn sharing_violation_breaks_handle_caching() {
    // The owner's handle reads and shares read only.
    let mut rh = held(L::ReadHandle);
    rh.share.open(FILE_READ_DATA, FILE_SHARE_READ).unwrap();
    let writer = create(FILE_WRITE_DATA, FILE_SHARE_ALL, CreateDisposition::Open);
    assert_eq!(
        rh.decide(OTHER, &writer),
        brk(L::ReadHandle, L::Read, Ack::RequiredWait)
    );
    let reader = create(FILE_READ_DATA, FILE_SHARE_ALL, CreateDisposition::Open);
    assert_eq!(rh.decide(OTHER, &reader), BreakDecision::NoBreak);
    let over = create(
        FILE_WRITE_DATA,
        FILE_SHARE_ALL,
        CreateDisposition::Overwrite,
    );
    assert_eq!(
        rh.decide(OTHER, &over),
        brk(L::ReadHandle, L::None, Ack::RequiredWait)
    );

    let mut rwh = held(L::ReadWriteHandle);
    rwh.share.open(FILE_READ_DATA | FILE_WRITE_DATA, 0).unwrap();
    assert_eq!(
        rwh.decide(OTHER, &reader),
        brk(L::ReadWriteHandle, L::ReadWrite, Ack::RequiredWait)
    );
}

#[test]
fn read_breaks_only_write_caching_levels() {
    let expected = [
        (L::None, BreakDecision::NoBreak),
        (L::Level1, brk(L::Level1, L::Level2, Ack::RequiredWait)),
        (L::Batch, brk(L::Batch, L::Level2, Ack::RequiredWait)),
        (L::Level2, BreakDecision::NoBreak),
        (L::Read, BreakDecision::NoBreak),
        (L::ReadHandle, BreakDecision::NoBreak),
        (L::ReadWrite, brk(L::ReadWrite, L::Read, Ack::RequiredWait)),
        (
            L::ReadWriteHandle,
            brk(L::ReadWriteHandle, L::ReadHandle, Ack::RequiredWait),
        ),
    ];
    for (level, decision) in expected {
        let s = if level == L::None {
            StreamOplock::new()
        } else {
            held(level)
        };
        assert_eq!(s.decide(OTHER, &Operation::Read), decision, "{level:?}");
    }
}

#[test]
fn rename_and_delete_break_only_handle_caching_and_wait() {
    use OplockLevel as L;
    // (held, after a rename, after a delete disposition), from "Checking the Oplock State
    // of an IRP_MJ_SET_INFORMATION operation".
    let table = [
        (L::Level1, None, None),
        (L::Level2, None, None),
        (L::Read, None, None),
        (L::ReadWrite, None, None),
        (L::Batch, Some(L::None), None),
        (L::ReadHandle, Some(L::Read), Some(L::Read)),
        (L::ReadWriteHandle, Some(L::ReadWrite), Some(L::ReadWrite)),
    ];
    let to = |d: BreakDecision| match d {
        BreakDecision::NoBreak => None,
        BreakDecision::Break { to, ack, .. } => {
            assert_eq!(ack, Ack::RequiredWait);
            Some(to)
        }
    };
    for (held, renamed, deleted) in table {
        assert_eq!(
            to(break_for(held, false, &Operation::Rename, false)),
            renamed
        );
        assert_eq!(
            to(break_for(held, false, &Operation::Delete, false)),
            deleted
        );
        // The same key never breaks.
        assert_eq!(
            break_for(held, true, &Operation::Rename, false),
            BreakDecision::NoBreak
        );
        assert_eq!(
            break_for(held, true, &Operation::Delete, false),
            BreakDecision::NoBreak
        );
    }
}

#[test]
fn lock_control_breaks_to_none_with_the_documented_acknowledgements() {
    use OplockLevel as L;
    // (held, the ack a different key's lock operation needs, whether the same key breaks
    // it), from "Checking the Oplock State of an IRP_MJ_LOCK_CONTROL operation".
    let table = [
        (L::Level2, Ack::NotRequired, true),
        (L::Read, Ack::NotRequired, false),
        (L::ReadHandle, Ack::RequiredNoWait, false),
        (L::ReadWriteHandle, Ack::RequiredNoWait, false),
        (L::Level1, Ack::RequiredWait, false),
        (L::Batch, Ack::RequiredWait, false),
        (L::ReadWrite, Ack::RequiredWait, false),
    ];
    for (held, ack, same_key_breaks) in table {
        let broken = BreakDecision::Break {
            from: held,
            to: L::None,
            ack,
        };
        assert_eq!(
            break_for(held, false, &Operation::LockControl, false),
            broken,
            "{held:?}"
        );
        let same = break_for(held, true, &Operation::LockControl, false);
        assert_eq!(same.breaks(), same_key_breaks, "{held:?} by its own key");
    }
    assert_eq!(
        break_for(L::None, false, &Operation::LockControl, false),
        BreakDecision::NoBreak
    );
}

#[test]
fn non_paging_write_breaks_everything_to_none() {
    let expected = [
        (L::Level1, Ack::RequiredWait),
        (L::Batch, Ack::RequiredWait),
        (L::Level2, Ack::NotRequired),
        (L::Read, Ack::NotRequired),
        (L::ReadHandle, Ack::RequiredNoWait),
        (L::ReadWrite, Ack::RequiredWait),
        (L::ReadWriteHandle, Ack::RequiredWait),
    ];
    for (level, ack) in expected {
        let s = held(level);
        assert_eq!(
            s.decide(OTHER, &Operation::Write { paging: false }),
            brk(level, L::None, ack)
        );
        assert_eq!(
            s.decide(OTHER, &Operation::Write { paging: true }),
            BreakDecision::NoBreak
        );
    }
    assert_eq!(
        StreamOplock::new().decide(OTHER, &Operation::Write { paging: false }),
        BreakDecision::NoBreak
    );
}

#[test]
fn grant_apply_and_release() {
    let mut s = StreamOplock::new();
    assert_eq!(s.request(OWNER, L::None), Err(GrantError::NothingRequested));
    s.request(OWNER, L::ReadWriteHandle).unwrap();
    assert_eq!(s.request(OTHER, L::Read), Err(GrantError::HeldByAnotherKey));
    assert_eq!(
        GrantError::HeldByAnotherKey.status(),
        NtStatus::OPLOCK_NOT_GRANTED
    );
    let d = s.decide(OTHER, &Operation::Read);
    assert!(s.apply(d));
    assert_eq!(s.level(), L::ReadHandle);
    // The same decision again is stale now.
    assert!(!s.apply(d));
    assert_eq!(s.level(), L::ReadHandle);
    let d = s.decide(OTHER, &Operation::Write { paging: false });
    assert!(s.apply(d));
    assert_eq!((s.level(), s.owner()), (L::None, None));
    s.request(OTHER, L::Read).unwrap();
    s.release(OWNER);
    assert_eq!(s.owner(), Some(OTHER));
    s.release(OTHER);
    assert_eq!(s.level(), L::None);
}

#[test]
fn share_access_follows_io_check_share_access() {
    let mut sa = ShareAccess::default();
    // Attribute-only opens are not counted and never conflict.
    sa.open(FILE_READ_ATTRIBUTES, 0).unwrap();
    assert_eq!(sa.open_count, 0);
    sa.open(FILE_READ_DATA, FILE_SHARE_READ).unwrap();
    assert!(sa.conflicts(FILE_WRITE_DATA, FILE_SHARE_ALL));
    assert!(sa.conflicts(FILE_READ_DATA, FILE_SHARE_WRITE));
    assert!(!sa.conflicts(FILE_READ_DATA, FILE_SHARE_READ));
    assert!(sa.conflicts(DELETE, FILE_SHARE_ALL));
    assert_eq!(
        sa.open(FILE_APPEND_DATA, FILE_SHARE_ALL),
        Err(NtStatus::SHARING_VIOLATION)
    );
    sa.close(FILE_READ_DATA, FILE_SHARE_READ);
    assert_eq!(sa, ShareAccess::default());
    // Unbalanced close saturates.
    sa.close(FILE_READ_DATA, FILE_SHARE_READ);
    assert_eq!(sa, ShareAccess::default());
    // An existing deleter needs FILE_SHARE_DELETE from newcomers.
    sa.open(DELETE, FILE_SHARE_READ).unwrap();
    assert!(sa.conflicts(FILE_EXECUTE, FILE_SHARE_READ));
    assert!(!sa.conflicts(FILE_EXECUTE, FILE_SHARE_READ | FILE_SHARE_DELETE));
}

#[test]
fn only_a_create_is_checked_against_share_access() {
    let mut sa = ShareAccess::default();
    sa.open(FILE_READ_DATA, FILE_SHARE_READ).unwrap();
    let writer = create(FILE_WRITE_DATA, FILE_SHARE_ALL, CreateDisposition::Open);
    let reader = create(FILE_READ_DATA, FILE_SHARE_READ, CreateDisposition::Open);
    assert!(sa.violated_by(&writer));
    assert!(!sa.violated_by(&reader));
    // The handle that does these already passed the check when it was opened.
    for op in [
        Operation::Read,
        Operation::Write { paging: false },
        Operation::Rename,
        Operation::Delete,
        Operation::LockControl,
    ] {
        assert!(!sa.violated_by(&op), "{op:?}");
    }
}
