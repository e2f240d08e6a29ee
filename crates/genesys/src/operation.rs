//! The calls made to Genesys Cloud: their method, path and low-cardinality route, for requests, errors and spans.

use gev_core::domain::{
    CommunicationId, ConversationId, IntegrationId, InteractionId, ParticipantId, QueueId,
};
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
    /// `GET /api/v2/integrations?integrationType=amazon-eventbridge-source`.
    ListIntegrations,
    /// `POST /api/v2/integrations`.
    CreateIntegration,
    /// `GET /api/v2/integrations/{id}`.
    GetIntegration(IntegrationId),
    /// `PATCH /api/v2/integrations/{id}` with `{intendedState}`.
    SetIntendedState(IntegrationId),
    /// `GET /api/v2/integrations/{id}/config/current`.
    GetIntegrationConfig(IntegrationId),
    /// `PUT /api/v2/integrations/{id}/config/current`.
    PutIntegrationConfig(IntegrationId),
    /// `GET /api/v2/notifications/availabletopics?expand=transports`.
    AvailableTopics,
    /// `GET /api/v2/organizations/me`.
    Organization,
    /// `GET /api/v2/integrations/types/amazon-eventbridge-source/configschemas/properties`.
    PropertiesSchema,
    /// `POST /api/v2/notifications/channels`.
    CreateChannel,
    /// `HEAD /api/v2/notifications/channels/{channelId}`.
    HeadChannel(String),
    /// `PUT /api/v2/notifications/channels/{channelId}/subscriptions?ignoreErrors=true`.
    PutSubscriptions(String),
    /// `POST /api/v2/analytics/conversations/details/query` (a read).
    ConversationDetailsQuery,
    /// `GET /api/v2/routing/queues` (one page).
    ListQueues,
    /// `GET /api/v2/routing/queues/{queueId}`.
    GetQueue(QueueId),
    /// `GET /api/v2/routing/queues/{queueId}/wrapupcodes` (one page).
    ListQueueWrapupCodes(QueueId),
    /// `GET /api/v2/routing/wrapupcodes` (one page).
    ListWrapupCodes,
}

