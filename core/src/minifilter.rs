//! The filter's event handlers as portable logic: what the driver's Filter Manager callbacks and
//! the sim's emulated Filter Manager both call.
//!
//! | callback | core call | what the adapter does with the answer |
//! |---|---|---|
//! | pre-create | [`Filter::pre_create`] with the create's ECPs and a [`KeySource`] | keeps the [`HandleKeys`] as completion context; the create goes down untouched |
//! | post-create | [`Filter::post_create`]; on `Some`, [`StreamContext::on_handle_opened`] | attaches the [`HandleContext`] as the stream-handle context, gets or creates the [`StreamContext`] |
//! | pre-FSCTL | [`Filter::pre_fsctl`] | passes the FSCTL down untouched; asks for the post callback only for [`FsctlRoute::TrackSetPurgeFailureMode`] |
//! | post-FSCTL (`FSCTL_SET_PURGE_FAILURE_MODE`) | [`Filter::post_fsctl`] | re-issues [`ModeUpdate::reissue`] in order |
//! | pre-create / write / set-information | [`Filter::pre_io`] | passes down; post callback when `true` |
//! | their post callbacks | [`Filter::post_io`] | nothing: counters only |
//! | cleanup | [`Filter::cleanup`] | completes the returned operations with [`TEARDOWN_STATUS`] |
//! | stream context freed / instance teardown | [`Filter::stream_teardown`] | same |
//! | control device: inspect | [`Filter::inspect`] | reads through the caller's own file object |
//! | control device: purge request | [`Filter::purge_request`], then [`Filter::purge_completed`] | flush + purge now, or later when re-issued |
//!
//! Rules (REFERENCE.md §4, §5):
//! - ECPs are read, never written: the decoders take `&[u8]`. User-mode ECPs are skipped and
//!   counted; malformed ones are counted; neither fails the create.
//! - The filter never opens a file of its own to do I/O on a caller's behalf, so it never needs to
//!   attach (spoof) an oplock-key ECP: [`Filter::inspect`] plans a read through the caller's file
//!   object, which carries the caller's key and so cannot break the caller's oplock.
//! - `FSCTL_SET_PURGE_FAILURE_MODE` is passed down untouched and mirrored only after the file
//!   system below succeeded. Nothing here can issue it ([`crate::purge::IssuableFsctl`]).
//! - The filter's own purge (a user's flush + purge request) follows the purge-failure policy:
//!   held while a window is open, re-issued in order when the count reaches zero.

use crate::ecp::{EcpCounters, EcpEntry, HandleKeys, resolve_create_keys};
use crate::file::access;
use crate::guid::Guid;
use crate::protocol::PurgeRequestCounts;
use crate::purge::{
    FSCTL_SET_PURGE_FAILURE_MODE, FailureResponse, ModeUpdate, PurgeCounters, PurgeOp,
    PurgeRequestDecision, PurgeStream, SET_PURGE_FAILURE_MODE_INPUT_SIZE, TEARDOWN_STATUS,
    TornDown,
};
use crate::status::NtStatus;

/// The port that gives a handle without an oplock key a key of its own (`ExUuidCreate` on
/// Windows; a counter in the sim). Every key it returns must differ from every other key.
pub trait KeySource {
    /// A key no other handle has.
    fn unique_key(&mut self) -> Guid;
}

/// The most bytes [`Filter::inspect`] reads at once.
pub const MAX_INSPECT_LENGTH: u32 = 4096;

/// The stream-handle context: what the filter knows about one open of a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandleContext {
    /// The keys recorded at create time.
    pub keys: HandleKeys,
    /// The access the open was granted.
    pub granted_access: u32,
}

/// What [`StreamContext::status`] reports about one stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamStatus {
    /// The mirrored purge-failure-mode count.
    pub count: u32,
    /// Operations the filter holds on this stream.
    pub held: u32,
    /// Open handles the filter saw created.
    pub handles: u32,
    /// The stream's purge counters.
    pub counters: PurgeCounters,
}

/// The stream context: one per data stream, shared by all its handles. `T` is the adapter's token
/// for a held operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamContext<T> {
    purge: PurgeStream<T>,
    handles: u32,
}

