//! Exit codes, the same on every backend.

use std::process::ExitCode;

/// How a command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 0: it did what was asked.
    Ok,
    /// 1: the operation ran and failed (or found a problem, e.g. a verifier violation).
    Failed,
    /// 2: bad usage or input.
    Usage,
    /// 3: the driver could not be reached.
    Unreachable,
}

impl Outcome {
    /// The process exit code.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Failed => 1,
            Self::Usage => 2,
            Self::Unreachable => 3,
        }
    }
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        Self::from(outcome.code())
    }
}
