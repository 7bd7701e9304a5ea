//! The names a request and an owner go by outside the table.

use core::fmt;

/// Names a tracked request to the outside: slot index and generation. A stale ID finds nothing,
/// and no kernel address ever leaves the driver.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct RequestId(pub u64);

impl RequestId {
    pub(super) const fn new(index: u32, generation: u32) -> Self {
        Self(((generation as u64) << 32) | index as u64)
    }

    pub(super) const fn index(self) -> u32 {
        #[expect(clippy::cast_possible_truncation, reason = "the low half is the index")]
        let index = self.0 as u32;
        index
    }

    pub(super) const fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "req#{}.{}", self.index(), self.generation())
    }
}

/// Names an owner (an open handle of the control device): its partial ID and a generation, so
/// an owner that closed is never confused with the next holder of the same partial ID.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct OwnerId(pub u64);

impl OwnerId {
    pub(super) const fn new(partial: u8, generation: u32) -> Self {
        Self(((generation as u64) << 8) | partial as u64)
    }

    /// The owner's partial cancel ID.
    #[must_use]
    pub const fn partial(self) -> u8 {
        self.0.to_le_bytes()[0]
    }

    pub(super) const fn generation(self) -> u32 {
        #[expect(
            clippy::cast_possible_truncation,
            reason = "bits 8-39 are the generation"
        )]
        let generation = (self.0 >> 8) as u32;
        generation
    }
}

impl fmt::Debug for OwnerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "owner#{:02x}.{}", self.partial(), self.generation())
    }
}
