//! How an `expect` compares an expected value with a record's: the one definition, used by the
//! sim's runner and by ferroctl's device runner.
//!
//! - An object matches on the keys it gives (a subset); a missing field is `null`.
//! - An array matches element by element, with the same length.
//! - `{"not": X}` matches what `X` does not match.
//! - `{"contains": X}` matches an array with an element that `X` matches, or a string that has
//!   the string `X` in it.
//! - `{"one_of": [X, Y, ...]}` matches what any of them matches.
//! - Anything else matches by equality.
//!
//! The three forms are objects with exactly that one key; no record field is named `not`,
//! `contains` or `one_of`, so they cannot be mistaken for a subset match.

use serde_json::Value;

/// The operator an expected value is, if it is one.
enum Operator<'a> {
    Not(&'a Value),
    Contains(&'a Value),
    OneOf(&'a [Value]),
}

fn operator(expected: &Value) -> Option<Operator<'_>> {
    let Value::Object(map) = expected else {
        return None;
    };
    if map.len() != 1 {
        return None;
    }
    let (key, value) = map.iter().next()?;
    match (key.as_str(), value) {
        ("not", value) => Some(Operator::Not(value)),
        ("contains", value) => Some(Operator::Contains(value)),
        ("one_of", Value::Array(options)) => Some(Operator::OneOf(options)),
        _ => None,
    }
}

/// Whether `actual` is what `expected` asks for.
#[must_use]
pub fn matches(expected: &Value, actual: &Value) -> bool {
    if let Some(op) = operator(expected) {
        return match op {
            Operator::Not(inner) => !matches(inner, actual),
            Operator::Contains(inner) => match (inner, actual) {
                (Value::String(part), Value::String(whole)) => whole.contains(part.as_str()),
                (_, Value::Array(items)) => items.iter().any(|item| matches(inner, item)),
                _ => false,
            },
            Operator::OneOf(options) => options.iter().any(|option| matches(option, actual)),
        };
    }
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e
            .iter()
            .all(|(k, v)| matches(v, a.get(k).unwrap_or(&Value::Null))),
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(x, y)| matches(x, y))
        }
        _ => expected == actual,
    }
}

/// Whether `expected` uses a form this module defines incorrectly (`one_of` without an array),
/// for the parser to refuse.
#[must_use]
pub fn malformed(expected: &Value) -> Option<String> {
    match expected {
        Value::Object(map) if map.len() == 1 && map.contains_key("one_of") => map
            .get("one_of")
            .filter(|v| !v.is_array())
            .map(|v| format!("`one_of` takes an array of values, got {v}")),
        Value::Object(map) => map.values().find_map(malformed),
        Value::Array(items) => items.iter().find_map(malformed),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{malformed, matches};

    #[test]
    fn objects_are_subsets_and_arrays_exact() {
        assert!(matches(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        assert!(!matches(&json!({"a": 2}), &json!({"a": 1})));
        assert!(matches(&json!({"c": null}), &json!({"a": 1})));
        assert!(matches(
            &json!([1, {"x": 1}]),
            &json!([1, {"x": 1, "y": 2}])
        ));
        assert!(!matches(&json!([1]), &json!([1, 2])));
    }

    #[test]
    fn not_negates() {
        assert!(matches(
            &json!({"not": "STATUS_SUCCESS"}),
            &json!("STATUS_PENDING")
        ));
        assert!(!matches(
            &json!({"not": "STATUS_SUCCESS"}),
            &json!("STATUS_SUCCESS")
        ));
        // Nested in a subset match, and over an object.
        assert!(matches(
            &json!({"keys": {"target": {"not": "aa"}}}),
            &json!({"keys": {"target": "bb"}})
        ));
        assert!(!matches(
            &json!({"not": {"a": 1}}),
            &json!({"a": 1, "b": 2})
        ));
    }

    #[test]
    fn contains_looks_into_arrays_and_strings() {
        let breaks = json!([{"handle": "a", "to": "RH"}, {"handle": "b", "to": "none"}]);
        assert!(matches(&json!({"contains": {"handle": "b"}}), &breaks));
        assert!(!matches(&json!({"contains": {"handle": "c"}}), &breaks));
        assert!(!matches(&json!({"contains": {"handle": "a"}}), &json!([])));
        assert!(matches(
            &json!({"contains": "bytes"}),
            &json!("40 bytes left")
        ));
        assert!(!matches(&json!({"contains": "x"}), &json!(12)));
    }

    #[test]
    fn one_of_takes_any() {
        let either = json!({"one_of": ["STATUS_SUCCESS", "STATUS_PENDING"]});
        assert!(matches(&either, &json!("STATUS_PENDING")));
        assert!(!matches(&either, &json!("STATUS_CANCELLED")));
        assert!(!matches(&json!({"one_of": []}), &json!(1)));
    }

    #[test]
    fn a_one_of_without_an_array_is_malformed() {
        assert!(malformed(&json!({"status": {"one_of": "x"}})).is_some());
        assert!(malformed(&json!({"status": {"one_of": ["x"]}})).is_none());
        // A plain object with other keys is a subset match, not an operator.
        assert!(matches(
            &json!({"one_of": 1, "b": 2}),
            &json!({"one_of": 1, "b": 2, "c": 3})
        ));
    }
}
