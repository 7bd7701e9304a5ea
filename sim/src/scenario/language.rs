//! The scenario language, defined once: [`Step`] is the type of a step, and [`parse`] the one
//! parser. The sim's runner and ferroctl's device runner both interpret the same parsed steps.
//!
//! A step is written `{"op": "open", "handle": "h", ...}`. Serde's internally tagged enums lose
//! the path to a bad field (they buffer the object first), so [`parse`] moves the `op` tag out
//! and deserializes `{"open": {...}}` as an externally tagged [`Step`] with
//! `serde_path_to_error`; the same for an ECP's `type`. Every struct refuses unknown fields.

use std::fmt;
use std::marker::PhantomData;

use ferrofilter_core::ecp::{
    DualOplockKeyEcp, GUID_ECP_DUAL_OPLOCK_KEY, GUID_ECP_OPLOCK_KEY, OplockKeyEcp,
    encode_dual_oplock_key, encode_oplock_key,
};
use ferrofilter_core::guid::Guid;
use ferrofilter_core::purge::{SET_PURGE_FAILURE_MODE_DISABLED, SET_PURGE_FAILURE_MODE_ENABLED};
use ferrofilter_model::fastfat::RequestorMode;
use ferrofilter_model::guid_text::parse_guid;
use ferrofilter_model::oplock::{CreateDisposition, CreateParams, OplockLevel, access, share};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ScenarioError;
use crate::fs::{BreakAction, StreamKind};

/// The largest ECP context a step may give (64 KiB). `FltAllocateExtraCreateParameter` takes a
/// `ULONG` size and documents no smaller cap; this is far past every length the driver accepts
/// (the key ECPs are 20 and 36 bytes) while keeping a scenario's memory small.
pub const MAX_ECP_SIZE: u64 = 64 * 1024;
/// The largest `FSCTL_SET_PURGE_FAILURE_MODE` input a step may give (1 MiB). The I/O manager
/// buffers a `METHOD_BUFFERED` FSCTL's input whatever its `ULONG` length, and fastfat checks only
/// a minimum, so a filter must cope with long inputs; 1 MiB is far past the 4 bytes it reads.
pub const MAX_FSCTL_INPUT: u64 = 1024 * 1024;
/// The most FSCTLs one step sends through the filter, each through the driver's callbacks.
pub const MAX_REPEAT_THROUGH_FILTER: u32 = 65536;

// ---------------------------------------------------------------------------------------------
// Value types

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

// ---------------------------------------------------------------------------------------------
// ECPs

/// An ECP attached to an `open`, written `{"type": "oplock_key", ...}`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Ecp {
    /// `OPLOCK_KEY_ECP_CONTEXT`.
    OplockKey {
        /// The key (default the nil GUID).
        key: Option<GuidText>,
        /// The `Reserved` field, which must be 0.
        #[serde(default)]
        reserved: Num<u32>,
        /// Attached by a user-mode caller.
        #[serde(default)]
        from_user_mode: bool,
        /// Pad with zeros or truncate the context to this many bytes.
        size: Option<Num<u64>>,
    },
    /// `DUAL_OPLOCK_KEY_ECP_CONTEXT`.
    DualOplockKey {
        /// The parent key.
        parent: Option<GuidText>,
        /// The target key.
        target: Option<GuidText>,
        /// `ParentKeySet` (default 1 when `parent` is given).
        parent_set: Option<Num<u8>>,
        /// `TargetKeySet` (default 1 when `target` is given).
        target_set: Option<Num<u8>>,
        /// Attached by a user-mode caller.
        #[serde(default)]
        from_user_mode: bool,
        /// Pad with zeros or truncate the context to this many bytes.
        size: Option<Num<u64>>,
    },
    /// Any bytes under any ECP type.
    Raw {
        /// `oplock_key`, `dual_oplock_key` or a GUID.
        ecp_type: EcpType,
        /// The context.
        hex: Hex,
        /// Attached by a user-mode caller.
        #[serde(default)]
        from_user_mode: bool,
        /// Pad with zeros or truncate the context to this many bytes.
        size: Option<Num<u64>>,
    },
}

/// A raw ECP's type: one of the two key ECPs by name, or any GUID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EcpType(pub Guid);

