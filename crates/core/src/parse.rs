//! The edge where EventBridge JSON becomes domain events: field lookup, id validation, clear rejections.

use crate::domain::ids::validate_path_segment;
use crate::domain::{
    ConversationEvent, ConversationId, ConversationTopic, DivisionId, InteractionId,
    InteractionUpdate, MediaType, ParsedEvent, ParticipantId, QueueId, SequenceId,
};
use serde_json::Value;
use std::fmt;

/// The detail-type of the tutorial dialect's interaction updates.
pub const SEED_DETAIL_TYPE: &str = "purecloud:v2:interaction:update";

/// The prefix of Genesys Cloud's conversation topics (the native dialect's detail-types).
pub(crate) const CONVERSATION_TOPIC_PREFIX: &str = "v2.detail.events.conversation.";

/// The detail-type of an EventBridge event (`detail-type`, or `detailType` as some tools write it).
pub(crate) fn detail_type(event: &Value) -> Option<&str> {
    event
        .get("detail-type")
        .or_else(|| event.get("detailType"))
        .and_then(Value::as_str)
}

/// The EventBridge event id, when the event has one.
pub fn event_id(event: &Value) -> Option<&str> {
    event.get("id").and_then(Value::as_str)
}

/// The key under which events must be processed in order: the interaction they are about.
/// `None` when the event names none (it is then processed on its own).
pub fn ordering_key(event: &Value) -> Option<String> {
    let id = |pointer: &str| {
        event
            .pointer(pointer)
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
    };
    id("/detail/interactionId")
        .map(|id| format!("interaction:{id}"))
        .or_else(|| id("/detail/eventBody/conversationId").map(|id| format!("conversation:{id}")))
}

/// Parses one EventBridge event. Never fails: every input is an update, ignored or rejected.
pub fn parse_event(event: &Value) -> ParsedEvent {
    if !event.is_object() {
        return ParsedEvent::rejected(
            "event",
            format!("must be a JSON object, got {}", kind(event)),
        );
    }
    match detail_type(event) {
        Some(SEED_DETAIL_TYPE) => seed_update(event).map_or_else(Into::into, ParsedEvent::Update),
        Some(topic) if topic.starts_with(CONVERSATION_TOPIC_PREFIX) => {
            match ConversationTopic::from_suffix(topic) {
                Some(kind) => conversation_event(event, topic, kind)
                    .map_or_else(Into::into, ParsedEvent::Conversation),
                None => ParsedEvent::Ignored {
                    reason: format!(
                        "conversation topic {topic:?} is not one this consumer acts on"
                    ),
                },
            }
        }
        Some(other) => ParsedEvent::Ignored {
            reason: format!("unrelated detail-type {other:?}"),
        },
        None => ParsedEvent::Ignored {
            reason: "no detail-type: not an EventBridge event for this consumer".into(),
        },
    }
}

/// Why an event of ours cannot be acted on: the field, and what is wrong with it.
struct Rejection {
    field: String,
    problem: String,
}

impl Rejection {
    fn new(field: impl Into<String>, problem: impl fmt::Display) -> Self {
        Rejection {
            field: field.into(),
            problem: problem.to_string(),
        }
    }
}

impl From<Rejection> for ParsedEvent {
    fn from(rejection: Rejection) -> Self {
        ParsedEvent::rejected(rejection.field, rejection.problem)
    }
}

/// `value` when it is a JSON object, else a rejection naming `field`.
fn object<'a>(value: Option<&'a Value>, field: &str) -> Result<&'a Value, Rejection> {
    match value {
        Some(object @ Value::Object(_)) => Ok(object),
        Some(other) => Err(Rejection::new(
            field,
            format!("must be an object, got {}", kind(other)),
        )),
        None => Err(Rejection::new(field, "is missing")),
    }
}

fn seed_update(event: &Value) -> Result<InteractionUpdate, Rejection> {
    let detail = object(event.get("detail"), "detail")?;
    let interaction_id = required_text(detail, "interactionId", Accept::Text)?;
    let sequence_id = required_text(detail, "sequenceId", Accept::TextOrInteger)?;
    Ok(InteractionUpdate {
        interaction_id: InteractionId::parse(&interaction_id)
            .map_err(|problem| Rejection::new("detail.interactionId", problem))?,
        sequence_id: SequenceId::parse(&sequence_id)
            .map_err(|problem| Rejection::new("detail.sequenceId", problem))?,
        interaction_type: optional_text(detail, "interactionType"),
        state: optional_text(detail, "state"),
    })
}

