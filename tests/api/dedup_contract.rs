//! One contract for every dedup adapter, so they cannot drift apart.

use gev_consumer::dedup::{
    AgentFacts, ClaimOutcome, ClaimRequest, DedupError, DedupStore, InMemoryDedupStore, Lease,
    OwnerToken,
};
use gev_core::deadline::now_epoch_ms;
use gev_core::domain::{DedupKey, EffectKey, EventKey, ParticipantId, TargetKey};
use std::sync::Arc;
use std::time::Duration;

/// A target no other test (or earlier run against a shared table) uses.
fn unique_target(name: &str) -> TargetKey {
    TargetKey::from_trusted(format!("contract#{name}#{:016x}", fastrand::u64(..)))
}

fn key(target: &TargetKey, event: &str) -> DedupKey {
    DedupKey::from_trusted(target.as_str(), event)
}

fn claim(key: &DedupKey, owner: &str, lease: Duration) -> ClaimRequest {
    let now = now_epoch_ms();
    ClaimRequest {
        key: key.clone(),
        owner: OwnerToken::new(owner),
        lease_until_ms: now + lease.as_millis() as i64,
        expires_at_s: now / 1_000 + 3_600,
        payload_hash: "payload-a".into(),
    }
}

const LONG: Duration = Duration::from_secs(60);
const SHORT: Duration = Duration::from_millis(300);

/// Claims `request`, which must be granted.
async fn leased(store: &Arc<dyn DedupStore>, request: &ClaimRequest) -> Lease {
    match store.claim(request).await.unwrap() {
        ClaimOutcome::Claimed(lease) => lease,
        other => panic!("expected a lease, got {other:?}"),
    }
}

/// Claims and completes `request` with `outcome`.
async fn completed(
    store: &Arc<dyn DedupStore>,
    request: &ClaimRequest,
    outcome: &str,
    applied: Option<&EffectKey>,
) {
    let lease = leased(store, request).await;
    store
        .complete(request, &lease, outcome, applied)
        .await
        .unwrap();
}

pub(crate) async fn a_first_claim_leases_the_target(store: Arc<dyn DedupStore>) {
    let target = unique_target("first");

    let outcome = store
        .claim(&claim(&key(&target, "e1"), "a", LONG))
        .await
        .unwrap();

    assert_eq!(outcome, ClaimOutcome::Claimed(Lease::default()));
    assert!(store.lease_end(&target).await.unwrap().is_some());
}

pub(crate) async fn a_completed_event_is_a_duplicate_with_its_outcome(store: Arc<dyn DedupStore>) {
    let target = unique_target("completed");
    let event = key(&target, "e1");
    completed(&store, &claim(&event, "a", LONG), "patched", None).await;

    let again = store.claim(&claim(&event, "b", LONG)).await.unwrap();

    assert_eq!(
        again,
        ClaimOutcome::Completed {
            outcome: "patched".into(),
            same_payload: true
        }
    );
}

pub(crate) async fn another_event_of_a_leased_target_is_told_when_the_lease_ends(
    store: Arc<dyn DedupStore>,
) {
    let target = unique_target("leased");
    let first = claim(&key(&target, "e1"), "a", LONG);
    leased(&store, &first).await;

    let other_event = store
        .claim(&claim(&key(&target, "e2"), "b", LONG))
        .await
        .unwrap();
    let same_event = store.claim(&claim(&first.key, "c", LONG)).await.unwrap();

    let expected = ClaimOutcome::Leased {
        lease_until_ms: first.lease_until_ms,
    };
    assert_eq!(other_event, expected);
    assert_eq!(same_event, expected);
    assert_eq!(
        store.lease_end(&target).await.unwrap(),
        Some(first.lease_until_ms)
    );
}

