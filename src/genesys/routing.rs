//! The Routing port (bridge `--follow-queue all`): the organization's queues.

use super::GenesysError;
use crate::deadline::Deadline;
use async_trait::async_trait;

/// A queue; only what the bridge reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// The Routing API.
#[async_trait]
pub trait RoutingApi: Send + Sync {
    /// Every queue of the organization (all pages of `GET /api/v2/routing/queues`).
    async fn queues(&self, deadline: Deadline) -> Result<Vec<Queue>, GenesysError>;
}
