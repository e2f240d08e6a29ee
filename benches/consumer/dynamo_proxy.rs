//! A counting proxy in front of DynamoDB Local: every request the consumer sends is forwarded
//! and counted by operation and result, so request figures are counted, not computed.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Requests seen, by `Operation` or `Operation:conditionFailed` (a failed conditional write,
/// which DynamoDB bills as a write all the same).
pub(crate) type Counts = BTreeMap<String, u64>;

#[derive(Clone)]
struct Proxy {
    upstream: String,
    http: reqwest::Client,
    counts: Arc<Mutex<Counts>>,
}

/// The running proxy: its URL, and the counts since the last `take`.
pub(crate) struct CountingProxy {
    pub url: String,
    counts: Arc<Mutex<Counts>>,
}

impl CountingProxy {
    /// Starts a proxy on a free loopback port forwarding to `upstream`.
    pub(crate) async fn start(upstream: &str) -> Self {
        let counts = Arc::new(Mutex::new(Counts::new()));
        let proxy = Proxy {
            upstream: upstream.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
            counts: counts.clone(),
        };
        let app = axum::Router::new().fallback(forward).with_state(proxy);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        CountingProxy { url, counts }
    }

    /// The counts since the last call, and resets them.
    pub(crate) fn take(&self) -> Counts {
        std::mem::take(&mut *self.counts.lock().unwrap())
    }
}

async fn forward(
    axum::extract::State(proxy): axum::extract::State<Proxy>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let operation = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|target| target.rsplit('.').next())
        .unwrap_or("unknown")
        .to_owned();
    let mut request = proxy.http.post(format!("{}/", proxy.upstream));
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    let answer = match request.body(body).send().await {
        Ok(answer) => answer,
        Err(error) => return (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    };
    let status = answer.status();
    let content_type = answer.headers().get("content-type").cloned();
    let bytes = answer.bytes().await.unwrap_or_default();
    let kind = if status.is_success() {
        operation
    } else if String::from_utf8_lossy(&bytes).contains("ConditionalCheckFailed") {
        format!("{operation}:conditionFailed")
    } else {
        format!("{operation}:error{}", status.as_u16())
    };
    *proxy.counts.lock().unwrap().entry(kind).or_default() += 1;
    let mut response = (StatusCode::from_u16(status.as_u16()).unwrap(), bytes).into_response();
    if let Some(content_type) = content_type {
        response.headers_mut().insert("content-type", content_type);
    }
    response
}

/// Writes among `counts` (UpdateItem, PutItem, DeleteItem, failed or not).
pub(crate) fn writes(counts: &Counts) -> u64 {
    counts
        .iter()
        .filter(|(kind, _)| {
            ["UpdateItem", "PutItem", "DeleteItem"]
                .iter()
                .any(|op| kind.starts_with(op))
        })
        .map(|(_, n)| n)
        .sum()
}
