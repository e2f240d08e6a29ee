//! A token bucket on this process's Genesys API requests: a burst becomes a queue, not a storm of 429s.

use gev_core::deadline::Deadline;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Allows `rate` requests per second on average and bursts of up to `rate` (at least 1).
/// Waiting callers are served in arrival order: each takes the next free slot.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    interval: Duration,
    /// How far behind now the next slot may lie: room for a burst of `rate` requests.
    headroom: Duration,
    /// When the next request may go; in the past when there is spare capacity.
    next_free: Mutex<Instant>,
}

impl RateLimiter {
    pub(crate) fn new(rate_per_second: f64) -> Self {
        let rate = rate_per_second.max(0.001);
        let interval = Duration::from_secs_f64(1.0 / rate);
        let headroom = interval.mul_f64(rate.max(1.0) - 1.0);
        let now = Instant::now();
        RateLimiter {
            interval,
            headroom,
            // A new process starts with a full burst.
            next_free: Mutex::new(now.checked_sub(headroom).unwrap_or(now)),
        }
    }

    /// Waits for a slot. Returns false, without taking one, when the slot comes after `deadline`.
    pub(crate) async fn acquire(&self, deadline: Deadline) -> bool {
        let slot = {
            let mut next_free = gev_core::locks::lock(&self.next_free);
            let now = Instant::now();
            // Unused capacity accumulates up to one burst.
            let earliest = now.checked_sub(self.headroom).unwrap_or(now);
            let slot = (*next_free).max(earliest);
            if slot > deadline.instant() {
                return false;
            }
            *next_free = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_is_spread_to_the_configured_rate() {
        let limiter = RateLimiter::new(10.0);
        let deadline = Deadline::after(Duration::from_secs(60));
        let started = Instant::now();
        // Let one full burst of capacity accumulate.
        tokio::time::advance(Duration::from_secs(1)).await;
        for _ in 0..30 {
            assert!(limiter.acquire(deadline).await);
        }
        // 10 from the accumulated burst, then 20 more at 10 per second.
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(2_900) && elapsed <= Duration::from_millis(3_100),
            "{elapsed:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_slot_after_the_deadline_is_refused_at_once() {
        let limiter = RateLimiter::new(1.0);
        let deadline = Deadline::after(Duration::from_millis(1_500));
        // The slot due now and the one a second later fit before the deadline.
        for _ in 0..2 {
            assert!(limiter.acquire(deadline).await);
        }
        let before = Instant::now();
        assert!(!limiter.acquire(deadline).await);
        assert_eq!(before.elapsed(), Duration::ZERO);
    }
}