impl<'de> Deserialize<'de> for EcpType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(Self(match text.as_str() {
            "oplock_key" => GUID_ECP_OPLOCK_KEY,
            "dual_oplock_key" => GUID_ECP_DUAL_OPLOCK_KEY,
            other => parse_guid(other).map_err(de::Error::custom)?,
        }))
    }
}

/// An ECP as the create carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedEcp {
    /// Its type.
    pub ecp_type: Guid,
    /// Attached by a user-mode caller.
    pub from_user_mode: bool,
    /// The context bytes.
    pub context: Vec<u8>,
}

impl Ecp {
    /// The context bytes under their type, as the create carries them.
    #[must_use]
    pub fn encode(&self) -> EncodedEcp {
        let (ecp_type, mut context, from_user_mode, size) = match self {
            Self::OplockKey {
                key,
                reserved,
                from_user_mode,
                size,
            } => {
                let key = key.map_or(Guid::NIL, |k| k.0);
                let mut ctx = encode_oplock_key(OplockKeyEcp { key }).to_vec();
                ctx[16..20].copy_from_slice(&reserved.0.to_le_bytes());
                (GUID_ECP_OPLOCK_KEY, ctx, *from_user_mode, *size)
            }
            Self::DualOplockKey {
                parent,
                target,
                parent_set,
                target_set,
                from_user_mode,
                size,
            } => {
                let mut ctx = encode_dual_oplock_key(DualOplockKeyEcp {
                    parent: parent.map(|g| g.0),
                    target: target.map(|g| g.0),
                })
                .to_vec();
                for (flag, offset) in [(parent_set, 32), (target_set, 33)] {
                    if let Some(byte) = flag {
                        ctx[offset] = byte.0;
                    }
                }
                (GUID_ECP_DUAL_OPLOCK_KEY, ctx, *from_user_mode, *size)
            }
            Self::Raw {
                ecp_type,
                hex,
                from_user_mode,
                size,
            } => (ecp_type.0, hex.0.clone(), *from_user_mode, *size),
        };
        if let Some(size) = size {
            // Checked against MAX_ECP_SIZE when parsed.
            context.resize(usize::try_from(size.0).unwrap_or(0), 0);
        }
        EncodedEcp {
            ecp_type,
            from_user_mode,
            context,
        }
    }

