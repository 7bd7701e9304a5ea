//! The IOCTL protocol from `ferrofilter-core`, spoken over any [`Backend`]: every buffer is
//! encoded and decoded here, once, with core's `#[repr(C)]` structs, whichever backend carries it.

use ferrofilter_core::protocol::{
    self, CancelGroupInput, CancelInput, CancelOutput, FilterStatsInfo, ForwardInput, HandleInput,
    HandleKeysInfo, InspectInput, InspectOutput, ListEntry, ListHeader, OpenTargetInput,
    PartialIdInfo, PurgeRequestOutput, PurgeStatusHeader, PurgeStreamEntry, StatsInfo, VersionInfo,
    ioctl,
};
use ferrofilter_core::{CancelId, NtStatus};
use serde::Serialize;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::backend::Backend;
use crate::error::{CliError, VersionError};

/// Issues an IOCTL with no input and decodes a `T` from its output.
fn query<T: FromBytes + KnownLayout + Immutable>(
    backend: &mut dyn Backend,
    code: u32,
    input: &[u8],
    name: &str,
) -> Result<T, CliError> {
    let mut out = vec![0u8; size_of::<T>()];
    let reply = backend.ioctl(code, input, &mut out);
    if !reply.status.is_success() {
        return Err(CliError::ioctl(name, reply.status));
    }
    let got = out.get(..reply.information).unwrap_or(&out);
    protocol::decode::<T>(got).map_err(|error| CliError::malformed(name, error))
}

/// `GET_VERSION`, checked against this ferroctl's protocol version.
///
/// # Errors
/// [`CliError::Version`] when the driver speaks another protocol version, or does not answer.
pub fn check_version(backend: &mut dyn Backend) -> Result<VersionInfo, CliError> {
    let mut out = [0u8; size_of::<VersionInfo>()];
    let reply = backend.ioctl(ioctl::GET_VERSION, &[], &mut out);
    if !reply.status.is_success() {
        return Err(VersionError::NoAnswer(reply.status).into());
    }
    let info: VersionInfo = protocol::decode(out.get(..reply.information).unwrap_or(&out))
        .map_err(VersionError::Malformed)?;
    if info.protocol_version != protocol::PROTOCOL_VERSION {
        return Err(VersionError::Protocol {
            driver: info.protocol_version,
            ours: protocol::PROTOCOL_VERSION,
        }
        .into());
    }
    Ok(info)
}

/// `GET_VERSION` as the driver answered it, whatever protocol version it names (the header's
/// and the body's are left for the caller to compare), so a mismatch can be reported with the
/// driver's own numbers.
///
/// # Errors
/// When the IOCTL fails or the answer is shorter than a [`VersionInfo`].
pub fn version_unchecked(backend: &mut dyn Backend) -> Result<VersionInfo, CliError> {
    let mut out = [0u8; size_of::<VersionInfo>()];
    let reply = backend.ioctl(ioctl::GET_VERSION, &[], &mut out);
    if !reply.status.is_success() {
        return Err(CliError::ioctl("GET_VERSION", reply.status));
    }
    VersionInfo::read_from_prefix(out.get(..reply.information).unwrap_or(&out))
        .map(|(info, _)| info)
        .map_err(|_| {
            CliError::Failed(format!(
                "GET_VERSION: {} bytes, a VersionInfo is {}",
                reply.information,
                size_of::<VersionInfo>()
            ))
        })
}

/// `GET_PARTIAL_ID`: the session's partial cancel ID.
///
/// # Errors
/// When the IOCTL fails.
pub fn partial_id(backend: &mut dyn Backend) -> Result<u8, CliError> {
    let info: PartialIdInfo = query(backend, ioctl::GET_PARTIAL_ID, &[], "GET_PARTIAL_ID")?;
    u8::try_from(info.partial).map_err(|_| {
        CliError::Failed(format!(
            "GET_PARTIAL_ID: partial ID {} is out of range",
            info.partial
        ))
    })
}

/// `GET_STATS`.
///
/// # Errors
/// When the IOCTL fails.
pub fn stats(backend: &mut dyn Backend) -> Result<StatsInfo, CliError> {
    query(backend, ioctl::GET_STATS, &[], "GET_STATS")
}

