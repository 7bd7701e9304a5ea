//! Oplock-key extra create parameters (ECPs): total decoders and the per-create key policy.
//!
//! A create may carry an `OPLOCK_KEY_ECP_CONTEXT` (Windows 7; obsolete from Windows 8) or a
//! `DUAL_OPLOCK_KEY_ECP_CONTEXT` (Windows 8+), both from ntifs.h. Handles that share a key belong to
//! one client cache, and an operation on one of them never breaks an oplock held through another.
//!
//! Rules this module enforces (REFERENCE.md §4; ntifs.h `OPLOCK_KEY_ECP_CONTEXT` page):
//! - A minifilter reads an ECP that comes from above and never modifies it. The decoders and
//!   [`resolve_create_keys`] take the context as `&[u8]`, a shared borrow: nothing here *can*
//!   write to it.
//! - ECPs for which `FltIsEcpFromUserMode` is TRUE are ignored (and counted), as minispy does.
//! - A malformed ECP never fails the create: it is counted, reported, and otherwise ignored.
//! - A handle that ends up without a usable key gets a unique key of its own, which the caller
//!   supplies (core has no source of randomness).
//!
//! Layouts (x64 and x86 alike, `GUID` is 4-byte aligned):
//!
//! | struct | bytes | fields |
//! |---|---|---|
//! | `OPLOCK_KEY_ECP_CONTEXT` | 20 | `GUID OplockKey` @0, `ULONG Reserved` @16 (must be 0) |
//! | `DUAL_OPLOCK_KEY_ECP_CONTEXT` | 36 | `GUID ParentOplockKey` @0, `GUID TargetOplockKey` @16, `BOOLEAN ParentOplockKeySet` @32, `BOOLEAN TargetOplockKeySet` @33, 2 bytes tail padding |
//!
//! The two padding bytes of the dual context are not a field; a C caller that did not zero the
//! struct leaves whatever was there, so their value is ignored rather than treated as malformed.

use core::fmt;

use crate::guid::Guid;
use crate::status::NtStatus;

/// `GUID_ECP_OPLOCK_KEY` {48850596-3050-4be7-9863-fec350ce8d7f} (ntifs.h).
pub const GUID_ECP_OPLOCK_KEY: Guid = Guid::from_fields(
    0x4885_0596,
    0x3050,
    0x4be7,
    [0x98, 0x63, 0xfe, 0xc3, 0x50, 0xce, 0x8d, 0x7f],
);

/// `GUID_ECP_DUAL_OPLOCK_KEY` {41621a14-b08b-4df1-b676-a05ffdf01bea} (ntifs.h).
pub const GUID_ECP_DUAL_OPLOCK_KEY: Guid = Guid::from_fields(
    0x4162_1a14,
    0xb08b,
    0x4df1,
    [0xb6, 0x76, 0xa0, 0x5f, 0xfd, 0xf0, 0x1b, 0xea],
);

/// `sizeof(OPLOCK_KEY_ECP_CONTEXT)`.
pub const OPLOCK_KEY_ECP_CONTEXT_SIZE: usize = 20;
/// `sizeof(DUAL_OPLOCK_KEY_ECP_CONTEXT)`: 34 bytes of fields, padded to the `GUID` alignment of 4.
pub const DUAL_OPLOCK_KEY_ECP_CONTEXT_SIZE: usize = 36;

/// Offset of `Reserved` in `OPLOCK_KEY_ECP_CONTEXT`.
const RESERVED_OFFSET: usize = 16;
/// Offset of `TargetOplockKey` in `DUAL_OPLOCK_KEY_ECP_CONTEXT`.
const TARGET_OFFSET: usize = 16;
/// Offset of `ParentOplockKeySet`.
const PARENT_SET_OFFSET: usize = 32;
/// Offset of `TargetOplockKeySet`.
const TARGET_SET_OFFSET: usize = 33;

/// A decoded `OPLOCK_KEY_ECP_CONTEXT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OplockKeyEcp {
    /// `OplockKey`.
    pub key: Guid,
}

