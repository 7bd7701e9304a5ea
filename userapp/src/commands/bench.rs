//! `bench`: IOCTL round trip, forward+complete and forward+cancel throughput over the backend, and
//! on the sim the tracker ratios the criterion benches check, measured live with a timing loop.

use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

use ferrofilter_core::forward::DEFAULT_CAPACITY;
use ferrofilter_core::ports::{RequestOps, SpinLock};
use ferrofilter_core::protocol::StatsInfo;
use ferrofilter_core::protocol::ioctl;
use ferrofilter_core::tracker;
use ferrofilter_core::{CancelId, ForwardState, Forwarder, NtStatus, RequestId};
use ferrofilter_sim::baseline::CollectionModel;
use ferrofilter_sim::lock::BareSpinLock;
use serde::Serialize;

use crate::backend::{self, Backend, BackendKind};
use crate::error::CliError;
use crate::exit::Outcome;
use crate::output;
use crate::proto;

/// Outstanding requests for the cancel-lookup ratio, as in `sim/benches/tracker.rs`.
pub const OUTSTANDING: u32 = 65_536;

/// One measurement.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Measure {
    /// What was measured.
    pub name: &'static str,
    /// Operations timed.
    pub ops: u64,
    /// Nanoseconds per operation.
    pub ns_per_op: f64,
    /// Operations per second.
    pub ops_per_sec: f64,
}

impl Measure {
    fn new(name: &'static str, ops: u64, elapsed: Duration) -> Self {
        #[expect(clippy::cast_precision_loss, reason = "a measurement")]
        let ops_f = ops.max(1) as f64;
        let ns = elapsed.as_secs_f64() * 1e9 / ops_f;
        Self {
            name,
            ops,
            ns_per_op: ns,
            ops_per_sec: if ns > 0.0 { 1e9 / ns } else { 0.0 },
        }
    }
}

/// The tracker ratios (sim only).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ratios {
    /// `tracker/lock_pair`: bare lock + unlock.
    pub lock_pair: Measure,
    /// `tracker/track_untrack`.
    pub track_untrack: Measure,
    /// `tracker/cancel_lookup/65536`.
    pub cancel_lookup: Measure,
    /// `baseline_collection/cancel_lookup/65536`: a linear scan.
    pub baseline_cancel_lookup: Measure,
    /// `track_untrack / lock_pair` (target: at most 3).
    pub track_untrack_over_lock_pair: f64,
    /// `baseline / cancel_lookup` (target: at least 1000).
    pub baseline_over_cancel_lookup: f64,
}

/// What `bench` prints.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BenchReport {
    /// `sim` or `device`.
    pub backend: BackendKind,
    /// `GET_STATS` round trips.
    pub ioctl_round_trip: Measure,
    /// Forward then complete at the target, per request.
    pub forward_complete: Measure,
    /// Forward then cancel by ID, per request.
    pub forward_cancel: Measure,
    /// The tracker ratios, on the sim.
    pub tracker: Option<Ratios>,
    /// Bytes of tracker state per outstanding request in a full table of the driver's capacity
    /// with a pointer for the request handle, as `WDFREQUEST` is (on the sim:
    /// [`tracker_bytes_per_request`]).
    pub tracker_bytes_per_request: Option<usize>,
}

/// Bytes of tracker state per outstanding request: the table's footprint (slab, group index,
/// owners) at [`DEFAULT_CAPACITY`] with a pointer handle, divided by that capacity.
#[must_use]
pub fn tracker_bytes_per_request() -> Option<usize> {
    tracker::bytes_per_request::<*mut core::ffi::c_void>(DEFAULT_CAPACITY)
}

