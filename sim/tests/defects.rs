//! Regression tests for defects found in the driver by review, each running the driver's own
//! code on the simulated kernel and failing before its fix.

mod common;

use common::{PIPE, forward_input, open_target_input, open_with_target, unload_clean};

use std::sync::{Arc, Mutex};

use ferrofilter_core::protocol::ioctl;
use ferrofilter_sim::kernel::machine::{honour_cancels, open_control_from_another_thread};
use ferrofilter_sim::kernel::{Machine, MachineConfig, Violation};

const PENDING: i32 = 0x103;
const STATUS_ACCESS_DENIED: i32 = 0xC000_0022_u32.cast_signed();
const STATUS_DELETE_PENDING: i32 = 0xC000_0056_u32.cast_signed();
const STATUS_FLT_DO_NOT_DETACH: i32 = 0xC01C_0010_u32.cast_signed();
const LOCKED_PIPE: &str = "\\??\\pipe\\admins-denied";

fn config() -> MachineConfig {
    MachineConfig {
        pipes: vec![(PIPE.to_owned(), true), (LOCKED_PIPE.to_owned(), false)],
        ..MachineConfig::default()
    }
}

fn forward(machine: &Machine, handle: u64) -> Option<u64> {
    let reply = machine.ioctl(handle, ioctl::FORWARD, &forward_input(0), 16);
    assert_eq!(reply.status, PENDING, "{reply:?} {:#?}", machine.log());
    reply.pending
}

/// Forwards a read the pipe will not let be cancelled, then closes the handle it went out on;
/// returns the read's IRP.
fn close_with_a_stuck_read(machine: &mut Machine) -> u64 {
    let handle = open_with_target(machine);
    let irp = forward(machine, handle).unwrap();
    machine.set_target_ignores_cancel(true);
    machine.close_control(handle).unwrap();
    irp
}

/// `OPEN_TARGET` used to open the pipe from kernel mode without an access check, so a pipe whose
/// ACL denies the caller opened anyway.
#[test]
fn open_target_checks_the_callers_access_to_the_pipe() {
    let machine = Machine::boot(&config());
    let handle = machine.open_control().unwrap();
    let denied = machine.ioctl(
        handle,
        ioctl::OPEN_TARGET,
        &open_target_input(LOCKED_PIPE),
        0,
    );
    assert_eq!(denied.status, STATUS_ACCESS_DENIED, "{:#?}", machine.log());
    let allowed = machine.ioctl(handle, ioctl::OPEN_TARGET, &open_target_input(PIPE), 0);
    assert_eq!(allowed.status, 0);
    // The read goes to the pipe the caller opened, and comes back.
    forward(&machine, handle).unwrap();
    assert!(machine.complete_one_at_target(0, 16));
    machine.deliver_all();
    machine.close_control(handle).unwrap();
    unload_clean(machine);
}

/// Forwarding used to raise the live control device's `StackSize` at run time; the request now
/// travels in one created for the target, and the framework's structure is left alone.
#[test]
fn forwarding_leaves_the_control_devices_stack_size_alone() {
    let machine = Machine::boot(&config());
    let handle = open_with_target(&machine);
    for _ in 0..4 {
        forward(&machine, handle).unwrap();
    }
    assert!(
        !machine
            .violations()
            .iter()
            .any(|v| matches!(v, Violation::FrameworkStructureWritten { .. }))
    );
    machine.close_control(handle).unwrap();
    unload_clean(machine);
}

/// With no `InstanceQueryTeardownCallback`, Filter Manager refuses `fltmc detach`.
#[test]
fn a_manual_detach_is_allowed() {
    let machine = Machine::boot(&config());
    assert_ne!(machine.detach(), Err(STATUS_FLT_DO_NOT_DETACH));
    assert_eq!(
        machine.detach().err(),
        Some(0xC01C_0015_u32.cast_signed()),
        "detached already"
    );
    unload_clean(machine);
}

/// A read that never comes back (the pipe ignores the cancel) used to be able to hang `fltmc
/// unload`: the request still references the closed handle's file object, so its close has not
/// come, the handle gate counts it, and an optional unload is refused at once with
/// `STATUS_FLT_DO_NOT_DETACH` (no wait); the driver keeps serving, and once the read completes
/// the unload goes through clean.
#[test]
fn an_unload_that_cannot_drain_is_refused_and_the_driver_keeps_serving() {
    let mut machine = Machine::boot(&config());
    let irp = close_with_a_stuck_read(&mut machine);
    let before = machine.clock();
    assert_eq!(machine.unload(false).err(), Some(STATUS_FLT_DO_NOT_DETACH));
    assert_eq!(machine.clock(), before, "refused without waiting");
    // Still serving: a new handle opens and answers.
    let again = machine.open_control().expect("the queue serves again");
    assert_eq!(machine.ioctl(again, ioctl::GET_VERSION, &[], 64).status, 0);
    machine.close_control(again).unwrap();
    // The pipe finally completes the cancelled read; now the unload goes through, clean.
    machine.set_target_ignores_cancel(false);
    machine.deliver_all();
    assert!(machine.reply(irp).is_some());
    unload_clean(machine);
}

/// A `CreateFile` on the control device racing unload used to leave a handle on a deleted
/// device: once unload started, a create is refused with `STATUS_DELETE_PENDING`.
#[test]
fn a_create_that_races_unload_is_refused() {
    let mut machine = Machine::boot(&config());
    close_with_a_stuck_read(&mut machine);
    // While unload waits for the read to drain, another thread opens the device.
    let seen: Arc<Mutex<Option<Result<u64, i32>>>> = Arc::default();
    let slot = Arc::clone(&seen);
    machine.during_next_wait(move || {
        *slot.lock().unwrap() = Some(open_control_from_another_thread());
        // Then the pipe completes the cancelled read, and the drain finishes.
        honour_cancels();
    });
    // `sc stop`: a mandatory unload, which waits for the read the closed handle still has out.
    let unloaded = machine
        .unload(true)
        .expect("a mandatory unload always proceeds");
    assert_eq!(*seen.lock().unwrap(), Some(Err(STATUS_DELETE_PENDING)));
    assert!(unloaded.violations.is_empty(), "{:#?}", unloaded.violations);
}

/// The driver's statics used to survive an unload: a second load in one process found them
/// torn down and did not tear down again.
#[test]
fn a_second_load_starts_clean_and_unloads_clean() {
    for _ in 0..2 {
        let machine = Machine::boot(&config());
        assert!(machine.loaded());
        let handle = open_with_target(&machine);
        forward(&machine, handle).unwrap();
        machine.close_control(handle).unwrap();
        unload_clean(machine);
    }
}
