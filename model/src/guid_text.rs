//! The `8-4-4-4-12` text form of a GUID, read: what users type (scenario files, `ferroctl`
//! arguments). Printing stays with the type in core; reading is total, every string parses or
//! names its fault.

use core::fmt;

use ferrofilter_core::guid::Guid;

/// Characters in the `8-4-4-4-12` form without braces.
const TEXT_LEN: usize = 36;

/// Positions of the dashes in the `8-4-4-4-12` form.
const DASHES: [usize; 4] = [8, 13, 18, 23];

/// Parses `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, optionally in braces, in either case.
///
/// # Errors
/// A [`GuidParseError`] naming the first fault.
pub fn parse_guid(text: &str) -> Result<Guid, GuidParseError> {
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
    Ok(Guid {
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

impl std::error::Error for GuidParseError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// ntifs.h's `GUID_ECP_OPLOCK_KEY`, {48850596-3050-4be7-9863-fec350ce8d7f}.
    const SAMPLE: Guid = ferrofilter_core::ecp::GUID_ECP_OPLOCK_KEY;

    #[test]
    fn text_form_round_trips() {
        assert_eq!(
            parse_guid("48850596-3050-4be7-9863-fec350ce8d7f"),
            Ok(SAMPLE)
        );
        assert_eq!(
            parse_guid("{48850596-3050-4BE7-9863-FEC350CE8D7F}"),
            Ok(SAMPLE)
        );
        assert_eq!(parse_guid(&SAMPLE.to_string()), Ok(SAMPLE));
        assert_eq!(parse_guid(&Guid::NIL.to_string()), Ok(Guid::NIL));
    }

    #[test]
    fn each_parse_fault_is_named() {
        assert_eq!(
            parse_guid("48850596-3050-4be7-9863-fec350ce8d7"),
            Err(GuidParseError::BadLength { len: 35 })
        );
        assert_eq!(
            parse_guid("{48850596-3050-4be7-9863-fec350ce8d7f"),
            Err(GuidParseError::UnbalancedBrace)
        );
        assert_eq!(
            parse_guid("48850596-3050-4be7-9863-fec350ce8d7f}"),
            Err(GuidParseError::UnbalancedBrace)
        );
        assert_eq!(
            parse_guid("48850596x3050-4be7-9863-fec350ce8d7f"),
            Err(GuidParseError::ExpectedDash { at: 8 })
        );
        assert_eq!(
            parse_guid("{48850596-3050-4be7-9863-fec350ce8d7g}"),
            Err(GuidParseError::BadHexDigit { at: 36 })
        );
        assert_eq!(parse_guid(""), Err(GuidParseError::BadLength { len: 0 }));
        assert_eq!(parse_guid("{}"), Err(GuidParseError::BadLength { len: 2 }));
        // A multi-byte character must not be sliced mid-way.
        assert!(parse_guid("48850596-3050-4be7-9863-fec350ce8dé").is_err());
    }
}
