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

fn main() {
    let rounds: u32 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let mut state = ForwardState::<u32>::with_capacity(1024).expect("1024 slots");
    let owner = state.table.open_owner().expect("a fresh table has room");
    let cancel_id = CancelId::new(owner.partial(), 7);
    // As in the benchmark: one request stays out under the same cancel ID.
    state.table.track(owner, 0, cancel_id).expect("room");
    let lock = BareSpinLock::new(state);
    for _ in 0..rounds {
        round(&lock, owner, cancel_id);
    }
}
