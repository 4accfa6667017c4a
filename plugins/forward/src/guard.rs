//! Keeps text that came from Soda from being read as a gateway secret placeholder.
//!
//! The gateway replaces every `{{secret:NAME}}` in an outgoing request with the tenant's
//! secret. Placeholders the tenant wrote in its own config must get there untouched, but an
//! event is written by whoever can make Soda send it (a check name, an incident title): if its
//! text reached the wire as `{{secret:NAME}}`, the gateway would put a secret in its place.
//! The escapes below change how the JSON is spelled, never what it means.

/// What the gateway looks for.
const PLACEHOLDER_OPEN: &str = "{{secret:";

/// `{` as a JSON string escape.
const ESCAPED_BRACE: &str = "\\u007b";

/// Escapes the opening of every secret placeholder in the JSON document `json`.
///
/// Two braces in a row can only appear inside a JSON string (an object opens with `{` followed
/// by a key, whitespace or `}`), where `\u007b` means the same character.
pub fn json_document(json: &str) -> String {
    json.replace(
        PLACEHOLDER_OPEN,
        &format!("{ESCAPED_BRACE}{ESCAPED_BRACE}secret:"),
    )
}

/// Escapes every `{` of `escaped`, the inside of a JSON string (already escaped), so that no
/// placeholder can start within it nor begin in the text written before it.
pub fn json_string_content(escaped: &str) -> String {
    escaped.replace('{', ESCAPED_BRACE)
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    #[test]
    fn documents_keep_their_meaning_and_lose_their_placeholders() {
        let event = json!({"name": "x {{secret:token}} y", "nested": [{"a": "{{secret:b}}"}]});
        let text = serde_json::to_string(&event).unwrap();
        let guarded = json_document(&text);
        assert!(!guarded.contains(PLACEHOLDER_OPEN), "{guarded}");
        assert_eq!(serde_json::from_str::<Value>(&guarded).unwrap(), event);
    }

    #[test]
    fn documents_without_placeholders_are_unchanged() {
        let text = r#"{"a":{"b":"{{check.name}} {not a secret}"}}"#;
        assert_eq!(json_document(text), text);
    }

    #[test]
    fn string_contents_escape_every_brace() {
        let guarded = json_string_content("{secret:x}}");
        assert_eq!(guarded, "\\u007bsecret:x}}");
        // After a `{` written by the template, no placeholder forms either.
        let joined = format!("\"{{{guarded}\"");
        assert!(!joined.contains(PLACEHOLDER_OPEN), "{joined}");
        assert_eq!(
            serde_json::from_str::<String>(&joined).unwrap(),
            "{{secret:x}}"
        );
    }
}
