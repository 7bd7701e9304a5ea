//! The seeded stress mix over the [`Backend`] trait: what `stress` runs on the device (unverified
//! here), also runnable over sim sessions so its bookkeeping is tested.
//!
//! Forwards, target completions, single cancels, group cancels and handle closes are picked by a
//! seeded generator; every forwarded request must be seen finished by the end, after every handle
//! is closed.

use std::time::{Duration, Instant};

use ferrofilter_core::{CancelId, NtStatus};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::backend::{Backend, BackendKind, Completion};
use crate::error::CliError;
use crate::proto;
use ferrofilter_sim::stress::StressCounts;

/// What to run (the same knobs as the sim's stress command).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mix {
    /// Requests to forward.
    pub requests: u64,
    /// Seed.
    pub seed: u64,
    /// Share of actions that cancel, 0.0-1.0.
    pub cancel_ratio: f64,
    /// Handles open at a time.
    pub owners: u32,
}

/// The report: the sim stress command's fields; those user mode cannot observe on the device are
/// `null`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MixReport {
    /// `sim` or `device`.
    pub backend: BackendKind,
    /// The seed.
    pub seed: u64,
    /// The requests and cancels, and how each request ended, as this process saw them. User mode
    /// cannot tell a refused forward from a failed send, so `refused` is always 0 and both count
    /// in `send_failures`; `leaked` is what was never seen finished after every handle closed.
    #[serde(flatten)]
    pub counts: StressCounts,
    /// Not observable from user mode on the device (`null`); on the sim, the verifier's count is in
    /// `verifier_violations`.
    pub double_completions: Option<u64>,
    /// What the sim's verifier saw; `null` on the device (use KMDF Verifier there).
    pub verifier_violations: Option<u64>,
    /// The driver's count of completions for untracked requests during the run (should be 0).
    pub unknown_completions: u64,
    /// requests == completed + cancelled + failed + `send_failures`.
    pub accounted: bool,
    /// Wall time.
    pub elapsed_ms: u64,
}

impl MixReport {
    /// Nothing leaked, nothing unknown completed, the verifier (when there is one) saw nothing.
    #[must_use]
    pub fn clean(&self) -> bool {
        self.counts.leaked == 0
            && self.unknown_completions == 0
            && self.double_completions.unwrap_or(0) == 0
            && self.verifier_violations.unwrap_or(0) == 0
            && self.accounted
    }
}

struct Owner {
    session: Box<dyn Backend>,
    partial: u8,
}

fn open_owner(
    open: &mut dyn FnMut(u32) -> Result<Box<dyn Backend>, CliError>,
    index: u32,
) -> Result<Owner, CliError> {
    let mut session = open(index)?;
    let partial = proto::partial_id(session.as_mut())?;
    proto::open_target(session.as_mut())?;
    Ok(Owner { session, partial })
}

#[derive(Default)]
struct Tally {
    completed: u64,
    cancelled: u64,
    failed: u64,
}

impl Tally {
    fn add(&mut self, done: &[Completion]) {
        for completion in done {
            match completion.status {
                NtStatus::SUCCESS => self.completed += 1,
                NtStatus::CANCELLED => self.cancelled += 1,
                _ => self.failed += 1,
            }
        }
    }
}

