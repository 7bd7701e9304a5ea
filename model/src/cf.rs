//! `CF_OPEN_FILE_FLAGS` (cfapi.h, Windows 10 1709+) as a model of `CfOpenFileWithOplock`.
//!
//! Each flag, from the `CF_OPEN_FILE_FLAGS` page (seed 002, REFERENCE.md §3):
//! - `EXCLUSIVE` (0x1): a share-none handle and an RH oplock (`OPLOCK_LEVEL_CACHE_READ |
//!   OPLOCK_LEVEL_CACHE_HANDLE`); a conflicting open breaks the H and the owner must close.
//! - `WRITE_ACCESS` (0x2): `FILE_READ_DATA` *and* `FILE_WRITE_DATA` (`FILE_ADD_FILE` on a
//!   directory); otherwise `FILE_READ_DATA` (`FILE_LIST_DIRECTORY`) only.
//! - `DELETE_ACCESS` (0x4): also `DELETE`.
//! - `FOREGROUND` (0x8): no oplock is requested at all.
//! - Without `EXCLUSIVE` the handle shares read, write and delete and gets an R oplock.
//!
//! The page names no other access bits, so the model adds none (what else the real call asks
//! for, e.g. `SYNCHRONIZE`, is unverified here). All 16 combinations:
//!
//! | flags | EXCL | WRITE | DELETE | FG | desired access | share mode | oplock requested |
//! |---|---|---|---|---|---|---|---|
//! | 0x0 | | | | | `FILE_READ_DATA` | read\|write\|delete | R |
//! | 0x1 | x | | | | `FILE_READ_DATA` | none | RH |
//! | 0x2 | | x | | | `FILE_READ_DATA\|FILE_WRITE_DATA` | read\|write\|delete | R |
//! | 0x3 | x | x | | | `FILE_READ_DATA\|FILE_WRITE_DATA` | none | RH |
//! | 0x4 | | | x | | `FILE_READ_DATA\|DELETE` | read\|write\|delete | R |
//! | 0x5 | x | | x | | `FILE_READ_DATA\|DELETE` | none | RH |
//! | 0x6 | | x | x | | `FILE_READ_DATA\|FILE_WRITE_DATA\|DELETE` | read\|write\|delete | R |
//! | 0x7 | x | x | x | | `FILE_READ_DATA\|FILE_WRITE_DATA\|DELETE` | none | RH |
//! | 0x8 | | | | x | `FILE_READ_DATA` | read\|write\|delete | none |
//! | 0x9 | x | | | x | `FILE_READ_DATA` | none | none |
//! | 0xA | | x | | x | `FILE_READ_DATA\|FILE_WRITE_DATA` | read\|write\|delete | none |
//! | 0xB | x | x | | x | `FILE_READ_DATA\|FILE_WRITE_DATA` | none | none |
//! | 0xC | | | x | x | `FILE_READ_DATA\|DELETE` | read\|write\|delete | none |
//! | 0xD | x | | x | x | `FILE_READ_DATA\|DELETE` | none | none |
//! | 0xE | | x | x | x | `FILE_READ_DATA\|FILE_WRITE_DATA\|DELETE` | read\|write\|delete | none |
//! | 0xF | x | x | x | x | `FILE_READ_DATA\|FILE_WRITE_DATA\|DELETE` | none | none |
//!
//! `FOREGROUND | EXCLUSIVE` keeps the share-none handle but, with no oplock, nothing tells the
//! holder to close when another opener arrives: that opener simply gets a sharing violation.
//! Any bit above 0x8 is refused with [`UnknownCfFlags`] naming those bits.

use crate::oplock::{OplockLevel, access, share};
use ferrofilter_core::status::NtStatus;

