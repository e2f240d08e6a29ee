//! The stream use case: topics checked and sharded over channels, one session per shard kept listening forever, every notification written as a JSON line, every interval not listening written as a gap record, a status line, a checkpoint, and a clean stop.

pub mod checkpoint;
pub mod records;
pub mod session;
pub mod supervisor;
pub mod topics;

use checkpoint::{Checkpoint, ShardState, shard_key};
use chrono::{DateTime, Utc};
use gev_core::deadline::Deadline;
use gev_genesys::integrations::IntegrationsApi;
use gev_genesys::notifications::NotificationsApi;
use records::{Gap, event_time, notification_line};
use session::{SessionEvent, SessionSettings};
use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write;
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

/// Runs the stream until `stop` resolves (or a `--stop-after-*` limit); returns the exit code.
pub async fn run<A: StreamApi + 'static>(
    api: Arc<A>,
    options: StreamOptions,
    out: &mut (dyn Write + Send),
    err: &mut (dyn Write + Send),
    stop: impl Future<Output = ()>,
) -> i32 {
    let started = Instant::now();
    let shards = match prepare(api.as_ref(), &options, err).await {
        Ok(shards) => shards,
        Err(problem) => {
            let _ = writeln!(err, "genesys-eventbridge stream: {problem}");
            return 2;
        }
    };
    let mut saved = match Checkpoint::load_optional(options.checkpoint.as_deref()) {
        Ok(saved) => saved,
        Err(error) => {
            let _ = writeln!(
                err,
                "genesys-eventbridge stream: {}",
                gev_core::error_chain(&error)
            );
            return 2;
        }
    };
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
    let code = loop {
        tokio::select! {
            // Sessions first: a checkpoint never passes frames already received.
            biased;
            event = sessions.next() => {
                let Some(event) = event else { break 0 };
                match event {
                    SessionEvent::Frame { shard, text, received_at } => {
                        let Some((line, value)) = notification_line(&text, received_at) else { continue };
                        if writeln!(out, "{line}").is_err() {
                            let _ = writeln!(err, "genesys-eventbridge stream: cannot write the output");
                            break 1;
                        }
                        count(&mut figures, &value, received_at);
                        state[shard].last_event_at = Some(received_at);
                        if options.stop_after_events.is_some_and(|limit| figures.events >= limit) {
                            break 0;
                        }
                    }
                    SessionEvent::Subscribed { shard, permitted, rejected } => {
                        for (topic, reason) in &rejected {
                            let _ = writeln!(err, "genesys-eventbridge stream: {topic}: rejected: {reason}");
                        }
                        subscribed[shard] = Some(permitted);
                        if subscribed.iter().all(Option::is_some)
                            && subscribed.iter().flatten().sum::<usize>() == 0
                        {
                            let _ = writeln!(err, "genesys-eventbridge stream: every topic was rejected");
                            break 2;
                        }
                    }
                    SessionEvent::Listening { shard, gap } => {
                        state[shard].open_gap_from = None;
                        state[shard].listening_until = Some(Utc::now());
                        if let Some(gap) = gap {
                            record_gap(out, &mut figures, &gap);
                        }
                    }
                    SessionEvent::Stopped { shard, at, reason } => {
                        state[shard].open_gap_from = Some(at);
                        figures.reconnects += 1;
                        let _ = writeln!(err, "genesys-eventbridge stream: shard {shard}: not listening since {}: {reason}", records::rfc3339(at));
                    }
                    SessionEvent::Failed { shard, error } => {
                        figures.failures += 1;
                        let _ = writeln!(err, "genesys-eventbridge stream: shard {shard}: {error} (retrying)");
                    }
                }
                if !sessions.has_pending() {
                    let _ = out.flush();
                }
            }
            _ = status.tick(), if options.status_interval.is_some() => {
                write_status(err, &mut figures, &listening(&sessions), last_status.elapsed());
                last_status = Instant::now();
            }
            _ = checkpoints.tick(), if options.checkpoint.is_some() => {
                save(&options, &mut saved, &keys, &state, &listening(&sessions), err);
            }
            () = async { match stop_at { Some(at) => tokio::time::sleep_until(at).await, None => std::future::pending().await } } => break 0,
            () = &mut stop => break 0,
        }
    };
    let connected = listening(&sessions);
    sessions.stop().await;
    let _ = out.flush();
    save(&options, &mut saved, &keys, &state, &connected, err);
    let _ = writeln!(
        err,
        "genesys-eventbridge stream: {} notifications in {:.1} s, {} reconnects, {} gaps ({} ms)",
        figures.events,
        started.elapsed().as_secs_f64(),
        figures.reconnects,
        figures.gaps,
        figures.gap_ms
    );
    code
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
    err: &mut (dyn Write + Send),
) -> Result<Vec<Vec<String>>, String> {
    let available = available_topics(api, &options.settings, "stream", err).await?;
    topics::check_topics(&options.topics, &available).map_err(|problems| problems.join("\n"))?;
    topics::shard(&options.topics)
}

