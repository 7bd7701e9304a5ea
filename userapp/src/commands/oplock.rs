//! `oplock FILE --flags ...` and `oplock demo`: `CfOpenFileWithOplock` for any combination of
//! `CF_OPEN_FILE_FLAGS`, then a conflicting open and a write from another oplock key.
//!
//! On the sim the open, the sharing check and every break decision come from core's models
//! (`ferrofilter_model::cf::cf_open`, `ferrofilter_model::oplock`); on Windows the real calls are
//! made (see `oplock_win`, unverified here).

use std::io::Write;
use std::path::Path;

use ferrofilter_core::guid::Guid;
use ferrofilter_core::protocol::{
    HandleKeysInfo, KEY_ORIGIN_DUAL_ECP, KEY_ORIGIN_SINGLE_ECP, KEY_ORIGIN_UNIQUE,
    KEYS_FLAG_PARENT_PRESENT,
};
use ferrofilter_model::cf::{
    CF_OPEN_FILE_FLAG_DELETE_ACCESS, CF_OPEN_FILE_FLAG_EXCLUSIVE, CF_OPEN_FILE_FLAG_FOREGROUND,
    CF_OPEN_FILE_FLAG_WRITE_ACCESS, CfOpen, UnknownCfFlags, cf_open,
};
use ferrofilter_model::oplock::{
    Ack, BreakDecision, CreateParams, Operation, OplockLevel, StreamOplock, access, share,
};
use serde::Serialize;

use crate::backend::BackendKind;
#[cfg(feature = "sim")]
use crate::backend::sim::SimSession;
use crate::error::CliError;
use crate::exit::Outcome;
use crate::output;

/// The flag names `--flags` accepts, with their values.
pub const FLAG_NAMES: [(&str, u32); 4] = [
    ("exclusive", CF_OPEN_FILE_FLAG_EXCLUSIVE),
    ("write-access", CF_OPEN_FILE_FLAG_WRITE_ACCESS),
    ("delete-access", CF_OPEN_FILE_FLAG_DELETE_ACCESS),
    ("foreground", CF_OPEN_FILE_FLAG_FOREGROUND),
];

/// The access the conflicting opener asks for: read and write, as an editor would.
pub const OTHER_ACCESS: u32 = access::FILE_READ_DATA | access::FILE_WRITE_DATA;
/// The conflicting opener's share mode: read only.
pub const OTHER_SHARE: u32 = share::FILE_SHARE_READ;
/// The writer's access: write data only.
pub const WRITER_ACCESS: u32 = access::FILE_WRITE_DATA;
/// The writer's share mode: everything.
pub const WRITER_SHARE: u32 = share::FILE_SHARE_ALL;

/// Why `--flags` was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FlagsError {
    /// It starts with a digit but is not a number.
    #[error("`{text}` is not a number")]
    NotANumber {
        /// What was given.
        text: String,
        /// Why it does not parse.
        source: std::num::ParseIntError,
    },
    /// A name no flag has.
    #[error(
        "unknown flag `{name}`; known: none, exclusive, write-access, delete-access, foreground \
         (or a number such as 0x3)"
    )]
    UnknownName {
        /// The name as given.
        name: String,
    },
    /// Bits no flag defines.
    #[error(
        "{0}: only EXCLUSIVE 0x1, WRITE_ACCESS 0x2, DELETE_ACCESS 0x4 and FOREGROUND 0x8 are \
         defined"
    )]
    UndefinedBits(#[source] UnknownCfFlags),
}

/// Parses `--flags`: names separated by commas (`exclusive,write-access`, `none`) or a number
/// (`0x3`, `3`). Undefined bits are refused naming them.
///
/// # Errors
/// The unknown name or bits, or the number that does not parse.
pub fn parse_flags(text: &str) -> Result<u32, FlagsError> {
    let text = text.trim();
    let numeric = text.starts_with(|c: char| c.is_ascii_digit());
    let flags = if numeric {
        let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            Some(hex) => u32::from_str_radix(hex, 16),
            None => text.parse(),
        };
        parsed.map_err(|source| FlagsError::NotANumber {
            text: text.to_owned(),
            source,
        })?
    } else {
        let mut flags = 0;
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let normal = name.to_ascii_lowercase().replace('_', "-");
            let normal = normal.strip_prefix("cf-open-file-flag-").unwrap_or(&normal);
            if normal == "none" {
                continue;
            }
            let (_, bit) = FLAG_NAMES
                .iter()
                .find(|(known, _)| *known == normal)
                .ok_or_else(|| FlagsError::UnknownName {
                    name: name.to_owned(),
                })?;
            flags |= bit;
        }
        flags
    };
    cf_open(flags).map_err(FlagsError::UndefinedBits)?;
    Ok(flags)
}

