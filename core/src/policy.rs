//! What the driver shell decides: which volumes to attach to, whether an unload may proceed and
//! the order `DriverEntry` brings the driver up in and unwinds it on failure.

use crate::status::NtStatus;

/// The file system of a volume Filter Manager offers an instance on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileSystem {
    /// `FLT_FSTYPE_NTFS`.
    Ntfs,
    /// `FLT_FSTYPE_REFS`.
    Refs,
    /// Anything else (FAT, CDFS, network redirectors, ...).
    Other,
}

/// What `InstanceSetup` knows about a volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Volume {
    /// Its file system.
    pub file_system: FileSystem,
    /// Its device type is `FILE_DEVICE_NETWORK_FILE_SYSTEM`.
    pub network: bool,
    /// `FltIsVolumeWritable`'s answer; `None` if that call failed.
    pub writable: Option<bool>,
}

/// Attach to local, writable NTFS or `ReFS` volumes only. Oplock keys and purge-failure mode are
/// local file-system features, and a read-only volume has no cache to purge or data to protect;
/// when writability cannot be read we do not attach rather than guess.
///
/// # Errors
/// `STATUS_FLT_DO_NOT_ATTACH` for every other volume.
pub const fn attach(volume: Volume) -> Result<(), NtStatus> {
    match volume {
        Volume {
            file_system: FileSystem::Ntfs | FileSystem::Refs,
            network: false,
            writable: Some(true),
        } => Ok(()),
        _ => Err(NtStatus::FLT_DO_NOT_ATTACH),
    }
}

/// A mandatory unload always proceeds; an optional one (`fltmc unload`) is refused while the
/// control device has open handles, as the `cdo` sample's `FilterUnload` does.
///
/// # Errors
/// `STATUS_FLT_DO_NOT_DETACH` when the unload is refused.
pub const fn unload(mandatory: bool, open_handles: u32) -> Result<(), NtStatus> {
    if mandatory || open_handles == 0 {
        Ok(())
    } else {
        Err(NtStatus::FLT_DO_NOT_DETACH)
    }
}

/// The steps of `DriverEntry`, in order (REFERENCE §6: the KMDF driver object first, so the control
/// device can be created; filtering starts last, when everything it needs exists).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum BringUp {
    /// `WdfDriverCreate` (non-PnP, with `EvtDriverUnload`).
    CreateWdfDriver,
    /// `FltRegisterFilter`.
    RegisterFilter,
    /// The control device: `WdfControlDeviceInitAllocate` ... `WdfControlFinishInitializing`.
    CreateControlDevice,
    /// `FltStartFiltering`.
    StartFiltering,
}

impl BringUp {
    /// Every step, in the order `DriverEntry` runs them.
    pub const ORDER: [Self; 4] = [
        Self::CreateWdfDriver,
        Self::RegisterFilter,
        Self::CreateControlDevice,
        Self::StartFiltering,
    ];

    /// What undoes this step, if anything must: the WDF driver object is deleted by the framework
    /// when `DriverEntry` fails, and a filter that did not start has nothing to stop.
    #[must_use]
    pub const fn undo(self) -> Option<TearDown> {
        match self {
            Self::CreateWdfDriver | Self::StartFiltering => None,
            Self::RegisterFilter => Some(TearDown::UnregisterFilter),
            Self::CreateControlDevice => Some(TearDown::DeleteControlDevice),
        }
    }
}

/// One action of an unwind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TearDown {
    /// `FltUnregisterFilter`.
    UnregisterFilter,
    /// `WdfObjectDelete` of the control device (its symbolic link goes with it).
    DeleteControlDevice,
}

/// When `failed` fails, what to undo: everything that succeeded before it, in reverse.
pub fn unwind(failed: BringUp) -> impl Iterator<Item = TearDown> {
    BringUp::ORDER
        .into_iter()
        .rev()
        .filter(move |step| *step < failed)
        .filter_map(BringUp::undo)
}

/// A full unload after [`unload`] allowed it, once sent I/O is cancelled and drained: unregister
/// the filter first (it waits for callbacks in flight, and they may use the control device's
/// state), then delete the control device.
pub const UNLOAD_SEQUENCE: [TearDown; 2] =
    [TearDown::UnregisterFilter, TearDown::DeleteControlDevice];

#[cfg(test)]
mod tests {
    extern crate alloc;
    use alloc::vec::Vec;

    use super::*;

    #[test]
    fn attaches_to_local_writable_ntfs_and_refs_only() {
        let ok = Volume {
            file_system: FileSystem::Ntfs,
            network: false,
            writable: Some(true),
        };
        assert_eq!(attach(ok), Ok(()));
        assert_eq!(
            attach(Volume {
                file_system: FileSystem::Refs,
                ..ok
            }),
            Ok(())
        );
        for refused in [
            Volume {
                file_system: FileSystem::Other,
                ..ok
            },
            Volume {
                network: true,
                ..ok
            },
            Volume {
                writable: Some(false),
                ..ok
            },
            Volume {
                writable: None,
                ..ok
            },
        ] {
            assert_eq!(
                attach(refused),
                Err(NtStatus::FLT_DO_NOT_ATTACH),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn optional_unload_waits_for_handles_to_close() {
        assert_eq!(unload(false, 0), Ok(()));
        assert_eq!(unload(false, 2), Err(NtStatus::FLT_DO_NOT_DETACH));
        assert_eq!(unload(true, 2), Ok(()));
    }

    #[test]
    fn unwind_undoes_exactly_what_succeeded_in_reverse() {
        let undo = |failed| unwind(failed).collect::<Vec<_>>();
        assert_eq!(undo(BringUp::CreateWdfDriver), []);
        assert_eq!(undo(BringUp::RegisterFilter), []);
        assert_eq!(
            undo(BringUp::CreateControlDevice),
            [TearDown::UnregisterFilter]
        );
        assert_eq!(
            undo(BringUp::StartFiltering),
            [TearDown::DeleteControlDevice, TearDown::UnregisterFilter]
        );
        // Unload tears down both, filter first; a failed bring-up only what it created.
        let mut all: Vec<_> = UNLOAD_SEQUENCE.to_vec();
        all.sort_by_key(|t| *t as u8);
        let mut undone: Vec<_> = unwind(BringUp::StartFiltering).collect();
        undone.sort_by_key(|t| *t as u8);
        assert_eq!(all, undone);
        assert_eq!(UNLOAD_SEQUENCE[0], TearDown::UnregisterFilter);
    }
}
