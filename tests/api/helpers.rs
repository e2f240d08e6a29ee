//! Shared helpers: the test org's ids, sample events and Genesys bodies, clients, the local AWS
//! stand-ins, and what the CLI tests read. The builders that arrange a test live in
//! [`crate::fixtures`].

use crate::fixtures::ConsumerBuilder;
use axum::extract::State;
use axum::routing::post;
use gev_consumer::consumer::{Consumer, Invocation, PipelineSettings};
use gev_consumer::dedup::{DedupStore, OwnerToken};
use gev_core::deadline::Deadline;
use gev_core::domain::{DispositionCodeId, InteractionId, Outcome};
use gev_core::secret::Secret;
use gev_genesys::RetryPolicy;
use gev_genesys::{
    ClientCredentials, CredentialsSource, Endpoints, HttpGenesysClient, HttpSettings,
    StaticCredentials,
};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

pub(crate) const CLIENT_ID: &str = "test-client";
pub(crate) const CLIENT_SECRET: &str = "test-secret";
/// `test-client:test-secret`, base64.
pub(crate) const BASIC_AUTH: &str = "Basic dGVzdC1jbGllbnQ6dGVzdC1zZWNyZXQ=";
pub(crate) const TOKEN: &str = "token-1";
pub(crate) const DISPOSITION: &str = "3c2f9a7e-5d1b-4e8f-9a6c-2b7d4e1f0a99";
pub(crate) const INTERACTION: &str = "6f1c2a9e-0b1d-4c55-9e2a-3a1f5c7d8e01";

/// Fast retries so that tests of the retry paths take milliseconds.
pub(crate) fn fast_settings() -> HttpSettings {
    HttpSettings {
        request_timeout: Duration::from_millis(500),
        max_requests_per_second: None,
        token_refresh_margin: Duration::from_secs(30),
        retry: RetryPolicy {
            backoff_base: Duration::from_millis(10),
            backoff_max: Duration::from_millis(40),
            ..RetryPolicy::default()
        },
    }
}

/// A client of the Genesys at `base_url` (API and login alike), authenticating with `credentials`.
pub(crate) fn client_of(
    base_url: &str,
    credentials: Arc<dyn CredentialsSource>,
    settings: HttpSettings,
) -> HttpGenesysClient {
    HttpGenesysClient::new(
        Endpoints {
            api_base: base_url.to_owned(),
            login_base: base_url.to_owned(),
        },
        credentials,
        settings,
    )
    .expect("client builds")
}

/// Static credentials `client_id`:`client_secret`.
fn credentials(client_id: &str, client_secret: &str) -> Arc<dyn CredentialsSource> {
    Arc::new(StaticCredentials(ClientCredentials {
        client_id: client_id.into(),
        client_secret: Secret::new(client_secret),
    }))
}

/// A client of `base_url` with the test credentials.
pub(crate) fn client_with(base_url: &str, settings: HttpSettings) -> HttpGenesysClient {
    client_of(base_url, credentials(CLIENT_ID, CLIENT_SECRET), settings)
}

pub(crate) fn interaction_path(id: &str) -> String {
    format!("/api/v2/interactions/{id}")
}

pub(crate) fn interaction_id() -> InteractionId {
    InteractionId::parse(INTERACTION).unwrap()
}

pub(crate) fn disposition() -> DispositionCodeId {
    DispositionCodeId::parse(DISPOSITION).unwrap()
}

pub(crate) fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(10))
}

/// An interaction as `GET /api/v2/interactions/{id}` returns it: a completed 45 s voice call
/// with no codes, unless `changes` say otherwise.
pub(crate) fn interaction_json(id: &str, changes: Value) -> Value {
    let mut body = json!({
        "id": id,
        "type": "voice",
        "state": "completed",
        "dispositionCode": null,
        "wrapUpCode": null,
        "metadata": {"startTime": "2026-11-23T10:00:00Z", "endTime": "2026-11-23T10:00:45Z"},
        "timeline": []
    });
    if let (Some(body), Some(changes)) = (body.as_object_mut(), changes.as_object()) {
        for (key, value) in changes {
            body.insert(key.clone(), value.clone());
        }
    }
    body
}

/// A tutorial-dialect EventBridge event.
pub(crate) fn seed_event(event_id: &str, interaction: &str, sequence: &str) -> Value {
    json!({
        "version": "0",
        "id": event_id,
        "detail-type": "purecloud:v2:interaction:update",
        "source": "com.genesys.interaction",
        "account": "123456789012",
        "time": "2026-11-23T10:15:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": {
            "interactionId": interaction,
            "sequenceId": sequence,
            "interactionType": "voice",
            "state": "completed"
        }
    })
}

pub(crate) fn consumer_with(genesys: HttpGenesysClient, store: Arc<dyn DedupStore>) -> Consumer {
    ConsumerBuilder::over(Arc::new(genesys))
        .store(store)
        .build()
}

