//! `FSCTL_SET_PURGE_FAILURE_MODE` bookkeeping and the purge-failure policy.
//!
//! Filter Manager sends the FSCTL in balanced ENABLED / DISABLED pairs around the life of a
//! section it creates for data scanning (`FltCreateSectionForDataScan`). While at least one
//! ENABLED is outstanding on a stream (the *window* is open), a file system or filter that fails
//! to purge the stream's cache must answer (seed 004, REFERENCE.md §5):
//!
//! | operation | answer while the window is open |
//! |---|---|
//! | destructive `IRP_MJ_CREATE` (supersede / overwrite / overwrite-if) | `STATUS_USER_MAPPED_FILE` |
//! | non-cached `IRP_MJ_WRITE` | `STATUS_PURGE_FAILED` |
//! | `IRP_MJ_SET_INFORMATION` | `STATUS_PURGE_FAILED` |
//! | anything else (a cached write, a non-destructive create, the filter's own purge request) | held, re-issued in order when the count drops to zero |
//!
//! Filter Manager retries the first three after closing its section. Outside the window every
//! failure goes to the caller unchanged.
//!
//! Decisions, with their sources:
//! - Validation follows fastfat's `FatSetPurgeFailureMode` (filesys/fastfat/fsctrl.c) step by step:
//!   requestor not kernel → `STATUS_INVALID_PARAMETER`; a directory → `STATUS_FILE_IS_A_DIRECTORY`;
//!   any other non-user-file open → `STATUS_INVALID_PARAMETER`; input shorter than 4 bytes →
//!   `STATUS_BUFFER_TOO_SMALL`; neither flag → `STATUS_INVALID_PARAMETER`.
//! - **Both flags set** counts as ENABLED: fastfat tests `ENABLED` first and only reaches the
//!   `DISABLED` branch in the `else`. Other bits are ignored, and a longer input is accepted, as
//!   fastfat only tests the two flags and a minimum length.
//! - Overflow (ENABLED at `u32::MAX`) and underflow (DISABLED at 0) are refused with
//!   `STATUS_INVALID_PARAMETER`, fastfat's status for both; the count is unchanged.
//! - The filter's mirror of the count changes only after the file system below *succeeded*, in the
//!   post-operation step; a refused or failed FSCTL changes nothing.
//! - A stream torn down with held operations completes each with [`TEARDOWN_STATUS`]
//!   (`STATUS_CANCELLED`): the operation was never performed, and "cancelled" is the status that
//!   says exactly that to the caller (`ERROR_OPERATION_ABORTED`), so a retry is safe.
//! - A held operation that cannot be queued for lack of memory is failed with
//!   `STATUS_INSUFFICIENT_RESOURCES` rather than dropped.
//! - The filter must never issue this FSCTL itself. The only FSCTL core can ask an adapter to
//!   send is an [`IssuableFsctl`], which has no value for it.

extern crate alloc;

use crate::file::CreateDisposition;
use crate::protocol::ctl_code;
use crate::status::NtStatus;

/// `FILE_DEVICE_FILE_SYSTEM`.
const FILE_DEVICE_FILE_SYSTEM: u32 = 0x0000_0009;

/// `FSCTL_SET_PURGE_FAILURE_MODE` = `CTL_CODE(FILE_DEVICE_FILE_SYSTEM, 156, METHOD_BUFFERED,
/// FILE_ANY_ACCESS)`.
pub const FSCTL_SET_PURGE_FAILURE_MODE: u32 = ctl_code(FILE_DEVICE_FILE_SYSTEM, 156, 0, 0);
/// `FSCTL_REQUEST_OPLOCK` = `CTL_CODE(FILE_DEVICE_FILE_SYSTEM, 144, METHOD_BUFFERED,
/// FILE_ANY_ACCESS)`.
pub const FSCTL_REQUEST_OPLOCK: u32 = ctl_code(FILE_DEVICE_FILE_SYSTEM, 144, 0, 0);

