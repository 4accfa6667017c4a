//! Text helpers for Opsgenie's field limits and URLs.

/// `text` on one line: runs of whitespace (newlines included) become one space.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Cuts `text` to at most `max` characters (`max` ≥ 1), ending in `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

/// Cuts `text` to at most `max` bytes, at a character boundary (for keys, so no ellipsis).
pub fn truncate_bytes(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `text` as one URL path segment: every byte but RFC 3986's unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`) percent-encoded.
pub fn path_segment(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Whether `url` is a web URL worth linking to.
pub fn is_web_url(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_collapses_whitespace() {
        assert_eq!(
            one_line("checks for a:\n  - row_count > 0"),
            "checks for a: - row_count > 0"
        );
    }

    #[test]
    fn truncate_counts_characters_and_marks_the_cut() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "ab…");
        assert_eq!(truncate("ééééé", 4).chars().count(), 4);
    }

    #[test]
    fn truncate_bytes_keeps_characters_whole() {
        assert_eq!(truncate_bytes("aé", 2), "a");
        assert_eq!(truncate_bytes(&"x".repeat(300), 255).len(), 255);
    }

    #[test]
    fn path_segments_escape_everything_but_unreserved_characters() {
        assert_eq!(path_segment("soda-check-a.b_c~d"), "soda-check-a.b_c~d");
        assert_eq!(
            path_segment("id/with ***?é"),
            "id%2Fwith%20%2A%2A%2A%3F%C3%A9"
        );
    }
}
