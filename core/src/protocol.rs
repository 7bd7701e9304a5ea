//! The control device's IOCTL protocol, shared by the driver and `ferroctl`.
//!
//! Every buffer starts with a [`Header`] naming the protocol version and the struct's size; every
//! decoder is total: a malformed buffer gives a [`ProtocolError`] with its NTSTATUS, never a panic.
//! All integers are little-endian (the only byte order Windows runs on).

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::status::NtStatus;

/// Bumped on any incompatible change; `ferroctl` checks it before anything else.
pub const PROTOCOL_VERSION: u32 = 1;

/// The control device's NT name.
pub const DEVICE_NAME: &str = "\\Device\\FerroFilter";
/// Its symbolic link; user mode opens `\\.\FerroFilter`.
pub const SYMBOLIC_LINK: &str = "\\DosDevices\\FerroFilter";
/// The path user mode opens.
pub const USER_PATH: &str = "\\\\.\\FerroFilter";
/// The filter's altitude (Activity Monitor range, 360000-389999), as the INF registers it.
pub const ALTITUDE: u32 = 385_201;

/// A device type in the range reserved for vendors (0x8000-0xFFFF).
pub const DEVICE_TYPE: u32 = 0x0000_8FF0;
const METHOD_BUFFERED: u32 = 0;
const FILE_ANY_ACCESS: u32 = 0;
const FILE_READ_WRITE_ACCESS: u32 = 0x0001 | 0x0002;

/// `CTL_CODE` from devioctl.h.
#[must_use]
pub const fn ctl_code(device_type: u32, function: u32, method: u32, access: u32) -> u32 {
    (device_type << 16) | (access << 14) | (function << 2) | method
}

/// The IOCTLs. Queries need no access; anything that changes state needs read+write access.
pub mod ioctl {
    use super::{DEVICE_TYPE, FILE_ANY_ACCESS, FILE_READ_WRITE_ACCESS, METHOD_BUFFERED, ctl_code};

    /// Out: [`super::VersionInfo`].
    pub const GET_VERSION: u32 = ctl_code(DEVICE_TYPE, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS);
    /// Out: [`super::PartialIdInfo`], the caller's partial cancel ID.
    pub const GET_PARTIAL_ID: u32 = ctl_code(DEVICE_TYPE, 0x801, METHOD_BUFFERED, FILE_ANY_ACCESS);
    /// In: [`super::OpenTargetInput`] followed by the UTF-16 name of the pipe to open as target.
    pub const OPEN_TARGET: u32 =
        ctl_code(DEVICE_TYPE, 0x802, METHOD_BUFFERED, FILE_READ_WRITE_ACCESS);
    /// In: [`super::ForwardInput`]. The request itself is forwarded to the target as a read into
    /// its output buffer and pends until the target completes it or it is cancelled.
    pub const FORWARD: u32 = ctl_code(DEVICE_TYPE, 0x803, METHOD_BUFFERED, FILE_READ_WRITE_ACCESS);
    /// In: [`super::CancelInput`]; out: [`super::CancelOutput`].
    pub const CANCEL: u32 = ctl_code(DEVICE_TYPE, 0x804, METHOD_BUFFERED, FILE_READ_WRITE_ACCESS);
    /// In: [`super::CancelGroupInput`]; out: [`super::CancelOutput`].
    pub const CANCEL_GROUP: u32 =
        ctl_code(DEVICE_TYPE, 0x805, METHOD_BUFFERED, FILE_READ_WRITE_ACCESS);
    /// Out: [`super::ListHeader`] then [`super::ListEntry`] rows, as many as fit.
    pub const LIST: u32 = ctl_code(DEVICE_TYPE, 0x806, METHOD_BUFFERED, FILE_ANY_ACCESS);
    /// Out: [`super::StatsInfo`].
    pub const GET_STATS: u32 = ctl_code(DEVICE_TYPE, 0x807, METHOD_BUFFERED, FILE_ANY_ACCESS);
    /// In: [`super::HandleInput`] naming a handle *of the caller's process*; out:
    /// [`super::HandleKeysInfo`], the oplock keys the filter recorded for it. The adapter resolves
    /// the handle with user-mode access checks; nothing about the kernel object comes back.
    pub const QUERY_KEYS: u32 = ctl_code(DEVICE_TYPE, 0x810, METHOD_BUFFERED, FILE_ANY_ACCESS);
    /// In: [`super::HandleInput`]; out: [`super::PurgeRequestOutput`]. Flush and purge the cache
    /// of the handle's stream through the filter; held while a purge-failure window is open.
    pub const PURGE_REQUEST: u32 =
        ctl_code(DEVICE_TYPE, 0x811, METHOD_BUFFERED, FILE_READ_WRITE_ACCESS);
    /// Out: [`super::PurgeStatusHeader`] then [`super::PurgeStreamEntry`] rows, as many as fit.
    pub const PURGE_STATUS: u32 = ctl_code(DEVICE_TYPE, 0x812, METHOD_BUFFERED, FILE_ANY_ACCESS);
    /// Out: [`super::FilterStatsInfo`].
    pub const FILTER_STATS: u32 = ctl_code(DEVICE_TYPE, 0x813, METHOD_BUFFERED, FILE_ANY_ACCESS);
    /// In: [`super::InspectInput`] naming a handle of the caller's process; out:
    /// [`super::InspectOutput`] followed by the bytes the filter read at `offset` through that
    /// handle's own file object (so the read carries the handle's oplock key and breaks nothing
    /// the handle holds). The device needs no access of its own (like [`QUERY_KEYS`]): the
    /// adapter resolves the handle in the caller's context with user-mode access checks for
    /// `FILE_READ_DATA`, so the caller reads nothing its handle could not.
    pub const INSPECT: u32 = ctl_code(DEVICE_TYPE, 0x814, METHOD_BUFFERED, FILE_ANY_ACCESS);
}