/// `SET_PURGE_FAILURE_MODE_ENABLED`.
pub const SET_PURGE_FAILURE_MODE_ENABLED: u32 = 0x1;
/// `SET_PURGE_FAILURE_MODE_DISABLED`.
pub const SET_PURGE_FAILURE_MODE_DISABLED: u32 = 0x2;
/// `sizeof(SET_PURGE_FAILURE_MODE_INPUT)`: one `ULONG Flags`.
pub const SET_PURGE_FAILURE_MODE_INPUT_SIZE: usize = 4;

/// What a held operation is completed with when its stream is torn down.
pub const TEARDOWN_STATUS: NtStatus = NtStatus::CANCELLED;

/// What a valid `SET_PURGE_FAILURE_MODE_INPUT` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PurgeModeChange {
    /// `SET_PURGE_FAILURE_MODE_ENABLED` (also when both flags are set).
    Enable,
    /// `SET_PURGE_FAILURE_MODE_DISABLED`.
    Disable,
}

/// Reads `SET_PURGE_FAILURE_MODE_INPUT.Flags`.
///
/// # Errors
/// `STATUS_BUFFER_TOO_SMALL` below 4 bytes, `STATUS_INVALID_PARAMETER` with neither flag.
pub fn decode_purge_mode_input(input: &[u8]) -> Result<PurgeModeChange, NtStatus> {
    let flags = input
        .get(..SET_PURGE_FAILURE_MODE_INPUT_SIZE)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes)
        .ok_or(NtStatus::BUFFER_TOO_SMALL)?;
    if flags & SET_PURGE_FAILURE_MODE_ENABLED != 0 {
        Ok(PurgeModeChange::Enable)
    } else if flags & SET_PURGE_FAILURE_MODE_DISABLED != 0 {
        Ok(PurgeModeChange::Disable)
    } else {
        Err(NtStatus::INVALID_PARAMETER)
    }
}

/// A stream's purge-failure-mode count (fastfat's `PurgeFailureModeEnableCount`, per FCB).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PurgeFailureCount(u32);

impl PurgeFailureCount {
    /// Zero: the window is closed.
    #[must_use]
    pub const fn new() -> Self {
        Self(0)
    }

    /// The count.
    #[must_use]
    pub const fn get(self) -> u32 {
        self.0
    }

    /// `true` while at least one ENABLED is outstanding.
    #[must_use]
    pub const fn is_open(self) -> bool {
        self.0 > 0
    }

    /// Applies a change; returns the new count.
    ///
    /// # Errors
    /// `STATUS_INVALID_PARAMETER` for ENABLED at `u32::MAX` or DISABLED at 0, count unchanged.
    pub fn apply(&mut self, change: PurgeModeChange) -> Result<u32, NtStatus> {
        let next = match change {
            PurgeModeChange::Enable => self.0.checked_add(1),
            PurgeModeChange::Disable => self.0.checked_sub(1),
        };
        self.0 = next.ok_or(NtStatus::INVALID_PARAMETER)?;
        Ok(self.0)
    }
}

/// Held operations a stream keeps at most; one more is refused (`STATUS_INSUFFICIENT_RESOURCES`).
///
/// The queue lives in the stream's context and is changed under the filter's spin lock, where
/// nothing may be allocated, so its room is fixed when the context is allocated.
pub const MAX_HELD: usize = 16;

/// Operations held while a window is open, in arrival order, at most [`MAX_HELD`]. `T` is the
/// caller's token for an operation (a purge request's file-object reference in the driver, a
/// request ID in the sim). Never allocates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldQueue<T> {
    slots: [Option<T>; MAX_HELD],
    head: usize,
    len: usize,
}

impl<T> Default for HeldQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> HeldQueue<T> {
    /// An empty queue.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            slots: [const { None }; MAX_HELD],
            head: 0,
            len: 0,
        }
    }

    /// Appends `op`.
    ///
    /// # Errors
    /// Gives `op` back when [`MAX_HELD`] are held already, so it is never lost.
    pub fn push(&mut self, op: T) -> Result<(), T> {
        if self.len == MAX_HELD {
            return Err(op);
        }
        self.slots[(self.head + self.len) % MAX_HELD] = Some(op);
        self.len += 1;
        Ok(())
    }

    /// Takes the oldest.
    pub fn pop_front(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        let op = self.slots[self.head].take();
        self.head = (self.head + 1) % MAX_HELD;
        self.len -= 1;
        op
    }

    /// Held operations.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.len
    }

    /// `true` when nothing is held.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Takes every held operation, leaving the queue empty.
    #[must_use]
    pub fn take(&mut self) -> Self {
        core::mem::take(self)
    }

    /// The held operations, oldest first, without removing them.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        (0..self.len).filter_map(|i| self.slots[(self.head + i) % MAX_HELD].as_ref())
    }
}

