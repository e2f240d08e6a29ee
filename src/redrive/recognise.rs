//! What a dead-letter message holds, as a pure function of its body: an EventBridge event (a rule's or a queue's dead letter), a Lambda on-failure record (its request payload an event or an SQS batch of them), or a Step Functions error (the item with its `failure`); anything else is named as not understood, without echoing its content.

use serde_json::{Map, Value};

/// The shapes of dead letter redrive knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An EventBridge event, as a rule's dead-letter queue receives it (and as the ingest
    /// queue's redrive policy moves it).
    EventBridgeEvent,
    /// A Lambda on-failure destination record whose `requestPayload` is an EventBridge event
    /// (the consumer invoked by the rule).
    LambdaFailure,
    /// A Lambda on-failure record whose `requestPayload` is an SQS batch (`Records[].body`, each
    /// an EventBridge event).
    LambdaFailureSqsBatch,
    /// A Step Functions item sent to the dead-letter queue by the state machine's `Catch`: the
    /// event with a `failure` (`Error`, `Cause`) beside its fields.
    StepFunctionsError,
}

impl Kind {
    /// The name printed for it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::EventBridgeEvent => "eventbridge-event",
            Kind::LambdaFailure => "lambda-failure-record",
            Kind::LambdaFailureSqsBatch => "lambda-failure-record/sqs-batch",
            Kind::StepFunctionsError => "step-functions-error",
        }
    }
}

/// One event a dead letter carries, as it was: what is put back onto the bus.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadEvent {
    /// The event's `id` (EventBridge's), when it has one.
    pub id: Option<String>,
    /// `source`.
    pub source: String,
    /// `detail-type`.
    pub detail_type: String,
    /// `detail`, unchanged (the consumer's dedup fingerprint is computed over it).
    pub detail: Map<String, Value>,
    /// `time` as RFC 3339 in UTC, when it has one.
    pub time: Option<String>,
}

/// A dead letter understood: its shape, its events (at least one), and what it died of when
/// it says so.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Recognised {
    /// The shape.
    pub kind: Kind,
    /// The events, in order.
    pub events: Vec<DeadEvent>,
    /// The failure it records (a Lambda error type, a Step Functions `Error`), if any.
    pub failure: Option<String>,
}

/// Why a dead letter is not understood. None of these echo the message's values: a body may
/// hold personal data, so only its field names are shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unrecognised {
    /// The body does not parse.
    #[error("the body is not JSON ({0})")]
    NotJson(String),
    /// The body is JSON but not an object.
    #[error("the body is {0}, not a JSON object")]
    NotAnObject(&'static str),
    /// An object of no known shape.
    #[error(
        "neither an EventBridge event (detail-type, detail), a Lambda failure record (requestContext, requestPayload) nor a Step Functions error (failure); its fields: {0}"
    )]
    UnknownShape(String),
    /// A Lambda failure record whose payload is neither an event nor an SQS batch.
    #[error(
        "a Lambda failure record whose requestPayload is neither an EventBridge event nor an SQS batch; its fields: {0}"
    )]
    PayloadNotAnEvent(String),
    /// A Lambda failure record of an SQS batch without records.
    #[error("a Lambda failure record of an SQS batch with no records")]
    EmptyBatch,
    /// One record of an SQS batch is not an event.
    #[error("record {index} of the SQS batch: {problem}")]
    BatchRecord {
        /// Its index in `Records`.
        index: usize,
        /// What is wrong with it.
        problem: BadBatchRecord,
    },
    /// A Step Functions error whose item is not an EventBridge event.
    #[error(
        "a Step Functions error whose item is not an EventBridge event (a tutorial {{interactionId, details}} item goes back as a new execution, not onto a bus)"
    )]
    StepFunctionsItemNotAnEvent,
    /// An event field of the wrong kind.
    #[error("the event's {field} {problem}")]
    BadField {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
}

