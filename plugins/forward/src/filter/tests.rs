//! Unit tests for route filters (run natively with `cargo test -p forward`).

use soda_gateway_plugin_sdk::Outcome;

use super::*;
use crate::fixtures::{
    check_evaluation, contract_published, dataset, incident_created, result, unknown,
};

fn filters() -> Filters {
    Filters::default()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// `fail` on `orders` (postgres_prod, domain Sales), then `pass` on `bnm_orders` (sodaspark).
fn two_results() -> Event {
    check_evaluation(vec![
        result(
            "missing",
            Outcome::Fail,
            "fail",
            vec![dataset(
                "orders",
                "postgres_prod",
                &[("data_domain", "Sales")],
            )],
        ),
        result(
            "rows",
            Outcome::Pass,
            "pass",
            vec![dataset(
                "bnm_orders",
                "sodaspark",
                &[("data_domain", "Product"), ("origin", "Pipeline")],
            )],
        ),
    ])
}

/// The indices of the matching results, or `None` when the route does not take the event.
fn selected(filters: &Filters, event: &Event) -> Option<Vec<usize>> {
    filters
        .select(event)
        .map(|s| s.matches.iter().map(|m| m.result).collect())
}

#[test]
fn no_filter_takes_every_event_with_all_its_results() {
    assert_eq!(selected(&filters(), &two_results()), Some(vec![0, 1]));
    assert_eq!(selected(&filters(), &unknown()), Some(vec![]));
    assert_eq!(
        selected(&filters(), &contract_published("x/orders", "pg")),
        Some(vec![])
    );
}

#[test]
fn event_types_match_the_soda_name_exactly() {
    let f = Filters {
        event_types: strings(&["incidentCreated", "schemaChanged"]),
        ..filters()
    };
    assert_eq!(selected(&f, &two_results()), None);
    assert_eq!(selected(&f, &unknown()), Some(vec![]));
    assert_eq!(selected(&f, &incident_created(Vec::new())), Some(vec![]));
    let f = Filters {
        event_types: strings(&["checkevaluation"]),
        ..filters()
    };
    assert_eq!(selected(&f, &two_results()), None);
}

#[test]
fn outcomes_select_the_results_they_name() {
    let f = Filters {
        outcomes: strings(&["fail", "warn"]),
        ..filters()
    };
    assert_eq!(selected(&f, &two_results()), Some(vec![0]));
    let f = Filters {
        outcomes: strings(&["error"]),
        ..filters()
    };
    assert_eq!(selected(&f, &two_results()), None, "no result errored");
    assert_eq!(selected(&f, &unknown()), None, "no results at all");
}

#[test]
fn outcomes_ignore_case_dashes_and_underscores_and_accept_raw_values() {
    let event = check_evaluation(vec![
        result("a", Outcome::NotEvaluated, "notEvaluated", Vec::new()),
        result("b", Outcome::Other, "skipped", Vec::new()),
    ]);
    for spelling in ["notEvaluated", "not-evaluated", "NOT_EVALUATED"] {
        let f = Filters {
            outcomes: strings(&[spelling]),
            ..filters()
        };
        assert_eq!(selected(&f, &event), Some(vec![0]), "{spelling}");
    }
    let f = Filters {
        outcomes: strings(&["skipped"]),
        ..filters()
    };
    assert_eq!(selected(&f, &event), Some(vec![1]));
}

#[test]
fn datasets_match_name_or_label_with_wildcards() {
    let by = |patterns: &[&str]| Filters {
        datasets: strings(patterns),
        ..filters()
    };
    assert_eq!(selected(&by(&["orders"]), &two_results()), Some(vec![0]));
    assert_eq!(
        selected(&by(&["ORDERS"]), &two_results()),
        Some(vec![0]),
        "label"
    );
    assert_eq!(
        selected(&by(&["*orders"]), &two_results()),
        Some(vec![0, 1])
    );
    assert_eq!(selected(&by(&["bnm_*"]), &two_results()), Some(vec![1]));
    assert_eq!(selected(&by(&["customers*"]), &two_results()), None);
}

#[test]
fn datasources_match_name_or_label_with_wildcards() {
    let by = |patterns: &[&str]| Filters {
        datasources: strings(patterns),
        ..filters()
    };
    assert_eq!(
        selected(&by(&["postgres_*"]), &two_results()),
        Some(vec![0])
    );
    assert_eq!(
        selected(&by(&["sodaspark label"]), &two_results()),
        Some(vec![1])
    );
    assert_eq!(selected(&by(&["snowflake"]), &two_results()), None);
}

#[test]
fn attributes_need_every_key_with_one_of_its_values() {
    let by = |pairs: &[(&str, &[&str])]| Filters {
        attributes: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), strings(v)))
            .collect(),
        ..filters()
    };
    assert_eq!(
        selected(&by(&[("data_domain", &["Sales"])]), &two_results()),
        Some(vec![0])
    );
    assert_eq!(
        selected(
            &by(&[("data_domain", &["Sales", "Product"])]),
            &two_results()
        ),
        Some(vec![0, 1])
    );
    assert_eq!(
        selected(
            &by(&[("data_domain", &["*"]), ("origin", &["Pipe*"])]),
            &two_results()
        ),
        Some(vec![1])
    );
    assert_eq!(
        selected(&by(&[("data_domain", &["sales"])]), &two_results()),
        None
    );
    assert_eq!(
        selected(&by(&[("owner_team", &["*"])]), &two_results()),
        None
    );
}

