//! The local Genesys Cloud simulator: seed data, credentials, then serve until stopped.

use anyhow::Context;
use clap::Parser;
use gev_core::telemetry::{LogTarget, Telemetry, TelemetryOptions};
use gev_sim::{FaultSpecError, Faults, RequestBudget, SeedData, SimConfig, Simulator};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// A local Genesys Cloud (interactions, conversations, integrations, notification channels and
/// sockets) and EventBridge PutEvents stand-in, for demos, tests and benchmarks.
#[derive(Parser)]
#[command(name = "genesys-sim", version)]
struct Args {
    /// Seed data: {"interactions": [...]}, each as GET /api/v2/interactions/{id} returns it.
    #[arg(long, value_name = "PATH")]
    data: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8089")]
    listen: SocketAddr,
    /// Once listening, write the base URL (http://host:port) to this file.
    #[arg(long, value_name = "PATH")]
    url_file: Option<PathBuf>,
    #[arg(long, env = "SIM_CLIENT_ID", default_value = "demo-client")]
    client_id: String,
    #[arg(
        long,
        env = "SIM_CLIENT_SECRET",
        default_value = "demo-secret",
        hide_env_values = true
    )]
    client_secret: String,
    /// Lifetime of issued tokens.
    #[arg(long, default_value_t = 86_400, value_name = "SECONDS")]
    token_lifetime: u64,
    /// Lifetime of a notification channel without a new subscription.
    #[arg(long, default_value_t = 86_400, value_name = "SECONDS")]
    channel_lifetime: u64,
    /// How often notification sockets send a heartbeat.
    #[arg(long, default_value_t = 30_000, value_name = "MS")]
    heartbeat_ms: u64,
    /// Faults to inject into API requests, e.g.
    /// `rateLimited=0.05,retryAfterSeconds=1,serverError=0.05,tokenRevoked=0.01,conflict=0.02,slow=0.05,slowMs=300,timeout=0.01,timeoutMs=10000,seed=42`
    /// (shares of requests; the seed makes a run repeatable). Also settable at `PUT /sim/faults`.
    #[arg(long, value_name = "SPEC", value_parser = parse_faults)]
    faults: Option<Faults>,
    /// Requests the OAuth client may send per window (Genesys' default is about 300 a minute,
    /// shared by every process using the client); past it, 429 with Retry-After. 0: unlimited.
    #[arg(long, default_value_t = 300, value_name = "N")]
    client_requests_per_minute: u32,
    /// The window of that budget: a minute, or less to compress time in a benchmark.
    #[arg(long, default_value_t = 60_000, value_name = "MS")]
    rate_window_ms: u64,
}

fn parse_faults(spec: &str) -> Result<Faults, FaultSpecError> {
    Faults::parse(spec)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    Telemetry::init(TelemetryOptions {
        log_target: LogTarget::Terminal,
        default_level: "info",
        collect_spans: false,
    })?;
    let args = Args::parse();
    let simulator = Simulator::new(SimConfig {
        client_id: args.client_id,
        client_secret: args.client_secret,
        token_lifetime: Duration::from_secs(args.token_lifetime),
        channel_lifetime: Duration::from_secs(args.channel_lifetime),
        heartbeat_interval: Duration::from_millis(args.heartbeat_ms.max(1)),
        request_budget: (args.client_requests_per_minute > 0).then(|| RequestBudget {
            requests: args.client_requests_per_minute,
            window: Duration::from_millis(args.rate_window_ms.max(1)),
        }),
    });
    if let Some(faults) = args.faults {
        tracing::info!(?faults, "injecting faults");
        simulator.set_faults(faults);
    }
    if let Some(path) = &args.data {
        let seeded = simulator.seed(SeedData::from_file(path)?)?;
        tracing::info!(seeded, path = %path.display(), "interactions seeded");
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let url = format!("http://{}", listener.local_addr()?);
    if let Some(path) = &args.url_file {
        std::fs::write(path, &url).with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!("genesys-sim listening on {url}");
    std::io::stdout().flush()?;
    tokio::select! {
        served = simulator.serve(listener) => served.context("server failed")?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
