//! `stream` against the simulator's Notifications API: notifications out as JSON lines, every fault knob survived with a gap record of the right bounds and nothing sent while connected lost or doubled, sharding, the restart gap from a checkpoint, and no token anywhere.

use crate::helpers::{SharedOutput, demo_sim, sim_client};
use genesys_eventbridge::cli::stream::run_with;
use genesys_eventbridge::stream::StreamOptions;
use genesys_eventbridge::stream::session::SessionSettings;
use gev_genesys::HttpSettings;
use gev_sim::{ChannelFault, RunningSim};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

pub(crate) const TOPIC: &str =
    "v2.detail.events.conversation.9b1f0c2e-4d3a-4b5c-8e7f-00000000c001.user.end";

/// A stream running in the background against `sim`; stopped by `stop`.
pub(crate) struct Running {
    pub(crate) out: SharedOutput,
    pub(crate) err: SharedOutput,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<i32>,
}

impl Running {
    pub(crate) async fn stopped(mut self) -> (i32, SharedOutput, SharedOutput) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let code = tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the stream stops")
            .unwrap();
        (code, self.out, self.err)
    }
}

pub(crate) fn fast_settings() -> SessionSettings {
    SessionSettings {
        heartbeat: Duration::from_millis(100),
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(200),
        renew_before_expiry: Duration::from_secs(1),
        request_timeout: Duration::from_secs(5),
    }
}

