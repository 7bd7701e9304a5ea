//! A small lint for ferrofilter's INF template (`inf/ferrofilter.inx`).
//!
//! `infverif` only runs on Windows, so this module checks on any OS the rules a file-system
//! minifilter installed as a *primitive driver* must follow (REFERENCE.md §8, Microsoft's
//! "Creating a new primitive driver" and "Creating an INF file for a minifilter driver"):
//!
//! | rule | what it checks |
//! |---|---|
//! | [`Rule::Syntax`] | the file parses: sections, `key = value`, `;` comments, `\` continuations, quotes |
//! | [`Rule::MissingSection`] | every section a directive names (`CopyFiles`, `AddReg`, `AddService`, ...) exists |
//! | [`Rule::VersionKey`] | `[Version]` has every key of [`REQUIRED_VERSION_KEYS`], with the right values |
//! | [`Rule::UndefinedToken`] | every `%token%` is defined in `[Strings]` (numeric dirids such as `%13%` excepted) |
//! | [`Rule::Manufacturer`] | there is no `[Manufacturer]` section |
//! | [`Rule::UndecoratedInstall`] | `DefaultInstall` / `DefaultUninstall` sections are architecture-decorated |
//! | [`Rule::Service`] | each added service is a file-system filter service depending on `FltMgr` |
//! | [`Rule::Instances`] | each service registers `DefaultInstance`, `Altitude` and `Flags`, under `Parameters\` and at the downlevel location |
//! | [`Rule::Altitude`] | each altitude lies in the Activity Monitor range (and equals the expected one, if given) |
//! | [`Rule::LegacyUninstall`] | each `DefaultUninstall` section says `LegacyUninstall = 1` |
//! | [`Rule::DestinationDirs`] | files copied go where the service binary says, and one install path uses the driver store (dirid 13) |
//! | [`Rule::SourceDisks`] | each copied file is listed in `[SourceDisksFiles]` with a disk from `[SourceDisksNames]` |
//!
//! Every finding names the file, the line and the rule, so a failure reads like a compiler error.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

/// The setup class every Activity Monitor minifilter declares.
pub const ACTIVITY_MONITOR_CLASS: &str = "ActivityMonitor";

/// The class GUID that goes with [`ACTIVITY_MONITOR_CLASS`].
pub const ACTIVITY_MONITOR_CLASS_GUID: &str = "{b86dff51-a31e-4bac-b3cf-e8cfe75c9fc2}";

/// The altitude range of the `FSFilter Activity Monitor` load order group, inclusive.
pub const ACTIVITY_MONITOR_ALTITUDES: std::ops::RangeInclusive<u32> = 360_000..=389_999;

/// The keys `[Version]` must carry.
pub const REQUIRED_VERSION_KEYS: [&str; 7] = [
    "Signature",
    "Class",
    "ClassGuid",
    "Provider",
    "DriverVer",
    "CatalogFile",
    "PnpLockdown",
];

/// Directives whose value is a comma-separated list of section names.
const SECTION_LIST_DIRECTIVES: [&str; 12] = [
    "copyfiles",
    "delfiles",
    "renfiles",
    "addreg",
    "delreg",
    "bitreg",
    "addproperty",
    "delproperty",
    "registerdlls",
    "unregisterdlls",
    "updateinis",
    "profileitems",
];

/// Architectures a `DefaultInstall` decoration may name (`$ARCH$` is the `.inx` placeholder).
const ARCHITECTURES: [&str; 6] = ["$arch$", "x86", "amd64", "arm", "arm64", "ia64"];

/// Lint rules; each finding carries exactly one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// The text does not parse as an INF.
    Syntax,
    /// A directive names a section that does not exist.
    MissingSection,
    /// A required `[Version]` key is missing or has the wrong value.
    VersionKey,
    /// A `%token%` is not defined in `[Strings]`.
    UndefinedToken,
    /// A `[Manufacturer]` section is present (forbidden for primitive drivers).
    Manufacturer,
    /// A `DefaultInstall` / `DefaultUninstall` section lacks an architecture decoration.
    UndecoratedInstall,
    /// A service is not a well-formed file-system minifilter service.
    Service,
    /// The `FltMgr` instance registration is incomplete or inconsistent.
    Instances,
    /// An altitude is outside the Activity Monitor range or not the expected one.
    Altitude,
    /// A `DefaultUninstall` section lacks `LegacyUninstall = 1`.
    LegacyUninstall,
    /// Files are copied somewhere the service binary does not point at.
    DestinationDirs,
    /// A copied file is not declared in `[SourceDisksFiles]` / `[SourceDisksNames]`.
    SourceDisks,
}

impl Rule {
    /// The rule's short, stable name as printed in findings.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Syntax => "syntax",
            Self::MissingSection => "missing-section",
            Self::VersionKey => "version-key",
            Self::UndefinedToken => "undefined-token",
            Self::Manufacturer => "manufacturer",
            Self::UndecoratedInstall => "undecorated-install",
            Self::Service => "service",
            Self::Instances => "instances",
            Self::Altitude => "altitude",
            Self::LegacyUninstall => "legacy-uninstall",
            Self::DestinationDirs => "destination-dirs",
            Self::SourceDisks => "source-disks",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One finding: where, which rule, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The file as the caller named it.
    pub file: String,
    /// 1-based line number (0 when the problem is the absence of something in the whole file).
    pub line: usize,
    /// The rule broken.
    pub rule: Rule,
    /// A human-readable explanation.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: [{}] {}",
            self.file, self.line, self.rule, self.message
        )
    }
}

