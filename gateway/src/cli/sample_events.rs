//! Random but plausible Soda events of every type, as Soda Cloud's own "Event Testing" sends
//! them, in the payload generations Soda documents: what `soda-gateway send` posts.

use std::time::{Duration, SystemTime};

use anyhow::bail;
use fastrand::Rng;
use serde_json::{json, Value};

/// Where the generated events point: Soda Cloud.
const SODA_CLOUD: &str = "https://cloud.soda.io";

/// An event type `send` can build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Validate,
    CheckEvaluation,
    IncidentCreated,
    IncidentUpdated,
    ContractPublished,
}

impl EventType {
    /// Every type, in the order `send` posts them.
    pub const ALL: [EventType; 5] = [
        EventType::Validate,
        EventType::CheckEvaluation,
        EventType::IncidentCreated,
        EventType::IncidentUpdated,
        EventType::ContractPublished,
    ];

    /// The type as Soda names it in the `event` field.
    pub fn name(self) -> &'static str {
        match self {
            EventType::Validate => "validate",
            EventType::CheckEvaluation => "checkEvaluation",
            EventType::IncidentCreated => "incidentCreated",
            EventType::IncidentUpdated => "incidentUpdated",
            EventType::ContractPublished => "contractPublished",
        }
    }

    /// The types `--type` names: Soda's names (in any case) or `all`; none at all means all.
    /// Each type is kept once, in the order first named.
    pub fn select(names: &[String]) -> anyhow::Result<Vec<EventType>> {
        if names.is_empty() || names.iter().any(|name| name.eq_ignore_ascii_case("all")) {
            return Ok(Self::ALL.to_vec());
        }
        let mut types = Vec::new();
        for name in names {
            let Some(found) = Self::ALL
                .into_iter()
                .find(|kind| kind.name().eq_ignore_ascii_case(name))
            else {
                let known: Vec<&str> = Self::ALL.iter().map(|kind| kind.name()).collect();
                bail!(
                    "unknown event type `{name}`: use one of {} or all",
                    known.join(", ")
                );
            };
            if !types.contains(&found) {
                types.push(found);
            }
        }
        Ok(types)
    }
}

/// A random event of type `kind`, in a payload generation Soda documents for it: both for
/// check evaluations and incidents (the generation is picked at random), the first for
/// `validate`, the second for `contractPublished`. A `checkEvaluation` always has a failing
/// first check, so that alerting plugins have something to say.
pub fn build(kind: EventType, rng: &mut Rng) -> Value {
    let mut faker = Faker {
        rng,
        now: SystemTime::now(),
    };
    let generation = if faker.rng.bool() {
        Generation::First
    } else {
        Generation::Second
    };
    match kind {
        EventType::Validate => json!({
            "event": "validate",
            "sentAt": humantime::format_rfc3339_micros(faker.now).to_string(),
        }),
        EventType::CheckEvaluation => json!({
            "event": "checkEvaluation",
            "checkResults": faker.check_results(generation),
        }),
        EventType::IncidentCreated => faker.incident_event("incidentCreated", generation, false),
        EventType::IncidentUpdated => faker.incident_event("incidentUpdated", generation, true),
        EventType::ContractPublished => json!({
            "event": "contractPublished",
            "contract": faker.contract(),
        }),
    }
}

/// Soda's payload generations: the first (2022 docs: `createdTimestamp`, `minor`/`major`
/// severities, the callback URL at the top level) and the second (2025 docs: `created`,
/// `low`..`critical`, the callback URL inside the incident, check names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Generation {
    First,
    Second,
}

