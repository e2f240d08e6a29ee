//! The Lambda handler over the sample events in `events/`, against the simulator on loopback.

use crate::fixtures::TestApp;
use crate::helpers::invocation;
use genesys_eventbridge::input::read_events;
use gev_consumer::lambda;
use serde_json::Value;

const EVENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/events");
const DISPOSITION: &str = "3c2f9a7e-5d1b-4e8f-9a6c-2b7d4e1f0a99";
const NATIVE_ELIGIBLE: &str = "9b1f0c2e-4d3a-4b5c-8e7f-00000000c001";
/// The conversation whose agent's after-call work ended without a code (event 30).
const NATIVE_ACW_ENDED: &str = "9b1f0c2e-4d3a-4b5c-8e7f-00000000c008";
const NATIVE_ACW_ENDED_AGENT: &str = "7a2e9c41-agnt-4c5d-9e8f-00000000p008";
const NATIVE_AGENT: &str = "7a2e9c41-agnt-4c5d-9e8f-00000000p001";

/// Every sample file, in name order, with the outcome and reason it is meant to produce.
const EXPECTED: &[(&str, &str, &str)] = &[
    ("01-eligible-voice-call.json", "patched", "eligible"),
    (
        "02-chat-interaction.json",
        "ineligible",
        "non-voice-interaction",
    ),
    (
        "03-call-in-progress.json",
        "ineligible",
        "interaction-not-completed",
    ),
    (
        "04-disposition-already-set.json",
        "ineligible",
        "disposition-already-set",
    ),
    (
        "05-wrap-up-already-set.json",
        "ineligible",
        "wrap-up-already-set",
    ),
    (
        "06-short-call.json",
        "ineligible",
        "duration-below-threshold",
    ),
    (
        "07-duplicate-sequence.json",
        "duplicate",
        "already processed: patched",
    ),
    (
        "08-unrelated-detail-type.json",
        "ignored",
        "unrelated detail-type \"purecloud:v2:user:presence\"",
    ),
    (
        "09-missing-sequence-id.json",
        "rejected",
        "detail.sequenceId is missing",
    ),
    (
        "10-interaction-not-found.json",
        "not-found",
        "interaction not found (404)",
    ),
    (
        "11-concurrent-update-conflict.json",
        "conflict",
        "interaction changed concurrently (409)",
    ),
    ("20-native-user-end-eligible.json", "patched", "eligible"),
    (
        "21-native-customer-end-same-call.json",
        "ineligible",
        "agent-events-decide",
    ),
    (
        "22-native-acw-wrapup-applied.json",
        "ineligible",
        "wrap-up-already-set",
    ),
    (
        "23-native-short-call.json",
        "ineligible",
        "duration-below-threshold",
    ),
    (
        "24-native-agent-still-connected.json",
        "ineligible",
        "agent-events-decide",
    ),
    ("25-native-chat.json", "ineligible", "non-voice-interaction"),
    (
        "26-native-duplicate-delivery.json",
        "duplicate",
        "already processed: patched",
    ),
    (
        "27-native-no-agent.json",
        "ineligible",
        "agent-events-decide",
    ),
    (
        "28-native-missing-conversation-id.json",
        "rejected",
        "detail.eventBody.conversationId is missing",
    ),
    (
        "29-native-user-end-during-acw.json",
        "ineligible",
        "agent-in-after-call-work",
    ),
    (
        "30-native-acw-ended-without-code.json",
        "patched",
        "eligible",
    ),
];

fn sample_files() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(EVENTS)
        .unwrap()
        .filter_map(std::result::Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json") && name.starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    names.sort();
    names
}

/// The one event of sample file `file`.
fn sample(file: &str) -> Value {
    read_events(&format!("{EVENTS}/{file}")).unwrap().remove(0)
}

#[test]
fn every_sample_event_has_an_expected_outcome() {
    let expected: Vec<&str> = EXPECTED.iter().map(|(file, _, _)| *file).collect();
    assert_eq!(sample_files(), expected);
}

#[tokio::test]
async fn each_sample_event_comes_out_as_it_intends() {
    let TestApp {
        sim: _running,
        consumer,
    } = TestApp::spawn().await;

    for (index, (file, outcome, reason)) in EXPECTED.iter().enumerate() {
        let events = read_events(&format!("{EVENTS}/{file}")).unwrap();
        assert_eq!(events.len(), 1, "{file}");
        let handled = lambda::handle(
            &consumer,
            events[0].clone(),
            &invocation(&format!("req-{index}")),
        )
        .await;

        let report = &handled.reports[0];
        assert_eq!(
            report.outcome.name(),
            *outcome,
            "{file}: {:?}",
            report.outcome
        );
        assert_eq!(report.outcome.reason().as_deref(), Some(*reason), "{file}");
    }
}

