//! The Genesys Cloud simulator behind `genesys-sim`: tokens, interactions (tutorial dialect),
//! conversations (native dialect), and counts of the changes each received.
//!
//! It checks client credentials on `POST /oauth/token`, serves interactions and conversations
//! seeded from a file, really applies dispositions (`PATCH /api/v2/interactions/{id}`) and
//! wrap-ups (`PATCH .../participants/{id}` or `POST .../communications/{id}/wrapup`), and counts
//! the writes each interaction or participant received (`GET /sim/patches`).

use crate::domain::MediaType;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use axum::{Form, Json, Router};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path as FsPath;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// The key of an interaction's simulator-only settings inside a seed entry.
pub const BEHAVIOUR_KEY: &str = "x-sim";

/// Credentials and token lifetime of the simulated organisation.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub client_id: String,
    pub client_secret: String,
    pub token_lifetime: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            client_id: "demo-client".into(),
            client_secret: "demo-secret".into(),
            token_lifetime: Duration::from_secs(86_400),
        }
    }
}

/// Per-interaction simulator settings (`"x-sim"` in the seed file).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Behaviour {
    /// Answer every PATCH with this status instead of applying it (e.g. 409).
    pub patch_status: Option<u16>,
    /// Answer every GET with this status instead of the interaction (e.g. 403).
    pub get_status: Option<u16>,
    /// Answer a GET with the state read on arrival, this many ms later (a lagging replica: a
    /// write landing meanwhile is not in the answer).
    pub stale_read_ms: Option<u64>,
    /// Apply every write, then answer it with this status (e.g. 502: a gateway lost the answer).
    pub status_after_write: Option<u16>,
}

#[derive(Debug, Clone)]
struct SimInteraction {
    body: Map<String, Value>,
    behaviour: Behaviour,
}

/// How many writes an interaction (or participant) received, how many of them changed it, and
/// how many times a simulated concurrent writer changed it instead (injected 409s).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchCount {
    pub received: u64,
    pub applied: u64,
    #[serde(default)]
    pub foreign: u64,
}

/// The code a simulated concurrent writer sets before answering 409.
pub const FOREIGN_CODE: &str = "set-by-a-concurrent-writer";

/// Faults injected into API requests (`/api/v2/...`), each a share of requests in 0..=1, drawn
/// from a generator seeded with `seed` so that a run can be repeated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Faults {
    pub seed: u64,
    /// 429 with `Retry-After: retryAfterSeconds`.
    pub rate_limited: f64,
    pub retry_after_seconds: f64,
    /// 503.
    pub server_error: f64,
    /// Every token is revoked and the request answered 401.
    pub token_revoked: f64,
    /// Writes only: a concurrent writer sets another code first, then 409.
    pub conflict: f64,
    /// The answer is delayed by `slowMs`.
    pub slow: f64,
    pub slow_ms: u64,
    /// The request is processed (a write is applied), then the answer is held for `timeoutMs`,
    /// longer than a client waits: the worst case of a lost response.
    pub timeout: f64,
    pub timeout_ms: u64,
    /// Writes only: the write is applied, then answered 502 (a gateway lost the answer).
    pub bad_gateway_after_write: f64,
    /// Writes only: the write is applied, then answered 500 or 504 (drawn half and half).
    pub server_error_after_write: f64,
    /// The token service refuses every client (401 `invalid_client`) for this long after the
    /// faults are set: a credentials outage (not a share; requests of valid tokens still pass).
    pub token_refused_ms: u64,
}

