//! Property tests of the ECP and GUID decoders: total on arbitrary input, exact on valid input,
//! round-tripping what they encode.

use ferrofilter_core::ecp::{
    DUAL_OPLOCK_KEY_ECP_CONTEXT_SIZE, DualOplockKeyEcp, EcpEntry, EcpError,
    GUID_ECP_DUAL_OPLOCK_KEY, GUID_ECP_OPLOCK_KEY, KeyOrigin, OPLOCK_KEY_ECP_CONTEXT_SIZE,
    OplockKeyEcp, decode_dual_oplock_key, decode_oplock_key, encode_dual_oplock_key,
    encode_oplock_key, resolve_create_keys,
};
use ferrofilter_core::guid::Guid;
use proptest::prelude::*;

fn guid() -> impl Strategy<Value = Guid> {
    any::<[u8; 16]>().prop_map(Guid::from_le_bytes)
}

const UNIQUE: Guid = Guid::from_fields(0xFFFF_FFFF, 0xFFFF, 0xFFFF, [0xFF; 8]);

proptest! {
    #[test]
    fn guid_bytes_round_trip(g in guid()) {
        prop_assert_eq!(Guid::from_le_bytes(g.to_le_bytes()), g);
        prop_assert_eq!(g.to_string().len(), 36);
    }

    #[test]
    fn single_key_decoder_is_exact(bytes in proptest::collection::vec(any::<u8>(), 0..48)) {
        let result = decode_oplock_key(&bytes);
        let reserved_zero = bytes.get(16..20) == Some(&[0, 0, 0, 0][..]);
        prop_assert_eq!(
            result.is_ok(),
            bytes.len() == OPLOCK_KEY_ECP_CONTEXT_SIZE && reserved_zero
        );
        match result {
            Ok(ecp) => prop_assert_eq!(&encode_oplock_key(ecp)[..], &bytes[..]),
            Err(EcpError::TooShort { needed, got }) => {
                prop_assert!(got < needed);
                prop_assert_eq!(got, bytes.len());
            }
            Err(EcpError::TooLong { expected, got }) => prop_assert!(got > expected),
            Err(EcpError::ReservedNotZero { value }) => prop_assert_ne!(value, 0),
            Err(other) => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    #[test]
    fn dual_key_decoder_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..48)) {
        if let Ok(ecp) = decode_dual_oplock_key(&bytes) {
            prop_assert_eq!(bytes.len(), DUAL_OPLOCK_KEY_ECP_CONTEXT_SIZE);
            prop_assert!(bytes[32] <= 1 && bytes[33] <= 1);
            prop_assert_eq!(ecp.parent.is_some(), bytes[32] == 1);
            prop_assert_eq!(ecp.target.is_some(), bytes[33] == 1);
            prop_assert!(ecp.parent.is_none() || ecp.parent != ecp.target);
        }
    }

    #[test]
    fn dual_key_encodings_round_trip(
        parent in proptest::option::of(guid()), target in proptest::option::of(guid()),
        padding in any::<[u8; 2]>(),
    ) {
        let ecp = DualOplockKeyEcp { parent, target };
        let mut raw = encode_dual_oplock_key(ecp);
        raw[34..].copy_from_slice(&padding);
        let decoded = decode_dual_oplock_key(&raw);
        if parent.is_some() && parent == target {
            prop_assert_eq!(decoded, Err(EcpError::SameKeyTwice { key: parent.unwrap() }));
        } else {
            prop_assert_eq!(decoded, Ok(ecp));
        }
    }

    #[test]
    fn resolve_is_total_and_ignores_user_mode(
        entries in proptest::collection::vec(
            (0u8..3, any::<bool>(), proptest::collection::vec(any::<u8>(), 0..40)),
            0..6,
        ),
    ) {
        let types = [GUID_ECP_OPLOCK_KEY, GUID_ECP_DUAL_OPLOCK_KEY, Guid::NIL];
        let list: Vec<EcpEntry<'_>> = entries
            .iter()
            .map(|(t, user, ctx)| EcpEntry {
                ecp_type: types[usize::from(*t)],
                from_user_mode: *user,
                context: ctx,
            })
            .collect();
        let before: Vec<Vec<u8>> = entries.iter().map(|e| e.2.clone()).collect();
        let keys = resolve_create_keys(list.iter().copied(), || UNIQUE);
        // The contexts are untouched.
        prop_assert_eq!(&before, &entries.iter().map(|e| e.2.clone()).collect::<Vec<_>>());
        // Dropping every user-mode ECP changes nothing but the count of them.
        let kernel_only = resolve_create_keys(list.iter().copied().filter(|e| !e.from_user_mode), || UNIQUE);
        prop_assert_eq!(keys.target, kernel_only.target);
        prop_assert_eq!(keys.parent, kernel_only.parent);
        let user_oplock_ecps = list
            .iter()
            .filter(|e| e.from_user_mode && e.ecp_type != Guid::NIL)
            .count();
        prop_assert_eq!(keys.anomalies.from_user_mode as usize, user_oplock_ecps);
        // Model: the first kernel-mode ECP of each type counts; dual target, then single key,
        // then the unique key.
        let first = |t: Guid| list.iter().find(|e| !e.from_user_mode && e.ecp_type == t);
        let dual = first(GUID_ECP_DUAL_OPLOCK_KEY).and_then(|e| decode_dual_oplock_key(e.context).ok());
        let single = first(GUID_ECP_OPLOCK_KEY).and_then(|e| decode_oplock_key(e.context).ok());
        let expected = match (dual.and_then(|d| d.target), single) {
            (Some(k), _) => (k, KeyOrigin::DualOplockKeyEcp),
            (None, Some(s)) => (s.key, KeyOrigin::OplockKeyEcp),
            (None, None) => (UNIQUE, KeyOrigin::Unique),
        };
        prop_assert_eq!((keys.target, keys.target_origin), expected);
        prop_assert_eq!(keys.parent, dual.and_then(|d| d.parent));
        prop_assert_eq!(keys.anomalies.malformed == 0, keys.anomalies.first_error.is_none());
    }

    #[test]
    fn a_valid_single_key_is_always_used_without_a_dual(key in guid()) {
        let raw = encode_oplock_key(OplockKeyEcp { key });
        let keys = resolve_create_keys(
            [EcpEntry { ecp_type: GUID_ECP_OPLOCK_KEY, from_user_mode: false, context: &raw }],
            || UNIQUE,
        );
        prop_assert_eq!((keys.target, keys.target_origin), (key, KeyOrigin::OplockKeyEcp));
    }
}
