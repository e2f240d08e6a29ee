//! `publish` under the faults of the December 2026 review: its own rejects file as input, a bad
//! line late in a file, an audit topic that hangs or fails, look-alike bridge ids, PutEvents
//! answers cut mid-body, short or never sent, and inputs a file cannot hold. All on loopback.

use crate::helpers::{SharedOutput, demo_sim};
use crate::publish::{Ran, bridge_id, events_file, notification, publish, publish_to, request};
use async_trait::async_trait;
use genesys_eventbridge::cli::publish::{Console, PublishRequest, run_with};
use genesys_eventbridge::notify::{ChangeNotifier, NotifyError, SnsNotifier};
use genesys_eventbridge::publish::{BusSink, Entry, EntryAnswer, EventSink, SinkError};
use gev_sim::eventbridge::{BusScript, RequestFault};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The longest any run here may take: every wait in these tests is bounded well inside it.
const BOUND: Duration = Duration::from_secs(20);

/// Runs `run` and fails the test if it does not finish within [`BOUND`].
async fn bounded<T>(run: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, run)
        .await
        .expect("publish finished within the bound")
}

/// How many times the stand-in received each bridge id.
fn sends(requests: &[gev_sim::eventbridge::RequestRecord]) -> HashMap<String, usize> {
    let mut sends = HashMap::new();
    for request in requests {
        for id in &request.bridge_event_ids {
            *sends.entry(id.clone()).or_default() += 1;
        }
    }
    sends
}

fn outcomes(ran: &Ran) -> Vec<&str> {
    ran.lines
        .iter()
        .map(|line| line["outcome"].as_str().unwrap())
        .collect()
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("publish-faults-{:016x}-{name}", fastrand::u64(..)))
}

// M1: --rejects and its own input.

