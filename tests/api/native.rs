//! The native Genesys Cloud dialect against wiremock: conversations, wrap-ups, both apply styles, every status.

use crate::fixtures::{GenesysMock, rate_limited};
use crate::helpers::*;
use gev_core::domain::{IneligibleReason, MediaType, Outcome, WrapupTrigger};
use gev_genesys::WrapupStyle;
use serde_json::{Value, json};
use wiremock::ResponseTemplate;

fn user_end(event_id: &str) -> Value {
    native_event(event_id, "user.end", AGENT, 1_795_428_060_000)
}

/// The agent's call ended, its after-call work still running.
fn in_after_call_work() -> Value {
    json!({"endAcwTime": null,
        "calls": [{"id": AGENT_CALL, "state": "disconnected", "afterCallWork": {"state": "pending"}}]})
}

#[tokio::test]
async fn an_ended_call_gets_the_wrapup_on_the_agent_participant_and_nothing_else() {
    let genesys = GenesysMock::ended_call(1).wrapup(202, 1).await;
    let consumer = genesys.consumer();

    let first = consumer.process(&user_end("n-1"), &invocation("r1")).await;
    let redelivered = consumer.process(&user_end("n-1"), &invocation("r2")).await;

    assert_eq!(first.outcome, Outcome::Patched);
    assert_eq!(first.interaction_id.as_deref(), Some(CONVERSATION));
    assert_eq!(first.sequence_id.as_deref(), Some("1795428060000"));
    assert_eq!(redelivered.outcome, duplicate_of("patched"));
}

#[tokio::test]
async fn a_customer_end_and_a_user_end_of_one_call_wrap_the_agent_up_once() {
    // Both reads show no wrap-up yet (the second races the first PATCH).
    let genesys = GenesysMock::ended_call(2).wrapup(202, 1).await;
    let consumer = genesys.consumer_with(|s| s.wrapup_on_customer_end = true);

    let agent_left = consumer.process(&user_end("n-1"), &invocation("r1")).await;
    let customer_left = consumer
        .process(
            &native_event("n-2", "customer.end", CUSTOMER, 1_795_428_061_000),
            &invocation("r2"),
        )
        .await;

    assert_eq!(agent_left.outcome, Outcome::Patched);
    assert_eq!(
        customer_left.outcome,
        duplicate_of("patched by another event for this participant")
    );
}

#[tokio::test]
async fn a_customer_end_event_wraps_up_the_agent_not_the_customer() {
    let genesys = GenesysMock::ended_call(1).wrapup(202, 1).await;
    let consumer = genesys.consumer_with(|s| s.wrapup_on_customer_end = true);

    let report = consumer
        .process(
            &native_event("n-2", "customer.end", CUSTOMER, 1),
            &invocation("r"),
        )
        .await;

    assert_eq!(report.outcome, Outcome::Patched);
}

#[tokio::test]
async fn notes_are_sent_with_the_wrapup_when_configured() {
    let genesys = GenesysMock::ended_call(1)
        .wrapup_with_notes("auto: no wrap-up chosen", 202, 1)
        .await;
    let consumer =
        genesys.consumer_with(|s| s.wrapup_notes = Some("auto: no wrap-up chosen".into()));

    let report = consumer.process(&user_end("n-1"), &invocation("r")).await;

    assert_eq!(report.outcome, Outcome::Patched);
}

#[tokio::test]
async fn the_communication_style_posts_the_wrapup_to_the_agents_call() {
    let genesys = GenesysMock::ended_call(1)
        .communication_wrapup(202, 1)
        .wrapup(202, 0)
        .await;
    let consumer = genesys.consumer_with(|s| s.wrapup_style = WrapupStyle::Communication);

    let report = consumer.process(&user_end("n-1"), &invocation("r")).await;

    assert_eq!(report.outcome, Outcome::Patched);
}

#[tokio::test]
async fn each_wrapup_rule_has_its_reason_and_no_write() {
    let cases = [
        (
            json!({"endTime": null, "startAcwTime": null, "endAcwTime": null,
                   "calls": [{"id": AGENT_CALL, "state": "connected"}]}),
            "interaction-not-completed",
        ),
        (json!({"wrapup": {"code": "w-1"}}), "wrap-up-already-set"),
        (
            json!({"endTime": "2026-11-23T10:00:10.000Z"}),
            "duration-below-threshold",
        ),
        (json!({"purpose": "ivr"}), "no-agent-participant"),
    ];
    for (agent, reason) in cases {
        let genesys = GenesysMock::ready()
            .conversation(agent, 1)
            .wrapup(202, 0)
            .await;
        let consumer = genesys.consumer();

        let report = consumer.process(&user_end("n-1"), &invocation("r")).await;

        assert_eq!(report.outcome.name(), "ineligible", "{reason}");
        assert_eq!(report.outcome.reason().as_deref(), Some(reason));
    }
}

