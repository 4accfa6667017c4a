//! Per-tenant quotas: request rate (a token bucket), events running at once, and the backlog
//! of actions waiting to be sent. A tenant past a limit gets `429` with `Retry-After`; the
//! others do not notice, since each tenant has buckets, slots and backlog of its own.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::Quota;
/// `Retry-After` when a tenant's backlog is full: it drains at the downstream's pace.
const BACKLOG_RETRY_AFTER: Duration = Duration::from_secs(30);
/// `Retry-After` when all of a tenant's event slots are busy.
const BUSY_RETRY_AFTER: Duration = Duration::from_secs(1);

/// A limit a request ran into, with how long the sender should wait.
#[derive(Debug, Clone, PartialEq)]
pub struct Exceeded {
    pub reason: &'static str,
    pub retry_after: Duration,
}

/// One tenant's quota state.
pub struct TenantQuota {
    limits: Quota,
    bucket: Mutex<Bucket>,
    slots: Arc<Semaphore>,
    /// The tenant's pending actions, kept by the store (`Store::backlog_of`).
    backlog: Arc<AtomicI64>,
}

struct Bucket {
    tokens: f64,
    refilled_at: Instant,
}

impl TenantQuota {
    /// The quota state of a tenant whose pending actions `backlog` counts.
    pub fn new(limits: Quota, backlog: Arc<AtomicI64>) -> Self {
        Self {
            bucket: Mutex::new(Bucket {
                tokens: f64::from(limits.burst),
                refilled_at: Instant::now(),
            }),
            slots: Arc::new(Semaphore::new(limits.concurrent_events)),
            backlog,
            limits,
        }
    }

    /// The limits this state enforces.
    pub fn limits(&self) -> &Quota {
        &self.limits
    }

    /// Takes one request's token, or says how long until there is one.
    pub fn admit(&self) -> Result<(), Exceeded> {
        self.admit_at(Instant::now())
    }

    fn admit_at(&self, now: Instant) -> Result<(), Exceeded> {
        let mut bucket = self.bucket.lock().expect("quota bucket");
        let rate = self.limits.requests_per_second;
        let elapsed = now
            .saturating_duration_since(bucket.refilled_at)
            .as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(f64::from(self.limits.burst));
        bucket.refilled_at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        Err(Exceeded {
            reason: "request rate",
            retry_after: Duration::from_secs_f64((1.0 - bucket.tokens) / rate),
        })
    }

    /// A slot for running this tenant's plugins on one event, held until dropped.
    pub fn start_event(&self) -> Result<OwnedSemaphorePermit, Exceeded> {
        self.slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| Exceeded {
                reason: "events running at once",
                retry_after: BUSY_RETRY_AFTER,
            })
    }

    /// Refuses while the tenant's pending actions are at the limit.
    pub fn check_backlog(&self) -> Result<(), Exceeded> {
        if self.backlog.load(Ordering::Relaxed) >= self.limits.max_pending_actions {
            return Err(Exceeded {
                reason: "actions waiting to be sent",
                retry_after: BACKLOG_RETRY_AFTER,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(rate: f64, burst: u32, concurrent: usize) -> TenantQuota {
        TenantQuota::new(
            Quota {
                requests_per_second: rate,
                burst,
                concurrent_events: concurrent,
                max_pending_actions: 10,
                ..Quota::default()
            },
            Arc::default(),
        )
    }

    #[test]
    fn a_full_backlog_is_refused_until_it_drains() {
        let backlog = Arc::new(AtomicI64::new(9));
        let quota = TenantQuota::new(
            Quota {
                requests_per_second: 1.0,
                burst: 1,
                concurrent_events: 1,
                max_pending_actions: 10,
                ..Quota::default()
            },
            backlog.clone(),
        );
        assert_eq!(quota.check_backlog(), Ok(()));
        backlog.store(10, Ordering::Relaxed);
        assert_eq!(
            quota.check_backlog().unwrap_err().reason,
            "actions waiting to be sent"
        );
        backlog.store(3, Ordering::Relaxed);
        assert_eq!(quota.check_backlog(), Ok(()));
    }

    #[test]
    fn the_bucket_allows_a_burst_then_the_rate() {
        let quota = quota(2.0, 3, 1);
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(quota.admit_at(start), Ok(()));
        }
        let refused = quota.admit_at(start).unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_millis(500));
        let later = start + Duration::from_millis(500);
        assert_eq!(quota.admit_at(later), Ok(()), "one token back after 1/rate");
        assert!(quota.admit_at(later).is_err());
        let much_later = start + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(
                quota.admit_at(much_later),
                Ok(()),
                "refills up to the burst"
            );
        }
        assert!(quota.admit_at(much_later).is_err());
    }

    #[test]
    fn event_slots_are_limited_and_given_back() {
        let quota = quota(1.0, 1, 2);
        let first = quota.start_event().unwrap();
        let _second = quota.start_event().unwrap();
        assert_eq!(
            quota.start_event().unwrap_err().reason,
            "events running at once"
        );
        drop(first);
        assert!(quota.start_event().is_ok());
    }
}
