//! The INF lint over `inf/ferrofilter.inx`, plus negative controls: mutated copies of the real
//! file that must each fail with the right rule.

use std::path::PathBuf;

use ferrofilter_core::protocol::ALTITUDE;
use ferrofilter_tests::inf_lint::{self, Finding, Inf, Options, Rule};

fn inx_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../inf/ferrofilter.inx")
}

fn inx_text() -> String {
    let bytes = std::fs::read(inx_path()).expect("inf/ferrofilter.inx is readable");
    inf_lint::decode(&bytes).expect("inf/ferrofilter.inx is UTF-8 or UTF-16 LE")
}

fn options() -> Options {
    Options {
        expected_altitude: Some(ALTITUDE),
    }
}

fn lint(text: &str) -> Vec<Finding> {
    inf_lint::lint_str("ferrofilter.inx", text, &options())
}

/// Replaces exactly one occurrence of `from`, so a mutation cannot silently miss.
fn mutate(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "mutation anchor {from:?} must occur exactly once in ferrofilter.inx"
    );
    text.replacen(from, to, 1)
}

fn rules(findings: &[Finding]) -> Vec<Rule> {
    findings.iter().map(|f| f.rule).collect()
}

/// Asserts that the findings contain `rule` and nothing unexpected beyond `allowed`.
fn assert_fails_with(findings: &[Finding], rule: Rule, allowed: &[Rule]) {
    let listing: Vec<String> = findings.iter().map(ToString::to_string).collect();
    assert!(
        findings.iter().any(|f| f.rule == rule),
        "expected a [{rule}] finding, got:\n{}",
        listing.join("\n")
    );
    for finding in findings {
        assert!(
            finding.rule == rule || allowed.contains(&finding.rule),
            "unexpected finding besides [{rule}]: {finding}"
        );
    }
}

#[test]
fn the_real_inx_passes() {
    let findings = inf_lint::lint_path(&inx_path(), &options()).expect("readable");
    let listing: Vec<String> = findings.iter().map(ToString::to_string).collect();
    assert!(
        findings.is_empty(),
        "lint findings:\n{}",
        listing.join("\n")
    );
}

#[test]
fn the_real_inx_altitude_is_the_protocol_altitude() {
    let (inf, findings) = Inf::parse("ferrofilter.inx", &inx_text());
    assert!(findings.is_empty(), "{findings:?}");
    let altitudes = inf_lint::altitudes(&inf);
    // One instance, registered at both locations (Parameters\Instances and Instances).
    assert_eq!(altitudes.len(), 2, "{altitudes:?}");
    for altitude in &altitudes {
        assert_eq!(altitude.value, ALTITUDE.to_string(), "{altitude:?}");
    }
    assert!(inf_lint::ACTIVITY_MONITOR_ALTITUDES.contains(&ALTITUDE));
}

#[test]
fn the_real_inx_adds_the_ferrofilter_service_on_both_paths() {
    let (inf, _) = Inf::parse("ferrofilter.inx", &inx_text());
    let services = inf_lint::services(&inf);
    assert_eq!(services.len(), 2, "{services:?}");
    // `fltmc load ferrofilter` and `verifier /driver ferrofilter.sys` rely on this name.
    assert!(
        services.iter().all(|s| s.name == "ferrofilter"),
        "{services:?}"
    );
}

#[test]
fn findings_name_file_line_and_rule() {
    let text = mutate(&inx_text(), "PnpLockdown = 1", "PnpLockdown = 0");
    let findings = lint(&text);
    assert_eq!(findings.len(), 1, "{findings:?}");
    let line = text
        .lines()
        .position(|l| l.starts_with("PnpLockdown"))
        .map(|i| i + 1)
        .unwrap();
    assert_eq!(findings[0].line, line);
    let shown = findings[0].to_string();
    assert!(
        shown.starts_with(&format!("ferrofilter.inx:{line}: [version-key] ")),
        "{shown}"
    );
}

// ------------------------------------------------------------------------------------------
// Negative controls
// ------------------------------------------------------------------------------------------

