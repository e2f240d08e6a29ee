//! The simulated Routing API: queues (`Queue` with `acwSettings`), the org's wrap-up codes (`WrapupCode`) and each queue's assigned codes, as paged entity listings.

use super::answers::error;
use super::{BodyError, Simulator};
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The org's routing objects, as seeded.
#[derive(Debug, Default)]
pub(super) struct RoutingBook {
    /// Queues by id, as `GET /api/v2/routing/queues/{id}` returns them.
    pub(super) queues: BTreeMap<String, Map<String, Value>>,
    /// The wrap-up codes assigned to each seeded queue (`"x-sim": {"wrapupCodes": [ids]}`).
    pub(super) queue_codes: BTreeMap<String, Vec<String>>,
    /// Wrap-up codes by id, as `GET /api/v2/routing/wrapupcodes/{id}` returns them.
    pub(super) codes: BTreeMap<String, Map<String, Value>>,
}

impl RoutingBook {
    /// Whether `code` may be applied to a participant of `queue`: `None` when the queue's codes
    /// are not modelled (an unseeded queue), so anything goes.
    pub(super) fn accepts(&self, queue: &str, code: &str) -> Option<bool> {
        self.queue_codes
            .get(queue)
            .map(|codes| codes.iter().any(|c| c == code))
    }
}

impl Simulator {
    /// Adds or replaces a queue given as the API returns it, plus `"x-sim": {"wrapupCodes": [ids]}`.
    pub(crate) fn put_queue(&self, mut body: Map<String, Value>) -> Result<(), BodyError> {
        let id = string_id(&body)?;
        let codes = match body.remove(super::BEHAVIOUR_KEY) {
            Some(sim) => {
                serde_json::from_value::<QueueSim>(sim)
                    .map_err(|source| BodyError::QueueBehaviour {
                        id: id.clone(),
                        source,
                    })?
                    .wrapup_codes
            }
            None => None,
        };
        body.entry("selfUri")
            .or_insert_with(|| json!(format!("/api/v2/routing/queues/{id}")));
        let mut books = self.books();
        if let Some(codes) = codes {
            books.routing.queue_codes.insert(id.clone(), codes);
        }
        books.routing.queues.insert(id, body);
        Ok(())
    }

    /// Adds or replaces a wrap-up code given as the API returns it.
    pub(crate) fn put_wrapup_code(&self, mut body: Map<String, Value>) -> Result<(), BodyError> {
        let id = string_id(&body)?;
        body.entry("selfUri")
            .or_insert_with(|| json!(format!("/api/v2/routing/wrapupcodes/{id}")));
        self.books().routing.codes.insert(id, body);
        Ok(())
    }
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct QueueSim {
    wrapup_codes: Option<Vec<String>>,
}

/// The body's `"id"`, a non-empty string.
pub(super) fn string_id(body: &Map<String, Value>) -> Result<String, BodyError> {
    match body.get("id") {
        Some(Value::String(id)) if !id.is_empty() => Ok(id.clone()),
        _ => Err(BodyError::NoId),
    }
}

/// `pageSize` (default 25, at most 500) and `pageNumber` (from 1) of a query.
fn page_of(query: Option<&str>) -> (usize, usize) {
    let number = |name: &str, default: usize| {
        query
            .unwrap_or_default()
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == name)
            .and_then(|(_, value)| value.parse::<usize>().ok())
            .unwrap_or(default)
    };
    (
        number("pageSize", 25).clamp(1, 500),
        number("pageNumber", 1).max(1),
    )
}

/// One page of `entities` as a Genesys entity listing (`*EntityListing`).
fn listing(entities: Vec<Value>, query: Option<&str>) -> Response {
    let (page_size, page_number) = page_of(query);
    let total = entities.len();
    let page: Vec<Value> = entities
        .into_iter()
        .skip((page_number - 1) * page_size)
        .take(page_size)
        .collect();
    Json(json!({
        "entities": page,
        "pageSize": page_size,
        "pageNumber": page_number,
        "total": total,
        "pageCount": total.div_ceil(page_size),
    }))
    .into_response()
}

/// `GET /api/v2/routing/queues?pageSize=&pageNumber=`: the seeded queues, and the queues the
/// seeded conversations' participants came from.
pub(super) async fn list_queues(
    State(sim): State<Simulator>,
    RawQuery(query): RawQuery,
) -> Response {
    let mut queues: BTreeMap<String, Value> = sim
        .conversations()
        .iter()
        .flat_map(|c| c["participants"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p.get("queueId").and_then(Value::as_str).map(str::to_owned))
        .map(|id| {
            let name = format!("Queue {}", &id[..8.min(id.len())]);
            let queue = json!({"id": id, "name": name,
                               "selfUri": format!("/api/v2/routing/queues/{id}")});
            (id, queue)
        })
        .collect();
    for (id, queue) in &sim.books().routing.queues {
        queues.insert(id.clone(), Value::Object(queue.clone()));
    }
    listing(queues.into_values().collect(), query.as_deref())
}

/// `GET /api/v2/routing/queues/{queueId}` (`Queue`).
pub(super) async fn get_queue(State(sim): State<Simulator>, Path(id): Path<String>) -> Response {
    match sim.books().routing.queues.get(&id) {
        Some(queue) => Json(Value::Object(queue.clone())).into_response(),
        None => not_found("queue", &id),
    }
}

/// `GET /api/v2/routing/queues/{queueId}/wrapupcodes` (`WrapupCodeEntityListing`): the codes
/// assigned to the queue.
pub(super) async fn queue_wrapup_codes(
    State(sim): State<Simulator>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let books = sim.books();
    if !books.routing.queues.contains_key(&id) {
        return not_found("queue", &id);
    }
    let codes = books
        .routing
        .queue_codes
        .get(&id)
        .cloned()
        .unwrap_or_default();
    let entities = codes
        .iter()
        .map(|code| match books.routing.codes.get(code) {
            Some(body) => Value::Object(body.clone()),
            None => json!({"id": code, "selfUri": format!("/api/v2/routing/wrapupcodes/{code}")}),
        })
        .collect();
    listing(entities, query.as_deref())
}

/// `GET /api/v2/routing/wrapupcodes` (`WrapupCodeEntityListing`): the org's codes.
pub(super) async fn list_wrapup_codes(
    State(sim): State<Simulator>,
    RawQuery(query): RawQuery,
) -> Response {
    let entities = sim
        .books()
        .routing
        .codes
        .values()
        .map(|code| Value::Object(code.clone()))
        .collect();
    listing(entities, query.as_deref())
}

/// `GET /api/v2/routing/wrapupcodes/{codeId}` (`WrapupCode`).
pub(super) async fn get_wrapup_code(
    State(sim): State<Simulator>,
    Path(id): Path<String>,
) -> Response {
    match sim.books().routing.codes.get(&id) {
        Some(code) => Json(Value::Object(code.clone())).into_response(),
        None => not_found("wrap-up code", &id),
    }
}

fn not_found(what: &str, id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not.found",
        format!("{what} {id} not found"),
    )
}
