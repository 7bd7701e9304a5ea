//! `version` and `status`: ferroctl's and the driver's versions, the protocol, the altitude, the
//! counters and (on Windows) the filter's instances.

use std::io::Write;

use ferrofilter_core::NtStatus;
use ferrofilter_core::protocol::{self, FilterStatsInfo, StatsInfo};
use serde::Serialize;

use crate::backend::{self, BackendKind};
use crate::error::{CliError, status_text};
use crate::exit::Outcome;
use crate::output;
use crate::proto;

/// What `version` prints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VersionReport {
    /// `sim` or `device`.
    pub backend: BackendKind,
    /// This ferroctl's version.
    pub ferroctl: String,
    /// The protocol version this ferroctl speaks.
    pub ferroctl_protocol: u32,
    /// The driver's version, `major.minor.patch`.
    pub driver: String,
    /// The protocol version the driver speaks.
    pub driver_protocol: u32,
    /// The filter's altitude.
    pub altitude: u32,
}

/// What `status` prints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    /// Versions and altitude.
    pub version: VersionReport,
    /// The forwarding counters (`GET_STATS`).
    pub stats: StatsInfo,
    /// The filter's counters (`FILTER_STATS`), `null` when the backend does not serve them.
    pub filter_stats: Option<FilterStatsInfo>,
    /// Why `filter_stats` is `null`.
    pub filter_stats_note: Option<String>,
    /// The filter's instances (`fltmc instances -f ferrofilter`, Windows only), one per line.
    pub instances: Option<Vec<String>>,
    /// Why `instances` is `null`, or how they were read.
    pub instances_note: String,
}

fn version_of(backend: &mut dyn backend::Backend) -> Result<VersionReport, CliError> {
    let info = proto::check_version(backend)?;
    Ok(VersionReport {
        backend: backend.kind(),
        ferroctl: env!("CARGO_PKG_VERSION").to_owned(),
        ferroctl_protocol: protocol::PROTOCOL_VERSION,
        driver: format!("{}.{}.{}", info.major, info.minor, info.patch),
        driver_protocol: info.protocol_version,
        altitude: info.altitude,
    })
}

fn version_rows(v: &VersionReport) -> Vec<(&'static str, String)> {
    vec![
        ("backend", v.backend.name().to_owned()),
        ("ferroctl", v.ferroctl.clone()),
        ("ferroctl_protocol", v.ferroctl_protocol.to_string()),
        ("driver", v.driver.clone()),
        ("driver_protocol", v.driver_protocol.to_string()),
        ("altitude", v.altitude.to_string()),
    ]
}

/// `version`.
///
/// # Errors
/// When the backend cannot be opened.
pub fn run_version(
    kind: BackendKind,
    json: bool,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let mut backend = backend::open(kind)?;
    let report = version_of(backend.as_mut())?;
    if json {
        output::json(out, &report)?;
    } else {
        output::pairs(out, &version_rows(&report))?;
    }
    Ok(Outcome::Ok)
}

/// `status`.
///
/// # Errors
/// When the backend cannot be opened or `GET_STATS` fails.
pub fn run_status(kind: BackendKind, json: bool, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let mut backend = backend::open(kind)?;
    let version = version_of(backend.as_mut())?;
    let stats = proto::stats(backend.as_mut())?;
    let (filter_stats, filter_stats_note) = match proto::filter_stats(backend.as_mut()) {
        Ok(info) => (Some(info), None),
        Err(error) => (None, Some(error.to_string())),
    };
    let (instances, instances_note) = instances(kind);
    let report = StatusReport {
        version,
        stats,
        filter_stats,
        filter_stats_note,
        instances,
        instances_note,
    };
    if json {
        output::json(out, &report)?;
        return Ok(Outcome::Ok);
    }
    output::pairs(out, &version_rows(&report.version))?;
    writeln!(out, "\nforwarding counters:")?;
    output::pairs(out, &output::field_rows(&report.stats))?;
    writeln!(out, "\nfilter counters:")?;
    match (&report.filter_stats, &report.filter_stats_note) {
        (Some(f), _) => output::pairs(out, &output::field_rows(f))?,
        (None, note) => writeln!(out, "  unavailable: {}", note.as_deref().unwrap_or(""))?,
    }
    writeln!(out, "\ninstances: {}", report.instances_note)?;
    for line in report.instances.iter().flatten() {
        writeln!(out, "  {line}")?;
    }
    Ok(Outcome::Ok)
}

/// Explains a status the sim answers for IOCTLs its control device does not serve yet.
#[must_use]
pub fn unserved(status: NtStatus) -> String {
    format!("the backend does not serve it ({})", status_text(status))
}

#[cfg(windows)]
fn instances(kind: BackendKind) -> (Option<Vec<String>>, String) {
    if kind == BackendKind::Sim {
        return (None, "the sim has no volume instances".to_owned());
    }
    // Unverified here: the output format of `fltmc instances` is passed through as it is.
    match std::process::Command::new("fltmc")
        .args(["instances", "-f", "ferrofilter"])
        .output()
    {
        Ok(result) if result.status.success() => (
            Some(
                String::from_utf8_lossy(&result.stdout)
                    .lines()
                    .map(str::trim_end)
                    .filter(|line| !line.trim().is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
            "from `fltmc instances -f ferrofilter`".to_owned(),
        ),
        Ok(result) => (
            None,
            format!(
                "`fltmc instances -f ferrofilter` failed ({}): {}",
                result.status,
                String::from_utf8_lossy(&result.stderr).trim()
            ),
        ),
        Err(error) => (None, format!("could not run fltmc: {error}")),
    }
}

#[cfg(not(windows))]
fn instances(_kind: BackendKind) -> (Option<Vec<String>>, String) {
    (None, "the sim has no volume instances".to_owned())
}
