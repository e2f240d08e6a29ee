//! The simulator's own endpoints: the writes each target received.

use super::{PatchCount, Simulator};
use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;

pub(super) async fn all_patches(State(sim): State<Simulator>) -> Response {
    let counts = sim.patch_counts();
    let total = counts
        .values()
        .fold(PatchCount::default(), |sum, count| PatchCount {
            received: sum.received + count.received,
            applied: sum.applied + count.applied,
            foreign: sum.foreign + count.foreign,
        });
    Json(json!({"total": total, "interactions": counts})).into_response()
}

pub(super) async fn one_patch_count(
    State(sim): State<Simulator>,
    Path(id): Path<String>,
) -> Response {
    let count = sim.patch_counts().get(&id).copied().unwrap_or_default();
    Json(json!({
        "interactionId": id,
        "received": count.received,
        "applied": count.applied,
        "foreign": count.foreign
    }))
    .into_response()
}