#[tokio::test]
async fn a_chat_is_not_fetched_unless_chats_are_configured() {
    let genesys = GenesysMock::ended_call(1)
        .route(
            "PATCH",
            format!("/api/v2/conversations/chats/{CONVERSATION}/participants/{AGENT}"),
            202,
            1,
        )
        .await;
    let mut chat = user_end("n-chat");
    chat["detail"]["eventBody"]["mediaType"] = json!("CHAT");

    let voice_only = genesys.consumer().process(&chat, &invocation("r1")).await;
    let chats_too = genesys
        .consumer_with(|s| s.native_media_types = vec![MediaType::voice(), MediaType::new("CHAT")])
        .process(&chat, &invocation("r2"))
        .await;

    assert_eq!(
        voice_only.outcome,
        Outcome::Ineligible(IneligibleReason::NonVoiceInteraction)
    );
    assert_eq!(chats_too.outcome, Outcome::Patched);
}

#[tokio::test]
async fn an_unknown_conversation_is_not_found() {
    let genesys = GenesysMock::ready().conversation_answer(404, 1).await;
    let consumer = genesys.consumer();

    let report = consumer.process(&user_end("n-1"), &invocation("r")).await;

    assert_eq!(report.outcome, Outcome::NotFound);
}

#[tokio::test]
async fn a_409_on_the_wrapup_fetches_and_decides_again_once() {
    let genesys = GenesysMock::ended_call(2).wrapup(409, 2).await;
    let consumer = genesys.consumer();

    let report = consumer.process(&user_end("n-1"), &invocation("r")).await;

    assert_eq!(report.outcome, Outcome::Conflict);
}

#[tokio::test]
async fn after_a_409_a_wrapup_someone_else_applied_is_left_alone() {
    let genesys = GenesysMock::ended_call(1)
        .before_the_rest()
        .conversation(json!({"wrapup": {"code": "agent-choice"}}), 1)
        .wrapup(409, 1)
        .await;
    let consumer = genesys.consumer();

    let report = consumer.process(&user_end("n-1"), &invocation("r")).await;

    assert_eq!(
        report.outcome,
        Outcome::Ineligible(IneligibleReason::WrapUpAlreadySet)
    );
}

#[tokio::test]
async fn by_default_a_user_end_during_after_call_work_leaves_the_choice_to_the_agent() {
    let genesys = GenesysMock::ready()
        .conversation(in_after_call_work(), 1)
        .wrapup(202, 0)
        .await;
    let consumer = genesys.consumer();

    let report = consumer.process(&user_end("n-1"), &invocation("r")).await;

    assert_eq!(
        report.outcome,
        Outcome::Ineligible(IneligibleReason::AgentInAfterCallWork)
    );
    assert!(report.outcome.is_terminal());
}

#[tokio::test]
async fn the_call_end_trigger_wraps_up_during_after_call_work_as_before() {
    let genesys = GenesysMock::ready()
        .conversation(in_after_call_work(), 1)
        .wrapup(202, 1)
        .await;
    let consumer = genesys.consumer_with(|s| s.wrapup_trigger = WrapupTrigger::CallEnd);

    let report = consumer.process(&user_end("n-1"), &invocation("r")).await;

    assert_eq!(report.outcome, Outcome::Patched);
}

#[tokio::test]
async fn an_acw_event_without_a_code_applies_the_default_wrapup() {
    let genesys = GenesysMock::ended_call(1).wrapup(202, 1).await;

    let report = genesys
        .consumer()
        .process(
            &native_event("n-1", "acw", AGENT, 1_795_428_090_000),
            &invocation("r"),
        )
        .await;

    assert_eq!(report.outcome, Outcome::Patched);
}

#[tokio::test]
async fn an_acw_event_with_the_agents_code_is_left_alone_without_a_fetch() {
    let genesys = GenesysMock::builder()
        .conversation(json!({}), 0)
        .wrapup(202, 0)
        .await;
    let mut event = native_event("n-1", "acw", AGENT, 1_795_428_090_000);
    event["detail"]["eventBody"]["wrapupCode"] = json!("agent-choice");

    let report = genesys.consumer().process(&event, &invocation("r")).await;

    assert_eq!(
        report.outcome,
        Outcome::Ineligible(IneligibleReason::WrapUpAlreadySet)
    );
}

#[tokio::test]
async fn a_call_that_needs_no_wrapup_is_wrapped_up_at_its_end() {
    let no_acw = json!({"wrapupRequired": false, "startAcwTime": null, "endAcwTime": null,
        "calls": [{"id": AGENT_CALL, "state": "disconnected", "afterCallWork": {"state": "notApplicable"}}]});
    let genesys = GenesysMock::ready()
        .conversation(no_acw, 1)
        .wrapup(202, 1)
        .await;
    let consumer = genesys.consumer();

    let report = consumer.process(&user_end("n-1"), &invocation("r")).await;

    assert_eq!(report.outcome, Outcome::Patched);
}

