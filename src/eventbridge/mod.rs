//! The EventBridge port (configure's AWS side): the partner event source Genesys makes, and the event bus associated with it.

pub mod sdk;

use async_trait::async_trait;

pub use sdk::SdkEventSources;

/// A failed EventBridge call.
#[derive(Debug, thiserror::Error)]
pub enum EventBridgeError {
    /// No credentials, no region, or the service could not be reached: a retry or a setting helps.
    #[error("EventBridge {operation} failed")]
    Unavailable {
        /// The call.
        operation: &'static str,
        /// The SDK's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The partner event sources and buses of one account and region.
#[async_trait]
pub trait EventSources: Send + Sync {
    /// The state of the partner event source `name` (`PENDING`, `ACTIVE`, `DELETED`); `None`
    /// when it does not exist (yet).
    async fn source_state(&self, name: &str) -> Result<Option<String>, EventBridgeError>;

    /// True when an event bus named `name` exists.
    async fn bus_exists(&self, name: &str) -> Result<bool, EventBridgeError>;

    /// Creates the partner event bus for the source `name` (the bus takes the source's name).
    async fn create_partner_bus(&self, name: &str) -> Result<(), EventBridgeError>;
}

/// The partner event source Genesys makes for `org_id` and `suffix`.
pub fn partner_source_name(org_id: &str, suffix: &str) -> String {
    format!("aws.partner/genesys.com/cloud/{org_id}/{suffix}")
}
