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

/// Builds the WIT event handed to plugins; `None` for `validate`, which never reaches them (the
/// gateway answers Soda's validation request itself).
pub fn to_wit_event(id: &str, event: &SodaEvent, raw_json: &str) -> Option<wit::Event> {
    let kind = match &event.kind {
        EventKind::Validate => return None,
        EventKind::CheckEvaluation(results) => {
            wit::EventKind::CheckEvaluation(results.iter().map(check_result).collect())
        }
        EventKind::IncidentCreated(i) => wit::EventKind::IncidentCreated(incident(i)),
        EventKind::IncidentUpdated(i) => wit::EventKind::IncidentUpdated(incident(i)),
        EventKind::ContractPublished(c) => wit::EventKind::ContractPublished(contract(c)),
        EventKind::Unknown(name) => wit::EventKind::Unknown(name.clone()),
    };
    Some(wit::Event {
        id: id.to_owned(),
        kind,
        sent_at: event.sent_at.clone(),
        incident_link_callback_url: event.incident_link_callback_url.clone(),
        raw_json: raw_json.to_owned(),
    })
}

fn user(u: &events::User) -> wit::User {
    wit::User {
        id: u.id.clone(),
        email: u.email.clone(),
    }
}

fn dataset(d: &events::Dataset) -> wit::Dataset {
    wit::Dataset {
        id: d.id.clone(),
        name: d.name.clone(),
        label: d.label.clone(),
        soda_cloud_url: d.soda_cloud_url.clone(),
        tags: d.tags.clone(),
        owner: d.owner.as_ref().map(user),
        datasource: d.datasource.as_ref().map(|s| wit::Datasource {
            id: s.id.clone(),
            name: s.name.clone(),
            label: s.label.clone(),
        }),
        attributes: d
            .attributes
            .iter()
            .map(|a| wit::Attribute {
                id: a.id.clone(),
                name: a.name.clone(),
                label: a.label.clone(),
                value: a.value.clone(),
            })
            .collect(),
    }
}

fn check_result(r: &events::CheckResult) -> wit::CheckResult {
    wit::CheckResult {
        id: r.id.clone(),
        name: r.name.clone(),
        soda_cloud_url: r.soda_cloud_url.clone(),
        definition: r.definition.clone(),
        datasets: r.datasets.iter().map(dataset).collect(),
        column: r.column.clone(),
        outcome: match r.outcome() {
            events::Outcome::Pass => wit::Outcome::Pass,
            events::Outcome::Warn => wit::Outcome::Warn,
            events::Outcome::Fail => wit::Outcome::Fail,
            events::Outcome::Error => wit::Outcome::Error,
            events::Outcome::NotEvaluated => wit::Outcome::NotEvaluated,
            events::Outcome::Excluded => wit::Outcome::Excluded,
            events::Outcome::Other => wit::Outcome::Other,
        },
        outcome_raw: r.reported_outcome().map(str::to_owned),
        data_timestamp: r.data_timestamp.clone(),
        diagnostics_json: r.diagnostics.as_ref().map(|d| d.to_string()),
        agreement: r.agreement.as_ref().map(|a| wit::Agreement {
            id: a.id.clone(),
            soda_cloud_url: a.soda_cloud_url.clone(),
            label: a.label.clone(),
            approval_state: a.approval_state.clone(),
            evaluation_result: a.evaluation_result.clone(),
        }),
        value: r.value.clone(),
        attributes: r.attributes.clone(),
    }
}

fn incident(i: &events::Incident) -> wit::Incident {
    wit::Incident {
        id: i.id.clone(),
        soda_cloud_url: i.soda_cloud_url.clone(),
        number: i.number,
        title: i.title.clone(),
        description: i.description.clone(),
        severity: match i.severity() {
            events::Severity::Low => wit::Severity::Low,
            events::Severity::Medium => wit::Severity::Medium,
            events::Severity::High => wit::Severity::High,
            events::Severity::Critical => wit::Severity::Critical,
            events::Severity::Other => wit::Severity::Other,
        },
        severity_raw: i.severity_raw.clone(),
        status: match i.status() {
            events::IncidentStatus::Reported => wit::IncidentStatus::Reported,
            events::IncidentStatus::Investigating => wit::IncidentStatus::Investigating,
            events::IncidentStatus::Fixing => wit::IncidentStatus::Fixing,
            events::IncidentStatus::InProgress => wit::IncidentStatus::InProgress,
            events::IncidentStatus::Resolved => wit::IncidentStatus::Resolved,
            events::IncidentStatus::Other => wit::IncidentStatus::Other,
        },
        status_raw: i.status_raw.clone(),
        created: i.created.clone(),
        last_updated: i.last_updated.clone(),
        resolution_notes: i.resolution_notes.clone(),
        resolution_timestamp: i.resolution_timestamp.clone(),
        links: i
            .links
            .iter()
            .map(|l| wit::IncidentLink {
                integration_type: l.integration_type.clone(),
                name: l.name.clone(),
                url: l.url.clone(),
            })
            .collect(),
        lead: i.lead.as_ref().map(user),
        reporter: i.reporter.as_ref().map(user),
        check_results: i.check_results.iter().map(check_result).collect(),
    }
}

fn contract(c: &events::Contract) -> wit::Contract {
    wit::Contract {
        dataset: c.dataset.clone(),
        prefixes: c.prefixes.clone(),
        datasource: c.datasource.clone(),
        author: c.author.as_ref().map(user),
        contents: c.contents.clone(),
    }
}
