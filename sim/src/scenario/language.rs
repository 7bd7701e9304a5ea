//! The scenario language, defined once: [`Step`] is the type of a step, and [`parse`] the one
//! parser. The sim's runner and ferroctl's device runner both interpret the same parsed steps.
//!
//! A step is written `{"op": "open", "handle": "h", ...}`. Serde's internally tagged enums lose
//! the path to a bad field (they buffer the object first), so [`parse`] moves the `op` tag out
//! and deserializes `{"open": {...}}` as an externally tagged [`Step`] with
//! `serde_path_to_error`; the same for an ECP's `type`. Every struct refuses unknown fields.

use ferrofilter_model::oplock::{CreateParams, access, share};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::ScenarioError;

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

mod ecp;
mod values;

pub use ecp::{Ecp, EcpType, EncodedEcp};
pub use values::{
    ACCESS_NAMES, AccessNames, AckLevel, Disposition, GuidText, Hex, InfoClass, Kind, Level, Mask,
    MaskNames, Name, Num, OnBreak, PurgeFlags, Requestor, SHARE_NAMES, ShareNames, WriteMode,
    parse_number,
};

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
