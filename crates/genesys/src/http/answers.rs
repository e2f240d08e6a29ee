//! What Genesys answered: errors from statuses, JSON bodies, bounded excerpts of refusals, and the client span of each attempt.

use super::origin::Origin;
use super::{BODY_EXCERPT_CHARS, BODY_READ_LIMIT};
use crate::{GenesysError, Operation};
use reqwest::{Method, Response, StatusCode};
use tracing::{field, info_span};

/// Maps an API response that was not a success (and not retried) to the error it stands for.
pub(super) async fn api_failure(operation: Operation, response: Response) -> GenesysError {
    let status = response.status();
    let correlation_id = correlation_id(&response);
    if matches!(status, StatusCode::NOT_FOUND | StatusCode::GONE) {
        return GenesysError::NotFound {
            operation,
            status: status.as_u16(),
            correlation_id,
        };
    }
    if status == StatusCode::UNAUTHORIZED {
        let hint = "if this persists, check that the OAuth client is active and belongs to the \
                    organisation and region of GENESYS_CLOUD_BASE_URL / GENESYS_CLOUD_REGION";
        return GenesysError::Unauthorized {
            operation,
            hint: with_excerpt(hint, response).await,
            correlation_id,
        };
    }
    let hint = match (status, &operation) {
        (StatusCode::FORBIDDEN, Operation::ApplyWrapup { .. }) => {
            "the OAuth client may not apply this wrap-up: applying a wrap-up may need a \
             user-context grant (a client-credentials token acts as no agent) or a wrap-up \
             permission on the OAuth client's role (Conversation > Communication > Wrapup, \
             Conversation > Call > Edit)"
        }
        (StatusCode::FORBIDDEN, Operation::FetchConversation { .. }) => {
            "the OAuth client may not read conversations: give its role Conversation > Call > View"
        }
        (StatusCode::FORBIDDEN, Operation::ApplyDisposition(_)) => {
            "the OAuth client may not update interactions: give its role the permission \
             behind the interaction:write scope (applying a wrap-up may need a user-context \
             grant or a wrap-up permission)"
        }
        (StatusCode::FORBIDDEN, _) => {
            "the OAuth client may not read interactions: give its role the permission \
             behind the interaction:read scope"
        }
        (StatusCode::BAD_REQUEST, operation) if operation.is_write() => {
            "Genesys Cloud rejected the code: check that DISPOSITION_CODE_ID names an existing \
             disposition (wrap-up) code available to the queue"
        }
        (StatusCode::BAD_REQUEST, _) => "Genesys Cloud rejected the request",
        _ => "unexpected status",
    };
    refusal(operation, status, hint, correlation_id, response).await
}

/// One HTTP client span per attempt, after the OpenTelemetry HTTP semantic conventions.
pub(super) fn http_span(
    operation: &Operation,
    method: &Method,
    url: &reqwest::Url,
    server: &Origin,
    attempt: u32,
) -> tracing::Span {
    let (host, port) = (server.host.as_str(), server.port);
    let span = info_span!(
        "http",
        otel.name = %operation.route(),
        otel.kind = "client",
        http.request.method = %method,
        url.full = url.as_str(),
        server.address = host,
        server.port = port,
        http.request.resend_count = field::Empty,
        http.response.status_code = field::Empty,
        genesys.correlation_id = field::Empty,
        error.type = field::Empty,
    );
    if attempt > 1 {
        span.record("http.request.resend_count", attempt - 1);
    }
    span
}

pub(super) fn correlation_id(response: &Response) -> Option<String> {
    response
        .headers()
        .get("ININ-Correlation-Id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

pub(super) async fn read_json<T: serde::de::DeserializeOwned>(
    operation: &Operation,
    response: Response,
) -> Result<T, GenesysError> {
    let correlation_id = correlation_id(&response);
    let bytes = response
        .bytes()
        .await
        .map_err(|source| GenesysError::Transport {
            operation: operation.clone(),
            timed_out: source.is_timeout(),
            source,
        })?;
    serde_json::from_slice(&bytes).map_err(|source| GenesysError::InvalidResponse {
        operation: operation.clone(),
        correlation_id,
        source,
    })
}

/// `hint`, followed by the start of what Genesys said in `response` (at most
/// [`BODY_READ_LIMIT`] bytes of it are read, however long it is).
pub(super) async fn with_excerpt(hint: &str, mut response: Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < BODY_READ_LIMIT {
        let Ok(Some(chunk)) = response.chunk().await else {
            break;
        };
        let room = BODY_READ_LIMIT - bytes.len();
        bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
    let said = String::from_utf8_lossy(&bytes);
    let said: String = said.trim().chars().take(BODY_EXCERPT_CHARS).collect();
    if said.is_empty() {
        hint.to_owned()
    } else {
        format!("{hint}; Genesys Cloud said: {said}")
    }
}

/// A permanent refusal, quoting the start of what Genesys said.
pub(super) async fn refusal(
    operation: Operation,
    status: StatusCode,
    hint: &str,
    correlation_id: Option<String>,
    response: Response,
) -> GenesysError {
    GenesysError::Refused {
        operation,
        status: status.as_u16(),
        hint: with_excerpt(hint, response).await,
        correlation_id,
    }
}
