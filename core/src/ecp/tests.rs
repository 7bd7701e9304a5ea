extern crate alloc;

use super::*;

const KEY_A: Guid = Guid::from_fields(0xAAAA_0001, 1, 2, [1, 2, 3, 4, 5, 6, 7, 8]);
const KEY_B: Guid = Guid::from_fields(0xBBBB_0002, 3, 4, [8, 7, 6, 5, 4, 3, 2, 1]);
const UNIQUE: Guid = Guid::from_fields(0x1111_1111, 5, 6, [9; 8]);

fn single(key: Guid) -> [u8; OPLOCK_KEY_ECP_CONTEXT_SIZE] {
    encode_oplock_key(OplockKeyEcp { key })
}

fn dual(parent: Option<Guid>, target: Option<Guid>) -> [u8; DUAL_OPLOCK_KEY_ECP_CONTEXT_SIZE] {
    encode_dual_oplock_key(DualOplockKeyEcp { parent, target })
}

fn kernel(ecp_type: Guid, context: &[u8]) -> EcpEntry<'_> {
    EcpEntry {
        ecp_type,
        from_user_mode: false,
        context,
    }
}

#[test]
fn ecp_guids_match_ntifs() {
    assert_eq!(
        alloc::format!("{GUID_ECP_OPLOCK_KEY}"),
        "48850596-3050-4be7-9863-fec350ce8d7f"
    );
    assert_eq!(
        alloc::format!("{GUID_ECP_DUAL_OPLOCK_KEY}"),
        "41621a14-b08b-4df1-b676-a05ffdf01bea"
    );
}

#[test]
fn single_key_decodes_and_each_fault_is_distinct() {
    let good = single(KEY_A);
    assert_eq!(decode_oplock_key(&good), Ok(OplockKeyEcp { key: KEY_A }));
    assert_eq!(
        decode_oplock_key(&good[..19]),
        Err(EcpError::TooShort {
            needed: 20,
            got: 19
        })
    );
    assert_eq!(
        decode_oplock_key(&[]),
        Err(EcpError::TooShort { needed: 20, got: 0 })
    );
    let mut long = [0u8; 21];
    long[..20].copy_from_slice(&good);
    assert_eq!(
        decode_oplock_key(&long),
        Err(EcpError::TooLong {
            expected: 20,
            got: 21
        })
    );
    let mut reserved = good;
    reserved[19] = 0x80;
    assert_eq!(
        decode_oplock_key(&reserved),
        Err(EcpError::ReservedNotZero { value: 0x8000_0000 })
    );
    // A dual context handed to the single decoder is refused by size, not misread.
    assert!(matches!(
        decode_oplock_key(&dual(Some(KEY_A), None)),
        Err(EcpError::TooLong { .. })
    ));
}

#[test]
fn dual_key_decodes_only_set_keys() {
    assert_eq!(
        decode_dual_oplock_key(&dual(Some(KEY_A), Some(KEY_B))),
        Ok(DualOplockKeyEcp {
            parent: Some(KEY_A),
            target: Some(KEY_B)
        })
    );
    // Unset keys are dropped even when their bytes are not zero.
    let mut raw = dual(Some(KEY_A), Some(KEY_B));
    raw[PARENT_SET_OFFSET] = 0;
    assert_eq!(
        decode_dual_oplock_key(&raw),
        Ok(DualOplockKeyEcp {
            parent: None,
            target: Some(KEY_B)
        })
    );
    raw[TARGET_SET_OFFSET] = 0;
    assert_eq!(
        decode_dual_oplock_key(&raw),
        Ok(DualOplockKeyEcp {
            parent: None,
            target: None
        })
    );
    // Padding is not a field.
    let mut padded = dual(None, Some(KEY_B));
    padded[34] = 0xCC;
    padded[35] = 0xCC;
    assert_eq!(
        decode_dual_oplock_key(&padded).map(|d| d.target),
        Ok(Some(KEY_B))
    );
}

