//! `make bench` part `per-call`: what each call costs a user on a realistic mix of calls with their whole event sequences — Genesys requests (counted at the simulator), dedup writes, Lambda invocations — and whether one OAuth client's 300 requests a minute sustain it without a 429.

use gev_consumer::consumer::{Consumer, Invocation, PipelineSettings};
use gev_consumer::dedup::{
    AgentFacts, ClaimOutcome, ClaimRequest, DedupError, DedupStore, InMemoryDedupStore, Lease,
    OwnerToken, TargetSummary,
};
use gev_core::deadline::Deadline;
use gev_core::domain::{
    DispositionCodeId, EffectKey, EpochMillis, ParticipantId, TargetKey, WrapupPolicy,
};
use gev_sim::{RequestBudget, RunningSim, SeedData, SimConfig, Simulator};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const QUEUES: [(&str, &str, &str); 3] = [
    (
        "0000a1e5-0000-4000-8000-000000000001",
        "MANDATORY_TIMEOUT",
        "c0de0001-0000-4000-8000-000000000001",
    ),
    (
        "5a990a7e-0000-4000-8000-000000000002",
        "OPTIONAL",
        "c0de0002-0000-4000-8000-000000000002",
    ),
    (
        "000000f1-0000-4000-8000-000000000003",
        "MANDATORY",
        "c0de0003-0000-4000-8000-000000000003",
    ),
];
const AGENT_CHOICE: &str = "a9e17000-0000-4000-8000-000000000009";
/// The budget Genesys gives one OAuth client.
const REQUESTS_PER_MINUTE: u32 = 300;

/// The kinds of call in the mix, with their share of every 20 calls.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// After-call work ended without a code: wrapped up.
    NoCode,
    /// The agent chose a code in after-call work.
    AgentChose,
    /// Shorter than the threshold.
    Short,
    /// Transferred: two agent legs, the first chose a code, the second did not.
    Transfer,
    /// A chat (not acted on).
    Chat,
}

const MIX: [(Kind, usize); 5] = [
    (Kind::NoCode, 8),
    (Kind::AgentChose, 6),
    (Kind::Short, 2),
    (Kind::Transfer, 2),
    (Kind::Chat, 2),
];

/// A dedup store that counts its writes (each is one DynamoDB `UpdateItem` in the DynamoDB
/// adapter: claim, complete, release, hold, note) around the in-memory one.
#[derive(Default)]
struct CountingStore {
    inner: InMemoryDedupStore,
    writes: AtomicU64,
}

#[async_trait::async_trait]
impl DedupStore for CountingStore {
    async fn claim(&self, request: &ClaimRequest) -> Result<ClaimOutcome, DedupError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.inner.claim(request).await
    }
    async fn complete(
        &self,
        request: &ClaimRequest,
        lease: &Lease,
        outcome: &str,
        applied: Option<&EffectKey>,
    ) -> Result<(), DedupError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.inner.complete(request, lease, outcome, applied).await
    }
    async fn release(&self, request: &ClaimRequest) -> Result<(), DedupError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.inner.release(request).await
    }
    async fn hold_until(
        &self,
        request: &ClaimRequest,
        until: EpochMillis,
    ) -> Result<(), DedupError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.inner.hold_until(request, until).await
    }
    async fn lease_end(&self, target: &TargetKey) -> Result<Option<EpochMillis>, DedupError> {
        self.inner.lease_end(target).await
    }
    async fn inspect(&self, target: &TargetKey) -> Result<TargetSummary, DedupError> {
        self.inner.inspect(target).await
    }
    async fn note_facts(
        &self,
        target: &TargetKey,
        participant: &ParticipantId,
        facts: AgentFacts,
        expires_at_s: i64,
    ) -> Result<(), DedupError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.inner
            .note_facts(target, participant, facts, expires_at_s)
            .await
    }
}

/// One agent leg: its participant, whether it chose a code, how long it talked.
struct Leg {
    participant: String,
    chose: bool,
    talked_ms: i64,
}

/// One call of the mix: its conversation as seeded and its events in delivery order.
struct Call {
    conversation: Map<String, Value>,
    events: Vec<Value>,
    wrapped_up: usize,
}

