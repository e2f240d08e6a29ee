//! The Notifications port over HTTP: `Channel` and `ChannelTopicEntityListing` as Genesys sends them.

use super::{Body, HttpGenesysClient};
use crate::notifications::{Channel, NotificationsApi, TopicVerdict};
use crate::{GenesysError, Operation};
use async_trait::async_trait;
use gev_core::deadline::Deadline;
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChannelBody {
    id: String,
    connect_uri: String,
    #[serde(default)]
    expires: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChannelTopic {
    id: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    rejection_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ChannelTopicListing {
    #[serde(default)]
    entities: Vec<ChannelTopic>,
}

/// The error of a channel id that cannot be put in paths (letters, digits, `-`, `_`, `.`).
fn unusable_channel_id(operation: &Operation, id: &str) -> Option<GenesysError> {
    let safe = !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    (!safe).then(|| GenesysError::Refused {
        operation: operation.clone(),
        status: 200,
        hint: format!("the channel id {id:?} cannot be used in a path"),
        correlation_id: None,
    })
}

#[async_trait]
impl NotificationsApi for HttpGenesysClient {
    async fn create_channel(&self, deadline: Deadline) -> Result<Channel, GenesysError> {
        let operation = Operation::CreateChannel;
        // `POST /api/v2/notifications/channels` takes no body (as the SDK sends it).
        let url = self.api.url(&operation.path());
        let response = self
            .send(&operation, &url, &Body::Empty, deadline, || {
                self.bearer_credential(deadline)
            })
            .await?;
        let body: ChannelBody = self.json_answer(operation.clone(), response).await?;
        if let Some(error) = unusable_channel_id(&operation, &body.id) {
            return Err(error);
        }
        Ok(Channel {
            id: body.id,
            connect_uri: body.connect_uri,
            expires: body
                .expires
                .and_then(|text| chrono::DateTime::parse_from_rfc3339(&text).ok())
                .map(|time| time.with_timezone(&chrono::Utc)),
        })
    }

    async fn put_subscriptions(
        &self,
        channel_id: &str,
        topics: &[String],
        deadline: Deadline,
    ) -> Result<Vec<TopicVerdict>, GenesysError> {
        let operation = Operation::PutSubscriptions(channel_id.to_owned());
        if let Some(error) = unusable_channel_id(&operation, channel_id) {
            return Err(error);
        }
        let body: Vec<_> = topics.iter().map(|topic| json!({"id": topic})).collect();
        let response = self.send_json(&operation, &body, deadline).await?;
        let listing: ChannelTopicListing = self.json_answer(operation, response).await?;
        Ok(listing
            .entities
            .into_iter()
            .map(|topic| TopicVerdict {
                permitted: topic
                    .state
                    .as_deref()
                    .is_none_or(|state| state == "Permitted"),
                reason: topic.rejection_reason,
                topic: topic.id,
            })
            .collect())
    }

    async fn channel_exists(
        &self,
        channel_id: &str,
        deadline: Deadline,
    ) -> Result<bool, GenesysError> {
        let operation = Operation::HeadChannel(channel_id.to_owned());
        if let Some(error) = unusable_channel_id(&operation, channel_id) {
            return Err(error);
        }
        let url = self.api.url(&operation.path());
        let response = self
            .send(&operation, &url, &Body::Empty, deadline, || {
                self.bearer_credential(deadline)
            })
            .await?;
        match response.status() {
            status if status.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(super::answers::api_failure(operation, response).await),
        }
    }
}
