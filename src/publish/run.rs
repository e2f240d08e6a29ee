//! One publish run: events in, each transformed, checked, deduplicated within the run, sent, and reported; one audit message per request.

use super::batch::check_entry;
use super::send::{EventSink, Published, RequestReport, SendPolicy, send_all};
use super::transform::{Entry, transform};
use super::window::DedupWindow;
use crate::notify::ChangeNotifier;
use serde::Serialize;
use serde_json::{Value, json};

/// What became of one input event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// On the bus.
    Published,
    /// The same bridge id was already taken earlier in this run; not sent again.
    Duplicate,
    /// Invalid, or refused by the bus for good; never (again) sent.
    Rejected,
    /// Still failing after the last attempt.
    Failed,
    /// `--dry-run`: it would be sent.
    Valid,
}

/// The output line of one input event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventReport {
    /// `detail.bridge.eventId`, when the event could be transformed.
    pub bridge_event_id: Option<String>,
    /// What became of it.
    pub outcome: Outcome,
    /// Why it was not published (a limit, an error code, the first copy).
    pub reason: Option<String>,
    /// The id EventBridge gave it.
    pub event_bridge_id: Option<String>,
    /// The entry's `DetailType`.
    pub detail_type: Option<String>,
}

/// What a run does besides sending.
#[derive(Debug, Clone)]
pub struct PublishSettings {
    /// `Source` of every entry.
    pub source: String,
    /// The entry (and request) byte limit.
    pub max_entry_bytes: usize,
    /// Retries and concurrency.
    pub policy: SendPolicy,
    /// The bus, as named in audit messages.
    pub bus: String,
    /// Validate only; nothing is sent.
    pub dry_run: bool,
}

/// Bridge ids the dedup window remembers.
pub const DEDUP_WINDOW: usize = 100_000;

/// Publishes chunks of events, remembering bridge ids across chunks.
pub struct Publisher<'a> {
    sink: &'a dyn EventSink,
    audit: Option<&'a dyn ChangeNotifier>,
    settings: PublishSettings,
    window: DedupWindow,
    run_id: String,
    requests_sent: u64,
    /// Audit messages that could not be published (each already reported on stderr by the caller).
    pub audit_failures: Vec<String>,
}

impl<'a> Publisher<'a> {
    /// A publisher sending to `sink`, auditing each request to `audit` when given.
    pub fn new(
        sink: &'a dyn EventSink,
        audit: Option<&'a dyn ChangeNotifier>,
        settings: PublishSettings,
    ) -> Self {
        Publisher {
            sink,
            audit,
            settings,
            window: DedupWindow::new(DEDUP_WINDOW),
            run_id: format!("{:012x}", fastrand::u64(..) >> 16),
            requests_sent: 0,
            audit_failures: Vec::new(),
        }
    }

    /// Publishes `events` (each with its origin, e.g. `file#3`, for duplicate reasons), received
    /// at `received_at` (RFC 3339); one report per event, in order.
    pub async fn publish(&mut self, events: &[(String, Value)], received_at: &str) -> Chunk {
        let mut reports = Vec::with_capacity(events.len());
        let mut entries: Vec<Entry> = Vec::new();
        let mut sent_as: Vec<usize> = Vec::new();
        for (origin, event) in events {
            let report = match transform(event, &self.settings.source, received_at) {
                Err(error) => rejected(None, None, error.to_string()),
                Ok(entry) => match check_entry(&entry, self.settings.max_entry_bytes) {
                    Err(problem) => rejected(
                        Some(entry.bridge_event_id),
                        Some(entry.detail_type),
                        problem,
                    ),
                    Ok(()) => match self.window.first_seen(&entry.bridge_event_id, origin) {
                        Some(first) => EventReport {
                            outcome: Outcome::Duplicate,
                            reason: Some(format!("the same event as {first}")),
                            ..pending(&entry)
                        },
                        None => {
                            let report = pending(&entry);
                            sent_as.push(reports.len());
                            entries.push(entry);
                            report
                        }
                    },
                },
            };
            reports.push(report);
        }
        if self.settings.dry_run {
            return Chunk { reports, entries };
        }
        let outcome = send_all(self.sink, &entries, self.settings.policy).await;
        for (&at, result) in sent_as.iter().zip(outcome.results) {
            let report = &mut reports[at];
            match result {
                Published::Published { event_id } => {
                    report.outcome = Outcome::Published;
                    report.event_bridge_id = Some(event_id);
                }
                Published::Rejected { reason } => {
                    report.outcome = Outcome::Rejected;
                    report.reason = Some(reason);
                }
                Published::Failed { reason } => {
                    report.outcome = Outcome::Failed;
                    report.reason = Some(reason);
                }
            }
        }
        for request in &outcome.requests {
            self.audit_request(request).await;
        }
        Chunk { reports, entries }
    }

