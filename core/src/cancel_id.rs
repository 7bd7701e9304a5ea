//! NDIS-style cancel IDs: a partial ID in the top byte, unique among live owners, and a counter
//! below it chosen by the owner.
//!
//! The ndisprot sample builds IDs as `partial << 56 | (counter & (MAX >> 8))`; one cancel call then
//! reaches every request tagged with that ID.

use crate::status::NtStatus;

/// Bits below the partial ID.
pub const COUNTER_MASK: u64 = u64::MAX >> 8;

/// Number of partial IDs, and so of owners that can be open at once.
pub const PARTIAL_ID_COUNT: usize = 256;

/// A cancel ID. Zero means "not tagged".
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct CancelId(pub u64);

impl CancelId {
    /// The untagged value.
    pub const NONE: Self = Self(0);

    /// Builds `partial << 56 | counter` (the counter is masked to 56 bits, as ndisprot does).
    #[must_use]
    pub const fn new(partial: u8, counter: u64) -> Self {
        Self(((partial as u64) << 56) | (counter & COUNTER_MASK))
    }

    /// The partial ID in the top byte.
    #[must_use]
    pub const fn partial(self) -> u8 {
        self.0.to_be_bytes()[0]
    }

    /// Whether this is the untagged value.
    #[must_use]
    pub const fn is_none(self) -> bool {
        self.0 == 0
    }

    /// Checks that an owner holding `partial` may tag a request with this ID.
    ///
    /// # Errors
    /// `STATUS_INVALID_PARAMETER` when the top byte is another owner's partial ID.
    pub const fn check_owner(self, partial: u8) -> Result<(), NtStatus> {
        if self.is_none() || self.partial() == partial {
            Ok(())
        } else {
            Err(NtStatus::INVALID_PARAMETER)
        }
    }
}

/// Hands out partial IDs, each to at most one live owner. O(1) allocate and free.
#[derive(Clone, Debug)]
pub struct PartialIdAllocator {
    used: [u64; PARTIAL_ID_COUNT / 64],
    next: usize,
}

impl Default for PartialIdAllocator {
    fn default() -> Self {
        Self::new()
    }
}

impl PartialIdAllocator {
    /// All 256 partial IDs free.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            used: [0; PARTIAL_ID_COUNT / 64],
            next: 0,
        }
    }

    /// Takes a free partial ID, preferring the least recently released so an ID that just came free
    /// is not handed out again at once.
    ///
    /// # Errors
    /// `STATUS_INSUFFICIENT_RESOURCES` when all 256 are in use.
    pub fn allocate(&mut self) -> Result<u8, NtStatus> {
        for step in 0..PARTIAL_ID_COUNT {
            let candidate = (self.next + step) % PARTIAL_ID_COUNT;
            if !self.is_used(candidate) {
                self.used[candidate / 64] |= 1 << (candidate % 64);
                self.next = (candidate + 1) % PARTIAL_ID_COUNT;
                return u8::try_from(candidate).map_err(|_| NtStatus::INSUFFICIENT_RESOURCES);
            }
        }
        Err(NtStatus::INSUFFICIENT_RESOURCES)
    }

    /// Returns a partial ID for reuse. Freeing a free ID is a no-op that reports `false`.
    pub fn free(&mut self, partial: u8) -> bool {
        let index = usize::from(partial);
        let was_used = self.is_used(index);
        self.used[index / 64] &= !(1 << (index % 64));
        was_used
    }

    /// How many partial IDs are held.
    #[must_use]
    pub fn in_use(&self) -> u32 {
        self.used.iter().map(|word| word.count_ones()).sum()
    }

    const fn is_used(&self, index: usize) -> bool {
        self.used[index / 64] & (1 << (index % 64)) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_layout_matches_ndisprot() {
        let id = CancelId::new(0xAB, 0x0123_4567_89AB_CDEF);
        assert_eq!(id.0, 0xAB23_4567_89AB_CDEF);
        assert_eq!(id.partial(), 0xAB);
        assert!(id.check_owner(0xAB).is_ok());
        assert_eq!(id.check_owner(0xAC), Err(NtStatus::INVALID_PARAMETER));
        assert!(CancelId::NONE.check_owner(7).is_ok());
    }

    #[test]
    fn exhausts_at_256_and_reuses_after_free() {
        let mut alloc = PartialIdAllocator::new();
        let mut seen = [false; 256];
        for _ in 0..256 {
            let p = alloc.allocate().unwrap();
            assert!(!seen[usize::from(p)], "partial {p} handed out twice");
            seen[usize::from(p)] = true;
        }
        assert_eq!(alloc.allocate(), Err(NtStatus::INSUFFICIENT_RESOURCES));
        assert!(alloc.free(42));
        assert!(!alloc.free(42));
        assert_eq!(alloc.allocate(), Ok(42));
        assert_eq!(alloc.in_use(), 256);
    }

    #[test]
    fn released_id_is_not_reused_first() {
        let mut alloc = PartialIdAllocator::new();
        let a = alloc.allocate().unwrap();
        alloc.free(a);
        assert_ne!(alloc.allocate().unwrap(), a);
    }
}
