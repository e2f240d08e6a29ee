//! A local EventBridge `PutEvents` (AWS JSON 1.1, as the SDK speaks it) with scripted per-entry and whole-request failures (AWS errors, and transport faults: an answer cut mid-body, a short answer, a blackhole), AWS's request limits, and a record of every request and accepted event.
//!
//! Served by `genesys-sim` at `POST /` (header `X-Amz-Target: AWSEvents.PutEvents`), so
//! `AWS_ENDPOINT_URL_EVENTBRIDGE` can point at the simulator. `PUT /sim/eventbridge/script`
//! chooses failures, `GET /sim/eventbridge/requests`, `…/events` and `…/stats` show what arrived.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Entries per request AWS accepts.
const MAX_ENTRIES: usize = 10;
/// The request byte limit AWS applies (the sum of the entries' sizes).
pub(crate) const MAX_REQUEST_BYTES: usize = 262_144;

/// Which answers the stand-in gives.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BusScript {
    /// By `detail.bridge.eventId`: the answer to the entry's 1st, 2nd, … attempt — `"ok"` or an
    /// `ErrorCode` such as `ThrottlingException`; attempts beyond the list are accepted.
    #[serde(default)]
    pub entries: HashMap<String, Vec<String>>,
    /// The next `count` requests fail as a whole.
    #[serde(default)]
    pub fail_requests: Option<RequestFault>,
}

/// A whole-request fault, for the next `count` requests.
///
/// `code` names what happens. An AWS error type (`ThrottlingException`, `ServiceUnavailable`, …)
/// fails the request as a whole with `status`, nothing accepted:
/// `{"count": 2, "status": 400, "code": "ThrottlingException"}`. The stand-in's own transport
/// faults (`status` is not used):
///
/// - [`RequestFault::CUT_ANSWER`] (`"CutAnswer"`): every entry is taken as usual (scripted
///   per-entry answers apply, the events are recorded as accepted), then the answer is cut
///   mid-body: its `Content-Length` promises the whole answer, half of it is sent and the
///   connection is closed. The client cannot tell what the bus took.
/// - [`RequestFault::BLACKHOLE`] (`"Blackhole"`): the request is read and recorded (answer
///   `blackhole`), nothing is accepted, and it is never answered: the connection stays open
///   until the client gives up (its timeout) or the simulator stops.
/// - [`RequestFault::SHORT_ANSWER`] (`"ShortAnswer"`): every entry is taken as usual, and the
///   answer lists only the first entry's result (fewer entries than were sent).
///
/// `RequestFault` keeps the shape it had (a struct, not an enum) so that scripts written as
/// `RequestFault { count, status, code }` still build; the faults are its `code`s, made by
/// [`RequestFault::cut_answer`] and [`RequestFault::short_answer`] (the blackhole is named by its
/// code) and told apart inside the stand-in by `RequestFault::kind`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestFault {
    /// How many requests fail.
    pub count: u64,
    /// The HTTP status of an AWS error (400 for throttling, 500/503 for the service); 400 when
    /// left out of a JSON script. Not used by the stand-in's transport faults.
    #[serde(default = "client_error")]
    pub status: u16,
    /// The error type (`__type`), or one of the stand-in's transport faults.
    pub code: String,
}

fn client_error() -> u16 {
    400
}

/// What a [`RequestFault`] does to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultKind<'a> {
    /// Fails the request as a whole with this HTTP status and AWS error type; nothing accepted.
    Error {
        /// The HTTP status.
        status: u16,
        /// The error type.
        code: &'a str,
    },
    /// Takes the entries, then cuts the answer mid-body.
    CutAnswer,
    /// Reads the request and never answers.
    Blackhole,
    /// Takes the entries and answers only the first one.
    ShortAnswer,
}

impl RequestFault {
    /// The `code` of the fault that takes the entries, then cuts the answer mid-body.
    pub const CUT_ANSWER: &'static str = "CutAnswer";
    /// The `code` of the fault that reads the request and never answers.
    pub const BLACKHOLE: &'static str = "Blackhole";
    /// The `code` of the fault that takes the entries and answers only the first one.
    pub const SHORT_ANSWER: &'static str = "ShortAnswer";