#[test]
fn missing_section_is_caught() {
    // The AddReg section of the service disappears; the directive still names it.
    let text = mutate(&inx_text(), "[FerroFilter.AddReg]", "[FerroFilter.Renamed]");
    let findings = lint(&text);
    // Without its AddReg section the service also registers no instances.
    assert_fails_with(&findings, Rule::MissingSection, &[Rule::Instances]);
    assert!(
        findings
            .iter()
            .any(|f| f.rule == Rule::MissingSection && f.message.contains("FerroFilter.AddReg")),
        "{findings:?}"
    );
}

#[test]
fn missing_service_install_section_is_caught() {
    let text = mutate(
        &inx_text(),
        "AddService = %ServiceName%,,FerroFilter.Service",
        "AddService = %ServiceName%,,FerroFilter.Nowhere",
    );
    // That install path now has no service binary and registers no instances either.
    assert_fails_with(
        &lint(&text),
        Rule::MissingSection,
        &[Rule::Instances, Rule::DestinationDirs],
    );
}

#[test]
fn manufacturer_section_is_caught() {
    let text = format!(
        "{}\n[Manufacturer]\n%ProviderName% = Models,NT$ARCH$\n",
        inx_text()
    );
    // The Models section it names does not exist, but Manufacturer is not scanned for
    // references: the only finding is the forbidden section itself.
    assert_fails_with(&lint(&text), Rule::Manufacturer, &[]);
}

#[test]
fn undecorated_default_install_is_caught() {
    let text = mutate(
        &inx_text(),
        "[DefaultInstall.NT$ARCH$.10.0...22000]\n",
        "[DefaultInstall]\n",
    );
    // [DefaultInstall.NT$ARCH$.10.0...22000.Services] has lost its install section, and the new
    // [DefaultInstall] has no [DefaultInstall.Services].
    assert_fails_with(&lint(&text), Rule::UndecoratedInstall, &[Rule::Service]);
}

#[test]
fn undecorated_default_uninstall_services_is_caught() {
    let text = mutate(
        &inx_text(),
        "[DefaultUninstall.NT$ARCH$.10.0...22000.Services]",
        "[DefaultUninstall.Services]",
    );
    assert_fails_with(
        &lint(&text),
        Rule::UndecoratedInstall,
        &[Rule::LegacyUninstall],
    );
}

#[test]
fn undefined_token_is_caught() {
    let text = mutate(
        &inx_text(),
        "DisplayName    = %ServiceDisplayName%\nDescription    = %ServiceDescription%\nServiceBinary  = %13%",
        "DisplayName    = %NoSuchString%\nDescription    = %ServiceDescription%\nServiceBinary  = %13%",
    );
    let findings = lint(&text);
    assert_fails_with(&findings, Rule::UndefinedToken, &[]);
    assert!(
        findings[0].message.contains("%NoSuchString%"),
        "{findings:?}"
    );
}

#[test]
fn wrong_altitude_is_caught() {
    // Still inside the Activity Monitor range, but not the protocol's altitude.
    let text = mutate(&inx_text(), "\"385201\"", "\"385202\"");
    let findings = lint(&text);
    assert_fails_with(&findings, Rule::Altitude, &[]);
    assert!(
        findings.iter().all(|f| f.message.contains("differs")),
        "{findings:?}"
    );
}

#[test]
fn altitude_outside_activity_monitor_range_is_caught() {
    let text = mutate(&inx_text(), "\"385201\"", "\"320000\"");
    let findings = inf_lint::lint_str("ferrofilter.inx", &text, &Options::default());
    assert_fails_with(&findings, Rule::Altitude, &[]);
    assert!(
        findings.iter().all(|f| f.message.contains("range")),
        "{findings:?}"
    );
}

#[test]
fn missing_legacy_uninstall_is_caught() {
    let text = mutate(&inx_text(), "LegacyUninstall = 1\n", "");
    assert_fails_with(&lint(&text), Rule::LegacyUninstall, &[]);
}

#[test]
fn missing_version_key_is_caught() {
    let text = mutate(&inx_text(), "CatalogFile = ferrofilter.cat\n", "");
    let findings = lint(&text);
    assert_fails_with(&findings, Rule::VersionKey, &[]);
    assert!(findings[0].message.contains("CatalogFile"), "{findings:?}");
}

