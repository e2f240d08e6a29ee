//! Queue facts cached per instance: bounded, expiring, and fetched once per queue however many events ask at the same time.

use gev_core::deadline::Deadline;
use gev_core::domain::QueueId;
use gev_genesys::routing::QueueFacts;
use gev_genesys::{GenesysApi, GenesysError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// One queue's slot: its facts and when they were read; locked while they are fetched, so that
/// concurrent events of one queue cost one read.
type Slot = Arc<tokio::sync::Mutex<Option<(Instant, Arc<QueueFacts>)>>>;

/// The queue facts this instance read, each kept for `ttl`, at most `capacity` queues.
#[derive(Debug)]
pub(super) struct QueueCache {
    slots: Mutex<HashMap<QueueId, Slot>>,
    ttl: Duration,
    capacity: usize,
}

impl QueueCache {
    pub(super) fn new(ttl: Duration, capacity: usize) -> Self {
        QueueCache {
            slots: Mutex::new(HashMap::new()),
            ttl,
            capacity: capacity.max(1),
        }
    }

    /// The queue's facts, read from Genesys when not cached or older than the TTL. A failed
    /// read is not cached.
    pub(super) async fn facts(
        &self,
        genesys: &dyn GenesysApi,
        queue: &QueueId,
        deadline: Deadline,
    ) -> Result<Arc<QueueFacts>, GenesysError> {
        let slot = self.slot(queue);
        // Another event of the queue may be reading it: wait for it, within this event's time.
        let Ok(mut held) = tokio::time::timeout_at(deadline.instant(), slot.lock()).await else {
            return Err(GenesysError::DeadlineExceeded {
                operation: gev_genesys::Operation::GetQueue(queue.clone()),
            });
        };
        if let Some((read_at, facts)) = held.as_ref()
            && read_at.elapsed() < self.ttl
        {
            return Ok(Arc::clone(facts));
        }
        let facts = Arc::new(genesys.queue_facts(queue, deadline).await?);
        *held = Some((Instant::now(), Arc::clone(&facts)));
        Ok(facts)
    }

    /// Forgets the queue's facts, so that the next event reads them again.
    pub(super) fn forget(&self, queue: &QueueId) {
        gev_core::locks::lock(&self.slots).remove(queue);
    }

    fn slot(&self, queue: &QueueId) -> Slot {
        let mut slots = gev_core::locks::lock(&self.slots);
        if !slots.contains_key(queue) && slots.len() >= self.capacity {
            // Full: forget the queues whose facts are stale or not being read, else any one.
            let ttl = self.ttl;
            slots.retain(|_, slot| {
                slot.try_lock().map_or(true, |held| {
                    held.as_ref().is_some_and(|(at, _)| at.elapsed() < ttl)
                })
            });
            if slots.len() >= self.capacity
                && let Some(victim) = slots.keys().next().cloned()
            {
                slots.remove(&victim);
            }
        }
        Arc::clone(slots.entry(queue.clone()).or_default())
    }
}
