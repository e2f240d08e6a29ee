//! JSON shapes of the Genesys API (tutorial and native dialects) and their mapping into domain types.

use super::WrapupRequest;
use gev_core::domain::{
    AfterCallWork, CommunicationId, ConversationSnapshot, EpochMillis, InteractionSnapshot,
    ParticipantId, ParticipantSnapshot, QueueId, TimelineEntry,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// `POST /oauth/token` response. Its `Debug` never shows the token.
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    /// Seconds, as the login service sent them (Genesys Cloud's default is 86400); read with
    /// [`TokenResponse::lifetime`].
    #[serde(default)]
    expires_in: Option<Value>,
}

impl TokenResponse {
    /// The longest lifetime a token is trusted for, whatever `expires_in` says.
    pub(crate) const MAX_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
    /// The lifetime assumed when `expires_in` is missing or unreadable (Genesys' default).
    pub(crate) const DEFAULT_LIFETIME: Duration = Duration::from_secs(86_400);

    /// How long the token lives: `expires_in` (a number of seconds, clamped to
    /// [`Self::MAX_LIFETIME`]; negative is zero), or the default when it is absent or not a number.
    pub(crate) fn lifetime(&self) -> Duration {
        match self.expires_in.as_ref().and_then(Value::as_f64) {
            Some(seconds) if seconds.is_nan() => Self::DEFAULT_LIFETIME,
            Some(seconds) => {
                let max = Self::MAX_LIFETIME.as_secs_f64();
                Duration::from_secs_f64(seconds.clamp(0.0, max))
            }
            None => Self::DEFAULT_LIFETIME,
        }
    }
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .finish()
    }
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
pub(crate) struct InteractionBody {
    #[serde(rename = "type")]
    media_type: Option<String>,
    state: Option<String>,
    disposition_code: Option<CodeRef>,
    wrap_up_code: Option<CodeRef>,
    metadata: Option<Metadata>,
    timeline: Option<Vec<TimelineBody>>,
}

impl InteractionBody {
    pub(crate) fn into_snapshot(self) -> InteractionSnapshot {
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
pub(crate) struct DispositionPatch<'a> {
    pub(crate) disposition_code: DispositionRef<'a>,
}

#[derive(Debug, Serialize)]
pub(crate) struct DispositionRef<'a> {
    pub(crate) id: &'a str,
}

#[derive(Debug, Default, Deserialize)]
struct WrapupState {
    code: Option<String>,
}

/// `AfterCallWork`: `state` is `unknown`, `notApplicable`, `skipped`, `pending` or `complete`.
#[derive(Debug, Default, Deserialize)]
struct AfterCallWorkBody {
    state: Option<String>,
}

/// One communication of a participant (`Call`, `Callback`, `ConversationChat`, ...).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Communication {
    id: Option<String>,
    state: Option<String>,
    after_call_work: Option<AfterCallWorkBody>,
}

/// A `Participant` of `GET /api/v2/conversations/{id}`: its communications are listed per
/// media (`calls`, `callbacks`, ...), each with its own id and after-call work.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ParticipantBody {
    id: Option<String>,
    purpose: Option<String>,
    queue_id: Option<String>,
    connected_time: Option<Value>,
    end_time: Option<Value>,
    wrapup: Option<WrapupState>,
    wrapup_required: Option<bool>,
    start_acw_time: Option<Value>,
    end_acw_time: Option<Value>,
    #[serde(default)]
    calls: Vec<Communication>,
    #[serde(default)]
    callbacks: Vec<Communication>,
    #[serde(default)]
    chats: Vec<Communication>,
    #[serde(default)]
    emails: Vec<Communication>,
    #[serde(default)]
    messages: Vec<Communication>,
}

impl ParticipantBody {
    /// The participant's last communication, of whichever media.
    fn last_communication(&self) -> Option<&Communication> {
        [
            &self.calls,
            &self.callbacks,
            &self.chats,
            &self.emails,
            &self.messages,
        ]
        .into_iter()
        .flatten()
        .rfind(|c| c.id.is_some())
    }

