//! Chaos: duplicate deliveries, redeliveries of failed events and injected Genesys faults, with the
//! result checked from the simulator's own write counts.

use crate::helpers::CLIENT_ID;
use genesys_eventbridge::deadline::Deadline;
use genesys_eventbridge::dedup::OwnerToken;
use genesys_eventbridge::dedup::{DedupStore, InMemoryDedupStore};
use genesys_eventbridge::domain::DispositionCodeId;
use genesys_eventbridge::genesys::{
    ClientCredentials, Endpoints, HttpGenesysClient, HttpSettings, RetryPolicy, StaticCredentials,
};
use genesys_eventbridge::lambda;
use genesys_eventbridge::pipeline::{Consumer, Invocation, PipelineSettings};
use genesys_eventbridge::secret::Secret;
use genesys_eventbridge::sim::{Faults, SeedData, SimConfig, Simulator};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ELIGIBLE_CALLS: usize = 300;
const INELIGIBLE_CALLS: usize = 100;
const ELIGIBLE_CONVERSATIONS: usize = 100;
const DUPLICATE_SHARE: f64 = 0.3;
const INSTANCES: usize = 8;
const MAX_DELIVERIES: u32 = 12;

fn seed_interaction(id: &str, media: &str) -> Map<String, Value> {
    json!({
        "id": id, "type": media, "state": "completed",
        "metadata": {"startTime": "2026-11-23T10:00:00Z", "endTime": "2026-11-23T10:01:00Z"}
    })
    .as_object()
    .unwrap()
    .clone()
}

fn conversation(id: &str) -> Map<String, Value> {
    json!({
        "id": id,
        "participants": [
            {"id": format!("{id}-cust"), "purpose": "customer", "state": "disconnected"},
            {"id": format!("{id}-agent"), "purpose": "agent", "state": "disconnected",
             "connectedTime": "2026-11-23T10:00:00.000Z", "endTime": "2026-11-23T10:01:00.000Z",
             "afterCallWork": {"state": "pending"}, "calls": [{"id": format!("{id}-call")}]}
        ]
    })
    .as_object()
    .unwrap()
    .clone()
}

fn seed_event(n: usize, interaction: &str, sequence: u32) -> Value {
    json!({
        "version": "0", "id": format!("chaos-{n}"), "detail-type": "purecloud:v2:interaction:update",
        "source": "com.genesys.interaction",
        "detail": {"interactionId": interaction, "sequenceId": sequence, "interactionType": "voice", "state": "completed"}
    })
}

fn native_event(n: usize, conversation: &str, topic: &str, participant: &str, time: i64) -> Value {
    json!({
        "version": "0", "id": format!("chaos-{n}"),
        "detail-type": format!("v2.detail.events.conversation.{{id}}.{topic}"),
        "source": "aws.partner/genesys.com/cloud/org/chaos",
        "detail": {
            "topicName": format!("v2.detail.events.conversation.{conversation}.{topic}"),
            "eventBody": {"conversationId": conversation, "participantId": participant,
                          "mediaType": "VOICE", "eventTime": time},
            "metadata": {"CorrelationId": format!("corr-{n}")}
        }
    })
}

