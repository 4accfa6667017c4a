//! Failed authentications throttled per client address: past [`MAX_FAILURES`] wrong admin
//! tokens (bearer or console login) within [`WINDOW`], the address gets `429` until the window
//! has passed, so the token cannot be guessed at line rate.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Wrong tokens an address may present within [`WINDOW`].
pub const MAX_FAILURES: u32 = 5;
/// How long failures are remembered, and an address is refused once past the limit.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered before old entries are pruned.
const MAX_ADDRESSES: usize = 10_000;

/// Failed authentications by client address.
#[derive(Default)]
pub struct FailedAuth {
    by_address: Mutex<HashMap<IpAddr, Failures>>,
}

struct Failures {
    count: u32,
    since: Instant,
}

impl FailedAuth {
    /// How long `address` must wait, if it is past the limit now.
    pub fn blocked(&self, address: IpAddr, now: Instant) -> Option<Duration> {
        let by_address = self.lock();
        let failures = by_address.get(&address)?;
        let over = now.duration_since(failures.since) < WINDOW && failures.count >= MAX_FAILURES;
        over.then(|| WINDOW.saturating_sub(now.duration_since(failures.since)))
    }

    /// Counts one wrong token from `address`.
    pub fn failed(&self, address: IpAddr, now: Instant) {
        let mut by_address = self.lock();
        if by_address.len() >= MAX_ADDRESSES {
            by_address.retain(|_, failures| now.duration_since(failures.since) < WINDOW);
        }
        let failures = by_address.entry(address).or_insert(Failures {
            count: 0,
            since: now,
        });
        if now.duration_since(failures.since) >= WINDOW {
            *failures = Failures {
                count: 0,
                since: now,
            };
        }
        failures.count += 1;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Failures>> {
        self.by_address
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Middleware: refuses a throttled address with `429` and `Retry-After`, and counts every `401`
/// answered to it as a failed authentication.
pub async fn throttle_failures(
    State(failed): State<Arc<FailedAuth>>,
    request: Request,
    next: Next,
) -> Response {
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
    if let Some(wait) = failed.blocked(address, Instant::now()) {
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            "too many wrong admin tokens from this address; try again later",
        )
            .into_response();
        let seconds = HeaderValue::from(wait.as_secs().max(1));
        response.headers_mut().insert(header::RETRY_AFTER, seconds);
        return response;
    }
    let response = next.run(request).await;
    if response.status() == StatusCode::UNAUTHORIZED {
        failed.failed(address, Instant::now());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_refused_past_the_limit_until_the_window_passes() {
        let failed = FailedAuth::default();
        let (guesser, other) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let start = Instant::now();
        for _ in 0..MAX_FAILURES {
            assert_eq!(failed.blocked(guesser, start), None);
            failed.failed(guesser, start);
        }
        let wait = failed.blocked(guesser, start + Duration::from_secs(10));
        assert_eq!(wait, Some(WINDOW - Duration::from_secs(10)));
        assert_eq!(
            failed.blocked(other, start),
            None,
            "other addresses are not affected"
        );
        assert_eq!(failed.blocked(guesser, start + WINDOW), None);
        failed.failed(guesser, start + WINDOW);
        assert_eq!(
            failed.blocked(guesser, start + WINDOW),
            None,
            "a new window starts"
        );
    }
}
