//! What happens after a delivery attempt: done, try again later, or give up.
//!
//! Pure functions, so the policy is tested without a network: 2xx is delivered; 408, 429, 5xx
//! and transport errors (timeouts, refused or dropped connections) are retried along the
//! configured delays; anything else (other 4xx, an unfollowed 3xx) fails at once.

use std::time::Duration;

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptResult {
    /// The downstream answered with this status.
    Status(u16),
    /// No answer: the connection failed or timed out.
    Transport,
}

/// The action's state after an attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    Succeeded,
    /// Try again after this delay.
    RetryAfter(Duration),
    Failed,
}

/// Decides the next state after attempt number `attempts_made` (1 for the first attempt).
pub fn next_step(result: &AttemptResult, attempts_made: u32, delays: &[Duration]) -> Next {
    let retryable = match result {
        AttemptResult::Status(status) if (200..300).contains(status) => return Next::Succeeded,
        AttemptResult::Status(status) => matches!(status, 408 | 429 | 500..=599),
        AttemptResult::Transport => true,
    };
    if !retryable {
        return Next::Failed;
    }
    usize::try_from(attempts_made)
        .ok()
        .and_then(|made| delays.get(made.checked_sub(1)?))
        .map_or(Next::Failed, |delay| Next::RetryAfter(*delay))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DELAYS: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(10)];

    #[test]
    fn success_statuses_are_delivered() {
        for status in [200, 201, 202, 204] {
            assert_eq!(
                next_step(&AttemptResult::Status(status), 1, &DELAYS),
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
            assert_eq!(next_step(&result, 1, &DELAYS), Next::RetryAfter(DELAYS[0]));
            assert_eq!(next_step(&result, 2, &DELAYS), Next::RetryAfter(DELAYS[1]));
            assert_eq!(next_step(&result, 3, &DELAYS), Next::Failed);
        }
    }

    #[test]
    fn permanent_failures_fail_at_once() {
        for status in [301, 400, 401, 403, 404, 410, 422] {
            assert_eq!(
                next_step(&AttemptResult::Status(status), 1, &DELAYS),
                Next::Failed
            );
        }
    }

    #[test]
    fn no_delays_means_a_single_attempt() {
        assert_eq!(next_step(&AttemptResult::Transport, 1, &[]), Next::Failed);
    }
}
