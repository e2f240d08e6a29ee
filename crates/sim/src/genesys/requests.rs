//! What the simulated API received: every request in order (method, path, query, body, status) and the OAuth client's request budget (429 with `Retry-After` past it).

use super::Simulator;
use super::answers::error;
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The most requests the log keeps (the oldest are dropped first).
const LOG_CAPACITY: usize = 200_000;
/// The largest request body kept in the log.
const BODY_LIMIT: usize = 1024 * 1024;

/// One request the simulated Genesys API received.
#[derive(Debug, Clone, Serialize)]
pub struct ReceivedRequest {
    /// `GET`, `PATCH`, ...
    pub method: String,
    /// The path, e.g. `/api/v2/conversations/{id}` with the id filled in.
    pub path: String,
    /// The query string, or empty.
    pub(crate) query: String,
    /// The body as JSON (form bodies as an object of their fields), when there was one.
    pub(crate) body: Option<Value>,
    /// The status answered.
    pub(crate) status: u16,
}

/// A budget of requests per window shared by everyone using the OAuth client, as Genesys
/// counts it (about 300 a minute by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestBudget {
    /// Requests allowed per window.
    pub requests: u32,
    /// The window (a minute in Genesys; shorter to compress time in benchmarks).
    pub window: Duration,
}

/// The request log and the budget's sliding window.
#[derive(Debug, Default)]
pub(super) struct RequestBook {
    log: VecDeque<ReceivedRequest>,
    /// When each request inside the current window was let through.
    window: VecDeque<Instant>,
    /// Requests answered 429 because the budget was spent.
    pub(super) throttled: u64,
}

impl RequestBook {
    /// How long until a request fits the budget (zero when it fits now); counts it when it does.
    fn admit(&mut self, budget: RequestBudget, now: Instant) -> Duration {
        while self
            .window
            .front()
            .is_some_and(|at| now.duration_since(*at) >= budget.window)
        {
            self.window.pop_front();
        }
        if self.window.len() < budget.requests as usize {
            self.window.push_back(now);
            return Duration::ZERO;
        }
        self.throttled += 1;
        let oldest = self.window.front().copied().unwrap_or(now);
        (oldest + budget.window).saturating_duration_since(now)
    }

    fn record(&mut self, request: ReceivedRequest) {
        if self.log.len() == LOG_CAPACITY {
            self.log.pop_front();
        }
        self.log.push_back(request);
    }
}

impl Simulator {
    /// Every API request received so far, in order (at most the last 200,000).
    pub fn received_requests(&self) -> Vec<ReceivedRequest> {
        self.requests().log.iter().cloned().collect()
    }

    /// Requests answered 429 because the OAuth client's budget was spent.
    pub fn throttled_requests(&self) -> u64 {
        self.requests().throttled
    }

    /// Forgets the requests received so far (and the 429 count).
    pub fn clear_received_requests(&self) {
        let mut book = self.requests();
        book.log.clear();
        book.throttled = 0;
    }
}

/// Records every request to the Genesys API and the login service, and answers 429 (with
/// `Retry-After` in whole seconds and Genesys' error body) once the client's budget is spent.
pub(super) async fn log_and_limit(
    State(sim): State<Simulator>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .unwrap_or_default();
    let mut received = ReceivedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        body: body_json(&parts.headers, &bytes),
        status: 0,
    };
    let wait = match sim.config.request_budget {
        Some(budget) => sim.requests().admit(budget, Instant::now()),
        None => Duration::ZERO,
    };
    let response = if wait.is_zero() {
        next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
            .await
    } else {
        too_many_requests(wait)
    };
    received.status = response.status().as_u16();
    sim.requests().record(received);
    response
}

fn too_many_requests(wait: Duration) -> Response {
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    let mut response = error(
        StatusCode::TOO_MANY_REQUESTS,
        "too.many.requests",
        format!("Rate limit exceeded the maximum. Retry the request in [{seconds}] seconds"),
    );
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// A JSON body as JSON, a form body as an object of its fields, nothing else.
fn body_json(headers: &axum::http::HeaderMap, bytes: &[u8]) -> Option<Value> {
    if bytes.is_empty() {
        return None;
    }
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if form {
        let fields: serde_json::Map<String, Value> = url::form_urlencoded::parse(bytes)
            .map(|(key, value)| (key.into_owned(), Value::String(value.into_owned())))
            .collect();
        return Some(Value::Object(fields));
    }
    serde_json::from_slice(bytes).ok()
}

/// `GET /sim/requests`: every request received, in order.
pub(super) async fn list_requests(State(sim): State<Simulator>) -> Response {
    Json(sim.received_requests()).into_response()
}

/// `DELETE /sim/requests`: forget them.
pub(super) async fn clear_requests(State(sim): State<Simulator>) -> Response {
    sim.clear_received_requests();
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /sim/requests/stats`: how many requests, how many answered 429, and per method + path
/// template (ids replaced by `{id}`).
pub(super) async fn request_stats(State(sim): State<Simulator>) -> Response {
    let book = sim.requests();
    let mut by_endpoint = std::collections::BTreeMap::<String, u64>::new();
    for request in &book.log {
        *by_endpoint
            .entry(format!("{} {}", request.method, template_of(&request.path)))
            .or_default() += 1;
    }
    Json(json!({
        "total": book.log.len(),
        "throttled": book.throttled,
        "byEndpoint": by_endpoint,
    }))
    .into_response()
}

/// The path with every segment that looks like an id (it has a digit or a dash) as `{id}`.
pub(crate) fn template_of(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.chars().any(|c| c.is_ascii_digit() || c == '-') && segment != "v2" {
                "{id}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_admits_its_requests_per_window_then_says_how_long_to_wait() {
        let budget = RequestBudget {
            requests: 2,
            window: Duration::from_secs(60),
        };
        let mut book = RequestBook::default();
        let start = Instant::now();

        let first = book.admit(budget, start);
        let second = book.admit(budget, start + Duration::from_secs(10));
        let third = book.admit(budget, start + Duration::from_secs(20));
        let after_the_first_left = book.admit(budget, start + Duration::from_secs(60));

        assert_eq!(first, Duration::ZERO);
        assert_eq!(second, Duration::ZERO);
        assert_eq!(third, Duration::from_secs(40));
        assert_eq!(after_the_first_left, Duration::ZERO);
        assert_eq!(book.throttled, 1);
    }

    #[test]
    fn ids_in_paths_become_placeholders() {
        assert_eq!(
            template_of("/api/v2/conversations/calls/9b1f-c001/participants/p-1"),
            "/api/v2/conversations/calls/{id}/participants/{id}"
        );
        assert_eq!(template_of("/oauth/token"), "/oauth/token");
    }
}
