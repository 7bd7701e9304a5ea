//! The device side of `scenario run`, the parts that run anywhere: which steps user mode can
//! perform and why the others are skipped ([`plan`]), the records the device produces
//! ([`DeviceRecord`]), and how an `expect` is evaluated against what the device observed
//! ([`evaluate_expect`]). The Windows code that performs the steps is in `scenario_device_win.rs`.
//!
//! A field is compared only when the device step observed it: the record carries exactly the
//! fields it observed, and every other expected field is listed as unchecked with the reason.

use ferrofilter_core::NtStatus;
pub use ferrofilter_sim::scenario::language::{InfoClass, OnBreak};
use serde_json::Value;

/// `OPLOCK_LEVEL_CACHE_READ` (winioctl.h).
pub const CACHE_READ: u32 = 1;
/// `OPLOCK_LEVEL_CACHE_HANDLE`.
pub const CACHE_HANDLE: u32 = 2;
/// `OPLOCK_LEVEL_CACHE_WRITE`.
pub const CACHE_WRITE: u32 = 4;
/// The transfer unit of non-cached I/O on the device: a multiple of every common sector size
/// (512 and 4096), so offsets, lengths and buffers aligned to it satisfy `FILE_FLAG_NO_BUFFERING`.
pub const SECTOR: usize = 4096;

#[path = "scenario_device/plan.rs"]
mod plan;
#[path = "scenario_device/records.rs"]
mod records;

pub use plan::{DeviceStep, Disposition, Plan, level_name, oplock_views, plan, safe_relative};
pub use records::{
    DeviceRecord, ExpectResult, Mismatch, StatusSeen, Unchecked, evaluate_expect, expected_status,
    unobserved_reason,
};

/// Performs the steps user mode can perform on one backend (the device on Windows).
pub trait Performer {
    /// Performs one step and returns what it observed, or why it could not be performed after
    /// all (for example a handle that is not open).
    ///
    /// # Errors
    /// The reason the step was not performed.
    fn perform(
        &mut self,
        index: usize,
        op: &str,
        step: &DeviceStep,
    ) -> Result<DeviceRecord, String>;

    /// The Win32 error an NTSTATUS becomes (`RtlNtStatusToDosError`).
    fn to_dos(&self, status: NtStatus) -> u32;
}

/// One step's outcome on the device.
#[derive(Clone, Debug, PartialEq)]
pub enum DeviceOutcome {
    /// Performed (an `expect` is performed when it compared at least one field).
    Performed(DeviceRecord),
    /// Not performed, and why.
    Skipped(String),
}

/// Runs the plan in order: performs, evaluates `expect`s against the previous step's record,
/// and reports every other step as skipped with its reason.
pub fn drive(plans: &[Plan], ops: &[String], performer: &mut dyn Performer) -> Vec<DeviceOutcome> {
    let mut outcomes: Vec<DeviceOutcome> = Vec::with_capacity(plans.len());
    for (index, plan) in plans.iter().enumerate() {
        let op = ops.get(index).map_or("", String::as_str);
        let outcome = match plan {
            Plan::Skip(why) => DeviceOutcome::Skipped(why.clone()),
            Plan::Perform(step) => match performer.perform(index, op, step) {
                Ok(record) => DeviceOutcome::Performed(record),
                Err(why) => DeviceOutcome::Skipped(why),
            },
            Plan::Expect { fields, of } => match of
                .filter(|&at| at < index)
                .and_then(|at| outcomes.get(at).map(|outcome| (at, outcome)))
            {
                Some((_, DeviceOutcome::Performed(previous))) => {
                    let to_dos = |status| performer.to_dos(status);
                    let result = evaluate_expect(fields, previous, &to_dos);
                    if result.checked.is_empty() {
                        let why: Vec<String> = result
                            .unchecked
                            .iter()
                            .map(|u| format!("`{}`: {}", u.field, u.reason))
                            .collect();
                        DeviceOutcome::Skipped(format!(
                            "no expected field was observed by the device: {}",
                            why.join("; ")
                        ))
                    } else {
                        let status = if result.passed() {
                            NtStatus::SUCCESS
                        } else {
                            NtStatus::UNSUCCESSFUL
                        };
                        let mut record = DeviceRecord::new(index, op, StatusSeen::Nt(status));
                        record
                            .observed
                            .insert("passed".into(), Value::Bool(result.passed()));
                        // `checked`, `mismatches` and `unchecked`, as the result serializes.
                        if let Ok(Value::Object(fields)) = serde_json::to_value(&result) {
                            record.observed.extend(fields);
                        }
                        DeviceOutcome::Performed(record)
                    }
                }
                Some((at, DeviceOutcome::Skipped(_))) => {
                    DeviceOutcome::Skipped(format!("checks step {at}, which was skipped"))
                }
                None => DeviceOutcome::Skipped("there is no step before it".to_owned()),
            },
        };
        outcomes.push(outcome);
    }
    outcomes
}

#[cfg(test)]
#[path = "scenario_device_tests.rs"]
mod tests;
