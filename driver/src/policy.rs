//! Stand-ins for three decisions that belong in `ferrofilter-core` but have no function there yet.
//! Each keeps the minimal behaviour the driver needs today and has the signature it should get in
//! core, so moving it is a rename of the call sites. Nothing else in `driver/` decides.
//!
//! Unverified here: the behaviour is the documented one (CDO sample's `FilterUnload`, the usual
//! NTFS/ReFS-only attach); nothing here has run.

use ferrofilter_core::NtStatus;

/// The file system of a volume Filter Manager offers an instance on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileSystem {
    /// `FLT_FSTYPE_NTFS`.
    Ntfs,
    /// `FLT_FSTYPE_REFS`.
    Refs,
    /// Anything else.
    Other,
}

/// What `InstanceSetup` knows about a volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Volume {
    /// Its file system.
    pub file_system: FileSystem,
    /// Its device type is `FILE_DEVICE_NETWORK_FILE_SYSTEM`.
    pub network: bool,
    /// `FltIsVolumeWritable`'s answer, `None` if that call failed.
    pub writable: Option<bool>,
}

/// Whether to attach an instance: local, writable NTFS or `ReFS` volumes only.
/// Wanted in core as `ferrofilter_core::policy::attach(Volume) -> Result<(), NtStatus>`.
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

/// Whether `FilterUnload` may proceed: a mandatory unload always does; an optional one is refused
/// while the control device has open handles (filesys/miniFilter/cdo does the same).
/// Wanted in core as `ferrofilter_core::policy::unload(mandatory: bool, open_handles: u32)
/// -> Result<(), NtStatus>`.
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

/// The status a `FORWARD` gets when its handle has no I/O target yet (no successful
/// `OPEN_TARGET`). `dispatch` cannot know this today. Wanted in core as a `Dispatch::Forward`
/// decided with the owner's target state, e.g. `dispatch(..., has_target: bool)`.
pub const FORWARD_WITHOUT_TARGET: NtStatus = NtStatus::INVALID_DEVICE_STATE;