#[tokio::test]
async fn a_rejects_path_that_is_also_an_input_is_refused_naming_both_and_its_events_are_kept() {
    // Arrange: a rejects file (two lines) given as input under another spelling and as a hard link.
    let sim = demo_sim().await;
    let dir = temp_path("dir");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let rejects = dir.join("rejects.jsonl");
    let lines: Vec<String> = (0..2)
        .map(|n| {
            json!({"origin": format!("events.jsonl#{n}"), "reason": "AccessDeniedException: no",
                   "bridgeEventId": bridge_id(&notification(n, 10)), "event": notification(n, 10)})
            .to_string()
        })
        .collect();
    std::fs::write(&rejects, lines.join("\n")).unwrap();
    let before = std::fs::read(&rejects).unwrap();
    let linked = dir.join("linked.jsonl");
    std::fs::hard_link(&rejects, &linked).unwrap();
    let respelled = dir.join("sub/../rejects.jsonl");

    // Act
    let mut runs = Vec::new();
    for input in [&respelled, &linked] {
        let request = PublishRequest {
            rejects: Some(rejects.clone()),
            ..request(input)
        };
        runs.push(publish(&sim.base_url(), &request, None).await);
    }

    // Assert
    for (ran, input) in runs.iter().zip([&respelled, &linked]) {
        assert_eq!(ran.code, 2, "{}", ran.err);
        assert!(
            ran.err
                .contains(&format!("--rejects {}", rejects.display()))
                && ran.err.contains(&input.display().to_string()),
            "names both: {}",
            ran.err
        );
        assert!(ran.lines.is_empty());
    }
    assert_eq!(
        std::fs::read(&rejects).unwrap(),
        before,
        "the events are kept"
    );
    assert!(sim.simulator.bus().requests().is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_rejects_file_is_published_again_as_it_is_once_the_cause_is_fixed() {
    // Arrange: a first run whose three events the bus denies, into a rejects file.
    let sim = demo_sim().await;
    let events: Vec<Value> = (0..3).map(|n| notification(n, 10)).collect();
    let ids: Vec<String> = events.iter().map(bridge_id).collect();
    let bus = sim.simulator.bus();
    bus.set_script(BusScript {
        entries: ids
            .iter()
            .map(|id| (id.clone(), vec!["AccessDeniedException".to_owned()]))
            .collect(),
        fail_requests: None,
    });
    let file = events_file(&events);
    let first_rejects = file.with_extension("first-rejects");
    let denied = publish(
        &sim.base_url(),
        &PublishRequest {
            rejects: Some(first_rejects.clone()),
            ..request(&file)
        },
        None,
    )
    .await;
    bus.set_script(BusScript::default());
    let second_rejects = file.with_extension("second-rejects");

    // Act: the rejects file itself is the input.
    let again = publish(
        &sim.base_url(),
        &PublishRequest {
            rejects: Some(second_rejects.clone()),
            ..request(&first_rejects)
        },
        None,
    )
    .await;

    // Assert
    assert_eq!(denied.code, 3, "{}", denied.err);
    assert_eq!(again.code, 0, "{}", again.err);
    assert_eq!(outcomes(&again), ["published"; 3]);
    let republished: Vec<&str> = again
        .lines
        .iter()
        .map(|line| line["bridgeEventId"].as_str().unwrap())
        .collect();
    assert_eq!(republished, ids, "the same events, under the same ids");
    assert_eq!(std::fs::read_to_string(&second_rejects).unwrap(), "");
}

/// A bus that takes everything and, on its first request, truncates `victim`.
struct TruncatingBus {
    victim: PathBuf,
    calls: Mutex<usize>,
}

#[async_trait]
impl EventSink for TruncatingBus {
    async fn put(&self, entries: &[&Entry]) -> Result<Vec<EntryAnswer>, SinkError> {
        let mut calls = self.calls.lock().unwrap();
        if *calls == 0 {
            std::fs::write(&self.victim, "").unwrap();
        }
        *calls += 1;
        Ok(entries
            .iter()
            .map(|entry| EntryAnswer::Accepted {
                event_id: format!("eb-{}", entry.bridge_event_id),
            })
            .collect())
    }
}

#[tokio::test]
async fn an_input_that_changes_between_the_check_and_the_read_fails_with_exit_2() {
    // Arrange: a first file of one whole chunk (sent before the second is read) and a second
    // file that is emptied while the first chunk is sent.
    let first = events_file(&(0..500).map(|n| notification(n, 0)).collect::<Vec<_>>());
    let second = events_file(&(500..503).map(|n| notification(n, 0)).collect::<Vec<_>>());
    let bus = TruncatingBus {
        victim: second.clone(),
        calls: Mutex::new(0),
    };
    let request = PublishRequest {
        events: vec![
            first.to_string_lossy().into_owned(),
            second.to_string_lossy().into_owned(),
        ],
        ..request(&first)
    };

    // Act
    let ran = bounded(publish_to(&bus, &request, None)).await;

    // Assert
    assert_eq!(ran.code, 2, "{}", ran.err);
    assert!(
        ran.err.contains(&format!(
            "{}: held 3 events when checked and 0 when read",
            second.display()
        )),
        "{}",
        ran.err
    );
    assert_eq!(ran.lines.len(), 500, "the first file's events, as reported");
}

// M2: the check pass parses as the read does.

#[tokio::test]
async fn a_file_whose_later_line_cannot_be_read_publishes_nothing_and_names_that_line() {
    // Arrange: 30 good events, one line with invalid UTF-8, a lone surrogate, a number out of
    // range or nesting over 128, then 5 more.
    let sim = demo_sim().await;
    let deep = format!("{}{}", "[".repeat(129), "]".repeat(129));
    let bad_lines: [(&str, Vec<u8>); 4] = [
        (
            "invalid UTF-8",
            b"{\"topicName\": \"t\", \"eventBody\": {\"s\": \"\xff\xfe\"}}".to_vec(),
        ),
        (
            "lone surrogate",
            br#"{"topicName": "t", "eventBody": {"s": "\ud800"}}"#.to_vec(),
        ),
        (
            "out of range",
            br#"{"topicName": "t", "eventBody": {"n": 1e400}}"#.to_vec(),
        ),
        ("too deep", deep.into_bytes()),
    ];
    let mut runs = Vec::new();
    for (what, bad) in bad_lines {
        let good: Vec<String> = (0..35).map(|n| notification(n, 0).to_string()).collect();
        let mut bytes = good[..30].join("\n").into_bytes();
        bytes.push(b'\n');
        bytes.extend_from_slice(&bad);
        bytes.push(b'\n');
        bytes.extend_from_slice(good[30..].join("\n").as_bytes());
        let file = temp_path("halfbad.jsonl");
        std::fs::write(&file, bytes).unwrap();

        // Act
        let ran = publish(&sim.base_url(), &request(&file), None).await;
        runs.push((what, file, ran));
    }

    // Assert
    for (what, file, ran) in &runs {
        assert_eq!(ran.code, 2, "{what}: {}", ran.err);
        let at = format!("{}: line 31, column ", file.display());
        assert!(ran.err.contains(&at), "{what}: {}", ran.err);
        assert!(
            !ran.err.contains(" at line "),
            "{what}: one position only: {}",
            ran.err
        );
    }
    assert!(
        sim.simulator.bus().requests().is_empty(),
        "nothing of any of the files was published"
    );
}

// M3 and L5: the audit topic.

/// A TCP listener on loopback that accepts connections and never answers; its URL.
async fn silent_endpoint() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (url, holder)
}

#[tokio::test]
async fn an_audit_topic_that_never_answers_costs_a_bounded_wait_and_the_outcomes_are_printed() {
    // Arrange: SNS at a listener that never answers, through a client with short timeouts.
    let sim = demo_sim().await;
    let (sns_url, holder) = silent_endpoint().await;
    let timeouts = aws_sdk_sns::config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_millis(500))
        .operation_attempt_timeout(Duration::from_millis(300))
        .operation_timeout(Duration::from_millis(800))
        .build();
    let config = aws_sdk_sns::Config::builder()
        .behavior_version(aws_sdk_sns::config::BehaviorVersion::latest())
        .region(aws_sdk_sns::config::Region::new("eu-west-1"))
        .endpoint_url(&sns_url)
        .timeout_config(timeouts)
        .credentials_provider(aws_sdk_sns::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .build();
    let topic = SnsNotifier::from_client(
        aws_sdk_sns::Client::from_conf(config),
        "arn:aws:sns:eu-west-1:123456789012:audit",
    );
    let file = events_file(&(0..10).map(|n| notification(n, 10)).collect::<Vec<_>>());
    let started = Instant::now();

    // Act
    let ran = bounded(publish(&sim.base_url(), &request(&file), Some(&topic))).await;

    // Assert
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(outcomes(&ran), ["published"; 10]);
    assert_eq!(ran.code, 1, "the audit is incomplete: {}", ran.err);
    assert!(
        ran.err
            .contains("audit: SNS Publish to arn:aws:sns:eu-west-1:123456789012:audit failed")
            && ran.err.contains("1 audit messages not published"),
        "{}",
        ran.err
    );
    holder.abort();
}

/// An audit topic that records how many outcome lines were written when each message came.
struct Watching {
    out: SharedOutput,
    lines_seen: Mutex<Vec<usize>>,
}

#[async_trait]
impl ChangeNotifier for Watching {
    async fn notify(&self, _: &str) -> Result<(), NotifyError> {
        self.lines_seen
            .lock()
            .unwrap()
            .push(self.out.text().lines().count());
        Ok(())
    }
}

#[tokio::test]
async fn the_outcome_lines_of_a_chunk_are_written_before_its_audit_messages() {
    // Arrange
    let sim = demo_sim().await;
    let file = events_file(&(0..12).map(|n| notification(n, 10)).collect::<Vec<_>>());
    let out = SharedOutput::default();
    let topic = Watching {
        out: out.clone(),
        lines_seen: Mutex::default(),
    };
    let sink = crate::helpers::stand_in_sink(&sim.base_url());
    let (mut written, mut err) = (out.clone(), Vec::new());
    let mut console = Console {
        out: &mut written,
        err: &mut err,
        progress: false,
    };

    // Act
    let code = bounded(run_with(&request(&file), &sink, Some(&topic), &mut console)).await;

    // Assert
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&err));
    assert_eq!(
        *topic.lines_seen.lock().unwrap(),
        [12, 12],
        "both requests' messages came after all 12 lines"
    );
}

