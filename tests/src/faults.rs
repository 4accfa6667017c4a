//! Fault injection for the delivery path: a downstream that misbehaves at random, and a small
//! seeded random number generator so a failing run can be replayed.
//!
//! [`FlakyDownstream`] speaks just enough HTTP/1.1 over a raw [`TcpStream`] to do what a
//! framework would not let it: read a request and close the connection without a word, or keep
//! the client waiting past its timeout. It records every request with what it did about it, so
//! a test can tell "the downstream answered 2xx" (delivered) from "a request arrived".

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// The largest request head (request line and headers) the downstream reads.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// The largest request body the downstream reads.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// How long a connection may sit idle (or half-sent) before the downstream closes it.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// Randomness
// ---------------------------------------------------------------------------------------------

/// SplitMix64: small, fast, good enough for picking faults, and reproducible from its seed.
#[derive(Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    /// The seed in `FAULTS_SEED` if set (to replay a run), else one from the clock.
    pub fn seed_from_env_or_clock() -> u64 {
        if let Some(seed) = std::env::var("FAULTS_SEED")
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return seed;
        }
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x5eed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A duration uniformly in `low..=high`, to the millisecond.
    pub fn duration_between(&mut self, low: Duration, high: Duration) -> Duration {
        let low_ms = low.as_millis() as u64;
        let high_ms = high.as_millis() as u64;
        Duration::from_millis(low_ms + self.below(high_ms.saturating_sub(low_ms) + 1))
    }

    /// A child generator, so concurrent tasks do not share one.
    pub fn fork(&mut self) -> Rng {
        Rng::new(self.next_u64())
    }
}

// ---------------------------------------------------------------------------------------------
// The flaky downstream
// ---------------------------------------------------------------------------------------------

/// How a [`FlakyDownstream`] picks its answer to each request: relative weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultMix {
    /// Answer `200` at once.
    pub ok: u32,
    /// Answer `500` at once.
    pub error: u32,
    /// Wait `slow_delay`, then answer `200` if the client is still there.
    pub slow: u32,
    /// Read the request and close the connection without answering.
    pub drop: u32,
    /// How long a slow answer takes.
    pub slow_delay: Duration,
}

impl FaultMix {
    /// Every request answered `200` at once.
    pub fn always_ok() -> Self {
        FaultMix {
            ok: 1,
            error: 0,
            slow: 0,
            drop: 0,
            slow_delay: Duration::ZERO,
        }
    }

    fn pick(&self, rng: &mut Rng) -> Fault {
        let total = u64::from(self.ok + self.error + self.slow + self.drop);
        if total == 0 {
            return Fault::Ok;
        }
        let mut roll = rng.below(total);
        for (weight, fault) in [
            (self.ok, Fault::Ok),
            (self.error, Fault::Error),
            (self.slow, Fault::Slow),
            (self.drop, Fault::Drop),
        ] {
            let weight = u64::from(weight);
            if roll < weight {
                return fault;
            }
            roll -= weight;
        }
        Fault::Ok
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    Ok,
    Error,
    Slow,
    Drop,
}

/// What the downstream did with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Answer {
    /// Answered `200` at once (the response was written).
    Ok,
    /// Answered `200` after the slow delay, and the client was still connected to read it.
    LateOk,
    /// The slow delay passed and the client had hung up (it timed out): nothing was answered.
    Abandoned,
    /// Answered this status (not 2xx).
    Status(u16),
    /// Read the request and closed the connection without answering.
    Dropped,
    /// Meant to answer 2xx, but writing the response failed (the client was gone).
    WriteFailed,
}

impl Answer {
    /// Whether the downstream answered 2xx: the request counts as delivered.
    pub fn is_success(self) -> bool {
        matches!(self, Answer::Ok | Answer::LateOk)
    }
}

/// One request a [`FlakyDownstream`] received, with what it did about it.
#[derive(Clone, Debug)]
pub struct Exchange {
    pub method: String,
    pub path: String,
    /// The `idempotency-key` header, if any.
    pub idempotency_key: Option<String>,
    pub body: Vec<u8>,
    pub answer: Answer,
}

impl Exchange {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

struct FlakyShared {
    exchanges: Mutex<Vec<Exchange>>,
    mix: Mutex<FaultMix>,
    rng: Mutex<Rng>,
}

/// A loopback HTTP/1.1 server answering each request as its [`FaultMix`] draws: 200, 500,
/// too slowly, or not at all. Keeps connections alive like a real server. Stops on drop, with
/// every connection it holds.
pub struct FlakyDownstream {
    addr: SocketAddr,
    shared: Arc<FlakyShared>,
    task: JoinHandle<()>,
}

impl FlakyDownstream {
    /// Listens on a port the OS picks; draws its faults from `rng`.
    pub async fn start(mix: FaultMix, rng: Rng) -> FlakyDownstream {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("binding the flaky downstream");
        let addr = listener.local_addr().expect("the bound address");
        let shared = Arc::new(FlakyShared {
            exchanges: Mutex::default(),
            mix: Mutex::new(mix),
            rng: Mutex::new(rng),
        });
        let accepting = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            // Dropping the set (when this task is aborted) aborts every connection.
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        connections.spawn(serve_connection(stream, Arc::clone(&accepting)));
                    }
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        FlakyDownstream { addr, shared, task }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// How later requests are answered.
    pub fn set_mix(&self, mix: FaultMix) {
        *self.shared.mix.lock().unwrap() = mix;
    }

