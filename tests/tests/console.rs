//! The web console in a real browser: Debian's headless Chromium, driven through chromedriver
//! (WebDriver), against the real gateway binary. The tests log in through the form, click the
//! filter and Replay buttons, read what the pages show, and check screenshots pixel by pixel.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (`apt-get install chromium
//! chromium-driver`; `cargo xtask test` installs them). Without them these tests fail: they
//! never skip.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use soda_gateway_tests::reload::{install, plugins_dir, sha256_hex, CONTRACT, GARBAGE};
use soda_gateway_tests::{
    event, failing_check_named, gateway_binary, hmac_hex, unused_port, wait_until,
    with_callback_url, Config, FakeDownstream, Gateway, Plugin, Tenant, SOON,
};
use tokio::sync::{Semaphore, SemaphorePermit};

const TOKEN: &str = "console-admin-s3cret";
const ACME_SECRET: &str = "acme-signing-s3cret";
const GLOBEX_TOKEN: &str = "Bearer globex-sender-s3cret";

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The browser window. Screenshots are of the viewport: the window's width, and its height less
/// what headless Chromium keeps for its (invisible) toolbars.
const WINDOW: (u32, u32) = (1280, 900);

/// The console's header bar (`#16325c` in its stylesheet).
const HEADER_BAR: [u8; 3] = [0x16, 0x32, 0x5c];
/// The console's success notice (`#cdf5d8`), shown after a replay.
const SUCCESS_NOTICE: [u8; 3] = [0xcd, 0xf5, 0xd8];

/// The charts' bars (`EVENTS_COLOUR`, `FAILURES_COLOUR` and `LATENCY_COLOUR` in
/// `console/charts.rs`): events per minute, failed runs, delivery latency.
const EVENTS_BARS: [u8; 3] = [0x2f, 0x80, 0xed];
const FAILURE_BARS: [u8; 3] = [0xc0, 0x39, 0x2b];
const LATENCY_BARS: [u8; 3] = [0x7b, 0x4f, 0xc9];

/// Browsers running at once: each is a few processes and a few hundred MB.
static BROWSERS: Semaphore = Semaphore::const_new(2);

// ---------------------------------------------------------------------------------------------
// The browser
// ---------------------------------------------------------------------------------------------

/// Headless Chromium under a chromedriver of its own on a free loopback port. The session is
/// ended and chromedriver killed on drop.
struct Browser {
    client: fantoccini::Client,
    driver: Child,
    driver_port: u16,
    session: Option<String>,
    /// The gateway the pages come from.
    base: String,
    _slot: SemaphorePermit<'static>,
}