    const fn size(&self) -> Option<Num<u64>> {
        match self {
            Self::OplockKey { size, .. }
            | Self::DualOplockKey { size, .. }
            | Self::Raw { size, .. } => *size,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Steps

const fn default_length() -> Num<u32> {
    Num(16)
}

const fn one() -> Num<u32> {
    Num(1)
}

const fn default_input_size() -> Num<u64> {
    Num(4)
}

const fn yes() -> bool {
    true
}

fn default_data() -> String {
    "x".to_owned()
}

/// An `open`'s fields.
#[allow(
    clippy::struct_excessive_bools,
    reason = "each is one create option of the file format, independent of the others"
)]
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenStep {
    /// The scenario's name for the new handle.
    pub handle: Name,
    /// The stream's path.
    pub path: String,
    /// Desired access (default `read_data`).
    pub access: Option<Mask<AccessNames>>,
    /// Share access (default `all`).
    pub share: Option<Mask<ShareNames>>,
    /// Create disposition.
    #[serde(default)]
    pub disposition: Disposition,
    /// `FILE_RESERVE_OPFILTER`.
    #[serde(default)]
    pub reserve_opfilter: bool,
    /// File, directory or volume.
    #[serde(default)]
    pub kind: Kind,
    /// ECPs on the create.
    #[serde(default)]
    pub ecps: Vec<Ecp>,
    /// Open as `CfOpenFileWithOplock` would, with these `CF_OPEN_FILE_FLAGS`.
    pub cf_flags: Option<Num<u32>>,
    /// What the holder does on a break of the `cf_flags` oplock.
    pub on_break: Option<OnBreak>,
    /// `FILE_DELETE_ON_CLOSE`.
    #[serde(default)]
    pub delete_on_close: bool,
    /// `FILE_OPEN_REQUIRING_OPLOCK`.
    #[serde(default)]
    pub requiring_oplock: bool,
    /// `FILE_COMPLETE_IF_OPLOCKED`.
    #[serde(default)]
    pub complete_if_oplocked: bool,
}

impl OpenStep {
    /// The create's parameters (before any `cf_flags` mapping).
    #[must_use]
    pub fn params(&self) -> CreateParams {
        CreateParams {
            desired_access: self.access.map_or(access::FILE_READ_DATA, |m| m.0),
            share_access: self.share.map_or(share::FILE_SHARE_ALL, |m| m.0),
            disposition: self.disposition.nt(),
            reserve_opfilter: self.reserve_opfilter,
        }
    }
}

/// An `expect`'s fields: `of` and the record fields to match.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ExpectStep {
    /// The label of the step it checks (default the previous step).
    pub of: Option<String>,
    /// Record field → expected value (see `expect::matches`).
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

/// One step of a scenario. The variant names are the ops, in `snake_case`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// A create through the filter.
    Open(OpenStep),
    /// `FSCTL_REQUEST_OPLOCK`.
    Oplock {
        /// The handle.
        handle: Name,
        /// The level.
        level: Level,
        /// What the holder does on a break.
        #[serde(default)]
        on_break: OnBreak,
    },
    /// `FSCTL_REQUEST_OPLOCK` with `REQUEST_OPLOCK_INPUT_FLAG_ACK`: the holder acknowledges a
    /// break.
    Ack {
        /// The handle.
        handle: Name,
        /// The level acknowledged to (default the level the oplock broke to).
        level: Option<AckLevel>,
    },
    /// A read.
    Read {
        /// The handle.
        handle: Name,
        /// Byte offset.
        #[serde(default)]
        offset: Num<u64>,
        /// Bytes.
        #[serde(default = "default_length")]
        length: Num<u32>,
    },
    /// A write.
    Write {
        /// The handle.
        handle: Name,
        /// Byte offset.
        #[serde(default)]
        offset: Num<u64>,
        /// Text to write.
        #[serde(default = "default_data")]
        data: String,
        /// Cached or not.
        #[serde(default)]
        mode: WriteMode,
    },
    /// `IRP_MJ_SET_INFORMATION`.
    SetInformation {
        /// The handle.
        handle: Name,
        /// The class.
        #[serde(default)]
        class: InfoClass,
        /// New size (end of file or allocation).
        #[serde(default)]
        size: Num<u64>,
    },
    /// A byte-range lock (`LockFileEx`).
    Lock {
        /// The handle.
        handle: Name,
        /// First byte.
        #[serde(default)]
        offset: Num<u64>,
        /// Bytes (zero is allowed).
        length: Num<u64>,
        /// `LOCKFILE_EXCLUSIVE_LOCK` (default); `false` for a shared lock.
        #[serde(default = "yes")]
        exclusive: bool,
        /// `LOCKFILE_FAIL_IMMEDIATELY` (default); `false` waits for the range.
        #[serde(default = "yes")]
        fail_immediately: bool,
        /// The lock key.
        #[serde(default)]
        key: Num<u32>,
    },
    /// An unlock of one range (`UnlockFileEx`).
    Unlock {
        /// The handle.
        handle: Name,
        /// First byte.
        #[serde(default)]
        offset: Num<u64>,
        /// Bytes.
        length: Num<u64>,
        /// The lock key.
        #[serde(default)]
        key: Num<u32>,
    },
    /// `FileDispositionInformation`.
    SetDisposition {
        /// The handle.
        handle: Name,
        /// `DeleteFile`: set (default) or clear the delete disposition.
        #[serde(default = "yes")]
        delete: bool,
    },
    /// `FileRenameInformation`.
    Rename {
        /// The handle.
        handle: Name,
        /// The new path.
        to: String,
        /// `ReplaceIfExists`.
        #[serde(default)]
        replace_if_exists: bool,
    },
    /// `FSCTL_SET_PURGE_FAILURE_MODE` from above the filter.
    FsctlSetPurgeFailureMode {
        /// The handle.
        handle: Name,
        /// The flags.
        flags: PurgeFlags,
        /// Kernel or user caller.
        #[serde(default)]
        requestor: Requestor,
        /// Bytes of input (the flags zero-padded or truncated).
        #[serde(default = "default_input_size")]
        input_size: Num<u64>,
        /// Sent this many times in a row.
        #[serde(default = "one")]
        repeat: Num<u32>,
        /// Sent below the filter, by a component attached lower on the volume: the filter sees
        /// none of them, and `repeat` is applied at once (up to 4294967295).
        #[serde(default)]
        below_filter: bool,
    },
    /// Filter Manager opens a data-scan section.
    BeginDataScan {
        /// The handle.
        handle: Name,
        /// A name for the section, for a later `end_section` (the section can outlive the
        /// handle it was created through).
        section: Option<Name>,
    },
    /// Filter Manager closes its data-scan section.
    EndDataScan {
        /// The handle.
        handle: Name,
    },
    /// Filter Manager closes a named data-scan section, whether or not the handle it was
    /// created through is still open.
    EndSection {
        /// The section's name.
        section: Name,
    },
    /// A user mapping of the stream.
    MapSection {
        /// The handle.
        handle: Name,
    },
    /// The user mapping goes away.
    UnmapSection {
        /// The handle.
        handle: Name,
    },
    /// `PURGE_REQUEST` on the control device.
    Purge {
        /// The handle.
        handle: Name,
    },
    /// `INSPECT` on the control device.
    Inspect {
        /// The handle.
        handle: Name,
        /// Byte offset.
        #[serde(default)]
        offset: Num<u64>,
        /// Bytes.
        #[serde(default = "default_length")]
        length: Num<u32>,
    },
    /// The kernel's negative control: a read through a new open of its own.
    InspectNewHandle {
        /// The handle.
        handle: Name,
        /// Byte offset.
        #[serde(default)]
        offset: Num<u64>,
        /// Bytes.
        #[serde(default = "default_length")]
        length: Num<u32>,
    },
    /// `QUERY_KEYS` on the control device.
    QueryKeys {
        /// A handle by name, or
        handle: Option<Name>,
        /// a raw handle value.
        handle_value: Option<Num<u64>>,
    },
    /// `PURGE_STATUS` on the control device.
    PurgeStatus {},
    /// Cleanup and close.
    Close {
        /// The handle.
        handle: Name,
    },
    /// `fltmc detach`.
    Detach {},
    /// Control-device owners.
    OwnerOpen {
        /// The owner's name (`owner#0`.. for several).
        owner: Name,
        /// How many.
        #[serde(default = "one")]
        count: Num<u32>,
    },
    /// An owner closes its control-device handle.
    OwnerClose {
        /// The owner.
        owner: Name,
    },
    /// `FORWARD`s from an owner.
    Forward {
        /// The owner.
        owner: Name,
        /// The group of its partial cancel ID (0: untagged).
        #[serde(default)]
        group: Num<u64>,
        /// How many.
        #[serde(default = "one")]
        count: Num<u32>,
    },
    /// `CANCEL_GROUP` from an owner.
    CancelGroup {
        /// The owner sending it.
        owner: Name,
        /// Whose partial ID the group is under (default the owner's own).
        group_owner: Option<Name>,
        /// The group.
        group: Num<u64>,
    },
    /// The pipe completes reads it holds.
    Complete {
        /// Up to this many.
        #[serde(default = "one")]
        count: Num<u32>,
        /// With this status.
        #[serde(default)]
        status: Num<u32>,
    },
    /// Checks an earlier step's record.
    Expect(ExpectStep),
}

