//! The console's routes over real HTTP, on a gateway core built from a config (SQLite in a
//! temporary folder, a plugins folder holding one broken file) with events written straight
//! into the store. The browser tests in `tests/tests/console.rs` drive the same pages in
//! Chromium against the real binary.

use std::sync::Arc;

use reqwest::header::{AUTHORIZATION, COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use reqwest::{Client, StatusCode};
use tokio::sync::Notify;

use crate::admin;
use crate::config::Config;
use crate::pipeline::Pipeline;
use crate::store::{EventRecord, Store};

const TOKEN: &str = "console-admin-token";
const TENANT_SECRET: &str = "acme-signing-secret";
const GLOBEX_TOKEN: &str = "Bearer globex-sender-token";

const CONFIG: &str = r#"
[[tenants]]
id = "acme"
verify = { scheme = "hmac-sha256", header = "x-soda-signature", secret = "acme-signing-secret" }
quota = { burst = 7 }
[[tenants.plugins]]
name = "slack"

[[tenants]]
id = "globex"
verify = { scheme = "token", header = "authorization", values = ["Bearer globex-sender-token", "Bearer next"] }
"#;

/// A check evaluation whose text must come out escaped.
const BODY: &str = r#"{"event":"checkEvaluation","note":"<script>alert(1)</script>","checkResults":[{"id":"c1","name":"row count > 0","outcome":"fail","datasets":[{"name":"orders","datasource":{"name":"postgres"}}]}]}"#;

struct Harness {
    url: String,
    host: String,
    client: Client,
    pipeline: Arc<Pipeline>,
    _dir: tempfile::TempDir,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Harness {
    /// The console and the admin API on a free loopback port.
    async fn start() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("plugins")).unwrap();
        std::fs::write(dir.path().join("plugins/broken.wasm"), b"not wasm at all").unwrap();
        let config = Config::from_toml(CONFIG, dir.path()).unwrap();
        let store = Store::open(&config.database().unwrap()).await.unwrap();
        let pipeline = Pipeline::build(&config, store, Arc::new(Notify::new()))
            .await
            .unwrap();
        let failed = Arc::new(admin::throttle::FailedAuth::default());
        let admin_settings = crate::config::Admin {
            token: Some(TOKEN.into()),
            ..Default::default()
        };
        let console = super::router(
            pipeline.clone(),
            &admin_settings,
            false,
            config.quotas.clone(),
            failed.clone(),
        );
        let admin = admin::router(
            pipeline.clone(),
            TOKEN.into(),
            config.quotas.clone(),
            failed,
        );
        let app = console.merge(admin);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Harness {
            url: format!("http://{host}"),
            host,
            client: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .build()
                .unwrap(),
            pipeline,
            _dir: dir,
            server,
        }
    }

    async fn record(&self, id: &str, tenant: &str) {
        let headers = [
            ("content-type".to_owned(), "application/json".to_owned()),
            ("x-soda-signature".to_owned(), "[redacted]".to_owned()),
        ];
        let event = EventRecord {
            id,
            tenant,
            event_type: "checkEvaluation",
            body: BODY.as_bytes(),
            dedup: None,
            replay_of: None,
            headers: &headers,
            trace_parent: None,
        };
        self.pipeline.store.record_event(&event, &[]).await.unwrap();
    }

    /// `GET path` as the admin (bearer token): status and body.
    async fn get(&self, path: &str) -> (StatusCode, String) {
        let response = self
            .client
            .get(format!("{}{path}", self.url))
            .header(AUTHORIZATION, format!("Bearer {TOKEN}"))
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// A form post from the console's own pages, as the admin.
    async fn post(&self, path: &str) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.url))
            .header(AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header(ORIGIN, format!("http://{}", self.host))
            .send()
            .await
            .unwrap()
    }
}

fn location(response: &reqwest::Response) -> &str {
    response.headers()[LOCATION].to_str().unwrap()
}

#[tokio::test]
async fn console_pages_without_a_session_go_to_the_login_form_and_posts_get_401() {
    let console = Harness::start().await;
    let page = console
        .client
        .get(format!("{}/console/events", console.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&page), "/console/login");
    let wrong_cookie = console
        .client
        .get(format!("{}/console/plugins", console.url))
        .header(COOKIE, format!("soda_console={TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_cookie.status(), StatusCode::SEE_OTHER);
    let post = console
        .client
        .post(format!("{}/console/events/evt_x/replay", console.url))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), StatusCode::UNAUTHORIZED);
    let login = console
        .client
        .get(format!("{}/console/login", console.url))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let csp = login.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let html = login.text().await.unwrap();
    assert!(html.contains(r#"<form id="login" method="post" action="/console/login">"#));
}

#[tokio::test]
async fn console_login_sets_a_session_cookie_that_is_not_the_token() {
    let console = Harness::start().await;
    let login = |token: &str| {
        console
            .client
            .post(format!("{}/console/login", console.url))
            .form(&[("token", token)])
            .send()
    };
    let wrong = login("guess").await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get(SET_COOKIE).is_none());
    assert!(wrong.text().await.unwrap().contains("Wrong admin token"));

    let right = login(TOKEN).await.unwrap();
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&right), "/console/events");
    let cookie = right.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(
        cookie.ends_with("; Max-Age=43200; HttpOnly; SameSite=Strict; Path=/console"),
        "{cookie}"
    );
    assert!(!cookie.contains(TOKEN), "{cookie}");
    let session = cookie.split(';').next().unwrap().to_owned();
    assert_eq!(session.len(), "soda_console=".len() + 64, "{session}");

    let events = console
        .client
        .get(format!("{}/console/events", console.url))
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    let logout = console
        .client
        .post(format!("{}/console/logout", console.url))
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    let cleared = logout.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cleared.starts_with("soda_console=; Max-Age=0"), "{cleared}");
    // Logout revoked the session on the server: the old cookie no longer opens a page.
    let replayed = console
        .client
        .get(format!("{}/console/events", console.url))
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&replayed), "/console/login");
}

