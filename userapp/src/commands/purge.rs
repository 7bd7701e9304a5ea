//! `purge status` and `purge FILE`: the filter's purge-failure windows and held operations, and a
//! flush+purge of a file requested through the filter.

use std::io::Write;
use std::path::Path;

use ferrofilter_core::NtStatus;
use ferrofilter_core::protocol::{PURGE_OUTCOME_DONE, PURGE_OUTCOME_FAILED, PURGE_OUTCOME_HELD};
use serde::Serialize;

#[cfg(feature = "sim")]
use crate::backend::sim::SimSession;
use crate::backend::{self, Backend, BackendKind};
use crate::error::{CliError, not_available_in_this_build, status_text};
use crate::exit::Outcome;
use crate::output;
use crate::proto;

/// One stream the filter tracks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct StreamView {
    /// Opaque stream ID.
    pub stream_id: u64,
    /// Purge-failure-mode count (a window is open while above 0).
    pub count: u32,
    /// Operations held.
    pub held: u32,
    /// Open handles.
    pub handles: u32,
    /// ENABLEs counted.
    pub enables: u64,
    /// DISABLEs counted.
    pub disables: u64,
}

/// What `purge status` prints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PurgeStatusReport {
    /// `sim` or `device`.
    pub backend: BackendKind,
    /// Streams the filter tracks.
    pub streams_total: u32,
    /// Streams with an open window.
    pub windows_open: u32,
    /// Operations held over all streams.
    pub held_total: u32,
    /// `FSCTL_SET_PURGE_FAILURE_MODE` seen going down.
    pub set_mode_seen: u64,
    /// Of those, counted.
    pub set_mode_counted: u64,
    /// Held operations released for re-issue.
    pub reissued: u64,
    /// Held operations completed by a cleanup or teardown.
    pub torn_down: u64,
    /// Every stream.
    pub streams: Vec<StreamView>,
}

/// What `purge FILE` prints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PurgeReport {
    /// `sim` or `device`.
    pub backend: BackendKind,
    /// The file.
    pub file: String,
    /// `done`, `held` or `failed`.
    pub outcome: String,
    /// The purge's status.
    pub status: String,
    /// The stream's purge-failure-mode count after the request.
    pub count: u32,
    /// Operations held on the stream after the request.
    pub held: u32,
}

fn filter_ioctl_error(backend: &dyn Backend, error: CliError, what: &str) -> CliError {
    // The sim's control device answers STATUS_NOT_SUPPORTED for the filter IOCTLs it does not
    // serve yet: that is a missing feature, not a failed purge.
    match error {
        CliError::Status { status, .. }
            if backend.kind() == BackendKind::Sim && status == NtStatus::NOT_SUPPORTED =>
        {
            not_available_in_this_build(
                what,
                &format!("the sim's control device does not serve it yet: {error}"),
            )
        }
        other => other,
    }
}

/// `purge status`.
///
/// # Errors
/// When the backend cannot be opened or `PURGE_STATUS` fails.
pub fn run_status(kind: BackendKind, json: bool, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let mut backend = backend::open(kind)?;
    let (header, rows) = proto::purge_status(backend.as_mut())
        .map_err(|error| filter_ioctl_error(backend.as_ref(), error, "purge status"))?;
    let report = PurgeStatusReport {
        backend: kind,
        streams_total: header.streams_total,
        windows_open: header.windows_open,
        held_total: header.held_total,
        set_mode_seen: header.set_mode_seen,
        set_mode_counted: header.set_mode_counted,
        reissued: header.reissued,
        torn_down: header.torn_down,
        streams: rows
            .iter()
            .map(|r| StreamView {
                stream_id: r.stream_id,
                count: r.count,
                held: r.held,
                handles: r.handles,
                enables: r.enables,
                disables: r.disables,
            })
            .collect(),
    };
    if json {
        output::json(out, &report)?;
        return Ok(Outcome::Ok);
    }
    output::pairs(out, &output::field_rows(&report))?;
    let rows: Vec<Vec<String>> = report
        .streams
        .iter()
        .map(|s| {
            vec![
                format!("0x{:016X}", s.stream_id),
                s.count.to_string(),
                s.held.to_string(),
                s.handles.to_string(),
                s.enables.to_string(),
                s.disables.to_string(),
            ]
        })
        .collect();
    writeln!(out)?;
    output::table(
        out,
        &["stream", "count", "held", "handles", "enables", "disables"],
        &rows,
    )?;
    Ok(Outcome::Ok)
}

/// `purge FILE`.
///
/// # Errors
/// [`CliError::Usage`] for a missing file; a failed `PURGE_REQUEST`.
pub fn run_file(
    kind: BackendKind,
    file: &Path,
    json: bool,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    if !file.is_file() {
        return Err(CliError::Usage(format!("{}: no such file", file.display())));
    }
    // The sim opens its own session (one loaded driver per process); the device needs a handle.
    let answer = match kind {
        BackendKind::Sim => sim_purge(file)?,
        BackendKind::Device => device_purge(backend::open(kind)?.as_mut(), file)?,
    };
    let outcome = match answer.outcome {
        PURGE_OUTCOME_DONE => "done",
        PURGE_OUTCOME_HELD => "held",
        PURGE_OUTCOME_FAILED => "failed",
        _ => "unknown",
    };
    let report = PurgeReport {
        backend: kind,
        file: file.display().to_string(),
        outcome: outcome.to_owned(),
        status: status_text(NtStatus(answer.status)),
        count: answer.count,
        held: answer.held,
    };
    if json {
        output::json(out, &report)?;
    } else {
        output::pairs(out, &output::field_rows(&report))?;
    }
    Ok(if answer.outcome == PURGE_OUTCOME_FAILED {
        Outcome::Failed
    } else {
        Outcome::Ok
    })
}

#[cfg(feature = "sim")]
/// `purge FILE` on the sim: opens FILE on the sim's volume (read+write, sharing all), asks the
/// filter to flush and purge it through the control device, and closes the handle.
fn sim_purge(file: &Path) -> Result<ferrofilter_core::protocol::PurgeRequestOutput, CliError> {
    use ferrofilter_model::oplock::{access, share};

    SimSession::new_default()?.with_file(
        &file.display().to_string(),
        access::FILE_READ_DATA | access::FILE_WRITE_DATA,
        share::FILE_SHARE_ALL,
        |session, handle| proto::purge_request(session, handle),
    )
}

#[cfg(not(feature = "sim"))]
fn sim_purge(_: &Path) -> Result<ferrofilter_core::protocol::PurgeRequestOutput, CliError> {
    Err(backend::no_sim())
}

/// `purge FILE` on the device: opens FILE with the access the driver requires of the handle a
/// `PURGE_REQUEST` names (core's `handle_access`: `FILE_WRITE_DATA`, since a flush writes the
/// file's dirty data back), sharing everything, and asks the filter to flush and purge it.
#[cfg(windows)]
fn device_purge(
    backend: &mut dyn Backend,
    file: &Path,
) -> Result<ferrofilter_core::protocol::PurgeRequestOutput, CliError> {
    use ferrofilter_core::protocol::Command;

    // The handle value does not change the access the core asks for.
    let handle = crate::backend::device::open_file_for(file, &Command::PurgeRequest { handle: 0 })?;
    proto::purge_request(backend, handle.raw())
}

#[cfg(not(windows))]
fn device_purge(
    _: &mut dyn Backend,
    _: &Path,
) -> Result<ferrofilter_core::protocol::PurgeRequestOutput, CliError> {
    Err(CliError::Unreachable(
        "the ferrofilter device exists only on Windows; use --sim".to_owned(),
    ))
}
