//! The sent-request table against a plain reference model: any sequence of operations leaves
//! both agreeing on what is tracked, per owner, per cancel ID, and on which owners are live.

use std::collections::{BTreeMap, BTreeSet};

use ferrofilter_core::{CancelId, NtStatus, OwnerId, RequestId, SentTable};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Open,
    Close(usize),
    /// Track for owner `.0`; `.1` picks the cancel ID: 0 none, 1-3 that owner's group, 4 foreign.
    Track(usize, u8),
    /// Untrack a known ID (`.0` indexes every ID ever issued, so stale ones are tried too).
    Untrack(usize),
    Lookup(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => Just(Op::Open),
        1 => (0..8usize).prop_map(Op::Close),
        6 => (0..8usize, 0..5u8).prop_map(|(o, c)| Op::Track(o, c)),
        4 => (0..64usize).prop_map(Op::Untrack),
        2 => (0..64usize).prop_map(Op::Lookup),
    ]
}

/// id -> (owner, cancel id, handle); owner -> open (true) or closing (false).
#[derive(Default)]
struct Model {
    live: BTreeMap<RequestId, (OwnerId, CancelId, u32)>,
    owners: BTreeMap<OwnerId, bool>,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn table_matches_model(ops in prop::collection::vec(op(), 1..200)) {
        const CAPACITY: u32 = 16;
        let mut table = SentTable::<u32>::with_capacity(CAPACITY).unwrap();
        let mut model = Model::default();
        let mut owners: Vec<OwnerId> = Vec::new();
        let mut issued: Vec<RequestId> = Vec::new();
        let mut next_handle = 0u32;

        for op in ops {
            match op {
                Op::Open => {
                    let id = table.open_owner().unwrap();
                    prop_assert!(!model.owners.contains_key(&id));
                    model.owners.insert(id, true);
                    owners.push(id);
                }
                Op::Close(i) => {
                    let Some(&owner) = owners.get(i) else { continue };
                    let result = table.begin_close(owner);
                    match model.owners.get(&owner).copied() {
                        Some(true) => {
                            let out = model.live.values().filter(|v| v.0 == owner).count();
                            prop_assert_eq!(result, Ok(u32::try_from(out).unwrap()));
                            if out == 0 {
                                model.owners.remove(&owner);
                            } else {
                                model.owners.insert(owner, false);
                            }
                        }
                        Some(false) => prop_assert_eq!(result, Err(NtStatus::DELETE_PENDING)),
                        None => prop_assert_eq!(result, Err(NtStatus::INVALID_HANDLE)),
                    }
                }
                Op::Track(i, pick) => {
                    let Some(&owner) = owners.get(i) else { continue };
                    let cancel_id = match pick {
                        0 => CancelId::NONE,
                        1..=3 => CancelId::new(owner.partial(), u64::from(pick)),
                        _ => CancelId::new(owner.partial().wrapping_add(1), 1),
                    };
                    next_handle += 1;
                    let result = table.track(owner, next_handle, cancel_id);
                    let expected = match model.owners.get(&owner) {
                        None => Err(NtStatus::INVALID_HANDLE),
                        Some(false) => Err(NtStatus::DELETE_PENDING),
                        Some(true) if pick == 4 => Err(NtStatus::INVALID_PARAMETER),
                        Some(true) if model.live.len() == CAPACITY as usize => {
                            Err(NtStatus::INSUFFICIENT_RESOURCES)
                        }
                        Some(true) => Ok(()),
                    };
                    match (result, expected) {
                        (Ok(id), Ok(())) => {
                            prop_assert!(!model.live.contains_key(&id), "ID reused while live");
                            prop_assert!(!issued.contains(&id), "ID issued twice");
                            model.live.insert(id, (owner, cancel_id, next_handle));
                            issued.push(id);
                        }
                        (Err(got), Err(want)) => prop_assert_eq!(got, want),
                        (got, want) => prop_assert!(false, "track: got {got:?}, want {want:?}"),
                    }
                }
                Op::Untrack(i) => {
                    let Some(&id) = issued.get(i) else { continue };
                    let removed = table.untrack(id);
                    match model.live.remove(&id) {
                        Some((owner, cancel_id, handle)) => {
                            let removed = removed.unwrap();
                            prop_assert_eq!(removed.handle, handle);
                            prop_assert_eq!(removed.owner, owner);
                            prop_assert_eq!(removed.cancel_id, cancel_id);
                            let drained = !model.live.values().any(|v| v.0 == owner);
                            let closing = model.owners.get(&owner) == Some(&false);
                            prop_assert_eq!(removed.owner_released, drained && closing);
                            if drained && closing {
                                model.owners.remove(&owner);
                            }
                        }
                        None => prop_assert!(removed.is_none(), "stale ID found something"),
                    }
                }
                Op::Lookup(i) => {
                    let Some(&id) = issued.get(i) else { continue };
                    prop_assert_eq!(table.get(id), model.live.get(&id).map(|v| v.2));
                    prop_assert_eq!(table.owner_of(id), model.live.get(&id).map(|v| v.0));
                }
            }

            // After every step: sizes, groups and owner lists agree.
            prop_assert_eq!(table.len() as usize, model.live.len());
            prop_assert_eq!(table.owners_live() as usize, model.owners.len());
            let groups: BTreeSet<CancelId> =
                model.live.values().map(|v| v.1).filter(|c| !c.is_none()).collect();
            for group in groups {
                let want: BTreeSet<RequestId> =
                    model.live.iter().filter(|(_, v)| v.1 == group).map(|(k, _)| *k).collect();
                let mut got = BTreeSet::new();
                table.for_each_in_group(group, |id, _| {
                    got.insert(id);
                });
                prop_assert_eq!(table.group_len(group) as usize, want.len());
                prop_assert_eq!(got, want);
            }
            for &owner in model.owners.keys() {
                let want: BTreeSet<RequestId> =
                    model.live.iter().filter(|(_, v)| v.0 == owner).map(|(k, _)| *k).collect();
                let mut got = BTreeSet::new();
                table.for_each_of_owner(owner, |row| {
                    got.insert(row.id);
                });
                prop_assert_eq!(table.owner_outstanding(owner) as usize, want.len());
                prop_assert_eq!(got, want);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// A walk over a group taken in batches, with requests completing and joining between
    /// batches, visits each request tracked before it began and still live when reached exactly
    /// once, and nothing tracked after it began.
    #[test]
    fn a_batched_group_walk_sees_each_earlier_member_once(
        initial in 1..40u32,
        batch in 1..5usize,
        churn in prop::collection::vec((any::<bool>(), 0..64usize), 0..40),
    ) {
        use ferrofilter_core::tracker::Cursor;
        let mut table = SentTable::<u32>::with_capacity(128).unwrap();
        let owner = table.open_owner().unwrap();
        let group = CancelId::new(owner.partial(), 3);
        let mut live: Vec<(RequestId, u32)> =
            (0..initial).map(|n| (table.track(owner, n, group).unwrap(), n)).collect();
        let before: BTreeSet<u32> = (0..initial).collect();
        let mut completed = BTreeSet::new();
        let mut seen = Vec::new();
        let mut cursor = Cursor::new();
        let mut churn = churn.into_iter();
        let mut next_handle = 1000;
        loop {
            let mut taken = 0;
            let more = table.walk_group(owner, group, &mut cursor, &mut |row| {
                seen.push(row.handle);
                taken += 1;
                taken < batch
            });
            if !more {
                break;
            }
            if let Some((complete, pick)) = churn.next() {
                if complete && !live.is_empty() {
                    let (id, handle) = live.remove(pick % live.len());
                    table.untrack(id).unwrap();
                    completed.insert(handle);
                } else {
                    live.push((table.track(owner, next_handle, group).unwrap(), next_handle));
                    next_handle += 1;
                }
            }
        }
        let seen_set: BTreeSet<u32> = seen.iter().copied().collect();
        prop_assert_eq!(seen_set.len(), seen.len(), "visited twice: {:?}", seen);
        prop_assert!(seen_set.is_subset(&before), "visited a late joiner: {:?}", seen);
        let missed: Vec<u32> = before.difference(&seen_set).filter(|h| !completed.contains(h)).copied().collect();
        prop_assert!(missed.is_empty(), "missed {:?}", missed);
        prop_assert!(cursor.is_done());
    }
}