#[test]
fn dual_key_faults_are_distinct() {
    let good = dual(Some(KEY_A), Some(KEY_B));
    assert_eq!(
        decode_dual_oplock_key(&good[..34]),
        Err(EcpError::TooShort {
            needed: 36,
            got: 34
        })
    );
    let mut long = [0u8; 37];
    long[..36].copy_from_slice(&good);
    assert_eq!(
        decode_dual_oplock_key(&long),
        Err(EcpError::TooLong {
            expected: 36,
            got: 37
        })
    );
    let mut bad = good;
    bad[PARENT_SET_OFFSET] = 2;
    assert_eq!(
        decode_dual_oplock_key(&bad),
        Err(EcpError::BadFlag {
            flag: KeySetFlag::Parent,
            value: 2
        })
    );
    let mut bad = good;
    bad[TARGET_SET_OFFSET] = 0xFF;
    assert_eq!(
        decode_dual_oplock_key(&bad),
        Err(EcpError::BadFlag {
            flag: KeySetFlag::Target,
            value: 0xFF
        })
    );
    assert_eq!(
        decode_dual_oplock_key(&dual(Some(KEY_A), Some(KEY_A))),
        Err(EcpError::SameKeyTwice { key: KEY_A })
    );
    // Equal bytes are fine when one of them is not set.
    let mut raw = dual(Some(KEY_A), Some(KEY_A));
    raw[PARENT_SET_OFFSET] = 0;
    assert_eq!(
        decode_dual_oplock_key(&raw),
        Ok(DualOplockKeyEcp {
            parent: None,
            target: Some(KEY_A)
        })
    );
}

#[test]
fn statuses_name_the_fault_class() {
    assert_eq!(
        EcpError::TooShort { needed: 20, got: 1 }.status(),
        NtStatus::BUFFER_TOO_SMALL
    );
    assert_eq!(
        EcpError::SameKeyTwice { key: KEY_A }.status(),
        NtStatus::INVALID_PARAMETER
    );
    assert_eq!(
        EcpError::TooLong {
            expected: 20,
            got: 21
        }
        .status(),
        NtStatus::INVALID_PARAMETER
    );
}

#[test]
fn no_ecp_gets_the_unique_key() {
    let keys = resolve_create_keys([], || UNIQUE);
    assert_eq!(keys.target, UNIQUE);
    assert_eq!(keys.target_origin, KeyOrigin::Unique);
    assert_eq!(keys.parent, None);
    assert!(keys.anomalies.is_clean());
}

#[test]
fn unique_key_is_only_drawn_when_needed() {
    let ctx = single(KEY_A);
    let keys = resolve_create_keys([kernel(GUID_ECP_OPLOCK_KEY, &ctx)], || {
        panic!("a usable key arrived; no unique key should be drawn")
    });
    assert_eq!(keys.target, KEY_A);
    assert_eq!(keys.target_origin, KeyOrigin::OplockKeyEcp);
}

#[test]
fn dual_supersedes_single_and_carries_the_parent() {
    let s = single(KEY_A);
    let d = dual(Some(KEY_A), Some(KEY_B));
    let keys = resolve_create_keys(
        [
            kernel(GUID_ECP_OPLOCK_KEY, &s),
            kernel(GUID_ECP_DUAL_OPLOCK_KEY, &d),
        ],
        || UNIQUE,
    );
    assert_eq!(keys.target, KEY_B);
    assert_eq!(keys.target_origin, KeyOrigin::DualOplockKeyEcp);
    assert_eq!(keys.parent, Some(KEY_A));
    assert_eq!(keys.anomalies.superseded, 1);
}

#[test]
fn dual_with_parent_only_keeps_parent_and_falls_back_for_target() {
    let s = single(KEY_B);
    let d = dual(Some(KEY_A), None);
    let keys = resolve_create_keys(
        [
            kernel(GUID_ECP_DUAL_OPLOCK_KEY, &d),
            kernel(GUID_ECP_OPLOCK_KEY, &s),
        ],
        || UNIQUE,
    );
    assert_eq!(keys.parent, Some(KEY_A));
    assert_eq!(keys.target, KEY_B);
    assert_eq!(keys.target_origin, KeyOrigin::OplockKeyEcp);
    assert_eq!(keys.anomalies.superseded, 0);

    let keys = resolve_create_keys([kernel(GUID_ECP_DUAL_OPLOCK_KEY, &d)], || UNIQUE);
    assert_eq!(keys.parent, Some(KEY_A));
    assert_eq!(keys.target_origin, KeyOrigin::Unique);
}