impl Faults {
    /// Parses `key=value,...` with the JSON field names, e.g.
    /// `rateLimited=0.05,serverError=0.05,timeout=0.01,timeoutMs=2000,seed=7`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut object = Map::new();
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("{pair:?} is not key=value"))?;
            let number: f64 = value
                .trim()
                .parse()
                .map_err(|_| format!("{key}: {value:?} is not a number"))?;
            let value = if matches!(
                key.trim(),
                "seed" | "slowMs" | "timeoutMs" | "tokenRefusedMs"
            ) {
                json!(number as u64)
            } else {
                json!(number)
            };
            object.insert(key.trim().to_owned(), value);
        }
        let faults: Faults =
            serde_json::from_value(Value::Object(object)).map_err(|e| e.to_string())?;
        let total = faults.rate_limited
            + faults.server_error
            + faults.token_revoked
            + faults.conflict
            + faults.slow
            + faults.timeout
            + faults.bad_gateway_after_write
            + faults.server_error_after_write;
        if !(0.0..=1.0).contains(&total) {
            return Err(format!("the shares add up to {total}, outside 0..=1"));
        }
        Ok(faults)
    }
}

/// What the injector decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    RateLimited,
    ServerError,
    TokenRevoked,
    Conflict,
    Slow,
    Timeout,
    BadGatewayAfterWrite,
    /// Applied, then answered with this status (500 or 504).
    ServerErrorAfterWrite(StatusCode),
}

/// Marks a write request on which a concurrent writer wins (set by the fault layer).
#[derive(Debug, Clone, Copy)]
struct InjectConflict;

#[derive(Debug)]
struct Injector {
    faults: Faults,
    rng: fastrand::Rng,
    injected: BTreeMap<&'static str, u64>,
    /// When the faults were set (the token outage runs from then).
    since: Instant,
}

impl Injector {
    fn new(faults: Faults) -> Self {
        Injector {
            rng: fastrand::Rng::with_seed(faults.seed),
            faults,
            injected: BTreeMap::new(),
            since: Instant::now(),
        }
    }

    /// True, counting it, while the configured token outage lasts.
    fn refuses_tokens(&mut self) -> bool {
        let outage = Duration::from_millis(self.faults.token_refused_ms);
        if self.since.elapsed() >= outage {
            return false;
        }
        *self.injected.entry("tokenRefused").or_default() += 1;
        true
    }

    fn draw(&mut self, write: bool) -> Option<Fault> {
        let f = &self.faults;
        let mut roll = self.rng.f64();
        let mut pick = |share: f64, fault: Fault| {
            if roll < share {
                return Some(fault);
            }
            roll -= share;
            None
        };
        // Faults of writes only have no share of reads.
        let write_only = |share: f64| if write { share } else { 0.0 };
        let fault = pick(f.rate_limited, Fault::RateLimited)
            .or_else(|| pick(f.server_error, Fault::ServerError))
            .or_else(|| pick(f.token_revoked, Fault::TokenRevoked))
            .or_else(|| pick(write_only(f.conflict), Fault::Conflict))
            .or_else(|| pick(f.slow, Fault::Slow))
            .or_else(|| pick(f.timeout, Fault::Timeout))
            .or_else(|| {
                pick(
                    write_only(f.bad_gateway_after_write),
                    Fault::BadGatewayAfterWrite,
                )
            })
            .or_else(|| {
                let status = if self.rng.bool() {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::GATEWAY_TIMEOUT
                };
                pick(
                    write_only(f.server_error_after_write),
                    Fault::ServerErrorAfterWrite(status),
                )
            })?;
        let name = match fault {
            Fault::RateLimited => "rateLimited",
            Fault::ServerError => "serverError",
            Fault::TokenRevoked => "tokenRevoked",
            Fault::Conflict => "conflict",
            Fault::Slow => "slow",
            Fault::Timeout => "timeout",
            Fault::BadGatewayAfterWrite => "badGatewayAfterWrite",
            Fault::ServerErrorAfterWrite(_) => "serverErrorAfterWrite",
        };
        *self.injected.entry(name).or_default() += 1;
        Some(fault)
    }
}

