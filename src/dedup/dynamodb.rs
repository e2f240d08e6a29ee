//! The DynamoDB dedup adapter: one conditional write per claim, owner-fenced complete and release.
//!
//! Item layout (partition key `pk`, string):
//!
//! | attribute | type | meaning |
//! |---|---|---|
//! | `pk` | S | the dedup key |
//! | `status` | S | `IN_PROGRESS` or `COMPLETED` |
//! | `owner` | S | request id of the invocation holding the claim |
//! | `lease_until` | N | epoch ms; after it another delivery may take over an `IN_PROGRESS` claim |
//! | `expiry` | N | epoch s; the table's TTL attribute |
//! | `payload_hash` | S | fingerprint of the event payload |
//! | `outcome` | S | the final outcome, once `COMPLETED` |
//! | `updated_at` | N | epoch ms of the last write |

use super::cache::CompletedCache;
use super::{ClaimOutcome, ClaimRequest, DedupError, DedupStore, OwnerToken};
use crate::deadline::now_epoch_ms;
use crate::domain::DedupKey;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use std::collections::HashMap;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The attribute names of a dedup item.
pub mod attr {
    pub const KEY: &str = "pk";
    pub const STATUS: &str = "status";
    pub const OWNER: &str = "owner";
    pub const LEASE_UNTIL: &str = "lease_until";
    pub const EXPIRY: &str = "expiry";
    pub const PAYLOAD_HASH: &str = "payload_hash";
    pub const OUTCOME: &str = "outcome";
    pub const UPDATED_AT: &str = "updated_at";
}

const IN_PROGRESS: &str = "IN_PROGRESS";
const COMPLETED: &str = "COMPLETED";

/// A claim succeeds when no live record exists: none at all, an expired one (TTL deletion lags by
/// up to two days), or an in-progress one whose lease ran out.
const CLAIM_CONDITION: &str = "attribute_not_exists(#pk) OR #expiry < :now_s \
     OR (#status = :in_progress AND #lease_until < :now_ms)";
/// Complete and release touch only the record this owner still holds in progress.
const OWNER_CONDITION: &str = "#owner = :owner AND #status = :in_progress";

/// How many completed keys the local cache keeps by default.
pub const DEFAULT_CACHE_CAPACITY: usize = 10_000;

/// Dedup records in a DynamoDB table, shared by every Lambda instance.
#[derive(Debug)]
pub struct DynamoDbDedupStore {
    client: Client,
    table: String,
    completed: CompletedCache,
}