    /// Every request so far whose handling is finished, in the order they finished.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.shared.exchanges.lock().unwrap().clone()
    }
}

impl Drop for FlakyDownstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One request as read off the wire.
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

async fn serve_connection(mut stream: TcpStream, shared: Arc<FlakyShared>) {
    let mut buffer = Vec::new();
    // Bounded: each turn serves one request, and an idle connection is closed.
    for _ in 0..10_000 {
        let request = match tokio::time::timeout(
            IDLE_TIMEOUT,
            read_request(&mut stream, &mut buffer),
        )
        .await
        {
            Ok(Some(request)) => request,
            Ok(None) | Err(_) => return,
        };
        let (fault, slow_delay) = {
            let mix = *shared.mix.lock().unwrap();
            (mix.pick(&mut shared.rng.lock().unwrap()), mix.slow_delay)
        };
        let answer = if request.header("transfer-encoding").is_some() {
            // Not needed by the gateway's client (it sends a length); refuse loudly.
            let _ = write_response(&mut stream, 411).await;
            Answer::Status(411)
        } else {
            match fault {
                Fault::Ok => match write_response(&mut stream, 200).await {
                    Ok(()) => Answer::Ok,
                    Err(_) => Answer::WriteFailed,
                },
                Fault::Error => {
                    let _ = write_response(&mut stream, 500).await;
                    Answer::Status(500)
                }
                Fault::Slow => {
                    tokio::time::sleep(slow_delay).await;
                    if client_hung_up(&stream).await {
                        Answer::Abandoned
                    } else {
                        match write_response(&mut stream, 200).await {
                            Ok(()) => Answer::LateOk,
                            Err(_) => Answer::WriteFailed,
                        }
                    }
                }
                Fault::Drop => Answer::Dropped,
            }
        };
        let keep = matches!(answer, Answer::Ok | Answer::LateOk | Answer::Status(500));
        let idempotency_key = request.header("idempotency-key").map(str::to_owned);
        shared.exchanges.lock().unwrap().push(Exchange {
            method: request.method,
            path: request.path,
            idempotency_key,
            body: request.body,
            answer,
        });
        if !keep {
            return;
        }
    }
}

/// Whether the peer closed its side: a read would return end-of-file (or fail) right now.
/// The wait gives a busy runtime time to see a close that already arrived; a peer still
/// connected only delays its (late) answer by it.
async fn client_hung_up(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    match tokio::time::timeout(Duration::from_millis(100), stream.peek(&mut byte)).await {
        Err(_) => false,
        Ok(Ok(0)) | Ok(Err(_)) => true,
        Ok(Ok(_)) => false,
    }
}

/// Reads one request (head and `content-length` body); `None` when the connection ends first
/// or the request is malformed. Bytes past the request stay in `buffer` for the next one.
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Request> {
    let head_end = loop {
        if let Some(at) = find(buffer, b"\r\n\r\n") {
            break at;
        }
        if buffer.len() > MAX_HEAD_BYTES || !read_more(stream, buffer).await {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let path = request_line.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            Some((name.trim().to_owned(), value.trim().to_owned()))
        })
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().ok())
        .unwrap_or(Some(0))?;
    if length > MAX_BODY_BYTES {
        return None;
    }
    let body_start = head_end + 4;
    while buffer.len() < body_start + length {
        if !read_more(stream, buffer).await {
            return None;
        }
    }
    let body = buffer[body_start..body_start + length].to_vec();
    buffer.drain(..body_start + length);
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 16 * 1024];
    match stream.read(&mut chunk).await {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buffer.extend_from_slice(&chunk[..n]);
            true
        }
    }
}

async fn write_response(stream: &mut TcpStream, status: u16) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        411 => "Length Required",
        _ => "Internal Server Error",
    };
    let body = if status == 200 { "ok" } else { "flaky" };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.flush().await
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_reproducible_from_its_seed() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        let first: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let second: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        assert_eq!(first, second);
        assert!(first.windows(2).all(|w| w[0] != w[1]));
    }

    #[test]
    fn a_mix_only_draws_faults_it_weighs() {
        let mut rng = Rng::new(7);
        let only_drops = FaultMix {
            ok: 0,
            error: 0,
            slow: 0,
            drop: 3,
            slow_delay: Duration::ZERO,
        };
        assert!((0..100).all(|_| only_drops.pick(&mut rng) == Fault::Drop));
        assert!((0..100).all(|_| FaultMix::always_ok().pick(&mut rng) == Fault::Ok));
    }

    #[test]
    fn durations_stay_within_their_bounds() {
        let mut rng = Rng::new(1);
        let (low, high) = (Duration::from_millis(100), Duration::from_millis(300));
        for _ in 0..200 {
            let d = rng.duration_between(low, high);
            assert!(low <= d && d <= high, "{d:?}");
        }
    }
}
