//! OpenTelemetry traces: with `[traces]` set, the gateway exports OTLP/HTTP (protobuf) to a fake
//! collector on loopback, which decodes what it receives with `opentelemetry-proto`. One event's
//! spans (its webhook, verification, each plugin call, the commit and each delivery attempt,
//! a retry from the store and a plugin's `on-response` included) form one trace under the
//! sender's `traceparent`, and the downstream receives a `traceparent` of that trace.

use std::collections::HashMap;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use prost::Message as _;
use serde_json::json;
use soda_gateway_tests::postgres::PgSchema;
use soda_gateway_tests::{
    event, failing_check_named, wait_until, with_callback_url, Config, FakeDownstream, Gateway,
    Plugin, Tenant, Verify, SOON,
};

const SECRET: &str = "trace-signing-s3cret";
/// A check name: event text that must not appear in any span.
const MARKER: &str = "traced-check-marker";
const SENDER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SENDER_SPAN: &str = "00f067aa0ba902b7";
/// The delay before the retry: the test turns the downstream's 503 into 200 in between, once it
/// sees the first attempt recorded, which a loaded machine may take a while to do.
const RETRY_DELAY: &str = "5s";

/// One span as the collector received it.
#[derive(Debug, Clone)]
struct Span {
    name: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    attributes: HashMap<String, String>,
    /// The `service.name` of the resource it came with.
    service: String,
}

impl Span {
    fn attribute(&self, key: &str) -> &str {
        self.attributes
            .get(key)
            .unwrap_or_else(|| panic!("span {} has no {key}: {self:?}", self.name))
    }
}

fn text_of(attribute: &KeyValue) -> String {
    match attribute
        .value
        .as_ref()
        .and_then(|value| value.value.as_ref())
    {
        Some(AnyValue::StringValue(text)) => text.clone(),
        Some(AnyValue::IntValue(number)) => number.to_string(),
        Some(AnyValue::BoolValue(flag)) => flag.to_string(),
        Some(AnyValue::DoubleValue(number)) => number.to_string(),
        other => format!("{other:?}"),
    }
}

/// Every span the collector received so far, decoded.
fn spans(collector: &FakeDownstream) -> Vec<Span> {
    let mut spans = Vec::new();
    for request in collector.requests() {
        assert_eq!(request.path, "/v1/traces");
        assert_eq!(
            request.header("content-type"),
            Some("application/x-protobuf")
        );
        let export = ExportTraceServiceRequest::decode(request.body.as_slice())
            .expect("an OTLP/HTTP protobuf export");
        for resource in export.resource_spans {
            let service = resource
                .resource
                .iter()
                .flat_map(|resource| &resource.attributes)
                .find(|attribute| attribute.key == "service.name")
                .map(text_of)
                .unwrap_or_default();
            for scope in resource.scope_spans {
                for span in scope.spans {
                    spans.push(Span {
                        name: span.name,
                        trace_id: hex::encode(span.trace_id),
                        span_id: hex::encode(span.span_id),
                        parent_span_id: hex::encode(span.parent_span_id),
                        attributes: span
                            .attributes
                            .iter()
                            .map(|attribute| (attribute.key.clone(), text_of(attribute)))
                            .collect(),
                        service: service.clone(),
                    });
                }
            }
        }
    }
    spans
}

fn named<'a>(spans: &'a [Span], name: &str) -> Vec<&'a Span> {
    spans.iter().filter(|span| span.name == name).collect()
}

/// `(trace id, span id)` of a `traceparent` header.
fn parts(traceparent: &str) -> (String, String) {
    let fields: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(fields.len(), 4, "a W3C traceparent: {traceparent}");
    assert_eq!(fields[0], "00", "{traceparent}");
    (fields[1].to_owned(), fields[2].to_owned())
}

fn traced(config: Config, collector: &FakeDownstream) -> Config {
    config.extra_top_level_toml(&format!(
        "traces = {{ endpoint = \"{}\", export_interval = \"100ms\" }}",
        collector.url("/v1/traces")
    ))
}

/// Posts `event` for tenant `acme`, signed, with a `traceparent` header when given.
async fn post_traced(gateway: &Gateway, traceparent: Option<&str>) -> u16 {
    let body = serde_json::to_vec(&failing_check_named(MARKER)).unwrap();
    let mut headers = Verify::hmac(SECRET).headers_for(&body);
    if let Some(traceparent) = traceparent {
        headers.push(("traceparent".into(), traceparent.into()));
    }
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    gateway.post("acme", body, &headers).await.status
}

