//! Sending entries through an `EventSink`: requests within PutEvents' limits, each answer read per entry, only throttled or internally failed entries sent again (with full-jitter backoff), a succeeded entry never twice.

use super::batch::batches;
use super::transform::Entry;
use async_trait::async_trait;
use std::time::Duration;

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
    /// True for throttling, 5xx and timeouts: the same request may succeed later.
    pub retryable: bool,
    /// The SDK's error.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// Where entries go (an EventBridge bus; a fake in tests). One call is one PutEvents request.
#[async_trait]
pub trait EventSink: Send + Sync {
    /// Sends `entries` (at most 10, within the byte limit); one answer per entry, in order.
    async fn put(&self, entries: &[Entry]) -> Result<Vec<EntryAnswer>, SinkError>;
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

/// How often and how patiently a request is sent again.
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
}

/// The entry codes a retry can help.
fn retryable_code(code: &str) -> bool {
    matches!(code, "ThrottlingException" | "InternalFailure")
}

/// Sends `entries` in order, in requests within the limits; one result per entry.
pub async fn send_all(
    sink: &dyn EventSink,
    entries: &[Entry],
    policy: SendPolicy,
) -> Vec<Published> {
    let mut results: Vec<Option<Published>> = vec![None; entries.len()];
    for request in batches(entries, policy.max_request_bytes) {
        let mut pending = request;
        for attempt in 1..=policy.max_attempts {
            let batch: Vec<Entry> = pending.iter().map(|&i| entries[i].clone()).collect();
            let last = attempt == policy.max_attempts;
            match sink.put(&batch).await {
                Ok(answers) => {
                    let mut still = Vec::new();
                    for (&index, answer) in pending
                        .iter()
                        .zip(answers.iter().map(Some).chain(std::iter::repeat(None)))
                    {
                        results[index] = match answer {
                            Some(EntryAnswer::Accepted { event_id }) => {
                                Some(Published::Published {
                                    event_id: event_id.clone(),
                                })
                            }
                            Some(EntryAnswer::Failed { code, message }) if retryable_code(code) => {
                                still.push(index);
                                Some(Published::Failed {
                                    reason: format!("{code}: {message}"),
                                })
                            }
                            Some(EntryAnswer::Failed { code, message }) => {
                                Some(Published::Rejected {
                                    reason: format!("{code}: {message}"),
                                })
                            }
                            None => {
                                still.push(index);
                                Some(Published::Failed {
                                    reason: "the bus answered fewer entries than were sent".into(),
                                })
                            }
                        };
                    }
                    pending = still;
                }
                Err(error) => {
                    let reason = crate::error_chain(&error);
                    for &index in &pending {
                        results[index] = Some(if error.retryable {
                            Published::Failed {
                                reason: reason.clone(),
                            }
                        } else {
                            Published::Rejected {
                                reason: reason.clone(),
                            }
                        });
                    }
                    if !error.retryable {
                        pending.clear();
                    }
                }
            }
            if pending.is_empty() || last {
                break;
            }
            tokio::time::sleep(full_jitter(policy, attempt)).await;
        }
    }
    results
        .into_iter()
        .map(|result| {
            result.unwrap_or(Published::Failed {
                reason: "never sent".into(),
            })
        })
        .collect()
}

/// "Full jitter": a random wait up to `min(backoff_max, backoff_base * 2^(attempt-1))`.
fn full_jitter(policy: SendPolicy, attempt: u32) -> Duration {
    let ceiling = policy
        .backoff_base
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(policy.backoff_max);
    ceiling.mul_f64(fastrand::f64())
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
        async fn put(&self, entries: &[Entry]) -> Result<Vec<EntryAnswer>, SinkError> {
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

        let results = send_all(&bus, &entries(12), policy()).await;

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

    #[tokio::test]
    async fn an_entry_throttled_on_every_attempt_fails_after_the_last() {
        let bus = ScriptedBus {
            calls: Mutex::default(),
            script: |_, _| EntryAnswer::Failed {
                code: "InternalFailure".into(),
                message: "oops".into(),
            },
        };

        let results = send_all(&bus, &entries(1), policy()).await;

        assert_eq!(bus.calls.lock().unwrap().len(), 3);
        assert!(
            matches!(&results[0], Published::Failed { reason } if reason.starts_with("InternalFailure"))
        );
    }
}