impl Generation {
    fn severities(self) -> &'static [&'static str] {
        match self {
            Generation::First => &["minor", "major", "critical"],
            Generation::Second => &["low", "medium", "high", "critical"],
        }
    }

    /// An incident's status when it is created.
    fn created_status(self) -> &'static str {
        match self {
            Generation::First => "opened",
            Generation::Second => "reported",
        }
    }

    /// The statuses an incident moves on to.
    fn later_statuses(self) -> &'static [&'static str] {
        match self {
            Generation::First => &["investigating", "fixing", "resolved"],
            Generation::Second => &["in_progress", "resolved"],
        }
    }

    /// The keys of an incident's creation and last-update times.
    fn timestamp_keys(self) -> (&'static str, &'static str) {
        match self {
            Generation::First => ("createdTimestamp", "lastUpdatedTimestamp"),
            Generation::Second => ("created", "lastUpdated"),
        }
    }

    /// A check's possible outcomes as the generation's documentation lists them.
    fn outcomes(self) -> &'static [&'static str] {
        match self {
            Generation::First => &["pass", "warn", "fail"],
            Generation::Second => &["pass", "fail", "error"],
        }
    }
}

const DATASOURCES: &[&str] = &[
    "postgres_prod",
    "snowflake_analytics",
    "bigquery_marketing",
    "databricks_lakehouse",
    "redshift_finance",
];
const DATABASES: &[&str] = &["analytics", "warehouse", "raw", "curated"];
const SCHEMAS: &[&str] = &["public", "sales", "core", "staging"];
const DATASETS: &[&str] = &[
    "orders",
    "customers",
    "payments",
    "shipments",
    "invoices",
    "web_sessions",
    "inventory",
];
const COLUMNS: &[&str] = &[
    "customer_id",
    "order_id",
    "amount",
    "email",
    "country_code",
    "created_at",
];
const FIRST_NAMES: &[&str] = &["maria", "james", "aiko", "lars", "fatima", "noah", "priya"];
const LAST_NAMES: &[&str] = &[
    "lopez", "smith", "tanaka", "jensen", "haddad", "meyer", "rao",
];
/// Dataset attributes: name, label and the values they take.
const ATTRIBUTES: &[(&str, &str, &[&str])] = &[
    (
        "data_domain",
        "Data Domain",
        &["Sales", "Product", "Finance"],
    ),
    (
        "origin",
        "Origin",
        &["Pipeline", "Manual upload", "Vendor feed"],
    ),
    ("tier", "Tier", &["Gold", "Silver", "Bronze"]),
];
/// Check templates: name and metric with `{column}` and `{dataset}` to fill in; the column
/// checks name `{column}`, the others are about the whole dataset.
const CHECKS: &[(&str, &str)] = &[
    ("No missing {column}", "missing_count({column}) = 0"),
    ("No duplicate {column}", "duplicate_count({column}) = 0"),
    ("Valid {column}", "invalid_percent({column}) < 1 %"),
    ("{dataset} is not empty", "row_count > 0"),
    ("{dataset} is fresh", "freshness(created_at) < 1d"),
];

/// The data a generated event is about.
struct Scene {
    datasource: &'static str,
    database: &'static str,
    schema: &'static str,
    dataset: &'static str,
    /// The dataset as check results carry it (one id for all the event's results).
    record: Value,
    /// When the scanned data was current.
    data_time: SystemTime,
}

/// Random but plausible values for one event.
struct Faker<'a> {
    rng: &'a mut Rng,
    now: SystemTime,
}

