//! The invocation deadline: how much time is left, as a monotonic instant and as wall-clock epoch ms, and the reserve kept for finishing.

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// The least time kept for finishing an invocation (dedup completes, the span flush, the response).
pub(crate) const MIN_RESERVE: Duration = Duration::from_secs(2);

/// When the current invocation must have finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    at: Instant,
    epoch_ms: i64,
    /// The time the invocation had when the deadline was set.
    budget: Duration,
}

impl Deadline {
    /// A deadline `budget` from now.
    pub fn after(budget: Duration) -> Self {
        let now = Instant::now();
        Deadline {
            at: now.checked_add(budget).unwrap_or(now),
            epoch_ms: now_epoch_ms()
                .saturating_add(budget.as_millis().min(i64::MAX as u128) as i64),
            budget,
        }
    }

    /// A deadline given as wall-clock epoch milliseconds (the Lambda context's `deadline`).
    pub(crate) fn from_epoch_ms(epoch_ms: i64) -> Self {
        let budget = Duration::from_millis(epoch_ms.saturating_sub(now_epoch_ms()).max(0) as u64);
        let now = Instant::now();
        Deadline {
            at: now.checked_add(budget).unwrap_or(now),
            epoch_ms,
            budget,
        }
    }

    /// The time kept for finishing: max(2 s, 10 %) of the invocation's budget, but never more
    /// than half of it (a 3 s invocation keeps 1.5 s).
    pub(crate) fn reserve(&self) -> Duration {
        MIN_RESERVE.max(self.budget / 10).min(self.budget / 2)
    }

    /// The deadline of the work itself (requests, retries, waits, rate-limiter slots): the
    /// reserve before this one, so that finishing and answering always fit.
    pub fn for_work(&self) -> Deadline {
        self.earlier_by(self.reserve())
    }

    /// This deadline moved `by` earlier (not before its own start).
    pub fn earlier_by(&self, by: Duration) -> Deadline {
        let by = by.min(self.budget);
        Deadline {
            at: self.at.checked_sub(by).unwrap_or(self.at),
            epoch_ms: self.epoch_ms.saturating_sub(by.as_millis() as i64),
            budget: self.budget - by,
        }
    }

    /// The earlier of this deadline and `epoch_ms` (e.g. a lease's end).
    pub fn no_later_than_epoch_ms(&self, epoch_ms: i64) -> Deadline {
        let later_by = self.epoch_ms.saturating_sub(epoch_ms);
        if later_by <= 0 {
            return *self;
        }
        self.earlier_by(Duration::from_millis(later_by as u64))
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

    /// The deadline as a monotonic instant (for timers).
    pub fn instant(&self) -> Instant {
        self.at
    }

    /// The deadline as wall-clock epoch milliseconds (for leases).
    pub fn epoch_ms(&self) -> i64 {
        self.epoch_ms
    }
}

/// Wall-clock milliseconds since the Unix epoch.
pub fn now_epoch_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_in_the_past_has_no_time_left() {
        let deadline = Deadline::from_epoch_ms(now_epoch_ms() - 1_000);
        assert_eq!(deadline.remaining(), Duration::ZERO);
    }

    #[test]
    fn the_reserve_is_two_seconds_or_a_tenth_but_never_more_than_half() {
        let reserve = |seconds: u64| Deadline::after(Duration::from_secs(seconds)).reserve();
        assert_eq!(reserve(15), Duration::from_secs(2));
        assert_eq!(reserve(30), Duration::from_secs(3));
        assert_eq!(reserve(900), Duration::from_secs(90));
        assert_eq!(reserve(3), Duration::from_millis(1_500));
    }

    #[test]
    fn the_work_deadline_comes_the_reserve_before_the_deadline() {
        let deadline = Deadline::after(Duration::from_secs(15));

        let work = deadline.for_work();

        assert_eq!(deadline.instant() - work.instant(), Duration::from_secs(2));
        assert_eq!(deadline.epoch_ms() - work.epoch_ms(), 2_000);
    }

    #[test]
    fn a_deadline_is_moved_no_later_than_a_lease_end() {
        let deadline = Deadline::after(Duration::from_secs(30));
        let lease_end = deadline.epoch_ms() - 5_000;

        let bounded = deadline.no_later_than_epoch_ms(lease_end);

        assert_eq!(bounded.epoch_ms(), lease_end);
        assert_eq!(
            deadline.no_later_than_epoch_ms(deadline.epoch_ms() + 1),
            deadline
        );
    }

    #[test]
    fn a_huge_budget_does_not_overflow() {
        let deadline = Deadline::after(Duration::MAX);
        assert!(deadline.remaining() <= Duration::MAX);
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
