//! `make bench`: the consumer against genesys-sim on loopback, each mode in its own process so its
//! CPU time and peak RSS are the consumer's own: `invoke` one event at a time, `invoke` on SQS
//! batches of 10, and 16 concurrent instances, with in-memory and DynamoDB dedup (DynamoDB Local
//! behind a proxy that counts every request by kind); then the release Lambda binary's size,
//! zip size, cold start and RSS; then `publish` onto genesys-sim's EventBridge stand-in, `stream` from its
//! notification socket, `bridge` end to end, and `per-call`: Genesys requests, dedup writes and
//! Lambda invocations per call on a realistic mix, under one OAuth client's budget; and `reconcile`:
//! Genesys requests per examined call of one run over 1,000 ended calls. Prints the figures and writes `target/bench/results.json` and
//! `target/bench/latency.svg`.
//!
//! Options (after `--`): `--events N` (default 20000), `--instances N` (default 16),
//! `--only memory|dynamodb|lambda|publish|stream|bridge|per-call|reconcile` (one part).
//! `BENCH_BIN_DIR` names another folder holding a `genesys-eventbridge` and a
//! `disposition-consumer` to measure (an older build), instead of `target/release/` and the
//! Lambda `make bench` builds alone, `-p gev-consumer` (`target/bench/bootstrap`).

mod bridge;
mod child;
mod dynamo_proxy;
mod lambda_binary;
mod modes;
mod per_call;
mod publish;
mod reconcile;
mod sim;
mod stats;
mod stream;
mod svg;

use gev_consumer::consumer::{Consumer, PipelineSettings};
use gev_consumer::dedup::DedupStore;
use gev_core::domain::DispositionCodeId;
use gev_core::secret::Secret;
use gev_genesys::{
    ClientCredentials, Endpoints, HttpGenesysClient, HttpSettings, StaticCredentials,
};
use modes::{Bench, Dedup, Dynamo};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;

struct Options {
    events: usize,
    instances: usize,
    /// Only this part (`memory`, `dynamodb` or `lambda`), when given.
    only: Option<String>,
}

impl Options {
    fn runs(&self, part: &str) -> bool {
        self.only.as_deref().is_none_or(|only| only == part)
    }
}

fn options() -> Options {
    let mut options = Options {
        events: 20_000,
        instances: 16,
        only: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().and_then(|v| v.parse().ok());
        match arg.as_str() {
            "--events" => options.events = value().expect("--events N"),
            "--instances" => options.instances = value().expect("--instances N"),
            "--only" => options.only = args.next(),
            _ => {} // `cargo bench` passes --bench; other flags are not ours
        }
    }
    options
}

/// One consumer (a Lambda instance) against the simulator at `url`, over `store`.
pub fn consumer(url: &str, store: Arc<dyn DedupStore>) -> Consumer {
    consumer_with(
        url,
        store,
        PipelineSettings::new(DispositionCodeId::parse(sim::CODE).unwrap()),
    )
}

/// [`consumer`] with `settings`.
pub fn consumer_with(
    url: &str,
    store: Arc<dyn DedupStore>,
    settings: PipelineSettings,
) -> Consumer {
    let client = sim_client(url, HttpSettings::default());
    Consumer::new(store, Arc::new(client), settings)
}