/// A decoded `DUAL_OPLOCK_KEY_ECP_CONTEXT`; a key is `Some` only when its `...Set` flag is 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DualOplockKeyEcp {
    /// `ParentOplockKey` when `ParentOplockKeySet` is 1.
    pub parent: Option<Guid>,
    /// `TargetOplockKey` when `TargetOplockKeySet` is 1.
    pub target: Option<Guid>,
}

/// Which `BOOLEAN` of the dual context was neither 0 nor 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeySetFlag {
    /// `ParentOplockKeySet`.
    Parent,
    /// `TargetOplockKeySet`.
    Target,
}

/// Why an oplock-key ECP context was refused. Each malformation has its own variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EcpError {
    /// The context is smaller than the struct.
    TooShort {
        /// `sizeof` the struct.
        needed: usize,
        /// The context size given.
        got: usize,
    },
    /// The context is larger than the struct.
    TooLong {
        /// `sizeof` the struct.
        expected: usize,
        /// The context size given.
        got: usize,
    },
    /// `OPLOCK_KEY_ECP_CONTEXT.Reserved` is not zero.
    ReservedNotZero {
        /// Its value.
        value: u32,
    },
    /// A `BOOLEAN` flag of the dual context holds a value other than 0 or 1.
    BadFlag {
        /// Which flag.
        flag: KeySetFlag,
        /// Its byte.
        value: u8,
    },
    /// Both keys of the dual context are set and equal: a handle cannot be its own parent.
    SameKeyTwice {
        /// The key given twice.
        key: Guid,
    },
}

impl EcpError {
    /// An NTSTATUS describing the fault, for logs and counters. The create itself is never failed
    /// with it: a malformed ECP is ignored (see the module documentation).
    #[must_use]
    pub const fn status(self) -> NtStatus {
        match self {
            Self::TooShort { .. } => NtStatus::BUFFER_TOO_SMALL,
            Self::TooLong { .. }
            | Self::ReservedNotZero { .. }
            | Self::BadFlag { .. }
            | Self::SameKeyTwice { .. } => NtStatus::INVALID_PARAMETER,
        }
    }
}

impl fmt::Display for EcpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { needed, got } => {
                write!(f, "ECP context of {got} bytes, the struct needs {needed}")
            }
            Self::TooLong { expected, got } => {
                write!(f, "ECP context of {got} bytes, the struct has {expected}")
            }
            Self::ReservedNotZero { value } => {
                write!(f, "OPLOCK_KEY_ECP_CONTEXT.Reserved is 0x{value:08X}, not 0")
            }
            Self::BadFlag { flag, value } => {
                write!(f, "{flag:?}OplockKeySet is {value}, not 0 or 1")
            }
            Self::SameKeyTwice { key } => write!(f, "parent and target oplock keys are both {key}"),
        }
    }
}

/// Checks the context size against `sizeof` the struct; too short and too long are distinct.
fn check_size(context: &[u8], size: usize) -> Result<(), EcpError> {
    let got = context.len();
    match got.cmp(&size) {
        core::cmp::Ordering::Less => Err(EcpError::TooShort { needed: size, got }),
        core::cmp::Ordering::Greater => Err(EcpError::TooLong {
            expected: size,
            got,
        }),
        core::cmp::Ordering::Equal => Ok(()),
    }
}

/// Reads a `GUID` at `offset`; the callers have checked the size already, so `None` cannot reach
/// them, but a short read is still reported as [`EcpError::TooShort`] rather than assumed away.
fn guid_at(context: &[u8], offset: usize, size: usize) -> Result<Guid, EcpError> {
    context
        .get(offset..)
        .and_then(Guid::read_from_prefix)
        .ok_or(EcpError::TooShort {
            needed: size,
            got: context.len(),
        })
}