/// `EXCLUSIVE|WRITE_ACCESS`, or `NONE`.
#[must_use]
pub fn flag_names(flags: u32) -> String {
    let names: Vec<String> = FLAG_NAMES
        .iter()
        .filter(|(_, bit)| flags & bit != 0)
        .map(|(name, _)| name.to_ascii_uppercase().replace('-', "_"))
        .collect();
    if names.is_empty() {
        "NONE".to_owned()
    } else {
        names.join("|")
    }
}

fn access_names(mask: u32) -> String {
    let names: Vec<&str> = [
        ("FILE_READ_DATA", access::FILE_READ_DATA),
        ("FILE_WRITE_DATA", access::FILE_WRITE_DATA),
        ("DELETE", access::DELETE),
    ]
    .iter()
    .filter(|(_, bit)| mask & bit != 0)
    .map(|(name, _)| *name)
    .collect();
    names.join("|")
}

fn share_names(mask: u32) -> String {
    let names: Vec<&str> = [
        ("read", share::FILE_SHARE_READ),
        ("write", share::FILE_SHARE_WRITE),
        ("delete", share::FILE_SHARE_DELETE),
    ]
    .iter()
    .filter(|(_, bit)| mask & bit != 0)
    .map(|(name, _)| *name)
    .collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join("|")
    }
}

/// Short name of a level: `R`, `RH`, `RW`, `RWH`, `None`, `Level1`, `Batch`, `Level2`.
#[must_use]
pub const fn level_name(level: OplockLevel) -> &'static str {
    match level {
        OplockLevel::None => "None",
        OplockLevel::Level1 => "Level1",
        OplockLevel::Batch => "Batch",
        OplockLevel::Level2 => "Level2",
        OplockLevel::Read => "R",
        OplockLevel::ReadHandle => "RH",
        OplockLevel::ReadWrite => "RW",
        OplockLevel::ReadWriteHandle => "RWH",
    }
}

const fn ack_name(ack: Ack) -> &'static str {
    match ack {
        Ack::NotRequired => "no ack",
        Ack::RequiredNoWait => "ack, no wait",
        Ack::RequiredWait => "ack, opener waits",
    }
}

/// What one probe (a conflicting open, or a write from another key) did to the oplock.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Probe {
    /// What the other party did.
    pub operation: String,
    /// Whether the oplock broke.
    pub broke: bool,
    /// The level before the break.
    pub from: Option<&'static str>,
    /// The level after the break.
    pub to: Option<&'static str>,
    /// Whether the break needed an acknowledgment, and whether the opener waited for it.
    pub ack: Option<&'static str>,
    /// How the other party's operation ended.
    pub result: String,
    /// Milliseconds from the operation's start to the break being seen (device only).
    pub after_ms: Option<f64>,
    /// Each step, in order.
    pub steps: Vec<String>,
}

/// The keys the driver recorded for a handle (`QUERY_KEYS`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeysView {
    /// The handle's own (target) key.
    pub target: String,
    /// The parent key, when present.
    pub parent: Option<String>,
    /// Where the key came from: `dual_ecp`, `single_ecp`, `unique`.
    pub origin: String,
}

/// One `CfOpenFileWithOplock` and its two probes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OplockReport {
    /// The flags, as a number.
    pub flags: u32,
    /// The flags, by name.
    pub flag_names: String,
    /// Desired access of the open.
    pub access: String,
    /// Share mode of the open.
    pub share: String,
    /// The oplock requested (`R`, `RH`), `null` with `FOREGROUND`.
    pub oplock_requested: Option<&'static str>,
    /// The oplock keys the driver recorded for the handle, when queried.
    pub keys: Option<KeysView>,
    /// Another key opens the file for read+write, sharing read only.
    pub conflicting_open: Probe,
    /// Another key opens the file for write (sharing everything) and writes.
    pub write_from_other_key: Probe,
}