/// Seed data: `{"interactions": [ {"id": ..., "type": ..., ...}, ... ]}`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct SeedData {
    #[serde(default)]
    pub interactions: Vec<Map<String, Value>>,
    /// Conversations as `GET /api/v2/conversations/calls/{id}` returns them; `mediaType`
    /// (default `VOICE`) picks the API path (`calls`, `callbacks`, `chats`, `emails`, `messages`).
    #[serde(default)]
    pub conversations: Vec<Map<String, Value>>,
}

/// A seed file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not valid seed data: {source}")]
    Parse {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("interactions[{index}]: {problem}")]
    Entry { index: usize, problem: String },
}

impl SeedData {
    pub fn from_file(path: &FsPath) -> Result<Self, SeedError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| SeedError::Read {
            path: name.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| SeedError::Parse { path: name, source })
    }
}

#[derive(Debug)]
struct Books {
    interactions: HashMap<String, SimInteraction>,
    /// Conversations by (API path segment, id).
    conversations: HashMap<(String, String), SimInteraction>,
    tokens: HashMap<String, Instant>,
    patches: BTreeMap<String, PatchCount>,
    injector: Injector,
}

impl Default for Books {
    fn default() -> Self {
        Books {
            interactions: HashMap::new(),
            conversations: HashMap::new(),
            tokens: HashMap::new(),
            patches: BTreeMap::new(),
            injector: Injector::new(Faults::default()),
        }
    }
}

/// The simulator's state; clone it to share.
#[derive(Debug, Clone)]
pub struct Simulator {
    books: Arc<Mutex<Books>>,
    config: Arc<SimConfig>,
}

impl Simulator {
    pub fn new(config: SimConfig) -> Self {
        Simulator {
            books: Arc::default(),
            config: Arc::new(config),
        }
    }

    /// Adds (or replaces) the seeded interactions.
    pub fn seed(&self, data: SeedData) -> Result<usize, SeedError> {
        let count = data.interactions.len() + data.conversations.len();
        for (index, entry) in data.interactions.into_iter().enumerate() {
            self.put_interaction(entry)
                .map_err(|problem| SeedError::Entry { index, problem })?;
        }
        for (index, entry) in data.conversations.into_iter().enumerate() {
            self.put_conversation(entry)
                .map_err(|problem| SeedError::Entry {
                    index,
                    problem: format!("conversations: {problem}"),
                })?;
        }
        Ok(count)
    }

    /// Adds or replaces one conversation given as the API would return it (plus `"x-sim"`).
    pub fn put_conversation(&self, mut body: Map<String, Value>) -> Result<(), String> {
        let id = match body.get("id") {
            Some(Value::String(id)) if !id.is_empty() => id.clone(),
            _ => return Err("\"id\" must be a non-empty string".into()),
        };
        let media = body
            .remove("mediaType")
            .and_then(|m| m.as_str().map(MediaType::new))
            .unwrap_or_else(MediaType::voice);
        let segment = media
            .api_segment()
            .ok_or_else(|| format!("mediaType {media} of {id} has no API path"))?;
        let behaviour = match body.remove(BEHAVIOUR_KEY) {
            Some(value) => serde_json::from_value(value)
                .map_err(|e| format!("\"{BEHAVIOUR_KEY}\" of {id}: {e}"))?,
            None => Behaviour::default(),
        };
        self.books()
            .conversations
            .insert((segment.to_owned(), id), SimInteraction { body, behaviour });
        Ok(())
    }

    /// The conversation as a GET would return it now.
    pub fn conversation(&self, id: &str) -> Option<Value> {
        self.books()
            .conversations
            .iter()
            .find(|((_, conversation), _)| conversation == id)
            .map(|(_, c)| Value::Object(c.body.clone()))
    }

