//! The in-memory dedup adapter: one Lambda instance's memory, one record per target, bounded and expiring.

use super::{
    AgentFacts, ClaimOutcome, ClaimRequest, DedupError, DedupStore, Lease, MAX_EVENTS_PER_TARGET,
    OwnerToken, TargetSummary,
};
use async_trait::async_trait;
use gev_core::deadline::now_epoch_ms;
use gev_core::domain::{EffectKey, EpochMillis, EventKey, ParticipantId, TargetKey};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// How many targets an in-memory store keeps unless told otherwise.
pub(crate) const DEFAULT_CAPACITY: usize = 100_000;

/// One completed event of a target.
#[derive(Debug, Clone)]
struct Done {
    outcome: String,
    payload_hash: String,
    expires_at_s: i64,
}

/// What the store holds for one target: its lease, its completed events, its applied writes.
#[derive(Debug, Clone, Default)]
struct TargetRecord {
    lease: Option<(OwnerToken, EpochMillis)>,
    done: HashMap<EventKey, Done>,
    applied: HashMap<EffectKey, i64>,
    facts: HashMap<String, (AgentFacts, i64)>,
    expires_at_s: i64,
    generation: u64,
}

impl TargetRecord {
    fn live_lease(&self, now_ms: EpochMillis) -> Option<EpochMillis> {
        self.lease
            .as_ref()
            .map(|(_, until)| *until)
            .filter(|until| *until >= now_ms)
    }

    fn is_held_by(&self, owner: &OwnerToken) -> bool {
        self.lease
            .as_ref()
            .is_some_and(|(holder, _)| holder == owner)
    }

    /// Drops expired events and writes (an expiry in the current second still counts, as in
    /// the DynamoDB adapter), and the oldest events beyond the bound.
    fn prune(&mut self, now_s: i64) {
        self.done.retain(|_, done| done.expires_at_s >= now_s);
        self.applied
            .retain(|_, expires_at_s| *expires_at_s >= now_s);
        self.facts
            .retain(|_, (_, expires_at_s)| *expires_at_s >= now_s);
        while self.done.len() > MAX_EVENTS_PER_TARGET {
            let oldest = self
                .done
                .iter()
                .min_by_key(|(_, done)| done.expires_at_s)
                .map(|(key, _)| key.clone());
            match oldest {
                Some(key) => self.done.remove(&key),
                None => break,
            };
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    records: HashMap<TargetKey, TargetRecord>,
    /// Targets in the order they were last claimed, with the generation of that claim; an entry
    /// whose generation no longer matches its record is stale and skipped.
    order: VecDeque<(TargetKey, u64)>,
    next_generation: u64,
}

impl Inner {
    fn is_current(&self, target: &TargetKey, generation: u64) -> bool {
        self.records
            .get(target)
            .is_some_and(|record| record.generation == generation)
    }

    /// Drops expired records from the front of the queue, and the oldest ones beyond `capacity`.
    fn evict(&mut self, now_ms: EpochMillis, capacity: usize) {
        while let Some((target, generation)) = self.order.front() {
            let (target, generation) = (target.clone(), *generation);
            if !self.is_current(&target, generation) {
                self.order.pop_front();
                continue;
            }
            let record = &self.records[&target];
            let expired = record.expires_at_s.saturating_mul(1_000) <= now_ms
                && record.live_lease(now_ms).is_none();
            if expired || self.records.len() >= capacity {
                self.records.remove(&target);
                self.order.pop_front();
            } else {
                break;
            }
        }
        // Stale queue entries (targets claimed again) are bounded too.
        if self.order.len() > capacity.saturating_mul(2).max(16) {
            let records = &self.records;
            self.order.retain(|(target, generation)| {
                records
                    .get(target)
                    .is_some_and(|r| r.generation == *generation)
            });
        }
    }

    fn lease_lost(request: &ClaimRequest) -> DedupError {
        DedupError::LeaseLost {
            key: request.key.clone(),
            owner: request.owner.clone(),
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
    /// A store that keeps at most `capacity` targets, dropping the least recently claimed first.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        InMemoryDedupStore {
            inner: Mutex::new(Inner::default()),
            capacity: capacity.max(1),
        }
    }

    /// How many targets are held now (expired ones may linger until the next claim).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().records.len()
    }

    /// True when no record is kept.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        gev_core::locks::lock(&self.inner)
    }
}