impl DynamoDbDedupStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self::with_cache_capacity(client, table, DEFAULT_CACHE_CAPACITY)
    }

    /// A store whose local cache of completed keys holds at most `cache_capacity` entries
    /// (0 disables it).
    pub fn with_cache_capacity(
        client: Client,
        table: impl Into<String>,
        cache_capacity: usize,
    ) -> Self {
        DynamoDbDedupStore {
            client,
            table: table.into(),
            completed: CompletedCache::with_capacity(cache_capacity),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// What the live record returned with a failed claim (ALL_OLD) means; completed ones are cached.
    fn existing(
        &self,
        item: Option<&HashMap<String, AttributeValue>>,
        request: &ClaimRequest,
    ) -> ClaimOutcome {
        let Some(item) = item else {
            // Without ALL_OLD we only know that a live record exists.
            return ClaimOutcome::InProgress {
                lease_until_ms: request.lease_until_ms,
            };
        };
        let outcome = existing_claim(item, &request.payload_hash);
        if let ClaimOutcome::Completed { outcome, .. } = &outcome {
            self.completed.insert(
                &request.key,
                outcome,
                text(item, attr::PAYLOAD_HASH).unwrap_or_default(),
                number(item, attr::EXPIRY).unwrap_or(0),
            );
        }
        outcome
    }

    /// A DynamoDB client span, after the OpenTelemetry AWS SDK and database conventions.
    fn client_span(&self, operation: &'static str) -> tracing::Span {
        let span = tracing::info_span!(
            "dynamodb",
            otel.name = %format_args!("DynamoDB.{operation}"),
            otel.kind = "client",
            db.system.name = "aws.dynamodb",
            db.operation.name = operation,
            rpc.system = "aws-api",
            rpc.service = "DynamoDB",
            rpc.method = operation,
            error.type = tracing::field::Empty,
        );
        span.set_attribute(
            "aws.dynamodb.table_names",
            opentelemetry::Value::Array(
                vec![opentelemetry::StringValue::from(self.table.clone())].into(),
            ),
        );
        span
    }

    /// Marks the client span of a failed request. A failed condition is an answer (a duplicate,
    /// a lost lease), not an error: it gets `error.type` but keeps an unset status.
    fn record_result<T, E>(&self, span: &tracing::Span, result: &Result<T, SdkError<E>>)
    where
        E: ProvideErrorMetadata,
    {
        let Err(error) = result else { return };
        let code = error
            .as_service_error()
            .and_then(|e| e.code())
            .unwrap_or(match error {
                SdkError::TimeoutError(_) => "timeout",
                SdkError::DispatchFailure(_) => "dispatch_failure",
                _ => "sdk_error",
            });
        span.record("error.type", code);
        if code != "ConditionalCheckFailedException" {
            crate::telemetry::mark_error(span, code.to_owned());
        }
    }

    /// The error of a complete or release: a failed owner condition means the lease was lost.
    fn fenced_write_error<E>(
        &self,
        operation: &'static str,
        key: &DedupKey,
        owner: &OwnerToken,
        error: SdkError<E>,
    ) -> DedupError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let code = error.as_service_error().and_then(|e| e.code());
        if code == Some("ConditionalCheckFailedException") {
            return DedupError::LeaseLost {
                key: key.clone(),
                owner: owner.clone(),
            };
        }
        self.classify(operation, error)
    }

    /// Maps an SDK error to a dedup error that says whether a retry can help.
    fn classify<E>(&self, operation: &'static str, error: SdkError<E>) -> DedupError
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
                 dynamodb:PutItem, dynamodb:UpdateItem and dynamodb:DeleteItem on it ({operation})"
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
                message: format!(
                    "{operation} on table {table:?} failed: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(&error)
                ),
                source: Some(Box::new(error)),
            },
        }
    }
}

/// Keeps an SDK error's full text as a source without borrowing it.
#[derive(Debug)]
struct DisplayError(String);

impl std::fmt::Display for DisplayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DisplayError {}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn text<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|value| value.as_s().ok())
        .map(String::as_str)
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|value| value.as_n().ok())
        .and_then(|value| value.parse().ok())
}

/// What an existing record (returned as ALL_OLD) means for a claim that did not succeed.
fn existing_claim(item: &HashMap<String, AttributeValue>, payload_hash: &str) -> ClaimOutcome {
    match text(item, attr::STATUS) {
        Some(COMPLETED) => ClaimOutcome::Completed {
            outcome: text(item, attr::OUTCOME).unwrap_or("unknown").to_owned(),
            same_payload: text(item, attr::PAYLOAD_HASH) == Some(payload_hash),
        },
        _ => ClaimOutcome::InProgress {
            lease_until_ms: number(item, attr::LEASE_UNTIL).unwrap_or(0),
        },
    }
}

