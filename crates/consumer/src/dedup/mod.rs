//! The dedup port: lease an event's target, act under the lease, then complete the event with its outcome or release the lease for a retry.

mod cache;
mod dynamodb;
mod memory;

use async_trait::async_trait;
use gev_core::domain::{DedupKey, EffectKey, EpochMillis, EventKey, ParticipantId, TargetKey};
use std::collections::HashMap;
use std::fmt;

pub use dynamodb::DynamoDbDedupStore;
pub use memory::InMemoryDedupStore;

/// Identifies the invocation that holds a claim (its request id). Complete and release are
/// fenced on it, so a late invocation whose lease ran out cannot touch its successor's record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OwnerToken(String);

impl OwnerToken {
    /// The owner named `token` (a Lambda request id).
    pub fn new(token: impl Into<String>) -> Self {
        OwnerToken(token.into())
    }

    /// The token's text.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// The owner of one event's claim within this invocation: claims are re-entrant for their
    /// owner (a retried request), so no two events may share one.
    pub(crate) fn for_event(&self, event: &EventKey) -> OwnerToken {
        OwnerToken(format!("{}/{}", self.0, event.as_str()))
    }
}

impl fmt::Display for OwnerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How many completed events a target remembers at most; beyond it the oldest are forgotten
/// (a forgotten event that is delivered again is processed again and normally ends
/// `ineligible`, or `duplicate` when its write is among the target's applied ones).
pub(crate) const MAX_EVENTS_PER_TARGET: usize = 50;

/// One attempt to claim a delivery: its key and the lease asked for its target.
#[derive(Debug, Clone)]
pub struct ClaimRequest {
    /// The event's target and identity within it.
    pub key: DedupKey,
    /// Who asks for the lease.
    pub owner: OwnerToken,
    /// The target is leased until then; after it, another event may take the lease over.
    pub lease_until_ms: EpochMillis,
    /// When the event's record may be forgotten (epoch seconds; DynamoDB's TTL attribute).
    pub expires_at_s: i64,
    /// A fingerprint of the event payload, to spot a different event reusing a key.
    pub payload_hash: String,
}

/// The lease a successful claim holds on the event's target, with what the store knew of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lease {
    /// The lease of an invocation that never finished was taken over after it ended.
    pub took_over: bool,
    /// The writes earlier events made to this target (unexpired): never to be made again.
    pub applied: Vec<EffectKey>,
    /// Completed events of the target the store found expired (or beyond its bound); the
    /// complete removes them.
    pub stale_events: Vec<EventKey>,
    /// What earlier events noted of the target's agents (unexpired), by participant id.
    pub facts: HashMap<String, AgentFacts>,
}

/// What an event noted of one agent participant for a later event of the same call (the
/// `user.end`'s duration, for the `acw` that decides without reading the conversation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentFacts {
    /// `interactingDurationMs` of the agent's `user.end`.
    pub interacting_ms: i64,
}

impl Lease {
    /// True when an earlier event already made `effect`.
    pub(crate) fn has_applied(&self, effect: &EffectKey) -> bool {
        self.applied.contains(effect)
    }
}

/// What the store knows of one target, unexpired (`DedupStore::inspect`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetSummary {
    /// The writes its events made, in key order.
    pub applied: Vec<EffectKey>,
    /// Its completed events, whatever their outcome, in key order.
    pub completed: Vec<EventKey>,
    /// An event of the target holds an unexpired lease (it is being processed or retried).
    pub leased: bool,
}

impl TargetSummary {
    /// True when no event of the target reached the store.
    pub fn is_unknown(&self) -> bool {
        self.applied.is_empty() && self.completed.is_empty() && !self.leased
    }
}

/// What a claim found. A duplicate is a value, not an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// This invocation holds the target's lease now.
    Claimed(Lease),
    /// An earlier delivery of this event finished with `outcome`.
    Completed {
        /// The outcome recorded then.
        outcome: String,
        /// False when the earlier delivery had a different payload under the same key.
        same_payload: bool,
    },
    /// Another invocation holds an unexpired lease on the target (processing this event or
    /// another one of the same target): wait, or try again later.
    Leased {
        /// When that lease ends (epoch ms).
        lease_until_ms: EpochMillis,
    },
}

