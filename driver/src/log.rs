//! Debug output through `DbgPrintEx`, under the IHV driver component so `WinDbg` users can filter it:
//! `ed nt!Kd_IHVDRIVER_Mask 0xF` shows every level, `0x1` errors and warnings only
//! (`DPFLTR_ERROR_LEVEL` is always shown). Messages are prefixed `ferrofilter:` and truncated to
//! one 512-byte line; formatting never allocates.
//!
//! Unverified here: the output has not been seen in a debugger.

use core::fmt::{self, Write};

use wdk::fmt::FormatBuffer;
use wdk_sys::ULONG;
use wdk_sys::ntddk::DbgPrintEx;

use crate::constants::{
    DPFLTR_ERROR_LEVEL, DPFLTR_IHVDRIVER_ID, DPFLTR_INFO_LEVEL, DPFLTR_TRACE_LEVEL,
    DPFLTR_WARNING_LEVEL,
};

/// A `DbgPrintEx` importance level (dpfilter.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// `DPFLTR_ERROR_LEVEL` (0).
    Error,
    /// `DPFLTR_WARNING_LEVEL` (1).
    Warning,
    /// `DPFLTR_TRACE_LEVEL` (2).
    Trace,
    /// `DPFLTR_INFO_LEVEL` (3).
    Info,
}

impl Level {
    const fn dpfltr(self) -> ULONG {
        match self {
            Self::Error => DPFLTR_ERROR_LEVEL,
            Self::Warning => DPFLTR_WARNING_LEVEL,
            Self::Trace => DPFLTR_TRACE_LEVEL,
            Self::Info => DPFLTR_INFO_LEVEL,
        }
    }
}

/// Formats `args` into a stack buffer and prints it. Callable at IRQL <= `DISPATCH_LEVEL`.
pub fn write(level: Level, args: fmt::Arguments<'_>) {
    let mut line = FormatBuffer::<512>::new();
    // A message too long for the buffer is cut short; that is all an error here can mean.
    let _ = line.write_str("ferrofilter: ");
    let _ = line.write_fmt(args);
    let _ = line.write_str("\n");
    // SAFETY: the format is a NUL-terminated "%s" and its one argument is `line`'s NUL-terminated
    // contents, which outlive the call; DbgPrintEx reads both and keeps neither.
    unsafe {
        DbgPrintEx(
            DPFLTR_IHVDRIVER_ID,
            level.dpfltr(),
            c"%s".as_ptr(),
            line.as_c_str().as_ptr(),
        );
    }
}

/// `log!(Error, "...", args)`: prints at the named [`Level`].
macro_rules! log {
    ($level:ident, $($arg:tt)*) => {
        $crate::log::write($crate::log::Level::$level, format_args!($($arg)*))
    };
}