#[async_trait]
impl DedupStore for DynamoDbDedupStore {
    async fn claim(&self, request: &ClaimRequest) -> Result<ClaimOutcome, DedupError> {
        if let Some(hit) = self.completed.get(&request.key, &request.payload_hash) {
            return Ok(hit);
        }
        let now_ms = now_epoch_ms();
        let span = self.client_span("PutItem");
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(attr::KEY, s(request.key.as_str()))
            .item(attr::STATUS, s(IN_PROGRESS))
            .item(attr::OWNER, s(request.owner.as_str()))
            .item(attr::LEASE_UNTIL, n(request.lease_until_ms))
            .item(attr::EXPIRY, n(request.expires_at_s))
            .item(attr::PAYLOAD_HASH, s(&request.payload_hash))
            .item(attr::UPDATED_AT, n(now_ms))
            .condition_expression(CLAIM_CONDITION)
            .expression_attribute_names("#pk", attr::KEY)
            .expression_attribute_names("#expiry", attr::EXPIRY)
            .expression_attribute_names("#status", attr::STATUS)
            .expression_attribute_names("#lease_until", attr::LEASE_UNTIL)
            .expression_attribute_values(":now_s", n(now_ms / 1_000))
            .expression_attribute_values(":now_ms", n(now_ms))
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .instrument(span.clone())
            .await;
        self.record_result(&span, &result);
        match result {
            Ok(output) => {
                // A replaced record that was still in progress (not merely expired) was taken over.
                let took_over = output.attributes().is_some_and(|old| {
                    text(old, attr::STATUS) == Some(IN_PROGRESS)
                        && number(old, attr::EXPIRY).is_some_and(|expiry| expiry >= now_ms / 1_000)
                });
                Ok(ClaimOutcome::Claimed { took_over })
            }
            Err(error) => match error.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                    Ok(self.existing(failed.item(), request))
                }
                _ => Err(self.classify("PutItem", error)),
            },
        }
    }

    async fn complete(
        &self,
        key: &DedupKey,
        owner: &OwnerToken,
        outcome: &str,
    ) -> Result<(), DedupError> {
        let span = self.client_span("UpdateItem");
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::KEY, s(key.as_str()))
            .update_expression(
                "SET #status = :completed, #outcome = :outcome, #updated_at = :now_ms",
            )
            .condition_expression(OWNER_CONDITION)
            .expression_attribute_names("#status", attr::STATUS)
            .expression_attribute_names("#outcome", attr::OUTCOME)
            .expression_attribute_names("#updated_at", attr::UPDATED_AT)
            .expression_attribute_names("#owner", attr::OWNER)
            .expression_attribute_values(":completed", s(COMPLETED))
            .expression_attribute_values(":outcome", s(outcome))
            .expression_attribute_values(":now_ms", n(now_epoch_ms()))
            .expression_attribute_values(":owner", s(owner.as_str()))
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .return_values(ReturnValue::AllNew)
            .send()
            .instrument(span.clone())
            .await;
        self.record_result(&span, &result);
        match result {
            Ok(output) => {
                if let Some(item) = output.attributes() {
                    self.completed.insert(
                        key,
                        outcome,
                        text(item, attr::PAYLOAD_HASH).unwrap_or_default(),
                        number(item, attr::EXPIRY).unwrap_or(0),
                    );
                }
                Ok(())
            }
            Err(error) => Err(self.fenced_write_error("UpdateItem", key, owner, error)),
        }
    }

    async fn release(&self, key: &DedupKey, owner: &OwnerToken) -> Result<(), DedupError> {
        let span = self.client_span("DeleteItem");
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(attr::KEY, s(key.as_str()))
            .condition_expression(OWNER_CONDITION)
            .expression_attribute_names("#owner", attr::OWNER)
            .expression_attribute_names("#status", attr::STATUS)
            .expression_attribute_values(":owner", s(owner.as_str()))
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .send()
            .instrument(span.clone())
            .await;
        self.record_result(&span, &result);
        match result {
            Ok(_) => Ok(()),
            Err(error) => Err(self.fenced_write_error("DeleteItem", key, owner, error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pairs: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn a_completed_record_is_a_duplicate_with_its_outcome() {
        let old = item(&[
            (attr::STATUS, s(COMPLETED)),
            (attr::OUTCOME, s("patched")),
            (attr::PAYLOAD_HASH, s("h1")),
        ]);
        assert_eq!(
            existing_claim(&old, "h1"),
            ClaimOutcome::Completed {
                outcome: "patched".into(),
                same_payload: true
            }
        );
        assert_eq!(
            existing_claim(&old, "h2"),
            ClaimOutcome::Completed {
                outcome: "patched".into(),
                same_payload: false
            }
        );
    }

    #[test]
    fn an_in_progress_record_reports_its_lease() {
        let old = item(&[(attr::STATUS, s(IN_PROGRESS)), (attr::LEASE_UNTIL, n(1234))]);
        assert_eq!(
            existing_claim(&old, "h"),
            ClaimOutcome::InProgress {
                lease_until_ms: 1234
            }
        );
    }
}