/// An audit topic that refuses every message.
struct Refusing;

#[async_trait]
impl ChangeNotifier for Refusing {
    async fn notify(&self, _: &str) -> Result<(), NotifyError> {
        Err(NotifyError {
            topic_arn: "arn:aws:sns:eu-west-1:123456789012:audit".into(),
            source: "AuthorizationError: not allowed".into(),
        })
    }
}

#[tokio::test]
async fn an_audit_message_that_cannot_be_published_makes_the_exit_code_1() {
    // Arrange
    let sim = demo_sim().await;
    let file = events_file(&(0..3).map(|n| notification(n, 10)).collect::<Vec<_>>());

    // Act
    let ran = publish(&sim.base_url(), &request(&file), Some(&Refusing)).await;

    // Assert
    assert_eq!(outcomes(&ran), ["published"; 3]);
    assert_eq!(ran.code, 1, "{}", ran.err);
    assert!(ran.err.contains("AuthorizationError"), "{}", ran.err);
}

// M8: look-alike bridge ids.

#[tokio::test]
async fn events_with_empty_or_look_alike_bridge_ids_are_each_published() {
    // Arrange: six different events whose ids are "", "", uppercase, lowercase, "+…" and "0…".
    let sim = demo_sim().await;
    let ids = [
        "",
        "",
        "ABCDEF0123456789ABCDEF0123456789",
        "abcdef0123456789abcdef0123456789",
        "+bcdef0123456789abcdef0123456789",
        "0bcdef0123456789abcdef0123456789",
    ];
    let events: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(n, id)| {
            json!({"detail-type": "purecloud:v2:interaction:update",
                   "detail": {"interactionId": format!("i-{n}"), "sequenceId": "1",
                              "bridge": {"eventId": id, "receivedAt": "2026-12-01T00:00:00Z"}}})
        })
        .collect();
    let file = events_file(&events);

    // Act
    let ran = publish(&sim.base_url(), &request(&file), None).await;

    // Assert
    assert_eq!(ran.code, 0, "{}", ran.err);
    assert_eq!(outcomes(&ran), ["published"; 6]);
    let published: HashSet<&str> = ran
        .lines
        .iter()
        .map(|line| line["bridgeEventId"].as_str().unwrap())
        .collect();
    assert_eq!(published.len(), 6, "{published:?}");
    assert!(
        published.contains(ids[3]) && published.contains(ids[5]),
        "well-formed ids kept"
    );
    assert_eq!(sim.simulator.bus().events().len(), 6);
}

