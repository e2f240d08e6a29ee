//! The Integrations port (configure): the Amazon EventBridge Source integration, its configuration, the topics Genesys can send, the organization.

use super::GenesysError;
use async_trait::async_trait;
use gev_core::deadline::Deadline;
use gev_core::domain::IntegrationId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An integration as `GET /api/v2/integrations/{id}` describes it; only what configure reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integration {
    /// Its id.
    pub id: IntegrationId,
    /// Its name.
    pub name: String,
    /// `intendedState`: `ENABLED`, `DISABLED` or `DELETED`.
    pub intended_state: String,
    /// `reportedState.code`: `ACTIVE`, `ACTIVATING`, `INACTIVE`, `DEACTIVATING` or `ERROR`.
    pub reported_state: String,
}

/// `properties` of the Amazon EventBridge Source's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventBridgeProperties {
    /// The AWS account that receives the events.
    #[serde(default)]
    pub aws_account_id: String,
    /// The AWS region of the partner event source.
    #[serde(default)]
    pub aws_account_region: String,
    /// The suffix of the partner event source's name.
    #[serde(default)]
    pub event_source_suffix: String,
    /// The topics sent.
    #[serde(default)]
    pub event_filter: Vec<String>,
}

/// An integration's current configuration (`GET|PUT …/config/current`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationConfig {
    /// The configuration's name (the integration's name).
    pub name: String,
    /// Its version: a PUT must name the current one.
    pub version: i64,
    /// The EventBridge properties.
    #[serde(default)]
    pub properties: EventBridgeProperties,
    /// Free text (`node_dynamodb_empty_string` means empty).
    #[serde(default)]
    pub notes: Option<String>,
    /// Advanced settings (none for this type).
    #[serde(default)]
    pub advanced: Value,
    /// Credentials (none for this type).
    #[serde(default)]
    pub credentials: Value,
}

/// One topic Genesys can send, with the transports that carry it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AvailableTopic {
    /// The topic template, e.g. `v2.detail.events.conversation.{id}.user.end`.
    pub id: String,
    /// `All`, `Websocket`, `EventBridge`.
    #[serde(default)]
    pub transports: Vec<String>,
}

impl AvailableTopic {
    /// True when EventBridge may carry it.
    pub fn reaches_eventbridge(&self) -> bool {
        self.transports
            .iter()
            .any(|transport| transport == "All" || transport == "EventBridge")
    }
}

/// Whether an integration should run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum IntendedState {
    /// Running.
    Enabled,
    /// Stopped.
    Disabled,
}

/// What a configuration write came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigWrite {
    /// Saved; the configuration as Genesys now has it.
    Saved(Box<IntegrationConfig>),
    /// The version named is not the current one: someone changed the configuration since it
    /// was read (409, or a 400 saying the version does not match).
    Conflict,
}

/// The calls configure makes on Genesys Cloud.
#[async_trait]
pub trait IntegrationsApi: Send + Sync {
    /// Every integration of type `amazon-eventbridge-source`.
    async fn list_integrations(&self, deadline: Deadline)
    -> Result<Vec<Integration>, GenesysError>;

    /// One integration.
    async fn integration(
        &self,
        id: &IntegrationId,
        deadline: Deadline,
    ) -> Result<Integration, GenesysError>;

    /// Creates an integration of type `amazon-eventbridge-source` named `name`.
    async fn create_integration(
        &self,
        name: &str,
        deadline: Deadline,
    ) -> Result<Integration, GenesysError>;

    /// Its current configuration.
    async fn config(
        &self,
        id: &IntegrationId,
        deadline: Deadline,
    ) -> Result<IntegrationConfig, GenesysError>;

    /// Replaces the configuration; `config.version` must be the current one.
    async fn put_config(
        &self,
        id: &IntegrationId,
        config: &IntegrationConfig,
        deadline: Deadline,
    ) -> Result<ConfigWrite, GenesysError>;

    /// Enables or disables the integration.
    async fn set_intended_state(
        &self,
        id: &IntegrationId,
        state: IntendedState,
        deadline: Deadline,
    ) -> Result<Integration, GenesysError>;

    /// The notification topics, with their transports.
    async fn available_topics(
        &self,
        deadline: Deadline,
    ) -> Result<Vec<AvailableTopic>, GenesysError>;

    /// The organization's id.
    async fn organization_id(&self, deadline: Deadline) -> Result<String, GenesysError>;

    /// The JSON Schema of the integration type's properties; `None` when Genesys serves none.
    async fn properties_schema(&self, deadline: Deadline) -> Result<Option<Value>, GenesysError>;
}
