//! OpenTelemetry traces, opt-in (`[traces]`): one trace per event, exported over OTLP/HTTP.
//!
//! An event's trace starts where its webhook arrives, as a child of the sender's `traceparent`
//! when it sent a valid one: a `webhook` span for the request, with `verify`, one
//! `plugin.call` per plugin and `store.commit` below it. Each delivery attempt of the event's
//! actions is a `deliver` span of the same trace however much later it runs, after a restart
//! too, and so is each `plugin.on_response` call on an answer: every action row keeps its event's trace context (`actions.trace_parent`), and each
//! attempt sends a `traceparent` of its own downstream. Spans carry the tenant, plugin, event
//! type, ids and outcome; never URLs, headers, secrets or bodies.
//!
//! Off, every call here is a no-op on an empty `Option`.

mod export;
mod settings;

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use axum::http::HeaderMap;
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracer, SdkTracerProvider, Span,
};
use opentelemetry_sdk::Resource;

use crate::records::PluginRun;
pub use settings::TraceSettings;

/// The W3C header that carries a trace context.
pub const TRACEPARENT: &str = "traceparent";

/// The gateway's tracer, or nothing when traces are off. Cheap to clone.
#[derive(Clone, Default)]
pub struct Traces {
    exporting: Option<Exporting>,
}

#[derive(Clone)]
struct Exporting {
    tracer: SdkTracer,
    provider: SdkTracerProvider,
    /// How long the last export may take when the gateway stops.
    export_timeout: Duration,
}

impl Traces {
    /// Starts exporting to `settings`' collector; no settings, no traces. Must be called on the
    /// gateway's Tokio runtime, which sends the exports.
    pub fn start(settings: Option<&TraceSettings>) -> anyhow::Result<Self> {
        let Some(settings) = settings else {
            return Ok(Self::default());
        };
        let client =
            export::RuntimeClient::new(tokio::runtime::Handle::current(), settings.export_timeout)?;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(&settings.endpoint)
            .with_timeout(settings.export_timeout)
            .with_http_client(client)
            .build()
            .context("cannot build the OTLP trace exporter")?;
        let batches = BatchConfigBuilder::default()
            .with_scheduled_delay(settings.export_interval)
            .build();
        let processor = BatchSpanProcessor::builder(exporter)
            .with_batch_config(batches)
            .build();
        let resource = Resource::builder()
            .with_service_name(settings.service_name.clone())
            .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_resource(resource)
            .build();
        let tracer = provider.tracer("soda-gateway");
        Ok(Self {
            exporting: Some(Exporting {
                tracer,
                provider,
                export_timeout: settings.export_timeout,
            }),
        })
    }

    /// Starts the trace of an event that arrived with `headers`: a server span named `name`,
    /// the child of the sender's `traceparent` if it sent a valid one.
    pub fn event(&self, name: &'static str, headers: Option<&HeaderMap>) -> EventTrace {
        let Some(exporting) = &self.exporting else {
            return EventTrace::default();
        };
        let parent = headers.map_or_else(Context::new, |headers| {
            TraceContextPropagator::new().extract(&opentelemetry_http::HeaderExtractor(headers))
        });
        let span = exporting
            .tracer
            .span_builder(name)
            .with_kind(SpanKind::Server)
            .start_with_context(&exporting.tracer, &parent);
        EventTrace {
            root: Some((exporting.tracer.clone(), parent.with_span(span))),
        }
    }

    /// Starts the span of a delivery attempt, in the trace `trace_parent` (the action's stored
    /// context) names; a new trace when it names none. `attributes` is called only when traces
    /// are on.
    pub fn delivery(
        &self,
        trace_parent: Option<&str>,
        attributes: impl FnOnce() -> Vec<KeyValue>,
    ) -> Delivery {
        let Some(exporting) = &self.exporting else {
            return Delivery::default();
        };
        let parent = trace_parent.map_or_else(Context::new, extract_traceparent);
        let span = exporting
            .tracer
            .span_builder("deliver")
            .with_kind(SpanKind::Client)
            .with_attributes(attributes())
            .start_with_context(&exporting.tracer, &parent);
        Delivery {
            context: Some(parent.with_span(span)),
        }
    }

    /// Records a plugin's `on-response` call, which ended just now, as a `plugin.on_response`
    /// span in the trace `trace_parent` names (the answered action's).
    pub fn on_response(&self, trace_parent: Option<&str>, run: &PluginRun) {
        let (Some(exporting), Some(trace_parent)) = (&self.exporting, trace_parent) else {
            return;
        };
        let parent = extract_traceparent(trace_parent);
        let started = SystemTime::now() - run.duration;
        record_run(
            &exporting.tracer,
            &parent,
            "plugin.on_response",
            started,
            run,
        );
    }

