//! The measured modes: `invoke` one event at a time, `invoke` on SQS batches of 10, and 16
//! concurrent instances; each in its own process, with in-memory or DynamoDB dedup.

use crate::child::{Usage, run_measured};
use crate::dynamo_proxy::{CountingProxy, Counts, writes};
use crate::sim::{CODE, Sim, start_sim, workload};
use crate::stats::percentile;
use gev_sim::workload::Workload;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the modes run: the output folder, the binaries measured, and DynamoDB Local behind the
/// counting proxy (when `make bench` started it).
pub(crate) struct Bench {
    pub dir: PathBuf,
    /// The folder of the `genesys-eventbridge` binary measured (`BENCH_BIN_DIR`, default
    /// `target/release`), so an older build can be measured the same way.
    pub bin_dir: PathBuf,
    pub dynamo: Option<Dynamo>,
}

/// DynamoDB Local behind the counting proxy, and the dedup table.
pub(crate) struct Dynamo {
    pub proxy: CountingProxy,
    pub table: String,
}

/// Which dedup store a mode uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dedup {
    Memory,
    DynamoDb,
}

impl Dedup {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Dedup::Memory => "in-memory",
            Dedup::DynamoDb => "dynamodb",
        }
    }
}

impl Bench {
    /// The consumer's settings for a child process: the simulator, and the dedup store.
    fn consumer_env(&self, command: &mut Command, sim: &Sim, dedup: Dedup) {
        command
            .env_clear()
            .env("GENESYS_CLOUD_BASE_URL", &sim.url)
            .env("GENESYS_CLOUD_CLIENT_ID", "demo-client")
            .env("GENESYS_CLOUD_CLIENT_SECRET", "demo-secret")
            .env("DISPOSITION_CODE_ID", CODE)
            .env("RUST_LOG", "error");
        if dedup == Dedup::DynamoDb {
            let dynamo = self.dynamo.as_ref().expect("DynamoDB Local");
            command
                .env("DEDUP_TABLE_NAME", &dynamo.table)
                .env("AWS_ENDPOINT_URL_DYNAMODB", &dynamo.proxy.url);
            for name in ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
                if let Ok(value) = std::env::var(name) {
                    command.env(name, value);
                }
            }
        }
    }

    fn invoke_command(&self, sim: &Sim, dedup: Dedup) -> Command {
        let mut command = Command::new(self.bin_dir.join("genesys-eventbridge"));
        self.consumer_env(&mut command, sim, dedup);
        command.arg("invoke");
        command
    }

    /// The DynamoDB requests since the last call, by kind.
    fn take_counts(&self) -> Counts {
        self.dynamo
            .as_ref()
            .map(|dynamo| dynamo.proxy.take())
            .unwrap_or_default()
    }
}

/// Writes `events` as JSON lines to `path`.
fn write_lines(path: &Path, events: impl IntoIterator<Item = Value>) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for event in events {
        serde_json::to_writer(&mut file, &event).unwrap();
        file.write_all(b"\n").unwrap();
    }
    file.flush().unwrap();
}

/// The figures common to every mode.
fn figures(name: &str, dedup: Dedup, deliveries: usize, usage: &Usage, counts: &Counts) -> Value {
    let per_event = |n: u64| n as f64 / deliveries.max(1) as f64;
    let requests: BTreeMap<&String, f64> = counts.iter().map(|(k, n)| (k, per_event(*n))).collect();
    json!({
        "mode": name,
        "dedup": dedup.name(),
        "deliveries": deliveries,
        "seconds": usage.wall.as_secs_f64(),
        "eventsPerSecond": deliveries as f64 / usage.wall.as_secs_f64(),
        "cpuMicrosPerEvent": usage.cpu.as_secs_f64() * 1e6 / deliveries.max(1) as f64,
        "peakRssBytes": usage.peak_rss_bytes,
        "dynamoDbRequestsPerEvent": requests,
        "dynamoDbWritesPerEvent": per_event(writes(counts)),
    })
}

fn print(figures: &Value) {
    let latency = &figures["latencyMs"];
    let extra = match (latency["p50"].as_f64(), latency["p99"].as_f64()) {
        (Some(p50), Some(p99)) => format!(", latency p50 {p50:.2} ms, p99 {p99:.2} ms"),
        _ => String::new(),
    };
    let requests = figures["dynamoDbRequestsPerEvent"]
        .as_object()
        .filter(|r| !r.is_empty())
        .map(|r| {
            let kinds: Vec<String> = r
                .iter()
                .map(|(k, v)| format!("{k} {:.2}", v.as_f64().unwrap_or(0.0)))
                .collect();
            format!("; DynamoDB requests per event: {}", kinds.join(", "))
        })
        .unwrap_or_default();
    println!(
        "{:<28} {:>6} events, {:>7.0} events/s, CPU {:>5.0} µs/event, peak RSS {:>5.1} MiB{extra}{requests}",
        format!(
            "{} ({})",
            figures["mode"].as_str().unwrap(),
            figures["dedup"].as_str().unwrap()
        ),
        figures["deliveries"],
        figures["eventsPerSecond"].as_f64().unwrap(),
        figures["cpuMicrosPerEvent"].as_f64().unwrap(),
        figures["peakRssBytes"].as_f64().unwrap() / 1_048_576.0,
    );
}

