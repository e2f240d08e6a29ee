//! The handler with DynamoDB dedup on DynamoDB Local: nothing lost, nothing applied twice, across instances.

use crate::fixtures::GenesysMock;
use crate::helpers::*;
use gev_consumer::dedup::{ClaimRequest, DedupError, DedupStore, DynamoDbDedupStore, OwnerToken};
use gev_core::deadline::now_epoch_ms;
use gev_core::domain::{DedupKey, EffectKey, Outcome};
use serde_json::json;
use std::sync::Arc;

/// A fresh interaction id per test, so runs against one table never see each other's records.
fn fresh_interaction() -> String {
    format!("it-{:016x}", fastrand::u64(..))
}

/// A consumer as one Lambda instance would have it: its own HTTP client and dedup adapter
/// (with its own local cache), sharing the table with every other instance.
async fn instance(genesys: &GenesysMock) -> gev_consumer::consumer::Consumer {
    let store = dynamodb_store().await.expect("DynamoDB Local");
    genesys.consumer_builder().store(store).build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_that_fails_after_claiming_is_processed_on_the_next_delivery() {
    if dynamodb_store().await.is_none() {
        return;
    }
    let interaction = fresh_interaction();
    let genesys = GenesysMock::builder()
        .tokens(86_400, 2)
        .interaction_of(&interaction, json!({}), 2)
        .route("PATCH", interaction_path(&interaction), 503, 3)
        .before_the_rest()
        .patch_of(&interaction, 200, 1)
        .await;
    let first_instance = instance(&genesys).await;
    let second_instance = instance(&genesys).await;
    let event = seed_event("evt-1", &interaction, "5");

    let failed = first_instance.process(&event, &invocation("req-1")).await;
    let redelivered = second_instance.process(&event, &invocation("req-2")).await;

    assert_eq!(failed.outcome.name(), "failed");
    assert_eq!(
        redelivered.outcome,
        Outcome::Patched,
        "the disposition was not lost"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivery_of_a_success_to_another_instance_is_a_duplicate_without_a_second_patch() {
    if dynamodb_store().await.is_none() {
        return;
    }
    let interaction = fresh_interaction();
    let genesys = GenesysMock::builder()
        .token()
        .interaction_of(&interaction, json!({}), 1)
        .patch_of(&interaction, 200, 1)
        .await;
    let first_instance = instance(&genesys).await;
    let second_instance = instance(&genesys).await;
    let event = seed_event("evt-1", &interaction, "5");

    let first = first_instance.process(&event, &invocation("req-1")).await;
    let redelivered = second_instance.process(&event, &invocation("req-2")).await;

    assert_eq!(first.outcome, Outcome::Patched);
    assert_eq!(redelivered.outcome, duplicate_of("patched"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deliveries_to_eight_instances_patch_once() {
    if dynamodb_store().await.is_none() {
        return;
    }
    let interaction = fresh_interaction();
    let genesys = GenesysMock::builder()
        .token()
        .uncounted()
        .interaction_of(&interaction, json!({}), 0)
        .uncounted()
        .patch_of(&interaction, 200, 1)
        .await;
    let event = seed_event("evt-1", &interaction, "5");

    let mut deliveries = Vec::new();
    for n in 0..8 {
        let consumer = instance(&genesys).await;
        let event = event.clone();
        deliveries.push(tokio::spawn(async move {
            consumer
                .process(&event, &invocation(&format!("req-{n}")))
                .await
        }));
    }
    let mut outcomes = Vec::new();
    for delivery in deliveries {
        outcomes.push(delivery.await.unwrap().outcome.name());
    }

    assert_eq!(
        outcomes.iter().filter(|o| **o == "patched").count(),
        1,
        "{outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .all(|o| ["patched", "failed", "duplicate"].contains(o)),
        "{outcomes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_table_is_a_configuration_error_naming_the_table() {
    if dynamodb_store().await.is_none() {
        return;
    }
    let store =
        DynamoDbDedupStore::new(gev_consumer::app::dynamodb_client().await, "no-such-table");

    let error = store
        .claim(&ClaimRequest {
            key: DedupKey::from_trusted("target#seed#k", "seq#1"),
            owner: OwnerToken::new("o"),
            lease_until_ms: now_epoch_ms() + 1_000,
            expires_at_s: now_epoch_ms() / 1_000 + 60,
            payload_hash: "h".into(),
        })
        .await
        .unwrap_err();

    assert!(
        matches!(error, DedupError::Misconfigured { .. }),
        "{error:?}"
    );
    assert!(!error.is_retryable());
    assert!(
        error
            .to_string()
            .contains("\"no-such-table\" does not exist"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_dynamodb_is_retryable_and_the_event_fails_for_redelivery() {
    let genesys = GenesysMock::builder().tokens(86_400, 0).await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_endpoint = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::for_tests())
        .endpoint_url(dead_endpoint)
        .build();
    let store: Arc<dyn DedupStore> = Arc::new(DynamoDbDedupStore::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        "table",
    ));
    let consumer = genesys.consumer_builder().store(store).build();

    let report = consumer
        .process(&seed_event("e", INTERACTION, "1"), &invocation("r"))
        .await;

    assert_eq!(report.outcome.name(), "failed");
    assert!(
        report
            .outcome
            .reason()
            .unwrap()
            .starts_with("dedup claim failed: dedup store unavailable")
    );
}

/// The raw item of `target` in the test table.
async fn raw_item(
    target: &str,
) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    let client = gev_consumer::app::dynamodb_client().await;
    client
        .get_item()
        .table_name(std::env::var("DEDUP_TEST_TABLE").unwrap())
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(target.into()),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap_or_default()
}

fn claim_of(target: &str, event: &str, expires_at_s: i64) -> ClaimRequest {
    ClaimRequest {
        key: DedupKey::from_trusted(target, event),
        owner: OwnerToken::new(format!("owner-{event}")),
        lease_until_ms: now_epoch_ms() + 60_000,
        expires_at_s,
        payload_hash: format!("hash-{event}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_item_per_target_holds_its_completed_events_and_writes_and_drops_expired_ones() {
    let Some(store) = dynamodb_store().await else {
        return;
    };
    let target = format!("target#seed#{}", fresh_interaction());
    let now_s = now_epoch_ms() / 1_000;
    let expired = claim_of(&target, "seq#1", now_s - 5);
    let current = claim_of(&target, "seq#2", now_s + 3_600);
    for (request, outcome) in [(&expired, "ineligible"), (&current, "patched")] {
        let gev_consumer::dedup::ClaimOutcome::Claimed(lease) = store.claim(request).await.unwrap()
        else {
            panic!("not leased");
        };
        let applied = (outcome == "patched").then(EffectKey::interaction);
        store
            .complete(request, &lease, outcome, applied.as_ref())
            .await
            .unwrap();
    }

    let item = raw_item(&target).await;

    let done = item["done"].as_m().unwrap();
    assert_eq!(done.keys().collect::<Vec<_>>(), ["seq#2"], "{item:?}");
    let entry = done["seq#2"].as_m().unwrap();
    assert_eq!(entry["o"].as_s().unwrap(), "patched");
    assert_eq!(entry["h"].as_s().unwrap(), "hash-seq#2");
    assert_eq!(entry["x"].as_n().unwrap(), &(now_s + 3_600).to_string());
    assert!(item["applied"].as_m().unwrap().contains_key("interaction"));
    assert!(!item.contains_key("lease_owner") && !item.contains_key("lease_until"));
    assert_eq!(item["expiry"].as_n().unwrap(), &(now_s + 3_600).to_string());
}
