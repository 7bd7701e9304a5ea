//! One track and one untrack, the `tracker/track_untrack` benchmark's loop body, in a function of
//! its own so callgrind can count its instructions, which unlike its time do not vary with what
//! else the machine is doing:
//!
//! ```text
//! cargo build --release -p ferrofilter-sim --example track_untrack
//! valgrind --tool=callgrind --toggle-collect='*track_untrack::round*' \
//!     target/release/examples/track_untrack 1000
//! ```
//!
//! The total `Ir` divided by the rounds (the argument) is the count for one of each.
//! `.ci/tracker-instructions.py` checks it against its budget; its negative control runs this with
//! `--with-hash-map`, each round also inserting into and removing from a hash map under the
//! lock (what the table did before it was a slab), and requires the budget to reject that.

use std::collections::HashMap;
use std::hint::black_box;

use ferrofilter_core::ports::SpinLock;
use ferrofilter_core::{CancelId, ForwardState, OwnerId};
use ferrofilter_sim::lock::BareSpinLock;

#[inline(never)]
fn round(lock: &BareSpinLock<ForwardState<u32>>, owner: OwnerId, cancel_id: CancelId) {
    let id = lock
        .with(|s| s.table.track(owner, black_box(1), cancel_id))
        .expect("room");
    black_box(lock.with(|s| s.table.untrack(black_box(id))));
}

/// [`round`] with a hash-map operation each way: the regression the budget exists to catch.
#[inline(never)]
fn round_with_hash_map(
    lock: &BareSpinLock<ForwardState<u32>>,
    map: &mut HashMap<u64, u32>,
    owner: OwnerId,
    cancel_id: CancelId,
) {
    let id = lock
        .with(|s| {
            let id = s.table.track(owner, black_box(1), cancel_id);
            if let Ok(id) = id {
                map.insert(id.0, 1);
            }
            id
        })
        .expect("room");
    black_box(lock.with(|s| {
        map.remove(&black_box(id).0);
        s.table.untrack(id)
    }));
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: u32 = args.next().and_then(|n| n.parse().ok()).unwrap_or(1000);
    let with_hash_map = args.next().is_some_and(|a| a == "--with-hash-map");
    let mut state = ForwardState::<u32>::with_capacity(1024).expect("1024 slots");
    let owner = state.table.open_owner().expect("a fresh table has room");
    let cancel_id = CancelId::new(owner.partial(), 7);
    // As in the benchmark: one request stays out under the same cancel ID.
    state.table.track(owner, 0, cancel_id).expect("room");
    let lock = BareSpinLock::new(state);
    // Reserved up front, so the rounds measure its operations and not its growth.
    let mut map = HashMap::with_capacity(16);
    for _ in 0..rounds {
        if with_hash_map {
            round_with_hash_map(&lock, &mut map, owner, cancel_id);
        } else {
            round(&lock, owner, cancel_id);
        }
    }
}
