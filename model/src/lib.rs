//! ferrofilter-model: what surrounds the driver, modelled from Microsoft's documentation for the
//! simulated kernel and for `ferroctl`. The driver never runs any of it, so none of it is in
//! `ferrofilter-core`:
//! - [`oplock`]: the oplock package's break and grant rules and share access;
//! - [`cf`]: how `CfOpenFileWithOplock` turns `CF_OPEN_FILE_FLAGS` into a create and an oplock;
//! - [`fastfat`]: fastfat's validation of `FSCTL_SET_PURGE_FAILURE_MODE`;
//! - [`guid_text`]: reading the `8-4-4-4-12` GUID form users type.

pub mod cf;
pub mod fastfat;
pub mod guid_text;
pub mod oplock;
