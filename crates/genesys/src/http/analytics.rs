//! The Analytics port over HTTP: the conversation details query and `AnalyticsConversation` as Genesys sends it.

use super::HttpGenesysClient;
use crate::analytics::{AgentLeg, AnalyticsApi, ConversationDetail, DetailsPage};
use crate::{GenesysError, Operation};
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use gev_core::deadline::Deadline;
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryResponse {
    #[serde(default)]
    conversations: Vec<AnalyticsConversation>,
    #[serde(default)]
    total_hits: u64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnalyticsConversation {
    conversation_id: String,
    #[serde(default)]
    conversation_end: Option<String>,
    #[serde(default)]
    participants: Vec<AnalyticsParticipant>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnalyticsParticipant {
    participant_id: String,
    #[serde(default)]
    purpose: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    sessions: Vec<AnalyticsSession>,
}

#[derive(Debug, Deserialize)]
struct AnalyticsSession {
    #[serde(default)]
    segments: Vec<AnalyticsSegment>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnalyticsSegment {
    #[serde(default)]
    queue_id: Option<String>,
    #[serde(default)]
    wrap_up_code: Option<String>,
}

#[async_trait]
impl AnalyticsApi for HttpGenesysClient {
    async fn conversation_details(
        &self,
        queues: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        page: u32,
        page_size: u32,
        deadline: Deadline,
    ) -> Result<DetailsPage, GenesysError> {
        let operation = Operation::ConversationDetailsQuery;
        let interval = format!(
            "{}/{}",
            from.to_rfc3339_opts(SecondsFormat::Millis, true),
            to.to_rfc3339_opts(SecondsFormat::Millis, true)
        );
        let queue_predicates: Vec<_> = queues
            .iter()
            .map(|queue| json!({"type": "dimension", "dimension": "queueId", "operator": "matches", "value": queue}))
            .collect();
        let mut segment_filters = vec![
            json!({"type": "and", "predicates": [{"type": "dimension", "dimension": "mediaType", "operator": "matches", "value": "voice"}]}),
        ];
        if !queue_predicates.is_empty() {
            segment_filters.push(json!({"type": "or", "predicates": queue_predicates}));
        }
        let query = json!({
            "interval": interval,
            "order": "desc",
            "orderBy": "conversationStart",
            "paging": {"pageSize": page_size.clamp(1, 100), "pageNumber": page.max(1)},
            "segmentFilters": segment_filters,
        });
        let response = self.send_json(&operation, &query, deadline).await?;
        let answer: QueryResponse = self.json_answer(operation, response).await?;
        Ok(DetailsPage {
            total_hits: answer.total_hits,
            conversations: answer
                .conversations
                .into_iter()
                .map(|conversation| ConversationDetail {
                    id: conversation.conversation_id,
                    end: conversation
                        .conversation_end
                        .and_then(|text| DateTime::parse_from_rfc3339(&text).ok())
                        .map(|time| time.to_utc()),
                    agents: conversation
                        .participants
                        .into_iter()
                        .filter(|p| p.purpose.as_deref() == Some("agent"))
                        .map(|p| {
                            let segments = || p.sessions.iter().flat_map(|s| &s.segments);
                            AgentLeg {
                                queue_id: segments().find_map(|segment| segment.queue_id.clone()),
                                wrapup_code: segments()
                                    .find_map(|segment| segment.wrap_up_code.clone()),
                                participant_id: p.participant_id,
                                user_id: p.user_id,
                            }
                        })
                        .collect(),
                })
                .collect(),
        })
    }
}
