//! A minimal Lambda Runtime API on loopback: runs the real Lambda binary locally, for tests and benchmarks.
//!
//! Implements what a custom runtime calls: `GET /2018-06-01/runtime/invocation/next`,
//! `POST .../invocation/{id}/response`, `POST .../invocation/{id}/error` and
//! `POST /2018-06-01/runtime/init/error`. [`RunningLambdaApi::invoke`] queues a payload and waits
//! for the function's answer, like a synchronous `Invoke`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{Mutex as AsyncMutex, mpsc, oneshot};

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum InvocationResult {
    /// The function's response body.
    Response(Value),
    /// The error the function reported (`errorType`, `errorMessage`).
    Error(Value),
}

/// What the API saw of one invocation.
#[derive(Debug, Clone)]
pub struct InvocationRecord {
    /// The request id it was invoked with.
    pub request_id: String,
    /// When the function posted its response or error.
    pub answered_at: Instant,
    /// What the function answered.
    pub result: InvocationResult,
}

struct Pending {
    request_id: String,
    payload: Value,
    deadline_ms: i64,
    trace_header: Option<String>,
}

#[derive(Default)]
struct Books {
    waiting: HashMap<String, oneshot::Sender<InvocationRecord>>,
    first_next_at: Option<Instant>,
}

#[derive(Clone)]
struct ApiState {
    queue: Arc<AsyncMutex<mpsc::Receiver<Pending>>>,
    books: Arc<Mutex<Books>>,
    function_arn: String,
}

/// A running Runtime API. Stops when dropped.
pub struct RunningLambdaApi {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    sender: mpsc::Sender<Pending>,
    state: ApiState,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningLambdaApi {
    /// Binds a free loopback port and serves the API in the background.
    pub async fn spawn() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (sender, receiver) = mpsc::channel(1_024);
        let state = ApiState {
            queue: Arc::new(AsyncMutex::new(receiver)),
            books: Arc::default(),
            function_arn: "arn:aws:lambda:us-east-1:123456789012:function:disposition-consumer"
                .into(),
        };
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(respond),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(state.clone());
        let task = tokio::spawn(async move { axum::serve(listener, router).await });
        Ok(RunningLambdaApi {
            addr,
            sender,
            state,
            task,
        })
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    /// When the function first asked for an event (it is ready then), if it has.
    pub fn first_next_at(&self) -> Option<Instant> {
        gev_core::locks::lock(&self.state.books).first_next_at
    }

    /// Queues `payload` for the function and waits (at most `timeout`) for its answer. The
    /// function gets `timeout` as its deadline; `trace_header` is sent as `Lambda-Runtime-Trace-Id`.
    pub async fn invoke(
        &self,
        request_id: &str,
        payload: Value,
        timeout: Duration,
        trace_header: Option<&str>,
    ) -> Option<InvocationRecord> {
        let (done, answer) = oneshot::channel();
        gev_core::locks::lock(&self.state.books)
            .waiting
            .insert(request_id.to_owned(), done);
        let pending = Pending {
            request_id: request_id.to_owned(),
            payload,
            deadline_ms: gev_core::deadline::now_epoch_ms() + timeout.as_millis() as i64,
            trace_header: trace_header.map(str::to_owned),
        };
        self.sender.send(pending).await.ok()?;
        tokio::time::timeout(timeout + Duration::from_secs(1), answer)
            .await
            .ok()?
            .ok()
    }
}

impl Drop for RunningLambdaApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn next(State(state): State<ApiState>) -> Response {
    {
        let mut books = gev_core::locks::lock(&state.books);
        books.first_next_at.get_or_insert_with(Instant::now);
    }
    let pending = state.queue.lock().await.recv().await;
    let Some(pending) = pending else {
        return StatusCode::GONE.into_response();
    };
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", &pending.request_id);
    set(
        "lambda-runtime-deadline-ms",
        &pending.deadline_ms.to_string(),
    );
    set("lambda-runtime-invoked-function-arn", &state.function_arn);
    if let Some(trace) = &pending.trace_header {
        set("lambda-runtime-trace-id", trace);
    }
    set("content-type", "application/json");
    (headers, pending.payload.to_string()).into_response()
}

fn finish(state: &ApiState, id: &str, result: InvocationResult) -> StatusCode {
    let answered_at = Instant::now();
    let waiting = gev_core::locks::lock(&state.books).waiting.remove(id);
    match waiting {
        Some(done) => {
            let _ = done.send(InvocationRecord {
                request_id: id.to_owned(),
                answered_at,
                result,
            });
            StatusCode::ACCEPTED
        }
        None => StatusCode::NOT_FOUND,
    }
}

fn json_or_text(body: &Bytes) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

async fn respond(State(state): State<ApiState>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    finish(&state, &id, InvocationResult::Response(json_or_text(&body)))
}

async fn fail(State(state): State<ApiState>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    finish(&state, &id, InvocationResult::Error(json_or_text(&body)))
}

/// The function's report of a failed initialisation: accepted, and not kept (nothing reads it).
async fn init_error() -> StatusCode {
    StatusCode::ACCEPTED
}
