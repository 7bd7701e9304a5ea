//! The driver shell on the sim: `DriverEntry`'s bring-up with a failure injected at any step, and
//! unload, following the decisions in `ferrofilter_core::policy` exactly as `driver/src/entry.rs`
//! does, with every created object accounted for.

use ferrofilter_core::NtStatus;
use ferrofilter_core::policy::{self, BringUp, TearDown};

/// What exists after a bring-up or teardown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "four independent kernel objects"
)]
pub struct ShellState {
    /// The KMDF driver object (the framework deletes it when `DriverEntry` fails).
    pub wdf_driver: bool,
    /// The filter is registered with Filter Manager.
    pub filter_registered: bool,
    /// The control device exists.
    pub control_device: bool,
    /// Filter Manager is calling the filter's callbacks.
    pub filtering: bool,
}

impl ShellState {
    /// Whether nothing is left behind.
    #[must_use]
    pub const fn is_empty(self) -> bool {
        !self.wdf_driver && !self.filter_registered && !self.control_device && !self.filtering
    }
}

/// Runs `DriverEntry` with `fail_at` (if any) failing with `status`. Returns the result and what
/// exists afterwards.
pub fn driver_entry(
    fail_at: Option<BringUp>,
    status: NtStatus,
) -> (Result<(), NtStatus>, ShellState) {
    let mut state = ShellState::default();
    for step in BringUp::ORDER {
        if fail_at == Some(step) {
            for action in policy::unwind(step) {
                tear_down(action, &mut state);
            }
            // KMDF deletes the driver object when DriverEntry returns a failure.
            state.wdf_driver = false;
            return (Err(status), state);
        }
        match step {
            BringUp::CreateWdfDriver => state.wdf_driver = true,
            BringUp::RegisterFilter => state.filter_registered = true,
            BringUp::CreateControlDevice => state.control_device = true,
            BringUp::StartFiltering => state.filtering = true,
        }
    }
    (Ok(()), state)
}

/// Filter Manager's unload call: refused while handles are open unless mandatory; otherwise the
/// core's unload sequence runs (sent I/O is cancelled and drained before, by the forwarder).
///
/// # Errors
/// `STATUS_FLT_DO_NOT_DETACH` when the unload is refused (nothing changes).
pub fn unload(state: &mut ShellState, mandatory: bool, open_handles: u32) -> Result<(), NtStatus> {
    policy::unload(mandatory, open_handles)?;
    for action in policy::UNLOAD_SEQUENCE {
        tear_down(action, state);
    }
    state.wdf_driver = false;
    Ok(())
}

fn tear_down(action: TearDown, state: &mut ShellState) {
    match action {
        TearDown::UnregisterFilter => {
            // FltUnregisterFilter stops the callbacks and waits for those in flight.
            state.filtering = false;
            state.filter_registered = false;
        }
        TearDown::DeleteControlDevice => state.control_device = false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_at_any_step_leaves_nothing_behind() {
        for step in BringUp::ORDER {
            let (result, state) = driver_entry(Some(step), NtStatus::INSUFFICIENT_RESOURCES);
            assert_eq!(result, Err(NtStatus::INSUFFICIENT_RESOURCES), "{step:?}");
            assert!(state.is_empty(), "failing {step:?} left {state:?}");
        }
    }

    #[test]
    fn unload_is_refused_while_handles_are_open_unless_mandatory() {
        let (result, mut state) = driver_entry(None, NtStatus::SUCCESS);
        assert_eq!(result, Ok(()));
        assert!(state.filtering && state.control_device);
        assert_eq!(
            unload(&mut state, false, 1),
            Err(NtStatus::FLT_DO_NOT_DETACH)
        );
        assert!(state.filtering, "a refused unload changes nothing");
        assert_eq!(unload(&mut state, true, 1), Ok(()));
        assert!(state.is_empty());
    }
}
