//! `genesys-eventbridge reconcile` end to end: calls whose events were dropped upstream (the rule switched off) found through the simulator's analytics API, published onto its EventBridge stand-in, wrapped up by the consumer exactly once, with the consumer's DynamoDB dedup table (DynamoDB Local) shared.

use crate::helpers::{
    QUEUE, consumer_with, demo_sim, dynamodb_store, invocation, local_dedup_table, sim_client,
};
use gev_consumer::lambda;
use gev_genesys::HttpSettings;
use serde_json::{Value, json};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_genesys-eventbridge");

fn stamp(minutes_ago: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::minutes(minutes_ago))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// `count` conversation ids no other run uses.
fn fresh_calls(count: usize) -> Vec<String> {
    let run = fastrand::u32(..);
    (0..count)
        .map(|n| format!("{run:08x}-0000-4000-8000-{n:012x}"))
        .collect()
}

/// A call on the demo's Support queue that ended 30 minutes ago, its agent's after-call work
/// over without a wrap-up.
fn ended_call(id: &str) -> Value {
    let (start, end) = (stamp(40), stamp(30));
    let call = json!({
        "id": id,
        "participants": [
            {"id": format!("{id}-cust"), "purpose": "customer", "startTime": start,
             "connectedTime": start, "endTime": end,
             "calls": [{"id": format!("{id}-cust-call"), "state": "disconnected"}]},
            {"id": format!("{id}-agent"), "purpose": "agent", "queueId": QUEUE, "userId": "agent-user-1",
             "startTime": start, "connectedTime": start, "endTime": end, "wrapupRequired": true,
             "calls": [{"id": format!("{id}-call"), "state": "disconnected",
                        "afterCallWork": {"state": "complete"}}]}
        ]
    });
    call
}

fn put(sim: &gev_sim::RunningSim, conversation: Value) {
    let Value::Object(body) = conversation else {
        unreachable!("a conversation is an object")
    };
    sim.simulator.put_conversation(body).unwrap();
}

/// The agent's `user.end` as the partner event source delivers it.
fn original_user_end(id: &str) -> Value {
    json!({
        "version": "0", "id": format!("orig-{id}"),
        "detail-type": "v2.detail.events.conversation.{id}.user.end",
        "source": "aws.partner/genesys.com/cloud/org-1/genesys-events",
        "account": "123456789012", "time": stamp(30), "region": "eu-west-1", "resources": [],
        "detail": {
            "topicName": format!("v2.detail.events.conversation.{id}.user.end"),
            "version": "2",
            "eventBody": {"eventTime": chrono::Utc::now().timestamp_millis() - 1_800_000,
                          "conversationId": id, "participantId": format!("{id}-agent"),
                          "queueId": QUEUE, "userId": "agent-user-1", "mediaType": "VOICE"},
            "metadata": {"CorrelationId": format!("corr-{id}")}
        }
    })
}

