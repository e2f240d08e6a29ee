//! SQS batches and Step Functions items: partial failures, per-interaction order, bounded concurrency, rate limits.

use crate::fixtures::{ConsumerBuilder, GenesysMock, TestApp};
use crate::helpers::*;
use async_trait::async_trait;
use gev_consumer::lambda;
use gev_core::deadline::Deadline;
use gev_core::domain::{
    ConversationId, ConversationSnapshot, DispositionCodeId, InteractionId, InteractionSnapshot,
    WrapupTarget,
};
use gev_genesys::{ApplyResult, GenesysApi, GenesysError, HttpSettings, WrapupRequest};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn sqs_batch(bodies: &[(&str, String)]) -> Value {
    let records: Vec<Value> = bodies
        .iter()
        .map(|(id, body)| {
            json!({
                "messageId": id,
                "receiptHandle": format!("rh-{id}"),
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:ingest",
                "awsRegion": "eu-west-1"
            })
        })
        .collect();
    json!({ "Records": records })
}

#[tokio::test]
async fn an_sqs_batch_reports_exactly_the_failed_messages() {
    let genesys = GenesysMock::ready()
        .interaction_of("ok-1", json!({}), 0)
        .uncounted()
        .interaction_of("chat-1", json!({"type": "chat"}), 0)
        .uncounted()
        .interaction_of("down-1", json!({}), 0)
        .uncounted()
        .patch_of("ok-1", 200, 1)
        .patch_of("down-1", 503, 3)
        .await;
    let batch = sqs_batch(&[
        ("m-ok", seed_event("e1", "ok-1", "1").to_string()),
        ("m-chat", seed_event("e2", "chat-1", "1").to_string()),
        ("m-down", seed_event("e3", "down-1", "1").to_string()),
        ("m-garbled", "{not json".to_owned()),
        ("m-down-later", seed_event("e4", "down-1", "2").to_string()),
    ]);

    let handled = lambda::handle(&genesys.consumer(), batch, &invocation("r")).await;

    let outcomes: Vec<&str> = handled.reports.iter().map(|r| r.outcome.name()).collect();
    assert_eq!(
        outcomes,
        ["patched", "ineligible", "failed", "rejected", "failed"]
    );
    assert!(
        handled.reports[4]
            .outcome
            .reason()
            .unwrap()
            .starts_with("deferred")
    );
    let response = handled
        .into_response()
        .expect("an SQS batch never fails as a whole");
    assert_eq!(
        response,
        json!({"batchItemFailures": [{"itemIdentifier": "m-down"}, {"itemIdentifier": "m-down-later"}]})
    );
}

#[tokio::test]
async fn events_of_one_interaction_in_a_batch_are_processed_in_order() {
    let TestApp { sim, consumer } = TestApp::spawn().await;
    let eligible = "6f1c2a9e-0b1d-4c55-9e2a-3a1f5c7d8e01";
    let batch = sqs_batch(&[
        ("m-1", seed_event("e1", eligible, "1").to_string()),
        ("m-2", seed_event("e2", eligible, "2").to_string()),
        ("m-3", seed_event("e3", eligible, "3").to_string()),
    ]);

    let handled = lambda::handle(&consumer, batch, &invocation("r")).await;

    let reasons: Vec<String> = handled
        .reports
        .iter()
        .map(|r| r.outcome.reason().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "eligible",
            "already processed: patched by another event for this interaction",
            "already processed: patched by another event for this interaction"
        ]
    );
    assert_eq!(sim.simulator.patch_counts()[eligible].received, 1);
}

/// A Genesys stand-in that counts how many fetches run at once.
#[derive(Default)]
struct CountingGenesys {
    in_flight: AtomicUsize,
    most: AtomicUsize,
}

#[async_trait]
impl GenesysApi for CountingGenesys {
    async fn fetch_interaction(
        &self,
        _: &InteractionId,
        _: Deadline,
    ) -> Result<InteractionSnapshot, GenesysError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        Ok(InteractionSnapshot {
            media_type: "chat".into(),
            ..Default::default()
        })
    }

    async fn apply_disposition(
        &self,
        _: &InteractionId,
        _: &DispositionCodeId,
        _: Deadline,
    ) -> Result<ApplyResult, GenesysError> {
        Ok(ApplyResult::Applied)
    }

    async fn fetch_conversation(
        &self,
        _: &ConversationId,
        _: Deadline,
    ) -> Result<ConversationSnapshot, GenesysError> {
        Ok(ConversationSnapshot::default())
    }

    async fn queue_facts(
        &self,
        id: &gev_core::domain::QueueId,
        _: Deadline,
    ) -> Result<gev_genesys::routing::QueueFacts, GenesysError> {
        Ok(gev_genesys::routing::QueueFacts {
            id: id.clone(),
            name: "queue".into(),
            division_id: None,
            wrapup_prompt: None,
            codes: Default::default(),
        })
    }

    async fn apply_wrapup(
        &self,
        _: &'static str,
        _: &ConversationId,
        _: &WrapupTarget,
        _: &WrapupRequest,
        _: Deadline,
    ) -> Result<ApplyResult, GenesysError> {
        Ok(ApplyResult::Applied)
    }
}

#[tokio::test]
async fn a_batch_runs_at_most_batch_concurrency_interactions_at_once() {
    let genesys = Arc::new(CountingGenesys::default());
    let consumer = ConsumerBuilder::over(genesys.clone())
        .with(|s| s.batch_concurrency = 3)
        .build();
    let bodies: Vec<(String, String)> = (0..12)
        .map(|n| {
            (
                format!("m-{n}"),
                seed_event(&format!("e{n}"), &format!("i-{n}"), "1").to_string(),
            )
        })
        .collect();
    let refs: Vec<(&str, String)> = bodies
        .iter()
        .map(|(id, body)| (id.as_str(), body.clone()))
        .collect();

    let handled = lambda::handle(&consumer, sqs_batch(&refs), &invocation("r")).await;

    assert_eq!(handled.reports.len(), 12);
    assert_eq!(genesys.most.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_step_functions_item_in_the_tutorial_shape_is_processed() {
    let genesys = GenesysMock::ready()
        .interaction(json!({"state": "connected"}), 1)
        .await;
    let item = json!({
        "interactionId": INTERACTION,
        "details": {"interactionId": INTERACTION, "sequenceId": "9", "interactionType": "voice"}
    });

    let response = lambda::handle(&genesys.consumer(), item, &invocation("r"))
        .await
        .into_response()
        .unwrap();

    assert_eq!(response["outcome"], "ineligible");
    assert_eq!(response["reason"], "interaction-not-completed");
    assert_eq!(response["sequenceId"], "9");
}

#[tokio::test]
async fn the_request_rate_to_genesys_is_limited_per_instance() {
    let genesys = GenesysMock::eligible(10).await;
    let settings = HttpSettings {
        max_requests_per_second: Some(5.0),
        ..fast_settings()
    };
    let client = Arc::new(genesys.client_with(settings));
    let started = Instant::now();

    let calls: Vec<_> = (0..10)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .fetch_interaction(&interaction_id(), deadline())
                    .await
            })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }

    // 5 at once (the burst), then 5 more at one per 200 ms.
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}
