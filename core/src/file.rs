//! The file-API vocabulary the driver decides with: access-mask bits and create dispositions
//! (winnt.h / wdm.h). What the oplock package and share access do with them is modelled outside
//! core (`ferrofilter-model`), as the driver never runs it.

use crate::status::NtStatus;

/// Access-mask bits (winnt.h / wdm.h).
pub mod access {
    /// `FILE_READ_DATA` (`FILE_LIST_DIRECTORY` on a directory).
    pub const FILE_READ_DATA: u32 = 0x0000_0001;
    /// `FILE_LIST_DIRECTORY`.
    pub const FILE_LIST_DIRECTORY: u32 = FILE_READ_DATA;
    /// `FILE_WRITE_DATA` (`FILE_ADD_FILE` on a directory).
    pub const FILE_WRITE_DATA: u32 = 0x0000_0002;
    /// `FILE_ADD_FILE`.
    pub const FILE_ADD_FILE: u32 = FILE_WRITE_DATA;
    /// `FILE_APPEND_DATA`.
    pub const FILE_APPEND_DATA: u32 = 0x0000_0004;
    /// `FILE_READ_EA`.
    pub const FILE_READ_EA: u32 = 0x0000_0008;
    /// `FILE_WRITE_EA`.
    pub const FILE_WRITE_EA: u32 = 0x0000_0010;
    /// `FILE_EXECUTE`.
    pub const FILE_EXECUTE: u32 = 0x0000_0020;
    /// `FILE_READ_ATTRIBUTES`.
    pub const FILE_READ_ATTRIBUTES: u32 = 0x0000_0080;
    /// `FILE_WRITE_ATTRIBUTES`.
    pub const FILE_WRITE_ATTRIBUTES: u32 = 0x0000_0100;
    /// `DELETE`.
    pub const DELETE: u32 = 0x0001_0000;
    /// `READ_CONTROL`.
    pub const READ_CONTROL: u32 = 0x0002_0000;
    /// `SYNCHRONIZE`.
    pub const SYNCHRONIZE: u32 = 0x0010_0000;
    /// The accesses a create may ask for without breaking any oplock (unless it also sets
    /// `FILE_RESERVE_OPFILTER`).
    pub const ATTRIBUTE_ONLY: u32 = FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES | SYNCHRONIZE;
    /// The accesses `IoCheckShareAccess` counts as reading.
    pub const SHARE_CHECKED_READ: u32 = FILE_READ_DATA | FILE_EXECUTE;
    /// The accesses `IoCheckShareAccess` counts as writing.
    pub const SHARE_CHECKED_WRITE: u32 = FILE_WRITE_DATA | FILE_APPEND_DATA;
}

/// A create disposition (`CreateDisposition` of `ZwCreateFile`; the top byte of
/// `Parameters.Create.Options`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum CreateDisposition {
    /// `FILE_SUPERSEDE` (0).
    Supersede = 0,
    /// `FILE_OPEN` (1).
    Open = 1,
    /// `FILE_CREATE` (2).
    Create = 2,
    /// `FILE_OPEN_IF` (3).
    OpenIf = 3,
    /// `FILE_OVERWRITE` (4).
    Overwrite = 4,
    /// `FILE_OVERWRITE_IF` (5).
    OverwriteIf = 5,
}

/// A disposition value outside 0..=5.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidDisposition(pub u32);

impl InvalidDisposition {
    /// What a file system answers: `STATUS_INVALID_PARAMETER`.
    #[must_use]
    pub const fn status(self) -> NtStatus {
        NtStatus::INVALID_PARAMETER
    }
}

impl CreateDisposition {
    /// All six, in value order.
    pub const ALL: [Self; 6] = [
        Self::Supersede,
        Self::Open,
        Self::Create,
        Self::OpenIf,
        Self::Overwrite,
        Self::OverwriteIf,
    ];

    /// From the numeric value.
    ///
    /// # Errors
    /// [`InvalidDisposition`] for anything above `FILE_OVERWRITE_IF`.
    pub const fn from_u32(value: u32) -> Result<Self, InvalidDisposition> {
        Ok(match value {
            0 => Self::Supersede,
            1 => Self::Open,
            2 => Self::Create,
            3 => Self::OpenIf,
            4 => Self::Overwrite,
            5 => Self::OverwriteIf,
            other => return Err(InvalidDisposition(other)),
        })
    }

    /// From `Parameters.Create.Options`: the disposition is its top 8 bits.
    ///
    /// # Errors
    /// [`InvalidDisposition`] when the top byte is above 5.
    pub const fn from_create_options(options: u32) -> Result<Self, InvalidDisposition> {
        Self::from_u32(options >> 24)
    }

    /// Supersede, overwrite and overwrite-if replace the stream's data.
    #[must_use]
    pub const fn is_destructive(self) -> bool {
        matches!(self, Self::Supersede | Self::Overwrite | Self::OverwriteIf)
    }
}
