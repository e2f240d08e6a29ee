//! Fault injection: which faults, drawn from a seeded generator, and how each is acted out around a request.

use super::Simulator;
use super::answers::error;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Faults injected into API requests (`/api/v2/...`), each a share of requests in 0..=1, drawn
/// from a generator seeded with `seed` so that a run can be repeated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Faults {
    /// Seeds the generator, so a run can be repeated.
    pub seed: u64,
    /// 429 with `Retry-After: retryAfterSeconds`.
    pub rate_limited: f64,
    /// The `Retry-After` of an injected 429.
    pub retry_after_seconds: f64,
    /// 503.
    pub server_error: f64,
    /// Every token is revoked and the request answered 401.
    pub token_revoked: f64,
    /// Writes only: a concurrent writer sets another code first, then 409.
    pub conflict: f64,
    /// The answer is delayed by `slowMs`.
    pub slow: f64,
    /// How much later a slow answer comes.
    pub slow_ms: u64,
    /// The request is processed (a write is applied), then the answer is held for `timeoutMs`,
    /// longer than a client waits: the worst case of a lost response.
    pub timeout: f64,
    /// How long a lost answer is held.
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
    pub fn parse(spec: &str) -> Result<Self, FaultSpecError> {
        let mut object = Map::new();
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| FaultSpecError::NotKeyValue {
                    pair: pair.to_owned(),
                })?;
            let number: f64 =
                value
                    .trim()
                    .parse()
                    .map_err(|source| FaultSpecError::NotANumber {
                        key: key.to_owned(),
                        value: value.to_owned(),
                        source,
                    })?;
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
        let faults: Faults = serde_json::from_value(Value::Object(object))?;
        let total = faults.rate_limited
            + faults.server_error
            + faults.token_revoked
            + faults.conflict
            + faults.slow
            + faults.timeout
            + faults.bad_gateway_after_write
            + faults.server_error_after_write;
        if !(0.0..=1.0).contains(&total) {
            return Err(FaultSpecError::SharesOutOfRange { total });
        }
        Ok(faults)
    }
}

/// A fault spec (`--faults`) that cannot be used; the message names the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum FaultSpecError {
    /// A comma-separated part without `=`.
    #[error("{pair:?} is not key=value")]
    NotKeyValue {
        /// The part, trimmed.
        pair: String,
    },
    /// A value that is not a number.
    #[error("{key}: {value:?} is not a number")]
    NotANumber {
        /// The key, as written.
        key: String,
        /// The value, as written.
        value: String,
        /// What the number parser said.
        #[source]
        source: std::num::ParseFloatError,
    },
    /// An unknown key, or a value out of its type's range (the message names the key).
    #[error(transparent)]
    Fields(#[from] serde_json::Error),
    /// Shares whose sum is not a share.
    #[error("the shares add up to {total}, outside 0..=1")]
    SharesOutOfRange {
        /// Their sum.
        total: f64,
    },
}

/// What the injector decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fault {
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

/// Whether a request reads or writes (faults of writes only spare reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RequestKind {
    Read,
    Write,
}

/// Marks a write request on which a concurrent writer wins (set by the fault layer).
#[derive(Debug, Clone, Copy)]
pub(super) struct InjectConflict;

#[derive(Debug)]
pub(super) struct Injector {
    pub(super) faults: Faults,
    rng: fastrand::Rng,
    pub(super) injected: BTreeMap<&'static str, u64>,
    /// When the faults were set (the token outage runs from then).
    since: Instant,
}

impl Injector {
    pub(super) fn new(faults: Faults) -> Self {
        Injector {
            rng: fastrand::Rng::with_seed(faults.seed),
            faults,
            injected: BTreeMap::new(),
            since: Instant::now(),
        }
    }

    /// True, counting it, while the configured token outage lasts.
    pub(super) fn refuses_tokens(&mut self) -> bool {
        let outage = Duration::from_millis(self.faults.token_refused_ms);
        if self.since.elapsed() >= outage {
            return false;
        }
        *self.injected.entry("tokenRefused").or_default() += 1;
        true
    }

    pub(super) fn draw(&mut self, request: RequestKind) -> Option<Fault> {
        let write = request == RequestKind::Write;
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

/// Draws a fault for an API request and acts it out around the handler.
pub(super) async fn inject_faults(
    State(sim): State<Simulator>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let kind = if request.method() == axum::http::Method::GET {
        RequestKind::Read
    } else {
        RequestKind::Write
    };
    let (fault, faults) = {
        let mut books = sim.books();
        let fault = books.injector.draw(kind);
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
pub(super) fn lost_answer(response: Response, status: StatusCode) -> Response {
    if !response.status().is_success() {
        return response;
    }
    error(status, "simulated", "simulated lost answer")
}

pub(super) async fn get_faults(State(sim): State<Simulator>) -> Response {
    let (faults, injected) = sim.faults();
    Json(json!({"faults": faults, "injected": injected})).into_response()
}

pub(super) async fn put_faults(
    State(sim): State<Simulator>,
    Json(faults): Json<Faults>,
) -> Response {
    sim.set_faults(faults);
    StatusCode::NO_CONTENT.into_response()
}
