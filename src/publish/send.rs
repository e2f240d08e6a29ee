//! Sending entries through an `EventSink`: requests within PutEvents' limits, each answer read per entry, only throttled or internally failed entries (and requests whose fate is unknown: timeouts, lost or cut answers) sent again (with full-jitter backoff), an entry answered as accepted never twice, entries of a malformed (short) answer sent again once at most.

use super::batch::batches;
use super::transform::Entry;
use async_trait::async_trait;
use futures_util::stream::{self, StreamExt};
use std::time::{Duration, Instant};

/// What the bus said of one entry of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryAnswer {
    /// Accepted, under this EventBridge id.
    Accepted {
        /// The id EventBridge gave it.
        event_id: String,
    },
    /// Refused, with EventBridge's `ErrorCode` and message.
    Failed {
        /// `ErrorCode`, e.g. `ThrottlingException`.
        code: String,
        /// `ErrorMessage`.
        message: String,
    },
}

/// A request that failed as a whole.
#[derive(Debug, thiserror::Error)]
#[error("PutEvents failed")]
pub struct SinkError {
    /// True for throttling, 5xx, timeouts and lost or unreadable answers (the bus may or may
    /// not have taken the entries): the same request may succeed later.
    pub retryable: bool,
    /// The SDK's error.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// Where entries go (an EventBridge bus; a fake in tests). One call is one PutEvents request.
#[async_trait]
pub trait EventSink: Send + Sync {
    /// Sends `entries` (at most 10, within the byte limit); one answer per entry, in order.
    async fn put(&self, entries: &[&Entry]) -> Result<Vec<EntryAnswer>, SinkError>;
}

/// The sink of a dry run: it refuses every request (and a dry run makes none).
#[derive(Debug, Clone, Copy)]
pub struct NothingSent;

#[async_trait]
impl EventSink for NothingSent {
    async fn put(&self, _: &[&Entry]) -> Result<Vec<EntryAnswer>, SinkError> {
        Err(SinkError {
            retryable: false,
            source: "a dry run sends nothing".into(),
        })
    }
}

/// What became of one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// On the bus, under this EventBridge id.
    Published {
        /// The id EventBridge gave it.
        event_id: String,
    },
    /// Refused for good (e.g. `AccessDeniedException`); never resent.
    Rejected {
        /// The code and message.
        reason: String,
    },
    /// Still failing after the last attempt.
    Failed {
        /// The last failure.
        reason: String,
    },
}

/// How often and how patiently a request is sent again, and how many go at once.
#[derive(Debug, Clone, Copy)]
pub struct SendPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// The backoff ceiling before the second attempt; it doubles per attempt.
    pub backoff_base: Duration,
    /// The longest backoff.
    pub backoff_max: Duration,
    /// The byte limit of a request.
    pub max_request_bytes: usize,
    /// Requests in flight at once (at least 1).
    pub concurrency: usize,
}

impl Default for SendPolicy {
    fn default() -> Self {
        SendPolicy {
            max_attempts: 8,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(20),
            max_request_bytes: super::batch::DEFAULT_MAX_BYTES,
            concurrency: 4,
        }
    }
}

/// What one request (with its retries) did: the audit record of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestReport {
    /// The bridge ids of the request's entries, in order.
    pub bridge_event_ids: Vec<String>,
    /// Entries accepted.
    pub published: usize,
    /// Entries not accepted in the end, with the last code (`bridge id`, `code`).
    pub failed: Vec<(String, String)>,
    /// PutEvents calls made (1 + retries).
    pub attempts: u32,
    /// Each call's duration, in milliseconds.
    pub call_ms: Vec<f64>,
    /// For each accepted entry that carries its own time: accepted time minus event time, in ms.
    pub event_to_accepted_ms: Vec<f64>,
}

/// The results of `send_all`: one per entry, in order, and one report per request.
#[derive(Debug, Clone)]
pub struct SendOutcome {
    /// What became of each entry.
    pub results: Vec<Published>,
    /// What each request did, in the order requests were formed.
    pub requests: Vec<RequestReport>,
}

