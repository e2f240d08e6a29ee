//! The edge where EventBridge JSON becomes domain events: field lookup, id validation, clear rejections.

use crate::domain::{InteractionId, InteractionUpdate, ParsedEvent, SequenceId};
use serde_json::Value;

/// The detail-type of the tutorial dialect's interaction updates.
pub const SEED_DETAIL_TYPE: &str = "purecloud:v2:interaction:update";

/// The detail-type of an EventBridge event (`detail-type`, or `detailType` as some tools write it).
pub fn detail_type(event: &Value) -> Option<&str> {
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
    event
        .pointer("/detail/interactionId")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map(|id| format!("interaction:{id}"))
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
        Some(SEED_DETAIL_TYPE) => parse_seed_update(event),
        Some(other) => ParsedEvent::Ignored {
            reason: format!("unrelated detail-type {other:?}"),
        },
        None => ParsedEvent::Ignored {
            reason: "no detail-type: not an EventBridge event for this consumer".into(),
        },
    }
}

fn parse_seed_update(event: &Value) -> ParsedEvent {
    let detail = match event.get("detail") {
        Some(detail @ Value::Object(_)) => detail,
        Some(other) => {
            return ParsedEvent::rejected(
                "detail",
                format!("must be an object, got {}", kind(other)),
            );
        }
        None => return ParsedEvent::rejected("detail", "is missing"),
    };
    let interaction_id = match required_text(detail, "interactionId", false) {
        Ok(text) => text,
        Err(rejected) => return rejected,
    };
    let sequence_id = match required_text(detail, "sequenceId", true) {
        Ok(text) => text,
        Err(rejected) => return rejected,
    };
    let interaction_id = match InteractionId::parse(&interaction_id) {
        Ok(id) => id,
        Err(problem) => return ParsedEvent::rejected("detail.interactionId", problem),
    };
    let sequence_id = match SequenceId::parse(&sequence_id) {
        Ok(id) => id,
        Err(problem) => return ParsedEvent::rejected("detail.sequenceId", problem),
    };
    ParsedEvent::Update(InteractionUpdate {
        interaction_id,
        sequence_id,
        interaction_type: optional_text(detail, "interactionType"),
        state: optional_text(detail, "state"),
    })
}

/// Reads `detail.{name}` as non-empty text; integers are accepted as their decimal text when
/// `integers_allowed`.
fn required_text(
    detail: &Value,
    name: &str,
    integers_allowed: bool,
) -> Result<String, ParsedEvent> {
    let field = format!("detail.{name}");
    match detail.get(name) {
        None | Some(Value::Null) => Err(ParsedEvent::rejected(field, "is missing")),
        Some(Value::String(text)) if text.trim().is_empty() => {
            Err(ParsedEvent::rejected(field, "is empty"))
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
            Err(ParsedEvent::rejected(
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
    let text = serde_json::to_string(payload).unwrap_or_default();
    // FNV-1a, 64 bit: stable across processes and versions, unlike std's hasher.
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{hash:016x}")
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

    #[test]
    fn a_payload_that_is_not_an_object_is_rejected() {
        assert_eq!(
            rejection_reason(parse_event(&json!([1, 2]))),
            "event must be a JSON object, got an array"
        );
    }
}
