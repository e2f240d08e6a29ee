//! Answers shared by the simulated APIs: errors, correlation ids, reads with lag, gated writes.

use super::{Behaviour, Books, PatchCount, SimInteraction, Simulator};
use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::time::Duration;

pub(super) fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = json!({"status": status.as_u16(), "code": code, "message": message.into()});
    (status, Json(body)).into_response()
}

pub(super) async fn add_correlation_id(mut response: Response) -> Response {
    let id = format!("sim-{:016x}", fastrand::u64(..));
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("ININ-Correlation-Id", value);
    }
    response
}

/// Counts a write, and answers it before it is applied when a concurrent writer wins (an
/// injected conflict: `mark_foreign` records that writer's change, then 409) or when the seed
/// gives a `patchStatus`.
pub(super) fn gate_write(
    count: &mut PatchCount,
    behaviour: &Behaviour,
    conflict: bool,
    mark_foreign: impl FnOnce(),
) -> Option<Response> {
    count.received += 1;
    if conflict {
        mark_foreign();
        count.foreign += 1;
        return Some(error(
            StatusCode::CONFLICT,
            "conflict",
            "changed by a concurrent writer",
        ));
    }
    behaviour
        .patch_status
        .and_then(|s| StatusCode::from_u16(s).ok())
        .map(|status| error(status, "simulated", "simulated status"))
}

/// Answers a read of a seeded resource: 404 when `find` finds nothing, its configured
/// `getStatus`, or its body; with how long to hold the answer (`staleReadMs`).
pub(super) fn answer_read(
    sim: &Simulator,
    what: &str,
    find: impl FnOnce(&Books) -> Option<&SimInteraction>,
    view: impl FnOnce(&Map<String, Value>) -> Value,
) -> (Response, Duration) {
    let books = sim.books();
    let Some(found) = find(&books) else {
        let answer = error(
            StatusCode::NOT_FOUND,
            "not.found",
            format!("{what} not found"),
        );
        return (answer, Duration::ZERO);
    };
    let lag = Duration::from_millis(found.behaviour.stale_read_ms.unwrap_or(0));
    if let Some(status) = found
        .behaviour
        .get_status
        .and_then(|s| StatusCode::from_u16(s).ok())
    {
        return (error(status, "simulated", "simulated status"), lag);
    }
    (Json(view(&found.body)).into_response(), lag)
}

/// A body as stored.
pub(super) fn as_stored(body: &Map<String, Value>) -> Value {
    Value::Object(body.clone())
}

/// Now as the API writes times: RFC 3339 in UTC with milliseconds.
pub(super) fn chrono_now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Holds an answer for `lag` (a zero-length sleep would still wait for the timer's next tick).
pub(super) async fn hold(lag: Duration) {
    if !lag.is_zero() {
        tokio::time::sleep(lag).await;
    }
}

/// The answer to an applied write: `ok`, unless the seed gives a `statusAfterWrite`.
pub(super) fn answer_applied_write(behaviour: &Behaviour, ok: Response) -> Response {
    match behaviour
        .status_after_write
        .and_then(|s| StatusCode::from_u16(s).ok())
    {
        Some(status) => error(status, "simulated", "simulated status after the write"),
        None => ok,
    }
}
