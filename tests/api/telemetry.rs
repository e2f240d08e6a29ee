//! Spans, logs and propagation as users' tools see them: exact span trees from an in-memory exporter.

use crate::fixtures::GenesysMock;
use crate::helpers::*;
use gev_consumer::consumer::Consumer;
use gev_consumer::lambda::{self, InvocationMeta};
use gev_core::telemetry::json_log::JsonLogLayer;
use gev_core::telemetry::tree::{SpanCollector, SpanNode, build_trees};
use gev_core::telemetry::{Telemetry, otel_layer};
use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData};
use serde_json::{Value, json};
use std::io::Write;
use std::sync::{Arc, Mutex};
use tracing_subscriber::layer::SubscriberExt;

/// Spans of this thread go to an in-memory collector (tests run on a current-thread runtime).
struct Traced {
    telemetry: Telemetry,
    collector: SpanCollector,
    _guard: tracing::subscriber::DefaultGuard,
}

fn traced() -> Traced {
    let collector = SpanCollector::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(collector.clone())
        .build();
    let subscriber = tracing_subscriber::registry().with(otel_layer(&provider));
    let guard = tracing::subscriber::set_default(subscriber);
    Traced {
        telemetry: Telemetry::for_tests(provider, collector.clone()),
        collector,
        _guard: guard,
    }
}

fn meta(request_id: &str, xray: Option<&str>) -> InvocationMeta {
    InvocationMeta {
        request_id: request_id.into(),
        function_name: "disposition-consumer".into(),
        xray_trace_header: xray.map(str::to_owned),
    }
}

async fn run_one(
    consumer: &Consumer,
    traced: &Traced,
    request_id: &str,
) -> (SpanNode, Vec<SpanData>) {
    lambda::invoke(
        consumer,
        seed_event(&format!("evt-{request_id}"), INTERACTION, "17"),
        &invocation(request_id),
        &meta(request_id, None),
        &traced.telemetry,
    )
    .await;
    let spans = traced.collector.take();
    let mut trees = build_trees(&spans);
    assert_eq!(trees.len(), 1, "one trace per invocation: {trees:?}");
    (trees.remove(0).1, spans)
}

fn count_events(node: &SpanNode, name: &str) -> usize {
    node.events.iter().filter(|e| *e == name).count()
        + node
            .children
            .iter()
            .map(|c| count_events(c, name))
            .sum::<usize>()
}

fn any_error(node: &SpanNode) -> bool {
    node.is_error || node.children.iter().any(any_error)
}

/// Spans of this thread go to `exporter` in batches, as in production.
fn batch_exporting(
    exporter: opentelemetry_otlp::SpanExporter,
) -> (
    SdkTracerProvider,
    Telemetry,
    tracing::subscriber::DefaultGuard,
) {
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .build();
    let subscriber = tracing_subscriber::registry().with(otel_layer(&provider));
    let guard = tracing::subscriber::set_default(subscriber);
    let telemetry = Telemetry::for_tests(provider.clone(), SpanCollector::default());
    (provider, telemetry, guard)
}

const GET: &str = "GET /api/v2/interactions/{interactionId}";
const PATCH: &str = "PATCH /api/v2/interactions/{interactionId}";
const TOKEN: &str = "POST /oauth/token";

