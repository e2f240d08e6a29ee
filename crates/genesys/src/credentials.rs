//! Where the OAuth client's id and secret come from: the environment, or Secrets Manager (re-read after a 401).

use async_trait::async_trait;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use gev_core::secret::Secret;
use serde::Deserialize;
use std::fmt;
use tokio::sync::Mutex;

/// An OAuth client with the Client Credentials grant.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    /// The OAuth client's id.
    pub client_id: String,
    /// Its secret (never printed).
    pub client_secret: Secret,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .finish()
    }
}

/// Credentials that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// Secrets Manager throttled or was unreachable; a retry can help.
    #[error("cannot read the Genesys credentials secret {arn}: {message}")]
    Unavailable {
        /// The secret's ARN.
        arn: String,
        /// What failed.
        message: String,
        #[source]
        /// The SDK's error, when there is one.
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The secret is missing, not readable by the function, or malformed: a fix of the secret
    /// or the function's role heals it (the event is delivered again meanwhile).
    #[error("the Genesys credentials secret {arn} cannot be used: {problem}")]
    Unusable {
        /// The secret's ARN.
        arn: String,
        /// What is wrong, and what to fix.
        problem: SecretProblem,
    },
}

/// What is wrong with a credentials secret, and what to fix; never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretProblem {
    /// No such secret.
    #[error(
        "it does not exist in this account and region; check GENESYS_CLOUD_CREDENTIALS_SECRET_ARN"
    )]
    NotFound,
    /// The role may not read or decrypt it.
    #[error(
        "access was denied: the function's role needs secretsmanager:GetSecretValue on it (and kms:Decrypt on its key)"
    )]
    AccessDenied,
    /// A binary secret.
    #[error("it has no SecretString")]
    NoSecretString,
    /// A value that is not JSON.
    #[error("its value must be JSON: {{\"clientId\": \"...\", \"clientSecret\": \"...\"}}")]
    NotJson,
    /// No `clientId`.
    #[error("its JSON has no clientId")]
    NoClientId,
    /// No `clientSecret`.
    #[error("its JSON has no clientSecret")]
    NoClientSecret,
}

impl CredentialsError {
    /// True when the next read may succeed without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        matches!(self, CredentialsError::Unavailable { .. })
    }
}

/// Where credentials are read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// The cached credentials, if any.
    Cached,
    /// Read again (after the token service refused the cached ones, e.g. a rotated secret).
    Fresh,
}

/// A source of client credentials.
#[async_trait]
pub trait CredentialsSource: Send + Sync + fmt::Debug {
    /// The credentials, from the cache or read again as `freshness` says.
    async fn credentials(
        &self,
        freshness: Freshness,
    ) -> Result<ClientCredentials, CredentialsError>;

    /// True when a refresh can give different credentials.
    fn refreshable(&self) -> bool;
}

/// Credentials fixed at start-up (`GENESYS_CLOUD_CLIENT_ID` / `GENESYS_CLOUD_CLIENT_SECRET`).
#[derive(Debug, Clone)]
pub struct StaticCredentials(pub ClientCredentials);

#[async_trait]
impl CredentialsSource for StaticCredentials {
    async fn credentials(&self, _: Freshness) -> Result<ClientCredentials, CredentialsError> {
        Ok(self.0.clone())
    }

    fn refreshable(&self) -> bool {
        false
    }
}

/// The secret's JSON: `{"clientId": "...", "clientSecret": "..."}`.
#[derive(Deserialize)]
struct SecretDocument {
    #[serde(alias = "client_id", alias = "GENESYS_CLOUD_CLIENT_ID")]
    #[serde(rename = "clientId")]
    client_id: Option<String>,
    #[serde(alias = "client_secret", alias = "GENESYS_CLOUD_CLIENT_SECRET")]
    #[serde(rename = "clientSecret")]
    client_secret: Option<String>,
}

/// Parses a secret string into credentials; the error names the missing field.
pub(crate) fn parse_secret(text: &str) -> Result<ClientCredentials, SecretProblem> {
    let document: SecretDocument =
        serde_json::from_str(text).map_err(|_| SecretProblem::NotJson)?;
    let client_id = document
        .client_id
        .filter(|id| !id.trim().is_empty())
        .ok_or(SecretProblem::NoClientId)?;
    let client_secret = document
        .client_secret
        .filter(|secret| !secret.is_empty())
        .ok_or(SecretProblem::NoClientSecret)?;
    Ok(ClientCredentials {
        client_id,
        client_secret: Secret::new(client_secret),
    })
}

