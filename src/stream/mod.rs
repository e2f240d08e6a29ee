//! The stream use case: topics checked and sharded over channels, one session per shard kept listening forever, every notification written as a JSON line, every interval not listening written as a gap record, a status line, a checkpoint, and a clean stop.

pub mod checkpoint;
pub mod records;
pub mod session;
pub mod supervisor;
pub mod topics;

use checkpoint::{Checkpoint, CheckpointError, ShardState, shard_key};
use chrono::{DateTime, Utc};
use gev_core::deadline::Deadline;
use gev_genesys::integrations::IntegrationsApi;
use gev_genesys::notifications::NotificationsApi;
use records::{Gap, event_time, notification_line};
use session::{SessionEvent, SessionSettings};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use supervisor::Shards;

/// What to stream and when to stop.
#[derive(Debug, Clone, Default)]
pub struct StreamOptions {
    /// Concrete topics.
    pub topics: Vec<String>,
    /// The checkpoint file, if any.
    pub checkpoint: Option<PathBuf>,
    /// How often the checkpoint is written while running (and at the stop); zero means the
    /// default, 5 s.
    pub checkpoint_interval: Duration,
    /// How often a status line goes to stderr.
    pub status_interval: Option<Duration>,
    /// Stop after this many notifications.
    pub stop_after_events: Option<u64>,
    /// Stop after this long.
    pub stop_after: Option<Duration>,
    /// Session timings.
    pub settings: SessionSettings,
}

/// How often the checkpoint is written while running, unless told otherwise.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(5);

/// The checkpoint's period: `configured`, or [`CHECKPOINT_INTERVAL`] when it is zero.
pub fn checkpoint_every(configured: Duration) -> Duration {
    if configured.is_zero() {
        CHECKPOINT_INTERVAL
    } else {
        configured
    }
}

/// The API a stream needs: available topics and the Notifications API.
pub trait StreamApi: NotificationsApi + IntegrationsApi {}
impl<T: NotificationsApi + IntegrationsApi> StreamApi for T {}

