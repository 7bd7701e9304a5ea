//! Reading INF text: sections, entries, continuations, quotes and `%token%` expansion.

use crate::inf_lint::Finding;
use crate::inf_lint::rules::{is_strings_section, syntax};
use std::collections::BTreeMap;

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

/// Removes a `;` comment (outside quotes). `Err` if a quote is left open.
pub(crate) fn strip_comment(line: &str) -> Result<&str, ()> {
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

pub(crate) fn find_unquoted(text: &str, wanted: char) -> Option<usize> {
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

pub(crate) fn split_fields(value: &str) -> Vec<String> {
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
pub(crate) fn unquote(raw: &str) -> String {
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
pub(crate) fn tokens(raw: &str) -> Result<Vec<&str>, ()> {
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

pub(crate) fn expand_with(strings: &BTreeMap<String, String>, raw: &str) -> String {
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
