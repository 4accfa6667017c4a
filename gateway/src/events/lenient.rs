//! Forgiving deserializers for fields Soda documents as strings.
//!
//! A number where a string was documented (an id, an attribute value) must not turn a whole
//! event into a 400: scalars become their text, `null` becomes `None`, and objects or arrays are
//! kept as their JSON text.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Any JSON value as optional text.
pub fn opt_string<'de, D: Deserializer<'de>>(de: D) -> Result<Option<String>, D::Error> {
    Ok(value_to_text(Value::deserialize(de)?))
}

/// A list of scalars as texts; `null` is an empty list.
pub fn string_list<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<String>, D::Error> {
    match Value::deserialize(de)? {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => Ok(items.into_iter().filter_map(value_to_text).collect()),
        other => Err(serde::de::Error::custom(format!(
            "expected a list of strings, found {other}"
        ))),
    }
}

/// A list that Soda may send as `null`: `null` is an empty list.
pub fn null_as_empty<'de, D, T>(de: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(de)?.unwrap_or_default())
}

fn value_to_text(value: Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(text),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Probe {
        #[serde(default, deserialize_with = "opt_string")]
        value: Option<String>,
        #[serde(default, deserialize_with = "string_list")]
        tags: Vec<String>,
    }

    fn probe(json: &str) -> Probe {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn numbers_and_booleans_become_text() {
        assert_eq!(probe(r#"{"value": 0.5}"#).value.as_deref(), Some("0.5"));
        assert_eq!(probe(r#"{"value": true}"#).value.as_deref(), Some("true"));
    }

    #[test]
    fn null_and_missing_are_none() {
        assert_eq!(probe(r#"{"value": null}"#).value, None);
        assert_eq!(probe("{}").value, None);
        assert!(probe(r#"{"tags": null}"#).tags.is_empty());
    }

    #[test]
    fn tag_lists_accept_mixed_scalars() {
        assert_eq!(probe(r#"{"tags": ["a", 1]}"#).tags, vec!["a", "1"]);
    }

    #[test]
    fn a_tag_object_is_an_error() {
        assert!(serde_json::from_str::<Probe>(r#"{"tags": {"a": 1}}"#).is_err());
    }
}
