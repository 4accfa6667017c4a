//! The memory probe: a gateway serving many tenants that each enable three reference plugins,
//! and its resident memory once it has served a few of them.

use std::time::{Duration, Instant};

use serde_json::json;
use soda_gateway_tests::{failing_check_named, Config, Gateway, Plugin, Tenant};

use crate::bare::BareEndpoint;
use crate::procfs::{resident, Resident};
use crate::setup::wait_ready;

/// The plugins every tenant of the memory probe enables.
pub const PLUGINS: [Plugin; 3] = [Plugin::Slack, Plugin::Teams, Plugin::PagerDuty];

/// What the many-tenant gateway measured.
pub struct ManyTenants {
    pub tenants: usize,
    /// Start of the process to `/readyz` answering 200.
    pub ready_after: Duration,
    /// Events sent (to as many different tenants), each answered 200.
    pub events: usize,
    pub resident: Resident,
}

/// Starts a gateway with `tenants` tenants, each with its own HMAC secret and [`PLUGINS`]
/// delivering to `sink`; waits until it is ready, sends one failing `checkEvaluation` to each of
/// `events` tenants, waits for their deliveries, then reads its resident memory.
pub async fn many_tenants(tenants: usize, events: usize, sink: &BareEndpoint) -> ManyTenants {
    let mut config = Config::new();
    for index in 0..tenants {
        let tenant = Tenant::hmac(&tenant_id(index), &format!("secret-{index}"))
            .plugin(
                Plugin::Slack,
                json!({ "webhook_url": sink.url(&format!("/slack/{index}")) }),
            )
            .plugin(
                Plugin::Teams,
                json!({ "webhook_url": sink.url(&format!("/teams/{index}")) }),
            )
            .plugin(
                Plugin::PagerDuty,
                json!({
                    "routing_key": format!("routing-key-{index}"),
                    "events_url": sink.url(&format!("/pagerduty/{index}")),
                }),
            );
        config = config.tenant(tenant);
    }
    let started = Instant::now();
    let gateway = Gateway::start(config).await;
    wait_ready(&gateway).await;
    let ready_after = started.elapsed();

    let delivered_before = sink.count().await;
    let events = events.min(tenants);
    for event in 0..events {
        // Spread over the tenant list: first, last and in between.
        let index = event * tenants.saturating_sub(1) / events.saturating_sub(1).max(1);
        let reply = gateway
            .send_event(
                &tenant_id(index),
                &failing_check_named(&format!("memory-{event}")),
            )
            .await;
        assert_eq!(reply.status, 200, "tenant {index}: {reply:?}");
    }
    // Each event makes one request per plugin (one failing check).
    let expected = delivered_before + (events * PLUGINS.len()) as u64;
    if sink
        .wait_for(expected, Duration::from_secs(60))
        .await
        .is_none()
    {
        panic!(
            "the sink got {} of {expected} deliveries within 60 s; gateway stderr:\n{}",
            sink.count().await,
            gateway.stderr()
        );
    }

    let pid = gateway.pid().expect("the gateway runs");
    ManyTenants {
        tenants,
        ready_after,
        events,
        resident: resident(pid),
    }
}

fn tenant_id(index: usize) -> String {
    format!("tenant-{index:04}")
}