#[test]
fn all_filters_must_hold_for_one_result_and_one_dataset() {
    // Two datasets: the datasource filter holds for one, the attribute filter for the other.
    let event = check_evaluation(vec![result(
        "join",
        Outcome::Fail,
        "fail",
        vec![
            dataset("orders", "postgres_prod", &[]),
            dataset("customers", "snowflake", &[("data_domain", "Sales")]),
        ],
    )]);
    let split = Filters {
        datasources: strings(&["postgres_prod"]),
        attributes: [("data_domain".to_string(), strings(&["Sales"]))].into(),
        ..filters()
    };
    assert_eq!(selected(&split, &event), None);
    let together = Filters {
        datasources: strings(&["snowflake"]),
        ..split.clone()
    };
    let selection = together.select(&event).unwrap();
    assert_eq!(
        selection.matches,
        vec![Match {
            result: 0,
            dataset: Some(1)
        }]
    );

    let failing_product = Filters {
        outcomes: strings(&["fail"]),
        attributes: [("data_domain".to_string(), strings(&["Product"]))].into(),
        ..filters()
    };
    assert_eq!(
        selected(&failing_product, &two_results()),
        None,
        "the Product check passed"
    );
}

#[test]
fn incidents_are_filtered_by_their_check_results() {
    let incident = incident_created(vec![result(
        "missing",
        Outcome::Fail,
        "fail",
        vec![dataset("orders", "postgres_prod", &[])],
    )]);
    let f = Filters {
        datasets: strings(&["orders"]),
        outcomes: strings(&["fail"]),
        ..filters()
    };
    assert_eq!(selected(&f, &incident), Some(vec![0]));
    assert_eq!(selected(&f, &incident_created(Vec::new())), None);
}

#[test]
fn contracts_match_dataset_and_datasource_but_never_outcomes_or_attributes() {
    let contract = contract_published("postgres_prod/public/orders", "postgres_prod");
    let f = Filters {
        datasets: strings(&["*/orders"]),
        datasources: strings(&["postgres_*"]),
        ..filters()
    };
    assert_eq!(selected(&f, &contract), Some(vec![]));
    let f = Filters {
        datasets: strings(&["orders"]),
        ..filters()
    };
    assert_eq!(selected(&f, &contract), None, "the whole path is matched");
    let f = Filters {
        outcomes: strings(&["fail"]),
        ..filters()
    };
    assert_eq!(selected(&f, &contract), None);
    let f = Filters {
        attributes: [("data_domain".to_string(), strings(&["*"]))].into(),
        ..filters()
    };
    assert_eq!(selected(&f, &contract), None);
}