/// Decodes an `OPLOCK_KEY_ECP_CONTEXT` from its context bytes (the slice is the whole context, as
/// `FltGetNextExtraCreateParameter` reports its size).
///
/// # Errors
/// [`EcpError::TooShort`], [`EcpError::TooLong`] or [`EcpError::ReservedNotZero`].
pub fn decode_oplock_key(context: &[u8]) -> Result<OplockKeyEcp, EcpError> {
    check_size(context, OPLOCK_KEY_ECP_CONTEXT_SIZE)?;
    let key = guid_at(context, 0, OPLOCK_KEY_ECP_CONTEXT_SIZE)?;
    let reserved = context
        .get(RESERVED_OFFSET..OPLOCK_KEY_ECP_CONTEXT_SIZE)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, u32::from_le_bytes);
    if reserved != 0 {
        return Err(EcpError::ReservedNotZero { value: reserved });
    }
    Ok(OplockKeyEcp { key })
}

/// Reads a `BOOLEAN` that must be exactly 0 or 1.
fn flag_at(context: &[u8], offset: usize, flag: KeySetFlag) -> Result<bool, EcpError> {
    match context.get(offset).copied() {
        Some(0) => Ok(false),
        Some(1) => Ok(true),
        Some(value) => Err(EcpError::BadFlag { flag, value }),
        None => Err(EcpError::TooShort {
            needed: DUAL_OPLOCK_KEY_ECP_CONTEXT_SIZE,
            got: context.len(),
        }),
    }
}

/// Decodes a `DUAL_OPLOCK_KEY_ECP_CONTEXT` from its context bytes.
///
/// Checks, in order: size, `ParentOplockKeySet`, `TargetOplockKeySet`, then that two set keys
/// differ. Keys whose flag is 0 are dropped whatever their bytes.
///
/// # Errors
/// [`EcpError::TooShort`], [`EcpError::TooLong`], [`EcpError::BadFlag`] or
/// [`EcpError::SameKeyTwice`].
pub fn decode_dual_oplock_key(context: &[u8]) -> Result<DualOplockKeyEcp, EcpError> {
    let size = DUAL_OPLOCK_KEY_ECP_CONTEXT_SIZE;
    check_size(context, size)?;
    let parent_key = guid_at(context, 0, size)?;
    let target_key = guid_at(context, TARGET_OFFSET, size)?;
    let parent_set = flag_at(context, PARENT_SET_OFFSET, KeySetFlag::Parent)?;
    let target_set = flag_at(context, TARGET_SET_OFFSET, KeySetFlag::Target)?;
    if parent_set && target_set && parent_key == target_key {
        return Err(EcpError::SameKeyTwice { key: parent_key });
    }
    Ok(DualOplockKeyEcp {
        parent: parent_set.then_some(parent_key),
        target: target_set.then_some(target_key),
    })
}

/// Encodes an `OPLOCK_KEY_ECP_CONTEXT` (for the sim, which plays the I/O manager, and for tests).
#[must_use]
pub fn encode_oplock_key(ecp: OplockKeyEcp) -> [u8; OPLOCK_KEY_ECP_CONTEXT_SIZE] {
    let mut out = [0u8; OPLOCK_KEY_ECP_CONTEXT_SIZE];
    out[..16].copy_from_slice(&ecp.key.to_le_bytes());
    out
}

/// Encodes a `DUAL_OPLOCK_KEY_ECP_CONTEXT`; an absent key is written as the nil GUID, flag 0.
#[must_use]
pub fn encode_dual_oplock_key(ecp: DualOplockKeyEcp) -> [u8; DUAL_OPLOCK_KEY_ECP_CONTEXT_SIZE] {
    let mut out = [0u8; DUAL_OPLOCK_KEY_ECP_CONTEXT_SIZE];
    out[..16].copy_from_slice(&ecp.parent.unwrap_or(Guid::NIL).to_le_bytes());
    out[TARGET_OFFSET..TARGET_OFFSET + 16]
        .copy_from_slice(&ecp.target.unwrap_or(Guid::NIL).to_le_bytes());
    out[PARENT_SET_OFFSET] = u8::from(ecp.parent.is_some());
    out[TARGET_SET_OFFSET] = u8::from(ecp.target.is_some());
    out
}

