//! Where `plugin run` reads its inputs: inline JSON, `@FILE`, a file or folder path, or one of
//! the sample events built into the binary (Soda's documented examples, so that an author
//! outside this repository can try a plugin on every event type).

use std::path::Path;

use anyhow::{bail, Context as _};

/// `(name, text)` of a seed event file.
macro_rules! sample {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../../../tests/fixtures/events/", $name, ".json")),
        )
    };
}

/// The sample events, by name: the seed payloads of `tests/fixtures/events/`, both generations.
pub const SAMPLE_EVENTS: &[(&str, &str)] = &[
    sample!("gen1_check_evaluation"),
    sample!("gen1_incident_created"),
    sample!("gen1_incident_updated"),
    sample!("gen1_validate"),
    sample!("gen2_check_evaluation"),
    sample!("gen2_contract_published"),
    sample!("gen2_incident_created"),
    sample!("gen2_incident_updated"),
    sample!("gen3_check_evaluation"),
];

/// One event to run, named after where it came from.
#[derive(Debug)]
pub struct EventInput {
    pub label: String,
    pub body: Vec<u8>,
}

/// The events of every `--event` argument, in order.
pub fn events(args: &[String]) -> anyhow::Result<Vec<EventInput>> {
    let mut events = Vec::new();
    for arg in args {
        events.extend(event_source(arg)?);
    }
    Ok(events)
}

/// One `--event` argument: inline JSON, `@FILE`, a file, a folder (its `*.json` files in name
/// order) or a sample event's name (with or without `.json`).
fn event_source(arg: &str) -> anyhow::Result<Vec<EventInput>> {
    if is_inline_json(arg) {
        return Ok(vec![EventInput {
            label: "inline".into(),
            body: arg.as_bytes().to_vec(),
        }]);
    }
    let path = Path::new(arg.strip_prefix('@').unwrap_or(arg));
    if path.is_dir() {
        return folder(path);
    }
    if path.exists() || arg.starts_with('@') {
        let body =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let label = path.display().to_string();
        return Ok(vec![EventInput { label, body }]);
    }
    let name = arg.strip_suffix(".json").unwrap_or(arg);
    let name = name.rsplit('/').next().unwrap_or(name);
    match SAMPLE_EVENTS.iter().find(|(sample, _)| *sample == name) {
        Some((sample, body)) => Ok(vec![EventInput {
            label: format!("sample {sample}"),
            body: body.as_bytes().to_vec(),
        }]),
        None => bail!(
            "no file `{arg}`, and no sample event of that name (the samples: {})",
            sample_names()
        ),
    }
}

fn folder(dir: &Path) -> anyhow::Result<Vec<EventInput>> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json") && path.is_file())
        .collect();
    if paths.is_empty() {
        bail!("{} holds no `.json` files", dir.display());
    }
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let body =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let label = path.display().to_string();
            Ok(EventInput { label, body })
        })
        .collect()
}

/// The names of the sample events, comma-separated.
pub fn sample_names() -> String {
    let names: Vec<&str> = SAMPLE_EVENTS.iter().map(|(name, _)| *name).collect();
    names.join(", ")
}

/// The JSON text of an option that takes inline JSON, `@FILE` or a file path; `what` names the
/// option in errors.
pub fn json_text(arg: &str, what: &str) -> anyhow::Result<String> {
    let (text, origin) = if is_inline_json(arg) {
        (arg.to_owned(), "inline".to_owned())
    } else {
        let path = Path::new(arg.strip_prefix('@').unwrap_or(arg));
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{what}: cannot read {}", path.display()))?;
        (text, path.display().to_string())
    };
    serde_json::from_str::<serde_json::Value>(&text)
        .with_context(|| format!("{what} ({origin}) is not JSON"))?;
    Ok(text)
}

/// Inline JSON starts with `{` or `[` (a file name would not).
fn is_inline_json(arg: &str) -> bool {
    matches!(arg.trim_start().chars().next(), Some('{' | '['))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_event_parses() {
        for (name, body) in SAMPLE_EVENTS {
            crate::events::parse(body.as_bytes())
                .unwrap_or_else(|e| panic!("sample {name} does not parse: {e}"));
        }
    }

    #[test]
    fn a_sample_is_found_by_its_name_with_or_without_json() {
        for arg in ["gen2_incident_created", "gen2_incident_created.json"] {
            let events = event_source(arg).unwrap();
            assert_eq!(events.len(), 1);
            assert_eq!(events[0].label, "sample gen2_incident_created");
        }
    }

    #[test]
    fn an_unknown_name_lists_the_samples() {
        let error = event_source("gen9_nothing.json").unwrap_err().to_string();
        assert!(error.contains("no file `gen9_nothing.json`"), "{error}");
        assert!(error.contains("gen3_check_evaluation"), "{error}");
    }

    #[test]
    fn inline_json_is_taken_as_it_is_and_checked() {
        assert_eq!(json_text(r#" {"a":1}"#, "--config").unwrap(), r#" {"a":1}"#);
        let error = json_text("{not json", "--config").unwrap_err();
        assert!(
            format!("{error:#}").starts_with("--config (inline) is not JSON"),
            "{error:#}"
        );
    }

    #[test]
    fn a_missing_at_file_is_named() {
        let error = json_text("@/nonexistent/config.json", "--config").unwrap_err();
        assert!(
            format!("{error:#}").contains("--config: cannot read /nonexistent/config.json"),
            "{error:#}"
        );
    }
}
