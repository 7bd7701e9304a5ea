//! The seeded race run, through the driver's own code on the simulated kernel: an application
//! with several control-device handles forwards N reads to the pipe, cancels single requests
//! (by the IDs `LIST` shows) and groups (by cancel ID), closes handles with requests
//! outstanding, while the target completes reads, other processors run completion routines at
//! spin-lock releases and inside `WdfRequestSend`, and (optionally) the kernel fails the
//! driver's calls. Then it closes everything, unloads the driver, and accounts for every
//! request from the application's side: each `FORWARD` got exactly one final status.

use std::collections::HashSet;
use std::time::Instant;

use ferrofilter_core::protocol::{
    CancelGroupInput, CancelInput, ForwardInput, ListEntry, ListHeader, OpenTargetInput,
    PartialIdInfo, ioctl,
};
use ferrofilter_core::{CancelId, NtStatus};
use serde::Serialize;
use zerocopy::{FromBytes, IntoBytes};

pub use crate::core_stress::StressConfig;
use crate::kernel::{Fault, FaultPlan, Machine, MachineConfig, Violation};

const STATUS_PENDING: i32 = 0x103;
const STATUS_SUCCESS: i32 = 0;
const STATUS_CANCELLED: i32 = 0xC000_0120_u32.cast_signed();
const PIPE: &str = "\\??\\pipe\\ferro";
const READ_LENGTH: usize = 16;

/// The counts every stress run reports: the sim's run here and ferroctl's mix on either backend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StressCounts {
    /// `FORWARD` requests issued.
    pub requests: u64,
    /// Completed with success (the target's bytes).
    pub completed: u64,
    /// Completed with `STATUS_CANCELLED`.
    pub cancelled: u64,
    /// Completed with another failure after being accepted.
    pub failed: u64,
    /// Sends that failed (completed by the driver with the send's status).
    pub send_failures: u64,
    /// Refused at once (full table, closing owner, injected failure before sending).
    pub refused: u64,
    /// Single cancels issued.
    pub single_cancels: u64,
    /// Group cancels issued.
    pub group_cancels: u64,
    /// Handles closed.
    pub owner_closes: u64,
    /// Cancels the driver reported it attempted.
    pub cancel_attempts: u64,
    /// Most requests outstanding at once.
    pub peak_outstanding: u32,
    /// Requests that never got a final status.
    pub leaked: u64,
}

/// What happened, every request accounted for. `V` is the verifier's violation type: the
/// simulated kernel's for the driver path, the model-check harness's for `core_stress`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StressReport<V = Violation> {
    /// The seed; the same seed replays the same run.
    pub seed: u64,
    /// The requests and cancels, and how each request ended; `peak_outstanding` is the driver's
    /// count.
    #[serde(flatten)]
    pub counts: StressCounts,
    /// Requests completed twice.
    pub double_completions: u64,
    /// Everything the verifier flagged.
    pub verifier_violations: u64,
    /// Every request got exactly one final status.
    pub accounted: bool,
    /// Wall time.
    pub elapsed_ms: u64,
    /// The first few violations.
    pub first_violations: Vec<V>,
    /// How many violations of each rule.
    pub violations_by_rule: std::collections::BTreeMap<String, u64>,
}

impl<V> StressReport<V> {
    /// Nothing leaked, nothing completed twice, the verifier saw nothing, all accounted for.
    #[must_use]
    pub const fn clean(&self) -> bool {
        self.counts.leaked == 0
            && self.double_completions == 0
            && self.verifier_violations == 0
            && self.accounted
    }
}

struct Owner {
    handle: u64,
    partial: u8,
    counter: u64,
    groups: Vec<CancelId>,
}

struct Run {
    machine: Machine,
    config: StressConfig,
    owners: Vec<Owner>,
    pending: HashSet<u64>,
    issued: u64,
    completed: u64,
    cancelled: u64,
    failed: u64,
    send_failures: u64,
    refused: u64,
    single: u64,
    group: u64,
    closes: u64,
}

/// The faults of a `--faults` run: the calls on the forwarding path fail now and then.
fn fault_plan(faults: bool) -> FaultPlan {
    if !faults {
        return FaultPlan::none();
    }
    FaultPlan::none()
        .with("WdfRequestSend", Fault::Random(20_000))
        .with("WdfRequestCreate", Fault::Random(10_000))
        .with("WdfRequestRetrieveOutputMemory", Fault::Random(5_000))
        .with("WdfIoTargetFormatRequestForRead", Fault::Random(5_000))
        .with("WdfSpinLockCreate", Fault::Random(20_000))
        .with("WdfIoTargetOpen", Fault::Random(20_000))
}

