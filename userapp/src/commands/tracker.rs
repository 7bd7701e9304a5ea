//! `forward`, `cancel`, `cancel-group`, `list`, `stats`: one whole flow per invocation.
//!
//! Each invocation is its own process (and on the sim its own in-process driver), and the driver
//! cancels everything a handle forwarded when the handle closes. So every command opens one
//! handle, creates its own I/O target, forwards `--count` requests tagged in groups of
//! `--group-size` cancel IDs, lists them, has the target complete `--complete` of them, cancels
//! what it was asked to, waits `--hold-ms`, lists what is left, reads the counters, closes the
//! handle, and reports what finished with which status and why.

use std::io::Write;
use std::time::{Duration, Instant};

use ferrofilter_core::protocol::StatsInfo;
use ferrofilter_core::{CancelId, NtStatus};
use serde::Serialize;

use crate::backend::{self, Backend, BackendKind, Completion, VerifierSummary};
use crate::error::{CliError, status_text};
use crate::exit::Outcome;
use crate::output;
use crate::proto::{self, Row};

/// Most requests one flow forwards: the table's capacity, the driver's and the sim's.
pub const MAX_COUNT: usize = ferrofilter_core::forward::DEFAULT_CAPACITY as usize;

/// What one flow does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Requests to forward.
    pub count: usize,
    /// Requests per cancel-ID group; 0 forwards without cancel IDs.
    pub group_size: usize,
    /// Requests the target completes with success after the first listing.
    pub complete: usize,
    /// Rows of the first listing whose request to cancel by ID.
    pub cancel_rows: Vec<usize>,
    /// Groups (0-based) to cancel by cancel ID.
    pub cancel_groups: Vec<usize>,
    /// How long to wait for completions before the final listing, in milliseconds.
    pub hold_ms: u64,
}

impl Plan {
    /// Groups the plan's requests fall into.
    #[must_use]
    pub const fn groups(&self) -> usize {
        if self.group_size == 0 {
            0
        } else {
            self.count.div_ceil(self.group_size)
        }
    }

    /// Checks the plan against itself before anything is sent.
    ///
    /// # Errors
    /// [`CliError::Usage`] naming the bad value.
    pub fn validate(&self) -> Result<(), CliError> {
        if self.count > MAX_COUNT {
            return Err(CliError::Usage(format!(
                "--count {} is above the limit of {MAX_COUNT}",
                self.count
            )));
        }
        if let Some(row) = self.cancel_rows.iter().find(|&&row| row >= self.count) {
            return Err(CliError::Usage(format!(
                "row {row} does not exist: only {} request(s) are forwarded (rows 0-{}); raise \
                 --count",
                self.count,
                self.count.saturating_sub(1)
            )));
        }
        if !self.cancel_groups.is_empty() && self.group_size == 0 {
            return Err(CliError::Usage(
                "--group-size 0 forwards without cancel IDs, so there is no group to cancel"
                    .to_owned(),
            ));
        }
        if let Some(group) = self.cancel_groups.iter().find(|&&g| g >= self.groups()) {
            return Err(CliError::Usage(format!(
                "group {group} does not exist: {} request(s) in groups of {} make {} group(s) \
                 (0-{})",
                self.count,
                self.group_size,
                self.groups(),
                self.groups().saturating_sub(1)
            )));
        }
        Ok(())
    }

    /// The cancel ID of request `index` for an owner with `partial`.
    #[must_use]
    pub fn cancel_id(&self, partial: u8, index: usize) -> CancelId {
        index
            .checked_div(self.group_size)
            .map_or(CancelId::NONE, |group| group_cancel_id(partial, group))
    }
}

/// The cancel ID of group `group` (0-based) for an owner with `partial`: `partial << 56 |
/// (group + 1)`.
#[must_use]
pub fn group_cancel_id(partial: u8, group: usize) -> CancelId {
    CancelId::new(partial, group as u64 + 1)
}

/// What became of one forwarded request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RequestRecord {
    /// Forward order, from 0.
    pub index: usize,
    /// Its group, when it has a cancel ID.
    pub group: Option<usize>,
    /// Its cancel ID (0: none).
    pub cancel_id: u64,
    /// The driver's request ID when known (always on the sim; on the device, from `LIST` when its
    /// cancel ID is unique there).
    pub request_id: Option<u64>,
    /// The status it completed with; `null` if it never finished.
    pub status: Option<String>,
    /// What finished it: `refused` (the forward failed at once), `target`, `cancel`, `hold`
    /// (during `--hold-ms`), `close` (the handle's cleanup); `null` if it never finished.
    pub finished_by: Option<&'static str>,
}

