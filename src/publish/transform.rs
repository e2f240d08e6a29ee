//! From a Genesys notification or an EventBridge envelope to one PutEvents entry: source, detail-type (the topic's template), detail with a deterministic bridge id, time.

use super::window::is_bridge_id;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The default `Source` of published events.
pub const DEFAULT_SOURCE: &str = "genesys-eventbridge.bridge";

/// One PutEvents entry, before sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `Source`.
    pub source: String,
    /// `DetailType`: the topic's template, e.g. `v2.detail.events.conversation.{id}.user.end`.
    pub detail_type: String,
    /// `Detail`, serialised.
    pub detail: String,
    /// `Time` (RFC 3339), when the event carries its own.
    pub time: Option<String>,
    /// `detail.bridge.eventId`: the same notification always gets the same id.
    pub bridge_event_id: String,
}

/// Why an input cannot become an entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    /// Neither a notification (`topicName`, `eventBody`) nor an envelope (`detail-type`, `detail`).
    #[error(
        "neither a Genesys notification (topicName, eventBody) nor an EventBridge event (detail-type, detail)"
    )]
    UnknownShape,
    /// The envelope's `detail` or the notification is not a JSON object.
    #[error("{0} must be a JSON object")]
    NotAnObject(&'static str),
    /// The envelope's `time` is not an RFC 3339 date-time (EventBridge's `Time` must be one).
    #[error("time {0} is not an RFC 3339 date-time such as \"2026-11-23T10:02:05Z\"")]
    NotRfc3339(String),
}

/// Why a `Source` is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// It starts with `aws.`.
    #[error("{0:?} starts with \"aws.\", which AWS keeps for its own services")]
    AwsPrefix(String),
    /// It is empty, too long, or holds other characters.
    #[error("{0:?} must be 1 to 256 of letters, digits, '.', '-', '_' and '/'")]
    Characters(String),
}

