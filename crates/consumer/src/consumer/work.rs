//! An event the consumer acts on, of either dialect: its dedup key and the ids it reports.

use gev_core::domain::{ConversationEvent, DedupKey, InteractionUpdate};
use tracing::Span;

/// An event the consumer acts on, of either dialect.
#[derive(Debug, Clone)]
pub(super) enum Work {
    Seed(InteractionUpdate),
    Native(ConversationEvent),
}

impl Work {
    pub(super) fn dedup_key(&self) -> DedupKey {
        match self {
            Work::Seed(update) => update.dedup_key(),
            Work::Native(event) => event.dedup_key(),
        }
    }

    /// What the event's target is called in reasons.
    pub(super) fn target_name(&self) -> &'static str {
        match self {
            Work::Seed(_) => "interaction",
            Work::Native(_) => "conversation",
        }
    }

    /// Reported as `interactionId`: the interaction, or the conversation.
    pub(super) fn subject_id(&self) -> &str {
        match self {
            Work::Seed(update) => update.interaction_id.as_str(),
            Work::Native(event) => event.conversation_id.as_str(),
        }
    }

    /// Reported as `sequenceId`: the sequence id, or the native event's time.
    pub(super) fn sequence_label(&self) -> Option<String> {
        match self {
            Work::Seed(update) => Some(update.sequence_id.to_string()),
            Work::Native(event) => event.sequence_label(),
        }
    }

    pub(super) fn record_ids(&self, span: &Span) {
        span.record("interaction.id", self.subject_id());
        if let Some(sequence) = self.sequence_label() {
            span.record("sequence.id", sequence.as_str());
        }
        if let Work::Native(event) = self {
            span.record("conversation.id", event.conversation_id.as_str());
            if let Some(participant) = &event.participant_id {
                span.record("participant.id", participant.as_str());
            }
        }
    }
}
