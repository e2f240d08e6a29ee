//! The Integrations port over HTTP: the JSON shapes of Genesys' integrations, configurations, topics and organization.

use super::answers::{api_failure, read_json, refusal};
use super::{Body, HttpGenesysClient};
use crate::integrations::{
    AvailableTopic, ConfigWrite, Integration, IntegrationConfig, IntegrationsApi, IntendedState,
};
use crate::{GenesysError, Operation};
use async_trait::async_trait;
use gev_core::deadline::Deadline;
use gev_core::domain::IntegrationId;
use gev_core::domain::integration::INTEGRATION_TYPE;
use reqwest::{Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

/// `Integration`; only what configure reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IntegrationBody {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    intended_state: String,
    #[serde(default)]
    reported_state: Option<ReportedState>,
}

#[derive(Debug, Deserialize)]
struct ReportedState {
    #[serde(default)]
    code: String,
}

/// A page of a listing (`entities`).
#[derive(Debug, Deserialize)]
struct Listing<T> {
    #[serde(default = "Vec::new")]
    entities: Vec<T>,
}

#[derive(Debug, Deserialize)]
struct OrganizationBody {
    id: String,
}

/// An integration id Genesys sent that cannot be used in a path.
#[derive(Debug, thiserror::Error)]
#[error("the integration id {id:?} {problem}")]
struct UnusableId {
    id: String,
    problem: gev_core::domain::IdError,
}

impl IntegrationBody {
    /// The integration; the problem when Genesys sent an id that cannot be used in a path.
    fn into_integration(self) -> Result<Integration, UnusableId> {
        let id = IntegrationId::parse(&self.id).map_err(|problem| UnusableId {
            id: self.id.clone(),
            problem,
        })?;
        Ok(Integration {
            id,
            name: self.name,
            intended_state: self.intended_state,
            reported_state: self
                .reported_state
                .map(|state| state.code)
                .unwrap_or_default(),
        })
    }
}

/// An answer whose integration id cannot be used.
fn unusable_id(operation: Operation, problem: UnusableId) -> GenesysError {
    GenesysError::Refused {
        operation,
        status: 200,
        hint: problem.to_string(),
        correlation_id: None,
    }
}

impl HttpGenesysClient {
    /// Sends `operation` with `body` as JSON and returns the answer, whatever its status.
    pub(super) async fn send_json(
        &self,
        operation: &Operation,
        body: &impl serde::Serialize,
        deadline: Deadline,
    ) -> Result<Response, GenesysError> {
        let mut url = self.api.url(&operation.path());
        url.set_query(operation.query());
        let body = Body::Json(serde_json::to_vec(body).expect("JSON values serialise"));
        self.send(operation, &url, &body, deadline, || {
            self.bearer_credential(deadline)
        })
        .await
    }

    /// The JSON body of a successful answer to `operation`; other answers become errors.
    pub(super) async fn json_answer<T: serde::de::DeserializeOwned>(
        &self,
        operation: Operation,
        response: Response,
    ) -> Result<T, GenesysError> {
        if response.status().is_success() {
            return read_json(&operation, response).await;
        }
        Err(api_failure(operation, response).await)
    }
}

#[async_trait]
impl IntegrationsApi for HttpGenesysClient {
    async fn list_integrations(
        &self,
        deadline: Deadline,
    ) -> Result<Vec<Integration>, GenesysError> {
        let operation = Operation::ListIntegrations;
        let listing: Listing<IntegrationBody> = self.get_json(operation.clone(), deadline).await?;
        listing
            .entities
            .into_iter()
            .map(IntegrationBody::into_integration)
            .collect::<Result<_, _>>()
            .map_err(|problem| unusable_id(operation, problem))
    }

    async fn integration(
        &self,
        id: &IntegrationId,
        deadline: Deadline,
    ) -> Result<Integration, GenesysError> {
        let operation = Operation::GetIntegration(id.clone());
        let body: IntegrationBody = self.get_json(operation.clone(), deadline).await?;
        body.into_integration()
            .map_err(|problem| unusable_id(operation, problem))
    }

    async fn create_integration(
        &self,
        name: &str,
        deadline: Deadline,
    ) -> Result<Integration, GenesysError> {
        let operation = Operation::CreateIntegration;
        let request = json!({"name": name, "integrationType": {"id": INTEGRATION_TYPE}});
        let response = self.send_json(&operation, &request, deadline).await?;
        let body: IntegrationBody = self.json_answer(operation.clone(), response).await?;
        body.into_integration()
            .map_err(|problem| unusable_id(operation, problem))
    }

    async fn config(
        &self,
        id: &IntegrationId,
        deadline: Deadline,
    ) -> Result<IntegrationConfig, GenesysError> {
        self.get_json(Operation::GetIntegrationConfig(id.clone()), deadline)
            .await
    }

    async fn put_config(
        &self,
        id: &IntegrationId,
        config: &IntegrationConfig,
        deadline: Deadline,
    ) -> Result<ConfigWrite, GenesysError> {
        let operation = Operation::PutIntegrationConfig(id.clone());
        let response = self.send_json(&operation, config, deadline).await?;
        match response.status() {
            StatusCode::CONFLICT => Ok(ConfigWrite::Conflict),
            StatusCode::BAD_REQUEST => {
                let refused = refusal(
                    operation,
                    StatusCode::BAD_REQUEST,
                    "Genesys Cloud refused the configuration",
                    None,
                    response,
                )
                .await;
                // Genesys also says a stale version with a 400.
                if refused
                    .to_string()
                    .contains("does not match the current version")
                {
                    Ok(ConfigWrite::Conflict)
                } else {
                    Err(refused)
                }
            }
            _ => Ok(ConfigWrite::Saved(
                self.json_answer(operation, response).await?,
            )),
        }
    }

    async fn set_intended_state(
        &self,
        id: &IntegrationId,
        state: IntendedState,
        deadline: Deadline,
    ) -> Result<Integration, GenesysError> {
        let operation = Operation::SetIntendedState(id.clone());
        let response = self
            .send_json(&operation, &json!({"intendedState": state}), deadline)
            .await?;
        let body: IntegrationBody = self.json_answer(operation.clone(), response).await?;
        body.into_integration()
            .map_err(|problem| unusable_id(operation, problem))
    }

    async fn available_topics(
        &self,
        deadline: Deadline,
    ) -> Result<Vec<AvailableTopic>, GenesysError> {
        let listing: Listing<AvailableTopic> =
            self.get_json(Operation::AvailableTopics, deadline).await?;
        Ok(listing.entities)
    }

    async fn properties_schema(
        &self,
        deadline: Deadline,
    ) -> Result<Option<serde_json::Value>, GenesysError> {
        match self.get_json(Operation::PropertiesSchema, deadline).await {
            Ok(schema) => Ok(Some(schema)),
            Err(GenesysError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn organization_id(&self, deadline: Deadline) -> Result<String, GenesysError> {
        let body: OrganizationBody = self.get_json(Operation::Organization, deadline).await?;
        Ok(body.id)
    }
}
