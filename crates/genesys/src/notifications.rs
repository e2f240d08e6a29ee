//! The Notifications port (stream): channels, their subscriptions with per-topic verdicts, and whether a channel still exists.

use super::GenesysError;
use async_trait::async_trait;
use gev_core::deadline::Deadline;

/// A notification channel as `POST /api/v2/notifications/channels` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// Its id.
    pub id: String,
    /// Where its socket is (used as given: no token goes in it).
    pub connect_uri: String,
    /// When it expires unless subscriptions are put again.
    pub expires: Option<chrono::DateTime<chrono::Utc>>,
}

/// What Genesys said of one topic of a subscription request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicVerdict {
    /// The topic.
    pub topic: String,
    /// `Permitted` (true) or `Rejected`.
    pub permitted: bool,
    /// Why it was rejected (the reason names missing permissions when that is why).
    pub reason: Option<String>,
}

/// The Notifications API.
#[async_trait]
pub trait NotificationsApi: Send + Sync {
    /// Creates a channel.
    async fn create_channel(&self, deadline: Deadline) -> Result<Channel, GenesysError>;

    /// Replaces the channel's subscriptions with `topics` (`ignoreErrors=true`: rejected topics
    /// are reported, the others subscribed); this also extends the channel's life.
    async fn put_subscriptions(
        &self,
        channel_id: &str,
        topics: &[String],
        deadline: Deadline,
    ) -> Result<Vec<TopicVerdict>, GenesysError>;

    /// Whether the channel still exists (`HEAD`: 200 or 404).
    async fn channel_exists(
        &self,
        channel_id: &str,
        deadline: Deadline,
    ) -> Result<bool, GenesysError>;
}