/// One event whose first delivery gets 503 and whose retry (claimed from the store) gets 200.
async fn one_event_is_one_trace(postgres: Option<&PgSchema>) {
    let collector = FakeDownstream::start().await;
    let slack = FakeDownstream::start().await;
    slack.set_status(503);
    let tenant = Tenant::hmac("acme", SECRET)
        .plugin(Plugin::Slack, json!({ "webhook_url": slack.url("/hook") }));
    let mut config = traced(Config::new().tenant(tenant), &collector).retry_delays(&[RETRY_DELAY]);
    if let Some(schema) = postgres {
        config = config.postgres(schema);
    }
    let gateway = Gateway::start(config).await;

    let traceparent = format!("00-{SENDER_TRACE}-{SENDER_SPAN}-01");
    assert_eq!(post_traced(&gateway, Some(&traceparent)).await, 200);
    slack.wait_for(1, SOON).await;
    // The first answer is 503 once it is recorded (the request arrives before it is answered).
    wait_until("the first attempt is recorded", SOON, async || {
        gateway.count_rows("attempts").await == 1
    })
    .await;
    slack.set_status(200);
    let sent = slack.wait_for(2, SOON).await;

    // Each attempt sends a traceparent of the sender's trace, with a span of its own.
    let attempts: Vec<(String, String)> = sent
        .iter()
        .map(|request| {
            parts(
                request
                    .header("traceparent")
                    .expect("a traceparent downstream"),
            )
        })
        .collect();
    for (trace, _) in &attempts {
        assert_eq!(
            trace, SENDER_TRACE,
            "the downstream is in the sender's trace"
        );
    }
    assert_ne!(attempts[0].1, attempts[1].1, "each attempt is a span");
    assert_ne!(attempts[0].1, SENDER_SPAN);

    wait_until(
        "the collector has every span of the event",
        SOON,
        async || {
            let spans = spans(&collector);
            named(&spans, "deliver").len() == 2 && named(&spans, "store.commit").len() == 1
        },
    )
    .await;
    let spans = spans(&collector);
    let event_id = gateway.event_ids().await.pop().expect("the stored event");

    for span in &spans {
        assert_eq!(span.trace_id, SENDER_TRACE, "one trace: {span:?}");
        assert_eq!(span.service, "soda-gateway");
        for (key, value) in &span.attributes {
            for secret_or_body in [SECRET, MARKER, "/hook"] {
                assert!(
                    !value.contains(secret_or_body),
                    "span {} attribute {key} holds {secret_or_body:?}: {value}",
                    span.name
                );
            }
        }
    }
    let [webhook] = named(&spans, "webhook")[..] else {
        panic!("one webhook span: {spans:#?}");
    };
    assert_eq!(
        webhook.parent_span_id, SENDER_SPAN,
        "the sender's span is the parent"
    );
    assert_eq!(webhook.attribute("soda.tenant"), "acme");
    assert_eq!(webhook.attribute("soda.event_type"), "checkEvaluation");
    assert_eq!(webhook.attribute("soda.event_id"), event_id);
    assert_eq!(webhook.attribute("soda.outcome"), "accepted");
    assert_eq!(webhook.attribute("http.response.status_code"), "200");

    for name in ["verify", "plugin.call", "store.commit"] {
        let [span] = named(&spans, name)[..] else {
            panic!("one {name} span: {spans:#?}");
        };
        assert_eq!(
            span.parent_span_id, webhook.span_id,
            "{name} is below the webhook"
        );
    }
    let plugin = named(&spans, "plugin.call")[0];
    assert_eq!(plugin.attribute("soda.plugin"), "slack");
    assert_eq!(plugin.attribute("soda.outcome"), "ok");
    assert_eq!(plugin.attribute("soda.actions"), "1");

    let mut deliveries = named(&spans, "deliver");
    deliveries.sort_by_key(|span| span.attribute("soda.attempt").to_owned());
    for (delivery, (status, outcome)) in deliveries
        .iter()
        .zip([("503", "retry"), ("200", "delivered")])
    {
        assert_eq!(
            delivery.parent_span_id, webhook.span_id,
            "attempts are the event's"
        );
        assert_eq!(delivery.attribute("soda.tenant"), "acme");
        assert_eq!(delivery.attribute("soda.plugin"), "slack");
        assert_eq!(delivery.attribute("soda.event_id"), event_id);
        assert_eq!(delivery.attribute("http.request.method"), "POST");
        assert_eq!(delivery.attribute("server.address"), "127.0.0.1");
        assert_eq!(delivery.attribute("http.response.status_code"), status);
        assert_eq!(delivery.attribute("soda.outcome"), outcome);
    }
    let delivered: Vec<&str> = deliveries
        .iter()
        .map(|span| span.span_id.as_str())
        .collect();
    assert_eq!(
        delivered,
        [attempts[0].1.as_str(), attempts[1].1.as_str()],
        "the downstream's traceparent names the attempt's span"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_spans_of_one_event_form_one_trace_under_the_senders_traceparent() {
    one_event_is_one_trace(None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_spans_of_one_event_form_one_trace_on_postgres() {
    let schema = PgSchema::new().await;
    one_event_is_one_trace(Some(&schema)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_traceparent_starts_a_trace_of_its_own() {
    let collector = FakeDownstream::start().await;
    let slack = FakeDownstream::start().await;
    let tenant = Tenant::hmac("acme", SECRET)
        .plugin(Plugin::Slack, json!({ "webhook_url": slack.url("/hook") }));
    let gateway = Gateway::start(traced(Config::new().tenant(tenant), &collector)).await;

    let forged = format!("00-{SENDER_TRACE}-not-a-span-id-01");
    assert_eq!(post_traced(&gateway, Some(&forged)).await, 200);
    let sent = slack.wait_for(1, SOON).await;
    let (trace, _) = parts(sent[0].header("traceparent").expect("a traceparent"));
    assert_ne!(
        trace, SENDER_TRACE,
        "a malformed traceparent is not honoured"
    );

    wait_until("the collector has the delivery", SOON, async || {
        !named(&spans(&collector), "deliver").is_empty()
    })
    .await;
    let spans = spans(&collector);
    let webhook = named(&spans, "webhook")[0];
    assert_eq!(webhook.parent_span_id, "", "a root span: {webhook:?}");
    assert!(
        spans.iter().all(|span| span.trace_id == trace),
        "{spans:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_traces_nothing_is_exported_and_no_traceparent_is_sent() {
    let slack = FakeDownstream::start().await;
    let tenant = Tenant::hmac("acme", SECRET)
        .plugin(Plugin::Slack, json!({ "webhook_url": slack.url("/hook") }));
    let gateway = Gateway::start(Config::new().tenant(tenant)).await;

    let traceparent = format!("00-{SENDER_TRACE}-{SENDER_SPAN}-01");
    assert_eq!(post_traced(&gateway, Some(&traceparent)).await, 200);
    let sent = slack.wait_for(1, SOON).await;
    assert_eq!(sent[0].header("traceparent"), None, "traces are opt-in");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_collector_that_is_down_loses_spans_not_events() {
    let closed = soda_gateway_tests::unused_port();
    let slack = FakeDownstream::start().await;
    let tenant = Tenant::hmac("acme", SECRET)
        .plugin(Plugin::Slack, json!({ "webhook_url": slack.url("/hook") }));
    let config = Config::new().tenant(tenant).extra_top_level_toml(&format!(
        "traces = {{ endpoint = \"http://127.0.0.1:{closed}/v1/traces\", export_interval = \"50ms\", export_timeout = \"200ms\" }}"
    ));
    let gateway = Gateway::start(config).await;

    for _ in 0..3 {
        assert_eq!(post_traced(&gateway, None).await, 200);
    }
    slack.wait_for(3, SOON).await;
    // Let exports of those spans fail: a refused connection leaves nothing to wait for, and a
    // shorter wait only makes the check below weaker, never wrong.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(post_traced(&gateway, None).await, 200, "still serving");
    slack.wait_for(4, SOON).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_response_handed_back_stays_in_the_events_trace() {
    let collector = FakeDownstream::start().await;
    let tracker = FakeDownstream::start().await;
    tracker.set_status(201);
    tracker.set_reply_body(r#"{"key":"SODA-1"}"#);
    let soda = FakeDownstream::start().await;
    let tenant = Tenant::hmac("acme", SECRET)
        .plugin(Plugin::Chain, json!({ "tracker_url": tracker.url("") }));
    let gateway = Gateway::start(traced(Config::new().tenant(tenant), &collector)).await;

    let created = with_callback_url(
        event("gen1_incident_created"),
        &soda.url("/incident-link/cb"),
    );
    assert_eq!(gateway.send_event("acme", &created).await.status, 200);
    let link = &soda.wait_for(1, SOON).await[0];
    let (trace, _) = parts(link.header("traceparent").expect("a traceparent"));

    wait_until("the collector has both deliveries", SOON, async || {
        named(&spans(&collector), "deliver").len() == 2
    })
    .await;
    let spans = spans(&collector);
    let webhook = named(&spans, "webhook")[0];
    let [on_response] = named(&spans, "plugin.on_response")[..] else {
        panic!("one on-response call: {spans:#?}");
    };
    assert_eq!(on_response.attribute("soda.plugin"), "fixture_chain");
    assert_eq!(on_response.attribute("soda.outcome"), "ok");
    assert_eq!(on_response.attribute("soda.actions"), "1");
    for span in [on_response].into_iter().chain(named(&spans, "deliver")) {
        assert_eq!(span.trace_id, trace, "{span:?}");
        assert_eq!(span.parent_span_id, webhook.span_id, "{span:?}");
    }
}
