//! The stream mode: the release `genesys-eventbridge stream` in its own process, subscribed to 1,000 topics on genesys-sim, writing the notifications the simulator generates as fast as it can to a file; notifications/s, CPU per notification and peak RSS.

use crate::child::run_measured;
use crate::sim::{start_sim, workload};
use serde_json::{Value, json};
use std::process::Command;
use std::time::{Duration, Instant};

/// Streams `count` generated notifications; the figures as JSON.
pub(crate) async fn stream(bench: &crate::modes::Bench, count: usize) -> Value {
    let dir = &bench.dir;
    let sim = start_sim(&workload(0, "stream"), dir);
    let topics: Vec<String> = (0..1_000)
        .map(|n| format!("v2.detail.events.conversation.9b1f0c2e-4d3a-4b5c-8e7f-{n:012}.user.end"))
        .collect();
    let topics_file = dir.join("stream-topics.txt");
    std::fs::write(&topics_file, topics.join("\n")).unwrap();
    let output = dir.join("stream-output.jsonl");
    let _ = std::fs::remove_file(&output);
    let mut command = Command::new(bench.bin_dir.join("genesys-eventbridge"));
    command
        .env_clear()
        .env("GENESYS_CLOUD_BASE_URL", &sim.url)
        .env("GENESYS_CLOUD_CLIENT_ID", "demo-client")
        .env("GENESYS_CLOUD_CLIENT_SECRET", "demo-secret")
        .args([
            "stream",
            "--stop-after-events",
            &count.to_string(),
            "--stop-after-seconds",
            "120",
        ])
        .arg("--topics-file")
        .arg(&topics_file)
        .arg("--output")
        .arg(&output);
    let url = sim.url.clone();
    let topic = topics[0].clone();
    // Generate once the stream's socket is on its channel.
    let generator = tokio::spawn(async move {
        let http = reqwest::Client::new();
        loop {
            let channels: Value = http
                .get(format!("{url}/sim/notifications/channels"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if channels["entities"][0]["connected"] == true {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let started = Instant::now();
        http.post(format!("{url}/sim/notifications/generate"))
            .json(&json!({"topicName": topic, "count": count}))
            .send()
            .await
            .unwrap();
        started
    });
    let stdout = dir.join("stream-stdout.txt");
    let usage = tokio::task::spawn_blocking(move || run_measured(command, None, &stdout))
        .await
        .unwrap();
    let generating_since = generator.await.unwrap();
    let seconds = generating_since.elapsed().as_secs_f64();
    let lines = std::fs::read_to_string(&output).unwrap().lines().count();
    assert_eq!(usage.exit_code, 0, "stream failed");
    assert_eq!(lines, count, "every notification written");
    let figures = json!({
        "mode": "stream",
        "topics": topics.len(),
        "notifications": count,
        "notificationsPerSecond": (count as f64 / seconds).round(),
        "cpuMicrosPerNotification": (usage.cpu.as_secs_f64() * 1e6 / count as f64 * 10.0).round() / 10.0,
        "peakRssMiB": (usage.peak_rss_bytes as f64 / 1_048_576.0 * 10.0).round() / 10.0,
    });
    println!(
        "stream: {count} notifications on 1 of 1,000 subscribed topics: {} notifications/s, {} µs CPU per notification, peak RSS {} MiB",
        figures["notificationsPerSecond"],
        figures["cpuMicrosPerNotification"],
        figures["peakRssMiB"]
    );
    figures
}