impl<T> Default for StreamContext<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> StreamContext<T> {
    /// No window, nothing held, no handles.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            purge: PurgeStream::new(),
            handles: 0,
        }
    }

    /// The purge-failure window of this stream.
    #[must_use]
    pub const fn purge(&self) -> &PurgeStream<T> {
        &self.purge
    }

    /// A handle to the stream was created (post-create succeeded).
    pub fn on_handle_opened(&mut self) {
        self.handles = self.handles.saturating_add(1);
    }

    /// Open handles the filter saw created and not yet cleaned up.
    #[must_use]
    pub const fn handles(&self) -> u32 {
        self.handles
    }

    /// The numbers the control device reports.
    #[must_use]
    pub fn status(&self) -> StreamStatus {
        StreamStatus {
            count: self.purge.count(),
            held: u32::try_from(self.purge.held_len()).unwrap_or(u32::MAX),
            handles: self.handles,
            counters: *self.purge.counters(),
        }
    }
}

/// Where an FSCTL goes. Every FSCTL goes down unmodified; the variant only says whether the
/// filter wants its post-operation callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsctlRoute {
    /// Pass down, no post callback.
    PassThrough,
    /// `FSCTL_SET_PURGE_FAILURE_MODE`: pass down untouched, call [`Filter::post_fsctl`] with this
    /// copy of the input (the system buffer is not guaranteed intact after completion).
    TrackSetPurgeFailureMode(SavedModeInput),
}

/// The first bytes of a `SET_PURGE_FAILURE_MODE_INPUT`, copied in the pre-operation callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SavedModeInput {
    bytes: [u8; SET_PURGE_FAILURE_MODE_INPUT_SIZE],
    len: u8,
}

impl SavedModeInput {
    /// Copies the part of `input` the decoder reads (bytes past the struct are never looked at).
    #[must_use]
    pub fn copy_of(input: &[u8]) -> Self {
        let mut bytes = [0u8; SET_PURGE_FAILURE_MODE_INPUT_SIZE];
        let len = input.len().min(SET_PURGE_FAILURE_MODE_INPUT_SIZE);
        if let (Some(dst), Some(src)) = (bytes.get_mut(..len), input.get(..len)) {
            dst.copy_from_slice(src);
        }
        Self {
            bytes,
            len: u8::try_from(len).unwrap_or(0),
        }
    }

    /// The copied bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

/// How the filter planned an "inspect" (a few bytes read on behalf of a handle).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InspectPlan {
    /// Read through the caller's own file object (`FltReadFile` with that `FileObject`), so the
    /// read carries this key: the caller's own, which never breaks the caller's oplock.
    pub key: Guid,
    /// Byte offset.
    pub offset: u64,
    /// Bytes to read, 1..=[`MAX_INSPECT_LENGTH`].
    pub length: u32,
}

/// What became of a purge request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PurgeOutcome<T> {
    /// Finished (or refused); complete `op` with `status`.
    Completed {
        /// `STATUS_SUCCESS`, or the failure the caller gets.
        status: NtStatus,
        /// The operation.
        op: T,
    },
    /// Held until the window closes; it comes back through [`Filter::post_fsctl`].
    Held,
}

/// Totals the driver exposes (control device: filter statistics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FilterCounters {
    /// Oplock-key ECP outcomes of every create.
    pub ecp: EcpCounters,
    /// Creates that succeeded below (a stream-handle context was made).
    pub handle_contexts: u64,
    /// Creates the file system failed (no context made).
    pub creates_failed_below: u64,
    /// `FSCTL_SET_PURGE_FAILURE_MODE` requests seen going down.
    pub set_mode_seen: u64,
    /// Of those, counted by the mirror.
    pub set_mode_counted: u64,
    /// Of those, not counted (failed below, undecodable, or unbalanced).
    pub set_mode_not_counted: u64,
    /// `STATUS_USER_MAPPED_FILE` / `STATUS_PURGE_FAILED` answers seen coming up from below.
    pub window_answers_seen: u64,
    /// Inspect reads planned.
    pub inspects: u64,
    /// Inspect requests refused.
    pub inspects_refused: u64,
    /// Purge requests and the operations held for them.
    pub purge: PurgeRequestCounts,
}

