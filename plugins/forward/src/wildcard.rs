//! Name patterns where `*` stands for any run of characters (none included).

/// Whether `text` matches `pattern`: every `*` matches any run of characters, every other
/// character only itself (case-sensitive). `orders_*` matches `orders_eu`, `*` matches anything.
pub fn matches(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    // `split` always yields at least one part: the text before the first `*`.
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let middle: Vec<&str> = parts.collect();
    let Some((last, middle)) = middle.split_last() else {
        // No `*` at all: the whole text must be the pattern.
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn without_a_star_the_text_must_be_equal() {
        assert!(matches("orders", "orders"));
        assert!(!matches("orders", "orders_eu"));
        assert!(!matches("orders", "Orders"));
        assert!(matches("", ""));
        assert!(!matches("", "x"));
    }

    #[test]
    fn a_star_matches_any_run_of_characters() {
        assert!(matches("*", ""));
        assert!(matches("*", "anything"));
        assert!(matches("orders_*", "orders_"));
        assert!(matches("orders_*", "orders_eu"));
        assert!(!matches("orders_*", "bnm_orders"));
        assert!(matches("*orders", "bnm_orders"));
        assert!(matches("*_orders_*", "bnm_orders_2024"));
        assert!(!matches("*_orders_*", "bnm_orders"));
        assert!(matches("a*b*c", "abc"));
        assert!(matches("a*b*c", "a-b-b-c"));
        assert!(!matches("a*b*c", "acb"));
        assert!(matches(
            "postgres_*/public/*",
            "postgres_prod/public/orders"
        ));
    }

    #[test]
    fn the_suffix_may_not_overlap_the_prefix() {
        assert!(!matches("ab*ba", "aba"));
        assert!(matches("ab*ba", "abba"));
    }
}
