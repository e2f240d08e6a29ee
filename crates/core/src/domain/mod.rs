//! Pure domain types and rules: ids, events, the fetched interaction, eligibility and outcomes.

pub mod conversation;
pub mod eligibility;
pub mod event;
pub mod fingerprint;
pub mod ids;
pub mod integration;
pub mod interaction;
pub mod keys;
pub mod outcome;
pub mod policy;

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
