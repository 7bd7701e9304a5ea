//! The other processors: the I/O target completing forwarded reads, completion routines,
//! waiting threads, preemption at lock releases, the clock, and work items.

use super::super::wdf::{Body, Object, RequestState, completion_params};
use super::super::{DISPATCH_LEVEL, Kernel, PASSIVE_LEVEL, with};
use core::ffi::c_void;

pub(super) fn pending_at_target(k: &Kernel) -> Vec<u32> {
    k.wdf.pending_at_targets()
}

/// The target finishes a request it owns: it goes back on the returned list with `status`.
pub fn target_complete(index: u32, status: i32, information: usize) {
    with(|k| {
        let Some(data) = k.wdf.request(index) else {
            return;
        };
        if data.state != RequestState::Sent {
            return;
        }
        let information = if status >= 0 {
            information.min(data.output_length.max(information))
        } else {
            0
        };
        data.state = RequestState::Returned;
        data.status = status;
        data.information = information;
        let target = data.sent_to.take();
        let into = data.reads_into.unwrap_or(index);
        if let Some(target) = target
            && let Some(Object {
                body: Body::Target(target),
                ..
            }) = k.wdf.get_mut(target)
        {
            target.pending.retain(|&pending| pending != index);
        }
        // The pipe's bytes land in the buffer the read was formatted for.
        if status >= 0
            && let Some(owner) = k.wdf.request(into)
        {
            let length = information.min(owner.buffer.len());
            owner.buffer[..length].fill(0x5A);
        }
        k.wdf.returned.push_back(index);
    });
}

/// Runs the completion routine of a returned request now, if it is returned.
pub fn deliver(index: u32) {
    let ready = with(|k| {
        let position = k.wdf.returned.iter().position(|&r| r == index)?;
        k.wdf.returned.remove(position);
        completion_call(k, index)
    });
    if let Some(call) = ready {
        call.run();
    }
}

pub(super) struct CompletionCall {
    routine: super::super::wdf::CompletionRoutine,
    request: usize,
    target: usize,
    context: usize,
    status: i32,
    information: usize,
}

impl CompletionCall {
    fn run(self) {
        let mut params = completion_params(self.status, self.information);
        // SAFETY: the routine the driver set for this request, with the request back in its
        // hands, the target it was sent to, parameters that live across the call.
        super::super::pool::into_driver(|| unsafe {
            (self.routine)(
                self.request as *mut c_void,
                self.target as *mut c_void,
                &raw mut params,
                self.context as *mut c_void,
            );
        });
    }
}

pub(super) fn completion_call(k: &mut Kernel, index: u32) -> Option<CompletionCall> {
    let request = k.wdf.handle(index);
    let data = k.wdf.request(index)?;
    data.state = RequestState::Owned;
    let (routine, context) = data.routine?;
    let (status, information) = (data.status, data.information);
    let target = data.formatted.map(|(target, _)| target)?;
    let target = k.wdf.handle(target);
    Some(CompletionCall {
        routine,
        request,
        target,
        context,
        status,
        information,
    })
}

/// Another thread does what it was asked to while the driver waits.
pub fn run_waiting_threads() -> bool {
    let actions = with(|k| core::mem::take(&mut k.world.during_wait));
    let ran = !actions.is_empty();
    for action in actions {
        action();
    }
    ran
}

/// Another processor does one piece of work: a returned request's completion routine (at
/// `DISPATCH_LEVEL`) or a queued work item (at `PASSIVE_LEVEL`). Returns whether there was any.
pub fn run_other_processor() -> bool {
    let call = with(|k| {
        let count = k.wdf.returned.len() as u64;
        if count == 0 {
            return None;
        }
        let at = usize::try_from(k.random_below(count)).unwrap_or(0);
        let index = k.wdf.returned.remove(at)?;
        let saved = (
            k.irql,
            core::mem::take(&mut k.held_locks),
            k.world.preempting,
        );
        k.irql = DISPATCH_LEVEL;
        k.world.preempting = true;
        Some((completion_call(k, index), saved))
    });
    if let Some((call, (irql, locks, preempting))) = call {
        with(|k| k.world.idle_wait = 0);
        if let Some(call) = call {
            call.run();
        }
        with(|k| {
            k.irql = irql;
            k.held_locks = locks;
            k.world.preempting = preempting;
        });
        return true;
    }
    run_one_work_item()
}

/// At a spin-lock release with nothing held: another processor may run a completion right now.
pub fn maybe_preempt() {
    let go = with(|k| {
        if k.world.preempting || k.wdf.returned.is_empty() {
            return false;
        }
        let ppm = k.world.preempt_ppm;
        k.chance(ppm)
    });
    if go {
        let _ = run_other_processor();
    }
}

/// How long the driver may wait with nothing able to wake it before the sim calls it a hang
/// (simulated time, 100 ns units: one hour).
const HANG_100NS: u64 = 3_600 * 10_000_000;

/// Moves the simulated clock on after a wait that timed out with nothing left to run.
///
/// # Panics
/// When the driver has waited an hour of simulated time without anything that could wake it:
/// on Windows that is a hung unload; here it stops the run with a message instead of looping.
pub fn advance_clock(by_100ns: u64) {
    let stuck = with(|k| {
        k.world.clock = k.world.clock.saturating_add(by_100ns);
        k.world.idle_wait = k.world.idle_wait.saturating_add(by_100ns.max(1));
        k.world.idle_wait > HANG_100NS
    });
    assert!(
        !stuck,
        "the driver waited an hour of simulated time for something that cannot happen (a hang)"
    );
}

/// After a file object's last reference went: nothing more to do on this side (the file
/// system's close is the volume model's).
pub fn after_dereference() {}

pub(super) fn run_one_work_item() -> bool {
    let close = with(|k| {
        if k.irql > PASSIVE_LEVEL || k.world.deferred_closes.is_empty() {
            None
        } else {
            Some(k.world.deferred_closes.remove(0))
        }
    });
    if let Some((callback, handle, index)) = close {
        super::super::run_deferred(vec![super::super::Deferred::FileClose(
            callback, handle, index,
        )]);
        return true;
    }
    let work = with(|k| {
        let item = k.flt.queue.pop_front()?;
        let queued = k.flt.work_items.get_mut(&item)?.queued.take()?;
        Some((item, queued))
    });
    let Some((item, (routine, object, context))) = work else {
        return false;
    };
    let saved = with(|k| core::mem::replace(&mut k.irql, PASSIVE_LEVEL));
    // SAFETY: the routine the filter queued, with its item, object and context, on a worker
    // thread at PASSIVE_LEVEL.
    super::super::pool::into_driver(|| unsafe {
        routine(
            item as *mut c_void,
            object as *mut c_void,
            context as *mut c_void,
        );
    });
    with(|k| k.irql = saved);
    true
}

/// Runs every queued work item.
pub fn run_work_items() {
    while run_one_work_item() {}
}

/// `FltFlushBuffers2`'s flush and purge (the volume model answers; success without one).
#[must_use]
pub fn flush_and_purge(file: usize) -> i32 {
    with(|k| {
        let status = super::super::volume::flush_and_purge(k, file);
        k.flt.flushes.push((file, status));
        status
    })
}