pub(crate) async fn a_completed_target_is_leased_to_its_next_event_with_the_writes_made(
    store: Arc<dyn DedupStore>,
) {
    let target = unique_target("next-event");
    let applied = EffectKey::interaction();
    completed(
        &store,
        &claim(&key(&target, "e1"), "a", LONG),
        "patched",
        Some(&applied),
    )
    .await;

    let next = store
        .claim(&claim(&key(&target, "e2"), "b", LONG))
        .await
        .unwrap();

    assert_eq!(
        next,
        ClaimOutcome::Claimed(Lease {
            took_over: false,
            applied: vec![applied],
            stale_events: vec![],
            facts: Default::default(),
        })
    );
}

pub(crate) async fn an_expired_lease_is_taken_over(store: Arc<dyn DedupStore>) {
    let target = unique_target("takeover");
    store
        .claim(&claim(&key(&target, "e1"), "a", SHORT))
        .await
        .unwrap();
    tokio::time::sleep(SHORT + Duration::from_millis(200)).await;

    assert_eq!(store.lease_end(&target).await.unwrap(), None);
    let again = store
        .claim(&claim(&key(&target, "e2"), "b", LONG))
        .await
        .unwrap();

    assert!(
        matches!(&again, ClaimOutcome::Claimed(lease) if lease.took_over),
        "{again:?}"
    );
}

pub(crate) async fn a_claim_repeated_by_its_owner_is_granted_again(store: Arc<dyn DedupStore>) {
    let target = unique_target("repeated-claim");
    let request = claim(&key(&target, "e1"), "owner-1", LONG);
    leased(&store, &request).await;

    // The SDK sent the claim again after its first answer was lost.
    let repeated = store.claim(&request).await.unwrap();
    let other = store
        .claim(&claim(&key(&target, "e2"), "owner-2", LONG))
        .await
        .unwrap();

    assert!(
        matches!(&repeated, ClaimOutcome::Claimed(lease) if !lease.took_over),
        "{repeated:?}"
    );
    assert!(matches!(other, ClaimOutcome::Leased { .. }), "{other:?}");
}

pub(crate) async fn a_late_owner_cannot_complete_after_a_takeover(store: Arc<dyn DedupStore>) {
    let target = unique_target("fenced-complete");
    let late = claim(&key(&target, "e1"), "late", SHORT);
    let late_lease = leased(&store, &late).await;
    tokio::time::sleep(SHORT + Duration::from_millis(200)).await;
    let successor = claim(&key(&target, "e2"), "successor", LONG);
    leased(&store, &successor).await;

    let result = store
        .complete(
            &late,
            &late_lease,
            "patched",
            Some(&EffectKey::interaction()),
        )
        .await;

    assert!(
        matches!(result, Err(DedupError::LeaseLost { .. })),
        "{result:?}"
    );
    let observed = store.claim(&claim(&late.key, "third", LONG)).await.unwrap();
    assert!(
        matches!(observed, ClaimOutcome::Leased { .. }),
        "the late completion was not recorded: {observed:?}"
    );
}

pub(crate) async fn a_late_owner_cannot_release_after_a_takeover(store: Arc<dyn DedupStore>) {
    let target = unique_target("fenced-release");
    let late = claim(&key(&target, "e1"), "late", SHORT);
    leased(&store, &late).await;
    tokio::time::sleep(SHORT + Duration::from_millis(200)).await;
    let successor = claim(&key(&target, "e1"), "successor", LONG);
    let lease = leased(&store, &successor).await;

    let result = store.release(&late).await;

    assert!(
        matches!(result, Err(DedupError::LeaseLost { .. })),
        "{result:?}"
    );
    store
        .complete(&successor, &lease, "patched", None)
        .await
        .unwrap();
}

pub(crate) async fn a_released_event_can_be_claimed_again(store: Arc<dyn DedupStore>) {
    let target = unique_target("released");
    let first = claim(&key(&target, "e1"), "a", LONG);
    leased(&store, &first).await;
    store.release(&first).await.unwrap();

    assert_eq!(store.lease_end(&target).await.unwrap(), None);
    let again = store.claim(&claim(&first.key, "b", LONG)).await.unwrap();

    assert_eq!(again, ClaimOutcome::Claimed(Lease::default()));
}

