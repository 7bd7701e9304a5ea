//! Emulated WDF request objects and the I/O target they are sent to.
//!
//! A request starts with the framework's reference; `complete` drops it and each
//! `reference`/`dereference` pair holds it open. Handles are generation-tagged, so a handle used
//! after its object is gone is caught rather than reaching reused memory.

use std::collections::VecDeque;
use std::fmt;

use ferrofilter_core::ports::RequestOps;
use ferrofilter_core::{NtStatus, RequestId};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::sync::{Arc, Mutex, lock};
use crate::verifier::{Verifier, Violation};

/// An emulated `WDFREQUEST`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct RequestHandle(pub u64);

impl RequestHandle {
    const fn new(index: u32, generation: u32) -> Self {
        Self(((generation as u64) << 32) | index as u64)
    }
    const fn index(self) -> usize {
        (self.0 & 0xFFFF_FFFF) as usize
    }
    const fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }
}

impl fmt::Debug for RequestHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WDFREQUEST#{}.{}", self.index(), self.generation())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Owned by the driver, not sent.
    Owned,
    /// At the I/O target.
    Sent,
    /// The target finished it; the completion routine has not run yet.
    Returned,
    /// `WdfRequestComplete` was called.
    Completed,
}

#[derive(Clone, Debug)]
struct Object {
    generation: u32,
    alive: bool,
    references: u32,
    state: State,
    cancel_requested: bool,
    id: RequestId,
    /// Position in the target's pending list while `Sent`.
    pending_slot: usize,
}

/// Whether the I/O target accepts sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetState {
    /// Accepting sends.
    Started,
    /// `WdfIoTargetStop`: sends fail with `STATUS_INVALID_DEVICE_STATE`.
    Stopped,
    /// Removed (surprise removal or close): sends fail with `STATUS_DEVICE_REMOVED`.
    Removed,
}

/// Seeded fault injection, each a probability in parts per million.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Faults {
    /// `WdfRequestSend` fails.
    pub send_failure_ppm: u32,
    /// Creating a request fails (`STATUS_INSUFFICIENT_RESOURCES`).
    pub alloc_failure_ppm: u32,
    /// After a send, the target completes the request before `WdfRequestSend` returns.
    pub sync_completion_ppm: u32,
    /// At a lock release, another CPU delivers a pending completion right then.
    pub preempt_ppm: u32,
}

impl Faults {
    /// No faults; the default for unit tests.
    pub const NONE: Self = Self {
        send_failure_ppm: 0,
        alloc_failure_ppm: 0,
        sync_completion_ppm: 0,
        preempt_ppm: 0,
    };

    /// Interleavings only: early completions and preemption at lock releases, no failures.
    pub const INTERLEAVINGS: Self = Self {
        send_failure_ppm: 0,
        alloc_failure_ppm: 0,
        sync_completion_ppm: 100_000,
        preempt_ppm: 250_000,
    };

    /// Interleavings plus send and allocation failures.
    pub const ALL: Self = Self {
        send_failure_ppm: 20_000,
        alloc_failure_ppm: 10_000,
        sync_completion_ppm: 100_000,
        preempt_ppm: 250_000,
    };
}

struct Inner {
    objects: Vec<Object>,
    free: Vec<u32>,
    live: usize,
    /// Requests at the target, in the order they arrived.
    pending: Vec<RequestHandle>,
    /// Requests the target has finished whose completion routine has not run yet.
    returned: VecDeque<(RequestHandle, RequestId, NtStatus)>,
    target: TargetState,
    rng: ChaCha8Rng,
    faults: Faults,
}

/// A completion the target has finished, ready for the driver's completion routine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Returned {
    /// The request.
    pub handle: RequestHandle,
    /// The ID the driver gave it when sending.
    pub id: RequestId,
    /// The status the target completed it with.
    pub status: NtStatus,
}

/// The emulated framework: request objects, one I/O target, a seeded random source and the
/// verifier. Shared by the lock and request ports.
pub struct Framework {
    inner: Mutex<Inner>,
    verifier: Verifier,
}

impl fmt::Debug for Framework {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Framework").finish_non_exhaustive()
    }
}

