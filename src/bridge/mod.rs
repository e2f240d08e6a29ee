//! The bridge use case: stream sessions (topics given, followed queues, and the detail topics of each conversation seen on them) feeding the publish core through a bounded queue, with a spool when the bus will not take entries; gap records and publish outcomes as JSON lines, a clean stop that publishes or spools what is queued.

pub mod backfill;
mod coverage;
mod forward;
pub mod spool;

use crate::publish::{
    DedupWindow, Entry, EntryError, EventSink, SendPolicy, TransformError, check_entry, transform,
};
use crate::stream::checkpoint::{Checkpoint, CheckpointError, ShardState};
use crate::stream::records::{Gap, notification_line, rfc3339};
use crate::stream::session::{SessionEvent, SessionSettings};
use crate::stream::supervisor::Shards;
use crate::stream::{ShardProgress, StreamApi};
use chrono::{DateTime, Utc};
use coverage::{Change, Coverage, finished_conversation, queue_topic, queued_conversation};
use forward::{Forwarder, Queued, Unhandled};
use gev_genesys::GenesysError;
use gev_genesys::analytics::AnalyticsApi;
use gev_genesys::routing::RoutingApi;
use serde_json::Value;
use spool::Spool;
use std::future::Future;
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

/// Why a bridge did not start; each is a configuration error (the flags, the topics, the
/// checkpoint or spool given, or the organization's topics and queues unreadable for good).
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// Neither topics nor followed queues.
    #[error("give --topic or --follow-queue")]
    NoTopics,
    /// `--follow-queue all`, and the organization's queues could not be listed.
    #[error("--follow-queue all")]
    AllQueues(#[source] GenesysError),
    /// `--follow-queue all`, and the organization has no queues.
    #[error("--follow-queue all: the organization has no queues")]
    NoQueues,
    /// The organization's available topics could not be read.
    #[error(transparent)]
    AvailableTopics(GenesysError),
    /// The topics cannot be streamed (each problem names its topic).
    #[error(transparent)]
    Topics(#[from] crate::stream::topics::TopicProblems),
    /// The spool directory cannot be made or read.
    #[error("--spool {}", dir.display())]
    Spool {
        /// The directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The checkpoint file cannot be read.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

/// Why a notification is not published.
#[derive(Debug, thiserror::Error)]
pub enum Unpublishable {
    /// It cannot become an entry.
    #[error(transparent)]
    Transform(#[from] TransformError),
    /// Its entry is one EventBridge would refuse.
    #[error(transparent)]
    Entry(#[from] EntryError),
}

/// What a running bridge reports as it happens, in order; the CLI prints it. Nothing here can
/// stop the bridge: its product is on the bus (or in the spool), the lines are its report.
pub trait BridgeProgress: ShardProgress {
    /// An outcome line of the forwarder (published, rejected, spooled, held, failed).
    fn outcome(&mut self, line: &str);
    /// A gap record.
    fn gap(&mut self, gap: &Gap);
    /// Genesys refused a topic of shard `shard`.
    fn topic_rejected(&mut self, shard: usize, topic: &str, reason: &str);
    /// `--follow-queue all` follows this many queues.
    fn following_all(&mut self, queues: usize);
    /// A notification of `topic` not published, and why.
    fn not_published(&mut self, topic: &str, why: &Unpublishable);
    /// A conversation whose topics no channel has room for.
    fn not_covered(&mut self, conversation: &str);
}

/// Runs the bridge until `stop` resolves, reporting to `progress`; an error when it cannot
/// start.
pub async fn run<A: BridgeApi + 'static>(
    api: Arc<A>,
    sink: Arc<dyn EventSink>,
    options: BridgeOptions,
    progress: &mut dyn BridgeProgress,
    stop: impl Future<Output = ()>,
) -> Result<(), BridgeError> {
    let mut options = options;
    let fixed = prepare(api.as_ref(), &mut options, progress).await?;
    let spool = match options.spool.as_deref() {
        Some(dir) => Some(Spool::open(dir).map_err(|source| BridgeError::Spool {
            dir: dir.to_owned(),
            source,
        })?),
        None => None,
    };
    let saved = Checkpoint::load_optional(options.checkpoint.as_deref())?;
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
    let (backfilled, mut backfills) = mpsc::unbounded_channel::<Backfilled>();
    let mut bridge = Bridge::start(api, options, &fixed, saved, entries, unhandled, backfilled);
    let mut checkpoints = tokio::time::interval(crate::stream::checkpoint_every(
        bridge.options.checkpoint_interval,
    ));
    let stop_at = bridge
        .options
        .stop_after
        .map(|after| tokio::time::Instant::now() + after);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            // Sessions first: a checkpoint never passes frames already received.
            biased;
            // What a session says: notifications, gaps, subscription verdicts, failures.
            event = bridge.shards.next() => {
                let Some(event) = event else { break };
                if bridge.on_event(event, progress).await.is_err() {
                    break;
                }
            }
            // A gap's calls found by the details query.
            filled = backfills.recv() => {
                if let Some(filled) = filled
                    && bridge.on_backfill(filled, progress).await.is_err()
                {
                    break;
                }
            }
            // The forwarder's outcome lines.
            line = reported.recv() => {
                if let Some(line) = line {
                    progress.outcome(&line);
                }
            }
            _ = checkpoints.tick(), if bridge.options.checkpoint.is_some() => bridge.save(progress),
            () = async { match stop_at { Some(at) => tokio::time::sleep_until(at).await, None => std::future::pending().await } } => break,
            () = &mut stop => break,
        }
    }
    bridge
        .stop(forwarder, stopping, &mut reported, progress)
        .await;
    Ok(())
}

/// The queue to the forwarder closed: the bridge is stopping.
#[derive(Debug)]
struct QueueClosed;

/// The bridge's state between events: its shards and what they follow, the dedup window, the
/// queue to the forwarder with its unhandled entries, the checkpoint.
struct Bridge<A> {
    api: Arc<A>,
    options: BridgeOptions,
    shards: Shards,
    coverage: Coverage,
    window: DedupWindow,
    entries: mpsc::Sender<Queued>,
    unhandled: Unhandled,
    backfilled: mpsc::UnboundedSender<Backfilled>,
    saved: Checkpoint,
}

/// A gap's backfill: the notifications found for it, and the ticket that held the checkpoint
/// at the gap's start until they are queued.
struct Backfilled {
    gap: Gap,
    notifications: Vec<Value>,
    ticket: u64,
}

impl<A: BridgeApi + 'static> Bridge<A> {
    /// The bridge with its first shards running: the fixed topics (the followed queues' among
    /// them), the first reporting the time a previous run was not running.
    fn start(
        api: Arc<A>,
        options: BridgeOptions,
        fixed: &[String],
        saved: Checkpoint,
        entries: mpsc::Sender<Queued>,
        unhandled: Unhandled,
        backfilled: mpsc::UnboundedSender<Backfilled>,
    ) -> Self {
        let mut resume = saved
            .shards
            .get(CHECKPOINT_KEY)
            .and_then(ShardState::down_since)
            .map(|since| (since, "not running".to_owned()));
        let coverage = Coverage::new(fixed, crate::stream::topics::MAX_CHANNELS);
        let mut shards = Shards::new(api.clone(), options.settings);
        for topics in coverage.shards() {
            shards.spawn(topics, resume.take(), true);
        }
        Bridge {
            api,
            options,
            shards,
            coverage,
            window: DedupWindow::new(crate::publish::run::DEDUP_WINDOW),
            entries,
            unhandled,
            backfilled,
            saved,
        }
    }

    async fn on_event(
        &mut self,
        event: SessionEvent,
        progress: &mut dyn BridgeProgress,
    ) -> Result<(), QueueClosed> {
        match event {
            SessionEvent::Frame {
                text, received_at, ..
            } => return self.on_frame(&text, received_at, progress).await,
            SessionEvent::Listening { gap: Some(gap), .. } => self.on_gap(gap, progress),
            SessionEvent::Listening { gap: None, .. } => {}
            SessionEvent::Subscribed {
                shard, rejected, ..
            } => {
                for (topic, reason) in rejected {
                    progress.topic_rejected(shard, &topic, &reason);
                }
            }
            SessionEvent::Stopped { shard, at, reason } => {
                progress.shard_stopped(shard, at, &reason);
            }
            SessionEvent::Failed { shard, error } => progress.shard_failed(shard, &error),
        }
        Ok(())
    }

    /// A notification: a call queued on a followed queue gets its topics followed (and is
    /// published only with `--publish-queue-events`); anything else is published, and a
    /// call's `acw` ends its following.
    async fn on_frame(
        &mut self,
        text: &str,
        received_at: DateTime<Utc>,
        progress: &mut dyn BridgeProgress,
    ) -> Result<(), QueueClosed> {
        let Some((_, notification)) = notification_line(text, received_at) else {
            return Ok(());
        };
        let topic = notification
            .get("topicName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let body = notification.get("eventBody").cloned().unwrap_or_default();
        if let Some(conversation) = queued_conversation(&topic, &body) {
            let change = self.coverage.add(&conversation);
            self.follow(&change, &conversation, progress);
            if !self.options.publish_queue_events {
                return Ok(());
            }
        }
        self.enqueue(&notification, received_at, progress).await?;
        if let Some(conversation) = finished_conversation(&topic) {
            let change = self.coverage.remove(conversation);
            self.follow(&change, conversation, progress);
        }
        Ok(())
    }

    /// A gap: its record on the output, and with `--backfill` the query that fills it; until
    /// its calls are queued (never, if the query fails) the checkpoint stays at the gap's start,
    /// so a restart reports the gap again rather than losing it.
    fn on_gap(&mut self, gap: Gap, progress: &mut dyn BridgeProgress) {
        progress.gap(&gap);
        if self.options.backfill && !self.options.follow_queues.is_empty() {
            let ticket = self.unhandled.add(gap.from);
            tokio::spawn(fill(
                self.api.clone(),
                self.options.follow_queues.clone(),
                gap,
                self.options.settings.request_timeout,
                ticket,
                self.backfilled.clone(),
            ));
        }
    }

    /// A filled gap: its calls queued as received at the gap's start, then its ticket freed.
    async fn on_backfill(
        &mut self,
        filled: Backfilled,
        progress: &mut dyn BridgeProgress,
    ) -> Result<(), QueueClosed> {
        for notification in &filled.notifications {
            self.enqueue(notification, filled.gap.from, progress)
                .await?;
        }
        self.unhandled.done(filled.ticket);
        Ok(())
    }

    /// The notification's entry to the forwarder, counted unhandled from its receipt.
    async fn enqueue(
        &mut self,
        notification: &Value,
        received: DateTime<Utc>,
        progress: &mut dyn BridgeProgress,
    ) -> Result<(), QueueClosed> {
        let Some(entry) = entry_of(
            notification,
            &self.options,
            &rfc3339(received),
            &mut self.window,
            progress,
        ) else {
            return Ok(());
        };
        let queued = Queued {
            entry,
            ticket: self.unhandled.add(received),
            reported_held: false,
        };
        self.entries.send(queued).await.map_err(|_| QueueClosed)
    }

    /// Puts the new topics of the shards `change` names (starting a session for a new shard),
    /// or reports that a conversation could not be covered.
    fn follow(&mut self, change: &Change, conversation: &str, progress: &mut dyn BridgeProgress) {
        match change {
            Change::Shards(changed) => {
                let topics = self.coverage.shards();
                for &index in changed {
                    if index < self.shards.len() {
                        self.shards.retarget(index, topics[index].clone());
                    } else {
                        self.shards.spawn(topics[index].clone(), None, true);
                    }
                }
            }
            Change::NoRoom => progress.not_covered(conversation),
            Change::None => {}
        }
    }

    /// Writes the checkpoint as the shards stand now.
    fn save(&mut self, progress: &mut dyn BridgeProgress) {
        let down_since = self.shards.down_since();
        let written = write_checkpoint(
            &self.options,
            &mut self.saved,
            down_since,
            self.unhandled.oldest(),
        );
        if let Err(error) = written {
            progress.checkpoint_not_saved(&error);
        }
    }

    /// Stops reading; then the forwarder spools what is queued (without the network), or, with
    /// no spool, publishes it within its budget; its report lines are written as they come;
    /// the checkpoint last.
    async fn stop(
        self,
        forwarder: tokio::task::JoinHandle<()>,
        stopping: watch::Sender<bool>,
        reported: &mut mpsc::UnboundedReceiver<String>,
        progress: &mut dyn BridgeProgress,
    ) {
        let down_since = self.shards.down_since();
        let Bridge {
            shards,
            entries,
            options,
            mut saved,
            unhandled,
            ..
        } = self;
        shards.stop().await;
        // The closed queue and the stop signal end the forwarder's loop.
        drop(entries);
        let _ = stopping.send(true);
        tokio::pin!(forwarder);
        loop {
            tokio::select! {
                _ = &mut forwarder => break,
                Some(line) = reported.recv() => progress.outcome(&line),
            }
        }
        while let Ok(line) = reported.try_recv() {
            progress.outcome(&line);
        }
        if let Err(error) = write_checkpoint(&options, &mut saved, down_since, unhandled.oldest()) {
            progress.checkpoint_not_saved(&error);
        }
    }
}

/// Writes the checkpoint: listening until now, or down since `down_since` (the earliest shard
/// still down); never later than `unhandled_since`, the receipt of the oldest entry not yet on
/// the bus or in the spool, so that a restart reports, and backfills, what a crash lost from
/// memory.
fn write_checkpoint(
    options: &BridgeOptions,
    saved: &mut Checkpoint,
    down_since: Option<DateTime<Utc>>,
    unhandled_since: Option<DateTime<Utc>>,
) -> Result<(), CheckpointError> {
    let Some(path) = &options.checkpoint else {
        return Ok(());
    };
    let earliest = |since: DateTime<Utc>| match unhandled_since {
        Some(unhandled) => since.min(unhandled),
        None => since,
    };
    let state = saved.shards.entry(CHECKPOINT_KEY.to_owned()).or_default();
    match down_since {
        Some(since) => state.open_gap_from = Some(earliest(since)),
        None => {
            state.listening_until = Some(earliest(Utc::now()));
            state.open_gap_from = None;
        }
    }
    saved.save(path)
}

/// Resolves `--follow-queue all` and checks the topics: the fixed topics (given and the
/// followed queues'), or the problem that stops the bridge before it starts.
async fn prepare<A: BridgeApi>(
    api: &A,
    options: &mut BridgeOptions,
    progress: &mut dyn BridgeProgress,
) -> Result<Vec<String>, BridgeError> {
    if options
        .follow_queues
        .iter()
        .any(|queue| queue == ALL_QUEUES)
    {
        options.follow_queues = every_queue(api, &options.settings, progress).await?;
    }
    let fixed: Vec<String> = options
        .topics
        .iter()
        .cloned()
        .chain(options.follow_queues.iter().map(|queue| queue_topic(queue)))
        .collect();
    if fixed.is_empty() {
        return Err(BridgeError::NoTopics);
    }
    let available =
        crate::stream::available_topics(api, &options.settings, |error| progress.retrying(error))
            .await
            .map_err(BridgeError::AvailableTopics)?;
    crate::stream::topics::check_topics(&fixed, &available)?;
    Ok(fixed)
}

/// Every queue's id, for `--follow-queue all`; transient failures and those a configuration fix
/// heals are reported and retried, as for the available topics.
async fn every_queue<A: BridgeApi + ?Sized>(
    api: &A,
    settings: &SessionSettings,
    progress: &mut dyn BridgeProgress,
) -> Result<Vec<String>, BridgeError> {
    let queues = crate::stream::until_answered(
        settings,
        |error| progress.retrying(error),
        |deadline| api.queues(deadline),
    )
    .await
    .map_err(BridgeError::AllQueues)?;
    if queues.is_empty() {
        return Err(BridgeError::NoQueues);
    }
    progress.following_all(queues.len());
    Ok(queues.into_iter().map(|queue| queue.id).collect())
}

/// The entry of `notification`, unless it is invalid (reported) or already seen.
fn entry_of(
    notification: &Value,
    options: &BridgeOptions,
    received_at: &str,
    window: &mut DedupWindow,
    progress: &mut dyn BridgeProgress,
) -> Option<Entry> {
    let topic = notification
        .get("topicName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let checked = transform(notification, &options.source, received_at)
        .map_err(Unpublishable::from)
        .and_then(|entry| {
            check_entry(&entry, options.max_entry_bytes)?;
            Ok(entry)
        });
    let entry = match checked {
        Ok(entry) => entry,
        Err(why) => {
            progress.not_published(topic, &why);
            return None;
        }
    };
    window
        .first_seen(&entry.bridge_event_id, topic)
        .is_none()
        .then_some(entry)
}

/// Backfills `gap` and hands the notifications to the bridge; a failure is logged as an error
/// (and its ticket kept, so the checkpoint keeps the gap for the next run).
async fn fill<A: BridgeApi + 'static>(
    api: Arc<A>,
    queues: Vec<String>,
    gap: Gap,
    request_timeout: Duration,
    ticket: u64,
    backfilled: mpsc::UnboundedSender<Backfilled>,
) {
    let result = backfill::backfill(api.as_ref(), &queues, &gap, request_timeout).await;
    match result {
        Ok(notifications) => {
            tracing::info!(events = notifications.len(), gap.from = %rfc3339(gap.from), gap.to = %rfc3339(gap.to), "gap backfilled");
            let _ = backfilled.send(Backfilled {
                gap,
                notifications,
                ticket,
            });
        }
        Err(error) => {
            let problem = gev_core::error_chain(&error);
            tracing::error!(gap.from = %rfc3339(gap.from), gap.to = %rfc3339(gap.to), "backfill failed: {problem}");
        }
    }
}