pub(crate) async fn a_held_lease_keeps_other_events_out_until_its_new_end(
    store: Arc<dyn DedupStore>,
) {
    let target = unique_target("held");
    let first = claim(&key(&target, "e1"), "a", LONG);
    leased(&store, &first).await;
    let until = now_epoch_ms() + SHORT.as_millis() as i64;

    store.hold_until(&first, until).await.unwrap();

    assert_eq!(store.lease_end(&target).await.unwrap(), Some(until));
    let during = store
        .claim(&claim(&key(&target, "e2"), "b", LONG))
        .await
        .unwrap();
    assert_eq!(
        during,
        ClaimOutcome::Leased {
            lease_until_ms: until
        }
    );
    tokio::time::sleep(SHORT + Duration::from_millis(200)).await;
    let after = store.claim(&claim(&first.key, "c", LONG)).await.unwrap();
    assert!(
        matches!(&after, ClaimOutcome::Claimed(lease) if lease.took_over),
        "the held event is processed again after the hold: {after:?}"
    );
    let late = store.hold_until(&first, until).await;
    assert!(
        matches!(late, Err(DedupError::LeaseLost { .. })),
        "{late:?}"
    );
}

pub(crate) async fn a_completed_event_cannot_be_released(store: Arc<dyn DedupStore>) {
    let target = unique_target("completed-release");
    let first = claim(&key(&target, "e1"), "a", LONG);
    completed(&store, &first, "patched", None).await;

    let released = store.release(&first).await;

    assert!(
        matches!(released, Err(DedupError::LeaseLost { .. })),
        "{released:?}"
    );
    let again = store.claim(&claim(&first.key, "b", LONG)).await.unwrap();
    assert!(matches!(again, ClaimOutcome::Completed { .. }));
}

pub(crate) async fn an_expired_completion_and_write_are_forgotten(store: Arc<dyn DedupStore>) {
    let target = unique_target("expired");
    let mut old = claim(&key(&target, "e1"), "a", LONG);
    old.expires_at_s = now_epoch_ms() / 1_000 - 10;
    completed(&store, &old, "patched", Some(&EffectKey::interaction())).await;

    let again = store.claim(&claim(&old.key, "b", LONG)).await.unwrap();

    assert_eq!(again, ClaimOutcome::Claimed(Lease::default()));
}

pub(crate) async fn a_different_payload_under_a_completed_key_is_reported(
    store: Arc<dyn DedupStore>,
) {
    let target = unique_target("mismatch");
    let first = claim(&key(&target, "e1"), "a", LONG);
    completed(&store, &first, "ineligible", None).await;
    let mut other = claim(&first.key, "b", LONG);
    other.payload_hash = "payload-b".into();

    let again = store.claim(&other).await.unwrap();

    assert_eq!(
        again,
        ClaimOutcome::Completed {
            outcome: "ineligible".into(),
            same_payload: false
        }
    );
}