impl Framework {
    /// A framework seeded with `seed`; `strict` makes the first violation panic.
    #[must_use]
    pub fn new(seed: u64, faults: Faults, strict: bool) -> Self {
        Self {
            inner: Mutex::new(Inner {
                objects: Vec::new(),
                free: Vec::new(),
                live: 0,
                pending: Vec::new(),
                returned: VecDeque::new(),
                target: TargetState::Started,
                rng: ChaCha8Rng::seed_from_u64(seed),
                faults,
            }),
            verifier: Verifier::new(strict),
        }
    }

    /// The verifier.
    #[must_use]
    pub const fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// Creates a request (an incoming IOCTL the driver will forward).
    ///
    /// # Errors
    /// `STATUS_INSUFFICIENT_RESOURCES` when an allocation failure is injected.
    pub fn create_request(&self) -> Result<RequestHandle, NtStatus> {
        let mut inner = lock(&self.inner);
        let ppm = inner.faults.alloc_failure_ppm;
        if roll(&mut inner.rng, ppm) {
            return Err(NtStatus::INSUFFICIENT_RESOURCES);
        }
        let fresh = Object {
            generation: 1,
            alive: true,
            references: 1,
            state: State::Owned,
            cancel_requested: false,
            id: RequestId(0),
            pending_slot: usize::MAX,
        };
        inner.live += 1;
        if let Some(index) = inner.free.pop() {
            let object = &mut inner.objects[index as usize];
            let generation = object.generation.wrapping_add(1).max(1);
            *object = Object {
                generation,
                ..fresh
            };
            Ok(RequestHandle::new(index, generation))
        } else {
            let index =
                u32::try_from(inner.objects.len()).map_err(|_| NtStatus::INSUFFICIENT_RESOURCES)?;
            inner.objects.push(fresh);
            Ok(RequestHandle::new(index, 1))
        }
    }

    /// A draw from the seeded source, for the scenario driving the run.
    pub fn random_below(&self, bound: u64) -> u64 {
        if bound == 0 {
            return 0;
        }
        lock(&self.inner).rng.random_range(0..bound)
    }

    /// Whether an event with probability `ppm` happens now, drawn from the seeded source.
    pub fn chance(&self, ppm: u32) -> bool {
        roll(&mut lock(&self.inner).rng, ppm)
    }

    /// The injected-fault settings.
    pub fn faults(&self) -> Faults {
        lock(&self.inner).faults
    }

    /// Requests at the target now.
    pub fn pending_at_target(&self) -> usize {
        lock(&self.inner).pending.len()
    }

    /// Completions waiting for the completion routine.
    pub fn returned_len(&self) -> usize {
        lock(&self.inner).returned.len()
    }

    /// Request objects alive now.
    pub fn live_requests(&self) -> usize {
        lock(&self.inner).live
    }

    /// The target's state.
    pub fn target_state(&self) -> TargetState {
        lock(&self.inner).target
    }

    /// Stops, restarts or removes the target. Removal returns every pending request with
    /// `STATUS_DEVICE_REMOVED`, as the framework does when a target goes away.
    pub fn set_target_state(&self, state: TargetState) {
        let mut inner = lock(&self.inner);
        inner.target = state;
        if state == TargetState::Removed {
            while let Some(&handle) = inner.pending.last() {
                finish_at_target(&mut inner, handle, NtStatus::DEVICE_REMOVED);
            }
        }
    }

    /// The target finishes the pending request at `position` (modulo the count) with `status`,
    /// or with `STATUS_CANCELLED` if a cancel was requested. Returns whether one was pending.
    pub fn target_complete_at(&self, position: usize, status: NtStatus) -> bool {
        let mut inner = lock(&self.inner);
        if inner.pending.is_empty() {
            return false;
        }
        let handle = inner.pending[position % inner.pending.len()];
        finish_at_target(&mut inner, handle, status);
        true
    }

    /// The target finishes one specific request, if it is pending there.
    pub fn target_complete(&self, handle: RequestHandle, status: NtStatus) -> bool {
        let mut inner = lock(&self.inner);
        let pending = object(&inner, handle).is_some_and(|o| o.state == State::Sent);
        if pending {
            finish_at_target(&mut inner, handle, status);
        }
        pending
    }

