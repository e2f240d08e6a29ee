//! `genesys-eventbridge replay` against moto's EventBridge: an archive with the template's pattern on a bus whose rule (the template's) delivers into a queue; a replay followed with `--wait` completes and the archived events reach the rule's target again, unchanged; asking for the same replay again finds it and sends nothing twice.

use crate::helpers::local_eventbridge;
use crate::publish_e2e::{Sqs, bus_with_the_rule_into_a_queue};
use serde_json::Value;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_genesys-eventbridge");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// What a run of the binary printed and returned.
struct Ran {
    code: i32,
    out: String,
    err: String,
}

/// Runs `genesys-eventbridge replay` with `args`.
async fn replay(args: &[&str]) -> Ran {
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(BIN)
            .arg("replay")
            .args(args)
            .output(),
    )
    .await
    .expect("replay ends within the bound")
    .unwrap();
    Ran {
        code: output.status.code().unwrap_or(-1),
        out: String::from_utf8_lossy(&output.stdout).into_owned(),
        err: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Native sample events (files 20 to 24), as the bridge would have published them.
fn bridged_samples() -> Vec<Value> {
    (20..25)
        .map(|n| {
            let path = std::fs::read_dir(format!("{ROOT}/events"))
                .unwrap()
                .map(|entry| entry.unwrap().path())
                .find(|path| {
                    path.file_name()
                        .is_some_and(|name| name.to_string_lossy().starts_with(&format!("{n}-")))
                })
                .unwrap();
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_with_wait_completes_and_the_archived_events_reach_the_rule_s_target_once() {
    // Arrange: the template's rule into a queue, an archive with the template's pattern on the
    // same bus, five events put on the bus (and delivered, and archived) plus one it does not
    // match; the queue emptied.
    let Some(events) = local_eventbridge("us-east-1").await else {
        return;
    };
    let sqs = Sqs::new();
    let run = format!("{:08x}", fastrand::u32(..));
    let (bus, ingest, _) = bus_with_the_rule_into_a_queue(&events, &sqs, &run).await;
    let bus_arn = events
        .describe_event_bus()
        .name(&bus)
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let rule_arn = events
        .describe_rule()
        .name("genesys")
        .event_bus_name(&bus)
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let template = std::fs::read_to_string(format!("{ROOT}/template.yaml")).unwrap();
    // The archive's pattern is the rule's (tests/aws/test_template.py holds them equal).
    let pattern = genesys_eventbridge::configure::check::rule_pattern(&template).unwrap();
    let archive = format!("genesys-{run}");
    events
        .create_archive()
        .archive_name(&archive)
        .event_source_arn(&bus_arn)
        .event_pattern(pattern.to_string())
        .retention_days(7)
        .send()
        .await
        .unwrap();
    let from = chrono::Utc::now() - chrono::Duration::minutes(5);
    let samples = bridged_samples();
    for event in &samples {
        let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .event_bus_name(&bus)
            .source("genesys-eventbridge.bridge")
            .detail_type(event["detail-type"].as_str().unwrap())
            .detail(event["detail"].to_string())
            .build();
        events.put_events().entries(entry).send().await.unwrap();
    }
    let unmatched = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .event_bus_name(&bus)
        .source("com.example.other")
        .detail_type("Something else")
        .detail("{}")
        .build();
    events.put_events().entries(unmatched).send().await.unwrap();
    let first_delivery = sqs.drain(&ingest).await;
    let to = (chrono::Utc::now() + chrono::Duration::seconds(1)).to_rfc3339();
    let from = from.to_rfc3339();
    let args = [
        "--archive",
        archive.as_str(),
        "--from",
        from.as_str(),
        "--to",
        to.as_str(),
        "--rule",
        rule_arn.as_str(),
        "--wait",
        "--poll-seconds",
        "0.2",
        "--timeout-seconds",
        "30",
    ];

    // Act: the replay, followed; then the same again.
    let started = replay(&args).await;
    let replayed: Vec<Value> = sqs
        .drain(&ingest)
        .await
        .iter()
        .map(|m| serde_json::from_str(m["Body"].as_str().unwrap()).unwrap())
        .collect();
    let again = replay(&args).await;
    let without_wait: Vec<&str> = args.iter().copied().filter(|a| *a != "--wait").collect();
    let looked_at = replay(&without_wait).await;
    let replayed_again = sqs.drain(&ingest).await;

    // Assert: completed; the five archived events delivered again with their details
    // unchanged (the consumer's dedup keys match: duplicates there), marked with the replay's
    // name; the second request found the first replay and sent nothing.
    assert_eq!(first_delivery.len(), 5);
    assert_eq!(started.code, 0, "{}{}", started.out, started.err);
    let name = started
        .out
        .strip_prefix("replay ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_owned();
    assert!(
        started.out.contains(&format!("replay {name} started")),
        "{}",
        started.out
    );
    assert!(
        started.out.contains(&format!("replay {name}: COMPLETED")),
        "{}",
        started.out
    );
    assert_eq!(replayed.len(), 5, "{replayed:?}");
    let mut details: Vec<String> = replayed.iter().map(|e| e["detail"].to_string()).collect();
    let mut originals: Vec<String> = samples.iter().map(|e| e["detail"].to_string()).collect();
    details.sort();
    originals.sort();
    assert_eq!(details, originals);
    assert!(replayed.iter().all(|e| e["replay-name"] == name.as_str()));
    assert_eq!(again.code, 0, "{}{}", again.out, again.err);
    assert!(
        again.out.contains(&format!(
            "replay {name} exists already (started before): not started again"
        )),
        "{}",
        again.out
    );
    assert!(again.out.contains("COMPLETED"), "{}", again.out);
    assert_eq!(looked_at.code, 0, "{}{}", looked_at.out, looked_at.err);
    assert!(
        looked_at.out.contains("COMPLETED"),
        "without --wait an existing replay is looked at once: {}",
        looked_at.out
    );
    assert!(
        replayed_again.is_empty(),
        "not replayed twice: {replayed_again:?}"
    );
}

#[tokio::test]
async fn a_replay_of_an_archive_that_does_not_exist_exits_2_naming_it() {
    let Some(_) = local_eventbridge("us-east-1").await else {
        return;
    };

    let ran = replay(&[
        "--archive",
        "no-such-archive",
        "--from",
        "2026-11-23T10:00:00Z",
        "--to",
        "2026-11-23T12:00:00Z",
    ])
    .await;

    assert_eq!(ran.code, 2, "{}{}", ran.out, ran.err);
    assert!(
        ran.err.contains("no archive named no-such-archive"),
        "{}",
        ran.err
    );
}

#[tokio::test]
async fn a_reversed_window_exits_2_before_any_call() {
    let ran = replay(&[
        "--archive",
        "genesys-events",
        "--from",
        "2026-11-23T12:00:00Z",
        "--to",
        "2026-11-23T10:00:00Z",
    ])
    .await;

    assert_eq!(ran.code, 2);
    assert!(ran.err.contains("--from"), "{}", ran.err);
}
