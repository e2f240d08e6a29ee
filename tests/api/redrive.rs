//! `genesys-eventbridge redrive` on loopback: a dead-letter queue in moto's SQS holding the three shapes of dead letter, re-driven onto moto's EventBridge (the template's rule into a queue, the consumer's handler against the simulator) or onto the simulator's EventBridge stand-in told to refuse entries; what it cannot understand, a dry run, a second run.

use crate::helpers::{demo_sim, disposition, invocation, local_aws, sim_consumer};
use crate::publish::{bridge_id, notification};
use crate::publish_e2e::{Sqs, bus_with_the_rule_into_a_queue, lambda_sqs_event};
use gev_consumer::consumer::{Consumer, PipelineSettings};
use gev_consumer::lambda;
use gev_sim::eventbridge::BusScript;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_genesys-eventbridge");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The longest a redrive run may take here.
const BOUND: Duration = Duration::from_secs(60);

/// moto's SQS through the SDK, if `make test` started it (said loudly when not).
async fn local_sqs() -> Option<aws_sdk_sqs::Client> {
    local_aws(
        "AWS_ENDPOINT_URL_SQS",
        "no local SQS (`make test` starts moto)",
    )?;
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    Some(aws_sdk_sqs::Client::new(&shared))
}

/// moto's bus with the template's rule into an ingest queue, and an empty dead-letter queue.
struct Queues {
    sqs_client: aws_sdk_sqs::Client,
    sqs: Sqs,
    bus: String,
    ingest: String,
    ingest_arn: String,
    dlq: String,
}

/// [`Queues`] of a new run, if `make test` started moto (said loudly when not).
async fn rule_and_dead_letter_queue() -> Option<Queues> {
    let sqs_client = local_sqs().await?;
    let events = crate::helpers::local_eventbridge("us-east-1").await?;
    let sqs = Sqs::new();
    let run = format!("{:08x}", fastrand::u32(..));
    let (bus, ingest, ingest_arn) = bus_with_the_rule_into_a_queue(&events, &sqs, &run).await;
    let dlq = dead_letter_queue(&sqs_client, &run).await;
    Some(Queues {
        sqs_client,
        sqs,
        bus,
        ingest,
        ingest_arn,
        dlq,
    })
}

