//! The Windows `GUID`: layout, byte encoding, and the `8-4-4-4-12` text form.
//!
//! In memory a `GUID` is `{ ULONG Data1; USHORT Data2; USHORT Data3; UCHAR Data4[8]; }` (guiddef.h),
//! so the first three fields are little-endian on every platform Windows runs on, while `Data4` is a
//! plain byte array. The text form `48850596-3050-4be7-9863-fec350ce8d7f` prints `Data1`, `Data2`,
//! `Data3` as numbers and `Data4` as bytes, so it is *not* the byte order of the 16-byte encoding.
//! Both directions are total: every 16 bytes are a `Guid`, every string parses or names its fault.

use core::fmt;
use core::str::FromStr;

/// A Windows `GUID` (guiddef.h layout).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Guid {
    /// `Data1`.
    pub data1: u32,
    /// `Data2`.
    pub data2: u16,
    /// `Data3`.
    pub data3: u16,
    /// `Data4`.
    pub data4: [u8; 8],
}

/// Bytes in the encoding of a `GUID`.
pub const GUID_SIZE: usize = 16;

/// Characters in the `8-4-4-4-12` form without braces.
const TEXT_LEN: usize = 36;

/// Positions of the dashes in the `8-4-4-4-12` form.
const DASHES: [usize; 4] = [8, 13, 18, 23];

impl Guid {
    /// The all-zero GUID (`GUID_NULL`).
    pub const NIL: Self = Self::from_fields(0, 0, 0, [0; 8]);

    /// From the four fields, in the order the headers' `DEFINE_GUID` lists them.
    #[must_use]
    pub const fn from_fields(data1: u32, data2: u16, data3: u16, data4: [u8; 8]) -> Self {
        Self {
            data1,
            data2,
            data3,
            data4,
        }
    }

    /// From the 16 bytes a `GUID` occupies in memory on Windows.
    #[must_use]
    pub const fn from_le_bytes(b: [u8; GUID_SIZE]) -> Self {
        Self {
            data1: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            data2: u16::from_le_bytes([b[4], b[5]]),
            data3: u16::from_le_bytes([b[6], b[7]]),
            data4: [b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]],
        }
    }

    /// The 16 bytes this `GUID` occupies in memory on Windows.
    #[must_use]
    pub const fn to_le_bytes(self) -> [u8; GUID_SIZE] {
        let d1 = self.data1.to_le_bytes();
        let d2 = self.data2.to_le_bytes();
        let d3 = self.data3.to_le_bytes();
        let d4 = self.data4;
        [
            d1[0], d1[1], d1[2], d1[3], d2[0], d2[1], d3[0], d3[1], d4[0], d4[1], d4[2], d4[3],
            d4[4], d4[5], d4[6], d4[7],
        ]
    }

    /// Reads a `GUID` from the front of `buf`; `None` when fewer than 16 bytes are given.
    #[must_use]
    pub fn read_from_prefix(buf: &[u8]) -> Option<Self> {
        let bytes: [u8; GUID_SIZE] = buf.get(..GUID_SIZE)?.try_into().ok()?;
        Some(Self::from_le_bytes(bytes))
    }

    /// `true` for [`Guid::NIL`].
    #[must_use]
    pub const fn is_nil(self) -> bool {
        self.data1 == 0 && self.data2 == 0 && self.data3 == 0 && u64::from_le_bytes(self.data4) == 0
    }

    /// Parses `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, optionally in braces, in either case.
    ///
    /// # Errors
    /// A [`GuidParseError`] naming the first fault.
    pub fn parse(text: &str) -> Result<Self, GuidParseError> {
        let bytes = text.as_bytes();
        // Braces are all-or-nothing: "{...}" is the registry form, a lone brace is a typo.
        let (inner, offset) = match (bytes.first(), bytes.last()) {
            (Some(b'{'), Some(b'}')) if bytes.len() >= 2 => (&bytes[1..bytes.len() - 1], 1),
            (Some(b'{'), _) | (_, Some(b'}')) => return Err(GuidParseError::UnbalancedBrace),
            _ => (bytes, 0),
        };
        if inner.len() != TEXT_LEN {
            return Err(GuidParseError::BadLength { len: text.len() });
        }
        let mut digits = [0u8; 32];
        let mut n = 0;
        for (i, &c) in inner.iter().enumerate() {
            if DASHES.contains(&i) {
                if c != b'-' {
                    return Err(GuidParseError::ExpectedDash { at: i + offset });
                }
                continue;
            }
            let value = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => return Err(GuidParseError::BadHexDigit { at: i + offset }),
            };
            // 36 characters minus 4 dashes is exactly 32 digits, so `n` stays in range.
            if let Some(slot) = digits.get_mut(n) {
                *slot = value;
            }
            n += 1;
        }
        let nibbles = |from: usize, count: usize| -> u64 {
            digits
                .iter()
                .skip(from)
                .take(count)
                .fold(0u64, |acc, &d| (acc << 4) | u64::from(d))
        };
        let byte = |k: usize| -> u8 { ((nibbles(16 + 2 * k, 2)) & 0xFF) as u8 };
        Ok(Self {
            data1: (nibbles(0, 8) & 0xFFFF_FFFF) as u32,
            data2: (nibbles(8, 4) & 0xFFFF) as u16,
            data3: (nibbles(12, 4) & 0xFFFF) as u16,
            data4: [
                byte(0),
                byte(1),
                byte(2),
                byte(3),
                byte(4),
                byte(5),
                byte(6),
                byte(7),
            ],
        })
    }
}

