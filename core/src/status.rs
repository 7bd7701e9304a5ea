//! NTSTATUS values the core answers with.
//!
//! Values are from ntstatus.h; the core never invents a status of its own.

use core::fmt;

/// A Windows NTSTATUS: severity in the top two bits, facility and code below. The default is
/// `STATUS_SUCCESS` (0).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(transparent)]
pub struct NtStatus(pub u32);

impl NtStatus {
    /// `STATUS_SUCCESS`
    pub const SUCCESS: Self = Self(0x0000_0000);
    /// `STATUS_PENDING`
    pub const PENDING: Self = Self(0x0000_0103);
    /// `STATUS_REPARSE` (success class: the create must be re-issued elsewhere)
    pub const REPARSE: Self = Self(0x0000_0104);
    /// `STATUS_CANCELLED`
    pub const CANCELLED: Self = Self(0xC000_0120);
    /// `STATUS_UNSUCCESSFUL`
    pub const UNSUCCESSFUL: Self = Self(0xC000_0001);
    /// `STATUS_INVALID_PARAMETER`
    pub const INVALID_PARAMETER: Self = Self(0xC000_000D);
    /// `STATUS_INVALID_DEVICE_REQUEST`
    pub const INVALID_DEVICE_REQUEST: Self = Self(0xC000_0010);
    /// `STATUS_INSUFFICIENT_RESOURCES`
    pub const INSUFFICIENT_RESOURCES: Self = Self(0xC000_009A);
    /// `STATUS_BUFFER_TOO_SMALL`
    pub const BUFFER_TOO_SMALL: Self = Self(0xC000_0023);
    /// `STATUS_BUFFER_OVERFLOW` (a warning: the output was truncated)
    pub const BUFFER_OVERFLOW: Self = Self(0x8000_0005);
    /// `STATUS_NOT_FOUND`
    pub const NOT_FOUND: Self = Self(0xC000_0225);
    /// `STATUS_INVALID_DEVICE_STATE`
    pub const INVALID_DEVICE_STATE: Self = Self(0xC000_0184);
    /// `STATUS_DEVICE_REMOVED`
    pub const DEVICE_REMOVED: Self = Self(0xC000_02B6);
    /// `STATUS_DELETE_PENDING`
    pub const DELETE_PENDING: Self = Self(0xC000_0056);
    /// `STATUS_CANNOT_DELETE`
    pub const CANNOT_DELETE: Self = Self(0xC000_0121);
    /// `STATUS_LOCK_NOT_GRANTED`
    pub const LOCK_NOT_GRANTED: Self = Self(0xC000_0055);
    /// `STATUS_FILE_LOCK_CONFLICT`
    pub const FILE_LOCK_CONFLICT: Self = Self(0xC000_0054);
    /// `STATUS_RANGE_NOT_LOCKED`
    pub const RANGE_NOT_LOCKED: Self = Self(0xC000_007E);
    /// `STATUS_INVALID_LOCK_RANGE`
    pub const INVALID_LOCK_RANGE: Self = Self(0xC000_01A1);
    /// `STATUS_DEVICE_BUSY` (warning class: not a success)
    pub const DEVICE_BUSY: Self = Self(0x8000_0011);
    /// `STATUS_REVISION_MISMATCH`
    pub const REVISION_MISMATCH: Self = Self(0xC000_0059);
    /// `STATUS_NOT_SUPPORTED`
    pub const NOT_SUPPORTED: Self = Self(0xC000_00BB);
    /// `STATUS_ACCESS_DENIED`
    pub const ACCESS_DENIED: Self = Self(0xC000_0022);
    /// `STATUS_INVALID_HANDLE`
    pub const INVALID_HANDLE: Self = Self(0xC000_0008);
    /// `STATUS_FILE_IS_A_DIRECTORY`
    pub const FILE_IS_A_DIRECTORY: Self = Self(0xC000_00BA);
    /// `STATUS_USER_MAPPED_FILE`
    pub const USER_MAPPED_FILE: Self = Self(0xC000_0243);
    /// `STATUS_PURGE_FAILED`
    pub const PURGE_FAILED: Self = Self(0xC000_0435);
    /// `STATUS_SHARING_VIOLATION`
    pub const SHARING_VIOLATION: Self = Self(0xC000_0043);
    /// `STATUS_OPLOCK_BREAK_IN_PROGRESS` (success class)
    pub const OPLOCK_BREAK_IN_PROGRESS: Self = Self(0x0000_0108);
    /// `STATUS_FLT_DO_NOT_DETACH`
    pub const FLT_DO_NOT_DETACH: Self = Self(0xC01C_0010);
    /// `STATUS_FLT_DO_NOT_ATTACH`
    pub const FLT_DO_NOT_ATTACH: Self = Self(0xC01C_000F);
    /// `STATUS_OBJECT_NAME_NOT_FOUND`
    pub const OBJECT_NAME_NOT_FOUND: Self = Self(0xC000_0034);
    /// `STATUS_OBJECT_NAME_COLLISION`
    pub const OBJECT_NAME_COLLISION: Self = Self(0xC000_0035);
    /// `STATUS_FILE_CLOSED`
    pub const FILE_CLOSED: Self = Self(0xC000_0128);
    /// `STATUS_INTEGER_OVERFLOW`
    pub const INTEGER_OVERFLOW: Self = Self(0xC000_0095);
    /// `STATUS_OPLOCK_NOT_GRANTED`
    pub const OPLOCK_NOT_GRANTED: Self = Self(0xC000_00E2);
    /// `STATUS_INVALID_OPLOCK_PROTOCOL`: an oplock acknowledgment nobody expected.
    pub const INVALID_OPLOCK_PROTOCOL: Self = Self(0xC000_00E3);
    /// `STATUS_CANNOT_BREAK_OPLOCK`: a `FILE_OPEN_REQUIRING_OPLOCK` create that would break one.
    pub const CANNOT_BREAK_OPLOCK: Self = Self(0xC000_0909);
    /// `STATUS_OPLOCK_SWITCHED_TO_NEW_HANDLE` (success class)
    pub const OPLOCK_SWITCHED_TO_NEW_HANDLE: Self = Self(0x0000_0215);
    /// `STATUS_END_OF_FILE`: a read that starts at or after the end of the file.
    pub const END_OF_FILE: Self = Self(0xC000_0011);

