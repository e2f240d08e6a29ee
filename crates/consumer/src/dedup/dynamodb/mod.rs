//! The DynamoDB dedup adapter: one item per target holding its lease and its completed events;
//! one conditional write to claim, one to complete or release.
//!
//! Item layout (partition key `pk`, string):
//!
//! | attribute | type | meaning |
//! |---|---|---|
//! | `pk` | S | the target: `target#seed#{interactionId}` or `target#native#{conversationId}` |
//! | `lease_owner` | S | request id of the invocation holding the lease; absent when free |
//! | `lease_until` | N | epoch ms; after it another event may take the lease over; absent when free |
//! | `done` | M | completed events: event key → `{o: outcome, h: payload fingerprint, x: expiry epoch s}` |
//! | `applied` | M | writes made to the target: `interaction` or `participant#{id}` → expiry epoch s |
//! | `fact#{participantId}` | M | what an agent's `user.end` noted: `{d: interacting ms, x: expiry epoch s}` |
//! | `expiry` | N | epoch s; the table's TTL attribute (the latest expiry of anything in the item) |
mod errors;
mod item;

use item::attr;

use crate::dedup::cache::CompletedCache;
use crate::dedup::{
    AgentFacts, ClaimOutcome, ClaimRequest, DedupError, DedupStore, Lease, TargetSummary,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use gev_core::deadline::now_epoch_ms;
use gev_core::domain::{EffectKey, EpochMillis, ParticipantId, TargetKey};
use item::{granted_lease, n, number, refused_claim, s};
use std::collections::HashMap;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// A claim succeeds when the event is not among the target's unexpired completed events and
/// the target's lease is free, ran out, or is already this owner's (the SDK retried a claim
/// whose answer was lost).
const CLAIM_CONDITION: &str = "(attribute_not_exists(#done.#event) OR #done.#event.#x < :now_s) \
     AND (attribute_not_exists(#lease_until) OR #lease_until < :now_ms OR #lease_owner = :owner)";
const CLAIM_UPDATE: &str = "SET #lease_owner = :owner, #lease_until = :lease_until, \
     #done = if_not_exists(#done, :empty), #applied = if_not_exists(#applied, :empty), \
     #expiry = :expiry";
/// Complete and release touch only a lease this owner still holds.
const OWNER_CONDITION: &str = "#lease_owner = :owner";

/// How many completed keys the local cache keeps by default.
pub(crate) const DEFAULT_CACHE_CAPACITY: usize = 10_000;

/// Dedup records in a DynamoDB table, shared by every Lambda instance.
#[derive(Debug)]
pub struct DynamoDbDedupStore {
    client: Client,
    table: String,
    completed: CompletedCache,
}

impl DynamoDbDedupStore {
    /// A strongly consistent `GetItem` of `target`'s `attributes` (none when it has no item).
    async fn read(
        &self,
        target: &TargetKey,
        attributes: &[&str],
    ) -> Result<Option<HashMap<String, AttributeValue>>, DedupError> {
        let names: Vec<String> = (0..attributes.len()).map(|i| format!("#a{i}")).collect();
        let mut request = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::KEY, s(target.as_str()))
            .consistent_read(true)
            .projection_expression(names.join(", "));
        for (name, attribute) in names.iter().zip(attributes) {
            request = request.expression_attribute_names(name, *attribute);
        }
        let span = self.client_span("GetItem");
        let result = request.send().instrument(span.clone()).await;
        self.record_result(&span, &result);
        let output = result.map_err(|error| self.classify("GetItem", error))?;
        Ok(output.item)
    }

    /// A store on `table`, with the default cache of completed keys.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self::with_cache_capacity(client, table, DEFAULT_CACHE_CAPACITY)
    }

    /// A store whose local cache of completed keys holds at most `cache_capacity` entries
    /// (0 disables it).
    pub(crate) fn with_cache_capacity(
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

    /// What the item returned with a failed claim (ALL_OLD) means; completed events are cached.
    fn refused(
        &self,
        item: Option<&HashMap<String, AttributeValue>>,
        request: &ClaimRequest,
        now_ms: EpochMillis,
    ) -> ClaimOutcome {
        let empty = HashMap::new();
        let (outcome, done) = refused_claim(item.unwrap_or(&empty), request, now_ms);
        if let (ClaimOutcome::Completed { outcome, .. }, Some(done)) = (&outcome, done) {
            self.completed
                .insert(&request.key, outcome, &done.payload_hash, done.expires_at_s);
        }
        outcome
    }

    /// One `UpdateItem` of the lease (`#lease_owner`, `#lease_until`, `:until`), fenced on its
    /// owner.
    async fn update_lease(
        &self,
        request: &ClaimRequest,
        update: &str,
        until_ms: Option<EpochMillis>,
    ) -> Result<(), DedupError> {
        let span = self.client_span("UpdateItem");
        let mut builder = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::KEY, s(request.key.target.as_str()))
            .update_expression(update)
            .condition_expression(OWNER_CONDITION)
            .expression_attribute_names("#lease_owner", attr::LEASE_OWNER)
            .expression_attribute_names("#lease_until", attr::LEASE_UNTIL)
            .expression_attribute_values(":owner", s(request.owner.as_str()));
        if let Some(until_ms) = until_ms {
            builder = builder.expression_attribute_values(":until", n(until_ms));
        }
        let result = builder.send().instrument(span.clone()).await;
        self.record_result(&span, &result);
        result
            .map(|_| ())
            .map_err(|error| self.fenced_write_error(request, error))
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
            gev_core::telemetry::mark_error(span, code.to_owned());
        }
    }
}

