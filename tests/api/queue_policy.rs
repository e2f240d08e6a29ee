//! Queue-aware wrap-up against the simulator: each queue's own code from the policy, codes checked against the queue, and the Genesys requests each call costs, counted at the simulator.

use crate::fixtures::TestApp;
use crate::helpers::*;
use gev_consumer::consumer::Consumer;
use gev_core::domain::{Outcome, WrapupPolicy};
use gev_sim::{RunningSim, SeedData, SimConfig};
use serde_json::{Map, Value, json};

const SALES: &str = "0000a1e5-0000-4000-8000-000000000001";
const SUPPORT: &str = "5a990a7e-0000-4000-8000-000000000002";
const VIP: &str = "000000f1-0000-4000-8000-000000000003";
const SALES_CODE: &str = "c0de0001-0000-4000-8000-000000000001";
const SUPPORT_CODE: &str = "c0de0002-0000-4000-8000-000000000002";
const VIP_CODE: &str = "c0de0003-0000-4000-8000-000000000003";

fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}

fn queue(id: &str, prompt: &str, code: &str) -> Map<String, Value> {
    object(json!({
        "id": id, "name": format!("queue {id}"),
        "division": {"id": "d1v1s10n-0000-4000-8000-000000000000", "name": "Home"},
        "acwSettings": {"wrapupPrompt": prompt, "timeoutMs": 30000},
        "x-sim": {"wrapupCodes": [code]}
    }))
}

/// An ended call on `queue`: a customer and an agent whose after-call work ended without a code.
fn call(conversation: &str, queue: &str) -> Map<String, Value> {
    object(json!({
        "id": conversation,
        "participants": [
            {"id": format!("{conversation}-cust"), "purpose": "customer",
             "calls": [{"id": format!("{conversation}-cc"), "state": "disconnected"}]},
            {"id": format!("{conversation}-agent"), "purpose": "agent", "queueId": queue,
             "userId": "5e4d3c2b-1a09-4f8e-8d7c-6b5a49382716",
             "connectedTime": "2026-11-23T10:00:00.000Z", "endTime": "2026-11-23T10:02:00.000Z",
             "wrapupRequired": true, "wrapupPrompt": "timeout",
             "startAcwTime": "2026-11-23T10:02:00.000Z", "endAcwTime": "2026-11-23T10:02:30.000Z",
             "calls": [{"id": format!("{conversation}-ac"), "state": "disconnected",
                        "afterCallWork": {"state": "complete"}}]}
        ]
    }))
}

/// The three queues and one ended call on each.
fn org() -> SeedData {
    SeedData {
        queues: vec![
            queue(SALES, "MANDATORY_TIMEOUT", SALES_CODE),
            queue(SUPPORT, "MANDATORY", SUPPORT_CODE),
            queue(VIP, "OPTIONAL", VIP_CODE),
        ],
        conversations: vec![
            call("c-sales", SALES),
            call("c-support", SUPPORT),
            call("c-vip", VIP),
        ],
        ..SeedData::default()
    }
}

/// The simulator with [`org`], and a consumer of it with the wrap-up policy `text`.
async fn org_with_policy(text: &str) -> TestApp {
    let text = text.to_owned();
    TestApp::builder()
        .seed(org())
        .consumer(move |consumer| consumer.policy(&text))
        .spawn()
        .await
}

const THREE_QUEUES: &str = r#"{"rules": [
    {"queueId": "0000a1e5-0000-4000-8000-000000000001", "code": "c0de0001-0000-4000-8000-000000000001"},
    {"queueId": "5a990a7e-0000-4000-8000-000000000002", "code": "c0de0002-0000-4000-8000-000000000002"},
    {"queueId": "000000f1-0000-4000-8000-000000000003", "action": "skip"}
]}"#;

