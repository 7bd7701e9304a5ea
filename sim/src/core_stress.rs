//! The core-only path: the same race run against `ferrofilter-core`'s forwarder over the
//! model-check harness ([`crate::driver`], the ports loom explores), not the driver: the baseline
//! the driver path (`stress`) is measured against, and the naive-cancel negative control of
//! core (`negative-control`).
//!
//! The seeded race run: forward N requests with random completions, single and group cancels,
//! owner closes and (optionally) injected faults, then account for every one of them.

use std::time::Instant;

use ferrofilter_core::{CancelId, NtStatus, OwnerId, RequestId};

use crate::driver::{SimConfig, SimDriver};
use crate::stress::StressCounts;
use crate::verifier::Violation;
use crate::wdf::{Faults, TargetState};

/// What to run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StressConfig {
    /// Requests to forward.
    pub requests: u64,
    /// Seed for every decision.
    pub seed: u64,
    /// Share of actions that cancel (single or group), 0.0 to 1.0.
    pub cancel_ratio: f64,
    /// Inject send failures, allocation failures and target stop/removal.
    pub faults: bool,
    /// Owners (control-device handles) open at a time.
    pub owners: u32,
    /// Table capacity.
    pub capacity: u32,
    /// Cancel without the reference step. Only with the `negative-control` feature; it exists to
    /// show the verifier catches that bug.
    pub naive_cancel: bool,
}

impl Default for StressConfig {
    fn default() -> Self {
        Self {
            requests: 10_000,
            seed: 1,
            cancel_ratio: 0.2,
            faults: false,
            owners: 4,
            capacity: 4096,
            naive_cancel: false,
        }
    }
}

/// What happened, every request accounted for: the driver path's report, with the harness's
/// violations.
pub type StressReport = crate::stress::StressReport<Violation>;

struct OwnerSlot {
    id: OwnerId,
    counter: u64,
    groups: Vec<CancelId>,
    recent: Vec<RequestId>,
}

impl OwnerSlot {
    fn open(driver: &SimDriver) -> Result<Self, NtStatus> {
        Ok(Self {
            id: driver.open()?,
            counter: 0,
            groups: Vec::new(),
            recent: Vec::new(),
        })
    }
}

/// How often each action is picked, relative to each other.
struct Weights {
    forward: u64,
    complete: u64,
    deliver: u64,
    cancel: u64,
    group: u64,
    close: u64,
    target: u64,
}

impl Weights {
    fn new(cancel_ratio: f64, faults: bool) -> Self {
        let ratio = if cancel_ratio.is_finite() {
            cancel_ratio.clamp(0.0, 1.0)
        } else {
            0.0
        };
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "0..=3000"
        )]
        let cancels = (ratio * 3000.0).round() as u64;
        // Completions run slower than forwards so the table fills up to its high-water mark and
        // cancels race with a crowd rather than with an empty table; closes are rare for the same
        // reason.
        Self {
            forward: 3000,
            complete: 2000,
            deliver: 2500,
            cancel: cancels * 3 / 4,
            group: cancels / 4,
            close: 1,
            target: u64::from(faults),
        }
    }

    const fn total(&self) -> u64 {
        self.forward
            + self.complete
            + self.deliver
            + self.cancel
            + self.group
            + self.close
            + self.target
    }
}

/// The actions a step can take, picked by weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Forward,
    Complete,
    Deliver,
    Cancel,
    CancelGroup,
    CloseOwner,
    TargetFault,
}

impl Weights {
    fn pick(&self, mut roll: u64) -> Action {
        let table = [
            (self.forward, Action::Forward),
            (self.complete, Action::Complete),
            (self.deliver, Action::Deliver),
            (self.cancel, Action::Cancel),
            (self.group, Action::CancelGroup),
            (self.close, Action::CloseOwner),
        ];
        for (weight, action) in table {
            if roll < weight {
                return action;
            }
            roll -= weight;
        }
        Action::TargetFault
    }
}

/// The running scenario: the driver, the owners the "application" holds, and what it did.
struct Run {
    config: StressConfig,
    driver: SimDriver,
    owners: Vec<OwnerSlot>,
    forwarded: u64,
    single: u64,
    group: u64,
    closes: u64,
    target_down_for: u32,
}