/// `CF_OPEN_FILE_FLAG_NONE`.
pub const CF_OPEN_FILE_FLAG_NONE: u32 = 0x0;
/// `CF_OPEN_FILE_FLAG_EXCLUSIVE`.
pub const CF_OPEN_FILE_FLAG_EXCLUSIVE: u32 = 0x1;
/// `CF_OPEN_FILE_FLAG_WRITE_ACCESS`.
pub const CF_OPEN_FILE_FLAG_WRITE_ACCESS: u32 = 0x2;
/// `CF_OPEN_FILE_FLAG_DELETE_ACCESS`.
pub const CF_OPEN_FILE_FLAG_DELETE_ACCESS: u32 = 0x4;
/// `CF_OPEN_FILE_FLAG_FOREGROUND`.
pub const CF_OPEN_FILE_FLAG_FOREGROUND: u32 = 0x8;
/// Every defined flag.
pub const CF_OPEN_FILE_FLAGS_VALID: u32 = CF_OPEN_FILE_FLAG_EXCLUSIVE
    | CF_OPEN_FILE_FLAG_WRITE_ACCESS
    | CF_OPEN_FILE_FLAG_DELETE_ACCESS
    | CF_OPEN_FILE_FLAG_FOREGROUND;

/// What `CfOpenFileWithOplock` asks the file system for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CfOpen {
    /// Desired access of the open.
    pub desired_access: u32,
    /// Share mode of the open.
    pub share_access: u32,
    /// The oplock requested after the open; `None` with `FOREGROUND`. Never
    /// [`OplockLevel::None`].
    pub oplock: Option<OplockLevel>,
}

/// Flags outside [`CF_OPEN_FILE_FLAGS_VALID`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownCfFlags {
    /// Only the offending bits.
    pub bits: u32,
}

impl UnknownCfFlags {
    /// `STATUS_INVALID_PARAMETER` (`E_INVALIDARG` at the API).
    #[must_use]
    pub const fn status(self) -> NtStatus {
        NtStatus::INVALID_PARAMETER
    }
}

impl core::fmt::Display for UnknownCfFlags {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "unknown CF_OPEN_FILE_FLAGS bits 0x{:08X}", self.bits)
    }
}

impl std::error::Error for UnknownCfFlags {}

