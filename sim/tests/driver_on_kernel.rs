//! The driver's own code, loaded on the simulated kernel: load, the control device, forwarding
//! and cancelling, unload — and the verifier finds nothing.

mod common;

use common::{PIPE, forward_input, open_target_input, unload_clean};

use ferrofilter_core::protocol::{self, ioctl};
use ferrofilter_sim::kernel::{Machine, MachineConfig};

const PENDING: i32 = 0x103;

#[test]
fn loads_serves_forwards_and_unloads_clean() {
    let machine = Machine::boot(&MachineConfig::default());
    assert_eq!(machine.entry_status(), 0, "log: {:#?}", machine.log());
    let handle = machine.open_control().expect("the control device opens");
    let reply = machine.ioctl(handle, ioctl::GET_VERSION, &[], 64);
    assert_eq!(reply.status, 0);
    assert_eq!(
        u32::from_le_bytes(reply.output[8..12].try_into().unwrap()),
        protocol::PROTOCOL_VERSION
    );
    let reply = machine.ioctl(handle, ioctl::OPEN_TARGET, &open_target_input(PIPE), 0);
    assert_eq!(reply.status, 0, "{:#?}", machine.log());
    let reply = machine.ioctl(handle, ioctl::FORWARD, &forward_input(0), 16);
    assert_eq!(
        reply.status,
        PENDING,
        "{:#?} {:#?}",
        machine.log(),
        machine.violations()
    );
    assert_eq!(machine.pending_at_target().len(), 1);
    machine.close_control(handle).unwrap();
    unload_clean(machine);
}

#[test]
fn stress_through_the_driver_is_clean_and_accounted() {
    for faults in [false, true] {
        let config = ferrofilter_sim::stress::StressConfig {
            requests: 20_000,
            seed: 7,
            faults,
            ..Default::default()
        };
        let report = ferrofilter_sim::stress::run(config, |_| {}).expect("the driver loads");
        assert!(report.clean(), "{report:#?}");
        assert_eq!(report.counts.requests, 20_000);
        assert!(
            report.counts.completed > 0 && report.counts.cancelled > 0,
            "{report:#?}"
        );
    }
}
