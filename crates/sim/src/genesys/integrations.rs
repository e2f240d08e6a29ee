//! The simulated Integrations API (the Amazon EventBridge Source), available notification topics and the organization, in Genesys' shapes.

use super::Simulator;
use super::answers::error;
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gev_core::domain::integration::INTEGRATION_TYPE;
use serde::Deserialize;
use serde_json::{Value, json};

/// Faults of the simulated Integrations API (`PUT /sim/integrations/faults`), for every
/// integration of the simulator, those created later included.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct IntegrationFaults {
    /// What an enabled integration reports once it has been read ACTIVATING: `ACTIVE` (the
    /// default), `ERROR`, or `ACTIVATING` (it never becomes active).
    reported_after_enabling: Option<String>,
    /// Every `PATCH /api/v2/integrations/{id}` (intendedState) is answered with this status and
    /// not applied (e.g. 503, or 400).
    patch_status: Option<u16>,
    /// Every `PUT …/config/current` is answered with this status and not applied: with a create
    /// before it, a create that succeeds and a configuration that does not.
    put_status: Option<u16>,
}

fn faults_of(sim: &Simulator) -> IntegrationFaults {
    sim.books().integration_faults.clone()
}

/// `PUT /sim/integrations/faults` with [`IntegrationFaults`] (`{}` clears them).
pub(super) async fn put_faults(
    State(sim): State<Simulator>,
    Json(faults): Json<IntegrationFaults>,
) -> Response {
    if let Some(state) = &faults.reported_after_enabling
        && !matches!(state.as_str(), "ACTIVE" | "ERROR" | "ACTIVATING")
    {
        return error(
            StatusCode::BAD_REQUEST,
            "bad.request",
            "reportedAfterEnabling must be ACTIVE, ERROR or ACTIVATING",
        );
    }
    let statuses = [faults.patch_status, faults.put_status];
    if statuses
        .into_iter()
        .flatten()
        .any(|status| StatusCode::from_u16(status).is_err())
    {
        return error(StatusCode::BAD_REQUEST, "bad.request", "not an HTTP status");
    }
    sim.books().integration_faults = faults;
    StatusCode::NO_CONTENT.into_response()
}

/// An injected failure answer of the Integrations API.
fn injected(status: u16, what: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    error(status, "simulated", format!("simulated failure of {what}"))
}

/// The simulated organization's id (the partner event source's name carries it).
pub const ORG_ID: &str = "3f1c8a2e-7b6d-4e5f-9a0b-1c2d3e4f5a6b";

/// One integration: the `Integration` fields, and its current `IntegrationConfiguration`.
#[derive(Debug, Clone)]
pub(super) struct SimIntegration {
    id: String,
    intended_state: String,
    reported_state: String,
    config: Value,
}

impl SimIntegration {
    /// The `Integration` as `GET /api/v2/integrations/{id}` returns it.
    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.config["name"],
            "integrationType": {"id": INTEGRATION_TYPE, "name": "Amazon EventBridge Source"},
            "notes": self.config["notes"],
            "intendedState": self.intended_state,
            "config": {"current": {
                "id": self.id,
                "name": self.config["name"],
                "version": self.config["version"],
                "selfUri": format!("/api/v2/integrations/{}/config/current", self.id)
            }},
            "reportedState": {"code": self.reported_state, "effective": self.reported_state},
            "selfUri": format!("/api/v2/integrations/{}", self.id)
        })
    }
}

/// `GET /api/v2/integrations?integrationType=…`: one page of every integration of that type.
pub(super) async fn list_integrations(
    State(sim): State<Simulator>,
    RawQuery(query): RawQuery,
) -> Response {
    let wanted = query.unwrap_or_default();
    let books = sim.books();
    let entities: Vec<Value> = books
        .integrations
        .values()
        .filter(|_| wanted.is_empty() || wanted.contains(INTEGRATION_TYPE))
        .map(SimIntegration::to_json)
        .collect();
    let total = entities.len();
    Json(json!({"entities": entities, "pageSize": 25, "pageNumber": 1, "total": total, "pageCount": 1}))
        .into_response()
}

/// `POST /api/v2/integrations` with `{name, integrationType: {id}}`: a new, disabled integration
/// whose configuration is at version 1.
pub(super) async fn create_integration(
    State(sim): State<Simulator>,
    Json(body): Json<Value>,
) -> Response {
    if body.pointer("/integrationType/id").and_then(Value::as_str) != Some(INTEGRATION_TYPE) {
        return error(
            StatusCode::BAD_REQUEST,
            "bad.request",
            "integrationType.id must be amazon-eventbridge-source",
        );
    }
    let id = format!(
        "{:08x}-sim0-4000-8000-{:012x}",
        fastrand::u32(..),
        fastrand::u64(..) >> 16
    );
    let name = body.get("name").cloned().unwrap_or(json!(""));
    let integration = SimIntegration {
        id: id.clone(),
        intended_state: "DISABLED".into(),
        reported_state: "INACTIVE".into(),
        config: json!({"id": id, "name": name, "version": 1, "properties": {},
                       "advanced": {}, "notes": "node_dynamodb_empty_string", "credentials": {}}),
    };
    let mut books = sim.books();
    books
        .integration_writes
        .push(format!("POST /api/v2/integrations ({id})"));
    let answer = integration.to_json();
    books.integrations.insert(id, integration);
    Json(answer).into_response()
}

