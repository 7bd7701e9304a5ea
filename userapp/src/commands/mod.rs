//! One module per command family.

pub mod bench;
pub mod doctor;
#[cfg(windows)]
pub mod doctor_win;
pub mod inspect;
pub mod oplock;
#[cfg(windows)]
pub mod oplock_win;
pub mod purge;
pub mod scenario;
pub mod status;
pub mod stress_backend;
pub mod tracker;
