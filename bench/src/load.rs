//! The load generator: HTTP/1.1 keep-alive connections (hyper's low-level client, one
//! connection per worker, `TCP_NODELAY`), each request a signed 2 KiB body from a small pool.
//!
//! - [`closed_loop`]: every connection sends its next request as soon as the previous answer is
//!   read; the completions in the measured window, over its length, are the maximum throughput.
//! - [`open_loop`]: requests are due at a fixed rate whether or not earlier ones are answered
//!   (a pacing thread releases them at their scheduled instants, idle connections take them in
//!   order), and each latency runs from the request's **scheduled** instant to its answer, so a
//!   stall counts against every request that should have been sent during it (no coordinated
//!   omission).

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

use crate::payload::Signed;
use crate::procfs::cpu_time;

/// Soda gives up on a webhook after 10 s; so does the load generator.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Where requests go and what they carry.
pub struct Target {
    addr: SocketAddr,
    host: String,
    path: String,
    signature_header: &'static str,
    bodies: Arc<Vec<Signed>>,
}

impl Target {
    /// `POST http://{addr}{path}` with the `bodies` in turn, each with its signature in
    /// `signature_header`.
    pub fn new(
        addr: SocketAddr,
        path: &str,
        signature_header: &'static str,
        bodies: Arc<Vec<Signed>>,
    ) -> Arc<Target> {
        Arc::new(Target {
            addr,
            host: addr.to_string(),
            path: path.to_string(),
            signature_header,
            bodies,
        })
    }

    fn request(&self, index: u64) -> Request<Full<Bytes>> {
        let signed = &self.bodies[index as usize % self.bodies.len()];
        Request::post(self.path.as_str())
            .header(HOST, self.host.as_str())
            .header(CONTENT_TYPE, "application/json")
            .header(self.signature_header, signed.signature.as_str())
            .body(Full::new(signed.body.clone()))
            .expect("a valid request")
    }
}

/// Answers that were not `200`, by kind (`HTTP 503`, `timeout`, `connection: ...`).
pub type Errors = BTreeMap<String, u64>;

/// One keep-alive connection; reconnects after a failure.
struct Connection {
    target: Arc<Target>,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Connection {
    async fn open(target: &Arc<Target>) -> Connection {
        let mut connection = Connection {
            target: Arc::clone(target),
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
        let sender = self.sender.as_mut().expect("connected");
        sender
            .ready()
            .await
            .map_err(|e| format!("connection: {e}"))?;
        let response = sender
            .send_request(self.target.request(index))
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

/// What a closed-loop run measured.
pub struct ClosedLoop {
    /// `200` answers completed in the measured window, per second.
    pub requests_per_s: f64,
    /// `200` answers completed in the measured window.
    pub ok: u64,
    /// CPU time each watched process used in the measured window, in the order given.
    pub cpu: Vec<Duration>,
    /// Requests the downstream counter went up by in the measured window (deliveries).
    pub downstream: Option<u64>,
    /// Every `200`, warm-up included (what the gateway stored).
    pub ok_total: u64,
    /// Non-`200` answers in the measured window.
    pub errors: Errors,
}

/// `connections` connections send back to back for `warm_up` (not counted), then for `duration`;
/// the CPU time of the processes in `watch`, and the number `GET downstream_count` answers, are
/// read at both ends of the measured window.
pub async fn closed_loop(
    target: &Arc<Target>,
    connections: usize,
    warm_up: Duration,
    duration: Duration,
    watch: &[u32],
    downstream_count: Option<String>,
) -> ClosedLoop {
    let mut opened = Vec::with_capacity(connections);
    for _ in 0..connections {
        opened.push(Connection::open(target).await);
    }
    let measured_from = Instant::now() + warm_up;
    let measured_until = measured_from + duration;
    let watch = watch.to_vec();
    let probe = tokio::spawn(async move {
        tokio::time::sleep_until(measured_from.into()).await;
        let before: Vec<Duration> = watch.iter().map(|&pid| cpu_time(pid)).collect();
        let count_before = read_count(downstream_count.as_deref()).await;
        tokio::time::sleep_until(measured_until.into()).await;
        let cpu: Vec<Duration> = watch
            .iter()
            .zip(before)
            .map(|(&pid, before)| cpu_time(pid).saturating_sub(before))
            .collect();
        let count_after = read_count(downstream_count.as_deref()).await;
        let downstream = count_before
            .zip(count_after)
            .map(|(before, after)| after.saturating_sub(before));
        (cpu, downstream)
    });
    let mut workers = JoinSet::new();
    for (worker, mut connection) in opened.into_iter().enumerate() {
        workers.spawn(async move {
            let (mut ok, mut ok_total, mut errors) = (0u64, 0u64, Errors::new());
            let mut index = worker as u64;
            while Instant::now() < measured_until {
                let result = connection.send(index).await;
                index += connections as u64;
                let done = Instant::now();
                let counted = done >= measured_from && done < measured_until;
                match result {
                    Ok(()) => {
                        ok_total += 1;
                        ok += u64::from(counted);
                    }
                    Err(error) => {
                        if counted {
                            *errors.entry(error).or_default() += 1;
                        }
                        // Do not spin on a refusing server.
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            }
            (ok, ok_total, errors)
        });
    }
    let (mut ok, mut ok_total, mut errors) = (0, 0, Errors::new());
    while let Some(done) = workers.join_next().await {
        let (worker_ok, worker_total, worker_errors) = done.expect("a load worker");
        ok += worker_ok;
        ok_total += worker_total;
        merge(&mut errors, worker_errors);
    }
    let (cpu, downstream) = probe.await.expect("the CPU probe");
    ClosedLoop {
        requests_per_s: ok as f64 / duration.as_secs_f64(),
        ok,
        cpu,
        downstream,
        ok_total,
        errors,
    }
}

/// The number `GET url` answers (a [`crate::bare`] endpoint's request count).
async fn read_count(url: Option<&str>) -> Option<u64> {
    let client = reqwest::Client::builder().no_proxy().build().ok()?;
    let answer = client.get(url?).send().await.ok()?;
    answer.text().await.ok()?.trim().parse().ok()
}

/// What an open-loop run measured.
pub struct OpenLoop {
    /// `200` answers.
    pub ok: u64,
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
    let mut opened = Vec::with_capacity(connections);
    for _ in 0..connections {
        opened.push(Connection::open(target).await);
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
            let (mut latencies, mut ok, mut errors) = (Vec::new(), 0u64, Errors::new());
            loop {
                let next = queue.lock().await.recv().await;
                let Some((index, at)) = next else { break };
                let result = connection.send(index).await;
                latencies.push(at.elapsed());
                match result {
                    Ok(()) => ok += 1,
                    Err(error) => *errors.entry(error).or_default() += 1,
                }
            }
            (latencies, ok, errors)
        });
    }
    let (mut latencies, mut ok, mut errors) = (Vec::new(), 0, Errors::new());
    while let Some(done) = workers.join_next().await {
        let (worker_latencies, worker_ok, worker_errors) = done.expect("a load worker");
        latencies.extend(worker_latencies);
        ok += worker_ok;
        merge(&mut errors, worker_errors);
    }
    pacer.join().expect("the pacing thread");
    latencies.sort_unstable();
    OpenLoop {
        ok,
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
