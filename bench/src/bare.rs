//! The ceiling: a bare axum endpoint that reads the request body and answers `200 {}`, nothing
//! else (no verification, no parsing, no storage).
//!
//! It runs as a **child process** (this binary started again with [`SUBCOMMAND`]), not inside
//! the benchmark's own process. The gateway is a separate process with its own multi-threaded
//! tokio runtime; the bare endpoint gets exactly the same: its own process, a runtime with the
//! default worker count, reached over loopback by the same load generator. In-process it would
//! share the load generator's runtime threads, so the two would slow each other in a way the
//! gateway never experiences, and the ratio between them would be skewed in a direction nobody
//! could tell. Re-executing this binary needs no extra build target.
//!
//! A second instance serves as the gateway's downstream (the Slack plugin's `webhook_url`): it is
//! the lightest sink there is, and `GET /count` tells how many POSTs it got, so the benchmark can
//! see the deliveries catch up.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use axum::Router;

/// The first argument that makes this binary serve the bare endpoint.
pub const SUBCOMMAND: &str = "bare-endpoint";
const LISTENING: &str = "bare endpoint listening on ";

/// Serves the bare endpoint on a free loopback port until standard input closes (the benchmark
/// holds it open, so the child dies with its parent whatever happens).
pub fn serve_child() -> ! {
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        std::process::exit(0);
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the bare endpoint");
        let addr = listener.local_addr().expect("the bound address");
        println!("{LISTENING}{addr}");
        let posts = Arc::new(AtomicU64::new(0));
        let app = Router::new()
            .route("/count", get(count))
            .fallback(read_body)
            .with_state(posts);
        axum::serve(listener, app)
            .await
            .expect("the bare endpoint serves");
    });
    std::process::exit(0)
}

/// Any request but `GET /count`: the body is read in full, then `200 {}`.
async fn read_body(
    State(posts): State<Arc<AtomicU64>>,
    body: Bytes,
) -> ([(axum::http::HeaderName, &'static str); 1], &'static str) {
    std::hint::black_box(&body);
    posts.fetch_add(1, Ordering::Relaxed);
    ([(CONTENT_TYPE, "application/json")], "{}")
}

async fn count(State(posts): State<Arc<AtomicU64>>) -> String {
    posts.load(Ordering::Relaxed).to_string()
}

/// A running bare endpoint child; killed on drop.
pub struct BareEndpoint {
    child: Child,
    addr: SocketAddr,
    client: reqwest::Client,
}

impl BareEndpoint {
    /// Starts one and reads the address it listens on.
    pub fn spawn() -> BareEndpoint {
        let exe = std::env::current_exe().expect("the benchmark's own path");
        let mut child = Command::new(exe)
            .arg(SUBCOMMAND)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting the bare endpoint");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("the listening line");
        let addr = line
            .trim()
            .strip_prefix(LISTENING)
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("the bare endpoint printed {line:?}"));
        // Nothing more is printed, but keep the pipe drained anyway.
        std::thread::spawn(move || {
            let _ = stdout.read_to_end(&mut Vec::new());
        });
        BareEndpoint {
            child,
            addr,
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("an HTTP client"),
        }
    }

    /// The loopback address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Its process id, for `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The requests it answered so far (all but `GET /count`).
    pub async fn count(&self) -> u64 {
        let text = self
            .client
            .get(self.url("/count"))
            .send()
            .await
            .expect("GET /count")
            .text()
            .await
            .expect("the count");
        text.parse().expect("a number")
    }

    /// Waits until it answered at least `expected` requests; returns how long that took, or
    /// `None` if it had not after `timeout`.
    pub async fn wait_for(&self, expected: u64, timeout: Duration) -> Option<Duration> {
        let started = Instant::now();
        while self.count().await < expected {
            if started.elapsed() > timeout {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Some(started.elapsed())
    }
}

impl Drop for BareEndpoint {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
