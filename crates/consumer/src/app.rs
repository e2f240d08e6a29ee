//! Builds the consumer's adapters from a `Config`: the one place the Lambda and `invoke` wire from.

use crate::config::{Config, CredentialsConfig, GenesysAccess};
use crate::consumer::Consumer;
use crate::dedup::{DedupStore, DynamoDbDedupStore, InMemoryDedupStore};
use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use gev_genesys::credentials::CredentialsError;
use gev_genesys::{CredentialsSource, SecretsManagerCredentials, StaticCredentials};
use gev_genesys::{GenesysApi, HttpGenesysClient};
use std::sync::Arc;
use std::time::Duration;

/// A failure to build the adapters.
#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    #[error(transparent)]
    /// The HTTP client could not be built.
    HttpClient(gev_genesys::http::ClientError),
    #[error(transparent)]
    /// The credentials could not be read at start-up.
    Credentials(CredentialsError),
}

/// The credentials source `config` asks for; a secret is read once here, so a wrong ARN or a
/// missing permission stops the function at start-up.
pub(crate) async fn credentials_source(
    credentials: &CredentialsConfig,
) -> Result<Arc<dyn CredentialsSource>, WiringError> {
    match credentials {
        CredentialsConfig::Inline(credentials) => {
            Ok(Arc::new(StaticCredentials(credentials.clone())))
        }
        CredentialsConfig::SecretArn(arn) => {
            let shared = aws_config::defaults(BehaviorVersion::latest()).load().await;
            let source =
                SecretsManagerCredentials::new(aws_sdk_secretsmanager::Client::new(&shared), arn);
            source
                .credentials(gev_genesys::Freshness::Cached)
                .await
                .map_err(WiringError::Credentials)?;
            Ok(Arc::new(source))
        }
    }
}

/// A Genesys client for `access` (the tools other than the consumer), with default timeouts.
pub async fn genesys_client(access: &GenesysAccess) -> Result<HttpGenesysClient, WiringError> {
    HttpGenesysClient::new(
        access.endpoints.clone(),
        credentials_source(&access.credentials).await?,
        gev_genesys::HttpSettings::default(),
    )
    .map_err(WiringError::HttpClient)
}

/// A DynamoDB client configured only through the standard AWS SDK chain (region, credentials,
/// `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL` for a local server), with timeouts well
/// inside a Lambda invocation.
pub async fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(2))
        .operation_timeout(Duration::from_secs(6))
        .build();
    let shared = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&shared)
}

/// The dedup store `config` asks for: DynamoDB when `DEDUP_TABLE_NAME` is set, else in memory.
pub(crate) async fn dedup_store(config: &Config) -> Arc<dyn DedupStore> {
    match &config.dedup_table {
        Some(table) => Arc::new(DynamoDbDedupStore::new(dynamodb_client().await, table)),
        None => Arc::new(InMemoryDedupStore::default()),
    }
}

/// The consumer for `config`: the HTTP Genesys client and the configured dedup store.
pub async fn build_consumer(config: &Config) -> Result<Consumer, WiringError> {
    let genesys: Arc<dyn GenesysApi> = Arc::new(
        HttpGenesysClient::new(
            config.endpoints.clone(),
            credentials_source(&config.credentials).await?,
            config.http,
        )
        .map_err(WiringError::HttpClient)?,
    );
    let store = dedup_store(config).await;
    Ok(Consumer::new(store, genesys, config.pipeline.clone()))
}
