//! Slow and idle clients cannot hold the listener: connections that never finish their headers
//! or their body are closed or answered within their timeouts, the number of connections is
//! capped, and other clients are served meanwhile.

use std::time::{Duration, Instant};

use serde_json::json;
use soda_gateway_tests::{
    event, with_outcomes, Config, FakeDownstream, Gateway, Plugin, Tenant, SOON,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn gateway(listener_toml: &str) -> (Gateway, FakeDownstream) {
    let slack = FakeDownstream::start().await;
    let tenant = Tenant::hmac("acme", "s3cret")
        .plugin(Plugin::Slack, json!({ "webhook_url": slack.url("/hook") }));
    let config = Config::new()
        .tenant(tenant)
        .extra_top_level_toml(&format!("[listener]\n{listener_toml}"));
    (Gateway::start(config).await, slack)
}

async fn connect(gateway: &Gateway) -> TcpStream {
    let address = gateway.url().trim_start_matches("http://").to_owned();
    TcpStream::connect(address).await.expect("connects")
}

/// Waits until the server closes `stream` (end of file or reset), up to `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buffer = [0; 1024];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// The header timeout while 300 connections stall: long enough that a loaded machine serves
/// other clients well within it, and longer than the 10 s default, which the closing time tells
/// apart.
const STALLED_HEADER_TIMEOUT: Duration = Duration::from_secs(20);

/// Well past the 1 s body timeout of its test even on a loaded machine, and short of the 30 s
/// default, so that the configured timeout is the one that answers.
const BODY_ANSWERED_WITHIN: Duration = Duration::from_secs(20);

async fn a_client_is_served(gateway: &Gateway, slack: &FakeDownstream, nth: usize) {
    let failing = with_outcomes(event("gen1_check_evaluation"), "fail");
    let reply = gateway.send_event("acme", &failing).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    slack.wait_for(nth, SOON).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn half_sent_headers_are_cut_off_at_the_header_timeout() {
    let (gateway, slack) = gateway(&format!(
        "header_timeout = \"{}s\"\nmax_connections_per_address = 1000",
        STALLED_HEADER_TIMEOUT.as_secs()
    ))
    .await;
    let connecting = Instant::now();
    let mut slow = Vec::new();
    for i in 0..300 {
        let mut stream = connect(&gateway).await;
        // Half a request line, or the line and half the headers.
        let partial: &[u8] = if i % 2 == 0 {
            b"POST /hooks/ac"
        } else {
            b"POST /hooks/acme HTTP/1.1\r\nhost: x\r\ncontent-ty"
        };
        stream.write_all(partial).await.unwrap();
        slow.push(stream);
    }
    // While the 300 wait for their timeout, other clients are answered as usual: before it, not
    // after it, since the first stalled connection is still open once they are served (not
    // timed: a loaded machine delays every answer).
    for nth in 1..=10 {
        a_client_is_served(&gateway, &slack, nth).await;
    }
    assert!(
        !closed_within(&mut slow[0], Duration::ZERO).await,
        "the served requests came before the header timeout"
    );
    for stream in &mut slow {
        assert!(
            closed_within(stream, STALLED_HEADER_TIMEOUT + SOON).await,
            "a connection with half its headers is closed"
        );
    }
    // At the configured timeout, not before: it runs from the connection's accept.
    assert!(
        connecting.elapsed() >= STALLED_HEADER_TIMEOUT,
        "closed after {:?}, before the {STALLED_HEADER_TIMEOUT:?} header timeout",
        connecting.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_never_finishes_is_answered_408_at_the_body_timeout() {
    let (gateway, slack) = gateway("body_timeout = \"1s\"").await;
    let mut stream = connect(&gateway).await;
    let head = "POST /hooks/acme HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
                content-length: 1000\r\n\r\n{\"event\":";
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(BODY_ANSWERED_WITHIN, stream.read_to_end(&mut answer))
        .await
        .is_ok();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        closed,
        "the connection is closed after the answer: {answer}"
    );
    assert_eq!(gateway.count_rows("events").await, 0);
    a_client_is_served(&gateway, &slack, 1).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_past_the_cap_wait_until_one_is_free() {
    let (gateway, slack) = gateway("max_connections = 4\nheader_timeout = \"1500ms\"").await;
    // Before the idle ones connect: their timeout cannot have started earlier.
    let started = Instant::now();
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(connect(&gateway).await);
    }
    // The fifth client is accepted only once the idle ones are closed by the header timeout.
    a_client_is_served(&gateway, &slack, 1).await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "served only after a slot was freed: {:?}",
        started.elapsed()
    );
    // Closed at their 1.5 s timeout, long past; waited for generously on a loaded machine.
    for stream in &mut idle {
        assert!(closed_within(stream, SOON).await);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_address_cannot_take_every_connection() {
    // Idle connections outlive the wait below, so that only the cap can close the third.
    let (gateway, slack) = gateway(&format!(
        "max_connections_per_address = 2\nheader_timeout = \"{}s\"",
        (SOON * 2).as_secs()
    ))
    .await;
    // The client's address: 127.0.0.2, so that the harness's own requests (from 127.0.0.1)
    // are not counted against it.
    let address: std::net::SocketAddr =
        gateway.url().trim_start_matches("http://").parse().unwrap();
    let _held = [from_127_0_0_2(address).await, from_127_0_0_2(address).await];
    let mut third = from_127_0_0_2(address).await;
    assert!(
        closed_within(&mut third, SOON).await,
        "a third connection from the same address is closed"
    );
    // Other addresses are served meanwhile.
    a_client_is_served(&gateway, &slack, 1).await;
}

/// A connection to `address` from 127.0.0.2.
async fn from_127_0_0_2(address: std::net::SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(([127, 0, 0, 2], 0).into()).unwrap();
    socket.connect(address).await.expect("connects")
}