/// Credentials in an AWS Secrets Manager secret, read once and again on refresh.
#[derive(Debug)]
pub struct SecretsManagerCredentials {
    client: aws_sdk_secretsmanager::Client,
    arn: String,
    cached: Mutex<Option<ClientCredentials>>,
}

impl SecretsManagerCredentials {
    /// Credentials in the secret `arn`, read with `client`.
    pub fn new(client: aws_sdk_secretsmanager::Client, arn: impl Into<String>) -> Self {
        SecretsManagerCredentials {
            client,
            arn: arn.into(),
            cached: Mutex::new(None),
        }
    }

    async fn read(&self) -> Result<ClientCredentials, CredentialsError> {
        let arn = &self.arn;
        let output = self
            .client
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .map_err(|error| {
                let code = match &error {
                    SdkError::ServiceError(service) => service.err().code().map(str::to_owned),
                    _ => None,
                };
                match code.as_deref() {
                    Some("ResourceNotFoundException") => CredentialsError::Unusable {
                        arn: arn.clone(),
                        problem: SecretProblem::NotFound,
                    },
                    Some("AccessDeniedException" | "DecryptionFailure") => {
                        CredentialsError::Unusable {
                            arn: arn.clone(),
                            problem: SecretProblem::AccessDenied,
                        }
                    }
                    _ => CredentialsError::Unavailable {
                        arn: arn.clone(),
                        message: "GetSecretValue failed".into(),
                        source: Some(Box::new(error)),
                    },
                }
            })?;
        let text = output
            .secret_string()
            .ok_or_else(|| CredentialsError::Unusable {
                arn: arn.clone(),
                problem: SecretProblem::NoSecretString,
            })?;
        parse_secret(text).map_err(|problem| CredentialsError::Unusable {
            arn: arn.clone(),
            problem,
        })
    }
}

#[async_trait]
impl CredentialsSource for SecretsManagerCredentials {
    async fn credentials(
        &self,
        freshness: Freshness,
    ) -> Result<ClientCredentials, CredentialsError> {
        let mut cached = self.cached.lock().await;
        if let Some(credentials) = cached.as_ref().filter(|_| freshness == Freshness::Cached) {
            return Ok(credentials.clone());
        }
        let fresh = self.read().await?;
        *cached = Some(fresh.clone());
        Ok(fresh)
    }

    fn refreshable(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_with_both_fields_gives_credentials() {
        let credentials =
            parse_secret(r#"{"clientId": "id-1", "clientSecret": "s3cret"}"#).unwrap();
        assert_eq!(credentials.client_id, "id-1");
        assert_eq!(credentials.client_secret.expose(), "s3cret");
    }

    #[test]
    fn snake_case_field_names_are_accepted() {
        assert!(parse_secret(r#"{"client_id": "a", "client_secret": "b"}"#).is_ok());
    }

    #[test]
    fn a_missing_field_is_named() {
        assert_eq!(
            parse_secret(r#"{"clientId": "a"}"#)
                .unwrap_err()
                .to_string(),
            "its JSON has no clientSecret"
        );
    }

    #[test]
    fn a_plain_text_secret_is_refused_without_echoing_it() {
        let problem = parse_secret("hunter2").unwrap_err().to_string();
        assert!(!problem.contains("hunter2"));
    }

    #[test]
    fn an_unreachable_secret_is_printed_with_its_cause_once() {
        let error = crate::GenesysError::Credentials {
            source: CredentialsError::Unavailable {
                arn: "arn:aws:secretsmanager:eu-west-1:1:secret:x".into(),
                message: "GetSecretValue failed".into(),
                source: Some(Box::new(std::io::Error::other("dns error"))),
            },
        };

        assert_eq!(
            gev_core::error_chain(&error),
            "cannot read the Genesys credentials secret arn:aws:secretsmanager:eu-west-1:1:secret:x: \
             GetSecretValue failed: dns error"
        );
    }

    #[test]
    fn credentials_debug_output_hides_the_secret() {
        let credentials = ClientCredentials {
            client_id: "id".into(),
            client_secret: Secret::new("s3cret"),
        };
        assert!(!format!("{credentials:?}").contains("s3cret"));
    }
}