impl Step {
    /// The handle the step acts on, if it names one.
    #[must_use]
    pub fn handle(&self) -> Option<&Name> {
        match self {
            Self::Open(open) => Some(&open.handle),
            Self::Oplock { handle, .. }
            | Self::Ack { handle, .. }
            | Self::Read { handle, .. }
            | Self::Write { handle, .. }
            | Self::Lock { handle, .. }
            | Self::Unlock { handle, .. }
            | Self::SetInformation { handle, .. }
            | Self::SetDisposition { handle, .. }
            | Self::Rename { handle, .. }
            | Self::FsctlSetPurgeFailureMode { handle, .. }
            | Self::BeginDataScan { handle, .. }
            | Self::EndDataScan { handle }
            | Self::MapSection { handle }
            | Self::UnmapSection { handle }
            | Self::Purge { handle }
            | Self::Inspect { handle, .. }
            | Self::InspectNewHandle { handle, .. }
            | Self::Close { handle } => Some(handle),
            Self::QueryKeys { handle, .. } => handle.as_ref(),
            Self::PurgeStatus {}
            | Self::Detach {}
            | Self::OwnerOpen { .. }
            | Self::OwnerClose { .. }
            | Self::Forward { .. }
            | Self::CancelGroup { .. }
            | Self::Complete { .. }
            | Self::EndSection { .. }
            | Self::Expect(_) => None,
        }
    }