/// A simulator whose sockets beat every 100 ms.
pub(crate) async fn fast_sim() -> RunningSim {
    use gev_sim::{SimConfig, Simulator};
    let config = SimConfig {
        heartbeat_interval: Duration::from_millis(100),
        ..SimConfig::default()
    };
    Simulator::new(config)
        .spawn("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn start(sim: &RunningSim, topics: Vec<String>, checkpoint: Option<PathBuf>) -> Running {
    start_with(
        sim,
        StreamOptions {
            topics,
            checkpoint,
            settings: fast_settings(),
            ..StreamOptions::default()
        },
    )
}

/// A stream with `options` running in the background against `sim`.
pub(crate) fn start_with(sim: &RunningSim, options: StreamOptions) -> Running {
    let client = Arc::new(sim_client(&sim.base_url(), HttpSettings::default()));
    let (out, err) = (SharedOutput::default(), SharedOutput::default());
    let (stop, stopped) = oneshot::channel::<()>();
    let (mut o, mut e) = (out.clone(), err.clone());
    let task = tokio::spawn(async move {
        run_with(client, options, &mut o, &mut e, async {
            let _ = stopped.await;
        })
        .await
    });
    Running {
        out,
        err,
        stop: Some(stop),
        task,
    }
}

/// Waits until every channel has a socket other than those in `before`; returns the sockets.
async fn connected(sim: &RunningSim, channels: usize, before: &[u64]) -> Vec<u64> {
    let started = Instant::now();
    loop {
        let states = sim.simulator.channel_states();
        let sockets: Vec<u64> = states.iter().filter_map(|(_, _, socket)| *socket).collect();
        if sockets.len() == channels && sockets.iter().all(|s| !before.contains(s)) {
            return sockets;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "not connected: {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The channel a socket is on.
fn live_channel(sim: &RunningSim) -> String {
    let states = sim.simulator.channel_states();
    let live = states.iter().find(|(_, _, socket)| socket.is_some());
    live.expect("a channel has a socket").0.clone()
}

fn publish(sim: &RunningSim, n: usize) {
    let notification = json!({"topicName": TOPIC, "version": "2", "eventBody": {"n": n},
                              "metadata": {"CorrelationId": format!("c-{n}")}});
    let delivered = sim
        .simulator
        .send_to_subscribers(TOPIC, &notification.to_string());
    assert_eq!(
        delivered, 1,
        "notification {n} went to the connected socket"
    );
}

#[tokio::test]
async fn every_fault_ends_connected_again_with_its_gap_recorded_and_nothing_sent_lost_or_doubled() {
    let sim = fast_sim().await;
    let stream = start(&sim, vec![TOPIC.into()], None);
    let mut sockets = connected(&sim, 1, &[]).await;
    let faults = [
        ChannelFault::Drop,
        ChannelFault::Closing,
        ChannelFault::Stall,
        ChannelFault::Expire,
        ChannelFault::Delete,
        ChannelFault::Revoke,
        ChannelFault::Kick,
    ];
    let mut sent = 0;
    let mut broken_at = Vec::new();

    for fault in faults {
        for _ in 0..3 {
            sent += 1;
            publish(&sim, sent);
        }
        // Let the frames reach the stream before the socket breaks.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let channel = live_channel(&sim);
        broken_at.push(chrono::Utc::now());
        assert!(sim.simulator.break_channel(&channel, fault), "{fault:?}");
        sockets = connected(&sim, 1, &sockets).await;
    }
    for _ in 0..3 {
        sent += 1;
        publish(&sim, sent);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (code, out, err) = stream.stopped().await;

    assert_eq!(code, 0, "{}", err.text());
    let lines = out.lines();
    let received: Vec<u64> = lines
        .iter()
        .filter(|line| line["topicName"] == TOPIC)
        .map(|line| line["eventBody"]["n"].as_u64().unwrap())
        .collect();
    assert_eq!(
        received,
        (1..=sent as u64).collect::<Vec<_>>(),
        "each once, in order"
    );
    let gaps: Vec<&Value> = lines
        .iter()
        .filter(|line| line["topicName"] == "genesys-eventbridge.gap")
        .map(|line| &line["eventBody"])
        .collect();
    assert_eq!(gaps.len(), faults.len(), "one gap per fault: {gaps:?}");
    for ((gap, fault), at) in gaps.iter().zip(faults).zip(&broken_at) {
        let from = chrono::DateTime::parse_from_rfc3339(gap["from"].as_str().unwrap()).unwrap();
        let to = chrono::DateTime::parse_from_rfc3339(gap["to"].as_str().unwrap()).unwrap();
        let slack = chrono::Duration::seconds(1);
        assert!(from <= to, "{fault:?}: {gap}");
        assert!(
            from >= *at - slack,
            "{fault:?}: the gap starts at the fault: {gap}"
        );
        assert!(to - from < chrono::Duration::seconds(3), "{fault:?}: {gap}");
        assert_eq!(gap["topics"], json!([TOPIC]));
        assert!(!gap["reason"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn two_thousand_five_hundred_topics_take_three_channels_of_at_most_a_thousand() {
    let sim = fast_sim().await;
    let topics: Vec<String> = (0..2_500)
        .map(|n| format!("v2.users.5e7a0000-0000-4000-8000-{n:012}.presence"))
        .collect();

    let stream = start(&sim, topics, None);
    connected(&sim, 3, &[]).await;

    let mut sizes: Vec<usize> = sim
        .simulator
        .channel_states()
        .iter()
        .map(|(_, topics, _)| *topics)
        .collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [500, 1_000, 1_000]);
    let (code, _, err) = stream.stopped().await;
    assert_eq!(code, 0, "{}", err.text());
}

#[tokio::test]
async fn a_restart_first_reports_the_time_it_was_down_from_the_checkpoint() {
    let sim = fast_sim().await;
    let checkpoint =
        std::env::temp_dir().join(format!("stream-checkpoint-{:x}.json", fastrand::u64(..)));
    let first = start(&sim, vec![TOPIC.into()], Some(checkpoint.clone()));
    let sockets = connected(&sim, 1, &[]).await;
    let (_, _, _) = first.stopped().await;
    let stopped_at = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let second = start(&sim, vec![TOPIC.into()], Some(checkpoint.clone()));
    connected(&sim, 1, &sockets).await;
    let (code, out, err) = second.stopped().await;

    assert_eq!(code, 0, "{}", err.text());
    let lines = out.lines();
    assert_eq!(
        lines[0]["topicName"], "genesys-eventbridge.gap",
        "{lines:?}"
    );
    let gap = &lines[0]["eventBody"];
    assert_eq!(gap["reason"], "not running");
    let from = chrono::DateTime::parse_from_rfc3339(gap["from"].as_str().unwrap())
        .unwrap()
        .to_utc();
    assert!(
        from <= stopped_at && stopped_at - from < chrono::Duration::seconds(1),
        "{gap}"
    );
    assert!(gap["durationMs"].as_i64().unwrap() >= 300, "{gap}");
    std::fs::remove_file(checkpoint).unwrap();
}

#[tokio::test]
async fn no_token_reaches_a_socket_url_the_output_or_the_log() {
    let sim = fast_sim().await;
    let stream = start(&sim, vec![TOPIC.into()], None);
    connected(&sim, 1, &[]).await;
    publish(&sim, 1);
    let channel = live_channel(&sim);
    sim.simulator.break_channel(&channel, ChannelFault::Revoke);
    connected(&sim, 1, &[]).await;

    let (_, out, err) = stream.stopped().await;

    for uri in sim.simulator.socket_uris() {
        assert!(!uri.contains('?') && !uri.contains("token"), "{uri}");
    }
    assert!(!out.text().contains("sim-token-"));
    assert!(!err.text().contains("sim-token-"), "{}", err.text());
}

#[tokio::test]
async fn a_placeholder_topic_is_refused_at_start_saying_what_to_use_instead() {
    let sim = demo_sim().await;

    let stream = start(
        &sim,
        vec!["v2.detail.events.conversation.{id}.user.end".into()],
        None,
    );
    let (code, _, err) = stream.stopped().await;

    assert_eq!(code, 2);
    assert!(err.text().contains("concrete ids"), "{}", err.text());
    assert!(sim.simulator.channel_states().is_empty(), "no channel made");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_prints_notifications_and_exports_connection_and_status_spans_over_otlp() {
    let sim = fast_sim().await;
    let (otlp, received) = crate::helpers::otlp_receiver().await;
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_genesys-eventbridge"))
        .args(["stream", "--topic", TOPIC, "--heartbeat-seconds", "0.1"])
        .args(["--status-interval", "0.3", "--stop-after-events", "2"])
        .env("GENESYS_CLOUD_BASE_URL", sim.base_url())
        .env("GENESYS_CLOUD_CLIENT_ID", "demo-client")
        .env("GENESYS_CLOUD_CLIENT_SECRET", "demo-secret")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &otlp)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    connected(&sim, 1, &[]).await;
    tokio::time::sleep(Duration::from_millis(400)).await;

    publish(&sim, 1);
    publish(&sim, 2);
    let output = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("the stream stops after two notifications")
        .unwrap();

    assert_eq!(output.status.code(), Some(0));
    let lines: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(
        lines
            .iter()
            .all(|l| l["topicName"] == TOPIC && l["receivedAt"].is_string())
    );
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("stream status: 1/1 channels connected"),
        "{stderr}"
    );
    let names: Vec<String> = received
        .lock()
        .unwrap()
        .iter()
        .map(|(_, span)| span.name.clone())
        .collect();
    for expected in ["stream.reconnect", "stream.connection", "stream.status"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
}