/// One logical line of a section (continuations already joined).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line number of the first physical line.
    pub line: usize,
    /// The key left of the first unquoted `=`, trimmed, if there is one.
    pub key: Option<String>,
    /// The value right of the `=` (or the whole line), split at unquoted commas; each field is
    /// trimmed but still raw: quotes and `%tokens%` are kept for [`Inf::expand`].
    pub fields: Vec<String>,
}

/// One `[section]` and its entries, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// The name between the brackets, trimmed.
    pub name: String,
    /// 1-based line number of the header.
    pub line: usize,
    /// The section's entries.
    pub entries: Vec<Entry>,
}

impl Section {
    /// The first entry whose key matches `key` (case-insensitively).
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| {
            e.key
                .as_deref()
                .is_some_and(|k| k.eq_ignore_ascii_case(key))
        })
    }
}

/// A parsed INF file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inf {
    /// The file name used in findings.
    pub file: String,
    /// Sections in file order (a repeated header yields two entries, as `SetupAPI` merges them).
    pub sections: Vec<Section>,
}

impl Inf {
    /// Parses INF text. Returns the parsed file and any syntax findings; parsing goes on past a
    /// bad line so that one typo does not hide the rest.
    #[must_use]
    pub fn parse(file: &str, text: &str) -> (Self, Vec<Finding>) {
        let mut inf = Self {
            file: file.to_owned(),
            sections: Vec::new(),
        };
        let mut findings = Vec::new();
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = text.lines().enumerate().peekable();

        while let Some((index, raw)) = lines.next() {
            let line_no = index + 1;
            let Ok(stripped) = strip_comment(raw) else {
                findings.push(syntax(file, line_no, "unterminated quoted string"));
                continue;
            };
            let mut logical = stripped.trim().to_owned();
            // A trailing backslash joins the next physical line.
            while logical.ends_with('\\') {
                logical.pop();
                let Some((_, next)) = lines.next() else {
                    findings.push(syntax(file, line_no, "line continuation at end of file"));
                    break;
                };
                if let Ok(s) = strip_comment(next) {
                    logical.push(' ');
                    logical.push_str(s.trim());
                    logical = logical.trim().to_owned();
                } else {
                    findings.push(syntax(file, line_no, "unterminated quoted string"));
                    break;
                }
            }
            if logical.is_empty() {
                continue;
            }
            if let Some(rest) = logical.strip_prefix('[') {
                let Some(name) = rest.strip_suffix(']') else {
                    findings.push(syntax(file, line_no, "section header without closing `]`"));
                    continue;
                };
                let name = name.trim();
                if name.is_empty() {
                    findings.push(syntax(file, line_no, "empty section name"));
                    continue;
                }
                inf.sections.push(Section {
                    name: name.to_owned(),
                    line: line_no,
                    entries: Vec::new(),
                });
                continue;
            }
            let Some(section) = inf.sections.last_mut() else {
                findings.push(syntax(
                    file,
                    line_no,
                    "entry before the first section header",
                ));
                continue;
            };
            let (key, value) = match find_unquoted(&logical, '=') {
                Some(at) => {
                    let key = logical[..at].trim();
                    if key.is_empty() {
                        findings.push(syntax(file, line_no, "`=` without a key"));
                        continue;
                    }
                    (Some(key.to_owned()), &logical[at + 1..])
                }
                None => (None, logical.as_str()),
            };
            section.entries.push(Entry {
                line: line_no,
                key,
                fields: split_fields(value),
            });
        }
        (inf, findings)
    }

    /// All sections with this name (case-insensitive), in file order.
    pub fn sections_named<'a, 'n>(
        &'a self,
        name: &'n str,
    ) -> impl Iterator<Item = &'a Section> + use<'a, 'n> {
        self.sections
            .iter()
            .filter(move |s| s.name.eq_ignore_ascii_case(name))
    }

    /// The first section with this name (case-insensitive).
    #[must_use]
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections_named(name).next()
    }

    /// Whether a section with this name exists.
    #[must_use]
    pub fn has_section(&self, name: &str) -> bool {
        self.section(name).is_some()
    }

    /// The `[Strings]` table (every `Strings` or `Strings.<locale>` section), keys lower-cased,
    /// values unquoted.
    #[must_use]
    pub fn strings(&self) -> BTreeMap<String, String> {
        let mut table = BTreeMap::new();
        for section in self.sections.iter().filter(|s| is_strings_section(&s.name)) {
            for entry in &section.entries {
                if let Some(key) = &entry.key {
                    let value = entry.fields.join(",");
                    table
                        .entry(key.to_ascii_lowercase())
                        .or_insert_with(|| unquote(&value));
                }
            }
        }
        table
    }

    /// Expands one raw field: `%token%` becomes its `[Strings]` value (unknown tokens and
    /// numeric dirids are kept as written), `%%` becomes `%`, and quotes are removed.
    #[must_use]
    pub fn expand(&self, raw: &str) -> String {
        expand_with(&self.strings(), raw)
    }
}

/// What [`lint`] should additionally insist on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// If set, every registered altitude must equal this value.
    pub expected_altitude: Option<u32>,
}

/// A service the INF adds, as found through `AddService`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceInfo {
    /// The service name after `[Strings]` expansion.
    pub name: String,
    /// The service-install section.
    pub section: String,
    /// The `DefaultInstall...Services` section that adds it.
    pub added_by: String,
    /// Line of the `AddService` directive.
    pub line: usize,
}

