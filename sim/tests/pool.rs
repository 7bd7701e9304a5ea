//! The kernel's accounting of the driver's heap (`kernel::pool`): what is allocated while the
//! driver's code runs is the driver's pool — failed when the fault plan says so, flagged when
//! allocated with a spin lock held, and reported at unload when it is never freed. Each rule is
//! shown catching its bug here with code that stands in for the driver's; `.ci/planted-bugs`
//! shows the same in a copy of `driver/src`.

use ferrofilter_sim::kernel::{Fault, FaultPlan, Machine, MachineConfig, Violation, pool};

fn boot(faults: FaultPlan) -> Machine {
    let machine = Machine::boot(&MachineConfig {
        faults,
        ..MachineConfig::default()
    });
    assert!(machine.loaded());
    machine
}

fn leaks(violations: &[Violation]) -> Vec<&Violation> {
    violations
        .iter()
        .filter(|v| {
            matches!(
                v,
                Violation::Leak {
                    what: "pool allocations",
                    ..
                }
            )
        })
        .collect()
}

#[test]
fn a_block_the_driver_never_frees_is_reported_at_unload() {
    let mut machine = boot(FaultPlan::none());
    let leaked = pool::into_driver(|| Box::leak(Box::new([7u8; 40])));
    assert_eq!(leaked[0], 7);
    let unloaded = machine.unload(true).unwrap();
    let found = leaks(&unloaded.violations);
    assert_eq!(found.len(), 1, "{:?}", unloaded.violations);
    assert!(
        matches!(found[0], Violation::Leak { count: 1, detail, .. } if detail == "40 bytes"),
        "{found:?}"
    );
}

#[test]
fn blocks_the_driver_frees_and_the_kernels_own_are_not_reported() {
    let mut machine = boot(FaultPlan::none());
    pool::into_driver(|| drop(vec![1u8; 100]));
    // Allocated by the driver, given back by the driver later (another callback).
    let kept = pool::into_driver(|| Box::new(3u32));
    pool::into_driver(move || drop(kept));
    // The harness's (not the driver's) allocations never count.
    let harness = vec![0u8; 64];
    let unloaded = machine.unload(true).unwrap();
    drop(harness);
    assert!(
        leaks(&unloaded.violations).is_empty(),
        "{:?}",
        unloaded.violations
    );
}

#[test]
fn a_pool_fault_fails_the_drivers_allocation_only() {
    let mut machine = boot(FaultPlan::none());
    // Armed once the driver is loaded (its DriverEntry allocates too).
    machine.kernel(|k| k.faults = FaultPlan::none().with(pool::ROUTINE, Fault::Nth(1)));
    let mut harness: Vec<u64> = Vec::new();
    assert!(
        harness.try_reserve(16).is_ok(),
        "the harness's allocation is not the driver's"
    );
    let first = pool::into_driver(|| Vec::<u64>::new().try_reserve(16).is_ok());
    let second = pool::into_driver(|| Vec::<u64>::new().try_reserve(16).is_ok());
    assert!(!first, "the first driver allocation was to fail");
    assert!(second, "only the first one fails");
    let unloaded = machine.unload(true).unwrap();
    assert!(unloaded.violations.is_empty(), "{:?}", unloaded.violations);
}

#[test]
fn an_allocation_with_a_spin_lock_held_is_flagged() {
    let mut machine = boot(FaultPlan::none());
    machine.kernel(|k| k.held_locks.push(0x1000));
    pool::into_driver(|| drop(vec![0u8; 8]));
    machine.kernel(|k| k.held_locks.clear());
    pool::into_driver(|| drop(vec![0u8; 8]));
    let unloaded = machine.unload(true).unwrap();
    let flagged: Vec<_> = unloaded
        .violations
        .iter()
        .filter(|v| matches!(v, Violation::CalledWithSpinLockHeld { routine } if *routine == pool::ROUTINE))
        .collect();
    assert_eq!(flagged.len(), 1, "{:?}", unloaded.violations);
}
