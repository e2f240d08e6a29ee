//! JSON shapes of the Genesys API (tutorial dialect) and their mapping into domain types.

use crate::domain::{EpochMillis, InteractionSnapshot, TimelineEntry};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /oauth/token` response.
#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    /// Seconds; Genesys Cloud's default is 86400.
    pub expires_in: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
struct CodeRef {
    id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    start_time: Option<Value>,
    end_time: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TimelineBody {
    start_time: Option<Value>,
    end_time: Option<Value>,
}

/// `GET /api/v2/interactions/{id}` response; only what the business rules read.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InteractionBody {
    #[serde(rename = "type")]
    media_type: Option<String>,
    state: Option<String>,
    disposition_code: Option<CodeRef>,
    wrap_up_code: Option<CodeRef>,
    metadata: Option<Metadata>,
    timeline: Option<Vec<TimelineBody>>,
}

impl InteractionBody {
    pub fn into_snapshot(self) -> InteractionSnapshot {
        let metadata = self.metadata.unwrap_or_default();
        InteractionSnapshot {
            media_type: self.media_type.unwrap_or_default(),
            state: self.state.unwrap_or_default(),
            disposition_code: self.disposition_code.and_then(|code| code.id),
            wrap_up_code: self.wrap_up_code.and_then(|code| code.id),
            started: metadata.start_time.as_ref().and_then(epoch_millis),
            ended: metadata.end_time.as_ref().and_then(epoch_millis),
            timeline: self
                .timeline
                .unwrap_or_default()
                .iter()
                .map(|entry| TimelineEntry {
                    start: entry.start_time.as_ref().and_then(epoch_millis),
                    end: entry.end_time.as_ref().and_then(epoch_millis),
                })
                .collect(),
        }
    }
}

/// `PATCH /api/v2/interactions/{id}` body: the disposition code and nothing else.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DispositionPatch<'a> {
    pub disposition_code: DispositionRef<'a>,
}

#[derive(Debug, Serialize)]
pub struct DispositionRef<'a> {
    pub id: &'a str,
}

/// A timestamp as the API may send it: RFC 3339 text or epoch milliseconds. Anything else
/// (empty, unparsable) counts as unknown, which the rules treat as a zero duration.
pub fn epoch_millis(value: &Value) -> Option<EpochMillis> {
    match value {
        Value::String(text) => chrono::DateTime::parse_from_rfc3339(text.trim())
            .ok()
            .map(|time| time.timestamp_millis()),
        Value::Number(number) => number
            .as_i64()
            .or_else(|| number.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_interaction_body_maps_to_a_snapshot() {
        let body: InteractionBody = serde_json::from_value(json!({
            "id": "i-1",
            "type": "voice",
            "state": "completed",
            "dispositionCode": {"id": "d-1"},
            "wrapUpCode": null,
            "metadata": {"startTime": "2026-11-23T10:00:00Z", "endTime": "2026-11-23T10:00:45.500Z"},
            "timeline": [{"startTime": 1000, "endTime": 2000}]
        }))
        .unwrap();
        let snapshot = body.into_snapshot();
        assert_eq!(snapshot.media_type, "voice");
        assert_eq!(snapshot.disposition_code.as_deref(), Some("d-1"));
        assert_eq!(snapshot.wrap_up_code, None);
        assert_eq!(snapshot.duration_ms(), 45_500);
        assert_eq!(
            snapshot.timeline,
            vec![TimelineEntry {
                start: Some(1000),
                end: Some(2000)
            }]
        );
    }

    #[test]
    fn an_unparsable_time_counts_as_unknown() {
        assert_eq!(epoch_millis(&json!("yesterday")), None);
        assert_eq!(epoch_millis(&json!("")), None);
        assert_eq!(epoch_millis(&json!(true)), None);
        assert_eq!(
            epoch_millis(&json!("2026-11-23T10:00:00+01:00")),
            Some(1_795_424_400_000)
        );
    }

    #[test]
    fn the_patch_body_holds_only_the_disposition_code() {
        let body = serde_json::to_value(DispositionPatch {
            disposition_code: DispositionRef { id: "d-9" },
        })
        .unwrap();
        assert_eq!(body, json!({"dispositionCode": {"id": "d-9"}}));
    }
}
