//! The outbound policy over real HTTP: actions aimed at loopback (by address or by a name that
//! resolves to it), at hosts off a plugin's allow-list, or redirected elsewhere are refused or
//! stopped, recorded on the action with the reason, and never reach the target.
//!
//! Only loopback targets appear here, so that even a broken policy sends nothing off this
//! machine; the private, link-local (cloud metadata) and CGNAT ranges are covered by the unit
//! tests of `actions::policy`, which is the same check the worker runs.

use serde_json::json;
use soda_gateway_tests::{
    event, wait_until, with_outcomes, Config, FakeDownstream, Gateway, Plugin, Tenant, SOON,
};

fn slack_to(tenant: &str, url: &str) -> Tenant {
    Tenant::hmac(tenant, "s3cret").plugin(Plugin::Slack, json!({ "webhook_url": url }))
}

async fn send_failing_check(gateway: &Gateway, tenant: &str) {
    let failing = with_outcomes(event("gen1_check_evaluation"), "fail");
    let reply = gateway.send_event(tenant, &failing).await;
    assert_eq!(reply.status, 200, "{reply:?}");
}

/// `last_error` of the tenant's one action, once it failed.
async fn refusal_of(gateway: &Gateway, tenant: &str) -> String {
    let failed =
        format!("SELECT COUNT(*) FROM actions WHERE tenant = '{tenant}' AND status = 'failed'");
    wait_until("the action failed", SOON, async || {
        gateway.count(&failed).await == 1
    })
    .await;
    for reason in [
        "non-public address",
        "allow-list (outbound.allowed_hosts.slack)",
        "HTTP 302",
    ] {
        let matching = format!(
            "SELECT COUNT(*) FROM actions a JOIN attempts t ON t.action_id = a.id \
             WHERE a.tenant = '{tenant}' AND a.last_error LIKE '%{reason}%' \
             AND t.error LIKE '%{reason}%'"
        );
        if gateway.count(&matching).await == 1 {
            return reason.to_string();
        }
    }
    panic!(
        "{tenant}: no recorded reason; stderr:\n{}",
        gateway.stderr()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn loopback_targets_are_refused_by_address_and_by_name() {
    let target = FakeDownstream::start().await;
    let port = target.port();
    let config = Config::new()
        .refuse_private_addresses()
        .tenant(slack_to(
            "by-ipv4",
            &format!("http://127.0.0.1:{port}/hook"),
        ))
        .tenant(slack_to("by-ipv6", &format!("http://[::1]:{port}/hook")))
        .tenant(slack_to(
            "by-name",
            &format!("http://localhost:{port}/hook"),
        ));
    let gateway = Gateway::start(config).await;
    for tenant in ["by-ipv4", "by-ipv6", "by-name"] {
        send_failing_check(&gateway, tenant).await;
    }
    for tenant in ["by-ipv4", "by-ipv6", "by-name"] {
        assert_eq!(
            refusal_of(&gateway, tenant).await,
            "non-public address",
            "{tenant}"
        );
        let attempts = format!(
            "SELECT COUNT(*) FROM attempts t JOIN actions a ON a.id = t.action_id \
             WHERE a.tenant = '{tenant}'"
        );
        assert_eq!(
            gateway.count(&attempts).await,
            1,
            "{tenant}: refused once, not retried"
        );
    }
    assert!(
        target.requests().is_empty(),
        "contacted: {:?}",
        target.requests()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_off_the_plugins_allow_list_is_refused() {
    let target = FakeDownstream::start().await;
    let config = Config::new()
        .allowed_hosts(Plugin::Slack, &["hooks.slack.com", "*.example.com"])
        .tenant(slack_to("acme", &target.url("/hook")));
    let gateway = Gateway::start(config).await;
    send_failing_check(&gateway, "acme").await;
    assert_eq!(
        refusal_of(&gateway, "acme").await,
        "allow-list (outbound.allowed_hosts.slack)"
    );
    assert!(target.requests().is_empty());

    // The same target on the list is reached.
    let allowed = Config::new()
        .allowed_hosts(Plugin::Slack, &["127.0.0.1"])
        .tenant(slack_to("acme", &target.url("/hook")));
    let gateway = Gateway::start(allowed).await;
    send_failing_check(&gateway, "acme").await;
    target.wait_for(1, SOON).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_is_not_followed() {
    let redirected_to = FakeDownstream::start().await;
    let redirector = FakeDownstream::start().await;
    redirector.set_status(302);
    redirector.set_header("location", &redirected_to.url("/metadata"));
    let gateway =
        Gateway::start(Config::new().tenant(slack_to("acme", &redirector.url("/hook")))).await;
    send_failing_check(&gateway, "acme").await;
    assert_eq!(refusal_of(&gateway, "acme").await, "HTTP 302");
    assert_eq!(redirector.requests().len(), 1);
    assert!(
        redirected_to.requests().is_empty(),
        "the redirect was followed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn proxy_environment_variables_are_ignored() {
    let proxy = FakeDownstream::start().await;
    let target = FakeDownstream::start().await;
    let proxy_url = proxy.url("");
    let mut config = Config::new().refuse_private_addresses().tenant(slack_to(
        "acme",
        &format!("http://localhost:{}/hook", target.port()),
    ));
    for name in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        config = config.env(name, &proxy_url);
    }
    let gateway = Gateway::start(config).await;

    send_failing_check(&gateway, "acme").await;
    assert_eq!(refusal_of(&gateway, "acme").await, "non-public address");
    assert!(
        proxy.requests().is_empty(),
        "nothing went to the environment's proxy"
    );
    assert!(target.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_configured_proxy_is_used_and_destinations_are_still_checked() {
    let proxy = FakeDownstream::start().await;
    let target = FakeDownstream::start().await;
    let to_target = format!("http://localhost:{}/hook", target.port());

    // Private destinations refused: checked by the gateway before the proxy sees anything.
    let refusing = Config::new()
        .refuse_private_addresses()
        .proxy(&proxy.url(""))
        .tenant(slack_to("acme", &to_target));
    let gateway = Gateway::start(refusing).await;
    send_failing_check(&gateway, "acme").await;
    assert_eq!(refusal_of(&gateway, "acme").await, "non-public address");
    assert!(proxy.requests().is_empty(), "the proxy saw nothing");
    drop(gateway);

    // Private destinations allowed: the request goes through the proxy, not straight there.
    let allowing = Config::new()
        .proxy(&proxy.url(""))
        .tenant(slack_to("acme", &to_target));
    let gateway = Gateway::start(allowing).await;
    send_failing_check(&gateway, "acme").await;
    let proxied = proxy.wait_for(1, SOON).await;
    assert_eq!(proxied[0].path, "/hook", "{proxied:#?}");
    assert!(target.requests().is_empty(), "sent through the proxy only");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_cannot_choose_the_host_header_or_framing_headers() {
    let target = FakeDownstream::start().await;
    let mut config = Config::new();
    for (tenant, header) in [("fronting", "host"), ("smuggling", "transfer-encoding")] {
        let attack = json!({ "mode": "header", "url": target.url("/x"), "name": header, "value": "chunked.evil.test" });
        config = config.tenant(Tenant::hmac(tenant, "s3cret").plugin(Plugin::Hostile, attack));
    }
    let gateway = Gateway::start(config).await;

    for tenant in ["fronting", "smuggling"] {
        send_failing_check(&gateway, tenant).await;
    }
    let runs = gateway.plugin_runs().await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    for run in runs {
        let error = run.error.unwrap_or_default();
        assert!(
            error.contains("is set by the gateway, not by plugins"),
            "{error}"
        );
    }
    assert_eq!(gateway.count_rows("actions").await, 0);
    assert!(target.requests().is_empty());
}
