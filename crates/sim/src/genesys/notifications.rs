//! The simulated Notifications API: channels (24 h expiry, 20 per client, the oldest unconnected evicted), subscriptions (1,000 topics, per-topic rejection), `HEAD`, and the admin endpoints that publish notifications and break sockets.

use super::Simulator;
use super::answers::error;
use super::integrations::TOPICS;
use super::socket::SocketCommand;
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// Topics one channel may hold.
pub(crate) const MAX_TOPICS_PER_CHANNEL: usize = 1_000;
/// Channels one client may hold; creating another evicts the oldest unconnected one.
pub(crate) const MAX_CHANNELS: usize = 20;

/// One channel.
#[derive(Debug)]
pub(super) struct SimChannel {
    pub(super) created: u64,
    pub(super) expires: chrono::DateTime<chrono::Utc>,
    pub(super) topics: BTreeSet<String>,
    /// The connected socket, if any, and its number (a newer one kicks it).
    pub(super) socket: Option<(u64, UnboundedSender<SocketCommand>)>,
}

/// The channels, and how sockets behave.
#[derive(Debug, Default)]
pub(super) struct Channels {
    pub(super) channels: BTreeMap<String, SimChannel>,
    pub(super) created: u64,
    pub(super) sockets: u64,
    /// The URI of every socket request, in order.
    pub(super) socket_uris: Vec<String>,
    /// Faults applied to every socket and subscription while set.
    pub(super) faults: SocketFaults,
    /// Subscription requests (PUT or POST) received.
    pub(super) subscription_requests: u64,
}

/// Faults of the notification service as a whole (`PUT /sim/notifications/faults`), applied to
/// every connect and subscription while set.
#[derive(Debug, Clone, Copy, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SocketFaults {
    /// Accept the socket's TCP connection and never answer its handshake.
    #[serde(default)]
    pub hang_handshake: bool,
    /// Send `v2.system.socket_closing` and close as soon as a socket connects.
    #[serde(default)]
    pub closing_on_connect: bool,
    /// Answer every subscription request (PUT or POST) with 503.
    #[serde(default)]
    pub refuse_subscriptions: bool,
}

/// `PUT /sim/notifications/faults` `{"hangHandshake": true, …}`: the faults from now on.
pub(super) async fn put_faults(
    State(sim): State<Simulator>,
    Json(faults): Json<SocketFaults>,
) -> Response {
    sim.set_socket_faults(faults);
    StatusCode::NO_CONTENT.into_response()
}

impl Channels {
    /// The channel `id`, unless it has expired (then it is removed, its socket closed).
    pub(super) fn live(&mut self, id: &str) -> Option<&mut SimChannel> {
        let expired = self
            .channels
            .get(id)
            .is_some_and(|channel| channel.expires <= chrono::Utc::now());
        if expired && let Some(channel) = self.channels.remove(id) {
            close(&channel, SocketCommand::Drop);
        }
        self.channels.get_mut(id)
    }
}

fn close(channel: &SimChannel, command: SocketCommand) {
    if let Some((_, socket)) = &channel.socket {
        let _ = socket.send(command);
    }
}

/// True when `topic` is a concrete instance of one of the topics sockets may carry.
fn websocket_topic(topic: &str) -> Result<(), &'static str> {
    if topic.contains("{id}") {
        return Err("a WebSocket subscription needs a concrete id, not {id}");
    }
    let segments: Vec<&str> = topic.split('.').collect();
    let known = TOPICS.iter().any(|(template, transports)| {
        let parts: Vec<&str> = template.split('.').collect();
        parts.len() == segments.len()
            && transports.iter().any(|t| *t == "All" || *t == "Websocket")
            && parts
                .iter()
                .zip(&segments)
                .all(|(part, segment)| *part == "{id}" && !segment.is_empty() || part == segment)
    });
    if known {
        Ok(())
    } else {
        Err("not a topic this organization sends over WebSocket")
    }
}

