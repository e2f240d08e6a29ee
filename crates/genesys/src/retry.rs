//! Retry timing for Genesys calls: jittered exponential backoff and `Retry-After`, bounded by the deadline.

use std::time::{Duration, SystemTime};

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
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(16);
        let ceiling = self
            .backoff_base
            .saturating_mul(1 << exponent)
            .min(self.backoff_max);
        let half = ceiling / 2;
        half + ceiling.mul_f64(fastrand::f64() * 0.5)
    }

    /// The wait before retrying a 429: the `Retry-After` (or the default) plus up to 10 % jitter.
    pub(crate) fn rate_limit_wait(&self, retry_after: Option<Duration>) -> Duration {
        let wait = retry_after.unwrap_or(self.default_retry_after);
        wait + wait.mul_f64(fastrand::f64() * 0.1)
    }
}

/// The longest `Retry-After` this client represents; longer ones are read as this (they are
/// far beyond `max_retry_after` anyway, so the request is given up, never waited for).
pub(crate) const RETRY_AFTER_CEILING: Duration = Duration::from_secs(24 * 3600);

/// Parses a `Retry-After` header in either form HTTP allows: seconds (Genesys Cloud's form;
/// fractions accepted) or an HTTP-date, read against `now`. A date in the past means no wait;
/// anything longer than [`RETRY_AFTER_CEILING`] is clamped to it; unreadable values are `None`.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        if seconds.is_nan() || seconds < 0.0 {
            return None;
        }
        let ceiling = RETRY_AFTER_CEILING.as_secs_f64();
        return Some(Duration::from_secs_f64(seconds.min(ceiling)));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    let wait = date.duration_since(now).unwrap_or(Duration::ZERO);
    Some(wait.min(RETRY_AFTER_CEILING))
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

    fn now() -> SystemTime {
        // Sun, 06 Nov 1994 08:49:37 GMT
        SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777)
    }

    #[test]
    fn retry_after_in_seconds_is_parsed() {
        assert_eq!(parse_retry_after("3", now()), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after(" 0.5 ", now()),
            Some(Duration::from_millis(500))
        );
        assert_eq!(parse_retry_after("soon", now()), None);
        assert_eq!(parse_retry_after("-1", now()), None);
        assert_eq!(parse_retry_after("NaN", now()), None);
    }

    #[test]
    fn a_huge_retry_after_is_clamped_instead_of_overflowing() {
        for huge in ["1e20", "inf", "18446744073709551616", "1e308"] {
            assert_eq!(
                parse_retry_after(huge, now()),
                Some(RETRY_AFTER_CEILING),
                "{huge}"
            );
        }
    }

    #[test]
    fn retry_after_as_an_http_date_is_the_time_until_it() {
        let in_two_minutes = "Sun, 06 Nov 1994 08:51:37 GMT";
        let obsolete_rfc850 = "Sunday, 06-Nov-94 08:50:37 GMT";
        let asctime = "Sun Nov  6 08:49:47 1994";
        assert_eq!(
            parse_retry_after(in_two_minutes, now()),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after(obsolete_rfc850, now()),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after(asctime, now()),
            Some(Duration::from_secs(10))
        );
    }

    #[test]
    fn a_retry_after_date_in_the_past_means_no_wait_and_a_far_one_is_clamped() {
        let past = "Sat, 05 Nov 1994 08:49:37 GMT";
        let far = "Fri, 31 Dec 9999 23:59:59 GMT";
        assert_eq!(parse_retry_after(past, now()), Some(Duration::ZERO));
        assert_eq!(parse_retry_after(far, now()), Some(RETRY_AFTER_CEILING));
    }

    proptest::proptest! {
        #[test]
        fn any_header_value_parses_without_panicking_within_the_ceiling(value in ".{0,64}") {
            if let Some(wait) = parse_retry_after(&value, now()) {
                proptest::prop_assert!(wait <= RETRY_AFTER_CEILING);
            }
        }

        #[test]
        fn any_number_of_seconds_parses_within_the_ceiling(seconds in proptest::num::f64::ANY) {
            let wait = parse_retry_after(&seconds.to_string(), now());
            if seconds >= 0.0 {
                proptest::prop_assert!(wait.is_some_and(|wait| wait <= RETRY_AFTER_CEILING));
            } else {
                proptest::prop_assert!(wait.is_none());
            }
        }
    }

    #[test]
    fn a_missing_retry_after_waits_the_default() {
        let policy = RetryPolicy::default();
        let wait = policy.rate_limit_wait(None);
        assert!(wait >= Duration::from_secs(1) && wait <= Duration::from_millis(1_100));
    }
}
