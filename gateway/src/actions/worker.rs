//! The delivery worker: sends stored HTTP actions off the request path and records every attempt.
//!
//! New actions arrive from the store as it commits them, already leased to this process (see
//! `Store::deliver_directly`); the worker also claims due actions every `poll_interval`, or
//! when woken (a [`Notify`]), for retries, a restart's backlog and expired leases. Actions wait
//! in a [`FairQueue`] and are sent in turns across tenants, with the action id as the
//! `idempotency-key` header. A slot is free again as soon as the answer is in; the attempt is
//! recorded after, batched with others. A restart resumes whatever is still pending. With
//! traces on, each attempt is a `deliver` span of its event's trace and sends its
//! `traceparent` downstream.
//!
//! Stopping (a [`Drain`]): no new delivery starts; the running ones finish and their attempts
//! commit; the actions still waiting are released (their leases cleared), so that another
//! replica, or this one's next start, takes them at once. None is lost, and none is sent twice
//! unless the grace period cuts a delivery off before its answer arrived.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use opentelemetry::KeyValue;
use reqwest::redirect::Policy;
use tokio::sync::{mpsc, Notify};

use arc_swap::ArcSwap;

use super::fair_queue::FairQueue;
use super::policy::{refusal_in, OutboundPolicy};
use super::retry::{next_step, parse_retry_after, AttemptResult, Schedule};
use super::secrets::Secrets;
use crate::config::Delivery;
use crate::drain::Drain;
use crate::records::{Next, Response};
use crate::store::{now_ms, AttemptRecord, DueAction, OnCommit, Store};
use crate::telemetry::Metrics;
use crate::traces::{Delivery as DeliverySpan, Traces, TRACEPARENT};

/// Actions the worker holds in memory at most (handed over or claimed, waiting for a slot).
const QUEUED_AT_MOST: usize = 4096;
/// How much of an error response body is kept in the audit trail.
const ERROR_BODY_PREVIEW: usize = 300;
/// How much of a response body is kept for a plugin's `on-response`.
const RESPONSE_BODY_LIMIT: usize = 1024 * 1024;

