//! The Lambda adapter: decoding invocation payloads, turning reports into the response or an error, runtime wiring.

use crate::deadline::Deadline;
use crate::dedup::OwnerToken;
use crate::pipeline::{Consumer, Invocation, Report};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;
use tracing::{Instrument, info_span};

/// The events one invocation payload carries.
pub fn decode(payload: Value) -> Vec<Value> {
    // An EventBridge rule targeting the function directly delivers one event per invocation.
    vec![payload]
}

/// What the handler made of one invocation.
#[derive(Debug, Clone)]
pub struct Handled {
    /// One report per event, in payload order.
    pub reports: Vec<Report>,
}

/// One or more events of the invocation failed with a retryable error: the platform must
/// deliver the payload again (or route it to the on-failure destination).
#[derive(Debug, thiserror::Error)]
#[error("{} event(s) failed and must be delivered again: {}", failed.len(), describe(failed))]
pub struct HandlerError {
    pub failed: Vec<Report>,
}

fn describe(failed: &[Report]) -> String {
    failed
        .iter()
        .map(|report| {
            format!(
                "{}: {}",
                report.event_id.as_deref().unwrap_or("(no event id)"),
                report.outcome.reason().unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Self {
        Diagnostic {
            error_type: "genesys_eventbridge::EventFailed".into(),
            error_message: error.to_string(),
        }
    }
}

impl Handled {
    /// The Lambda response: the report of the event (Lambda destinations receive it), or an
    /// error when an event must be delivered again.
    pub fn into_response(self) -> Result<Value, HandlerError> {
        let failed: Vec<Report> = self
            .reports
            .iter()
            .filter(|report| !report.outcome.is_terminal())
            .cloned()
            .collect();
        if !failed.is_empty() {
            return Err(HandlerError { failed });
        }
        let mut reports: Vec<Value> = self
            .reports
            .iter()
            .map(|report| serde_json::to_value(report).unwrap_or(Value::Null))
            .collect();
        Ok(if reports.len() == 1 {
            reports.remove(0)
        } else {
            Value::Array(reports)
        })
    }
}

/// The handler the Lambda runs, and `genesys-eventbridge invoke` with it.
pub async fn handle(consumer: &Consumer, payload: Value, invocation: &Invocation) -> Handled {
    let events = info_span!("decode").in_scope(|| decode(payload));
    let mut reports = Vec::with_capacity(events.len());
    for event in &events {
        reports.push(consumer.process(event, invocation).await);
    }
    Handled { reports }
}

/// Runs the Lambda runtime loop with `consumer` until the environment shuts down.
pub async fn run(consumer: Consumer) -> Result<(), lambda_runtime::Error> {
    let consumer = &consumer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let invocation = Invocation {
            owner: OwnerToken::new(event.context.request_id.clone()),
            deadline: Deadline::from_lambda_header_ms(event.context.deadline),
        };
        tracing::debug!(
            deadline_ms = event.context.deadline,
            remaining_ms = invocation.deadline.remaining().as_millis() as u64,
            "invocation received"
        );
        let span = info_span!("invocation", faas.invocation_id = %event.context.request_id);
        handle(consumer, event.payload, &invocation)
            .instrument(span)
            .await
            .into_response()
    }))
    .await
}
