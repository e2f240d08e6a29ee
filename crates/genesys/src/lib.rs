//! The Genesys Cloud port: fetch and update interactions (tutorial) and conversations (native), with errors that know if a retry helps.

pub mod analytics;
pub mod credentials;
pub mod http;
pub mod integrations;
pub mod notifications;
mod operation;
mod rate_limit;
mod retry;
pub mod routing;
mod wire;

use async_trait::async_trait;
use gev_core::deadline::Deadline;
use gev_core::domain::{
    ConversationId, ConversationSnapshot, DispositionCodeId, InteractionId, InteractionSnapshot,
    QueueId, WrapupTarget,
};
use std::fmt;
use std::time::Duration;

pub use credentials::{
    ClientCredentials, CredentialsSource, Freshness, SecretsManagerCredentials, StaticCredentials,
};
pub use http::{Endpoints, HttpGenesysClient, HttpSettings};
pub use operation::Operation;
pub use retry::RetryPolicy;

/// What applying a disposition did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyResult {
    /// Genesys accepted the PATCH.
    Applied,
    /// Genesys answered 409: the interaction changed concurrently. Acknowledged, not retried.
    Conflict,
}

/// How a wrap-up is applied to a participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WrapupStyle {
    /// `PATCH /api/v2/conversations/{media}/{id}/participants/{participantId}` with `{"wrapup": ...}`.
    #[default]
    Participant,
    /// `POST .../participants/{participantId}/communications/{communicationId}/wrapup`.
    Communication,
}

/// The wrap-up to apply (native dialect).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrapupRequest {
    /// The code to apply.
    pub code: DispositionCodeId,
    /// Notes to send with it.
    pub notes: Option<String>,
    /// How to apply it.
    pub style: WrapupStyle,
}

/// The calls the pipeline makes on Genesys Cloud.
#[async_trait]
pub trait GenesysApi: Send + Sync {
    /// `GET /api/v2/interactions/{id}`.
    async fn fetch_interaction(
        &self,
        id: &InteractionId,
        deadline: Deadline,
    ) -> Result<InteractionSnapshot, GenesysError>;

    /// `PATCH /api/v2/interactions/{id}` with `{"dispositionCode":{"id":code}}` and nothing else.
    async fn apply_disposition(
        &self,
        id: &InteractionId,
        code: &DispositionCodeId,
        deadline: Deadline,
    ) -> Result<ApplyResult, GenesysError>;

    /// `GET /api/v2/conversations/{id}`: every participant with its communications (of any
    /// media), whose ids and after-call work the media-specific GET does not list.
    async fn fetch_conversation(
        &self,
        id: &ConversationId,
        deadline: Deadline,
    ) -> Result<ConversationSnapshot, GenesysError>;

    /// A queue's division, after-call-work prompt and assigned wrap-up codes
    /// (`GET /api/v2/routing/queues/{id}` and every page of its `/wrapupcodes`).
    async fn queue_facts(
        &self,
        id: &QueueId,
        deadline: Deadline,
    ) -> Result<routing::QueueFacts, GenesysError>;

    /// Applies `wrapup` to the target participant: a PATCH whose body is `{"wrapup": {...}}`
    /// only, or the communication-level POST.
    async fn apply_wrapup(
        &self,
        segment: &'static str,
        id: &ConversationId,
        target: &WrapupTarget,
        wrapup: &WrapupRequest,
        deadline: Deadline,
    ) -> Result<ApplyResult, GenesysError>;
}

/// Formats Genesys' `ININ-Correlation-Id`, when it sent one, for error messages.
struct Correlation<'a>(&'a Option<String>);

impl fmt::Display for Correlation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(id) => write!(f, " [ININ-Correlation-Id {id}]"),
            None => Ok(()),
        }
    }
}

