//! The control device on the sim: handles (owners), IOCTL buffers in and out, through the same
//! `ferrofilter_core::control::dispatch` the Windows adapter calls. A forwarded request pends at
//! the emulated I/O target until it completes or is cancelled, as on Windows.

use std::collections::HashMap;

use ferrofilter_core::control::{Dispatch, dispatch};
use ferrofilter_core::{NtStatus, OwnerId, RequestId};

use crate::driver::{SimConfig, SimDriver};
use crate::fltmgr::{CreateArgs, FltMgr, Observed};
use crate::fs::FileObjectId;
use crate::sync::{Mutex, MutexGuard, lock};

/// A handle of `\\.\FerroFilter` opened on the sim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeviceHandle(pub u64);

/// What one `DeviceIoControl` returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoctlReply {
    /// The completion status; `STATUS_PENDING` for a forwarded request still out.
    pub status: NtStatus,
    /// Bytes written to the output buffer.
    pub information: usize,
    /// For a forwarded request: its ID, to cancel it or watch it complete.
    pub pending: Option<RequestId>,
}

impl IoctlReply {
    const fn done(status: NtStatus, information: usize) -> Self {
        Self {
            status,
            information,
            pending: None,
        }
    }
}

/// The control device.
pub struct SimDevice {
    driver: SimDriver,
    /// The filter's side: Filter Manager with the filter attached over the sim's file system.
    filter: Mutex<FltMgr>,
    handles: Mutex<HashMap<DeviceHandle, OwnerId>>,
    next: Mutex<u64>,
    /// The caller's handles to files on the sim's volume: what `ObReferenceObjectByHandle`
    /// resolves a user handle value against.
    files: Mutex<HashMap<u64, FileObjectId>>,
}

impl SimDevice {
    /// A device over a fresh sim driver.
    ///
    /// # Errors
    /// As [`SimDriver::new`].
    pub fn new(config: SimConfig) -> Result<Self, NtStatus> {
        Ok(Self {
            driver: SimDriver::new(config)?,
            filter: Mutex::new(FltMgr::new()),
            handles: Mutex::default(),
            next: Mutex::new(0),
            files: Mutex::default(),
        })
    }

    /// The driver behind it (to complete requests at the target, deliver completions, tear down).
    #[must_use]
    pub const fn driver(&self) -> &SimDriver {
        &self.driver
    }