/// The outcome of an event whose target already completed with `previous`, same payload.
pub(crate) fn duplicate_of(previous: &str) -> Outcome {
    Outcome::Duplicate {
        previous: Some(previous.into()),
        same_payload: true,
    }
}

pub(crate) fn invocation(request_id: &str) -> Invocation {
    Invocation {
        owner: OwnerToken::new(request_id),
        deadline: deadline(),
    }
}

/// Says, past the test harness's output capture (which hides what a passing test prints), that
/// the calling test was skipped and why: `cargo test` without the local servers must not look
/// like a full run.
pub(crate) fn say_skipped(why: &str) {
    use std::io::Write;
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// The table of the DynamoDB Local server `make test` starts (scripts/with-local-aws.sh).
/// Without that server: `None`, said loudly, unless `REQUIRE_LOCAL_AWS` is set, in which case
/// the test fails.
pub(crate) fn local_dedup_table() -> Option<String> {
    local_aws(
        "DEDUP_TEST_TABLE",
        "no DynamoDB Local (`make test` starts it)",
    )?;
    std::env::var("DEDUP_TEST_TABLE").ok()
}

/// `Some` when `variable` (set by scripts/with-local-aws.sh) names a local AWS stand-in; `None`
/// and the calling test said skipped for `why` when it does not, unless `REQUIRE_LOCAL_AWS` is
/// set, in which case the test fails.
pub(crate) fn local_aws(variable: &str, why: &str) -> Option<()> {
    if std::env::var_os(variable).is_some() {
        return Some(());
    }
    assert!(
        std::env::var_os("REQUIRE_LOCAL_AWS").is_none(),
        "REQUIRE_LOCAL_AWS is set but {variable} is not"
    );
    say_skipped(why);
    None
}

/// The DynamoDB dedup store on the local server `make test` starts (see [`local_dedup_table`]).
pub(crate) async fn dynamodb_store() -> Option<Arc<dyn DedupStore>> {
    let table = local_dedup_table()?;
    let client = gev_consumer::app::dynamodb_client().await;
    Some(Arc::new(gev_consumer::dedup::DynamoDbDedupStore::new(
        client, table,
    )))
}

/// Spans an OTLP receiver got, each with when its export request arrived.
pub(crate) type Received = Arc<std::sync::Mutex<Vec<(std::time::Instant, Span)>>>;

/// An OTLP/HTTP trace receiver on loopback that decodes what it gets.
pub(crate) async fn otlp_receiver() -> (String, Received) {
    async fn traces(State(received): State<Received>, body: axum::body::Bytes) -> &'static [u8] {
        let request = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf export");
        let now = std::time::Instant::now();
        let mut received = received.lock().unwrap();
        for resource in request.resource_spans {
            for scope in resource.scope_spans {
                received.extend(scope.spans.into_iter().map(|span| (now, span)));
            }
        }
        b""
    }
    let received = Received::default();
    let app = axum::Router::new()
        .route("/v1/traces", post(traces))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

pub(crate) fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            AnyValue::StringValue(text) => Some(text.clone()),
            AnyValue::BoolValue(flag) => Some(flag.to_string()),
            AnyValue::IntValue(number) => Some(number.to_string()),
            _ => None,
        })
}

/// An EventBridge client in `region` on the local moto server `make test` starts, if there is one
/// (said loudly when not).
pub(crate) async fn local_eventbridge(region: &str) -> Option<aws_sdk_eventbridge::Client> {
    local_aws(
        "AWS_ENDPOINT_URL_EVENTBRIDGE",
        "no local EventBridge (`make test` starts moto)",
    )?;
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_owned()))
        .load()
        .await;
    Some(aws_sdk_eventbridge::Client::new(&shared))
}

/// A Secrets Manager client on the local moto server `make test` starts, if there is one.
pub(crate) async fn secrets_manager() -> Option<aws_sdk_secretsmanager::Client> {
    local_aws(
        "AWS_ENDPOINT_URL_SECRETS_MANAGER",
        "no local Secrets Manager (`make test` starts moto)",
    )?;
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    Some(aws_sdk_secretsmanager::Client::new(&shared))
}

pub(crate) const CONVERSATION: &str = "9b1f0c2e-4d3a-4b5c-8e7f-0000000000aa";
pub(crate) const AGENT: &str = "p-agent-1";
pub(crate) const CUSTOMER: &str = "p-customer-1";
pub(crate) const AGENT_CALL: &str = "call-agent-1";
pub(crate) const QUEUE: &str = "c0ffee00-1111-4222-8333-444455556666";

/// A native Genesys Cloud conversation event, as the partner event source delivers it.
pub(crate) fn native_event(
    event_id: &str,
    topic: &str,
    participant: &str,
    event_time: i64,
) -> Value {
    json!({
        "version": "0",
        "id": event_id,
        "detail-type": format!("v2.detail.events.conversation.{{id}}.{topic}"),
        "source": "aws.partner/genesys.com/cloud/org-1/genesys-events",
        "account": "123456789012",
        "time": "2026-11-23T10:20:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": {
            "topicName": format!("v2.detail.events.conversation.{CONVERSATION}.{topic}"),
            "version": "2",
            "eventBody": {
                "eventTime": event_time,
                "conversationId": CONVERSATION,
                "participantId": participant,
                "mediaType": "VOICE"
            },
            "metadata": {"CorrelationId": format!("corr-{event_id}")},
            "timestamp": "2026-11-23T10:20:00.000Z"
        }
    })
}