#[tokio::test]
async fn the_simulator_shows_the_disposition_after_the_demo_and_one_patch_per_interaction() {
    let app = TestApp::spawn().await;
    let (sim, consumer) = (&app.sim, &app.consumer);
    let eligible = "6f1c2a9e-0b1d-4c55-9e2a-3a1f5c7d8e01";

    for (index, file) in sample_files().iter().enumerate() {
        for event in read_events(&format!("{EVENTS}/{file}")).unwrap() {
            lambda::handle(consumer, event, &invocation(&format!("req-{index}"))).await;
        }
    }

    let interaction = sim.simulator.interaction(eligible).unwrap();
    assert_eq!(interaction["dispositionCode"]["id"], DISPOSITION);
    let conversation = sim.simulator.conversation(NATIVE_ELIGIBLE).unwrap();
    assert_eq!(
        conversation["participants"][1]["wrapup"]["code"],
        DISPOSITION
    );
    assert_eq!(
        app.applied_writes(),
        [
            (eligible.to_owned(), 1),
            (format!("{NATIVE_ELIGIBLE}/{NATIVE_AGENT}"), 1),
            (format!("{NATIVE_ACW_ENDED}/{NATIVE_ACW_ENDED_AGENT}"), 1)
        ],
        "only the eligible call and the eligible conversations' agents are changed, once each"
    );
}

#[tokio::test]
async fn a_lambda_response_for_a_patched_event_is_its_outcome_object() {
    let TestApp {
        sim: _running,
        consumer,
    } = TestApp::spawn().await;
    let event = sample("01-eligible-voice-call.json");

    let response = lambda::handle(&consumer, event, &invocation("req"))
        .await
        .into_response()
        .unwrap();

    assert_eq!(response["outcome"], "patched");
    assert_eq!(
        response["interactionId"],
        "6f1c2a9e-0b1d-4c55-9e2a-3a1f5c7d8e01"
    );
}

#[tokio::test]
async fn the_simulator_applies_a_communication_level_wrapup() {
    let TestApp { sim, consumer } = TestApp::builder()
        .consumer(|c| c.with(|s| s.wrapup_style = gev_genesys::WrapupStyle::Communication))
        .spawn()
        .await;
    let event = sample("20-native-user-end-eligible.json");

    let report = consumer.process(&event, &invocation("r")).await;

    assert_eq!(report.outcome.name(), "patched");
    let conversation = sim.simulator.conversation(NATIVE_ELIGIBLE).unwrap();
    assert_eq!(
        conversation["participants"][1]["wrapup"]["code"],
        DISPOSITION
    );
    assert_eq!(
        conversation["participants"][1]["calls"][0]["wrapup"]["code"],
        DISPOSITION
    );
}

#[tokio::test]
async fn the_simulator_lists_communications_only_in_the_generic_conversation() {
    let app = TestApp::spawn().await;
    let api = &app.api().await;
    let get = |path: String| async move {
        let response = api.get(&path).send().await.unwrap();
        response.json::<Value>().await.unwrap()
    };

    let generic = get(format!("/api/v2/conversations/{NATIVE_ELIGIBLE}")).await;
    let media = get(format!("/api/v2/conversations/calls/{NATIVE_ELIGIBLE}")).await;

    assert!(generic["participants"][1]["calls"][0]["id"].is_string());
    assert!(media["participants"][1].get("calls").is_none());
    assert_eq!(media["participants"][1]["id"], NATIVE_AGENT);
}

#[tokio::test]
async fn the_simulator_refuses_a_participant_patch_with_more_than_the_wrapup() {
    let app = TestApp::spawn().await;
    let api = app.api().await;

    let response = api
        .patch(&format!(
            "/api/v2/conversations/calls/{NATIVE_ELIGIBLE}/participants/{NATIVE_AGENT}"
        ))
        .json(&serde_json::json!({"wrapup": {"code": "x"}, "state": "disconnected"}))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 400);
    let conversation = app.sim.simulator.conversation(NATIVE_ELIGIBLE).unwrap();
    assert!(conversation["participants"][1].get("wrapup").is_none());
}
