//! The Lambda: telemetry and configuration from the environment, adapters, then the runtime loop.

use gev_consumer::{app, config::Config, lambda};
use gev_core::telemetry::{LogTarget, Telemetry, TelemetryOptions};

/// mimalloc: the consumer allocates many small, short-lived buffers per request, and measured
/// about 15 % less CPU per event than the system allocator (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One thread: a Lambda instance handles one invocation at a time, and its events (an SQS batch)
/// wait on I/O, so thread hand-offs of a multi-thread scheduler would cost more than they give.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let telemetry = Telemetry::init(TelemetryOptions {
        log_target: LogTarget::Lambda,
        default_level: "info",
        collect_spans: false,
    })
    .unwrap_or_else(|error| fail(&error));
    let config = Config::from_env().unwrap_or_else(|error| fail(&error));
    let consumer = app::build_consumer(&config)
        .await
        .unwrap_or_else(|error| fail(&error));
    let result = lambda::run(consumer, telemetry.clone()).await;
    telemetry.shutdown();
    result
}

/// A bad setting: one line naming it (with its causes), then exit before the first invocation.
fn fail(error: &(dyn std::error::Error + 'static)) -> ! {
    eprintln!("disposition-consumer: {}", gev_core::error_chain(error));
    std::process::exit(2);
}
