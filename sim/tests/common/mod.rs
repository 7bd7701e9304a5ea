//! What the tests of the driver on the simulated kernel share: IOCTL inputs written from the
//! protocol's structures, file opens, and the clean unload every test ends with.
#![allow(dead_code, reason = "each test file uses a part")]

use ferrofilter_core::protocol::{ForwardInput, InspectInput, OpenTargetInput, ioctl};
use ferrofilter_model::oplock::{CreateDisposition, CreateParams, share};
use ferrofilter_sim::fs::StreamKind;
use ferrofilter_sim::kernel::Machine;
use ferrofilter_sim::kernel::volume::{self, CreateArgs};
use zerocopy::IntoBytes;

/// The pipe the tests forward to.
pub const PIPE: &str = "\\??\\pipe\\ferro";

/// `OPEN_TARGET` input naming `pipe`.
#[must_use]
pub fn open_target_input(pipe: &str) -> Vec<u8> {
    OpenTargetInput::with_name(pipe)
}

/// `FORWARD` input tagged with `cancel_id`.
#[must_use]
pub fn forward_input(cancel_id: u64) -> Vec<u8> {
    ForwardInput::new(cancel_id).as_bytes().to_vec()
}

/// `INSPECT` input: `length` bytes at `offset` of the caller's `handle`.
#[must_use]
pub fn inspect_input(handle: u64, offset: u64, length: u32) -> Vec<u8> {
    InspectInput::new(handle, offset, length)
        .as_bytes()
        .to_vec()
}

/// Opens a control-device handle and points it at [`PIPE`], failing the test if either is refused.
#[must_use]
pub fn open_with_target(machine: &Machine) -> u64 {
    let handle = machine.open_control().expect("the control device opens");
    let reply = machine.ioctl(handle, ioctl::OPEN_TARGET, &open_target_input(PIPE), 0);
    assert_eq!(reply.status, 0, "{:#?}", machine.log());
    handle
}

/// Opens (creating if needed) the file at `path` on the simulated volume through the filter,
/// for `desired` access, sharing everything, without ECPs.
#[must_use]
pub fn open_file(path: &str, desired: u32) -> volume::Completed {
    volume::create(&CreateArgs {
        path: path.to_owned(),
        params: CreateParams {
            disposition: CreateDisposition::OpenIf,
            ..CreateParams::open(desired, share::FILE_SHARE_ALL)
        },
        kind: StreamKind::File,
        ecps: Vec::new(),
    })
}

/// Delivers what is still out, unloads, and fails the test on any verifier violation.
pub fn unload_clean(mut machine: Machine) {
    machine.deliver_all();
    let unloaded = machine
        .unload(false)
        .expect("nothing open: the unload proceeds");
    assert!(
        unloaded.violations.is_empty(),
        "{:#?}\n{:#?}\n{:?}",
        unloaded.violations,
        machine.log(),
        machine.calls()
    );
}

/// Closes the test's file handles and its control-device handle, then [`unload_clean`].
pub fn close_and_unload(machine: Machine, control: u64, handles: &[u64]) {
    for &handle in handles {
        assert!(volume::close(handle).status >= 0);
    }
    machine.close_control(control).unwrap();
    unload_clean(machine);
}
