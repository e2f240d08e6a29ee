//! Credentials from Secrets Manager (moto on loopback): read at start, read again after a refused token.

use crate::fixtures::GenesysMock;
use crate::helpers::*;
use gev_genesys::credentials::CredentialsError;
use gev_genesys::{CredentialsSource, GenesysApi, SecretsManagerCredentials};
use serde_json::json;
use std::sync::Arc;

/// `new-client:new-secret`, base64.
const NEW_BASIC: &str = "Basic bmV3LWNsaWVudDpuZXctc2VjcmV0";

async fn create_secret(client: &aws_sdk_secretsmanager::Client, value: &str) -> String {
    client
        .create_secret()
        .name(format!("genesys-{:016x}", fastrand::u64(..)))
        .secret_string(value)
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_is_read_again_after_the_token_service_refuses_the_old_one() {
    let Some(secrets) = secrets_manager().await else {
        return;
    };
    let arn = create_secret(
        &secrets,
        r#"{"clientId": "old-client", "clientSecret": "old-secret"}"#,
    )
    .await;
    let source = Arc::new(SecretsManagerCredentials::new(secrets.clone(), &arn));
    assert_eq!(
        source
            .credentials(gev_genesys::Freshness::Cached)
            .await
            .unwrap()
            .client_id,
        "old-client"
    );
    secrets
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(r#"{"clientId": "new-client", "clientSecret": "new-secret"}"#)
        .send()
        .await
        .unwrap();
    let genesys = GenesysMock::builder()
        .token_for(NEW_BASIC, 1)
        .token_answer(401, 1)
        .interaction(json!({}), 1)
        .await;
    let client = genesys.client_from(source);

    let fetched = client
        .fetch_interaction(&interaction_id(), deadline())
        .await;

    assert!(fetched.is_ok(), "{fetched:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_is_a_configuration_error_naming_it() {
    let Some(secrets) = secrets_manager().await else {
        return;
    };
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:does-not-exist-AbCdEf";
    let source = SecretsManagerCredentials::new(secrets, arn);

    let error = source
        .credentials(gev_genesys::Freshness::Cached)
        .await
        .unwrap_err();

    assert!(
        matches!(error, CredentialsError::Unusable { .. }),
        "{error:?}"
    );
    assert!(!error.is_transient());
    assert!(error.to_string().contains(arn), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_without_a_client_secret_is_refused_naming_the_field() {
    let Some(secrets) = secrets_manager().await else {
        return;
    };
    let arn = create_secret(&secrets, r#"{"clientId": "only-an-id"}"#).await;
    let source = SecretsManagerCredentials::new(secrets, &arn);

    let error = source
        .credentials(gev_genesys::Freshness::Cached)
        .await
        .unwrap_err();

    assert!(
        error.to_string().ends_with("its JSON has no clientSecret"),
        "{error}"
    );
}