/// Runs the mix; `open(i)` opens the i-th handle (each with its own target).
///
/// # Errors
/// When a handle cannot be opened or a query IOCTL fails.
#[expect(clippy::too_many_lines, reason = "one loop over the action mix")]
pub fn run(
    mix: Mix,
    open: &mut dyn FnMut(u32) -> Result<Box<dyn Backend>, CliError>,
    mut progress: impl FnMut(u64),
) -> Result<MixReport, CliError> {
    let start = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(mix.seed);
    let mut opened = 0u32;
    let mut owners = Vec::new();
    for _ in 0..mix.owners.max(1) {
        owners.push(open_owner(open, opened)?);
        opened += 1;
    }
    let backend = owners[0].session.kind();
    let unknown_before = proto::stats(owners[0].session.as_mut())?
        .counts
        .unknown_completions;
    let mut report = MixReport {
        backend,
        seed: mix.seed,
        counts: StressCounts::default(),
        double_completions: None,
        verifier_violations: None,
        unknown_completions: 0,
        accounted: false,
        elapsed_ms: 0,
    };
    let mut tally = Tally::default();
    let ratio = if mix.cancel_ratio.is_finite() {
        mix.cancel_ratio.clamp(0.0, 1.0)
    } else {
        0.0
    };
    while report.counts.requests < mix.requests {
        let which = rng.random_range(0..owners.len());
        let owner = &mut owners[which];
        let roll: f64 = rng.random();
        if roll < 0.5 {
            let cancel_id = if rng.random_bool(0.5) {
                CancelId::new(owner.partial, rng.random_range(1..=8))
            } else {
                CancelId::NONE
            };
            report.counts.requests += 1;
            if owner
                .session
                .forward(&proto::forward_input(cancel_id))
                .is_err()
            {
                report.counts.send_failures += 1;
            }
            progress(report.counts.requests);
        } else if roll < 0.5 + 0.5 * (1.0 - ratio) * 0.97 {
            let count = rng.random_range(1..=4);
            owner.session.target_complete(count)?;
        } else if roll < 0.995 {
            if rng.random_bool(0.5) {
                report.counts.single_cancels += 1;
                let rows = proto::list(owner.session.as_mut())?;
                if !rows.is_empty() {
                    let row = rows[rng.random_range(0..rows.len())];
                    if let Ok(n) = proto::cancel(owner.session.as_mut(), row.request_id) {
                        report.counts.cancel_attempts += u64::from(n);
                    }
                }
            } else {
                report.counts.group_cancels += 1;
                let cancel_id = CancelId::new(owner.partial, rng.random_range(1..=8));
                if let Ok(n) = proto::cancel_group(owner.session.as_mut(), cancel_id) {
                    report.counts.cancel_attempts += u64::from(n);
                }
            }
        } else {
            report.counts.owner_closes += 1;
            let mut closing = std::mem::replace(owner, open_owner(open, opened)?);
            opened += 1;
            tally.add(&closing.session.close()?);
            report.counts.leaked += settle(closing.session.as_mut(), &mut tally);
        }
        let outstanding: usize = owners.iter().map(|o| o.session.outstanding()).sum();
        report.counts.peak_outstanding = report
            .counts
            .peak_outstanding
            .max(u32::try_from(outstanding).unwrap_or(u32::MAX));
        let owner = &mut owners[which];
        tally.add(&owner.session.collect(Duration::ZERO));
    }
    let unknown_after = proto::stats(owners[0].session.as_mut())?
        .counts
        .unknown_completions;
    report.unknown_completions = unknown_after.saturating_sub(unknown_before);
    let mut last = None;
    for mut owner in owners {
        tally.add(&owner.session.close()?);
        report.counts.leaked += settle(owner.session.as_mut(), &mut tally);
        last = Some(owner);
    }
    if let Some(verifier) = last.and_then(|mut owner| owner.session.verifier()) {
        report.verifier_violations = Some(verifier.violations as u64);
        report.counts.leaked += verifier.leaked as u64;
    }
    report.counts.completed = tally.completed;
    report.counts.cancelled = tally.cancelled;
    report.counts.failed = tally.failed;
    report.accounted = report.counts.requests
        == report.counts.completed
            + report.counts.cancelled
            + report.counts.failed
            + report.counts.send_failures
            + report.counts.leaked;
    report.elapsed_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(report)
}

/// Waits for a closed session's stragglers; returns how many never finished.
fn settle(session: &mut dyn Backend, tally: &mut Tally) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    while session.outstanding() > 0 && Instant::now() < deadline {
        tally.add(&session.collect(Duration::from_millis(20)));
    }
    session.outstanding() as u64
}

#[cfg(all(test, feature = "sim"))]
mod tests {
    use super::*;
    use crate::backend::sim::{SimHost, SimSession};
    use ferrofilter_sim::SimConfig;

    #[test]
    fn the_mix_over_sim_sessions_accounts_for_every_request() {
        let host = SimHost::new(SimConfig::default()).unwrap();
        let mut open = |index: u32| -> Result<Box<dyn Backend>, CliError> {
            Ok(Box::new(SimSession::open(host.clone(), index)?))
        };
        let mix = Mix {
            requests: 2000,
            seed: 5,
            cancel_ratio: 0.3,
            owners: 4,
        };
        let report = run(mix, &mut open, |_| {}).unwrap();
        assert!(report.clean(), "{report:?}");
        assert_eq!(report.counts.requests, 2000);
        assert!(
            report.counts.cancelled > 0 && report.counts.completed > 0,
            "{report:?}"
        );
        assert_eq!(report.verifier_violations, Some(0));
        assert!(report.counts.owner_closes > 0);
    }
}
