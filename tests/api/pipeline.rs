//! The pipeline against wiremock: claim → fetch → decide → apply → complete, and what each failure does.

use crate::helpers::*;
use gev_consumer::consumer::PipelineSettings;
use gev_consumer::dedup::{ClaimRequest, DedupStore, InMemoryDedupStore, OwnerToken};
use gev_consumer::lambda;
use gev_core::deadline::now_epoch_ms;
use gev_core::domain::{DedupKey, IneligibleReason, Outcome};
use serde_json::json;
use std::sync::Arc;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn mount_patch(server: &MockServer, status: u16, times: u64) {
    Mock::given(method("PATCH"))
        .and(path(interaction_path(INTERACTION)))
        .respond_with(ResponseTemplate::new(status))
        .expect(times)
        .named("PATCH interaction")
        .mount(server)
        .await;
}

#[tokio::test]
async fn an_eligible_call_is_patched_and_its_redelivery_is_a_duplicate_without_a_second_patch() {
    let server = genesys_with_token().await;
    mount_interaction(&server, interaction_json(INTERACTION, json!({})), 1).await;
    mount_patch(&server, 200, 1).await;
    let consumer = consumer(&server);
    let event = seed_event("evt-1", INTERACTION, "17");

    let first = consumer.process(&event, &invocation("req-1")).await;
    let redelivered = consumer.process(&event, &invocation("req-2")).await;

    assert_eq!(first.outcome, Outcome::Patched);
    assert_eq!(first.interaction_id.as_deref(), Some(INTERACTION));
    assert_eq!(first.sequence_id.as_deref(), Some("17"));
    assert_eq!(
        redelivered.outcome,
        Outcome::Duplicate {
            previous: Some("patched".into()),
            same_payload: true,
        }
    );
}

#[tokio::test]
async fn a_later_update_of_the_same_interaction_is_processed_but_never_patches_twice() {
    let server = genesys_with_token().await;
    // The second update needs no read: the target's record shows the disposition was applied.
    mount_interaction(&server, interaction_json(INTERACTION, json!({})), 1).await;
    mount_patch(&server, 200, 1).await;
    let consumer = consumer(&server);

    let first = consumer
        .process(&seed_event("e1", INTERACTION, "1"), &invocation("r1"))
        .await;
    let second = consumer
        .process(&seed_event("e2", INTERACTION, "2"), &invocation("r2"))
        .await;

    assert_eq!(first.outcome, Outcome::Patched);
    assert_eq!(
        second.outcome,
        Outcome::Duplicate {
            previous: Some("patched by another event for this interaction".into()),
            same_payload: true,
        }
    );
}

#[tokio::test]
async fn a_retryable_failure_releases_the_claim_so_the_redelivery_applies_the_disposition() {
    let server = genesys_with_token().await;
    mount_interaction(&server, interaction_json(INTERACTION, json!({})), 2).await;
    mount_first(
        &server,
        "PATCH",
        interaction_path(INTERACTION),
        ResponseTemplate::new(503),
        3,
    )
    .await;
    mount_patch(&server, 200, 1).await;
    let consumer = consumer(&server);
    let event = seed_event("evt-1", INTERACTION, "17");

    let failed = consumer.process(&event, &invocation("req-1")).await;
    let redelivered = consumer.process(&event, &invocation("req-2")).await;

    assert_eq!(failed.outcome.name(), "failed");
    assert!(failed.outcome.reason().unwrap().contains("503"));
    assert_eq!(redelivered.outcome, Outcome::Patched);
}