/// A new, empty dead-letter queue named after `run`: its URL.
async fn dead_letter_queue(sqs: &aws_sdk_sqs::Client, run: &str) -> String {
    sqs.create_queue()
        .queue_name(format!("dlq-{run}"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned()
}

/// Sends each of `bodies` to the queue as one message.
async fn dead_letters(sqs: &aws_sdk_sqs::Client, queue: &str, bodies: &[String]) {
    for body in bodies {
        sqs.send_message()
            .queue_url(queue)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
}

/// The sample events (`events/[0-9]*.json`), in name order.
fn samples() -> Vec<Value> {
    let mut paths: Vec<_> = std::fs::read_dir(format!("{ROOT}/events"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap())
        .collect()
}

/// A Lambda on-failure destination record of the consumer invoked with `payload`.
fn lambda_failure(payload: Value) -> Value {
    json!({
        "version": "1.0",
        "timestamp": "2026-11-23T11:00:00.000Z",
        "requestContext": {"requestId": "0b1e-4d", "condition": "RetriesExhausted",
                           "approximateInvokeCount": 3,
                           "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:consumer:$LATEST"},
        "requestPayload": payload,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorType": "EventFailed", "errorMessage": "Genesys answered 503"}
    })
}

/// What the state machine's `SendToDeadLetterQueue` sends for `event`: the item with its `failure`.
fn step_functions_error(event: &Value) -> Value {
    let mut item = event.clone();
    item["failure"] =
        json!({"Error": "EventFailed", "Cause": "{\"errorMessage\":\"Genesys answered 503\"}"});
    item
}

/// 20 dead letters holding the 22 sample events: 8 EventBridge events, 5 Lambda failure
/// records, 1 Lambda failure record of an SQS batch of 3, 6 Step Functions errors.
fn twenty_dead_letters(events: &[Value]) -> Vec<String> {
    assert_eq!(events.len(), 22, "the sample events");
    let mut bodies: Vec<Value> = Vec::new();
    bodies.extend(events[0..8].iter().cloned());
    bodies.extend(events[8..13].iter().cloned().map(lambda_failure));
    let records: Vec<Value> = events[13..16]
        .iter()
        .enumerate()
        .map(|(n, event)| json!({"messageId": format!("m-{n}"), "body": event.to_string(), "eventSource": "aws:sqs"}))
        .collect();
    bodies.push(lambda_failure(json!({"Records": records})));
    bodies.extend(events[16..22].iter().map(step_functions_error));
    assert_eq!(bodies.len(), 20);
    bodies.iter().map(Value::to_string).collect()
}

/// What a run of the binary printed and returned.
struct Ran {
    code: i32,
    /// stdout's lines, split at tabs: message id, recognised as, outcome.
    lines: Vec<Vec<String>>,
    err: String,
    took: Duration,
}

impl Ran {
    fn outcomes(&self) -> Vec<&str> {
        self.lines.iter().map(|line| line[2].as_str()).collect()
    }

    fn count(&self, column: usize, text: &str) -> usize {
        self.lines
            .iter()
            .filter(|line| line[column] == text)
            .count()
    }
}

/// Runs `genesys-eventbridge redrive` with `args` (and `env` over the test's environment).
async fn redrive(args: &[&str], env: &[(&str, &str)]) -> Ran {
    let started = Instant::now();
    let output = tokio::time::timeout(
        BOUND,
        tokio::process::Command::new(BIN)
            .arg("redrive")
            .args(args)
            .envs(env.iter().copied())
            .output(),
    )
    .await
    .expect("redrive ends within the bound")
    .unwrap();
    let lines = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| line.split('\t').map(str::to_owned).collect::<Vec<_>>())
        .collect::<Vec<_>>();
    for line in &lines {
        assert_eq!(line.len(), 3, "id, recognised as, outcome: {line:?}");
    }
    Ran {
        code: output.status.code().unwrap_or(-1),
        lines,
        err: String::from_utf8_lossy(&output.stderr).into_owned(),
        took: started.elapsed(),
    }
}

/// The events delivered to the ingest queue, parsed.
async fn delivered(sqs: &Sqs, ingest: &str) -> Vec<Value> {
    sqs.drain(ingest)
        .await
        .iter()
        .map(|m| serde_json::from_str(m["Body"].as_str().unwrap()).unwrap())
        .collect()
}

/// The consumer's outcomes for `events` delivered as one SQS batch.
async fn consume(consumer: &Consumer, events: &[Value], queue_arn: &str) -> Vec<String> {
    let messages: Vec<Value> = events
        .iter()
        .enumerate()
        .map(|(n, event)| {
            json!({"MessageId": format!("d-{n}"), "ReceiptHandle": format!("r-{n}"),
                   "Body": event.to_string(), "MD5OfBody": ""})
        })
        .collect();
    lambda::handle(
        consumer,
        lambda_sqs_event(&messages, queue_arn),
        &invocation("redrive"),
    )
    .await
    .reports
    .iter()
    .map(|report| report.outcome.name().to_owned())
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_dead_letters_of_three_shapes_are_redriven_once_and_redriving_them_again_is_harmless()
 {
    // Arrange: a bus with the template's rule into an ingest queue, a dead-letter queue holding
    // the 22 sample events in 20 messages of the three shapes, a consumer of the simulator.
    let Some(Queues {
        sqs_client,
        sqs,
        bus,
        ingest,
        ingest_arn,
        dlq,
    }) = rule_and_dead_letter_queue().await
    else {
        return;
    };
    let originals = samples();
    let bodies = twenty_dead_letters(&originals);
    dead_letters(&sqs_client, &dlq, &bodies).await;
    let sim = demo_sim().await;
    let consumer = sim_consumer(&sim.base_url(), PipelineSettings::new(disposition()));
    let args = ["--queue-url", dlq.as_str(), "--bus", bus.as_str()];

    // Act: redrive, consume what the rule delivered; redrive the empty queue; then the same
    // twenty dead letters again, consumed by the same consumer.
    let first = redrive(&args, &[]).await;
    let arrived = delivered(&sqs, &ingest).await;
    let first_outcomes = consume(&consumer, &arrived, &ingest_arn).await;
    let left = sqs.drain(&dlq).await;
    let second = redrive(&args, &[]).await;
    let writes_before = sim.simulator.patch_counts();
    dead_letters(&sqs_client, &dlq, &bodies).await;
    let again = redrive(&args, &[]).await;
    let arrived_again = delivered(&sqs, &ingest).await;
    let again_outcomes = consume(&consumer, &arrived_again, &ingest_arn).await;

    // Assert: all twenty redriven, recognised by shape; the queue emptied; the rule delivered
    // every sample it matches with its detail unchanged (the consumer's dedup keys match); the
    // second run found nothing; the third changed no wrap-up.
    assert_eq!(first.code, 0, "{}", first.err);
    assert_eq!(first.count(2, "redriven"), 20, "{:?}", first.lines);
    assert_eq!(
        (
            first.count(1, "eventbridge-event"),
            first.count(1, "lambda-failure-record"),
            first.count(1, "lambda-failure-record/sqs-batch (3 events)"),
            first.count(1, "step-functions-error"),
        ),
        (8, 5, 1, 6)
    );
    assert!(left.is_empty(), "the dead-letter queue is empty: {left:?}");
    let matched: Vec<&Value> = originals
        .iter()
        .filter(|e| e["detail-type"] != "purecloud:v2:user:presence")
        .collect();
    assert_eq!(
        arrived.len(),
        matched.len(),
        "every sample the rule matches"
    );
    let mut sent_details: Vec<String> = arrived.iter().map(|e| e["detail"].to_string()).collect();
    let mut original_details: Vec<String> =
        matched.iter().map(|e| e["detail"].to_string()).collect();
    sent_details.sort();
    original_details.sort();
    assert_eq!(sent_details, original_details, "details unchanged");
    for event in &arrived {
        let expected = if event["detail-type"] == "purecloud:v2:interaction:update" {
            "com.genesys.interaction"
        } else {
            "genesys-eventbridge.bridge"
        };
        assert_eq!(
            event["source"], expected,
            "a partner source cannot be put: the bridge's"
        );
    }
    let patched = first_outcomes.iter().filter(|o| *o == "patched").count();
    assert!(patched >= 2, "{first_outcomes:?}");
    let written: Vec<u64> = writes_before
        .values()
        .map(|count| count.applied)
        .filter(|applied| *applied > 0)
        .collect();
    assert_eq!(written.len(), patched, "{writes_before:?}");
    assert!(
        written.iter().all(|applied| *applied == 1),
        "{writes_before:?}"
    );
    assert_eq!((second.code, second.lines.len()), (0, 0), "{}", second.err);
    assert_eq!(again.code, 0, "{}", again.err);
    assert_eq!(again.count(2, "redriven"), 20);
    assert_eq!(arrived_again.len(), arrived.len());
    assert!(
        !again_outcomes.iter().any(|o| o == "patched"),
        "{again_outcomes:?}"
    );
    assert!(
        again_outcomes.iter().filter(|o| *o == "duplicate").count() >= patched,
        "what was patched is a duplicate now: {first_outcomes:?} then {again_outcomes:?}"
    );
    assert_eq!(
        sim.simulator.patch_counts(),
        writes_before,
        "no wrap-up written twice"
    );
    eprintln!(
        "redrive of 20 messages (22 events): {:.2} s; the empty queue: {:.2} s; consumer: {} \
         patched, then {} duplicate of {} on the second redrive",
        first.took.as_secs_f64(),
        second.took.as_secs_f64(),
        patched,
        again_outcomes.iter().filter(|o| *o == "duplicate").count(),
        again_outcomes.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_it_cannot_understand_stays_in_the_queue_with_its_reason_and_exit_3() {
    // Arrange: two events and two messages of no known shape.
    let Some(Queues {
        sqs_client,
        sqs,
        bus,
        ingest,
        dlq,
        ..
    }) = rule_and_dead_letter_queue().await
    else {
        return;
    };
    let originals = samples();
    let mut bodies: Vec<String> = originals[19..21].iter().map(Value::to_string).collect();
    bodies
        .push(json!({"note": "written by hand", "customerPhone": "+44 20 7946 0000"}).to_string());
    bodies.push("dead letter, not JSON".to_owned());
    dead_letters(&sqs_client, &dlq, &bodies).await;

    // Act
    let ran = redrive(&["--queue-url", &dlq, "--bus", &bus], &[]).await;

    // Assert: the events redriven, the other two kept, visible at once, with their reasons
    // (naming fields, never values).
    assert_eq!(ran.code, 3, "{}", ran.err);
    assert_eq!(ran.count(2, "redriven"), 2, "{:?}", ran.lines);
    let kept: Vec<&Vec<String>> = ran.lines.iter().filter(|l| l[2] != "redriven").collect();
    assert_eq!(kept.len(), 2);
    assert!(kept.iter().all(|l| l[1] == "unrecognised"));
    let reasons = kept
        .iter()
        .map(|l| l[2].as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        reasons.contains("kept: neither an EventBridge event")
            && reasons.contains("its fields: customerPhone, note"),
        "{reasons}"
    );
    assert!(reasons.contains("kept: the body is not JSON"), "{reasons}");
    assert!(!reasons.contains("+44"), "no value echoed: {reasons}");
    assert!(
        ran.err.contains("2 kept (2 to look at, 0 for a later run)"),
        "{}",
        ran.err
    );
    let mut left: Vec<String> = sqs
        .drain(&dlq)
        .await
        .iter()
        .map(|m| m["Body"].as_str().unwrap().to_owned())
        .collect();
    left.sort();
    let mut expected = bodies[2..].to_vec();
    expected.sort();
    assert_eq!(left, expected, "kept, and visible again at once");
    assert_eq!(delivered(&sqs, &ingest).await.len(), 2);
}

/// A dead letter of an event the bridge published (it carries its bridge id).
fn bridged_dead_letter(n: usize) -> (String, String) {
    let entry = genesys_eventbridge::publish::transform(
        &notification(n, 10),
        genesys_eventbridge::publish::DEFAULT_SOURCE,
        "2026-11-23T10:00:00Z",
    )
    .unwrap();
    let event = json!({
        "version": "0", "id": format!("eb-{n}"), "detail-type": entry.detail_type,
        "source": entry.source, "account": "123456789012", "time": "2026-11-23T10:00:00Z",
        "region": "us-east-1", "resources": [],
        "detail": serde_json::from_str::<Value>(&entry.detail).unwrap(),
    });
    (bridge_id(&notification(n, 10)), event.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_the_bus_refuses_mid_run_stay_in_the_queue_and_a_second_run_redrives_them_once() {
    // Arrange: ten bridged events in the dead-letter queue; the simulator's EventBridge stand-in
    // denies three of them and keeps failing two (past every retry).
    let Some(sqs_client) = local_sqs().await else {
        return;
    };
    let run = format!("{:08x}", fastrand::u32(..));
    let dlq = dead_letter_queue(&sqs_client, &run).await;
    let letters: Vec<(String, String)> = (0..10).map(bridged_dead_letter).collect();
    let bodies: Vec<String> = letters.iter().map(|(_, body)| body.clone()).collect();
    dead_letters(&sqs_client, &dlq, &bodies).await;
    let sim = demo_sim().await;
    let bus = sim.simulator.bus();
    let mut entries = HashMap::new();
    for (id, _) in &letters[2..5] {
        entries.insert(id.clone(), vec!["AccessDeniedException".to_owned()]);
    }
    for (id, _) in &letters[7..9] {
        entries.insert(id.clone(), vec!["InternalFailure".to_owned(); 20]);
    }
    bus.set_script(BusScript {
        entries,
        fail_requests: None,
    });
    let stand_in = sim.base_url();
    let env = [("AWS_ENDPOINT_URL_EVENTBRIDGE", stand_in.as_str())];
    let args = ["--queue-url", dlq.as_str(), "--bus", "genesys-events"];

    // Act: a run against the refusing bus, then (the cause fixed) a second run.
    let first = redrive(&args, &env).await;
    bus.set_script(BusScript::default());
    let second = redrive(&args, &env).await;
    let left = Sqs::new().drain(&dlq).await;

    // Assert: five redriven, three kept for a person, two for a later run (exit 1 first); the
    // second run took the five, nothing left; every event on the bus exactly once.
    assert_eq!(first.code, 1, "{}", first.err);
    assert_eq!(first.count(2, "redriven"), 5, "{:?}", first.lines);
    let outcomes = first.outcomes();
    assert_eq!(
        outcomes
            .iter()
            .filter(
                |o| o.starts_with("kept: the bus refused 1 of its 1 events: AccessDeniedException")
            )
            .count(),
        3,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| o
                .starts_with("kept: 1 of its 1 events not accepted after retries: InternalFailure"))
            .count(),
        2,
        "{outcomes:?}"
    );
    assert_eq!(second.code, 0, "{}", second.err);
    assert_eq!(second.count(2, "redriven"), 5);
    assert!(left.is_empty(), "{left:?}");
    let mut accepted: HashMap<String, usize> = HashMap::new();
    for event in bus.events() {
        let id = event["detail"]["bridge"]["eventId"]
            .as_str()
            .unwrap()
            .to_owned();
        *accepted.entry(id).or_default() += 1;
    }
    assert_eq!(accepted.len(), 10, "nothing lost");
    assert!(
        accepted.values().all(|n| *n == 1),
        "nothing doubled: {accepted:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_says_what_it_would_do_and_sends_and_deletes_nothing() {
    // Arrange: five events and one message of no known shape.
    let Some(Queues {
        sqs_client,
        sqs,
        bus,
        ingest,
        dlq,
        ..
    }) = rule_and_dead_letter_queue().await
    else {
        return;
    };
    let mut bodies: Vec<String> = samples()[11..16].iter().map(Value::to_string).collect();
    bodies.push("[]".to_owned());
    dead_letters(&sqs_client, &dlq, &bodies).await;

    // Act
    let ran = redrive(&["--queue-url", &dlq, "--bus", &bus, "--dry-run"], &[]).await;

    // Assert
    assert_eq!(ran.code, 3, "the message it cannot understand: {}", ran.err);
    assert_eq!(ran.count(2, "would-redrive"), 5, "{:?}", ran.lines);
    assert!(delivered(&sqs, &ingest).await.is_empty(), "nothing sent");
    assert_eq!(
        sqs.drain(&dlq).await.len(),
        6,
        "nothing deleted, all visible at once"
    );
}

#[tokio::test]
async fn bad_arguments_exit_2_before_any_call() {
    let ran = redrive(&["--queue-url", "dead-letters"], &[]).await;
    let aws_source = redrive(
        &[
            "--queue-url",
            "http://127.0.0.1:9/123456789012/dlq",
            "--source",
            "aws.partner/genesys.com/x",
        ],
        &[],
    )
    .await;

    assert_eq!(ran.code, 2);
    assert!(ran.err.contains("--queue-url"), "{}", ran.err);
    assert_eq!(aws_source.code, 2);
    assert!(aws_source.err.contains("--source"), "{}", aws_source.err);
}