/// A registered minifilter instance altitude.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AltitudeInfo {
    /// The registry key, relative to the service key, after expansion.
    pub key: String,
    /// The altitude as written (after expansion).
    pub value: String,
    /// Line of the `AddReg` entry.
    pub line: usize,
}

/// Lints INF text; `file` is only used to name findings.
#[must_use]
pub fn lint_str(file: &str, text: &str, options: &Options) -> Vec<Finding> {
    let (inf, mut findings) = Inf::parse(file, text);
    findings.extend(check(&inf, options));
    findings
}

/// Reads and lints an INF file (ANSI/UTF-8, or UTF-16 LE with a byte-order mark).
///
/// # Errors
///
/// Returns the I/O error if the file cannot be read, or an `InvalidData` error if it is neither
/// UTF-8 nor UTF-16 LE with a BOM.
pub fn lint_path(path: &Path, options: &Options) -> std::io::Result<Vec<Finding>> {
    let bytes = std::fs::read(path)?;
    let text = decode(&bytes).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: neither UTF-8 nor UTF-16 LE with a BOM", path.display()),
        )
    })?;
    Ok(lint_str(&path.display().to_string(), &text, options))
}

/// Decodes INF bytes: UTF-16 LE if they start with the `FF FE` byte-order mark, else UTF-8.
#[must_use]
pub fn decode(bytes: &[u8]) -> Option<String> {
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        if rest.len() % 2 != 0 {
            return None;
        }
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
            .collect();
        String::from_utf16(&units).ok()
    } else {
        String::from_utf8(bytes.to_vec()).ok()
    }
}

/// Runs every rule over a parsed INF.
#[must_use]
pub fn check(inf: &Inf, options: &Options) -> Vec<Finding> {
    let mut findings = Vec::new();
    check_version(inf, &mut findings);
    check_manufacturer(inf, &mut findings);
    check_decorations(inf, &mut findings);
    check_tokens(inf, &mut findings);
    check_section_references(inf, &mut findings);
    check_legacy_uninstall(inf, &mut findings);
    let services = services(inf);
    check_services(inf, &services, &mut findings);
    check_instances(inf, &services, options, &mut findings);
    check_destinations(inf, &mut findings);
    check_source_disks(inf, &mut findings);
    findings
}

/// The services added by `AddService` in `DefaultInstall...Services` sections.
#[must_use]
pub fn services(inf: &Inf) -> Vec<ServiceInfo> {
    let strings = inf.strings();
    let mut found = Vec::new();
    for section in inf.sections.iter().filter(|s| {
        install_base(&s.name).is_some() && s.name.to_ascii_lowercase().ends_with(".services")
    }) {
        for entry in &section.entries {
            if !is_key(entry, "AddService") {
                continue;
            }
            let name = entry.fields.first().map(|f| expand_with(&strings, f));
            let install = entry.fields.get(2).map(|f| expand_with(&strings, f));
            if let (Some(name), Some(install)) = (name, install) {
                found.push(ServiceInfo {
                    name,
                    section: install,
                    added_by: section.name.clone(),
                    line: entry.line,
                });
            }
        }
    }
    found
}

/// Every `Instances\<name>\Altitude` value the INF registers.
#[must_use]
pub fn altitudes(inf: &Inf) -> Vec<AltitudeInfo> {
    services(inf)
        .iter()
        .flat_map(|service| registry_values(inf, &service.section))
        .filter(|value| value.name.eq_ignore_ascii_case("Altitude"))
        .map(|value| AltitudeInfo {
            key: value.key,
            value: value.data,
            line: value.line,
        })
        .collect()
}

// ------------------------------------------------------------------------------------------
// Rules
// ------------------------------------------------------------------------------------------

fn check_version(inf: &Inf, out: &mut Vec<Finding>) {
    let Some(version) = inf.section("Version") else {
        out.push(finding(inf, 0, Rule::VersionKey, "no [Version] section"));
        return;
    };
    let strings = inf.strings();
    for key in REQUIRED_VERSION_KEYS {
        let Some(entry) = version.get(key) else {
            out.push(finding(
                inf,
                version.line,
                Rule::VersionKey,
                &format!("[Version] has no {key}"),
            ));
            continue;
        };
        let value = expand_with(&strings, &entry.fields.join(","));
        let problem = match key {
            "Signature" if !value.eq_ignore_ascii_case("$WINDOWS NT$") => {
                Some(format!("Signature is {value:?}, expected \"$WINDOWS NT$\""))
            }
            "Class" if !value.eq_ignore_ascii_case(ACTIVITY_MONITOR_CLASS) => Some(format!(
                "Class is {value:?}, expected {ACTIVITY_MONITOR_CLASS:?}"
            )),
            "ClassGuid" if !value.eq_ignore_ascii_case(ACTIVITY_MONITOR_CLASS_GUID) => {
                Some(format!(
                    "ClassGuid is {value}, expected {ACTIVITY_MONITOR_CLASS_GUID} (ActivityMonitor)"
                ))
            }
            "Provider" if value.to_ascii_lowercase().contains("microsoft") => {
                Some(format!("Provider is {value:?}; it must not be Microsoft"))
            }
            "PnpLockdown" if value != "1" => Some(format!("PnpLockdown is {value:?}, expected 1")),
            _ if value.is_empty() => Some(format!("{key} is empty")),
            _ => None,
        };
        if let Some(message) = problem {
            out.push(finding(inf, entry.line, Rule::VersionKey, &message));
        }
    }
}

