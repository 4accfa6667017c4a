//! Picking the resolving transition out of Jira's `GET .../transitions` answer.

use serde::Deserialize;
use soda_gateway_plugin_sdk::Error;

/// `{"transitions": [...]}`, the fields the plugin reads.
#[derive(Deserialize)]
struct Transitions {
    transitions: Vec<Transition>,
}

#[derive(Deserialize)]
struct Transition {
    id: String,
    name: String,
    to: Option<Status>,
}

#[derive(Deserialize)]
struct Status {
    name: String,
}

/// The id of the transition named `wanted` (case-insensitive), else of the one leading to a
/// status named `wanted`. The error lists the transitions there are.
pub fn find_id(body: &[u8], wanted: &str) -> Result<String, Error> {
    let Transitions { transitions } = serde_json::from_slice(body)
        .map_err(|e| Error::new(format!("unexpected Jira transitions answer: {e}")))?;
    let wanted = wanted.trim();
    let by_name = transitions
        .iter()
        .find(|t| t.name.trim().eq_ignore_ascii_case(wanted));
    let by_status = || {
        transitions.iter().find(|t| {
            t.to.as_ref()
                .is_some_and(|to| to.name.trim().eq_ignore_ascii_case(wanted))
        })
    };
    match by_name.or_else(by_status) {
        Some(transition) => Ok(transition.id.clone()),
        None => {
            let names: Vec<&str> = transitions.iter().map(|t| t.name.as_str()).collect();
            Err(Error::new(format!(
                "no Jira transition named {wanted:?} (set `resolve_transition`); the issue offers: {}",
                if names.is_empty() { "none".to_string() } else { names.join(", ") }
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = r#"{"expand": "transitions", "transitions": [
        {"id": "11", "name": "To Do", "to": {"id": "1", "name": "To Do"}},
        {"id": "21", "name": "In Progress", "to": {"id": "3", "name": "In Progress"}},
        {"id": "31", "name": "Done", "to": {"id": "10001", "name": "Done"}},
        {"id": "41", "name": "Close issue", "to": {"id": "6", "name": "Closed"}}
    ]}"#;

    #[test]
    fn the_transition_is_found_by_name_ignoring_case() {
        assert_eq!(find_id(ANSWER.as_bytes(), "done").unwrap(), "31");
        assert_eq!(find_id(ANSWER.as_bytes(), " In progress ").unwrap(), "21");
    }

    #[test]
    fn else_by_the_status_it_leads_to() {
        assert_eq!(find_id(ANSWER.as_bytes(), "Closed").unwrap(), "41");
    }

    #[test]
    fn no_match_names_the_transitions_on_offer() {
        let error = find_id(ANSWER.as_bytes(), "Resolved").unwrap_err();
        assert_eq!(
            error.message(),
            "no Jira transition named \"Resolved\" (set `resolve_transition`); the issue offers: \
             To Do, In Progress, Done, Close issue"
        );
        let none = find_id(br#"{"transitions": []}"#, "Done").unwrap_err();
        assert!(none.message().ends_with("offers: none"), "{none}");
    }

    #[test]
    fn a_body_that_is_not_a_transition_list_is_an_error() {
        let error = find_id(b"<html>", "Done").unwrap_err();
        assert!(
            error
                .message()
                .starts_with("unexpected Jira transitions answer"),
            "{error}"
        );
    }
}
