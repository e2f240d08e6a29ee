//! The whole pipeline on loopback: a simulated conversation on a followed queue ends → `bridge` → moto's EventBridge → the template's rule → SQS → the consumer → exactly one wrap-up; and with the bus refusing for a while, the spool grows then drains, nothing lost or doubled.

use crate::helpers::{
    SharedOutput, disposition, invocation, local_eventbridge, sim_client, sim_consumer, sim_token,
    stand_in_sink,
};
use crate::publish_e2e::{Sqs, bus_with_the_rule_into_a_queue, lambda_sqs_event};
use genesys_eventbridge::bridge::BridgeOptions;
use genesys_eventbridge::cli::bridge::run_with;
use genesys_eventbridge::publish::{
    BusSink, DEFAULT_MAX_BYTES, DEFAULT_SOURCE, EventSink, SendPolicy,
};
use genesys_eventbridge::stream::session::SessionSettings;
use gev_consumer::consumer::PipelineSettings;
use gev_consumer::lambda;
use gev_genesys::HttpSettings;
use gev_sim::eventbridge::{BusScript, RequestFault};
use gev_sim::{RunningSim, SeedData, SimConfig, Simulator};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
pub(crate) const QUEUE: &str = "c0ffee00-1111-4222-8333-444455556666";
const CONVERSATION: &str = "9b1f0c2e-4d3a-4b5c-8e7f-00000000c001";

