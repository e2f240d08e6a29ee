//! The release Lambda binary: size, `zip -9` size, cold start and warm invocations on a local
//! Lambda Runtime API, and its peak RSS.

use crate::sim::{CODE, start_sim};
use crate::stats::percentile;
use gev_sim::lambda_api::{InvocationResult, RunningLambdaApi};
use gev_sim::workload::WorkloadSpec;
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The size of `binary` zipped as a Lambda deployment package (`bootstrap`, `zip -9`).
fn zipped_size(binary: &Path, dir: &Path) -> u64 {
    let staging = dir.join("package");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).unwrap();
    std::fs::copy(binary, staging.join("bootstrap")).unwrap();
    let zip = staging.join("lambda.zip");
    let zipped = Command::new("zip")
        .args(["-9", "-q", "-j"])
        .arg(&zip)
        .arg(staging.join("bootstrap"))
        .status()
        .is_ok_and(|status| status.success());
    if !zipped {
        // No zip tool: the same deflate level through Python's zipfile.
        let script = "import sys, zipfile\n\
            z = zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED, compresslevel=9)\n\
            z.write(sys.argv[2], 'bootstrap')\nz.close()";
        let status = Command::new("python3")
            .args(["-c", script])
            .arg(&zip)
            .arg(staging.join("bootstrap"))
            .status()
            .expect("zip or python3 to build the package");
        assert!(status.success(), "zipping the bootstrap failed");
    }
    std::fs::metadata(&zip).unwrap().len()
}

/// Size, zip size, cold start (process start until it asks the Runtime API for its first
/// event, median of 5), first and warm invocations, and peak RSS after 200 invocations.
pub(crate) async fn measure(binary: &Path, dir: &Path) -> Value {
    let size = std::fs::metadata(binary)
        .expect("the release disposition-consumer")
        .len();
    let zip_size = zipped_size(binary, dir);
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
        let mut child = spawn_lambda(binary, &api.endpoint(), &sim.url);
        while api.first_next_at().is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the Lambda did not start"
            );
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        let cold = api.first_next_at().unwrap().duration_since(started);
        cold_starts.push(cold.as_secs_f64() * 1_000.0);
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
                first_invocations.push(millis);
            } else {
                warm.push(millis);
            }
        }
        if round == 0
            && let Some(pid) = child.id()
        {
            peak_rss_kib = peak_rss_kib_of(pid);
        }
        let _ = child.kill().await;
    }
    cold_starts.sort_by(f64::total_cmp);
    first_invocations.sort_by(f64::total_cmp);
    warm.sort_by(f64::total_cmp);
    let figures = json!({
        "binaryBytes": size,
        "zipBytes": zip_size,
        "coldStartMs": {"median": percentile(&cold_starts, 50.0), "max": cold_starts.last().copied().unwrap_or(0.0)},
        "firstInvocationMs": {"median": percentile(&first_invocations, 50.0)},
        "warmInvocationMs": {"p50": percentile(&warm, 50.0), "p99": percentile(&warm, 99.0)},
        "peakRssBytesAfter200Invocations": peak_rss_kib * 1_024,
    });
    println!(
        "{:<28} binary {:.2} MiB, zip -9 {:.2} MB ({} bytes); cold start median {:.1} ms, max {:.1} ms; \
         first invocation {:.1} ms; warm p50 {:.2} ms, p99 {:.2} ms; peak RSS after 200 invocations {:.1} MiB",
        "lambda binary",
        size as f64 / 1_048_576.0,
        zip_size as f64 / 1e6,
        zip_size,
        percentile(&cold_starts, 50.0),
        cold_starts.last().copied().unwrap_or(0.0),
        percentile(&first_invocations, 50.0),
        percentile(&warm, 50.0),
        percentile(&warm, 99.0),
        peak_rss_kib as f64 / 1_024.0,
    );
    figures
}

/// The release Lambda as Lambda starts it, against the Runtime API at `runtime_api` and the
/// simulator at `sim_url`.
fn spawn_lambda(binary: &Path, runtime_api: &str, sim_url: &str) -> tokio::process::Child {
    tokio::process::Command::new(binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "disposition-consumer")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", "us-east-1")
        .env("RUST_LOG", "warn")
        .env("GENESYS_CLOUD_BASE_URL", sim_url)
        .env("GENESYS_CLOUD_CLIENT_ID", "demo-client")
        .env("GENESYS_CLOUD_CLIENT_SECRET", "demo-secret")
        .env("DISPOSITION_CODE_ID", CODE)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// The peak resident set (`VmHWM`) of process `pid` so far, in KiB; 0 when unknown.
fn peak_rss_kib_of(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
}
