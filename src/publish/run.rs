//! One publish run: events in, each transformed, checked, deduplicated within the run, sent, and reported; then one audit message per request (after the caller has written the reports), until the topic has failed several times in a row.

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

/// After this many audit messages in a row could not be published, the run stops trying: each
/// would wait for the SNS client's timeout, so a topic that hangs would stretch a run of many
/// requests by hours. The messages not tried are counted in `audit_skipped`.
pub const AUDIT_FAILURES_BEFORE_GIVING_UP: usize = 3;

/// Publishes chunks of events, remembering bridge ids across chunks.
pub struct Publisher<'a> {
    sink: &'a dyn EventSink,
    audit: Option<&'a dyn ChangeNotifier>,
    settings: PublishSettings,
    window: DedupWindow,
    run_id: String,
    requests_sent: u64,
    failures_in_a_row: usize,
    /// Audit messages that could not be published: why, one per message.
    pub audit_failures: Vec<String>,
    /// Audit messages not tried, the topic having failed
    /// [`AUDIT_FAILURES_BEFORE_GIVING_UP`] times in a row.
    pub audit_skipped: usize,
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
            failures_in_a_row: 0,
            audit_failures: Vec::new(),
            audit_skipped: 0,
        }
    }

    /// Audit messages that were due and not published (failed or not tried).
    pub fn audit_missing(&self) -> usize {
        self.audit_failures.len() + self.audit_skipped
    }

    /// Publishes `events` (each with its origin, e.g. `file#3`, for duplicate reasons), received
    /// at `received_at` (RFC 3339); one report per event, in order, and one report per request
    /// made, for [`Publisher::audit`] once the caller has written the event reports (an audit
    /// topic that hangs must not hold back what is known of events already on the bus).
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
                        problem.to_string(),
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
            return Chunk {
                reports,
                entries,
                requests: Vec::new(),
            };
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
        Chunk {
            reports,
            entries,
            requests: outcome.requests,
        }
    }

    /// Publishes one audit message per request (when auditing), in order. Once
    /// [`AUDIT_FAILURES_BEFORE_GIVING_UP`] messages in a row have failed, the rest of the run's
    /// messages are not tried and are counted in `audit_skipped`.
    pub async fn audit(&mut self, requests: &[RequestReport]) {
        for request in requests {
            self.requests_sent += 1;
            let Some(audit) = self.audit else { continue };
            if self.failures_in_a_row >= AUDIT_FAILURES_BEFORE_GIVING_UP {
                self.audit_skipped += 1;
                continue;
            }
            let message = audit_message(
                &format!("{}-{}", self.run_id, self.requests_sent),
                &self.settings.bus,
                request,
            );
            match audit.notify(&message.to_string()).await {
                Ok(()) => self.failures_in_a_row = 0,
                Err(error) => {
                    self.failures_in_a_row += 1;
                    self.audit_failures.push(gev_core::error_chain(&error));
                }
            }
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
    /// What each PutEvents request did, for [`Publisher::audit`].
    pub requests: Vec<RequestReport>,
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

    /// An audit topic that refuses every message, counting them.
    struct Refusing(std::sync::atomic::AtomicUsize);

    #[async_trait::async_trait]
    impl ChangeNotifier for Refusing {
        async fn notify(&self, _: &str) -> Result<(), crate::notify::NotifyError> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Err(crate::notify::NotifyError {
                topic_arn: "arn:aws:sns:eu-west-1:123456789012:audit".into(),
                source: "timed out".into(),
            })
        }
    }

    #[tokio::test]
    async fn after_three_audit_failures_in_a_row_the_rest_are_counted_not_tried() {
        let topic = Refusing(std::sync::atomic::AtomicUsize::new(0));
        let settings = PublishSettings {
            source: "s".into(),
            max_entry_bytes: 1000,
            policy: SendPolicy::default(),
            bus: "bus".into(),
            dry_run: false,
        };
        let mut publisher = Publisher::new(&super::super::NothingSent, Some(&topic), settings);
        let request = RequestReport {
            bridge_event_ids: vec!["a".into()],
            published: 1,
            failed: Vec::new(),
            attempts: 1,
            call_ms: vec![1.0],
            event_to_accepted_ms: Vec::new(),
        };

        publisher.audit(&vec![request; 5]).await;

        assert_eq!(topic.0.load(std::sync::atomic::Ordering::SeqCst), 3);
        assert_eq!(publisher.audit_failures.len(), 3);
        assert_eq!(publisher.audit_skipped, 2);
        assert_eq!(publisher.audit_missing(), 5);
    }

    #[test]
    fn no_event_time_means_no_latency_figure_rather_than_zero() {
        assert_eq!(summary(&[]), Value::Null);
    }
}