fn add(field: &mut u64, n: usize) {
    *field = field.saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
}

/// The filter's decisions and counters. One per driver; the adapter guards it with a lock.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    counters: FilterCounters,
}

impl Filter {
    /// A filter with zeroed counters.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The totals.
    #[must_use]
    pub const fn counters(&self) -> &FilterCounters {
        &self.counters
    }

    /// Pre-create: reads the oplock-key ECPs (never modifies them, skips user-mode ones) and
    /// decides the handle's keys; a handle without a usable key gets `keys.unique_key()`. The
    /// create itself always goes down unchanged.
    pub fn pre_create<'a, I, K>(&mut self, ecps: I, keys: &mut K) -> HandleKeys
    where
        I: IntoIterator<Item = EcpEntry<'a>>,
        K: KeySource + ?Sized,
    {
        let resolved = resolve_create_keys(ecps, || keys.unique_key());
        self.record_create(&resolved);
        resolved
    }

    /// The counting half of [`Filter::pre_create`], for an adapter that resolved the keys itself
    /// with [`resolve_create_keys`] outside its lock (decoding the ECPs and making a unique key
    /// need no shared state; only these counters do).
    pub fn record_create(&mut self, keys: &HandleKeys) {
        self.counters.ecp.record(keys);
    }

    /// Post-create: the stream-handle context for a create that succeeded below, `None` for one
    /// that failed (then nothing is attached).
    #[must_use]
    pub fn post_create(
        &mut self,
        keys: HandleKeys,
        granted_access: u32,
        status: NtStatus,
    ) -> Option<HandleContext> {
        if !status.is_success() {
            add(&mut self.counters.creates_failed_below, 1);
            return None;
        }
        // A reparse succeeds but opens nothing: the create is re-issued by name elsewhere.
        if status == NtStatus::REPARSE {
            return None;
        }
        add(&mut self.counters.handle_contexts, 1);
        Some(HandleContext {
            keys,
            granted_access,
        })
    }

    /// Pre-FSCTL. Every FSCTL goes down untouched; only `FSCTL_SET_PURGE_FAILURE_MODE` is tracked.
    /// The filter does not validate it: the file system below does, in fastfat's order, and the
    /// mirror follows only what it accepted.
    #[must_use]
    pub fn pre_fsctl(&mut self, code: u32, input: &[u8]) -> FsctlRoute {
        if code != FSCTL_SET_PURGE_FAILURE_MODE {
            return FsctlRoute::PassThrough;
        }
        add(&mut self.counters.set_mode_seen, 1);
        FsctlRoute::TrackSetPurgeFailureMode(SavedModeInput::copy_of(input))
    }

    /// Post-`FSCTL_SET_PURGE_FAILURE_MODE`: counts it only when the file system below succeeded.
    /// When this closes the window the held operations come back: re-issue them in order.
    pub fn post_fsctl<T>(
        &mut self,
        stream: &mut StreamContext<T>,
        saved: &SavedModeInput,
        lower_status: NtStatus,
    ) -> ModeUpdate<T> {
        let update = stream
            .purge
            .on_set_mode_completed(saved.as_bytes(), lower_status);
        let field = if matches!(update.outcome, crate::purge::MirrorOutcome::Counted(_)) {
            &mut self.counters.set_mode_counted
        } else {
            &mut self.counters.set_mode_not_counted
        };
        add(field, 1);
        add(&mut self.counters.purge.reissued, update.reissue.len());
        update
    }

    /// Pre-operation of a create, write or set-information: always passes down unchanged;
    /// `true` asks for the post callback (only the operations the purge-failure protocol can
    /// answer for, to count the answers).
    #[must_use]
    pub fn pre_io(&self, kind: PurgeOp) -> bool {
        matches!(
            kind,
            PurgeOp::Create(_) | PurgeOp::Write { non_cached: true } | PurgeOp::SetInformation
        )
    }

