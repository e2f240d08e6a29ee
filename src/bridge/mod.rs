//! The bridge use case: stream sessions (topics given, followed queues, and the detail topics of each conversation seen on them) feeding the publish core through a bounded queue, with a spool when the bus will not take entries; gap records and publish outcomes as JSON lines, a clean stop that publishes or spools what is queued.

pub mod backfill;
pub mod coverage;
pub mod forward;
pub mod spool;

use crate::genesys::analytics::AnalyticsApi;
use crate::genesys::routing::RoutingApi;
use crate::publish::{DedupWindow, Entry, EventSink, SendPolicy, check_entry, transform};
use crate::stream::StreamApi;
use crate::stream::checkpoint::{Checkpoint, ShardState};
use crate::stream::records::{notification_line, rfc3339};
use crate::stream::session::{Session, SessionEvent, SessionSettings};
use coverage::{Change, Coverage, finished_conversation, queue_topic, queued_conversation};
use forward::{Forwarder, Queued, Unhandled};
use serde_json::Value;
use spool::Spool;
use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Entries waiting for the bus in memory; beyond this the socket side waits (the spool takes
/// what the bus refuses, so the queue drains at the spool's pace at worst).
pub const QUEUE_CAPACITY: usize = 10_000;

/// What the bridge listens to and where it publishes.
#[derive(Debug, Clone, Default)]
pub struct BridgeOptions {
    /// Concrete topics published as they come.
    pub topics: Vec<String>,
    /// Queues whose conversations are followed.
    pub follow_queues: Vec<String>,
    /// Also publish the followed queues' conversation snapshots.
    pub publish_queue_events: bool,
    /// Where entries the bus will not take wait.
    pub spool: Option<PathBuf>,
    /// `Source` of the entries.
    pub source: String,
    /// The entry byte limit.
    pub max_entry_bytes: usize,
    /// Retries of a request before its entries are spooled.
    pub policy: SendPolicy,
    /// Session timings.
    pub settings: SessionSettings,
    /// Stop after this long (scripts and tests).
    pub stop_after: Option<Duration>,
    /// Fill each gap of the followed queues from the analytics API.
    pub backfill: bool,
    /// Where the time the bridge was listening until is kept, so that a restart reports (and
    /// backfills) the time it was down.
    pub checkpoint: Option<PathBuf>,
    /// How often the checkpoint is written; zero means the default, 5 s.
    pub checkpoint_interval: Duration,
}

/// The checkpoint key of the bridge (its shards change as conversations come and go).
const CHECKPOINT_KEY: &str = "bridge";

/// The API a bridge needs: the stream's, the analytics query and the queue listing.
pub trait BridgeApi: StreamApi + AnalyticsApi + RoutingApi {}
impl<T: StreamApi + AnalyticsApi + RoutingApi> BridgeApi for T {}

/// `--follow-queue all`: every queue of the organization.
pub const ALL_QUEUES: &str = "all";

/// One shard: its wanted topics, and its session's task.
struct Shard {
    wanted: watch::Sender<Vec<String>>,
    task: tokio::task::JoinHandle<()>,
}

/// Runs the bridge until `stop` resolves; returns the exit code.
pub async fn run<A: BridgeApi + 'static>(
    api: Arc<A>,
    sink: Arc<dyn EventSink>,
    options: BridgeOptions,
    out: &mut (dyn Write + Send),
    err: &mut (dyn Write + Send),
    stop: impl Future<Output = ()>,
) -> i32 {
    let mut options = options;
    if options
        .follow_queues
        .iter()
        .any(|queue| queue == ALL_QUEUES)
    {
        match every_queue(api.as_ref(), &options.settings, err).await {
            Ok(queues) => options.follow_queues = queues,
            Err(problem) => {
                let _ = writeln!(
                    err,
                    "genesys-eventbridge bridge: --follow-queue all: {problem}"
                );
                return 2;
            }
        }
    }
    let fixed: Vec<String> = options
        .topics
        .iter()
        .cloned()
        .chain(options.follow_queues.iter().map(|queue| queue_topic(queue)))
        .collect();
    if fixed.is_empty() {
        let _ = writeln!(
            err,
            "genesys-eventbridge bridge: give --topic or --follow-queue"
        );
        return 2;
    }
    let available =
        match crate::stream::available_topics(api.as_ref(), &options.settings, "bridge", err).await
        {
            Ok(available) => available,
            Err(problem) => {
                let _ = writeln!(err, "genesys-eventbridge bridge: {problem}");
                return 2;
            }
        };
    if let Err(problems) = crate::stream::topics::check_topics(&fixed, &available) {
        let _ = writeln!(err, "genesys-eventbridge bridge: {}", problems.join("\n"));
        return 2;
    }
    let spool = match &options.spool {
        Some(dir) => match Spool::open(dir) {
            Ok(spool) => Some(spool),
            Err(error) => {
                let _ = writeln!(
                    err,
                    "genesys-eventbridge bridge: --spool {}: {error}",
                    dir.display()
                );
                return 2;
            }
        },
        None => None,
    };
    let (entries, queued) = mpsc::channel::<Queued>(QUEUE_CAPACITY);
    let (lines, mut reported) = mpsc::unbounded_channel::<String>();
    let unhandled = Unhandled::default();
    let (stopping, stopping_seen) = watch::channel(false);
    let forwarder = tokio::spawn(
        Forwarder {
            sink,
            spool,
            policy: options.policy,
            lines,
            unhandled: unhandled.clone(),
        }
        .run(queued, stopping_seen),
    );
    let (events, mut received) = mpsc::channel(4_096);
    let (shutdown, shutdown_seen) = watch::channel(false);
    let mut saved = match Checkpoint::load_optional(options.checkpoint.as_deref()) {
        Ok(saved) => saved,
        Err(error) => {
            let _ = writeln!(
                err,
                "genesys-eventbridge bridge: {}",
                crate::error_chain(&error)
            );
            return 2;
        }
    };
    // The first shard (the followed queues) reports the time the bridge was not running.
    let resumed = saved
        .shards
        .get(CHECKPOINT_KEY)
        .and_then(ShardState::down_since);
    let mut resume = resumed.map(|since| (since, "not running".to_owned()));
    // Shards not listening, since when: the first one until it connects.
    let mut down: BTreeMap<usize, chrono::DateTime<chrono::Utc>> =
        BTreeMap::from([(0, resumed.unwrap_or_else(chrono::Utc::now))]);
    let mut coverage = Coverage::new(&fixed, crate::stream::topics::MAX_CHANNELS);
    let mut shards: Vec<Shard> = Vec::new();
    let start_shard =
        |shards: &mut Vec<Shard>,
         topics: Vec<String>,
         down_since: Option<(chrono::DateTime<chrono::Utc>, String)>| {
            let (wanted, wanted_seen) = watch::channel(topics.clone());
            let session = Session {
                shard: shards.len(),
                topics,
                down_since,
                api: api.clone(),
                settings: options.settings,
                events: events.clone(),
                wanted: Some(wanted_seen),
            };
            let task = tokio::spawn(session.run(shutdown_seen.clone()));
            shards.push(Shard { wanted, task });
        };
    for topics in coverage.shards() {
        start_shard(&mut shards, topics, resume.take());
    }
    let mut window = DedupWindow::new(crate::publish::run::DEDUP_WINDOW);
    let (backfilled, mut backfills) = mpsc::unbounded_channel::<Value>();
    let mut checkpoints = tokio::time::interval(if options.checkpoint_interval.is_zero() {
        crate::stream::CHECKPOINT_INTERVAL
    } else {
        options.checkpoint_interval
    });
    let stop_at = options
        .stop_after
        .map(|after| tokio::time::Instant::now() + after);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            event = received.recv() => {
                let Some(event) = event else { break };
                match event {
                    SessionEvent::Frame { text, received_at, .. } => {
                        let Some((_, notification)) = notification_line(&text, received_at) else { continue };
                        let received = received_at;
                        let received_at = rfc3339(received_at);
                        let topic = notification.get("topicName").and_then(Value::as_str).unwrap_or_default().to_owned();
                        let body = notification.get("eventBody").cloned().unwrap_or_default();
                        let queued_conversation = queued_conversation(&topic, &body);
                        if let Some(conversation) = &queued_conversation {
                            let change = coverage.add(conversation);
                            apply(&change, &coverage, &mut shards, &start_shard, err, conversation);
                            if !options.publish_queue_events {
                                continue;
                            }
                        }
                        if let Some(entry) = entry_of(&notification, &options, &received_at, &mut window, err)
                            && entries.send(Queued { entry, ticket: unhandled.add(received), reported_held: false }).await.is_err()
                        {
                            break;
                        }
                        if let Some(conversation) = finished_conversation(&topic) {
                            let change = coverage.remove(conversation);
                            apply(&change, &coverage, &mut shards, &start_shard, err, conversation);
                        }
                    }
                    SessionEvent::Listening { shard, gap: Some(gap) } => {
                        down.remove(&shard);
                        let _ = writeln!(out, "{}", gap.to_record());
                        let _ = out.flush();
                        if options.backfill && !options.follow_queues.is_empty() {
                            tokio::spawn(fill(api.clone(), options.follow_queues.clone(), gap, options.settings.request_timeout, backfilled.clone()));
                        }
                    }
                    SessionEvent::Listening { shard, gap: None } => {
                        down.remove(&shard);
                    }
                    SessionEvent::Subscribed { shard, rejected, .. } => {
                        for (topic, reason) in rejected {
                            let _ = writeln!(err, "genesys-eventbridge bridge: shard {shard}: {topic}: rejected: {reason}");
                        }
                    }
                    SessionEvent::Stopped { shard, at, reason } => {
                        down.entry(shard).or_insert(at);
                        let _ = writeln!(err, "genesys-eventbridge bridge: shard {shard}: not listening since {}: {reason}", rfc3339(at));
                    }
                    SessionEvent::Failed { shard, error } => {
                        let _ = writeln!(err, "genesys-eventbridge bridge: shard {shard}: {error} (retrying)");
                    }
                }
            }
            notification = backfills.recv() => {
                let Some(notification) = notification else { continue };
                let received = chrono::Utc::now();
                let received_at = rfc3339(received);
                if let Some(entry) = entry_of(&notification, &options, &received_at, &mut window, err)
                    && entries.send(Queued { entry, ticket: unhandled.add(received), reported_held: false }).await.is_err()
                {
                    break;
                }
            }
            line = reported.recv() => {
                if let Some(line) = line {
                    let _ = writeln!(out, "{line}");
                    let _ = out.flush();
                }
            }
            _ = checkpoints.tick(), if options.checkpoint.is_some() => {
                save(&options, &mut saved, &down, unhandled.oldest(), err);
            }
            () = async { match stop_at { Some(at) => tokio::time::sleep_until(at).await, None => std::future::pending().await } } => break,
            () = &mut stop => break,
        }
    }
    // Stop reading; then the forwarder spools what is queued (without the network), or, with
    // no spool, publishes it within its budget; its report lines are written as they come.
    let _ = shutdown.send(true);
    for shard in shards {
        let _ = tokio::time::timeout(Duration::from_secs(2), shard.task).await;
    }
    drop(entries);
    let _ = stopping.send(true);
    tokio::pin!(forwarder);
    loop {
        tokio::select! {
            _ = &mut forwarder => break,
            Some(line) = reported.recv() => {
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            }
        }
    }
    while let Ok(line) = reported.try_recv() {
        let _ = writeln!(out, "{line}");
    }
    let _ = out.flush();
    save(&options, &mut saved, &down, unhandled.oldest(), err);
    0
}

