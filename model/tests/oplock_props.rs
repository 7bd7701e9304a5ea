//! Property tests of the oplock model (`ferrofilter_model::oplock`).

use ferrofilter_core::guid::Guid;
use ferrofilter_model::oplock::{
    Ack, BreakDecision, CreateDisposition, CreateParams, Operation, OplockLevel, StreamOplock,
    access,
};
use proptest::prelude::*;

const OWNER: Guid = Guid::from_fields(0x0A, 0, 0, [0; 8]);
const OTHER: Guid = Guid::from_fields(0x0B, 0, 0, [0; 8]);

fn level() -> impl Strategy<Value = OplockLevel> {
    // Index 0 is None, which cannot be requested.
    (1..OplockLevel::ALL.len()).prop_map(|i| OplockLevel::ALL[i])
}

fn access_mask() -> impl Strategy<Value = u32> {
    // Mostly the bits the rules look at, sometimes anything at all.
    prop_oneof![
        3 => proptest::sample::subsequence(
            vec![
                access::FILE_READ_DATA,
                access::FILE_WRITE_DATA,
                access::FILE_APPEND_DATA,
                access::FILE_EXECUTE,
                access::FILE_READ_ATTRIBUTES,
                access::FILE_WRITE_ATTRIBUTES,
                access::DELETE,
                access::SYNCHRONIZE,
                access::READ_CONTROL,
            ],
            0..=4,
        )
        .prop_map(|bits| bits.into_iter().fold(0, |a, b| a | b)),
        1 => any::<u32>(),
    ]
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        (access_mask(), 0u32..8, 0usize..6, any::<bool>()).prop_map(|(a, s, d, r)| {
            Operation::Create(CreateParams {
                desired_access: a,
                share_access: s,
                disposition: CreateDisposition::ALL[d],
                reserve_opfilter: r,
            })
        }),
        Just(Operation::Read),
        any::<bool>().prop_map(|paging| Operation::Write { paging }),
    ]
}

/// A stream whose owner holds `level` and which has some opens recorded.
fn stream(level: OplockLevel, opens: &[(u32, u32)]) -> StreamOplock {
    let mut s = StreamOplock::new();
    for &(a, sh) in opens {
        // Conflicting opens are refused, exactly as they would be on a real stream.
        let _ = s.share.open(a, sh);
    }
    s.request(OWNER, level)
        .expect("a fresh stream grants any level");
    s
}

fn opens() -> impl Strategy<Value = Vec<(u32, u32)>> {
    proptest::collection::vec((access_mask(), 0u32..8), 0..4)
}

proptest! {
    #[test]
    fn the_owners_key_never_breaks_except_level2_writes(
        level in level(), op in operation(), opens in opens()
    ) {
        let s = stream(level, &opens);
        let decision = s.decide(OWNER, &op);
        let documented_exception =
            level == OplockLevel::Level2 && op == Operation::Write { paging: false };
        prop_assert_eq!(decision.breaks(), documented_exception);
    }

    #[test]
    fn a_break_only_takes_caching_away(
        level in level(), op in operation(), opens in opens()
    ) {
        let s = stream(level, &opens);
        if let BreakDecision::Break { from, to, .. } = s.decide(OTHER, &op) {
            prop_assert_eq!(from, level);
            prop_assert_ne!(to, from);
            prop_assert_eq!(to.caching() & !from.caching(), 0, "{:?} -> {:?}", from, to);
            prop_assert!(to.caching() != from.caching() || from.is_legacy() != to.is_legacy());
            // Legacy oplocks stay legacy, Windows 7 ones stay Windows 7 ones.
            prop_assert!(to == OplockLevel::None || to.is_legacy() == from.is_legacy());
        }
    }

    #[test]
    fn paging_writes_and_attribute_only_opens_never_break(
        level in level(), opens in opens(), d in 0usize..6, share in 0u32..8,
        attr in proptest::sample::subsequence(
            vec![access::FILE_READ_ATTRIBUTES, access::FILE_WRITE_ATTRIBUTES, access::SYNCHRONIZE],
            0..=3,
        ),
    ) {
        let s = stream(level, &opens);
        prop_assert_eq!(s.decide(OTHER, &Operation::Write { paging: true }), BreakDecision::NoBreak);
        let create = Operation::Create(CreateParams {
            desired_access: attr.into_iter().fold(0, |a, b| a | b),
            share_access: share,
            disposition: CreateDisposition::ALL[d],
            reserve_opfilter: false,
        });
        prop_assert_eq!(s.decide(OTHER, &create), BreakDecision::NoBreak);
    }

    #[test]
    fn destructive_opens_and_non_paging_writes_break_to_none(
        level in level(), opens in opens(), a in access_mask(), share in 0u32..8,
        d in prop_oneof![Just(0usize), Just(4usize), Just(5usize)], reserve in any::<bool>(),
    ) {
        let s = stream(level, &opens);
        let create = CreateParams {
            desired_access: a,
            share_access: share,
            disposition: CreateDisposition::ALL[d],
            reserve_opfilter: reserve,
        };
        let decision = s.decide(OTHER, &Operation::Create(create));
        if create.is_attribute_only() && !reserve {
            prop_assert_eq!(decision, BreakDecision::NoBreak);
        } else {
            let to_none = matches!(decision, BreakDecision::Break { to: OplockLevel::None, .. });
            prop_assert!(to_none, "{:?}", decision);
        }
        let write = s.decide(OTHER, &Operation::Write { paging: false });
        let to_none = matches!(write, BreakDecision::Break { to: OplockLevel::None, .. });
        prop_assert!(to_none, "{:?}", write);
    }

    #[test]
    fn reads_break_exactly_the_write_caching_levels(level in level()) {
        let decision = stream(level, &[]).decide(OTHER, &Operation::Read);
        prop_assert_eq!(decision.breaks(), level.caches_writes());
        if let BreakDecision::Break { ack, .. } = decision {
            prop_assert_eq!(ack, Ack::RequiredWait);
        }
    }

    #[test]
    fn repeated_operations_reach_a_fixed_point(
        level in level(), ops in proptest::collection::vec(operation(), 1..12), opens in opens()
    ) {
        let mut s = stream(level, &opens);
        let mut previous = s.level().caching();
        for op in ops {
            let decision = s.decide(OTHER, &op);
            prop_assert!(s.apply(decision));
            // Caching only ever shrinks under a different key's operations.
            prop_assert_eq!(s.level().caching() & !previous, 0);
            previous = s.level().caching();
            // Applying the same operation again is either quiet or shrinks further.
            let again = s.decide(OTHER, &op);
            if let BreakDecision::Break { to, .. } = again {
                prop_assert!(to.caching() & !s.level().caching() == 0);
            }
        }
        if s.level() == OplockLevel::None {
            prop_assert_eq!(s.owner(), None);
        }
    }
}