#[test]
fn microsoft_provider_is_caught() {
    let text = mutate(
        &inx_text(),
        "ProviderName       = \"ferrofilter project\"",
        "ProviderName       = \"Microsoft\"",
    );
    assert_fails_with(&lint(&text), Rule::VersionKey, &[]);
}

#[test]
fn wrong_service_type_and_group_are_caught() {
    let text = mutate(
        &inx_text(),
        "ServiceBinary  = %12%\\ferrofilter.sys\nServiceType    = 2",
        "ServiceBinary  = %12%\\ferrofilter.sys\nServiceType    = 1",
    );
    assert_fails_with(&lint(&text), Rule::Service, &[]);
    let text = inx_text().replace("\"FSFilter Activity Monitor\"", "\"Filter\"");
    let findings = lint(&text);
    assert_fails_with(&findings, Rule::Service, &[]);
    assert_eq!(findings.len(), 2, "both services are checked: {findings:?}");
}

#[test]
fn missing_fltmgr_dependency_is_caught() {
    let text = inx_text().replace("Dependencies   = \"FltMgr\"", "Dependencies   = \"Tcpip\"");
    assert_eq!(rules(&lint(&text)), vec![Rule::Service, Rule::Service]);
}

#[test]
fn instances_missing_downlevel_location_is_caught() {
    let text = inx_text().replace("HKR,\"Instances", "HKR,\"Parameters\\Instances");
    assert_fails_with(&lint(&text), Rule::Instances, &[]);
}

#[test]
fn instance_flags_missing_is_caught() {
    let text = mutate(
        &inx_text(),
        "HKR,\"Instances\\\"%Instance1.Name%,\"Flags\",0x00010001,%Instance1.Flags%\n",
        "",
    );
    assert_fails_with(&lint(&text), Rule::Instances, &[]);
}

#[test]
fn service_binary_not_where_files_go_is_caught() {
    let text = mutate(
        &inx_text(),
        "FerroFilter.CopyFiles         = 13",
        "FerroFilter.CopyFiles         = 12",
    );
    let findings = lint(&text);
    assert_fails_with(&findings, Rule::DestinationDirs, &[]);
}

#[test]
fn uncopied_source_file_is_caught() {
    let text = mutate(&inx_text(), "ferrofilter.sys = 1,,\n", "");
    assert_fails_with(&lint(&text), Rule::SourceDisks, &[]);
}

#[test]
fn unlisted_single_file_copy_is_caught() {
    let text = mutate(
        &inx_text(),
        "CopyFiles  = FerroFilter.CopyFiles\n",
        "CopyFiles  = FerroFilter.CopyFiles, @missing.sys\n",
    );
    let findings = lint(&text);
    assert_fails_with(&findings, Rule::SourceDisks, &[]);
    assert!(
        findings
            .iter()
            .any(|f| f.message == "missing.sys is not listed in [SourceDisksFiles]"),
        "{findings:?}"
    );
}

#[test]
fn syntax_error_is_caught() {
    let text = mutate(
        &inx_text(),
        "Class       = \"ActivityMonitor\"",
        "Class       = \"ActivityMonitor",
    );
    // The broken line is dropped, so [Version] also lacks Class.
    assert_fails_with(&lint(&text), Rule::Syntax, &[Rule::VersionKey]);
}

#[test]
fn continuation_lines_are_joined() {
    let text = mutate(
        &inx_text(),
        "AddReg         = FerroFilter.AddReg\n",
        "AddReg         = \\\n                 FerroFilter.AddReg\n",
    );
    assert!(lint(&text).is_empty(), "{:?}", lint(&text));
    let text = mutate(
        &inx_text(),
        "AddReg         = FerroFilter.AddReg\n",
        "AddReg         = \\\n                 FerroFilter.Gone\n",
    );
    assert_fails_with(&lint(&text), Rule::MissingSection, &[Rule::Instances]);
}

#[test]
fn utf16_copy_lints_the_same() {
    let mut bytes = vec![0xFF, 0xFE];
    for unit in inx_text().replace('\n', "\r\n").encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    let text = inf_lint::decode(&bytes).expect("valid UTF-16 LE");
    assert!(lint(&text).is_empty());
}