/// The open `CfOpenFileWithOplock(path, flags)` performs. Total over `u32`.
///
/// # Errors
/// [`UnknownCfFlags`] with the undefined bits when any is set.
pub const fn cf_open(flags: u32) -> Result<CfOpen, UnknownCfFlags> {
    let unknown = flags & !CF_OPEN_FILE_FLAGS_VALID;
    if unknown != 0 {
        return Err(UnknownCfFlags { bits: unknown });
    }
    let exclusive = flags & CF_OPEN_FILE_FLAG_EXCLUSIVE != 0;
    let mut desired_access = access::FILE_READ_DATA;
    if flags & CF_OPEN_FILE_FLAG_WRITE_ACCESS != 0 {
        desired_access |= access::FILE_WRITE_DATA;
    }
    if flags & CF_OPEN_FILE_FLAG_DELETE_ACCESS != 0 {
        desired_access |= access::DELETE;
    }
    let share_access = if exclusive { 0 } else { share::FILE_SHARE_ALL };
    let oplock = if flags & CF_OPEN_FILE_FLAG_FOREGROUND != 0 {
        None
    } else if exclusive {
        Some(OplockLevel::ReadHandle)
    } else {
        Some(OplockLevel::Read)
    };
    Ok(CfOpen {
        desired_access,
        share_access,
        oplock,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oplock::access::{DELETE, FILE_READ_DATA, FILE_WRITE_DATA};
    use crate::oplock::share::FILE_SHARE_ALL;
    use crate::oplock::{Ack, BreakDecision, CreateParams, Operation, StreamOplock};
    use ferrofilter_core::guid::Guid;

    #[test]
    fn all_sixteen_combinations_match_the_table() {
        let r = Some(OplockLevel::Read);
        let rh = Some(OplockLevel::ReadHandle);
        let rd = FILE_READ_DATA;
        let rw = FILE_READ_DATA | FILE_WRITE_DATA;
        let rdel = FILE_READ_DATA | DELETE;
        let all = FILE_READ_DATA | FILE_WRITE_DATA | DELETE;
        let table: [(u32, u32, Option<OplockLevel>); 16] = [
            (rd, FILE_SHARE_ALL, r),
            (rd, 0, rh),
            (rw, FILE_SHARE_ALL, r),
            (rw, 0, rh),
            (rdel, FILE_SHARE_ALL, r),
            (rdel, 0, rh),
            (all, FILE_SHARE_ALL, r),
            (all, 0, rh),
            (rd, FILE_SHARE_ALL, None),
            (rd, 0, None),
            (rw, FILE_SHARE_ALL, None),
            (rw, 0, None),
            (rdel, FILE_SHARE_ALL, None),
            (rdel, 0, None),
            (all, FILE_SHARE_ALL, None),
            (all, 0, None),
        ];
        for (flags, (desired_access, share_access, oplock)) in (0u32..).zip(table) {
            assert_eq!(
                cf_open(flags),
                Ok(CfOpen {
                    desired_access,
                    share_access,
                    oplock
                }),
                "flags 0x{flags:X}"
            );
        }
        assert_eq!(cf_open(CF_OPEN_FILE_FLAG_NONE), cf_open(0));
    }

    #[test]
    fn unknown_bits_are_named() {
        assert_eq!(cf_open(0x10), Err(UnknownCfFlags { bits: 0x10 }));
        assert_eq!(
            cf_open(0x8000_0001),
            Err(UnknownCfFlags { bits: 0x8000_0000 })
        );
        assert_eq!(cf_open(u32::MAX), Err(UnknownCfFlags { bits: !0xF }));
        assert_eq!(
            UnknownCfFlags { bits: 0x10 }.status(),
            NtStatus::INVALID_PARAMETER
        );
    }

    /// The behaviour the page describes, run through the oplock model.
    #[test]
    fn exclusive_handle_is_broken_by_a_conflicting_open_and_plain_one_is_not() {
        let cf_key = Guid::from_fields(0xCF, 0, 0, [0; 8]);
        let app_key = Guid::from_fields(0xA9, 0, 0, [0; 8]);
        let app_open = Operation::Create(CreateParams::open(FILE_READ_DATA, FILE_SHARE_ALL));

        // Default flags: R oplock, share-all handle. A plain open neither breaks nor conflicts.
        let plain = cf_open(CF_OPEN_FILE_FLAG_NONE).unwrap();
        let mut stream = StreamOplock::new();
        stream
            .share
            .open(plain.desired_access, plain.share_access)
            .unwrap();
        stream.request(cf_key, plain.oplock.unwrap()).unwrap();
        assert_eq!(stream.decide(app_key, &app_open), BreakDecision::NoBreak);
        // Only conflicting I/O breaks it, and that break is advisory (no acknowledgment).
        assert_eq!(
            stream.decide(app_key, &Operation::Write { paging: false }),
            BreakDecision::Break {
                from: OplockLevel::Read,
                to: OplockLevel::None,
                ack: Ack::NotRequired
            }
        );

        // EXCLUSIVE: RH on a share-none handle; the same open is a sharing conflict and breaks
        // the H, waiting for the holder to acknowledge (and close).
        let excl = cf_open(CF_OPEN_FILE_FLAG_EXCLUSIVE).unwrap();
        let mut stream = StreamOplock::new();
        stream
            .share
            .open(excl.desired_access, excl.share_access)
            .unwrap();
        stream.request(cf_key, excl.oplock.unwrap()).unwrap();
        assert_eq!(
            stream.decide(app_key, &app_open),
            BreakDecision::Break {
                from: OplockLevel::ReadHandle,
                to: OplockLevel::Read,
                ack: Ack::RequiredWait
            }
        );
    }
}
