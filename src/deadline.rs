//! The invocation deadline: how much time is left, as a monotonic instant and as wall-clock epoch ms.

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// When the current invocation must have finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    at: Instant,
    epoch_ms: i64,
}

impl Deadline {
    /// A deadline `budget` from now.
    pub fn after(budget: Duration) -> Self {
        Deadline {
            at: Instant::now() + budget,
            epoch_ms: now_epoch_ms().saturating_add(budget.as_millis() as i64),
        }
    }

    /// A deadline given as wall-clock epoch milliseconds (the Lambda context's `deadline`).
    pub fn from_epoch_ms(epoch_ms: i64) -> Self {
        let remaining = epoch_ms.saturating_sub(now_epoch_ms()).max(0) as u64;
        Deadline {
            at: Instant::now() + Duration::from_millis(remaining),
            epoch_ms,
        }
    }

    /// The deadline a Lambda Runtime API sent (`Lambda-Runtime-Deadline-Ms`). AWS sends epoch
    /// milliseconds; a value before 2001 cannot be one and is read as a budget in milliseconds
    /// from now (`cargo lambda watch` sends its timeout that way).
    pub fn from_lambda_header_ms(value: u64) -> Self {
        const EPOCH_MS_2001: u64 = 1_000_000_000_000;
        if value < EPOCH_MS_2001 {
            Self::after(Duration::from_millis(value))
        } else {
            Self::from_epoch_ms(i64::try_from(value).unwrap_or(i64::MAX))
        }
    }

    /// Time left until the deadline; zero once it has passed.
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    pub fn instant(&self) -> Instant {
        self.at
    }

    pub fn epoch_ms(&self) -> i64 {
        self.epoch_ms
    }
}

/// Wall-clock milliseconds since the Unix epoch.
pub fn now_epoch_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_in_the_past_has_no_time_left() {
        let deadline = Deadline::from_epoch_ms(now_epoch_ms() - 1_000);
        assert_eq!(deadline.remaining(), Duration::ZERO);
    }

    #[tokio::test]
    async fn a_lambda_deadline_in_epoch_ms_is_taken_as_is() {
        let epoch_ms = now_epoch_ms() + 3_000;
        let deadline = Deadline::from_lambda_header_ms(epoch_ms as u64);
        assert_eq!(deadline.epoch_ms(), epoch_ms);
    }

    #[tokio::test]
    async fn a_small_lambda_deadline_is_a_budget_from_now() {
        let deadline = Deadline::from_lambda_header_ms(600_000);
        let remaining = deadline.remaining();
        assert!(remaining > Duration::from_secs(599) && remaining <= Duration::from_secs(600));
    }

    #[tokio::test]
    async fn a_deadline_from_epoch_ms_keeps_the_remaining_time() {
        let deadline = Deadline::from_epoch_ms(now_epoch_ms() + 5_000);
        let remaining = deadline.remaining();
        assert!(
            remaining > Duration::from_millis(4_000) && remaining <= Duration::from_millis(5_000)
        );
    }
}
