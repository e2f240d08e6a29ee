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
//! | `expiry` | N | epoch s; the table's TTL attribute (the latest expiry of anything in the item) |

use super::cache::CompletedCache;
use super::{ClaimOutcome, ClaimRequest, DedupError, DedupStore, Lease, MAX_EVENTS_PER_TARGET};
use crate::deadline::now_epoch_ms;
use crate::domain::{EffectKey, EpochMillis, EventKey, TargetKey};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use std::collections::HashMap;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The attribute names of a dedup item.
pub mod attr {
    pub const KEY: &str = "pk";
    pub const LEASE_OWNER: &str = "lease_owner";
    pub const LEASE_UNTIL: &str = "lease_until";
    pub const DONE: &str = "done";
    pub const APPLIED: &str = "applied";
    pub const EXPIRY: &str = "expiry";
    /// Inside a `done` entry: the outcome, the payload fingerprint, the expiry (epoch s).
    pub const OUTCOME: &str = "o";
    pub const PAYLOAD_HASH: &str = "h";
    pub const ENTRY_EXPIRY: &str = "x";
}

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
            crate::telemetry::mark_error(span, code.to_owned());
        }
    }

    /// The error of a complete or release: a failed owner condition means the lease was lost.
    fn fenced_write_error<E>(&self, request: &ClaimRequest, error: SdkError<E>) -> DedupError
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

/// One completed event, as a `done` entry holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DoneEntry {
    outcome: String,
    payload_hash: String,
    expires_at_s: i64,
}

/// The `done` map of an item, by event key; malformed entries are left out.
fn done_entries(item: &HashMap<String, AttributeValue>) -> HashMap<String, DoneEntry> {
    let Some(Ok(done)) = item.get(attr::DONE).map(AttributeValue::as_m) else {
        return HashMap::new();
    };
    done.iter()
        .filter_map(|(key, value)| {
            let entry = value.as_m().ok()?;
            Some((
                key.clone(),
                DoneEntry {
                    outcome: text(entry, attr::OUTCOME).unwrap_or("unknown").to_owned(),
                    payload_hash: text(entry, attr::PAYLOAD_HASH)
                        .unwrap_or_default()
                        .to_owned(),
                    expires_at_s: number(entry, attr::ENTRY_EXPIRY).unwrap_or(0),
                },
            ))
        })
        .collect()
}

/// What a claim refused by its condition means, from the item returned as ALL_OLD; with the
/// event's completion when that is why.
fn refused_claim(
    item: &HashMap<String, AttributeValue>,
    request: &ClaimRequest,
    now_ms: EpochMillis,
) -> (ClaimOutcome, Option<DoneEntry>) {
    match done_entries(item).remove(request.key.event.as_str()) {
        Some(done) if done.expires_at_s >= now_ms / 1_000 => {
            let outcome = ClaimOutcome::Completed {
                same_payload: done.payload_hash == request.payload_hash,
                outcome: done.outcome.clone(),
            };
            (outcome, Some(done))
        }
        _ => {
            let lease_until_ms = number(item, attr::LEASE_UNTIL).unwrap_or(request.lease_until_ms);
            (ClaimOutcome::Leased { lease_until_ms }, None)
        }
    }
}

