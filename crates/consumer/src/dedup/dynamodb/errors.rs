//! What a failed DynamoDB call means: a lost lease, a configuration to fix, or a store to retry.

use super::DynamoDbDedupStore;
use super::item::attr;
use crate::dedup::{ClaimRequest, DedupError};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

impl DynamoDbDedupStore {
    /// The error of a complete or release: a failed owner condition means the lease was lost.
    pub(super) fn fenced_write_error<E>(
        &self,
        request: &ClaimRequest,
        error: SdkError<E>,
    ) -> DedupError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let code = error.as_service_error().and_then(|e| e.code());
        if code == Some("ConditionalCheckFailedException") {
            return DedupError::LeaseLost {
                key: request.key.clone(),
                owner: request.owner.clone(),
            };
        }
        self.classify("UpdateItem", error)
    }

    /// Maps an SDK error to a dedup error that says whether a retry can help.
    pub(super) fn classify<E>(&self, operation: &'static str, error: SdkError<E>) -> DedupError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let code = match &error {
            SdkError::ServiceError(service) => service.err().code().map(str::to_owned),
            _ => None,
        };
        let table = &self.table;
        let misconfigured = |message: String| DedupError::Misconfigured {
            message,
            source: Some(Box::new(DisplayError(format!(
                "{}",
                aws_sdk_dynamodb::error::DisplayErrorContext(&error)
            )))),
        };
        match (&error, code.as_deref()) {
            (_, Some("ResourceNotFoundException")) => misconfigured(format!(
                "table {table:?} does not exist in this account and region: check DEDUP_TABLE_NAME \
                 and AWS_REGION ({operation})"
            )),
            (
                _,
                Some(
                    "AccessDeniedException"
                    | "UnrecognizedClientException"
                    | "InvalidSignatureException"
                    | "MissingAuthenticationTokenException",
                ),
            ) => misconfigured(format!(
                "access to table {table:?} was denied: the function's role needs \
                 dynamodb:UpdateItem and dynamodb:GetItem on it ({operation})"
            )),
            (_, Some("ValidationException")) => misconfigured(format!(
                "table {table:?} rejected the request: its partition key must be a string \
                 attribute named {:?} ({operation})",
                attr::KEY
            )),
            (SdkError::ConstructionFailure(_), _) => misconfigured(format!(
                "cannot build the {operation} request: check the AWS region and endpoint settings"
            )),
            _ => DedupError::Unavailable {
                message: format!("{operation} on table {table:?} failed"),
                source: Some(Box::new(error)),
            },
        }
    }
}

/// Keeps an SDK error's full text as a source without borrowing it.
#[derive(Debug)]
pub(super) struct DisplayError(String);

impl std::fmt::Display for DisplayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DisplayError {}