/// One thing the flow did after forwarding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Action {
    /// `complete`, `cancel` or `cancel_group`.
    pub action: &'static str,
    /// For `cancel`: the row of the first listing.
    pub row: Option<usize>,
    /// For `cancel_group`: the group.
    pub group: Option<usize>,
    /// The request ID (`cancel`) or cancel ID (`cancel_group`) sent.
    pub id: Option<u64>,
    /// Requests the target served (`complete`) or cancellations the driver attempted.
    pub count: u32,
    /// The IOCTL's status.
    pub status: String,
}

/// Totals over the flow's requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Forwards attempted.
    pub forwarded: usize,
    /// Completed with success.
    pub completed: usize,
    /// Completed with `STATUS_CANCELLED`.
    pub cancelled: usize,
    /// Completed with another status (including forwards refused at once).
    pub failed: usize,
    /// Never seen finished, even after the handle closed (should be 0).
    pub unfinished: usize,
}

/// Everything one flow did and saw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FlowReport {
    /// The command that ran the flow.
    pub command: &'static str,
    /// `sim` or `device`.
    pub backend: BackendKind,
    /// The I/O target the session created.
    pub target: String,
    /// The handle's partial cancel ID.
    pub partial_id: u8,
    /// Every forwarded request.
    pub requests: Vec<RequestRecord>,
    /// The driver's `LIST` right after forwarding.
    pub listed: Vec<Row>,
    /// Completions and cancels, in order.
    pub actions: Vec<Action>,
    /// The driver's `LIST` before the handle closed.
    pub remaining: Vec<Row>,
    /// The driver's `GET_STATS` before the handle closed (driver-wide on the device).
    pub stats: StatsInfo,
    /// Requests the handle's cleanup finished.
    pub finished_by_close: usize,
    /// Totals.
    pub summary: Summary,
    /// On the sim, what the verifier saw at teardown; `null` on the device.
    pub verifier: Option<VerifierSummary>,
}

impl FlowReport {
    /// Every request finished, and the verifier (on the sim) saw nothing.
    #[must_use]
    pub fn clean(&self) -> bool {
        self.summary.unfinished == 0
            && self
                .verifier
                .as_ref()
                .is_none_or(|v| v.violations == 0 && v.leaked == 0 && v.tracked == 0)
    }
}

/// Records completions, waiting up to `timeout` until `expected` more arrived.
fn settle(
    backend: &mut dyn Backend,
    records: &mut [RequestRecord],
    expected: usize,
    timeout: Duration,
    phase: &'static str,
) -> usize {
    let start = Instant::now();
    let mut seen = 0usize;
    loop {
        let left = timeout.saturating_sub(start.elapsed());
        let done: Vec<Completion> = backend.collect(left.min(Duration::from_millis(50)));
        seen += record(records, &done, phase);
        if seen >= expected || start.elapsed() >= timeout || backend.outstanding() == 0 {
            return seen;
        }
    }
}

fn record(records: &mut [RequestRecord], done: &[Completion], phase: &'static str) -> usize {
    for completion in done {
        if let Some(record) = records.get_mut(completion.token) {
            record.status = Some(status_text(completion.status));
            record.finished_by = Some(phase);
        }
    }
    done.len()
}

/// How long the device gets to deliver completions the flow expects.
const SETTLE: Duration = Duration::from_secs(2);

