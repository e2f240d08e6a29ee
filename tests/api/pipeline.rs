//! The pipeline against wiremock: claim → fetch → decide → apply → complete, and what each failure does.

use crate::fixtures::GenesysMock;
use crate::helpers::*;
use gev_consumer::dedup::{ClaimOutcome, ClaimRequest, DedupStore, InMemoryDedupStore, OwnerToken};
use gev_consumer::lambda;
use gev_core::deadline::now_epoch_ms;
use gev_core::domain::{DedupKey, IneligibleReason, Outcome, TargetKey};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Another invocation's lease on the test interaction, for another update of it.
fn lease_held_elsewhere(lease: Duration) -> ClaimRequest {
    ClaimRequest {
        key: DedupKey::from_trusted(format!("target#seed#{INTERACTION}"), "seq#0"),
        owner: OwnerToken::new("other-invocation"),
        lease_until_ms: now_epoch_ms() + lease.as_millis() as i64,
        expires_at_s: now_epoch_ms() / 1_000 + 3_600,
        payload_hash: "x".into(),
    }
}

#[tokio::test]
async fn an_eligible_call_is_patched_and_its_redelivery_is_a_duplicate_without_a_second_patch() {
    let genesys = GenesysMock::eligible(1).patch(200, 1).await;
    let consumer = genesys.consumer();
    let event = seed_event("evt-1", INTERACTION, "17");

    let first = consumer.process(&event, &invocation("req-1")).await;
    let redelivered = consumer.process(&event, &invocation("req-2")).await;

    assert_eq!(first.outcome, Outcome::Patched);
    assert_eq!(first.interaction_id.as_deref(), Some(INTERACTION));
    assert_eq!(first.sequence_id.as_deref(), Some("17"));
    assert_eq!(redelivered.outcome, duplicate_of("patched"));
}

#[tokio::test]
async fn a_later_update_of_the_same_interaction_is_processed_but_never_patches_twice() {
    // The second update needs no read: the target's record shows the disposition was applied.
    let genesys = GenesysMock::eligible(1).patch(200, 1).await;
    let consumer = genesys.consumer();

    let first = consumer
        .process(&seed_event("e1", INTERACTION, "1"), &invocation("r1"))
        .await;
    let second = consumer
        .process(&seed_event("e2", INTERACTION, "2"), &invocation("r2"))
        .await;

    assert_eq!(first.outcome, Outcome::Patched);
    assert_eq!(
        second.outcome,
        duplicate_of("patched by another event for this interaction")
    );
}

#[tokio::test]
async fn a_retryable_failure_releases_the_claim_so_the_redelivery_applies_the_disposition() {
    let genesys = GenesysMock::eligible(2)
        .patch_answer(503, 3)
        .before_the_rest()
        .patch(200, 1)
        .await;
    let consumer = genesys.consumer();
    let event = seed_event("evt-1", INTERACTION, "17");

    let failed = consumer.process(&event, &invocation("req-1")).await;
    let redelivered = consumer.process(&event, &invocation("req-2")).await;

    assert_eq!(failed.outcome.name(), "failed");
    assert!(failed.outcome.reason().unwrap().contains("503"));
    assert_eq!(redelivered.outcome, Outcome::Patched);
}

#[tokio::test]
async fn a_failed_event_makes_the_lambda_return_an_error() {
    let genesys = GenesysMock::ready().interaction_answer(500, 3).await;

    let handled = lambda::handle(
        &genesys.consumer(),
        seed_event("evt-1", INTERACTION, "1"),
        &invocation("r"),
    )
    .await;

    let error = handled.into_response().unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("1 event(s) failed and must be delivered again: evt-1:")
    );
}

#[tokio::test]
async fn a_terminal_outcome_is_the_lambda_response() {
    let genesys = GenesysMock::builder().await;

    let handled = lambda::handle(
        &genesys.consumer(),
        json!({"detail-type": "Other", "id": "e"}),
        &invocation("r"),
    )
    .await;

    let response = handled.into_response().unwrap();
    assert_eq!(response["outcome"], "ignored");
    assert_eq!(response["eventId"], "e");
}

