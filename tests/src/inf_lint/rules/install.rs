//! `[Version]`, `[Manufacturer]`, install-section decorations, tokens, the sections directives
//! name, and `LegacyUninstall`.

use crate::inf_lint::parse::{Inf, expand_with, tokens};
use crate::inf_lint::rules::{finding, install_base, is_arch_decorated, is_strings_section};
use crate::inf_lint::{
    ACTIVITY_MONITOR_CLASS, ACTIVITY_MONITOR_CLASS_GUID, Finding, REQUIRED_VERSION_KEYS, Rule,
    SECTION_LIST_DIRECTIVES,
};

pub(crate) fn check_version(inf: &Inf, out: &mut Vec<Finding>) {
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

pub(crate) fn check_manufacturer(inf: &Inf, out: &mut Vec<Finding>) {
    for section in inf.sections_named("Manufacturer") {
        out.push(finding(
            inf,
            section.line,
            Rule::Manufacturer,
            "a primitive driver INF must not have a [Manufacturer] section",
        ));
    }
}

pub(crate) fn check_decorations(inf: &Inf, out: &mut Vec<Finding>) {
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

pub(crate) fn check_tokens(inf: &Inf, out: &mut Vec<Finding>) {
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

pub(crate) fn check_section_references(inf: &Inf, out: &mut Vec<Finding>) {
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

pub(crate) fn check_legacy_uninstall(inf: &Inf, out: &mut Vec<Finding>) {
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
