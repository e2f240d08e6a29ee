//! What the stream writes: each notification as received plus `receivedAt`, gap records for every interval a channel was not listening, and the honest lag of an event.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

/// The topic of gap records.
pub const GAP_TOPIC: &str = "genesys-eventbridge.gap";

/// An interval in which a channel was not connected and subscribed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// The channel (the new one, when the old was replaced).
    pub channel_id: String,
    /// The topics it carries.
    pub topics: Vec<String>,
    /// Since when it was not listening.
    pub from: DateTime<Utc>,
    /// When it listened again.
    pub to: DateTime<Utc>,
    /// Why (e.g. `socket dropped`, `no heartbeat`, `restart`).
    pub reason: String,
}

impl Gap {
    /// Its length in milliseconds (0 when the clock went backwards).
    pub fn duration_ms(&self) -> i64 {
        (self.to - self.from).num_milliseconds().max(0)
    }

    /// The gap record, shaped like a notification.
    pub fn to_record(&self) -> Value {
        json!({
            "topicName": GAP_TOPIC,
            "eventBody": {
                "channelId": self.channel_id,
                "topics": self.topics,
                "from": rfc3339(self.from),
                "to": rfc3339(self.to),
                "durationMs": self.duration_ms(),
                "reason": self.reason,
            }
        })
    }
}

/// RFC 3339 with milliseconds, UTC.
pub fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A notification frame as one output line: the frame as received plus `receivedAt`; `None`
/// for what is not a JSON object.
pub fn notification_line(frame: &str, received_at: DateTime<Utc>) -> Option<(String, Value)> {
    let mut value: Value = serde_json::from_str(frame).ok()?;
    let object = value.as_object_mut()?;
    object.insert("receivedAt".into(), json!(rfc3339(received_at)));
    let line = value.to_string();
    Some((line, value))
}

/// The event's own time: `eventBody.eventTime` (epoch ms or RFC 3339) or the notification's
/// `timestamp`; `None` when it carries neither (its lag is then unknown).
pub fn event_time(notification: &Value) -> Option<DateTime<Utc>> {
    let from = |value: &Value| match value {
        Value::Number(ms) => ms.as_i64().and_then(DateTime::from_timestamp_millis),
        Value::String(text) => DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|time| time.with_timezone(&Utc)),
        _ => None,
    };
    notification
        .pointer("/eventBody/eventTime")
        .and_then(from)
        .or_else(|| notification.get("timestamp").and_then(from))
}

/// What a frame is, by its topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// A heartbeat or a pong: proof of life, not output.
    Metadata,
    /// The socket will close soon: reconnect now.
    SocketClosing,
    /// The token was revoked: new token, new channel.
    TokenRevoked,
    /// Subscriptions were dropped or changed: put them again.
    Resubscribe,
    /// A notification: output.
    Notification,
}

/// The kind of a frame whose `topicName` is `topic` (and `eventBody.message` is `message`).
pub fn frame_kind(topic: &str, message: Option<&str>) -> FrameKind {
    // A notification of a subscribed topic (`v2.…`, not `v2.system.…`) is data whatever its
    // body says: only a system frame is read by its message.
    let notification_topic = topic.starts_with("v2.") && !topic.starts_with("v2.system.");
    let said = |what: &str| topic.ends_with(what) || (!notification_topic && message == Some(what));
    if topic == "channel.metadata" {
        FrameKind::Metadata
    } else if said("socket_closing") {
        FrameKind::SocketClosing
    } else if said("token_revoked") {
        FrameKind::TokenRevoked
    } else if said("no_longer_subscribed") || said("subscription_changed") {
        FrameKind::Resubscribe
    } else {
        FrameKind::Notification
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gap_record_names_its_channel_topics_bounds_and_length() {
        let from = DateTime::from_timestamp_millis(1_000).unwrap();
        let gap = Gap {
            channel_id: "ch-1".into(),
            topics: vec!["t".into()],
            from,
            to: from + chrono::Duration::milliseconds(2_500),
            reason: "socket dropped".into(),
        };

        let record = gap.to_record();

        assert_eq!(record["topicName"], GAP_TOPIC);
        assert_eq!(record["eventBody"]["durationMs"], 2_500);
        assert_eq!(record["eventBody"]["from"], "1970-01-01T00:00:01.000Z");
    }

    #[test]
    fn lag_is_measured_from_the_event_time_when_there_is_one_and_unknown_otherwise() {
        let with_ms = json!({"eventBody": {"eventTime": 1_000}});
        let with_text = json!({"eventBody": {}, "timestamp": "2026-11-30T00:00:00Z"});

        assert_eq!(event_time(&with_ms).unwrap().timestamp_millis(), 1_000);
        assert!(event_time(&with_text).is_some());
        assert_eq!(event_time(&json!({"eventBody": {}})), None);
    }

    #[test]
    fn heartbeats_and_system_messages_are_told_apart_from_notifications() {
        assert_eq!(
            frame_kind("channel.metadata", Some("WebSocket Heartbeat")),
            FrameKind::Metadata
        );
        assert_eq!(
            frame_kind("v2.system.socket_closing", None),
            FrameKind::SocketClosing
        );
        assert_eq!(
            frame_kind("v2.system.token_revoked", None),
            FrameKind::TokenRevoked
        );
        assert_eq!(
            frame_kind("x", Some("no_longer_subscribed")),
            FrameKind::Resubscribe
        );
        assert_eq!(
            frame_kind("v2.users.u.presence", None),
            FrameKind::Notification
        );
    }

    #[test]
    fn a_notification_whose_body_says_socket_closing_is_still_a_notification() {
        let topic = "v2.detail.events.conversation.c-1.user.end";

        let kinds = ["socket_closing", "token_revoked", "no_longer_subscribed"]
            .map(|message| frame_kind(topic, Some(message)));

        assert_eq!(kinds, [FrameKind::Notification; 3]);
    }
}