/// Sends pending actions.
pub struct Worker {
    store: Store,
    client: reqwest::Client,
    /// Whether requests go through `outbound.proxy`, so that destinations are checked here.
    proxied: bool,
    policy: OutboundPolicy,
    /// Swapped when the tenants are reloaded.
    secrets: Arc<ArcSwap<Secrets>>,
    config: Delivery,
    wake: Arc<Notify>,
    wake_continuations: Arc<Notify>,
    metrics: Arc<Metrics>,
    traces: Traces,
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
        // Proxy environment variables are never consulted: a proxied request's destination
        // would bypass the resolver's address check.
        let mut client = reqwest::Client::builder()
            .redirect(Policy::none())
            .timeout(config.timeout)
            .user_agent(concat!("soda-gateway/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(policy.resolver())
            .no_proxy();
        if let Some(proxy) = policy.proxy() {
            client = client.proxy(reqwest::Proxy::all(proxy)?);
        }
        let client = client.build()?;
        Ok(Self {
            store,
            proxied: policy.proxy().is_some(),
            policy,
            secrets,
            client,
            config,
            wake,
            wake_continuations,
            metrics,
            traces: Traces::default(),
        })
    }

    /// Makes each attempt a span of its event's trace (see `traces`).
    pub fn with_traces(mut self, traces: Traces) -> Self {
        self.traces = traces;
        self
    }

    /// Runs until `stop` is given (then drains, see the module's doc) or the task is dropped:
    /// takes the actions the store hands over as it commits them, polls for the rest
    /// (retries, a restart's backlog, expired leases) every `poll_interval` or when woken,
    /// and sends them in fair turns across tenants.
    pub async fn run(self, stop: Drain) {
        let this = Arc::new(self);
        let capacity = QUEUED_AT_MOST;
        let mut handed_over =
            this.store
                .deliver_directly(capacity, this.config.lease, this.wake.clone());
        let (finished, mut finishes) = mpsc::unbounded_channel::<String>();
        // Each delivery holds a clone until its attempt is committed.
        let (recording, mut recorded) = mpsc::channel::<()>(1);
        let mut queue = FairQueue::new(this.config.per_tenant_concurrency());
        let mut running = 0;
        let mut poll_due = true;
        let mut next_poll = Instant::now();
        let stopped = stop.started();
        tokio::pin!(stopped);
        loop {
            if poll_due && queue.len() < capacity {
                let room = this.config.concurrency.min(capacity - queue.len());
                let claimed = match this.store.claim_due(room, this.config.lease).await {
                    Ok(claimed) => claimed,
                    Err(error) => {
                        tracing::error!("cannot claim pending actions: {error:#}");
                        Vec::new()
                    }
                };
                // A full claim means more may be due: claim again once there is room.
                poll_due = claimed.len() == room;
                next_poll = Instant::now() + this.config.poll_interval;
                for action in claimed {
                    queue.push(action);
                }
            }
            while running < this.config.concurrency {
                let Some(action) = queue.pop() else { break };
                // Sent only while surely leased: otherwise the poll hands it out again.
                if action.lease_until <= now_ms() + this.config.timeout.as_millis() as i64 {
                    queue.finished(&action.tenant);
                    continue;
                }
                running += 1;
                let worker = this.clone();
                let finished = finished.clone();
                let recording = recording.clone();
                tokio::spawn(async move { worker.deliver(action, finished, recording).await });
            }
            tokio::select! {
                Some(action) = recv_if(&mut handed_over, queue.len() < capacity) => queue.push(action),
                Some(tenant) = finishes.recv() => {
                    running -= 1;
                    queue.finished(&tenant);
                }
                _ = this.wake.notified() => poll_due = true,
                _ = tokio::time::sleep_until(next_poll.into()), if !poll_due => poll_due = true,
                () = &mut stopped => break,
            }
        }
        // Drain: the deliveries running finish and their attempts commit; what waits is given
        // back. Actions the store hands over from now on are stored without a lease.
        while running > 0 && finishes.recv().await.is_some() {
            running -= 1;
        }
        drop(recording);
        while recorded.recv().await.is_some() {}
        let mut waiting = queue.take_all();
        if let Some(mut handed_over) = handed_over {
            handed_over.close();
            while let Ok(action) = handed_over.try_recv() {
                waiting.push(action);
            }
        }
        let ids: Vec<String> = waiting.into_iter().map(|action| action.id).collect();
        match this.store.release(&ids).await {
            Ok(()) => tracing::info!(
                released = ids.len(),
                "delivery worker stopped: running deliveries finished, waiting actions released"
            ),
            // Their leases run out instead: sent again then, never lost.
            Err(error) => tracing::error!("cannot release waiting actions: {error:#}"),
        }
    }

    /// Sends one action; its slot is given back (`finished`) as soon as the answer is in, and
    /// the attempt is recorded after (in a batch with others); `recording` is dropped once it
    /// is.
    async fn deliver(
        &self,
        action: DueAction,
        finished: mpsc::UnboundedSender<String>,
        recording: mpsc::Sender<()>,
    ) {
        let started_at_ms = now_ms();
        let started = Instant::now();
        let span = self.delivery_span(&action);
        let (result, error, response) = self.send(&action, span.traceparent()).await;
        let _ = finished.send(action.tenant.clone());
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
        end_delivery_span(span, &result, next);
        match next {
            Next::Succeeded => {
                tracing::debug!(tenant = %action.tenant, event_id = %action.event_id, action = %action.id, plugin = %action.plugin, "action delivered")
            }
            Next::RetryAfter(delay) => {
                tracing::warn!(tenant = %action.tenant, event_id = %action.event_id, action = %action.id, plugin = %action.plugin, error = attempt.error.as_deref().unwrap_or(""), "attempt failed, retrying in {}", humantime::format_duration(delay))
            }
            Next::Failed => {
                tracing::error!(tenant = %action.tenant, event_id = %action.event_id, action = %action.id, plugin = %action.plugin, error = attempt.error.as_deref().unwrap_or(""), "action failed")
            }
        }
        // A finished action whose plugin asked for the response hands it over.
        let done = matches!(next, Next::Succeeded | Next::Failed);
        let response = response.filter(|_| done && action.request.continuation.is_some());
        let hand_over = response.is_some();
        let metrics = self.metrics.clone();
        let wake_continuations = self.wake_continuations.clone();
        let action_id = action.id.clone();
        // Not awaited: the writer reports from its own thread, so no task waits for the commit.
        let recorded: OnCommit = Box::new(move |result| {
            let _recording = recording;
            match result {
                Ok(()) => {
                    // Counted once stored, so the counters never run ahead of the backlog gauges.
                    metrics.attempt(match next {
                        Next::Succeeded => "delivered",
                        Next::RetryAfter(_) => "retry",
                        Next::Failed => "failed",
                    });
                    if hand_over {
                        wake_continuations.notify_one();
                    }
                }
                // The lease expires and the action is sent again: at least once, never lost.
                Err(error) => {
                    tracing::error!(tenant = %action.tenant, event_id = %action.event_id, action = %action.id, plugin = %action.plugin, "cannot record attempt: {error:#}")
                }
            }
        });
        self.store
            .record_attempt_then(&action_id, &attempt, next, response.as_ref(), recorded)
            .await;
    }

    /// The span of an attempt at `action`, in its event's trace.
    fn delivery_span(&self, action: &DueAction) -> DeliverySpan {
        self.traces.delivery(action.trace_parent.as_deref(), || {
            attempt_attributes(action)
        })
    }

    /// One HTTP attempt, sending `traceparent` if given (in place of a plugin's): how it ended,
    /// the error text kept on the action (if any), and the response (a transport failure reads
    /// as status 0 with nothing else).
    async fn send(
        &self,
        action: &DueAction,
        traceparent: Option<String>,
    ) -> (AttemptResult, Option<String>, Option<Response>) {
        let request = &action.request;
        let nothing = || Response {
            status: 0,
            headers: Vec::new(),
            body: Vec::new(),
        };
        let mut checked = self.policy.check_url(&action.plugin, &request.url);
        if checked.is_ok() && self.proxied {
            checked = self.policy.check_proxied_destination(&request.url).await;
        }
        if let Err(refused) = checked {
            return (
                AttemptResult::Refused,
                Some(refused.to_string()),
                Some(nothing()),
            );
        }
        // From here on `request` may hold secrets: it is never stored or logged.
        let secrets = self.secrets.load_full();
        let may_carry = || self.policy.may_carry_secrets(&action.plugin, &request.url);
        let request = match secrets.substitute(&action.tenant, &action.plugin, request, may_carry) {
            Ok(request) => request,
            Err(refused) => {
                return (
                    AttemptResult::Refused,
                    Some(refused.to_string()),
                    Some(nothing()),
                );
            }
        };
        // Whether a secret's value was filled in: then the answer is scrubbed of them.
        let carried_secrets = matches!(request, Cow::Owned(_));
        let mut builder = self
            .client
            .request(request.method.clone(), &request.url)
            .header("idempotency-key", &action.id)
            .body(request.body.clone());
        for (name, value) in &request.headers {
            if traceparent.is_none() || !name.eq_ignore_ascii_case(TRACEPARENT) {
                builder = builder.header(name, value);
            }
        }
        if let Some(traceparent) = traceparent {
            builder = builder.header(TRACEPARENT, traceparent);
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
        let mut headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
            .collect();
        let mut body = read_capped(response, RESPONSE_BODY_LIMIT).await;
        if carried_secrets {
            body = secrets.scrub(&action.tenant, &body);
            for (_, value) in &mut headers {
                let scrubbed = secrets.scrub(&action.tenant, value.as_bytes());
                *value = String::from_utf8_lossy(&scrubbed).into_owned();
            }
        }
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

/// What an attempt's span says about it from the start.
fn attempt_attributes(action: &DueAction) -> Vec<KeyValue> {
    let mut attributes = vec![
        KeyValue::new("soda.tenant", action.tenant.clone()),
        KeyValue::new("soda.plugin", action.plugin.clone()),
        KeyValue::new("soda.event_id", action.event_id.clone()),
        KeyValue::new("soda.action_id", action.id.clone()),
        KeyValue::new("soda.attempt", i64::from(action.attempts) + 1),
        KeyValue::new("http.request.method", action.request.method.to_string()),
    ];
    // The host only: a URL's path and query may hold a secret.
    if let Some(host) = url::Url::parse(&action.request.url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
    {
        attributes.push(KeyValue::new("server.address", host));
    }
    attributes
}

/// Ends an attempt's span with how it went; the descriptions quote nothing from downstream.
fn end_delivery_span(span: DeliverySpan, result: &AttemptResult, next: Next) {
    if let AttemptResult::Status(status) = result {
        span.set(KeyValue::new(
            "http.response.status_code",
            i64::from(*status),
        ));
    }
    let outcome = match next {
        Next::Succeeded => "delivered",
        Next::RetryAfter(_) => "retry",
        Next::Failed => "failed",
    };
    span.set(KeyValue::new("soda.outcome", outcome));
    match result {
        AttemptResult::Status(status) if !matches!(next, Next::Succeeded) => {
            span.fail(format!("answered HTTP {status}"));
        }
        AttemptResult::Transport => span.fail("no answer (connection or timeout)".into()),
        AttemptResult::Refused => span.fail("refused by the outbound policy".into()),
        AttemptResult::Status(_) => {}
    }
}

/// The next value of `receiver` while `ready`; pending otherwise (or once it is closed).
async fn recv_if<T>(receiver: &mut Option<mpsc::Receiver<T>>, ready: bool) -> Option<T> {
    match receiver {
        Some(receiver) if ready => receiver.recv().await,
        _ => std::future::pending().await,
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
