//! Retry timing for Genesys calls: jittered exponential backoff and `Retry-After`, bounded by the deadline.

use std::time::Duration;

/// How many attempts a request gets and how long to wait between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// The backoff before the second attempt; it doubles per attempt.
    pub backoff_base: Duration,
    /// The longest backoff.
    pub backoff_max: Duration,
    /// A `Retry-After` longer than this is not waited for (the official SDKs give up above 180 s).
    pub max_retry_after: Duration,
    /// Wait used after a 429 that has no `Retry-After`.
    pub default_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(180),
            default_retry_after: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    /// The backoff after failed attempt `attempt` (1-based): "equal jitter", between half and
    /// all of `min(backoff_max, backoff_base * 2^(attempt-1))`, so concurrent retries spread out.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(16);
        let ceiling = self
            .backoff_base
            .saturating_mul(1 << exponent)
            .min(self.backoff_max);
        let half = ceiling / 2;
        half + ceiling.mul_f64(fastrand::f64() * 0.5)
    }

    /// The wait before retrying a 429: the `Retry-After` (or the default) plus up to 10 % jitter.
    pub fn rate_limit_wait(&self, retry_after: Option<Duration>) -> Duration {
        let wait = retry_after.unwrap_or(self.default_retry_after);
        wait + wait.mul_f64(fastrand::f64() * 0.1)
    }
}

/// Parses a `Retry-After` header given in seconds (Genesys Cloud's form; fractions accepted).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let seconds: f64 = value.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_within_its_jitter_band() {
        let policy = RetryPolicy::default();
        for _ in 0..100 {
            let first = policy.backoff(1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let second = policy.backoff(2);
            assert!(second >= Duration::from_millis(100) && second <= Duration::from_millis(200));
        }
    }

    #[test]
    fn backoff_is_capped() {
        let policy = RetryPolicy::default();
        assert!(policy.backoff(30) <= Duration::from_secs(2));
    }

    #[test]
    fn retry_after_in_seconds_is_parsed() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0.5 "), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn a_missing_retry_after_waits_the_default() {
        let policy = RetryPolicy::default();
        let wait = policy.rate_limit_wait(None);
        assert!(wait >= Duration::from_secs(1) && wait <= Duration::from_millis(1_100));
    }
}