/// A call as `GET /api/v2/conversations/{id}` returns it: a customer and an agent, the agent
/// connected for 60 s, its after-call work ended (timed out) without a wrap-up, unless `agent`
/// says otherwise.
pub(crate) fn conversation_json(agent: Value) -> Value {
    let mut agent_participant = json!({
        "id": AGENT,
        "purpose": "agent",
        "queueId": QUEUE,
        "connectedTime": "2026-11-23T10:00:00.000Z",
        "endTime": "2026-11-23T10:01:00.000Z",
        "wrapupRequired": true,
        "startAcwTime": "2026-11-23T10:01:00.000Z",
        "endAcwTime": "2026-11-23T10:01:30.000Z",
        "calls": [{"id": AGENT_CALL, "state": "disconnected", "afterCallWork": {"state": "complete"}}]
    });
    if let (Some(target), Some(changes)) = (agent_participant.as_object_mut(), agent.as_object()) {
        for (key, value) in changes {
            target.insert(key.clone(), value.clone());
        }
    }
    json!({
        "id": CONVERSATION,
        "participants": [
            {"id": CUSTOMER, "purpose": "customer",
             "connectedTime": "2026-11-23T10:00:00.000Z", "endTime": "2026-11-23T10:01:00.000Z",
             "calls": [{"id": "call-customer-1", "state": "disconnected"}]},
            agent_participant
        ]
    })
}

/// The demo data: `events/sim/interactions.json`.
pub(crate) fn demo_data() -> gev_sim::SeedData {
    let data =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events/sim/interactions.json");
    gev_sim::SeedData::from_file(&data).unwrap()
}

/// The simulator with the demo data on a free loopback port.
pub(crate) async fn demo_sim() -> gev_sim::RunningSim {
    use gev_sim::{SimConfig, Simulator};
    let simulator = Simulator::new(SimConfig::default());
    simulator.seed(demo_data()).unwrap();
    simulator
        .spawn("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// A client of a simulator at `base_url`, with the simulator's demo credentials.
pub(crate) fn sim_client(base_url: &str, settings: HttpSettings) -> HttpGenesysClient {
    let config = gev_sim::SimConfig::default();
    let demo = credentials(&config.client_id, &config.client_secret);
    client_of(base_url, demo, settings)
}

/// A consumer of a simulator at `base_url`, with in-memory dedup.
pub(crate) fn sim_consumer(base_url: &str, settings: PipelineSettings) -> Consumer {
    ConsumerBuilder::over(Arc::new(sim_client(base_url, HttpSettings::default())))
        .settings(settings)
        .build()
}

/// A bearer token from the simulator at `base_url`, for raw requests.
pub(crate) async fn sim_token(http: &reqwest::Client, base_url: &str) -> String {
    let config = gev_sim::SimConfig::default();
    let token: Value = http
        .post(format!("{base_url}/oauth/token"))
        .basic_auth(&config.client_id, Some(&config.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    token["access_token"].as_str().unwrap().to_owned()
}

/// A notifier that keeps what it is given.
pub(crate) struct Recording(pub std::sync::Arc<std::sync::Mutex<Vec<String>>>);

#[async_trait::async_trait]
impl genesys_eventbridge::notify::ChangeNotifier for Recording {
    async fn notify(&self, message: &str) -> Result<(), genesys_eventbridge::notify::NotifyError> {
        self.0.lock().unwrap().push(message.to_owned());
        Ok(())
    }
}

/// Output a command writes while the test reads it.
#[derive(Clone, Default)]
pub(crate) struct SharedOutput(pub Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for SharedOutput {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedOutput {
    /// Each line, as JSON.
    pub(crate) fn lines(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// All of it.
    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// The simulator's EventBridge stand-in at `base_url` as an `EventSink`, without the SDK's own
/// retries (as the CLI's client: publish counts and makes every retry).
pub(crate) fn stand_in_sink(base_url: &str) -> genesys_eventbridge::publish::BusSink {
    let config = aws_sdk_eventbridge::Config::builder()
        .behavior_version(aws_sdk_eventbridge::config::BehaviorVersion::latest())
        .region(aws_sdk_eventbridge::config::Region::new("eu-west-1"))
        .endpoint_url(base_url)
        .retry_config(aws_sdk_eventbridge::config::retry::RetryConfig::disabled())
        .credentials_provider(aws_sdk_eventbridge::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .build();
    genesys_eventbridge::publish::BusSink::new(
        aws_sdk_eventbridge::Client::from_conf(config),
        "local",
    )
}
