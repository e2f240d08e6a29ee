//! A small local cache of COMPLETED dedup keys: hot duplicates skip the store's round trip.

use super::ClaimOutcome;
use gev_core::deadline::now_epoch_ms;
use gev_core::domain::DedupKey;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

#[derive(Debug)]
struct Entry {
    outcome: String,
    payload_hash: String,
    expires_at_s: i64,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<DedupKey, Entry>,
    order: VecDeque<DedupKey>,
}

/// Completed keys only: an in-progress claim can still fail and be released, so it is never cached.
/// Bounded (oldest out first) and expiring with the record it mirrors.
#[derive(Debug)]
pub(crate) struct CompletedCache {
    inner: Mutex<Inner>,
    capacity: usize,
}

impl CompletedCache {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        CompletedCache {
            inner: Mutex::default(),
            capacity,
        }
    }

    /// The cached completion of `key`, unless absent or expired.
    pub(crate) fn get(&self, key: &DedupKey, payload_hash: &str) -> Option<ClaimOutcome> {
        let inner = gev_core::locks::lock(&self.inner);
        let entry = inner.entries.get(key)?;
        (entry.expires_at_s > now_epoch_ms() / 1_000).then(|| ClaimOutcome::Completed {
            outcome: entry.outcome.clone(),
            same_payload: entry.payload_hash == payload_hash,
        })
    }

    /// Remembers that `key` completed with `outcome`.
    pub(crate) fn insert(
        &self,
        key: &DedupKey,
        outcome: &str,
        payload_hash: &str,
        expires_at_s: i64,
    ) {
        if self.capacity == 0 {
            return;
        }
        let mut inner = gev_core::locks::lock(&self.inner);
        let entry = Entry {
            outcome: outcome.to_owned(),
            payload_hash: payload_hash.to_owned(),
            expires_at_s,
        };
        if inner.entries.insert(key.clone(), entry).is_none() {
            inner.order.push_back(key.clone());
        }
        while inner.entries.len() > self.capacity {
            match inner.order.pop_front() {
                Some(oldest) => {
                    inner.entries.remove(&oldest);
                }
                None => break,
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        gev_core::locks::lock(&self.inner).entries.len()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> DedupKey {
        DedupKey::from_trusted("target", name)
    }

    fn later() -> i64 {
        now_epoch_ms() / 1_000 + 3_600
    }

    #[test]
    fn a_cached_completion_is_returned_with_the_payload_check() {
        let cache = CompletedCache::with_capacity(4);
        cache.insert(&key("k"), "patched", "h1", later());
        assert_eq!(
            cache.get(&key("k"), "h1"),
            Some(ClaimOutcome::Completed {
                outcome: "patched".into(),
                same_payload: true
            })
        );
        assert_eq!(
            cache.get(&key("k"), "h2"),
            Some(ClaimOutcome::Completed {
                outcome: "patched".into(),
                same_payload: false
            })
        );
    }

    #[test]
    fn an_expired_completion_is_not_returned() {
        let cache = CompletedCache::with_capacity(4);
        cache.insert(&key("k"), "patched", "h", now_epoch_ms() / 1_000 - 1);
        assert_eq!(cache.get(&key("k"), "h"), None);
    }

    #[test]
    fn the_cache_keeps_at_most_its_capacity_dropping_the_oldest() {
        let cache = CompletedCache::with_capacity(2);
        for name in ["a", "b", "c"] {
            cache.insert(&key(name), "patched", "h", later());
        }
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(&key("a"), "h"), None);
        assert!(cache.get(&key("c"), "h").is_some());
    }

    #[test]
    fn a_zero_capacity_cache_holds_nothing() {
        let cache = CompletedCache::with_capacity(0);
        cache.insert(&key("a"), "patched", "h", later());
        assert!(cache.is_empty());
    }
}
