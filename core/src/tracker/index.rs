//! The group lists and the open-addressed index from a cancel ID to its group's oldest member.

use super::{Links, List, NIL, SentTable};
use crate::cancel_id::CancelId;

/// Buckets of the group index for `capacity` slots: a power of two, at least twice as many.
pub(super) fn group_buckets(capacity: u32) -> Option<usize> {
    usize::try_from(capacity)
        .ok()?
        .checked_mul(2)?
        .checked_next_power_of_two()
}

impl<H: Copy> SentTable<H> {
    /// Makes `index` the newest member of the group whose oldest is `head`; returns its links.
    #[inline(always)]
    #[expect(
        clippy::inline_always,
        reason = "LLVM keeps it out of line; inlined, a track and untrack run fewer instructions (sim/examples/track_untrack.rs)"
    )]
    pub(super) fn join_group(&mut self, head: u32, index: u32) -> Links {
        let list = List::ByGroup as usize;
        let tail = self.slots[head as usize].links[list].prev;
        self.slots[tail as usize].links[list].next = index;
        self.slots[head as usize].links[list].prev = index;
        Links {
            prev: tail,
            next: head,
        }
    }

    /// Joins a group member's neighbours to each other; the member was not alone in it.
    #[inline(always)]
    #[expect(
        clippy::inline_always,
        reason = "LLVM keeps it out of line; inlined, a track and untrack run fewer instructions (sim/examples/track_untrack.rs)"
    )]
    pub(super) fn unlink_group(&mut self, links: Links) {
        let list = List::ByGroup as usize;
        self.slots[links.prev as usize].links[list].next = links.next;
        self.slots[links.next as usize].links[list].prev = links.prev;
    }

    /// The bucket of `cancel_id`'s group and its oldest member, or the empty bucket where the
    /// group would go and `NIL`. The index is never more than half full, so an empty bucket ends
    /// every probe.
    #[inline(always)]
    #[expect(
        clippy::inline_always,
        reason = "LLVM keeps it out of line; inlined, a track and untrack run fewer instructions (sim/examples/track_untrack.rs)"
    )]
    pub(super) fn probe(&self, cancel_id: CancelId) -> (usize, u32) {
        let mask = self.groups.len() - 1;
        let mut bucket = self.home(cancel_id);
        loop {
            let oldest = self.groups[bucket];
            if oldest == NIL || self.live(oldest).cancel_id == cancel_id {
                return (bucket, oldest);
            }
            bucket = (bucket + 1) & mask;
        }
    }

    pub(super) fn home(&self, cancel_id: CancelId) -> usize {
        // Cancel IDs differ mostly in their low bits; fold the high half in, then keep the top
        // bits of a Fibonacci multiply, which depend on every bit below them.
        let folded = cancel_id.0 ^ (cancel_id.0 >> 32);
        let hash = folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.group_shift;
        #[expect(
            clippy::cast_possible_truncation,
            reason = "below groups.len(), a usize"
        )]
        let bucket = hash as usize;
        bucket
    }

    /// Empties `hole`, moving later members of its probe run back so every probe still finds its
    /// group (deletion without tombstones, so the index never fills with them).
    pub(super) fn remove_bucket(&mut self, mut hole: usize) {
        let mask = self.groups.len() - 1;
        self.groups[hole] = NIL;
        let mut bucket = (hole + 1) & mask;
        loop {
            let oldest = self.groups[bucket];
            if oldest == NIL {
                return;
            }
            let wanted = self.home(self.live(oldest).cancel_id);
            // It may fill the hole if the hole lies on its probe path: from its home bucket to here.
            if bucket.wrapping_sub(wanted) & mask >= bucket.wrapping_sub(hole) & mask {
                self.groups[hole] = oldest;
                self.groups[bucket] = NIL;
                hole = bucket;
            }
            bucket = (bucket + 1) & mask;
        }
    }
}