    /// Adds or replaces one interaction given as the API would return it (plus `"x-sim"`).
    pub fn put_interaction(&self, mut body: Map<String, Value>) -> Result<(), String> {
        let id = match body.get("id") {
            Some(Value::String(id)) if !id.is_empty() => id.clone(),
            _ => return Err("\"id\" must be a non-empty string".into()),
        };
        let behaviour = match body.remove(BEHAVIOUR_KEY) {
            Some(value) => serde_json::from_value(value)
                .map_err(|e| format!("\"{BEHAVIOUR_KEY}\" of {id}: {e}"))?,
            None => Behaviour::default(),
        };
        self.books()
            .interactions
            .insert(id, SimInteraction { body, behaviour });
        Ok(())
    }

    /// The interaction as a GET would return it now.
    pub fn interaction(&self, id: &str) -> Option<Value> {
        self.books()
            .interactions
            .get(id)
            .map(|i| Value::Object(i.body.clone()))
    }

    /// Sets the faults to inject from now on (and reseeds their generator).
    pub fn set_faults(&self, faults: Faults) {
        self.books().injector = Injector::new(faults);
    }

    /// The faults configured, and how many of each were injected so far.
    pub fn faults(&self) -> (Faults, BTreeMap<&'static str, u64>) {
        let books = self.books();
        (
            books.injector.faults.clone(),
            books.injector.injected.clone(),
        )
    }

    /// PATCH counts per interaction id.
    pub fn patch_counts(&self) -> BTreeMap<String, PatchCount> {
        self.books().patches.clone()
    }

    /// The router serving the simulated API.
    pub fn router(&self) -> Router {
        let api = Router::new()
            .route(
                "/api/v2/interactions/{id}",
                get(get_interaction).patch(patch_interaction),
            )
            .route("/api/v2/conversations/{id}", get(get_conversation))
            .route("/api/v2/conversations/{segment}/{id}", get(get_media_conversation))
            .route(
                "/api/v2/conversations/{segment}/{id}/participants/{participant}",
                patch(patch_participant),
            )
            .route(
                "/api/v2/conversations/{segment}/{id}/participants/{participant}/communications/{communication}/wrapup",
                post(post_communication_wrapup),
            )
            .route_layer(axum::middleware::from_fn_with_state(self.clone(), require_token))
            .layer(axum::middleware::from_fn_with_state(self.clone(), inject_faults));
        Router::new()
            .route("/oauth/token", post(issue_token))
            .merge(api)
            .route("/sim/faults", get(get_faults).put(put_faults))
            .route("/sim/patches", get(all_patches))
            .route("/sim/patches/{id}", get(one_patch_count))
            .route("/sim/interactions/{id}", put(put_interaction))
            .route("/sim/health", get(|| async { "ok" }))
            .layer(axum::middleware::map_response(add_correlation_id))
            .with_state(self.clone())
    }

    /// Serves on `listener` until the task is dropped or aborted.
    pub async fn serve(self, listener: TcpListener) -> std::io::Result<()> {
        axum::serve(listener, self.router()).await
    }

    /// Binds `addr` and serves in a background task; returns the bound address.
    pub async fn spawn(self, addr: SocketAddr) -> std::io::Result<RunningSim> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(self.clone().serve(listener));
        Ok(RunningSim {
            addr,
            simulator: self,
            task,
        })
    }

    fn books(&self) -> MutexGuard<'_, Books> {
        self.books
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn token_is_valid(&self, headers: &HeaderMap) -> bool {
        let Some(token) = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
        else {
            return false;
        };
        self.books()
            .tokens
            .get(token)
            .is_some_and(|expires| Instant::now() < *expires)
    }

    fn credentials_match(&self, headers: &HeaderMap) -> bool {
        let decoded = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Basic "))
            .and_then(|encoded| {
                base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .ok()
            })
            .and_then(|bytes| String::from_utf8(bytes).ok());
        let expected = format!("{}:{}", self.config.client_id, self.config.client_secret);
        decoded.is_some_and(|pair| pair == expected)
    }
}