    /// The communication's `afterCallWork.state` when it says; else the participant's ACW times.
    fn after_call_work(&self) -> AfterCallWork {
        let state = self
            .last_communication()
            .and_then(|c| c.after_call_work.as_ref())
            .and_then(|acw| acw.state.as_deref());
        match state.map(str::to_ascii_lowercase).as_deref() {
            Some("pending") => return AfterCallWork::Pending,
            Some("complete" | "skipped") => return AfterCallWork::Ended,
            Some("notapplicable") => return AfterCallWork::NotRequired,
            _ => {}
        }
        let known = |time: &Option<Value>| time.as_ref().and_then(epoch_millis).is_some();
        match (known(&self.start_acw_time), known(&self.end_acw_time)) {
            (_, true) => AfterCallWork::Ended,
            (true, false) => AfterCallWork::Pending,
            (false, false) => AfterCallWork::Unknown,
        }
    }
}

/// `GET /api/v2/conversations/{conversationId}` response (`Conversation`); only what the
/// wrap-up rules read. (The media-specific `GET /api/v2/conversations/calls/{id}` lists
/// flattened participants without their communications, so it cannot name the one to wrap up.)
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ConversationBody {
    #[serde(default)]
    participants: Vec<ParticipantBody>,
}

impl ConversationBody {
    pub(crate) fn into_snapshot(self) -> ConversationSnapshot {
        ConversationSnapshot {
            participants: self
                .participants
                .into_iter()
                .map(|p| ParticipantSnapshot {
                    communication_id: p
                        .last_communication()
                        .and_then(|c| c.id.as_deref())
                        .and_then(|id| CommunicationId::parse(id).ok()),
                    after_call_work: p.after_call_work(),
                    // An id that is not path-safe cannot be addressed: treat it as absent.
                    id: p.id.as_deref().and_then(|id| ParticipantId::parse(id).ok()),
                    queue_id: p.queue_id.as_deref().and_then(|id| QueueId::parse(id).ok()),
                    state: p
                        .last_communication()
                        .and_then(|c| c.state.clone())
                        .unwrap_or_default(),
                    purpose: p.purpose.unwrap_or_default(),
                    connected: p.connected_time.as_ref().and_then(epoch_millis),
                    ended: p.end_time.as_ref().and_then(epoch_millis),
                    wrapup_required: p.wrapup_required,
                    wrapup_code: p.wrapup.and_then(|w| w.code).filter(|c| !c.is_empty()),
                })
                .collect(),
        }
    }
}

/// The wrap-up of `PATCH .../participants/{id}` (inside `wrapup`) and of the communication POST.
#[derive(Debug, Serialize)]
pub(crate) struct WrapupBody<'a> {
    pub(crate) code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) notes: Option<&'a str>,
}

impl<'a> WrapupBody<'a> {
    pub(crate) fn of(request: &'a WrapupRequest) -> Self {
        WrapupBody {
            code: request.code.as_str(),
            notes: request.notes.as_deref(),
        }
    }
}

/// `PATCH /api/v2/conversations/calls/{id}/participants/{participantId}` body: the wrap-up only.
#[derive(Debug, Serialize)]
pub(crate) struct ParticipantWrapupPatch<'a> {
    pub(crate) wrapup: WrapupBody<'a>,
}