/// The operations of a [`HeldQueue`], oldest first.
#[derive(Debug)]
pub struct HeldIter<T>(HeldQueue<T>);

impl<T> Iterator for HeldIter<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.0.pop_front()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.0.len, Some(self.0.len))
    }
}

impl<T> IntoIterator for HeldQueue<T> {
    type Item = T;
    type IntoIter = HeldIter<T>;

    /// Oldest first: the order the operations must be re-issued in.
    fn into_iter(self) -> Self::IntoIter {
        HeldIter(self)
    }
}

/// The kind of operation whose purge failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PurgeOp {
    /// `IRP_MJ_CREATE` with this disposition.
    Create(CreateDisposition),
    /// `IRP_MJ_WRITE`.
    Write {
        /// `IRP_NOCACHE`.
        non_cached: bool,
    },
    /// `IRP_MJ_SET_INFORMATION`.
    SetInformation,
    /// The filter's own flush + purge of the stream's cache, on a user's request.
    PurgeRequest,
    /// Anything else.
    Other,
}

/// What to do with an operation whose purge failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureResponse<T> {
    /// Complete it with `status` (the window's answer, for Filter Manager to retry).
    Fail {
        /// `STATUS_USER_MAPPED_FILE`, `STATUS_PURGE_FAILED` or `STATUS_INSUFFICIENT_RESOURCES`.
        status: NtStatus,
        /// The operation, back to the caller.
        op: T,
    },
    /// Held; it comes back from [`PurgeStream::on_set_mode_completed`] when the window closes, or
    /// from [`PurgeStream::teardown`].
    Held,
    /// No window: complete it with the failure the file system gave, unchanged.
    Unchanged {
        /// The original status.
        status: NtStatus,
        /// The operation, back to the caller.
        op: T,
    },
}

/// What to do with a user's flush + purge request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PurgeRequestDecision<T> {
    /// No window: go ahead now.
    Proceed(T),
    /// A window is open: held like any other operation.
    Held,
}

/// How the mirror took a completed `FSCTL_SET_PURGE_FAILURE_MODE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MirrorOutcome {
    /// Counted; the new count.
    Counted(u32),
    /// The file system below failed it; nothing counted.
    LowerFailed(NtStatus),
    /// The file system accepted an input the filter cannot read; nothing counted.
    Undecodable(NtStatus),
    /// The file system accepted a change the mirror cannot follow (a DISABLED at 0, when the
    /// filter attached inside a window, or an ENABLED at `u32::MAX`); nothing counted.
    Unbalanced(PurgeModeChange),
}

/// The result of [`PurgeStream::on_set_mode_completed`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "operations released by a closing window must be re-issued"]
pub struct ModeUpdate<T> {
    /// How the FSCTL was counted.
    pub outcome: MirrorOutcome,
    /// Re-issue these, in this order: non-empty only when this FSCTL closed the window.
    pub reissue: HeldQueue<T>,
}

/// The result of [`PurgeStream::teardown`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "held operations must be completed"]
pub struct TornDown<T> {
    /// Complete each of `ops` with this: [`TEARDOWN_STATUS`].
    pub status: NtStatus,
    /// The operations still held, oldest first.
    pub ops: HeldQueue<T>,
}

/// Totals the driver exposes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurgeCounters {
    /// ENABLEs counted.
    pub enables: u64,
    /// DISABLEs counted.
    pub disables: u64,
    /// FSCTLs the file system below failed (not counted).
    pub lower_failed: u64,
    /// FSCTLs the file system accepted but the filter could not read.
    pub undecodable: u64,
    /// FSCTLs the mirror could not follow.
    pub unbalanced: u64,
    /// Operations answered `STATUS_USER_MAPPED_FILE`.
    pub user_mapped_file: u64,
    /// Operations answered `STATUS_PURGE_FAILED`.
    pub purge_failed: u64,
    /// Operations held.
    pub held: u64,
    /// Operations that could not be held for lack of memory.
    pub hold_failures: u64,
    /// Held operations released for re-issue.
    pub reissued: u64,
    /// Failures passed to the caller unchanged.
    pub unchanged: u64,
    /// Held operations completed by a teardown.
    pub torn_down: u64,
}

