//! The Lambda adapter: decoding invocation payloads, the invocation span and flush, the response or error, runtime wiring.

use crate::consumer::{Consumer, Invocation, Report};
use crate::dedup::OwnerToken;
use aws_lambda_events::event::sqs::SqsBatchResponse;
use futures_util::stream::{self, StreamExt};
use gev_core::deadline::{Deadline, now_epoch_ms};
use gev_core::domain::Outcome;
use gev_core::parse::ordering_key;
use gev_core::telemetry::{self, Telemetry, emf, propagation};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tracing::{Instrument, info_span};

mod decode;

pub use decode::{Item, PayloadKind, decode};

/// What the handler made of one invocation.
#[derive(Debug, Clone)]
pub struct Handled {
    /// What the payload was (one event, an SQS batch, ...).
    pub(crate) kind: PayloadKind,
    /// One report per event, in payload order.
    pub reports: Vec<Report>,
    /// The SQS message id of each report's event (SQS batches only).
    pub(crate) message_ids: Vec<Option<String>>,
}

/// One or more events of the invocation failed with a retryable error: the platform must
/// deliver the payload again (or route it to the on-failure destination).
#[derive(Debug, thiserror::Error)]
#[error("{} event(s) failed and must be delivered again: {}", failed.len(), describe(failed))]
pub struct HandlerError {
    /// The reports of the events that failed.
    pub(crate) failed: Vec<Report>,
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
            error_type: "EventFailed".into(),
            error_message: error.to_string(),
        }
    }
}

impl Handled {
    /// True when some event must be delivered again.
    pub fn has_failures(&self) -> bool {
        self.reports
            .iter()
            .any(|report| !report.outcome.is_terminal())
    }

    /// The Lambda response. For an SQS batch: `{"batchItemFailures": [...]}` naming exactly the
    /// messages to deliver again (never an error, so the rest are deleted). Otherwise the event's
    /// report (Lambda destinations receive it), an array of reports, or an error when an event
    /// must be delivered again.
    pub fn into_response(self) -> Result<Value, HandlerError> {
        if self.kind == PayloadKind::Sqs {
            let mut response = SqsBatchResponse::default();
            response.set_failures(
                self.reports
                    .iter()
                    .zip(&self.message_ids)
                    .filter(|(report, _)| !report.outcome.is_terminal())
                    .filter_map(|(_, id)| id.clone()),
            );
            return Ok(serde_json::to_value(response).unwrap_or(Value::Null));
        }
        if self.has_failures() {
            let failed = self
                .reports
                .into_iter()
                .filter(|report| !report.outcome.is_terminal())
                .collect();
            return Err(HandlerError { failed });
        }
        let mut reports: Vec<Value> = self
            .reports
            .iter()
            .map(|report| serde_json::to_value(report).unwrap_or(Value::Null))
            .collect();
        Ok(if self.kind == PayloadKind::Array {
            Value::Array(reports)
        } else {
            reports.pop().unwrap_or(Value::Null)
        })
    }
}

/// The handler the Lambda runs, and `genesys-eventbridge invoke` with it. Events of one
/// interaction are processed in payload order; different interactions concurrently, up to the
/// consumer's `batch_concurrency`. Once an event of an interaction fails, its later events in
/// the payload are deferred (reported failed, unprocessed), so a redelivery keeps their order.
pub async fn handle(consumer: &Consumer, payload: Value, invocation: &Invocation) -> Handled {
    let (kind, items) = info_span!("decode").in_scope(|| decode(payload));
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut group_of: HashMap<String, usize> = HashMap::new();
    for (index, item) in items.iter().enumerate() {
        match item.event.as_ref().ok().and_then(ordering_key) {
            Some(key) => match group_of.get(&key) {
                Some(&group) => groups[group].push(index),
                None => {
                    group_of.insert(key, groups.len());
                    groups.push(vec![index]);
                }
            },
            None => groups.push(vec![index]),
        }
    }
    let concurrency = consumer.settings().batch_concurrency.max(1);
    let items = &items;
    // Whatever happens, the response goes out: an event still running then is reported failed
    // (its lease, held to the deadline plus a margin, keeps others out until it ends).
    let cutoff = invocation.deadline.earlier_by(RESPONSE_TIME);
    let mut finished: Vec<(usize, Report)> = stream::iter(groups)
        .map(|group| async move {
            let mut reports = Vec::with_capacity(group.len());
            let mut failed = false;
            for index in group {
                let item = &items[index];
                let report = match (&item.event, failed) {
                    (Ok(event), false) => {
                        let processing = consumer.process_linked(event, invocation, item.link.clone());
                        match tokio::time::timeout_at(cutoff.instant(), processing).await {
                            Ok(report) => report,
                            Err(_) => Report::unprocessed(event, Outcome::Failed {
                                reason: "the invocation's deadline came before the event finished".into(),
                            }),
                        }
                    }
                    (Ok(event), true) => Report::unprocessed(
                        event,
                        Outcome::Failed {
                            reason: "deferred: an earlier event of this interaction in the batch failed"
                                .into(),
                        },
                    ),
                    (Err(problem), _) => {
                        tracing::warn!(message_id = item.message_id.as_deref(), %problem, "rejected an undecodable item");
                        let mut report = Report::unprocessed(
                            &Value::Null,
                            Outcome::Rejected { reason: problem.to_string() },
                        );
                        report.event_id = item.message_id.clone();
                        report
                    }
                };
                failed |= !report.outcome.is_terminal();
                reports.push((index, report));
            }
            reports
        })
        .buffer_unordered(concurrency)
        .flat_map(stream::iter)
        .collect()
        .await;
    finished.sort_by_key(|(index, _)| *index);
    Handled {
        kind,
        reports: finished.into_iter().map(|(_, report)| report).collect(),
        message_ids: items.iter().map(|item| item.message_id.clone()).collect(),
    }
}

