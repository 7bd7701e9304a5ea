//! Printing: one JSON object per command (or per step, for streams), or aligned tables.

use std::io::Write;

use serde::Serialize;

use crate::error::CliError;

/// Writes `value` as one line of JSON.
///
/// # Errors
/// [`CliError::Json`] when serialising fails, [`CliError::Io`] when writing does.
pub fn json(out: &mut dyn Write, value: &impl Serialize) -> Result<(), CliError> {
    let text = serde_json::to_string(value)?;
    writeln!(out, "{text}")?;
    Ok(())
}

/// Writes `name value` rows, names padded to one column.
///
/// # Errors
/// When writing fails.
pub fn pairs(out: &mut dyn Write, rows: &[(impl AsRef<str>, String)]) -> std::io::Result<()> {
    let width = rows
        .iter()
        .map(|(name, _)| name.as_ref().len())
        .max()
        .unwrap_or(0);
    for (name, value) in rows {
        let name = name.as_ref();
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

/// The scalar fields of what `value` serializes to, as `name value` rows in name order: the table
/// form of the same object `--json` prints, so each output struct names its fields once. Nested
/// objects and lists are left to the caller.
#[must_use]
pub fn field_rows(value: &impl serde::Serialize) -> Vec<(String, String)> {
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(value) else {
        return Vec::new();
    };
    fields
        .into_iter()
        .filter_map(|(name, value)| {
            let text = match value {
                serde_json::Value::String(text) => text,
                serde_json::Value::Null => "-".to_owned(),
                serde_json::Value::Bool(_) | serde_json::Value::Number(_) => value.to_string(),
                serde_json::Value::Array(_) | serde_json::Value::Object(_) => return None,
            };
            Some((name, text))
        })
        .collect()
}
