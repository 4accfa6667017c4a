//! The continuation text of the plugin's chained requests: which step a response belongs to.

use serde::{Deserialize, Serialize};
use soda_gateway_plugin_sdk::Error;

/// A request whose response the plugin asked to see.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// The issue for the event's incident was created (or not).
    Created,
    /// The transitions open to `issue` were listed, to resolve it.
    Transitions {
        /// The issue key.
        issue: String,
    },
}

impl Step {
    /// The continuation text.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("a step serialises")
    }

    /// The step a continuation text names.
    pub fn decode(continuation: &str) -> Result<Self, Error> {
        serde_json::from_str(continuation)
            .map_err(|e| Error::new(format!("unknown continuation {continuation:?}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_survive_the_round_trip() {
        for step in [
            Step::Created,
            Step::Transitions {
                issue: "DATA-7".to_string(),
            },
        ] {
            assert_eq!(Step::decode(&step.encode()).unwrap(), step);
        }
        assert_eq!(Step::Created.encode(), r#"{"step":"created"}"#);
    }

    #[test]
    fn a_foreign_continuation_is_an_error() {
        assert!(Step::decode("created").is_err());
    }
}
