//! The table of sent requests: O(1) track and untrack, lookup by generation-tagged ID, and
//! intrusive per-owner and per-cancel-ID lists so owner close and group cancel cost O(members).
//!
//! Everything is allocated once, by [`SentTable::with_capacity`]: a slab of slots, the 256 owners,
//! and an open-addressed index from a cancel ID to its group's oldest member. A group exists only
//! while it has members, so there are never more groups than slots, and an index with at least
//! twice as many buckets as slots is never more than half full. Nothing grows afterwards, so no
//! operation can allocate, or fail for lack of memory, under the spin lock the table lives behind.
//!
//! Each list is kept in the order requests were tracked, and every request carries that order, so
//! a walk taken in batches (one lock acquisition each, see [`Cursor`]) visits each request that was
//! tracked before it began exactly once, whatever completes or joins between batches.
//!
//! The table is plain data; the [`Forwarder`](crate::forward::Forwarder) keeps it behind the
//! adapter's spin lock and makes every kernel call outside that lock. [`SentTable::track`] and
//! [`SentTable::untrack`] are inlined into that critical section, their uncommon cases kept out of
//! line: as calls, even a table that does nothing else costs a third more (docs/architecture.md,
//! Benchmarks).

extern crate alloc;

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::cancel_id::{CancelId, PARTIAL_ID_COUNT, PartialIdAllocator};
use crate::status::NtStatus;

mod ids;
mod index;
mod walk;

pub use ids::{OwnerId, RequestId};
use index::group_buckets;
pub use walk::Cursor;

const NIL: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct Links {
    prev: u32,
    next: u32,
}

/// The two lists a request is on, as an index into its [`Links`] pair. An owner's list ends in
/// `NIL` both ways, its ends kept in the [`Owner`], so joining it reads nothing from another slot.
/// A group's is circular, the oldest member's `prev` being the newest, because the index keeps
/// only its oldest.
#[derive(Clone, Copy, Debug)]
enum List {
    ByOwner = 0,
    ByGroup = 1,
}

/// A slot's list links, outside its entry: linking and unlinking touch only plain words, with no
/// check of which variant the slot holds.
type SlotLinks = [Links; 2];

#[derive(Clone, Copy, Debug)]
struct Entry<H> {
    handle: H,
    cancel_id: CancelId,
    /// When it was tracked, table-wide; what lets a batched walk tell what it has already seen.
    seq: u64,
    generation: u32,
    owner: u8,
    /// Already taken by an owner close or unload cancel pass.
    marked: bool,
    /// The oldest of its group, the member the group index names.
    group_head: bool,
}

/// What a slot holds. The generation moves into and out of the entry so a free slot costs no
/// extra word, and `marked`'s spare bit patterns tell the variants apart: it is the size of an
/// entry.
#[derive(Clone, Copy, Debug)]
enum State<H> {
    Free { generation: u32, next_free: u32 },
    Live(Entry<H>),
}

/// One slot of the slab; a free slot's links are stale and rewritten when it is next taken.
#[derive(Clone, Copy, Debug)]
struct Slot<H> {
    links: SlotLinks,
    state: State<H>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OwnerState {
    Free,
    Open,
    /// Its handle is being cleaned up; it is released when its last request completes.
    Closing,
}

#[derive(Clone, Copy, Debug)]
struct Owner {
    generation: u32,
    state: OwnerState,
    /// Its oldest request, or `NIL`.
    head: u32,
    /// Its newest request, or `NIL`.
    tail: u32,
    outstanding: u32,
    /// The owner has opened an I/O target to forward to.
    has_target: bool,
    /// The group it last tracked a request in, or `CancelId::NONE`: a cancel ID holds its owner's
    /// partial ID, so every group has one owner, and a run of requests under one cancel ID
    /// joins its group with no probe of the index.
    recent: CancelId,
    /// That group's oldest member.
    recent_oldest: u32,
}

/// Where [`SentTable::track`] puts a request besides its owner's list.
#[derive(Clone, Copy, Debug)]
enum Join {
    /// No group: no cancel ID.
    Alone,
    /// Its group's first member, already named in the index.
    Oldest,
    /// The newest of the group whose oldest member this is.
    Newest(u32),
}

/// A free slot, the head of the free list.
#[derive(Clone, Copy, Debug)]
struct FreeSlot {
    index: u32,
    generation: u32,
    next_free: u32,
}

/// What [`SentTable::untrack`] removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Untracked<H> {
    /// The request's handle, now owned by the caller.
    pub handle: H,
    /// The owner it was forwarded for.
    pub owner: OwnerId,
    /// Its cancel ID, now cleared.
    pub cancel_id: CancelId,
    /// The owner was closing and this was its last request: its partial ID is free again.
    pub owner_released: bool,
}

