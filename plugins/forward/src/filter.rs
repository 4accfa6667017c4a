//! Which events a route takes, and which of their check results matched.

use std::collections::BTreeMap;

use soda_gateway_plugin_sdk::{CheckResult, Contract, Dataset, Event, EventKind};

use crate::wildcard;

/// A route's filters. An empty list (or map) matches everything; a route takes an event only
/// when every filter that is set matches.
///
/// `event_types` looks at the event. The others look at its check results (those of a
/// `checkEvaluation`, or those attached to an incident): the event matches when at least one
/// result matches all of them, and `datasets`, `datasources` and `attributes` must then hold
/// for one and the same dataset of that result. A `contractPublished` event matches
/// `datasets` and `datasources` with its contract's dataset and data source, and never
/// matches `outcomes` or `attributes`; events without check results match none of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filters {
    /// Soda event types, e.g. `checkEvaluation`, `incidentCreated` (exact).
    pub event_types: Vec<String>,
    /// Check outcomes, e.g. `fail`, `warn`, `notEvaluated` (case, `-` and `_` ignored).
    pub outcomes: Vec<String>,
    /// Dataset name or label patterns (`*` wildcards).
    pub datasets: Vec<String>,
    /// Data source name or label patterns (`*` wildcards).
    pub datasources: Vec<String>,
    /// Dataset attribute name → value patterns, one of which its value must match.
    pub attributes: BTreeMap<String, Vec<String>>,
}

/// What passed a route's filters: the matching check results of the event, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    pub matches: Vec<Match>,
}

/// One matching check result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Match {
    /// Its index in [`Event::check_results`].
    pub result: usize,
    /// The index of its first dataset that passed the dataset filters (none when it has no
    /// dataset and no dataset filter is set).
    pub dataset: Option<usize>,
}

impl Filters {
    /// The event's matching check results when the route takes the event, else `None`.
    pub fn select(&self, event: &Event) -> Option<Selection> {
        let kind = event.kind.name();
        if !self.event_types.is_empty() && !self.event_types.iter().any(|t| t == kind) {
            return None;
        }
        if let EventKind::ContractPublished(contract) = &event.kind {
            return self.takes_contract(contract).then(Selection::default);
        }
        let matches: Vec<Match> = event
            .check_results()
            .iter()
            .enumerate()
            .filter_map(|(index, result)| self.match_result(index, result))
            .collect();
        if matches.is_empty() && self.filters_results() {
            return None;
        }
        Some(Selection { matches })
    }

    /// Whether any filter looks at check results.
    fn filters_results(&self) -> bool {
        !self.outcomes.is_empty() || self.filters_datasets()
    }

    /// Whether any filter looks at datasets.
    fn filters_datasets(&self) -> bool {
        !self.datasets.is_empty() || !self.datasources.is_empty() || !self.attributes.is_empty()
    }

    fn match_result(&self, index: usize, result: &CheckResult) -> Option<Match> {
        if !self.outcomes.is_empty() && !self.outcomes.iter().any(|o| outcome_is(result, o)) {
            return None;
        }
        let dataset = result.datasets.iter().position(|d| self.takes_dataset(d));
        if dataset.is_none() && self.filters_datasets() {
            return None;
        }
        Some(Match {
            result: index,
            dataset,
        })
    }

    fn takes_dataset(&self, dataset: &Dataset) -> bool {
        let datasource = dataset.datasource.as_ref();
        any_matches(&self.datasets, [&dataset.name, &dataset.label])
            && any_matches(
                &self.datasources,
                [
                    datasource.and_then(|ds| ds.name.as_ref()),
                    datasource.and_then(|ds| ds.label.as_ref()),
                ],
            )
            && self.attributes.iter().all(|(name, allowed)| {
                dataset.attributes.iter().any(|attribute| {
                    attribute.name.as_deref() == Some(name.as_str())
                        && any_matches(allowed, [&attribute.value])
                })
            })
    }

    fn takes_contract(&self, contract: &Contract) -> bool {
        self.outcomes.is_empty()
            && self.attributes.is_empty()
            && any_matches(&self.datasets, [&contract.dataset])
            && any_matches(&self.datasources, [&contract.datasource])
    }
}

/// Whether `patterns` is empty or one of them matches one of `values`.
fn any_matches<'a, const N: usize>(
    patterns: &[String],
    values: [impl Into<Option<&'a String>>; N],
) -> bool {
    if patterns.is_empty() {
        return true;
    }
    let values: Vec<&String> = values.into_iter().filter_map(Into::into).collect();
    patterns
        .iter()
        .any(|pattern| values.iter().any(|value| wildcard::matches(pattern, value)))
}

/// Whether the result's outcome (normalised, or as Soda sent it) is `wanted`, ignoring case,
/// `-` and `_`: `notEvaluated`, `not-evaluated` and `not_evaluated` are one outcome.
fn outcome_is(result: &CheckResult, wanted: &str) -> bool {
    let wanted = fold(wanted);
    fold(result.outcome_str()) == wanted
        || result
            .outcome_raw
            .as_deref()
            .is_some_and(|raw| fold(raw) == wanted)
}

fn fold(outcome: &str) -> String {
    outcome
        .chars()
        .filter(|c| !matches!(c, '-' | '_'))
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests;