#[async_trait]
impl DedupStore for InMemoryDedupStore {
    async fn claim(&self, request: &ClaimRequest) -> Result<ClaimOutcome, DedupError> {
        let now_ms = now_epoch_ms();
        let now_s = now_ms / 1_000;
        let mut inner = self.lock();
        inner.evict(now_ms, self.capacity);
        let generation = inner.next_generation;
        let record = inner.records.entry(request.key.target.clone()).or_default();
        if let Some(done) = record
            .done
            .get(&request.key.event)
            .filter(|done| done.expires_at_s >= now_s)
        {
            return Ok(ClaimOutcome::Completed {
                outcome: done.outcome.clone(),
                same_payload: done.payload_hash == request.payload_hash,
            });
        }
        let own = record.is_held_by(&request.owner);
        if let Some(lease_until_ms) = record.live_lease(now_ms).filter(|_| !own) {
            return Ok(ClaimOutcome::Leased { lease_until_ms });
        }
        let took_over = record.lease.is_some() && !own;
        record.lease = Some((request.owner.clone(), request.lease_until_ms));
        record.expires_at_s = record.expires_at_s.max(request.expires_at_s);
        record.generation = generation;
        let lease = Lease {
            took_over,
            applied: record
                .applied
                .iter()
                .filter(|(_, expires_at_s)| **expires_at_s >= now_s)
                .map(|(effect, _)| effect.clone())
                .collect(),
            stale_events: Vec::new(),
            facts: record
                .facts
                .iter()
                .filter(|(_, (_, expires_at_s))| *expires_at_s >= now_s)
                .map(|(participant, (facts, _))| (participant.clone(), *facts))
                .collect(),
        };
        inner.next_generation += 1;
        inner
            .order
            .push_back((request.key.target.clone(), generation));
        Ok(ClaimOutcome::Claimed(lease))
    }

    async fn complete(
        &self,
        request: &ClaimRequest,
        _lease: &Lease,
        outcome: &str,
        applied: Option<&EffectKey>,
    ) -> Result<(), DedupError> {
        let now_s = now_epoch_ms() / 1_000;
        let mut inner = self.lock();
        let Some(record) = inner
            .records
            .get_mut(&request.key.target)
            .filter(|record| record.is_held_by(&request.owner))
        else {
            return Err(Inner::lease_lost(request));
        };
        record.lease = None;
        record.done.insert(
            request.key.event.clone(),
            Done {
                outcome: outcome.to_owned(),
                payload_hash: request.payload_hash.clone(),
                expires_at_s: request.expires_at_s,
            },
        );
        if let Some(effect) = applied {
            record.applied.insert(effect.clone(), request.expires_at_s);
        }
        record.expires_at_s = record.expires_at_s.max(request.expires_at_s);
        record.prune(now_s);
        Ok(())
    }

    async fn release(&self, request: &ClaimRequest) -> Result<(), DedupError> {
        let mut inner = self.lock();
        let target = &request.key.target;
        let Some(record) = inner
            .records
            .get_mut(target)
            .filter(|record| record.is_held_by(&request.owner))
        else {
            return Err(Inner::lease_lost(request));
        };
        record.lease = None;
        if record.done.is_empty() && record.applied.is_empty() {
            inner.records.remove(target);
        }
        Ok(())
    }

    async fn hold_until(
        &self,
        request: &ClaimRequest,
        until_ms: EpochMillis,
    ) -> Result<(), DedupError> {
        let mut inner = self.lock();
        match inner
            .records
            .get_mut(&request.key.target)
            .filter(|record| record.is_held_by(&request.owner))
        {
            Some(record) => {
                record.lease = Some((request.owner.clone(), until_ms));
                Ok(())
            }
            None => Err(Inner::lease_lost(request)),
        }
    }

    async fn lease_end(&self, target: &TargetKey) -> Result<Option<EpochMillis>, DedupError> {
        let now_ms = now_epoch_ms();
        Ok(self
            .lock()
            .records
            .get(target)
            .and_then(|record| record.live_lease(now_ms)))
    }