/// Starts every buffer in both directions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Header {
    /// [`PROTOCOL_VERSION`].
    pub version: u32,
    /// `size_of` the whole fixed-size struct this header starts.
    pub size: u32,
}

impl Header {
    /// The header for a struct of type `T`.
    #[must_use]
    pub const fn for_struct<T>() -> Self {
        #[expect(clippy::cast_possible_truncation, reason = "protocol structs are tiny")]
        let size = size_of::<T>() as u32;
        Self {
            version: PROTOCOL_VERSION,
            size,
        }
    }
}

/// Out of [`ioctl::GET_VERSION`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct VersionInfo {
    /// Header.
    pub header: Header,
    /// [`PROTOCOL_VERSION`] of the driver.
    pub protocol_version: u32,
    /// Driver version, major.
    pub major: u16,
    /// Driver version, minor.
    pub minor: u16,
    /// Driver version, patch.
    pub patch: u16,
    /// Reserved, zero.
    pub reserved: u16,
    /// [`ALTITUDE`].
    pub altitude: u32,
}

/// Out of [`ioctl::GET_PARTIAL_ID`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct PartialIdInfo {
    /// Header.
    pub header: Header,
    /// The caller's partial cancel ID (0-255); its cancel IDs are `partial << 56 | counter`.
    pub partial: u32,
    /// Reserved, zero.
    pub reserved: u32,
}

/// In of [`ioctl::OPEN_TARGET`]; the name follows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct OpenTargetInput {
    /// Header.
    pub header: Header,
    /// Bytes of UTF-16 name after this struct (even, at most [`MAX_TARGET_NAME_BYTES`]).
    pub name_bytes: u32,
    /// Reserved, zero.
    pub reserved: u32,
}

/// The longest target name accepted, in bytes.
pub const MAX_TARGET_NAME_BYTES: u32 = 512;

