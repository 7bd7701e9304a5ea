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

/// The driver's forwarding counters (`GET_STATS`) as `name value` rows, in the struct's order.
#[must_use]
pub fn stats_rows(s: &StatsInfo) -> Vec<(&'static str, String)> {
    vec![
        ("outstanding", s.outstanding.to_string()),
        ("capacity", s.capacity.to_string()),
        ("owners_live", s.owners_live.to_string()),
        ("peak_outstanding", s.peak_outstanding.to_string()),
        ("forwarded", s.forwarded.to_string()),
        ("completed", s.completed.to_string()),
        ("cancelled", s.cancelled.to_string()),
        ("failed", s.failed.to_string()),
        ("send_failures", s.send_failures.to_string()),
        ("refused", s.refused.to_string()),
        ("cancel_attempts", s.cancel_attempts.to_string()),
        ("unknown_completions", s.unknown_completions.to_string()),
    ]
}
