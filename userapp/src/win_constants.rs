//! The Windows constants and structs ferroctl's Windows code writes out by hand (winioctl.h and
//! winnt.h items the enabled windows-rs features do not carry), in plain integer types so this
//! module compiles on every host and `ferrofilter-abi` asserts each against Microsoft's metadata.

/// `FSCTL_REQUEST_OPLOCK` (winioctl.h; windows-rs `Win32::System::Ioctl`, not enabled here).
pub const FSCTL_REQUEST_OPLOCK: u32 = 0x0009_0240;
/// `FSCTL_SET_PURGE_FAILURE_MODE`.
pub const FSCTL_SET_PURGE_FAILURE_MODE: u32 = 0x0009_0270;
/// `REQUEST_OPLOCK_CURRENT_VERSION`.
pub const REQUEST_OPLOCK_CURRENT_VERSION: u16 = 1;
/// `REQUEST_OPLOCK_INPUT_FLAG_REQUEST`.
pub const INPUT_FLAG_REQUEST: u32 = 1;
/// `REQUEST_OPLOCK_INPUT_FLAG_ACK`.
pub const INPUT_FLAG_ACK: u32 = 2;
/// `REQUEST_OPLOCK_OUTPUT_FLAG_ACK_REQUIRED`.
pub const OUTPUT_FLAG_ACK_REQUIRED: u32 = 1;
/// `SYNCHRONIZE`, added to the probes' access so the handles can be used synchronously.
pub const SYNCHRONIZE: u32 = 0x0010_0000;

/// `REQUEST_OPLOCK_INPUT_BUFFER` (winioctl.h), same layout as windows-rs's.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct RequestOplockInput {
    /// `StructureVersion`.
    pub structure_version: u16,
    /// `StructureLength`.
    pub structure_length: u16,
    /// `RequestedOplockLevel`.
    pub requested_oplock_level: u32,
    /// `Flags`.
    pub flags: u32,
}

/// `REQUEST_OPLOCK_OUTPUT_BUFFER` (winioctl.h), same layout as windows-rs's.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct RequestOplockOutput {
    /// `StructureVersion`.
    pub structure_version: u16,
    /// `StructureLength`.
    pub structure_length: u16,
    /// `OriginalOplockLevel`.
    pub original_oplock_level: u32,
    /// `NewOplockLevel`.
    pub new_oplock_level: u32,
    /// `Flags`.
    pub flags: u32,
    /// `AccessMode`.
    pub access_mode: u32,
    /// `ShareMode`.
    pub share_mode: u16,
}