/// A simulator serving in the background (tests, benchmarks). Stops when dropped.
#[derive(Debug)]
pub struct RunningSim {
    pub addr: SocketAddr,
    pub simulator: Simulator,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningSim {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = json!({"status": status.as_u16(), "code": code, "message": message.into()});
    (status, Json(body)).into_response()
}

async fn add_correlation_id(mut response: Response) -> Response {
    let id = format!("sim-{:016x}", fastrand::u64(..));
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("ININ-Correlation-Id", value);
    }
    response
}

#[derive(Debug, Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
}

async fn issue_token(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    if form.grant_type.as_deref() != Some("client_credentials") {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "grant_type must be client_credentials",
        );
    }
    if !sim.credentials_match(&headers) || sim.books().injector.refuses_tokens() {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    }
    let token = format!("sim-token-{:032x}", fastrand::u128(..));
    let lifetime = sim.config.token_lifetime;
    sim.books()
        .tokens
        .insert(token.clone(), Instant::now() + lifetime);
    Json(json!({
        "access_token": token,
        "token_type": "bearer",
        "expires_in": lifetime.as_secs(),
    }))
    .into_response()
}

async fn get_interaction(State(sim): State<Simulator>, Path(id): Path<String>) -> Response {
    let (answer, lag) = answer_read(
        &sim,
        &format!("interaction {id}"),
        |books| books.interactions.get(&id),
        as_stored,
    );
    hold(lag).await;
    answer
}

/// Counts a write, and answers it before it is applied when a concurrent writer wins (an
/// injected conflict: `mark_foreign` records that writer's change, then 409) or when the seed
/// gives a `patchStatus`.
fn gate_write(
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

/// Answers 401 to an API request without a valid bearer token.
async fn require_token(
    State(sim): State<Simulator>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if !sim.token_is_valid(request.headers()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "bad.credentials",
            "invalid or expired token",
        );
    }
    next.run(request).await
}

/// Answers a read of a seeded resource: 404 when `find` finds nothing, its configured
/// `getStatus`, or its body; with how long to hold the answer (`staleReadMs`).
fn answer_read(
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
fn as_stored(body: &Map<String, Value>) -> Value {
    Value::Object(body.clone())
}

/// Now as the API writes times: RFC 3339 in UTC with milliseconds.
fn chrono_now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Holds an answer for `lag` (a zero-length sleep would still wait for the timer's next tick).
async fn hold(lag: Duration) {
    if !lag.is_zero() {
        tokio::time::sleep(lag).await;
    }
}

/// The answer to an applied write: `ok`, unless the seed gives a `statusAfterWrite`.
fn answer_applied_write(behaviour: &Behaviour, ok: Response) -> Response {
    match behaviour
        .status_after_write
        .and_then(|s| StatusCode::from_u16(s).ok())
    {
        Some(status) => error(status, "simulated", "simulated status after the write"),
        None => ok,
    }
}

/// The only PATCH body the API accepts here: `{"dispositionCode":{"id":"..."}}`.
fn disposition_code_of(body: &Value) -> Result<&str, String> {
    let object = body.as_object().ok_or("the body must be a JSON object")?;
    if let Some(extra) = object.keys().find(|key| *key != "dispositionCode") {
        return Err(format!(
            "unexpected field {extra:?}: only dispositionCode may be sent"
        ));
    }
    let code = object
        .get("dispositionCode")
        .and_then(Value::as_object)
        .ok_or("dispositionCode must be an object")?;
    if let Some(extra) = code.keys().find(|key| *key != "id") {
        return Err(format!("unexpected field dispositionCode.{extra}"));
    }
    code.get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| "dispositionCode.id must be a non-empty string".into())
}

async fn patch_interaction(
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
        Err(problem) => return error(StatusCode::BAD_REQUEST, "bad.request", problem),
    };
    interaction
        .body
        .insert("dispositionCode".into(), json!({"id": code}));
    count.applied += 1;
    let ok = Json(Value::Object(interaction.body.clone())).into_response();
    answer_applied_write(&behaviour, ok)
}