/// One event of `conversation`'s call as Genesys sends it: `user.end` and `customer.end` with
/// their durations, `acw` with its queue (and `wrapupCode` when `code` is given).
fn event(topic: &str, conversation: &str, queue: &str, code: Option<&str>, time: i64) -> Value {
    let (participant, mut body) = match topic {
        "customer.end" => (
            format!("{conversation}-cust"),
            json!({"divisionId": "d1v1s10n-0000-4000-8000-000000000000",
                   "interactingDurationMs": 120_000, "disconnectType": "CLIENT"}),
        ),
        "user.end" => (
            format!("{conversation}-agent"),
            json!({"queueId": queue, "divisionId": "d1v1s10n-0000-4000-8000-000000000000",
                   "interactingDurationMs": 120_000, "disconnectType": "CLIENT",
                   "userId": "5e4d3c2b-1a09-4f8e-8d7c-6b5a49382716"}),
        ),
        _ => (
            format!("{conversation}-agent"),
            json!({"queueId": queue, "wrapupDurationMs": 30_000,
                   "userId": "5e4d3c2b-1a09-4f8e-8d7c-6b5a49382716"}),
        ),
    };
    body["eventTime"] = json!(time);
    body["conversationId"] = json!(conversation);
    body["participantId"] = json!(participant);
    body["mediaType"] = json!("VOICE");
    body["direction"] = json!("INBOUND");
    if let Some(code) = code {
        body["wrapupCode"] = json!(code);
    }
    json!({
        "version": "0", "id": format!("{conversation}-{topic}-{time}"),
        "detail-type": format!("v2.detail.events.conversation.{{id}}.{topic}"),
        "source": "aws.partner/genesys.com/cloud/org-1/genesys-events",
        "account": "123456789012", "time": "2026-11-23T10:20:00Z", "region": "eu-west-1",
        "resources": [],
        "detail": {
            "topicName": format!("v2.detail.events.conversation.{conversation}.{topic}"),
            "version": "2", "eventBody": body,
            "metadata": {"CorrelationId": format!("corr-{conversation}-{topic}")}
        }
    })
}

/// The whole event sequence of one call without an agent-chosen code.
fn whole_call(conversation: &str, queue: &str) -> [Value; 3] {
    [
        event("user.end", conversation, queue, None, 1_000),
        event("customer.end", conversation, queue, None, 1_001),
        event("acw", conversation, queue, None, 31_000),
    ]
}

/// Processes `events` one after the other.
async fn in_order(consumer: &Consumer, events: &[Value]) -> Vec<gev_consumer::consumer::Report> {
    let mut reports = Vec::new();
    for event in events {
        reports.push(consumer.process(event, &invocation("r")).await);
    }
    reports
}