/// The failure code of entries whose answer had the wrong number of entries.
const MALFORMED_ANSWER: &str = "MalformedAnswer";
/// How many times entries are sent again after a malformed answer (whose fate is unknown).
const MALFORMED_ANSWER_RESENDS: u32 = 1;

/// The entry codes a retry can help.
fn retryable_code(code: &str) -> bool {
    matches!(code, "ThrottlingException" | "InternalFailure")
}

/// Sends `entries` in order, in requests within the limits (up to `policy.concurrency` at once).
pub async fn send_all(sink: &dyn EventSink, entries: &[Entry], policy: SendPolicy) -> SendOutcome {
    let requests = batches(entries, policy.max_request_bytes);
    let mut results: Vec<Option<Published>> = vec![None; entries.len()];
    let mut reports = Vec::with_capacity(requests.len());
    let mut done = stream::iter(requests)
        .map(|request| send_request(sink, entries, request, policy))
        .buffered(policy.concurrency.max(1));
    while let Some((answered, report)) = done.next().await {
        for (index, result) in answered {
            results[index] = Some(result);
        }
        reports.push(report);
    }
    SendOutcome {
        results: results
            .into_iter()
            .map(|result| {
                result.unwrap_or(Published::Failed {
                    reason: "never sent".into(),
                })
            })
            .collect(),
        requests: reports,
    }
}

/// One request and its retries: the result of each of its entries (by index) and its report.
async fn send_request(
    sink: &dyn EventSink,
    entries: &[Entry],
    request: Vec<usize>,
    policy: SendPolicy,
) -> (Vec<(usize, Published)>, RequestReport) {
    let mut report = RequestReport {
        bridge_event_ids: request
            .iter()
            .map(|&i| entries[i].bridge_event_id.clone())
            .collect(),
        published: 0,
        failed: Vec::new(),
        attempts: 0,
        call_ms: Vec::new(),
        event_to_accepted_ms: Vec::new(),
    };
    let mut results: Vec<(usize, Published)> = Vec::with_capacity(request.len());
    let mut last_codes: Vec<(usize, String)> = Vec::new();
    let mut pending = request;
    let mut malformed_answers = 0;
    for attempt in 1..=policy.max_attempts {
        let batch: Vec<&Entry> = pending.iter().map(|&i| &entries[i]).collect();
        let started = Instant::now();
        let answer = sink.put(&batch).await;
        report.attempts = attempt;
        report
            .call_ms
            .push(started.elapsed().as_secs_f64() * 1000.0);
        let accepted_at = chrono::Utc::now();
        let mut still = Vec::new();
        match answer {
            // PutEvents answers every entry, in order. An answer of another length is malformed:
            // none of it can be trusted (which entry is missing?) and whether the bus took the
            // entries is unknown. They are sent again as a whole once; a second malformed answer
            // fails them, so that a bus answering short cannot multiply them attempt after attempt.
            Ok(answers) if answers.len() != pending.len() => {
                malformed_answers += 1;
                let reason = format!(
                    "the bus answered {} entries for {} sent, so whether it took them is unknown",
                    answers.len(),
                    pending.len()
                );
                for &index in &pending {
                    if malformed_answers <= MALFORMED_ANSWER_RESENDS {
                        last_codes.push((index, MALFORMED_ANSWER.into()));
                        still.push((index, reason.clone()));
                    } else {
                        report.failed.push((
                            entries[index].bridge_event_id.clone(),
                            MALFORMED_ANSWER.into(),
                        ));
                        results.push((
                            index,
                            Published::Failed {
                                reason: format!(
                                    "{reason} (for the second time: not sent again; publishing it again later is safe, its bridge id keeps it one event)"
                                ),
                            },
                        ));
                    }
                }
            }
            Ok(answers) => {
                for (index, answer) in pending.iter().copied().zip(answers) {
                    match answer {
                        EntryAnswer::Accepted { event_id } => {
                            report.published += 1;
                            if let Some(lag) = lag_ms(&entries[index], accepted_at) {
                                report.event_to_accepted_ms.push(lag);
                            }
                            results.push((index, Published::Published { event_id }));
                        }
                        EntryAnswer::Failed { code, message } if retryable_code(&code) => {
                            let reason = format!("{code}: {message}");
                            last_codes.push((index, code));
                            still.push((index, reason));
                        }
                        EntryAnswer::Failed { code, message } => {
                            report
                                .failed
                                .push((entries[index].bridge_event_id.clone(), code.clone()));
                            results.push((
                                index,
                                Published::Rejected {
                                    reason: format!("{code}: {message}"),
                                },
                            ));
                        }
                    }
                }
            }
            Err(error) => {
                let reason = gev_core::error_chain(&error);
                for &index in &pending {
                    if error.retryable {
                        last_codes.push((index, "RequestFailed".into()));
                        still.push((index, reason.clone()));
                    } else {
                        report.failed.push((
                            entries[index].bridge_event_id.clone(),
                            "RequestRefused".into(),
                        ));
                        results.push((
                            index,
                            Published::Rejected {
                                reason: reason.clone(),
                            },
                        ));
                    }
                }
            }
        }
        if still.is_empty() || attempt == policy.max_attempts {
            for (index, reason) in still {
                let code = last_codes
                    .iter()
                    .rev()
                    .find(|(i, _)| *i == index)
                    .map_or_else(String::new, |(_, code)| code.clone());
                report
                    .failed
                    .push((entries[index].bridge_event_id.clone(), code));
                results.push((index, Published::Failed { reason }));
            }
            break;
        }
        pending = still.into_iter().map(|(index, _)| index).collect();
        last_codes.clear();
        tokio::time::sleep(crate::backoff::full_jitter(
            policy.backoff_base,
            policy.backoff_max,
            attempt,
        ))
        .await;
    }
    (results, report)
}

