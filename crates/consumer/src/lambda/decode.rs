//! Invocation payloads → events: an EventBridge event, an SQS batch, or a Step Functions item.

use gev_core::telemetry::propagation;
use opentelemetry::trace::SpanContext;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// What kind of payload an invocation carried; it decides the shape of the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadKind {
    /// One EventBridge event (a rule targeting the function).
    EventBridge,
    /// An SQS batch (`Records`); the response lists the failed message ids.
    Sqs,
    /// A Step Functions item in the tutorial's `{interactionId, details}` shape.
    StepFunctionsItem,
    /// A JSON array of events (direct invocations, tools).
    Array,
}

/// Why an SQS message is not an event; its text is the rejected outcome's reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Undecodable {
    /// No `body`.
    #[error("SQS message body is missing")]
    NoBody,
    /// A `body` that does not parse (serde's message: a position, never the content).
    #[error("SQS message body is not JSON: {0}")]
    NotJson(String),
}

/// One event of a payload.
#[derive(Debug, Clone)]
pub struct Item {
    /// The SQS message id, for `batchItemFailures`.
    pub(crate) message_id: Option<String>,
    /// The EventBridge event, or why the item is not one.
    pub event: Result<Value, Undecodable>,
    /// A trace context that came with the item (SQS `traceparent` or `AWSTraceHeader`).
    pub(crate) link: Option<SpanContext>,
}

impl Item {
    fn plain(event: Value) -> Self {
        Item {
            message_id: None,
            event: Ok(event),
            link: None,
        }
    }
}

/// Splits a payload into its events.
pub fn decode(payload: Value) -> (PayloadKind, Vec<Item>) {
    match payload {
        Value::Array(events) => (
            PayloadKind::Array,
            events.into_iter().map(Item::plain).collect(),
        ),
        Value::Object(object) if is_sqs_batch(&object) => {
            let records = match object.get("Records") {
                Some(Value::Array(records)) => records.iter().map(sqs_item).collect(),
                _ => Vec::new(),
            };
            (PayloadKind::Sqs, records)
        }
        Value::Object(object) if is_step_functions_item(&object) => (
            PayloadKind::StepFunctionsItem,
            vec![Item::plain(step_functions_event(object))],
        ),
        other => (PayloadKind::EventBridge, vec![Item::plain(other)]),
    }
}

fn is_sqs_batch(object: &Map<String, Value>) -> bool {
    match object.get("Records") {
        Some(Value::Array(records)) => records
            .iter()
            .all(|record| record.get("eventSource").and_then(Value::as_str) == Some("aws:sqs")),
        _ => false,
    }
}

/// The tutorial's InputTransformer shape: `{"interactionId": <$.detail.interactionId>, "details": <$.detail>}`.
fn is_step_functions_item(object: &Map<String, Value>) -> bool {
    object.contains_key("details")
        && object.contains_key("interactionId")
        && !object.contains_key("detail-type")
        && !object.contains_key("detailType")
}

/// Rebuilds the EventBridge event a tutorial-shaped Step Functions item came from.
fn step_functions_event(mut object: Map<String, Value>) -> Value {
    let mut detail = match object.remove("details") {
        Some(Value::Object(detail)) => detail,
        _ => Map::new(),
    };
    if let Some(id) = object.remove("interactionId") {
        detail.entry("interactionId").or_insert(id);
    }
    json!({
        "detail-type": gev_core::parse::SEED_DETAIL_TYPE,
        "source": "aws.states",
        "detail": detail,
    })
}

fn sqs_item(record: &Value) -> Item {
    let message_id = record
        .get("messageId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let event = match record.get("body").and_then(Value::as_str) {
        Some(body) => serde_json::from_str::<Value>(body)
            .map_err(|error| Undecodable::NotJson(error.to_string())),
        None => Err(Undecodable::NoBody),
    };
    Item {
        message_id,
        event,
        link: sqs_trace_context(record),
    }
}

