#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]
//! Tracker benchmarks. The targets, checked as ratios from one run:
//! - `tracker/track_untrack` <= 3x `tracker/lock_pair` (bare lock + unlock); `lock_pair_twice`
//!   is its floor (the two acquisitions alone), `slab_floor` the same two acquisitions around the
//!   least any slab table does (a free list, a generation check, one 48-byte slot written),
//!   `slab_floor_calls` that slab with each operation a call of its own (the tracker's shape
//!   before its operations were inlined), and
//!   `track_untrack_ungrouped` the tracker without a cancel ID, so one run shows what the table,
//!   its owner lists and its group index each cost;
//! - `tracker/cancel_lookup/65536` >= 1000x faster than `baseline_collection/cancel_lookup/65536`.
//!
//! All use a bare test-and-set spin lock, as `KSPIN_LOCK` is, and request operations that do
//! nothing, so what is measured is the table and the locking protocol.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ferrofilter_core::ports::{RequestOps, SpinLock};
use ferrofilter_core::tracker::Untracked;
use ferrofilter_core::{CancelId, ForwardState, Forwarder, NtStatus, OwnerId, RequestId};
use ferrofilter_sim::baseline::CollectionModel;
use ferrofilter_sim::lock::BareSpinLock;

const OUTSTANDING: u32 = 65_536;
const GROUP: u64 = 1024;

/// Request operations that only count, so the benchmark sees the tracker's own cost.
#[derive(Default)]
struct CountingOps {
    calls: AtomicU64,
}

impl RequestOps for CountingOps {
    type Handle = u32;
    fn send(&self, _: u32, _: RequestId) -> Result<(), NtStatus> {
        Ok(())
    }
    fn complete(&self, _: u32, _: NtStatus) {}
    fn reference(&self, _: u32) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }
    fn dereference(&self, _: u32) {}
    fn cancel_sent(&self, _: u32) -> bool {
        true
    }
}

type BenchForwarder = Forwarder<BareSpinLock<ForwardState<u32>>, CountingOps>;

/// A forwarder with `OUTSTANDING` requests sent: `GROUP` of them under one cancel ID, the rest
/// spread over many small groups and none.
fn filled() -> (BenchForwarder, OwnerId, Vec<RequestId>, CancelId) {
    let state = ForwardState::with_capacity(OUTSTANDING + 1024).unwrap();
    let forwarder = Forwarder::new(BareSpinLock::new(state), CountingOps::default());
    let owner = forwarder.open_owner().unwrap();
    let big = CancelId::new(owner.partial(), 1);
    let mut ids = Vec::with_capacity(OUTSTANDING as usize);
    for n in 0..OUTSTANDING {
        let cancel_id = if u64::from(n) < GROUP {
            big
        } else if n % 2 == 0 {
            CancelId::new(owner.partial(), 2 + u64::from(n % 4096))
        } else {
            CancelId::NONE
        };
        ids.push(forwarder.forward(owner, n, cancel_id).unwrap());
    }
    (forwarder, owner, ids, big)
}

type Table = BareSpinLock<ForwardState<u32>>;

/// A table with one request out under the cancel ID `tag` gives its owner, and that ID.
fn one_outstanding(tag: impl FnOnce(OwnerId) -> CancelId) -> (Table, OwnerId, CancelId) {
    let mut state = ForwardState::<u32>::with_capacity(1024).unwrap();
    let owner = state.table.open_owner().unwrap();
    let cancel_id = tag(owner);
    state.table.track(owner, 0, cancel_id).unwrap();
    (BareSpinLock::new(state), owner, cancel_id)
}

/// A send and its completion: one track and one untrack, each under its own acquisition. Generic
/// so each benchmark has its own copy, a single call site of each closure as the driver's
/// forward path and completion routine are.
#[inline(always)]
#[expect(
    clippy::inline_always,
    reason = "the loop body in the benchmark's loop, as slab_floor's is"
)]
fn track_untrack<const GROUPED: bool>(
    lock: &Table,
    owner: OwnerId,
    cancel_id: CancelId,
) -> Option<Untracked<u32>> {
    let id = lock
        .with(|s| s.table.track(owner, black_box(1), cancel_id))
        .unwrap();
    lock.with(|s| s.table.untrack(black_box(id)))
}

/// One slot of [`FloorSlab`]: the tracker's slot size, with no list the tracker keeps.
#[derive(Clone, Copy, Default)]
struct FloorSlot {
    handle: u32,
    generation: u32,
    cancel_id: u64,
    #[expect(
        dead_code,
        reason = "written as the tracker writes its own, so the store is measured; read by nothing"
    )]
    seq: u64,
    /// Where the tracker keeps its two lists' links.
    #[expect(
        dead_code,
        reason = "written as the tracker writes its own, so the store is measured; read by nothing"
    )]
    links: [u32; 4],
    next_free: u32,
    live: bool,
}

const _: () = assert!(size_of::<FloorSlot>() == 48);

/// The least a generation-checked slab does for a track and an untrack: pop or push its free
/// list, check the generation, write the slot. No owner, no lists, no index.
struct FloorSlab {
    slots: Vec<FloorSlot>,
    free_head: u32,
    seq: u64,
}

