//! The replay use case: an EventBridge archive's events of a time window sent again to the consumer's rule(s) on the archive's bus, under a deterministic name (the same replay asked twice is found, not doubled), and followed to its end; the `Replays` port and its adapter over the AWS SDK (`sdk.rs`). It prints nothing: what it sees goes to a [`Watch`].

mod sdk;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::time::Duration;

pub use sdk::SdkReplays;

/// An archive, as EventBridge describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive {
    /// Its ARN (a replay's `EventSourceArn`).
    pub arn: String,
    /// The ARN of the bus it archives (where a replay of it must go).
    pub bus_arn: String,
    /// `ENABLED`, `DISABLED`, `CREATING`, …
    pub state: String,
    /// Events held, when reported.
    pub event_count: Option<i64>,
}

/// A replay to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayRequest {
    /// `ReplayName`.
    pub name: String,
    /// The archive's ARN.
    pub archive_arn: String,
    /// The bus the events go to (the archive's own).
    pub bus_arn: String,
    /// The rules that get them (`FilterArns`); empty: every rule on the bus.
    pub rules: Vec<String>,
    /// The first event time replayed.
    pub from: DateTime<Utc>,
    /// The end of the window (exclusive).
    pub to: DateTime<Utc>,
}

/// The states of a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayState {
    /// `STARTING`.
    Starting,
    /// `RUNNING`.
    Running,
    /// `CANCELLING`.
    Cancelling,
    /// `COMPLETED`: every event of the window sent.
    Completed,
    /// `CANCELLED` (by someone, with `CancelReplay`).
    Cancelled,
    /// `FAILED`, with EventBridge's reason.
    Failed,
    /// A state this tool does not know.
    Other(String),
}

impl ReplayState {
    /// The state EventBridge names `name`.
    pub fn from_name(name: &str) -> Self {
        match name {
            "STARTING" => ReplayState::Starting,
            "RUNNING" => ReplayState::Running,
            "CANCELLING" => ReplayState::Cancelling,
            "COMPLETED" => ReplayState::Completed,
            "CANCELLED" => ReplayState::Cancelled,
            "FAILED" => ReplayState::Failed,
            other => ReplayState::Other(other.to_owned()),
        }
    }

    /// Its name, as EventBridge spells it.
    pub fn name(&self) -> &str {
        match self {
            ReplayState::Starting => "STARTING",
            ReplayState::Running => "RUNNING",
            ReplayState::Cancelling => "CANCELLING",
            ReplayState::Completed => "COMPLETED",
            ReplayState::Cancelled => "CANCELLED",
            ReplayState::Failed => "FAILED",
            ReplayState::Other(name) => name,
        }
    }

    /// True once the replay will not change again.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            ReplayState::Completed | ReplayState::Cancelled | ReplayState::Failed
        )
    }
}

/// A replay, as `DescribeReplay` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayStatus {
    /// Its state.
    pub state: ReplayState,
    /// Why it is in it (set for `FAILED`).
    pub reason: Option<String>,
    /// The time of the last event replayed so far.
    pub last_replayed: Option<DateTime<Utc>>,
}

/// What `StartReplay` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// A new replay, in this state.
    New(ReplayState),
    /// A replay of that name exists already (started before): it is not started again.
    Exists,
}

/// A failed EventBridge call of the replay port.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// No archive of that name (a setting to fix).
    #[error("no archive named {0} (the template's output ArchiveName or ArchiveArn)")]
    ArchiveNotFound(String),
    /// EventBridge refused the request as invalid (a window outside the archive's, a rule of
    /// another bus, …): a retry does not help.
    #[error("EventBridge refused {operation}")]
    Refused {
        /// The call.
        operation: &'static str,
        /// The SDK's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The call failed (throttling, the service's own failure, a timeout, no credentials):
    /// a retry may help.
    #[error("EventBridge {operation} failed")]
    Unavailable {
        /// The call.
        operation: &'static str,
        /// The SDK's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl ReplayError {
    /// Whether the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ReplayError::Unavailable { .. })
    }
}