    /// Post-operation of what [`Filter::pre_io`] asked for: counts window answers. Filter
    /// Manager's retry after closing its section happens below and is invisible here.
    pub fn post_io(&mut self, status: NtStatus) {
        if status == NtStatus::USER_MAPPED_FILE || status == NtStatus::PURGE_FAILED {
            add(&mut self.counters.window_answers_seen, 1);
        }
    }

    /// Plans an inspect read on behalf of `handle`: through that handle's own file object, so the
    /// read carries the handle's key and breaks nothing the handle holds.
    ///
    /// # Errors
    /// `STATUS_INVALID_PARAMETER` for a length of 0 or above [`MAX_INSPECT_LENGTH`];
    /// `STATUS_ACCESS_DENIED` when the handle was not granted `FILE_READ_DATA` (the filter does not
    /// read more than the handle's owner could).
    pub fn inspect(
        &mut self,
        handle: &HandleContext,
        offset: u64,
        length: u32,
    ) -> Result<InspectPlan, NtStatus> {
        let refused = if length == 0 || length > MAX_INSPECT_LENGTH {
            Some(NtStatus::INVALID_PARAMETER)
        } else if handle.granted_access & access::FILE_READ_DATA == 0 {
            Some(NtStatus::ACCESS_DENIED)
        } else {
            None
        };
        if let Some(status) = refused {
            add(&mut self.counters.inspects_refused, 1);
            return Err(status);
        }
        add(&mut self.counters.inspects, 1);
        Ok(InspectPlan {
            key: handle.keys.target,
            offset,
            length,
        })
    }

    /// A user's flush + purge request for `stream`: held while a window is open, otherwise the
    /// adapter flushes and purges now and reports with [`Filter::purge_completed`].
    pub fn purge_request<T>(
        &mut self,
        stream: &mut StreamContext<T>,
        op: T,
    ) -> PurgeRequestDecision<T> {
        add(&mut self.counters.purge.purge_requests, 1);
        let decision = stream.purge.on_purge_request(op);
        if matches!(decision, PurgeRequestDecision::Held) {
            add(&mut self.counters.purge.purge_requests_held, 1);
        }
        decision
    }

    /// The flush + purge of a purge request (fresh or re-issued) finished with `status`. A failure
    /// inside a window is held again (the window's policy); outside it goes to the caller.
    pub fn purge_completed<T>(
        &mut self,
        stream: &mut StreamContext<T>,
        op: T,
        status: NtStatus,
    ) -> PurgeOutcome<T> {
        if status.is_success() {
            add(&mut self.counters.purge.purges_done, 1);
            return PurgeOutcome::Completed { status, op };
        }
        match stream
            .purge
            .on_purge_failure(PurgeOp::PurgeRequest, op, status)
        {
            FailureResponse::Held => {
                add(&mut self.counters.purge.purge_requests_held, 1);
                PurgeOutcome::Held
            }
            FailureResponse::Fail { status, op } | FailureResponse::Unchanged { status, op } => {
                add(&mut self.counters.purge.purges_failed, 1);
                PurgeOutcome::Completed { status, op }
            }
        }
    }

    /// Cleanup of one handle: its held operations (those `is_its_own` selects) come back to be
    /// completed with [`TEARDOWN_STATUS`]; the stream's other held operations stay, in order.
    pub fn cleanup<T>(
        &mut self,
        stream: &mut StreamContext<T>,
        is_its_own: impl FnMut(&T) -> bool,
    ) -> TornDown<T> {
        stream.handles = stream.handles.saturating_sub(1);
        let ops = stream.purge.cancel_where(is_its_own);
        add(&mut self.counters.purge.torn_down, ops.len());
        TornDown {
            status: TEARDOWN_STATUS,
            ops,
        }
    }

    /// The stream context is freed (last reference gone, or the instance is torn down): every
    /// operation still held comes back to be completed with [`TEARDOWN_STATUS`].
    pub fn stream_teardown<T>(&mut self, stream: StreamContext<T>) -> TornDown<T> {
        let torn = stream.purge.teardown();
        add(&mut self.counters.purge.torn_down, torn.ops.len());
        torn
    }
}

#[cfg(test)]
mod tests;
