//! `inspect FILE [--offset N] [--length N]`: the filter reads a few bytes of FILE on behalf of a
//! handle ferroctl opened, through that handle's own file object (`INSPECT`), so the read carries
//! the handle's oplock key and breaks nothing the handle holds.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use serde::Serialize;

#[cfg(feature = "sim")]
use crate::backend::sim::SimSession;
use crate::backend::{self, Backend, BackendKind};
use crate::error::CliError;
use crate::exit::Outcome;
use crate::output;
#[cfg(any(feature = "sim", windows))]
use crate::proto;

/// The most of FILE the sim backend copies onto its volume (the end of the inspected range).
pub const SIM_COPY_LIMIT: u64 = 1 << 20;

/// What `inspect FILE` prints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InspectReport {
    /// `sim` or `device`.
    pub backend: BackendKind,
    /// The file.
    pub file: String,
    /// Byte offset read at.
    pub offset: u64,
    /// Bytes asked for.
    pub length: u32,
    /// Bytes the filter read.
    pub bytes_read: usize,
    /// The bytes, as lowercase hex.
    pub hex: String,
    /// The bytes as text: printable ASCII as is, everything else as `\xNN`.
    pub text: String,
}

/// `inspect FILE`.
///
/// # Errors
/// [`CliError::Usage`] for a missing file or (on the sim) a range past [`SIM_COPY_LIMIT`]; a
/// failed `INSPECT` (`STATUS_END_OF_FILE` for a read at or after the end of the file).
pub fn run(
    kind: BackendKind,
    file: &Path,
    offset: u64,
    length: u32,
    json: bool,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    if !file.is_file() {
        return Err(CliError::Usage(format!("{}: no such file", file.display())));
    }
    let bytes = match kind {
        BackendKind::Sim => sim_inspect(file, offset, length)?,
        BackendKind::Device => device_inspect(backend::open(kind)?.as_mut(), file, offset, length)?,
    };
    let report = InspectReport {
        backend: kind,
        file: file.display().to_string(),
        offset,
        length,
        bytes_read: bytes.len(),
        hex: bytes.iter().fold(String::new(), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        }),
        text: printable(&bytes),
    };
    if json {
        output::json(out, &report)?;
    } else {
        output::pairs(out, &output::field_rows(&report))?;
    }
    Ok(Outcome::Ok)
}

/// Printable ASCII as is, everything else (and `\`) escaped as `\xNN`.
fn printable(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut text, &byte| {
        if (b' '..=b'~').contains(&byte) && byte != b'\\' {
            text.push(char::from(byte));
        } else {
            let _ = write!(text, "\\x{byte:02x}");
        }
        text
    })
}

#[cfg(feature = "sim")]
/// `inspect FILE` on the sim: FILE's bytes up to the end of the inspected range are copied onto
/// the sim's volume (written through the filter by a handle of their own, closed again); then a
/// handle opened for `FILE_READ_DATA` (what the driver checks an `INSPECT` handle for, core's
/// `handle_access`) is named in `INSPECT`, and closed.
fn sim_inspect(file: &Path, offset: u64, length: u32) -> Result<Vec<u8>, CliError> {
    use ferrofilter_model::oplock::{access, share};

    let end = offset.saturating_add(u64::from(length));
    if end > SIM_COPY_LIMIT {
        return Err(CliError::Usage(format!(
            "on the sim, --offset + --length must be at most {SIM_COPY_LIMIT} (the sim copies \
             FILE onto its volume up to the end of the range)"
        )));
    }
    let contents = std::fs::read(file)
        .map_err(|error| CliError::file(format!("reading {}", file.display()), error))?;
    let copied = contents
        .get(
            ..usize::try_from(end)
                .unwrap_or(usize::MAX)
                .min(contents.len()),
        )
        .unwrap_or(&contents);
    let mut session = SimSession::new_default()?;
    let path = file.display().to_string();
    if !copied.is_empty() {
        session.with_file(
            &path,
            access::FILE_WRITE_DATA,
            share::FILE_SHARE_ALL,
            |session, writer| {
                session
                    .host()
                    .write_file(writer, 0, copied)
                    .map_err(|status| {
                        CliError::ioctl("writing the file on the sim's volume", status)
                    })
            },
        )?;
    }
    session.with_file(
        &path,
        access::FILE_READ_DATA,
        share::FILE_SHARE_ALL,
        |session, reader| proto::inspect(session, reader, offset, length),
    )
}

#[cfg(not(feature = "sim"))]
fn sim_inspect(_: &Path, _: u64, _: u32) -> Result<Vec<u8>, CliError> {
    Err(backend::no_sim())
}

/// `inspect FILE` on the device: opens FILE with `GENERIC_READ` plus what the driver checks an
/// `INSPECT` handle for (core's `handle_access`: `FILE_READ_DATA`, which `GENERIC_READ` already
/// holds), sharing everything, and sends `INSPECT` with its handle.
#[cfg(windows)]
fn device_inspect(
    backend: &mut dyn Backend,
    file: &Path,
    offset: u64,
    length: u32,
) -> Result<Vec<u8>, CliError> {
    use ferrofilter_core::protocol::Command;

    // The handle value and the range do not change the access the core asks for.
    let command = Command::Inspect {
        handle: 0,
        offset: 0,
        length: 0,
    };
    let handle = crate::backend::device::open_file_for(file, &command)?;
    proto::inspect(backend, handle.raw(), offset, length)
}

#[cfg(not(windows))]
fn device_inspect(_: &mut dyn Backend, _: &Path, _: u64, _: u32) -> Result<Vec<u8>, CliError> {
    Err(CliError::Unreachable(
        "the ferrofilter device exists only on Windows; use --sim".to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn text_escapes_what_is_not_printable() {
        assert_eq!(printable(b"ab c~"), "ab c~");
        assert_eq!(printable(b"a\nb\\\x00\xff"), "a\\x0ab\\x5c\\x00\\xff");
    }
}