/// The lease a successful claim holds, from the item as it was before (ALL_OLD): whether an
/// unreleased lease was taken over, the unexpired writes, and the events to forget.
fn granted_lease(
    old: Option<&HashMap<String, AttributeValue>>,
    request: &ClaimRequest,
    now_ms: EpochMillis,
) -> Lease {
    let Some(old) = old else {
        return Lease::default();
    };
    let now_s = now_ms / 1_000;
    let applied = match old.get(attr::APPLIED).map(AttributeValue::as_m) {
        Some(Ok(applied)) => applied
            .iter()
            .filter(|(_, expiry)| {
                expiry
                    .as_n()
                    .ok()
                    .and_then(|x| x.parse::<i64>().ok())
                    .is_some_and(|x| x >= now_s)
            })
            .map(|(effect, _)| EffectKey::from_trusted(effect.clone()))
            .collect(),
        _ => Vec::new(),
    };
    let mut live: Vec<(String, i64)> = Vec::new();
    let mut stale_events = Vec::new();
    for (key, done) in done_entries(old) {
        if key == request.key.event.as_str() {
            continue; // overwritten by this event's own completion
        }
        if done.expires_at_s < now_s {
            stale_events.push(EventKey::from_trusted(key));
        } else {
            live.push((key, done.expires_at_s));
        }
    }
    // Room for this event: the oldest completions beyond the bound are forgotten.
    live.sort_by_key(|(_, expires_at_s)| *expires_at_s);
    let excess = (live.len() + 1).saturating_sub(MAX_EVENTS_PER_TARGET);
    stale_events.extend(
        live.into_iter()
            .take(excess)
            .map(|(key, _)| EventKey::from_trusted(key)),
    );
    let previous_owner = old.get(attr::LEASE_OWNER).and_then(|v| v.as_s().ok());
    Lease {
        took_over: previous_owner.is_some_and(|owner| owner != request.owner.as_str()),
        applied,
        stale_events,
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
        let span = self.client_span("GetItem");
        let result = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::KEY, s(target.as_str()))
            .consistent_read(true)
            .projection_expression("#lease_until")
            .expression_attribute_names("#lease_until", attr::LEASE_UNTIL)
            .send()
            .instrument(span.clone())
            .await;
        self.record_result(&span, &result);
        let output = result.map_err(|error| self.classify("GetItem", error))?;
        let now_ms = now_epoch_ms();
        Ok(output
            .item()
            .and_then(|item| number(item, attr::LEASE_UNTIL))
            .filter(|until| *until >= now_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::OwnerToken;
    use crate::domain::DedupKey;

    const NOW_MS: i64 = 1_800_000_000_000;

    fn item(pairs: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn done(outcome: &str, hash: &str, expiry_s: i64) -> AttributeValue {
        AttributeValue::M(item(&[
            (attr::OUTCOME, s(outcome)),
            (attr::PAYLOAD_HASH, s(hash)),
            (attr::ENTRY_EXPIRY, n(expiry_s)),
        ]))
    }

    fn request(event: &str, hash: &str) -> ClaimRequest {
        ClaimRequest {
            key: DedupKey::from_trusted("target#seed#i-1", event),
            owner: OwnerToken::new("me"),
            lease_until_ms: NOW_MS + 60_000,
            expires_at_s: NOW_MS / 1_000 + 3_600,
            payload_hash: hash.into(),
        }
    }

    #[test]
    fn a_refused_claim_of_a_completed_event_is_a_duplicate_with_its_outcome() {
        let later = NOW_MS / 1_000 + 10;
        let old = item(&[(
            attr::DONE,
            AttributeValue::M(item(&[("seq#1", done("patched", "h1", later))])),
        )]);
        assert_eq!(
            refused_claim(&old, &request("seq#1", "h1"), NOW_MS).0,
            ClaimOutcome::Completed {
                outcome: "patched".into(),
                same_payload: true
            }
        );
        assert_eq!(
            refused_claim(&old, &request("seq#1", "h2"), NOW_MS).0,
            ClaimOutcome::Completed {
                outcome: "patched".into(),
                same_payload: false
            }
        );
    }

    #[test]
    fn a_refused_claim_of_a_leased_target_reports_the_lease_end() {
        let old = item(&[
            (attr::LEASE_OWNER, s("other")),
            (attr::LEASE_UNTIL, n(NOW_MS + 1234)),
        ]);
        assert_eq!(
            refused_claim(&old, &request("seq#2", "h"), NOW_MS).0,
            ClaimOutcome::Leased {
                lease_until_ms: NOW_MS + 1234
            }
        );
    }

    #[test]
    fn a_granted_lease_lists_unexpired_writes_and_the_events_to_forget() {
        let now_s = NOW_MS / 1_000;
        let old = item(&[
            (attr::LEASE_OWNER, s("dead-invocation")),
            (attr::LEASE_UNTIL, n(NOW_MS - 1)),
            (
                attr::DONE,
                AttributeValue::M(item(&[
                    ("seq#1", done("patched", "h", now_s + 10)),
                    ("seq#0", done("ineligible", "h", now_s - 10)),
                    ("seq#9", done("failed", "h", now_s - 10)),
                ])),
            ),
            (
                attr::APPLIED,
                AttributeValue::M(item(&[
                    ("interaction", n(now_s + 10)),
                    ("participant#old", n(now_s - 10)),
                ])),
            ),
        ]);

        let lease = granted_lease(Some(&old), &request("seq#9", "h"), NOW_MS);

        assert!(lease.took_over);
        assert_eq!(lease.applied, [EffectKey::interaction()]);
        assert_eq!(lease.stale_events, [EventKey::from_trusted("seq#0")]);
    }

    #[test]
    fn a_granted_lease_forgets_the_oldest_events_beyond_the_bound() {
        let now_s = NOW_MS / 1_000;
        let entries: HashMap<String, AttributeValue> = (0..MAX_EVENTS_PER_TARGET as i64)
            .map(|k| (format!("seq#{k}"), done("ineligible", "h", now_s + 100 + k)))
            .collect();
        let old = item(&[(attr::DONE, AttributeValue::M(entries))]);

        let lease = granted_lease(Some(&old), &request("seq#new", "h"), NOW_MS);

        assert!(!lease.took_over);
        assert_eq!(lease.stale_events, [EventKey::from_trusted("seq#0")]);
    }
}