/// Why a stream did not start, or stopped before it was asked to.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The topics cannot be streamed (each problem names its topic): a configuration error.
    #[error(transparent)]
    Topics(#[from] topics::TopicProblems),
    /// More topics than one client's channels take: a configuration error.
    #[error(transparent)]
    TooManyTopics(#[from] topics::TooManyTopics),
    /// The organization's available topics could not be read (a failure no retry heals).
    #[error(transparent)]
    AvailableTopics(#[from] gev_genesys::GenesysError),
    /// The checkpoint file cannot be read: a configuration error.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// Genesys rejected every topic: nothing to listen to.
    #[error("every topic was rejected")]
    EveryTopicRejected,
    /// The output cannot be written (a closed pipe, a full disk): the stream stops.
    #[error("cannot write the output")]
    OutputUnwritable,
}

/// What a stream and a bridge both report as their shards live, in order; the CLI prints it.
pub trait ShardProgress: Send {
    /// A shard stopped listening at `since`.
    fn shard_stopped(&mut self, shard: usize, since: DateTime<Utc>, reason: &str);
    /// An attempt of a shard to listen failed; it is retried.
    fn shard_failed(&mut self, shard: usize, error: &session::SessionError);
    /// A request made before the start failed; it is retried.
    fn retrying(&mut self, error: &gev_genesys::GenesysError);
    /// The checkpoint could not be written (it is tried again at the next period).
    fn checkpoint_not_saved(&mut self, error: &CheckpointError);
}

/// What a running stream reports as it happens, in order; the CLI prints it. Only
/// [`StreamProgress::notification`] can fail: the output is the stream's product, and a stream
/// that cannot write it stops.
pub trait StreamProgress: ShardProgress {
    /// A notification, as its output line.
    fn notification(&mut self, line: &str) -> std::io::Result<()>;
    /// A gap record.
    fn gap(&mut self, gap: &Gap);
    /// No more frames are waiting (the output may be flushed).
    fn caught_up(&mut self);
    /// Genesys refused a topic.
    fn topic_rejected(&mut self, topic: &str, reason: &str);
    /// The periodic status (`--status-interval`).
    fn status(&mut self, status: &StreamStatus);
}

/// The figures of a status line: since the start, and the lags and rate of the last interval.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamStatus {
    /// Shards listening now.
    pub connected: usize,
    /// Shards in all.
    pub channels: usize,
    /// Notifications per second over the interval.
    pub events_per_second: f64,
    /// Notifications in all.
    pub events: u64,
    /// Notifications by topic template.
    pub per_topic: BTreeMap<String, u64>,
    /// Times a shard stopped listening.
    pub reconnects: u64,
    /// Failed attempts to listen.
    pub failures: u64,
    /// Gaps recorded, and their length.
    pub gaps: u64,
    /// The gaps' length in all.
    pub gap_ms: i64,
    /// The interval's lag (p50, max) in ms, when some event had a time.
    pub lag_ms: Option<(i64, i64)>,
    /// Notifications without an event time (their lag unknown).
    pub unknown_lag: u64,
}

/// How a stream ended: its figures, why it stopped early (if it did), and the last checkpoint's
/// write.
#[derive(Debug)]
pub struct StreamReport {
    /// Notifications written.
    pub events: u64,
    /// How long it ran.
    pub elapsed: Duration,
    /// Times a shard stopped listening.
    pub reconnects: u64,
    /// Gaps recorded.
    pub gaps: u64,
    /// Their length in all.
    pub gap_ms: i64,
    /// What stopped it before a signal or a limit did.
    pub stopped_by: Option<StreamError>,
    /// The checkpoint written at the stop, when it could not be.
    pub checkpoint_not_saved: Option<CheckpointError>,
}

/// The counts behind the status line.
#[derive(Debug, Default)]
struct Figures {
    events: u64,
    per_topic: BTreeMap<String, u64>,
    reconnects: u64,
    failures: u64,
    gaps: u64,
    gap_ms: i64,
    lags_ms: Vec<i64>,
    unknown_lag: u64,
    interval_events: u64,
}

/// Runs the stream until `stop` resolves (or a `--stop-after-*` limit), reporting to
/// `progress`; an error when it cannot start.
pub async fn run<A: StreamApi + 'static>(
    api: Arc<A>,
    options: StreamOptions,
    progress: &mut dyn StreamProgress,
    stop: impl Future<Output = ()>,
) -> Result<StreamReport, StreamError> {
    let started = Instant::now();
    let shards = prepare(api.as_ref(), &options, progress).await?;
    let mut saved = Checkpoint::load_optional(options.checkpoint.as_deref())?;
    let keys: Vec<String> = shards.iter().map(|topics| shard_key(topics)).collect();
    let mut sessions = Shards::new(api.clone(), options.settings);
    for (shard, topics) in shards.into_iter().enumerate() {
        let down_since = saved
            .shards
            .get(&keys[shard])
            .and_then(ShardState::down_since)
            .map(|since| (since, "not running".to_owned()));
        sessions.spawn(topics, down_since, false);
    }
    let mut state: Vec<ShardState> = keys
        .iter()
        .map(|key| saved.shards.get(key).cloned().unwrap_or_default())
        .collect();
    let mut subscribed = vec![None; keys.len()];
    let mut figures = Figures::default();
    let status_every = options
        .status_interval
        .unwrap_or(Duration::from_secs(3_600));
    let mut status = tokio::time::interval(status_every);
    status.tick().await;
    // The checkpoint has its own timer: whatever the status interval, a crash loses at most
    // this much of the record of when the stream was listening.
    let mut checkpoints = tokio::time::interval(checkpoint_every(options.checkpoint_interval));
    checkpoints.tick().await;
    let mut last_status = Instant::now();
    let stop_at = options
        .stop_after
        .map(|after| tokio::time::Instant::now() + after);
    tokio::pin!(stop);
    let stopped_by = loop {
        tokio::select! {
            // Sessions first: a checkpoint never passes frames already received.
            biased;
            event = sessions.next() => {
                let Some(event) = event else { break None };
                match event {
                    SessionEvent::Frame { shard, text, received_at } => {
                        let Some((line, value)) = notification_line(&text, received_at) else { continue };
                        if progress.notification(&line).is_err() {
                            break Some(StreamError::OutputUnwritable);
                        }
                        count(&mut figures, &value, received_at);
                        state[shard].last_event_at = Some(received_at);
                        if options.stop_after_events.is_some_and(|limit| figures.events >= limit) {
                            break None;
                        }
                    }
                    SessionEvent::Subscribed { shard, permitted, rejected } => {
                        for (topic, reason) in &rejected {
                            progress.topic_rejected(topic, reason);
                        }
                        subscribed[shard] = Some(permitted);
                        if subscribed.iter().all(Option::is_some)
                            && subscribed.iter().flatten().sum::<usize>() == 0
                        {
                            break Some(StreamError::EveryTopicRejected);
                        }
                    }
                    SessionEvent::Listening { shard, gap } => {
                        state[shard].open_gap_from = None;
                        state[shard].listening_until = Some(Utc::now());
                        if let Some(gap) = gap {
                            figures.gaps += 1;
                            figures.gap_ms += gap.duration_ms();
                            progress.gap(&gap);
                        }
                    }
                    SessionEvent::Stopped { shard, at, reason } => {
                        state[shard].open_gap_from = Some(at);
                        figures.reconnects += 1;
                        progress.shard_stopped(shard, at, &reason);
                    }
                    SessionEvent::Failed { shard, error } => {
                        figures.failures += 1;
                        progress.shard_failed(shard, &error);
                    }
                }
                if !sessions.has_pending() {
                    progress.caught_up();
                }
            }
            _ = status.tick(), if options.status_interval.is_some() => {
                progress.status(&take_status(&mut figures, &listening(&sessions), last_status.elapsed()));
                last_status = Instant::now();
            }
            _ = checkpoints.tick(), if options.checkpoint.is_some() => {
                if let Err(error) = save(&options, &mut saved, &keys, &state, &listening(&sessions)) {
                    progress.checkpoint_not_saved(&error);
                }
            }
            () = async { match stop_at { Some(at) => tokio::time::sleep_until(at).await, None => std::future::pending().await } } => break None,
            () = &mut stop => break None,
        }
    };
    let connected = listening(&sessions);
    sessions.stop().await;
    progress.caught_up();
    let checkpoint_not_saved = save(&options, &mut saved, &keys, &state, &connected).err();
    Ok(StreamReport {
        events: figures.events,
        elapsed: started.elapsed(),
        reconnects: figures.reconnects,
        gaps: figures.gaps,
        gap_ms: figures.gap_ms,
        stopped_by,
        checkpoint_not_saved,
    })
}