#[tokio::test]
async fn a_refusal_of_our_request_is_completed_so_the_redelivery_is_a_duplicate() {
    let genesys = GenesysMock::eligible(1).patch(400, 1).await;
    let consumer = genesys.consumer();
    let event = seed_event("evt-1", INTERACTION, "17");

    let refused = consumer.process(&event, &invocation("req-1")).await;
    let redelivered = consumer.process(&event, &invocation("req-2")).await;

    assert_eq!(refused.outcome.name(), "rejected");
    assert!(
        refused
            .outcome
            .reason()
            .unwrap()
            .contains("DISPOSITION_CODE_ID")
    );
    assert_eq!(redelivered.outcome, duplicate_of("rejected"));
}

#[tokio::test]
async fn a_403_fails_the_event_so_its_redelivery_patches_once_the_role_is_fixed() {
    let genesys = GenesysMock::eligible(2)
        .patch_answer(403, 1)
        .before_the_rest()
        .patch(200, 1)
        .await;
    let consumer = genesys.consumer();
    let event = seed_event("evt-1", INTERACTION, "17");

    let forbidden = consumer.process(&event, &invocation("req-1")).await;
    let redelivered = consumer.process(&event, &invocation("req-2")).await;

    assert_eq!(forbidden.outcome.name(), "failed");
    assert!(forbidden.outcome.needs_configuration_fix());
    let reason = forbidden.outcome.reason().unwrap();
    assert!(reason.contains("interaction:write"), "{reason}");
    assert_eq!(redelivered.outcome, Outcome::Patched);
}

#[tokio::test]
async fn a_token_service_at_a_wrong_login_url_fails_the_event_until_the_url_is_fixed() {
    let genesys = GenesysMock::builder()
        .token_answer(404, 1)
        .before_the_rest()
        .token()
        .interaction(json!({}), 1)
        .patch(200, 1)
        .await;
    let consumer = genesys.consumer();
    let event = seed_event("evt-1", INTERACTION, "17");

    let refused = consumer.process(&event, &invocation("req-1")).await;
    let redelivered = consumer.process(&event, &invocation("req-2")).await;

    assert_eq!(refused.outcome.name(), "failed");
    assert!(refused.outcome.needs_configuration_fix());
    assert_eq!(redelivered.outcome, Outcome::Patched);
}

#[tokio::test]
async fn an_ineligible_interaction_is_not_patched() {
    let genesys = GenesysMock::ready()
        .interaction(json!({"wrapUpCode": {"id": "w-1"}}), 1)
        .patch(200, 0)
        .await;
    let consumer = genesys.consumer();

    let report = consumer
        .process(&seed_event("e", INTERACTION, "1"), &invocation("r"))
        .await;

    assert_eq!(
        report.outcome,
        Outcome::Ineligible(IneligibleReason::WrapUpAlreadySet)
    );
}

#[tokio::test]
async fn a_missing_interaction_is_not_found_and_not_patched() {
    let genesys = GenesysMock::ready()
        .interaction_answer(404, 1)
        .patch(200, 0)
        .await;
    let consumer = genesys.consumer();

    let report = consumer
        .process(&seed_event("e", INTERACTION, "1"), &invocation("r"))
        .await;

    assert_eq!(report.outcome, Outcome::NotFound);
}

#[tokio::test]
async fn a_409_on_patch_is_decided_again_once_then_acknowledged_as_a_conflict() {
    let genesys = GenesysMock::eligible(2).patch(409, 2).await;
    let consumer = genesys.consumer();

    let report = consumer
        .process(&seed_event("e", INTERACTION, "1"), &invocation("r"))
        .await;

    assert_eq!(report.outcome, Outcome::Conflict);
    assert!(report.outcome.is_terminal());
}

