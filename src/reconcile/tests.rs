//! The reconcile run against fake ports: what it examines, publishes, leaves, and reports.

use super::*;
use crate::publish::{EntryAnswer, SinkError};
use async_trait::async_trait;
use gev_genesys::analytics::{ConversationDetail, DetailsPage};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;

fn at(minutes_before_now: i64) -> DateTime<Utc> {
    now() - TimeDelta::minutes(minutes_before_now)
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-06T12:00:00Z")
        .unwrap()
        .to_utc()
}

fn agent(id: &str, wrapup_code: Option<&str>) -> AgentLeg {
    AgentLeg {
        participant_id: id.into(),
        user_id: Some("user-1".into()),
        queue_id: Some("q-sales".into()),
        wrapup_code: wrapup_code.map(str::to_owned),
    }
}

fn call(id: &str, ended_minutes_ago: Option<i64>, agents: Vec<AgentLeg>) -> ConversationDetail {
    ConversationDetail {
        id: id.into(),
        end: ended_minutes_ago.map(at),
        agents,
    }
}

/// The details query over a fixed list of conversations, `page_size` at a time; counts pages.
struct Analytics {
    calls: Vec<ConversationDetail>,
    pages: Mutex<u32>,
    fail: bool,
}

impl Analytics {
    fn of(calls: Vec<ConversationDetail>) -> Self {
        Analytics {
            calls,
            pages: Mutex::new(0),
            fail: false,
        }
    }
}

#[async_trait]
impl AnalyticsApi for Analytics {
    async fn conversation_details(
        &self,
        _queues: &[String],
        _from: DateTime<Utc>,
        _to: DateTime<Utc>,
        page: u32,
        page_size: u32,
        _deadline: Deadline,
    ) -> Result<DetailsPage, GenesysError> {
        *self.pages.lock().unwrap() += 1;
        if self.fail {
            return Err(GenesysError::RateLimited {
                operation: gev_genesys::Operation::ConversationDetailsQuery,
                retry_after: None,
                correlation_id: None,
            });
        }
        let size = page_size as usize;
        Ok(DetailsPage {
            conversations: self
                .calls
                .iter()
                .skip((page as usize - 1) * size)
                .take(size)
                .cloned()
                .collect(),
            total_hits: self.calls.len() as u64,
        })
    }
}

/// A dedup store's view, by conversation.
#[derive(Default)]
struct Records(HashMap<String, Seen>);

#[async_trait]
impl CallRecords for Records {
    async fn seen(
        &self,
        conversation: &str,
        _participant: &str,
        _ended: DateTime<Utc>,
    ) -> Result<Seen, gev_consumer::dedup::DedupError> {
        Ok(self.0.get(conversation).copied().unwrap_or(Seen::Unknown))
    }
}

/// A bus that keeps every entry it accepts and refuses the entries of the listed conversations.
#[derive(Default)]
struct Bus {
    accepted: Mutex<Vec<Entry>>,
    refuse: Vec<String>,
}

#[async_trait]
impl EventSink for Bus {
    async fn put(&self, entries: &[&Entry]) -> Result<Vec<EntryAnswer>, SinkError> {
        let mut accepted = self.accepted.lock().unwrap();
        Ok(entries
            .iter()
            .map(|entry| {
                if self
                    .refuse
                    .iter()
                    .any(|id| entry.detail.contains(id.as_str()))
                {
                    EntryAnswer::Failed {
                        code: "AccessDeniedException".into(),
                        message: "not allowed".into(),
                    }
                } else {
                    accepted.push((*entry).clone());
                    EntryAnswer::Accepted {
                        event_id: format!("eb-{}", accepted.len()),
                    }
                }
            })
            .collect())
    }
}

fn settings() -> ReconcileSettings {
    let (from, to) = ReconcileSettings::window(DEFAULT_WINDOW, DEFAULT_SETTLE, now());
    ReconcileSettings {
        from,
        to,
        queues: vec!["q-sales".into()],
        longest_call: DEFAULT_LONGEST_CALL,
        max_pages: DEFAULT_MAX_PAGES,
        max_published: DEFAULT_MAX_PUBLISHED,
        source: "genesys-eventbridge.bridge".into(),
        dry_run: false,
        request_timeout: Duration::from_secs(5),
        send_policy: SendPolicy {
            max_attempts: 1,
            ..SendPolicy::default()
        },
    }
}