fn conversation_event(
    event: &Value,
    detail_type: &str,
    topic: ConversationTopic,
) -> Result<ConversationEvent, Rejection> {
    let detail = object(event.get("detail"), "detail")?;
    let body = object(detail.get("eventBody"), "detail.eventBody")?;
    let text = |name: &str| -> Result<Option<String>, Rejection> {
        match body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(other) => Err(Rejection::new(
                format!("detail.eventBody.{name}"),
                format!("must be a string, got {}", kind(other)),
            )),
        }
    };
    let conversation_id = text("conversationId")?
        .ok_or_else(|| Rejection::new("detail.eventBody.conversationId", "is missing"))?;
    let conversation_id = ConversationId::parse(&conversation_id)
        .map_err(|problem| Rejection::new("detail.eventBody.conversationId", problem))?;
    let participant_id = text("participantId")?
        .map(|id| ParticipantId::parse(&id))
        .transpose()
        .map_err(|problem| Rejection::new("detail.eventBody.participantId", problem))?;
    let media_type = text("mediaType")?
        .map(|media| MediaType::new(&media))
        .ok_or_else(|| Rejection::new("detail.eventBody.mediaType", "is missing"))?;
    let event_time_ms = event_time(body)?;
    let correlation_id = correlation_id(detail)?;
    if event_time_ms.is_none() && correlation_id.is_none() {
        return Err(Rejection::new(
            "detail.eventBody.eventTime",
            "is missing (and so is detail.metadata.CorrelationId): the event cannot be deduplicated",
        ));
    }
    let topic_name = topic_name(detail, detail_type, topic)?;
    let wrapup_code = match body.get("wrapupCode") {
        Some(Value::String(code)) if !code.trim().is_empty() => Some(code.clone()),
        _ => None,
    };
    // Facts for the policy and for a later event only: a value that cannot be used is left
    // out (the conversation is read instead), never a rejection of the event.
    let queue_id = text("queueId")
        .ok()
        .flatten()
        .and_then(|id| QueueId::parse(&id).ok());
    let division_id = text("divisionId")
        .ok()
        .flatten()
        .and_then(|id| DivisionId::parse(&id).ok());
    let direction = text("direction")
        .ok()
        .flatten()
        .map(|d| d.to_ascii_uppercase());
    let backfilled = detail
        .pointer("/metadata/backfilled")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let interacting_ms = body
        .get("interactingDurationMs")
        .and_then(Value::as_i64)
        .filter(|ms| *ms >= 0);
    Ok(ConversationEvent {
        backfilled,
        queue_id,
        division_id,
        direction,
        interacting_ms,
        topic,
        topic_name,
        conversation_id,
        participant_id,
        media_type,
        event_time_ms,
        correlation_id,
        wrapup_code,
    })
}

/// `eventBody.eventTime`: epoch milliseconds, as a number or its decimal text; absent is `None`.
fn event_time(body: &Value) -> Result<Option<i64>, Rejection> {
    match body.get("eventTime") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) if number.as_i64().is_some() => Ok(number.as_i64()),
        Some(Value::String(text)) if text.trim().parse::<i64>().is_ok() => {
            Ok(text.trim().parse().ok())
        }
        Some(other) => Err(Rejection::new(
            "detail.eventBody.eventTime",
            format!("must be epoch milliseconds, got {}", kind(other)),
        )),
    }
}

/// `metadata.CorrelationId`, which may become part of the dedup key: only a bounded, key-safe id.
fn correlation_id(detail: &Value) -> Result<Option<String>, Rejection> {
    detail
        .pointer("/metadata/CorrelationId")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map(|id| {
            validate_path_segment(id)
                .map(|()| id.to_owned())
                .map_err(|problem| Rejection::new("detail.metadata.CorrelationId", problem))
        })
        .transpose()
}

