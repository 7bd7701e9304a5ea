//! Where files are copied to and where they come from: `[DestinationDirs]` and the source disks.

use crate::inf_lint::parse::{Inf, expand_with};
use crate::inf_lint::rules::{binary_dirid, finding, install_base, is_key, parse_number};
use crate::inf_lint::{Finding, Rule, services};
use std::collections::{BTreeMap, BTreeSet};

pub(crate) fn check_destinations(inf: &Inf, out: &mut Vec<Finding>) {
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

pub(crate) fn check_source_disks(inf: &Inf, out: &mut Vec<Finding>) {
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
    let mut check_listed = |file: &str, line: usize| {
        if !files.contains_key(&file.to_ascii_lowercase()) {
            out.push(finding(
                inf,
                line,
                Rule::SourceDisks,
                &format!("{file} is not listed in [SourceDisksFiles]"),
            ));
        }
    };
    let mut copy_sections = BTreeSet::new();
    for section in &inf.sections {
        for entry in section.entries.iter().filter(|e| is_key(e, "CopyFiles")) {
            for field in &entry.fields {
                let name = expand_with(&strings, field);
                if name.is_empty() {
                    continue;
                }
                if let Some(file) = name.strip_prefix('@') {
                    check_listed(file, entry.line);
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
            check_listed(&expand_with(&strings, source), entry.line);
        }
    }
}
