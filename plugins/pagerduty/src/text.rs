//! Text helpers for PagerDuty's field limits.

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
        assert_eq!(truncate_bytes("abc", 255), "abc");
        assert_eq!(truncate_bytes("aé", 2), "a");
        assert_eq!(truncate_bytes(&"x".repeat(300), 255).len(), 255);
    }
}
