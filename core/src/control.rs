//! The control device's IOCTL dispatch: decode, act on the forwarder, encode the answer. The
//! adapter only moves buffers and, for the two IOCTLs that need the kernel, does what
//! [`Dispatch`] tells it.

use crate::cancel_id::CancelId;
use crate::ecp::KeyOrigin;
use crate::forward::ForwardState;
use crate::forward::Forwarder;
use crate::guid::Guid;
#[cfg(doc)]
use crate::minifilter::Filter;
use crate::minifilter::{FilterCounters, HandleContext, StreamStatus};
use crate::ports::{RequestOps, SpinLock};
use crate::protocol::{
    self, CancelOutput, Command, FilterStatsInfo, HandleKeysInfo, Header, InspectOutput, ListEntry,
    ListHeader, PartialIdInfo, ProtocolError, PurgeRequestOutput, PurgeStatusHeader,
    PurgeStreamEntry, StatsInfo, VersionInfo,
};
use crate::status::NtStatus;
use crate::tracker::{OwnerId, RequestId};

/// The driver's version, reported by [`protocol::ioctl::GET_VERSION`].
pub const DRIVER_VERSION: (u16, u16, u16) = (0, 1, 0);

/// How an IOCTL completes: its status and the bytes of output it reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    /// Completion status.
    pub status: NtStatus,
    /// Bytes written to the output buffer.
    pub information: usize,
}

impl Completion {
    /// A failure: nothing written.
    #[must_use]
    pub const fn fail(status: NtStatus) -> Self {
        Self {
            status,
            information: 0,
        }
    }

    /// Success with `information` bytes of output.
    #[must_use]
    pub const fn ok(information: usize) -> Self {
        Self {
            status: NtStatus::SUCCESS,
            information,
        }
    }
}

/// What [`dispatch`] decides for an IOCTL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dispatch<'a> {
    /// Complete the request now.
    Complete(Completion),
    /// Do the kernel work core cannot do, then complete as its `answer_*` function says.
    Act(Action<'a>),
}

/// The kernel work an IOCTL needs before it can complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action<'a> {
    /// Format the request as a read of the caller's target into its output buffer, then hand it to
    /// [`Forwarder::forward`] with this cancel ID. The forwarder owns it from then on.
    Forward {
        /// Its cancel ID.
        cancel_id: CancelId,
    },
    /// Open the named pipe as the caller's I/O target, then complete with the result.
    OpenTarget {
        /// The validated NT path, UTF-16LE bytes.
        name: &'a [u8],
    },
    /// Resolve `handle` in the *caller's* handle table with user-mode access checks
    /// (`ObReferenceObjectByHandle(handle, 0, *IoFileObjectType, UserMode, ..)`), get the filter's
    /// stream-handle context of that file object, and complete with [`answer_query_keys`].
    QueryKeys {
        /// The caller's handle value.
        handle: u64,
    },
    /// Resolve `handle` as for [`Action::QueryKeys`], run [`Filter::purge_request`] on its
    /// stream (flush + purge now when it says proceed, then [`Filter::purge_completed`]) and
    /// complete with [`answer_purge_request`].
    PurgeRequest {
        /// The caller's handle value.
        handle: u64,
    },
    /// Walk the filter's stream contexts and complete with [`answer_purge_status`].
    PurgeStatus,
    /// Complete with [`answer_filter_stats`] over the filter's counters.
    FilterStats,
    /// Resolve `handle` as for [`Action::QueryKeys`] (with [`handle_access`]'s
    /// `FILE_READ_DATA`), get its stream-handle context, let [`Filter::inspect`] decide, then read
    /// `length` bytes at `offset` through the caller's own file object straight into
    /// [`inspect_data`] of the output buffer, and complete with [`answer_inspect`].
    Inspect {
        /// The caller's handle value.
        handle: u64,
        /// Byte offset (at most `i64::MAX`).
        offset: u64,
        /// The read length: the smaller of the length asked for and the room the output buffer
        /// has after its [`InspectOutput`]. Not yet checked against the filter's limits.
        length: u32,
    },
}

impl Dispatch<'_> {
    const fn fail(status: NtStatus) -> Self {
        Self::Complete(Completion::fail(status))
    }

    const fn ok(information: usize) -> Self {
        Self::Complete(Completion::ok(information))
    }
}