fn check_manufacturer(inf: &Inf, out: &mut Vec<Finding>) {
    for section in inf.sections_named("Manufacturer") {
        out.push(finding(
            inf,
            section.line,
            Rule::Manufacturer,
            "a primitive driver INF must not have a [Manufacturer] section",
        ));
    }
}

fn check_decorations(inf: &Inf, out: &mut Vec<Finding>) {
    for section in &inf.sections {
        let Some((base, rest)) = install_base(&section.name) else {
            continue;
        };
        if !is_arch_decorated(rest) {
            out.push(finding(
                inf,
                section.line,
                Rule::UndecoratedInstall,
                &format!(
                    "[{}] is not architecture-decorated; use [{base}.NT$ARCH${}]",
                    section.name,
                    if rest.eq_ignore_ascii_case(".services") {
                        ".Services"
                    } else {
                        ""
                    }
                ),
            ));
        }
    }
}

fn check_tokens(inf: &Inf, out: &mut Vec<Finding>) {
    let strings = inf.strings();
    for section in &inf.sections {
        let in_strings = is_strings_section(&section.name);
        for entry in &section.entries {
            let mut texts: Vec<&str> = entry.fields.iter().map(String::as_str).collect();
            if !in_strings {
                // Keys of [Strings] are definitions, not uses.
                texts.extend(entry.key.as_deref());
            }
            for text in texts {
                match tokens(text) {
                    Ok(found) => {
                        for token in found {
                            if token.bytes().all(|b| b.is_ascii_digit()) {
                                continue; // a dirid such as %13%
                            }
                            if !strings.contains_key(&token.to_ascii_lowercase()) {
                                out.push(finding(
                                    inf,
                                    entry.line,
                                    Rule::UndefinedToken,
                                    &format!("%{token}% is not defined in [Strings]"),
                                ));
                            }
                        }
                    }
                    Err(()) => out.push(finding(
                        inf,
                        entry.line,
                        Rule::UndefinedToken,
                        &format!("unterminated %token% in {text:?} (write %% for a literal %)"),
                    )),
                }
            }
        }
    }
}

fn check_section_references(inf: &Inf, out: &mut Vec<Finding>) {
    let strings = inf.strings();
    let mut missing = |line: usize, directive: &str, name: &str| {
        if !name.is_empty() && !inf.has_section(name) {
            out.push(finding(
                inf,
                line,
                Rule::MissingSection,
                &format!("{directive} names section [{name}], which does not exist"),
            ));
        }
    };
    for section in &inf.sections {
        let lower = section.name.to_ascii_lowercase();
        if is_strings_section(&lower)
            || matches!(
                lower.as_str(),
                "version" | "sourcedisksnames" | "sourcedisksfiles" | "manufacturer"
            )
            || lower.starts_with("sourcedisksnames.")
            || lower.starts_with("sourcedisksfiles.")
        {
            continue;
        }
        if lower == "destinationdirs" {
            for entry in &section.entries {
                if let Some(key) = &entry.key
                    && !key.eq_ignore_ascii_case("DefaultDestDir")
                {
                    missing(entry.line, "DestinationDirs", key);
                }
            }
            continue;
        }
        for entry in &section.entries {
            let Some(key) = entry.key.as_deref() else {
                continue;
            };
            let lower_key = key.to_ascii_lowercase();
            if SECTION_LIST_DIRECTIVES.contains(&lower_key.as_str()) {
                for field in &entry.fields {
                    let name = expand_with(&strings, field);
                    // `CopyFiles = @file.sys` copies one file, not a section.
                    if lower_key == "copyfiles" && name.starts_with('@') {
                        continue;
                    }
                    missing(entry.line, key, &name);
                }
            } else if lower_key == "addservice" {
                // AddService = name, flags, service-install-section[, event-log-install-section, ...]
                for index in [2, 3] {
                    if let Some(field) = entry.fields.get(index) {
                        missing(entry.line, key, &expand_with(&strings, field));
                    }
                }
                if entry.fields.get(2).is_none_or(|f| f.trim().is_empty()) {
                    missing(entry.line, key, "(none)");
                }
            }
        }
    }
}

fn check_legacy_uninstall(inf: &Inf, out: &mut Vec<Finding>) {
    for section in &inf.sections {
        let Some((base, rest)) = install_base(&section.name) else {
            continue;
        };
        if !base.eq_ignore_ascii_case("DefaultUninstall") {
            continue;
        }
        if rest.to_ascii_lowercase().ends_with(".services") {
            let owner = &section.name[..section.name.len() - ".services".len()];
            if !inf.has_section(owner) {
                out.push(finding(
                    inf,
                    section.line,
                    Rule::LegacyUninstall,
                    &format!(
                        "[{}] has no [{owner}] carrying LegacyUninstall = 1",
                        section.name
                    ),
                ));
            }
            continue;
        }
        let value = section.get("LegacyUninstall").map(|e| e.fields.join(","));
        if value.as_deref().map(str::trim) != Some("1") {
            out.push(finding(
                inf,
                section.line,
                Rule::LegacyUninstall,
                &format!(
                    "[{}] must contain LegacyUninstall = 1 (DefaultUninstall is otherwise \
                     forbidden for primitive drivers)",
                    section.name
                ),
            ));
        }
    }
}