pub(crate) async fn exactly_one_of_32_concurrent_events_of_one_target_wins(
    store: Arc<dyn DedupStore>,
) {
    let target = unique_target("race");
    let claims = (0..32).map(|n| {
        let store = store.clone();
        let request = claim(&key(&target, &format!("e{n}")), &format!("owner-{n}"), LONG);
        tokio::spawn(async move { store.claim(&request).await })
    });
    let mut winners = 0;
    for claim in claims {
        match claim.await.unwrap().unwrap() {
            ClaimOutcome::Claimed(_) => winners += 1,
            ClaimOutcome::Leased { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners, 1);
}

pub(crate) async fn facts_noted_for_an_agent_come_with_the_next_lease_of_its_target(
    store: Arc<dyn DedupStore>,
) {
    let target = unique_target("facts");
    let agent = ParticipantId::parse("agent-1").unwrap();
    let expires_at_s = now_epoch_ms() / 1_000 + 3_600;

    store
        .note_facts(
            &target,
            &agent,
            AgentFacts {
                interacting_ms: 120_000,
            },
            expires_at_s,
        )
        .await
        .unwrap();
    store
        .note_facts(
            &target,
            &ParticipantId::parse("agent-2").unwrap(),
            AgentFacts { interacting_ms: 5 },
            now_epoch_ms() / 1_000 - 10,
        )
        .await
        .unwrap();
    let lease = leased(&store, &claim(&key(&target, "acw"), "a", LONG)).await;

    assert_eq!(
        lease.facts.get("agent-1"),
        Some(&AgentFacts {
            interacting_ms: 120_000
        })
    );
    assert!(
        !lease.facts.contains_key("agent-2"),
        "an expired fact is not handed over"
    );
}

pub(crate) async fn what_a_target_holds_can_be_read_without_touching_its_lease(
    store: Arc<dyn DedupStore>,
) {
    let target = unique_target("inspect");
    let agent = EffectKey::participant(&ParticipantId::parse("agent-1").unwrap());
    completed(
        &store,
        &claim(&key(&target, "e1"), "a", LONG),
        "ineligible",
        None,
    )
    .await;
    completed(
        &store,
        &claim(&key(&target, "e2"), "a", LONG),
        "patched",
        Some(&agent),
    )
    .await;
    leased(&store, &claim(&key(&target, "e3"), "b", LONG)).await;

    let known = store.inspect(&target).await.unwrap();
    let never_seen = store
        .inspect(&unique_target("inspect-unknown"))
        .await
        .unwrap();

    assert_eq!(known.applied, [agent]);
    assert_eq!(
        known.completed,
        [EventKey::from_trusted("e1"), EventKey::from_trusted("e2")]
    );
    assert!(known.leased, "e3 holds the lease");
    assert!(never_seen.is_unknown());
    assert!(
        store.lease_end(&target).await.unwrap().is_some(),
        "reading the target leaves its lease alone"
    );
}

/// Generates one `#[tokio::test]` per contract case for an adapter made by `$make`, an async
/// expression giving `Option<Arc<dyn DedupStore>>` (`None`: the adapter's server is absent).
#[macro_export]
macro_rules! dedup_contract_tests {
    ($make:expr) => {
        $crate::dedup_contract_tests!(@cases $make;
            a_first_claim_leases_the_target,
            a_completed_event_is_a_duplicate_with_its_outcome,
            another_event_of_a_leased_target_is_told_when_the_lease_ends,
            a_completed_target_is_leased_to_its_next_event_with_the_writes_made,
            an_expired_lease_is_taken_over,
            a_claim_repeated_by_its_owner_is_granted_again,
            a_late_owner_cannot_complete_after_a_takeover,
            a_late_owner_cannot_release_after_a_takeover,
            a_released_event_can_be_claimed_again,
            a_held_lease_keeps_other_events_out_until_its_new_end,
            a_completed_event_cannot_be_released,
            an_expired_completion_and_write_are_forgotten,
            a_different_payload_under_a_completed_key_is_reported,
            exactly_one_of_32_concurrent_events_of_one_target_wins,
            facts_noted_for_an_agent_come_with_the_next_lease_of_its_target,
            what_a_target_holds_can_be_read_without_touching_its_lease,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some(store) = $make.await else { return };
                $crate::dedup_contract::$case(store).await;
            }
        )*
    };
}

mod in_memory {
    async fn store() -> Option<std::sync::Arc<dyn gev_consumer::dedup::DedupStore>> {
        Some(std::sync::Arc::new(super::InMemoryDedupStore::default()))
    }
    crate::dedup_contract_tests!(store());
}

mod dynamodb {
    crate::dedup_contract_tests!(crate::helpers::dynamodb_store());
}