    /// The rules serde cannot say: which field is wrong, and why.
    fn check(&self, index: usize) -> Result<(), (String, String)> {
        let fail = |field: &str, why: &str| Err((field.to_owned(), why.to_owned()));
        match self {
            Self::Open(open) => {
                if open.cf_flags.is_some() && (open.access.is_some() || open.share.is_some()) {
                    return fail("cf_flags", "cf_flags decides access and share; drop them");
                }
                for (i, ecp) in open.ecps.iter().enumerate() {
                    if ecp.size().is_some_and(|s| s.0 > MAX_ECP_SIZE) {
                        return fail(&format!("ecps[{i}].size"), "at most 65536");
                    }
                }
                Ok(())
            }
            Self::FsctlSetPurgeFailureMode { input_size, .. } if input_size.0 > MAX_FSCTL_INPUT => {
                fail("input_size", "at most 1048576")
            }
            Self::FsctlSetPurgeFailureMode {
                repeat,
                below_filter: false,
                ..
            } if repeat.0 > MAX_REPEAT_THROUGH_FILTER => fail(
                "repeat",
                "at most 65536 through the filter (each runs the driver); use below_filter for more",
            ),
            Self::QueryKeys {
                handle,
                handle_value,
            } if handle.is_some() == handle_value.is_some() => {
                fail("handle", "give exactly one of `handle` and `handle_value`")
            }
            Self::Expect(expect) => {
                if index == 0 {
                    return fail("op", "an expect needs a step before it");
                }
                if expect.fields.is_empty() {
                    return fail("op", "an expect with nothing to check");
                }
                expect.fields.iter().try_for_each(|(key, value)| {
                    super::expect::malformed(value).map_or(Ok(()), |why| Err((key.clone(), why)))
                })
            }
            _ => Ok(()),
        }
    }
}

/// The `FSCTL_SET_PURGE_FAILURE_MODE` input a step sends: the flags, zero-padded or truncated.
#[must_use]
pub fn purge_failure_input(flags: PurgeFlags, input_size: Num<u64>) -> Vec<u8> {
    let mut input = flags.0.to_le_bytes().to_vec();
    // Checked against MAX_FSCTL_INPUT when parsed.
    input.resize(usize::try_from(input_size.0).unwrap_or(0), 0);
    input
}

/// A parsed step with what surrounds it in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The op as written (the variant's name).
    pub op: String,
    /// Its label.
    pub label: Option<String>,
    /// For an `expect`: the index of the step it checks (its `of`, or the previous step).
    pub checks: Option<usize>,
    /// The step.
    pub step: Step,
}

/// The top level of a scenario file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[allow(dead_code, reason = "documentation for the reader of the file")]
    description: Option<String>,
    steps: Vec<Value>,
}

/// Renders a path from `serde_path_to_error`, dropping the enum variant segments the re-tagging
/// introduced (`open.ecps[0].raw.hex` → `ecps[0].hex`).
fn field_path(path: &serde_path_to_error::Path) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            serde_path_to_error::Segment::Seq { index } => {
                out.push('[');
                out.push_str(&index.to_string());
                out.push(']');
            }
            serde_path_to_error::Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            serde_path_to_error::Segment::Enum { .. } | serde_path_to_error::Segment::Unknown => {}
        }
    }
    out
}

/// `{tag: "x", ...rest}` → `{"x": {...rest}}`, so serde's externally tagged enums read it; the
/// tag's value or its absence as an error (field, message).
fn retag(object: &mut Map<String, Value>, tag: &str) -> Result<Value, (String, String)> {
    let name = match object.remove(tag) {
        None => return Err((tag.to_owned(), "required".to_owned())),
        Some(Value::String(name)) => name,
        Some(other) => return Err((tag.to_owned(), format!("expected a string, got {other}"))),
    };
    let mut outer = Map::new();
    outer.insert(name, Value::Object(std::mem::take(object)));
    Ok(Value::Object(outer))
}

