//! Pure domain types and rules: ids, events, the fetched interaction, eligibility and outcomes.

mod conversation;
pub mod eligibility;
mod event;
pub(crate) mod fingerprint;
pub(crate) mod ids;
pub mod integration;
mod interaction;
mod keys;
mod outcome;
mod policy;

pub use conversation::{
    AfterCallWork, ConversationEvent, ConversationSnapshot, ConversationTopic, MediaType,
    ParticipantSnapshot, WrapupTarget, WrapupTrigger, WrapupVerdict, decide_wrapup,
    native_dedup_key,
};
pub use eligibility::{Eligibility, IneligibleReason, decide};
pub use event::{InteractionUpdate, ParsedEvent};
pub use ids::{
    CommunicationId, ConversationId, DispositionCodeId, DivisionId, IdError, IntegrationId,
    InteractionId, MAX_ID_LEN, ParticipantId, QueueId, SequenceId,
};
pub use interaction::{EpochMillis, InteractionSnapshot, TimelineEntry};
pub use keys::{DedupKey, EffectKey, EventKey, TargetKey};
pub use outcome::Outcome;
pub use policy::{
    CallFacts, PolicyAction, PolicyDecision, PolicyError, RuleName, WrapupPolicy, WrittenQueues,
};
