//! Chaos: duplicate deliveries, redeliveries of failed events, injected Genesys faults, a token
//! outage and invocations frozen at their deadline that wake as zombies, with the result checked
//! from the simulator's own write counts.

use crate::helpers::{dynamodb_store, sim_client};
use gev_consumer::consumer::{Consumer, PipelineSettings};
use gev_consumer::dedup::{DedupStore, InMemoryDedupStore};
use gev_core::domain::DispositionCodeId;
use gev_genesys::{HttpSettings, RetryPolicy};
use gev_sim::platform::{DeliveryOptions, Freeze, deliver};
use gev_sim::workload::WorkloadSpec;
use gev_sim::{Faults, SimConfig, Simulator};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const INSTANCES: usize = 8;

/// Each invocation's budget (the function timeout) in the chaos runs.
const BUDGET: Duration = Duration::from_secs(1);
/// The lease margin past the deadline in the chaos runs (10 s in production).
const LEASE_MARGIN: Duration = Duration::from_millis(300);

/// One Lambda instance: its own HTTP client (short timeouts, fast retries) over `store`.
fn instance(base_url: &str, store: Arc<dyn DedupStore>) -> Consumer {
    let mut settings = PipelineSettings::new(DispositionCodeId::parse("chaos-code").unwrap());
    settings.lease_margin = LEASE_MARGIN;
    // Both end events of a call race for its agent, as the harshest case.
    settings.wrapup_on_customer_end = true;
    consumer_over(base_url, store, settings, Duration::from_millis(150))
}

