//! The bearer token: cached, refreshed early by exactly one caller, its failures shared with the callers that waited.

use super::answers::{correlation_id, read_json, refusal};
use super::{Body, Credential, HttpGenesysClient};
use crate::credentials::Freshness;
use crate::wire::TokenResponse;
use crate::{GenesysError, Operation};
use gev_core::deadline::Deadline;
use gev_core::secret::Secret;
use reqwest::StatusCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tracing::{Instrument, field, info_span};

#[derive(Debug, Clone)]
pub(super) struct CachedToken {
    pub(super) value: Secret,
    refresh_at: Instant,
    pub(super) generation: u64,
}

#[derive(Debug, Default)]
pub(super) struct TokenSlot {
    current: Option<CachedToken>,
    generation: u64,
    /// When the last token request failed, and how: shared with the callers that waited for it.
    last_failure: Option<(Instant, Arc<GenesysError>)>,
}

impl HttpGenesysClient {
    /// A valid bearer token: the cached one, or a fresh one fetched by exactly one caller. The
    /// callers that waited for a refresh that failed get its error, without asking again.
    pub(super) async fn bearer(&self, deadline: Deadline) -> Result<CachedToken, GenesysError> {
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

    pub(super) async fn bearer_credential(
        &self,
        deadline: Deadline,
    ) -> Result<Credential, GenesysError> {
        self.bearer(deadline).await.map(Credential::Bearer)
    }

    /// When a token that lives `lifetime` (bounded by the wire type) is replaced:
    /// `token_refresh_margin` early.
    pub(super) fn refresh_time(&self, lifetime: Duration) -> Instant {
        let now = Instant::now();
        let early = lifetime.saturating_sub(self.settings.token_refresh_margin);
        now.checked_add(early).unwrap_or(now)
    }

    /// Forgets the token that got a 401, unless another caller already replaced it.
    pub(super) async fn invalidate(&self, generation: u64) {
        let mut slot = self.token.lock().await;
        if slot
            .current
            .as_ref()
            .is_some_and(|t| t.generation == generation)
        {
            slot.current = None;
        }
    }

    pub(super) async fn request_token(
        &self,
        deadline: Deadline,
    ) -> Result<TokenResponse, GenesysError> {
        let url = self.login.url("/oauth/token");
        let operation = Operation::Token;
        let body = Body::Form("grant_type=client_credentials");
        let mut freshness = Freshness::Cached;
        loop {
            let credentials = self
                .credentials
                .credentials(freshness)
                .await
                .map_err(|source| GenesysError::Credentials { source })?;
            let response = self
                .send(&operation, &url, &body, deadline, || {
                    let credentials = credentials.clone();
                    async move { Ok(Credential::Basic(credentials)) }
                })
                .await?;
            let status = response.status();
            if status.is_success() {
                return read_json(&operation, response).await;
            }
            let refused = matches!(status, StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED);
            if refused && freshness == Freshness::Cached && self.credentials.refreshable() {
                // The secret may have been rotated: read it again, once.
                tracing::info!(%status, "token request refused; reading the credentials secret again");
                freshness = Freshness::Fresh;
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
}
