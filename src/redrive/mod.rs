//! The redrive use case: a dead-letter queue's messages recognised (`recognise.rs`), their events put back onto a bus through publish's sender (per-entry retries), each message deleted only once the bus took every event it carried, the others kept and made visible again; the `DeadLetterQueue` port and its SQS adapter (`sqs.rs`). It prints nothing: each message's report goes to a [`Progress`], the run returns a [`RedriveReport`].

mod recognise;
mod sqs;

use crate::publish::{Entry, EventSink, Published, SendPolicy, check_entry, send_all};
use async_trait::async_trait;
use recognise::{DeadEvent, Kind, Recognised, Unrecognised, recognise};
use std::collections::{HashMap, HashSet};

pub use sqs::SqsDeadLetterQueue;

/// One message received from the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The queue's id of the message (the same on every receive).
    pub message_id: String,
    /// This receive's handle, for deleting or releasing it.
    pub receipt_handle: String,
    /// The body.
    pub body: String,
}

/// A failed queue call.
#[derive(Debug, thiserror::Error)]
#[error("SQS {operation} failed")]
pub struct QueueError {
    /// The call (`ReceiveMessage`, `DeleteMessage`, `ChangeMessageVisibility`).
    pub operation: &'static str,
    /// True for throttling, 5xx, timeouts and lost answers; false for a queue that does not
    /// exist, a refused permission, an invalid receipt handle.
    pub retryable: bool,
    /// The SDK's error.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl QueueError {
    /// Whether the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }
}

/// A dead-letter queue (SQS; a fake in tests).
#[async_trait]
pub trait DeadLetterQueue: Send + Sync {
    /// Up to `max` (1 to 10) messages, each hidden from other receivers for a while; none
    /// when the queue has nothing visible.
    async fn receive(&self, max: usize) -> Result<Vec<DeadLetter>, QueueError>;

    /// Deletes `message` (received by this run).
    async fn delete(&self, message: &DeadLetter) -> Result<(), QueueError>;

    /// Makes `message` visible again at once, so that a later run sees it without waiting for
    /// its visibility timeout.
    async fn release(&self, message: &DeadLetter) -> Result<(), QueueError>;
}

/// What a run does.
#[derive(Debug, Clone)]
pub struct RedriveOptions {
    /// Messages handled at most (all there are when `None`).
    pub max_messages: Option<usize>,
    /// Recognise and report only: nothing sent, nothing deleted.
    pub dry_run: bool,
    /// The `Source` events whose own source starts with `aws.` are sent with (PutEvents
    /// refuses `aws.` sources, e.g. the Genesys partner source): the bridge's source, which the
    /// template's rule accepts like the partner's.
    pub aws_source_as: String,
    /// The entry (and request) byte limit.
    pub max_entry_bytes: usize,
    /// Retries and concurrency of the sends.
    pub policy: SendPolicy,
}

/// Why a message stays in the queue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Kept {
    /// Not understood: a person must look at it.
    #[error("{0}")]
    Unrecognised(#[from] Unrecognised),
    /// One of its events cannot be sent at all (over the size limit, a detail-type EventBridge
    /// does not take): nothing of it was sent.
    #[error("cannot be sent: {0}")]
    Unsendable(String),
    /// The bus refused one of its events for good (`AccessDeniedException`, `InvalidArgument`,
    /// …): sending it again as it is would not help.
    #[error("the bus refused {refused} of its {events} events: {reason}")]
    Refused {
        /// Events refused.
        refused: usize,
        /// Events it carries.
        events: usize,
        /// The first refusal.
        reason: String,
    },
    /// Some of its events were still failing after the last attempt (throttling, the bus's
    /// own failures, timeouts): a later run may succeed.
    #[error("{failed} of its {events} events not accepted after retries: {reason}")]
    NotAccepted {
        /// Events not accepted.
        failed: usize,
        /// Events it carries.
        events: usize,
        /// The last failure.
        reason: String,
    },
    /// Every event is on the bus but the delete failed: the next run sends them again (a
    /// duplicate the consumer recognises).
    #[error(
        "on the bus, but the delete failed ({0}); the next run sends it again, a duplicate the consumer ignores"
    )]
    NotDeleted(String),
}

