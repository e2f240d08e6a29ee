//! One shard's life: a channel with its subscriptions, a socket on it, heartbeats watched (ping after two silent intervals, dead after one more), system messages obeyed, subscriptions renewed before expiry, and reconnection forever with full-jitter backoff; every interval not listening reported as a gap.

use super::records::{FrameKind, Gap, frame_kind};
use chrono::{DateTime, Utc};
use futures_util::{SinkExt, StreamExt};
use gev_core::deadline::Deadline;
use gev_genesys::notifications::{Channel, NotificationsApi};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::tungstenite::Message;
use tracing::Instrument;

/// How a session waits and retries.
#[derive(Debug, Clone, Copy)]
pub struct SessionSettings {
    /// The heartbeat interval the server keeps (about 30 s).
    pub heartbeat: Duration,
    /// The first reconnection backoff ceiling; it doubles per failed attempt.
    pub backoff_base: Duration,
    /// The longest backoff.
    pub backoff_max: Duration,
    /// Subscriptions are put again this long before the channel expires.
    pub renew_before_expiry: Duration,
    /// The time each API call gets.
    pub request_timeout: Duration,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            heartbeat: Duration::from_secs(30),
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            renew_before_expiry: Duration::from_secs(3_600),
            request_timeout: Duration::from_secs(15),
        }
    }
}

/// What a session tells the stream.
#[derive(Debug)]
pub enum SessionEvent {
    /// A notification frame, as received, at this time.
    Frame {
        /// The shard.
        shard: usize,
        /// The frame's text.
        text: String,
        /// When it arrived.
        received_at: DateTime<Utc>,
    },
    /// The shard's first subscription: the topics Genesys refused, with reasons.
    Subscribed {
        /// The shard.
        shard: usize,
        /// Topics permitted.
        permitted: usize,
        /// Topics rejected, with the reason.
        rejected: Vec<(String, String)>,
    },
    /// The shard listens (again); the gap it closes, if any.
    Listening {
        /// The shard.
        shard: usize,
        /// The interval it was not listening.
        gap: Option<Gap>,
    },
    /// The shard stopped listening, and why.
    Stopped {
        /// The shard.
        shard: usize,
        /// Since when.
        at: DateTime<Utc>,
        /// Why.
        reason: String,
    },
    /// An attempt to listen failed (it is retried).
    Failed {
        /// The shard.
        shard: usize,
        /// What failed.
        error: SessionError,
    },
}

/// Why an attempt to listen failed; the session retries it with backoff.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// A Notifications API call failed (making or checking the channel, its subscriptions).
    #[error(transparent)]
    Genesys(#[from] gev_genesys::GenesysError),
    /// The socket's handshake did not complete in time.
    #[error("the socket of {channel} did not complete its handshake within {timeout:?}")]
    Handshake {
        /// The channel.
        channel: String,
        /// The time it had.
        timeout: Duration,
    },
    /// The socket could not be connected.
    #[error("cannot connect the socket of {channel}: {source}")]
    Connect {
        /// The channel.
        channel: String,
        /// What the WebSocket client said.
        #[source]
        source: tokio_tungstenite::tungstenite::Error,
    },
}

/// The shard's channel, and whether its subscriptions are known to be in place.
#[derive(Debug, Default)]
struct ChannelState {
    channel: Option<Channel>,
    subscribed: bool,
}

/// The socket of a connection.
type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A channel with a socket on it, and the span of the connection's life.
struct Established {
    channel: Channel,
    socket: Socket,
    connection: tracing::Span,
}

/// How a socket's life ended.
enum Ended {
    /// No frame for two heartbeats and no answer to a ping: since the last frame.
    Silent(DateTime<Utc>),
    /// The server warned it would close: reconnect at once (after a healthy life).
    Closing,
    /// Putting the subscriptions again failed: the channel may carry nothing any more.
    Unsubscribed(String, DateTime<Utc>),
    /// The token was revoked: new token, new channel.
    Revoked,
    /// The socket closed or failed.
    Closed(String),
    /// The stream is shutting down.
    Shutdown,
}

impl Ended {
    fn describe(&self) -> &'static str {
        match self {
            Ended::Silent(_) => "no heartbeat",
            Ended::Closing => "socket_closing",
            Ended::Unsubscribed(..) => "resubscription failed",
            Ended::Revoked => "token revoked",
            Ended::Closed(_) => "closed",
            Ended::Shutdown => "shutdown",
        }
    }
}

