//! Core's forwarder over minimal ports for model checking: the emulated requests of [`crate::wdf`]
//! and [`crate::lock`]'s spin lock, on the `cfg(loom)` facade, so loom can explore every
//! interleaving of core's cancel protocol. The driver's own adapter (driver/, on the simulated
//! kernel) is tested in `sim/tests/*_on_kernel.rs`; this harness tests core alone.

use ferrofilter_core::{CancelId, ForwardState, Forwarder, NtStatus, OwnerId, RequestId};

use crate::lock::SimSpinLock;
use crate::sync::Arc;
use crate::verifier::Violation;
use crate::wdf::{Faults, Framework, RequestHandle, Returned, SimRequests};

/// The forwarder over the sim's ports.
pub type SimForwarder = Forwarder<SimSpinLock<ForwardState<RequestHandle>>, SimRequests>;

/// How to build a [`SimDriver`].
#[derive(Clone, Copy, Debug)]
pub struct SimConfig {
    /// Seed for every random decision: interleavings, completion order, faults.
    pub seed: u64,
    /// Most requests outstanding at once.
    pub capacity: u32,
    /// Injected faults and interleavings.
    pub faults: Faults,
    /// Panic at the first verifier violation (what loom needs).
    pub strict: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            capacity: 4096,
            faults: Faults::NONE,
            strict: false,
        }
    }
}

/// What teardown found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Teardown {
    /// Request objects still alive.
    pub leaked: usize,
    /// Requests still in the table.
    pub tracked: u32,
    /// Every violation of the run.
    pub violations: Vec<Violation>,
}

/// The forwarding side of the driver, running on the sim.
pub struct SimDriver {
    framework: Arc<Framework>,
    forwarder: Arc<SimForwarder>,
    #[cfg(not(loom))]
    _preempt: std::sync::Arc<preempt::Preempter>,
}

impl SimDriver {
    /// A driver with a table of `config.capacity` requests.
    ///
    /// # Errors
    /// As [`ForwardState::with_capacity`].
    pub fn new(config: SimConfig) -> Result<Self, NtStatus> {
        let framework = Arc::new(Framework::new(config.seed, config.faults, config.strict));
        let state = ForwardState::with_capacity(config.capacity)?;
        let requests = SimRequests::new(Arc::clone(&framework));
        #[cfg(not(loom))]
        {
            let preempt = std::sync::Arc::new(preempt::Preempter::new(Arc::clone(&framework)));
            let hook: std::sync::Weak<dyn crate::lock::ReleaseHook> =
                std::sync::Arc::downgrade(&preempt) as _;
            let forwarder = Arc::new(Forwarder::new(
                SimSpinLock::with_hook(state, hook),
                requests,
            ));
            preempt.attach(&forwarder);
            Ok(Self {
                framework,
                forwarder,
                _preempt: preempt,
            })
        }
        #[cfg(loom)]
        {
            let forwarder = Arc::new(Forwarder::new(SimSpinLock::new(state), requests));
            Ok(Self {
                framework,
                forwarder,
            })
        }
    }

    /// The emulated framework.
    #[must_use]
    pub const fn framework(&self) -> &Arc<Framework> {
        &self.framework
    }

    /// The core forwarder.
    #[must_use]
    pub const fn forwarder(&self) -> &Arc<SimForwarder> {
        &self.forwarder
    }

    /// A handle of the control device is created: a new owner with its partial cancel ID.
    ///
    /// # Errors
    /// `STATUS_INSUFFICIENT_RESOURCES` when 256 owners are live.
    pub fn open(&self) -> Result<OwnerId, NtStatus> {
        self.forwarder.open_owner()
    }

    /// Cleanup of an owner's handle: cancels everything it forwarded.
    ///
    /// # Errors
    /// As [`Forwarder::close_owner`].
    pub fn close(&self, owner: OwnerId) -> Result<usize, NtStatus> {
        self.forwarder.close_owner(owner)
    }

