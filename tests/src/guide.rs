//! The code blocks of `docs/plugin-guide.md` that its test runs.
//!
//! A block takes part when its info string carries `test=GROUP` after the language:
//! ```` ```sh test=rust ```` is a command block of the group `rust`, and
//! ```` ```rust test=rust in=src/lib.rs ```` an excerpt that must appear, as written, in that
//! file of the group's plugin folder. The rest of the info string is ignored by renderers.

use std::path::{Path, PathBuf};

/// One fenced code block with a `test=` tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The block's language (`sh`, `toml`, `rust`, ...).
    pub language: String,
    /// The `test=` group.
    pub group: String,
    /// The `in=` file, for an excerpt.
    pub file: Option<String>,
    /// The block's text, with a final newline.
    pub text: String,
}

/// The guide, as the repository holds it.
pub fn path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/plugin-guide.md")
}

/// The tagged blocks of `markdown`, in order.
pub fn blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        let Some(info) = line.trim_start().strip_prefix("```") else {
            continue;
        };
        let fence_indent = line.len() - line.trim_start().len();
        let mut text = String::new();
        for line in lines.by_ref() {
            if line.trim_start() == "```" {
                break;
            }
            text.push_str(line.get(fence_indent..).unwrap_or(line.trim_start()));
            text.push('\n');
        }
        let mut words = info.split_whitespace();
        let language = words.next().unwrap_or_default().to_owned();
        let (mut group, mut file) = (None, None);
        for word in words {
            if let Some(value) = word.strip_prefix("test=") {
                group = Some(value.to_owned());
            } else if let Some(value) = word.strip_prefix("in=") {
                file = Some(value.to_owned());
            }
        }
        if let Some(group) = group {
            blocks.push(Block {
                language,
                group,
                file,
                text,
            });
        }
    }
    blocks
}

/// The guide's command blocks of `group`, as one script.
pub fn script(blocks: &[Block], group: &str) -> String {
    blocks
        .iter()
        .filter(|block| block.group == group && block.file.is_none() && block.language == "sh")
        .map(|block| block.text.as_str())
        .collect()
}

/// The guide's blocks of `group` of `language` that are not commands or excerpts.
pub fn files<'a>(blocks: &'a [Block], group: &str, language: &str) -> Vec<&'a Block> {
    blocks
        .iter()
        .filter(|block| block.group == group && block.language == language && block.file.is_none())
        .collect()
}

/// The guide's excerpts of `group`: `(file, text)`.
pub fn excerpts<'a>(blocks: &'a [Block], group: &str) -> Vec<(&'a str, &'a str)> {
    blocks
        .iter()
        .filter(|block| block.group == group)
        .filter_map(|block| Some((block.file.as_deref()?, block.text.as_str())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagged_blocks_are_found_with_their_group_and_file() {
        let markdown = "text\n```sh\nuntagged\n```\n\n```sh test=a\nx\n  y\n```\n\n   ```toml test=b\n   k = 1\n   ```\n```rust test=a in=src/lib.rs\nfn f() {}\n```\n";
        let found = blocks(markdown);
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(script(&found, "a"), "x\n  y\n");
        assert_eq!(files(&found, "b", "toml")[0].text, "k = 1\n");
        assert_eq!(excerpts(&found, "a"), vec![("src/lib.rs", "fn f() {}\n")]);
    }
}