impl Faker<'_> {
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.usize(..items.len())]
    }

    fn uuid(&mut self) -> String {
        let mut bytes = [0u8; 16];
        self.rng.fill(&mut bytes);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }

    /// A time within the last `minutes`, to the second.
    fn recent(&mut self, minutes: u64) -> SystemTime {
        self.now - Duration::from_secs(self.rng.u64(0..=minutes * 60))
    }

    fn timestamp(time: SystemTime) -> String {
        humantime::format_rfc3339_seconds(time).to_string()
    }

    fn cloud_url(&self, kind: &str, id: &str) -> String {
        format!("{SODA_CLOUD}/{kind}/{id}")
    }

    fn scene(&mut self) -> Scene {
        let datasource = self.pick(DATASOURCES);
        let dataset = self.pick(DATASETS);
        Scene {
            datasource,
            database: self.pick(DATABASES),
            schema: self.pick(SCHEMAS),
            dataset,
            record: self.dataset(datasource, dataset),
            data_time: self.recent(60),
        }
    }

    fn user(&mut self) -> Value {
        let email = format!(
            "{}.{}@example.com",
            self.pick(FIRST_NAMES),
            self.pick(LAST_NAMES)
        );
        json!({ "id": self.uuid(), "email": email })
    }

    fn dataset(&mut self, datasource: &str, dataset: &str) -> Value {
        let id = self.uuid();
        let (name, label, values) = self.pick(ATTRIBUTES);
        let tags: Vec<&str> = ["tier-1", "pii", "finance", "daily"]
            .into_iter()
            .filter(|_| self.rng.bool())
            .collect();
        json!({
            "id": id,
            "sodaCloudUrl": self.cloud_url("datasets", &id),
            "name": dataset,
            "label": dataset,
            "tags": tags,
            "owner": self.user(),
            "datasource": {
                "id": self.uuid(),
                "name": datasource,
                "label": datasource,
            },
            "attributes": [{
                "id": self.uuid(),
                "label": label,
                "name": name,
                "value": self.pick(values),
            }],
        })
    }

    /// One to four results on one dataset; the first fails.
    fn check_results(&mut self, generation: Generation) -> Vec<Value> {
        let scene = self.scene();
        let count = self.rng.usize(1..=4);
        (0..count)
            .map(|index| {
                let outcome = if index == 0 {
                    "fail"
                } else {
                    self.pick(generation.outcomes())
                };
                self.check_result(generation, &scene, outcome).1
            })
            .collect()
    }

    /// A check result and the check's name.
    fn check_result(
        &mut self,
        generation: Generation,
        scene: &Scene,
        outcome: &str,
    ) -> (String, Value) {
        let id = self.uuid();
        let column = self.pick(COLUMNS);
        let (name, metric) = self.pick(CHECKS);
        let column_check = metric.contains("{column}");
        let fill = |text: &str| {
            text.replace("{column}", column)
                .replace("{dataset}", scene.dataset)
        };
        let (name, metric) = (fill(name), fill(metric));
        let value = f64::from(self.rng.u32(0..10_000)) / 10.0;
        let mut result = json!({
            "id": id,
            "sodaCloudUrl": self.cloud_url("checks", &id),
            "definition": format!("checks for {}:\n  - {metric}:\n      name: {name}", scene.dataset),
            "datasets": [scene.record],
            "outcome": outcome,
            "dataTimestamp": Self::timestamp(scene.data_time),
            "diagnostics": { "value": value },
        });
        if column_check {
            result["column"] = json!(column);
        }
        if generation == Generation::Second {
            result["name"] = json!(name);
        }
        if self.rng.bool() {
            result["agreement"] = self.agreement(outcome);
        }
        (name, result)
    }

    fn agreement(&mut self, outcome: &str) -> Value {
        let id = self.uuid();
        let dataset = self.pick(DATASETS);
        let result = if outcome == "fail" { "fail" } else { "pass" };
        json!({
            "id": id,
            "sodaCloudUrl": self.cloud_url("agreements", &id),
            "label": format!("{dataset} data contract"),
            "approvalState": self.pick(&["pending", "approved"]),
            "evaluationResult": result,
        })
    }

    /// An incident event; `updated` picks a later status than the one it is created with.
    fn incident_event(&mut self, event: &str, generation: Generation, updated: bool) -> Value {
        let id = self.uuid();
        let scene = self.scene();
        let (check_name, check) = self.check_result(generation, &scene, "fail");
        let callback = self.callback_url(&id);
        let status = if updated {
            self.pick(generation.later_statuses())
        } else {
            generation.created_status()
        };
        let created = self.recent(24 * 60);
        let last_updated = created + Duration::from_secs(self.rng.u64(0..3600));
        let (created_key, updated_key) = generation.timestamp_keys();
        let mut incident = json!({
            "id": id,
            "sodaCloudUrl": self.cloud_url("incidents", &id),
            "number": self.rng.u32(1..10_000),
            "title": format!("{check_name} failed on {}", scene.dataset),
            "description": format!(
                "{} rows of {}.{}.{} failed `{check_name}` in the last scan.",
                self.rng.u32(1..5_000),
                scene.database,
                scene.schema,
                scene.dataset
            ),
            "severity": self.pick(generation.severities()),
            "status": status,
            created_key: Self::timestamp(created),
            updated_key: Self::timestamp(last_updated),
            "reporter": self.user(),
            "checkResults": [check],
        });
        if status == "resolved" {
            incident["resolutionNotes"] = json!("Fixed upstream and backfilled.");
            incident["resolutionTimestamp"] = json!(Self::timestamp(last_updated));
        }
        match generation {
            Generation::First => {
                incident["lead"] = self.user();
                incident["links"] = json!([]);
                json!({ "event": event, "incident": incident, "incidentLinkCallbackUrl": callback })
            }
            Generation::Second => {
                incident["incidentLinkCallbackUrl"] = json!(callback);
                json!({ "event": event, "incident": incident })
            }
        }
    }

    /// Where Soda would accept an incident link for incident `id`.
    fn callback_url(&mut self, id: &str) -> String {
        let integration = self.uuid();
        let token: String = std::iter::repeat_with(|| self.rng.alphanumeric())
            .take(40)
            .collect();
        format!("{SODA_CLOUD}/integrations/webhook/{integration}/incident-link/{id}/{token}")
    }

    fn contract(&mut self) -> Value {
        let scene = self.scene();
        let dataset = format!(
            "{}/{}/{}/{}",
            scene.datasource, scene.database, scene.schema, scene.dataset
        );
        let column = self.pick(COLUMNS);
        let contents = format!(
            "dataset: {dataset}\n\ncolumns:\n  - name: {column}\n    checks:\n      - missing:\n\
             \nchecks:\n  - row_count:\n      threshold:\n        must_be_greater_than: 0\n"
        );
        json!({
            "dataset": dataset,
            "prefixes": [scene.datasource, scene.database, scene.schema],
            "datasource": scene.datasource,
            "author": self.user(),
            "contents": contents,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{self, EventKind, IncidentStatus, Outcome, Severity};

    /// Builds `kind` and parses it as the gateway would.
    fn parsed(kind: EventType, rng: &mut Rng) -> (Value, events::SodaEvent) {
        let value = build(kind, rng);
        let body = serde_json::to_vec(&value).unwrap();
        let event = events::parse(&body).unwrap_or_else(|e| panic!("{e}: {value:#}"));
        (value, event)
    }

    fn assert_incident(incident: &events::Incident, event: &events::SodaEvent, value: &Value) {
        assert_ne!(incident.severity(), Severity::Other, "{value:#}");
        assert_ne!(incident.status(), IncidentStatus::Other, "{value:#}");
        assert!(
            incident.created.is_some() && incident.last_updated.is_some(),
            "{value:#}"
        );
        assert_eq!(incident.check_results[0].outcome(), Outcome::Fail);
        let callback = event.incident_link_callback_url.as_deref().unwrap();
        assert!(
            callback.starts_with("https://cloud.soda.io/integrations/webhook/"),
            "{callback}"
        );
    }

    #[test]
    fn every_builder_parses_as_its_type_many_times_over() {
        let mut rng = Rng::new();
        for kind in EventType::ALL {
            for _ in 0..200 {
                let (value, event) = parsed(kind, &mut rng);
                assert_eq!(event.type_name(), kind.name(), "{value:#}");
                match &event.kind {
                    EventKind::Validate => assert!(event.sent_at.is_some()),
                    EventKind::CheckEvaluation(results) => {
                        assert!((1..=4).contains(&results.len()), "{value:#}");
                        assert_eq!(results[0].outcome(), Outcome::Fail, "{value:#}");
                        for result in results {
                            assert_ne!(result.outcome(), Outcome::Other, "{value:#}");
                            assert!(!result.datasets.is_empty());
                        }
                    }
                    EventKind::IncidentCreated(incident) => {
                        assert_incident(incident, &event, &value);
                        assert_eq!(incident.status(), IncidentStatus::Reported);
                    }
                    EventKind::IncidentUpdated(incident) => {
                        assert_incident(incident, &event, &value);
                        assert_ne!(incident.status(), IncidentStatus::Reported);
                    }
                    EventKind::ContractPublished(contract) => {
                        let dataset = contract.dataset.as_deref().unwrap();
                        assert!(dataset.starts_with(contract.datasource.as_deref().unwrap()));
                        assert_eq!(contract.prefixes.len(), 3);
                        assert!(contract.contents.as_deref().unwrap().contains(dataset));
                    }
                    EventKind::Unknown(name) => panic!("built an unknown event {name}"),
                }
            }
        }
    }

    #[test]
    fn checks_and_incidents_come_in_both_generations() {
        let mut rng = Rng::with_seed(7);
        let (mut first, mut second) = (0, 0);
        for _ in 0..100 {
            let (value, _) = parsed(EventType::IncidentCreated, &mut rng);
            let incident = &value["incident"];
            if incident.get("createdTimestamp").is_some() {
                assert!(value["incidentLinkCallbackUrl"].is_string(), "{value:#}");
                assert!(incident.get("created").is_none());
                first += 1;
            } else {
                assert!(incident["incidentLinkCallbackUrl"].is_string(), "{value:#}");
                assert!(incident["created"].is_string());
                second += 1;
            }
        }
        assert!(first > 10 && second > 10, "{first} / {second}");
        let named = (0..100)
            .filter(|_| {
                let (value, _) = parsed(EventType::CheckEvaluation, &mut rng);
                value["checkResults"][0].get("name").is_some()
            })
            .count();
        assert!(
            (10..90).contains(&named),
            "second generation names checks: {named}"
        );
    }

    #[test]
    fn every_soda_link_points_at_soda_cloud() {
        fn walk(value: &Value, found: &mut usize) {
            match value {
                Value::Object(map) => {
                    for (key, value) in map {
                        if key == "sodaCloudUrl" || key == "incidentLinkCallbackUrl" {
                            let url = value.as_str().unwrap();
                            assert!(url.starts_with("https://cloud.soda.io/"), "{url}");
                            *found += 1;
                        }
                        walk(value, found);
                    }
                }
                Value::Array(items) => items.iter().for_each(|item| walk(item, found)),
                _ => {}
            }
        }
        let mut rng = Rng::new();
        // The links every build has at least: a check result and its dataset; an incident, its
        // callback and its check's result and dataset.
        for (kind, least) in [
            (EventType::CheckEvaluation, 2),
            (EventType::IncidentCreated, 3),
            (EventType::IncidentUpdated, 3),
        ] {
            for _ in 0..50 {
                let mut found = 0;
                walk(&build(kind, &mut rng), &mut found);
                assert!(found >= least, "{kind:?}: {found}");
            }
        }
    }

    #[test]
    fn two_builds_differ_and_a_seed_repeats_itself() {
        let mut rng = Rng::new();
        for kind in EventType::ALL {
            assert_ne!(build(kind, &mut rng), build(kind, &mut rng), "{kind:?}");
        }
        // The clock aside, the values come from the generator alone.
        let contract = |seed| build(EventType::ContractPublished, &mut Rng::with_seed(seed));
        assert_eq!(contract(42), contract(42));
    }

    #[test]
    fn types_are_selected_by_soda_name_in_any_case_or_all() {
        let names =
            |names: &[&str]| -> Vec<String> { names.iter().map(|name| name.to_string()).collect() };
        assert_eq!(EventType::select(&[]).unwrap(), EventType::ALL);
        assert_eq!(
            EventType::select(&names(&["validate", "ALL"])).unwrap(),
            EventType::ALL
        );
        assert_eq!(
            EventType::select(&names(&["incidentcreated", "validate", "incidentCreated"])).unwrap(),
            [EventType::IncidentCreated, EventType::Validate]
        );
        let error = EventType::select(&names(&["checkResult"]))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`checkResult`") && error.contains("checkEvaluation, incidentCreated"),
            "{error}"
        );
    }
}