fn instance(base_url: &str, store: Arc<dyn DedupStore>) -> Consumer {
    let settings = HttpSettings {
        request_timeout: Duration::from_millis(150),
        max_requests_per_second: None,
        token_refresh_margin: Duration::from_secs(30),
        retry: RetryPolicy {
            backoff_base: Duration::from_millis(5),
            backoff_max: Duration::from_millis(20),
            ..RetryPolicy::default()
        },
    };
    let config = SimConfig::default();
    assert_ne!(config.client_id, CLIENT_ID);
    let client = HttpGenesysClient::new(
        Endpoints {
            api_base: base_url.to_owned(),
            login_base: base_url.to_owned(),
        },
        Arc::new(StaticCredentials(ClientCredentials {
            client_id: config.client_id,
            client_secret: Secret::new(config.client_secret),
        })),
        settings,
    )
    .unwrap();
    Consumer::new(
        store,
        Arc::new(client),
        PipelineSettings::new(DispositionCodeId::parse("chaos-code").unwrap()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_faults_and_duplicates_every_eligible_target_gets_exactly_one_disposition() {
    let shared: Arc<dyn DedupStore> = Arc::new(InMemoryDedupStore::default());
    run_chaos(vec![shared; INSTANCES], "mem").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_dynamodb_dedup_every_eligible_target_gets_exactly_one_disposition() {
    let mut stores = Vec::new();
    for _ in 0..INSTANCES {
        // One adapter (and local cache) per instance, one table for all, as in production.
        let Some(store) = crate::helpers::dynamodb_store().await else {
            return;
        };
        stores.push(store);
    }
    run_chaos(stores, &format!("ddb{:08x}", fastrand::u32(..))).await;
}

/// Runs the deliveries through one consumer per store (each a Lambda instance) and checks the
/// simulator's counts. `prefix` keeps ids apart between runs against one table.
async fn run_chaos(stores: Vec<Arc<dyn DedupStore>>, prefix: &str) {
    // Arrange: a simulator with seeded faults, and the deliveries a platform would make.
    let simulator = Simulator::new(SimConfig::default());
    let calls: Vec<String> = (0..ELIGIBLE_CALLS)
        .map(|n| format!("{prefix}-call-{n}"))
        .collect();
    let chats: Vec<String> = (0..INELIGIBLE_CALLS)
        .map(|n| format!("{prefix}-chat-{n}"))
        .collect();
    let conversations: Vec<String> = (0..ELIGIBLE_CONVERSATIONS)
        .map(|n| format!("{prefix}-conv-{n}"))
        .collect();
    simulator
        .seed(SeedData {
            interactions: calls
                .iter()
                .map(|id| seed_interaction(id, "voice"))
                .chain(chats.iter().map(|id| seed_interaction(id, "chat")))
                .collect(),
            conversations: conversations.iter().map(|id| conversation(id)).collect(),
        })
        .unwrap();
    simulator.set_faults(Faults {
        seed: 20261123,
        rate_limited: 0.05,
        retry_after_seconds: 0.0,
        server_error: 0.05,
        token_revoked: 0.01,
        conflict: 0.03,
        slow: 0.03,
        slow_ms: 20,
        timeout: 0.02,
        timeout_ms: 400,
    });
    let sim = simulator
        .spawn("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut events = Vec::new();
    for id in calls.iter().chain(&chats) {
        for sequence in 1..=2 {
            events.push(seed_event(events.len(), id, sequence));
        }
    }
    for (n, id) in conversations.iter().enumerate() {
        let base = 1_795_428_000_000 + n as i64;
        events.push(native_event(
            events.len(),
            id,
            "user.end",
            &format!("{id}-agent"),
            base,
        ));
        events.push(native_event(
            events.len(),
            id,
            "customer.end",
            &format!("{id}-cust"),
            base + 1,
        ));
    }
    let mut rng = fastrand::Rng::with_seed(7);
    let duplicates: Vec<Value> = events
        .iter()
        .filter(|_| rng.f64() < DUPLICATE_SHARE)
        .cloned()
        .collect();
    let mut deliveries: Vec<(Value, u32)> = events
        .into_iter()
        .chain(duplicates)
        .map(|e| (e, 1))
        .collect();
    rng.shuffle(&mut deliveries);
    let delivered_total = deliveries.len();
    let queue = Arc::new(Mutex::new(VecDeque::from(deliveries)));
    let outcomes = Arc::new(Mutex::new(BTreeMap::<&'static str, usize>::new()));
    let dead_letters = Arc::new(Mutex::new(Vec::new()));
    let in_flight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let notes = Arc::new(Mutex::new(Vec::<String>::new()));
    let started = Instant::now();

    // Act: instances take deliveries; a failed one is delivered again, up to a limit, then dead-lettered.
    let mut workers = Vec::new();
    for (worker, store) in stores.into_iter().enumerate() {
        let consumer = instance(&sim.base_url(), store);
        let (queue, outcomes, dead_letters, in_flight, notes) = (
            queue.clone(),
            outcomes.clone(),
            dead_letters.clone(),
            in_flight.clone(),
            notes.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut request = 0;
            loop {
                let next = {
                    let mut queue = queue.lock().unwrap();
                    let next = queue.pop_front();
                    if next.is_some() {
                        in_flight.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    next
                };
                let Some((event, attempt)) = next else {
                    if in_flight.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                };
                request += 1;
                let invocation = Invocation {
                    owner: OwnerToken::new(format!("w{worker}-r{request}")),
                    deadline: Deadline::after(Duration::from_secs(5)),
                };
                let report = lambda::handle(&consumer, event.clone(), &invocation)
                    .await
                    .reports
                    .remove(0);
                if report.outcome.name() == "rejected" || attempt + 2 >= MAX_DELIVERIES {
                    notes.lock().unwrap().push(format!(
                        "{:?} {:?} attempt {attempt}",
                        report.outcome, report.interaction_id
                    ));
                }
                if report.outcome.is_terminal() {
                    *outcomes
                        .lock()
                        .unwrap()
                        .entry(report.outcome.name())
                        .or_default() += 1;
                } else if attempt < MAX_DELIVERIES {
                    // Like Lambda's and SQS's retries: delivered again after a growing delay.
                    let (queue, in_flight) = (queue.clone(), in_flight.clone());
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
                        queue.lock().unwrap().push_back((event, attempt + 1));
                        in_flight.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    });
                    continue;
                } else {
                    dead_letters.lock().unwrap().push(event);
                }
                in_flight.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    let elapsed = started.elapsed();

    // Assert, from the simulator's counts rather than the consumer's own reports.
    let counts = sim.simulator.patch_counts();
    let outcomes = outcomes.lock().unwrap().clone();
    let (_, injected) = sim.simulator.faults();
    for note in notes.lock().unwrap().iter() {
        eprintln!("note: {note}");
    }
    eprintln!(
        "chaos: {delivered_total} deliveries in {elapsed:?}; outcomes {outcomes:?}; injected {injected:?}"
    );
    assert!(
        dead_letters.lock().unwrap().is_empty(),
        "no event outlived {MAX_DELIVERIES} deliveries"
    );
    assert_eq!(
        outcomes.values().sum::<usize>(),
        delivered_total,
        "every delivery ended terminal"
    );
    for id in &calls {
        let count = counts.get(id).copied().unwrap_or_default();
        assert_eq!(count.applied + count.foreign, 1, "{id}: {count:?}");
    }
    for id in &chats {
        assert!(!counts.contains_key(id), "{id} was written to");
    }
    for id in &conversations {
        let count = counts
            .get(&format!("{id}/{id}-agent"))
            .copied()
            .unwrap_or_default();
        assert_eq!(count.applied + count.foreign, 1, "{id}: {count:?}");
        assert!(!counts.contains_key(&format!("{id}/{id}-cust")));
    }
    for kind in [
        "rateLimited",
        "serverError",
        "tokenRevoked",
        "conflict",
        "slow",
        "timeout",
    ] {
        assert!(
            injected.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} fault was injected"
        );
    }
    assert!(outcomes.get("duplicate").copied().unwrap_or(0) > 0);
}
