//! ECPs as a step attaches them to a create: the oplock-key ECPs by their fields, or any type
//! with raw bytes, and what each encodes to.

use ferrofilter_core::ecp::{
    DualOplockKeyEcp, GUID_ECP_DUAL_OPLOCK_KEY, GUID_ECP_OPLOCK_KEY, OplockKeyEcp,
    encode_dual_oplock_key, encode_oplock_key,
};
use ferrofilter_core::guid::Guid;
use ferrofilter_model::guid_text::parse_guid;
use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::{GuidText, Hex, Num};

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

    pub(super) const fn size(&self) -> Option<Num<u64>> {
        match self {
            Self::OplockKey { size, .. }
            | Self::DualOplockKey { size, .. }
            | Self::Raw { size, .. } => *size,
        }
    }
}