#[async_trait]
impl DedupStore for DynamoDbDedupStore {
    async fn claim(&self, request: &ClaimRequest) -> Result<ClaimOutcome, DedupError> {
        if let Some(hit) = self.completed.get(&request.key, &request.payload_hash) {
            return Ok(hit);
        }
        let now_ms = now_epoch_ms();
        let span = self.client_span("UpdateItem");
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::KEY, s(request.key.target.as_str()))
            .update_expression(CLAIM_UPDATE)
            .condition_expression(CLAIM_CONDITION)
            .expression_attribute_names("#lease_owner", attr::LEASE_OWNER)
            .expression_attribute_names("#lease_until", attr::LEASE_UNTIL)
            .expression_attribute_names("#done", attr::DONE)
            .expression_attribute_names("#applied", attr::APPLIED)
            .expression_attribute_names("#expiry", attr::EXPIRY)
            .expression_attribute_names("#event", request.key.event.as_str())
            .expression_attribute_names("#x", attr::ENTRY_EXPIRY)
            .expression_attribute_values(":owner", s(request.owner.as_str()))
            .expression_attribute_values(":lease_until", n(request.lease_until_ms))
            .expression_attribute_values(":empty", AttributeValue::M(HashMap::new()))
            .expression_attribute_values(":expiry", n(request.expires_at_s))
            .expression_attribute_values(":now_s", n(now_ms / 1_000))
            .expression_attribute_values(":now_ms", n(now_ms))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .instrument(span.clone())
            .await;
        self.record_result(&span, &result);
        match result {
            Ok(output) => Ok(ClaimOutcome::Claimed(granted_lease(
                output.attributes(),
                request,
                now_ms,
            ))),
            Err(error) => match error.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    Ok(self.refused(failed.item(), request, now_ms))
                }
                _ => Err(self.classify("UpdateItem", error)),
            },
        }
    }

    async fn complete(
        &self,
        request: &ClaimRequest,
        lease: &Lease,
        outcome: &str,
        applied: Option<&EffectKey>,
    ) -> Result<(), DedupError> {
        let mut set = String::from("SET #done.#event = :entry, #expiry = :expiry");
        let mut remove = String::from(" REMOVE #lease_owner, #lease_until");
        let entry = HashMap::from([
            (attr::OUTCOME.to_owned(), s(outcome)),
            (attr::PAYLOAD_HASH.to_owned(), s(&request.payload_hash)),
            (attr::ENTRY_EXPIRY.to_owned(), n(request.expires_at_s)),
        ]);
        let span = self.client_span("UpdateItem");
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::KEY, s(request.key.target.as_str()))
            .condition_expression(OWNER_CONDITION)
            .expression_attribute_names("#lease_owner", attr::LEASE_OWNER)
            .expression_attribute_names("#lease_until", attr::LEASE_UNTIL)
            .expression_attribute_names("#done", attr::DONE)
            .expression_attribute_names("#expiry", attr::EXPIRY)
            .expression_attribute_names("#event", request.key.event.as_str())
            .expression_attribute_values(":owner", s(request.owner.as_str()))
            .expression_attribute_values(":entry", AttributeValue::M(entry))
            .expression_attribute_values(":expiry", n(request.expires_at_s));
        if let Some(effect) = applied {
            set.push_str(", #applied.#effect = :expiry");
            update = update
                .expression_attribute_names("#applied", attr::APPLIED)
                .expression_attribute_names("#effect", effect.as_str());
        }
        for (index, stale) in lease.stale_events.iter().enumerate() {
            remove.push_str(&format!(", #done.#stale{index}"));
            update = update.expression_attribute_names(format!("#stale{index}"), stale.as_str());
        }
        let result = update
            .update_expression(set + &remove)
            .send()
            .instrument(span.clone())
            .await;
        self.record_result(&span, &result);
        match result {
            Ok(_) => {
                self.completed.insert(
                    &request.key,
                    outcome,
                    &request.payload_hash,
                    request.expires_at_s,
                );
                Ok(())
            }
            Err(error) => Err(self.fenced_write_error(request, error)),
        }
    }

    async fn release(&self, request: &ClaimRequest) -> Result<(), DedupError> {
        self.update_lease(request, "REMOVE #lease_owner, #lease_until", None)
            .await
    }

    async fn hold_until(
        &self,
        request: &ClaimRequest,
        until_ms: EpochMillis,
    ) -> Result<(), DedupError> {
        self.update_lease(request, "SET #lease_until = :until", Some(until_ms))
            .await
    }

    async fn lease_end(&self, target: &TargetKey) -> Result<Option<EpochMillis>, DedupError> {
        let found = self.read(target, &[attr::LEASE_UNTIL]).await?;
        let now_ms = now_epoch_ms();
        Ok(found
            .and_then(|item| number(&item, attr::LEASE_UNTIL))
            .filter(|until| *until >= now_ms))
    }

    async fn inspect(&self, target: &TargetKey) -> Result<TargetSummary, DedupError> {
        let found = self
            .read(target, &[attr::APPLIED, attr::DONE, attr::LEASE_UNTIL])
            .await?;
        Ok(found
            .map(|item| item::summary(&item, now_epoch_ms()))
            .unwrap_or_default())
    }

    async fn note_facts(
        &self,
        target: &TargetKey,
        participant: &ParticipantId,
        facts: AgentFacts,
        expires_at_s: i64,
    ) -> Result<(), DedupError> {
        let fact = HashMap::from([
            (attr::FACT_DURATION.to_owned(), n(facts.interacting_ms)),
            (attr::ENTRY_EXPIRY.to_owned(), n(expires_at_s)),
        ]);
        let span = self.client_span("UpdateItem");
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::KEY, s(target.as_str()))
            .update_expression("SET #fact = :fact, #expiry = :expiry")
            .expression_attribute_names(
                "#fact",
                format!("{}{}", attr::FACT_PREFIX, participant.as_str()),
            )
            .expression_attribute_names("#expiry", attr::EXPIRY)
            .expression_attribute_values(":fact", AttributeValue::M(fact))
            .expression_attribute_values(":expiry", n(expires_at_s))
            .send()
            .instrument(span.clone())
            .await;
        self.record_result(&span, &result);
        result
            .map(|_| ())
            .map_err(|error| self.classify("UpdateItem", error))
    }
}
