//! What the console's charts read from the store: one tenant's events, its plugins' failed runs
//! and its delivery latencies, counted per time bucket of a [`Window`] in SQL, so a page costs
//! a few rows per bucket however many events there were.
//!
//! Every query starts from the tenant's events in the window (the `events_by_tenant` index on
//! `(tenant, received_at)`) and reaches runs and actions through their indexes on `event_id`.

use sqlx::Row;

use super::Store;

/// Equal time buckets ending at a moment: bucket `i` holds the times in
/// `[start_ms + i * bucket_ms, start_ms + (i + 1) * bucket_ms)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Unix ms.
    pub start_ms: i64,
    pub bucket_ms: i64,
    pub buckets: usize,
}

impl Window {
    /// `buckets` buckets of `bucket_ms` each, the last ending at `end_ms`.
    pub fn ending_at(end_ms: i64, bucket_ms: i64, buckets: usize) -> Self {
        Window {
            start_ms: end_ms - bucket_ms * buckets as i64,
            bucket_ms,
            buckets,
        }
    }

    /// Where the window ends (Unix ms, excluded).
    pub fn end_ms(&self) -> i64 {
        self.start_ms + self.bucket_ms * self.buckets as i64
    }

    /// When bucket `index` starts (Unix ms).
    pub fn bucket_start(&self, index: usize) -> i64 {
        self.start_ms + self.bucket_ms * index as i64
    }
}

/// One tenant's activity in a window, bucket by bucket; buckets without any are left out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Activity {
    /// Events received per bucket (replays included).
    pub events: Vec<Counted>,
    /// Failed plugin runs per plugin and bucket of the event's receipt (runs carry no time of
    /// their own; an `on_response` run counts in its event's bucket).
    pub failures: Vec<PluginCounted>,
    /// HTTP actions delivered per plugin and bucket of the action's creation, with how long
    /// each took from being stored to the end of its successful attempt.
    pub deliveries: Vec<Deliveries>,
}

/// A count in one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// The bucket's index in the window.
    pub bucket: usize,
    pub count: i64,
}

/// A plugin's count in one bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginCounted {
    pub plugin: String,
    pub bucket: usize,
    pub count: i64,
}

/// A plugin's delivered actions in one bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deliveries {
    pub plugin: String,
    pub bucket: usize,
    pub delivered: i64,
    /// Sum of the latencies, ms (the mean is this over `delivered`).
    pub total_ms: i64,
    /// The slowest delivery, ms.
    pub max_ms: i64,
}

/// Events per bucket. Parameters: tenant, window start, bucket width, window end.
const EVENTS: &str = "SELECT (received_at - $2) / $3 AS bucket, COUNT(*) AS events
     FROM events
     WHERE tenant = $1 AND received_at >= $2 AND received_at < $4
     GROUP BY bucket";

/// Failed runs per plugin and bucket. Parameters as [`EVENTS`].
const FAILURES: &str = "SELECT r.plugin AS plugin, (e.received_at - $2) / $3 AS bucket,
         COUNT(*) AS failures
     FROM events e JOIN plugin_runs r ON r.event_id = e.id
     WHERE e.tenant = $1 AND e.received_at >= $2 AND e.received_at < $4
         AND r.outcome = 'error'
     GROUP BY r.plugin, bucket";

/// Delivered HTTP actions per plugin and bucket, with the sum and maximum of their latencies.
/// The successful attempt is an action's last one. Parameters as [`EVENTS`]. (`SUM` is cast
/// because PostgreSQL sums `BIGINT`s as `NUMERIC`.)
const DELIVERIES: &str = "SELECT plugin, bucket, COUNT(*) AS delivered,
         CAST(SUM(latency) AS BIGINT) AS total_ms, MAX(latency) AS max_ms
     FROM (
         SELECT a.plugin AS plugin, (a.created_at - $2) / $3 AS bucket,
             (SELECT MAX(t.started_at + t.duration_ms) FROM attempts t
              WHERE t.action_id = a.id) - a.created_at AS latency
         FROM events e JOIN actions a ON a.event_id = e.id
         WHERE e.tenant = $1 AND e.received_at >= $2
             AND a.created_at >= $2 AND a.created_at < $4
             AND a.kind = 'http' AND a.status = 'succeeded'
     ) delivered
     WHERE latency IS NOT NULL
     GROUP BY plugin, bucket";

impl Store {
    /// `tenant`'s events, plugin failures and deliveries in `window`, per bucket.
    pub async fn activity(&self, tenant: &str, window: &Window) -> anyhow::Result<Activity> {
        let query = |sql: &'static str| {
            sqlx::query(sql)
                .bind(tenant)
                .bind(window.start_ms)
                .bind(window.bucket_ms)
                .bind(window.end_ms())
                .fetch_all(&self.pool)
        };
        let bucket = |row: &sqlx::any::AnyRow| -> anyhow::Result<usize> {
            let bucket: i64 = row.try_get("bucket")?;
            usize::try_from(bucket)
                .ok()
                .filter(|bucket| *bucket < window.buckets)
                .ok_or_else(|| anyhow::anyhow!("bucket {bucket} is outside the window"))
        };
        let events: Vec<Counted> = query(EVENTS)
            .await?
            .iter()
            .map(|row| {
                Ok(Counted {
                    bucket: bucket(row)?,
                    count: row.try_get("events")?,
                })
            })
            .collect::<anyhow::Result<_>>()?;
        let failures: Vec<PluginCounted> = query(FAILURES)
            .await?
            .iter()
            .map(|row| {
                Ok(PluginCounted {
                    plugin: row.try_get("plugin")?,
                    bucket: bucket(row)?,
                    count: row.try_get("failures")?,
                })
            })
            .collect::<anyhow::Result<_>>()?;
        let deliveries: Vec<Deliveries> = query(DELIVERIES)
            .await?
            .iter()
            .map(|row| {
                Ok(Deliveries {
                    plugin: row.try_get("plugin")?,
                    bucket: bucket(row)?,
                    delivered: row.try_get("delivered")?,
                    total_ms: row.try_get("total_ms")?,
                    max_ms: row.try_get("max_ms")?,
                })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Activity {
            events,
            failures,
            deliveries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_ending_now_starts_its_buckets_back_from_the_end() {
        let window = Window::ending_at(10_000, 600, 3);
        assert_eq!(window.start_ms, 8_200);
        assert_eq!(window.bucket_start(0), 8_200);
        assert_eq!(window.bucket_start(2), 9_400);
        assert_eq!(window.end_ms(), 10_000);
    }
}
