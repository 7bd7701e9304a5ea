//! ferrofilter: the Windows kernel driver, a file-system minifilter with a KMDF control device.
//!
//! Every decision is made by `ferrofilter-core`; this crate only converts raw kernel structures
//! into core calls and core's answers back into kernel calls. It builds for
//! `x86_64-pc-windows-msvc` only; on a host build it is an empty library and the logic it wraps
//! runs in `ferrofilter-sim`.
//!
//! On Linux the real windows-drivers-rs build compiles, lints and links it (the `wdk-any-host`
//! feature; docs/building-on-linux.md): over the project's own WDK declarations in CI, and over a
//! genuine WDK on demand. Unverified here: building on a Windows host, loading, signing and
//! running it, which only a test-signed VM shows.
//!
//! Map:
//! - `entry`: `DriverEntry`, Filter Manager registration, unload.
//! - `device`: creation of the control device `\Device\FerroFilter`.
//! - `control`: the control device's file and IOCTL callbacks.
//! - `request`: the `RequestOps` port over `WDFREQUEST` and the completion routine.
//! - `lock`: the `SpinLock` port over `WDFSPINLOCK`.
//! - `context`: typed WDF object contexts.
//! - `minifilter`: the Filter Manager registration tables and `InstanceSetup`.
//! - `filter`: the operation callbacks, contexts, purge path and control-device requests, each
//!   a thin layer over `ferrofilter_core::minifilter`.
//! - `policy`: stand-ins for decisions that belong in core (see its docs).
//! - `constants`: the header macros and enum values the driver writes out by hand (plain integer
//!   types, so `ferrofilter-abi` checks them on any host).
//! - `fltmgr`, `unicode`, `wdf`, `log`: bindings and small utilities.
#![cfg_attr(windows, no_std)]

extern crate alloc;

#[cfg(all(windows, not(test)))]
extern crate wdk_panic;

#[cfg(all(windows, not(test)))]
#[global_allocator]
static GLOBAL_ALLOCATOR: wdk_alloc::WdkAllocator = wdk_alloc::WdkAllocator;

#[macro_use]
mod log;

mod constants;
mod context;
mod control;
mod device;
mod entry;
mod filter;
mod fltmgr;
mod lock;
mod minifilter;
mod policy;
mod request;
mod unicode;
mod wdf;