const HOLDER_KEY: Guid = Guid::from_fields(0xCF, 0xCF, 0xCF, [0xCF; 8]);
const OTHER_KEY: Guid = Guid::from_fields(0xA1, 0xA1, 0xA1, [0xA1; 8]);

struct Model {
    stream: StreamOplock,
    open: CfOpen,
    holder_open: bool,
}

impl Model {
    fn new(open: CfOpen) -> Self {
        let mut stream = StreamOplock::new();
        // A fresh file: the holder's open cannot conflict.
        let _ = stream.share.open(open.desired_access, open.share_access);
        if let Some(level) = open.oplock {
            let _ = stream.request(HOLDER_KEY, level);
        }
        Self {
            stream,
            open,
            holder_open: true,
        }
    }

    /// The holder's protected handle is closed by the platform when its oplock breaks with an
    /// acknowledgment the opener waits for (the CF contract: the app must close).
    fn holder_closes(&mut self, steps: &mut Vec<String>) {
        if self.holder_open {
            self.stream
                .share
                .close(self.open.desired_access, self.open.share_access);
            self.stream.release(HOLDER_KEY);
            self.holder_open = false;
            steps.push("the holder's handle is closed (the break is acknowledged)".to_owned());
        }
    }

    /// Another key's create: decide, apply, and settle the sharing check.
    fn other_create(&mut self, desired: u32, share_mode: u32, probe: &mut Probe) -> bool {
        let decision = self.stream.decide(
            OTHER_KEY,
            &Operation::Create(CreateParams::open(desired, share_mode)),
        );
        note_break(probe, decision);
        self.stream.apply(decision);
        if let BreakDecision::Break {
            ack: Ack::RequiredWait,
            ..
        } = decision
        {
            self.holder_closes(&mut probe.steps);
        }
        let opened = self.stream.share.open(desired, share_mode).is_ok();
        probe.steps.push(if opened {
            "the other open succeeds".to_owned()
        } else {
            "the other open fails: STATUS_SHARING_VIOLATION".to_owned()
        });
        opened
    }
}

fn note_break(probe: &mut Probe, decision: BreakDecision) {
    match decision {
        BreakDecision::NoBreak => probe.steps.push("no break".to_owned()),
        BreakDecision::Break { from, to, ack } => {
            if !probe.broke {
                probe.broke = true;
                probe.from = Some(level_name(from));
                probe.to = Some(level_name(to));
                probe.ack = Some(ack_name(ack));
            }
            probe.steps.push(format!(
                "break {} -> {} ({})",
                level_name(from),
                level_name(to),
                ack_name(ack)
            ));
        }
    }
}

fn empty_probe(operation: String) -> Probe {
    Probe {
        operation,
        broke: false,
        from: None,
        to: None,
        ack: None,
        result: String::new(),
        after_ms: None,
        steps: Vec::new(),
    }
}

/// Runs one combination through core's models.
///
/// # Errors
/// The unknown bits, when `flags` has any.
pub fn model(flags: u32) -> Result<OplockReport, CliError> {
    let open = cf_open(flags)?;

    let mut conflicting = empty_probe(format!(
        "another key opens {} sharing {}",
        access_names(OTHER_ACCESS),
        share_names(OTHER_SHARE)
    ));
    let mut model = Model::new(open);
    let opened = model.other_create(OTHER_ACCESS, OTHER_SHARE, &mut conflicting);
    conflicting.result = if opened {
        "opened".to_owned()
    } else {
        "STATUS_SHARING_VIOLATION".to_owned()
    };

    let mut write = empty_probe(format!(
        "another key opens {} sharing {} and writes",
        access_names(WRITER_ACCESS),
        share_names(WRITER_SHARE)
    ));
    let mut model = Model::new(open);
    write.result = if model.other_create(WRITER_ACCESS, WRITER_SHARE, &mut write) {
        let decision = model
            .stream
            .decide(OTHER_KEY, &Operation::Write { paging: false });
        note_break(&mut write, decision);
        model.stream.apply(decision);
        "written".to_owned()
    } else {
        "could not open for write: STATUS_SHARING_VIOLATION".to_owned()
    };

    Ok(OplockReport {
        flags,
        flag_names: flag_names(flags),
        access: access_names(open.desired_access),
        share: share_names(open.share_access),
        oplock_requested: open.oplock.map(level_name),
        keys: None,
        conflicting_open: conflicting,
        write_from_other_key: write,
    })
}