/// In of [`ioctl::FORWARD`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct ForwardInput {
    /// Header.
    pub header: Header,
    /// The cancel ID to tag the request with (0: none); its top byte must be the caller's partial.
    pub cancel_id: u64,
    /// Reserved, zero.
    pub flags: u32,
    /// Reserved, zero.
    pub reserved: u32,
}

/// In of [`ioctl::CANCEL`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct CancelInput {
    /// Header.
    pub header: Header,
    /// The request ID from [`ioctl::LIST`].
    pub request_id: u64,
}

/// In of [`ioctl::CANCEL_GROUP`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct CancelGroupInput {
    /// Header.
    pub header: Header,
    /// The cancel ID whose requests to cancel.
    pub cancel_id: u64,
}

/// Out of [`ioctl::CANCEL`] and [`ioctl::CANCEL_GROUP`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct CancelOutput {
    /// Header.
    pub header: Header,
    /// Cancellations attempted (0 or 1 for a single cancel).
    pub attempted: u32,
    /// Reserved, zero.
    pub reserved: u32,
}

/// Starts the output of [`ioctl::LIST`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct ListHeader {
    /// Header.
    pub header: Header,
    /// Requests the caller has outstanding.
    pub total: u32,
    /// Rows that follow.
    pub returned: u32,
}

/// One row of [`ioctl::LIST`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct ListEntry {
    /// Opaque, generation-tagged request ID.
    pub request_id: u64,
    /// Its cancel ID (0: none).
    pub cancel_id: u64,
}

/// Out of [`ioctl::GET_STATS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[repr(C)]
pub struct StatsInfo {
    /// Header.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub header: Header,
    /// Requests outstanding now.
    pub outstanding: u32,
    /// Table capacity.
    pub capacity: u32,
    /// Owners holding a partial ID.
    pub owners_live: u32,
    /// Most outstanding at once.
    pub peak_outstanding: u32,
    /// What became of the requests and the cancels.
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub counts: ForwardCounts,
}

/// The forwarder's counters, in [`StatsInfo`] as the driver keeps them.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[repr(C)]
pub struct ForwardCounts {
    /// Requests handed to the forwarder.
    pub forwarded: u64,
    /// Requests the target completed with success.
    pub completed: u64,
    /// Requests the target completed with `STATUS_CANCELLED`.
    pub cancelled: u64,
    /// Requests the target completed with another failure.
    pub failed: u64,
    /// Requests whose send failed; completed by the forwarder with the send's status.
    pub send_failures: u64,
    /// Requests refused before sending (bad cancel ID, owner closing, table full).
    pub refused: u64,
    /// Cancellations attempted with `WdfRequestCancelSentRequest`.
    pub cancel_attempts: u64,
    /// Completion routines that found no tracked request (should stay 0).
    pub unknown_completions: u64,
}

/// In of [`ioctl::QUERY_KEYS`] and [`ioctl::PURGE_REQUEST`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct HandleInput {
    /// Header.
    pub header: Header,
    /// A handle value of the calling process (a `HANDLE` widened to 64 bits); never 0.
    pub handle: u64,
    /// Reserved, zero.
    pub flags: u32,
    /// Reserved, zero.
    pub reserved: u32,
}

/// `HandleKeysInfo::origin`: the key came from a `DUAL_OPLOCK_KEY_ECP_CONTEXT`.
pub const KEY_ORIGIN_DUAL_ECP: u32 = 1;
/// `HandleKeysInfo::origin`: the key came from an `OPLOCK_KEY_ECP_CONTEXT`.
pub const KEY_ORIGIN_SINGLE_ECP: u32 = 2;
/// `HandleKeysInfo::origin`: no usable key arrived; the handle has a unique key of its own.
pub const KEY_ORIGIN_UNIQUE: u32 = 3;
/// `HandleKeysInfo::flags`: `parent` holds a key.
pub const KEYS_FLAG_PARENT_PRESENT: u32 = 0x1;

