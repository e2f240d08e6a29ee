//! The simulated Interactions API (tutorial dialect): GET and PATCH of an interaction, and seeding one over HTTP.

use super::answers::{answer_applied_write, answer_read, as_stored, error, gate_write, hold};
use super::faults::InjectConflict;
use super::{Books, FOREIGN_CODE, Simulator};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

pub(super) async fn get_interaction(
    State(sim): State<Simulator>,
    Path(id): Path<String>,
) -> Response {
    let (answer, lag) = answer_read(
        &sim,
        &format!("interaction {id}"),
        |books| books.interactions.get(&id),
        as_stored,
    );
    hold(lag).await;
    answer
}

/// The only PATCH body the API accepts here: `{"dispositionCode":{"id":"..."}}`.
pub(super) fn disposition_code_of(body: &Value) -> Result<&str, DispositionError> {
    let object = body.as_object().ok_or(DispositionError::NotAnObject)?;
    if let Some(extra) = object.keys().find(|key| *key != "dispositionCode") {
        return Err(DispositionError::UnexpectedField(extra.clone()));
    }
    let code = object
        .get("dispositionCode")
        .and_then(Value::as_object)
        .ok_or(DispositionError::CodeNotAnObject)?;
    if let Some(extra) = code.keys().find(|key| *key != "id") {
        return Err(DispositionError::UnexpectedCodeField(extra.clone()));
    }
    code.get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .ok_or(DispositionError::NoCodeId)
}

/// A PATCH body other than `{"dispositionCode":{"id":"..."}}`; the message names the field.
#[derive(Debug, thiserror::Error)]
pub(super) enum DispositionError {
    /// Not a JSON object.
    #[error("the body must be a JSON object")]
    NotAnObject,
    /// A field beside `dispositionCode`.
    #[error("unexpected field {0:?}: only dispositionCode may be sent")]
    UnexpectedField(String),
    /// No `dispositionCode` object.
    #[error("dispositionCode must be an object")]
    CodeNotAnObject,
    /// A field beside `dispositionCode.id`.
    #[error("unexpected field dispositionCode.{0}")]
    UnexpectedCodeField(String),
    /// No `dispositionCode.id`, or not a non-empty string.
    #[error("dispositionCode.id must be a non-empty string")]
    NoCodeId,
}

pub(super) async fn patch_interaction(
    State(sim): State<Simulator>,
    Path(id): Path<String>,
    conflict: Option<axum::Extension<InjectConflict>>,
    body: axum::body::Bytes,
) -> Response {
    let mut books = sim.books();
    let Books {
        interactions,
        patches,
        ..
    } = &mut *books;
    let Some(interaction) = interactions.get_mut(&id) else {
        return error(
            StatusCode::NOT_FOUND,
            "not.found",
            format!("interaction {id} not found"),
        );
    };
    let count = patches.entry(id.clone()).or_default();
    let behaviour = interaction.behaviour.clone();
    if let Some(answer) = gate_write(count, &behaviour, conflict.is_some(), || {
        interaction
            .body
            .insert("dispositionCode".into(), json!({"id": FOREIGN_CODE}));
    }) {
        return answer;
    }
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad.request",
                format!("invalid JSON: {e}"),
            );
        }
    };
    let code = match disposition_code_of(&parsed) {
        Ok(code) => code.to_owned(),
        Err(problem) => {
            return error(StatusCode::BAD_REQUEST, "bad.request", problem.to_string());
        }
    };
    interaction
        .body
        .insert("dispositionCode".into(), json!({"id": code}));
    count.applied += 1;
    let ok = Json(Value::Object(interaction.body.clone())).into_response();
    answer_applied_write(&behaviour, ok)
}

pub(super) async fn put_interaction(
    State(sim): State<Simulator>,
    Path(id): Path<String>,
    Json(mut body): Json<Map<String, Value>>,
) -> Response {
    body.insert("id".into(), Value::String(id));
    match sim.put_interaction(body) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(problem) => error(StatusCode::BAD_REQUEST, "bad.request", problem.to_string()),
    }
}
