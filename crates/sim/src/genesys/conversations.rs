//! The simulated Conversations API (native dialect): the generic and media-specific GET, and applying wrap-ups.

use super::answers::{
    answer_applied_write, answer_read, as_stored, chrono_now_rfc3339, error, gate_write, hold,
};
use super::faults::InjectConflict;
use super::{Books, FOREIGN_CODE, Simulator};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// `GET /api/v2/conversations/{id}` (`Conversation`): participants with their communications
/// (`calls`, `callbacks`, ...), as seeded.
pub(super) async fn get_conversation(
    State(sim): State<Simulator>,
    Path(id): Path<String>,
) -> Response {
    let (answer, lag) = answer_read(
        &sim,
        &format!("conversation {id}"),
        |books| {
            books
                .conversations
                .iter()
                .find(|((_, conversation), _)| *conversation == id)
                .map(|(_, found)| found)
        },
        as_stored,
    );
    hold(lag).await;
    answer
}

/// `GET /api/v2/conversations/{media}/{id}` (`CallConversation`, ...): the participants
/// flattened as `CallMediaParticipant`s, without their communications' ids and after-call work.
pub(super) async fn get_media_conversation(
    State(sim): State<Simulator>,
    Path((segment, id)): Path<(String, String)>,
) -> Response {
    let (answer, lag) = answer_read(
        &sim,
        &format!("conversation {id}"),
        |books| books.conversations.get(&(segment, id.clone())),
        flattened,
    );
    hold(lag).await;
    answer
}

/// The media-specific view of a stored conversation: each `Participant` as a
/// `CallMediaParticipant` (and its kin): `user` and `queue` as references instead of `userId`
/// and `queueId`, the state of its last communication as its own, no communications.
pub(super) fn flattened(body: &Map<String, Value>) -> Value {
    let mut body = body.clone();
    if let Some(Value::Array(participants)) = body.get_mut("participants") {
        for participant in participants.iter_mut().filter_map(Value::as_object_mut) {
            let state = MEDIA_LISTS
                .iter()
                .filter_map(|media| participant.get(*media).and_then(Value::as_array))
                .flatten()
                .filter_map(|communication| communication.get("state"))
                .next_back()
                .cloned();
            for media in MEDIA_LISTS {
                participant.remove(media);
            }
            if let Some(state) = state {
                participant.insert("state".into(), state);
            }
            for (flat, nested, kind) in [
                ("userId", "user", "users"),
                ("queueId", "queue", "routing/queues"),
            ] {
                if let Some(Value::String(id)) = participant.remove(flat) {
                    let reference = json!({"id": id, "selfUri": format!("/api/v2/{kind}/{id}")});
                    participant.insert(nested.into(), reference);
                }
            }
        }
    }
    Value::Object(body)
}

/// Where a `Participant` lists its communications, per media.
pub(super) const MEDIA_LISTS: [&str; 5] = ["calls", "callbacks", "chats", "emails", "messages"];

/// Checks a wrap-up object: `code` (non-empty string) and optional `notes`, nothing else.
pub(super) fn wrapup_of(
    value: &Value,
    path: &'static str,
) -> Result<Map<String, Value>, WrapupError> {
    let object = value.as_object().ok_or(WrapupError::NotAnObject { path })?;
    if let Some(extra) = object
        .keys()
        .find(|key| !matches!(key.as_str(), "code" | "notes"))
    {
        return Err(WrapupError::UnexpectedField {
            path,
            field: extra.clone(),
        });
    }
    match object.get("code") {
        Some(Value::String(code)) if !code.is_empty() => {}
        _ => return Err(WrapupError::NoCode { path }),
    }
    if object.get("notes").is_some_and(|notes| !notes.is_string()) {
        return Err(WrapupError::NotesNotAString { path });
    }
    Ok(object.clone())
}