/// Out of [`ioctl::QUERY_KEYS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct HandleKeysInfo {
    /// Header.
    pub header: Header,
    /// The handle's own (target) key, as the 16 bytes of a `GUID`.
    pub target: [u8; 16],
    /// The parent key when [`KEYS_FLAG_PARENT_PRESENT`] is set, zero otherwise.
    pub parent: [u8; 16],
    /// `KEY_ORIGIN_*`.
    pub origin: u32,
    /// `KEYS_FLAG_*`.
    pub flags: u32,
    /// Oplock-key ECPs on the create ignored because they came from user mode.
    pub from_user_mode: u32,
    /// Oplock-key ECPs on the create that did not decode.
    pub malformed: u32,
    /// Duplicate ECPs of one type.
    pub duplicates: u32,
    /// Single-key ECPs superseded by a dual one.
    pub superseded: u32,
    /// The NTSTATUS class of the first decode error (0: none).
    pub first_error: u32,
    /// Reserved, zero.
    pub reserved: u32,
}

/// `PurgeRequestOutput::outcome`: flushed and purged now.
pub const PURGE_OUTCOME_DONE: u32 = 0;
/// `PurgeRequestOutput::outcome`: held; it runs when the stream's window closes.
pub const PURGE_OUTCOME_HELD: u32 = 1;
/// `PurgeRequestOutput::outcome`: the purge failed; `status` says why.
pub const PURGE_OUTCOME_FAILED: u32 = 2;

/// Out of [`ioctl::PURGE_REQUEST`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct PurgeRequestOutput {
    /// Header.
    pub header: Header,
    /// `PURGE_OUTCOME_*`.
    pub outcome: u32,
    /// The purge's NTSTATUS (`STATUS_PENDING` when held).
    pub status: u32,
    /// The stream's purge-failure-mode count after the request.
    pub count: u32,
    /// Operations held on the stream after the request.
    pub held: u32,
}

/// Starts the output of [`ioctl::PURGE_STATUS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct PurgeStatusHeader {
    /// Header.
    pub header: Header,
    /// Streams the filter tracks.
    pub streams_total: u32,
    /// Rows that follow.
    pub returned: u32,
    /// Operations held over all streams.
    pub held_total: u32,
    /// Streams with an open window (count above zero).
    pub windows_open: u32,
    /// `FSCTL_SET_PURGE_FAILURE_MODE` requests seen going down.
    pub set_mode_seen: u64,
    /// Of those, counted.
    pub set_mode_counted: u64,
    /// Held operations released for re-issue.
    pub reissued: u64,
    /// Held operations completed by a cleanup or teardown.
    pub torn_down: u64,
}

/// One row of [`ioctl::PURGE_STATUS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct PurgeStreamEntry {
    /// Opaque ID of the stream (never a kernel address).
    pub stream_id: u64,
    /// The mirrored purge-failure-mode count.
    pub count: u32,
    /// Operations held.
    pub held: u32,
    /// Open handles.
    pub handles: u32,
    /// Reserved, zero.
    pub reserved: u32,
    /// ENABLEs counted on this stream.
    pub enables: u64,
    /// DISABLEs counted on this stream.
    pub disables: u64,
}

/// Out of [`ioctl::FILTER_STATS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[repr(C)]
pub struct FilterStatsInfo {
    /// Header.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub header: Header,
    /// Creates seen.
    pub creates: u64,
    /// Handles keyed by a dual ECP.
    pub keys_from_dual: u64,
    /// Handles keyed by a single-key ECP.
    pub keys_from_single: u64,
    /// Handles given a unique key.
    pub keys_unique: u64,
    /// Oplock-key ECPs ignored because they came from user mode.
    pub ecps_from_user_mode: u64,
    /// Malformed oplock-key ECPs.
    pub ecps_malformed: u64,
    /// Stream-handle contexts created.
    pub handle_contexts: u64,
    /// `FSCTL_SET_PURGE_FAILURE_MODE` seen.
    pub set_mode_seen: u64,
    /// Of those, counted.
    pub set_mode_counted: u64,
    /// `STATUS_USER_MAPPED_FILE` / `STATUS_PURGE_FAILED` answers seen from below.
    pub window_answers_seen: u64,
    /// Inspect reads done.
    pub inspects: u64,
    /// What became of the purge requests and the operations held for them.
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub purge: PurgeRequestCounts,
}

