//! Pure domain types and rules: ids, events, the fetched interaction, eligibility and outcomes.

pub mod eligibility;
pub mod event;
pub mod ids;
pub mod interaction;
pub mod outcome;

pub use eligibility::{Eligibility, IneligibleReason, decide};
pub use event::{DedupKey, InteractionUpdate, ParsedEvent};
pub use ids::{DispositionCodeId, IdError, InteractionId, SequenceId};
pub use interaction::{EpochMillis, InteractionSnapshot, TimelineEntry};
pub use outcome::Outcome;