/// One request visited by a walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrackedRequest<H> {
    /// Its ID.
    pub id: RequestId,
    /// Its cancel ID.
    pub cancel_id: CancelId,
    /// Its handle.
    pub handle: H,
}

/// The table of requests sent to an I/O target.
pub struct SentTable<H> {
    slots: Vec<Slot<H>>,
    free_head: u32,
    len: u32,
    /// The `seq` of the newest request tracked.
    last_seq: u64,
    /// Indexed by partial ID, so an owner is found with no bounds check.
    owners: Box<[Owner; PARTIAL_ID_COUNT]>,
    partials: PartialIdAllocator,
    /// Bucket -> slot of a group's oldest member, or `NIL`; linear probing, a power of two long.
    groups: Vec<u32>,
    /// `64 - log2(groups.len())`: the hash keeps its top bits.
    group_shift: u32,
}

/// The bytes a table for `capacity` requests with handles of type `H` holds, all of it allocated
/// by [`SentTable::with_capacity`]: the slab, the group index and the owners, plus the table
/// itself. `None` if it could not be built.
#[must_use]
pub fn footprint_bytes<H>(capacity: u32) -> Option<usize> {
    let slots = usize::try_from(capacity).ok()?;
    Some(
        size_of::<SentTable<H>>()
            + slots * size_of::<Slot<H>>()
            + group_buckets(capacity)? * size_of::<u32>()
            + PARTIAL_ID_COUNT * size_of::<Owner>(),
    )
}

/// Tracker state per outstanding request when all `capacity` slots are in use: the footprint
/// divided by the capacity, rounded up. Each request costs its slot; the group index (at most two
/// buckets per slot after rounding to a power of two, up to four) and the 256 owners are shared,
/// and counted here in full as if every slot were busy, so this is the figure at a full table.
#[must_use]
pub fn bytes_per_request<H>(capacity: u32) -> Option<usize> {
    let slots = usize::try_from(capacity).ok().filter(|&n| n > 0)?;
    Some(footprint_bytes::<H>(capacity)?.div_ceil(slots))
}

