//! The HTTP adapter of the Genesys port: OAuth client credentials, a single-flight token cache, bounded retries.

use super::credentials::{ClientCredentials, CredentialsSource};
use super::rate_limit::RateLimiter;
use super::retry::{RetryPolicy, parse_retry_after};
use super::wire::{
    ConversationBody, DispositionPatch, DispositionRef, InteractionBody, ParticipantWrapupPatch,
    TokenResponse, WrapupBody,
};
use super::{ApplyResult, GenesysApi, GenesysError, Operation, WrapupRequest, WrapupStyle};
use crate::deadline::Deadline;
use crate::domain::{
    ConversationId, ConversationSnapshot, DispositionCodeId, InteractionId, InteractionSnapshot,
    WrapupTarget,
};
use crate::secret::Secret;
use crate::telemetry::{self, propagation};
use async_trait::async_trait;
use reqwest::{Method, Response, StatusCode, header};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::Mutex;
use tokio::time::Instant;
use tracing::{Instrument, field, info_span};

/// Below this much time left, no new request is started.
const MIN_REQUEST_TIME: Duration = Duration::from_millis(50);
/// How much of a refused response body is quoted in the error message.
const BODY_EXCERPT_CHARS: usize = 300;
/// How much of a refused response body is read at most.
const BODY_READ_LIMIT: usize = 4 * 1024;

/// Where the API and the login service live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// e.g. `https://api.mypurecloud.ie`, without a trailing slash.
    pub api_base: String,
    /// e.g. `https://login.mypurecloud.ie`, without a trailing slash.
    pub login_base: String,
}

/// Timeouts and retry behaviour of the client.
#[derive(Debug, Clone, Copy)]
pub struct HttpSettings {
    /// The longest any one request may take (also capped by the invocation's remaining time).
    pub request_timeout: Duration,
    /// API requests per second this process may send (`None`: no limit).
    pub max_requests_per_second: Option<f64>,
    /// A token is refreshed this long before it expires.
    pub token_refresh_margin: Duration,
    pub retry: RetryPolicy,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            request_timeout: Duration::from_secs(5),
            max_requests_per_second: None,
            token_refresh_margin: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }
}

#[derive(Debug, Clone)]
struct CachedToken {
    value: Secret,
    refresh_at: Instant,
    generation: u64,
}

#[derive(Debug, Default)]
struct TokenSlot {
    current: Option<CachedToken>,
    generation: u64,
    /// When the last token request failed, and how: shared with the callers that waited for it.
    last_failure: Option<(Instant, Arc<GenesysError>)>,
}

/// How one attempt authenticates.
enum Credential {
    /// The OAuth client's id and secret (token requests).
    Basic(ClientCredentials),
    /// A bearer token (API requests).
    Bearer(CachedToken),
}

enum Body {
    Empty,
    Json(Vec<u8>),
    Form(&'static str),
}

/// An endpoint's base URL, parsed once: request URLs are made from it without parsing again,
/// and its `server.address` and `server.port` go on every span.
#[derive(Debug, Clone)]
struct Origin {
    base: reqwest::Url,
    host: String,
    port: u16,
}

impl Origin {
    fn of(base: &str) -> Result<Self, url::ParseError> {
        let base = reqwest::Url::parse(base)?;
        Ok(Origin {
            host: base.host_str().unwrap_or_default().to_owned(),
            port: base.port_or_known_default().unwrap_or(0),
            base,
        })
    }