    /// The next `count` requests fail with `status` and the AWS error type `code`.
    pub(crate) fn error(count: u64, status: u16, code: &str) -> Self {
        RequestFault {
            count,
            status,
            code: code.to_owned(),
        }
    }

    /// The next `count` requests are taken and their answers cut mid-body.
    pub fn cut_answer(count: u64) -> Self {
        Self::error(count, 200, Self::CUT_ANSWER)
    }

    /// The next `count` requests are taken and answered for their first entry only.
    pub fn short_answer(count: u64) -> Self {
        Self::error(count, 200, Self::SHORT_ANSWER)
    }

    /// What this fault does.
    pub(crate) fn kind(&self) -> FaultKind<'_> {
        match self.code.as_str() {
            Self::CUT_ANSWER => FaultKind::CutAnswer,
            Self::BLACKHOLE => FaultKind::Blackhole,
            Self::SHORT_ANSWER => FaultKind::ShortAnswer,
            code => FaultKind::Error {
                status: self.status,
                code,
            },
        }
    }
}

/// One request as received.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RequestRecord {
    /// The bridge ids of its entries (or `?` for an entry without one), in order.
    pub bridge_event_ids: Vec<String>,
    /// The entries' total size, as AWS counts it.
    pub bytes: usize,
    /// `ok`, the status and code of a whole-request failure, `blackhole`, or `ok (…)` naming
    /// the transport fault applied to an answer.
    pub answer: String,
}

#[derive(Debug, Default)]
struct Books {
    script: BusScript,
    attempts: HashMap<String, usize>,
    requests: Vec<RequestRecord>,
    events: Vec<Value>,
    /// For each accepted entry with a `Time`: when it was accepted minus that time, in ms.
    lags_ms: Vec<f64>,
    next_id: u64,
}

/// The stand-in's state; clone it to share.
#[derive(Debug, Clone, Default)]
pub struct BusStandIn {
    books: Arc<Mutex<Books>>,
}

impl BusStandIn {
    /// Replaces the script (and forgets the attempts counted so far).
    pub fn set_script(&self, script: BusScript) {
        let mut books = self.books();
        books.script = script;
        books.attempts.clear();
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.books().requests.clone()
    }

    /// Every accepted event, as an EventBridge envelope, in order.
    pub fn events(&self) -> Vec<Value> {
        self.books().events.clone()
    }

    /// The routes: `POST /` and the `/sim/eventbridge/…` admin endpoints.
    pub(crate) fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        Router::new()
            .route("/", post(put_events))
            .route("/sim/eventbridge/script", put(put_script))
            .route("/sim/eventbridge/requests", get(get_requests))
            .route("/sim/eventbridge/events", get(get_events))
            .route("/sim/eventbridge/stats", get(get_stats))
            .with_state(self.clone())
    }

    fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        gev_core::locks::lock(&self.books)
    }
}

async fn put_script(State(bus): State<BusStandIn>, Json(script): Json<BusScript>) -> StatusCode {
    bus.set_script(script);
    StatusCode::NO_CONTENT
}

async fn get_requests(State(bus): State<BusStandIn>) -> Json<Vec<RequestRecord>> {
    Json(bus.requests())
}

async fn get_events(State(bus): State<BusStandIn>) -> Json<Vec<Value>> {
    Json(bus.events())
}

/// Counts only, for large runs: requests received, events accepted, and the time from each
/// entry's own `Time` to its acceptance (p50/max, ms).
async fn get_stats(State(bus): State<BusStandIn>) -> Json<Value> {
    let books = bus.books();
    let mut lags = books.lags_ms.clone();
    lags.sort_by(f64::total_cmp);
    let lag = (!lags.is_empty())
        .then(|| json!({"p50": lags[(lags.len() - 1) / 2], "max": lags[lags.len() - 1]}));
    Json(json!({"requests": books.requests.len(), "accepted": books.events.len(), "lagMs": lag}))
}

fn aws_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/x-amz-json-1.1"),
            (header::HeaderName::from_static("x-amzn-errortype"), code),
        ],
        Json(json!({"__type": code, "message": message})),
    )
        .into_response()
}