/// Why one record of an SQS batch is not an EventBridge event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadBatchRecord {
    /// No `body`.
    #[error("it has no body")]
    NoBody,
    /// A `body` that is not a string.
    #[error("its body is {0}")]
    BodyNotAString(&'static str),
    /// A `body` that does not parse.
    #[error("its body is not JSON ({0})")]
    BodyNotJson(String),
    /// A `body` that is JSON but not an object.
    #[error("its body is {0}, not an EventBridge event")]
    BodyNotAnObject(&'static str),
    /// An object that is not an event.
    #[error("its body is not an EventBridge event; its fields: {0}")]
    BodyNotAnEvent(String),
    /// An event with a bad field.
    #[error(transparent)]
    Event(Box<Unrecognised>),
}

/// What the dead letter `body` holds.
pub(super) fn recognise(body: &str) -> Result<Recognised, Unrecognised> {
    let value: Value =
        serde_json::from_str(body).map_err(|error| Unrecognised::NotJson(error.to_string()))?;
    let Value::Object(object) = &value else {
        return Err(Unrecognised::NotAnObject(gev_core::parse::kind(&value)));
    };
    if object.contains_key("requestContext") && object.contains_key("requestPayload") {
        return lambda_failure(object);
    }
    if let Some(failure) = object.get("failure").and_then(Value::as_object)
        && failure.contains_key("Error")
    {
        if !is_event(object) {
            return Err(Unrecognised::StepFunctionsItemNotAnEvent);
        }
        return Ok(Recognised {
            kind: Kind::StepFunctionsError,
            events: vec![dead_event(object)?],
            failure: failure
                .get("Error")
                .and_then(Value::as_str)
                .map(str::to_owned),
        });
    }
    if is_event(object) {
        return Ok(Recognised {
            kind: Kind::EventBridgeEvent,
            events: vec![dead_event(object)?],
            failure: None,
        });
    }
    Err(Unrecognised::UnknownShape(field_names(object)))
}

/// A Lambda on-failure destination record (`requestContext`, `requestPayload`,
/// `responseContext`, `responsePayload`).
fn lambda_failure(record: &Map<String, Value>) -> Result<Recognised, Unrecognised> {
    let failure = nested_str(record, "responsePayload", "errorType")
        .or_else(|| nested_str(record, "requestContext", "condition"));
    let payload = &record["requestPayload"];
    let Value::Object(payload) = payload else {
        return Err(Unrecognised::PayloadNotAnEvent(
            gev_core::parse::kind(payload).to_owned(),
        ));
    };
    if is_event(payload) {
        return Ok(Recognised {
            kind: Kind::LambdaFailure,
            events: vec![dead_event(payload)?],
            failure,
        });
    }
    let Some(records) = payload.get("Records").and_then(Value::as_array) else {
        return Err(Unrecognised::PayloadNotAnEvent(field_names(payload)));
    };
    if records.is_empty() {
        return Err(Unrecognised::EmptyBatch);
    }
    let events = records
        .iter()
        .enumerate()
        .map(|(index, record)| {
            batch_event(record).map_err(|problem| Unrecognised::BatchRecord { index, problem })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Recognised {
        kind: Kind::LambdaFailureSqsBatch,
        events,
        failure,
    })
}

/// The event in one SQS record's `body` (a string of JSON, as SQS delivers it).
fn batch_event(record: &Value) -> Result<DeadEvent, BadBatchRecord> {
    let body = match record.get("body") {
        Some(Value::String(text)) => serde_json::from_str::<Value>(text)
            .map_err(|error| BadBatchRecord::BodyNotJson(error.to_string()))?,
        Some(other) => return Err(BadBatchRecord::BodyNotAString(gev_core::parse::kind(other))),
        None => return Err(BadBatchRecord::NoBody),
    };
    match &body {
        Value::Object(event) if is_event(event) => {
            dead_event(event).map_err(|error| BadBatchRecord::Event(Box::new(error)))
        }
        Value::Object(other) => Err(BadBatchRecord::BodyNotAnEvent(field_names(other))),
        other => Err(BadBatchRecord::BodyNotAnObject(gev_core::parse::kind(
            other,
        ))),
    }
}

/// True when `object` has the two fields every EventBridge event a rule delivers has.
fn is_event(object: &Map<String, Value>) -> bool {
    object.contains_key("detail-type") && object.contains_key("detail")
}

/// The event's fields, checked as PutEvents needs them.
fn dead_event(event: &Map<String, Value>) -> Result<DeadEvent, Unrecognised> {
    let text = |field: &'static str| match event.get(field) {
        Some(Value::String(text)) if !text.is_empty() => Ok(text.clone()),
        Some(Value::String(_)) => Err(Unrecognised::BadField {
            field,
            problem: "is empty".to_owned(),
        }),
        Some(other) => Err(Unrecognised::BadField {
            field,
            problem: format!("is {}, not a string", gev_core::parse::kind(other)),
        }),
        None => Err(Unrecognised::BadField {
            field,
            problem: "is missing".to_owned(),
        }),
    };
    let detail = match &event["detail"] {
        Value::Object(detail) => detail.clone(),
        other => {
            return Err(Unrecognised::BadField {
                field: "detail",
                problem: format!("is {}, not an object", gev_core::parse::kind(other)),
            });
        }
    };
    let time = match event.get("time") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(
            chrono::DateTime::parse_from_rfc3339(text)
                .map_err(|_| Unrecognised::BadField {
                    field: "time",
                    problem: "is not an RFC 3339 date-time".to_owned(),
                })?
                .with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        ),
        Some(other) => {
            return Err(Unrecognised::BadField {
                field: "time",
                problem: format!("is {}, not a string", gev_core::parse::kind(other)),
            });
        }
    };
    Ok(DeadEvent {
        id: event.get("id").and_then(Value::as_str).map(str::to_owned),
        source: text("source")?,
        detail_type: text("detail-type")?,
        detail,
        time,
    })
}