/// `FILTER_STATS`.
///
/// # Errors
/// When the IOCTL fails.
pub fn filter_stats(backend: &mut dyn Backend) -> Result<FilterStatsInfo, CliError> {
    query(backend, ioctl::FILTER_STATS, &[], "FILTER_STATS")
}

/// The input of `OPEN_TARGET` for an NT pipe name.
#[must_use]
pub fn open_target_input(name: &str) -> Vec<u8> {
    OpenTargetInput::with_name(name)
}

/// Creates the session's target and opens it in the driver.
///
/// # Errors
/// When the target cannot be created or `OPEN_TARGET` fails.
pub fn open_target(backend: &mut dyn Backend) -> Result<String, CliError> {
    let name = backend.target_name();
    let reply = backend.open_target(&open_target_input(&name))?;
    if reply.status.is_success() {
        Ok(name)
    } else {
        Err(CliError::ioctl(
            &format!("OPEN_TARGET {name}"),
            reply.status,
        ))
    }
}

/// The input of `FORWARD`.
#[must_use]
pub fn forward_input(cancel_id: CancelId) -> Vec<u8> {
    ForwardInput::new(cancel_id.0).as_bytes().to_vec()
}

fn cancel_reply(backend: &mut dyn Backend, code: u32, input: &[u8]) -> Result<u32, NtStatus> {
    let mut out = [0u8; size_of::<CancelOutput>()];
    let reply = backend.ioctl(code, input, &mut out);
    if !reply.status.is_success() {
        return Err(reply.status);
    }
    protocol::decode::<CancelOutput>(&out)
        .map(|o| o.attempted)
        .map_err(ferrofilter_core::protocol::ProtocolError::status)
}

/// `CANCEL` one request by its ID; returns the cancellations attempted (0 or 1).
///
/// # Errors
/// The status the IOCTL failed with.
pub fn cancel(backend: &mut dyn Backend, request_id: u64) -> Result<u32, NtStatus> {
    let input = CancelInput::new(request_id);
    cancel_reply(backend, ioctl::CANCEL, input.as_bytes())
}

/// `CANCEL_GROUP`; returns the cancellations attempted.
///
/// # Errors
/// The status the IOCTL failed with.
pub fn cancel_group(backend: &mut dyn Backend, cancel_id: CancelId) -> Result<u32, NtStatus> {
    let input = CancelGroupInput::new(cancel_id.0);
    cancel_reply(backend, ioctl::CANCEL_GROUP, input.as_bytes())
}

/// One row of `LIST`, as printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Row {
    /// Position in the list.
    pub row: usize,
    /// The driver's opaque request ID.
    pub request_id: u64,
    /// Its cancel ID (0: none).
    pub cancel_id: u64,
}

/// `LIST`: every request the session has outstanding (the buffer grows until all fit).
///
/// # Errors
/// When the IOCTL fails.
pub fn list(backend: &mut dyn Backend) -> Result<Vec<Row>, CliError> {
    let head = size_of::<ListHeader>();
    let row = size_of::<ListEntry>();
    let mut room = 64usize;
    for _ in 0..8 {
        let mut out = vec![0u8; head + room * row];
        let reply = backend.ioctl(ioctl::LIST, &[], &mut out);
        let overflow = reply.status == NtStatus::BUFFER_OVERFLOW;
        if !reply.status.is_success() && !overflow {
            return Err(CliError::ioctl("LIST", reply.status));
        }
        let header: ListHeader =
            protocol::decode(&out).map_err(|error| CliError::malformed("LIST", error))?;
        if overflow {
            room = (header.total as usize).max(room * 4);
            continue;
        }
        let returned = (header.returned as usize).min(room);
        return Ok((0..returned)
            .filter_map(|index| {
                let start = head + index * row;
                ListEntry::read_from_prefix(out.get(start..)?)
                    .ok()
                    .map(|(entry, _)| Row {
                        row: index,
                        request_id: entry.request_id,
                        cancel_id: entry.cancel_id,
                    })
            })
            .collect());
    }
    Err(CliError::Failed(
        "LIST: the list kept growing faster than the buffer".to_owned(),
    ))
}