    async fn inspect(&self, target: &TargetKey) -> Result<TargetSummary, DedupError> {
        let now_s = now_epoch_ms() / 1_000;
        let inner = self.lock();
        let Some(record) = inner.records.get(target) else {
            return Ok(TargetSummary::default());
        };
        let mut summary = TargetSummary {
            applied: (record.applied.iter())
                .filter(|(_, expires_at_s)| **expires_at_s >= now_s)
                .map(|(effect, _)| effect.clone())
                .collect(),
            completed: (record.done.iter())
                .filter(|(_, done)| done.expires_at_s >= now_s)
                .map(|(event, _)| event.clone())
                .collect(),
            leased: record.live_lease(now_epoch_ms()).is_some(),
        };
        summary.applied.sort();
        summary.completed.sort();
        Ok(summary)
    }

    async fn note_facts(
        &self,
        target: &TargetKey,
        participant: &ParticipantId,
        facts: AgentFacts,
        expires_at_s: i64,
    ) -> Result<(), DedupError> {
        let now_ms = now_epoch_ms();
        let mut inner = self.lock();
        inner.evict(now_ms, self.capacity);
        let generation = inner.next_generation;
        let is_new = !inner.records.contains_key(target);
        let record = inner.records.entry(target.clone()).or_default();
        record
            .facts
            .insert(participant.as_str().to_owned(), (facts, expires_at_s));
        record.expires_at_s = record.expires_at_s.max(expires_at_s);
        if is_new {
            record.generation = generation;
            inner.next_generation += 1;
            inner.order.push_back((target.clone(), generation));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gev_core::domain::DedupKey;

    fn request(target: &str, event: &str, owner: &str) -> ClaimRequest {
        let now_ms = now_epoch_ms();
        ClaimRequest {
            key: DedupKey::from_trusted(target, event),
            owner: OwnerToken::new(owner),
            lease_until_ms: now_ms + 60_000,
            expires_at_s: now_ms / 1_000 + 3_600,
            payload_hash: "h".into(),
        }
    }

    async fn complete(store: &InMemoryDedupStore, claim: &ClaimRequest) {
        let ClaimOutcome::Claimed(lease) = store.claim(claim).await.unwrap() else {
            panic!("not claimed");
        };
        store
            .complete(claim, &lease, "patched", None)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn the_least_recently_claimed_targets_are_dropped_beyond_capacity() {
        let store = InMemoryDedupStore::with_capacity(3);
        for n in 0..5 {
            complete(&store, &request(&format!("t{n}"), "e", "o")).await;
        }
        assert_eq!(store.len(), 3);
        let oldest_again = store.claim(&request("t0", "e", "o2")).await.unwrap();
        assert!(matches!(oldest_again, ClaimOutcome::Claimed(_)));
        let newest_again = store.claim(&request("t4", "e", "o2")).await.unwrap();
        assert!(matches!(newest_again, ClaimOutcome::Completed { .. }));
    }

    #[tokio::test]
    async fn expired_records_are_dropped_on_the_next_claim() {
        let store = InMemoryDedupStore::default();
        let mut stale = request("old", "e", "o");
        stale.expires_at_s = now_epoch_ms() / 1_000 - 1;
        stale.lease_until_ms = now_epoch_ms() - 1;
        store.claim(&stale).await.unwrap();
        store.claim(&request("new", "e", "o")).await.unwrap();
        assert_eq!(store.len(), 1);
    }

    #[tokio::test]
    async fn released_targets_do_not_grow_the_store_or_its_queue() {
        let store = InMemoryDedupStore::with_capacity(8);
        for _ in 0..1_000 {
            let claim = request("flaky", "e", "o");
            store.claim(&claim).await.unwrap();
            store.release(&claim).await.unwrap();
        }
        assert!(store.is_empty());
        assert!(store.lock().order.len() <= 17);
    }

    #[tokio::test]
    async fn a_target_remembers_at_most_its_bound_of_completed_events() {
        let store = InMemoryDedupStore::default();
        for n in 0..MAX_EVENTS_PER_TARGET + 5 {
            let mut claim = request("busy", &format!("e{n}"), "o");
            claim.expires_at_s += n as i64;
            complete(&store, &claim).await;
        }
        let inner = store.lock();
        let record = &inner.records[&TargetKey::from_trusted("busy")];
        assert_eq!(record.done.len(), MAX_EVENTS_PER_TARGET);
        assert!(!record.done.contains_key(&EventKey::from_trusted("e0")));
    }
}