    /// An incoming request from `owner`, forwarded to the target under `cancel_id`.
    ///
    /// # Errors
    /// The status the request was completed with when it could not be created or sent.
    pub fn forward(&self, owner: OwnerId, cancel_id: CancelId) -> Result<RequestId, NtStatus> {
        let request = self.framework.create_request()?;
        self.forwarder.forward(owner, request, cancel_id)
    }

    /// Runs the completion routine for a request the target finished.
    pub fn deliver(&self, returned: Returned) {
        deliver(&self.framework, &self.forwarder, returned);
    }

    /// Delivers one finished request, chosen by the seed. Returns whether there was one.
    pub fn deliver_one(&self) -> bool {
        self.framework
            .random_returned()
            .map(|r| self.deliver(r))
            .is_some()
    }

    /// Delivers every finished request, in the seed's order.
    pub fn deliver_all(&self) -> usize {
        let mut delivered = 0;
        while self.deliver_one() {
            delivered += 1;
        }
        delivered
    }

    /// The target finishes one pending request chosen by the seed with `status`, and its
    /// completion routine runs. Returns whether one was pending.
    pub fn complete_random(&self, status: NtStatus) -> bool {
        let pending = self.framework.pending_at_target();
        if pending == 0 {
            return false;
        }
        let position = usize::try_from(self.framework.random_below(pending as u64)).unwrap_or(0);
        self.framework.target_complete_at(position, status)
    }

    /// Checks for leaks and tracked requests; returns what the verifier saw over the whole run.
    pub fn teardown(&self) -> Teardown {
        let tracked = self.forwarder.outstanding();
        if tracked > 0 {
            self.framework
                .verifier()
                .report(Violation::TrackedAtTeardown { count: tracked });
        }
        self.framework.check_teardown();
        Teardown {
            leaked: self.framework.live_requests(),
            tracked,
            violations: self.framework.verifier().violations(),
        }
    }
}

fn deliver(framework: &Framework, forwarder: &SimForwarder, returned: Returned) {
    if forwarder
        .on_send_complete(returned.id, returned.status)
        .is_err()
    {
        framework
            .verifier()
            .report(Violation::unknown_completion(returned.id, returned.status));
    }
}

#[cfg(not(loom))]
mod preempt {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, OnceLock, Weak};

    use super::{SimForwarder, deliver};
    use crate::lock::ReleaseHook;
    use crate::wdf::Framework;

    /// At a lock release, and with the seed's say-so, runs the pending completion routines as if
    /// another CPU ran them right then: the window between "release" and "cancel-sent" that the
    /// reference step exists for.
    pub struct Preempter {
        framework: Arc<Framework>,
        forwarder: OnceLock<Weak<SimForwarder>>,
        running: AtomicBool,
    }

    impl Preempter {
        pub fn new(framework: Arc<Framework>) -> Self {
            Self {
                framework,
                forwarder: OnceLock::new(),
                running: AtomicBool::new(false),
            }
        }

        pub fn attach(&self, forwarder: &Arc<SimForwarder>) {
            let _ = self.forwarder.set(Arc::downgrade(forwarder));
        }
    }

    impl ReleaseHook for Preempter {
        fn after_release(&self) {
            let ppm = self.framework.faults().preempt_ppm;
            if ppm == 0 || self.framework.returned_len() == 0 || !self.framework.chance(ppm) {
                return;
            }
            if self.running.swap(true, Ordering::Acquire) {
                return;
            }
            // Another CPU drains every finished request right here, between this release and
            // whatever the releasing thread does next.
            if let Some(forwarder) = self.forwarder.get().and_then(Weak::upgrade) {
                while let Some(returned) = self.framework.random_returned() {
                    deliver(&self.framework, &forwarder, returned);
                }
            }
            self.running.store(false, Ordering::Release);
        }
    }
}