/// The input of `QUERY_KEYS` and `PURGE_REQUEST` for a handle of this process.
#[must_use]
pub fn handle_input(handle: u64) -> Vec<u8> {
    HandleInput::new(handle).as_bytes().to_vec()
}

/// `QUERY_KEYS` for a handle of this process.
///
/// # Errors
/// When the IOCTL fails.
pub fn query_keys(backend: &mut dyn Backend, handle: u64) -> Result<HandleKeysInfo, CliError> {
    query(
        backend,
        ioctl::QUERY_KEYS,
        &handle_input(handle),
        "QUERY_KEYS",
    )
}

/// `PURGE_REQUEST` for a handle of this process.
///
/// # Errors
/// When the IOCTL fails.
pub fn purge_request(
    backend: &mut dyn Backend,
    handle: u64,
) -> Result<PurgeRequestOutput, CliError> {
    query(
        backend,
        ioctl::PURGE_REQUEST,
        &handle_input(handle),
        "PURGE_REQUEST",
    )
}

/// `PURGE_STATUS`: the summary and every stream row (the buffer grows until all fit).
///
/// # Errors
/// When the IOCTL fails.
pub fn purge_status(
    backend: &mut dyn Backend,
) -> Result<(PurgeStatusHeader, Vec<PurgeStreamEntry>), CliError> {
    let head = size_of::<PurgeStatusHeader>();
    let row = size_of::<PurgeStreamEntry>();
    let mut room = 64usize;
    for _ in 0..8 {
        let mut out = vec![0u8; head + room * row];
        let reply = backend.ioctl(ioctl::PURGE_STATUS, &[], &mut out);
        let overflow = reply.status == NtStatus::BUFFER_OVERFLOW;
        if !reply.status.is_success() && !overflow {
            return Err(CliError::ioctl("PURGE_STATUS", reply.status));
        }
        let header: PurgeStatusHeader =
            protocol::decode(&out).map_err(|error| CliError::malformed("PURGE_STATUS", error))?;
        if overflow {
            room = (header.streams_total as usize).max(room * 4);
            continue;
        }
        let returned = (header.returned as usize).min(room);
        let rows = (0..returned)
            .filter_map(|index| {
                let start = head + index * row;
                PurgeStreamEntry::read_from_prefix(out.get(start..)?)
                    .ok()
                    .map(|(entry, _)| entry)
            })
            .collect();
        return Ok((header, rows));
    }
    Err(CliError::Failed(
        "PURGE_STATUS: the list kept growing faster than the buffer".to_owned(),
    ))
}

/// The input of `INSPECT`: `length` bytes at `offset` of a handle of this process.
#[must_use]
pub fn inspect_input(handle: u64, offset: u64, length: u32) -> Vec<u8> {
    InspectInput::new(handle, offset, length)
        .as_bytes()
        .to_vec()
}

/// `INSPECT` for a handle of this process: the bytes the filter read at `offset` through that
/// handle (at most `length`; fewer when the file ends first). The output buffer is sized for the
/// whole read.
///
/// # Errors
/// When the IOCTL fails (`STATUS_END_OF_FILE` for a read at or after the end of the file) or its
/// answer is malformed.
pub fn inspect(
    backend: &mut dyn Backend,
    handle: u64,
    offset: u64,
    length: u32,
) -> Result<Vec<u8>, CliError> {
    let head = size_of::<InspectOutput>();
    let room = usize::try_from(length).unwrap_or(usize::MAX);
    let mut out = vec![0u8; head.saturating_add(room)];
    let reply = backend.ioctl(
        ioctl::INSPECT,
        &inspect_input(handle, offset, length),
        &mut out,
    );
    if !reply.status.is_success() {
        return Err(CliError::ioctl("INSPECT", reply.status));
    }
    let got = out.get(..reply.information).unwrap_or(&out);
    let header: InspectOutput =
        protocol::decode(got).map_err(|error| CliError::malformed("INSPECT", error))?;
    let bytes = usize::try_from(header.bytes_read).unwrap_or(usize::MAX);
    got.get(head..)
        .and_then(|data| data.get(..bytes))
        .map(<[u8]>::to_vec)
        .ok_or_else(|| {
            CliError::Failed(format!(
                "INSPECT: the driver says {bytes} bytes were read but returned {}",
                got.len().saturating_sub(head)
            ))
        })
}