/// The size AWS counts for an entry: 14 bytes for `Time` when set, plus the UTF-8 bytes of
/// `Source`, `DetailType`, `Detail` and each `Resources` item.
fn entry_size(entry: &Value) -> usize {
    let text = |key: &str| entry.get(key).and_then(Value::as_str).map_or(0, str::len);
    let time = if entry.get("Time").is_some() { 14 } else { 0 };
    let resources: usize = entry
        .get("Resources")
        .and_then(Value::as_array)
        .map_or(0, |items| {
            items.iter().filter_map(Value::as_str).map(str::len).sum()
        });
    time + text("Source") + text("DetailType") + text("Detail") + resources
}

async fn put_events(State(bus): State<BusStandIn>, headers: HeaderMap, body: String) -> Response {
    match answer(&bus, &headers, &body) {
        Some(response) => response,
        // Read, recorded, never answered: the client's own timeout ends the exchange.
        None => std::future::pending().await,
    }
}

/// The answer to one PutEvents request, or `None` for a blackholed one (recorded, unanswered).
fn answer(bus: &BusStandIn, headers: &HeaderMap, body: &str) -> Option<Response> {
    let target = headers
        .get("x-amz-target")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if target != "AWSEvents.PutEvents" {
        return Some(aws_error(
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            &format!("the stand-in serves AWSEvents.PutEvents only, not {target:?}"),
        ));
    }
    let Ok(request) = serde_json::from_str::<Value>(body) else {
        return Some(aws_error(
            StatusCode::BAD_REQUEST,
            "SerializationException",
            "not JSON",
        ));
    };
    let entries = request
        .get("Entries")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let bridge_ids: Vec<String> = entries.iter().map(bridge_id).collect();
    let bytes: usize = entries.iter().map(entry_size).sum();
    let mut books = bus.books();
    let mut record = RequestRecord {
        bridge_event_ids: bridge_ids.clone(),
        bytes,
        answer: "ok".into(),
    };
    let mut transport = None;
    let refusal = if entries.is_empty() || entries.len() > MAX_ENTRIES {
        Some((
            StatusCode::BAD_REQUEST,
            "ValidationException".to_owned(),
            format!(
                "{} entries; a request takes 1 to {MAX_ENTRIES}",
                entries.len()
            ),
        ))
    } else if bytes > MAX_REQUEST_BYTES {
        Some((
            StatusCode::BAD_REQUEST,
            "ValidationException".to_owned(),
            "Total size of the entries in the request is over the limit.".to_owned(),
        ))
    } else if let Some(fault) = books.script.fail_requests.as_mut().filter(|f| f.count > 0) {
        fault.count -= 1;
        match fault.kind() {
            FaultKind::Error { status, code } => Some((
                StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
                code.to_owned(),
                "scripted failure".to_owned(),
            )),
            FaultKind::CutAnswer => {
                transport = Some(Transport::CutAnswer);
                None
            }
            FaultKind::Blackhole => {
                transport = Some(Transport::Blackhole);
                None
            }
            FaultKind::ShortAnswer => {
                transport = Some(Transport::ShortAnswer);
                None
            }
        }
    } else {
        None
    };
    if let Some((status, code, message)) = refusal {
        record.answer = format!("{} {code}", status.as_u16());
        books.requests.push(record);
        return Some(aws_error(status, &code, &message));
    }
    if transport == Some(Transport::Blackhole) {
        record.answer = "blackhole".into();
        books.requests.push(record);
        return None;
    }
    record.answer = match transport {
        Some(Transport::CutAnswer) => "ok (answer cut mid-body)".into(),
        Some(Transport::ShortAnswer) => format!("ok (answered 1 of {} entries)", entries.len()),
        _ => "ok".into(),
    };
    books.requests.push(record);
    let mut answers = Vec::with_capacity(entries.len());
    let mut failed = 0;
    for (entry, id) in entries.iter().zip(&bridge_ids) {
        let attempt = {
            let count = books.attempts.entry(id.clone()).or_insert(0);
            *count += 1;
            *count
        };
        let scripted = books
            .script
            .entries
            .get(id)
            .and_then(|answers| answers.get(attempt - 1))
            .filter(|answer| answer.as_str() != "ok")
            .cloned();
        let code = scripted.or_else(|| invalid_entry(entry).map(str::to_owned));
        if let Some(code) = code {
            failed += 1;
            answers.push(json!({"ErrorCode": code, "ErrorMessage": format!("{code} (stand-in)")}));
            continue;
        }
        if let Some(seconds) = entry.get("Time").and_then(Value::as_f64) {
            #[allow(clippy::cast_precision_loss)]
            let now_ms = chrono::Utc::now().timestamp_millis() as f64;
            books.lags_ms.push(now_ms - seconds * 1000.0);
        }
        books.next_id += 1;
        let event_id = format!("00000000-0000-4000-8000-{:012x}", books.next_id);
        books.events.push(envelope(entry, &event_id));
        answers.push(json!({"EventId": event_id}));
    }
    drop(books);
    if transport == Some(Transport::ShortAnswer) {
        answers.truncate(1);
        failed = answers
            .iter()
            .filter(|a| a.get("ErrorCode").is_some())
            .count();
    }
    let answer = json!({"FailedEntryCount": failed, "Entries": answers}).to_string();
    if transport == Some(Transport::CutAnswer) {
        return Some(cut_mid_body(answer));
    }
    Some(
        (
            [(header::CONTENT_TYPE, "application/x-amz-json-1.1")],
            answer,
        )
            .into_response(),
    )
}

