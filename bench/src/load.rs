//! The open-loop load generator, for latency at a fixed rate: HTTP/1.1 keep-alive connections
//! (hyper's low-level client, one connection per worker, `TCP_NODELAY`), each request the next
//! of [`crate::payload::Requests`].
//!
//! Requests are due at a fixed rate whether or not earlier ones are answered (a pacing thread
//! releases them at their scheduled instants, idle connections take them in order), and each
//! latency runs from the request's **scheduled** instant to its answer, so a stall counts against
//! every request that should have been sent during it (no coordinated omission). The maximum
//! throughput is wrk's job ([`crate::wrk`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinSet;

use crate::payload::{self, Requests};

/// Soda gives up on a webhook after 10 s; so does the load generator.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Where requests go and what they carry.
pub struct Target {
    addr: SocketAddr,
    host: String,
    path: String,
    requests: Arc<Requests>,
}

impl Target {
    /// `POST http://{addr}/hooks/bench` with the `requests` in turn.
    pub fn new(addr: SocketAddr, requests: Arc<Requests>) -> Arc<Target> {
        Arc::new(Target {
            addr,
            host: addr.to_string(),
            path: payload::path(),
            requests,
        })
    }

    /// Request `index` of run `run`.
    fn request(&self, run: u64, index: u64) -> Request<Full<Bytes>> {
        let (credential, value, body) = self.requests.request(run, index);
        Request::post(self.path.as_str())
            .header(HOST, self.host.as_str())
            .header(CONTENT_TYPE, "application/json")
            .header(credential, value)
            .body(Full::new(body))
            .expect("a valid request")
    }
}

/// Answers that were not `200`, by kind (`HTTP 503`, `timeout`, `connection: ...`).
pub type Errors = BTreeMap<String, u64>;

/// One keep-alive connection of a run; reconnects after a failure.
struct Connection {
    target: Arc<Target>,
    run: u64,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Connection {
    async fn open(target: &Arc<Target>, run: u64) -> Connection {
        let mut connection = Connection {
            target: Arc::clone(target),
            run,
            sender: None,
        };
        if let Err(error) = connection.connect().await {
            panic!("connecting to {}: {error}", target.addr);
        }
        connection
    }

    async fn connect(&mut self) -> Result<(), String> {
        let stream = TcpStream::connect(self.target.addr)
            .await
            .map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        self.sender = Some(sender);
        Ok(())
    }

    /// Sends request `index` and reads the whole answer; `Ok(200)` is the only success.
    async fn send(&mut self, index: u64) -> Result<(), String> {
        let result = tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(index))
            .await
            .unwrap_or_else(|_| Err("timeout".to_string()));
        if result.is_err() {
            // The connection's state is unknown (or it is closed): start afresh.
            self.sender = None;
        }
        match result {
            Ok(200) => Ok(()),
            Ok(status) => Err(format!("HTTP {status}")),
            Err(error) => Err(error),
        }
    }

    async fn exchange(&mut self, index: u64) -> Result<u16, String> {
        if self.sender.is_none() {
            self.connect()
                .await
                .map_err(|e| format!("connection: {e}"))?;
        }
        let request = self.target.request(self.run, index);
        let sender = self.sender.as_mut().expect("connected");
        sender
            .ready()
            .await
            .map_err(|e| format!("connection: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("connection: {e}"))?;
        let status = response.status().as_u16();
        response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?;
        Ok(status)
    }
}

/// What an open-loop run measured.
pub struct OpenLoop {
    /// Answers that were not `200`, by kind.
    pub errors: Errors,
    /// Scheduled instant to the answer's end, every request (errors included), by percentile.
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

/// Schedules `rate` requests per second for `duration` over `connections` connections and
/// waits for every answer.
pub async fn open_loop(
    target: &Arc<Target>,
    connections: usize,
    rate: f64,
    duration: Duration,
) -> OpenLoop {
    assert!(rate > 0.0, "the open-loop rate must be positive");
    let run = payload::run_number();
    let mut opened = Vec::with_capacity(connections);
    for _ in 0..connections {
        opened.push(Connection::open(target, run).await);
    }
    let scheduled = (rate * duration.as_secs_f64()).round().max(1.0) as u64;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let (due, queue) = mpsc::unbounded_channel::<(u64, Instant)>();
    let queue = Arc::new(Mutex::new(queue));

    // tokio's timers tick in whole milliseconds, far coarser than the interval at a few thousand
    // requests per second: a plain thread paces instead.
    let start = Instant::now() + Duration::from_millis(20);
    let pacer = std::thread::spawn(move || {
        for index in 0..scheduled {
            let at = start + interval.mul_f64(index as f64);
            let now = Instant::now();
            if at > now {
                std::thread::sleep(at - now);
            }
            if due.send((index, at)).is_err() {
                break;
            }
        }
    });

    let mut workers = JoinSet::new();
    for mut connection in opened {
        let queue = Arc::clone(&queue);
        workers.spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), Errors::new());
            loop {
                let next = queue.lock().await.recv().await;
                let Some((index, at)) = next else { break };
                let result = connection.send(index).await;
                latencies.push(at.elapsed());
                if let Err(error) = result {
                    *errors.entry(error).or_default() += 1;
                }
            }
            (latencies, errors)
        });
    }
    let (mut latencies, mut errors) = (Vec::new(), Errors::new());
    while let Some(done) = workers.join_next().await {
        let (worker_latencies, worker_errors) = done.expect("a load worker");
        latencies.extend(worker_latencies);
        merge(&mut errors, worker_errors);
    }
    pacer.join().expect("the pacing thread");
    latencies.sort_unstable();
    OpenLoop {
        errors,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        max: latencies.last().copied().unwrap_or_default(),
    }
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn merge(into: &mut Errors, from: Errors) {
    for (kind, count) in from {
        *into.entry(kind).or_default() += count;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&samples, 0.50), Duration::from_millis(50));
        assert_eq!(percentile(&samples, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&samples, 1.0), Duration::from_millis(100));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }
}
