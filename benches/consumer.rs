//! `make bench`: the consumer's handler (the Lambda's code path) over generated events against
//! genesys-sim on loopback, with in-memory and DynamoDB dedup; then the release binary's size and
//! cold start on a local Lambda Runtime API. Prints the figures and writes
//! `target/bench/results.json` and `target/bench/latency.svg`.
//!
//! Options (after `--`): `--events N` (default 20000), `--instances N` (default 16).

use genesys_eventbridge::dedup::{DedupStore, DynamoDbDedupStore, InMemoryDedupStore};
use genesys_eventbridge::domain::DispositionCodeId;
use genesys_eventbridge::genesys::{
    ClientCredentials, Endpoints, HttpGenesysClient, HttpSettings, StaticCredentials,
};
use genesys_eventbridge::pipeline::{Consumer, PipelineSettings};
use genesys_eventbridge::secret::Secret;
use genesys_eventbridge::sim::lambda_api::{InvocationResult, RunningLambdaApi};
use genesys_eventbridge::sim::platform::{DeliveryOptions, deliver};
use genesys_eventbridge::sim::workload::{Workload, WorkloadSpec};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const CODE: &str = "3c2f9a7e-5d1b-4e8f-9a6c-2b7d4e1f0a99";

struct Options {
    events: usize,
    instances: usize,
}

fn options() -> Options {
    let mut options = Options {
        events: 20_000,
        instances: 16,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().and_then(|v| v.parse().ok());
        match arg.as_str() {
            "--events" => options.events = value().expect("--events N"),
            "--instances" => options.instances = value().expect("--instances N"),
            _ => {} // `cargo bench` passes --bench; other flags are not ours
        }
    }
    options
}

/// CPU time (user + system) and peak RSS of this process, from getrusage.
fn usage() -> (Duration, u64) {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct we own; RUSAGE_SELF is always valid.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1_000);
    (
        time(usage.ru_utime) + time(usage.ru_stime),
        usage.ru_maxrss as u64 * 1_024,
    )
}

