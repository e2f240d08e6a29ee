//! The whole AWS path on loopback: `genesys-eventbridge publish` onto moto's EventBridge, the template's rule into an SQS queue, the consumer's handler on that SQS batch against the simulator; the SNS audit read back through an SQS subscription.

use crate::helpers::{demo_sim, disposition, invocation, local_eventbridge, sim_consumer};
use gev_consumer::consumer::PipelineSettings;
use gev_consumer::lambda;
use serde_json::{Value, json};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_genesys-eventbridge");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// moto's SQS, spoken as the SDK does (AWS JSON 1.0) in the region of `make test`.
pub(crate) struct Sqs {
    http: reqwest::Client,
    url: String,
    region: String,
}

impl Sqs {
    pub(crate) fn new() -> Self {
        Sqs {
            http: reqwest::Client::new(),
            url: std::env::var("AWS_ENDPOINT_URL_EVENTBRIDGE").unwrap(),
            region: std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
        }
    }

    async fn call(&self, action: &str, body: Value) -> Value {
        let scope = format!("test/20261130/{}/sqs/aws4_request", self.region);
        let answer = self
            .http
            .post(&self.url)
            .header("X-Amz-Target", format!("AmazonSQS.{action}"))
            .header("Content-Type", "application/x-amz-json-1.0")
            .header(
                "Authorization",
                format!("AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0"),
            )
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(
            answer.status().is_success(),
            "SQS {action}: {}",
            answer.status()
        );
        answer.json().await.unwrap()
    }

    /// A new queue: its URL and ARN.
    pub(crate) async fn queue(&self, name: &str) -> (String, String) {
        let url = self.call("CreateQueue", json!({"QueueName": name})).await["QueueUrl"]
            .as_str()
            .unwrap()
            .to_owned();
        let attributes = self
            .call(
                "GetQueueAttributes",
                json!({"QueueUrl": url, "AttributeNames": ["QueueArn"]}),
            )
            .await;
        let arn = attributes["Attributes"]["QueueArn"]
            .as_str()
            .unwrap()
            .to_owned();
        (url, arn)
    }

    /// Every message on the queue now.
    pub(crate) async fn drain(&self, url: &str) -> Vec<Value> {
        let mut messages = Vec::new();
        loop {
            let batch = self
                .call(
                    "ReceiveMessage",
                    json!({"QueueUrl": url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 0}),
                )
                .await;
            match batch["Messages"].as_array() {
                Some(batch) if !batch.is_empty() => messages.extend(batch.iter().cloned()),
                _ => return messages,
            }
        }
    }
}

/// The payload an SQS event source mapping hands the function for `messages`.
pub(crate) fn lambda_sqs_event(messages: &[Value], queue_arn: &str) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!({"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"],
                   "body": m["Body"], "attributes": {"ApproximateReceiveCount": "1"},
                   "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                   "eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": "us-east-1"})
        })
        .collect();
    json!({"Records": records})
}

/// A new bus (named after `run`) with the template's rule delivering into a new SQS queue:
/// the bus name, the queue's URL and ARN.
pub(crate) async fn bus_with_the_rule_into_a_queue(
    events: &aws_sdk_eventbridge::Client,
    sqs: &Sqs,
    run: &str,
) -> (String, String, String) {
    let bus = format!("e2e-{run}");
    events.create_event_bus().name(&bus).send().await.unwrap();
    let template = std::fs::read_to_string(format!("{ROOT}/template.yaml")).unwrap();
    let pattern = genesys_eventbridge::configure::check::rule_pattern(&template).unwrap();
    events
        .put_rule()
        .name("genesys")
        .event_bus_name(&bus)
        .event_pattern(pattern.to_string())
        .send()
        .await
        .unwrap();
    let (ingest, ingest_arn) = sqs.queue(&format!("ingest-{run}")).await;
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("queue")
        .arn(&ingest_arn)
        .build()
        .unwrap();
    events
        .put_targets()
        .rule("genesys")
        .event_bus_name(&bus)
        .targets(target)
        .send()
        .await
        .unwrap();
    (bus, ingest, ingest_arn)
}