/// `POST /api/v2/notifications/channels`.
pub(super) async fn create_channel(State(sim): State<Simulator>, headers: HeaderMap) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_owned();
    let lifetime = sim.config.channel_lifetime;
    let mut channels = sim.channels();
    if channels.channels.len() >= MAX_CHANNELS {
        let oldest = channels
            .channels
            .iter()
            .filter(|(_, channel)| channel.socket.is_none())
            .min_by_key(|(_, channel)| channel.created)
            .or_else(|| channels.channels.iter().min_by_key(|(_, c)| c.created))
            .map(|(id, _)| id.clone());
        if let Some(channel) = oldest.and_then(|id| channels.channels.remove(&id)) {
            close(&channel, SocketCommand::Drop);
        }
    }
    channels.created += 1;
    let id = format!(
        "streaming-{:04}-{:012x}",
        channels.created,
        fastrand::u64(..) >> 16
    );
    let expires = chrono::Utc::now() + lifetime;
    let created = channels.created;
    channels.channels.insert(
        id.clone(),
        SimChannel {
            created,
            expires,
            topics: BTreeSet::new(),
            socket: None,
        },
    );
    Json(json!({
        "connectUri": format!("ws://{host}/channels/{id}"),
        "id": id,
        "expires": expires.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    }))
    .into_response()
}

/// `HEAD /api/v2/notifications/channels/{id}`: 200 while it lives, else 404.
pub(super) async fn head_channel(
    State(sim): State<Simulator>,
    Path(id): Path<String>,
) -> StatusCode {
    if sim.channels().live(&id).is_some() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    }
}

/// The query of a subscription request.
pub(super) struct SubscribeQuery {
    ignore_errors: bool,
}