fn call(n: usize, kind: Kind) -> Call {
    let id = format!("9b1f0c2e-0000-4000-8000-{n:012}");
    let (queue, _, _) = QUEUES[n % QUEUES.len()];
    let media = if matches!(kind, Kind::Chat) {
        "CHAT"
    } else {
        "VOICE"
    };
    let legs: Vec<Leg> = match kind {
        Kind::Transfer => vec![
            Leg {
                participant: format!("{id}-a1"),
                chose: true,
                talked_ms: 40_000,
            },
            Leg {
                participant: format!("{id}-a2"),
                chose: false,
                talked_ms: 90_000,
            },
        ],
        _ => vec![Leg {
            participant: format!("{id}-a1"),
            chose: matches!(kind, Kind::AgentChose),
            talked_ms: if matches!(kind, Kind::Short) {
                8_000
            } else {
                120_000
            },
        }],
    };
    let mut participants = vec![json!({"id": format!("{id}-c"), "purpose": "customer",
        "calls": [{"id": format!("{id}-cc"), "state": "disconnected"}]})];
    let mut events = Vec::new();
    let mut time = 1_795_428_000_000 + (n as i64) * 1_000;
    for leg in &legs {
        participants.push(
            json!({"id": leg.participant, "purpose": "agent", "queueId": queue,
            "connectedTime": "2026-11-23T10:00:00.000Z", "endTime": "2026-11-23T10:02:00.000Z",
            "wrapupRequired": true,
            "wrapup": if leg.chose { json!({"code": AGENT_CHOICE}) } else { Value::Null },
            "calls": [{"id": format!("{}-call", leg.participant), "state": "disconnected",
                       "afterCallWork": {"state": "complete"}}]}),
        );
        events.push(event(
            &id,
            "user.end",
            &leg.participant,
            media,
            time,
            json!({
            "queueId": queue, "divisionId": "d1v1s10n-0000-4000-8000-000000000000",
            "interactingDurationMs": leg.talked_ms, "disconnectType": "TRANSFER"}),
        ));
        time += 30_000;
        let mut acw = json!({"queueId": queue, "wrapupDurationMs": 30_000});
        if leg.chose {
            acw["wrapupCode"] = json!(AGENT_CHOICE);
        }
        events.push(event(&id, "acw", &leg.participant, media, time, acw));
    }
    events.insert(1, event(&id, "customer.end", &format!("{id}-c"), media, time - 30_000,
        json!({"divisionId": "d1v1s10n-0000-4000-8000-000000000000", "disconnectType": "CLIENT"})));
    let wrapped_up = match kind {
        Kind::NoCode | Kind::Transfer => 1,
        _ => 0,
    };
    let conversation = json!({"id": id, "participants": participants});
    let mut conversation = conversation.as_object().cloned().unwrap();
    if media == "CHAT" {
        conversation.insert("mediaType".into(), json!("CHAT"));
    }
    Call {
        conversation,
        events,
        wrapped_up,
    }
}

fn event(
    conversation: &str,
    topic: &str,
    participant: &str,
    media: &str,
    time: i64,
    mut body: Value,
) -> Value {
    body["eventTime"] = json!(time);
    body["conversationId"] = json!(conversation);
    body["participantId"] = json!(participant);
    body["mediaType"] = json!(media);
    body["direction"] = json!("INBOUND");
    json!({"version": "0", "id": format!("{conversation}-{topic}-{participant}"),
        "detail-type": format!("v2.detail.events.conversation.{{id}}.{topic}"),
        "source": "aws.partner/genesys.com/cloud/org-1/genesys-events",
        "account": "123456789012", "time": "2026-11-23T10:20:00Z", "region": "eu-west-1",
        "resources": [],
        "detail": {"topicName": format!("v2.detail.events.conversation.{conversation}.{topic}"),
                   "version": "2", "eventBody": body,
                   "metadata": {"CorrelationId": format!("corr-{time}")}}})
}

fn calls(count: usize) -> Vec<Call> {
    let pattern: Vec<Kind> = MIX
        .iter()
        .flat_map(|(kind, share)| std::iter::repeat_n(*kind, *share))
        .collect();
    (0..count)
        .map(|n| call(n, pattern[n % pattern.len()]))
        .collect()
}

