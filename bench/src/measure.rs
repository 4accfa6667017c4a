//! One target's closed-loop maximum: a wrk warm-up run, then the measured run, with the server's
//! CPU time from `/proc` and, for a gateway, its deliveries to its sink.
//!
//! A gateway's window is followed by [`DELIVERY_GRACE`], after which the sink's count says how
//! many of the window's accepted events were already delivered; then the benchmark waits for
//! the rest, so the next run starts without a backlog and the gateway's CPU time covers the
//! accepting **and** the delivering of every event of the window.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::bare::BareEndpoint;
use crate::payload;
use crate::procfs::cpu_time;
use crate::wrk::{self, Wrk};

/// How long after the window the deliveries are counted (issue 7: "by the end of the window
/// plus 2 s").
pub const DELIVERY_GRACE: Duration = Duration::from_secs(2);
/// How long a gateway may take to deliver its backlog.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(120);

/// A server under load.
pub struct Server<'a> {
    pub addr: SocketAddr,
    pub pid: u32,
    /// Where a gateway delivers its Slack messages (one per accepted event); `None` for the
    /// bare endpoint.
    pub sink: Option<&'a BareEndpoint>,
}

/// What a closed-loop maximum measured.
pub struct Maximum {
    /// wrk's report of the measured run.
    pub wrk: wrk::Report,
    /// The CPU time wrk used in the measured run.
    pub wrk_cpu: Duration,
    /// The server's CPU time: over the window for the bare endpoint; for a gateway from the
    /// window's start until its events were delivered.
    pub server_cpu: Duration,
    /// A gateway's deliveries of the window's events.
    pub deliveries: Option<Deliveries>,
}

/// How a gateway delivered the events it accepted in the window.
pub struct Deliveries {
    /// Delivered by the window's end plus [`DELIVERY_GRACE`].
    pub in_time: u64,
    /// Delivered when the gateway's CPU time was read: all of them, unless the wait for them
    /// ran out.
    pub delivered: u64,
    /// How long after the window's end the last one was delivered; `None` if not within
    /// [`DRAIN_TIMEOUT`].
    pub all_after: Option<Duration>,
}

impl Maximum {
    /// Accepted answers per second.
    pub fn per_s(&self) -> f64 {
        self.wrk.accepted_per_s()
    }

    /// The server's CPU time per event accepted and delivered (the bare endpoint: per answer).
    pub fn cpu_per_event(&self) -> Duration {
        let events = self
            .deliveries
            .as_ref()
            .map_or(self.wrk.requests, |d| d.delivered.min(self.wrk.accepted()));
        self.server_cpu.div_f64(events.max(1) as f64)
    }

    /// wrk's CPU time per answer.
    pub fn wrk_cpu_per_request(&self) -> Duration {
        self.wrk_cpu.div_f64(self.wrk.requests.max(1) as f64)
    }

    /// The share of the window's accepted events delivered by its end plus [`DELIVERY_GRACE`].
    pub fn delivered_in_time(&self) -> Option<f64> {
        let deliveries = self.deliveries.as_ref()?;
        let accepted = self.wrk.accepted().max(1) as f64;
        Some(deliveries.in_time.min(self.wrk.accepted()) as f64 / accepted)
    }
}

/// Runs wrk against `server` for `warm_up` (then waits for a gateway's deliveries) and for
/// `duration`, measured.
pub async fn maximum(
    wrk: &Wrk,
    server: &Server<'_>,
    warm_up: Duration,
    duration: Duration,
) -> Maximum {
    let warm = run_wrk(wrk, server.addr, warm_up);
    if let Some(sink) = server.sink {
        if sink
            .wait_for(warm.report.accepted(), DRAIN_TIMEOUT)
            .await
            .is_none()
        {
            eprintln!("bench:   the warm-up's deliveries did not drain; measuring anyway");
        }
    }
    let delivered_before = match server.sink {
        Some(sink) => sink.count().await,
        None => 0,
    };
    let cpu_before = cpu_time(server.pid);
    let run = run_wrk(wrk, server.addr, duration);
    let window_end = Instant::now();
    let deliveries = match server.sink {
        Some(sink) => {
            tokio::time::sleep_until((window_end + DELIVERY_GRACE).into()).await;
            let in_time = sink.count().await - delivered_before;
            let expected = delivered_before + run.report.accepted();
            let remaining = DRAIN_TIMEOUT.saturating_sub(window_end.elapsed());
            let all_after = sink
                .wait_for(expected, remaining)
                .await
                .map(|_| window_end.elapsed());
            Some(Deliveries {
                in_time,
                delivered: sink.count().await - delivered_before,
                all_after,
            })
        }
        None => None,
    };
    Maximum {
        server_cpu: cpu_time(server.pid).saturating_sub(cpu_before),
        wrk: run.report,
        wrk_cpu: run.cpu,
        deliveries,
    }
}

/// One wrk run with a fresh number; wrk blocks this thread while it runs.
fn run_wrk(wrk: &Wrk, addr: SocketAddr, duration: Duration) -> wrk::Run {
    let run = payload::run_number();
    tokio::task::block_in_place(|| wrk.run(addr, duration, run))
}