#[tokio::test]
async fn a_patched_event_has_the_full_span_tree_with_semantic_attributes() {
    let traced = traced();
    let genesys = GenesysMock::eligible(1).patch(200, 1).await;

    let (root, spans) = run_one(&genesys.consumer(), &traced, "req-1").await;

    assert_eq!(
        root.shape(),
        format!(
            "disposition-consumer(decode, event(parse, claim, fetch(token({TOKEN}), {GET}), \
             decide, apply(token, {PATCH}), complete))"
        )
    );
    assert_eq!(root.attr("faas.trigger").as_deref(), Some("pubsub"));
    assert_eq!(root.attr("faas.invocation_id").as_deref(), Some("req-1"));
    assert!(root.attributes.contains_key("faas.coldstart"));
    assert_eq!(root.attr("cloud.provider").as_deref(), Some("aws"));
    assert_eq!(root.attr("cloud.platform").as_deref(), Some("aws_lambda"));
    let event = root.find("event").unwrap();
    assert_eq!(event.attr("outcome").as_deref(), Some("patched"));
    assert_eq!(event.attr("interaction.id").as_deref(), Some(INTERACTION));
    assert_eq!(event.attr("sequence.id").as_deref(), Some("17"));
    assert_eq!(event.attr("dedup.result").as_deref(), Some("claimed"));
    assert_eq!(
        event.attr("eligibility.reason").as_deref(),
        Some("eligible")
    );
    let patch = root.find(PATCH).unwrap();
    assert_eq!(patch.attr("http.request.method").as_deref(), Some("PATCH"));
    assert_eq!(
        patch.attr("http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(patch.attr("server.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(
        patch.attr("url.full"),
        Some(format!(
            "{}{}",
            genesys.uri(),
            interaction_path(INTERACTION)
        ))
    );
    assert!(!patch.attributes.contains_key("http.request.resend_count"));
    let kinds: Vec<SpanKind> = spans
        .iter()
        .filter(|s| s.name == PATCH || s.name == GET || s.name == TOKEN)
        .map(|s| s.span_kind.clone())
        .collect();
    assert_eq!(
        kinds,
        [SpanKind::Client, SpanKind::Client, SpanKind::Client]
    );
    assert!(!any_error(&root));
    assert_eq!(count_events(&root, "exception"), 0);
}

#[tokio::test]
async fn a_duplicate_stops_after_the_claim() {
    let traced = traced();
    let genesys = GenesysMock::eligible(1).patch(200, 1).await;
    let consumer = genesys.consumer();
    run_one(&consumer, &traced, "req-1").await;

    let (root, _) = run_one(&consumer, &traced, "req-2").await;

    assert_eq!(
        root.shape(),
        "disposition-consumer(decode, event(parse, claim))"
    );
    let event = root.find("event").unwrap();
    assert_eq!(event.attr("outcome").as_deref(), Some("duplicate"));
    assert_eq!(event.attr("dedup.result").as_deref(), Some("duplicate"));
    assert_eq!(
        root.find("claim").unwrap().attr("dedup.result").as_deref(),
        Some("duplicate")
    );
}

#[tokio::test]
async fn an_ineligible_event_has_no_apply_span() {
    let traced = traced();
    let genesys = GenesysMock::ready()
        .interaction(json!({"type": "chat"}), 1)
        .patch(200, 0)
        .await;

    let (root, _) = run_one(&genesys.consumer(), &traced, "req-1").await;

    assert_eq!(
        root.shape(),
        format!(
            "disposition-consumer(decode, event(parse, claim, fetch(token({TOKEN}), {GET}), decide, complete))"
        )
    );
    assert_eq!(
        root.find("decide")
            .unwrap()
            .attr("eligibility.reason")
            .as_deref(),
        Some("non-voice-interaction")
    );
    assert!(!any_error(&root));
}

#[tokio::test]
async fn a_failed_patch_marks_the_path_to_it_as_error_and_records_the_exception_once() {
    let traced = traced();
    let genesys = GenesysMock::eligible(1).patch(503, 3).await;

    let (root, _) = run_one(&genesys.consumer(), &traced, "req-1").await;

    assert_eq!(
        root.shape(),
        format!(
            "disposition-consumer(decode, event(parse, claim, fetch(token({TOKEN}), {GET}), \
             decide, apply(token, {PATCH}, token, {PATCH}, token, {PATCH}), release))"
        )
    );
    let apply = root.find("apply").unwrap();
    assert!(apply.is_error);
    assert_eq!(apply.events.iter().filter(|e| *e == "exception").count(), 1);
    assert_eq!(
        count_events(&root, "exception"),
        1,
        "the exception is recorded once"
    );
    let attempts: Vec<&SpanNode> = apply.children.iter().filter(|c| c.name == PATCH).collect();
    assert!(
        attempts
            .iter()
            .all(|a| a.is_error && a.attr("error.type").as_deref() == Some("503"))
    );
    let resends: Vec<Option<String>> = attempts
        .iter()
        .map(|a| a.attr("http.request.resend_count"))
        .collect();
    assert_eq!(resends, [None, Some("1".into()), Some("2".into())]);
    assert!(root.find("event").unwrap().is_error);
    assert!(root.is_error, "the invocation fails");
    assert!(!root.find("fetch").unwrap().is_error);
}

#[tokio::test]
async fn outbound_requests_carry_the_traceparent_of_their_span() {
    let traced = traced();
    let genesys = GenesysMock::eligible(1).patch(200, 1).await;
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );

    let (_, spans) = run_one(&genesys.consumer(), &traced, "req-1").await;

    let requests = genesys.server().received_requests().await.unwrap();
    let patch = requests
        .iter()
        .find(|r| r.method.as_str() == "PATCH")
        .unwrap();
    let traceparent = patch
        .headers
        .get("traceparent")
        .expect("traceparent")
        .to_str()
        .unwrap();
    let patch_span = spans.iter().find(|s| s.name == PATCH).unwrap();
    assert_eq!(
        traceparent,
        format!(
            "00-{}-{}-01",
            patch_span.span_context.trace_id(),
            patch_span.span_context.span_id()
        )
    );
}

#[tokio::test]
async fn an_incoming_xray_trace_becomes_a_link_by_default_and_the_parent_when_asked() {
    let traced = traced();
    let genesys = GenesysMock::builder().await;
    let consumer = genesys.consumer();
    let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let ignored = json!({"detail-type": "Other", "id": "e"});

    lambda::invoke(
        &consumer,
        ignored.clone(),
        &invocation("r1"),
        &meta("r1", Some(header)),
        &traced.telemetry,
    )
    .await;
    let linked = traced.collector.take();
    let as_parent = traced
        .telemetry
        .clone()
        .with_xray_context(gev_core::telemetry::propagation::Incoming::Parent);
    lambda::invoke(
        &consumer,
        ignored,
        &invocation("r2"),
        &meta("r2", Some(header)),
        &as_parent,
    )
    .await;
    let parented = traced.collector.take();

    let root = |spans: &[SpanData]| {
        spans
            .iter()
            .find(|s| s.name == "disposition-consumer")
            .cloned()
            .unwrap()
    };
    let linked_root = root(&linked);
    assert_ne!(
        linked_root.span_context.trace_id().to_string(),
        "5759e988bd862e3fe1be46a994272793"
    );
    let link = linked_root.links.iter().next().expect("a link");
    assert_eq!(
        link.span_context.trace_id().to_string(),
        "5759e988bd862e3fe1be46a994272793"
    );
    let parented_root = root(&parented);
    assert_eq!(
        parented_root.span_context.trace_id().to_string(),
        "5759e988bd862e3fe1be46a994272793"
    );
    assert_eq!(parented_root.parent_span_id.to_string(), "53995c3f42cd8ad8");
}

/// A `MakeWriter` into a shared buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn json_log_lines_carry_the_trace_and_span_ids_and_the_event_fields() {
    let collector = SpanCollector::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(collector.clone())
        .build();
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::registry()
        .with(JsonLogLayer::new(move || writer.clone()))
        .with(otel_layer(&provider));
    let _guard = tracing::subscriber::set_default(subscriber);
    let genesys = GenesysMock::builder().await;

    let report = genesys
        .consumer()
        .process(
            &json!({"id": "evt-9", "detail-type": "Other"}),
            &invocation("r"),
        )
        .await;

    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let line: Value = text
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .find(|line| line["message"] == "event processed")
        .expect("the event's log line");
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["outcome"], "ignored");
    assert_eq!(line["event.id"], "evt-9");
    assert_eq!(line["span"], "event");
    assert_eq!(line["trace_id"].as_str(), report.trace_id.as_deref());
    let event_span = collector
        .take()
        .into_iter()
        .find(|s| s.name == "event")
        .unwrap();
    assert_eq!(
        line["span_id"],
        event_span.span_context.span_id().to_string()
    );
}