/// A failed call to Genesys Cloud.
#[derive(Debug, thiserror::Error)]
pub enum GenesysError {
    /// 429: the rate limit held beyond what this invocation could wait.
    #[error(
        "{operation}: rate limited (429), Retry-After {retry_after:?}{}",
        Correlation(correlation_id)
    )]
    RateLimited {
        /// The call that failed.
        operation: Operation,
        /// The `Retry-After` Genesys sent, when it did.
        retry_after: Option<Duration>,
        /// Genesys' `ININ-Correlation-Id`, when it sent one.
        correlation_id: Option<String>,
    },
    /// A 5xx (other than 501) that outlived the retries.
    #[error(
        "{operation}: Genesys Cloud answered {status}{}",
        Correlation(correlation_id)
    )]
    Server {
        /// The call that failed.
        operation: Operation,
        /// The HTTP status.
        status: u16,
        /// Genesys' `ININ-Correlation-Id`, when it sent one.
        correlation_id: Option<String>,
    },
    /// No response: connection failure or timeout.
    #[error("{operation}: request failed{}", if *timed_out { " (timed out)" } else { "" })]
    Transport {
        /// The call that failed.
        operation: Operation,
        /// True when the request timed out.
        timed_out: bool,
        #[source]
        /// What the HTTP client said.
        source: reqwest::Error,
    },
    /// The invocation's deadline left no time for (another) attempt.
    #[error("{operation}: no time left before the invocation deadline")]
    DeadlineExceeded {
        /// The call that could not be made.
        operation: Operation,
    },
    /// 404 (or 410): the resource does not exist.
    #[error("{operation}: not found ({status}){}", Correlation(correlation_id))]
    NotFound {
        /// The call that failed.
        operation: Operation,
        /// The HTTP status.
        status: u16,
        /// Genesys' `ININ-Correlation-Id`, when it sent one.
        correlation_id: Option<String>,
    },
    /// 401 although the token was just issued (and refreshed once): a revocation racing the
    /// request, a propagation delay, or a misconfigured OAuth client. Retryable, so events are
    /// kept (redelivered, then dead-lettered) rather than dropped while someone looks.
    #[error(
        "{operation}: unauthorized (401) with a fresh token: {hint}{}",
        Correlation(correlation_id)
    )]
    Unauthorized {
        /// The call that failed.
        operation: Operation,
        /// What to check, with the start of what Genesys said.
        hint: String,
        /// Genesys' `ININ-Correlation-Id`, when it sent one.
        correlation_id: Option<String>,
    },
    /// A refusal: of the token request (any status), 403 (both healed by a configuration fix),
    /// or of our request itself (400, other 4xx, 501), which no retry or fix changes.
    #[error(
        "{operation}: refused with {status}: {hint}{}",
        Correlation(correlation_id)
    )]
    Refused {
        /// The call that failed.
        operation: Operation,
        /// The HTTP status.
        status: u16,
        /// What to check, with the start of what Genesys said.
        hint: String,
        /// Genesys' `ININ-Correlation-Id`, when it sent one.
        correlation_id: Option<String>,
    },
    /// The OAuth client's credentials could not be read.
    #[error(transparent)]
    Credentials {
        /// Why they could not be read.
        source: credentials::CredentialsError,
    },
    /// A failure shared by the callers that waited for the same token request.
    #[error(transparent)]
    Shared(std::sync::Arc<GenesysError>),
    /// The communication-level wrap-up was asked for, but the conversation lists no
    /// communication for the agent: nothing is applied (WRAPUP_APPLY_STYLE=participant heals it).
    #[error(
        "{operation}: the agent participant has no communication id in GET \
         /api/v2/conversations/{{conversationId}}, so the communication wrap-up cannot be posted; \
         set WRAPUP_APPLY_STYLE=participant"
    )]
    NoCommunication {
        /// The wrap-up that was not sent.
        operation: Operation,
    },
    /// A success status whose body is not what the API documents.
    #[error(
        "{operation}: unexpected response body: {source}{}",
        Correlation(correlation_id)
    )]
    InvalidResponse {
        /// The call that failed.
        operation: Operation,
        /// Genesys' `ININ-Correlation-Id`, when it sent one.
        correlation_id: Option<String>,
        #[source]
        /// What the JSON parser said.
        source: serde_json::Error,
    },
}

