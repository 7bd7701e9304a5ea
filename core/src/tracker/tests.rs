use super::*;
use crate::forward::DEFAULT_CAPACITY;

/// What the driver's handle is: `WDFREQUEST`, a pointer.
type DriverHandle = *mut u8;

#[test]
fn a_slot_is_its_entry_and_links() {
    assert_eq!(
        size_of::<State<DriverHandle>>(),
        size_of::<Entry<DriverHandle>>()
    );
    assert_eq!(size_of::<Slot<DriverHandle>>(), 48);
    // docs/architecture.md gives the owners' share of the footprint from this.
    assert_eq!(size_of::<Owner>(), 32);
}

/// At most 64 bytes of tracker state per outstanding request at the capacity the driver
/// configures (`TABLE_CAPACITY` in driver/src/device.rs, which is `DEFAULT_CAPACITY`), and for
/// any capacity the part that grows with it stays within 64 bytes a slot.
#[test]
fn at_most_64_bytes_per_outstanding_request() {
    let per_request = bytes_per_request::<DriverHandle>(DEFAULT_CAPACITY).unwrap();
    assert!(per_request <= 64, "{per_request} bytes per request");
    let table = SentTable::<DriverHandle>::with_capacity(DEFAULT_CAPACITY).unwrap();
    assert_eq!(
        Some(table.footprint_bytes()),
        footprint_bytes::<DriverHandle>(DEFAULT_CAPACITY),
        "the computation matches what was allocated"
    );
    // Rounding the index up to a power of two costs at most four buckets a slot.
    let marginal = size_of::<Slot<DriverHandle>>() + 4 * size_of::<u32>();
    assert!(marginal <= 64, "{marginal} bytes per slot");
}

#[test]
fn the_index_survives_colliding_groups_coming_and_going() {
    // Capacity 2: four buckets, so groups collide and removal has to shift.
    let mut table = SentTable::<u32>::with_capacity(2).unwrap();
    let owner = table.open_owner().unwrap();
    for round in 0..64u64 {
        let a = CancelId::new(owner.partial(), round + 1);
        let b = CancelId::new(owner.partial(), round + 1000);
        let ia = table.track(owner, 1, a).unwrap();
        let ib = table.track(owner, 2, b).unwrap();
        assert_eq!((table.group_len(a), table.group_len(b)), (1, 1));
        let (first, second, left) = if round % 2 == 0 {
            (ia, ib, b)
        } else {
            (ib, ia, a)
        };
        table.untrack(first).unwrap();
        assert_eq!(table.group_len(left), 1, "round {round}");
        table.untrack(second).unwrap();
        assert!(table.groups.iter().all(|&b| b == NIL));
    }
}

/// The owner's record of its recent group must follow the group's oldest member as it leaves
/// and forget the group when it empties; otherwise a join links into a free slot.
#[test]
fn a_run_under_one_cancel_id_follows_its_group_as_members_leave() {
    let mut table = SentTable::<u32>::with_capacity(8).unwrap();
    let owner = table.open_owner().unwrap();
    let group = CancelId::new(owner.partial(), 5);
    let other = CancelId::new(owner.partial(), 6);
    let handles = |table: &SentTable<u32>, id| {
        let mut seen = Vec::new();
        table.for_each_in_group(id, |_, h| seen.push(h));
        seen
    };
    let first = table.track(owner, 1, group).unwrap();
    let second = table.track(owner, 2, group).unwrap();
    // The oldest leaves; the next join goes after the new oldest.
    table.untrack(first).unwrap();
    table.track(owner, 3, group).unwrap();
    assert_eq!(handles(&table, group), [2, 3]);
    // Another group in between, then back: the index is asked again.
    let elsewhere = table.track(owner, 4, other).unwrap();
    table.track(owner, 5, group).unwrap();
    assert_eq!(handles(&table, group), [2, 3, 5]);
    assert_eq!(handles(&table, other), [4]);
    table.untrack(elsewhere).unwrap();
    // Emptied and begun again, with the freed slots reused.
    table.untrack(second).unwrap();
    let mut ids = Vec::new();
    table.for_each_of_owner(owner, |row| ids.push(row.id));
    for id in ids {
        table.untrack(id).unwrap();
    }
    assert_eq!(table.group_len(group), 0);
    table.track(owner, 6, group).unwrap();
    table.track(owner, 7, group).unwrap();
    assert_eq!(handles(&table, group), [6, 7]);
    assert_eq!(table.groups.iter().filter(|&&b| b != NIL).count(), 1);
}