/// The access a caller's file handle must carry for a filter IOCTL that names it, checked by the
/// adapter when it resolves the handle (`ObReferenceObjectByHandle` with `UserMode`). A flush and
/// purge writes the file's dirty data back, which `FlushFileBuffers` allows only to handles with
/// write access; asking which keys one's own handle carries needs no access beyond holding it; an
/// inspect reads the file's data, which only a handle with read access may.
#[must_use]
pub const fn handle_access(command: &Command<'_>) -> u32 {
    match command {
        Command::PurgeRequest { .. } => crate::file::access::FILE_WRITE_DATA,
        Command::Inspect { .. } => crate::file::access::FILE_READ_DATA,
        _ => 0,
    }
}

/// Only named pipes may be a target: the device must not open arbitrary files for its caller.
/// Accepts `\??\pipe\NAME` or `\Device\NamedPipe\NAME` with a non-empty NAME without `\`.
///
/// # Errors
/// `STATUS_INVALID_PARAMETER` for anything else, including odd lengths and bad UTF-16.
pub fn validate_target_name(name: &[u8]) -> Result<(), NtStatus> {
    const PREFIXES: [&str; 2] = ["\\??\\pipe\\", "\\Device\\NamedPipe\\"];
    if !name.len().is_multiple_of(2) {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    let units = name
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]));
    let mut text = [0u8; protocol::MAX_TARGET_NAME_BYTES as usize];
    let mut len = 0;
    for decoded in char::decode_utf16(units) {
        let ch = decoded.map_err(|_| NtStatus::INVALID_PARAMETER)?;
        let slot = text
            .get_mut(len..len + ch.len_utf8())
            .ok_or(NtStatus::INVALID_PARAMETER)?;
        ch.encode_utf8(slot);
        len += ch.len_utf8();
    }
    let text = core::str::from_utf8(&text[..len]).map_err(|_| NtStatus::INVALID_PARAMETER)?;
    let leaf = PREFIXES
        .iter()
        .find_map(|prefix| {
            text.get(..prefix.len())
                .filter(|head| head.eq_ignore_ascii_case(prefix))
                .map(|_| &text[prefix.len()..])
        })
        .ok_or(NtStatus::INVALID_PARAMETER)?;
    if leaf.is_empty() || leaf.contains(['\\', '/', ':', '\0']) {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    Ok(())
}

/// Decodes and serves one IOCTL from `owner`.
pub fn dispatch<'a, L, R>(
    forwarder: &Forwarder<L, R>,
    owner: OwnerId,
    code: u32,
    input: &'a [u8],
    output: &mut [u8],
) -> Dispatch<'a>
where
    R: RequestOps,
    L: SpinLock<ForwardState<R::Handle>>,
{
    let command = match protocol::decode_command(code, input) {
        Ok(command) => command,
        Err(error) => return Dispatch::fail(error.status()),
    };
    let written = match command {
        Command::Forward { cancel_id } => {
            let cancel_id = CancelId(cancel_id);
            if let Err(status) = cancel_id.check_owner(owner.partial()) {
                return Dispatch::fail(status);
            }
            // Nowhere to send it until the caller has opened its target.
            if !forwarder.has_target(owner) {
                return Dispatch::fail(NtStatus::INVALID_DEVICE_STATE);
            }
            return Dispatch::Act(Action::Forward { cancel_id });
        }
        Command::OpenTarget { name } => {
            return match validate_target_name(name) {
                Ok(()) => Dispatch::Act(Action::OpenTarget { name }),
                Err(status) => Dispatch::fail(status),
            };
        }
        Command::GetVersion => {
            let (major, minor, patch) = DRIVER_VERSION;
            protocol::encode(
                &VersionInfo {
                    header: Header::for_struct::<VersionInfo>(),
                    protocol_version: protocol::PROTOCOL_VERSION,
                    major,
                    minor,
                    patch,
                    reserved: 0,
                    altitude: protocol::ALTITUDE,
                },
                output,
            )
        }
        Command::GetPartialId => protocol::encode(
            &PartialIdInfo {
                header: Header::for_struct::<PartialIdInfo>(),
                partial: u32::from(owner.partial()),
                reserved: 0,
            },
            output,
        ),
        Command::Cancel { request_id } => match forwarder.cancel(owner, RequestId(request_id)) {
            Ok(attempted) => encode_cancel(u32::from(attempted), output),
            Err(status) => return Dispatch::fail(status),
        },
        Command::CancelGroup { cancel_id } => {
            match forwarder.cancel_group(owner, CancelId(cancel_id)) {
                Ok(count) => encode_cancel(u32::try_from(count).unwrap_or(u32::MAX), output),
                Err(status) => return Dispatch::fail(status),
            }
        }
        Command::List => return Dispatch::Complete(list(forwarder, owner, output)),
        Command::QueryKeys { handle } => return Dispatch::Act(Action::QueryKeys { handle }),
        Command::PurgeRequest { handle } => return Dispatch::Act(Action::PurgeRequest { handle }),
        Command::PurgeStatus => return Dispatch::Act(Action::PurgeStatus),
        Command::FilterStats => return Dispatch::Act(Action::FilterStats),
        Command::Inspect {
            handle,
            offset,
            length,
        } => return inspect(handle, offset, length, output.len()),
        Command::GetStats => {
            let snap = forwarder.snapshot();
            let s = snap.stats;
            protocol::encode(
                &StatsInfo {
                    header: Header::for_struct::<StatsInfo>(),
                    outstanding: snap.outstanding,
                    capacity: snap.capacity,
                    owners_live: snap.owners_live,
                    peak_outstanding: s.peak_outstanding,
                    counts: s.counts,
                },
                output,
            )
        }
    };
    match written {
        Ok(information) => Dispatch::ok(information),
        Err(error) => Dispatch::fail(error.status()),
    }
}