/// The organization's available topics, asked for until Genesys answers (see `until_answered`).
pub async fn available_topics<A: StreamApi + ?Sized>(
    api: &A,
    settings: &SessionSettings,
    tool: &str,
    err: &mut (dyn Write + Send),
) -> Result<Vec<gev_genesys::integrations::AvailableTopic>, String> {
    until_answered(settings, tool, err, |deadline| {
        api.available_topics(deadline)
    })
    .await
}

/// `call`, made again while it fails in a way a retry or a configuration fix can heal (a
/// transient failure, a refused token): each failure is reported on `err` as `{tool}: …` and
/// followed by a full-jitter backoff; any other failure is the error.
pub async fn until_answered<T, F, Fut>(
    settings: &SessionSettings,
    tool: &str,
    err: &mut (dyn Write + Send),
    mut call: F,
) -> Result<T, String>
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
                let _ = writeln!(
                    err,
                    "genesys-eventbridge {tool}: {} (retrying)",
                    gev_core::error_chain(&error)
                );
                let wait = crate::backoff::full_jitter(
                    settings.backoff_base,
                    settings.backoff_max,
                    failures,
                );
                tokio::time::sleep(wait).await;
            }
            Err(error) => return Err(gev_core::error_chain(&error)),
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

fn record_gap(out: &mut dyn Write, figures: &mut Figures, gap: &Gap) {
    figures.gaps += 1;
    figures.gap_ms += gap.duration_ms();
    let _ = writeln!(out, "{}", gap.to_record());
}

fn write_status(err: &mut dyn Write, figures: &mut Figures, connected: &[bool], elapsed: Duration) {
    figures.lags_ms.sort_unstable();
    let lag = match figures.lags_ms.as_slice() {
        [] => "unknown".to_owned(),
        lags => format!(
            "p50 {} ms, max {} ms",
            lags[(lags.len() - 1) / 2],
            lags[lags.len() - 1]
        ),
    };
    #[allow(clippy::cast_precision_loss)]
    let rate = figures.interval_events as f64 / elapsed.as_secs_f64().max(0.001);
    let topics: Vec<String> = figures
        .per_topic
        .iter()
        .map(|(topic, n)| format!("{topic} {n}"))
        .collect();
    let _ = writeln!(
        err,
        "stream status: {}/{} channels connected, {rate:.1} events/s, {} events ({}), {} reconnects, {} failed attempts, {} gaps ({} ms), lag {lag}{}",
        connected.iter().filter(|c| **c).count(),
        connected.len(),
        figures.events,
        topics.join(", "),
        figures.reconnects,
        figures.failures,
        figures.gaps,
        figures.gap_ms,
        if figures.unknown_lag > 0 {
            format!(" ({} without an event time)", figures.unknown_lag)
        } else {
            String::new()
        },
    );
    // The same figures as a span, for OpenTelemetry when it is exported.
    let lags = &figures.lags_ms;
    let _status = tracing::info_span!(
        "stream.status",
        channels.connected = connected.iter().filter(|c| **c).count(),
        channels.total = connected.len(),
        events = figures.events,
        events_per_second = rate,
        reconnects = figures.reconnects,
        failed_attempts = figures.failures,
        gaps = figures.gaps,
        gap_ms = figures.gap_ms,
        lag_p50_ms = lags.get(lags.len().saturating_sub(1) / 2).copied(),
        lag_max_ms = lags.last().copied(),
    )
    .entered();
    figures.lags_ms.clear();
    figures.interval_events = 0;
}

fn save(
    options: &StreamOptions,
    saved: &mut Checkpoint,
    keys: &[String],
    state: &[ShardState],
    connected: &[bool],
    err: &mut dyn Write,
) {
    let Some(path) = &options.checkpoint else {
        return;
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
    if let Err(error) = saved.save(path) {
        let _ = writeln!(
            err,
            "genesys-eventbridge stream: {}",
            gev_core::error_chain(&error)
        );
    }
}
