//! The delivery worker: sends stored HTTP actions off the request path and records every attempt.
//!
//! It wakes when an event was stored (a [`Notify`]) or every `poll_interval`, leases due
//! actions up to its free concurrency, and sends each with the action id as the
//! `idempotency-key` header. A restart resumes whatever is still pending.

use std::sync::Arc;
use std::time::Instant;

use reqwest::redirect::Policy;
use tokio::sync::{Notify, Semaphore};

use arc_swap::ArcSwap;

use super::policy::{refusal_in, OutboundPolicy};
use super::retry::{next_step, parse_retry_after, AttemptResult, Next, Schedule};
use super::secrets::Secrets;
use super::Response;
use crate::config::Delivery;
use crate::store::{now_ms, AttemptRecord, DueAction, Store};
use crate::telemetry::Metrics;

/// How much of an error response body is kept in the audit trail.
const ERROR_BODY_PREVIEW: usize = 300;
/// How much of a response body is kept for a plugin's `on-response`.
const RESPONSE_BODY_LIMIT: usize = 1024 * 1024;

/// Sends pending actions.
pub struct Worker {
    store: Store,
    client: reqwest::Client,
    policy: OutboundPolicy,
    /// Swapped when the tenants are reloaded.
    secrets: Arc<ArcSwap<Secrets>>,
    config: Delivery,
    wake: Arc<Notify>,
    wake_continuations: Arc<Notify>,
    metrics: Arc<Metrics>,
}