/// genesys-sim (the release binary) in its own process, so its CPU time is not ours.
struct Sim {
    child: Child,
    url: String,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_sim(workload: &Workload, dir: &Path) -> Sim {
    let data = dir.join("sim-data.json");
    std::fs::write(&data, serde_json::to_vec(&workload.seed_data).unwrap()).unwrap();
    let url_file = dir.join("sim-url");
    let _ = std::fs::remove_file(&url_file);
    let child = Command::new(format!("{ROOT}/target/release/genesys-sim"))
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .arg("--url-file")
        .arg(&url_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("target/release/genesys-sim (make bench builds it)");
    // Owned by `Sim` at once, so it is killed and waited for on every path.
    let mut sim = Sim {
        child,
        url: String::new(),
    };
    let started = Instant::now();
    while sim.url.is_empty() {
        sim.url = std::fs::read_to_string(&url_file).unwrap_or_default();
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "genesys-sim did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    sim
}

fn consumer(url: &str, store: Arc<dyn DedupStore>) -> Consumer {
    let client = HttpGenesysClient::new(
        Endpoints {
            api_base: url.to_owned(),
            login_base: url.to_owned(),
        },
        Arc::new(StaticCredentials(ClientCredentials {
            client_id: "demo-client".into(),
            client_secret: Secret::new("demo-secret"),
        })),
        HttpSettings::default(),
    )
    .unwrap();
    Consumer::new(
        store,
        Arc::new(client),
        PipelineSettings::new(DispositionCodeId::parse(CODE).unwrap()),
    )
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// One handler run: deliveries through `stores.len()` instances, figures and latencies (ms).
async fn run_mode(
    name: &str,
    workload: &Workload,
    stores: Vec<Arc<dyn DedupStore>>,
    dir: &Path,
) -> (Value, Vec<f64>) {
    let sim = start_sim(workload, dir);
    let consumers = stores
        .into_iter()
        .map(|store| consumer(&sim.url, store))
        .collect();
    let (cpu_before, _) = usage();
    let run = deliver(
        consumers,
        workload.deliveries.clone(),
        DeliveryOptions::default(),
    )
    .await;
    let (cpu_after, peak_rss) = usage();
    let mut latencies: Vec<f64> = run
        .reports
        .iter()
        .map(|r| r.latency.as_secs_f64() * 1_000.0)
        .collect();
    latencies.sort_by(f64::total_cmp);
    let events = run.reports.len();
    let patches: Value = reqwest::get(format!("{}/sim/patches", sim.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let applied = patches["total"]["applied"].as_u64().unwrap_or(0);
    let expected = (workload.eligible_calls.len() + workload.eligible_agents.len()) as u64;
    let cpu = cpu_after - cpu_before;
    let figures = json!({
        "mode": name,
        "deliveries": workload.deliveries.len(),
        "terminal": events,
        "deadLettered": run.dead_letters.len(),
        "seconds": run.elapsed.as_secs_f64(),
        "eventsPerSecond": events as f64 / run.elapsed.as_secs_f64(),
        "latencyMs": {"p50": percentile(&latencies, 50.0), "p99": percentile(&latencies, 99.0),
                      "max": latencies.last().copied().unwrap_or(0.0)},
        "cpuMicrosPerEvent": cpu.as_secs_f64() * 1e6 / events.max(1) as f64,
        "peakRssBytes": peak_rss,
        "dispositionsApplied": applied,
        "dispositionsExpected": expected,
    });
    println!(
        "{name:>9}: {events} events in {:.2} s = {:>7.0} events/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; \
         CPU {:.0} µs/event; peak RSS {:.1} MiB; dispositions applied {applied} of {expected}",
        run.elapsed.as_secs_f64(),
        figures["eventsPerSecond"].as_f64().unwrap(),
        figures["latencyMs"]["p50"].as_f64().unwrap(),
        figures["latencyMs"]["p99"].as_f64().unwrap(),
        figures["latencyMs"]["max"].as_f64().unwrap(),
        figures["cpuMicrosPerEvent"].as_f64().unwrap(),
        peak_rss as f64 / 1_048_576.0,
    );
    assert_eq!(
        applied, expected,
        "{name}: every eligible target gets exactly one disposition"
    );
    (figures, latencies)
}

/// The release Lambda binary: its size, and its cold start (process start until it asks the
/// Runtime API for its first event), then 200 warm invocations and its peak RSS.
async fn lambda_binary(dir: &Path) -> Value {
    let binary = PathBuf::from(format!("{ROOT}/target/release/disposition-consumer"));
    let size = std::fs::metadata(&binary)
        .expect("target/release/disposition-consumer")
        .len();
    let workload = WorkloadSpec {
        eligible_calls: 100,
        ineligible_calls: 100,
        eligible_conversations: 0,
        events_per_target: 1,
        duplicate_share: 0.0,
        prefix: "cold".into(),
        seed: 3,
    }
    .generate();
    let sim = start_sim(&workload, dir);
    let mut cold_starts = Vec::new();
    let mut first_invocations = Vec::new();
    let mut warm = Vec::new();
    let mut peak_rss_kib = 0;
    for round in 0..5 {
        let api = RunningLambdaApi::spawn().await.unwrap();
        let started = Instant::now();
        let mut child = tokio::process::Command::new(&binary)
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", api.endpoint())
            .env("AWS_LAMBDA_FUNCTION_NAME", "disposition-consumer")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_REGION", "us-east-1")
            .env("RUST_LOG", "warn")
            .env("GENESYS_CLOUD_BASE_URL", &sim.url)
            .env("GENESYS_CLOUD_CLIENT_ID", "demo-client")
            .env("GENESYS_CLOUD_CLIENT_SECRET", "demo-secret")
            .env("DISPOSITION_CODE_ID", CODE)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        while api.first_next_at().is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the Lambda did not start"
            );
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        cold_starts.push(
            api.first_next_at()
                .unwrap()
                .duration_since(started)
                .as_secs_f64()
                * 1_000.0,
        );
        let invocations = if round == 0 {
            workload.deliveries.len()
        } else {
            1
        };
        for (n, event) in workload.deliveries.iter().take(invocations).enumerate() {
            let sent = Instant::now();
            let record = api
                .invoke(
                    &format!("r{round}-{n}"),
                    event.clone(),
                    Duration::from_secs(10),
                    None,
                )
                .await
                .expect("an answer");
            assert!(
                matches!(record.result, InvocationResult::Response(_)),
                "{record:?}"
            );
            let millis = sent.elapsed().as_secs_f64() * 1_000.0;
            if n == 0 {
                first_invocations.push(millis)
            } else {
                warm.push(millis)
            }
        }
        if round == 0
            && let Some(pid) = child.id()
        {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            peak_rss_kib = status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(0);
        }
        let _ = child.kill().await;
    }
    cold_starts.sort_by(f64::total_cmp);
    first_invocations.sort_by(f64::total_cmp);
    warm.sort_by(f64::total_cmp);
    let figures = json!({
        "binaryBytes": size,
        "coldStartMs": {"median": percentile(&cold_starts, 50.0), "max": cold_starts.last().copied().unwrap_or(0.0)},
        "firstInvocationMs": {"median": percentile(&first_invocations, 50.0)},
        "warmInvocationMs": {"p50": percentile(&warm, 50.0), "p99": percentile(&warm, 99.0)},
        "peakRssBytesAfter200Invocations": peak_rss_kib * 1_024,
    });
    println!(
        "   lambda: binary {:.1} MiB; cold start (process start to first /next) median {:.1} ms, max {:.1} ms; \
         first invocation {:.1} ms; warm invocation p50 {:.2} ms, p99 {:.2} ms; peak RSS after 200 invocations {:.1} MiB",
        size as f64 / 1_048_576.0,
        percentile(&cold_starts, 50.0),
        cold_starts.last().copied().unwrap_or(0.0),
        percentile(&first_invocations, 50.0),
        percentile(&warm, 50.0),
        percentile(&warm, 99.0),
        peak_rss_kib as f64 / 1_024.0,
    );
    figures
}

/// A latency histogram (log-scale buckets from 0.1 ms to 10 s), one series per mode, as SVG.
fn histogram_svg(series: &[(&str, &[f64])]) -> String {
    const BUCKETS: usize = 50;
    let (low, high) = (0.1_f64.log10(), 10_000_f64.log10());
    let bucket = |ms: f64| {
        (((ms.max(0.1).log10() - low) / (high - low)) * BUCKETS as f64)
            .clamp(0.0, (BUCKETS - 1) as f64) as usize
    };
    let counts: Vec<Vec<usize>> = series
        .iter()
        .map(|(_, latencies)| {
            let mut counts = vec![0; BUCKETS];
            for ms in latencies.iter() {
                counts[bucket(*ms)] += 1;
            }
            counts
        })
        .collect();
    let tallest = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
    let (width, height, left, bottom) = (900.0, 420.0, 60.0, 50.0);
    let plot_w = width - left - 20.0;
    let plot_h = height - bottom - 40.0;
    let colours = ["#1f77b4", "#ff7f0e", "#2ca02c"];
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">Latency per event (log scale), events per bucket</text>\n",
        width / 2.0
    );
    let bar_w = plot_w / BUCKETS as f64 / series.len().max(1) as f64;
    for (s, counts) in counts.iter().enumerate() {
        for (b, count) in counts.iter().enumerate() {
            if *count == 0 {
                continue;
            }
            let h = *count as f64 / tallest * plot_h;
            let x = left + b as f64 * plot_w / BUCKETS as f64 + s as f64 * bar_w;
            svg += &format!(
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{}\"><title>{count}</title></rect>\n",
                height - bottom - h,
                bar_w.max(1.0),
                colours[s % colours.len()]
            );
        }
    }
    for exponent in -1..=4 {
        let ms = 10_f64.powi(exponent);
        let x = left + ((ms.log10() - low) / (high - low)) * plot_w;
        let label = if ms < 1.0 {
            format!("{ms} ms")
        } else {
            format!("{ms:.0} ms")
        };
        svg += &format!(
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#999\"/>\n<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{label}</text>\n",
            height - bottom,
            height - bottom + 6.0,
            height - bottom + 20.0
        );
    }
    svg += &format!(
        "<line x1=\"{left}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"black\"/>\n<text x=\"14\" y=\"{:.1}\" transform=\"rotate(-90 14 {:.1})\" text-anchor=\"middle\">events (tallest bucket {tallest:.0})</text>\n",
        height - bottom,
        width - 20.0,
        height - bottom,
        height / 2.0,
        height / 2.0
    );
    for (s, (name, latencies)) in series.iter().enumerate() {
        let y = 44.0 + s as f64 * 18.0;
        svg += &format!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{y:.1}\">{name} ({} events)</text>\n",
            width - 380.0,
            y - 10.0,
            colours[s % colours.len()],
            width - 362.0,
            latencies.len()
        );
    }
    svg + "</svg>\n"
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs bench targets without it,
    // and the benchmark is not a test.
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("consumer benchmark: skipped outside `cargo bench` (run `make bench`)");
        return;
    }
    let options = options();
    let dir = PathBuf::from(format!("{ROOT}/target/bench"));
    std::fs::create_dir_all(&dir).unwrap();
    // 1 in 5 deliveries is a duplicate; of the distinct events 40 % are eligible calls, 40 %
    // ineligible ones and 20 % eligible native conversations.
    let distinct = options.events * 4 / 5;
    let spec = |prefix: &str| WorkloadSpec {
        eligible_calls: distinct * 2 / 5,
        ineligible_calls: distinct * 2 / 5,
        eligible_conversations: distinct / 5,
        events_per_target: 1,
        duplicate_share: 0.25,
        prefix: prefix.into(),
        seed: 42,
    };
    println!(
        "# {} deliveries (about 20 % duplicates) through {} instances; genesys-sim and DynamoDB Local on loopback",
        spec("x").generate().deliveries.len(),
        options.instances
    );

    let memory_workload = spec("mem").generate();
    let shared: Arc<dyn DedupStore> = Arc::new(InMemoryDedupStore::default());
    let (memory, memory_latencies) = run_mode(
        "in-memory",
        &memory_workload,
        vec![shared; options.instances],
        &dir,
    )
    .await;

    let mut results =
        json!({"events": options.events, "instances": options.instances, "inMemory": memory});
    let mut series: Vec<(&str, Vec<f64>)> = vec![("in-memory dedup", memory_latencies)];
    match std::env::var("DEDUP_TEST_TABLE") {
        Ok(table) => {
            let client = genesys_eventbridge::app::dynamodb_client().await;
            let stores: Vec<Arc<dyn DedupStore>> = (0..options.instances)
                .map(|_| {
                    Arc::new(DynamoDbDedupStore::new(client.clone(), &table)) as Arc<dyn DedupStore>
                })
                .collect();
            let run_id = format!("ddb{:08x}", fastrand::u32(..));
            let (dynamo, latencies) =
                run_mode("dynamodb", &spec(&run_id).generate(), stores, &dir).await;
            results["dynamoDb"] = dynamo;
            series.push(("DynamoDB dedup (DynamoDB Local)", latencies));
        }
        Err(_) => println!(" dynamodb: skipped (run `make bench`, which starts DynamoDB Local)"),
    }
    results["lambda"] = lambda_binary(&dir).await;

    let borrowed: Vec<(&str, &[f64])> = series.iter().map(|(n, l)| (*n, l.as_slice())).collect();
    std::fs::write(dir.join("latency.svg"), histogram_svg(&borrowed)).unwrap();
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