async fn run(
    analytics: &Analytics,
    records: &Records,
    bus: &Bus,
    settings: &ReconcileSettings,
) -> ReconcileReport {
    reconcile(analytics, Some(records), bus, settings, now())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_call_whose_events_never_came_is_published_as_a_backfilled_user_end_of_its_agent() {
    let id = "6f1c2a9e-0b1d-4c55-9e2a-3a1f5c7d8e01";
    let analytics = Analytics::of(vec![call(id, Some(30), vec![agent("a-1", None)])]);
    let bus = Bus::default();

    let report = run(&analytics, &Records::default(), &bus, &settings()).await;

    assert_eq!((report.examined(), report.published()), (1, 1));
    let accepted = bus.accepted.lock().unwrap();
    let entry = &accepted[0];
    let detail: Value = serde_json::from_str(&entry.detail).unwrap();
    assert_eq!(
        entry.detail_type,
        "v2.detail.events.conversation.{id}.user.end"
    );
    assert_eq!(entry.source, "genesys-eventbridge.bridge");
    assert_eq!(detail["eventBody"]["participantId"], "a-1");
    assert_eq!(detail["eventBody"]["eventTime"], at(30).timestamp_millis());
    assert_eq!(detail["metadata"]["backfilled"], true);
    assert_eq!(
        detail["metadata"]["CorrelationId"],
        format!("reconcile-{id}-a-1")
    );
}

#[tokio::test]
async fn wrapped_up_legs_calls_going_on_and_calls_outside_the_window_are_not_examined() {
    let analytics = Analytics::of(vec![
        call("wrapped", Some(30), vec![agent("a-1", Some("code-1"))]),
        call("going-on", None, vec![agent("a-2", None)]),
        call("too-recent", Some(5), vec![agent("a-3", None)]),
        call("too-old", Some(180), vec![agent("a-4", None)]),
        call(
            "other-queue",
            Some(30),
            vec![AgentLeg {
                queue_id: Some("q-other".into()),
                ..agent("a-5", None)
            }],
        ),
    ]);
    let bus = Bus::default();

    let report = run(&analytics, &Records::default(), &bus, &settings()).await;

    assert_eq!(report.examined(), 0);
    assert_eq!(report.conversations, 5);
    assert!(bus.accepted.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_leg_the_consumer_wrapped_up_or_decided_from_an_earlier_run_is_left_alone() {
    let analytics = Analytics::of(vec![
        call("wrapped-by-consumer", Some(30), vec![agent("a-1", None)]),
        call("reconciled-before", Some(30), vec![agent("a-2", None)]),
    ]);
    let records = Records(HashMap::from([
        ("wrapped-by-consumer".into(), Seen::WrappedUp),
        ("reconciled-before".into(), Seen::AlreadyReconciled),
    ]));
    let bus = Bus::default();

    let report = run(&analytics, &records, &bus, &settings()).await;

    assert_eq!((report.examined(), report.already_done()), (2, 2));
    let outcome_of = |id: &str| {
        let leg = report.legs.iter().find(|leg| leg.conversation_id == id);
        leg.map(|leg| leg.outcome.clone())
    };
    assert_eq!(
        outcome_of("wrapped-by-consumer"),
        Some(LegOutcome::WrappedUp)
    );
    assert_eq!(
        outcome_of("reconciled-before"),
        Some(LegOutcome::AlreadyReconciled)
    );
    assert!(bus.accepted.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_leg_whose_call_had_other_events_arrive_is_rechecked_not_counted_as_missing() {
    let analytics = Analytics::of(vec![call("acw-lost", Some(30), vec![agent("a-1", None)])]);
    let records = Records(HashMap::from([("acw-lost".into(), Seen::EventsArrived)]));
    let bus = Bus::default();

    let report = run(&analytics, &records, &bus, &settings()).await;

    assert_eq!((report.rechecked(), report.published()), (1, 0));
    assert_eq!(report.legs[0].outcome.name(), "rechecked");
    assert_eq!(bus.accepted.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn the_same_missing_call_makes_the_same_event_on_every_run() {
    let analytics = Analytics::of(vec![call("c-1", Some(30), vec![agent("a-1", None)])]);
    let bus = Bus::default();

    run(&analytics, &Records::default(), &bus, &settings()).await;
    run(&analytics, &Records::default(), &bus, &settings()).await;

    let accepted = bus.accepted.lock().unwrap();
    assert_eq!(accepted[0], accepted[1], "same detail, time and bridge id");
}

#[tokio::test]
async fn a_dry_run_reports_what_it_would_publish_and_publishes_nothing() {
    let analytics = Analytics::of(vec![call("c-1", Some(30), vec![agent("a-1", None)])]);
    let bus = Bus::default();
    let settings = ReconcileSettings {
        dry_run: true,
        ..settings()
    };

    let report = run(&analytics, &Records::default(), &bus, &settings).await;

    assert_eq!(report.would_publish(), 1);
    assert!(bus.accepted.lock().unwrap().is_empty());
}

#[tokio::test]
async fn beyond_the_cap_the_oldest_calls_go_first_and_the_rest_wait_for_the_next_run() {
    let analytics = Analytics::of(vec![
        call("newest", Some(20), vec![agent("a-1", None)]),
        call("oldest", Some(90), vec![agent("a-2", None)]),
        call("middle", Some(60), vec![agent("a-3", None)]),
    ]);
    let bus = Bus::default();
    let settings = ReconcileSettings {
        max_published: 2,
        ..settings()
    };

    let report = run(&analytics, &Records::default(), &bus, &settings).await;

    let outcomes: Vec<(&str, &str)> = report
        .legs
        .iter()
        .map(|leg| (leg.conversation_id.as_str(), leg.outcome.name()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("oldest", "published"),
            ("middle", "published"),
            ("newest", "over-cap")
        ]
    );
}

#[tokio::test]
async fn pages_are_read_until_every_hit_is_seen_or_the_page_cap_is_reached() {
    let calls: Vec<_> = (0..250)
        .map(|n| call(&format!("c-{n}"), Some(30), vec![agent("a", Some("done"))]))
        .collect();
    let all_pages = Analytics::of(calls.clone());
    let capped = Analytics::of(calls);
    let two_pages = ReconcileSettings {
        max_pages: 2,
        ..settings()
    };

    let whole = run(
        &all_pages,
        &Records::default(),
        &Bus::default(),
        &settings(),
    )
    .await;
    let cut = run(&capped, &Records::default(), &Bus::default(), &two_pages).await;

    assert_eq!(
        (whole.pages, whole.conversations, whole.truncated),
        (3, 250, false)
    );
    assert_eq!(
        (cut.pages, cut.conversations, cut.truncated),
        (2, 200, true)
    );
}

#[tokio::test]
async fn an_entry_the_bus_refuses_is_reported_refused_and_the_others_published() {
    let analytics = Analytics::of(vec![
        call("c-refused", Some(40), vec![agent("a-1", None)]),
        call("c-ok", Some(30), vec![agent("a-2", None)]),
    ]);
    let bus = Bus {
        refuse: vec!["c-refused".into()],
        ..Bus::default()
    };

    let report = run(&analytics, &Records::default(), &bus, &settings()).await;

    assert_eq!((report.refused(), report.published()), (1, 1));
    assert!(matches!(&report.legs[0].outcome,
        LegOutcome::Refused { reason, for_good: true } if reason.contains("AccessDenied")));
    assert_eq!(report.refused_for_good(), 1);
}

#[tokio::test]
async fn a_failed_query_publishes_nothing_and_can_be_retried() {
    let analytics = Analytics {
        fail: true,
        ..Analytics::of(vec![call("c-1", Some(30), vec![agent("a-1", None)])])
    };
    let bus = Bus::default();

    let error = reconcile(&analytics, None, &bus, &settings(), now())
        .await
        .unwrap_err();

    assert!(error.is_retryable());
    assert!(bus.accepted.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_empty_window_is_refused_before_any_request() {
    let analytics = Analytics::of(Vec::new());
    let settings = ReconcileSettings {
        from: at(10),
        to: at(20),
        ..settings()
    };

    let error = reconcile(&analytics, None, &Bus::default(), &settings, now())
        .await
        .unwrap_err();

    assert!(matches!(error, ReconcileError::EmptyWindow { .. }));
    assert_eq!(*analytics.pages.lock().unwrap(), 0);
}

#[tokio::test]
async fn the_metric_line_counts_the_calls_reconciled() {
    let analytics = Analytics::of(vec![
        call("c-1", Some(30), vec![agent("a-1", None)]),
        call("c-2", Some(30), vec![agent("a-2", None)]),
    ]);
    let records = Records(HashMap::from([("c-2".into(), Seen::AlreadyReconciled)]));
    let report = run(&analytics, &records, &Bus::default(), &settings()).await;

    let line: Value = serde_json::from_str(&emf_line(&report, "GenesysEventBridge", 1)).unwrap();

    assert_eq!(line["Reconciled"], 1);
    assert_eq!(line["Truncated"], 0);
    assert_eq!(line["Examined"], 2);
    assert_eq!(line["AlreadyDone"], 1);
    assert_eq!(
        line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
        "Reconciled"
    );
}

#[test]
fn durations_are_read_in_seconds_minutes_hours_and_days() {
    assert_eq!(parse_duration("90s"), Ok(TimeDelta::seconds(90)));
    assert_eq!(parse_duration("15m"), Ok(TimeDelta::minutes(15)));
    assert_eq!(parse_duration("2h"), Ok(TimeDelta::hours(2)));
    assert_eq!(parse_duration("1d"), Ok(TimeDelta::days(1)));
    assert!(
        parse_duration("2 hours")
            .unwrap_err()
            .to_string()
            .contains("unit")
    );
    assert!(parse_duration("h").is_err());
    assert!(
        parse_duration("999999999d")
            .unwrap_err()
            .to_string()
            .contains("year")
    );
}
