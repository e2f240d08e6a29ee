//! Tracing set-up, owned in one place: JSON logs inside Lambda, readable logs on a terminal.

use tracing_subscriber::{EnvFilter, fmt};

/// Where the process runs, which decides the log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTarget {
    /// Inside Lambda: one JSON object per line on stdout (CloudWatch Logs), with span fields.
    Lambda,
    /// A command-line tool: human-readable lines on stderr, so stdout stays machine-readable.
    Terminal,
}

/// True inside a Lambda execution environment (or `cargo lambda watch`).
pub fn in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some()
}

/// Installs the global subscriber. The level comes from `RUST_LOG`, else `AWS_LAMBDA_LOG_LEVEL`,
/// else `default_level`. Calling it twice is harmless.
pub fn init_logging(target: LogTarget, default_level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .ok()
        .or_else(|| {
            std::env::var("AWS_LAMBDA_LOG_LEVEL")
                .ok()
                .and_then(|level| EnvFilter::try_new(level.to_ascii_lowercase()).ok())
        })
        .unwrap_or_else(|| EnvFilter::new(default_level));
    let result = match target {
        LogTarget::Lambda => fmt()
            .json()
            .with_env_filter(filter)
            .with_current_span(true)
            .with_span_list(false)
            .flatten_event(true)
            .with_target(false)
            .without_time()
            .try_init(),
        LogTarget::Terminal => fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_target(false)
            .try_init(),
    };
    // An already installed subscriber (tests, repeated calls) is fine.
    drop(result);
}