/// The filter's purge counters, in [`FilterStatsInfo`] as the driver keeps them.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[repr(C)]
pub struct PurgeRequestCounts {
    /// Purge requests received.
    pub purge_requests: u64,
    /// Of those, held in a window.
    pub purge_requests_held: u64,
    /// Purges that succeeded.
    pub purges_done: u64,
    /// Purges whose failure went to the caller.
    pub purges_failed: u64,
    /// Held operations released for re-issue.
    pub reissued: u64,
    /// Held operations completed by a cleanup or a teardown.
    pub torn_down: u64,
}

/// In of [`ioctl::INSPECT`].
///
/// The output buffer must hold at least an [`InspectOutput`] (`STATUS_BUFFER_TOO_SMALL`
/// otherwise); the filter reads `min(length, output length - size_of::<InspectOutput>())` bytes,
/// and refuses a read length of 0 or above [`crate::minifilter::MAX_INSPECT_LENGTH`] with
/// `STATUS_INVALID_PARAMETER` (so an output buffer with no room after the header is refused too).
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct InspectInput {
    /// Header.
    pub header: Header,
    /// A handle value of the calling process (a `HANDLE` widened to 64 bits); never 0.
    pub handle: u64,
    /// Byte offset in the file to read at; at most `i64::MAX` (it travels as a `LARGE_INTEGER`,
    /// whose negative values mean "the file pointer" or "end of file" to the file system).
    pub offset: u64,
    /// Bytes to read (1..=[`crate::minifilter::MAX_INSPECT_LENGTH`]).
    pub length: u32,
    /// Reserved, zero.
    pub reserved: u32,
}

/// Out of [`ioctl::INSPECT`]; `bytes_read` bytes of the file follow it. The IOCTL's
/// information is `size_of::<InspectOutput>() + bytes_read`. A read that starts at or after the
/// end of the file completes with `STATUS_END_OF_FILE` (the file system's answer) and no output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct InspectOutput {
    /// Header.
    pub header: Header,
    /// Bytes of file data after this struct (fewer than asked when the file ends first).
    pub bytes_read: u32,
    /// Reserved, zero.
    pub reserved: u32,
}

/// Why a buffer was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    /// Shorter than the struct.
    TooShort {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        got: usize,
    },
    /// Another protocol version.
    VersionMismatch {
        /// The version in the buffer.
        got: u32,
    },
    /// The header's size is not the struct's.
    SizeMismatch {
        /// Expected size.
        expected: u32,
        /// Size in the header.
        got: u32,
    },
    /// A reserved field is not zero.
    ReservedNotZero,
    /// A field's value is out of range.
    BadField(&'static str),
    /// An IOCTL code the device does not know.
    UnknownIoctl(u32),
}

impl ProtocolError {
    /// The NTSTATUS the request is completed with.
    #[must_use]
    pub const fn status(self) -> NtStatus {
        match self {
            Self::TooShort { .. } => NtStatus::BUFFER_TOO_SMALL,
            Self::VersionMismatch { .. } => NtStatus::REVISION_MISMATCH,
            Self::SizeMismatch { .. } | Self::ReservedNotZero | Self::BadField(_) => {
                NtStatus::INVALID_PARAMETER
            }
            Self::UnknownIoctl(_) => NtStatus::INVALID_DEVICE_REQUEST,
        }
    }
}

