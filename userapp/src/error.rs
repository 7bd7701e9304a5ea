//! Errors of a command, each mapped to its exit code. A failure that has a cause (a status, a
//! malformed answer, an I/O or JSON error, a scenario file's fault, unknown flag bits, the
//! driver's protocol version) keeps it as its source or its fields; only messages composed for
//! the user are text.

use std::path::PathBuf;

use ferrofilter_core::NtStatus;
use ferrofilter_core::protocol::ProtocolError;
use ferrofilter_model::cf::UnknownCfFlags;
use ferrofilter_sim::scenario::ScenarioError;

use crate::exit::Outcome;

/// Why a command stopped.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad usage or input (exit 2).
    #[error("{0}")]
    Usage(String),
    /// `CF_OPEN_FILE_FLAGS` bits no flag defines (exit 2).
    #[error(transparent)]
    CfFlags(#[from] UnknownCfFlags),
    /// A scenario file that cannot run: unreadable, malformed, or a step the format refuses
    /// (exit 2).
    #[error("{}: {source}", path.display())]
    Scenario {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: ScenarioError,
    },
    /// The scenario file could not be read (exit 2).
    #[error("{}: cannot read {}: {source}", path.display(), path.display())]
    ScenarioRead {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A call (an IOCTL, a call on the sim's volume) answered with a failure status (exit 1).
    #[error("{call} failed: {}", status_text(*status))]
    Status {
        /// What was called.
        call: String,
        /// Its status.
        status: NtStatus,
    },
    /// The driver's answer to `call` does not decode (exit 1).
    #[error("{call}: the driver's answer is malformed: {source}")]
    Malformed {
        /// The IOCTL.
        call: String,
        /// Why it does not decode.
        source: ProtocolError,
    },
    /// A file the command works on could not be read or opened (exit 1).
    #[error("{what}: {source}")]
    File {
        /// What was done, naming the file.
        what: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The driver's `DriverEntry` failed on the sim (exit 1).
    #[error("the driver did not load on the sim: {status:?}")]
    SimNotLoaded {
        /// `DriverEntry`'s status.
        status: NtStatus,
    },
    /// The operation ran and failed (exit 1).
    #[error("{0}")]
    Failed(String),
    /// The driver could not be reached; the message says what to do (exit 3).
    #[error("{0}")]
    Unreachable(String),
    /// The driver does not speak this ferroctl's protocol (exit 3).
    #[error(transparent)]
    Version(#[from] VersionError),
    /// The feature is not in this build (exit 1).
    #[error("{0}")]
    NotAvailable(String),
    /// Writing the output failed (exit 1).
    #[error("writing output: {0}")]
    Io(#[from] std::io::Error),
    /// Encoding the `--json` output failed (exit 1).
    #[error("encoding output: {0}")]
    Json(#[from] serde_json::Error),
}

impl CliError {
    /// The exit code this error ends the process with.
    #[must_use]
    pub const fn outcome(&self) -> Outcome {
        match self {
            Self::Usage(_)
            | Self::CfFlags(_)
            | Self::Scenario { .. }
            | Self::ScenarioRead { .. } => Outcome::Usage,
            Self::Unreachable(_) | Self::Version(_) => Outcome::Unreachable,
            Self::Status { .. }
            | Self::Malformed { .. }
            | Self::File { .. }
            | Self::SimNotLoaded { .. }
            | Self::Failed(_)
            | Self::NotAvailable(_)
            | Self::Io(_)
            | Self::Json(_) => Outcome::Failed,
        }
    }

    /// A short machine-readable kind, used in `--json` error objects.
    #[must_use]
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Usage(_)
            | Self::CfFlags(_)
            | Self::Scenario { .. }
            | Self::ScenarioRead { .. } => "usage",
            Self::Status { .. }
            | Self::Malformed { .. }
            | Self::File { .. }
            | Self::SimNotLoaded { .. }
            | Self::Failed(_) => "failed",
            Self::Unreachable(_) | Self::Version(_) => "unreachable",
            Self::NotAvailable(_) => "not_available",
            Self::Io(_) | Self::Json(_) => "io",
        }
    }

    /// `call` answered with a failure status.
    #[must_use]
    pub fn ioctl(call: &str, status: NtStatus) -> Self {
        Self::Status {
            call: call.to_owned(),
            status,
        }
    }

    /// The driver's answer to `call` did not decode.
    #[must_use]
    pub fn malformed(call: &str, source: ProtocolError) -> Self {
        Self::Malformed {
            call: call.to_owned(),
            source,
        }
    }

    /// `what` (naming the file) failed with `source`.
    #[must_use]
    pub fn file(what: String, source: std::io::Error) -> Self {
        Self::File { what, source }
    }
}

/// Why the driver that answered is not one this ferroctl can talk to; each message says what to
/// do.
#[derive(Debug, thiserror::Error)]
pub enum VersionError {
    /// `GET_VERSION` failed.
    #[error(
        "the driver did not answer GET_VERSION ({}); is it the ferrofilter driver?",
        status_text(*.0)
    )]
    NoAnswer(NtStatus),
    /// The answer to `GET_VERSION` does not decode.
    #[error(
        "the driver's GET_VERSION answer does not match this ferroctl ({0}); install matching \
         versions of ferroctl and the driver"
    )]
    Malformed(#[source] ProtocolError),
    /// The driver speaks another protocol version.
    #[error(
        "the driver speaks protocol version {driver}, this ferroctl speaks {ours}; install \
         matching versions of ferroctl and the driver"
    )]
    Protocol {
        /// The driver's.
        driver: u32,
        /// This ferroctl's.
        ours: u32,
    },
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
