//! One request with bounded retries: Retry-After, backoff with jitter, a fresh token after a 401, never a blind resend of a write.

use super::answers::{correlation_id, http_span};
use super::token::CachedToken;
use super::{Body, Credential, HttpGenesysClient, MIN_REQUEST_TIME};
use crate::retry::parse_retry_after;
use crate::{GenesysError, Operation};
use gev_core::deadline::Deadline;
use gev_core::telemetry::{self, propagation};
use reqwest::{Method, Response, StatusCode, header};
use std::time::SystemTime;
use tracing::{Instrument, Span};

/// What to do after one attempt.
enum Next {
    /// Send again (after the wait already taken).
    Retry,
    /// Send again at once with a fresh token; this attempt does not count.
    RetryWithFreshToken,
    /// The answer to return to the caller.
    Done(Result<Response, GenesysError>),
}

/// One request being sent: what it is and how far its retries have come.
struct Attempts<'a> {
    operation: &'a Operation,
    deadline: Deadline,
    attempt: u32,
    refreshed_after_401: bool,
}

impl Attempts<'_> {
    /// `DeadlineExceeded` when too little time is left to start a request.
    fn out_of_time(&self) -> Option<GenesysError> {
        (self.deadline.remaining() < MIN_REQUEST_TIME).then(|| GenesysError::DeadlineExceeded {
            operation: self.operation.clone(),
        })
    }
}