fn probe_cell(probe: &Probe) -> String {
    let broke = match (probe.from, probe.to) {
        (Some(from), Some(to)) if probe.broke => {
            format!("{from}->{to} ({})", probe.ack.unwrap_or(""))
        }
        _ => "no break".to_owned(),
    };
    let after = probe
        .after_ms
        .map(|ms| format!(" after {ms:.1} ms"))
        .unwrap_or_default();
    format!("{broke}{after}; {}", probe.result)
}

/// Prints reports as a table (one row per combination) or one JSON object per line.
///
/// # Errors
/// When writing fails.
pub fn print(reports: &[OplockReport], json: bool, out: &mut dyn Write) -> Result<(), CliError> {
    if json {
        for report in reports {
            output::json(out, report)?;
        }
        return Ok(());
    }
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|r| {
            vec![
                format!("0x{:X}", r.flags),
                r.flag_names.clone(),
                r.access.clone(),
                r.share.clone(),
                r.oplock_requested.unwrap_or("none").to_owned(),
                probe_cell(&r.conflicting_open),
                probe_cell(&r.write_from_other_key),
            ]
        })
        .collect();
    output::table(
        out,
        &[
            "flags",
            "names",
            "access",
            "share",
            "oplock",
            "conflicting open (R/W, share R)",
            "write from another key",
        ],
        &rows,
    )?;
    for report in reports {
        if let Some(keys) = &report.keys {
            writeln!(
                out,
                "keys of the 0x{:X} handle: target {}, parent {}, origin {}",
                report.flags,
                keys.target,
                keys.parent.as_deref().unwrap_or("none"),
                keys.origin
            )?;
        }
    }
    Ok(())
}

/// The keys the driver answered `QUERY_KEYS` with, for printing.
pub fn keys_view(info: &HandleKeysInfo) -> KeysView {
    KeysView {
        target: Guid::from_le_bytes(info.target).to_string(),
        parent: (info.flags & KEYS_FLAG_PARENT_PRESENT != 0)
            .then(|| Guid::from_le_bytes(info.parent).to_string()),
        origin: match info.origin {
            KEY_ORIGIN_DUAL_ECP => "dual_ecp",
            KEY_ORIGIN_SINGLE_ECP => "single_ecp",
            KEY_ORIGIN_UNIQUE => "unique",
            _ => "unknown",
        }
        .to_owned(),
    }
}

#[cfg(feature = "sim")]
/// On the sim: opens FILE on the sim's volume as `CfOpenFileWithOplock` would with `flags` (no
/// oplock-key ECP, so the driver gives the handle a unique key) and asks the control device which
/// keys it recorded for that handle.
fn sim_query_keys(file: &Path, flags: u32) -> Result<KeysView, CliError> {
    use crate::proto;

    let open = cf_open(flags)?;
    let info = SimSession::new_default()?.with_file(
        &file.display().to_string(),
        open.desired_access,
        open.share_access,
        |session, handle| proto::query_keys(session, handle),
    )?;
    Ok(keys_view(&info))
}

#[cfg(not(feature = "sim"))]
fn sim_query_keys(_: &Path, _: u32) -> Result<KeysView, CliError> {
    Err(crate::backend::no_sim())
}

/// `oplock FILE`.
///
/// # Errors
/// [`CliError::Usage`] for a missing file or unknown flag bits; a failed `QUERY_KEYS`.
pub fn run_one(
    kind: BackendKind,
    file: &Path,
    flags: u32,
    query_keys: bool,
    write_probe: bool,
    json: bool,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    if !file.is_file() {
        return Err(CliError::Usage(format!("{}: no such file", file.display())));
    }
    let report = match kind {
        BackendKind::Sim => {
            let _ = write_probe;
            let mut report = model(flags)?;
            if query_keys {
                report.keys = Some(sim_query_keys(file, flags)?);
            }
            report
        }
        BackendKind::Device => device_one(file, flags, query_keys, write_probe)?,
    };
    print(std::slice::from_ref(&report), json, out)?;
    Ok(Outcome::Ok)
}