/// [`Command::Inspect`]: the output must hold an [`InspectOutput`]; the read is as long as asked
/// or as the room after it, whichever is smaller.
fn inspect(handle: u64, offset: u64, length: u32, output_len: usize) -> Dispatch<'static> {
    let Some(room) = output_len.checked_sub(size_of::<InspectOutput>()) else {
        return Dispatch::fail(NtStatus::BUFFER_TOO_SMALL);
    };
    let room = u32::try_from(room).unwrap_or(u32::MAX);
    Dispatch::Act(Action::Inspect {
        handle,
        offset,
        length: length.min(room),
    })
}

/// Where the bytes of [`Action::Inspect`] are read to: the `length` bytes of `output` after its
/// [`InspectOutput`]. `None` when the output cannot hold them (not for a length [`dispatch`]
/// returned for this output).
#[must_use]
pub fn inspect_data(output: &mut [u8], length: u32) -> Option<&mut [u8]> {
    let start = size_of::<InspectOutput>();
    let end = start.checked_add(usize::try_from(length).ok()?)?;
    output.get_mut(start..end)
}

/// Answers [`Action::Inspect`]: `Ok(bytes_read)` when the read succeeded (the bytes are already
/// in [`inspect_data`]); `Err` is the status the handle resolution, the context lookup, the
/// filter's decision or the read failed with, which the IOCTL completes with.
#[must_use]
pub fn answer_inspect(read: Result<u32, NtStatus>, output: &mut [u8]) -> Completion {
    let bytes_read = match read {
        Ok(bytes_read) => bytes_read,
        Err(status) => return Completion::fail(status),
    };
    let head = size_of::<InspectOutput>();
    let Some(total) = usize::try_from(bytes_read)
        .ok()
        .and_then(|n| n.checked_add(head))
        .filter(|&total| total <= output.len())
    else {
        // More bytes than the buffer holds cannot have been read into it.
        return Completion::fail(NtStatus::BUFFER_TOO_SMALL);
    };
    match protocol::encode(
        &InspectOutput {
            header: Header::for_struct::<InspectOutput>(),
            bytes_read,
            reserved: 0,
        },
        output,
    ) {
        Ok(_) => Completion::ok(total),
        Err(error) => Completion::fail(error.status()),
    }
}

fn finish(written: Result<usize, ProtocolError>) -> Completion {
    match written {
        Ok(information) => Completion::ok(information),
        Err(error) => Completion::fail(error.status()),
    }
}