/// `detail.topicName` (else the detail-type): bounded, and of the event's own topic.
fn topic_name(
    detail: &Value,
    detail_type: &str,
    topic: ConversationTopic,
) -> Result<String, Rejection> {
    let topic_name = detail
        .get("topicName")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .unwrap_or(detail_type);
    if topic_name.len() > MAX_TOPIC_NAME_LEN {
        return Err(Rejection::new(
            "detail.topicName",
            format!(
                "is {} bytes long; at most {MAX_TOPIC_NAME_LEN} are allowed",
                topic_name.len()
            ),
        ));
    }
    if ConversationTopic::from_suffix(topic_name) != Some(topic) {
        return Err(Rejection::new(
            "detail.topicName",
            format!(
                "is not a {} topic, unlike the event's detail-type",
                topic.as_str()
            ),
        ));
    }
    Ok(topic_name.to_owned())
}

/// Longest `detail.topicName` accepted (`v2.detail.events.conversation.{uuid}.customer.end` is 73).
const MAX_TOPIC_NAME_LEN: usize = 256;

/// What a required text field may also be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Accept {
    Text,
    /// An integer is read as its decimal text.
    TextOrInteger,
}

/// Reads `detail.{name}` as non-empty text (or, as `accept` allows, an integer as its text).
fn required_text(detail: &Value, name: &str, accept: Accept) -> Result<String, Rejection> {
    let integers_allowed = accept == Accept::TextOrInteger;
    let field = format!("detail.{name}");
    match detail.get(name) {
        None | Some(Value::Null) => Err(Rejection::new(field, "is missing")),
        Some(Value::String(text)) if text.trim().is_empty() => {
            Err(Rejection::new(field, "is empty"))
        }
        Some(Value::String(text)) => Ok(text.clone()),
        Some(Value::Number(number)) if integers_allowed && (number.is_u64() || number.is_i64()) => {
            Ok(number.to_string())
        }
        Some(other) => {
            let expected = if integers_allowed {
                "a string or an integer"
            } else {
                "a string"
            };
            Err(Rejection::new(
                field,
                format!("must be {expected}, got {}", kind(other)),
            ))
        }
    }
}

fn optional_text(detail: &Value, name: &str) -> Option<String> {
    detail.get(name).and_then(Value::as_str).map(str::to_owned)
}

/// A stable fingerprint of the event's `detail` (the whole event when it has none), stored with
/// the dedup record to notice a different event arriving under an already-used key.
pub fn payload_fingerprint(event: &Value) -> String {
    let payload = event.get("detail").unwrap_or(event);
    let mut hasher = crate::domain::fingerprint::Fnv1a::default();
    // Hashed as it is serialised, without building the text.
    let _ = serde_json::to_writer(&mut hasher, payload);
    hasher.hex()
}

