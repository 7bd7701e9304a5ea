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

/// `InstanceQueryTeardown`: a manual detach of an instance (`fltmc detach`) is allowed. The
/// filter holds nothing an instance teardown cannot release (its held purges are completed by
/// the stream teardown), so there is no reason to refuse.
///
/// # Errors
/// None today; the `Result` is the callback's shape (`STATUS_FLT_DO_NOT_DETACH` would refuse).
pub const fn query_teardown() -> Result<(), NtStatus> {
    Ok(())
}

/// The control device's handle gate: the number of open handles and whether unload has started,
/// in one word, so that a create and an unload cannot both win. The driver keeps the word in an
/// atomic and moves it with compare-and-swap loops over these functions (each a pure transition,
/// so every interleaving is one of the orders they describe): a create counts a handle only while
/// no unload has started; an unload starts only from a state [`unload`] allows, and from then on
/// no create is counted.
pub mod gate {
    use super::unload;
    use crate::status::NtStatus;

    /// The bit that says an unload has started; the other bits count open handles.
    pub const UNLOADING: u32 = 1 << 31;

    /// Handles open in `state`.
    #[must_use]
    pub const fn handles(state: u32) -> u32 {
        state & !UNLOADING
    }

    /// Whether an unload has started in `state`.
    #[must_use]
    pub const fn unloading(state: u32) -> bool {
        state & UNLOADING != 0
    }

    /// A create of a control-device handle: the state with one more handle.
    ///
    /// # Errors
    /// `STATUS_DELETE_PENDING` once an unload has started (the device is going away);
    /// `STATUS_INSUFFICIENT_RESOURCES` if the count would reach the unloading bit.
    pub const fn open(state: u32) -> Result<u32, NtStatus> {
        if unloading(state) {
            Err(NtStatus::DELETE_PENDING)
        } else if handles(state) == UNLOADING - 1 {
            Err(NtStatus::INSUFFICIENT_RESOURCES)
        } else {
            Ok(state + 1)
        }
    }

    /// A handle counted by [`open`] closes (or its create failed after counting): one handle
    /// fewer, the unloading bit unchanged. A state with no handles stays as it is.
    #[must_use]
    pub const fn close(state: u32) -> u32 {
        if handles(state) == 0 {
            state
        } else {
            state - 1
        }
    }

    /// Filter Manager's unload callback: the state with the unloading bit set, when [`unload`]
    /// lets this unload proceed with the handles open now.
    ///
    /// # Errors
    /// As [`unload`]: `STATUS_FLT_DO_NOT_DETACH` for an optional unload with handles open.
    pub const fn begin_unload(state: u32, mandatory: bool) -> Result<u32, NtStatus> {
        match unload(mandatory, handles(state)) {
            Ok(()) => Ok(state | UNLOADING),
            Err(status) => Err(status),
        }
    }

    /// An unload that was refused after [`begin_unload`] (it could not drain): creates are
    /// counted again.
    #[must_use]
    pub const fn abandon_unload(state: u32) -> u32 {
        state & !UNLOADING
    }
}

/// How many bounded waits unload spends on the forwarded requests draining before it decides
/// with [`drain_timed_out`]; the driver's wait is 5 s, so 15 s in all.
pub const UNLOAD_DRAIN_SLICES: u32 = 3;

/// What unload does when the sent requests did not drain within [`UNLOAD_DRAIN_SLICES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DrainTimeout {
    /// Keep cancelling and waiting: a mandatory unload cannot be refused, and the device must
    /// never be deleted under a live request.
    KeepWaiting,
    /// Give up: restart the control device's queue, let handles be created again and fail the
    /// unload with this status.
    Refuse(NtStatus),
}

/// The decision when the drain ran out of time: an optional unload is refused with
/// `STATUS_DEVICE_BUSY` (requests are still outstanding at the target; distinct from
/// `STATUS_FLT_DO_NOT_DETACH`, which says handles are open); a mandatory one keeps waiting.
#[must_use]
pub const fn drain_timed_out(mandatory: bool) -> DrainTimeout {
    if mandatory {
        DrainTimeout::KeepWaiting
    } else {
        DrainTimeout::Refuse(NtStatus::DEVICE_BUSY)
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
    fn manual_detach_is_allowed() {
        assert_eq!(query_teardown(), Ok(()));
    }

    #[test]
    fn the_gate_counts_creates_only_before_unload() {
        let two = gate::open(gate::open(0).unwrap()).unwrap();
        assert_eq!(gate::handles(two), 2);
        // An optional unload with handles open is refused and changes nothing.
        assert_eq!(
            gate::begin_unload(two, false),
            Err(NtStatus::FLT_DO_NOT_DETACH)
        );
        // A mandatory one starts anyway; from then on creates are refused, closes still count.
        let unloading = gate::begin_unload(two, true).unwrap();
        assert!(gate::unloading(unloading));
        assert_eq!(gate::open(unloading), Err(NtStatus::DELETE_PENDING));
        let one = gate::close(unloading);
        assert_eq!((gate::handles(one), gate::unloading(one)), (1, true));
        // An optional unload with no handles moves 0 to UNLOADING, and a create after it fails.
        let closed = gate::close(gate::close(two));
        assert_eq!(closed, 0);
        let started = gate::begin_unload(closed, false).unwrap();
        assert_eq!(started, gate::UNLOADING);
        assert_eq!(gate::open(started), Err(NtStatus::DELETE_PENDING));
        // Abandoning it lets creates in again.
        assert_eq!(gate::open(gate::abandon_unload(started)), Ok(1));
        assert_eq!(gate::close(0), 0);
        assert_eq!(
            gate::open(gate::UNLOADING - 1),
            Err(NtStatus::INSUFFICIENT_RESOURCES)
        );
    }

    #[test]
    fn a_drain_that_times_out_refuses_only_an_optional_unload() {
        assert_eq!(
            drain_timed_out(false),
            DrainTimeout::Refuse(NtStatus::DEVICE_BUSY)
        );
        assert_eq!(drain_timed_out(true), DrainTimeout::KeepWaiting);
        assert!(!NtStatus::DEVICE_BUSY.is_success());
        const { assert!(UNLOAD_DRAIN_SLICES >= 1) };
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