#[tokio::test]
async fn a_rejected_event_makes_no_request() {
    let genesys = GenesysMock::builder().tokens(86_400, 0).await;
    let mut event = seed_event("e", INTERACTION, "1");
    event["detail"]["interactionId"] = json!("../admin");

    let report = genesys.consumer().process(&event, &invocation("r")).await;

    assert_eq!(report.outcome.name(), "rejected");
    assert!(
        report
            .outcome
            .reason()
            .unwrap()
            .starts_with("detail.interactionId contains '/'")
    );
    assert_eq!(report.interaction_id.as_deref(), Some("../admin"));
}

#[tokio::test]
async fn an_event_whose_target_stays_leased_past_the_wait_fails_for_a_later_retry_without_requests()
{
    let genesys = GenesysMock::builder().tokens(86_400, 0).await;
    let store = Arc::new(InMemoryDedupStore::default());
    store
        .claim(&lease_held_elsewhere(Duration::from_secs(60)))
        .await
        .unwrap();
    let consumer = genesys
        .consumer_builder()
        .store(store)
        .with(|s| s.lease_wait = Duration::from_millis(150))
        .build();

    let started = Instant::now();
    let report = consumer
        .process(&seed_event("e", INTERACTION, "1"), &invocation("r"))
        .await;

    assert_eq!(report.outcome.name(), "failed");
    let reason = report.outcome.reason().unwrap();
    assert!(
        reason.starts_with("another delivery for this interaction holds its lease"),
        "{reason}"
    );
    assert!(started.elapsed() >= Duration::from_millis(100));
}

#[tokio::test]
async fn an_event_waits_its_turn_while_another_event_of_the_target_is_being_processed() {
    let genesys = GenesysMock::eligible(1).patch(200, 1).await;
    let store = Arc::new(InMemoryDedupStore::default());
    let holder = lease_held_elsewhere(Duration::from_secs(60));
    let ClaimOutcome::Claimed(lease) = store.claim(&holder).await.unwrap() else {
        panic!("the holder's claim");
    };
    let consumer = genesys
        .consumer_builder()
        .store(store.clone())
        .with(|s| s.lease_wait = Duration::from_secs(2))
        .build();
    let holder_finishes = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        store.complete(&holder, &lease, "ineligible", None).await
    };

    let (event, invocation) = (seed_event("e", INTERACTION, "1"), invocation("r"));

    let (report, finished) = tokio::join!(consumer.process(&event, &invocation), holder_finishes);

    finished.unwrap();
    assert_eq!(report.outcome, Outcome::Patched);
}

#[tokio::test]
async fn the_report_serialises_to_the_invoke_contract() {
    let genesys = GenesysMock::builder().await;
    let report = genesys
        .consumer()
        .process(&json!({"id": "e-1", "detail-type": "x"}), &invocation("r"))
        .await;

    let value = serde_json::to_value(&report).unwrap();

    let keys: Vec<_> = value.as_object().unwrap().keys().cloned().collect();
    let mut expected = vec![
        "eventId",
        "outcome",
        "reason",
        "interactionId",
        "sequenceId",
        "latencyMs",
    ];
    expected.sort();
    let mut keys_sorted = keys.clone();
    keys_sorted.sort();
    assert_eq!(keys_sorted, expected);
    assert!(value["latencyMs"].is_number());
}

#[tokio::test]
async fn a_write_that_may_have_been_applied_holds_the_lease_for_the_settle_time() {
    let genesys = GenesysMock::eligible(1).patch(502, 1).await;
    let store = Arc::new(InMemoryDedupStore::default());
    let consumer = genesys
        .consumer_builder()
        .store(store.clone())
        .with(|s| s.lease_margin = Duration::from_secs(3))
        .build();

    let report = consumer
        .process(&seed_event("e", INTERACTION, "1"), &invocation("r"))
        .await;

    assert_eq!(report.outcome.name(), "failed");
    let target = TargetKey::from_trusted(format!("target#seed#{INTERACTION}"));
    let held_for = store.lease_end(&target).await.unwrap().expect("held") - now_epoch_ms();
    assert!(
        (2_000..=3_000).contains(&held_for),
        "held {held_for} ms more, not released and not to the deadline"
    );
}