/// The trace context of an SQS message: a W3C `traceparent` message attribute, else the
/// X-Ray `AWSTraceHeader` system attribute.
fn sqs_trace_context(record: &Value) -> Option<SpanContext> {
    let attributes: HashMap<String, String> = record
        .get("messageAttributes")
        .and_then(Value::as_object)
        .map(|attributes| {
            attributes
                .iter()
                .filter_map(|(name, attribute)| {
                    let value = attribute
                        .get("stringValue")
                        .or_else(|| attribute.get("StringValue"))
                        .and_then(Value::as_str)?;
                    Some((name.to_ascii_lowercase(), value.to_owned()))
                })
                .collect()
        })
        .unwrap_or_default();
    propagation::w3c_context(&attributes).or_else(|| {
        record
            .pointer("/attributes/AWSTraceHeader")
            .and_then(Value::as_str)
            .and_then(propagation::xray_context)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqs_record(id: &str, body: &str) -> Value {
        json!({
            "messageId": id,
            "receiptHandle": "rh",
            "body": body,
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:eu-west-1:1:q",
            "awsRegion": "eu-west-1"
        })
    }

    #[test]
    fn an_eventbridge_event_is_one_item() {
        let (kind, items) = decode(json!({"detail-type": "x", "detail": {}}));
        assert_eq!(kind, PayloadKind::EventBridge);
        assert_eq!(items.len(), 1);
    }

    #[test]
    fn an_sqs_batch_gives_one_item_per_record_with_its_message_id() {
        let (kind, items) = decode(json!({"Records": [
            sqs_record("m-1", r#"{"detail-type": "x"}"#),
            sqs_record("m-2", "not json"),
        ]}));
        assert_eq!(kind, PayloadKind::Sqs);
        assert_eq!(items[0].message_id.as_deref(), Some("m-1"));
        assert_eq!(items[0].event.as_ref().unwrap()["detail-type"], "x");
        assert!(matches!(
            items[1].event.as_ref().unwrap_err(),
            Undecodable::NotJson(_)
        ));
    }

    #[test]
    fn a_traceparent_message_attribute_becomes_the_link() {
        let mut record = sqs_record("m-1", "{}");
        record["messageAttributes"] = json!({"traceparent": {
            "stringValue": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "dataType": "String"
        }});
        let (_, items) = decode(json!({"Records": [record]}));
        let link = items[0].link.as_ref().unwrap();
        assert_eq!(
            link.trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
    }

    #[test]
    fn an_xray_trace_header_attribute_becomes_the_link() {
        let mut record = sqs_record("m-1", "{}");
        record["attributes"]["AWSTraceHeader"] =
            json!("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1");
        let (_, items) = decode(json!({"Records": [record]}));
        assert!(items[0].link.is_some());
    }

    #[test]
    fn the_tutorial_step_functions_item_is_rebuilt_into_an_event() {
        let (kind, items) = decode(json!({
            "interactionId": "i-1",
            "details": {"sequenceId": "7", "interactionType": "voice"}
        }));
        assert_eq!(kind, PayloadKind::StepFunctionsItem);
        let event = items[0].event.as_ref().unwrap();
        assert_eq!(event["detail-type"], "purecloud:v2:interaction:update");
        assert_eq!(event["detail"]["interactionId"], "i-1");
        assert_eq!(event["detail"]["sequenceId"], "7");
    }

    #[test]
    fn an_array_is_a_list_of_events() {
        let (kind, items) = decode(json!([{"a": 1}, {"b": 2}]));
        assert_eq!(kind, PayloadKind::Array);
        assert_eq!(items.len(), 2);
    }

    #[test]
    fn records_that_are_not_from_sqs_are_not_an_sqs_batch() {
        let (kind, _) = decode(json!({"Records": [{"eventSource": "aws:s3"}]}));
        assert_eq!(kind, PayloadKind::EventBridge);
    }
}