    /// Takes the oldest finished request for the completion routine.
    pub fn next_returned(&self) -> Option<Returned> {
        let mut inner = lock(&self.inner);
        let (handle, id, status) = inner.returned.pop_front()?;
        Some(hand_back(&mut inner, handle, id, status))
    }

    /// Takes a random finished request, so completion order is decided by the seed.
    pub fn random_returned(&self) -> Option<Returned> {
        let mut inner = lock(&self.inner);
        if inner.returned.is_empty() {
            return None;
        }
        let len = inner.returned.len();
        let position = inner.rng.random_range(0..len);
        let (handle, id, status) = inner.returned.swap_remove_back(position)?;
        Some(hand_back(&mut inner, handle, id, status))
    }

    /// The ID of a random finished request whose completion routine has not run yet: a request
    /// that is still tracked but about to complete, the best target for a racing cancel.
    pub fn random_returned_id(&self) -> Option<RequestId> {
        let mut inner = lock(&self.inner);
        if inner.returned.is_empty() {
            return None;
        }
        let len = inner.returned.len();
        let position = inner.rng.random_range(0..len);
        inner.returned.get(position).map(|&(_, id, _)| id)
    }

    /// Teardown: every request object still alive is a leak.
    pub fn check_teardown(&self) {
        let leaked: Vec<RequestHandle> = {
            let inner = lock(&self.inner);
            inner
                .objects
                .iter()
                .enumerate()
                .filter(|(_, o)| o.alive)
                .map(|(i, o)| {
                    RequestHandle::new(u32::try_from(i).unwrap_or(u32::MAX), o.generation)
                })
                .collect()
        };
        for handle in leaked {
            self.verifier.report(Violation::Leak { handle });
        }
    }

    /// Runs `check` on a live object, or reports a use-after-free for `operation`.
    fn with_object<T>(
        &self,
        handle: RequestHandle,
        operation: &'static str,
        check: impl FnOnce(&mut Inner, usize) -> Result<T, Violation>,
    ) -> Option<T> {
        let outcome = {
            let mut inner = lock(&self.inner);
            if object(&inner, handle).is_some() {
                check(&mut inner, handle.index())
            } else {
                Err(Violation::UseAfterFree { handle, operation })
            }
        };
        outcome
            .map_err(|violation| self.verifier.report(violation))
            .ok()
    }
}

fn roll(rng: &mut ChaCha8Rng, ppm: u32) -> bool {
    ppm > 0 && rng.random_range(0..1_000_000) < ppm
}

fn object(inner: &Inner, handle: RequestHandle) -> Option<&Object> {
    inner
        .objects
        .get(handle.index())
        .filter(|o| o.alive && o.generation == handle.generation())
}

fn finish_at_target(inner: &mut Inner, handle: RequestHandle, status: NtStatus) {
    let index = handle.index();
    let slot = inner.objects[index].pending_slot;
    inner.pending.swap_remove(slot);
    if let Some(&moved) = inner.pending.get(slot) {
        inner.objects[moved.index()].pending_slot = slot;
    }
    let object = &mut inner.objects[index];
    object.pending_slot = usize::MAX;
    object.state = State::Returned;
    let status = if object.cancel_requested {
        NtStatus::CANCELLED
    } else {
        status
    };
    let id = object.id;
    inner.returned.push_back((handle, id, status));
}

/// The framework gives a finished request back to the driver for its completion routine.
fn hand_back(
    inner: &mut Inner,
    handle: RequestHandle,
    id: RequestId,
    status: NtStatus,
) -> Returned {
    inner.objects[handle.index()].state = State::Owned;
    Returned { handle, id, status }
}

fn release(inner: &mut Inner, index: usize) {
    let object = &mut inner.objects[index];
    object.references -= 1;
    if object.references == 0 {
        object.alive = false;
        inner.live -= 1;
        inner.free.push(u32::try_from(index).unwrap_or(u32::MAX));
    }
}