fn check_services(inf: &Inf, services: &[ServiceInfo], out: &mut Vec<Finding>) {
    let installs: Vec<&Section> = inf
        .sections
        .iter()
        .filter(|s| {
            install_base(&s.name).is_some_and(|(base, rest)| {
                base.eq_ignore_ascii_case("DefaultInstall")
                    && !rest.to_ascii_lowercase().ends_with(".services")
            })
        })
        .collect();
    if installs.is_empty() {
        out.push(finding(
            inf,
            0,
            Rule::Service,
            "no [DefaultInstall.NT$ARCH$] section",
        ));
    }
    for install in installs {
        let services_section = format!("{}.Services", install.name);
        if !services
            .iter()
            .any(|s| s.added_by.eq_ignore_ascii_case(&services_section))
        {
            out.push(finding(
                inf,
                install.line,
                Rule::Service,
                &format!(
                    "[{services_section}] adds no service for [{}]",
                    install.name
                ),
            ));
        }
    }
    for service in services {
        if let Some(section) = inf.section(&service.section) {
            check_service_section(inf, section, out);
        } // else: reported as missing-section
    }
}

fn check_service_section(inf: &Inf, section: &Section, out: &mut Vec<Finding>) {
    let strings = inf.strings();
    let value = |key: &str| section.get(key).map(|e| (e.line, e.fields.clone()));
    let number = |key: &str, expected: u32, meaning: &str, out: &mut Vec<Finding>| match value(key)
    {
        None => out.push(finding(
            inf,
            section.line,
            Rule::Service,
            &format!(
                "[{}] has no {key} (expected {expected}, {meaning})",
                section.name
            ),
        )),
        Some((line, fields)) => {
            let text = expand_with(&strings, &fields.join(","));
            if parse_number(&text) != Some(expected) {
                out.push(finding(
                    inf,
                    line,
                    Rule::Service,
                    &format!("{key} is {text:?}, expected {expected} ({meaning})"),
                ));
            }
        }
    };
    number("ServiceType", 2, "SERVICE_FILE_SYSTEM_DRIVER", out);
    number("StartType", 3, "SERVICE_DEMAND_START", out);
    number("ErrorControl", 1, "SERVICE_ERROR_NORMAL", out);
    match value("LoadOrderGroup") {
        None => out.push(finding(
            inf,
            section.line,
            Rule::Service,
            &format!("[{}] has no LoadOrderGroup", section.name),
        )),
        Some((line, fields)) => {
            let group = expand_with(&strings, &fields.join(","));
            if !group.starts_with("FSFilter ") {
                out.push(finding(
                    inf,
                    line,
                    Rule::Service,
                    &format!("LoadOrderGroup is {group:?}, expected an \"FSFilter ...\" group"),
                ));
            }
        }
    }
    match value("Dependencies") {
        Some((_, fields))
            if fields
                .iter()
                .any(|f| expand_with(&strings, f).eq_ignore_ascii_case("FltMgr")) => {}
        Some((line, _)) => out.push(finding(
            inf,
            line,
            Rule::Service,
            "Dependencies must include FltMgr",
        )),
        None => out.push(finding(
            inf,
            section.line,
            Rule::Service,
            &format!(
                "[{}] has no Dependencies (must include FltMgr)",
                section.name
            ),
        )),
    }
    match value("ServiceBinary") {
        Some((line, fields)) => {
            let binary = expand_with(&strings, &fields.join(","));
            if binary_dirid(&binary).is_none() || !binary.to_ascii_lowercase().ends_with(".sys") {
                out.push(finding(
                    inf,
                    line,
                    Rule::Service,
                    &format!("ServiceBinary {binary:?} should be %13%\\<name>.sys"),
                ));
            }
        }
        None => out.push(finding(
            inf,
            section.line,
            Rule::Service,
            &format!("[{}] has no ServiceBinary", section.name),
        )),
    }
}

/// One `HKR,...` value written by a service's `AddReg` sections.
struct RegValue {
    key: String,
    name: String,
    flags: u32,
    data: String,
    line: usize,
}

fn registry_values(inf: &Inf, service_section: &str) -> Vec<RegValue> {
    let strings = inf.strings();
    let Some(section) = inf.section(service_section) else {
        return Vec::new();
    };
    let mut values = Vec::new();
    for entry in section.entries.iter().filter(|e| is_key(e, "AddReg")) {
        for name in &entry.fields {
            let name = expand_with(&strings, name);
            for reg in inf.sections_named(&name) {
                for line in reg.entries.iter().filter(|e| e.key.is_none()) {
                    let field = |i: usize| {
                        line.fields
                            .get(i)
                            .map(|f| expand_with(&strings, f))
                            .unwrap_or_default()
                    };
                    if !field(0).eq_ignore_ascii_case("HKR") {
                        continue;
                    }
                    values.push(RegValue {
                        key: field(1),
                        name: field(2),
                        flags: parse_number(&field(3)).unwrap_or(0),
                        data: field(4),
                        line: line.line,
                    });
                }
            }
        }
    }
    values
}