/// Writes the checkpoint: listening until now, or down since the earliest shard still down;
/// never later than the receipt of the oldest entry not yet on the bus or in the spool
/// (`unhandled_since`), so that a restart reports, and backfills, what a crash lost from memory.
fn save(
    options: &BridgeOptions,
    saved: &mut Checkpoint,
    down: &BTreeMap<usize, chrono::DateTime<chrono::Utc>>,
    unhandled_since: Option<chrono::DateTime<chrono::Utc>>,
    err: &mut (dyn Write + Send),
) {
    let Some(path) = &options.checkpoint else {
        return;
    };
    let state = saved.shards.entry(CHECKPOINT_KEY.to_owned()).or_default();
    let earliest = |since: chrono::DateTime<chrono::Utc>| match unhandled_since {
        Some(unhandled) => since.min(unhandled),
        None => since,
    };
    match down.values().min() {
        Some(since) => state.open_gap_from = Some(earliest(*since)),
        None => {
            state.listening_until = Some(earliest(chrono::Utc::now()));
            state.open_gap_from = None;
        }
    }
    if let Err(error) = saved.save(path) {
        let _ = writeln!(
            err,
            "genesys-eventbridge bridge: {}",
            crate::error_chain(&error)
        );
    }
}

/// Every queue's id, for `--follow-queue all`; transient failures and those a configuration fix
/// heals are reported and retried, as for the available topics.
async fn every_queue<A: BridgeApi + ?Sized>(
    api: &A,
    settings: &SessionSettings,
    err: &mut (dyn Write + Send),
) -> Result<Vec<String>, String> {
    let queues =
        crate::stream::until_answered(settings, "bridge", err, |deadline| api.queues(deadline))
            .await?;
    if queues.is_empty() {
        return Err("the organization has no queues".into());
    }
    let _ = writeln!(
        err,
        "genesys-eventbridge bridge: following all {} queues",
        queues.len()
    );
    Ok(queues.into_iter().map(|queue| queue.id).collect())
}

