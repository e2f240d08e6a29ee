//! The bridge mode, end to end on loopback: the release `genesys-eventbridge bridge` follows a queue on genesys-sim; 300 calls are queued, then end at once; the time from each call's end to its event on the simulator's EventBridge stand-in, the bridge's throughput, then the consumer (`invoke`) on those events and its own latency.

use crate::child::run_measured;
use crate::sim::start_sim;
use gev_sim::workload::WorkloadSpec;
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const QUEUE: &str = "be0c0000-1111-4222-8333-444455556666";

/// Calls: 300 fill one channel (1 queue topic + 3 per call ≤ 1,000).
pub(crate) async fn bridge(bench: &crate::modes::Bench) -> Value {
    let calls = 300;
    let workload = WorkloadSpec {
        eligible_calls: 0,
        ineligible_calls: 0,
        eligible_conversations: calls,
        events_per_target: 1,
        duplicate_share: 0.0,
        prefix: "bridge".into(),
        seed: 42,
    }
    .generate();
    let dir = &bench.dir;
    let sim = start_sim(&workload, dir);
    let http = reqwest::Client::new();
    let mut bridge = Command::new(bench.bin_dir.join("genesys-eventbridge"))
        .env_clear()
        .env("GENESYS_CLOUD_BASE_URL", &sim.url)
        .env("GENESYS_CLOUD_CLIENT_ID", "demo-client")
        .env("GENESYS_CLOUD_CLIENT_SECRET", "demo-secret")
        .env("AWS_ENDPOINT_URL_EVENTBRIDGE", &sim.url)
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .args(["bridge", "--bus", "bench", "--follow-queue", QUEUE])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the release genesys-eventbridge");
    let topics = |expected: u64| {
        let (http, url) = (http.clone(), sim.url.clone());
        async move {
            let started = Instant::now();
            loop {
                let channels: Value = http
                    .get(format!("{url}/sim/notifications/channels"))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let channel = &channels["entities"][0];
                if channel["connected"] == true && channel["topics"].as_u64() == Some(expected) {
                    return;
                }
                assert!(started.elapsed() < Duration::from_secs(30), "{channels}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    let publish = |notification: Value| {
        let (http, url) = (http.clone(), sim.url.clone());
        async move {
            http.post(format!("{url}/sim/notifications/publish"))
                .json(&notification)
                .send()
                .await
                .unwrap();
        }
    };
    topics(1).await;
    let conversations: Vec<String> = (0..calls).map(|n| format!("bridge-conv-{n}")).collect();
    for id in &conversations {
        publish(
            json!({"topicName": format!("v2.routing.queues.{QUEUE}.conversations.calls"),
                       "eventBody": {"id": id}}),
        )
        .await;
    }
    topics(1 + 3 * calls as u64).await;
    let ended = Instant::now();
    for id in &conversations {
        publish(
            json!({"topicName": format!("v2.detail.events.conversation.{id}.user.end"),
                       "eventBody": {"eventTime": chrono::Utc::now().timestamp_millis(),
                                     "conversationId": id, "participantId": format!("{id}-agent"),
                                     "mediaType": "VOICE", "direction": "INBOUND"}}),
        )
        .await;
    }
    let stats = loop {
        let stats: Value = http
            .get(format!("{}/sim/eventbridge/stats", sim.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if stats["accepted"].as_u64() == Some(calls as u64) {
            break stats;
        }
        assert!(ended.elapsed() < Duration::from_secs(30), "{stats}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let on_bus = ended.elapsed().as_secs_f64();
    let _ = bridge.kill();
    let _ = bridge.wait();

    let events: Value = http
        .get(format!("{}/sim/eventbridge/events", sim.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let input = dir.join("bridge-bus-events.json");
    std::fs::write(&input, events.to_string()).unwrap();
    let output = dir.join("bridge-consumer.jsonl");
    let mut invoke = Command::new(bench.bin_dir.join("genesys-eventbridge"));
    invoke
        .env_clear()
        .env("GENESYS_CLOUD_BASE_URL", &sim.url)
        .env("GENESYS_CLOUD_CLIENT_ID", "demo-client")
        .env("GENESYS_CLOUD_CLIENT_SECRET", "demo-secret")
        .env("DISPOSITION_CODE_ID", crate::sim::CODE)
        .env("RUST_LOG", "error")
        .args(["invoke", "--events"])
        .arg(&input);
    let usage = run_measured(invoke, None, &output);
    let mut latencies: Vec<f64> = std::fs::read_to_string(&output)
        .unwrap()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|outcome| outcome["outcome"] == "patched")
        .filter_map(|outcome| outcome["latencyMs"].as_f64())
        .collect();
    latencies.sort_by(f64::total_cmp);
    assert_eq!(usage.exit_code, 0, "invoke failed");
    assert_eq!(latencies.len(), calls, "every call wrapped up");
    assert_eq!(sim.applied().await, calls as u64, "once each");
    let consumer_p50 = latencies[(latencies.len() - 1) / 2];
    let figures = json!({
        "mode": "bridge",
        "calls": calls,
        "notificationsPerSecond": (calls as f64 / on_bus).round(),
        "endToBusMs": stats["lagMs"],
        "consumerMs": {"p50": consumer_p50, "max": latencies[latencies.len() - 1]},
    });
    println!(
        "bridge: {calls} calls ended at once: all on the bus in {:.0} ms ({} notifications/s); call end → on the bus p50 {} ms, max {} ms; consumer p50 {consumer_p50:.2} ms per wrap-up",
        on_bus * 1000.0,
        figures["notificationsPerSecond"],
        stats["lagMs"]["p50"],
        stats["lagMs"]["max"]
    );
    figures
}
