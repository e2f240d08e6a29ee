//! The Routing port over HTTP: `QueueEntityListing`, `Queue` with its `acwSettings`, and `WrapupCodeEntityListing`, every page.

use super::answers::{api_failure, read_json};
use super::{Body, HttpGenesysClient};
use crate::routing::{Queue, QueueFacts, RoutingApi, WrapupCodeInfo, WrapupPrompt};
use crate::{GenesysError, Operation};
use async_trait::async_trait;
use gev_core::deadline::Deadline;
use gev_core::domain::{DivisionId, QueueId};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// One page of a Genesys entity listing (`QueueEntityListing`, `WrapupCodeEntityListing`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Listing<T> {
    #[serde(default = "Vec::new")]
    entities: Vec<T>,
    #[serde(default)]
    page_count: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct NamedEntity {
    id: String,
    #[serde(default)]
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueueBody {
    id: String,
    #[serde(default)]
    name: String,
    division: Option<DivisionRef>,
    acw_settings: Option<AcwSettingsBody>,
}

#[derive(Debug, Deserialize)]
struct DivisionRef {
    id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AcwSettingsBody {
    wrapup_prompt: Option<String>,
}

/// The most pages read (100 entities each): 10,000 queues or codes.
const MAX_PAGES: u32 = 100;

impl HttpGenesysClient {
    /// Every page of a listing, 100 entities a page.
    async fn all_pages<T: DeserializeOwned>(
        &self,
        operation: Operation,
        deadline: Deadline,
    ) -> Result<Vec<T>, GenesysError> {
        let mut all = Vec::new();
        for page in 1..=MAX_PAGES {
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
            let listing: Listing<T> = read_json(&operation, response).await?;
            let last =
                listing.entities.is_empty() || listing.page_count.is_none_or(|count| page >= count);
            all.extend(listing.entities);
            if last {
                break;
            }
        }
        Ok(all)
    }
}

#[async_trait]
impl RoutingApi for HttpGenesysClient {
    async fn queues(&self, deadline: Deadline) -> Result<Vec<Queue>, GenesysError> {
        let queues: Vec<NamedEntity> = self.all_pages(Operation::ListQueues, deadline).await?;
        Ok(queues
            .into_iter()
            .map(|q| Queue {
                id: q.id,
                name: q.name,
            })
            .collect())
    }

    async fn queue_facts(
        &self,
        id: &QueueId,
        deadline: Deadline,
    ) -> Result<QueueFacts, GenesysError> {
        let queue: QueueBody = self
            .get_json(Operation::GetQueue(id.clone()), deadline)
            .await?;
        let codes: Vec<NamedEntity> = self
            .all_pages(Operation::ListQueueWrapupCodes(id.clone()), deadline)
            .await?;
        Ok(QueueFacts {
            id: QueueId::parse(&queue.id).unwrap_or_else(|_| id.clone()),
            name: queue.name,
            division_id: queue
                .division
                .and_then(|d| d.id)
                .and_then(|d| DivisionId::parse(&d).ok()),
            wrapup_prompt: queue
                .acw_settings
                .and_then(|acw| acw.wrapup_prompt)
                .map(|prompt| WrapupPrompt::parse(&prompt)),
            codes: codes.into_iter().map(|code| code.id).collect(),
        })
    }

    async fn wrapup_codes(&self, deadline: Deadline) -> Result<Vec<WrapupCodeInfo>, GenesysError> {
        let codes: Vec<NamedEntity> = self.all_pages(Operation::ListWrapupCodes, deadline).await?;
        Ok(codes
            .into_iter()
            .map(|code| WrapupCodeInfo {
                id: code.id,
                name: code.name,
            })
            .collect())
    }
}