/// `genesys-eventbridge reconcile` against the simulator (Genesys and EventBridge) and the
/// dedup table: its exit code, stdout lines and stderr.
fn reconcile(base_url: &str, table: &str, extra: &[&str]) -> (i32, Vec<Value>, String) {
    let sim = gev_sim::SimConfig::default();
    let output = Command::new(BIN)
        .args([
            "reconcile",
            "--since",
            "2h",
            "--queue",
            QUEUE,
            "--bus",
            "local",
        ])
        .args(extra)
        .env("GENESYS_CLOUD_BASE_URL", base_url)
        .env("GENESYS_CLOUD_LOGIN_URL", base_url)
        .env("GENESYS_CLOUD_CLIENT_ID", &sim.client_id)
        .env("GENESYS_CLOUD_CLIENT_SECRET", &sim.client_secret)
        .env("AWS_ENDPOINT_URL_EVENTBRIDGE", base_url)
        .env("DEDUP_TABLE_NAME", table)
        .output()
        .unwrap();
    let lines = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    (
        output.status.code().unwrap_or(-1),
        lines,
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_whose_events_were_dropped_while_the_rule_was_off_are_wrapped_up_exactly_once() {
    // Arrange: ten calls end; the rule is off for the last six, whose events are dropped.
    let (Some(table), Some(store)) = (local_dedup_table(), dynamodb_store().await) else {
        return;
    };
    let sim = demo_sim().await;
    let calls = fresh_calls(10);
    for id in &calls {
        put(&sim, ended_call(id));
    }
    let consumer = consumer_with(sim_client(&sim.base_url(), HttpSettings::default()), store);
    for id in &calls[..4] {
        lambda::handle(&consumer, original_user_end(id), &invocation("rule-on")).await;
    }

    // Act: reconcile, the consumer takes what it published; then reconcile again.
    let (code, lines, summary) = reconcile(&sim.base_url(), &table, &[]);
    for event in sim.simulator.bus().events() {
        lambda::handle(&consumer, event, &invocation("reconciled")).await;
    }
    let (second_code, second_lines, second_summary) = reconcile(&sim.base_url(), &table, &[]);

    // Assert: the six dropped calls published once, every call wrapped up once, nothing more.
    assert_eq!(code, 0, "{summary}");
    let published: Vec<&str> = lines
        .iter()
        .filter(|line| line["outcome"] == "published")
        .map(|line| line["conversationId"].as_str().unwrap())
        .collect();
    let mut dropped: Vec<&str> = calls[4..].iter().map(String::as_str).collect();
    dropped.sort_unstable();
    let mut published_sorted = published.clone();
    published_sorted.sort_unstable();
    assert_eq!(published_sorted, dropped, "{summary}");
    assert!(summary.contains("published 6"), "{summary}");
    let writes = sim.simulator.patch_counts();
    for id in &calls {
        let agent = writes
            .get(&format!("{id}/{id}-agent"))
            .map(|count| count.applied);
        assert_eq!(agent, Some(1), "{id} wrapped up once: {writes:?}");
    }
    assert_eq!(
        (second_code, second_lines.len()),
        (0, 0),
        "{second_summary}"
    );
    assert!(second_summary.contains("published 0"), "{second_summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_original_event_arriving_after_reconcile_changes_nothing() {
    let (Some(table), Some(store)) = (local_dedup_table(), dynamodb_store().await) else {
        return;
    };
    let sim = demo_sim().await;
    let id = fresh_calls(1).remove(0);
    put(&sim, ended_call(&id));
    let consumer = consumer_with(sim_client(&sim.base_url(), HttpSettings::default()), store);
    reconcile(&sim.base_url(), &table, &[]);
    for event in sim.simulator.bus().events() {
        lambda::handle(&consumer, event, &invocation("reconciled")).await;
    }
    let agent = format!("{id}/{id}-agent");
    let by_reconcile = sim.simulator.patch_counts()[&agent].applied;

    let late = lambda::handle(&consumer, original_user_end(&id), &invocation("late")).await;

    assert_eq!(by_reconcile, 1, "reconcile's event wrapped the call up");
    let writes = sim.simulator.patch_counts();
    assert_eq!(writes[&agent].applied, 1, "{late:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_reports_the_missing_calls_and_publishes_nothing() {
    let Some(table) = local_dedup_table() else {
        return;
    };
    let sim = demo_sim().await;
    let id = fresh_calls(1).remove(0);
    put(&sim, ended_call(&id));

    let (code, lines, summary) = reconcile(&sim.base_url(), &table, &["--dry-run"]);

    assert_eq!(code, 0, "{summary}");
    let line = lines
        .iter()
        .find(|line| line["conversationId"] == id.as_str())
        .unwrap();
    assert_eq!(line["outcome"], "would-publish");
    assert!(summary.contains("would publish"), "{summary}");
    assert!(sim.simulator.bus().events().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cap_publishes_up_to_its_count_and_leaves_the_rest_to_the_next_run() {
    let Some(table) = local_dedup_table() else {
        return;
    };
    let sim = demo_sim().await;
    for id in fresh_calls(3) {
        put(&sim, ended_call(&id));
    }

    let (code, lines, summary) = reconcile(&sim.base_url(), &table, &["--max-publish", "2"]);

    assert_eq!(code, 0, "{summary}");
    let outcomes: Vec<&str> = lines
        .iter()
        .map(|l| l["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == "published").count(),
        2,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes.iter().filter(|o| **o == "over-cap").count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(sim.simulator.bus().events().len(), 2);
}

#[test]
fn a_window_and_since_together_are_refused_as_bad_arguments() {
    let output = Command::new(BIN)
        .args([
            "reconcile",
            "--since",
            "2h",
            "--from",
            "2026-12-06T10:00:00Z",
            "--to",
            "2026-12-06T11:00:00Z",
        ])
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dedup_table_that_does_not_exist_is_a_settings_error_and_nothing_is_published() {
    if local_dedup_table().is_none() {
        return;
    }
    let sim = demo_sim().await;
    let id = fresh_calls(1).remove(0);
    put(&sim, ended_call(&id));

    let (code, lines, summary) = reconcile(&sim.base_url(), "no-such-table", &[]);

    assert_eq!(code, 2, "{summary}");
    assert!(lines.is_empty());
    assert!(summary.contains("dedup store"), "{summary}");
    assert!(sim.simulator.bus().events().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_whose_acw_event_was_lost_after_its_user_end_arrived_is_rechecked_and_wrapped_up() {
    // Arrange: the agent's user.end arrives during after-call work, then the rest is dropped.
    let (Some(table), Some(store)) = (local_dedup_table(), dynamodb_store().await) else {
        return;
    };
    let sim = demo_sim().await;
    let id = fresh_calls(1).remove(0);
    let mut in_acw = ended_call(&id);
    in_acw["participants"][1]["calls"][0]["afterCallWork"] = json!({"state": "pending"});
    put(&sim, in_acw);
    let consumer = consumer_with(sim_client(&sim.base_url(), HttpSettings::default()), store);
    let early = lambda::handle(&consumer, original_user_end(&id), &invocation("in-acw")).await;
    put(&sim, ended_call(&id));

    // Act
    let (code, lines, summary) = reconcile(&sim.base_url(), &table, &[]);
    for event in sim.simulator.bus().events() {
        lambda::handle(&consumer, event, &invocation("rechecked")).await;
    }
    let (_, again, second_summary) = reconcile(&sim.base_url(), &table, &[]);

    // Assert
    assert!(
        format!("{early:?}").contains("AgentInAfterCallWork"),
        "{early:?}"
    );
    assert_eq!(code, 0, "{summary}");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        lines[0]["outcome"], "rechecked",
        "not counted as missing upstream"
    );
    assert!(summary.contains("published 0, rechecked 1"), "{summary}");
    let writes = sim.simulator.patch_counts();
    assert_eq!(writes[&format!("{id}/{id}-agent")].applied, 1, "{writes:?}");
    assert!(again.is_empty(), "{second_summary}");
}