/// Whether each shard listens now.
fn listening(sessions: &Shards) -> Vec<bool> {
    (0..sessions.len())
        .map(|shard| sessions.is_listening(shard))
        .collect()
}

/// The checked topics, sharded; or the problem that stops the stream before it starts.
async fn prepare<A: StreamApi>(
    api: &A,
    options: &StreamOptions,
    progress: &mut dyn StreamProgress,
) -> Result<Vec<Vec<String>>, StreamError> {
    let available =
        available_topics(api, &options.settings, |error| progress.retrying(error)).await?;
    topics::check_topics(&options.topics, &available)?;
    Ok(topics::shard(&options.topics)?)
}

/// The organization's available topics, asked for until Genesys answers (see `until_answered`).
pub async fn available_topics<A: StreamApi + ?Sized>(
    api: &A,
    settings: &SessionSettings,
    retrying: impl FnMut(&gev_genesys::GenesysError),
) -> Result<Vec<gev_genesys::integrations::AvailableTopic>, gev_genesys::GenesysError> {
    until_answered(settings, retrying, |deadline| {
        api.available_topics(deadline)
    })
    .await
}

/// `call`, made again while it fails in a way a retry or a configuration fix can heal (a
/// transient failure, a refused token): each such failure is handed to `retrying` and followed
/// by a full-jitter backoff; any other failure is the error.
pub async fn until_answered<T, F, Fut>(
    settings: &SessionSettings,
    mut retrying: impl FnMut(&gev_genesys::GenesysError),
    mut call: F,
) -> Result<T, gev_genesys::GenesysError>
where
    F: FnMut(Deadline) -> Fut,
    Fut: Future<Output = Result<T, gev_genesys::GenesysError>>,
{
    let mut failures = 0;
    loop {
        match call(Deadline::after(settings.request_timeout)).await {
            Ok(answer) => return Ok(answer),
            Err(error) if error.is_retryable() || error.needs_configuration_fix() => {
                failures += 1;
                retrying(&error);
                let wait = crate::backoff::full_jitter(
                    settings.backoff_base,
                    settings.backoff_max,
                    failures,
                );
                tokio::time::sleep(wait).await;
            }
            Err(error) => return Err(error),
        }
    }
}