    /// `NT_SUCCESS`: success and informational values (severity 0 or 1).
    #[must_use]
    pub const fn is_success(self) -> bool {
        self.0.cast_signed() >= 0
    }

    /// The value as the signed `NTSTATUS` the kernel headers declare.
    #[must_use]
    pub const fn as_i32(self) -> i32 {
        self.0.cast_signed()
    }

    /// From the signed `NTSTATUS` the kernel headers declare.
    #[must_use]
    pub const fn from_i32(value: i32) -> Self {
        Self(value.cast_unsigned())
    }

    /// The symbolic name, when the core knows it.
    #[must_use]
    pub const fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::SUCCESS => "STATUS_SUCCESS",
            Self::PENDING => "STATUS_PENDING",
            Self::REPARSE => "STATUS_REPARSE",
            Self::CANCELLED => "STATUS_CANCELLED",
            Self::UNSUCCESSFUL => "STATUS_UNSUCCESSFUL",
            Self::INVALID_PARAMETER => "STATUS_INVALID_PARAMETER",
            Self::INVALID_DEVICE_REQUEST => "STATUS_INVALID_DEVICE_REQUEST",
            Self::INSUFFICIENT_RESOURCES => "STATUS_INSUFFICIENT_RESOURCES",
            Self::BUFFER_TOO_SMALL => "STATUS_BUFFER_TOO_SMALL",
            Self::BUFFER_OVERFLOW => "STATUS_BUFFER_OVERFLOW",
            Self::NOT_FOUND => "STATUS_NOT_FOUND",
            Self::INVALID_DEVICE_STATE => "STATUS_INVALID_DEVICE_STATE",
            Self::DEVICE_REMOVED => "STATUS_DEVICE_REMOVED",
            Self::DELETE_PENDING => "STATUS_DELETE_PENDING",
            Self::CANNOT_DELETE => "STATUS_CANNOT_DELETE",
            Self::LOCK_NOT_GRANTED => "STATUS_LOCK_NOT_GRANTED",
            Self::FILE_LOCK_CONFLICT => "STATUS_FILE_LOCK_CONFLICT",
            Self::RANGE_NOT_LOCKED => "STATUS_RANGE_NOT_LOCKED",
            Self::INVALID_LOCK_RANGE => "STATUS_INVALID_LOCK_RANGE",
            Self::DEVICE_BUSY => "STATUS_DEVICE_BUSY",
            Self::REVISION_MISMATCH => "STATUS_REVISION_MISMATCH",
            Self::NOT_SUPPORTED => "STATUS_NOT_SUPPORTED",
            Self::ACCESS_DENIED => "STATUS_ACCESS_DENIED",
            Self::INVALID_HANDLE => "STATUS_INVALID_HANDLE",
            Self::FILE_IS_A_DIRECTORY => "STATUS_FILE_IS_A_DIRECTORY",
            Self::USER_MAPPED_FILE => "STATUS_USER_MAPPED_FILE",
            Self::PURGE_FAILED => "STATUS_PURGE_FAILED",
            Self::SHARING_VIOLATION => "STATUS_SHARING_VIOLATION",
            Self::OPLOCK_BREAK_IN_PROGRESS => "STATUS_OPLOCK_BREAK_IN_PROGRESS",
            Self::FLT_DO_NOT_DETACH => "STATUS_FLT_DO_NOT_DETACH",
            Self::FLT_DO_NOT_ATTACH => "STATUS_FLT_DO_NOT_ATTACH",
            Self::OBJECT_NAME_NOT_FOUND => "STATUS_OBJECT_NAME_NOT_FOUND",
            Self::OBJECT_NAME_COLLISION => "STATUS_OBJECT_NAME_COLLISION",
            Self::FILE_CLOSED => "STATUS_FILE_CLOSED",
            Self::INTEGER_OVERFLOW => "STATUS_INTEGER_OVERFLOW",
            Self::OPLOCK_NOT_GRANTED => "STATUS_OPLOCK_NOT_GRANTED",
            Self::INVALID_OPLOCK_PROTOCOL => "STATUS_INVALID_OPLOCK_PROTOCOL",
            Self::CANNOT_BREAK_OPLOCK => "STATUS_CANNOT_BREAK_OPLOCK",
            Self::OPLOCK_SWITCHED_TO_NEW_HANDLE => "STATUS_OPLOCK_SWITCHED_TO_NEW_HANDLE",
            Self::END_OF_FILE => "STATUS_END_OF_FILE",
            _ => return None,
        })
    }
}

impl fmt::Debug for NtStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} (0x{:08X})", self.0),
            None => write!(f, "0x{:08X}", self.0),
        }
    }
}

impl fmt::Display for NtStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:08X}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::NtStatus;

    #[test]
    fn success_classes_follow_nt_success() {
        assert!(NtStatus::SUCCESS.is_success());
        assert!(NtStatus::PENDING.is_success());
        assert!(NtStatus::OPLOCK_BREAK_IN_PROGRESS.is_success());
        assert!(!NtStatus::BUFFER_OVERFLOW.is_success());
        assert!(!NtStatus::CANCELLED.is_success());
        assert_eq!(
            NtStatus::from_i32(NtStatus::PURGE_FAILED.as_i32()),
            NtStatus::PURGE_FAILED
        );
    }

    #[test]
    fn formats_as_hex_with_name() {
        extern crate alloc;
        use alloc::format;
        assert_eq!(format!("{}", NtStatus::USER_MAPPED_FILE), "0xC0000243");
        assert_eq!(
            format!("{:?}", NtStatus::CANCELLED),
            "STATUS_CANCELLED (0xC0000120)"
        );
        assert_eq!(format!("{:?}", NtStatus(0xC0DE_0001)), "0xC0DE0001");
    }
}
