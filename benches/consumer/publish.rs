//! The publish mode: the release `genesys-eventbridge publish` in its own process, sending generated notifications to genesys-sim's EventBridge stand-in; entries/s, CPU per entry and peak RSS.

use crate::child::run_measured;
use crate::sim::{start_sim, workload};
use serde_json::{Value, json};
use std::io::Write;
use std::process::Command;

/// Notifications like the Notifications API's `…user.end` (about 700 bytes each), all distinct.
fn notifications(count: usize) -> Vec<Value> {
    (0..count)
        .map(|n| {
            let conversation = format!("9b1f0c2e-4d3a-4b5c-8e7f-{n:012}");
            json!({"topicName": format!("v2.detail.events.conversation.{conversation}.user.end"),
                   "version": "2",
                   "eventBody": {"eventTime": 1_795_428_125_000_i64, "conversationId": conversation,
                                 "participantId": format!("7a2e9c41-agnt-4c5d-9e8f-{n:012}"),
                                 "sessionId": format!("s-{n}"), "mediaType": "VOICE",
                                 "provider": "Edge", "direction": "INBOUND",
                                 "ani": "tel:+35315550100", "dnis": "tel:+35315550199",
                                 "queueId": "c0ffee00-1111-4222-8333-444455556666",
                                 "divisionId": "d1v1s10n-0000-4000-8000-000000000000",
                                 "userId": "u5e70000-0000-4000-8000-000000000001",
                                 "disconnectType": "PEER"},
                   "metadata": {"CorrelationId": format!("corr-{n}")}})
        })
        .collect()
}

/// Publishes `count` notifications from a JSON-lines file; the figures as JSON.
pub(crate) async fn publish(bench: &crate::modes::Bench, count: usize) -> Value {
    let dir = &bench.dir;
    let sim = start_sim(&workload(0, "publish"), dir);
    let input = dir.join("publish-input.jsonl");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    for event in notifications(count) {
        writeln!(file, "{event}").unwrap();
    }
    file.flush().unwrap();
    drop(file);
    let output = dir.join("publish-output.jsonl");
    let mut command = Command::new(bench.bin_dir.join("genesys-eventbridge"));
    command
        .env_clear()
        .env("AWS_ENDPOINT_URL_EVENTBRIDGE", &sim.url)
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .args(["publish", "--bus", "bench", "--events"])
        .arg(&input);
    let usage = run_measured(command, None, &output);
    let published = std::fs::read_to_string(&output)
        .unwrap()
        .lines()
        .filter(|line| line.contains("\"outcome\":\"published\""))
        .count();
    let stats: Value = reqwest::get(format!("{}/sim/eventbridge/stats", sim.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(usage.exit_code, 0, "publish failed");
    assert_eq!(published, count, "every entry published");
    assert_eq!(
        stats["accepted"].as_u64(),
        Some(count as u64),
        "the stand-in took each once"
    );
    let seconds = usage.wall.as_secs_f64();
    let figures = json!({
        "mode": "publish",
        "entries": count,
        "requests": stats["requests"],
        "entriesPerSecond": (count as f64 / seconds).round(),
        "cpuMicrosPerEntry": (usage.cpu.as_secs_f64() * 1e6 / count as f64 * 10.0).round() / 10.0,
        "peakRssMiB": (usage.peak_rss_bytes as f64 / 1_048_576.0 * 10.0).round() / 10.0,
        "wallSeconds": (seconds * 100.0).round() / 100.0,
    });
    println!(
        "publish: {count} entries in {} requests, {:.2} s: {} entries/s, {} µs CPU per entry, peak RSS {} MiB",
        figures["requests"],
        seconds,
        figures["entriesPerSecond"],
        figures["cpuMicrosPerEntry"],
        figures["peakRssMiB"]
    );
    figures
}
