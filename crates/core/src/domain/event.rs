//! Domain events: what an incoming Genesys event means once it has been parsed at the edge.

use super::ids::{InteractionId, SequenceId};
use super::keys::{DedupKey, EventKey, TargetKey};
use std::fmt;

/// One `purecloud:v2:interaction:update` event of the tutorial dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InteractionUpdate {
    /// `detail.interactionId`.
    pub interaction_id: InteractionId,
    /// `detail.sequenceId`.
    pub sequence_id: SequenceId,
    /// `detail.interactionType` as sent (informational; eligibility uses the fetched interaction).
    pub(crate) interaction_type: Option<String>,
    /// `detail.state` as sent (informational; eligibility uses the fetched interaction).
    pub(crate) state: Option<String>,
}

impl InteractionUpdate {
    /// The dedup key: a redelivery of the same update of the same interaction maps to the same key.
    ///
    /// The target is the interaction and the event its sequence id, so equal sequence numbers of
    /// two different interactions never suppress each other.
    pub fn dedup_key(&self) -> DedupKey {
        DedupKey {
            target: TargetKey::from_trusted(format!("target#seed#{}", self.interaction_id)),
            event: EventKey::new(format!("seq#{}", self.sequence_id)),
        }
    }
}

/// What parsing made of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedEvent {
    /// A tutorial-dialect interaction update.
    Update(InteractionUpdate),
    /// A native Genesys Cloud conversation event.
    Conversation(super::conversation::ConversationEvent),
    /// An event of another kind: acknowledged, not acted on.
    Ignored {
        /// Why it is not acted on.
        reason: String,
    },
    /// An event of our kind that cannot be acted on; `field` names what is wrong.
    Rejected {
        /// The field that is wrong, e.g. `detail.sequenceId`.
        field: String,
        /// What is wrong, starting with the field.
        reason: String,
    },
}

impl ParsedEvent {
    /// A rejection of `field` for `problem`.
    pub(crate) fn rejected(field: impl Into<String>, problem: impl fmt::Display) -> Self {
        let field = field.into();
        ParsedEvent::Rejected {
            reason: format!("{field} {problem}"),
            field,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(interaction: &str, sequence: &str) -> InteractionUpdate {
        InteractionUpdate {
            interaction_id: InteractionId::parse(interaction).unwrap(),
            sequence_id: SequenceId::parse(sequence).unwrap(),
            interaction_type: None,
            state: None,
        }
    }

    #[test]
    fn the_dedup_key_is_the_same_for_a_redelivered_update() {
        assert_eq!(
            update("i-1", "7").dedup_key(),
            update("i-1", "7").dedup_key()
        );
    }

    #[test]
    fn the_same_sequence_number_of_two_interactions_gives_two_keys() {
        assert_ne!(
            update("i-1", "7").dedup_key(),
            update("i-2", "7").dedup_key()
        );
    }

    #[test]
    fn two_updates_of_one_interaction_share_the_target_but_not_the_event() {
        let (first, second) = (
            update("i-1", "7").dedup_key(),
            update("i-1", "8").dedup_key(),
        );
        assert_eq!(first.target, second.target);
        assert_ne!(first.event, second.event);
    }

    #[test]
    fn a_rejection_reason_starts_with_the_field_name() {
        let rejected = ParsedEvent::rejected("detail.sequenceId", "is missing");
        assert_eq!(
            rejected,
            ParsedEvent::Rejected {
                field: "detail.sequenceId".into(),
                reason: "detail.sequenceId is missing".into()
            }
        );
    }
}