impl core::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::TooShort { needed, got } => {
                write!(f, "buffer too small: {got} bytes, {needed} needed")
            }
            Self::VersionMismatch { got } => {
                write!(
                    f,
                    "protocol version {got}, this side speaks {PROTOCOL_VERSION}"
                )
            }
            Self::SizeMismatch { expected, got } => {
                write!(f, "header says {got} bytes, the struct has {expected}")
            }
            Self::ReservedNotZero => f.write_str("a reserved field is not zero"),
            Self::BadField(field) => write!(f, "field `{field}` is out of range"),
            Self::UnknownIoctl(code) => write!(f, "unknown IOCTL 0x{code:08X}"),
        }
    }
}

impl core::error::Error for ProtocolError {}

/// Reads a `T` that starts with a [`Header`] from the front of `buf`, checking the header.
///
/// # Errors
/// [`ProtocolError::TooShort`], [`ProtocolError::VersionMismatch`] or
/// [`ProtocolError::SizeMismatch`].
pub fn decode<T: FromBytes + KnownLayout + Immutable>(buf: &[u8]) -> Result<T, ProtocolError> {
    let needed = size_of::<T>();
    let (header, _) = Header::read_from_prefix(buf).map_err(|_| ProtocolError::TooShort {
        needed,
        got: buf.len(),
    })?;
    if header.version != PROTOCOL_VERSION {
        return Err(ProtocolError::VersionMismatch {
            got: header.version,
        });
    }
    let expected = Header::for_struct::<T>().size;
    if header.size != expected {
        return Err(ProtocolError::SizeMismatch {
            expected,
            got: header.size,
        });
    }
    T::read_from_prefix(buf)
        .map(|(value, _)| value)
        .map_err(|_| ProtocolError::TooShort {
            needed,
            got: buf.len(),
        })
}

/// Writes `value` to the front of `out`; returns the bytes written.
///
/// # Errors
/// [`ProtocolError::TooShort`] when `out` cannot hold it.
pub fn encode<T: IntoBytes + Immutable>(value: &T, out: &mut [u8]) -> Result<usize, ProtocolError> {
    let bytes = value.as_bytes();
    let got = out.len();
    let target = out.get_mut(..bytes.len()).ok_or(ProtocolError::TooShort {
        needed: bytes.len(),
        got,
    })?;
    target.copy_from_slice(bytes);
    Ok(bytes.len())
}

/// A request decoded from an IOCTL code and its input buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command<'a> {
    /// [`ioctl::GET_VERSION`].
    GetVersion,
    /// [`ioctl::GET_PARTIAL_ID`].
    GetPartialId,
    /// [`ioctl::OPEN_TARGET`]: the UTF-16LE name bytes.
    OpenTarget {
        /// Name bytes, UTF-16LE, even length.
        name: &'a [u8],
    },
    /// [`ioctl::FORWARD`].
    Forward {
        /// Cancel ID to tag it with.
        cancel_id: u64,
    },
    /// [`ioctl::CANCEL`].
    Cancel {
        /// The request.
        request_id: u64,
    },
    /// [`ioctl::CANCEL_GROUP`].
    CancelGroup {
        /// The cancel ID.
        cancel_id: u64,
    },
    /// [`ioctl::LIST`].
    List,
    /// [`ioctl::GET_STATS`].
    GetStats,
    /// [`ioctl::QUERY_KEYS`].
    QueryKeys {
        /// The caller's handle value.
        handle: u64,
    },
    /// [`ioctl::PURGE_REQUEST`].
    PurgeRequest {
        /// The caller's handle value.
        handle: u64,
    },
    /// [`ioctl::PURGE_STATUS`].
    PurgeStatus,
    /// [`ioctl::FILTER_STATS`].
    FilterStats,
    /// [`ioctl::INSPECT`].
    Inspect {
        /// The caller's handle value.
        handle: u64,
        /// Byte offset (at most `i64::MAX`).
        offset: u64,
        /// Bytes asked for (not yet checked against the filter's limits).
        length: u32,
    },
}