/// A Genesys client of the simulator at `url`, with its demo credentials.
pub fn sim_client(url: &str, settings: HttpSettings) -> HttpGenesysClient {
    HttpGenesysClient::new(
        Endpoints {
            api_base: url.to_owned(),
            login_base: url.to_owned(),
        },
        Arc::new(StaticCredentials(ClientCredentials {
            client_id: "demo-client".into(),
            client_secret: Secret::new("demo-secret"),
        })),
        settings,
    )
    .unwrap()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes --bench; `cargo test --all-targets` runs bench targets without it,
    // and the benchmark is not a test.
    if !args.iter().any(|arg| arg == "--bench") {
        println!("consumer benchmark: skipped outside `cargo bench` (run `make bench`)");
        return;
    }
    if let Some(at) = args.iter().position(|arg| arg == "--worker") {
        modes::worker(&args[at + 1..]).await;
        return;
    }
    let options = options();
    let root = PathBuf::from(sim::ROOT);
    let dir = root.join("target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    let bench = Bench {
        dir: dir.clone(),
        bin_dir: std::env::var_os("BENCH_BIN_DIR")
            .map_or_else(|| root.join("target/release"), PathBuf::from),
        dynamo: local_dynamodb().await,
    };
    println!(
        "# {} deliveries per mode (about 20 % duplicates); genesys-sim and DynamoDB Local on loopback; \
         measuring {}",
        options.events,
        bench.bin_dir.display()
    );

    let events = options.events;
    let mut results = json!({"events": events, "instances": options.instances, "modes": []});
    let mut series: Vec<(&str, Vec<f64>)> = Vec::new();
    if options.runs("memory") {
        let (sequential, latencies) = modes::sequential(&bench, Dedup::Memory, events).await;
        series.push(("sequential, in-memory dedup", latencies));
        let sqs = modes::sqs_batches(&bench, Dedup::Memory, events).await;
        let (concurrent, latencies) =
            modes::concurrent(&bench, Dedup::Memory, events, options.instances).await;
        series.push(("16 instances, in-memory dedup", latencies));
        let modes = results["modes"].as_array_mut().unwrap();
        modes.extend([sequential, sqs, concurrent]);
    }
    if options.runs("dynamodb") && bench.dynamo.is_some() {
        let (sequential_dynamo, latencies) =
            modes::sequential(&bench, Dedup::DynamoDb, events).await;
        series.push(("sequential, DynamoDB dedup", latencies));
        let (concurrent_dynamo, latencies) =
            modes::concurrent(&bench, Dedup::DynamoDb, events, options.instances).await;
        series.push(("16 instances, DynamoDB dedup", latencies));
        let modes = results["modes"].as_array_mut().unwrap();
        modes.push(sequential_dynamo);
        modes.push(concurrent_dynamo);
        results["dynamoDbWrites"] =
            modes::writes_per_outcome(&bench, (events / 10).clamp(100, 2_000)).await;
    } else if options.runs("dynamodb") {
        println!("dynamodb: skipped (run `make bench`, which starts DynamoDB Local)");
    }
    // The Lambda as it ships: built alone, `-p gev-consumer` (make bench copies it here).
    let lambda = match std::env::var_os("BENCH_BIN_DIR") {
        Some(bin_dir) => PathBuf::from(bin_dir).join("disposition-consumer"),
        None => dir.join("bootstrap"),
    };
    if options.runs("lambda") {
        results["lambda"] = lambda_binary::measure(&lambda, &dir).await;
    }
    if options.runs("publish") {
        results["publish"] = publish::publish(&bench, events).await;
    }
    if options.runs("stream") {
        results["stream"] = stream::stream(&bench, events * 5).await;
    }
    if options.runs("bridge") {
        results["bridge"] = bridge::bridge(&bench).await;
    }
    if options.runs("per-call") {
        results["perCall"] = per_call::per_call(events / 10).await;
    }
    if options.runs("reconcile") {
        results["reconcile"] = reconcile::reconcile_run(1_000).await;
    }

    write_results(&root, &dir, results, &series);
}

/// DynamoDB Local behind a counting proxy, when `make bench` started it.
async fn local_dynamodb() -> Option<Dynamo> {
    match (
        std::env::var("DEDUP_TEST_TABLE"),
        std::env::var("AWS_ENDPOINT_URL_DYNAMODB"),
    ) {
        (Ok(table), Ok(endpoint)) => Some(Dynamo {
            proxy: dynamo_proxy::CountingProxy::start(&endpoint).await,
            table,
        }),
        _ => None,
    }
}

/// Writes `results.json` (with the figures of the build before the cost-floor change, for
/// comparison: docs/performance.md) and the latency histogram into `dir`.
fn write_results(root: &Path, dir: &Path, mut results: Value, series: &[(&str, Vec<f64>)]) {
    if let Ok(before) = std::fs::read(root.join("docs/bench/before.json")) {
        results["before"] = serde_json::from_slice(&before).unwrap_or_default();
    }
    let borrowed: Vec<(&str, &[f64])> = series.iter().map(|(n, l)| (*n, l.as_slice())).collect();
    std::fs::write(dir.join("latency.svg"), svg::histogram_svg(&borrowed)).unwrap();
    std::fs::write(
        dir.join("results.json"),
        serde_json::to_string_pretty(&results).unwrap(),
    )
    .unwrap();
    println!(
        "# wrote {0}/results.json and {0}/latency.svg",
        dir.display()
    );
}