impl Run {
    fn new(config: StressConfig) -> Result<Self, NtStatus> {
        let faults = if config.faults {
            Faults::ALL
        } else {
            Faults::INTERLEAVINGS
        };
        let driver = SimDriver::new(SimConfig {
            seed: config.seed,
            capacity: config.capacity,
            faults,
            strict: false,
        })?;
        let owners = (0..config.owners.max(1))
            .map(|_| OwnerSlot::open(&driver))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            config,
            driver,
            owners,
            forwarded: 0,
            single: 0,
            group: 0,
            closes: 0,
            target_down_for: 0,
        })
    }

    fn step(&mut self, action: Action) {
        let framework = self.driver.framework();
        if self.target_down_for > 0 {
            self.target_down_for -= 1;
            if self.target_down_for == 0 {
                framework.set_target_state(TargetState::Started);
            }
        }
        match action {
            Action::Forward => self.forward(),
            Action::Complete => {
                self.driver.complete_random(NtStatus::SUCCESS);
            }
            Action::Deliver => {
                self.driver.deliver_one();
            }
            Action::Cancel => self.cancel(),
            Action::CancelGroup => self.cancel_group(),
            Action::CloseOwner => self.close_owner(),
            Action::TargetFault => self.target_fault(),
        }
    }

    fn forward(&mut self) {
        let framework = self.driver.framework();
        // Keep the table below capacity: past the high-water mark, finish instead of forwarding.
        let high_water = (self.config.capacity / 2).max(1) as usize;
        if framework.pending_at_target() + framework.returned_len() >= high_water {
            self.driver.complete_random(NtStatus::SUCCESS);
            self.driver.deliver_all();
            return;
        }
        let slot = pick_owner(&self.driver, &mut self.owners);
        let cancel_id = choose_cancel_id(&self.driver, slot);
        self.forwarded += 1;
        if let Ok(id) = self.driver.forward(slot.id, cancel_id) {
            remember(&mut slot.recent, id, 64);
        }
    }

    fn cancel(&mut self) {
        let framework = self.driver.framework();
        // Half the time aim at a request the target has finished but whose completion routine
        // has not run: the race the reference step exists for.
        let racing = framework.random_below(2) == 0;
        let target = if let Some(id) = framework.random_returned_id().filter(|_| racing) {
            self.driver
                .forwarder()
                .owner_of(id)
                .map(|owner| (owner, id))
        } else {
            let slot = pick_owner(&self.driver, &mut self.owners);
            if slot.recent.is_empty() {
                None
            } else {
                let index = index_below(&self.driver, slot.recent.len());
                Some((slot.id, slot.recent.swap_remove(index)))
            }
        };
        if let Some((owner, id)) = target {
            self.single += 1;
            // A stale or already-completed ID is valid input: it must find nothing.
            let _ = cancel_one(&self.driver, self.config.naive_cancel, owner, id);
        }
    }

    fn cancel_group(&mut self) {
        let slot = pick_owner(&self.driver, &mut self.owners);
        if !slot.groups.is_empty() {
            let index = index_below(&self.driver, slot.groups.len());
            let cancel_id = slot.groups.swap_remove(index);
            self.group += 1;
            let _ = self.driver.forwarder().cancel_group(slot.id, cancel_id);
        }
    }

    fn close_owner(&mut self) {
        let index = index_below(&self.driver, self.owners.len());
        let closing = self.owners.swap_remove(index);
        self.closes += 1;
        let _ = self.driver.close(closing.id);
        if let Ok(fresh) = OwnerSlot::open(&self.driver) {
            self.owners.push(fresh);
        }
    }

    fn target_fault(&mut self) {
        if self.target_down_for == 0 {
            let framework = self.driver.framework();
            let state = if framework.chance(500_000) {
                TargetState::Stopped
            } else {
                TargetState::Removed
            };
            framework.set_target_state(state);
            self.target_down_for = 50;
        }
    }

    /// Winds down as unload would: close every owner, let every cancelled request come back.
    fn wind_down(&mut self) {
        let framework = self.driver.framework();
        framework.set_target_state(TargetState::Started);
        for slot in std::mem::take(&mut self.owners) {
            self.closes += 1;
            let _ = self.driver.close(slot.id);
        }
        loop {
            self.driver.deliver_all();
            if !self.driver.complete_random(NtStatus::SUCCESS) && framework.returned_len() == 0 {
                break;
            }
        }
    }

    fn report(&self, started: Instant) -> StressReport {
        let teardown = self.driver.teardown();
        let stats = self.driver.forwarder().snapshot().stats;
        let (double_completions, verifier_violations) = self.driver.framework().verifier().counts();
        let never_reached = allocation_failures(self.forwarded, stats.counts.forwarded);
        let refused = stats.counts.refused + never_reached;
        let accounted = self.forwarded
            == stats.counts.completed
                + stats.counts.cancelled
                + stats.counts.failed
                + stats.counts.send_failures
                + refused;
        StressReport {
            seed: self.config.seed,
            counts: StressCounts {
                requests: self.forwarded,
                completed: stats.counts.completed,
                cancelled: stats.counts.cancelled,
                failed: stats.counts.failed,
                send_failures: stats.counts.send_failures,
                refused,
                single_cancels: self.single,
                group_cancels: self.group,
                owner_closes: self.closes,
                cancel_attempts: stats.counts.cancel_attempts,
                peak_outstanding: stats.peak_outstanding,
                leaked: teardown.leaked as u64,
            },
            double_completions,
            verifier_violations,
            accounted: accounted && self.forwarded == self.config.requests,
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            violations_by_rule: by_rule(&teardown.violations),
            first_violations: teardown.violations.into_iter().take(8).collect(),
        }
    }
}

