//! The value types steps are written with: numbers in decimal or hex, names, GUIDs, hex bytes,
//! flag masks by name, and the enumerations of levels, dispositions, modes and classes.

use std::fmt;
use std::marker::PhantomData;

use ferrofilter_core::guid::Guid;
use ferrofilter_core::purge::{SET_PURGE_FAILURE_MODE_DISABLED, SET_PURGE_FAILURE_MODE_ENABLED};
use ferrofilter_model::fastfat::RequestorMode;
use ferrofilter_model::guid_text::parse_guid;
use ferrofilter_model::oplock::{CreateDisposition, OplockLevel, access, share};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::fs::{BreakAction, StreamKind};

/// A number: a JSON number or a `"0x.."` hex string, that fits in `T`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Num<T>(pub T);

impl<'de, T: TryFrom<u64>> Deserialize<'de> for Num<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NumVisitor<T>(PhantomData<T>);
        impl<T: TryFrom<u64>> Visitor<'_> for NumVisitor<T> {
            type Value = Num<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or \"0x..\"")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
                T::try_from(n).map(Num).map_err(|_| {
                    E::custom(format!(
                        "{n} does not fit in {} bits",
                        8 * std::mem::size_of::<T>()
                    ))
                })
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
                let n = u64::try_from(n).map_err(|_| E::custom("cannot be negative"))?;
                self.visit_u64(n)
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                let n = parse_number_text(text).ok_or_else(|| {
                    E::custom(format!("expected a number or \"0x..\", got \"{text}\""))
                })?;
                self.visit_u64(n)
            }
        }
        deserializer.deserialize_any(NumVisitor(PhantomData))
    }
}

/// `"0x.."` (or `"0X.."`) as a number.
fn parse_number_text(text: &str) -> Option<u64> {
    let hex = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))?;
    u64::from_str_radix(hex, 16).ok()
}

/// A scenario number: a JSON number or a `0x` hex string.
#[must_use]
pub fn parse_number(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => parse_number_text(s),
        _ => None,
    }
}

/// A handle or owner name: any non-empty string.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Name(pub String);

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.is_empty() {
            return Err(de::Error::custom("a name cannot be empty"));
        }
        Ok(Self(text))
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// A GUID in text, `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, braces optional.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuidText(pub Guid);

impl<'de> Deserialize<'de> for GuidText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_guid(&text).map(Self).map_err(de::Error::custom)
    }
}

/// Bytes written as hex digits (whitespace ignored).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hex(pub Vec<u8>);

impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        if !clean.len().is_multiple_of(2) {
            return Err(de::Error::custom("hex needs an even number of digits"));
        }
        (0..clean.len())
            .step_by(2)
            .map(|i| {
                clean
                    .get(i..i + 2)
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                    .ok_or_else(|| de::Error::custom(format!("not hex at digit {i}")))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

/// The names a [`Mask`] accepts.
pub trait MaskNames {
    /// Name and bits, in the order the docs list them.
    const NAMES: &'static [(&'static str, u32)];
}

/// Access names, `FILE_*` style in lower case without the prefix.
pub const ACCESS_NAMES: [(&str, u32); 12] = [
    ("read_data", access::FILE_READ_DATA),
    ("write_data", access::FILE_WRITE_DATA),
    ("append_data", access::FILE_APPEND_DATA),
    ("read_ea", access::FILE_READ_EA),
    ("write_ea", access::FILE_WRITE_EA),
    ("execute", access::FILE_EXECUTE),
    ("read_attributes", access::FILE_READ_ATTRIBUTES),
    ("write_attributes", access::FILE_WRITE_ATTRIBUTES),
    ("delete", access::DELETE),
    ("read_control", access::READ_CONTROL),
    ("synchronize", access::SYNCHRONIZE),
    ("none", 0),
];

/// Share-mode names.
pub const SHARE_NAMES: [(&str, u32); 5] = [
    ("read", share::FILE_SHARE_READ),
    ("write", share::FILE_SHARE_WRITE),
    ("delete", share::FILE_SHARE_DELETE),
    ("all", share::FILE_SHARE_ALL),
    ("none", 0),
];

/// `access`'s names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessNames;
impl MaskNames for AccessNames {
    const NAMES: &'static [(&'static str, u32)] = &ACCESS_NAMES;
}

/// `share`'s names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShareNames;
impl MaskNames for ShareNames {
    const NAMES: &'static [(&'static str, u32)] = &SHARE_NAMES;
}

/// A mask: a number, `"0x.."`, or names joined by `|`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mask<N>(pub u32, PhantomData<N>);

impl<N> Mask<N> {
    /// A mask of these bits.
    #[must_use]
    pub const fn new(bits: u32) -> Self {
        Self(bits, PhantomData)
    }
}

impl<'de, N: MaskNames> Deserialize<'de> for Mask<N> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        if let Some(n) = parse_number(&value) {
            return u32::try_from(n)
                .map(Self::new)
                .map_err(|_| de::Error::custom("does not fit in 32 bits"));
        }
        let Value::String(text) = value else {
            return Err(de::Error::custom(format!(
                "expected a number or names joined by '|', got {value}"
            )));
        };
        let mut mask = 0;
        for name in text.split('|').map(str::trim) {
            let bits = N::NAMES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, b)| *b)
                .ok_or_else(|| {
                    let known: Vec<&str> = N::NAMES.iter().map(|(n, _)| *n).collect();
                    de::Error::custom(format!(
                        "unknown name `{name}` (known: {})",
                        known.join(", ")
                    ))
                })?;
            mask |= bits;
        }
        Ok(Self::new(mask))
    }
}