/// A wrap-up request body that cannot be applied; the message names the field.
#[derive(Debug, thiserror::Error)]
pub(super) enum WrapupError {
    /// Not JSON.
    #[error("invalid JSON: {0}")]
    InvalidJson(#[source] serde_json::Error),
    /// A participant PATCH body that is not a JSON object.
    #[error("the body must be a JSON object")]
    BodyNotAnObject,
    /// A participant PATCH field beside `wrapup`.
    #[error("unexpected field {0:?}: only wrapup may be sent")]
    UnexpectedBodyField(String),
    /// The wrap-up at `path` is not an object.
    #[error("{path} must be an object")]
    NotAnObject {
        /// Where the wrap-up is (`wrapup` or `body`).
        path: &'static str,
    },
    /// A wrap-up field other than `code` and `notes`.
    #[error("unexpected field {path}.{field}")]
    UnexpectedField {
        /// Where the wrap-up is.
        path: &'static str,
        /// The field.
        field: String,
    },
    /// No `code`, or not a non-empty string.
    #[error("{path}.code must be a non-empty string")]
    NoCode {
        /// Where the wrap-up is.
        path: &'static str,
    },
    /// `notes` that are not a string.
    #[error("{path}.notes must be a string")]
    NotesNotAString {
        /// Where the wrap-up is.
        path: &'static str,
    },
}

/// Applies `body` (already a checked wrap-up) to a participant, counting the write.
pub(super) fn apply_wrapup(
    sim: &Simulator,
    target: (String, &str, &str),
    communication: Option<&str>,
    conflict: bool,
    wrapup: Result<Map<String, Value>, WrapupError>,
) -> Response {
    let (segment, id, participant) = target;
    let mut books = sim.books();
    let Books {
        conversations,
        patches,
        routing,
        ..
    } = &mut *books;
    let Some(conversation) = conversations.get_mut(&(segment, id.to_owned())) else {
        return error(
            StatusCode::NOT_FOUND,
            "not.found",
            format!("conversation {id} not found"),
        );
    };
    let Some(target) = conversation
        .body
        .get_mut("participants")
        .and_then(Value::as_array_mut)
        .and_then(|ps| {
            ps.iter_mut()
                .find(|p| p.get("id").and_then(Value::as_str) == Some(participant))
        })
    else {
        return error(
            StatusCode::NOT_FOUND,
            "not.found",
            format!("participant {participant} not found"),
        );
    };
    if let Some(communication) = communication
        && !has_communication(target, communication)
    {
        return error(
            StatusCode::NOT_FOUND,
            "not.found",
            format!("communication {communication} not found"),
        );
    }
    let count = patches.entry(format!("{id}/{participant}")).or_default();
    if let Some(answer) = gate_write(count, &conversation.behaviour, conflict, || {
        if let Some(target) = target.as_object_mut() {
            target.insert("wrapup".into(), json!({"code": FOREIGN_CODE}));
        }
    }) {
        return answer;
    }
    let wrapup = match wrapup {
        Ok(wrapup) => wrapup,
        Err(problem) => {
            return error(StatusCode::BAD_REQUEST, "bad.request", problem.to_string());
        }
    };
    if let Some(refusal) = code_not_on_queue(routing, target, &wrapup) {
        return refusal;
    }
    if let Some(target) = target.as_object_mut() {
        wrap_up(target, wrapup);
    }
    count.applied += 1;
    answer_applied_write(
        &conversation.behaviour,
        StatusCode::ACCEPTED.into_response(),
    )
}

pub(super) async fn patch_participant(
    State(sim): State<Simulator>,
    Path((segment, id, participant)): Path<(String, String, String)>,
    conflict: Option<axum::Extension<InjectConflict>>,
    body: axum::body::Bytes,
) -> Response {
    // The only body accepted here: {"wrapup": {"code": "...", "notes"?: "..."}}.
    let wrapup = serde_json::from_slice::<Value>(&body)
        .map_err(WrapupError::InvalidJson)
        .and_then(|value| {
            let object = value
                .as_object()
                .cloned()
                .ok_or(WrapupError::BodyNotAnObject)?;
            if let Some(extra) = object.keys().find(|key| *key != "wrapup") {
                return Err(WrapupError::UnexpectedBodyField(extra.clone()));
            }
            wrapup_of(object.get("wrapup").unwrap_or(&Value::Null), "wrapup")
        });
    let target = (segment, id.as_str(), participant.as_str());
    apply_wrapup(&sim, target, None, conflict.is_some(), wrapup)
}

pub(super) async fn post_communication_wrapup(
    State(sim): State<Simulator>,
    Path((segment, id, participant, communication)): Path<(String, String, String, String)>,
    conflict: Option<axum::Extension<InjectConflict>>,
    body: axum::body::Bytes,
) -> Response {
    let wrapup = serde_json::from_slice::<Value>(&body)
        .map_err(WrapupError::InvalidJson)
        .and_then(|value| wrapup_of(&value, "body"));
    let target = (segment, id.as_str(), participant.as_str());
    apply_wrapup(
        &sim,
        target,
        Some(&communication),
        conflict.is_some(),
        wrapup,
    )
}

/// Genesys' 400 for a wrap-up code that is not assigned to the participant's queue.
fn code_not_on_queue(
    routing: &super::routing::RoutingBook,
    participant: &Value,
    wrapup: &Map<String, Value>,
) -> Option<Response> {
    let queue = participant.get("queueId").and_then(Value::as_str)?;
    let code = wrapup.get("code").and_then(Value::as_str)?;
    if routing.accepts(queue, code) != Some(false) {
        return None;
    }
    Some(error(
        StatusCode::BAD_REQUEST,
        "bad.request",
        format!("The wrap-up code {code} is not valid for this participant's queue {queue}"),
    ))
}

/// True when the participant lists `communication` among its communications of any media.
fn has_communication(participant: &Value, communication: &str) -> bool {
    MEDIA_LISTS.iter().any(|media| {
        participant
            .get(*media)
            .and_then(Value::as_array)
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c.get("id").and_then(Value::as_str) == Some(communication))
            })
    })
}

/// Applies `wrapup` to a participant and its communications, which ends its after-call work.
fn wrap_up(participant: &mut Map<String, Value>, wrapup: Map<String, Value>) {
    for media in MEDIA_LISTS {
        let communications = participant.get_mut(media).and_then(Value::as_array_mut);
        for communication in communications.into_iter().flatten() {
            if let Some(Value::Object(acw)) = communication.get_mut("afterCallWork")
                && acw.get("state") == Some(&json!("pending"))
            {
                acw.insert("state".into(), json!("complete"));
            }
            if let Some(communication) = communication.as_object_mut() {
                communication.insert("wrapup".into(), Value::Object(wrapup.clone()));
            }
        }
    }
    if participant.contains_key("startAcwTime") && !participant.contains_key("endAcwTime") {
        participant.insert("endAcwTime".into(), json!(chrono_now_rfc3339()));
    }
    participant.insert("wrapup".into(), Value::Object(wrapup));
}

/// `PUT /sim/conversations/{id}` (admin): stores a `Conversation` under `id`, as seeded data is.
pub(super) async fn put_conversation(
    State(sim): State<Simulator>,
    Path(id): Path<String>,
    axum::Json(mut body): axum::Json<Map<String, Value>>,
) -> Response {
    body.insert("id".into(), Value::String(id));
    match sim.put_conversation(body) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(problem) => error(StatusCode::BAD_REQUEST, "bad.request", problem.to_string()),
    }
}