/// One ECP found on a create, as the adapter reads it from the ECP list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EcpEntry<'a> {
    /// The ECP type (`FltGetNextExtraCreateParameter`'s `EcpType`).
    pub ecp_type: Guid,
    /// `FltIsEcpFromUserMode`.
    pub from_user_mode: bool,
    /// The context, `ContextSize` bytes. Borrowed shared: the filter only reads it.
    pub context: &'a [u8],
}

/// Where a handle's key came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyOrigin {
    /// A kernel-mode `DUAL_OPLOCK_KEY_ECP_CONTEXT`.
    DualOplockKeyEcp,
    /// A kernel-mode `OPLOCK_KEY_ECP_CONTEXT` (its single key is the handle's own, target key).
    OplockKeyEcp,
    /// No usable key arrived; the handle got the unique key the caller supplied.
    Unique,
}

/// Anomalies seen on one create. None of them fails the create.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CreateAnomalies {
    /// Oplock-key ECPs ignored because they came from user mode.
    pub from_user_mode: u32,
    /// Oplock-key ECPs that did not decode.
    pub malformed: u32,
    /// A second ECP of a type already seen (`FltInsertExtraCreateParameter` refuses those, so a
    /// list holding one was not built by the ECP routines); the first one wins.
    pub duplicates: u32,
    /// A usable single-key ECP was ignored because a usable dual one was present (the dual form
    /// supersedes it from Windows 8).
    pub superseded: u32,
    /// The first decode error, for the log.
    pub first_error: Option<EcpError>,
}

impl CreateAnomalies {
    /// `true` when nothing unusual was seen.
    #[must_use]
    pub const fn is_clean(&self) -> bool {
        self.from_user_mode == 0
            && self.malformed == 0
            && self.duplicates == 0
            && self.superseded == 0
    }

    fn note_error(&mut self, error: EcpError) {
        self.malformed = self.malformed.saturating_add(1);
        if self.first_error.is_none() {
            self.first_error = Some(error);
        }
    }
}

/// The oplock keys the filter records for a handle at create time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandleKeys {
    /// The handle's own (target) key; always present, [`KeyOrigin::Unique`] when none arrived.
    pub target: Guid,
    /// Where `target` came from.
    pub target_origin: KeyOrigin,
    /// The parent directory's key, only from a dual ECP with `ParentOplockKeySet`.
    pub parent: Option<Guid>,
    /// What was odd about the ECPs.
    pub anomalies: CreateAnomalies,
}

/// Decides a handle's oplock keys from the ECPs on its create.
///
/// Order of preference: a usable kernel-mode dual ECP's target key, then a usable kernel-mode
/// single-key ECP, then `unique_key()` (called at most once, and only when needed). The parent key
/// comes only from a dual ECP. ECPs of other types are not looked at.
#[must_use]
pub fn resolve_create_keys<'a, I, F>(ecps: I, unique_key: F) -> HandleKeys
where
    I: IntoIterator<Item = EcpEntry<'a>>,
    F: FnOnce() -> Guid,
{
    let mut anomalies = CreateAnomalies::default();
    // Outer Option: "an ECP of this type was seen"; inner: "and it decoded".
    let mut dual: Option<Option<DualOplockKeyEcp>> = None;
    let mut single: Option<Option<OplockKeyEcp>> = None;
    for ecp in ecps {
        let is_dual = ecp.ecp_type == GUID_ECP_DUAL_OPLOCK_KEY;
        if !is_dual && ecp.ecp_type != GUID_ECP_OPLOCK_KEY {
            continue;
        }
        if ecp.from_user_mode {
            // Why: a user-mode caller could otherwise join another client's cache and keep its
            // oplock from breaking; minispy skips these the same way.
            anomalies.from_user_mode = anomalies.from_user_mode.saturating_add(1);
            continue;
        }
        let seen_before = if is_dual {
            dual.is_some()
        } else {
            single.is_some()
        };
        if seen_before {
            anomalies.duplicates = anomalies.duplicates.saturating_add(1);
            continue;
        }
        if is_dual {
            let decoded = decode_dual_oplock_key(ecp.context);
            dual = Some(decoded.map_err(|e| anomalies.note_error(e)).ok());
        } else {
            let decoded = decode_oplock_key(ecp.context);
            single = Some(decoded.map_err(|e| anomalies.note_error(e)).ok());
        }
    }
    let dual = dual.flatten();
    let single = single.flatten();
    let parent = dual.and_then(|d| d.parent);
    let (target, target_origin) = match (dual.and_then(|d| d.target), single) {
        (Some(key), single) => {
            if single.is_some() {
                anomalies.superseded = anomalies.superseded.saturating_add(1);
            }
            (key, KeyOrigin::DualOplockKeyEcp)
        }
        (None, Some(s)) => (s.key, KeyOrigin::OplockKeyEcp),
        (None, None) => (unique_key(), KeyOrigin::Unique),
    };
    HandleKeys {
        target,
        target_origin,
        parent,
        anomalies,
    }
}

