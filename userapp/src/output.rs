//! Printing: one JSON object per command (or per step, for streams), or aligned tables.

use std::io::Write;

use ferrofilter_core::protocol::StatsInfo;
use serde::Serialize;

/// Writes `value` as one line of JSON.
///
/// # Errors
/// When serialising or writing fails.
pub fn json(out: &mut dyn Write, value: &impl Serialize) -> std::io::Result<()> {
    let text = serde_json::to_string(value).map_err(std::io::Error::other)?;
    writeln!(out, "{text}")
}

/// Writes `name value` rows, names padded to one column.
///
/// # Errors
/// When writing fails.
pub fn pairs(out: &mut dyn Write, rows: &[(&str, String)]) -> std::io::Result<()> {
    let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    for (name, value) in rows {
        writeln!(out, "{name:<width$}  {value}")?;
    }
    Ok(())
}

/// Writes a table with a header row; every column as wide as its widest cell.
///
/// # Errors
/// When writing fails.
pub fn table(out: &mut dyn Write, header: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut text = String::new();
        for (index, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            if index > 0 {
                text.push_str("  ");
            }
            text.push_str(cell);
            if index + 1 < cells.len() {
                let pad = width.saturating_sub(cell.chars().count());
                text.extend(std::iter::repeat_n(' ', pad));
            }
        }
        text
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for row in rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

/// The driver's forwarding counters (`GET_STATS`), as printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct StatsView {
    /// Requests outstanding now.
    pub outstanding: u32,
    /// Table capacity.
    pub capacity: u32,
    /// Owners holding a partial ID.
    pub owners_live: u32,
    /// Most outstanding at once.
    pub peak_outstanding: u32,
    /// Requests forwarded.
    pub forwarded: u64,
    /// Completed with success.
    pub completed: u64,
    /// Completed with `STATUS_CANCELLED`.
    pub cancelled: u64,
    /// Completed with another failure.
    pub failed: u64,
    /// Sends that failed.
    pub send_failures: u64,
    /// Refused before sending.
    pub refused: u64,
    /// Cancellations attempted.
    pub cancel_attempts: u64,
    /// Completions for untracked requests (should be 0).
    pub unknown_completions: u64,
}

impl From<StatsInfo> for StatsView {
    fn from(s: StatsInfo) -> Self {
        Self {
            outstanding: s.outstanding,
            capacity: s.capacity,
            owners_live: s.owners_live,
            peak_outstanding: s.peak_outstanding,
            forwarded: s.forwarded,
            completed: s.completed,
            cancelled: s.cancelled,
            failed: s.failed,
            send_failures: s.send_failures,
            refused: s.refused,
            cancel_attempts: s.cancel_attempts,
            unknown_completions: s.unknown_completions,
        }
    }
}

impl StatsView {
    /// `name value` rows for a table.
    #[must_use]
    pub fn rows(&self) -> Vec<(&'static str, String)> {
        vec![
            ("outstanding", self.outstanding.to_string()),
            ("capacity", self.capacity.to_string()),
            ("owners_live", self.owners_live.to_string()),
            ("peak_outstanding", self.peak_outstanding.to_string()),
            ("forwarded", self.forwarded.to_string()),
            ("completed", self.completed.to_string()),
            ("cancelled", self.cancelled.to_string()),
            ("failed", self.failed.to_string()),
            ("send_failures", self.send_failures.to_string()),
            ("refused", self.refused.to_string()),
            ("cancel_attempts", self.cancel_attempts.to_string()),
            ("unknown_completions", self.unknown_completions.to_string()),
        ]
    }
}