fn check_instances(inf: &Inf, services: &[ServiceInfo], options: &Options, out: &mut Vec<Finding>) {
    const REG_SZ: u32 = 0x0000_0000;
    const REG_DWORD: u32 = 0x0001_0001;
    let mut bases = BTreeSet::new();
    for service in services {
        let Some(section) = inf.section(&service.section) else {
            continue;
        };
        let values = registry_values(inf, &service.section);
        let default = values.iter().find(|v| {
            v.name.eq_ignore_ascii_case("DefaultInstance")
                && matches!(instances_base(&v.key), Some((_, None)))
        });
        let Some(default) = default else {
            out.push(finding(
                inf,
                section.line,
                Rule::Instances,
                &format!(
                    "service section [{}] registers no Instances\\DefaultInstance",
                    section.name
                ),
            ));
            continue;
        };
        let Some((base, _)) = instances_base(&default.key) else {
            continue;
        };
        bases.insert(base.to_ascii_lowercase());
        let instance_key = format!("{}\\{}", default.key, default.data);
        for (value_name, reg_type, type_name) in [
            ("Altitude", REG_SZ, "REG_SZ"),
            ("Flags", REG_DWORD, "REG_DWORD"),
        ] {
            let found = values.iter().find(|v| {
                v.key.eq_ignore_ascii_case(&instance_key) && v.name.eq_ignore_ascii_case(value_name)
            });
            match found {
                None => out.push(finding(
                    inf,
                    default.line,
                    Rule::Instances,
                    &format!(
                        "default instance {:?} has no {value_name} under {instance_key:?}",
                        default.data
                    ),
                )),
                Some(v) if v.flags != reg_type => out.push(finding(
                    inf,
                    v.line,
                    Rule::Instances,
                    &format!("{value_name} must be written as {type_name} (0x{reg_type:08x})"),
                )),
                Some(_) => {}
            }
        }
        for value in values
            .iter()
            .filter(|v| v.name.eq_ignore_ascii_case("Altitude"))
        {
            check_altitude(inf, value, options, out);
        }
    }
    if !services.is_empty() {
        for (base, place) in [
            (
                "parameters\\instances",
                "Parameters\\Instances (Windows builds 25952 and later)",
            ),
            ("instances", "Instances (earlier builds)"),
        ] {
            if !bases.contains(base) {
                out.push(finding(
                    inf,
                    0,
                    Rule::Instances,
                    &format!("no service registers its instances under {place}"),
                ));
            }
        }
    }
}

fn check_altitude(inf: &Inf, value: &RegValue, options: &Options, out: &mut Vec<Finding>) {
    let text = value.data.trim();
    let whole = text.split('.').next().unwrap_or_default();
    let parsed = if !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && text
            .split_once('.')
            .is_none_or(|(_, frac)| !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit()))
    {
        whole.parse::<u32>().ok()
    } else {
        None
    };
    let Some(number) = parsed else {
        out.push(finding(
            inf,
            value.line,
            Rule::Altitude,
            &format!("altitude {text:?} is not a decimal number"),
        ));
        return;
    };
    if !ACTIVITY_MONITOR_ALTITUDES.contains(&number) {
        out.push(finding(
            inf,
            value.line,
            Rule::Altitude,
            &format!(
                "altitude {text} is outside the FSFilter Activity Monitor range {}-{}",
                ACTIVITY_MONITOR_ALTITUDES.start(),
                ACTIVITY_MONITOR_ALTITUDES.end()
            ),
        ));
    }
    if let Some(expected) = options.expected_altitude
        && (text != expected.to_string())
    {
        out.push(finding(
            inf,
            value.line,
            Rule::Altitude,
            &format!("altitude {text} differs from the expected {expected}"),
        ));
    }
}

fn check_destinations(inf: &Inf, out: &mut Vec<Finding>) {
    let strings = inf.strings();
    let dirs = inf.section("DestinationDirs");
    let dirid_of = |name: &str| -> Option<u32> {
        let dirs = dirs?;
        let entry = dirs.get(name).or_else(|| dirs.get("DefaultDestDir"))?;
        parse_number(&expand_with(&strings, entry.fields.first()?))
    };
    let all_services = services(inf);
    let mut uses_driver_store = false;
    for install in inf.sections.iter().filter(|s| {
        install_base(&s.name).is_some_and(|(base, rest)| {
            base.eq_ignore_ascii_case("DefaultInstall")
                && !rest.to_ascii_lowercase().ends_with(".services")
        })
    }) {
        let mut copied = BTreeSet::new();
        for entry in install.entries.iter().filter(|e| is_key(e, "CopyFiles")) {
            for field in &entry.fields {
                let name = expand_with(&strings, field);
                if name.is_empty() {
                    continue; // a trailing comma
                }
                if name.starts_with('@') {
                    copied.insert(dirid_of("DefaultDestDir"));
                    continue;
                }
                let dirid = dirid_of(&name);
                if dirid.is_none() {
                    out.push(finding(
                        inf,
                        entry.line,
                        Rule::DestinationDirs,
                        &format!("[DestinationDirs] gives no directory for [{name}]"),
                    ));
                }
                copied.insert(dirid);
            }
        }
        let services_section = format!("{}.Services", install.name);
        for service in all_services
            .iter()
            .filter(|s| s.added_by.eq_ignore_ascii_case(&services_section))
        {
            let Some(binary) = inf
                .section(&service.section)
                .and_then(|s| s.get("ServiceBinary"))
            else {
                continue;
            };
            let dirid = binary_dirid(&expand_with(&strings, &binary.fields.join(",")));
            if dirid == Some(13) {
                uses_driver_store = true;
            }
            if dirid.is_some() && !copied.contains(&dirid) {
                out.push(finding(
                    inf,
                    binary.line,
                    Rule::DestinationDirs,
                    &format!(
                        "ServiceBinary points at dirid {} but [{}] copies no files there",
                        dirid.unwrap_or_default(),
                        install.name
                    ),
                ));
            }
        }
    }
    if !all_services.is_empty() && !uses_driver_store {
        out.push(finding(
            inf,
            0,
            Rule::DestinationDirs,
            "no install path runs the driver from the driver store (dirid 13)",
        ));
    }
}