/// Checks a `--source`: not `aws.`-prefixed, 1 to 256 of letters, digits, `.`, `-`, `_`, `/`.
pub fn check_source(source: &str) -> Result<(), SourceError> {
    if source.starts_with("aws.") {
        return Err(SourceError::AwsPrefix(source.to_owned()));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/');
    if source.is_empty() || source.len() > 256 || !source.chars().all(allowed) {
        return Err(SourceError::Characters(source.to_owned()));
    }
    Ok(())
}

/// The template of a concrete topic name: every segment that is an id (a UUID, or a long run of
/// hex digits and dashes) becomes `{id}`, as the native integration names its detail-types.
pub fn topic_template(topic: &str) -> String {
    topic
        .split('.')
        .map(|segment| if is_id(segment) { "{id}" } else { segment })
        .collect::<Vec<_>>()
        .join(".")
}

fn is_id(segment: &str) -> bool {
    segment.len() >= 16
        && segment.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
        && segment.chars().any(|c| c.is_ascii_digit())
}

/// The deterministic bridge id of a notification: a hash of its topic, correlation id and body.
pub fn bridge_event_id(topic: &str, correlation_id: &str, body: &Value) -> String {
    let mut hash = Sha256::new();
    for part in [topic, "\u{1f}", correlation_id, "\u{1f}"] {
        hash.update(part.as_bytes());
    }
    // The body's compact JSON, fed to the hash as it is written: no copy of it is made.
    let _ = serde_json::to_writer(HashWriter(&mut hash), body);
    hash.finalize()[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Bytes written into a hash.
struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The event an input carries: a `--rejects` line's `event` (`{origin, reason, bridgeEventId,
/// event}`), a Lambda failure record's `requestPayload` (the Direct mode's dead letters), or the
/// input itself.
fn carried(input: &Value) -> &Value {
    let is_reject_line = input.get("origin").is_some_and(Value::is_string)
        && input.get("reason").is_some()
        && input.get("topicName").is_none()
        && input.get("detail-type").is_none();
    let input = match input.get("event") {
        Some(event) if is_reject_line => event,
        _ => input,
    };
    match (input.get("requestContext"), input.get("requestPayload")) {
        (Some(_), Some(payload)) => payload,
        _ => input,
    }
}

/// The envelope's `time` as EventBridge's `Time` (RFC 3339 in UTC), `None` when it has none.
fn envelope_time(input: &Value) -> Result<Option<String>, TransformError> {
    match input.get("time") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => chrono::DateTime::parse_from_rfc3339(text)
            .map(|time| {
                Some(
                    time.with_timezone(&chrono::Utc)
                        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                )
            })
            .map_err(|_| TransformError::NotRfc3339(Value::from(text.as_str()).to_string())),
        Some(other) => Err(TransformError::NotRfc3339(other.to_string())),
    }
}

/// The entry for `input` (a notification or an envelope, or either inside a `--rejects` line or
/// a Lambda failure record), published as `source`, received at `received_at` (RFC 3339).
pub fn transform(input: &Value, source: &str, received_at: &str) -> Result<Entry, TransformError> {
    let input = carried(input);
    let (detail_type, detail, time) =
        if let Some(topic) = input.get("topicName").and_then(Value::as_str) {
            if !input.is_object() || input.get("eventBody").is_none() {
                return Err(TransformError::UnknownShape);
            }
            let time = input
                .pointer("/eventBody/eventTime")
                .and_then(epoch_ms_rfc3339);
            (topic_template(topic), input, time)
        } else if let (Some(detail_type), Some(detail)) = (
            input.get("detail-type").and_then(Value::as_str),
            input.get("detail"),
        ) {
            (detail_type.to_owned(), detail, envelope_time(input)?)
        } else {
            return Err(TransformError::UnknownShape);
        };
    let Some(object) = detail.as_object() else {
        return Err(TransformError::NotAnObject("detail"));
    };
    // Only an id of the form this tool makes is kept; an empty, constant-looking or otherwise
    // malformed one (`""`, uppercase, a `+`) would fold different events into one.
    let existing_id = detail
        .pointer("/bridge/eventId")
        .and_then(Value::as_str)
        .filter(|id| is_bridge_id(id));
    let bridge_event_id = match existing_id {
        // Published by this tool before (a re-drive): the id it had.
        Some(id) => id.to_owned(),
        None => {
            let topic = object
                .get("topicName")
                .and_then(Value::as_str)
                .unwrap_or(&detail_type);
            let correlation = detail
                .pointer("/metadata/CorrelationId")
                .and_then(Value::as_str)
                .unwrap_or_default();
            match object.get("eventBody") {
                // A notification's body.
                Some(body) => bridge_event_id(topic, correlation, body),
                // The whole detail of an event without one, less a `bridge` field that is not
                // ours (its `receivedAt` would make the id differ on every run).
                None if object.contains_key("bridge") => {
                    let mut without = object.clone();
                    without.remove("bridge");
                    bridge_event_id(topic, correlation, &Value::Object(without))
                }
                None => bridge_event_id(topic, correlation, detail),
            }
        }
    };
    let bridge = json!({"eventId": bridge_event_id, "receivedAt": received_at});
    let detail = if object.contains_key("bridge") && existing_id.is_none() {
        // A `bridge` field of someone else's (or with a malformed id): replaced, on a copy.
        let mut copy = object.clone();
        copy.entry("timestamp")
            .or_insert_with(|| json!(received_at));
        copy.insert("bridge".into(), bridge);
        Value::Object(copy).to_string()
    } else {
        let mut added: Vec<(&str, Value)> = Vec::new();
        if !object.contains_key("timestamp") {
            added.push(("timestamp", json!(received_at)));
        }
        if existing_id.is_none() {
            added.push(("bridge", bridge));
        }
        with_fields(detail, &added)
    };
    Ok(Entry {
        source: source.to_owned(),
        detail_type,
        detail,
        time,
        bridge_event_id,
    })
}

/// `object` serialised with `added` fields (absent from it) appended, without copying the object.
fn with_fields(object: &Value, added: &[(&str, Value)]) -> String {
    let mut text = object.to_string();
    if added.is_empty() {
        return text;
    }
    text.pop(); // the closing brace
    let mut first = text.len() == 1;
    for (key, value) in added {
        if !first {
            text.push(',');
        }
        first = false;
        text.push_str(&Value::from(*key).to_string());
        text.push(':');
        text.push_str(&value.to_string());
    }
    text.push('}');
    text
}

/// Epoch milliseconds as RFC 3339.
fn epoch_ms_rfc3339(value: &Value) -> Option<String> {
    let ms = value.as_i64()?;
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|time| time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notification(body: Value) -> Value {
        json!({"topicName": "v2.detail.events.conversation.9b1f0c2e-4d3a-4b5c-8e7f-00000000c001.user.end",
               "version": "2", "eventBody": body,
               "metadata": {"CorrelationId": "c-1"}})
    }

    #[test]
    fn a_notification_becomes_an_entry_of_its_topic_template() {
        let entry = transform(
            &notification(json!({"eventTime": 1_795_428_125_000_i64})),
            DEFAULT_SOURCE,
            "2026-11-30T00:00:00Z",
        )
        .unwrap();

        assert_eq!(
            entry.detail_type,
            "v2.detail.events.conversation.{id}.user.end"
        );
        assert_eq!(entry.time.as_deref(), Some("2026-11-23T10:02:05.000Z"));
        let detail: Value = serde_json::from_str(&entry.detail).unwrap();
        assert_eq!(detail["bridge"]["eventId"], entry.bridge_event_id);
        assert_eq!(detail["timestamp"], "2026-11-30T00:00:00Z");
    }

    #[test]
    fn the_same_notification_always_gets_the_same_bridge_id_and_another_one_another() {
        let first = transform(&notification(json!({"a": 1})), DEFAULT_SOURCE, "t1").unwrap();
        let again = transform(&notification(json!({"a": 1})), DEFAULT_SOURCE, "t2").unwrap();
        let other = transform(&notification(json!({"a": 2})), DEFAULT_SOURCE, "t1").unwrap();

        assert_eq!(first.bridge_event_id, again.bridge_event_id);
        assert_ne!(first.bridge_event_id, other.bridge_event_id);
    }

    #[test]
    fn an_envelope_keeps_its_detail_type_and_time() {
        let envelope = json!({"detail-type": "purecloud:v2:interaction:update", "time": "2026-11-23T10:00:00Z",
                              "detail": {"interactionId": "i-1", "sequenceId": "1"}});

        let entry = transform(&envelope, "com.example.replay", "t").unwrap();

        assert_eq!(entry.detail_type, "purecloud:v2:interaction:update");
        assert_eq!(entry.time.as_deref(), Some("2026-11-23T10:00:00Z"));
        assert_eq!(entry.source, "com.example.replay");
    }

    #[test]
    fn two_different_tutorial_events_get_different_ids_and_a_republished_event_keeps_its_own() {
        let event = |sequence: &str| {
            json!({"detail-type": "purecloud:v2:interaction:update",
                   "detail": {"interactionId": "i-1", "sequenceId": sequence}})
        };
        let first = transform(&event("1"), DEFAULT_SOURCE, "t").unwrap();
        let second = transform(&event("2"), DEFAULT_SOURCE, "t").unwrap();
        let republished = json!({"detail-type": "x", "detail": serde_json::from_str::<Value>(&first.detail).unwrap()});

        let again = transform(&republished, DEFAULT_SOURCE, "later").unwrap();

        assert_ne!(first.bridge_event_id, second.bridge_event_id);
        assert_eq!(again.bridge_event_id, first.bridge_event_id);
    }

    #[test]
    fn the_detail_is_the_notification_with_timestamp_and_bridge_added_as_valid_json() {
        let empty = json!({"topicName": "t", "eventBody": {}});
        let mut other_bridge = notification(json!({}));
        other_bridge["bridge"] = json!("theirs");

        for input in [notification(json!({"a": 1})), empty, other_bridge] {
            let entry = transform(&input, DEFAULT_SOURCE, "t").unwrap();

            let detail: Value = serde_json::from_str(&entry.detail).unwrap();
            assert_eq!(detail["bridge"]["eventId"], entry.bridge_event_id);
            assert_eq!(detail["topicName"], input["topicName"]);
            assert_eq!(detail["eventBody"], input["eventBody"]);
            assert!(detail["timestamp"].is_string());
        }
    }

    #[test]
    fn a_lambda_failure_record_is_published_as_the_event_it_carries() {
        let event = json!({"detail-type": "purecloud:v2:interaction:update",
                           "detail": {"interactionId": "i-1", "sequenceId": "7"}});
        let record = json!({"version": "1.0", "requestContext": {"condition": "RetriesExhausted"},
                            "requestPayload": event, "responsePayload": {}});

        let from_record = transform(&record, DEFAULT_SOURCE, "t").unwrap();

        assert_eq!(from_record, transform(&event, DEFAULT_SOURCE, "t").unwrap());
    }

    #[test]
    fn a_rejects_line_is_published_as_the_event_it_carries() {
        let event = notification(json!({"a": 1}));
        let line = json!({"origin": "events.jsonl#3", "reason": "AccessDeniedException: no",
                          "bridgeEventId": null, "event": event});

        let from_line = transform(&line, DEFAULT_SOURCE, "t").unwrap();

        assert_eq!(from_line, transform(&event, DEFAULT_SOURCE, "t").unwrap());
    }

    #[test]
    fn an_empty_or_malformed_bridge_id_is_recomputed_and_a_well_formed_one_kept() {
        let event = |id: &str, interaction: &str| {
            json!({"detail-type": "purecloud:v2:interaction:update",
                   "detail": {"interactionId": interaction, "sequenceId": "1",
                              "bridge": {"eventId": id, "receivedAt": "2026-01-01T00:00:00Z"}}})
        };
        let kept = "abcdef0123456789abcdef0123456789";

        let ids: Vec<String> = [
            ("", "i-1"),
            ("", "i-2"),
            (&kept.to_uppercase(), "i-3"),
            (kept, "i-4"),
            ("+bcdef0123456789abcdef0123456789", "i-5"),
        ]
        .iter()
        .map(|(id, interaction)| {
            transform(&event(id, interaction), DEFAULT_SOURCE, "t")
                .unwrap()
                .bridge_event_id
        })
        .collect();
        let again = transform(&event("", "i-1"), DEFAULT_SOURCE, "later").unwrap();

        assert_eq!(ids[3], kept);
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), 5, "{ids:?}");
        assert!(ids.iter().all(|id| is_bridge_id(id)), "{ids:?}");
        assert_eq!(
            again.bridge_event_id, ids[0],
            "recomputed the same way on every run"
        );
        let detail: Value = serde_json::from_str(&again.detail).unwrap();
        assert_eq!(detail["bridge"]["eventId"], ids[0].as_str());
    }

    #[test]
    fn an_envelope_time_that_is_not_rfc3339_is_refused_and_an_offset_is_sent_in_utc() {
        let event = |time: Value| json!({"detail-type": "x", "time": time, "detail": {"interactionId": "i-1"}});

        let offset = transform(
            &event(json!("2026-11-23T12:00:00+02:00")),
            DEFAULT_SOURCE,
            "t",
        );
        let slashes = transform(&event(json!("2026/11/23 10:00")), DEFAULT_SOURCE, "t");
        let number = transform(&event(json!(1_795_428_125)), DEFAULT_SOURCE, "t");
        let none = transform(&event(Value::Null), DEFAULT_SOURCE, "t");

        assert_eq!(
            offset.unwrap().time.as_deref(),
            Some("2026-11-23T10:00:00Z")
        );
        assert_eq!(
            slashes.unwrap_err().to_string(),
            "time \"2026/11/23 10:00\" is not an RFC 3339 date-time such as \"2026-11-23T10:02:05Z\""
        );
        assert!(matches!(number, Err(TransformError::NotRfc3339(_))));
        assert_eq!(none.unwrap().time, None);
    }

    #[test]
    fn anything_else_is_refused_not_guessed() {
        assert_eq!(
            transform(&json!({"hello": "world"}), DEFAULT_SOURCE, "t"),
            Err(TransformError::UnknownShape)
        );
        assert_eq!(
            transform(
                &json!({"detail-type": "x", "detail": [1]}),
                DEFAULT_SOURCE,
                "t"
            ),
            Err(TransformError::NotAnObject("detail"))
        );
    }

    #[test]
    fn sources_of_aws_or_with_odd_characters_are_refused() {
        assert!(check_source(DEFAULT_SOURCE).is_ok());
        assert!(check_source("aws.partner/genesys.com").is_err());
        assert!(check_source("has space").is_err());
        assert!(check_source("").is_err());
    }

    #[test]
    fn only_id_segments_become_placeholders() {
        assert_eq!(
            topic_template("v2.routing.queues.c0ffee00-1111-4222-8333-444455556666.conversations"),
            "v2.routing.queues.{id}.conversations"
        );
        assert_eq!(topic_template("v2.users.presence"), "v2.users.presence");
    }
}
