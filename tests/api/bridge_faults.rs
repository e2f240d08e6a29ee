//! The bridge under faults (issue 23): the checkpoint never claims a time whose notifications are only in memory, a blackholed bus cannot hold the stop, an unwritable spool holds entries instead of dropping them, a corrupt spool line is quarantined.

use crate::bridge::{
    QUEUE, conversation_queued_then_ended, demo_sim_fast, options, reported, start,
};
use crate::helpers::stand_in_sink;
use chrono::{DateTime, Utc};
use genesys_eventbridge::bridge::BridgeOptions;
use gev_sim::eventbridge::{BusScript, RequestFault};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A TCP endpoint on loopback that accepts connections and never answers: a blackholed bus.
async fn blackhole() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    url
}

/// The simulator's bus answers 503 to every request from now on.
fn refuse_every_request(sim: &gev_sim::RunningSim) {
    sim.simulator.bus().set_script(BusScript {
        fail_requests: Some(RequestFault {
            count: 1_000_000,
            status: 503,
            code: "ServiceUnavailable".into(),
        }),
        ..BusScript::default()
    });
}

fn temp_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("{name}-{:x}", fastrand::u64(..)))
}

fn listening_until(checkpoint: &PathBuf) -> Option<DateTime<Utc>> {
    let saved: Value = serde_json::from_slice(&std::fs::read(checkpoint).ok()?).ok()?;
    saved
        .pointer("/shards/bridge/listeningUntil")
        .and_then(Value::as_str)
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(|time| time.with_timezone(&Utc))
}

#[tokio::test]
async fn the_checkpoint_never_claims_a_time_whose_notifications_are_still_in_memory() {
    let sim = demo_sim_fast().await;
    let checkpoint = temp_dir("bridge-cp").with_extension("json");
    let spool = temp_dir("bridge-cp-spool");
    let bridge = start(
        &sim,
        Arc::new(stand_in_sink(&blackhole().await)),
        BridgeOptions {
            checkpoint: Some(checkpoint.clone()),
            checkpoint_interval: Duration::from_millis(50),
            ..options(Some(spool.clone()))
        },
    );

    let before = Utc::now();
    conversation_queued_then_ended(&sim, 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let claimed = listening_until(&checkpoint).expect("a checkpoint");
    let _ = bridge.stopped().await;

    // The two end events were received after `before` and never reached the bus: the
    // checkpoint stops at the first of them, so a crash now shows them as a gap to backfill.
    assert!(
        claimed >= before && claimed < before + chrono::Duration::milliseconds(300),
        "listening until {claimed}, notifications received from {before}"
    );
    let _ = std::fs::remove_file(checkpoint);
    let _ = std::fs::remove_dir_all(spool);
}

#[tokio::test]
async fn a_blackholed_bus_cannot_hold_the_stop_and_what_was_queued_is_spooled() {
    let sim = demo_sim_fast().await;
    let spool = temp_dir("bridge-spool");
    let bridge = start(
        &sim,
        Arc::new(stand_in_sink(&blackhole().await)),
        options(Some(spool.clone())),
    );
    conversation_queued_then_ended(&sim, 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let stopping = Instant::now();
    let (code, lines) = bridge.stopped().await;

    assert_eq!(code, 0);
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "{:?}",
        stopping.elapsed()
    );
    let spooled = lines.iter().filter(|l| l["outcome"] == "spooled").count();
    assert_eq!(spooled, 2, "{lines:?}");
    let depth = genesys_eventbridge::bridge::spool::Spool::open(&spool)
        .unwrap()
        .depth();
    assert_eq!(depth, 2);
    let _ = std::fs::remove_dir_all(spool);
}

#[tokio::test]
async fn an_unwritable_spool_holds_the_entries_in_memory_until_it_can_take_them() {
    let sim = demo_sim_fast().await;
    let spool = temp_dir("bridge-full");
    // The spool's first file cannot be written (as on a full disk).
    let obstacle = spool.join("spool-000000000000.tmp");
    std::fs::create_dir_all(&obstacle).unwrap();
    refuse_every_request(&sim);
    let bridge = start(
        &sim,
        Arc::new(stand_in_sink(&sim.base_url())),
        options(Some(spool.clone())),
    );

    conversation_queued_then_ended(&sim, 1).await;
    reported(&bridge.out, "held", 2).await;
    std::fs::remove_dir(&obstacle).unwrap();
    reported(&bridge.out, "spooled", 2).await;
    sim.simulator.bus().set_script(BusScript::default());
    reported(&bridge.out, "published", 2).await;
    let (code, lines) = bridge.stopped().await;

    assert_eq!(code, 0);
    assert!(
        lines.iter().all(|l| l["outcome"] != "failed"),
        "nothing dropped: {lines:?}"
    );
    let _ = std::fs::remove_dir_all(spool);
}

#[tokio::test]
async fn a_corrupt_spool_line_is_quarantined_once_and_the_good_entries_are_published() {
    let sim = demo_sim_fast().await;
    let spool = temp_dir("bridge-corrupt");
    std::fs::create_dir_all(&spool).unwrap();
    let good = serde_json::json!({"source": "genesys-eventbridge.bridge",
        "detailType": "v2.detail.events.conversation.{id}.user.end",
        "detail": "{\"topicName\":\"x\"}", "time": null,
        "bridgeEventId": "0123456789abcdef0123456789abcdef"});
    std::fs::write(
        spool.join("spool-000000000000.jsonl"),
        format!("{good}\nGARBAGE\n"),
    )
    .unwrap();
    let bridge = start(
        &sim,
        Arc::new(stand_in_sink(&sim.base_url())),
        BridgeOptions {
            follow_queues: vec![QUEUE.into()],
            ..options(Some(spool.clone()))
        },
    );

    reported(&bridge.out, "published", 1).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (_, lines) = bridge.stopped().await;

    let failed: Vec<&Value> = lines.iter().filter(|l| l["outcome"] == "failed").collect();
    assert_eq!(failed.len(), 1, "reported once: {lines:?}");
    assert!(failed[0]["reason"].as_str().unwrap().contains("moved to"));
    let bad = std::fs::read_to_string(spool.join("spool-000000000000.jsonl.bad")).unwrap();
    assert_eq!(bad, "GARBAGE\n");
    assert!(!spool.join("spool-000000000000.jsonl").exists());
    let _ = std::fs::remove_dir_all(spool);
}

#[tokio::test]
async fn without_a_spool_entries_the_bus_refused_keep_the_checkpoint_at_their_receipt() {
    let sim = demo_sim_fast().await;
    let checkpoint = temp_dir("bridge-nospool").with_extension("json");
    refuse_every_request(&sim);
    let bridge = start(
        &sim,
        Arc::new(stand_in_sink(&sim.base_url())),
        BridgeOptions {
            checkpoint: Some(checkpoint.clone()),
            checkpoint_interval: Duration::from_millis(50),
            ..options(None)
        },
    );

    let before = Utc::now();
    conversation_queued_then_ended(&sim, 1).await;
    reported(&bridge.out, "failed", 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let claimed = listening_until(&checkpoint).expect("a checkpoint");
    let _ = bridge.stopped().await;

    // Failed and not kept anywhere: a restart must report them as a gap (and backfill them).
    assert!(
        claimed < before + chrono::Duration::milliseconds(200),
        "listening until {claimed}, failed entries received from {before}"
    );
    let _ = std::fs::remove_file(checkpoint);
}