/// Runs the stress scenario; `progress` is called with the number forwarded so far.
///
/// # Errors
/// `STATUS_INSUFFICIENT_RESOURCES` or `STATUS_INVALID_PARAMETER` if the driver cannot be set
/// up; `STATUS_NOT_SUPPORTED` for `naive_cancel` without the `negative-control` feature.
pub fn run(config: StressConfig, mut progress: impl FnMut(u64)) -> Result<StressReport, NtStatus> {
    if config.naive_cancel && !cfg!(feature = "negative-control") {
        return Err(NtStatus::NOT_SUPPORTED);
    }
    let started = Instant::now();
    let weights = Weights::new(config.cancel_ratio, config.faults);
    let mut run = Run::new(config)?;
    while run.forwarded < config.requests {
        let roll = run.driver.framework().random_below(weights.total());
        run.step(weights.pick(roll));
        if run.forwarded % 4096 == 0 {
            progress(run.forwarded);
        }
    }
    run.wind_down();
    progress(run.forwarded);
    Ok(run.report(started))
}

fn cancel_one(
    driver: &SimDriver,
    naive: bool,
    owner: OwnerId,
    id: RequestId,
) -> Result<bool, NtStatus> {
    #[cfg(feature = "negative-control")]
    if naive {
        return driver.forwarder().cancel_unreferenced(owner, id);
    }
    let _ = naive;
    driver.forwarder().cancel(owner, id)
}

/// Requests that never reached the forwarder because creating them failed.
const fn allocation_failures(attempted: u64, reached_forwarder: u64) -> u64 {
    attempted.saturating_sub(reached_forwarder)
}

fn pick_owner<'a>(driver: &SimDriver, owners: &'a mut [OwnerSlot]) -> &'a mut OwnerSlot {
    let index = index_below(driver, owners.len());
    &mut owners[index]
}

fn index_below(driver: &SimDriver, len: usize) -> usize {
    usize::try_from(driver.framework().random_below(len as u64)).unwrap_or(0)
}

fn choose_cancel_id(driver: &SimDriver, slot: &mut OwnerSlot) -> CancelId {
    match driver.framework().random_below(10) {
        0..=3 => CancelId::NONE,
        4..=7 if !slot.groups.is_empty() => {
            let index = index_below(driver, slot.groups.len());
            slot.groups[index]
        }
        _ => {
            slot.counter += 1;
            let id = CancelId::new(slot.id.partial(), slot.counter);
            remember(&mut slot.groups, id, 16);
            id
        }
    }
}

fn remember<T>(list: &mut Vec<T>, item: T, cap: usize) {
    if list.len() >= cap {
        list.swap_remove(0);
    }
    list.push(item);
}

/// How many violations of each rule.
fn by_rule(violations: &[Violation]) -> std::collections::BTreeMap<String, u64> {
    let mut counts = std::collections::BTreeMap::new();
    for violation in violations {
        let rule = serde_json::to_value(violation)
            .ok()
            .and_then(|v| v["rule"].as_str().map(str::to_owned))
            .unwrap_or_default();
        *counts.entry(rule).or_insert(0) += 1;
    }
    counts
}
