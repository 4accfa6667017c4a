//! Forgiving deserializers for fields Soda documents as strings.
//!
//! A number where a string was documented (an id, an attribute value) must not turn a whole
//! event into a 400: scalars become their text, `null` becomes `None`, and objects or arrays are
//! kept as their JSON text.

use std::fmt;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
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

/// Attributes as (name, text) pairs: a map (`{"team": "core"}`, in the order sent) or a list of
/// `{name, value}` objects; `null` is none. Values are text, non-strings their JSON text.
pub fn attribute_pairs<'de, D: Deserializer<'de>>(
    de: D,
) -> Result<Vec<(String, String)>, D::Error> {
    de.deserialize_any(AttributePairs)
}

struct AttributePairs;

impl<'de> Visitor<'de> for AttributePairs {
    type Value = Vec<(String, String)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of attributes or a list of {name, value} objects")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut pairs = Vec::new();
        while let Some((name, value)) = map.next_entry::<String, Value>()? {
            pairs.push((name, json_text(value)));
        }
        Ok(pairs)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut pairs = Vec::new();
        while let Some(item) = seq.next_element::<Value>()? {
            let Value::Object(mut fields) = item else {
                continue;
            };
            let name = ["name", "label", "id"]
                .iter()
                .find_map(|key| fields.remove(*key).and_then(value_to_text));
            if let Some(name) = name {
                let value = fields.remove("value").unwrap_or(Value::Null);
                pairs.push((name, json_text(value)));
            }
        }
        Ok(pairs)
    }
}

/// A value as text: strings as they are, anything else (`null` included) as its JSON text.
fn json_text(value: Value) -> String {
    match value {
        Value::String(text) => text,
        other => other.to_string(),
    }
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

    #[derive(Deserialize)]
    struct Attributes {
        #[serde(default, deserialize_with = "attribute_pairs")]
        attributes: Vec<(String, String)>,
    }

    fn attributes(json: &str) -> Vec<(String, String)> {
        serde_json::from_str::<Attributes>(json).unwrap().attributes
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn attribute_maps_keep_their_order_and_text() {
        let json = r#"{"attributes": {"zeta": "z", "alpha": 1, "list": [1, 2]}}"#;
        assert_eq!(
            attributes(json),
            pairs(&[("zeta", "z"), ("alpha", "1"), ("list", "[1,2]")])
        );
    }

    #[test]
    fn attribute_lists_and_null_are_read_too() {
        let json =
            r#"{"attributes": [{"name": "team", "value": "core"}, {"label": "n", "value": 2}, 7]}"#;
        assert_eq!(attributes(json), pairs(&[("team", "core"), ("n", "2")]));
        assert!(attributes(r#"{"attributes": null}"#).is_empty());
        assert!(serde_json::from_str::<Attributes>(r#"{"attributes": "x"}"#).is_err());
    }

    #[test]
    fn a_tag_object_is_an_error() {
        assert!(serde_json::from_str::<Probe>(r#"{"tags": {"a": 1}}"#).is_err());
    }
}