    async fn audit_request(&mut self, request: &RequestReport) {
        self.requests_sent += 1;
        let Some(audit) = self.audit else { return };
        let message = audit_message(
            &format!("{}-{}", self.run_id, self.requests_sent),
            &self.settings.bus,
            request,
        );
        if let Err(error) = audit.notify(&message.to_string()).await {
            self.audit_failures.push(crate::error_chain(&error));
        }
    }
}

/// The reports of one chunk, and (for `--dry-run`) the entries that would be sent.
#[derive(Debug)]
pub struct Chunk {
    /// One per input event, in order.
    pub reports: Vec<EventReport>,
    /// The entries formed (sent unless dry-run), in order.
    pub entries: Vec<Entry>,
}

fn pending(entry: &Entry) -> EventReport {
    EventReport {
        bridge_event_id: Some(entry.bridge_event_id.clone()),
        outcome: Outcome::Valid,
        reason: None,
        event_bridge_id: None,
        detail_type: Some(entry.detail_type.clone()),
    }
}

fn rejected(id: Option<String>, detail_type: Option<String>, reason: String) -> EventReport {
    EventReport {
        bridge_event_id: id,
        outcome: Outcome::Rejected,
        reason: Some(reason),
        event_bridge_id: None,
        detail_type,
    }
}

/// The SNS audit message of one request: what was sent, what came of it, and measured latencies.
pub fn audit_message(batch_id: &str, bus: &str, request: &RequestReport) -> Value {
    json!({
        "batchId": batch_id,
        "bus": bus,
        "entries": request.bridge_event_ids.len(),
        "bridgeEventIds": request.bridge_event_ids,
        "published": request.published,
        "failed": request.failed.iter()
            .map(|(id, code)| json!({"bridgeEventId": id, "code": code}))
            .collect::<Vec<_>>(),
        "attempts": request.attempts,
        "putEventsMs": summary(&request.call_ms),
        "eventToAcceptedMs": summary(&request.event_to_accepted_ms),
    })
}

/// `{p50, max}` of `values` (null when there are none), rounded to 0.1 ms.
fn summary(values: &[f64]) -> Value {
    if values.is_empty() {
        return Value::Null;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let round = |v: f64| (v * 10.0).round() / 10.0;
    json!({"p50": round(sorted[(sorted.len() - 1) / 2]), "max": round(sorted[sorted.len() - 1])})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_audit_message_summarises_latencies_as_p50_and_max() {
        let request = RequestReport {
            bridge_event_ids: vec!["a".into(), "b".into(), "c".into()],
            published: 2,
            failed: vec![("c".into(), "AccessDeniedException".into())],
            attempts: 2,
            call_ms: vec![12.04, 30.0],
            event_to_accepted_ms: vec![100.0, 5000.0],
        };

        let message = audit_message("run-1", "bus", &request);

        assert_eq!(message["entries"], 3);
        assert_eq!(message["failed"][0]["code"], "AccessDeniedException");
        assert_eq!(message["putEventsMs"], json!({"p50": 12.0, "max": 30.0}));
        assert_eq!(
            message["eventToAcceptedMs"],
            json!({"p50": 100.0, "max": 5000.0})
        );
    }

    #[test]
    fn no_event_time_means_no_latency_figure_rather_than_zero() {
        assert_eq!(summary(&[]), Value::Null);
    }
}