impl GenesysError {
    /// A stable name of the error's kind (`exception.type` in traces).
    pub fn kind(&self) -> &'static str {
        match self {
            GenesysError::RateLimited { .. } => "genesys.RateLimited",
            GenesysError::Server { .. } => "genesys.ServerError",
            GenesysError::Transport {
                timed_out: true, ..
            } => "genesys.Timeout",
            GenesysError::Transport { .. } => "genesys.Transport",
            GenesysError::DeadlineExceeded { .. } => "genesys.DeadlineExceeded",
            GenesysError::NotFound { .. } => "genesys.NotFound",
            GenesysError::Refused { .. } => "genesys.Refused",
            GenesysError::Unauthorized { .. } => "genesys.Unauthorized",
            GenesysError::InvalidResponse { .. } => "genesys.InvalidResponse",
            GenesysError::Credentials { .. } => "genesys.Credentials",
            GenesysError::Shared(error) => error.kind(),
            GenesysError::NoCommunication { .. } => "genesys.NoCommunication",
        }
    }

    /// True when this failed write may still have been applied: Genesys may have processed it
    /// (a timeout or lost connection after sending, a 500, 502 or 504), so nobody may act on
    /// a read taken before it until it has had time to land.
    pub fn write_may_have_applied(&self) -> bool {
        match self {
            GenesysError::Server {
                operation, status, ..
            } => operation.is_write() && *status != 503,
            GenesysError::Transport {
                operation, source, ..
            } => operation.is_write() && !source.is_connect(),
            _ => false,
        }
    }

    /// True when a fix of the configuration (the OAuth client, its secret, its role's
    /// permissions, the login URL) would make the same request succeed: every refusal of the
    /// token service, an unusable credentials secret, a 401 with a fresh token and a 403.
    pub fn needs_configuration_fix(&self) -> bool {
        match self {
            GenesysError::Refused {
                operation: Operation::Token,
                ..
            }
            | GenesysError::Unauthorized { .. }
            | GenesysError::NoCommunication { .. } => true,
            GenesysError::Credentials { source } => !source.is_transient(),
            GenesysError::Refused { status, .. } => *status == 403,
            // A token answer that is not JSON comes from a wrong login URL.
            GenesysError::InvalidResponse {
                operation: Operation::Token,
                ..
            } => true,
            GenesysError::Shared(error) => error.needs_configuration_fix(),
            _ => false,
        }
    }

    /// True when the same request may succeed later: rate limits, 5xx, timeouts, no time left,
    /// and every failure a configuration fix heals (so the event is delivered again, never
    /// completed). Only a 404 or a refusal of our own request (400, other 4xx, 501) is final.
    pub fn is_retryable(&self) -> bool {
        match self {
            GenesysError::RateLimited { .. }
            | GenesysError::Server { .. }
            | GenesysError::Transport { .. }
            | GenesysError::DeadlineExceeded { .. }
            | GenesysError::Credentials { .. } => true,
            GenesysError::Shared(error) => error.is_retryable(),
            _ => self.needs_configuration_fix(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetch_op() -> Operation {
        Operation::FetchInteraction(InteractionId::parse("i-1").unwrap())
    }

    #[test]
    fn rate_limits_and_server_errors_are_retryable() {
        let limited = GenesysError::RateLimited {
            operation: fetch_op(),
            retry_after: Some(Duration::from_secs(2)),
            correlation_id: None,
        };
        let server = GenesysError::Server {
            operation: fetch_op(),
            status: 503,
            correlation_id: None,
        };
        assert!(limited.is_retryable());
        assert!(server.is_retryable());
    }

    #[test]
    fn a_forbidden_request_or_refused_token_waits_for_a_configuration_fix() {
        let forbidden = GenesysError::Refused {
            operation: fetch_op(),
            status: 403,
            hint: "check scopes".into(),
            correlation_id: None,
        };
        let wrong_login_url = GenesysError::Refused {
            operation: Operation::Token,
            status: 404,
            hint: "unexpected answer".into(),
            correlation_id: None,
        };
        for error in [forbidden, wrong_login_url] {
            assert!(error.needs_configuration_fix(), "{error}");
            assert!(error.is_retryable(), "{error}");
        }
    }

    #[test]
    fn an_unusable_secret_awaits_a_fix_and_an_unreachable_one_a_retry() {
        let unusable = GenesysError::Credentials {
            source: credentials::CredentialsError::Unusable {
                arn: "arn:aws:secretsmanager:eu-west-1:1:secret:x".into(),
                problem: crate::credentials::SecretProblem::NoClientSecret,
            },
        };
        let unreachable = GenesysError::Credentials {
            source: credentials::CredentialsError::Unavailable {
                arn: "arn:aws:secretsmanager:eu-west-1:1:secret:x".into(),
                message: "throttled".into(),
                source: None,
            },
        };
        assert!(unusable.needs_configuration_fix() && unusable.is_retryable());
        assert!(!unreachable.needs_configuration_fix() && unreachable.is_retryable());
    }

    #[test]
    fn refusals_of_our_request_and_not_found_are_permanent() {
        let refused = GenesysError::Refused {
            operation: fetch_op(),
            status: 400,
            hint: "bad request".into(),
            correlation_id: Some("c-1".into()),
        };
        let missing = GenesysError::NotFound {
            operation: fetch_op(),
            status: 404,
            correlation_id: None,
        };
        assert!(!refused.is_retryable());
        assert!(!missing.is_retryable());
    }

    #[test]
    fn an_error_message_carries_the_correlation_id() {
        let refused = GenesysError::Refused {
            operation: fetch_op(),
            status: 403,
            hint: "check scopes".into(),
            correlation_id: Some("c-1".into()),
        };
        assert_eq!(
            refused.to_string(),
            "GET /api/v2/interactions/i-1: refused with 403: check scopes [ININ-Correlation-Id c-1]"
        );
    }
}