impl Kept {
    /// Whether running again (without fixing anything) may move it.
    pub fn retry_may_help(&self) -> bool {
        match self {
            Kept::Unrecognised(_) | Kept::Unsendable(_) | Kept::Refused { .. } => false,
            Kept::NotAccepted { .. } | Kept::NotDeleted(_) => true,
        }
    }
}

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageOutcome {
    /// Every event on the bus, the message deleted.
    Redriven,
    /// A dry run: it would be sent.
    WouldRedrive,
    /// Still in the queue.
    Kept(Kept),
}

impl std::fmt::Display for MessageOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MessageOutcome::Redriven => f.write_str("redriven"),
            MessageOutcome::WouldRedrive => f.write_str("would-redrive"),
            MessageOutcome::Kept(kept) => write!(f, "kept: {kept}"),
        }
    }
}

/// One message's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageReport {
    /// The queue's message id.
    pub message_id: String,
    /// Its shape and how many events it carries, when understood.
    pub recognised: Option<(Kind, usize)>,
    /// What became of it.
    pub outcome: MessageOutcome,
}

impl MessageReport {
    /// `eventbridge-event`, `lambda-failure-record/sqs-batch (3 events)`, or `unrecognised`.
    pub fn recognised_as(&self) -> String {
        match self.recognised {
            None => "unrecognised".to_owned(),
            Some((kind, 1)) => kind.name().to_owned(),
            Some((kind, events)) => format!("{} ({events} events)", kind.name()),
        }
    }
}

/// Where each message's report goes as soon as it is known.
pub trait Progress {
    /// One message done.
    fn message(&mut self, report: &MessageReport);
}

/// Progress that keeps the reports (for tests and small runs).
impl Progress for Vec<MessageReport> {
    fn message(&mut self, report: &MessageReport) {
        self.push(report.clone());
    }
}

/// What a run did.
#[derive(Debug, Default)]
pub struct RedriveReport {
    /// Messages handled.
    pub messages: usize,
    /// Messages redriven and deleted.
    pub redriven: usize,
    /// Messages a dry run would redrive.
    pub would_redrive: usize,
    /// Messages kept that running again may move.
    pub kept_retryable: usize,
    /// Messages kept that need a person (not understood, refused for good).
    pub kept_for_review: usize,
    /// Events the bus accepted.
    pub events_sent: usize,
    /// The receive that stopped the run early, if one did.
    pub receive_failed: Option<QueueError>,
    /// Kept messages that could not be made visible again (they reappear after the queue's
    /// visibility timeout anyway).
    pub release_failures: usize,
}

impl RedriveReport {
    /// Messages kept in the queue.
    pub fn kept(&self) -> usize {
        self.kept_retryable + self.kept_for_review
    }
}

/// Messages received per request (SQS's maximum).
pub const RECEIVE_BATCH: usize = 10;

/// Redrives the messages of `queue` onto `sink`, reporting each message to `progress` as it is
/// done. A message is deleted only after the bus accepted every event it carries; every other
/// message is kept and, at the end, made visible again. The run ends when the queue has nothing
/// visible left, when it returns only messages this run has already handled, at
/// `max_messages`, or at a failed receive.
pub async fn run(
    queue: &dyn DeadLetterQueue,
    sink: &dyn EventSink,
    options: &RedriveOptions,
    progress: &mut dyn Progress,
) -> RedriveReport {
    let mut report = RedriveReport::default();
    // Messages kept (or looked at by a dry run), by id, with their latest receipt handle.
    let mut held: HashMap<String, DeadLetter> = HashMap::new();
    let mut handled: HashSet<String> = HashSet::new();
    loop {
        let room = options
            .max_messages
            .map_or(RECEIVE_BATCH, |max| max.saturating_sub(report.messages))
            .min(RECEIVE_BATCH);
        if room == 0 {
            break;
        }
        let received = match queue.receive(room).await {
            Ok(received) => received,
            Err(error) => {
                report.receive_failed = Some(error);
                break;
            }
        };
        if received.is_empty() {
            break;
        }
        let mut fresh = Vec::with_capacity(received.len());
        for message in received {
            if handled.insert(message.message_id.clone()) {
                fresh.push(message);
            } else {
                // Seen again (its visibility timeout ended during the run): keep the new handle.
                held.insert(message.message_id.clone(), message);
            }
        }
        if fresh.is_empty() {
            break;
        }
        for (message, outcome) in redrive_batch(queue, sink, options, &fresh, &mut report).await {
            report.messages += 1;
            match &outcome.outcome {
                MessageOutcome::Redriven => report.redriven += 1,
                MessageOutcome::WouldRedrive => report.would_redrive += 1,
                MessageOutcome::Kept(kept) if kept.retry_may_help() => report.kept_retryable += 1,
                MessageOutcome::Kept(_) => report.kept_for_review += 1,
            }
            if outcome.outcome != MessageOutcome::Redriven {
                held.insert(message.message_id.clone(), message.clone());
            }
            progress.message(&outcome);
        }
    }
    for message in held.values() {
        if queue.release(message).await.is_err() {
            report.release_failures += 1;
        }
    }
    report
}