// loom's thread_local! takes no `const` initializer; std's wants one.
#[cfg(loom)]
crate::sync::thread_local! {
    static SPIN_LOCKS_HELD: std::cell::Cell<u32> = std::cell::Cell::new(0);
}
#[cfg(not(loom))]
crate::sync::thread_local! {
    static SPIN_LOCKS_HELD: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Records that this thread acquired (`+1`) or released (`-1`) a spin lock.
pub(crate) fn note_spin_lock(delta: i32) {
    SPIN_LOCKS_HELD.with(|held| held.set(held.get().saturating_add_signed(delta)));
}

fn spin_lock_held() -> bool {
    SPIN_LOCKS_HELD.with(|held| held.get() > 0)
}

/// The request port over the emulated framework.
#[derive(Clone, Debug)]
pub struct SimRequests {
    framework: Arc<Framework>,
}

impl SimRequests {
    /// Request operations on `framework`.
    #[must_use]
    pub const fn new(framework: Arc<Framework>) -> Self {
        Self { framework }
    }

    /// The framework behind them.
    #[must_use]
    pub const fn framework(&self) -> &Arc<Framework> {
        &self.framework
    }
}

impl RequestOps for SimRequests {
    type Handle = RequestHandle;

    fn send(&self, request: RequestHandle, id: RequestId) -> Result<(), NtStatus> {
        if spin_lock_held() {
            self.framework
                .verifier
                .report(Violation::SendWhileSpinLockHeld { handle: request });
        }
        self.framework
            .with_object(request, "WdfRequestSend", |inner, index| {
                if inner.objects[index].state != State::Owned {
                    return Err(Violation::SendWhileSent { handle: request });
                }
                let send_ppm = inner.faults.send_failure_ppm;
                let failure = match inner.target {
                    TargetState::Stopped => Some(NtStatus::INVALID_DEVICE_STATE),
                    TargetState::Removed => Some(NtStatus::DEVICE_REMOVED),
                    TargetState::Started if roll(&mut inner.rng, send_ppm) => {
                        Some(NtStatus::INSUFFICIENT_RESOURCES)
                    }
                    TargetState::Started => None,
                };
                if let Some(status) = failure {
                    return Ok(Err(status));
                }
                let slot = inner.pending.len();
                inner.pending.push(request);
                let object = &mut inner.objects[index];
                object.state = State::Sent;
                object.id = id;
                object.pending_slot = slot;
                let sync_ppm = inner.faults.sync_completion_ppm;
                if roll(&mut inner.rng, sync_ppm) {
                    finish_at_target(inner, request, NtStatus::SUCCESS);
                }
                Ok(Ok(()))
            })
            .unwrap_or(Err(NtStatus::INVALID_HANDLE))
    }

    fn complete(&self, request: RequestHandle, _status: NtStatus) {
        self.framework
            .with_object(request, "WdfRequestComplete", |inner, index| {
                match inner.objects[index].state {
                    State::Completed => {
                        return Err(Violation::DoubleCompletion { handle: request });
                    }
                    State::Sent | State::Returned => {
                        return Err(Violation::CompletedWhileSent { handle: request });
                    }
                    State::Owned => {}
                }
                inner.objects[index].state = State::Completed;
                release(inner, index);
                Ok(())
            });
    }

    fn reference(&self, request: RequestHandle) {
        self.framework
            .with_object(request, "WdfObjectReference", |inner, index| {
                inner.objects[index].references += 1;
                Ok(())
            });
    }

    fn dereference(&self, request: RequestHandle) {
        self.framework
            .with_object(request, "WdfObjectDereference", |inner, index| {
                if inner.objects[index].references <= 1
                    && inner.objects[index].state != State::Completed
                {
                    return Err(Violation::ReferenceUnderflow { handle: request });
                }
                release(inner, index);
                Ok(())
            });
    }

    fn cancel_sent(&self, request: RequestHandle) -> bool {
        if spin_lock_held() {
            self.framework
                .verifier
                .report(Violation::CancelWhileSpinLockHeld { handle: request });
        }
        self.framework
            .with_object(request, "WdfRequestCancelSentRequest", |inner, index| {
                if inner.objects[index].state != State::Sent {
                    return Ok(false);
                }
                inner.objects[index].cancel_requested = true;
                // The target honours the cancel: the request comes back with STATUS_CANCELLED.
                finish_at_target(inner, request, NtStatus::CANCELLED);
                Ok(true)
            })
            .unwrap_or(false)
    }
}