impl SubscribeQuery {
    fn parse(query: Option<&str>) -> Self {
        SubscribeQuery {
            ignore_errors: query
                .unwrap_or_default()
                .split('&')
                .any(|pair| pair.eq_ignore_ascii_case("ignoreErrors=true")),
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct TopicEntry {
    id: String,
}

/// `PUT` (replace) or `POST` (add) `…/channels/{id}/subscriptions[?ignoreErrors=true]`.
async fn subscribe(
    sim: &Simulator,
    id: &str,
    query: &SubscribeQuery,
    topics: Vec<TopicEntry>,
    replace: bool,
) -> Response {
    let lifetime = sim.config.channel_lifetime;
    let mut channels = sim.channels();
    channels.subscription_requests += 1;
    if channels.faults.refuse_subscriptions {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "service.unavailable",
            "subscriptions are refused (simulated fault)",
        );
    }
    let Some(channel) = channels.live(id) else {
        return error(
            StatusCode::NOT_FOUND,
            "not.found",
            format!("channel {id} not found"),
        );
    };
    let mut verdicts = Vec::new();
    let mut permitted: BTreeSet<String> = if replace {
        BTreeSet::new()
    } else {
        channel.topics.clone()
    };
    for TopicEntry { id: topic } in topics {
        match websocket_topic(&topic) {
            Ok(()) => {
                permitted.insert(topic.clone());
                verdicts.push(json!({"id": topic, "state": "Permitted"}));
            }
            Err(reason) => {
                verdicts.push(json!({"id": topic, "state": "Rejected", "rejectionReason": reason}));
            }
        }
    }
    let rejected = verdicts.iter().any(|v| v["state"] == "Rejected");
    if rejected && !query.ignore_errors {
        return error(
            StatusCode::BAD_REQUEST,
            "bad.request",
            "some topics cannot be subscribed (use ignoreErrors=true to see which)",
        );
    }
    if permitted.len() > MAX_TOPICS_PER_CHANNEL {
        return error(
            StatusCode::BAD_REQUEST,
            "bad.request",
            format!(
                "a channel takes at most {MAX_TOPICS_PER_CHANNEL} topics, not {}",
                permitted.len()
            ),
        );
    }
    channel.topics = permitted;
    channel.expires = chrono::Utc::now() + lifetime;
    Json(json!({"entities": verdicts})).into_response()
}

pub(super) async fn put_subscriptions(
    State(sim): State<Simulator>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    Json(topics): Json<Vec<TopicEntry>>,
) -> Response {
    let query = SubscribeQuery::parse(query.as_deref());
    subscribe(&sim, &id, &query, topics, true).await
}

pub(super) async fn post_subscriptions(
    State(sim): State<Simulator>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    Json(topics): Json<Vec<TopicEntry>>,
) -> Response {
    let query = SubscribeQuery::parse(query.as_deref());
    subscribe(&sim, &id, &query, topics, false).await
}

/// `GET …/channels/{id}/subscriptions`.
pub(super) async fn get_subscriptions(
    State(sim): State<Simulator>,
    Path(id): Path<String>,
) -> Response {
    let mut channels = sim.channels();
    let Some(channel) = channels.live(&id) else {
        return error(
            StatusCode::NOT_FOUND,
            "not.found",
            format!("channel {id} not found"),
        );
    };
    let entities: Vec<Value> = channel.topics.iter().map(|t| json!({"id": t})).collect();
    Json(json!({"entities": entities})).into_response()
}

/// `DELETE …/channels/{id}/subscriptions`.
pub(super) async fn delete_subscriptions(
    State(sim): State<Simulator>,
    Path(id): Path<String>,
) -> Response {
    let mut channels = sim.channels();
    let Some(channel) = channels.live(&id) else {
        return error(
            StatusCode::NOT_FOUND,
            "not.found",
            format!("channel {id} not found"),
        );
    };
    channel.topics.clear();
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /sim/notifications/publish` `{"topicName", "eventBody"}`: sends the notification to
/// every connected socket subscribed to it; answers how many sockets it went to.
pub(super) async fn publish(State(sim): State<Simulator>, Json(body): Json<Value>) -> Response {
    let Some(topic) = body.get("topicName").and_then(Value::as_str) else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad.request",
            "topicName is required",
        );
    };
    let notification = json!({
        "topicName": topic,
        "version": "2",
        "eventBody": body.get("eventBody").cloned().unwrap_or_else(|| json!({})),
        "metadata": {"CorrelationId": format!("{:08x}-sim", fastrand::u32(..))},
    })
    .to_string();
    Json(json!({"delivered": sim.send_to_subscribers(topic, &notification)})).into_response()
}

/// `POST /sim/notifications/generate` `{"topicName", "count"}`: `count` notifications of the
/// topic, each with its number and the current time as `eventTime`, sent as fast as the
/// subscribed sockets take them (for benchmarks); answers how many went out.
pub(super) async fn generate(State(sim): State<Simulator>, Json(body): Json<Value>) -> Response {
    let (Some(topic), Some(count)) = (
        body.get("topicName").and_then(Value::as_str),
        body.get("count").and_then(Value::as_u64),
    ) else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad.request",
            "topicName and count are required",
        );
    };
    let mut sent = 0;
    for n in 0..count {
        let notification = json!({
            "topicName": topic,
            "version": "2",
            "eventBody": {"x-sim": {"n": n}, "eventTime": chrono::Utc::now().timestamp_millis(),
                          "conversationId": "9b1f0c2e-4d3a-4b5c-8e7f-00000000c001",
                          "participantId": "7a2e9c41-agnt-4c5d-9e8f-00000000p001",
                          "mediaType": "VOICE", "direction": "INBOUND"},
            "metadata": {"CorrelationId": format!("gen-{n}")},
        });
        sent += sim.send_to_subscribers(topic, &notification.to_string());
    }
    Json(json!({"sent": sent})).into_response()
}

/// What `POST /sim/notifications/channels/{id}/fault` does to a channel.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ChannelFault {
    /// The connection drops without a close frame.
    Drop,
    /// `v2.system.socket_closing`, then the close.
    Closing,
    /// No more frames (no heartbeats, no pongs, no notifications) until the client reconnects.
    Stall,
    /// The channel expires: its socket closes and it is gone.
    Expire,
    /// The channel is deleted: its socket closes and it is gone.
    Delete,
    /// The client's tokens are revoked: `token_revoked`, then the close.
    Revoke,
    /// The channel loses its subscriptions: `v2.system.no_longer_subscribed` on its socket.
    NoLongerSubscribed,
    /// A second connection to the channel takes it over (the first is closed).
    Kick,
}

#[derive(Debug, Deserialize)]
pub(super) struct FaultRequest {
    kind: ChannelFault,
}

/// `POST /sim/notifications/channels/{id}/fault` `{"kind": "drop"}`.
pub(super) async fn inject(
    State(sim): State<Simulator>,
    Path(id): Path<String>,
    Json(request): Json<FaultRequest>,
) -> Response {
    if sim.break_channel(&id, request.kind) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        error(
            StatusCode::NOT_FOUND,
            "not.found",
            format!("channel {id} not found"),
        )
    }
}

/// `GET /sim/notifications/channels`: each channel's topics count and whether a socket is on it.
pub(super) async fn list_channels(State(sim): State<Simulator>) -> Response {
    let channels = sim.channels();
    let listing: Vec<Value> = channels
        .channels
        .iter()
        .map(|(id, c)| {
            json!({"id": id, "topics": c.topics.len(), "connected": c.socket.is_some(),
                   "socket": c.socket.as_ref().map(|(number, _)| number)})
        })
        .collect();
    Json(json!({"entities": listing})).into_response()
}

impl Simulator {
    /// Sends `notification` (JSON text) to each connected socket subscribed to `topic`.
    pub fn send_to_subscribers(&self, topic: &str, notification: &str) -> usize {
        let channels = self.channels();
        channels
            .channels
            .values()
            .filter(|channel| channel.topics.contains(topic))
            .filter_map(|channel| channel.socket.as_ref())
            .filter(|(_, socket)| {
                socket
                    .send(SocketCommand::Frame(notification.to_owned()))
                    .is_ok()
            })
            .count()
    }

    /// Breaks channel `id` as `fault` says; false when there is no such channel.
    pub fn break_channel(&self, id: &str, fault: ChannelFault) -> bool {
        let mut channels = self.channels();
        let Some(channel) = channels.live(id) else {
            return false;
        };
        match fault {
            ChannelFault::Drop => close(channel, SocketCommand::Drop),
            ChannelFault::Closing => close(channel, SocketCommand::Closing),
            ChannelFault::Stall => close(channel, SocketCommand::Stall),
            ChannelFault::Kick => close(channel, SocketCommand::Kicked),
            ChannelFault::Expire | ChannelFault::Delete => {
                if let Some(channel) = channels.channels.remove(id) {
                    close(&channel, SocketCommand::Drop);
                }
            }
            ChannelFault::Revoke => {
                close(channel, SocketCommand::Revoked);
                drop(channels);
                self.revoke_tokens();
            }
            ChannelFault::NoLongerSubscribed => {
                channel.topics.clear();
                let message = json!({"topicName": "v2.system.no_longer_subscribed",
                                     "eventBody": {"message": "no_longer_subscribed"}});
                close(channel, SocketCommand::Frame(message.to_string()));
            }
        }
        true
    }

    /// Sets the notification service's faults from now on.
    pub fn set_socket_faults(&self, faults: SocketFaults) {
        self.channels().faults = faults;
    }

    /// How many subscription requests (PUT or POST) the channels received.
    pub fn subscription_requests(&self) -> u64 {
        self.channels().subscription_requests
    }

    /// How many sockets have connected (or tried to) so far.
    pub fn socket_connects(&self) -> u64 {
        self.channels().sockets
    }

    /// Every channel: its id, how many topics it has, and the number of the socket on it.
    pub fn channel_states(&self) -> Vec<(String, usize, Option<u64>)> {
        self.channels()
            .channels
            .iter()
            .map(|(id, c)| {
                (
                    id.clone(),
                    c.topics.len(),
                    c.socket.as_ref().map(|(n, _)| *n),
                )
            })
            .collect()
    }

    /// The URI (path and query) of every socket request so far.
    pub fn socket_uris(&self) -> Vec<String> {
        self.channels().socket_uris.clone()
    }

    /// The heartbeat interval sockets use.
    pub(super) fn heartbeat_interval(&self) -> Duration {
        self.config.heartbeat_interval
    }
}