    /// The URL of `path` (which starts with `/` and holds only URL-safe characters) under
    /// the base, whose own path is kept as a prefix.
    fn url(&self, path: &str) -> reqwest::Url {
        let mut url = self.base.clone();
        let prefix = self.base.path().trim_end_matches('/');
        url.set_path(&format!("{prefix}{path}"));
        url
    }
}

/// The HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot build the HTTP client: {0}")]
    Http(#[source] reqwest::Error),
    #[error("{url:?} is not a base URL: {source}")]
    BaseUrl {
        url: String,
        #[source]
        source: url::ParseError,
    },
}

/// The Genesys Cloud client used by the Lambda.
#[derive(Debug)]
pub struct HttpGenesysClient {
    http: reqwest::Client,
    api: Origin,
    login: Origin,
    credentials: Arc<dyn CredentialsSource>,
    settings: HttpSettings,
    limiter: Option<RateLimiter>,
    /// Held across the token request, so concurrent callers wait for one refresh (single flight).
    token: Mutex<TokenSlot>,
}

impl HttpGenesysClient {
    pub fn new(
        endpoints: Endpoints,
        credentials: Arc<dyn CredentialsSource>,
        settings: HttpSettings,
    ) -> Result<Self, ClientError> {
        let origin = |base: &str| {
            Origin::of(base).map_err(|source| ClientError::BaseUrl {
                url: base.to_owned(),
                source,
            })
        };
        let (api, login) = (origin(&endpoints.api_base)?, origin(&endpoints.login_base)?);
        let http = reqwest::Client::builder()
            .user_agent(concat!("genesys-eventbridge/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(settings.request_timeout)
            .pool_idle_timeout(Duration::from_secs(50))
            // The API does not redirect; a redirect is answered as the status it is.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(ClientError::Http)?;
        Ok(HttpGenesysClient {
            http,
            api,
            login,
            credentials,
            limiter: settings.max_requests_per_second.map(RateLimiter::new),
            settings,
            token: Mutex::new(TokenSlot::default()),
        })
    }

    /// A valid bearer token: the cached one, or a fresh one fetched by exactly one caller. The
    /// callers that waited for a refresh that failed get its error, without asking again.
    async fn bearer(&self, deadline: Deadline) -> Result<CachedToken, GenesysError> {
        let span = info_span!("token", cache = field::Empty);
        async {
            let asked_at = Instant::now();
            let mut slot = self.token.lock().await;
            if let Some(token) = slot
                .current
                .as_ref()
                .filter(|t| Instant::now() < t.refresh_at)
            {
                tracing::Span::current().record("cache", "hit");
                return Ok(token.clone());
            }
            if let Some((failed_at, error)) = &slot.last_failure
                && *failed_at >= asked_at
            {
                tracing::Span::current().record("cache", "failed");
                return Err(GenesysError::Shared(error.clone()));
            }
            tracing::Span::current().record("cache", "miss");
            let fresh = match self.request_token(deadline).await {
                Ok(fresh) => fresh,
                Err(error) => {
                    let error = Arc::new(error);
                    slot.last_failure = Some((Instant::now(), error.clone()));
                    return Err(GenesysError::Shared(error));
                }
            };
            slot.generation += 1;
            slot.last_failure = None;
            let token = CachedToken {
                refresh_at: self.refresh_time(fresh.lifetime()),
                value: Secret::new(fresh.access_token),
                generation: slot.generation,
            };
            slot.current = Some(token.clone());
            Ok(token)
        }
        .instrument(span)
        .await
    }

    async fn bearer_credential(&self, deadline: Deadline) -> Result<Credential, GenesysError> {
        self.bearer(deadline).await.map(Credential::Bearer)
    }

    /// When a token that lives `lifetime` (bounded by the wire type) is replaced:
    /// `token_refresh_margin` early.
    fn refresh_time(&self, lifetime: Duration) -> Instant {
        let now = Instant::now();
        let early = lifetime.saturating_sub(self.settings.token_refresh_margin);
        now.checked_add(early).unwrap_or(now)
    }

    /// Forgets the token that got a 401, unless another caller already replaced it.
    async fn invalidate(&self, generation: u64) {
        let mut slot = self.token.lock().await;
        if slot
            .current
            .as_ref()
            .is_some_and(|t| t.generation == generation)
        {
            slot.current = None;
        }
    }

    async fn request_token(&self, deadline: Deadline) -> Result<TokenResponse, GenesysError> {
        let url = self.login.url("/oauth/token");
        let operation = Operation::Token;
        let body = Body::Form("grant_type=client_credentials");
        let mut refreshed = false;
        loop {
            let credentials = self
                .credentials
                .credentials(refreshed)
                .await
                .map_err(|source| GenesysError::Credentials { source })?;
            let response = self
                .send(&operation, Method::POST, &url, &body, deadline, || {
                    let credentials = credentials.clone();
                    async move { Ok(Credential::Basic(credentials)) }
                })
                .await?;
            let status = response.status();
            if status.is_success() {
                return read_json(&operation, response).await;
            }
            let refused = matches!(status, StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED);
            if refused && !refreshed && self.credentials.refreshable() {
                // The secret may have been rotated: read it again, once.
                tracing::info!(%status, "token request refused; reading the credentials secret again");
                refreshed = true;
                continue;
            }
            let hint = match status {
                StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    "the token request was refused: check that GENESYS_CLOUD_CLIENT_ID and \
                     GENESYS_CLOUD_CLIENT_SECRET (or the secret GENESYS_CLOUD_CREDENTIALS_SECRET_ARN) \
                     name an OAuth client with the Client Credentials grant, in the region \
                     GENESYS_CLOUD_REGION / GENESYS_CLOUD_LOGIN_URL points at"
                }
                _ => "unexpected answer from the login service",
            };
            let correlation_id = correlation_id(&response);
            return Err(refusal(operation, status, hint, correlation_id, response).await);
        }
    }

    /// Sends one request with bounded retries: 429 waits for `Retry-After`, 5xx (but 501) and
    /// transport errors back off with jitter, a 401 refreshes the token once. A write (PATCH,
    /// POST) is retried only when Genesys cannot have processed it (429, 503, 401, no connection). Returns the first
    /// response that is not retried; the caller maps its status. `credential` is asked before
    /// every attempt (generic, so the token request's own `send` does not contain `bearer`).
    async fn send<C, F>(
        &self,
        operation: &Operation,
        method: Method,
        url: &reqwest::Url,
        body: &Body,
        deadline: Deadline,
        credential: C,
    ) -> Result<Response, GenesysError>
    where
        C: Fn() -> F,
        F: std::future::Future<Output = Result<Credential, GenesysError>>,
    {
        let policy = self.settings.retry;
        let mut attempt = 0;
        let mut refreshed_after_401 = false;
        loop {
            attempt += 1;
            if deadline.remaining() < MIN_REQUEST_TIME {
                return Err(GenesysError::DeadlineExceeded {
                    operation: operation.clone(),
                });
            }
            let credential = credential().await?;
            let token = match &credential {
                Credential::Basic(_) => None,
                Credential::Bearer(token) => Some(token.clone()),
            };
            if let (Some(limiter), Some(_)) = (&self.limiter, &token) {
                // Only API calls count against the rate limit; the login service is separate.
                if !limiter.acquire(deadline).await {
                    return Err(GenesysError::DeadlineExceeded {
                        operation: operation.clone(),
                    });
                }
            }
            // Getting the token or a rate-limiter slot may have taken the time: nothing is sent
            // (above all no write) once the deadline is too close.
            if deadline.remaining() < MIN_REQUEST_TIME {
                return Err(GenesysError::DeadlineExceeded {
                    operation: operation.clone(),
                });
            }
            let timeout = self.settings.request_timeout.min(deadline.remaining());
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .timeout(timeout);
            request = match &credential {
                Credential::Bearer(token) => request.bearer_auth(token.value.expose()),
                Credential::Basic(credentials) => request.basic_auth(
                    &credentials.client_id,
                    Some(credentials.client_secret.expose()),
                ),
            };
            request = match body {
                Body::Empty => request,
                Body::Json(bytes) => request
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(bytes.clone()),
                Body::Form(form) => request
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(*form),
            };
            let server = match operation {
                Operation::Token => &self.login,
                _ => &self.api,
            };
            let span = http_span(operation, &method, url, server, attempt);
            let result = request
                .headers(propagation::outgoing_headers(&span))
                .send()
                .instrument(span.clone())
                .await;
            let response = match result {
                Ok(response) => response,
                Err(source) => {
                    let timed_out = source.is_timeout();
                    let error_type = if timed_out { "timeout" } else { "transport" };
                    span.record("error.type", error_type);
                    telemetry::mark_error(&span, error_type);
                    // A write that may have reached Genesys is not sent again blindly: the
                    // event fails instead, and its redelivery reads the state first.
                    let maybe_processed = operation.is_write() && !source.is_connect();
                    let error = GenesysError::Transport {
                        operation: operation.clone(),
                        timed_out,
                        source,
                    };
                    if !maybe_processed
                        && attempt < policy.max_attempts
                        && self.pause(policy.backoff(attempt), deadline).await
                    {
                        tracing::warn!(%error, attempt, "retrying after a transport error");
                        continue;
                    }
                    return Err(error);
                }
            };
            let status = response.status();
            let correlation = correlation_id(&response);
            span.record("http.response.status_code", status.as_u16());
            if let Some(id) = &correlation {
                span.record("genesys.correlation_id", id.as_str());
            }
            tracing::debug!(
                %operation,
                status = status.as_u16(),
                genesys.correlation_id = correlation.as_deref(),
                "Genesys Cloud answered"
            );
            if status.is_client_error() || status.is_server_error() {
                span.record("error.type", status.as_str());
                telemetry::mark_error(&span, format!("HTTP {}", status.as_u16()));
            }
            match status {
                StatusCode::UNAUTHORIZED if token.is_some() && !refreshed_after_401 => {
                    // The token was revoked or expired early: fetch a fresh one, once.
                    if let Some(token) = &token {
                        self.invalidate(token.generation).await;
                    }
                    refreshed_after_401 = true;
                    attempt -= 1;
                    tracing::info!(%operation, "401 from Genesys Cloud; fetching a fresh token");
                    continue;
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    let retry_after = response
                        .headers()
                        .get(header::RETRY_AFTER)
                        .and_then(|value| value.to_str().ok())
                        .and_then(|value| parse_retry_after(value, SystemTime::now()));
                    let error = GenesysError::RateLimited {
                        operation: operation.clone(),
                        retry_after,
                        correlation_id: correlation,
                    };
                    let too_long = retry_after.is_some_and(|wait| wait > policy.max_retry_after);
                    if !too_long
                        && attempt < policy.max_attempts
                        && self
                            .pause(policy.rate_limit_wait(retry_after), deadline)
                            .await
                    {
                        tracing::warn!(%error, attempt, "rate limited; waiting for Retry-After");
                        continue;
                    }
                    return Err(error);
                }
                status if status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED => {
                    let error = GenesysError::Server {
                        operation: operation.clone(),
                        status: status.as_u16(),
                        correlation_id: correlation,
                    };
                    // Only a 503 says a write was not processed; after a 500, 502 or 504 it may
                    // have been, so it is not sent again blindly (the redelivery reads first).
                    let maybe_processed =
                        operation.is_write() && status != StatusCode::SERVICE_UNAVAILABLE;
                    if !maybe_processed
                        && attempt < policy.max_attempts
                        && self.pause(policy.backoff(attempt), deadline).await
                    {
                        tracing::warn!(%error, attempt, "retrying after a server error");
                        continue;
                    }
                    return Err(error);
                }
                _ => return Ok(response),
            }
        }
    }

    /// GETs `operation` and reads its JSON body; other answers become errors.
    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        operation: Operation,
        deadline: Deadline,
    ) -> Result<T, GenesysError> {
        let url = self.api.url(&operation.path());
        let response = self
            .send(
                &operation,
                Method::GET,
                &url,
                &Body::Empty,
                deadline,
                || self.bearer_credential(deadline),
            )
            .await?;
        if response.status().is_success() {
            return read_json(&operation, response).await;
        }
        Err(api_failure(operation, response).await)
    }

