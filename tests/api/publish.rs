//! `publish` against the simulator's EventBridge stand-in (scripted per-entry failures, AWS's limits) and, end to end, moto's EventBridge with the template's rule, an SQS target and the consumer.

use crate::helpers::{Recording, demo_sim, stand_in_sink};
use genesys_eventbridge::cli::publish::{Console, PublishRequest, run_with};
use genesys_eventbridge::publish::{
    DEFAULT_MAX_BYTES, DEFAULT_SOURCE, SendPolicy, entry_size, transform,
};
use gev_sim::eventbridge::{BusScript, RequestFault};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A Genesys notification of conversation `n`, its body padded with `pad` bytes.
pub(crate) fn notification(n: usize, pad: usize) -> Value {
    let conversation = format!("9b1f0c2e-4d3a-4b5c-8e7f-{n:012}");
    json!({"topicName": format!("v2.detail.events.conversation.{conversation}.user.end"),
           "version": "2",
           "eventBody": {"eventTime": 1_795_428_125_000_i64 + i64::try_from(n).unwrap(),
                         "conversationId": conversation, "pad": "x".repeat(pad)},
           "metadata": {"CorrelationId": format!("corr-{n}")}})
}

/// The bridge id `publish` gives `event`.
pub(crate) fn bridge_id(event: &Value) -> String {
    transform(event, DEFAULT_SOURCE, "t")
        .unwrap()
        .bridge_event_id
}

/// `events` as a JSON-lines file.
pub(crate) fn events_file(events: &[Value]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("publish-{:016x}.jsonl", fastrand::u64(..)));
    let lines: Vec<String> = events.iter().map(Value::to_string).collect();
    std::fs::write(&path, lines.join("\n")).unwrap();
    path
}

/// The request of a test run: `events`, the default source and limits, 4 quick attempts.
pub(crate) fn request(events: &std::path::Path) -> PublishRequest {
    PublishRequest {
        bus: "test-bus".into(),
        events: vec![events.to_string_lossy().into_owned()],
        source: DEFAULT_SOURCE.into(),
        rejects: None,
        max_entry_bytes: DEFAULT_MAX_BYTES,
        dry_run: false,
        policy: SendPolicy {
            max_attempts: 4,
            backoff_base: Duration::from_millis(5),
            backoff_max: Duration::from_millis(20),
            ..SendPolicy::default()
        },
    }
}

/// What a publish run printed and returned.
pub(crate) struct Ran {
    pub(crate) code: i32,
    pub(crate) lines: Vec<Value>,
    pub(crate) err: String,
}

/// Runs publish against the stand-in at `base_url`, auditing to `audit` when given.
pub(crate) async fn publish(
    base_url: &str,
    request: &PublishRequest,
    audit: Option<&dyn genesys_eventbridge::notify::ChangeNotifier>,
) -> Ran {
    publish_to(&stand_in_sink(base_url), request, audit).await
}

/// Runs publish sending to `sink`, auditing to `audit` when given.
pub(crate) async fn publish_to(
    sink: &dyn genesys_eventbridge::publish::EventSink,
    request: &PublishRequest,
    audit: Option<&dyn genesys_eventbridge::notify::ChangeNotifier>,
) -> Ran {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut console = Console {
        out: &mut out,
        err: &mut err,
        progress: false,
    };
    let code = run_with(request, sink, audit, &mut console).await;
    Ran {
        code,
        lines: String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect(),
        err: String::from_utf8(err).unwrap(),
    }
}

