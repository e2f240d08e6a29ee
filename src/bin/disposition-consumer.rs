//! The Lambda: configuration from the environment, adapters, then the runtime loop.

use genesys_eventbridge::{app, config::Config, lambda, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_logging(telemetry::LogTarget::Lambda, "info");
    let config = Config::from_env().unwrap_or_else(|error| {
        eprintln!("disposition-consumer: {error}");
        std::process::exit(2);
    });
    let consumer = app::build_consumer(&config).await?;
    lambda::run(consumer).await
}
