//! The simulated login service: client-credentials tokens, and the bearer check of every API request.

use super::Simulator;
use super::answers::error;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde::Deserialize;
use serde_json::json;
use std::time::Instant;

#[derive(Debug, Deserialize)]
pub(super) struct TokenForm {
    grant_type: Option<String>,
}

pub(super) async fn issue_token(
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

/// Answers 401 to an API request without a valid bearer token.
pub(super) async fn require_token(
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