#[tokio::test]
async fn a_dynamodb_claim_has_a_client_span_with_database_attributes() {
    let Some(store) = dynamodb_store().await else {
        return;
    };
    let traced = traced();
    let genesys = GenesysMock::builder().token_answer(503, 3).await;
    let consumer = genesys.consumer_builder().store(store).build();
    let event = seed_event("e", &format!("otel-{:016x}", fastrand::u64(..)), "1");

    // Genesys is down: the claim is taken, then released for a redelivery.
    lambda::invoke(
        &consumer,
        event,
        &invocation("r1"),
        &meta("r1", None),
        &traced.telemetry,
    )
    .await;
    let spans = traced.collector.take();
    let (_, root) = build_trees(&spans).remove(0);

    let claim = root.find("claim").unwrap();
    assert_eq!(claim.children.len(), 1);
    let update = &claim.children[0];
    assert_eq!(update.name, "DynamoDB.UpdateItem");
    assert_eq!(
        update.attr("db.system.name").as_deref(),
        Some("aws.dynamodb")
    );
    assert_eq!(update.attr("rpc.method").as_deref(), Some("UpdateItem"));
    let tables = update.attributes.get("aws.dynamodb.table_names").unwrap();
    assert_eq!(
        tables.as_str(),
        format!("[\"{}\"]", std::env::var("DEDUP_TEST_TABLE").unwrap())
    );
    let release = root.find("release").unwrap();
    assert_eq!(release.children[0].name, "DynamoDB.UpdateItem");
}

