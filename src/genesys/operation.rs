//! The calls made to Genesys Cloud: their method, path and low-cardinality route, for requests, errors and spans.

use crate::domain::{CommunicationId, ConversationId, InteractionId, ParticipantId};
use std::fmt;

/// Which call failed, for messages and spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// `POST /oauth/token`.
    Token,
    /// `GET /api/v2/interactions/{id}`.
    FetchInteraction(InteractionId),
    /// `PATCH /api/v2/interactions/{id}`.
    ApplyDisposition(InteractionId),
    /// `GET /api/v2/conversations/{id}`.
    FetchConversation(ConversationId),
    /// The participant PATCH or the communication wrap-up POST.
    ApplyWrapup {
        /// The media's path segment (`calls`, ...).
        segment: &'static str,
        /// The conversation.
        id: ConversationId,
        /// The agent's participant.
        participant: ParticipantId,
        /// Set for the communication-level POST.
        communication: Option<CommunicationId>,
    },
}

impl Operation {
    /// The request's method and path template (low cardinality, for span names).
    pub fn route(&self) -> String {
        match self {
            Operation::Token => "POST /oauth/token".into(),
            Operation::FetchInteraction(_) => "GET /api/v2/interactions/{interactionId}".into(),
            Operation::ApplyDisposition(_) => "PATCH /api/v2/interactions/{interactionId}".into(),
            Operation::FetchConversation(_) => "GET /api/v2/conversations/{conversationId}".into(),
            Operation::ApplyWrapup {
                segment,
                communication: None,
                ..
            } => format!(
                "PATCH /api/v2/conversations/{segment}/{{conversationId}}/participants/{{participantId}}"
            ),
            Operation::ApplyWrapup { segment, .. } => format!(
                "POST /api/v2/conversations/{segment}/{{conversationId}}/participants/{{participantId}}/communications/{{communicationId}}/wrapup"
            ),
        }
    }

    /// The request path, ids filled in.
    pub fn path(&self) -> String {
        match self {
            Operation::Token => "/oauth/token".into(),
            Operation::FetchInteraction(id) | Operation::ApplyDisposition(id) => {
                format!("/api/v2/interactions/{id}")
            }
            Operation::FetchConversation(id) => format!("/api/v2/conversations/{id}"),
            Operation::ApplyWrapup {
                segment,
                id,
                participant,
                communication: None,
            } => format!("/api/v2/conversations/{segment}/{id}/participants/{participant}"),
            Operation::ApplyWrapup {
                segment,
                id,
                participant,
                communication: Some(communication),
            } => format!(
                "/api/v2/conversations/{segment}/{id}/participants/{participant}/communications/{communication}/wrapup"
            ),
        }
    }

    /// The request's HTTP method.
    pub fn method(&self) -> reqwest::Method {
        match self {
            Operation::Token => reqwest::Method::POST,
            Operation::FetchInteraction(_) | Operation::FetchConversation(_) => {
                reqwest::Method::GET
            }
            Operation::ApplyDisposition(_) => reqwest::Method::PATCH,
            Operation::ApplyWrapup {
                communication: None,
                ..
            } => reqwest::Method::PATCH,
            Operation::ApplyWrapup { .. } => reqwest::Method::POST,
        }
    }

    /// True for the requests that change something in Genesys Cloud.
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Operation::ApplyDisposition(_) | Operation::ApplyWrapup { .. }
        )
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method(), self.path())
    }
}
