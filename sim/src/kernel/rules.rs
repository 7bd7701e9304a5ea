//! The verifier's rules at the kernel boundary, as KMDF Verifier, Filter Verifier and Driver
//! Verifier state them, and the fault plan: which calls the kernel fails.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// One broken rule of the kernel's or the framework's contract.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Violation {
    /// A handle used after its object was deleted or its last reference released.
    UseAfterFree {
        /// The routine that was given it.
        routine: &'static str,
        /// The handle value.
        handle: String,
    },
    /// A handle of the wrong object type (a queue passed as a request).
    WrongObjectType {
        /// The routine.
        routine: &'static str,
        /// What it expected.
        expected: &'static str,
    },
    /// A routine called above the IRQL it allows (Driver Verifier's IRQL checking).
    WrongIrql {
        /// The routine.
        routine: &'static str,
        /// The IRQL it was called at.
        irql: u8,
        /// The highest IRQL it allows.
        max: u8,
    },
    /// A request completed a second time.
    DoubleCompletion {
        /// The request.
        handle: String,
    },
    /// A request completed while the I/O target still owned it.
    CompletedWhileSent {
        /// The request.
        handle: String,
    },
    /// A request sent while already at a target.
    SendWhileSent {
        /// The request.
        handle: String,
    },
    /// `WdfRequestSend` or `WdfRequestCancelSentRequest` with a spin lock held.
    CalledWithSpinLockHeld {
        /// The routine.
        routine: &'static str,
    },
    /// A spin lock acquired while this processor already holds it (a deadlock on hardware).
    RecursiveSpinLock {
        /// The routine.
        routine: &'static str,
    },
    /// A spin lock released that was not held.
    ReleaseNotHeld {
        /// The routine.
        routine: &'static str,
    },
    /// More dereferences than references (an object, a context, a file object).
    ReferenceUnderflow {
        /// The routine.
        routine: &'static str,
        /// The object.
        handle: String,
    },
    /// A request sent to a target it was not formatted for, or not formatted at all.
    NotFormatted {
        /// The request.
        handle: String,
    },
    /// A field of a structure the framework owns was written by the driver.
    FrameworkStructureWritten {
        /// Which field.
        field: &'static str,
    },
    /// Something still alive when the driver finished unloading.
    Leak {
        /// What kind of thing.
        what: &'static str,
        /// How many.
        count: usize,
        /// Details (tags, types).
        detail: String,
    },
    /// A filter changed an ECP context it received from above.
    EcpModified {
        /// The create's ECP list.
        list: u64,
        /// Position of the ECP in the list.
        index: usize,
    },
    /// A filter touched an ECP list after its create completed.
    EcpUseAfterFree {
        /// The list.
        list: u64,
    },
    /// A filter issued `FSCTL_SET_PURGE_FAILURE_MODE` (only Filter Manager may).
    FilterIssuedPurgeFailureMode,
    /// The filter's mirrored purge-failure-mode counts differ from the file system's.
    MirrorDiverged {
        /// The file system's counts of streams with a context, sorted.
        file_system: Vec<u32>,
        /// The filter's counts as it reports them, sorted.
        mirror: Vec<u32>,
    },
    /// An IOCTL's output carried a kernel address.
    KernelAddressDisclosed {
        /// The IOCTL code.
        code: u32,
        /// The byte offset in the output.
        offset: usize,
    },
    /// A request, context or reference handed to the driver by a routine that failed.
    BadArgument {
        /// The routine.
        routine: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// An unload that did not finish.
    UnloadIncomplete {
        /// What was left.
        detail: String,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UseAfterFree { routine, handle } => {
                write!(f, "{routine} given {handle} after it was freed")
            }
            Self::WrongObjectType { routine, expected } => {
                write!(f, "{routine} given a handle that is not a {expected}")
            }
            Self::WrongIrql { routine, irql, max } => {
                write!(f, "{routine} called at IRQL {irql} (at most {max})")
            }
            Self::DoubleCompletion { handle } => write!(f, "{handle} completed twice"),
            Self::CompletedWhileSent { handle } => {
                write!(f, "{handle} completed while the I/O target owns it")
            }
            Self::SendWhileSent { handle } => write!(f, "{handle} sent while already sent"),
            Self::CalledWithSpinLockHeld { routine } => {
                write!(f, "{routine} called with a spin lock held")
            }
            Self::RecursiveSpinLock { routine } => {
                write!(f, "{routine}: spin lock acquired twice on one processor")
            }
            Self::ReleaseNotHeld { routine } => write!(f, "{routine}: spin lock not held"),
            Self::ReferenceUnderflow { routine, handle } => {
                write!(f, "{routine}: {handle} dereferenced below zero")
            }
            Self::NotFormatted { handle } => {
                write!(f, "{handle} sent to a target it was not formatted for")
            }
            Self::FrameworkStructureWritten { field } => {
                write!(f, "the driver wrote {field}, which the framework owns")
            }
            Self::Leak {
                what,
                count,
                detail,
            } => write!(f, "{count} {what} left at unload: {detail}"),
            Self::EcpModified { list, index } => {
                write!(f, "ECP {index} of list {list} modified by the filter")
            }
            Self::EcpUseAfterFree { list } => write!(f, "ECP list {list} used after its create"),
            Self::FilterIssuedPurgeFailureMode => {
                f.write_str("the filter issued FSCTL_SET_PURGE_FAILURE_MODE")
            }
            Self::MirrorDiverged {
                file_system,
                mirror,
            } => write!(
                f,
                "purge-failure-mode counts: file system {file_system:?}, filter {mirror:?}"
            ),
            Self::KernelAddressDisclosed { code, offset } => {
                write!(
                    f,
                    "IOCTL {code:#x} output has a kernel address at byte {offset}"
                )
            }
            Self::BadArgument { routine, detail } => write!(f, "{routine}: {detail}"),
            Self::UnloadIncomplete { detail } => write!(f, "unload incomplete: {detail}"),
        }
    }
}