/// One step from its JSON object.
fn parse_step(index: usize, raw: Value) -> Result<(String, Option<String>, Step), ScenarioError> {
    let err = |field: String, message: String| ScenarioError::Step {
        step: index,
        field,
        message,
    };
    let Value::Object(mut object) = raw else {
        return Err(err("op".into(), "a step must be an object".into()));
    };
    let label = match object.remove("label") {
        None => None,
        Some(Value::String(label)) if label.is_empty() => {
            return Err(err("label".into(), "a label cannot be empty".into()));
        }
        Some(Value::String(label)) => Some(label),
        Some(other) => {
            return Err(err(
                "label".into(),
                format!("expected a string, got {other}"),
            ));
        }
    };
    let op = object.get("op").and_then(Value::as_str).map(str::to_owned);
    if let Some(Value::Array(ecps)) = object.get_mut("ecps") {
        for (i, ecp) in ecps.iter_mut().enumerate() {
            let Value::Object(fields) = ecp else {
                return Err(err(format!("ecps[{i}]"), "an ECP must be an object".into()));
            };
            *ecp = retag(fields, "type").map_err(|(f, m)| err(format!("ecps[{i}].{f}"), m))?;
        }
    }
    let tagged = retag(&mut object, "op").map_err(|(f, m)| err(f, m))?;
    let step: Step = serde_path_to_error::deserialize(tagged).map_err(|e| {
        let path = field_path(e.path());
        let message = e.inner().to_string();
        let field = if message.starts_with("unknown variant") {
            // An op, an ECP's type (an array element) or a named value serde does not know.
            if path.is_empty() {
                return err(
                    "op".into(),
                    format!(
                        "unknown op `{}` (see docs/scenarios.md for the vocabulary)",
                        op.clone().unwrap_or_default()
                    ),
                );
            }
            if path.ends_with(']') {
                format!("{path}.type")
            } else {
                path
            }
        } else if let Some(missing) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            if path.is_empty() {
                missing.to_owned()
            } else {
                format!("{path}.{missing}")
            }
        } else if path.is_empty() {
            "op".into()
        } else {
            path
        };
        err(field, message)
    })?;
    step.check(index).map_err(|(f, m)| err(f, m))?;
    Ok((op.unwrap_or_default(), label, step))
}

/// Parses a scenario file: every step, before anything runs.
///
/// # Errors
/// [`ScenarioError`] naming the step and field at fault.
pub fn parse(text: &str) -> Result<Vec<Entry>, ScenarioError> {
    let value: Value = serde_json::from_str(text).map_err(|e| ScenarioError::Json {
        message: e.to_string(),
    })?;
    if !value.is_object() {
        return Err(ScenarioError::Shape {
            message: "the top level must be an object with a `steps` array".into(),
        });
    }
    let file: File = serde_json::from_value(value).map_err(|e| ScenarioError::Shape {
        message: format!("{e} (the top level has only `steps` and `description`)"),
    })?;
    let mut labels: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    let mut entries = Vec::with_capacity(file.steps.len());
    for (index, raw) in file.steps.into_iter().enumerate() {
        let (op, label, step) = parse_step(index, raw)?;
        let checks = match &step {
            Step::Expect(ExpectStep { of: Some(name), .. }) => {
                Some(*labels.get(name).ok_or_else(|| ScenarioError::Step {
                    step: index,
                    field: "of".into(),
                    message: format!("no earlier step is labelled `{name}`"),
                })?)
            }
            Step::Expect(_) => Some(index - 1),
            _ => None,
        };
        if let Some(name) = &label
            && labels.insert(name.clone(), index).is_some()
        {
            return Err(ScenarioError::Step {
                step: index,
                field: "label".into(),
                message: format!("the label `{name}` is already used by an earlier step"),
            });
        }
        entries.push(Entry {
            op,
            label,
            checks,
            step,
        });
    }
    Ok(entries)
}