async fn all_patches(State(sim): State<Simulator>) -> Response {
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

async fn one_patch_count(State(sim): State<Simulator>, Path(id): Path<String>) -> Response {
    let count = sim.patch_counts().get(&id).copied().unwrap_or_default();
    Json(json!({
        "interactionId": id,
        "received": count.received,
        "applied": count.applied,
        "foreign": count.foreign
    }))
    .into_response()
}

async fn put_interaction(
    State(sim): State<Simulator>,
    Path(id): Path<String>,
    Json(mut body): Json<Map<String, Value>>,
) -> Response {
    body.insert("id".into(), Value::String(id));
    match sim.put_interaction(body) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(problem) => error(StatusCode::BAD_REQUEST, "bad.request", problem),
    }
}

/// `GET /api/v2/conversations/{id}` (`Conversation`): participants with their communications
/// (`calls`, `callbacks`, ...), as seeded.
async fn get_conversation(State(sim): State<Simulator>, Path(id): Path<String>) -> Response {
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
async fn get_media_conversation(
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

/// The media-specific view of a stored conversation.
fn flattened(body: &Map<String, Value>) -> Value {
    let mut body = body.clone();
    if let Some(Value::Array(participants)) = body.get_mut("participants") {
        for participant in participants.iter_mut().filter_map(Value::as_object_mut) {
            for media in MEDIA_LISTS {
                participant.remove(media);
            }
        }
    }
    Value::Object(body)
}

/// Where a `Participant` lists its communications, per media.
const MEDIA_LISTS: [&str; 5] = ["calls", "callbacks", "chats", "emails", "messages"];

/// Checks a wrap-up object: `code` (non-empty string) and optional `notes`, nothing else.
fn wrapup_of(value: &Value, path: &str) -> Result<Map<String, Value>, String> {
    let object = value
        .as_object()
        .ok_or(format!("{path} must be an object"))?;
    if let Some(extra) = object
        .keys()
        .find(|key| !matches!(key.as_str(), "code" | "notes"))
    {
        return Err(format!("unexpected field {path}.{extra}"));
    }
    match object.get("code") {
        Some(Value::String(code)) if !code.is_empty() => {}
        _ => return Err(format!("{path}.code must be a non-empty string")),
    }
    if object.get("notes").is_some_and(|notes| !notes.is_string()) {
        return Err(format!("{path}.notes must be a string"));
    }
    Ok(object.clone())
}

/// Applies `body` (already a checked wrap-up) to a participant, counting the write.
fn apply_wrapup(
    sim: &Simulator,
    target: (String, &str, &str),
    communication: Option<&str>,
    conflict: bool,
    wrapup: Result<Map<String, Value>, String>,
) -> Response {
    let (segment, id, participant) = target;
    let mut books = sim.books();
    let Books {
        conversations,
        patches,
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
    if let Some(communication) = communication {
        let known = MEDIA_LISTS.iter().any(|kind| {
            target
                .get(*kind)
                .and_then(Value::as_array)
                .is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c.get("id").and_then(Value::as_str) == Some(communication))
                })
        });
        if !known {
            return error(
                StatusCode::NOT_FOUND,
                "not.found",
                format!("communication {communication} not found"),
            );
        }
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
        Err(problem) => return error(StatusCode::BAD_REQUEST, "bad.request", problem),
    };
    if let Some(target) = target.as_object_mut() {
        // The wrap-up ends the agent's after-call work, on the participant and its communications.
        for media in MEDIA_LISTS {
            let communications = target.get_mut(media).and_then(Value::as_array_mut);
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
        if target.contains_key("startAcwTime") && !target.contains_key("endAcwTime") {
            target.insert("endAcwTime".into(), json!(chrono_now_rfc3339()));
        }
        target.insert("wrapup".into(), Value::Object(wrapup));
    }
    count.applied += 1;
    answer_applied_write(
        &conversation.behaviour,
        StatusCode::ACCEPTED.into_response(),
    )
}

async fn patch_participant(
    State(sim): State<Simulator>,
    Path((segment, id, participant)): Path<(String, String, String)>,
    conflict: Option<axum::Extension<InjectConflict>>,
    body: axum::body::Bytes,
) -> Response {
    // The only body accepted here: {"wrapup": {"code": "...", "notes"?: "..."}}.
    let wrapup = serde_json::from_slice::<Value>(&body)
        .map_err(|e| format!("invalid JSON: {e}"))
        .and_then(|value| {
            let object = value
                .as_object()
                .cloned()
                .ok_or("the body must be a JSON object")?;
            if let Some(extra) = object.keys().find(|key| *key != "wrapup") {
                return Err(format!(
                    "unexpected field {extra:?}: only wrapup may be sent"
                ));
            }
            wrapup_of(object.get("wrapup").unwrap_or(&Value::Null), "wrapup")
        });
    let target = (segment, id.as_str(), participant.as_str());
    apply_wrapup(&sim, target, None, conflict.is_some(), wrapup)
}

async fn post_communication_wrapup(
    State(sim): State<Simulator>,
    Path((segment, id, participant, communication)): Path<(String, String, String, String)>,
    conflict: Option<axum::Extension<InjectConflict>>,
    body: axum::body::Bytes,
) -> Response {
    let wrapup = serde_json::from_slice::<Value>(&body)
        .map_err(|e| format!("invalid JSON: {e}"))
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

/// Draws a fault for an API request and acts it out around the handler.
async fn inject_faults(
    State(sim): State<Simulator>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let write = request.method() != axum::http::Method::GET;
    let (fault, faults) = {
        let mut books = sim.books();
        let fault = books.injector.draw(write);
        if fault == Some(Fault::TokenRevoked) {
            books.tokens.clear();
        }
        (fault, books.injector.faults.clone())
    };
    match fault {
        None => next.run(request).await,
        Some(Fault::RateLimited) => {
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                "too.many.requests",
                "simulated rate limit",
            );
            if let Ok(value) = HeaderValue::from_str(&faults.retry_after_seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        Some(Fault::ServerError) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "service.unavailable",
            "simulated outage",
        ),
        Some(Fault::TokenRevoked) => {
            error(StatusCode::UNAUTHORIZED, "bad.credentials", "token revoked")
        }
        Some(Fault::Conflict) => {
            request.extensions_mut().insert(InjectConflict);
            next.run(request).await
        }
        Some(Fault::Slow) => {
            tokio::time::sleep(Duration::from_millis(faults.slow_ms)).await;
            next.run(request).await
        }
        Some(Fault::Timeout) => {
            let response = next.run(request).await;
            tokio::time::sleep(Duration::from_millis(faults.timeout_ms)).await;
            response
        }
        Some(Fault::BadGatewayAfterWrite) => {
            lost_answer(next.run(request).await, StatusCode::BAD_GATEWAY)
        }
        Some(Fault::ServerErrorAfterWrite(status)) => lost_answer(next.run(request).await, status),
    }
}

/// A write's answer replaced by `status` once it was applied (an error answer stays as it is).
fn lost_answer(response: Response, status: StatusCode) -> Response {
    if !response.status().is_success() {
        return response;
    }
    error(status, "simulated", "simulated lost answer")
}

async fn get_faults(State(sim): State<Simulator>) -> Response {
    let (faults, injected) = sim.faults();
    Json(json!({"faults": faults, "injected": injected})).into_response()
}

async fn put_faults(State(sim): State<Simulator>, Json(faults): Json<Faults>) -> Response {
    sim.set_faults(faults);
    StatusCode::NO_CONTENT.into_response()
}
