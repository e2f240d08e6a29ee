//! The real `disposition-consumer` binary on a local Lambda Runtime API, exporting spans to a real
//! OTLP/HTTP receiver on loopback.

use crate::helpers::{attribute, demo_sim, otlp_receiver};
use gev_sim::lambda_api::{InvocationResult, RunningLambdaApi};
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::Value;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const EVENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/events");

fn lambda_process(api: &RunningLambdaApi, genesys: &str, extra: &[(&str, &str)]) -> Child {
    Command::new(crate::binaries::workspace_bin("disposition-consumer"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api.endpoint())
        .env("AWS_LAMBDA_FUNCTION_NAME", "disposition-consumer")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            "/aws/lambda/disposition-consumer",
        )
        .env("AWS_REGION", "us-east-1")
        .env("GENESYS_CLOUD_BASE_URL", genesys)
        .env("GENESYS_CLOUD_CLIENT_ID", "demo-client")
        .env("GENESYS_CLOUD_CLIENT_SECRET", "demo-secret")
        .env(
            "DISPOSITION_CODE_ID",
            "3c2f9a7e-5d1b-4e8f-9a6c-2b7d4e1f0a99",
        )
        .envs(extra.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

fn event(file: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(format!("{EVENTS}/{file}")).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_the_otlp_receiver_before_the_invocation_returns() {
    let (otlp, received) = otlp_receiver().await;
    let sim = demo_sim().await;
    let api = RunningLambdaApi::spawn().await.unwrap();
    let mut lambda = lambda_process(
        &api,
        &sim.base_url(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.as_str()),
            ("OTEL_SERVICE_NAME", "consumer-under-test"),
        ],
    );
    let timeout = Duration::from_secs(20);

    let first = api
        .invoke("req-1", event("01-eligible-voice-call.json"), timeout, None)
        .await
        .expect("the first invocation is answered");
    let second = api
        .invoke("req-2", event("07-duplicate-sequence.json"), timeout, None)
        .await
        .expect("the second invocation is answered");

    let InvocationResult::Response(response) = &first.result else {
        panic!("{first:?}")
    };
    assert_eq!(response["outcome"], "patched");
    let InvocationResult::Response(response) = &second.result else {
        panic!("{second:?}")
    };
    assert_eq!(response["outcome"], "duplicate");
    let received = received.lock().unwrap().clone();
    for (record, names) in [
        (
            &first,
            vec![
                "disposition-consumer",
                "event",
                "PATCH /api/v2/interactions/{interactionId}",
            ],
        ),
        (&second, vec!["disposition-consumer", "event", "claim"]),
    ] {
        let root = received
            .iter()
            .find(|(_, span)| {
                attribute(span, "faas.invocation_id").as_deref() == Some(&*record.request_id)
            })
            .unwrap_or_else(|| panic!("no invocation span for {}", record.request_id));
        let trace = &root.1.trace_id;
        let in_trace: Vec<&(Instant, Span)> = received
            .iter()
            .filter(|(_, span)| &span.trace_id == trace)
            .collect();
        for name in names {
            let (arrived, _) = in_trace
                .iter()
                .find(|(_, span)| span.name == name)
                .unwrap_or_else(|| panic!("{name} missing from {}", record.request_id));
            assert!(
                *arrived < record.answered_at,
                "{name} of {} arrived after the invocation returned",
                record.request_id
            );
        }
    }
    let first_root = received
        .iter()
        .find(|(_, s)| attribute(s, "faas.invocation_id").as_deref() == Some("req-1"))
        .unwrap();
    assert_eq!(
        attribute(&first_root.1, "faas.coldstart").as_deref(),
        Some("true")
    );
    let second_root = received
        .iter()
        .find(|(_, s)| attribute(s, "faas.invocation_id").as_deref() == Some("req-2"))
        .unwrap();
    assert_eq!(
        attribute(&second_root.1, "faas.coldstart").as_deref(),
        Some("false")
    );

    lambda.start_kill().unwrap();
    let output = lambda.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let metrics = lines
        .iter()
        .find(|line| line.get("_aws").is_some() && line["Outcome"] == "patched")
        .expect("an EMF line for the patched event");
    assert_eq!(
        metrics["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "GenesysEventBridge"
    );
    let log = lines
        .iter()
        .find(|line| line["message"] == "event processed" && line["outcome"] == "patched")
        .expect("a JSON log line for the patched event");
    assert_eq!(log["trace_id"], metrics["traceId"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_that_must_be_redelivered_is_reported_as_an_invocation_error() {
    let api = RunningLambdaApi::spawn().await.unwrap();
    // Nothing listens here: every Genesys request fails with a retryable transport error.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let _lambda = lambda_process(&api, &dead, &[]);

    let record = api
        .invoke(
            "req-1",
            event("01-eligible-voice-call.json"),
            Duration::from_secs(20),
            None,
        )
        .await
        .expect("the invocation is answered");

    let InvocationResult::Error(error) = &record.result else {
        panic!("{record:?}")
    };
    assert_eq!(error["errorType"], "EventFailed");
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap()
            .contains("must be delivered again")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_setting_stops_the_lambda_at_start_with_one_line() {
    let api = RunningLambdaApi::spawn().await.unwrap();
    let mut lambda = lambda_process(&api, "http://127.0.0.1:9", &[("DISPOSITION_CODE_ID", "")]);

    let status = tokio::time::timeout(Duration::from_secs(10), lambda.wait())
        .await
        .unwrap()
        .unwrap();

    assert_eq!(status.code(), Some(2));
    let mut stderr = BufReader::new(lambda.stderr.take().unwrap()).lines();
    let mut text = Vec::new();
    while let Some(line) = stderr.next_line().await.unwrap() {
        text.push(line);
    }
    assert_eq!(
        text,
        [
            "disposition-consumer: DISPOSITION_CODE_ID is not set: the id of the disposition (wrap-up) code to apply"
        ]
    );
}