    /// The filter's Filter Manager and file system (to open files on the sim's volume).
    pub fn filter(&self) -> MutexGuard<'_, FltMgr> {
        lock(&self.filter)
    }

    /// `CreateFile` of a file on the sim's volume, through the filter: returns the user handle
    /// value the filter IOCTLs take, and what the create observed.
    ///
    /// # Errors
    /// The create's failure status.
    pub fn open_file(&self, args: &CreateArgs) -> Result<(u64, Observed), NtStatus> {
        let observed = lock(&self.filter).create(args);
        let file_object = observed.file_object.ok_or(observed.status)?;
        let handle = {
            let mut next = lock(&self.next);
            *next += 1;
            // User handle values are multiples of 4, as on Windows.
            *next * 4
        };
        lock(&self.files).insert(handle, file_object);
        Ok((handle, observed))
    }

    /// `CloseHandle` of a file opened with [`SimDevice::open_file`].
    ///
    /// # Errors
    /// `STATUS_INVALID_HANDLE` for a value that is not an open file handle.
    pub fn close_file(&self, handle: u64) -> Result<Observed, NtStatus> {
        let file_object = lock(&self.files)
            .remove(&handle)
            .ok_or(NtStatus::INVALID_HANDLE)?;
        Ok(lock(&self.filter).close(file_object))
    }

    /// `CreateFile(\\.\FerroFilter)`: a new owner with its partial cancel ID.
    ///
    /// # Errors
    /// `STATUS_INSUFFICIENT_RESOURCES` when 256 handles are open.
    pub fn open(&self) -> Result<DeviceHandle, NtStatus> {
        let owner = self.driver.open()?;
        let handle = {
            let mut next = lock(&self.next);
            *next += 1;
            DeviceHandle(*next)
        };
        lock(&self.handles).insert(handle, owner);
        Ok(handle)
    }

    /// `CloseHandle`: cleanup cancels everything the handle forwarded.
    ///
    /// # Errors
    /// `STATUS_INVALID_HANDLE` for a handle that is not open.
    pub fn close(&self, handle: DeviceHandle) -> Result<usize, NtStatus> {
        let owner = lock(&self.handles)
            .remove(&handle)
            .ok_or(NtStatus::INVALID_HANDLE)?;
        self.driver.close(owner)
    }

    /// The owner behind a handle.
    #[must_use]
    pub fn owner(&self, handle: DeviceHandle) -> Option<OwnerId> {
        lock(&self.handles).get(&handle).copied()
    }

    /// `DeviceIoControl`.
    pub fn ioctl(
        &self,
        handle: DeviceHandle,
        code: u32,
        input: &[u8],
        output: &mut [u8],
    ) -> IoctlReply {
        let Some(owner) = self.owner(handle) else {
            return IoctlReply::done(NtStatus::INVALID_HANDLE, 0);
        };
        match dispatch(self.driver.forwarder(), owner, code, input, output) {
            Dispatch::Complete {
                status,
                information,
            } => IoctlReply::done(status, information),
            Dispatch::Forward { cancel_id } => match self.driver.forward(owner, cancel_id) {
                Ok(id) => IoctlReply {
                    status: NtStatus::PENDING,
                    information: 0,
                    pending: Some(id),
                },
                Err(status) => IoctlReply::done(status, 0),
            },
            Dispatch::OpenTarget { .. } => {
                // The sim has one emulated target; any valid pipe name opens it.
                let status = match self.driver.forwarder().set_target(owner, true) {
                    Ok(()) => NtStatus::SUCCESS,
                    Err(status) => status,
                };
                IoctlReply::done(status, 0)
            }
            // The filter's IOCTLs: user handle values resolve against the caller's files.
            other => {
                let files = lock(&self.files).clone();
                let served =
                    lock(&self.filter).serve_ioctl(other, |h| files.get(&h).copied(), 0, output);
                served.map_or(
                    IoctlReply::done(NtStatus::NOT_SUPPORTED, 0),
                    |(status, info)| IoctlReply::done(status, info),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use ferrofilter_core::protocol::{
        self, CancelGroupInput, CancelOutput, ForwardInput, Header, ListEntry, ListHeader,
        OpenTargetInput, PartialIdInfo, StatsInfo, ioctl,
    };
    use ferrofilter_core::{CancelId, NtStatus};
    use zerocopy::{FromBytes, IntoBytes};

    use super::*;

    fn forward_input(cancel_id: u64) -> Vec<u8> {
        ForwardInput {
            header: Header::for_struct::<ForwardInput>(),
            cancel_id,
            flags: 0,
            reserved: 0,
        }
        .as_bytes()
        .to_vec()
    }

    fn open_target(device: &SimDevice, handle: DeviceHandle) -> IoctlReply {
        let name: Vec<u8> = "\\??\\pipe\\ferro"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let mut input = OpenTargetInput {
            header: Header::for_struct::<OpenTargetInput>(),
            name_bytes: u32::try_from(name.len()).unwrap(),
            reserved: 0,
        }
        .as_bytes()
        .to_vec();
        input.extend_from_slice(&name);
        device.ioctl(handle, ioctl::OPEN_TARGET, &input, &mut [])
    }

    #[test]
    fn forward_list_cancel_group_over_ioctl_buffers() {
        let device = SimDevice::new(SimConfig::default()).unwrap();
        let handle = device.open().unwrap();
        let mut out = [0u8; 256];

        let reply = device.ioctl(handle, ioctl::GET_PARTIAL_ID, &[], &mut out);
        assert_eq!(reply.status, NtStatus::SUCCESS);
        let partial = PartialIdInfo::read_from_prefix(&out).unwrap().0.partial;
        let group = CancelId::new(u8::try_from(partial).unwrap(), 5).0;

        // No target yet: nowhere to forward.
        let reply = device.ioctl(handle, ioctl::FORWARD, &forward_input(group), &mut out);
        assert_eq!(reply.status, NtStatus::INVALID_DEVICE_STATE);
        assert_eq!(open_target(&device, handle).status, NtStatus::SUCCESS);
        for _ in 0..3 {
            let reply = device.ioctl(handle, ioctl::FORWARD, &forward_input(group), &mut out);
            assert_eq!(reply.status, NtStatus::PENDING);
        }

        let reply = device.ioctl(handle, ioctl::LIST, &[], &mut out);
        assert_eq!(reply.status, NtStatus::SUCCESS);
        let (list, rows) = ListHeader::read_from_prefix(&out).unwrap();
        assert_eq!((list.total, list.returned), (3, 3));
        let first = ListEntry::read_from_prefix(rows).unwrap().0;
        assert_eq!(first.cancel_id, group);

        // A list buffer with room for one row: the rows that fit, and BUFFER_OVERFLOW.
        let mut small = [0u8; size_of::<ListHeader>() + size_of::<ListEntry>()];
        let reply = device.ioctl(handle, ioctl::LIST, &[], &mut small);
        assert_eq!(reply.status, NtStatus::BUFFER_OVERFLOW);
        assert_eq!(ListHeader::read_from_prefix(&small).unwrap().0.returned, 1);

        let input = CancelGroupInput {
            header: Header::for_struct::<CancelGroupInput>(),
            cancel_id: group,
        };
        let reply = device.ioctl(handle, ioctl::CANCEL_GROUP, input.as_bytes(), &mut out);
        assert_eq!(reply.status, NtStatus::SUCCESS);
        assert_eq!(CancelOutput::read_from_prefix(&out).unwrap().0.attempted, 3);
        assert_eq!(device.driver().deliver_all(), 3);

        let reply = device.ioctl(handle, ioctl::GET_STATS, &[], &mut out);
        let stats = StatsInfo::read_from_prefix(&out).unwrap().0;
        assert_eq!(reply.status, NtStatus::SUCCESS);
        assert_eq!(
            (stats.forwarded, stats.cancelled, stats.outstanding),
            (3, 3, 0)
        );

        device.close(handle).unwrap();
        assert_eq!(
            device.ioctl(handle, ioctl::LIST, &[], &mut out).status,
            NtStatus::INVALID_HANDLE
        );
        assert!(device.driver().teardown().violations.is_empty());
    }

    #[test]
    fn malformed_buffers_get_their_status() {
        let device = SimDevice::new(SimConfig::default()).unwrap();
        let handle = device.open().unwrap();
        let mut out = [0u8; 64];
        let mut bad = forward_input(0);
        bad[0] = 9;
        assert_eq!(
            device.ioctl(handle, ioctl::FORWARD, &bad, &mut out).status,
            NtStatus::REVISION_MISMATCH
        );
        assert_eq!(
            device
                .ioctl(handle, ioctl::FORWARD, &[1, 2], &mut out)
                .status,
            NtStatus::BUFFER_TOO_SMALL
        );
        assert_eq!(
            device.ioctl(handle, 0xDEAD_BEEF, &[], &mut out).status,
            NtStatus::INVALID_DEVICE_REQUEST
        );
        assert_eq!(
            device
                .ioctl(handle, ioctl::GET_VERSION, &[], &mut [0u8; 4])
                .status,
            NtStatus::BUFFER_TOO_SMALL
        );
        let reply = device.ioctl(handle, ioctl::GET_VERSION, &[], &mut out);
        assert_eq!(reply.status, NtStatus::SUCCESS);
        assert_eq!(
            u32::from_le_bytes(out[8..12].try_into().unwrap()),
            protocol::PROTOCOL_VERSION
        );
        device.close(handle).unwrap();
    }
}