/// A short name of a JSON value's kind, for error messages.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn seed_event(detail: Value) -> Value {
        json!({
            "version": "0",
            "id": "evt-1",
            "detail-type": SEED_DETAIL_TYPE,
            "source": "com.genesys.interaction",
            "detail": detail
        })
    }

    fn rejection_reason(parsed: ParsedEvent) -> String {
        match parsed {
            ParsedEvent::Rejected { reason, .. } => reason,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn an_interaction_update_is_parsed_with_its_ids() {
        let parsed = parse_event(&seed_event(json!({
            "interactionId": "abc-123",
            "sequenceId": "42",
            "interactionType": "voice",
            "state": "completed"
        })));
        let ParsedEvent::Update(update) = parsed else {
            panic!("expected an update, got {parsed:?}")
        };
        assert_eq!(update.interaction_id.as_str(), "abc-123");
        assert_eq!(update.sequence_id.as_str(), "42");
        assert_eq!(update.interaction_type.as_deref(), Some("voice"));
        assert_eq!(update.state.as_deref(), Some("completed"));
    }

    #[test]
    fn the_camel_case_detail_type_is_accepted() {
        let event = json!({
            "detailType": SEED_DETAIL_TYPE,
            "detail": {"interactionId": "a", "sequenceId": "1"}
        });
        assert!(matches!(parse_event(&event), ParsedEvent::Update(_)));
    }

    #[test]
    fn a_numeric_sequence_id_is_read_as_its_decimal_text() {
        let parsed = parse_event(&seed_event(
            json!({"interactionId": "a", "sequenceId": 1017}),
        ));
        let ParsedEvent::Update(update) = parsed else {
            panic!()
        };
        assert_eq!(update.sequence_id.as_str(), "1017");
    }

    #[test]
    fn a_fractional_sequence_id_is_rejected() {
        let parsed = parse_event(&seed_event(
            json!({"interactionId": "a", "sequenceId": 1.5}),
        ));
        assert_eq!(
            rejection_reason(parsed),
            "detail.sequenceId must be a string or an integer, got a number"
        );
    }

    #[test]
    fn an_unrelated_detail_type_is_ignored() {
        let event = json!({"detail-type": "Object Created", "detail": {}});
        assert_eq!(
            parse_event(&event),
            ParsedEvent::Ignored {
                reason: "unrelated detail-type \"Object Created\"".into()
            }
        );
    }

    #[test]
    fn an_event_without_detail_type_is_ignored() {
        assert!(matches!(
            parse_event(&json!({"hello": 1})),
            ParsedEvent::Ignored { .. }
        ));
    }

    #[test]
    fn a_missing_interaction_id_is_rejected_naming_the_field() {
        let parsed = parse_event(&seed_event(json!({"sequenceId": "1"})));
        assert_eq!(rejection_reason(parsed), "detail.interactionId is missing");
    }

    #[test]
    fn an_empty_sequence_id_is_rejected_naming_the_field() {
        let parsed = parse_event(&seed_event(json!({"interactionId": "a", "sequenceId": ""})));
        assert_eq!(rejection_reason(parsed), "detail.sequenceId is empty");
    }

    #[test]
    fn a_null_sequence_id_is_rejected_as_missing() {
        let parsed = parse_event(&seed_event(
            json!({"interactionId": "a", "sequenceId": null}),
        ));
        assert_eq!(rejection_reason(parsed), "detail.sequenceId is missing");
    }

    #[test]
    fn a_numeric_interaction_id_is_rejected() {
        let parsed = parse_event(&seed_event(json!({"interactionId": 5, "sequenceId": "1"})));
        assert_eq!(
            rejection_reason(parsed),
            "detail.interactionId must be a string, got a number"
        );
    }

    #[test]
    fn an_interaction_id_that_would_change_the_url_is_rejected() {
        let parsed = parse_event(&seed_event(json!({
            "interactionId": "../../users/me", "sequenceId": "1"
        })));
        assert!(rejection_reason(parsed).starts_with("detail.interactionId contains '/'"));
    }

    #[test]
    fn a_missing_detail_is_rejected() {
        let event = json!({"detail-type": SEED_DETAIL_TYPE});
        assert_eq!(rejection_reason(parse_event(&event)), "detail is missing");
    }

    #[test]
    fn a_detail_that_is_not_an_object_is_rejected() {
        let event = json!({"detail-type": SEED_DETAIL_TYPE, "detail": "x"});
        assert_eq!(
            rejection_reason(parse_event(&event)),
            "detail must be an object, got a string"
        );
    }

    #[test]
    fn the_fingerprint_depends_on_the_detail_only() {
        let first = seed_event(json!({"interactionId": "a", "sequenceId": "1"}));
        let mut redelivered = first.clone();
        redelivered["id"] = json!("evt-2");
        let different = seed_event(json!({"interactionId": "a", "sequenceId": "1", "state": "x"}));
        assert_eq!(
            payload_fingerprint(&first),
            payload_fingerprint(&redelivered)
        );
        assert_ne!(payload_fingerprint(&first), payload_fingerprint(&different));
        assert_eq!(payload_fingerprint(&first).len(), 16);
    }

    fn native_event(topic: &str, body: Value) -> Value {
        json!({
            "version": "0",
            "id": "evt-n",
            "detail-type": format!("v2.detail.events.conversation.{{id}}.{topic}"),
            "source": "aws.partner/genesys.com/cloud/org-1/events",
            "detail": {
                "topicName": format!("v2.detail.events.conversation.c-1.{topic}"),
                "version": "2",
                "eventBody": body,
                "metadata": {"CorrelationId": "corr-1"},
                "timestamp": "2026-11-23T10:00:00.000Z"
            }
        })
    }

    #[test]
    fn a_native_user_end_event_is_parsed() {
        let parsed = parse_event(&native_event(
            "user.end",
            json!({
                "conversationId": "c-1", "participantId": "p-1", "mediaType": "VOICE",
                "eventTime": 1_795_424_400_000_i64
            }),
        ));
        let ParsedEvent::Conversation(event) = parsed else {
            panic!("{parsed:?}")
        };
        assert_eq!(event.topic, ConversationTopic::UserEnd);
        assert_eq!(event.conversation_id.as_str(), "c-1");
        assert_eq!(event.participant_id.unwrap().as_str(), "p-1");
        assert!(event.media_type.is_voice());
        assert_eq!(event.event_time_ms, Some(1_795_424_400_000));
        assert_eq!(
            event.topic_name,
            "v2.detail.events.conversation.c-1.user.end"
        );
        assert_eq!(event.correlation_id.as_deref(), Some("corr-1"));
    }

    fn rejected_field(parsed: ParsedEvent) -> String {
        match parsed {
            ParsedEvent::Rejected { field, .. } => field,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn an_acw_event_carries_the_agents_wrapup_code() {
        let parsed = parse_event(&native_event(
            "acw",
            json!({"conversationId": "c-1", "participantId": "p-1", "mediaType": "VOICE",
                   "eventTime": 1, "wrapupCode": "w-1"}),
        ));
        let ParsedEvent::Conversation(event) = parsed else {
            panic!("{parsed:?}")
        };
        assert_eq!(event.wrapup_code.as_deref(), Some("w-1"));
    }

    #[test]
    fn a_correlation_id_that_is_not_key_safe_is_rejected_naming_it() {
        let mut event = native_event(
            "user.end",
            json!({"conversationId": "c-1", "mediaType": "VOICE"}),
        );
        event["detail"]["metadata"]["CorrelationId"] = json!("x".repeat(500));

        assert_eq!(
            rejected_field(parse_event(&event)),
            "detail.metadata.CorrelationId"
        );
    }

    #[test]
    fn a_topic_name_of_another_topic_or_too_long_is_rejected_naming_it() {
        let mut other_topic = native_event(
            "user.end",
            json!({"conversationId": "c-1", "mediaType": "VOICE", "eventTime": 1}),
        );
        other_topic["detail"]["topicName"] = json!("v2.detail.events.conversation.c-1.acw");
        let mut huge = other_topic.clone();
        huge["detail"]["topicName"] = json!(format!("{}.user.end", "x".repeat(300)));

        assert_eq!(
            rejected_field(parse_event(&other_topic)),
            "detail.topicName"
        );
        assert_eq!(rejected_field(parse_event(&huge)), "detail.topicName");
    }

    #[test]
    fn other_conversation_topics_are_ignored() {
        let parsed = parse_event(&native_event(
            "user.start",
            json!({"conversationId": "c-1"}),
        ));
        assert!(matches!(parsed, ParsedEvent::Ignored { .. }), "{parsed:?}");
    }

    #[test]
    fn a_native_event_without_a_conversation_id_is_rejected_naming_the_field() {
        let parsed = parse_event(&native_event(
            "customer.end",
            json!({"mediaType": "VOICE", "eventTime": 1}),
        ));
        assert_eq!(
            rejection_reason(parsed),
            "detail.eventBody.conversationId is missing"
        );
    }

    #[test]
    fn a_native_event_without_a_media_type_is_rejected() {
        let parsed = parse_event(&native_event(
            "acw",
            json!({"conversationId": "c-1", "eventTime": 1}),
        ));
        assert_eq!(
            rejection_reason(parsed),
            "detail.eventBody.mediaType is missing"
        );
    }

    #[test]
    fn a_native_event_time_that_is_not_epoch_millis_is_rejected() {
        let parsed = parse_event(&native_event(
            "acw",
            json!({
                "conversationId": "c-1", "mediaType": "VOICE", "eventTime": "yesterday"
            }),
        ));
        assert_eq!(
            rejection_reason(parsed),
            "detail.eventBody.eventTime must be epoch milliseconds, got a string"
        );
    }

    #[test]
    fn a_conversation_id_that_would_change_the_url_is_rejected() {
        let parsed = parse_event(&native_event(
            "user.end",
            json!({
                "conversationId": "c-1/../../users", "mediaType": "VOICE", "eventTime": 1
            }),
        ));
        assert!(
            rejection_reason(parsed).starts_with("detail.eventBody.conversationId contains '/'")
        );
    }

    #[test]
    fn events_of_one_conversation_share_an_ordering_key() {
        let event = native_event("user.end", json!({"conversationId": "c-1"}));
        assert_eq!(ordering_key(&event).as_deref(), Some("conversation:c-1"));
    }

    #[test]
    fn a_payload_that_is_not_an_object_is_rejected() {
        assert_eq!(
            rejection_reason(parse_event(&json!([1, 2]))),
            "event must be a JSON object, got an array"
        );
    }
}