#[tokio::test]
async fn a_failed_event_makes_the_lambda_return_an_error() {
    let server = genesys_with_token().await;
    Mock::given(method("GET"))
        .and(path(interaction_path(INTERACTION)))
        .respond_with(ResponseTemplate::new(500))
        .expect(3)
        .mount(&server)
        .await;
    let consumer = consumer(&server);

    let handled = lambda::handle(
        &consumer,
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
    let server = MockServer::start().await;
    let consumer = consumer(&server);

    let handled = lambda::handle(
        &consumer,
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
    let server = genesys_with_token().await;
    mount_interaction(&server, interaction_json(INTERACTION, json!({})), 1).await;
    mount_patch(&server, 400, 1).await;
    let consumer = consumer(&server);
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
    assert_eq!(
        redelivered.outcome,
        Outcome::Duplicate {
            previous: Some("rejected".into()),
            same_payload: true,
        }
    );
}

#[tokio::test]
async fn a_403_fails_the_event_so_its_redelivery_patches_once_the_role_is_fixed() {
    let server = genesys_with_token().await;
    mount_interaction(&server, interaction_json(INTERACTION, json!({})), 2).await;
    mount_first(
        &server,
        "PATCH",
        interaction_path(INTERACTION),
        ResponseTemplate::new(403),
        1,
    )
    .await;
    mount_patch(&server, 200, 1).await;
    let consumer = consumer(&server);
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
    let server = MockServer::start().await;
    mount_first(
        &server,
        "POST",
        "/oauth/token",
        ResponseTemplate::new(404),
        1,
    )
    .await;
    mount_token(&server, 86_400, 1).await;
    mount_interaction(&server, interaction_json(INTERACTION, json!({})), 1).await;
    mount_patch(&server, 200, 1).await;
    let consumer = consumer(&server);
    let event = seed_event("evt-1", INTERACTION, "17");

    let refused = consumer.process(&event, &invocation("req-1")).await;
    let redelivered = consumer.process(&event, &invocation("req-2")).await;

    assert_eq!(refused.outcome.name(), "failed");
    assert!(refused.outcome.needs_configuration_fix());
    assert_eq!(redelivered.outcome, Outcome::Patched);
}

#[tokio::test]
async fn an_ineligible_interaction_is_not_patched() {
    let server = genesys_with_token().await;
    mount_interaction(
        &server,
        interaction_json(INTERACTION, json!({"wrapUpCode": {"id": "w-1"}})),
        1,
    )
    .await;
    mount_patch(&server, 200, 0).await;

    let report = consumer(&server)
        .process(&seed_event("e", INTERACTION, "1"), &invocation("r"))
        .await;

    assert_eq!(
        report.outcome,
        Outcome::Ineligible(IneligibleReason::WrapUpAlreadySet)
    );
}

#[tokio::test]
async fn a_missing_interaction_is_not_found_and_not_patched() {
    let server = genesys_with_token().await;
    Mock::given(method("GET"))
        .and(path(interaction_path(INTERACTION)))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    mount_patch(&server, 200, 0).await;

    let report = consumer(&server)
        .process(&seed_event("e", INTERACTION, "1"), &invocation("r"))
        .await;

    assert_eq!(report.outcome, Outcome::NotFound);
}

#[tokio::test]
async fn a_409_on_patch_is_decided_again_once_then_acknowledged_as_a_conflict() {
    let server = genesys_with_token().await;
    mount_interaction(&server, interaction_json(INTERACTION, json!({})), 2).await;
    mount_patch(&server, 409, 2).await;

    let report = consumer(&server)
        .process(&seed_event("e", INTERACTION, "1"), &invocation("r"))
        .await;

    assert_eq!(report.outcome, Outcome::Conflict);
    assert!(report.outcome.is_terminal());
}

#[tokio::test]
async fn a_rejected_event_makes_no_request() {
    let server = MockServer::start().await;
    mount_token(&server, 86_400, 0).await;
    let mut event = seed_event("e", INTERACTION, "1");
    event["detail"]["interactionId"] = json!("../admin");

    let report = consumer(&server).process(&event, &invocation("r")).await;

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

/// Another invocation's lease on the test interaction, for another update of it.
fn lease_held_elsewhere(lease: std::time::Duration) -> ClaimRequest {
    ClaimRequest {
        key: DedupKey::from_trusted(format!("target#seed#{INTERACTION}"), "seq#0"),
        owner: OwnerToken::new("other-invocation"),
        lease_until_ms: now_epoch_ms() + lease.as_millis() as i64,
        expires_at_s: now_epoch_ms() / 1_000 + 3_600,
        payload_hash: "x".into(),
    }
}

/// A consumer over `store` that waits at most `lease_wait` for another event's lease.
fn patient_consumer(
    server: &MockServer,
    store: Arc<dyn DedupStore>,
    lease_wait: std::time::Duration,
) -> gev_consumer::consumer::Consumer {
    let mut settings = PipelineSettings::new(disposition());
    settings.lease_wait = lease_wait;
    gev_consumer::consumer::Consumer::new(store, Arc::new(client(server)), settings)
}

#[tokio::test]
async fn an_event_whose_target_stays_leased_past_the_wait_fails_for_a_later_retry_without_requests()
{
    let server = MockServer::start().await;
    mount_token(&server, 86_400, 0).await;
    let store = Arc::new(InMemoryDedupStore::default());
    store
        .claim(&lease_held_elsewhere(std::time::Duration::from_secs(60)))
        .await
        .unwrap();
    let consumer = patient_consumer(&server, store, std::time::Duration::from_millis(150));

    let started = std::time::Instant::now();
    let report = consumer
        .process(&seed_event("e", INTERACTION, "1"), &invocation("r"))
        .await;

    assert_eq!(report.outcome.name(), "failed");
    let reason = report.outcome.reason().unwrap();
    assert!(
        reason.starts_with("another delivery for this interaction holds its lease"),
        "{reason}"
    );
    assert!(started.elapsed() >= std::time::Duration::from_millis(100));
}

#[tokio::test]
async fn an_event_waits_its_turn_while_another_event_of_the_target_is_being_processed() {
    let server = genesys_with_token().await;
    mount_interaction(&server, interaction_json(INTERACTION, json!({})), 1).await;
    mount_patch(&server, 200, 1).await;
    let store = Arc::new(InMemoryDedupStore::default());
    let holder = lease_held_elsewhere(std::time::Duration::from_secs(60));
    let gev_consumer::dedup::ClaimOutcome::Claimed(lease) = store.claim(&holder).await.unwrap()
    else {
        panic!("the holder's claim");
    };
    let consumer = patient_consumer(&server, store.clone(), std::time::Duration::from_secs(2));
    let holder_finishes = async {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        store.complete(&holder, &lease, "ineligible", None).await
    };

    let (event, invocation) = (seed_event("e", INTERACTION, "1"), invocation("r"));

    let (report, finished) = tokio::join!(consumer.process(&event, &invocation), holder_finishes);

    finished.unwrap();
    assert_eq!(report.outcome, Outcome::Patched);
}

#[tokio::test]
async fn the_report_serialises_to_the_invoke_contract() {
    let server = MockServer::start().await;
    let report = consumer(&server)
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
    let server = genesys_with_token().await;
    mount_interaction(&server, interaction_json(INTERACTION, json!({})), 1).await;
    mount_patch(&server, 502, 1).await;
    let store = Arc::new(InMemoryDedupStore::default());
    let mut settings = PipelineSettings::new(disposition());
    settings.lease_margin = std::time::Duration::from_secs(3);
    let consumer =
        gev_consumer::consumer::Consumer::new(store.clone(), Arc::new(client(&server)), settings);

    let report = consumer
        .process(&seed_event("e", INTERACTION, "1"), &invocation("r"))
        .await;

    assert_eq!(report.outcome.name(), "failed");
    let target = gev_core::domain::TargetKey::from_trusted(format!("target#seed#{INTERACTION}"));
    let held_for = store.lease_end(&target).await.unwrap().expect("held") - now_epoch_ms();
    assert!(
        (2_000..=3_000).contains(&held_for),
        "held {held_for} ms more, not released and not to the deadline"
    );
}