    /// Sends the write `operation` with `body` as JSON: a 2xx applied it, a 409 is a conflict.
    async fn write(
        &self,
        operation: Operation,
        body: &impl serde::Serialize,
        deadline: Deadline,
    ) -> Result<ApplyResult, GenesysError> {
        let url = self.api.url(&operation.path());
        let method = if operation.method() == "POST" {
            Method::POST
        } else {
            Method::PATCH
        };
        let body = Body::Json(serde_json::to_vec(body).expect("a struct of strings serialises"));
        let response = self
            .send(&operation, method, &url, &body, deadline, || {
                self.bearer_credential(deadline)
            })
            .await?;
        let status = response.status();
        if status.is_success() {
            return Ok(ApplyResult::Applied);
        }
        if status == StatusCode::CONFLICT {
            return Ok(ApplyResult::Conflict);
        }
        Err(api_failure(operation, response).await)
    }

    /// Sleeps for `wait` if that leaves time for another attempt before the deadline.
    async fn pause(&self, wait: Duration, deadline: Deadline) -> bool {
        if wait + MIN_REQUEST_TIME >= deadline.remaining() {
            return false;
        }
        tokio::time::sleep(wait).await;
        true
    }
}

#[async_trait]
impl GenesysApi for HttpGenesysClient {
    async fn fetch_interaction(
        &self,
        id: &InteractionId,
        deadline: Deadline,
    ) -> Result<InteractionSnapshot, GenesysError> {
        let body: InteractionBody = self
            .get_json(Operation::FetchInteraction(id.clone()), deadline)
            .await?;
        Ok(body.into_snapshot())
    }