/// Runs `genesys-eventbridge publish` with `args`; its exit code and output lines.
fn publish(args: &[&str]) -> (i32, Vec<Value>) {
    let output = Command::new(BIN)
        .arg("publish")
        .args(args)
        .current_dir(ROOT)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}\n{stderr}")))
        .collect();
    (output.status.code().unwrap_or(-1), lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_samples_reach_the_consumer_through_the_rule_and_a_queue_and_get_their_wrap_ups()
{
    // Arrange: a bus with the template's rule into a queue; an audit topic with a queue subscribed.
    let Some(events) = local_eventbridge("us-east-1").await else {
        return;
    };
    let sqs = Sqs::new();
    let run = format!("{:08x}", fastrand::u32(..));
    let (bus, ingest, ingest_arn) = bus_with_the_rule_into_a_queue(&events, &sqs, &run).await;
    let sns = aws_sdk_sns::Client::new(
        &aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await,
    );
    let topic = sns
        .create_topic()
        .name(format!("audit-{run}"))
        .send()
        .await
        .unwrap();
    let topic_arn = topic.topic_arn().unwrap();
    let (audit_queue, audit_queue_arn) = sqs.queue(&format!("audit-{run}")).await;
    sns.subscribe()
        .topic_arn(topic_arn)
        .protocol("sqs")
        .endpoint(&audit_queue_arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();

    // Act: publish every sample, then the first native one again (a second bridge's copy).
    let (code, lines) = publish(&[
        "--bus",
        &bus,
        "--events",
        "events/",
        "--audit-topic-arn",
        topic_arn,
    ]);
    let (again, _) = publish(&[
        "--bus",
        &bus,
        "--events",
        "events/20-native-user-end-eligible.json",
    ]);
    let delivered = sqs.drain(&ingest).await;
    let sim = demo_sim().await;
    let consumer = sim_consumer(&sim.base_url(), PipelineSettings::new(disposition()));
    let handled = lambda::handle(
        &consumer,
        lambda_sqs_event(&delivered, &ingest_arn),
        &invocation("e2e"),
    )
    .await;

    // Assert: all published but the repeats, only the native events delivered, and the two
    // eligible conversations' agents wrapped up once each.
    assert_eq!((code, again), (0, 0));
    let count = |outcome: &str| lines.iter().filter(|l| l["outcome"] == outcome).count();
    assert_eq!(
        (count("published"), count("duplicate")),
        (20, 2),
        "{lines:?}"
    );
    let detail_types: Vec<String> = delivered
        .iter()
        .map(|m| serde_json::from_str::<Value>(m["Body"].as_str().unwrap()).unwrap())
        .map(|event| event["detail-type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        delivered.len(),
        11,
        "10 native samples and the second copy: {detail_types:?}"
    );
    assert!(
        detail_types
            .iter()
            .all(|t| t.starts_with("v2.detail.events.conversation."))
    );
    let outcomes: Vec<&str> = handled.reports.iter().map(|r| r.outcome.name()).collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == "patched").count(),
        2,
        "{outcomes:?}"
    );
    let applied: Vec<(String, u64)> = sim
        .simulator
        .patch_counts()
        .into_iter()
        .filter(|(_, count)| count.applied > 0)
        .map(|(target, count)| (target, count.applied))
        .collect();
    assert_eq!(applied.len(), 2, "{applied:?}");
    assert!(
        applied.iter().all(|(_, writes)| *writes == 1),
        "{applied:?}"
    );
    let audit: Vec<Value> = sqs
        .drain(&audit_queue)
        .await
        .iter()
        .map(|m| serde_json::from_str(m["Body"].as_str().unwrap()).unwrap())
        .collect();
    let audited: u64 = audit.iter().map(|m| m["published"].as_u64().unwrap()).sum();
    assert_eq!(
        audited, 20,
        "one audit message per request, covering every entry: {audit:?}"
    );
    assert!(
        audit
            .iter()
            .all(|m| m["bus"] == bus.as_str() && m["attempts"] == 1)
    );
}