/// The demo simulator, its sockets beating every 100 ms.
pub(crate) async fn demo_sim_fast() -> RunningSim {
    let simulator = Simulator::new(SimConfig {
        heartbeat_interval: Duration::from_millis(100),
        ..SimConfig::default()
    });
    let data = std::path::Path::new(ROOT).join("events/sim/interactions.json");
    simulator.seed(SeedData::from_file(&data).unwrap()).unwrap();
    simulator
        .spawn("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

pub(crate) fn options(spool: Option<PathBuf>) -> BridgeOptions {
    BridgeOptions {
        follow_queues: vec![QUEUE.into()],
        spool,
        source: DEFAULT_SOURCE.into(),
        max_entry_bytes: DEFAULT_MAX_BYTES,
        policy: SendPolicy {
            max_attempts: 2,
            backoff_base: Duration::from_millis(5),
            backoff_max: Duration::from_millis(20),
            ..SendPolicy::default()
        },
        settings: SessionSettings {
            heartbeat: Duration::from_millis(100),
            backoff_base: Duration::from_millis(20),
            backoff_max: Duration::from_millis(200),
            renew_before_expiry: Duration::from_secs(1),
            request_timeout: Duration::from_secs(5),
        },
        ..BridgeOptions::default()
    }
}

/// A bridge running in the background; stopped by `stopped`.
pub(crate) struct Running {
    pub(crate) out: SharedOutput,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<i32>,
}

impl Running {
    pub(crate) async fn stopped(self) -> (i32, Vec<Value>) {
        let _ = self.stop.send(());
        let code = tokio::time::timeout(Duration::from_secs(15), self.task)
            .await
            .expect("the bridge stops")
            .unwrap();
        (code, self.out.lines())
    }
}

pub(crate) fn start(sim: &RunningSim, sink: Arc<dyn EventSink>, options: BridgeOptions) -> Running {
    let client = Arc::new(sim_client(&sim.base_url(), HttpSettings::default()));
    let out = SharedOutput::default();
    let (stop, stopped) = oneshot::channel::<()>();
    let (mut o, mut e) = (out.clone(), SharedOutput::default());
    let task = tokio::spawn(async move {
        run_with(client, sink, options, &mut o, &mut e, async {
            let _ = stopped.await;
        })
        .await
    });
    Running { out, stop, task }
}

/// How many queues the organization lists (`GET /api/v2/routing/queues`, `total`).
async fn listed_queues(sim: &RunningSim) -> usize {
    let http = reqwest::Client::new();
    let token = sim_token(&http, &sim.base_url()).await;
    let listing: Value = http
        .get(format!(
            "{}/api/v2/routing/queues?pageSize=500",
            sim.base_url()
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    listing["total"].as_u64().unwrap() as usize
}

/// Waits until some connected channel holds `topics` topics.
async fn subscribed(sim: &RunningSim, topics: usize) {
    let started = Instant::now();
    loop {
        let states = sim.simulator.channel_states();
        if states
            .iter()
            .any(|(_, n, socket)| *n == topics && socket.is_some())
        {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{states:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The call is queued on the followed queue, then ends: the notifications Genesys would send.
/// `followed` queues are followed (one topic each) before the call's own three topics come.
pub(crate) async fn conversation_queued_then_ended(sim: &RunningSim, followed: usize) {
    subscribed(sim, followed).await;
    let queued = json!({"topicName": format!("v2.routing.queues.{QUEUE}.conversations.calls"),
                        "version": "2", "eventBody": {"id": CONVERSATION, "participants": []},
                        "metadata": {"CorrelationId": "q-1"}});
    let topic = queued["topicName"].as_str().unwrap();
    assert_eq!(
        sim.simulator
            .send_to_subscribers(topic, &queued.to_string()),
        1
    );
    subscribed(sim, followed + 3).await;
    for sample in [
        "20-native-user-end-eligible.json",
        "21-native-customer-end-same-call.json",
    ] {
        let event: Value = serde_json::from_str(
            &std::fs::read_to_string(format!("{ROOT}/events/{sample}")).unwrap(),
        )
        .unwrap();
        let notification = &event["detail"];
        let topic = notification["topicName"].as_str().unwrap();
        assert_eq!(
            sim.simulator
                .send_to_subscribers(topic, &notification.to_string()),
            1,
            "{sample}"
        );
    }
}

/// Waits until `lines` of the bridge's output say `outcome` at least `count` times.
pub(crate) async fn reported(out: &SharedOutput, outcome: &str, count: usize) {
    let started = Instant::now();
    while out
        .lines()
        .iter()
        .filter(|l| l["outcome"] == outcome)
        .count()
        < count
    {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{:?}",
            out.lines()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_ending_on_a_followed_queue_is_wrapped_up_once_through_eventbridge_and_sqs() {
    let Some(events) = local_eventbridge("us-east-1").await else {
        return;
    };
    let sqs = Sqs::new();
    let run_id = format!("bridge-{:08x}", fastrand::u32(..));
    let (bus, ingest, ingest_arn) = bus_with_the_rule_into_a_queue(&events, &sqs, &run_id).await;
    let sim = demo_sim_fast().await;
    let bridge = start(&sim, Arc::new(BusSink::new(events, &bus)), options(None));

    conversation_queued_then_ended(&sim, 1).await;
    reported(&bridge.out, "published", 2).await;
    let (code, _) = bridge.stopped().await;
    let delivered = sqs.drain(&ingest).await;
    let consumer = sim_consumer(&sim.base_url(), PipelineSettings::new(disposition()));
    let handled = lambda::handle(
        &consumer,
        lambda_sqs_event(&delivered, &ingest_arn),
        &invocation("bridge"),
    )
    .await;

    assert_eq!(code, 0);
    assert_eq!(delivered.len(), 2, "user.end and customer.end, each once");
    let outcomes: Vec<&str> = handled.reports.iter().map(|r| r.outcome.name()).collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == "patched").count(),
        1,
        "{outcomes:?}"
    );
    let applied: Vec<u64> = sim
        .simulator
        .patch_counts()
        .values()
        .map(|count| count.applied)
        .filter(|applied| *applied > 0)
        .collect();
    assert_eq!(applied, [1], "exactly one wrap-up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_bus_refuses_entries_wait_in_the_spool_and_drain_once_each_when_it_recovers() {
    let sim = demo_sim_fast().await;
    let bus = sim.simulator.bus().clone();
    bus.set_script(BusScript {
        entries: std::collections::HashMap::new(),
        fail_requests: Some(RequestFault {
            count: 1_000_000,
            status: 503,
            code: "ServiceUnavailable".into(),
        }),
    });
    let sink = stand_in_sink(&sim.base_url());
    let spool = std::env::temp_dir().join(format!("bridge-spool-{:x}", fastrand::u64(..)));
    let bridge = start(&sim, Arc::new(sink), options(Some(spool.clone())));

    conversation_queued_then_ended(&sim, 1).await;
    reported(&bridge.out, "spooled", 2).await;
    let waiting = std::fs::read_dir(&spool).unwrap().count();
    bus.set_script(BusScript::default());
    reported(&bridge.out, "published", 2).await;
    let (code, _) = bridge.stopped().await;

    assert_eq!(code, 0);
    assert!(waiting > 0, "the spool held the refused entries");
    let left: Vec<_> = std::fs::read_dir(&spool)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "jsonl"))
        .collect();
    assert!(left.is_empty(), "the spool drained: {left:?}");
    let accepted: Vec<String> = bus
        .events()
        .iter()
        .map(|event| event["detail-type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        accepted.len(),
        2,
        "each event on the bus once: {accepted:?}"
    );
    let consumer = sim_consumer(&sim.base_url(), PipelineSettings::new(disposition()));
    for event in bus.events() {
        lambda::handle(&consumer, event, &invocation("spooled")).await;
    }
    let applied: u64 = sim
        .simulator
        .patch_counts()
        .values()
        .map(|c| c.applied)
        .sum();
    assert_eq!(applied, 1, "one wrap-up, however late");
    std::fs::remove_dir_all(spool).unwrap();
}

/// Conversation `id` now ends: every participant started a minute ago and ended now.
fn end_now(sim: &RunningSim, id: &str) {
    let mut conversation = sim.simulator.conversation(id).unwrap();
    let (started, now) = (
        chrono::Utc::now() - chrono::Duration::minutes(1),
        chrono::Utc::now(),
    );
    let stamp =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    for participant in conversation["participants"].as_array_mut().unwrap() {
        participant["startTime"] = json!(stamp(started));
        participant["endTime"] = json!(stamp(now));
    }
    let Value::Object(body) = conversation else {
        unreachable!("a conversation is an object")
    };
    sim.simulator.put_conversation(body).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_ends_while_the_socket_is_down_is_backfilled_and_wrapped_up_once() {
    let sim = demo_sim_fast().await;
    let bus = sim.simulator.bus().clone();
    let bridge = start(
        &sim,
        Arc::new(stand_in_sink(&sim.base_url())),
        BridgeOptions {
            backfill: true,
            ..options(None)
        },
    );
    subscribed(&sim, 1).await;
    let queued = json!({"topicName": format!("v2.routing.queues.{QUEUE}.conversations.calls"),
                        "version": "2", "eventBody": {"id": CONVERSATION}});
    let topic = queued["topicName"].as_str().unwrap();
    sim.simulator
        .send_to_subscribers(topic, &queued.to_string());
    subscribed(&sim, 4).await;
    let channel = sim
        .simulator
        .channel_states()
        .into_iter()
        .find(|(_, _, socket)| socket.is_some())
        .unwrap()
        .0;

    // The socket goes silent; the call ends meanwhile, its user.end lost with the socket.
    sim.simulator
        .break_channel(&channel, gev_sim::ChannelFault::Stall);
    end_now(&sim, CONVERSATION);
    reported(&bridge.out, "published", 1).await;
    let (code, lines) = bridge.stopped().await;

    assert_eq!(code, 0);
    assert!(
        lines
            .iter()
            .any(|l| l["topicName"] == "genesys-eventbridge.gap"),
        "{lines:?}"
    );
    let events = bus.events();
    assert_eq!(events.len(), 1, "one backfilled user.end: {events:?}");
    assert_eq!(events[0]["detail"]["metadata"]["backfilled"], true);
    let consumer = sim_consumer(&sim.base_url(), PipelineSettings::new(disposition()));
    for event in events {
        lambda::handle(&consumer, event, &invocation("backfilled")).await;
    }
    let applied: u64 = sim
        .simulator
        .patch_counts()
        .values()
        .map(|c| c.applied)
        .sum();
    assert_eq!(applied, 1, "the wrap-up still lands, once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_ends_while_the_bridge_is_stopped_is_backfilled_after_the_restart() {
    let sim = demo_sim_fast().await;
    let bus = sim.simulator.bus().clone();
    let checkpoint =
        std::env::temp_dir().join(format!("bridge-checkpoint-{:x}.json", fastrand::u64(..)));
    let with_checkpoint = || BridgeOptions {
        backfill: true,
        checkpoint: Some(checkpoint.clone()),
        ..options(None)
    };
    let first = start(
        &sim,
        Arc::new(stand_in_sink(&sim.base_url())),
        with_checkpoint(),
    );
    subscribed(&sim, 1).await;
    let (code, _) = first.stopped().await;
    assert_eq!(code, 0);

    end_now(&sim, CONVERSATION);
    let second = start(
        &sim,
        Arc::new(stand_in_sink(&sim.base_url())),
        with_checkpoint(),
    );
    reported(&second.out, "published", 1).await;
    let (code, lines) = second.stopped().await;

    assert_eq!(code, 0);
    let gap = lines
        .iter()
        .find(|l| l["topicName"] == "genesys-eventbridge.gap")
        .expect("the restart reports the downtime");
    assert_eq!(gap["eventBody"]["reason"], "not running");
    let events = bus.events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["detail"]["metadata"]["backfilled"], true);
    std::fs::remove_file(checkpoint).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_all_queues_follows_every_queue_the_organization_lists() {
    let sim = demo_sim_fast().await;
    let bridge = start(
        &sim,
        Arc::new(stand_in_sink(&sim.base_url())),
        BridgeOptions {
            follow_queues: vec!["all".into()],
            ..options(None)
        },
    );
    let queues = listed_queues(&sim).await;

    conversation_queued_then_ended(&sim, queues).await;
    reported(&bridge.out, "published", 2).await;
    let (code, _) = bridge.stopped().await;

    assert_eq!(code, 0);
    assert_eq!(sim.simulator.bus().events().len(), 2);
}
