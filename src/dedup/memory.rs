//! The in-memory dedup adapter: one Lambda instance's memory, bounded and expiring, O(1) per event.

use super::{ClaimOutcome, ClaimRequest, DedupError, DedupStore, OwnerToken};
use crate::deadline::now_epoch_ms;
use crate::domain::{DedupKey, EpochMillis};
use async_trait::async_trait;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// How many records an in-memory store keeps unless told otherwise.
pub const DEFAULT_CAPACITY: usize = 100_000;

#[derive(Debug, Clone)]
enum State {
    InProgress { lease_until_ms: EpochMillis },
    Completed { outcome: String },
}

#[derive(Debug, Clone)]
struct Record {
    owner: OwnerToken,
    state: State,
    expires_at_ms: EpochMillis,
    payload_hash: String,
    generation: u64,
}

#[derive(Debug, Default)]
struct Inner {
    records: HashMap<DedupKey, Record>,
    /// Keys in insertion order with the generation inserted; entries whose generation no longer
    /// matches the record are stale and skipped. With one TTL this is also expiry order.
    order: VecDeque<(DedupKey, u64)>,
    next_generation: u64,
}

impl Inner {
    fn is_current(&self, key: &DedupKey, generation: u64) -> bool {
        self.records
            .get(key)
            .is_some_and(|record| record.generation == generation)
    }

    /// Drops expired records from the front of the queue, and the oldest ones beyond `capacity`.
    fn evict(&mut self, now_ms: EpochMillis, capacity: usize) {
        while let Some((key, generation)) = self.order.front() {
            let (key, generation) = (key.clone(), *generation);
            if !self.is_current(&key, generation) {
                self.order.pop_front();
                continue;
            }
            let expired = self.records[&key].expires_at_ms <= now_ms;
            if expired || self.records.len() >= capacity {
                self.records.remove(&key);
                self.order.pop_front();
            } else {
                break;
            }
        }
        // Stale queue entries (released or re-claimed keys) are bounded too.
        if self.order.len() > capacity.saturating_mul(2).max(16) {
            let records = &self.records;
            self.order.retain(|(key, generation)| {
                records
                    .get(key)
                    .is_some_and(|r| r.generation == *generation)
            });
        }
    }
}

/// Dedup records in this process's memory. Protects one warm instance (and `invoke`) only: use
/// the DynamoDB adapter to deduplicate across Lambda instances.
#[derive(Debug)]
pub struct InMemoryDedupStore {
    inner: Mutex<Inner>,
    capacity: usize,
}

impl Default for InMemoryDedupStore {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl InMemoryDedupStore {
    /// A store that keeps at most `capacity` records, dropping the oldest first.
    pub fn with_capacity(capacity: usize) -> Self {
        InMemoryDedupStore {
            inner: Mutex::new(Inner::default()),
            capacity: capacity.max(1),
        }
    }

    /// How many records are held now (expired ones may linger until the next claim).
    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a record half-written: recover the data.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl DedupStore for InMemoryDedupStore {
    async fn claim(&self, request: &ClaimRequest) -> Result<ClaimOutcome, DedupError> {
        let now_ms = now_epoch_ms();
        let mut inner = self.lock();
        inner.evict(now_ms, self.capacity);
        let mut took_over = false;
        if let Some(existing) = inner.records.get(&request.key)
            && existing.expires_at_ms > now_ms
        {
            match &existing.state {
                State::Completed { outcome } => {
                    return Ok(ClaimOutcome::Completed {
                        outcome: outcome.clone(),
                        same_payload: existing.payload_hash == request.payload_hash,
                    });
                }
                State::InProgress { lease_until_ms } if *lease_until_ms >= now_ms => {
                    return Ok(ClaimOutcome::InProgress {
                        lease_until_ms: *lease_until_ms,
                    });
                }
                State::InProgress { .. } => took_over = true,
            }
        }
        let generation = inner.next_generation;
        inner.next_generation += 1;
        inner.records.insert(
            request.key.clone(),
            Record {
                owner: request.owner.clone(),
                state: State::InProgress {
                    lease_until_ms: request.lease_until_ms,
                },
                expires_at_ms: request.expires_at_s.saturating_mul(1_000),
                payload_hash: request.payload_hash.clone(),
                generation,
            },
        );
        inner.order.push_back((request.key.clone(), generation));
        Ok(ClaimOutcome::Claimed { took_over })
    }

    async fn complete(
        &self,
        key: &DedupKey,
        owner: &OwnerToken,
        outcome: &str,
    ) -> Result<(), DedupError> {
        let mut inner = self.lock();
        match inner.records.get_mut(key) {
            Some(record) if record.owner == *owner => {
                record.state = State::Completed {
                    outcome: outcome.to_owned(),
                };
                Ok(())
            }
            _ => Err(DedupError::LeaseLost {
                key: key.clone(),
                owner: owner.clone(),
            }),
        }
    }

    async fn release(&self, key: &DedupKey, owner: &OwnerToken) -> Result<(), DedupError> {
        let mut inner = self.lock();
        match inner.records.get(key) {
            Some(record)
                if record.owner == *owner && matches!(record.state, State::InProgress { .. }) =>
            {
                inner.records.remove(key);
                Ok(())
            }
            _ => Err(DedupError::LeaseLost {
                key: key.clone(),
                owner: owner.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(key: &str, owner: &str, now_ms: i64) -> ClaimRequest {
        ClaimRequest {
            key: DedupKey::from_trusted(key),
            owner: OwnerToken::new(owner),
            lease_until_ms: now_ms + 60_000,
            expires_at_s: now_ms / 1_000 + 3_600,
            payload_hash: "h".into(),
        }
    }

    #[tokio::test]
    async fn the_oldest_records_are_dropped_beyond_capacity() {
        let store = InMemoryDedupStore::with_capacity(3);
        let now = now_epoch_ms();
        for n in 0..5 {
            let claim = request(&format!("k{n}"), "o", now);
            store.claim(&claim).await.unwrap();
            store
                .complete(&claim.key, &claim.owner, "patched")
                .await
                .unwrap();
        }
        assert_eq!(store.len(), 3);
        let oldest_again = store.claim(&request("k0", "o2", now)).await.unwrap();
        assert_eq!(oldest_again, ClaimOutcome::Claimed { took_over: false });
        let newest_again = store.claim(&request("k4", "o2", now)).await.unwrap();
        assert!(matches!(newest_again, ClaimOutcome::Completed { .. }));
    }

    #[tokio::test]
    async fn expired_records_are_dropped_on_the_next_claim() {
        let store = InMemoryDedupStore::default();
        let now = now_epoch_ms();
        let mut stale = request("old", "o", now);
        stale.expires_at_s = now / 1_000 - 1;
        store.claim(&stale).await.unwrap();
        store.claim(&request("new", "o", now)).await.unwrap();
        assert_eq!(store.len(), 1);
    }

    #[tokio::test]
    async fn released_keys_do_not_grow_the_queue_without_bound() {
        let store = InMemoryDedupStore::with_capacity(8);
        let now = now_epoch_ms();
        for _ in 0..1_000 {
            let claim = request("flaky", "o", now);
            store.claim(&claim).await.unwrap();
            store.release(&claim.key, &claim.owner).await.unwrap();
        }
        assert!(store.lock().order.len() <= 17);
    }
}
