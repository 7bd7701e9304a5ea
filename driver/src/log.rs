//! Debug output through `DbgPrintEx`, under the IHV driver component so `WinDbg` users can filter it:
//! `ed nt!Kd_IHVDRIVER_Mask 0xF` shows every level, `0x1` errors and warnings only
//! (`DPFLTR_ERROR_LEVEL` is always shown). Messages are prefixed `ferrofilter:` and truncated to
//! one 512-byte line; formatting never allocates.
//!
//! Unverified here: the output has not been seen in a debugger.

use core::ffi::CStr;
use core::fmt::{self, Write};

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
    let mut line = Line::<512>::new();
    // A message too long for the buffer is cut short; that is all an error here can mean.
    let _ = line.write_fmt(format_args!("ferrofilter: {args}\n"));
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

/// A NUL-terminated line of at most `N - 1` bytes, filled by `write!`; what does not fit is cut
/// (at a character boundary, so the line stays UTF-8) and reported as `fmt::Error`.
struct Line<const N: usize> {
    bytes: [u8; N],
    used: usize,
}

impl<const N: usize> Line<N> {
    const fn new() -> Self {
        const { assert!(N >= 1, "room for the NUL terminator") };
        Self {
            bytes: [0; N],
            used: 0,
        }
    }

    /// The text written so far, with its terminator.
    fn as_c_str(&self) -> &CStr {
        // The bytes after `used` are all NUL and `used < N`, so the terminator is at `used`, and
        // `write_str` never copies a NUL in: the first NUL ends exactly the text written.
        CStr::from_bytes_until_nul(&self.bytes).unwrap_or(c"")
    }
}

impl<const N: usize> Write for Line<N> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let room = N - 1 - self.used;
        let mut take = text.len().min(room);
        while !text.is_char_boundary(take) {
            take -= 1;
        }
        // An interior NUL would end the line early in DbgPrintEx; it is written as '?'.
        for (slot, byte) in self.bytes[self.used..self.used + take]
            .iter_mut()
            .zip(text.bytes())
        {
            *slot = if byte == 0 { b'?' } else { byte };
        }
        self.used += take;
        if take == text.len() {
            Ok(())
        } else {
            Err(fmt::Error)
        }
    }
}

/// `log!(Error, "...", args)`: prints at the named [`Level`].
macro_rules! log {
    ($level:ident, $($arg:tt)*) => {
        $crate::log::write($crate::log::Level::$level, format_args!($($arg)*))
    };
}
