//! The verifier: fails a run on what KMDF Verifier or Static Driver Verifier would flag.

use std::fmt;

use ferrofilter_core::{NtStatus, RequestId};
use serde::Serialize;

use crate::sync::{Mutex, lock};
use crate::wdf::RequestHandle;

/// One broken rule of the framework's contract.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Violation {
    /// A request handle used after its last reference was gone (SDV `InvalidReqAccess`).
    UseAfterFree {
        /// The handle.
        handle: RequestHandle,
        /// What was attempted.
        operation: &'static str,
    },
    /// A request completed a second time (SDV `RequestCompleted`).
    DoubleCompletion {
        /// The handle.
        handle: RequestHandle,
    },
    /// A request completed while the I/O target still owned it.
    CompletedWhileSent {
        /// The handle.
        handle: RequestHandle,
    },
    /// `WdfRequestSend` called with a spin lock held (SDV `ReqSendWhileSpinlock`).
    SendWhileSpinLockHeld {
        /// The handle.
        handle: RequestHandle,
    },
    /// `WdfRequestCancelSentRequest` with a spin lock held: the completion routine may run inside
    /// it and take the same lock.
    CancelWhileSpinLockHeld {
        /// The handle.
        handle: RequestHandle,
    },
    /// A request sent twice without coming back.
    SendWhileSent {
        /// The handle.
        handle: RequestHandle,
    },
    /// More dereferences than references.
    ReferenceUnderflow {
        /// The handle.
        handle: RequestHandle,
    },
    /// The completion routine ran for a request the driver was not tracking.
    UnknownCompletion {
        /// The ID the completion routine carried.
        id: u64,
        /// The status it carried.
        status: String,
    },
    /// A request object still alive at teardown.
    Leak {
        /// The handle.
        handle: RequestHandle,
    },
    /// Requests still tracked at teardown.
    TrackedAtTeardown {
        /// How many.
        count: u32,
    },
    /// A filter changed an ECP context it received from above (ECPs are read-only to filters).
    EcpModified {
        /// The create's ECP list.
        list: u64,
        /// Position of the ECP in the list.
        index: usize,
    },
    /// A filter touched an ECP list after the create it came with had completed and freed it.
    EcpUseAfterFree {
        /// The freed list.
        list: u64,
    },
    /// A filter attached a system-defined ECP (an oplock key) to a create of its own.
    SystemEcpOnFilterCreate {
        /// The ECP type.
        ecp_type: String,
    },
    /// A filter issued `FSCTL_SET_PURGE_FAILURE_MODE` (only Filter Manager may).
    FilterIssuedPurgeFailureMode,
    /// The filter's mirrored purge-failure-mode count differs from the file system's.
    MirrorDiverged {
        /// The stream.
        stream: String,
        /// The file system's count.
        file_system: u32,
        /// The filter's mirror.
        mirror: u32,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UseAfterFree { handle, operation } => {
                write!(
                    f,
                    "{operation} on {handle:?} after its last reference was released"
                )
            }
            Self::DoubleCompletion { handle } => write!(f, "{handle:?} completed twice"),
            Self::CompletedWhileSent { handle } => {
                write!(f, "{handle:?} completed while the I/O target still owns it")
            }
            Self::SendWhileSpinLockHeld { handle } => {
                write!(f, "{handle:?} sent while holding a spin lock")
            }
            Self::CancelWhileSpinLockHeld { handle } => {
                write!(f, "{handle:?} cancel-sent while holding a spin lock")
            }
            Self::SendWhileSent { handle } => write!(f, "{handle:?} sent while already sent"),
            Self::ReferenceUnderflow { handle } => write!(f, "{handle:?} dereferenced below zero"),
            Self::UnknownCompletion { id, status } => {
                write!(f, "completion routine for untracked {id:#x} with {status}")
            }
            Self::Leak { handle } => write!(f, "{handle:?} still alive at teardown"),
            Self::TrackedAtTeardown { count } => write!(f, "{count} requests tracked at teardown"),
            Self::EcpModified { list, index } => {
                write!(f, "ECP {index} of list {list} modified by a filter")
            }
            Self::EcpUseAfterFree { list } => write!(f, "ECP list {list} used after it was freed"),
            Self::SystemEcpOnFilterCreate { ecp_type } => {
                write!(f, "filter attached system ECP {ecp_type} to its own create")
            }
            Self::FilterIssuedPurgeFailureMode => {
                f.write_str("filter issued FSCTL_SET_PURGE_FAILURE_MODE")
            }
            Self::MirrorDiverged {
                stream,
                file_system,
                mirror,
            } => write!(
                f,
                "purge-failure-mode mirror of {stream} is {mirror}, file system has {file_system}"
            ),
        }
    }
}

impl Violation {
    pub(crate) fn unknown_completion(id: RequestId, status: NtStatus) -> Self {
        Self::UnknownCompletion {
            id: id.0,
            status: format!("{status:?}"),
        }
    }
}

/// Collects violations; in strict mode the first one panics, which is what loom needs to report
/// the interleaving that caused it.
#[derive(Debug)]
pub struct Verifier {
    strict: bool,
    seen: Mutex<Vec<Violation>>,
}

impl Verifier {
    /// A verifier; `strict` panics at the first violation.
    #[must_use]
    pub fn new(strict: bool) -> Self {
        Self {
            strict,
            seen: Mutex::new(Vec::new()),
        }
    }

    /// Records a violation (and panics in strict mode).
    ///
    /// # Panics
    /// In strict mode, always: the panic message starts with `verifier:`.
    pub fn report(&self, violation: Violation) {
        let message = violation.to_string();
        lock(&self.seen).push(violation);
        assert!(!self.strict, "verifier: {message}");
    }

    /// Everything seen so far.
    #[must_use]
    pub fn violations(&self) -> Vec<Violation> {
        lock(&self.seen).clone()
    }

    /// How many violations of each kind there were: (double completions, all).
    #[must_use]
    pub fn counts(&self) -> (u64, u64) {
        let seen = lock(&self.seen);
        let doubles = seen
            .iter()
            .filter(|v| matches!(v, Violation::DoubleCompletion { .. }))
            .count();
        (doubles as u64, seen.len() as u64)
    }
}