#[test]
fn a_batched_walk_sees_each_earlier_request_once_whatever_completes_between_batches() {
    let mut table = SentTable::<u32>::with_capacity(64).unwrap();
    let owner = table.open_owner().unwrap();
    let group = CancelId::new(owner.partial(), 5);
    let ids: Vec<RequestId> = (0..10)
        .map(|n| table.track(owner, n, group).unwrap())
        .collect();
    let mut cursor = Cursor::new();
    let mut seen = Vec::new();
    let batch = |table: &mut SentTable<u32>, cursor: &mut Cursor, seen: &mut Vec<u32>| {
        let mut taken = 0;
        table.walk_group(owner, group, cursor, &mut |row| {
            seen.push(row.handle);
            taken += 1;
            taken < 3
        })
    };
    assert!(batch(&mut table, &mut cursor, &mut seen));
    assert_eq!(seen, [0, 1, 2]);
    // The one it would resume at completes, as does one it has seen; one joins late.
    table.untrack(ids[3]).unwrap();
    table.untrack(ids[0]).unwrap();
    table.track(owner, 99, group).unwrap();
    assert!(batch(&mut table, &mut cursor, &mut seen));
    assert_eq!(seen, [0, 1, 2, 4, 5, 6]);
    table.untrack(ids[8]).unwrap();
    assert!(!batch(&mut table, &mut cursor, &mut seen));
    assert_eq!(seen, [0, 1, 2, 4, 5, 6, 7, 9]);
    assert!(cursor.is_done());
    assert!(!batch(&mut table, &mut cursor, &mut seen));
}

/// A run under one cancel ID takes `track`'s inline path, which skips the index; it must still
/// turn away a closing owner, and a stale one whose partial ID's next owner runs the same group.
#[test]
fn a_run_under_one_cancel_id_still_checks_its_owner() {
    let mut table = SentTable::<u32>::with_capacity(8).unwrap();
    let old = table.open_owner().unwrap();
    let group = CancelId::new(old.partial(), 3);
    let first = table.track(old, 1, group).unwrap();
    let second = table.track(old, 2, group).unwrap();
    assert_eq!(table.begin_close(old), Ok(2));
    assert_eq!(table.track(old, 3, group), Err(NtStatus::DELETE_PENDING));

    // Its last request completes and releases the partial ID; the next owner to get it runs a
    // group with the same cancel ID.
    assert!(!table.untrack(first).unwrap().owner_released);
    assert!(table.untrack(second).unwrap().owner_released);
    for _ in 0..255 {
        table.open_owner().unwrap();
    }
    let new = table.open_owner().unwrap();
    assert_eq!(new.partial(), old.partial());
    table.track(new, 4, group).unwrap();
    table.track(new, 5, group).unwrap();
    assert_eq!(table.track(old, 6, group), Err(NtStatus::INVALID_HANDLE));
    assert_eq!(table.len(), 2, "nothing of the stale owner's was tracked");
}

#[test]
fn a_stale_owner_walks_nothing_of_the_next_owner_with_its_partial_id() {
    let mut table = SentTable::<u32>::with_capacity(8).unwrap();
    let old = table.open_owner().unwrap();
    table.begin_close(old).unwrap();
    // Take every other partial so the next owner gets the old one's again.
    for _ in 0..255 {
        table.open_owner().unwrap();
    }
    let new = table.open_owner().unwrap();
    assert_eq!(new.partial(), old.partial());
    let group = CancelId::new(new.partial(), 1);
    table.track(new, 1, group).unwrap();
    let mut visited = 0;
    table.walk_group(old, group, &mut Cursor::new(), &mut |_| {
        visited += 1;
        true
    });
    assert_eq!(visited, 0);
    table.walk_group(new, group, &mut Cursor::new(), &mut |_| {
        visited += 1;
        true
    });
    assert_eq!(visited, 1);
}

/// Owner close takes each request once: its marking walk marks what it visits, so the unload pass
/// after it takes nothing of that owner's, and a listing walk still sees every request.
#[test]
fn owner_close_marks_what_it_takes_and_unload_skips_it() {
    let mut table = SentTable::<u32>::with_capacity(8).unwrap();
    let closing = table.open_owner().unwrap();
    let other = table.open_owner().unwrap();
    for handle in 0..3 {
        table.track(closing, handle, CancelId::NONE).unwrap();
    }
    table.track(other, 7, CancelId::NONE).unwrap();
    let mut taken = Vec::new();
    let mut cursor = Cursor::marking();
    assert!(!table.walk_owner(closing, &mut cursor, &mut |row| {
        taken.push(row.handle);
        true
    }));
    assert_eq!(taken, [0, 1, 2]);

    let mut unload = Vec::new();
    assert!(!table.for_each_unmarked(&mut |row| {
        unload.push(row.handle);
        true
    }));
    assert_eq!(
        unload,
        [7],
        "only the other owner's request is left to unload"
    );

    let mut listed = Vec::new();
    let mut cursor = Cursor::new();
    table.walk_owner(closing, &mut cursor, &mut |row| {
        listed.push(row.handle);
        true
    });
    assert_eq!(listed, [0, 1, 2], "a listing walk ignores the marks");
}
