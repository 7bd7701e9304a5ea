//! The table of sent requests: O(1) track and untrack, lookup by generation-tagged ID, and
//! intrusive per-owner and per-cancel-ID lists so owner close and group cancel cost O(members).
//!
//! The table is plain data; the [`Forwarder`](crate::forward::Forwarder) keeps it behind the
//! adapter's spin lock and makes every kernel call outside that lock.

extern crate alloc;

use alloc::vec::Vec;
use core::fmt;

use hashbrown::HashMap;

use crate::cancel_id::{CancelId, PARTIAL_ID_COUNT, PartialIdAllocator};
use crate::status::NtStatus;

const NIL: u32 = u32::MAX;

/// Names a tracked request to the outside: slot index and generation. A stale ID finds nothing,
/// and no kernel address ever leaves the driver.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct RequestId(pub u64);

impl RequestId {
    const fn new(index: u32, generation: u32) -> Self {
        Self(((generation as u64) << 32) | index as u64)
    }

    const fn index(self) -> u32 {
        #[expect(clippy::cast_possible_truncation, reason = "the low half is the index")]
        let index = self.0 as u32;
        index
    }

    const fn generation(self) -> u32 {
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
    const fn new(partial: u8, generation: u32) -> Self {
        Self(((generation as u64) << 8) | partial as u64)
    }

    /// The owner's partial cancel ID.
    #[must_use]
    pub const fn partial(self) -> u8 {
        self.0.to_le_bytes()[0]
    }

    const fn generation(self) -> u32 {
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

#[derive(Clone, Copy, Debug)]
struct Links {
    prev: u32,
    next: u32,
}

#[derive(Clone, Debug)]
struct Entry<H> {
    handle: H,
    /// Already taken by an owner close or unload cancel pass.
    marked: bool,
    owner: u8,
    cancel_id: CancelId,
    by_owner: Links,
    by_group: Links,
}

#[derive(Clone, Debug)]
struct Slot<H> {
    generation: u32,
    next_free: u32,
    entry: Option<Entry<H>>,
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
    head: u32,
    outstanding: u32,
    /// The owner has opened an I/O target to forward to.
    has_target: bool,
}

#[derive(Clone, Copy, Debug)]
struct Group {
    head: u32,
    len: u32,
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

/// One row of [`SentTable::for_each_of_owner`].
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
    owners: Vec<Owner>,
    partials: PartialIdAllocator,
    groups: HashMap<CancelId, Group>,
}

impl<H: Copy> SentTable<H> {
    /// A table for at most `capacity` outstanding requests, allocated now so tracking never
    /// allocates a slot under the spin lock.
    ///
    /// # Errors
    /// `STATUS_INSUFFICIENT_RESOURCES` if the memory cannot be had, or `capacity` is 0 or does not
    /// fit the ID format.
    pub fn with_capacity(capacity: u32) -> Result<Self, NtStatus> {
        if capacity == 0 || capacity == NIL {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        let wanted = capacity as usize;
        let mut slots = Vec::new();
        slots
            .try_reserve_exact(wanted)
            .map_err(|_| NtStatus::INSUFFICIENT_RESOURCES)?;
        for index in 0..capacity {
            let next_free = if index + 1 == capacity {
                NIL
            } else {
                index + 1
            };
            slots.push(Slot {
                generation: 1,
                next_free,
                entry: None,
            });
        }
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
                outstanding: 0,
                has_target: false,
            },
        );
        let mut groups = HashMap::new();
        groups
            .try_reserve(wanted.min(4096))
            .map_err(|_| NtStatus::INSUFFICIENT_RESOURCES)?;
        Ok(Self {
            slots,
            free_head: 0,
            len: 0,
            owners,
            partials: PartialIdAllocator::new(),
            groups,
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
        owner.outstanding = 0;
        owner.has_target = false;
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

    /// Tracks `handle` for `owner` under `cancel_id`. O(1).
    ///
    /// # Errors
    /// `STATUS_INVALID_HANDLE` (stale owner), `STATUS_DELETE_PENDING` (owner closing),
    /// `STATUS_INVALID_PARAMETER` (cancel ID with another owner's partial ID),
    /// `STATUS_INSUFFICIENT_RESOURCES` (table full, or no memory for a new group).
    pub fn track(
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
        let index = self.free_head;
        if index == NIL {
            return Err(NtStatus::INSUFFICIENT_RESOURCES);
        }
        // The only step that can fail after this is a group table growth; do it before anything
        // changes, and fallibly, so running out of memory is an error and never an abort.
        let group_head = if cancel_id.is_none() {
            NIL
        } else {
            if self.groups.len() == self.groups.capacity() {
                self.groups
                    .try_reserve(1)
                    .map_err(|_| NtStatus::INSUFFICIENT_RESOURCES)?;
            }
            let group = self
                .groups
                .entry(cancel_id)
                .or_insert(Group { head: NIL, len: 0 });
            let old_head = group.head;
            group.head = index;
            group.len += 1;
            old_head
        };
        let owner_slot = &mut self.owners[usize::from(partial)];
        let owner_head = owner_slot.head;
        owner_slot.head = index;
        owner_slot.outstanding += 1;

        let slot = &mut self.slots[index as usize];
        self.free_head = slot.next_free;
        slot.next_free = NIL;
        slot.entry = Some(Entry {
            handle,
            marked: false,
            owner: partial,
            cancel_id,
            by_owner: Links {
                prev: NIL,
                next: owner_head,
            },
            by_group: Links {
                prev: NIL,
                next: group_head,
            },
        });
        let id = RequestId::new(index, slot.generation);
        if owner_head != NIL {
            self.entry_mut(owner_head).by_owner.prev = index;
        }
        if group_head != NIL {
            self.entry_mut(group_head).by_group.prev = index;
        }
        self.len += 1;
        Ok(id)
    }

    /// Removes a request and clears its cancel ID, so a later cancel of that ID or of this request
    /// ID touches nothing. O(1). `None` for an unknown or stale ID.
    pub fn untrack(&mut self, id: RequestId) -> Option<Untracked<H>> {
        let index = self.live_index(id)?;
        let slot = &mut self.slots[index as usize];
        let entry = slot.entry.take()?;
        slot.generation = slot.generation.wrapping_add(1).max(1);
        slot.next_free = self.free_head;
        self.free_head = index;
        self.len -= 1;

        // Unlink from the owner's list.
        if entry.by_owner.prev == NIL {
            self.owners[usize::from(entry.owner)].head = entry.by_owner.next;
        } else {
            self.entry_mut(entry.by_owner.prev).by_owner.next = entry.by_owner.next;
        }
        if entry.by_owner.next != NIL {
            self.entry_mut(entry.by_owner.next).by_owner.prev = entry.by_owner.prev;
        }
        // Unlink from its group, dropping the group when it empties: one hash lookup.
        if !entry.cancel_id.is_none() {
            if entry.by_group.prev != NIL {
                self.entry_mut(entry.by_group.prev).by_group.next = entry.by_group.next;
            }
            if entry.by_group.next != NIL {
                self.entry_mut(entry.by_group.next).by_group.prev = entry.by_group.prev;
            }
            if let hashbrown::hash_map::Entry::Occupied(mut group) =
                self.groups.entry(entry.cancel_id)
            {
                let group_mut = group.get_mut();
                if entry.by_group.prev == NIL {
                    group_mut.head = entry.by_group.next;
                }
                group_mut.len -= 1;
                if group_mut.len == 0 {
                    group.remove();
                }
            }
        }

        let owner = &mut self.owners[usize::from(entry.owner)];
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

    /// The handle of a live request. O(1).
    #[must_use]
    pub fn get(&self, id: RequestId) -> Option<H> {
        let index = self.live_index(id)?;
        self.slots[index as usize].entry.as_ref().map(|e| e.handle)
    }

    /// The owner a live request was forwarded for.
    #[must_use]
    pub fn owner_of(&self, id: RequestId) -> Option<OwnerId> {
        let index = self.live_index(id)?;
        let partial = self.slots[index as usize].entry.as_ref()?.owner;
        Some(OwnerId::new(
            partial,
            self.owners[usize::from(partial)].generation,
        ))
    }

    /// How many live requests carry `cancel_id`. O(1).
    #[must_use]
    pub fn group_len(&self, cancel_id: CancelId) -> u32 {
        self.groups.get(&cancel_id).map_or(0, |g| g.len)
    }

    /// Visits every request tagged `cancel_id`. O(members).
    pub fn for_each_in_group(&self, cancel_id: CancelId, mut visit: impl FnMut(RequestId, H)) {
        let mut cursor = self.groups.get(&cancel_id).map_or(NIL, |g| g.head);
        while cursor != NIL {
            let slot = &self.slots[cursor as usize];
            let Some(entry) = slot.entry.as_ref() else {
                break;
            };
            visit(RequestId::new(cursor, slot.generation), entry.handle);
            cursor = entry.by_group.next;
        }
    }

    /// Visits every request forwarded for `owner`. O(members).
    pub fn for_each_of_owner(&self, owner: OwnerId, mut visit: impl FnMut(TrackedRequest<H>)) {
        let mut cursor = self.owner_slot(owner).map_or(NIL, |o| o.head);
        while cursor != NIL {
            let slot = &self.slots[cursor as usize];
            let Some(entry) = slot.entry.as_ref() else {
                break;
            };
            visit(TrackedRequest {
                id: RequestId::new(cursor, slot.generation),
                cancel_id: entry.cancel_id,
                handle: entry.handle,
            });
            cursor = entry.by_owner.next;
        }
    }

    /// Visits `owner`'s requests not yet marked, marking each; `visit` returns `false` to stop.
    pub fn for_each_of_owner_unmarked(&mut self, owner: OwnerId, visit: &mut dyn FnMut(H) -> bool) {
        let mut cursor = self.owner_slot(owner).map_or(NIL, |o| o.head);
        while cursor != NIL {
            let Some(entry) = self.slots[cursor as usize].entry.as_mut() else {
                break;
            };
            cursor = entry.by_owner.next;
            if !entry.marked {
                entry.marked = true;
                if !visit(entry.handle) {
                    return;
                }
            }
        }
    }

    /// Visits every request not yet marked, marking each; `visit` returns `false` to stop.
    /// O(capacity); for unload only.
    pub fn for_each_unmarked(&mut self, visit: &mut dyn FnMut(H) -> bool) {
        for slot in &mut self.slots {
            if let Some(entry) = slot.entry.as_mut().filter(|e| !e.marked) {
                entry.marked = true;
                if !visit(entry.handle) {
                    return;
                }
            }
        }
    }

    /// Visits every tracked request. O(capacity); for unload only.
    pub fn for_each(&self, mut visit: impl FnMut(RequestId, H)) {
        for (index, slot) in self.slots.iter().enumerate() {
            if let (Some(entry), Ok(index)) = (slot.entry.as_ref(), u32::try_from(index)) {
                visit(RequestId::new(index, slot.generation), entry.handle);
            }
        }
    }

    fn owner_slot(&self, owner: OwnerId) -> Option<&Owner> {
        let slot = &self.owners[usize::from(owner.partial())];
        (slot.state != OwnerState::Free && slot.generation == owner.generation()).then_some(slot)
    }

    fn release_owner(&mut self, partial: u8) {
        let owner = &mut self.owners[usize::from(partial)];
        owner.state = OwnerState::Free;
        owner.head = NIL;
        self.partials.free(partial);
    }

    fn live_index(&self, id: RequestId) -> Option<u32> {
        let index = id.index();
        let slot = self.slots.get(index as usize)?;
        (slot.entry.is_some() && slot.generation == id.generation()).then_some(index)
    }

    fn entry_mut(&mut self, index: u32) -> &mut Entry<H> {
        self.slots[index as usize]
            .entry
            .as_mut()
            .expect("linked slot holds an entry")
    }
}