async fn org(calls: &[Call], budget: Option<RequestBudget>) -> RunningSim {
    let simulator = Simulator::new(SimConfig {
        request_budget: budget,
        ..SimConfig::default()
    });
    let queues = QUEUES
        .iter()
        .map(|(id, prompt, code)| {
            json!({"id": id, "name": format!("queue {id}"),
                   "division": {"id": "d1v1s10n-0000-4000-8000-000000000000", "name": "Home"},
                   "acwSettings": {"wrapupPrompt": prompt, "timeoutMs": 30000},
                   "x-sim": {"wrapupCodes": [code, AGENT_CHOICE]}})
            .as_object()
            .cloned()
            .unwrap()
        })
        .collect();
    simulator
        .seed(SeedData {
            queues,
            conversations: calls.iter().map(|c| c.conversation.clone()).collect(),
            ..SeedData::default()
        })
        .unwrap();
    simulator
        .spawn("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn consumer(sim: &RunningSim, store: Arc<CountingStore>) -> Consumer {
    let rules: Vec<Value> = QUEUES
        .iter()
        .map(|(queue, _, code)| json!({"queueId": queue, "code": code}))
        .collect();
    let mut settings = PipelineSettings::new(DispositionCodeId::parse(QUEUES[0].2).unwrap());
    settings.policy = Some(Arc::new(
        WrapupPolicy::parse(&json!({"rules": rules}).to_string()).unwrap(),
    ));
    crate::consumer_with(&sim.base_url(), store, settings)
}

fn invocation() -> Invocation {
    Invocation {
        owner: OwnerToken::new(format!("bench-{}", fastrand::u64(..))),
        deadline: Deadline::after(Duration::from_secs(30)),
    }
}

/// Runs the mix once to count, then at the rate the count allows within the budget (time
/// compressed 20×: 300 requests per 3 s) to see whether 429s come.
pub(crate) async fn per_call(count: usize) -> Value {
    let calls = calls(count.clamp(100, 2_000));
    let sim = org(&calls, None).await;
    let store = Arc::new(CountingStore::default());
    let consumer = consumer(&sim, store.clone());
    let mut outcomes = std::collections::BTreeMap::<String, u64>::new();
    let mut events: usize = 0;
    for call in &calls {
        for delivery in &call.events {
            let report = consumer.process(delivery, &invocation()).await;
            *outcomes
                .entry(report.outcome.name().to_owned())
                .or_default() += 1;
            events += 1;
        }
    }
    let requests = sim.simulator.received_requests();
    let genesys = requests.len() as f64;
    let queue_reads = requests
        .iter()
        .filter(|r| r.path.starts_with("/api/v2/routing/"))
        .count();
    let wrapped: usize = calls.iter().map(|c| c.wrapped_up).sum();
    let writes = store.writes.load(Ordering::Relaxed) as f64;
    let per_call = genesys / calls.len() as f64;
    let per_wrapped = genesys / wrapped.max(1) as f64;
    let sustainable_calls_per_hour = f64::from(REQUESTS_PER_MINUTE) * 60.0 / per_call;
    let sustainable_wrapped_per_hour = f64::from(REQUESTS_PER_MINUTE) * 60.0 / per_wrapped;
    println!(
        "per-call: {} calls ({} wrapped up), {events} events: {:.3} Genesys requests per call, \
         {per_wrapped:.3} per wrapped-up call ({queue_reads} of {genesys} were queue facts), \
         {:.2} dedup writes per call, {:.2} Lambda invocations per call (Direct mode)",
        calls.len(),
        wrapped,
        per_call,
        writes / calls.len() as f64,
        events as f64 / calls.len() as f64,
    );
    println!(
        "per-call: one OAuth client at {REQUESTS_PER_MINUTE}/min sustains {sustainable_calls_per_hour:.0} \
         calls an hour ({sustainable_wrapped_per_hour:.0} wrapped-up calls an hour); outcomes {outcomes:?}"
    );
    let steady = steady_state(&calls, per_call).await;
    json!({
        "calls": calls.len(),
        "wrappedUpCalls": wrapped,
        "events": events,
        "genesysRequests": genesys,
        "queueFactReads": queue_reads,
        "genesysRequestsPerCall": per_call,
        "genesysRequestsPerWrappedUpCall": per_wrapped,
        "dedupWritesPerCall": writes / calls.len() as f64,
        "lambdaInvocationsPerCallDirect": events as f64 / calls.len() as f64,
        "sustainableCallsPerHour": sustainable_calls_per_hour,
        "sustainableWrappedUpCallsPerHour": sustainable_wrapped_per_hour,
        "outcomes": outcomes,
        "steadyState": steady,
    })
}

/// Drives the mix at 95 % of the rate the budget allows for the measured requests per call,
/// against a simulator enforcing 300 requests per 3 s (a minute, 20× faster), for 15 s.
async fn steady_state(calls: &[Call], requests_per_call: f64) -> Value {
    const SPEEDUP: u32 = 20;
    let window = Duration::from_secs(60 / u64::from(SPEEDUP));
    let sim = org(
        calls,
        Some(RequestBudget {
            requests: REQUESTS_PER_MINUTE,
            window,
        }),
    )
    .await;
    let consumer = consumer(&sim, Arc::new(CountingStore::default()));
    let calls_per_second =
        0.95 * f64::from(REQUESTS_PER_MINUTE) / window.as_secs_f64() / requests_per_call;
    let interval = Duration::from_secs_f64(1.0 / calls_per_second);
    let started = Instant::now();
    let mut driven = 0;
    for (n, call) in calls.iter().enumerate() {
        if started.elapsed() > Duration::from_secs(15) {
            break;
        }
        tokio::time::sleep_until((started + interval * n as u32).into()).await;
        for delivery in &call.events {
            consumer.process(delivery, &invocation()).await;
        }
        driven += 1;
    }
    let throttled = sim.simulator.throttled_requests();
    println!(
        "per-call: steady state at {:.0} calls/min of simulated time ({driven} calls in {:.1} s, \
         budget {REQUESTS_PER_MINUTE} per {} s): {throttled} answered 429",
        calls_per_second * window.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        window.as_secs()
    );
    json!({"callsDriven": driven, "callsPerSimulatedMinute": calls_per_second * window.as_secs_f64(),
           "timeCompression": SPEEDUP, "throttled": throttled})
}