/// Answers [`Action::QueryKeys`]. `handle` is the stream-handle context of the resolved handle,
/// or the status the resolution failed with (`STATUS_INVALID_HANDLE`, `STATUS_ACCESS_DENIED`,
/// or `STATUS_NOT_FOUND` for a file object the filter has no context for).
#[must_use]
pub fn answer_query_keys(
    handle: Result<&HandleContext, NtStatus>,
    output: &mut [u8],
) -> Completion {
    let context = match handle {
        Ok(context) => context,
        Err(status) => return Completion::fail(status),
    };
    let keys = &context.keys;
    let origin = match keys.target_origin {
        KeyOrigin::DualOplockKeyEcp => protocol::KEY_ORIGIN_DUAL_ECP,
        KeyOrigin::OplockKeyEcp => protocol::KEY_ORIGIN_SINGLE_ECP,
        KeyOrigin::Unique => protocol::KEY_ORIGIN_UNIQUE,
    };
    let a = &keys.anomalies;
    finish(protocol::encode(
        &HandleKeysInfo {
            header: Header::for_struct::<HandleKeysInfo>(),
            target: keys.target.to_le_bytes(),
            parent: keys.parent.unwrap_or(Guid::NIL).to_le_bytes(),
            origin,
            flags: if keys.parent.is_some() {
                protocol::KEYS_FLAG_PARENT_PRESENT
            } else {
                0
            },
            from_user_mode: a.from_user_mode,
            malformed: a.malformed,
            duplicates: a.duplicates,
            superseded: a.superseded,
            first_error: a.first_error.map_or(0, |e| e.status().0),
            reserved: 0,
        },
        output,
    ))
}

/// What a purge request came to, for [`answer_purge_request`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PurgeAnswer {
    /// `true` when the request was held (it runs when the window closes).
    pub held: bool,
    /// The purge's status when it ran (ignored when held).
    pub status: NtStatus,
    /// The stream's numbers after the request.
    pub stream: StreamStatus,
}

/// Answers [`Action::PurgeRequest`]: `Err` is the status the handle resolution failed with.
/// The IOCTL itself succeeds whenever the handle resolved; the purge's own result is in the output.
#[must_use]
pub fn answer_purge_request(
    answer: Result<PurgeAnswer, NtStatus>,
    output: &mut [u8],
) -> Completion {
    let answer = match answer {
        Ok(answer) => answer,
        Err(status) => return Completion::fail(status),
    };
    let (outcome, status) = if answer.held {
        (protocol::PURGE_OUTCOME_HELD, NtStatus::PENDING)
    } else if answer.status.is_success() {
        (protocol::PURGE_OUTCOME_DONE, answer.status)
    } else {
        (protocol::PURGE_OUTCOME_FAILED, answer.status)
    };
    finish(protocol::encode(
        &PurgeRequestOutput {
            header: Header::for_struct::<PurgeRequestOutput>(),
            outcome,
            status: status.0,
            count: answer.stream.count,
            held: answer.stream.held,
        },
        output,
    ))
}

/// Answers [`Action::PurgeStatus`] with one row per stream (`(opaque stream ID, status)`), as
/// many as fit; `STATUS_BUFFER_OVERFLOW` with the rows that fit when not all do.
#[must_use]
pub fn answer_purge_status<I>(
    counters: &FilterCounters,
    streams: I,
    output: &mut [u8],
) -> Completion
where
    I: IntoIterator<Item = (u64, StreamStatus)>,
{
    let head = size_of::<PurgeStatusHeader>();
    let row = size_of::<PurgeStreamEntry>();
    if output.len() < head {
        return Completion::fail(NtStatus::BUFFER_TOO_SMALL);
    }
    let room = (output.len() - head) / row;
    let (mut total, mut returned, mut held_total, mut windows_open) = (0u32, 0usize, 0u32, 0u32);
    for (stream_id, status) in streams {
        total = total.saturating_add(1);
        held_total = held_total.saturating_add(status.held);
        if status.count > 0 {
            windows_open = windows_open.saturating_add(1);
        }
        if returned >= room {
            continue;
        }
        let entry = PurgeStreamEntry {
            stream_id,
            count: status.count,
            held: status.held,
            handles: status.handles,
            reserved: 0,
            enables: status.counters.enables,
            disables: status.counters.disables,
        };
        let start = head + returned * row;
        let Some(slot) = output.get_mut(start..) else {
            return Completion::fail(NtStatus::BUFFER_TOO_SMALL);
        };
        if protocol::encode(&entry, slot).is_err() {
            return Completion::fail(NtStatus::BUFFER_TOO_SMALL);
        }
        returned += 1;
    }
    let header = PurgeStatusHeader {
        header: Header::for_struct::<PurgeStatusHeader>(),
        streams_total: total,
        returned: u32::try_from(returned).unwrap_or(u32::MAX),
        held_total,
        windows_open,
        set_mode_seen: counters.set_mode_seen,
        set_mode_counted: counters.set_mode_counted,
        reissued: counters.purge.reissued,
        torn_down: counters.purge.torn_down,
    };
    if protocol::encode(&header, output).is_err() {
        return Completion::fail(NtStatus::BUFFER_TOO_SMALL);
    }
    let all_fit = usize::try_from(total).is_ok_and(|t| t == returned);
    Completion {
        status: if all_fit {
            NtStatus::SUCCESS
        } else {
            NtStatus::BUFFER_OVERFLOW
        },
        information: head + returned * row,
    }
}

