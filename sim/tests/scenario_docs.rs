//! docs/scenarios.md is checked against the language's type: every op of `Step` has a section,
//! every section names an op, every field of an op (and of an ECP) is named in its section, and
//! every JSON example in a section parses as that op. The op and field lists come from the type
//! itself, read through serde with a deserializer that records what it is asked for.

use std::collections::BTreeSet;
use std::fmt;

use ferrofilter_sim::scenario::language::{Ecp, Step};
use ferrofilter_sim::scenario::parse;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, VariantAccess, Visitor};

// ---------------------------------------------------------------------------------------------
// Reading the type

/// What the probe was asked for, carried out as the "error" that stops deserialization.
#[derive(Debug)]
enum Seen {
    Variants(&'static [&'static str]),
    Fields(&'static [&'static str]),
    /// A map without a field list (a `flatten`ed struct): any field.
    AnyFields,
    Other(String),
}

impl fmt::Display for Seen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Other(message) => f.write_str(message),
            seen => write!(f, "{seen:?}"),
        }
    }
}

impl std::error::Error for Seen {}

impl de::Error for Seen {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self::Other(msg.to_string())
    }
}

/// Asks an enum for its variants, or for one variant's fields.
struct EnumProbe(Option<&'static str>);

impl<'de> Deserializer<'de> for EnumProbe {
    type Error = Seen;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Seen> {
        Err(Seen::Other("not an enum".into()))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Seen> {
        match self.0 {
            None => Err(Seen::Variants(variants)),
            Some(variant) => visitor.visit_enum(VariantProbe(variant)),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 u8 u16 u32 u64 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

struct VariantProbe(&'static str);

impl<'de> EnumAccess<'de> for VariantProbe {
    type Error = Seen;
    type Variant = Self;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self), Seen> {
        let value = seed.deserialize(de::value::BorrowedStrDeserializer::new(self.0))?;
        Ok((value, self))
    }
}

impl<'de> VariantAccess<'de> for VariantProbe {
    type Error = Seen;

    fn unit_variant(self) -> Result<(), Seen> {
        Err(Seen::Fields(&[]))
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, Seen> {
        seed.deserialize(StructProbe)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, Seen> {
        Err(Seen::Other("tuple variant".into()))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Seen> {
        Err(Seen::Fields(fields))
    }
}

/// Asks a struct for its fields.
struct StructProbe;

impl<'de> Deserializer<'de> for StructProbe {
    type Error = Seen;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Seen> {
        Err(Seen::Other("not a struct".into()))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Seen> {
        Err(Seen::Fields(fields))
    }

    fn deserialize_map<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Seen> {
        Err(Seen::AnyFields)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 u8 u16 u32 u64 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct enum identifier ignored_any
    }
}

fn variants<T: for<'de> Deserialize<'de> + fmt::Debug>() -> &'static [&'static str] {
    match T::deserialize(EnumProbe(None)) {
        Err(Seen::Variants(v)) => v,
        other => panic!("expected the variants, got {other:?}"),
    }
}

/// The fields of one variant; `None` when it takes any field (`expect`).
fn fields<T: for<'de> Deserialize<'de> + fmt::Debug>(
    variant: &'static str,
) -> Option<Vec<&'static str>> {
    match T::deserialize(EnumProbe(Some(variant))) {
        Err(Seen::Fields(f)) => Some(f.to_vec()),
        Err(Seen::AnyFields) => None,
        other => panic!("expected the fields of {variant}, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the docs

/// The op sections under "## Operations" (headings like ``### `a` / `b` ``): (ops, text).
fn sections(docs: &str) -> Vec<(Vec<String>, String)> {
    let Some(start) = docs.find("\n## Operations") else {
        return Vec::new();
    };
    let body = &docs[start..];
    let end = body[1..].find("\n## ").map_or(body.len(), |i| i + 1);
    let mut out: Vec<(Vec<String>, String)> = Vec::new();
    for line in body[..end].lines() {
        if let Some(heading) = line.strip_prefix("### ") {
            let ops = heading
                .split('/')
                .map(|op| op.trim().trim_matches('`').to_owned())
                .collect();
            out.push((ops, String::new()));
        } else if let Some((_, text)) = out.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    out
}

/// The JSON examples of a section: in its fenced `json` blocks, lines starting with `{`, each with
/// the indented lines that continue it.
fn examples(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut in_block = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_block = line == "```json";
        } else if !in_block {
        } else if line.starts_with('{') {
            out.push(line.to_owned());
        } else if line.starts_with(' ')
            && let Some(last) = out.last_mut()
        {
            last.push_str(line);
        }
    }
    out
}

/// What is wrong with `docs` against the type, one line each.
fn problems(docs: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let sections = sections(docs);
    let documented: BTreeSet<&str> = sections
        .iter()
        .flat_map(|(ops, _)| ops.iter().map(String::as_str))
        .collect();
    let ops: BTreeSet<&str> = variants::<Step>().iter().copied().collect();
    for op in ops.difference(&documented) {
        problems.push(format!("op `{op}` has no section"));
    }
    for op in documented.difference(&ops) {
        problems.push(format!("section `{op}` is not an op"));
    }
    for (names, text) in &sections {
        for op in names.iter().filter_map(|n| ops.get(n.as_str()).copied()) {
            let mut wanted = fields::<Step>(op).unwrap_or_else(|| vec!["of"]);
            if op == "open" {
                for ecp in variants::<Ecp>() {
                    wanted.push(ecp);
                    wanted.extend(fields::<Ecp>(ecp).unwrap_or_default());
                }
            }
            for field in wanted {
                if !text.contains(&format!("`{field}`")) && !text.contains(&format!("\"{field}\""))
                {
                    problems.push(format!("`{op}`: field `{field}` is not documented"));
                }
            }
        }
        for example in examples(text) {
            let example = example.as_str();
            let label = serde_json::from_str::<serde_json::Value>(example)
                .ok()
                .and_then(|v| v.get("of").and_then(|o| o.as_str()).map(str::to_owned))
                .unwrap_or_else(|| "before".into());
            let file = format!(
                r#"{{"steps": [{{"op": "purge_status", "label": "{label}"}}, {example}]}}"#
            );
            match parse(&file) {
                Ok(entries) if names.contains(&entries[1].op) => {}
                Ok(entries) => problems.push(format!(
                    "example `{example}` is a `{}` in the section of {names:?}",
                    entries[1].op
                )),
                Err(e) => problems.push(format!("example `{example}` does not parse: {e}")),
            }
        }
    }
    problems
}

const DOCS: &str = include_str!("../../docs/scenarios.md");

#[test]
fn the_docs_match_the_language() {
    let problems = problems(DOCS);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_type_is_read_as_serde_sees_it() {
    let ops = variants::<Step>();
    assert!(ops.contains(&"open") && ops.contains(&"fsctl_set_purge_failure_mode"));
    let open = fields::<Step>("open").unwrap();
    assert!(
        open.contains(&"cf_flags") && open.contains(&"ecps"),
        "{open:?}"
    );
    assert_eq!(fields::<Step>("detach"), Some(Vec::new()));
    assert_eq!(fields::<Step>("expect"), None);
    assert_eq!(variants::<Ecp>(), ["oplock_key", "dual_oplock_key", "raw"]);
}

#[test]
fn the_check_catches_drift() {
    // Negative controls: each edit of the docs is one kind of drift.
    let without_field = DOCS.replacen("`reserve_opfilter`", "reserve-opfilter", 1);
    assert!(
        problems(&without_field)
            .iter()
            .any(|p| p.contains("`open`: field `reserve_opfilter`")),
        "a missing field"
    );
    let renamed = DOCS.replacen("### `purge_status`", "### `purge_state`", 1);
    let found = problems(&renamed);
    assert!(
        found
            .iter()
            .any(|p| p.contains("op `purge_status` has no section"))
    );
    assert!(
        found
            .iter()
            .any(|p| p.contains("section `purge_state` is not an op"))
    );
    let bad_example = DOCS.replacen(
        r#"{"op": "read", "handle": "h", "offset": 0, "length": 5}"#,
        r#"{"op": "read", "handle": "h", "offset": 0, "size": 5}"#,
        1,
    );
    assert!(
        problems(&bad_example)
            .iter()
            .any(|p| p.contains("does not parse") && p.contains("size")),
        "an example with an unknown field"
    );
}