#[tokio::test]
async fn the_communication_style_without_a_communication_fails_loudly_and_writes_nothing() {
    let genesys = GenesysMock::ready()
        .conversation(json!({"calls": []}), 1)
        .wrapup(202, 0)
        .await;
    let consumer = genesys.consumer_with(|s| s.wrapup_style = WrapupStyle::Communication);

    let report = consumer.process(&user_end("n-1"), &invocation("r")).await;

    assert_eq!(report.outcome.name(), "failed");
    assert!(report.outcome.needs_configuration_fix());
    let reason = report.outcome.reason().unwrap();
    assert!(
        reason.contains("WRAPUP_APPLY_STYLE=participant"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_403_on_the_wrapup_fails_saying_it_may_need_a_user_context_grant() {
    let forbidden = ResponseTemplate::new(403).insert_header("ININ-Correlation-Id", "c-403");
    let genesys = GenesysMock::ended_call(1).wrapup(forbidden, 1).await;
    let consumer = genesys.consumer();

    let report = consumer.process(&user_end("n-1"), &invocation("r")).await;

    assert_eq!(report.outcome.name(), "failed");
    assert!(report.outcome.needs_configuration_fix());
    let reason = report.outcome.reason().unwrap();
    assert!(reason.contains("user-context grant"), "{reason}");
    assert!(reason.contains("wrap-up permission"), "{reason}");
    assert!(reason.contains("c-403"), "{reason}");
}

#[tokio::test]
async fn a_400_on_the_wrapup_names_the_code_setting() {
    let genesys = GenesysMock::ended_call(1).wrapup(400, 1).await;
    let consumer = genesys.consumer();

    let report = consumer.process(&user_end("n-1"), &invocation("r")).await;

    assert!(
        report
            .outcome
            .reason()
            .unwrap()
            .contains("DISPOSITION_CODE_ID")
    );
}

#[tokio::test]
async fn a_429_on_the_wrapup_waits_for_retry_after_and_applies() {
    let genesys = GenesysMock::ended_call(1)
        .wrapup_answer(rate_limited("0"), 1)
        .before_the_rest()
        .wrapup(202, 1)
        .await;
    let consumer = genesys.consumer();

    let report = consumer.process(&user_end("n-1"), &invocation("r")).await;

    assert_eq!(report.outcome, Outcome::Patched);
}

#[tokio::test]
async fn a_429_beyond_180_seconds_fails_for_a_later_redelivery() {
    let genesys = GenesysMock::ready()
        .conversation_answer(rate_limited("240"), 1)
        .await;
    let consumer = genesys.consumer();

    let report = consumer.process(&user_end("n-1"), &invocation("r")).await;

    assert_eq!(report.outcome.name(), "failed");
    assert!(report.outcome.reason().unwrap().contains("429"));
}

#[tokio::test]
async fn a_failed_wrapup_releases_the_participant_so_the_redelivery_applies_it() {
    let genesys = GenesysMock::ended_call(2)
        .wrapup_answer(503, 3)
        .before_the_rest()
        .wrapup(202, 1)
        .await;
    let consumer = genesys.consumer();

    let failed = consumer.process(&user_end("n-1"), &invocation("r1")).await;
    let redelivered = consumer.process(&user_end("n-1"), &invocation("r2")).await;

    assert_eq!(failed.outcome.name(), "failed");
    assert_eq!(redelivered.outcome, Outcome::Patched);
}

#[tokio::test]
async fn a_501_is_a_refusal_not_retried() {
    let genesys = GenesysMock::ready().conversation_answer(501, 1).await;
    let consumer = genesys.consumer();

    let report = consumer.process(&user_end("n-1"), &invocation("r")).await;

    assert_eq!(report.outcome.name(), "rejected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_events_racing_on_eight_instances_wrap_the_agent_up_once() {
    if dynamodb_store().await.is_none() {
        return;
    }
    let conversation = format!("race-{:016x}", fastrand::u64(..));
    let genesys = GenesysMock::builder()
        .token()
        .uncounted()
        .queue("AGENT_REQUESTED", &[DISPOSITION])
        .conversation_of(&conversation, json!({}), 0)
        .uncounted()
        .wrapup_of(&conversation, 202, 1)
        .await;

    let mut runs = Vec::new();
    for n in 0..8 {
        let consumer = genesys
            .consumer_builder()
            .store(dynamodb_store().await.unwrap())
            .with(|s| s.wrapup_on_customer_end = true)
            .build();
        let (topic, participant) = if n % 2 == 0 {
            ("user.end", AGENT)
        } else {
            ("customer.end", CUSTOMER)
        };
        let mut event = native_event(&format!("race-{n}"), topic, participant, 1_000 + n);
        event["detail"]["eventBody"]["conversationId"] = json!(conversation);
        event["detail"]["topicName"] = json!(format!(
            "v2.detail.events.conversation.{conversation}.{topic}"
        ));
        runs.push(tokio::spawn(async move {
            consumer
                .process(&event, &invocation(&format!("r-{n}")))
                .await
        }));
    }
    let mut outcomes = Vec::new();
    for run in runs {
        outcomes.push(run.await.unwrap().outcome.name());
    }

    assert_eq!(
        outcomes.iter().filter(|o| **o == "patched").count(),
        1,
        "{outcomes:?}"
    );
}