fn bump(field: &mut u64, n: usize) {
    *field = field.saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
}

/// One stream's purge-failure window as the filter mirrors it, with its held operations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PurgeStream<T> {
    count: PurgeFailureCount,
    held: HeldQueue<T>,
    counters: PurgeCounters,
}

impl<T> Default for PurgeStream<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> PurgeStream<T> {
    /// Window closed, nothing held.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            count: PurgeFailureCount::new(),
            held: HeldQueue::new(),
            counters: PurgeCounters {
                enables: 0,
                disables: 0,
                lower_failed: 0,
                undecodable: 0,
                unbalanced: 0,
                user_mapped_file: 0,
                purge_failed: 0,
                held: 0,
                hold_failures: 0,
                reissued: 0,
                unchanged: 0,
                torn_down: 0,
            },
        }
    }

    /// The mirrored count.
    #[must_use]
    pub const fn count(&self) -> u32 {
        self.count.get()
    }

    /// `true` while the window is open.
    #[must_use]
    pub const fn window_open(&self) -> bool {
        self.count.is_open()
    }

    /// Operations held now.
    #[must_use]
    pub fn held_len(&self) -> usize {
        self.held.len()
    }

    /// This stream's totals.
    #[must_use]
    pub const fn counters(&self) -> &PurgeCounters {
        &self.counters
    }

    /// Post-operation of `FSCTL_SET_PURGE_FAILURE_MODE`: counts it only when the file system below
    /// succeeded. When this closes the window the held operations come back for re-issue.
    pub fn on_set_mode_completed(&mut self, input: &[u8], lower_status: NtStatus) -> ModeUpdate<T> {
        let outcome = self.count_completed(input, lower_status);
        let reissue = if self.window_open() {
            HeldQueue::new()
        } else {
            self.held.take()
        };
        bump(&mut self.counters.reissued, reissue.len());
        ModeUpdate { outcome, reissue }
    }

    /// Takes out the held operations `matches` selects (those of a handle being cleaned up),
    /// oldest first, to be completed with [`TEARDOWN_STATUS`]; the others stay held in order.
    /// Never allocates (it runs under the filter's spin lock).
    pub fn cancel_where(&mut self, mut matches: impl FnMut(&T) -> bool) -> HeldQueue<T> {
        let mut cancelled = HeldQueue::new();
        // Rotate once through the queue: each kept operation goes back to the end, so the kept
        // ones stay in order and no slot is ever added.
        for _ in 0..self.held.len() {
            let Some(op) = self.held.pop_front() else {
                break;
            };
            let kept = if matches(&op) {
                cancelled.push(op).err()
            } else {
                Some(op)
            };
            if let Some(op) = kept {
                // Room: this very slot was just freed.
                let _ = self.held.push(op);
            }
        }
        bump(&mut self.counters.torn_down, cancelled.len());
        cancelled
    }

    /// The held operations, oldest first, without removing them.
    pub fn held(&self) -> impl Iterator<Item = &T> {
        self.held.iter()
    }

    fn count_completed(&mut self, input: &[u8], lower_status: NtStatus) -> MirrorOutcome {
        if !lower_status.is_success() {
            bump(&mut self.counters.lower_failed, 1);
            return MirrorOutcome::LowerFailed(lower_status);
        }
        let change = match decode_purge_mode_input(input) {
            Ok(change) => change,
            Err(status) => {
                bump(&mut self.counters.undecodable, 1);
                return MirrorOutcome::Undecodable(status);
            }
        };
        if let Ok(count) = self.count.apply(change) {
            let field = match change {
                PurgeModeChange::Enable => &mut self.counters.enables,
                PurgeModeChange::Disable => &mut self.counters.disables,
            };
            bump(field, 1);
            MirrorOutcome::Counted(count)
        } else {
            bump(&mut self.counters.unbalanced, 1);
            MirrorOutcome::Unbalanced(change)
        }
    }

    /// The one policy for an operation whose purge failed with `status` (the failure the caller
    /// would otherwise see). `op` comes back unless it is held.
    pub fn on_purge_failure(
        &mut self,
        kind: PurgeOp,
        op: T,
        status: NtStatus,
    ) -> FailureResponse<T> {
        if !self.window_open() {
            bump(&mut self.counters.unchanged, 1);
            return FailureResponse::Unchanged { status, op };
        }
        let answer = match kind {
            PurgeOp::Create(disposition) if disposition.is_destructive() => {
                Some(NtStatus::USER_MAPPED_FILE)
            }
            PurgeOp::Write { non_cached: true } | PurgeOp::SetInformation => {
                Some(NtStatus::PURGE_FAILED)
            }
            PurgeOp::Create(_)
            | PurgeOp::Write { non_cached: false }
            | PurgeOp::PurgeRequest
            | PurgeOp::Other => None,
        };
        match answer {
            Some(status) => {
                let field = if status == NtStatus::USER_MAPPED_FILE {
                    &mut self.counters.user_mapped_file
                } else {
                    &mut self.counters.purge_failed
                };
                bump(field, 1);
                FailureResponse::Fail { status, op }
            }
            None => self.hold(op),
        }
    }

    /// A user asked the filter to flush and purge this stream's cache. While a window is open the
    /// request is held like any other operation (purging would fail, or disturb the scan).
    pub fn on_purge_request(&mut self, op: T) -> PurgeRequestDecision<T> {
        if !self.window_open() {
            return PurgeRequestDecision::Proceed(op);
        }
        match self.hold(op) {
            FailureResponse::Held => PurgeRequestDecision::Held,
            // Could not be held: let it run now; if its purge fails, `on_purge_failure` decides.
            FailureResponse::Fail { op, .. } | FailureResponse::Unchanged { op, .. } => {
                PurgeRequestDecision::Proceed(op)
            }
        }
    }

    fn hold(&mut self, op: T) -> FailureResponse<T> {
        match self.held.push(op) {
            Ok(()) => {
                bump(&mut self.counters.held, 1);
                FailureResponse::Held
            }
            Err(op) => {
                bump(&mut self.counters.hold_failures, 1);
                FailureResponse::Fail {
                    status: NtStatus::INSUFFICIENT_RESOURCES,
                    op,
                }
            }
        }
    }

    /// The stream goes away (last close, instance teardown). Consumes the state, so nothing can be
    /// held afterwards; every held operation comes back to be completed with [`TEARDOWN_STATUS`].
    pub fn teardown(mut self) -> TornDown<T> {
        let ops = self.held.take();
        bump(&mut self.counters.torn_down, ops.len());
        TornDown {
            status: TEARDOWN_STATUS,
            ops,
        }
    }
}

