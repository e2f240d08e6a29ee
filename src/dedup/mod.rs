//! The dedup port: claim a delivery before acting, complete it with the outcome, or release it for a retry.

mod cache;
pub mod dynamodb;
pub mod memory;

use crate::domain::{DedupKey, EpochMillis};
use async_trait::async_trait;
use std::fmt;

pub use dynamodb::DynamoDbDedupStore;
pub use memory::InMemoryDedupStore;

/// Identifies the invocation that holds a claim (its request id). Complete and release are
/// fenced on it, so a late invocation whose lease ran out cannot touch its successor's record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OwnerToken(String);

impl OwnerToken {
    pub fn new(token: impl Into<String>) -> Self {
        OwnerToken(token.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OwnerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One attempt to claim a delivery.
#[derive(Debug, Clone)]
pub struct ClaimRequest {
    pub key: DedupKey,
    pub owner: OwnerToken,
    /// The claim is in progress until then; after it, another delivery may take over.
    pub lease_until_ms: EpochMillis,
    /// When the record may be forgotten (epoch seconds; DynamoDB's TTL attribute).
    pub expires_at_s: i64,
    /// A fingerprint of the event payload, to spot a different event reusing a key.
    pub payload_hash: String,
}

/// What a claim found. A duplicate is a value, not an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// This invocation owns the key now. `took_over` is true when an expired lease was taken over.
    Claimed { took_over: bool },
    /// An earlier delivery finished with `outcome`.
    Completed {
        outcome: String,
        /// False when the earlier delivery had a different payload under the same key.
        same_payload: bool,
    },
    /// Another delivery holds an unexpired lease: try again later.
    InProgress { lease_until_ms: EpochMillis },
}

/// A dedup store failure.
#[derive(Debug, thiserror::Error)]
pub enum DedupError {
    /// The store is throttling or briefly unavailable; a retry can help.
    #[error("dedup store unavailable: {message}")]
    Unavailable {
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The store is misconfigured (missing table, missing permission); a retry cannot help.
    #[error("dedup store misconfigured: {message}")]
    Misconfigured {
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The record is no longer ours: the lease ran out and another delivery took over, or it expired.
    #[error("dedup record {key} is no longer owned by {owner}")]
    LeaseLost { key: DedupKey, owner: OwnerToken },
}

impl DedupError {
    /// A stable name of the error's kind (`exception.type` in traces).
    pub fn kind(&self) -> &'static str {
        match self {
            DedupError::Unavailable { .. } => "dedup.Unavailable",
            DedupError::Misconfigured { .. } => "dedup.Misconfigured",
            DedupError::LeaseLost { .. } => "dedup.LeaseLost",
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, DedupError::Unavailable { .. })
    }
}

/// Claim / complete / release, as DESIGN.md describes them.
#[async_trait]
pub trait DedupStore: Send + Sync {
    /// Claims `request.key` for `request.owner`, unless a completed record or a live lease exists.
    async fn claim(&self, request: &ClaimRequest) -> Result<ClaimOutcome, DedupError>;

    /// Records the final `outcome` of the owner's claim; fails with `LeaseLost` if it is not the owner's.
    async fn complete(
        &self,
        key: &DedupKey,
        owner: &OwnerToken,
        outcome: &str,
    ) -> Result<(), DedupError>;

    /// Gives the owner's claim up so that a redelivery can take it; fails with `LeaseLost` if it
    /// is not the owner's.
    async fn release(&self, key: &DedupKey, owner: &OwnerToken) -> Result<(), DedupError>;
}