impl Operation {
    /// The request's method and path template (low cardinality, for span names).
    pub(crate) fn route(&self) -> String {
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
            Operation::ListIntegrations => "GET /api/v2/integrations".into(),
            Operation::CreateIntegration => "POST /api/v2/integrations".into(),
            Operation::GetIntegration(_) => "GET /api/v2/integrations/{integrationId}".into(),
            Operation::SetIntendedState(_) => "PATCH /api/v2/integrations/{integrationId}".into(),
            Operation::GetIntegrationConfig(_) => {
                "GET /api/v2/integrations/{integrationId}/config/current".into()
            }
            Operation::PutIntegrationConfig(_) => {
                "PUT /api/v2/integrations/{integrationId}/config/current".into()
            }
            Operation::AvailableTopics => "GET /api/v2/notifications/availabletopics".into(),
            Operation::Organization => "GET /api/v2/organizations/me".into(),
            Operation::PropertiesSchema => {
                "GET /api/v2/integrations/types/{typeId}/configschemas/properties".into()
            }
            Operation::CreateChannel => "POST /api/v2/notifications/channels".into(),
            Operation::HeadChannel(_) => "HEAD /api/v2/notifications/channels/{channelId}".into(),
            Operation::PutSubscriptions(_) => {
                "PUT /api/v2/notifications/channels/{channelId}/subscriptions".into()
            }
            Operation::ConversationDetailsQuery => {
                "POST /api/v2/analytics/conversations/details/query".into()
            }
            Operation::ListQueues => "GET /api/v2/routing/queues".into(),
            Operation::GetQueue(_) => "GET /api/v2/routing/queues/{queueId}".into(),
            Operation::ListQueueWrapupCodes(_) => {
                "GET /api/v2/routing/queues/{queueId}/wrapupcodes".into()
            }
            Operation::ListWrapupCodes => "GET /api/v2/routing/wrapupcodes".into(),
        }
    }

    /// The request's query string, when it has one.
    pub(crate) fn query(&self) -> Option<&'static str> {
        match self {
            Operation::ListIntegrations => {
                Some("integrationType=amazon-eventbridge-source&pageSize=100")
            }
            Operation::AvailableTopics => Some("expand=transports"),
            Operation::PutSubscriptions(_) => Some("ignoreErrors=true"),
            _ => None,
        }
    }

    /// The request path, ids filled in.
    pub(crate) fn path(&self) -> String {
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
            Operation::ListIntegrations | Operation::CreateIntegration => {
                "/api/v2/integrations".into()
            }
            Operation::GetIntegration(id) | Operation::SetIntendedState(id) => {
                format!("/api/v2/integrations/{id}")
            }
            Operation::GetIntegrationConfig(id) | Operation::PutIntegrationConfig(id) => {
                format!("/api/v2/integrations/{id}/config/current")
            }
            Operation::AvailableTopics => "/api/v2/notifications/availabletopics".into(),
            Operation::Organization => "/api/v2/organizations/me".into(),
            Operation::PropertiesSchema => {
                "/api/v2/integrations/types/amazon-eventbridge-source/configschemas/properties"
                    .into()
            }
            Operation::CreateChannel => "/api/v2/notifications/channels".into(),
            Operation::HeadChannel(id) => format!("/api/v2/notifications/channels/{id}"),
            Operation::PutSubscriptions(id) => {
                format!("/api/v2/notifications/channels/{id}/subscriptions")
            }
            Operation::ConversationDetailsQuery => {
                "/api/v2/analytics/conversations/details/query".into()
            }
            Operation::ListQueues => "/api/v2/routing/queues".into(),
            Operation::GetQueue(id) => format!("/api/v2/routing/queues/{id}"),
            Operation::ListQueueWrapupCodes(id) => {
                format!("/api/v2/routing/queues/{id}/wrapupcodes")
            }
            Operation::ListWrapupCodes => "/api/v2/routing/wrapupcodes".into(),
        }
    }

    /// The request's HTTP method.
    pub(crate) fn method(&self) -> reqwest::Method {
        match self {
            Operation::Token | Operation::CreateChannel | Operation::ConversationDetailsQuery => {
                reqwest::Method::POST
            }
            Operation::HeadChannel(_) => reqwest::Method::HEAD,
            Operation::PutSubscriptions(_) => reqwest::Method::PUT,
            Operation::FetchInteraction(_)
            | Operation::FetchConversation(_)
            | Operation::ListIntegrations
            | Operation::GetIntegration(_)
            | Operation::GetIntegrationConfig(_)
            | Operation::AvailableTopics
            | Operation::Organization
            | Operation::PropertiesSchema
            | Operation::ListQueues
            | Operation::GetQueue(_)
            | Operation::ListQueueWrapupCodes(_)
            | Operation::ListWrapupCodes => reqwest::Method::GET,
            Operation::CreateIntegration => reqwest::Method::POST,
            Operation::SetIntendedState(_) => reqwest::Method::PATCH,
            Operation::PutIntegrationConfig(_) => reqwest::Method::PUT,
            Operation::ApplyDisposition(_) => reqwest::Method::PATCH,
            Operation::ApplyWrapup {
                communication: None,
                ..
            } => reqwest::Method::PATCH,
            Operation::ApplyWrapup { .. } => reqwest::Method::POST,
        }
    }

    /// True for the requests that change something in Genesys Cloud.
    pub(crate) fn is_write(&self) -> bool {
        !matches!(self.method(), reqwest::Method::GET | reqwest::Method::HEAD)
            && !matches!(self, Operation::Token | Operation::ConversationDetailsQuery)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method(), self.path())
    }
}