#[tokio::test]
async fn only_failed_entries_are_sent_again_none_twice_and_every_request_stays_within_the_limits() {
    let sim = demo_sim().await;
    let events: Vec<Value> = (0..25)
        .map(|n| notification(n, if n % 4 == 0 { 90_000 } else { 200 }))
        .collect();
    let ids: Vec<String> = events.iter().map(bridge_id).collect();
    let bus = sim.simulator.bus();
    bus.set_script(BusScript {
        entries: HashMap::from([
            (
                ids[3].clone(),
                vec!["ThrottlingException".into(), "InternalFailure".into()],
            ),
            (ids[7].clone(), vec!["AccessDeniedException".into()]),
            (ids[12].clone(), vec!["ThrottlingException".into(); 10]),
        ]),
        fail_requests: None,
    });
    let file = events_file(&events);
    let rejects = file.with_extension("rejects");
    let request = PublishRequest {
        rejects: Some(rejects.clone()),
        ..request(&file)
    };

    let ran = publish(&sim.base_url(), &request, None).await;

    assert_eq!(
        ran.code, 1,
        "one entry failed after its retries: {}",
        ran.err
    );
    let outcomes: Vec<&str> = ran
        .lines
        .iter()
        .map(|l| l["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes.len(), 25);
    assert_eq!(outcomes[3], "published");
    assert_eq!(outcomes[7], "rejected");
    assert_eq!(outcomes[12], "failed");
    assert_eq!(outcomes.iter().filter(|o| **o == "published").count(), 23);
    assert!(
        ran.lines[7]["reason"]
            .as_str()
            .unwrap()
            .starts_with("AccessDeniedException")
    );
    let requests = bus.requests();
    let mut sends: HashMap<&str, usize> = HashMap::new();
    for sent in &requests {
        assert!(sent.bridge_event_ids.len() <= 10, "{sent:?}");
        assert!(sent.bytes <= DEFAULT_MAX_BYTES, "{} bytes", sent.bytes);
        for id in &sent.bridge_event_ids {
            *sends.entry(id.as_str()).or_default() += 1;
        }
    }
    assert_eq!(
        sends[ids[3].as_str()],
        3,
        "throttled, failed internally, then accepted"
    );
    assert_eq!(
        sends[ids[12].as_str()],
        4,
        "throttled on every one of the 4 attempts"
    );
    assert_eq!(
        sends[ids[7].as_str()],
        1,
        "a denied entry is never sent again"
    );
    let others = ids
        .iter()
        .enumerate()
        .filter(|(n, _)| ![3, 7, 12].contains(n));
    for (n, id) in others {
        assert_eq!(
            sends[id.as_str()],
            1,
            "entry {n} was accepted at once: sent once"
        );
    }
    let accepted: Vec<String> = bus
        .events()
        .iter()
        .map(|event| {
            event["detail"]["bridge"]["eventId"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(accepted.len(), 23, "each accepted once");
    let rejected: Vec<Value> = std::fs::read_to_string(&rejects)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(rejected.len(), 1);
    assert_eq!(
        rejected[0]["event"], events[7],
        "the event as read, to publish again"
    );
    assert!(
        rejected[0]["reason"]
            .as_str()
            .unwrap()
            .contains("AccessDeniedException")
    );
}

/// A notification whose entry is exactly `size` bytes as AWS counts them.
fn notification_of_size(n: usize, size: usize) -> Value {
    // Same length as the RFC 3339 time with milliseconds publish stamps on each entry.
    let received_at = "2026-11-30T00:00:00.000Z";
    let base = notification(n, 0);
    let bare = entry_size(&transform(&base, DEFAULT_SOURCE, received_at).unwrap());
    notification(n, size - bare)
}

#[tokio::test]
async fn an_entry_of_exactly_the_limit_is_published_and_one_byte_more_is_rejected_naming_its_size()
{
    let sim = demo_sim().await;
    let at_limit = notification_of_size(1, DEFAULT_MAX_BYTES);
    let over = notification_of_size(2, DEFAULT_MAX_BYTES + 1);
    let file = events_file(&[at_limit, over]);

    let ran = publish(&sim.base_url(), &request(&file), None).await;

    assert_eq!(ran.code, 3, "some rejected, none failed: {}", ran.err);
    assert_eq!(ran.lines[0]["outcome"], "published", "{}", ran.lines[0]);
    assert_eq!(ran.lines[1]["outcome"], "rejected");
    let reason = ran.lines[1]["reason"].as_str().unwrap();
    assert!(
        reason.contains("262145 bytes") && reason.contains("262144"),
        "{reason}"
    );
    let requests = sim.simulator.bus().requests();
    assert_eq!(requests.len(), 1, "the oversized entry is never sent");
    assert_eq!(requests[0].bytes, DEFAULT_MAX_BYTES);
}

#[tokio::test]
async fn a_throttled_request_is_sent_again_and_each_request_is_audited_with_its_attempts() {
    let sim = demo_sim().await;
    sim.simulator.bus().set_script(BusScript {
        entries: HashMap::new(),
        fail_requests: Some(RequestFault {
            count: 2,
            status: 400,
            code: "ThrottlingException".into(),
        }),
    });
    let events: Vec<Value> = (0..12).map(|n| notification(n, 10)).collect();
    let file = events_file(&events);
    let audited = Arc::new(Mutex::new(Vec::new()));
    let recording = Recording(audited.clone());

    let ran = publish(&sim.base_url(), &request(&file), Some(&recording)).await;

    assert_eq!(ran.code, 0, "{}", ran.err);
    let messages: Vec<Value> = audited
        .lock()
        .unwrap()
        .iter()
        .map(|m| serde_json::from_str(m).unwrap())
        .collect();
    assert_eq!(
        messages.len(),
        2,
        "one audit message per request: 10 + 2 entries"
    );
    let entries: Vec<u64> = messages
        .iter()
        .map(|m| m["entries"].as_u64().unwrap())
        .collect();
    assert_eq!(entries.iter().sum::<u64>(), 12);
    let attempts: u64 = messages
        .iter()
        .map(|m| m["attempts"].as_u64().unwrap())
        .sum();
    assert_eq!(attempts, 4, "two refused requests, each sent once more");
    for message in &messages {
        assert_eq!(message["published"], message["entries"]);
        assert!(message["putEventsMs"]["max"].as_f64().unwrap() >= 0.0);
        let lag = message["eventToAcceptedMs"]["p50"].as_f64().unwrap();
        assert!(lag > 0.0, "accepted after the event's own time: {lag}");
    }
}

#[tokio::test]
async fn a_dry_run_prints_each_entry_and_sends_nothing() {
    let sim = demo_sim().await;
    let event = notification(1, 10);
    let file = events_file(&[event.clone(), event]);
    let request = PublishRequest {
        dry_run: true,
        ..request(&file)
    };

    let ran = publish(&sim.base_url(), &request, None).await;

    assert_eq!(ran.code, 0, "{}", ran.err);
    assert_eq!(ran.lines[0]["outcome"], "valid");
    assert_eq!(
        ran.lines[0]["entry"]["DetailType"],
        "v2.detail.events.conversation.{id}.user.end"
    );
    assert_eq!(ran.lines[1]["outcome"], "duplicate");
    assert!(sim.simulator.bus().requests().is_empty());
}

#[tokio::test]
async fn unreadable_input_names_file_line_and_column_and_sends_nothing() {
    let sim = demo_sim().await;
    let file = events_file(&[notification(1, 10)]);
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("\n{\"topicName\": }\n");
    std::fs::write(&file, text).unwrap();

    let ran = publish(&sim.base_url(), &request(&file), None).await;

    assert_eq!(ran.code, 2);
    let expected = format!("{}: line 2, column 15: not valid JSON", file.display());
    assert!(ran.err.contains(&expected), "{}", ran.err);
    assert!(
        sim.simulator.bus().requests().is_empty(),
        "a file is checked whole first"
    );
}

#[tokio::test]
async fn an_aws_source_is_refused_before_anything_is_read() {
    let sim = demo_sim().await;
    let file = events_file(&[notification(1, 10)]);
    let request = PublishRequest {
        source: "aws.partner/genesys.com".into(),
        ..request(&file)
    };

    let ran = publish(&sim.base_url(), &request, None).await;

    assert_eq!(ran.code, 2);
    assert!(ran.err.contains("--source"), "{}", ran.err);
}