impl Browser {
    async fn start(gateway: &Gateway) -> Browser {
        for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
            assert!(
                Path::new(path).is_file(),
                "{path} is missing: the console's browser tests need Debian's {package}; \
                 install it with `apt-get install chromium chromium-driver` (`cargo xtask test` \
                 does it)"
            );
        }
        let slot = BROWSERS.acquire().await.expect("the browser semaphore");
        let driver_port = unused_port();
        let mut driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={driver_port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
        let driver_url = format!("http://127.0.0.1:{driver_port}");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", driver_port)).is_err() {
            if started.elapsed() > Duration::from_secs(30) {
                let _ = driver.kill();
                panic!("chromedriver did not listen on {driver_url} within 30 s");
            }
            if let Ok(Some(status)) = driver.try_wait() {
                panic!("chromedriver exited at start: {status}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--force-color-profile=srgb",
                    "--force-device-scale-factor=1",
                    "--hide-scrollbars",
                    format!("--window-size={},{}", WINDOW.0, WINDOW.1),
                ],
            }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver_url)
            .await;
        let client = match client {
            Ok(client) => client,
            Err(error) => {
                let _ = driver.kill();
                panic!("chromedriver could not start {CHROMIUM}: {error}");
            }
        };
        let session = client.session_id().await.expect("the session id");
        Browser {
            client,
            driver,
            driver_port,
            session,
            base: gateway.url().to_owned(),
            _slot: slot,
        }
    }

    /// Opens `path` on the gateway.
    async fn goto(&self, path: &str) {
        let url = format!("{}{path}", self.base);
        self.client
            .goto(&url)
            .await
            .unwrap_or_else(|e| panic!("opening {url}: {e}"));
    }

    /// The current page's path and query.
    async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("the current URL");
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Waits until the current path satisfies `check` (after a click that navigates).
    async fn wait_for_path(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let path = self.path().await;
            if check(&path) {
                return path;
            }
            if started.elapsed() > SOON {
                panic!("the browser did not get to {what} within {SOON:?}; it is at {path}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The first element matching `css`, waiting up to [`SOON`] for it: after a click, the
    /// next page may still be on its way, all the more on a busy machine.
    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        let started = Instant::now();
        loop {
            match self.client.find(Locator::Css(css)).await {
                Ok(element) => return element,
                Err(error) if started.elapsed() > SOON => {
                    panic!(
                        "no `{css}` on {} within {SOON:?}: {error}",
                        self.path().await
                    )
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// The rendered text of the first element matching `css`.
    async fn text(&self, css: &str) -> String {
        self.find(css)
            .await
            .text()
            .await
            .expect("an element's text")
    }

    /// The rendered texts of every element matching `css` on the page as it is now (no waiting:
    /// for checks that something is absent, made once the page is known to have loaded).
    async fn texts(&self, css: &str) -> Vec<String> {
        let mut texts = Vec::new();
        for element in self.client.find_all(Locator::Css(css)).await.unwrap() {
            texts.push(element.text().await.expect("an element's text"));
        }
        texts
    }

    async fn click(&self, css: &str) {
        self.find(css).await.click().await.expect("a click");
    }

    async fn type_into(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("clearing a field");
        field.send_keys(text).await.expect("typing");
    }

    async fn page_source(&self) -> String {
        self.client.source().await.expect("the page source")
    }

    /// The viewport as a decoded screenshot, checked to be the viewport's size.
    async fn screenshot(&self) -> Screenshot {
        let png = self.client.screenshot().await.expect("a screenshot");
        let screenshot = Screenshot::decode(png);
        // WebDriver scripts are not the page's: the console's CSP does not apply to them.
        let viewport = self
            .client
            .execute(
                "return [window.innerWidth, window.innerHeight];",
                Vec::new(),
            )
            .await
            .expect("the viewport's size");
        let viewport = (viewport[0].as_u64(), viewport[1].as_u64());
        assert_eq!(
            viewport.0,
            Some(u64::from(WINDOW.0)),
            "the viewport's width"
        );
        assert!(
            viewport
                .1
                .is_some_and(|height| height > 600 && height <= u64::from(WINDOW.1)),
            "the viewport's height: {viewport:?}"
        );
        assert_eq!(
            (
                Some(u64::from(screenshot.width)),
                Some(u64::from(screenshot.height))
            ),
            viewport,
            "the screenshot's size is the viewport's"
        );
        screenshot
    }

    /// Ends the session (Chromium exits) and chromedriver.
    async fn close(mut self) {
        if self.client.clone().close().await.is_ok() {
            self.session = None;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A failed test drops the browser without `close`: end the session by hand, or
        // Chromium outlives chromedriver.
        if let Some(session) = self.session.take() {
            delete_session(self.driver_port, &session);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// `DELETE /session/{id}` over a plain socket (no runtime is needed in `drop`).
fn delete_session(port: u16, session: &str) {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let request = format!(
        "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Connection: close\r\nContent-Length: 0\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_ok() {
        let _ = stream.read_to_end(&mut Vec::new());
    }
}

// ---------------------------------------------------------------------------------------------
// Screenshots
// ---------------------------------------------------------------------------------------------

/// A decoded PNG, as RGB pixels.
struct Screenshot {
    png: Vec<u8>,
    width: u32,
    height: u32,
    pixels: Vec<[u8; 3]>,
}

impl Screenshot {
    fn decode(png: Vec<u8>) -> Screenshot {
        let decoder = png::Decoder::new(std::io::Cursor::new(png.clone()));
        let mut reader = decoder.read_info().expect("a PNG screenshot");
        let mut buffer = vec![0; reader.output_buffer_size().expect("a sane PNG size")];
        let frame = reader.next_frame(&mut buffer).expect("the PNG's pixels");
        assert_eq!(frame.bit_depth, png::BitDepth::Eight, "{frame:?}");
        let channels = match frame.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            other => panic!("unexpected screenshot colour type {other:?}"),
        };
        let pixels = buffer[..frame.buffer_size()]
            .chunks_exact(channels)
            .map(|pixel| [pixel[0], pixel[1], pixel[2]])
            .collect();
        Screenshot {
            png,
            width: frame.width,
            height: frame.height,
            pixels,
        }
    }

    /// Pixels of exactly this colour.
    fn count(&self, colour: [u8; 3]) -> usize {
        self.pixels.iter().filter(|pixel| **pixel == colour).count()
    }

    /// The pixels of exactly this colour inside `area` (as `(x, y)`), and how many are outside.
    fn find(&self, colour: [u8; 3], area: Area) -> (Vec<(u32, u32)>, usize) {
        let mut inside = Vec::new();
        let mut outside = 0;
        for (index, pixel) in self.pixels.iter().enumerate() {
            if *pixel != colour {
                continue;
            }
            let (x, y) = (index as u32 % self.width, index as u32 / self.width);
            if (area.left..area.right).contains(&x) && (area.top..area.bottom).contains(&y) {
                inside.push((x, y));
            } else {
                outside += 1;
            }
        }
        (inside, outside)
    }

    fn distinct_colours(&self) -> usize {
        let mut colours = self.pixels.clone();
        colours.sort_unstable();
        colours.dedup();
        colours.len()
    }

    fn non_white(&self) -> usize {
        self.pixels.len() - self.count([255, 255, 255])
    }

    /// Writes the PNG to `dir/name`.
    fn save(&self, dir: &Path, name: &str) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        let path = dir.join(name);
        std::fs::write(&path, &self.png)
            .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        path
    }

    /// Checks that the page rendered: many colours, not blank, and the console's header bar
    /// across the top.
    fn assert_rendered(&self, what: &str) {
        let total = self.pixels.len();
        assert!(
            self.distinct_colours() >= 40,
            "{what}: only {} distinct colours: a blank or unstyled page",
            self.distinct_colours()
        );
        assert!(
            self.non_white() > total / 10,
            "{what}: only {} of {total} pixels are not white",
            self.non_white()
        );
        // The bar is 52 px high across the whole width, less the text on it.
        let bar = self.count(HEADER_BAR);
        assert!(
            bar > WINDOW.0 as usize * 40,
            "{what}: {bar} pixels of the header bar's colour, expected most of 1280 × 52"
        );
        let top_left = self.pixels[(5 * self.width + 5) as usize];
        assert_eq!(
            top_left, HEADER_BAR,
            "{what}: the top left corner is the header bar"
        );
    }
}

/// A box on the screen, in pixels: `left..right` by `top..bottom`.
#[derive(Debug, Clone, Copy)]
struct Area {
    left: u32,
    top: u32,
    right: u32,
    bottom: u32,
}

/// `target/console-screenshots/`, where a human can look at the last run's screenshots.
fn kept_screenshots_dir() -> PathBuf {
    let binary = gateway_binary();
    binary
        .parent()
        .and_then(Path::parent)
        .expect("the target directory")
        .join("console-screenshots")
}

// ---------------------------------------------------------------------------------------------
// The gateway and its events
// ---------------------------------------------------------------------------------------------

/// Two tenants: `acme` signs with HMAC and has Slack post to `slack`; `globex` sends a token
/// and has no plugins. The console is on (`admin.token`).
async fn gateway(slack: &FakeDownstream) -> Gateway {
    let acme = Tenant::hmac("acme", ACME_SECRET)
        .plugin(Plugin::Slack, json!({ "webhook_url": slack.url("/hook") }));
    let config = Config::new()
        .tenant(acme)
        .tenant(Tenant::token("globex", GLOBEX_TOKEN))
        .extra_top_level_toml(&format!("[admin]\ntoken = \"{TOKEN}\""));
    Gateway::start(config).await
}

/// A failing check for `acme` (Slack posts it), delivered; returns its event id.
async fn send_acme_event(gateway: &Gateway, slack: &FakeDownstream) -> String {
    let before = gateway.event_ids().await;
    let reply = gateway
        .send_event("acme", &failing_check_named("orders-row-count"))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    slack.wait_for(before.len() + 1, SOON).await;
    wait_until(
        "the Slack message is recorded as delivered",
        SOON,
        async || {
            gateway
                .count("SELECT COUNT(*) FROM actions WHERE status = 'pending'")
                .await
                == 0
        },
    )
    .await;
    new_event(gateway, &before).await
}

/// An incident for `globex` (no plugins: nothing is sent); returns its event id.
async fn send_globex_event(gateway: &Gateway, slack: &FakeDownstream) -> String {
    let before = gateway.event_ids().await;
    let incident = with_callback_url(event("gen2_incident_created"), &slack.url("/callback"));
    let reply = gateway.send_event("globex", &incident).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    new_event(gateway, &before).await
}

async fn new_event(gateway: &Gateway, before: &[String]) -> String {
    let after = gateway.event_ids().await;
    let new: Vec<&String> = after.iter().filter(|id| !before.contains(id)).collect();
    assert_eq!(new.len(), 1, "one new event: {after:?}");
    new[0].clone()
}

/// Logs in through the form; the browser lands on the events page.
async fn log_in(browser: &Browser) {
    browser.goto("/console/login").await;
    browser.type_into("#token", TOKEN).await;
    browser.click("#login-submit").await;
    browser
        .wait_for_path("the events page", |path| path == "/console/events")
        .await;
}

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_console_sends_strangers_to_the_login_form_and_lets_the_admin_in() {
    let slack = FakeDownstream::start().await;
    let gateway = gateway(&slack).await;
    let browser = Browser::start(&gateway).await;

    browser.goto("/console/events").await;
    browser
        .wait_for_path("the login form", |path| path == "/console/login")
        .await;
    assert_eq!(browser.text("h1").await, "Log in");
    assert!(browser.texts(".notice.error").await.is_empty());

    browser.type_into("#token", "not-the-token").await;
    browser.click("#login-submit").await;
    let error = browser.text(".notice.error").await;
    assert!(error.contains("Wrong admin token"), "{error}");
    assert!(browser.texts("header.bar nav a").await.is_empty());

    log_in(&browser).await;
    assert_eq!(browser.text("h1").await, "Events");
    assert_eq!(
        browser.texts("header.bar nav a").await,
        ["Events", "Plugins", "Tenants", "Charts"]
    );
    assert_eq!(browser.text("header.bar nav a.current").await, "Events");
    // The session survives navigation; logging out ends it.
    browser.goto("/console/tenants").await;
    assert_eq!(browser.text("h1").await, "Tenants");
    browser.click("#logout").await;
    browser
        .wait_for_path("the login form", |path| path == "/console/login")
        .await;
    browser.goto("/console/plugins").await;
    browser
        .wait_for_path("the login form", |path| path == "/console/login")
        .await;
    browser.close().await;
}

#[tokio::test]
async fn the_events_page_lists_every_tenants_events_and_filters_them_by_tenant() {
    let slack = FakeDownstream::start().await;
    let gateway = gateway(&slack).await;
    let acme = send_acme_event(&gateway, &slack).await;
    let globex = send_globex_event(&gateway, &slack).await;
    let browser = Browser::start(&gateway).await;
    log_in(&browser).await;

    let rows = browser.texts("#events tr.event").await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    // Newest first.
    assert!(
        rows[0].contains(&globex) && rows[1].contains(&acme),
        "{rows:?}"
    );
    assert_eq!(
        browser.texts("#events tr.event td.tenant").await,
        ["globex", "acme"]
    );
    assert_eq!(
        browser.texts("#events tr.event td.status").await,
        ["done", "done"]
    );
    assert!(rows[0].contains("incidentCreated") && rows[1].contains("checkEvaluation"));

    let tenant = browser.find("#filter-tenant").await;
    tenant.select_by_value("acme").await.expect("choosing acme");
    browser.click("#filter-submit").await;
    browser
        .wait_for_path("the filtered events", |path| {
            path.starts_with("/console/events?tenant=acme&")
        })
        .await;
    assert_eq!(browser.texts("#events tr.event td.tenant").await, ["acme"]);
    assert!(browser.text("#events").await.contains(&acme));

    // A filter that does not parse is shown on the page.
    browser.type_into("#filter-since", "last tuesday").await;
    browser.click("#filter-submit").await;
    browser
        .wait_for_path("the bad filter", |path| path.contains("since=last+tuesday"))
        .await;
    let error = browser.text(".notice.error").await;
    assert!(error.contains("neither an RFC 3339 time"), "{error}");
    assert!(browser.texts("#events tr.event").await.is_empty());
    browser.close().await;
}

#[tokio::test]
async fn an_event_page_shows_the_plugin_run_the_delivery_attempt_and_redacted_headers() {
    let slack = FakeDownstream::start().await;
    let gateway = gateway(&slack).await;
    let acme = send_acme_event(&gateway, &slack).await;
    let browser = Browser::start(&gateway).await;
    log_in(&browser).await;

    browser
        .click(&format!("#events a[href='/console/events/{acme}']"))
        .await;
    browser
        .wait_for_path("the event page", |path| {
            path == format!("/console/events/{acme}")
        })
        .await;
    assert!(browser.text("h1").await.contains(&acme));
    let run = browser.text("#runs tr.run").await;
    assert!(
        run.contains("slack") && run.contains("handle") && run.contains("ok"),
        "{run}"
    );
    let action = browser.text("#actions tr.action").await;
    let hook = slack.url("/hook");
    assert!(
        action.contains(&format!("POST {hook}")) && action.contains("succeeded"),
        "{action}"
    );
    assert_eq!(
        browser.texts("#actions tr.attempt td.http-status").await,
        ["200"]
    );

    let cells = browser.texts("#headers td").await;
    let signature = cells
        .iter()
        .position(|cell| cell == "x-soda-signature")
        .unwrap_or_else(|| panic!("no signature header among {cells:?}"));
    assert_eq!(cells[signature + 1], "[redacted]");
    let body = browser.text("#body").await;
    assert!(body.contains("\"orders-row-count\""), "{body}");

    let source = browser.page_source().await;
    let sent = serde_json::to_vec(&failing_check_named("orders-row-count")).unwrap();
    assert!(
        !source.contains(ACME_SECRET),
        "the tenant's secret is on the page"
    );
    assert!(
        !source.contains(&hmac_hex(ACME_SECRET, &sent)),
        "the request's signature is on the page"
    );
    assert!(!source.contains(TOKEN), "the admin token is on the page");
    browser.close().await;
}

#[tokio::test]
async fn the_replay_button_runs_the_event_again_and_opens_the_new_one() {
    let slack = FakeDownstream::start().await;
    let gateway = gateway(&slack).await;
    let original = send_acme_event(&gateway, &slack).await;
    let browser = Browser::start(&gateway).await;
    log_in(&browser).await;

    browser.goto(&format!("/console/events/{original}")).await;
    browser.click("#replay-button").await;
    let path = browser
        .wait_for_path("the replay's page", |path| path.contains("?replayed_from="))
        .await;
    let replay = path
        .strip_prefix("/console/events/")
        .and_then(|rest| rest.strip_suffix(&format!("?replayed_from={original}")))
        .unwrap_or_else(|| panic!("unexpected page after the replay: {path}"))
        .to_owned();
    assert_ne!(replay, original);
    assert_eq!(
        browser.text(".notice.success").await,
        format!("Replayed {original} as {replay}.")
    );
    assert_eq!(browser.text("#replay-of").await, original);

    assert_eq!(gateway.count_rows("events").await, 2);
    let sql =
        format!("SELECT COUNT(*) FROM events WHERE id = '{replay}' AND replay_of = '{original}'");
    assert_eq!(
        gateway.count(&sql).await,
        1,
        "the new event points at the original"
    );
    let messages = slack.wait_for(2, SOON).await;
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].body, messages[1].body, "the same message again");

    // The original links its replay.
    browser.click("#replay-of").await;
    browser
        .wait_for_path("the original", |path| {
            path == format!("/console/events/{original}")
        })
        .await;
    assert_eq!(browser.texts("#summary a.replay").await, [replay]);
    browser.close().await;
}

#[tokio::test]
async fn the_plugins_page_shows_each_plugins_hash_and_a_broken_files_error() {
    let slack = FakeDownstream::start().await;
    let gateway = gateway(&slack).await;
    let browser = Browser::start(&gateway).await;
    log_in(&browser).await;

    browser.goto("/console/plugins").await;
    let wasm = std::fs::read(Plugin::Slack.wasm_path()).unwrap();
    let slack_row = "#plugins tr.plugin[data-name='slack']";
    assert_eq!(
        browser.text(&format!("{slack_row} td.sha256")).await,
        sha256_hex(&wasm)
    );
    let row = browser.text(slack_row).await;
    assert!(row.contains("loaded") && row.contains(CONTRACT), "{row}");

    install(&gateway, "broken", GARBAGE);
    let broken_row = "#plugins tr.plugin[data-name='broken']";
    let started = Instant::now();
    let error = loop {
        browser.goto("/console/plugins").await;
        if let Some(error) = browser
            .texts(&format!("{broken_row} .load-error"))
            .await
            .pop()
        {
            break error;
        }
        assert!(
            started.elapsed() < SOON,
            "the broken plugin file never showed on the plugins page"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(error.contains("not a WebAssembly file"), "{error}");
    let file = plugins_dir(&gateway).join("broken.wasm");
    assert!(error.contains(&file.display().to_string()), "{error}");
    assert!(browser.text(broken_row).await.contains("rejected"));
    browser.close().await;
}

#[tokio::test]
async fn screenshots_show_the_styled_pages_and_the_replay_banner() {
    let slack = FakeDownstream::start().await;
    let gateway = gateway(&slack).await;
    let original = send_acme_event(&gateway, &slack).await;
    send_globex_event(&gateway, &slack).await;
    let browser = Browser::start(&gateway).await;
    log_in(&browser).await;
    let dir = gateway
        .db_path()
        .parent()
        .and_then(Path::parent)
        .expect("the gateway's temporary directory")
        .join("screenshots");

    let events = browser.screenshot().await;
    let events_png = events.save(&dir, "events.png");
    events.assert_rendered("the events page");
    assert_eq!(
        events.count(SUCCESS_NOTICE),
        0,
        "no success notice before a replay"
    );

    browser.goto(&format!("/console/events/{original}")).await;
    browser.click("#replay-button").await;
    browser
        .wait_for_path("the replay's page", |path| path.contains("?replayed_from="))
        .await;
    let replayed = browser.screenshot().await;
    let replayed_png = replayed.save(&dir, "event-after-replay.png");
    replayed.assert_rendered("the replay's page");
    let banner = replayed.count(SUCCESS_NOTICE);
    assert!(
        banner > 20_000,
        "{banner} pixels of the success notice's colour, expected a full-width banner"
    );

    let mut saved = vec![events_png, replayed_png];
    for (page, name) in [("plugins", "plugins.png"), ("tenants", "tenants.png")] {
        browser.goto(&format!("/console/{page}")).await;
        let screenshot = browser.screenshot().await;
        saved.push(screenshot.save(&dir, name));
        screenshot.assert_rendered(&format!("the {page} page"));
    }

    let kept = kept_screenshots_dir();
    std::fs::create_dir_all(&kept).unwrap();
    for png in &saved {
        let to = kept.join(png.file_name().unwrap());
        std::fs::copy(png, &to).unwrap_or_else(|e| panic!("copying to {}: {e}", to.display()));
    }
    browser.close().await;
}

/// `acme` runs a plugin that traps on every event and Slack, which posts to `slack` (answering
/// after `SLACK_DELAY`); `globex` has no plugins. The console is on.
async fn charts_gateway(slack: &FakeDownstream) -> Gateway {
    let acme = Tenant::hmac("acme", ACME_SECRET)
        .plugin(Plugin::Trap, json!({}))
        .plugin(Plugin::Slack, json!({ "webhook_url": slack.url("/hook") }));
    let config = Config::new()
        .tenant(acme)
        .tenant(Tenant::token("globex", GLOBEX_TOKEN))
        .extra_top_level_toml(&format!("[admin]\ntoken = \"{TOKEN}\""));
    Gateway::start(config).await
}

/// How long the fake Slack takes to answer: the least delivery latency the chart can show.
const SLACK_DELAY: Duration = Duration::from_millis(150);

/// A chart's bar as the page drew it: its box on the screen and the value its title gives.
#[derive(Debug)]
struct DrawnBar {
    area: Area,
    value: f64,
}

/// Scrolls the chart at `css` into view and reads its bars from the page: each `rect.bar`'s box
/// and the value at the end of its title ("10 minutes from ...: 0.3 events/min", "...: 152 ms
/// mean", "...: 1.5 s mean"). Returns the chart's box and its bars, oldest first.
async fn drawn_bars(browser: &Browser, css: &str) -> (Area, Vec<DrawnBar>) {
    let script = "const svg = document.querySelector(arguments[0]);
        svg.scrollIntoView({ block: 'center' });
        const edges = (e) => { const r = e.getBoundingClientRect();
            return [r.left, r.top, r.right, r.bottom]; };
        const bars = [...svg.querySelectorAll('rect.bar')]
            .map((bar) => [edges(bar), bar.querySelector('title').textContent]);
        return [edges(svg), bars];";
    let found = browser
        .client
        .execute(script, vec![json!(css)])
        .await
        .unwrap_or_else(|e| panic!("reading the bars of `{css}`: {e}"));
    let area = |edges: &serde_json::Value| {
        let edge = |i: usize| edges[i].as_f64().expect("a number").round() as u32;
        Area {
            left: edge(0),
            top: edge(1),
            right: edge(2),
            bottom: edge(3),
        }
    };
    let bars = found[1]
        .as_array()
        .expect("a list of bars")
        .iter()
        .map(|bar| {
            let title = bar[1].as_str().expect("a bar's title");
            DrawnBar {
                area: area(&bar[0]),
                value: bar_value(title),
            }
        })
        .collect();
    (area(&found[0]), bars)
}

/// The value a bar's title ends with, in the chart's unit (seconds read as milliseconds).
fn bar_value(title: &str) -> f64 {
    let value = title
        .rsplit(": ")
        .next()
        .unwrap_or_else(|| panic!("no value in the bar title {title:?}"));
    if let Some(latency) = value.strip_suffix(" mean") {
        return milliseconds_in(latency);
    }
    value
        .split(' ')
        .next()
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("no number in the bar title {title:?}"))
}

/// A latency as the console writes it ("152 ms", "1.5 s"), in milliseconds.
fn milliseconds_in(text: &str) -> f64 {
    let parsed = match text.split_once(' ') {
        Some((ms, "ms")) => ms.parse::<f64>().ok(),
        Some((s, "s")) => s.parse::<f64>().ok().map(|s| s * 1000.0),
        _ => None,
    };
    parsed.unwrap_or_else(|| panic!("not a latency in ms or s: {text:?}"))
}

/// The chart's y axis runs from zero to the smallest 1, 2 or 5 times a power of ten at or above
/// its largest value (`axis_top` in `console/svg.rs`); a bar at the top is this many pixels.
const PLOT_HEIGHT: f64 = 100.0;

fn axis_top(largest: f64) -> f64 {
    let power = 10f64.powi(largest.log10().floor() as i32);
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|step| step * power)
        .find(|top| *top >= largest * (1.0 - 1e-9))
        .expect("10 times the power of ten is above")
}

/// Screenshots the chart at `css` and checks it against the data it was drawn from: every
/// pixel of `colour` is inside one of its bars and every bar is solid `colour`, five pixels
/// wide, in the last ten minutes' part at the right end; each bar is as tall as its value on
/// the chart's axis (to a pixel: titles round the values). Returns the bars' values.
async fn check_bars(browser: &Browser, css: &str, colour: [u8; 3], name: &str) -> Vec<f64> {
    let (chart, bars) = drawn_bars(browser, css).await;
    let screenshot = browser.screenshot().await;
    screenshot.save(&kept_screenshots_dir(), &format!("charts-{name}.png"));
    assert!(!bars.is_empty(), "{css}: no bars drawn");
    let (inside, outside) = screenshot.find(colour, chart);
    assert_eq!(
        outside, 0,
        "{css}: the bars' colour outside the chart {chart:?}"
    );
    let in_a_bar = |(x, y): (u32, u32)| {
        bars.iter().any(|bar| {
            (bar.area.left..bar.area.right).contains(&x)
                && (bar.area.top..bar.area.bottom).contains(&y)
        })
    };
    assert!(
        inside.iter().all(|pixel| in_a_bar(*pixel)),
        "{css}: the bars' colour outside the bars {bars:?}"
    );
    let drawn: u32 = bars
        .iter()
        .map(|bar| (bar.area.right - bar.area.left) * (bar.area.bottom - bar.area.top))
        .sum();
    assert_eq!(inside.len() as u32, drawn, "{css}: solid bars {bars:?}");
    let largest = bars.iter().map(|bar| bar.value).fold(0.0, f64::max);
    let top = axis_top(largest);
    let right_end = chart.right - (chart.right - chart.left) / 10;
    for bar in &bars {
        let height = f64::from(bar.area.bottom - bar.area.top);
        let expected = (bar.value / top * PLOT_HEIGHT).round().max(1.0);
        assert!(
            (height - expected).abs() <= 1.0,
            "{css}: a bar of {} on an axis to {top} is {expected} pixels tall, drawn {height}",
            bar.value
        );
        assert_eq!(bar.area.right - bar.area.left, 5, "{css}: {bar:?}");
        assert!(
            bar.area.left >= right_end,
            "{css}: the bar is the last minutes', at the right end of {chart:?}: {bar:?}"
        );
    }
    bars.iter().map(|bar| bar.value).collect()
}

#[tokio::test]
async fn the_charts_page_draws_the_last_days_events_failures_and_delivery_latency() {
    let slack = FakeDownstream::start().await;
    slack.set_delay(SLACK_DELAY);
    let gateway = charts_gateway(&slack).await;
    for _ in 0..3 {
        let reply = gateway
            .send_event("acme", &failing_check_named("orders-row-count"))
            .await;
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    slack.wait_for(3, SOON).await;
    wait_until(
        "the Slack messages are recorded as delivered",
        SOON,
        async || {
            gateway
                .count("SELECT COUNT(*) FROM actions WHERE status = 'succeeded'")
                .await
                == 3
        },
    )
    .await;
    let browser = Browser::start(&gateway).await;
    log_in(&browser).await;

    browser
        .click("header.bar nav a[href='/console/charts']")
        .await;
    browser
        .wait_for_path("the charts page", |path| path == "/console/charts")
        .await;
    assert_eq!(browser.text("h1").await, "Charts");
    assert_eq!(browser.text("header.bar nav a.current").await, "Charts");
    let acme = "section.tenant-charts[data-tenant='acme']";
    let trap = format!("{acme} div.plugin-charts[data-plugin='fixture_trap']");
    let slack_charts = format!("{acme} div.plugin-charts[data-plugin='slack']");
    let events = browser
        .text(&format!("{acme} figure.events figcaption"))
        .await;
    let peak: f64 = events
        .strip_prefix("Events per minute · 3 events, at most ")
        .and_then(|rest| rest.strip_suffix("/min"))
        .and_then(|peak| peak.parse().ok())
        .unwrap_or_else(|| panic!("not 3 events and a peak rate: {events:?}"));
    let failures = browser
        .text(&format!("{trap} figure.failures figcaption"))
        .await;
    assert_eq!(failures, "Failed runs · 3 in the last 24 hours");
    assert_eq!(
        browser.text(&format!("{trap} p.no-data.latency")).await,
        "Nothing delivered in the last 24 hours."
    );
    assert_eq!(
        browser
            .text(&format!("{slack_charts} p.no-data.failures"))
            .await,
        "No failed runs in the last 24 hours."
    );
    // The latency is measured by the gateway, so only its floor is known: Slack's delay.
    let latency = browser
        .text(&format!("{slack_charts} figure.latency figcaption"))
        .await;
    let (mean, slowest) = latency
        .strip_prefix("Delivery latency · 3 delivered, mean ")
        .and_then(|rest| rest.split_once(", slowest "))
        .map(|(mean, slowest)| (milliseconds_in(mean), milliseconds_in(slowest)))
        .unwrap_or_else(|| panic!("no mean and slowest latency in {latency:?}"));
    let floor = SLACK_DELAY.as_millis() as f64;
    assert!(
        floor <= mean && mean <= slowest,
        "the mean latency includes Slack's {SLACK_DELAY:?} and is at most the slowest: \
         {latency}"
    );
    let label = browser
        .find(&format!("{acme} figure.events svg"))
        .await
        .attr("aria-label")
        .await
        .expect("the chart's label");
    assert_eq!(
        label.as_deref(),
        Some("acme: events per minute, last 24 hours")
    );
    assert_eq!(
        browser
            .text("section.tenant-charts[data-tenant='globex'] p.no-data")
            .await,
        "No events in the last 24 hours."
    );

    browser.goto("/console/charts").await;
    let top = browser.screenshot().await;
    top.assert_rendered("the charts page");
    let dir = kept_screenshots_dir();
    top.save(&dir, "charts.png");
    // The bars are drawn from the data the test made: 3 events (one bar of 0.3/min, or two
    // when the events straddle a ten-minute boundary), 3 failed runs, and mean latencies no
    // shorter than Slack's delay.
    let events = check_bars(
        &browser,
        &format!("{acme} figure.events svg"),
        EVENTS_BARS,
        "events",
    )
    .await;
    let minutes_per_bucket = 10.0;
    let counted: f64 = events.iter().map(|rate| rate * minutes_per_bucket).sum();
    assert!(
        (counted - 3.0).abs() < 0.01,
        "the events bars add up to 3 events: {events:?}"
    );
    let largest = events.iter().copied().fold(0.0, f64::max);
    assert!(
        (largest - peak).abs() < 0.01,
        "the tallest events bar ({largest}/min) is the caption's peak ({peak}/min)"
    );
    let failed = check_bars(
        &browser,
        &format!("{trap} figure.failures svg"),
        FAILURE_BARS,
        "failures",
    )
    .await;
    assert_eq!(failed.iter().sum::<f64>(), 3.0, "3 failed runs: {failed:?}");
    let latencies = check_bars(
        &browser,
        &format!("{slack_charts} figure.latency svg"),
        LATENCY_BARS,
        "latency",
    )
    .await;
    // Titles and captions round (to the millisecond, or to a tenth of a second from 1 s up).
    let rounding = 1.0 + slowest * 0.05;
    assert!(
        latencies
            .iter()
            .all(|ms| *ms >= floor && *ms <= slowest + rounding),
        "each latency bar is between Slack's {SLACK_DELAY:?} and the slowest delivery \
         ({slowest} ms): {latencies:?}"
    );

    // One tenant and one plugin: nothing of the others is drawn.
    browser
        .goto("/console/charts?tenant=acme&plugin=slack")
        .await;
    assert!(browser
        .texts("section.tenant-charts[data-tenant='globex']")
        .await
        .is_empty());
    assert!(browser.texts(&trap).await.is_empty());
    let filtered = browser.screenshot().await;
    assert!(
        filtered.count(EVENTS_BARS) > 0,
        "acme's events are still drawn"
    );
    assert_eq!(filtered.count(FAILURE_BARS), 0, "no failure bars for Slack");
    browser.close().await;
}
