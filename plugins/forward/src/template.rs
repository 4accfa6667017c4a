//! Request bodies from a JSON template with `{{name}}` placeholders.
//!
//! A placeholder is `{{` + a name of lowercase letters, digits, `_` and `.` + `}}`, inside a JSON
//! string of the template (keys are not templated). A string that is exactly one placeholder
//! becomes the placeholder's JSON value (a number stays a number, a missing value is `null`,
//! `{{event}}` is the whole event); inside longer text, a placeholder becomes its value as text
//! (a missing value is empty). Anything else between braces, `{{secret:NAME}}` included, is
//! left as written.

use serde_json::Value;
use soda_gateway_plugin_sdk::Error;

use crate::guard;

/// A template whose placeholders all name known values.
#[derive(Clone, Debug, PartialEq)]
pub struct Template(Value);

/// A piece of a template string.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Placeholder(&'a str),
}

impl Template {
    /// Checks every placeholder of `template` against `known`; the error names the first
    /// unknown one.
    pub fn new(template: Value, known: &[&str]) -> Result<Self, Error> {
        check(&template, known)?;
        Ok(Template(template))
    }

    /// The JSON text of the template with every placeholder replaced by `value(name)`.
    ///
    /// Only the replacements are guarded against reading as secret placeholders (see
    /// [`guard`]); the template's own text, `{{secret:NAME}}` included, is written as it is.
    pub fn render(&self, value: &impl Fn(&str) -> Value) -> String {
        let mut out = String::new();
        write_value(&mut out, &self.0, value);
        out
    }
}

fn check(template: &Value, known: &[&str]) -> Result<(), Error> {
    match template {
        Value::String(text) => pieces(text).into_iter().try_for_each(|piece| match piece {
            Piece::Placeholder(name) if !known.contains(&name) => Err(Error::new(format!(
                "unknown placeholder `{{{{{name}}}}}`; known: {}",
                known.join(", ")
            ))),
            _ => Ok(()),
        }),
        Value::Array(items) => items.iter().try_for_each(|item| check(item, known)),
        Value::Object(map) => map.values().try_for_each(|item| check(item, known)),
        _ => Ok(()),
    }
}

fn write_value(out: &mut String, template: &Value, value: &impl Fn(&str) -> Value) {
    match template {
        Value::String(text) => write_string(out, text, value),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item, value);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_value(out, item, value);
            }
            out.push('}');
        }
        literal => out.push_str(&literal.to_string()),
    }
}

fn write_string(out: &mut String, text: &str, value: &impl Fn(&str) -> Value) {
    let pieces = pieces(text);
    if let [Piece::Placeholder(name)] = pieces[..] {
        out.push_str(&guard::json_document(&value(name).to_string()));
        return;
    }
    out.push('"');
    for piece in pieces {
        match piece {
            Piece::Text(text) => out.push_str(&string_content(text)),
            Piece::Placeholder(name) => {
                let text = match value(name) {
                    Value::Null => String::new(),
                    Value::String(text) => text,
                    other => other.to_string(),
                };
                out.push_str(&guard::json_string_content(&string_content(&text)));
            }
        }
    }
    out.push('"');
}

/// `text` escaped for the inside of a JSON string.
fn string_content(text: &str) -> String {
    let quoted = Value::String(text.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

/// `text` cut into literal text and placeholders.
fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut literal_from = 0;
    let mut search_from = 0;
    while let Some(found) = text[search_from..].find("{{") {
        let open = search_from + found;
        let name_from = open + 2;
        let name_len = text[name_from..]
            .find(|c: char| !is_name_char(c))
            .unwrap_or(text.len() - name_from);
        let name_to = name_from + name_len;
        if name_len > 0 && text[name_to..].starts_with("}}") {
            if literal_from < open {
                pieces.push(Piece::Text(&text[literal_from..open]));
            }
            pieces.push(Piece::Placeholder(&text[name_from..name_to]));
            literal_from = name_to + 2;
            search_from = literal_from;
        } else {
            // Not a placeholder: the `{` is text, and a placeholder may start at the next one.
            search_from = open + 1;
        }
    }
    if literal_from < text.len() {
        pieces.push(Piece::Text(&text[literal_from..]));
    }
    pieces
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.'
}

#[cfg(test)]
mod tests;
