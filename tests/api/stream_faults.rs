//! `stream` under the notification service's faults (issue 23): a handshake that never completes, `socket_closing` on every connect, subscriptions refused after `no_longer_subscribed`, and the checkpoint written while running.

use crate::stream::{TOPIC, fast_settings, fast_sim, start_with};
use genesys_eventbridge::stream::StreamOptions;
use genesys_eventbridge::stream::session::SessionSettings;
use gev_sim::{ChannelFault, RunningSim, SocketFaults};
use serde_json::Value;
use std::time::{Duration, Instant};

fn options(settings: SessionSettings) -> StreamOptions {
    StreamOptions {
        topics: vec![TOPIC.into()],
        settings,
        ..StreamOptions::default()
    }
}

/// Waits (10 s at most) until `condition` holds.
async fn until(what: &str, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "timed out: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn listening(sim: &RunningSim) -> bool {
    sim.simulator
        .channel_states()
        .iter()
        .any(|(_, topics, socket)| *topics == 1 && socket.is_some())
}

fn gap_reasons(out: &crate::helpers::SharedOutput) -> Vec<String> {
    out.lines()
        .iter()
        .filter(|line| line["topicName"] == "genesys-eventbridge.gap")
        .filter_map(|line| line["eventBody"]["reason"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_socket_handshake_that_never_completes_is_retried_and_ends_in_a_gap() {
    let sim = fast_sim().await;
    sim.simulator.set_socket_faults(SocketFaults {
        hang_handshake: true,
        ..SocketFaults::default()
    });
    let settings = SessionSettings {
        request_timeout: Duration::from_millis(200),
        ..fast_settings()
    };
    let stream = start_with(&sim, options(settings));

    until("a second handshake", || {
        sim.simulator.socket_connects() >= 2
    })
    .await;
    sim.simulator.set_socket_faults(SocketFaults::default());
    until("listening", || listening(&sim)).await;
    until("the gap recorded", || !gap_reasons(&stream.out).is_empty()).await;
    let (code, out, err) = stream.stopped().await;

    assert_eq!(code, 0);
    assert!(
        err.text().contains("did not complete its handshake"),
        "{}",
        err.text()
    );
    assert_eq!(gap_reasons(&out), ["reconnect failed"], "{:?}", out.lines());
}

#[tokio::test]
async fn socket_closing_on_every_connect_backs_off_instead_of_storming() {
    let sim = fast_sim().await;
    sim.simulator.set_socket_faults(SocketFaults {
        closing_on_connect: true,
        ..SocketFaults::default()
    });
    let stream = start_with(&sim, options(fast_settings()));

    tokio::time::sleep(Duration::from_secs(2)).await;
    let connects = sim.simulator.socket_connects();
    let api_calls = sim.simulator.received_requests().len();
    sim.simulator.set_socket_faults(SocketFaults::default());
    until("listening", || listening(&sim)).await;
    let (code, _, _) = stream.stopped().await;

    assert_eq!(code, 0);
    // Full jitter from 20 ms to 200 ms: about 20 attempts in 2 s (once, thousands).
    assert!((3..=60).contains(&connects), "{connects} connects in 2 s");
    assert!(api_calls <= 2 * 60 + 5, "{api_calls} API calls in 2 s");
}

#[tokio::test]
async fn a_failed_resubscription_is_a_gap_and_is_retried_until_the_channel_carries_the_topics_again()
 {
    let sim = fast_sim().await;
    let stream = start_with(&sim, options(fast_settings()));
    until("listening", || listening(&sim)).await;
    let channel = sim.simulator.channel_states()[0].0.clone();
    sim.simulator.set_socket_faults(SocketFaults {
        refuse_subscriptions: true,
        ..SocketFaults::default()
    });

    sim.simulator
        .break_channel(&channel, ChannelFault::NoLongerSubscribed);
    // The first subscription, the client's attempts at the resubscription, then at least one
    // reconnect's attempts: the channel has been deaf past any retry of the request itself.
    until("the subscription is refused again and again", || {
        sim.simulator.subscription_requests() >= 8
    })
    .await;
    sim.simulator.set_socket_faults(SocketFaults::default());
    until("subscribed and listening again", || listening(&sim)).await;
    until("the gap recorded", || !gap_reasons(&stream.out).is_empty()).await;
    let (code, out, _) = stream.stopped().await;

    assert_eq!(code, 0);
    let reasons = gap_reasons(&out);
    assert_eq!(reasons.len(), 1, "{:?}", out.lines());
    assert!(
        reasons[0].starts_with("resubscription failed"),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn a_refused_subscription_keeps_its_channel_instead_of_making_new_ones() {
    let sim = fast_sim().await;
    sim.simulator.set_socket_faults(SocketFaults {
        refuse_subscriptions: true,
        ..SocketFaults::default()
    });
    let stream = start_with(&sim, options(fast_settings()));

    until("three refused subscriptions", || {
        sim.simulator.subscription_requests() >= 3
    })
    .await;
    let channels = sim.simulator.channel_states().len();
    sim.simulator.set_socket_faults(SocketFaults::default());
    until("listening", || listening(&sim)).await;
    let (code, _, _) = stream.stopped().await;

    assert_eq!(code, 0);
    assert_eq!(channels, 1, "one channel, subscribed again and again");
}

#[tokio::test]
async fn the_checkpoint_is_written_while_running_without_a_status_interval() {
    let sim = fast_sim().await;
    let path = std::env::temp_dir().join(format!("cp-{:x}.json", fastrand::u64(..)));
    let stream = start_with(
        &sim,
        StreamOptions {
            checkpoint: Some(path.clone()),
            checkpoint_interval: Duration::from_millis(100),
            ..options(fast_settings())
        },
    );

    until("listening", || listening(&sim)).await;
    until("the checkpoint", || path.exists()).await;
    let written: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let _ = stream.stopped().await;

    assert!(written.to_string().contains("listeningUntil"), "{written}");
    let _ = std::fs::remove_file(path);
}