// M9: an answer lost after the bus took the entries.

#[tokio::test]
async fn a_putevents_answer_cut_mid_body_is_sent_again_and_never_reported_rejected() {
    // Arrange: the first answer is cut (the entry taken all the same); then, for another
    // event, every answer is cut.
    let sim = demo_sim().await;
    let bus = sim.simulator.bus();
    let once = events_file(&[notification(1, 10)]);
    let always = events_file(&[notification(2, 10)]);
    let rejects = temp_path("cut.rejects");
    let with_rejects = |file: &Path| PublishRequest {
        rejects: Some(rejects.clone()),
        ..request(file)
    };

    // Act
    bus.set_script(BusScript {
        entries: HashMap::new(),
        fail_requests: Some(RequestFault::cut_answer(1)),
    });
    let recovered = publish(&sim.base_url(), &with_rejects(&once), None).await;
    bus.set_script(BusScript {
        entries: HashMap::new(),
        fail_requests: Some(RequestFault::cut_answer(1_000)),
    });
    let lost = bounded(publish(&sim.base_url(), &with_rejects(&always), None)).await;

    // Assert
    assert_eq!(recovered.code, 0, "{}", recovered.err);
    assert_eq!(outcomes(&recovered), ["published"]);
    assert_eq!(lost.code, 1, "failed, not rejected: {}", lost.err);
    assert_eq!(outcomes(&lost), ["failed"]);
    let reason = lost.lines[0]["reason"].as_str().unwrap();
    assert!(reason.contains("PutEvents failed"), "{reason}");
    assert_eq!(
        std::fs::read_to_string(&rejects).unwrap(),
        "",
        "nothing rejected"
    );
    let sent = sends(&bus.requests());
    assert_eq!(
        sent[&bridge_id(&notification(1, 10))],
        2,
        "cut, then sent again"
    );
    assert_eq!(
        sent[&bridge_id(&notification(2, 10))],
        4,
        "every attempt of the policy"
    );
    assert_eq!(bus.requests()[0].answer, "ok (answer cut mid-body)");
}