fn count(figures: &mut Figures, notification: &serde_json::Value, received_at: DateTime<Utc>) {
    figures.events += 1;
    figures.interval_events += 1;
    let topic = notification
        .get("topicName")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    *figures.per_topic.entry(topics_template(topic)).or_default() += 1;
    match event_time(notification) {
        Some(time) if figures.lags_ms.len() < 100_000 => {
            figures
                .lags_ms
                .push((received_at - time).num_milliseconds());
        }
        Some(_) => {}
        None => figures.unknown_lag += 1,
    }
}

/// Topic counts are kept per template (ids as `{id}`), so the status line stays short.
fn topics_template(topic: &str) -> String {
    crate::publish::transform::topic_template(topic)
}

/// The status of the interval now ending (its lags and rate then start again), with its span.
fn take_status(figures: &mut Figures, connected: &[bool], elapsed: Duration) -> StreamStatus {
    figures.lags_ms.sort_unstable();
    let lags = &figures.lags_ms;
    let lag_ms = (!lags.is_empty()).then(|| (lags[(lags.len() - 1) / 2], lags[lags.len() - 1]));
    #[allow(clippy::cast_precision_loss)]
    let rate = figures.interval_events as f64 / elapsed.as_secs_f64().max(0.001);
    let status = StreamStatus {
        connected: connected.iter().filter(|c| **c).count(),
        channels: connected.len(),
        events_per_second: rate,
        events: figures.events,
        per_topic: figures.per_topic.clone(),
        reconnects: figures.reconnects,
        failures: figures.failures,
        gaps: figures.gaps,
        gap_ms: figures.gap_ms,
        lag_ms,
        unknown_lag: figures.unknown_lag,
    };
    // The same figures as a span, for OpenTelemetry when it is exported.
    let _status = tracing::info_span!(
        "stream.status",
        channels.connected = status.connected,
        channels.total = status.channels,
        events = status.events,
        events_per_second = rate,
        reconnects = status.reconnects,
        failed_attempts = status.failures,
        gaps = status.gaps,
        gap_ms = status.gap_ms,
        lag_p50_ms = lag_ms.map(|(p50, _)| p50),
        lag_max_ms = lag_ms.map(|(_, max)| max),
    )
    .entered();
    figures.lags_ms.clear();
    figures.interval_events = 0;
    status
}

/// Writes the checkpoint (when there is one): each shard as it stands, listening until now when
/// it listens.
fn save(
    options: &StreamOptions,
    saved: &mut Checkpoint,
    keys: &[String],
    state: &[ShardState],
    connected: &[bool],
) -> Result<(), CheckpointError> {
    let Some(path) = &options.checkpoint else {
        return Ok(());
    };
    let now = Utc::now();
    for ((key, shard), listening) in keys.iter().zip(state).zip(connected) {
        let mut shard = shard.clone();
        if *listening {
            shard.listening_until = Some(now);
            shard.open_gap_from = None;
        }
        saved.shards.insert(key.clone(), shard);
    }
    saved.save(path)
}
