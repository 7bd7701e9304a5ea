//! ferrofilter-abi: an oracle for the Windows ABI items ferrofilter declares by hand.
//!
//! `core/`, `driver/` and `userapp/` (ferroctl) write out Windows constants, GUIDs, NTSTATUS
//! values, control codes and struct layouts themselves. The tests of this crate
//! (`abi/tests/*.rs`) assert each of them against Microsoft's metadata as the `windows-sys` crate
//! publishes it, or, where `windows-sys` lacks an item or is known to be wrong about it, against
//! the value documented in the headers ([`documented`], with the header each comes from). A
//! project value is never compared with itself.
//!
//! - [`check`]: the comparison helper. A table of [`check::Check`]s is compared at once and every
//!   mismatch is reported by name.
//! - [`documented`]: values and x64 offsets taken from the headers and documentation, for items
//!   `windows-sys` does not carry (KMDF, `dpfilter.h`, `CTL_CODE` ranges) or lays out wrongly
//!   (`POINTER_ALIGNMENT` fields of `FLT_PARAMETERS` and `IO_STACK_LOCATION`).
//! - [`layouts`]: `windows-sys`'s sizes and field offsets of the Filter Manager and oplock
//!   structs for which it is right, as data other tests can use.
//!
//! Sizes and offsets hold for `x86_64` (Windows x64): `windows-sys` declares its structs with
//! explicit integer and pointer types, so their layout on an `x86_64` Linux host is the Windows x64
//! layout.

#![forbid(unsafe_code)]

pub mod check;
pub mod documented;
pub mod layouts;