/// A stand-in fault that acts on the connection rather than answering an AWS error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    CutAnswer,
    Blackhole,
    ShortAnswer,
}

/// A 200 answer whose `Content-Length` promises all of `answer` but whose body stops halfway:
/// the headers and the first half go out, then (a moment later, so that they are on the wire)
/// the body fails and the server closes the connection mid-body.
fn cut_mid_body(answer: String) -> Response {
    use futures_util::StreamExt;
    let mut bytes = answer.into_bytes();
    let length = bytes.len();
    bytes.truncate(length / 2);
    let half = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes)]);
    let cut = futures_util::stream::once(async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        Err(std::io::Error::other("the stand-in cuts this answer"))
    });
    let mut response = axum::body::Body::from_stream(half.chain(cut)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    headers.insert(header::CONTENT_LENGTH, header::HeaderValue::from(length));
    response
}

/// `detail.bridge.eventId`, or `?`.
fn bridge_id(entry: &Value) -> String {
    entry
        .get("Detail")
        .and_then(Value::as_str)
        .and_then(|detail| serde_json::from_str::<Value>(detail).ok())
        .and_then(|detail| {
            detail
                .pointer("/bridge/eventId")?
                .as_str()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "?".into())
}

/// The per-entry code AWS gives an entry it cannot take.
fn invalid_entry(entry: &Value) -> Option<&'static str> {
    let present = |key: &str| {
        entry
            .get(key)
            .and_then(Value::as_str)
            .is_some_and(|v| !v.is_empty())
    };
    if !present("Source") || !present("DetailType") || !present("Detail") {
        return Some("InvalidArgument");
    }
    let detail = entry
        .get("Detail")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match serde_json::from_str::<Value>(detail) {
        Ok(Value::Object(_)) => None,
        _ => Some("MalformedDetail"),
    }
}

/// The event as a rule target would receive it.
fn envelope(entry: &Value, event_id: &str) -> Value {
    let time = entry
        .get("Time")
        .and_then(Value::as_f64)
        .and_then(|seconds| {
            #[allow(clippy::cast_possible_truncation)]
            chrono::DateTime::from_timestamp_millis((seconds * 1000.0) as i64)
        })
        .unwrap_or_else(chrono::Utc::now);
    let detail = entry
        .get("Detail")
        .and_then(Value::as_str)
        .and_then(|detail| serde_json::from_str::<Value>(detail).ok())
        .unwrap_or(Value::Null);
    json!({
        "version": "0",
        "id": event_id,
        "detail-type": entry.get("DetailType"),
        "source": entry.get("Source"),
        "account": "000000000000",
        "time": time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "region": "local",
        "resources": [],
        "detail": detail,
    })
}