fn check_source_disks(inf: &Inf, out: &mut Vec<Finding>) {
    let strings = inf.strings();
    let mut disks = BTreeSet::new();
    let mut files = BTreeMap::new();
    for section in &inf.sections {
        let lower = section.name.to_ascii_lowercase();
        if lower == "sourcedisksnames" || lower.starts_with("sourcedisksnames.") {
            for entry in &section.entries {
                if let Some(key) = &entry.key {
                    disks.insert(expand_with(&strings, key));
                }
            }
        } else if lower == "sourcedisksfiles" || lower.starts_with("sourcedisksfiles.") {
            for entry in &section.entries {
                if let Some(key) = &entry.key {
                    let disk = entry
                        .fields
                        .first()
                        .map(|f| expand_with(&strings, f))
                        .unwrap_or_default();
                    files.insert(
                        expand_with(&strings, key).to_ascii_lowercase(),
                        (entry.line, disk),
                    );
                }
            }
        }
    }
    for (line, disk) in files.values() {
        if !disks.contains(disk) {
            out.push(finding(
                inf,
                *line,
                Rule::SourceDisks,
                &format!("disk {disk:?} is not listed in [SourceDisksNames]"),
            ));
        }
    }
    let mut copy_sections = BTreeSet::new();
    for section in &inf.sections {
        for entry in section.entries.iter().filter(|e| is_key(e, "CopyFiles")) {
            for field in &entry.fields {
                let name = expand_with(&strings, field);
                if name.is_empty() {
                    continue;
                }
                if let Some(file) = name.strip_prefix('@') {
                    if !files.contains_key(&file.to_ascii_lowercase()) {
                        out.push(finding(
                            inf,
                            entry.line,
                            Rule::SourceDisks,
                            &format!("{file} is not listed in [SourceDisksFiles]"),
                        ));
                    }
                } else {
                    copy_sections.insert(name.to_ascii_lowercase());
                }
            }
        }
    }
    for section in inf
        .sections
        .iter()
        .filter(|s| copy_sections.contains(&s.name.to_ascii_lowercase()))
    {
        for entry in section.entries.iter().filter(|e| e.key.is_none()) {
            // destination-file-name[, source-file-name, ...]
            let source = entry
                .fields
                .get(1)
                .filter(|f| !f.trim().is_empty())
                .or_else(|| entry.fields.first());
            let Some(source) = source else { continue };
            let file = expand_with(&strings, source);
            if !files.contains_key(&file.to_ascii_lowercase()) {
                out.push(finding(
                    inf,
                    entry.line,
                    Rule::SourceDisks,
                    &format!("{file} is not listed in [SourceDisksFiles]"),
                ));
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------------

fn finding(inf: &Inf, line: usize, rule: Rule, message: &str) -> Finding {
    Finding {
        file: inf.file.clone(),
        line,
        rule,
        message: message.to_owned(),
    }
}

fn syntax(file: &str, line: usize, message: &str) -> Finding {
    Finding {
        file: file.to_owned(),
        line,
        rule: Rule::Syntax,
        message: message.to_owned(),
    }
}

fn is_key(entry: &Entry, key: &str) -> bool {
    entry
        .key
        .as_deref()
        .is_some_and(|k| k.eq_ignore_ascii_case(key))
}

fn is_strings_section(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower == "strings" || lower.starts_with("strings.")
}

/// Splits `DefaultInstall.NT$ARCH$.Services` into (`DefaultInstall`, `.NT$ARCH$.Services`).
fn install_base(name: &str) -> Option<(&'static str, &str)> {
    for base in ["DefaultInstall", "DefaultUninstall"] {
        if name.len() >= base.len() && name[..base.len()].eq_ignore_ascii_case(base) {
            let rest = &name[base.len()..];
            if rest.is_empty() || rest.starts_with('.') {
                return Some((base, rest));
            }
        }
    }
    None
}

/// Whether the part after `DefaultInstall` starts with `.NT<arch>` (`<arch>` one of
/// [`ARCHITECTURES`]), optionally followed by an OS version and `.Services`.
fn is_arch_decorated(rest: &str) -> bool {
    let lower = rest.to_ascii_lowercase();
    let Some(after_nt) = lower.strip_prefix(".nt") else {
        return false;
    };
    let arch = after_nt.split('.').next().unwrap_or_default();
    ARCHITECTURES.contains(&arch)
}

/// For `Instances`, `Parameters\Instances` or `...\Instances\<name>`: the base key and the
/// instance name, if any.
fn instances_base(key: &str) -> Option<(&str, Option<&str>)> {
    let lower = key.to_ascii_lowercase();
    for base in ["parameters\\instances", "instances"] {
        if lower == base {
            return Some((&key[..base.len()], None));
        }
        if lower.starts_with(base) && lower[base.len()..].starts_with('\\') {
            return Some((&key[..base.len()], Some(&key[base.len() + 1..])));
        }
    }
    None
}

/// The dirid a `%NN%\file.sys` service binary starts with.
fn binary_dirid(binary: &str) -> Option<u32> {
    let rest = binary.strip_prefix('%')?;
    let (number, tail) = rest.split_once('%')?;
    if !tail.starts_with('\\') {
        return None;
    }
    number.parse().ok()
}

/// Parses `12`, `0x1`, `0x00010001`.
fn parse_number(text: &str) -> Option<u32> {
    let text = text.trim();
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        u32::from_str_radix(hex, 16).ok()
    } else {
        text.parse().ok()
    }
}

/// Removes a `;` comment (outside quotes). `Err` if a quote is left open.
fn strip_comment(line: &str) -> Result<&str, ()> {
    let mut in_quotes = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes, // `""` inside quotes toggles twice: still inside
            ';' if !in_quotes => return Ok(&line[..i]),
            _ => {}
        }
    }
    if in_quotes { Err(()) } else { Ok(line) }
}

fn find_unquoted(text: &str, wanted: char) -> Option<usize> {
    let mut in_quotes = false;
    for (i, c) in text.char_indices() {
        if c == '"' {
            in_quotes = !in_quotes;
        } else if c == wanted && !in_quotes {
            return Some(i);
        }
    }
    None
}

fn split_fields(value: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut rest = value;
    while let Some(at) = find_unquoted(rest, ',') {
        fields.push(rest[..at].trim().to_owned());
        rest = &rest[at + 1..];
    }
    fields.push(rest.trim().to_owned());
    if fields.len() == 1 && fields[0].is_empty() {
        fields.clear();
    }
    fields
}

/// Removes quoting: `"a""b"` → `a"b`; unquoted text is kept as is.
fn unquote(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.trim().chars().peekable();
    let mut in_quotes = false;
    while let Some(c) = chars.next() {
        if c == '"' {
            if in_quotes && chars.peek() == Some(&'"') {
                out.push('"');
                chars.next();
            } else {
                in_quotes = !in_quotes;
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The `%token%` names in a raw field. `Err` on an unpaired `%`.
fn tokens(raw: &str) -> Result<Vec<&str>, ()> {
    let mut found = Vec::new();
    let mut rest = raw;
    while let Some(start) = rest.find('%') {
        let after = &rest[start + 1..];
        let end = after.find('%').ok_or(())?;
        if end > 0 {
            found.push(&after[..end]);
        }
        rest = &after[end + 1..];
    }
    Ok(found)
}

fn expand_with(strings: &BTreeMap<String, String>, raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.trim().char_indices().peekable();
    let mut in_quotes = false;
    while let Some((i, c)) = chars.next() {
        match c {
            '"' if in_quotes && chars.peek().is_some_and(|&(_, n)| n == '"') => {
                out.push('"');
                chars.next();
            }
            '"' => in_quotes = !in_quotes,
            '%' => {
                let after = &raw.trim()[i + 1..];
                let Some(end) = after.find('%') else {
                    out.push('%');
                    continue;
                };
                let token = &after[..end];
                if token.is_empty() {
                    out.push('%');
                } else if let Some(value) = strings.get(&token.to_ascii_lowercase()) {
                    out.push_str(value);
                } else {
                    out.push('%');
                    out.push_str(token);
                    out.push('%');
                }
                // Skip the token and its closing `%`.
                for _ in 0..=after[..end].chars().count() {
                    chars.next();
                }
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn fields_quotes_and_tokens() {
        let mut strings = BTreeMap::new();
        strings.insert("name".to_owned(), "My Instance".to_owned());
        assert_eq!(
            split_fields(r#"HKR,"Instances\"%Name%,"Altitude",0x0,"1, 2""#),
            vec![
                "HKR",
                r#""Instances\"%Name%"#,
                r#""Altitude""#,
                "0x0",
                r#""1, 2""#
            ]
        );
        assert_eq!(
            expand_with(&strings, r#""Instances\"%Name%"#),
            r"Instances\My Instance"
        );
        assert_eq!(expand_with(&strings, r"%13%\x.sys"), r"%13%\x.sys");
        assert_eq!(expand_with(&strings, "100%%"), "100%");
        assert_eq!(unquote(r#""say ""hi""""#), r#"say "hi""#);
        assert_eq!(tokens("%a%-%13%"), Ok(vec!["a", "13"]));
        assert_eq!(tokens("50%"), Err(()));
    }

    #[test]
    fn comments_and_continuations() {
        let text = "[A]\nKey = \"x;y\" ; comment\nList = one, \\\n   two ; tail\n";
        let (inf, findings) = Inf::parse("t.inf", text);
        assert!(findings.is_empty(), "{findings:?}");
        let a = inf.section("a").unwrap();
        assert_eq!(a.get("key").unwrap().fields, vec!["\"x;y\""]);
        let list = a.get("List").unwrap();
        assert_eq!(list.line, 3);
        assert_eq!(list.fields, vec!["one", "two"]);
    }

    #[test]
    fn syntax_errors_are_reported_with_lines() {
        let (_, findings) = Inf::parse("t.inf", "orphan = 1\n[A\n[B]\nk = \"open\n");
        let lines: Vec<_> = findings.iter().map(|f| (f.line, f.rule)).collect();
        assert_eq!(
            lines,
            vec![(1, Rule::Syntax), (2, Rule::Syntax), (4, Rule::Syntax)]
        );
    }

    #[test]
    fn decorations() {
        assert!(is_arch_decorated(".NT$ARCH$"));
        assert!(is_arch_decorated(".NTamd64.Services"));
        assert!(is_arch_decorated(".NT$ARCH$.10.0...25952"));
        assert!(!is_arch_decorated(""));
        assert!(!is_arch_decorated(".Services"));
        assert!(!is_arch_decorated(".NT"));
        assert!(!is_arch_decorated(".NT.Services"));
        assert_eq!(install_base("DefaultInstallFoo"), None);
    }

    #[test]
    fn utf16_decoding() {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in "[Version]".encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        assert_eq!(decode(&bytes).as_deref(), Some("[Version]"));
        assert_eq!(decode(&[0xFF, 0xFE, 0x00]), None);
    }
}
