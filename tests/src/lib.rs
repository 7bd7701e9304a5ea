//! End-to-end scenarios live in `tests/`; this crate's library holds the helpers they share.

pub mod inf_lint;
