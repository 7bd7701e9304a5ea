//! ferrofilter-sim: the kernel services ferrofilter uses, emulated in user mode, with a verifier
//! that fails a run on what KMDF Verifier or Static Driver Verifier would flag.
//!
//! Deterministic when seeded: the seed decides completion order, where "another CPU" preempts at
//! a lock release, and every injected fault, so a seed replays the same run.

pub mod baseline;
pub mod byte_range_locks;
pub mod core_stress;
pub mod driver;
pub mod fs;
pub mod kernel;
pub mod lock;
pub mod purge_mode;
pub mod scenario;
pub mod stress;
pub mod sync;
pub mod verifier;
pub mod wdf;

pub use driver::{SimConfig, SimDriver, Teardown};
pub use verifier::{Verifier, Violation};
pub use wdf::{Faults, Framework, RequestHandle, SimRequests, TargetState};

/// The process's allocator, which accounts the driver's heap blocks to the kernel's pool
/// ([`kernel::pool`]): counted, failed by the fault plan, and checked at unload.
#[cfg(not(windows))]
#[global_allocator]
static ALLOCATOR: kernel::pool::Tracking = kernel::pool::Tracking;

// The driver runs on the simulated kernel; this links it in.
#[cfg(not(windows))]
use ferrofilter as _;
