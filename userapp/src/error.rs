//! Errors of a command, each mapped to its exit code.

use std::fmt;

use ferrofilter_core::NtStatus;

use crate::exit::Outcome;

/// Why a command stopped.
#[derive(Debug)]
pub enum CliError {
    /// Bad usage or input (exit 2).
    Usage(String),
    /// The operation ran and failed (exit 1).
    Failed(String),
    /// The driver could not be reached; the message says what to do (exit 3).
    Unreachable(String),
    /// The feature is not in this build (exit 1).
    NotAvailable(String),
    /// Writing the output failed (exit 1).
    Io(std::io::Error),
}

impl CliError {
    /// The exit code this error ends the process with.
    #[must_use]
    pub const fn outcome(&self) -> Outcome {
        match self {
            Self::Usage(_) => Outcome::Usage,
            Self::Unreachable(_) => Outcome::Unreachable,
            Self::Failed(_) | Self::NotAvailable(_) | Self::Io(_) => Outcome::Failed,
        }
    }

    /// A short machine-readable kind, used in `--json` error objects.
    #[must_use]
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Usage(_) => "usage",
            Self::Failed(_) => "failed",
            Self::Unreachable(_) => "unreachable",
            Self::NotAvailable(_) => "not_available",
            Self::Io(_) => "io",
        }
    }

    /// An IOCTL answered with a failure status.
    #[must_use]
    pub fn ioctl(name: &str, status: NtStatus) -> Self {
        Self::Failed(format!("{name} failed: {}", status_text(status)))
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(text)
            | Self::Failed(text)
            | Self::Unreachable(text)
            | Self::NotAvailable(text) => f.write_str(text),
            Self::Io(error) => write!(f, "writing output: {error}"),
        }
    }
}

impl std::error::Error for CliError {}

impl From<std::io::Error> for CliError {
    fn from(error: std::io::Error) -> Self {
        Self::Io(error)
    }
}

impl From<serde_json::Error> for CliError {
    fn from(error: serde_json::Error) -> Self {
        Self::Io(std::io::Error::other(error))
    }
}

/// The symbolic name of a status when known, else its hex value: `STATUS_CANCELLED`,
/// `0xC0DE0001`.
#[must_use]
pub fn status_text(status: NtStatus) -> String {
    status
        .name()
        .map_or_else(|| format!("0x{:08X}", status.0), str::to_owned)
}

/// The error of a feature this build does not have. Every command that depends on a part of the
/// driver or the sim that is not there yet ends here, with exit code 1; nothing is faked.
#[must_use]
pub fn not_available_in_this_build(what: &str, why: &str) -> CliError {
    CliError::NotAvailable(format!("{what}: not available in this build ({why})"))
}
