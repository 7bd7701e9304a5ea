//! ferroctl's library: the command-line interface, its commands and their output, shared by the
//! `ferroctl` binary and the end-to-end tests.

pub mod cli;
pub mod exit;
pub mod stress;
