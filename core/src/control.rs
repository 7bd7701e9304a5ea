//! The control device's IOCTL dispatch: decode, act on the forwarder, encode the answer. The
//! adapter only moves buffers and, for the two IOCTLs that need the kernel, does what
//! [`Dispatch`] tells it.

use crate::cancel_id::CancelId;
use crate::forward::ForwardState;
use crate::forward::Forwarder;
use crate::ports::{RequestOps, SpinLock};
use crate::protocol::{
    self, CancelOutput, Command, Header, ListEntry, ListHeader, PartialIdInfo, ProtocolError,
    StatsInfo, VersionInfo,
};
use crate::status::NtStatus;
use crate::tracker::{OwnerId, RequestId};

/// The driver's version, reported by [`protocol::ioctl::GET_VERSION`].
pub const DRIVER_VERSION: (u16, u16, u16) = (0, 1, 0);

/// What the adapter does with an IOCTL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dispatch<'a> {
    /// Complete the request now with `status`, reporting `information` bytes of output.
    Complete {
        /// Completion status.
        status: NtStatus,
        /// Bytes written to the output buffer.
        information: usize,
    },
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
}

impl Dispatch<'_> {
    const fn fail(status: NtStatus) -> Self {
        Self::Complete {
            status,
            information: 0,
        }
    }

    const fn ok(information: usize) -> Self {
        Self::Complete {
            status: NtStatus::SUCCESS,
            information,
        }
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
            return Dispatch::Forward { cancel_id };
        }
        Command::OpenTarget { name } => {
            return match validate_target_name(name) {
                Ok(()) => Dispatch::OpenTarget { name },
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
        Command::List => return list(forwarder, owner, output),
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
                    forwarded: s.forwarded,
                    completed: s.completed,
                    cancelled: s.cancelled,
                    failed: s.failed,
                    send_failures: s.send_failures,
                    refused: s.refused,
                    cancel_attempts: s.cancel_attempts,
                    unknown_completions: s.unknown_completions,
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
fn list<L, R>(forwarder: &Forwarder<L, R>, owner: OwnerId, output: &mut [u8]) -> Dispatch<'static>
where
    R: RequestOps,
    L: SpinLock<ForwardState<R::Handle>>,
{
    let head = size_of::<ListHeader>();
    let row = size_of::<ListEntry>();
    if output.len() < head {
        return Dispatch::fail(NtStatus::BUFFER_TOO_SMALL);
    }
    let room = (output.len() - head) / row;
    // One more than fits tells us whether the list was cut.
    let rows = match forwarder.list(owner, room.saturating_add(1)) {
        Ok(rows) => rows,
        Err(status) => return Dispatch::fail(status),
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
            return Dispatch::fail(NtStatus::BUFFER_TOO_SMALL);
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
        return Dispatch::fail(NtStatus::BUFFER_TOO_SMALL);
    }
    let status = if rows.len() > room {
        NtStatus::BUFFER_OVERFLOW
    } else {
        NtStatus::SUCCESS
    };
    Dispatch::Complete {
        status,
        information: head + returned * row,
    }
}

#[cfg(test)]
mod tests {
    use super::validate_target_name;
    use crate::status::NtStatus;

    fn utf16(text: &str) -> alloc::vec::Vec<u8> {
        text.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }
    extern crate alloc;

    #[test]
    fn only_pipes_are_targets() {
        assert_eq!(validate_target_name(&utf16("\\??\\pipe\\ferro-1")), Ok(()));
        assert_eq!(
            validate_target_name(&utf16("\\Device\\NamedPipe\\x")),
            Ok(())
        );
        assert_eq!(validate_target_name(&utf16("\\??\\PIPE\\x")), Ok(()));
        for bad in [
            "\\??\\C:\\secret.txt",
            "\\??\\pipe\\",
            "\\??\\pipe\\a\\..\\b",
            "pipe\\x",
            "",
        ] {
            assert_eq!(
                validate_target_name(&utf16(bad)),
                Err(NtStatus::INVALID_PARAMETER),
                "{bad}"
            );
        }
        assert_eq!(
            validate_target_name(&[0x00, 0xD8]),
            Err(NtStatus::INVALID_PARAMETER)
        );
        assert_eq!(
            validate_target_name(&[1, 2, 3]),
            Err(NtStatus::INVALID_PARAMETER)
        );
    }
}