/// Time kept at the end of an invocation for the span flush and the response.
const RESPONSE_TIME: Duration = Duration::from_millis(400);
/// The longest wait for the span flush: a slow collector must not eat the invocation.
const FLUSH_BUDGET: Duration = Duration::from_millis(300);

/// What the runtime tells about one invocation, for its span.
#[derive(Debug, Clone)]
pub struct InvocationMeta {
    /// The Lambda request id.
    pub request_id: String,
    /// The function's name.
    pub function_name: String,
    /// The X-Ray trace header Lambda sent (`Root=...;Parent=...;Sampled=...`).
    pub xray_trace_header: Option<String>,
}

/// True until the first invocation of this process has started.
static COLD: AtomicBool = AtomicBool::new(true);

/// The invocation span, after the OpenTelemetry FaaS conventions. It is a root: the runtime's
/// own spans are not exported, and an incoming X-Ray context becomes its parent or a link.
pub(crate) fn invocation_span(meta: &InvocationMeta, telemetry: &Telemetry) -> tracing::Span {
    static REGION: OnceLock<String> = OnceLock::new();
    let region = REGION.get_or_init(|| std::env::var("AWS_REGION").unwrap_or_default());
    let span = info_span!(
        parent: None,
        "invocation",
        otel.name = %meta.function_name,
        otel.kind = "consumer",
        faas.trigger = "pubsub",
        faas.name = %meta.function_name,
        faas.invocation_id = %meta.request_id,
        faas.coldstart = COLD.swap(false, Ordering::Relaxed),
        cloud.provider = "aws",
        cloud.platform = "aws_lambda",
        cloud.region = %region,
    );
    if let Some(incoming) = meta
        .xray_trace_header
        .as_deref()
        .and_then(propagation::xray_context)
    {
        propagation::connect(&span, incoming, telemetry.xray_context());
    }
    span
}

/// Runs one invocation inside its span, then flushes the spans before returning, so they leave
/// before Lambda freezes the environment.
pub async fn invoke(
    consumer: &Consumer,
    payload: Value,
    invocation: &Invocation,
    meta: &InvocationMeta,
    telemetry: &Telemetry,
) -> Handled {
    let span = invocation_span(meta, telemetry);
    let handled = handle(consumer, payload, invocation)
        .instrument(span.clone())
        .await;
    if handled.has_failures() {
        telemetry::mark_error(&span, "an event must be delivered again");
    }
    drop(span);
    let budget = invocation
        .deadline
        .remaining()
        .saturating_sub(Duration::from_millis(100))
        .min(FLUSH_BUDGET);
    telemetry.flush(budget).await;
    handled
}

/// Runs the Lambda runtime loop with `consumer` until the environment shuts down. Each event
/// also writes one CloudWatch Embedded Metric Format line to stdout.
pub async fn run(consumer: Consumer, telemetry: Telemetry) -> Result<(), lambda_runtime::Error> {
    let consumer = &consumer;
    let telemetry = &telemetry;
    let namespace =
        std::env::var("METRICS_NAMESPACE").unwrap_or_else(|_| emf::DEFAULT_NAMESPACE.to_owned());
    let namespace = &namespace;
    let function_name =
        std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "disposition-consumer".into());
    let function_name = &function_name;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let invocation = Invocation {
            owner: OwnerToken::new(event.context.request_id.clone()),
            deadline: Deadline::from_lambda_header_ms(event.context.deadline),
        };
        let meta = InvocationMeta {
            request_id: event.context.request_id.clone(),
            function_name: function_name.clone(),
            xray_trace_header: event.context.xray_trace_id.clone(),
        };
        let handled = invoke(consumer, event.payload, &invocation, &meta, telemetry).await;
        for report in &handled.reports {
            let steps = report.steps.named();
            let event = emf::EmfEvent {
                outcome: &report.outcome,
                latency: report.latency,
                steps: &steps,
                event_id: report.event_id.as_deref(),
                interaction_id: report.interaction_id.as_deref(),
            };
            let trace_id = report.trace_id.as_deref();
            println!(
                "{}",
                emf::emf_line(&event, namespace, now_epoch_ms(), trace_id)
            );
        }
        handled.into_response()
    }))
    .await
}