/// Answers [`Action::FilterStats`].
#[must_use]
pub fn answer_filter_stats(counters: &FilterCounters, output: &mut [u8]) -> Completion {
    let e = &counters.ecp;
    finish(protocol::encode(
        &FilterStatsInfo {
            header: Header::for_struct::<FilterStatsInfo>(),
            creates: e.creates,
            keys_from_dual: e.keys_from_dual,
            keys_from_single: e.keys_from_single,
            keys_unique: e.keys_unique,
            ecps_from_user_mode: e.from_user_mode,
            ecps_malformed: e.malformed,
            handle_contexts: counters.handle_contexts,
            set_mode_seen: counters.set_mode_seen,
            set_mode_counted: counters.set_mode_counted,
            window_answers_seen: counters.window_answers_seen,
            inspects: counters.inspects,
            purge: counters.purge,
        },
        output,
    ))
}

fn encode_cancel(attempted: u32, output: &mut [u8]) -> Result<usize, ProtocolError> {
    protocol::encode(
        &CancelOutput {
            header: Header::for_struct::<CancelOutput>(),
            attempted,
            reserved: 0,
        },
        output,
    )
}

/// Fills as many rows as fit; `STATUS_BUFFER_OVERFLOW` (with the rows that fit) when not all do.
fn list<L, R>(forwarder: &Forwarder<L, R>, owner: OwnerId, output: &mut [u8]) -> Completion
where
    R: RequestOps,
    L: SpinLock<ForwardState<R::Handle>>,
{
    let head = size_of::<ListHeader>();
    let row = size_of::<ListEntry>();
    if output.len() < head {
        return Completion::fail(NtStatus::BUFFER_TOO_SMALL);
    }
    let room = (output.len() - head) / row;
    // One more than fits tells us whether the list was cut.
    let rows = match forwarder.list(owner, room.saturating_add(1)) {
        Ok(rows) => rows,
        Err(status) => return Completion::fail(status),
    };
    let total = u32::try_from(rows.len()).unwrap_or(u32::MAX);
    let returned = rows.len().min(room);
    for (index, (id, cancel_id)) in rows.iter().take(returned).enumerate() {
        let entry = ListEntry {
            request_id: id.0,
            cancel_id: cancel_id.0,
        };
        let start = head + index * row;
        if protocol::encode(&entry, &mut output[start..]).is_err() {
            return Completion::fail(NtStatus::BUFFER_TOO_SMALL);
        }
    }
    let header = ListHeader {
        header: Header::for_struct::<ListHeader>(),
        total: if rows.len() > room {
            total.max(u32::try_from(room + 1).unwrap_or(u32::MAX))
        } else {
            total
        },
        returned: u32::try_from(returned).unwrap_or(u32::MAX),
    };
    if protocol::encode(&header, output).is_err() {
        return Completion::fail(NtStatus::BUFFER_TOO_SMALL);
    }
    let status = if rows.len() > room {
        NtStatus::BUFFER_OVERFLOW
    } else {
        NtStatus::SUCCESS
    };
    Completion {
        status,
        information: head + returned * row,
    }
}

#[cfg(test)]
mod filter_tests;
#[cfg(test)]
mod tests;
