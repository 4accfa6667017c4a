//! Host bindings generated from every contract version in `wit/`, and the conversion of a
//! parsed event into the current contract's types.
//!
//! The conversion runs once per event; every plugin of the tenant receives the same value.

use crate::events::{self, EventKind, SodaEvent};

/// Reads one contract version's WIT into a module of host bindings. Calls run on the async
/// runtime, so that a wall-clock limit can abandon a call blocked in a host call (a WASI poll or
/// sleep) and its instance is freed at once. State reads await the store; every gateway import
/// may trap a plugin that breaks a per-call limit. The types derive `serde` so that the host can
/// adapt an older contract's values (see `contract`), and benchmarks and tools can hand the same
/// event to a plugin compiled natively.
macro_rules! contract_bindings {
    ($path:literal, $($export:ident),+) => {
        wasmtime::component::bindgen!({
            world: "plugin",
            path: $path,
            additional_derives: [serde::Serialize, serde::Deserialize],
            imports: {
                "soda:gateway/state": async | trappable,
                default: trappable,
            },
            exports: { default: async },
        });

        impl<T: Send + 'static> PluginPre<T> {
            /// A new instance with its exports type-checked, and the instance itself (for the
            /// exports the world leaves optional).
            pub async fn instantiate_checked(
                &self,
                mut store: impl wasmtime::AsContextMut<Data = T>,
            ) -> wasmtime::Result<(Plugin, wasmtime::component::Instance)> {
                let instance = self.instance_pre.instantiate_async(&mut store).await?;
                let plugin = self.indices.load(&mut store, &instance)?;
                Ok((plugin, instance))
            }

            /// [`PluginPre::instantiate_async`] without type-checking the exports again.
            ///
            /// # Safety
            ///
            /// The calls through the returned [`Plugin`] assume the exports have the
            /// contract's types: an earlier instance of this same `PluginPre` must have been
            /// made with [`PluginPre::instantiate_async`], which checks them (they cannot
            /// differ between its instances).
            pub async unsafe fn instantiate_prechecked(
                &self,
                mut store: impl wasmtime::AsContextMut<Data = T>,
            ) -> wasmtime::Result<(Plugin, wasmtime::component::Instance)> {
                let instance = self.instance_pre.instantiate_async(&mut store).await?;
                let mut export = |index| {
                    instance
                        .get_func(&mut store, index)
                        .ok_or_else(|| wasmtime::format_err!("the component lost an export"))
                };
                let plugin = Plugin {
                    $($export: export(&self.indices.$export)?,)+
                };
                Ok((plugin, instance))
            }
        }
    };
}

/// The current contract, `wit/0.2.0` (`handle`; `on-response` is optional, see `contract`).
pub mod current {
    contract_bindings!("../wit/0.2.0", handle);
}

/// The first released contract, `wit/0.1.0`, frozen: its plugins still load, adapted by the
/// host (see `contract`).
pub mod v0_1 {
    contract_bindings!("../wit/0.1.0", handle, on_response);
}

pub use current::soda::gateway::types as wit;

/// Builds the WIT event handed to plugins from the parsed event, moving its fields rather than
/// copying them, with `body` (the bytes it was parsed from) as its raw JSON; `None` for
/// `validate`, which never reaches them (the gateway answers Soda's validation request itself).
pub fn into_wit_event(id: &str, event: SodaEvent, body: &[u8]) -> Option<wit::Event> {
    let kind = match event.kind {
        EventKind::Validate => return None,
        EventKind::CheckEvaluation(results) => {
            wit::EventKind::CheckEvaluation(results.into_iter().map(check_result).collect())
        }
        EventKind::IncidentCreated(i) => wit::EventKind::IncidentCreated(incident(*i)),
        EventKind::IncidentUpdated(i) => wit::EventKind::IncidentUpdated(incident(*i)),
        EventKind::ContractPublished(c) => wit::EventKind::ContractPublished(contract(*c)),
        EventKind::Unknown(name) => wit::EventKind::Unknown(name),
    };
    // Valid UTF-8 once parsed; `from_utf8` checks ASCII a word at a time.
    let raw_json = std::str::from_utf8(body).map_or_else(
        |_| String::from_utf8_lossy(body).into_owned(),
        str::to_owned,
    );
    Some(wit::Event {
        id: id.to_owned(),
        kind,
        sent_at: event.sent_at,
        incident_link_callback_url: event.incident_link_callback_url,
        raw_json,
    })
}