    /// Sends the spans not sent yet and stops exporting, within `traces.export_timeout`.
    pub async fn shutdown(&self) {
        let Some(exporting) = self.exporting.clone() else {
            return;
        };
        // The provider blocks while the batch thread exports, and that export runs on this
        // runtime: the wait belongs on a blocking thread.
        let grace = exporting.export_timeout;
        let stopped =
            tokio::task::spawn_blocking(move || exporting.provider.shutdown_with_timeout(grace))
                .await;
        if let Ok(Err(error)) = stopped {
            tracing::warn!("traces: the last spans may not have been sent: {error}");
        }
    }
}

/// Records `run` as a span named `name` below `parent`, from `at`; returns when it ended.
fn record_run(
    tracer: &SdkTracer,
    parent: &Context,
    name: &'static str,
    at: SystemTime,
    run: &PluginRun,
) -> SystemTime {
    let outcome = if run.outcome.is_ok() { "ok" } else { "error" };
    let mut span = tracer
        .span_builder(name)
        .with_start_time(at)
        .with_attributes([
            KeyValue::new("soda.plugin", run.plugin.clone()),
            KeyValue::new("soda.outcome", outcome),
        ])
        .start_with_context(tracer, parent);
    if let Ok(produced) = &run.outcome {
        span.set_attribute(KeyValue::new("soda.actions", produced.actions.len() as i64));
    } else {
        // The reason may quote plugin output: it stays in the store, not in the trace.
        span.set_status(Status::error(
            "the plugin failed; the event's story says why",
        ));
    }
    let ended = at + run.duration;
    span.end_with_timestamp(ended);
    ended
}

/// The context in a stored `traceparent`; an empty one when it does not parse.
fn extract_traceparent(traceparent: &str) -> Context {
    let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
    TraceContextPropagator::new().extract(&carrier)
}

/// The `traceparent` of the span in `context`.
fn traceparent_of(context: &Context) -> Option<String> {
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(context, &mut carrier);
    carrier.remove(TRACEPARENT)
}

/// The trace of one event; inert when traces are off. The event's span ends when this is
/// dropped (or [`EventTrace::finish`]ed).
#[derive(Default)]
pub struct EventTrace {
    root: Option<(SdkTracer, Context)>,
}

impl EventTrace {
    /// Starts a child span of the event's, ended when the returned span is dropped.
    pub fn child(&self, name: &'static str) -> ChildSpan {
        ChildSpan(
            self.root
                .as_ref()
                .map(|(tracer, context)| tracer.start_with_context(name, context)),
        )
    }

    /// Sets an attribute on the event's span (`attribute` is called only when traces are on).
    pub fn set(&self, attribute: impl FnOnce() -> KeyValue) {
        if let Some((_, context)) = &self.root {
            context.span().set_attribute(attribute());
        }
    }

    /// Records the plugins' calls as `plugin.call` spans, laid end to end from `started`
    /// (plugins run one after another; each run knows its duration).
    pub fn plugin_runs(&self, started: SystemTime, runs: &[PluginRun]) {
        let Some((tracer, context)) = &self.root else {
            return;
        };
        let mut at = started;
        for run in runs {
            at = record_run(tracer, context, "plugin.call", at, run);
        }
    }

    /// The event's trace context as a `traceparent`, kept with its actions.
    pub fn traceparent(&self) -> Option<String> {
        self.root
            .as_ref()
            .and_then(|(_, context)| traceparent_of(context))
    }

    /// Ends the event's span with the status the sender was answered.
    pub fn finish(self, status: u16) {
        if let Some((_, context)) = &self.root {
            let span = context.span();
            span.set_attribute(KeyValue::new(
                "http.response.status_code",
                i64::from(status),
            ));
            let outcome = if (200..300).contains(&status) {
                "accepted"
            } else {
                "refused"
            };
            span.set_attribute(KeyValue::new("soda.outcome", outcome));
            if status >= 500 {
                span.set_status(Status::error(format!("answered {status}")));
            }
            span.end();
        }
    }
}

/// A span below an event's; ends when dropped.
pub struct ChildSpan(Option<Span>);

impl ChildSpan {
    /// Sets an attribute.
    pub fn set(&mut self, attribute: KeyValue) {
        if let Some(span) = &mut self.0 {
            span.set_attribute(attribute);
        }
    }

    /// Marks the span failed with a description that holds no input.
    pub fn fail(&mut self, description: &'static str) {
        if let Some(span) = &mut self.0 {
            span.set_status(Status::error(description));
        }
    }
}

/// The span of one delivery attempt; inert when traces are off. Ends when dropped.
#[derive(Default)]
pub struct Delivery {
    context: Option<Context>,
}

impl Delivery {
    /// The `traceparent` to send downstream: the attempt's own context.
    pub fn traceparent(&self) -> Option<String> {
        self.context.as_ref().and_then(traceparent_of)
    }

    /// Sets an attribute.
    pub fn set(&self, attribute: KeyValue) {
        if let Some(context) = &self.context {
            context.span().set_attribute(attribute);
        }
    }

    /// Marks the attempt failed with a description that holds no downstream text.
    pub fn fail(&self, description: String) {
        if let Some(context) = &self.context {
            context.span().set_status(Status::error(description));
        }
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        if let Some(context) = &self.context {
            context.span().end();
        }
    }
}
