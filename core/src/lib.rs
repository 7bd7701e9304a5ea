//! ferrofilter-core: every decision the ferrofilter driver makes, as portable `no_std` code.
//!
//! The Windows adapter (`driver/`) and the user-mode emulation (`sim/`) implement the small port
//! traits in [`ports`]; everything that decides lives here and is tested on any host.

#![no_std]
#![forbid(unsafe_code)]

pub mod cancel_id;
pub mod control;
pub mod ecp;
pub mod file;
pub mod forward;
pub mod guid;
pub mod minifilter;
pub mod policy;
pub mod ports;
pub mod protocol;
pub mod purge;
pub mod status;
pub mod tracker;

pub use cancel_id::CancelId;
pub use forward::{ForwardSnapshot, ForwardState, ForwardStats, Forwarder, NotSent};
pub use status::NtStatus;
pub use tracker::{OwnerId, RequestId, SentTable};