impl Violation {
    /// The rule's name (`UseAfterFree`, `Leak`, ...).
    #[must_use]
    pub fn rule(&self) -> String {
        let debug = format!("{self:?}");
        debug
            .split([' ', '{', '('])
            .next()
            .unwrap_or_default()
            .to_owned()
    }
}

/// How one routine fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// Each call fails with this probability, in parts per million.
    Random(u32),
    /// Only the n-th call (1-based) fails.
    Nth(u64),
}

/// Which of the driver's calls fail. Seeded through the kernel's source, so a seed replays.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FaultPlan {
    rules: BTreeMap<&'static str, Fault>,
    #[serde(skip)]
    seen: BTreeMap<&'static str, u64>,
    /// Some rule counts calls (`Nth`).
    #[serde(skip)]
    counts: bool,
}

/// Every routine the kernel can fail, with what its failure means.
pub const FALLIBLE: &[&str] = &[
    super::pool::ROUTINE,
    "ExUuidCreate",
    "ObReferenceObjectByHandle",
    "FltRegisterFilter",
    "FltStartFiltering",
    "FltAllocateContext",
    "FltSetStreamContext",
    "FltSetStreamHandleContext",
    "FltGetStreamContext",
    "FltGetStreamHandleContext",
    "FltGetVolumeFromFileObject",
    "FltGetVolumeInstanceFromName",
    "FltAllocateGenericWorkItem",
    "FltQueueGenericWorkItem",
    "FltReadFile",
    "WdfDriverCreate",
    "WdfControlDeviceInitAllocate",
    "WdfDeviceInitAssignName",
    "WdfDeviceCreate",
    "WdfDeviceCreateSymbolicLink",
    "WdfIoQueueCreate",
    "WdfSpinLockCreate",
    "WdfIoTargetCreate",
    "WdfIoTargetOpen",
    "WdfRequestCreate",
    "WdfRequestSend",
    "WdfRequestRetrieveInputBuffer",
    "WdfRequestRetrieveOutputBuffer",
    "WdfRequestRetrieveOutputMemory",
    "WdfIoTargetFormatRequestForRead",
    "WdfDeviceEnqueueRequest",
];

impl FaultPlan {
    /// No faults.
    #[must_use]
    pub fn none() -> Self {
        Self::default()
    }

    /// Adds a rule for `routine`.
    #[must_use]
    pub fn with(mut self, routine: &'static str, fault: Fault) -> Self {
        self.counts |= matches!(fault, Fault::Nth(_));
        self.rules.insert(routine, fault);
        self
    }

    /// No rule at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Every fallible routine fails with probability `ppm`.
    #[must_use]
    pub fn everywhere(ppm: u32) -> Self {
        let mut plan = Self::default();
        for routine in FALLIBLE {
            plan.rules.insert(routine, Fault::Random(ppm));
        }
        plan
    }

    /// Whether this call of `routine` fails, given a uniform draw in `0..1_000_000`.
    pub fn fails(&mut self, routine: &'static str, draw: u32) -> bool {
        match self.rules.get(routine) {
            Some(Fault::Random(ppm)) => draw < *ppm,
            Some(Fault::Nth(n)) => {
                let seen = self.seen.entry(routine).or_default();
                *seen += 1;
                *seen == *n
            }
            None => false,
        }
    }
}