/// Decodes a [`HandleInput`]: reserved fields zero, handle not 0.
fn decode_handle_input(input: &[u8]) -> Result<u64, ProtocolError> {
    let fixed: HandleInput = decode(input)?;
    if fixed.flags != 0 || fixed.reserved != 0 {
        return Err(ProtocolError::ReservedNotZero);
    }
    if fixed.handle == 0 {
        return Err(ProtocolError::BadField("handle"));
    }
    Ok(fixed.handle)
}

/// Decodes an IOCTL of the forwarding protocol. Total: every input gives a command or an error.
///
/// # Errors
/// A [`ProtocolError`] naming what is wrong.
pub fn decode_command(code: u32, input: &[u8]) -> Result<Command<'_>, ProtocolError> {
    Ok(match code {
        ioctl::GET_VERSION => Command::GetVersion,
        ioctl::GET_PARTIAL_ID => Command::GetPartialId,
        ioctl::LIST => Command::List,
        ioctl::GET_STATS => Command::GetStats,
        ioctl::OPEN_TARGET => {
            let fixed: OpenTargetInput = decode(input)?;
            if fixed.reserved != 0 {
                return Err(ProtocolError::ReservedNotZero);
            }
            if fixed.name_bytes == 0
                || !fixed.name_bytes.is_multiple_of(2)
                || fixed.name_bytes > MAX_TARGET_NAME_BYTES
            {
                return Err(ProtocolError::BadField("name_bytes"));
            }
            let start = size_of::<OpenTargetInput>();
            let end = start + fixed.name_bytes as usize;
            let name = input.get(start..end).ok_or(ProtocolError::TooShort {
                needed: end,
                got: input.len(),
            })?;
            Command::OpenTarget { name }
        }
        ioctl::FORWARD => {
            let fixed: ForwardInput = decode(input)?;
            if fixed.flags != 0 || fixed.reserved != 0 {
                return Err(ProtocolError::ReservedNotZero);
            }
            Command::Forward {
                cancel_id: fixed.cancel_id,
            }
        }
        ioctl::CANCEL => {
            let fixed: CancelInput = decode(input)?;
            Command::Cancel {
                request_id: fixed.request_id,
            }
        }
        ioctl::CANCEL_GROUP => {
            let fixed: CancelGroupInput = decode(input)?;
            if fixed.cancel_id == 0 {
                return Err(ProtocolError::BadField("cancel_id"));
            }
            Command::CancelGroup {
                cancel_id: fixed.cancel_id,
            }
        }
        ioctl::QUERY_KEYS => Command::QueryKeys {
            handle: decode_handle_input(input)?,
        },
        ioctl::PURGE_REQUEST => Command::PurgeRequest {
            handle: decode_handle_input(input)?,
        },
        ioctl::PURGE_STATUS => Command::PurgeStatus,
        ioctl::FILTER_STATS => Command::FilterStats,
        ioctl::INSPECT => {
            let fixed: InspectInput = decode(input)?;
            if fixed.reserved != 0 {
                return Err(ProtocolError::ReservedNotZero);
            }
            if fixed.handle == 0 {
                return Err(ProtocolError::BadField("handle"));
            }
            if i64::try_from(fixed.offset).is_err() {
                return Err(ProtocolError::BadField("offset"));
            }
            Command::Inspect {
                handle: fixed.handle,
                offset: fixed.offset,
                length: fixed.length,
            }
        }
        other => return Err(ProtocolError::UnknownIoctl(other)),
    })
}

/// Every IOCTL code the device serves, in function order.
pub const ALL_IOCTLS: [u32; 13] = [
    ioctl::GET_VERSION,
    ioctl::GET_PARTIAL_ID,
    ioctl::OPEN_TARGET,
    ioctl::FORWARD,
    ioctl::CANCEL,
    ioctl::CANCEL_GROUP,
    ioctl::LIST,
    ioctl::GET_STATS,
    ioctl::QUERY_KEYS,
    ioctl::PURGE_REQUEST,
    ioctl::PURGE_STATUS,
    ioctl::FILTER_STATS,
    ioctl::INSPECT,
];

mod inputs;
#[cfg(test)]
mod tests;