/// Running totals the driver exposes (e.g. through `GET_STATS`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EcpCounters {
    /// Creates resolved.
    pub creates: u64,
    /// Handles keyed by a dual ECP.
    pub keys_from_dual: u64,
    /// Handles keyed by a single-key ECP.
    pub keys_from_single: u64,
    /// Handles given a unique key.
    pub keys_unique: u64,
    /// Handles that also carried a parent key.
    pub parent_keys: u64,
    /// Oplock-key ECPs ignored because they came from user mode.
    pub from_user_mode: u64,
    /// Contexts smaller than their struct.
    pub too_short: u64,
    /// Contexts larger than their struct.
    pub too_long: u64,
    /// Single-key contexts with `Reserved` not zero.
    pub reserved_not_zero: u64,
    /// Dual contexts with a flag byte other than 0 or 1.
    pub bad_flag: u64,
    /// Dual contexts with the same key set twice.
    pub same_key_twice: u64,
    /// Malformed contexts in total (the sum of the five above, kept for a quick check).
    pub malformed: u64,
    /// Duplicate ECPs of one type on one create.
    pub duplicates: u64,
    /// Single-key ECPs superseded by a dual one.
    pub superseded: u64,
}

impl EcpCounters {
    /// Adds one create's outcome. Only the first decode error of a create is classified by kind;
    /// `malformed` counts them all.
    pub fn record(&mut self, keys: &HandleKeys) {
        let add = |field: &mut u64, n: u64| *field = field.saturating_add(n);
        add(&mut self.creates, 1);
        match keys.target_origin {
            KeyOrigin::DualOplockKeyEcp => add(&mut self.keys_from_dual, 1),
            KeyOrigin::OplockKeyEcp => add(&mut self.keys_from_single, 1),
            KeyOrigin::Unique => add(&mut self.keys_unique, 1),
        }
        if keys.parent.is_some() {
            add(&mut self.parent_keys, 1);
        }
        let a = &keys.anomalies;
        add(&mut self.from_user_mode, u64::from(a.from_user_mode));
        add(&mut self.malformed, u64::from(a.malformed));
        add(&mut self.duplicates, u64::from(a.duplicates));
        add(&mut self.superseded, u64::from(a.superseded));
        if let Some(error) = a.first_error {
            let field = match error {
                EcpError::TooShort { .. } => &mut self.too_short,
                EcpError::TooLong { .. } => &mut self.too_long,
                EcpError::ReservedNotZero { .. } => &mut self.reserved_not_zero,
                EcpError::BadFlag { .. } => &mut self.bad_flag,
                EcpError::SameKeyTwice { .. } => &mut self.same_key_twice,
            };
            add(field, 1);
        }
    }
}

#[cfg(test)]
mod tests;
