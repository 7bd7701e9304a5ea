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

use std::fmt;
use std::path::Path;

mod parse;
mod rules;

use parse::expand_with;
pub use parse::{Entry, Inf, Section};
use rules::{install_base, is_key, registry_values};

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
    rules::check_version(inf, &mut findings);
    rules::check_manufacturer(inf, &mut findings);
    rules::check_decorations(inf, &mut findings);
    rules::check_tokens(inf, &mut findings);
    rules::check_section_references(inf, &mut findings);
    rules::check_legacy_uninstall(inf, &mut findings);
    let services = services(inf);
    rules::check_services(inf, &services, &mut findings);
    rules::check_instances(inf, &services, options, &mut findings);
    rules::check_destinations(inf, &mut findings);
    rules::check_source_disks(inf, &mut findings);
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

#[cfg(test)]
mod unit {
    use std::collections::BTreeMap;

    use super::parse::{split_fields, tokens, unquote};
    use super::rules::is_arch_decorated;
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
