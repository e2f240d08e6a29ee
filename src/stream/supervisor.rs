//! The shards of a stream or a bridge: one session per shard of topics, each kept listening by its own task; what the sessions say, with each shard's listening state kept (since when it is down); a shard's topics changed while it runs; one stop for all.

use super::session::{Session, SessionEvent, SessionSettings};
use chrono::{DateTime, Utc};
use gev_genesys::notifications::NotificationsApi;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How long the stop waits for each session to close its socket.
const SESSION_STOP: Duration = Duration::from_secs(2);

/// One running shard: its task, and the sender of its topics when they may change.
struct Shard {
    task: tokio::task::JoinHandle<()>,
    wanted: Option<watch::Sender<Vec<String>>>,
}

/// The sessions of one stream or bridge.
pub struct Shards {
    api: Arc<dyn NotificationsApi>,
    settings: SessionSettings,
    sender: mpsc::Sender<SessionEvent>,
    events: mpsc::Receiver<SessionEvent>,
    shutdown: watch::Sender<bool>,
    shards: Vec<Shard>,
    /// Since when each shard that is not listening has not been (from its start, or from the
    /// checkpoint's time for a restart, until it first listens).
    down: BTreeMap<usize, DateTime<Utc>>,
}

impl Shards {
    /// No shards yet; sessions will use `api` and `settings`.
    pub fn new(api: Arc<dyn NotificationsApi>, settings: SessionSettings) -> Self {
        let (sender, events) = mpsc::channel(4_096);
        Shards {
            api,
            settings,
            sender,
            events,
            shutdown: watch::channel(false).0,
            shards: Vec::new(),
            down: BTreeMap::new(),
        }
    }

    /// Starts a session for `topics`: down since `down_since` (a restart's checkpoint, with the
    /// reason its gap will give) or since now; `follow` lets its topics change later
    /// ([`Shards::retarget`]). Returns the shard's number.
    pub fn spawn(
        &mut self,
        topics: Vec<String>,
        down_since: Option<(DateTime<Utc>, String)>,
        follow: bool,
    ) -> usize {
        let shard = self.shards.len();
        let (wanted, wanted_seen) = if follow {
            let (sender, receiver) = watch::channel(topics.clone());
            (Some(sender), Some(receiver))
        } else {
            (None, None)
        };
        self.down.insert(
            shard,
            down_since
                .as_ref()
                .map_or_else(Utc::now, |(since, _)| *since),
        );
        let session = Session {
            shard,
            topics,
            down_since,
            api: self.api.clone(),
            settings: self.settings,
            events: self.sender.clone(),
            wanted: wanted_seen,
        };
        let task = tokio::spawn(session.run(self.shutdown.subscribe()));
        self.shards.push(Shard { task, wanted });
        shard
    }

    /// Puts `topics` as the subscriptions of shard `shard` (started with `follow`).
    pub fn retarget(&self, shard: usize, topics: Vec<String>) {
        if let Some(wanted) = self.shards.get(shard).and_then(|s| s.wanted.as_ref()) {
            let _ = wanted.send(topics);
        }
    }

    /// How many shards run.
    pub fn len(&self) -> usize {
        self.shards.len()
    }

    /// True when no shard runs.
    pub fn is_empty(&self) -> bool {
        self.shards.is_empty()
    }

    /// The next thing a session says; a shard's listening state follows its `Listening` and
    /// `Stopped` events. Sessions end only at the stop (shards may still be added meanwhile),
    /// so this waits while none speaks.
    pub async fn next(&mut self) -> Option<SessionEvent> {
        let event = self.events.recv().await?;
        match &event {
            SessionEvent::Listening { shard, .. } => {
                self.down.remove(shard);
            }
            SessionEvent::Stopped { shard, at, .. } => {
                self.down.entry(*shard).or_insert(*at);
            }
            _ => {}
        }
        Some(event)
    }

    /// True when a next event is already waiting.
    pub fn has_pending(&self) -> bool {
        !self.events.is_empty()
    }

    /// True when shard `shard` listens now.
    pub fn is_listening(&self, shard: usize) -> bool {
        shard < self.shards.len() && !self.down.contains_key(&shard)
    }

    /// Since when the earliest shard that is not listening has not been.
    pub fn down_since(&self) -> Option<DateTime<Utc>> {
        self.down.values().min().copied()
    }

    /// Ends every session (each closes its socket), all within [`SESSION_STOP`]; a session
    /// still busy then (e.g. making its channel) is aborted.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let (tasks, aborts): (Vec<_>, Vec<_>) = self
            .shards
            .into_iter()
            .map(|shard| {
                let abort = shard.task.abort_handle();
                (shard.task, abort)
            })
            .unzip();
        let _ = tokio::time::timeout(SESSION_STOP, futures_util::future::join_all(tasks)).await;
        for abort in aborts {
            abort.abort();
        }
    }
}
