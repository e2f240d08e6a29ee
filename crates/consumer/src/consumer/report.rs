//! What happened to one event, as reported: the outcome, the ids it carried, the step timings.

use gev_core::domain::Outcome;
use gev_core::parse::event_id;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::Value;
use std::time::Duration;

/// How long each step of one event took; `None` when the step did not run.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct StepTimings {
    /// Claiming the target's lease (with any wait for it).
    pub(crate) claim: Option<Duration>,
    /// Fetching the interaction or conversation.
    pub(crate) fetch: Option<Duration>,
    /// Applying the business rules.
    pub(crate) decide: Option<Duration>,
    /// Writing the disposition or wrap-up.
    pub(crate) apply: Option<Duration>,
    /// Completing or releasing the dedup claim.
    pub(crate) complete: Option<Duration>,
}

impl StepTimings {
    /// The timings under their metric names.
    pub(crate) fn named(&self) -> [(&'static str, Option<Duration>); 5] {
        [
            ("ClaimMs", self.claim),
            ("FetchMs", self.fetch),
            ("DecideMs", self.decide),
            ("ApplyMs", self.apply),
            ("CompleteMs", self.complete),
        ]
    }
}

/// What happened to one event: the `invoke` output line and the Lambda's response.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The EventBridge event id (or the SQS message id of an undecodable message).
    pub(crate) event_id: Option<String>,
    /// What happened.
    pub outcome: Outcome,
    /// The interaction, or the conversation of a native event.
    pub interaction_id: Option<String>,
    /// The sequence id, or the native event's time.
    pub sequence_id: Option<String>,
    /// From the start of processing to the outcome.
    pub latency: Duration,
    /// How long each step took.
    pub(crate) steps: StepTimings,
    /// The OpenTelemetry trace id of the event's span, when tracing is on.
    pub trace_id: Option<String>,
    /// The wrap-up policy's rule that decided (`rules[2]`, `default`), when one did.
    pub rule: Option<String>,
    /// The wrap-up code that rule applies (or would apply, or skipped none).
    pub code: Option<String>,
}

impl Report {
    /// The report of an event that was not processed (undecodable, or deferred to keep order).
    pub(crate) fn unprocessed(event: &Value, outcome: Outcome) -> Self {
        let (interaction_id, sequence_id) = raw_ids(event);
        Report {
            event_id: event_id(event).map(str::to_owned),
            outcome,
            interaction_id,
            sequence_id,
            latency: Duration::ZERO,
            steps: StepTimings::default(),
            trace_id: None,
            rule: None,
            code: None,
        }
    }
}

impl Serialize for Report {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(6))?;
        map.serialize_entry("eventId", &self.event_id)?;
        map.serialize_entry("outcome", self.outcome.name())?;
        map.serialize_entry("reason", &self.outcome.reason())?;
        map.serialize_entry("interactionId", &self.interaction_id)?;
        map.serialize_entry("sequenceId", &self.sequence_id)?;
        let latency_ms = (self.latency.as_secs_f64() * 1_000_000.0).round() / 1_000.0;
        map.serialize_entry("latencyMs", &latency_ms)?;
        if let Some(rule) = &self.rule {
            map.serialize_entry("rule", rule)?;
        }
        if let Some(code) = &self.code {
            map.serialize_entry("code", code)?;
        }
        map.end()
    }
}

/// The ids a rejected or ignored event carries, as text, for the report only.
pub(super) fn raw_ids(event: &Value) -> (Option<String>, Option<String>) {
    let text = |pointer: &str| {
        event.pointer(pointer).and_then(|value| match value {
            Value::String(text) if !text.is_empty() => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        })
    };
    (
        text("/detail/interactionId").or_else(|| text("/detail/eventBody/conversationId")),
        text("/detail/sequenceId").or_else(|| text("/detail/eventBody/eventTime")),
    )
}

pub(super) fn log_report(report: &Report) {
    let reason = report.outcome.reason();
    let latency_ms = report.latency.as_secs_f64() * 1_000.0;
    if report.outcome.is_terminal() {
        tracing::info!(
            outcome = report.outcome.name(),
            reason,
            latency_ms,
            "event processed"
        );
    } else {
        tracing::warn!(
            outcome = report.outcome.name(),
            reason,
            latency_ms,
            "event failed; it must be delivered again"
        );
    }
}