#[test]
fn user_mode_ecps_are_ignored_and_counted() {
    let d = dual(None, Some(KEY_B));
    let keys = resolve_create_keys(
        [EcpEntry {
            ecp_type: GUID_ECP_DUAL_OPLOCK_KEY,
            from_user_mode: true,
            context: &d,
        }],
        || UNIQUE,
    );
    assert_eq!(keys.target, UNIQUE);
    assert_eq!(keys.anomalies.from_user_mode, 1);
    assert_eq!(keys.anomalies.malformed, 0);
}

#[test]
fn malformed_ecps_never_fail_the_create_and_are_left_untouched() {
    let mut bad = dual(Some(KEY_A), Some(KEY_B));
    bad[TARGET_SET_OFFSET] = 7;
    let before = bad;
    let short = [0u8; 3];
    let keys = resolve_create_keys(
        [
            kernel(GUID_ECP_DUAL_OPLOCK_KEY, &bad),
            kernel(GUID_ECP_OPLOCK_KEY, &short),
        ],
        || UNIQUE,
    );
    assert_eq!(keys.target, UNIQUE);
    assert_eq!(keys.parent, None);
    assert_eq!(keys.anomalies.malformed, 2);
    assert_eq!(
        keys.anomalies.first_error,
        Some(EcpError::BadFlag {
            flag: KeySetFlag::Target,
            value: 7
        })
    );
    assert_eq!(bad, before);
}

#[test]
fn duplicates_keep_the_first_and_other_types_are_skipped() {
    let first = single(KEY_A);
    let second = single(KEY_B);
    let other = Guid::from_fields(1, 2, 3, [4; 8]);
    let keys = resolve_create_keys(
        [
            kernel(other, &[0xFF; 3]),
            kernel(GUID_ECP_OPLOCK_KEY, &first),
            kernel(GUID_ECP_OPLOCK_KEY, &second),
        ],
        || UNIQUE,
    );
    assert_eq!(keys.target, KEY_A);
    assert_eq!(keys.anomalies.duplicates, 1);
    assert_eq!(keys.anomalies.malformed, 0);
}

#[test]
fn a_malformed_first_ecp_is_not_replaced_by_a_duplicate() {
    // Why: letting a second ECP of the same type win after the first failed would let a
    // caller probe for which one the filter believes.
    let bad = [0u8; 5];
    let good = single(KEY_B);
    let keys = resolve_create_keys(
        [
            kernel(GUID_ECP_OPLOCK_KEY, &bad),
            kernel(GUID_ECP_OPLOCK_KEY, &good),
        ],
        || UNIQUE,
    );
    assert_eq!(keys.target_origin, KeyOrigin::Unique);
    assert_eq!(keys.anomalies.malformed, 1);
    assert_eq!(keys.anomalies.duplicates, 1);
}

#[test]
fn counters_classify_each_outcome() {
    let mut counters = EcpCounters::default();
    let d = dual(Some(KEY_A), Some(KEY_B));
    let s = single(KEY_A);
    let mut reserved = single(KEY_A);
    reserved[16] = 1;
    let same = dual(Some(KEY_A), Some(KEY_A));
    let long = [0u8; 40];
    let mut flag = dual(None, None);
    flag[PARENT_SET_OFFSET] = 9;
    let cases: [&[EcpEntry<'_>]; 7] = [
        &[kernel(GUID_ECP_DUAL_OPLOCK_KEY, &d)],
        &[kernel(GUID_ECP_OPLOCK_KEY, &s)],
        &[kernel(GUID_ECP_OPLOCK_KEY, &reserved)],
        &[kernel(GUID_ECP_DUAL_OPLOCK_KEY, &same)],
        &[kernel(GUID_ECP_DUAL_OPLOCK_KEY, &long)],
        &[kernel(GUID_ECP_DUAL_OPLOCK_KEY, &flag)],
        &[kernel(GUID_ECP_OPLOCK_KEY, &long[..2])],
    ];
    for ecps in cases {
        counters.record(&resolve_create_keys(ecps.iter().copied(), || UNIQUE));
    }
    assert_eq!(
        counters,
        EcpCounters {
            creates: 7,
            keys_from_dual: 1,
            keys_from_single: 1,
            keys_unique: 5,
            parent_keys: 1,
            from_user_mode: 0,
            too_short: 1,
            too_long: 1,
            reserved_not_zero: 1,
            bad_flag: 1,
            same_key_twice: 1,
            malformed: 5,
            duplicates: 0,
            superseded: 0,
        }
    );
}