#[tokio::test(flavor = "current_thread")]
async fn a_flush_on_a_current_thread_runtime_does_not_hang_and_delivers_the_spans() {
    use opentelemetry_otlp::WithExportConfig;
    // The receiver runs on this same single-threaded runtime: a flush that blocked the runtime
    // thread could never be answered.
    let (otlp, received) = otlp_receiver().await;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{otlp}/v1/traces"))
        .build()
        .unwrap();
    let (provider, telemetry, _guard) = batch_exporting(exporter);
    let genesys = GenesysMock::builder().await;
    let ignored = json!({"detail-type": "Other", "id": "e"});

    let invoked = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        lambda::invoke(
            &genesys.consumer(),
            ignored,
            &invocation("r"),
            &meta("r-ct", None),
            &telemetry,
        ),
    )
    .await;

    assert!(invoked.is_ok(), "the invocation (and its flush) hung");
    let names: Vec<String> = received
        .lock()
        .unwrap()
        .iter()
        .map(|(_, s)| s.name.clone())
        .collect();
    assert!(
        names.contains(&"disposition-consumer".to_owned()),
        "{names:?}"
    );
    assert!(names.contains(&"event".to_owned()), "{names:?}");
    let _ = provider.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blackholed_collector_costs_an_invocation_at_most_the_flush_budget() {
    use opentelemetry_otlp::WithExportConfig;
    // A collector that accepts connections and never answers.
    let blackhole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = blackhole.local_addr().unwrap();
    let _held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = blackhole.accept().await {
            open.push(socket);
        }
    });
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("http://{address}/v1/traces"))
        .build()
        .unwrap();
    let (_provider, telemetry, _guard) = batch_exporting(exporter);
    let genesys = GenesysMock::builder().await;
    let ignored = json!({"detail-type": "Other", "id": "e"});

    let mut took = Vec::new();
    for n in 0..2 {
        let started = std::time::Instant::now();
        lambda::invoke(
            &genesys.consumer(),
            ignored.clone(),
            &invocation(&format!("r-{n}")),
            &meta(&format!("r-bh-{n}"), None),
            &telemetry,
        )
        .await;
        took.push(started.elapsed());
    }

    // The first waits for its flush at most 300 ms; the second skips the flush still running.
    assert!(took[0] < std::time::Duration::from_millis(600), "{took:?}");
    assert!(took[1] < std::time::Duration::from_millis(100), "{took:?}");
}