/// One received batch: each message recognised, all their events sent together, each message
/// deleted once all of its own are on the bus.
async fn redrive_batch<'m>(
    queue: &dyn DeadLetterQueue,
    sink: &dyn EventSink,
    options: &RedriveOptions,
    messages: &'m [DeadLetter],
    report: &mut RedriveReport,
) -> Vec<(&'m DeadLetter, MessageReport)> {
    let mut entries: Vec<Entry> = Vec::new();
    // Per message: its shape and the range of its entries, or why it is kept already.
    let mut plans: Vec<Result<(Recognised, std::ops::Range<usize>), Kept>> =
        Vec::with_capacity(messages.len());
    for message in messages {
        plans.push(plan(message, options, &mut entries));
    }
    let results = if options.dry_run || entries.is_empty() {
        Vec::new()
    } else {
        send_all(sink, &entries, options.policy).await.results
    };
    let mut done = Vec::with_capacity(messages.len());
    for (message, plan) in messages.iter().zip(plans) {
        let (recognised, outcome) = match plan {
            Err(kept) => (None, MessageOutcome::Kept(kept)),
            Ok((recognised, range)) => {
                let shape = Some((recognised.kind, range.len()));
                if options.dry_run {
                    (shape, MessageOutcome::WouldRedrive)
                } else {
                    let results = &results[range];
                    report.events_sent += results
                        .iter()
                        .filter(|r| matches!(r, Published::Published { .. }))
                        .count();
                    (shape, settle(queue, message, results).await)
                }
            }
        };
        done.push((
            message,
            MessageReport {
                message_id: message.message_id.clone(),
                recognised,
                outcome,
            },
        ));
    }
    done
}

/// The message's shape and its entries (appended to `entries`), or why it cannot be sent.
fn plan(
    message: &DeadLetter,
    options: &RedriveOptions,
    entries: &mut Vec<Entry>,
) -> Result<(Recognised, std::ops::Range<usize>), Kept> {
    let recognised = recognise(&message.body)?;
    let own: Vec<Entry> = recognised
        .events
        .iter()
        .map(|event| entry(event, &options.aws_source_as))
        .collect();
    if let Some((index, problem)) = own.iter().enumerate().find_map(|(index, entry)| {
        Some((index, check_entry(entry, options.max_entry_bytes).err()?))
    }) {
        return Err(Kept::Unsendable(if own.len() == 1 {
            problem.to_string()
        } else {
            format!("event {index} of {}: {problem}", own.len())
        }));
    }
    let start = entries.len();
    entries.extend(own);
    Ok((recognised, start..entries.len()))
}

