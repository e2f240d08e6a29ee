//! The Routing port over HTTP: `QueueEntityListing`, every page.

use super::answers::{api_failure, read_json};
use super::{Body, HttpGenesysClient};
use crate::deadline::Deadline;
use crate::genesys::routing::{Queue, RoutingApi};
use crate::genesys::{GenesysError, Operation};
use async_trait::async_trait;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueueListing {
    #[serde(default)]
    entities: Vec<QueueBody>,
    #[serde(default)]
    page_count: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct QueueBody {
    id: String,
    #[serde(default)]
    name: String,
}

/// The most pages read (100 queues each): 10,000 queues.
const MAX_PAGES: u32 = 100;

#[async_trait]
impl RoutingApi for HttpGenesysClient {
    async fn queues(&self, deadline: Deadline) -> Result<Vec<Queue>, GenesysError> {
        let mut queues = Vec::new();
        for page in 1..=MAX_PAGES {
            let operation = Operation::ListQueues;
            let mut url = self.api.url(&operation.path());
            url.set_query(Some(&format!("pageSize=100&pageNumber={page}")));
            let response = self
                .send(&operation, &url, &Body::Empty, deadline, || {
                    self.bearer_credential(deadline)
                })
                .await?;
            if !response.status().is_success() {
                return Err(api_failure(operation, response).await);
            }
            let listing: QueueListing = read_json(&operation, response).await?;
            let last =
                listing.entities.is_empty() || listing.page_count.is_none_or(|count| page >= count);
            queues.extend(listing.entities.into_iter().map(|q| Queue {
                id: q.id,
                name: q.name,
            }));
            if last {
                break;
            }
        }
        Ok(queues)
    }
}
