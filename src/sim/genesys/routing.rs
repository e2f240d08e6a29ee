//! The simulated queue listing (`GET /api/v2/routing/queues`): the queues the seeded conversations' participants came from, as a paged `QueueEntityListing`.

use super::Simulator;
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// `GET /api/v2/routing/queues?pageSize=&pageNumber=`.
pub(super) async fn list_queues(
    State(sim): State<Simulator>,
    RawQuery(query): RawQuery,
) -> Response {
    let number = |name: &str, default: usize| {
        query
            .as_deref()
            .unwrap_or_default()
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == name)
            .and_then(|(_, value)| value.parse::<usize>().ok())
            .unwrap_or(default)
    };
    let (page_size, page_number) = (
        number("pageSize", 25).clamp(1, 500),
        number("pageNumber", 1).max(1),
    );
    let queues: BTreeSet<String> = sim
        .conversations()
        .iter()
        .flat_map(|c| c["participants"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| {
            p.pointer("/queue/id")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    let total = queues.len();
    let entities: Vec<Value> = queues
        .iter()
        .skip((page_number - 1) * page_size)
        .take(page_size)
        .map(|id| {
            json!({"id": id, "name": format!("Queue {}", &id[..8.min(id.len())]),
                         "selfUri": format!("/api/v2/routing/queues/{id}")})
        })
        .collect();
    Json(json!({
        "entities": entities,
        "pageSize": page_size,
        "pageNumber": page_number,
        "total": total,
        "pageCount": total.div_ceil(page_size),
    }))
    .into_response()
}
