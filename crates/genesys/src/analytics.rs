//! The Analytics port (bridge backfill, reconcile): conversations that started within an interval on given queues (or all), with their end and agent participants and their wrap-ups.

use super::GenesysError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use gev_core::deadline::Deadline;

/// An agent's leg of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentLeg {
    /// The participant.
    pub participant_id: String,
    /// The agent.
    pub user_id: Option<String>,
    /// The queue the agent took it from.
    pub queue_id: Option<String>,
    /// The wrap-up code of its `wrapup` segment: none until the leg was wrapped up.
    pub wrapup_code: Option<String>,
}

/// A conversation as the details query describes it; only what backfill reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationDetail {
    /// Its id.
    pub id: String,
    /// When it ended (none while it goes on).
    pub end: Option<DateTime<Utc>>,
    /// Its agent participants.
    pub agents: Vec<AgentLeg>,
}

/// One page of a details query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetailsPage {
    /// The conversations of the page.
    pub conversations: Vec<ConversationDetail>,
    /// How many match in all.
    pub total_hits: u64,
}

/// The Analytics API.
#[async_trait]
pub trait AnalyticsApi: Send + Sync {
    /// Page `page` (1-based, `page_size` ≤ 100) of the voice conversations on `queues` (every
    /// queue when empty) that started within `[from, to)`, newest first.
    async fn conversation_details(
        &self,
        queues: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        page: u32,
        page_size: u32,
        deadline: Deadline,
    ) -> Result<DetailsPage, GenesysError>;
}