/// Runs the benchmark.
///
/// # Errors
/// When the backend cannot be opened or an IOCTL fails.
pub fn run(
    kind: BackendKind,
    iterations: u64,
    json: bool,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let mut session = backend::open(kind)?;
    let backend = session.as_mut();
    let ioctl_round_trip = round_trip(backend, iterations)?;
    let partial = proto::partial_id(backend)?;
    proto::open_target(backend)?;
    let forward_complete = forward_then(backend, partial, iterations, false)?;
    let forward_cancel = forward_then(backend, partial, iterations, true)?;
    backend.close()?;
    let tracker = (kind == BackendKind::Sim).then(|| ratios(iterations));
    let tracker_bytes_per_request = if kind == BackendKind::Sim {
        tracker_bytes_per_request()
    } else {
        None
    };
    let report = BenchReport {
        backend: kind,
        ioctl_round_trip,
        forward_complete,
        forward_cancel,
        tracker,
        tracker_bytes_per_request,
    };
    if json {
        output::json(out, &report)?;
    } else {
        print(&report, out)?;
    }
    Ok(Outcome::Ok)
}

fn round_trip(backend: &mut dyn Backend, iterations: u64) -> Result<Measure, CliError> {
    let mut buffer = [0u8; size_of::<StatsInfo>()];
    let start = Instant::now();
    for _ in 0..iterations {
        let reply = backend.ioctl(ioctl::GET_STATS, &[], &mut buffer);
        if !reply.status.is_success() {
            return Err(CliError::ioctl("GET_STATS", reply.status));
        }
    }
    Ok(Measure::new(
        "ioctl_round_trip",
        iterations,
        start.elapsed(),
    ))
}

const BATCH: u64 = 64;