fn user(u: events::User) -> wit::User {
    wit::User {
        id: u.id,
        email: u.email,
    }
}

fn dataset(d: events::Dataset) -> wit::Dataset {
    wit::Dataset {
        id: d.id,
        name: d.name,
        label: d.label,
        soda_cloud_url: d.soda_cloud_url,
        tags: d.tags,
        owner: d.owner.map(user),
        datasource: d.datasource.map(|s| wit::Datasource {
            id: s.id,
            name: s.name,
            label: s.label,
        }),
        attributes: d
            .attributes
            .into_iter()
            .map(|a| wit::Attribute {
                id: a.id,
                name: a.name,
                label: a.label,
                value: a.value,
            })
            .collect(),
    }
}

fn check_result(r: events::CheckResult) -> wit::CheckResult {
    let outcome = match r.outcome() {
        events::Outcome::Pass => wit::Outcome::Pass,
        events::Outcome::Warn => wit::Outcome::Warn,
        events::Outcome::Fail => wit::Outcome::Fail,
        events::Outcome::Error => wit::Outcome::Error,
        events::Outcome::NotEvaluated => wit::Outcome::NotEvaluated,
        events::Outcome::Excluded => wit::Outcome::Excluded,
        events::Outcome::Other => wit::Outcome::Other,
    };
    wit::CheckResult {
        id: r.id,
        name: r.name,
        soda_cloud_url: r.soda_cloud_url,
        definition: r.definition,
        datasets: r.datasets.into_iter().map(dataset).collect(),
        column: r.column,
        outcome,
        // What `reported_outcome` reads: `outcome`, or `evaluationStatus` without it.
        outcome_raw: r.outcome_raw.or(r.evaluation_status),
        data_timestamp: r.data_timestamp,
        diagnostics_json: r.diagnostics.map(|d| d.to_string()),
        agreement: r.agreement.map(|a| wit::Agreement {
            id: a.id,
            soda_cloud_url: a.soda_cloud_url,
            label: a.label,
            approval_state: a.approval_state,
            evaluation_result: a.evaluation_result,
        }),
        value: r.value,
        attributes: r.attributes,
    }
}

fn incident(i: events::Incident) -> wit::Incident {
    let severity = match i.severity() {
        events::Severity::Low => wit::Severity::Low,
        events::Severity::Medium => wit::Severity::Medium,
        events::Severity::High => wit::Severity::High,
        events::Severity::Critical => wit::Severity::Critical,
        events::Severity::Other => wit::Severity::Other,
    };
    let status = match i.status() {
        events::IncidentStatus::Reported => wit::IncidentStatus::Reported,
        events::IncidentStatus::Investigating => wit::IncidentStatus::Investigating,
        events::IncidentStatus::Fixing => wit::IncidentStatus::Fixing,
        events::IncidentStatus::InProgress => wit::IncidentStatus::InProgress,
        events::IncidentStatus::Resolved => wit::IncidentStatus::Resolved,
        events::IncidentStatus::Other => wit::IncidentStatus::Other,
    };
    wit::Incident {
        id: i.id,
        soda_cloud_url: i.soda_cloud_url,
        number: i.number,
        title: i.title,
        description: i.description,
        severity,
        severity_raw: i.severity_raw,
        status,
        status_raw: i.status_raw,
        created: i.created,
        last_updated: i.last_updated,
        resolution_notes: i.resolution_notes,
        resolution_timestamp: i.resolution_timestamp,
        links: i
            .links
            .into_iter()
            .map(|l| wit::IncidentLink {
                integration_type: l.integration_type,
                name: l.name,
                url: l.url,
            })
            .collect(),
        lead: i.lead.map(user),
        reporter: i.reporter.map(user),
        check_results: i.check_results.into_iter().map(check_result).collect(),
    }
}

fn contract(c: events::Contract) -> wit::Contract {
    wit::Contract {
        dataset: c.dataset,
        prefixes: c.prefixes,
        datasource: c.datasource,
        author: c.author.map(user),
        contents: c.contents,
    }
}