/// The entry of `notification`, unless it is invalid (reported on `err`) or already seen.
fn entry_of(
    notification: &Value,
    options: &BridgeOptions,
    received_at: &str,
    window: &mut DedupWindow,
    err: &mut (dyn Write + Send),
) -> Option<Entry> {
    let topic = notification
        .get("topicName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let entry = match transform(notification, &options.source, received_at) {
        Ok(entry) => entry,
        Err(error) => {
            let _ = writeln!(
                err,
                "genesys-eventbridge bridge: {topic}: rejected: {error}"
            );
            return None;
        }
    };
    if let Err(problem) = check_entry(&entry, options.max_entry_bytes) {
        let _ = writeln!(
            err,
            "genesys-eventbridge bridge: {topic}: rejected: {problem}"
        );
        return None;
    }
    window
        .first_seen(&entry.bridge_event_id, topic)
        .is_none()
        .then_some(entry)
}

/// Backfills `gap` and hands the notifications to the bridge; a failure is logged as an error.
async fn fill<A: BridgeApi + 'static>(
    api: Arc<A>,
    queues: Vec<String>,
    gap: crate::stream::records::Gap,
    request_timeout: Duration,
    backfilled: mpsc::UnboundedSender<Value>,
) {
    let result = backfill::backfill(api.as_ref(), &queues, &gap, request_timeout).await;
    match result {
        Ok(notifications) => {
            tracing::info!(events = notifications.len(), gap.from = %rfc3339(gap.from), gap.to = %rfc3339(gap.to), "gap backfilled");
            for notification in notifications {
                let _ = backfilled.send(notification);
            }
        }
        Err(problem) => {
            tracing::error!(gap.from = %rfc3339(gap.from), gap.to = %rfc3339(gap.to), "backfill failed: {problem}");
        }
    }
}

/// Puts the new topics of the shards `change` names (starting a session for a new shard), or
/// reports that a conversation could not be covered.
fn apply(
    change: &Change,
    coverage: &Coverage,
    shards: &mut Vec<Shard>,
    start_shard: &impl Fn(&mut Vec<Shard>, Vec<String>, Option<(chrono::DateTime<chrono::Utc>, String)>),
    err: &mut (dyn Write + Send),
    conversation: &str,
) {
    match change {
        Change::Shards(changed) => {
            let topics = coverage.shards();
            for &index in changed {
                if index < shards.len() {
                    let _ = shards[index].wanted.send(topics[index].clone());
                } else {
                    start_shard(shards, topics[index].clone(), None);
                }
            }
        }
        Change::NoRoom => {
            let _ = writeln!(
                err,
                "genesys-eventbridge bridge: conversation {conversation} not covered: every channel holds 1,000 topics"
            );
        }
        Change::None => {}
    }
}
