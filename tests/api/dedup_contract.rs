//! One contract for every dedup adapter, so they cannot drift apart.

use genesys_eventbridge::deadline::now_epoch_ms;
use genesys_eventbridge::dedup::{
    ClaimOutcome, ClaimRequest, DedupError, DedupStore, InMemoryDedupStore, OwnerToken,
};
use genesys_eventbridge::domain::DedupKey;
use std::sync::Arc;
use std::time::Duration;

/// A key no other test (or earlier run against a shared table) uses.
fn unique_key(name: &str) -> DedupKey {
    DedupKey::from_trusted(format!("contract#{name}#{:016x}", fastrand::u64(..)))
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

pub async fn a_first_claim_owns_the_key(store: Arc<dyn DedupStore>) {
    let key = unique_key("first");
    let outcome = store.claim(&claim(&key, "a", LONG)).await.unwrap();
    assert_eq!(outcome, ClaimOutcome::Claimed { took_over: false });
}

pub async fn a_completed_key_is_a_duplicate_with_its_outcome(store: Arc<dyn DedupStore>) {
    let key = unique_key("completed");
    store.claim(&claim(&key, "a", LONG)).await.unwrap();
    store
        .complete(&key, &OwnerToken::new("a"), "patched")
        .await
        .unwrap();

    let again = store.claim(&claim(&key, "b", LONG)).await.unwrap();

    assert_eq!(
        again,
        ClaimOutcome::Completed {
            outcome: "patched".into(),
            same_payload: true
        }
    );
}

pub async fn a_key_in_progress_is_reported_in_progress(store: Arc<dyn DedupStore>) {
    let key = unique_key("in-progress");
    let first = claim(&key, "a", LONG);
    store.claim(&first).await.unwrap();

    let again = store.claim(&claim(&key, "b", LONG)).await.unwrap();

    assert_eq!(
        again,
        ClaimOutcome::InProgress {
            lease_until_ms: first.lease_until_ms
        }
    );
}

pub async fn an_expired_lease_is_taken_over(store: Arc<dyn DedupStore>) {
    let key = unique_key("takeover");
    store.claim(&claim(&key, "a", SHORT)).await.unwrap();
    tokio::time::sleep(SHORT + Duration::from_millis(200)).await;

    let again = store.claim(&claim(&key, "b", LONG)).await.unwrap();

    assert_eq!(again, ClaimOutcome::Claimed { took_over: true });
}

pub async fn a_late_owner_cannot_complete_after_a_takeover(store: Arc<dyn DedupStore>) {
    let key = unique_key("fenced-complete");
    store.claim(&claim(&key, "late", SHORT)).await.unwrap();
    tokio::time::sleep(SHORT + Duration::from_millis(200)).await;
    store.claim(&claim(&key, "successor", LONG)).await.unwrap();

    let late = store
        .complete(&key, &OwnerToken::new("late"), "patched")
        .await;

    assert!(
        matches!(late, Err(DedupError::LeaseLost { .. })),
        "{late:?}"
    );
    let observed = store.claim(&claim(&key, "third", LONG)).await.unwrap();
    assert!(
        matches!(observed, ClaimOutcome::InProgress { .. }),
        "{observed:?}"
    );
}

pub async fn a_late_owner_cannot_release_after_a_takeover(store: Arc<dyn DedupStore>) {
    let key = unique_key("fenced-release");
    store.claim(&claim(&key, "late", SHORT)).await.unwrap();
    tokio::time::sleep(SHORT + Duration::from_millis(200)).await;
    store.claim(&claim(&key, "successor", LONG)).await.unwrap();

    let late = store.release(&key, &OwnerToken::new("late")).await;

    assert!(
        matches!(late, Err(DedupError::LeaseLost { .. })),
        "{late:?}"
    );
    store
        .complete(&key, &OwnerToken::new("successor"), "patched")
        .await
        .unwrap();
}

pub async fn a_released_key_can_be_claimed_again(store: Arc<dyn DedupStore>) {
    let key = unique_key("released");
    store.claim(&claim(&key, "a", LONG)).await.unwrap();
    store.release(&key, &OwnerToken::new("a")).await.unwrap();

    let again = store.claim(&claim(&key, "b", LONG)).await.unwrap();

    assert_eq!(again, ClaimOutcome::Claimed { took_over: false });
}

pub async fn a_completed_record_cannot_be_released(store: Arc<dyn DedupStore>) {
    let key = unique_key("completed-release");
    store.claim(&claim(&key, "a", LONG)).await.unwrap();
    store
        .complete(&key, &OwnerToken::new("a"), "patched")
        .await
        .unwrap();

    let released = store.release(&key, &OwnerToken::new("a")).await;

    assert!(
        matches!(released, Err(DedupError::LeaseLost { .. })),
        "{released:?}"
    );
    let again = store.claim(&claim(&key, "b", LONG)).await.unwrap();
    assert!(matches!(again, ClaimOutcome::Completed { .. }));
}

pub async fn an_expired_record_is_reused(store: Arc<dyn DedupStore>) {
    let key = unique_key("expired");
    let mut old = claim(&key, "a", LONG);
    old.expires_at_s = now_epoch_ms() / 1_000 - 10;
    store.claim(&old).await.unwrap();
    store
        .complete(&key, &OwnerToken::new("a"), "patched")
        .await
        .unwrap();

    let again = store.claim(&claim(&key, "b", LONG)).await.unwrap();

    assert_eq!(again, ClaimOutcome::Claimed { took_over: false });
}

pub async fn a_different_payload_under_a_completed_key_is_reported(store: Arc<dyn DedupStore>) {
    let key = unique_key("mismatch");
    store.claim(&claim(&key, "a", LONG)).await.unwrap();
    store
        .complete(&key, &OwnerToken::new("a"), "ineligible")
        .await
        .unwrap();
    let mut other = claim(&key, "b", LONG);
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

pub async fn exactly_one_of_32_concurrent_claims_wins(store: Arc<dyn DedupStore>) {
    let key = unique_key("race");
    let claims = (0..32).map(|n| {
        let store = store.clone();
        let request = claim(&key, &format!("owner-{n}"), LONG);
        tokio::spawn(async move { store.claim(&request).await })
    });
    let mut winners = 0;
    for claim in claims {
        match claim.await.unwrap().unwrap() {
            ClaimOutcome::Claimed { .. } => winners += 1,
            ClaimOutcome::InProgress { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners, 1);
}

/// Generates one `#[tokio::test]` per contract case for an adapter made by `$make`, an async
/// expression giving `Option<Arc<dyn DedupStore>>` (`None`: the adapter's server is absent).
#[macro_export]
macro_rules! dedup_contract_tests {
    ($make:expr) => {
        $crate::dedup_contract_tests!(@cases $make;
            a_first_claim_owns_the_key,
            a_completed_key_is_a_duplicate_with_its_outcome,
            a_key_in_progress_is_reported_in_progress,
            an_expired_lease_is_taken_over,
            a_late_owner_cannot_complete_after_a_takeover,
            a_late_owner_cannot_release_after_a_takeover,
            a_released_key_can_be_claimed_again,
            a_completed_record_cannot_be_released,
            an_expired_record_is_reused,
            a_different_payload_under_a_completed_key_is_reported,
            exactly_one_of_32_concurrent_claims_wins,
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
    async fn store() -> Option<std::sync::Arc<dyn genesys_eventbridge::dedup::DedupStore>> {
        Some(std::sync::Arc::new(super::InMemoryDedupStore::default()))
    }
    crate::dedup_contract_tests!(store());
}

mod dynamodb {
    crate::dedup_contract_tests!(crate::helpers::dynamodb_store());
}