    async fn apply_disposition(
        &self,
        id: &InteractionId,
        code: &DispositionCodeId,
        deadline: Deadline,
    ) -> Result<ApplyResult, GenesysError> {
        let patch = DispositionPatch {
            disposition_code: DispositionRef { id: code.as_str() },
        };
        self.write(Operation::ApplyDisposition(id.clone()), &patch, deadline)
            .await
    }

    async fn fetch_conversation(
        &self,
        id: &ConversationId,
        deadline: Deadline,
    ) -> Result<ConversationSnapshot, GenesysError> {
        let operation = Operation::FetchConversation(id.clone());
        let body: ConversationBody = self.get_json(operation, deadline).await?;
        Ok(body.into_snapshot())
    }

    async fn apply_wrapup(
        &self,
        segment: &'static str,
        id: &ConversationId,
        target: &WrapupTarget,
        wrapup: &WrapupRequest,
        deadline: Deadline,
    ) -> Result<ApplyResult, GenesysError> {
        let communication = match (wrapup.style, &target.communication_id) {
            (WrapupStyle::Communication, Some(communication)) => Some(communication.clone()),
            (WrapupStyle::Communication, None) => {
                let operation = Operation::ApplyWrapup {
                    segment,
                    id: id.clone(),
                    participant: target.participant_id.clone(),
                    communication: None,
                };
                return Err(GenesysError::NoCommunication { operation });
            }
            (WrapupStyle::Participant, _) => None,
        };
        let posting = communication.is_some();
        let operation = Operation::ApplyWrapup {
            segment,
            id: id.clone(),
            participant: target.participant_id.clone(),
            communication,
        };
        let body = WrapupBody::of(wrapup);
        if posting {
            self.write(operation, &body, deadline).await
        } else {
            self.write(
                operation,
                &ParticipantWrapupPatch { wrapup: body },
                deadline,
            )
            .await
        }
    }
}

/// Maps an API response that was not a success (and not retried) to the error it stands for.
async fn api_failure(operation: Operation, response: Response) -> GenesysError {
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
fn http_span(
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

fn correlation_id(response: &Response) -> Option<String> {
    response
        .headers()
        .get("ININ-Correlation-Id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

async fn read_json<T: serde::de::DeserializeOwned>(
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
async fn with_excerpt(hint: &str, mut response: Response) -> String {
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
async fn refusal(
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