/// EventBridge's archives and replays.
#[async_trait]
pub trait Replays: Send + Sync {
    /// The archive `name`.
    async fn archive(&self, name: &str) -> Result<Archive, ReplayError>;

    /// Starts `request`, or finds that a replay of its name exists.
    async fn start(&self, request: &ReplayRequest) -> Result<Started, ReplayError>;

    /// The replay `name` now.
    async fn describe(&self, name: &str) -> Result<ReplayStatus, ReplayError>;
}

/// The archive's name in `name_or_arn` (`arn:…:archive/{name}` or the name itself).
pub fn archive_name(name_or_arn: &str) -> &str {
    if name_or_arn.starts_with("arn:") {
        name_or_arn
            .rsplit_once(":archive/")
            .map_or(name_or_arn, |(_, name)| name)
    } else {
        name_or_arn
    }
}

/// The default name of a replay: its window and a hash of the archive, the destination bus and
/// the rules, so that asking for the same replay twice finds the first instead of sending the
/// events twice (at most 64 of `[A-Za-z0-9._-]`, as EventBridge takes).
pub fn replay_name(
    archive_arn: &str,
    bus_arn: &str,
    rules: &[String],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> String {
    let mut sorted: Vec<&str> = rules.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut hash = Sha256::new();
    for part in [archive_arn, bus_arn].into_iter().chain(sorted) {
        hash.update(part.as_bytes());
        hash.update([0x1f]);
    }
    let digest: String = hash.finalize()[..4]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let stamp = |time: DateTime<Utc>| time.format("%Y%m%dT%H%M%SZ").to_string();
    format!("replay-{}-{}-{digest}", stamp(from), stamp(to))
}

/// A replay name EventBridge would refuse.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} must be 1 to 64 of letters, digits, '.', '-' and '_'")]
pub struct BadName(pub String);

/// Checks a `--name`: 1 to 64 of letters, digits, `.`, `-`, `_`.
pub fn check_name(name: &str) -> Result<(), BadName> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    if name.is_empty() || name.len() > 64 || !name.chars().all(allowed) {
        return Err(BadName(name.to_owned()));
    }
    Ok(())
}

/// What to replay.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// The archive, by name or ARN.
    pub archive: String,
    /// The window's start.
    pub from: DateTime<Utc>,
    /// The window's end.
    pub to: DateTime<Utc>,
    /// The rules that get the events (empty: every rule on the bus).
    pub rules: Vec<String>,
    /// The destination bus ARN; the archive's own bus when `None`.
    pub bus: Option<String>,
    /// The replay's name; [`replay_name`] when `None`.
    pub name: Option<String>,
}

/// A replay started (or found).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartReport {
    /// The request made.
    pub request: ReplayRequest,
    /// The archive.
    pub archive: Archive,
    /// New, or existing already.
    pub started: Started,
}

/// Why a replay was not started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The window is empty or reversed.
    #[error("--from {from} is not before --to {to}")]
    EmptyWindow {
        /// `--from`.
        from: DateTime<Utc>,
        /// `--to`.
        to: DateTime<Utc>,
    },
    /// A call failed.
    #[error(transparent)]
    Call(#[from] ReplayError),
}

impl StartError {
    /// Whether a retry may help.
    pub fn is_retryable(&self) -> bool {
        match self {
            StartError::EmptyWindow { .. } => false,
            StartError::Call(error) => error.is_retryable(),
        }
    }
}

/// Starts the replay `options` describe (or finds it started already).
pub async fn start(
    replays: &dyn Replays,
    options: &ReplayOptions,
) -> Result<StartReport, StartError> {
    if options.from >= options.to {
        return Err(StartError::EmptyWindow {
            from: options.from,
            to: options.to,
        });
    }
    let archive = replays.archive(archive_name(&options.archive)).await?;
    let bus_arn = options
        .bus
        .clone()
        .unwrap_or_else(|| archive.bus_arn.clone());
    let name = options.name.clone().unwrap_or_else(|| {
        replay_name(
            &archive.arn,
            &bus_arn,
            &options.rules,
            options.from,
            options.to,
        )
    });
    let request = ReplayRequest {
        name,
        archive_arn: archive.arn.clone(),
        bus_arn,
        rules: options.rules.clone(),
        from: options.from,
        to: options.to,
    };
    let started = replays.start(&request).await?;
    Ok(StartReport {
        request,
        archive,
        started,
    })
}