impl<H: Copy> SentTable<H> {
    /// A table for at most `capacity` outstanding requests, allocated now and never again, so
    /// nothing the table does under the spin lock allocates.
    ///
    /// # Errors
    /// `STATUS_INSUFFICIENT_RESOURCES` if the memory cannot be had; `STATUS_INVALID_PARAMETER` if
    /// `capacity` is 0 or does not fit the ID format.
    pub fn with_capacity(capacity: u32) -> Result<Self, NtStatus> {
        if capacity == 0 || capacity == NIL {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        let buckets = group_buckets(capacity).ok_or(NtStatus::INSUFFICIENT_RESOURCES)?;
        let mut slots = Vec::new();
        slots
            .try_reserve_exact(capacity as usize)
            .map_err(|_| NtStatus::INSUFFICIENT_RESOURCES)?;
        let unlinked = Links {
            prev: NIL,
            next: NIL,
        };
        slots.extend((0..capacity).map(|index| Slot {
            links: [unlinked; 2],
            state: State::Free {
                generation: 1,
                next_free: if index + 1 == capacity {
                    NIL
                } else {
                    index + 1
                },
            },
        }));
        let mut groups = Vec::new();
        groups
            .try_reserve_exact(buckets)
            .map_err(|_| NtStatus::INSUFFICIENT_RESOURCES)?;
        groups.resize(buckets, NIL);
        let mut owners = Vec::new();
        owners
            .try_reserve_exact(PARTIAL_ID_COUNT)
            .map_err(|_| NtStatus::INSUFFICIENT_RESOURCES)?;
        owners.resize(
            PARTIAL_ID_COUNT,
            Owner {
                generation: 0,
                state: OwnerState::Free,
                head: NIL,
                tail: NIL,
                outstanding: 0,
                has_target: false,
                recent: CancelId::NONE,
                recent_oldest: NIL,
            },
        );
        // Exactly PARTIAL_ID_COUNT long with no spare capacity, so neither step reallocates.
        let owners: Box<[Owner; PARTIAL_ID_COUNT]> = owners
            .into_boxed_slice()
            .try_into()
            .map_err(|_| NtStatus::INSUFFICIENT_RESOURCES)?;
        Ok(Self {
            slots,
            free_head: 0,
            len: 0,
            last_seq: 0,
            owners,
            partials: PartialIdAllocator::new(),
            groups,
            group_shift: 64 - buckets.trailing_zeros(),
        })
    }

    /// Requests tracked now.
    #[must_use]
    pub const fn len(&self) -> u32 {
        self.len
    }

    /// Whether nothing is tracked.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The most requests it can track at once.
    #[must_use]
    pub fn capacity(&self) -> u32 {
        u32::try_from(self.slots.len()).unwrap_or(u32::MAX)
    }

    /// The bytes this table holds, from what it actually allocated (see [`footprint_bytes`]).
    #[must_use]
    pub fn footprint_bytes(&self) -> usize {
        size_of::<Self>()
            + self.slots.capacity() * size_of::<Slot<H>>()
            + self.groups.capacity() * size_of::<u32>()
            + size_of_val::<[Owner; PARTIAL_ID_COUNT]>(&self.owners)
    }

    /// Owners holding a partial ID (open, or closing with requests still out).
    #[must_use]
    pub fn owners_live(&self) -> u32 {
        self.partials.in_use()
    }

    /// Registers a new owner and gives it a partial ID unique among live owners.
    ///
    /// # Errors
    /// `STATUS_INSUFFICIENT_RESOURCES` when 256 owners are live.
    pub fn open_owner(&mut self) -> Result<OwnerId, NtStatus> {
        let partial = self.partials.allocate()?;
        let owner = &mut self.owners[usize::from(partial)];
        owner.generation = owner.generation.wrapping_add(1);
        owner.state = OwnerState::Open;
        owner.head = NIL;
        owner.tail = NIL;
        owner.outstanding = 0;
        owner.has_target = false;
        owner.recent = CancelId::NONE;
        Ok(OwnerId::new(partial, owner.generation))
    }

    /// Records whether `owner` has an I/O target open.
    ///
    /// # Errors
    /// `STATUS_INVALID_HANDLE` for a stale owner, `STATUS_DELETE_PENDING` for a closing one.
    pub fn set_has_target(&mut self, owner: OwnerId, has_target: bool) -> Result<(), NtStatus> {
        match self.owner_slot(owner) {
            None => Err(NtStatus::INVALID_HANDLE),
            Some(slot) if slot.state != OwnerState::Open => Err(NtStatus::DELETE_PENDING),
            Some(_) => {
                self.owners[usize::from(owner.partial())].has_target = has_target;
                Ok(())
            }
        }
    }

    /// Whether `owner` has an I/O target open.
    #[must_use]
    pub fn has_target(&self, owner: OwnerId) -> bool {
        self.owner_slot(owner).is_some_and(|o| o.has_target)
    }

    /// Whether `owner` is open (not closing, not stale).
    #[must_use]
    pub fn is_open(&self, owner: OwnerId) -> bool {
        self.owner_slot(owner)
            .is_some_and(|o| o.state == OwnerState::Open)
    }

    /// Requests outstanding for `owner` (0 for a stale owner).
    #[must_use]
    pub fn owner_outstanding(&self, owner: OwnerId) -> u32 {
        self.owner_slot(owner).map_or(0, |o| o.outstanding)
    }

    /// Starts closing `owner`: no new requests; its partial ID is released once its last request
    /// is untracked (at once if it has none). Returns how many requests are still out.
    ///
    /// # Errors
    /// `STATUS_INVALID_HANDLE` for a stale owner, `STATUS_DELETE_PENDING` if already closing.
    pub fn begin_close(&mut self, owner: OwnerId) -> Result<u32, NtStatus> {
        let slot = self.owner_slot(owner).ok_or(NtStatus::INVALID_HANDLE)?;
        if slot.state == OwnerState::Closing {
            return Err(NtStatus::DELETE_PENDING);
        }
        let outstanding = slot.outstanding;
        if outstanding == 0 {
            self.release_owner(owner.partial());
        } else {
            self.owners[usize::from(owner.partial())].state = OwnerState::Closing;
        }
        Ok(outstanding)
    }

    /// Tracks `handle` for `owner` under `cancel_id`. O(1), and never allocates.
    ///
    /// # Errors
    /// `STATUS_INVALID_HANDLE` (stale owner), `STATUS_DELETE_PENDING` (owner closing),
    /// `STATUS_INVALID_PARAMETER` (cancel ID with another owner's partial ID),
    /// `STATUS_INSUFFICIENT_RESOURCES` (table full).
    #[inline(always)]
    #[expect(
        clippy::inline_always,
        reason = "the common case inline in the caller's critical section: see sim/benches/tracker.rs, slab_floor against slab_floor_calls"
    )]
    pub fn track(
        &mut self,
        owner: OwnerId,
        handle: H,
        cancel_id: CancelId,
    ) -> Result<RequestId, NtStatus> {
        let slot = &self.owners[usize::from(owner.partial())];
        // The owner's last group carries this owner's partial ID, so a match needs no partial-ID
        // check; the owner itself is checked next.
        let join = if cancel_id.is_none() {
            Join::Alone
        } else if slot.recent == cancel_id {
            Join::Newest(slot.recent_oldest)
        } else {
            return self.track_slow(owner, handle, cancel_id);
        };
        if slot.state != OwnerState::Open || slot.generation != owner.generation() {
            return self.track_slow(owner, handle, cancel_id);
        }
        match self.free_slot() {
            Some(free) => Ok(self.insert(free, owner.partial(), handle, cancel_id, join)),
            None => self.track_slow(owner, handle, cancel_id),
        }
    }

    /// [`track`](Self::track) when the request starts or rejoins a group the owner did not
    /// last track in, or cannot be tracked at all.
    #[inline(never)]
    fn track_slow(
        &mut self,
        owner: OwnerId,
        handle: H,
        cancel_id: CancelId,
    ) -> Result<RequestId, NtStatus> {
        let partial = owner.partial();
        match self.owner_slot(owner) {
            None => return Err(NtStatus::INVALID_HANDLE),
            Some(slot) if slot.state != OwnerState::Open => return Err(NtStatus::DELETE_PENDING),
            Some(_) => {}
        }
        cancel_id.check_owner(partial)?;
        let free = self.free_slot().ok_or(NtStatus::INSUFFICIENT_RESOURCES)?;
        let index = free.index;
        let join = if cancel_id.is_none() {
            Join::Alone
        } else {
            let (bucket, oldest) = self.probe(cancel_id);
            let owner_slot = &mut self.owners[usize::from(partial)];
            owner_slot.recent = cancel_id;
            if oldest == NIL {
                owner_slot.recent_oldest = index;
                self.groups[bucket] = index;
                Join::Oldest
            } else {
                owner_slot.recent_oldest = oldest;
                Join::Newest(oldest)
            }
        };
        Ok(self.insert(free, partial, handle, cancel_id, join))
    }

    /// The slot the next request takes, if any is free.
    #[inline(always)]
    #[expect(
        clippy::inline_always,
        reason = "part of track's common case, which is inline"
    )]
    fn free_slot(&self) -> Option<FreeSlot> {
        let index = self.free_head;
        match self.slots.get(index as usize)?.state {
            State::Free {
                generation,
                next_free,
            } => Some(FreeSlot {
                index,
                generation,
                next_free,
            }),
            State::Live(_) => None,
        }
    }

    /// Takes the free slot `free` for a request and puts it on its owner's list and, as `join`
    /// says, its group's.
    #[inline(always)]
    #[expect(
        clippy::inline_always,
        reason = "one body for track's fast and slow paths, inline in each"
    )]
    fn insert(
        &mut self,
        free: FreeSlot,
        partial: u8,
        handle: H,
        cancel_id: CancelId,
        join: Join,
    ) -> RequestId {
        let FreeSlot {
            index,
            generation,
            next_free,
        } = free;
        self.free_head = next_free;
        self.last_seq += 1;
        self.len += 1;
        let owner_slot = &mut self.owners[usize::from(partial)];
        owner_slot.outstanding += 1;
        let by_owner = Links {
            prev: owner_slot.tail,
            next: NIL,
        };
        owner_slot.tail = index;
        if by_owner.prev == NIL {
            owner_slot.head = index;
        } else {
            self.slots[by_owner.prev as usize].links[List::ByOwner as usize].next = index;
        }
        let alone = Links {
            prev: index,
            next: index,
        };
        let by_group = match join {
            Join::Alone | Join::Oldest => alone,
            Join::Newest(oldest) => self.join_group(oldest, index),
        };
        self.slots[index as usize] = Slot {
            links: [by_owner, by_group],
            state: State::Live(Entry {
                handle,
                cancel_id,
                seq: self.last_seq,
                generation,
                owner: partial,
                marked: false,
                group_head: matches!(join, Join::Oldest),
            }),
        };
        RequestId::new(index, generation)
    }

    /// Removes a request and clears its cancel ID, so a later cancel of that ID or of this request
    /// ID touches nothing. O(1), and never allocates. `None` for an unknown or stale ID.
    #[inline(always)]
    #[expect(
        clippy::inline_always,
        reason = "inline in the caller's critical section: see sim/benches/tracker.rs, slab_floor against slab_floor_calls"
    )]
    pub fn untrack(&mut self, id: RequestId) -> Option<Untracked<H>> {
        let index = id.index();
        let slot = self.slots.get(index as usize)?;
        let entry = match &slot.state {
            State::Live(e) if e.generation == id.generation() => *e,
            _ => return None,
        };
        let [by_owner, by_group] = slot.links;
        let partial = usize::from(entry.owner);

        match by_owner.prev {
            NIL => self.owners[partial].head = by_owner.next,
            prev => self.slots[prev as usize].links[List::ByOwner as usize].next = by_owner.next,
        }
        match by_owner.next {
            NIL => self.owners[partial].tail = by_owner.prev,
            next => self.slots[next as usize].links[List::ByOwner as usize].prev = by_owner.prev,
        }
        if entry.group_head {
            self.leave_as_oldest(index, entry.owner, entry.cancel_id, by_group);
        } else if !entry.cancel_id.is_none() {
            // Only the oldest can be alone in its group.
            self.unlink_group(by_group);
        }
        self.slots[index as usize].state = State::Free {
            generation: entry.generation.wrapping_add(1).max(1),
            next_free: self.free_head,
        };
        self.free_head = index;
        self.len -= 1;

        let owner = &mut self.owners[partial];
        owner.outstanding -= 1;
        let owner_id = OwnerId::new(entry.owner, owner.generation);
        let owner_released = owner.outstanding == 0 && owner.state == OwnerState::Closing;
        if owner_released {
            self.release_owner(entry.owner);
        }
        Some(Untracked {
            handle: entry.handle,
            owner: owner_id,
            cancel_id: entry.cancel_id,
            owner_released,
        })
    }

    /// A group's oldest member leaves it: the next oldest, if any, takes its place in the index
    /// and in the owner's record of its last group.
    #[inline(never)]
    fn leave_as_oldest(&mut self, index: u32, partial: u8, cancel_id: CancelId, by_group: Links) {
        let alone = by_group.next == index;
        let next = if alone { NIL } else { by_group.next };
        let owner = &mut self.owners[usize::from(partial)];
        if owner.recent == cancel_id {
            owner.recent_oldest = next;
            if next == NIL {
                owner.recent = CancelId::NONE;
            }
        }
        let (bucket, _) = self.probe(cancel_id);
        if alone {
            self.remove_bucket(bucket);
        } else {
            self.groups[bucket] = next;
            self.live_mut(next).group_head = true;
            self.unlink_group(by_group);
        }
    }

    /// The handle of a live request. O(1).
    #[must_use]
    pub fn get(&self, id: RequestId) -> Option<H> {
        self.entry(id).map(|e| e.handle)
    }

    /// The owner a live request was forwarded for.
    #[must_use]
    pub fn owner_of(&self, id: RequestId) -> Option<OwnerId> {
        let partial = self.entry(id)?.owner;
        Some(OwnerId::new(
            partial,
            self.owners[usize::from(partial)].generation,
        ))
    }

    fn owner_slot(&self, owner: OwnerId) -> Option<&Owner> {
        let slot = &self.owners[usize::from(owner.partial())];
        (slot.state != OwnerState::Free && slot.generation == owner.generation()).then_some(slot)
    }

    fn release_owner(&mut self, partial: u8) {
        let owner = &mut self.owners[usize::from(partial)];
        owner.state = OwnerState::Free;
        owner.head = NIL;
        owner.tail = NIL;
        self.partials.free(partial);
    }

    fn entry(&self, id: RequestId) -> Option<&Entry<H>> {
        match self.slots.get(id.index() as usize).map(|slot| &slot.state) {
            Some(State::Live(entry)) if entry.generation == id.generation() => Some(entry),
            _ => None,
        }
    }

    fn live(&self, index: u32) -> &Entry<H> {
        match &self.slots[index as usize].state {
            State::Live(entry) => entry,
            State::Free { .. } => unreachable!("a linked slot holds an entry"),
        }
    }

    #[inline(always)]
    #[expect(
        clippy::inline_always,
        reason = "LLVM keeps it out of line; inlined, a track and untrack run fewer instructions (sim/examples/track_untrack.rs)"
    )]
    fn live_mut(&mut self, index: u32) -> &mut Entry<H> {
        match &mut self.slots[index as usize].state {
            State::Live(entry) => entry,
            State::Free { .. } => unreachable!("a linked slot holds an entry"),
        }
    }
}

#[cfg(test)]
mod tests;
