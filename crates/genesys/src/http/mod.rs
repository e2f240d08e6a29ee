//! The HTTP adapter of the Genesys port: OAuth client credentials, a single-flight token cache, bounded retries.

mod analytics;
mod answers;
mod integrations;
mod notifications;
mod origin;
mod routing;
mod send;
mod token;

use crate::credentials::{ClientCredentials, CredentialsSource};
use crate::rate_limit::RateLimiter;
use crate::retry::RetryPolicy;
use crate::wire::{
    ConversationBody, DispositionPatch, DispositionRef, InteractionBody, ParticipantWrapupPatch,
    WrapupBody,
};
use crate::{ApplyResult, GenesysApi, GenesysError, Operation, WrapupRequest, WrapupStyle};
use answers::{api_failure, read_json};
use async_trait::async_trait;
use gev_core::deadline::Deadline;
use gev_core::domain::{
    ConversationId, ConversationSnapshot, DispositionCodeId, InteractionId, InteractionSnapshot,
    QueueId, WrapupTarget,
};
use origin::Origin;
use reqwest::StatusCode;
use std::sync::Arc;
use std::time::Duration;
use token::{CachedToken, TokenSlot};
use tokio::sync::Mutex;

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
    /// Attempts and waits of a request.
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

/// The HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot build the HTTP client")]
    /// reqwest could not build its client.
    Http(#[source] reqwest::Error),
    #[error("{url:?} is not a base URL")]
    /// A base URL does not parse.
    BaseUrl {
        /// The URL as given.
        url: String,
        #[source]
        /// Why it does not parse.
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
    /// A client of `endpoints`, authenticating with `credentials`.
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
}

impl HttpGenesysClient {
    /// GETs `operation` and reads its JSON body; other answers become errors.
    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        operation: Operation,
        deadline: Deadline,
    ) -> Result<T, GenesysError> {
        let mut url = self.api.url(&operation.path());
        url.set_query(operation.query());
        let response = self
            .send(&operation, &url, &Body::Empty, deadline, || {
                self.bearer_credential(deadline)
            })
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
        let body = Body::Json(serde_json::to_vec(body).expect("a struct of strings serialises"));
        let response = self
            .send(&operation, &url, &body, deadline, || {
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

    async fn queue_facts(
        &self,
        id: &QueueId,
        deadline: Deadline,
    ) -> Result<crate::routing::QueueFacts, GenesysError> {
        crate::routing::RoutingApi::queue_facts(self, id, deadline).await
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