/// How a replay is followed.
#[derive(Debug, Clone, Copy)]
pub struct Follow {
    /// Between two `DescribeReplay` calls.
    pub interval: Duration,
    /// The longest it is followed.
    pub timeout: Duration,
}

/// Where a followed replay's changes go.
pub trait Watch {
    /// The replay's status changed (state, or the last event replayed).
    fn status(&mut self, status: &ReplayStatus, elapsed: Duration);
}

/// Progress that keeps every status seen (for tests).
impl Watch for Vec<ReplayStatus> {
    fn status(&mut self, status: &ReplayStatus, _: Duration) {
        self.push(status.clone());
    }
}

/// How following a replay ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Followed {
    /// It reached a final state.
    Ended(ReplayStatus),
    /// The timeout came first; its last status.
    TimedOut(ReplayStatus),
}

/// Follows the replay `name` until it ends or `follow.timeout` passes, telling `watch` of each
/// change. A failed describe is tried again at the next interval until the timeout; the last
/// error is returned if no status was ever read.
pub async fn follow(
    replays: &dyn Replays,
    name: &str,
    follow: Follow,
    watch: &mut dyn Watch,
) -> Result<Followed, ReplayError> {
    let started = tokio::time::Instant::now();
    let mut last: Option<ReplayStatus> = None;
    let mut last_error = None;
    loop {
        match replays.describe(name).await {
            Ok(status) => {
                if last.as_ref() != Some(&status) {
                    watch.status(&status, started.elapsed());
                }
                if status.state.is_final() {
                    return Ok(Followed::Ended(status));
                }
                last = Some(status);
            }
            Err(error) if error.is_retryable() => last_error = Some(error),
            Err(error) => return Err(error),
        }
        if started.elapsed() + follow.interval > follow.timeout {
            return match (last, last_error) {
                (Some(status), _) => Ok(Followed::TimedOut(status)),
                (None, Some(error)) => Err(error),
                (None, None) => Ok(Followed::TimedOut(ReplayStatus {
                    state: ReplayState::Other("UNKNOWN".to_owned()),
                    reason: None,
                    last_replayed: None,
                })),
            };
        }
        tokio::time::sleep(follow.interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    /// Replays in memory: starting a name twice finds it; describe walks a script of states.
    #[derive(Default)]
    struct Memory {
        started: Mutex<Vec<ReplayRequest>>,
        states: Mutex<Vec<&'static str>>,
    }

    #[async_trait]
    impl Replays for Memory {
        async fn archive(&self, name: &str) -> Result<Archive, ReplayError> {
            if name != "genesys-events" {
                return Err(ReplayError::ArchiveNotFound(name.to_owned()));
            }
            Ok(Archive {
                arn: "arn:aws:events:eu-west-1:123456789012:archive/genesys-events".into(),
                bus_arn: "arn:aws:events:eu-west-1:123456789012:event-bus/default".into(),
                state: "ENABLED".into(),
                event_count: Some(3),
            })
        }

        async fn start(&self, request: &ReplayRequest) -> Result<Started, ReplayError> {
            let mut started = self.started.lock().unwrap();
            if started.iter().any(|r| r.name == request.name) {
                return Ok(Started::Exists);
            }
            started.push(request.clone());
            Ok(Started::New(ReplayState::Starting))
        }

        async fn describe(&self, _: &str) -> Result<ReplayStatus, ReplayError> {
            let mut states = self.states.lock().unwrap();
            let state = if states.len() > 1 {
                states.remove(0)
            } else {
                states[0]
            };
            Ok(ReplayStatus {
                state: ReplayState::from_name(state),
                reason: None,
                last_replayed: None,
            })
        }
    }

    fn options() -> ReplayOptions {
        ReplayOptions {
            archive: "arn:aws:events:eu-west-1:123456789012:archive/genesys-events".into(),
            from: at("2026-11-23T10:00:00Z"),
            to: at("2026-11-23T12:00:00Z"),
            rules: vec!["arn:aws:events:eu-west-1:123456789012:rule/genesys".into()],
            bus: None,
            name: None,
        }
    }

    #[tokio::test]
    async fn the_same_replay_asked_twice_is_started_once_and_then_found() {
        let replays = Memory::default();

        let first = start(&replays, &options()).await.unwrap();
        let second = start(&replays, &options()).await.unwrap();

        assert_eq!(first.started, Started::New(ReplayState::Starting));
        assert_eq!(second.started, Started::Exists);
        assert_eq!(first.request.name, second.request.name);
        assert_eq!(
            first.request.bus_arn, "arn:aws:events:eu-west-1:123456789012:event-bus/default",
            "the archive's own bus"
        );
        assert_eq!(replays.started.lock().unwrap().len(), 1);
    }

    #[test]
    fn the_default_name_is_the_window_and_a_hash_of_where_it_goes_within_eventbridge_s_limits() {
        let rule = vec!["arn:aws:events:eu-west-1:1:rule/a".to_owned()];
        let other = vec!["arn:aws:events:eu-west-1:1:rule/b".to_owned()];
        let (from, to) = (at("2026-11-23T10:00:00Z"), at("2026-11-23T12:00:00+00:00"));

        let name = replay_name("archive", "bus", &rule, from, to);

        assert!(
            name.starts_with("replay-20261123T100000Z-20261123T120000Z-"),
            "{name}"
        );
        assert!(check_name(&name).is_ok());
        assert_eq!(name, replay_name("archive", "bus", &rule, from, to));
        assert_ne!(name, replay_name("archive", "bus", &other, from, to));
        assert_ne!(name, replay_name("archive-2", "bus", &rule, from, to));
    }

    #[tokio::test]
    async fn a_reversed_window_or_an_unknown_archive_starts_nothing() {
        let replays = Memory::default();
        let reversed = ReplayOptions {
            from: at("2026-11-23T12:00:00Z"),
            to: at("2026-11-23T10:00:00Z"),
            ..options()
        };
        let unknown = ReplayOptions {
            archive: "other".into(),
            ..options()
        };

        assert!(matches!(
            start(&replays, &reversed).await,
            Err(StartError::EmptyWindow { .. })
        ));
        assert!(matches!(
            start(&replays, &unknown).await,
            Err(StartError::Call(ReplayError::ArchiveNotFound(_)))
        ));
        assert!(replays.started.lock().unwrap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn following_reports_each_change_once_until_a_final_state() {
        let replays = Memory::default();
        *replays.states.lock().unwrap() = vec!["STARTING", "RUNNING", "RUNNING", "COMPLETED"];
        let mut seen: Vec<ReplayStatus> = Vec::new();
        let follow_settings = Follow {
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(60),
        };

        let ended = follow(&replays, "r", follow_settings, &mut seen)
            .await
            .unwrap();

        assert!(matches!(ended, Followed::Ended(ref s) if s.state == ReplayState::Completed));
        let states: Vec<&str> = seen.iter().map(|s| s.state.name()).collect();
        assert_eq!(states, ["STARTING", "RUNNING", "COMPLETED"]);
    }

    #[tokio::test(start_paused = true)]
    async fn following_gives_up_at_the_timeout_with_the_last_status() {
        let replays = Memory::default();
        *replays.states.lock().unwrap() = vec!["RUNNING"];
        let follow_settings = Follow {
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(20),
        };

        let ended = follow(&replays, "r", follow_settings, &mut Vec::new())
            .await
            .unwrap();

        assert!(matches!(ended, Followed::TimedOut(ref s) if s.state == ReplayState::Running));
    }

    #[test]
    fn an_archive_is_named_by_its_name_or_its_arn() {
        assert_eq!(archive_name("genesys-events"), "genesys-events");
        assert_eq!(
            archive_name("arn:aws:events:eu-west-1:123456789012:archive/genesys-events"),
            "genesys-events"
        );
    }
}
