//! The simulated conversation details query (`POST /api/v2/analytics/conversations/details/query`): the seeded conversations as `AnalyticsConversation`s (wrap-ups as `wrapup` segments), those that started within the interval, filtered by queue, ordered by start (`order`), paged.

use super::Simulator;
use super::answers::error;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

fn time(value: Option<&Value>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value?.as_str()?)
        .ok()
        .map(|t| t.to_utc())
}

/// A participant as analytics describes it (`AnalyticsParticipant`): one voice session whose
/// `interact` segment spans the participant's time, and, once it was wrapped up, a `wrapup`
/// segment carrying its `wrapUpCode`.
fn analytics_participant(p: &Value) -> Value {
    let mut segments = vec![json!({
        "segmentStart": p.get("startTime"),
        "segmentEnd": p.get("endTime"),
        "segmentType": "interact",
        "queueId": p.get("queueId"),
    })];
    if let Some(code) = p.pointer("/wrapup/code").and_then(Value::as_str) {
        let end = p.get("endAcwTime").or_else(|| p.get("endTime"));
        segments.push(json!({
            "segmentStart": p.get("endTime"),
            "segmentEnd": end,
            "segmentType": "wrapup",
            "queueId": p.get("queueId"),
            "wrapUpCode": code,
        }));
    }
    json!({
        "participantId": p.get("id"),
        "purpose": p.get("purpose"),
        "userId": p.get("userId"),
        "sessions": [{"mediaType": "voice", "segments": segments}]
    })
}

/// A conversation (as `GET /api/v2/conversations/{id}` has it) as analytics describes it.
fn analytics_conversation(conversation: &Value) -> Option<(DateTime<Utc>, Value)> {
    let participants = conversation.get("participants")?.as_array()?;
    let start = participants
        .iter()
        .filter_map(|p| time(p.get("startTime")))
        .min()?;
    let ends: Vec<Option<DateTime<Utc>>> = participants
        .iter()
        .map(|p| time(p.get("endTime")))
        .collect();
    let end = if ends.iter().all(Option::is_some) {
        ends.into_iter().flatten().max()
    } else {
        None
    };
    let participants: Vec<Value> = participants.iter().map(analytics_participant).collect();
    let mut body = json!({
        "conversationId": conversation.get("id"),
        "conversationStart": start.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "originatingDirection": "inbound",
        "participants": participants,
    });
    if let Some(end) = end {
        body["conversationEnd"] = json!(end.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    }
    Some((start, body))
}

/// The queue ids of the query's `segmentFilters` predicates on `queueId` (none: every queue).
fn queue_filter(query: &Value) -> Vec<String> {
    query
        .get("segmentFilters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|filter| filter.get("predicates")?.as_array())
        .flatten()
        .filter(|predicate| predicate.get("dimension").and_then(Value::as_str) == Some("queueId"))
        .filter_map(|predicate| predicate.get("value")?.as_str().map(str::to_owned))
        .collect()
}

fn on_queues(conversation: &Value, queues: &[String]) -> bool {
    queues.is_empty()
        || conversation["participants"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| {
                p.pointer("/sessions/0/segments/0/queueId")
                    .and_then(Value::as_str)
                    .is_some_and(|queue| queues.iter().any(|q| q == queue))
            })
}

/// `POST /api/v2/analytics/conversations/details/query`.
pub(super) async fn details_query(
    State(sim): State<Simulator>,
    Json(query): Json<Value>,
) -> Response {
    let interval = query
        .get("interval")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let bounds = interval.split_once('/').and_then(|(from, to)| {
        Some((
            DateTime::parse_from_rfc3339(from).ok()?.to_utc(),
            DateTime::parse_from_rfc3339(to).ok()?.to_utc(),
        ))
    });
    let Some((from, to)) = bounds else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad.request",
            "interval must be start/end in ISO-8601",
        );
    };
    let page_size = query
        .pointer("/paging/pageSize")
        .and_then(Value::as_u64)
        .unwrap_or(25)
        .clamp(1, 100);
    let page_number = query
        .pointer("/paging/pageNumber")
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .max(1);
    let queues = queue_filter(&query);
    let mut found: Vec<(DateTime<Utc>, Value)> = sim
        .conversations()
        .iter()
        .filter_map(analytics_conversation)
        .filter(|(start, conversation)| {
            *start >= from && *start < to && on_queues(conversation, &queues)
        })
        .collect();
    found.sort_by_key(|(start, _)| *start);
    if query.get("order").and_then(Value::as_str) == Some("desc") {
        found.reverse();
    }
    let total = found.len();
    let skip = usize::try_from((page_number - 1) * page_size).unwrap_or(usize::MAX);
    let page: Vec<Value> = found
        .into_iter()
        .skip(skip)
        .take(usize::try_from(page_size).unwrap_or(100))
        .map(|(_, conversation)| conversation)
        .collect();
    let mut body = json!({"totalHits": total});
    if !page.is_empty() {
        body["conversations"] = json!(page);
    }
    Json(body).into_response()
}
