//! Small text helpers for building messages within the limits of the services plugins call.
//!
//! ```
//! use soda_gateway_plugin_sdk::text;
//!
//! let summary = text::truncate(&text::one_line("checks for orders:\n  - row_count > 0"), 20);
//! assert_eq!(summary, "checks for orders: …");
//! ```

/// `text` on one line: every run of whitespace (newlines included) becomes one space, and
/// leading and trailing whitespace goes.
///
/// ```
/// use soda_gateway_plugin_sdk::text::one_line;
///
/// assert_eq!(one_line("  checks for a:\n  - row_count > 0\n"), "checks for a: - row_count > 0");
/// ```
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `text` cut to at most `max` characters (`max` ≥ 1), its last one `…` when it was cut.
///
/// ```
/// use soda_gateway_plugin_sdk::text::truncate;
///
/// assert_eq!(truncate("abc", 3), "abc");
/// assert_eq!(truncate("abcd", 3), "ab…");
/// ```
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

/// The longest start of `text` of at most `max` bytes that ends on a character boundary. No
/// ellipsis is added, so it suits keys and identifiers.
///
/// ```
/// use soda_gateway_plugin_sdk::text::truncate_bytes;
///
/// assert_eq!(truncate_bytes("abc", 2), "ab");
/// assert_eq!(truncate_bytes("aé", 2), "a"); // `é` is two bytes
/// ```
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

/// Whether `url` is a web (`https://` or `http://`) URL, worth showing as a link.
///
/// ```
/// use soda_gateway_plugin_sdk::text::is_web_url;
///
/// assert!(is_web_url("https://cloud.soda.io/checks/c1"));
/// assert!(!is_web_url("javascript:alert(1)"));
/// ```
pub fn is_web_url(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

/// `text` unless it is missing or blank (empty or only whitespace).
///
/// ```
/// use soda_gateway_plugin_sdk::text::non_blank;
///
/// assert_eq!(non_blank(Some("orders")), Some("orders"));
/// assert_eq!(non_blank(Some(" \n")), None);
/// assert_eq!(non_blank(None), None);
/// ```
pub fn non_blank(text: Option<&str>) -> Option<&str> {
    text.filter(|t| !t.trim().is_empty())
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
        assert_eq!(one_line(" \t\n"), "");
    }

    #[test]
    fn truncate_counts_characters_and_marks_the_cut() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "ab…");
        assert_eq!(truncate("abcd", 1), "…");
        assert_eq!(truncate("ééééé", 4).chars().count(), 4);
    }

    #[test]
    fn truncate_bytes_keeps_characters_whole() {
        assert_eq!(truncate_bytes("abc", 255), "abc");
        assert_eq!(truncate_bytes("aé", 2), "a");
        assert_eq!(truncate_bytes("aé", 3), "aé");
        assert_eq!(truncate_bytes(&"x".repeat(300), 255).len(), 255);
    }

    #[test]
    fn web_urls_are_http_or_https() {
        assert!(is_web_url("http://example.com"));
        assert!(is_web_url("https://example.com"));
        assert!(!is_web_url("ftp://example.com"));
        assert!(!is_web_url("cloud.soda.io"));
    }

    #[test]
    fn blank_text_is_none() {
        assert_eq!(non_blank(Some(" x ")), Some(" x "));
        assert_eq!(non_blank(Some("")), None);
        assert_eq!(non_blank(Some("\t")), None);
        assert_eq!(non_blank(None), None);
    }
}