/// A timestamp as the API may send it: RFC 3339 text or epoch milliseconds. Anything else
/// (empty, unparsable) counts as unknown, which the rules treat as a zero duration.
pub(crate) fn epoch_millis(value: &Value) -> Option<EpochMillis> {
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

    fn token(expires_in: Value) -> TokenResponse {
        serde_json::from_value(json!({"access_token": "t0ken", "expires_in": expires_in})).unwrap()
    }

    #[test]
    fn a_token_lifetime_is_clamped_and_never_overflows() {
        assert_eq!(token(json!(3600)).lifetime(), Duration::from_secs(3600));
        assert_eq!(
            token(json!(u64::MAX)).lifetime(),
            TokenResponse::MAX_LIFETIME
        );
        assert_eq!(token(json!(1e300)).lifetime(), TokenResponse::MAX_LIFETIME);
        assert_eq!(token(json!(-5)).lifetime(), Duration::ZERO);
        assert_eq!(
            token(json!("soon")).lifetime(),
            TokenResponse::DEFAULT_LIFETIME
        );
        assert_eq!(
            token(Value::Null).lifetime(),
            TokenResponse::DEFAULT_LIFETIME
        );
    }

    #[test]
    fn a_token_response_debug_output_hides_the_token() {
        assert!(!format!("{:?}", token(json!(60))).contains("t0ken"));
    }

    proptest::proptest! {
        #[test]
        fn any_numeric_expires_in_gives_a_bounded_lifetime(seconds in proptest::num::f64::ANY) {
            let lifetime = token(json!(seconds)).lifetime();
            proptest::prop_assert!(lifetime <= TokenResponse::MAX_LIFETIME);
            // The refresh instant is computed without overflow.
            let _ = tokio::time::Instant::now() + lifetime;
        }
    }

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
    fn a_conversation_body_maps_its_participants() {
        let body: ConversationBody = serde_json::from_value(json!({
            "id": "c-1",
            "participants": [
                {"id": "p-cust", "purpose": "customer",
                 "calls": [{"id": "call-0", "state": "disconnected"}]},
                {"id": "p-agent", "purpose": "agent", "queueId": "q-1",
                 "connectedTime": "2026-11-23T10:00:05.000Z", "endTime": "2026-11-23T10:01:05.000Z",
                 "wrapupRequired": true,
                 "calls": [{"id": "call-1", "state": "disconnected",
                            "afterCallWork": {"state": "pending"}}]},
                {"id": "bad/id", "purpose": "agent", "wrapup": {"code": "w-1"}}
            ]
        }))
        .unwrap();
        let snapshot = body.into_snapshot();
        let agent = &snapshot.participants[1];
        assert!(agent.is_agent());
        assert_eq!(agent.duration_ms(), 60_000);
        assert_eq!(agent.after_call_work, AfterCallWork::Pending);
        assert_eq!(agent.wrapup_required, Some(true));
        assert_eq!(agent.state, "disconnected");
        assert_eq!(agent.queue_id.as_ref().unwrap().as_str(), "q-1");
        assert_eq!(agent.communication_id.as_ref().unwrap().as_str(), "call-1");
        assert_eq!(snapshot.participants[2].id, None);
        assert_eq!(snapshot.participants[2].wrapup_code.as_deref(), Some("w-1"));
    }

    fn acw_of(participant: Value) -> AfterCallWork {
        let body: ConversationBody =
            serde_json::from_value(json!({"participants": [participant]})).unwrap();
        body.into_snapshot().participants[0].after_call_work
    }

    #[test]
    fn after_call_work_is_read_from_the_communication_first_then_the_acw_times() {
        let call = |state: &str| json!({"calls": [{"id": "c", "afterCallWork": {"state": state}}]});
        assert_eq!(acw_of(call("complete")), AfterCallWork::Ended);
        assert_eq!(acw_of(call("skipped")), AfterCallWork::Ended);
        assert_eq!(acw_of(call("notApplicable")), AfterCallWork::NotRequired);
        assert_eq!(
            acw_of(json!({"startAcwTime": "2026-11-23T10:02:05Z"})),
            AfterCallWork::Pending
        );
        assert_eq!(
            acw_of(
                json!({"startAcwTime": "2026-11-23T10:02:05Z", "endAcwTime": "2026-11-23T10:02:35Z"})
            ),
            AfterCallWork::Ended
        );
        assert_eq!(acw_of(json!({})), AfterCallWork::Unknown);
    }

    #[test]
    fn the_participant_patch_body_holds_only_the_wrapup() {
        let request = WrapupRequest {
            code: gev_core::domain::DispositionCodeId::parse("w-9").unwrap(),
            notes: None,
            style: super::super::WrapupStyle::Participant,
        };
        let body = serde_json::to_value(ParticipantWrapupPatch {
            wrapup: WrapupBody::of(&request),
        })
        .unwrap();
        assert_eq!(body, json!({"wrapup": {"code": "w-9"}}));
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