/// Runs a flow on `backend`.
#[expect(clippy::too_many_lines, reason = "the flow's steps, in order")]
///
/// # Errors
/// When an IOCTL the flow depends on fails (e.g. `OPEN_TARGET`).
pub fn run_flow(
    backend: &mut dyn Backend,
    command: &'static str,
    plan: &Plan,
) -> Result<FlowReport, CliError> {
    plan.validate()?;
    let partial = proto::partial_id(backend)?;
    let target = proto::open_target(backend)?;

    let mut records: Vec<RequestRecord> = Vec::with_capacity(plan.count);
    for index in 0..plan.count {
        let cancel_id = plan.cancel_id(partial, index);
        let mut record = RequestRecord {
            index,
            group: (plan.group_size > 0).then(|| index / plan.group_size),
            cancel_id: cancel_id.0,
            request_id: None,
            status: None,
            finished_by: None,
        };
        match backend.forward(&proto::forward_input(cancel_id)) {
            Ok(forwarded) => record.request_id = forwarded.request_id,
            Err(status) => {
                record.status = Some(status_text(status));
                record.finished_by = Some("refused");
            }
        }
        records.push(record);
    }

    let listed = proto::list(backend)?;
    fill_request_ids(&mut records, &listed);
    let mut actions = Vec::new();

    if plan.complete > 0 {
        let served = backend.target_complete(plan.complete)?;
        settle(backend, &mut records, served, SETTLE, "target");
        actions.push(Action {
            action: "complete",
            row: None,
            group: None,
            id: None,
            count: u32::try_from(served).unwrap_or(u32::MAX),
            status: status_text(NtStatus::SUCCESS),
        });
    }
    for &row in &plan.cancel_rows {
        let Some(entry) = listed.get(row) else {
            actions.push(Action {
                action: "cancel",
                row: Some(row),
                group: None,
                id: None,
                count: 0,
                status: "row not in the driver's list (its forward failed)".to_owned(),
            });
            continue;
        };
        let result = proto::cancel(backend, entry.request_id);
        let attempted = *result.as_ref().unwrap_or(&0);
        settle(backend, &mut records, attempted as usize, SETTLE, "cancel");
        actions.push(Action {
            action: "cancel",
            row: Some(row),
            group: None,
            id: Some(entry.request_id),
            count: attempted,
            status: status_text(result.err().unwrap_or(NtStatus::SUCCESS)),
        });
    }
    for &group in &plan.cancel_groups {
        let cancel_id = group_cancel_id(partial, group);
        let result = proto::cancel_group(backend, cancel_id);
        let attempted = *result.as_ref().unwrap_or(&0);
        settle(backend, &mut records, attempted as usize, SETTLE, "cancel");
        actions.push(Action {
            action: "cancel_group",
            row: None,
            group: Some(group),
            id: Some(cancel_id.0),
            count: attempted,
            status: status_text(result.err().unwrap_or(NtStatus::SUCCESS)),
        });
    }
    if plan.hold_ms > 0 {
        let hold = Duration::from_millis(plan.hold_ms);
        std::thread::sleep(hold);
        settle(backend, &mut records, 0, Duration::ZERO, "hold");
    }

    let remaining = proto::list(backend)?;
    let stats = proto::stats(backend)?;
    let waiting = backend.outstanding();
    let mut finished_by_close = record(&mut records, &backend.close()?, "close");
    if finished_by_close < waiting {
        finished_by_close += settle(
            backend,
            &mut records,
            waiting - finished_by_close,
            SETTLE,
            "close",
        );
    }
    let verifier = backend.verifier();
    let summary = summarize(&records);
    Ok(FlowReport {
        command,
        backend: backend.kind(),
        target,
        partial_id: partial,
        requests: records,
        listed,
        actions,
        remaining,
        stats,
        finished_by_close,
        summary,
        verifier,
    })
}

/// Fills request IDs the backend did not report, from the list, where the cancel ID is unique.
fn fill_request_ids(records: &mut [RequestRecord], listed: &[Row]) {
    for record in records.iter_mut().filter(|r| r.request_id.is_none()) {
        let mut matches = listed
            .iter()
            .filter(|row| row.cancel_id == record.cancel_id);
        if let (Some(row), None) = (matches.next(), matches.next())
            && record.cancel_id != 0
        {
            record.request_id = Some(row.request_id);
        }
    }
}

fn summarize(records: &[RequestRecord]) -> Summary {
    let success = status_text(NtStatus::SUCCESS);
    let cancelled = status_text(NtStatus::CANCELLED);
    let mut summary = Summary {
        forwarded: records.len(),
        ..Summary::default()
    };
    for record in records {
        match &record.status {
            None => summary.unfinished += 1,
            Some(status) if *status == success => summary.completed += 1,
            Some(status) if *status == cancelled => summary.cancelled += 1,
            Some(_) => summary.failed += 1,
        }
    }
    summary
}