fn forward_then(
    backend: &mut dyn Backend,
    partial: u8,
    iterations: u64,
    cancel: bool,
) -> Result<Measure, CliError> {
    let name = if cancel {
        "forward_cancel"
    } else {
        "forward_complete"
    };
    let batches = iterations.div_ceil(BATCH).max(1);
    let input = proto::forward_input(CancelId::new(partial, 1));
    let mut done = 0u64;
    let start = Instant::now();
    for _ in 0..batches {
        for _ in 0..BATCH {
            backend
                .forward(&input)
                .map_err(|status| CliError::ioctl("FORWARD", status))?;
        }
        if cancel {
            for row in proto::list(backend)? {
                proto::cancel(backend, row.request_id)
                    .map_err(|status| CliError::ioctl("CANCEL", status))?;
            }
        } else {
            backend.target_complete(usize::try_from(BATCH).unwrap_or(usize::MAX))?;
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while backend.outstanding() > 0 && Instant::now() < deadline {
            done += backend.collect(Duration::from_millis(10)).len() as u64;
        }
        if backend.outstanding() > 0 {
            return Err(CliError::Failed(format!(
                "{name}: {} request(s) did not finish within 5 s",
                backend.outstanding()
            )));
        }
    }
    Ok(Measure::new(name, done, start.elapsed()))
}

/// Request operations that do nothing, so the timing sees the tracker's own cost.
struct NoOps;

impl RequestOps for NoOps {
    type Handle = u32;
    fn send(&self, _: u32, _: RequestId) -> Result<(), NtStatus> {
        Ok(())
    }
    fn complete(&self, _: u32, _: NtStatus) {}
    fn reference(&self, request: u32) {
        black_box(request);
    }
    fn dereference(&self, request: u32) {
        black_box(request);
    }
    fn cancel_sent(&self, _: u32) -> bool {
        true
    }
}

fn time(name: &'static str, ops: u64, mut body: impl FnMut()) -> Measure {
    // Warm up, then time, in one loop: `body` has one call site, so LLVM inlines it as the
    // criterion benchmarks' loop bodies are, and each measure costs no call of its own.
    let warm_up = ops.min(1000);
    let mut start = Instant::now();
    for n in 0..warm_up + ops {
        if n == warm_up {
            start = Instant::now();
        }
        body();
    }
    Measure::new(name, ops, start.elapsed())
}

/// The tracker ratios, measured now with the same structures the criterion benches use.
///
/// # Panics
/// Never in practice: the tables are sized for what is put in them.
#[must_use]
pub fn ratios(iterations: u64) -> Ratios {
    let ops = iterations.max(1000) * 100;
    let bare = BareSpinLock::new(0u64);
    let lock_pair = time("lock_pair", ops, || {
        bare.with(|v| *black_box(v));
    });

    let mut state = ForwardState::<u32>::with_capacity(1024).expect("1024 slots");
    let owner = state.table.open_owner().expect("a fresh table has room");
    let cancel_id = CancelId::new(owner.partial(), 7);
    let _ = state.table.track(owner, 0, cancel_id);
    let lock = BareSpinLock::new(state);
    let track_untrack = time("track_untrack", ops, || {
        let id = lock.with(|s| s.table.track(owner, black_box(1), cancel_id));
        if let Ok(id) = id {
            lock.with(|s| black_box(s.table.untrack(black_box(id))));
        }
    });

    let state = ForwardState::with_capacity(OUTSTANDING + 1024).expect("capacity");
    let forwarder = Forwarder::new(BareSpinLock::new(state), NoOps);
    let owner = forwarder.open_owner().expect("a fresh table has room");
    let ids: Vec<RequestId> = (0..OUTSTANDING)
        .filter_map(|n| forwarder.forward(owner, n, CancelId::NONE).ok())
        .collect();
    let len = ids.len().max(1);
    let mut next = 0usize;
    let cancel_lookup = time("cancel_lookup_65536", ops, || {
        next = (next + 7919) % len;
        black_box(forwarder.cancel(owner, black_box(ids[next])).ok());
    });

    let mut collection = CollectionModel::new();
    for n in 0..u64::from(OUTSTANDING) {
        collection.add(n, u32::try_from(n).unwrap_or(u32::MAX));
    }
    let baseline = BareSpinLock::new(collection);
    let mut next = 0u64;
    let lookups = (iterations / 10).clamp(50, 2000);
    let baseline_cancel_lookup = time("baseline_cancel_lookup_65536", lookups, || {
        next = (next + 7919) % u64::from(OUTSTANDING);
        let handle = baseline.with(|c| c.find(black_box(next)));
        black_box(handle.map(|h| NoOps.cancel_sent(h)));
    });

    let track_untrack_over_lock_pair = track_untrack.ns_per_op / lock_pair.ns_per_op.max(1e-3);
    let baseline_over_cancel_lookup =
        baseline_cancel_lookup.ns_per_op / cancel_lookup.ns_per_op.max(1e-3);
    Ratios {
        lock_pair,
        track_untrack,
        cancel_lookup,
        baseline_cancel_lookup,
        track_untrack_over_lock_pair,
        baseline_over_cancel_lookup,
    }
}

fn print(report: &BenchReport, out: &mut dyn Write) -> std::io::Result<()> {
    let mut rows = vec![
        &report.ioctl_round_trip,
        &report.forward_complete,
        &report.forward_cancel,
    ];
    if let Some(t) = &report.tracker {
        rows.extend([
            &t.lock_pair,
            &t.track_untrack,
            &t.cancel_lookup,
            &t.baseline_cancel_lookup,
        ]);
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|m| {
            vec![
                m.name.to_owned(),
                m.ops.to_string(),
                format!("{:.1}", m.ns_per_op),
                format!("{:.0}", m.ops_per_sec),
            ]
        })
        .collect();
    writeln!(out, "bench on the {}", report.backend.name())?;
    output::table(out, &["measure", "ops", "ns/op", "ops/s"], &cells)?;
    if let Some(t) = &report.tracker {
        writeln!(
            out,
            "\ntrack_untrack / lock_pair = {:.2} (target <= 3)",
            t.track_untrack_over_lock_pair
        )?;
        writeln!(
            out,
            "baseline / cancel_lookup at {OUTSTANDING} outstanding = {:.0} (target >= 1000)",
            t.baseline_over_cancel_lookup
        )?;
        if let Some(bytes) = report.tracker_bytes_per_request {
            writeln!(
                out,
                "tracker state per outstanding request = {bytes} bytes (target <= 64)"
            )?;
        }
        writeln!(
            out,
            "(a quick timing loop in a debug or release build; the criterion benches are the \
             reference)"
        )?;
    }
    Ok(())
}