impl Worker {
    /// A worker over `store`; notify `wake` when new actions were stored. It notifies
    /// `wake_continuations` when it stored a response for a plugin.
    pub fn new(
        store: Store,
        config: Delivery,
        policy: OutboundPolicy,
        secrets: Arc<ArcSwap<Secrets>>,
        wake: Arc<Notify>,
        wake_continuations: Arc<Notify>,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(Policy::none())
            .timeout(config.timeout)
            .user_agent(concat!("soda-gateway/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(policy.resolver())
            .build()?;
        Ok(Self {
            store,
            policy,
            secrets,
            client,
            config,
            wake,
            wake_continuations,
            metrics,
        })
    }

    /// Runs until the task is dropped.
    pub async fn run(self) {
        let this = Arc::new(self);
        let slots = Arc::new(Semaphore::new(this.config.concurrency));
        loop {
            // Wait for a free slot, then claim as many actions as there are free slots: one
            // claim (a write) per batch rather than one per action.
            let first = slots.clone().acquire_owned().await.expect("never closed");
            let free = slots.available_permits() + 1;
            let due = match this.store.claim_due(free, this.config.lease).await {
                Ok(due) => due,
                Err(error) => {
                    tracing::error!("cannot claim pending actions: {error:#}");
                    Vec::new()
                }
            };
            if due.is_empty() {
                drop(first);
                tokio::select! {
                    _ = this.wake.notified() => {}
                    _ = tokio::time::sleep(this.config.poll_interval) => {}
                }
                continue;
            }
            let mut first = Some(first);
            for action in due {
                // Only this loop takes slots, so the ones counted free are still free.
                let permit = match first.take() {
                    Some(permit) => permit,
                    None => slots.clone().acquire_owned().await.expect("never closed"),
                };
                let worker = this.clone();
                tokio::spawn(async move {
                    worker.deliver(action).await;
                    drop(permit);
                });
            }
        }
    }

    async fn deliver(&self, action: DueAction) {
        let started_at_ms = now_ms();
        let started = Instant::now();
        let (result, error, response) = self.send(&action).await;
        let attempt = AttemptRecord {
            started_at_ms,
            duration: started.elapsed(),
            status_code: match result {
                AttemptResult::Status(status) => Some(status),
                AttemptResult::Transport | AttemptResult::Refused => None,
            },
            error,
        };
        let retry_after = response.as_ref().and_then(|response| {
            let (_, value) = response
                .headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("retry-after"))?;
            parse_retry_after(value, std::time::SystemTime::now())
        });
        let schedule = Schedule {
            delays: &self.config.retry_delays,
            jitter: self.config.jitter,
        };
        let spread = fastrand::f64() * 2.0 - 1.0;
        let next = next_step(&result, action.attempts + 1, schedule, retry_after, spread);
        match next {
            Next::Succeeded => {
                tracing::info!(tenant = %action.tenant, event_id = %action.event_id, action = %action.id, plugin = %action.plugin, "action delivered")
            }
            Next::RetryAfter(delay) => {
                tracing::warn!(tenant = %action.tenant, event_id = %action.event_id, action = %action.id, plugin = %action.plugin, error = attempt.error.as_deref().unwrap_or(""), "attempt failed, retrying in {}", humantime::format_duration(delay))
            }
            Next::Failed => {
                tracing::error!(tenant = %action.tenant, event_id = %action.event_id, action = %action.id, plugin = %action.plugin, error = attempt.error.as_deref().unwrap_or(""), "action failed")
            }
        }
        // A finished action whose plugin asked for the response hands it over.
        let finished = matches!(next, Next::Succeeded | Next::Failed);
        let response = response.filter(|_| finished && action.request.continuation.is_some());
        let hand_over = response.is_some();
        if let Err(error) = self
            .store
            .record_attempt(&action.id, &attempt, next, response.as_ref())
            .await
        {
            // The lease expires and the action is sent again: at least once, never lost.
            tracing::error!(tenant = %action.tenant, event_id = %action.event_id, action = %action.id, plugin = %action.plugin, "cannot record attempt: {error:#}");
            return;
        }
        // Counted once stored, so the counters never run ahead of the backlog gauges.
        self.metrics.attempt(match next {
            Next::Succeeded => "delivered",
            Next::RetryAfter(_) => "retry",
            Next::Failed => "failed",
        });
        if hand_over {
            self.wake_continuations.notify_one();
        }
    }

    /// One HTTP attempt: how it ended, the error text kept on the action (if any), and the
    /// response (a transport failure reads as status 0 with nothing else).
    async fn send(&self, action: &DueAction) -> (AttemptResult, Option<String>, Option<Response>) {
        let request = &action.request;
        let nothing = || Response {
            status: 0,
            headers: Vec::new(),
            body: Vec::new(),
        };
        let Ok(method) = reqwest::Method::from_bytes(request.method.as_bytes()) else {
            let error = format!("invalid method {:?}", request.method);
            return (AttemptResult::Status(0), Some(error), None);
        };
        if let Err(refused) = self.policy.check_url(&action.plugin, &request.url) {
            return (
                AttemptResult::Refused,
                Some(refused.to_string()),
                Some(nothing()),
            );
        }
        // From here on `request` may hold secrets: it is never stored or logged.
        let request = match self.secrets.load().substitute(&action.tenant, request, || {
            self.policy.may_carry_secrets(&action.plugin)
        }) {
            Ok(request) => request,
            Err(refused) => {
                return (
                    AttemptResult::Refused,
                    Some(refused.to_string()),
                    Some(nothing()),
                );
            }
        };
        let mut builder = self
            .client
            .request(method, &request.url)
            .header("idempotency-key", &action.id)
            .body(request.body.clone());
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let response = match builder.send().await {
            Ok(response) => response,
            Err(error) => {
                // Without the URL, which may hold a secret.
                let error = error.without_url();
                // The resolver refused every address the host resolved to.
                if let Some(refused) = refusal_in(&error) {
                    return (
                        AttemptResult::Refused,
                        Some(refused.to_string()),
                        Some(nothing()),
                    );
                }
                return (
                    AttemptResult::Transport,
                    Some(transport_error(&error)),
                    Some(nothing()),
                );
            }
        };
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
            .collect();
        let body = read_capped(response, RESPONSE_BODY_LIMIT).await;
        let error = (!(200..300).contains(&status)).then(|| {
            let preview: String = String::from_utf8_lossy(&body)
                .chars()
                .take(ERROR_BODY_PREVIEW)
                .collect();
            format!("HTTP {status}: {}", preview.trim())
        });
        let response = Response {
            status,
            headers,
            body,
        };
        (AttemptResult::Status(status), error, Some(response))
    }
}

/// Reads at most `limit` bytes of a response body.
async fn read_capped(mut response: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = limit.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= limit {
            break;
        }
    }
    body
}

fn transport_error(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