impl Run {
    fn new(config: StressConfig) -> Result<Self, NtStatus> {
        let machine = Machine::boot(&MachineConfig {
            seed: config.seed,
            faults: fault_plan(config.faults),
            strict: false,
            keep_log: false,
            sync_completion_ppm: 100_000,
            preempt_ppm: 250_000,
            pipes: vec![(PIPE.to_owned(), true)],
        });
        if !machine.loaded() {
            return Err(NtStatus::from_i32(machine.entry_status()));
        }
        let mut run = Self {
            machine,
            config,
            owners: Vec::new(),
            pending: HashSet::new(),
            issued: 0,
            completed: 0,
            cancelled: 0,
            failed: 0,
            send_failures: 0,
            refused: 0,
            single: 0,
            group: 0,
            closes: 0,
        };
        for _ in 0..config.owners.max(1) {
            run.open_owner();
        }
        Ok(run)
    }

    fn random(&self, bound: u64) -> u64 {
        self.machine.kernel(|k| k.random_below(bound))
    }

    fn open_owner(&mut self) {
        // An injected failure can refuse the open or the target; the application retries.
        for _ in 0..8 {
            let Ok(handle) = self.machine.open_control() else {
                continue;
            };
            let reply = self.machine.ioctl(
                handle,
                ioctl::OPEN_TARGET,
                &OpenTargetInput::with_name(PIPE),
                0,
            );
            let partial = self.machine.ioctl(handle, ioctl::GET_PARTIAL_ID, &[], 64);
            let partial = PartialIdInfo::read_from_prefix(&partial.output)
                .map_or(0, |(info, _)| u8::try_from(info.partial).unwrap_or(0));
            if reply.status == STATUS_SUCCESS {
                self.owners.push(Owner {
                    handle,
                    partial,
                    counter: 0,
                    groups: Vec::new(),
                });
                return;
            }
            let _ = self.machine.close_control(handle);
        }
    }

    fn settle(&mut self, status: i32, accepted: bool) {
        match status {
            STATUS_SUCCESS => self.completed += 1,
            STATUS_CANCELLED => self.cancelled += 1,
            _ if accepted => self.failed += 1,
            _ => self.refused += 1,
        }
    }

    fn harvest(&mut self) {
        for (irp, reply) in self.machine.take_replies() {
            if self.pending.remove(&irp) {
                self.settle(reply.status, true);
            }
        }
    }

    fn forward(&mut self) {
        if self.pending.len() >= (self.config.capacity / 2).max(1) as usize {
            self.machine
                .complete_one_at_target(STATUS_SUCCESS, READ_LENGTH);
            self.machine.deliver_all();
            return;
        }
        let at = usize::try_from(self.random(self.owners.len() as u64)).unwrap_or(0);
        let choice = self.random(10);
        let owner = &mut self.owners[at];
        let cancel_id = match choice {
            0..=3 => CancelId::NONE,
            4..=7 if !owner.groups.is_empty() => owner.groups[owner.groups.len() - 1],
            _ => {
                owner.counter += 1;
                let id = CancelId::new(owner.partial, owner.counter);
                if owner.groups.len() >= 16 {
                    owner.groups.swap_remove(0);
                }
                owner.groups.push(id);
                id
            }
        };
        let input = ForwardInput::new(cancel_id.0);
        let handle = owner.handle;
        self.issued += 1;
        let reply = self
            .machine
            .ioctl(handle, ioctl::FORWARD, input.as_bytes(), READ_LENGTH);
        match reply.pending {
            Some(irp) => {
                self.pending.insert(irp);
            }
            None if reply.status == STATUS_PENDING => {}
            None => self.settle(reply.status, false),
        }
    }

    fn cancel_one(&mut self) {
        let at = usize::try_from(self.random(self.owners.len() as u64)).unwrap_or(0);
        let handle = self.owners[at].handle;
        let room = size_of::<ListHeader>() + 8 * size_of::<ListEntry>();
        let listed = self.machine.ioctl(handle, ioctl::LIST, &[], room);
        let Ok((header, rows)) = ListHeader::read_from_prefix(&listed.output) else {
            return;
        };
        let shown = usize::try_from(header.returned).unwrap_or(0);
        if shown == 0 {
            return;
        }
        let pick = usize::try_from(self.random(shown as u64)).unwrap_or(0);
        let Some(row) = rows
            .chunks_exact(size_of::<ListEntry>())
            .nth(pick)
            .and_then(|bytes| ListEntry::read_from_bytes(bytes).ok())
        else {
            return;
        };
        let input = CancelInput::new(row.request_id);
        self.single += 1;
        let _ = self
            .machine
            .ioctl(handle, ioctl::CANCEL, input.as_bytes(), 64);
    }