/// `oplock demo`: every one of the 16 combinations.
///
/// # Errors
/// On the device, when the scratch file cannot be created or an open fails unexpectedly.
pub fn run_demo(kind: BackendKind, json: bool, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let reports = match kind {
        BackendKind::Sim => (0..16).map(model).collect::<Result<Vec<_>, _>>()?,
        BackendKind::Device => device_demo()?,
    };
    print(&reports, json, out)?;
    Ok(Outcome::Ok)
}

#[cfg(windows)]
fn device_one(
    file: &Path,
    flags: u32,
    query_keys: bool,
    write_probe: bool,
) -> Result<OplockReport, CliError> {
    crate::commands::oplock_win::run(file, flags, query_keys, write_probe)
}

#[cfg(not(windows))]
fn device_one(_: &Path, _: u32, _: bool, _: bool) -> Result<OplockReport, CliError> {
    Err(CliError::Unreachable(
        "CfOpenFileWithOplock exists only on Windows; use --sim".to_owned(),
    ))
}

#[cfg(windows)]
fn device_demo() -> Result<Vec<OplockReport>, CliError> {
    crate::commands::oplock_win::demo()
}

#[cfg(not(windows))]
fn device_demo() -> Result<Vec<OplockReport>, CliError> {
    Err(CliError::Unreachable(
        "CfOpenFileWithOplock exists only on Windows; use --sim".to_owned(),
    ))
}

/// Fills the descriptive columns of a device report from the model's view of `flags`.
///
/// # Errors
/// The unknown bits.
pub fn describe(flags: u32) -> Result<(CfOpen, String, String), CliError> {
    let open = cf_open(flags)?;
    Ok((
        open,
        access_names(open.desired_access),
        share_names(open.share_access),
    ))
}

/// A probe with only its operation filled in, for the device to complete.
#[must_use]
pub fn probe(operation: String) -> Probe {
    empty_probe(operation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_parse_and_unknown_bits_are_named() {
        assert_eq!(parse_flags("exclusive,write-access"), Ok(0x3));
        assert_eq!(parse_flags("0x3"), Ok(0x3));
        assert_eq!(parse_flags("12"), Ok(0xC));
        assert_eq!(parse_flags("none"), Ok(0));
        assert_eq!(parse_flags("FOREGROUND, delete_access"), Ok(0xC));
        let error = parse_flags("0x13").unwrap_err();
        assert!(error.to_string().contains("0x00000010"), "{error}");
        assert!(
            parse_flags("sideways")
                .unwrap_err()
                .to_string()
                .contains("sideways")
        );
        assert!(matches!(
            parse_flags("0xZZ"),
            Err(FlagsError::NotANumber { .. })
        ));
    }

    #[test]
    fn the_model_table_follows_the_cf_page() {
        // Default: R, a plain open neither breaks nor conflicts; a write breaks R advisory.
        let plain = model(0).unwrap();
        assert_eq!(plain.oplock_requested, Some("R"));
        assert!(!plain.conflicting_open.broke);
        assert_eq!(plain.conflicting_open.result, "opened");
        assert!(plain.write_from_other_key.broke);
        assert_eq!(plain.write_from_other_key.to, Some("None"));
        assert_eq!(plain.write_from_other_key.ack, Some("no ack"));
        // EXCLUSIVE: RH on share-none; the conflicting open breaks RH -> R and waits.
        let excl = model(0x1).unwrap();
        assert_eq!(excl.oplock_requested, Some("RH"));
        assert!(excl.conflicting_open.broke);
        assert_eq!(
            (excl.conflicting_open.from, excl.conflicting_open.to),
            (Some("RH"), Some("R"))
        );
        assert_eq!(excl.conflicting_open.result, "opened");
        // FOREGROUND|EXCLUSIVE: no oplock, so nothing breaks and the opener is refused.
        let fg = model(0x9).unwrap();
        assert_eq!(fg.oplock_requested, None);
        assert!(!fg.conflicting_open.broke);
        assert_eq!(fg.conflicting_open.result, "STATUS_SHARING_VIOLATION");
        assert!(model(0x10).is_err());
    }
}
