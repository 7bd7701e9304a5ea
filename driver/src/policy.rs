//! The shell's decisions live in `ferrofilter_core::policy`; this re-export keeps the call sites
//! short.

pub use ferrofilter_core::policy::{
    BringUp, FileSystem, TearDown, UNLOAD_SEQUENCE, Volume, attach, query_teardown, unwind,
};