#[tokio::test]
async fn wrong_tokens_are_throttled_per_address() {
    let console = Harness::start().await;
    for _ in 0..crate::admin::throttle::MAX_FAILURES {
        let wrong = console
            .client
            .post(format!("{}/console/login", console.url))
            .form(&[("token", "guess")])
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
    // The next try, even with the right token, and the admin API are refused for a while.
    let login = console
        .client
        .post(format!("{}/console/login", console.url))
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(login.headers().contains_key("retry-after"));
    let (status, _) = console.get("/admin/events").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn console_events_are_filtered_and_a_bad_filter_is_shown_not_crashed_on() {
    let console = Harness::start().await;
    console.record("evt_acme1", "acme").await;
    console.record("evt_globex1", "globex").await;

    let (status, html) = console
        .get("/console/events?tenant=&type=&status=&since=&until=&limit=")
        .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("evt_acme1") && html.contains("evt_globex1"),
        "{html}"
    );
    assert!(
        html.contains(r#"<span class="badge green">done</span>"#),
        "{html}"
    );

    let (status, html) = console.get("/console/events?tenant=globex&since=1h").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("evt_globex1") && !html.contains("evt_acme1"),
        "{html}"
    );
    assert!(
        html.contains(r#"<option value="globex" selected>"#),
        "{html}"
    );

    for (query, message) in [
        ("since=yesterday", "neither an RFC 3339 time"),
        ("status=lost", "unknown event status `lost`"),
        ("limit=lots", "limit must be a whole number"),
        ("limit=0", "limit must be 1 to 1000"),
    ] {
        let (status, html) = console.get(&format!("/console/events?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(html.contains(message), "{query}: {html}");
        assert!(html.contains("No events match."), "{query}");
    }
}

#[tokio::test]
async fn console_event_page_tells_the_story_and_replay_leads_to_the_new_event() {
    let console = Harness::start().await;
    console.record("evt_acme1", "acme").await;

    let (status, html) = console.get("/console/events/evt_acme1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("[redacted]") && html.contains("x-soda-signature"));
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains(
            "\n  &quot;checkResults&quot;: [\n    {\n      &quot;id&quot;: &quot;c1&quot;,"
        ),
        "the body is indented in its own key order: {html}"
    );
    assert!(html.contains(r#"action="/console/events/evt_acme1/replay""#));

    let replay = console.post("/console/events/evt_acme1/replay").await;
    assert_eq!(replay.status(), StatusCode::SEE_OTHER);
    let target = location(&replay).to_owned();
    let new_id = target
        .strip_prefix("/console/events/")
        .and_then(|rest| rest.strip_suffix("?replayed_from=evt_acme1"))
        .unwrap_or_else(|| panic!("{target}"))
        .to_owned();
    let (status, html) = console.get(&target).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"<div class="notice success" role="status">Replayed "#),
        "{html}"
    );
    assert!(
        html.contains(r#"id="replay-of" href="/console/events/evt_acme1""#),
        "{html}"
    );
    // The slack plugin the tenant enables is not loaded: the replay's run failed.
    assert!(html.contains("plugin `slack` is not loaded"), "{html}");
    let (_, original) = console.get("/console/events/evt_acme1").await;
    assert!(original.contains(&new_id), "the original links its replay");

    // The banner only says what the store says.
    let (_, forged) = console
        .get("/console/events/evt_acme1?replayed_from=evt_x")
        .await;
    assert!(!forged.contains("notice success"));

    let (status, html) = console.get("/console/events/evt_nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("There is no event `evt_nope`"));
    let missing = console.post("/console/events/evt_nope/replay").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(missing
        .text()
        .await
        .unwrap()
        .contains("no event `evt_nope`"));

    let cross_site = console
        .client
        .post(format!("{}/console/events/evt_acme1/replay", console.url))
        .header(AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(ORIGIN, "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        console.pipeline.store.events(&all()).await.unwrap().len(),
        2
    );
}

fn all() -> crate::store::EventFilter {
    crate::store::EventFilter {
        limit: 100,
        ..Default::default()
    }
}

#[tokio::test]
async fn console_plugins_and_tenants_pages_show_errors_and_never_secrets() {
    let console = Harness::start().await;
    console.record("evt_acme1", "acme").await;
    console.post("/console/events/evt_acme1/replay").await;

    let (status, html) = console.get("/console/plugins").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"<tr class="plugin" data-name="broken">"#),
        "{html}"
    );
    assert!(html.contains("not a WebAssembly file"), "{html}");
    assert!(
        html.contains(r#"<span class="badge red">rejected</span>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<span class="badge amber">no file</span>"#),
        "{html}"
    );
    assert!(
        html.contains("plugin `slack` is not loaded"),
        "the last failed run: {html}"
    );

    let (status, html) = console.get("/console/tenants").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"data-id="acme""#) && html.contains(r#"data-id="globex""#));
    assert!(html.contains("hmac-sha256") && html.contains("x-soda-signature"));
    assert!(html.contains("<strong>burst 7</strong>"), "{html}");
    assert!(
        html.contains(r#"<span class="badge red">not loaded</span>"#),
        "{html}"
    );
    assert!(html.contains("2 secrets accepted"), "{html}");
    assert!(
        !html.contains(TENANT_SECRET) && !html.contains(GLOBEX_TOKEN),
        "{html}"
    );
    assert!(html.contains(r#"<td class="events-24h">2</td>"#), "{html}");

    let (status, json) = console.get("/admin/plugins").await;
    assert_eq!(status, StatusCode::OK);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let broken = &json["plugins"][0];
    assert_eq!(broken["name"], "broken");
    assert_eq!(broken["state"], "rejected");
    let message = broken["last_load_error"]["message"].as_str().unwrap();
    assert!(message.contains("not a WebAssembly file"), "{message}");
    assert_eq!(json["plugins"][1]["state"], "missing");
    assert_eq!(json["plugins"][1]["enabled_for"][0], "acme");

    let (status, json) = console.get("/admin/tenants").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!json.contains(TENANT_SECRET) && !json.contains(GLOBEX_TOKEN));
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let acme = &json["tenants"][0];
    assert_eq!(acme["verification"]["scheme"], "hmac-sha256");
    assert_eq!(acme["quota"]["burst"], 7);
    assert_eq!(acme["quota"]["own"][0], "burst");
    assert_eq!(acme["plugins"][0]["loaded"], false);
    assert_eq!(acme["events_24h"], 2);
}

#[tokio::test]
async fn console_charts_draw_a_tenants_events_and_failures_and_say_when_there_are_none() {
    let console = Harness::start().await;
    console.record("evt_quiet", "acme").await;
    let failed = crate::records::PluginRun {
        plugin: "slack".into(),
        duration: std::time::Duration::ZERO,
        outcome: Err("plugin `slack` is not loaded".into()),
    };
    let event = EventRecord {
        id: "evt_failed",
        tenant: "acme",
        event_type: "checkEvaluation",
        body: BODY.as_bytes(),
        dedup: None,
        replay_of: None,
        headers: &[],
        trace_parent: None,
    };
    console
        .pipeline
        .store
        .record_event(&event, &[failed])
        .await
        .unwrap();

    let (status, html) = console.get("/console/charts").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"<a class="current" href="/console/charts">Charts</a>"#),
        "{html}"
    );
    let acme = section(&html, "acme");
    assert!(acme.contains("2 events, at most 0.2/min"), "{acme}");
    assert!(
        acme.contains(r#"aria-label="acme: events per minute, last 24 hours""#),
        "{acme}"
    );
    // Both events are in the last bucket: one bar each for events and for failures.
    assert_eq!(acme.matches(r#"<rect class="bar""#).count(), 2, "{acme}");
    assert!(
        acme.contains(r##"<g class="bars" fill="#2f80ed""##),
        "{acme}"
    );
    assert!(
        acme.contains(r##"<g class="bars" fill="#c0392b""##),
        "{acme}"
    );
    assert!(acme.contains("Failed runs</strong> · 1 in the last 24 hours"));
    assert!(
        acme.contains("Nothing delivered in the last 24 hours."),
        "{acme}"
    );
    let globex = section(&html, "globex");
    assert!(
        globex.contains("No events in the last 24 hours."),
        "{globex}"
    );
    assert!(!globex.contains("<svg"), "{globex}");

    let (status, html) = console.get("/console/charts?tenant=globex").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!html.contains(r#"data-tenant="acme""#));
    assert!(html.contains(r#"<option value="globex" selected>globex</option>"#));
    let (status, html) = console.get("/console/charts?tenant=initech").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        html.contains("there is no tenant <code>initech</code>"),
        "{html}"
    );
}

/// The charts section of `tenant` on the charts page.
fn section<'a>(html: &'a str, tenant: &str) -> &'a str {
    let start = html
        .find(&format!(
            r#"<section class="tenant-charts" data-tenant="{tenant}">"#
        ))
        .unwrap_or_else(|| panic!("no charts for {tenant}: {html}"));
    let rest = &html[start..];
    &rest[..rest.find("</section>").unwrap()]
}
