//! The Windows `GUID`: layout, byte encoding, and the `8-4-4-4-12` text form.
//!
//! In memory a `GUID` is `{ ULONG Data1; USHORT Data2; USHORT Data3; UCHAR Data4[8]; }` (guiddef.h),
//! so the first three fields are little-endian on every platform Windows runs on, while `Data4` is a
//! plain byte array. The text form `48850596-3050-4be7-9863-fec350ce8d7f` prints `Data1`, `Data2`,
//! `Data3` as numbers and `Data4` as bytes, so it is *not* the byte order of the 16-byte encoding.
//! Every 16 bytes are a `Guid`. Parsing the text form is not the driver's business: it lives in
//! `ferrofilter-model`'s `guid_text`.

use core::fmt;

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
    fn text_form_is_data1_data2_data3_then_bytes() {
        assert_eq!(SAMPLE.to_string(), "48850596-3050-4be7-9863-fec350ce8d7f");
        assert_eq!(
            alloc::format!("{SAMPLE:?}"),
            "{48850596-3050-4be7-9863-fec350ce8d7f}"
        );
        assert_eq!(
            Guid::NIL.to_string(),
            "00000000-0000-0000-0000-000000000000"
        );
        assert!(Guid::NIL.is_nil());
        assert!(!SAMPLE.is_nil());
    }
}