    fn cancel_group(&mut self) {
        let at = usize::try_from(self.random(self.owners.len() as u64)).unwrap_or(0);
        let Some(cancel_id) = self.owners[at].groups.pop() else {
            return;
        };
        let input = CancelGroupInput::new(cancel_id.0);
        self.group += 1;
        let handle = self.owners[at].handle;
        let _ = self
            .machine
            .ioctl(handle, ioctl::CANCEL_GROUP, input.as_bytes(), 64);
    }

    fn close_owner(&mut self) {
        let at = usize::try_from(self.random(self.owners.len() as u64)).unwrap_or(0);
        let owner = self.owners.swap_remove(at);
        self.closes += 1;
        let _ = self.machine.close_control(owner.handle);
        self.open_owner();
    }

    fn step(&mut self) {
        if self.owners.is_empty() {
            self.open_owner();
            if self.owners.is_empty() {
                // Every open failed (injected faults): the application tries again next step.
                self.machine.deliver_one();
                return;
            }
        }
        match self.random(10_000) {
            0..3_000 => self.forward(),
            3_000..5_000 => {
                self.machine
                    .complete_one_at_target(STATUS_SUCCESS, READ_LENGTH);
            }
            5_000..7_500 => {
                self.machine.deliver_one();
            }
            roll => {
                #[expect(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "a ratio clamped to 0..=1 times 2500"
                )]
                let cancels = (self.config.cancel_ratio.clamp(0.0, 1.0) * 2_500.0) as u64;
                match roll - 7_500 {
                    r if r < cancels / 8 => self.cancel_one(),
                    r if r < cancels => self.cancel_group(),
                    r if r < cancels + 2 => self.close_owner(),
                    _ => {}
                }
            }
        }
        self.harvest();
    }

    fn wind_down(&mut self) -> (u64, u32) {
        let stats = self
            .owners
            .first()
            .map(|owner| self.machine.ioctl(owner.handle, ioctl::GET_STATS, &[], 256));
        let (cancel_attempts, peak) = stats
            .and_then(|reply| {
                ferrofilter_core::protocol::StatsInfo::read_from_prefix(&reply.output)
                    .ok()
                    .map(|(stats, _)| (stats.counts.cancel_attempts, stats.peak_outstanding))
            })
            .unwrap_or((0, 0));
        for owner in std::mem::take(&mut self.owners) {
            self.closes += 1;
            let _ = self.machine.close_control(owner.handle);
        }
        loop {
            self.machine.deliver_all();
            self.harvest();
            if !self
                .machine
                .complete_one_at_target(STATUS_SUCCESS, READ_LENGTH)
                && self.machine.deliver_all() == 0
            {
                break;
            }
        }
        self.harvest();
        (cancel_attempts, peak)
    }
}

/// Runs the stress scenario through the driver; `progress` gets the number forwarded so far.
///
/// # Errors
/// The driver failed to load (its `DriverEntry` status); `STATUS_NOT_SUPPORTED` for
/// `naive_cancel`, a property of a driver build, not of a run (see `core_stress`).
pub fn run(config: StressConfig, mut progress: impl FnMut(u64)) -> Result<StressReport, NtStatus> {
    if config.naive_cancel {
        return Err(NtStatus::NOT_SUPPORTED);
    }
    let started = Instant::now();
    let mut run = Run::new(config)?;
    while run.issued < config.requests {
        run.step();
        if run.issued % 4096 == 0 {
            progress(run.issued);
        }
    }
    let (cancel_attempts, peak_outstanding) = run.wind_down();
    progress(run.issued);
    let unloaded = run.machine.unload(false);
    let violations = match unloaded {
        Ok(unloaded) => unloaded.violations,
        Err(status) => {
            let mut seen = run.machine.violations();
            seen.push(Violation::UnloadIncomplete {
                detail: format!("the unload was refused: {:#x}", status.cast_unsigned()),
            });
            seen
        }
    };
    let double_completions = violations
        .iter()
        .filter(|v| matches!(v, Violation::DoubleCompletion { .. }))
        .count() as u64;
    let mut violations_by_rule = std::collections::BTreeMap::new();
    for violation in &violations {
        *violations_by_rule.entry(violation.rule()).or_insert(0) += 1;
    }
    let leaked = run.pending.len() as u64;
    let settled = run.completed + run.cancelled + run.failed + run.send_failures + run.refused;
    Ok(StressReport {
        seed: config.seed,
        counts: StressCounts {
            requests: run.issued,
            completed: run.completed,
            cancelled: run.cancelled,
            failed: run.failed,
            send_failures: run.send_failures,
            refused: run.refused,
            single_cancels: run.single,
            group_cancels: run.group,
            owner_closes: run.closes,
            cancel_attempts,
            peak_outstanding,
            leaked,
        },
        double_completions,
        verifier_violations: violations.len() as u64,
        accounted: leaked == 0 && settled == run.issued,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        first_violations: violations.into_iter().take(8).collect(),
        violations_by_rule,
    })
}
