//! Atlassian Document Format: the rich-text JSON Jira Cloud's v3 API takes for descriptions.

use serde_json::{json, Value};

/// A document of `blocks` (paragraphs, lists).
pub fn doc(blocks: Vec<Value>) -> Value {
    json!({ "type": "doc", "version": 1, "content": blocks })
}

/// A paragraph of inline nodes.
pub fn paragraph(inline: Vec<Value>) -> Value {
    json!({ "type": "paragraph", "content": inline })
}

/// Plain text. ADF rejects empty text nodes, so callers only pass non-empty text.
pub fn text(text: &str) -> Value {
    json!({ "type": "text", "text": text })
}

/// Text linking to `href`.
pub fn link(text: &str, href: &str) -> Value {
    json!({
        "type": "text",
        "text": text,
        "marks": [{ "type": "link", "attrs": { "href": href } }],
    })
}

/// A bullet list with one paragraph per item.
pub fn bullet_list(items: Vec<Vec<Value>>) -> Value {
    let items: Vec<Value> = items
        .into_iter()
        .map(|inline| json!({ "type": "listItem", "content": [paragraph(inline)] }))
        .collect();
    json!({ "type": "bulletList", "content": items })
}

/// One paragraph per non-blank line of `text`.
pub fn paragraphs(text: &str) -> Vec<Value> {
    text.lines()
        .map(str::trim_end)
        .filter(|line| !line.trim().is_empty())
        .map(|line| paragraph(vec![self::text(line)]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_lines_make_no_empty_paragraphs() {
        assert_eq!(
            paragraphs("first\n\n  \nsecond  "),
            vec![
                paragraph(vec![text("first")]),
                paragraph(vec![text("second")])
            ]
        );
    }

    #[test]
    fn a_link_is_text_with_a_link_mark() {
        assert_eq!(
            link("Soda", "https://cloud.soda.io"),
            json!({
                "type": "text",
                "text": "Soda",
                "marks": [{ "type": "link", "attrs": { "href": "https://cloud.soda.io" } }],
            })
        );
    }
}
