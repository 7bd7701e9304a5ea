//! The services the INF adds: file-system filter services on `FltMgr`, their instances and
//! altitudes.

use crate::inf_lint::parse::{Inf, Section, expand_with};
use crate::inf_lint::rules::{
    binary_dirid, finding, install_base, instances_base, is_key, parse_number,
};
use crate::inf_lint::{ACTIVITY_MONITOR_ALTITUDES, Finding, Options, Rule, ServiceInfo};
use std::collections::BTreeSet;

pub(crate) fn check_services(inf: &Inf, services: &[ServiceInfo], out: &mut Vec<Finding>) {
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

pub(crate) fn check_service_section(inf: &Inf, section: &Section, out: &mut Vec<Finding>) {
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
pub(crate) struct RegValue {
    pub(crate) key: String,
    pub(crate) name: String,
    pub(crate) flags: u32,
    pub(crate) data: String,
    pub(crate) line: usize,
}

pub(crate) fn registry_values(inf: &Inf, service_section: &str) -> Vec<RegValue> {
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

pub(crate) fn check_instances(
    inf: &Inf,
    services: &[ServiceInfo],
    options: &Options,
    out: &mut Vec<Finding>,
) {
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

pub(crate) fn check_altitude(
    inf: &Inf,
    value: &RegValue,
    options: &Options,
    out: &mut Vec<Finding>,
) {
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