/// A consumer over `store` whose client times out after `request_timeout` and retries fast.
fn consumer_over(
    base_url: &str,
    store: Arc<dyn DedupStore>,
    settings: PipelineSettings,
    request_timeout: Duration,
) -> Consumer {
    let http = HttpSettings {
        request_timeout,
        max_requests_per_second: None,
        token_refresh_margin: Duration::from_secs(30),
        retry: RetryPolicy {
            backoff_base: Duration::from_millis(5),
            backoff_max: Duration::from_millis(20),
            ..RetryPolicy::default()
        },
    };
    Consumer::new(store, Arc::new(sim_client(base_url, http)), settings)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_faults_and_duplicates_every_eligible_target_gets_exactly_one_disposition() {
    let shared: Arc<dyn DedupStore> = Arc::new(InMemoryDedupStore::default());
    run_chaos(vec![shared; INSTANCES], "mem", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_dynamodb_dedup_every_eligible_target_gets_exactly_one_disposition() {
    let mut stores = Vec::new();
    for _ in 0..INSTANCES {
        // One adapter (and local cache) per instance, one table for all, as in production.
        let Some(store) = dynamodb_store().await else {
            return;
        };
        stores.push(store);
    }
    // A third of the load: DynamoDB Local takes about 1,400 conditional writes a second.
    run_chaos(stores, &format!("ddb{:08x}", fastrand::u32(..)), 3).await;
}

/// Delivers a workload (divided by `divisor`) with 30 % duplicates through instances over
/// `stores` against a simulator injecting every kind of fault, then checks the simulator's write
/// counts.
async fn run_chaos(stores: Vec<Arc<dyn DedupStore>>, prefix: &str, divisor: usize) {
    // Arrange
    let workload = WorkloadSpec {
        eligible_calls: 300 / divisor,
        ineligible_calls: 100 / divisor,
        eligible_conversations: 100 / divisor,
        events_per_target: 2,
        duplicate_share: 0.3,
        prefix: prefix.into(),
        seed: 7,
    }
    .generate();
    let simulator = Simulator::new(SimConfig::default());
    simulator.seed(workload.seed_data.clone()).unwrap();
    let sim = simulator
        .spawn("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let consumers = stores
        .into_iter()
        .map(|store| instance(&sim.base_url(), store))
        .collect();
    let deliveries = workload.deliveries.len();
    // The faults (and the token outage's clock) start when the instances are ready.
    sim.simulator.set_faults(Faults {
        seed: 20261123,
        rate_limited: 0.05,
        retry_after_seconds: 0.0,
        server_error: 0.05,
        token_revoked: 0.02,
        conflict: 0.03,
        slow: 0.03,
        slow_ms: 20,
        timeout: 0.02,
        timeout_ms: 400,
        bad_gateway_after_write: 0.03,
        server_error_after_write: 0.03,
        token_refused_ms: 300,
    });

    // Act
    let options = DeliveryOptions {
        invocation_budget: BUDGET,
        // Invocations still running 60 ms in (waiting on a held answer, a retry) are frozen
        // half the time and wake after their lease has ended.
        freeze: Some(Freeze {
            share: 0.5,
            after: Duration::from_millis(60),
            wake_after: BUDGET + LEASE_MARGIN * 2,
            seed: 5,
        }),
        ..DeliveryOptions::default()
    };
    let run = deliver(consumers, workload.deliveries.clone(), options).await;

    // Assert, from the simulator's counts rather than the consumer's own reports.
    let counts = sim.simulator.patch_counts();
    let (_, injected) = sim.simulator.faults();
    let mut outcomes = BTreeMap::<&str, usize>::new();
    for report in &run.reports {
        *outcomes.entry(report.outcome.name()).or_default() += 1;
    }
    eprintln!(
        "chaos ({prefix}): {deliveries} deliveries, {} redelivered, {} zombies, in {:?}; outcomes {outcomes:?}; injected {injected:?}",
        run.redeliveries, run.zombies, run.elapsed
    );
    assert!(run.zombies > 0, "no invocation was frozen");
    assert!(
        run.dead_letters.is_empty(),
        "dead-lettered: {:?}",
        run.dead_letters
    );
    assert_eq!(
        run.reports.len(),
        deliveries,
        "every delivery ended in a terminal outcome"
    );
    for id in &workload.eligible_calls {
        let count = counts.get(id).copied().unwrap_or_default();
        assert_eq!(count.applied + count.foreign, 1, "{id}: {count:?}");
    }
    for key in &workload.eligible_agents {
        let count = counts.get(key).copied().unwrap_or_default();
        assert_eq!(count.applied + count.foreign, 1, "{key}: {count:?}");
    }
    for key in workload.ineligible_calls.iter().chain(&workload.customers) {
        assert!(!counts.contains_key(key), "{key} was written to");
    }
    for kind in [
        "rateLimited",
        "serverError",
        "tokenRevoked",
        "conflict",
        "slow",
        "timeout",
        "badGatewayAfterWrite",
        "serverErrorAfterWrite",
        "tokenRefused",
    ] {
        assert!(
            injected.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} fault was injected"
        );
    }
    assert!(outcomes.get("duplicate").copied().unwrap_or(0) >= workload.duplicates);
}

/// Two *different* events of each target, started 20 ms apart on two instances, while every
/// write is applied and answered 502 and every read answers what it saw 100 ms earlier: the
/// second event must never act on the stale read after the first one's write.
async fn run_race(stores: [Arc<dyn DedupStore>; 2], prefix: &str, targets: usize) {
    // Arrange
    let workload = WorkloadSpec {
        eligible_calls: targets,
        ineligible_calls: 0,
        eligible_conversations: targets,
        events_per_target: 2,
        duplicate_share: 0.0,
        prefix: prefix.into(),
        seed: 11,
    }
    .generate();
    let behaviour = serde_json::json!({"staleReadMs": 100, "statusAfterWrite": 502});
    let mut seed = workload.seed_data.clone();
    for entry in seed.interactions.iter_mut().chain(&mut seed.conversations) {
        entry.insert("x-sim".into(), behaviour.clone());
    }
    let simulator = Simulator::new(SimConfig::default());
    simulator.seed(seed).unwrap();
    let sim = simulator
        .spawn("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut settings = PipelineSettings::new(DispositionCodeId::parse("race-code").unwrap());
    settings.lease_margin = Duration::from_millis(200);
    settings.wrapup_on_customer_end = true;
    let [first, second] = stores.map(|store| {
        consumer_over(
            &sim.base_url(),
            store,
            settings.clone(),
            Duration::from_millis(400),
        )
    });
    let mut pairs: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for event in &workload.deliveries {
        let target = gev_core::parse::ordering_key(event).unwrap();
        pairs.entry(target).or_default().push(event.clone());
    }

    // Act: each pair raced, then whatever failed delivered again until terminal.
    let races = pairs.into_values().map(|pair| {
        let (first, second) = (first.clone(), second.clone());
        async move {
            let budget = Duration::from_secs(1);
            let (a, b) = (pair[0].clone(), pair[1].clone());
            let late = async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                deliver_until_terminal(&second, &b, budget).await
            };
            tokio::join!(deliver_until_terminal(&first, &a, budget), late)
        }
    });
    let outcomes = futures_util::future::join_all(races).await;

    // Assert
    let counts = sim.simulator.patch_counts();
    for (a, b) in &outcomes {
        assert!(a.is_terminal() && b.is_terminal(), "{a:?} / {b:?}");
    }
    for key in workload
        .eligible_calls
        .iter()
        .chain(&workload.eligible_agents)
    {
        let count = counts.get(key).copied().unwrap_or_default();
        assert_eq!(count.applied, 1, "{key}: {count:?}");
    }
}

/// Processes `event` until its outcome is terminal (at most 20 deliveries, 150 ms apart).
async fn deliver_until_terminal(
    consumer: &Consumer,
    event: &serde_json::Value,
    budget: Duration,
) -> gev_core::domain::Outcome {
    let mut outcome = None;
    for delivery in 0..20 {
        let invocation = gev_consumer::consumer::Invocation {
            owner: gev_consumer::dedup::OwnerToken::new(format!(
                "race-{}-{delivery}",
                fastrand::u64(..)
            )),
            deadline: gev_core::deadline::Deadline::after(budget),
        };
        let report = consumer.process(event, &invocation).await;
        if report.outcome.is_terminal() {
            return report.outcome;
        }
        outcome = Some(report.outcome);
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    outcome.expect("at least one delivery")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_events_of_one_target_racing_while_the_first_write_answers_502_write_once() {
    let shared: Arc<dyn DedupStore> = Arc::new(InMemoryDedupStore::default());
    run_race([shared.clone(), shared], "race-mem", 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_dynamodb_two_events_of_one_target_racing_while_the_first_write_answers_502_write_once()
{
    let (Some(one), Some(two)) = (dynamodb_store().await, dynamodb_store().await) else {
        return;
    };
    run_race([one, two], &format!("race{:08x}", fastrand::u32(..)), 10).await;
}
