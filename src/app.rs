//! Builds the consumer's adapters from a `Config`: the one place the Lambda and `invoke` wire from.

use crate::config::Config;
use crate::dedup::{DedupStore, InMemoryDedupStore};
use crate::genesys::{GenesysApi, HttpGenesysClient};
use crate::pipeline::Consumer;
use std::sync::Arc;

/// A failure to build the adapters.
#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
}

/// The consumer for `config`: the HTTP Genesys client, and in-memory dedup.
pub async fn build_consumer(config: &Config) -> Result<Consumer, WiringError> {
    let genesys: Arc<dyn GenesysApi> = Arc::new(
        HttpGenesysClient::new(
            config.endpoints.clone(),
            config.credentials.clone(),
            config.http,
        )
        .map_err(WiringError::HttpClient)?,
    );
    let store: Arc<dyn DedupStore> = Arc::new(InMemoryDedupStore::default());
    Ok(Consumer::new(store, genesys, config.pipeline.clone()))
}