impl FloorSlab {
    fn new(capacity: u32) -> Self {
        Self {
            slots: (0..capacity)
                .map(|n| FloorSlot {
                    generation: 1,
                    next_free: n + 1,
                    ..FloorSlot::default()
                })
                .collect(),
            free_head: 0,
            seq: 0,
        }
    }

    fn track(&mut self, handle: u32, cancel_id: u64) -> Option<(u32, u32)> {
        let index = self.free_head;
        let slot = self.slots.get(index as usize).filter(|s| !s.live)?;
        let generation = slot.generation;
        self.free_head = slot.next_free;
        self.seq += 1;
        self.slots[index as usize] = FloorSlot {
            handle,
            generation,
            cancel_id,
            seq: self.seq,
            links: [0; 4],
            next_free: 0,
            live: true,
        };
        Some((index, generation))
    }

    fn untrack(&mut self, (index, generation): (u32, u32)) -> Option<(u32, u64)> {
        let free_head = self.free_head;
        let slot = self
            .slots
            .get_mut(index as usize)
            .filter(|s| s.live && s.generation == generation)?;
        slot.live = false;
        slot.generation = generation.wrapping_add(1).max(1);
        slot.next_free = free_head;
        self.free_head = index;
        Some((slot.handle, slot.cancel_id))
    }
}

/// [`FloorSlab::track`] as a call of its own, the shape the tracker's `track` and `untrack` had
/// before their common cases were inlined: what that shape costs even a table that does nothing
/// else.
#[inline(never)]
fn floor_track(slab: &mut FloorSlab, handle: u32, cancel_id: u64) -> Option<(u32, u32)> {
    slab.track(handle, cancel_id)
}

/// [`FloorSlab::untrack`] as a call of its own; see [`floor_track`].
#[inline(never)]
fn floor_untrack(slab: &mut FloorSlab, id: (u32, u32)) -> Option<(u32, u64)> {
    slab.untrack(id)
}

fn tracker(c: &mut Criterion) {
    let mut group = c.benchmark_group("tracker");

    let bare = BareSpinLock::new(0u64);
    group.bench_function("lock_pair", |b| {
        b.iter(|| bare.with(|v| *black_box(v)));
    });

    // The floor under `track_untrack`: its two acquisitions with nothing done under them.
    group.bench_function("lock_pair_twice", |b| {
        b.iter(|| {
            bare.with(|v| *black_box(v));
            bare.with(|v| *black_box(v))
        });
    });

    let floor = BareSpinLock::new(FloorSlab::new(1024));
    floor.with(|s| s.track(0, 7));
    group.bench_function("slab_floor", |b| {
        b.iter(|| {
            let id = floor.with(|s| s.track(black_box(1), 7)).unwrap();
            floor.with(|s| s.untrack(black_box(id)))
        });
    });

    // The same slab in the tracker's shape: each operation a call under its acquisition.
    group.bench_function("slab_floor_calls", |b| {
        b.iter(|| {
            let id = floor.with(|s| floor_track(s, black_box(1), 7)).unwrap();
            floor.with(|s| floor_untrack(s, black_box(id)))
        });
    });

    // One request stays out under the same cancel ID, as it would in a busy group.
    let (lock, owner, cancel_id) = one_outstanding(|owner| CancelId::new(owner.partial(), 7));
    group.bench_function("track_untrack", |b| {
        b.iter(|| track_untrack::<true>(&lock, owner, cancel_id));
    });
    // The same without a cancel ID: no group list, no group index.
    let (lock, owner, cancel_id) = one_outstanding(|_| CancelId::NONE);
    group.bench_function("track_untrack_ungrouped", |b| {
        b.iter(|| track_untrack::<false>(&lock, owner, cancel_id));
    });

    let (forwarder, owner, ids, big) = filled();
    let mut next = 0usize;
    group.bench_function(BenchmarkId::new("cancel_lookup", OUTSTANDING), |b| {
        b.iter(|| {
            next = (next + 7919) % ids.len();
            forwarder.cancel(owner, black_box(ids[next]))
        });
    });
    group.bench_function(BenchmarkId::new("cancel_group", GROUP), |b| {
        b.iter(|| forwarder.cancel_group(owner, black_box(big)));
    });
    group.finish();
}

fn baseline(c: &mut Criterion) {
    let mut group = c.benchmark_group("baseline_collection");
    let mut collection = CollectionModel::new();
    for n in 0..u64::from(OUTSTANDING) {
        collection.add(n, u32::try_from(n).unwrap());
    }
    let lock = BareSpinLock::new(collection);
    let ops = CountingOps::default();
    let mut next = 0u64;
    group.bench_function(BenchmarkId::new("cancel_lookup", OUTSTANDING), |b| {
        b.iter(|| {
            next = (next + 7919) % u64::from(OUTSTANDING);
            // The same protocol: find and reference under the lock, cancel outside it.
            let handle = lock.with(|c| {
                let handle = c.find(black_box(next));
                handle.inspect(|&h| ops.reference(h))
            });
            handle.map(|h| {
                ops.cancel_sent(h);
                ops.dereference(h);
            })
        });
    });
    group.finish();
}

criterion_group!(benches, tracker, baseline);
criterion_main!(benches);