/// The FSCTLs core may ask an adapter to send. There is deliberately no variant, and no
/// conversion from a raw code, for `FSCTL_SET_PURGE_FAILURE_MODE`: Filter Manager alone issues it,
/// and "filters must never issue this control code" (seed 004).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IssuableFsctl {
    /// `FSCTL_REQUEST_OPLOCK` (Windows 7 oplocks: R, RH, RW, RWH).
    RequestOplock,
}

impl IssuableFsctl {
    /// Every variant.
    pub const ALL: [Self; 1] = [Self::RequestOplock];

    /// The control code to send.
    #[must_use]
    pub const fn code(self) -> u32 {
        match self {
            Self::RequestOplock => FSCTL_REQUEST_OPLOCK,
        }
    }

    /// The variant for `code`; `None` for every code core may not send.
    #[must_use]
    pub const fn from_code(code: u32) -> Option<Self> {
        match code {
            FSCTL_REQUEST_OPLOCK => Some(Self::RequestOplock),
            _ => None,
        }
    }
}

// Checked at compile time: no issuable FSCTL carries the purge-failure-mode code.
const _: () = {
    let mut i = 0;
    while i < IssuableFsctl::ALL.len() {
        assert!(IssuableFsctl::ALL[i].code() != FSCTL_SET_PURGE_FAILURE_MODE);
        i += 1;
    }
};

#[cfg(test)]
mod tests;
