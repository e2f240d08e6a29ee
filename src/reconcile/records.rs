//! Whether a call's events reached the consumer: the `CallRecords` port and its adapter over the consumer's dedup store.

use async_trait::async_trait;
use gev_consumer::dedup::{DedupError, DedupStore};
use gev_core::domain::{EffectKey, ParticipantId, TargetKey};
use std::sync::Arc;

/// What the dedup store knows of one agent leg's call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// The consumer wrote this participant's wrap-up.
    WrappedUp,
    /// Events of the call reached the consumer (whatever it decided).
    EventsArrived,
    /// Nothing of the call reached the consumer (or it was forgotten).
    Unknown,
}

/// The records of what the consumer processed.
#[async_trait]
pub trait CallRecords: Send + Sync {
    /// What is known of `participant`'s leg of `conversation`.
    async fn seen(&self, conversation: &str, participant: &str) -> Result<Seen, DedupError>;
}

/// The consumer's dedup store (the table `DEDUP_TABLE_NAME` names): one consistent read per call.
pub struct DedupRecords(pub Arc<dyn DedupStore>);

#[async_trait]
impl CallRecords for DedupRecords {
    async fn seen(&self, conversation: &str, participant: &str) -> Result<Seen, DedupError> {
        let summary = self
            .0
            .inspect(&TargetKey::native_conversation(conversation))
            .await?;
        let wrapped = ParticipantId::parse(participant)
            .is_ok_and(|id| summary.applied.contains(&EffectKey::participant(&id)));
        Ok(if wrapped {
            Seen::WrappedUp
        } else if summary.is_unknown() {
            Seen::Unknown
        } else {
            Seen::EventsArrived
        })
    }
}
