//! Constant `UNICODE_STRING`s for the names the driver passes to the kernel, built at compile time
//! from core's ASCII `&str` constants.
//!
//! Unverified here: never compiled for the kernel.

use wdk_sys::{PCUNICODE_STRING, UNICODE_STRING, USHORT};

use crate::wdf::Shared;

/// `text` as UTF-16 code units. `text` must be ASCII and exactly `N` bytes long.
#[allow(
    clippy::cast_lossless,
    reason = "u16::from is not callable in a const fn; u8 to u16 is lossless"
)]
pub const fn ascii_utf16<const N: usize>(text: &str) -> [u16; N] {
    let bytes = text.as_bytes();
    assert!(bytes.len() == N, "length mismatch");
    let mut units = [0u16; N];
    let mut index = 0;
    while index < N {
        assert!(bytes[index].is_ascii(), "not ASCII");
        units[index] = bytes[index] as u16;
        index += 1;
    }
    units
}

/// Byte length of `N` UTF-16 code units, as `UNICODE_STRING` counts it.
#[allow(
    clippy::cast_possible_truncation,
    reason = "the assertion proves the length fits in a USHORT"
)]
pub const fn byte_length<const N: usize>() -> USHORT {
    assert!(
        N * 2 <= USHORT::MAX as usize,
        "name too long for a UNICODE_STRING"
    );
    (N * 2) as USHORT
}

/// A `UNICODE_STRING` over a `'static` UTF-16 buffer. The kernel never writes through `Buffer`.
pub type StaticUnicode = Shared<UNICODE_STRING>;

impl StaticUnicode {
    /// A `UNICODE_STRING` describing all of `units` (not NUL-terminated; not needed).
    pub const fn over<const N: usize>(units: &'static [u16; N]) -> Self {
        Shared(UNICODE_STRING {
            Length: byte_length::<N>(),
            MaximumLength: byte_length::<N>(),
            Buffer: units.as_ptr().cast_mut(),
        })
    }

    /// The `PCUNICODE_STRING` kernel calls take.
    pub const fn as_ptr(&'static self) -> PCUNICODE_STRING {
        &raw const self.0
    }
}

/// Declares a `static` UTF-16 copy of an ASCII `&str` constant and a [`StaticUnicode`] over it.
macro_rules! static_unicode {
    ($units:ident, $string:ident, $text:expr) => {
        static $units: [u16; $text.len()] = $crate::unicode::ascii_utf16::<{ $text.len() }>($text);
        static $string: $crate::unicode::StaticUnicode =
            $crate::unicode::StaticUnicode::over(&$units);
    };
}
pub(crate) use static_unicode;
