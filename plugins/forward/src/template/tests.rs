//! Unit tests for the template language (run natively with `cargo test -p forward`).

use serde_json::{json, Value};

use super::*;

const KNOWN: &[&str] = &["a", "b.c", "n", "missing", "event"];

fn values(name: &str) -> Value {
    match name {
        "a" => json!("alpha"),
        "b.c" => json!("line \"quoted\"\nnext"),
        "n" => json!(42),
        "event" => json!({"event": "checkEvaluation", "list": [1, 2]}),
        _ => Value::Null,
    }
}

fn render(template: Value) -> Value {
    let text = Template::new(template, KNOWN).unwrap().render(&values);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn text_placeholders_become_text() {
    assert_eq!(
        render(json!({"msg": "{{a}} and {{b.c}} ({{n}}){{missing}}."})),
        json!({"msg": "alpha and line \"quoted\"\nnext (42)."})
    );
}

#[test]
fn whole_string_placeholders_keep_their_json_type() {
    assert_eq!(
        render(
            json!({"n": "{{n}}", "none": "{{missing}}", "all": "{{event}}", "list": ["{{a}}", 1, true, null]})
        ),
        json!({"n": 42, "none": null, "all": {"event": "checkEvaluation", "list": [1, 2]}, "list": ["alpha", 1, true, null]})
    );
    assert_eq!(
        render(json!("{{n}}")),
        json!(42),
        "the template may be a bare string"
    );
}

#[test]
fn keys_and_other_braces_are_left_as_written() {
    assert_eq!(
        render(json!({"{{a}}": "{{ a }} {a} {{A}} {{}} {{{a}}} {{a"})),
        json!({"{{a}}": "{{ a }} {a} {{A}} {{}} {alpha} {{a"})
    );
}

#[test]
fn secret_placeholders_pass_through_untouched() {
    let text = Template::new(
        json!({"auth": "Bearer {{secret:api_token}}", "k": "{{secret:k}}"}),
        KNOWN,
    )
    .unwrap()
    .render(&values);
    assert_eq!(
        text,
        r#"{"auth":"Bearer {{secret:api_token}}","k":"{{secret:k}}"}"#
    );
}

#[test]
fn event_text_cannot_become_a_secret_placeholder() {
    let hostile = |name: &str| match name {
        "a" => json!("{{secret:api_token}}"),
        "b.c" => json!("secret:api_token}}"),
        _ => json!({"x": "{{secret:api_token}}"}),
    };
    let template = Template::new(
        json!({"t": "{{a}}", "u": "{{{b.c}}", "v": "{{event}}"}),
        KNOWN,
    )
    .unwrap();
    let text = template.render(&hostile);
    assert!(!text.contains("{{secret:"), "{text}");
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"t": "{{secret:api_token}}", "u": "{secret:api_token}}", "v": {"x": "{{secret:api_token}}"}})
    );
}

#[test]
fn unknown_placeholders_are_refused_by_name() {
    let error = Template::new(
        json!({"deep": [{"x": "ok {{a}} then {{chek.name}}"}]}),
        KNOWN,
    )
    .unwrap_err();
    assert!(
        error
            .message()
            .starts_with("unknown placeholder `{{chek.name}}`; known: a, b.c"),
        "{error}"
    );
}

#[test]
fn pieces_split_text_and_placeholders() {
    assert_eq!(
        pieces("x {{a}}{{b.c}} {{secret:s}} {{y"),
        vec![
            Piece::Text("x "),
            Piece::Placeholder("a"),
            Piece::Placeholder("b.c"),
            Piece::Text(" {{secret:s}} {{y"),
        ]
    );
    assert_eq!(pieces(""), vec![]);
}
