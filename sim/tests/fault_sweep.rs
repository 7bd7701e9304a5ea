//! Every call the driver makes that can fail, failed once in turn (each call site reached by a
//! short session, by its occurrence): the driver must answer each with a failure status, leak
//! nothing, complete nothing twice, and unload clean. Seeded and replayable.

mod common;

use common::{PIPE, forward_input, inspect_input, open_file, open_target_input};

use ferrofilter_core::ecp;
use ferrofilter_core::protocol::{CancelGroupInput, InspectOutput, ioctl};
use ferrofilter_core::{CancelId, NtStatus};
use ferrofilter_model::oplock::{CreateDisposition, CreateParams, share};
use ferrofilter_sim::fs::StreamKind;
use ferrofilter_sim::kernel::{
    Fault, FaultPlan, Machine, MachineConfig, Violation, rules::FALLIBLE, volume,
};
use zerocopy::{FromBytes, IntoBytes};

/// What the session's file holds.
const TEXT: &[u8] = b"swept";

/// The filter's inspect path: a file written through the filter, `INSPECT` of its handle, the
/// handle closed. An inspect that succeeds returns exactly the bytes written; one that fails
/// returns nothing. Returns the inspect's status (`None` when the file could not be opened).
fn inspect_once(machine: &Machine, control: u64) -> Option<i32> {
    let created = open_file("\\sweep.txt", 0x1 | 0x2); // FILE_READ_DATA | FILE_WRITE_DATA
    let Some(file) = created.handle else {
        assert!(created.status < 0, "no handle, yet {created:?}");
        return None;
    };
    let wrote = volume::write(file, 0, TEXT, false, 0).status;
    let reply = machine.ioctl(
        control,
        ioctl::INSPECT,
        &inspect_input(file, 0, 5),
        size_of::<InspectOutput>() + 5,
    );
    if reply.status >= 0 {
        assert_eq!(reply.status, 0, "{reply:?}");
        assert_eq!(wrote, 0, "an inspect succeeded after a failed write");
        let (out, data) = InspectOutput::read_from_prefix(&reply.output).unwrap();
        assert!(
            out.bytes_read == 5 && data.get(..5) == Some(&TEXT[..5]),
            "a successful INSPECT returned other bytes than were written: {reply:?}"
        );
        assert_eq!(reply.information, size_of::<InspectOutput>() + 5);
    } else {
        assert_eq!(
            reply.information, 0,
            "a failed inspect returned data: {reply:?}"
        );
    }
    assert!(volume::close(file).status >= 0);
    Some(reply.status)
}

/// A create carrying an oplock-key ECP (the pre-create's ECP walk and key decisions), closed
/// again: whatever fails, the create is never failed for the filter's sake.
fn keyed_open_once() {
    let key = ferrofilter_core::guid::Guid::from_fields(0x1111_1111, 0x2222, 0x3333, [4; 8]);
    let created = volume::create(&volume::CreateArgs {
        path: "\\keyed.txt".to_owned(),
        params: CreateParams {
            disposition: CreateDisposition::OpenIf,
            ..CreateParams::open(0x1, share::FILE_SHARE_ALL) // FILE_READ_DATA
        },
        kind: StreamKind::File,
        ecps: vec![volume::SimEcp {
            ecp_type: ecp::GUID_ECP_OPLOCK_KEY,
            from_user_mode: false,
            context: ecp::encode_oplock_key(ecp::OplockKeyEcp { key }).to_vec(),
        }],
    });
    assert_eq!(created.status, 0, "a keyed create failed: {created:?}");
    if let Some(handle) = created.handle {
        assert!(volume::close(handle).status >= 0);
    }
}

/// Load, open two handles, open targets, forward, cancel a group, inspect a file through the
/// filter, close with one outstanding, complete the rest, unload. Returns whether it loaded,
/// the machine's violations, the machine and the inspect's status.
fn session(faults: FaultPlan) -> (bool, Vec<Violation>, Machine, Option<i32>) {
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
        return (false, violations, machine, None);
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
            let input = CancelGroupInput::new(CancelId::new(0, 1).0);
            let _ = machine.ioctl(handle, ioctl::CANCEL_GROUP, input.as_bytes(), 64);
        }
    }
    let inspected = handles
        .first()
        .and_then(|&control| inspect_once(&machine, control));
    keyed_open_once();
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
    (true, violations, machine, inspected)
}

#[test]
fn a_clean_session_is_clean() {
    let (loaded, violations, _, inspected) = session(FaultPlan::none());
    assert!(loaded);
    assert!(violations.is_empty(), "{violations:#?}");
    assert_eq!(inspected, Some(0), "the clean session's inspect succeeds");
}

#[test]
fn every_fallible_call_failed_once_in_turn() {
    // How often the clean session reaches each fallible routine.
    let (_, _, machine, _) = session(FaultPlan::none());
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
            let (_, violations, _, inspected) =
                session(FaultPlan::none().with(routine, Fault::Nth(n)));
            assert!(
                violations.is_empty(),
                "{routine} failing at call {n}: {violations:#?}"
            );
            if *routine == "FltReadFile" {
                // The read's own failure is what the caller gets.
                assert_eq!(
                    inspected.map(NtStatus::from_i32),
                    Some(NtStatus::INSUFFICIENT_RESOURCES),
                    "{routine} failing at call {n}"
                );
            }
            runs += 1;
        }
    }
    // The session reaches the calls that matter on the forwarding and load paths.
    for routine in [
        ferrofilter_sim::kernel::pool::ROUTINE,
        "FltRegisterFilter",
        "FltStartFiltering",
        "WdfDriverCreate",
        "WdfControlDeviceInitAllocate",
        "WdfDeviceCreate",
        "WdfIoQueueCreate",
        "WdfSpinLockCreate",
        "WdfRequestSend",
        "FltReadFile",
        "FltGetStreamHandleContext",
        "FltGetVolumeFromFileObject",
        "ObReferenceObjectByHandle",
    ] {
        assert!(
            reached.contains(&routine),
            "{routine} not reached: {calls:?}"
        );
    }
    assert!(runs >= 20, "{runs} runs");
    eprintln!(
        "fault sweep: {runs} runs over {} routines: {calls:?}",
        reached.len()
    );
}
