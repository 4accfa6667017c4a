//! From a tenant's [`Activity`] (sparse counts per bucket, from the store) to the series its
//! charts draw: one value per bucket of the last 24 hours, events scaled to a rate per minute,
//! failures as counts, and the mean delivery latency of each bucket.

use std::collections::BTreeSet;

use crate::store::{Activity, Window};

/// Each bar covers ten minutes.
pub const BUCKET_MS: i64 = 10 * 60_000;
/// A day of them.
pub const BUCKETS: usize = 144;
const MINUTE_MS: f64 = 60_000.0;

/// The window the charts show: the 24 hours up to `now_ms`, included (a window's end is not,
/// so it ends a millisecond later: an event stored in the millisecond the page is asked for
/// is on it).
pub fn last_day(now_ms: i64) -> Window {
    Window::ending_at(now_ms + 1, BUCKET_MS, BUCKETS)
}

/// A tenant's charts.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantSeries {
    /// Events per minute, per bucket.
    pub events_per_minute: Vec<f64>,
    /// Events in the whole window.
    pub events: i64,
    /// Its configured plugins in their order, then any other plugin that left data.
    pub plugins: Vec<PluginSeries>,
}

/// One plugin's charts for one tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginSeries {
    pub name: String,
    /// Failed runs, per bucket.
    pub failures: Vec<f64>,
    /// Failed runs in the whole window.
    pub failed: i64,
    /// Mean delivery latency in ms, per bucket (zero where nothing was delivered).
    pub latency_ms: Vec<f64>,
    /// Actions delivered in the whole window.
    pub delivered: i64,
    /// Mean latency over the whole window, ms; `None` without deliveries.
    pub mean_ms: Option<f64>,
    /// The slowest delivery in the window, ms.
    pub max_ms: Option<i64>,
}

/// `count` events in a bucket of `bucket_ms`, as a rate per minute.
pub fn per_minute(count: i64, bucket_ms: i64) -> f64 {
    count as f64 * MINUTE_MS / bucket_ms as f64
}

/// The series of a tenant whose configured plugins are `configured`.
pub fn tenant_series(activity: &Activity, window: &Window, configured: &[String]) -> TenantSeries {
    let mut events_per_minute = vec![0.0; window.buckets];
    for counted in &activity.events {
        events_per_minute[counted.bucket] += per_minute(counted.count, window.bucket_ms);
    }
    let seen: BTreeSet<&str> = activity
        .failures
        .iter()
        .map(|failure| failure.plugin.as_str())
        .chain(activity.deliveries.iter().map(|d| d.plugin.as_str()))
        .filter(|plugin| !configured.iter().any(|name| name == plugin))
        .collect();
    let names = configured.iter().map(String::as_str).chain(seen);
    TenantSeries {
        events_per_minute,
        events: activity.events.iter().map(|counted| counted.count).sum(),
        plugins: names
            .map(|name| plugin_series(activity, window, name))
            .collect(),
    }
}

fn plugin_series(activity: &Activity, window: &Window, name: &str) -> PluginSeries {
    let mut failures = vec![0.0; window.buckets];
    let mut failed = 0;
    for failure in activity.failures.iter().filter(|f| f.plugin == name) {
        failures[failure.bucket] += failure.count as f64;
        failed += failure.count;
    }
    let mut latency_ms = vec![0.0; window.buckets];
    let (mut delivered, mut total_ms, mut max_ms) = (0, 0, None);
    for bucket in activity.deliveries.iter().filter(|d| d.plugin == name) {
        if bucket.delivered > 0 {
            latency_ms[bucket.bucket] = bucket.total_ms as f64 / bucket.delivered as f64;
        }
        delivered += bucket.delivered;
        total_ms += bucket.total_ms;
        max_ms = max_ms.max(Some(bucket.max_ms));
    }
    PluginSeries {
        name: name.to_owned(),
        failures,
        failed,
        latency_ms,
        delivered,
        mean_ms: (delivered > 0).then(|| total_ms as f64 / delivered as f64),
        max_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Counted, Deliveries, PluginCounted};

    fn failed(plugin: &str, bucket: usize, count: i64) -> PluginCounted {
        PluginCounted {
            plugin: plugin.into(),
            bucket,
            count,
        }
    }

    #[test]
    fn a_bucket_of_ten_minutes_scales_its_count_to_a_rate_per_minute() {
        assert_eq!(per_minute(30, BUCKET_MS), 3.0);
        assert_eq!(per_minute(1, BUCKET_MS), 0.1);
        assert_eq!(per_minute(5, 60_000), 5.0);
    }

    #[test]
    fn the_last_day_is_144_buckets_ending_now_included() {
        let now = 1_800_000_000_000;
        let window = last_day(now);
        assert_eq!(window.buckets, 144);
        assert_eq!(
            window.end_ms(),
            now + 1,
            "an event stored at `now` is in the window"
        );
        assert_eq!(window.start_ms, now + 1 - 24 * 3600 * 1000);
    }

    #[test]
    fn counts_land_in_their_buckets_and_the_rest_are_zero() {
        let window = Window::ending_at(60_000, BUCKET_MS / 10, 4);
        let activity = Activity {
            events: vec![
                Counted {
                    bucket: 0,
                    count: 2,
                },
                Counted {
                    bucket: 3,
                    count: 1,
                },
            ],
            ..Activity::default()
        };
        let series = tenant_series(&activity, &window, &[]);
        // One-minute buckets: the counts are the rates.
        assert_eq!(series.events_per_minute, [2.0, 0.0, 0.0, 1.0]);
        assert_eq!(series.events, 3);
        assert!(series.plugins.is_empty());
    }

    #[test]
    fn configured_plugins_come_first_then_the_others_that_left_data() {
        let window = last_day(0);
        let activity = Activity {
            failures: vec![failed("gone", 5, 2), failed("slack", 143, 3)],
            deliveries: vec![Deliveries {
                plugin: "another".into(),
                bucket: 1,
                delivered: 1,
                total_ms: 10,
                max_ms: 10,
            }],
            ..Activity::default()
        };
        let configured = ["slack".to_owned(), "jira".to_owned()];
        let series = tenant_series(&activity, &window, &configured);
        let names: Vec<&str> = series.plugins.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["slack", "jira", "another", "gone"]);
        assert_eq!(series.plugins[0].failures[143], 3.0);
        assert_eq!(series.plugins[0].failed, 3);
        assert_eq!(series.plugins[1].failed, 0);
        assert_eq!(series.plugins[1].mean_ms, None);
        assert_eq!(series.plugins[3].failures[5], 2.0);
    }

    #[test]
    fn latency_is_the_mean_per_bucket_and_over_the_day() {
        let window = last_day(0);
        let delivered = |bucket, delivered, total_ms, max_ms| Deliveries {
            plugin: "slack".into(),
            bucket,
            delivered,
            total_ms,
            max_ms,
        };
        let activity = Activity {
            deliveries: vec![delivered(10, 2, 300, 200), delivered(11, 1, 600, 600)],
            ..Activity::default()
        };
        let series = tenant_series(&activity, &window, &["slack".to_owned()]);
        let slack = &series.plugins[0];
        assert_eq!((slack.latency_ms[10], slack.latency_ms[11]), (150.0, 600.0));
        assert_eq!(slack.latency_ms.iter().filter(|ms| **ms > 0.0).count(), 2);
        assert_eq!(slack.delivered, 3);
        assert_eq!(slack.mean_ms, Some(300.0));
        assert_eq!(slack.max_ms, Some(600));
    }
}