/// `GET /api/v2/integrations/{id}`; an enabled integration reports ACTIVATING once, then ACTIVE
/// (or what the faults' `reportedAfterEnabling` says).
pub(super) async fn get_integration(
    State(sim): State<Simulator>,
    Path(id): Path<String>,
) -> Response {
    let after = faults_of(&sim)
        .reported_after_enabling
        .unwrap_or_else(|| "ACTIVE".into());
    let mut books = sim.books();
    let Some(integration) = books.integrations.get_mut(&id) else {
        return missing(&id);
    };
    let answer = integration.to_json();
    if integration.reported_state == "ACTIVATING" {
        integration.reported_state = after;
    }
    Json(answer).into_response()
}

/// `PATCH /api/v2/integrations/{id}` with `{intendedState}`.
pub(super) async fn patch_integration(
    State(sim): State<Simulator>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let state = body
        .get("intendedState")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !matches!(state, "ENABLED" | "DISABLED") {
        return error(
            StatusCode::BAD_REQUEST,
            "bad.request",
            "intendedState must be ENABLED or DISABLED",
        );
    }
    let failing = faults_of(&sim).patch_status;
    let mut books = sim.books();
    books
        .integration_writes
        .push(format!("PATCH /api/v2/integrations/{id}"));
    if let Some(status) = failing {
        return injected(status, "PATCH intendedState");
    }
    let Some(integration) = books.integrations.get_mut(&id) else {
        return missing(&id);
    };
    integration.intended_state = state.to_owned();
    integration.reported_state = if state == "ENABLED" {
        "ACTIVATING"
    } else {
        "INACTIVE"
    }
    .into();
    Json(integration.to_json()).into_response()
}

/// `GET /api/v2/integrations/{id}/config/current`.
pub(super) async fn get_config(State(sim): State<Simulator>, Path(id): Path<String>) -> Response {
    match sim.books().integrations.get(&id) {
        Some(integration) => Json(integration.config.clone()).into_response(),
        None => missing(&id),
    }
}

/// `PUT /api/v2/integrations/{id}/config/current`: the body must name the current `version`
/// (a stale one is a 409), and holds the whole configuration.
pub(super) async fn put_config(
    State(sim): State<Simulator>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let failing = faults_of(&sim).put_status;
    let mut books = sim.books();
    books
        .integration_writes
        .push(format!("PUT /api/v2/integrations/{id}/config/current"));
    if let Some(status) = failing {
        return injected(status, "PUT config/current");
    }
    let Some(integration) = books.integrations.get_mut(&id) else {
        return missing(&id);
    };
    let current = integration.config["version"].as_i64().unwrap_or(0);
    if body.get("version").and_then(Value::as_i64) != Some(current) {
        return error(
            StatusCode::CONFLICT,
            "conflict",
            format!("the version does not match the current version {current}"),
        );
    }
    let mut config = body;
    config["id"] = json!(id);
    config["version"] = json!(current + 1);
    if config.get("notes").and_then(Value::as_str) == Some("") {
        config["notes"] = json!("node_dynamodb_empty_string");
    }
    integration.config = config.clone();
    Json(config).into_response()
}

/// `GET /api/v2/integrations/types/amazon-eventbridge-source/configschemas/properties`.
pub(super) async fn properties_schema() -> Response {
    Json(json!({
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "object",
        "properties": {
            "awsAccountId": {"type": "string", "pattern": "^[0-9]{12}$"},
            "awsAccountRegion": {"type": "string"},
            "eventSourceSuffix": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"},
            "eventFilter": {"type": "array", "items": {"type": "string"}, "minItems": 1}
        },
        "required": ["awsAccountId", "awsAccountRegion", "eventSourceSuffix", "eventFilter"]
    }))
    .into_response()
}

/// `GET /api/v2/notifications/availabletopics?expand=transports`: a few real topics with their
/// transports (`All`, `Websocket`, `EventBridge`).
pub(super) async fn available_topics() -> Response {
    let topics: Vec<Value> = TOPICS
        .iter()
        .map(|(id, transports)| json!({"id": id, "description": id, "transports": transports}))
        .collect();
    Json(json!({"entities": topics})).into_response()
}

/// The topics the simulated organization can send, with their transports.
pub(super) const TOPICS: &[(&str, &[&str])] = &[
    ("v2.detail.events.conversation.{id}.user.start", &["All"]),
    ("v2.detail.events.conversation.{id}.user.end", &["All"]),
    (
        "v2.detail.events.conversation.{id}.customer.start",
        &["All"],
    ),
    ("v2.detail.events.conversation.{id}.customer.end", &["All"]),
    ("v2.detail.events.conversation.{id}.acw", &["All"]),
    (
        "v2.detail.events.conversation.{id}.acd.end",
        &["EventBridge"],
    ),
    ("v2.users.{id}.presence", &["Websocket"]),
    ("v2.routing.queues.{id}.conversations", &["Websocket"]),
    ("v2.routing.queues.{id}.conversations.calls", &["Websocket"]),
];

/// `GET /api/v2/organizations/me`.
pub(super) async fn organization() -> Response {
    Json(json!({"id": ORG_ID, "name": "Simulated organization", "state": "active"})).into_response()
}

/// `PUT /sim/integrations/{id}/bump`: someone else changes the configuration (notes, version + 1)
/// behind the tool's back.
pub(super) async fn bump_integration(
    State(sim): State<Simulator>,
    Path(id): Path<String>,
) -> Response {
    let mut books = sim.books();
    let Some(integration) = books.integrations.get_mut(&id) else {
        return missing(&id);
    };
    let version = integration.config["version"].as_i64().unwrap_or(0);
    integration.config["version"] = json!(version + 1);
    integration.config["notes"] = json!("changed in the console");
    StatusCode::NO_CONTENT.into_response()
}

/// The 404 of an integration that does not exist.
fn missing(id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not.found",
        format!("integration {id} not found"),
    )
}
