//! fastfat's validation of `FSCTL_SET_PURGE_FAILURE_MODE` (fsctrl.c, `FatSetPurgeFailureMode`),
//! in its order: the file system below the filter refuses with these statuses before it counts.
//! The driver never validates the FSCTL itself (it mirrors what the file system did), so this is
//! the sim's file system's, not core's.

use ferrofilter_core::NtStatus;
use ferrofilter_core::purge::{PurgeModeChange, decode_purge_mode_input};

/// `Irp->RequestorMode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestorMode {
    /// `KernelMode`.
    Kernel,
    /// `UserMode`.
    User,
}

/// What the FSCTL was sent on (fastfat's `TYPE_OF_OPEN`, reduced to what the check needs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpenKind {
    /// `UserFileOpen`.
    UserFile,
    /// `UserDirectoryOpen`.
    UserDirectory,
    /// A volume open, or anything else.
    Other,
}

/// Validates an `FSCTL_SET_PURGE_FAILURE_MODE` in exactly fastfat's order.
///
/// # Errors
/// The status fastfat completes the request with; see the module documentation.
pub fn validate_set_purge_failure_mode(
    requestor: RequestorMode,
    open: OpenKind,
    input: &[u8],
) -> Result<PurgeModeChange, NtStatus> {
    if requestor != RequestorMode::Kernel {
        // Why: a user request must not be able to change the count (fastfat's comment).
        return Err(NtStatus::INVALID_PARAMETER);
    }
    match open {
        OpenKind::UserDirectory => return Err(NtStatus::FILE_IS_A_DIRECTORY),
        OpenKind::Other => return Err(NtStatus::INVALID_PARAMETER),
        OpenKind::UserFile => {}
    }
    decode_purge_mode_input(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENABLE: [u8; 4] = 1u32.to_le_bytes();
    const DISABLE: [u8; 4] = 2u32.to_le_bytes();

    #[test]
    fn validation_follows_fastfat_order() {
        use OpenKind::{Other, UserDirectory, UserFile};
        use RequestorMode::{Kernel, User};
        // Each check wins over every later one.
        assert_eq!(
            validate_set_purge_failure_mode(User, UserDirectory, &[]),
            Err(NtStatus::INVALID_PARAMETER)
        );
        assert_eq!(
            validate_set_purge_failure_mode(Kernel, UserDirectory, &[]),
            Err(NtStatus::FILE_IS_A_DIRECTORY)
        );
        assert_eq!(
            validate_set_purge_failure_mode(Kernel, Other, &[]),
            Err(NtStatus::INVALID_PARAMETER)
        );
        assert_eq!(
            validate_set_purge_failure_mode(Kernel, UserFile, &ENABLE[..3]),
            Err(NtStatus::BUFFER_TOO_SMALL)
        );
        assert_eq!(
            validate_set_purge_failure_mode(Kernel, UserFile, &[0, 0, 0, 0]),
            Err(NtStatus::INVALID_PARAMETER)
        );
        assert_eq!(
            validate_set_purge_failure_mode(Kernel, UserFile, &4u32.to_le_bytes()),
            Err(NtStatus::INVALID_PARAMETER)
        );
        assert_eq!(
            validate_set_purge_failure_mode(Kernel, UserFile, &ENABLE),
            Ok(PurgeModeChange::Enable)
        );
        assert_eq!(
            validate_set_purge_failure_mode(Kernel, UserFile, &DISABLE),
            Ok(PurgeModeChange::Disable)
        );
        // Both flags: ENABLED wins, as in fastfat's if / else. Extra bits and bytes are ignored.
        assert_eq!(
            validate_set_purge_failure_mode(Kernel, UserFile, &3u32.to_le_bytes()),
            Ok(PurgeModeChange::Enable)
        );
        assert_eq!(
            validate_set_purge_failure_mode(Kernel, UserFile, &[2, 0, 0, 0x80, 0xFF]),
            Ok(PurgeModeChange::Disable)
        );
    }
}
