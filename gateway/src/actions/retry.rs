//! What happens after a delivery attempt: done, try again later, or give up.
//!
//! Pure functions, so the policy is tested without a network: 2xx is delivered; 408, 429, 5xx
//! and transport errors (timeouts, refused or dropped connections) are retried along the
//! configured delays, each varied by a jitter and lengthened (up to an hour) by a `Retry-After`
//! header; anything else (other 4xx, an unfollowed 3xx) fails at once.

use std::time::Duration;

use crate::records::Next;

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptResult {
    /// The downstream answered with this status.
    Status(u16),
    /// No answer: the connection failed or timed out.
    Transport,
    /// Not sent: the outbound policy refused the destination. Final.
    Refused,
}

/// The longest wait a `Retry-After` header can impose.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// When to try again.
#[derive(Debug, Clone, Copy)]
pub struct Schedule<'a> {
    /// The wait after the first, second, ... failed attempt; past the end, the action fails.
    pub delays: &'a [Duration],
    /// Each wait varies by up to this fraction either way (0.2: ±20 %), so that actions that
    /// failed together do not all retry at the same instant.
    pub jitter: f64,
}

/// Decides the next state after attempt number `attempts_made` (1 for the first attempt).
/// `retry_after` is what the downstream asked for, if anything; `spread` is a sample in
/// [-1, 1] that picks where in the jitter range the wait lands.
pub fn next_step(
    result: &AttemptResult,
    attempts_made: u32,
    schedule: Schedule<'_>,
    retry_after: Option<Duration>,
    spread: f64,
) -> Next {
    let retryable = match result {
        AttemptResult::Status(status) if (200..300).contains(status) => return Next::Succeeded,
        AttemptResult::Status(status) => matches!(status, 408 | 429 | 500..=599),
        AttemptResult::Transport => true,
        AttemptResult::Refused => false,
    };
    if !retryable {
        return Next::Failed;
    }
    let Some(delay) = usize::try_from(attempts_made)
        .ok()
        .and_then(|made| schedule.delays.get(made.checked_sub(1)?))
    else {
        return Next::Failed;
    };
    let factor = 1.0 + schedule.jitter * spread.clamp(-1.0, 1.0);
    let jittered = delay.mul_f64(factor.max(0.0));
    let asked = retry_after.map_or(Duration::ZERO, |wait| wait.min(MAX_RETRY_AFTER));
    Next::RetryAfter(jittered.max(asked))
}

/// Reads a `Retry-After` value: delay-seconds or an HTTP date (relative to `now`).
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DELAYS: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(10)];
    const EXACT: Schedule = Schedule {
        delays: &DELAYS,
        jitter: 0.0,
    };

    fn step(result: &AttemptResult, attempts: u32, delays: &[Duration]) -> Next {
        let schedule = Schedule {
            delays,
            jitter: 0.0,
        };
        next_step(result, attempts, schedule, None, 0.0)
    }

    #[test]
    fn success_statuses_are_delivered() {
        for status in [200, 201, 202, 204] {
            assert_eq!(
                step(&AttemptResult::Status(status), 1, &DELAYS),
                Next::Succeeded
            );
        }
    }

    #[test]
    fn transient_failures_follow_the_delays_then_fail() {
        for result in [
            AttemptResult::Status(500),
            AttemptResult::Status(503),
            AttemptResult::Status(408),
            AttemptResult::Status(429),
            AttemptResult::Transport,
        ] {
            assert_eq!(step(&result, 1, &DELAYS), Next::RetryAfter(DELAYS[0]));
            assert_eq!(step(&result, 2, &DELAYS), Next::RetryAfter(DELAYS[1]));
            assert_eq!(step(&result, 3, &DELAYS), Next::Failed);
        }
    }

    #[test]
    fn permanent_failures_fail_at_once() {
        for status in [301, 400, 401, 403, 404, 410, 422] {
            assert_eq!(
                step(&AttemptResult::Status(status), 1, &DELAYS),
                Next::Failed
            );
        }
    }

    #[test]
    fn no_delays_means_a_single_attempt() {
        assert_eq!(step(&AttemptResult::Transport, 1, &[]), Next::Failed);
    }

    #[test]
    fn jitter_spreads_the_wait_within_its_fraction() {
        let schedule = Schedule {
            delays: &[Duration::from_secs(100)],
            jitter: 0.2,
        };
        let wait = |spread| next_step(&AttemptResult::Transport, 1, schedule, None, spread);
        assert_eq!(wait(-1.0), Next::RetryAfter(Duration::from_secs(80)));
        assert_eq!(wait(0.0), Next::RetryAfter(Duration::from_secs(100)));
        assert_eq!(wait(1.0), Next::RetryAfter(Duration::from_secs(120)));
        assert_eq!(
            wait(7.0),
            Next::RetryAfter(Duration::from_secs(120)),
            "clamped"
        );
    }

    #[test]
    fn retry_after_lengthens_the_wait_up_to_an_hour_but_never_shortens_it() {
        let result = AttemptResult::Status(429);
        let longer = next_step(&result, 1, EXACT, Some(Duration::from_secs(30)), 0.0);
        assert_eq!(longer, Next::RetryAfter(Duration::from_secs(30)));
        let shorter = next_step(&result, 1, EXACT, Some(Duration::ZERO), 0.0);
        assert_eq!(shorter, Next::RetryAfter(Duration::from_secs(1)));
        let huge = next_step(&result, 1, EXACT, Some(Duration::from_secs(86_400)), 0.0);
        assert_eq!(huge, Next::RetryAfter(MAX_RETRY_AFTER));
        let past_the_end = next_step(&result, 3, EXACT, Some(Duration::from_secs(5)), 0.0);
        assert_eq!(
            past_the_end,
            Next::Failed,
            "Retry-After does not add attempts"
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        // 2015-10-21 07:28:00 GMT is `now`; two minutes later:
        let date = parse_retry_after("Wed, 21 Oct 2015 07:30:00 GMT", now);
        assert_eq!(date, Some(Duration::from_secs(120)));
        let past = parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now);
        assert_eq!(past, Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
