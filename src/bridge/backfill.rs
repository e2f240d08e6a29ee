//! Filling a gap: the followed queues' voice conversations that ended inside it, found with the conversation details query (paged), each agent's leg published as a `…user.end`-shaped notification marked `"backfilled": true` in its `metadata`.

use crate::stream::records::Gap;
use chrono::{DateTime, Utc};
use gev_core::deadline::Deadline;
use gev_genesys::analytics::AnalyticsApi;
use serde_json::{Value, json};
use std::time::Duration;

/// How long before a gap a call may have started and still end inside it.
pub const LOOKBACK: chrono::TimeDelta = chrono::TimeDelta::hours(4);
/// How far back the details query is trusted to reach (not verified against Genesys).
pub const RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(30);
/// Ends this close to a gap's edges count as inside it (Genesys' times have milliseconds, the
/// gap's bounds finer; an extra backfilled event is harmless to the consumer, a missed one is not).
const EDGE: chrono::TimeDelta = chrono::TimeDelta::seconds(1);
/// Conversations per page.
const PAGE_SIZE: u32 = 100;

/// Why a gap was not backfilled.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// The gap started before what the details query reaches.
    #[error(
        "the gap from {} is older than the analytics retention ({} days): not backfilled",
        crate::stream::records::rfc3339(*from),
        RETENTION.num_days()
    )]
    BeyondRetention {
        /// The gap's start.
        from: DateTime<Utc>,
    },
    /// The details query failed.
    #[error(transparent)]
    Query(#[from] gev_genesys::GenesysError),
}

/// The notifications that stand for the agents' `user.end` events of the calls on `queues` that
/// ended inside `gap`; an error when the gap is beyond the analytics retention or a query fails.
pub async fn backfill(
    api: &dyn AnalyticsApi,
    queues: &[String],
    gap: &Gap,
    request_timeout: Duration,
) -> Result<Vec<Value>, BackfillError> {
    if gap.from < Utc::now() - RETENTION {
        return Err(BackfillError::BeyondRetention { from: gap.from });
    }
    let mut notifications = Vec::new();
    let mut seen: u64 = 0;
    for page in 1.. {
        let answer = api
            .conversation_details(
                queues,
                gap.from - LOOKBACK,
                gap.to + EDGE,
                page,
                PAGE_SIZE,
                Deadline::after(request_timeout),
            )
            .await?;
        if answer.conversations.is_empty() {
            break;
        }
        seen += answer.conversations.len() as u64;
        for conversation in answer.conversations {
            let inside = |end: &DateTime<Utc>| *end >= gap.from - EDGE && *end <= gap.to + EDGE;
            let Some(end) = conversation.end.filter(inside) else {
                continue;
            };
            for agent in conversation.agents {
                let on_followed = agent
                    .queue_id
                    .as_ref()
                    .is_none_or(|queue| queues.iter().any(|q| q == queue));
                if on_followed {
                    notifications.push(recovered_user_end(
                        "backfill",
                        &conversation.id,
                        &agent,
                        end,
                    ));
                }
            }
        }
        if seen >= answer.total_hits {
            break;
        }
    }
    Ok(notifications)
}

/// A `…user.end`-shaped notification for an agent's leg that ended at `end`, made by `origin`
/// (`backfill`, `reconcile`): marked `"backfilled": true` in its metadata, so the consumer decides
/// the call from the conversation (its `acw` was lost too), with a correlation id that is the
/// same every time the leg is recovered.
pub fn recovered_user_end(
    origin: &str,
    conversation: &str,
    agent: &gev_genesys::analytics::AgentLeg,
    end: DateTime<Utc>,
) -> Value {
    json!({
        "topicName": format!("v2.detail.events.conversation.{conversation}.user.end"),
        "version": "2",
        "eventBody": {
            "eventTime": end.timestamp_millis(),
            "conversationId": conversation,
            "participantId": agent.participant_id,
            "userId": agent.user_id,
            "queueId": agent.queue_id,
            "mediaType": "VOICE",
        },
        // The marker rides in the envelope's metadata: the event body keeps Genesys' model.
        "metadata": {
            "CorrelationId": format!("{origin}-{conversation}-{}", agent.participant_id),
            "backfilled": true,
        },
    })
}