/// Deletes the message when all of its events are on the bus; otherwise says why it stays.
async fn settle(
    queue: &dyn DeadLetterQueue,
    message: &DeadLetter,
    results: &[Published],
) -> MessageOutcome {
    let events = results.len();
    let failed: Vec<&str> = results
        .iter()
        .filter_map(|r| match r {
            Published::Failed { reason } => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    let refused: Vec<&str> = results
        .iter()
        .filter_map(|r| match r {
            Published::Rejected { reason } => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    // A refusal needs a person; a failure alone may pass on the next run.
    if let Some(reason) = refused.first() {
        return MessageOutcome::Kept(Kept::Refused {
            refused: refused.len(),
            events,
            reason: (*reason).to_owned(),
        });
    }
    if let Some(reason) = failed.first() {
        return MessageOutcome::Kept(Kept::NotAccepted {
            failed: failed.len(),
            events,
            reason: (*reason).to_owned(),
        });
    }
    match queue.delete(message).await {
        Ok(()) => MessageOutcome::Redriven,
        Err(error) => MessageOutcome::Kept(Kept::NotDeleted(gev_core::error_chain(&error))),
    }
}

/// The PutEvents entry of a dead event: its source (or `aws_source_as` for an `aws.` one),
/// detail-type, detail and time as they were.
pub fn entry(event: &DeadEvent, aws_source_as: &str) -> Entry {
    let source = if event.source.starts_with("aws.") {
        aws_source_as.to_owned()
    } else {
        event.source.clone()
    };
    // The name it goes by in publish's reports: the bridge id it carries, else its own id.
    let name = event
        .detail
        .get("bridge")
        .and_then(|bridge| bridge.get("eventId"))
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .or_else(|| event.id.clone())
        .unwrap_or_else(|| "-".to_owned());
    Entry {
        source,
        detail_type: event.detail_type.clone(),
        detail: serde_json::Value::Object(event.detail.clone()).to_string(),
        time: event.time.clone(),
        bridge_event_id: name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::{EntryAnswer, SinkError};
    use serde_json::{Value, json};
    use std::sync::Mutex;

    /// A queue in memory: messages visible or in flight, deletes that can be made to fail.
    #[derive(Default)]
    struct MemoryQueue {
        visible: Mutex<Vec<DeadLetter>>,
        in_flight: Mutex<Vec<DeadLetter>>,
        deleted: Mutex<Vec<String>>,
        failing_deletes: Mutex<Vec<String>>,
    }

    impl MemoryQueue {
        fn with(bodies: &[Value]) -> Self {
            let queue = MemoryQueue::default();
            for (n, body) in bodies.iter().enumerate() {
                queue.visible.lock().unwrap().push(DeadLetter {
                    message_id: format!("m-{n}"),
                    receipt_handle: format!("h-{n}"),
                    body: body.to_string(),
                });
            }
            queue
        }

        fn left(&self) -> usize {
            self.visible.lock().unwrap().len() + self.in_flight.lock().unwrap().len()
        }
    }

    #[async_trait]
    impl DeadLetterQueue for MemoryQueue {
        async fn receive(&self, max: usize) -> Result<Vec<DeadLetter>, QueueError> {
            let mut visible = self.visible.lock().unwrap();
            let count = max.min(visible.len());
            let taken: Vec<DeadLetter> = visible.drain(..count).collect();
            self.in_flight.lock().unwrap().extend(taken.clone());
            Ok(taken)
        }

        async fn delete(&self, message: &DeadLetter) -> Result<(), QueueError> {
            if self
                .failing_deletes
                .lock()
                .unwrap()
                .contains(&message.message_id)
            {
                return Err(QueueError {
                    operation: "DeleteMessage",
                    retryable: true,
                    source: "connection reset".into(),
                });
            }
            self.in_flight
                .lock()
                .unwrap()
                .retain(|m| m.message_id != message.message_id);
            self.deleted
                .lock()
                .unwrap()
                .push(message.message_id.clone());
            Ok(())
        }

        async fn release(&self, message: &DeadLetter) -> Result<(), QueueError> {
            let mut in_flight = self.in_flight.lock().unwrap();
            if let Some(at) = in_flight
                .iter()
                .position(|m| m.message_id == message.message_id)
            {
                let message = in_flight.remove(at);
                self.visible.lock().unwrap().push(message);
            }
            Ok(())
        }
    }

    /// A bus that refuses the entries whose detail names a refused conversation, and records
    /// the rest.
    #[derive(Default)]
    struct Bus {
        accepted: Mutex<Vec<Entry>>,
        refuse: Vec<(&'static str, &'static str)>,
    }

    #[async_trait]
    impl EventSink for Bus {
        async fn put(&self, entries: &[&Entry]) -> Result<Vec<EntryAnswer>, SinkError> {
            Ok(entries
                .iter()
                .map(|entry| {
                    match self
                        .refuse
                        .iter()
                        .find(|(conversation, _)| entry.detail.contains(conversation))
                    {
                        Some((_, code)) => EntryAnswer::Failed {
                            code: (*code).to_owned(),
                            message: "no".to_owned(),
                        },
                        None => {
                            self.accepted.lock().unwrap().push((*entry).clone());
                            EntryAnswer::Accepted {
                                event_id: "eb".to_owned(),
                            }
                        }
                    }
                })
                .collect())
        }
    }

    fn event(conversation: &str) -> Value {
        json!({
            "version": "0", "id": format!("id-{conversation}"),
            "detail-type": "v2.detail.events.conversation.{id}.user.end",
            "source": "aws.partner/genesys.com/cloud/org-1/genesys-events",
            "account": "123456789012", "time": "2026-11-23T10:20:00Z", "region": "eu-west-1",
            "resources": [],
            "detail": {"topicName": format!("v2.detail.events.conversation.{conversation}.user.end"),
                       "eventBody": {"conversationId": conversation, "participantId": "p-1", "eventTime": 1}}
        })
    }

    fn options() -> RedriveOptions {
        RedriveOptions {
            max_messages: None,
            dry_run: false,
            aws_source_as: "genesys-eventbridge.bridge".to_owned(),
            max_entry_bytes: crate::publish::DEFAULT_MAX_BYTES,
            policy: SendPolicy {
                max_attempts: 2,
                backoff_base: std::time::Duration::from_millis(1),
                backoff_max: std::time::Duration::from_millis(2),
                ..SendPolicy::default()
            },
        }
    }

    #[tokio::test]
    async fn every_understood_message_is_sent_as_it_was_and_deleted_and_the_rest_stay_visible() {
        let mut bodies: Vec<Value> = (0..12).map(|n| event(&format!("c-{n}"))).collect();
        bodies.push(json!({"hello": "world"}));
        let queue = MemoryQueue::with(&bodies);
        let bus = Bus::default();
        let mut lines: Vec<MessageReport> = Vec::new();

        let report = run(&queue, &bus, &options(), &mut lines).await;

        assert_eq!((report.messages, report.redriven), (13, 12));
        assert_eq!(report.kept_for_review, 1);
        assert_eq!(queue.deleted.lock().unwrap().len(), 12);
        assert_eq!(
            queue.visible.lock().unwrap().len(),
            1,
            "released at the end"
        );
        let accepted = bus.accepted.lock().unwrap();
        assert_eq!(accepted[0].source, "genesys-eventbridge.bridge");
        assert_eq!(
            serde_json::from_str::<Value>(&accepted[0].detail).unwrap(),
            event("c-0")["detail"],
            "the detail is unchanged, so the consumer's dedup key and fingerprint match"
        );
        assert_eq!(accepted[0].time.as_deref(), Some("2026-11-23T10:20:00Z"));
        let kept = lines.last().unwrap();
        assert_eq!(kept.recognised_as(), "unrecognised");
        assert!(kept.outcome.to_string().starts_with("kept: neither"));
    }

    #[tokio::test]
    async fn a_refused_or_failing_event_keeps_its_message_and_a_second_run_takes_it_once_fixed() {
        let queue = MemoryQueue::with(&[event("c-1"), event("c-2"), event("c-3")]);
        let bus = Bus {
            refuse: vec![
                ("c-2", "AccessDeniedException"),
                ("c-3", "ThrottlingException"),
            ],
            ..Bus::default()
        };
        let mut lines: Vec<MessageReport> = Vec::new();

        let first = run(&queue, &bus, &options(), &mut lines).await;
        let second = run(&queue, &Bus::default(), &options(), &mut Vec::new()).await;

        assert_eq!(
            (first.redriven, first.kept_for_review, first.kept_retryable),
            (1, 1, 1)
        );
        assert!(
            matches!(
                &lines[1].outcome,
                MessageOutcome::Kept(Kept::Refused { .. })
            ),
            "{lines:?}"
        );
        assert!(
            matches!(
                &lines[2].outcome,
                MessageOutcome::Kept(Kept::NotAccepted { .. })
            ),
            "{lines:?}"
        );
        assert_eq!((second.messages, second.redriven), (2, 2));
        assert_eq!(queue.left(), 0);
    }

    #[tokio::test]
    async fn a_message_whose_delete_fails_stays_and_is_sent_again_by_the_next_run() {
        let queue = MemoryQueue::with(&[event("c-1")]);
        queue.failing_deletes.lock().unwrap().push("m-0".to_owned());
        let bus = Bus::default();
        let mut lines: Vec<MessageReport> = Vec::new();

        let first = run(&queue, &bus, &options(), &mut lines).await;
        queue.failing_deletes.lock().unwrap().clear();
        let second = run(&queue, &bus, &options(), &mut Vec::new()).await;

        assert_eq!(first.kept_retryable, 1);
        assert!(
            matches!(&lines[0].outcome, MessageOutcome::Kept(Kept::NotDeleted(_))),
            "{lines:?}"
        );
        assert_eq!(second.redriven, 1);
        let accepted = bus.accepted.lock().unwrap();
        assert_eq!(accepted.len(), 2, "sent twice: a duplicate, nothing lost");
        assert_eq!(accepted[0], accepted[1], "the same entry both times");
        assert_eq!(queue.left(), 0);
    }

    #[tokio::test]
    async fn a_dry_run_sends_nothing_deletes_nothing_and_leaves_every_message_visible() {
        let queue = MemoryQueue::with(&[event("c-1"), event("c-2"), json!([1])]);
        let bus = Bus::default();
        let options = RedriveOptions {
            dry_run: true,
            ..options()
        };
        let mut lines: Vec<MessageReport> = Vec::new();

        let report = run(&queue, &bus, &options, &mut lines).await;

        assert_eq!((report.would_redrive, report.kept_for_review), (2, 1));
        assert_eq!(lines[0].outcome.to_string(), "would-redrive");
        assert!(bus.accepted.lock().unwrap().is_empty());
        assert!(queue.deleted.lock().unwrap().is_empty());
        assert_eq!(queue.visible.lock().unwrap().len(), 3);
    }

    #[tokio::test]
    async fn an_event_over_the_size_limit_keeps_its_message_without_sending_anything_of_it() {
        let mut large = event("c-big");
        large["detail"]["pad"] = json!("x".repeat(300_000));
        let queue = MemoryQueue::with(&[large, event("c-1")]);
        let bus = Bus::default();
        let mut lines: Vec<MessageReport> = Vec::new();

        let report = run(&queue, &bus, &options(), &mut lines).await;

        assert_eq!((report.redriven, report.kept_for_review), (1, 1));
        assert!(
            lines[0]
                .outcome
                .to_string()
                .starts_with("kept: cannot be sent: the entry is"),
            "{lines:?}"
        );
        assert_eq!(bus.accepted.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn max_bounds_the_messages_handled() {
        let bodies: Vec<Value> = (0..25).map(|n| event(&format!("c-{n}"))).collect();
        let queue = MemoryQueue::with(&bodies);
        let options = RedriveOptions {
            max_messages: Some(13),
            ..options()
        };

        let report = run(&queue, &Bus::default(), &options, &mut Vec::new()).await;

        assert_eq!(report.redriven, 13);
        assert_eq!(queue.left(), 12);
    }

    #[test]
    fn a_tutorial_event_keeps_its_source_and_a_partner_one_takes_the_bridge_s() {
        let tutorial = recognise(
            &json!({"detail-type": "purecloud:v2:interaction:update", "source": "com.genesys.interaction",
                    "detail": {"interactionId": "i-1", "sequenceId": "1"}})
            .to_string(),
        )
        .unwrap();
        let partner = recognise(&event("c-1").to_string()).unwrap();

        assert_eq!(
            entry(&tutorial.events[0], "bridge").source,
            "com.genesys.interaction"
        );
        assert_eq!(entry(&partner.events[0], "bridge").source, "bridge");
        assert_eq!(
            entry(&partner.events[0], "bridge").bridge_event_id,
            "id-c-1"
        );
    }
}