/// Why a string is not a GUID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuidParseError {
    /// Not 36 characters (38 with braces).
    BadLength {
        /// Length of the whole input, in bytes.
        len: usize,
    },
    /// An opening brace without a closing one, or the reverse.
    UnbalancedBrace,
    /// A dash was expected at this byte offset.
    ExpectedDash {
        /// Byte offset in the input.
        at: usize,
    },
    /// Not a hexadecimal digit at this byte offset.
    BadHexDigit {
        /// Byte offset in the input.
        at: usize,
    },
}

impl fmt::Display for GuidParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadLength { len } => {
                write!(f, "a GUID has 36 characters (38 in braces), not {len}")
            }
            Self::UnbalancedBrace => f.write_str("unbalanced brace around a GUID"),
            Self::ExpectedDash { at } => write!(f, "expected '-' at offset {at}"),
            Self::BadHexDigit { at } => write!(f, "not a hexadecimal digit at offset {at}"),
        }
    }
}

impl FromStr for Guid {
    type Err = GuidParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.data4;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            self.data1, self.data2, self.data3, d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]
        )
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{self}}}")
    }
}

#[cfg(test)]
mod tests {
    extern crate alloc;
    use alloc::string::ToString;

    use super::*;

    const SAMPLE: Guid = Guid::from_fields(
        0x4885_0596,
        0x3050,
        0x4be7,
        [0x98, 0x63, 0xfe, 0xc3, 0x50, 0xce, 0x8d, 0x7f],
    );

    #[test]
    fn memory_layout_is_little_endian_fields_then_bytes() {
        let bytes = SAMPLE.to_le_bytes();
        assert_eq!(
            bytes,
            [
                0x96, 0x05, 0x85, 0x48, 0x50, 0x30, 0xe7, 0x4b, 0x98, 0x63, 0xfe, 0xc3, 0x50, 0xce,
                0x8d, 0x7f
            ]
        );
        assert_eq!(Guid::from_le_bytes(bytes), SAMPLE);
        assert_eq!(Guid::read_from_prefix(&bytes[..15]), None);
        assert_eq!(
            Guid::read_from_prefix(&[bytes, bytes].concat()),
            Some(SAMPLE)
        );
    }

    #[test]
    fn text_form_round_trips() {
        assert_eq!(SAMPLE.to_string(), "48850596-3050-4be7-9863-fec350ce8d7f");
        assert_eq!(
            alloc::format!("{SAMPLE:?}"),
            "{48850596-3050-4be7-9863-fec350ce8d7f}"
        );
        assert_eq!(
            Guid::parse("48850596-3050-4be7-9863-fec350ce8d7f"),
            Ok(SAMPLE)
        );
        assert_eq!(
            "{48850596-3050-4BE7-9863-FEC350CE8D7F}".parse::<Guid>(),
            Ok(SAMPLE)
        );
        assert_eq!(Guid::parse(&Guid::NIL.to_string()), Ok(Guid::NIL));
        assert!(Guid::NIL.is_nil());
        assert!(!SAMPLE.is_nil());
    }

    #[test]
    fn each_parse_fault_is_named() {
        assert_eq!(
            Guid::parse("48850596-3050-4be7-9863-fec350ce8d7"),
            Err(GuidParseError::BadLength { len: 35 })
        );
        assert_eq!(
            Guid::parse("{48850596-3050-4be7-9863-fec350ce8d7f"),
            Err(GuidParseError::UnbalancedBrace)
        );
        assert_eq!(
            Guid::parse("48850596-3050-4be7-9863-fec350ce8d7f}"),
            Err(GuidParseError::UnbalancedBrace)
        );
        assert_eq!(
            Guid::parse("48850596x3050-4be7-9863-fec350ce8d7f"),
            Err(GuidParseError::ExpectedDash { at: 8 })
        );
        assert_eq!(
            Guid::parse("{48850596-3050-4be7-9863-fec350ce8d7g}"),
            Err(GuidParseError::BadHexDigit { at: 36 })
        );
        assert_eq!(Guid::parse(""), Err(GuidParseError::BadLength { len: 0 }));
        assert_eq!(Guid::parse("{}"), Err(GuidParseError::BadLength { len: 2 }));
        // A multi-byte character must not be sliced mid-way.
        assert!(Guid::parse("48850596-3050-4be7-9863-fec350ce8dé").is_err());
    }
}