/// A dedup store failure.
#[derive(Debug, thiserror::Error)]
pub enum DedupError {
    /// The store is throttling or briefly unavailable; a retry can help.
    #[error("dedup store unavailable: {message}")]
    Unavailable {
        /// What failed.
        message: String,
        #[source]
        /// The SDK's error, when there is one.
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The store is misconfigured (missing table, missing permission); a retry cannot help.
    #[error("dedup store misconfigured: {message}")]
    Misconfigured {
        /// What to fix.
        message: String,
        #[source]
        /// The SDK's error, when there is one.
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The lease is no longer ours: it ran out and another event took the target over.
    #[error("the lease for {key} is no longer held by {owner}")]
    LeaseLost {
        /// The event whose lease was lost.
        key: DedupKey,
        /// The owner that lost it.
        owner: OwnerToken,
    },
}

impl DedupError {
    /// A stable name of the error's kind (`exception.type` in traces).
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            DedupError::Unavailable { .. } => "dedup.Unavailable",
            DedupError::Misconfigured { .. } => "dedup.Misconfigured",
            DedupError::LeaseLost { .. } => "dedup.LeaseLost",
        }
    }

    /// True when a retry can help (throttling, timeouts, 5xx).
    pub fn is_retryable(&self) -> bool {
        matches!(self, DedupError::Unavailable { .. })
    }
}

/// Claim / complete / release: one item per target holds its lease and its completed events.
#[async_trait]
pub trait DedupStore: Send + Sync {
    /// Leases the target of `request.key` for `request.owner`, unless the event was completed
    /// (unexpired) or another owner holds an unexpired lease on the target.
    async fn claim(&self, request: &ClaimRequest) -> Result<ClaimOutcome, DedupError>;

    /// Records the event's terminal `outcome` (and `applied`, the write it made, if any) and
    /// frees the lease; fails with `LeaseLost` if the lease is no longer the owner's.
    async fn complete(
        &self,
        request: &ClaimRequest,
        lease: &Lease,
        outcome: &str,
        applied: Option<&EffectKey>,
    ) -> Result<(), DedupError>;

    /// Frees the owner's lease without recording the event, so that a redelivery processes it;
    /// fails with `LeaseLost` if the lease is no longer the owner's.
    async fn release(&self, request: &ClaimRequest) -> Result<(), DedupError>;

    /// Keeps the owner's lease until `until_ms` (shortening it) without recording the event: no
    /// other event acts on the target before then; fails with `LeaseLost` if the lease is no
    /// longer the owner's.
    async fn hold_until(
        &self,
        request: &ClaimRequest,
        until_ms: EpochMillis,
    ) -> Result<(), DedupError>;

    /// When the unexpired lease on `target` ends, or `None` when the target is free: a cheap
    /// read for an event waiting its turn.
    async fn lease_end(&self, target: &TargetKey) -> Result<Option<EpochMillis>, DedupError>;

    /// What the store knows of `target` (unexpired), by a consistent read that changes
    /// nothing: how `reconcile` tells a call whose events reached the consumer.
    async fn inspect(&self, target: &TargetKey) -> Result<TargetSummary, DedupError>;

    /// Notes `facts` of `participant` on `target` until `expires_at_s` (one unconditional write
    /// that touches nothing else): the next claim of the target hands them over in its lease.
    async fn note_facts(
        &self,
        target: &TargetKey,
        participant: &ParticipantId,
        facts: AgentFacts,
        expires_at_s: i64,
    ) -> Result<(), DedupError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unavailable_store_is_printed_with_its_cause_once() {
        let error = DedupError::Unavailable {
            message: "UpdateItem on table \"t\" failed".into(),
            source: Some(Box::new(std::io::Error::other(
                "dispatch failure: timed out",
            ))),
        };

        assert_eq!(
            gev_core::error_chain(&error),
            "dedup store unavailable: UpdateItem on table \"t\" failed: dispatch failure: timed out"
        );
    }
}
