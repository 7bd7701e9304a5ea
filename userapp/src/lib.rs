//! ferroctl's library: the command-line interface, its commands and their output, shared by the
//! `ferroctl` binary and the end-to-end tests.
//!
//! Commands run on a [`backend::Backend`]: the real control device on Windows (unverified here)
//! or the driver logic in-process on the sim. IOCTL buffers are encoded and decoded once, in
//! [`proto`], with `ferrofilter-core`'s protocol structs.

pub mod backend;
pub mod cli;
pub mod commands;
pub mod error;
pub mod exit;
pub mod output;
pub mod proto;
pub mod stress;
pub mod win_constants;