#[tokio::test]
async fn a_blackholed_putevents_request_times_out_as_failed_and_is_sent_again() {
    // Arrange: the stand-in, scripted over HTTP, blackholes the first request; the client gives
    // up on an attempt after half a second.
    let sim = demo_sim().await;
    let http = reqwest::Client::new();
    let scripted = http
        .put(format!("{}/sim/eventbridge/script", sim.base_url()))
        .json(&json!({"failRequests": {"count": 1, "code": RequestFault::BLACKHOLE}}))
        .send()
        .await
        .unwrap();
    let timeouts = aws_sdk_eventbridge::config::timeout::TimeoutConfig::builder()
        .operation_attempt_timeout(Duration::from_millis(500))
        .operation_timeout(Duration::from_millis(500))
        .build();
    let config = aws_sdk_eventbridge::Config::builder()
        .behavior_version(aws_sdk_eventbridge::config::BehaviorVersion::latest())
        .region(aws_sdk_eventbridge::config::Region::new("eu-west-1"))
        .endpoint_url(sim.base_url())
        .timeout_config(timeouts)
        .retry_config(aws_sdk_eventbridge::config::retry::RetryConfig::disabled())
        .credentials_provider(aws_sdk_eventbridge::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .build();
    let sink = BusSink::new(aws_sdk_eventbridge::Client::from_conf(config), "local");
    let file = events_file(&[notification(1, 10)]);

    // Act
    let ran = bounded(publish_to(&sink, &request(&file), None)).await;

    // Assert
    assert!(scripted.status().is_success());
    assert_eq!(ran.code, 0, "{}", ran.err);
    assert_eq!(outcomes(&ran), ["published"]);
    let answers: Vec<String> = sim
        .simulator
        .bus()
        .requests()
        .into_iter()
        .map(|request| request.answer)
        .collect();
    assert_eq!(answers, ["blackhole", "ok"]);
    assert_eq!(
        sim.simulator.bus().events().len(),
        1,
        "a blackholed request takes nothing"
    );
}

// L4: a short answer.

#[tokio::test]
async fn entries_missing_from_a_short_putevents_answer_are_not_multiplied_on_the_bus() {
    // Arrange: every answer lists the first entry only (the bus takes them all).
    let sim = demo_sim().await;
    let bus = sim.simulator.bus();
    bus.set_script(BusScript {
        entries: HashMap::new(),
        fail_requests: Some(RequestFault::short_answer(1_000)),
    });
    let file = events_file(&(0..10).map(|n| notification(n, 10)).collect::<Vec<_>>());

    // Act
    let ran = bounded(publish(&sim.base_url(), &request(&file), None)).await;

    // Assert
    assert_eq!(ran.code, 1, "{}", ran.err);
    assert_eq!(outcomes(&ran), ["failed"; 10]);
    let reason = ran.lines[9]["reason"].as_str().unwrap();
    assert!(
        reason.contains("answered 1 entries for 10 sent"),
        "{reason}"
    );
    let requests = bus.requests();
    assert_eq!(requests.len(), 2, "sent whole, then once more, not 4 times");
    assert!(sends(&requests).values().all(|&n| n == 2));
    assert_eq!(bus.events().len(), 20, "two copies of each at most, not 34");
}

// L6: inputs a file cannot hold, and entries EventBridge cannot take.

#[tokio::test]
async fn an_input_that_is_not_a_regular_file_is_refused_before_anything_is_read() {
    // Arrange
    let sim = demo_sim().await;

    // Act
    let ran = bounded(publish(
        &sim.base_url(),
        &request(Path::new("/dev/zero")),
        None,
    ))
    .await;

    // Assert
    assert_eq!(ran.code, 2, "{}", ran.err);
    assert!(
        ran.err.contains("/dev/zero: not a regular file"),
        "{}",
        ran.err
    );
    assert!(sim.simulator.bus().requests().is_empty());
}

#[tokio::test]
async fn a_control_character_in_the_detail_type_or_a_time_that_is_not_rfc3339_is_rejected() {
    // Arrange
    let sim = demo_sim().await;
    let event = |detail_type: &str, time: &str, n: usize| {
        json!({"detail-type": detail_type, "time": time,
               "detail": {"interactionId": format!("i-{n}"), "sequenceId": "1"}})
    };
    let file = events_file(&[
        event(
            "purecloud:v2:interaction:update",
            "2026-11-23T12:00:00+02:00",
            1,
        ),
        event("purecloud\u{0}update", "2026-11-23T10:00:00Z", 2),
        event("purecloud\nupdate", "2026-11-23T10:00:00Z", 3),
        event("purecloud:v2:interaction:update", "23/11/2026 10:00", 4),
    ]);

    // Act
    let ran = publish(&sim.base_url(), &request(&file), None).await;

    // Assert
    assert_eq!(ran.code, 3, "{}", ran.err);
    assert_eq!(
        outcomes(&ran),
        ["published", "rejected", "rejected", "rejected"]
    );
    let reasons: Vec<&str> = ran.lines[1..]
        .iter()
        .map(|line| line["reason"].as_str().unwrap())
        .collect();
    assert!(reasons[0].contains("U+0000"), "{}", reasons[0]);
    assert!(reasons[1].contains("U+000A"), "{}", reasons[1]);
    assert!(
        reasons[2].contains("\"23/11/2026 10:00\" is not an RFC 3339"),
        "{}",
        reasons[2]
    );
    let accepted = sim.simulator.bus().events();
    assert_eq!(accepted.len(), 1);
    assert_eq!(
        accepted[0]["time"], "2026-11-23T10:00:00Z",
        "the offset time, sent in UTC"
    );
}