/// p50, p99 and max of sorted latencies (ms).
fn latency_figures(sorted: &[f64]) -> Value {
    json!({"p50": percentile(sorted, 50.0), "p99": percentile(sorted, 99.0),
           "max": sorted.last().copied().unwrap_or(0.0)})
}

/// Checks, from the simulator's own counts, that every eligible target got one write.
async fn check_writes(name: &str, sim: &Sim, workload: &Workload) -> u64 {
    let applied = sim.applied().await;
    let expected = (workload.eligible_calls.len() + workload.eligible_agents.len()) as u64;
    assert_eq!(
        applied, expected,
        "{name}: every eligible target gets exactly one disposition"
    );
    applied
}

/// `genesys-eventbridge invoke` on the workload: one event at a time, like one warm instance.
pub(crate) async fn sequential(
    bench: &Bench,
    dedup: Dedup,
    deliveries: usize,
) -> (Value, Vec<f64>) {
    let prefix = format!("seq-{}-{:08x}", dedup.name(), fastrand::u32(..));
    let workload = workload(deliveries, &prefix);
    let sim = start_sim(&workload, &bench.dir);
    let input = bench.dir.join("sequential.jsonl");
    write_lines(&input, workload.deliveries.iter().cloned());
    let output = bench.dir.join("sequential-out.jsonl");
    bench.take_counts();
    let mut command = bench.invoke_command(&sim, dedup);
    command.arg("--events").arg(&input);
    let usage = tokio::task::spawn_blocking(move || run_measured(command, None, &output))
        .await
        .unwrap();
    let counts = bench.take_counts();
    let reports: Vec<Value> = std::fs::read_to_string(bench.dir.join("sequential-out.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(usage.exit_code, 0, "invoke: some events failed");
    assert_eq!(reports.len(), workload.deliveries.len());
    let mut latencies: Vec<f64> = reports
        .iter()
        .filter_map(|r| r["latencyMs"].as_f64())
        .collect();
    latencies.sort_by(f64::total_cmp);
    let applied = check_writes("sequential", &sim, &workload).await;
    let mut figures = figures(
        "sequential",
        dedup,
        workload.deliveries.len(),
        &usage,
        &counts,
    );
    figures["latencyMs"] = latency_figures(&latencies);
    figures["dispositionsApplied"] = json!(applied);
    print(&figures);
    (figures, latencies)
}

/// `genesys-eventbridge invoke --lambda-response` on SQS batches of 10 messages.
pub(crate) async fn sqs_batches(bench: &Bench, dedup: Dedup, deliveries: usize) -> Value {
    let prefix = format!("sqs-{}-{:08x}", dedup.name(), fastrand::u32(..));
    let workload = workload(deliveries, &prefix);
    let sim = start_sim(&workload, &bench.dir);
    let batches = workload
        .deliveries
        .chunks(10)
        .enumerate()
        .map(|(b, events)| {
            let records: Vec<Value> = events
                .iter()
                .enumerate()
                .map(|(n, event)| {
                    json!({"messageId": format!("m-{b}-{n}"), "receiptHandle": "r",
                       "body": event.to_string(), "attributes": {}, "messageAttributes": {},
                       "md5OfBody": "", "eventSource": "aws:sqs",
                       "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ingest",
                       "awsRegion": "us-east-1"})
                })
                .collect();
            json!({"Records": records})
        });
    let input = bench.dir.join("sqs.jsonl");
    write_lines(&input, batches);
    let output = bench.dir.join("sqs-out.jsonl");
    bench.take_counts();
    let mut command = bench.invoke_command(&sim, dedup);
    command.arg("--lambda-response").arg("--events").arg(&input);
    let usage = tokio::task::spawn_blocking(move || run_measured(command, None, &output))
        .await
        .unwrap();
    let counts = bench.take_counts();
    let failures: usize = std::fs::read_to_string(bench.dir.join("sqs-out.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .map(|response| response["batchItemFailures"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(failures, 0, "SQS batches: no message is reported failed");
    let applied = check_writes("sqs batches", &sim, &workload).await;
    let mut figures = figures(
        "SQS batches of 10",
        dedup,
        workload.deliveries.len(),
        &usage,
        &counts,
    );
    figures["dispositionsApplied"] = json!(applied);
    print(&figures);
    figures
}

/// `instances` concurrent consumers (the Lambda's handler over the platform stand-in) in a
/// child process of this benchmark, so its CPU and RSS are its own.
pub(crate) async fn concurrent(
    bench: &Bench,
    dedup: Dedup,
    deliveries: usize,
    instances: usize,
) -> (Value, Vec<f64>) {
    let prefix = format!("conc-{}-{:08x}", dedup.name(), fastrand::u32(..));
    let workload = workload(deliveries, &prefix);
    let sim = start_sim(&workload, &bench.dir);
    let mut command = Command::new(std::env::current_exe().unwrap());
    bench.consumer_env(&mut command, &sim, dedup);
    command.args(["--bench", "--worker"]).args([
        dedup.name(),
        &sim.url,
        &prefix,
        &deliveries.to_string(),
        &instances.to_string(),
    ]);
    let output = bench.dir.join("concurrent-out.json");
    bench.take_counts();
    let usage = tokio::task::spawn_blocking(move || run_measured(command, None, &output))
        .await
        .unwrap();
    let counts = bench.take_counts();
    assert_eq!(usage.exit_code, 0, "the concurrent worker failed");
    let worker: Value =
        serde_json::from_slice(&std::fs::read(bench.dir.join("concurrent-out.json")).unwrap())
            .unwrap();
    let latencies: Vec<f64> = serde_json::from_value(worker["latenciesMs"].clone()).unwrap();
    let applied = check_writes("concurrent", &sim, &workload).await;
    let name = format!("{instances} instances");
    let mut figures = figures(&name, dedup, workload.deliveries.len(), &usage, &counts);
    // The worker's own run time: without process start and workload generation.
    figures["seconds"] = worker["seconds"].clone();
    figures["eventsPerSecond"] =
        json!(workload.deliveries.len() as f64 / worker["seconds"].as_f64().unwrap());
    figures["latencyMs"] = latency_figures(&latencies);
    figures["dispositionsApplied"] = json!(applied);
    figures["deadLettered"] = worker["deadLettered"].clone();
    print(&figures);
    (figures, latencies)
}

/// DynamoDB writes per processed event and per duplicate, counted: the distinct events of a
/// workload through `invoke` once, then again in a new process (its cache of completed keys is
/// empty, so every duplicate asks the table).
pub(crate) async fn writes_per_outcome(bench: &Bench, deliveries: usize) -> Value {
    let prefix = format!("cost-{:08x}", fastrand::u32(..));
    let workload = workload(deliveries, &prefix);
    let mut distinct = Vec::new();
    for event in &workload.deliveries {
        if !distinct.contains(event) {
            distinct.push(event.clone());
        }
    }
    let sim = start_sim(&workload, &bench.dir);
    let input = bench.dir.join("cost.jsonl");
    write_lines(&input, distinct.iter().cloned());
    let mut counted = Vec::new();
    for label in ["first", "again"] {
        let mut command = bench.invoke_command(&sim, Dedup::DynamoDb);
        command.arg("--events").arg(&input);
        let output = bench.dir.join(format!("cost-{label}.jsonl"));
        bench.take_counts();
        let usage = tokio::task::spawn_blocking(move || run_measured(command, None, &output))
            .await
            .unwrap();
        assert_eq!(usage.exit_code, 0, "invoke ({label}) failed");
        counted.push(bench.take_counts());
    }
    let (first, again) = (&counted[0], &counted[1]);
    let events = distinct.len() as f64;
    let result = json!({
        "events": distinct.len(),
        "processed": {"writesPerEvent": writes(first) as f64 / events, "requests": first},
        "duplicate": {"writesPerEvent": writes(again) as f64 / events, "requests": again},
    });
    println!(
        "{:<28} {} distinct events: {:.2} writes per processed event ({first:?}); \
         {:.2} per duplicate from a cold instance ({again:?})",
        "DynamoDB cost (invoke)",
        distinct.len(),
        writes(first) as f64 / events,
        writes(again) as f64 / events,
    );
    result
}

/// The worker process of [`concurrent`]: runs the deliveries and prints its figures as JSON.
pub(crate) async fn worker(args: &[String]) {
    use gev_sim::platform::{DeliveryOptions, deliver};
    let [dedup, url, prefix, deliveries, instances] = args else {
        panic!("--worker DEDUP URL PREFIX DELIVERIES INSTANCES");
    };
    let workload = workload(deliveries.parse().unwrap(), prefix);
    let instances: usize = instances.parse().unwrap();
    let mut consumers = Vec::new();
    let shared: std::sync::Arc<dyn gev_consumer::dedup::DedupStore> =
        std::sync::Arc::new(gev_consumer::dedup::InMemoryDedupStore::default());
    for _ in 0..instances {
        let store: std::sync::Arc<dyn gev_consumer::dedup::DedupStore> = if dedup == "dynamodb" {
            let client = gev_consumer::app::dynamodb_client().await;
            let table = std::env::var("DEDUP_TABLE_NAME").unwrap();
            std::sync::Arc::new(gev_consumer::dedup::DynamoDbDedupStore::new(client, table))
        } else {
            shared.clone()
        };
        consumers.push(crate::consumer(url, store));
    }
    let run = deliver(consumers, workload.deliveries, DeliveryOptions::default()).await;
    let latencies: Vec<f64> = run
        .reports
        .iter()
        .map(|r| r.latency.as_secs_f64() * 1_000.0)
        .collect();
    let mut sorted = latencies;
    sorted.sort_by(f64::total_cmp);
    println!(
        "{}",
        json!({"seconds": run.elapsed.as_secs_f64(), "deadLettered": run.dead_letters.len(),
               "latenciesMs": sorted})
    );
}