/// An oplock level as a scenario writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum Level {
    /// R.
    #[serde(rename = "R", alias = "r")]
    Read,
    /// RH.
    #[serde(rename = "RH", alias = "rh")]
    ReadHandle,
    /// RW.
    #[serde(rename = "RW", alias = "rw")]
    ReadWrite,
    /// RWH.
    #[serde(rename = "RWH", alias = "rwh")]
    ReadWriteHandle,
    /// Legacy level 1.
    #[serde(rename = "level1")]
    Level1,
    /// Legacy batch.
    #[serde(rename = "batch")]
    Batch,
    /// Legacy level 2.
    #[serde(rename = "level2")]
    Level2,
}

impl Level {
    /// The oplock package's level.
    #[must_use]
    pub const fn oplock(self) -> OplockLevel {
        match self {
            Self::Read => OplockLevel::Read,
            Self::ReadHandle => OplockLevel::ReadHandle,
            Self::ReadWrite => OplockLevel::ReadWrite,
            Self::ReadWriteHandle => OplockLevel::ReadWriteHandle,
            Self::Level1 => OplockLevel::Level1,
            Self::Batch => OplockLevel::Batch,
            Self::Level2 => OplockLevel::Level2,
        }
    }
}

/// What a holder does when its oplock breaks with an acknowledgement required.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnBreak {
    /// Acknowledge to the new level, keeping the handle.
    #[default]
    Acknowledge,
    /// Close the handle.
    Close,
    /// Do nothing yet: the break stays outstanding until an `ack` or a `close`.
    Wait,
}

impl OnBreak {
    /// The sim's holder behaviour.
    #[must_use]
    pub const fn action(self) -> BreakAction {
        match self {
            Self::Acknowledge => BreakAction::Acknowledge,
            Self::Close => BreakAction::Close,
            Self::Wait => BreakAction::Wait,
        }
    }
}

/// The level an `ack` acknowledges a break to: an oplock level or `none`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum AckLevel {
    /// No oplock: the holder gives it up.
    #[serde(rename = "none")]
    None,
    /// This level.
    #[serde(untagged)]
    Level(Level),
}

impl AckLevel {
    /// The oplock package's level.
    #[must_use]
    pub const fn oplock(self) -> OplockLevel {
        match self {
            Self::None => OplockLevel::None,
            Self::Level(level) => level.oplock(),
        }
    }
}

/// A create disposition.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// `FILE_SUPERSEDE`.
    Supersede,
    /// `FILE_OPEN`.
    Open,
    /// `FILE_CREATE`.
    Create,
    /// `FILE_OPEN_IF`.
    #[default]
    OpenIf,
    /// `FILE_OVERWRITE`.
    Overwrite,
    /// `FILE_OVERWRITE_IF`.
    OverwriteIf,
}

impl Disposition {
    /// The NT disposition.
    #[must_use]
    pub const fn nt(self) -> CreateDisposition {
        match self {
            Self::Supersede => CreateDisposition::Supersede,
            Self::Open => CreateDisposition::Open,
            Self::Create => CreateDisposition::Create,
            Self::OpenIf => CreateDisposition::OpenIf,
            Self::Overwrite => CreateDisposition::Overwrite,
            Self::OverwriteIf => CreateDisposition::OverwriteIf,
        }
    }
}

/// What an `open` opens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A file's data stream.
    #[default]
    File,
    /// A directory.
    Directory,
    /// The volume.
    Volume,
}

impl Kind {
    /// The sim's stream kind.
    #[must_use]
    pub const fn stream(self) -> StreamKind {
        match self {
            Self::File => StreamKind::File,
            Self::Directory => StreamKind::Directory,
            Self::Volume => StreamKind::Volume,
        }
    }
}

/// A write's caching.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteMode {
    /// Through the cache.
    #[default]
    Cached,
    /// Non-cached.
    NonCached,
    /// Paging I/O (`IRP_PAGING_IO`): what the cache manager and memory manager send.
    Paging,
}

/// A `set_information` class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InfoClass {
    /// `FileEndOfFileInformation`.
    #[default]
    EndOfFile,
    /// `FileAllocationInformation`.
    Allocation,
    /// `FileBasicInformation` with every field 0 (nothing changes).
    Basic,
}

impl InfoClass {
    /// The scenario's name for it.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::EndOfFile => "end_of_file",
            Self::Allocation => "allocation",
            Self::Basic => "basic",
        }
    }
}

/// `FSCTL_SET_PURGE_FAILURE_MODE`'s flags: a name or a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PurgeFlags(pub u32);

impl<'de> Deserialize<'de> for PurgeFlags {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let bits = match value.as_str() {
            Some("enable") => SET_PURGE_FAILURE_MODE_ENABLED,
            Some("disable") => SET_PURGE_FAILURE_MODE_DISABLED,
            Some("both") => SET_PURGE_FAILURE_MODE_ENABLED | SET_PURGE_FAILURE_MODE_DISABLED,
            Some("none") => 0,
            _ => match parse_number(&value) {
                Some(n) => {
                    u32::try_from(n).map_err(|_| de::Error::custom("does not fit in 32 bits"))?
                }
                None => {
                    return Err(de::Error::custom(format!(
                        "unknown {value} (enable, disable, both, none, or a number)"
                    )));
                }
            },
        };
        Ok(Self(bits))
    }
}

/// Who sends an FSCTL.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Requestor {
    /// A kernel-mode caller.
    #[default]
    Kernel,
    /// A user-mode caller.
    User,
}

impl Requestor {
    /// The previous mode the file system sees.
    #[must_use]
    pub const fn mode(self) -> RequestorMode {
        match self {
            Self::Kernel => RequestorMode::Kernel,
            Self::User => RequestorMode::User,
        }
    }
}
