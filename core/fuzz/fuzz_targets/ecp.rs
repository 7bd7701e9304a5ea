//! Fuzzes the oplock-key ECP decoders and the per-create key policy.
//!
//! Input: the whole buffer is tried as a context of each type; then it is cut into ECP records
//! `[type selector][user-mode flag][length][context bytes...]` and resolved as one create's list.

#![no_main]

use ferrofilter_core::ecp::{
    EcpCounters, EcpEntry, GUID_ECP_DUAL_OPLOCK_KEY, GUID_ECP_OPLOCK_KEY, KeyOrigin,
    decode_dual_oplock_key, decode_oplock_key, encode_dual_oplock_key, encode_oplock_key,
    resolve_create_keys,
};
use ferrofilter_core::guid::Guid;
use libfuzzer_sys::fuzz_target;

const UNIQUE: Guid = Guid::from_fields(0xFFFF_FFFF, 0xFFFF, 0xFFFF, [0xFF; 8]);

fuzz_target!(|data: &[u8]| {
    if let Ok(ecp) = decode_oplock_key(data) {
        assert_eq!(&encode_oplock_key(ecp)[..], data);
    }
    if let Ok(ecp) = decode_dual_oplock_key(data) {
        // Re-encoding keeps every field; only unset keys' bytes and the padding may differ.
        assert_eq!(
            decode_dual_oplock_key(&encode_dual_oplock_key(ecp)),
            Ok(ecp)
        );
    }

    let mut entries = Vec::new();
    let mut rest = data;
    while let [selector, user, len, tail @ ..] = rest {
        let take = usize::from(*len).min(tail.len());
        let (context, next) = tail.split_at(take);
        let ecp_type = match selector % 3 {
            0 => GUID_ECP_OPLOCK_KEY,
            1 => GUID_ECP_DUAL_OPLOCK_KEY,
            _ => Guid::from_fields(u32::from(*selector), 0, 0, [0; 8]),
        };
        entries.push(EcpEntry {
            ecp_type,
            from_user_mode: user & 1 == 1,
            context,
        });
        rest = next;
    }
    let keys = resolve_create_keys(entries.iter().copied(), || UNIQUE);
    if keys.target_origin == KeyOrigin::Unique {
        assert_eq!(keys.target, UNIQUE);
    }
    assert_eq!(
        keys.anomalies.malformed == 0,
        keys.anomalies.first_error.is_none()
    );
    let mut counters = EcpCounters::default();
    counters.record(&keys);
    assert_eq!(counters.creates, 1);
});
