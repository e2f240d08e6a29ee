//! Whether a call's events reached the consumer: the `CallRecords` port and its adapter over the consumer's dedup store.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use gev_consumer::dedup::{DedupError, DedupStore};
use gev_core::domain::{ConversationTopic, EffectKey, ParticipantId, TargetKey, native_dedup_key};
use std::sync::Arc;

/// What the dedup store knows of one agent leg's call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// The consumer wrote this participant's wrap-up.
    WrappedUp,
    /// The consumer already decided the event an earlier run published for this leg.
    AlreadyReconciled,
    /// Other events of the call reached the consumer (or are being processed): it may have
    /// decided this leg before its after-call work ended, or never heard of it (a transfer).
    EventsArrived,
    /// Nothing of the call reached the consumer (or it was forgotten).
    Unknown,
}

/// The records of what the consumer processed.
#[async_trait]
pub trait CallRecords: Send + Sync {
    /// What is known of `participant`'s leg of `conversation`, which ended at `ended`.
    async fn seen(
        &self,
        conversation: &str,
        participant: &str,
        ended: DateTime<Utc>,
    ) -> Result<Seen, DedupError>;
}

/// The consumer's dedup store (the table `DEDUP_TABLE_NAME` names): one consistent read per call.
pub struct DedupRecords(pub Arc<dyn DedupStore>);

#[async_trait]
impl CallRecords for DedupRecords {
    async fn seen(
        &self,
        conversation: &str,
        participant: &str,
        ended: DateTime<Utc>,
    ) -> Result<Seen, DedupError> {
        let summary = self
            .0
            .inspect(&TargetKey::native_conversation(conversation))
            .await?;
        let wrapped = ParticipantId::parse(participant)
            .is_ok_and(|id| summary.applied.contains(&EffectKey::participant(&id)));
        // The key of the event reconcile publishes for this leg (records.rs and mod.rs agree:
        // a `user.end` of the participant at the call's end).
        let ours = native_dedup_key(
            conversation,
            ConversationTopic::UserEnd,
            participant,
            &ended.timestamp_millis().to_string(),
        )
        .event;
        Ok(if wrapped {
            Seen::WrappedUp
        } else if summary.completed.contains(&ours) {
            Seen::AlreadyReconciled
        } else if summary.is_unknown() {
            Seen::Unknown
        } else {
            Seen::EventsArrived
        })
    }
}
