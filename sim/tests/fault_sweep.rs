//! Every call the driver makes that can fail, failed once in turn (each call site reached by a
//! short session, by its occurrence): the driver must answer each with a failure status, leak
//! nothing, complete nothing twice, and unload clean. Seeded and replayable.

mod common;

use common::{PIPE, forward_input, open_target_input};

use ferrofilter_core::CancelId;
use ferrofilter_core::protocol::{CancelGroupInput, Header, ioctl};
use ferrofilter_sim::kernel::{
    Fault, FaultPlan, Machine, MachineConfig, Violation, rules::FALLIBLE,
};
use zerocopy::IntoBytes;

/// Load, open two handles, open targets, forward, cancel a group, close with one outstanding,
/// complete the rest, unload. Returns the machine's violations and whether it loaded.
fn session(faults: FaultPlan) -> (bool, Vec<Violation>, Machine) {
    let mut machine = Machine::boot(&MachineConfig {
        faults,
        pipes: vec![(PIPE.to_owned(), true)],
        ..MachineConfig::default()
    });
    if !machine.loaded() {
        assert!(
            machine.entry_status() < 0,
            "a failed load reports an error status"
        );
        let violations = machine.violations();
        return (false, violations, machine);
    }
    let mut handles = Vec::new();
    for _ in 0..2 {
        if let Ok(handle) = machine.open_control() {
            let reply = machine.ioctl(handle, ioctl::OPEN_TARGET, &open_target_input(PIPE), 0);
            assert!(reply.pending.is_none());
            handles.push(handle);
        }
    }
    for (n, &handle) in handles.iter().enumerate() {
        for i in 0..3u64 {
            let cancel_id = if i == 0 { 0 } else { CancelId::new(0, i).0 };
            let reply = machine.ioctl(handle, ioctl::FORWARD, &forward_input(cancel_id), 16);
            // Either pending, or refused with an error status: never "success" with no read.
            assert!(reply.pending.is_some() || reply.status < 0, "{reply:?}");
        }
        if n == 0 {
            let input = CancelGroupInput {
                header: Header::for_struct::<CancelGroupInput>(),
                cancel_id: CancelId::new(0, 1).0,
            };
            let _ = machine.ioctl(handle, ioctl::CANCEL_GROUP, input.as_bytes(), 64);
        }
    }
    machine.complete_one_at_target(0, 16);
    machine.deliver_all();
    for handle in handles {
        machine.close_control(handle).unwrap();
    }
    while machine.complete_one_at_target(0, 16) {}
    machine.deliver_all();
    let violations = match machine.unload(false) {
        Ok(unloaded) => unloaded.violations,
        Err(status) => panic!("nothing is open, yet the unload was refused: {status:#x}"),
    };
    (true, violations, machine)
}

#[test]
fn a_clean_session_is_clean() {
    let (loaded, violations, _) = session(FaultPlan::none());
    assert!(loaded);
    assert!(violations.is_empty(), "{violations:#?}");
}

#[test]
fn every_fallible_call_failed_once_in_turn() {
    // How often the clean session reaches each fallible routine.
    let (_, _, machine) = session(FaultPlan::none());
    let calls = machine.calls();
    drop(machine);
    let mut runs = 0;
    let mut reached = Vec::new();
    for routine in FALLIBLE {
        let count = calls.get(routine).copied().unwrap_or(0);
        if count > 0 {
            reached.push(*routine);
        }
        for n in 1..=count {
            let (_, violations, _) = session(FaultPlan::none().with(routine, Fault::Nth(n)));
            assert!(
                violations.is_empty(),
                "{routine} failing at call {n}: {violations:#?}"
            );
            runs += 1;
        }
    }
    // The session reaches the calls that matter on the forwarding and load paths.
    for routine in [
        "FltRegisterFilter",
        "FltStartFiltering",
        "WdfDriverCreate",
        "WdfControlDeviceInitAllocate",
        "WdfDeviceCreate",
        "WdfIoQueueCreate",
        "WdfSpinLockCreate",
        "WdfRequestSend",
    ] {
        assert!(
            reached.contains(&routine),
            "{routine} not reached: {calls:?}"
        );
    }
    assert!(runs >= 20, "{runs} runs");
}
