//! The rules, and what they share: how a finding is made, and what a section name or key means.

use crate::inf_lint::parse::{Entry, Inf};
use crate::inf_lint::{ARCHITECTURES, Finding, Rule};

mod files;
mod install;
mod services;

pub(crate) use files::{check_destinations, check_source_disks};
pub(crate) use install::{
    check_decorations, check_legacy_uninstall, check_manufacturer, check_section_references,
    check_tokens, check_version,
};
pub(crate) use services::{check_instances, check_services, registry_values};

pub(crate) fn finding(inf: &Inf, line: usize, rule: Rule, message: &str) -> Finding {
    Finding {
        file: inf.file.clone(),
        line,
        rule,
        message: message.to_owned(),
    }
}

pub(crate) fn syntax(file: &str, line: usize, message: &str) -> Finding {
    Finding {
        file: file.to_owned(),
        line,
        rule: Rule::Syntax,
        message: message.to_owned(),
    }
}

pub(crate) fn is_key(entry: &Entry, key: &str) -> bool {
    entry
        .key
        .as_deref()
        .is_some_and(|k| k.eq_ignore_ascii_case(key))
}

pub(crate) fn is_strings_section(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower == "strings" || lower.starts_with("strings.")
}

/// Splits `DefaultInstall.NT$ARCH$.Services` into (`DefaultInstall`, `.NT$ARCH$.Services`).
pub(crate) fn install_base(name: &str) -> Option<(&'static str, &str)> {
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
pub(crate) fn is_arch_decorated(rest: &str) -> bool {
    let lower = rest.to_ascii_lowercase();
    let Some(after_nt) = lower.strip_prefix(".nt") else {
        return false;
    };
    let arch = after_nt.split('.').next().unwrap_or_default();
    ARCHITECTURES.contains(&arch)
}

/// For `Instances`, `Parameters\Instances` or `...\Instances\<name>`: the base key and the
/// instance name, if any.
pub(crate) fn instances_base(key: &str) -> Option<(&str, Option<&str>)> {
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
pub(crate) fn binary_dirid(binary: &str) -> Option<u32> {
    let rest = binary.strip_prefix('%')?;
    let (number, tail) = rest.split_once('%')?;
    if !tail.starts_with('\\') {
        return None;
    }
    number.parse().ok()
}

/// Parses `12`, `0x1`, `0x00010001`.
pub(crate) fn parse_number(text: &str) -> Option<u32> {
    let text = text.trim();
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        u32::from_str_radix(hex, 16).ok()
    } else {
        text.parse().ok()
    }
}
