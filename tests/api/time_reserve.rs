//! The time reserve: no request, wait or retry runs into the last part of an invocation, so the
//! dedup claim is finished and the response returned before the deadline.

use crate::fixtures::{ConsumerBuilder, GenesysMock, rate_limited};
use crate::helpers::*;
use gev_consumer::consumer::{Consumer, Invocation};
use gev_consumer::dedup::{ClaimOutcome, DedupStore, InMemoryDedupStore, OwnerToken};
use gev_consumer::lambda;
use gev_core::deadline::Deadline;
use gev_genesys::HttpSettings;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wiremock::ResponseTemplate;

/// An invocation of `budget`, as Lambda would give it.
fn invocation_of(budget: Duration) -> Invocation {
    Invocation {
        owner: OwnerToken::new(format!("req-{:08x}", fastrand::u32(..))),
        deadline: Deadline::after(budget),
    }
}

/// A consumer whose requests may take far longer than the invocation (30 s timeout).
fn patient_consumer(genesys: &GenesysMock, store: Arc<InMemoryDedupStore>) -> Consumer {
    let settings = HttpSettings {
        request_timeout: Duration::from_secs(30),
        ..fast_settings()
    };
    ConsumerBuilder::over(Arc::new(genesys.client_with(settings)))
        .store(store)
        .build()
}

#[tokio::test]
async fn a_genesys_that_never_answers_still_lets_the_invocation_answer_in_time() {
    let never = ResponseTemplate::new(200).set_delay(Duration::from_secs(20));
    let genesys = GenesysMock::ready()
        .interaction_answer(never, 0)
        .uncounted()
        .await;
    let store = Arc::new(InMemoryDedupStore::default());
    let consumer = patient_consumer(&genesys, store.clone());
    let budget = Duration::from_secs(3);
    let invocation = invocation_of(budget);
    let event = seed_event("e-1", INTERACTION, "1");
    let started = Instant::now();

    let handled = lambda::handle(&consumer, json!([event]), &invocation).await;

    let elapsed = started.elapsed();
    assert!(
        elapsed < budget - Duration::from_millis(500),
        "answered after {elapsed:?}"
    );
    assert_eq!(handled.reports[0].outcome.name(), "failed");
    // The lease was released in the reserve: the redelivery can claim the target at once.
    let target = gev_core::domain::TargetKey::from_trusted(format!("target#seed#{INTERACTION}"));
    assert_eq!(store.lease_end(&target).await.unwrap(), None);
}

#[tokio::test]
async fn a_retry_after_that_reaches_into_the_reserve_is_not_waited_for() {
    let genesys = GenesysMock::ready()
        .interaction_answer(rate_limited("2"), 1)
        .await;
    let consumer = genesys.consumer();
    // 3 s: the reserve is 1.5 s, so a 2 s wait cannot fit before the work's deadline.
    let invocation = invocation_of(Duration::from_secs(3));
    let started = Instant::now();

    let report = consumer
        .process(&seed_event("e-1", INTERACTION, "1"), &invocation)
        .await;

    assert_eq!(report.outcome.name(), "failed");
    assert!(started.elapsed() < Duration::from_millis(500));
}

#[tokio::test]
async fn a_claim_that_cannot_finish_in_time_leaves_the_event_failed_not_lost() {
    let store = Arc::new(InMemoryDedupStore::default());
    let genesys = GenesysMock::builder().await;
    let consumer = patient_consumer(&genesys, store.clone());
    // No time left at all: the work's deadline has passed before the event starts.
    let invocation = invocation_of(Duration::ZERO);

    let report = consumer
        .process(&seed_event("e-1", INTERACTION, "1"), &invocation)
        .await;

    assert_eq!(report.outcome.name(), "failed");
    let claim = store
        .claim(&gev_consumer::dedup::ClaimRequest {
            key: gev_core::domain::DedupKey::from_trusted(
                format!("target#seed#{INTERACTION}"),
                "seq#1",
            ),
            owner: OwnerToken::new("next"),
            lease_until_ms: gev_core::deadline::now_epoch_ms() + 60_000,
            expires_at_s: gev_core::deadline::now_epoch_ms() / 1_000 + 3_600,
            payload_hash: "x".into(),
        })
        .await
        .unwrap();
    assert!(
        !matches!(claim, ClaimOutcome::Completed { .. }),
        "a failed event must not be recorded: {claim:?}"
    );
}
