//! `make bench` part `reconcile`: one reconcile run over 1,000 ended calls (a tenth whose events never came, a tenth the consumer saw and decided before its after-call work ended, the rest wrapped up) against genesys-sim; Genesys requests counted at the simulator, per conversation read and per examined call.

use chrono::{SecondsFormat, TimeDelta, Utc};
use genesys_eventbridge::publish::{BusSink, SendPolicy};
use genesys_eventbridge::reconcile::{
    CallRecords, DEFAULT_LONGEST_CALL, DEFAULT_MAX_PUBLISHED, ReconcileSettings, Seen, reconcile,
};
use gev_genesys::HttpSettings;
use gev_sim::{SeedData, SimConfig, Simulator};
use serde_json::{Map, Value, json};
use std::collections::HashSet;
use std::time::{Duration, Instant};

const QUEUE: &str = "c0ffee00-1111-4222-8333-444455556666";

/// The consumer's records: the calls whose events arrived.
struct Arrived(HashSet<String>);

#[async_trait::async_trait]
impl CallRecords for Arrived {
    async fn seen(
        &self,
        conversation: &str,
        _: &str,
        _: chrono::DateTime<Utc>,
    ) -> Result<Seen, gev_consumer::dedup::DedupError> {
        Ok(if self.0.contains(conversation) {
            Seen::EventsArrived
        } else {
            Seen::Unknown
        })
    }
}

fn ended_call(n: usize, wrapped_up: bool) -> Map<String, Value> {
    let at = |minutes: i64| {
        (Utc::now() - TimeDelta::minutes(minutes)).to_rfc3339_opts(SecondsFormat::Millis, true)
    };
    let id = format!("9b1f0c2e-4d3a-4b5c-8e7f-{n:012}");
    let mut agent = json!({"id": format!("{id}-agent"), "purpose": "agent", "queueId": QUEUE,
                           "userId": "u5e70000-0000-4000-8000-000000000001",
                           "startTime": at(40 + (n % 60) as i64), "endTime": at(30),
                           "calls": [{"id": format!("{id}-call"), "state": "disconnected"}]});
    if wrapped_up {
        agent["wrapup"] = json!({"code": "3c2f9a7e-5d1b-4e8f-9a6c-2b7d4e1f0a99"});
    }
    let call = json!({"id": id, "participants": [
        {"id": format!("{id}-cust"), "purpose": "customer", "startTime": at(41), "endTime": at(30),
         "calls": [{"id": format!("{id}-cust-call"), "state": "disconnected"}]},
        agent]});
    call.as_object().cloned().unwrap()
}

/// The simulator's EventBridge stand-in, as the CLI's client (no SDK retries).
fn stand_in(base_url: &str) -> BusSink {
    let config = aws_sdk_eventbridge::Config::builder()
        .behavior_version(aws_sdk_eventbridge::config::BehaviorVersion::latest())
        .region(aws_sdk_eventbridge::config::Region::new("eu-west-1"))
        .endpoint_url(base_url)
        .retry_config(aws_sdk_eventbridge::config::retry::RetryConfig::disabled())
        .credentials_provider(aws_sdk_eventbridge::config::Credentials::new(
            "bench", "bench", None, None, "bench",
        ))
        .build();
    BusSink::new(aws_sdk_eventbridge::Client::from_conf(config), "local")
}

/// One run over `count` calls; the figures as JSON.
pub(crate) async fn reconcile_run(count: usize) -> Value {
    let missing = |n: usize| n.is_multiple_of(10);
    let decided = |n: usize| n % 10 == 5;
    let simulator = Simulator::new(SimConfig::default());
    simulator
        .seed(SeedData {
            conversations: (0..count)
                .map(|n| ended_call(n, !missing(n) && !decided(n)))
                .collect(),
            ..SeedData::default()
        })
        .unwrap();
    let sim = simulator
        .spawn("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let records = Arrived(
        (0..count)
            .filter(|n| decided(*n))
            .map(|n| format!("9b1f0c2e-4d3a-4b5c-8e7f-{n:012}"))
            .collect(),
    );
    let client = crate::sim_client(&sim.base_url(), HttpSettings::default());
    let sink = stand_in(&sim.base_url());
    let now = Utc::now();
    let (from, to) = ReconcileSettings::window(TimeDelta::hours(2), TimeDelta::minutes(10), now);
    let settings = ReconcileSettings {
        from,
        to,
        queues: vec![QUEUE.into()],
        longest_call: DEFAULT_LONGEST_CALL,
        max_pages: 50,
        max_published: DEFAULT_MAX_PUBLISHED,
        source: "genesys-eventbridge.bridge".into(),
        dry_run: false,
        request_timeout: Duration::from_secs(20),
        send_policy: SendPolicy::default(),
    };

    let started = Instant::now();
    let report = reconcile(&client, Some(&records), &sink, &settings, now)
        .await
        .unwrap();
    let elapsed = started.elapsed();

    let genesys = sim.simulator.received_requests().len();
    let examined = report.examined();
    let per_examined = genesys as f64 / examined.max(1) as f64;
    let per_conversation = genesys as f64 / report.conversations.max(1) as f64;
    println!(
        "reconcile: {count} ended calls, {} conversations read in {} pages, {examined} legs examined \
         ({} already done, {} published, {} rechecked): {genesys} Genesys requests (token included), \
         {per_conversation:.4} per conversation read, {per_examined:.3} per examined call; {:.0} ms",
        report.conversations,
        report.pages,
        report.already_done(),
        report.published(),
        report.rechecked(),
        elapsed.as_secs_f64() * 1_000.0
    );
    json!({
        "calls": count,
        "conversations": report.conversations,
        "pages": report.pages,
        "examined": examined,
        "alreadyDone": report.already_done(),
        "published": report.published(),
        "rechecked": report.rechecked(),
        "genesysRequests": genesys,
        "genesysRequestsPerConversation": per_conversation,
        "genesysRequestsPerExaminedCall": per_examined,
        "elapsedMs": elapsed.as_secs_f64() * 1_000.0,
    })
}