/// Requests the simulator received other than the token and the queue facts.
fn call_requests(sim: &RunningSim) -> Vec<String> {
    sim.simulator
        .received_requests()
        .into_iter()
        .filter(|r| r.path != "/oauth/token" && !r.path.starts_with("/api/v2/routing/"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[tokio::test]
async fn each_queue_gets_its_own_code_and_a_skipped_queue_none_with_one_request_per_wrapped_up_call()
 {
    let TestApp { sim, consumer } = org_with_policy(THREE_QUEUES).await;

    let mut outcomes = Vec::new();
    for (conversation, queue) in [("c-sales", SALES), ("c-support", SUPPORT), ("c-vip", VIP)] {
        for delivery in whole_call(conversation, queue) {
            let report = consumer.process(&delivery, &invocation("r")).await;
            outcomes.push((
                conversation,
                report.outcome.name(),
                report.rule,
                report.code,
            ));
        }
    }

    let applied = |conversation: &str| {
        sim.simulator
            .conversation(conversation)
            .unwrap()
            .pointer("/participants/1/wrapup/code")
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    assert_eq!(applied("c-sales").as_deref(), Some(SALES_CODE));
    assert_eq!(applied("c-support").as_deref(), Some(SUPPORT_CODE));
    assert_eq!(applied("c-vip"), None);
    let acw_lines: Vec<_> = outcomes.iter().skip(2).step_by(3).cloned().collect();
    assert_eq!(
        acw_lines,
        [
            (
                "c-sales",
                "patched",
                Some("rules[0]".into()),
                Some(SALES_CODE.into())
            ),
            (
                "c-support",
                "patched",
                Some("rules[1]".into()),
                Some(SUPPORT_CODE.into())
            ),
            ("c-vip", "ineligible", Some("rules[2]".into()), None),
        ]
    );
    assert_eq!(
        call_requests(&sim),
        [
            "PATCH /api/v2/conversations/calls/c-sales/participants/c-sales-agent",
            "PATCH /api/v2/conversations/calls/c-support/participants/c-support-agent",
        ],
        "one write per wrapped-up call, no read"
    );
}

#[tokio::test]
async fn events_that_cannot_lead_to_a_write_cost_no_genesys_request() {
    let TestApp { sim, consumer } = org_with_policy(THREE_QUEUES).await;
    // The queues' facts are read once per instance; count what comes after.
    for queue in [SALES, VIP] {
        consumer
            .process(&event("user.end", "warm", queue, None, 1), &invocation("w"))
            .await;
    }
    sim.simulator.clear_received_requests();
    let mut chat = event("user.end", "c-sales", SALES, None, 5);
    chat["detail"]["eventBody"]["mediaType"] = json!("CHAT");

    let events = [
        event("acw", "c-sales", SALES, Some(SALES_CODE), 2),
        event("customer.end", "c-sales", SALES, None, 3),
        event("user.end", "c-sales", SALES, None, 4),
        event("user.end", "c-vip", VIP, None, 4),
        chat,
    ];
    let reports = in_order(&consumer, &events).await;

    let reasons: Vec<_> = reports
        .iter()
        .map(|r| r.outcome.reason().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "wrap-up-already-set",
            "agent-events-decide",
            "agent-in-after-call-work",
            "policy-skip",
            "non-voice-interaction"
        ]
    );
    assert_eq!(sim.simulator.received_requests().len(), 0);
}

#[tokio::test]
async fn a_code_not_on_the_calls_queue_is_never_sent_and_fails_until_the_policy_is_fixed() {
    let wrong = format!(r#"{{"rules": [{{"queueId": "{SALES}", "code": "{SUPPORT_CODE}"}}]}}"#);
    let TestApp { sim, consumer } = org_with_policy(&wrong).await;

    let report = consumer
        .process(
            &event("acw", "c-sales", SALES, None, 31_000),
            &invocation("r"),
        )
        .await;

    assert_eq!(report.outcome.name(), "failed");
    assert!(
        !report.outcome.is_terminal(),
        "a configuration fix heals it"
    );
    let reason = report.outcome.reason().unwrap();
    assert!(reason.starts_with("code-not-on-queue: "), "{reason}");
    assert!(
        reason.contains(SALES) && reason.contains(SUPPORT_CODE),
        "{reason}"
    );
    assert!(call_requests(&sim).iter().all(|r| !r.starts_with("PATCH")));
}

#[tokio::test]
async fn a_400_on_the_wrapup_write_is_a_code_not_on_the_queue_too() {
    // The event names the sales queue, but Genesys routed the agent from support, whose codes
    // do not include the sales code: Genesys answers 400.
    let TestApp { sim, consumer } = org_with_policy(THREE_QUEUES).await;
    sim.simulator
        .put_conversation(call("c-moved", SUPPORT))
        .unwrap();

    let report = consumer
        .process(
            &event("acw", "c-moved", SALES, None, 31_000),
            &invocation("r"),
        )
        .await;

    let reason = report.outcome.reason().unwrap();
    assert!(!report.outcome.is_terminal());
    assert!(reason.starts_with("code-not-on-queue: "), "{reason}");
    assert!(reason.contains("400"), "{reason}");
}

#[tokio::test]
async fn a_shadow_rule_decides_the_code_and_writes_nothing() {
    let shadow = format!(
        r#"{{"rules": [{{"queueId": "{SALES}", "action": "shadow", "code": "{SALES_CODE}"}}]}}"#
    );
    let TestApp { sim, consumer } = org_with_policy(&shadow).await;

    let events = [
        event("user.end", "c-sales", SALES, None, 1_000),
        event("acw", "c-sales", SALES, None, 31_000),
    ];
    let reports = in_order(&consumer, &events).await;

    assert_eq!(
        reports[1].outcome,
        Outcome::WouldPatch {
            code: SALES_CODE.into(),
            not_on_queue: None,
        }
    );
    assert_eq!(reports[1].rule.as_deref(), Some("rules[0]"));
    assert!(call_requests(&sim).is_empty(), "{:?}", call_requests(&sim));
}

#[tokio::test]
async fn an_acw_whose_user_end_never_came_reads_the_conversation_once() {
    let TestApp { sim, consumer } = org_with_policy(THREE_QUEUES).await;

    let report = consumer
        .process(
            &event("acw", "c-sales", SALES, None, 31_000),
            &invocation("r"),
        )
        .await;

    assert_eq!(report.outcome, Outcome::Patched);
    assert_eq!(
        call_requests(&sim),
        [
            "GET /api/v2/conversations/c-sales",
            "PATCH /api/v2/conversations/calls/c-sales/participants/c-sales-agent",
        ]
    );
}

#[tokio::test]
async fn a_short_call_noted_by_its_user_end_is_left_alone_without_a_read() {
    let TestApp { sim, consumer } = org_with_policy(THREE_QUEUES).await;
    let mut short = event("user.end", "c-sales", SALES, None, 1_000);
    short["detail"]["eventBody"]["interactingDurationMs"] = json!(5_000);

    consumer.process(&short, &invocation("r1")).await;
    let report = consumer
        .process(
            &event("acw", "c-sales", SALES, None, 31_000),
            &invocation("r2"),
        )
        .await;

    assert_eq!(report.outcome.reason().unwrap(), "duration-below-threshold");
    assert!(call_requests(&sim).is_empty());
}

#[tokio::test]
async fn the_simulator_answers_429_with_retry_after_past_the_clients_budget() {
    let app = TestApp::builder()
        .config(SimConfig {
            request_budget: Some(gev_sim::RequestBudget {
                requests: 3,
                window: std::time::Duration::from_secs(60),
            }),
            ..SimConfig::default()
        })
        .seed(SeedData::default())
        .spawn()
        .await;
    let api = app.api().await;

    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..3 {
        let response = api.get("/api/v2/routing/queues").send().await.unwrap();
        statuses.push(response.status().as_u16());
        if let Some(value) = response.headers().get("retry-after") {
            retry_after = value.to_str().ok().map(str::to_owned);
        }
    }

    assert_eq!(statuses, [200, 200, 429], "the token request counts too");
    let seconds: u64 = retry_after.unwrap().parse().unwrap();
    assert!((1..=60).contains(&seconds), "{seconds}");
    assert_eq!(app.sim.simulator.throttled_requests(), 1);
}

#[tokio::test]
async fn doctor_finds_every_policy_mistake_before_the_first_call() {
    let app = TestApp::builder().seed(org()).spawn().await;
    let mistaken = WrapupPolicy::parse(&format!(
        r#"{{"rules": [
            {{"queueId": "{SALES}", "code": "{SUPPORT_CODE}"}},
            {{"queueId": "{VIP}", "action": "skip"}},
            {{"queueId": "no-such-queue", "code": "{SALES_CODE}"}}
        ], "default": {{"code": "{SALES_CODE}"}}}}"#
    ))
    .unwrap();

    let findings =
        gev_consumer::doctor::check(&app.client(), &mistaken, std::time::Duration::from_secs(5))
            .await;

    let failures: Vec<String> = findings
        .iter()
        .filter(|f| !f.ok)
        .map(|f| format!("{}: {}", f.subject, f.detail))
        .collect();
    assert_eq!(failures.len(), 3, "{failures:#?}");
    assert!(
        failures[0].starts_with("queue no-such-queue: rules[2]"),
        "{failures:#?}"
    );
    assert!(
        failures[1].contains(SALES) && failures[1].contains(SUPPORT_CODE),
        "{failures:#?}"
    );
    assert!(
        failures[2].starts_with(&format!("default code {SALES_CODE}"))
            && failures[2].contains(&format!(
                "not assigned to 1 queue(s) it can reach: {SUPPORT}"
            ))
            && !failures[2].contains(VIP),
        "the default reaches support, not the skipped VIP: {failures:#?}"
    );
}

#[tokio::test]
async fn a_backfilled_user_end_on_a_queue_with_after_call_work_wraps_the_call_up_itself() {
    // The bridge backfills a `user.end` for a call whose events were lost in a gap, its `acw`
    // among them: waiting for that `acw` would leave the call without a wrap-up.
    let TestApp {
        sim: _running,
        consumer,
    } = org_with_policy(THREE_QUEUES).await;
    let mut backfilled = event("user.end", "c-sales", SALES, None, 1_000);
    backfilled["detail"]["metadata"]["backfilled"] = json!(true);

    let report = consumer.process(&backfilled, &invocation("r")).await;

    assert_eq!(report.outcome, Outcome::Patched);
    assert_eq!(report.code.as_deref(), Some(SALES_CODE));
}

#[tokio::test]
async fn a_queue_that_cannot_be_read_is_worked_without_its_facts_not_dropped() {
    // The event names a queue Genesys does not show (deleted, or hidden from the role): the
    // call is decided from the conversation, as before queue facts existed.
    let TestApp { sim, consumer } = TestApp::builder().seed(org()).spawn().await;
    let mut acw = event("acw", "c-sales", "no-such-queue", None, 31_000);
    acw["detail"]["eventBody"]["queueId"] = json!("a-queue-that-is-gone");

    let report = consumer.process(&acw, &invocation("r")).await;

    assert_eq!(report.outcome.name(), "failed", "{:?}", report.outcome);
    let reason = report.outcome.reason().unwrap();
    assert!(reason.starts_with("code-not-on-queue: "), "{reason}");
    assert!(
        call_requests(&sim).contains(&"GET /api/v2/conversations/c-sales".to_owned()),
        "{:?}",
        call_requests(&sim)
    );
}

#[tokio::test]
async fn a_shadow_rule_with_a_code_not_on_the_queue_fails_nothing_and_says_so() {
    let shadow = format!(
        r#"{{"rules": [{{"queueId": "{SALES}", "action": "shadow", "code": "{SUPPORT_CODE}"}}]}}"#
    );
    let TestApp {
        sim: _running,
        consumer,
    } = org_with_policy(&shadow).await;

    let report = consumer
        .process(
            &event("acw", "c-sales", SALES, None, 31_000),
            &invocation("r"),
        )
        .await;

    assert_eq!(report.outcome.name(), "would-patch");
    assert!(report.outcome.is_terminal());
    assert!(
        report
            .outcome
            .reason()
            .unwrap()
            .contains("code-not-on-queue"),
        "{:?}",
        report.outcome.reason()
    );
}

/// How many times the simulator was asked for `queue`'s facts.
fn queue_reads(sim: &RunningSim, queue: &str) -> usize {
    sim.simulator
        .received_requests()
        .iter()
        .filter(|r| r.path == format!("/api/v2/routing/queues/{queue}"))
        .count()
}

#[tokio::test]
async fn a_queues_facts_are_read_once_per_instance_until_they_are_older_than_the_ttl() {
    let app = org_with_policy(THREE_QUEUES).await;
    let (sim, cached) = (&app.sim, &app.consumer);
    let expiring = app
        .consumer_builder()
        .policy(THREE_QUEUES)
        .with(|s| s.queue_cache_ttl = std::time::Duration::from_millis(50))
        .build();

    for n in 0..3 {
        let user_end = event("user.end", "c-sales", SALES, None, 1_000 + n);
        cached.process(&user_end, &invocation("r")).await;
    }
    let read_by_one = queue_reads(sim, SALES);
    for n in 0..2 {
        let user_end = event("user.end", "c-sales", SALES, None, 2_000 + n);
        expiring.process(&user_end, &invocation("r")).await;
        tokio::time::sleep(std::time::Duration::from_millis(80)).await;
    }

    assert_eq!(read_by_one, 1, "three events, one read");
    assert_eq!(
        queue_reads(sim, SALES),
        3,
        "the expiring instance read twice"
    );
}