/// Accepted time minus the entry's own time, in ms, when it carries one.
fn lag_ms(entry: &Entry, accepted_at: chrono::DateTime<chrono::Utc>) -> Option<f64> {
    let time = chrono::DateTime::parse_from_rfc3339(entry.time.as_deref()?).ok()?;
    let lag = accepted_at.signed_duration_since(time);
    #[allow(clippy::cast_precision_loss)]
    Some(
        lag.num_microseconds()
            .map_or(f64::MAX, |us| us as f64 / 1000.0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A bus that answers each request from a script (by call number) and records what it got.
    struct ScriptedBus {
        calls: Mutex<Vec<Vec<String>>>,
        script: fn(call: usize, entry: &Entry) -> EntryAnswer,
    }

    #[async_trait]
    impl EventSink for ScriptedBus {
        async fn put(&self, entries: &[&Entry]) -> Result<Vec<EntryAnswer>, SinkError> {
            let mut calls = self.calls.lock().unwrap();
            let call = calls.len();
            calls.push(entries.iter().map(|e| e.bridge_event_id.clone()).collect());
            Ok(entries
                .iter()
                .map(|entry| (self.script)(call, entry))
                .collect())
        }
    }

    fn entries(count: usize) -> Vec<Entry> {
        (0..count)
            .map(|n| Entry {
                source: "s".into(),
                detail_type: "d".into(),
                detail: "{}".into(),
                time: None,
                bridge_event_id: format!("e{n}"),
            })
            .collect()
    }

    fn policy() -> SendPolicy {
        SendPolicy {
            max_attempts: 3,
            backoff_base: Duration::from_millis(1),
            backoff_max: Duration::from_millis(2),
            max_request_bytes: super::super::DEFAULT_MAX_BYTES,
            concurrency: 1,
        }
    }

    #[tokio::test]
    async fn only_throttled_entries_are_sent_again_and_a_denied_one_is_rejected() {
        let bus = ScriptedBus {
            calls: Mutex::default(),
            script: |call, entry| match (call, entry.bridge_event_id.as_str()) {
                (0, "e2") => EntryAnswer::Failed {
                    code: "ThrottlingException".into(),
                    message: "slow down".into(),
                },
                (_, "e4") => EntryAnswer::Failed {
                    code: "AccessDeniedException".into(),
                    message: "no".into(),
                },
                (_, id) => EntryAnswer::Accepted {
                    event_id: format!("eb-{id}"),
                },
            },
        };

        let results = send_all(&bus, &entries(12), policy()).await.results;

        let calls = bus.calls.lock().unwrap();
        assert_eq!(calls.len(), 3, "{calls:?}");
        assert_eq!(calls[0].len(), 10);
        assert_eq!(calls[1], ["e2"]);
        assert_eq!(calls[2], ["e10", "e11"]);
        assert_eq!(
            results[2],
            Published::Published {
                event_id: "eb-e2".into()
            }
        );
        assert!(
            matches!(&results[4], Published::Rejected { reason } if reason.starts_with("AccessDeniedException"))
        );
        let sent: usize = calls.iter().map(Vec::len).sum();
        assert_eq!(sent, 13, "only the throttled entry is sent twice");
    }

    /// A bus that takes every entry and answers only the first, for its first `short` calls.
    struct ShortBus {
        calls: Mutex<Vec<Vec<String>>>,
        short: usize,
    }

    #[async_trait]
    impl EventSink for ShortBus {
        async fn put(&self, entries: &[&Entry]) -> Result<Vec<EntryAnswer>, SinkError> {
            let mut calls = self.calls.lock().unwrap();
            let call = calls.len();
            calls.push(entries.iter().map(|e| e.bridge_event_id.clone()).collect());
            let answers = entries.iter().map(|entry| EntryAnswer::Accepted {
                event_id: format!("eb-{}", entry.bridge_event_id),
            });
            Ok(if call < self.short {
                answers.take(1).collect()
            } else {
                answers.collect()
            })
        }
    }

    #[tokio::test]
    async fn a_short_answer_is_sent_again_whole_once_and_then_failed_not_multiplied() {
        let bus = ShortBus {
            calls: Mutex::default(),
            short: usize::MAX,
        };
        let policy = SendPolicy {
            max_attempts: 8,
            ..policy()
        };

        let outcome = send_all(&bus, &entries(10), policy).await;

        let calls = bus.calls.lock().unwrap();
        assert_eq!(calls.len(), 2, "sent whole, then once more: {calls:?}");
        assert!(calls.iter().all(|call| call.len() == 10));
        for result in &outcome.results {
            assert!(
                matches!(result, Published::Failed { reason } if reason.contains("answered 1 entries for 10 sent")),
                "{result:?}"
            );
        }
        assert_eq!(outcome.requests[0].failed.len(), 10);
        assert_eq!(outcome.requests[0].failed[0].1, "MalformedAnswer");
    }

    #[tokio::test]
    async fn after_one_short_answer_a_whole_answer_publishes_every_entry() {
        let bus = ShortBus {
            calls: Mutex::default(),
            short: 1,
        };

        let results = send_all(&bus, &entries(10), policy()).await.results;

        assert_eq!(bus.calls.lock().unwrap().len(), 2);
        assert!(
            results
                .iter()
                .all(|result| matches!(result, Published::Published { .. })),
            "{results:?}"
        );
    }

    #[tokio::test]
    async fn an_entry_throttled_on_every_attempt_fails_after_the_last() {
        let bus = ScriptedBus {
            calls: Mutex::default(),
            script: |_, _| EntryAnswer::Failed {
                code: "InternalFailure".into(),
                message: "oops".into(),
            },
        };

        let results = send_all(&bus, &entries(1), policy()).await.results;

        assert_eq!(bus.calls.lock().unwrap().len(), 3);
        assert!(
            matches!(&results[0], Published::Failed { reason } if reason.starts_with("InternalFailure"))
        );
    }
}
