//! `genesys-eventbridge invoke` as a user runs it: the real binary, files, stdin, exit codes.

use crate::helpers::demo_sim;
use serde_json::Value;
use std::io::Write;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_genesys-eventbridge");
const EVENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/events");

fn invoke(base_url: &str, args: &[&str], stdin: Option<&str>) -> Output {
    invoke_with(base_url, args, stdin, &[])
}

fn invoke_with(
    base_url: &str,
    args: &[&str],
    stdin: Option<&str>,
    env: &[(&str, String)],
) -> Output {
    let mut command = Command::new(BIN);
    command
        .arg("invoke")
        .args(args)
        .env_clear()
        .env("GENESYS_CLOUD_BASE_URL", base_url)
        .env("GENESYS_CLOUD_CLIENT_ID", "demo-client")
        .env("GENESYS_CLOUD_CLIENT_SECRET", "demo-secret")
        .env(
            "DISPOSITION_CODE_ID",
            "3c2f9a7e-5d1b-4e8f-9a6c-2b7d4e1f0a99",
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    let mut child = command.spawn().unwrap();
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn event_file(name: &str) -> String {
    format!("{EVENTS}/{name}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_prints_one_line_per_event_and_exits_zero() {
    let sim = demo_sim().await;
    let first = event_file("01-eligible-voice-call.json");
    let duplicate = event_file("07-duplicate-sequence.json");
    let url = sim.base_url();

    let output = tokio::task::spawn_blocking(move || {
        invoke(&url, &["--events", &first, "--events", &duplicate], None)
    })
    .await
    .unwrap();

    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines = lines(&output);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["outcome"], "patched");
    assert_eq!(lines[1]["outcome"], "duplicate");
    assert_eq!(lines[1]["sequenceId"], "1042");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_reads_json_lines_from_stdin() {
    let sim = demo_sim().await;
    let chat = std::fs::read_to_string(event_file("02-chat-interaction.json")).unwrap();
    let unrelated = std::fs::read_to_string(event_file("08-unrelated-detail-type.json")).unwrap();
    let compact = |text: &str| serde_json::from_str::<Value>(text).unwrap().to_string();
    let stdin = format!("{}\n{}\n", compact(&chat), compact(&unrelated));
    let url = sim.base_url();

    let output =
        tokio::task::spawn_blocking(move || invoke(&url, &["--events", "-"], Some(&stdin)))
            .await
            .unwrap();

    let outcomes: Vec<_> = lines(&output)
        .iter()
        .map(|l| l["outcome"].clone())
        .collect();
    assert_eq!(outcomes, ["ineligible", "ignored"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_exits_non_zero_when_an_event_failed() {
    // Nothing listens on this port: every request fails with a retryable transport error.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let file = event_file("01-eligible-voice-call.json");

    let output = tokio::task::spawn_blocking(move || invoke(&url, &["--events", &file], None))
        .await
        .unwrap();

    assert_eq!(output.status.code(), Some(1));
    assert_eq!(lines(&output)[0]["outcome"], "failed");
}

#[test]
fn invoke_names_a_missing_setting_in_one_line() {
    let output = Command::new(BIN)
        .args([
            "invoke",
            "--events",
            &event_file("01-eligible-voice-call.json"),
        ])
        .env_clear()
        .env("GENESYS_CLOUD_BASE_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("GENESYS_CLOUD_CLIENT_ID is not set"),
        "{stderr}"
    );
}

#[test]
fn invoke_names_the_file_and_position_of_invalid_json() {
    let dir = std::env::temp_dir().join(format!("invoke-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\"id\": ").unwrap();

    let output = invoke(
        "http://127.0.0.1:9",
        &["--events", bad.to_str().unwrap()],
        None,
    );

    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.json: line 1"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn invoke_prints_an_unreadable_file_with_its_cause_once() {
    let missing = std::env::temp_dir().join(format!("invoke-missing-{}.json", std::process::id()));

    let output = invoke(
        "http://127.0.0.1:9",
        &["--events", missing.to_str().unwrap()],
        None,
    );

    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr.trim();
    assert_eq!(
        line,
        format!(
            "genesys-eventbridge: {}: cannot read: No such file or directory (os error 2)",
            missing.display()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_invoke_processes_share_dedup_through_dynamodb() {
    let Some(table) = crate::helpers::local_dedup_table() else {
        return;
    };
    let sim = demo_sim().await;
    let aws: Vec<(&str, String)> = [
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ]
    .iter()
    .filter_map(|name| std::env::var(name).ok().map(|value| (*name, value)))
    .chain([("DEDUP_TABLE_NAME", table)])
    .collect();
    // A unique interaction and sequence, so that earlier runs against the table do not interfere.
    let interaction = format!("cli-{:016x}", fastrand::u64(..));
    let mut body = sim
        .simulator
        .interaction("6f1c2a9e-0b1d-4c55-9e2a-3a1f5c7d8e01")
        .unwrap();
    body["id"] = Value::String(interaction.clone());
    sim.simulator
        .put_interaction(body.as_object().unwrap().clone())
        .unwrap();
    let mut event: Value = serde_json::from_str(
        &std::fs::read_to_string(event_file("01-eligible-voice-call.json")).unwrap(),
    )
    .unwrap();
    event["detail"]["interactionId"] = Value::String(interaction.clone());
    let stdin = event.to_string();
    let url = sim.base_url();

    let (first, second) = tokio::task::spawn_blocking(move || {
        let first = invoke_with(&url, &[], Some(&stdin), &aws);
        let second = invoke_with(&url, &[], Some(&stdin), &aws);
        (first, second)
    })
    .await
    .unwrap();

    assert_eq!(
        lines(&first)[0]["outcome"],
        "patched",
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(lines(&second)[0]["outcome"], "duplicate");
    assert_eq!(sim.simulator.patch_counts()[&interaction].received, 1);
}

#[test]
fn a_lease_shorter_than_the_invoke_timeout_is_refused_at_start_naming_both_settings() {
    let output = invoke_with(
        "http://127.0.0.1:9",
        &[
            "--timeout-seconds",
            "30",
            "--events",
            &event_file("01-eligible-voice-call.json"),
        ],
        None,
        &[("DEDUP_LEASE_MAX_SECONDS", "1".to_owned())],
    );

    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("DEDUP_LEASE_MAX_SECONDS") && stderr.contains("--timeout-seconds"),
        "{stderr}"
    );
    assert!(lines(&output).is_empty(), "no event was processed");
}

#[test]
fn the_simulators_help_describes_the_simulator() {
    let output = Command::new(crate::binaries::workspace_bin("genesys-sim"))
        .arg("--help")
        .output()
        .unwrap();

    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.starts_with("A local Genesys Cloud"), "{help}");
}

#[test]
fn absurd_stream_and_bridge_timings_are_refused_at_start_not_panicked_on() {
    let runs = [
        vec!["stream", "--topic", "t", "--heartbeat-seconds", "1e19"],
        vec!["stream", "--topic", "t", "--stop-after-seconds", "1e19"],
        vec!["stream", "--topic", "t", "--status-interval", "1e-9"],
        vec![
            "bridge",
            "--bus",
            "b",
            "--topic",
            "t",
            "--heartbeat-seconds",
            "5e18",
        ],
    ];
    for args in runs {
        let output = Command::new(BIN)
            .args(&args)
            .env_clear()
            .env("GENESYS_CLOUD_BASE_URL", "http://127.0.0.1:9")
            .env("GENESYS_CLOUD_CLIENT_ID", "demo-client")
            .env("GENESYS_CLOUD_CLIENT_SECRET", "demo-secret")
            .output()
            .unwrap();

        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("is not within"), "{args:?}: {stderr}");
    }
}