impl HttpGenesysClient {
    /// Sends one request with bounded retries: 429 waits for `Retry-After`, 5xx (but 501) and
    /// transport errors back off with jitter, a 401 refreshes the token once. A write (PATCH,
    /// POST) is retried only when Genesys cannot have processed it (429, 503, 401, no
    /// connection). Returns the first response that is not retried; the caller maps its status.
    /// `credential` is asked before every attempt (generic, so the token request's own `send`
    /// does not contain `bearer`).
    pub(super) async fn send<C, F>(
        &self,
        operation: &Operation,
        url: &reqwest::Url,
        body: &Body,
        deadline: Deadline,
        credential: C,
    ) -> Result<Response, GenesysError>
    where
        C: Fn() -> F,
        F: std::future::Future<Output = Result<Credential, GenesysError>>,
    {
        let method = operation.method();
        let mut attempts = Attempts {
            operation,
            deadline,
            attempt: 0,
            refreshed_after_401: false,
        };
        loop {
            attempts.attempt += 1;
            if let Some(error) = attempts.out_of_time() {
                return Err(error);
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
            if let Some(error) = attempts.out_of_time() {
                return Err(error);
            }
            let server = match operation {
                Operation::Token => &self.login,
                _ => &self.api,
            };
            let span = http_span(operation, &method, url, server, attempts.attempt);
            let result = self
                .request(&method, url, body, &credential, deadline)
                .headers(propagation::outgoing_headers(&span))
                .send()
                .instrument(span.clone())
                .await;
            let next = match result {
                Ok(response) => {
                    self.after_answer(response, &span, token.as_ref(), &mut attempts)
                        .await
                }
                Err(source) => self.after_transport_error(source, &span, &attempts).await,
            };
            match next {
                Next::Retry => {}
                Next::RetryWithFreshToken => attempts.attempt -= 1,
                Next::Done(result) => return result,
            }
        }
    }

    /// The request of one attempt: timed out by the request timeout or the deadline, whichever
    /// comes first, with its credential and body.
    fn request(
        &self,
        method: &Method,
        url: &reqwest::Url,
        body: &Body,
        credential: &Credential,
        deadline: Deadline,
    ) -> reqwest::RequestBuilder {
        let timeout = self.settings.request_timeout.min(deadline.remaining());
        let request = self
            .http
            .request(method.clone(), url.clone())
            .timeout(timeout);
        let request = match credential {
            Credential::Bearer(token) => request.bearer_auth(token.value.expose()),
            Credential::Basic(credentials) => request.basic_auth(
                &credentials.client_id,
                Some(credentials.client_secret.expose()),
            ),
        };
        match body {
            Body::Empty => request,
            Body::Json(bytes) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(bytes.clone()),
            Body::Form(form) => request
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(*form),
        }
    }

    /// No answer: retried after a backoff, unless it is a write Genesys may have processed.
    async fn after_transport_error(
        &self,
        source: reqwest::Error,
        span: &Span,
        attempts: &Attempts<'_>,
    ) -> Next {
        let operation = attempts.operation;
        let timed_out = source.is_timeout();
        let error_type = if timed_out { "timeout" } else { "transport" };
        span.record("error.type", error_type);
        telemetry::mark_error(span, error_type);
        // A write that may have reached Genesys is not sent again blindly: the event fails
        // instead, and its redelivery reads the state first.
        let maybe_processed = operation.is_write() && !source.is_connect();
        let error = GenesysError::Transport {
            operation: operation.clone(),
            timed_out,
            source,
        };
        let backoff = self.settings.retry.backoff(attempts.attempt);
        if !maybe_processed && self.may_retry_after(backoff, attempts).await {
            tracing::warn!(error = %gev_core::error_chain(&error), attempts.attempt, "retrying after a transport error");
            return Next::Retry;
        }
        Next::Done(Err(error))
    }

    /// An answer: recorded on the span, then a fresh token after a first 401, a wait after a
    /// 429 or a retryable 5xx, or the answer itself.
    async fn after_answer(
        &self,
        response: Response,
        span: &Span,
        token: Option<&CachedToken>,
        attempts: &mut Attempts<'_>,
    ) -> Next {
        let operation = attempts.operation;
        let status = response.status();
        let correlation = correlation_id(&response);
        record_answer(span, operation, status, correlation.as_deref());
        match status {
            StatusCode::UNAUTHORIZED if !attempts.refreshed_after_401 => {
                let Some(token) = token else {
                    return Next::Done(Ok(response));
                };
                // The token was revoked or expired early: fetch a fresh one, once.
                self.invalidate(token.generation).await;
                attempts.refreshed_after_401 = true;
                tracing::info!(%operation, "401 from Genesys Cloud; fetching a fresh token");
                Next::RetryWithFreshToken
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
                let policy = self.settings.retry;
                let too_long = retry_after.is_some_and(|wait| wait > policy.max_retry_after);
                let wait = policy.rate_limit_wait(retry_after);
                if !too_long && self.may_retry_after(wait, attempts).await {
                    let error = gev_core::error_chain(&error);
                    tracing::warn!(%error, attempts.attempt, "rate limited; waiting for Retry-After");
                    return Next::Retry;
                }
                Next::Done(Err(error))
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
                let backoff = self.settings.retry.backoff(attempts.attempt);
                if !maybe_processed && self.may_retry_after(backoff, attempts).await {
                    let error = gev_core::error_chain(&error);
                    tracing::warn!(%error, attempts.attempt, "retrying after a server error");
                    return Next::Retry;
                }
                Next::Done(Err(error))
            }
            _ => Next::Done(Ok(response)),
        }
    }

    /// True, after waiting `wait`, when another attempt is allowed and still fits in the time.
    async fn may_retry_after(&self, wait: std::time::Duration, attempts: &Attempts<'_>) -> bool {
        attempts.attempt < self.settings.retry.max_attempts
            && self.pause(wait, attempts.deadline).await
    }
}

/// Records an answer's status and correlation id on its span (an error status marks it).
fn record_answer(
    span: &Span,
    operation: &Operation,
    status: StatusCode,
    correlation: Option<&str>,
) {
    span.record("http.response.status_code", status.as_u16());
    if let Some(id) = correlation {
        span.record("genesys.correlation_id", id);
    }
    tracing::debug!(
        %operation,
        status = status.as_u16(),
        genesys.correlation_id = correlation,
        "Genesys Cloud answered"
    );
    if status.is_client_error() || status.is_server_error() {
        span.record("error.type", status.as_str());
        telemetry::mark_error(span, format!("HTTP {}", status.as_u16()));
    }
}