/// What to print for a flow in table form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// Everything (`forward`).
    Full,
    /// The actions and the requests (`cancel`, `cancel-group`).
    Cancels,
    /// The driver's list (`list`).
    List,
    /// The driver's counters (`stats`).
    Stats,
}

/// Opens a session on `kind`, runs the flow and prints it.
///
/// # Errors
/// As [`run_flow`], plus [`CliError::Unreachable`] when the backend cannot be opened.
pub fn run(
    kind: BackendKind,
    command: &'static str,
    plan: &Plan,
    view: View,
    json: bool,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    plan.validate()?;
    let mut backend = backend::open(kind)?;
    let report = run_flow(backend.as_mut(), command, plan)?;
    if json {
        output::json(out, &report)?;
    } else {
        print_table(&report, view, out)?;
    }
    Ok(if report.clean() {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}

fn list_rows(rows: &[Row]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|row| {
            vec![
                row.row.to_string(),
                format!("0x{:016X}", row.request_id),
                format!("0x{:016X}", row.cancel_id),
            ]
        })
        .collect()
}

fn print_table(report: &FlowReport, view: View, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{} on the {}: target {}, partial ID {}",
        report.command,
        report.backend.name(),
        report.target,
        report.partial_id
    )?;
    let list_header = ["row", "request_id", "cancel_id"];
    if matches!(view, View::Full | View::List) {
        writeln!(out, "\nlisted after forwarding ({}):", report.listed.len())?;
        output::table(out, &list_header, &list_rows(&report.listed))?;
    }
    if matches!(view, View::Full | View::Cancels) && !report.actions.is_empty() {
        writeln!(out, "\nactions:")?;
        let rows: Vec<Vec<String>> = report
            .actions
            .iter()
            .map(|a| {
                let what = match (a.row, a.group) {
                    (Some(row), _) => format!("row {row}"),
                    (_, Some(group)) => format!("group {group}"),
                    _ => String::new(),
                };
                vec![
                    a.action.to_owned(),
                    what,
                    a.id.map(|id| format!("0x{id:016X}")).unwrap_or_default(),
                    a.count.to_string(),
                    a.status.clone(),
                ]
            })
            .collect();
        output::table(out, &["action", "which", "id", "count", "status"], &rows)?;
    }
    if matches!(view, View::Full | View::Cancels) {
        writeln!(out, "\nrequests:")?;
        let rows: Vec<Vec<String>> = report
            .requests
            .iter()
            .map(|r| {
                vec![
                    r.index.to_string(),
                    r.group.map(|g| g.to_string()).unwrap_or_default(),
                    r.request_id
                        .map(|id| format!("0x{id:016X}"))
                        .unwrap_or_default(),
                    r.status
                        .clone()
                        .unwrap_or_else(|| "(never finished)".to_owned()),
                    r.finished_by.unwrap_or("").to_owned(),
                ]
            })
            .collect();
        output::table(
            out,
            &["index", "group", "request_id", "status", "finished_by"],
            &rows,
        )?;
    }
    if matches!(view, View::Full | View::List) {
        writeln!(out, "\nlisted before closing ({}):", report.remaining.len())?;
        output::table(out, &list_header, &list_rows(&report.remaining))?;
    }
    if matches!(view, View::Full | View::Stats) {
        writeln!(out, "\ndriver counters before closing:")?;
        output::pairs(out, &output::field_rows(&report.stats))?;
    }
    let s = report.summary;
    writeln!(
        out,
        "\nforwarded {}, completed {}, cancelled {}, failed {}, unfinished {}; {} finished by the \
         handle's cleanup",
        s.forwarded, s.completed, s.cancelled, s.failed, s.unfinished, report.finished_by_close
    )?;
    match &report.verifier {
        Some(v) => {
            writeln!(
                out,
                "verifier: {} violation(s), {} leaked, {} still tracked",
                v.violations, v.leaked, v.tracked
            )?;
            for violation in &v.first_violations {
                writeln!(out, "violation: {violation}")?;
            }
        }
        None => writeln!(out, "verifier: not observable from user mode on the device")?,
    }
    writeln!(
        out,
        "{}",
        if report.clean() { "clean" } else { "NOT CLEAN" }
    )
}
