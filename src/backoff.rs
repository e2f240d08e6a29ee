//! Full-jitter exponential backoff, shared by every retry loop that is not the Genesys client's own.

use std::time::Duration;

/// A random wait up to `min(max, base * 2^(attempt-1))` ("full jitter": retries of many clients
/// spread out instead of arriving together).
pub fn full_jitter(base: Duration, max: Duration, attempt: u32) -> Duration {
    let ceiling = base
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(max);
    ceiling.mul_f64(fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_never_exceeds_the_doubled_base_nor_the_cap() {
        let (base, max) = (Duration::from_millis(100), Duration::from_secs(1));
        for attempt in 1..30 {
            let ceiling = (base * 2u32.pow((attempt - 1).min(16))).min(max);
            assert!(full_jitter(base, max, attempt) <= ceiling);
        }
    }
}