/// One shard of topics, kept listening until `shutdown` turns true.
pub struct Session {
    /// Its number (for events).
    pub shard: usize,
    /// Its topics (the rejected ones are dropped after the first subscription).
    pub topics: Vec<String>,
    /// Since when it has not been listening, when a checkpoint says so (a restart).
    pub down_since: Option<(DateTime<Utc>, String)>,
    /// The API.
    pub api: Arc<dyn NotificationsApi>,
    /// Timings.
    pub settings: SessionSettings,
    /// Where its events go.
    pub events: mpsc::Sender<SessionEvent>,
    /// When given, the shard's topics follow it: each new list is put as its subscriptions.
    pub wanted: Option<watch::Receiver<Vec<String>>>,
}

impl Session {
    /// Runs until `shutdown` is true.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut channel = ChannelState::default();
        let mut first_subscription = true;
        let mut failures: u32 = 0;
        while !*shutdown.borrow() {
            let attempt = self
                .listen(&mut channel, &mut first_subscription, &mut shutdown)
                .await;
            let healthy = self.settings.heartbeat * 2;
            let (at, reason, wait) = match attempt {
                Ok((Ended::Shutdown, _)) => return,
                Ok((ended, lived)) => {
                    // A socket that lived a healthy while resets the backoff.
                    if lived > healthy {
                        failures = 0;
                    }
                    match ended {
                        // Maintenance: reconnect at once, unless the socket closed within a
                        // heartbeat of opening (a `socket_closing` on every connect): then back
                        // off like any failure, or it becomes a reconnect storm.
                        Ended::Closing => {
                            let wait = lived < self.settings.heartbeat;
                            (Utc::now(), "socket_closing".to_owned(), wait)
                        }
                        Ended::Silent(last_frame) => (last_frame, "no heartbeat".to_owned(), true),
                        Ended::Closed(why) => (Utc::now(), why, true),
                        // Deaf since the frame that said so (or the change of topics).
                        Ended::Unsubscribed(why, since) => {
                            channel.subscribed = false;
                            (since, why, true)
                        }
                        // Ended::Revoked (Shutdown is matched above): a new channel, made with
                        // the new token the client fetches.
                        _ => {
                            channel = ChannelState::default();
                            (Utc::now(), "token revoked".to_owned(), true)
                        }
                    }
                }
                Err(error) => {
                    let _ = self
                        .events
                        .send(SessionEvent::Failed {
                            shard: self.shard,
                            error,
                        })
                        .await;
                    (Utc::now(), "reconnect failed".to_owned(), true)
                }
            };
            if self.down_since.is_none() {
                self.down_since = Some((at, reason.clone()));
                let shard = self.shard;
                let _ = self
                    .events
                    .send(SessionEvent::Stopped { shard, at, reason })
                    .await;
            }
            if wait {
                failures += 1;
                tokio::select! {
                    () = tokio::time::sleep(self.backoff(failures)) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }

    /// The wait before attempt `failures + 1`.
    fn backoff(&self, failures: u32) -> Duration {
        let settings = &self.settings;
        crate::backoff::full_jitter(settings.backoff_base, settings.backoff_max, failures)
    }

    fn deadline(&self) -> Deadline {
        Deadline::after(self.settings.request_timeout)
    }

    /// Makes sure of a channel with this shard's subscriptions, connects, and reads until the
    /// socket ends; an error is a failed attempt.
    async fn listen(
        &mut self,
        channel: &mut ChannelState,
        first_subscription: &mut bool,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(Ended, Duration), SessionError> {
        if let Some(wanted) = self.wanted.as_mut() {
            let topics = wanted.borrow_and_update().clone();
            // Topics changed while the shard was down are put even on a reused channel.
            if topics != self.topics {
                channel.subscribed = false;
                self.topics = topics;
            }
        }
        let establishing = tracing::info_span!(
            "stream.reconnect",
            shard = self.shard,
            channel.id = tracing::field::Empty,
            channel.reused = tracing::field::Empty,
        );
        let Established {
            channel: current,
            socket,
            connection,
        } = self
            .establish(channel, first_subscription)
            .instrument(establishing.clone())
            .await?;
        establishing.record("channel.id", current.id.as_str());
        drop(establishing);
        let gap = self.down_since.take().map(|(from, reason)| Gap {
            channel_id: current.id.clone(),
            topics: self.topics.clone(),
            from,
            to: Utc::now(),
            reason,
        });
        let shard = self.shard;
        let _ = self
            .events
            .send(SessionEvent::Listening { shard, gap })
            .await;
        let connected = Instant::now();
        let ended = self
            .read(socket, &current, shutdown)
            .instrument(connection.clone())
            .await;
        connection.record("ended", ended.describe());
        Ok((ended, connected.elapsed()))
    }

    /// A channel with the shard's subscriptions (the current one when it still exists, put
    /// again when they may be lost) and a socket on it, with the span its connection's life
    /// will be recorded in. Every step is bounded by the request timeout, the socket's
    /// handshake too: a handshake that never completes is a failed attempt, not a hang.
    async fn establish(
        &mut self,
        channel: &mut ChannelState,
        first_subscription: &mut bool,
    ) -> Result<Established, SessionError> {
        let reuse = match channel.channel.as_ref() {
            Some(current) => {
                self.api
                    .channel_exists(&current.id, self.deadline())
                    .await?
            }
            None => false,
        };
        if !reuse {
            let created = self.api.create_channel(self.deadline()).await?;
            // Kept even if subscribing fails: the next attempt subscribes it instead of
            // making another channel (Genesys evicts the oldest past 20 per client).
            *channel = ChannelState {
                channel: Some(created),
                subscribed: false,
            };
        }
        let current = channel.channel.clone().expect("a channel was made sure of");
        if !channel.subscribed {
            self.subscribe(&current.id, first_subscription).await?;
            channel.subscribed = true;
        }
        tracing::Span::current().record("channel.reused", reuse);
        let handshake = tokio_tungstenite::connect_async(current.connect_uri.as_str());
        let (socket, _) = tokio::time::timeout(self.settings.request_timeout, handshake)
            .await
            .map_err(|_| SessionError::Handshake {
                channel: current.id.clone(),
                timeout: self.settings.request_timeout,
            })?
            .map_err(|source| SessionError::Connect {
                channel: current.id.clone(),
                source,
            })?;
        let connection = tracing::info_span!(
            parent: None,
            "stream.connection",
            shard = self.shard,
            channel.id = current.id.as_str(),
            ended = tracing::field::Empty,
        );
        Ok(Established {
            channel: current,
            socket,
            connection,
        })
    }

    /// Puts the shard's subscriptions on channel `id`; the first time, reports the verdicts and
    /// drops the rejected topics.
    async fn subscribe(&mut self, id: &str, first: &mut bool) -> Result<(), SessionError> {
        let verdicts = self
            .api
            .put_subscriptions(id, &self.topics, self.deadline())
            .await?;
        if std::mem::take(first) {
            let rejected: Vec<(String, String)> = verdicts
                .iter()
                .filter(|verdict| !verdict.permitted)
                .map(|v| (v.topic.clone(), v.reason.clone().unwrap_or_default()))
                .collect();
            self.topics
                .retain(|topic| !rejected.iter().any(|(t, _)| t == topic));
            let permitted = self.topics.len();
            let shard = self.shard;
            let _ = self
                .events
                .send(SessionEvent::Subscribed {
                    shard,
                    permitted,
                    rejected,
                })
                .await;
        }
        Ok(())
    }

    /// Reads the socket until it ends.
    async fn read(
        &mut self,
        mut socket: Socket,
        channel: &Channel,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Ended {
        let mut wanted = self.wanted.take();
        let ended = self
            .read_with(&mut socket, channel, shutdown, wanted.as_mut())
            .await;
        self.wanted = wanted;
        if matches!(ended, Ended::Shutdown) {
            let _ = socket.close(None).await;
        }
        ended
    }

    /// Reads `socket` until it ends, putting the subscriptions again when `wanted` changes.
    async fn read_with(
        &mut self,
        socket: &mut Socket,
        channel: &Channel,
        shutdown: &mut watch::Receiver<bool>,
        mut wanted: Option<&mut watch::Receiver<Vec<String>>>,
    ) -> Ended {
        let heartbeat = self.settings.heartbeat;
        let mut last_frame = Utc::now();
        let mut silence = Instant::now() + heartbeat * 2;
        let mut pinged = false;
        let mut renew = Instant::now() + self.renewal_delay(channel);
        loop {
            tokio::select! {
                frame = socket.next() => {
                    let text = match frame {
                        Some(Ok(Message::Text(text))) => text.to_string(),
                        Some(Ok(Message::Close(frame))) => {
                            let why = frame.map_or_else(String::new, |f| format!(": {}", f.reason));
                            return Ended::Closed(format!("socket closed{why}"));
                        }
                        Some(Ok(_)) => String::new(),
                        Some(Err(error)) => return Ended::Closed(format!("socket failed: {error}")),
                        None => return Ended::Closed("socket dropped".into()),
                    };
                    last_frame = Utc::now();
                    silence = Instant::now() + heartbeat * 2;
                    pinged = false;
                    if text.is_empty() {
                        continue;
                    }
                    match classify(&text) {
                        FrameKind::Metadata => {}
                        FrameKind::SocketClosing => return Ended::Closing,
                        FrameKind::TokenRevoked => return Ended::Revoked,
                        FrameKind::Resubscribe => {
                            // Until the subscriptions are back the channel carries nothing:
                            // a failure ends the socket, so the shard counts as not listening
                            // (a gap) and reconnects, subscribing again, with backoff.
                            if let Err(error) = self.subscribe(&channel.id, &mut false).await {
                                return Ended::Unsubscribed(format!("resubscription failed: {}", gev_core::error_chain(&error)), last_frame);
                            }
                        }
                        FrameKind::Notification => {
                            let event = SessionEvent::Frame { shard: self.shard, text, received_at: last_frame };
                            if self.events.send(event).await.is_err() {
                                return Ended::Shutdown;
                            }
                        }
                    }
                }
                () = sleep_until(silence) => {
                    if pinged {
                        return Ended::Silent(last_frame);
                    }
                    pinged = true;
                    silence = Instant::now() + heartbeat;
                    if socket.send(Message::Text(r#"{"message":"ping"}"#.into())).await.is_err() {
                        return Ended::Closed("socket failed while pinging".into());
                    }
                }
                () = sleep_until(renew) => {
                    renew = Instant::now() + self.renewal_delay(channel);
                    if let Err(error) = self.subscribe(&channel.id, &mut false).await {
                        let shard = self.shard;
                        let _ = self.events.send(SessionEvent::Failed { shard, error }).await;
                        renew = Instant::now() + self.settings.backoff_max;
                    }
                }
                changed = async {
                    match wanted.as_deref_mut() {
                        Some(wanted) => wanted.changed().await.is_ok(),
                        None => std::future::pending().await,
                    }
                } => {
                    if changed && let Some(wanted) = wanted.as_deref_mut() {
                        let changed_at = Utc::now();
                        self.topics = wanted.borrow_and_update().clone();
                        // The new topics are not listened to until they are subscribed.
                        if let Err(error) = self.subscribe(&channel.id, &mut false).await {
                            return Ended::Unsubscribed(format!("subscribing the new topics failed: {}", gev_core::error_chain(&error)), changed_at);
                        }
                    } else if !changed {
                        // The sender is gone: the topics are final.
                        wanted = None;
                    }
                }
                _ = shutdown.changed() => return Ended::Shutdown,
            }
        }
    }

    /// How long until the subscriptions should be put again to extend the channel.
    fn renewal_delay(&self, channel: &Channel) -> Duration {
        let left = channel
            .expires
            .and_then(|expires| (expires - Utc::now()).to_std().ok())
            .unwrap_or(Duration::from_secs(86_400));
        left.saturating_sub(self.settings.renew_before_expiry)
            .max(left / 2)
            .max(Duration::from_millis(100))
    }
}

/// The kind of a frame's text.
fn classify(text: &str) -> FrameKind {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Head<'a> {
        #[serde(borrow, default)]
        topic_name: Option<std::borrow::Cow<'a, str>>,
        #[serde(default)]
        event_body: Option<Body>,
    }
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default)]
        message: Option<serde_json::Value>,
    }
    let Ok(head) = serde_json::from_str::<Head<'_>>(text) else {
        return FrameKind::Notification;
    };
    let message = head
        .event_body
        .and_then(|body| body.message)
        .and_then(|message| message.as_str().map(str::to_owned));
    frame_kind(
        head.topic_name.as_deref().unwrap_or_default(),
        message.as_deref(),
    )
}
