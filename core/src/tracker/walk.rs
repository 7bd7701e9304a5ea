//! Walks over an owner's or a group's requests, whole or in batches that each hold the lock once.

use super::{List, NIL, OwnerId, RequestId, SentTable, State, TrackedRequest};
use crate::cancel_id::CancelId;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Progress {
    NotStarted,
    Walking,
    Done,
}

/// How far a walk over one owner's or one group's requests, taken in batches, has got.
///
/// The walk sees the requests tracked before its first batch, oldest first, each once. Between
/// batches it remembers the next request to visit; if that one completed meanwhile, the next batch
/// starts again from the oldest and skips what it has seen, which costs time but never a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    progress: Progress,
    /// The newest request the walk may visit.
    until: u64,
    /// The newest request it has passed.
    after: u64,
    resume: RequestId,
    /// Visits only requests not yet marked, and marks them.
    mark: bool,
}

impl Default for Cursor {
    fn default() -> Self {
        Self::new()
    }
}

impl Cursor {
    /// A walk not yet begun, visiting every request.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            progress: Progress::NotStarted,
            until: 0,
            after: 0,
            resume: RequestId::new(NIL, 0),
            mark: false,
        }
    }

    /// A walk for owner close: it visits only requests not yet marked, and marks them, so the
    /// unload pass does not take them again.
    #[must_use]
    pub const fn marking() -> Self {
        Self {
            mark: true,
            ..Self::new()
        }
    }

    /// Whether every request the walk is to see has been visited.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.progress == Progress::Done
    }
}

impl<H: Copy> SentTable<H> {
    /// How many live requests carry `cancel_id`. O(members).
    #[must_use]
    pub fn group_len(&self, cancel_id: CancelId) -> u32 {
        let mut len = 0;
        self.for_each_in_group(cancel_id, |_, _| len += 1);
        len
    }

    /// Visits every request tagged `cancel_id`, oldest first, in one pass. O(members).
    pub fn for_each_in_group(&self, cancel_id: CancelId, mut visit: impl FnMut(RequestId, H)) {
        let head = if cancel_id.is_none() {
            NIL
        } else {
            self.probe(cancel_id).1
        };
        self.for_each_in(List::ByGroup, head, |row| visit(row.id, row.handle));
    }

    /// Visits every request forwarded for `owner`, oldest first, in one pass. O(members).
    pub fn for_each_of_owner(&self, owner: OwnerId, visit: impl FnMut(TrackedRequest<H>)) {
        let head = self.owner_slot(owner).map_or(NIL, |o| o.head);
        self.for_each_in(List::ByOwner, head, visit);
    }

    /// One batch of a walk over `owner`'s requests: visits them from where `cursor` stands until
    /// `visit` returns `false` (the batch is full). Returns whether the walk has more to visit. A
    /// [`Cursor::marking`] walk visits only requests not yet marked, and marks them.
    pub fn walk_owner(
        &mut self,
        owner: OwnerId,
        cursor: &mut Cursor,
        visit: &mut dyn FnMut(TrackedRequest<H>) -> bool,
    ) -> bool {
        let head = self.owner_slot(owner).map_or(NIL, |o| o.head);
        self.walk(List::ByOwner, head, cursor, visit)
    }

    /// One batch of a walk over the requests `owner` tagged `cancel_id`, as
    /// [`SentTable::walk_owner`]. A stale owner's walk finds nothing, even when a newer owner holds
    /// its partial ID and uses the same cancel ID.
    pub fn walk_group(
        &mut self,
        owner: OwnerId,
        cancel_id: CancelId,
        cursor: &mut Cursor,
        visit: &mut dyn FnMut(TrackedRequest<H>) -> bool,
    ) -> bool {
        let head = if cancel_id.is_none()
            || cancel_id.partial() != owner.partial()
            || self.owner_slot(owner).is_none()
        {
            NIL
        } else {
            self.probe(cancel_id).1
        };
        self.walk(List::ByGroup, head, cursor, visit)
    }

    /// Visits every request not yet marked, marking each; `visit` returns `false` to stop, and
    /// then this returns `true`. O(capacity); for unload only.
    pub fn for_each_unmarked(&mut self, visit: &mut dyn FnMut(TrackedRequest<H>) -> bool) -> bool {
        for (index, slot) in (0..).zip(self.slots.iter_mut()) {
            if let State::Live(entry) = &mut slot.state
                && !entry.marked
            {
                entry.marked = true;
                let row = TrackedRequest {
                    id: RequestId::new(index, entry.generation),
                    cancel_id: entry.cancel_id,
                    handle: entry.handle,
                };
                if !visit(row) {
                    return true;
                }
            }
        }
        false
    }

    /// Visits every tracked request. O(capacity); for unload only.
    pub fn for_each(&self, mut visit: impl FnMut(RequestId, H)) {
        for (index, slot) in (0..).zip(self.slots.iter()) {
            if let State::Live(entry) = &slot.state {
                visit(RequestId::new(index, entry.generation), entry.handle);
            }
        }
    }

    fn for_each_in(&self, list: List, head: u32, mut visit: impl FnMut(TrackedRequest<H>)) {
        if head == NIL {
            return;
        }
        let mut index = head;
        loop {
            let entry = self.live(index);
            visit(TrackedRequest {
                id: RequestId::new(index, entry.generation),
                cancel_id: entry.cancel_id,
                handle: entry.handle,
            });
            index = self.next_in(list, head, index);
            if index == NIL {
                return;
            }
        }
    }

    fn walk(
        &mut self,
        list: List,
        head: u32,
        cursor: &mut Cursor,
        visit: &mut dyn FnMut(TrackedRequest<H>) -> bool,
    ) -> bool {
        let mark = cursor.mark;
        match cursor.progress {
            Progress::Done => return false,
            Progress::NotStarted => {
                cursor.until = self.last_seq;
                cursor.progress = Progress::Walking;
            }
            Progress::Walking => {}
        }
        if head == NIL {
            cursor.progress = Progress::Done;
            return false;
        }
        // The same ID names the same request, which is still on the same list; if it is gone,
        // start from the oldest again and skip what was passed.
        let mut index = if self.entry(cursor.resume).is_some() {
            cursor.resume.index()
        } else {
            head
        };
        loop {
            let next = self.next_in(list, head, index);
            let entry = self.live_mut(index);
            if entry.seq > cursor.until {
                break;
            }
            let mut more = true;
            if entry.seq > cursor.after {
                cursor.after = entry.seq;
                if !(mark && entry.marked) {
                    entry.marked |= mark;
                    more = visit(TrackedRequest {
                        id: RequestId::new(index, entry.generation),
                        cancel_id: entry.cancel_id,
                        handle: entry.handle,
                    });
                }
            }
            if next == NIL {
                break;
            }
            if !more {
                cursor.resume = RequestId::new(next, self.live(next).generation);
                return true;
            }
            index = next;
        }
        cursor.progress = Progress::Done;
        false
    }

    /// The member after `index` on `list`, whose oldest is `head`, or `NIL` after the newest.
    fn next_in(&self, list: List, head: u32, index: u32) -> u32 {
        let next = self.slots[index as usize].links[list as usize].next;
        match list {
            List::ByGroup if next == head => NIL,
            List::ByOwner | List::ByGroup => next,
        }
    }
}
