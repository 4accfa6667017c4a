//! Prometheus metrics: what flows through the gateway, counted where it happens.
//!
//! Label values are bounded: unknown tenants and event types are counted as `unknown`, so a
//! sender cannot grow the series without limit. The backlog gauges are read from the store when
//! `/metrics` is scraped. The handles of the series counted per request are kept once looked
//! up, so counting an event costs a read lock and an increment, not label allocations.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    tenant: String,
    event_type: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginLabels {
    plugin: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// Request counters by tenant, then by event type and status.
type RequestHandles = HashMap<String, HashMap<(&'static str, u16), Counter>>;

/// A plugin's call-duration histogram and error counter.
#[derive(Clone)]
struct PluginHandles {
    seconds: Histogram,
    errors: Counter,
}

/// Every metric the gateway exports.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_handles: RwLock<RequestHandles>,
    plugin_handles: RwLock<HashMap<String, PluginHandles>>,
    plugin_seconds: Family<PluginLabels, Histogram>,
    plugin_errors: Family<PluginLabels, Counter>,
    attempts: Family<OutcomeLabels, Counter>,
    reloads: Family<OutcomeLabels, Counter>,
    pending: Gauge,
    dead_letters: Gauge,
    plugin_calls: Gauge,
    warm_instances: Gauge,
}

/// Values read when `/metrics` is scraped.
pub struct Gauges {
    pub pending_actions: i64,
    pub dead_letters: i64,
    /// Plugin calls running now.
    pub plugin_calls: u64,
    /// Plugin instances kept warm between calls.
    pub warm_instances: usize,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::default();
        registry.register(
            "soda_requests",
            "Webhook requests by tenant, event type and answered status",
            requests.clone(),
        );
        let plugin_seconds = Family::<PluginLabels, Histogram>::new_with_constructor(|| {
            // 10 µs to ~2.6 s.
            Histogram::new(exponential_buckets(0.000_01, 4.0, 10))
        });
        registry.register(
            "soda_plugin_call_seconds",
            "Duration of plugin calls (instantiation included)",
            plugin_seconds.clone(),
        );
        let plugin_errors = Family::default();
        registry.register(
            "soda_plugin_errors",
            "Plugin calls that failed (trap, limit, error, invalid actions, not loaded)",
            plugin_errors.clone(),
        );
        let attempts = Family::default();
        registry.register(
            "soda_delivery_attempts",
            "Delivery attempts by outcome: delivered, retry or failed",
            attempts.clone(),
        );
        let reloads = Family::default();
        registry.register(
            "soda_plugin_reloads",
            "Plugin file changes by outcome: loaded, rejected or unloaded",
            reloads.clone(),
        );
        let pending = Gauge::default();
        registry.register(
            "soda_actions_pending",
            "Actions waiting to be sent",
            pending.clone(),
        );
        let dead_letters = Gauge::default();
        registry.register(
            "soda_dead_letters",
            "Actions that failed for good",
            dead_letters.clone(),
        );
        let plugin_calls = Gauge::default();
        registry.register(
            "soda_plugin_calls_running",
            "Plugin calls running now; with the warm instances, out of `max_plugin_instances`",
            plugin_calls.clone(),
        );
        let warm_instances = Gauge::default();
        registry.register(
            "soda_plugin_warm_instances",
            "Plugin instances kept warm between calls",
            warm_instances.clone(),
        );
        Self {
            registry,
            request_handles: RwLock::default(),
            plugin_handles: RwLock::default(),
            plugin_calls,
            warm_instances,
            requests,
            plugin_seconds,
            plugin_errors,
            attempts,
            reloads,
            pending,
            dead_letters,
        }
    }
}

impl Metrics {
    /// Counts one answered webhook request.
    pub fn request(&self, tenant: &str, event_type: &'static str, status: u16) {
        let cached = read(&self.request_handles)
            .get(tenant)
            .and_then(|by_type| by_type.get(&(event_type, status)).cloned());
        let counter = cached.unwrap_or_else(|| {
            let labels = RequestLabels {
                tenant: tenant.to_owned(),
                event_type: event_type.to_owned(),
                status,
            };
            let counter = self.requests.get_or_create(&labels).clone();
            write(&self.request_handles)
                .entry(labels.tenant)
                .or_default()
                .insert((event_type, status), counter.clone());
            counter
        });
        counter.inc();
    }

    /// Records one plugin call.
    pub fn plugin_call(&self, plugin: &str, duration: Duration, failed: bool) {
        let cached = read(&self.plugin_handles).get(plugin).cloned();
        let handles = cached.unwrap_or_else(|| {
            let labels = PluginLabels {
                plugin: plugin.to_owned(),
            };
            let handles = PluginHandles {
                seconds: self.plugin_seconds.get_or_create(&labels).clone(),
                errors: self.plugin_errors.get_or_create(&labels).clone(),
            };
            write(&self.plugin_handles).insert(labels.plugin, handles.clone());
            handles
        });
        handles.seconds.observe(duration.as_secs_f64());
        if failed {
            handles.errors.inc();
        }
    }

    /// Counts one delivery attempt: `delivered`, `retry` or `failed`.
    pub fn attempt(&self, outcome: &'static str) {
        self.attempts
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Counts one plugin file change: `loaded`, `rejected` or `unloaded`.
    pub fn reload(&self, outcome: &'static str) {
        self.reloads.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// The Prometheus text exposition, with the gauges as given.
    pub fn render(&self, gauges: Gauges) -> String {
        self.pending.set(gauges.pending_actions);
        self.dead_letters.set(gauges.dead_letters);
        self.plugin_calls
            .set(i64::try_from(gauges.plugin_calls).unwrap_or(i64::MAX));
        self.warm_instances
            .set(i64::try_from(gauges.warm_instances).unwrap_or(i64::MAX));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

/// The map behind `lock` for reading; a writer that panicked left it whole (inserts only).
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_values_show_in_the_exposition() {
        let metrics = Metrics::default();
        metrics.request("acme", "checkEvaluation", 200);
        metrics.request("acme", "checkEvaluation", 200);
        metrics.request("acme", "checkEvaluation", 401);
        metrics.request("globex", "checkEvaluation", 200);
        metrics.plugin_call("slack", Duration::from_micros(50), false);
        metrics.plugin_call("slack", Duration::from_micros(70), true);
        metrics.plugin_call("trap", Duration::from_micros(50), true);
        metrics.attempt("delivered");
        metrics.reload("loaded");
        let text = metrics.render(Gauges {
            pending_actions: 3,
            dead_letters: 1,
            plugin_calls: 2,
            warm_instances: 4,
        });
        for line in [
            r#"soda_requests_total{tenant="acme",event_type="checkEvaluation",status="200"} 2"#,
            r#"soda_requests_total{tenant="acme",event_type="checkEvaluation",status="401"} 1"#,
            r#"soda_requests_total{tenant="globex",event_type="checkEvaluation",status="200"} 1"#,
            r#"soda_plugin_call_seconds_count{plugin="slack"} 2"#,
            r#"soda_plugin_errors_total{plugin="slack"} 1"#,
            r#"soda_plugin_errors_total{plugin="trap"} 1"#,
            r#"soda_delivery_attempts_total{outcome="delivered"} 1"#,
            r#"soda_plugin_reloads_total{outcome="loaded"} 1"#,
            "soda_actions_pending 3",
            "soda_dead_letters 1",
            "soda_plugin_calls_running 2",
            "soda_plugin_warm_instances 4",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }
}