/// The object's field names, sorted, for a reason that must not show values.
fn field_names(object: &Map<String, Value>) -> String {
    let mut names: Vec<&str> = object.keys().map(String::as_str).collect();
    names.sort_unstable();
    if names.is_empty() {
        return "none".to_owned();
    }
    names.join(", ")
}

/// `object[outer][inner]` when it is a string.
fn nested_str(object: &Map<String, Value>, outer: &str, inner: &str) -> Option<String> {
    object.get(outer)?.get(inner)?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(n: u32) -> Value {
        json!({
            "version": "0",
            "id": format!("e-{n}"),
            "detail-type": "v2.detail.events.conversation.{id}.user.end",
            "source": "aws.partner/genesys.com/cloud/org-1/genesys-events",
            "account": "123456789012",
            "time": "2026-11-23T12:20:00+02:00",
            "region": "eu-west-1",
            "resources": [],
            "detail": {"topicName": "v2.detail.events.conversation.c-1.user.end",
                       "eventBody": {"conversationId": "c-1", "participantId": "p-1", "eventTime": n}}
        })
    }

    #[test]
    fn an_eventbridge_event_is_one_event_kept_as_it_was_with_its_time_in_utc() {
        let recognised = recognise(&event(1).to_string()).unwrap();

        assert_eq!(recognised.kind, Kind::EventBridgeEvent);
        let [only] = recognised.events.as_slice() else {
            panic!("one event: {recognised:?}")
        };
        assert_eq!(only.id.as_deref(), Some("e-1"));
        assert_eq!(
            only.source,
            "aws.partner/genesys.com/cloud/org-1/genesys-events"
        );
        assert_eq!(
            only.detail_type,
            "v2.detail.events.conversation.{id}.user.end"
        );
        assert_eq!(Value::Object(only.detail.clone()), event(1)["detail"]);
        assert_eq!(only.time.as_deref(), Some("2026-11-23T10:20:00Z"));
    }

    #[test]
    fn a_lambda_failure_record_gives_the_event_of_its_request_payload_and_its_error_type() {
        let record = json!({
            "version": "1.0", "timestamp": "2026-11-23T10:21:00.000Z",
            "requestContext": {"requestId": "r-1", "condition": "RetriesExhausted", "approximateInvokeCount": 3},
            "requestPayload": event(2),
            "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
            "responsePayload": {"errorType": "EventFailed", "errorMessage": "Genesys answered 503"}
        });

        let recognised = recognise(&record.to_string()).unwrap();

        assert_eq!(recognised.kind, Kind::LambdaFailure);
        assert_eq!(recognised.events.len(), 1);
        assert_eq!(recognised.events[0].id.as_deref(), Some("e-2"));
        assert_eq!(recognised.failure.as_deref(), Some("EventFailed"));
    }

    #[test]
    fn a_lambda_failure_record_of_an_sqs_batch_gives_every_record_s_event_in_order() {
        let records: Vec<Value> = (3..6)
            .map(|n| json!({"messageId": format!("m-{n}"), "body": event(n).to_string(), "eventSource": "aws:sqs"}))
            .collect();
        let record = json!({
            "requestContext": {"condition": "RetriesExhausted"},
            "requestPayload": {"Records": records},
            "responseContext": {"statusCode": 200},
            "responsePayload": null
        });

        let recognised = recognise(&record.to_string()).unwrap();

        assert_eq!(recognised.kind, Kind::LambdaFailureSqsBatch);
        let ids: Vec<_> = recognised
            .events
            .iter()
            .map(|e| e.id.clone().unwrap())
            .collect();
        assert_eq!(ids, ["e-3", "e-4", "e-5"]);
        assert_eq!(recognised.failure.as_deref(), Some("RetriesExhausted"));
    }

    #[test]
    fn a_step_functions_error_gives_its_item_without_the_failure() {
        let mut item = event(7);
        item["failure"] = json!({"Error": "EventFailed", "Cause": "{\"errorMessage\":\"503\"}"});

        let recognised = recognise(&item.to_string()).unwrap();

        assert_eq!(recognised.kind, Kind::StepFunctionsError);
        assert_eq!(recognised.failure.as_deref(), Some("EventFailed"));
        assert_eq!(
            Value::Object(recognised.events[0].detail.clone()),
            event(7)["detail"]
        );
    }

    #[test]
    fn a_step_functions_error_of_a_tutorial_item_is_not_put_on_a_bus() {
        let item =
            json!({"interactionId": "i-1", "details": {}, "failure": {"Error": "EventFailed"}});

        assert_eq!(
            recognise(&item.to_string()),
            Err(Unrecognised::StepFunctionsItemNotAnEvent)
        );
    }

    #[test]
    fn what_is_not_understood_is_named_by_its_field_names_never_its_values() {
        let secretive = json!({"password": "hunter2", "note": "call me"}).to_string();

        let reason = recognise(&secretive).unwrap_err().to_string();

        assert!(reason.contains("its fields: note, password"), "{reason}");
        assert!(!reason.contains("hunter2") && !reason.contains("call me"));
    }

    #[test]
    fn bodies_that_are_not_objects_or_not_json_are_not_understood() {
        assert!(matches!(recognise("{oops"), Err(Unrecognised::NotJson(_))));
        assert_eq!(
            recognise("[1, 2]"),
            Err(Unrecognised::NotAnObject("an array"))
        );
        assert_eq!(
            recognise("\"text\""),
            Err(Unrecognised::NotAnObject("a string"))
        );
    }

    #[test]
    fn an_event_with_a_detail_that_is_not_an_object_or_a_bad_time_is_not_understood() {
        let mut text_detail = event(8);
        text_detail["detail"] = json!("{}");
        let mut bad_time = event(9);
        bad_time["time"] = json!("23/11/2026");
        let mut no_source = event(10);
        no_source.as_object_mut().unwrap().remove("source");

        for (body, field) in [
            (text_detail, "detail"),
            (bad_time, "time"),
            (no_source, "source"),
        ] {
            match recognise(&body.to_string()) {
                Err(Unrecognised::BadField { field: named, .. }) => assert_eq!(named, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn one_bad_record_makes_the_whole_batch_not_understood_naming_it() {
        let record = json!({
            "requestContext": {}, "responsePayload": null,
            "requestPayload": {"Records": [
                {"body": event(11).to_string()}, {"body": "not json"}
            ]}
        });

        match recognise(&record.to_string()) {
            Err(Unrecognised::BatchRecord { index, problem }) => {
                assert_eq!(index, 1);
                assert!(
                    matches!(problem, BadBatchRecord::BodyNotJson(_)),
                    "{problem}"
                );
            }
            other => panic!("{other:?}"),
        }
        let empty = json!({"requestContext": {}, "requestPayload": {"Records": []}});
        assert_eq!(recognise(&empty.to_string()), Err(Unrecognised::EmptyBatch));
    }
}
